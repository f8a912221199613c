/* notary-tls-identity.h — the server's TLS certificate chain and key, as
 * read from server.tls_cert_file / server.tls_key_file.
 *
 * Kept as PEM text checked with GnuTLS, not as a GTlsCertificate: making
 * one loads GIO's TLS backend module, which the libmicrohttpd transport
 * never uses otherwise and which cost ~1.4 MiB of resident memory and a
 * millisecond of start-up.  The libsoup transport builds its
 * GTlsCertificate from this text.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Immutable once loaded; shared by reference between threads. */
typedef struct _NotaryTlsIdentity NotaryTlsIdentity;

/* Reads @cert_file (the leaf, then any issuers) and @key_file (PEM: PKCS#1,
 * PKCS#8 or SEC1) and checks that they parse and that the key belongs to
 * the leaf.  \return NULL with @error set otherwise. */
NotaryTlsIdentity *notary_tls_identity_load (const char *cert_file, const char *key_file, GError **error);

NotaryTlsIdentity *notary_tls_identity_ref (NotaryTlsIdentity *identity);
void notary_tls_identity_unref (NotaryTlsIdentity *identity);

/* The certificate file's text (leaf first) and the key file's text. */
const char *notary_tls_identity_get_chain_pem (const NotaryTlsIdentity *identity);
const char *notary_tls_identity_get_key_pem (const NotaryTlsIdentity *identity);

/* Reads @ca_file, a PEM bundle of trust anchors, and checks it holds at
 * least one certificate.  \return its text, or NULL with @error set. */
char *notary_tls_read_ca_bundle (const char *ca_file, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryTlsIdentity, notary_tls_identity_unref)

G_END_DECLS
