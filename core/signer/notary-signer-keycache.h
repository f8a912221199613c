/* notary-signer-keycache.h — decrypted private keys of an SQL key store,
 * kept so PBKDF2 (about 1 ms at the reference's p2c of 8192) and a SELECT
 * run once per key, not once per signature.
 *
 * Bounded, least recently used first out: a signer serving many
 * repositories holds one timestamp key per repository, and a cache that
 * only grows (the reference's) turns every repository ever signed for
 * into resident memory, about 3.5 KiB per key.  An evicted key is simply
 * read and decrypted again on its next use.
 *
 * Thread-safe: every call takes the cache's lock.
 */
#pragma once

#include <glib.h>

#include "notary-keys.h"

G_BEGIN_DECLS

/* storage.key_cache_size when the configuration does not set it: about
 * 14 MiB at most.  A key is usually made (the client fetching
 * timestamp.key) shortly before its first signature, but a burst of new
 * repositories can put thousands of creations in between: with 1,024 the
 * bench's 2,000 key fetches followed by 2,000 publishes missed for half
 * of them and MySQL-mode publishes fell from ~650/s to ~430/s. */
#define NOTARY_SIGNER_KEY_CACHE_DEFAULT 4096

typedef struct _NotarySignerKeyCache NotarySignerKeyCache;

/* @capacity 0 keeps nothing (every signature decrypts its key). */
NotarySignerKeyCache *notary_signer_key_cache_new (guint capacity);
void notary_signer_key_cache_free (NotarySignerKeyCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySignerKeyCache, notary_signer_key_cache_free)

/* \return (transfer full) the key, or NULL; a hit makes it the most
 * recently used.  @out_role (transfer full) and @out_used may be NULL. */
NotaryPrivateKey *notary_signer_key_cache_lookup (NotarySignerKeyCache *cache, const char *key_id,
                                                  char **out_role, gboolean *out_used);

/* Adds or replaces @key_id as the most recently used entry, evicting the
 * least recently used ones beyond the capacity. */
void notary_signer_key_cache_store (NotarySignerKeyCache *cache, const char *key_id, NotaryPrivateKey *key,
                                    const char *role, gboolean used);

/* Records that the key's row is marked used (no-op when not cached). */
void notary_signer_key_cache_set_used (NotarySignerKeyCache *cache, const char *key_id);

void notary_signer_key_cache_remove (NotarySignerKeyCache *cache, const char *key_id);

guint notary_signer_key_cache_size (NotarySignerKeyCache *cache);

G_END_DECLS
