/* notary-route.c — the reference's metadata routes, matched by hand
 * (see notary-route.h for the patterns and why not GRegex).
 *
 * Each tail is matched on a slice of the path (no copies until a match
 * is returned).  A slice of the tail is a (pointer, length) pair. */
#include "notary-route.h"

#include <string.h>

#define PREFIX "/v2/"
#define SEPARATOR "/_trust/"

typedef struct
{
  const char *p;
  gsize len;
} Slice;

/* What a tail matcher found: the slices a route carries (len 0: none). */
typedef struct
{
  Slice role, checksum, version;
} Vars;

static gboolean
slice_is (Slice s, const char *lit)
{
  gsize n = strlen (lit);
  return s.len == n && memcmp (s.p, lit, n) == 0;
}

static gboolean
has_prefix (Slice s, const char *lit)
{
  gsize n = strlen (lit);
  return s.len >= n && memcmp (s.p, lit, n) == 0;
}

static gboolean
has_suffix (Slice s, const char *lit)
{
  gsize n = strlen (lit);
  return s.len >= n && memcmp (s.p + s.len - n, lit, n) == 0;
}

/* Go's regexp \s: ASCII only (GRegex's, with Unicode, also took VT and
 * the Unicode spaces). */
static gboolean
is_go_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* root|targets(?:/[^/\s]+)*|snapshot|timestamp, the whole slice */
static gboolean
is_route_role (Slice s)
{
  if (slice_is (s, "root") || slice_is (s, "snapshot") || slice_is (s, "timestamp")
      || slice_is (s, "targets"))
    return TRUE;
  if (!has_prefix (s, "targets/"))
    return FALSE;
  /* one or more "/segment", each non-empty, no '/' or space */
  gsize seg_len = 0;
  for (gsize i = strlen ("targets/"); i < s.len; i++)
    {
      if (s.p[i] == '/')
        {
          if (seg_len == 0)
            return FALSE;
          seg_len = 0;
        }
      else if (is_go_space (s.p[i]))
        return FALSE;
      else
        seg_len++;
    }
  return seg_len > 0;
}

static gboolean
is_checksum (Slice s)
{
  if (s.len != 64 && s.len != 96 && s.len != 128)
    return FALSE;
  for (gsize i = 0; i < s.len; i++)
    if (!g_ascii_isxdigit (s.p[i]))
      return FALSE;
  return TRUE;
}

/* tuf/<x>.json -> x; FALSE when the tail is not of that shape */
static gboolean
json_under_tuf (Slice tail, Slice *x)
{
  if (!has_prefix (tail, "tuf/") || !has_suffix (tail, ".json") || tail.len < strlen ("tuf/.json"))
    return FALSE;
  *x = (Slice){ tail.p + 4, tail.len - 4 - 5 };
  return TRUE;
}

static gboolean
tail_matches (NotaryRouteKind kind, Slice tail, Vars *v)
{
  Slice x;

  switch (kind)
    {
    case NOTARY_ROUTE_UPDATE:
      return slice_is (tail, "tuf/");
    case NOTARY_ROUTE_CHANGEFEED:
      return slice_is (tail, "changefeed");
    case NOTARY_ROUTE_KEY:
      if (!slice_is (tail, "tuf/snapshot.key") && !slice_is (tail, "tuf/timestamp.key"))
        return FALSE;
      v->role = (Slice){ tail.p + 4, tail.len - 4 - 4 };
      return TRUE;
    case NOTARY_ROUTE_ROLE:
      if (!json_under_tuf (tail, &x) || !is_route_role (x))
        return FALSE;
      v->role = x;
      return TRUE;
    case NOTARY_ROUTE_ROLE_BY_HASH:
      {
        /* <role>.<checksum>: the checksum holds no '.', so it starts
         * after the last one */
        const char *dot;
        if (!json_under_tuf (tail, &x))
          return FALSE;
        for (dot = x.p + x.len; dot > x.p && dot[-1] != '.'; dot--)
          ;
        if (dot == x.p)
          return FALSE;
        dot--;
        v->role = (Slice){ x.p, dot - x.p };
        v->checksum = (Slice){ dot + 1, x.p + x.len - dot - 1 };
        return is_checksum (v->checksum) && is_route_role (v->role);
      }
    case NOTARY_ROUTE_ROLE_BY_VERSION:
      {
        /* <digits>.<role>: no role starts with a digit */
        gsize n = 0;
        if (!json_under_tuf (tail, &x))
          return FALSE;
        while (n < x.len && g_ascii_isdigit (x.p[n]))
          n++;
        if (n == 0 || n == x.len || x.p[n] != '.')
          return FALSE;
        v->version = (Slice){ x.p, n };
        v->role = (Slice){ x.p + n + 1, x.len - n - 1 };
        return is_route_role (v->role);
      }
    }
  return FALSE;
}

static char *
slice_dup (Slice s)
{
  return s.p != NULL ? g_strndup (s.p, s.len) : NULL;
}

gboolean
notary_route_match (NotaryRouteKind kind, const char *path, NotaryRouteMatch *match)
{
  gsize len = strlen (path);
  gsize sep_len = strlen (SEPARATOR);
  gsize gun_start = strlen (PREFIX);
  const char *star;
  gsize last;

  if (strncmp (path, PREFIX, gun_start) != 0 || len < gun_start + 1 + sep_len)
    return FALSE;
  /* The GUN ([^*]+) ends before the first '*', if any. */
  star = strchr (path + gun_start, '*');
  last = (star != NULL ? (gsize)(star - path) : len - sep_len);
  if (last > len - sep_len)
    last = len - sep_len;
  /* Greedy GUN: try the separators from the rightmost one. */
  for (gsize i = last + 1; i-- > gun_start + 1;)
    {
      Vars v = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
      Slice tail;

      if (memcmp (path + i, SEPARATOR, sep_len) != 0)
        continue;
      tail = (Slice){ path + i + sep_len, len - i - sep_len };
      if (!tail_matches (kind, tail, &v))
        continue;
      if (match != NULL)
        {
          match->gun = g_strndup (path + gun_start, i - gun_start);
          match->role = slice_dup (v.role);
          match->checksum = slice_dup (v.checksum);
          match->version = slice_dup (v.version);
        }
      return TRUE;
    }
  return FALSE;
}

void
notary_route_match_clear (NotaryRouteMatch *match)
{
  g_clear_pointer (&match->gun, g_free);
  g_clear_pointer (&match->role, g_free);
  g_clear_pointer (&match->checksum, g_free);
  g_clear_pointer (&match->version, g_free);
}
