/* notary-signer-keystore.c — the memory key store (signer-storage.md §7)
 * and choosing a store from the config.
 *
 * Memory: every CreateKey makes a new key (no pending-key reuse), kept by
 * key ID with the role and GUN it was made for; everything is gone on
 * restart.
 */
#include "notary-signer-keystore.h"

#include <string.h>

#include "notary-signer-keycache.h"
#include "storage-mysql-dsn.h"

G_DEFINE_QUARK (notary - keystore - error - quark, notary_keystore_error)

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

static NotaryKey *
memory_create_key (NotarySignerKeyStore *self, const char *gun, const char *role, const char *algorithm,
                   GError **error)
{
  MemoryStore *store = (MemoryStore *)self;
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
  return notary_key_ref (notary_private_key_get_public (key));
}

static NotaryPrivateKey *
memory_get_key (NotarySignerKeyStore *self, const char *key_id, char **out_role, GError **error)
{
  MemoryStore *store = (MemoryStore *)self;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  MemoryEntry *e = g_hash_table_lookup (store->keys, key_id);

  if (e == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND, "signing key not found: %s",
                   key_id);
      return NULL;
    }
  if (out_role != NULL)
    *out_role = g_strdup (e->role);
  return notary_private_key_ref (e->key);
}

static gboolean
memory_delete_key (NotarySignerKeyStore *self, const char *key_id, GError **error)
{
  MemoryStore *store = (MemoryStore *)self;
  g_mutex_lock (&store->lock);
  g_hash_table_remove (store->keys, key_id);
  g_mutex_unlock (&store->lock);
  return TRUE;
}

static void
memory_free (NotarySignerKeyStore *self)
{
  MemoryStore *store = (MemoryStore *)self;
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

/* ---- from the config ---------------------------------------------------- */

static gpointer throw_config (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gpointer
throw_config (GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_CONFIG, msg);
  return NULL;
}

NotarySignerKeyStore *
notary_signer_keystore_open (NotaryConfig *config, char **envp, GError **error)
{
  g_autofree char *backend = notary_config_dup_string (config, "storage.backend");
  g_autofree char *db_url = NULL;
  g_autofree char *alias = NULL;
  g_autofree char *passphrase = NULL;
  g_autofree char *variable = NULL;
  g_autofree char *cache_size_str = NULL;
  guint64 cache_size = NOTARY_SIGNER_KEY_CACHE_DEFAULT;
  g_autoptr (GError) local = NULL;
  NotarySignerKeyStore *store;

  if (g_strcmp0 (backend, "memory") == 0)
    return notary_signer_memory_store_new ();
  if (g_strcmp0 (backend, "mysql") != 0 && g_strcmp0 (backend, "postgres") != 0
      && g_strcmp0 (backend, "sqlite3") != 0 && g_strcmp0 (backend, "rethinkdb") != 0)
    return throw_config (
        error, "%s is not an allowed backend, must be one of: [memory mysql sqlite3 rethinkdb postgres]",
        backend != NULL ? backend : "");

  db_url = notary_config_dup_string (config, "storage.db_url");
  if (g_strcmp0 (backend, "rethinkdb") != 0 && (db_url == NULL || db_url[0] == '\0'))
    return throw_config (error, "must provide a non-empty database source for %s", backend);

  alias = notary_config_dup_string (config, "storage.default_alias");
  if (alias == NULL || alias[0] == '\0')
    {
      /* Backwards compatibility: top-level key / NOTARY_SIGNER_DEFAULT_ALIAS. */
      g_free (alias);
      alias = notary_config_dup_string (config, "default_alias");
    }
  if (g_strcmp0 (backend, "mysql") != 0)
    {
      if (alias == NULL || alias[0] == '\0')
        return throw_config (error, "must provide a default alias for the key DB");
      return throw_config (
          error, "%s is not supported by this notary-signer build (only memory and mysql are)", backend);
    }

  /* The reference parses the DSN before looking at the alias. */
  {
    g_autoptr (NotaryMysqlDsn) dsn = notary_mysql_dsn_parse (db_url, NULL);
    if (dsn == NULL)
      return throw_config (error, "failed to parse the database source for mysql");
  }
  if (alias == NULL || alias[0] == '\0')
    return throw_config (error, "must provide a default alias for the key DB");

  /* Ours: the reference caches every key it ever decrypted. */
  cache_size_str = notary_config_dup_string (config, "storage.key_cache_size");
  if (cache_size_str != NULL && cache_size_str[0] != '\0'
      && !g_ascii_string_to_unsigned (cache_size_str, 10, 0, G_MAXINT, &cache_size, NULL))
    return throw_config (error, "storage.key_cache_size must be a number of keys (0 or more), not \"%s\"",
                         cache_size_str);

  /* Ours: the reference only notices at the first CreateKey. */
  passphrase = notary_signer_passphrase_lookup (envp, alias, NULL);
  if (passphrase == NULL)
    {
      variable = notary_signer_passphrase_variable (alias);
      return throw_config (
          error,
          "expected env variable to not be empty: %s (set %s to the passphrase that encrypts new "
          "keys)",
          alias, variable);
    }
  memset (passphrase, 0, strlen (passphrase));

  store = notary_signer_mysql_store_new (db_url, alias, (guint)cache_size, envp, &local);
  if (store == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_UNAVAILABLE,
                   "failed to create a new keydbstore: %s", local->message);
      return NULL;
    }
  return store;
}
