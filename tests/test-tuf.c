/* test-tuf.c — unit tests for core/notary-tuf.c: role and GUN names,
 * envelope parsing, signature thresholds, role body validation and file
 * meta checks (tuf-metadata.md).
 */
#include "lib/tuf-fixtures.c"

/* ---- names ------------------------------------------------------------------ */

static void
test_role_names (void)
{
  static const char *const valid[] = {
    "root", "targets", "snapshot", "timestamp", "targets/a", "targets/releases", "targets/a/b",
    "targets/a-b_c9", "targets/0",
  };
  static const char *const invalid[] = {
    "", "Root", "TARGETS", "foo", "targets/", "targets/A", "targets//a", "targets/a/", "targets/.",
    "targets/..", "targets/a/../b", "targets/./a", "targets/*", "targets/a b", "targets/a.b", "targets\\a",
    "/targets/a", "targetsx", "targets/a\n", "root/a", "snapshot/a",
  };
  g_autoptr (GString) long_name = g_string_new ("targets/");

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_test_message ("valid: %s", valid[i]);
      g_assert_true (notary_role_is_valid (valid[i]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_test_message ("invalid: %s", invalid[i]);
      g_assert_false (notary_role_is_valid (invalid[i]));
      g_assert_false (notary_role_is_delegation (invalid[i]));
    }
  g_assert_false (notary_role_is_valid (NULL));

  /* length < 256 */
  while (long_name->len < 255)
    g_string_append_c (long_name, 'a');
  g_assert_true (notary_role_is_delegation (long_name->str));
  g_string_append_c (long_name, 'a');
  g_assert_false (notary_role_is_delegation (long_name->str));

  g_assert_false (notary_role_is_delegation ("targets"));
  g_assert_true (notary_role_is_targets_type ("targets"));
  g_assert_true (notary_role_is_targets_type ("targets/x"));
  g_assert_false (notary_role_is_targets_type ("root"));
  g_assert_false (notary_role_is_targets_type ("snapshot"));
  g_assert_false (notary_role_is_targets_type ("timestamp"));
}

static void
test_role_parent_and_order (void)
{
  g_autofree char *p1 = notary_role_parent ("targets/a/b");
  g_autofree char *p2 = notary_role_parent ("targets/a");
  const char *roles[] = { "targets/b/c", "targets/z", "targets", "targets/a", "root", "targets/a/b" };
  const char *expected[] = { "root", "targets", "targets/a", "targets/z", "targets/a/b", "targets/b/c" };
  g_autoptr (GPtrArray) arr = g_ptr_array_new ();

  g_assert_cmpstr (p1, ==, "targets/a");
  g_assert_cmpstr (p2, ==, "targets");
  g_assert_null (notary_role_parent ("targets"));

  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    g_ptr_array_add (arr, (gpointer) roles[i]);
  g_ptr_array_sort (arr, notary_role_compare);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (arr->pdata[i], ==, expected[i]);
}

static void
test_gun_names (void)
{
  static const char *const valid[] = {
    "a", "docker.io/library/alpine", "example.com:5000/x/y", "quay.io/coreos/etcd", "a_b-c.d/e+f@g", "x/trust",
    "x/_trustee/y", "..a/b", "a/b..", "...", "a/.../b", ".a/b", "a/.b",
  };
  static const char *const invalid[] = {
    "", "..", ".", "a/../b", "a/./b", "../a", "a/..", "a/b/.", "./a", "a/b//", "a//b", "/a", "a/", "/", "a/_trust/b", "a/_trust",
    "a\nb", "a\tb", "a\x01", "a\x7f", "a b", "a*b", "a?b", "a%2fb", "a\\b", "caf\xc3\xa9",
  };
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_test_message ("valid GUN: %s", valid[i]);
      g_assert_true (notary_gun_is_valid (valid[i]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_test_message ("invalid GUN: %s", invalid[i]);
      g_assert_false (notary_gun_is_valid (invalid[i]));
    }
  g_assert_false (notary_gun_is_valid (NULL));

  while (s->len < 255)
    g_string_append_c (s, 'g');
  g_assert_true (notary_gun_is_valid (s->str));
  g_string_append_c (s, 'g');
  g_assert_false (notary_gun_is_valid (s->str));
}

/* ---- envelope ----------------------------------------------------------------- */

#define MIN_SIGNED "{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":7}"

static void
expect_malformed (const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;
  g_autoptr (NotarySigned) s = NULL;

  g_autofree char *escaped = g_strescape (text, NULL);

  g_test_message ("expect malformed: %s", escaped);
  s = notary_signed_parse (b, &error);
  g_assert_null (s);
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_MALFORMED);
}

static void
test_envelope_ok (void)
{
  const char *text = "{ \"signatures\" : [{\"keyid\":\"ab\",\"method\":\"ECDSA\",\"sig\":\"AAEC\"}],\n"
                     "  \"signed\" : {\"version\":7, \"expires\":\"2030-01-02T03:04:05Z\",\"_type\":\"Root\", "
                     "\"x\":\"<&>\"} }";
  g_autoptr (GBytes) raw = g_bytes_new (text, strlen (text));
  g_autoptr (NotarySigned) s = fx_parse (raw);
  g_autofree char *sha = notary_sha256_hex (raw);
  gint64 expect_exp;
  NotarySignature *sig;
  const char *canon_expected = "{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":7,\"x\":\"<&>\"}";

  g_assert_cmpstr (s->type, ==, "Root");
  g_assert_cmpint (s->version, ==, 7);
  g_assert_true (notary_time_parse_rfc3339 ("2030-01-02T03:04:05Z", &expect_exp, NULL));
  g_assert_cmpint (s->expires, ==, expect_exp);
  g_assert_cmpstr (s->sha256_hex, ==, sha);
  g_assert_true (g_bytes_equal (s->raw, raw));
  g_assert_cmpmem (g_bytes_get_data (s->canonical_signed, NULL), g_bytes_get_size (s->canonical_signed),
                   canon_expected, strlen (canon_expected));
  g_assert_cmpuint (s->signatures->len, ==, 1);
  sig = s->signatures->pdata[0];
  g_assert_cmpstr (sig->keyid, ==, "ab");
  g_assert_cmpstr (sig->method, ==, "ecdsa"); /* case-folded */
  g_assert_cmpuint (g_bytes_get_size (sig->sig), ==, 3);

  g_assert_false (notary_signed_is_expired (s, expect_exp));
  g_assert_true (notary_signed_is_expired (s, expect_exp + 1));
}

/* A targets document of @entries entries, in no key order; with
 * @duplicate, the first entry's name once more at the end. */
static GBytes *
targets_text (guint entries, gboolean duplicate)
{
  g_autoptr (GString) t = g_string_new ("{\"signatures\":[],\"signed\":{\"_type\":\"Targets\","
                                        "\"delegations\":{\"keys\":{},\"roles\":[]},"
                                        "\"expires\":\"2030-01-02T03:04:05Z\",\"version\":3,\"targets\":{");

  for (guint i = 0; i < entries; i++)
    g_string_append_printf (t, "%s\n  \"pkg/%05u\\u00e9\" : {\"hashes\":{\"sha256\":\"%08x\"},\"length\":%u}",
                            i > 0 ? "," : "", (entries - i) * 7 % 100000, i, i * 3);
  if (duplicate)
    g_string_append_printf (t, ",\"pkg/%05u\\u00e9\":{\"length\":1}", (entries - 0) * 7 % 100000);
  g_string_append (t, "}}}");
  return g_string_free_to_bytes (g_steal_pointer (&t));
}

/* Big targets documents keep their targets map out of the tree; small ones
 * are parsed whole.  Both ways give the canonical bytes of the whole tree
 * and refuse the same faults. */
static void
test_envelope_big_targets (void)
{
  static const guint sizes[] = { 1, 100, 2000 }; /* 2,000 entries: ~130 KB */

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) raw = targets_text (sizes[i], FALSE);
      g_autoptr (GBytes) dup = targets_text (sizes[i], TRUE);
      g_autoptr (GError) error = NULL;
      g_autoptr (NotarySigned) s = notary_signed_parse (raw, &error);
      g_autoptr (NotarySigned) d = NULL;
      g_autoptr (JsonNode) tree = notary_json_parse (g_bytes_get_data (raw, NULL), (gssize) g_bytes_get_size (raw), NULL);
      g_autoptr (GBytes) expect = NULL;

      g_test_message ("%u entries, %" G_GSIZE_FORMAT " bytes", sizes[i], g_bytes_get_size (raw));
      g_assert_no_error (error);
      g_assert_nonnull (tree);
      expect = notary_json_canonicalize (json_object_get_member (json_node_get_object (tree), "signed"), NULL);
      g_assert_nonnull (expect);
      g_assert_true (g_bytes_equal (s->canonical_signed, expect));
      g_assert_cmpint (s->version, ==, 3);

      d = notary_signed_parse (dup, &error);
      g_assert_null (d);
      g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_MALFORMED);
      g_assert_nonnull (strstr (error->message, "duplicate object key"));
    }
}

static void
test_envelope_limits (void)
{
  g_autoptr (NotarySigned) max = fx_parse_str (
      "{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":4611686018427387904},"
      "\"signatures\":[]}");
  g_autoptr (NotarySigned) zero = fx_parse_str (
      "{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05+02:00\",\"version\":0},\"signatures\":null}");
  g_autoptr (NotarySigned) nosigs = fx_parse_str ("{\"signed\":" MIN_SIGNED "}");

  /* 2^62: large but exactly representable as the double the canonical
   * encoder goes through (tuf-metadata.md §2) */
  g_assert_cmpint (max->version, ==, G_GINT64_CONSTANT (4611686018427387904));
  g_assert_cmpint (zero->version, ==, 0); /* parses; body validation rejects it */
  g_assert_cmpuint (zero->signatures->len, ==, 0);
  g_assert_cmpuint (nosigs->signatures->len, ==, 0);
}

static void
test_envelope_malformed (void)
{
  expect_malformed ("");
  expect_malformed ("not json");
  expect_malformed ("[]");
  expect_malformed ("\"signed\"");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[]");
  /* missing / non-object signed */
  expect_malformed ("{\"signatures\":[]}");
  expect_malformed ("{\"signed\":\"x\",\"signatures\":[]}");
  expect_malformed ("{\"signed\":[],\"signatures\":[]}");
  expect_malformed ("{\"signed\":null,\"signatures\":[]}");
  expect_malformed ("{\"signed\":1,\"signatures\":[]}");
  /* unknown top-level member (Cure53 TUF-01-001) */
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[],\"extra\":1}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[],\"Signed\":{}}");
  /* signatures */
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":{}}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":\"x\"}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[1]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"method\":\"ecdsa\",\"sig\":\"AAAA\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"sig\":\"AAAA\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"method\":\"ecdsa\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":1,\"method\":\"ecdsa\",\"sig\":\"AAAA\"}]}");
  /* bad base64 */
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"method\":\"ecdsa\",\"sig\":\"@@@@\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"method\":\"ecdsa\",\"sig\":\"AAA\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"method\":\"ecdsa\",\"sig\":\"A=AA\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"method\":\"ecdsa\",\"sig\":\"AA-_\"}]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signatures\":[{\"keyid\":\"a\",\"method\":\"ecdsa\",\"sig\":\"AA AA\"}]}");
  /* _type */
  expect_malformed ("{\"signed\":{\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1},\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":1,\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1},\"signatures\":[]}");
  /* version: missing, string, fractional, negative, too big */
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\"},\"signatures\":[]}");
  expect_malformed (
      "{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":\"1\"},\"signatures\":[]}");
  expect_malformed (
      "{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1.5},\"signatures\":[]}");
  expect_malformed (
      "{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":-1},\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":"
                    "9223372036854775808},\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1e400},"
                    "\"signatures\":[]}");
  expect_malformed (
      "{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":null},\"signatures\":[]}");
  /* expires */
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"version\":1},\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"tomorrow\",\"version\":1},\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02\",\"version\":1},\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":1893456000,\"version\":1},\"signatures\":[]}");
  /* duplicate keys anywhere */
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\","
                    "\"version\":1},\"signatures\":[]}");
  expect_malformed ("{\"signed\":" MIN_SIGNED ",\"signed\":" MIN_SIGNED ",\"signatures\":[]}");
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1,"
                    "\"keys\":{\"a\":1,\"a\":2}},\"signatures\":[]}");
  /* a non-integral number inside signed cannot be canonicalised */
  expect_malformed ("{\"signed\":{\"_type\":\"Root\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1,\"x\":0.5},"
                    "\"signatures\":[]}");
  /* invalid UTF-8 */
  expect_malformed ("{\"signed\":{\"_type\":\"R\xff\",\"expires\":\"2030-01-02T03:04:05Z\",\"version\":1},"
                    "\"signatures\":[]}");
}

/* ---- thresholds ------------------------------------------------------------------ */

typedef struct
{
  const char *keyid; /* NULL = the key's own ID */
  FxKey *key;        /* signer */
  const char *method; /* NULL = the key's method */
  gboolean corrupt;
} SigSpec;

/* Envelope of a targets body signed as described by @specs (n of them). */
static NotarySigned *
signed_with (const SigSpec *specs, guint n)
{
  JsonObject *body = fx_targets_body (1, g_get_real_time () / G_USEC_PER_SEC + FX_YEAR);
  g_autoptr (GBytes) canon = fx_canonical (body);
  g_autoptr (GPtrArray) sigs = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_signature_free);
  g_autoptr (GBytes) env = NULL;

  json_object_unref (body);
  for (guint i = 0; i < n; i++)
    {
      NotarySignature *sig = g_new0 (NotarySignature, 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) raw_sig = notary_private_key_sign (specs[i].key->priv, canon, &error);
      g_assert_no_error (error);
      sig->keyid = g_strdup (specs[i].keyid ? specs[i].keyid : fx_id (specs[i].key));
      sig->method = g_strdup (specs[i].method ? specs[i].method : notary_private_key_get_method (specs[i].key->priv));
      if (specs[i].corrupt)
        {
          gsize len;
          guint8 *d = g_bytes_unref_to_data (g_steal_pointer (&raw_sig), &len);
          d[len / 2] ^= 0x01;
          sig->sig = g_bytes_new_take (d, len);
        }
      else
        sig->sig = g_steal_pointer (&raw_sig);
      g_ptr_array_add (sigs, sig);
    }
  env = notary_envelope_build (canon, sigs);
  return fx_parse (env);
}

typedef struct
{
  FxKey *k1, *k2, *k3;
  GHashTable *keys; /* id -> NotaryKey */
} ThresholdFixture;

static void
threshold_setup (ThresholdFixture *f, gconstpointer data)
{
  f->k1 = fx_key_new ("ed25519");
  f->k2 = fx_key_new ("ecdsa");
  f->k3 = fx_key_new ("ed25519");
  f->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_key_unref);
  g_hash_table_insert (f->keys, g_strdup (fx_id (f->k1)), notary_key_ref (f->k1->pub));
  g_hash_table_insert (f->keys, g_strdup (fx_id (f->k2)), notary_key_ref (f->k2->pub));
  g_hash_table_insert (f->keys, g_strdup (fx_id (f->k3)), notary_key_ref (f->k3->pub));
}

static void
threshold_teardown (ThresholdFixture *f, gconstpointer data)
{
  fx_key_free (f->k1);
  fx_key_free (f->k2);
  fx_key_free (f->k3);
  g_hash_table_unref (f->keys);
}

static NotaryRoleKeys *
role_of (gint64 threshold, const char *id1, const char *id2)
{
  NotaryRoleKeys *r = g_new0 (NotaryRoleKeys, 1);
  r->name = g_strdup ("targets");
  r->threshold = threshold;
  r->keyids = g_ptr_array_new_with_free_func (g_free);
  if (id1)
    g_ptr_array_add (r->keyids, g_strdup (id1));
  if (id2)
    g_ptr_array_add (r->keyids, g_strdup (id2));
  return r;
}

static void
assert_verify (ThresholdFixture *f, const SigSpec *specs, guint n, NotaryRoleKeys *role, gboolean expect_ok)
{
  g_autoptr (NotarySigned) s = signed_with (specs, n);
  g_autoptr (GError) error = NULL;
  gboolean ok = notary_signed_verify (s, f->keys, role, &error);
  if (expect_ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_SIGNATURE);
    }
}

static void
test_threshold_met (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r2 = role_of (2, fx_id (f->k1), fx_id (f->k2));
  g_autoptr (NotaryRoleKeys) r1 = role_of (1, fx_id (f->k1), fx_id (f->k2));
  SigSpec both[] = { { NULL, f->k1 }, { NULL, f->k2 } };
  SigSpec one[] = { { NULL, f->k2 } };

  assert_verify (f, both, 2, r2, TRUE);
  assert_verify (f, both, 2, r1, TRUE);
  assert_verify (f, one, 1, r1, TRUE);
  assert_verify (f, one, 1, r2, FALSE);
}

static void
test_threshold_distinct (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r2 = role_of (2, fx_id (f->k1), fx_id (f->k2));
  SigSpec twice[] = { { NULL, f->k1 }, { NULL, f->k1 } };
  assert_verify (f, twice, 2, r2, FALSE);
}

static void
test_threshold_unknown_ignored (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r1 = role_of (1, fx_id (f->k1), NULL);
  g_autoptr (NotaryRoleKeys) r2 = role_of (2, fx_id (f->k1), fx_id (f->k2));
  g_autoptr (FxKey) stranger = fx_key_new ("ed25519");
  /* k3 is in the key table but not in the role; stranger is nowhere */
  SigSpec mixed[] = { { NULL, stranger }, { NULL, f->k3 }, { NULL, f->k1 } };
  SigSpec only_others[] = { { NULL, stranger }, { NULL, f->k3 } };

  assert_verify (f, mixed, 3, r1, TRUE);
  assert_verify (f, mixed, 3, r2, FALSE);
  assert_verify (f, only_others, 2, r1, FALSE);
}

static void
test_threshold_keyid_must_match (ThresholdFixture *f, gconstpointer data)
{
  /* The role and the key table name k1's key under k2's ID: a signature by
   * k1 claiming that ID must not count (keyid must equal the key's ID). */
  g_autoptr (NotaryRoleKeys) r1 = role_of (1, "0000000000000000000000000000000000000000000000000000000000000000", NULL);
  SigSpec wrong_id[] = { { "0000000000000000000000000000000000000000000000000000000000000000", f->k1 } };
  SigSpec right_id[] = { { NULL, f->k1 } };
  g_autoptr (NotaryRoleKeys) r_k1 = role_of (1, fx_id (f->k1), NULL);

  g_hash_table_insert (f->keys, g_strdup ("0000000000000000000000000000000000000000000000000000000000000000"),
                       notary_key_ref (f->k1->pub));
  assert_verify (f, wrong_id, 1, r1, FALSE);
  assert_verify (f, right_id, 1, r_k1, TRUE);
  /* a signature by k2 carrying k1's ID */
  {
    SigSpec forged[] = { { fx_id (f->k1), f->k2, "eddsa" } };
    assert_verify (f, forged, 1, r_k1, FALSE);
  }
}

static void
test_threshold_bad_signature (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r1 = role_of (1, fx_id (f->k1), fx_id (f->k2));
  g_autoptr (NotaryRoleKeys) r2 = role_of (2, fx_id (f->k1), fx_id (f->k2));
  SigSpec bad_then_good[] = { { NULL, f->k1, NULL, TRUE }, { NULL, f->k2 } };
  SigSpec bad_only[] = { { NULL, f->k1, NULL, TRUE } };
  SigSpec wrong_method[] = { { NULL, f->k1, "ecdsa" } };
  SigSpec wrong_method2[] = { { NULL, f->k2, "eddsa" } };
  /* a valid sig and a corrupt duplicate of the same key: still one key */
  SigSpec good_bad[] = { { NULL, f->k1 }, { NULL, f->k1, NULL, TRUE } };

  assert_verify (f, bad_then_good, 2, r1, TRUE);
  assert_verify (f, bad_then_good, 2, r2, FALSE);
  assert_verify (f, bad_only, 1, r1, FALSE);
  assert_verify (f, wrong_method, 1, r1, FALSE);
  assert_verify (f, wrong_method2, 1, r1, FALSE);
  assert_verify (f, good_bad, 2, r1, TRUE);
}

static void
test_threshold_zero_sigs (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r1 = role_of (1, fx_id (f->k1), NULL);
  assert_verify (f, NULL, 0, r1, FALSE);
}

static void
test_threshold_invalid (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r0 = role_of (0, fx_id (f->k1), NULL);
  g_autoptr (NotaryRoleKeys) rneg = role_of (-1, fx_id (f->k1), NULL);
  SigSpec one[] = { { NULL, f->k1 } };
  g_autoptr (NotarySigned) s = signed_with (one, 1);
  g_autoptr (GError) error = NULL;

  g_assert_false (notary_signed_verify (s, f->keys, r0, &error));
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (notary_signed_verify (s, f->keys, rneg, &error));
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID);
}

/* Signatures cover the canonical form: reformatting signed keeps them
 * valid, changing a value breaks them. */
static void
test_threshold_canonical (ThresholdFixture *f, gconstpointer data)
{
  g_autoptr (NotaryRoleKeys) r1 = role_of (1, fx_id (f->k1), NULL);
  JsonObject *body = fx_common_body ("Targets", 3, 1893456000);
  g_autoptr (GBytes) canon = fx_canonical (body);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) sig = notary_private_key_sign (f->k1->priv, canon, &error);
  g_autofree char *b64 = g_base64_encode (g_bytes_get_data (sig, NULL), g_bytes_get_size (sig));
  g_autofree char *reordered = g_strdup_printf (
      "{\"signatures\":[{\"keyid\":\"%s\",\"method\":\"EdDSA\",\"sig\":\"%s\"}],\"signed\":{ \"version\" : 3,"
      "\n \"expires\":\"2030-01-01T00:00:00Z\", \"_type\":\"Targets\"}}",
      fx_id (f->k1), b64);
  g_autofree char *tampered = g_strdup_printf (
      "{\"signed\":{\"_type\":\"Targets\",\"expires\":\"2030-01-01T00:00:00Z\",\"version\":4},"
      "\"signatures\":[{\"keyid\":\"%s\",\"method\":\"eddsa\",\"sig\":\"%s\"}]}",
      fx_id (f->k1), b64);
  g_autoptr (NotarySigned) s1 = fx_parse_str (reordered);
  g_autoptr (NotarySigned) s2 = fx_parse_str (tampered);

  json_object_unref (body);
  g_assert_true (notary_signed_verify (s1, f->keys, r1, &error));
  g_assert_no_error (error);
  g_assert_false (notary_signed_verify (s2, f->keys, r1, &error));
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_SIGNATURE);
}

/* ---- role bodies -------------------------------------------------------------- */

static NotaryRoot *
root_of (JsonObject *body, GError **error)
{
  g_autoptr (GBytes) raw = fx_sign (body, NULL);
  g_autoptr (NotarySigned) s = fx_parse (raw);
  return notary_root_new (s, error);
}

typedef struct
{
  FxKey *root, *targets, *snapshot, *timestamp;
} RootKeys;

static JsonObject *
valid_root_body (RootKeys *k)
{
  FxKey *rk[] = { k->root, NULL }, *tk[] = { k->targets, NULL }, *sk[] = { k->snapshot, NULL },
        *tsk[] = { k->timestamp, NULL };
  return fx_root_body (1, 1893456000, rk, 1, tk, sk, tsk);
}

static void
root_keys_init (RootKeys *k)
{
  k->root = fx_root_key_new ("example.com/r", g_get_real_time () / G_USEC_PER_SEC);
  k->targets = fx_key_new ("ecdsa");
  k->snapshot = fx_key_new ("ed25519");
  k->timestamp = fx_key_new ("ed25519");
}

static void
root_keys_clear (RootKeys *k)
{
  fx_key_free (k->root);
  fx_key_free (k->targets);
  fx_key_free (k->snapshot);
  fx_key_free (k->timestamp);
}

static void
expect_root_invalid (JsonObject *body)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryRoot) r = root_of (body, &error);
  g_assert_null (r);
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID);
  g_test_message ("rejected: %s", error->message);
}

static JsonObject *
roles_of (JsonObject *body)
{
  return json_object_get_object_member (body, "roles");
}

static void
test_root_body (void)
{
  RootKeys k;
  static const char *const base[] = { "root", "targets", "snapshot", "timestamp" };
  JsonObject *body;

  root_keys_init (&k);
  {
    g_autoptr (GError) error = NULL;
    JsonObject *b = valid_root_body (&k);
    g_autoptr (NotaryRoot) r = NULL;
    NotaryRoleKeys *rk;
    /* extra roles are tolerated */
    json_object_set_object_member (roles_of (b), "targets/x", json_object_new ());
    r = root_of (b, &error);
    g_assert_no_error (error);
    g_assert_nonnull (r);
    g_assert_cmpuint (g_hash_table_size (r->keys), ==, 4);
    rk = g_hash_table_lookup (r->roles, "snapshot");
    g_assert_nonnull (rk);
    g_assert_cmpint (rk->threshold, ==, 1);
    g_assert_cmpuint (rk->keyids->len, ==, 1);
    g_assert_cmpstr (rk->keyids->pdata[0], ==, fx_id (k.snapshot));
    g_assert_true (g_hash_table_lookup (r->keys, fx_id (k.root)) != NULL);
  }

  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    {
      /* missing */
      body = valid_root_body (&k);
      json_object_remove_member (roles_of (body), base[i]);
      expect_root_invalid (body);
      /* null */
      body = valid_root_body (&k);
      json_object_set_null_member (roles_of (body), base[i]);
      expect_root_invalid (body);
      /* threshold 0 */
      body = valid_root_body (&k);
      json_object_set_int_member (json_object_get_object_member (roles_of (body), base[i]), "threshold", 0);
      expect_root_invalid (body);
      /* threshold missing */
      body = valid_root_body (&k);
      json_object_remove_member (json_object_get_object_member (roles_of (body), base[i]), "threshold");
      expect_root_invalid (body);
      /* a keyid that is not in keys */
      body = valid_root_body (&k);
      json_array_add_string_element (
          json_object_get_array_member (json_object_get_object_member (roles_of (body), base[i]), "keyids"),
          "1111111111111111111111111111111111111111111111111111111111111111");
      expect_root_invalid (body);
    }

  /* no roles at all */
  body = valid_root_body (&k);
  json_object_remove_member (body, "roles");
  expect_root_invalid (body);
  /* wrong type / version */
  body = valid_root_body (&k);
  json_object_set_string_member (body, "_type", "Targets");
  expect_root_invalid (body);
  body = valid_root_body (&k);
  json_object_set_string_member (body, "_type", "root");
  expect_root_invalid (body);
  body = valid_root_body (&k);
  json_object_set_int_member (body, "version", 0);
  expect_root_invalid (body);
  /* a keys entry under an ID that is not the key's */
  body = valid_root_body (&k);
  {
    JsonObject *keys = json_object_get_object_member (body, "keys");
    JsonNode *n = json_node_copy (json_object_get_member (keys, fx_id (k.targets)));
    json_object_set_member (keys, "2222222222222222222222222222222222222222222222222222222222222222", n);
  }
  expect_root_invalid (body);
  /* a key object with a private part */
  body = valid_root_body (&k);
  json_object_set_string_member (
      json_object_get_object_member (json_object_get_object_member (json_object_get_object_member (body, "keys"),
                                                                    fx_id (k.targets)),
                                     "keyval"),
      "private", "AAAA");
  expect_root_invalid (body);
  root_keys_clear (&k);
}

static NotaryTargets *
targets_of (JsonObject *body, const char *role, GError **error)
{
  g_autoptr (GBytes) raw = fx_sign (body, NULL);
  g_autoptr (NotarySigned) s = fx_parse (raw);
  return notary_targets_new (s, role, error);
}

static void
expect_targets_invalid (JsonObject *body, const char *role)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryTargets) t = targets_of (body, role, &error);
  g_assert_null (t);
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID);
  g_test_message ("rejected: %s", error->message);
}

static void
test_targets_body (void)
{
  g_autoptr (FxKey) d1 = fx_key_new ("ecdsa");
  g_autoptr (FxKey) d2 = fx_key_new ("ed25519");
  FxKey *dk[] = { d1, d2, NULL };
  JsonObject *body;

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryTargets) t = NULL;
    NotaryRoleKeys *rk;
    body = fx_targets_body (1, 1893456000);
    fx_targets_add_delegation (body, "targets/releases", dk, 2);
    fx_targets_add_delegation (body, "targets/qa", dk, 1);
    fx_targets_add_target (body, "app", "bytes");
    t = targets_of (body, "targets", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (t->delegations->len, ==, 2);
    g_assert_cmpuint (g_hash_table_size (t->delegation_keys), ==, 2);
    rk = notary_targets_find_delegation (t, "targets/releases");
    g_assert_nonnull (rk);
    g_assert_cmpint (rk->threshold, ==, 2);
    g_assert_cmpuint (rk->keyids->len, ==, 2);
    g_assert_nonnull (rk->paths);
    g_assert_null (notary_targets_find_delegation (t, "targets/nope"));
  }
  {
    /* a delegation's own delegation: direct child of targets/a */
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryTargets) t = NULL;
    body = fx_targets_body (1, 1893456000);
    fx_targets_add_delegation (body, "targets/a/b", dk, 1);
    t = targets_of (body, "targets/a", &error);
    g_assert_no_error (error);
    g_assert_nonnull (notary_targets_find_delegation (t, "targets/a/b"));
  }
  {
    /* the minimal form: no delegations, no targets */
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryTargets) t = targets_of (fx_common_body ("Targets", 1, 1893456000), "targets", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (t->delegations->len, ==, 0);
  }

  /* not a direct child */
  body = fx_targets_body (1, 1893456000);
  fx_targets_add_delegation (body, "targets/a/b", dk, 1);
  expect_targets_invalid (body, "targets");
  body = fx_targets_body (1, 1893456000);
  fx_targets_add_delegation (body, "targets/b/c", dk, 1);
  expect_targets_invalid (body, "targets/a");
  body = fx_targets_body (1, 1893456000);
  fx_targets_add_delegation (body, "targets/a", dk, 1);
  expect_targets_invalid (body, "targets/a");
  /* invalid names */
  {
    static const char *const bad[] = { "targets/A", "targets/a/", "targets", "root", "targets/*", "targets/../x" };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        body = fx_targets_body (1, 1893456000);
        fx_targets_add_delegation (body, bad[i], dk, 1);
        expect_targets_invalid (body, "targets");
      }
  }
  /* name missing */
  body = fx_targets_body (1, 1893456000);
  fx_targets_add_delegation (body, "targets/a", dk, 1);
  json_object_remove_member (json_array_get_object_element (
                                 json_object_get_array_member (json_object_get_object_member (body, "delegations"),
                                                               "roles"),
                                 0),
                             "name");
  expect_targets_invalid (body, "targets");
  /* threshold 0 */
  body = fx_targets_body (1, 1893456000);
  fx_targets_add_delegation (body, "targets/a", dk, 0);
  expect_targets_invalid (body, "targets");
  /* keyid not in delegations.keys */
  body = fx_targets_body (1, 1893456000);
  fx_targets_add_delegation (body, "targets/a", dk, 1);
  json_object_remove_member (json_object_get_object_member (json_object_get_object_member (body, "delegations"), "keys"),
                             fx_id (d2));
  expect_targets_invalid (body, "targets");
  /* wrong type, version 0, targets not an object */
  body = fx_targets_body (1, 1893456000);
  json_object_set_string_member (body, "_type", "Snapshot");
  expect_targets_invalid (body, "targets");
  body = fx_targets_body (0, 1893456000);
  expect_targets_invalid (body, "targets");
  body = fx_targets_body (1, 1893456000);
  json_object_set_string_member (body, "targets", "x");
  expect_targets_invalid (body, "targets");
}

static NotaryMetaRole *
meta_of (JsonObject *body, gboolean timestamp, GError **error)
{
  g_autoptr (GBytes) raw = fx_sign (body, NULL);
  g_autoptr (NotarySigned) s = fx_parse (raw);
  return timestamp ? notary_timestamp_new (s, error) : notary_snapshot_new (s, error);
}

static void
expect_meta_invalid (JsonObject *body, gboolean timestamp)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryMetaRole) m = meta_of (body, timestamp, &error);
  g_assert_null (m);
  g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID);
  g_test_message ("rejected: %s", error->message);
}

static JsonObject *
hashes_of (JsonObject *body, const char *role)
{
  return json_object_get_object_member (
      json_object_get_object_member (json_object_get_object_member (body, "meta"), role), "hashes");
}

static void
test_snapshot_body (void)
{
  g_autoptr (GBytes) a = g_bytes_new_static ("root bytes", 10);
  g_autoptr (GBytes) b = g_bytes_new_static ("targets bytes", 13);
  JsonObject *body;
  g_autofree char *short256 = g_base64_encode ((const guchar *) "0123456789012345678901234567890", 31);
  g_autofree char *short512 = g_base64_encode ((const guchar *) "01234567890123456789012345678901", 32);

#define SNAP(...)                                                                                                  \
  body = fx_meta_body ("Snapshot", 1, 1893456000);                                                                 \
  fx_meta_add (body, "root", a);                                                                                   \
  fx_meta_add (body, "targets", b)

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryMetaRole) m = NULL;
    NotaryFileMeta *fm;
    g_autofree char *hex = NULL;
    g_autofree char *expect_hex = notary_sha256_hex (a);
    SNAP ();
    fx_meta_add (body, "targets/x", b);
    m = meta_of (body, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (m->meta), ==, 3);
    fm = g_hash_table_lookup (m->meta, "root");
    g_assert_cmpint (fm->length, ==, 10);
    g_assert_cmpuint (g_bytes_get_size (fm->sha256), ==, 32);
    g_assert_cmpuint (g_bytes_get_size (fm->sha512), ==, 64);
    hex = notary_file_meta_sha256_hex (fm);
    g_assert_cmpstr (hex, ==, expect_hex);
  }

  /* missing root / targets */
  SNAP ();
  json_object_remove_member (json_object_get_object_member (body, "meta"), "root");
  expect_meta_invalid (body, FALSE);
  SNAP ();
  json_object_remove_member (json_object_get_object_member (body, "meta"), "targets");
  expect_meta_invalid (body, FALSE);
  /* root without sha256 (only sha512) */
  SNAP ();
  json_object_remove_member (hashes_of (body, "root"), "sha256");
  expect_meta_invalid (body, FALSE);
  /* wrong hash lengths */
  SNAP ();
  json_object_set_string_member (hashes_of (body, "targets"), "sha256", short256);
  expect_meta_invalid (body, FALSE);
  SNAP ();
  json_object_set_string_member (hashes_of (body, "root"), "sha512", short512);
  expect_meta_invalid (body, FALSE);
  SNAP ();
  fx_meta_add (body, "targets/x", b);
  json_object_set_string_member (hashes_of (body, "targets/x"), "sha256", short256);
  expect_meta_invalid (body, FALSE);
  /* no meta, meta entry not an object, bad length */
  body = fx_meta_body ("Snapshot", 1, 1893456000);
  json_object_remove_member (body, "meta");
  expect_meta_invalid (body, FALSE);
  SNAP ();
  json_object_set_string_member (json_object_get_object_member (body, "meta"), "targets/x", "x");
  {
    /* the message names the entry (it once read a freed list node) */
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryMetaRole) m = meta_of (body, FALSE, &error);
    g_assert_null (m);
    g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID);
    g_assert_cmpstr (error->message, ==, "Snapshot: meta for targets/x is not an object");
  }
  SNAP ();
  json_object_set_int_member (json_object_get_object_member (json_object_get_object_member (body, "meta"), "root"),
                              "length", -1);
  expect_meta_invalid (body, FALSE);
  SNAP ();
  json_object_remove_member (json_object_get_object_member (json_object_get_object_member (body, "meta"), "root"),
                             "length");
  expect_meta_invalid (body, FALSE);
  /* type and version */
  SNAP ();
  json_object_set_string_member (body, "_type", "Timestamp");
  expect_meta_invalid (body, FALSE);
  SNAP ();
  json_object_set_int_member (body, "version", 0);
  expect_meta_invalid (body, FALSE);
#undef SNAP
}

static void
test_timestamp_body (void)
{
  g_autoptr (GBytes) sn = g_bytes_new_static ("snapshot bytes", 14);
  JsonObject *body;
  g_autofree char *short256 = g_base64_encode ((const guchar *) "0123456789", 10);

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryMetaRole) m = NULL;
    body = fx_meta_body ("Timestamp", 3, 1893456000);
    fx_meta_add (body, "snapshot", sn);
    m = meta_of (body, TRUE, &error);
    g_assert_no_error (error);
    g_assert_true (notary_file_meta_check (g_hash_table_lookup (m->meta, "snapshot"), sn, "snapshot", &error));
    g_assert_no_error (error);
  }
  body = fx_meta_body ("Timestamp", 3, 1893456000);
  expect_meta_invalid (body, TRUE);
  body = fx_meta_body ("Timestamp", 3, 1893456000);
  fx_meta_add (body, "snapshots", sn);
  expect_meta_invalid (body, TRUE);
  body = fx_meta_body ("Timestamp", 3, 1893456000);
  fx_meta_add (body, "snapshot", sn);
  json_object_set_string_member (hashes_of (body, "snapshot"), "sha256", short256);
  expect_meta_invalid (body, TRUE);
  body = fx_meta_body ("Timestamp", 3, 1893456000);
  fx_meta_add (body, "snapshot", sn);
  json_object_remove_member (hashes_of (body, "snapshot"), "sha256");
  expect_meta_invalid (body, TRUE);
  body = fx_meta_body ("Snapshot", 3, 1893456000);
  fx_meta_add (body, "snapshot", sn);
  expect_meta_invalid (body, TRUE);
}

/* ---- file meta -------------------------------------------------------------------- */

static NotaryFileMeta *
file_meta (GBytes *sha256_of, GBytes *sha512_of)
{
  NotaryFileMeta *m = g_new0 (NotaryFileMeta, 1);
  if (sha256_of)
    m->sha256 = notary_digest (G_CHECKSUM_SHA256, sha256_of);
  if (sha512_of)
    m->sha512 = notary_digest (G_CHECKSUM_SHA512, sha512_of);
  return m;
}

static void
file_meta_free_test (NotaryFileMeta *m)
{
  g_clear_pointer (&m->sha256, g_bytes_unref);
  g_clear_pointer (&m->sha512, g_bytes_unref);
  g_free (m);
}

static void
check_meta (NotaryFileMeta *m, GBytes *data, gboolean expect_ok)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = notary_file_meta_check (m, data, "targets", &error);
  if (expect_ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      g_assert_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_HASH);
    }
  file_meta_free_test (m);
}

static void
test_file_meta_check (void)
{
  g_autoptr (GBytes) data = g_bytes_new_static ("the data", 8);
  g_autoptr (GBytes) other = g_bytes_new_static ("the date", 8);

  check_meta (file_meta (data, data), data, TRUE);
  check_meta (file_meta (data, NULL), data, TRUE);
  check_meta (file_meta (NULL, data), data, TRUE);
  check_meta (file_meta (other, data), data, FALSE);
  check_meta (file_meta (data, other), data, FALSE);
  check_meta (file_meta (other, NULL), data, FALSE);
  check_meta (file_meta (NULL, other), data, FALSE);
  check_meta (file_meta (NULL, NULL), data, FALSE);
}

/* What the server writes parses back and matches. */
static void
test_write_roundtrip (void)
{
  g_autoptr (GBytes) data = g_bytes_new_static ("{\"signed\":{}}", 13);
  g_autoptr (GString) out = g_string_new ("{\"_type\":\"Timestamp\",\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{\"snapshot\":");
  g_autoptr (GPtrArray) sigs = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_signature_free);
  g_autoptr (FxKey) k = fx_key_new ("ed25519");
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) env = NULL;
  g_autoptr (NotarySigned) s = NULL;
  g_autoptr (NotaryMetaRole) m = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (NotaryRoleKeys) role = role_of (1, fx_id (k), NULL);
  NotarySignature *sig = g_new0 (NotarySignature, 1);

  notary_write_file_meta (out, data);
  g_string_append (out, "},\"version\":1}");
  body = g_bytes_new (out->str, out->len);
  sig->keyid = g_strdup (fx_id (k));
  sig->method = g_strdup ("eddsa");
  sig->sig = notary_private_key_sign (k->priv, body, &error);
  g_assert_no_error (error);
  g_ptr_array_add (sigs, sig);
  env = notary_envelope_build (body, sigs);
  g_assert_true (g_str_has_prefix (g_bytes_get_data (env, NULL), "{\"signed\":{\"_type\":\"Timestamp\""));
  s = fx_parse (env);
  /* the server writes canonical bytes: re-canonicalising changes nothing */
  g_assert_true (g_bytes_equal (s->canonical_signed, body));
  m = notary_timestamp_new (s, &error);
  g_assert_no_error (error);
  g_assert_true (notary_file_meta_check (g_hash_table_lookup (m->meta, "snapshot"), data, "snapshot", &error));
  g_assert_cmpint (((NotaryFileMeta *) g_hash_table_lookup (m->meta, "snapshot"))->length, ==, 13);
  g_hash_table_insert (keys, (gpointer) fx_id (k), k->pub);
  g_assert_true (notary_signed_verify (s, keys, role, &error));
  g_assert_no_error (error);
}

static void
test_error_names (void)
{
  g_assert_cmpstr (notary_validation_error_name (NOTARY_VALIDATION_ERROR_VALIDATION), ==, "ErrValidation");
  g_assert_cmpstr (notary_validation_error_name (NOTARY_VALIDATION_ERROR_BAD_HIERARCHY), ==, "ErrBadHierarchy");
  g_assert_cmpstr (notary_validation_error_name (NOTARY_VALIDATION_ERROR_BAD_ROOT), ==, "ErrBadRoot");
  g_assert_cmpstr (notary_validation_error_name (NOTARY_VALIDATION_ERROR_BAD_TARGETS), ==, "ErrBadTargets");
  g_assert_cmpstr (notary_validation_error_name (NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT), ==, "ErrBadSnapshot");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tuf/names/roles", test_role_names);
  g_test_add_func ("/tuf/names/parent-and-order", test_role_parent_and_order);
  g_test_add_func ("/tuf/names/gun", test_gun_names);
  g_test_add_func ("/tuf/envelope/ok", test_envelope_ok);
  g_test_add_func ("/tuf/envelope/limits", test_envelope_limits);
  g_test_add_func ("/tuf/envelope/big-targets", test_envelope_big_targets);
  g_test_add_func ("/tuf/envelope/malformed", test_envelope_malformed);
#define T(name, fn) g_test_add ("/tuf/threshold/" name, ThresholdFixture, NULL, threshold_setup, fn, threshold_teardown)
  T ("met", test_threshold_met);
  T ("distinct-keys", test_threshold_distinct);
  T ("unknown-ignored", test_threshold_unknown_ignored);
  T ("keyid-must-match", test_threshold_keyid_must_match);
  T ("bad-signature", test_threshold_bad_signature);
  T ("zero-signatures", test_threshold_zero_sigs);
  T ("invalid-threshold", test_threshold_invalid);
  T ("canonical", test_threshold_canonical);
#undef T
  g_test_add_func ("/tuf/body/root", test_root_body);
  g_test_add_func ("/tuf/body/targets", test_targets_body);
  g_test_add_func ("/tuf/body/snapshot", test_snapshot_body);
  g_test_add_func ("/tuf/body/timestamp", test_timestamp_body);
  g_test_add_func ("/tuf/file-meta/check", test_file_meta_check);
  g_test_add_func ("/tuf/write/roundtrip", test_write_roundtrip);
  g_test_add_func ("/tuf/errors/names", test_error_names);
  return g_test_run ();
}
