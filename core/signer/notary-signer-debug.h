/* notary-signer-debug.h — the signer's `-debug` HTTP server
 * (config-and-ops.md §7): plain HTTP on loopback, fixed to
 * localhost:8080 by the daemon, with
 *
 *   GET /debug/health  200 {} or 503 {"DB operational":"<error>"}
 *   GET /debug/vars    expvar-style JSON: cmdline, memstats
 *
 * and 404 for everything else (the signer has no pprof).  The health
 * check runs periodically; until its first run the answer is {}.
 */
#pragma once

#include <glib.h>

#include "notary-signer-keystore.h"

G_BEGIN_DECLS

typedef struct _NotarySignerDebug NotarySignerDebug;

/* @argv: the command line shown by /debug/vars (copied). */
NotarySignerDebug *notary_signer_debug_new (char **argv);
void notary_signer_debug_free (NotarySignerDebug *debug);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySignerDebug, notary_signer_debug_free)

/* Serve on 127.0.0.1:@port (0 = any free port) from a thread of its
 * own.  \return FALSE + error when the port cannot be bound. */
gboolean notary_signer_debug_listen (NotarySignerDebug *debug, guint16 port, GError **error);
/* The bound port (after a successful listen). */
guint16 notary_signer_debug_get_port (NotarySignerDebug *debug);

/* Register the "DB operational" check against @store's check_health
 * (stores without one register nothing), run every @interval_ms on the
 * thread-default main context, the first result after one period.  @store: (transfer none), must outlive
 * @debug. */
void notary_signer_debug_watch_store (NotarySignerDebug *debug, NotarySignerKeyStore *store,
                                      guint interval_ms);

/* The health answer now: (transfer full) JSON object text; *@out_ok FALSE
 * when a check failed. */
char *notary_signer_debug_health_json (NotarySignerDebug *debug, gboolean *out_ok);

G_END_DECLS
