/* notary-signer-keycache.c — a bounded LRU map from key ID to a decrypted
 * private key (see the header for why it is bounded).
 *
 * The entries sit in a GQueue, most recently used at the head; the hash
 * table maps a key ID to the entry's queue link, so a hit moves its link
 * to the head and an eviction pops the tail, both in O(1).
 */
#include "notary-signer-keycache.h"

typedef struct
{
  char *key_id; /* also the hash table's key */
  NotaryPrivateKey *key;
  char *role;
  gboolean used; /* last_used is set in the database */
} Entry;

struct _NotarySignerKeyCache
{
  GMutex lock;
  guint capacity;
  GQueue order;      /* Entry*, most recently used first */
  GHashTable *links; /* key ID (borrowed from the entry) → GList* in order */
};

static void
entry_free (Entry *e)
{
  notary_private_key_unref (e->key);
  g_free (e->role);
  g_free (e->key_id);
  g_free (e);
}

NotarySignerKeyCache *
notary_signer_key_cache_new (guint capacity)
{
  NotarySignerKeyCache *cache = g_new0 (NotarySignerKeyCache, 1);

  g_mutex_init (&cache->lock);
  cache->capacity = capacity;
  g_queue_init (&cache->order);
  cache->links = g_hash_table_new (g_str_hash, g_str_equal);
  return cache;
}

void
notary_signer_key_cache_free (NotarySignerKeyCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->links);
  g_queue_clear_full (&cache->order, (GDestroyNotify)entry_free);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* Unlinks and frees the entry at @link; lock held. */
static void
drop_link (NotarySignerKeyCache *cache, GList *link)
{
  Entry *e = link->data;

  g_hash_table_remove (cache->links, e->key_id);
  g_queue_delete_link (&cache->order, link);
  entry_free (e);
}

NotaryPrivateKey *
notary_signer_key_cache_lookup (NotarySignerKeyCache *cache, const char *key_id, char **out_role,
                                gboolean *out_used)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);
  GList *link = g_hash_table_lookup (cache->links, key_id);
  Entry *e;

  if (link == NULL)
    return NULL;
  g_queue_unlink (&cache->order, link);
  g_queue_push_head_link (&cache->order, link);
  e = link->data;
  if (out_role != NULL)
    *out_role = g_strdup (e->role);
  if (out_used != NULL)
    *out_used = e->used;
  return notary_private_key_ref (e->key);
}

void
notary_signer_key_cache_store (NotarySignerKeyCache *cache, const char *key_id, NotaryPrivateKey *key,
                               const char *role, gboolean used)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);
  GList *old = g_hash_table_lookup (cache->links, key_id);
  Entry *e;

  if (old != NULL)
    drop_link (cache, old);
  if (cache->capacity == 0)
    return;
  while (cache->order.length >= cache->capacity)
    drop_link (cache, cache->order.tail);

  e = g_new0 (Entry, 1);
  e->key_id = g_strdup (key_id);
  e->key = notary_private_key_ref (key);
  e->role = g_strdup (role);
  e->used = used;
  g_queue_push_head (&cache->order, e);
  g_hash_table_insert (cache->links, e->key_id, cache->order.head);
}

void
notary_signer_key_cache_set_used (NotarySignerKeyCache *cache, const char *key_id)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);
  GList *link = g_hash_table_lookup (cache->links, key_id);

  if (link != NULL)
    ((Entry *)link->data)->used = TRUE;
}

void
notary_signer_key_cache_remove (NotarySignerKeyCache *cache, const char *key_id)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);
  GList *link = g_hash_table_lookup (cache->links, key_id);

  if (link != NULL)
    drop_link (cache, link);
}

guint
notary_signer_key_cache_size (NotarySignerKeyCache *cache)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);

  return cache->order.length;
}
