/* notary/storage-backend.h — the storage plugin ABI (kind STORAGE).
 *
 * A storage backend keeps TUF metadata files and the changefeed for
 * notary-server (spec: server-storage.md).  The core owns every TUF rule;
 * a backend only stores bytes and answers lookups, so a third party can
 * write one from this header alone.
 *
 * Threading: the server calls every vfunc from several worker threads at
 * once; a backend must be thread-safe.  Calls may block (network I/O), but
 * should fail fast (seconds, not minutes) when the database is down.
 *
 * Errors: every fallible call takes a GError ** last.  Use the
 * NOTARY_STORAGE_ERROR domain codes below for conditions the core maps to
 * HTTP statuses; anything else is reported as a backend failure (5xx).
 */
#pragma once

#include <notary/plugin.h>

G_BEGIN_DECLS

#define NOTARY_STORAGE_ERROR (notary_storage_error_quark ())
static inline GQuark
notary_storage_error_quark (void)
{
  return g_quark_from_static_string ("notary-storage-error-quark");
}

typedef enum
{
  NOTARY_STORAGE_ERROR_NOT_FOUND,   /* "No record found" */
  NOTARY_STORAGE_ERROR_OLD_VERSION, /* a stored version of the role is >= the new one */
  NOTARY_STORAGE_ERROR_BAD_QUERY,   /* bad changefeed parameters */
  NOTARY_STORAGE_ERROR_UNAVAILABLE, /* database unreachable: fail fast, retry later */
  NOTARY_STORAGE_ERROR_FAILED,      /* anything else */
} NotaryStorageError;

/* Opaque backend instance. */
typedef struct _NotaryStorage NotaryStorage;

/* One file to store.  Borrowed by the callee for the duration of the call. */
typedef struct
{
  const char *role;  /* "root", "targets", "targets/releases", "snapshot", "timestamp" */
  gint64 version;    /* >= 1 */
  GBytes *data;      /* exact bytes, stored and served verbatim */
  const char *sha256; /* lowercase hex SHA-256 of @data, computed by the core */
} NotaryStorageUpdate;

/* A stored file handed back to the core.  Free with notary_stored_file_free(). */
typedef struct
{
  GBytes *data;
  gint64 version;
  gint64 modified_unix; /* seconds since the epoch (UTC): created_at of the row */
} NotaryStoredFile;

static inline void
notary_stored_file_free (NotaryStoredFile *f)
{
  if (f == NULL)
    return;
  g_bytes_unref (f->data);
  g_free (f);
}

/* One changefeed record (server-api.md §4.6).  Free with notary_change_free(). */
typedef struct
{
  gint64 id;
  gint64 created_unix; /* seconds since the epoch, UTC */
  char *gun;
  gint64 version;
  char *sha256;   /* "" for deletions */
  char *category; /* "update" or "deletion" */
} NotaryChange;

static inline void
notary_change_free (NotaryChange *c)
{
  if (c == NULL)
    return;
  g_free (c->gun);
  g_free (c->sha256);
  g_free (c->category);
  g_free (c);
}

#define NOTARY_VERSION_STORAGE_VTABLE 1
typedef struct
{
  guint32 version; /* NOTARY_VERSION_STORAGE_VTABLE */

  /* Create an instance from the `storage` config section (@options,
   * borrowed; env overrides already applied).  \return NULL + @error when
   * the options are bad or the database cannot be reached at start. */
  NotaryStorage *(*open) (const NotaryHost *host, JsonObject *options, GError **error);
  void (*close) (NotaryStorage *self);

  /* All-or-nothing insert of @n_updates files of @gun, in list order, in one
   * transaction.  Fails with OLD_VERSION when two updates share (role,
   * version), when any stored file of a role has a version >= the smallest
   * new version of that role, or when the database's unique key on (gun,
   * role, version) rejects an insert (the only race-free check).  Every
   * `timestamp` update also appends an "update" change (gun, version,
   * sha256) in the same transaction. */
  gboolean (*update_many) (NotaryStorage *self, const char *gun, const NotaryStorageUpdate *updates,
                           gsize n_updates, GError **error);

  /* Highest-version file of (gun, role).  NOT_FOUND if none. */
  NotaryStoredFile *(*get_latest) (NotaryStorage *self, const char *gun, const char *role, GError **error);

  /* File of (gun, role) whose sha256 (lowercase hex) is @sha256.  NOT_FOUND if none. */
  NotaryStoredFile *(*get_checksum) (NotaryStorage *self, const char *gun, const char *role,
                                     const char *sha256, GError **error);

  /* File of (gun, role, version).  NOT_FOUND if none (always for version < 1). */
  NotaryStoredFile *(*get_version) (NotaryStorage *self, const char *gun, const char *role,
                                    gint64 version, GError **error);

  /* Hard-delete every file of exactly @gun (not of GUNs it prefixes); if
   * anything was deleted, append a "deletion" change (version 0, sha256 "")
   * in the same transaction.  \return TRUE also when nothing existed. */
  gboolean (*delete_gun) (NotaryStorage *self, const char *gun, GError **error);

  /* Changefeed page (server-storage.md §5): @gun NULL for all GUNs.
   * Forward (@reversed FALSE): ids > @change_id ascending, at most @records.
   * Reversed: ids < @change_id (no bound when @change_id <= 0), the newest
   * @records of them.  Either way the result is ordered oldest -> newest.
   * \return (transfer full) array of NotaryChange* (free func set). */
  GPtrArray *(*get_changes) (NotaryStorage *self, const char *gun, gint64 change_id, guint records,
                             gboolean reversed, GError **error);

  /* Cheap liveness probe for the health endpoint. */
  gboolean (*check_health) (NotaryStorage *self, GError **error);
} NotaryStorageVTable;

G_END_DECLS
