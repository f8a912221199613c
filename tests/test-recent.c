/* test-recent.c — NotaryRecent: the newest two versions per name, bounded
 * by names and bytes, and every value it lets go of goes through drop. */
#include "notary-recent.h"

/* Values are heap strings naming themselves; drop records and frees them. */
typedef struct
{
  GPtrArray *dropped; /* of char*, in drop order */
} Drops;

static void
drop (gpointer value, gpointer data)
{
  Drops *d = data;
  g_ptr_array_add (d->dropped, value);
}

static NotaryRecent *
recent_new (Drops *d, guint max_names, gsize max_bytes)
{
  d->dropped = g_ptr_array_new_with_free_func (g_free);
  return notary_recent_new (max_names, max_bytes, drop, d);
}

/* Frees @c: every value it still held goes through drop, once. */
static void
recent_free (NotaryRecent *c, Drops *d, guint still_held)
{
  g_ptr_array_set_size (d->dropped, 0);
  notary_recent_free (c);
  g_assert_cmpuint (d->dropped->len, ==, still_held);
  g_ptr_array_unref (d->dropped);
}

/* @n values dropped since the last check, whichever */
static void
assert_dropped_n (Drops *d, guint n)
{
  g_assert_cmpuint (d->dropped->len, ==, n);
  g_ptr_array_set_size (d->dropped, 0);
}

static void
assert_dropped (Drops *d, const char *const *want)
{
  guint n = g_strv_length ((char **) want);
  g_assert_cmpuint (d->dropped->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (d->dropped->pdata[i], ==, want[i]);
  g_ptr_array_set_size (d->dropped, 0);
}

static void
put (NotaryRecent *c, const char *name, const char *id, gsize bytes)
{
  notary_recent_insert (c, name, id, g_strconcat (name, "/", id, NULL), bytes);
}

static void
test_keeps_newest_two (void)
{
  Drops d;
  NotaryRecent *c = recent_new (&d, 10, 1000);
  g_assert_null (notary_recent_lookup (c, "g\nsnapshot", "a"));
  put (c, "g\nsnapshot", "a", 10);
  put (c, "g\nsnapshot", "b", 20);
  g_assert_cmpstr (notary_recent_lookup (c, "g\nsnapshot", "a"), ==, "g\nsnapshot/a");
  g_assert_cmpstr (notary_recent_lookup (c, "g\nsnapshot", "b"), ==, "g\nsnapshot/b");
  g_assert_null (notary_recent_lookup (c, "g\ntargets", "a"));
  assert_dropped (&d, (const char *[]){ NULL });

  /* a third version pushes out the oldest */
  put (c, "g\nsnapshot", "c", 30);
  g_assert_null (notary_recent_lookup (c, "g\nsnapshot", "a"));
  g_assert_nonnull (notary_recent_lookup (c, "g\nsnapshot", "b"));
  g_assert_nonnull (notary_recent_lookup (c, "g\nsnapshot", "c"));
  assert_dropped (&d, (const char *[]){ "g\nsnapshot/a", NULL });
  g_assert_cmpuint (notary_recent_count (c), ==, 2);
  g_assert_cmpuint (notary_recent_bytes (c), ==, 50);

  /* re-inserting b replaces it and makes it the newest: c goes next */
  put (c, "g\nsnapshot", "b", 5);
  assert_dropped (&d, (const char *[]){ "g\nsnapshot/b", NULL });
  g_assert_cmpuint (notary_recent_bytes (c), ==, 35);
  put (c, "g\nsnapshot", "d", 1);
  assert_dropped (&d, (const char *[]){ "g\nsnapshot/c", NULL });
  g_assert_nonnull (notary_recent_lookup (c, "g\nsnapshot", "b"));
  g_assert_nonnull (notary_recent_lookup (c, "g\nsnapshot", "d"));

  /* names are independent */
  put (c, "h\nsnapshot", "a", 1);
  g_assert_cmpuint (notary_recent_count (c), ==, 3);
  assert_dropped (&d, (const char *[]){ NULL });

  recent_free (c, &d, 3);
}

static void
test_bounds (void)
{
  Drops d;
  NotaryRecent *c = recent_new (&d, 2, 100);
  put (c, "a", "1", 40);
  put (c, "b", "1", 40);
  /* a third name is over the names bound: the cache starts over */
  put (c, "c", "1", 10);
  assert_dropped_n (&d, 2);
  g_assert_cmpuint (notary_recent_count (c), ==, 1);
  g_assert_cmpuint (notary_recent_bytes (c), ==, 10);
  /* a known name is not: only its oldest version goes */
  put (c, "c", "2", 10);
  put (c, "c", "3", 10);
  assert_dropped (&d, (const char *[]){ "c/1", NULL });
  /* over the byte bound: starts over too */
  put (c, "c", "4", 85);
  assert_dropped_n (&d, 2);
  g_assert_cmpuint (notary_recent_bytes (c), ==, 85);
  g_assert_nonnull (notary_recent_lookup (c, "c", "4"));
  /* a value bigger than the bound alone is not kept, and nothing else goes */
  put (c, "d", "1", 101);
  assert_dropped (&d, (const char *[]){ "d/1", NULL });
  g_assert_null (notary_recent_lookup (c, "d", "1"));
  g_assert_nonnull (notary_recent_lookup (c, "c", "4"));
  recent_free (c, &d, 1);
}

static void
test_remove_prefix (void)
{
  Drops d;
  NotaryRecent *c = recent_new (&d, 10, 1000);
  put (c, "docker.io/a\nroot", "1", 1);
  put (c, "docker.io/a\ntargets", "1", 2);
  put (c, "docker.io/a\ntargets", "2", 3);
  put (c, "docker.io/ab\ntargets", "1", 4);
  notary_recent_remove_prefix (c, "docker.io/a\n");
  assert_dropped_n (&d, 3);
  g_assert_cmpuint (notary_recent_count (c), ==, 1);
  g_assert_cmpuint (notary_recent_bytes (c), ==, 4);
  g_assert_null (notary_recent_lookup (c, "docker.io/a\ntargets", "2"));
  g_assert_nonnull (notary_recent_lookup (c, "docker.io/ab\ntargets", "1"));
  recent_free (c, &d, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/recent/keeps-newest-two", test_keeps_newest_two);
  g_test_add_func ("/recent/bounds", test_bounds);
  g_test_add_func ("/recent/remove-prefix", test_remove_prefix);
  return g_test_run ();
}
