/* test-signer-keycache.c — the signer's bounded key cache: least recently
 * used out first, a hit refreshes, replacing and removing, capacity 0,
 * keys handed out outliving their eviction, and many threads at once.
 */
#include <glib.h>

#include "notary-signer-keycache.h"

static NotaryPrivateKey *
new_key (void)
{
  g_autoptr (GError) error = NULL;
  NotaryPrivateKey *k = notary_private_key_generate ("ed25519", &error);
  g_assert_no_error (error);
  return k;
}

static gboolean
cached (NotarySignerKeyCache *c, const char *id)
{
  g_autoptr (NotaryPrivateKey) k = notary_signer_key_cache_lookup (c, id, NULL, NULL);
  return k != NULL;
}

static void
test_lru_order (void)
{
  g_autoptr (NotarySignerKeyCache) c = notary_signer_key_cache_new (3);
  g_autoptr (NotaryPrivateKey) a = new_key ();
  g_autoptr (NotaryPrivateKey) b = new_key ();
  g_autoptr (NotaryPrivateKey) d = new_key ();
  g_autoptr (NotaryPrivateKey) e = new_key ();
  g_autoptr (NotaryPrivateKey) got = NULL;
  g_autofree char *role = NULL;
  gboolean used = TRUE;

  notary_signer_key_cache_store (c, "a", a, "timestamp", FALSE);
  notary_signer_key_cache_store (c, "b", b, "snapshot", TRUE);
  notary_signer_key_cache_store (c, "d", d, "timestamp", FALSE);
  g_assert_cmpuint (notary_signer_key_cache_size (c), ==, 3);

  /* A hit on "a" makes "b" the least recently used: "e" evicts it. */
  got = notary_signer_key_cache_lookup (c, "a", &role, &used);
  g_assert_true (got == a);
  g_assert_cmpstr (role, ==, "timestamp");
  g_assert_false (used);
  notary_signer_key_cache_store (c, "e", e, "timestamp", FALSE);
  g_assert_cmpuint (notary_signer_key_cache_size (c), ==, 3);
  g_assert_false (cached (c, "b"));
  g_assert_true (cached (c, "a"));
  g_assert_true (cached (c, "d"));
  g_assert_true (cached (c, "e"));

  /* Lookups above went a, d, e: "a" is now the oldest. */
  notary_signer_key_cache_store (c, "b", b, "snapshot", TRUE);
  g_assert_false (cached (c, "a"));
  g_assert_cmpuint (notary_signer_key_cache_size (c), ==, 3);
}

static void
test_replace_remove_used (void)
{
  g_autoptr (NotarySignerKeyCache) c = notary_signer_key_cache_new (2);
  g_autoptr (NotaryPrivateKey) a = new_key ();
  g_autoptr (NotaryPrivateKey) a2 = new_key ();
  g_autoptr (NotaryPrivateKey) b = new_key ();
  g_autofree char *role = NULL;
  gboolean used = TRUE;

  notary_signer_key_cache_store (c, "a", a, "targets", FALSE);
  notary_signer_key_cache_store (c, "b", b, "timestamp", FALSE);
  /* Replacing an entry neither grows the cache nor evicts another. */
  notary_signer_key_cache_store (c, "a", a2, "timestamp", FALSE);
  g_assert_cmpuint (notary_signer_key_cache_size (c), ==, 2);
  g_assert_true (cached (c, "b"));
  {
    g_autoptr (NotaryPrivateKey) got = notary_signer_key_cache_lookup (c, "a", &role, &used);
    g_assert_true (got == a2);
    g_assert_cmpstr (role, ==, "timestamp");
    g_assert_false (used);
  }

  notary_signer_key_cache_set_used (c, "a");
  notary_signer_key_cache_set_used (c, "unknown"); /* no-op */
  {
    g_autoptr (NotaryPrivateKey) got = notary_signer_key_cache_lookup (c, "a", NULL, &used);
    g_assert_true (used);
  }

  notary_signer_key_cache_remove (c, "a");
  notary_signer_key_cache_remove (c, "a"); /* twice is fine */
  g_assert_false (cached (c, "a"));
  g_assert_cmpuint (notary_signer_key_cache_size (c), ==, 1);
}

static void
test_capacity_zero (void)
{
  g_autoptr (NotarySignerKeyCache) c = notary_signer_key_cache_new (0);
  g_autoptr (NotaryPrivateKey) a = new_key ();

  notary_signer_key_cache_store (c, "a", a, "timestamp", FALSE);
  g_assert_cmpuint (notary_signer_key_cache_size (c), ==, 0);
  g_assert_false (cached (c, "a"));
}

/* A key handed out stays valid after the cache lets go of it. */
static void
test_outlives_eviction (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotarySignerKeyCache) c = notary_signer_key_cache_new (1);
  NotaryPrivateKey *a = new_key ();
  g_autoptr (NotaryPrivateKey) b = new_key ();
  g_autoptr (NotaryPrivateKey) held = NULL;
  g_autoptr (GBytes) msg = g_bytes_new_static ("x", 1);
  g_autoptr (GBytes) sig = NULL;

  notary_signer_key_cache_store (c, "a", a, "timestamp", FALSE);
  notary_private_key_unref (a); /* the cache holds the only reference */
  held = notary_signer_key_cache_lookup (c, "a", NULL, NULL);
  notary_signer_key_cache_store (c, "b", b, "timestamp", FALSE);
  g_assert_false (cached (c, "a"));
  sig = notary_private_key_sign (held, msg, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 64);
}

typedef struct
{
  NotarySignerKeyCache *cache;
  NotaryPrivateKey **keys;
  guint n_keys;
  guint seed;
} Worker;

static gpointer
hammer (gpointer data)
{
  Worker *w = data;
  GRand *rand = g_rand_new_with_seed (w->seed);

  for (guint i = 0; i < 20000; i++)
    {
      guint k = (guint)g_rand_int_range (rand, 0, (gint32)w->n_keys);
      char id[16];
      g_snprintf (id, sizeof id, "k%u", k);
      switch (g_rand_int_range (rand, 0, 4))
        {
        case 0:
          notary_signer_key_cache_store (w->cache, id, w->keys[k], "timestamp", FALSE);
          break;
        case 1:
          notary_signer_key_cache_remove (w->cache, id);
          break;
        case 2:
          notary_signer_key_cache_set_used (w->cache, id);
          break;
        default:
          {
            g_autoptr (NotaryPrivateKey) got = notary_signer_key_cache_lookup (w->cache, id, NULL, NULL);
            g_assert_true (got == NULL || got == w->keys[k]);
          }
        }
      g_assert_cmpuint (notary_signer_key_cache_size (w->cache), <=, 8);
    }
  g_rand_free (rand);
  return NULL;
}

static void
test_threads (void)
{
  NotaryPrivateKey *keys[32];
  Worker workers[4];
  GThread *threads[4];
  g_autoptr (NotarySignerKeyCache) c = notary_signer_key_cache_new (8);

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    keys[i] = new_key ();
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      workers[i] = (Worker){ c, keys, G_N_ELEMENTS (keys), i + 1 };
      threads[i] = g_thread_new ("hammer", hammer, &workers[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (notary_signer_key_cache_size (c), <=, 8);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    notary_private_key_unref (keys[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/signer/keycache/lru-order", test_lru_order);
  g_test_add_func ("/signer/keycache/replace-remove-used", test_replace_remove_used);
  g_test_add_func ("/signer/keycache/capacity-zero", test_capacity_zero);
  g_test_add_func ("/signer/keycache/outlives-eviction", test_outlives_eviction);
  g_test_add_func ("/signer/keycache/threads", test_threads);
  return g_test_run ();
}
