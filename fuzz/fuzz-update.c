/* fuzz-update.c — a publish, through the server's whole update path
 * (notary_repo_update: version, hierarchy, snapshot and delegation
 * checks, storage, the server's timestamp), with the memory storage and
 * local signer plugins.
 *
 * Random bytes never carry a valid signature, so the harness signs: the
 * input is a selector byte and the JSON text of one role's "signed" body;
 * the harness signs that body with the key the role's current root (or
 * delegation) names, and uploads it to a repository published just
 * before from fixed fixtures (root, targets delegating to
 * targets/releases, snapshot: all version 1), sometimes with a snapshot
 * it makes to match.  So the checks behind the signatures are what the
 * fuzzer reaches.
 *
 * Selector byte: bits 0-2 the role of the body (targets, root, snapshot,
 * targets/releases, timestamp; 5-7 are targets again), bit 3 "add a
 * snapshot version 2 listing the uploaded files", bit 4 "upload root
 * version 1 again beside it" (unless the body is a root).  The keys are
 * made at run time, so the body names them by placeholders the harness
 * replaces before parsing:
 * @root-id@, @targets-id@, @snapshot-id@, @timestamp-id@, @releases-id@
 * (key IDs), the same with -key@ (the key objects), and @root-meta@,
 * @targets-meta@ (file metadata of the version 1 files).
 *
 * Invariants: a refused update fails with an error the HTTP layer
 * answers 400 (anything else would be a 5xx for a client's mistake) and
 * leaves every role's latest stored file as it was; an accepted one
 * stores the uploaded bytes as they came, and the current view a client
 * then reads (timestamp -> snapshot -> root, targets) is consistent:
 * each file's hashes are the ones its parent lists. */
#include "fuzz-repo.h"


static const char *const stored_roles[] = { "root", "targets", "snapshot", "timestamp", "targets/releases" };

/* Built on the first input and kept: keys, the signer that holds the
 * timestamp key, and the version 1 files.  Generating keys and a root
 * certificate per input would be most of the run. */
typedef struct
{
  FxServer fx;
  FxRepoKeys keys;
  FxKey *releases;
  GBytes *root_v1, *targets_v1, *snapshot_v1;
  GPtrArray *placeholders; /* name, text, name, text, ... */
} Fixture;

static void
add_key_placeholders (Fixture *f, const char *name, FxKey *key)
{
  g_autoptr (JsonNode) obj = fx_key_json (key->pub);
  g_autoptr (GBytes) text = notary_json_canonicalize (obj, NULL);
  g_ptr_array_add (f->placeholders, g_strdup_printf ("@%s-id@", name));
  g_ptr_array_add (f->placeholders, g_strdup (fx_id (key)));
  g_ptr_array_add (f->placeholders, g_strdup_printf ("@%s-key@", name));
  g_ptr_array_add (f->placeholders, g_strndup (g_bytes_get_data (text, NULL), g_bytes_get_size (text)));
}

static void
add_meta_placeholder (Fixture *f, const char *name, GBytes *file)
{
  g_autoptr (GString) meta = g_string_new (NULL);
  notary_write_file_meta (meta, file);
  g_ptr_array_add (f->placeholders, g_strdup_printf ("@%s-meta@", name));
  g_ptr_array_add (f->placeholders, g_string_free (g_steal_pointer (&meta), FALSE));
}

static Fixture *
fixture (void)
{
  static Fixture *f;
  if (f != NULL)
    return f;
  f = g_new0 (Fixture, 1);
  fuzz_repo_init (&f->fx, &f->keys);
  f->releases = fx_key_new ("ecdsa");

  FxKey *tk[] = { f->keys.targets, NULL }, *rk[] = { f->releases, NULL };
  JsonObject *targets = fx_targets_body (1, FUZZ_NOW + FX_YEAR);
  fx_targets_add_delegation (targets, "targets/releases", rk, 1);
  fx_targets_add_target (targets, "file", "content v1");
  f->root_v1 = fx_make_root (&f->keys, 1);
  f->targets_v1 = fx_sign (targets, tk);
  f->snapshot_v1 = fx_make_snapshot (&f->keys, 1, f->root_v1, f->targets_v1);

  f->placeholders = g_ptr_array_new_with_free_func (g_free);
  add_key_placeholders (f, "root", f->keys.root);
  add_key_placeholders (f, "targets", f->keys.targets);
  add_key_placeholders (f, "snapshot", f->keys.snapshot);
  add_key_placeholders (f, "timestamp", f->keys.timestamp);
  add_key_placeholders (f, "releases", f->releases);
  add_meta_placeholder (f, "root", f->root_v1);
  add_meta_placeholder (f, "targets", f->targets_v1);
  return f;
}

static GBytes *
sign_canonical (GBytes *canonical, FxKey *key)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) sigs = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_signature_free);
  NotarySignature *sig = g_new0 (NotarySignature, 1);
  sig->keyid = g_strdup (fx_id (key));
  sig->method = g_strdup (notary_private_key_get_method (key->priv));
  sig->sig = notary_private_key_sign (key->priv, canonical, &error);
  if (sig->sig == NULL)
    fuzz_fail ("signing failed: %s", error->message);
  g_ptr_array_add (sigs, sig);
  return notary_envelope_build (canonical, sigs);
}

static GBytes *
latest (FxServer *fx, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = fx->svt->get_latest (fx->storage, FUZZ_GUN, role, &error);
  if (file == NULL)
    {
      if (!g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND))
        fuzz_fail ("reading the latest %s: %s", role, error->message);
      return NULL;
    }
  GBytes *data = g_bytes_ref (file->data);
  notary_stored_file_free (file);
  return data;
}

static gboolean
answered_400 (const GError *error)
{
  /* What notary-http.c answers 400 (INVALID_UPDATE or VERSION). */
  return error->domain == NOTARY_VALIDATION_ERROR || error->domain == NOTARY_TUF_ERROR
         || error->domain == NOTARY_JSON_ERROR || error->domain == NOTARY_KEY_ERROR
         || g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION);
}

static NotaryStoredFile *
current (NotaryRepo *repo, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = notary_repo_get_current (repo, FUZZ_GUN, role, &error);
  if (file == NULL)
    fuzz_fail ("after an accepted update, GET %s.json fails: %s", role, error->message);
  return file;
}

/* @child's bytes must match what @parent (a snapshot or timestamp) lists. */
static void
expect_listed (NotaryMetaRole *parent, const char *role, NotaryStoredFile *child)
{
  g_autoptr (GError) error = NULL;
  NotaryFileMeta *meta = g_hash_table_lookup (parent->meta, role);
  if (meta == NULL)
    fuzz_fail ("after an accepted update, the current %s does not list %s", parent->s->type, role);
  if (!notary_file_meta_check (meta, child->data, role, &error))
    fuzz_fail ("after an accepted update, the current %s does not match: %s", role, error->message);
}

static NotaryMetaRole *
meta_of (NotaryStoredFile *file, gboolean is_timestamp)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotarySigned) s = notary_signed_parse (file->data, &error);
  NotaryMetaRole *m = s == NULL ? NULL
                      : is_timestamp ? notary_timestamp_new (s, &error)
                                     : notary_snapshot_new (s, &error);
  if (m == NULL)
    fuzz_fail ("after an accepted update, a served file does not read: %s", error->message);
  return m;
}

static void
expect_consistent_view (NotaryRepo *repo)
{
  NotaryStoredFile *ts = current (repo, "timestamp");
  NotaryStoredFile *sn = current (repo, "snapshot");
  NotaryStoredFile *root = current (repo, "root");
  NotaryStoredFile *targets = current (repo, "targets");
  g_autoptr (NotaryMetaRole) ts_meta = meta_of (ts, TRUE);
  g_autoptr (NotaryMetaRole) sn_meta = meta_of (sn, FALSE);
  expect_listed (ts_meta, "snapshot", sn);
  expect_listed (sn_meta, "root", root);
  expect_listed (sn_meta, "targets", targets);
  notary_stored_file_free (ts);
  notary_stored_file_free (sn);
  notary_stored_file_free (root);
  notary_stored_file_free (targets);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  Fixture *f = fixture ();
  guint8 selector = data[0];
  static const char *const roles[] = { "targets", "root", "snapshot", "targets/releases", "timestamp" };
  const char *role = roles[(selector & 7) < G_N_ELEMENTS (roles) ? (selector & 7) : 0];

  /* The body: JSON text that canonicalises (what else JSON text can be is
   * fuzz-json's part). */
  g_autoptr (GString) text = g_string_new_len ((const char *) data + 1, (gssize) (size - 1));
  for (guint i = 0; i + 1 < f->placeholders->len; i += 2)
    g_string_replace (text, f->placeholders->pdata[i], f->placeholders->pdata[i + 1], 0);
  g_autoptr (JsonNode) body = notary_json_parse (text->str, (gssize) text->len, NULL);
  g_autoptr (GBytes) canonical = body != NULL ? notary_json_canonicalize (body, NULL) : NULL;
  if (canonical == NULL)
    return 0;
  FxKey *signer = g_str_equal (role, "root")               ? f->keys.root
                  : g_str_equal (role, "snapshot")         ? f->keys.snapshot
                  : g_str_equal (role, "targets/releases") ? f->releases
                                                           : f->keys.targets; /* timestamp too: not the server's */
  g_autoptr (GBytes) raw = sign_canonical (canonical, signer);
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (NotarySigned) uploaded = notary_signed_parse (raw, &parse_error);
  if (uploaded == NULL)
    {
      /* The HTTP layer refuses such a part before the repository sees it. */
      if (!answered_400 (parse_error))
        fuzz_fail ("an upload part fails to parse with a non-400 error: %s", parse_error->message);
      return 0;
    }

  /* A fresh repository on fresh storage for every input, published to
   * version 1; the trust service (and its timestamp key) is shared. */
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) no_options = json_object_new ();
  NotaryStorage *storage = f->fx.svt->open (&fx_host, no_options, &error);
  if (storage == NULL)
    fuzz_fail ("memory storage: %s", error->message);
  FxServer fx = f->fx;
  fx.storage = storage;
  fx.repo = notary_repo_new (fx.svt, storage, fx.kvt, fx.signer);
  notary_repo_set_clock (fx.repo, FUZZ_NOW);
  {
    g_autoptr (GHashTable) initial = fx_uploads_new ();
    fx_uploads_add (initial, "root", f->root_v1);
    fx_uploads_add (initial, "targets", f->targets_v1);
    fx_uploads_add (initial, "snapshot", f->snapshot_v1);
    if (!notary_repo_update (fx.repo, FUZZ_GUN, initial, &error))
      fuzz_fail ("the fixture's own publish fails: %s", error->message);
  }

  g_autoptr (GHashTable) uploads = fx_uploads_new ();
  g_hash_table_replace (uploads, g_strdup (role), notary_signed_ref (uploaded));
  if ((selector & 0x10) && !g_str_equal (role, "root"))
    fx_uploads_add (uploads, "root", f->root_v1);
  if ((selector & 0x08) && !g_str_equal (role, "snapshot"))
    {
      JsonObject *sn = fx_meta_body ("Snapshot", 2, FUZZ_NOW + FX_YEAR);
      fx_meta_add (sn, "root", g_str_equal (role, "root") ? raw : f->root_v1);
      fx_meta_add (sn, "targets", g_str_equal (role, "targets") ? raw : f->targets_v1);
      if (g_str_equal (role, "targets/releases"))
        fx_meta_add (sn, "targets/releases", raw);
      FxKey *sk[] = { f->keys.snapshot, NULL };
      g_autoptr (GBytes) snapshot = fx_sign (sn, sk);
      fx_uploads_add (uploads, "snapshot", snapshot);
    }

  GBytes *before[G_N_ELEMENTS (stored_roles)];
  for (gsize i = 0; i < G_N_ELEMENTS (stored_roles); i++)
    before[i] = latest (&fx, stored_roles[i]);

  g_clear_error (&error);
  if (!notary_repo_update (fx.repo, FUZZ_GUN, uploads, &error))
    {
      if (!answered_400 (error))
        fuzz_fail ("a refused update fails with a non-400 error: %s", error->message);
      for (gsize i = 0; i < G_N_ELEMENTS (stored_roles); i++)
        {
          g_autoptr (GBytes) after = latest (&fx, stored_roles[i]);
          if ((after == NULL) != (before[i] == NULL) || (after != NULL && !g_bytes_equal (after, before[i])))
            fuzz_fail ("a refused update (%s) changed the stored %s", error->message, stored_roles[i]);
        }
    }
  else
    {
      GHashTableIter it;
      gpointer name, s;
      g_hash_table_iter_init (&it, uploads);
      while (g_hash_table_iter_next (&it, &name, &s))
        {
          if (g_str_equal (name, "timestamp"))
            continue; /* ignored by design: the server signs its own */
          g_autoptr (GBytes) stored = latest (&fx, name);
          if (stored == NULL || !g_bytes_equal (stored, ((NotarySigned *) s)->raw))
            fuzz_fail ("an accepted update did not store the uploaded %s as it came", (const char *) name);
        }
      expect_consistent_view (fx.repo);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (stored_roles); i++)
    g_clear_pointer (&before[i], g_bytes_unref);
  notary_repo_free (fx.repo);
  fx.svt->close (storage);
  return 0;
}
