/* notary-tuf.h — TUF metadata as notary-server sees it: the signed
 * envelope, the four role bodies, signature thresholds, and the typed
 * validation errors the client understands.
 *
 * Parsing never trusts the uploaded `signed` text: signatures are checked
 * over its canonical re-encoding (tuf-metadata.md §2), and hashes are
 * always taken over the exact stored bytes.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "notary-keys.h"

G_BEGIN_DECLS

/* ---- typed validation errors (server-api.md §6.2) -------------------- */

#define NOTARY_VALIDATION_ERROR (notary_validation_error_quark ())
GQuark notary_validation_error_quark (void);

typedef enum
{
  NOTARY_VALIDATION_ERROR_VALIDATION,    /* ErrValidation */
  NOTARY_VALIDATION_ERROR_BAD_HIERARCHY, /* ErrBadHierarchy (Missing: snapshot) */
  NOTARY_VALIDATION_ERROR_BAD_ROOT,      /* ErrBadRoot */
  NOTARY_VALIDATION_ERROR_BAD_TARGETS,   /* ErrBadTargets */
  NOTARY_VALIDATION_ERROR_BAD_SNAPSHOT,  /* ErrBadSnapshot */
} NotaryValidationError;

/* "ErrValidation", "ErrBadRoot", … */
const char *notary_validation_error_name (NotaryValidationError code);

/* Low-level TUF failures (parse, signature, body) before they are typed. */
#define NOTARY_TUF_ERROR (notary_tuf_error_quark ())
GQuark notary_tuf_error_quark (void);

typedef enum
{
  NOTARY_TUF_ERROR_MALFORMED, /* not a TUF envelope (-> MALFORMED_JSON on upload) */
  NOTARY_TUF_ERROR_INVALID,   /* body invalid for its role */
  NOTARY_TUF_ERROR_SIGNATURE, /* threshold not met */
  NOTARY_TUF_ERROR_EXPIRED,
  NOTARY_TUF_ERROR_VERSION,   /* below the minimum version */
  NOTARY_TUF_ERROR_HASH,      /* checksum mismatch */
} NotaryTufError;

/* ---- roles ------------------------------------------------------------ */

/* "root", "targets", "snapshot", "timestamp" or a valid delegation name
 * (tuf-metadata.md §8). */
gboolean notary_role_is_valid (const char *role);
gboolean notary_role_is_delegation (const char *role);
/* "targets" or a delegation. */
gboolean notary_role_is_targets_type (const char *role);
/* Parent of a delegation ("targets/a/b" -> "targets/a"). (transfer full) */
char *notary_role_parent (const char *role);
/* Upload processing order: fewer '/' segments first, then bytes. */
gint notary_role_compare (gconstpointer a, gconstpointer b);

/* GUN validity (ours, stricter than the reference, TUF-01-004): 1..255
 * bytes of '/'-separated non-empty segments, none "." or "..", made of
 * [A-Za-z0-9._:@+-]; not containing "/_trust/". */
gboolean notary_gun_is_valid (const char *gun);

/* ---- the signed envelope --------------------------------------------- */

typedef struct
{
  char *keyid;
  char *method; /* lower-cased */
  GBytes *sig;
} NotarySignature;

typedef struct
{
  gint ref_count;
  GBytes *raw;              /* exact bytes as stored/uploaded */
  JsonNode *tree;           /* parsed envelope; a signed.targets map is {} here (notary_json_parse_split) */
  JsonObject *signed_obj;   /* (transfer none) the "signed" member */
  GBytes *canonical_signed; /* canonical bytes of "signed" */
  GPtrArray *signatures;    /* NotarySignature* */
  char *type;               /* signed._type */
  gint64 version;           /* signed.version */
  gint64 expires;           /* signed.expires, unix seconds */
  char *sha256_hex;         /* of raw */
} NotarySigned;

/* Parse an envelope: strict JSON, object with "signed" object and
 * "signatures" array of {keyid, method, sig(base64)}, signed._type string,
 * signed.version integer in [0, G_MAXINT64], signed.expires RFC 3339.
 * Unknown top-level members are rejected (Cure53 TUF-01-001: nothing
 * outside the signed part may be stored).  MALFORMED on any failure. */
NotarySigned *notary_signed_parse (GBytes *raw, GError **error);
NotarySigned *notary_signed_ref (NotarySigned *s);
void notary_signed_unref (NotarySigned *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySigned, notary_signed_unref)

gboolean notary_signed_is_expired (NotarySigned *s, gint64 now);

/* A role's keys and threshold. */
typedef struct
{
  char *name;
  GPtrArray *keyids; /* char* */
  gint64 threshold;
  GPtrArray *paths;  /* char*, delegations only (may be NULL) */
} NotaryRoleKeys;

void notary_role_keys_free (NotaryRoleKeys *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryRoleKeys, notary_role_keys_free)

/* Count distinct key IDs of @role that carry a valid signature over
 * s->canonical_signed, looking keys up in @keys (id -> NotaryKey*).  A
 * signature's keyid must equal the key's TUF ID.  Unknown IDs and bad
 * signatures are skipped.  SIGNATURE error when the count < threshold or
 * there are no signatures. */
gboolean notary_signed_verify (NotarySigned *s, GHashTable *keys, NotaryRoleKeys *role, GError **error);

/* ---- role bodies ------------------------------------------------------ */

/* Immutable once built; reference-counted so a verified root can be shared
 * by concurrent updates (notary-repo caches the trusted current root). */
typedef struct
{
  gatomicrefcount ref;
  NotarySigned *s;
  GHashTable *keys;  /* keyid -> NotaryKey* */
  GHashTable *roles; /* name -> NotaryRoleKeys* (the four base roles at least) */
} NotaryRoot;

typedef struct
{
  NotarySigned *s;
  GHashTable *delegation_keys; /* keyid -> NotaryKey* */
  GPtrArray *delegations;      /* NotaryRoleKeys* */
} NotaryTargets;

typedef struct
{
  gint64 length;
  GBytes *sha256; /* raw digest or NULL */
  GBytes *sha512; /* raw digest or NULL */
} NotaryFileMeta;

typedef struct
{
  NotarySigned *s;
  GHashTable *meta; /* role -> NotaryFileMeta* */
} NotaryMetaRole;   /* snapshot or timestamp */

/* Body validation per tuf-metadata.md §5.  INVALID on failure. */
NotaryRoot *notary_root_new (NotarySigned *s, GError **error);
NotaryRoot *notary_root_ref (NotaryRoot *r);
/* Drops one reference; frees on the last. */
void notary_root_free (NotaryRoot *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryRoot, notary_root_free)

/* @role_name: the name this file is for ("targets" or "targets/x"). */
NotaryTargets *notary_targets_new (NotarySigned *s, const char *role_name, GError **error);
void notary_targets_free (NotaryTargets *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryTargets, notary_targets_free)
NotaryRoleKeys *notary_targets_find_delegation (NotaryTargets *t, const char *name);

NotaryMetaRole *notary_snapshot_new (NotarySigned *s, GError **error);
NotaryMetaRole *notary_timestamp_new (NotarySigned *s, GError **error);
void notary_meta_role_free (NotaryMetaRole *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryMetaRole, notary_meta_role_free)

/* Every known hash in @meta matches @data (and at least one is present).
 * HASH error otherwise. */
gboolean notary_file_meta_check (NotaryFileMeta *meta, GBytes *data, const char *role, GError **error);
/* Lowercase hex of meta->sha256, or NULL. */
char *notary_file_meta_sha256_hex (NotaryFileMeta *meta);

/* ---- writing server-generated metadata -------------------------------- */

/* Append canonical filemeta {"hashes":{"sha256","sha512"},"length"} of @data. */
void notary_write_file_meta (GString *out, GBytes *data);

/* Wrap canonical @signed_bytes and signatures into the envelope bytes
 * {"signed":…,"signatures":[{"keyid","method","sig"}…]}.  @sigs holds
 * NotarySignature*. */
GBytes *notary_envelope_build (GBytes *signed_bytes, GPtrArray *sigs);

void notary_signature_free (NotarySignature *sig);

G_END_DECLS
