/* notary-recent.h — a bounded cache of the newest versions of each name.
 *
 * The repository caches facts about and bytes of content-addressed files
 * (a GUN's snapshot by its checksum, the role -> checksum map a timestamp
 * lists).  Keyed by checksum alone, such a cache fills with history: every
 * publish to a repository adds a timestamp, a snapshot and their facts that
 * nobody reads once the next publish lands, and they stayed until the
 * cache's bound cleared it (the MySQL-mode bench: +1.9 MiB of peak RSS
 * from 6,000 publishes to one GUN, held until exit).  A NotaryRecent keeps,
 * per name ("<gun>\n<role>"), only the NOTARY_RECENT_PER_NAME versions
 * inserted last: the current one, and the one a client that read the
 * previous timestamp a moment before a publish still asks for.  Memory is
 * then bounded by repositories, not by publishes.
 *
 * Each entry is identified within its name by an id (the sha256 hex of its
 * bytes) and counts @bytes toward the cache's byte bound.  Past either
 * bound, an insert first empties the whole cache: a hot set refills at
 * once, and it needs no recency list per access.
 *
 * Not thread-safe: the caller holds its lock around every call.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NOTARY_RECENT_PER_NAME 2

typedef struct _NotaryRecent NotaryRecent;

/* Called for each value the cache lets go of (replaced, pushed out by a
 * newer version, cleared, removed, or at free), with @drop_data. */
typedef void (*NotaryRecentDrop) (gpointer value, gpointer drop_data);

/* At most @max_names names and @max_bytes bytes of values. */
NotaryRecent *notary_recent_new (guint max_names, gsize max_bytes, NotaryRecentDrop drop, gpointer drop_data);
void notary_recent_free (NotaryRecent *cache);

/* \return (transfer none) the value stored for @name with @id, or NULL.
 * Valid until the next call that changes the cache. */
gpointer notary_recent_lookup (NotaryRecent *cache, const char *name, const char *id);

/* Stores (transfer full) @value as the newest version of @name.  An entry
 * with the same @id is replaced; otherwise the oldest of @name's versions
 * goes once there are NOTARY_RECENT_PER_NAME.  A value of more than the
 * byte bound on its own is dropped at once. */
void notary_recent_insert (NotaryRecent *cache, const char *name, const char *id, gpointer value, gsize bytes);

/* Drops every name that starts with @prefix (a deleted GUN's "<gun>\n"). */
void notary_recent_remove_prefix (NotaryRecent *cache, const char *prefix);

guint notary_recent_count (NotaryRecent *cache); /* values held (counts them) */
gsize notary_recent_bytes (NotaryRecent *cache); /* their @bytes, summed */

G_END_DECLS
