/* notary-ecdsa.c — ECDSA verification with libcrypto; see notary-ecdsa.h
 * for why this is not GnuTLS. */
#include "notary-ecdsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

struct _NotaryEcdsaKey
{
  EVP_PKEY *pkey;
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ECDSA_SIG, ECDSA_SIG_free)

NotaryEcdsaKey *
notary_ecdsa_key_new (const char *curve_name, const guint8 *point, gsize point_len)
{
  g_return_val_if_fail (curve_name != NULL, NULL);
  g_return_val_if_fail (point != NULL, NULL);

  /* OSSL_PARAM wants non-const pointers; OpenSSL only reads them. */
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve_name, 0),
    OSSL_PARAM_construct_octet_string (OSSL_PKEY_PARAM_PUB_KEY, (void *)point, point_len),
    OSSL_PARAM_construct_end (),
  };
  g_autoptr (EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
  EVP_PKEY *pkey = NULL;

  if (ctx == NULL || EVP_PKEY_fromdata_init (ctx) != 1
      || EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 || pkey == NULL)
    return NULL;
  NotaryEcdsaKey *key = g_new0 (NotaryEcdsaKey, 1);
  key->pkey = pkey;
  return key;
}

void
notary_ecdsa_key_free (NotaryEcdsaKey *key)
{
  if (key == NULL)
    return;
  EVP_PKEY_free (key->pkey);
  g_free (key);
}

gboolean
notary_ecdsa_key_verify (NotaryEcdsaKey *key, const guint8 *message, gsize message_len, const guint8 *sig,
                         gsize half)
{
  g_return_val_if_fail (key != NULL, FALSE);

  /* TUF carries r ‖ s; libcrypto wants the DER SEQUENCE. */
  g_autoptr (ECDSA_SIG) es = ECDSA_SIG_new ();
  BIGNUM *r = BN_bin2bn (sig, (int)half, NULL);
  BIGNUM *s = BN_bin2bn (sig + half, (int)half, NULL);
  if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0 (es, r, s) != 1)
    {
      BN_free (r);
      BN_free (s);
      return FALSE;
    }
  unsigned char *der = NULL;
  int der_len = i2d_ECDSA_SIG (es, &der);
  if (der_len <= 0)
    return FALSE;

  g_autoptr (EVP_MD_CTX) md = EVP_MD_CTX_new ();
  gboolean ok = md != NULL && EVP_DigestVerifyInit (md, NULL, EVP_sha256 (), NULL, key->pkey) == 1
                && EVP_DigestVerify (md, der, (size_t)der_len, message, message_len) == 1;
  OPENSSL_free (der);
  return ok;
}
