/* storage-memory.c — the in-memory storage backend ("memory").
 *
 * Development and test backend (server-storage.md §6): nothing persists
 * across restarts.  It follows the SQL backend's semantics rather than the
 * reference memory store's quirks: checksum lookups are filtered by role,
 * and deleting a GUN removes exactly that GUN, not every GUN it prefixes.
 *
 * Layout, chosen so that the GET hot path never scans:
 *   guns:    gun  -> MemGun
 *   MemGun:  role -> MemRole
 *   MemRole: files sorted by version (binary search) + sha256 -> file
 *   changes: the changefeed, change id N at index N-1, plus per-GUN lists
 *            of indexes so per-GUN paging is a binary search too.
 * One mutex guards everything; every critical section is short and only
 * touches memory.
 */
#include <notary/storage-backend.h>
#include <string.h>

/* ---- data structures ---------------------------------------------------- */

/* Kept small on purpose: a server holds one of these per stored file and a
 * few per repository, and per-role hash tables once made up a sixth of a
 * benchmark server's heap.  Roles are few per GUN and checksum lookups
 * almost always ask for a recent version, so both are found by scanning
 * (roles in order, files newest first). */
typedef struct
{
  gint64 version;
  gint64 created_unix;
  GBytes *data;
  char sha256[65]; /* lower-case hex */
} MemFile;

static void
mem_file_free (MemFile *f)
{
  g_bytes_unref (f->data);
  g_free (f);
}

typedef struct
{
  char *name;
  GPtrArray *files; /* MemFile*, ascending version, owns */
} MemRole;

static MemRole *
mem_role_new (const char *name)
{
  MemRole *r = g_new0 (MemRole, 1);
  r->name = g_strdup (name);
  r->files = g_ptr_array_new_with_free_func ((GDestroyNotify)mem_file_free);
  return r;
}

static void
mem_role_free (MemRole *r)
{
  g_ptr_array_unref (r->files);
  g_free (r->name);
  g_free (r);
}

/* \return (transfer none) the role of @roles (MemRole*) named @name, or NULL. */
static MemRole *
find_role (GPtrArray *roles, const char *name)
{
  for (guint i = 0; roles != NULL && i < roles->len; i++)
    {
      MemRole *r = roles->pdata[i];
      if (g_str_equal (r->name, name))
        return r;
    }
  return NULL;
}

static gint64
mem_role_max_version (const MemRole *r)
{
  if (r == NULL || r->files->len == 0)
    return 0;
  return ((MemFile *)g_ptr_array_index (r->files, r->files->len - 1))->version;
}

struct _NotaryStorage
{
  const NotaryHost *host;
  GMutex lock;
  GHashTable *guns;        /* char* gun -> GPtrArray* of MemRole* */
  GPtrArray *changes;      /* NotaryChange*; id N at index N-1 */
  GHashTable *gun_changes; /* char* gun -> GArray of guint indexes into changes */
};

/* ---- helpers ------------------------------------------------------------ */

static gint64
now_unix (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static NotaryStoredFile *
stored_file_from (const MemFile *f)
{
  NotaryStoredFile *out = g_new0 (NotaryStoredFile, 1);
  out->data = g_bytes_ref (f->data);
  out->version = f->version;
  out->modified_unix = f->created_unix;
  return out;
}

static NotaryChange *
change_copy (const NotaryChange *c)
{
  NotaryChange *out = g_new0 (NotaryChange, 1);
  out->id = c->id;
  out->created_unix = c->created_unix;
  out->gun = g_strdup (c->gun);
  out->version = c->version;
  out->sha256 = g_strdup (c->sha256);
  out->category = g_strdup (c->category);
  return out;
}

static gpointer
set_not_found (GError **error)
{
  g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND, "No record found");
  return NULL;
}

static gboolean
set_old_version (GError **error)
{
  g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION,
                       "Error updating metadata. A newer version is already available");
  return FALSE;
}

/* Called with the lock held.  \return (transfer none) or NULL. */
static MemRole *
lookup_role (NotaryStorage *self, const char *gun, const char *role)
{
  return find_role (g_hash_table_lookup (self->guns, gun), role);
}

/* Called with the lock held. */
static void
append_change (NotaryStorage *self, const char *gun, gint64 version, const char *sha256, const char *category,
               gint64 when)
{
  NotaryChange *c = g_new0 (NotaryChange, 1);
  GArray *idx;
  guint pos = self->changes->len;

  c->id = (gint64)pos + 1;
  c->created_unix = when;
  c->gun = g_strdup (gun);
  c->version = version;
  c->sha256 = g_strdup (sha256);
  c->category = g_strdup (category);
  g_ptr_array_add (self->changes, c);

  idx = g_hash_table_lookup (self->gun_changes, gun);
  if (idx == NULL)
    {
      idx = g_array_new (FALSE, FALSE, sizeof (guint));
      g_hash_table_insert (self->gun_changes, g_strdup (gun), idx);
    }
  g_array_append_val (idx, pos);
}

static int
cmp_file_version (gconstpointer a, gconstpointer b)
{
  const MemFile *fa = *(MemFile *const *)a;
  const MemFile *fb = *(MemFile *const *)b;
  return (fa->version > fb->version) - (fa->version < fb->version);
}

/* ---- vfuncs ------------------------------------------------------------- */

static NotaryStorage *
memory_open (const NotaryHost *host, JsonObject *options, GError **error)
{
  NotaryStorage *self = g_new0 (NotaryStorage, 1);
  self->host = host;
  g_mutex_init (&self->lock);
  self->guns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  self->changes = g_ptr_array_new_with_free_func ((GDestroyNotify)notary_change_free);
  self->gun_changes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
  notary_host_logf (host, NOTARY_LOG_INFO, "using the in-memory storage backend: nothing is persisted");
  return self;
}

static void
memory_close (NotaryStorage *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->gun_changes);
  g_ptr_array_unref (self->changes);
  g_hash_table_unref (self->guns);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static gboolean
update_sha256 (const NotaryStorageUpdate *u, char out[65], GError **error)
{
  g_autofree char *hex = u->sha256 != NULL ? g_ascii_strdown (u->sha256, -1)
                                           : g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, u->data);
  if (strlen (hex) != 64)
    {
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                   "invalid update: sha256 \"%s\" is not 64 hex digits", hex);
      return FALSE;
    }
  memcpy (out, hex, 65);
  return TRUE;
}

static void
free_files (MemFile **files, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (files[i] != NULL)
      mem_file_free (files[i]);
  g_free (files);
}

/* Validates the batch and makes its files, hashed, without the lock:
 * everything here only depends on the arguments.  \return (transfer full)
 * @n_updates files, or NULL + error. */
static MemFile **
prepare_batch (const NotaryStorageUpdate *updates, gsize n_updates, gint64 now, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  MemFile **made = g_new0 (MemFile *, MAX (n_updates, 1));

  for (gsize i = 0; i < n_updates; i++)
    {
      const NotaryStorageUpdate *u = &updates[i];
      MemFile *f;

      if (u->role == NULL || u->data == NULL || u->version < 1 || u->version > G_MAXINT32)
        {
          g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                       "invalid update %" G_GSIZE_FORMAT ": needs a role, data and a version "
                       "in 1..%d",
                       i, G_MAXINT32);
          goto fail;
        }
      f = g_new0 (MemFile, 1);
      if (!update_sha256 (u, f->sha256, error))
        {
          g_free (f);
          goto fail;
        }
      f->version = u->version;
      f->data = g_bytes_ref (u->data);
      f->created_unix = now;
      made[i] = f;
      if (!g_hash_table_add (seen, g_strdup_printf ("%s\n%" G_GINT64_FORMAT, u->role, u->version)))
        {
          set_old_version (error);
          goto fail;
        }
    }
  return made;

fail:
  free_files (made, n_updates);
  return NULL;
}

static gboolean
memory_update_many (NotaryStorage *self, const char *gun, const NotaryStorageUpdate *updates, gsize n_updates,
                    GError **error)
{
  GPtrArray *roles;
  MemFile **made;

  g_return_val_if_fail (self != NULL && gun != NULL, FALSE);
  g_return_val_if_fail (n_updates == 0 || updates != NULL, FALSE);

  if (n_updates == 0)
    return TRUE;
  made = prepare_batch (updates, n_updates, now_unix (), error);
  if (made == NULL)
    return FALSE;

  g_mutex_lock (&self->lock);

  /* Check everything before changing anything: the batch is all-or-nothing. */
  for (gsize i = 0; i < n_updates; i++)
    {
      if (updates[i].version <= mem_role_max_version (lookup_role (self, gun, updates[i].role)))
        {
          g_mutex_unlock (&self->lock);
          free_files (made, n_updates);
          return set_old_version (error);
        }
    }

  roles = g_hash_table_lookup (self->guns, gun);
  if (roles == NULL)
    {
      roles = g_ptr_array_new_with_free_func ((GDestroyNotify)mem_role_free);
      g_hash_table_insert (self->guns, g_strdup (gun), roles);
    }

  for (gsize i = 0; i < n_updates; i++)
    {
      const NotaryStorageUpdate *u = &updates[i];
      MemRole *r = find_role (roles, u->role);
      MemFile *f = made[i];
      gint64 prev_max;

      if (r == NULL)
        {
          r = mem_role_new (u->role);
          g_ptr_array_add (roles, r);
        }
      prev_max = mem_role_max_version (r);
      g_ptr_array_add (r->files, f);
      /* One batch may carry several versions of a role in any order. */
      if (f->version < prev_max)
        g_ptr_array_sort (r->files, cmp_file_version);

      if (g_strcmp0 (u->role, "timestamp") == 0)
        append_change (self, gun, u->version, f->sha256, "update", f->created_unix);
    }

  g_mutex_unlock (&self->lock);
  g_free (made); /* the files now belong to their roles */
  return TRUE;
}

static NotaryStoredFile *
memory_get_latest (NotaryStorage *self, const char *gun, const char *role, GError **error)
{
  MemRole *r;
  NotaryStoredFile *out = NULL;

  g_return_val_if_fail (self != NULL && gun != NULL && role != NULL, NULL);

  g_mutex_lock (&self->lock);
  r = lookup_role (self, gun, role);
  if (r != NULL && r->files->len > 0)
    out = stored_file_from (g_ptr_array_index (r->files, r->files->len - 1));
  g_mutex_unlock (&self->lock);

  return out != NULL ? out : set_not_found (error);
}

static NotaryStoredFile *
memory_get_checksum (NotaryStorage *self, const char *gun, const char *role, const char *sha256,
                     GError **error)
{
  MemRole *r;
  MemFile *f = NULL;
  NotaryStoredFile *out = NULL;
  g_autofree char *lower = NULL;

  g_return_val_if_fail (self != NULL && gun != NULL && role != NULL && sha256 != NULL, NULL);

  /* Hex digests compare case-insensitively, as in the SQL backend's
   * collation. */
  lower = g_ascii_strdown (sha256, -1);
  g_mutex_lock (&self->lock);
  r = lookup_role (self, gun, role);
  for (guint i = r != NULL ? r->files->len : 0; f == NULL && i > 0; i--)
    {
      MemFile *candidate = g_ptr_array_index (r->files, i - 1);
      if (strcmp (candidate->sha256, lower) == 0)
        f = candidate;
    }
  if (f != NULL)
    out = stored_file_from (f);
  g_mutex_unlock (&self->lock);

  return out != NULL ? out : set_not_found (error);
}

static NotaryStoredFile *
memory_get_version (NotaryStorage *self, const char *gun, const char *role, gint64 version, GError **error)
{
  MemRole *r;
  NotaryStoredFile *out = NULL;

  g_return_val_if_fail (self != NULL && gun != NULL && role != NULL, NULL);

  if (version < 1)
    return set_not_found (error);

  g_mutex_lock (&self->lock);
  r = lookup_role (self, gun, role);
  if (r != NULL)
    {
      guint lo = 0, hi = r->files->len;
      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;
          MemFile *f = g_ptr_array_index (r->files, mid);
          if (f->version == version)
            {
              out = stored_file_from (f);
              break;
            }
          if (f->version < version)
            lo = mid + 1;
          else
            hi = mid;
        }
    }
  g_mutex_unlock (&self->lock);

  return out != NULL ? out : set_not_found (error);
}

static gboolean
memory_delete_gun (NotaryStorage *self, const char *gun, GError **error)
{
  g_return_val_if_fail (self != NULL && gun != NULL, FALSE);

  g_mutex_lock (&self->lock);
  /* A GUN's role table only exists once a file was stored in it. */
  if (g_hash_table_remove (self->guns, gun))
    append_change (self, gun, 0, "", "deletion", now_unix ());
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Finds the first position in @idx whose change id is > @id. */
static guint
first_index_after (const GArray *idx, gint64 id)
{
  guint lo = 0, hi = idx->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      /* change id = index + 1 */
      if ((gint64)g_array_index (idx, guint, mid) + 1 <= id)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static GPtrArray *
memory_get_changes (NotaryStorage *self, const char *gun, gint64 change_id, guint records, gboolean reversed,
                    GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)notary_change_free);
  const GArray *idx = NULL;
  guint total, start, end;

  g_return_val_if_fail (self != NULL, NULL);

  g_mutex_lock (&self->lock);

  if (gun != NULL)
    {
      idx = g_hash_table_lookup (self->gun_changes, gun);
      total = idx != NULL ? idx->len : 0;
    }
  else
    total = self->changes->len;

    /* Work in positions of the (possibly per-GUN) list; change ids ascend
     * with position in both. */
#define ID_AT(pos) (idx != NULL ? (gint64)g_array_index (idx, guint, (pos)) + 1 : (gint64)(pos) + 1)
  if (!reversed)
    {
      if (idx != NULL)
        start = first_index_after (idx, change_id);
      else
        start = change_id <= 0 ? 0 : (guint)MIN ((gint64)total, change_id);
      end = start + MIN ((guint64)records, (guint64)(total - start));
    }
  else
    {
      if (change_id <= 0)
        end = total;
      else if (idx != NULL)
        end = first_index_after (idx, change_id - 1);
      else
        end = (guint)MIN ((gint64)total, change_id - 1);
      start = end - MIN (records, end);
    }

  for (guint pos = start; pos < end; pos++)
    {
      gint64 id = ID_AT (pos);
      g_ptr_array_add (out, change_copy (g_ptr_array_index (self->changes, id - 1)));
    }
#undef ID_AT

  g_mutex_unlock (&self->lock);
  return out;
}

static gboolean
memory_check_health (NotaryStorage *self, GError **error)
{
  return TRUE;
}

static const NotaryStorageVTable memory_vtable = {
  .version = NOTARY_VERSION_STORAGE_VTABLE,
  .open = memory_open,
  .close = memory_close,
  .update_many = memory_update_many,
  .get_latest = memory_get_latest,
  .get_checksum = memory_get_checksum,
  .get_version = memory_get_version,
  .delete_gun = memory_delete_gun,
  .get_changes = memory_get_changes,
  .check_health = memory_check_health,
};

NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_STORAGE, "memory",
                      "in-memory TUF metadata store for development and tests (not persistent)", "1.0",
                      &memory_vtable)
