/* notary-signer-keyformat.h — the raw private key bytes the reference
 * signer puts inside its JWE (signer-storage.md §5):
 *
 *   ecdsa    DER of a SEC1 ECPrivateKey (P-256, with curve and public
 *            point; 121 bytes as Go's x509.MarshalECPrivateKey writes it)
 *   ed25519  32-byte public key ‖ 32-byte seed ‖ 32-byte public key
 *            (96 bytes)
 *
 * Conversions go through GnuTLS; returned key bytes are zeroed on free.
 */
#pragma once

#include <glib.h>

#include "notary-keys.h"

G_BEGIN_DECLS

/* \return (transfer full) the raw bytes for an ecdsa (P-256) or ed25519
 * key; NOTARY_KEY_ERROR_UNSUPPORTED for anything else. */
GBytes *notary_signer_key_to_raw (NotaryPrivateKey *key, GError **error);

/* @algorithm: the row's `algorithm` ("ecdsa" or "ed25519").
 * \return (transfer full) the key; NOTARY_KEY_ERROR_INVALID when @raw is
 * not a key of that type (or its halves disagree). */
NotaryPrivateKey *notary_signer_key_from_raw (const char *algorithm, GBytes *raw, GError **error);

G_END_DECLS
