/* notary-grpc.c — unary gRPC over nghttp2 over GnuTLS (see notary-grpc.h).
 *
 * Threading model.  The server has one accept thread and one thread per
 * TLS connection; a connection thread runs the HTTP/2 session and calls the
 * handler inline (handlers are short: a key lookup and one signature).
 * notary-server keeps a single connection open, so this is all the
 * concurrency the signer needs, and no handler can stall the daemon's main
 * loop.  The client owns one connection guarded by a mutex: calls are
 * serialised, which is plenty for a timestamp signer and keeps every
 * nghttp2 callback on the calling thread (nghttp2 sessions are not
 * thread-safe).
 *
 * Sockets are non-blocking and every wait is a poll(2) bounded by a
 * deadline, so a silent peer can never hang a thread for ever.
 */
#define _GNU_SOURCE /* accept4 */
#include "notary-grpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <nghttp2/nghttp2.h>

#include "notary-build-config.h"
#include "notary-tls-keypair.h"

G_DEFINE_QUARK (notary-grpc-error-quark, notary_grpc_error)

#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define HANDSHAKE_TIMEOUT_USEC (10 * G_USEC_PER_SEC)
#define SERVER_WRITE_TIMEOUT_USEC (30 * G_USEC_PER_SEC)
#define SERVER_POLL_MS 250
#define SERVER_MAX_CONNECTIONS 128

static const gnutls_datum_t alpn_h2 = { (unsigned char *) "h2", 2 };

const char *
notary_grpc_status_to_string (NotaryGrpcStatus status)
{
  static const char *const names[] = {
    "OK",           "Canceled",           "Unknown",        "InvalidArgument",  "DeadlineExceeded",
    "NotFound",     "AlreadyExists",      "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",      "OutOfRange",         "Unimplemented",  "Internal",         "Unavailable",
    "DataLoss",     "Unauthenticated",
  };
  if ((guint) status < G_N_ELEMENTS (names))
    return names[status];
  return "Unknown";
}

/* ---- message helpers ---------------------------------------------------- */

GBytes *
notary_grpc_pack (const ProtobufCMessage *message)
{
  gsize len = protobuf_c_message_get_packed_size (message);
  guint8 *buf = g_malloc (MAX (len, 1));
  protobuf_c_message_pack (message, buf);
  return g_bytes_new_take (buf, len);
}

ProtobufCMessage *
notary_grpc_unpack (const ProtobufCMessageDescriptor *descriptor, GBytes *bytes, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  ProtobufCMessage *msg = protobuf_c_message_unpack (descriptor, NULL, len, data);
  if (msg == NULL)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   "grpc: error unmarshalling request: malformed %s", descriptor->name);
      return NULL;
    }
  return msg;
}

GBytes *
notary_grpc_frame (GBytes *message)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);
  guint8 *buf = g_malloc (len + 5);
  buf[0] = 0;
  buf[1] = (len >> 24) & 0xff;
  buf[2] = (len >> 16) & 0xff;
  buf[3] = (len >> 8) & 0xff;
  buf[4] = len & 0xff;
  if (len > 0)
    memcpy (buf + 5, data, len);
  return g_bytes_new_take (buf, len + 5);
}

GBytes *
notary_grpc_unframe (const guint8 *data, gsize len, GError **error)
{
  guint32 msg_len;

  if (len < 5)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   len == 0 ? "grpc: no message received" : "grpc: truncated message header");
      return NULL;
    }
  if (data[0] != 0)
    {
      /* We never negotiate compression (no grpc-encoding), so a compressed
       * message is a protocol violation from our point of view. */
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED,
                   "grpc: compressed message received but no compressor is installed");
      return NULL;
    }
  msg_len = ((guint32) data[1] << 24) | ((guint32) data[2] << 16) | ((guint32) data[3] << 8) | data[4];
  if (msg_len > NOTARY_GRPC_MAX_MESSAGE)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_RESOURCE_EXHAUSTED,
                   "grpc: received message larger than max (%u vs. %d)", msg_len, NOTARY_GRPC_MAX_MESSAGE);
      return NULL;
    }
  if ((gsize) msg_len + 5 != len)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   (gsize) msg_len + 5 > len ? "grpc: truncated message"
                                            : "grpc: more than one message in a unary call");
      return NULL;
    }
  return g_bytes_new (data + 5, msg_len);
}

char *
notary_grpc_percent_encode (const char *text)
{
  GString *out = g_string_new (NULL);
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p < 0x20 || *p > 0x7e || *p == '%')
        g_string_append_printf (out, "%%%02X", *p);
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

char *
notary_grpc_percent_decode (const char *text)
{
  GString *out = g_string_new (NULL);
  for (const char *p = text; *p != '\0'; p++)
    {
      if (p[0] == '%' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
          p += 2;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

gboolean
notary_grpc_timeout_parse (const char *text, gint64 *out_usec)
{
  gsize len = text != NULL ? strlen (text) : 0;
  guint64 value = 0;
  gint64 unit;

  if (len < 2 || len > 9)
    return FALSE;
  for (gsize i = 0; i + 1 < len; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      value = value * 10 + (guint64) (text[i] - '0');
    }
  switch (text[len - 1])
    {
    case 'H': unit = G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC; break;
    case 'M': unit = G_GINT64_CONSTANT (60) * G_USEC_PER_SEC; break;
    case 'S': unit = G_USEC_PER_SEC; break;
    case 'm': unit = 1000; break;
    case 'u': unit = 1; break;
    case 'n': *out_usec = (gint64) (value / 1000); return TRUE;
    default: return FALSE;
    }
  *out_usec = (gint64) value * unit; /* 8 digits × 1 h fits in 64 bits */
  return TRUE;
}

char *
notary_grpc_timeout_format (gint64 usec)
{
  /* Largest precision that fits the 8-digit limit. */
  if (usec < 0)
    usec = 0;
  if (usec < 100000000)
    return g_strdup_printf ("%" G_GINT64_FORMAT "u", usec);
  if (usec / 1000 < 100000000)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", usec / 1000);
  if (usec / G_USEC_PER_SEC < 100000000)
    return g_strdup_printf ("%" G_GINT64_FORMAT "S", usec / G_USEC_PER_SEC);
  return g_strdup ("99999999S");
}

/* ---- TLS and HTTP/2 plumbing shared by both sides ------------------------ */

typedef struct
{
  int fd;
  gnutls_session_t tls;
  nghttp2_session *h2;
} H2Conn;

static void
h2_conn_clear (H2Conn *c)
{
  if (c->h2 != NULL)
    nghttp2_session_del (c->h2);
  if (c->tls != NULL)
    gnutls_deinit (c->tls);
  if (c->fd >= 0)
    close (c->fd);
  c->h2 = NULL;
  c->tls = NULL;
  c->fd = -1;
}

/* Milliseconds left until @deadline (monotonic µs), for poll(2). */
static int
ms_until (gint64 deadline)
{
  gint64 left;
  if (deadline == G_MAXINT64)
    return -1;
  left = deadline - g_get_monotonic_time ();
  if (left <= 0)
    return 0;
  return (int) MIN ((left + 999) / 1000, G_MAXINT);
}

/* Wait for @events on @fd; FALSE with a DEADLINE_EXCEEDED error on time-out. */
static gboolean
wait_fd (int fd, short events, gint64 deadline, GError **error)
{
  for (;;)
    {
      struct pollfd p = { fd, events, 0 };
      int ms = ms_until (deadline);
      int r;
      if (ms == 0)
        break;
      r = poll (&p, 1, ms);
      if (r > 0)
        return TRUE;
      if (r < 0 && errno != EINTR)
        {
          g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "poll: %s",
                       g_strerror (errno));
          return FALSE;
        }
    }
  g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED,
                       "context deadline exceeded");
  return FALSE;
}

/* GnuTLS writes with plain send(2): a peer that went away would raise
 * SIGPIPE and kill the daemon (or the notary-server hosting the plugin).
 * Write with MSG_NOSIGNAL instead of relying on every host ignoring it. */
static ssize_t
tls_push_nosignal (gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
  struct msghdr msg = { 0 };
  msg.msg_iov = (struct iovec *) iov;
  msg.msg_iovlen = (size_t) iovcnt;
  return sendmsg ((int) (intptr_t) ptr, &msg, MSG_NOSIGNAL);
}

static void
tls_set_fd (gnutls_session_t tls, int fd)
{
  gnutls_transport_set_int (tls, fd);
  gnutls_transport_set_vec_push_function (tls, tls_push_nosignal);
}

static gboolean
set_nonblocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);
  return flags >= 0 && fcntl (fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

static gboolean
tls_handshake (H2Conn *c, gint64 deadline, GError **error)
{
  for (;;)
    {
      int r = gnutls_handshake (c->tls);
      if (r == GNUTLS_E_SUCCESS)
        break;
      if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        {
          short ev = gnutls_record_get_direction (c->tls) ? POLLOUT : POLLIN;
          if (!wait_fd (c->fd, ev, deadline, error))
            return FALSE;
          continue;
        }
      if (!gnutls_error_is_fatal (r))
        continue;
      /* Tell the peer why (e.g. bad_certificate), as Go's TLS stack does,
       * instead of a bare connection reset. */
      gnutls_alert_send_appropriate (c->tls, r);
      if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
        {
          gnutls_datum_t out = { NULL, 0 };
          unsigned status = gnutls_session_get_verify_cert_status (c->tls);
          gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &out, 0);
          g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                       "authentication handshake failed: %s", out.data != NULL ? (char *) out.data : "");
          gnutls_free (out.data);
        }
      else
        g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                     "authentication handshake failed: %s", gnutls_strerror (r));
      return FALSE;
    }

  /* We only speak HTTP/2; a peer that negotiated something else via ALPN
   * would not understand us.  A peer offering no ALPN at all is tolerated,
   * as grpc-go 1.47 tolerates it. */
  {
    gnutls_datum_t proto = { NULL, 0 };
    if (gnutls_alpn_get_selected_protocol (c->tls, &proto) == 0
        && !(proto.size == 2 && memcmp (proto.data, "h2", 2) == 0))
      {
        g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                     "authentication handshake failed: ALPN negotiated %.*s, not h2", (int) proto.size,
                     proto.data);
        return FALSE;
      }
  }
  return TRUE;
}

static gboolean
tls_send_all (H2Conn *c, const guint8 *data, gsize len, gint64 deadline, GError **error)
{
  gsize off = 0;
  while (off < len)
    {
      ssize_t r = gnutls_record_send (c->tls, data + off, len - off);
      if (r >= 0)
        {
          off += (gsize) r;
          continue;
        }
      if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        {
          if (!wait_fd (c->fd, POLLOUT, deadline, error))
            return FALSE;
          continue;
        }
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                   "transport: write failed: %s", gnutls_strerror ((int) r));
      return FALSE;
    }
  return TRUE;
}

/* Send everything nghttp2 has queued. */
static gboolean
h2_flush (H2Conn *c, gint64 deadline, GError **error)
{
  for (;;)
    {
      const uint8_t *data = NULL;
      ssize_t n = nghttp2_session_mem_send (c->h2, &data);
      if (n < 0)
        {
          g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "http2: %s",
                       nghttp2_strerror ((int) n));
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      if (!tls_send_all (c, data, (gsize) n, deadline, error))
        return FALSE;
    }
}

/* Read what is available (waiting at most @timeout_ms) and feed nghttp2.
 * \return 1 when bytes were processed, 0 on time-out, -1 on error/EOF. */
static int
h2_read_once (H2Conn *c, int timeout_ms, GError **error)
{
  guint8 buf[16384];
  ssize_t n;
  ssize_t rv;

  if (gnutls_record_check_pending (c->tls) == 0)
    {
      struct pollfd p = { c->fd, POLLIN, 0 };
      int r = poll (&p, 1, timeout_ms);
      if (r == 0 || (r < 0 && errno == EINTR))
        return 0;
      if (r < 0)
        {
          g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "poll: %s",
                       g_strerror (errno));
          return -1;
        }
    }
  n = gnutls_record_recv (c->tls, buf, sizeof buf);
  if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
    return 0;
  if (n == 0)
    {
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                           "transport is closing: connection closed by peer");
      return -1;
    }
  if (n < 0)
    {
      if (!gnutls_error_is_fatal ((int) n))
        return 0;
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "transport is closing: %s",
                   gnutls_strerror ((int) n));
      return -1;
    }
  rv = nghttp2_session_mem_recv (c->h2, buf, (size_t) n);
  if (rv < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "http2: %s",
                   nghttp2_strerror ((int) rv));
      return -1;
    }
  return 1;
}

#define NV(n, v)                                                                                   \
  {                                                                                                \
    (uint8_t *) (n), (uint8_t *) (v), strlen (n), strlen (v), NGHTTP2_NV_FLAG_NONE                 \
  }

static gboolean
file_readable (const char *what, const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR) && access (path, R_OK) == 0)
    return TRUE;
  g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "open %s: %s", path,
               g_file_test (path, G_FILE_TEST_EXISTS) ? "permission denied" : "no such file or directory");
  return FALSE;
}

static gboolean
load_key_pair (gnutls_certificate_credentials_t creds, const char *cert_file, const char *key_file,
               GError **error)
{
  g_autoptr (GError) local = NULL;
  int r;

  if (cert_file == NULL || key_file == NULL || !file_readable ("cert", cert_file, &local)
      || !file_readable ("key", key_file, &local))
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   "Could not load X509 key pair (cert: \"%s\", key: \"%s\"): %s",
                   cert_file != NULL ? cert_file : "", key_file != NULL ? key_file : "",
                   local != NULL ? local->message : "open : no such file or directory");
      return FALSE;
    }
  r = notary_tls_set_key_pair_file (creds, cert_file, key_file);
  if (r < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   "Could not load X509 key pair (cert: \"%s\", key: \"%s\"): %s", cert_file, key_file,
                   gnutls_strerror (r));
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_trust (gnutls_certificate_credentials_t creds, const char *ca_file, GError **error)
{
  int r;
  if (ca_file == NULL)
    r = gnutls_certificate_set_x509_system_trust (creds);
  else
    {
      if (!file_readable ("ca", ca_file, error))
        return FALSE;
      r = gnutls_certificate_set_x509_trust_file (creds, ca_file, GNUTLS_X509_FMT_PEM);
    }
  if (r <= 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   "could not load CA certificates from %s: %s", ca_file != NULL ? ca_file : "the system store",
                   r < 0 ? gnutls_strerror (r) : "no certificates found");
      return FALSE;
    }
  return TRUE;
}

/* ---- server ------------------------------------------------------------- */

struct _NotaryGrpcServer
{
  gnutls_certificate_credentials_t creds;
  gnutls_priority_t priority;
  gboolean require_client_cert;
  NotaryGrpcHandler handler;
  gpointer user_data;

  int listen_fd;
  GThread *accept_thread;
  gint stopping; /* atomic */

  GMutex lock;
  GCond idle;
  guint n_connections; /* under @lock */
};

typedef struct
{
  NotaryGrpcServer *server;
  H2Conn conn;
  char *peer;
  /* Live ServerStreams (owned): nghttp2_session_del() does not report
   * streams still open when a connection dies, so we free them here. */
  GHashTable *streams;
} ServerConn;

typedef struct
{
  char *path;
  char *method;
  char *content_type;
  GByteArray *body;
  gboolean too_big;
  GBytes *response; /* framed */
  gsize sent;
} ServerStream;

static void
server_stream_free (ServerStream *s)
{
  g_free (s->path);
  g_free (s->method);
  g_free (s->content_type);
  g_byte_array_unref (s->body);
  g_clear_pointer (&s->response, g_bytes_unref);
  g_free (s);
}

static int
server_on_begin_headers (nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    {
      ServerConn *sc = user_data;
      ServerStream *s = g_new0 (ServerStream, 1);
      s->body = g_byte_array_new ();
      g_hash_table_add (sc->streams, s);
      nghttp2_session_set_stream_user_data (session, frame->hd.stream_id, s);
    }
  return 0;
}

static int
server_on_header (nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                  const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
  ServerStream *s;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  s = nghttp2_session_get_stream_user_data (session, frame->hd.stream_id);
  if (s == NULL)
    return 0;
  if (namelen == 5 && memcmp (name, ":path", 5) == 0)
    g_free (s->path), s->path = g_strndup ((const char *) value, valuelen);
  else if (namelen == 7 && memcmp (name, ":method", 7) == 0)
    g_free (s->method), s->method = g_strndup ((const char *) value, valuelen);
  else if (namelen == 12 && memcmp (name, "content-type", 12) == 0)
    g_free (s->content_type), s->content_type = g_strndup ((const char *) value, valuelen);
  return 0;
}

static int
server_on_data_chunk (nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *user_data)
{
  ServerStream *s = nghttp2_session_get_stream_user_data (session, stream_id);
  if (s == NULL)
    return 0;
  if (s->body->len + len > NOTARY_GRPC_MAX_MESSAGE + 5)
    s->too_big = TRUE;
  else
    g_byte_array_append (s->body, data, (guint) len);
  return 0;
}

static ssize_t
server_read_response (nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                      uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
  ServerStream *s = source->ptr;
  gsize total = 0;
  const guint8 *data = g_bytes_get_data (s->response, &total);
  gsize n = MIN (length, total - s->sent);

  memcpy (buf, data + s->sent, n);
  s->sent += n;
  if (s->sent == total)
    {
      /* The stream ends with the trailers, not with this DATA frame. */
      nghttp2_nv trailers[] = { NV ("grpc-status", "0") };
      *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (nghttp2_submit_trailer (session, stream_id, trailers, G_N_ELEMENTS (trailers)) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  return (ssize_t) n;
}

static void
server_respond_error (nghttp2_session *session, int32_t stream_id, int code, const char *message)
{
  g_autofree char *code_str = g_strdup_printf ("%d", code);
  g_autofree char *encoded = notary_grpc_percent_encode (message != NULL ? message : "");
  nghttp2_nv hdrs[] = {
    NV (":status", "200"),
    NV ("content-type", "application/grpc"),
    NV ("grpc-status", code_str),
    NV ("grpc-message", encoded),
  };
  /* Trailers-only response: one HEADERS frame with END_STREAM. */
  nghttp2_submit_response (session, stream_id, hdrs, encoded[0] != '\0' ? 4 : 3, NULL);
}

static gboolean
content_type_is_grpc (const char *ct)
{
  /* "application/grpc", "application/grpc+proto", "application/grpc;…" */
  if (ct == NULL || !g_str_has_prefix (ct, "application/grpc"))
    return FALSE;
  return ct[16] == '\0' || ct[16] == '+' || ct[16] == ';';
}

static void
server_dispatch (NotaryGrpcServer *server, nghttp2_session *session, int32_t stream_id, ServerStream *s)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GBytes) response = NULL;

  if (g_strcmp0 (s->method, "POST") != 0 || !content_type_is_grpc (s->content_type) || s->path == NULL)
    {
      /* Not gRPC at all: grpc-go resets such streams. */
      nghttp2_submit_rst_stream (session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
  if (s->too_big)
    {
      server_respond_error (session, stream_id, NOTARY_GRPC_STATUS_RESOURCE_EXHAUSTED,
                            "grpc: received message larger than max");
      return;
    }
  request = notary_grpc_unframe (s->body->data, s->body->len, &error);
  if (request != NULL)
    response = server->handler (s->path, request, server->user_data, &error);
  if (response == NULL)
    {
      int code = NOTARY_GRPC_STATUS_UNKNOWN;
      if (error != NULL && error->domain == NOTARY_GRPC_ERROR)
        code = error->code;
      if (code == NOTARY_GRPC_STATUS_OK)
        code = NOTARY_GRPC_STATUS_UNKNOWN;
      server_respond_error (session, stream_id, code, error != NULL ? error->message : "handler failed");
      return;
    }
  {
    nghttp2_nv hdrs[] = { NV (":status", "200"), NV ("content-type", "application/grpc") };
    nghttp2_data_provider prd;
    s->response = notary_grpc_frame (response);
    s->sent = 0;
    prd.source.ptr = s;
    prd.read_callback = server_read_response;
    nghttp2_submit_response (session, stream_id, hdrs, G_N_ELEMENTS (hdrs), &prd);
  }
}

static int
server_on_frame_recv (nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
  ServerConn *sc = user_data;
  ServerStream *s;

  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
      || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  s = nghttp2_session_get_stream_user_data (session, frame->hd.stream_id);
  if (s != NULL && s->response == NULL)
    server_dispatch (sc->server, session, frame->hd.stream_id, s);
  return 0;
}

static int
server_on_stream_close (nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
  ServerConn *sc = user_data;
  ServerStream *s = nghttp2_session_get_stream_user_data (session, stream_id);
  if (s != NULL)
    {
      nghttp2_session_set_stream_user_data (session, stream_id, NULL);
      g_hash_table_remove (sc->streams, s);
    }
  return 0;
}

static void
server_conn_run (ServerConn *sc)
{
  NotaryGrpcServer *server = sc->server;
  H2Conn *c = &sc->conn;
  g_autoptr (GError) error = NULL;
  nghttp2_session_callbacks *cbs = NULL;
  nghttp2_settings_entry settings[] = {
    { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
  };

  if (gnutls_init (&c->tls, GNUTLS_SERVER) < 0)
    return;
  gnutls_priority_set (c->tls, server->priority);
  gnutls_credentials_set (c->tls, GNUTLS_CRD_CERTIFICATE, server->creds);
  if (server->require_client_cert)
    {
      /* Verify the client chain during the handshake against the
       * client_ca_file anchors only, for the clientAuth purpose as Go does. */
      gnutls_typed_vdata_st purpose = { GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT, 0 };
      gnutls_certificate_server_set_request (c->tls, GNUTLS_CERT_REQUIRE);
      /* Do not advertise acceptable CA names: a GnuTLS client withholds a
       * certificate whose issuer is not listed, and with a client_ca_file
       * holding the client's own leaf (a trust anchor for Go) nothing
       * would match.  Go clients send their certificate regardless. */
      gnutls_certificate_send_x509_rdn_sequence (c->tls, 1);
      gnutls_session_set_verify_cert2 (c->tls, &purpose, 1, 0);
    }
  gnutls_alpn_set_protocols (c->tls, &alpn_h2, 1, 0);
  tls_set_fd (c->tls, c->fd);

  if (!tls_handshake (c, g_get_monotonic_time () + HANDSHAKE_TIMEOUT_USEC, &error))
    {
      g_debug ("grpc: Server.Serve failed to complete security handshake from \"%s\": %s", sc->peer,
               error->message);
      return;
    }

  nghttp2_session_callbacks_new (&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback (cbs, server_on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback (cbs, server_on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback (cbs, server_on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback (cbs, server_on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback (cbs, server_on_stream_close);
  nghttp2_session_server_new (&c->h2, cbs, sc);
  nghttp2_session_callbacks_del (cbs);
  nghttp2_submit_settings (c->h2, NGHTTP2_FLAG_NONE, settings, G_N_ELEMENTS (settings));

  while (!g_atomic_int_get (&server->stopping))
    {
      if (!h2_flush (c, g_get_monotonic_time () + SERVER_WRITE_TIMEOUT_USEC, &error))
        break;
      if (!nghttp2_session_want_read (c->h2) && !nghttp2_session_want_write (c->h2))
        break;
      if (h2_read_once (c, SERVER_POLL_MS, &error) < 0)
        break;
    }
  if (g_atomic_int_get (&server->stopping))
    {
      g_autoptr (GError) ignored = NULL;
      nghttp2_session_terminate_session (c->h2, NGHTTP2_NO_ERROR);
      h2_flush (c, g_get_monotonic_time () + G_USEC_PER_SEC, &ignored);
    }
  if (error != NULL)
    g_debug ("grpc: connection from %s closed: %s", sc->peer, error->message);
  gnutls_bye (c->tls, GNUTLS_SHUT_WR);
}

static gpointer
server_conn_thread (gpointer data)
{
  ServerConn *sc = data;
  NotaryGrpcServer *server = sc->server;

  sc->streams = g_hash_table_new_full (g_direct_hash, g_direct_equal, (GDestroyNotify) server_stream_free, NULL);
  server_conn_run (sc);
  h2_conn_clear (&sc->conn);
  g_hash_table_destroy (sc->streams);
  g_free (sc->peer);
  g_free (sc);

  g_mutex_lock (&server->lock);
  server->n_connections--;
  g_cond_broadcast (&server->idle);
  g_mutex_unlock (&server->lock);
  return NULL;
}

static char *
sockaddr_to_string (const struct sockaddr *sa, socklen_t len)
{
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (getnameinfo (sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return g_strdup ("?");
  if (sa->sa_family == AF_INET6)
    return g_strdup_printf ("[%s]:%s", host, serv);
  return g_strdup_printf ("%s:%s", host, serv);
}

static gpointer
server_accept_thread (gpointer data)
{
  NotaryGrpcServer *server = data;

  while (!g_atomic_int_get (&server->stopping))
    {
      struct pollfd p = { server->listen_fd, POLLIN, 0 };
      struct sockaddr_storage ss;
      socklen_t sslen = sizeof ss;
      ServerConn *sc;
      GThread *thread;
      GError *error = NULL;
      int one = 1;
      int fd;

      if (poll (&p, 1, SERVER_POLL_MS) <= 0)
        continue;
      fd = accept4 (server->listen_fd, (struct sockaddr *) &ss, &sslen, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0)
        continue;
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

      g_mutex_lock (&server->lock);
      if (server->n_connections >= SERVER_MAX_CONNECTIONS)
        {
          g_mutex_unlock (&server->lock);
          g_warning ("grpc: too many connections, refusing one");
          close (fd);
          continue;
        }
      server->n_connections++;
      g_mutex_unlock (&server->lock);

      sc = g_new0 (ServerConn, 1);
      sc->server = server;
      sc->conn.fd = fd;
      sc->peer = sockaddr_to_string ((struct sockaddr *) &ss, sslen);
      thread = g_thread_try_new ("grpc-conn", server_conn_thread, sc, &error);
      if (thread == NULL)
        {
          g_warning ("grpc: cannot start a connection thread: %s", error->message);
          g_error_free (error);
          h2_conn_clear (&sc->conn);
          g_free (sc->peer);
          g_free (sc);
          g_mutex_lock (&server->lock);
          server->n_connections--;
          g_mutex_unlock (&server->lock);
          continue;
        }
      g_thread_unref (thread); /* detached: counted by n_connections */
    }
  return NULL;
}

NotaryGrpcServer *
notary_grpc_server_new (const char *cert_file, const char *key_file, const char *client_ca_file,
                        NotaryGrpcHandler handler, gpointer user_data, GError **error)
{
  g_autoptr (NotaryGrpcServer) server = g_new0 (NotaryGrpcServer, 1);
  int r;

  server->listen_fd = -1;
  g_mutex_init (&server->lock);
  g_cond_init (&server->idle);
  server->handler = handler;
  server->user_data = user_data;

  gnutls_certificate_allocate_credentials (&server->creds);
  if (!load_key_pair (server->creds, cert_file, key_file, error))
    return NULL;
  if (client_ca_file != NULL && client_ca_file[0] != '\0')
    {
      if (!load_trust (server->creds, client_ca_file, error))
        return NULL;
      server->require_client_cert = TRUE;
    }
  r = gnutls_priority_init (&server->priority, TLS_PRIORITY, NULL);
  if (r < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "TLS priority: %s",
                   gnutls_strerror (r));
      return NULL;
    }
  return g_steal_pointer (&server);
}

static gboolean
split_host_port (const char *address, char **out_host, char **out_port, GError **error)
{
  const char *colon = strrchr (address, ':');
  g_autofree char *host = NULL;

  if (colon == NULL)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT,
                   "listen tcp: address %s: missing port in address", address);
      return FALSE;
    }
  host = g_strndup (address, (gsize) (colon - address));
  if (host[0] == '[')
    {
      gsize n = strlen (host);
      if (n < 2 || host[n - 1] != ']')
        {
          g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT,
                       "listen tcp: address %s: missing ']' in address", address);
          return FALSE;
        }
      memmove (host, host + 1, n - 2);
      host[n - 2] = '\0';
    }
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, NULL, NULL))
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT,
                   "listen tcp: address %s: invalid port", colon + 1);
      return FALSE;
    }
  *out_host = g_steal_pointer (&host);
  *out_port = g_strdup (colon + 1);
  return TRUE;
}

gboolean
notary_grpc_server_start (NotaryGrpcServer *server, const char *address, guint16 *out_port, GError **error)
{
  g_autofree char *host = NULL;
  g_autofree char *port = NULL;
  struct addrinfo hints = { 0 };
  struct addrinfo *res = NULL;
  int last_errno = 0;
  int fd = -1;
  int r;

  g_return_val_if_fail (server->listen_fd < 0, FALSE);
  if (!split_host_port (address, &host, &port, error))
    return FALSE;

  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  r = getaddrinfo (host[0] != '\0' ? host : NULL, port, &hints, &res);
  if (r != 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "listen tcp: lookup %s: %s", host,
                   gai_strerror (r));
      return FALSE;
    }
  /* For ":port" prefer one dual-stack IPv6 socket, as Go listens. */
  for (int pass = 0; pass < 2 && fd < 0; pass++)
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
      {
        int one = 1, zero = 0;
        if (host[0] == '\0' && (pass == 0) != (ai->ai_family == AF_INET6))
          continue;
        if (host[0] != '\0' && pass == 1)
          break;
        fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
          {
            last_errno = errno;
            continue;
          }
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6 && host[0] == '\0')
          setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind (fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen (fd, 128) != 0)
          {
            last_errno = errno;
            close (fd);
            fd = -1;
          }
      }
  freeaddrinfo (res);
  if (fd < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "listen tcp %s: bind: %s", address,
                   g_strerror (last_errno != 0 ? last_errno : EADDRNOTAVAIL));
      return FALSE;
    }
  set_nonblocking (fd);
  if (out_port != NULL)
    {
      struct sockaddr_storage ss;
      socklen_t len = sizeof ss;
      getsockname (fd, (struct sockaddr *) &ss, &len);
      *out_port = ntohs (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                  : ((struct sockaddr_in *) &ss)->sin_port);
    }
  server->listen_fd = fd;
  server->accept_thread = g_thread_try_new ("grpc-accept", server_accept_thread, server, error);
  if (server->accept_thread == NULL)
    {
      close (fd);
      server->listen_fd = -1;
      return FALSE;
    }
  return TRUE;
}

void
notary_grpc_server_stop (NotaryGrpcServer *server)
{
  g_atomic_int_set (&server->stopping, 1);
  if (server->accept_thread != NULL)
    g_thread_join (g_steal_pointer (&server->accept_thread));
  g_mutex_lock (&server->lock);
  while (server->n_connections > 0)
    g_cond_wait (&server->idle, &server->lock);
  g_mutex_unlock (&server->lock);
  if (server->listen_fd >= 0)
    close (server->listen_fd);
  server->listen_fd = -1;
}

void
notary_grpc_server_free (NotaryGrpcServer *server)
{
  if (server == NULL)
    return;
  notary_grpc_server_stop (server);
  if (server->creds != NULL)
    gnutls_certificate_free_credentials (server->creds);
  if (server->priority != NULL)
    gnutls_priority_deinit (server->priority);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->idle);
  g_free (server);
}

/* ---- client ------------------------------------------------------------- */

struct _NotaryGrpcClient
{
  GMutex lock;
  char *host;
  char *port;
  char *authority;
  gnutls_certificate_credentials_t creds;
  gnutls_priority_t priority;
  /* Client identity, handed out by client_retrieve_cert(). */
  gnutls_pcert_st pcerts[8];
  unsigned int n_pcerts;
  gnutls_privkey_t privkey;
  H2Conn conn; /* conn.h2 != NULL ⇔ connected; under @lock */
};

/* Always present our certificate, whatever CA names the server lists: a
 * Go signer lists the subjects of its client_ca_file, which need not
 * include our issuer (e.g. the file holds our own leaf), and Go clients
 * send their certificate regardless.  GnuTLS would otherwise withhold it. */
static int
client_retrieve_cert (gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
  NotaryGrpcClient *client = gnutls_session_get_ptr (session);
  if (client == NULL || client->privkey == NULL)
    {
      *pcert_length = 0;
      *pcert = NULL;
      *privkey = NULL;
      return 0;
    }
  *pcert = client->pcerts;
  *pcert_length = client->n_pcerts;
  *privkey = client->privkey;
  return 0;
}

static gboolean
client_load_identity (NotaryGrpcClient *client, const char *cert_file, const char *key_file, GError **error)
{
  gnutls_datum_t key_pem = { NULL, 0 };
  int r;

  client->n_pcerts = G_N_ELEMENTS (client->pcerts);
  r = gnutls_pcert_list_import_x509_file (client->pcerts, &client->n_pcerts, cert_file, GNUTLS_X509_FMT_PEM, NULL,
                                          NULL, 0);
  if (r < 0)
    {
      client->n_pcerts = 0;
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   "Could not load X509 key pair (cert: \"%s\", key: \"%s\"): %s", cert_file, key_file,
                   gnutls_strerror (r));
      return FALSE;
    }
  gnutls_privkey_init (&client->privkey);
  r = gnutls_load_file (key_file, &key_pem);
  if (r >= 0)
    r = gnutls_privkey_import_x509_raw (client->privkey, &key_pem, GNUTLS_X509_FMT_PEM, NULL, 0);
  gnutls_free (key_pem.data);
  if (r < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                   "Could not load X509 key pair (cert: \"%s\", key: \"%s\"): %s", cert_file, key_file,
                   gnutls_strerror (r));
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  GBytes *request; /* framed */
  gsize sent;
  GByteArray *body;
  gboolean too_big;
  int http_status;
  int grpc_status; /* -1 = not received */
  char *grpc_message;
  gboolean got_headers;
  gboolean closed;
  guint32 close_error;
} ClientCall;

static int
client_on_header (nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                  const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
  ClientCall *call;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  call = nghttp2_session_get_stream_user_data (session, frame->hd.stream_id);
  if (call == NULL)
    return 0;
  call->got_headers = TRUE;
  if (namelen == 7 && memcmp (name, ":status", 7) == 0)
    {
      g_autofree char *v = g_strndup ((const char *) value, valuelen);
      call->http_status = (int) g_ascii_strtoll (v, NULL, 10);
    }
  else if (namelen == 11 && memcmp (name, "grpc-status", 11) == 0)
    {
      g_autofree char *v = g_strndup ((const char *) value, valuelen);
      guint64 code = 0;
      call->grpc_status = g_ascii_string_to_unsigned (v, 10, 0, 1000, &code, NULL) ? (int) code
                                                                                     : NOTARY_GRPC_STATUS_UNKNOWN;
    }
  else if (namelen == 12 && memcmp (name, "grpc-message", 12) == 0)
    {
      g_autofree char *v = g_strndup ((const char *) value, valuelen);
      g_free (call->grpc_message);
      call->grpc_message = notary_grpc_percent_decode (v);
    }
  return 0;
}

static int
client_on_data_chunk (nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *user_data)
{
  ClientCall *call = nghttp2_session_get_stream_user_data (session, stream_id);
  if (call == NULL)
    return 0;
  if (call->body->len + len > NOTARY_GRPC_MAX_MESSAGE + 5)
    call->too_big = TRUE;
  else
    g_byte_array_append (call->body, data, (guint) len);
  return 0;
}

static int
client_on_stream_close (nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
  ClientCall *call = nghttp2_session_get_stream_user_data (session, stream_id);
  if (call != NULL)
    {
      call->closed = TRUE;
      call->close_error = error_code;
    }
  return 0;
}

static ssize_t
client_read_request (nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                     uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
  ClientCall *call = source->ptr;
  gsize total = 0;
  const guint8 *data = g_bytes_get_data (call->request, &total);
  gsize n = MIN (length, total - call->sent);
  memcpy (buf, data + call->sent, n);
  call->sent += n;
  if (call->sent == total)
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t) n;
}

NotaryGrpcClient *
notary_grpc_client_new (const char *host, guint16 port, const char *ca_file, const char *cert_file,
                        const char *key_file, GError **error)
{
  g_autoptr (NotaryGrpcClient) client = g_new0 (NotaryGrpcClient, 1);
  int r;

  g_mutex_init (&client->lock);
  client->conn.fd = -1;
  client->host = g_strdup (host);
  client->port = g_strdup_printf ("%u", port);
  client->authority = strchr (host, ':') != NULL ? g_strdup_printf ("[%s]:%u", host, port)
                                                 : g_strdup_printf ("%s:%u", host, port);

  if ((cert_file == NULL) != (key_file == NULL))
    {
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT,
                           "either pass both client key and cert, or neither");
      return NULL;
    }
  gnutls_certificate_allocate_credentials (&client->creds);
  if (!load_trust (client->creds, ca_file, error))
    return NULL;
  if (cert_file != NULL)
    {
      /* Check the pair the way the server side does (same messages), then
       * keep it for the retrieve callback. */
      gnutls_certificate_credentials_t check = NULL;
      gboolean ok;
      gnutls_certificate_allocate_credentials (&check);
      ok = load_key_pair (check, cert_file, key_file, error);
      gnutls_certificate_free_credentials (check);
      if (!ok || !client_load_identity (client, cert_file, key_file, error))
        return NULL;
      gnutls_certificate_set_retrieve_function2 (client->creds, client_retrieve_cert);
    }
  r = gnutls_priority_init (&client->priority, TLS_PRIORITY, NULL);
  if (r < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "TLS priority: %s",
                   gnutls_strerror (r));
      return NULL;
    }
  return g_steal_pointer (&client);
}

static int
tcp_connect (const char *host, const char *port, gint64 deadline, GError **error)
{
  struct addrinfo hints = { 0 };
  struct addrinfo *res = NULL;
  g_autofree char *last = NULL;
  int fd = -1;
  int r;

  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  r = getaddrinfo (host, port, &hints, &res);
  if (r != 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                   "connection error: desc = \"transport: Error while dialing dial tcp: lookup %s: %s\"", host,
                   gai_strerror (r));
      return -1;
    }
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
    {
      g_autofree char *addr = sockaddr_to_string (ai->ai_addr, ai->ai_addrlen);
      int err = 0;
      fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0)
        {
          err = errno;
        }
      else if (connect (fd, ai->ai_addr, ai->ai_addrlen) != 0)
        {
          err = errno;
          if (err == EINPROGRESS)
            {
              g_autoptr (GError) werr = NULL;
              socklen_t len = sizeof err;
              err = 0;
              if (!wait_fd (fd, POLLOUT, deadline, &werr))
                err = ETIMEDOUT;
              else if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            }
        }
      if (err != 0)
        {
          g_free (last);
          last = g_strdup_printf ("dial tcp %s: connect: %s", addr, g_strerror (err));
          if (fd >= 0)
            close (fd);
          fd = -1;
        }
    }
  freeaddrinfo (res);
  if (fd < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                   "connection error: desc = \"transport: Error while dialing %s\"",
                   last != NULL ? last : "no address");
      return -1;
    }
  {
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

static gboolean
client_connect (NotaryGrpcClient *client, gint64 deadline, GError **error)
{
  H2Conn *c = &client->conn;
  nghttp2_session_callbacks *cbs = NULL;
  nghttp2_settings_entry settings[] = { { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 } };
  gint64 hs_deadline = MIN (deadline, g_get_monotonic_time () + HANDSHAKE_TIMEOUT_USEC);
  g_autoptr (GError) local = NULL;

  c->fd = tcp_connect (client->host, client->port, hs_deadline, error);
  if (c->fd < 0)
    return FALSE;
  gnutls_init (&c->tls, GNUTLS_CLIENT);
  gnutls_priority_set (c->tls, client->priority);
  gnutls_credentials_set (c->tls, GNUTLS_CRD_CERTIFICATE, client->creds);
  gnutls_session_set_ptr (c->tls, client);
  if (!g_hostname_is_ip_address (client->host))
    gnutls_server_name_set (c->tls, GNUTLS_NAME_DNS, client->host, strlen (client->host));
  /* Chain against our anchors and the name (DNS SAN or IP SAN). */
  gnutls_session_set_verify_cert (c->tls, client->host, 0);
  gnutls_alpn_set_protocols (c->tls, &alpn_h2, 1, 0);
  tls_set_fd (c->tls, c->fd);
  if (!tls_handshake (c, hs_deadline, &local))
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                   "connection error: desc = \"transport: %s\"", local->message);
      h2_conn_clear (c);
      return FALSE;
    }
  nghttp2_session_callbacks_new (&cbs);
  nghttp2_session_callbacks_set_on_header_callback (cbs, client_on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback (cbs, client_on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback (cbs, client_on_stream_close);
  nghttp2_session_client_new (&c->h2, cbs, client);
  nghttp2_session_callbacks_del (cbs);
  nghttp2_submit_settings (c->h2, NGHTTP2_FLAG_NONE, settings, G_N_ELEMENTS (settings));
  return TRUE;
}

void
notary_grpc_client_disconnect (NotaryGrpcClient *client)
{
  g_mutex_lock (&client->lock);
  h2_conn_clear (&client->conn);
  g_mutex_unlock (&client->lock);
}

/* Is the idle connection still usable?  Processes whatever the peer sent
 * meanwhile (GOAWAY, PING, EOF after a restart of the signer). */
static gboolean
client_conn_usable (NotaryGrpcClient *client)
{
  H2Conn *c = &client->conn;
  g_autoptr (GError) error = NULL;
  int r;

  if (c->h2 == NULL)
    return FALSE;
  while ((r = h2_read_once (c, 0, &error)) > 0)
    ;
  if (r < 0)
    return FALSE;
  if (!h2_flush (c, g_get_monotonic_time () + G_USEC_PER_SEC, &error))
    return FALSE;
  return nghttp2_session_check_request_allowed (c->h2) && nghttp2_session_want_read (c->h2);
}

typedef enum
{
  CALL_DONE,      /* stream closed: look at the call */
  CALL_TRANSPORT, /* connection broke */
  CALL_DEADLINE,
} CallOutcome;

static CallOutcome
client_run_call (NotaryGrpcClient *client, ClientCall *call, const char *path, gint64 timeout_usec,
                 gint64 deadline, GError **error)
{
  H2Conn *c = &client->conn;
  g_autofree char *timeout = timeout_usec > 0 ? notary_grpc_timeout_format (timeout_usec) : NULL;
  nghttp2_nv hdrs[] = {
    NV (":method", "POST"),
    NV (":scheme", "https"),
    NV (":path", path),
    NV (":authority", client->authority),
    NV ("content-type", "application/grpc"),
    NV ("te", "trailers"),
    NV ("user-agent", "notary-c/" NOTARY_VERSION),
    NV ("grpc-timeout", timeout != NULL ? timeout : ""),
  };
  nghttp2_data_provider prd;
  int32_t id;

  prd.source.ptr = call;
  prd.read_callback = client_read_request;
  id = nghttp2_submit_request (c->h2, NULL, hdrs, timeout != NULL ? 8 : 7, &prd, call);
  if (id < 0)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "http2: %s",
                   nghttp2_strerror (id));
      return CALL_TRANSPORT;
    }
  while (!call->closed)
    {
      int ms;
      if (!h2_flush (c, deadline, error))
        return g_error_matches (*error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED) ? CALL_DEADLINE
                                                                                                 : CALL_TRANSPORT;
      if (call->closed)
        break;
      ms = ms_until (deadline);
      if (ms == 0)
        {
          g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED,
                               "context deadline exceeded");
          return CALL_DEADLINE;
        }
      if (!nghttp2_session_want_read (c->h2) && !nghttp2_session_want_write (c->h2))
        {
          g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                               "transport is closing");
          return CALL_TRANSPORT;
        }
      if (h2_read_once (c, ms < 0 ? 1000 : MIN (ms, 1000), error) < 0)
        return CALL_TRANSPORT;
    }
  return CALL_DONE;
}

static GBytes *
client_finish_call (ClientCall *call, GError **error)
{
  if (call->grpc_status < 0)
    {
      if (call->close_error == NGHTTP2_REFUSED_STREAM)
        g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE,
                             "stream refused by the server");
      else if (call->close_error != NGHTTP2_NO_ERROR)
        g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                     "stream terminated by RST_STREAM with error code: %s",
                     nghttp2_http2_strerror (call->close_error));
      else if (call->http_status != 200)
        g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNKNOWN,
                     "unexpected HTTP status code received from server: %d", call->http_status);
      else
        g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL,
                             "server closed the stream without sending trailers");
      return NULL;
    }
  if (call->http_status != 200)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNKNOWN,
                   "unexpected HTTP status code received from server: %d", call->http_status);
      return NULL;
    }
  if (call->grpc_status != NOTARY_GRPC_STATUS_OK)
    {
      g_set_error_literal (error, NOTARY_GRPC_ERROR, call->grpc_status,
                           call->grpc_message != NULL ? call->grpc_message : "");
      return NULL;
    }
  if (call->too_big)
    {
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_RESOURCE_EXHAUSTED,
                           "grpc: received message larger than max");
      return NULL;
    }
  return notary_grpc_unframe (call->body->data, call->body->len, error);
}

GBytes *
notary_grpc_client_call (NotaryGrpcClient *client, const char *path, GBytes *request, gint64 timeout_usec,
                         GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&client->lock); /* held for the call */
  gint64 deadline = timeout_usec > 0 ? g_get_monotonic_time () + timeout_usec : G_MAXINT64;
  g_autoptr (GBytes) framed = notary_grpc_frame (request);

  for (int attempt = 0;; attempt++)
    {
      gboolean reused = FALSE;
      ClientCall call = { 0 };
      CallOutcome outcome;
      GBytes *result;
      g_autoptr (GError) local = NULL;

      if (client->conn.h2 != NULL && client_conn_usable (client))
        reused = TRUE;
      else
        {
          h2_conn_clear (&client->conn);
          if (!client_connect (client, deadline, error))
            return NULL;
        }

      call.request = framed;
      call.body = g_byte_array_new ();
      call.grpc_status = -1;
      outcome = client_run_call (client, &call, path, timeout_usec, deadline, &local);
      if (outcome != CALL_DONE)
        {
          /* The stream's user data points at this stack frame: never leave
           * the session alive behind us.  A hung or broken connection is
           * not worth keeping anyway; the next call dials again. */
          h2_conn_clear (&client->conn);
          g_byte_array_unref (call.body);
          g_free (call.grpc_message);
          /* A reused connection that died before answering anything was
           * most likely closed by a restarted signer: retry once on a
           * fresh one, as grpc-go retries transparently. */
          if (outcome == CALL_TRANSPORT && reused && !call.got_headers && attempt == 0)
            continue;
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      result = client_finish_call (&call, error);
      g_byte_array_unref (call.body);
      g_free (call.grpc_message);
      return result;
    }
}

void
notary_grpc_client_free (NotaryGrpcClient *client)
{
  if (client == NULL)
    return;
  h2_conn_clear (&client->conn);
  if (client->creds != NULL)
    gnutls_certificate_free_credentials (client->creds);
  if (client->priority != NULL)
    gnutls_priority_deinit (client->priority);
  for (unsigned int i = 0; i < client->n_pcerts; i++)
    gnutls_pcert_deinit (&client->pcerts[i]);
  if (client->privkey != NULL)
    gnutls_privkey_deinit (client->privkey);
  g_free (client->host);
  g_free (client->port);
  g_free (client->authority);
  g_mutex_clear (&client->lock);
  g_free (client);
}
