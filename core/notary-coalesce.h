/* notary-coalesce.h — concurrent reads of one key share one backend call.
 *
 * Under load most GETs of a popular repository ask the database the same
 * question ("the latest timestamp of <gun>") at the same moment.  A
 * NotaryCoalescer lets the callers that wait for the same key share one
 * fetch, without ever answering a caller with data read before it
 * called: a caller that arrives while a fetch is already running does not
 * join it (that fetch may have read the row before a write the caller has
 * seen complete); it waits for it to end and then shares the *next* one
 * with everyone else who arrived meanwhile.  So every answer is at least
 * as new as a direct read at the moment of the call (read-your-writes
 * holds across server instances), and under a burst the database sees one
 * query per key per query time instead of one per request.
 *
 * Not a cache: nothing is kept once the last caller of a key has left.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NotaryCoalescer NotaryCoalescer;

/* Reads the value for the key run() was called with.  \return a new
 * value, or NULL with @error set. */
typedef gpointer (*NotaryCoalescerFetch) (gpointer user_data, GError **error);

/* @copy makes each caller's own copy of a shared value; @free frees one. */
typedef gpointer (*NotaryCoalescerCopy) (gconstpointer value);

NotaryCoalescer *notary_coalescer_new (NotaryCoalescerCopy copy, GDestroyNotify free);
void notary_coalescer_free (NotaryCoalescer *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryCoalescer, notary_coalescer_free)

/* The value of @key as fetch(@user_data) returns it when called after this
 * call began, possibly by another caller: (transfer full) a copy, or NULL
 * with a copy of the fetch's error.  Blocks while another caller's fetch
 * of @key runs.  Thread-safe. */
gpointer notary_coalescer_run (NotaryCoalescer *c, const char *key, NotaryCoalescerFetch fetch, gpointer user_data,
                               GError **error);

/* For tests: how many fetches ran (all keys); how many callers are inside
 * run() for @key. */
guint64 notary_coalescer_get_fetches (NotaryCoalescer *c);
guint notary_coalescer_get_callers (NotaryCoalescer *c, const char *key);

G_END_DECLS
