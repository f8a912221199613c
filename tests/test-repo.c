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
  const char *fake_latest_role; /* report this role's latest version as ... */
  gint64 fake_latest_version;   /* ... this */
} WrapStorage;

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
  if (f != NULL && w->fake_latest_role != NULL && g_str_equal (role, w->fake_latest_role))
    f->version = w->fake_latest_version;
  return f;
}

static NotaryStoredFile *
wrap_get_checksum (NotaryStorage *self, const char *gun, const char *role, const char *sha, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  return w->inner_vt->get_checksum (w->inner, gun, role, sha, error);
}

static NotaryStoredFile *
wrap_get_version (NotaryStorage *self, const char *gun, const char *role, gint64 v, GError **error)
{
  WrapStorage *w = (WrapStorage *) self;
  return w->inner_vt->get_version (w->inner, gun, role, v, error);
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
    g_autofree char *upper = g_ascii_strup (sha, -1);
    NotaryStoredFile *file = notary_repo_get_checksum (f->repo, GUN, "targets", upper, &error);
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
