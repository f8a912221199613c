/* notary-tls-keypair.c — see the header. */
#include "notary-tls-keypair.h"

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <string.h>

static gboolean
datum_equal (const gnutls_datum_t *a, const gnutls_datum_t *b)
{
  return a->size == b->size && memcmp (a->data, b->data, a->size) == 0;
}

/* RSA and RSA-PSS keys share their parameters but not their
 * SubjectPublicKeyInfo (the algorithm OID differs), so they are compared
 * by modulus and exponent; any other kind by the SPKI's SHA-256. */
static int
same_public_key (gnutls_pubkey_t cert_key, gnutls_pubkey_t own_key)
{
  int cert_pk = gnutls_pubkey_get_pk_algorithm (cert_key, NULL);
  int own_pk = gnutls_pubkey_get_pk_algorithm (own_key, NULL);
  gboolean rsa_cert = cert_pk == GNUTLS_PK_RSA || cert_pk == GNUTLS_PK_RSA_PSS;
  gboolean rsa_own = own_pk == GNUTLS_PK_RSA || own_pk == GNUTLS_PK_RSA_PSS;
  int rc;

  if (rsa_cert && rsa_own)
    {
      gnutls_datum_t m1 = { 0 }, e1 = { 0 }, m2 = { 0 }, e2 = { 0 };

      if (own_pk == GNUTLS_PK_RSA_PSS && cert_pk == GNUTLS_PK_RSA)
        return GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
      rc = gnutls_pubkey_export_rsa_raw2 (cert_key, &m1, &e1, 0);
      if (rc == 0)
        rc = gnutls_pubkey_export_rsa_raw2 (own_key, &m2, &e2, 0);
      if (rc == 0 && !(datum_equal (&m1, &m2) && datum_equal (&e1, &e2)))
        rc = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
      gnutls_free (m1.data);
      gnutls_free (e1.data);
      gnutls_free (m2.data);
      gnutls_free (e2.data);
      return rc;
    }
  if (cert_pk != own_pk)
    return GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
  {
    unsigned char id1[32], id2[32];
    size_t n1 = sizeof id1, n2 = sizeof id2;

    rc = gnutls_pubkey_get_key_id (cert_key, GNUTLS_KEYID_USE_SHA256, id1, &n1);
    if (rc == 0)
      rc = gnutls_pubkey_get_key_id (own_key, GNUTLS_KEYID_USE_SHA256, id2, &n2);
    if (rc == 0 && (n1 != n2 || memcmp (id1, id2, n1) != 0))
      rc = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
    return rc;
  }
}

int
notary_tls_check_key_pair (const gnutls_datum_t *chain_pem, const gnutls_datum_t *key_pem)
{
  gnutls_x509_crt_t leaf = NULL;
  gnutls_privkey_t key = NULL;
  gnutls_pubkey_t cert_key = NULL, own_key = NULL;
  int rc;

  /* PEM: the first certificate of the chain, as the credentials take it. */
  if ((rc = gnutls_x509_crt_init (&leaf)) < 0 || (rc = gnutls_x509_crt_import (leaf, chain_pem, GNUTLS_X509_FMT_PEM)) < 0
      || (rc = gnutls_privkey_init (&key)) < 0
      || (rc = gnutls_privkey_import_x509_raw (key, key_pem, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0
      || (rc = gnutls_pubkey_init (&cert_key)) < 0 || (rc = gnutls_pubkey_import_x509 (cert_key, leaf, 0)) < 0
      || (rc = gnutls_pubkey_init (&own_key)) < 0 || (rc = gnutls_pubkey_import_privkey (own_key, key, 0, 0)) < 0)
    goto out;
  rc = same_public_key (cert_key, own_key);
out:
  if (own_key != NULL)
    gnutls_pubkey_deinit (own_key);
  if (cert_key != NULL)
    gnutls_pubkey_deinit (cert_key);
  if (key != NULL)
    gnutls_privkey_deinit (key);
  if (leaf != NULL)
    gnutls_x509_crt_deinit (leaf);
  return rc;
}

int
notary_tls_set_key_pair_mem (gnutls_certificate_credentials_t cred, const gnutls_datum_t *chain_pem,
                             const gnutls_datum_t *key_pem)
{
  int rc;

  /* Loaded first, so a file that does not parse fails with GnuTLS's own
   * code; a mismatch then leaves the pair in @cred, as GnuTLS's check
   * does: the caller discards the credentials. */
  gnutls_certificate_set_flags (cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
  rc = gnutls_certificate_set_x509_key_mem (cred, chain_pem, key_pem, GNUTLS_X509_FMT_PEM);
  if (rc < 0)
    return rc;
  return notary_tls_check_key_pair (chain_pem, key_pem);
}

int
notary_tls_set_key_pair_file (gnutls_certificate_credentials_t cred, const char *chain_file, const char *key_file)
{
  gnutls_datum_t chain = { NULL, 0 }, key = { NULL, 0 };
  int rc;

  if ((rc = gnutls_load_file (chain_file, &chain)) < 0 || (rc = gnutls_load_file (key_file, &key)) < 0)
    goto out;
  rc = notary_tls_set_key_pair_mem (cred, &chain, &key);
out:
  gnutls_free (chain.data);
  if (key.data != NULL)
    {
      /* private key text: do not leave it in freed memory */
      gnutls_memset (key.data, 0, key.size);
      gnutls_free (key.data);
    }
  return rc;
}
