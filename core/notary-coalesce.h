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
 * Callers may wait without a thread: get_async() registers a callback,
 * and the fetches run on the coalescer's own small pool of threads.  An
 * HTTP worker can so park any number of requests on one query instead of
 * handing each to a thread that sleeps until the query ends (on the
 * 2-CPU bench, those threads' wake-ups cost more CPU than the GETs).
 *
 * Not a cache: nothing is kept once the last caller of a key has left.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NotaryCoalescer NotaryCoalescer;

/* Reads the value of @key.  \return a new value, or NULL with @error set.
 * Runs on a fetch thread or a get() caller's, never two at once per key. */
typedef gpointer (*NotaryCoalescerFetch) (gpointer fetch_data, const char *key, GError **error);

/* @copy makes each caller's own copy of a shared value; @free frees one. */
typedef gpointer (*NotaryCoalescerCopy) (gconstpointer value);

/* get_async()'s answer: (transfer full) @value, or NULL and (transfer
 * full) @error.  Called on a fetch thread, without locks held. */
typedef void (*NotaryCoalescerDone) (gpointer value, GError *error, gpointer user_data);

/* @threads fetch threads (at least 1) run fetches for get_async() callers;
 * they start now. */
NotaryCoalescer *notary_coalescer_new (NotaryCoalescerFetch fetch, gpointer fetch_data, NotaryCoalescerCopy copy,
                                       GDestroyNotify free, guint threads, GError **error);
/* Waits for the fetches under way (and their callbacks) to end. */
void notary_coalescer_free (NotaryCoalescer *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryCoalescer, notary_coalescer_free)

/* Calls @done, later and on another thread, with the value of @key as a
 * fetch that began after this call returns it.  Thread-safe. */
void notary_coalescer_get_async (NotaryCoalescer *c, const char *key, NotaryCoalescerDone done, gpointer user_data);

/* The same, waiting: (transfer full) the value or NULL with @error set.
 * When no fetch of @key is under way the caller runs it itself (no
 * thread hop), answering whoever else is waiting for it too. */
gpointer notary_coalescer_get (NotaryCoalescer *c, const char *key, GError **error);

/* For tests: how many fetches ran (all keys); how many callers wait for
 * @key (whether or not their fetch has begun). */
guint64 notary_coalescer_get_fetches (NotaryCoalescer *c);
guint notary_coalescer_get_callers (NotaryCoalescer *c, const char *key);

G_END_DECLS
