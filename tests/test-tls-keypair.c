/* test-tls-keypair.c — core/notary-tls-keypair.c: comparing public keys
 * gives GnuTLS's own verdict on whether a key serves a certificate, for
 * every kind of key the daemons may be given, without its trial
 * signature.  Each case is also loaded the GnuTLS way (its check on) and
 * the two answers must agree. */
#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <string.h>

#include "notary-tls-keypair.h"

typedef struct
{
  gnutls_datum_t cert; /* PEM */
  gnutls_datum_t key;  /* PEM */
} Pair;

static void
pair_clear (Pair *p)
{
  gnutls_free (p->cert.data);
  gnutls_free (p->key.data);
  memset (p, 0, sizeof *p);
}

static void
load_fixture (const char *cert, const char *key, Pair *out)
{
  g_autofree char *c = g_build_filename (g_getenv ("NOTARY_SOURCE_ROOT"), "fixtures", cert, NULL);
  g_autofree char *k = g_build_filename (g_getenv ("NOTARY_SOURCE_ROOT"), "fixtures", key, NULL);

  g_assert_cmpint (gnutls_load_file (c, &out->cert), ==, 0);
  g_assert_cmpint (gnutls_load_file (k, &out->key), ==, 0);
}

/* A new key of @pk (@bits for RSA) and a self-signed certificate for it;
 * with @pss_spki an RSA key's certificate says RSA-PSS. */
static void
make_pair (gnutls_pk_algorithm_t pk, unsigned bits, gboolean pss_spki, Pair *out)
{
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  time_t now = time (NULL);
  unsigned char serial[] = { 0x01, 0x02 };

  g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (key, pk, bits, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_version (crt, 3), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (crt, now - 60), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (crt, now + 3600), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn (crt, "CN=notary-test", NULL), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (crt, key), ==, 0);
  if (pss_spki)
    {
      gnutls_x509_spki_t spki;
      g_assert_cmpint (gnutls_x509_spki_init (&spki), ==, 0);
      gnutls_x509_spki_set_rsa_pss_params (spki, GNUTLS_DIG_SHA256, 32);
      g_assert_cmpint (gnutls_x509_crt_set_spki (crt, spki, 0), ==, 0);
      gnutls_x509_spki_deinit (spki);
    }
  g_assert_cmpint (gnutls_x509_crt_sign2 (crt, crt, key, pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_UNKNOWN : GNUTLS_DIG_SHA256, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &out->cert), ==, 0);
  /* RSA as PKCS#1, EC as SEC1 (what the fixtures and most tools write);
   * the kinds those cannot hold as PKCS#8. */
  if (pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_ECDSA)
    g_assert_cmpint (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &out->key), ==, 0);
  else
    g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &out->key),
                     ==, 0);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
}

/* GnuTLS's own check (trial signature) on cert of @c with key of @k. */
static gboolean
gnutls_accepts (const Pair *c, const Pair *k)
{
  gnutls_certificate_credentials_t cred;
  int rc;

  g_assert_cmpint (gnutls_certificate_allocate_credentials (&cred), ==, 0);
  rc = gnutls_certificate_set_x509_key_mem (cred, &c->cert, &k->key, GNUTLS_X509_FMT_PEM);
  gnutls_certificate_free_credentials (cred);
  g_assert_true (rc >= 0 || rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH);
  return rc >= 0;
}

/* Ours on the same, through both entry points: @expected. */
static void
expect_ours (const Pair *c, const Pair *k, gboolean expected)
{
  gnutls_certificate_credentials_t cred;
  int rc = notary_tls_check_key_pair (&c->cert, &k->key);

  g_assert_cmpint (rc, ==, expected ? 0 : GNUTLS_E_CERTIFICATE_KEY_MISMATCH);
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&cred), ==, 0);
  g_assert_cmpint (notary_tls_set_key_pair_mem (cred, &c->cert, &k->key), ==, rc);
  gnutls_certificate_free_credentials (cred);
}

/* ... and GnuTLS's own check says the same. */
static void
expect (const Pair *c, const Pair *k, gboolean expected)
{
  expect_ours (c, k, expected);
  g_assert_cmpint (gnutls_accepts (c, k), ==, expected);
}

static void
test_fixtures (void)
{
  Pair server = { 0 }, signer = { 0 };

  load_fixture ("notary-server.crt", "notary-server.key", &server);
  load_fixture ("notary-signer.crt", "notary-signer.key", &signer);
  expect (&server, &server, TRUE);
  expect (&signer, &signer, TRUE);
  /* same kind, same size, another key */
  expect (&server, &signer, FALSE);
  expect (&signer, &server, FALSE);
  pair_clear (&server);
  pair_clear (&signer);
}

static void
test_kinds (void)
{
  Pair ec1 = { 0 }, ec2 = { 0 }, ec384 = { 0 }, ed1 = { 0 }, ed2 = { 0 }, rsa = { 0 };

  make_pair (GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), FALSE, &ec1);
  make_pair (GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), FALSE, &ec2);
  make_pair (GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP384R1), FALSE, &ec384);
  make_pair (GNUTLS_PK_EDDSA_ED25519, 0, FALSE, &ed1);
  make_pair (GNUTLS_PK_EDDSA_ED25519, 0, FALSE, &ed2);
  make_pair (GNUTLS_PK_RSA, 2048, FALSE, &rsa);

  expect (&ec1, &ec1, TRUE);
  expect (&ec384, &ec384, TRUE);
  expect (&ed1, &ed1, TRUE);
  expect (&ec1, &ec2, FALSE);
  expect (&ec1, &ec384, FALSE);
  /* GnuTLS 3.7.9's trial signature lets this one through (the server
   * would then fail every handshake); comparing the keys does not. */
  expect_ours (&ed1, &ed2, FALSE);
  /* another algorithm altogether */
  expect (&ec1, &ed1, FALSE);
  expect (&rsa, &ec1, FALSE);
  expect (&ec1, &rsa, FALSE);

  pair_clear (&ec1);
  pair_clear (&ec2);
  pair_clear (&ec384);
  pair_clear (&ed1);
  pair_clear (&ed2);
  pair_clear (&rsa);
}

/* RSA and RSA-PSS share their parameters but not their SPKI: an RSA key
 * serves an RSA-PSS certificate of its own modulus, an RSA-PSS key never
 * an RSA one. */
static void
test_rsa_pss (void)
{
  Pair rsa = { 0 }, rsa_as_pss = { 0 }, pss = { 0 }, pss_cert_rsa_key = { 0 };

  make_pair (GNUTLS_PK_RSA, 2048, FALSE, &rsa);
  make_pair (GNUTLS_PK_RSA, 2048, TRUE, &rsa_as_pss);
  make_pair (GNUTLS_PK_RSA_PSS, 2048, FALSE, &pss);

  expect (&rsa_as_pss, &rsa_as_pss, TRUE);
  expect (&pss, &pss, TRUE);
  expect (&rsa_as_pss, &rsa, FALSE); /* another modulus */
  expect (&pss, &rsa, FALSE);
  expect (&rsa, &pss, FALSE);

  /* the RSA-PSS certificate of the RSA key, with that key in PKCS#1 */
  pss_cert_rsa_key.cert = rsa_as_pss.cert;
  pss_cert_rsa_key.key = rsa_as_pss.key;
  expect (&pss_cert_rsa_key, &rsa_as_pss, TRUE);

  pair_clear (&rsa);
  pair_clear (&rsa_as_pss);
  pair_clear (&pss);
}

static void
test_bad_input (void)
{
  Pair server = { 0 };
  gnutls_datum_t junk = { (unsigned char *) "not PEM\n", 8 };
  gnutls_certificate_credentials_t cred;

  load_fixture ("notary-server.crt", "notary-server.key", &server);
  g_assert_cmpint (notary_tls_check_key_pair (&junk, &server.key), <, 0);
  g_assert_cmpint (notary_tls_check_key_pair (&server.cert, &junk), <, 0);
  g_assert_cmpint (notary_tls_check_key_pair (&server.cert, &junk), !=, GNUTLS_E_CERTIFICATE_KEY_MISMATCH);
  /* GnuTLS's own parse errors come through unchanged */
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&cred), ==, 0);
  g_assert_cmpint (notary_tls_set_key_pair_mem (cred, &server.cert, &junk), ==,
                   gnutls_certificate_set_x509_key_mem (cred, &server.cert, &junk, GNUTLS_X509_FMT_PEM));
  gnutls_certificate_free_credentials (cred);
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&cred), ==, 0);
  g_assert_cmpint (notary_tls_set_key_pair_file (cred, "/nonexistent.crt", "/nonexistent.key"), ==,
                   GNUTLS_E_FILE_ERROR);
  gnutls_certificate_free_credentials (cred);
  pair_clear (&server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls-keypair/fixtures", test_fixtures);
  g_test_add_func ("/tls-keypair/kinds", test_kinds);
  g_test_add_func ("/tls-keypair/rsa-pss", test_rsa_pss);
  g_test_add_func ("/tls-keypair/bad-input", test_bad_input);
  return g_test_run ();
}
