/* test-signer-pkcs11.c — the `pkcs11` trust-service plugin against a
 * private SoftHSM2 token.
 *
 * main() creates a SoftHSM2 configuration in a temp dir (SOFTHSM2_CONF,
 * token directory inside it), initialises one token there with
 * softhsm2-util, and loads the plugin with GModule through the public
 * ABI header only.  Each test opens and closes its own signer instances,
 * so no PKCS#11 login state leaks from one test into the next.  Without
 * SoftHSM2 every test is skipped.
 */
#include <string.h>

#include <gmodule.h>
#include <glib/gstdio.h>
#include <notary/signer-backend.h>

#include "notary-keys.h"

#define TOKEN_LABEL "notary-test"
/* Not hex, so a log line carrying it cannot be a key ID by chance. */
#define USER_PIN "p1n-secret-4321"
#define SO_PIN "so-pin-5678"

typedef struct
{
  char *tmpdir;
  char *softhsm_module;
  char *slot; /* decimal slot ID the token was assigned */
  const NotarySignerVTable *vt;
  NotaryHost host;
  GMutex log_lock;
  GPtrArray *log_lines;
} Fixture;

static Fixture fx;

static void
capture_log (const NotaryHost *host, NotaryLogLevel level, const char *message)
{
  g_mutex_lock (&fx.log_lock);
  g_ptr_array_add (fx.log_lines, g_strdup (message));
  g_mutex_unlock (&fx.log_lock);
}

static JsonObject *
options_new (const char *module, const char *label, const char *pin, const char *algo)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "type", "pkcs11");
  if (module != NULL)
    json_object_set_string_member (o, "module", module);
  if (label != NULL)
    json_object_set_string_member (o, "token_label", label);
  if (pin != NULL)
    json_object_set_string_member (o, "pin", pin);
  if (algo != NULL)
    json_object_set_string_member (o, "key_algorithm", algo);
  return o;
}

static NotarySigner *
open_with (JsonObject *options, GError **error)
{
  return fx.vt->open (&fx.host, options, error);
}

static NotarySigner *
open_default (const char *algo)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, TOKEN_LABEL, USER_PIN, algo);
  NotarySigner *s = open_with (o, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

static gboolean
need_softhsm (void)
{
  if (fx.vt == NULL)
    {
      g_test_skip ("SoftHSM2 or the plugin is not available");
      return FALSE;
    }
  return TRUE;
}

/* softhsm2-util --init-token into the first free slot; @out (optional)
 * gets what it printed.  Its output is captured either way: inherited, it
 * would land in our TAP stream as lines meson cannot parse. */
static gboolean
init_token (const char *label, char **out, GError **error)
{
  g_autofree char *err = NULL;
  g_autofree char *printed = NULL;
  const char *argv[] = { "softhsm2-util", "--init-token", "--free",   "--label", label,
                         "--pin",         USER_PIN,       "--so-pin", SO_PIN,    NULL };
  int status;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &printed, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "softhsm2-util: %s: ", err);
      return FALSE;
    }
  if (out != NULL)
    *out = g_steal_pointer (&printed);
  return TRUE;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);
        remove_tree (child);
      }
  g_remove (path);
}

static const char *
method_for (const char *keytype)
{
  if (g_str_equal (keytype, "ecdsa"))
    return "ecdsa";
  if (g_str_equal (keytype, "rsa"))
    return "rsapss";
  return "eddsa";
}

/* Signs @msg with @key_id through the plugin and verifies it with
 * notary-keys (the verifier the server and clients use). */
static void
assert_signs_and_verifies (NotarySigner *s, const char *key_id, NotaryKey *key, const char *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message = g_bytes_new (msg, strlen (msg));
  g_autoptr (GBytes) other = g_bytes_new ("tampered", 8);
  g_autoptr (GBytes) sig = fx.vt->sign (s, key_id, message, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sig);
  g_assert_true (notary_key_verify (key, method_for (notary_key_get_keytype (key)), message, sig, &error));
  g_assert_no_error (error);
  /* and the signature is bound to the message */
  g_assert_false (notary_key_verify (key, method_for (notary_key_get_keytype (key)), other, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
}

/* create_key → canonical ID → get_key finds exactly that key. */
static char *
create_and_check (NotarySigner *s, const char *algo, const char *expect_type, NotaryKey **out_key)
{
  g_autoptr (GError) error = NULL;
  NotaryPublicKey *pk = fx.vt->create_key (s, "example.com/p11", "timestamp", algo, &error);
  NotaryPublicKey *again;
  g_autoptr (NotaryKey) key = NULL;
  char *id;

  g_assert_no_error (error);
  g_assert_nonnull (pk);
  g_assert_cmpstr (pk->keytype, ==, expect_type);
  if (g_str_equal (expect_type, "ed25519"))
    g_assert_cmpuint (g_bytes_get_size (pk->public_bytes), ==, 32);
  else
    /* DER SubjectPublicKeyInfo: a SEQUENCE */
    g_assert_cmpuint (((const guint8 *)g_bytes_get_data (pk->public_bytes, NULL))[0], ==, 0x30);
  key = notary_key_new (pk->keytype, pk->public_bytes, &error);
  g_assert_no_error (error);
  id = g_strdup (notary_key_get_canonical_id (key));
  g_assert_cmpuint (strlen (id), ==, 64);

  again = fx.vt->get_key (s, id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_assert_cmpstr (again->keytype, ==, pk->keytype);
  g_assert_true (g_bytes_equal (again->public_bytes, pk->public_bytes));
  notary_public_key_free (again);
  notary_public_key_free (pk);
  *out_key = g_steal_pointer (&key);
  return id;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_open_defaults (void)
{
  g_autoptr (GError) error = NULL;
  NotarySigner *s;

  if (!need_softhsm ())
    return;
  s = open_default (NULL);
  g_assert_cmpstr (fx.vt->default_algorithm (s), ==, "ecdsa");
  g_assert_true (fx.vt->check_health (s, &error));
  g_assert_no_error (error);
  fx.vt->close (s);

  s = open_default ("ed25519");
  g_assert_cmpstr (fx.vt->default_algorithm (s), ==, "ed25519");
  fx.vt->close (s);
}

static void
check_algorithm (const char *algo)
{
  NotarySigner *s;
  g_autoptr (NotaryKey) key = NULL;
  g_autofree char *id = NULL;

  if (!need_softhsm ())
    return;
  s = open_default (NULL);
  id = create_and_check (s, algo, algo, &key);
  assert_signs_and_verifies (s, id, key, "{\"signed\":{\"_type\":\"Timestamp\"}}");
  /* signing twice works (sessions return to the pool clean) */
  assert_signs_and_verifies (s, id, key, "second message");
  fx.vt->close (s);
}

static void
test_ecdsa (void)
{
  check_algorithm ("ecdsa");
}

static void
test_rsa (void)
{
  check_algorithm ("rsa");
}

static void
test_ed25519 (void)
{
  check_algorithm ("ed25519");
}

static void
test_default_algorithm_used (void)
{
  g_autoptr (GError) error = NULL;
  NotarySigner *s;
  NotaryPublicKey *pk;

  if (!need_softhsm ())
    return;
  s = open_default ("ed25519");
  pk = fx.vt->create_key (s, "example.com/p11", "snapshot", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk->keytype, ==, "ed25519");
  notary_public_key_free (pk);

  pk = fx.vt->create_key (s, "example.com/p11", "snapshot", "dsa", &error);
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNSUPPORTED);
  g_assert_null (pk);
  fx.vt->close (s);
}

static void
test_unknown_key (void)
{
  static const char *const ids[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed",
    "not-a-key-id",
    "",
  };
  g_autoptr (GBytes) msg = g_bytes_new_static ("m", 1);
  NotarySigner *s;

  if (!need_softhsm ())
    return;
  s = open_default (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr (GError) error = NULL;
      NotaryPublicKey *pk = fx.vt->get_key (s, ids[i], &error);
      GBytes *sig;

      g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND);
      g_assert_null (pk);
      g_clear_error (&error);
      sig = fx.vt->sign (s, ids[i], msg, &error);
      g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND);
      g_assert_null (sig);
    }
  fx.vt->close (s);
}

static void
test_persistence (void)
{
  static const char *const algos[] = { "ecdsa", "rsa", "ed25519" };
  NotaryKey *keys[3];
  char *ids[3];
  NotarySigner *s;

  if (!need_softhsm ())
    return;
  s = open_default (NULL);
  for (guint i = 0; i < 3; i++)
    ids[i] = create_and_check (s, algos[i], algos[i], &keys[i]);
  fx.vt->close (s);

  /* A new instance (as after a server restart) finds and uses them. */
  s = open_default (NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;
      NotaryPublicKey *pk = fx.vt->get_key (s, ids[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (pk->keytype, ==, algos[i]);
      g_assert_true (g_bytes_equal (pk->public_bytes, notary_key_get_public (keys[i])));
      notary_public_key_free (pk);
    }
  fx.vt->close (s);

  /* sign without a prior get_key (the handle cache starts empty) */
  s = open_default (NULL);
  for (guint i = 0; i < 3; i++)
    {
      assert_signs_and_verifies (s, ids[i], keys[i], "after restart");
      notary_key_unref (keys[i]);
      g_free (ids[i]);
    }
  fx.vt->close (s);
}

static void
test_bad_pin (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, TOKEN_LABEL, "wrong-pin-0000", NULL);

  if (!need_softhsm ())
    return;
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "CKR_PIN_INCORRECT"));
  g_assert_nonnull (strstr (error->message, TOKEN_LABEL));
  g_assert_null (strstr (error->message, "wrong-pin-0000"));
}

static void
test_missing_pin (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, TOKEN_LABEL, NULL, NULL);

  if (!need_softhsm ())
    return;
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "requires a PIN"));
}

static void
test_missing_token (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, "no-such-token", USER_PIN, NULL);

  if (!need_softhsm ())
    return;
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "no token 'no-such-token'"));
  g_assert_nonnull (strstr (error->message, fx.softhsm_module));
}

static void
test_bad_module (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bogus = g_build_filename (fx.tmpdir, "softhsm2.conf", NULL); /* exists, not a library */
  g_autoptr (JsonObject) o = options_new ("/nonexistent/libpkcs11.so", TOKEN_LABEL, USER_PIN, NULL);

  if (!need_softhsm ())
    return;
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "cannot load PKCS#11 module /nonexistent/libpkcs11.so"));
  g_clear_error (&error);

  json_object_set_string_member (o, "module", bogus);
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "cannot load PKCS#11 module"));
}

static void
test_bad_options (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, TOKEN_LABEL, USER_PIN, "dsa");

  if (!need_softhsm ())
    return;
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "invalid key algorithm configured: dsa"));
  g_clear_error (&error);

  json_object_remove_member (o, "key_algorithm");
  json_object_set_string_member (o, "slot", "first");
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "trust_service.slot"));
}

static void
test_slot_option (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, NULL, USER_PIN, NULL);
  NotarySigner *s;

  if (!need_softhsm ())
    return;
  if (fx.slot == NULL)
    {
      g_test_skip ("softhsm2-util did not print the slot number");
      return;
    }
  /* as a number, as the config allows */
  json_object_set_int_member (o, "slot", g_ascii_strtoll (fx.slot, NULL, 10));
  s = open_with (o, &error);
  g_assert_no_error (error);
  g_assert_true (fx.vt->check_health (s, &error));
  fx.vt->close (s);

  json_object_set_string_member (o, "slot", "4242");
  g_assert_null (open_with (o, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "slot 4242"));
}

/* No `module`: the token is found among p11-kit's registered modules (the
 * Debian softhsm2 package registers itself). */
static void
test_registered_modules (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = options_new (NULL, TOKEN_LABEL, USER_PIN, NULL);
  NotarySigner *s;

  if (!need_softhsm ())
    return;
  if (!g_file_test ("/usr/share/p11-kit/modules/softhsm2.module", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("softhsm2 is not registered with p11-kit");
      return;
    }
  s = open_with (o, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_true (fx.vt->check_health (s, &error));
  g_assert_no_error (error);
  fx.vt->close (s);
}

static GHashTable *
list_dir (const char *path)
{
  GHashTable *names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (names, g_strdup (name));
  return names;
}

/* A token that disappears under a running instance (SoftHSM: its
 * directory is deleted) makes health report UNAVAILABLE and key calls
 * fail with the CKR name, instead of crashing or hanging. */
static void
test_token_removed (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tokens = NULL;
  g_autofree char *gone_dir = NULL;
  g_autoptr (GHashTable) before = NULL;
  g_autoptr (GHashTable) after = NULL;
  g_autoptr (JsonObject) o = options_new (fx.softhsm_module, "notary-gone", USER_PIN, NULL);
  GHashTableIter iter;
  gpointer name;
  NotarySigner *s;
  NotaryPublicKey *pk;

  if (!need_softhsm ())
    return;
  tokens = g_build_filename (fx.tmpdir, "tokens", NULL);
  before = list_dir (tokens);
  g_assert_true (init_token ("notary-gone", NULL, &error));
  g_assert_no_error (error);
  after = list_dir (tokens);
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    if (!g_hash_table_contains (before, name))
      gone_dir = g_build_filename (tokens, name, NULL);
  g_assert_nonnull (gone_dir);

  s = open_with (o, &error);
  g_assert_no_error (error);
  pk = fx.vt->create_key (s, "example.com/gone", "timestamp", NULL, &error);
  g_assert_no_error (error);
  notary_public_key_free (pk);
  g_assert_true (fx.vt->check_health (s, &error));
  g_assert_no_error (error);

  remove_tree (gone_dir);
  g_assert_false (fx.vt->check_health (s, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "notary-gone"));
  g_assert_nonnull (strstr (error->message, "CKR_"));
  g_clear_error (&error);
  pk = fx.vt->create_key (s, "example.com/gone", "timestamp", NULL, &error);
  g_assert_null (pk);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "CKR_"));
  fx.vt->close (s);
}

typedef struct
{
  NotarySigner *signer;
  const char *key_id;
  NotaryKey *key;
  guint index;
  guint failures;
} Worker;

static gpointer
sign_loop (gpointer data)
{
  Worker *w = data;

  for (guint i = 0; i < 25; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("thread %u message %u", w->index, i);
      g_autoptr (GBytes) msg = g_bytes_new (text, strlen (text));
      g_autoptr (GBytes) sig = fx.vt->sign (w->signer, w->key_id, msg, &error);

      if (sig == NULL
          || !notary_key_verify (w->key, method_for (notary_key_get_keytype (w->key)), msg, sig, &error))
        {
          g_printerr ("thread %u: %s\n", w->index, error ? error->message : "?");
          w->failures++;
        }
    }
  return NULL;
}

static void
test_threads (void)
{
  NotarySigner *s;
  NotaryKey *keys[2];
  char *ids[2];
  Worker workers[8];
  GThread *threads[8];

  if (!need_softhsm ())
    return;
  s = open_default (NULL);
  ids[0] = create_and_check (s, "ecdsa", "ecdsa", &keys[0]);
  ids[1] = create_and_check (s, "ed25519", "ed25519", &keys[1]);
  for (guint i = 0; i < 8; i++)
    {
      workers[i] = (Worker){ s, ids[i % 2], keys[i % 2], i, 0 };
      threads[i] = g_thread_new ("signer", sign_loop, &workers[i]);
    }
  for (guint i = 0; i < 8; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (workers[i].failures, ==, 0);
    }
  for (guint i = 0; i < 2; i++)
    {
      notary_key_unref (keys[i]);
      g_free (ids[i]);
    }
  fx.vt->close (s);
}

/* Runs last: nothing the plugin logged (or put in an error) carries the PIN. */
static void
test_pin_never_logged (void)
{
  if (!need_softhsm ())
    return;
  g_assert_cmpuint (fx.log_lines->len, >, 0);
  for (guint i = 0; i < fx.log_lines->len; i++)
    {
      const char *line = g_ptr_array_index (fx.log_lines, i);
      g_test_message ("plugin log: %s", line);
      g_assert_null (strstr (line, USER_PIN));
    }
}

/* ---- setup -------------------------------------------------------------- */

static const char *const softhsm_candidates[] = {
  "/usr/lib/softhsm/libsofthsm2.so",
  "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
  "/usr/lib64/pkcs11/libsofthsm2.so",
  "/usr/local/lib/softhsm/libsofthsm2.so",
};

static gboolean
setup_token (GError **error)
{
  g_autofree char *conf = g_build_filename (fx.tmpdir, "softhsm2.conf", NULL);
  g_autofree char *tokens = g_build_filename (fx.tmpdir, "tokens", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *out = NULL;
  const char *p;

  if (g_mkdir (tokens, 0700) != 0)
    return FALSE;
  contents = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
                              tokens);
  if (!g_file_set_contents (conf, contents, -1, error))
    return FALSE;
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);
  if (!init_token (TOKEN_LABEL, &out, error))
    return FALSE;
  /* "The token has been initialized and is reassigned to slot 1234" */
  p = strstr (out, "slot ");
  if (p != NULL)
    fx.slot = g_strndup (p + 5, strspn (p + 5, "0123456789"));
  return TRUE;
}

static void
load_plugin (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *softhsm_util = g_find_program_in_path ("softhsm2-util");
  GModule *module;
  NotaryPluginGetDescFunc get_desc;
  const NotaryPluginDesc *desc;

  for (guint i = 0; i < G_N_ELEMENTS (softhsm_candidates); i++)
    if (g_file_test (softhsm_candidates[i], G_FILE_TEST_EXISTS))
      {
        fx.softhsm_module = g_strdup (softhsm_candidates[i]);
        break;
      }
  if (fx.softhsm_module == NULL || softhsm_util == NULL)
    {
      g_printerr ("# SoftHSM2 not installed: tests skip\n");
      return;
    }
  fx.tmpdir = g_dir_make_tmp ("notary-p11-XXXXXX", &error);
  g_assert_no_error (error);
  if (!setup_token (&error))
    g_error ("cannot create the SoftHSM2 token: %s", error ? error->message : "mkdir failed");

  module = g_module_open (PKCS11_PLUGIN_FILE, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    g_error ("cannot open %s: %s", PKCS11_PLUGIN_FILE, g_module_error ());
  g_assert_true (g_module_symbol (module, NOTARY_PLUGIN_ENTRY_SYMBOL, (gpointer *)&get_desc));
  desc = get_desc ();
  g_assert_cmpuint (desc->abi_major, ==, NOTARY_PLUGIN_ABI_MAJOR);
  g_assert_cmpstr (desc->build_signature, ==, NOTARY_PLUGIN_BUILD_SIGNATURE);
  g_assert_cmpint (desc->kind, ==, NOTARY_PLUGIN_KIND_SIGNER);
  g_assert_cmpstr (desc->name, ==, "pkcs11");
  fx.vt = desc->vtable;
  g_assert_cmpuint (fx.vt->version, >=, 1);
  g_module_make_resident (module);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_mutex_init (&fx.log_lock);
  fx.log_lines = g_ptr_array_new_with_free_func (g_free);
  fx.host = (NotaryHost){ NOTARY_VERSION_HOST, capture_log, "/", "notary-server", NULL };
  load_plugin ();

  g_test_add_func ("/pkcs11/open/defaults", test_open_defaults);
  g_test_add_func ("/pkcs11/keys/ecdsa", test_ecdsa);
  g_test_add_func ("/pkcs11/keys/rsa", test_rsa);
  g_test_add_func ("/pkcs11/keys/ed25519", test_ed25519);
  g_test_add_func ("/pkcs11/keys/default-algorithm", test_default_algorithm_used);
  g_test_add_func ("/pkcs11/keys/unknown", test_unknown_key);
  g_test_add_func ("/pkcs11/keys/persistence", test_persistence);
  g_test_add_func ("/pkcs11/open/bad-pin", test_bad_pin);
  g_test_add_func ("/pkcs11/open/missing-pin", test_missing_pin);
  g_test_add_func ("/pkcs11/open/missing-token", test_missing_token);
  g_test_add_func ("/pkcs11/open/bad-module", test_bad_module);
  g_test_add_func ("/pkcs11/open/bad-options", test_bad_options);
  g_test_add_func ("/pkcs11/open/slot", test_slot_option);
  g_test_add_func ("/pkcs11/open/registered-modules", test_registered_modules);
  g_test_add_func ("/pkcs11/health/token-removed", test_token_removed);
  g_test_add_func ("/pkcs11/threads/sign", test_threads);
  g_test_add_func ("/pkcs11/zz/pin-never-logged", test_pin_never_logged);
  rc = g_test_run ();

  if (fx.tmpdir != NULL && g_getenv ("NOTARY_KEEP_TMP") == NULL)
    remove_tree (fx.tmpdir);
  g_free (fx.tmpdir);
  g_free (fx.softhsm_module);
  g_free (fx.slot);
  g_ptr_array_unref (fx.log_lines);
  return rc;
}
