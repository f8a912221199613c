/* notary-http-soup.c — the libsoup transport of notary-server's HTTP core
 * (the `http_engine=soup` build).
 *
 * N worker threads, each with its own GMainContext and SoupServer,
 * accept on their own SO_REUSEPORT socket bound to the one address, so
 * the kernel spreads connections across cores and a slow backend call
 * blocks only its worker.  Handlers are synchronous within a worker.  The
 * debug listener is one more SoupServer on the caller's main context.
 */
#include "notary-http-private.h"
#include "notary-http-errors.h"
#include "notary-log.h"

#include <libsoup/soup.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  NotaryHttpServer *owner;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *soup;
  GSocket *socket;
  GThread *thread;
} Worker;

struct _NotaryHttpTransport
{
  NotaryHttpServer *srv;
  const NotaryHttpOptions *opts;
  GPtrArray *workers; /* Worker* */
  SoupServer *debug;
  GTlsCertificate *certificate; /* from opts->tls_identity, at listen */
  GTlsDatabase *client_ca;      /* from opts->client_ca_file, at listen */
};

/* libsoup speaks TLS through GIO: the identity's text as a GTlsCertificate
 * (its issuers become the chain). */
static GTlsCertificate *
certificate_from_identity (NotaryTlsIdentity *identity, GError **error)
{
  g_autofree char *pem = g_strconcat (notary_tls_identity_get_chain_pem (identity), "\n",
                                      notary_tls_identity_get_key_pem (identity), NULL);
  GTlsCertificate *cert = g_tls_certificate_new_from_pem (pem, -1, error);

  memset (pem, 0, strlen (pem)); /* holds the private key */
  return cert;
}

NotaryHttpTransport *
_notary_http_transport_new (NotaryHttpServer *srv, const NotaryHttpOptions *opts)
{
  NotaryHttpTransport *t = g_new0 (NotaryHttpTransport, 1);
  t->srv = srv;
  t->opts = opts;
  t->workers = g_ptr_array_new ();
  return t;
}

/* ---- requests ----------------------------------------------------------- */

static const char *
get_header (NotaryHttpExchange *ex, const char *name)
{
  SoupServerMessage *msg = ex->transport_data;
  return soup_message_headers_get_one (soup_server_message_get_request_headers (msg), name);
}

/* libsoup's multipart parser; the request's Content-Type gives the
 * boundary. */
static gboolean
split_form (NotaryHttpExchange *ex, NotaryHttpPartFunc func, gpointer user_data)
{
  SoupServerMessage *msg = ex->transport_data;
  g_autoptr (GBytes) body = ex->body ? g_bytes_ref (ex->body) : g_bytes_new_static ("", 0);
  g_autoptr (SoupMultipart) mp
      = soup_multipart_new_from_message (soup_server_message_get_request_headers (msg), body);

  if (mp == NULL)
    return FALSE;
  for (int i = 0; i < soup_multipart_get_length (mp); i++)
    {
      SoupMessageHeaders *ph;
      GBytes *pb;
      const char *cd;
      g_autoptr (GHashTable) params = NULL;
      g_autoptr (GBytes) part = NULL;
      gsize part_len;

      if (!soup_multipart_get_part (mp, i, &ph, &pb))
        return FALSE;
      /* Parse the header ourselves: libsoup's content-disposition helper
       * strips directories from filename, and delegation roles contain '/'. */
      cd = soup_message_headers_get_one (ph, "Content-Disposition");
      if (cd != NULL)
        params = soup_header_parse_semi_param_list_strict (cd);
      /* libsoup's parts are slices of the whole request body, and a
       * stored file must not keep the body (other parts, boundaries,
       * slack) alive for as long as it is stored: small parts are copied.
       * A part that is nearly all of the body (a big targets file) is
       * kept as it is: copying it would only double the peak. */
      part_len = g_bytes_get_size (pb);
      part = part_len >= g_bytes_get_size (body) / 10 * 9 ? g_bytes_ref (pb)
                                                           : g_bytes_new (g_bytes_get_data (pb, NULL), part_len);
      if (!func (params != NULL ? g_hash_table_lookup (params, "filename") : NULL, part, user_data))
        return TRUE;
    }
  return TRUE;
}

/* Copies what the core answered into @msg. */
static void
apply_response (SoupServerMessage *msg, NotaryHttpExchange *ex)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  gsize len = ex->response_body ? g_bytes_get_size (ex->response_body) : 0;

  soup_server_message_set_status (msg, ex->status, NULL);
  for (guint i = 0; i < ex->n_headers; i++)
    soup_message_headers_replace (h, ex->headers[i].name, ex->headers[i].value);
  soup_message_headers_set_content_length (h, len);
  if (len > 0)
    soup_message_body_append_bytes (soup_server_message_get_response_body (msg), ex->response_body);
}

static void
exchange_init (NotaryHttpExchange *ex, SoupServerMessage *msg, const char *raw_path)
{
  GUri *uri = soup_server_message_get_uri (msg);

  ex->method = soup_server_message_get_method (msg);
  ex->raw_path = raw_path;
  ex->raw_query = g_uri_get_query (uri);
  ex->get_header = get_header;
  ex->split_form = split_form;
  ex->transport_data = msg;
}

static void
handle_request (SoupServer *soup, SoupServerMessage *msg, const char *raw_path, GHashTable *query,
                gpointer user_data)
{
  NotaryHttpTransport *t = user_data;
  NotaryHttpExchange ex = { 0 };

  exchange_init (&ex, msg, raw_path);
  /* on_got_headers refused the body from its Content-Length */
  ex.too_large = soup_server_message_get_status (msg) == 413;
  if (!ex.too_large)
    ex.body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  _notary_http_server_handle (t->srv, &ex);
  /* A 413's response was already set by on_got_headers. */
  if (!ex.too_large)
    apply_response (msg, &ex);
  /* Say we close when the client asked to (Go and nginx do; libsoup closes
   * silently otherwise, which load tools count as read errors). */
  if (soup_message_headers_header_contains (soup_server_message_get_request_headers (msg), "Connection",
                                            "close"))
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  _notary_http_exchange_clear (&ex);
}

/* Refuse oversized bodies from their headers, before reading them. */
static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  NotaryHttpTransport *t = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  goffset len = soup_message_headers_get_content_length (h);

  if (t->opts->max_body_bytes > 0 && len > t->opts->max_body_bytes)
    {
      g_autoptr (GBytes) body = notary_http_error_body (NOTARY_HTTP_TOO_LARGE, NULL);
      gsize n;
      const char *d = g_bytes_get_data (body, &n);
      soup_server_message_set_status (msg, 413, NULL);
      soup_server_message_set_response (msg, "application/json; charset=utf-8", SOUP_MEMORY_COPY, d, n);
    }
}

/* With server.client_ca_file.  glib-networking never accepts a client's
 * certificate on a server connection by itself, however well it verified:
 * only an accept-certificate handler can, so without this one every client
 * was refused.  @errors is the verification against the client CA (set as
 * the server's TLS database). */
static gboolean
on_accept_certificate (SoupServerMessage *msg, GTlsCertificate *certificate, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  return errors == 0;
}

static void
on_request_started (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  NotaryHttpTransport *t = user_data;

  /* A connection's first message is started before its TLS handshake. */
  if (t->client_ca != NULL)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), user_data);
}

static void
handle_debug (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
              gpointer user_data)
{
  NotaryHttpTransport *t = user_data;
  NotaryHttpExchange ex = { 0 };

  exchange_init (&ex, msg, path);
  _notary_http_server_handle_debug (t->srv, &ex);
  apply_response (msg, &ex);
  _notary_http_exchange_clear (&ex);
}

/* ---- workers ------------------------------------------------------------ */

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  g_main_context_push_thread_default (w->context);
  g_main_loop_run (w->loop);
  g_main_context_pop_thread_default (w->context);
  return NULL;
}

static Worker *
worker_new (NotaryHttpTransport *t, GSocket *sock, GError **error)
{
  Worker *w = g_new0 (Worker, 1);
  gboolean ok;

  w->owner = t->srv;
  w->context = g_main_context_new ();
  w->loop = g_main_loop_new (w->context, FALSE);
  w->socket = sock;
  g_main_context_push_thread_default (w->context);
  w->soup = soup_server_new ("server-header", "notary-c/" "0", NULL);
  if (t->certificate != NULL)
    soup_server_set_tls_certificate (w->soup, t->certificate);
  if (t->client_ca != NULL)
    {
      soup_server_set_tls_database (w->soup, t->client_ca);
      soup_server_set_tls_auth_mode (w->soup, G_TLS_AUTHENTICATION_REQUIRED);
    }
  soup_server_add_handler (w->soup, NULL, handle_request, t, NULL);
  g_signal_connect (w->soup, "request-started", G_CALLBACK (on_request_started), t);
  ok = soup_server_listen_socket (w->soup, sock, t->certificate ? SOUP_SERVER_LISTEN_HTTPS : 0, error);
  g_main_context_pop_thread_default (w->context);
  if (!ok)
    {
      g_object_unref (w->soup);
      g_main_loop_unref (w->loop);
      g_main_context_unref (w->context);
      g_object_unref (sock);
      g_free (w);
      return NULL;
    }
  return w;
}

static void
worker_free (Worker *w)
{
  g_main_context_push_thread_default (w->context);
  soup_server_disconnect (w->soup);
  g_object_unref (w->soup);
  g_main_context_pop_thread_default (w->context);
  g_main_loop_unref (w->loop);
  g_main_context_unref (w->context);
  g_object_unref (w->socket);
  g_free (w);
}

static GSocket *
socket_from_fd (int fd, GError **error)
{
  GSocket *sock = g_socket_new_from_fd (fd, error);
  if (sock == NULL)
    close (fd);
  return sock;
}

gboolean
_notary_http_transport_listen (NotaryHttpTransport *t, const NotaryListenAddr *addr, guint16 *out_port,
                               GError **error)
{
  NotaryListenAddr a = *addr; /* every worker on the first one's port */

  g_clear_object (&t->certificate);
  g_clear_object (&t->client_ca);
  if (t->opts->tls_identity != NULL
      && (t->certificate = certificate_from_identity (t->opts->tls_identity, error)) == NULL)
    return FALSE;
  if (t->opts->client_ca_file != NULL
      && (t->client_ca = g_tls_file_database_new (t->opts->client_ca_file, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < t->opts->workers; i++)
    {
      int fd = notary_listen_bind (&a, TRUE, error);
      GSocket *sock;
      Worker *w;

      if (fd < 0 || (sock = socket_from_fd (fd, error)) == NULL)
        goto fail;
      *out_port = notary_listen_socket_port (fd);
      notary_listen_addr_set_port (&a, *out_port);
      w = worker_new (t, sock, error);
      if (w == NULL)
        goto fail;
      g_ptr_array_add (t->workers, w);
    }
  for (guint i = 0; i < t->workers->len; i++)
    {
      Worker *w = t->workers->pdata[i];
      w->thread = g_thread_new ("http-worker", worker_main, w);
    }
  return TRUE;

fail:
  for (guint i = 0; i < t->workers->len; i++)
    worker_free (t->workers->pdata[i]);
  g_ptr_array_set_size (t->workers, 0);
  return FALSE;
}

typedef struct
{
  Worker *worker;
  GTlsCertificate *cert;
} CertSwap;

static gboolean
swap_certificate (gpointer data)
{
  CertSwap *swap = data;
  soup_server_set_tls_certificate (swap->worker->soup, swap->cert);
  g_object_unref (swap->cert);
  g_free (swap);
  return G_SOURCE_REMOVE;
}

void
_notary_http_transport_set_identity (NotaryHttpTransport *t, NotaryTlsIdentity *identity)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = certificate_from_identity (identity, &error);

  if (certificate == NULL)
    {
      notary_log (NOTARY_LOG_ERROR, error->message, NULL);
      return;
    }
  g_set_object (&t->certificate, certificate);
  /* SoupServer is not thread-safe: each worker swaps its own. */
  for (guint i = 0; i < t->workers->len; i++)
    {
      CertSwap *swap = g_new0 (CertSwap, 1);
      swap->worker = t->workers->pdata[i];
      swap->cert = g_object_ref (certificate);
      g_main_context_invoke (swap->worker->context, swap_certificate, swap);
    }
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
_notary_http_transport_stop (NotaryHttpTransport *t)
{
  for (guint i = 0; i < t->workers->len; i++)
    {
      Worker *w = t->workers->pdata[i];
      g_main_context_invoke (w->context, quit_loop, w->loop);
    }
  for (guint i = 0; i < t->workers->len; i++)
    {
      Worker *w = t->workers->pdata[i];
      if (w->thread)
        g_thread_join (w->thread);
      worker_free (w);
    }
  g_ptr_array_set_size (t->workers, 0);
}

gboolean
_notary_http_transport_listen_debug (NotaryHttpTransport *t, const NotaryListenAddr *addr, GError **error)
{
  g_autoptr (GSocketAddress) sa = g_socket_address_new_from_native ((gpointer) &addr->ss, addr->len);

  if (t->debug == NULL)
    {
      t->debug = soup_server_new (NULL, NULL);
      soup_server_add_handler (t->debug, NULL, handle_debug, t, NULL);
    }
  return soup_server_listen (t->debug, sa, 0, error);
}

void
_notary_http_transport_free (NotaryHttpTransport *t)
{
  if (t == NULL)
    return;
  _notary_http_transport_stop (t);
  g_clear_object (&t->debug);
  g_clear_object (&t->certificate);
  g_clear_object (&t->client_ca);
  g_ptr_array_unref (t->workers);
  g_free (t);
}
