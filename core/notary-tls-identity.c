/* notary-tls-identity.c — see notary-tls-identity.h. */
#include "notary-tls-identity.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "notary-tls-keypair.h"

struct _NotaryTlsIdentity
{
  gatomicrefcount refs;
  char *chain_pem;
  char *key_pem;
};

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_certificate_credentials_t, gnutls_certificate_free_credentials, NULL)

/* GnuTLS says what is wrong in words a user can act on; the file is ours
 * to name. */
static gboolean
check_gnutls (int rc, const char *what, GError **error)
{
  if (rc >= 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", what, gnutls_strerror (rc));
  return FALSE;
}

NotaryTlsIdentity *
notary_tls_identity_load (const char *cert_file, const char *key_file, GError **error)
{
  g_autofree char *chain = NULL;
  g_autofree char *key = NULL;
  gsize chain_len, key_len;
  g_auto (gnutls_certificate_credentials_t) cred = NULL;
  NotaryTlsIdentity *identity;

  g_return_val_if_fail (cert_file != NULL && key_file != NULL, NULL);
  if (!g_file_get_contents (cert_file, &chain, &chain_len, error)
      || !g_file_get_contents (key_file, &key, &key_len, error))
    return NULL;
  {
    gnutls_datum_t c = { (unsigned char *) chain, (unsigned int) chain_len };
    gnutls_datum_t k = { (unsigned char *) key, (unsigned int) key_len };

    /* The same call the transport makes, so what loads here serves
     * there; it refuses a key that does not match the leaf. */
    if (!check_gnutls (gnutls_certificate_allocate_credentials (&cred), "TLS credentials", error)
        || !check_gnutls (notary_tls_set_key_pair_mem (cred, &c, &k),
                          "certificate and key", error))
      return NULL;
  }
  identity = g_new0 (NotaryTlsIdentity, 1);
  g_atomic_ref_count_init (&identity->refs);
  identity->chain_pem = g_steal_pointer (&chain);
  identity->key_pem = g_steal_pointer (&key);
  return identity;
}

NotaryTlsIdentity *
notary_tls_identity_ref (NotaryTlsIdentity *identity)
{
  g_atomic_ref_count_inc (&identity->refs);
  return identity;
}

void
notary_tls_identity_unref (NotaryTlsIdentity *identity)
{
  if (identity == NULL || !g_atomic_ref_count_dec (&identity->refs))
    return;
  g_free (identity->chain_pem);
  if (identity->key_pem != NULL)
    {
      /* private key text: do not leave it in freed memory */
      memset (identity->key_pem, 0, strlen (identity->key_pem));
      g_free (identity->key_pem);
    }
  g_free (identity);
}

const char *
notary_tls_identity_get_chain_pem (const NotaryTlsIdentity *identity)
{
  return identity->chain_pem;
}

const char *
notary_tls_identity_get_key_pem (const NotaryTlsIdentity *identity)
{
  return identity->key_pem;
}

char *
notary_tls_read_ca_bundle (const char *ca_file, GError **error)
{
  g_autofree char *pem = NULL;
  gsize len;
  g_auto (gnutls_certificate_credentials_t) cred = NULL;
  int rc;

  if (!g_file_get_contents (ca_file, &pem, &len, error))
    return NULL;
  {
    gnutls_datum_t d = { (unsigned char *) pem, (unsigned int) len };
    if (!check_gnutls (gnutls_certificate_allocate_credentials (&cred), "TLS credentials", error))
      return NULL;
    rc = gnutls_certificate_set_x509_trust_mem (cred, &d, GNUTLS_X509_FMT_PEM);
  }
  if (rc == 0)
    rc = GNUTLS_E_NO_CERTIFICATE_FOUND;
  if (!check_gnutls (rc, ca_file, error))
    return NULL;
  return g_steal_pointer (&pem);
}
