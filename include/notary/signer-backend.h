/* notary/signer-backend.h — the trust-service plugin ABI (kind SIGNER).
 *
 * A trust service holds the private keys notary-server signs timestamps
 * (and, when the client delegates it, snapshots) with.  Spec:
 * server-validation.md §8.  Backends: local (in-process), remote
 * (notary-signer over gRPC), pkcs11 (an HSM token).
 *
 * Keys are identified by their *canonical key ID*: lowercase hex SHA-256
 * of the canonical JSON key object {"keytype","keyval":{"private":null,
 * "public"}} (tuf-metadata.md §3.2).  Public keys cross the boundary as a
 * keytype string ("ed25519", "ecdsa", "rsa") plus the public bytes
 * (raw 32 bytes for ed25519, DER SubjectPublicKeyInfo otherwise).
 *
 * Threading: called from several worker threads at once; be thread-safe.
 */
#pragma once

#include <notary/plugin.h>

G_BEGIN_DECLS

#define NOTARY_SIGNER_ERROR (notary_signer_error_quark ())
static inline GQuark
notary_signer_error_quark (void)
{
  return g_quark_from_static_string ("notary-signer-error-quark");
}

typedef enum
{
  NOTARY_SIGNER_ERROR_KEY_NOT_FOUND, /* the service does not hold that key */
  NOTARY_SIGNER_ERROR_UNSUPPORTED,   /* algorithm not supported by this service */
  NOTARY_SIGNER_ERROR_UNAVAILABLE,   /* service unreachable: fail fast, retry later */
  NOTARY_SIGNER_ERROR_FAILED,
} NotarySignerError;

typedef struct _NotarySigner NotarySigner;

/* A public key.  Free with notary_public_key_free(). */
typedef struct
{
  char *keytype;       /* "ed25519", "ecdsa", "rsa" */
  GBytes *public_bytes;
} NotaryPublicKey;

static inline void
notary_public_key_free (NotaryPublicKey *k)
{
  if (k == NULL)
    return;
  g_free (k->keytype);
  g_bytes_unref (k->public_bytes);
  g_free (k);
}

#define NOTARY_VERSION_SIGNER_VTABLE 1
typedef struct
{
  guint32 version; /* NOTARY_VERSION_SIGNER_VTABLE */

  /* From the `trust_service` config section (@options, borrowed). */
  NotarySigner *(*open) (const NotaryHost *host, JsonObject *options, GError **error);
  void (*close) (NotarySigner *self);

  /* The algorithm new server-managed keys get when the caller passes NULL
   * ("ed25519" for local; trust_service.key_algorithm for remote). */
  const char *(*default_algorithm) (NotarySigner *self);

  /* Generate and persist a new key for (gun, role).  @algorithm: "ecdsa",
   * "rsa", "ed25519" or NULL for the default.  \return (transfer full). */
  NotaryPublicKey *(*create_key) (NotarySigner *self, const char *gun, const char *role,
                                  const char *algorithm, GError **error);

  /* Public key of @key_id; KEY_NOT_FOUND when not held. */
  NotaryPublicKey *(*get_key) (NotarySigner *self, const char *key_id, GError **error);

  /* Sign @message with @key_id: ed25519 pure, ecdsa SHA-256 with raw r||s,
   * rsa PSS SHA-256 salt 32.  \return the raw signature bytes;
   * KEY_NOT_FOUND when not held. */
  GBytes *(*sign) (NotarySigner *self, const char *key_id, GBytes *message, GError **error);

  /* Liveness probe for the health endpoint. */
  gboolean (*check_health) (NotarySigner *self, GError **error);
} NotarySignerVTable;

G_END_DECLS
