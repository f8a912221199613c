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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__) && !defined(NOTARY_WITH_MIMALLOC) && !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#define GLIBC_ARENAS 1
#endif

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

#ifdef GLIBC_ARENAS
typedef struct
{
  GMutex lock;
  GCond cond;
  guint waiting;
  guint total;
} Gate;

/* Allocates on its own thread, then holds on until every thread has, so
 * that none can hand its arena to the next. */
static gpointer
allocate_and_wait (gpointer data)
{
  Gate *g = data;
  void *block = malloc (100);

  g_mutex_lock (&g->lock);
  if (++g->waiting == g->total)
    g_cond_broadcast (&g->cond);
  while (g->waiting < g->total)
    g_cond_wait (&g->cond, &g->lock);
  g_mutex_unlock (&g->lock);
  free (block);
  return NULL;
}

/* The arenas glibc has made, as malloc_info lists them. */
static guint
count_arenas (void)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);
  guint n = 0;

  g_assert_nonnull (f);
  g_assert_cmpint (malloc_info (0, f), ==, 0);
  fclose (f);
  for (const char *p = text; (p = strstr (p, "<heap nr=")) != NULL; p++)
    n++;
  free (text);
  return n;
}
#endif

static void
test_arena_cap (void)
{
  if (g_test_subprocess ())
    {
#ifdef GLIBC_ARENAS
      guint cap = notary_allocator_tune ();
      guint n_threads = 4 * cap; /* glibc alone would make up to 8 per CPU */
      g_autofree GThread **threads = g_new (GThread *, n_threads);
      Gate gate = { .total = n_threads };

      g_assert_cmpuint (cap, ==, 2 * g_get_num_processors ());
      for (guint i = 0; i < n_threads; i++)
        threads[i] = g_thread_new ("alloc", allocate_and_wait, &gate);
      g_mutex_lock (&gate.lock);
      while (gate.waiting < gate.total)
        g_cond_wait (&gate.cond, &gate.lock);
      g_mutex_unlock (&gate.lock);
      g_test_message ("%u threads allocating, %u arenas", n_threads, count_arenas ());
      g_assert_cmpuint (count_arenas (), <=, cap);
      for (guint i = 0; i < n_threads; i++)
        g_thread_join (threads[i]);
#else
      g_assert_cmpuint (notary_allocator_tune (), ==, 0);
#endif
      return;
    }
  g_unsetenv ("MALLOC_ARENA_MAX");
  g_unsetenv ("GLIBC_TUNABLES");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static gint64
rss_anon_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "RssAnon:");
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen ("RssAnon:"), NULL, 10);
}

/* Memory freed in the middle of an arena goes back to the kernel: 32 MiB
 * of 1 KiB blocks with one in 64 kept, so none of it is at the arena's
 * top, where free() would have released it anyway. */
static void
test_release_free (void)
{
  enum { N = 32 * 1024 };
  g_autofree char **blocks = g_new0 (char *, N);
  gint64 before, after;
  gboolean released;

  for (guint i = 0; i < N; i++)
    {
      blocks[i] = malloc (1024);
      memset (blocks[i], 1, 1024);
    }
  for (guint i = 0; i < N; i++)
    if (i % 64 != 0)
      g_clear_pointer (&blocks[i], free);
  before = rss_anon_kb ();
  released = notary_allocator_release_free ();
  after = rss_anon_kb ();
  g_test_message ("RssAnon %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT " kB", before, after);
#ifdef GLIBC_ARENAS
  g_assert_true (released);
  g_assert_cmpint (before - after, >=, 16 * 1024);
#elif defined(NOTARY_WITH_MIMALLOC)
  g_assert_false (released); /* mimalloc purges on its own */
  (void) before;
  (void) after;
#else
  /* a sanitizer's malloc: glibc's trim, if it runs, only sees its own
   * unused arenas */
  (void) released;
  (void) before;
  (void) after;
#endif
  for (guint i = 0; i < N; i += 64)
    free (blocks[i]);
}

/* The tick releases once per burst: after a tick that saw work done,
 * the first that sees none; never while work goes on, never when idle. */
static void
test_quiet_tick (void)
{
  NotaryAllocatorQuiet q = { 0 };

  g_assert_false (notary_allocator_quiet_tick (&q, 0)); /* idle from the start */
  g_assert_false (notary_allocator_quiet_tick (&q, 0));
  g_assert_false (notary_allocator_quiet_tick (&q, 5)); /* busy */
  g_assert_false (notary_allocator_quiet_tick (&q, 9)); /* still busy */
  g_assert_true (notary_allocator_quiet_tick (&q, 9));  /* quiet: release */
  g_assert_false (notary_allocator_quiet_tick (&q, 9)); /* once */
  g_assert_false (notary_allocator_quiet_tick (&q, 9));
  g_assert_false (notary_allocator_quiet_tick (&q, 10)); /* a new burst */
  g_assert_true (notary_allocator_quiet_tick (&q, 10));
}

/* GLib's slices come from malloc, set before GLib's constructor (the
 * .preinit_array entry of notary-allocator.c, linked into this test as
 * into the daemons).  Neither an unset G_SLICE (GLib's default is its
 * magazines) nor one set to no flag at all (which also skips GLib's own
 * switch to malloc under valgrind) undoes it. */
static void
test_slices_use_malloc (void)
{
  if (g_test_subprocess ())
    {
      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      g_assert_cmpint (g_slice_get_config (G_SLICE_CONFIG_ALWAYS_MALLOC), !=, 0);
      G_GNUC_END_IGNORE_DEPRECATIONS
      g_assert_true (notary_allocator_slices_use_malloc ());
      return;
    }
  g_assert_true (notary_allocator_slices_use_malloc ());
  if (glib_check_version (2, 76, 0) == NULL)
    {
      g_test_skip ("GLib >= 2.76 has no slice allocator of its own");
      return;
    }
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  g_assert_cmpint (g_slice_get_config (G_SLICE_CONFIG_ALWAYS_MALLOC), !=, 0);
  G_GNUC_END_IGNORE_DEPRECATIONS
  /* The child starts afresh and reads its G_SLICE after our setting. */
  g_setenv ("G_SLICE", "", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv ("G_SLICE");
  g_test_trap_assert_passed ();
}

/* An operator's own choice stands. */
static void
test_arena_cap_left_to_operator (void)
{
  g_setenv ("MALLOC_ARENA_MAX", "3", TRUE);
  g_assert_cmpuint (notary_allocator_tune (), ==, 0);
  g_unsetenv ("MALLOC_ARENA_MAX");
  g_setenv ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=3", TRUE);
  g_assert_cmpuint (notary_allocator_tune (), ==, 0);
  g_unsetenv ("GLIBC_TUNABLES");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/allocator/describe-matches-build", test_describe_matches_build);
  g_test_add_func ("/allocator/serves-whole-process", test_serves_whole_process);
  g_test_add_func ("/allocator/arena-cap", test_arena_cap);
  g_test_add_func ("/allocator/arena-cap-left-to-operator", test_arena_cap_left_to_operator);
  g_test_add_func ("/allocator/slices-use-malloc", test_slices_use_malloc);
  g_test_add_func ("/allocator/release-free", test_release_free);
  g_test_add_func ("/allocator/quiet-tick", test_quiet_tick);
  return g_test_run ();
}
