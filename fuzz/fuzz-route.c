/* fuzz-route.c — the URL router (core/notary-route.c) against the
 * reference's own route patterns.
 *
 * The router matches the reference's gorilla/mux routes by hand (see
 * notary-route.h for why not with a regex engine); here the same patterns
 * are compiled with GRegex, a backtracking engine whose preferences
 * (greedy, leftmost-first) are Go's, and both must agree on every path:
 * whether it is the route, and the GUN, role, checksum and version it
 * carries.  A disagreement is a path the reference routes one way and we
 * another.  Go's \s is ASCII ([\t\n\f\r ]), spelled out below; the
 * patterns are compiled as raw bytes, as Go's [^/\s] also takes bytes
 * that are not UTF-8. */
#include "fuzz-target.h"

#include "notary-route.h"

#define GUN "/v2/(?<gun>[^*]+)/_trust/"
#define ROLE "(?<role>root|targets(?:/[^/\\t\\n\\f\\r ]+)*|snapshot|timestamp)"

static const char *const patterns[] = {
  [NOTARY_ROUTE_UPDATE] = "\\A" GUN "tuf/\\z",
  [NOTARY_ROUTE_ROLE] = "\\A" GUN "tuf/" ROLE "\\.json\\z",
  [NOTARY_ROUTE_ROLE_BY_HASH]
  = "\\A" GUN "tuf/" ROLE "\\.(?<checksum>[a-fA-F0-9]{64}|[a-fA-F0-9]{96}|[a-fA-F0-9]{128})\\.json\\z",
  [NOTARY_ROUTE_ROLE_BY_VERSION] = "\\A" GUN "tuf/(?<version>[1-9]*[0-9]+)\\." ROLE "\\.json\\z",
  [NOTARY_ROUTE_KEY] = "\\A" GUN "tuf/(?<role>snapshot|timestamp)\\.key\\z",
  [NOTARY_ROUTE_CHANGEFEED] = "\\A" GUN "changefeed\\z",
};

static GRegex *
compiled (NotaryRouteKind kind)
{
  /* Compiled once per process: the harness's own state, not the code's. */
  static GRegex *regexes[G_N_ELEMENTS (patterns)];
  if (regexes[kind] == NULL)
    {
      g_autoptr (GError) error = NULL;
      regexes[kind] = g_regex_new (patterns[kind], G_REGEX_RAW | G_REGEX_DOTALL, 0, &error);
      if (regexes[kind] == NULL)
        fuzz_fail ("pattern %d: %s", kind, error->message);
    }
  return regexes[kind];
}

static void
expect_same (NotaryRouteKind kind, const char *path, const char *name, const char *ours, GMatchInfo *info)
{
  g_autofree char *theirs = g_match_info_fetch_named (info, name);
  if (theirs != NULL && theirs[0] == '\0')
    g_clear_pointer (&theirs, g_free); /* a group that took no part */
  if (g_strcmp0 (ours, theirs) != 0)
    fuzz_fail ("route %d, path \"%s\": %s is \"%s\", the reference's pattern says \"%s\"", kind, path,
               name, ours ? ours : "(none)", theirs ? theirs : "(none)");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* The HTTP layer hands the router NUL-terminated, decoded paths. */
  if (memchr (data, '\0', size) != NULL)
    return 0;
  g_autofree char *path = g_strndup ((const char *) data, size);

  for (NotaryRouteKind kind = NOTARY_ROUTE_UPDATE; kind <= NOTARY_ROUTE_CHANGEFEED; kind++)
    {
      g_auto (NotaryRouteMatch) m = { 0 };
      g_autoptr (GMatchInfo) info = NULL;
      gboolean ours = notary_route_match (kind, path, &m);
      gboolean theirs = g_regex_match (compiled (kind), path, 0, &info);
      if (ours != theirs)
        fuzz_fail ("route %d, path \"%s\": ours %s, the reference's pattern %s", kind, path,
                   ours ? "matches" : "does not match", theirs ? "matches" : "does not");
      if (!ours)
        continue;
      expect_same (kind, path, "gun", m.gun, info);
      expect_same (kind, path, "role", m.role, info);
      if (kind == NOTARY_ROUTE_ROLE_BY_HASH)
        expect_same (kind, path, "checksum", m.checksum, info);
      if (kind == NOTARY_ROUTE_ROLE_BY_VERSION)
        expect_same (kind, path, "version", m.version, info);
    }
  return 0;
}
