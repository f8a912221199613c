/* notary-ecdsa.h — ECDSA signature verification through OpenSSL's libcrypto.
 *
 * Why a second crypto library: verifying client signatures is most of the
 * CPU of a publish (three ECDSA P-256 verifications for a first publish),
 * and GnuTLS verifies through nettle's constant-time scalar multiplication
 * (~230 µs per P-256 verification on the benchmark machine) where
 * libcrypto's P-256 code takes ~90 µs.  Verification only handles public
 * data, so nothing is lost by leaving the side-channel-silent path for it.
 * Everything else (parsing keys and certificates, signing, TLS) stays on
 * GnuTLS.  It goes through libcrypto's EC_KEY API, below its provider
 * layer: notary-ecdsa.c says why.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NotaryEcdsaKey NotaryEcdsaKey; /* immutable, thread-safe */

/* For a daemon's main(), before any thread starts: libcrypto must not free
 * its per-thread state from an atexit handler.  Our pool threads (GLib's,
 * libmariadb's users) may still be running or exiting when main returns;
 * libcrypto's exit-time cleanup deletes the thread-local keys under them,
 * so a thread that exits just after never frees its error queue (LSan:
 * 904-byte leaks from CRYPTO_zalloc, one per such thread; a stand-alone
 * repro leaked in 23 of 40 runs, 0 of 40 with this) and one still using
 * libcrypto could touch freed state.  The process exit frees it all. */
void notary_ecdsa_process_init (void);

/* @curve_name: "P-256", "P-384" or "P-521"; @point: the uncompressed
 * public point (0x04 ‖ X ‖ Y).  NULL when OpenSSL refuses it (the caller
 * words the error: it knows which key this is). */
NotaryEcdsaKey *notary_ecdsa_key_new (const char *curve_name, const guint8 *point, gsize point_len);
void notary_ecdsa_key_free (NotaryEcdsaKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryEcdsaKey, notary_ecdsa_key_free)

/* Verifies a raw r ‖ s signature (each @half bytes) over @digest, the
 * SHA-256 of the signed bytes (notary's digest with ECDSA on every curve;
 * the caller hashes, GnuTLS does it without libcrypto's per-call algorithm
 * fetch).  FALSE when it does not verify (no error detail beyond that:
 * callers word the message). */
gboolean notary_ecdsa_key_verify (NotaryEcdsaKey *key, const guint8 digest[32], const guint8 *sig,
                                  gsize half);

G_END_DECLS
