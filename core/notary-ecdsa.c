/* notary-ecdsa.c — ECDSA verification with libcrypto; see notary-ecdsa.h
 * for why this is not GnuTLS. */
#include "notary-ecdsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

struct _NotaryEcdsaKey
{
  EVP_PKEY *pkey;
};

void
notary_ecdsa_process_init (void)
{
  /* The first initialisation decides: later ones (libmariadb's) cannot
   * register the atexit handler any more. */
  OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ECDSA_SIG, ECDSA_SIG_free)

/* The domain parameters of one curve as an EVP_PKEY, made once: building
 * a key from a curve name sets the group up from scratch (~25 us of the
 * ~35 us a key took), copying it from a ready key does not.  Write-once
 * and never modified after, so sharing it between threads is safe; it
 * lives as long as the process, like libcrypto's own tables. */
typedef struct
{
  const char *name;
  GOnce once;
} CurveTemplate;

static gpointer
make_template (gpointer data)
{
  CurveTemplate *t = data;
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, (char *)t->name, 0),
    OSSL_PARAM_construct_end (),
  };
  g_autoptr (EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
  EVP_PKEY *pkey = NULL;

  if (ctx == NULL || EVP_PKEY_fromdata_init (ctx) != 1
      || EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_KEY_PARAMETERS, params) != 1)
    return NULL;
  return pkey;
}

static EVP_PKEY *
curve_template (const char *curve_name)
{
  static CurveTemplate templates[] = {
    { "P-256", G_ONCE_INIT },
    { "P-384", G_ONCE_INIT },
    { "P-521", G_ONCE_INIT },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (templates); i++)
    if (g_str_equal (templates[i].name, curve_name))
      return g_once (&templates[i].once, make_template, &templates[i]);
  return NULL;
}

NotaryEcdsaKey *
notary_ecdsa_key_new (const char *curve_name, const guint8 *point, gsize point_len)
{
  g_return_val_if_fail (curve_name != NULL, NULL);
  g_return_val_if_fail (point != NULL, NULL);

  EVP_PKEY *template = curve_template (curve_name);
  if (template == NULL)
    return NULL;
  /* Only the uncompressed form, of exactly the curve's size: libcrypto
   * would also take "00", the point at infinity, with which any signature
   * of a suitable shape verifies. */
  gsize field = (gsize)(EVP_PKEY_get_bits (template) + 7) / 8;
  if (point_len != 1 + 2 * field || point[0] != 0x04)
    return NULL;
  /* Setting the point checks that it lies on the curve. */
  EVP_PKEY *pkey = EVP_PKEY_new ();
  if (pkey == NULL || EVP_PKEY_copy_parameters (pkey, template) != 1
      || EVP_PKEY_set1_encoded_public_key (pkey, point, point_len) != 1)
    {
      EVP_PKEY_free (pkey);
      return NULL;
    }
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
notary_ecdsa_key_verify (NotaryEcdsaKey *key, const guint8 digest[32], const guint8 *sig, gsize half)
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

  g_autoptr (EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new (key->pkey, NULL);
  gboolean ok = ctx != NULL && EVP_PKEY_verify_init (ctx) == 1
                && EVP_PKEY_verify (ctx, der, (size_t)der_len, digest, 32) == 1;
  OPENSSL_free (der);
  return ok;
}
