/* signer-local.c — the `local` trust service: ED25519 keys generated and
 * held in this process's memory, as the reference's local signer.
 *
 * Keys are lost on restart (the reference behaves the same); after a
 * restart a repository needs `notary key rotate <gun> timestamp -r`.
 * Production deployments use the remote signer or PKCS#11.
 *
 * A key is held as its 32-byte seed and signs with nettle (the library
 * GnuTLS itself signs with), not as a GnuTLS key object: those keep a
 * parsed ASN.1 tree of ~2 KB per key, which dominated the memory of a
 * server holding one timestamp key per repository, and re-importing one
 * per Sign cost twice the signature.
 */
#include <string.h>

#include <gnutls/crypto.h>
#include <nettle/eddsa.h>

#include <notary/signer-backend.h>
#include "notary-keys.h"

struct _NotarySigner
{
  const NotaryHost *host;
  GMutex lock;
  GHashTable *keys; /* canonical key ID -> HeldKey* */
};

typedef struct
{
  NotaryKey *pub;
  guint8 seed[ED25519_KEY_SIZE];
  guint8 public_raw[ED25519_KEY_SIZE];
} HeldKey;

static void
held_key_free (HeldKey *held)
{
  notary_key_unref (held->pub);
  explicit_bzero (held->seed, sizeof held->seed);
  g_free (held);
}

static NotarySigner *
local_open (const NotaryHost *host, JsonObject *options, GError **error)
{
  NotarySigner *self = g_new0 (NotarySigner, 1);
  self->host = host;
  g_mutex_init (&self->lock);
  self->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) held_key_free);
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
public_of (NotaryKey *pub)
{
  NotaryPublicKey *pk = g_new0 (NotaryPublicKey, 1);
  pk->keytype = g_strdup (notary_key_get_keytype (pub));
  pk->public_bytes = g_bytes_ref (notary_key_get_public (pub));
  return pk;
}

static NotaryPublicKey *
local_create_key (NotarySigner *self, const char *gun, const char *role, const char *algorithm, GError **error)
{
  g_autofree HeldKey *held = g_new0 (HeldKey, 1);
  g_autoptr (GBytes) raw = NULL;
  const char *id;
  int rc;

  /* The local service only does ED25519, whatever is asked for (the
   * reference logs that it ignores keyAlgorithm). */
  rc = gnutls_rnd (GNUTLS_RND_KEY, held->seed, sizeof held->seed);
  if (rc < 0)
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED, "generating a key: %s",
                   gnutls_strerror (rc));
      return NULL;
    }
  ed25519_sha512_public_key (held->public_raw, held->seed);
  raw = g_bytes_new (held->public_raw, sizeof held->public_raw);
  held->pub = notary_key_new ("ed25519", raw, error);
  if (held->pub == NULL)
    {
      explicit_bzero (held->seed, sizeof held->seed);
      return NULL;
    }
  id = notary_key_get_canonical_id (held->pub);
  notary_host_logf (self->host, NOTARY_LOG_DEBUG, "created %s key %s for %s", role, id, gun);
  NotaryPublicKey *pk = public_of (held->pub);
  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->keys, g_strdup (id), g_steal_pointer (&held));
  g_mutex_unlock (&self->lock);
  return pk;
}

/* Copies out what the caller needs under the lock: a rotation may replace
 * the entry meanwhile.  Returns FALSE + error when the key is unknown. */
static gboolean
lookup (NotarySigner *self, const char *key_id, NotaryKey **pub, HeldKey *copy, GError **error)
{
  HeldKey *held;
  g_mutex_lock (&self->lock);
  held = g_hash_table_lookup (self->keys, key_id);
  if (held != NULL && pub != NULL)
    *pub = notary_key_ref (held->pub);
  if (held != NULL && copy != NULL)
    {
      memcpy (copy->seed, held->seed, sizeof copy->seed);
      memcpy (copy->public_raw, held->public_raw, sizeof copy->public_raw);
    }
  g_mutex_unlock (&self->lock);
  if (held == NULL)
    g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND, "key %s not found", key_id);
  return held != NULL;
}

static NotaryPublicKey *
local_get_key (NotarySigner *self, const char *key_id, GError **error)
{
  g_autoptr (NotaryKey) pub = NULL;
  if (!lookup (self, key_id, &pub, NULL, error))
    return NULL;
  return public_of (pub);
}

static GBytes *
local_sign (NotarySigner *self, const char *key_id, GBytes *message, GError **error)
{
  HeldKey key = { 0 };
  guint8 sig[ED25519_SIGNATURE_SIZE];
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (!lookup (self, key_id, NULL, &key, error))
    return NULL;
  ed25519_sha512_sign (key.public_raw, key.seed, len, data, sig);
  explicit_bzero (key.seed, sizeof key.seed);
  return g_bytes_new (sig, sizeof sig);
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
