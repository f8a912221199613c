/* notary-signer-keystore.h — where notary-signer keeps private keys
 * (signer-storage.md).  A key store is a small vtable so that the memory
 * store and the SQL stores share the RPC layer.
 *
 * Every method is called from the gRPC connection threads concurrently;
 * implementations lock internally.
 */
#pragma once

#include <glib.h>

#include "notary-config.h"
#include "notary-keys.h"

G_BEGIN_DECLS

#define NOTARY_KEYSTORE_ERROR (notary_keystore_error_quark ())
GQuark notary_keystore_error_quark (void);

typedef enum
{
  NOTARY_KEYSTORE_ERROR_NOT_FOUND,
  NOTARY_KEYSTORE_ERROR_FAILED,
  NOTARY_KEYSTORE_ERROR_PASSPHRASE,  /* NOTARY_SIGNER_<ALIAS> unset or empty */
  NOTARY_KEYSTORE_ERROR_UNAVAILABLE, /* the database cannot be reached */
  NOTARY_KEYSTORE_ERROR_EXISTS,      /* duplicate key ID */
  NOTARY_KEYSTORE_ERROR_CONFIG,      /* storage.* configuration rejected */
} NotaryKeystoreError;

typedef struct _NotarySignerKeyStore NotarySignerKeyStore;

typedef struct
{
  const char *name; /* "memory", "mysql" */
  /* Generate (or, for SQL, reuse a pending) key for (gun, role).
   * @algorithm is "ecdsa" or "ed25519" (checked by the caller).
   * \return (transfer full) its public key: a pending key is answered
   * without decrypting it, as the reference does. */
  NotaryKey *(*create_key) (NotarySignerKeyStore *self, const char *gun, const char *role,
                            const char *algorithm, GError **error);
  /* \return (transfer full) the key and, in @out_role, the role it was
   * created for; NOT_FOUND when absent (any failure may be NOT_FOUND). */
  NotaryPrivateKey *(*get_key) (NotarySignerKeyStore *self, const char *key_id, char **out_role,
                                GError **error);
  /* Called after a successful signature (SQL: last_used).  Optional. */
  void (*mark_used) (NotarySignerKeyStore *self, const char *key_id);
  /* Unknown IDs are not an error. */
  gboolean (*delete_key) (NotarySignerKeyStore *self, const char *key_id, GError **error);
  /* Is the store usable?  Optional (NULL: always). */
  gboolean (*check_health) (NotarySignerKeyStore *self, GError **error);
  void (*free) (NotarySignerKeyStore *self);
} NotarySignerKeyStoreClass;

struct _NotarySignerKeyStore
{
  const NotarySignerKeyStoreClass *klass;
};

/* The `memory` backend: keys live in this process only. */
NotarySignerKeyStore *notary_signer_memory_store_new (void);

/* The `mysql` backend (signer-storage.md; notary-signer-keystore-mysql.c).
 * @db_url: go-sql-driver DSN; @default_alias: alias for new keys; @envp:
 * where passphrases are looked up (copied).  Connects before returning:
 * UNAVAILABLE when the database cannot be reached. */
/* @key_cache_size: decrypted keys kept in memory (notary-signer-keycache.h). */
NotarySignerKeyStore *notary_signer_mysql_store_new (const char *db_url, const char *default_alias,
                                                     guint key_cache_size, char **envp, GError **error);

/* "NOTARY_SIGNER_" + @alias upper-cased, '.' → '_'.  (transfer full) */
char *notary_signer_passphrase_variable (const char *alias);
/* The passphrase for @alias from @envp; PASSPHRASE error
 * "expected env variable to not be empty: <alias>" when unset or empty. */
char *notary_signer_passphrase_lookup (char **envp, const char *alias, GError **error);

/* The store `storage.*` of @config asks for, with the reference's checks
 * in its order and its texts (config-and-ops.md §3): backend allowed →
 * db_url present and parsable → default alias → (ours) its passphrase
 * set → connect ("failed to create a new keydbstore: …").  CONFIG or
 * UNAVAILABLE errors carry the full message. */
NotarySignerKeyStore *notary_signer_keystore_open (NotaryConfig *config, char **envp, GError **error);

void notary_signer_keystore_free (NotarySignerKeyStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySignerKeyStore, notary_signer_keystore_free)

G_END_DECLS
