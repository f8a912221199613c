/* test-json.c — strict parser, canonical writer and time helpers.
 *
 * The canonical writer is checked byte for byte against metadata written by
 * the reference Go client and server (tests/data/reference/, produced by
 * tests/data/make-reference-vectors.sh), and against hand-written cases for
 * each rule of tuf-metadata.md §2.
 */
#include "notary-json.h"

#include <string.h>

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Canonical text of @json, or NULL with @error set. */
static char *
canon (const char *json, GError **error)
{
  g_autoptr (JsonNode) node = notary_json_parse (json, -1, error);
  g_autoptr (GBytes) bytes = NULL;

  if (node == NULL)
    return NULL;
  bytes = notary_json_canonicalize (node, error);
  if (bytes == NULL)
    return NULL;
  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
assert_canon (const char *json, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got = canon (json, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, expected);
}

static void
assert_parse_error (const char *json, gssize len, NotaryJsonError code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = notary_json_parse (json, len, &error);

  if (node != NULL)
    g_error ("parsed but should not have: %s", json);
  g_assert_error (error, NOTARY_JSON_ERROR, (gint) code);
}

static char *
reference_path (const char *name)
{
  return g_build_filename (NOTARY_TEST_DATA_DIR, "reference", name, NULL);
}

static GBytes *
read_reference (const char *name)
{
  g_autofree char *path = reference_path (name);
  g_autoptr (GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

/* The raw text of the "signed" member of an envelope Go wrote as
 * {"signed":<SIGNED>,"signatures":[…]}. */
static char *
extract_signed_text (const char *file, gsize len)
{
  static const char prefix[] = "{\"signed\":";
  static const char sep[] = ",\"signatures\":[";
  const char *last = NULL;

  g_assert_true (g_str_has_prefix (file, prefix));
  for (const char *p = file; (p = g_strstr_len (p, len - (p - file), sep)) != NULL; p++)
    last = p;
  g_assert_nonnull (last);
  return g_strndup (file + strlen (prefix), last - file - strlen (prefix));
}

/* Undo the HTML-safe escaping Go's envelope encoder applies to the signed
 * text (\u003c \u003e \u0026 \u2028 \u2029); what remains is the canonical
 * text the signature covers.  Sets *@count to the escapes undone. */
static char *
html_unescape (const char *s, guint *count)
{
  static const struct { const char *esc, *raw; } map[] = {
    { "\\u003c", "<" }, { "\\u003e", ">" }, { "\\u0026", "&" },
    { "\\u2028", "\xe2\x80\xa8" }, { "\\u2029", "\xe2\x80\xa9" },
  };
  GString *out = g_string_new (NULL);

  *count = 0;
  while (*s != '\0')
    {
      gboolean replaced = FALSE;

      if (s[0] == '\\' && s[1] == '\\')
        {
          g_string_append_len (out, s, 2);
          s += 2;
          continue;
        }
      for (gsize i = 0; i < G_N_ELEMENTS (map) && !replaced; i++)
        if (g_str_has_prefix (s, map[i].esc))
          {
            g_string_append (out, map[i].raw);
            s += strlen (map[i].esc);
            (*count)++;
            replaced = TRUE;
          }
      if (!replaced)
        g_string_append_c (out, *s++);
    }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------
 * Reference vectors from the Go implementation
 * ------------------------------------------------------------------------ */

static const char *const reference_files[] = {
  "root.json", "targets.json", "targets-releases.json",
  "snapshot.json", "timestamp.json", "snapshot-client.json",
};

static void
test_reference_canonical (void)
{
  guint html_escapes = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (reference_files); i++)
    {
      g_autoptr (GBytes) file = read_reference (reference_files[i]);
      gsize len;
      const char *data = g_bytes_get_data (file, &len);
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) envelope = NULL;
      g_autoptr (JsonNode) signed_node = NULL;
      g_autoptr (GBytes) from_envelope = NULL, from_text = NULL;
      g_autofree char *signed_text = NULL, *expected = NULL;
      guint escapes;

      g_test_message ("reference file %s", reference_files[i]);

      /* The whole file parses strictly... */
      envelope = notary_json_parse (data, (gssize) len, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (envelope));
      g_assert_nonnull (notary_json_object_get_array (json_node_get_object (envelope), "signatures"));

      /* ...and its signed part canonicalises to exactly Go's bytes, both
       * from the embedded node and from the raw signed text alone. */
      signed_text = extract_signed_text (data, len);
      expected = html_unescape (signed_text, &escapes);
      html_escapes += escapes;

      from_envelope = notary_json_canonicalize (
          json_object_get_member (json_node_get_object (envelope), "signed"), &error);
      g_assert_no_error (error);
      signed_node = notary_json_parse (signed_text, -1, &error);
      g_assert_no_error (error);
      from_text = notary_json_canonicalize (signed_node, &error);
      g_assert_no_error (error);

      g_assert_cmpmem (g_bytes_get_data (from_text, NULL), g_bytes_get_size (from_text),
                       expected, strlen (expected));
      g_assert_true (g_bytes_equal (from_envelope, from_text));
    }

  /* targets.json names a target "html<b>&é": Go's envelope writes it with
   * \u003c etc. while the signature covers the raw characters. */
  g_assert_cmpuint (html_escapes, >=, 3);
}

/* Base64 digest of @data as TUF filemeta carries it. */
static char *
b64_digest (GChecksumType type, GBytes *data)
{
  g_autoptr (GChecksum) sum = g_checksum_new (type);
  guint8 digest[64];
  gsize digest_len = sizeof digest;

  g_checksum_update (sum, g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  g_checksum_get_digest (sum, digest, &digest_len);
  return g_base64_encode (digest, digest_len);
}

static void
assert_filemeta (JsonObject *meta, const char *role, const char *file)
{
  g_autoptr (GBytes) bytes = read_reference (file);
  JsonObject *entry = notary_json_object_get_object (meta, role);
  JsonObject *hashes = notary_json_object_get_object (entry, "hashes");
  g_autofree char *sha256 = b64_digest (G_CHECKSUM_SHA256, bytes);
  g_autofree char *sha512 = b64_digest (G_CHECKSUM_SHA512, bytes);
  gint64 length = -1;

  g_assert_nonnull (hashes);
  g_assert_true (notary_json_object_get_int (entry, "length", &length));
  g_assert_cmpint (length, ==, (gint64) g_bytes_get_size (bytes));
  g_assert_cmpstr (notary_json_object_get_string (hashes, "sha256"), ==, sha256);
  g_assert_cmpstr (notary_json_object_get_string (hashes, "sha512"), ==, sha512);
}

static JsonNode *
parse_reference (const char *name)
{
  g_autoptr (GBytes) bytes = read_reference (name);
  g_autoptr (GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  JsonNode *node = notary_json_parse (data, (gssize) len, &error);

  g_assert_no_error (error);
  return node;
}

/* The vectors are one consistent repository state: timestamp → snapshot →
 * root/targets/delegation hashes agree.  Guards against a partial regen. */
static void
test_reference_consistent (void)
{
  g_autoptr (JsonNode) ts = parse_reference ("timestamp.json");
  g_autoptr (JsonNode) sn = parse_reference ("snapshot.json");
  JsonObject *ts_signed = notary_json_object_get_object (json_node_get_object (ts), "signed");
  JsonObject *sn_signed = notary_json_object_get_object (json_node_get_object (sn), "signed");

  g_assert_cmpstr (notary_json_object_get_string (ts_signed, "_type"), ==, "Timestamp");
  g_assert_cmpstr (notary_json_object_get_string (sn_signed, "_type"), ==, "Snapshot");
  assert_filemeta (notary_json_object_get_object (ts_signed, "meta"), "snapshot", "snapshot.json");
  assert_filemeta (notary_json_object_get_object (sn_signed, "meta"), "root", "root.json");
  assert_filemeta (notary_json_object_get_object (sn_signed, "meta"), "targets", "targets.json");
  assert_filemeta (notary_json_object_get_object (sn_signed, "meta"), "targets/releases",
                   "targets-releases.json");
}

/* Go wrote every "expires" with nanoseconds and trailing zeros trimmed;
 * parse + format must reproduce each string exactly. */
static void
test_reference_expires (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (reference_files); i++)
    {
      g_autoptr (JsonNode) node = parse_reference (reference_files[i]);
      JsonObject *sig = notary_json_object_get_object (json_node_get_object (node), "signed");
      const char *expires = notary_json_object_get_string (sig, "expires");
      g_autoptr (GError) error = NULL;
      g_autofree char *again = NULL;
      gint64 secs;
      gint32 nanos;

      g_assert_nonnull (expires);
      g_assert_true (notary_time_parse_rfc3339_nanos (expires, &secs, &nanos, &error));
      g_assert_no_error (error);
      again = notary_time_format_rfc3339 (secs, nanos);
      g_assert_cmpstr (again, ==, expires);
    }
}

/* ------------------------------------------------------------------------
 * Canonical writer rules
 * ------------------------------------------------------------------------ */

static void
test_canonical_key_order (void)
{
  /* Raw byte order: 'A' (0x41) < '_' (0x5f) < 'a' (0x61); "e" < "é"
   * (0xc3…); a prefix sorts first. */
  assert_canon ("{\"a\":1,\"_type\":2,\"A\":3,\"\xc3\xa9\":4,\"e\":5,\"ab\":6,\"\":7}",
                "{\"\":7,\"A\":3,\"_type\":2,\"a\":1,\"ab\":6,\"e\":5,\"\xc3\xa9\":4}");
  /* Nested objects are sorted too; arrays keep their order. */
  assert_canon ("{\"z\":{\"y\":[3,1,2],\"x\":{\"b\":true,\"a\":false}},\"m\":null}",
                "{\"m\":null,\"z\":{\"x\":{\"a\":false,\"b\":true},\"y\":[3,1,2]}}");
  /* TUF field order. */
  assert_canon ("{\"version\":1,\"expires\":\"e\",\"consistent_snapshot\":false,\"_type\":\"Root\"}",
                "{\"_type\":\"Root\",\"consistent_snapshot\":false,\"expires\":\"e\",\"version\":1}");
  /* Keys are compared after unescaping: "\u0041" is "A". */
  assert_canon ("{\"b\":1,\"\\u0041\":2}", "{\"A\":2,\"b\":1}");
}

static void
test_canonical_whitespace (void)
{
  assert_canon (" \t\r\n{ \"a\" :\n[ 1 , 2 , { } , [ ] ] , \"b\" : \"x y\" }\n",
                "{\"a\":[1,2,{},[]],\"b\":\"x y\"}");
  assert_canon ("true", "true");
  assert_canon ("null", "null");
  assert_canon ("\"s\"", "\"s\"");
}

static void
test_canonical_strings (void)
{
  /* HTML escapes are decoded to raw characters. */
  assert_canon ("[\"\\u003c\\u003e\\u0026\"]", "[\"<>&\"]");
  /* Decoded control characters are written raw, not re-escaped. */
  assert_canon ("[\"a\\nb\\tc\\r\\b\\f\\u0001\\u001f\\u007f\"]",
                "[\"a\nb\tc\r\b\f\x01\x1f\x7f\"]");
  /* Only quote and backslash stay escaped; "\/" becomes "/". */
  assert_canon ("[\"q\\\"b\\\\s\\/\"]", "[\"q\\\"b\\\\s/\"]");
  /* Non-ASCII is written as raw UTF-8, whether escaped or raw on input. */
  assert_canon ("[\"\\u00e9\\u20ac\\ud83d\\ude00\",\"\xc3\xa9\xf0\x9f\x98\x80\"]",
                "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"\xc3\xa9\xf0\x9f\x98\x80\"]");
  /* U+2028 stays raw (Go's non-canonical encoder would escape it). */
  assert_canon ("\"\\u2028\"", "\"\xe2\x80\xa8\"");
}

static void
test_canonical_string_writer (void)
{
  g_autoptr (GString) out = g_string_new ("x");

  notary_json_write_canonical_string (out, "a\"b\\c\n<\xc3\xa9>");
  g_assert_cmpstr (out->str, ==, "x\"a\\\"b\\\\c\n<\xc3\xa9>\"");
  g_string_truncate (out, 0);
  notary_json_write_canonical_string (out, "");
  g_assert_cmpstr (out->str, ==, "\"\"");
}

static void
test_canonical_numbers (void)
{
  static const struct { const char *in, *out; } ok[] = {
    { "0", "0" },
    { "-0", "0" },
    { "-0.0", "0" },
    { "1.0", "1" },
    { "1e3", "1000" },
    { "1E+3", "1000" },
    { "-12.5e1", "-125" },
    { "2.50e1", "25" },
    { "123456789012", "123456789012" },
    { "-7", "-7" },
    /* 2^53 + 1 is not a double: Go rounds it to 2^53 and so do we. */
    { "9007199254740993", "9007199254740992" },
    { "9007199254740993.0", "9007199254740992" },
    { "-9223372036854775808", "-9223372036854775808" },
    { "1e18", "1000000000000000000" },
  };
  static const char *const not_canonical[] = {
    "1.5", "0.1", "-0.5", "1e-1", "12345.6789",
    /* Integral but outside int64 once a double: Go's int64(f) has no
     * portable value there. */
    "9223372036854775807", "1e19", "-1e19", "1e300",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autofree char *in = g_strdup_printf ("[%s]", ok[i].in);
      g_autofree char *out = g_strdup_printf ("[%s]", ok[i].out);

      g_test_message ("number %s", ok[i].in);
      assert_canon (in, out);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (not_canonical); i++)
    {
      g_autofree char *in = g_strdup_printf ("{\"a\":[%s]}", not_canonical[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = notary_json_parse (in, -1, &error);
      g_autoptr (GBytes) bytes = NULL;

      g_test_message ("number %s", not_canonical[i]);
      g_assert_no_error (error);
      bytes = notary_json_canonicalize (node, &error);
      g_assert_null (bytes);
      g_assert_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL);
    }
}

/* Nodes built by code (the server's own snapshot/timestamp) go through the
 * same writer; write_canonical appends to what is already there. */
static void
test_canonical_built_nodes (void)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GString) out = g_string_new ("prefix:");
  g_autoptr (GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 3);
  json_builder_set_member_name (b, "_type");
  json_builder_add_string_value (b, "Timestamp");
  json_builder_set_member_name (b, "length");
  json_builder_add_double_value (b, 688.0);
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  g_assert_true (notary_json_write_canonical (out, root, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out->str, ==, "prefix:{\"_type\":\"Timestamp\",\"length\":688,\"version\":3}");
}

/* ------------------------------------------------------------------------
 * Strict parsing
 * ------------------------------------------------------------------------ */

static void
test_parse_duplicates (void)
{
  static const char *const dups[] = {
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"b\":2,\"a\":1}",
    "{\"x\":[{\"b\":1,\"c\":2,\"b\":3}]}",
    "{\"signed\":{\"meta\":{\"k\":{\"hashes\":{\"sha256\":\"x\",\"sha256\":\"y\"}}}}}",
    "[[[{\"q\":{},\"q\":{}}]]]",
    "{\"a\":1,\"\\u0061\":2}", /* equal after unescaping */
    "{\"\":1,\"\":2}",
    /* the replaced value had members of its own */
    "{\"a\":{\"x\":1,\"y\":2},\"a\":{\"z\":3}}",
    "{\"a\":{\"x\":{\"p\":1}},\"b\":2,\"a\":3}",
    "[{\"k\":[{\"m\":1}],\"k\":[]},{\"n\":1}]",
  };
  static const char *const fine[] = {
    "[{\"a\":1},{\"a\":2}]",
    "{\"a\":{\"a\":{\"a\":1}}}",
    "{\"a\":1,\"A\":2,\"a \":3}",
    "{\"a\":[],\"b\":{},\"c\":[{},{\"a\":[{\"a\":null}]}]}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (dups); i++)
    {
      g_test_message ("duplicate case %s", dups[i]);
      assert_parse_error (dups[i], -1, NOTARY_JSON_ERROR_DUPLICATE_KEY);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (fine); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = notary_json_parse (fine[i], -1, &error);

      g_assert_no_error (error);
      g_assert_nonnull (node);
    }

  /* The message names the key. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) node = notary_json_parse ("{\"k\":{\"version\":1,\"version\":2}}", -1,
                                                   &error);
    g_assert_null (node);
    g_assert_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_DUPLICATE_KEY);
    g_assert_nonnull (strstr (error->message, "\"version\""));
  }
}

static void
test_parse_invalid_utf8 (void)
{
  static const char *const bad[] = {
    "\"\xff\"",
    "\"\xc0\xaf\"",          /* overlong '/' */
    "\"\xc3\"",              /* truncated sequence */
    "\"\xed\xa0\x80\"",      /* UTF-8 encoded surrogate */
    "{\"k\xfe\":1}",
    "[\"ok\",\"\xe2\x82\"]",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_parse_error (bad[i], -1, NOTARY_JSON_ERROR_PARSE);

  /* An explicit length covers an embedded NUL, which is never valid. */
  assert_parse_error ("[1]\0", 4, NOTARY_JSON_ERROR_PARSE);
  assert_parse_error ("\"a\0b\"", 5, NOTARY_JSON_ERROR_PARSE);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) node = notary_json_parse ("[1]garbage", 3, &error);
    g_assert_no_error (error);
    g_assert_nonnull (node);
  }
}

static void
test_parse_strict_grammar (void)
{
  /* Everything here is accepted by json-glib 1.6's lenient scanner or
   * would be mangled by it; Go's decoder refuses all of it. */
  static const char *const bad[] = {
    "", " ", "{", "[", "}", "[1,]", "{\"a\":1,}", "[,1]", "{,}", "[1 2]",
    "{\"a\" 1}", "{\"a\":}", "{a:1}", "{1:1}", "'a'", "['a']",
    "01", "-01", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "- 1", "0x10", "010",
    "NaN", "Infinity", "-Infinity", "tru", "nul", "True", "abc",
    "/*c*/1", "1 // c", "[1] x", "1 2", "{}{}",
    "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"",
    "\"a\tb\"", "\"a\nb\"", "\"\x1f\"",
    "\"\\u0000\"", "\"x\\u0000y\"",
    "\"\\ud800\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\"", "\"\\udc00\"", "\"\\ude00\\ud83d\"",
    "\xef\xbb\xbf{}", /* BOM */
    "1e400", "-1e400", /* not finite */
    "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "99999999999999999999999",
  };
  static const char *const good[] = {
    "0", "-0", "[]", "{}", "\"\"", "{\"\":\"\"}", "[true,false,null]",
    "-9223372036854775808", "9223372036854775807", "1E-400", "[\"\\u00e9\\/\"]",
  };

  /* An empty GBytes (an empty upload part) has no data pointer at all:
   * refused before any arithmetic on it (clang's UBSan caught NULL + 0). */
  assert_parse_error (NULL, 0, NOTARY_JSON_ERROR_PARSE);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *shown = g_strescape (bad[i], NULL); /* TAP wants UTF-8 */
      g_test_message ("invalid case %zu: %s", i, shown);
      assert_parse_error (bad[i], -1, NOTARY_JSON_ERROR_PARSE);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = notary_json_parse (good[i], -1, &error);

      g_test_message ("valid case %s", good[i]);
      g_assert_no_error (error);
      g_assert_nonnull (node);
    }

  /* Error messages carry a byte offset. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) node = notary_json_parse ("{\"a\":[1,2,]}", -1, &error);
    g_assert_null (node);
    g_assert_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE);
    g_assert_nonnull (strstr (error->message, "byte 10"));
  }
}

/* Our tree builder against json-glib's own parser: the same node types,
 * value types (gint64 for integral literals, double otherwise), values and
 * member order, for valid documents of every shape and the reference
 * files. */
static void
assert_same_tree (JsonNode *ours, JsonNode *theirs)
{
  g_assert_cmpint (JSON_NODE_TYPE (ours), ==, JSON_NODE_TYPE (theirs));
  switch (JSON_NODE_TYPE (ours))
    {
    case JSON_NODE_OBJECT:
      {
        g_autoptr (GList) a = json_object_get_members (json_node_get_object (ours));
        g_autoptr (GList) b = json_object_get_members (json_node_get_object (theirs));
        GList *x = a, *y = b;
        g_assert_cmpuint (g_list_length (a), ==, g_list_length (b));
        for (; x != NULL; x = x->next, y = y->next)
          {
            g_assert_cmpstr (x->data, ==, y->data);
            assert_same_tree (json_object_get_member (json_node_get_object (ours), x->data),
                              json_object_get_member (json_node_get_object (theirs), y->data));
          }
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *a = json_node_get_array (ours), *b = json_node_get_array (theirs);
        g_assert_cmpuint (json_array_get_length (a), ==, json_array_get_length (b));
        for (guint i = 0; i < json_array_get_length (a); i++)
          assert_same_tree (json_array_get_element (a, i), json_array_get_element (b, i));
        break;
      }
    case JSON_NODE_VALUE:
      g_assert_true (json_node_get_value_type (ours) == json_node_get_value_type (theirs));
      if (json_node_get_value_type (ours) == G_TYPE_INT64)
        g_assert_cmpint (json_node_get_int (ours), ==, json_node_get_int (theirs));
      else if (json_node_get_value_type (ours) == G_TYPE_DOUBLE)
        g_assert_true (json_node_get_double (ours) == json_node_get_double (theirs));
      else if (json_node_get_value_type (ours) == G_TYPE_BOOLEAN)
        g_assert_cmpint (json_node_get_boolean (ours), ==, json_node_get_boolean (theirs));
      else
        g_assert_cmpstr (json_node_get_string (ours), ==, json_node_get_string (theirs));
      break;
    case JSON_NODE_NULL:
      break;
    }
}

static void
assert_parses_as_json_glib (const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonNode) ours = notary_json_parse (text, (gssize) len, &error);

  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, text, (gssize) len, NULL));
  assert_same_tree (ours, json_parser_get_root (parser));
}

static void
test_parse_same_tree (void)
{
  static const char *const docs[] = {
    "{}", "[]", "null", "true", "false", "\"\"", "0", "-0", "42", "-7", "1.5", "-0.0",
    "1e2", "1E-2", "2.5e+3", "123456789012345678", "-9223372036854775808", "9223372036854775807",
    "9007199254740993", "0.1", "1e308",
    "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
    "\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\uFFFF\"",
    "\"raw UTF-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
    " \t\r\n{ \"a\" : [ 1 , 2.0 , \"x\" , null , true , false , { } , [ ] ] , \"b\" : { \"c\" : { \"d\" : -1 } } } \n",
    "{\"z\":1,\"a\":2,\"m\":3,\"\":4,\"\\u0041\":5}",
    "[[[[[[[[[[\"deep\"]]]]]]]]]]",
    "{\"signed\":{\"_type\":\"Targets\",\"version\":2,\"expires\":\"2030-01-01T00:00:00Z\","
    "\"targets\":{\"t\":{\"length\":10,\"hashes\":{\"sha256\":\"AAAA\"}}}},\"signatures\":[]}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_test_message ("document %s", docs[i]);
      assert_parses_as_json_glib (docs[i], strlen (docs[i]));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (reference_files); i++)
    {
      g_autoptr (GBytes) file = read_reference (reference_files[i]);
      gsize len;
      const char *data = g_bytes_get_data (file, &len);
      assert_parses_as_json_glib (data, len);
    }
}

/* Random valid documents: every kind of value, escape and number form,
 * random white space; keys unique within an object. */
static void
random_ws (GString *out)
{
  static const char ws[] = " \t\r\n";

  while (g_test_rand_int_range (0, 4) == 0)
    g_string_append_c (out, ws[g_test_rand_int_range (0, 4)]);
}

static void
random_string (GString *out, const char *suffix)
{
  static const char *const raw[] = { "a", "Z", "0", " ", "~", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "'", "<&>" };
  static const char *const escapes[] = { "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
                                         "\\u0001", "\\u001f", "\\u00e9", "\\u20AC", "\\uffff",
                                         "\\ud83d\\ude00", "\\uDBFF\\uDFFF", "\\u0041" };

  g_string_append_c (out, '"');
  for (int i = 0, n = g_test_rand_int_range (0, 12); i < n; i++)
    {
      if (g_test_rand_bit ())
        g_string_append (out, raw[g_test_rand_int_range (0, G_N_ELEMENTS (raw))]);
      else
        g_string_append (out, escapes[g_test_rand_int_range (0, G_N_ELEMENTS (escapes))]);
    }
  g_string_append (out, suffix);
  g_string_append_c (out, '"');
}

static void
random_number (GString *out)
{
  static const char *const edges[] = { "0", "-0", "9223372036854775807", "-9223372036854775808",
                                       "9007199254740993", "-0.0", "0.1", "1e308", "-2.2250738585072014e-308",
                                       "4.9e-324", "123456789.123456789e-5", "1E+2", "0e0" };

  switch (g_test_rand_int_range (0, 4))
    {
    case 0:
      g_string_append (out, edges[g_test_rand_int_range (0, G_N_ELEMENTS (edges))]);
      break;
    case 1:
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
                              (gint64) (((guint64) g_test_rand_int () << 32) | (guint32) g_test_rand_int ()));
      break;
    case 2:
      g_string_append_printf (out, "%d", g_test_rand_int_range (-1000, 1000));
      break;
    default:
      g_string_append_printf (out, "%s%d.%0*d", g_test_rand_bit () ? "-" : "", g_test_rand_int_range (0, 100000),
                              g_test_rand_int_range (1, 12), g_test_rand_int_range (0, 1000000));
      if (g_test_rand_bit ())
        g_string_append_printf (out, "%c%s%d", g_test_rand_bit () ? 'e' : 'E',
                                g_test_rand_bit () ? "-" : (g_test_rand_bit () ? "+" : ""),
                                g_test_rand_int_range (0, 300));
      break;
    }
}

static void
random_value (GString *out, int depth)
{
  int kind = g_test_rand_int_range (0, depth < 5 ? 7 : 5);

  random_ws (out);
  switch (kind)
    {
    case 0: random_string (out, ""); break;
    case 1: random_number (out); break;
    case 2: g_string_append (out, "true"); break;
    case 3: g_string_append (out, "false"); break;
    case 4: g_string_append (out, "null"); break;
    case 5:
      g_string_append_c (out, '[');
      for (int i = 0, n = g_test_rand_int_range (0, 5); i < n; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          random_value (out, depth + 1);
        }
      random_ws (out);
      g_string_append_c (out, ']');
      break;
    default:
      g_string_append_c (out, '{');
      for (int i = 0, n = g_test_rand_int_range (0, 6); i < n; i++)
        {
          g_autofree char *suffix = g_strdup_printf ("#%d", i); /* unique keys */
          if (i > 0)
            g_string_append_c (out, ',');
          random_ws (out);
          random_string (out, suffix);
          random_ws (out);
          g_string_append_c (out, ':');
          random_value (out, depth + 1);
        }
      random_ws (out);
      g_string_append_c (out, '}');
      break;
    }
  random_ws (out);
}

static void
test_parse_same_tree_random (void)
{
  for (int i = 0; i < 2000; i++)
    {
      g_autoptr (GString) doc = g_string_new (NULL);

      random_value (doc, 0);
      g_test_message ("random document %d: %s", i, doc->str);
      assert_parses_as_json_glib (doc->str, doc->len);
    }
}

/* A document that is a bare number ends the buffer: nothing past its last
 * byte is read (ASan builds catch a read past the copy). */
static void
test_parse_bare_number_bounds (void)
{
  static const char *const numbers[] = { "7", "-12", "3.25", "1e5", "18446744" };

  for (gsize i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      gsize len = strlen (numbers[i]);
      g_autofree char *exact = g_memdup2 (numbers[i], len); /* no NUL */
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = notary_json_parse (exact, (gssize) len, &error);

      g_assert_no_error (error);
      g_assert_nonnull (node);
      g_assert_true (JSON_NODE_HOLDS_VALUE (node));
    }
}

static void
test_parse_depth (void)
{
  g_autoptr (GString) ok = g_string_new (NULL);
  g_autoptr (GString) deep = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;

  for (int i = 0; i < 200; i++)
    g_string_append (ok, "[{\"a\":");
  g_string_append (ok, "1");
  for (int i = 0; i < 200; i++)
    g_string_append (ok, "}]");
  node = notary_json_parse (ok->str, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);

  /* A hostile nesting depth is refused before json-glib recurses. */
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  assert_parse_error (deep->str, -1, NOTARY_JSON_ERROR_PARSE);
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

/* Strings as Go's encoding/json writes them, bytes that are not UTF-8
 * included: every output is valid JSON that reads back as the input with
 * each bad byte replaced by U+FFFD. */
static void
test_go_string (void)
{
  static const struct
  {
    const char *in;
    gssize len;
    const char *out;
  } cases[] = {
    { "plain", -1, "\"plain\"" },
    { "a\"b\\c\n\r\t", -1, "\"a\\\"b\\\\c\\n\\r\\t\"" },
    { "<a&b>", -1, "\"\\u003ca\\u0026b\\u003e\"" },
    { "\x01\x1f", -1, "\"\\u0001\\u001f\"" },
    { "\xc3\xa9\xf0\x9f\x98\x80", -1, "\"\xc3\xa9\xf0\x9f\x98\x80\"" },
    { "x\xe2\x80\xa8y\xe2\x80\xa9", -1, "\"x\\u2028y\\u2029\"" },
    { "\xff", -1, "\"\\ufffd\"" },
    { "a\xe2\x82", -1, "\"a\\ufffd\\ufffd\"" },     /* cut short */
    { "\xed\xa0\x80", -1, "\"\\ufffd\\ufffd\\ufffd\"" }, /* a surrogate */
    { "\xc0\xaf", -1, "\"\\ufffd\\ufffd\"" },         /* overlong '/' */
    { "ab\0c", 4, "\"ab\\u0000c\"" },
    { "\xc3\xa9", 1, "\"\\ufffd\"" },                   /* length cuts a character */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) out = g_string_new (NULL);
      notary_json_write_go_string (out, cases[i].in, cases[i].len);
      g_assert_cmpstr (out->str, ==, cases[i].out);
      g_assert_true (g_utf8_validate (out->str, (gssize) out->len, NULL));
    }
}

static void
test_accessors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = notary_json_parse (
      "{\"o\":{\"s\":\"str\"},\"a\":[1],\"s\":\"x\",\"i\":-42,\"f\":1.0,\"e\":1e3,"
      "\"n\":null,\"b\":true,\"big\":9223372036854775807}",
      -1, &error);
  JsonObject *obj;
  gint64 v = 0;

  g_assert_no_error (error);
  obj = json_node_get_object (node);

  g_assert_nonnull (notary_json_object_get_object (obj, "o"));
  g_assert_cmpstr (notary_json_object_get_string (notary_json_object_get_object (obj, "o"), "s"),
                   ==, "str");
  g_assert_null (notary_json_object_get_object (obj, "a"));
  g_assert_null (notary_json_object_get_object (obj, "n"));
  g_assert_null (notary_json_object_get_object (obj, "missing"));
  /* NULL objects chain safely. */
  g_assert_null (notary_json_object_get_string (notary_json_object_get_object (obj, "zz"), "s"));

  g_assert_nonnull (notary_json_object_get_array (obj, "a"));
  g_assert_null (notary_json_object_get_array (obj, "o"));

  g_assert_cmpstr (notary_json_object_get_string (obj, "s"), ==, "x");
  g_assert_null (notary_json_object_get_string (obj, "i"));
  g_assert_null (notary_json_object_get_string (obj, "n"));
  g_assert_null (notary_json_object_get_string (obj, "o"));

  g_assert_true (notary_json_object_get_int (obj, "i", &v));
  g_assert_cmpint (v, ==, -42);
  g_assert_true (notary_json_object_get_int (obj, "big", &v));
  g_assert_cmpint (v, ==, G_MAXINT64);
  v = 7;
  g_assert_false (notary_json_object_get_int (obj, "f", &v));
  g_assert_false (notary_json_object_get_int (obj, "e", &v));
  g_assert_false (notary_json_object_get_int (obj, "s", &v));
  g_assert_false (notary_json_object_get_int (obj, "b", &v));
  g_assert_false (notary_json_object_get_int (obj, "n", &v));
  g_assert_false (notary_json_object_get_int (obj, "o", &v));
  g_assert_false (notary_json_object_get_int (obj, "missing", &v));
  g_assert_cmpint (v, ==, 7);
}

/* ------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------ */

static void
test_time_parse (void)
{
  static const struct { const char *s; gint64 secs; gint32 nanos; } ok[] = {
    { "1970-01-01T00:00:00Z", 0, 0 },
    { "2024-05-01T10:00:00Z", 1714557600, 0 },
    { "2024-05-01T10:00:00.123456789Z", 1714557600, 123456789 },
    { "2024-05-01T10:00:00.5Z", 1714557600, 500000000 },
    { "2024-05-01T10:00:00.1234567891234Z", 1714557600, 123456789 },
    { "2024-05-01T12:00:00+02:00", 1714557600, 0 },
    { "2024-05-01T05:30:00.25-04:30", 1714557600, 250000000 },
    { "2024-05-01T10:00:00+00:00", 1714557600, 0 },
    { "2024-05-01T10:00:00-00:00", 1714557600, 0 },
    /* The fraction never moves the seconds: before 1970 they are already
     * the floor. */
    { "1969-12-31T23:59:59.999Z", -1, 999000000 },
    { "2000-02-29T00:00:00Z", 951782400, 0 },
    { "2006-01-02T15:04:05-07:00", 1136239445, 0 },
    { "0001-01-01T00:00:00Z", -62135596800, 0 },
    { "9999-12-31T23:59:59Z", 253402300799, 0 },
  };
  static const char *const bad[] = {
    "", "2024", "2024-05-01", "2024-05-01T10:00Z", "2024-05-01T10:00:00",
    "2024-05-01 10:00:00Z", "2024-05-01t10:00:00Z", "2024-05-01T10:00:00z",
    "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00+02",
    "2024-05-01T10:00:00Zjunk", " 2024-05-01T10:00:00Z", "24-05-01T10:00:00Z",
    "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-05-00T00:00:00Z",
    "2024-04-31T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
    "2024-05-01T24:00:00Z", "2024-05-01T10:60:00Z", "2024-05-01T10:00:60Z",
    "2024-05-01T10:00:00+24:00", "2024-05-01T10:00:00+02:60",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 secs = 0, secs2 = 0;
      gint32 nanos = -1;

      g_test_message ("time %s", ok[i].s);
      g_assert_true (notary_time_parse_rfc3339_nanos (ok[i].s, &secs, &nanos, &error));
      g_assert_no_error (error);
      g_assert_cmpint (secs, ==, ok[i].secs);
      g_assert_cmpint (nanos, ==, ok[i].nanos);
      g_assert_true (notary_time_parse_rfc3339 (ok[i].s, &secs2, &error));
      g_assert_cmpint (secs2, ==, ok[i].secs);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 secs = 12345;

      g_test_message ("bad time %s", bad[i]);
      g_assert_false (notary_time_parse_rfc3339 (bad[i], &secs, &error));
      g_assert_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_PARSE);
      g_assert_cmpint (secs, ==, 12345);
    }
}

static void
test_time_format (void)
{
  static const struct { gint64 secs; gint32 nanos; const char *s; } cases[] = {
    { 0, 0, "1970-01-01T00:00:00Z" },
    { 1714557600, 123456789, "2024-05-01T10:00:00.123456789Z" },
    /* Go trims trailing zeros of the fraction, and drops it when zero. */
    { 1714557600, 120000000, "2024-05-01T10:00:00.12Z" },
    { 1714557600, 500000000, "2024-05-01T10:00:00.5Z" },
    { 1714557600, 100, "2024-05-01T10:00:00.0000001Z" },
    { 1714557600, 1, "2024-05-01T10:00:00.000000001Z" },
    { 1714557600, 482291290, "2024-05-01T10:00:00.48229129Z" },
    { -1, 0, "1969-12-31T23:59:59Z" },
    { 951782400, 0, "2000-02-29T00:00:00Z" },
    { 253402300799, 999999999, "9999-12-31T23:59:59.999999999Z" },
    { -62135596800, 0, "0001-01-01T00:00:00Z" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *s = notary_time_format_rfc3339 (cases[i].secs, cases[i].nanos);
      g_assert_cmpstr (s, ==, cases[i].s);
    }
}

/* format ∘ parse is the identity over a spread of instants, including
 * month ends and leap days across four centuries. */
static void
test_time_round_trip (void)
{
  for (gint64 t = -62135596800; t < 253402300799; t += 86400 * 7 + 3599)
    {
      gint32 nanos = (gint32) ((t % 1000 + 1000) % 1000 * 1000000 + (t % 13 == 0 ? 7 : 0));
      g_autofree char *s = notary_time_format_rfc3339 (t, nanos);
      g_autoptr (GError) error = NULL;
      gint64 back;
      gint32 back_nanos;

      if (!notary_time_parse_rfc3339_nanos (s, &back, &back_nanos, &error))
        g_error ("%s: %s", s, error->message);
      g_assert_cmpint (back, ==, t);
      g_assert_cmpint (back_nanos, ==, nanos);
    }

  /* Agrees with GLib's own calendar for a few dates. */
  for (gint64 t = 0; t < 4102444800; t += 86400 * 37 + 12345)
    {
      g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (t);
      g_autofree char *ours = notary_time_format_rfc3339 (t, 0);
      g_autofree char *glib = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");

      g_assert_cmpstr (ours, ==, glib);
    }
}

static void
test_time_http (void)
{
  g_autofree char *epoch = notary_time_format_http (0);
  g_autofree char *go_ref = notary_time_format_http (1136214245);
  g_autofree char *leap = notary_time_format_http (951868799);
  g_autofree char *before = notary_time_format_http (-1);
  g_autofree char *last4 = notary_time_format_http (253402300799);
  g_autofree char *year5 = notary_time_format_http (253402300800);

  g_assert_cmpstr (epoch, ==, "Thu, 01 Jan 1970 00:00:00 GMT");
  g_assert_cmpstr (go_ref, ==, "Mon, 02 Jan 2006 15:04:05 GMT");
  g_assert_cmpstr (leap, ==, "Tue, 29 Feb 2000 23:59:59 GMT");
  g_assert_cmpstr (before, ==, "Wed, 31 Dec 1969 23:59:59 GMT");
  /* the last year of four digits, then the formatted fallback */
  g_assert_cmpstr (last4, ==, "Fri, 31 Dec 9999 23:59:59 GMT");
  g_assert_cmpstr (year5, ==, "Sat, 01 Jan 10000 00:00:00 GMT");

  for (gint64 t = -86400 * 400; t < 4102444800; t += 86400 * 3 + 4321)
    {
      g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (t);
      g_autofree char *ours = notary_time_format_http (t);
      g_autofree char *glib = g_date_time_format (dt, "%a, %d %b %Y %H:%M:%S GMT");

      /* %a/%b are locale-dependent; tests run in the C locale. */
      g_assert_cmpstr (ours, ==, glib);
    }
}

/* ------------------------------------------------------------------------
 * Split parsing (one big object canonicalised from the text)
 * ------------------------------------------------------------------------ */

/* Canonical text of @json's "signed" through notary_json_parse_split, with
 * @split set to whether signed.targets was kept out of the tree. */
static char *
canon_split (const char *json, gboolean *split, GError **error)
{
  g_autoptr (GBytes) targets = NULL;
  g_autoptr (JsonNode) root = notary_json_parse_split (json, -1, "signed", "targets", &targets, error);
  g_autoptr (GBytes) bytes = NULL;
  JsonNode *signed_node;

  if (root == NULL)
    return NULL;
  *split = targets != NULL;
  signed_node = json_object_get_member (json_node_get_object (root), "signed");
  if (*split)
    {
      /* the tree holds an empty object in its place */
      JsonNode *t = json_object_get_member (json_node_get_object (signed_node), "targets");
      g_assert_true (JSON_NODE_HOLDS_OBJECT (t));
      g_assert_cmpuint (json_object_get_size (json_node_get_object (t)), ==, 0);
    }
  bytes = notary_json_canonicalize_spliced (signed_node, 0, "targets", targets, error);
  if (bytes == NULL)
    return NULL;
  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* The canonical "signed" of @json via the whole tree. */
static char *
canon_signed_whole (const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = notary_json_parse (json, -1, &error);
  g_autoptr (GBytes) bytes = NULL;

  g_assert_no_error (error);
  bytes = notary_json_canonicalize (json_object_get_member (json_node_get_object (root), "signed"), &error);
  g_assert_no_error (error);
  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
test_split_same_canonical (void)
{
  static const struct
  {
    const char *json;
    gboolean split;
  } cases[] = {
    { "{\"signed\":{\"targets\":{}}}", TRUE },
    { "{\"signatures\":[],\"signed\":{\"_type\":\"Targets\",\"targets\":{\"b\":{\"length\":2},\"a\":{\"length\":1}},"
      "\"version\":3}}", TRUE },
    /* whitespace everywhere, nested custom data, arrays, literals */
    { " { \"signed\" : { \"version\" : 1 , \"targets\" : { \"z\" : { \"custom\" : { \"y\" : [ 1 , true , null , "
      "{ \"b\" : \"x\" , \"a\" : -0 } ] , \"a\" : false } , \"hashes\" : { \"sha512\" : \"q\" , \"sha256\" : \"p\" } "
      ", \"length\" : 1e2 } , \"m\" : 5 , \"a\" : \"s\" } } , \"signatures\" : [ ] } ", TRUE },
    /* keys sorted by their decoded bytes: escapes, non-ASCII, prefixes */
    { "{\"signed\":{\"targets\":{\"\\u00e9\":1,\"e\":2,\"\\u0066\":3,\"ab\":4,\"a\":5,\"\\\"q\":6,\"\xc3\xa0\":7,"
      "\"a\\\\b\":8,\"\":9}}}", TRUE },
    /* strings needing canonical escapes inside entries */
    { "{\"signed\":{\"targets\":{\"p\\/q\":{\"custom\":\"tab\\there \\\"quoted\\\" \\\\ \\u2028\"}}}}", TRUE },
    /* not split: not an object, or the keys are escaped, or absent */
    { "{\"signed\":{\"targets\":null}}", FALSE },
    { "{\"signed\":{\"targets\":[{\"a\":1}]}}", FALSE },
    { "{\"signed\":{\"t\\u0061rgets\":{\"b\":1,\"a\":2}}}", FALSE },
    { "{\"sig\\u006eed\":{\"targets\":{\"b\":1,\"a\":2}}}", FALSE },
    { "{\"signed\":{\"meta\":{\"b\":1,\"a\":2}}}", FALSE },
    { "{\"signed\":{\"delegations\":{\"targets\":{\"b\":1}},\"targets\":{\"d\":{},\"c\":[]}}}", TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *whole = canon_signed_whole (cases[i].json);
      gboolean split = !cases[i].split;
      g_autofree char *via_split = canon_split (cases[i].json, &split, &error);

      g_autofree char *shown = g_strescape (cases[i].json, NULL); /* TAP wants UTF-8 */
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, shown);
      g_assert_no_error (error);
      g_assert_cmpstr (via_split, ==, whole);
      g_assert_cmpint (split, ==, cases[i].split);
    }
}

/* Everything notary_json_parse refuses, the split parse refuses the same
 * way, wherever in the document it is. */
static void
test_split_same_errors (void)
{
  static const struct
  {
    const char *json;
    gint code; /* NotaryJsonError */
  } cases[] = {
    { "{\"signed\":{\"targets\":{\"a\":1,\"a\":2}}}", NOTARY_JSON_ERROR_DUPLICATE_KEY },
    { "{\"signed\":{\"targets\":{\"a\":1,\"\\u0061\":2}}}", NOTARY_JSON_ERROR_DUPLICATE_KEY },
    { "{\"signed\":{\"targets\":{\"a\":{\"h\":1,\"h\":2}}}}", NOTARY_JSON_ERROR_DUPLICATE_KEY },
    { "{\"signed\":{\"targets\":{},\"targets\":{\"a\":1}}}", NOTARY_JSON_ERROR_DUPLICATE_KEY },
    { "{\"signed\":{\"targets\":{\"a\":1}},\"signed\":{}}", NOTARY_JSON_ERROR_DUPLICATE_KEY },
    { "{\"signed\":{\"targets\":{\"a\":1,}}}", NOTARY_JSON_ERROR_PARSE },
    { "{\"signed\":{\"targets\":{\"a\":01}}}", NOTARY_JSON_ERROR_PARSE },
    { "{\"signed\":{\"targets\":{\"a\":\"\\u0000\"}}}", NOTARY_JSON_ERROR_PARSE },
    { "{\"signed\":{\"targets\":{\"a\":\"\xff\"}}}", NOTARY_JSON_ERROR_PARSE },
    { "{\"signed\":{\"targets\":{\"a\":1}}} x", NOTARY_JSON_ERROR_PARSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) whole_error = NULL;
      g_autoptr (GBytes) targets = NULL;
      g_autoptr (JsonNode) whole = notary_json_parse (cases[i].json, -1, &whole_error);
      g_autoptr (JsonNode) root
          = notary_json_parse_split (cases[i].json, -1, "signed", "targets", &targets, &error);

      g_autofree char *shown = g_strescape (cases[i].json, NULL); /* TAP wants UTF-8 */
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, shown);
      g_assert_error (whole_error, NOTARY_JSON_ERROR, cases[i].code);
      g_assert_error (error, NOTARY_JSON_ERROR, cases[i].code);
      g_assert_null (root);
      g_assert_null (targets);
    }

  /* A value that cannot be canonicalised fails at the split parse. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) targets = NULL;
    g_autoptr (JsonNode) root = notary_json_parse_split ("{\"signed\":{\"targets\":{\"a\":{\"length\":1.5}}}}", -1,
                                                         "signed", "targets", &targets, &error);
    g_assert_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL);
    g_assert_null (root);
  }
  /* The repeated key is named. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) targets = NULL;
    g_autoptr (JsonNode) root = notary_json_parse_split ("{\"signed\":{\"targets\":{\"x\":1,\"dup\":2,\"dup\":3}}}",
                                                         -1, "signed", "targets", &targets, &error);
    g_assert_error (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_DUPLICATE_KEY);
    g_assert_nonnull (strstr (error->message, "\"dup\""));
  }
}

/* A generated map of many entries in random key order: the same bytes as
 * the whole-tree path. */
static void
test_split_many (void)
{
  g_autoptr (GString) doc = g_string_new ("{\"signed\":{\"_type\":\"Targets\",\"targets\":{");
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  g_autofree char *whole = NULL;
  g_autofree char *via_split = NULL;
  g_autoptr (GError) error = NULL;
  gboolean split = FALSE;

  for (int i = 0; i < 3000; i++)
    g_string_append_printf (doc, "%s\"f-%u\":{\"hashes\":{\"sha256\":\"%08x\"},\"length\":%d}", i ? "," : "",
                            g_rand_int (rand), g_rand_int (rand), i);
  g_string_append (doc, "},\"version\":2},\"signatures\":[]}");
  whole = canon_signed_whole (doc->str);
  via_split = canon_split (doc->str, &split, &error);
  g_assert_no_error (error);
  g_assert_true (split);
  g_assert_cmpstr (via_split, ==, whole);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json/reference/canonical", test_reference_canonical);
  g_test_add_func ("/json/reference/consistent", test_reference_consistent);
  g_test_add_func ("/json/reference/expires", test_reference_expires);
  g_test_add_func ("/json/canonical/key-order", test_canonical_key_order);
  g_test_add_func ("/json/canonical/whitespace", test_canonical_whitespace);
  g_test_add_func ("/json/canonical/strings", test_canonical_strings);
  g_test_add_func ("/json/canonical/string-writer", test_canonical_string_writer);
  g_test_add_func ("/json/canonical/numbers", test_canonical_numbers);
  g_test_add_func ("/json/canonical/built-nodes", test_canonical_built_nodes);
  g_test_add_func ("/json/parse/duplicates", test_parse_duplicates);
  g_test_add_func ("/json/parse/invalid-utf8", test_parse_invalid_utf8);
  g_test_add_func ("/json/parse/strict-grammar", test_parse_strict_grammar);
  g_test_add_func ("/json/parse/depth", test_parse_depth);
  g_test_add_func ("/json/parse/same-tree-as-json-glib", test_parse_same_tree);
  g_test_add_func ("/json/parse/same-tree-random", test_parse_same_tree_random);
  g_test_add_func ("/json/parse/bare-number-bounds", test_parse_bare_number_bounds);
  g_test_add_func ("/json/split/same-canonical", test_split_same_canonical);
  g_test_add_func ("/json/split/same-errors", test_split_same_errors);
  g_test_add_func ("/json/split/many", test_split_many);
  g_test_add_func ("/json/accessors", test_accessors);
  g_test_add_func ("/json/go-string", test_go_string);
  g_test_add_func ("/json/time/parse", test_time_parse);
  g_test_add_func ("/json/time/format", test_time_format);
  g_test_add_func ("/json/time/round-trip", test_time_round_trip);
  g_test_add_func ("/json/time/http", test_time_http);

  return g_test_run ();
}
