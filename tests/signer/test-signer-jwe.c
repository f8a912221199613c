/* test-signer-jwe.c — encryption at rest (signer-storage.md §4-5): JWE
 * tokens written by the reference notary-signer (tests/data/signer/,
 * dumped from a private_keys table it filled) decrypt to the exact raw key
 * bytes we would write for the same key; our tokens have the reference's
 * header and part sizes; every malformed or hostile token is refused.
 */
#include <json-glib/json-glib.h>
#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/nist-keywrap.h>
#include <nettle/pbkdf2.h>
#include <string.h>

#include "notary-build-config.h"
#include "notary-signer-jwe.h"
#include "notary-signer-keyformat.h"

/* ---- helpers ------------------------------------------------------------ */

static JsonObject *
load_reference (void)
{
  g_autofree char *path
      = g_build_filename (NOTARY_SOURCE_ROOT, "tests", "data", "signer", "reference-private-keys.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static GBytes *
b64_bytes (const char *b64)
{
  gsize len = 0;
  guint8 *data = g_base64_decode (b64, &len);
  return g_bytes_new_take (data, len);
}

static char *
b64url (const void *data, gsize len)
{
  return notary_base64url_encode (data, len);
}

/* An independent encoder (nettle called directly) so tests can write
 * tokens with any header; @cek_len / @iv_len / @p2c let tests build
 * hostile ones. */
static char *
make_token (const char *header, const char *passphrase, guint p2c, const guint8 *salt, gsize salt_len,
            GBytes *plaintext)
{
  static const guint8 kw_iv[8] = { 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6 };
  const char *alg = "PBES2-HS256+A128KW";
  guint8 kek[16], cek[32], wrapped[40], iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, tag[16];
  g_autofree guint8 *saltin = g_malloc (strlen (alg) + 1 + salt_len);
  gsize len = 0;
  const guint8 *pt = g_bytes_get_data (plaintext, &len);
  g_autofree guint8 *ct = g_malloc (len + 1);
  struct aes128_ctx kw;
  struct gcm_aes256_ctx gcm;
  g_autofree char *h = b64url (header, strlen (header));
  g_autofree char *w = NULL, *i = NULL, *c = NULL, *t = NULL;

  for (guint k = 0; k < sizeof cek; k++)
    cek[k] = (guint8)(k * 7 + 3);
  memcpy (saltin, alg, strlen (alg));
  saltin[strlen (alg)] = 0;
  memcpy (saltin + strlen (alg) + 1, salt, salt_len);
  pbkdf2_hmac_sha256 (strlen (passphrase), (const guint8 *)passphrase, p2c, strlen (alg) + 1 + salt_len,
                      saltin, sizeof kek, kek);
  aes128_set_encrypt_key (&kw, kek);
  aes128_keywrap (&kw, kw_iv, sizeof wrapped, wrapped, cek);
  gcm_aes256_set_key (&gcm, cek);
  gcm_aes256_set_iv (&gcm, sizeof iv, iv);
  gcm_aes256_update (&gcm, strlen (h), (const guint8 *)h);
  gcm_aes256_encrypt (&gcm, len, ct, pt);
  gcm_aes256_digest (&gcm, sizeof tag, tag);
  w = b64url (wrapped, sizeof wrapped);
  i = b64url (iv, sizeof iv);
  c = b64url (ct, len);
  t = b64url (tag, sizeof tag);
  return g_strjoin (".", h, w, i, c, t, NULL);
}

/* ---- base64url and key wrap --------------------------------------------- */

static void
test_base64url (void)
{
  const guint8 data[] = { 0xfb, 0xff, 0x00, 0x3e, 0x3f };
  g_autofree char *enc = notary_base64url_encode (data, sizeof data);
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree guint8 *dec = NULL;

  g_assert_cmpstr (enc, ==, "-_8APj8");
  dec = notary_base64url_decode (enc, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (dec, len, data, sizeof data);

  g_assert_null (notary_base64url_decode ("-_8APj8=", &len, &error)); /* padding */
  g_assert_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (notary_base64url_decode ("ab+c", &len, &error)); /* standard alphabet */
  g_assert_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (notary_base64url_decode ("abcde", &len, &error)); /* impossible length */
  g_assert_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID);
}

/* RFC 3394 §4.1: the wrap primitive and default IV the JWE relies on. */
static void
test_keywrap_rfc3394 (void)
{
  static const guint8 kek[16]
      = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
  static const guint8 key[16]
      = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
  static const guint8 expect[24] = { 0x1f, 0xa6, 0x8b, 0x0a, 0x81, 0x12, 0xb4, 0x47, 0xae, 0xf3, 0x4b, 0xd8,
                                     0xfb, 0x5a, 0x7b, 0x82, 0x9d, 0x3e, 0x86, 0x23, 0x71, 0xd2, 0xcf, 0xe5 };
  static const guint8 iv[8] = { 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6 };
  struct aes128_ctx ctx;
  guint8 out[24], back[16];

  aes128_set_encrypt_key (&ctx, kek);
  aes128_keywrap (&ctx, iv, sizeof out, out, key);
  g_assert_cmpmem (out, sizeof out, expect, sizeof expect);
  aes128_set_decrypt_key (&ctx, kek);
  g_assert_true (aes128_keyunwrap (&ctx, iv, sizeof back, back, out));
  g_assert_cmpmem (back, sizeof back, key, sizeof key);
  out[3] ^= 1;
  g_assert_false (aes128_keyunwrap (&ctx, iv, sizeof back, back, out));
}

/* ---- the reference's rows ----------------------------------------------- */

static void
test_reference_rows (void)
{
  g_autoptr (JsonObject) ref = load_reference ();
  const char *passphrase = json_object_get_string_member (ref, "passphrase");
  JsonArray *rows = json_object_get_array_member (ref, "rows");
  gboolean seen_ecdsa = FALSE, seen_ed25519 = FALSE;

  g_assert_cmpuint (json_array_get_length (rows), >=, 2);
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      const char *alg = json_object_get_string_member (row, "algorithm");
      g_autoptr (GBytes) public = b64_bytes (json_object_get_string_member (row, "public"));
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) raw = NULL;
      g_autoptr (GBytes) again = NULL;
      g_autoptr (NotaryPrivateKey) key = NULL;
      g_autoptr (GBytes) msg = g_bytes_new_static ("reference row", 13);
      g_autoptr (GBytes) sig = NULL;
      g_autofree char *header = NULL;
      g_auto (GStrv) parts = NULL;
      gsize hlen = 0;
      NotaryKey *pub;

      g_test_message ("row %u: %s %s", i, alg, json_object_get_string_member (row, "key_id"));
      g_assert_cmpstr (json_object_get_string_member (row, "encryption_alg"), ==, "A256GCM");
      g_assert_cmpstr (json_object_get_string_member (row, "keywrap_alg"), ==, "PBES2-HS256+A128KW");

      /* The header as the reference writes it: sorted keys, 12-byte salt. */
      parts = g_strsplit (json_object_get_string_member (row, "private"), ".", -1);
      g_assert_cmpuint (g_strv_length (parts), ==, 5);
      header = (char *)notary_base64url_decode (parts[0], &hlen, &error);
      g_assert_no_error (error);
      header = g_realloc (header, hlen + 1);
      header[hlen] = '\0';
      g_assert_true (g_regex_match_simple ("^\\{\"alg\":\"PBES2-HS256\\+A128KW\",\"enc\":\"A256GCM\",\"p2c\":"
                                           "8192,\"p2s\":\"[A-Za-z0-9_-]{16}\"\\}$",
                                           header, 0, 0));

      raw = notary_jwe_decrypt (json_object_get_string_member (row, "private"), passphrase, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (raw), ==, g_str_equal (alg, "ecdsa") ? 121 : 96);

      key = notary_signer_key_from_raw (alg, raw, &error);
      g_assert_no_error (error);
      pub = notary_private_key_get_public (key);
      g_assert_cmpstr (notary_key_get_keytype (pub), ==, alg);
      g_assert_true (g_bytes_equal (notary_key_get_public (pub), public));
      g_assert_cmpstr (notary_key_get_id (pub), ==, json_object_get_string_member (row, "key_id"));

      /* What we would store for this key is byte for byte what the
       * reference stored. */
      again = notary_signer_key_to_raw (key, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (again, raw));

      sig = notary_private_key_sign (key, msg, &error);
      g_assert_no_error (error);
      g_assert_true (notary_key_verify (pub, notary_private_key_get_method (key), msg, sig, &error));
      g_assert_no_error (error);

      /* A wrong passphrase is a decryption error, not garbage. */
      g_assert_null (
          notary_jwe_decrypt (json_object_get_string_member (row, "private"), "wrongpassword", &error));
      g_assert_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_DECRYPT);

      seen_ecdsa |= g_str_equal (alg, "ecdsa");
      seen_ed25519 |= g_str_equal (alg, "ed25519");
    }
  g_assert_true (seen_ecdsa);
  g_assert_true (seen_ed25519);
}

/* ---- ours --------------------------------------------------------------- */

static void
test_encrypt_format (void)
{
  g_autoptr (GBytes) pt = g_bytes_new_static ("0123456789abcdef-plaintext", 26);
  g_autoptr (GError) error = NULL;
  g_autofree char *token = notary_jwe_encrypt (pt, "testpassword", &error);
  g_autofree char *token2 = NULL;
  g_auto (GStrv) parts = NULL;
  g_autofree guint8 *header = NULL;
  g_autofree guint8 *p = NULL;
  g_autoptr (GBytes) back = NULL;
  gsize len = 0;
  g_autofree char *header_str = NULL;

  g_assert_no_error (error);
  parts = g_strsplit (token, ".", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 5);
  header = notary_base64url_decode (parts[0], &len, &error);
  g_assert_no_error (error);
  header_str = g_strndup ((char *)header, len);
  g_assert_true (g_regex_match_simple ("^\\{\"alg\":\"PBES2-HS256\\+A128KW\",\"enc\":\"A256GCM\",\"p2c\":"
                                       "8192,\"p2s\":\"[A-Za-z0-9_-]{16}\"\\}$",
                                       header_str, 0, 0));
  p = notary_base64url_decode (parts[1], &len, &error);
  g_assert_cmpuint (len, ==, 40);
  g_clear_pointer (&p, g_free);
  p = notary_base64url_decode (parts[2], &len, &error);
  g_assert_cmpuint (len, ==, 12);
  g_clear_pointer (&p, g_free);
  p = notary_base64url_decode (parts[3], &len, &error);
  g_assert_cmpuint (len, ==, 26);
  g_clear_pointer (&p, g_free);
  p = notary_base64url_decode (parts[4], &len, &error);
  g_assert_cmpuint (len, ==, 16);
  g_assert_no_error (error);

  back = notary_jwe_decrypt (token, "testpassword", &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, pt));

  /* Fresh salt, CEK and IV every time. */
  token2 = notary_jwe_encrypt (pt, "testpassword", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token, !=, token2);
}

static void
test_generated_keys (void)
{
  const char *algs[] = { "ecdsa", "ed25519" };

  for (guint i = 0; i < G_N_ELEMENTS (algs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (NotaryPrivateKey) key = notary_private_key_generate (algs[i], &error);
      g_autoptr (GBytes) raw = NULL;
      g_autoptr (GBytes) dec = NULL;
      g_autoptr (NotaryPrivateKey) back = NULL;
      g_autofree char *token = NULL;

      g_assert_no_error (error);
      raw = notary_signer_key_to_raw (key, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (raw), ==, i == 0 ? 121 : 96);
      token = notary_jwe_encrypt (raw, "pw", &error);
      g_assert_no_error (error);
      dec = notary_jwe_decrypt (token, "pw", &error);
      g_assert_no_error (error);
      back = notary_signer_key_from_raw (algs[i], dec, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (notary_key_get_id (notary_private_key_get_public (back)), ==,
                       notary_key_get_id (notary_private_key_get_public (key)));
      /* The wrong algorithm for the bytes is refused. */
      g_assert_null (notary_signer_key_from_raw (algs[1 - i], dec, &error));
      g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_null (notary_signer_key_from_raw ("rsa", dec, &error));
      g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED);
    }
}

static void
test_ed25519_mismatch (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) key = notary_private_key_generate ("ed25519", &error);
  g_autoptr (NotaryPrivateKey) other = notary_private_key_generate ("ed25519", &error);
  g_autoptr (GBytes) raw = notary_signer_key_to_raw (key, &error);
  GBytes *other_pub = notary_key_get_public (notary_private_key_get_public (other));
  guint8 forged[96];
  g_autoptr (GBytes) forged_bytes = NULL;

  /* Both public halves name another key: the seed gives it away. */
  memcpy (forged, g_bytes_get_data (raw, NULL), 96);
  memcpy (forged, g_bytes_get_data (other_pub, NULL), 32);
  memcpy (forged + 64, g_bytes_get_data (other_pub, NULL), 32);
  forged_bytes = g_bytes_new (forged, sizeof forged);
  g_assert_null (notary_signer_key_from_raw ("ed25519", forged_bytes, &error));
  g_assert_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID);
}

/* ---- what the decoder accepts and refuses ------------------------------- */

static void
test_header_variants (void)
{
  static const guint8 salt[12] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2 };
  g_autoptr (GBytes) pt = g_bytes_new_static ("secret", 6);
  g_autofree char *p2s = b64url (salt, sizeof salt);
  g_autofree char *p2s_long = b64url ("0123456789abcdefghijklmnopqrstuv", 32);
  struct
  {
    const char *header_fmt;
    guint p2c;
    gboolean long_salt;
    gint expect; /* -1 = ok, else the NotaryJweError */
  } cases[] = {
    /* member order, extra members, float p2c and salt length are free */
    { "{\"p2s\":\"%s\",\"p2c\":1000,\"enc\":\"A256GCM\",\"alg\":\"PBES2-HS256+A128KW\",\"kid\":\"x\"}", 1000,
      FALSE, -1 },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":2000.0,\"p2s\":\"%s\"}", 2000, FALSE, -1 },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":1000,\"p2s\":\"%s\"}", 1000, TRUE, -1 },
    /* hostile or foreign ones */
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":999,\"p2s\":\"%s\"}", 999, FALSE,
      NOTARY_JWE_ERROR_UNSUPPORTED },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":1000001,\"p2s\":\"%s\"}", 1000, FALSE,
      NOTARY_JWE_ERROR_UNSUPPORTED },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":1000.5,\"p2s\":\"%s\"}", 1000, FALSE,
      NOTARY_JWE_ERROR_UNSUPPORTED },
    { "{\"alg\":\"PBES2-HS512+A256KW\",\"enc\":\"A256GCM\",\"p2c\":1000,\"p2s\":\"%s\"}", 1000, FALSE,
      NOTARY_JWE_ERROR_UNSUPPORTED },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A128CBC-HS256\",\"p2c\":1000,\"p2s\":\"%s\"}", 1000, FALSE,
      NOTARY_JWE_ERROR_UNSUPPORTED },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"zip\":\"DEF\",\"p2c\":1000,\"p2s\":\"%s\"}",
      1000, FALSE, NOTARY_JWE_ERROR_UNSUPPORTED },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":\"1000\",\"p2s\":\"%s\"}", 1000, FALSE,
      NOTARY_JWE_ERROR_INVALID },
    { "{\"alg\":\"PBES2-HS256+A128KW\",\"enc\":\"A256GCM\",\"p2c\":1000,\"p2z\":\"%s\"}", 1000, FALSE,
      NOTARY_JWE_ERROR_INVALID },
    { "[\"%s\"]", 1000, FALSE, NOTARY_JWE_ERROR_INVALID },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *header = g_strdup_printf (cases[i].header_fmt, cases[i].long_salt ? p2s_long : p2s);
      g_autofree char *token = cases[i].long_salt
                                   ? make_token (header, "pw", cases[i].p2c,
                                                 (const guint8 *)"0123456789abcdefghijklmnopqrstuv", 32, pt)
                                   : make_token (header, "pw", cases[i].p2c, salt, sizeof salt, pt);
      g_autoptr (GBytes) out = notary_jwe_decrypt (token, "pw", &error);

      g_test_message ("case %u: %s", i, header);
      if (cases[i].expect < 0)
        {
          g_assert_no_error (error);
          g_assert_true (g_bytes_equal (out, pt));
        }
      else
        {
          g_assert_null (out);
          g_assert_error (error, NOTARY_JWE_ERROR, cases[i].expect);
        }
    }
}

static void
test_tampering (void)
{
  g_autoptr (GBytes) pt = g_bytes_new_static ("secret key bytes", 16);
  g_autoptr (GError) error = NULL;
  g_autofree char *token = notary_jwe_encrypt (pt, "pw", &error);
  const char *bad[] = { "", "a.b.c.d", "a.b.c.d.e.f", "!!.b.c.d.e" };

  g_assert_no_error (error);
  /* Flip one character in each part (the header's change must break the
   * AAD even when it still parses). */
  for (guint part = 0; part < 5; part++)
    {
      g_auto (GStrv) parts = g_strsplit (token, ".", -1);
      g_autofree char *joined = NULL;
      g_autoptr (GBytes) out = NULL;
      if (part == 0)
        {
          /* Re-encode the header with an extra space: same JSON, other AAD. */
          gsize len = 0;
          g_autofree guint8 *h = notary_base64url_decode (parts[0], &len, &error);
          g_autofree char *spaced = g_strdup_printf (" %.*s", (int)len, (char *)h);
          g_free (parts[0]);
          parts[0] = b64url (spaced, strlen (spaced));
        }
      else
        {
          char *c = &parts[part][1];
          *c = *c == 'A' ? 'B' : 'A';
        }
      joined = g_strjoinv (".", parts);
      out = notary_jwe_decrypt (joined, "pw", &error);
      g_assert_null (out);
      g_assert_nonnull (error);
      g_test_message ("part %u: %s", part, error->message);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (notary_jwe_decrypt (bad[i], "pw", &error));
      g_assert_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID);
      g_clear_error (&error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/signer/jwe/base64url", test_base64url);
  g_test_add_func ("/signer/jwe/keywrap-rfc3394", test_keywrap_rfc3394);
  g_test_add_func ("/signer/jwe/reference-rows", test_reference_rows);
  g_test_add_func ("/signer/jwe/encrypt-format", test_encrypt_format);
  g_test_add_func ("/signer/jwe/generated-keys", test_generated_keys);
  g_test_add_func ("/signer/jwe/ed25519-mismatch", test_ed25519_mismatch);
  g_test_add_func ("/signer/jwe/header-variants", test_header_variants);
  g_test_add_func ("/signer/jwe/tampering", test_tampering);
  return g_test_run ();
}
