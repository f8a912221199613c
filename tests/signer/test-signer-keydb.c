/* test-signer-keydb.c — the mysql key store against a private MariaDB
 * (run-with-signer-db.sh) whose signer user has only SELECT, INSERT and
 * DELETE, as data/signer-mysql-user.sql grants:
 *
 *  - rows have the reference's columns and values (signer-storage.md §2-4);
 *  - the key lifecycle: a pending key is reused until it signs, then
 *    CreateKey rotates (which the reference cannot do under this grant);
 *  - rows the reference wrote (tests/data/signer/) are read and signed
 *    with, and marked used;
 *  - aliases/passphrases, delete, tampered rows, the health check and the
 *    -debug HTTP endpoints;
 *  - both daemons on one database: keys made by the reference signer are
 *    used by ours and the reverse (skipped without /usr/bin/notary-signer).
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <mysql.h>
#include <string.h>

#include "notary-build-config.h"
#include "notary-signer-debug.h"
#include "notary-signer-jwe.h"
#include "notary-signer-keycache.h"
#include "notary-signer-keyformat.h"
#include "notary-signer-keystore.h"
#include "notary-signer-service.h"
#include "signer-test-util.h"
#include "signer.pb-c.h"

#define PASS "testpassword"
#define HEADER_B64_PREFIX "eyJhbGciOiJQQkVTMi1IUzI1NitBMTI4S1ciLCJlbmMiOiJBMjU2R0NNIiwicDJjIjo4MTkyLCJwMnMiOi"

typedef struct
{
  MYSQL *admin; /* root over the socket */
  const char *db_url;
  char **envp;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  const char *sock = g_getenv ("NOTARY_TEST_MARIADB_SOCKET");
  f->db_url = g_getenv ("NOTARY_TEST_SIGNER_DB_URL");
  if (f->db_url == NULL || sock == NULL)
    {
      g_test_skip ("NOTARY_TEST_SIGNER_DB_URL is not set: run through run-with-signer-db.sh");
      return;
    }
  f->admin = mysql_init (NULL);
  g_assert_nonnull (mysql_real_connect (f->admin, NULL, "root", NULL, "notarysigner", 0, sock, 0));
  g_assert_cmpint (mysql_query (f->admin, "SET time_zone = '+00:00'"), ==, 0);
  /* Each test starts from an empty table. */
  g_assert_cmpint (mysql_query (f->admin, "DELETE FROM private_keys"), ==, 0);
  f->envp = g_strdupv ((char *[]){ "NOTARY_SIGNER_TIMESTAMP_1=" PASS, NULL });
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->admin != NULL)
    mysql_close (f->admin);
  g_strfreev (f->envp);
}

static void admin_exec (Fixture *f, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static void
admin_exec (Fixture *f, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *sql = NULL;
  va_start (ap, fmt);
  sql = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (mysql_query (f->admin, sql) != 0)
    g_error ("%s: %s", sql, mysql_error (f->admin));
}

/* First column of the first row (NULL for SQL NULL or no row). */
static char *admin_value (Fixture *f, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static char *
admin_value (Fixture *f, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *sql = NULL;
  MYSQL_RES *res;
  MYSQL_ROW row;
  char *out = NULL;

  va_start (ap, fmt);
  sql = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (mysql_query (f->admin, sql) != 0)
    g_error ("%s: %s", sql, mysql_error (f->admin));
  res = mysql_store_result (f->admin);
  row = res != NULL ? mysql_fetch_row (res) : NULL;
  if (row != NULL && row[0] != NULL)
    out = g_strdup (row[0]);
  if (res != NULL)
    mysql_free_result (res);
  return out;
}

static NotarySignerKeyStore *
open_store (Fixture *f, const char *alias, char **envp)
{
  g_autoptr (GError) error = NULL;
  NotarySignerKeyStore *s = notary_signer_mysql_store_new (f->db_url, alias, NOTARY_SIGNER_KEY_CACHE_DEFAULT,
                                                           envp != NULL ? envp : f->envp, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

static char *
create (NotarySignerKeyStore *s, const char *gun, const char *role, const char *alg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) k = s->klass->create_key (s, gun, role, alg, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_keytype (k), ==, alg);
  return g_strdup (notary_key_get_id (k));
}

/* Sign through the RPC layer (which marks the key used) and verify the
 * signature with @pub. */
static void
sign_rpc (NotarySignerKeyStore *s, const char *key_id, NotaryKey *pub)
{
  g_autoptr (NotarySignerService) service = notary_signer_service_new (s);
  Proto__SignatureRequest req = PROTO__SIGNATURE_REQUEST__INIT;
  Proto__KeyID id = PROTO__KEY_ID__INIT;
  g_autoptr (GBytes) wire = NULL;
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GBytes) msg = g_bytes_new_static ("{\"signed\":1}", 12);
  g_autoptr (GBytes) sig = NULL;
  g_autoptr (GError) error = NULL;
  Proto__Signature *reply;

  id.id = (char *)key_id;
  req.keyid = &id;
  req.content.data = (guint8 *)g_bytes_get_data (msg, &req.content.len);
  wire = notary_grpc_pack (&req.base);
  out = notary_signer_service_handle ("/proto.Signer/Sign", wire, service, &error);
  g_assert_no_error (error);
  reply = (Proto__Signature *)notary_grpc_unpack (&proto__signature__descriptor, out, &error);
  g_assert_no_error (error);
  sig = g_bytes_new (reply->content.data, reply->content.len);
  g_assert_true (notary_key_verify (pub, reply->algorithm->algorithm, msg, sig, &error));
  g_assert_no_error (error);
  protobuf_c_message_free_unpacked (&reply->base, NULL);
}

static NotaryKey *
row_public (Fixture *f, const char *key_id)
{
  g_autofree char *alg = admin_value (f, "SELECT algorithm FROM private_keys WHERE key_id = '%s'", key_id);
  g_autofree char *hex = admin_value (f, "SELECT HEX(public) FROM private_keys WHERE key_id = '%s'", key_id);
  g_autoptr (GError) error = NULL;
  gsize n = strlen (hex) / 2;
  guint8 *buf = g_malloc (n);
  g_autoptr (GBytes) b = NULL;
  NotaryKey *k;

  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8)((g_ascii_xdigit_value (hex[2 * i]) << 4) | g_ascii_xdigit_value (hex[2 * i + 1]));
  b = g_bytes_new_take (buf, n);
  k = notary_key_new (alg, b, &error);
  g_assert_no_error (error);
  return k;
}

/* ---- the bounded key cache ------------------------------------------------ */

static NotarySignerKeyStore *
open_store_cached (Fixture *f, guint cache_size)
{
  g_autoptr (GError) error = NULL;
  NotarySignerKeyStore *s
      = notary_signer_mysql_store_new (f->db_url, "timestamp_1", cache_size, f->envp, &error);
  g_assert_no_error (error);
  return s;
}

/* With room for one key, a second evicts the first: the first is read and
 * decrypted from its row again (so deleting the row behind the store's
 * back makes it unknown), while the cached one is answered from memory. */
static void
test_cache_eviction (Fixture *f, gconstpointer data)
{
  g_autoptr (NotarySignerKeyStore) s = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *used = NULL;

  if (f->admin == NULL)
    return;
  s = open_store_cached (f, 1);
  a = create (s, "docker.io/library/a", "timestamp", "ecdsa");
  b = create (s, "docker.io/library/b", "timestamp", "ecdsa");

  /* "a" was evicted by "b": it signs after a fresh read of its row, and
   * that marks the row used. */
  {
    g_autoptr (NotaryKey) pub = row_public (f, a);
    sign_rpc (s, a, pub);
  }
  used = admin_value (f, "SELECT last_used IS NOT NULL FROM private_keys WHERE key_id = '%s'", a);
  g_assert_cmpstr (used, ==, "1");

  /* Now "a" is the cached one and "b" is not. */
  admin_exec (f, "DELETE FROM private_keys WHERE key_id IN ('%s', '%s')", a, b);
  {
    g_autoptr (NotaryPrivateKey) k = s->klass->get_key (s, a, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (k);
  }
  {
    g_autoptr (NotaryPrivateKey) k = s->klass->get_key (s, b, NULL, &error);
    g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND);
    g_assert_null (k);
    g_clear_error (&error);
  }

  /* Capacity 0 caches nothing: every get reads the row. */
  {
    g_autoptr (NotarySignerKeyStore) none = open_store_cached (f, 0);
    g_autofree char *c = create (none, "docker.io/library/c", "timestamp", "ed25519");
    g_autoptr (NotaryKey) pub = row_public (f, c);
    g_autoptr (NotaryPrivateKey) k = NULL;
    sign_rpc (none, c, pub);
    admin_exec (f, "DELETE FROM private_keys WHERE key_id = '%s'", c);
    k = none->klass->get_key (none, c, NULL, &error);
    g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND);
    g_assert_null (k);
  }
}

/* ---- rows as the reference writes them ---------------------------------- */

static void
test_create_row (Fixture *f, gconstpointer data)
{
  const char *algs[] = { "ecdsa", "ed25519" };
  g_autoptr (NotarySignerKeyStore) s = NULL;

  if (f->admin == NULL)
    return;
  s = open_store (f, "timestamp_1", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (algs); i++)
    {
      g_autofree char *id = create (s, "docker.io/library/x", "timestamp", algs[i]);
      g_autofree char *row = admin_value (
          f,
          "SELECT CONCAT_WS('|', encryption_alg, keywrap_alg, algorithm, passphrase_alias, LENGTH(public), "
          "gun, "
          "role, created_at IS NOT NULL, updated_at IS NOT NULL, deleted_at IS NULL, last_used IS NULL) "
          "FROM private_keys WHERE key_id = '%s'",
          id);
      g_autofree char *expect
          = g_strdup_printf ("A256GCM|PBES2-HS256+A128KW|%s|timestamp_1|%d|docker.io/library/x|"
                             "timestamp|1|1|1|1",
                             algs[i], i == 0 ? 91 : 32);
      g_autofree char *jwe = admin_value (f, "SELECT private FROM private_keys WHERE key_id = '%s'", id);
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) raw = NULL;
      g_autoptr (NotaryPrivateKey) key = NULL;
      g_autoptr (NotaryKey) pub = row_public (f, id);

      g_assert_cmpstr (row, ==, expect);
      g_assert_true (g_str_has_prefix (jwe, HEADER_B64_PREFIX));
      /* Decrypts with nothing but the passphrase and the recipe. */
      raw = notary_jwe_decrypt (jwe, PASS, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (raw), ==, i == 0 ? 121 : 96);
      key = notary_signer_key_from_raw (algs[i], raw, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (notary_key_get_id (notary_private_key_get_public (key)), ==, id);
      g_assert_cmpstr (notary_key_get_id (pub), ==, id);
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

static void
test_pending_and_rotation (Fixture *f, gconstpointer data)
{
  g_autoptr (NotarySignerKeyStore) s = NULL;
  g_autoptr (NotarySignerKeyStore) fresh = NULL;
  g_autofree char *k1 = NULL, *again = NULL, *k2 = NULL, *other_alg = NULL, *other_role = NULL;
  g_autofree char *created = NULL, *created_after = NULL, *count = NULL, *last_used = NULL;
  g_autoptr (NotaryKey) pub1 = NULL;
  g_autoptr (NotaryPrivateKey) priv = NULL;
  g_autoptr (GError) error = NULL;

  if (f->admin == NULL)
    return;
  s = open_store (f, "timestamp_1", NULL);
  k1 = create (s, "gun/rot", "timestamp", "ecdsa");
  again = create (s, "gun/rot", "timestamp", "ecdsa");
  g_assert_cmpstr (again, ==, k1); /* pending: reused */
  other_alg = create (s, "gun/rot", "timestamp", "ed25519");
  other_role = create (s, "gun/rot", "snapshot", "ecdsa");
  g_assert_cmpstr (other_alg, !=, k1);
  g_assert_cmpstr (other_role, !=, k1);

  /* GetKeyInfo does not activate a key. */
  priv = s->klass->get_key (s, k1, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&again, g_free);
  again = create (s, "gun/rot", "timestamp", "ecdsa");
  g_assert_cmpstr (again, ==, k1);

  /* The first signature activates it, under SELECT/INSERT/DELETE only. */
  created = admin_value (f, "SELECT created_at FROM private_keys WHERE key_id = '%s'", k1);
  admin_exec (f, "DO SLEEP(1.1)"); /* so updated_at/last_used differ from created_at */
  pub1 = row_public (f, k1);
  sign_rpc (s, k1, pub1);
  last_used = admin_value (f, "SELECT last_used FROM private_keys WHERE key_id = '%s'", k1);
  g_assert_nonnull (last_used);
  created_after = admin_value (f, "SELECT created_at FROM private_keys WHERE key_id = '%s'", k1);
  g_assert_cmpstr (created_after, ==, created);
  g_assert_cmpstr (created, <, last_used);

  /* key rotate -r: a new key now. */
  k2 = create (s, "gun/rot", "timestamp", "ecdsa");
  g_assert_cmpstr (k2, !=, k1);
  count = admin_value (f, "SELECT COUNT(*) FROM private_keys WHERE gun = 'gun/rot'");
  g_assert_cmpstr (count, ==, "4");

  /* The old key still signs, also from a process that never cached it,
   * and signing it again leaves the row alone. */
  fresh = open_store (f, "timestamp_1", NULL);
  sign_rpc (fresh, k1, pub1);
  g_clear_pointer (&created_after, g_free);
  created_after = admin_value (f, "SELECT last_used FROM private_keys WHERE key_id = '%s'", k1);
  g_assert_cmpstr (created_after, ==, last_used);
  /* And another process agrees the new key is the pending one. */
  g_clear_pointer (&again, g_free);
  again = create (fresh, "gun/rot", "timestamp", "ecdsa");
  g_assert_cmpstr (again, ==, k2);
}

/* Several threads signing with one pending key: exactly one row remains,
 * marked used. */
typedef struct
{
  NotarySignerKeyStore *store;
  const char *key_id;
  NotaryKey *pub;
} SignJob;

static gpointer
sign_thread (gpointer data)
{
  SignJob *job = data;
  sign_rpc (job->store, job->key_id, job->pub);
  return NULL;
}

static void
test_concurrent_activation (Fixture *f, gconstpointer data)
{
  g_autoptr (NotarySignerKeyStore) a = NULL;
  g_autoptr (NotarySignerKeyStore) b = NULL;
  g_autofree char *id = NULL, *rows = NULL;
  g_autoptr (NotaryKey) pub = NULL;
  GThread *threads[6];
  SignJob jobs[6];

  if (f->admin == NULL)
    return;
  a = open_store (f, "timestamp_1", NULL);
  b = open_store (f, "timestamp_1", NULL);
  id = create (a, "gun/race", "snapshot", "ed25519");
  pub = row_public (f, id);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      jobs[i] = (SignJob){ i % 2 ? a : b, id, pub };
      threads[i] = g_thread_new ("signer", sign_thread, &jobs[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  rows = admin_value (f, "SELECT CONCAT(COUNT(*), '/', SUM(last_used IS NOT NULL)) FROM private_keys");
  g_assert_cmpstr (rows, ==, "1/1");
}

/* ---- the reference's rows ----------------------------------------------- */

static JsonObject *
load_reference (void)
{
  g_autofree char *path
      = g_build_filename (NOTARY_SOURCE_ROOT, "tests", "data", "signer", "reference-private-keys.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
insert_reference_row (Fixture *f, JsonObject *row)
{
  admin_exec (
      f,
      "INSERT INTO private_keys (created_at, updated_at, key_id, encryption_alg, keywrap_alg, algorithm, "
      "passphrase_alias, public, private, gun, role) VALUES ('2026-11-23 15:46:26', '2026-11-23 15:46:26', "
      "'%s', '%s', '%s', '%s', '%s', FROM_BASE64('%s'), '%s', '%s', '%s')",
      json_object_get_string_member (row, "key_id"), json_object_get_string_member (row, "encryption_alg"),
      json_object_get_string_member (row, "keywrap_alg"), json_object_get_string_member (row, "algorithm"),
      json_object_get_string_member (row, "passphrase_alias"), json_object_get_string_member (row, "public"),
      json_object_get_string_member (row, "private"), json_object_get_string_member (row, "gun"),
      json_object_get_string_member (row, "role"));
}

static void
test_reference_rows (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) ref = NULL;
  g_autoptr (NotarySignerKeyStore) s = NULL;
  JsonArray *rows;

  if (f->admin == NULL)
    return;
  ref = load_reference ();
  rows = json_object_get_array_member (ref, "rows");
  for (guint i = 0; i < json_array_get_length (rows); i++)
    insert_reference_row (f, json_array_get_object_element (rows, i));

  s = open_store (f, "timestamp_1", NULL);
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      const char *id = json_object_get_string_member (row, "key_id");
      g_autofree char *pending = NULL, *after = NULL, *last_used = NULL;
      g_autoptr (NotaryKey) pub = row_public (f, id);
      g_autoptr (NotaryPrivateKey) key = NULL;
      g_autofree char *role = NULL;
      g_autoptr (GError) error = NULL;

      /* A reference row that never signed is the pending key. */
      pending = create (s, json_object_get_string_member (row, "gun"),
                        json_object_get_string_member (row, "role"),
                        json_object_get_string_member (row, "algorithm"));
      g_assert_cmpstr (pending, ==, id);
      key = s->klass->get_key (s, id, &role, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (role, ==, json_object_get_string_member (row, "role"));

      sign_rpc (s, id, pub);
      last_used = admin_value (f, "SELECT last_used FROM private_keys WHERE key_id = '%s'", id);
      g_assert_nonnull (last_used);
      /* The reference's row, values intact apart from the marks. */
      after = admin_value (f, "SELECT CONCAT(created_at, '|', private) FROM private_keys WHERE key_id = '%s'",
                           id);
      g_assert_true (g_str_has_prefix (after, "2026-11-23 15:46:26|"));
      g_assert_cmpstr (strchr (after, '|') + 1, ==, json_object_get_string_member (row, "private"));

      g_clear_pointer (&pending, g_free);
      pending = create (s, json_object_get_string_member (row, "gun"),
                        json_object_get_string_member (row, "role"),
                        json_object_get_string_member (row, "algorithm"));
      g_assert_cmpstr (pending, !=, id);
    }
}

/* ---- aliases and passphrases ---------------------------------------------- */

static void
test_aliases (Fixture *f, gconstpointer data)
{
  char *env_old[] = { "NOTARY_SIGNER_OLD_1=first secret", NULL };
  char *env_both[]
      = { "NOTARY_SIGNER_OLD_1=first secret", "NOTARY_SIGNER_NEW.2=x", "NOTARY_SIGNER_NEW_2=second", NULL };
  char *env_new[] = { "NOTARY_SIGNER_NEW_2=second", NULL };
  char *env_wrong[] = { "NOTARY_SIGNER_OLD_1=not it", NULL };
  g_autoptr (NotarySignerKeyStore) a = NULL, b = NULL, c = NULL, d = NULL;
  g_autofree char *old_id = NULL, *new_id = NULL, *alias = NULL, *pending = NULL;
  g_autoptr (NotaryPrivateKey) k = NULL;
  g_autoptr (GError) error = NULL;

  if (f->admin == NULL)
    return;
  a = open_store (f, "old_1", env_old);
  old_id = create (a, "gun/alias", "timestamp", "ecdsa");
  alias = admin_value (f, "SELECT passphrase_alias FROM private_keys WHERE key_id = '%s'", old_id);
  g_assert_cmpstr (alias, ==, "old_1");

  /* After a passphrase rotation both aliases resolve; new rows get the new one. */
  b = open_store (f, "new.2", env_both);
  k = b->klass->get_key (b, old_id, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&k, notary_private_key_unref);
  new_id = create (b, "gun/alias", "snapshot", "ed25519");
  g_clear_pointer (&alias, g_free);
  alias = admin_value (f, "SELECT passphrase_alias FROM private_keys WHERE key_id = '%s'", new_id);
  g_assert_cmpstr (alias, ==, "new.2");

  /* Old alias gone from the environment: its keys are unreadable, with
   * the reference's message; a pending key is still handed out. */
  c = open_store (f, "new.2", env_new);
  g_assert_null (c->klass->get_key (c, old_id, NULL, &error));
  g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_PASSPHRASE);
  g_assert_cmpstr (error->message, ==, "expected env variable to not be empty: old_1");
  g_clear_error (&error);
  pending = create (c, "gun/alias", "timestamp", "ecdsa");
  g_assert_cmpstr (pending, ==, old_id);

  /* A wrong passphrase fails cleanly. */
  d = open_store (f, "old_1", env_wrong);
  g_assert_null (d->klass->get_key (d, old_id, NULL, &error));
  g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED);
  g_clear_error (&error);
  /* Without the default alias's passphrase no new key can be made. */
  {
    g_autoptr (NotarySignerKeyStore) e = open_store (f, "nope", env_new);
    g_assert_null (e->klass->create_key (e, "gun/other", "timestamp", "ecdsa", &error));
    g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_PASSPHRASE);
    g_assert_cmpstr (error->message, ==, "expected env variable to not be empty: nope");
  }
}

static void
test_passphrase_variable (void)
{
  g_autofree char *a = notary_signer_passphrase_variable ("timestamp_1");
  g_autofree char *b = notary_signer_passphrase_variable ("Mixed.Case-x");
  g_assert_cmpstr (a, ==, "NOTARY_SIGNER_TIMESTAMP_1");
  g_assert_cmpstr (b, ==, "NOTARY_SIGNER_MIXED_CASE-X");
}

/* ---- delete, soft delete, tampering ---------------------------------------- */

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autoptr (NotarySignerKeyStore) s = NULL;
  g_autoptr (NotarySignerKeyStore) other = NULL;
  g_autofree char *id = NULL, *id2 = NULL, *count = NULL, *next = NULL;
  g_autoptr (GError) error = NULL;

  if (f->admin == NULL)
    return;
  s = open_store (f, "timestamp_1", NULL);
  id = create (s, "gun/del", "timestamp", "ecdsa");
  g_assert_true (s->klass->delete_key (s, id, &error));
  g_assert_no_error (error);
  count = admin_value (f, "SELECT COUNT(*) FROM private_keys");
  g_assert_cmpstr (count, ==, "0");
  g_assert_null (s->klass->get_key (s, id, NULL, &error));
  g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Unknown IDs are fine. */
  g_assert_true (s->klass->delete_key (s, "00", &error));
  g_assert_no_error (error);

  /* A row the reference soft-deleted is invisible (to a process that has
   * not cached it). */
  id2 = create (s, "gun/del", "timestamp", "ecdsa");
  admin_exec (f, "UPDATE private_keys SET deleted_at = NOW() WHERE key_id = '%s'", id2);
  other = open_store (f, "timestamp_1", NULL);
  g_assert_null (other->klass->get_key (other, id2, NULL, &error));
  g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  next = create (other, "gun/del", "timestamp", "ecdsa");
  g_assert_cmpstr (next, !=, id2);
}

static void
test_tampered_rows (Fixture *f, gconstpointer data)
{
  g_autoptr (NotarySignerKeyStore) s = NULL;
  g_autoptr (NotarySignerKeyStore) reader = NULL;
  g_autofree char *a = NULL, *b = NULL;
  g_autoptr (GError) error = NULL;

  if (f->admin == NULL)
    return;
  s = open_store (f, "timestamp_1", NULL);
  a = create (s, "gun/t", "timestamp", "ecdsa");
  b = create (s, "gun/t", "snapshot", "ecdsa");
  /* Row a gets b's encrypted key: a valid token for the wrong key. */
  admin_exec (f,
              "UPDATE private_keys p JOIN private_keys q ON q.key_id = '%s' SET p.private = q.private "
              "WHERE p.key_id = '%s'",
              b, a);
  reader = open_store (f, "timestamp_1", NULL);
  g_assert_null (reader->klass->get_key (reader, a, NULL, &error));
  g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED);
  g_clear_error (&error);
  /* An algorithm that does not match the bytes. */
  admin_exec (f, "UPDATE private_keys SET algorithm = 'ed25519' WHERE key_id = '%s'", b);
  g_assert_null (reader->klass->get_key (reader, b, NULL, &error));
  g_assert_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED);
}

/* ---- health and the debug server ---------------------------------------- */

typedef struct
{
  guint status;
  char *body;
} HttpReply;

static void
http_get (guint16 port, const char *method, const char *path, HttpReply *out)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  out->status = soup_message_get_status (msg);
  out->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* The debug server runs on its own thread and main context, as it
 * would on the daemon's main loop, so this thread can be its client. */
typedef struct
{
  NotarySignerKeyStore *store;
  GMainContext *ctx;
  GMainLoop *loop;
  guint16 port;
  GMutex lock;
  GCond cond;
  gboolean ready;
} DebugThread;

static gpointer
debug_thread (gpointer data)
{
  DebugThread *t = data;
  char *argv[] = { "notary-signer", "-debug", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (NotarySignerDebug) debug = NULL;

  g_main_context_push_thread_default (t->ctx);
  debug = notary_signer_debug_new (argv);
  g_assert_true (notary_signer_debug_listen (debug, 0, &error));
  g_assert_no_error (error);
  notary_signer_debug_watch_store (debug, t->store, 100);
  g_mutex_lock (&t->lock);
  t->port = notary_signer_debug_get_port (debug);
  t->ready = TRUE;
  g_cond_signal (&t->cond);
  g_mutex_unlock (&t->lock);
  g_main_loop_run (t->loop);
  g_clear_pointer (&debug, notary_signer_debug_free);
  g_main_context_pop_thread_default (t->ctx);
  return NULL;
}

/* GET until @status comes back (the check is periodic). */
static void
http_wait (guint16 port, guint status, HttpReply *r)
{
  for (int i = 0; i < 100; i++)
    {
      http_get (port, "GET", "/debug/health", r);
      if (r->status == status)
        return;
      g_clear_pointer (&r->body, g_free);
      g_usleep (50 * 1000);
    }
}

static void
test_health_and_debug (Fixture *f, gconstpointer data)
{
  g_autoptr (NotarySignerKeyStore) s = NULL;
  g_autoptr (GError) error = NULL;
  DebugThread t = { 0 };
  GThread *thread;
  HttpReply r = { 0 };

  if (f->admin == NULL)
    return;
  s = open_store (f, "timestamp_1", NULL);
  g_assert_true (s->klass->check_health (s, &error));
  g_assert_no_error (error);

  t.store = s;
  t.ctx = g_main_context_new ();
  t.loop = g_main_loop_new (t.ctx, FALSE);
  g_mutex_init (&t.lock);
  g_cond_init (&t.cond);
  thread = g_thread_new ("debug", debug_thread, &t);
  g_mutex_lock (&t.lock);
  while (!t.ready)
    g_cond_wait (&t.cond, &t.lock);
  g_mutex_unlock (&t.lock);
  g_assert_cmpuint (t.port, !=, 0);

  /* Before the first check: {} */
  http_get (t.port, "GET", "/debug/health", &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (r.body, ==, "{}");
  g_clear_pointer (&r.body, g_free);

  admin_exec (f, "RENAME TABLE private_keys TO private_keys_away");
  g_assert_false (s->klass->check_health (s, &error));
  g_assert_cmpstr (error->message, ==, "cannot access table: private_keys");
  g_clear_error (&error);
  http_wait (t.port, 503, &r);
  admin_exec (f, "RENAME TABLE private_keys_away TO private_keys");
  g_assert_cmpuint (r.status, ==, 503);
  g_assert_cmpstr (r.body, ==, "{\"DB operational\":\"cannot access table: private_keys\"}");
  g_clear_pointer (&r.body, g_free);

  http_wait (t.port, 200, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (r.body, ==, "{}");
  g_clear_pointer (&r.body, g_free);

  http_get (t.port, "GET", "/debug/vars", &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_str_has_prefix (r.body, "{\"cmdline\":[\"notary-signer\",\"-debug\"],\"memstats\":{"));
  g_clear_pointer (&r.body, g_free);
  http_get (t.port, "POST", "/debug/health", &r);
  g_assert_cmpuint (r.status, ==, 404);
  g_clear_pointer (&r.body, g_free);
  http_get (t.port, "GET", "/debug/pprof/", &r);
  g_assert_cmpuint (r.status, ==, 404);
  g_assert_cmpstr (r.body, ==, "404 page not found\n");
  g_clear_pointer (&r.body, g_free);

  g_main_loop_quit (t.loop);
  g_thread_join (thread);
  g_main_loop_unref (t.loop);
  g_main_context_unref (t.ctx);
  g_mutex_clear (&t.lock);
  g_cond_clear (&t.cond);
}

/* ---- both daemons on one database ----------------------------------------- */

static char *
write_mysql_config (SignerTestPki *pki, const char *name, guint16 port, const char *db_url)
{
  g_autofree char *text = g_strdup_printf (
      "{\"server\":{\"grpc_addr\":\"127.0.0.1:%u\",\"tls_cert_file\":\"%s\",\"tls_key_file\":\"%s\"},"
      "\"logging\":{\"level\":\"info\"},"
      "\"storage\":{\"backend\":\"mysql\",\"db_url\":\"%s\",\"default_alias\":\"timestamp_1\"}}",
      port, pki->signer_crt, pki->signer_key, db_url);
  char *path = g_build_filename (pki->dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

static NotarySigner *
open_remote (const NotarySignerVTable *vt, SignerTestPki *pki, guint16 port, const char *alg)
{
  g_autoptr (JsonObject) opts = signer_test_remote_options (pki, port, alg);
  g_autoptr (GError) error = NULL;
  NotarySigner *s = vt->open (NULL, opts, &error);
  g_assert_no_error (error);
  return s;
}

static NotaryKey *
to_key (NotaryPublicKey *p)
{
  g_autoptr (GError) error = NULL;
  NotaryKey *k = notary_key_new (p->keytype, p->public_bytes, &error);
  g_assert_no_error (error);
  return k;
}

static void
remote_sign_verify (const NotarySignerVTable *vt, NotarySigner *s, NotaryKey *pub)
{
  g_autoptr (GBytes) msg = g_bytes_new_static ("cross-signed", 12);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) sig = vt->sign (s, notary_key_get_id (pub), msg, &error);
  g_assert_no_error (error);
  g_assert_true (notary_key_verify (
      pub, g_str_equal (notary_key_get_keytype (pub), "ed25519") ? "eddsa" : "ecdsa", msg, sig, &error));
  g_assert_no_error (error);
}

static void
test_cross_daemons (Fixture *f, gconstpointer data)
{
  const char *ours_bin = g_getenv ("NOTARY_SIGNER_BIN");
  const char *ref_bin = "/usr/bin/notary-signer";
  const char *algs[] = { "ecdsa", "ed25519" };
  g_autoptr (SignerTestPki) pki = NULL;
  g_autoptr (GSubprocess) ref = NULL, ours = NULL;
  g_autofree char *ref_conf = NULL, *our_conf = NULL;
  g_autoptr (GError) error = NULL;
  const NotarySignerVTable *vt;
  guint16 ref_port, our_port;

  if (f->admin == NULL)
    return;
  if (ours_bin == NULL || !g_file_test (ref_bin, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs NOTARY_SIGNER_BIN and /usr/bin/notary-signer");
      return;
    }
  /* Both daemons read the passphrase from their environment. */
  g_setenv ("NOTARY_SIGNER_TIMESTAMP_1", PASS, TRUE);
  pki = signer_test_pki_new ();
  ref_port = signer_test_free_port ();
  our_port = signer_test_free_port ();
  ref_conf = write_mysql_config (pki, "ref.json", ref_port, f->db_url);
  our_conf = write_mysql_config (pki, "ours.json", our_port, f->db_url);
  ref = signer_test_spawn (ref_bin, ref_conf, ref_port, &error);
  g_assert_no_error (error);
  ours = signer_test_spawn (ours_bin, our_conf, our_port, &error);
  g_assert_no_error (error);
  vt = signer_test_load_remote ();

  for (guint i = 0; i < G_N_ELEMENTS (algs); i++)
    {
      NotarySigner *to_ref = open_remote (vt, pki, ref_port, algs[i]);
      NotarySigner *to_ours = open_remote (vt, pki, our_port, algs[i]);
      NotaryPublicKey *p;
      g_autoptr (NotaryKey) ref_key = NULL, ref_again = NULL, our_key = NULL, rotated = NULL, held = NULL;
      g_autofree char *last_used = NULL;

      /* Reference creates → ours signs, verified with the reference's public key. */
      p = vt->create_key (to_ref, "example.com/cross", "timestamp", algs[i], &error);
      g_assert_no_error (error);
      ref_key = to_key (p);
      notary_public_key_free (p);
      p = vt->get_key (to_ours, notary_key_get_id (ref_key), &error);
      g_assert_no_error (error);
      held = to_key (p);
      notary_public_key_free (p);
      g_assert_cmpstr (notary_key_get_id (held), ==, notary_key_get_id (ref_key));
      remote_sign_verify (vt, to_ours, ref_key);
      last_used = admin_value (f, "SELECT last_used FROM private_keys WHERE key_id = '%s'",
                               notary_key_get_id (ref_key));
      g_assert_nonnull (last_used);

      /* Our mark is visible to the reference: it rotates too. */
      p = vt->create_key (to_ref, "example.com/cross", "timestamp", algs[i], &error);
      g_assert_no_error (error);
      rotated = to_key (p);
      notary_public_key_free (p);
      g_assert_cmpstr (notary_key_get_id (rotated), !=, notary_key_get_id (ref_key));

      /* Ours creates → the reference signs, verified with our public key. */
      p = vt->create_key (to_ours, "example.com/cross", "snapshot", algs[i], &error);
      g_assert_no_error (error);
      our_key = to_key (p);
      notary_public_key_free (p);
      remote_sign_verify (vt, to_ref, our_key);

      /* The reference's own activation fails under this grant: it keeps
       * handing out the key it just signed with (the defect we avoid). */
      p = vt->create_key (to_ref, "example.com/cross", "snapshot", algs[i], &error);
      g_assert_no_error (error);
      ref_again = to_key (p);
      notary_public_key_free (p);
      g_assert_cmpstr (notary_key_get_id (ref_again), ==, notary_key_get_id (our_key));
      /* Ours, signing once, does rotate it. */
      remote_sign_verify (vt, to_ours, our_key);
      p = vt->create_key (to_ours, "example.com/cross", "snapshot", algs[i], &error);
      g_assert_no_error (error);
      g_clear_pointer (&rotated, notary_key_unref);
      rotated = to_key (p);
      notary_public_key_free (p);
      g_assert_cmpstr (notary_key_get_id (rotated), !=, notary_key_get_id (our_key));

      vt->close (to_ref);
      vt->close (to_ours);
    }
  signer_test_kill (ref);
  signer_test_kill (ours);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/signer/keydb/create-row", Fixture, NULL, setup, test_create_row, teardown);
  g_test_add ("/signer/keydb/pending-and-rotation", Fixture, NULL, setup, test_pending_and_rotation,
              teardown);
  g_test_add ("/signer/keydb/concurrent-activation", Fixture, NULL, setup, test_concurrent_activation,
              teardown);
  g_test_add ("/signer/keydb/reference-rows", Fixture, NULL, setup, test_reference_rows, teardown);
  g_test_add ("/signer/keydb/aliases", Fixture, NULL, setup, test_aliases, teardown);
  g_test_add_func ("/signer/keydb/passphrase-variable", test_passphrase_variable);
  g_test_add ("/signer/keydb/delete", Fixture, NULL, setup, test_delete, teardown);
  g_test_add ("/signer/keydb/tampered-rows", Fixture, NULL, setup, test_tampered_rows, teardown);
  g_test_add ("/signer/keydb/health-and-debug", Fixture, NULL, setup, test_health_and_debug, teardown);
  g_test_add ("/signer/keydb/cross-daemons", Fixture, NULL, setup, test_cross_daemons, teardown);
  g_test_add ("/signer/keydb/cache-eviction", Fixture, NULL, setup, test_cache_eviction, teardown);
  return g_test_run ();
}
