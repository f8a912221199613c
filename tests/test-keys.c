/* test-keys.c — unit tests for core/notary-keys.c.
 *
 * Vectors under tests/data/keys/ come from make-vectors.sh there: metadata
 * signed by the reference Go client/server, signatures made by OpenSSL and
 * certificates made by certtool.
 */
#include "notary-keys.h"

#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

/* 2025-06-01T00:00:00Z: the fixed "now" the certtool vectors are built around. */
#define CERT_NOW G_GINT64_CONSTANT (1748736000)
#define CERT_GUN "example.com/keys-test"
#define GO_GUN "example.com/keys-vec"

static GBytes *
load_vector (const char *rel)
{
  g_autofree char *path = g_build_filename (NOTARY_TEST_DATA_DIR, "keys", rel, NULL);
  g_autoptr (GError) error = NULL;
  char *data = NULL;
  gsize len = 0;
  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

static GBytes *
bytes_from_string (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

/* Copy of @b with byte @i xor-ed with 0x01. */
static GBytes *
bytes_flip (GBytes *b, gsize i)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (b, &len);
  g_assert_cmpuint (i, <, len);
  guint8 *copy = g_memdup2 (p, len);
  copy[i] ^= 0x01;
  return g_bytes_new_take (copy, len);
}

static GBytes *
bytes_from_hex (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *out = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    out[i] = (guint8)(g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]));
  return g_bytes_new_take (out, n);
}

static NotaryKey *
key_from_json_text (const char *text, GError **error)
{
  g_autoptr (JsonNode) node = json_from_string (text, NULL);
  g_assert_nonnull (node);
  return notary_key_new_from_json (node, error);
}

/* ---- key IDs ------------------------------------------------------------ */

static void
test_key_id_vector (void)
{
  guint8 pub[32];
  for (guint i = 0; i < 32; i++)
    pub[i] = (guint8)i;
  g_autoptr (GBytes) b = g_bytes_new (pub, sizeof pub);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = notary_key_new ("ed25519", b, &error);
  g_assert_no_error (error);

  /* tuf-metadata.md §3.2 */
  g_assert_cmpstr (notary_key_get_id (key), ==,
                   "bf416ca3d4d6da197ee588c688e0ec920f4a582009215a8d90c8b48a2b058e12");
  g_assert_cmpstr (notary_key_get_canonical_id (key), ==, notary_key_get_id (key));
  g_assert_cmpstr (notary_key_get_keytype (key), ==, "ed25519");
  g_assert_false (notary_key_is_x509 (key));
  g_assert_true (g_bytes_equal (notary_key_get_public (key), b));

  g_autofree char *json = notary_key_to_endpoint_json (key);
  g_assert_cmpstr (json, ==,
                   "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":"
                   "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"private\":null}}");
  g_assert_cmpuint (strlen (json), ==, 103); /* client-usage.md §4 */

  /* The same key through the JSON constructor has the same ID. */
  g_autoptr (NotaryKey) again = key_from_json_text (json, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (again), ==, notary_key_get_id (key));
}

static void
test_key_id_escaping (void)
{
  /* Unknown key types are kept; the canonical form escapes only '"' and '\'. */
  g_autoptr (GBytes) b = bytes_from_string ("xyz");
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = notary_key_new ("we\"ird\\type/<é>", b, &error);
  g_assert_no_error (error);
  const char *canon
      = "{\"keytype\":\"we\\\"ird\\\\type/<é>\",\"keyval\":{\"private\":null,\"public\":\"eHl6\"}}";
  g_autofree char *want = g_compute_checksum_for_string (G_CHECKSUM_SHA256, canon, -1);
  g_assert_cmpstr (notary_key_get_id (key), ==, want);

  /* Opaque keys cannot verify. */
  g_autoptr (GBytes) msg = bytes_from_string ("m");
  g_assert_false (notary_key_verify (key, "eddsa", msg, b, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);

  /* The endpoint JSON uses Go's HTML-safe escaping. */
  g_autofree char *json = notary_key_to_endpoint_json (key);
  g_assert_cmpstr (json, ==,
                   "{\"keytype\":\"we\\\"ird\\\\type/\\u003cé\\u003e\",\"keyval\":{\"public\":\"eHl6\","
                   "\"private\":null}}");
}

static void
test_key_from_json (void)
{
  const char *pub = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  g_autoptr (GError) error = NULL;

  g_autofree char *ok
      = g_strdup_printf ("{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null,\"public\":\"%s\"}}", pub);
  g_autoptr (NotaryKey) k1 = key_from_json_text (ok, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (k1), ==,
                   "bf416ca3d4d6da197ee588c688e0ec920f4a582009215a8d90c8b48a2b058e12");

  /* Absent private and extra members are tolerated and do not change the ID. */
  g_autofree char *absent
      = g_strdup_printf ("{\"keyval\":{\"public\":\"%s\",\"x\":1},\"keytype\":\"ed25519\",\"y\":2}", pub);
  g_autoptr (NotaryKey) k2 = key_from_json_text (absent, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (k2), ==, notary_key_get_id (k1));

  const char *bad[] = {
    "[]",
    "{\"keyval\":{\"private\":null,\"public\":\"AAAA\"}}",               /* no keytype */
    "{\"keytype\":5,\"keyval\":{\"private\":null,\"public\":\"AAAA\"}}", /* keytype not a string */
    "{\"keytype\":\"ed25519\"}",                                         /* no keyval */
    "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null}}",           /* no public */
    "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":\"AAAA\",\"public\":"
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}",
    "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":{},\"public\":"
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}",
    "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null,\"public\":\"AAECAwQF!"
    "BgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}",
    "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null,\"public\":"
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}}",
    "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null,\"public\":"
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"}}",                                 /* 31 bytes */
    "{\"keytype\":\"opaque\",\"keyval\":{\"private\":null,\"public\":\"AAE\"}}",          /* unpadded */
    "{\"keytype\":\"opaque\",\"keyval\":{\"private\":null,\"public\":\"AA=A\"}}",         /* bad padding */
    "{\"keytype\":\"opaque\",\"keyval\":{\"private\":null,\"public\":\"A===\"}}",         /* bad padding */
    "{\"keytype\":\"ecdsa\",\"keyval\":{\"private\":null,\"public\":\"AAECAwQF\"}}",      /* not DER */
    "{\"keytype\":\"ecdsa-x509\",\"keyval\":{\"private\":null,\"public\":\"AAECAwQF\"}}", /* not PEM */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (NotaryKey) k = key_from_json_text (bad[i], &local);
      g_assert_null (k);
      g_assert_error (local, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
    }
}

/* A key object whose "public" is "" decodes to an empty GBytes, whose data
 * pointer is NULL: refused for every known type before any parser sees
 * it (fuzz/fuzz-key found the x509 parser doing arithmetic on it); an
 * opaque type is kept as it is. */
static void
test_key_empty_public (void)
{
  static const char *const known[] = { "ed25519", "ecdsa", "rsa", "ecdsa-x509", "rsa-x509" };
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (NotaryKey) k = notary_key_new (known[i], empty, &error);
      g_assert_null (k);
      g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) opaque = notary_key_new ("some-future-type", empty, &error);
  g_assert_no_error (error);
  g_assert_nonnull (opaque);
}

static void
test_key_type_mismatch (void)
{
  g_autoptr (GError) error = NULL;
  /* An RSA SPKI declared as "ecdsa" and vice versa. */
  g_autoptr (GBytes) rsa = load_vector ("openssl/rsa2048-spki.der");
  g_autoptr (GBytes) ec = load_vector ("openssl/p384-spki.der");
  g_autoptr (NotaryKey) k1 = notary_key_new ("ecdsa", rsa, &error);
  g_assert_null (k1);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (NotaryKey) k2 = notary_key_new ("rsa", ec, &error);
  g_assert_null (k2);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
  g_clear_error (&error);

  /* x509 key types must match the certificate's algorithm. */
  g_autoptr (GBytes) rsa_pem = load_vector ("certs/leaf-rsa2048.pem");
  g_autoptr (GBytes) ec_pem = load_vector ("certs/leaf-good.pem");
  g_autoptr (NotaryKey) k3 = notary_key_new ("ecdsa-x509", rsa_pem, &error);
  g_assert_null (k3);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (NotaryKey) k4 = notary_key_new ("rsa-x509", ec_pem, &error);
  g_assert_null (k4);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
  g_clear_error (&error);

  /* Like Go's verifier, the first PEM block must be the certificate. */
  g_autoptr (GBytes) pubkey_first = load_vector ("certs/chain-with-pubkey.pem");
  gsize plen = 0;
  const char *ptext = g_bytes_get_data (pubkey_first, &plen);
  const char *second = g_strstr_len (ptext, plen, "-----BEGIN PUBLIC KEY-----");
  g_assert_nonnull (second);
  g_autoptr (GString) swapped = g_string_new_len (second, plen - (gsize)(second - ptext));
  g_string_append_len (swapped, ptext, second - ptext);
  g_autoptr (GBytes) swapped_bytes = g_bytes_new (swapped->str, swapped->len);
  g_autoptr (NotaryKey) k6 = notary_key_new ("ecdsa-x509", swapped_bytes, &error);
  g_assert_null (k6);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
  g_clear_error (&error);

  /* An ed25519 key that is not 32 bytes. */
  g_autoptr (NotaryKey) k5 = notary_key_new ("ed25519", rsa, &error);
  g_assert_null (k5);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
}

/* ---- sign / verify ------------------------------------------------------ */

static void
check_round_trip (const char *algorithm, const char *method, gsize sig_len, const char *wrong_method)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate (algorithm, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_private_key_get_algorithm (priv), ==, algorithm);
  g_assert_cmpstr (notary_private_key_get_method (priv), ==, method);

  NotaryKey *pub = notary_private_key_get_public (priv);
  g_assert_cmpstr (notary_key_get_keytype (pub), ==, algorithm);
  g_assert_cmpuint (strlen (notary_key_get_id (pub)), ==, 64);

  g_autoptr (GBytes) msg = bytes_from_string ("{\"_type\":\"Timestamp\",\"version\":1}");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, sig_len);

  g_assert_true (notary_key_verify (pub, method, msg, sig, &error));
  g_assert_no_error (error);

  /* An independent key built from the public bytes verifies too. */
  g_autoptr (NotaryKey) copy = notary_key_new (algorithm, notary_key_get_public (pub), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (copy), ==, notary_key_get_id (pub));
  g_assert_true (notary_key_verify (copy, method, msg, sig, &error));
  g_assert_no_error (error);

  /* Tampered message or signature. */
  g_autoptr (GBytes) bad_msg = bytes_flip (msg, 3);
  g_assert_false (notary_key_verify (pub, method, bad_msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  for (gsize i = 0; i < sig_len; i += sig_len / 4)
    {
      g_autoptr (GBytes) bad_sig = bytes_flip (sig, i);
      g_assert_false (notary_key_verify (pub, method, msg, bad_sig, &error));
      g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
      g_clear_error (&error);
    }

  /* The key type chooses the verifier: an incompatible method is refused. */
  g_assert_false (notary_key_verify (pub, wrong_method, msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_false (notary_key_verify (pub, "nonsense", msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  /* A different key of the same type does not verify. */
  g_autoptr (NotaryPrivateKey) other = notary_private_key_generate (algorithm, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (notary_private_key_get_public (other)), !=, notary_key_get_id (pub));
  g_assert_false (notary_key_verify (notary_private_key_get_public (other), method, msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* PKCS#8 round trip keeps the key. */
  g_autoptr (GBytes) der = notary_private_key_export_pkcs8 (priv, &error);
  g_assert_no_error (error);
  g_autoptr (NotaryPrivateKey) back = notary_private_key_new_from_pkcs8 (der, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_private_key_get_algorithm (back), ==, algorithm);
  g_assert_cmpstr (notary_key_get_id (notary_private_key_get_public (back)), ==, notary_key_get_id (pub));
  g_autoptr (GBytes) sig2 = notary_private_key_sign (back, msg, &error);
  g_assert_no_error (error);
  g_assert_true (notary_key_verify (pub, method, msg, sig2, &error));
  g_assert_no_error (error);
}

static void
test_round_trip_ed25519 (void)
{
  check_round_trip ("ed25519", "eddsa", 64, "ecdsa");
}

static void
test_round_trip_ecdsa (void)
{
  check_round_trip ("ecdsa", "ecdsa", 64, "rsapss");
}

static void
test_round_trip_rsa (void)
{
  check_round_trip ("rsa", "rsapss", 256, "eddsa");
}

static void
test_ed25519_public_bytes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ed25519", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (notary_key_get_public (notary_private_key_get_public (priv))), ==, 32);

  g_autoptr (NotaryPrivateKey) ec = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);
  /* P-256 DER SPKI as Go writes it (tuf-metadata.md §3.1). */
  g_assert_cmpuint (g_bytes_get_size (notary_key_get_public (notary_private_key_get_public (ec))), ==, 91);

  g_autoptr (NotaryPrivateKey) none = notary_private_key_generate ("dsa", &error);
  g_assert_null (none);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
}

static void
test_ecdsa_signature_length (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);
  NotaryKey *pub = notary_private_key_get_public (priv);
  g_autoptr (GBytes) msg = bytes_from_string ("hello");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_assert_no_error (error);
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (sig, &len);
  g_assert_cmpuint (len, ==, 64);

  /* One byte short, one byte long, and the signature wrapped as DER. */
  g_autoptr (GBytes) shorter = g_bytes_new (p, 63);
  g_assert_false (notary_key_verify (pub, "ecdsa", msg, shorter, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  guint8 longer_buf[65] = { 0 };
  memcpy (longer_buf + 1, p, 64);
  g_autoptr (GBytes) longer = g_bytes_new (longer_buf, sizeof longer_buf);
  g_assert_false (notary_key_verify (pub, "ecdsa", msg, longer, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* A valid signature with a trailing byte must not be accepted either. */
  memcpy (longer_buf, p, 64);
  longer_buf[64] = 0;
  g_autoptr (GBytes) trailing = g_bytes_new (longer_buf, sizeof longer_buf);
  g_assert_false (notary_key_verify (pub, "ecdsa", msg, trailing, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  gnutls_datum_t r = { (unsigned char *)p, 32 }, s = { (unsigned char *)p + 32, 32 };
  gnutls_datum_t der = { NULL, 0 };
  g_assert_cmpint (gnutls_encode_rs_value (&der, &r, &s), ==, 0);
  g_autoptr (GBytes) der_sig = g_bytes_new (der.data, der.size);
  gnutls_free (der.data);
  g_assert_false (notary_key_verify (pub, "ecdsa", msg, der_sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* All-zero r and s must fail cleanly. */
  guint8 zeros[64] = { 0 };
  g_autoptr (GBytes) zero_sig = g_bytes_new (zeros, sizeof zeros);
  g_assert_false (notary_key_verify (pub, "ecdsa", msg, zero_sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
}

/* Many signatures so that r or s with leading zero bytes occur (1 in 128
 * per component); the raw encoding must keep the fixed length. */
static void
test_ecdsa_leading_zeros (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);
  NotaryKey *pub = notary_private_key_get_public (priv);
  guint zero_led = 0;
  for (guint i = 0; i < 600; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autoptr (GBytes) msg = bytes_from_string (text);
      g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
      g_assert_no_error (error);
      const guint8 *p = g_bytes_get_data (sig, NULL);
      g_assert_cmpuint (g_bytes_get_size (sig), ==, 64);
      if (p[0] == 0 || p[32] == 0)
        zero_led++;
      g_assert_true (notary_key_verify (pub, "ecdsa", msg, sig, &error));
      g_assert_no_error (error);
    }
  g_test_message ("%u of 600 signatures had a leading zero byte", zero_led);
}

/* ---- independent vectors ------------------------------------------------ */

static void
test_openssl_rsa (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = load_vector ("openssl/msg.bin");
  g_autoptr (GBytes) spki = load_vector ("openssl/rsa2048-spki.der");
  g_autoptr (GBytes) pss = load_vector ("openssl/rsa2048-pss.sig");
  g_autoptr (GBytes) pkcs1 = load_vector ("openssl/rsa2048-pkcs1.sig");
  g_autoptr (GBytes) salt20 = load_vector ("openssl/rsa2048-pss-salt20.sig");
  g_autoptr (NotaryKey) key = notary_key_new ("rsa", spki, &error);
  g_assert_no_error (error);

  g_assert_true (notary_key_verify (key, "rsapss", msg, pss, &error));
  g_assert_no_error (error);
  g_assert_true (notary_key_verify (key, "rsapkcs1v15", msg, pkcs1, &error));
  g_assert_no_error (error);

  /* Each padding is checked as the method says, not guessed. */
  g_assert_false (notary_key_verify (key, "rsapss", msg, pkcs1, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  g_assert_false (notary_key_verify (key, "rsapkcs1v15", msg, pss, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  /* Salt length must be 32. */
  g_assert_false (notary_key_verify (key, "rsapss", msg, salt20, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  /* Wrong methods for an RSA key. */
  g_assert_false (notary_key_verify (key, "ecdsa", msg, pss, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  /* Truncated signature. */
  g_autoptr (GBytes) shorter = g_bytes_new (g_bytes_get_data (pss, NULL), 255);
  g_assert_false (notary_key_verify (key, "rsapss", msg, shorter, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
}

static void
test_rsa_1024_rejected (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = load_vector ("openssl/msg.bin");
  g_autoptr (GBytes) spki = load_vector ("openssl/rsa1024-spki.der");
  g_autoptr (GBytes) sig = load_vector ("openssl/rsa1024-pss.sig");
  g_autoptr (NotaryKey) key = notary_key_new ("rsa", spki, &error);
  g_assert_no_error (error);
  /* The signature itself is fine (OpenSSL made it); the key is too small. */
  g_assert_false (notary_key_verify (key, "rsapss", msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_false (notary_key_verify (key, "rsapkcs1v15", msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
}

static void
test_openssl_p384 (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = load_vector ("openssl/msg.bin");
  g_autoptr (GBytes) spki = load_vector ("openssl/p384-spki.der");
  g_autoptr (GBytes) sig = load_vector ("openssl/p384.sig");
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 96);
  g_autoptr (NotaryKey) key = notary_key_new ("ecdsa", spki, &error);
  g_assert_no_error (error);
  g_assert_true (notary_key_verify (key, "ecdsa", msg, sig, &error));
  g_assert_no_error (error);

  g_autoptr (GBytes) p256_len = g_bytes_new (g_bytes_get_data (sig, NULL), 64);
  g_assert_false (notary_key_verify (key, "ecdsa", msg, p256_len, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  g_autoptr (GBytes) bad = bytes_flip (sig, 50);
  g_assert_false (notary_key_verify (key, "ecdsa", msg, bad, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
}

/* Keys on each NIST curve, as SPKI ("ecdsa") and in a self-signed
 * certificate ("ecdsa-x509"): the SPKI forms notary-keys.c recognises and
 * writes without GnuTLS must be the bytes GnuTLS's encoder writes (the
 * canonical key ID of a certificate key is computed over them), and the
 * keys must verify.  GnuTLS makes the keys and the certificate; the
 * private key's public half is GnuTLS's SPKI (private_key_wrap). */
static void
check_ec_curve (gnutls_ecc_curve_t curve, gsize half, const char *gun)
{
  g_autoptr (GError) error = NULL;
  gnutls_x509_privkey_t x509 = NULL;
  gnutls_x509_crt_t crt = NULL;
  g_assert_cmpint (gnutls_x509_privkey_init (&x509), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (x509, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (curve), 0), ==, 0);
  gnutls_datum_t pkcs8_d = { NULL, 0 };
  g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &pkcs8_d),
                   ==, 0);
  g_autoptr (GBytes) pkcs8 = g_bytes_new (pkcs8_d.data, pkcs8_d.size);
  gnutls_free (pkcs8_d.data);
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_new_from_pkcs8 (pkcs8, &error);
  g_assert_no_error (error);

  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_version (crt, 3), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_serial (crt, "\x01", 1), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, gun, strlen (gun)), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (crt, (time_t)CERT_NOW - 3600), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (crt, (time_t)CERT_NOW + 3600), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (crt, x509), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_sign2 (crt, crt, x509, GNUTLS_DIG_SHA256, 0), ==, 0);
  gnutls_datum_t pem_d = { NULL, 0 };
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &pem_d), ==, 0);
  g_autoptr (GBytes) pem = g_bytes_new (pem_d.data, pem_d.size);
  gnutls_free (pem_d.data);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (x509);

  g_autoptr (GBytes) msg = bytes_from_string ("{\"signed\":{\"curve\":1}}");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 2 * half);

  g_autoptr (NotaryKey) ec = notary_key_new ("ecdsa", notary_key_get_public (notary_private_key_get_public (priv)),
                                             &error);
  g_assert_no_error (error);
  g_assert_true (notary_key_verify (ec, "ecdsa", msg, sig, &error));
  g_assert_no_error (error);
  g_autoptr (NotaryKey) cert = notary_key_new ("ecdsa-x509", pem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_canonical_id (cert), ==, notary_key_get_id (ec));
  g_assert_true (notary_key_verify (cert, "ecdsa", msg, sig, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) bad = bytes_flip (sig, half + 3);
  g_assert_false (notary_key_verify (cert, "ecdsa", msg, bad, NULL));
  g_autoptr (NotaryKey) checked = notary_key_check_root_certificate (cert, gun, CERT_NOW, TRUE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (checked);
  g_autofree char *other = g_strconcat (gun, "x", NULL);
  g_assert_null (notary_key_check_root_certificate (cert, other, CERT_NOW, TRUE, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE);
  g_clear_error (&error);
}

static void
test_ecdsa_curves (void)
{
  check_ec_curve (GNUTLS_ECC_CURVE_SECP256R1, 32, CERT_GUN);
  check_ec_curve (GNUTLS_ECC_CURVE_SECP384R1, 48, CERT_GUN);
  check_ec_curve (GNUTLS_ECC_CURVE_SECP521R1, 66, CERT_GUN);
  /* a CN longer than the buffer the CN is first read into */
  g_autoptr (GString) long_gun = g_string_new ("example.com/");
  while (long_gun->len < 250)
    g_string_append (long_gun, "long-name/");
  check_ec_curve (GNUTLS_ECC_CURVE_SECP256R1, 32, long_gun->str);
}

/* A point off the curve is accepted when the key is read (GnuTLS's import
 * does not check it either; Go only looks at key material to verify) and
 * never verifies anything. */
static void
test_ecdsa_off_curve (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);
  GBytes *spki = notary_key_get_public (notary_private_key_get_public (priv));
  g_assert_cmpuint (g_bytes_get_size (spki), ==, 91);
  g_autoptr (GBytes) msg = bytes_from_string ("{\"signed\":3}");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) off = bytes_flip (spki, 90);
  g_autoptr (NotaryKey) key = notary_key_new ("ecdsa", off, &error);
  g_assert_no_error (error);
  g_assert_false (notary_key_verify (key, "ecdsa", msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* Nor does the right X and Y behind a first byte other than 0x04 (Go's
   * elliptic.Unmarshal refuses it; GnuTLS alone would verify with it). */
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (spki, &len);
  g_autofree guint8 *prefixed = g_memdup2 (p, len);
  g_assert_cmpuint (prefixed[26], ==, 0x04);
  prefixed[26] = 0x02;
  g_autoptr (GBytes) pbytes = g_bytes_new (prefixed, len);
  g_autoptr (NotaryKey) pkey = notary_key_new ("ecdsa", pbytes, &error);
  g_assert_no_error (error);
  g_assert_false (notary_key_verify (pkey, "ecdsa", msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
}

/* P-384 private key imported from PKCS#8 signs 96-byte raw signatures. */
static void
test_pkcs8_p384 (void)
{
  gnutls_x509_privkey_t x = NULL;
  gnutls_datum_t der = { NULL, 0 };
  g_assert_cmpint (gnutls_x509_privkey_init (&x), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate2 (
                       x, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP384R1), 0, NULL, 0),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (x, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &der),
                   ==, 0);
  gnutls_x509_privkey_deinit (x);
  g_autoptr (GBytes) b = g_bytes_new (der.data, der.size);
  gnutls_free (der.data);

  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_new_from_pkcs8 (b, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_private_key_get_algorithm (priv), ==, "ecdsa");
  g_autoptr (GBytes) msg = bytes_from_string ("p384");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 96);
  g_assert_true (notary_key_verify (notary_private_key_get_public (priv), "ecdsa", msg, sig, &error));
  g_assert_no_error (error);
}

static void
test_pkcs8_invalid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) junk = bytes_from_string ("not a key");
  g_autoptr (NotaryPrivateKey) k = notary_private_key_new_from_pkcs8 (junk, &error);
  g_assert_null (k);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
}

/* notary's own Ed25519 PKCS#8 (OID 1.3.6.1.4.1.11591.15.1, 96-byte body)
 * with the RFC 8032 §7.1 TEST 1 key; Ed25519 is deterministic so the
 * signature of the empty message is known. */
static void
test_pkcs8_notary_ed25519 (void)
{
  g_autoptr (GBytes) der
      = bytes_from_hex ("3072020100300b06092b06010401da470f010460"
                        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
                        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
                        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  g_autoptr (GBytes) want_pub
      = bytes_from_hex ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  g_autoptr (GBytes) want_sig
      = bytes_from_hex ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
                        "39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_new_from_pkcs8 (der, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_private_key_get_algorithm (priv), ==, "ed25519");
  g_assert_true (g_bytes_equal (notary_key_get_public (notary_private_key_get_public (priv)), want_pub));
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, empty, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (sig, want_sig));

  /* The public key inside must be consistent with the seed. */
  g_autoptr (GBytes) tampered = bytes_flip (der, 20 + 31);
  g_autoptr (NotaryPrivateKey) bad = notary_private_key_new_from_pkcs8 (tampered, &error);
  g_assert_null (bad);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
}

/* ---- Go reference vectors ----------------------------------------------- */

typedef struct
{
  JsonNode *root;
  JsonObject *keys;
} GoFixture;

static void
go_fixture_setup (GoFixture *fx, gconstpointer data)
{
  g_autoptr (GBytes) text = load_vector ("go/root.json");
  g_autoptr (GError) error = NULL;
  fx->root = json_from_string (g_bytes_get_data (text, NULL), &error);
  g_assert_no_error (error);
  JsonObject *signed_obj = json_object_get_object_member (json_node_get_object (fx->root), "signed");
  fx->keys = json_object_get_object_member (signed_obj, "keys");
}

static void
go_fixture_teardown (GoFixture *fx, gconstpointer data)
{
  json_node_unref (fx->root);
}

static NotaryKey *
go_key (GoFixture *fx, const char *keyid)
{
  JsonNode *node = json_object_get_member (fx->keys, keyid);
  g_assert_nonnull (node);
  g_autoptr (GError) error = NULL;
  NotaryKey *key = notary_key_new_from_json (node, &error);
  g_assert_no_error (error);
  /* The map key is the TUF key ID. */
  g_assert_cmpstr (notary_key_get_id (key), ==, keyid);
  return key;
}

static const char *
go_role_keyid (GoFixture *fx, const char *role)
{
  JsonObject *signed_obj = json_object_get_object_member (json_node_get_object (fx->root), "signed");
  JsonObject *roles = json_object_get_object_member (signed_obj, "roles");
  JsonArray *ids = json_object_get_array_member (json_object_get_object_member (roles, role), "keyids");
  g_assert_cmpuint (json_array_get_length (ids), ==, 1);
  return json_array_get_string_element (ids, 0);
}

static void
test_go_signatures (GoFixture *fx, gconstpointer data)
{
  const char *roles[] = { "root", "targets", "snapshot", "timestamp" };
  const char *want_types[] = { "ecdsa-x509", "ecdsa", "ecdsa", "ed25519" };
  for (gsize r = 0; r < G_N_ELEMENTS (roles); r++)
    {
      g_autofree char *json_name = g_strdup_printf ("go/%s.json", roles[r]);
      g_autofree char *signed_name = g_strdup_printf ("go/%s.signed", roles[r]);
      g_autoptr (GBytes) file = load_vector (json_name);
      g_autoptr (GBytes) signed_bytes = load_vector (signed_name);
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) env = json_from_string (g_bytes_get_data (file, NULL), &error);
      g_assert_no_error (error);
      JsonArray *sigs = json_object_get_array_member (json_node_get_object (env), "signatures");
      g_assert_cmpuint (json_array_get_length (sigs), ==, 1);
      JsonObject *sig = json_array_get_object_element (sigs, 0);
      const char *keyid = json_object_get_string_member (sig, "keyid");
      const char *method = json_object_get_string_member (sig, "method");
      g_assert_cmpstr (keyid, ==, go_role_keyid (fx, roles[r]));

      g_autoptr (NotaryKey) key = go_key (fx, keyid);
      g_assert_cmpstr (notary_key_get_keytype (key), ==, want_types[r]);
      gsize sig_len = 0;
      guchar *raw = g_base64_decode (json_object_get_string_member (sig, "sig"), &sig_len);
      g_autoptr (GBytes) sig_bytes = g_bytes_new_take (raw, sig_len);

      g_assert_true (notary_key_verify (key, method, signed_bytes, sig_bytes, &error));
      g_assert_no_error (error);

      g_autoptr (GBytes) tampered = bytes_flip (signed_bytes, g_bytes_get_size (signed_bytes) / 2);
      g_assert_false (notary_key_verify (key, method, tampered, sig_bytes, &error));
      g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
    }
}

static void
test_go_root_certificate (GoFixture *fx, gconstpointer data)
{
  g_autoptr (NotaryKey) key = go_key (fx, go_role_keyid (fx, "root"));
  g_assert_true (notary_key_is_x509 (key));

  /* The client stores the root private key under the canonical ID. */
  g_autoptr (GBytes) canonical = load_vector ("go/root-canonical-id");
  g_autofree char *want = g_strndup (g_bytes_get_data (canonical, NULL), g_bytes_get_size (canonical));
  g_assert_cmpstr (notary_key_get_canonical_id (key), ==, want);
  g_assert_cmpstr (notary_key_get_canonical_id (key), !=, notary_key_get_id (key));

  /* Go-formatted PEM: the rebuilt key is byte-identical, so same ID. */
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr (NotaryKey) rebuilt = notary_key_check_root_certificate (key, GO_GUN, now, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_keytype (rebuilt), ==, "ecdsa-x509");
  g_assert_cmpstr (notary_key_get_id (rebuilt), ==, notary_key_get_id (key));
  g_assert_true (g_bytes_equal (notary_key_get_public (rebuilt), notary_key_get_public (key)));

  g_autoptr (NotaryKey) wrong
      = notary_key_check_root_certificate (key, "example.com/other", now, TRUE, &error);
  g_assert_null (wrong);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE);
}

/* The targets private key as notary stores it (PKCS#8 with version 1). */
static void
test_go_private_key (GoFixture *fx, gconstpointer data)
{
  g_autoptr (GBytes) der = load_vector ("go/targets-key.pkcs8.der");
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_new_from_pkcs8 (der, &error);
  g_assert_no_error (error);
  NotaryKey *pub = notary_private_key_get_public (priv);
  g_assert_cmpstr (notary_key_get_id (pub), ==, go_role_keyid (fx, "targets"));

  g_autoptr (NotaryKey) trusted = go_key (fx, go_role_keyid (fx, "targets"));
  g_autoptr (GBytes) msg = load_vector ("go/targets.signed");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_assert_no_error (error);
  g_assert_true (notary_key_verify (trusted, "ecdsa", msg, sig, &error));
  g_assert_no_error (error);
}

/* ECDSA verification goes through libcrypto (notary-ecdsa.c): out-of-range
 * r or s, a flipped bit anywhere, another key's signature and another
 * message must all fail cleanly, from keys used by many threads at once. */
static void
test_ecdsa_rejects (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ecdsa", &error);
  g_autoptr (NotaryPrivateKey) other = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);
  NotaryKey *pub = notary_private_key_get_public (priv);
  g_autoptr (GBytes) msg = bytes_from_string ("{\"signed\":1}");
  g_autoptr (GBytes) sig = notary_private_key_sign (priv, msg, &error);
  g_autoptr (GBytes) other_sig = notary_private_key_sign (other, msg, &error);
  g_assert_no_error (error);

  g_assert_true (notary_key_verify (pub, "ecdsa", msg, sig, &error));
  g_assert_no_error (error);
  g_assert_false (notary_key_verify (pub, "ecdsa", msg, other_sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  g_autoptr (GBytes) msg2 = bytes_from_string ("{\"signed\":2}");
  g_assert_false (notary_key_verify (pub, "ecdsa", msg2, sig, NULL));

  for (guint bit = 0; bit < 512; bit += 37)
    {
      g_autofree guint8 *b = g_memdup2 (g_bytes_get_data (sig, NULL), 64);
      b[bit / 8] ^= (guint8)(1u << (bit % 8));
      g_autoptr (GBytes) flipped = g_bytes_new (b, 64);
      g_assert_false (notary_key_verify (pub, "ecdsa", msg, flipped, NULL));
    }

  /* r or s = 0, = n (the P-256 group order) and all ones: out of range. */
  static const guint8 order[32] = { 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                    0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51 };
  const guint8 *good = g_bytes_get_data (sig, NULL);
  for (guint half = 0; half < 2; half++)
    for (guint variant = 0; variant < 3; variant++)
      {
        guint8 b[64];
        memcpy (b, good, 64);
        if (variant == 0)
          memset (b + 32 * half, 0, 32);
        else if (variant == 1)
          memcpy (b + 32 * half, order, 32);
        else
          memset (b + 32 * half, 0xff, 32);
        g_autoptr (GBytes) bad = g_bytes_new (b, 64);
        g_assert_false (notary_key_verify (pub, "ecdsa", msg, bad, &error));
        g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
        g_clear_error (&error);
      }
  /* The key still verifies after all that (its cached libcrypto form). */
  g_assert_true (notary_key_verify (pub, "ecdsa", msg, sig, NULL));
}

/* ---- root certificate checks -------------------------------------------- */

static NotaryKey *
cert_key (const char *file, const char *keytype)
{
  g_autofree char *rel = g_strdup_printf ("certs/%s", file);
  g_autoptr (GBytes) pem = load_vector (rel);
  g_autoptr (GError) error = NULL;
  NotaryKey *key = notary_key_new (keytype, pem, &error);
  g_assert_no_error (error);
  return key;
}

static void
expect_cert_ok (const char *file, const char *keytype, const char *gun, gboolean check_expiry)
{
  g_autoptr (NotaryKey) key = cert_key (file, keytype);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) rebuilt
      = notary_key_check_root_certificate (key, gun, CERT_NOW, check_expiry, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rebuilt);
  g_assert_cmpstr (notary_key_get_keytype (rebuilt), ==, keytype);
  /* certtool writes 64-column PEM like Go, so nothing changes. */
  g_assert_cmpstr (notary_key_get_id (rebuilt), ==, notary_key_get_id (key));
}

static void
expect_cert_fail (const char *file, const char *keytype, const char *gun, gboolean check_expiry)
{
  g_autoptr (NotaryKey) key = cert_key (file, keytype);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) rebuilt
      = notary_key_check_root_certificate (key, gun, CERT_NOW, check_expiry, &error);
  g_assert_null (rebuilt);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE);
  g_test_message ("%s: %s", file, error->message);
  if (strstr (file, "pubkey") != NULL)
    g_assert_nonnull (strstr (error->message, "invalid pem block type: PUBLIC KEY"));
}

static void
test_cert_good (void)
{
  expect_cert_ok ("leaf-good.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_ok ("leaf-good.pem", "ecdsa-x509", CERT_GUN, FALSE);
  expect_cert_ok ("leaf-rsa2048.pem", "rsa-x509", CERT_GUN, TRUE);
  expect_cert_ok ("chain-good.pem", "ecdsa-x509", CERT_GUN, TRUE);
}

static void
test_cert_cn (void)
{
  expect_cert_fail ("leaf-good.pem", "ecdsa-x509", "example.com/keys-test2", TRUE);
  expect_cert_fail ("leaf-good.pem", "ecdsa-x509", "example.com/keys-tes", TRUE);
  expect_cert_fail ("leaf-other-cn.pem", "ecdsa-x509", CERT_GUN, TRUE);
  /* A CN of "example.com/" plus a trailing star matches every GUN with that prefix. */
  expect_cert_ok ("leaf-wildcard.pem", "ecdsa-x509", "example.com/anything", TRUE);
  expect_cert_ok ("leaf-wildcard.pem", "ecdsa-x509", "example.com/", TRUE);
  expect_cert_fail ("leaf-wildcard.pem", "ecdsa-x509", "example.org/x", TRUE);
  expect_cert_fail ("leaf-wildcard.pem", "ecdsa-x509", "example.com", TRUE);
}

static void
test_cert_validity (void)
{
  expect_cert_fail ("leaf-expired.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_ok ("leaf-expired.pem", "ecdsa-x509", CERT_GUN, FALSE);
  /* NotBefore 48 h ahead: beyond the 24 h leeway. */
  expect_cert_fail ("leaf-future.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_ok ("leaf-future.pem", "ecdsa-x509", CERT_GUN, FALSE);
  /* NotBefore 12 h ahead: within the leeway. */
  expect_cert_ok ("leaf-soon.pem", "ecdsa-x509", CERT_GUN, TRUE);

  /* Boundaries around leaf-future's NotBefore (2025-06-03T00:00:00Z). */
  g_autoptr (NotaryKey) key = cert_key ("leaf-future.pem", "ecdsa-x509");
  gint64 not_before = CERT_NOW + 2 * 86400;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) at_edge
      = notary_key_check_root_certificate (key, CERT_GUN, not_before - 86400, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NotaryKey) past_edge
      = notary_key_check_root_certificate (key, CERT_GUN, not_before - 86401, TRUE, &error);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE);
  g_assert_null (past_edge);
}

/* A root found valid stays so until its earliest certificate NotAfter
 * (notary-repo caches trusted roots until then). */
static void
test_cert_not_after (void)
{
  g_autoptr (NotaryKey) good = cert_key ("leaf-good.pem", "ecdsa-x509");
  g_autoptr (NotaryKey) expired = cert_key ("leaf-expired.pem", "ecdsa-x509");
  g_autoptr (NotaryKey) chain = cert_key ("chain-good.pem", "ecdsa-x509");
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);

  g_assert_cmpint (notary_key_get_not_after (good), ==, G_GINT64_CONSTANT (4102444799)); /* 2099-12-31T23:59:59Z */
  g_assert_cmpint (notary_key_get_not_after (expired), ==, G_GINT64_CONSTANT (1262304000)); /* 2010-01-01 */
  g_assert_cmpint (notary_key_get_not_after (chain), ==, G_GINT64_CONSTANT (4102444799));
  g_assert_cmpint (notary_key_get_not_after (notary_private_key_get_public (priv)), ==, G_MAXINT64);
}

static void
test_cert_structure (void)
{
  /* A lone CA certificate: no leaf at all. */
  expect_cert_fail ("ca.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_fail ("chain-leaf-not-first.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_fail ("chain-two-leaves.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_fail ("chain-with-pubkey.pem", "ecdsa-x509", CERT_GUN, TRUE);

  /* A CA whose CN is the GUN, ahead of a valid leaf: still "leaf not first". */
  g_autoptr (GBytes) ca = load_vector ("certs/ca.pem");
  g_autoptr (GBytes) leaf = load_vector ("certs/leaf-good.pem");
  g_autoptr (GByteArray) both = g_byte_array_new ();
  g_byte_array_append (both, g_bytes_get_data (ca, NULL), g_bytes_get_size (ca));
  g_byte_array_append (both, g_bytes_get_data (leaf, NULL), g_bytes_get_size (leaf));
  g_autoptr (GBytes) pem = g_bytes_new (both->data, both->len);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = notary_key_new ("ecdsa-x509", pem, &error);
  g_assert_no_error (error);
  g_autoptr (NotaryKey) rebuilt = notary_key_check_root_certificate (key, CERT_GUN, CERT_NOW, TRUE, &error);
  g_assert_null (rebuilt);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE);
}

static void
test_cert_algorithms (void)
{
  expect_cert_fail ("leaf-sha1.pem", "ecdsa-x509", CERT_GUN, TRUE);
  expect_cert_fail ("leaf-sha1.pem", "ecdsa-x509", CERT_GUN, FALSE);
  expect_cert_fail ("leaf-rsa1024.pem", "rsa-x509", CERT_GUN, TRUE);
  expect_cert_fail ("leaf-rsa1024.pem", "rsa-x509", CERT_GUN, FALSE);
}

static void
test_cert_intermediates (void)
{
  /* An expired intermediate is dropped from the rebuilt chain. */
  g_autoptr (NotaryKey) key = cert_key ("chain-expired-int.pem", "ecdsa-x509");
  g_autoptr (GBytes) leaf_only = load_vector ("certs/chain-expired-int-leaf.pem");
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) rebuilt = notary_key_check_root_certificate (key, CERT_GUN, CERT_NOW, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (notary_key_get_public (rebuilt), leaf_only));
  g_assert_cmpstr (notary_key_get_id (rebuilt), !=, notary_key_get_id (key));

  /* A valid intermediate is kept. */
  g_autoptr (NotaryKey) good = cert_key ("chain-good.pem", "ecdsa-x509");
  g_autoptr (NotaryKey) rebuilt_good
      = notary_key_check_root_certificate (good, CERT_GUN, CERT_NOW, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (notary_key_get_public (rebuilt_good), notary_key_get_public (good)));
}

/* PEM not in Go's layout (76 columns, CRLF, text around it) still parses;
 * the rebuilt key is Go-formatted, so its ID changes. */
static void
test_cert_reformatted (void)
{
  g_autoptr (GBytes) go_pem = load_vector ("certs/leaf-good.pem");
  g_autofree char *text = g_strndup (g_bytes_get_data (go_pem, NULL), g_bytes_get_size (go_pem));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GString) b64 = g_string_new (NULL);
  for (guint i = 1; lines[i] != NULL && !g_str_has_prefix (lines[i], "-----END"); i++)
    g_string_append (b64, lines[i]);
  g_autoptr (GString) odd = g_string_new ("Some leading text\r\n-----BEGIN CERTIFICATE-----\r\n");
  for (gsize i = 0; i < b64->len; i += 76)
    {
      g_string_append_len (odd, b64->str + i, MIN ((gsize)76, b64->len - i));
      g_string_append (odd, "\r\n");
    }
  g_string_append (odd, "-----END CERTIFICATE-----\r\ntrailer\r\n");
  g_autoptr (GBytes) odd_bytes = g_bytes_new (odd->str, odd->len);

  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = notary_key_new ("ecdsa-x509", odd_bytes, &error);
  g_assert_no_error (error);
  g_autoptr (NotaryKey) go_key_ = notary_key_new ("ecdsa-x509", go_pem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_canonical_id (key), ==, notary_key_get_canonical_id (go_key_));
  g_assert_cmpstr (notary_key_get_id (key), !=, notary_key_get_id (go_key_));

  g_autoptr (NotaryKey) rebuilt = notary_key_check_root_certificate (key, CERT_GUN, CERT_NOW, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (notary_key_get_public (rebuilt), go_pem));
  g_assert_cmpstr (notary_key_get_id (rebuilt), ==, notary_key_get_id (go_key_));
}

static void
test_cert_not_pem (void)
{
  /* A plain ecdsa key (DER) listed as a root key has no certificates. */
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate ("ecdsa", &error);
  g_assert_no_error (error);
  g_autoptr (NotaryKey) rebuilt = notary_key_check_root_certificate (notary_private_key_get_public (priv),
                                                                     CERT_GUN, CERT_NOW, TRUE, &error);
  g_assert_null (rebuilt);
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE);
}

static void
test_cert_canonical_id_rsa (void)
{
  g_autoptr (NotaryKey) key = cert_key ("leaf-rsa2048.pem", "rsa-x509");
  g_autoptr (GBytes) spki = load_vector ("certs/leaf-rsa2048.spki.der");
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) plain = notary_key_new ("rsa", spki, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_canonical_id (key), ==, notary_key_get_id (plain));
}

static void
test_cert_rsa_x509_verify (void)
{
  g_autoptr (NotaryKey) key = cert_key ("leaf-rsa2048.pem", "rsa-x509");
  g_autoptr (GBytes) msg = load_vector ("openssl/msg.bin");
  g_autoptr (GBytes) sig = load_vector ("certs/leaf-rsa2048.pss.sig");
  g_autoptr (GError) error = NULL;
  g_assert_true (notary_key_verify (key, "rsapss", msg, sig, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) bad = bytes_flip (msg, 0);
  g_assert_false (notary_key_verify (key, "rsapss", bad, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  g_assert_false (notary_key_verify (key, "ecdsa", msg, sig, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
}

/* ---- helpers and threads ------------------------------------------------- */

static void
test_digests (void)
{
  g_autoptr (GBytes) abc = bytes_from_string ("abc");
  g_autofree char *hex = notary_sha256_hex (abc);
  g_assert_cmpstr (hex, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_autoptr (GBytes) d256 = notary_digest (G_CHECKSUM_SHA256, abc);
  g_autoptr (GBytes) want = bytes_from_hex (hex);
  g_assert_true (g_bytes_equal (d256, want));
  g_autoptr (GBytes) d512 = notary_digest (G_CHECKSUM_SHA512, abc);
  g_assert_cmpuint (g_bytes_get_size (d512), ==, 64);
  g_assert_cmpuint (((const guint8 *)g_bytes_get_data (d512, NULL))[0], ==, 0xdd);
}

typedef struct
{
  NotaryPrivateKey *priv;
  NotaryKey *pub;
  gint failures;
} ThreadCtx;

static gpointer
thread_worker (gpointer data)
{
  ThreadCtx *ctx = data;
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *text = g_strdup_printf ("thread %p msg %u", (void *)g_thread_self (), i);
      g_autoptr (GBytes) msg = bytes_from_string (text);
      g_autoptr (GBytes) sig = notary_private_key_sign (ctx->priv, msg, NULL);
      if (sig == NULL
          || !notary_key_verify (ctx->pub, notary_private_key_get_method (ctx->priv), msg, sig, NULL))
        g_atomic_int_inc (&ctx->failures);
      g_autoptr (NotaryKey) ref = notary_key_ref (ctx->pub);
      if (strlen (notary_key_get_id (ref)) != 64)
        g_atomic_int_inc (&ctx->failures);
    }
  return NULL;
}

static void
test_threads (void)
{
  const char *algs[] = { "ed25519", "ecdsa" };
  for (gsize a = 0; a < G_N_ELEMENTS (algs); a++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (NotaryPrivateKey) priv = notary_private_key_generate (algs[a], &error);
      g_assert_no_error (error);
      ThreadCtx ctx = { priv, notary_private_key_get_public (priv), 0 };
      GThread *threads[8];
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        threads[i] = g_thread_new ("keys", thread_worker, &ctx);
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        g_thread_join (threads[i]);
      g_assert_cmpint (ctx.failures, ==, 0);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keys/id/vector", test_key_id_vector);
  g_test_add_func ("/keys/id/escaping", test_key_id_escaping);
  g_test_add_func ("/keys/json", test_key_from_json);
  g_test_add_func ("/keys/type-mismatch", test_key_type_mismatch);
  g_test_add_func ("/keys/empty-public", test_key_empty_public);
  g_test_add_func ("/keys/sign/ed25519", test_round_trip_ed25519);
  g_test_add_func ("/keys/sign/ecdsa", test_round_trip_ecdsa);
  g_test_add_func ("/keys/sign/rsa", test_round_trip_rsa);
  g_test_add_func ("/keys/sign/public-bytes", test_ed25519_public_bytes);
  g_test_add_func ("/keys/ecdsa/signature-length", test_ecdsa_signature_length);
  g_test_add_func ("/keys/ecdsa/leading-zeros", test_ecdsa_leading_zeros);
  g_test_add_func ("/keys/ecdsa/rejects", test_ecdsa_rejects);
  g_test_add_func ("/keys/openssl/rsa", test_openssl_rsa);
  g_test_add_func ("/keys/openssl/rsa-1024", test_rsa_1024_rejected);
  g_test_add_func ("/keys/openssl/p384", test_openssl_p384);
  g_test_add_func ("/keys/ecdsa/curves", test_ecdsa_curves);
  g_test_add_func ("/keys/ecdsa/off-curve", test_ecdsa_off_curve);
  g_test_add_func ("/keys/pkcs8/p384", test_pkcs8_p384);
  g_test_add_func ("/keys/pkcs8/invalid", test_pkcs8_invalid);
  g_test_add_func ("/keys/pkcs8/notary-ed25519", test_pkcs8_notary_ed25519);
  g_test_add ("/keys/go/signatures", GoFixture, NULL, go_fixture_setup, test_go_signatures,
              go_fixture_teardown);
  g_test_add ("/keys/go/root-certificate", GoFixture, NULL, go_fixture_setup, test_go_root_certificate,
              go_fixture_teardown);
  g_test_add ("/keys/go/private-key", GoFixture, NULL, go_fixture_setup, test_go_private_key,
              go_fixture_teardown);
  g_test_add_func ("/keys/cert/good", test_cert_good);
  g_test_add_func ("/keys/cert/cn", test_cert_cn);
  g_test_add_func ("/keys/cert/validity", test_cert_validity);
  g_test_add_func ("/keys/cert/not-after", test_cert_not_after);
  g_test_add_func ("/keys/cert/structure", test_cert_structure);
  g_test_add_func ("/keys/cert/algorithms", test_cert_algorithms);
  g_test_add_func ("/keys/cert/intermediates", test_cert_intermediates);
  g_test_add_func ("/keys/cert/reformatted", test_cert_reformatted);
  g_test_add_func ("/keys/cert/not-pem", test_cert_not_pem);
  g_test_add_func ("/keys/cert/canonical-id-rsa", test_cert_canonical_id_rsa);
  g_test_add_func ("/keys/cert/rsa-x509-verify", test_cert_rsa_x509_verify);
  g_test_add_func ("/keys/digests", test_digests);
  g_test_add_func ("/keys/threads", test_threads);

  return g_test_run ();
}
