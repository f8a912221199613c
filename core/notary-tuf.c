/* notary-tuf.c — TUF envelopes, role bodies and thresholds.
 *
 * See notary-tuf.h.  Everything here is pure (no storage, no signer) so
 * the validation rules can be unit-tested one by one.
 */
#include "notary-tuf.h"
#include "notary-error.h"
#include "notary-json.h"

#include <string.h>

G_DEFINE_QUARK (notary-validation-error-quark, notary_validation_error)
G_DEFINE_QUARK (notary-tuf-error-quark, notary_tuf_error)

const char *
notary_validation_error_name (NotaryValidationError code)
{
  switch (code)
    {
    case NOTARY_VALIDATION_ERROR_BAD_HIERARCHY:
      return "ErrBadHierarchy";
    case NOTARY_VALIDATION_ERROR_BAD_ROOT:
      return "ErrBadRoot";
    case NOTARY_VALIDATION_ERROR_BAD_TARGETS:
      return "ErrBadTargets";
    case NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT:
      return "ErrBadSnapshot";
    case NOTARY_VALIDATION_ERROR_VALIDATION:
    default:
      return "ErrValidation";
    }
}

/* ---- roles and GUNs ---------------------------------------------------- */

gboolean
notary_role_is_delegation (const char *role)
{
  size_t len;

  if (role == NULL || !g_str_has_prefix (role, "targets/"))
    return FALSE;
  len = strlen (role);
  if (len >= 256 || role[len - 1] == '/')
    return FALSE;
  for (const char *p = role; *p; p++)
    {
      char c = *p;
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '/'))
        return FALSE;
    }
  /* Path-clean: no empty segments; "." and ".." cannot occur because '.'
   * is not in the allowed alphabet. */
  return strstr (role, "//") == NULL;
}

gboolean
notary_role_is_valid (const char *role)
{
  if (role == NULL)
    return FALSE;
  return g_str_equal (role, "root") || g_str_equal (role, "targets") || g_str_equal (role, "snapshot")
         || g_str_equal (role, "timestamp") || notary_role_is_delegation (role);
}

gboolean
notary_role_is_targets_type (const char *role)
{
  return role != NULL && (g_str_equal (role, "targets") || notary_role_is_delegation (role));
}

char *
notary_role_parent (const char *role)
{
  const char *slash = strrchr (role, '/');
  if (slash == NULL)
    return NULL;
  return g_strndup (role, slash - role);
}

static guint
count_segments (const char *s)
{
  guint n = 1;
  for (; *s; s++)
    n += (*s == '/');
  return n;
}

gint
notary_role_compare (gconstpointer a, gconstpointer b)
{
  const char *ra = *(const char *const *) a;
  const char *rb = *(const char *const *) b;
  guint sa = count_segments (ra), sb = count_segments (rb);
  if (sa != sb)
    return sa < sb ? -1 : 1;
  return strcmp (ra, rb);
}

gboolean
notary_gun_is_valid (const char *gun)
{
  size_t len;
  const char *seg;

  if (gun == NULL)
    return FALSE;
  len = strlen (gun);
  if (len == 0 || len > 255)
    return FALSE;
  for (const char *p = gun; *p; p++)
    {
      char c = *p;
      if (!(g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '@'
            || c == '+'))
        return FALSE;
    }
  if (strstr (gun, "/_trust/") != NULL || g_str_has_suffix (gun, "/_trust"))
    return FALSE;
  /* No empty, "." or ".." segment; walked in place, as this runs on every
   * GET. */
  for (seg = gun;; seg++)
    {
      const char *end = strchr (seg, '/');
      size_t n = end != NULL ? (size_t)(end - seg) : strlen (seg);
      if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
        return FALSE;
      if (end == NULL)
        return TRUE;
      seg = end;
    }
}

/* ---- envelope ---------------------------------------------------------- */

void
notary_signature_free (NotarySignature *sig)
{
  if (sig == NULL)
    return;
  g_free (sig->keyid);
  g_free (sig->method);
  g_clear_pointer (&sig->sig, g_bytes_unref);
  g_free (sig);
}

#define malformed(error, ...) notary_throw (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_MALFORMED, __VA_ARGS__)

static GBytes *
decode_base64_strict (const char *text)
{
  gsize len = strlen (text), out_len = 0;
  guchar *out;

  /* g_base64_decode is lenient about garbage; check the alphabet first
   * (standard alphabet, padding only at the end, length multiple of 4). */
  if (len % 4 != 0)
    return NULL;
  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];
      if (c == '=')
        {
          if (i < len - 2)
            return NULL;
          continue;
        }
      if (!(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return NULL;
    }
  out = g_base64_decode (text, &out_len);
  return g_bytes_new_take (out, out_len);
}

static gboolean
parse_signatures (JsonArray *arr, GPtrArray *out, GError **error)
{
  guint n = json_array_get_length (arr);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (arr, i);
      JsonObject *obj;
      const char *keyid, *method, *sig;
      NotarySignature *s;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return malformed (error, "signature %u is not an object", i);
      obj = json_node_get_object (node);
      keyid = notary_json_object_get_string (obj, "keyid");
      method = notary_json_object_get_string (obj, "method");
      sig = notary_json_object_get_string (obj, "sig");
      if (keyid == NULL || method == NULL || sig == NULL)
        return malformed (error, "signature %u lacks keyid, method or sig", i);
      s = g_new0 (NotarySignature, 1);
      s->keyid = g_strdup (keyid);
      s->method = g_ascii_strdown (method, -1);
      s->sig = decode_base64_strict (sig);
      g_ptr_array_add (out, s);
      if (s->sig == NULL)
        return malformed (error, "signature %u is not valid base64", i);
    }
  return TRUE;
}

/* Documents at least this big have their targets map kept out of the
 * tree.  json-glib's tree is about seven times the text of a targets map
 * (about 1 KB per entry of ~150 bytes), so below this a tree costs at most
 * a few hundred KB while a request lives; parsing whole took 2% off the
 * instructions of a publish (callgrind, see bench/README.md). */
#define SPLIT_MIN_BYTES (64 * 1024)

NotarySigned *
notary_signed_parse (GBytes *raw, GError **error)
{
  g_autoptr (NotarySigned) s = g_new0 (NotarySigned, 1);
  g_autoptr (GError) local_error = NULL;
  JsonObject *env;
  JsonNode *signed_node, *sigs_node;
  const char *expires;
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  GList *members;
  g_autoptr (GBytes) targets_canonical = NULL;

  s->ref_count = 1;
  s->raw = g_bytes_ref (raw);
  s->signatures = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_signature_free);

  /* A big targets map is canonicalised from the text, not held as a tree
   * (nothing reads its entries): see notary_json_parse_split.  Splitting
   * walks the text three more times (the members of the two outer levels,
   * the rest parsed again), so smaller documents are parsed whole. */
  if (len < SPLIT_MIN_BYTES)
    s->tree = notary_json_parse (data, (gssize) len, &local_error);
  else
    s->tree = notary_json_parse_split (data, len, "signed", "targets", &targets_canonical, &local_error);
  if (s->tree == NULL)
    return malformed (error, "%s", local_error->message), NULL;
  if (!JSON_NODE_HOLDS_OBJECT (s->tree))
    return malformed (error, "metadata is not a JSON object"), NULL;
  env = json_node_get_object (s->tree);

  /* Nothing outside "signed" and "signatures" may ride along unsigned
   * (Cure53 TUF-01-001). */
  members = json_object_get_members (env);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      if (!g_str_equal (name, "signed") && !g_str_equal (name, "signatures"))
        {
          g_list_free (members);
          return malformed (error, "unexpected top-level field \"%s\"", name), NULL;
        }
    }
  g_list_free (members);

  signed_node = json_object_get_member (env, "signed");
  if (signed_node == NULL || !JSON_NODE_HOLDS_OBJECT (signed_node))
    return malformed (error, "\"signed\" is missing or not an object"), NULL;
  s->signed_obj = json_node_get_object (signed_node);

  sigs_node = json_object_get_member (env, "signatures");
  if (sigs_node != NULL && JSON_NODE_HOLDS_ARRAY (sigs_node))
    {
      if (!parse_signatures (json_node_get_array (sigs_node), s->signatures, error))
        return NULL;
    }
  else if (sigs_node != NULL && !JSON_NODE_HOLDS_NULL (sigs_node))
    return malformed (error, "\"signatures\" is not an array"), NULL;

  s->type = g_strdup (notary_json_object_get_string (s->signed_obj, "_type"));
  if (s->type == NULL)
    return malformed (error, "signed._type is missing"), NULL;
  if (!notary_json_object_get_int (s->signed_obj, "version", &s->version) || s->version < 0)
    return malformed (error, "signed.version is not a non-negative 64-bit integer"), NULL;
  expires = notary_json_object_get_string (s->signed_obj, "expires");
  if (expires == NULL || !notary_time_parse_rfc3339 (expires, &s->expires, NULL))
    return malformed (error, "signed.expires is not an RFC 3339 time"), NULL;

  /* The signed part is most of the document; canonical form only drops
   * whitespace, so the raw size bounds it (a hint, not a limit). */
  s->canonical_signed = notary_json_canonicalize_spliced (signed_node, g_bytes_get_size (raw), "targets",
                                                          targets_canonical, &local_error);
  if (s->canonical_signed == NULL)
    return malformed (error, "signed cannot be canonicalised: %s", local_error->message), NULL;

  s->sha256_hex = notary_sha256_hex (raw);
  return g_steal_pointer (&s);
}

NotarySigned *
notary_signed_ref (NotarySigned *s)
{
  g_atomic_int_inc (&s->ref_count);
  return s;
}

void
notary_signed_unref (NotarySigned *s)
{
  if (s == NULL || !g_atomic_int_dec_and_test (&s->ref_count))
    return;
  g_bytes_unref (s->raw);
  g_clear_pointer (&s->tree, json_node_unref);
  g_clear_pointer (&s->canonical_signed, g_bytes_unref);
  g_ptr_array_unref (s->signatures);
  g_free (s->type);
  g_free (s->sha256_hex);
  g_free (s);
}

gboolean
notary_signed_is_expired (NotarySigned *s, gint64 now)
{
  return s->expires < now;
}

/* ---- thresholds -------------------------------------------------------- */

void
notary_role_keys_free (NotaryRoleKeys *r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_clear_pointer (&r->keyids, g_ptr_array_unref);
  g_clear_pointer (&r->paths, g_ptr_array_unref);
  g_free (r);
}

static gboolean
role_lists_key (NotaryRoleKeys *role, const char *keyid)
{
  for (guint i = 0; i < role->keyids->len; i++)
    if (g_str_equal (role->keyids->pdata[i], keyid))
      return TRUE;
  return FALSE;
}

gboolean
notary_signed_verify (NotarySigned *s, GHashTable *keys, NotaryRoleKeys *role, GError **error)
{
  g_autoptr (GHashTable) valid = g_hash_table_new (g_str_hash, g_str_equal);

  if (role->threshold < 1)
    {
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID, "invalid threshold for %s",
                   role->name);
      return FALSE;
    }
  if (s->signatures->len == 0)
    {
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_SIGNATURE, "no signatures for %s", role->name);
      return FALSE;
    }
  for (guint i = 0; i < s->signatures->len; i++)
    {
      NotarySignature *sig = s->signatures->pdata[i];
      NotaryKey *key;

      if (g_hash_table_contains (valid, sig->keyid) || !role_lists_key (role, sig->keyid))
        continue;
      key = g_hash_table_lookup (keys, sig->keyid);
      if (key == NULL || !g_str_equal (notary_key_get_id (key), sig->keyid))
        continue;
      if (notary_key_verify (key, sig->method, s->canonical_signed, sig->sig, NULL))
        g_hash_table_add (valid, sig->keyid);
    }
  if ((gint64) g_hash_table_size (valid) < role->threshold)
    {
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_SIGNATURE,
                   "valid signatures did not meet threshold for %s", role->name);
      return FALSE;
    }
  return TRUE;
}

/* ---- role bodies ------------------------------------------------------- */

#define invalid(error, ...) notary_throw (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID, __VA_ARGS__)

static gboolean
check_common (NotarySigned *s, const char *type, GError **error)
{
  if (!g_str_equal (s->type, type))
    return invalid (error, "expected type %s, got %s", type, s->type);
  if (s->version < 1)
    return invalid (error, "%s version must be at least 1", type);
  return TRUE;
}

/* keys map: keyid -> key object.  The map key must be the key's TUF ID. */
static GHashTable *
parse_keys (JsonObject *keys_obj, GError **error)
{
  g_autoptr (GHashTable) keys
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_key_unref);
  GList *members;

  if (keys_obj == NULL)
    return g_steal_pointer (&keys);
  members = json_object_get_members (keys_obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      g_autoptr (GError) local_error = NULL;
      NotaryKey *key = notary_key_new_from_json (json_object_get_member (keys_obj, l->data), &local_error);
      if (key == NULL)
        {
          invalid (error, "key %s: %s", (char *) l->data, local_error->message);
          g_list_free (members);
          return NULL;
        }
      if (!g_str_equal (notary_key_get_id (key), l->data))
        {
          invalid (error, "key ID %s does not match its key (%s)", (char *) l->data, notary_key_get_id (key));
          notary_key_unref (key);
          g_list_free (members);
          return NULL;
        }
      g_hash_table_insert (keys, g_strdup (l->data), key);
    }
  g_list_free (members);
  return g_steal_pointer (&keys);
}

static GPtrArray *
parse_string_array (JsonArray *arr, gboolean *ok)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  *ok = TRUE;
  if (arr == NULL)
    return out;
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *n = json_array_get_element (arr, i);
      if (JSON_NODE_TYPE (n) != JSON_NODE_VALUE || json_node_get_value_type (n) != G_TYPE_STRING)
        {
          *ok = FALSE;
          break;
        }
      g_ptr_array_add (out, g_strdup (json_node_get_string (n)));
    }
  return out;
}

static NotaryRoleKeys *
parse_role_keys (const char *name, JsonObject *obj, GHashTable *keys, GError **error)
{
  g_autoptr (NotaryRoleKeys) r = g_new0 (NotaryRoleKeys, 1);
  gboolean ok;

  r->name = g_strdup (name);
  if (!notary_json_object_get_int (obj, "threshold", &r->threshold) || r->threshold < 1)
    return invalid (error, "role %s: threshold must be an integer >= 1", name), NULL;
  r->keyids = parse_string_array (notary_json_object_get_array (obj, "keyids"), &ok);
  if (!ok)
    return invalid (error, "role %s: keyids must be strings", name), NULL;
  for (guint i = 0; i < r->keyids->len; i++)
    if (!g_hash_table_contains (keys, r->keyids->pdata[i]))
      return invalid (error, "role %s lists key %s which is not in keys", name, (char *) r->keyids->pdata[i]),
             NULL;
  if (json_object_has_member (obj, "paths"))
    {
      r->paths = parse_string_array (notary_json_object_get_array (obj, "paths"), &ok);
      if (!ok)
        return invalid (error, "role %s: paths must be strings", name), NULL;
    }
  return g_steal_pointer (&r);
}

void
notary_root_free (NotaryRoot *r)
{
  if (r == NULL || !g_atomic_ref_count_dec (&r->ref))
    return;
  g_clear_pointer (&r->s, notary_signed_unref);
  g_clear_pointer (&r->keys, g_hash_table_unref);
  g_clear_pointer (&r->roles, g_hash_table_unref);
  g_free (r);
}

NotaryRoot *
notary_root_ref (NotaryRoot *r)
{
  g_atomic_ref_count_inc (&r->ref);
  return r;
}

NotaryRoot *
notary_root_new (NotarySigned *s, GError **error)
{
  g_autoptr (NotaryRoot) r = g_new0 (NotaryRoot, 1);
  JsonObject *roles;

  g_atomic_ref_count_init (&r->ref);
  static const char *const base[] = { "root", "targets", "snapshot", "timestamp" };

  r->s = notary_signed_ref (s);
  if (!check_common (s, "Root", error))
    return NULL;
  r->keys = parse_keys (notary_json_object_get_object (s->signed_obj, "keys"), error);
  if (r->keys == NULL)
    return NULL;
  r->roles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_role_keys_free);
  roles = notary_json_object_get_object (s->signed_obj, "roles");
  if (roles == NULL)
    return invalid (error, "root has no roles"), NULL;
  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    {
      JsonObject *ro = notary_json_object_get_object (roles, base[i]);
      NotaryRoleKeys *rk;
      if (ro == NULL)
        return invalid (error, "root is missing the %s role", base[i]), NULL;
      rk = parse_role_keys (base[i], ro, r->keys, error);
      if (rk == NULL)
        return NULL;
      g_hash_table_insert (r->roles, g_strdup (base[i]), rk);
    }
  return g_steal_pointer (&r);
}

void
notary_targets_free (NotaryTargets *t)
{
  if (t == NULL)
    return;
  g_clear_pointer (&t->s, notary_signed_unref);
  g_clear_pointer (&t->delegation_keys, g_hash_table_unref);
  g_clear_pointer (&t->delegations, g_ptr_array_unref);
  g_free (t);
}

NotaryTargets *
notary_targets_new (NotarySigned *s, const char *role_name, GError **error)
{
  g_autoptr (NotaryTargets) t = g_new0 (NotaryTargets, 1);
  JsonObject *delegations, *targets;
  JsonArray *roles;
  JsonNode *targets_node;

  t->s = notary_signed_ref (s);
  t->delegations = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_role_keys_free);
  if (!check_common (s, "Targets", error))
    return NULL;

  targets_node = json_object_get_member (s->signed_obj, "targets");
  if (targets_node != NULL && !JSON_NODE_HOLDS_OBJECT (targets_node) && !JSON_NODE_HOLDS_NULL (targets_node))
    return invalid (error, "%s: targets must be an object", role_name), NULL;
  targets = targets_node && JSON_NODE_HOLDS_OBJECT (targets_node) ? json_node_get_object (targets_node) : NULL;
  (void) targets;

  delegations = notary_json_object_get_object (s->signed_obj, "delegations");
  t->delegation_keys = parse_keys (delegations ? notary_json_object_get_object (delegations, "keys") : NULL, error);
  if (t->delegation_keys == NULL)
    return NULL;
  roles = delegations ? notary_json_object_get_array (delegations, "roles") : NULL;
  for (guint i = 0; roles != NULL && i < json_array_get_length (roles); i++)
    {
      JsonNode *n = json_array_get_element (roles, i);
      const char *name;
      g_autofree char *parent = NULL;
      NotaryRoleKeys *rk;

      if (!JSON_NODE_HOLDS_OBJECT (n))
        return invalid (error, "%s: delegation %u is not an object", role_name, i), NULL;
      name = notary_json_object_get_string (json_node_get_object (n), "name");
      if (name == NULL || !notary_role_is_delegation (name))
        return invalid (error, "%s: invalid delegation name %s", role_name, name ? name : "(none)"), NULL;
      parent = notary_role_parent (name);
      if (!g_str_equal (parent, role_name))
        return invalid (error, "%s: delegation %s is not a direct child", role_name, name), NULL;
      rk = parse_role_keys (name, json_node_get_object (n), t->delegation_keys, error);
      if (rk == NULL)
        return NULL;
      g_ptr_array_add (t->delegations, rk);
    }
  return g_steal_pointer (&t);
}

NotaryRoleKeys *
notary_targets_find_delegation (NotaryTargets *t, const char *name)
{
  for (guint i = 0; i < t->delegations->len; i++)
    {
      NotaryRoleKeys *rk = t->delegations->pdata[i];
      if (g_str_equal (rk->name, name))
        return rk;
    }
  return NULL;
}

static void
file_meta_free (NotaryFileMeta *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->sha256, g_bytes_unref);
  g_clear_pointer (&m->sha512, g_bytes_unref);
  g_free (m);
}

void
notary_meta_role_free (NotaryMetaRole *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->s, notary_signed_unref);
  g_clear_pointer (&m->meta, g_hash_table_unref);
  g_free (m);
}

static NotaryFileMeta *
parse_file_meta (const char *role, JsonObject *obj, GError **error)
{
  NotaryFileMeta *m = g_new0 (NotaryFileMeta, 1);
  JsonObject *hashes = notary_json_object_get_object (obj, "hashes");
  const char *h;

  if (!notary_json_object_get_int (obj, "length", &m->length) || m->length < 0)
    {
      file_meta_free (m);
      return invalid (error, "meta for %s has no valid length", role), NULL;
    }
  if (hashes != NULL && (h = notary_json_object_get_string (hashes, "sha256")) != NULL)
    m->sha256 = decode_base64_strict (h);
  if (hashes != NULL && (h = notary_json_object_get_string (hashes, "sha512")) != NULL)
    m->sha512 = decode_base64_strict (h);
  if ((m->sha256 != NULL && g_bytes_get_size (m->sha256) != 32)
      || (m->sha512 != NULL && g_bytes_get_size (m->sha512) != 64))
    {
      file_meta_free (m);
      return invalid (error, "meta for %s has a malformed hash", role), NULL;
    }
  return m;
}

static NotaryMetaRole *
meta_role_new (NotarySigned *s, const char *type, GError **error)
{
  g_autoptr (NotaryMetaRole) m = g_new0 (NotaryMetaRole, 1);
  JsonObject *meta;
  GList *members;

  m->s = notary_signed_ref (s);
  m->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) file_meta_free);
  if (!check_common (s, type, error))
    return NULL;
  meta = notary_json_object_get_object (s->signed_obj, "meta");
  if (meta == NULL)
    return invalid (error, "%s has no meta", type), NULL;
  members = json_object_get_members (meta);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonObject *fo = notary_json_object_get_object (meta, l->data);
      NotaryFileMeta *fm;
      if (fo == NULL)
        {
          /* Report before freeing the list: l->data lives in it (the
           * message used to read the freed node). */
          invalid (error, "%s: meta for %s is not an object", type, (char *) l->data);
          g_list_free (members);
          return NULL;
        }
      fm = parse_file_meta (l->data, fo, error);
      if (fm == NULL)
        {
          g_list_free (members);
          return NULL;
        }
      g_hash_table_insert (m->meta, g_strdup (l->data), fm);
    }
  g_list_free (members);
  return g_steal_pointer (&m);
}

static gboolean
require_sha256 (NotaryMetaRole *m, const char *role, GError **error)
{
  NotaryFileMeta *fm = g_hash_table_lookup (m->meta, role);
  if (fm == NULL || fm->sha256 == NULL)
    return invalid (error, "%s: missing sha256 checksum for %s", m->s->type, role);
  return TRUE;
}

NotaryMetaRole *
notary_snapshot_new (NotarySigned *s, GError **error)
{
  g_autoptr (NotaryMetaRole) m = meta_role_new (s, "Snapshot", error);
  if (m == NULL || !require_sha256 (m, "root", error) || !require_sha256 (m, "targets", error))
    return NULL;
  return g_steal_pointer (&m);
}

NotaryMetaRole *
notary_timestamp_new (NotarySigned *s, GError **error)
{
  g_autoptr (NotaryMetaRole) m = meta_role_new (s, "Timestamp", error);
  if (m == NULL || !require_sha256 (m, "snapshot", error))
    return NULL;
  return g_steal_pointer (&m);
}

gboolean
notary_file_meta_check (NotaryFileMeta *meta, GBytes *data, const char *role, GError **error)
{
  if (meta->sha256 == NULL && meta->sha512 == NULL)
    {
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_HASH,
                   "no checksums for supported algorithms were provided for %s", role);
      return FALSE;
    }
  if (meta->sha256 != NULL)
    {
      g_autoptr (GBytes) d = notary_digest (G_CHECKSUM_SHA256, data);
      if (!g_bytes_equal (d, meta->sha256))
        goto mismatch;
    }
  if (meta->sha512 != NULL)
    {
      g_autoptr (GBytes) d = notary_digest (G_CHECKSUM_SHA512, data);
      if (!g_bytes_equal (d, meta->sha512))
        goto mismatch;
    }
  return TRUE;
mismatch:
  g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_HASH, "checksum mismatch for %s", role);
  return FALSE;
}

char *
notary_file_meta_sha256_hex (NotaryFileMeta *meta)
{
  gsize len;
  const guint8 *d;
  GString *s;

  if (meta->sha256 == NULL)
    return NULL;
  d = g_bytes_get_data (meta->sha256, &len);
  s = g_string_sized_new (len * 2);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", d[i]);
  return g_string_free (s, FALSE);
}

/* ---- writing ----------------------------------------------------------- */

static void
append_base64 (GString *out, GBytes *b)
{
  gsize len;
  const guchar *d = g_bytes_get_data (b, &len);
  g_autofree char *enc = g_base64_encode (d, len);
  g_string_append (out, enc);
}

void
notary_write_file_meta (GString *out, GBytes *data)
{
  g_autoptr (GBytes) sha256 = notary_digest (G_CHECKSUM_SHA256, data);
  g_autoptr (GBytes) sha512 = notary_digest (G_CHECKSUM_SHA512, data);

  g_string_append (out, "{\"hashes\":{\"sha256\":\"");
  append_base64 (out, sha256);
  g_string_append (out, "\",\"sha512\":\"");
  append_base64 (out, sha512);
  g_string_append_printf (out, "\"},\"length\":%" G_GSIZE_FORMAT "}", g_bytes_get_size (data));
}

GBytes *
notary_envelope_build (GBytes *signed_bytes, GPtrArray *sigs)
{
  GString *out = g_string_new ("{\"signed\":");
  gsize len;
  const char *d = g_bytes_get_data (signed_bytes, &len);

  g_string_append_len (out, d, len);
  g_string_append (out, ",\"signatures\":[");
  for (guint i = 0; i < sigs->len; i++)
    {
      NotarySignature *sig = sigs->pdata[i];
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, "{\"keyid\":");
      notary_json_write_canonical_string (out, sig->keyid);
      g_string_append (out, ",\"method\":");
      notary_json_write_canonical_string (out, sig->method);
      g_string_append (out, ",\"sig\":\"");
      append_base64 (out, sig->sig);
      g_string_append (out, "\"}");
    }
  g_string_append (out, "]}");
  /* Stored as long as the repository lives: trim GString's power-of-two
   * slack instead of keeping up to twice the bytes. */
  gsize n = out->len;
  return g_bytes_new_take (g_realloc (g_string_free (out, FALSE), n + 1), n);
}
