/* signer-local.c — the `local` trust service: ED25519 keys generated and
 * held in this process's memory, as the reference's local signer.
 *
 * Keys are lost on restart (the reference behaves the same); after a
 * restart a repository needs `notary key rotate <gun> timestamp -r`.
 * Production deployments use the remote signer or PKCS#11.
 */
#include <notary/signer-backend.h>
#include "notary-keys.h"

struct _NotarySigner
{
  const NotaryHost *host;
  GMutex lock;
  GHashTable *keys; /* canonical key ID -> NotaryPrivateKey* */
};

static NotarySigner *
local_open (const NotaryHost *host, JsonObject *options, GError **error)
{
  NotarySigner *self = g_new0 (NotarySigner, 1);
  self->host = host;
  g_mutex_init (&self->lock);
  self->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_private_key_unref);
  return self;
}

static void
local_close (NotarySigner *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->keys);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static const char *
local_default_algorithm (NotarySigner *self)
{
  return "ed25519";
}

static NotaryPublicKey *
public_of (NotaryPrivateKey *key)
{
  NotaryKey *pub = notary_private_key_get_public (key);
  NotaryPublicKey *pk = g_new0 (NotaryPublicKey, 1);
  pk->keytype = g_strdup (notary_key_get_keytype (pub));
  pk->public_bytes = g_bytes_ref (notary_key_get_public (pub));
  return pk;
}

static NotaryPublicKey *
local_create_key (NotarySigner *self, const char *gun, const char *role, const char *algorithm, GError **error)
{
  NotaryPrivateKey *key;
  const char *id;

  /* The local service only does ED25519, whatever is asked for (the
   * reference logs that it ignores keyAlgorithm). */
  key = notary_private_key_generate ("ed25519", error);
  if (key == NULL)
    return NULL;
  id = notary_key_get_canonical_id (notary_private_key_get_public (key));
  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->keys, g_strdup (id), notary_private_key_ref (key));
  g_mutex_unlock (&self->lock);
  notary_host_logf (self->host, NOTARY_LOG_DEBUG, "created %s key %s for %s", role, id, gun);
  {
    NotaryPublicKey *pk = public_of (key);
    notary_private_key_unref (key);
    return pk;
  }
}

static NotaryPrivateKey *
lookup (NotarySigner *self, const char *key_id, GError **error)
{
  NotaryPrivateKey *key;
  g_mutex_lock (&self->lock);
  key = g_hash_table_lookup (self->keys, key_id);
  if (key != NULL)
    notary_private_key_ref (key);
  g_mutex_unlock (&self->lock);
  if (key == NULL)
    g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND, "key %s not found", key_id);
  return key;
}

static NotaryPublicKey *
local_get_key (NotarySigner *self, const char *key_id, GError **error)
{
  g_autoptr (NotaryPrivateKey) key = lookup (self, key_id, error);
  return key ? public_of (key) : NULL;
}

static GBytes *
local_sign (NotarySigner *self, const char *key_id, GBytes *message, GError **error)
{
  g_autoptr (NotaryPrivateKey) key = lookup (self, key_id, error);
  return key ? notary_private_key_sign (key, message, error) : NULL;
}

static gboolean
local_check_health (NotarySigner *self, GError **error)
{
  return TRUE;
}

static const NotarySignerVTable local_vtable = {
  .version = NOTARY_VERSION_SIGNER_VTABLE,
  .open = local_open,
  .close = local_close,
  .default_algorithm = local_default_algorithm,
  .create_key = local_create_key,
  .get_key = local_get_key,
  .sign = local_sign,
  .check_health = local_check_health,
};

NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_SIGNER, "local", "in-process ED25519 keys (development)", "1.0",
                      &local_vtable)
