/* notary-recent.c — the newest versions of each name; see notary-recent.h. */
#include "notary-recent.h"

#include <string.h>

typedef struct
{
  char *id;
  gpointer value;
  gsize bytes;
} Version;

/* A name's versions, newest first; unused ones have id NULL. */
typedef struct
{
  NotaryRecent *cache;
  Version v[NOTARY_RECENT_PER_NAME];
} Versions;

struct _NotaryRecent
{
  GHashTable *names; /* name -> Versions* */
  guint max_names;
  gsize max_bytes;
  gsize bytes;
  NotaryRecentDrop drop;
  gpointer drop_data;
};

static void
version_clear (NotaryRecent *cache, Version *v)
{
  if (v->id == NULL)
    return;
  cache->bytes -= v->bytes;
  g_clear_pointer (&v->id, g_free);
  cache->drop (g_steal_pointer (&v->value), cache->drop_data);
  v->bytes = 0;
}

static void
versions_free (Versions *vs)
{
  for (guint i = 0; i < NOTARY_RECENT_PER_NAME; i++)
    version_clear (vs->cache, &vs->v[i]);
  g_free (vs);
}

NotaryRecent *
notary_recent_new (guint max_names, gsize max_bytes, NotaryRecentDrop drop, gpointer drop_data)
{
  NotaryRecent *cache;

  g_return_val_if_fail (drop != NULL, NULL);
  cache = g_new0 (NotaryRecent, 1);
  cache->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) versions_free);
  cache->max_names = MAX (max_names, 1);
  cache->max_bytes = max_bytes;
  cache->drop = drop;
  cache->drop_data = drop_data;
  return cache;
}

void
notary_recent_free (NotaryRecent *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->names);
  g_free (cache);
}

gpointer
notary_recent_lookup (NotaryRecent *cache, const char *name, const char *id)
{
  Versions *vs = g_hash_table_lookup (cache->names, name);

  if (vs == NULL)
    return NULL;
  for (guint i = 0; i < NOTARY_RECENT_PER_NAME; i++)
    if (vs->v[i].id != NULL && strcmp (vs->v[i].id, id) == 0)
      return vs->v[i].value;
  return NULL;
}

void
notary_recent_insert (NotaryRecent *cache, const char *name, const char *id, gpointer value, gsize bytes)
{
  Versions *vs = g_hash_table_lookup (cache->names, name);
  guint at = NOTARY_RECENT_PER_NAME - 1; /* the slot that goes: the oldest */

  if (bytes > cache->max_bytes)
    {
      cache->drop (value, cache->drop_data); /* would not fit even alone */
      return;
    }
  /* Over a bound: start over rather than track recency across names. */
  if ((vs == NULL && g_hash_table_size (cache->names) >= cache->max_names)
      || bytes > cache->max_bytes - cache->bytes)
    {
      g_hash_table_remove_all (cache->names);
      vs = NULL;
    }
  if (vs == NULL)
    {
      vs = g_new0 (Versions, 1);
      vs->cache = cache;
      g_hash_table_insert (cache->names, g_strdup (name), vs);
    }
  for (guint i = 0; i < NOTARY_RECENT_PER_NAME; i++)
    if (vs->v[i].id != NULL && strcmp (vs->v[i].id, id) == 0)
      at = i;
  version_clear (cache, &vs->v[at]);
  memmove (&vs->v[1], &vs->v[0], at * sizeof (Version));
  vs->v[0] = (Version){ g_strdup (id), value, bytes };
  cache->bytes += bytes;
}

void
notary_recent_remove_prefix (NotaryRecent *cache, const char *prefix)
{
  GHashTableIter it;
  gpointer k;

  g_hash_table_iter_init (&it, cache->names);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (g_str_has_prefix (k, prefix))
      g_hash_table_iter_remove (&it);
}

guint
notary_recent_count (NotaryRecent *cache)
{
  GHashTableIter it;
  gpointer v;
  guint n = 0;

  g_hash_table_iter_init (&it, cache->names);
  while (g_hash_table_iter_next (&it, NULL, &v))
    for (guint i = 0; i < NOTARY_RECENT_PER_NAME; i++)
      n += ((Versions *)v)->v[i].id != NULL;
  return n;
}

gsize
notary_recent_bytes (NotaryRecent *cache)
{
  return cache->bytes;
}
