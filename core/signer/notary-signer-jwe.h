/* notary-signer-jwe.h — private keys encrypted at rest as the reference
 * signer stores them: JWE compact serialization with PBES2-HS256+A128KW
 * key wrapping and A256GCM content encryption (signer-storage.md §4).
 *
 * A row written by one signer is read by the other: we write exactly the
 * reference's header and parameters, and read any member order, extra
 * members and salt length, but only these two algorithms.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NOTARY_JWE_ERROR (notary_jwe_error_quark ())
GQuark notary_jwe_error_quark (void);

typedef enum
{
  NOTARY_JWE_ERROR_INVALID,     /* not a well-formed JWE compact token */
  NOTARY_JWE_ERROR_UNSUPPORTED, /* alg/enc/zip/p2c we refuse */
  NOTARY_JWE_ERROR_DECRYPT,     /* wrong passphrase or tampered token */
  NOTARY_JWE_ERROR_FAILED,      /* crypto library failure */
} NotaryJweError;

/* The only algorithms written and accepted. */
#define NOTARY_JWE_KEYWRAP_ALG "PBES2-HS256+A128KW"
#define NOTARY_JWE_ENCRYPTION_ALG "A256GCM"
/* PBKDF2 iteration count written (jose2go's fixed value). */
#define NOTARY_JWE_P2C 8192
/* Accepted iteration counts when reading: a hostile row must not cost
 * minutes of CPU. */
#define NOTARY_JWE_P2C_MIN 1000
#define NOTARY_JWE_P2C_MAX 1000000

/* Encrypt @plaintext under @passphrase with fresh random salt, CEK and IV.
 * \return (transfer full) the compact token (ASCII). */
char *notary_jwe_encrypt (GBytes *plaintext, const char *passphrase, GError **error);

/* Decrypt a compact token.  \return (transfer full) the plaintext, in
 * memory that is zeroed when the last reference goes; NULL + error. */
GBytes *notary_jwe_decrypt (const char *token, const char *passphrase, GError **error);

/* A GBytes owning @data (allocated with g_malloc) that zeroes it when
 * freed: for key material.  (transfer full) */
GBytes *notary_secret_bytes_new_take (guint8 *data, gsize len);

/* base64url without padding (RFC 7515 §2).  Decoding rejects padding and
 * any character outside the URL-safe alphabet. */
char *notary_base64url_encode (const guint8 *data, gsize len);
guint8 *notary_base64url_decode (const char *text, gsize *out_len, GError **error);

G_END_DECLS
