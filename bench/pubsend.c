/* pubsend.c — timed sender for the publish rows of bench/run.
 *
 * bench/pubgen.py builds valid, signed uploads in Python before the clock
 * starts; this program sends them.  Sending from Python cost ~2 ms of CPU
 * per request on a machine whose 2 CPUs the servers need, so the rows
 * measured the generator; this sender costs a few tens of microseconds.
 *
 *   pubsend --url https://127.0.0.1:PORT --ca CAFILE --spool FILE
 *           --senders N [--allow-version-conflicts] [--timeout S]
 *
 * The spool file is a sequence of records, each a header line
 * `POST <path> <content-type> <body-length>\n` followed by exactly
 * body-length bytes (the content type may contain spaces: the path is the
 * second word and the length the last).  All records are loaded before
 * any thread starts.
 *
 * N threads each open their own keep-alive TLS connection (server
 * certificate verified against CAFILE; loopback only, so no host name
 * check; TCP_NODELAY like Go's net/http), wait for each other, then take
 * record indices from one shared atomic counter, so in the one-GUN race
 * successive versions are handed out in order.  A request reuses the
 * connection; when the server closed it (Connection: close, or an idle
 * connection closed before any response byte) it is re-opened once.  Every
 * socket operation is bounded by --timeout (default 60 s) and the loop by
 * the record count.
 *
 * 200 counts as accepted; 400 whose JSON body has errors[0].code "VERSION"
 * as a version conflict (an error unless --allow-version-conflicts);
 * anything else, or an I/O failure, as an error.  Latency: monotonic clock
 * from just before writing a request to the end of its response; wall time
 * from the release of the start barrier to the last thread's finish.
 *
 * Prints one JSON object (the keys of pubgen.py's summarize()): accepted,
 * wall_s, accepted_per_s, requests, p50_ms, p99_ms, max_ms, connections,
 * errors, error_samples, version_conflicts.  Exit status 0 when there was
 * no error, 1 otherwise, 2 on usage or set-up errors (nothing printed).
 *
 * Plain C + GnuTLS + pthreads: it links nothing of ours and no GLib, so its
 * own cost stays small and obvious.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define MAX_SENDERS 256
#define MAX_ERROR_SAMPLES 10
#define SAMPLE_BODY_BYTES 300
#define MAX_LINE_BYTES 8192
#define MAX_HEADER_LINES 200
#define MAX_RESPONSE_BODY (64u << 20)
#define MAX_SPOOL_HEADER 4096
#define READ_BUF_BYTES 16384

typedef struct
{
  const char *path;  /* NUL-terminated inside the spool buffer */
  const char *ctype; /* likewise */
  const char *body;
  size_t body_len;
} Record;

typedef struct
{
  char host_header[300]; /* "127.0.0.1:PORT" as given in the URL */
  struct sockaddr_in addr;
  gnutls_certificate_credentials_t cred;
  char *spool; /* the whole file; records point into it */
  Record *records;
  size_t n_records;
  atomic_size_t next;
  pthread_barrier_t barrier;
  double timeout_s;
  bool allow_conflicts;
} Shared;

typedef struct
{
  int fd;
  gnutls_session_t session;
  bool open;
  char buf[READ_BUF_BYTES];
  size_t pos, len;
} Conn;

typedef struct
{
  char *data;
  size_t len, cap;
} Buf;

typedef struct
{
  int status;
  bool close;
  Buf body;
} Response;

typedef struct
{
  Shared *shared;
  pthread_t thread;
  Conn conn;
  Buf request;
  uint64_t *lat_ns; /* one per completed HTTP exchange */
  size_t n_lat, cap_lat;
  size_t accepted, conflicts, errors, connections;
  char *samples[MAX_ERROR_SAMPLES];
  size_t n_samples;
  uint64_t t0_ns, t1_ns;
} Sender;

/* Outcome of one attempt at an exchange: RETRY means the connection failed
 * before any response byte arrived on a reused connection, which is how a
 * server's idle close shows up; the request may then be sent again. */
typedef enum
{
  XCHG_OK,
  XCHG_RETRY,
  XCHG_FAIL,
} Xchg;

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
die_usage (const char *fmt, ...)
{
  va_list ap;
  fputs ("pubsend: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (2);
}

static void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);
  if (p == NULL)
    {
      fputs ("pubsend: out of memory\n", stderr);
      abort ();
    }
  return p;
}

static void *
xrealloc (void *p, size_t n)
{
  p = realloc (p, n ? n : 1);
  if (p == NULL)
    {
      fputs ("pubsend: out of memory\n", stderr);
      abort ();
    }
  return p;
}

static void
buf_reserve (Buf *b, size_t extra)
{
  if (b->len + extra <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra)
    cap *= 2;
  b->data = xrealloc (b->data, cap);
  b->cap = cap;
}

static void
buf_append (Buf *b, const void *data, size_t len)
{
  buf_reserve (b, len);
  memcpy (b->data + b->len, data, len);
  b->len += len;
}

/* ------------------------------------------------------------ arguments */

/* Accepts https://127.0.0.1[:PORT][/] and https://localhost[:PORT][/]. */
static bool
parse_url (const char *url, Shared *sh)
{
  static const char scheme[] = "https://";
  if (strncmp (url, scheme, strlen (scheme)) != 0)
    return false;
  const char *host = url + strlen (scheme);
  size_t host_len = strcspn (host, ":/");
  const char *rest = host + host_len;
  long port = 443;
  if (*rest == ':')
    {
      char *end;
      errno = 0;
      port = strtol (rest + 1, &end, 10);
      if (errno != 0 || end == rest + 1 || port < 1 || port > 65535)
        return false;
      rest = end;
    }
  if (strcmp (rest, "") != 0 && strcmp (rest, "/") != 0)
    return false;
  bool loopback = (host_len == 9 && strncmp (host, "127.0.0.1", 9) == 0)
                  || (host_len == 9 && strncasecmp (host, "localhost", 9) == 0);
  if (!loopback)
    return false;
  snprintf (sh->host_header, sizeof sh->host_header, "%.*s:%ld", (int) host_len, host, port);
  memset (&sh->addr, 0, sizeof sh->addr);
  sh->addr.sin_family = AF_INET;
  sh->addr.sin_port = htons ((uint16_t) port);
  sh->addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return true;
}

/* Loads the whole spool (read to EOF, so a pipe works too) and splits it
 * into records in place: the header line's separators become NULs.  On
 * failure prints why and returns false. */
static bool
load_spool (const char *file, Shared *sh)
{
  FILE *f = fopen (file, "rb");
  if (f == NULL)
    {
      fprintf (stderr, "pubsend: cannot open spool %s: %s\n", file, strerror (errno));
      return false;
    }
  Buf all = { 0 };
  for (;;)
    {
      buf_reserve (&all, 65536);
      size_t got = fread (all.data + all.len, 1, all.cap - all.len, f);
      all.len += got;
      if (got == 0)
        break;
    }
  bool read_failed = ferror (f);
  fclose (f);
  buf_reserve (&all, 1);
  all.data[all.len] = '\0';
  char *data = all.data;
  size_t size = all.len;

  size_t cap = 1024, n = 0, off = 0;
  Record *recs = xmalloc (cap * sizeof *recs);
  const char *why = NULL;
  while (why == NULL && off < size)
    {
      char *line = data + off;
      char *nl = memchr (line, '\n', size - off < MAX_SPOOL_HEADER ? size - off : MAX_SPOOL_HEADER);
      if (nl == NULL)
        {
          why = "no header line";
          break;
        }
      *nl = '\0';
      char *path = line + 5;
      char *sp1 = strchr (path, ' ');
      char *sp2 = strrchr (line, ' ');
      char *end = NULL;
      unsigned long long len = 0;
      if (strncmp (line, "POST /", 6) != 0 || strchr (line, '\r') != NULL)
        why = "bad header line";
      else if (sp1 == NULL || sp2 == sp1)
        why = "header needs a path, a content type and a length";
      else
        {
          errno = 0;
          len = strtoull (sp2 + 1, &end, 10);
          if (errno != 0 || end == sp2 + 1 || *end != '\0')
            why = "bad body length";
        }
      off = (size_t) (nl + 1 - data);
      if (why == NULL && len > size - off)
        why = "body runs past the end of the file";
      if (why != NULL)
        break;
      *sp1 = '\0';
      *sp2 = '\0';
      if (n == cap)
        {
          cap *= 2;
          recs = xrealloc (recs, cap * sizeof *recs);
        }
      recs[n++] = (Record){ .path = path, .ctype = sp1 + 1, .body = data + off, .body_len = len };
      off += len;
    }
  if (why == NULL && read_failed)
    why = "read error";
  if (why == NULL && n == 0)
    why = "no record";
  if (why != NULL)
    {
      fprintf (stderr, "pubsend: spool %s, record %zu: %s\n", file, n, why);
      free (recs);
      free (data);
      return false;
    }
  sh->spool = data;
  sh->records = recs;
  sh->n_records = n;
  return true;
}

/* ------------------------------------------------------------ connection */

static void
conn_close (Conn *c, bool polite)
{
  if (!c->open)
    return;
  if (polite)
    gnutls_bye (c->session, GNUTLS_SHUT_WR);
  gnutls_deinit (c->session);
  close (c->fd);
  c->open = false;
  c->pos = c->len = 0;
}

/* Retries interrupted or would-block GnuTLS calls until DEADLINE: the
 * socket has SO_RCVTIMEO/SO_SNDTIMEO, so a real stall returns EAGAIN after
 * the timeout, by which time the deadline has passed. */
static bool
tls_again (int ret, uint64_t deadline)
{
  return (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) && now_ns () < deadline;
}

static bool
conn_open (Sender *s, char *err, size_t err_len)
{
  Shared *sh = s->shared;
  Conn *c = &s->conn;
  uint64_t deadline = now_ns () + (uint64_t) (sh->timeout_s * 1e9);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      snprintf (err, err_len, "socket: %s", strerror (errno));
      return false;
    }
  struct timeval tv = { .tv_sec = (time_t) sh->timeout_s,
                        .tv_usec = (suseconds_t) ((sh->timeout_s - floor (sh->timeout_s)) * 1e6) };
  int one = 1;
  /* SO_SNDTIMEO also bounds connect() on Linux. */
  if (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0
      || setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0
      || setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    {
      snprintf (err, err_len, "setsockopt: %s", strerror (errno));
      close (fd);
      return false;
    }
  if (connect (fd, (struct sockaddr *) &sh->addr, sizeof sh->addr) != 0)
    {
      snprintf (err, err_len, "connect: %s", strerror (errno));
      close (fd);
      return false;
    }
  gnutls_session_t session;
  int ret = gnutls_init (&session, GNUTLS_CLIENT);
  if (ret < 0)
    {
      snprintf (err, err_len, "gnutls_init: %s", gnutls_strerror (ret));
      close (fd);
      return false;
    }
  if ((ret = gnutls_set_default_priority (session)) < 0
      || (ret = gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, sh->cred)) < 0)
    {
      snprintf (err, err_len, "TLS set-up: %s", gnutls_strerror (ret));
      gnutls_deinit (session);
      close (fd);
      return false;
    }
  /* Chain verification against the CA only: the peer is loopback. */
  gnutls_session_set_verify_cert (session, NULL, 0);
  gnutls_transport_set_int (session, fd);
  gnutls_handshake_set_timeout (session, (unsigned) (sh->timeout_s * 1000));
  do
    ret = gnutls_handshake (session);
  while (ret < 0 && tls_again (ret, deadline));
  if (ret < 0)
    {
      if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
        {
          gnutls_datum_t out;
          unsigned status = gnutls_session_get_verify_cert_status (session);
          if (gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &out, 0) == 0)
            {
              snprintf (err, err_len, "TLS handshake: %s", out.data);
              gnutls_free (out.data);
            }
          else
            snprintf (err, err_len, "TLS handshake: %s", gnutls_strerror (ret));
        }
      else
        snprintf (err, err_len, "TLS handshake: %s", gnutls_strerror (ret));
      gnutls_deinit (session);
      close (fd);
      return false;
    }
  c->fd = fd;
  c->session = session;
  c->open = true;
  c->pos = c->len = 0;
  s->connections++;
  return true;
}

/* Returns >0 bytes now buffered, 0 on EOF, <0 on error (message in ERR). */
static ssize_t
conn_fill (Conn *c, uint64_t deadline, char *err, size_t err_len)
{
  if (c->pos < c->len)
    return (ssize_t) (c->len - c->pos);
  ssize_t n;
  do
    n = gnutls_record_recv (c->session, c->buf, sizeof c->buf);
  while (n < 0 && tls_again ((int) n, deadline));
  if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
    return 0;
  if (n < 0)
    {
      snprintf (err, err_len, "read: %s", n == GNUTLS_E_AGAIN ? "timed out"
                                                                : gnutls_strerror ((int) n));
      return -1;
    }
  c->pos = 0;
  c->len = (size_t) n;
  return n;
}

static bool
conn_write (Conn *c, const char *data, size_t len, uint64_t deadline, char *err, size_t err_len)
{
  while (len > 0)
    {
      ssize_t n = gnutls_record_send (c->session, data, len);
      if (n < 0 && tls_again ((int) n, deadline))
        continue;
      if (n < 0)
        {
          snprintf (err, err_len, "write: %s", n == GNUTLS_E_AGAIN ? "timed out"
                                                                     : gnutls_strerror ((int) n));
          return false;
        }
      data += n;
      len -= (size_t) n;
    }
  return true;
}

/* Reads one CRLF- or LF-terminated line into LINE (terminator stripped).
 * Returns 1 on success, 0 on EOF before any byte, -1 on error. */
static int
read_line (Conn *c, char *line, size_t max, uint64_t deadline, char *err, size_t err_len)
{
  size_t n = 0;
  for (;;)
    {
      ssize_t got = conn_fill (c, deadline, err, err_len);
      if (got < 0)
        return -1;
      if (got == 0)
        {
          if (n == 0)
            return 0;
          snprintf (err, err_len, "connection closed inside a line");
          return -1;
        }
      char *start = c->buf + c->pos;
      char *nl = memchr (start, '\n', c->len - c->pos);
      size_t take = nl ? (size_t) (nl - start) : c->len - c->pos;
      if (n + take >= max)
        {
          snprintf (err, err_len, "response line longer than %zu bytes", max);
          return -1;
        }
      memcpy (line + n, start, take);
      n += take;
      c->pos += take + (nl ? 1 : 0);
      if (nl)
        {
          if (n > 0 && line[n - 1] == '\r')
            n--;
          line[n] = '\0';
          return 1;
        }
    }
}

static bool
read_exact (Conn *c, Buf *body, size_t len, uint64_t deadline, char *err, size_t err_len)
{
  if (body->len + len > MAX_RESPONSE_BODY)
    {
      snprintf (err, err_len, "response body larger than %u bytes", MAX_RESPONSE_BODY);
      return false;
    }
  buf_reserve (body, len);
  while (len > 0)
    {
      ssize_t got = conn_fill (c, deadline, err, err_len);
      if (got < 0)
        return false;
      if (got == 0)
        {
          snprintf (err, err_len, "connection closed inside the body");
          return false;
        }
      size_t take = (size_t) got < len ? (size_t) got : len;
      buf_append (body, c->buf + c->pos, take);
      c->pos += take;
      len -= take;
    }
  return true;
}

static bool
read_chunked (Conn *c, Buf *body, uint64_t deadline, char *err, size_t err_len)
{
  char line[MAX_LINE_BYTES];
  for (;;)
    {
      if (read_line (c, line, sizeof line, deadline, err, err_len) != 1)
        {
          if (err[0] == '\0')
            snprintf (err, err_len, "connection closed inside a chunked body");
          return false;
        }
      char *end;
      errno = 0;
      unsigned long long size = strtoull (line, &end, 16);
      if (errno != 0 || end == line || (*end != '\0' && *end != ';' && *end != ' '))
        {
          snprintf (err, err_len, "bad chunk size line");
          return false;
        }
      if (size == 0)
        break;
      if (size > MAX_RESPONSE_BODY || !read_exact (c, body, (size_t) size, deadline, err, err_len))
        {
          if (err[0] == '\0')
            snprintf (err, err_len, "chunk too large");
          return false;
        }
      if (read_line (c, line, sizeof line, deadline, err, err_len) != 1 || line[0] != '\0')
        {
          if (err[0] == '\0')
            snprintf (err, err_len, "chunk not followed by CRLF");
          return false;
        }
    }
  for (int i = 0; i < MAX_HEADER_LINES; i++) /* trailers */
    {
      if (read_line (c, line, sizeof line, deadline, err, err_len) != 1)
        {
          if (err[0] == '\0')
            snprintf (err, err_len, "connection closed inside the trailers");
          return false;
        }
      if (line[0] == '\0')
        return true;
    }
  snprintf (err, err_len, "too many trailer lines");
  return false;
}

/* Case-insensitive: does the comma-separated header VALUE hold TOKEN? */
static bool
has_token (const char *value, const char *token)
{
  size_t tlen = strlen (token);
  const char *p = value;
  while (*p)
    {
      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
      size_t n = strcspn (p, ",");
      size_t m = n;
      while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
        m--;
      if (m == tlen && strncasecmp (p, token, tlen) == 0)
        return true;
      p += n;
    }
  return false;
}

static Xchg
read_response (Conn *c, Response *r, uint64_t deadline, char *err, size_t err_len)
{
  char line[MAX_LINE_BYTES];
  long long content_length;
  bool chunked;
  for (;;) /* 1xx interim responses are skipped */
    {
      int got = read_line (c, line, sizeof line, deadline, err, err_len);
      if (got == 0)
        {
          snprintf (err, err_len, "connection closed before the response");
          return XCHG_RETRY;
        }
      if (got < 0)
        return XCHG_FAIL;
      int minor, status;
      if (sscanf (line, "HTTP/1.%d %3d", &minor, &status) != 2 || status < 100 || status > 999)
        {
          snprintf (err, err_len, "bad status line");
          return XCHG_FAIL;
        }
      r->status = status;
      r->close = minor == 0;
      content_length = -1;
      chunked = false;
      int i;
      for (i = 0; i < MAX_HEADER_LINES; i++)
        {
          if (read_line (c, line, sizeof line, deadline, err, err_len) != 1)
            {
              if (err[0] == '\0')
                snprintf (err, err_len, "connection closed inside the headers");
              return XCHG_FAIL;
            }
          if (line[0] == '\0')
            break;
          char *colon = strchr (line, ':');
          if (colon == NULL)
            continue;
          *colon = '\0';
          char *value = colon + 1;
          value += strspn (value, " \t");
          if (strcasecmp (line, "Content-Length") == 0)
            {
              char *end;
              errno = 0;
              content_length = strtoll (value, &end, 10);
              if (errno != 0 || end == value || content_length < 0)
                {
                  snprintf (err, err_len, "bad Content-Length");
                  return XCHG_FAIL;
                }
            }
          else if (strcasecmp (line, "Transfer-Encoding") == 0)
            chunked = has_token (value, "chunked");
          else if (strcasecmp (line, "Connection") == 0)
            {
              if (has_token (value, "close"))
                r->close = true;
              else if (has_token (value, "keep-alive"))
                r->close = false;
            }
        }
      if (i == MAX_HEADER_LINES)
        {
          snprintf (err, err_len, "too many header lines");
          return XCHG_FAIL;
        }
      if (status >= 200 || status == 101)
        break;
    }

  if (r->status == 204 || r->status == 304)
    return XCHG_OK;
  if (chunked)
    return read_chunked (c, &r->body, deadline, err, err_len) ? XCHG_OK : XCHG_FAIL;
  if (content_length >= 0)
    {
      if ((unsigned long long) content_length > MAX_RESPONSE_BODY)
        {
          snprintf (err, err_len, "Content-Length %lld too large", content_length);
          return XCHG_FAIL;
        }
      return read_exact (c, &r->body, (size_t) content_length, deadline, err, err_len)
                 ? XCHG_OK
                 : XCHG_FAIL;
    }
  /* No length: the body runs to the end of the connection. */
  r->close = true;
  for (;;)
    {
      ssize_t got = conn_fill (c, deadline, err, err_len);
      if (got < 0)
        return XCHG_FAIL;
      if (got == 0)
        return XCHG_OK;
      if (r->body.len + (size_t) got > MAX_RESPONSE_BODY)
        {
          snprintf (err, err_len, "response body larger than %u bytes", MAX_RESPONSE_BODY);
          return XCHG_FAIL;
        }
      buf_append (&r->body, c->buf + c->pos, (size_t) got);
      c->pos = c->len;
    }
}

/* Sends record REC and reads the response into R.  A connection that fails
 * before any response byte is re-opened and the request sent again, once,
 * unless it was fresh (then the server really refused us). */
static bool
exchange (Sender *s, const Record *rec, Response *r, char *err, size_t err_len)
{
  Shared *sh = s->shared;
  Buf *req = &s->request;
  req->len = 0;
  char head[1024 + MAX_SPOOL_HEADER];
  int hn = snprintf (head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nAccept-Encoding: identity\r\n\r\n",
                     rec->path, sh->host_header, rec->ctype, rec->body_len);
  if (hn < 0 || (size_t) hn >= sizeof head)
    {
      snprintf (err, err_len, "request head too long");
      return false;
    }
  /* One buffer, one write: the head and the body leave in the same TLS
   * records, as a client that corks would send them. */
  buf_append (req, head, (size_t) hn);
  buf_append (req, rec->body, rec->body_len);

  uint64_t deadline = now_ns () + (uint64_t) (sh->timeout_s * 1e9);
  for (int attempt = 0; attempt < 2; attempt++)
    {
      err[0] = '\0';
      r->body.len = 0;
      bool fresh = !s->conn.open;
      if (fresh && !conn_open (s, err, err_len))
        return false;
      Xchg x;
      if (!conn_write (&s->conn, req->data, req->len, deadline, err, err_len))
        x = XCHG_RETRY;
      else
        x = read_response (&s->conn, r, deadline, err, err_len);
      if (x == XCHG_OK)
        {
          if (r->close)
            conn_close (&s->conn, true);
          return true;
        }
      conn_close (&s->conn, false);
      if (x == XCHG_FAIL || fresh)
        return false;
    }
  return false;
}

/* ------------------------------------------------------------ JSON */

typedef struct
{
  const char *p, *end;
} JsonIn;

static void
json_ws (JsonIn *j)
{
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static bool
json_char (JsonIn *j, char ch)
{
  json_ws (j);
  if (j->p < j->end && *j->p == ch)
    {
      j->p++;
      return true;
    }
  return false;
}

/* A string's raw bytes between the quotes (escapes left as they are). */
static bool
json_string (JsonIn *j, const char **s, size_t *len)
{
  if (!json_char (j, '"'))
    return false;
  const char *start = j->p;
  while (j->p < j->end && *j->p != '"')
    {
      if (*j->p == '\\' && j->end - j->p < 2)
        return false;
      j->p += (*j->p == '\\') ? 2 : 1;
    }
  if (j->p >= j->end)
    return false;
  *s = start;
  *len = (size_t) (j->p - start);
  j->p++;
  return true;
}

static bool
json_skip (JsonIn *j, int depth)
{
  if (depth > 64)
    return false;
  json_ws (j);
  if (j->p >= j->end)
    return false;
  const char *s;
  size_t n;
  switch (*j->p)
    {
    case '"':
      return json_string (j, &s, &n);
    case '{':
      j->p++;
      if (json_char (j, '}'))
        return true;
      do
        if (!json_string (j, &s, &n) || !json_char (j, ':') || !json_skip (j, depth + 1))
          return false;
      while (json_char (j, ','));
      return json_char (j, '}');
    case '[':
      j->p++;
      if (json_char (j, ']'))
        return true;
      do
        if (!json_skip (j, depth + 1))
          return false;
      while (json_char (j, ','));
      return json_char (j, ']');
    default:
      while (j->p < j->end && strchr (",]} \t\r\n", *j->p) == NULL)
        j->p++;
      return true;
    }
}

/* Positions J on the value of KEY in the object J is at. */
static bool
json_find_key (JsonIn *j, const char *key)
{
  if (!json_char (j, '{'))
    return false;
  if (json_char (j, '}'))
    return false;
  do
    {
      const char *s;
      size_t n;
      if (!json_string (j, &s, &n) || !json_char (j, ':'))
        return false;
      if (n == strlen (key) && memcmp (s, key, n) == 0)
        return true;
      if (!json_skip (j, 1))
        return false;
    }
  while (json_char (j, ','));
  return false;
}

/* errors[0].code of a notary error body is "VERSION"? */
static bool
is_version_error (const Buf *body)
{
  JsonIn j = { body->data, body->data + body->len };
  const char *s;
  size_t n;
  if (body->len == 0 || !json_find_key (&j, "errors") || !json_char (&j, '[')
      || !json_find_key (&j, "code") || !json_string (&j, &s, &n))
    return false;
  return n == 7 && memcmp (s, "VERSION", 7) == 0;
}

/* ------------------------------------------------------------ senders */

static void
add_sample (Sender *s, const Record *rec, int status, const char *detail, size_t detail_len)
{
  s->errors++;
  if (s->n_samples >= MAX_ERROR_SAMPLES)
    return;
  if (detail_len > SAMPLE_BODY_BYTES)
    detail_len = SAMPLE_BODY_BYTES;
  size_t cap = strlen (rec->path) + detail_len + 64;
  char *msg = xmalloc (cap);
  snprintf (msg, cap, "POST %s: HTTP %d %.*s", rec->path, status, (int) detail_len, detail);
  s->samples[s->n_samples++] = msg;
}

static void
add_latency (Sender *s, uint64_t ns)
{
  if (s->n_lat == s->cap_lat)
    {
      s->cap_lat = s->cap_lat ? s->cap_lat * 2 : 256;
      s->lat_ns = xrealloc (s->lat_ns, s->cap_lat * sizeof *s->lat_ns);
    }
  s->lat_ns[s->n_lat++] = ns;
}

static void *
sender_main (void *data)
{
  Sender *s = data;
  Shared *sh = s->shared;
  char err[512];
  Response r = { 0 };

  /* The handshake is not part of a publish: connect before the clock.  A
   * failure here is retried (and counted) by the first request. */
  conn_open (s, err, sizeof err);
  pthread_barrier_wait (&sh->barrier);
  s->t0_ns = now_ns ();
  for (;;)
    {
      size_t i = atomic_fetch_add (&sh->next, 1);
      if (i >= sh->n_records)
        break;
      const Record *rec = &sh->records[i];
      uint64_t t = now_ns ();
      if (!exchange (s, rec, &r, err, sizeof err))
        {
          add_sample (s, rec, 0, err, strlen (err));
          continue;
        }
      add_latency (s, now_ns () - t);
      if (r.status == 200)
        s->accepted++;
      else if (r.status == 400 && sh->allow_conflicts && is_version_error (&r.body))
        s->conflicts++;
      else
        add_sample (s, rec, r.status, r.body.data, r.body.len);
    }
  s->t1_ns = now_ns ();
  conn_close (&s->conn, true);
  free (r.body.data);
  return NULL;
}

/* ------------------------------------------------------------ output */

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return (x > y) - (x < y);
}

/* pubgen.py's percentile(): nearest rank, k = round(p/100*n + 0.5) - 1 with
 * Python's round-half-to-even, which nearbyint() gives in the default
 * rounding mode. */
static uint64_t
percentile (const uint64_t *sorted, size_t n, double p)
{
  long k = (long) nearbyint (p / 100.0 * (double) n + 0.5) - 1;
  if (k < 0)
    k = 0;
  if (k > (long) n - 1)
    k = (long) n - 1;
  return sorted[k];
}

/* JSON string; bytes >= 0x80 are written as \u00XX so that any response
 * body stays valid JSON (and readable as Latin-1). */
static void
put_json_string (FILE *out, const char *s)
{
  fputc ('"', out);
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        fprintf (out, "\\%c", *p);
      else if (*p == '\n')
        fputs ("\\n", out);
      else if (*p == '\r')
        fputs ("\\r", out);
      else if (*p == '\t')
        fputs ("\\t", out);
      else if (*p < 0x20 || *p >= 0x7f)
        fprintf (out, "\\u%04x", *p);
      else
        fputc (*p, out);
    }
  fputc ('"', out);
}

static void
put_ms (FILE *out, const char *key, const uint64_t *lat, size_t n, double p)
{
  if (n == 0)
    fprintf (out, "\"%s\": null, ", key);
  else
    fprintf (out, "\"%s\": %.3f, ", key, (double) percentile (lat, n, p) / 1e6);
}

static void
usage (FILE *out)
{
  fputs ("usage: pubsend --url https://127.0.0.1:PORT --ca CAFILE --spool FILE --senders N\n"
         "               [--allow-version-conflicts] [--timeout SECONDS]\n",
         out);
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "url", required_argument, NULL, 'u' },
    { "ca", required_argument, NULL, 'c' },
    { "spool", required_argument, NULL, 's' },
    { "senders", required_argument, NULL, 'n' },
    { "allow-version-conflicts", no_argument, NULL, 'a' },
    { "timeout", required_argument, NULL, 't' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  Shared sh = { .timeout_s = 60.0 };
  const char *url = NULL, *ca = NULL, *spool = NULL;
  long senders = 0;
  int opt;
  while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1)
    {
      char *end;
      switch (opt)
        {
        case 'u':
          url = optarg;
          break;
        case 'c':
          ca = optarg;
          break;
        case 's':
          spool = optarg;
          break;
        case 'n':
          senders = strtol (optarg, &end, 10);
          if (*end != '\0' || end == optarg || senders < 1 || senders > MAX_SENDERS)
            die_usage ("--senders must be 1..%d", MAX_SENDERS);
          break;
        case 'a':
          sh.allow_conflicts = true;
          break;
        case 't':
          sh.timeout_s = strtod (optarg, &end);
          if (*end != '\0' || end == optarg || !(sh.timeout_s >= 0.1 && sh.timeout_s <= 3600))
            die_usage ("--timeout must be 0.1..3600 seconds");
          break;
        case 'h':
          usage (stdout);
          return 0;
        default:
          usage (stderr);
          return 2;
        }
    }
  if (optind != argc || url == NULL || ca == NULL || spool == NULL || senders == 0)
    {
      usage (stderr);
      return 2;
    }
  if (!parse_url (url, &sh))
    die_usage ("refusing %s: only https://127.0.0.1:PORT or https://localhost:PORT", url);
  if (!load_spool (spool, &sh))
    return 2;

  /* A server closing the connection must show up as a write error. */
  signal (SIGPIPE, SIG_IGN);
  int ret = gnutls_global_init ();
  if (ret < 0)
    die_usage ("gnutls_global_init: %s", gnutls_strerror (ret));
  if ((ret = gnutls_certificate_allocate_credentials (&sh.cred)) < 0)
    die_usage ("credentials: %s", gnutls_strerror (ret));
  ret = gnutls_certificate_set_x509_trust_file (sh.cred, ca, GNUTLS_X509_FMT_PEM);
  if (ret <= 0)
    die_usage ("no CA certificate loaded from %s: %s", ca, ret < 0 ? gnutls_strerror (ret) : "empty");

  atomic_init (&sh.next, 0);
  if (pthread_barrier_init (&sh.barrier, NULL, (unsigned) senders) != 0)
    die_usage ("pthread_barrier_init failed");
  Sender *s = calloc ((size_t) senders, sizeof *s);
  if (s == NULL)
    die_usage ("out of memory");
  for (long i = 0; i < senders; i++)
    {
      s[i].shared = &sh;
      if (pthread_create (&s[i].thread, NULL, sender_main, &s[i]) != 0)
        {
          /* The barrier counts on every thread: nothing sensible is left. */
          fputs ("pubsend: pthread_create failed\n", stderr);
          abort ();
        }
    }
  size_t accepted = 0, conflicts = 0, errors = 0, connections = 0, n_lat = 0;
  uint64_t t0 = UINT64_MAX, t1 = 0;
  for (long i = 0; i < senders; i++)
    {
      pthread_join (s[i].thread, NULL);
      accepted += s[i].accepted;
      conflicts += s[i].conflicts;
      errors += s[i].errors;
      connections += s[i].connections;
      n_lat += s[i].n_lat;
      if (s[i].t0_ns < t0)
        t0 = s[i].t0_ns;
      if (s[i].t1_ns > t1)
        t1 = s[i].t1_ns;
    }
  uint64_t *lat = xmalloc (n_lat * sizeof *lat);
  size_t k = 0;
  for (long i = 0; i < senders; i++)
    {
      if (s[i].n_lat)
        memcpy (lat + k, s[i].lat_ns, s[i].n_lat * sizeof *lat);
      k += s[i].n_lat;
    }
  qsort (lat, n_lat, sizeof *lat, cmp_u64);
  double wall = t1 > t0 ? (double) (t1 - t0) / 1e9 : 0.0;

  FILE *out = stdout;
  fprintf (out, "{\"accepted\": %zu, \"wall_s\": %.4f, \"accepted_per_s\": %.2f, \"requests\": %zu, ",
           accepted, wall, wall > 0 ? (double) accepted / wall : 0.0, n_lat);
  put_ms (out, "p50_ms", lat, n_lat, 50);
  put_ms (out, "p99_ms", lat, n_lat, 99);
  if (n_lat == 0)
    fputs ("\"max_ms\": null, ", out);
  else
    fprintf (out, "\"max_ms\": %.3f, ", (double) lat[n_lat - 1] / 1e6);
  fprintf (out, "\"connections\": %zu, \"errors\": %zu, \"error_samples\": [", connections, errors);
  size_t shown = 0;
  for (long i = 0; i < senders; i++)
    for (size_t j = 0; j < s[i].n_samples; j++)
      {
        if (shown < MAX_ERROR_SAMPLES)
          {
            fputs (shown ? ", " : "", out);
            put_json_string (out, s[i].samples[j]);
            shown++;
          }
        free (s[i].samples[j]);
      }
  fprintf (out, "], \"version_conflicts\": %zu}\n", conflicts);
  fflush (out);

  for (long i = 0; i < senders; i++)
    {
      free (s[i].lat_ns);
      free (s[i].request.data);
    }
  free (s);
  free (lat);
  free (sh.spool);
  free (sh.records);
  pthread_barrier_destroy (&sh.barrier);
  gnutls_certificate_free_credentials (sh.cred);
  gnutls_global_deinit ();
  return errors == 0 ? 0 : 1;
}
