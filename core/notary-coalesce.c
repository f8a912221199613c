/* notary-coalesce.c — see notary-coalesce.h.
 *
 * Each key being read has a Flight while anyone waits for it, and from
 * its creation a runner that owns it (queued on the pool or running).
 * Waiters queue on `next`; whoever runs the flight (a fetch thread, or a get()
 * caller that found it idle) takes the whole queue as the riders of one
 * fetch, *then* starts the fetch, so every rider arrived before the read
 * began.  Waiters that arrive meanwhile queue for the following round.
 * Rounds go on while waiters queue; the runner that finds the queue empty
 * retires the flight.
 */
#include "notary-coalesce.h"

#include <gio/gio.h>

typedef struct
{
  NotaryCoalescerDone done;
  gpointer user_data;
} Waiter;

typedef struct
{
  char *key;
  GArray *next; /* Waiter: for the next fetch */
  guint riding; /* waiters of the fetch under way */
} Flight;

struct _NotaryCoalescer
{
  GMutex lock;
  GHashTable *flights; /* key -> Flight* (the flight owns the key) */
  NotaryCoalescerFetch fetch;
  gpointer fetch_data;
  NotaryCoalescerCopy copy;
  GDestroyNotify free;
  GThreadPool *fetchers; /* Flight* */
  gboolean stopping;     /* no more hand-offs to the fetchers */
  guint64 fetches;
};

/* Under the lock: queues @w on the key's flight.  \return the flight
 * when this created it (the caller must run it or hand it to the pool),
 * else NULL (its runner will answer @w). */
static Flight *
flight_join (NotaryCoalescer *c, const char *key, const Waiter *w)
{
  Flight *f = g_hash_table_lookup (c->flights, key);
  Flight *created = NULL;

  if (f == NULL)
    {
      created = f = g_new0 (Flight, 1);
      f->key = g_strdup (key);
      f->next = g_array_new (FALSE, FALSE, sizeof (Waiter));
      g_hash_table_insert (c->flights, f->key, f);
    }
  g_array_append_val (f->next, *w);
  return created;
}

/* One fetch for @riders, each answered with its own copy. */
static void
fetch_round (NotaryCoalescer *c, const char *key, GArray *riders)
{
  g_autoptr (GError) error = NULL;
  gpointer value = c->fetch (c->fetch_data, key, &error);

  /* A fetch that fails without saying why is a bug in it; keep the
   * contract (NULL comes with an error) for the waiters anyway. */
  if (value == NULL && error == NULL)
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "read failed");
  for (guint i = 0; i < riders->len; i++)
    {
      Waiter *w = &g_array_index (riders, Waiter, i);
      gboolean last = i + 1 == riders->len;

      if (value != NULL)
        w->done (last ? g_steal_pointer (&value) : c->copy (value), NULL, w->user_data);
      else
        w->done (NULL, last ? g_steal_pointer (&error) : g_error_copy (error), w->user_data);
    }
  if (value != NULL) /* no riders: cannot happen */
    c->free (value);
}

/* Runs rounds of @f while waiters queue, then retires it.  On a fetch
 * thread (@inline_caller FALSE) a busy pool gets the flight back after
 * each round, so a hot key cannot starve the others; a get() caller runs
 * one round (its own) and leaves the rest to the pool. */
static void
flight_run (NotaryCoalescer *c, Flight *f, gboolean inline_caller)
{
  g_mutex_lock (&c->lock);
  for (guint round = 0;; round++)
    {
      GArray *riders;

      if (f->next->len == 0)
        {
          g_hash_table_remove (c->flights, f->key);
          g_array_unref (f->next);
          g_free (f->key);
          g_free (f);
          break;
        }
      if (round > 0 && !c->stopping
          && (inline_caller || g_thread_pool_unprocessed (c->fetchers) > 0))
        {
          g_thread_pool_push (c->fetchers, f, NULL);
          break;
        }
      riders = f->next;
      f->next = g_array_new (FALSE, FALSE, sizeof (Waiter));
      f->riding = riders->len;
      c->fetches++;
      g_mutex_unlock (&c->lock);
      /* the flight stays ours, key included */
      fetch_round (c, f->key, riders);
      g_array_unref (riders);
      g_mutex_lock (&c->lock);
      f->riding = 0;
    }
  g_mutex_unlock (&c->lock);
}

static void
fetcher_main (gpointer data, gpointer user_data)
{
  flight_run (user_data, data, FALSE);
}

NotaryCoalescer *
notary_coalescer_new (NotaryCoalescerFetch fetch, gpointer fetch_data, NotaryCoalescerCopy copy,
                      GDestroyNotify free, guint threads, GError **error)
{
  NotaryCoalescer *c = g_new0 (NotaryCoalescer, 1);

  c->fetch = fetch;
  c->fetch_data = fetch_data;
  c->copy = copy;
  c->free = free;
  /* exclusive: the threads start now and stay, no spawn per fetch */
  c->fetchers = g_thread_pool_new (fetcher_main, c, (gint) MAX (threads, 1), TRUE, error);
  if (c->fetchers == NULL)
    {
      g_free (c);
      return NULL;
    }
  g_mutex_init (&c->lock);
  /* Flights free themselves (and their key) when retired. */
  c->flights = g_hash_table_new (g_str_hash, g_str_equal);
  return c;
}

void
notary_coalescer_free (NotaryCoalescer *c)
{
  if (c == NULL)
    return;
  g_mutex_lock (&c->lock);
  c->stopping = TRUE;
  g_mutex_unlock (&c->lock);
  /* Runs what is queued; runners no longer hand flights back. */
  g_thread_pool_free (c->fetchers, FALSE, TRUE);
  /* get() callers must be gone too: a flight lives while anyone waits. */
  g_assert (g_hash_table_size (c->flights) == 0);
  g_hash_table_unref (c->flights);
  g_mutex_clear (&c->lock);
  g_free (c);
}

void
notary_coalescer_get_async (NotaryCoalescer *c, const char *key, NotaryCoalescerDone done, gpointer user_data)
{
  Waiter w = { done, user_data };
  Flight *f;

  g_mutex_lock (&c->lock);
  f = flight_join (c, key, &w);
  if (f != NULL)
    g_thread_pool_push (c->fetchers, f, NULL);
  g_mutex_unlock (&c->lock);
}

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  gpointer value;
  GError *error;
} SyncWait;

static void
sync_done (gpointer value, GError *error, gpointer user_data)
{
  SyncWait *w = user_data;

  g_mutex_lock (&w->lock);
  w->value = value;
  w->error = error;
  w->done = TRUE;
  g_cond_signal (&w->cond);
  /* the waiter may return (and its frame go) once this unlocks */
  g_mutex_unlock (&w->lock);
}

gpointer
notary_coalescer_get (NotaryCoalescer *c, const char *key, GError **error)
{
  SyncWait w = { 0 };
  Waiter waiter = { sync_done, &w };
  Flight *f;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  g_mutex_lock (&c->lock);
  f = flight_join (c, key, &waiter);
  g_mutex_unlock (&c->lock);
  if (f != NULL)
    flight_run (c, f, TRUE); /* our own round answers us */

  g_mutex_lock (&w.lock);
  while (!w.done)
    g_cond_wait (&w.cond, &w.lock);
  g_mutex_unlock (&w.lock);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  if (w.error != NULL)
    g_propagate_error (error, w.error);
  return w.value;
}

guint64
notary_coalescer_get_fetches (NotaryCoalescer *c)
{
  guint64 n;
  g_mutex_lock (&c->lock);
  n = c->fetches;
  g_mutex_unlock (&c->lock);
  return n;
}

guint
notary_coalescer_get_callers (NotaryCoalescer *c, const char *key)
{
  Flight *f;
  guint n;
  g_mutex_lock (&c->lock);
  f = g_hash_table_lookup (c->flights, key);
  n = f != NULL ? f->next->len + f->riding : 0;
  g_mutex_unlock (&c->lock);
  return n;
}
