/* jws-fixtures.c — what the auth tests and fuzz/fuzz-auth share to mint
 * docker/distribution-style bearer tokens: base64url, JWS signatures in
 * JOSE form with GnuTLS, x5c chains from the certificates and keys of
 * tests/data/auth/ (made by make-auth-certs.sh; valid 2024-2124).
 *
 * Included (#include "lib/jws-fixtures.c") by each user, like
 * tuf-fixtures.c: test code only, everything is static.  The includer
 * defines NOTARY_TEST_DATA_DIR.
 */
#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

G_GNUC_UNUSED static char *
data_path (const char *name)
{
  return g_build_filename (NOTARY_TEST_DATA_DIR, "auth", name, NULL);
}

G_GNUC_UNUSED static char *
read_data (const char *name)
{
  g_autofree char *path = data_path (name);
  g_autoptr (GError) error = NULL;
  char *text = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

G_GNUC_UNUSED static char *
b64url (const void *data, gsize len)
{
  g_autofree char *std = g_base64_encode (data, len);
  GString *out = g_string_new (NULL);
  for (const char *p = std; *p != '\0'; p++)
    {
      if (*p == '+')
        g_string_append_c (out, '-');
      else if (*p == '/')
        g_string_append_c (out, '_');
      else if (*p != '=')
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

G_GNUC_UNUSED static char *
b64url_str (const char *s)
{
  return b64url (s, strlen (s));
}

G_GNUC_UNUSED static gnutls_privkey_t
load_privkey (const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s.key", name);
  g_autofree char *pem = read_data (file);
  gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)strlen (pem) };
  gnutls_privkey_t key = NULL;
  g_assert_cmpint (gnutls_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_privkey_import_x509_raw (key, &d, GNUTLS_X509_FMT_PEM, NULL, 0), ==, 0);
  return key;
}

G_GNUC_UNUSED static gnutls_x509_crt_t
load_crt (const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s.pem", name);
  g_autofree char *pem = read_data (file);
  gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)strlen (pem) };
  gnutls_x509_crt_t crt = NULL;
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &d, GNUTLS_X509_FMT_PEM), ==, 0);
  return crt;
}

/* Standard base64 DER of a test certificate, as an x5c entry. */
G_GNUC_UNUSED static char *
cert_b64 (const char *name)
{
  gnutls_x509_crt_t crt = load_crt (name);
  gnutls_datum_t der = { NULL, 0 };
  char *out;
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
  out = g_base64_encode (der.data, der.size);
  gnutls_free (der.data);
  gnutls_x509_crt_deinit (crt);
  return out;
}

/* ["<leaf>","<int>",…] from certificate names. */
G_GNUC_UNUSED static char *
x5c_json (const char *const *names)
{
  GString *out = g_string_new ("[");
  for (gsize i = 0; names[i] != NULL; i++)
    {
      g_autofree char *b64 = cert_b64 (names[i]);
      g_string_append_printf (out, "%s\"%s\"", i ? "," : "", b64);
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/* A JWS signature in JOSE form: raw r||s for ECDSA, PKCS#1 v1.5 for RSA. */
G_GNUC_UNUSED static char *
sign_jws (gnutls_privkey_t key, const char *alg, const char *input)
{
  gnutls_datum_t data = { (unsigned char *)input, (unsigned int)strlen (input) };
  gnutls_datum_t sig = { NULL, 0 };
  gnutls_sign_algorithm_t algo;
  guint octets = 0;
  char *out;

  if (g_str_equal (alg, "ES256"))
    algo = GNUTLS_SIGN_ECDSA_SHA256, octets = 32;
  else if (g_str_equal (alg, "ES384"))
    algo = GNUTLS_SIGN_ECDSA_SHA384, octets = 48;
  else if (g_str_equal (alg, "ES512"))
    algo = GNUTLS_SIGN_ECDSA_SHA512, octets = 66;
  else if (g_str_equal (alg, "RS256"))
    algo = GNUTLS_SIGN_RSA_SHA256;
  else if (g_str_equal (alg, "RS384"))
    algo = GNUTLS_SIGN_RSA_SHA384;
  else if (g_str_equal (alg, "RS512"))
    algo = GNUTLS_SIGN_RSA_SHA512;
  else
    g_assert_not_reached ();

  g_assert_cmpint (gnutls_privkey_sign_data2 (key, algo, 0, &data, &sig), ==, 0);
  if (octets == 0)
    {
      out = b64url (sig.data, sig.size);
    }
  else
    {
      gnutls_datum_t r = { NULL, 0 }, s = { NULL, 0 };
      g_autofree guint8 *raw = g_malloc0 (2 * octets);
      const guint8 *rp, *sp;
      gsize rn, sn;
      g_assert_cmpint (gnutls_decode_rs_value (&sig, &r, &s), ==, 0);
      /* DER integers may carry a leading zero byte or be short. */
      rp = r.data, rn = r.size;
      sp = s.data, sn = s.size;
      while (rn > octets && rp[0] == 0)
        rp++, rn--;
      while (sn > octets && sp[0] == 0)
        sp++, sn--;
      g_assert_cmpuint (rn, <=, octets);
      g_assert_cmpuint (sn, <=, octets);
      memcpy (raw + octets - rn, rp, rn);
      memcpy (raw + 2 * octets - sn, sp, sn);
      out = b64url (raw, 2 * octets);
      gnutls_free (r.data);
      gnutls_free (s.data);
    }
  gnutls_free (sig.data);
  return out;
}

/* header.claims.signature, signed by @signer with @alg. */
G_GNUC_UNUSED static char *
mint (const char *header_json, const char *claims, const char *signer, const char *alg)
{
  g_autofree char *h = b64url_str (header_json);
  g_autofree char *c = b64url_str (claims);
  g_autofree char *input = g_strdup_printf ("%s.%s", h, c);
  gnutls_privkey_t key = load_privkey (signer);
  g_autofree char *sig = sign_jws (key, alg, input);
  gnutls_privkey_deinit (key);
  return g_strdup_printf ("%s.%s", input, sig);
}

/* A token whose header carries the x5c chain @chain (leaf first); the leaf
 * signs. */
G_GNUC_UNUSED static char *
mint_x5c (const char *const *chain, const char *alg, const char *claims)
{
  g_autofree char *x5c = x5c_json (chain);
  g_autofree char *header = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"%s\",\"x5c\":%s}", alg, x5c);
  return mint (header, claims, chain[0], alg);
}

