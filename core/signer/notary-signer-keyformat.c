/* notary-signer-keyformat.c — NotaryPrivateKey ↔ the reference signer's
 * raw key bytes (see the header).  notary-keys speaks PKCS#8, so each
 * direction goes through a GnuTLS key object: export PKCS#8, read the
 * curve values out and lay them out as Go does; or parse SEC1 with GnuTLS
 * and hand PKCS#8 back to notary-keys.
 */
#include "notary-signer-keyformat.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#include "notary-signer-jwe.h"

#define P256_LEN 32
#define ED25519_LEN 32
#define SEC1_P256_LEN 121
#define ED25519_RAW_LEN 96

/* SEC1 ECPrivateKey for P-256 with every length fixed (RFC 5915):
 * SEQUENCE { INTEGER 1, OCTET STRING d, [0] OID prime256v1, [1] BIT STRING 04‖X‖Y }. */
static const guint8 sec1_head[] = { 0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20 };
static const guint8 sec1_mid[] = { 0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                                   0x03, 0x01, 0x07, 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04 };

/* notary's PKCS#8 wrapper for its 96-byte Ed25519 form, which
 * notary_private_key_new_from_pkcs8 understands (signer-storage.md §5). */
static const guint8 notary_ed25519_pkcs8_head[]
    = { 0x30, 0x72, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2b,
        0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01, 0x04, 0x60 };

static void
datum_wipe (gnutls_datum_t *d)
{
  if (d->data != NULL)
    {
      gnutls_memset (d->data, 0, d->size);
      gnutls_free (d->data);
      d->data = NULL;
    }
  d->size = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, datum_wipe)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_privkey_t, gnutls_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)

static gpointer
throw_gnutls (GError **error, int code, int ret, const char *what)
{
  g_set_error (error, NOTARY_KEY_ERROR, code, "%s: %s", what, gnutls_strerror (ret));
  return NULL;
}

/* Copy @d right-aligned into @len bytes (big-endian integers may come
 * without their leading zeros). */
static gboolean
put_fixed (guint8 *out, gsize len, const gnutls_datum_t *d)
{
  if (d->size > len)
    return FALSE;
  memset (out, 0, len - d->size);
  memcpy (out + len - d->size, d->data, d->size);
  return TRUE;
}

/* A PKCS#8 export wiped when dropped (notary-keys hands out plain GBytes). */
static void
bytes_wipe_unref (GBytes *b)
{
  gsize len = 0;
  /* We hold the only reference: the buffer is ours to clear. */
  guint8 *p = (guint8 *)g_bytes_get_data (b, &len);
  if (p != NULL)
    gnutls_memset (p, 0, len);
  g_bytes_unref (b);
}

GBytes *
notary_signer_key_to_raw (NotaryPrivateKey *key, GError **error)
{
  const char *alg = notary_private_key_get_algorithm (key);
  gboolean ecdsa = g_str_equal (alg, "ecdsa");
  GBytes *pkcs8;
  g_auto (gnutls_privkey_t) priv = NULL;
  g_auto (gnutls_datum_t) x = { NULL, 0 };
  g_auto (gnutls_datum_t) y = { NULL, 0 };
  g_auto (gnutls_datum_t) k = { NULL, 0 };
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t der;
  gsize len = 0;
  guint8 *out;
  int ret;

  if (!ecdsa && !g_str_equal (alg, "ed25519"))
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED, "the key store keeps no %s keys",
                   alg);
      return NULL;
    }
  pkcs8 = notary_private_key_export_pkcs8 (key, error);
  if (pkcs8 == NULL)
    return NULL;
  der.data = (unsigned char *)g_bytes_get_data (pkcs8, &len);
  der.size = (unsigned int)len;
  gnutls_privkey_init (&priv);
  ret = gnutls_privkey_import_x509_raw (priv, &der, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN);
  bytes_wipe_unref (pkcs8);
  if (ret < 0)
    return throw_gnutls (error, NOTARY_KEY_ERROR_FAILED, ret, "re-reading private key");
  ret = gnutls_privkey_export_ecc_raw2 (priv, &curve, &x, ecdsa ? &y : NULL, &k, GNUTLS_EXPORT_FLAG_NO_LZ);
  if (ret < 0)
    return throw_gnutls (error, NOTARY_KEY_ERROR_FAILED, ret, "exporting private key values");

  if (ecdsa)
    {
      if (curve != GNUTLS_ECC_CURVE_SECP256R1)
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                       "the key store keeps P-256 ECDSA keys only, not %s",
                       gnutls_ecc_curve_get_name (curve));
          return NULL;
        }
      out = g_malloc (SEC1_P256_LEN);
      memcpy (out, sec1_head, sizeof sec1_head);
      guint8 *p = out + sizeof sec1_head;
      gboolean ok = put_fixed (p, P256_LEN, &k);
      p += P256_LEN;
      memcpy (p, sec1_mid, sizeof sec1_mid);
      p += sizeof sec1_mid;
      ok = ok && put_fixed (p, P256_LEN, &x) && put_fixed (p + P256_LEN, P256_LEN, &y);
      g_assert (p + 2 * P256_LEN == out + SEC1_P256_LEN);
      if (!ok)
        {
          gnutls_memset (out, 0, SEC1_P256_LEN);
          g_free (out);
          g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                               "P-256 key values too long");
          return NULL;
        }
      return notary_secret_bytes_new_take (out, SEC1_P256_LEN);
    }

  if (x.size != ED25519_LEN || k.size != ED25519_LEN)
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "malformed Ed25519 key values");
      return NULL;
    }
  out = g_malloc (ED25519_RAW_LEN);
  memcpy (out, x.data, ED25519_LEN);
  memcpy (out + ED25519_LEN, k.data, ED25519_LEN);
  memcpy (out + 2 * ED25519_LEN, x.data, ED25519_LEN);
  return notary_secret_bytes_new_take (out, ED25519_RAW_LEN);
}

static NotaryPrivateKey *
ecdsa_from_sec1 (GBytes *raw, GError **error)
{
  g_auto (gnutls_x509_privkey_t) x509 = NULL;
  g_auto (gnutls_privkey_t) probe = NULL;
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  g_auto (gnutls_datum_t) pkcs8 = { NULL, 0 };
  g_autoptr (GBytes) pkcs8_bytes = NULL;
  gsize len = 0;
  gnutls_datum_t der;
  unsigned int bits = 0;
  int ret;

  der.data = (unsigned char *)g_bytes_get_data (raw, &len);
  der.size = (unsigned int)len;
  gnutls_x509_privkey_init (&x509);
  ret = gnutls_x509_privkey_import (x509, &der, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    return throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "parsing SEC1 ECDSA private key");
  if (gnutls_x509_privkey_get_pk_algorithm2 (x509, &bits) != GNUTLS_PK_ECDSA)
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "not an ECDSA private key");
      return NULL;
    }
  gnutls_privkey_init (&probe);
  if (gnutls_privkey_import_x509 (probe, x509, GNUTLS_PRIVKEY_IMPORT_COPY) < 0
      || gnutls_privkey_export_ecc_raw2 (probe, &curve, NULL, NULL, NULL, 0) < 0
      || curve != GNUTLS_ECC_CURVE_SECP256R1)
    {
      /* notary only ever makes P-256 keys. */
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                           "not a P-256 ECDSA private key");
      return NULL;
    }
  ret = gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &pkcs8);
  if (ret < 0)
    return throw_gnutls (error, NOTARY_KEY_ERROR_FAILED, ret, "converting ECDSA key to PKCS#8");
  pkcs8_bytes = g_bytes_new_static (pkcs8.data, pkcs8.size);
  return notary_private_key_new_from_pkcs8 (pkcs8_bytes, error);
}

static NotaryPrivateKey *
ed25519_from_raw (GBytes *raw, GError **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (raw, &len);
  guint8 buf[sizeof notary_ed25519_pkcs8_head + ED25519_RAW_LEN];
  g_autoptr (GBytes) pkcs8 = NULL;
  NotaryPrivateKey *key;

  if (len != ED25519_RAW_LEN)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                   "an Ed25519 private key is %d bytes, not %" G_GSIZE_FORMAT, ED25519_RAW_LEN, len);
      return NULL;
    }
  memcpy (buf, notary_ed25519_pkcs8_head, sizeof notary_ed25519_pkcs8_head);
  memcpy (buf + sizeof notary_ed25519_pkcs8_head, p, ED25519_RAW_LEN);
  pkcs8 = g_bytes_new_static (buf, sizeof buf);
  key = notary_private_key_new_from_pkcs8 (pkcs8, error);
  gnutls_memset (buf, 0, sizeof buf);
  return key;
}

NotaryPrivateKey *
notary_signer_key_from_raw (const char *algorithm, GBytes *raw, GError **error)
{
  NotaryPrivateKey *key;

  if (g_strcmp0 (algorithm, "ecdsa") == 0)
    key = ecdsa_from_sec1 (raw, error);
  else if (g_strcmp0 (algorithm, "ed25519") == 0)
    key = ed25519_from_raw (raw, error);
  else
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED, "unsupported key algorithm \"%s\"",
                   algorithm != NULL ? algorithm : "");
      return NULL;
    }
  /* A 96-byte Ed25519 blob whose public halves agree but whose seed does
   * not produce them is caught here, not at the first signature. */
  if (key != NULL && g_str_equal (algorithm, "ed25519"))
    {
      gsize len = 0;
      const guint8 *p = g_bytes_get_data (raw, &len);
      GBytes *pub = notary_key_get_public (notary_private_key_get_public (key));
      gsize pub_len = 0;
      const guint8 *pub_data = g_bytes_get_data (pub, &pub_len);
      if (pub_len != ED25519_LEN || memcmp (pub_data, p, ED25519_LEN) != 0)
        {
          notary_private_key_unref (key);
          g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                               "Ed25519 public key does not match its seed");
          return NULL;
        }
    }
  return key;
}
