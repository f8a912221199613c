/* notary-tls-keypair.h — loading a TLS certificate chain and its private
 * key into GnuTLS credentials, with a cheap key/certificate match check.
 *
 * GnuTLS checks a new pair by signing a test message with the key and
 * verifying it with the leaf's public key: ~1.2 ms per load with the
 * RSA-2048 fixtures, and start-up loads a pair up to three times (server
 * identity, transport credentials, signer client).  A key read from a
 * file has its public half at hand, so comparing public keys answers the
 * same question without the signature.  The refusal keeps GnuTLS's code
 * (GNUTLS_E_CERTIFICATE_KEY_MISMATCH) and its rules: an RSA key may serve
 * an RSA or RSA-PSS certificate, an RSA-PSS key only an RSA-PSS one.
 */
#pragma once

#include <gnutls/gnutls.h>

/* Like gnutls_certificate_set_x509_key_mem() (PEM chain, leaf first;
 * unencrypted PEM key), the match checked as above.  Sets @cred's flags
 * to GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH (replacing any: GnuTLS has no
 * getter), so every pair it takes must come through here.  \return 0 or a GnuTLS error code; on a
 * mismatch @cred holds the pair (as with GnuTLS's own check): discard it. */
int notary_tls_set_key_pair_mem (gnutls_certificate_credentials_t cred, const gnutls_datum_t *chain_pem,
                                 const gnutls_datum_t *key_pem);

/* The same from files. */
int notary_tls_set_key_pair_file (gnutls_certificate_credentials_t cred, const char *chain_file,
                                  const char *key_file);

/* Whether the leaf of @chain_pem and @key_pem hold the same public key
 * (by the rules above).  \return 0, GNUTLS_E_CERTIFICATE_KEY_MISMATCH, or
 * the error that parsing either raised. */
int notary_tls_check_key_pair (const gnutls_datum_t *chain_pem, const gnutls_datum_t *key_pem);
