/* test-storage-mysql-fault.c — the mysql backend across database outages.
 *
 * Run by run-with-mariadb.sh, which starts a private MariaDB and exports
 * NOTARY_TEST_STORAGE_DB_URL, NOTARY_TEST_MARIADB_DIR and
 * NOTARY_TEST_MARIADB_SH; this test stops and resumes that server with
 * `mariadb.sh stop|resume DIR` while one plugin instance stays open, and
 * checks that calls fail fast with UNAVAILABLE while it is down and work
 * again, on the same instance, once it is back.
 *
 * Like the conformance suite it uses only the public plugin headers.
 */
#include <notary/storage-backend.h>
#include <string.h>

/* The backend promises "seconds, not minutes"; allow some slack for a
 * loaded test machine. */
#define FAIL_FAST_US (4 * G_USEC_PER_SEC)

typedef struct
{
  const NotaryStorageVTable *vt;
  NotaryHost host;
  NotaryStorage *s;
  char *gun;
} Fixture;

static void
test_log (const NotaryHost *host, NotaryLogLevel level, const char *message)
{
  g_test_message ("plugin log [%d]: %s", level, message);
}

static const NotaryStorageVTable *
load_vtable (void)
{
  const char *path = g_getenv ("NOTARY_TEST_STORAGE_PLUGIN");
  NotaryPluginGetDescFunc get_desc = NULL;
  GModule *module;
  const NotaryPluginDesc *desc;

  g_assert_nonnull (path);
  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    g_error ("%s: %s", path, g_module_error ());
  g_assert_true (g_module_symbol (module, NOTARY_PLUGIN_ENTRY_SYMBOL, (gpointer *)&get_desc));
  desc = get_desc ();
  g_assert_cmpint (desc->kind, ==, NOTARY_PLUGIN_KIND_STORAGE);
  g_assert_cmpstr (desc->name, ==, "mysql");
  return desc->vtable;
}

static void
db_control (const char *what)
{
  const char *script = g_getenv ("NOTARY_TEST_MARIADB_SH");
  const char *dir = g_getenv ("NOTARY_TEST_MARIADB_DIR");
  const char *argv[] = { "bash", script, what, dir, NULL };
  g_autoptr (GError) error = NULL;
  int status = -1;

  g_assert_nonnull (script);
  g_assert_nonnull (dir);
  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static GBytes *
make_data (const char *role, gint64 version)
{
  char *s = g_strdup_printf ("{\"role\":\"%s\",\"version\":%" G_GINT64_FORMAT "}", role, version);
  return g_bytes_new_take (s, strlen (s));
}

static gboolean
put (Fixture *f, const char *role, gint64 version, GError **error)
{
  g_autoptr (GBytes) data = make_data (role, version);
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
  NotaryStorageUpdate u = { role, version, data, sha };
  return f->vt->update_many (f->s, f->gun, &u, 1, error);
}

static void
assert_latest (Fixture *f, const char *role, gint64 version)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) want = make_data (role, version);
  NotaryStoredFile *file = f->vt->get_latest (f->s, f->gun, role, &error);
  g_assert_no_error (error);
  g_assert_nonnull (file);
  g_assert_cmpint (file->version, ==, version);
  g_assert_true (g_bytes_equal (file->data, want));
  notary_stored_file_free (file);
}

static void
assert_unavailable (GError *error, gint64 t0)
{
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_UNAVAILABLE);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, FAIL_FAST_US);
}

static JsonObject *
options (void)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "backend", "mysql");
  json_object_set_string_member (o, "db_url", g_getenv ("NOTARY_TEST_STORAGE_DB_URL"));
  json_object_set_int_member (o, "max_connections", 3);
  return o;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) o = options ();
  g_autoptr (GError) error = NULL;

  f->vt = data;
  f->host.version = NOTARY_VERSION_HOST;
  f->host.log = test_log;
  f->host.config_dir = "/nonexistent";
  f->host.program = "notary-server";
  f->s = f->vt->open (&f->host, o, &error);
  g_assert_no_error (error);
  f->gun = g_strdup_printf ("example.com/fault/%08x", g_random_int ());
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  f->vt->close (f->s);
  g_free (f->gun);
}

/* Puts several connections into the pool so that a restart leaves more
 * than one dead connection behind. */
static gpointer
reader (gpointer data)
{
  Fixture *f = data;
  for (guint i = 0; i < 20; i++)
    assert_latest (f, "root", 1);
  return NULL;
}

static void
warm_pool (Fixture *f)
{
  GThread *t[3];
  for (guint i = 0; i < 3; i++)
    t[i] = g_thread_new ("reader", reader, f);
  for (guint i = 0; i < 3; i++)
    g_thread_join (t[i]);
}

static void
test_outage (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file;
  GPtrArray *feed;
  gint64 t0;

  g_assert_true (put (f, "root", 1, &error));
  g_assert_no_error (error);
  warm_pool (f);

  db_control ("stop");

  /* Every operation fails fast with UNAVAILABLE, repeatedly. */
  for (guint round = 0; round < 2; round++)
    {
      t0 = g_get_monotonic_time ();
      file = f->vt->get_latest (f->s, f->gun, "root", &error);
      g_assert_null (file);
      assert_unavailable (error, t0);
      g_clear_error (&error);

      t0 = g_get_monotonic_time ();
      g_assert_false (put (f, "root", 2, &error));
      assert_unavailable (error, t0);
      g_clear_error (&error);

      t0 = g_get_monotonic_time ();
      feed = f->vt->get_changes (f->s, NULL, 0, 10, FALSE, &error);
      g_assert_null (feed);
      assert_unavailable (error, t0);
      g_clear_error (&error);

      t0 = g_get_monotonic_time ();
      g_assert_false (f->vt->delete_gun (f->s, f->gun, &error));
      assert_unavailable (error, t0);
      g_clear_error (&error);

      t0 = g_get_monotonic_time ();
      g_assert_false (f->vt->check_health (f->s, &error));
      assert_unavailable (error, t0);
      g_clear_error (&error);
    }

  /* A new instance cannot open while the database is down. */
  {
    g_autoptr (JsonObject) o = options ();
    t0 = g_get_monotonic_time ();
    g_assert_null (f->vt->open (&f->host, o, &error));
    assert_unavailable (error, t0);
    g_clear_error (&error);
  }

  db_control ("resume");

  /* The same instance works again without reopening. */
  g_assert_true (f->vt->check_health (f->s, &error));
  g_assert_no_error (error);
  assert_latest (f, "root", 1);
  g_assert_true (put (f, "root", 2, &error));
  g_assert_no_error (error);
  assert_latest (f, "root", 2);
}

static void
test_restart_between_calls (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (put (f, "root", 1, &error));
  g_assert_no_error (error);
  warm_pool (f);

  /* The server restarts while the pool holds idle connections: the first
   * calls afterwards find them dead and must transparently re-dial. */
  db_control ("stop");
  db_control ("resume");
  assert_latest (f, "root", 1);
  warm_pool (f);

  db_control ("stop");
  db_control ("resume");
  g_assert_true (put (f, "root", 2, &error));
  g_assert_no_error (error);
  assert_latest (f, "root", 2);
}

int
main (int argc, char **argv)
{
  const NotaryStorageVTable *vt;

  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("NOTARY_TEST_STORAGE_DB_URL") == NULL)
    {
      g_test_message ("NOTARY_TEST_STORAGE_DB_URL is not set: run through run-with-mariadb.sh");
      return 1;
    }
  vt = load_vtable ();
  g_test_add ("/storage/mysql/outage", Fixture, vt, fixture_setup, test_outage, fixture_teardown);
  g_test_add ("/storage/mysql/restart-between-calls", Fixture, vt, fixture_setup, test_restart_between_calls,
              fixture_teardown);
  return g_test_run ();
}
