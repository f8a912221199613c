/* pkcs11-util.h — small PKCS#11 helpers for the `pkcs11` trust service:
 * CK_RV names and their mapping to NOTARY_SIGNER_ERROR, and conversion of
 * token public-key attributes to the bytes TUF puts in a key object.
 *
 * Internal to plugins/signer-pkcs11 (built into the one module).
 */
#pragma once

#include <glib.h>
#include <p11-kit/pkcs11.h>

G_BEGIN_DECLS

/* "CKR_PIN_INCORRECT", or "CKR_0x…" for codes we do not name.  (transfer none) */
const char *notary_pkcs11_rv_name (CK_RV rv);

/* TRUE for return values meaning the token, slot or session is gone
 * (device removed, session closed …): mapped to UNAVAILABLE, and the
 * session that produced them is discarded instead of being reused. */
gboolean notary_pkcs11_rv_is_unavailable (CK_RV rv);

/* Sets @error in NOTARY_SIGNER_ERROR (UNAVAILABLE or FAILED, per the
 * above; MECHANISM_INVALID → UNSUPPORTED) as "<what>: <CKR name>".
 * \return FALSE, so a failure is one statement. */
gboolean notary_pkcs11_throw (GError **error, CK_RV rv, const char *what_fmt, ...) G_GNUC_PRINTF (3, 4);

/* DER SubjectPublicKeyInfo of a P-256 key from CKA_EC_POINT (either the
 * DER OCTET STRING PKCS#11 mandates or a bare 0x04‖X‖Y point, as some
 * tokens return).  NULL + FAILED error when it is not an uncompressed
 * P-256 point. */
GBytes *notary_pkcs11_p256_spki (const guint8 *ec_point, gsize len, GError **error);

/* TRUE when CKA_EC_PARAMS names P-256 (OID 1.2.840.10045.3.1.7). */
gboolean notary_pkcs11_ec_params_is_p256 (const guint8 *params, gsize len);

/* The 32 raw public bytes of an Ed25519 key from CKA_EC_POINT (DER OCTET
 * STRING or bare). */
GBytes *notary_pkcs11_ed25519_public (const guint8 *ec_point, gsize len, GError **error);

/* DER SubjectPublicKeyInfo of an RSA key from CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT (big-endian unsigned). */
GBytes *notary_pkcs11_rsa_spki (const guint8 *modulus, gsize modulus_len, const guint8 *exponent,
                                gsize exponent_len, GError **error);

/* CKA_EC_PARAMS values we ask the token for. */
extern const guint8 notary_pkcs11_p256_params[10];
extern const guint8 notary_pkcs11_ed25519_params[5];

/* PKCS#11 strings are blank-padded, not NUL-terminated.  (transfer full) */
char *notary_pkcs11_dup_padded (const CK_UTF8CHAR *s, gsize len);

G_END_DECLS
