/* fuzz-key.c — public keys as root.json and delegations carry them
 * (core/notary-keys.c): base64-decoded DER (ed25519, ecdsa, rsa) and PEM
 * certificate bundles (ecdsa-x509, rsa-x509), and the root certificate
 * checks run on the latter.  These are the parsers a client's upload
 * reaches with attacker-chosen bytes, before any signature is known good.
 *
 * Input: the key type, a newline, then the key's public bytes (as they
 * are after base64).  The harness then verifies a signature made of the
 * input's last bytes with every method, so the signature parsers (raw
 * r||s, RSA lengths) see fuzzed lengths too.  Invariant: every failure is
 * a NOTARY_KEY_ERROR (the callers type those as invalid metadata). */
#include "fuzz-target.h"

#include "notary-keys.h"

static void
expect_key_error (const GError *error, const char *what)
{
  if (error == NULL || error->domain != NOTARY_KEY_ERROR)
    fuzz_fail ("%s failed without a NOTARY_KEY_ERROR (%s)", what, error ? error->message : "no error at all");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr (data, '\n', MIN (size, 32));
  if (nl == NULL)
    return 0;
  g_autofree char *keytype = g_strndup ((const char *) data, (gsize) (nl - data));
  g_autoptr (GBytes) pub = g_bytes_new (nl + 1, size - (gsize) (nl + 1 - data));

  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = notary_key_new (keytype, pub, &error);
  if (key == NULL)
    {
      expect_key_error (error, "notary_key_new");
      return 0;
    }
  if (strlen (notary_key_get_id (key)) != 64 || notary_key_get_canonical_id (key) == NULL)
    fuzz_fail ("an accepted key has no proper ID");
  g_free (notary_key_to_endpoint_json (key));
  (void) notary_key_get_not_after (key);

  if (notary_key_is_x509 (key))
    {
      /* 2026-01-01 and the year 9000: inside and outside any validity. */
      static const gint64 nows[] = { 1767225600, 221845392000 };
      for (gsize i = 0; i < G_N_ELEMENTS (nows); i++)
        for (int check_expiry = 0; check_expiry <= 1; check_expiry++)
          {
            g_autoptr (GError) cert_error = NULL;
            g_autoptr (NotaryKey) leaf
                = notary_key_check_root_certificate (key, "docker.io/library/alpine", nows[i], check_expiry,
                                                     &cert_error);
            if (leaf == NULL)
              expect_key_error (cert_error, "notary_key_check_root_certificate");
          }
    }

  static const char *const methods[] = { "eddsa", "ecdsa", "rsapss", "rsapkcs1v15", "bogus" };
  gsize sig_len = MIN (size, 512);
  g_autoptr (GBytes) sig = g_bytes_new (data + size - sig_len, sig_len);
  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr (GError) verify_error = NULL;
      if (notary_key_verify (key, methods[i], pub, sig, &verify_error))
        fuzz_fail ("a signature cut from the input verified with %s", methods[i]);
      expect_key_error (verify_error, "notary_key_verify");
    }
  return 0;
}
