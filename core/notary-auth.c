/* notary-auth.c — bearer token authentication (server-api.md §7), the
 * behaviour of docker/distribution v2.7 registry/auth/token as vendored by
 * notary, with libtrust's key handling.
 *
 * A token is a compact JWS: base64url(header).base64url(claims).base64url(sig).
 * It is accepted when its issuer and audience match the configuration, the
 * current time lies within [nbf - 60 s, exp + 60 s], the signing key is
 * trusted (an x5c chain verifying to the root bundle, a JWK that is a root
 * key or carries such a chain, or a kid naming a root key) and the signature
 * verifies; then every required (type, name, action) must be granted by the
 * "access" claim.
 *
 * The header and claims are decoded the way Go's encoding/json fills the
 * reference's structs: member names match case-insensitively, null leaves a
 * field empty, and any type mismatch makes the whole token malformed.
 *
 * The only state shared between request threads is the GnuTLS trust list,
 * which is locked around chain verification; everything else is read-only
 * after construction.
 */
#include "notary-auth.h"
#include "notary-error.h"
#include "notary-http-errors.h"
#include "notary-log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define LEEWAY_SECONDS 60
#define KEY_ID_HASH_BYTES 30 /* libtrust keeps 240 bits of the SHA-256 */

/* The quark name is stringified: keep clang-format from spacing it out. */
/* clang-format off */
G_DEFINE_QUARK (notary-auth-error-quark, notary_auth_error)
/* clang-format on */

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

struct _NotaryAuth
{
  char *realm;
  char *service;
  char *issuer;
  gboolean autoredirect;

  /* GnuTLS does not document concurrent verification against one trust
   * list as safe, so requests take turns. */
  GMutex trust_lock;
  gnutls_x509_trust_list_t trust; /* the root bundle */
  GHashTable *trusted_keys;       /* libtrust key ID → GBytes DER SPKI */
};

/* ---- Go-compatible encoders ------------------------------------------- */

/* Go's strconv.IsPrint for a non-ASCII code point: letters, marks, numbers,
 * punctuation and symbols. */
static gboolean
go_is_print (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
    case G_UNICODE_CONNECT_PUNCTUATION:
    case G_UNICODE_DASH_PUNCTUATION:
    case G_UNICODE_CLOSE_PUNCTUATION:
    case G_UNICODE_FINAL_PUNCTUATION:
    case G_UNICODE_INITIAL_PUNCTUATION:
    case G_UNICODE_OTHER_PUNCTUATION:
    case G_UNICODE_OPEN_PUNCTUATION:
    case G_UNICODE_CURRENCY_SYMBOL:
    case G_UNICODE_MODIFIER_SYMBOL:
    case G_UNICODE_MATH_SYMBOL:
    case G_UNICODE_OTHER_SYMBOL:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Append @s quoted as Go's %q (strconv.Quote) would: the challenge header
 * must be byte-identical to the reference's. */
static void
append_go_quoted (GString *out, const char *s)
{
  const char *p = s;
  const char *end = s + strlen (s);

  g_string_append_c (out, '"');
  while (p < end)
    {
      guchar b = (guchar)*p;
      gunichar c;
      const char *next;

      if (b < 0x80)
        {
          p++;
          switch (b)
            {
            case '"':
              g_string_append (out, "\\\"");
              continue;
            case '\\':
              g_string_append (out, "\\\\");
              continue;
            case '\a':
              g_string_append (out, "\\a");
              continue;
            case '\b':
              g_string_append (out, "\\b");
              continue;
            case '\f':
              g_string_append (out, "\\f");
              continue;
            case '\n':
              g_string_append (out, "\\n");
              continue;
            case '\r':
              g_string_append (out, "\\r");
              continue;
            case '\t':
              g_string_append (out, "\\t");
              continue;
            case '\v':
              g_string_append (out, "\\v");
              continue;
            default:
              break;
            }
          if (b < 0x20 || b == 0x7f)
            g_string_append_printf (out, "\\x%02x", b);
          else
            g_string_append_c (out, (char)b);
          continue;
        }
      c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar)-1 || c == (gunichar)-2)
        {
          g_string_append_printf (out, "\\x%02x", b);
          p++;
          continue;
        }
      next = g_utf8_next_char (p);
      if (go_is_print (c))
        g_string_append_len (out, p, next - p);
      else if (c < 0x10000)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_printf (out, "\\U%08x", c);
      p = next;
    }
  g_string_append_c (out, '"');
}

/* Append @s as a JSON string the way Go's encoding/json writes it (HTML
 * characters escaped, invalid UTF-8 replaced), matching the reference's
 * 401 body byte for byte. */
static void
append_go_json_string (GString *out, const char *s)
{
  const char *p = s;
  const char *end = s + strlen (s);

  g_string_append_c (out, '"');
  while (p < end)
    {
      guchar b = (guchar)*p;
      gunichar c;

      if (b < 0x80)
        {
          p++;
          if (b == '"' || b == '\\')
            {
              g_string_append_c (out, '\\');
              g_string_append_c (out, (char)b);
            }
          else if (b == '\n')
            g_string_append (out, "\\n");
          else if (b == '\r')
            g_string_append (out, "\\r");
          else if (b == '\t')
            g_string_append (out, "\\t");
          else if (b < 0x20 || b == '<' || b == '>' || b == '&')
            g_string_append_printf (out, "\\u%04x", b);
          else
            g_string_append_c (out, (char)b);
          continue;
        }
      c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar)-1 || c == (gunichar)-2)
        {
          g_string_append (out, "\\ufffd");
          p++;
          continue;
        }
      if (c == 0x2028 || c == 0x2029)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  g_string_append_c (out, '"');
}

/* ---- base64 ------------------------------------------------------------ */

static int
b64_value (char ch, gboolean url)
{
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == (url ? '-' : '+'))
    return 62;
  if (ch == (url ? '_' : '/'))
    return 63;
  return -1;
}

/* Padded base64 as Go's base64.{Std,URL}Encoding.DecodeString accepts it:
 * whole quanta only, '=' only to finish the last one.  Returns NULL when the
 * text is not valid. */
static GBytes *
b64_decode_padded (const char *s, gsize len, gboolean url)
{
  g_autoptr (GByteArray) out = NULL;

  if (len % 4 != 0)
    return NULL;
  out = g_byte_array_sized_new (len / 4 * 3);
  for (gsize i = 0; i < len; i += 4)
    {
      int v[4];
      gsize n_data = 4;
      gboolean last = (i + 4 == len);

      for (gsize j = 0; j < 4; j++)
        {
          char ch = s[i + j];
          if (ch == '=')
            {
              /* "xx==" or "xxx=" at the very end, nothing else. */
              if (!last || j < 2 || (j == 2 && s[i + 3] != '='))
                return NULL;
              n_data = j;
              break;
            }
          v[j] = b64_value (ch, url);
          if (v[j] < 0)
            return NULL;
        }
      {
        guint8 bytes[3];
        guint32 acc = (guint32)v[0] << 18 | (guint32)v[1] << 12;
        if (n_data > 2)
          acc |= (guint32)v[2] << 6;
        if (n_data > 3)
          acc |= (guint32)v[3];
        bytes[0] = (guint8)(acc >> 16);
        bytes[1] = (guint8)(acc >> 8);
        bytes[2] = (guint8)acc;
        g_byte_array_append (out, bytes, (guint)n_data - 1);
      }
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* JOSE base64url: the padding is optional, as the reference re-adds it. */
static GBytes *
jose_b64_decode (const char *s, gsize len)
{
  g_autofree char *padded = NULL;

  switch (len % 4)
    {
    case 0:
      return b64_decode_padded (s, len, TRUE);
    case 2:
      padded = g_strdup_printf ("%.*s==", (int)len, s);
      return b64_decode_padded (padded, len + 2, TRUE);
    case 3:
      padded = g_strdup_printf ("%.*s=", (int)len, s);
      return b64_decode_padded (padded, len + 1, TRUE);
    default:
      return NULL;
    }
}

/* ---- libtrust keys ------------------------------------------------------ */

char *
notary_auth_key_id (GBytes *spki_der)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  GString *out = g_string_new (NULL);
  guint bits = 0, acc = 0, n_chars = 0;

  g_checksum_update (sum, g_bytes_get_data (spki_der, NULL), g_bytes_get_size (spki_der));
  g_checksum_get_digest (sum, digest, &digest_len);
  /* 240 bits are exactly 48 base32 characters: no padding to trim. */
  for (gsize i = 0; i < KEY_ID_HASH_BYTES; i++)
    {
      acc = (acc << 8) | digest[i];
      bits += 8;
      while (bits >= 5)
        {
          bits -= 5;
          if (n_chars > 0 && n_chars % 4 == 0)
            g_string_append_c (out, ':');
          g_string_append_c (out, alphabet[(acc >> bits) & 0x1f]);
          n_chars++;
        }
    }
  return g_string_free (out, FALSE);
}

/* What the signing key allows, in libtrust's terms: an EC key on one of the
 * three NIST curves signs with exactly one JWS algorithm; an RSA key signs
 * RS256/384/512.  Any other key type is unusable, as for libtrust. */
typedef struct
{
  gboolean is_rsa;
  const char *ec_alg; /* "ES256"… for EC keys */
  guint ec_octets;    /* bytes of r (and of s) */
  gnutls_sign_algorithm_t ec_sign;
  guint rsa_bytes; /* modulus length */
} KeyInfo;

static gboolean
key_info (gnutls_pubkey_t pk, KeyInfo *info, GError **error)
{
  unsigned int bits = 0;
  int algo = gnutls_pubkey_get_pk_algorithm (pk, &bits);

  memset (info, 0, sizeof *info);
  if (algo == GNUTLS_PK_RSA)
    {
      info->is_rsa = TRUE;
      info->rsa_bytes = (bits + 7) / 8;
      return TRUE;
    }
  if (algo == GNUTLS_PK_ECDSA)
    {
      gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
      int ret = gnutls_pubkey_export_ecc_raw2 (pk, &curve, NULL, NULL, 0);
      if (ret < 0)
        {
          g_set_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE, "unable to read EC public key: %s",
                       gnutls_strerror (ret));
          return FALSE;
        }
      switch (curve)
        {
        case GNUTLS_ECC_CURVE_SECP256R1:
          *info = (KeyInfo){ FALSE, "ES256", 32, GNUTLS_SIGN_ECDSA_SHA256, 0 };
          return TRUE;
        case GNUTLS_ECC_CURVE_SECP384R1:
          *info = (KeyInfo){ FALSE, "ES384", 48, GNUTLS_SIGN_ECDSA_SHA384, 0 };
          return TRUE;
        case GNUTLS_ECC_CURVE_SECP521R1:
          *info = (KeyInfo){ FALSE, "ES512", 66, GNUTLS_SIGN_ECDSA_SHA512, 0 };
          return TRUE;
        default:
          g_set_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE, "unsupported ec curve: %s",
                       gnutls_ecc_curve_get_name (curve) ? gnutls_ecc_curve_get_name (curve) : "unknown");
          return FALSE;
        }
    }
  g_set_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE, "public key type %s is not supported",
               gnutls_pk_get_name (algo) ? gnutls_pk_get_name (algo) : "unknown");
  return FALSE;
}

static GBytes *
pubkey_spki (gnutls_pubkey_t pk, GError **error)
{
  gnutls_datum_t der = { NULL, 0 };
  int ret = gnutls_pubkey_export2 (pk, GNUTLS_X509_FMT_DER, &der);
  GBytes *out;

  if (ret < 0)
    {
      g_set_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE, "unable to encode public key: %s",
                   gnutls_strerror (ret));
      return NULL;
    }
  out = g_bytes_new (der.data, der.size);
  gnutls_free (der.data);
  return out;
}

static char *
pubkey_key_id (gnutls_pubkey_t pk, GError **error)
{
  g_autoptr (GBytes) spki = pubkey_spki (pk, error);
  return spki != NULL ? notary_auth_key_id (spki) : NULL;
}

static gnutls_pubkey_t
pubkey_from_spki (GBytes *spki)
{
  gnutls_pubkey_t pk = NULL;
  gnutls_datum_t der
      = { (unsigned char *)g_bytes_get_data (spki, NULL), (unsigned int)g_bytes_get_size (spki) };

  if (gnutls_pubkey_init (&pk) < 0)
    return NULL;
  if (gnutls_pubkey_import (pk, &der, GNUTLS_X509_FMT_DER) < 0)
    {
      gnutls_pubkey_deinit (pk);
      return NULL;
    }
  return pk;
}

static gnutls_pubkey_t
pubkey_from_crt (gnutls_x509_crt_t crt, GError **error)
{
  gnutls_pubkey_t pk = NULL;
  int ret = gnutls_pubkey_init (&pk);

  if (ret >= 0)
    ret = gnutls_pubkey_import_x509 (pk, crt, 0);
  if (ret < 0)
    {
      g_set_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE,
                   "unable to read certificate public key: %s", gnutls_strerror (ret));
      if (pk != NULL)
        gnutls_pubkey_deinit (pk);
      return NULL;
    }
  return pk;
}

/* ---- configuration ------------------------------------------------------ */

static gboolean throw_config (GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
static gboolean
throw_config (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, NOTARY_AUTH_ERROR, code, msg);
  return FALSE;
}

static char *
go_quote (const char *s)
{
  GString *out = g_string_new (NULL);
  append_go_quoted (out, s);
  return g_string_free (out, FALSE);
}

/* Go prints syscall errors in lower case ("no such file or directory"). */
static char *
go_errno_text (int errsv)
{
  char *text = g_strdup (g_strerror (errsv));
  if (text[0] != '\0')
    text[0] = g_ascii_tolower (text[0]);
  return text;
}

static gboolean
read_bundle (const char *path, GBytes **out, GError **error)
{
  g_autoptr (GByteArray) data = g_byte_array_new ();
  g_autofree char *quoted = go_quote (path);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      int errsv = errno;
      g_autofree char *why = go_errno_text (errsv);
      return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE,
                           "unable to open token auth root certificate bundle file %s: open %s: %s", quoted,
                           path, why);
    }
  for (;;)
    {
      guint8 buf[8192];
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_autofree char *why = go_errno_text (errsv);
          close (fd);
          return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE,
                               "unable to read token auth root certificate bundle file %s: read %s: %s",
                               quoted, path, why);
        }
      if (n == 0)
        break;
      g_byte_array_append (data, buf, (guint)n);
    }
  close (fd);
  *out = g_byte_array_free_to_bytes (g_steal_pointer (&data));
  return TRUE;
}

static void
free_crt_list (gnutls_x509_crt_t *crts, unsigned int n)
{
  for (unsigned int i = 0; i < n; i++)
    gnutls_x509_crt_deinit (crts[i]);
  gnutls_free (crts);
}

/* Loads the bundle into the trust list and records each root's key under
 * its libtrust key ID, for "kid" and "jwk" tokens. */
static gboolean
load_roots (NotaryAuth *auth, const char *path, GError **error)
{
  g_autoptr (GBytes) pem = NULL;
  gnutls_x509_crt_t *crts = NULL;
  unsigned int n_crts = 0;
  gnutls_datum_t datum;
  int ret;

  if (!read_bundle (path, &pem, error))
    return FALSE;
  if (g_bytes_get_size (pem) == 0)
    return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE,
                         "token auth requires at least one token signing root certificate");
  datum.data = (unsigned char *)g_bytes_get_data (pem, NULL);
  datum.size = (unsigned int)g_bytes_get_size (pem);
  ret = gnutls_x509_crt_list_import2 (&crts, &n_crts, &datum, GNUTLS_X509_FMT_PEM, 0);
  if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND || (ret >= 0 && n_crts == 0))
    {
      free_crt_list (crts, n_crts);
      return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE,
                           "token auth requires at least one token signing root certificate");
    }
  if (ret < 0)
    return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE, "unable to parse token auth root certificate: %s",
                         gnutls_strerror (ret));

  for (unsigned int i = 0; i < n_crts; i++)
    {
      g_auto (gnutls_pubkey_t) pk = NULL;
      g_autoptr (GBytes) spki = NULL;
      g_autoptr (GError) local_error = NULL;
      g_autofree char *id = NULL;
      KeyInfo info;

      pk = pubkey_from_crt (crts[i], &local_error);
      if (pk != NULL && key_info (pk, &info, &local_error))
        spki = pubkey_spki (pk, &local_error);
      if (spki == NULL)
        {
          free_crt_list (crts, n_crts);
          return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE,
                               "unable to get public key from token auth root certificate: %s",
                               local_error->message);
        }
      id = notary_auth_key_id (spki);
      g_hash_table_replace (auth->trusted_keys, g_steal_pointer (&id), g_steal_pointer (&spki));
    }

  /* The trust list takes the certificates; only the array is ours. */
  ret = gnutls_x509_trust_list_add_cas (auth->trust, crts, n_crts, 0);
  gnutls_free (crts);
  if (ret < 0)
    return throw_config (error, NOTARY_AUTH_ERROR_BUNDLE, "unable to load token auth root certificates: %s",
                         gnutls_strerror (ret));
  return TRUE;
}

static const char *
option_string (JsonObject *options, const char *key)
{
  JsonNode *node = json_object_get_member (options, key);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

NotaryAuth *
notary_auth_new_from_config (JsonObject *auth_section, const char *config_dir, GError **error)
{
  /* Order of the reference's checks, and of its error messages. */
  static const char *const required[] = { "realm", "issuer", "service", "rootcertbundle" };
  const char *values[G_N_ELEMENTS (required)];
  g_autoptr (NotaryAuth) auth = NULL;
  g_autofree char *bundle_path = NULL;
  JsonNode *type_node, *options_node, *redirect_node;
  JsonObject *options;
  int ret;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (auth_section == NULL)
    return NULL;
  type_node = json_object_get_member (auth_section, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node)
      || json_node_get_value_type (type_node) != G_TYPE_STRING
      || g_strcmp0 (json_node_get_string (type_node), "token") != 0)
    return NULL;

  options_node = json_object_get_member (auth_section, "options");
  if (options_node == NULL || !JSON_NODE_HOLDS_OBJECT (options_node))
    {
      throw_config (error, NOTARY_AUTH_ERROR_CONFIG, "auth.options must be a map[string]interface{}");
      return NULL;
    }
  options = json_node_get_object (options_node);

  for (gsize i = 0; i < G_N_ELEMENTS (required); i++)
    {
      values[i] = option_string (options, required[i]);
      if (values[i] == NULL)
        {
          throw_config (error, NOTARY_AUTH_ERROR_CONFIG, "token auth requires a valid option string: \"%s\"",
                        required[i]);
          return NULL;
        }
    }

  auth = g_new0 (NotaryAuth, 1);
  g_mutex_init (&auth->trust_lock);
  auth->realm = g_strdup (values[0]);
  auth->issuer = g_strdup (values[1]);
  auth->service = g_strdup (values[2]);
  auth->trusted_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);

  redirect_node = json_object_get_member (options, "autoredirect");
  if (redirect_node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (redirect_node)
          || json_node_get_value_type (redirect_node) != G_TYPE_BOOLEAN)
        {
          throw_config (error, NOTARY_AUTH_ERROR_CONFIG,
                        "token auth requires a valid option bool: autoredirect");
          return NULL;
        }
      auth->autoredirect = json_node_get_boolean (redirect_node);
    }

  if (config_dir != NULL && values[3][0] != '\0' && !g_path_is_absolute (values[3]))
    bundle_path = g_build_filename (config_dir, values[3], NULL);
  else
    bundle_path = g_strdup (values[3]);

  ret = gnutls_x509_trust_list_init (&auth->trust, 0);
  if (ret < 0)
    {
      throw_config (error, NOTARY_AUTH_ERROR_BUNDLE, "unable to create trust list: %s",
                    gnutls_strerror (ret));
      return NULL;
    }
  if (!load_roots (auth, bundle_path, error))
    return NULL;
  return g_steal_pointer (&auth);
}

void
notary_auth_free (NotaryAuth *auth)
{
  if (auth == NULL)
    return;
  g_free (auth->realm);
  g_free (auth->service);
  g_free (auth->issuer);
  if (auth->trust != NULL)
    gnutls_x509_trust_list_deinit (auth->trust, 1);
  g_clear_pointer (&auth->trusted_keys, g_hash_table_unref);
  g_mutex_clear (&auth->trust_lock);
  g_free (auth);
}

/* ---- token decoding ----------------------------------------------------- */

typedef struct
{
  const char *type;
  const char *class;
  const char *name;
  GPtrArray *actions; /* const char * */
} ResourceActions;

static void
resource_actions_free (ResourceActions *ra)
{
  if (ra == NULL)
    return;
  g_clear_pointer (&ra->actions, g_ptr_array_unref);
  g_free (ra);
}

/* The reference's Header and ClaimSet; strings point into the parsed JSON. */
typedef struct
{
  JsonNode *header_root;
  JsonNode *claims_root;
  char *signing_input; /* "<header>.<claims>", what was signed */
  GBytes *signature;

  const char *typ, *alg, *kid;
  GPtrArray *x5c; /* const char *; NULL when absent */
  JsonNode *jwk;  /* NULL when absent or null */

  const char *iss, *sub, *aud, *jti;
  gint64 exp, nbf, iat;
  GPtrArray *access; /* ResourceActions *, entries may be NULL */
} Token;

static void
token_free (Token *t)
{
  g_clear_pointer (&t->header_root, json_node_unref);
  g_clear_pointer (&t->claims_root, json_node_unref);
  g_free (t->signing_input);
  g_clear_pointer (&t->signature, g_bytes_unref);
  g_clear_pointer (&t->x5c, g_ptr_array_unref);
  g_clear_pointer (&t->access, g_ptr_array_unref);
  g_free (t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Token, token_free)

typedef enum
{
  FIELD_STRING, /* const char * */
  FIELD_INT64,  /* gint64 */
  FIELD_STRV,   /* GPtrArray * of const char * */
  FIELD_RAW,    /* JsonNode *, borrowed */
  FIELD_ACCESS, /* GPtrArray * of ResourceActions * */
} FieldKind;

typedef struct
{
  const char *name;
  FieldKind kind;
  gsize offset;
} Field;

static const Field header_fields[] = {
  { "typ", FIELD_STRING, G_STRUCT_OFFSET (Token, typ) },
  { "alg", FIELD_STRING, G_STRUCT_OFFSET (Token, alg) },
  { "kid", FIELD_STRING, G_STRUCT_OFFSET (Token, kid) },
  { "x5c", FIELD_STRV, G_STRUCT_OFFSET (Token, x5c) },
  { "jwk", FIELD_RAW, G_STRUCT_OFFSET (Token, jwk) },
  { NULL },
};

static const Field claims_fields[] = {
  { "iss", FIELD_STRING, G_STRUCT_OFFSET (Token, iss) },
  { "sub", FIELD_STRING, G_STRUCT_OFFSET (Token, sub) },
  { "aud", FIELD_STRING, G_STRUCT_OFFSET (Token, aud) },
  { "exp", FIELD_INT64, G_STRUCT_OFFSET (Token, exp) },
  { "nbf", FIELD_INT64, G_STRUCT_OFFSET (Token, nbf) },
  { "iat", FIELD_INT64, G_STRUCT_OFFSET (Token, iat) },
  { "jti", FIELD_STRING, G_STRUCT_OFFSET (Token, jti) },
  { "access", FIELD_ACCESS, G_STRUCT_OFFSET (Token, access) },
  { NULL },
};

static const Field resource_fields[] = {
  { "type", FIELD_STRING, G_STRUCT_OFFSET (ResourceActions, type) },
  { "class", FIELD_STRING, G_STRUCT_OFFSET (ResourceActions, class) },
  { "name", FIELD_STRING, G_STRUCT_OFFSET (ResourceActions, name) },
  { "actions", FIELD_STRV, G_STRUCT_OFFSET (ResourceActions, actions) },
  { NULL },
};

static gboolean decode_struct (JsonNode *node, const Field *fields, gpointer out);

static gboolean
node_is_null (JsonNode *node)
{
  return JSON_NODE_HOLDS_NULL (node);
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
decode_field (JsonNode *node, FieldKind kind, gpointer slot)
{
  /* encoding/json leaves a field untouched for null, whatever its type. */
  if (node_is_null (node))
    return TRUE;
  switch (kind)
    {
    case FIELD_STRING:
      if (!node_is_string (node))
        return FALSE;
      *(const char **)slot = json_node_get_string (node);
      return TRUE;

    case FIELD_INT64:
      /* A Go int64 takes only integer literals: 1.0 or 1e3 are errors. */
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
      *(gint64 *)slot = json_node_get_int (node);
      return TRUE;

    case FIELD_RAW:
      *(JsonNode **)slot = node;
      return TRUE;

    case FIELD_STRV:
    case FIELD_ACCESS:
      {
        JsonArray *array;
        GPtrArray **out = slot;
        g_autoptr (GPtrArray) items = NULL;

        if (!JSON_NODE_HOLDS_ARRAY (node))
          return FALSE;
        array = json_node_get_array (node);
        items = g_ptr_array_new_with_free_func (kind == FIELD_ACCESS ? (GDestroyNotify)resource_actions_free
                                                                     : NULL);
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            JsonNode *el = json_array_get_element (array, i);
            if (kind == FIELD_STRV)
              {
                if (node_is_null (el))
                  g_ptr_array_add (items, (gpointer) "");
                else if (node_is_string (el))
                  g_ptr_array_add (items, (gpointer)json_node_get_string (el));
                else
                  return FALSE;
              }
            else if (node_is_null (el))
              g_ptr_array_add (items, NULL);
            else
              {
                ResourceActions *ra = g_new0 (ResourceActions, 1);
                g_ptr_array_add (items, ra);
                if (!decode_struct (el, resource_fields, ra))
                  return FALSE;
              }
          }
        if (*out != NULL)
          g_ptr_array_unref (*out);
        *out = g_steal_pointer (&items);
        return TRUE;
      }
    }
  g_assert_not_reached ();
}

/* Fill @out from the JSON object @node as encoding/json fills a struct:
 * exact member name first, else an ASCII case-insensitive one; later
 * members win; unknown members are ignored; null (the whole value) is an
 * empty struct. */
static gboolean
decode_struct (JsonNode *node, const Field *fields, gpointer out)
{
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;

  if (node_is_null (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  json_object_iter_init_ordered (&iter, json_node_get_object (node));
  while (json_object_iter_next_ordered (&iter, &member, &value))
    {
      const Field *match = NULL;
      for (const Field *f = fields; f->name != NULL && match == NULL; f++)
        if (strcmp (f->name, member) == 0)
          match = f;
      for (const Field *f = fields; f->name != NULL && match == NULL; f++)
        if (g_ascii_strcasecmp (f->name, member) == 0)
          match = f;
      if (match != NULL && !decode_field (value, match->kind, G_STRUCT_MEMBER_P (out, match->offset)))
        return FALSE;
    }
  return TRUE;
}

static JsonNode *
parse_json_bytes (GBytes *bytes)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);

  /* json-glib stops at a NUL; Go would reject the text anyway. */
  if (len == 0 || memchr (data, '\0', len) != NULL)
    return NULL;
  if (!json_parser_load_from_data (parser, data, (gssize)len, NULL))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    return NULL;
  return json_node_ref (json_parser_get_root (parser));
}

/* The reference's NewToken: NULL means "malformed token". */
static Token *
token_parse (const char *raw)
{
  g_auto (GStrv) parts = g_strsplit (raw, ".", -1);
  g_autoptr (Token) t = g_new0 (Token, 1);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GBytes) claims = NULL;

  if (g_strv_length (parts) != 3)
    return NULL;
  header = jose_b64_decode (parts[0], strlen (parts[0]));
  claims = jose_b64_decode (parts[1], strlen (parts[1]));
  t->signature = jose_b64_decode (parts[2], strlen (parts[2]));
  if (header == NULL || claims == NULL || t->signature == NULL)
    return NULL;
  t->signing_input = g_strdup_printf ("%s.%s", parts[0], parts[1]);

  t->header_root = parse_json_bytes (header);
  if (t->header_root == NULL || !decode_struct (t->header_root, header_fields, t))
    return NULL;
  t->claims_root = parse_json_bytes (claims);
  if (t->claims_root == NULL || !decode_struct (t->claims_root, claims_fields, t))
    return NULL;
  return g_steal_pointer (&t);
}

/* ---- signing key -------------------------------------------------------- */

#define throw_invalid(error, ...) \
  notary_throw (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_INVALID_TOKEN, __VA_ARGS__)

static gnutls_x509_crt_t
crt_from_b64 (const char *b64, GError **error)
{
  g_autoptr (GBytes) der = b64_decode_padded (b64, strlen (b64), FALSE);
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t datum;
  int ret;

  if (der == NULL)
    {
      throw_invalid (error, "unable to decode certificate: illegal base64 data");
      return NULL;
    }
  datum.data = (unsigned char *)g_bytes_get_data (der, NULL);
  datum.size = (unsigned int)g_bytes_get_size (der);
  ret = gnutls_x509_crt_init (&crt);
  if (ret >= 0)
    ret = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    {
      throw_invalid (error, "unable to parse certificate: %s", gnutls_strerror (ret));
      if (crt != NULL)
        gnutls_x509_crt_deinit (crt);
      return NULL;
    }
  return crt;
}

/* An x5c chain (leaf first, base64 DER) verified up to the root bundle, any
 * extended key usage; returns the leaf's key. */
static gnutls_pubkey_t
key_from_chain (NotaryAuth *auth, GPtrArray *x5c, GError **error)
{
  g_autoptr (GPtrArray) crts = g_ptr_array_new_with_free_func ((GDestroyNotify)gnutls_x509_crt_deinit);
  g_auto (gnutls_pubkey_t) pk = NULL;
  unsigned int status = 0;
  KeyInfo info;
  int ret;

  if (x5c->len == 0)
    {
      throw_invalid (error, "empty x509 certificate chain");
      return NULL;
    }
  for (guint i = 0; i < x5c->len; i++)
    {
      gnutls_x509_crt_t crt = crt_from_b64 (g_ptr_array_index (x5c, i), error);
      if (crt == NULL)
        return NULL;
      g_ptr_array_add (crts, crt);
    }

  g_mutex_lock (&auth->trust_lock);
  ret = gnutls_x509_trust_list_verify_crt2 (auth->trust, (gnutls_x509_crt_t *)crts->pdata, crts->len, NULL, 0,
                                            0, &status, NULL);
  g_mutex_unlock (&auth->trust_lock);
  if (ret < 0 || status != 0)
    {
      gnutls_datum_t why = { NULL, 0 };
      if (ret >= 0 && gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &why, 0) >= 0)
        {
          throw_invalid (error, "unable to verify certificate chain: %s", (const char *)why.data);
          gnutls_free (why.data);
        }
      else
        throw_invalid (error, "unable to verify certificate chain: %s",
                       ret < 0 ? gnutls_strerror (ret) : "untrusted");
      return NULL;
    }

  pk = pubkey_from_crt (g_ptr_array_index (crts, 0), error);
  if (pk == NULL || !key_info (pk, &info, error))
    return NULL;
  return g_steal_pointer (&pk);
}

/* libtrust's stringFromMap. */
static const char *
jwk_string (JsonObject *jwk, const char *key, GError **error)
{
  JsonNode *node = json_object_get_member (jwk, key);
  if (node == NULL)
    {
      throw_invalid (error, "JWK: \"%s\" value not specified", key);
      return NULL;
    }
  if (!node_is_string (node))
    {
      throw_invalid (error, "JWK: \"%s\" value must be a string", key);
      return NULL;
    }
  return json_node_get_string (node);
}

static GBytes *
jwk_b64 (JsonObject *jwk, const char *key, GError **error)
{
  const char *text = jwk_string (jwk, key, error);
  GBytes *bytes;

  if (text == NULL)
    return NULL;
  bytes = jose_b64_decode (text, strlen (text));
  if (bytes == NULL)
    throw_invalid (error, "JWK: \"%s\" is not valid base64url", key);
  return bytes;
}

static gnutls_datum_t
datum_of (GBytes *bytes)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  return (gnutls_datum_t){ (unsigned char *)data, (unsigned int)len };
}

/* libtrust's UnmarshalPublicKeyJWK for the EC and RSA public key types. */
static gnutls_pubkey_t
key_from_jwk_object (JsonObject *jwk, GError **error)
{
  g_auto (gnutls_pubkey_t) pk = NULL;
  const char *kty = jwk_string (jwk, "kty", error);
  int ret;

  if (kty == NULL)
    return NULL;
  if (gnutls_pubkey_init (&pk) < 0)
    {
      throw_invalid (error, "out of memory");
      return NULL;
    }
  if (g_str_equal (kty, "EC"))
    {
      const char *crv = jwk_string (jwk, "crv", error);
      g_autoptr (GBytes) x = NULL;
      g_autoptr (GBytes) y = NULL;
      gnutls_ecc_curve_t curve;
      gsize octets;
      gnutls_datum_t dx, dy;

      if (crv == NULL)
        return NULL;
      if (g_str_equal (crv, "P-256"))
        curve = GNUTLS_ECC_CURVE_SECP256R1, octets = 32;
      else if (g_str_equal (crv, "P-384"))
        curve = GNUTLS_ECC_CURVE_SECP384R1, octets = 48;
      else if (g_str_equal (crv, "P-521"))
        curve = GNUTLS_ECC_CURVE_SECP521R1, octets = 66;
      else
        {
          throw_invalid (error, "JWK EC Public Key curve identifier not supported");
          return NULL;
        }
      x = jwk_b64 (jwk, "x", error);
      if (x == NULL)
        return NULL;
      y = jwk_b64 (jwk, "y", error);
      if (y == NULL)
        return NULL;
      if (g_bytes_get_size (x) != octets || g_bytes_get_size (y) != octets)
        {
          throw_invalid (error, "JWK EC Public Key coordinate has the wrong length");
          return NULL;
        }
      dx = datum_of (x);
      dy = datum_of (y);
      ret = gnutls_pubkey_import_ecc_raw (pk, curve, &dx, &dy);
    }
  else if (g_str_equal (kty, "RSA"))
    {
      g_autoptr (GBytes) n = jwk_b64 (jwk, "n", error);
      g_autoptr (GBytes) e = NULL;
      gnutls_datum_t dn, de;

      if (n == NULL)
        return NULL;
      e = jwk_b64 (jwk, "e", error);
      if (e == NULL)
        return NULL;
      /* libtrust reads e into 32 bits. */
      if (g_bytes_get_size (e) > 4)
        {
          throw_invalid (error, "JWK RSA Public Key exponent too large");
          return NULL;
        }
      dn = datum_of (n);
      de = datum_of (e);
      ret = gnutls_pubkey_import_rsa_raw (pk, &dn, &de);
    }
  else
    {
      throw_invalid (error, "JWK Public Key type not supported: %s", kty);
      return NULL;
    }
  if (ret < 0)
    {
      throw_invalid (error, "unable to import JWK: %s", gnutls_strerror (ret));
      return NULL;
    }

  /* An optional "kid" must name this very key. */
  if (json_object_has_member (jwk, "kid"))
    {
      const char *kid = jwk_string (jwk, "kid", error);
      g_autofree char *id = NULL;
      if (kid == NULL)
        return NULL;
      id = pubkey_key_id (pk, error);
      if (id == NULL)
        return NULL;
      if (!g_str_equal (kid, id))
        {
          throw_invalid (error, "JWK Public Key ID does not match: %s", kid);
          return NULL;
        }
    }
  if (g_str_equal (kty, "RSA") && json_object_has_member (jwk, "d"))
    {
      throw_invalid (error, "JWK RSA Public Key cannot contain private exponent");
      return NULL;
    }
  return g_steal_pointer (&pk);
}

static gnutls_pubkey_t
key_from_jwk (NotaryAuth *auth, JsonNode *jwk_node, GError **error)
{
  g_auto (gnutls_pubkey_t) pk = NULL;
  g_auto (gnutls_pubkey_t) leaf = NULL;
  g_autoptr (GPtrArray) x5c = NULL;
  g_autofree char *id = NULL;
  g_autofree char *leaf_id = NULL;
  JsonObject *jwk;
  JsonNode *x5c_node;
  KeyInfo info;

  if (!JSON_NODE_HOLDS_OBJECT (jwk_node))
    {
      throw_invalid (error, "unable to decode raw JWK value");
      return NULL;
    }
  jwk = json_node_get_object (jwk_node);
  pk = key_from_jwk_object (jwk, error);
  if (pk == NULL)
    return NULL;
  if (!key_info (pk, &info, error))
    return NULL;
  id = pubkey_key_id (pk, error);
  if (id == NULL)
    return NULL;

  /* Without a chain (an "x5c" that is not an array counts as none) the JWK
   * must itself be one of the root keys. */
  x5c_node = json_object_get_member (jwk, "x5c");
  if (x5c_node == NULL || !JSON_NODE_HOLDS_ARRAY (x5c_node))
    {
      if (!g_hash_table_contains (auth->trusted_keys, id))
        {
          throw_invalid (error, "untrusted JWK with no certificate chain");
          return NULL;
        }
      return g_steal_pointer (&pk);
    }

  x5c = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (json_node_get_array (x5c_node)); i++)
    {
      JsonNode *el = json_array_get_element (json_node_get_array (x5c_node), i);
      if (!node_is_string (el) || json_node_get_string (el)[0] == '\0')
        {
          throw_invalid (error, "malformed certificate chain");
          return NULL;
        }
      g_ptr_array_add (x5c, (gpointer)json_node_get_string (el));
    }
  leaf = key_from_chain (auth, x5c, error);
  if (leaf == NULL)
    {
      g_prefix_error (error, "could not verify JWK certificate chain: ");
      return NULL;
    }
  leaf_id = pubkey_key_id (leaf, error);
  if (leaf_id == NULL)
    return NULL;
  if (!g_str_equal (leaf_id, id))
    {
      throw_invalid (error, "leaf certificate public key ID does not match JWK key ID");
      return NULL;
    }
  return g_steal_pointer (&pk);
}

/* The reference's VerifySigningKey: x5c, else jwk, else kid. */
static gnutls_pubkey_t
signing_key (NotaryAuth *auth, Token *t, GError **error)
{
  if (t->x5c != NULL && t->x5c->len > 0)
    return key_from_chain (auth, t->x5c, error);
  if (t->jwk != NULL)
    return key_from_jwk (auth, t->jwk, error);
  if (t->kid != NULL && t->kid[0] != '\0')
    {
      GBytes *spki = g_hash_table_lookup (auth->trusted_keys, t->kid);
      gnutls_pubkey_t pk;
      if (spki == NULL)
        {
          throw_invalid (error, "token signed by untrusted key with ID: \"%s\"", t->kid);
          return NULL;
        }
      pk = pubkey_from_spki (spki);
      if (pk == NULL)
        throw_invalid (error, "unable to load trusted key %s", t->kid);
      return pk;
    }
  throw_invalid (error, "unable to get token signing key");
  return NULL;
}

/* Strip an unsigned big-endian integer's leading zero bytes (keeping one). */
static gnutls_datum_t
trim_integer (const guint8 *p, gsize len)
{
  while (len > 1 && p[0] == 0)
    p++, len--;
  return (gnutls_datum_t){ (unsigned char *)p, (unsigned int)len };
}

/* libtrust's PublicKey.Verify: the JWS algorithm must be the one the key
 * type allows; ECDSA signatures are r||s of the curve's size. */
static gboolean
verify_signature (gnutls_pubkey_t pk, const char *alg, const char *input, GBytes *sig, GError **error)
{
  gnutls_datum_t data = { (unsigned char *)input, (unsigned int)strlen (input) };
  gsize sig_len = 0;
  const guint8 *sig_data = g_bytes_get_data (sig, &sig_len);
  gnutls_sign_algorithm_t sign_algo;
  KeyInfo info;
  int ret;

  if (alg == NULL)
    alg = "";
  if (!key_info (pk, &info, error))
    return FALSE;

  if (info.is_rsa)
    {
      gnutls_datum_t s = { (unsigned char *)sig_data, (unsigned int)sig_len };
      if (g_str_equal (alg, "RS256"))
        sign_algo = GNUTLS_SIGN_RSA_SHA256;
      else if (g_str_equal (alg, "RS384"))
        sign_algo = GNUTLS_SIGN_RSA_SHA384;
      else if (g_str_equal (alg, "RS512"))
        sign_algo = GNUTLS_SIGN_RSA_SHA512;
      else
        return throw_invalid (error, "RSA key cannot verify signature algorithm \"%s\"", alg);
      if (sig_len != info.rsa_bytes)
        return throw_invalid (error, "invalid %s signature: wrong length", alg);
      ret = gnutls_pubkey_verify_data2 (pk, sign_algo, 0, &data, &s);
    }
  else
    {
      gnutls_datum_t r, s, der = { NULL, 0 };
      if (!g_str_equal (alg, info.ec_alg))
        return throw_invalid (error, "EC key does not support signature algorithm \"%s\"", alg);
      if (sig_len != 2 * info.ec_octets)
        return throw_invalid (error, "signature length is %" G_GSIZE_FORMAT " octets long, should be %u",
                              sig_len, 2 * info.ec_octets);
      r = trim_integer (sig_data, info.ec_octets);
      s = trim_integer (sig_data + info.ec_octets, info.ec_octets);
      ret = gnutls_encode_rs_value (&der, &r, &s);
      if (ret >= 0)
        ret = gnutls_pubkey_verify_data2 (pk, info.ec_sign, 0, &data, &der);
      gnutls_free (der.data);
    }
  if (ret < 0)
    return throw_invalid (error, "invalid signature: %s", gnutls_strerror (ret));
  return TRUE;
}

/* The reference's Token.Verify; any failure means "invalid token". */
static gboolean
token_verify (NotaryAuth *auth, Token *t, gint64 now_us, GError **error)
{
  gint64 now_s = now_us / G_USEC_PER_SEC;
  gboolean now_has_fraction = now_us % G_USEC_PER_SEC != 0;
  g_auto (gnutls_pubkey_t) pk = NULL;

  if (g_strcmp0 (t->iss ? t->iss : "", auth->issuer) != 0)
    return throw_invalid (error, "token from untrusted issuer: \"%s\"", t->iss ? t->iss : "");
  if (g_strcmp0 (t->aud ? t->aud : "", auth->service) != 0)
    return throw_invalid (error, "token intended for another audience: \"%s\"", t->aud ? t->aud : "");

  /* now > exp + leeway, and now < nbf - leeway, without overflow. */
  if (t->exp <= G_MAXINT64 - LEEWAY_SECONDS
      && (now_s > t->exp + LEEWAY_SECONDS || (now_s == t->exp + LEEWAY_SECONDS && now_has_fraction)))
    return throw_invalid (error, "token expired at %" G_GINT64_FORMAT, t->exp);
  if (t->nbf >= G_MININT64 + LEEWAY_SECONDS && now_s < t->nbf - LEEWAY_SECONDS)
    return throw_invalid (error, "token not to be used before %" G_GINT64_FORMAT, t->nbf);

  if (g_bytes_get_size (t->signature) == 0)
    return throw_invalid (error, "token has no signature");
  pk = signing_key (auth, t, error);
  if (pk == NULL)
    return FALSE;
  return verify_signature (pk, t->alg, t->signing_input, t->signature, error);
}

/* ---- access and the challenge ------------------------------------------- */

/* Does the token's access claim grant @action on (@type, @name)?  The
 * granted actions of all entries for one resource are pooled, and "*"
 * among them grants everything. */
static gboolean
token_grants (Token *t, const char *type, const char *name, const char *action)
{
  if (t->access == NULL)
    return FALSE;
  for (guint i = 0; i < t->access->len; i++)
    {
      ResourceActions *ra = g_ptr_array_index (t->access, i);
      if (ra == NULL || ra->actions == NULL || g_strcmp0 (ra->type ? ra->type : "", type) != 0
          || g_strcmp0 (ra->name ? ra->name : "", name) != 0)
        continue;
      for (guint j = 0; j < ra->actions->len; j++)
        {
          const char *granted = g_ptr_array_index (ra->actions, j);
          if (g_str_equal (granted, "*") || g_str_equal (granted, action))
            return TRUE;
        }
    }
  return FALSE;
}

typedef enum
{
  CHALLENGE_NO_TOKEN,
  CHALLENGE_INVALID_TOKEN,
  CHALLENGE_INSUFFICIENT_SCOPE,
} ChallengeKind;

/* "type:name:a1,a2" per resource, space-separated; resources and actions in
 * first-seen order (the reference's order is Go map order, unspecified). */
static char *
scope_param (const NotaryAccess *access, gsize n_access)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < n_access; i++)
    {
      gboolean first_action = TRUE;
      gboolean seen = FALSE;

      for (gsize k = 0; k < i && !seen; k++)
        seen = g_str_equal (access[k].type, access[i].type) && g_str_equal (access[k].name, access[i].name);
      if (seen)
        continue;
      if (out->len > 0)
        g_string_append_c (out, ' ');
      g_string_append_printf (out, "%s:%s:", access[i].type, access[i].name);

      /* Actions of every item naming this resource, without repeats. */
      g_autoptr (GHashTable) actions = g_hash_table_new (g_str_hash, g_str_equal);
      for (gsize k = i; k < n_access; k++)
        {
          if (!g_str_equal (access[k].type, access[i].type) || !g_str_equal (access[k].name, access[i].name))
            continue;
          for (const char *const *a = access[k].actions; a != NULL && *a != NULL; a++)
            {
              if (!g_hash_table_add (actions, (gpointer)*a))
                continue;
              if (!first_action)
                g_string_append_c (out, ',');
              g_string_append (out, *a);
              first_action = FALSE;
            }
        }
    }
  return g_string_free (out, FALSE);
}

static char *
challenge_header (NotaryAuth *auth, const char *host, const NotaryAccess *access, gsize n_access,
                  ChallengeKind kind)
{
  GString *out = g_string_new ("Bearer realm=");
  g_autofree char *scope = scope_param (access, n_access);

  if (auth->autoredirect)
    {
      g_autofree char *realm = g_strdup_printf ("https://%s/auth/token", host ? host : "");
      append_go_quoted (out, realm);
    }
  else
    append_go_quoted (out, auth->realm);
  g_string_append (out, ",service=");
  append_go_quoted (out, auth->service);
  if (scope[0] != '\0')
    {
      g_string_append (out, ",scope=");
      append_go_quoted (out, scope);
    }
  if (kind == CHALLENGE_INVALID_TOKEN)
    g_string_append (out, ",error=\"invalid_token\"");
  else if (kind == CHALLENGE_INSUFFICIENT_SCOPE)
    g_string_append (out, ",error=\"insufficient_scope\"");
  return g_string_free (out, FALSE);
}

/* The UNAUTHORIZED envelope whose detail lists each required access item
 * as notary does ([{"Type","Class","Name","Action"}], one per action). */
static char *
challenge_body (const NotaryAccess *access, gsize n_access)
{
  GString *detail = g_string_new ("[");
  g_autoptr (GBytes) body = NULL;
  gboolean first = TRUE;
  gsize len = 0;
  const char *data;

  for (gsize i = 0; i < n_access; i++)
    for (const char *const *a = access[i].actions; a != NULL && *a != NULL; a++)
      {
        if (!first)
          g_string_append_c (detail, ',');
        first = FALSE;
        g_string_append (detail, "{\"Type\":");
        append_go_json_string (detail, access[i].type);
        g_string_append (detail, ",\"Class\":\"\",\"Name\":");
        append_go_json_string (detail, access[i].name);
        g_string_append (detail, ",\"Action\":");
        append_go_json_string (detail, *a);
        g_string_append_c (detail, '}');
      }
  g_string_append_c (detail, ']');
  body = notary_http_error_body (NOTARY_HTTP_UNAUTHORIZED, detail->str);
  g_string_free (detail, TRUE);
  data = g_bytes_get_data (body, &len);
  return g_strndup (data, len);
}

/* Split "Bearer <token>" the way the reference does: exactly one space, the
 * scheme compared case-insensitively.  Surrounding blanks are dropped first,
 * as Go's header parser does before the reference sees the value, so the
 * result does not depend on the HTTP library.  NULL if there is no bearer
 * token. */
static char *
bearer_token (const char *authorization)
{
  const char *start, *end, *space;

  if (authorization == NULL)
    return NULL;
  start = authorization;
  end = authorization + strlen (authorization);
  while (start < end && (*start == ' ' || *start == '\t'))
    start++;
  while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  space = memchr (start, ' ', end - start);
  if (space == NULL || memchr (space + 1, ' ', end - (space + 1)) != NULL)
    return NULL;
  if (space - start != 6 || g_ascii_strncasecmp (start, "bearer", 6) != 0)
    return NULL;
  return g_strndup (space + 1, end - (space + 1));
}

/* Everything but the challenge: is the request authorized, and if not, why. */
static gboolean
authorize (NotaryAuth *auth, const char *authorization, const NotaryAccess *access, gsize n_access,
           ChallengeKind *out_kind)
{
  g_autofree char *raw = bearer_token (authorization);
  g_autoptr (Token) token = NULL;
  g_autoptr (GError) error = NULL;

  if (raw == NULL)
    {
      *out_kind = CHALLENGE_NO_TOKEN;
      return FALSE;
    }
  token = token_parse (raw);
  if (token == NULL)
    {
      notary_log (NOTARY_LOG_INFO, "malformed token", NULL);
      *out_kind = CHALLENGE_INVALID_TOKEN;
      return FALSE;
    }
  if (!token_verify (auth, token, g_get_real_time (), &error))
    {
      notary_log (NOTARY_LOG_INFO, error->message, NULL);
      *out_kind = CHALLENGE_INVALID_TOKEN;
      return FALSE;
    }
  for (gsize i = 0; i < n_access; i++)
    for (const char *const *a = access[i].actions; a != NULL && *a != NULL; a++)
      if (!token_grants (token, access[i].type, access[i].name, *a))
        {
          *out_kind = CHALLENGE_INSUFFICIENT_SCOPE;
          return FALSE;
        }
  return TRUE;
}

gboolean
notary_auth_check (NotaryAuth *auth, const char *authorization, const char *host, const NotaryAccess *access,
                   gsize n_access, char **out_www_authenticate, char **out_body)
{
  ChallengeKind kind = CHALLENGE_NO_TOKEN;

  g_return_val_if_fail (auth != NULL, FALSE);
  g_return_val_if_fail (access != NULL || n_access == 0, FALSE);
  g_return_val_if_fail (out_www_authenticate != NULL && out_body != NULL, FALSE);

  *out_www_authenticate = NULL;
  *out_body = NULL;
  if (authorize (auth, authorization, access, n_access, &kind))
    return TRUE;
  *out_www_authenticate = challenge_header (auth, host, access, n_access, kind);
  *out_body = challenge_body (access, n_access);
  return FALSE;
}
