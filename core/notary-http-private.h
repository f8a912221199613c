/* notary-http-private.h — the seam between notary-server's HTTP core
 * (notary-http.c: routing, handlers, metrics, health) and the transport
 * that speaks HTTP(S) on the wire (notary-http-soup.c or
 * notary-http-mhd.c, chosen at build time by the `http_engine` option).
 *
 * The transport turns each request into a NotaryHttpExchange, hands it to
 * _notary_http_server_handle() on one of its worker threads, then writes
 * the response the core left in it.  The core never sees the transport's
 * types, so both transports answer byte-for-byte the same bodies and
 * headers (framing headers — Date, Content-Length, Connection — are the
 * transport's).
 */
#pragma once

#include "notary-http.h"
#include "notary-listen.h"

#include <sys/socket.h>

G_BEGIN_DECLS

#define NOTARY_HTTP_MAX_RESPONSE_HEADERS 8

typedef struct _NotaryHttpExchange NotaryHttpExchange;

/* A request header by case-insensitive name, NULL when absent.
 * (transfer none): valid until the exchange is cleared. */
typedef const char *(*NotaryHttpHeaderLookup) (NotaryHttpExchange *ex, const char *name);

/* One part of a multipart/form-data body, in order: the filename of its
 * Content-Disposition (NULL when it has none) and its bytes, which hold
 * nothing else of the body.  Return FALSE to stop. */
typedef gboolean (*NotaryHttpPartFunc) (const char *filename, GBytes *data, gpointer user_data);

/* Calls @func for each part of the request's multipart/form-data body,
 * split with the boundary of its Content-Type, until @func returns FALSE
 * (then TRUE).  FALSE when the body is not multipart/form-data as
 * announced, or does not parse; parts before the fault may have been
 * passed on already.  Each transport splits with its own library. */
typedef gboolean (*NotaryHttpFormSplitter) (NotaryHttpExchange *ex, NotaryHttpPartFunc func, gpointer user_data);

typedef struct
{
  const char *name; /* static */
  const char *value;
  char *owned; /* value when it was allocated, else NULL */
} NotaryHttpHeader;

struct _NotaryHttpExchange
{
  /* Request: set by the transport, valid until the exchange is cleared. */
  const char *method;
  const char *raw_path;  /* as sent: percent-encoded, without the query */
  const char *raw_query; /* after '?', still encoded; NULL when there is none */
  GBytes *body;          /* NULL = empty (owned) */
  gboolean too_large;    /* the transport refused the body (max_body_bytes) */
  NotaryHttpHeaderLookup get_header;
  NotaryHttpFormSplitter split_form;
  gpointer transport_data;
  NotaryRepoRead *read; /* read ahead for the request, or NULL (owned) */
  gint64 read_started_us; /* when that read was asked for (monotonic) */

  /* Response: set by the core. */
  guint status;
  GBytes *response_body; /* NULL = empty (owned) */
  guint n_headers;
  NotaryHttpHeader headers[NOTARY_HTTP_MAX_RESPONSE_HEADERS];
};

/* Frees what the exchange owns (body, response body, header values). */
void _notary_http_exchange_clear (NotaryHttpExchange *ex);

/* Sets response header @name (a static string), replacing an earlier one.
 * _take owns @value, _static borrows a string that outlives the exchange. */
void _notary_http_exchange_set_header_take (NotaryHttpExchange *ex, const char *name, char *value);
void _notary_http_exchange_set_header_static (NotaryHttpExchange *ex, const char *name, const char *value);

/* Answers one request of the main listener / of the debug listener: fills
 * ex->status, the response headers and body.  May block on storage or
 * signer I/O; thread-safe. */
void _notary_http_server_handle (NotaryHttpServer *srv, NotaryHttpExchange *ex);
void _notary_http_server_handle_debug (NotaryHttpServer *srv, NotaryHttpExchange *ex);

/* Answers like _notary_http_server_handle(), or returns FALSE, leaving
 * the exchange unanswered, when that would wait on a backend: the
 * transport then calls _notary_http_server_handle() where it may block.
 * Only for exchanges whose read ahead ended (always FALSE otherwise). */
gboolean _notary_http_server_try_handle (NotaryHttpServer *srv, NotaryHttpExchange *ex);

/* Starts the backend read a GET of current metadata (any `<role>.json`)
 * begins with, when reads may block and are shared (notary-repo.h), so
 * a transport need not hold a thread while it waits.  \return TRUE when
 * started: @ready(@user_data) is then called once, on another thread,
 * when ex->read holds the result, and the exchange must stay alive and
 * untouched until then.  FALSE: nothing to read ahead. */
typedef void (*NotaryHttpReadyFunc) (gpointer user_data);
gboolean _notary_http_server_read_ahead (NotaryHttpServer *srv, NotaryHttpExchange *ex, NotaryHttpReadyFunc ready,
                                         gpointer user_data);

/* Whether answering @method @raw_path may wait on a backend: any request
 * that changes state, and with opts->storage_blocks every read but the
 * checksum-addressed ones (immutable, answered from the file cache).  A
 * cheap guess from the path alone, before routing: a wrong guess only
 * costs a thread hop or a briefly blocked worker, never a different
 * answer. */
gboolean _notary_http_server_may_block (NotaryHttpServer *srv, const char *method, const char *raw_path);

/* ---- implemented by the transport --------------------------------------- */

typedef struct _NotaryHttpTransport NotaryHttpTransport;

/* @opts stays owned by @srv and outlives the transport. */
NotaryHttpTransport *_notary_http_transport_new (NotaryHttpServer *srv, const NotaryHttpOptions *opts);
/* Binds @addr (port 0: any; the chosen one is returned in @out_port) and
 * starts opts->workers worker threads serving the main API. */
gboolean _notary_http_transport_listen (NotaryHttpTransport *t, const NotaryListenAddr *addr, guint16 *out_port,
                                        GError **error);
/* Serves the debug endpoints, plain HTTP, on one more address. */
gboolean _notary_http_transport_listen_debug (NotaryHttpTransport *t, const NotaryListenAddr *addr, GError **error);
/* New connections use @identity (full chain and key); established ones keep theirs. */
void _notary_http_transport_set_identity (NotaryHttpTransport *t, NotaryTlsIdentity *identity);
/* Stops the main listener's workers (in-flight requests finish first). */
void _notary_http_transport_stop (NotaryHttpTransport *t);
/* Stops everything (debug listener too) and frees. */
void _notary_http_transport_free (NotaryHttpTransport *t);

G_END_DECLS
