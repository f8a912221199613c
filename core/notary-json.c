/* notary-json.c — strict JSON parsing, TUF canonical JSON and time helpers.
 *
 * Everything notary signs or verifies passes through here, so the rules
 * are deliberately exact (tuf-metadata.md §1-2, §7):
 *
 *  - Parsing: a strict RFC 8259 grammar check, because json-glib 1.6's
 *    parser is lenient (comments, single quotes, hex and octal numbers,
 *    truncation at \u0000, lone surrogates, wrapped 64-bit integers).
 *    Input that passes is walked once more to build the json-glib tree
 *    (not through JsonParser; see "Building the tree"); duplicate keys at
 *    any depth are refused.  A
 *    big object (a targets map) can be canonicalised from the text instead
 *    of the tree: notary_json_parse_split.
 *  - Canonical output: docker/go MarshalCanonical as applied by notary's
 *    verifier to a generic decode — keys sorted by raw bytes, no
 *    whitespace, only `"` and `\` escaped, every number rendered as the
 *    int64 of its IEEE double value.
 *  - Time: RFC 3339 parsing and Go's RFC3339Nano / HTTP date rendering,
 *    done with plain civil-date arithmetic so no time zone state is read.
 */
#include "notary-json.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (notary-json-error-quark, notary_json_error)

/* Nesting limit of the strict checker.  Go allows 10000; nothing in TUF
 * metadata comes near this and it bounds the recursion of both our checker
 * and json-glib's parser on worker-thread stacks. */
#define NOTARY_JSON_MAX_DEPTH 512

/* 2^63 as a double: the first value outside gint64 on both sides' magnitude
 * (the negative limit -2^63 itself is representable). */
#define TWO_POW_63 9223372036854775808.0

/* ------------------------------------------------------------------------
 * Strict grammar check
 * ------------------------------------------------------------------------ */

/* Spans of one object member in the text (see record_spans below). */
typedef struct
{
  const char *key; /* decoded key: into the text, or key_owned */
  gsize key_len;
  char *key_owned; /* set when the raw key had escapes */
  const char *value;
  gsize value_len;
} MemberSpan;

typedef struct
{
  const char *start;
  const char *p;
  const char *end;
  guint depth;
  /* When set, the members of objects at depth record_depth are appended
   * here as raw spans (key_len counts the quotes out; keys undecoded). */
  GArray *record;
  guint record_depth;
} Checker;

static gboolean check_value (Checker *c, GError **error);

static gboolean
check_fail (Checker *c, GError **error, const char *what)
{
  g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE,
               "invalid JSON at byte %" G_GSIZE_FORMAT ": %s",
               (gsize) (c->p - c->start), what);
  return FALSE;
}

static void
check_skip_ws (Checker *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int
hex_value (char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits after "\u" at c->p (which points at 'u'). */
static gboolean
check_read_u_escape (Checker *c, guint *out, GError **error)
{
  guint v = 0;

  if (c->end - c->p < 5)
    return check_fail (c, error, "truncated \\u escape");
  for (int i = 1; i <= 4; i++)
    {
      int h = hex_value (c->p[i]);
      if (h < 0)
        return check_fail (c, error, "bad hex digit in \\u escape");
      v = (v << 4) | (guint) h;
    }
  c->p += 5;
  *out = v;
  return TRUE;
}

/* A string literal; c->p at the opening quote.  Raw bytes were already
 * UTF-8 validated for the whole document. */
static gboolean
check_string (Checker *c, GError **error)
{
  c->p++;
  while (c->p < c->end)
    {
      guchar ch = (guchar) *c->p;

      if (ch == '"')
        {
          c->p++;
          return TRUE;
        }
      if (ch < 0x20)
        return check_fail (c, error, "unescaped control character in string");
      if (ch != '\\')
        {
          c->p++;
          continue;
        }

      c->p++;
      if (c->p >= c->end)
        break;
      switch (*c->p)
        {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          c->p++;
          break;
        case 'u':
          {
            guint u;

            if (!check_read_u_escape (c, &u, error))
              return FALSE;
            /* json-glib stores strings NUL-terminated and would silently
             * truncate; refusing is the only faithful option. */
            if (u == 0)
              return check_fail (c, error, "\\u0000 is not supported in strings");
            if (u >= 0xDC00 && u <= 0xDFFF)
              return check_fail (c, error, "unpaired UTF-16 low surrogate");
            if (u >= 0xD800 && u <= 0xDBFF)
              {
                guint lo;

                if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
                  return check_fail (c, error, "unpaired UTF-16 high surrogate");
                c->p++;
                if (!check_read_u_escape (c, &lo, error))
                  return FALSE;
                if (lo < 0xDC00 || lo > 0xDFFF)
                  return check_fail (c, error, "unpaired UTF-16 high surrogate");
              }
            break;
          }
        default:
          return check_fail (c, error, "invalid escape in string");
        }
    }
  return check_fail (c, error, "unterminated string");
}

static gboolean
is_digit (const Checker *c)
{
  return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  Integer literals must fit
 * in gint64 (json-glib would wrap them); others must be finite (Go refuses
 * out-of-range floats too). */
static gboolean
check_number (Checker *c, GError **error)
{
  const char *tok = c->p;
  gboolean negative = FALSE, integral = TRUE;
  guint64 magnitude = 0;
  gboolean overflow = FALSE;

  if (*c->p == '-')
    {
      negative = TRUE;
      c->p++;
    }
  if (!is_digit (c))
    return check_fail (c, error, "expected digit");
  if (*c->p == '0')
    c->p++;
  else
    while (is_digit (c))
      {
        guint d = (guint) (*c->p - '0');
        if (magnitude > (G_MAXUINT64 - d) / 10)
          overflow = TRUE;
        else
          magnitude = magnitude * 10 + d;
        c->p++;
      }
  if (is_digit (c))
    return check_fail (c, error, "leading zero in number");
  if (c->p < c->end && *c->p == '.')
    {
      integral = FALSE;
      c->p++;
      if (!is_digit (c))
        return check_fail (c, error, "expected digit after decimal point");
      while (is_digit (c))
        c->p++;
    }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E'))
    {
      integral = FALSE;
      c->p++;
      if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
        c->p++;
      if (!is_digit (c))
        return check_fail (c, error, "expected digit in exponent");
      while (is_digit (c))
        c->p++;
    }

  if (integral)
    {
      guint64 limit = negative ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64;
      if (overflow || magnitude > limit)
        {
          c->p = tok;
          return check_fail (c, error, "integer does not fit in 64 bits");
        }
    }
  else
    {
      g_autofree char *copy = g_strndup (tok, (gsize) (c->p - tok));
      if (!isfinite (g_ascii_strtod (copy, NULL)))
        {
          c->p = tok;
          return check_fail (c, error, "number out of range");
        }
    }
  return TRUE;
}

static gboolean
check_literal (Checker *c, const char *word, GError **error)
{
  gsize n = strlen (word);

  if ((gsize) (c->end - c->p) < n || memcmp (c->p, word, n) != 0)
    return check_fail (c, error, "unexpected character");
  c->p += n;
  return TRUE;
}

/* Objects and arrays share one loop: @close is '}' or ']'. */
static gboolean
check_container (Checker *c, char close, GError **error)
{
  if (++c->depth > NOTARY_JSON_MAX_DEPTH)
    return check_fail (c, error, "nesting too deep");
  c->p++;
  check_skip_ws (c);
  if (c->p < c->end && *c->p == close)
    {
      c->p++;
      c->depth--;
      return TRUE;
    }
  for (;;)
    {
      MemberSpan m = { 0 };

      if (close == '}')
        {
          if (c->p >= c->end || *c->p != '"')
            return check_fail (c, error, "expected object key string");
          m.key = c->p + 1;
          if (!check_string (c, error))
            return FALSE;
          m.key_len = (gsize) (c->p - m.key) - 1;
          check_skip_ws (c);
          if (c->p >= c->end || *c->p != ':')
            return check_fail (c, error, "expected ':'");
          c->p++;
          check_skip_ws (c);
        }
      m.value = c->p;
      if (!check_value (c, error))
        return FALSE;
      if (close == '}' && c->record != NULL && c->depth == c->record_depth)
        {
          m.value_len = (gsize) (c->p - m.value);
          g_array_append_val (c->record, m);
        }
      check_skip_ws (c);
      if (c->p < c->end && *c->p == ',')
        {
          c->p++;
          check_skip_ws (c);
          continue;
        }
      if (c->p < c->end && *c->p == close)
        {
          c->p++;
          c->depth--;
          return TRUE;
        }
      return check_fail (c, error, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static gboolean
check_value (Checker *c, GError **error)
{
  if (c->p >= c->end)
    return check_fail (c, error, "unexpected end of input");
  switch (*c->p)
    {
    case '{':
      return check_container (c, '}', error);
    case '[':
      return check_container (c, ']', error);
    case '"':
      return check_string (c, error);
    case 't':
      return check_literal (c, "true", error);
    case 'f':
      return check_literal (c, "false", error);
    case 'n':
      return check_literal (c, "null", error);
    default:
      if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
        return check_number (c, error);
      return check_fail (c, error, "unexpected character");
    }
}

static gboolean
check_document (const char *data, gsize len, GError **error)
{
  const char *bad_utf8 = NULL;

  /* Before any pointer arithmetic: an empty GBytes (an empty upload
   * part) hands us NULL, and NULL + 0 is undefined behaviour in C (UBSan
   * reports it; found by fuzz/fuzz-signed). */
  if (len == 0)
    {
      g_set_error_literal (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE, "invalid JSON: empty document");
      return FALSE;
    }
  Checker c = { data, data, data + len, 0, NULL, 0 };
  /* Also rejects NUL bytes and (by the grammar below) a leading BOM,
   * which Go refuses as well. */
  if (!g_utf8_validate_len (data, len, &bad_utf8))
    {
      g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE,
                   "invalid JSON at byte %" G_GSIZE_FORMAT ": invalid UTF-8",
                   (gsize) (bad_utf8 - data));
      return FALSE;
    }
  check_skip_ws (&c);
  if (!check_value (&c, error))
    return FALSE;
  check_skip_ws (&c);
  if (c.p != c.end)
    return check_fail (&c, error, "trailing data after JSON value");
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------ */

/* Building the tree.
 *
 * The tree is built by a second walk over a text that passed check_document,
 * so the grammar is known good here: the walk only decodes.  It replaces
 * json_parser_load_from_data, whose scanner lexed every document again
 * after the strict check (json-glib 1.6's GScanner copy) and validated
 * its UTF-8 a second time: the walk took 5% off the instructions of a
 * publish (bench/README.md).  It builds the same
 * nodes json-glib's parser would: integral literals as gint64, others as
 * double (both parsed with the C locale's rules), strings decoded (the
 * checker refused \u0000 and lone surrogates), members in text order.
 * Duplicate keys, which json-glib would silently replace, are refused. */
typedef struct
{
  const char *p;
  const char *end; /* a number may end the text */
  GString *scratch; /* decoded strings, reused */
} Builder;

static JsonNode *build_value (Builder *b, GError **error);

static void
build_skip_ws (Builder *b)
{
  while (*b->p == ' ' || *b->p == '\t' || *b->p == '\n' || *b->p == '\r')
    b->p++;
}

static guint
build_hex4 (const char *p)
{
  guint v = 0;

  for (int i = 0; i < 4; i++)
    v = (v << 4) | (guint) hex_value (p[i]);
  return v;
}

/* The string at b->p (its opening quote), decoded into b->scratch. */
static const char *
build_string (Builder *b)
{
  const char *run = ++b->p;

  g_string_truncate (b->scratch, 0);
  for (;;)
    {
      while (*b->p != '"' && *b->p != '\\')
        b->p++;
      g_string_append_len (b->scratch, run, b->p - run);
      if (*b->p == '"')
        break;
      b->p++;
      switch (*b->p++)
        {
        case 'b': g_string_append_c (b->scratch, '\b'); break;
        case 'f': g_string_append_c (b->scratch, '\f'); break;
        case 'n': g_string_append_c (b->scratch, '\n'); break;
        case 'r': g_string_append_c (b->scratch, '\r'); break;
        case 't': g_string_append_c (b->scratch, '\t'); break;
        case 'u':
          {
            gunichar u = build_hex4 (b->p);
            b->p += 4;
            if (u >= 0xD800 && u <= 0xDBFF)
              {
                u = 0x10000 + ((u - 0xD800) << 10) + (build_hex4 (b->p + 2) - 0xDC00);
                b->p += 6;
              }
            g_string_append_unichar (b->scratch, u);
            break;
          }
        default: /* '"', '\\' and '/' stand for themselves */
          g_string_append_c (b->scratch, b->p[-1]);
          break;
        }
      run = b->p;
    }
  b->p++;
  return b->scratch->str;
}

static JsonNode *
build_number (Builder *b)
{
  const char *tok = b->p;
  gboolean integral = TRUE;
  char small[64];
  g_autofree char *big = NULL;
  const char *text;
  gsize len;
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  /* The checker passed the literal; after it comes ',', ']', '}', white
   * space or the end, none of which is in this set. */
  for (; b->p < b->end; b->p++)
    {
      char ch = *b->p;
      if (ch == '.' || ch == 'e' || ch == 'E')
        integral = FALSE;
      else if (!(ch >= '0' && ch <= '9') && ch != '-' && ch != '+')
        break;
    }
  len = (gsize) (b->p - tok);
  if (len < sizeof small)
    {
      memcpy (small, tok, len);
      small[len] = '\0';
      text = small;
    }
  else
    text = big = g_strndup (tok, len);
  if (integral)
    json_node_set_int (node, g_ascii_strtoll (text, NULL, 10)); /* fits: checked */
  else
    json_node_set_double (node, g_ascii_strtod (text, NULL));
  return node;
}

/* Objects and arrays share one loop, as in check_container: @close is
 * '}' or ']'. */
static JsonNode *
build_container (Builder *b, char close, GError **error)
{
  g_autoptr (JsonObject) obj = close == '}' ? json_object_new () : NULL;
  g_autoptr (JsonArray) array = close == ']' ? json_array_new () : NULL;
  JsonNode *node;

  b->p++;
  build_skip_ws (b);
  while (*b->p != close)
    {
      g_autofree char *key = NULL;
      JsonNode *value;

      if (obj != NULL)
        {
          key = g_strdup (build_string (b));
          build_skip_ws (b);
          b->p++; /* ':' */
          build_skip_ws (b);
        }
      value = build_value (b, error);
      if (value == NULL)
        return NULL;
      if (obj == NULL)
        json_array_add_element (array, value);
      else if (!json_object_has_member (obj, key))
        json_object_set_member (obj, key, value);
      else
        {
          json_node_unref (value);
          g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_DUPLICATE_KEY,
                       "invalid JSON: duplicate object key \"%s\"", key);
          return NULL;
        }
      build_skip_ws (b);
      if (*b->p == ',')
        {
          b->p++;
          build_skip_ws (b);
        }
    }
  b->p++;
  if (obj != NULL)
    {
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, g_steal_pointer (&obj));
    }
  else
    {
      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, g_steal_pointer (&array));
    }
  return node;
}

static JsonNode *
build_value (Builder *b, GError **error)
{
  JsonNode *node;

  switch (*b->p)
    {
    case '{':
      return build_container (b, '}', error);
    case '[':
      return build_container (b, ']', error);
    case '"':
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (node, build_string (b));
      return node;
    case 't':
    case 'f':
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, *b->p == 't');
      b->p += *b->p == 't' ? 4 : 5;
      return node;
    case 'n':
      b->p += 4;
      return json_node_new (JSON_NODE_NULL);
    default:
      return build_number (b);
    }
}

/* The tree of @data (@n bytes), which passed check_document. */
static JsonNode *
build_checked (const char *data, gsize n, GError **error)
{
  g_autoptr (GString) scratch = g_string_sized_new (64);
  Builder b = { data, data + n, scratch };

  build_skip_ws (&b);
  return build_value (&b, error);
}

JsonNode *
notary_json_parse (const char *data, gssize len, GError **error)
{
  gsize n;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  n = len < 0 ? strlen (data) : (gsize) len;
  if (!check_document (data, n, error))
    return NULL;
  return build_checked (data, n, error);
}

/* ------------------------------------------------------------------------
 * Canonical writer
 * ------------------------------------------------------------------------ */

void
notary_json_write_canonical_string (GString *out, const char *s)
{
  const char *run = s;

  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      if (*p != '"' && *p != '\\')
        continue;
      g_string_append_len (out, run, p - run);
      g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
      run = p + 1;
    }
  g_string_append (out, run);
  g_string_append_c (out, '"');
}

/* Go decodes every number into a float64 and then writes int64(f); mirror
 * that, so integers beyond 2^53 round exactly as they do in Go.  Values
 * outside int64 have no portable Go rendering and are refused. */
static gboolean
write_canonical_number (GString *out, double d, GError **error)
{
  if (!isfinite (d) || floor (d) != d)
    {
      g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL,
                   "number %.17g cannot be canonicalised: not an integer", d);
      return FALSE;
    }
  if (d < -TWO_POW_63 || d >= TWO_POW_63)
    {
      g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL,
                   "number %.17g cannot be canonicalised: outside the 64-bit range", d);
      return FALSE;
    }
  /* (gint64) -0.0 is 0, giving Go's "0". */
  g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) d);
  return TRUE;
}

static int
compare_keys (gconstpointer a, gconstpointer b)
{
  /* strcmp compares as unsigned char: raw UTF-8 byte order, as Go's sort
   * of string keys. */
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Writes @obj; when @splice_key is not NULL, that member's value is written
 * as the ready canonical text @splice instead of from the tree. */
static gboolean
write_object_spliced (GString *out, JsonObject *obj, const char *splice_key, GBytes *splice, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (obj);
  guint n = g_list_length (members);
  g_autofree const char **keys = g_new (const char *, n + 1);
  guint i = 0;

  for (GList *l = members; l != NULL; l = l->next)
    keys[i++] = l->data;
  qsort (keys, n, sizeof (char *), compare_keys);

  g_string_append_c (out, '{');
  for (i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      notary_json_write_canonical_string (out, keys[i]);
      g_string_append_c (out, ':');
      if (splice_key != NULL && strcmp (keys[i], splice_key) == 0)
        {
          gsize len;
          const char *text = g_bytes_get_data (splice, &len);
          g_string_append_len (out, text, (gssize) len);
        }
      else if (!notary_json_write_canonical (out, json_object_get_member (obj, keys[i]), error))
        return FALSE;
    }
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
write_canonical_object (GString *out, JsonObject *obj, GError **error)
{
  return write_object_spliced (out, obj, NULL, NULL, error);
}

gboolean
notary_json_write_canonical (GString *out, JsonNode *node, GError **error)
{
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (node != NULL, FALSE);

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      return TRUE;

    case JSON_NODE_OBJECT:
      return write_canonical_object (out, json_node_get_object (node), error);

    case JSON_NODE_ARRAY:
      {
        JsonArray *arr = json_node_get_array (node);
        guint n = json_array_get_length (arr);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (!notary_json_write_canonical (out, json_array_get_element (arr, i), error))
              return FALSE;
          }
        g_string_append_c (out, ']');
        return TRUE;
      }

    case JSON_NODE_VALUE:
      {
        GType type = json_node_get_value_type (node);

        if (type == G_TYPE_STRING)
          notary_json_write_canonical_string (out, json_node_get_string (node));
        else if (type == G_TYPE_BOOLEAN)
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
        else if (type == G_TYPE_INT64)
          return write_canonical_number (out, (double) json_node_get_int (node), error);
        else if (type == G_TYPE_DOUBLE)
          return write_canonical_number (out, json_node_get_double (node), error);
        else
          {
            g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL,
                         "value of type %s cannot be canonicalised", g_type_name (type));
            return FALSE;
          }
        return TRUE;
      }
    }

  g_set_error_literal (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL,
                       "unknown JSON node type");
  return FALSE;
}

GBytes *
notary_json_canonicalize_sized (JsonNode *node, gsize size_hint, GError **error)
{
  g_autoptr (GString) out = g_string_sized_new (size_hint);

  if (!notary_json_write_canonical (out, node, error))
    return NULL;
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

GBytes *
notary_json_canonicalize (JsonNode *node, GError **error)
{
  return notary_json_canonicalize_sized (node, 0, error);
}

GBytes *
notary_json_canonicalize_spliced (JsonNode *node, gsize size_hint, const char *key, GBytes *value_canonical,
                                  GError **error)
{
  g_autoptr (GString) out = NULL;

  g_return_val_if_fail (node != NULL && JSON_NODE_HOLDS_OBJECT (node), NULL);
  if (key == NULL || value_canonical == NULL)
    return notary_json_canonicalize_sized (node, size_hint, error);
  out = g_string_sized_new (size_hint);
  if (!write_object_spliced (out, json_node_get_object (node), key, value_canonical, error))
    return NULL;
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

/* ------------------------------------------------------------------------
 * Parsing with one big object kept out of the tree
 *
 * json-glib spends about 1 KB on every small object (a hash table, a
 * member list, a node per value).  A targets file with 100,000 entries is
 * 9 MB of text and would be a 100 MB tree, while its entries are only
 * ever checked and canonicalised, one at a time.  So that one object is
 * walked in the text: each member's value is parsed alone (strictly, as
 * any document), canonicalised and dropped; the members are sorted by
 * their keys' bytes as write_canonical_object sorts them.
 * ------------------------------------------------------------------------ */

static void
member_span_clear (MemberSpan *m)
{
  g_free (m->key_owned);
}

/* The members of the object starting at @data (its '{'; @n bytes at most)
 * in a text that passed check_document and begins at @start (for error
 * offsets), keys decoded.  \return (transfer full). */
static GArray *
record_spans (const char *start, const char *data, gsize n, GError **error)
{
  g_autoptr (GArray) members = g_array_new (FALSE, FALSE, sizeof (MemberSpan));
  g_autoptr (GString) scratch = NULL;
  Checker c = { start, data, data + n, 0, members, 1 };

  g_array_set_clear_func (members, (GDestroyNotify) member_span_clear);
  if (!check_value (&c, error))
    return NULL;
  for (guint i = 0; i < members->len; i++)
    {
      MemberSpan *m = &g_array_index (members, MemberSpan, i);

      if (memchr (m->key, '\\', m->key_len) == NULL)
        continue;
      /* Rare: decoded as the tree builder decodes keys (the checker has
       * passed the string, quotes at m->key - 1 and m->key + key_len). */
      if (scratch == NULL)
        scratch = g_string_new (NULL);
      Builder b = { m->key - 1, m->key + m->key_len + 1, scratch };
      m->key_owned = g_strdup (build_string (&b));
      m->key = m->key_owned;
      m->key_len = strlen (m->key_owned);
    }
  return g_steal_pointer (&members);
}

static int
compare_spans (gconstpointer a, gconstpointer b)
{
  const MemberSpan *x = a, *y = b;
  int d = memcmp (x->key, y->key, MIN (x->key_len, y->key_len));

  /* memcmp is unsigned, like strcmp: the same order as compare_keys (keys
   * hold no NUL, check_string refuses \u0000). */
  if (d != 0)
    return d;
  return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* The member of @members whose key is @key written without escapes, or
 * NULL (an escaped spelling of it does not count: such a document is
 * parsed whole). */
static const MemberSpan *
find_member (GArray *members, const char *key)
{
  gsize len = strlen (key);

  for (guint i = 0; i < members->len; i++)
    {
      const MemberSpan *m = &g_array_index (members, MemberSpan, i);
      if (m->key_owned == NULL && m->key_len == len && memcmp (m->key, key, len) == 0)
        return m;
    }
  return NULL;
}

/* Canonical text of the object spanning @data/@n (already checked). */
static GBytes *
canonicalize_object_text (const char *data, gsize n, GError **error)
{
  g_autoptr (GArray) members = record_spans (data, data, n, error);
  g_autoptr (GString) out = g_string_sized_new (n);

  if (members == NULL)
    return NULL;
  g_array_sort (members, compare_spans);

  g_string_append_c (out, '{');
  for (guint i = 0; i < members->len; i++)
    {
      const MemberSpan *m = &g_array_index (members, MemberSpan, i);
      g_autoptr (JsonNode) value = NULL;
      g_autofree char *key = g_strndup (m->key, m->key_len);

      if (i > 0 && compare_spans (m - 1, m) == 0)
        {
          g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_DUPLICATE_KEY,
                       "invalid JSON: duplicate object key \"%s\"", key);
          return NULL;
        }
      if (!check_document (m->value, m->value_len, error))
        return NULL;
      value = build_checked (m->value, m->value_len, error);
      if (value == NULL)
        return NULL;
      if (i > 0)
        g_string_append_c (out, ',');
      notary_json_write_canonical_string (out, key);
      g_string_append_c (out, ':');
      if (!notary_json_write_canonical (out, value, error))
        return NULL;
    }
  g_string_append_c (out, '}');
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

JsonNode *
notary_json_parse_split (const char *data, gssize len, const char *outer, const char *inner,
                         GBytes **inner_canonical, GError **error)
{
  g_autoptr (GArray) top = NULL;
  g_autoptr (GArray) mid = NULL;
  const MemberSpan *o, *m;
  g_autoptr (GBytes) canonical = NULL;
  g_autoptr (GString) rest = NULL;
  const char *p;
  gsize n;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (inner_canonical != NULL && *inner_canonical == NULL, NULL);

  n = len < 0 ? strlen (data) : (gsize) len;
  if (!check_document (data, n, error))
    return NULL;

  /* Find the two levels in the text; anything unexpected (not objects,
   * escaped keys) is simply parsed whole. */
  for (p = data; p < data + n && g_ascii_isspace (*p); p++)
    ;
  if (p >= data + n || *p != '{' || (top = record_spans (data, p, n - (gsize) (p - data), NULL)) == NULL
      || (o = find_member (top, outer)) == NULL || o->value[0] != '{'
      || (mid = record_spans (data, o->value, o->value_len, NULL)) == NULL
      || (m = find_member (mid, inner)) == NULL || m->value[0] != '{')
    goto whole;

  canonical = canonicalize_object_text (m->value, m->value_len, error);
  if (canonical == NULL)
    return NULL;
  /* The rest of the document, with "{}" in place of the object. */
  rest = g_string_sized_new (n - m->value_len + 2);
  g_string_append_len (rest, data, m->value - data);
  g_string_append (rest, "{}");
  g_string_append_len (rest, m->value + m->value_len, (gssize) (data + n - (m->value + m->value_len)));
  {
    g_autoptr (JsonNode) root = notary_json_parse (rest->str, (gssize) rest->len, error);
    if (root == NULL)
      return NULL;
    *inner_canonical = g_steal_pointer (&canonical);
    return g_steal_pointer (&root);
  }

whole:
  {
    return build_checked (data, n, error);
  }
}

/* ------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), and its inverse; valid for any year we can print. */
static gint64
days_from_civil (gint64 y, guint m, guint d)
{
  gint64 era;
  guint yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (guint) (y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (gint64) doe - 719468;
}

static void
civil_from_days (gint64 z, gint64 *y, guint *m, guint *d)
{
  gint64 era;
  guint doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (guint) (z - era * 146097);
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (gint64) yoe + era * 400 + (*m <= 2);
}

static guint
days_in_month (gint64 y, guint m)
{
  static const guint8 days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  gboolean leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly @n decimal digits. */
static gboolean
read_digits (const char **p, guint n, guint *out)
{
  guint v = 0;

  for (guint i = 0; i < n; i++)
    {
      if ((*p)[i] < '0' || (*p)[i] > '9')
        return FALSE;
      v = v * 10 + (guint) ((*p)[i] - '0');
    }
  *p += n;
  *out = v;
  return TRUE;
}

static gboolean
expect_char (const char **p, char ch)
{
  if (**p != ch)
    return FALSE;
  (*p)++;
  return TRUE;
}

gboolean
notary_time_parse_rfc3339 (const char *s, gint64 *out_unix, GError **error)
{
  return notary_time_parse_rfc3339_nanos (s, out_unix, NULL, error);
}

gboolean
notary_time_parse_rfc3339_nanos (const char *s, gint64 *out_unix, gint32 *out_nanos,
                                 GError **error)
{
  const char *p = s;
  guint year, month, day, hour, minute, second;
  gint64 offset = 0;
  gint32 nanos = 0;

  g_return_val_if_fail (s != NULL, FALSE);

  /* Same shape Go's time.RFC3339 layout accepts: upper-case T and Z, an
   * optional fraction of any length, seconds 0-59. */
  if (!read_digits (&p, 4, &year) || !expect_char (&p, '-') || !read_digits (&p, 2, &month)
      || !expect_char (&p, '-') || !read_digits (&p, 2, &day) || !expect_char (&p, 'T')
      || !read_digits (&p, 2, &hour) || !expect_char (&p, ':') || !read_digits (&p, 2, &minute)
      || !expect_char (&p, ':') || !read_digits (&p, 2, &second))
    goto malformed;
  if (*p == '.')
    {
      int digits = 0;

      p++;
      if (*p < '0' || *p > '9')
        goto malformed;
      /* The fraction only ever moves the instant forward within the
       * second, so the whole seconds are already truncated toward the
       * past; nanoseconds keep the first nine digits. */
      for (; *p >= '0' && *p <= '9'; p++, digits++)
        if (digits < 9)
          nanos = nanos * 10 + (*p - '0');
      for (; digits < 9; digits++)
        nanos *= 10;
    }
  if (*p == 'Z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      int sign = *p == '-' ? -1 : 1;
      guint oh, om;

      p++;
      if (!read_digits (&p, 2, &oh) || !expect_char (&p, ':') || !read_digits (&p, 2, &om))
        goto malformed;
      if (oh > 23 || om > 59)
        {
          g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE,
                       "timestamp \"%s\": time zone offset out of range", s);
          return FALSE;
        }
      offset = sign * (gint64) (oh * 3600 + om * 60);
    }
  else
    goto malformed;
  if (*p != '\0')
    goto malformed;

  if (month < 1 || month > 12 || day < 1 || day > days_in_month (year, month) || hour > 23
      || minute > 59 || second > 59)
    {
      g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE,
                   "timestamp \"%s\": field out of range", s);
      return FALSE;
    }

  if (out_unix != NULL)
    *out_unix = days_from_civil (year, month, day) * 86400 + hour * 3600 + minute * 60 + second
                - offset;
  if (out_nanos != NULL)
    *out_nanos = nanos;
  return TRUE;

malformed:
  g_set_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE,
               "timestamp \"%s\" is not RFC 3339 (expected 2006-01-02T15:04:05Z07:00)", s);
  return FALSE;
}

/* Splits @unix_seconds into a UTC civil date and seconds of the day. */
static void
split_unix (gint64 unix_seconds, gint64 *y, guint *mo, guint *d, guint *secs_of_day,
            gint64 *days_out)
{
  gint64 days = unix_seconds / 86400;
  gint64 rem = unix_seconds % 86400;

  if (rem < 0)
    {
      rem += 86400;
      days--;
    }
  civil_from_days (days, y, mo, d);
  *secs_of_day = (guint) rem;
  if (days_out != NULL)
    *days_out = days;
}

char *
notary_time_format_rfc3339 (gint64 unix_seconds, gint32 nanos)
{
  g_autoptr (GString) out = g_string_new (NULL);
  gint64 y;
  guint mo, d, sod;

  g_return_val_if_fail (nanos >= 0 && nanos < 1000000000, NULL);

  split_unix (unix_seconds, &y, &mo, &d, &sod, NULL);
  g_string_append_printf (out, "%04" G_GINT64_FORMAT "-%02u-%02uT%02u:%02u:%02u", y, mo, d,
                          sod / 3600, sod / 60 % 60, sod % 60);
  if (nanos > 0)
    {
      char frac[10];
      int n = 9;

      g_snprintf (frac, sizeof frac, "%09d", (int) nanos);
      while (frac[n - 1] == '0')
        n--;
      g_string_append_c (out, '.');
      g_string_append_len (out, frac, n);
    }
  g_string_append_c (out, 'Z');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Writes @v as exactly @width decimal digits (zero-padded); returns the
 * end. */
static char *
put_digits (char *p, guint v, guint width)
{
  for (guint i = width; i > 0; i--)
    {
      p[i - 1] = (char) ('0' + v % 10);
      v /= 10;
    }
  return p + width;
}

char *
notary_time_format_http (gint64 unix_seconds)
{
  static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  gint64 y, days, wday;
  guint mo, d, sod;
  char *out, *p;

  split_unix (unix_seconds, &y, &mo, &d, &sod, &days);
  /* 1970-01-01 was a Thursday. */
  wday = (days % 7 + 11) % 7;
  if (y < 0 || y > 9999)
    return g_strdup_printf ("%s, %02u %s %04" G_GINT64_FORMAT " %02u:%02u:%02u GMT", wdays[wday], d,
                            months[mo - 1], y, sod / 3600, sod / 60 % 60, sod % 60);
  /* Every response with metadata carries one (Last-Modified): written
   * digit by digit, vfprintf was ~1.5% of a GET's CPU. */
  out = p = g_malloc (sizeof "Thu, 01 Jan 1970 00:00:00 GMT");
  memcpy (p, wdays[wday], 3);
  p += 3;
  *p++ = ',';
  *p++ = ' ';
  p = put_digits (p, d, 2);
  *p++ = ' ';
  memcpy (p, months[mo - 1], 3);
  p += 3;
  *p++ = ' ';
  p = put_digits (p, (guint) y, 4);
  *p++ = ' ';
  p = put_digits (p, sod / 3600, 2);
  *p++ = ':';
  p = put_digits (p, sod / 60 % 60, 2);
  *p++ = ':';
  p = put_digits (p, sod % 60, 2);
  memcpy (p, " GMT", sizeof " GMT");
  return out;
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

/* The member's node, or NULL when @obj is NULL or lacks @member; lets
 * callers chain lookups without checking each level. */
static JsonNode *
get_member (JsonObject *obj, const char *member)
{
  if (obj == NULL)
    return NULL;
  return json_object_get_member (obj, member);
}

JsonObject *
notary_json_object_get_object (JsonObject *obj, const char *member)
{
  JsonNode *node = get_member (obj, member);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

JsonArray *
notary_json_object_get_array (JsonObject *obj, const char *member)
{
  JsonNode *node = get_member (obj, member);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

const char *
notary_json_object_get_string (JsonObject *obj, const char *member)
{
  JsonNode *node = get_member (obj, member);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gboolean
notary_json_object_get_int (JsonObject *obj, const char *member, gint64 *out)
{
  JsonNode *node = get_member (obj, member);

  /* Only literals written without fraction or exponent, which json-glib
   * hands over as gint64: Go's typed decoding of version, length and
   * threshold refuses "1.0" and "1e3" as well. */
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  if (out != NULL)
    *out = json_node_get_int (node);
  return TRUE;
}

void
notary_json_write_go_string (GString *out, const char *s, gssize len)
{
  static const char hex[] = "0123456789abcdef";
  const char *end = s + (len < 0 ? (gssize) strlen (s) : len);

  g_string_append_c (out, '"');
  for (const char *p = s; p < end; p++)
    {
      guchar c = (guchar) *p;
      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '<':
        case '>':
        case '&':
          g_string_append_printf (out, "\\u00%c%c", hex[c >> 4], hex[c & 0xf]);
          break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u00%c%c", hex[c >> 4], hex[c & 0xf]);
          else if (c < 0x80)
            g_string_append_c (out, (char) c);
          else
            {
              /* A byte that starts no valid UTF-8 sequence is written as
               * U+FFFD, one per byte, as Go does: strings from the wire
               * (a GUN, a part's filename) need not be UTF-8, and the
               * output must stay valid JSON (found by fuzz/fuzz-http). */
              gunichar u = g_utf8_get_char_validated (p, end - p);
              if (u == (gunichar) -1 || u == (gunichar) -2)
                {
                  g_string_append (out, "\\ufffd");
                  break;
                }
              const char *next = g_utf8_next_char (p);
              if (u == 0x2028 || u == 0x2029)
                /* U+2028/U+2029 break JavaScript parsers; Go escapes them. */
                g_string_append (out, u == 0x2028 ? "\\u2028" : "\\u2029");
              else
                g_string_append_len (out, p, next - p);
              p = next - 1;
            }
        }
    }
  g_string_append_c (out, '"');
}
