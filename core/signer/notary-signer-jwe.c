/* notary-signer-jwe.c — JWE (RFC 7516) compact tokens with PBES2 key
 * wrapping, as the reference signer's jose2go writes them
 * (signer-storage.md §4):
 *
 *   B64(header) "." B64(wrapped CEK) "." B64(IV) "." B64(ciphertext) "." B64(tag)
 *
 *   KEK  = PBKDF2-HMAC-SHA256(passphrase, "PBES2-HS256+A128KW" 0x00 p2s, p2c, 16 bytes)
 *   CEK  = 32 random bytes, wrapped with AES-128 key wrap (RFC 3394)
 *   body = AES-256-GCM(CEK, 12-byte IV, AAD = B64(header) as sent), 16-byte tag
 *
 * Every primitive is nettle's (GnuTLS's crypto library); randomness is
 * gnutls_rnd.  Intermediate keys are wiped before returning.
 */
#include "notary-signer-jwe.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-glib/json-glib.h>
#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>
#include <nettle/nist-keywrap.h>
#include <nettle/pbkdf2.h>
#include <string.h>

G_DEFINE_QUARK (notary - jwe - error - quark, notary_jwe_error)

#define KEK_LEN 16 /* A128KW */
#define CEK_LEN 32 /* A256GCM */
#define WRAPPED_LEN (CEK_LEN + 8)
#define IV_LEN 12 /* GCM nonce */
#define TAG_LEN GCM_DIGEST_SIZE
#define SALT_LEN 12 /* jose2go's p2s */

/* RFC 3394 §2.2.3.1 default initial value. */
static const guint8 keywrap_iv[8] = { 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6 };

/* ---- secret memory ------------------------------------------------------ */

typedef struct
{
  guint8 *data;
  gsize len;
} Secret;

static void
secret_free (gpointer p)
{
  Secret *s = p;
  gnutls_memset (s->data, 0, s->len);
  g_free (s->data);
  g_free (s);
}

GBytes *
notary_secret_bytes_new_take (guint8 *data, gsize len)
{
  Secret *s = g_new (Secret, 1);
  s->data = data;
  s->len = len;
  return g_bytes_new_with_free_func (data, len, secret_free, s);
}

/* ---- base64url ---------------------------------------------------------- */

char *
notary_base64url_encode (const guint8 *data, gsize len)
{
  char *out = g_base64_encode (data, len);
  gsize n = strlen (out);

  while (n > 0 && out[n - 1] == '=')
    out[--n] = '\0';
  for (char *p = out; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
    }
  return out;
}

guint8 *
notary_base64url_decode (const char *text, gsize *out_len, GError **error)
{
  gsize n = strlen (text);
  g_autofree char *std = NULL;
  gsize i;

  /* One leftover character cannot encode a byte. */
  if (n % 4 == 1)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                   "invalid base64url length %" G_GSIZE_FORMAT, n);
      return NULL;
    }
  std = g_malloc (n + 3);
  for (i = 0; i < n; i++)
    {
      char c = text[i];
      if (g_ascii_isalnum (c))
        std[i] = c;
      else if (c == '-')
        std[i] = '+';
      else if (c == '_')
        std[i] = '/';
      else
        {
          g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                       "invalid base64url character 0x%02x", (guint8)c);
          return NULL;
        }
    }
  while (i % 4 != 0)
    std[i++] = '=';
  std[i] = '\0';
  if (n == 0)
    {
      *out_len = 0;
      return g_malloc0 (1);
    }
  return g_base64_decode (std, out_len);
}

/* ---- helpers ------------------------------------------------------------ */

/* PBKDF2 salt input: the alg name, a zero byte, then p2s (RFC 7518 §4.8.1.1). */
static void
derive_kek (const char *passphrase, const guint8 *p2s, gsize p2s_len, guint iterations, guint8 kek[KEK_LEN])
{
  gsize alg_len = strlen (NOTARY_JWE_KEYWRAP_ALG);
  g_autofree guint8 *salt = g_malloc (alg_len + 1 + p2s_len);

  memcpy (salt, NOTARY_JWE_KEYWRAP_ALG, alg_len);
  salt[alg_len] = 0;
  memcpy (salt + alg_len + 1, p2s, p2s_len);
  pbkdf2_hmac_sha256 (strlen (passphrase), (const guint8 *)passphrase, iterations, alg_len + 1 + p2s_len,
                      salt, KEK_LEN, kek);
}

static gboolean
random_bytes (gnutls_rnd_level_t level, guint8 *out, gsize len, GError **error)
{
  int ret = gnutls_rnd (level, out, len);
  if (ret < 0)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_FAILED, "random number generator failed: %s",
                   gnutls_strerror (ret));
      return FALSE;
    }
  return TRUE;
}

/* ---- encrypt ------------------------------------------------------------ */

char *
notary_jwe_encrypt (GBytes *plaintext, const char *passphrase, GError **error)
{
  guint8 salt[SALT_LEN], kek[KEK_LEN], cek[CEK_LEN], wrapped[WRAPPED_LEN], iv[IV_LEN], tag[TAG_LEN];
  struct aes128_ctx kw;
  struct gcm_aes256_ctx gcm;
  gsize len = 0;
  const guint8 *pt = g_bytes_get_data (plaintext, &len);
  g_autofree guint8 *ct = g_malloc (MAX (len, 1));
  g_autofree char *p2s = NULL;
  g_autofree char *header = NULL;
  g_autofree char *b64_header = NULL;
  g_autofree char *b64_wrapped = NULL;
  g_autofree char *b64_iv = NULL;
  g_autofree char *b64_ct = NULL;
  g_autofree char *b64_tag = NULL;

  g_return_val_if_fail (passphrase != NULL, NULL);

  if (!random_bytes (GNUTLS_RND_NONCE, salt, sizeof salt, error)
      || !random_bytes (GNUTLS_RND_KEY, cek, sizeof cek, error)
      || !random_bytes (GNUTLS_RND_NONCE, iv, sizeof iv, error))
    {
      gnutls_memset (cek, 0, sizeof cek);
      return NULL;
    }

  /* The reference's header, byte for byte: Go marshals the map with its
   * keys sorted and no spaces. */
  p2s = notary_base64url_encode (salt, sizeof salt);
  header = g_strdup_printf ("{\"alg\":\"%s\",\"enc\":\"%s\",\"p2c\":%d,\"p2s\":\"%s\"}",
                            NOTARY_JWE_KEYWRAP_ALG, NOTARY_JWE_ENCRYPTION_ALG, NOTARY_JWE_P2C, p2s);
  b64_header = notary_base64url_encode ((const guint8 *)header, strlen (header));

  derive_kek (passphrase, salt, sizeof salt, NOTARY_JWE_P2C, kek);
  aes128_set_encrypt_key (&kw, kek);
  aes128_keywrap (&kw, keywrap_iv, sizeof wrapped, wrapped, cek);

  gcm_aes256_set_key (&gcm, cek);
  gcm_aes256_set_iv (&gcm, sizeof iv, iv);
  gcm_aes256_update (&gcm, strlen (b64_header), (const guint8 *)b64_header);
  gcm_aes256_encrypt (&gcm, len, ct, pt);
  gcm_aes256_digest (&gcm, sizeof tag, tag);

  gnutls_memset (kek, 0, sizeof kek);
  gnutls_memset (cek, 0, sizeof cek);
  gnutls_memset (&kw, 0, sizeof kw);
  gnutls_memset (&gcm, 0, sizeof gcm);

  b64_wrapped = notary_base64url_encode (wrapped, sizeof wrapped);
  b64_iv = notary_base64url_encode (iv, sizeof iv);
  b64_ct = notary_base64url_encode (ct, len);
  b64_tag = notary_base64url_encode (tag, sizeof tag);
  return g_strjoin (".", b64_header, b64_wrapped, b64_iv, b64_ct, b64_tag, NULL);
}

/* ---- decrypt ------------------------------------------------------------ */

/* Checks the protected header; \return the decoded salt and iteration
 * count. */
static gboolean
parse_header (const char *b64_header, guint8 **out_salt, gsize *out_salt_len, guint *out_p2c, GError **error)
{
  g_autofree guint8 *raw = NULL;
  gsize raw_len = 0;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *p2c, *p2s;
  const char *alg, *enc;
  gdouble iterations;

  raw = notary_base64url_decode (b64_header, &raw_len, error);
  if (raw == NULL)
    return FALSE;
  if (!json_parser_load_from_data (parser, (const char *)raw, (gssize)raw_len, &local))
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID, "JWE header is not JSON: %s",
                   local->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                           "JWE header is not a JSON object");
      return FALSE;
    }
  obj = json_node_get_object (root);
  alg = json_object_get_string_member_with_default (obj, "alg", NULL);
  enc = json_object_get_string_member_with_default (obj, "enc", NULL);
  if (g_strcmp0 (alg, NOTARY_JWE_KEYWRAP_ALG) != 0)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_UNSUPPORTED,
                   "unsupported JWE key wrapping \"%s\"", alg != NULL ? alg : "");
      return FALSE;
    }
  if (g_strcmp0 (enc, NOTARY_JWE_ENCRYPTION_ALG) != 0)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_UNSUPPORTED, "unsupported JWE encryption \"%s\"",
                   enc != NULL ? enc : "");
      return FALSE;
    }
  /* The reference never compresses; we would not inflate a stored key. */
  if (json_object_has_member (obj, "zip"))
    {
      g_set_error_literal (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_UNSUPPORTED,
                           "compressed JWE is not supported");
      return FALSE;
    }
  p2c = json_object_get_member (obj, "p2c");
  p2s = json_object_get_member (obj, "p2s");
  /* The reference reads p2c as a JSON number (float64): 8192.0 is fine. */
  if (p2c == NULL || !JSON_NODE_HOLDS_VALUE (p2c)
      || (json_node_get_value_type (p2c) != G_TYPE_INT64 && json_node_get_value_type (p2c) != G_TYPE_DOUBLE))
    {
      g_set_error_literal (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                           "JWE header lacks a numeric p2c");
      return FALSE;
    }
  iterations = json_node_get_double (p2c);
  if (iterations != (gdouble)(gint64)iterations || iterations < NOTARY_JWE_P2C_MIN
      || iterations > NOTARY_JWE_P2C_MAX)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_UNSUPPORTED,
                   "JWE p2c %g is not an integer in [%d, %d]", iterations, NOTARY_JWE_P2C_MIN,
                   NOTARY_JWE_P2C_MAX);
      return FALSE;
    }
  if (p2s == NULL || json_node_get_value_type (p2s) != G_TYPE_STRING)
    {
      g_set_error_literal (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                           "JWE header lacks a string p2s");
      return FALSE;
    }
  *out_salt = notary_base64url_decode (json_node_get_string (p2s), out_salt_len, error);
  if (*out_salt == NULL)
    {
      g_prefix_error (error, "JWE p2s: ");
      return FALSE;
    }
  *out_p2c = (guint)iterations;
  return TRUE;
}

GBytes *
notary_jwe_decrypt (const char *token, const char *passphrase, GError **error)
{
  g_auto (GStrv) parts = NULL;
  g_autofree guint8 *salt = NULL;
  g_autofree guint8 *wrapped = NULL;
  g_autofree guint8 *iv = NULL;
  g_autofree guint8 *ct = NULL;
  g_autofree guint8 *tag = NULL;
  gsize salt_len = 0, wrapped_len = 0, iv_len = 0, ct_len = 0, tag_len = 0;
  guint p2c = 0;
  guint8 kek[KEK_LEN], cek[CEK_LEN], computed[TAG_LEN];
  struct aes128_ctx kw;
  struct gcm_aes256_ctx gcm;
  guint8 *pt;
  gboolean unwrapped;

  g_return_val_if_fail (token != NULL && passphrase != NULL, NULL);

  parts = g_strsplit (token, ".", -1);
  if (g_strv_length (parts) != 5)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                   "a JWE compact token has 5 parts, this one has %u", g_strv_length (parts));
      return NULL;
    }
  if (!parse_header (parts[0], &salt, &salt_len, &p2c, error))
    return NULL;
  if ((wrapped = notary_base64url_decode (parts[1], &wrapped_len, error)) == NULL
      || (iv = notary_base64url_decode (parts[2], &iv_len, error)) == NULL
      || (ct = notary_base64url_decode (parts[3], &ct_len, error)) == NULL
      || (tag = notary_base64url_decode (parts[4], &tag_len, error)) == NULL)
    return NULL;
  if (wrapped_len != WRAPPED_LEN || iv_len != IV_LEN || tag_len != TAG_LEN)
    {
      g_set_error (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_INVALID,
                   "JWE part sizes (key %" G_GSIZE_FORMAT ", IV %" G_GSIZE_FORMAT ", tag %" G_GSIZE_FORMAT
                   ") are not those of A128KW/A256GCM",
                   wrapped_len, iv_len, tag_len);
      return NULL;
    }

  derive_kek (passphrase, salt, salt_len, p2c, kek);
  aes128_set_decrypt_key (&kw, kek);
  unwrapped = aes128_keyunwrap (&kw, keywrap_iv, sizeof cek, cek, wrapped);
  gnutls_memset (kek, 0, sizeof kek);
  gnutls_memset (&kw, 0, sizeof kw);
  if (!unwrapped)
    {
      gnutls_memset (cek, 0, sizeof cek);
      /* The key wrap's integrity check is what a wrong passphrase trips. */
      g_set_error_literal (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_DECRYPT,
                           "cannot unwrap the JWE content key (wrong passphrase?)");
      return NULL;
    }

  pt = g_malloc (MAX (ct_len, 1));
  gcm_aes256_set_key (&gcm, cek);
  gcm_aes256_set_iv (&gcm, iv_len, iv);
  gcm_aes256_update (&gcm, strlen (parts[0]), (const guint8 *)parts[0]);
  gcm_aes256_decrypt (&gcm, ct_len, pt, ct);
  gcm_aes256_digest (&gcm, sizeof computed, computed);
  gnutls_memset (cek, 0, sizeof cek);
  gnutls_memset (&gcm, 0, sizeof gcm);
  if (!memeql_sec (computed, tag, TAG_LEN))
    {
      gnutls_memset (pt, 0, ct_len);
      g_free (pt);
      g_set_error_literal (error, NOTARY_JWE_ERROR, NOTARY_JWE_ERROR_DECRYPT,
                           "JWE authentication tag mismatch (token altered)");
      return NULL;
    }
  return notary_secret_bytes_new_take (pt, ct_len);
}
