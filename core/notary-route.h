/* notary-route.h — which of the reference's metadata routes a request
 * path is, and the variables it carries (server-api.md §2).
 *
 * The reference routes with gorilla/mux patterns, all of the form
 *
 *   /v2/{gun:[^*]+}/_trust/<tail>
 *
 * with one tail per route (NotaryRouteKind).  The GUN is greedy: of the
 * "/_trust/" separators in a path, the rightmost one whose tail fits (and
 * whose GUN holds no '*') wins, as in a backtracking regex.  Role names
 * follow `root|targets(?:/[^/\s]+)*|snapshot|timestamp`, with Go's \s
 * ([\t\n\f\r ]).
 *
 * Matched by hand, not with GRegex: six fixed shapes do not need a regex
 * engine, and loading and compiling PCRE2 for them cost the server
 * ~0.55 MiB of resident memory (libpcre2's pages and its JIT code).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  NOTARY_ROUTE_UPDATE,          /* <gun>/_trust/tuf/ (POST publish, DELETE) */
  NOTARY_ROUTE_ROLE,            /* <gun>/_trust/tuf/<role>.json */
  NOTARY_ROUTE_ROLE_BY_HASH,    /* <gun>/_trust/tuf/<role>.<checksum>.json */
  NOTARY_ROUTE_ROLE_BY_VERSION, /* <gun>/_trust/tuf/<version>.<role>.json */
  NOTARY_ROUTE_KEY,             /* <gun>/_trust/tuf/<snapshot|timestamp>.key */
  NOTARY_ROUTE_CHANGEFEED,      /* <gun>/_trust/changefeed */
} NotaryRouteKind;

/* A matched route's variables; NULL where the route has none.  @role is
 * the key role for NOTARY_ROUTE_KEY.  @checksum is 64, 96 or 128 hex
 * digits (either case), @version one or more decimal digits. */
typedef struct
{
  char *gun;
  char *role;
  char *checksum;
  char *version;
} NotaryRouteMatch;

/* Whether @path (decoded and clean, starting "/v2/") is route @kind; if
 * so and @match is not NULL, fills it (the caller clears it). */
gboolean notary_route_match (NotaryRouteKind kind, const char *path, NotaryRouteMatch *match);

/* Frees the variables and leaves @match empty. */
void notary_route_match_clear (NotaryRouteMatch *match);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NotaryRouteMatch, notary_route_match_clear)

G_END_DECLS
