/* notary-ecdsa.c — ECDSA verification with libcrypto; see notary-ecdsa.h
 * for why this is not GnuTLS. */
#include "notary-ecdsa.h"

/* EC_KEY and ECDSA_do_verify: see below */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>

struct _NotaryEcdsaKey
{
  EC_KEY *ec;
};

void
notary_ecdsa_process_init (void)
{
  /* The first initialisation decides: later ones (libmariadb's) cannot
   * register the atexit handler any more. */
  OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ECDSA_SIG, ECDSA_SIG_free)

/* Why EC_KEY and ECDSA_do_verify, deprecated since OpenSSL 3.0, and not
 * EVP_PKEY: the EVP path goes through the provider layer, which fetches
 * the key management and signature methods by name and property query
 * for each key and each verification (locks and method-store lookups),
 * and setting the provider up maps ~0.3 MiB more of libcrypto.  The
 * EC_KEY path runs the same P-256 arithmetic directly.  Measured on the
 * bench machine: ~55 against ~60 us per key-and-verification.  The
 * deprecated API is still part of OpenSSL 3.x's supported ABI. */

/* The domain parameters of one curve, made once: building a group from a
 * curve name sets it up from scratch (~25 us), a key that shares a ready
 * one does not.  Write-once and never modified after, so sharing it
 * between threads is safe (EC_KEY_set_group copies it); it lives as long
 * as the process, like libcrypto's own tables. */
typedef struct
{
  const char *name;
  int nid;
  GOnce once;
} CurveGroup;

static gpointer
make_group (gpointer data)
{
  CurveGroup *c = data;
  return EC_GROUP_new_by_curve_name (c->nid);
}

static const EC_GROUP *
curve_group (const char *curve_name)
{
  static CurveGroup groups[] = {
    { "P-256", NID_X9_62_prime256v1, G_ONCE_INIT },
    { "P-384", NID_secp384r1, G_ONCE_INIT },
    { "P-521", NID_secp521r1, G_ONCE_INIT },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (groups); i++)
    if (g_str_equal (groups[i].name, curve_name))
      return g_once (&groups[i].once, make_group, &groups[i]);
  return NULL;
}

NotaryEcdsaKey *
notary_ecdsa_key_new (const char *curve_name, const guint8 *point, gsize point_len)
{
  g_return_val_if_fail (curve_name != NULL, NULL);
  g_return_val_if_fail (point != NULL, NULL);

  const EC_GROUP *group = curve_group (curve_name);
  if (group == NULL)
    return NULL;
  /* Only the uncompressed form, of exactly the curve's size: libcrypto
   * would also take "00", the point at infinity, with which any signature
   * of a suitable shape verifies. */
  gsize field = (gsize)(EC_GROUP_get_degree (group) + 7) / 8;
  if (point_len != 1 + 2 * field || point[0] != 0x04)
    return NULL;
  /* Decoding the point checks that it lies on the curve. */
  EC_KEY *ec = EC_KEY_new ();
  if (ec == NULL || EC_KEY_set_group (ec, group) != 1 || EC_KEY_oct2key (ec, point, point_len, NULL) != 1)
    {
      EC_KEY_free (ec);
      return NULL;
    }
  NotaryEcdsaKey *key = g_new0 (NotaryEcdsaKey, 1);
  key->ec = ec;
  return key;
}

void
notary_ecdsa_key_free (NotaryEcdsaKey *key)
{
  if (key == NULL)
    return;
  EC_KEY_free (key->ec);
  g_free (key);
}

gboolean
notary_ecdsa_key_verify (NotaryEcdsaKey *key, const guint8 digest[32], const guint8 *sig, gsize half)
{
  g_return_val_if_fail (key != NULL, FALSE);

  /* TUF carries r ‖ s. */
  g_autoptr (ECDSA_SIG) es = ECDSA_SIG_new ();
  BIGNUM *r = BN_bin2bn (sig, (int)half, NULL);
  BIGNUM *s = BN_bin2bn (sig + half, (int)half, NULL);
  if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0 (es, r, s) != 1)
    {
      BN_free (r);
      BN_free (s);
      return FALSE;
    }
  return ECDSA_do_verify (digest, 32, es, key->ec) == 1;
}
