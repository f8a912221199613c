/* notary-http.h — notary-server's HTTP(S) front end (server-api.md).
 *
 * `workers` threads serve the connections; a request is handled
 * synchronously on the thread that runs it, so a slow backend call blocks
 * only that thread.  The transport is chosen at build time (meson option
 * http_engine): libmicrohttpd (default; one daemon with a pool of
 * `workers` threads on one listening socket, which answer reads and hand
 * requests that change state, and with a blocking store the reads that
 * query it, to a shared pool of `handlers` threads) or
 * libsoup (a SoupServer per worker, each on its own SO_REUSEPORT socket,
 * handling everything itself).  Both answer identically; see
 * notary-http-private.h.  Optionally a plain-HTTP debug listener
 * (localhost only) runs too.
 */
#pragma once

#include <gio/gio.h>
#include "notary-auth.h"
#include "notary-log.h"
#include "notary-repo.h"
#include "notary-tls-identity.h"

G_BEGIN_DECLS

typedef struct
{
  NotaryRepo *repo;               /* borrowed */
  gint64 max_age_current;         /* seconds; 0 = no-cache */
  gint64 max_age_consistent;
  const char *const *gun_prefixes; /* NULL or empty = all */
  gint64 max_body_bytes;
  NotaryTlsIdentity *tls_identity; /* NULL = plain HTTP (the server keeps a ref) */
  const char *client_ca_file;      /* NULL = no client certs; else a PEM bundle (copied) */
  guint workers;                    /* >= 1 */
  guint handlers;                   /* threads for requests that change state (mhd); 0 = workers */
  gboolean storage_blocks;          /* reads of current metadata wait on storage (a database):
                                     * mhd runs them on the handlers too */
  NotaryAuth *auth;                 /* NULL = no authentication (borrowed) */
  NotaryLogger *logger;             /* for level checks before formatting; NULL = quiet */
} NotaryHttpOptions;

typedef struct _NotaryHttpServer NotaryHttpServer;

NotaryHttpServer *notary_http_server_new (const NotaryHttpOptions *options);
void notary_http_server_free (NotaryHttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryHttpServer, notary_http_server_free)

/* Bind @addr ("host:port", ":port"; port 0 picks one) and start the
 * workers.  Error texts follow the reference where it has one. */
gboolean notary_http_server_listen (NotaryHttpServer *server, const char *addr, GError **error);
/* The bound port (after listen). */
guint16 notary_http_server_get_port (NotaryHttpServer *server);
/* Requests answered so far on the main listener (what /metrics counts;
 * the debug listener's are not). */
guint64 notary_http_server_count_answered (NotaryHttpServer *server);
/* Stop accepting, let in-flight requests finish, join the workers. */
void notary_http_server_stop (NotaryHttpServer *server);

/* Swap the TLS certificate of every worker (SIGHUP reload); new
 * connections use it, established ones keep theirs. */
void notary_http_server_set_tls_identity (NotaryHttpServer *server, NotaryTlsIdentity *identity);

/* Debug endpoints (/debug/vars, /debug/health) on @addr, which must be a
 * loopback address (default "localhost:8080").  libsoup serves them from
 * the thread-default main context, libmicrohttpd from a thread of its own. */
gboolean notary_http_server_listen_debug (NotaryHttpServer *server, const char *addr, GError **error);

/* Go's path.Clean, keeping a trailing slash (server-api.md §2).
 * (transfer full) */
char *notary_http_clean_path (const char *path);

G_END_DECLS
