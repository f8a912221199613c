/* pkcs11-util.c — CK_RV names/mapping and public-key encodings for the
 * `pkcs11` trust service (see pkcs11-util.h).
 *
 * The public-key bytes must be exactly what the Go client computes key IDs
 * over (tuf-metadata.md §3.1): x509.MarshalPKIXPublicKey for ECDSA/RSA, the
 * raw 32 bytes for Ed25519.  P-256 SPKIs have one fixed DER prefix; RSA
 * ones are built by GnuTLS, whose DER is canonical like Go's.
 */
#include "pkcs11-util.h"

#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <notary/signer-backend.h>

/* ---- CK_RV ------------------------------------------------------------ */

#define RV(x)                                                                                                \
  {                                                                                                          \
    x, #x                                                                                                    \
  }
static const struct
{
  CK_RV rv;
  const char *name;
} rv_names[] = {
  RV (CKR_OK),
  RV (CKR_CANCEL),
  RV (CKR_HOST_MEMORY),
  RV (CKR_SLOT_ID_INVALID),
  RV (CKR_GENERAL_ERROR),
  RV (CKR_FUNCTION_FAILED),
  RV (CKR_ARGUMENTS_BAD),
  RV (CKR_NEED_TO_CREATE_THREADS),
  RV (CKR_CANT_LOCK),
  RV (CKR_ATTRIBUTE_READ_ONLY),
  RV (CKR_ATTRIBUTE_SENSITIVE),
  RV (CKR_ATTRIBUTE_TYPE_INVALID),
  RV (CKR_ATTRIBUTE_VALUE_INVALID),
  RV (CKR_ACTION_PROHIBITED),
  RV (CKR_DATA_INVALID),
  RV (CKR_DATA_LEN_RANGE),
  RV (CKR_DEVICE_ERROR),
  RV (CKR_DEVICE_MEMORY),
  RV (CKR_DEVICE_REMOVED),
  RV (CKR_FUNCTION_CANCELED),
  RV (CKR_FUNCTION_NOT_PARALLEL),
  RV (CKR_FUNCTION_NOT_SUPPORTED),
  RV (CKR_KEY_HANDLE_INVALID),
  RV (CKR_KEY_SIZE_RANGE),
  RV (CKR_KEY_TYPE_INCONSISTENT),
  RV (CKR_KEY_FUNCTION_NOT_PERMITTED),
  RV (CKR_MECHANISM_INVALID),
  RV (CKR_MECHANISM_PARAM_INVALID),
  RV (CKR_OBJECT_HANDLE_INVALID),
  RV (CKR_OPERATION_ACTIVE),
  RV (CKR_OPERATION_NOT_INITIALIZED),
  RV (CKR_PIN_INCORRECT),
  RV (CKR_PIN_INVALID),
  RV (CKR_PIN_LEN_RANGE),
  RV (CKR_PIN_EXPIRED),
  RV (CKR_PIN_LOCKED),
  RV (CKR_SESSION_CLOSED),
  RV (CKR_SESSION_COUNT),
  RV (CKR_SESSION_HANDLE_INVALID),
  RV (CKR_SESSION_PARALLEL_NOT_SUPPORTED),
  RV (CKR_SESSION_READ_ONLY),
  RV (CKR_SESSION_EXISTS),
  RV (CKR_SESSION_READ_ONLY_EXISTS),
  RV (CKR_SESSION_READ_WRITE_SO_EXISTS),
  RV (CKR_SIGNATURE_INVALID),
  RV (CKR_SIGNATURE_LEN_RANGE),
  RV (CKR_TEMPLATE_INCOMPLETE),
  RV (CKR_TEMPLATE_INCONSISTENT),
  RV (CKR_TOKEN_NOT_PRESENT),
  RV (CKR_TOKEN_NOT_RECOGNIZED),
  RV (CKR_TOKEN_WRITE_PROTECTED),
  RV (CKR_USER_ALREADY_LOGGED_IN),
  RV (CKR_USER_NOT_LOGGED_IN),
  RV (CKR_USER_PIN_NOT_INITIALIZED),
  RV (CKR_USER_TYPE_INVALID),
  RV (CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
  RV (CKR_USER_TOO_MANY_TYPES),
  RV (CKR_RANDOM_NO_RNG),
  RV (CKR_DOMAIN_PARAMS_INVALID),
  RV (CKR_CURVE_NOT_SUPPORTED),
  RV (CKR_BUFFER_TOO_SMALL),
  RV (CKR_CRYPTOKI_NOT_INITIALIZED),
  RV (CKR_CRYPTOKI_ALREADY_INITIALIZED),
  RV (CKR_MUTEX_BAD),
  RV (CKR_MUTEX_NOT_LOCKED),
  RV (CKR_LIBRARY_LOAD_FAILED),
  RV (CKR_PIN_TOO_WEAK),
  RV (CKR_PUBLIC_KEY_INVALID),
  RV (CKR_FUNCTION_REJECTED),
};
#undef RV

const char *
notary_pkcs11_rv_name (CK_RV rv)
{
  /* Unknown codes: a per-thread buffer keeps this allocation-free for
   * callers while staying thread-safe. */
  static GPrivate unknown_buf = G_PRIVATE_INIT (g_free);
  char *buf;

  for (gsize i = 0; i < G_N_ELEMENTS (rv_names); i++)
    if (rv_names[i].rv == rv)
      return rv_names[i].name;
  buf = g_private_get (&unknown_buf);
  if (buf == NULL)
    {
      buf = g_malloc (32);
      g_private_set (&unknown_buf, buf);
    }
  g_snprintf (buf, 32, "CKR_0x%lx", (unsigned long)rv);
  return buf;
}

gboolean
notary_pkcs11_rv_is_unavailable (CK_RV rv)
{
  switch (rv)
    {
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
notary_pkcs11_throw (GError **error, CK_RV rv, const char *what_fmt, ...)
{
  va_list ap;
  g_autofree char *what = NULL;
  int code = NOTARY_SIGNER_ERROR_FAILED;

  va_start (ap, what_fmt);
  what = g_strdup_vprintf (what_fmt, ap);
  va_end (ap);
  if (notary_pkcs11_rv_is_unavailable (rv))
    code = NOTARY_SIGNER_ERROR_UNAVAILABLE;
  else if (rv == CKR_MECHANISM_INVALID || rv == CKR_CURVE_NOT_SUPPORTED)
    code = NOTARY_SIGNER_ERROR_UNSUPPORTED;
  g_set_error (error, NOTARY_SIGNER_ERROR, code, "%s: %s", what, notary_pkcs11_rv_name (rv));
  return FALSE;
}

/* ---- public keys ------------------------------------------------------ */

/* OID 1.2.840.10045.3.1.7 (prime256v1) */
const guint8 notary_pkcs11_p256_params[10] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
/* OID 1.3.101.112 (id-Ed25519, RFC 8410), which SoftHSM and PKCS#11 3.0 accept */
const guint8 notary_pkcs11_ed25519_params[5] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

/* SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) } */
static const guint8 p256_spki_prefix[] = {
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
  0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

gboolean
notary_pkcs11_ec_params_is_p256 (const guint8 *params, gsize len)
{
  return len == sizeof notary_pkcs11_p256_params
         && memcmp (params, notary_pkcs11_p256_params, sizeof notary_pkcs11_p256_params) == 0;
}

/* The content of CKA_EC_POINT: strip the DER OCTET STRING wrapper when the
 * value is exactly one (short-form length); else take it as bare. */
static const guint8 *
unwrap_octet_string (const guint8 *v, gsize len, gsize *out_len)
{
  if (len >= 2 && v[0] == 0x04 && v[1] < 0x80 && (gsize)v[1] + 2 == len)
    {
      *out_len = v[1];
      return v + 2;
    }
  *out_len = len;
  return v;
}

GBytes *
notary_pkcs11_p256_spki (const guint8 *ec_point, gsize len, GError **error)
{
  gsize plen;
  const guint8 *p = unwrap_octet_string (ec_point, len, &plen);
  GByteArray *der;

  if (plen != 65 || p[0] != 0x04)
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                   "token returned a CKA_EC_POINT that is not an uncompressed P-256 point (%" G_GSIZE_FORMAT
                   " bytes)",
                   len);
      return NULL;
    }
  der = g_byte_array_sized_new (sizeof p256_spki_prefix + plen);
  g_byte_array_append (der, p256_spki_prefix, sizeof p256_spki_prefix);
  g_byte_array_append (der, p, plen);
  return g_byte_array_free_to_bytes (der);
}

GBytes *
notary_pkcs11_ed25519_public (const guint8 *ec_point, gsize len, GError **error)
{
  gsize plen;
  const guint8 *p = unwrap_octet_string (ec_point, len, &plen);

  if (plen != 32)
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                   "token returned an Ed25519 CKA_EC_POINT of %" G_GSIZE_FORMAT " bytes", len);
      return NULL;
    }
  return g_bytes_new (p, plen);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)

GBytes *
notary_pkcs11_rsa_spki (const guint8 *modulus, gsize modulus_len, const guint8 *exponent, gsize exponent_len,
                        GError **error)
{
  g_auto (gnutls_pubkey_t) pub = NULL;
  gnutls_datum_t m = { (unsigned char *)modulus, (unsigned int)modulus_len };
  gnutls_datum_t e = { (unsigned char *)exponent, (unsigned int)exponent_len };
  gnutls_datum_t out = { NULL, 0 };
  GBytes *res;
  int ret;

  ret = gnutls_pubkey_init (&pub);
  if (ret >= 0)
    ret = gnutls_pubkey_import_rsa_raw (pub, &m, &e);
  if (ret >= 0)
    ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &out);
  if (ret < 0)
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                   "cannot encode the token's RSA public key: %s", gnutls_strerror (ret));
      return NULL;
    }
  res = g_bytes_new (out.data, out.size);
  gnutls_free (out.data);
  return res;
}

char *
notary_pkcs11_dup_padded (const CK_UTF8CHAR *s, gsize len)
{
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
    len--;
  return g_strndup ((const char *)s, len);
}
