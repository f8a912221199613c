/* notary-repo.h — the server's TUF engine: validates updates
 * (server-validation.md §3), generates and signs snapshot/timestamp through
 * the trust service, serves the consistent "current" view and regenerates
 * expired timestamps on read (§6), and manages server-held keys (§5).
 *
 * It owns no I/O of its own: storage and trust service are plugins.  It is
 * thread-safe; the HTTP workers share one instance.
 */
#pragma once

#include <glib.h>
#include <notary/storage-backend.h>
#include <notary/signer-backend.h>
#include "notary-tuf.h"

G_BEGIN_DECLS

typedef struct _NotaryRepo NotaryRepo;

/* Borrowed plugin instances; they must outlive the repo. */
NotaryRepo *notary_repo_new (const NotaryStorageVTable *storage_vt, NotaryStorage *storage,
                             const NotarySignerVTable *signer_vt, NotarySigner *signer);
void notary_repo_free (NotaryRepo *repo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryRepo, notary_repo_free)

/* Share concurrent reads of the latest file of a (gun, role) (see
 * notary-coalesce.h) instead of querying storage once per request, on
 * @threads threads of their own (0: every read queries).  Worth it when a
 * read costs a round trip (a database); call before serving. */
gboolean notary_repo_set_coalesce_reads (NotaryRepo *repo, guint threads, GError **error);

/* For tests: pin "now" (unix seconds); 0 = real clock. */
void notary_repo_set_clock (NotaryRepo *repo, gint64 fixed_now);

/* Validate and store an update.  @uploads: role -> NotarySigned* (parsed
 * parts; an uploaded timestamp is ignored).  Errors:
 * NOTARY_VALIDATION_ERROR (typed, 400 with detail), NOTARY_TUF_ERROR or
 * other untyped validation failures (400 without detail),
 * NOTARY_STORAGE_ERROR_OLD_VERSION (400 VERSION), other storage/signer
 * errors (5xx). */
gboolean notary_repo_update (NotaryRepo *repo, const char *gun, GHashTable *uploads, GError **error);

/* GET <role>.json: timestamp (regenerated when expired or stale),
 * snapshot (the one the current timestamp names), or any other role as
 * referenced by the current snapshot.  NOTARY_STORAGE_ERROR_NOT_FOUND if
 * missing.  For a freshly generated timestamp modified_unix is now. */
NotaryStoredFile *notary_repo_get_current (NotaryRepo *repo, const char *gun, const char *role, GError **error);
/* Reading ahead, for callers that must not block (an HTTP worker
 * serving many connections): every GET of current metadata starts from
 * the latest timestamp of the GUN, the one query it cannot skip.
 * read_ahead() starts that read (shared with concurrent ones) and returns
 * at once; @done gets the result, (transfer full), on another thread.
 * FALSE, and no call, when reads are not coalesced (storage that does not
 * block): call get_current() directly.  get_current_after() then answers
 * from it; with @no_wait, whatever would still need a backend call (a
 * file not in the cache, a timestamp to re-sign) fails with
 * G_IO_ERROR_WOULD_BLOCK instead, and the caller retries where it may
 * wait, passing the same @read. */
typedef struct _NotaryRepoRead NotaryRepoRead;
typedef void (*NotaryRepoReadDone) (NotaryRepoRead *read, gpointer user_data);
gboolean notary_repo_read_ahead (NotaryRepo *repo, const char *gun, NotaryRepoReadDone done, gpointer user_data);
NotaryStoredFile *notary_repo_get_current_after (NotaryRepo *repo, const char *gun, const char *role,
                                                 const NotaryRepoRead *read, gboolean no_wait, GError **error);
void notary_repo_read_free (NotaryRepoRead *read);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryRepoRead, notary_repo_read_free)

NotaryStoredFile *notary_repo_get_checksum (NotaryRepo *repo, const char *gun, const char *role,
                                            const char *sha256_hex, GError **error);
NotaryStoredFile *notary_repo_get_version (NotaryRepo *repo, const char *gun, const char *role, gint64 version,
                                           GError **error);

/* Server-held keys (role "timestamp" or "snapshot").  get-or-create
 * returns the key the current root lists for @role when the trust
 * service holds it, else a new one; rotate always creates. */
NotaryKey *notary_repo_get_or_create_key (NotaryRepo *repo, const char *gun, const char *role, GError **error);
NotaryKey *notary_repo_rotate_key (NotaryRepo *repo, const char *gun, const char *role, GError **error);

gboolean notary_repo_delete (NotaryRepo *repo, const char *gun, GError **error);

GPtrArray *notary_repo_get_changes (NotaryRepo *repo, const char *gun, gint64 change_id, guint records,
                                    gboolean reversed, GError **error);

/* Health: fills @failures (check name -> error text, e.g. "DB operational",
 * "Trust operational"); \return TRUE when all pass. */
gboolean notary_repo_check_health (NotaryRepo *repo, GHashTable *failures);

G_END_DECLS
