/* notary-coalesce.c — see notary-coalesce.h.
 *
 * Each key being read has a Flight.  Fetches of a key are numbered in the
 * order they start; `started` is the number of the last one started,
 * `finished` of the last one ended (whose value the flight holds).  A
 * caller arriving when `started` is n needs the value of a fetch numbered
 * n + 1 or later, which by construction starts after its arrival.  When no
 * fetch runs (started == finished) the first caller that still needs one
 * starts it; the rest sleep until a new enough value is there.
 */
#include "notary-coalesce.h"

#include <gio/gio.h>

typedef struct
{
  guint callers; /* inside run() for this key; the flight dies at 0 */
  guint64 started;
  guint64 finished;
  gpointer value; /* of fetch `finished`, or NULL and error */
  GError *error;
  GCond done;
} Flight;

struct _NotaryCoalescer
{
  GMutex lock;
  GHashTable *flights; /* key -> Flight* */
  NotaryCoalescerCopy copy;
  GDestroyNotify free;
  guint64 fetches;
};

NotaryCoalescer *
notary_coalescer_new (NotaryCoalescerCopy copy, GDestroyNotify free)
{
  NotaryCoalescer *c = g_new0 (NotaryCoalescer, 1);
  g_mutex_init (&c->lock);
  /* Flights are freed by the last caller, so the table never outlives
   * one: no value free function here. */
  c->flights = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->copy = copy;
  c->free = free;
  return c;
}

void
notary_coalescer_free (NotaryCoalescer *c)
{
  if (c == NULL)
    return;
  /* Callers must be gone: a flight only exists while one is inside run(). */
  g_assert (g_hash_table_size (c->flights) == 0);
  g_hash_table_unref (c->flights);
  g_mutex_clear (&c->lock);
  g_free (c);
}

static void
flight_set (NotaryCoalescer *c, Flight *f, gpointer value, GError *error)
{
  if (f->value != NULL)
    c->free (f->value);
  g_clear_error (&f->error);
  f->value = value;
  f->error = error;
}

gpointer
notary_coalescer_run (NotaryCoalescer *c, const char *key, NotaryCoalescerFetch fetch, gpointer user_data,
                      GError **error)
{
  Flight *f;
  guint64 need;
  gpointer out = NULL;

  g_mutex_lock (&c->lock);
  f = g_hash_table_lookup (c->flights, key);
  if (f == NULL)
    {
      f = g_new0 (Flight, 1);
      g_cond_init (&f->done);
      g_hash_table_insert (c->flights, g_strdup (key), f);
    }
  f->callers++;
  need = f->started + 1;
  while (f->finished < need)
    {
      if (f->started == f->finished)
        {
          gpointer value;
          GError *fetch_error = NULL;

          f->started = need;
          c->fetches++;
          g_mutex_unlock (&c->lock);
          value = fetch (user_data, &fetch_error);
          g_mutex_lock (&c->lock);
          /* A fetch that fails without saying why is a bug in it; keep the
           * contract (NULL comes with an error) for the waiters anyway. */
          if (value == NULL && fetch_error == NULL)
            fetch_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "read failed");
          flight_set (c, f, value, fetch_error);
          f->finished = need;
          g_cond_broadcast (&f->done);
          break;
        }
      g_cond_wait (&f->done, &c->lock);
    }
  /* `finished` may have moved past `need` while this caller slept: a newer
   * value is as good (it too started after the call). */
  if (f->value != NULL)
    out = c->copy (f->value);
  else if (error != NULL)
    *error = g_error_copy (f->error);
  if (--f->callers == 0)
    {
      g_hash_table_remove (c->flights, key);
      flight_set (c, f, NULL, NULL);
      g_cond_clear (&f->done);
      g_free (f);
    }
  g_mutex_unlock (&c->lock);
  return out;
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
  n = f != NULL ? f->callers : 0;
  g_mutex_unlock (&c->lock);
  return n;
}
