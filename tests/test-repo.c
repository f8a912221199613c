/* test-repo.c — the update validation rules of server-validation.md §3,
 * server-managed keys (§5) and regeneration on read (§6), against the real
 * memory storage and local signer plugins.
 *
 * Every failure case also checks that storage was left untouched: the
 * latest version of every role and the changefeed are compared before and
 * after.
 */
#include "lib/tuf-fixtures.c"

#define GUN "example.com/app"

/* ---- a storage wrapper: counts writes, can fake a huge latest version ----- */

typedef struct
{
  const NotaryStorageVTable *inner_vt;
  NotaryStorage *inner;
  guint update_calls;
  gint read_calls; /* get_latest + get_checksum (atomic: fetch threads read too) */
  const char *fake_latest_role; /* report this role's latest version as ... */
  gint64 fake_latest_version;   /* ... this */
  gboolean copy_reads; /* hand back new bytes on every read, as MySQL does */
  gint live_copies;    /* of those, not yet freed (atomic) */
} WrapStorage;

typedef struct
{
  WrapStorage *w;
  guint8 data[];
} CountedCopy;

static void
counted_copy_free (gpointer data)
{
  CountedCopy *c = data;
  g_atomic_int_add (&c->w->live_copies, -1);
  g_free (c);
}

/* Replaces @f's bytes with a counted copy when the wrapper copies reads. */
static NotaryStoredFile *
maybe_copy (WrapStorage *w, NotaryStoredFile *f)
{
  gsize len;
  gconstpointer p;
  CountedCopy *c;

  if (f == NULL || !w->copy_reads)
    return f;
  p = g_bytes_get_data (f->data, &len);
  c = g_malloc (sizeof *c + len);
  c->w = w;
  memcpy (c->data, p, len);
  g_atomic_int_inc (&w->live_copies);
  g_bytes_unref (f->data);
  f->data = g_bytes_new_with_free_func (c->data, len, counted_copy_free, c);
  return f;
}

static gboolean
wrap_update_many (NotaryStorage *self, const char *gun, const NotaryStorageUpdate *u, gsize n, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  w->update_calls++;
  return w->inner_vt->update_many (w->inner, gun, u, n, error);
}

static NotaryStoredFile *
wrap_get_latest (NotaryStorage *self, const char *gun, const char *role, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  NotaryStoredFile *f = w->inner_vt->get_latest (w->inner, gun, role, error);
  g_atomic_int_inc (&w->read_calls);
  if (f != NULL && w->fake_latest_role != NULL && g_str_equal (role, w->fake_latest_role))
    f->version = w->fake_latest_version;
  return maybe_copy (w, f);
}

static NotaryStoredFile *
wrap_get_checksum (NotaryStorage *self, const char *gun, const char *role, const char *sha, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  g_atomic_int_inc (&w->read_calls);
  return maybe_copy (w, w->inner_vt->get_checksum (w->inner, gun, role, sha, error));
}

static NotaryStoredFile *
wrap_get_version (NotaryStorage *self, const char *gun, const char *role, gint64 v, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  return maybe_copy (w, w->inner_vt->get_version (w->inner, gun, role, v, error));
}

static gboolean
wrap_delete_gun (NotaryStorage *self, const char *gun, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  return w->inner_vt->delete_gun (w->inner, gun, error);
}

static GPtrArray *
wrap_get_changes (NotaryStorage *self, const char *gun, gint64 id, guint n, gboolean rev, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  return w->inner_vt->get_changes (w->inner, gun, id, n, rev, error);
}

static gboolean
wrap_check_health (NotaryStorage *self, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  return w->inner_vt->check_health (w->inner, error);
}

static const NotaryStorageVTable wrap_vt = {
  .version = NOTARY_VERSION_STORAGE_VTABLE,
  .update_many = wrap_update_many,
  .get_latest = wrap_get_latest,
  .get_checksum = wrap_get_checksum,
  .get_version = wrap_get_version,
  .delete_gun = wrap_delete_gun,
  .get_changes = wrap_get_changes,
  .check_health = wrap_check_health,
};

/* ---- fixture ------------------------------------------------------------------ */

typedef struct
{
  FxServer fx;
  WrapStorage wrap;
  NotaryRepo *repo; /* over the wrapper */
  FxRepoKeys keys;
  gint64 now;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  fx_server_init (&f->fx);
  f->wrap.inner_vt = f->fx.svt;
  f->wrap.inner = f->fx.storage;
  /* route everything through the wrapper so writes can be counted */
  notary_repo_free (f->fx.repo);
  f->fx.repo = notary_repo_new (&wrap_vt, (NotaryStorage *) &f->wrap, f->fx.kvt, f->fx.signer);
  f->repo = f->fx.repo;
  f->now = g_get_real_time () / G_USEC_PER_SEC;
  fx_repo_keys_init (&f->keys, &f->fx, GUN, f->now);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  fx_repo_keys_clear (&f->keys);
  fx_server_clear (&f->fx);
}

/* ---- storage state --------------------------------------------------------------- */

static gint64
latest_version (Fixture *f, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = f->fx.svt->get_latest (f->fx.storage, GUN, role, &error);
  gint64 v;
  if (file == NULL)
    {
      g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
      return 0;
    }
  v = file->version;
  notary_stored_file_free (file);
  return v;
}

static GBytes *
latest_bytes (Fixture *f, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = f->fx.svt->get_latest (f->fx.storage, GUN, role, &error);
  GBytes *b;
  g_assert_no_error (error);
  b = g_bytes_ref (file->data);
  notary_stored_file_free (file);
  return b;
}

static GPtrArray *
all_changes (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *c = f->fx.svt->get_changes (f->fx.storage, NULL, 0, 1000, FALSE, &error);
  g_assert_no_error (error);
  return c;
}

/* A summary of everything stored for GUN. */
static char *
storage_state (Fixture *f)
{
  static const char *const roles[] = { "root", "targets", "snapshot", "timestamp", "targets/a", "targets/b",
                                       "targets/x", "targets/a/b" };
  GString *s = g_string_new (NULL);
  g_autoptr (GPtrArray) changes = all_changes (f);

  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    g_string_append_printf (s, "%s=%" G_GINT64_FORMAT " ", roles[i], latest_version (f, roles[i]));
  g_string_append_printf (s, "changes=%u", changes->len);
  if (changes->len > 0)
    g_string_append_printf (s, " last=%s", ((NotaryChange *) changes->pdata[changes->len - 1])->sha256);
  return g_string_free (s, FALSE);
}

/* Run an update expected to fail with @domain/@code (and @message when not
 * NULL); storage must not change. */
static void
expect_update_error (Fixture *f, GHashTable *uploads, GQuark domain, gint code, const char *message)
{
  g_autofree char *before = storage_state (f);
  g_autofree char *after = NULL;
  g_autoptr (GError) error = NULL;
  guint writes = f->wrap.update_calls;
  gboolean ok = notary_repo_update (f->repo, GUN, uploads, &error);

  g_assert_false (ok);
  g_assert_nonnull (error);
  g_test_message ("update refused: %s (%s %d)", error->message, g_quark_to_string (error->domain), error->code);
  g_assert_error (error, domain, code);
  if (message != NULL)
    g_assert_cmpstr (error->message, ==, message);
  after = storage_state (f);
  g_assert_cmpstr (after, ==, before);
  /* validation failures never reach storage; only a version conflict does */
  if (domain != NOTARY_STORAGE_ERROR)
    g_assert_cmpuint (f->wrap.update_calls, ==, writes);
}

static void
expect_update_ok (Fixture *f, GHashTable *uploads)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = notary_repo_update (f->repo, GUN, uploads, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static gboolean
verify_with (GBytes *raw, NotaryKey *key)
{
  g_autoptr (NotarySigned) s = fx_parse (raw);
  g_autoptr (GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
  NotaryRoleKeys role = { (char *) "r", g_ptr_array_new (), 1, NULL };
  gboolean ok;
  g_ptr_array_add (role.keyids, (gpointer) notary_key_get_id (key));
  g_hash_table_insert (keys, (gpointer) notary_key_get_id (key), key);
  ok = notary_signed_verify (s, keys, &role, NULL);
  g_ptr_array_unref (role.keyids);
  return ok;
}

/* meta[@role] of a snapshot/timestamp file checks against @data. */
static gboolean
meta_matches (GBytes *meta_file, const char *role, GBytes *data)
{
  g_autoptr (NotarySigned) s = fx_parse (meta_file);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryMetaRole) m = g_str_equal (s->type, "Timestamp") ? notary_timestamp_new (s, &error)
                                                                    : notary_snapshot_new (s, &error);
  NotaryFileMeta *fm;
  g_assert_no_error (error);
  fm = g_hash_table_lookup (m->meta, role);
  return fm != NULL && notary_file_meta_check (fm, data, role, NULL);
}

static NotaryStoredFile *
get_current (Fixture *f, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = notary_repo_get_current (f->repo, GUN, role, &error);
  g_assert_no_error (error);
  g_assert_nonnull (file);
  return file;
}

static void
assert_current_is (Fixture *f, const char *role, GBytes *expected)
{
  NotaryStoredFile *file = get_current (f, role);
  g_assert_true (g_bytes_equal (file->data, expected));
  notary_stored_file_free (file);
}

/* ---- first publish, §3.1 -------------------------------------------------------- */

static void
test_first_publish (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) ts = NULL;
  g_autoptr (NotarySigned) ts_s = NULL;
  g_autoptr (GPtrArray) changes = NULL;
  g_autofree char *ts_sha = NULL;
  NotaryChange *c;

  fx_publish_initial (&f->fx, &f->keys);
  g_assert_cmpuint (f->wrap.update_calls, ==, 1);
  g_assert_cmpint (latest_version (f, "root"), ==, 1);
  g_assert_cmpint (latest_version (f, "targets"), ==, 1);
  g_assert_cmpint (latest_version (f, "snapshot"), ==, 1);
  g_assert_cmpint (latest_version (f, "timestamp"), ==, 1);

  /* uploaded files are stored byte for byte */
  {
    g_autoptr (GBytes) r = latest_bytes (f, "root");
    g_autoptr (GBytes) t = latest_bytes (f, "targets");
    g_autoptr (GBytes) s = latest_bytes (f, "snapshot");
    g_assert_true (g_bytes_equal (r, f->keys.root_bytes));
    g_assert_true (g_bytes_equal (t, f->keys.targets_bytes));
    g_assert_true (g_bytes_equal (s, f->keys.snapshot_bytes));
  }

  /* the generated timestamp: v1, 14 days, names the snapshot, signed by
   * the server's key */
  ts = latest_bytes (f, "timestamp");
  ts_s = fx_parse (ts);
  g_assert_cmpstr (ts_s->type, ==, "Timestamp");
  g_assert_cmpint (ts_s->version, ==, 1);
  g_assert_cmpint (ts_s->expires, >=, f->now + 14 * FX_DAY);
  g_assert_cmpint (ts_s->expires, <=, f->now + 14 * FX_DAY + 60);
  g_assert_true (meta_matches (ts, "snapshot", f->keys.snapshot_bytes));
  g_assert_true (verify_with (ts, f->keys.timestamp->pub));
  g_assert_false (verify_with (ts, f->keys.snapshot->pub));
  /* the server writes canonical bytes, so the signed text is what was signed */
  {
    const char *d = g_bytes_get_data (ts, NULL);
    g_assert_true (g_str_has_prefix (d, "{\"signed\":{\"_type\":\"Timestamp\",\"expires\":\""));
    g_assert_cmpmem (d + strlen ("{\"signed\":"), g_bytes_get_size (ts_s->canonical_signed),
                     g_bytes_get_data (ts_s->canonical_signed, NULL), g_bytes_get_size (ts_s->canonical_signed));
  }

  /* one changefeed record for the timestamp */
  changes = all_changes (f);
  g_assert_cmpuint (changes->len, ==, 1);
  c = changes->pdata[0];
  ts_sha = notary_sha256_hex (ts);
  g_assert_cmpstr (c->gun, ==, GUN);
  g_assert_cmpint (c->version, ==, 1);
  g_assert_cmpstr (c->sha256, ==, ts_sha);
  g_assert_cmpstr (c->category, ==, "update");

  /* reads */
  assert_current_is (f, "root", f->keys.root_bytes);
  assert_current_is (f, "targets", f->keys.targets_bytes);
  assert_current_is (f, "snapshot", f->keys.snapshot_bytes);
  assert_current_is (f, "timestamp", ts);
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *sha = notary_sha256_hex (f->keys.targets_bytes);
    NotaryStoredFile *file = notary_repo_get_checksum (f->repo, GUN, "targets", sha, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (file->data, f->keys.targets_bytes));
    notary_stored_file_free (file);
  }
  {
    g_autoptr (GError) error = NULL;
    NotaryStoredFile *file = notary_repo_get_version (f->repo, GUN, "root", 1, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (file->data, f->keys.root_bytes));
    notary_stored_file_free (file);
    g_assert_null (notary_repo_get_version (f->repo, GUN, "root", 0, &error));
    g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_null (notary_repo_get_version (f->repo, GUN, "root", 2, &error));
    g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
  }
}

static void
test_not_found (Fixture *f, gconstpointer data)
{
  static const char *const roles[] = { "root", "targets", "snapshot", "timestamp", "targets/a" };
  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_null (notary_repo_get_current (f->repo, GUN, roles[i], &error));
      g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
    }
  /* a delegation the current snapshot does not list: 404 as well */
  fx_publish_initial (&f->fx, &f->keys);
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (notary_repo_get_current (f->repo, GUN, "targets/a", &error));
    g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
  }
}

static void
test_no_root (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
  fx_uploads_add (up, "targets", t);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_VALIDATION,
                       "no pre-existing root and no root provided in update.");
}

static void
test_root_version_rules (Fixture *f, gconstpointer data)
{
  /* new repository: cur counts as 1, so 3 is refused ... */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) r = fx_make_root (&f->keys, 3);
    g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 1, r, t);
    fx_uploads_add (up, "root", r);
    fx_uploads_add (up, "targets", t);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "Root modifications must increment the version. Current 1, new 3");
  }
  fx_publish_initial (&f->fx, &f->keys);
  /* ... and with v1 stored, 3 is refused, 2 accepted */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) r = fx_make_root (&f->keys, 3);
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, r, f->keys.targets_bytes);
    fx_uploads_add (up, "root", r);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "Root modifications must increment the version. Current 1, new 3");
  }
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) r = fx_make_root (&f->keys, 2);
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, r, f->keys.targets_bytes);
    fx_uploads_add (up, "root", r);
    fx_uploads_add (up, "snapshot", s);
    expect_update_ok (f, up);
    g_assert_cmpint (latest_version (f, "root"), ==, 2);
    assert_current_is (f, "root", r);
    /* v1 is now behind: "Current 2, new 1" */
    {
      g_autoptr (GHashTable) up2 = fx_uploads_new ();
      g_autoptr (GBytes) s3 = fx_make_snapshot (&f->keys, 3, f->keys.root_bytes, f->keys.targets_bytes);
      fx_uploads_add (up2, "root", f->keys.root_bytes);
      fx_uploads_add (up2, "snapshot", s3);
      expect_update_error (f, up2, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                           "Root modifications must increment the version. Current 2, new 1");
    }
  }
}

static void
test_first_publish_root_v2 (Fixture *f, gconstpointer data)
{
  /* cur defaults to 1, so a new repository may start at root v2 */
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) r = fx_make_root (&f->keys, 2);
  g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
  g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 1, r, t);
  fx_uploads_add (up, "root", r);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  expect_update_ok (f, up);
  g_assert_cmpint (latest_version (f, "root"), ==, 2);
}

/* Root v2 listing @new_root_keys with @root_threshold, signed by @signers,
 * plus a matching snapshot v2. */
static GHashTable *
rotation_upload (Fixture *f, FxKey *const *new_root_keys, gint64 root_threshold, FxKey *const *signers,
                 GBytes **out_root)
{
  GHashTable *up = fx_uploads_new ();
  FxKey *tk[] = { f->keys.targets, NULL }, *sk[] = { f->keys.snapshot, NULL }, *tsk[] = { f->keys.timestamp, NULL };
  g_autoptr (GBytes) r
      = fx_sign (fx_root_body (2, f->now + FX_YEAR, new_root_keys, root_threshold, tk, sk, tsk), signers);
  g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, r, f->keys.targets_bytes);
  fx_uploads_add (up, "root", r);
  fx_uploads_add (up, "snapshot", s);
  if (out_root)
    *out_root = g_bytes_ref (r);
  return up;
}

static void
test_root_rotation (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) k2 = fx_root_key_new (GUN, f->now);
  FxKey *new_only[] = { k2, NULL };
  FxKey *old_only[] = { f->keys.root, NULL };
  FxKey *both[] = { f->keys.root, k2, NULL };

  fx_publish_initial (&f->fx, &f->keys);
  {
    /* signed only by the new key: the old root did not approve */
    g_autoptr (GHashTable) up = rotation_upload (f, new_only, 1, new_only, NULL);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "could not rotate trust to a new trusted root: failed to validate data with current "
                         "trusted certificates");
  }
  {
    /* signed only by the old key: the new root does not sign itself */
    g_autoptr (GHashTable) up = rotation_upload (f, new_only, 1, old_only, NULL);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "could not validate the path to a trusted root: failed to validate integrity of roots");
  }
  {
    /* new root with threshold 2 over {old, new} signed by old only */
    g_autoptr (GHashTable) up = rotation_upload (f, both, 2, old_only, NULL);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "could not validate the path to a trusted root: failed to validate integrity of roots");
  }
  {
    g_autoptr (GBytes) r = NULL;
    g_autoptr (GHashTable) up = rotation_upload (f, new_only, 1, both, &r);
    expect_update_ok (f, up);
    assert_current_is (f, "root", r);
  }
}

/* The previous root's threshold is the one that counts for rotation. */
static void
test_root_rotation_old_threshold (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) k1b = fx_root_key_new (GUN, f->now);
  g_autoptr (FxKey) k2 = fx_root_key_new (GUN, f->now);
  FxKey *old_two[] = { f->keys.root, k1b, NULL };
  FxKey *tk[] = { f->keys.targets, NULL }, *sk[] = { f->keys.snapshot, NULL }, *tsk[] = { f->keys.timestamp, NULL };
  FxKey *new_only[] = { k2, NULL };
  FxKey *one_old_and_new[] = { f->keys.root, k2, NULL };
  FxKey *all[] = { f->keys.root, k1b, k2, NULL };

  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GError) error = NULL;
    f->keys.root_bytes = fx_sign (fx_root_body (1, f->now + FX_YEAR, old_two, 2, tk, sk, tsk), old_two);
    f->keys.targets_bytes = fx_make_targets (&f->keys, 1);
    f->keys.snapshot_bytes = fx_make_snapshot (&f->keys, 1, f->keys.root_bytes, f->keys.targets_bytes);
    fx_uploads_add (up, "root", f->keys.root_bytes);
    fx_uploads_add (up, "targets", f->keys.targets_bytes);
    fx_uploads_add (up, "snapshot", f->keys.snapshot_bytes);
    expect_update_ok (f, up);
  }
  {
    g_autoptr (GHashTable) up = rotation_upload (f, new_only, 1, one_old_and_new, NULL);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "could not rotate trust to a new trusted root: failed to validate data with current "
                         "trusted certificates");
  }
  {
    g_autoptr (GHashTable) up = rotation_upload (f, new_only, 1, all, NULL);
    expect_update_ok (f, up);
  }
}

static void
publish_with_root_key (Fixture *f, FxKey *root_key, gboolean expect_ok)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  FxKey *rk[] = { root_key, NULL }, *tk[] = { f->keys.targets, NULL }, *sk[] = { f->keys.snapshot, NULL },
        *tsk[] = { f->keys.timestamp, NULL };
  g_autoptr (GBytes) r = fx_sign (fx_root_body (1, f->now + FX_YEAR, rk, 1, tk, sk, tsk), rk);
  g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
  g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 1, r, t);
  fx_uploads_add (up, "root", r);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  if (expect_ok)
    expect_update_ok (f, up);
  else
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                         "could not validate the path to a trusted root: unable to retrieve valid leaf "
                         "certificates");
}

static void
test_root_cert_cn (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) other = fx_root_key_new ("example.com/other", f->now);
  g_autoptr (FxKey) prefix = fx_root_key_new ("example.com/ap", f->now);
  g_autoptr (FxKey) wildcard = fx_root_key_new ("example.com/*", f->now);
  publish_with_root_key (f, other, FALSE);
  publish_with_root_key (f, prefix, FALSE);
  publish_with_root_key (f, wildcard, TRUE);
}

static void
test_root_cert_expired (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) expired = fx_cert_key_new (GUN, f->now - 10 * FX_DAY, f->now - FX_DAY);
  g_autoptr (FxKey) future = fx_cert_key_new (GUN, f->now + 3 * FX_DAY, f->now + FX_YEAR);
  publish_with_root_key (f, expired, FALSE);
  publish_with_root_key (f, future, FALSE);
}

/* The verified current root is cached between updates (notary-repo.c
 * root_cache), but only until its certificate expires: an update against a
 * root whose certificate expired since the last update must fail exactly
 * as it does when nothing was cached. */
static void
test_root_cache_cert_expiry (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) short_lived = fx_cert_key_new (GUN, f->now - FX_DAY, f->now + 10 * FX_DAY);

  notary_repo_set_clock (f->repo, f->now);
  publish_with_root_key (f, short_lived, TRUE);
  g_autoptr (GBytes) root = NULL;
  {
    g_autoptr (GError) error = NULL;
    NotaryStoredFile *sf = notary_repo_get_current (f->repo, GUN, "root", &error);
    g_assert_no_error (error);
    root = g_bytes_ref (sf->data);
    notary_stored_file_free (sf);
  }
  /* v2 and v3 while the certificate is valid: the second hits the cache. */
  for (gint64 v = 2; v <= 3; v++)
    {
      g_autoptr (GHashTable) up = fx_uploads_new ();
      g_autoptr (GBytes) t = fx_make_targets (&f->keys, v);
      g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, v, root, t);
      fx_uploads_add (up, "targets", t);
      fx_uploads_add (up, "snapshot", s);
      expect_update_ok (f, up);
    }
  /* One second past NotAfter: refused, storage untouched. */
  notary_repo_set_clock (f->repo, f->now + 10 * FX_DAY + 1);
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) t = fx_make_targets (&f->keys, 4);
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 4, root, t);
    fx_uploads_add (up, "targets", t);
    fx_uploads_add (up, "snapshot", s);
    /* The stored root no longer loads: the same untyped error as without a cache. */
    expect_update_error (f, up, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID,
                         "could not validate the path to a trusted root: unable to retrieve valid leaf "
                         "certificates");
  }
  notary_repo_set_clock (f->repo, 0);
}

static void
test_root_expired (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  FxKey *rk[] = { f->keys.root, NULL }, *tk[] = { f->keys.targets, NULL }, *sk[] = { f->keys.snapshot, NULL },
        *tsk[] = { f->keys.timestamp, NULL };
  g_autoptr (GBytes) r = fx_sign (fx_root_body (1, f->now - 60, rk, 1, tk, sk, tsk), rk);
  g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
  g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 1, r, t);
  fx_uploads_add (up, "root", r);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT, NULL);
}

/* ---- targets, §3.2 --------------------------------------------------------------- */

static void
test_targets_bad_signature (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) wrong = fx_key_new ("ecdsa");
  FxKey *wk[] = { wrong, NULL };
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) t = fx_sign (fx_targets_body (2, f->now + FX_YEAR), wk);
  g_autoptr (GBytes) s = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS,
                       "valid signatures did not meet threshold for targets");
}

static void
test_targets_expired (Fixture *f, gconstpointer data)
{
  FxKey *tk[] = { f->keys.targets, NULL };
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) t = fx_sign (fx_targets_body (2, f->now - 10), tk);
  g_autoptr (GBytes) s = NULL;
  g_autoptr (GError) error = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS, NULL);
  g_assert_false (notary_repo_update (f->repo, GUN, up, &error));
  g_assert_true (g_str_has_prefix (error->message, "targets expired at "));
}

static void
test_targets_invalid_body (Fixture *f, gconstpointer data)
{
  FxKey *tk[] = { f->keys.targets, NULL };
  g_autoptr (GHashTable) up = fx_uploads_new ();
  JsonObject *body = fx_targets_body (2, f->now + FX_YEAR);
  g_autoptr (GBytes) t = NULL;
  g_autoptr (GBytes) s = NULL;

  /* a delegation that is not a direct child */
  fx_targets_add_delegation (body, "targets/a/b", tk, 1);
  t = fx_sign (body, tk);
  fx_publish_initial (&f->fx, &f->keys);
  s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS, NULL);
}

static void
test_delegation_not_in_parent (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) d = fx_key_new ("ecdsa");
  FxKey *dk[] = { d, NULL };
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) x = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dk);
  g_autoptr (GBytes) s = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, f->keys.targets_bytes);
  fx_uploads_add (up, "targets/x", x);
  fx_uploads_add (up, "snapshot", s);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS,
                       "tuf: invalid role targets/x. delegation does not exist");
}

static void
test_delegation_parent_missing (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) d = fx_key_new ("ecdsa");
  FxKey *dk[] = { d, NULL };

  /* new repository: root + a delegation but no targets */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) r = fx_make_root (&f->keys, 1);
    g_autoptr (GBytes) x = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dk);
    g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 1, r, t);
    fx_uploads_add (up, "root", r);
    fx_uploads_add (up, "targets/x", x);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS,
                         "targets must be loaded first");
  }
  /* existing repository: targets/a/b whose parent targets/a is not stored */
  fx_publish_initial (&f->fx, &f->keys);
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) ab = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dk);
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, f->keys.targets_bytes);
    fx_uploads_add (up, "targets/a/b", ab);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS,
                         "tuf: invalid role targets/a/b. delegation does not exist");
  }
}

/* targets v2 delegating targets/a (key @d) and targets/a v1. */
static void
publish_delegation (Fixture *f, FxKey *d, GBytes **out_targets, GBytes **out_a)
{
  FxKey *dk[] = { d, NULL }, *tk[] = { f->keys.targets, NULL };
  g_autoptr (GHashTable) up = fx_uploads_new ();
  JsonObject *tb = fx_targets_body (2, f->now + FX_YEAR);
  g_autoptr (GBytes) t = NULL;
  g_autoptr (GBytes) a = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dk);
  JsonObject *sb = fx_meta_body ("Snapshot", 2, f->now + FX_YEAR);
  FxKey *sk[] = { f->keys.snapshot, NULL };
  g_autoptr (GBytes) s = NULL;

  fx_targets_add_delegation (tb, "targets/a", dk, 1);
  t = fx_sign (tb, tk);
  fx_meta_add (sb, "root", f->keys.root_bytes);
  fx_meta_add (sb, "targets", t);
  fx_meta_add (sb, "targets/a", a);
  s = fx_sign (sb, sk);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "targets/a", a);
  fx_uploads_add (up, "snapshot", s);
  expect_update_ok (f, up);
  *out_targets = g_steal_pointer (&t);
  *out_a = g_steal_pointer (&a);
}

static void
test_delegation_ok (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) d = fx_key_new ("ed25519");
  g_autoptr (FxKey) wrong = fx_key_new ("ed25519");
  FxKey *dk[] = { d, NULL }, *wk[] = { wrong, NULL };
  g_autoptr (GBytes) t2 = NULL;
  g_autoptr (GBytes) a1 = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  publish_delegation (f, d, &t2, &a1);
  assert_current_is (f, "targets", t2);
  assert_current_is (f, "targets/a", a1);

  /* the delegation alone, its parent loaded from storage; the snapshot
   * must cover that stored parent too */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *ab = fx_targets_body (2, f->now + FX_YEAR);
    g_autoptr (GBytes) a2 = NULL;
    FxKey *sk[] = { f->keys.snapshot, NULL };
    JsonObject *sb = fx_meta_body ("Snapshot", 3, f->now + FX_YEAR);
    g_autoptr (GBytes) s = NULL;

    fx_targets_add_target (ab, "x", "y");
    a2 = fx_sign (ab, dk);
    fx_meta_add (sb, "root", f->keys.root_bytes);
    fx_meta_add (sb, "targets/a", a2);
    s = fx_sign (sb, sk);
    fx_uploads_add (up, "targets/a", a2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, NULL);

    g_hash_table_remove (up, "snapshot");
    sb = fx_meta_body ("Snapshot", 3, f->now + FX_YEAR);
    fx_meta_add (sb, "root", f->keys.root_bytes);
    fx_meta_add (sb, "targets", t2);
    fx_meta_add (sb, "targets/a", a2);
    g_clear_pointer (&s, g_bytes_unref);
    s = fx_sign (sb, sk);
    fx_uploads_add (up, "snapshot", s);
    expect_update_ok (f, up);
    assert_current_is (f, "targets/a", a2);
    assert_current_is (f, "targets", t2);
  }
  /* signed by a key the parent does not list */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) a3 = fx_sign (fx_targets_body (3, f->now + FX_YEAR), wk);
    FxKey *sk[] = { f->keys.snapshot, NULL };
    JsonObject *sb = fx_meta_body ("Snapshot", 4, f->now + FX_YEAR);
    g_autoptr (GBytes) s = NULL;
    fx_meta_add (sb, "root", f->keys.root_bytes);
    fx_meta_add (sb, "targets", t2);
    fx_meta_add (sb, "targets/a", a3);
    s = fx_sign (sb, sk);
    fx_uploads_add (up, "targets/a", a3);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_TARGETS,
                         "valid signatures did not meet threshold for targets/a");
  }
}

/* ---- snapshot, §3.3 ---------------------------------------------------------------- */

static void
test_snapshot_mismatch (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) t2 = NULL;
  g_autoptr (FxKey) wrong = fx_key_new ("ecdsa");
  FxKey *sk[] = { f->keys.snapshot, NULL }, *wk[] = { wrong, NULL };

  fx_publish_initial (&f->fx, &f->keys);
  t2 = fx_make_targets (&f->keys, 2);
  {
    /* names the old targets */
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, f->keys.targets_bytes);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, NULL);
  }
  {
    /* wrong root hash */
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, t2, t2);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, NULL);
  }
  {
    /* missing the root entry */
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *sb = fx_meta_body ("Snapshot", 2, f->now + FX_YEAR);
    g_autoptr (GBytes) s = NULL;
    fx_meta_add (sb, "targets", t2);
    s = fx_sign (sb, sk);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, NULL);
  }
  {
    /* signed by a key the root does not list */
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *sb = fx_meta_body ("Snapshot", 2, f->now + FX_YEAR);
    g_autoptr (GBytes) s = NULL;
    fx_meta_add (sb, "root", f->keys.root_bytes);
    fx_meta_add (sb, "targets", t2);
    s = fx_sign (sb, wk);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT,
                         "valid signatures did not meet threshold for snapshot");
  }
  {
    /* expired */
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *sb = fx_meta_body ("Snapshot", 2, f->now - 10);
    g_autoptr (GBytes) s = NULL;
    fx_meta_add (sb, "root", f->keys.root_bytes);
    fx_meta_add (sb, "targets", t2);
    s = fx_sign (sb, sk);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, NULL);
  }
  {
    /* an uploaded delegation the snapshot does not cover */
    g_autoptr (FxKey) d = fx_key_new ("ecdsa");
    FxKey *dk[] = { d, NULL }, *tk[] = { f->keys.targets, NULL };
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *tb = fx_targets_body (2, f->now + FX_YEAR);
    g_autoptr (GBytes) t = NULL;
    g_autoptr (GBytes) a = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dk);
    g_autoptr (GBytes) s = NULL;
    fx_targets_add_delegation (tb, "targets/a", dk, 1);
    t = fx_sign (tb, tk);
    s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t);
    fx_uploads_add (up, "targets", t);
    fx_uploads_add (up, "targets/a", a);
    fx_uploads_add (up, "snapshot", s);
    expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, NULL);
  }
  {
    /* and the good one */
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t2);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s);
    expect_update_ok (f, up);
    g_assert_cmpint (latest_version (f, "timestamp"), ==, 2);
    assert_current_is (f, "snapshot", s);
  }
}

static void
test_no_snapshot_server_lacks_key (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) t2 = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  t2 = fx_make_targets (&f->keys, 2);
  fx_uploads_add (up, "targets", t2);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_HIERARCHY,
                       "no snapshot was included in update and server does not hold current snapshot key for "
                       "repository");
}

static void
test_no_snapshot_new_repo_no_targets (Fixture *f, gconstpointer data)
{
  /* server-managed snapshot, first publish without targets */
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) r = NULL;

  fx_key_free (f->keys.snapshot);
  f->keys.snapshot = fx_server_key (&f->fx, GUN, "snapshot");
  r = fx_make_root (&f->keys, 1);
  fx_uploads_add (up, "root", r);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_VALIDATION,
                       "targets must be loaded first");
}

/* §3.4: the root names a timestamp key the server does not hold. */
static void
test_timestamp_key_not_held (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) r = NULL;
  g_autoptr (GBytes) t = NULL;
  g_autoptr (GBytes) s = NULL;

  fx_key_free (f->keys.timestamp);
  f->keys.timestamp = fx_key_new ("ed25519");
  r = fx_make_root (&f->keys, 1);
  t = fx_make_targets (&f->keys, 1);
  s = fx_make_snapshot (&f->keys, 1, r, t);
  fx_uploads_add (up, "root", r);
  fx_uploads_add (up, "targets", t);
  fx_uploads_add (up, "snapshot", s);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                       "no timestamp keys exist on the server");
}

/* ---- server-managed snapshot ------------------------------------------------------ */

static GBytes *
snapshot_entry (GBytes *snapshot, const char *role)
{
  g_autoptr (NotarySigned) s = fx_parse (snapshot);
  JsonObject *meta = json_object_get_object_member (s->signed_obj, "meta");
  g_autoptr (GError) error = NULL;
  GBytes *b;
  if (!json_object_has_member (meta, role))
    return NULL;
  b = notary_json_canonicalize (json_object_get_member (meta, role), &error);
  g_assert_no_error (error);
  return b;
}

static void
test_server_snapshot (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) da = fx_key_new ("ecdsa");
  g_autoptr (FxKey) db = fx_key_new ("ecdsa");
  FxKey *dak[] = { da, NULL }, *dbk[] = { db, NULL }, *tk[] = { f->keys.targets, NULL };
  g_autoptr (GBytes) sn1 = NULL;
  g_autoptr (GBytes) t2 = NULL;
  g_autoptr (GBytes) a1 = NULL;
  g_autoptr (GBytes) b1 = NULL;
  g_autoptr (GBytes) sn2 = NULL;

  fx_key_free (f->keys.snapshot);
  f->keys.snapshot = fx_server_key (&f->fx, GUN, "snapshot");
  f->keys.root_bytes = fx_make_root (&f->keys, 1);
  f->keys.targets_bytes = fx_make_targets (&f->keys, 1);
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    fx_uploads_add (up, "root", f->keys.root_bytes);
    fx_uploads_add (up, "targets", f->keys.targets_bytes);
    expect_update_ok (f, up);
  }
  sn1 = latest_bytes (f, "snapshot");
  {
    g_autoptr (NotarySigned) s = fx_parse (sn1);
    g_assert_cmpstr (s->type, ==, "Snapshot");
    g_assert_cmpint (s->version, ==, 1);
    g_assert_cmpint (s->expires, >=, f->now + 3 * FX_YEAR);
    g_assert_cmpint (s->expires, <=, f->now + 3 * FX_YEAR + 60);
  }
  g_assert_true (verify_with (sn1, f->keys.snapshot->pub));
  g_assert_true (meta_matches (sn1, "root", f->keys.root_bytes));
  g_assert_true (meta_matches (sn1, "targets", f->keys.targets_bytes));
  {
    g_autoptr (GBytes) ts = latest_bytes (f, "timestamp");
    g_assert_true (meta_matches (ts, "snapshot", sn1));
  }
  assert_current_is (f, "snapshot", sn1);

  /* targets v2 with two delegations, both uploaded: snapshot v2 */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *tb = fx_targets_body (2, f->now + FX_YEAR);
    fx_targets_add_delegation (tb, "targets/a", dak, 1);
    fx_targets_add_delegation (tb, "targets/b", dbk, 1);
    t2 = fx_sign (tb, tk);
    a1 = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dak);
    b1 = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dbk);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "targets/a", a1);
    fx_uploads_add (up, "targets/b", b1);
    expect_update_ok (f, up);
  }
  sn2 = latest_bytes (f, "snapshot");
  g_assert_cmpint (latest_version (f, "snapshot"), ==, 2);
  g_assert_true (meta_matches (sn2, "targets", t2));
  g_assert_true (meta_matches (sn2, "targets/a", a1));
  g_assert_true (meta_matches (sn2, "targets/b", b1));
  g_assert_true (meta_matches (sn2, "root", f->keys.root_bytes));

  /* only targets/b v2: targets/a's entry is carried over untouched */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    JsonObject *bb = fx_targets_body (2, f->now + FX_YEAR);
    g_autoptr (GBytes) b2 = NULL;
    g_autoptr (GBytes) sn3 = NULL;
    g_autoptr (GBytes) e2 = snapshot_entry (sn2, "targets/a");
    g_autoptr (GBytes) e3 = NULL;
    fx_targets_add_target (bb, "z", "z");
    b2 = fx_sign (bb, dbk);
    fx_uploads_add (up, "targets/b", b2);
    expect_update_ok (f, up);
    sn3 = latest_bytes (f, "snapshot");
    g_assert_cmpint (latest_version (f, "snapshot"), ==, 3);
    e3 = snapshot_entry (sn3, "targets/a");
    g_assert_true (g_bytes_equal (e2, e3));
    g_assert_true (meta_matches (sn3, "targets/b", b2));
    g_assert_true (meta_matches (sn3, "targets", t2));
    assert_current_is (f, "targets/b", b2);
    assert_current_is (f, "targets/a", a1);
  }
}

/* A client-held snapshot key rotated to the server: root v2 lists the
 * rotated key, no snapshot uploaded from then on. */
static void
test_snapshot_key_rotation_to_server (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) k = NULL;
  g_autoptr (GBytes) r2 = NULL;
  g_autoptr (GBytes) sn2 = NULL;
  g_autoptr (GBytes) e1 = NULL;
  g_autoptr (GBytes) e2 = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  k = notary_repo_rotate_key (f->repo, GUN, "snapshot", &error);
  g_assert_no_error (error);
  fx_key_free (f->keys.snapshot);
  f->keys.snapshot = fx_key_from_public (k);
  r2 = fx_make_root (&f->keys, 2);
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    fx_uploads_add (up, "root", r2);
    expect_update_ok (f, up);
  }
  sn2 = latest_bytes (f, "snapshot");
  g_assert_cmpint (latest_version (f, "snapshot"), ==, 2);
  g_assert_true (verify_with (sn2, k));
  g_assert_true (meta_matches (sn2, "root", r2));
  e1 = snapshot_entry (f->keys.snapshot_bytes, "targets");
  e2 = snapshot_entry (sn2, "targets");
  g_assert_true (g_bytes_equal (e1, e2));
  assert_current_is (f, "root", r2);
  /* get-or-create now returns the rotated key */
  {
    g_autoptr (NotaryKey) again = notary_repo_get_or_create_key (f->repo, GUN, "snapshot", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (notary_key_get_id (again), ==, notary_key_get_id (k));
  }
}

/* ---- storage conflicts and limits --------------------------------------------------- */

static void
test_old_version (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();

  fx_publish_initial (&f->fx, &f->keys);
  fx_uploads_add (up, "root", f->keys.root_bytes);
  fx_uploads_add (up, "targets", f->keys.targets_bytes);
  fx_uploads_add (up, "snapshot", f->keys.snapshot_bytes);
  expect_update_error (f, up, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION, NULL);
}

/* TUF-01-002: a timestamp at the maximum version must not wrap around. */
static void
test_version_overflow (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GBytes) t2 = NULL;
  g_autoptr (GBytes) s2 = NULL;
  g_autoptr (GError) error = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  f->wrap.fake_latest_role = "timestamp";
  f->wrap.fake_latest_version = G_MAXINT64;
  t2 = fx_make_targets (&f->keys, 2);
  s2 = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t2);
  fx_uploads_add (up, "targets", t2);
  fx_uploads_add (up, "snapshot", s2);
  expect_update_error (f, up, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_VALIDATION, NULL);
  g_assert_false (notary_repo_update (f->repo, GUN, up, &error));
  g_assert_nonnull (strstr (error->message, "overflow"));

  /* the same guard on the regeneration path */
  g_clear_error (&error);
  notary_repo_set_clock (f->repo, f->now + 15 * FX_DAY);
  g_assert_null (notary_repo_get_current (f->repo, GUN, "timestamp", &error));
  g_assert_nonnull (error);
  g_assert_cmpint (latest_version (f, "timestamp"), ==, 1);

  /* server-generated snapshot too */
  f->wrap.fake_latest_role = "snapshot";
  notary_repo_set_clock (f->repo, 0);
  g_clear_error (&error);
  {
    g_autoptr (GHashTable) up2 = fx_uploads_new ();
    g_autoptr (NotaryKey) k = notary_repo_rotate_key (f->repo, GUN, "snapshot", &error);
    g_autoptr (GBytes) r2 = NULL;
    g_assert_no_error (error);
    fx_key_free (f->keys.snapshot);
    f->keys.snapshot = fx_key_from_public (k);
    r2 = fx_make_root (&f->keys, 2);
    fx_uploads_add (up2, "root", r2);
    expect_update_error (f, up2, NOTARY_VALIDATION_ERROR, NOTARY_VALIDATION_ERROR_VALIDATION, NULL);
  }
}

/* ---- server-held keys, §5 ------------------------------------------------------------ */

static void
test_get_or_create_key (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) a = notary_repo_get_or_create_key (f->repo, "example.com/other", "timestamp", &error);
  g_autoptr (NotaryKey) b = notary_repo_get_or_create_key (f->repo, "example.com/other", "timestamp", &error);
  g_autoptr (NotaryKey) listed = NULL;
  g_autoptr (NotaryKey) rotated = NULL;
  g_autoptr (NotaryKey) after_rotate = NULL;

  g_assert_no_error (error);
  /* before any root: a new key on each call */
  g_assert_cmpstr (notary_key_get_id (a), !=, notary_key_get_id (b));
  g_assert_cmpstr (notary_key_get_keytype (a), ==, "ed25519");

  /* after a root lists the server's key: that key, every time */
  fx_publish_initial (&f->fx, &f->keys);
  listed = notary_repo_get_or_create_key (f->repo, GUN, "timestamp", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (listed), ==, fx_id (f->keys.timestamp));
  rotated = notary_repo_rotate_key (f->repo, GUN, "timestamp", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (rotated), !=, fx_id (f->keys.timestamp));
  after_rotate = notary_repo_get_or_create_key (f->repo, GUN, "timestamp", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (notary_key_get_id (after_rotate), ==, fx_id (f->keys.timestamp));

  /* the root lists a snapshot key the service does not hold: new key */
  {
    g_autoptr (NotaryKey) s1 = notary_repo_get_or_create_key (f->repo, GUN, "snapshot", &error);
    g_autoptr (NotaryKey) s2 = notary_repo_get_or_create_key (f->repo, GUN, "snapshot", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (notary_key_get_id (s1), !=, fx_id (f->keys.snapshot));
    g_assert_cmpstr (notary_key_get_id (s1), !=, notary_key_get_id (s2));
  }
}

/* ---- regeneration on read, §6 ---------------------------------------------------------- */

static void
test_timestamp_regeneration (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) ts1 = NULL;
  NotaryStoredFile *file;
  g_autoptr (GBytes) ts2 = NULL;
  gint64 later = f->now + 15 * FX_DAY;
  guint writes;

  fx_publish_initial (&f->fx, &f->keys);
  ts1 = latest_bytes (f, "timestamp");

  /* not expired: returned as stored, nothing written */
  writes = f->wrap.update_calls;
  notary_repo_set_clock (f->repo, f->now + 13 * FX_DAY);
  file = get_current (f, "timestamp");
  g_assert_true (g_bytes_equal (file->data, ts1));
  notary_stored_file_free (file);
  g_assert_cmpuint (f->wrap.update_calls, ==, writes);

  notary_repo_set_clock (f->repo, later);
  file = get_current (f, "timestamp");
  ts2 = g_bytes_ref (file->data);
  g_assert_cmpint (file->version, ==, 2);
  g_assert_cmpint (file->modified_unix, ==, later);
  notary_stored_file_free (file);
  g_assert_cmpuint (f->wrap.update_calls, ==, writes + 1);
  {
    g_autoptr (NotarySigned) s = fx_parse (ts2);
    g_assert_cmpint (s->version, ==, 2);
    g_assert_cmpint (s->expires, ==, later + 14 * FX_DAY);
  }
  g_assert_true (verify_with (ts2, f->keys.timestamp->pub));
  g_assert_true (meta_matches (ts2, "snapshot", f->keys.snapshot_bytes));
  g_assert_cmpint (latest_version (f, "timestamp"), ==, 2);
  g_assert_cmpint (latest_version (f, "snapshot"), ==, 1);
  {
    g_autoptr (GPtrArray) c = all_changes (f);
    g_assert_cmpuint (c->len, ==, 2);
  }

  /* stored once: the next read returns it without writing */
  file = get_current (f, "timestamp");
  g_assert_true (g_bytes_equal (file->data, ts2));
  notary_stored_file_free (file);
  g_assert_cmpuint (f->wrap.update_calls, ==, writes + 1);
  /* snapshot.json goes through the same logic and names the same snapshot */
  assert_current_is (f, "snapshot", f->keys.snapshot_bytes);
  g_assert_cmpuint (f->wrap.update_calls, ==, writes + 1);
  /* root/targets read as before */
  assert_current_is (f, "root", f->keys.root_bytes);
}

static void
test_snapshot_regeneration (Fixture *f, gconstpointer data)
{
  gint64 later = f->now + 3 * FX_YEAR + 10 * FX_DAY;
  g_autoptr (GBytes) sn1 = NULL;
  g_autoptr (GBytes) sn2 = NULL;
  g_autoptr (GBytes) ts2 = NULL;
  NotaryStoredFile *file;

  fx_key_free (f->keys.snapshot);
  f->keys.snapshot = fx_server_key (&f->fx, GUN, "snapshot");
  f->keys.root_bytes = fx_make_root (&f->keys, 1);
  f->keys.targets_bytes = fx_make_targets (&f->keys, 1);
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    fx_uploads_add (up, "root", f->keys.root_bytes);
    fx_uploads_add (up, "targets", f->keys.targets_bytes);
    expect_update_ok (f, up);
  }
  sn1 = latest_bytes (f, "snapshot");

  notary_repo_set_clock (f->repo, later);
  file = get_current (f, "snapshot");
  sn2 = g_bytes_ref (file->data);
  notary_stored_file_free (file);
  g_assert_false (g_bytes_equal (sn1, sn2));
  {
    g_autoptr (NotarySigned) s = fx_parse (sn2);
    g_assert_cmpint (s->version, ==, 2);
    g_assert_cmpint (s->expires, ==, later + 3 * FX_YEAR);
  }
  g_assert_true (verify_with (sn2, f->keys.snapshot->pub));
  g_assert_true (meta_matches (sn2, "root", f->keys.root_bytes));
  g_assert_true (meta_matches (sn2, "targets", f->keys.targets_bytes));
  g_assert_cmpint (latest_version (f, "snapshot"), ==, 2);
  g_assert_cmpint (latest_version (f, "timestamp"), ==, 2);
  ts2 = latest_bytes (f, "timestamp");
  g_assert_true (meta_matches (ts2, "snapshot", sn2));
  assert_current_is (f, "timestamp", ts2);
  assert_current_is (f, "targets", f->keys.targets_bytes);
}

/* Client-held snapshot key, snapshot expired: the server cannot refresh
 * it, the read fails (500) and nothing is written. */
static void
test_snapshot_expired_client_key (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  before = storage_state (f);
  notary_repo_set_clock (f->repo, f->now + 3 * FX_YEAR + 10 * FX_DAY);
  g_assert_null (notary_repo_get_current (f->repo, GUN, "timestamp", &error));
  g_assert_nonnull (error);
  g_assert_false (g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND));
  after = storage_state (f);
  g_assert_cmpstr (before, ==, after);
}

/* ---- consistent view ------------------------------------------------------------------- */

static void
test_consistent_view (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) r2 = NULL;
  g_autoptr (GBytes) stray = NULL;
  g_autoptr (GError) error = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  /* a root v2 written behind the engine's back, no snapshot names it */
  r2 = fx_make_root (&f->keys, 2);
  {
    g_autofree char *sha = notary_sha256_hex (r2);
    NotaryStorageUpdate u = { "root", 2, r2, sha };
    g_assert_true (f->fx.svt->update_many (f->fx.storage, GUN, &u, 1, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (latest_version (f, "root"), ==, 2);
  /* the current root is still the one the snapshot names */
  assert_current_is (f, "root", f->keys.root_bytes);
  {
    NotaryStoredFile *file = notary_repo_get_version (f->repo, GUN, "root", 2, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (file->data, r2));
    notary_stored_file_free (file);
  }
  /* and validation uses that one too: a targets update signed against it
   * and a snapshot over root v1 succeed */
  {
    g_autoptr (GHashTable) up = fx_uploads_new ();
    g_autoptr (GBytes) t2 = fx_make_targets (&f->keys, 2);
    g_autoptr (GBytes) s2 = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t2);
    fx_uploads_add (up, "targets", t2);
    fx_uploads_add (up, "snapshot", s2);
    expect_update_ok (f, up);
  }
  (void) stray;
}

/* Current root/targets are resolved once per timestamp and remembered:
 * a new timestamp (an update) must move them on, whether the store hands
 * back the same bytes (memory) or equal copies (MySQL), and a delete must
 * end them. */
static void
test_current_follows_timestamp (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) t2 = NULL;
  g_autoptr (GBytes) s2 = NULL;
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GError) error = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  t2 = fx_make_targets (&f->keys, 2);
  s2 = fx_make_snapshot (&f->keys, 2, f->keys.root_bytes, t2);
  for (guint copies = 0; copies < 2; copies++)
    {
      f->wrap.copy_reads = copies;
      assert_current_is (f, "targets", f->keys.targets_bytes);
      assert_current_is (f, "targets", f->keys.targets_bytes);
      assert_current_is (f, "root", f->keys.root_bytes);
    }
  fx_uploads_add (up, "targets", t2);
  fx_uploads_add (up, "snapshot", s2);
  expect_update_ok (f, up);
  assert_current_is (f, "targets", t2);
  assert_current_is (f, "snapshot", s2);
  assert_current_is (f, "root", f->keys.root_bytes);
  f->wrap.copy_reads = FALSE;
  assert_current_is (f, "targets", t2);
  g_assert_null (notary_repo_get_current (f->repo, GUN, "targets/a", &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (notary_repo_delete (f->repo, GUN, &error));
  g_assert_no_error (error);
  g_assert_null (notary_repo_get_current (f->repo, GUN, "targets", &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
}

/* A store that builds new bytes per read (MySQL) must not have them
 * pinned in memory by the caches: at most one per distinct file may stay
 * alive after the reads are done, however many reads there were. */
static void
test_reads_not_pinned (Fixture *f, gconstpointer data)
{
  fx_publish_initial (&f->fx, &f->keys);
  f->wrap.copy_reads = TRUE;
  for (guint i = 0; i < 200; i++)
    for (guint r = 0; r < 4; r++)
      {
        static const char *const roles[] = { "timestamp", "snapshot", "targets", "root" };
        notary_stored_file_free (get_current (f, roles[r]));
      }
  /* timestamp and snapshot facts each keep one; the file cache may keep
   * the checksum-addressed reads (snapshot, targets, root) */
  g_test_message ("%d copies alive", g_atomic_int_get (&f->wrap.live_copies));
  g_assert_cmpint (g_atomic_int_get (&f->wrap.live_copies), <=, 5);
  g_assert_cmpint (g_atomic_int_get (&f->wrap.live_copies), >=, 0);
}

/* The caches keep each GUN's current versions, not its history: however
 * many updates a repository takes, reads of its current metadata between
 * them leave only a bounded number of copies alive (two versions of each
 * cached name, the current timestamp).  Before, every update's timestamp,
 * snapshot and their facts stayed until a cache's bound. */
static void
test_history_not_kept (Fixture *f, gconstpointer data)
{
  static const char *const roles[] = { "timestamp", "snapshot", "targets", "root" };

  fx_publish_initial (&f->fx, &f->keys);
  f->wrap.copy_reads = TRUE;
  for (gint64 v = 2; v <= 41; v++)
    {
      g_autoptr (GBytes) t = fx_make_targets (&f->keys, v);
      g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, v, f->keys.root_bytes, t);
      g_autoptr (GHashTable) up = fx_uploads_new ();

      fx_uploads_add (up, "targets", t);
      fx_uploads_add (up, "snapshot", s);
      expect_update_ok (f, up);
      for (guint r = 0; r < G_N_ELEMENTS (roles); r++)
        notary_stored_file_free (get_current (f, roles[r]));
      assert_current_is (f, "targets", t);
    }
  g_test_message ("%d copies alive after 40 updates", g_atomic_int_get (&f->wrap.live_copies));
  g_assert_cmpint (g_atomic_int_get (&f->wrap.live_copies), <=, 12);
}

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) c = NULL;

  fx_publish_initial (&f->fx, &f->keys);
  g_assert_true (notary_repo_delete (f->repo, GUN, &error));
  g_assert_no_error (error);
  g_assert_null (notary_repo_get_current (f->repo, GUN, "root", &error));
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  c = notary_repo_get_changes (f->repo, GUN, 0, 100, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c->len, ==, 2);
  g_assert_cmpstr (((NotaryChange *) c->pdata[1])->category, ==, "deletion");
  /* a fresh first publish works again */
  g_clear_pointer (&f->keys.root_bytes, g_bytes_unref);
  g_clear_pointer (&f->keys.targets_bytes, g_bytes_unref);
  g_clear_pointer (&f->keys.snapshot_bytes, g_bytes_unref);
  fx_publish_initial (&f->fx, &f->keys);
}

static void
test_health (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_assert_true (notary_repo_check_health (f->repo, failures));
  g_assert_cmpuint (g_hash_table_size (failures), ==, 0);
}

/* ---- reading ahead, answering without waiting ------------------------------ */

typedef struct
{
  GMutex lock;
  GCond cond;
  NotaryRepoRead *read;
  GThread *thread;
} ReadWait;

static void
on_read (NotaryRepoRead *read, gpointer data)
{
  ReadWait *w = data;
  g_mutex_lock (&w->lock);
  w->read = read;
  w->thread = g_thread_self ();
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

static NotaryRepoRead *
read_ahead (Fixture *f, const char *gun)
{
  ReadWait w = { 0 };
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  g_assert_true (notary_repo_read_ahead (f->repo, gun, on_read, &w));
  g_mutex_lock (&w.lock);
  while (w.read == NULL)
    g_assert_true (g_cond_wait_until (&w.cond, &w.lock, deadline));
  g_mutex_unlock (&w.lock);
  g_assert_true (w.thread != g_thread_self ());
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  return w.read;
}

/* A GET with its timestamp read ahead: answered without any backend call
 * when all else is cached, WOULD_BLOCK when not (nothing read, nothing
 * written), and the same answer as a direct GET once allowed to wait. */
static void
test_read_ahead (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryRepoRead) missing = NULL;
  g_autoptr (NotaryRepoRead) read = NULL;
  g_autoptr (GBytes) ts1 = NULL;
  NotaryStoredFile *file;
  gint reads;
  guint writes;

  /* storage that does not block is not read ahead */
  g_assert_false (notary_repo_read_ahead (f->repo, GUN, on_read, NULL));
  g_assert_true (notary_repo_set_coalesce_reads (f->repo, 2, &error));
  g_assert_no_error (error);

  /* nothing stored: the read says so, and that answers */
  missing = read_ahead (f, GUN);
  reads = g_atomic_int_get (&f->wrap.read_calls);
  file = notary_repo_get_current_after (f->repo, GUN, "root", missing, TRUE, &error);
  g_assert_null (file);
  g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (g_atomic_int_get (&f->wrap.read_calls), ==, reads);

  fx_publish_initial (&f->fx, &f->keys);
  ts1 = latest_bytes (f, "timestamp");
  read = read_ahead (f, GUN);
  writes = f->wrap.update_calls;

  /* the snapshot it names is not cached yet: no wait, no read */
  reads = g_atomic_int_get (&f->wrap.read_calls);
  file = notary_repo_get_current_after (f->repo, GUN, "timestamp", read, TRUE, &error);
  g_assert_null (file);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_cmpint (g_atomic_int_get (&f->wrap.read_calls), ==, reads);
  /* allowed to wait, the same read serves: one query, for the snapshot */
  file = notary_repo_get_current_after (f->repo, GUN, "timestamp", read, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (file->data, ts1));
  notary_stored_file_free (file);
  g_assert_cmpint (g_atomic_int_get (&f->wrap.read_calls), ==, reads + 1);

  /* every role, once its file is cached, answers without a query */
  {
    static const char *const roles[] = { "root", "targets", "snapshot", "timestamp" };
    for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
      {
        NotaryStoredFile *direct = get_current (f, roles[i]);
        reads = g_atomic_int_get (&f->wrap.read_calls);
        file = notary_repo_get_current_after (f->repo, GUN, roles[i], read, TRUE, &error);
        g_assert_no_error (error);
        g_assert_true (g_bytes_equal (file->data, direct->data));
        g_assert_cmpint (g_atomic_int_get (&f->wrap.read_calls), ==, reads);
        notary_stored_file_free (file);
        notary_stored_file_free (direct);
      }
  }

  /* a read of another GUN is no answer for this one */
  file = notary_repo_get_current_after (f->repo, "example.com/other", "timestamp", read, TRUE, &error);
  g_assert_null (file);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  /* an expired timestamp needs signing and a write: not without waiting */
  notary_repo_set_clock (f->repo, f->now + 15 * FX_DAY);
  file = notary_repo_get_current_after (f->repo, GUN, "timestamp", read, TRUE, &error);
  g_assert_null (file);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_cmpuint (f->wrap.update_calls, ==, writes);
  file = notary_repo_get_current_after (f->repo, GUN, "timestamp", read, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (file->version, ==, 2);
  notary_stored_file_free (file);
  g_assert_cmpuint (f->wrap.update_calls, ==, writes + 1);
  notary_repo_set_clock (f->repo, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define T(name, fn) g_test_add ("/repo/" name, Fixture, NULL, setup, fn, teardown)
  T ("first-publish", test_first_publish);
  T ("not-found", test_not_found);
  T ("root/none", test_no_root);
  T ("root/version", test_root_version_rules);
  T ("root/first-at-v2", test_first_publish_root_v2);
  T ("root/rotation", test_root_rotation);
  T ("root/rotation-old-threshold", test_root_rotation_old_threshold);
  T ("root/cert-cn", test_root_cert_cn);
  T ("root/cert-expired", test_root_cert_expired);
  T ("root/cache-cert-expiry", test_root_cache_cert_expiry);
  T ("root/expired", test_root_expired);
  T ("targets/bad-signature", test_targets_bad_signature);
  T ("targets/expired", test_targets_expired);
  T ("targets/invalid-body", test_targets_invalid_body);
  T ("targets/delegation-not-in-parent", test_delegation_not_in_parent);
  T ("targets/parent-missing", test_delegation_parent_missing);
  T ("targets/delegation-ok", test_delegation_ok);
  T ("snapshot/mismatch", test_snapshot_mismatch);
  T ("snapshot/server-lacks-key", test_no_snapshot_server_lacks_key);
  T ("snapshot/new-repo-no-targets", test_no_snapshot_new_repo_no_targets);
  T ("snapshot/server-managed", test_server_snapshot);
  T ("timestamp/key-not-held", test_timestamp_key_not_held);
  T ("snapshot/rotate-to-server", test_snapshot_key_rotation_to_server);
  T ("storage/old-version", test_old_version);
  T ("storage/version-overflow", test_version_overflow);
  T ("keys/get-or-create", test_get_or_create_key);
  T ("read/timestamp-regeneration", test_timestamp_regeneration);
  T ("read/snapshot-regeneration", test_snapshot_regeneration);
  T ("read/snapshot-expired-client-key", test_snapshot_expired_client_key);
  T ("read/consistent-view", test_consistent_view);
  T ("read/ahead", test_read_ahead);
  T ("read/not-pinned", test_reads_not_pinned);
  T ("read/history-not-kept", test_history_not_kept);
  T ("read/current-follows-timestamp", test_current_follows_timestamp);
  T ("delete", test_delete);
  T ("health", test_health);
#undef T
  return g_test_run ();
}
