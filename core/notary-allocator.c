/* notary-allocator.c — reports which malloc the daemon runs on, and tunes
 * glibc's and GLib's.
 *
 * Compiled into each executable (never into the libraries the plugins and
 * tests share), with NOTARY_WITH_MIMALLOC when the build links mimalloc.
 * Linking is not the same as serving malloc(): symbol interposition
 * depends on link order, so we ask mimalloc whether a fresh malloc() block
 * is its own instead of assuming.
 */
#include "notary-allocator.h"

#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__) && !defined(NOTARY_WITH_MIMALLOC)
#include <malloc.h>
#endif

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

/* GLib's slice allocator is a second allocator under malloc: GLib 2.74
 * (Debian 12) still serves g_slice_* (json-glib's nodes, every
 * GHashTable, GList and GBytes) from per-thread magazines of its own, in
 * front of whichever malloc the process has.  GLib 2.76 dropped them for
 * plain malloc; this gives 2.74 the same behaviour.  Memory mode, 8,000
 * distinct-GUN publishes, alternating pairs (bench/README.md,
 * "Allocator"): +6% publishes and -5% server CPU per publish on 320ef02,
 * +2-3% on b83c491 (inside this VM's noise); GETs unchanged, MySQL-mode
 * peak RSS a little lower.
 *
 * It has to happen before GLib's first slice allocation, which GLib's own
 * library constructor makes (a GHashTable for error domains) and which
 * fixes the configuration for the life of the process: main() is too
 * late, and a setenv ("G_SLICE") even from .preinit_array was tried and
 * is lost (bench/README.md).  An executable's .preinit_array runs before
 * any shared library's constructor, and this setter only writes GLib's
 * static configuration, which the later initialisation starts from
 * (G_SLICE flags in the environment still add to it).  Hence one entry
 * here, in each executable and never in a library (the dynamic linker
 * only runs an executable's array).  On GLib >= 2.76 the call is a no-op. */
#if !GLIB_CHECK_VERSION(2, 76, 0)
G_GNUC_BEGIN_IGNORE_DEPRECATIONS
static void
slices_from_malloc (int argc, char **argv, char **envp)
{
  (void) argc;
  (void) argv;
  (void) envp;
  g_slice_set_config (G_SLICE_CONFIG_ALWAYS_MALLOC, TRUE);
}
G_GNUC_END_IGNORE_DEPRECATIONS

__attribute__ ((section (".preinit_array"), used)) static void (*const slices_from_malloc_entry) (int, char **,
                                                                                                  char **)
  = slices_from_malloc;
#endif

gboolean
notary_allocator_slices_use_malloc (void)
{
  /* the GLib we run on, not the one we were built against */
  if (glib_check_version (2, 76, 0) == NULL)
    return TRUE; /* g_slice_* is malloc there, and the getter says 0 */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  return g_slice_get_config (G_SLICE_CONFIG_ALWAYS_MALLOC) != 0;
  G_GNUC_END_IGNORE_DEPRECATIONS
}

const char *
notary_allocator_describe_slices (void)
{
  return notary_allocator_slices_use_malloc () ? "malloc" : "magazines";
}

gboolean
notary_allocator_release_free (void)
{
#if defined(__GLIBC__) && !defined(NOTARY_WITH_MIMALLOC)
  return malloc_trim (0) == 1;
#else
  return FALSE;
#endif
}

gboolean
notary_allocator_quiet_tick (NotaryAllocatorQuiet *quiet, guint64 work_done)
{
  if (work_done != quiet->seen)
    {
      quiet->seen = work_done;
      quiet->busy = TRUE;
      return FALSE;
    }
  if (!quiet->busy)
    return FALSE;
  quiet->busy = FALSE;
  notary_allocator_release_free ();
  return TRUE;
}

guint
notary_allocator_tune (void)
{
#if defined(__GLIBC__) && !defined(NOTARY_WITH_MIMALLOC)
  const char *tunables = g_getenv ("GLIBC_TUNABLES");
  guint cap = 2 * g_get_num_processors ();

  if (g_getenv ("MALLOC_ARENA_MAX") != NULL
      || (tunables != NULL && strstr (tunables, "glibc.malloc.arena_max") != NULL))
    return 0;
  /* MySQL mode on the 2-CPU bench, three runs each (publishes, GETs over
   * 32 connections, new-connection churn): peak RSS 18.7 -> 18.1 MiB
   * with 4 arenas, publishes per second unchanged; 2 arenas saved 0.9 MiB
   * but cost ~8% of the publishes. */
  if (mallopt (M_ARENA_MAX, (int) cap) != 1)
    return 0;
  return cap;
#else
  return 0;
#endif
}
