/* test-coalesce.c — NotaryCoalescer: concurrent reads of a key share a
 * fetch, and no caller ever gets a value read before it called.
 *
 * The "database" here is a counter: a fetch returns its value at the time
 * the fetch starts, and writers bump it.  A caller that saw the counter at v
 * before calling must get at least v back (read-your-writes); callers
 * waiting together must share fetches.  Fetches that must stay in flight
 * while other callers arrive wait on a gate the test opens.
 */
#include "notary-coalesce.h"

#include <gio/gio.h>

#define WAIT_US (10 * G_USEC_PER_SEC)

typedef struct
{
  NotaryCoalescer *c;
  gint64 db;       /* the value a fetch of "k" (and most keys) reads (atomic) */
  gint64 db_b;     /* what a fetch of "b" reads: it never waits for the gate */
  gint fetching;   /* fetches running now (atomic) */
  GMutex gate_lock;
  GCond gate_cond;
  gboolean gate_open; /* while FALSE, fetches wait (after reading db) */
  gboolean fail;      /* fetches fail instead (atomic) */
  gboolean fail_silently; /* ...without setting an error */
  gulong delay_us;        /* each fetch takes at least this long */
} Db;

static gpointer fetch (gpointer fetch_data, const char *key, GError **error);

static gpointer
copy_value (gconstpointer v)
{
  return g_memdup2 (v, sizeof (gint64));
}

static void
db_init (Db *db)
{
  *db = (Db){ 0 };
  db->c = notary_coalescer_new (fetch, db, copy_value, g_free, 2, NULL);
  g_assert_nonnull (db->c);
  db->db = 1;
  db->gate_open = TRUE;
  g_mutex_init (&db->gate_lock);
  g_cond_init (&db->gate_cond);
}

static void
db_clear (Db *db)
{
  /* asserts that no flight outlived its callers */
  notary_coalescer_free (db->c);
  g_mutex_clear (&db->gate_lock);
  g_cond_clear (&db->gate_cond);
}

static void
gate_set (Db *db, gboolean open)
{
  g_mutex_lock (&db->gate_lock);
  db->gate_open = open;
  g_cond_broadcast (&db->gate_cond);
  g_mutex_unlock (&db->gate_lock);
}

/* Reads db, then (like a query whose answer is slow to come back) waits
 * for the gate: what it returns may be older than a write that completed
 * meanwhile. */
static gpointer
fetch (gpointer fetch_data, const char *key, GError **error)
{
  Db *db = fetch_data;
  gint64 v;

  if (g_str_equal (key, "b"))
    {
      v = __atomic_load_n (&db->db_b, __ATOMIC_SEQ_CST);
      return g_memdup2 (&v, sizeof v);
    }
  v = __atomic_load_n (&db->db, __ATOMIC_SEQ_CST);
  g_atomic_int_inc (&db->fetching);
  if (db->delay_us > 0)
    g_usleep (db->delay_us);
  g_mutex_lock (&db->gate_lock);
  while (!db->gate_open)
    g_cond_wait (&db->gate_cond, &db->gate_lock);
  g_mutex_unlock (&db->gate_lock);
  g_atomic_int_add (&db->fetching, -1);
  if (g_atomic_int_get (&db->fail))
    {
      if (!db->fail_silently)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "server has gone away (%" G_GINT64_FORMAT ")",
                     v);
      return NULL;
    }
  return g_memdup2 (&v, sizeof v);
}

/* Polls @cond (bounded: fails the test after WAIT_US). */
#define WAIT_FOR(cond)                                                                                        \
  G_STMT_START                                                                                                \
  {                                                                                                           \
    gint64 deadline_ = g_get_monotonic_time () + WAIT_US;                                                     \
    while (!(cond))                                                                                           \
      {                                                                                                       \
        g_assert_cmpint (g_get_monotonic_time (), <, deadline_);                                              \
        g_usleep (500);                                                                                       \
      }                                                                                                       \
  }                                                                                                           \
  G_STMT_END

typedef struct
{
  Db *db;
  const char *key;
  gint64 seen;   /* db before the call */
  gint64 got;    /* result, -1 on error */
  GError *error;
} Call;

static gpointer
call_thread (gpointer data)
{
  Call *call = data;
  g_autofree gint64 *v = NULL;

  call->seen = __atomic_load_n (&call->db->db, __ATOMIC_SEQ_CST);
  v = notary_coalescer_get (call->db->c, call->key, &call->error);
  call->got = v != NULL ? *v : -1;
  return NULL;
}

/* Starts @leader's call on key "k" with the gate closed and returns once
 * its fetch is in flight. */
static GThread *
start_leader (Db *db, Call *leader)
{
  GThread *t;

  gate_set (db, FALSE);
  *leader = (Call){ db, "k", 0, 0, NULL };
  t = g_thread_new ("leader", call_thread, leader);
  WAIT_FOR (g_atomic_int_get (&db->fetching) == 1);
  return t;
}

/* Starts @n calls on "k" behind the leader's running fetch and returns once
 * all are inside run(). */
static void
start_waiters (Db *db, Call *waiters, GThread **threads, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      waiters[i] = (Call){ db, "k", 0, 0, NULL };
      threads[i] = g_thread_new ("waiter", call_thread, &waiters[i]);
    }
  WAIT_FOR (notary_coalescer_get_callers (db->c, "k") == n + 1);
}

static void
test_single (void)
{
  Db db;
  g_autoptr (GError) error = NULL;
  g_autofree gint64 *a = NULL;
  g_autofree gint64 *b = NULL;

  db_init (&db);
  a = notary_coalescer_get (db.c, "gun\ntimestamp", &error);
  g_assert_no_error (error);
  g_assert_cmpint (*a, ==, 1);
  g_assert_cmpuint (notary_coalescer_get_callers (db.c, "gun\ntimestamp"), ==, 0);

  /* Not a cache: the next call reads again and sees the write. */
  db.db = 2;
  b = notary_coalescer_get (db.c, "gun\ntimestamp", &error);
  g_assert_no_error (error);
  g_assert_cmpint (*b, ==, 2);
  g_assert_cmpuint (notary_coalescer_get_fetches (db.c), ==, 2);
  db_clear (&db);
}

/* Callers arriving while a fetch runs share the next one, and none gets the
 * value of the fetch that was already running (it may predate a write they
 * saw complete). */
static void
test_shared_and_fresh (void)
{
  enum { N = 8 };
  Db db;
  Call leader, waiters[N];
  GThread *lt, *wt[N];

  db_init (&db);
  lt = start_leader (&db, &leader);

  /* The leader's fetch has read 1.  A write completes... */
  __atomic_store_n (&db.db, 2, __ATOMIC_SEQ_CST);
  /* ...then N readers call, all of whom must see it. */
  start_waiters (&db, waiters, wt, N);
  g_assert_cmpint (g_atomic_int_get (&db.fetching), ==, 1); /* nobody started a second fetch early */

  gate_set (&db, TRUE);
  g_thread_join (lt);
  g_assert_no_error (leader.error);
  g_assert_cmpint (leader.got, ==, 1);
  for (guint i = 0; i < N; i++)
    g_thread_join (wt[i]);

  /* Joining the leader's fetch would have answered 1; they shared one
   * fetch that started after they all arrived. */
  for (guint i = 0; i < N; i++)
    {
      g_assert_no_error (waiters[i].error);
      g_assert_cmpint (waiters[i].seen, ==, 2);
      g_assert_cmpint (waiters[i].got, ==, 2);
    }
  g_assert_cmpuint (notary_coalescer_get_fetches (db.c), ==, 2);
  /* The riders are answered before their runner, on a fetch thread,
   * retires the flight: joining them does not mean it is gone yet. */
  WAIT_FOR (notary_coalescer_get_callers (db.c, "k") == 0);
  db_clear (&db);
}

/* Each caller gets its own copy of the error; errors are not kept. */
static void
test_error (void)
{
  enum { N = 4 };
  Db db;
  Call leader, waiters[N];
  GThread *lt, *wt[N];
  g_autoptr (GError) error = NULL;
  g_autofree gint64 *v = NULL;

  db_init (&db);
  db.fail = TRUE;
  lt = start_leader (&db, &leader);
  start_waiters (&db, waiters, wt, N);
  gate_set (&db, TRUE);
  g_thread_join (lt);
  for (guint i = 0; i < N; i++)
    g_thread_join (wt[i]);

  g_assert_error (leader.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpint (leader.got, ==, -1);
  for (guint i = 0; i < N; i++)
    {
      g_assert_error (waiters[i].error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      g_assert_true (waiters[i].error != leader.error);
      g_assert_cmpint (waiters[i].got, ==, -1);
      g_clear_error (&waiters[i].error);
    }
  g_clear_error (&leader.error);

  /* A fetch that fails without saying why still yields an error. */
  db.fail_silently = TRUE;
  v = notary_coalescer_get (db.c, "k", &error);
  g_assert_null (v);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&error);

  /* The failure was not remembered. */
  db.fail = FALSE;
  v = notary_coalescer_get (db.c, "k", &error);
  g_assert_no_error (error);
  g_assert_cmpint (*v, ==, 1);
  db_clear (&db);
}

/* A slow fetch of one key holds up no other key. */
static void
test_keys_independent (void)
{
  Db db;
  Call slow;
  GThread *t;
  g_autoptr (GError) error = NULL;
  g_autofree gint64 *v = NULL;

  db_init (&db);
  t = start_leader (&db, &slow);

  /* other key, a fetch that does not wait for the gate */
  db.db_b = 7;
  v = notary_coalescer_get (db.c, "b", &error);
  g_assert_no_error (error);
  g_assert_cmpint (*v, ==, 7);
  g_assert_cmpuint (notary_coalescer_get_callers (db.c, "k"), ==, 1);

  gate_set (&db, TRUE);
  g_thread_join (t);
  g_assert_no_error (slow.error);
  db_clear (&db);
}

/* Many readers and a writer: every answer is at least as new as the value
 * its caller saw before calling, and readers shared fetches. */
typedef struct
{
  Db *db;
  guint id;
  guint calls;
  guint stale;
} Reader;

static gpointer
reader_thread (gpointer data)
{
  Reader *r = data;
  static const char *const keys[] = { "a", "c", "d" };

  for (guint i = 0; i < r->calls; i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 seen = __atomic_load_n (&r->db->db, __ATOMIC_SEQ_CST);
      g_autofree gint64 *v = notary_coalescer_get (r->db->c, keys[(r->id + i) % 3], &error);

      g_assert_no_error (error);
      if (*v < seen)
        r->stale++;
    }
  return NULL;
}

static gpointer
writer_thread (gpointer data)
{
  Db *db = data;
  for (guint i = 0; i < 2000; i++)
    {
      __atomic_fetch_add (&db->db, 1, __ATOMIC_SEQ_CST);
      g_usleep (50);
    }
  return NULL;
}

static void
test_stress (void)
{
  enum { N = 8, CALLS = 3000 };
  Db db;
  Reader readers[N];
  GThread *rt[N], *wt;
  guint64 calls = 0;

  db_init (&db);
  db.delay_us = 20; /* long enough for callers to pile up */
  wt = g_thread_new ("writer", writer_thread, &db);
  for (guint i = 0; i < N; i++)
    {
      readers[i] = (Reader){ &db, i, CALLS, 0 };
      rt[i] = g_thread_new ("reader", reader_thread, &readers[i]);
    }
  for (guint i = 0; i < N; i++)
    {
      g_thread_join (rt[i]);
      g_assert_cmpuint (readers[i].stale, ==, 0);
      calls += readers[i].calls;
    }
  g_thread_join (wt);
  g_test_message ("%" G_GUINT64_FORMAT " calls, %" G_GUINT64_FORMAT " fetches", calls,
                  notary_coalescer_get_fetches (db.c));
  /* shared: fewer fetches than calls */
  g_assert_cmpuint (notary_coalescer_get_fetches (db.c), <, calls);
  db_clear (&db);
}

/* ---- waiting without a thread (get_async) ------------------------------ */

typedef struct
{
  gint64 got; /* -1 on error */
  GError *error;
  GThread *thread; /* where the answer came */
  gint *answered;  /* atomic counter shared by a test's calls */
} AsyncCall;

static void
async_done (gpointer value, GError *error, gpointer user_data)
{
  AsyncCall *a = user_data;

  a->got = value != NULL ? *(gint64 *) value : -1;
  g_free (value);
  a->error = error;
  a->thread = g_thread_self ();
  g_atomic_int_inc (a->answered);
}

/* Parked callers behave as waiting ones: they share the fetch after the
 * one under way, never ride it, and are answered on a fetch thread. */
static void
test_async_shared_and_fresh (void)
{
  enum { N = 16 };
  Db db;
  Call leader;
  GThread *lt;
  AsyncCall calls[N];
  gint answered = 0;

  db_init (&db);
  lt = start_leader (&db, &leader);
  __atomic_store_n (&db.db, 2, __ATOMIC_SEQ_CST);
  for (guint i = 0; i < N; i++)
    {
      calls[i] = (AsyncCall){ 0, NULL, NULL, &answered };
      notary_coalescer_get_async (db.c, "k", async_done, &calls[i]);
    }
  /* registered at once, answered by no one while the gate holds the
   * leader's fetch */
  g_assert_cmpuint (notary_coalescer_get_callers (db.c, "k"), ==, N + 1);
  g_usleep (20000);
  g_assert_cmpint (g_atomic_int_get (&answered), ==, 0);

  gate_set (&db, TRUE);
  g_thread_join (lt);
  g_assert_cmpint (leader.got, ==, 1);
  WAIT_FOR (g_atomic_int_get (&answered) == N);
  for (guint i = 0; i < N; i++)
    {
      g_assert_no_error (calls[i].error);
      g_assert_cmpint (calls[i].got, ==, 2);
      g_assert_true (calls[i].thread != g_thread_self ());
    }
  g_assert_cmpuint (notary_coalescer_get_fetches (db.c), ==, 2);
  WAIT_FOR (notary_coalescer_get_callers (db.c, "k") == 0);
  db_clear (&db);
}

/* With nothing under way a parked caller starts a fetch; errors reach it
 * too; and free() waits for the answers under way. */
static void
test_async_idle_error_and_free (void)
{
  Db db;
  AsyncCall a = { 0 };
  gint answered = 0;

  db_init (&db);
  a.answered = &answered;
  db.db = 5;
  notary_coalescer_get_async (db.c, "k", async_done, &a);
  WAIT_FOR (g_atomic_int_get (&answered) == 1);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.got, ==, 5);

  db.fail = TRUE;
  notary_coalescer_get_async (db.c, "k", async_done, &a);
  WAIT_FOR (g_atomic_int_get (&answered) == 2);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpint (a.got, ==, -1);
  g_clear_error (&a.error);

  db.fail = FALSE;
  db.delay_us = 50000;
  notary_coalescer_get_async (db.c, "k", async_done, &a);
  db_clear (&db); /* returns only once the slow fetch answered */
  g_assert_cmpint (g_atomic_int_get (&answered), ==, 3);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.got, ==, 5);
}

/* Many parked readers and a writer: no stale answer, and shared fetches. */
static void
test_async_stress (void)
{
  enum { N = 20000 };
  Db db;
  AsyncCall *calls = g_new0 (AsyncCall, N);
  gint64 *seen = g_new0 (gint64, N);
  gint answered = 0;
  GThread *wt;

  db_init (&db);
  db.delay_us = 20;
  wt = g_thread_new ("writer", writer_thread, &db);
  for (guint i = 0; i < N; i++)
    {
      calls[i].answered = &answered;
      seen[i] = __atomic_load_n (&db.db, __ATOMIC_SEQ_CST);
      notary_coalescer_get_async (db.c, i % 2 ? "a" : "k", async_done, &calls[i]);
      if (i % 64 == 0)
        g_usleep (10);
    }
  WAIT_FOR (g_atomic_int_get (&answered) == N);
  g_thread_join (wt);
  for (guint i = 0; i < N; i++)
    {
      g_assert_no_error (calls[i].error);
      g_assert_cmpint (calls[i].got, >=, seen[i]);
    }
  g_test_message ("%d parked calls, %" G_GUINT64_FORMAT " fetches", N, notary_coalescer_get_fetches (db.c));
  g_assert_cmpuint (notary_coalescer_get_fetches (db.c), <, N);
  db_clear (&db);
  g_free (calls);
  g_free (seen);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/coalesce/single", test_single);
  g_test_add_func ("/coalesce/shared-and-fresh", test_shared_and_fresh);
  g_test_add_func ("/coalesce/error", test_error);
  g_test_add_func ("/coalesce/keys-independent", test_keys_independent);
  g_test_add_func ("/coalesce/stress", test_stress);
  g_test_add_func ("/coalesce/async/shared-and-fresh", test_async_shared_and_fresh);
  g_test_add_func ("/coalesce/async/idle-error-and-free", test_async_idle_error_and_free);
  g_test_add_func ("/coalesce/async/stress", test_async_stress);
  return g_test_run ();
}
