/* test-signer-wire.c — our gRPC server and client against each other over
 * real TLS on 127.0.0.1: status mapping, deadlines, reconnection, and
 * mutual TLS enforcement (no client certificate / a certificate from an
 * unrelated CA are refused before any handler runs). */
#include <gio/gio.h>

#include "notary-grpc.h"
#include "signer-test-util.h"

typedef struct
{
  SignerTestPki *pki;
  NotaryGrpcServer *server;
  guint16 port;
  gint handled; /* atomic: handler invocations */
} Fixture;

static GBytes *
test_handler (const char *path, GBytes *request, gpointer user_data, GError **error)
{
  Fixture *f = user_data;
  g_atomic_int_inc (&f->handled);
  if (g_str_equal (path, "/test.Echo/Echo"))
    return g_bytes_ref (request);
  if (g_str_equal (path, "/test.Echo/Slow"))
    {
      g_usleep (1500 * 1000);
      return g_bytes_ref (request);
    }
  if (g_str_equal (path, "/test.Echo/Fail"))
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND, "key %s not found (100%%)", "abc");
      return NULL;
    }
  if (g_str_equal (path, "/test.Echo/Plain"))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "algorithm rsa not supported for create key");
      return NULL;
    }
  g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED, "unknown method %s", path);
  return NULL;
}

static void
start_server (Fixture *f, gboolean require_client_cert, const char *address)
{
  g_autoptr (GError) error = NULL;
  f->server = notary_grpc_server_new (f->pki->signer_crt, f->pki->signer_key,
                                      require_client_cert ? f->pki->client_crt : NULL, test_handler, f, &error);
  g_assert_no_error (error);
  g_assert_true (notary_grpc_server_start (f->server, address, &f->port, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->port, >, 0);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->pki = signer_test_pki_new ();
  start_server (f, GPOINTER_TO_INT (data), "127.0.0.1:0");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->server, notary_grpc_server_free);
  signer_test_pki_free (f->pki);
}

static NotaryGrpcClient *
make_client (Fixture *f, const char *host, const char *ca, const char *cert, const char *key)
{
  g_autoptr (GError) error = NULL;
  NotaryGrpcClient *c = notary_grpc_client_new (host, f->port, ca, cert, key, &error);
  g_assert_no_error (error);
  return c;
}

static GBytes *
call (NotaryGrpcClient *c, const char *path, const char *payload, gint64 timeout, GError **error)
{
  g_autoptr (GBytes) req = g_bytes_new (payload, strlen (payload));
  return notary_grpc_client_call (c, path, req, timeout, error);
}

static void
test_echo (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) empty_req = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) empty = NULL;

  for (int i = 0; i < 3; i++)
    {
      g_autoptr (GBytes) r = call (c, "/test.Echo/Echo", "hello", 5 * G_USEC_PER_SEC, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (r, NULL), g_bytes_get_size (r), "hello", 5);
    }
  /* Zero-length messages (Void) must travel too. */
  empty = notary_grpc_client_call (c, "/test.Echo/Echo", empty_req, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&f->handled), ==, 4);
}

static void
test_large_message (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "localhost", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  g_autoptr (GError) error = NULL;
  gsize n = 300 * 1024; /* larger than any flow-control window default */
  g_autofree char *big = g_malloc (n);
  g_autoptr (GBytes) req = NULL;
  g_autoptr (GBytes) r = NULL;

  for (gsize i = 0; i < n; i++)
    big[i] = (char) ('a' + i % 26);
  req = g_bytes_new (big, n);
  r = notary_grpc_client_call (c, "/test.Echo/Echo", req, 10 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (r, req));
}

static void
test_status (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) r = call (c, "/test.Echo/Fail", "x", 0, &error);

  g_assert_null (r);
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "key abc not found (100%)");
  g_clear_error (&error);

  g_assert_null (call (c, "/test.Echo/Plain", "x", 0, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNKNOWN);
  g_assert_cmpstr (error->message, ==, "algorithm rsa not supported for create key");
  g_clear_error (&error);

  g_assert_null (call (c, "/nope.X/Y", "x", 0, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED);
}

static void
test_deadline (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GBytes) r = call (c, "/test.Echo/Slow", "x", 300 * 1000, &error);
  g_autoptr (GBytes) r2 = NULL;

  g_assert_null (r);
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1200 * 1000);
  g_clear_error (&error);
  /* The client recovers for the next call. */
  r2 = call (c, "/test.Echo/Echo", "again", 5 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (r2), ==, 5);
}

typedef struct
{
  NotaryGrpcClient *client;
  gint failures;
} ThreadData;

static gpointer
hammer (gpointer data)
{
  ThreadData *td = data;
  for (int i = 0; i < 25; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *payload = g_strdup_printf ("msg-%p-%d", (void *) g_thread_self (), i);
      g_autoptr (GBytes) r = call (td->client, "/test.Echo/Echo", payload, 10 * G_USEC_PER_SEC, &error);
      if (r == NULL || g_bytes_get_size (r) != strlen (payload)
          || memcmp (g_bytes_get_data (r, NULL), payload, strlen (payload)) != 0)
        g_atomic_int_inc (&td->failures);
    }
  return NULL;
}

static void
test_threads (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  ThreadData td = { c, 0 };
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("hammer", hammer, &td);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (td.failures, ==, 0);
  g_assert_cmpint (g_atomic_int_get (&f->handled), ==, 100);
}

static void
assert_refused (Fixture *f, NotaryGrpcClient *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) r = call (c, "/test.Echo/Echo", "x", 5 * G_USEC_PER_SEC, &error);
  g_assert_null (r);
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE);
  g_assert_cmpint (g_atomic_int_get (&f->handled), ==, 0);
}

static void
test_mtls_no_cert (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, NULL, NULL);
  assert_refused (f, c);
}

static void
test_mtls_other_ca (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->other_crt,
                                                f->pki->other_key);
  assert_refused (f, c);
}

static void
test_untrusted_server (Fixture *f, gconstpointer data)
{
  /* The client only trusts the unrelated CA: the signer is refused. */
  g_autofree char *other_ca = g_build_filename (f->pki->dir, "other-ca.crt", NULL);
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", other_ca, f->pki->client_crt, f->pki->client_key);
  assert_refused (f, c);
}

static void
test_no_client_ca (Fixture *f, gconstpointer data)
{
  /* Without client_ca_file no certificate is asked for. */
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) r = call (c, "/test.Echo/Echo", "x", 5 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
}

static void
test_reconnect (Fixture *f, gconstpointer data)
{
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) r1 = call (c, "/test.Echo/Echo", "one", 5 * G_USEC_PER_SEC, &error);
  g_autoptr (GBytes) r2 = NULL;
  g_autoptr (GBytes) r3 = NULL;
  g_autofree char *addr = g_strdup_printf ("127.0.0.1:%u", f->port);

  g_assert_no_error (error);
  g_clear_pointer (&f->server, notary_grpc_server_free);

  /* Signer down: fail fast with UNAVAILABLE. */
  r2 = call (c, "/test.Echo/Echo", "two", 5 * G_USEC_PER_SEC, &error);
  g_assert_null (r2);
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE);
  g_clear_error (&error);

  /* Signer back on the same port: the same client recovers. */
  start_server (f, TRUE, addr);
  r3 = call (c, "/test.Echo/Echo", "three", 5 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (r3), ==, 5);
}

static void
test_restart_while_idle (Fixture *f, gconstpointer data)
{
  /* The server goes away and comes back between two calls: the idle
   * connection is stale, the next call must still succeed. */
  g_autoptr (NotaryGrpcClient) c = make_client (f, "127.0.0.1", f->pki->root_ca, f->pki->client_crt,
                                                f->pki->client_key);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) r1 = call (c, "/test.Echo/Echo", "one", 5 * G_USEC_PER_SEC, &error);
  g_autoptr (GBytes) r2 = NULL;
  g_autofree char *addr = g_strdup_printf ("127.0.0.1:%u", f->port);

  g_assert_no_error (error);
  g_clear_pointer (&f->server, notary_grpc_server_free);
  start_server (f, TRUE, addr);
  r2 = call (c, "/test.Echo/Echo", "two", 5 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (r2), ==, 3);
}

static void
test_bad_listen_address (void)
{
  g_autoptr (SignerTestPki) pki = signer_test_pki_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryGrpcServer) s = notary_grpc_server_new (pki->signer_crt, pki->signer_key, NULL, test_handler,
                                                           NULL, &error);
  g_assert_no_error (error);
  g_assert_false (notary_grpc_server_start (s, "99999", NULL, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (notary_grpc_server_start (s, "127.0.0.1:99999", NULL, &error));
  g_assert_nonnull (strstr (error->message, "invalid port"));
}

static void
test_missing_cert (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryGrpcServer) s = notary_grpc_server_new ("/nonexistent/x.crt", "/nonexistent/x.key", NULL,
                                                           test_handler, NULL, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==,
                   "Could not load X509 key pair (cert: \"/nonexistent/x.crt\", key: \"/nonexistent/x.key\"): "
                   "open /nonexistent/x.crt: no such file or directory");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn, mtls) g_test_add ("/signer/wire/" name, Fixture, GINT_TO_POINTER (mtls), fixture_setup, fn, fixture_teardown)
  ADD ("echo", test_echo, TRUE);
  ADD ("large-message", test_large_message, TRUE);
  ADD ("status", test_status, TRUE);
  ADD ("deadline", test_deadline, TRUE);
  ADD ("threads", test_threads, TRUE);
  ADD ("mtls/no-client-cert-refused", test_mtls_no_cert, TRUE);
  ADD ("mtls/other-ca-refused", test_mtls_other_ca, TRUE);
  ADD ("mtls/untrusted-server-refused", test_untrusted_server, TRUE);
  ADD ("mtls/optional-without-client-ca", test_no_client_ca, FALSE);
  ADD ("reconnect", test_reconnect, TRUE);
  ADD ("restart-while-idle", test_restart_while_idle, TRUE);
  g_test_add_func ("/signer/wire/bad-listen-address", test_bad_listen_address);
  g_test_add_func ("/signer/wire/missing-cert", test_missing_cert);
  return g_test_run ();
}
