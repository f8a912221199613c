/* notary-keys.h — TUF public keys, key IDs, signature verification,
 * root certificates, and private keys (generation and signing).
 *
 * All cryptography is GnuTLS/nettle.  The verifier is always chosen by the
 * *trusted key's* type; a signature's `method` field only has to be one the
 * key type allows (NCC 2015-1: never let the signer pick the algorithm).
 *
 * Spec: tuf-metadata.md §3 (keys, IDs), §4 (algorithms), §6 (certificates).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NOTARY_KEY_ERROR (notary_key_error_quark ())
GQuark notary_key_error_quark (void);

typedef enum
{
  NOTARY_KEY_ERROR_INVALID,       /* malformed key object / key bytes */
  NOTARY_KEY_ERROR_UNSUPPORTED,   /* key type or method we cannot verify */
  NOTARY_KEY_ERROR_BAD_SIGNATURE, /* signature does not verify */
  NOTARY_KEY_ERROR_CERTIFICATE,   /* root certificate checks failed */
  NOTARY_KEY_ERROR_FAILED,
} NotaryKeyError;

/* ---- public keys ------------------------------------------------------ */

typedef struct _NotaryKey NotaryKey; /* immutable, refcounted, thread-safe */

/* @keytype: "ed25519", "ecdsa", "rsa", "ecdsa-x509", "rsa-x509" or any
 * other string (kept opaque; cannot verify).  @public_bytes as in
 * tuf-metadata.md §3.1.  Known types must parse, else INVALID. */
NotaryKey *notary_key_new (const char *keytype, GBytes *public_bytes, GError **error);

/* From a TUF key object {"keytype":…,"keyval":{"public":"<b64>","private":null}}.
 * Rejects a non-null private part. */
NotaryKey *notary_key_new_from_json (JsonNode *key_object, GError **error);

NotaryKey *notary_key_ref (NotaryKey *key);
void notary_key_unref (NotaryKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryKey, notary_key_unref)

const char *notary_key_get_keytype (NotaryKey *key);
GBytes *notary_key_get_public (NotaryKey *key); /* (transfer none) */
gboolean notary_key_is_x509 (NotaryKey *key);

/* TUF key ID: hex SHA-256 of the canonical key object. */
const char *notary_key_get_id (NotaryKey *key);
/* For x509 types: the ID of the leaf's SPKI as "ecdsa"/"rsa"; else the TUF ID. */
const char *notary_key_get_canonical_id (NotaryKey *key);

/* The key object as the .key endpoint sends it (public before private):
 * {"keytype":"…","keyval":{"public":"…","private":null}}.  (transfer full) */
char *notary_key_to_endpoint_json (NotaryKey *key);

/* Verify @signature over @message.  @method is the signature's method
 * field (already lower-cased); it must be compatible with the key type:
 * ed25519 ↔ eddsa; ecdsa, ecdsa-x509 ↔ ecdsa; rsa, rsa-x509 ↔ rsapss or
 * rsapkcs1v15.  ECDSA signatures are raw r‖s of exact curve length; RSA
 * moduli must be >= 2048 bits. */
gboolean notary_key_verify (NotaryKey *key, const char *method, GBytes *message, GBytes *signature,
                            GError **error);

/* Root certificate checks (tuf-metadata.md §6) for one root-role key:
 * PEM of CERTIFICATE blocks only, exactly one non-CA leaf and it is first,
 * leaf CN = @gun (or "prefix*" wildcard), NotBefore <= NotAfter, no SHA-1
 * signature, RSA >= 2048 bits, and when @check_expiry: @now <= NotAfter and
 * NotBefore <= @now + 24h.  Intermediates failing those checks are dropped.
 * \return (transfer full) the verification key re-built as "<alg>-x509"
 * over leaf + valid intermediates (its ID may differ from @key's when the
 * PEM was not Go-formatted); CERTIFICATE error otherwise. */
NotaryKey *notary_key_check_root_certificate (NotaryKey *key, const char *gun, gint64 now,
                                              gboolean check_expiry, GError **error);

/* The earliest NotAfter (Unix seconds) among the certificates in an x509
 * key's PEM bundle; G_MAXINT64 for other kinds or when none parses.  A
 * root found valid at some time stays valid until then, as far as
 * certificate validity goes. */
gint64 notary_key_get_not_after (NotaryKey *key);

/* ---- private keys ----------------------------------------------------- */

typedef struct _NotaryPrivateKey NotaryPrivateKey; /* refcounted, thread-safe */

/* @algorithm: "ed25519", "ecdsa" (P-256) or "rsa" (2048 bits). */
NotaryPrivateKey *notary_private_key_generate (const char *algorithm, GError **error);
/* PKCS#8 DER (unencrypted) import/export, for key stores. */
NotaryPrivateKey *notary_private_key_new_from_pkcs8 (GBytes *der, GError **error);
GBytes *notary_private_key_export_pkcs8 (NotaryPrivateKey *key, GError **error);

NotaryPrivateKey *notary_private_key_ref (NotaryPrivateKey *key);
void notary_private_key_unref (NotaryPrivateKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryPrivateKey, notary_private_key_unref)

/* "ed25519", "ecdsa" or "rsa". */
const char *notary_private_key_get_algorithm (NotaryPrivateKey *key);
/* The signature method TUF records: "eddsa", "ecdsa", "rsapss". */
const char *notary_private_key_get_method (NotaryPrivateKey *key);
/* The matching public key (keytype = algorithm).  (transfer none) */
NotaryKey *notary_private_key_get_public (NotaryPrivateKey *key);

/* Sign per tuf-metadata.md §4 (ed25519 pure; ECDSA SHA-256 raw r‖s;
 * RSA-PSS SHA-256 salt 32). */
GBytes *notary_private_key_sign (NotaryPrivateKey *key, GBytes *message, GError **error);

/* ---- helpers ---------------------------------------------------------- */

/* Lowercase hex SHA-256 / raw digests. */
char *notary_sha256_hex (GBytes *data);
GBytes *notary_digest (GChecksumType type, GBytes *data);

G_END_DECLS
