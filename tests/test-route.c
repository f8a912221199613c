/* test-route.c — notary-route.c: the reference's metadata routes.
 *
 * Besides a table of cases, each route is checked against the
 * reference's own pattern (gorilla/mux regexes, with Go's ASCII \s),
 * compiled here with GRegex in byte mode as the oracle, over generated
 * paths built from the pieces routes are made of. */
#include "notary-route.h"

#include <string.h>

#define HEX64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"
#define HEX32 "0123456789abcdef0123456789abcdef"

typedef struct
{
  const char *path;
  NotaryRouteKind kind;
  gboolean matches;
  const char *gun, *role, *checksum, *version;
} Case;

static const Case cases[] = {
  { "/v2/docker.io/library/alpine/_trust/tuf/", NOTARY_ROUTE_UPDATE, TRUE, "docker.io/library/alpine" },
  { "/v2/a/_trust/tuf", NOTARY_ROUTE_UPDATE, FALSE },
  { "/v2//_trust/tuf/", NOTARY_ROUTE_UPDATE, FALSE },
  { "/v2/a*b/_trust/tuf/", NOTARY_ROUTE_UPDATE, FALSE },
  { "/v3/a/_trust/tuf/", NOTARY_ROUTE_UPDATE, FALSE },
  { "/v2/a/_trust/tuf/root.json", NOTARY_ROUTE_ROLE, TRUE, "a", "root" },
  { "/v2/a/_trust/tuf/targets/releases.json", NOTARY_ROUTE_ROLE, TRUE, "a", "targets/releases" },
  { "/v2/a/_trust/tuf/targets/x/y.json", NOTARY_ROUTE_ROLE, TRUE, "a", "targets/x/y" },
  { "/v2/a/_trust/tuf/targets/.json", NOTARY_ROUTE_ROLE, FALSE },
  { "/v2/a/_trust/tuf/targets/a b.json", NOTARY_ROUTE_ROLE, FALSE },
  { "/v2/a/_trust/tuf/targets/a\vb.json", NOTARY_ROUTE_ROLE, TRUE, "a",
    "targets/a\vb" }, /* Go's \s has no VT */
  { "/v2/a/_trust/tuf/foo.json", NOTARY_ROUTE_ROLE, FALSE },
  { "/v2/a/_trust/tuf/root.json.json", NOTARY_ROUTE_ROLE, FALSE },
  /* greedy GUN: the rightmost separator that fits */
  { "/v2/a/_trust/tuf/b/_trust/tuf/root.json", NOTARY_ROUTE_ROLE, TRUE, "a/_trust/tuf/b", "root" },
  { "/v2/a/_trust/tuf/targets/_trust/x.json", NOTARY_ROUTE_ROLE, TRUE, "a", "targets/_trust/x" },
  /* a '*' rules the rightmost separator out, not the role */
  { "/v2/a/_trust/tuf/targets/*/_trust/tuf/root.json", NOTARY_ROUTE_ROLE, TRUE, "a",
    "targets/*/_trust/tuf/root" },
  { "/v2/a*/_trust/tuf/b/_trust/tuf/root.json", NOTARY_ROUTE_ROLE, FALSE },
  { "/v2/a/_trust/tuf/targets." HEX64 ".json", NOTARY_ROUTE_ROLE_BY_HASH, TRUE, "a", "targets", HEX64 },
  { "/v2/a/_trust/tuf/targets/b.c." HEX64 ".json", NOTARY_ROUTE_ROLE_BY_HASH, TRUE, "a", "targets/b.c",
    HEX64 },
  { "/v2/a/_trust/tuf/root." HEX64 HEX32 ".json", NOTARY_ROUTE_ROLE_BY_HASH, TRUE, "a", "root", HEX64 HEX32 },
  { "/v2/a/_trust/tuf/root." HEX64 HEX64 ".json", NOTARY_ROUTE_ROLE_BY_HASH, TRUE, "a", "root", HEX64 HEX64 },
  { "/v2/a/_trust/tuf/root." HEX64 "0.json", NOTARY_ROUTE_ROLE_BY_HASH, FALSE },
  { "/v2/a/_trust/tuf/root." HEX32 ".json", NOTARY_ROUTE_ROLE_BY_HASH, FALSE },
  { "/v2/a/_trust/tuf/bogus." HEX64 ".json", NOTARY_ROUTE_ROLE_BY_HASH, FALSE },
  { "/v2/a/_trust/tuf/3.root.json", NOTARY_ROUTE_ROLE_BY_VERSION, TRUE, "a", "root", NULL, "3" },
  { "/v2/a/_trust/tuf/007.targets/x.json", NOTARY_ROUTE_ROLE_BY_VERSION, TRUE, "a", "targets/x", NULL,
    "007" },
  { "/v2/a/_trust/tuf/3.json", NOTARY_ROUTE_ROLE_BY_VERSION, FALSE },
  { "/v2/a/_trust/tuf/-3.root.json", NOTARY_ROUTE_ROLE_BY_VERSION, FALSE },
  { "/v2/a/_trust/tuf/timestamp.key", NOTARY_ROUTE_KEY, TRUE, "a", "timestamp" },
  { "/v2/a/_trust/tuf/snapshot.key", NOTARY_ROUTE_KEY, TRUE, "a", "snapshot" },
  { "/v2/a/_trust/tuf/root.key", NOTARY_ROUTE_KEY, FALSE },
  { "/v2/a/b/_trust/changefeed", NOTARY_ROUTE_CHANGEFEED, TRUE, "a/b" },
  { "/v2/_trust/changefeed", NOTARY_ROUTE_CHANGEFEED, FALSE },
  { "/v2/a/_trust/changefeed/", NOTARY_ROUTE_CHANGEFEED, FALSE },
};

static void
test_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_auto (NotaryRouteMatch) m = { NULL };
      gboolean got = notary_route_match (c->kind, c->path, &m);

      g_test_message ("%s", c->path);
      g_assert_cmpint (got, ==, c->matches);
      g_assert_cmpint (notary_route_match (c->kind, c->path, NULL), ==, c->matches);
      if (!got)
        {
          g_assert_null (m.gun);
          continue;
        }
      g_assert_cmpstr (m.gun, ==, c->gun);
      g_assert_cmpstr (m.role, ==, c->role);
      g_assert_cmpstr (m.checksum, ==, c->checksum);
      g_assert_cmpstr (m.version, ==, c->version);
    }
}

/* ---- against the reference's patterns ---------------------------------- */

#define ROLE_RE "(?P<role>root|targets(?:/[^/\\t\\n\\f\\r ]+)*|snapshot|timestamp)"
#define GUN_RE "^/v2/(?P<gun>[^*]+)/_trust/"

static const char *const oracle_patterns[] = {
  [NOTARY_ROUTE_UPDATE] = GUN_RE "tuf/$",
  [NOTARY_ROUTE_ROLE] = GUN_RE "tuf/" ROLE_RE "\\.json$",
  [NOTARY_ROUTE_ROLE_BY_HASH]
  = GUN_RE "tuf/" ROLE_RE "\\.(?P<checksum>[a-fA-F0-9]{64}|[a-fA-F0-9]{96}|[a-fA-F0-9]{128})\\.json$",
  [NOTARY_ROUTE_ROLE_BY_VERSION] = GUN_RE "tuf/(?P<version>[1-9]*[0-9]+)\\." ROLE_RE "\\.json$",
  [NOTARY_ROUTE_KEY] = GUN_RE "tuf/(?P<role>snapshot|timestamp)\\.key$",
  [NOTARY_ROUTE_CHANGEFEED] = GUN_RE "changefeed$",
};

static const char *const pieces[] = {
  "/",     "/",          "a",        "b.c",  "_trust",   "/_trust/",  "/_trust/", "tuf",   "tuf/",
  "/tuf/", "targets",    "targets/", "root", "snapshot", "timestamp", ".",        ".json", ".json",
  ".key",  "changefeed", "*",        " ",    "\t",       "\v",        "\n",       "\f",    "\r",
  "0",     "12",         HEX32,      HEX64,  "AbC",      "/v2/",
};

static const char *
pick (GRand *rand, const char *const *from, gsize n)
{
  return from[g_rand_int_range (rand, 0, n)];
}
#define PICK(rand, array) pick (rand, array, G_N_ELEMENTS (array))

static const char *const roles[]
    = { "root",        "targets",  "targets/a", "targets/a/b.c", "targets/", "targets//a",
        "targets/a b", "snapshot", "timestamp", "tuf",           "*",        "" };
static const char *const checksums[] = { HEX64, HEX64 HEX32, HEX64 HEX64, HEX32, HEX64 "0", HEX64 ".", "" };
static const char *const versions[] = { "0", "12", "007", "", "1a", "." };
static const char *const tails[]
    = { "tuf/", "tuf/%r.json", "tuf/%r.%c.json", "tuf/%v.%r.json", "tuf/%r.key", "changefeed", "tuf", "%r" };

/* "/v2/" + GUN-ish pieces + "/_trust/" + a route's tail with random
 * parts, now and then with a random piece spliced in anywhere. */
static char *
generated_path (GRand *rand)
{
  GString *s = g_string_new ("/v2/");
  int n = g_rand_int_range (rand, 0, 4);

  for (int i = 0; i < n; i++)
    g_string_append (s, PICK (rand, pieces));
  g_string_append (s, g_rand_boolean (rand) ? "x" : "");
  if (g_rand_int_range (rand, 0, 8) != 0)
    g_string_append (s, "/_trust/");
  for (const char *t = PICK (rand, tails); *t != '\0'; t++)
    {
      if (*t != '%')
        {
          g_string_append_c (s, *t);
          continue;
        }
      t++;
      g_string_append (s, *t == 'r'   ? PICK (rand, roles)
                          : *t == 'c' ? PICK (rand, checksums)
                                      : PICK (rand, versions));
    }
  if (g_rand_int_range (rand, 0, 4) == 0)
    g_string_insert (s, g_rand_int_range (rand, 0, s->len + 1), PICK (rand, pieces));
  return g_string_free (s, FALSE);
}

static void
check_against_oracle (GRegex *const *oracles, const char *path)
{
  for (int k = NOTARY_ROUTE_UPDATE; k <= NOTARY_ROUTE_CHANGEFEED; k++)
    {
      g_autoptr (GMatchInfo) mi = NULL;
      g_auto (NotaryRouteMatch) m = { NULL };
      gboolean want = g_regex_match (oracles[k], path, 0, &mi);
      gboolean got = notary_route_match (k, path, &m);

      if (want != got)
        g_error ("route %d, path \"%s\": oracle %d, ours %d", k, g_strescape (path, NULL), want, got);
      if (!want)
        continue;
      g_autofree char *gun = g_match_info_fetch_named (mi, "gun");
      g_assert_cmpstr (m.gun, ==, gun);
      if (k != NOTARY_ROUTE_UPDATE && k != NOTARY_ROUTE_CHANGEFEED)
        {
          g_autofree char *role = g_match_info_fetch_named (mi, "role");
          g_assert_cmpstr (m.role, ==, role);
        }
      if (k == NOTARY_ROUTE_ROLE_BY_HASH)
        {
          g_autofree char *checksum = g_match_info_fetch_named (mi, "checksum");
          g_assert_cmpstr (m.checksum, ==, checksum);
        }
      if (k == NOTARY_ROUTE_ROLE_BY_VERSION)
        {
          g_autofree char *version = g_match_info_fetch_named (mi, "version");
          g_assert_cmpstr (m.version, ==, version);
        }
    }
}

static void
test_oracle (void)
{
  GRegex *oracles[G_N_ELEMENTS (oracle_patterns)];
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261203);
  guint matched = 0;

  for (gsize k = 0; k < G_N_ELEMENTS (oracle_patterns); k++)
    {
      g_autoptr (GError) error = NULL;
      /* RAW: bytes, no Unicode classes, as Go's \s */
      oracles[k] = g_regex_new (oracle_patterns[k], G_REGEX_RAW | G_REGEX_DOLLAR_ENDONLY, 0, &error);
      g_assert_no_error (error);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    check_against_oracle (oracles, cases[i].path);
  for (int i = 0; i < 100000; i++)
    {
      g_autofree char *path = generated_path (rand);
      check_against_oracle (oracles, path);
      for (int k = NOTARY_ROUTE_UPDATE; k <= NOTARY_ROUTE_CHANGEFEED; k++)
        matched += notary_route_match (k, path, NULL);
    }
  /* the generator must reach the routes, or this checks little */
  g_test_message ("%u generated paths matched a route", matched);
  g_assert_cmpuint (matched, >, 1000);
  for (gsize k = 0; k < G_N_ELEMENTS (oracle_patterns); k++)
    g_regex_unref (oracles[k]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/route/table", test_table);
  g_test_add_func ("/route/oracle", test_oracle);
  return g_test_run ();
}
