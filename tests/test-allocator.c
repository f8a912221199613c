/* test-allocator.c — the daemons' malloc is the one the build chose.
 *
 * Built twice (tests/meson.build): as the executables are, with the
 * configured allocator, and, where mimalloc is installed and no sanitizer
 * is on, forced onto mimalloc.  The second proves the mechanism the
 * `allocator=mimalloc` build relies on: linking libmimalloc ahead of libc
 * makes it answer every malloc() in the process, GLib's included.
 */
#include "notary-allocator.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#ifdef NOTARY_WITH_MIMALLOC
#include <mimalloc.h>
#endif

static void
test_describe_matches_build (void)
{
  g_autofree char *name = notary_allocator_describe ();

#ifdef NOTARY_WITH_MIMALLOC
  g_assert_true (g_str_has_prefix (name, "mimalloc "));
  g_assert_cmpuint (strlen (name), >, strlen ("mimalloc "));
#else
  g_assert_cmpstr (name, ==, "libc malloc");
#endif
}

static void
test_serves_whole_process (void)
{
#ifdef NOTARY_WITH_MIMALLOC
  /* A block GLib allocates in its own shared object, and one from libc's
   * entry points: both must come from mimalloc's heap, and freeing them
   * through the other route must be fine. */
  g_autofree char *from_glib = g_strdup_printf ("%d", 42);
  char *from_libc = strdup ("x");

  g_assert_true (mi_is_in_heap_region (from_glib));
  g_assert_true (mi_is_in_heap_region (from_libc));
  g_free (from_libc);
#else
  g_test_skip ("built without mimalloc");
#endif
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/allocator/describe-matches-build", test_describe_matches_build);
  g_test_add_func ("/allocator/serves-whole-process", test_serves_whole_process);
  return g_test_run ();
}
