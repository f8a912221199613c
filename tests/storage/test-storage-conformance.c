/* test-storage-conformance.c — one behaviour suite for every storage plugin.
 *
 * Loads a storage plugin .so through the public headers only (GModule +
 * notary_plugin_get_desc), exactly as a third-party host would, and checks
 * every NotaryStorageVTable operation against server-storage.md.  Nothing
 * of the daemon is linked in: if this builds and passes, a plugin written
 * from include/notary/ alone works with the server.
 *
 * Environment:
 *   NOTARY_TEST_STORAGE_PLUGIN   path of the plugin .so (required)
 *   NOTARY_TEST_STORAGE_BACKEND  expected descriptor name ("memory", "mysql")
 *   NOTARY_TEST_STORAGE_DB_URL   storage.db_url passed to open() (optional)
 *   NOTARY_TEST_STORAGE_MAX_CONNECTIONS  storage.max_connections (optional)
 *
 * Tests may share one database, so each works on its own GUNs and measures
 * the global changefeed relative to its newest id at start.
 */
#include <notary/storage-backend.h>
#include <string.h>

typedef struct
{
  GModule *module;
  const NotaryPluginDesc *desc;
  const NotaryStorageVTable *vt;
  char *backend;
  char *db_url;
  char *max_connections;
} Suite;

/* Filled once in main() before any test runs, read-only afterwards. */
static Suite suite;

typedef struct
{
  NotaryHost host;
  NotaryStorage *s;
  const NotaryStorageVTable *vt;
  char *gun_prefix;
} Fixture;

static void
test_log (const NotaryHost *host, NotaryLogLevel level, const char *message)
{
  g_test_message ("plugin log [%d]: %s", level, message);
}

static JsonObject *
make_options (const char *db_url)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "backend", suite.backend);
  if (db_url != NULL)
    json_object_set_string_member (o, "db_url", db_url);
  if (suite.max_connections != NULL)
    json_object_set_string_member (o, "max_connections", suite.max_connections);
  return o;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) options = make_options (suite.db_url);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_strdup (g_test_get_path ());

  f->host.version = NOTARY_VERSION_HOST;
  f->host.log = test_log;
  f->host.config_dir = "/nonexistent";
  f->host.program = "notary-server";
  f->vt = suite.vt;
  f->s = f->vt->open (&f->host, options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->s);
  g_strdelimit (path, "/", '-');
  f->gun_prefix = g_strdup_printf ("example.com/conformance/%s-%08x", path + 1, g_random_int ());
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  f->vt->close (f->s);
  g_free (f->gun_prefix);
}

static char *
gun_name (Fixture *f, const char *suffix)
{
  return g_strdup_printf ("%s/%s", f->gun_prefix, suffix);
}

static GBytes *make_data (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static GBytes *
make_data (const char *fmt, ...)
{
  va_list ap;
  char *s;
  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return g_bytes_new_take (s, strlen (s));
}

static char *
sha256_of (GBytes *data)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
}

typedef struct
{
  const char *role;
  gint64 version;
  GBytes *data;
} Item;

static gboolean
put_many (Fixture *f, const char *gun, const Item *items, gsize n, GError **error)
{
  g_autofree NotaryStorageUpdate *u = g_new0 (NotaryStorageUpdate, n);
  g_autoptr (GPtrArray) shas = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; i < n; i++)
    {
      char *sha = sha256_of (items[i].data);
      g_ptr_array_add (shas, sha);
      u[i].role = items[i].role;
      u[i].version = items[i].version;
      u[i].data = items[i].data;
      u[i].sha256 = sha;
    }
  return f->vt->update_many (f->s, gun, u, n, error);
}

static gboolean
put1 (Fixture *f, const char *gun, const char *role, gint64 version, GBytes *data, GError **error)
{
  Item it = { role, version, data };
  return put_many (f, gun, &it, 1, error);
}

/* Stores a file whose content names it, asserting success. */
static GBytes *
put_ok (Fixture *f, const char *gun, const char *role, gint64 version)
{
  g_autoptr (GError) error = NULL;
  GBytes *data
      = make_data ("{\"gun\":\"%s\",\"role\":\"%s\",\"version\":%" G_GINT64_FORMAT "}", gun, role, version);
  g_assert_true (put1 (f, gun, role, version, data, &error));
  g_assert_no_error (error);
  return data;
}

static void
assert_file (NotaryStoredFile *file, GBytes *want, gint64 version)
{
  g_assert_nonnull (file);
  g_assert_cmpint (file->version, ==, version);
  g_assert_true (g_bytes_equal (file->data, want));
  /* Stored and read back in UTC: must be "now" in epoch seconds. */
  g_assert_cmpint (ABS (file->modified_unix - g_get_real_time () / G_USEC_PER_SEC), <, 300);
}

static void
assert_latest (Fixture *f, const char *gun, const char *role, GBytes *want, gint64 version)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = f->vt->get_latest (f->s, gun, role, &error);
  g_assert_no_error (error);
  assert_file (file, want, version);
  notary_stored_file_free (file);
}

static void
assert_not_found (NotaryStoredFile *file, GError *error)
{
  g_assert_null (file);
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
}

static void
assert_latest_missing (Fixture *f, const char *gun, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = f->vt->get_latest (f->s, gun, role, &error);
  assert_not_found (file, error);
}

static GPtrArray *
changes (Fixture *f, const char *gun, gint64 id, guint records, gboolean reversed)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *out = f->vt->get_changes (f->s, gun, id, records, reversed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  return out;
}

/* Newest change id in the whole feed (0 when empty). */
static gint64
newest_change_id (Fixture *f)
{
  g_autoptr (GPtrArray) last = changes (f, NULL, -1, 1, TRUE);
  g_assert_cmpuint (last->len, <=, 1);
  return last->len == 0 ? 0 : ((NotaryChange *)last->pdata[0])->id;
}

static NotaryChange *
change_at (GPtrArray *a, guint i)
{
  g_assert_cmpuint (i, <, a->len);
  return a->pdata[i];
}

/* ---- descriptor --------------------------------------------------------- */

static void
test_descriptor (void)
{
  const NotaryStorageVTable *vt = suite.vt;

  g_assert_cmpuint (suite.desc->abi_major, ==, NOTARY_PLUGIN_ABI_MAJOR);
  g_assert_cmpuint (suite.desc->abi_minor, <=, NOTARY_PLUGIN_ABI_MINOR);
  g_assert_cmpstr (suite.desc->build_signature, ==, NOTARY_PLUGIN_BUILD_SIGNATURE);
  g_assert_cmpint (suite.desc->kind, ==, NOTARY_PLUGIN_KIND_STORAGE);
  g_assert_cmpstr (suite.desc->name, ==, suite.backend);
  g_assert_nonnull (suite.desc->description);
  g_assert_cmpstr (suite.desc->description, !=, "");
  g_assert_nonnull (suite.desc->version);
  g_assert_cmpuint (vt->version, >=, 1);
  g_assert_nonnull (vt->open);
  g_assert_nonnull (vt->close);
  g_assert_nonnull (vt->update_many);
  g_assert_nonnull (vt->get_latest);
  g_assert_nonnull (vt->get_checksum);
  g_assert_nonnull (vt->get_version);
  g_assert_nonnull (vt->delete_gun);
  g_assert_nonnull (vt->get_changes);
  g_assert_nonnull (vt->check_health);
}

/* ---- update_many -------------------------------------------------------- */

static void
test_roundtrip (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "roundtrip");
  g_autoptr (GBytes) root = make_data ("root-1");
  g_autoptr (GBytes) targets = make_data ("targets-1");
  g_autoptr (GBytes) delegation = make_data ("targets/releases-1");
  g_autoptr (GBytes) snapshot = make_data ("snapshot-1");
  g_autoptr (GBytes) timestamp = make_data ("timestamp-1");
  /* Binary data with NULs and high bytes must come back verbatim. */
  g_autoptr (GBytes) binary = g_bytes_new_static ("\0\1\2\xff\xfe\0zz", 8);
  Item batch[] = {
    { "root", 1, root },         { "targets", 1, targets },     { "targets/releases", 1, delegation },
    { "snapshot", 1, snapshot }, { "timestamp", 1, timestamp }, { "targets/binary", 1, binary },
  };
  g_autoptr (GError) error = NULL;

  assert_latest_missing (f, gun, "root");
  g_assert_true (put_many (f, gun, batch, G_N_ELEMENTS (batch), &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (batch); i++)
    assert_latest (f, gun, batch[i].role, batch[i].data, 1);
  assert_latest_missing (f, gun, "targets/other");

  /* An empty batch is a successful no-op. */
  g_assert_true (f->vt->update_many (f->s, gun, NULL, 0, &error));
  g_assert_no_error (error);
}

static void
test_large_file (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "large");
  gsize size = 3 * 1024 * 1024 + 17;
  guint8 *buf = g_malloc (size);
  g_autoptr (GBytes) big = NULL;
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < size; i++)
    buf[i] = (guint8)(i * 131 + (i >> 7));
  big = g_bytes_new_take (buf, size);
  g_assert_true (put1 (f, gun, "targets", 1, big, &error));
  g_assert_no_error (error);
  assert_latest (f, gun, "targets", big, 1);
}

static void
test_multiple_versions_in_batch (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "multi");
  g_autoptr (GBytes) s2 = make_data ("snapshot-2");
  g_autoptr (GBytes) s3 = make_data ("snapshot-3");
  g_autoptr (GBytes) t5 = make_data ("timestamp-5");
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  /* Several versions of one role together, not even in order, with gaps. */
  Item batch[] = { { "snapshot", 3, s3 }, { "snapshot", 2, s2 }, { "timestamp", 5, t5 } };
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file;

  g_assert_true (put_many (f, gun, batch, G_N_ELEMENTS (batch), &error));
  g_assert_no_error (error);
  assert_latest (f, gun, "snapshot", s3, 3);
  assert_latest (f, gun, "timestamp", t5, 5);
  file = f->vt->get_version (f->s, gun, "snapshot", 2, &error);
  g_assert_no_error (error);
  assert_file (file, s2, 2);
  notary_stored_file_free (file);
  assert_latest (f, gun, "root", r1, 1);
}

static void
test_old_version (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "old");
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  g_autoptr (GBytes) x = make_data ("x");
  g_autoptr (GBytes) y = make_data ("y");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) r5 = NULL;
  g_autoptr (GBytes) r6 = NULL;

  /* Same version again, and an older one. */
  g_assert_false (put1 (f, gun, "root", 1, x, &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
  g_clear_error (&error);

  /* Gaps are allowed. */
  r5 = put_ok (f, gun, "root", 5);
  assert_latest (f, gun, "root", r5, 5);
  g_assert_false (put1 (f, gun, "root", 3, x, &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
  g_clear_error (&error);
  g_assert_false (put1 (f, gun, "root", 5, x, &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
  g_clear_error (&error);

  /* The smallest new version of a role decides, even if others are newer. */
  {
    Item batch[] = { { "root", 9, x }, { "root", 4, y } };
    g_assert_false (put_many (f, gun, batch, 2, &error));
    g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
    g_clear_error (&error);
    assert_latest (f, gun, "root", r5, 5);
  }

  /* Duplicate (role, version) inside one batch, even on a fresh role. */
  {
    Item batch[] = { { "targets", 1, x }, { "snapshot", 1, y }, { "targets", 1, y } };
    g_assert_false (put_many (f, gun, batch, G_N_ELEMENTS (batch), &error));
    g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
    g_clear_error (&error);
    assert_latest_missing (f, gun, "targets");
    assert_latest_missing (f, gun, "snapshot");
  }

  /* Versions are per (gun, role): other roles and GUNs are independent. */
  {
    g_autofree char *other = gun_name (f, "old-other");
    g_autoptr (GBytes) t1 = put_ok (f, gun, "targets", 1);
    g_autoptr (GBytes) o1 = put_ok (f, other, "root", 1);
    assert_latest (f, other, "root", o1, 1);
    assert_latest (f, gun, "targets", t1, 1);
  }

  /* The file that lost stays the stored one. */
  r6 = put_ok (f, gun, "root", 6);
  assert_latest (f, gun, "root", r6, 6);
  {
    NotaryStoredFile *file = f->vt->get_version (f->s, gun, "root", 1, &error);
    g_assert_no_error (error);
    assert_file (file, r1, 1);
    notary_stored_file_free (file);
  }
}

static void
test_atomic_batch (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "atomic");
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  g_autoptr (GBytes) t = make_data ("targets-2");
  g_autoptr (GBytes) s = make_data ("snapshot-2");
  g_autoptr (GBytes) ts = make_data ("timestamp-2");
  g_autoptr (GBytes) r = make_data ("root-1-again");
  gint64 before = newest_change_id (f);
  /* The failing update comes last: nothing before it may stay behind. */
  Item batch[] = { { "targets", 2, t }, { "snapshot", 2, s }, { "timestamp", 2, ts }, { "root", 1, r } };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) after = NULL;
  g_autoptr (GPtrArray) mine = NULL;

  g_assert_false (put_many (f, gun, batch, G_N_ELEMENTS (batch), &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
  assert_latest_missing (f, gun, "targets");
  assert_latest_missing (f, gun, "snapshot");
  assert_latest_missing (f, gun, "timestamp");
  assert_latest (f, gun, "root", r1, 1);
  /* ... and no changefeed entry for the rejected timestamp. */
  mine = changes (f, gun, 0, 100, FALSE);
  g_assert_cmpuint (mine->len, ==, 0);
  after = changes (f, NULL, before, 100, FALSE);
  for (guint i = 0; i < after->len; i++)
    g_assert_cmpstr (change_at (after, i)->gun, !=, gun);
}

/* ---- lookups ------------------------------------------------------------ */

static void
test_get_checksum (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "checksum");
  g_autofree char *other = gun_name (f, "checksum-other");
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  g_autoptr (GBytes) r2 = put_ok (f, gun, "root", 2);
  g_autoptr (GBytes) t1 = put_ok (f, gun, "targets", 1);
  g_autoptr (GBytes) same = make_data ("identical bytes in two roles");
  g_autofree char *sha_r1 = sha256_of (r1);
  g_autofree char *sha_r2 = sha256_of (r2);
  g_autofree char *sha_t1 = sha256_of (t1);
  g_autofree char *sha_same = sha256_of (same);
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file;

  /* Older versions stay reachable by hash. */
  file = f->vt->get_checksum (f->s, gun, "root", sha_r1, &error);
  g_assert_no_error (error);
  assert_file (file, r1, 1);
  notary_stored_file_free (file);
  file = f->vt->get_checksum (f->s, gun, "root", sha_r2, &error);
  g_assert_no_error (error);
  assert_file (file, r2, 2);
  notary_stored_file_free (file);

  /* Hex digits compare case-insensitively. */
  {
    g_autofree char *upper = g_ascii_strup (sha_r2, -1);
    file = f->vt->get_checksum (f->s, gun, "root", upper, &error);
    g_assert_no_error (error);
    assert_file (file, r2, 2);
    notary_stored_file_free (file);
  }

  /* Filtered by role: a root hash is not a targets file. */
  file = f->vt->get_checksum (f->s, gun, "targets", sha_r1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);
  file = f->vt->get_checksum (f->s, gun, "root", sha_t1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);

  /* Filtered by GUN. */
  file = f->vt->get_checksum (f->s, other, "root", sha_r1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);

  /* Unknown hash. */
  file = f->vt->get_checksum (f->s, gun, "root",
                              "0000000000000000000000000000000000000000000000000000000000000000", &error);
  assert_not_found (file, error);
  g_clear_error (&error);

  /* The same bytes in two roles: each role finds its own copy. */
  g_assert_true (put1 (f, gun, "targets/a", 1, same, &error));
  g_assert_no_error (error);
  g_assert_true (put1 (f, gun, "targets/b", 7, same, &error));
  g_assert_no_error (error);
  file = f->vt->get_checksum (f->s, gun, "targets/a", sha_same, &error);
  g_assert_no_error (error);
  assert_file (file, same, 1);
  notary_stored_file_free (file);
  file = f->vt->get_checksum (f->s, gun, "targets/b", sha_same, &error);
  g_assert_no_error (error);
  assert_file (file, same, 7);
  notary_stored_file_free (file);
}

static void
test_get_version (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "version");
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  g_autoptr (GBytes) r3 = put_ok (f, gun, "root", 3);
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file;

  file = f->vt->get_version (f->s, gun, "root", 1, &error);
  g_assert_no_error (error);
  assert_file (file, r1, 1);
  notary_stored_file_free (file);
  file = f->vt->get_version (f->s, gun, "root", 3, &error);
  g_assert_no_error (error);
  assert_file (file, r3, 3);
  notary_stored_file_free (file);

  /* Version 0 must not match "any version" (the reference ORM quirk). */
  for (gint64 v = -1; v <= 4; v++)
    {
      if (v == 1 || v == 3)
        continue;
      file = f->vt->get_version (f->s, gun, "root", v, &error);
      assert_not_found (file, error);
      g_clear_error (&error);
    }
  file = f->vt->get_version (f->s, gun, "targets", 1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);
  file = f->vt->get_version (f->s, gun, "root", G_MAXINT64, &error);
  assert_not_found (file, error);
  g_clear_error (&error);
}

/* ---- delete ------------------------------------------------------------- */

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "del");
  g_autofree char *longer = gun_name (f, "delete-me-not");
  g_autofree char *child = gun_name (f, "del/child");
  g_autofree char *never = gun_name (f, "never-existed");
  g_autoptr (GBytes) l1 = put_ok (f, longer, "root", 1);
  g_autoptr (GBytes) c1 = put_ok (f, child, "root", 1);
  g_autoptr (GBytes) a = put_ok (f, gun, "root", 1);
  g_autoptr (GBytes) b = put_ok (f, gun, "timestamp", 1);
  g_autoptr (GBytes) again = NULL;
  g_autofree char *sha_a = sha256_of (a);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) feed = NULL;
  g_autoptr (GPtrArray) feed2 = NULL;
  NotaryStoredFile *file;
  gint64 before;

  before = newest_change_id (f);
  g_assert_true (f->vt->delete_gun (f->s, gun, &error));
  g_assert_no_error (error);
  assert_latest_missing (f, gun, "root");
  assert_latest_missing (f, gun, "timestamp");
  file = f->vt->get_checksum (f->s, gun, "root", sha_a, &error);
  assert_not_found (file, error);
  g_clear_error (&error);
  file = f->vt->get_version (f->s, gun, "root", 1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);

  /* Exactly that GUN: not the GUNs it is a prefix of. */
  assert_latest (f, longer, "root", l1, 1);
  assert_latest (f, child, "root", c1, 1);

  /* One deletion change: version 0, empty sha256. */
  feed = changes (f, NULL, before, 100, FALSE);
  g_assert_cmpuint (feed->len, ==, 1);
  g_assert_cmpstr (change_at (feed, 0)->gun, ==, gun);
  g_assert_cmpstr (change_at (feed, 0)->category, ==, "deletion");
  g_assert_cmpint (change_at (feed, 0)->version, ==, 0);
  g_assert_cmpstr (change_at (feed, 0)->sha256, ==, "");
  g_assert_cmpint (change_at (feed, 0)->id, >, before);
  g_assert_cmpint (ABS (change_at (feed, 0)->created_unix - g_get_real_time () / G_USEC_PER_SEC), <, 300);

  /* Deleting nothing succeeds and records nothing. */
  g_assert_true (f->vt->delete_gun (f->s, gun, &error));
  g_assert_no_error (error);
  g_assert_true (f->vt->delete_gun (f->s, never, &error));
  g_assert_no_error (error);
  feed2 = changes (f, NULL, before, 100, FALSE);
  g_assert_cmpuint (feed2->len, ==, 1);

  /* The GUN starts over from version 1. */
  again = put_ok (f, gun, "root", 1);
  assert_latest (f, gun, "root", again, 1);
}

/* ---- names are exact ----------------------------------------------------- */

/* GUNs and roles are case- and space-sensitive (TUF names are byte
 * strings), although the reference MySQL schema compares them with a
 * case-insensitive collation.  Reads, deletes and the changefeed filter
 * must never answer for a GUN or role that differs only in case or in
 * trailing spaces.  Creating such a twin may either work (memory) or fail
 * with OLD_VERSION (mysql: the unique key still collides), but it must not
 * touch the original. */
static void
test_exact_names (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "case/app");
  g_autofree char *twin = gun_name (f, "CASE/App");
  g_autofree char *spaced = g_strconcat (gun, " ", NULL);
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  g_autoptr (GBytes) r2 = put_ok (f, gun, "root", 2);
  g_autoptr (GBytes) t1 = put_ok (f, gun, "timestamp", 1);
  g_autoptr (GBytes) d1 = put_ok (f, gun, "targets/Releases", 1);
  g_autoptr (GBytes) twin_root = make_data ("{\"twin\":true}");
  g_autofree char *sha_r1 = sha256_of (r1);
  g_autofree char *sha_d1 = sha256_of (d1);
  const char *strangers[] = { twin, spaced };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) feed = NULL;
  NotaryStoredFile *file;
  gint64 before;

  for (guint i = 0; i < G_N_ELEMENTS (strangers); i++)
    {
      g_autoptr (GPtrArray) none = NULL;

      assert_latest_missing (f, strangers[i], "root");
      assert_latest_missing (f, strangers[i], "timestamp");
      file = f->vt->get_checksum (f->s, strangers[i], "root", sha_r1, &error);
      assert_not_found (file, error);
      g_clear_error (&error);
      file = f->vt->get_version (f->s, strangers[i], "root", 1, &error);
      assert_not_found (file, error);
      g_clear_error (&error);
      none = changes (f, strangers[i], 0, 100, FALSE);
      g_assert_cmpuint (none->len, ==, 0);
    }

  /* Roles too: delegation names are case-sensitive. */
  assert_latest_missing (f, gun, "ROOT");
  assert_latest_missing (f, gun, "targets/releases");
  file = f->vt->get_checksum (f->s, gun, "targets/releases", sha_d1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);
  file = f->vt->get_version (f->s, gun, "Root", 1, &error);
  assert_not_found (file, error);
  g_clear_error (&error);
  assert_latest (f, gun, "targets/Releases", d1, 1);

  /* Deleting the twin deletes nothing of the original. */
  before = newest_change_id (f);
  g_assert_true (f->vt->delete_gun (f->s, twin, &error));
  g_assert_no_error (error);
  g_assert_true (f->vt->delete_gun (f->s, spaced, &error));
  g_assert_no_error (error);
  feed = changes (f, NULL, before, 100, FALSE);
  g_assert_cmpuint (feed->len, ==, 0);
  assert_latest (f, gun, "root", r2, 2);
  assert_latest (f, gun, "timestamp", t1, 1);

  /* Creating the twin: allowed, or refused as OLD_VERSION; never mixed
   * into the original. */
  if (put1 (f, twin, "root", 1, twin_root, &error))
    {
      g_assert_no_error (error);
      assert_latest (f, twin, "root", twin_root, 1);
    }
  else
    {
      g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
      g_clear_error (&error);
      assert_latest_missing (f, twin, "root");
    }
  assert_latest (f, gun, "root", r2, 2);
  file = f->vt->get_version (f->s, gun, "root", 1, &error);
  g_assert_no_error (error);
  assert_file (file, r1, 1);
  notary_stored_file_free (file);

  /* Once the original is gone the twin name is free. */
  g_assert_true (f->vt->delete_gun (f->s, gun, &error));
  g_assert_no_error (error);
  g_assert_true (f->vt->delete_gun (f->s, twin, &error));
  g_assert_no_error (error);
  g_assert_true (put1 (f, twin, "root", 1, twin_root, &error));
  g_assert_no_error (error);
  assert_latest (f, twin, "root", twin_root, 1);
  assert_latest_missing (f, gun, "root");
}

/* ---- changefeed --------------------------------------------------------- */

static void
assert_change (NotaryChange *c, const char *gun, gint64 version, GBytes *data)
{
  g_autofree char *sha = sha256_of (data);
  g_assert_cmpstr (c->gun, ==, gun);
  g_assert_cmpint (c->version, ==, version);
  g_assert_cmpstr (c->sha256, ==, sha);
  g_assert_cmpstr (c->category, ==, "update");
  g_assert_cmpint (ABS (c->created_unix - g_get_real_time () / G_USEC_PER_SEC), <, 300);
}

static void
assert_ids (GPtrArray *a, const gint64 *ids, guint n)
{
  g_assert_cmpuint (a->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (change_at (a, i)->id, ==, ids[i]);
}

static void
test_changefeed (Fixture *f, gconstpointer data)
{
  g_autofree char *ga = gun_name (f, "feed-a");
  g_autofree char *gb = gun_name (f, "feed-b");
  gint64 base = newest_change_id (f);
  g_autoptr (GPtrArray) all = NULL;
  GBytes *ts[5];
  gint64 id[5];
  const char *guns[5];
  const gint64 versions[5] = { 1, 1, 2, 2, 3 };

  guns[0] = ga, guns[1] = gb, guns[2] = ga, guns[3] = gb, guns[4] = ga;

  /* Non-timestamp roles make no changes. */
  g_bytes_unref (put_ok (f, ga, "root", 1));
  g_bytes_unref (put_ok (f, ga, "snapshot", 1));
  {
    g_autoptr (GPtrArray) none = changes (f, ga, 0, 100, FALSE);
    g_assert_cmpuint (none->len, ==, 0);
  }

  /* Interleaved: A1 B1 A2 B2 A3. */
  for (guint i = 0; i < 5; i++)
    ts[i] = put_ok (f, guns[i], "timestamp", versions[i]);

  all = changes (f, NULL, base, 100, FALSE);
  g_assert_cmpuint (all->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      assert_change (change_at (all, i), guns[i], versions[i], ts[i]);
      id[i] = change_at (all, i)->id;
      if (i > 0)
        g_assert_cmpint (id[i], >, id[i - 1]);
      else
        g_assert_cmpint (id[0], >, base);
    }

  /* Forward paging over all GUNs: the named id is excluded. */
  {
    g_autoptr (GPtrArray) p1 = changes (f, NULL, base, 2, FALSE);
    g_autoptr (GPtrArray) p2 = changes (f, NULL, id[1], 2, FALSE);
    g_autoptr (GPtrArray) p3 = changes (f, NULL, id[3], 2, FALSE);
    g_autoptr (GPtrArray) p4 = changes (f, NULL, id[4], 2, FALSE);
    g_autoptr (GPtrArray) z = changes (f, NULL, base, 0, FALSE);
    assert_ids (p1, (gint64[]){ id[0], id[1] }, 2);
    assert_ids (p2, (gint64[]){ id[2], id[3] }, 2);
    assert_ids (p3, (gint64[]){ id[4] }, 1);
    g_assert_cmpuint (p4->len, ==, 0);
    g_assert_cmpuint (z->len, ==, 0);
  }

  /* Reverse: the newest N, still oldest -> newest; before a given id. */
  {
    g_autoptr (GPtrArray) newest = changes (f, NULL, -1, 2, TRUE);
    g_autoptr (GPtrArray) newest0 = changes (f, NULL, 0, 2, TRUE);
    g_autoptr (GPtrArray) before = changes (f, NULL, id[4], 2, TRUE);
    g_autoptr (GPtrArray) before_first = changes (f, NULL, id[0], 3, TRUE);
    g_autoptr (GPtrArray) wide = changes (f, NULL, id[2], 100, TRUE);
    assert_ids (newest, (gint64[]){ id[3], id[4] }, 2);
    assert_ids (newest0, (gint64[]){ id[3], id[4] }, 2);
    assert_ids (before, (gint64[]){ id[2], id[3] }, 2);
    for (guint i = 0; i < before_first->len; i++)
      g_assert_cmpint (change_at (before_first, i)->id, <=, base);
    g_assert_cmpuint (wide->len, >=, 2);
    g_assert_cmpint (change_at (wide, wide->len - 1)->id, ==, id[1]);
    g_assert_cmpint (change_at (wide, wide->len - 2)->id, ==, id[0]);
    for (guint i = 1; i < wide->len; i++)
      g_assert_cmpint (change_at (wide, i)->id, >, change_at (wide, i - 1)->id);
  }

  /* Per GUN. */
  {
    g_autoptr (GPtrArray) a_all = changes (f, ga, 0, 100, FALSE);
    g_autoptr (GPtrArray) a_after1 = changes (f, ga, id[0], 1, FALSE);
    g_autoptr (GPtrArray) a_after_b1 = changes (f, ga, id[1], 100, FALSE);
    g_autoptr (GPtrArray) a_newest = changes (f, ga, -1, 2, TRUE);
    g_autoptr (GPtrArray) a_before3 = changes (f, ga, id[4], 5, TRUE);
    g_autoptr (GPtrArray) a_before_b2 = changes (f, ga, id[3], 1, TRUE);
    g_autoptr (GPtrArray) b_all = changes (f, gb, -7, 100, TRUE);
    g_autoptr (GPtrArray) b_after = changes (f, gb, id[3], 100, FALSE);
    g_autofree char *nobody = gun_name (f, "feed-nobody");
    g_autoptr (GPtrArray) n1 = changes (f, nobody, 0, 100, FALSE);
    g_autoptr (GPtrArray) n2 = changes (f, nobody, -1, 100, TRUE);

    assert_ids (a_all, (gint64[]){ id[0], id[2], id[4] }, 3);
    assert_change (change_at (a_all, 2), ga, 3, ts[4]);
    assert_ids (a_after1, (gint64[]){ id[2] }, 1);
    assert_ids (a_after_b1, (gint64[]){ id[2], id[4] }, 2);
    assert_ids (a_newest, (gint64[]){ id[2], id[4] }, 2);
    assert_ids (a_before3, (gint64[]){ id[0], id[2] }, 2);
    assert_ids (a_before_b2, (gint64[]){ id[2] }, 1);
    assert_ids (b_all, (gint64[]){ id[1], id[3] }, 2);
    g_assert_cmpuint (b_after->len, ==, 0);
    g_assert_cmpuint (n1->len, ==, 0);
    g_assert_cmpuint (n2->len, ==, 0);
  }

  for (guint i = 0; i < 5; i++)
    g_bytes_unref (ts[i]);
}

/* ---- concurrency -------------------------------------------------------- */

#define N_THREADS 8
#define N_VERSIONS 6

typedef struct
{
  Fixture *f;
  const char *gun;
  guint thread;
  GMutex *start_lock;
  GCond *start_cond;
  gboolean *go;
  gboolean won[N_VERSIONS + 1];
  guint n_other_errors;
  char *first_other_error;
} Racer;

static const char *const race_roles[] = { "targets", "snapshot", "timestamp" };

static GBytes *
race_data (guint thread, const char *role, gint64 version)
{
  return make_data ("thread=%u role=%s version=%" G_GINT64_FORMAT, thread, role, version);
}

static gpointer
racer_main (gpointer data)
{
  Racer *r = data;

  g_mutex_lock (r->start_lock);
  while (!*r->go)
    g_cond_wait (r->start_cond, r->start_lock);
  g_mutex_unlock (r->start_lock);

  for (gint64 v = 1; v <= N_VERSIONS; v++)
    {
      g_autoptr (GError) error = NULL;
      GBytes *d[3];
      Item batch[3];

      for (guint i = 0; i < 3; i++)
        {
          d[i] = race_data (r->thread, race_roles[i], v);
          batch[i] = (Item){ race_roles[i], v, d[i] };
        }
      if (put_many (r->f, r->gun, batch, 3, &error))
        r->won[v] = TRUE;
      else if (!g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION))
        {
          r->n_other_errors++;
          if (r->first_other_error == NULL)
            r->first_other_error = g_strdup (error->message);
        }
      for (guint i = 0; i < 3; i++)
        g_bytes_unref (d[i]);
    }
  return NULL;
}

static void
test_concurrent_updates (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "race");
  Racer racers[N_THREADS];
  GThread *threads[N_THREADS];
  GMutex start_lock;
  GCond start_cond;
  gboolean go = FALSE;
  g_autoptr (GPtrArray) feed = NULL;

  g_mutex_init (&start_lock);
  g_cond_init (&start_cond);
  for (guint t = 0; t < N_THREADS; t++)
    {
      racers[t] = (Racer){ f, gun, t, &start_lock, &start_cond, &go };
      threads[t] = g_thread_new ("racer", racer_main, &racers[t]);
    }
  g_mutex_lock (&start_lock);
  go = TRUE;
  g_cond_broadcast (&start_cond);
  g_mutex_unlock (&start_lock);
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);

  for (guint t = 0; t < N_THREADS; t++)
    {
      if (racers[t].n_other_errors > 0)
        g_test_message ("thread %u: %s", t, racers[t].first_other_error);
      g_assert_cmpuint (racers[t].n_other_errors, ==, 0);
      g_free (racers[t].first_other_error);
    }

  /* Exactly one winner per version, and all three of its files stored
   * (a losing batch left nothing behind). */
  for (gint64 v = 1; v <= N_VERSIONS; v++)
    {
      guint winners = 0, winner = 0;
      for (guint t = 0; t < N_THREADS; t++)
        if (racers[t].won[v])
          winners++, winner = t;
      g_assert_cmpuint (winners, ==, 1);
      for (guint i = 0; i < 3; i++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (GBytes) want = race_data (winner, race_roles[i], v);
          NotaryStoredFile *file = f->vt->get_version (f->s, gun, race_roles[i], v, &error);
          g_assert_no_error (error);
          assert_file (file, want, v);
          notary_stored_file_free (file);
        }
    }

  /* One "update" change per stored timestamp, in version order. */
  feed = changes (f, gun, 0, 100, FALSE);
  g_assert_cmpuint (feed->len, ==, N_VERSIONS);
  for (guint i = 0; i < feed->len; i++)
    g_assert_cmpint (change_at (feed, i)->version, ==, (gint64)i + 1);

  g_mutex_clear (&start_lock);
  g_cond_clear (&start_cond);
}

/* Many threads reading while others write: no errors, no torn reads. */
static gpointer
reader_main (gpointer data)
{
  Racer *r = data;
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr (GError) error = NULL;
      NotaryStoredFile *file = r->f->vt->get_latest (r->f->s, r->gun, "root", &error);
      if (file == NULL)
        r->n_other_errors++;
      else if (file->version < 1 || g_bytes_get_size (file->data) == 0)
        r->n_other_errors++;
      notary_stored_file_free (file);
    }
  return NULL;
}

static void
test_concurrent_reads (Fixture *f, gconstpointer data)
{
  g_autofree char *gun = gun_name (f, "readers");
  g_autoptr (GBytes) r1 = put_ok (f, gun, "root", 1);
  Racer readers[N_THREADS];
  GThread *threads[N_THREADS];

  for (guint t = 0; t < N_THREADS; t++)
    {
      readers[t] = (Racer){ .f = f, .gun = gun, .thread = t };
      threads[t] = g_thread_new ("reader", reader_main, &readers[t]);
    }
  for (gint64 v = 2; v <= 20; v++)
    g_bytes_unref (put_ok (f, gun, "root", v));
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (threads[t]);
      g_assert_cmpuint (readers[t].n_other_errors, ==, 0);
    }
}

/* ---- health and options ------------------------------------------------- */

static void
test_health (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (f->vt->check_health (f->s, &error));
  g_assert_no_error (error);
}

static void
test_two_instances (Fixture *f, gconstpointer data)
{
  /* A second instance of the same plugin works side by side. */
  g_autoptr (JsonObject) options = make_options (suite.db_url);
  g_autoptr (GError) error = NULL;
  NotaryStorage *s2 = f->vt->open (&f->host, options, &error);

  g_assert_no_error (error);
  g_assert_nonnull (s2);
  g_assert_true (f->vt->check_health (s2, &error));
  g_assert_no_error (error);
  f->vt->close (s2);
}

static void
test_bad_db_url (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *url;
    const char *names; /* the bad part the message must point at */
  } cases[] = {
    { "server:S3cr3tPw@tcp(127.0.0.1:notaport)/notaryserver", "notaport" },
    { "server:S3cr3tPw@tcp(127.0.0.1:3306", "/" },
    { "server:S3cr3tPw@bogus(127.0.0.1:3306)/notaryserver", "bogus" },
    { "server:S3cr3tPw@tcp(127.0.0.1:3306/notaryserver", ")" },
    { "server:S3cr3tPw@tcp(127.0.0.1:3306)/notaryserver?timeout=forever", "timeout" },
    { "server:S3cr3tPw@tcp(127.0.0.1:3306)/notaryserver?parseTime", "parseTime" },
    { "server:S3cr3tPw@tcp(127.0.0.1:3306)/notaryserver?tls=custom", "tls" },
  };

  if (g_strcmp0 (suite.backend, "mysql") != 0)
    {
      g_test_skip ("db_url is only parsed by the mysql backend");
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (JsonObject) options = make_options (cases[i].url);
      g_autoptr (GError) error = NULL;
      NotaryStorage *s = f->vt->open (&f->host, options, &error);
      g_test_message ("%s -> %s", cases[i].url, error != NULL ? error->message : "(opened)");
      g_assert_null (s);
      g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, cases[i].names));
      g_assert_null (strstr (error->message, "S3cr3tPw"));
    }

  /* Missing db_url. */
  {
    g_autoptr (JsonObject) options = make_options (NULL);
    g_autoptr (GError) error = NULL;
    g_assert_null (f->vt->open (&f->host, options, &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, "db_url"));
  }

  /* Nothing listens on port 1: UNAVAILABLE, quickly, no password. */
  {
    g_autoptr (JsonObject) options = make_options ("server:S3cr3tPw@tcp(127.0.0.1:1)/notaryserver");
    g_autoptr (GError) error = NULL;
    gint64 t0 = g_get_monotonic_time ();
    g_assert_null (f->vt->open (&f->host, options, &error));
    g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_UNAVAILABLE);
    g_assert_null (strstr (error->message, "S3cr3tPw"));
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  }
}

/* ---- main --------------------------------------------------------------- */

static gboolean
load_plugin (const char *path, GError **error)
{
  NotaryPluginGetDescFunc get_desc = NULL;

  suite.module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (suite.module == NULL)
    {
      g_set_error (error, g_quark_from_static_string ("test-storage"), 0, "%s: %s", path, g_module_error ());
      return FALSE;
    }
  if (!g_module_symbol (suite.module, NOTARY_PLUGIN_ENTRY_SYMBOL, (gpointer *)&get_desc) || get_desc == NULL)
    {
      g_set_error (error, g_quark_from_static_string ("test-storage"), 0, "%s: no %s", path,
                   NOTARY_PLUGIN_ENTRY_SYMBOL);
      return FALSE;
    }
  suite.desc = get_desc ();
  if (suite.desc == NULL || suite.desc->kind != NOTARY_PLUGIN_KIND_STORAGE || suite.desc->vtable == NULL)
    {
      g_set_error (error, g_quark_from_static_string ("test-storage"), 0, "%s: not a storage plugin", path);
      return FALSE;
    }
  suite.vt = suite.desc->vtable;
  return TRUE;
}

int
main (int argc, char **argv)
{
  const char *path = g_getenv ("NOTARY_TEST_STORAGE_PLUGIN");
  g_autoptr (GError) error = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);

  if (path == NULL || *path == '\0')
    {
      g_test_message ("NOTARY_TEST_STORAGE_PLUGIN is not set");
      return 1;
    }
  if (!load_plugin (path, &error))
    {
      g_test_message ("cannot load the plugin: %s", error->message);
      return 1;
    }
  suite.backend = g_strdup (g_getenv ("NOTARY_TEST_STORAGE_BACKEND"));
  if (suite.backend == NULL)
    suite.backend = g_strdup (suite.desc->name);
  suite.db_url = g_strdup (g_getenv ("NOTARY_TEST_STORAGE_DB_URL"));
  suite.max_connections = g_strdup (g_getenv ("NOTARY_TEST_STORAGE_MAX_CONNECTIONS"));

#define ADD(name, fn) g_test_add ("/storage/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  g_test_add_func ("/storage/descriptor", test_descriptor);
  ADD ("update/roundtrip", test_roundtrip);
  ADD ("update/large-file", test_large_file);
  ADD ("update/multiple-versions", test_multiple_versions_in_batch);
  ADD ("update/old-version", test_old_version);
  ADD ("update/atomic", test_atomic_batch);
  ADD ("get/checksum", test_get_checksum);
  ADD ("get/version", test_get_version);
  ADD ("delete", test_delete);
  ADD ("exact-names", test_exact_names);
  ADD ("changefeed", test_changefeed);
  ADD ("concurrency/updates", test_concurrent_updates);
  ADD ("concurrency/reads", test_concurrent_reads);
  ADD ("health", test_health);
  ADD ("open/two-instances", test_two_instances);
  ADD ("open/bad-db-url", test_bad_db_url);
#undef ADD

  rc = g_test_run ();
  g_free (suite.backend);
  g_free (suite.db_url);
  g_free (suite.max_connections);
  /* The module stays loaded: plugins may register static state. */
  return rc;
}
