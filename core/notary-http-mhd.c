/* notary-http-mhd.c — the libmicrohttpd transport of notary-server's HTTP
 * core (the `http_engine=mhd` build).
 *
 * One MHD daemon with a pool of opts->workers threads, each polling its
 * own connections, all accepting on one listening socket: a worker blocked
 * in a slow backend call accepts nothing meanwhile, and an idle one picks
 * new connections up.  Reads (GET, HEAD) that need no backend are
 * answered synchronously on the worker that owns the connection: they are
 * short, and a hand-off would cost more than the answer.
 *
 * poll(), not epoll: MHD 0.9.75's epoll loop keeps a TLS connection on its
 * ready list from accept until the handshake completes (only its
 * post-handshake read path notices EAGAIN), so a worker spins with
 * epoll_wait(0) for as long as a client takes to send its ClientHello and
 * its Finished: one silent TCP client kept a CPU at 93%, and every
 * handshake spun for its round trip (~110 wasted recv() calls per
 * handshake on loopback; a whole RTT per handshake from a remote client).
 * poll() waits on what each connection needs.  Its cost grows with the
 * connections a worker holds (it walks all of them per wake-up): with
 * 1,000 idle keep-alive connections open, GETs on 32 others ran 13-33%
 * slower than with epoll here, which is the price of not burning a CPU
 * per slow client.
 *
 * Requests that change state (publish, delete, key rotation), and with a
 * database behind (opts->storage_blocks) the reads that query it, run
 * instead on a pool of opts->handlers threads shared by all connections,
 * while their connection is suspended.  A connection stays for life on
 * the worker that accepted it (MHD's poll loop accepts one per wake-up,
 * so a burst spreads, but nothing moves a connection later), and the
 * busy ones need not be spread evenly (a load balancer's pool, a CI
 * fleet publishing).  Handled on the worker, their publishes (three
 * signature checks and a signing: 0.5-1 ms of CPU each) would use one
 * CPU while the others idle, and hold up every GET of that worker
 * meanwhile.  On the shared pool they use all of them, whichever worker
 * accepted the connection.  The hand-off has a price, measured on the
 * 2-CPU bench in memory mode: handling publishes on the worker instead
 * took 8% less CPU per publish (context switches 3.2 -> 1.0 per publish)
 * and moved publishes per second by +16%, -2% and +14% in three
 * alternating pairs.
 *
 * A GET of current metadata with a database behind waits on no thread:
 * its connection is suspended while the read it starts from (the GUN's
 * latest timestamp, shared with every concurrent GET of the GUN, see
 * notary-coalesce.h) runs on the repository's fetch threads, and once
 * that read is back the worker answers it from the caches
 * (_notary_http_server_try_handle).  Only a GET that needs more (a file
 * not cached yet, a timestamp to re-sign) goes on to the handlers.  Parking
 * each GET on a handler thread instead cost more CPU in thread wake-ups
 * than the GETs themselves (MariaDB bench, timestamp.json: 13.6k GETs/s
 * parked on threads, 24.7k parked on the read).
 *
 * TLS is GnuTLS inside MHD.  The credentials (chain, key, client CA) live
 * in a refcounted generation that each connection pins when it starts
 * (MHD_CONNECTION_NOTIFY_STARTED sets it on the connection's session,
 * before the handshake): a SIGHUP reload swaps the current generation
 * while established connections keep theirs.  With a client CA the same
 * hook makes a verified client certificate mandatory, so a client without
 * one fails the handshake, as with libsoup's G_TLS_AUTHENTICATION_REQUIRED.
 *
 * The same hook gives GnuTLS our own socket I/O (TlsConnection): the
 * response header record, which MHD sends on its own just before the body
 * record, is held back and leaves with the body record in one sendmsg, so
 * header and body take one syscall and wake the client once.  Reads go
 * straight to the socket: bytes read ahead into a buffer of ours would be
 * invisible to poll() and to MHD, so a request whose last records sat
 * there would never be finished (the real client's publish hung that way).
 */
#define _GNU_SOURCE /* memmem */
#include "notary-http-private.h"
#include "notary-log.h"
#include "notary-tls-keypair.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per-connection pool: request line, headers (a JWT with an x5c chain runs
 * to several KB) and the response header.  MHD zeroes all of it after
 * every request, so it is all resident for every open connection, and
 * bigger is slower.  16 KiB (half MHD's default) takes request headers up
 * to ~15 KB (431 beyond), more than nginx's default 8 KB per header line;
 * against 32 KiB it saved 0.4 MiB of peak RSS under 32 connections. */
#define CONNECTION_MEMORY_BYTES (16 * 1024)
/* Open connections, all workers together (MHD's default is 1020). */
#define CONNECTION_LIMIT 4096
/* How long stop waits for requests in flight once it stopped accepting. */
#define STOP_GRACE_US (5 * G_USEC_PER_SEC)

typedef struct
{
  gint refs;
  gnutls_certificate_credentials_t cred;
} Credentials;

typedef struct
{
  Credentials *cred; /* pinned for the connection's life */
  int fd;
  guint more;       /* records that the next one is sure to follow */
  /* Such a record, held back to leave in one sendmsg with the next. */
  guint8 held[1024];
  gsize held_len;
  gboolean sniffed; /* the first bytes were seen to be TLS */
} TlsConnection;

struct _NotaryHttpTransport
{
  NotaryHttpServer *srv;
  const NotaryHttpOptions *opts;
  struct MHD_Daemon *daemon;
  GThreadPool *handlers;    /* Request*: requests that change state */
  gint deferring;           /* hand-offs under way, and reads ahead not ended */
  gint closing;             /* stop is draining: no more hand-offs */
  GPtrArray *debug_daemons; /* struct MHD_Daemon* */
  gint in_flight;           /* requests between on_uri and on_completed */
  gint stopping;            /* answers close their connection */

  /* TLS: MHD wants a certificate at start even though every connection
   * gets the current generation's credentials instead. */
  NotaryTlsIdentity *identity;
  char *client_ca_pem; /* NULL: no client certificates */
  GMutex cred_lock;
  Credentials *cred; /* current generation; NULL for plain HTTP */
  /* Session tickets (RFC 5077 / TLS 1.3 PSK): a returning client resumes
   * without the RSA signature that dominates a full handshake, as it can
   * with Go's and nginx's servers.  GnuTLS derives rotating ticket keys
   * from this master key; it never leaves the process. */
  gnutls_datum_t ticket_key;
};

typedef struct
{
  NotaryHttpExchange ex;
  NotaryHttpTransport *t;
  struct MHD_Connection *conn;
  char *target; /* request-target as sent; ex.raw_path/raw_query point into it */
  GByteArray *body;
  gboolean headers_seen;
  gboolean handled; /* the handler pool answered; the connection was resumed */
} Request;

/* ---- credentials -------------------------------------------------------- */

static void
credentials_unref (Credentials *c)
{
  if (c != NULL && g_atomic_int_dec_and_test (&c->refs))
    {
      gnutls_certificate_free_credentials (c->cred);
      g_free (c);
    }
}

static Credentials *
credentials_new (const char *cert_pem, const char *key_pem, const char *ca_pem, GError **error)
{
  Credentials *c = g_new0 (Credentials, 1);
  gnutls_datum_t cert = { (unsigned char *) cert_pem, strlen (cert_pem) };
  gnutls_datum_t key = { (unsigned char *) key_pem, strlen (key_pem) };
  int rc;

  c->refs = 1;
  rc = gnutls_certificate_allocate_credentials (&c->cred);
  if (rc == GNUTLS_E_SUCCESS)
    rc = notary_tls_set_key_pair_mem (c->cred, &cert, &key);
  if (rc == GNUTLS_E_SUCCESS && ca_pem != NULL)
    {
      gnutls_datum_t ca = { (unsigned char *) ca_pem, strlen (ca_pem) };
      rc = gnutls_certificate_set_x509_trust_mem (c->cred, &ca, GNUTLS_X509_FMT_PEM);
      if (rc == 0)
        rc = GNUTLS_E_NO_CERTIFICATE_FOUND;
      else if (rc > 0)
        rc = GNUTLS_E_SUCCESS;
    }
  if (rc != GNUTLS_E_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "TLS credentials: %s", gnutls_strerror (rc));
      if (c->cred != NULL)
        gnutls_certificate_free_credentials (c->cred);
      g_free (c);
      return NULL;
    }
  return c;
}

static Credentials *
credentials_current (NotaryHttpTransport *t)
{
  Credentials *c;
  g_mutex_lock (&t->cred_lock);
  c = t->cred;
  if (c != NULL)
    g_atomic_int_inc (&c->refs);
  g_mutex_unlock (&t->cred_lock);
  return c;
}

/* ---- TLS socket I/O ----------------------------------------------------- */

/* What Go's net/http answers a plain HTTP request on a TLS port with, so
 * that someone who typed http:// reads why instead of getting a reset. */
#define PLAIN_HTTP_ANSWER "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

/* Reads and drops what the peer has sent so far, up to 64 KiB (a client
 * that keeps sending must not hold the worker here).  Closing a socket with
 * unread input makes the kernel send a reset instead of a FIN, and a reset
 * can destroy our last words (an answer, an alert) in the peer's buffers
 * before it reads them. */
static void
drain_input (int fd)
{
  guint8 sink[4096];

  for (int i = 0; i < 16 && recv (fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
    ;
}

/* The first five bytes of a connection, where a TLS record header would
 * be: does an HTTP request start there?  The methods net/http checks. */
static gboolean
starts_like_http (const guint8 *hdr)
{
  static const char *const starts[] = { "GET /", "HEAD ", "POST ", "PUT /", "OPTIO" };

  for (gsize i = 0; i < G_N_ELEMENTS (starts); i++)
    if (memcmp (hdr, starts[i], 5) == 0)
      return TRUE;
  return FALSE;
}

/* Before the first read of a connection: a plain HTTP request gets
 * PLAIN_HTTP_ANSWER and the handshake fails.  Returns FALSE then (errno
 * set for GnuTLS), TRUE to read on as TLS.  The request is read off the
 * socket first, so that closing it sends a FIN after the answer, not a
 * reset that could destroy the answer in the client's buffers. */
static gboolean
sniff_first_bytes (TlsConnection *tc)
{
  guint8 hdr[5];
  ssize_t n = recv (tc->fd, hdr, sizeof hdr, MSG_PEEK);

  if (n <= 0)
    return TRUE; /* EAGAIN or end of stream: the real read reports it */
  if (n < (ssize_t) sizeof hdr && hdr[0] != 0x16)
    return TRUE; /* too little to tell; GnuTLS will refuse it if need be */
  tc->sniffed = TRUE;
  if (n < (ssize_t) sizeof hdr || !starts_like_http (hdr))
    return TRUE;
  drain_input (tc->fd);
  (void) !send (tc->fd, PLAIN_HTTP_ANSWER, sizeof PLAIN_HTTP_ANSWER - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  errno = ECONNRESET;
  return FALSE;
}

static ssize_t
tls_pull (gnutls_transport_ptr_t ptr, void *data, size_t len)
{
  TlsConnection *tc = ptr;

  if (G_UNLIKELY (!tc->sniffed) && !sniff_first_bytes (tc))
    return -1;
  return recv (tc->fd, data, len, 0); /* errno tells GnuTLS about EAGAIN */
}

static int
tls_pull_timeout (gnutls_transport_ptr_t ptr, unsigned int ms)
{
  TlsConnection *tc = ptr;
  struct pollfd pfd = { tc->fd, POLLIN, 0 };

  return poll (&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int) ms);
}

/* sendmsg() with the held record (if any) in front of @iov. */
static ssize_t
send_with_held (TlsConnection *tc, const giovec_t *iov, int iovcnt, int flags)
{
  struct iovec v[16];
  struct msghdr msg = { 0 };
  ssize_t sent;

  if (tc->held_len == 0)
    {
      msg.msg_iov = (struct iovec *) iov;
      msg.msg_iovlen = iovcnt;
      return sendmsg (tc->fd, &msg, flags);
    }
  if (iovcnt >= (int) G_N_ELEMENTS (v))
    iovcnt = G_N_ELEMENTS (v) - 1; /* the rest goes in GnuTLS's next call */
  v[0] = (struct iovec){ tc->held, tc->held_len };
  memcpy (v + 1, iov, iovcnt * sizeof *v);
  msg.msg_iov = v;
  msg.msg_iovlen = iovcnt + 1;
  sent = sendmsg (tc->fd, &msg, flags);
  if (sent < 0)
    return sent;
  if ((gsize) sent < tc->held_len)
    {
      /* Not even the held record left whole: keep its rest, and have
       * GnuTLS offer this one again once the socket is writable. */
      memmove (tc->held, tc->held + sent, tc->held_len - sent);
      tc->held_len -= sent;
      errno = EAGAIN;
      return -1;
    }
  sent -= tc->held_len;
  tc->held_len = 0;
  return sent;
}

static ssize_t
tls_push (gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
  TlsConnection *tc = ptr;
  gsize total = 0;

  if (tc->more == 0)
    return send_with_held (tc, iov, iovcnt, MSG_NOSIGNAL);
  tc->more--;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  if (tc->held_len > 0 || total > sizeof tc->held)
    return send_with_held (tc, iov, iovcnt, MSG_NOSIGNAL | MSG_MORE);
  /* Hold it: it leaves with the next record, in one syscall. */
  for (int i = 0; i < iovcnt; i++)
    {
      memcpy (tc->held + tc->held_len, iov[i].iov_base, iov[i].iov_len);
      tc->held_len += iov[i].iov_len;
    }
  return (ssize_t) total;
}

/* With server.client_ca_file: the client's certificate must chain to it.
 * A refusal is sent as a TLS alert before the handshake fails, as the
 * reference does (bad_certificate; certificate_required in TLS 1.3 when
 * none came): MHD would only close the connection, which clients report
 * as a reset with no reason. */
static int
refuse_client_cert (gnutls_session_t session, gnutls_alert_description_t alert, int error)
{
  TlsConnection *tc = gnutls_transport_get_ptr (session);

  /* In TLS 1.3 the client may already have sent its request after its
   * Finished: read it off, or the close would be a reset (drain_input). */
  drain_input (tc->fd);
  gnutls_alert_send (session, GNUTLS_AL_FATAL, alert);
  return error;
}

static int
verify_client_cert (gnutls_session_t session)
{
  unsigned int status = 0;
  unsigned int n_certs = 0;
  int rc;

  if (gnutls_certificate_get_peers (session, &n_certs) == NULL || n_certs == 0)
    return refuse_client_cert (session,
                               gnutls_protocol_get_version (session) == GNUTLS_TLS1_3 ? GNUTLS_A_CERTIFICATE_REQUIRED
                                                                                      : GNUTLS_A_BAD_CERTIFICATE,
                               GNUTLS_E_NO_CERTIFICATE_FOUND);
  rc = gnutls_certificate_verify_peers2 (session, &status);
  if (rc < 0 || status != 0)
    return refuse_client_cert (session, GNUTLS_A_BAD_CERTIFICATE, GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR);
  return 0;
}

static void
on_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
               enum MHD_ConnectionNotificationCode code)
{
  NotaryHttpTransport *t = cls;
  const union MHD_ConnectionInfo *info;
  gnutls_session_t session;
  TlsConnection *tc;
  Credentials *c;

  if (code == MHD_CONNECTION_NOTIFY_CLOSED)
    {
      tc = *socket_context;
      if (tc != NULL)
        {
          credentials_unref (tc->cred);
          g_free (tc);
        }
      *socket_context = NULL;
      return;
    }
  info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == NULL || info->tls_session == NULL || (c = credentials_current (t)) == NULL)
    return;
  session = info->tls_session;
  tc = g_new (TlsConnection, 1);
  tc->cred = c;
  tc->fd = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
  tc->more = 0;
  tc->held_len = 0;
  tc->sniffed = FALSE;
  *socket_context = tc;
  /* Replaces the daemon-wide credentials MHD set; the handshake has not
   * started yet. */
  gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, c->cred);
  gnutls_transport_set_ptr (session, tc);
  gnutls_transport_set_pull_function (session, tls_pull);
  gnutls_transport_set_pull_timeout_function (session, tls_pull_timeout);
  gnutls_transport_set_vec_push_function (session, tls_push);
  if (t->ticket_key.data != NULL)
    gnutls_session_ticket_enable_server (session, &t->ticket_key);
  if (t->client_ca_pem != NULL)
    {
      /* REQUEST, not REQUIRE: with REQUIRE GnuTLS fails a handshake
       * without a certificate before any callback of ours runs, and MHD
       * then closes without an alert; verify_client_cert refuses it
       * instead, with one. */
      gnutls_certificate_server_set_request (session, GNUTLS_CERT_REQUEST);
      gnutls_session_set_verify_function (session, verify_client_cert);
    }
}

/* ---- requests ----------------------------------------------------------- */

static const char *
get_header (NotaryHttpExchange *ex, const char *name)
{
  Request *r = (Request *) ex;
  return MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, name);
}

/* ---- multipart uploads -------------------------------------------------- */

/* MHD's post processor copies the body through a buffer of this size: it
 * must hold a part's header line and twice the boundary (70 bytes at most,
 * RFC 2046).  A longer header line makes the upload malformed (400); a
 * part's Content-Disposition names its role, which the MySQL schema caps
 * at 255 bytes, so 768 leaves room.  It is allocated (calloc'd) once per
 * upload together with MHD's own state; kept with it under 1 KiB, the
 * allocation comes from glibc's small bins.  At 16 KiB it was a large-bin
 * request, which consolidates the thread's fast bins first and grows its
 * heap by page faults: 7.9% of the handler threads' perf samples during
 * publishes.  That work did not go away (the next large allocation, the
 * parts' buffers growing, consolidates instead): CPU per publish measured
 * the same either way, so this is a smaller allocation, not a speed-up. */
#define FORM_BUFFER_BYTES 768

/* The part being put together from the post processor's chunks. */
typedef struct
{
  NotaryHttpPartFunc func;
  gpointer user_data;
  gboolean stopped; /* func said stop */
  guint parts;      /* passed on */
  gboolean in_part;
  char *name;
  char *filename;
  GByteArray *data;
} FormSplit;

static gboolean
form_split_emit (FormSplit *fs)
{
  g_autoptr (GBytes) part = NULL;
  g_autofree char *filename = g_steal_pointer (&fs->filename);
  guint8 *data;
  gsize len;

  if (!fs->in_part)
    return TRUE;
  fs->in_part = FALSE;
  g_clear_pointer (&fs->name, g_free);
  /* exact size, so a stored file holds no slack (realloc shrinks in place) */
  data = g_byte_array_steal (fs->data, &len);
  if (len == 0)
    g_clear_pointer (&data, g_free);
  part = g_bytes_new_take (len > 0 ? g_realloc (data, len) : NULL, len);
  fs->parts++;
  if (!fs->func (filename, part, fs->user_data))
    fs->stopped = TRUE;
  return !fs->stopped;
}

/* The post processor reports a part as chunks at growing offsets, the
 * first at offset 0.  That first one may be empty and followed by
 * another at 0 (the data had not reached its buffer yet), so an empty
 * chunk at 0 opens a part only when the names change.  So an empty part
 * followed by one with the same name and filename reads as one part. */
static enum MHD_Result
on_form_data (void *cls, enum MHD_ValueKind kind, const char *key, const char *filename, const char *content_type,
              const char *transfer_encoding, const char *data, uint64_t off, size_t size)
{
  FormSplit *fs = cls;

  if (off == 0
      && (!fs->in_part || fs->data->len > 0 || g_strcmp0 (key, fs->name) != 0
          || g_strcmp0 (filename, fs->filename) != 0))
    {
      if (!form_split_emit (fs))
        return MHD_NO;
      fs->in_part = TRUE;
      fs->name = g_strdup (key);
      fs->filename = g_strdup (filename);
    }
  if (!fs->in_part || off != fs->data->len)
    return MHD_NO; /* not the chunks of one part in order */
  g_byte_array_append (fs->data, (const guint8 *) data, size);
  return MHD_YES;
}

/* Whether @body holds the close delimiter ("--" boundary "--") of the
 * boundary MHD takes from @ctype (everything after "boundary=", quotes
 * removed).  MHD's parser accepts a body with no delimiter at all as a
 * form without parts; the client's empty publish is a close delimiter
 * alone. */
static gboolean
has_close_delimiter (const char *ctype, const char *body, gsize len)
{
  const char *b = ctype != NULL ? strstr (ctype, "boundary=") : NULL;
  g_autofree char *delimiter = NULL;
  gsize blen;

  if (b == NULL)
    return FALSE;
  b += strlen ("boundary=");
  blen = strlen (b);
  if (blen >= 2 && b[0] == '"' && b[blen - 1] == '"')
    {
      b++;
      blen -= 2;
    }
  delimiter = g_strdup_printf ("--%.*s--", (int) blen, b);
  return body != NULL && memmem (body, len, delimiter, strlen (delimiter)) != NULL;
}

/* libmicrohttpd's post processor.  Called on a handler thread while the
 * connection is suspended: the post processor only reads the request's
 * Content-Type from it, which stays put until the request completes. */
static gboolean
split_form (NotaryHttpExchange *ex, NotaryHttpPartFunc func, gpointer user_data)
{
  Request *r = (Request *) ex;
  FormSplit fs = { func, user_data };
  struct MHD_PostProcessor *pp;
  gsize len = 0;
  const char *body = ex->body != NULL ? g_bytes_get_data (ex->body, &len) : NULL;
  gboolean parsed;

  pp = MHD_create_post_processor (r->conn, FORM_BUFFER_BYTES, on_form_data, &fs);
  if (pp == NULL)
    return FALSE; /* not multipart/form-data, or no boundary */
  fs.data = g_byte_array_new ();
  parsed = (len == 0 || MHD_post_process (pp, body, len) == MHD_YES);
  parsed = MHD_destroy_post_processor (pp) == MHD_YES && parsed;
  if (parsed && !fs.stopped)
    form_split_emit (&fs);
  g_free (fs.name);
  g_free (fs.filename);
  g_byte_array_unref (fs.data);
  if (fs.stopped)
    return TRUE;
  return parsed && (fs.parts > 0 || has_close_delimiter (get_header (ex, "Content-Type"), body, len));
}

/* Called by MHD with the request-target as sent, before it splits off
 * the query and unescapes the path: the core wants both raw. */
static void *
on_uri (void *cls, const char *uri, struct MHD_Connection *conn)
{
  NotaryHttpTransport *t = cls;
  Request *r = g_new0 (Request, 1);
  char *path, *q;

  g_atomic_int_inc (&t->in_flight);
  r->t = t;
  r->conn = conn;
  r->target = g_strdup (uri != NULL ? uri : "");
  path = r->target;
  /* absolute-form (RFC 9112 §3.2.2): keep the path */
  if (g_ascii_strncasecmp (path, "http://", 7) == 0 || g_ascii_strncasecmp (path, "https://", 8) == 0)
    {
      char *slash = strchr (strstr (path, "//") + 2, '/');
      path = slash != NULL ? slash : (char *) "/";
    }
  q = strchr (path, '?');
  if (q != NULL)
    {
      *q = '\0';
      r->ex.raw_query = q + 1;
    }
  r->ex.raw_path = path;
  r->ex.get_header = get_header;
  r->ex.split_form = split_form;
  r->ex.transport_data = conn;
  return r;
}

/* The core does its own unescaping, of the path only. */
static size_t
keep_escaped (void *cls, struct MHD_Connection *conn, char *s)
{
  return strlen (s);
}

static void
on_completed (void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
  NotaryHttpTransport *t = cls;
  Request *r = *req_cls;

  if (r == NULL)
    return;
  g_atomic_int_add (&t->in_flight, -1);
  _notary_http_exchange_clear (&r->ex);
  if (r->body != NULL)
    g_byte_array_unref (r->body);
  g_free (r->target);
  g_free (r);
  *req_cls = NULL;
}

static enum MHD_Result
queue_response (NotaryHttpTransport *t, struct MHD_Connection *conn, NotaryHttpExchange *ex)
{
  struct MHD_Response *resp;
  enum MHD_Result ok;

  /* MHD sends the header record, then at once the body record (none for
   * HEAD or an empty body): tls_push holds the header until the body
   * joins it, so both leave in one sendmsg: one syscall less per
   * response (server CPU per GET 20.8 -> 18.5 us, means of 8 alternating
   * 5 s wrk runs, 32 connections, memory-mode 404; MSG_MORE before). */
  if (ex->response_body != NULL && g_bytes_get_size (ex->response_body) > 0 && !g_str_equal (ex->method, "HEAD"))
    {
      const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
      TlsConnection *tc = info != NULL ? info->socket_context : NULL;
      if (tc != NULL)
        tc->more = 1;
    }
  if (ex->response_body != NULL)
    {
      gsize len;
      const void *data = g_bytes_get_data (ex->response_body, &len);
      GBytes *held = g_bytes_ref (ex->response_body);
      /* zero-copy: the response holds a reference to the bytes */
      resp = MHD_create_response_from_buffer_with_free_callback_cls (
          len, (void *) data, (MHD_ContentReaderFreeCallback) g_bytes_unref, held);
      if (resp == NULL)
        g_bytes_unref (held);
    }
  else
    resp = MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  for (guint i = 0; i < ex->n_headers; i++)
    MHD_add_response_header (resp, ex->headers[i].name, ex->headers[i].value);
  /* shutting down: keep-alive clients go elsewhere after this answer */
  if (g_atomic_int_get (&t->stopping))
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONNECTION, "close");
  ok = MHD_queue_response (conn, ex->status, resp);
  MHD_destroy_response (resp);
  return ok;
}

/* Whether the request announces a body larger than we accept. */
static gboolean
announces_too_large (Request *r, gint64 max)
{
  const char *cl = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  guint64 len;

  if (max <= 0 || cl == NULL)
    return FALSE;
  /* MHD itself refuses a malformed Content-Length */
  return g_ascii_string_to_unsigned (cl, 10, 0, G_MAXUINT64, &len, NULL) && len > (guint64) max;
}

/* Handler pool thread: answers a suspended request.  The connection is
 * left alone by its worker until resumed, so the exchange (and the header
 * lookups it makes into the connection) are ours meanwhile. */
static void
run_handler (gpointer data, gpointer user_data)
{
  Request *r = data;
  NotaryHttpTransport *t = user_data;

  _notary_http_server_handle (t->srv, &r->ex);
  r->handled = TRUE;
  MHD_resume_connection (r->conn);
}

/* Fetch thread: the read a suspended GET waited for ended. */
static void
on_read_ahead (gpointer data)
{
  Request *r = data;
  NotaryHttpTransport *t = r->t;

  MHD_resume_connection (r->conn);
  /* the last touch of the transport on behalf of this read (stop waits) */
  g_atomic_int_add (&t->deferring, -1);
}

/* Suspends the connection while @r is answered on the handler pool, or,
 * for a GET of current metadata, while the read it starts from runs
 * (no thread waits for it: the worker answers once it is back).  FALSE
 * when the transport is stopping: the caller answers on the worker. */
static gboolean
defer (NotaryHttpTransport *t, Request *r)
{
  /* Counted before checking `closing`, which stop sets before it waits
   * for the count to drop: a hand-off either is seen by stop or sees it. */
  g_atomic_int_inc (&t->deferring);
  if (g_atomic_int_get (&t->closing))
    {
      g_atomic_int_add (&t->deferring, -1);
      return FALSE;
    }
  /* MHD calls us again once resumed, on this worker, whatever thread
   * resumed it; resuming before we return is fine. */
  MHD_suspend_connection (r->conn);
  if (r->ex.read == NULL && _notary_http_server_read_ahead (t->srv, &r->ex, on_read_ahead, r))
    return TRUE; /* on_read_ahead uncounts */
  g_thread_pool_push (t->handlers, r, NULL);
  g_atomic_int_add (&t->deferring, -1);
  return TRUE;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
            const char *upload_data, size_t *upload_data_size, void **req_cls)
{
  NotaryHttpTransport *t = cls;
  Request *r = *req_cls;
  gint64 max = t->opts->max_body_bytes;

  if (r == NULL) /* not seen by on_uri: cannot happen, but answer anyway */
    *req_cls = r = on_uri (t, url, conn);
  if (!r->headers_seen)
    {
      r->headers_seen = TRUE;
      r->ex.method = method;
      if (!announces_too_large (r, max))
        return MHD_YES; /* read the body (MHD answers Expect: 100-continue) */
      /* Answering now makes MHD skip the body and close the connection. */
      r->ex.too_large = TRUE;
      _notary_http_server_handle (t->srv, &r->ex);
      return queue_response (t, conn, &r->ex);
    }
  if (*upload_data_size > 0)
    {
      /* chunked bodies announce no size: count as they come */
      if (!r->ex.too_large)
        {
          gsize have = r->body != NULL ? r->body->len : 0;
          if (max > 0 && have + *upload_data_size > (guint64) max)
            {
              r->ex.too_large = TRUE;
              g_clear_pointer (&r->body, g_byte_array_unref);
            }
          else
            {
              if (r->body == NULL)
                r->body = g_byte_array_sized_new (*upload_data_size);
              g_byte_array_append (r->body, (const guint8 *) upload_data, *upload_data_size);
            }
        }
      *upload_data_size = 0;
      return MHD_YES;
    }
  if (r->handled) /* resumed by run_handler */
    return queue_response (t, conn, &r->ex);
  if (r->ex.read != NULL) /* resumed by on_read_ahead (a handler sets `handled`) */
    {
      if (_notary_http_server_try_handle (t->srv, &r->ex))
        return queue_response (t, conn, &r->ex);
      if (defer (t, r)) /* needs more than the read: on to a handler */
        return MHD_YES;
      _notary_http_server_handle (t->srv, &r->ex);
      return queue_response (t, conn, &r->ex);
    }
  if (r->body != NULL)
    r->ex.body = g_byte_array_free_to_bytes (g_steal_pointer (&r->body));
  if (_notary_http_server_may_block (t->srv, method, r->ex.raw_path) && defer (t, r))
    return MHD_YES;
  _notary_http_server_handle (t->srv, &r->ex);
  return queue_response (t, conn, &r->ex);
}

static enum MHD_Result
on_debug_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                  const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
  NotaryHttpTransport *t = cls;
  Request *r = *req_cls;

  if (r == NULL)
    *req_cls = r = on_uri (t, url, conn);
  if (!r->headers_seen)
    {
      r->headers_seen = TRUE;
      r->ex.method = method;
      return MHD_YES;
    }
  if (*upload_data_size > 0)
    {
      *upload_data_size = 0; /* no endpoint takes a body */
      return MHD_YES;
    }
  _notary_http_server_handle_debug (t->srv, &r->ex);
  return queue_response (t, conn, &r->ex);
}

static void
log_mhd (void *cls, const char *fmt, va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  g_strchomp (msg);
  notary_log (NOTARY_LOG_DEBUG, msg, "component", "microhttpd", NULL);
}

/* ---- transport ---------------------------------------------------------- */

NotaryHttpTransport *
_notary_http_transport_new (NotaryHttpServer *srv, const NotaryHttpOptions *opts)
{
  NotaryHttpTransport *t = g_new0 (NotaryHttpTransport, 1);
  t->srv = srv;
  t->opts = opts;
  t->debug_daemons = g_ptr_array_new_with_free_func ((GDestroyNotify) MHD_stop_daemon);
  g_mutex_init (&t->cred_lock);
  if (gnutls_session_ticket_key_generate (&t->ticket_key) < 0)
    t->ticket_key.data = NULL; /* resumption off; full handshakes still work */
  return t;
}

static gboolean
setup_tls (NotaryHttpTransport *t, GError **error)
{
  Credentials *c;

  g_clear_pointer (&t->identity, notary_tls_identity_unref);
  g_clear_pointer (&t->client_ca_pem, g_free);
  t->identity = notary_tls_identity_ref (t->opts->tls_identity);
  if (t->opts->client_ca_file != NULL
      && (t->client_ca_pem = notary_tls_read_ca_bundle (t->opts->client_ca_file, error)) == NULL)
    return FALSE;
  c = credentials_new (notary_tls_identity_get_chain_pem (t->identity), notary_tls_identity_get_key_pem (t->identity),
                       t->client_ca_pem, error);
  if (c == NULL)
    return FALSE;
  g_mutex_lock (&t->cred_lock);
  credentials_unref (t->cred);
  t->cred = c;
  g_mutex_unlock (&t->cred_lock);
  return TRUE;
}

gboolean
_notary_http_transport_listen (NotaryHttpTransport *t, const NotaryListenAddr *addr, guint16 *out_port,
                               GError **error)
{
  gboolean tls = t->opts->tls_identity != NULL;
  /* ITC: MHD_quiesce_daemon needs it */
  unsigned int flags
      = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_USE_ITC;
  int fd;

  g_return_val_if_fail (t->daemon == NULL, FALSE);
  if (tls && !setup_tls (t, error))
    return FALSE;
  fd = notary_listen_bind (addr, FALSE, error);
  if (fd < 0)
    return FALSE;
  if (tls)
    flags |= MHD_USE_TLS;
  flags |= MHD_ALLOW_SUSPEND_RESUME;
  /* exclusive: the threads start now and stay, no spawn per request */
  t->handlers = g_thread_pool_new (run_handler, t, (gint) t->opts->handlers, TRUE, error);
  if (t->handlers == NULL)
    {
      close (fd);
      return FALSE;
    }
  {
    struct MHD_OptionItem ops[16];
    guint n = 0;
#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){ (o), (intptr_t) (v), (p) }
    OPT (MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    if (t->opts->workers > 1)
      OPT (MHD_OPTION_THREAD_POOL_SIZE, t->opts->workers, NULL);
    OPT (MHD_OPTION_URI_LOG_CALLBACK, on_uri, t);
    OPT (MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL);
    OPT (MHD_OPTION_NOTIFY_COMPLETED, on_completed, t);
    OPT (MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_BYTES, NULL);
    OPT (MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL);
    OPT (MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL);
    if (tls)
      {
        OPT (MHD_OPTION_NOTIFY_CONNECTION, on_connection, t);
        OPT (MHD_OPTION_HTTPS_MEM_CERT, 0, (void *) notary_tls_identity_get_chain_pem (t->identity));
        OPT (MHD_OPTION_HTTPS_MEM_KEY, 0, (void *) notary_tls_identity_get_key_pem (t->identity));
      }
    OPT (MHD_OPTION_END, 0, NULL);
#undef OPT
    g_assert (n <= G_N_ELEMENTS (ops));
    /* On failure MHD may or may not have closed @fd; the server exits then. */
    t->daemon = MHD_start_daemon (flags, 0, NULL, NULL, on_request, t, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
  }
  if (t->daemon == NULL)
    {
      g_thread_pool_free (g_steal_pointer (&t->handlers), TRUE, FALSE);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the HTTP%s server", tls ? "S" : "");
      return FALSE;
    }
  *out_port = notary_listen_socket_port (fd);
  return TRUE;
}

void
_notary_http_transport_set_identity (NotaryHttpTransport *t, NotaryTlsIdentity *identity)
{
  g_autoptr (GError) error = NULL;
  Credentials *c;

  if (t->cred == NULL)
    return; /* plain HTTP: nothing to swap */
  c = credentials_new (notary_tls_identity_get_chain_pem (identity), notary_tls_identity_get_key_pem (identity),
                       t->client_ca_pem, &error);
  if (c == NULL)
    {
      notary_log (NOTARY_LOG_ERROR, error->message, NULL);
      return;
    }
  g_mutex_lock (&t->cred_lock);
  credentials_unref (t->cred);
  t->cred = c;
  g_mutex_unlock (&t->cred_lock);
}

void
_notary_http_transport_stop (NotaryHttpTransport *t)
{
  MHD_socket listen_fd;
  gint64 deadline = g_get_monotonic_time () + STOP_GRACE_US;

  if (t->daemon == NULL)
    return;
  /* Stop accepting, then let the requests in flight be answered (and
   * sent: on_completed runs after the last byte) before MHD closes every
   * connection. */
  g_atomic_int_set (&t->stopping, TRUE);
  listen_fd = MHD_quiesce_daemon (t->daemon);
  while (g_atomic_int_get (&t->in_flight) > 0 && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  /* Every suspended request must be answered and resumed before MHD
   * closes the connections: it would free them under the handlers, or
   * under the reads ahead (they end within storage's own timeouts).  A
   * keep-alive client may still send requests: from now on they are
   * answered on their worker. */
  g_atomic_int_set (&t->closing, TRUE);
  while (g_atomic_int_get (&t->deferring) > 0)
    g_usleep (1000);
  if (t->handlers != NULL)
    g_thread_pool_free (g_steal_pointer (&t->handlers), FALSE, TRUE);
  g_clear_pointer (&t->daemon, MHD_stop_daemon);
  if (listen_fd != MHD_INVALID_SOCKET)
    close (listen_fd); /* quiesced: ours again */
}

gboolean
_notary_http_transport_listen_debug (NotaryHttpTransport *t, const NotaryListenAddr *addr, GError **error)
{
  int fd = notary_listen_bind (addr, FALSE, error);
  struct MHD_Daemon *d;

  if (fd < 0)
    return FALSE;
  d = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                        on_debug_request, t, MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                        MHD_OPTION_URI_LOG_CALLBACK, on_uri, t, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, t, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                        MHD_OPTION_END);
  if (d == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the debug HTTP server");
      return FALSE;
    }
  g_ptr_array_add (t->debug_daemons, d);
  return TRUE;
}

void
_notary_http_transport_free (NotaryHttpTransport *t)
{
  if (t == NULL)
    return;
  _notary_http_transport_stop (t);
  g_ptr_array_unref (t->debug_daemons);
  credentials_unref (t->cred);
  g_mutex_clear (&t->cred_lock);
  g_clear_pointer (&t->identity, notary_tls_identity_unref);
  g_free (t->client_ca_pem);
  if (t->ticket_key.data != NULL)
    {
      gnutls_memset (t->ticket_key.data, 0, t->ticket_key.size);
      gnutls_free (t->ticket_key.data);
    }
  g_free (t);
}
