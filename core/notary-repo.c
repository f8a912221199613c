/* notary-repo.c — update validation, server-side signing, consistent reads.
 *
 * The flow mirrors server-validation.md; section numbers in comments refer
 * to it.  Hashes in generated snapshot/timestamp metadata are taken over
 * the exact stored bytes (§7), which is what clients download and verify.
 */
#include "notary-repo.h"
#include "notary-coalesce.h"
#include "notary-error.h"
#include "notary-json.h"
#include "notary-recent.h"

#include <string.h>

#define YEAR_SECONDS (365 * 24 * 3600)
#define SNAPSHOT_LIFETIME (3 * YEAR_SECONDS)
#define TIMESTAMP_LIFETIME (14 * 24 * 3600)
/* Names in meta_cache, a GUN's timestamp and its snapshot (5,000
 * repositories), each with its latest two versions (notary-recent.h). */
#define META_CACHE_NAMES 10000
/* Identity entries pin their bytes in memory: keep them few (~4 MiB). */
#define META_BY_BYTES_MAX 4096
/* Checksum-addressed files never change, so reads by hash are served from
 * memory: no database round trip for snapshot/targets/root on the GET hot
 * paths.  Entries expire after FILE_CACHE_TTL so that a repository deleted
 * through *another* instance stops being served within that time (a local
 * delete purges at once).  Only the latest two versions of each GUN's
 * role are kept (notary-recent.h), and the total size is bounded. */
#define FILE_CACHE_TTL_US (30 * G_USEC_PER_SEC)
#define FILE_CACHE_MAX_BYTES (64 * 1024 * 1024)
#define FILE_CACHE_NAMES 65536 /* (GUN, role) pairs */
/* Bounds current_meta; each entry may pin a timestamp's bytes (~0.5 KB). */
#define CURRENT_META_MAX 1024

struct _NotaryRepo
{
  const NotaryStorageVTable *svt;
  NotaryStorage *storage;
  const NotarySignerVTable *kvt;
  NotarySigner *signer;
  gint64 fixed_now;

  /* Parsed facts about immutable files, named "<gun>\n<role>" with the
   * sha256 hex of the file as id: for a timestamp or snapshot, the role ->
   * sha256-hex map of its meta and its expiry.  Content-addressed, so
   * entries never go stale; only each GUN's latest two are kept. */
  GMutex cache_lock;
  NotaryRecent *meta_cache; /* -> MetaFacts* */
  /* The same facts by identity of the stored bytes (a ref is held, so the
   * pointer cannot be reused while listed): when storage or the file cache
   * hands back the very same GBytes, no hashing is needed at all. */
  GHashTable *meta_by_bytes; /* GBytes* -> MetaFacts* (meta_cache's) */
  /* Bumped whenever meta_by_bytes is emptied, so that a MetaFacts can
   * tell whether the identity entry it once got is still listed. */
  guint by_bytes_round;
  NotaryRecent *file_cache; /* "<gun>\n<role>", sha256 hex -> CachedFile* */
  /* The current root of a GUN as loaded and verified for an update, keyed
   * by "<gun>\n<sha256 of the stored root>": re-parsing and re-verifying
   * the unchanged root was a third of an update's CPU.  What load_root
   * decides is a function of GUN, bytes and time, and time only matters
   * through certificate expiry, so an entry serves until its earliest
   * certificate NotAfter. */
  GHashTable *root_cache; /* key -> TrustedRoot* */
  /* The role -> sha256 map of a GUN's current snapshot, with the
   * timestamp that named that snapshot: the current root/targets is the
   * file the current snapshot lists, the current snapshot the one the
   * latest timestamp lists.  A GET whose latest timestamp is the entry's
   * (the same GBytes from memory storage, equal bytes from a database)
   * skips both meta lookups and the snapshot read: ~60% of what a
   * memory-mode GET root.json spent in the repository. */
  GHashTable *current_meta; /* gun -> CurrentMeta* */
  /* Shares concurrent "latest file of (gun, role)" reads, the one query
   * behind every GET of current metadata; NULL = each read queries. */
  NotaryCoalescer *latest_reads;
};

/* Bounds the root cache: at most this many repositories' roots (a few KB
 * each); when full it starts over, which only costs re-verifying. */
#define ROOT_CACHE_MAX 256

typedef struct
{
  NotaryRoot *root;
  gint64 valid_until; /* Unix seconds */
} TrustedRoot;

static void
trusted_root_free (TrustedRoot *t)
{
  notary_root_free (t->root);
  g_free (t);
}

typedef struct
{
  GBytes *data;
  gint64 version;
  gint64 modified_unix;
  gint64 stored_us; /* monotonic */
} CachedFile;

typedef struct
{
  GBytes *timestamp;
  GHashTable *role_sha; /* shared with the snapshot's MetaFacts */
} CurrentMeta;

static void
current_meta_free (CurrentMeta *c)
{
  g_bytes_unref (c->timestamp);
  g_hash_table_unref (c->role_sha);
  g_free (c);
}

static void
cached_file_free (gpointer p, gpointer unused)
{
  CachedFile *c = p;

  g_bytes_unref (c->data);
  g_free (c);
}

static NotaryStoredFile *
stored_file_new (GBytes *data, gint64 version, gint64 modified)
{
  NotaryStoredFile *f = g_new0 (NotaryStoredFile, 1);
  f->data = g_bytes_ref (data);
  f->version = version;
  f->modified_unix = modified;
  return f;
}

static gpointer
stored_file_copy (gconstpointer p)
{
  const NotaryStoredFile *f = p;
  return stored_file_new (f->data, f->version, f->modified_unix);
}

typedef struct
{
  gint64 expires;
  GHashTable *role_sha; /* role -> sha256 hex */
  /* The bytes meta_by_bytes lists for this content, if listed_round is
   * by_bytes_round + 1 (else stale: the map was emptied since).  One
   * identity per content, the latest seen, is all that helps: a store
   * that hands back the same GBytes (memory, the file cache) hits it
   * every time; one that builds new bytes per read (MySQL) never hits,
   * and pinning each of those filled the map with copies of the same
   * timestamp: ~2 MiB of the MySQL mode's peak RSS under GET load. */
  GBytes *listed; /* borrowed: the map holds the ref */
  guint listed_round;
} MetaFacts;

/* meta_cache lets go of @p: it must not stay listed by its bytes. */
static void
meta_facts_drop (gpointer p, gpointer repo_p)
{
  MetaFacts *f = p;
  NotaryRepo *repo = repo_p;

  if (f->listed_round == repo->by_bytes_round + 1)
    g_hash_table_remove (repo->meta_by_bytes, f->listed);
  g_hash_table_unref (f->role_sha);
  g_free (f);
}

NotaryRepo *
notary_repo_new (const NotaryStorageVTable *storage_vt, NotaryStorage *storage,
                 const NotarySignerVTable *signer_vt, NotarySigner *signer)
{
  NotaryRepo *repo = g_new0 (NotaryRepo, 1);
  repo->svt = storage_vt;
  repo->storage = storage;
  repo->kvt = signer_vt;
  repo->signer = signer;
  g_mutex_init (&repo->cache_lock);
  repo->meta_by_bytes = g_hash_table_new_full (g_direct_hash, g_direct_equal, (GDestroyNotify) g_bytes_unref, NULL);
  repo->meta_cache = notary_recent_new (META_CACHE_NAMES, G_MAXSIZE, meta_facts_drop, repo);
  repo->file_cache = notary_recent_new (FILE_CACHE_NAMES, FILE_CACHE_MAX_BYTES, cached_file_free, NULL);
  repo->root_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) trusted_root_free);
  repo->current_meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) current_meta_free);
  return repo;
}

void
notary_repo_free (NotaryRepo *repo)
{
  if (repo == NULL)
    return;
  notary_recent_free (repo->meta_cache); /* unlists its facts first */
  notary_recent_free (repo->file_cache);
  g_hash_table_unref (repo->meta_by_bytes);
  g_hash_table_unref (repo->root_cache);
  g_hash_table_unref (repo->current_meta);
  notary_coalescer_free (repo->latest_reads);
  g_mutex_clear (&repo->cache_lock);
  g_free (repo);
}

static gpointer fetch_latest (gpointer user_data, const char *key, GError **error);

gboolean
notary_repo_set_coalesce_reads (NotaryRepo *repo, guint threads, GError **error)
{
  g_clear_pointer (&repo->latest_reads, notary_coalescer_free);
  if (threads > 0)
    repo->latest_reads = notary_coalescer_new (fetch_latest, repo, stored_file_copy,
                                               (GDestroyNotify) notary_stored_file_free, threads, error);
  return threads == 0 || repo->latest_reads != NULL;
}

void
notary_repo_set_clock (NotaryRepo *repo, gint64 fixed_now)
{
  repo->fixed_now = fixed_now;
}

static gint64
repo_now (NotaryRepo *repo)
{
  return repo->fixed_now ? repo->fixed_now : g_get_real_time () / G_USEC_PER_SEC;
}

static gboolean
is_not_found (GError *error)
{
  return g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND);
}

#define typed(error, code, ...) notary_throw (error, NOTARY_VALIDATION_ERROR, code, __VA_ARGS__)

/* ---- cached facts about snapshot/timestamp files ----------------------- */

/* Under cache_lock: lists @data as the bytes of @facts (in meta_cache),
 * in place of the bytes listed for it before.  The map only ever points
 * at a MetaFacts from its ->listed bytes, which meta_facts_drop unlists. */
static void
list_identity (NotaryRepo *repo, GBytes *data, MetaFacts *facts)
{
  if (facts->listed_round == repo->by_bytes_round + 1 && facts->listed != data)
    g_hash_table_remove (repo->meta_by_bytes, facts->listed);
  if (g_hash_table_size (repo->meta_by_bytes) >= META_BY_BYTES_MAX)
    {
      g_hash_table_remove_all (repo->meta_by_bytes);
      repo->by_bytes_round++;
    }
  g_hash_table_replace (repo->meta_by_bytes, g_bytes_ref (data), facts);
  facts->listed = data;
  facts->listed_round = repo->by_bytes_round + 1;
}

/* Facts (expiry, role -> sha256) of a stored snapshot or timestamp file.
 * \return (transfer none) valid while the cache is not cleared — callers
 * copy what they need under no lock, so we hand out copies instead. */
static gboolean
meta_facts (NotaryRepo *repo, const char *gun, NotaryStoredFile *file, gboolean is_timestamp, gint64 *out_expires,
            GHashTable **out_role_sha, GError **error)
{
  g_autofree char *hex = NULL;
  g_autofree char *name = NULL;
  MetaFacts *facts;
  g_autoptr (NotarySigned) s = NULL;
  g_autoptr (NotaryMetaRole) m = NULL;
  GHashTableIter it;
  gpointer k, v;

  g_mutex_lock (&repo->cache_lock);
  facts = g_hash_table_lookup (repo->meta_by_bytes, file->data);
  if (facts != NULL)
    {
      *out_expires = facts->expires;
      *out_role_sha = g_hash_table_ref (facts->role_sha);
      g_mutex_unlock (&repo->cache_lock);
      return TRUE;
    }
  g_mutex_unlock (&repo->cache_lock);

  hex = notary_sha256_hex (file->data);
  name = g_strconcat (gun, is_timestamp ? "\ntimestamp" : "\nsnapshot", NULL);
  g_mutex_lock (&repo->cache_lock);
  facts = notary_recent_lookup (repo->meta_cache, name, hex);
  if (facts != NULL)
    {
      *out_expires = facts->expires;
      *out_role_sha = g_hash_table_ref (facts->role_sha);
      list_identity (repo, file->data, facts);
      g_mutex_unlock (&repo->cache_lock);
      return TRUE;
    }
  g_mutex_unlock (&repo->cache_lock);

  s = notary_signed_parse (file->data, error);
  if (s == NULL)
    return FALSE;
  m = is_timestamp ? notary_timestamp_new (s, error) : notary_snapshot_new (s, error);
  if (m == NULL)
    return FALSE;
  facts = g_new0 (MetaFacts, 1);
  facts->expires = s->expires;
  facts->role_sha = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_iter_init (&it, m->meta);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      char *sha = notary_file_meta_sha256_hex (v);
      if (sha != NULL)
        g_hash_table_insert (facts->role_sha, g_strdup (k), sha);
    }
  *out_expires = facts->expires;
  *out_role_sha = g_hash_table_ref (facts->role_sha);

  g_mutex_lock (&repo->cache_lock);
  /* Insert first: it may drop (and unlist) facts this one replaces. */
  notary_recent_insert (repo->meta_cache, name, hex, facts, 0);
  list_identity (repo, file->data, facts);
  g_mutex_unlock (&repo->cache_lock);
  return TRUE;
}

/* ---- consistent reads (server-storage.md §2) --------------------------- */

/* Coalesced reads are keyed "<gun>\n<role>": a GUN has no newline
 * (notary_gun_is_valid), so the last one splits the key. */
static char *
latest_key (const char *gun, const char *role)
{
  return g_strconcat (gun, "\n", role, NULL);
}

static gpointer
fetch_latest (gpointer user_data, const char *key, GError **error)
{
  NotaryRepo *repo = user_data;
  const char *nl = strrchr (key, '\n');
  g_autofree char *gun = g_strndup (key, nl - key);

  return repo->svt->get_latest (repo->storage, gun, nl + 1, error);
}

static NotaryStoredFile *
storage_latest (NotaryRepo *repo, const char *gun, const char *role, GError **error)
{
  g_autofree char *key = NULL;

  if (repo->latest_reads == NULL)
    return repo->svt->get_latest (repo->storage, gun, role, error);
  key = latest_key (gun, role);
  return notary_coalescer_get (repo->latest_reads, key, error);
}

/* ---- reads that must not wait ------------------------------------------- */

struct _NotaryRepoRead
{
  char *gun;
  NotaryStoredFile *timestamp; /* or NULL and error */
  GError *error;
  NotaryRepoReadDone done;
  gpointer user_data;
};

void
notary_repo_read_free (NotaryRepoRead *read)
{
  if (read == NULL)
    return;
  g_free (read->gun);
  notary_stored_file_free (read->timestamp);
  g_clear_error (&read->error);
  g_free (read);
}

static void
read_ahead_done (gpointer value, GError *error, gpointer user_data)
{
  NotaryRepoRead *read = user_data;

  read->timestamp = value;
  read->error = error;
  read->done (read, read->user_data);
}

gboolean
notary_repo_read_ahead (NotaryRepo *repo, const char *gun, NotaryRepoReadDone done, gpointer user_data)
{
  NotaryRepoRead *read;
  g_autofree char *key = NULL;

  if (repo->latest_reads == NULL)
    return FALSE;
  read = g_new0 (NotaryRepoRead, 1);
  read->gun = g_strdup (gun);
  read->done = done;
  read->user_data = user_data;
  key = latest_key (gun, "timestamp");
  notary_coalescer_get_async (repo->latest_reads, key, read_ahead_done, read);
  return TRUE;
}

/* How a GET of current metadata may proceed: with the latest timestamp
 * read ahead for it (or a NULL read: query), and whether it must answer
 * G_IO_ERROR_WOULD_BLOCK rather than wait on a backend. */
typedef struct
{
  const NotaryRepoRead *read;
  gboolean no_wait;
} ReadCtx;

static const ReadCtx blocking_read = { NULL, FALSE };

static gboolean
would_block (const ReadCtx *ctx, GError **error)
{
  if (!ctx->no_wait)
    return FALSE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "needs a backend call");
  return TRUE;
}

static NotaryStoredFile *
latest_timestamp (NotaryRepo *repo, const char *gun, const ReadCtx *ctx, GError **error)
{
  const NotaryRepoRead *read = ctx->read;

  if (read != NULL && g_str_equal (read->gun, gun))
    {
      if (read->timestamp != NULL)
        return stored_file_copy (read->timestamp);
      g_propagate_error (error, g_error_copy (read->error));
      return NULL;
    }
  if (would_block (ctx, error))
    return NULL;
  return storage_latest (repo, gun, "timestamp", error);
}

static NotaryStoredFile *
storage_checksum (NotaryRepo *repo, const char *gun, const char *role, const char *sha, const ReadCtx *ctx,
                  GError **error)
{
  g_autofree char *name = g_strconcat (gun, "\n", role, NULL);
  gint64 now = g_get_monotonic_time ();
  NotaryStoredFile *f;
  CachedFile *c;

  g_mutex_lock (&repo->cache_lock);
  c = notary_recent_lookup (repo->file_cache, name, sha);
  if (c != NULL && now - c->stored_us < FILE_CACHE_TTL_US)
    {
      f = g_new0 (NotaryStoredFile, 1);
      f->data = g_bytes_ref (c->data);
      f->version = c->version;
      f->modified_unix = c->modified_unix;
      g_mutex_unlock (&repo->cache_lock);
      return f;
    }
  g_mutex_unlock (&repo->cache_lock);

  if (would_block (ctx, error))
    return NULL;
  f = repo->svt->get_checksum (repo->storage, gun, role, sha, error);
  if (f == NULL)
    return NULL;
  c = g_new0 (CachedFile, 1);
  c->data = g_bytes_ref (f->data);
  c->version = f->version;
  c->modified_unix = f->modified_unix;
  c->stored_us = now;
  g_mutex_lock (&repo->cache_lock);
  notary_recent_insert (repo->file_cache, name, sha, c, g_bytes_get_size (c->data));
  g_mutex_unlock (&repo->cache_lock);
  return f;
}

/* Forget everything cached for @gun (after a delete). */
static void
file_cache_purge_gun (NotaryRepo *repo, const char *gun)
{
  g_autofree char *prefix = g_strconcat (gun, "\n", NULL);

  g_mutex_lock (&repo->cache_lock);
  notary_recent_remove_prefix (repo->file_cache, prefix);
  g_hash_table_remove (repo->current_meta, gun);
  g_mutex_unlock (&repo->cache_lock);
}

/* The snapshot the timestamp @ts names. */
static NotaryStoredFile *
snapshot_named_by (NotaryRepo *repo, const char *gun, NotaryStoredFile *ts, const ReadCtx *ctx, GError **error)
{
  g_autoptr (GHashTable) ts_meta = NULL;
  gint64 expires;

  if (!meta_facts (repo, gun, ts, TRUE, &expires, &ts_meta, error))
    return NULL;
  return storage_checksum (repo, gun, "snapshot", g_hash_table_lookup (ts_meta, "snapshot"), ctx, error);
}

/* The snapshot the latest timestamp names. */
static NotaryStoredFile *
current_snapshot (NotaryRepo *repo, const char *gun, const ReadCtx *ctx, GError **error)
{
  NotaryStoredFile *ts = latest_timestamp (repo, gun, ctx, error);
  NotaryStoredFile *sn;

  if (ts == NULL)
    return NULL;
  sn = snapshot_named_by (repo, gun, ts, ctx, error);
  notary_stored_file_free (ts);
  return sn;
}

/* The role -> sha256 (hex) map of the snapshot @ts names. */
static GHashTable *
resolve_current_meta (NotaryRepo *repo, const char *gun, NotaryStoredFile *ts, const ReadCtx *ctx, GError **error)
{
  GHashTable *role_sha = NULL;
  gint64 expires;
  NotaryStoredFile *sn = snapshot_named_by (repo, gun, ts, ctx, error);

  if (sn == NULL)
    return NULL;
  if (!meta_facts (repo, gun, sn, FALSE, &expires, &role_sha, error))
    role_sha = NULL;
  notary_stored_file_free (sn);
  return role_sha;
}

/* Current root/targets/delegation: the version the current snapshot names. */
static NotaryStoredFile *
current_via_snapshot_sha (NotaryRepo *repo, const char *gun, const char *role, const ReadCtx *ctx, char **out_sha,
                          GError **error)
{
  g_autoptr (GHashTable) role_sha = NULL;
  const char *sha;
  NotaryStoredFile *ts;
  CurrentMeta *c;

  ts = latest_timestamp (repo, gun, ctx, error);
  if (ts == NULL)
    return NULL;
  g_mutex_lock (&repo->cache_lock);
  c = g_hash_table_lookup (repo->current_meta, gun);
  if (c != NULL && (c->timestamp == ts->data || g_bytes_equal (c->timestamp, ts->data)))
    role_sha = g_hash_table_ref (c->role_sha);
  g_mutex_unlock (&repo->cache_lock);
  if (role_sha == NULL)
    {
      role_sha = resolve_current_meta (repo, gun, ts, ctx, error);
      if (role_sha == NULL)
        {
          notary_stored_file_free (ts);
          return NULL;
        }
      c = g_new (CurrentMeta, 1);
      c->timestamp = g_bytes_ref (ts->data);
      c->role_sha = g_hash_table_ref (role_sha);
      g_mutex_lock (&repo->cache_lock);
      if (g_hash_table_size (repo->current_meta) >= CURRENT_META_MAX)
        g_hash_table_remove_all (repo->current_meta);
      g_hash_table_replace (repo->current_meta, g_strdup (gun), c);
      g_mutex_unlock (&repo->cache_lock);
    }
  notary_stored_file_free (ts);
  /* role_sha is immutable once built and our reference keeps it (and
   * so @sha) alive: read without the lock, no copy. */
  sha = g_hash_table_lookup (role_sha, role);
  if (sha == NULL)
    {
      /* Not listed in the current snapshot: it does not exist as far as
       * clients are concerned (the reference's SQL path answers 500 here;
       * 404 is what the client understands as "missing"). */
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND, "No record found");
      return NULL;
    }
  if (out_sha != NULL)
    *out_sha = g_strdup (sha);
  return storage_checksum (repo, gun, role, sha, ctx, error);
}

static NotaryStoredFile *
current_via_snapshot (NotaryRepo *repo, const char *gun, const char *role, GError **error)
{
  return current_via_snapshot_sha (repo, gun, role, &blocking_read, NULL, error);
}

NotaryStoredFile *
notary_repo_get_checksum (NotaryRepo *repo, const char *gun, const char *role, const char *sha256_hex,
                          GError **error)
{
  g_autofree char *lower = g_ascii_strdown (sha256_hex, -1);
  return storage_checksum (repo, gun, role, lower, &blocking_read, error);
}

NotaryStoredFile *
notary_repo_get_version (NotaryRepo *repo, const char *gun, const char *role, gint64 version, GError **error)
{
  if (version < 1)
    {
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND, "No record found");
      return NULL;
    }
  return repo->svt->get_version (repo->storage, gun, role, version, error);
}

/* ---- signing through the trust service --------------------------------- */

static const char *
method_for_keytype (const char *keytype)
{
  if (g_str_has_prefix (keytype, "ecdsa"))
    return "ecdsa";
  if (g_str_has_prefix (keytype, "rsa"))
    return "rsapss";
  if (g_str_equal (keytype, "ed25519"))
    return "eddsa";
  return NULL;
}

typedef enum
{
  SIGN_OK,
  SIGN_NO_KEYS,  /* the service holds none of the role's keys */
  SIGN_FAILED,   /* error set */
} SignResult;

/* Sign @canonical with every key of @role_name in @root that the trust
 * service holds; signatures carry the key's TUF ID (§8). */
static SignResult
sign_role (NotaryRepo *repo, NotaryRoot *root, const char *role_name, GBytes *canonical, GPtrArray **out_sigs,
           GError **error)
{
  NotaryRoleKeys *role = g_hash_table_lookup (root->roles, role_name);
  g_autoptr (GPtrArray) sigs = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_signature_free);

  for (guint i = 0; i < role->keyids->len; i++)
    {
      NotaryKey *key = g_hash_table_lookup (root->keys, role->keyids->pdata[i]);
      g_autoptr (GError) local_error = NULL;
      GBytes *sig;
      NotarySignature *ns;
      const char *method = method_for_keytype (notary_key_get_keytype (key));

      if (method == NULL)
        continue;
      sig = repo->kvt->sign (repo->signer, notary_key_get_canonical_id (key), canonical, &local_error);
      if (sig == NULL)
        {
          if (g_error_matches (local_error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND))
            continue;
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "signing %s: ", role_name);
          return SIGN_FAILED;
        }
      ns = g_new0 (NotarySignature, 1);
      ns->keyid = g_strdup (notary_key_get_id (key));
      ns->method = g_strdup (method);
      ns->sig = sig;
      g_ptr_array_add (sigs, ns);
    }
  if (sigs->len == 0)
    return SIGN_NO_KEYS;
  if ((gint64) sigs->len < role->threshold)
    {
      typed (error, NOTARY_VALIDATION_ERROR_VALIDATION, "insufficient signatures for %s: %u of %" G_GINT64_FORMAT,
             role_name, sigs->len, role->threshold);
      return SIGN_FAILED;
    }
  *out_sigs = g_steal_pointer (&sigs);
  return SIGN_OK;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Build canonical signed bytes {"_type":…,"expires":…,"meta":{…},"version":N}
 * from @meta: role -> canonical filemeta text. */
static GBytes *
build_meta_body (const char *type, gint64 expires, GHashTable *meta, gint64 version)
{
  GString *out = g_string_new ("{\"_type\":");
  g_autofree char *exp = notary_time_format_rfc3339 (expires, 0);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;

  g_hash_table_iter_init (&it, meta);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (names, k);

  notary_json_write_canonical_string (out, type);
  g_string_append (out, ",\"expires\":");
  notary_json_write_canonical_string (out, exp);
  g_string_append (out, ",\"meta\":{");
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      notary_json_write_canonical_string (out, names->pdata[i]);
      g_string_append_c (out, ':');
      g_string_append (out, g_hash_table_lookup (meta, names->pdata[i]));
    }
  g_string_append_printf (out, "},\"version\":%" G_GINT64_FORMAT "}", version);
  return g_string_free_to_bytes (out);
}

static char *
file_meta_text (GBytes *data)
{
  GString *s = g_string_new (NULL);
  notary_write_file_meta (s, data);
  return g_string_free (s, FALSE);
}

/* ---- loading roles (§2) ------------------------------------------------- */

/* Verification keys of a root's root role: each listed key's certificate
 * checked for @gun (§6).  NULL + error when none yields a valid leaf. */
static GHashTable *
root_cert_keys (NotaryRoot *root, const char *gun, gint64 now, gboolean check_expiry, GError **error)
{
  NotaryRoleKeys *role = g_hash_table_lookup (root->roles, "root");
  g_autoptr (GHashTable) out
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_key_unref);

  for (guint i = 0; i < role->keyids->len; i++)
    {
      NotaryKey *key = g_hash_table_lookup (root->keys, role->keyids->pdata[i]);
      NotaryKey *checked = notary_key_check_root_certificate (key, gun, now, check_expiry, NULL);
      if (checked != NULL)
        g_hash_table_insert (out, g_strdup (role->keyids->pdata[i]), checked);
    }
  if (g_hash_table_size (out) == 0)
    {
      g_set_error_literal (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID,
                           "could not validate the path to a trusted root: unable to retrieve valid leaf "
                           "certificates");
      return NULL;
    }
  return g_steal_pointer (&out);
}

/* Load a root (§2 row root, §3.1).  @prev: the trusted previous root or NULL. */
static NotaryRoot *
load_root (NotarySigned *s, const char *gun, NotaryRoot *prev, gint64 min_version, gboolean allow_expired,
           gint64 now, GError **error)
{
  g_autoptr (NotaryRoot) root = notary_root_new (s, error);
  g_autoptr (GHashTable) own = NULL;
  NotaryRoleKeys *own_role;

  if (root == NULL)
    return NULL;
  own = root_cert_keys (root, gun, now, TRUE, error);
  if (own == NULL)
    return NULL;
  if (prev != NULL)
    {
      g_autoptr (GHashTable) old = root_cert_keys (prev, gun, now, FALSE, NULL);
      NotaryRoleKeys *old_role = g_hash_table_lookup (prev->roles, "root");
      if (old == NULL || !notary_signed_verify (s, old, old_role, NULL))
        {
          g_set_error_literal (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_SIGNATURE,
                               "could not rotate trust to a new trusted root: failed to validate data with "
                               "current trusted certificates");
          return NULL;
        }
    }
  own_role = g_hash_table_lookup (root->roles, "root");
  if (!notary_signed_verify (s, own, own_role, NULL))
    {
      g_set_error_literal (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_SIGNATURE,
                           "could not validate the path to a trusted root: failed to validate integrity of "
                           "roots");
      return NULL;
    }
  if (s->version < min_version)
    {
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_VERSION,
                   "root version %" G_GINT64_FORMAT " is lower than %" G_GINT64_FORMAT, s->version, min_version);
      return NULL;
    }
  if (!allow_expired && notary_signed_is_expired (s, now))
    {
      g_autofree char *t = notary_time_format_rfc3339 (s->expires, 0);
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_EXPIRED, "root expired at %s", t);
      return NULL;
    }
  return g_steal_pointer (&root);
}

typedef struct
{
  NotaryRepo *repo;
  const char *gun;
  gint64 now;
  NotaryRoot *root;       /* root in play */
  GHashTable *targets;    /* role -> NotaryTargets* loaded (uploaded + ancestors) */
} UpdateCtx;

/* Load a targets-type role against the root in play / its parent. */
static gboolean
load_targets (UpdateCtx *ctx, const char *role, NotarySigned *s, gboolean allow_expired, GError **error)
{
  g_autoptr (NotaryTargets) t = NULL;
  GHashTable *keys;
  NotaryRoleKeys *rk;

  if (g_hash_table_contains (ctx->targets, role))
    {
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID, "%s loaded twice", role);
      return FALSE;
    }
  if (g_str_equal (role, "targets"))
    {
      keys = ctx->root->keys;
      rk = g_hash_table_lookup (ctx->root->roles, "targets");
    }
  else
    {
      g_autofree char *parent_name = notary_role_parent (role);
      NotaryTargets *parent = g_hash_table_lookup (ctx->targets, parent_name);
      if (!g_hash_table_contains (ctx->targets, "targets"))
        {
          g_set_error_literal (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID, "targets must be loaded first");
          return FALSE;
        }
      rk = parent ? notary_targets_find_delegation (parent, role) : NULL;
      if (rk == NULL)
        {
          g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID,
                       "tuf: invalid role %s. delegation does not exist", role);
          return FALSE;
        }
      keys = parent->delegation_keys;
    }
  t = notary_targets_new (s, role, error);
  if (t == NULL)
    return FALSE;
  if (!notary_signed_verify (s, keys, rk, error))
    return FALSE;
  if (!allow_expired && notary_signed_is_expired (s, ctx->now))
    {
      g_autofree char *ts = notary_time_format_rfc3339 (s->expires, 0);
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_EXPIRED, "%s expired at %s", role, ts);
      return FALSE;
    }
  g_hash_table_insert (ctx->targets, g_strdup (role), g_steal_pointer (&t));
  return TRUE;
}

/* Load the stored current version of @role into ctx (ancestors, §3.2.1). */
static gboolean
load_stored_targets (UpdateCtx *ctx, const char *role, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  NotaryStoredFile *f = current_via_snapshot (ctx->repo, ctx->gun, role, &local_error);
  g_autoptr (NotarySigned) s = NULL;

  if (f == NULL)
    {
      if (is_not_found (local_error))
        return TRUE; /* skipped: the child's load reports it */
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  s = notary_signed_parse (f->data, error);
  notary_stored_file_free (f);
  if (s == NULL)
    return FALSE;
  return load_targets (ctx, role, s, TRUE, error);
}

/* ---- validateUpdate (§3) ---------------------------------------------- */

typedef struct
{
  char *role;
  gint64 version;
  GBytes *data;
} Output;

static void
output_free (Output *o)
{
  g_free (o->role);
  g_bytes_unref (o->data);
  g_free (o);
}

static void
add_output (GPtrArray *out, const char *role, gint64 version, GBytes *data)
{
  Output *o = g_new0 (Output, 1);
  o->role = g_strdup (role);
  o->version = version;
  o->data = g_bytes_ref (data);
  g_ptr_array_add (out, o);
}

/* Version for a new server-generated file of @role: latest stored + 1. */
static gboolean
next_version (NotaryRepo *repo, const char *gun, const char *role, gint64 *out, NotaryStoredFile **out_latest,
              GError **error)
{
  g_autoptr (GError) local_error = NULL;
  NotaryStoredFile *f = storage_latest (repo, gun, role, &local_error);
  if (f == NULL)
    {
      if (!is_not_found (local_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      *out = 1;
      *out_latest = NULL;
      return TRUE;
    }
  if (f->version == G_MAXINT64)
    {
      notary_stored_file_free (f);
      /* TUF-01-002: never wrap around. */
      return typed (error, NOTARY_VALIDATION_ERROR_VALIDATION, "%s version would overflow", role);
    }
  *out = f->version + 1;
  *out_latest = f;
  return TRUE;
}

static GBytes *
generate_snapshot (UpdateCtx *ctx, GBytes *root_bytes, GError **error)
{
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) sigs = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) local_error = NULL;
  NotaryStoredFile *latest = NULL;
  NotaryStoredFile *prev;
  GHashTableIter it;
  gpointer k, v;
  gint64 version;
  SignResult res;

  prev = current_snapshot (ctx->repo, ctx->gun, &blocking_read, &local_error);
  if (prev == NULL && !is_not_found (local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (prev == NULL)
    {
      if (!g_hash_table_contains (ctx->targets, "targets"))
        return typed (error, NOTARY_VALIDATION_ERROR_VALIDATION, "targets must be loaded first"), NULL;
    }
  else
    {
      g_autoptr (NotarySigned) prev_s = notary_signed_parse (prev->data, error);
      g_autoptr (NotaryMetaRole) prev_m = NULL;
      JsonObject *prev_meta;

      notary_stored_file_free (prev);
      if (prev_s == NULL || (prev_m = notary_snapshot_new (prev_s, error)) == NULL)
        return NULL;
      /* Entries of roles this update does not touch (deleted delegations
       * included) are kept as they were. */
      prev_meta = notary_json_object_get_object (prev_s->signed_obj, "meta");
      g_hash_table_iter_init (&it, prev_m->meta);
      while (g_hash_table_iter_next (&it, &k, NULL))
        {
          GString *enc = g_string_new (NULL);
          if (!notary_json_write_canonical (enc, json_object_get_member (prev_meta, k), error))
            {
              g_string_free (enc, TRUE);
              return NULL;
            }
          g_hash_table_insert (meta, g_strdup (k), g_string_free (enc, FALSE));
        }
    }

  g_hash_table_insert (meta, g_strdup ("root"), file_meta_text (root_bytes));
  g_hash_table_iter_init (&it, ctx->targets);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_insert (meta, g_strdup (k), file_meta_text (((NotaryTargets *) v)->s->raw));

  if (!next_version (ctx->repo, ctx->gun, "snapshot", &version, &latest, error))
    return NULL;
  notary_stored_file_free (latest);
  body = build_meta_body ("Snapshot", ctx->now + SNAPSHOT_LIFETIME, meta, version);

  res = sign_role (ctx->repo, ctx->root, "snapshot", body, &sigs, error);
  if (res == SIGN_NO_KEYS)
    return typed (error, NOTARY_VALIDATION_ERROR_BAD_HIERARCHY,
                  "no snapshot was included in update and server does not hold current snapshot key for "
                  "repository"),
           NULL;
  if (res == SIGN_FAILED)
    return NULL;
  return notary_envelope_build (body, sigs);
}

/* A new timestamp over @snapshot_bytes, signed with the timestamp keys of
 * @root.  NO_KEYS is reported as ErrBadRoot (§3.4). */
static GBytes *
generate_timestamp (NotaryRepo *repo, const char *gun, NotaryRoot *root, GBytes *snapshot_bytes, gint64 now,
                    gint64 *out_version, GError **error)
{
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) sigs = NULL;
  g_autoptr (GBytes) body = NULL;
  NotaryStoredFile *latest = NULL;
  SignResult res;

  if (!next_version (repo, gun, "timestamp", out_version, &latest, error))
    return NULL;
  notary_stored_file_free (latest);
  g_hash_table_insert (meta, g_strdup ("snapshot"), file_meta_text (snapshot_bytes));
  body = build_meta_body ("Timestamp", now + TIMESTAMP_LIFETIME, meta, *out_version);
  res = sign_role (repo, root, "timestamp", body, &sigs, error);
  if (res == SIGN_NO_KEYS)
    return typed (error, NOTARY_VALIDATION_ERROR_BAD_ROOT, "no timestamp keys exist on the server"), NULL;
  if (res == SIGN_FAILED)
    return NULL;
  return notary_envelope_build (body, sigs);
}

/* Turn an untyped TUF failure into the typed error of its phase. */
static void
type_error (GError **error, GError *local, NotaryValidationError code)
{
  if (local->domain == NOTARY_TUF_ERROR)
    g_set_error_literal (error, NOTARY_VALIDATION_ERROR, code, local->message);
  else
    g_propagate_error (error, g_error_copy (local));
}

static NotaryRoot *
root_cache_lookup (NotaryRepo *repo, const char *key, gint64 now)
{
  NotaryRoot *root = NULL;
  g_mutex_lock (&repo->cache_lock);
  TrustedRoot *t = g_hash_table_lookup (repo->root_cache, key);
  if (t != NULL && now <= t->valid_until)
    root = notary_root_ref (t->root);
  g_mutex_unlock (&repo->cache_lock);
  return root;
}

static void
root_cache_insert (NotaryRepo *repo, char *key, NotaryRoot *root)
{
  TrustedRoot *t = g_new0 (TrustedRoot, 1);
  NotaryRoleKeys *role = g_hash_table_lookup (root->roles, "root");

  t->root = notary_root_ref (root);
  t->valid_until = G_MAXINT64;
  for (guint i = 0; i < role->keyids->len; i++)
    {
      NotaryKey *k = g_hash_table_lookup (root->keys, role->keyids->pdata[i]);
      if (k != NULL)
        t->valid_until = MIN (t->valid_until, notary_key_get_not_after (k));
    }
  g_mutex_lock (&repo->cache_lock);
  if (g_hash_table_size (repo->root_cache) >= ROOT_CACHE_MAX)
    g_hash_table_remove_all (repo->root_cache);
  g_hash_table_replace (repo->root_cache, key, t);
  g_mutex_unlock (&repo->cache_lock);
}

static gboolean
current_root (NotaryRepo *repo, const char *gun, gint64 now, NotaryRoot **out, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *sha = NULL;
  g_autofree char *key = NULL;
  NotaryStoredFile *f = current_via_snapshot_sha (repo, gun, "root", &blocking_read, &sha, &local_error);
  g_autoptr (NotarySigned) s = NULL;

  *out = NULL;
  if (f == NULL)
    {
      if (is_not_found (local_error))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  key = g_strconcat (gun, "\n", sha, NULL);
  *out = root_cache_lookup (repo, key, now);
  if (*out != NULL)
    {
      notary_stored_file_free (f);
      return TRUE;
    }
  s = notary_signed_parse (f->data, error);
  notary_stored_file_free (f);
  if (s == NULL)
    return FALSE;
  *out = load_root (s, gun, NULL, 1, TRUE, now, error);
  if (*out == NULL)
    return FALSE;
  root_cache_insert (repo, g_steal_pointer (&key), *out);
  return TRUE;
}

gboolean
notary_repo_update (NotaryRepo *repo, const char *gun, GHashTable *uploads, GError **error)
{
  UpdateCtx ctx = { repo, gun, repo_now (repo), NULL, NULL };
  g_autoptr (NotaryRoot) cur_root = NULL;
  g_autoptr (NotaryRoot) new_root = NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) output_free);
  g_autoptr (GPtrArray) targets_roles = g_ptr_array_new ();
  g_autoptr (GHashTable) loaded = NULL;
  g_autoptr (GBytes) snapshot_bytes = NULL;
  g_autoptr (GBytes) ts_bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree NotaryStorageUpdate *updates = NULL;
  g_autofree char **shas = NULL;
  NotarySigned *up_root = g_hash_table_lookup (uploads, "root");
  NotarySigned *up_snapshot = g_hash_table_lookup (uploads, "snapshot");
  GBytes *root_bytes;
  GHashTableIter it;
  gpointer k, v;
  gint64 ts_version;
  gboolean ok;

  loaded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_targets_free);
  ctx.targets = loaded;

  /* §3.1 root */
  if (!current_root (repo, gun, ctx.now, &cur_root, &local_error))
    {
      /* the stored root no longer loads: untyped (400 without detail) */
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (up_root != NULL)
    {
      gint64 cur = cur_root ? cur_root->s->version : 1;
      if (up_root->version != cur && up_root->version != cur + 1)
        return typed (error, NOTARY_VALIDATION_ERROR_BAD_ROOT,
                      "Root modifications must increment the version. Current %" G_GINT64_FORMAT
                      ", new %" G_GINT64_FORMAT,
                      cur, up_root->version);
      new_root = load_root (up_root, gun, cur_root, cur, FALSE, ctx.now, &local_error);
      if (new_root == NULL)
        {
          type_error (error, local_error, NOTARY_VALIDATION_ERROR_BAD_ROOT);
          return FALSE;
        }
      add_output (out, "root", up_root->version, up_root->raw);
      ctx.root = new_root;
      root_bytes = up_root->raw;
    }
  else if (cur_root != NULL)
    {
      ctx.root = cur_root;
      root_bytes = cur_root->s->raw;
    }
  else
    return typed (error, NOTARY_VALIDATION_ERROR_VALIDATION, "no pre-existing root and no root provided in update.");

  /* §3.2 targets and delegations, parents first */
  g_hash_table_iter_init (&it, uploads);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (notary_role_is_targets_type (k))
      g_ptr_array_add (targets_roles, k);
  g_ptr_array_sort (targets_roles, notary_role_compare);
  for (guint i = 0; i < targets_roles->len; i++)
    {
      const char *role = targets_roles->pdata[i];
      g_auto (GStrv) parts = g_strsplit (role, "/", -1);
      g_autoptr (GString) prefix = g_string_new (NULL);

      /* ancestors top-down, from storage unless uploaded/loaded already */
      for (guint j = 0; parts[j + 1] != NULL; j++)
        {
          if (j > 0)
            g_string_append_c (prefix, '/');
          g_string_append (prefix, parts[j]);
          if (!g_hash_table_contains (loaded, prefix->str) && !g_hash_table_contains (uploads, prefix->str))
            {
              if (!load_stored_targets (&ctx, prefix->str, &local_error))
                {
                  type_error (error, local_error, NOTARY_VALIDATION_ERROR_BAD_TARGETS);
                  return FALSE;
                }
            }
        }
      if (!load_targets (&ctx, role, g_hash_table_lookup (uploads, role), FALSE, &local_error))
        {
          type_error (error, local_error, NOTARY_VALIDATION_ERROR_BAD_TARGETS);
          return FALSE;
        }
      add_output (out, role, ((NotarySigned *) g_hash_table_lookup (uploads, role))->version,
                  ((NotarySigned *) g_hash_table_lookup (uploads, role))->raw);
    }

  /* §3.3 snapshot */
  if (up_snapshot != NULL)
    {
      g_autoptr (NotaryMetaRole) sn = NULL;
      NotaryRoleKeys *rk = g_hash_table_lookup (ctx.root->roles, "snapshot");
      NotaryFileMeta *fm;

      if (!notary_signed_verify (up_snapshot, ctx.root->keys, rk, &local_error)
          || (sn = notary_snapshot_new (up_snapshot, &local_error)) == NULL)
        {
          type_error (error, local_error, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT);
          return FALSE;
        }
      if (notary_signed_is_expired (up_snapshot, ctx.now))
        return typed (error, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, "snapshot expired");
      fm = g_hash_table_lookup (sn->meta, "root");
      if (fm == NULL || !notary_file_meta_check (fm, root_bytes, "root", &local_error))
        return typed (error, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, "snapshot does not match root: %s",
                      local_error ? local_error->message : "missing");
      g_hash_table_iter_init (&it, loaded);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          fm = g_hash_table_lookup (sn->meta, k);
          g_clear_error (&local_error);
          if (fm == NULL || !notary_file_meta_check (fm, ((NotaryTargets *) v)->s->raw, k, &local_error))
            return typed (error, NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT, "snapshot does not match %s: %s",
                          (char *) k, local_error ? local_error->message : "missing from snapshot meta");
        }
      snapshot_bytes = g_bytes_ref (up_snapshot->raw);
      add_output (out, "snapshot", up_snapshot->version, snapshot_bytes);
    }
  else
    {
      g_autoptr (NotarySigned) gen = NULL;
      snapshot_bytes = generate_snapshot (&ctx, root_bytes, error);
      if (snapshot_bytes == NULL)
        return FALSE;
      gen = notary_signed_parse (snapshot_bytes, error);
      if (gen == NULL)
        return FALSE;
      add_output (out, "snapshot", gen->version, snapshot_bytes);
    }

  /* §3.4 timestamp */
  ts_bytes = generate_timestamp (repo, gun, ctx.root, snapshot_bytes, ctx.now, &ts_version, error);
  if (ts_bytes == NULL)
    return FALSE;
  add_output (out, "timestamp", ts_version, ts_bytes);

  /* §3.5 store, one transaction */
  updates = g_new0 (NotaryStorageUpdate, out->len);
  shas = g_new0 (char *, out->len + 1);
  for (guint i = 0; i < out->len; i++)
    {
      Output *o = out->pdata[i];
      shas[i] = notary_sha256_hex (o->data);
      updates[i].role = o->role;
      updates[i].version = o->version;
      updates[i].data = o->data;
      updates[i].sha256 = shas[i];
    }
  ok = repo->svt->update_many (repo->storage, gun, updates, out->len, error);
  for (guint i = 0; i < out->len; i++)
    g_free (shas[i]);
  return ok;
}

/* ---- GET timestamp / snapshot with regeneration (§6) --------------------- */

static NotaryStoredFile *
current_timestamp (NotaryRepo *repo, const char *gun, const ReadCtx *ctx, GError **error)
{
  gint64 now = repo_now (repo);
  g_autoptr (GHashTable) ts_meta = NULL;
  g_autoptr (GHashTable) sn_meta = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64 ts_expires, sn_expires;
  NotaryStoredFile *ts, *sn;
  const char *sn_sha;
  g_autoptr (NotaryRoot) root = NULL;
  g_autoptr (GBytes) new_sn = NULL;
  g_autoptr (GBytes) new_ts = NULL;
  GBytes *sn_bytes;
  gint64 new_ts_version, new_sn_version = 0;
  NotaryStorageUpdate updates[2];
  g_autofree char *sha_a = NULL;
  g_autofree char *sha_b = NULL;
  gsize n = 0;

  ts = latest_timestamp (repo, gun, ctx, error);
  if (ts == NULL)
    return NULL;
  if (!meta_facts (repo, gun, ts, TRUE, &ts_expires, &ts_meta, error))
    goto unknown;
  sn_sha = g_hash_table_lookup (ts_meta, "snapshot");
  sn = storage_checksum (repo, gun, "snapshot", sn_sha, ctx, error);
  if (sn == NULL)
    {
      notary_stored_file_free (ts);
      return NULL;
    }
  if (!meta_facts (repo, gun, sn, FALSE, &sn_expires, &sn_meta, error))
    {
      notary_stored_file_free (sn);
      goto unknown;
    }
  /* Fast path: both still valid, and by construction the stored ts names
   * this snapshot. */
  if (ts_expires >= now && sn_expires >= now)
    {
      notary_stored_file_free (sn);
      return ts;
    }

  /* Something expired: regenerate with the current root's keys. */
  if (would_block (ctx, error))
    {
      notary_stored_file_free (sn);
      goto unknown;
    }
  if (!current_root (repo, gun, now, &root, &local_error) || root == NULL
      || notary_signed_is_expired (root->s, now))
    {
      notary_stored_file_free (sn);
      g_set_error (error, NOTARY_TUF_ERROR, NOTARY_TUF_ERROR_INVALID, "cannot refresh timestamp: %s",
                   local_error ? local_error->message : "root missing or expired");
      goto unknown;
    }
  sn_bytes = sn->data;
  if (sn_expires >= now)
    {
      /* Re-sign a timestamp only over a snapshot the current root vouches
       * for (§6 step 4). */
      g_autoptr (NotarySigned) cur_sn = notary_signed_parse (sn->data, error);
      if (cur_sn == NULL
          || !notary_signed_verify (cur_sn, root->keys, g_hash_table_lookup (root->roles, "snapshot"), error))
        {
          notary_stored_file_free (sn);
          goto unknown;
        }
    }
  else
    {
      UpdateCtx ctx = { repo, gun, now, root, NULL };
      g_autoptr (GHashTable) none
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_targets_free);
      g_autoptr (NotarySigned) gen = NULL;
      /* no targets loaded: every entry but root is kept from the current
       * snapshot, root is refreshed */
      ctx.targets = none;
      new_sn = generate_snapshot (&ctx, root->s->raw, error);
      if (new_sn == NULL)
        {
          notary_stored_file_free (sn);
          goto unknown;
        }
      gen = notary_signed_parse (new_sn, error);
      if (gen == NULL)
        {
          notary_stored_file_free (sn);
          goto unknown;
        }
      new_sn_version = gen->version;
      sn_bytes = new_sn;
    }
  new_ts = generate_timestamp (repo, gun, root, sn_bytes, now, &new_ts_version, error);
  notary_stored_file_free (sn);
  if (new_ts == NULL)
    goto unknown;
  if (new_sn != NULL)
    {
      sha_a = notary_sha256_hex (new_sn);
      updates[n++] = (NotaryStorageUpdate){ "snapshot", new_sn_version, new_sn, sha_a };
    }
  sha_b = notary_sha256_hex (new_ts);
  updates[n++] = (NotaryStorageUpdate){ "timestamp", new_ts_version, new_ts, sha_b };
  if (!repo->svt->update_many (repo->storage, gun, updates, n, error))
    goto unknown;
  notary_stored_file_free (ts);
  return stored_file_new (new_ts, new_ts_version, now);

unknown:
  notary_stored_file_free (ts);
  return NULL;
}

NotaryStoredFile *
notary_repo_get_current (NotaryRepo *repo, const char *gun, const char *role, GError **error)
{
  return notary_repo_get_current_after (repo, gun, role, NULL, FALSE, error);
}

NotaryStoredFile *
notary_repo_get_current_after (NotaryRepo *repo, const char *gun, const char *role, const NotaryRepoRead *read,
                               gboolean no_wait, GError **error)
{
  ReadCtx c = { read, no_wait };
  const ReadCtx *ctx = &c;

  if (g_str_equal (role, "timestamp"))
    return current_timestamp (repo, gun, ctx, error);
  if (g_str_equal (role, "snapshot"))
    {
      NotaryStoredFile *ts = current_timestamp (repo, gun, ctx, error);
      NotaryStoredFile *sn;
      if (ts == NULL)
        return NULL;
      sn = snapshot_named_by (repo, gun, ts, ctx, error);
      notary_stored_file_free (ts);
      return sn;
    }
  return current_via_snapshot_sha (repo, gun, role, ctx, NULL, error);
}

/* ---- server-held keys (§5) --------------------------------------------- */

static NotaryKey *
key_from_public (NotaryPublicKey *pk, GError **error)
{
  return notary_key_new (pk->keytype, pk->public_bytes, error);
}

NotaryKey *
notary_repo_rotate_key (NotaryRepo *repo, const char *gun, const char *role, GError **error)
{
  NotaryPublicKey *pk = repo->kvt->create_key (repo->signer, gun, role, NULL, error);
  NotaryKey *key;
  if (pk == NULL)
    return NULL;
  key = key_from_public (pk, error);
  notary_public_key_free (pk);
  return key;
}

NotaryKey *
notary_repo_get_or_create_key (NotaryRepo *repo, const char *gun, const char *role, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  NotaryStoredFile *f = current_via_snapshot (repo, gun, "root", &local_error);

  if (f == NULL && !is_not_found (local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (f != NULL)
    {
      g_autoptr (NotarySigned) s = notary_signed_parse (f->data, NULL);
      g_autoptr (NotaryRoot) root = s ? notary_root_new (s, NULL) : NULL;
      NotaryRoleKeys *rk = root ? g_hash_table_lookup (root->roles, role) : NULL;

      notary_stored_file_free (f);
      for (guint i = 0; rk != NULL && i < rk->keyids->len; i++)
        {
          NotaryKey *listed = g_hash_table_lookup (root->keys, rk->keyids->pdata[i]);
          NotaryPublicKey *pk;
          NotaryKey *key;

          g_clear_error (&local_error);
          pk = repo->kvt->get_key (repo->signer, notary_key_get_canonical_id (listed), &local_error);
          if (pk == NULL)
            {
              if (g_error_matches (local_error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND))
                continue;
              g_propagate_error (error, g_steal_pointer (&local_error));
              return NULL;
            }
          key = key_from_public (pk, error);
          notary_public_key_free (pk);
          return key;
        }
    }
  return notary_repo_rotate_key (repo, gun, role, error);
}

gboolean
notary_repo_delete (NotaryRepo *repo, const char *gun, GError **error)
{
  gboolean ok = repo->svt->delete_gun (repo->storage, gun, error);
  file_cache_purge_gun (repo, gun);
  return ok;
}

GPtrArray *
notary_repo_get_changes (NotaryRepo *repo, const char *gun, gint64 change_id, guint records, gboolean reversed,
                         GError **error)
{
  return repo->svt->get_changes (repo->storage, gun, change_id, records, reversed, error);
}

gboolean
notary_repo_check_health (NotaryRepo *repo, GHashTable *failures)
{
  g_autoptr (GError) db_error = NULL;
  g_autoptr (GError) trust_error = NULL;
  gboolean ok = TRUE;

  if (repo->svt->check_health != NULL && !repo->svt->check_health (repo->storage, &db_error))
    {
      g_hash_table_insert (failures, g_strdup ("DB operational"), g_strdup (db_error->message));
      ok = FALSE;
    }
  if (repo->kvt->check_health != NULL && !repo->kvt->check_health (repo->signer, &trust_error))
    {
      g_hash_table_insert (failures, g_strdup ("Trust operational"), g_strdup (trust_error->message));
      ok = FALSE;
    }
  return ok;
}
