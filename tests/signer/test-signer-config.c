/* test-signer-config.c — every start-up error of notary-signer
 * (config-and-ops.md §3-5, signer-storage.md §1, §6): the key store's
 * checks in-process (notary_signer_keystore_open), then the daemon itself
 * for each failure in the reference's order — one fatal JSON line with the
 * reference's text, exit status 1 — and the -debug server on
 * localhost:8080 (success and bind failure).  No database is needed: the
 * connection failure is provoked on 127.0.0.1:1.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "notary-build-config.h"
#include "notary-config.h"
#include "notary-signer-keystore.h"
#include "signer-test-util.h"

#define ALLOWED "must be one of: [memory mysql sqlite3 rethinkdb postgres]"

static char *
write_temp (const char *dir, const char *name, const char *text)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* ---- the key store's checks, in-process ---------------------------------- */

static void
test_keystore_open (void)
{
  struct
  {
    const char *storage; /* the "storage" object */
    const char *top;     /* extra top-level members, or "" */
    const char *env;     /* one K=V or NULL */
    const char *message; /* expected error, exact; NULL = prefix check below */
    const char *prefix;
  } cases[] = {
    { "{}", "", NULL, " is not an allowed backend, " ALLOWED, NULL },
    { "{\"backend\":\"MySQL\"}", "", NULL, "MySQL is not an allowed backend, " ALLOWED, NULL },
    { "{\"backend\":\"mysql\"}", "", NULL, "must provide a non-empty database source for mysql", NULL },
    { "{\"backend\":\"postgres\"}", "", NULL, "must provide a non-empty database source for postgres", NULL },
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1/db\",\"default_alias\":\"a\"}", "", NULL,
      "failed to parse the database source for mysql", NULL },
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\"}", "", NULL,
      "must provide a default alias for the key DB", NULL },
    { "{\"backend\":\"postgres\",\"db_url\":\"postgres://x@h/db\"}", "", NULL,
      "must provide a default alias for the key DB", NULL },
    { "{\"backend\":\"postgres\",\"db_url\":\"postgres://x@h/db\",\"default_alias\":\"a\"}", "", NULL,
      "postgres is not supported by this notary-signer build (only memory and mysql are)", NULL },
    { "{\"backend\":\"sqlite3\",\"db_url\":\"/tmp/x.db\",\"default_alias\":\"a\"}", "", NULL,
      "sqlite3 is not supported by this notary-signer build (only memory and mysql are)", NULL },
    { "{\"backend\":\"rethinkdb\",\"default_alias\":\"a\"}", "", NULL,
      "rethinkdb is not supported by this notary-signer build (only memory and mysql are)", NULL },
    /* the alias from the backwards-compatible top-level key */
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\"}", ",\"default_alias\":\"ts.2\"",
      NULL,
      "expected env variable to not be empty: ts.2 (set NOTARY_SIGNER_TS_2 to the passphrase that encrypts "
      "new "
      "keys)",
      NULL },
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\",\"default_alias\":\"timestamp_1\"}",
      "", "NOTARY_SIGNER_TIMESTAMP_1=", /* empty counts as unset */
      "expected env variable to not be empty: timestamp_1 (set NOTARY_SIGNER_TIMESTAMP_1 to the passphrase "
      "that "
      "encrypts new keys)",
      NULL },
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\",\"default_alias\":\"timestamp_1\"}",
      "", "NOTARY_SIGNER_TIMESTAMP_1=pw", NULL,
      "failed to create a new keydbstore: cannot connect to mysql " },
    /* ours: the bound on decrypted keys kept in memory */
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\",\"default_alias\":\"timestamp_1\","
      "\"key_cache_size\":-1}",
      "", "NOTARY_SIGNER_TIMESTAMP_1=pw",
      "storage.key_cache_size must be a number of keys (0 or more), not \"-1\"", NULL },
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\",\"default_alias\":\"timestamp_1\","
      "\"key_cache_size\":\"many\"}",
      "", "NOTARY_SIGNER_TIMESTAMP_1=pw",
      "storage.key_cache_size must be a number of keys (0 or more), not \"many\"", NULL },
    { "{\"backend\":\"mysql\",\"db_url\":\"signer@tcp(127.0.0.1:1)/db\",\"default_alias\":\"timestamp_1\","
      "\"key_cache_size\":0}",
      "", "NOTARY_SIGNER_TIMESTAMP_1=pw", NULL,
      "failed to create a new keydbstore: cannot connect to mysql " },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("signer-config-XXXXXX", &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"storage\":%s%s}", cases[i].storage, cases[i].top);
      g_autofree char *path = write_temp (dir, "c.json", text);
      char *envp[] = { (char *)cases[i].env, NULL };
      g_autoptr (NotaryConfig) config = notary_config_load (path, "NOTARY_SIGNER_", NULL, envp, &error);
      g_autoptr (NotarySignerKeyStore) store = NULL;

      g_test_message ("case %u: %s", i, text);
      g_assert_no_error (error);
      store = notary_signer_keystore_open (config, envp, &error);
      g_assert_null (store);
      g_assert_nonnull (error);
      if (cases[i].message != NULL)
        g_assert_cmpstr (error->message, ==, cases[i].message);
      else
        g_assert_true (g_str_has_prefix (error->message, cases[i].prefix));
      g_clear_error (&error);
      g_unlink (path);
    }

  /* memory needs nothing else; mysql/postgres aliases are not consulted */
  {
    g_autofree char *path = write_temp (dir, "m.json", "{\"storage\":{\"backend\":\"memory\"}}");
    g_autoptr (NotaryConfig) config = notary_config_load (path, "NOTARY_SIGNER_", NULL, NULL, &error);
    g_autoptr (NotarySignerKeyStore) store = notary_signer_keystore_open (config, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (store->klass->name, ==, "memory");
    g_unlink (path);
  }
  g_rmdir (dir);
}

/* ---- the daemon ------------------------------------------------------------ */

typedef struct
{
  int status;
  char *fatal; /* msg of the fatal line, or NULL */
  char *stderr_text;
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_free (r->fatal);
  g_free (r->stderr_text);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

/* A clean environment: nothing NOTARY_SIGNER_* but @env (NULL-terminated). */
static char **
clean_environ (const char *const *env)
{
  g_auto (GStrv) base = g_get_environ ();
  GPtrArray *out = g_ptr_array_new ();

  for (char **e = base; *e != NULL; e++)
    if (!g_str_has_prefix (*e, "NOTARY_SIGNER_"))
      g_ptr_array_add (out, g_strdup (*e));
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    g_ptr_array_add (out, g_strdup (*e));
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (out, FALSE);
}

static void
run_signer (const char *const *argv, const char *const *env, RunResult *r)
{
  g_autoptr (GSubprocessLauncher) l
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_auto (GStrv) environ = clean_environ (env);
  g_autoptr (GSubprocess) p = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;

  g_subprocess_launcher_set_environ (l, environ);
  p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &r->stderr_text, &error);
  g_assert_no_error (error);
  r->status = g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
  lines = g_strsplit (r->stderr_text, "\n", -1);
  for (char **line = lines; *line != NULL; line++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *o;
      if (**line != '{' || !json_parser_load_from_data (parser, *line, -1, NULL))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "level", ""), "fatal") == 0)
        {
          g_free (r->fatal);
          r->fatal = g_strdup (json_object_get_string_member (o, "msg"));
        }
    }
}

static void
test_daemon_errors (void)
{
  const char *bin = g_getenv ("NOTARY_SIGNER_BIN");
  g_autoptr (SignerTestPki) pki = NULL;
  g_autofree char *tls = NULL;
  guint16 port;

  if (bin == NULL)
    {
      g_test_skip ("NOTARY_SIGNER_BIN is not set");
      return;
    }
  pki = signer_test_pki_new ();
  port = signer_test_free_port ();
  tls = g_strdup_printf ("\"tls_cert_file\":\"%s\",\"tls_key_file\":\"%s\"", pki->signer_crt,
                         pki->signer_key);

  struct
  {
    const char *config; /* TLS = the TLS members, PORT = a free port */
    const char *env;
    const char *message; /* exact, or prefix when ending in '*' */
  } cases[] = {
    { NULL, NULL, "Could not read config at :*" },
    { "{\"logging\":{\"level\":\"verbose\"},\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"}}", NULL,
      "not a valid logrus Level: \"verbose\"" },
    { "{\"server\":{\"grpc_addr\":\"127.0.0.1:PORT\"}}", NULL,
      "unable to set up TLS: Could not load X509 key pair (cert: \"\", key: \"\"): open : no such file or "
      "directory" },
    { "{\"server\":{TLS},\"storage\":{\"backend\":\"memory\"}}", NULL,
      "grpc listen address required for server" },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"foo\"}}", NULL,
      "foo is not an allowed backend, " ALLOWED },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"mysql\"}}", NULL,
      "must provide a non-empty database source for mysql" },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"mysql\",\"db_url\":\"x@"
      "tcp(h\"}}",
      NULL, "failed to parse the database source for mysql" },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"mysql\","
      "\"db_url\":\"signer@tcp(127.0.0.1:1)/notarysigner\"}}",
      NULL, "must provide a default alias for the key DB" },
    /* the alias from NOTARY_SIGNER_DEFAULT_ALIAS, its passphrase missing */
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"mysql\","
      "\"db_url\":\"signer@tcp(127.0.0.1:1)/notarysigner\"}}",
      "NOTARY_SIGNER_DEFAULT_ALIAS=timestamp_1",
      "expected env variable to not be empty: timestamp_1 (set NOTARY_SIGNER_TIMESTAMP_1 to the passphrase "
      "that "
      "encrypts new keys)" },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"mysql\","
      "\"db_url\":\"signer@tcp(127.0.0.1:1)/notarysigner\",\"default_alias\":\"timestamp_1\"}}",
      "NOTARY_SIGNER_TIMESTAMP_1=testpassword", "failed to create a new keydbstore: *" },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:99999\"},\"storage\":{\"backend\":\"memory\"}}", NULL,
      "grpc server failed to listen on 127.0.0.1:99999: *" },
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"memory\"}}",
      "NOTARY_SIGNER_SERVER=x", "NOTARY_SIGNER_SERVER: cannot override \"server\": *" },
    /* an env override of a key absent from the file */
    { "{\"server\":{TLS,\"grpc_addr\":\"127.0.0.1:PORT\"},\"storage\":{\"backend\":\"mysql\","
      "\"db_url\":\"signer@tcp(127.0.0.1:1)/notarysigner\",\"default_alias\":\"timestamp_1\"}}",
      "NOTARY_SIGNER_STORAGE_KEY_CACHE_SIZE=1k",
      "storage.key_cache_size must be a number of keys (0 or more), not \"1k\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (RunResult) r = { 0 };
      g_autofree char *text = NULL;
      g_autofree char *path = NULL;
      const char *env[] = { cases[i].env, NULL };
      const char *msg = cases[i].message;
      gsize n = strlen (msg);

      if (cases[i].config != NULL)
        {
          g_autoptr (GString) t = g_string_new (cases[i].config);
          g_autofree char *port_str = g_strdup_printf ("%u", port);
          g_string_replace (t, "TLS", tls, 0);
          g_string_replace (t, "PORT", port_str, 0);
          text = g_string_free (g_steal_pointer (&t), FALSE);
          path = write_temp (pki->dir, "case.json", text);
        }
      else
        path = g_build_filename (pki->dir, "missing.json", NULL);
      g_test_message ("case %u: %s", i, text != NULL ? text : path);
      run_signer ((const char *[]){ bin, "-config", path, NULL }, env, &r);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_nonnull (r.fatal);
      if (msg[n - 1] == '*')
        {
          if (strncmp (r.fatal, msg, n - 1) != 0)
            g_error ("fatal line \"%s\" does not start with \"%.*s\"", r.fatal, (int)n - 1, msg);
        }
      else
        g_assert_cmpstr (r.fatal, ==, msg);
      /* The version line came first. */
      g_assert_true (g_str_has_prefix (r.stderr_text, "{\"level\":\"info\",\"msg\":\"Version: "));
    }
}

/* ---- -debug -------------------------------------------------------------------- */

static gboolean
port_8080_busy (void)
{
  g_autoptr (GSocketClient) c = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (c, "127.0.0.1", 8080, NULL, NULL);
  return conn != NULL;
}

static void
test_debug_server (void)
{
  const char *bin = g_getenv ("NOTARY_SIGNER_BIN");
  g_autoptr (SignerTestPki) pki = NULL;
  g_autoptr (GSocketService) squatter = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL, *path = NULL;
  guint16 port;

  if (bin == NULL)
    {
      g_test_skip ("NOTARY_SIGNER_BIN is not set");
      return;
    }
  pki = signer_test_pki_new ();
  port = signer_test_free_port ();
  text = g_strdup_printf (
      "{\"server\":{\"tls_cert_file\":\"%s\",\"tls_key_file\":\"%s\",\"grpc_addr\":"
      "\"127.0.0.1:%u\"},\"storage\":{\"backend\":\"memory\"},\"logging\":{\"level\":\"info\"}}",
      pki->signer_crt, pki->signer_key, port);
  path = write_temp (pki->dir, "debug.json", text);

  if (port_8080_busy ())
    g_test_message ("localhost:8080 is taken by someone else: only the failure case runs");
  else
    {
      g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
      g_autoptr (GSubprocess) p = NULL;
      g_autoptr (SoupSession) session = soup_session_new ();
      g_autoptr (SoupMessage) health = soup_message_new ("GET", "http://127.0.0.1:8080/debug/health");
      g_autoptr (SoupMessage) vars = soup_message_new ("GET", "http://127.0.0.1:8080/debug/vars");
      g_autoptr (GBytes) body = NULL;
      g_auto (GStrv) environ = clean_environ (NULL);

      g_subprocess_launcher_set_environ (l, environ);
      p = g_subprocess_launcher_spawn (l, &error, bin, "-debug", "-config", path, NULL);
      g_assert_no_error (error);
      g_assert_true (signer_test_wait_port (port, 10000));
      g_assert_true (signer_test_wait_port (8080, 10000));
      body = soup_session_send_and_read (session, health, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (soup_message_get_status (health), ==, 200);
      g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body), "{}", 2);
      g_clear_pointer (&body, g_bytes_unref);
      body = soup_session_send_and_read (session, vars, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (soup_message_get_status (vars), ==, 200);
      g_assert_nonnull (g_strstr_len (g_bytes_get_data (body, NULL), g_bytes_get_size (body), "\"-debug\""));
      g_subprocess_send_signal (p, SIGTERM);
      {
        g_autofree char *err_text = NULL;
        g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err_text, &error);
        g_assert_no_error (error);
        g_assert_nonnull (strstr (err_text, "\"msg\":\"Debug server listening on localhost:8080\""));
        g_assert_nonnull (strstr (err_text, " RPC server listening on 127.0.0.1:"));
      }
    }

  /* Someone on 8080: fatal, as in the reference. */
  if (!port_8080_busy ())
    {
      squatter = g_socket_service_new ();
      g_socket_listener_add_inet_port (G_SOCKET_LISTENER (squatter), 8080, NULL, &error);
      if (error != NULL)
        {
          g_test_skip ("cannot occupy port 8080");
          return;
        }
    }
  {
    g_auto (RunResult) r = { 0 };
    run_signer ((const char *[]){ bin, "-debug", "-config", path, NULL }, NULL, &r);
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (r.fatal);
    g_assert_true (g_str_has_prefix (r.fatal, "error listening on debug interface: "));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/signer/config/keystore-open", test_keystore_open);
  g_test_add_func ("/signer/config/daemon-errors", test_daemon_errors);
  g_test_add_func ("/signer/config/debug-server", test_debug_server);
  return g_test_run ();
}
