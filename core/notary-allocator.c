/* notary-allocator.c — reports which malloc the daemon runs on.
 *
 * Compiled into each executable (never into the libraries the plugins and
 * tests share), with NOTARY_WITH_MIMALLOC when the build links mimalloc.
 * Linking is not the same as serving malloc(): symbol interposition
 * depends on link order, so we ask mimalloc whether a fresh malloc() block
 * is its own instead of assuming.
 */
#include "notary-allocator.h"

#include <stdlib.h>

#ifdef NOTARY_WITH_MIMALLOC
#include <mimalloc.h>
#endif

char *
notary_allocator_describe (void)
{
#ifdef NOTARY_WITH_MIMALLOC
  /* libc's entry point, not g_malloc: the question is who answers it */
  void *probe = calloc (1, 16); /* zeroed: GCC warns of reading it otherwise */
  gboolean served = mi_is_in_heap_region (probe);
  int v = mi_version (); /* 209 for 2.0.9 */

  free (probe);
  if (!served)
    return g_strdup ("libc malloc (mimalloc linked but not serving malloc)");
  return g_strdup_printf ("mimalloc %d.%d.%d", v / 100, (v / 10) % 10, v % 10);
#else
  return g_strdup ("libc malloc");
#endif
}
