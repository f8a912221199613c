/* notary-keys.c — TUF public keys, key IDs, signature verification, root
 * certificate checks and private keys, all on GnuTLS.
 *
 * SECTION:notary-keys
 *
 * A #NotaryKey is immutable once built: it keeps plain bytes (the
 * published public bytes and, for verifiable types, the DER
 * SubjectPublicKeyInfo of the verification key), what the root checks read
 * from its certificate, and for ECDSA libcrypto's form of the key, made
 * once on first use (notary-ecdsa.h).  Other verifications import the
 * bytes into a fresh gnutls_pubkey_t, so keys can be shared between
 * threads without locks and no GnuTLS object outlives a call.
 *
 * Reading keys is most of the CPU of a first publish after the signature
 * checks themselves (a new root: one certificate and three SPKI keys), so
 * each certificate is parsed once, and ECDSA keys in the one SPKI form Go
 * writes skip GnuTLS's ASN.1 decoder (EcSpkiForm).
 *
 * A #NotaryPrivateKey owns GnuTLS key objects; GnuTLS does not promise that
 * one object may be used from several threads at once, so every use goes
 * through the key's mutex.
 *
 * Behaviour follows the Go reference (tuf/signed/verifiers.go,
 * tuf/utils/x509.go, trustpinning/certs.go) as described in
 * tuf-metadata.md §3, §4 and §6.
 */
#define _GNU_SOURCE /* memmem */
#include "notary-keys.h"
#include "notary-ecdsa.h"
#include "notary-json.h"

#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

GQuark
notary_key_error_quark (void)
{
  return g_quark_from_static_string ("notary-key-error-quark");
}

#define MIN_RSA_BITS 2048
#define SECONDS_PER_DAY (24 * 60 * 60)

/* Local cleanups for GnuTLS handles (pointer typedefs). */
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_privkey_t, gnutls_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)

static void
datum_clear (gnutls_datum_t *d)
{
  gnutls_free (d->data);
  d->data = NULL;
  d->size = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, datum_clear)

static gboolean
throw_gnutls (GError **error, NotaryKeyError code, int ret, const char *what)
{
  g_set_error (error, NOTARY_KEY_ERROR, code, "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

/* Same, for functions returning a pointer. */
static gpointer
throw_gnutls_null (GError **error, NotaryKeyError code, int ret, const char *what)
{
  throw_gnutls (error, code, ret, what);
  return NULL;
}

static gnutls_datum_t
datum_from_bytes (GBytes *bytes)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gnutls_datum_t d = { (unsigned char *)data, (unsigned int)len };
  return d;
}

/* Takes ownership of the GnuTLS-allocated datum contents. */
static GBytes *
bytes_steal_datum (gnutls_datum_t *d)
{
  GBytes *b = g_bytes_new (d->data, d->size);
  datum_clear (d);
  return b;
}

/* ---- helpers ---------------------------------------------------------- */

/* Lowercase hex SHA-256 of @len bytes at @p.  GnuTLS/nettle's SHA-256
 * uses the CPU's SHA extensions; GChecksum's portable C is several times
 * slower, and this runs on every GET and for every key of a publish. */
static char *
sha256_hex_of (const void *p, gsize len)
{
  static const char hex[] = "0123456789abcdef";
  guint8 digest[32];
  char *out;

  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, p, len, digest) < 0)
    return g_compute_checksum_for_data (G_CHECKSUM_SHA256, p, len);
  out = g_malloc (65);
  for (guint i = 0; i < 32; i++)
    {
      out[2 * i] = hex[digest[i] >> 4];
      out[2 * i + 1] = hex[digest[i] & 0xf];
    }
  out[64] = '\0';
  return out;
}

char *
notary_sha256_hex (GBytes *data)
{
  gsize len = 0;
  const guint8 *p;

  g_return_val_if_fail (data != NULL, NULL);
  p = g_bytes_get_data (data, &len);
  return sha256_hex_of (p, len);
}

GBytes *
notary_digest (GChecksumType type, GBytes *data)
{
  gnutls_digest_algorithm_t alg;
  gssize dlen;
  gsize len = 0;
  const guint8 *p;
  guint8 *out;

  g_return_val_if_fail (data != NULL, NULL);
  dlen = g_checksum_type_get_length (type);
  g_return_val_if_fail (dlen > 0, NULL);
  p = g_bytes_get_data (data, &len);
  switch (type)
    {
    case G_CHECKSUM_SHA256:
      alg = GNUTLS_DIG_SHA256;
      break;
    case G_CHECKSUM_SHA512:
      alg = GNUTLS_DIG_SHA512;
      break;
    case G_CHECKSUM_SHA384:
      alg = GNUTLS_DIG_SHA384;
      break;
    default:
      alg = GNUTLS_DIG_UNKNOWN;
      break;
    }
  out = g_malloc (dlen);
  if (alg == GNUTLS_DIG_UNKNOWN || gnutls_hash_fast (alg, p, len, out) < 0)
    {
      g_autoptr (GChecksum) ck = g_checksum_new (type);
      gsize outlen = dlen;
      g_checksum_update (ck, p, len);
      g_checksum_get_digest (ck, out, &outlen);
    }
  return g_bytes_new_take (out, dlen);
}

/* Strict standard base64 (padding required, only CR/LF tolerated between
 * characters, as Go's encoding/json accepts); g_base64_decode alone would
 * silently skip garbage. */
static GBytes *
base64_decode_strict (const char *text, GError **error)
{
  g_autoptr (GString) clean = g_string_new (NULL);
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\r' || *p == '\n')
        continue;
      if (!(g_ascii_isalnum (*p) || *p == '+' || *p == '/' || *p == '='))
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                       "invalid base64: unexpected character 0x%02x", (guint8)*p);
          return NULL;
        }
      g_string_append_c (clean, *p);
    }
  if (clean->len % 4 != 0)
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                           "invalid base64: length is not a multiple of 4");
      return NULL;
    }
  const char *pad = strchr (clean->str, '=');
  if (pad != NULL)
    {
      gsize npad = clean->len - (gsize)(pad - clean->str);
      if (npad > 2 || (npad == 2 && pad[1] != '='))
        {
          g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                               "invalid base64: misplaced padding");
          return NULL;
        }
    }
  gsize len = 0;
  guchar *raw = g_base64_decode (clean->str, &len);
  return g_bytes_new_take (raw, len);
}

/* Canonical-JSON string body: only '"' and '\' are escaped (tuf-metadata.md §2). */
static void
append_canonical_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static char *
compute_key_id (const char *keytype, GBytes *public_bytes)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (public_bytes, &len);
  g_autofree char *b64 = g_base64_encode (p, len);
  g_autoptr (GString) canon = g_string_new ("{\"keytype\":");
  append_canonical_string (canon, keytype);
  g_string_append (canon, ",\"keyval\":{\"private\":null,\"public\":\"");
  g_string_append (canon, b64);
  g_string_append (canon, "\"}}");
  return sha256_hex_of (canon->str, canon->len);
}

/* ---- PEM -------------------------------------------------------------- */

/* One decoded PEM block.  The parser mirrors Go's encoding/pem closely
 * enough for notary's purposes: a block starts with "-----BEGIN <T>-----"
 * at the start of a line, ends at the matching "-----END <T>-----", may carry
 * "Key: value" headers, and a malformed block is skipped (decoding resumes
 * after its BEGIN line).  Text outside blocks is ignored. */
typedef struct
{
  char *type;
  GBytes *der;
  gboolean has_headers;
} PemBlock;

static void
pem_block_free (PemBlock *b)
{
  g_free (b->type);
  g_clear_pointer (&b->der, g_bytes_unref);
  g_free (b);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PemBlock, pem_block_free)

static const char *
find_line_start (const char *p, const char *end, const char *needle)
{
  gsize nlen = strlen (needle);
  const char *start = p;
  while (p + nlen <= end)
    {
      const char *hit = memmem (p, (gsize)(end - p), needle, nlen);
      if (hit == NULL)
        return NULL;
      if (hit == start || hit[-1] == '\n')
        return hit;
      p = hit + 1;
    }
  return NULL;
}

static const char *
line_end (const char *p, const char *end)
{
  const char *nl = memchr (p, '\n', (gsize)(end - p));
  return nl != NULL ? nl : end;
}

static gboolean
only_whitespace (const char *p, const char *end)
{
  for (; p < end; p++)
    if (*p != ' ' && *p != '\t' && *p != '\r')
      return FALSE;
  return TRUE;
}

/* Returns the next block starting at *cursor, or NULL when there is none. */
static PemBlock *
pem_next (const char **cursor, const char *end)
{
  const char *p = *cursor;
  for (;;)
    {
      const char *begin = find_line_start (p, end, "-----BEGIN ");
      if (begin == NULL)
        {
          *cursor = end;
          return NULL;
        }
      const char *begin_eol = line_end (begin, end);
      const char *resume = begin_eol < end ? begin_eol + 1 : end;
      p = resume;

      /* "-----BEGIN <type>-----" possibly followed by trailing spaces. */
      const char *t = begin + strlen ("-----BEGIN ");
      const char *tend = begin_eol;
      while (tend > t && (tend[-1] == ' ' || tend[-1] == '\t' || tend[-1] == '\r'))
        tend--;
      if (tend - t < 5 || memcmp (tend - 5, "-----", 5) != 0)
        continue;
      g_autofree char *type = g_strndup (t, (gsize)(tend - 5 - t));

      g_autofree char *end_marker = g_strdup_printf ("-----END %s-----", type);
      const char *end_line = find_line_start (resume, end, end_marker);
      if (end_line == NULL)
        continue;
      const char *end_eol = line_end (end_line, end);
      if (!only_whitespace (end_line + strlen (end_marker), end_eol))
        continue;

      /* Optional RFC 1421 headers: "Key: value" lines up to a blank line. */
      const char *body = resume;
      gboolean has_headers = FALSE;
      const char *first_eol = line_end (body, end_line);
      if (memchr (body, ':', (gsize)(first_eol - body)) != NULL)
        {
          has_headers = TRUE;
          const char *q = body;
          while (q < end_line)
            {
              const char *eol = line_end (q, end_line);
              gboolean blank = only_whitespace (q, eol);
              q = eol < end_line ? eol + 1 : end_line;
              if (blank)
                break;
            }
          body = q;
        }

      g_autoptr (GString) text = g_string_new (NULL);
      for (const char *q = body; q < end_line; q++)
        if (*q != '\n' && *q != '\r' && *q != ' ' && *q != '\t')
          g_string_append_c (text, *q);
      g_autoptr (GBytes) der = base64_decode_strict (text->str, NULL);
      if (der == NULL)
        continue;

      PemBlock *block = g_new0 (PemBlock, 1);
      block->type = g_steal_pointer (&type);
      block->der = g_steal_pointer (&der);
      block->has_headers = has_headers;
      *cursor = end_eol < end ? end_eol + 1 : end;
      return block;
    }
}

/* Go's pem.Encode: 64-column base64 lines. */
static void
pem_append (GString *out, const char *type, GBytes *der)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (der, &len);
  g_autofree char *b64 = g_base64_encode (p, len);
  gsize blen = strlen (b64);
  g_string_append_printf (out, "-----BEGIN %s-----\n", type);
  for (gsize i = 0; i < blen; i += 64)
    {
      g_string_append_len (out, b64 + i, MIN ((gsize)64, blen - i));
      g_string_append_c (out, '\n');
    }
  g_string_append_printf (out, "-----END %s-----\n", type);
}

/* ---- public keys ------------------------------------------------------ */

typedef enum
{
  KIND_OPAQUE,
  KIND_ED25519,
  KIND_ECDSA,
  KIND_RSA,
  KIND_ECDSA_X509,
  KIND_RSA_X509,
} KeyKind;

/* What the root-certificate checks (§6) and the expiry read from one
 * certificate.  Read while the certificate is parsed anyway: parsing it
 * (libtasn1 builds a node tree of the whole certificate) costs far more
 * than the checks, and every publish carrying a new root runs both. */
typedef struct
{
  GBytes *der; /* NULL in a key's own copy (its PEM holds the bytes) */
  char *cn;    /* Go's Subject.CommonName */
  gboolean is_ca;
  time_t not_before; /* (time_t)-1 when unreadable */
  time_t not_after;
  gboolean sha1_signed;
  int pk_algorithm; /* gnutls_pk_algorithm_t */
  unsigned int bits;
} CertFacts;

static void
cert_facts_clear (CertFacts *f)
{
  g_clear_pointer (&f->der, g_bytes_unref);
  g_clear_pointer (&f->cn, g_free);
}

static void
cert_facts_free (CertFacts *f)
{
  cert_facts_clear (f);
  g_free (f);
}

static void cert_facts_read (CertFacts *f, gnutls_x509_crt_t crt, GBytes *der);

struct _NotaryKey
{
  gatomicrefcount ref;
  KeyKind kind;
  char *keytype;
  GBytes *public_bytes;
  char *id;
  char *canonical_id;
  /* Verification key: DER SPKI for ECDSA/RSA kinds (the leaf's key for
   * x509 kinds), the raw 32 bytes for Ed25519, NULL for opaque keys. */
  GBytes *verify_key;
  unsigned int bits;        /* RSA modulus bits */
  gnutls_ecc_curve_t curve; /* ECDSA curve */
  /* ECDSA: the uncompressed public point, read while the key is parsed
   * anyway, and libcrypto's form of the key, made from it on the first
   * verification (set once with compare-and-swap: keys are shared between
   * threads). */
  GBytes *ec_point;
  NotaryEcdsaKey *ecdsa;
  /* x509 kinds: what the root checks read from the first certificate,
   * kept from the one parse (see CertFacts). */
  CertFacts *leaf;
};

static KeyKind
kind_for_keytype (const char *keytype)
{
  if (g_str_equal (keytype, "ed25519"))
    return KIND_ED25519;
  if (g_str_equal (keytype, "ecdsa"))
    return KIND_ECDSA;
  if (g_str_equal (keytype, "rsa"))
    return KIND_RSA;
  if (g_str_equal (keytype, "ecdsa-x509"))
    return KIND_ECDSA_X509;
  if (g_str_equal (keytype, "rsa-x509"))
    return KIND_RSA_X509;
  return KIND_OPAQUE;
}

/* Strips leading zero bytes so gnutls_encode_rs_value produces minimal DER
 * INTEGERs (strict decoders reject "00 xx" with xx < 0x80), and from
 * coordinates before they are padded to the field size. */
static gnutls_datum_t
trim_leading_zeros (const guint8 *p, gsize len)
{
  while (len > 1 && p[0] == 0)
    {
      p++;
      len--;
    }
  gnutls_datum_t d = { (unsigned char *)p, (unsigned int)len };
  return d;
}

/* The uncompressed point 0x04 ‖ X ‖ Y, coordinates left-padded to the
 * field size (GnuTLS hands them out as integers, with or without a leading
 * zero); NULL when they do not fit the curve. */
static GBytes *
ec_point_new (gnutls_ecc_curve_t curve, const gnutls_datum_t *x, const gnutls_datum_t *y)
{
  gsize half = gnutls_ecc_curve_get_size (curve);
  gnutls_datum_t xs = trim_leading_zeros (x->data, x->size);
  gnutls_datum_t ys = trim_leading_zeros (y->data, y->size);
  if (half == 0 || xs.size > half || ys.size > half)
    return NULL;
  guint8 *point = g_malloc0 (1 + 2 * half);
  point[0] = 0x04;
  if (xs.size > 0)
    memcpy (point + 1 + half - xs.size, xs.data, xs.size);
  if (ys.size > 0)
    memcpy (point + 1 + 2 * half - ys.size, ys.data, ys.size);
  return g_bytes_new_take (point, 1 + 2 * half);
}

/* The DER SubjectPublicKeyInfo of an uncompressed point on a named NIST
 * curve is a fixed prefix followed by the point: the only form Go's
 * x509.MarshalPKIXPublicKey writes for ECDSA keys, so the one notary
 * clients publish and the one key IDs of certificate keys are computed
 * over.  DER is canonical: a key in this form is recognised byte for byte
 * and needs no ASN.1 decoder (GnuTLS's import and export cost more than
 * the rest of reading a root); any other encoding takes GnuTLS's path. */
typedef struct
{
  gnutls_ecc_curve_t curve;
  const guint8 *prefix;
  gsize prefix_len;
  gsize point_len;
} EcSpkiForm;

static const guint8 spki_p256[] = { 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00 };
static const guint8 spki_p384[] = { 0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
                                    0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00 };
static const guint8 spki_p521[] = { 0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81,
                                    0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00 };

static const EcSpkiForm ec_spki_forms[] = {
  { GNUTLS_ECC_CURVE_SECP256R1, spki_p256, sizeof spki_p256, 65 },
  { GNUTLS_ECC_CURVE_SECP384R1, spki_p384, sizeof spki_p384, 97 },
  { GNUTLS_ECC_CURVE_SECP521R1, spki_p521, sizeof spki_p521, 133 },
};

/* The form @der is in, or NULL.  The point's first byte is not checked
 * here: anything but 0x04 (uncompressed) fails where Go fails it, when a
 * signature is verified. */
static const EcSpkiForm *
ec_spki_form_of (GBytes *der)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (der, &len);
  for (gsize i = 0; i < G_N_ELEMENTS (ec_spki_forms); i++)
    {
      const EcSpkiForm *f = &ec_spki_forms[i];
      if (len == f->prefix_len + f->point_len && memcmp (p, f->prefix, f->prefix_len) == 0)
        return f;
    }
  return NULL;
}

/* The SPKI of @point on @curve, in the form above; NULL for other curves. */
static GBytes *
ec_spki_new (gnutls_ecc_curve_t curve, GBytes *point)
{
  gsize point_len = g_bytes_get_size (point);
  for (gsize i = 0; i < G_N_ELEMENTS (ec_spki_forms); i++)
    {
      const EcSpkiForm *f = &ec_spki_forms[i];
      if (f->curve != curve || f->point_len != point_len)
        continue;
      guint8 *der = g_malloc (f->prefix_len + point_len);
      memcpy (der, f->prefix, f->prefix_len);
      memcpy (der + f->prefix_len, g_bytes_get_data (point, NULL), point_len);
      return g_bytes_new_take (der, f->prefix_len + point_len);
    }
  return NULL;
}

/* Checks that @pub is of the algorithm the key kind promises and records
 * the parameters verification needs. */
static gboolean
inspect_pubkey (NotaryKey *key, gnutls_pubkey_t pub, GError **error)
{
  unsigned int bits = 0;
  int alg = gnutls_pubkey_get_pk_algorithm (pub, &bits);
  gboolean want_ec = key->kind == KIND_ECDSA || key->kind == KIND_ECDSA_X509;

  if (want_ec)
    {
      if (alg != GNUTLS_PK_ECDSA)
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                       "%s key does not hold an ECDSA public key (found %s)", key->keytype,
                       gnutls_pk_get_name (alg) ? gnutls_pk_get_name (alg) : "unknown");
          return FALSE;
        }
      gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
      g_auto (gnutls_datum_t) x = { NULL, 0 };
      g_auto (gnutls_datum_t) y = { NULL, 0 };
      int ret = gnutls_pubkey_export_ecc_raw2 (pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ);
      if (ret < 0)
        return throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "reading ECDSA curve");
      key->curve = curve;
      key->ec_point = ec_point_new (curve, &x, &y);
    }
  else
    {
      if (alg != GNUTLS_PK_RSA)
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                       "%s key does not hold an RSA public key (found %s)", key->keytype,
                       gnutls_pk_get_name (alg) ? gnutls_pk_get_name (alg) : "unknown");
          return FALSE;
        }
      key->bits = bits;
    }
  return TRUE;
}

static gboolean
parse_spki (NotaryKey *key, GBytes *der, GError **error)
{
  const EcSpkiForm *form = key->kind == KIND_ECDSA ? ec_spki_form_of (der) : NULL;
  if (form != NULL)
    {
      /* Whether the point lies on the curve is checked where GnuTLS's
       * import did not check it either: when a signature is verified. */
      key->curve = form->curve;
      key->ec_point = g_bytes_new_from_bytes (der, form->prefix_len, form->point_len);
      key->verify_key = g_bytes_ref (der);
      return TRUE;
    }

  g_auto (gnutls_pubkey_t) pub = NULL;
  gnutls_pubkey_init (&pub);
  gnutls_datum_t d = datum_from_bytes (der);
  int ret = gnutls_pubkey_import (pub, &d, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "%s key: bad public key DER: %s",
                   key->keytype, gnutls_strerror (ret));
      return FALSE;
    }
  if (!inspect_pubkey (key, pub, error))
    return FALSE;
  key->verify_key = g_bytes_ref (der);
  return TRUE;
}

/* Builds the DER SPKI of @crt's public key, re-encoded as Go's
 * x509.MarshalPKIXPublicKey does (used for the canonical key ID). */
static GBytes *
crt_export_spki (gnutls_x509_crt_t crt, gnutls_pubkey_t *out_pub, GError **error)
{
  g_auto (gnutls_pubkey_t) pub = NULL;
  g_auto (gnutls_datum_t) out = { NULL, 0 };
  gnutls_pubkey_init (&pub);
  int ret = gnutls_pubkey_import_x509 (pub, crt, 0);
  if (ret < 0)
    {
      throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "reading certificate public key");
      return NULL;
    }
  ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &out);
  if (ret < 0)
    {
      throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "exporting certificate public key");
      return NULL;
    }
  if (out_pub != NULL)
    *out_pub = g_steal_pointer (&pub);
  return bytes_steal_datum (&out);
}

static gnutls_x509_crt_t
crt_from_der (GBytes *der, GError **error)
{
  g_auto (gnutls_x509_crt_t) crt = NULL;
  gnutls_x509_crt_init (&crt);
  gnutls_datum_t d = datum_from_bytes (der);
  int ret = gnutls_x509_crt_import (crt, &d, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    {
      throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "bad certificate");
      return NULL;
    }
  return g_steal_pointer (&crt);
}

/* An ECDSA certificate's key on a named NIST curve, read without the
 * GnuTLS public-key object crt_export_spki builds (see EcSpkiForm).  FALSE
 * when GnuTLS cannot read the key at all; TRUE without setting
 * key->verify_key for other curves, which take the general path. */
static gboolean
read_crt_ec_key (NotaryKey *key, gnutls_x509_crt_t crt)
{
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  g_auto (gnutls_datum_t) x = { NULL, 0 };
  g_auto (gnutls_datum_t) y = { NULL, 0 };
  if (gnutls_x509_crt_get_pk_ecc_raw (crt, &curve, &x, &y) < 0)
    return FALSE;
  g_autoptr (GBytes) point = ec_point_new (curve, &x, &y);
  if (point == NULL)
    return FALSE;
  GBytes *spki = ec_spki_new (curve, point);
  if (spki == NULL)
    return TRUE;
  key->curve = curve;
  key->ec_point = g_steal_pointer (&point);
  key->verify_key = spki;
  return TRUE;
}

/* x509 kinds: like Go's verifiers, the first PEM block is the certificate
 * whose public key verifies; its algorithm must match the key type. */
static gboolean
parse_x509 (NotaryKey *key, GError **error)
{
  gsize len = 0;
  const char *pem = g_bytes_get_data (key->public_bytes, &len);
  const char *cursor = pem;
  g_autoptr (PemBlock) first = pem_next (&cursor, pem + len);
  if (first == NULL)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "%s key: no PEM block found",
                   key->keytype);
      return FALSE;
    }
  if (!g_str_equal (first->type, "CERTIFICATE"))
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                   "%s key: first PEM block is \"%s\", not a CERTIFICATE", key->keytype, first->type);
      return FALSE;
    }
  g_auto (gnutls_x509_crt_t) crt = crt_from_der (first->der, error);
  if (crt == NULL)
    {
      g_prefix_error (error, "%s key: ", key->keytype);
      return FALSE;
    }
  key->leaf = g_new0 (CertFacts, 1);
  cert_facts_read (key->leaf, crt, NULL);

  if (key->kind == KIND_ECDSA_X509 && key->leaf->pk_algorithm == GNUTLS_PK_ECDSA
      && !read_crt_ec_key (key, crt))
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "%s key: unreadable EC public key",
                   key->keytype);
      return FALSE;
    }
  if (key->verify_key == NULL)
    {
      g_auto (gnutls_pubkey_t) pub = NULL;
      g_autoptr (GBytes) spki = crt_export_spki (crt, &pub, error);
      if (spki == NULL)
        return FALSE;
      if (!inspect_pubkey (key, pub, error))
        return FALSE;
      key->verify_key = g_steal_pointer (&spki);
    }
  key->canonical_id = compute_key_id (key->kind == KIND_ECDSA_X509 ? "ecdsa" : "rsa", key->verify_key);
  return TRUE;
}

NotaryKey *
notary_key_new (const char *keytype, GBytes *public_bytes, GError **error)
{
  g_return_val_if_fail (keytype != NULL, NULL);
  g_return_val_if_fail (public_bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (NotaryKey) key = g_new0 (NotaryKey, 1);
  g_atomic_ref_count_init (&key->ref);
  key->kind = kind_for_keytype (keytype);
  key->keytype = g_strdup (keytype);
  key->public_bytes = g_bytes_ref (public_bytes);
  key->id = compute_key_id (keytype, public_bytes);

  /* An empty GBytes (a key whose "public" is "") has a NULL data pointer,
   * which no parser below should see (found by fuzz/fuzz-key). */
  if (key->kind != KIND_OPAQUE && g_bytes_get_size (public_bytes) == 0)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "%s public key is empty", keytype);
      return NULL;
    }

  switch (key->kind)
    {
    case KIND_ED25519:
      if (g_bytes_get_size (public_bytes) != 32)
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                       "ed25519 public key must be 32 bytes, got %" G_GSIZE_FORMAT,
                       g_bytes_get_size (public_bytes));
          return NULL;
        }
      key->verify_key = g_bytes_ref (public_bytes);
      break;
    case KIND_ECDSA:
    case KIND_RSA:
      if (!parse_spki (key, public_bytes, error))
        return NULL;
      break;
    case KIND_ECDSA_X509:
    case KIND_RSA_X509:
      if (!parse_x509 (key, error))
        return NULL;
      break;
    case KIND_OPAQUE:
    default:
      break;
    }
  if (key->canonical_id == NULL)
    key->canonical_id = g_strdup (key->id);
  return g_steal_pointer (&key);
}

NotaryKey *
notary_key_new_from_json (JsonNode *key_object, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (key_object == NULL || !JSON_NODE_HOLDS_OBJECT (key_object))
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID, "key is not a JSON object");
      return NULL;
    }
  JsonObject *obj = json_node_get_object (key_object);

  JsonNode *type_node = json_object_get_member (obj, "keytype");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node)
      || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                           "key object has no string \"keytype\"");
      return NULL;
    }
  JsonNode *val_node = json_object_get_member (obj, "keyval");
  if (val_node == NULL || !JSON_NODE_HOLDS_OBJECT (val_node))
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                           "key object has no object \"keyval\"");
      return NULL;
    }
  JsonObject *val = json_node_get_object (val_node);

  /* Metadata keys are public only: a private part would mean someone
   * published secret material (absent is tolerated, null is the norm). */
  JsonNode *priv = json_object_get_member (val, "private");
  if (priv != NULL && !JSON_NODE_HOLDS_NULL (priv))
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                           "key object carries a non-null private part");
      return NULL;
    }
  JsonNode *pub = json_object_get_member (val, "public");
  if (pub == NULL || !JSON_NODE_HOLDS_VALUE (pub) || json_node_get_value_type (pub) != G_TYPE_STRING)
    {
      g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_INVALID,
                           "key object has no string \"keyval.public\"");
      return NULL;
    }
  g_autoptr (GBytes) public_bytes = base64_decode_strict (json_node_get_string (pub), error);
  if (public_bytes == NULL)
    {
      g_prefix_error (error, "keyval.public: ");
      return NULL;
    }
  return notary_key_new (json_node_get_string (type_node), public_bytes, error);
}

NotaryKey *
notary_key_ref (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_atomic_ref_count_inc (&key->ref);
  return key;
}

void
notary_key_unref (NotaryKey *key)
{
  if (key == NULL || !g_atomic_ref_count_dec (&key->ref))
    return;
  g_free (key->keytype);
  g_clear_pointer (&key->public_bytes, g_bytes_unref);
  g_clear_pointer (&key->verify_key, g_bytes_unref);
  g_clear_pointer (&key->ec_point, g_bytes_unref);
  g_clear_pointer (&key->ecdsa, notary_ecdsa_key_free);
  g_clear_pointer (&key->leaf, cert_facts_free);
  g_free (key->id);
  g_free (key->canonical_id);
  g_free (key);
}

const char *
notary_key_get_keytype (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->keytype;
}

GBytes *
notary_key_get_public (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->public_bytes;
}

gboolean
notary_key_is_x509 (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  return key->kind == KIND_ECDSA_X509 || key->kind == KIND_RSA_X509;
}

const char *
notary_key_get_id (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->id;
}

const char *
notary_key_get_canonical_id (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->canonical_id;
}

char *
notary_key_to_endpoint_json (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (key->public_bytes, &len);
  g_autofree char *b64 = g_base64_encode (p, len);
  GString *out = g_string_new ("{\"keytype\":");
  notary_json_write_go_string (out, key->keytype, -1);
  g_string_append_printf (out, ",\"keyval\":{\"public\":\"%s\",\"private\":null}}", b64);
  return g_string_free (out, FALSE);
}

/* ---- verification ----------------------------------------------------- */

static gboolean
method_allowed (KeyKind kind, const char *method)
{
  switch (kind)
    {
    case KIND_ED25519:
      return g_str_equal (method, "eddsa");
    case KIND_ECDSA:
    case KIND_ECDSA_X509:
      return g_str_equal (method, "ecdsa");
    case KIND_RSA:
    case KIND_RSA_X509:
      return g_str_equal (method, "rsapss") || g_str_equal (method, "rsapkcs1v15");
    case KIND_OPAQUE:
    default:
      return FALSE;
    }
}

static gnutls_pubkey_t
import_verify_key (NotaryKey *key, GError **error)
{
  g_auto (gnutls_pubkey_t) pub = NULL;
  gnutls_pubkey_init (&pub);
  gnutls_datum_t d = datum_from_bytes (key->verify_key);
  int ret;
  if (key->kind == KIND_ED25519)
    ret = gnutls_pubkey_import_ecc_raw (pub, GNUTLS_ECC_CURVE_ED25519, &d, NULL);
  else
    ret = gnutls_pubkey_import (pub, &d, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    {
      throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "importing public key");
      return NULL;
    }
  return g_steal_pointer (&pub);
}

static const char *
openssl_curve_name (gnutls_ecc_curve_t curve)
{
  switch (curve)
    {
    case GNUTLS_ECC_CURVE_SECP256R1:
      return "P-256";
    case GNUTLS_ECC_CURVE_SECP384R1:
      return "P-384";
    case GNUTLS_ECC_CURVE_SECP521R1:
      return "P-521";
    default:
      return NULL;
    }
}

/* The key's libcrypto form, made once; NULL when the curve is not one
 * libcrypto is used for or the point cannot be read. */
static NotaryEcdsaKey *
ecdsa_key_of (NotaryKey *key)
{
  NotaryEcdsaKey *have = g_atomic_pointer_get (&key->ecdsa);
  if (have != NULL)
    return have;
  const char *name = openssl_curve_name (key->curve);
  if (name == NULL || key->ec_point == NULL)
    return NULL;
  gsize point_len = 0;
  const guint8 *point = g_bytes_get_data (key->ec_point, &point_len);
  NotaryEcdsaKey *made = notary_ecdsa_key_new (name, point, point_len);
  if (made == NULL)
    return NULL;
  if (!g_atomic_pointer_compare_and_exchange (&key->ecdsa, NULL, made))
    {
      notary_ecdsa_key_free (made); /* another thread won; use theirs */
      return g_atomic_pointer_get (&key->ecdsa);
    }
  return made;
}

static gboolean
bad_signature (GError **error, const char *what)
{
  g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE, "%s", what);
  return FALSE;
}

gboolean
notary_key_verify (NotaryKey *key, const char *method, GBytes *message, GBytes *signature, GError **error)
{
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (method != NULL, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (signature != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (key->kind == KIND_OPAQUE)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                   "cannot verify signatures with key type \"%s\"", key->keytype);
      return FALSE;
    }
  /* The trusted key's type picks the verifier; the method is only checked
   * for compatibility so a signer cannot choose the algorithm. */
  if (!method_allowed (key->kind, method))
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                   "signature method \"%s\" cannot be used with a key of type \"%s\"", method, key->keytype);
      return FALSE;
    }

  gsize sig_len = 0;
  const guint8 *sig = g_bytes_get_data (signature, &sig_len);
  gnutls_datum_t msg_d = datum_from_bytes (message);
  gnutls_sign_algorithm_t algo;
  g_auto (gnutls_datum_t) der_sig = { NULL, 0 };
  gnutls_datum_t sig_d = { (unsigned char *)sig, (unsigned int)sig_len };

  switch (key->kind)
    {
    case KIND_ED25519:
      if (sig_len != 64)
        return bad_signature (error, "ed25519 signature must be 64 bytes");
      algo = GNUTLS_SIGN_EDDSA_ED25519;
      break;
    case KIND_ECDSA:
    case KIND_ECDSA_X509:
      {
        gsize half = gnutls_ecc_curve_get_size (key->curve);
        if (half == 0)
          {
            g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                                 "unsupported ECDSA curve");
            return FALSE;
          }
        if (sig_len != 2 * half)
          {
            g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE,
                         "ECDSA signature must be %" G_GSIZE_FORMAT " bytes (raw r||s), got %" G_GSIZE_FORMAT,
                         2 * half, sig_len);
            return FALSE;
          }
        NotaryEcdsaKey *fast = ecdsa_key_of (key);
        /* libcrypto refuses a point off the curve or not uncompressed, as
         * Go's elliptic.Unmarshal does; GnuTLS would take some of them
         * (it reads X and Y whatever the point's first byte says), so
         * only curves libcrypto is not used for go on to GnuTLS. */
        if (fast == NULL && openssl_curve_name (key->curve) != NULL)
          return bad_signature (error, "ECDSA public key is not an uncompressed point on its curve");
        if (fast != NULL)
          {
            guint8 digest[32];
            int hr = gnutls_hash_fast (GNUTLS_DIG_SHA256, msg_d.data, msg_d.size, digest);
            if (hr < 0)
              return throw_gnutls (error, NOTARY_KEY_ERROR_FAILED, hr, "hashing the signed data");
            if (!notary_ecdsa_key_verify (fast, digest, sig, half))
              return bad_signature (error, "ecdsa signature does not verify");
            return TRUE;
          }
        gnutls_datum_t r = trim_leading_zeros (sig, half);
        gnutls_datum_t s = trim_leading_zeros (sig + half, half);
        int ret = gnutls_encode_rs_value (&der_sig, &r, &s);
        if (ret < 0)
          return throw_gnutls (error, NOTARY_KEY_ERROR_BAD_SIGNATURE, ret, "encoding ECDSA signature");
        sig_d = der_sig;
        algo = GNUTLS_SIGN_ECDSA_SHA256;
        break;
      }
    case KIND_RSA:
    case KIND_RSA_X509:
      if (key->bits < MIN_RSA_BITS)
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                       "RSA keys must be at least %d bits, this one has %u", MIN_RSA_BITS, key->bits);
          return FALSE;
        }
      if (sig_len < MIN_RSA_BITS / 8)
        return bad_signature (error, "RSA signature shorter than 256 bytes");
      algo = g_str_equal (method, "rsapss") ? GNUTLS_SIGN_RSA_PSS_SHA256 : GNUTLS_SIGN_RSA_SHA256;
      break;
    case KIND_OPAQUE:
    default:
      g_assert_not_reached ();
    }

  g_auto (gnutls_pubkey_t) pub = import_verify_key (key, error);
  if (pub == NULL)
    return FALSE;
  int ret = gnutls_pubkey_verify_data2 (pub, algo, 0, &msg_d, &sig_d);
  if (ret < 0)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_BAD_SIGNATURE,
                   "%s signature does not verify: %s", method, gnutls_strerror (ret));
      return FALSE;
    }
  return TRUE;
}

/* ---- root certificates ------------------------------------------------ */

/* Go's Subject.CommonName: the last CN attribute of the subject, or "". */
static char *
crt_common_name (gnutls_x509_crt_t crt)
{
  char *cn = g_strdup ("");
  for (unsigned int i = 0;; i++)
    {
      /* CNs are short (64 characters at most by RFC 5280): one call
       * reads most, the usual single CN takes two. */
      char small[128];
      size_t size = sizeof small;
      int ret = gnutls_x509_crt_get_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, small, &size);
      if (ret == 0)
        {
          g_free (cn);
          cn = g_strndup (small, size);
          continue;
        }
      if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER)
        break;
      g_autofree char *buf = g_malloc0 (size + 1);
      if (gnutls_x509_crt_get_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, buf, &size) < 0)
        break;
      g_free (cn);
      cn = g_steal_pointer (&buf);
    }
  return cn;
}

static gboolean
crt_is_ca (gnutls_x509_crt_t crt)
{
  unsigned int critical = 0;
  /* Without a basicConstraints extension Go's IsCA is false; so is it for
   * any error here. */
  return gnutls_x509_crt_get_ca_status (crt, &critical) > 0;
}

/* trustpinning.MatchCNToGun: "prefix*" (all trailing '*' trimmed) matches
 * GUNs starting with prefix; otherwise exact match. */
static gboolean
cn_matches_gun (const char *cn, const char *gun)
{
  gsize len = strlen (cn);
  if (len > 0 && cn[len - 1] == '*')
    {
      while (len > 0 && cn[len - 1] == '*')
        len--;
      return strncmp (gun, cn, len) == 0;
    }
  return g_str_equal (cn, gun);
}

/* utils.ValidateCertificate. */
static gboolean
validate_certificate (const CertFacts *f, gint64 now, gboolean check_expiry, GError **error)
{
  const char *cn = f->cn;
  if (f->not_before == (time_t)-1 || f->not_after == (time_t)-1)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "certificate with CN %s has an unreadable validity period", cn);
      return FALSE;
    }
  if (f->not_before > f->not_after)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "certificate with CN %s has an invalid validity window", cn);
      return FALSE;
    }
  if (f->sha1_signed)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "certificate with CN %s uses invalid SHA1 signature algorithm", cn);
      return FALSE;
    }
  if (f->pk_algorithm == GNUTLS_PK_RSA && f->bits < MIN_RSA_BITS)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "certificate with CN %s has an RSA key of %u bits (minimum %d)", cn, f->bits,
                   MIN_RSA_BITS);
      return FALSE;
    }
  /* One day of leeway on NotBefore for clock skew, none on NotAfter. */
  if (check_expiry && ((gint64)f->not_before > now + SECONDS_PER_DAY || now > (gint64)f->not_after))
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "certificate with CN %s is expired or not yet valid", cn);
      return FALSE;
    }
  return TRUE;
}

static void
cert_facts_read (CertFacts *f, gnutls_x509_crt_t crt, GBytes *der)
{
  f->der = der != NULL ? g_bytes_ref (der) : NULL;
  f->cn = crt_common_name (crt);
  f->is_ca = crt_is_ca (crt);
  f->not_before = gnutls_x509_crt_get_activation_time (crt);
  f->not_after = gnutls_x509_crt_get_expiration_time (crt);
  int sign_alg = gnutls_x509_crt_get_signature_algorithm (crt);
  f->sha1_signed = sign_alg > 0 && gnutls_sign_get_hash_algorithm (sign_alg) == GNUTLS_DIG_SHA1;
  f->pk_algorithm = gnutls_x509_crt_get_pk_algorithm (crt, &f->bits);
}

static void
cert_facts_copy (CertFacts *dest, const CertFacts *src, GBytes *der)
{
  *dest = *src;
  dest->der = g_bytes_ref (der);
  dest->cn = g_strdup (src->cn);
}

/* @now is Unix time in seconds.  Intermediates are always checked against
 * @now, as the Go client does even for a previously trusted root. */
NotaryKey *
notary_key_check_root_certificate (NotaryKey *key, const char *gun, gint64 now, gboolean check_expiry,
                                   GError **error)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (gun != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* 1. Only CERTIFICATE blocks, each a parseable certificate.  The first
   * is the one the key was built from: its facts are already read. */
  g_autoptr (GArray) certs = g_array_new (FALSE, TRUE, sizeof (CertFacts));
  g_array_set_clear_func (certs, (GDestroyNotify)cert_facts_clear);
  gsize len = 0;
  const char *pem = g_bytes_get_data (key->public_bytes, &len);
  const char *cursor = pem;
  for (;;)
    {
      g_autoptr (PemBlock) block = pem_next (&cursor, pem + len);
      if (block == NULL)
        break;
      if (!g_str_equal (block->type, "CERTIFICATE"))
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                       "root key %s: invalid pem block type: %s", key->id, block->type);
          return NULL;
        }
      CertFacts f = { 0 };
      if (certs->len == 0 && key->leaf != NULL)
        cert_facts_copy (&f, key->leaf, block->der);
      else
        {
          g_autoptr (GError) local = NULL;
          g_auto (gnutls_x509_crt_t) crt = crt_from_der (block->der, &local);
          if (crt == NULL)
            {
              g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE, "root key %s: %s", key->id,
                           local->message);
              return NULL;
            }
          cert_facts_read (&f, crt, block->der);
        }
      g_array_append_val (certs, f);
    }
  if (certs->len == 0)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "root key %s: no valid certificates found", key->id);
      return NULL;
    }

  /* 2. Exactly one leaf (non-CA), and it comes first. */
  guint n_leaves = 0;
  for (guint i = 0; i < certs->len; i++)
    if (!g_array_index (certs, CertFacts, i).is_ca)
      n_leaves++;
  if (n_leaves != 1)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "root key %s: expected exactly one leaf certificate, found %u", key->id, n_leaves);
      return NULL;
    }
  CertFacts *leaf = &g_array_index (certs, CertFacts, 0);
  if (leaf->is_ca)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "root key %s: the leaf certificate is not the first certificate", key->id);
      return NULL;
    }

  /* 3. CN matches the GUN. */
  const char *cn = leaf->cn;
  if (!cn_matches_gun (cn, gun))
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "root key %s: leaf certificate CN \"%s\" does not match GUN \"%s\"", key->id, cn, gun);
      return NULL;
    }

  /* 4. Leaf validity. */
  if (!validate_certificate (leaf, now, check_expiry, error))
    {
      g_prefix_error (error, "root key %s: ", key->id);
      return NULL;
    }
  const char *keytype;
  switch (leaf->pk_algorithm)
    {
    case GNUTLS_PK_RSA:
      keytype = "rsa-x509";
      break;
    case GNUTLS_PK_ECDSA:
      keytype = "ecdsa-x509";
      break;
    default:
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE,
                   "root key %s: unsupported leaf certificate key algorithm", key->id);
      return NULL;
    }

  /* Rebuild leaf + valid intermediates as Go-formatted PEM. */
  g_autoptr (GString) chain = g_string_new (NULL);
  pem_append (chain, "CERTIFICATE", leaf->der);
  for (guint i = 1; i < certs->len; i++)
    {
      CertFacts *e = &g_array_index (certs, CertFacts, i);
      if (!validate_certificate (e, now, TRUE, NULL))
        continue;
      pem_append (chain, "CERTIFICATE", e->der);
    }
  gsize chain_len = chain->len;
  g_autoptr (GBytes) chain_bytes
      = g_bytes_new_take (g_string_free (g_steal_pointer (&chain), FALSE), chain_len);
  /* The usual root key (one leaf, PEM as Go writes it) comes out byte for
   * byte as it went in: reuse it rather than parse the certificate again. */
  if (g_str_equal (key->keytype, keytype) && g_bytes_equal (chain_bytes, key->public_bytes))
    return notary_key_ref (key);
  g_autoptr (GError) local = NULL;
  NotaryKey *rebuilt = notary_key_new (keytype, chain_bytes, &local);
  if (rebuilt == NULL)
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_CERTIFICATE, "root key %s: %s", key->id,
                   local->message);
      return NULL;
    }
  return rebuilt;
}

gint64
notary_key_get_not_after (NotaryKey *key)
{
  g_return_val_if_fail (key != NULL, G_MAXINT64);

  gint64 earliest = G_MAXINT64;
  if (key->kind != KIND_ECDSA_X509 && key->kind != KIND_RSA_X509)
    return earliest;
  gsize len = 0;
  const char *pem = g_bytes_get_data (key->public_bytes, &len);
  const char *cursor = pem;
  for (guint i = 0;; i++)
    {
      g_autoptr (PemBlock) block = pem_next (&cursor, pem + len);
      if (block == NULL)
        break;
      if (i == 0 && key->leaf != NULL)
        {
          /* the block the key was built from */
          if (key->leaf->not_after != (time_t)-1)
            earliest = MIN (earliest, (gint64)key->leaf->not_after);
          continue;
        }
      if (!g_str_equal (block->type, "CERTIFICATE"))
        continue;
      g_auto (gnutls_x509_crt_t) crt = crt_from_der (block->der, NULL);
      if (crt == NULL)
        continue;
      time_t t = gnutls_x509_crt_get_expiration_time (crt);
      if (t != (time_t)-1 && (gint64)t < earliest)
        earliest = t;
    }
  return earliest;
}

/* ---- private keys ----------------------------------------------------- */

typedef enum
{
  PRIV_ED25519,
  PRIV_ECDSA,
  PRIV_RSA,
} PrivAlg;

struct _NotaryPrivateKey
{
  gatomicrefcount ref;
  PrivAlg alg;
  /* GnuTLS objects are not documented as safe for concurrent use. */
  GMutex lock;
  gnutls_x509_privkey_t x509;
  gnutls_privkey_t priv;
  gsize ecdsa_half; /* r and s byte length for ECDSA */
  NotaryKey *pub;   /* immutable */
};

static const char *const priv_alg_names[] = { "ed25519", "ecdsa", "rsa" };
static const char *const priv_alg_methods[] = { "eddsa", "ecdsa", "rsapss" };

/* Takes ownership of @x509 and derives everything else from it. */
static NotaryPrivateKey *
private_key_wrap (gnutls_x509_privkey_t x509, GError **error)
{
  g_autoptr (NotaryPrivateKey) key = g_new0 (NotaryPrivateKey, 1);
  g_atomic_ref_count_init (&key->ref);
  g_mutex_init (&key->lock);
  key->x509 = x509;

  unsigned int bits = 0;
  int pk = gnutls_x509_privkey_get_pk_algorithm2 (x509, &bits);
  switch (pk)
    {
    case GNUTLS_PK_EDDSA_ED25519:
      key->alg = PRIV_ED25519;
      break;
    case GNUTLS_PK_ECDSA:
      key->alg = PRIV_ECDSA;
      break;
    case GNUTLS_PK_RSA:
      if (bits < MIN_RSA_BITS)
        {
          g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                       "RSA private keys must be at least %d bits, this one has %u", MIN_RSA_BITS, bits);
          return NULL;
        }
      key->alg = PRIV_RSA;
      break;
    default:
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                   "unsupported private key algorithm %s",
                   gnutls_pk_get_name (pk) ? gnutls_pk_get_name (pk) : "unknown");
      return NULL;
    }

  gnutls_privkey_init (&key->priv);
  int ret = gnutls_privkey_import_x509 (key->priv, x509, 0);
  if (ret < 0)
    {
      throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "importing private key");
      return NULL;
    }

  g_auto (gnutls_pubkey_t) pub = NULL;
  gnutls_pubkey_init (&pub);
  ret = gnutls_pubkey_import_privkey (pub, key->priv, 0, 0);
  if (ret < 0)
    {
      throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "deriving public key");
      return NULL;
    }
  g_autoptr (GBytes) public_bytes = NULL;
  if (key->alg == PRIV_ED25519)
    {
      g_auto (gnutls_datum_t) x = { NULL, 0 };
      ret = gnutls_pubkey_export_ecc_raw2 (pub, NULL, &x, NULL, 0);
      if (ret < 0)
        {
          throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "exporting ed25519 public key");
          return NULL;
        }
      public_bytes = bytes_steal_datum (&x);
    }
  else
    {
      g_auto (gnutls_datum_t) der = { NULL, 0 };
      ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &der);
      if (ret < 0)
        {
          throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "exporting public key");
          return NULL;
        }
      public_bytes = bytes_steal_datum (&der);
    }
  if (key->alg == PRIV_ECDSA)
    {
      gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
      ret = gnutls_pubkey_export_ecc_raw2 (pub, &curve, NULL, NULL, 0);
      if (ret < 0)
        {
          throw_gnutls (error, NOTARY_KEY_ERROR_INVALID, ret, "reading ECDSA curve");
          return NULL;
        }
      key->ecdsa_half = gnutls_ecc_curve_get_size (curve);
    }

  key->pub = notary_key_new (priv_alg_names[key->alg], public_bytes, error);
  if (key->pub == NULL)
    return NULL;
  return g_steal_pointer (&key);
}

NotaryPrivateKey *
notary_private_key_generate (const char *algorithm, GError **error)
{
  g_return_val_if_fail (algorithm != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gnutls_pk_algorithm_t pk;
  unsigned int bits;
  if (g_str_equal (algorithm, "ed25519"))
    {
      pk = GNUTLS_PK_EDDSA_ED25519;
      bits = GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_ED25519);
    }
  else if (g_str_equal (algorithm, "ecdsa"))
    {
      pk = GNUTLS_PK_ECDSA;
      bits = GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1);
    }
  else if (g_str_equal (algorithm, "rsa"))
    {
      pk = GNUTLS_PK_RSA;
      bits = 2048;
    }
  else
    {
      g_set_error (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_UNSUPPORTED,
                   "cannot generate keys of algorithm \"%s\"", algorithm);
      return NULL;
    }

  gnutls_x509_privkey_t x509 = NULL;
  gnutls_x509_privkey_init (&x509);
  int ret = gnutls_x509_privkey_generate2 (x509, pk, bits, 0, NULL, 0);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      throw_gnutls (error, NOTARY_KEY_ERROR_FAILED, ret, "generating private key");
      return NULL;
    }
  return private_key_wrap (x509, error);
}

/* notary's own PKCS#8 form for Ed25519 (signer-storage.md §5):
 * SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.6.1.4.1.11591.15.1 },
 * OCTET STRING (32-byte public ‖ 32-byte seed ‖ 32-byte public) }.
 * GnuTLS does not know that OID, so it is recognised here. */
static const guint8 notary_ed25519_prefix[] = {
  0x30, 0x72,                                                       /* SEQUENCE, 114 bytes */
  0x02, 0x01, 0x00,                                                 /* version 0 */
  0x30, 0x0b, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, /* AlgorithmIdentifier */
  0x0f, 0x01,                                                       /* OID 1.3.6.1.4.1.11591.15.1 */
  0x04, 0x60,                                                       /* OCTET STRING, 96 bytes */
};

static gnutls_x509_privkey_t
import_notary_ed25519 (GBytes *der)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (der, &len);
  if (len != sizeof (notary_ed25519_prefix) + 96
      || memcmp (p, notary_ed25519_prefix, sizeof (notary_ed25519_prefix)) != 0)
    return NULL;
  const guint8 *body = p + sizeof (notary_ed25519_prefix);
  /* The embedded public key appears twice; they must agree. */
  if (memcmp (body, body + 64, 32) != 0)
    return NULL;
  gnutls_datum_t x = { (unsigned char *)body, 32 };
  gnutls_datum_t k = { (unsigned char *)body + 32, 32 };
  gnutls_x509_privkey_t x509 = NULL;
  gnutls_x509_privkey_init (&x509);
  if (gnutls_x509_privkey_import_ecc_raw (x509, GNUTLS_ECC_CURVE_ED25519, &x, NULL, &k) < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      return NULL;
    }
  return x509;
}

NotaryPrivateKey *
notary_private_key_new_from_pkcs8 (GBytes *der, GError **error)
{
  g_return_val_if_fail (der != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gnutls_x509_privkey_t x509 = import_notary_ed25519 (der);
  if (x509 == NULL)
    {
      gnutls_x509_privkey_init (&x509);
      gnutls_datum_t d = datum_from_bytes (der);
      int ret = gnutls_x509_privkey_import_pkcs8 (x509, &d, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN);
      if (ret < 0)
        {
          gnutls_x509_privkey_deinit (x509);
          return throw_gnutls_null (error, NOTARY_KEY_ERROR_INVALID, ret, "importing PKCS#8 private key");
        }
    }
  /* A public key that does not match the private one would make every
   * signature fail later; catch it now. */
  int ret = gnutls_x509_privkey_verify_params (x509);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      return throw_gnutls_null (error, NOTARY_KEY_ERROR_INVALID, ret, "inconsistent private key");
    }
  return private_key_wrap (x509, error);
}

GBytes *
notary_private_key_export_pkcs8 (NotaryPrivateKey *key, GError **error)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_auto (gnutls_datum_t) out = { NULL, 0 };
  g_mutex_lock (&key->lock);
  int ret = gnutls_x509_privkey_export2_pkcs8 (key->x509, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &out);
  g_mutex_unlock (&key->lock);
  if (ret < 0)
    return throw_gnutls_null (error, NOTARY_KEY_ERROR_FAILED, ret, "exporting PKCS#8 private key");
  return bytes_steal_datum (&out);
}

NotaryPrivateKey *
notary_private_key_ref (NotaryPrivateKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_atomic_ref_count_inc (&key->ref);
  return key;
}

void
notary_private_key_unref (NotaryPrivateKey *key)
{
  if (key == NULL || !g_atomic_ref_count_dec (&key->ref))
    return;
  g_clear_pointer (&key->pub, notary_key_unref);
  g_clear_pointer (&key->priv, gnutls_privkey_deinit);
  g_clear_pointer (&key->x509, gnutls_x509_privkey_deinit);
  g_mutex_clear (&key->lock);
  g_free (key);
}

const char *
notary_private_key_get_algorithm (NotaryPrivateKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return priv_alg_names[key->alg];
}

const char *
notary_private_key_get_method (NotaryPrivateKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return priv_alg_methods[key->alg];
}

NotaryKey *
notary_private_key_get_public (NotaryPrivateKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->pub;
}

/* DER ECDSA-Sig-Value -> raw r‖s, each left-padded to the curve size. */
static GBytes *
ecdsa_der_to_raw (const gnutls_datum_t *der, gsize half, GError **error)
{
  g_auto (gnutls_datum_t) r = { NULL, 0 };
  g_auto (gnutls_datum_t) s = { NULL, 0 };
  int ret = gnutls_decode_rs_value (der, &r, &s);
  if (ret < 0)
    return throw_gnutls_null (error, NOTARY_KEY_ERROR_FAILED, ret, "decoding ECDSA signature");

  guint8 *raw = g_malloc0 (2 * half);
  const gnutls_datum_t *parts[2] = { &r, &s };
  for (int i = 0; i < 2; i++)
    {
      gnutls_datum_t t = trim_leading_zeros (parts[i]->data, parts[i]->size);
      if (t.size > half)
        {
          g_free (raw);
          g_set_error_literal (error, NOTARY_KEY_ERROR, NOTARY_KEY_ERROR_FAILED,
                               "ECDSA signature component longer than the curve size");
          return NULL;
        }
      memcpy (raw + i * half + (half - t.size), t.data, t.size);
    }
  return g_bytes_new_take (raw, 2 * half);
}

GBytes *
notary_private_key_sign (NotaryPrivateKey *key, GBytes *message, GError **error)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gnutls_sign_algorithm_t algo = GNUTLS_SIGN_UNKNOWN;
  switch (key->alg)
    {
    case PRIV_ED25519:
      algo = GNUTLS_SIGN_EDDSA_ED25519;
      break;
    case PRIV_ECDSA:
      algo = GNUTLS_SIGN_ECDSA_SHA256;
      break;
    case PRIV_RSA:
      /* GnuTLS uses salt length = digest length (32) by default, as §4 needs. */
      algo = GNUTLS_SIGN_RSA_PSS_SHA256;
      break;
    }

  gnutls_datum_t msg = datum_from_bytes (message);
  g_auto (gnutls_datum_t) sig = { NULL, 0 };
  g_mutex_lock (&key->lock);
  int ret = gnutls_privkey_sign_data2 (key->priv, algo, 0, &msg, &sig);
  g_mutex_unlock (&key->lock);
  if (ret < 0)
    return throw_gnutls_null (error, NOTARY_KEY_ERROR_FAILED, ret, "signing");

  if (key->alg == PRIV_ECDSA)
    return ecdsa_der_to_raw (&sig, key->ecdsa_half, error);
  return bytes_steal_datum (&sig);
}
