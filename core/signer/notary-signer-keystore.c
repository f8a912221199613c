/* notary-signer-keystore.c — the memory key store (signer-storage.md §7).
 *
 * Every CreateKey makes a new key (no pending-key reuse), kept by key ID
 * with the role and GUN it was made for; everything is gone on restart.
 */
#include "notary-signer-keystore.h"

G_DEFINE_QUARK (notary-keystore-error-quark, notary_keystore_error)

typedef struct
{
  NotaryPrivateKey *key;
  char *gun;
  char *role;
} MemoryEntry;

typedef struct
{
  NotarySignerKeyStore parent;
  GMutex lock;
  GHashTable *keys; /* key ID → MemoryEntry */
} MemoryStore;

static void
memory_entry_free (gpointer data)
{
  MemoryEntry *e = data;
  notary_private_key_unref (e->key);
  g_free (e->gun);
  g_free (e->role);
  g_free (e);
}

static NotaryPrivateKey *
memory_create_key (NotarySignerKeyStore *self, const char *gun, const char *role, const char *algorithm,
                   GError **error)
{
  MemoryStore *store = (MemoryStore *) self;
  g_autoptr (NotaryPrivateKey) key = notary_private_key_generate (algorithm, error);
  MemoryEntry *e;
  const char *id;

  if (key == NULL)
    return NULL;
  id = notary_key_get_id (notary_private_key_get_public (key));
  e = g_new0 (MemoryEntry, 1);
  e->key = notary_private_key_ref (key);
  e->gun = g_strdup (gun);
  e->role = g_strdup (role);
  g_mutex_lock (&store->lock);
  g_hash_table_replace (store->keys, g_strdup (id), e);
  g_mutex_unlock (&store->lock);
  return g_steal_pointer (&key);
}

static NotaryPrivateKey *
memory_get_key (NotarySignerKeyStore *self, const char *key_id, char **out_role, GError **error)
{
  MemoryStore *store = (MemoryStore *) self;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  MemoryEntry *e = g_hash_table_lookup (store->keys, key_id);

  if (e == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND, "signing key not found: %s", key_id);
      return NULL;
    }
  if (out_role != NULL)
    *out_role = g_strdup (e->role);
  return notary_private_key_ref (e->key);
}

static gboolean
memory_delete_key (NotarySignerKeyStore *self, const char *key_id, GError **error)
{
  MemoryStore *store = (MemoryStore *) self;
  g_mutex_lock (&store->lock);
  g_hash_table_remove (store->keys, key_id);
  g_mutex_unlock (&store->lock);
  return TRUE;
}

static void
memory_free (NotarySignerKeyStore *self)
{
  MemoryStore *store = (MemoryStore *) self;
  g_hash_table_unref (store->keys);
  g_mutex_clear (&store->lock);
  g_free (store);
}

static const NotarySignerKeyStoreClass memory_class = {
  .name = "memory",
  .create_key = memory_create_key,
  .get_key = memory_get_key,
  .delete_key = memory_delete_key,
  .free = memory_free,
};

NotarySignerKeyStore *
notary_signer_memory_store_new (void)
{
  MemoryStore *store = g_new0 (MemoryStore, 1);
  store->parent.klass = &memory_class;
  g_mutex_init (&store->lock);
  store->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, memory_entry_free);
  return &store->parent;
}

void
notary_signer_keystore_free (NotarySignerKeyStore *store)
{
  if (store != NULL)
    store->klass->free (store);
}
