/* signer-test-util.h — shared helpers for the signer tests: a TLS chain
 * (the repo's fixtures when present, else one made with certtool), a
 * second unrelated CA for negative mTLS tests, free ports, spawning
 * signers and loading the remote plugin through its public entry point.
 */
#pragma once

#include <gio/gio.h>
#include <notary/signer-backend.h>

typedef struct
{
  char *dir;         /* temp dir, removed by signer_test_pki_free() */
  char *root_ca;     /* trust anchor for the signer's certificate */
  char *signer_crt;  /* leaf + intermediate; SANs localhost, 127.0.0.1 */
  char *signer_key;
  char *client_crt;  /* the notary-server identity (leaf + intermediate) */
  char *client_key;
  char *other_crt;   /* a client certificate from an unrelated CA */
  char *other_key;
} SignerTestPki;

SignerTestPki *signer_test_pki_new (void);
void signer_test_pki_free (SignerTestPki *pki);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SignerTestPki, signer_test_pki_free)

/* A TCP port on 127.0.0.1 that was free a moment ago. */
guint16 signer_test_free_port (void);

/* Wait until something accepts TCP connections on 127.0.0.1:@port. */
gboolean signer_test_wait_port (guint16 port, guint timeout_ms);

/* Write a signer config (memory store) into @pki->dir; returns its path. */
char *signer_test_write_signer_config (SignerTestPki *pki, const char *name, guint16 port,
                                       gboolean require_client_cert);

/* Start @binary -config @config; waits for its port.  NULL + skip-worthy
 * message in @error when it does not come up. */
GSubprocess *signer_test_spawn (const char *binary, const char *config, guint16 port, GError **error);
void signer_test_kill (GSubprocess *proc);

/* The remote plugin's vtable, loaded from $NOTARY_PLUGIN_PATH with GModule
 * and checked through its descriptor. */
const NotarySignerVTable *signer_test_load_remote (void);

/* `trust_service` options pointing the remote plugin at 127.0.0.1:@port. */
JsonObject *signer_test_remote_options (SignerTestPki *pki, guint16 port, const char *algorithm);
