/* test-signer-remote.c — the `remote` trust-service plugin (loaded with
 * GModule through its public entry point) against a live signer: our
 * notary-signer and the reference /usr/bin/notary-signer, both with the
 * memory store and mutual TLS.  Signatures are checked with notary-keys.
 * Also: the reference notary-server (a grpc-go client) against our
 * signer.  A missing binary skips its half.
 */
#include <gio/gio.h>
#include <signal.h>

#include "notary-keys.h"
#include "signer-test-util.h"

#define REFERENCE_SIGNER "/usr/bin/notary-signer"
#define REFERENCE_SERVER "/usr/bin/notary-server"

typedef struct
{
  SignerTestPki *pki;
  const char *binary;
  char *config;
  guint16 port;
  GSubprocess *proc;
  const NotarySignerVTable *vt;
  NotarySigner *signer;
  gboolean skip;
} Fixture;

static const char *
binary_for (gconstpointer data)
{
  if (g_str_equal (data, "ours"))
    return g_getenv ("NOTARY_SIGNER_BIN");
  return REFERENCE_SIGNER;
}

static NotarySigner *
open_plugin (Fixture *f, const char *cert, const char *key, const char *algorithm)
{
  g_autoptr (JsonObject) opts = signer_test_remote_options (f->pki, f->port, algorithm);
  g_autoptr (GError) error = NULL;
  NotarySigner *s;
  json_object_set_string_member (opts, "tls_client_cert", cert);
  json_object_set_string_member (opts, "tls_client_key", key);
  s = f->vt->open (NULL, opts, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

static void
spawn (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  f->proc = signer_test_spawn (f->binary, f->config, f->port, &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->binary = binary_for (data);
  if (f->binary == NULL || !g_file_test (f->binary, G_FILE_TEST_IS_EXECUTABLE))
    {
      f->skip = TRUE;
      return;
    }
  f->pki = signer_test_pki_new ();
  f->port = signer_test_free_port ();
  f->config = signer_test_write_signer_config (f->pki, "signer.json", f->port, TRUE);
  spawn (f);
  f->vt = signer_test_load_remote ();
  f->signer = open_plugin (f, f->pki->client_crt, f->pki->client_key, "ecdsa");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->signer != NULL)
    f->vt->close (f->signer);
  signer_test_kill (f->proc);
  g_clear_object (&f->proc);
  g_free (f->config);
  signer_test_pki_free (f->pki);
}

#define SKIP_IF_ABSENT(f)                                                                          \
  if ((f)->skip)                                                                                   \
    {                                                                                              \
      g_test_skip ("signer binary not available");                                                 \
      return;                                                                                      \
    }

static void
create_sign_verify (Fixture *f, const char *algorithm, const char *method)
{
  g_autoptr (GError) error = NULL;
  NotaryPublicKey *pub = f->vt->create_key (f->signer, "docker.com/notary", "timestamp", algorithm, &error);
  NotaryPublicKey *again;
  g_autoptr (NotaryKey) key = NULL;
  g_autoptr (GBytes) msg = g_bytes_new_static ("{\"signed\":{\"_type\":\"Timestamp\"}}", 32);
  g_autoptr (GBytes) sig = NULL;
  g_autoptr (GBytes) other = g_bytes_new_static ("tampered", 8);

  g_assert_no_error (error);
  g_assert_nonnull (pub);
  g_assert_cmpstr (pub->keytype, ==, algorithm);
  g_assert_cmpuint (g_bytes_get_size (pub->public_bytes), ==, g_str_equal (algorithm, "ecdsa") ? 91 : 32);

  key = notary_key_new (pub->keytype, pub->public_bytes, &error);
  g_assert_no_error (error);

  again = f->vt->get_key (f->signer, notary_key_get_id (key), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->keytype, ==, algorithm);
  g_assert_true (g_bytes_equal (again->public_bytes, pub->public_bytes));

  sig = f->vt->sign (f->signer, notary_key_get_id (key), msg, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 64); /* raw r||s, or Ed25519 */
  g_assert_true (notary_key_verify (key, method, msg, sig, &error));
  g_assert_no_error (error);
  g_assert_false (notary_key_verify (key, method, other, sig, &error));
  g_assert_nonnull (error);

  notary_public_key_free (pub);
  notary_public_key_free (again);
}

static void
test_ecdsa (Fixture *f, gconstpointer data)
{
  SKIP_IF_ABSENT (f);
  create_sign_verify (f, "ecdsa", "ecdsa");
}

static void
test_ed25519 (Fixture *f, gconstpointer data)
{
  SKIP_IF_ABSENT (f);
  create_sign_verify (f, "ed25519", "eddsa");
}

static void
test_default_algorithm (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  NotaryPublicKey *pub;
  SKIP_IF_ABSENT (f);
  g_assert_cmpstr (f->vt->default_algorithm (f->signer), ==, "ecdsa");
  pub = f->vt->create_key (f->signer, "g", "snapshot", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pub->keytype, ==, "ecdsa");
  notary_public_key_free (pub);
}

static void
test_not_found (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *id = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autoptr (GBytes) msg = g_bytes_new_static ("x", 1);
  SKIP_IF_ABSENT (f);

  g_assert_null (f->vt->get_key (f->signer, id, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "NotFound"));
  g_clear_error (&error);
  g_assert_null (f->vt->sign (f->signer, id, msg, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND);
}

static void
test_rsa_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SKIP_IF_ABSENT (f);
  g_assert_null (f->vt->create_key (f->signer, "g", "timestamp", "rsa", &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "algorithm rsa not supported for create key"));
}

static void
test_health (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SKIP_IF_ABSENT (f);
  g_assert_true (f->vt->check_health (f->signer, &error));
  g_assert_no_error (error);
}

static void
test_down_and_recover (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  NotaryPublicKey *pub;
  SKIP_IF_ABSENT (f);

  pub = f->vt->create_key (f->signer, "g", "timestamp", "ed25519", &error);
  g_assert_no_error (error);
  notary_public_key_free (pub);

  signer_test_kill (f->proc);
  g_clear_object (&f->proc);
  g_assert_null (f->vt->create_key (f->signer, "g", "timestamp", "ed25519", &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE);
  g_clear_error (&error);
  g_assert_false (f->vt->check_health (f->signer, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "rpc error: code = Unavailable"));
  g_clear_error (&error);

  /* Same plugin instance, signer back: works without reopening. */
  spawn (f);
  pub = f->vt->create_key (f->signer, "g", "timestamp", "ed25519", &error);
  g_assert_no_error (error);
  g_assert_nonnull (pub);
  notary_public_key_free (pub);
  g_assert_true (f->vt->check_health (f->signer, &error));
}

static void
test_foreign_client_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  NotarySigner *foreign;
  SKIP_IF_ABSENT (f);
  foreign = open_plugin (f, f->pki->other_crt, f->pki->other_key, "ecdsa");
  g_assert_null (f->vt->create_key (foreign, "g", "timestamp", "ecdsa", &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE);
  f->vt->close (foreign);
}

static void
test_bad_options (void)
{
  const NotarySignerVTable *vt = signer_test_load_remote ();
  g_autoptr (SignerTestPki) pki = signer_test_pki_new ();
  g_autoptr (JsonObject) opts = signer_test_remote_options (pki, 7899, "dsa");
  g_autoptr (GError) error = NULL;

  g_assert_null (vt->open (NULL, opts, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNSUPPORTED);
  g_assert_cmpstr (error->message, ==, "invalid key algorithm configured: dsa");
  g_clear_error (&error);

  json_object_set_string_member (opts, "key_algorithm", "ecdsa");
  json_object_remove_member (opts, "tls_client_key");
  g_assert_null (vt->open (NULL, opts, &error));
  g_assert_cmpstr (error->message, ==, "either pass both client key and cert, or neither");
  g_clear_error (&error);

  /* Port given as a string works, as in the reference's config. */
  json_object_set_string_member (opts, "tls_client_key", pki->client_key);
  json_object_set_string_member (opts, "port", "7899");
  {
    NotarySigner *s = vt->open (NULL, opts, &error);
    g_assert_no_error (error);
    vt->close (s);
  }
}

/* ---- the reference notary-server (grpc-go client) against our signer ---- */

static char *
http_get (guint16 port, const char *path)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();

  g_socket_client_set_enable_proxy (client, FALSE);
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *req = g_strdup_printf ("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
  GString *out = g_string_new (NULL);
  char buf[4096];
  gssize n;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), req, strlen (req), NULL, NULL,
                             &error);
  g_assert_no_error (error);
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL,
                                   &error))
         > 0)
    g_string_append_len (out, buf, n);
  g_assert_no_error (error);
  return g_string_free (out, FALSE);
}

static void
test_reference_server_to_our_signer (Fixture *f, gconstpointer data)
{
  guint16 http_port;
  g_autofree char *config = NULL;
  g_autofree char *path = NULL;
  g_autofree char *reply = NULL;
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (NotaryKey) key = NULL;
  NotaryPublicKey *held;
  const char *body;

  SKIP_IF_ABSENT (f);
  if (!g_file_test (REFERENCE_SERVER, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("reference notary-server not installed");
      return;
    }
  http_port = signer_test_free_port ();
  config = g_strdup_printf ("{\"server\":{\"http_addr\":\"127.0.0.1:%u\"},"
                            "\"trust_service\":{\"type\":\"remote\",\"hostname\":\"127.0.0.1\",\"port\":\"%u\","
                            "\"tls_ca_file\":\"%s\",\"tls_client_cert\":\"%s\",\"tls_client_key\":\"%s\","
                            "\"key_algorithm\":\"ecdsa\"},"
                            "\"storage\":{\"backend\":\"memory\"},\"logging\":{\"level\":\"debug\"}}",
                            http_port, f->port, f->pki->root_ca, f->pki->client_crt, f->pki->client_key);
  path = g_build_filename (f->pki->dir, "server.json", NULL);
  g_file_set_contents (path, config, -1, &error);
  g_assert_no_error (error);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                        | (g_test_verbose () ? 0 : G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  server = g_subprocess_launcher_spawn (launcher, &error, REFERENCE_SERVER, "-config", path, NULL);
  g_assert_no_error (error);
  g_assert_true (signer_test_wait_port (http_port, 10000));

  /* No root yet for this GUN: the server asks our signer to CreateKey. */
  reply = http_get (http_port, "/v2/docker.com/notary/_trust/tuf/timestamp.key");
  g_subprocess_send_signal (server, SIGKILL);
  g_subprocess_wait (server, NULL, NULL);
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.0 200") || g_str_has_prefix (reply, "HTTP/1.1 200"));
  body = strstr (reply, "\r\n\r\n");
  g_assert_nonnull (body);
  json_parser_load_from_data (parser, body + 4, -1, &error);
  g_assert_no_error (error);
  key = notary_key_new_from_json (json_parser_get_root (parser), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_keytype (key), ==, "ecdsa");

  /* And that key is the one our signer holds. */
  held = f->vt->get_key (f->signer, notary_key_get_id (key), &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (held->public_bytes, notary_key_get_public (key)));
  notary_public_key_free (held);
}

int
main (int argc, char **argv)
{
  static const char *const kinds[] = { "ours", "reference" };
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
#define ADD(name, fn)                                                                              \
  do                                                                                               \
    {                                                                                              \
      g_autofree char *p = g_strdup_printf ("/signer/remote/%s/%s", kinds[i], name);               \
      g_test_add (p, Fixture, kinds[i], fixture_setup, fn, fixture_teardown);                      \
    }                                                                                              \
  while (0)
      ADD ("ecdsa", test_ecdsa);
      ADD ("ed25519", test_ed25519);
      ADD ("default-algorithm", test_default_algorithm);
      ADD ("not-found", test_not_found);
      ADD ("rsa-refused", test_rsa_refused);
      ADD ("health", test_health);
      ADD ("down-and-recover", test_down_and_recover);
      ADD ("foreign-client-refused", test_foreign_client_refused);
    }
  {
    g_autofree char *p = g_strdup ("/signer/remote/ours/reference-notary-server");
    g_test_add (p, Fixture, "ours", fixture_setup, test_reference_server_to_our_signer, fixture_teardown);
  }
  g_test_add_func ("/signer/remote/bad-options", test_bad_options);
  return g_test_run ();
}
