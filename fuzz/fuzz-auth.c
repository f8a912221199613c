/* fuzz-auth.c — bearer tokens (core/notary-auth.c): the Authorization
 * header of every request when auth.type is "token", attacker-controlled
 * up to the signature check and, once signed by a trusted issuer, the
 * claims behind it.
 *
 * Selector byte, bit 0: 0, the rest of the input is the header as it
 * arrives; 1, the rest is a JOSE header and the claims, as JSON texts
 * separated by a newline, which the harness base64url-encodes and signs
 * with the test issuer's leaf key (tests/data/auth, ES256; RS256 with
 * the RSA leaf when bit 1 is set), so the claim checks are reached.  In
 * the texts @x5c-ec@ and @x5c-rsa@ stand for the leaf + intermediate
 * chains.  Bit 2: the route needs the catalog instead of push+pull on
 * the GUN.
 *
 * Invariants: a header the harness did not sign never authenticates; a
 * signed one authenticates only if its claims name the access; a denial
 * comes with a Bearer challenge and a JSON error body (the 401 the
 * client parses), a grant with neither. */
#include "fuzz-target.h"

#define NOTARY_TEST_DATA_DIR NOTARY_SOURCE_ROOT "/tests/data"
#include "notary-build-config.h"
#include "../tests/lib/jws-fixtures.c"
#include "notary-auth.h"
#include "notary-json.h"

#define GUN "docker.io/library/alpine"

typedef struct
{
  NotaryAuth *auth;
  gnutls_privkey_t ec_key, rsa_key;
  char *x5c_ec, *x5c_rsa;
} Fixture;

static Fixture *
fixture (void)
{
  static Fixture *f;
  if (f != NULL)
    return f;
  f = g_new0 (Fixture, 1);
  g_autofree char *bundle = data_path ("bundle.pem");
  g_autoptr (JsonObject) section = json_object_new ();
  JsonObject *options = json_object_new ();
  json_object_set_string_member (section, "type", "token");
  json_object_set_string_member (options, "realm", "https://auth.example.com/token");
  json_object_set_string_member (options, "service", "notary-server");
  json_object_set_string_member (options, "issuer", "test-issuer");
  json_object_set_string_member (options, "rootcertbundle", bundle);
  json_object_set_object_member (section, "options", options);
  g_autoptr (GError) error = NULL;
  f->auth = notary_auth_new_from_config (section, NULL, &error);
  if (f->auth == NULL)
    fuzz_fail ("auth fixture: %s", error ? error->message : "auth disabled");
  f->ec_key = load_privkey ("leaf-ec");
  f->rsa_key = load_privkey ("leaf-rsa");
  static const char *const ec_chain[] = { "leaf-ec", "int-ca", NULL };
  static const char *const rsa_chain[] = { "leaf-rsa", "int-ca", NULL };
  f->x5c_ec = x5c_json (ec_chain);
  f->x5c_rsa = x5c_json (rsa_chain);
  return f;
}

static char *
signed_header (Fixture *f, const char *text, gsize len, gboolean rsa)
{
  /* JSON texts only: sign_jws and the base64url helpers take strings. */
  if (memchr (text, '\0', len) != NULL)
    return NULL;
  g_autofree char *copy = g_strndup (text, len);
  char *nl = strchr (copy, '\n');
  if (nl == NULL)
    return NULL;
  *nl = '\0';
  g_autoptr (GString) header = g_string_new (copy);
  g_string_replace (header, "@x5c-ec@", f->x5c_ec, 0);
  g_string_replace (header, "@x5c-rsa@", f->x5c_rsa, 0);
  g_autofree char *h = b64url_str (header->str);
  g_autofree char *c = b64url_str (nl + 1);
  g_autofree char *input = g_strdup_printf ("%s.%s", h, c);
  g_autofree char *sig = sign_jws (rsa ? f->rsa_key : f->ec_key, rsa ? "RS256" : "ES256", input);
  return g_strdup_printf ("Bearer %s.%s", input, sig);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  Fixture *f = fixture ();
  guint8 selector = data[0];
  const char *rest = (const char *) data + 1;
  gsize rest_len = size - 1;
  gboolean signed_by_us = (selector & 1) != 0;

  g_autofree char *authorization = NULL;
  if (signed_by_us)
    authorization = signed_header (f, rest, rest_len, (selector & 2) != 0);
  else if (memchr (rest, '\0', rest_len) == NULL) /* an HTTP header holds no NUL */
    authorization = g_strndup (rest, rest_len);
  if (authorization == NULL)
    return 0;

  static const char *const push_pull[] = { "push", "pull", NULL };
  const NotaryAccess gun_access = { "repository", GUN, push_pull };
  const NotaryAccess catalog = { "registry", "catalog", NOTARY_AUTH_CATALOG_ACTIONS };
  const NotaryAccess *access = (selector & 4) ? &catalog : &gun_access;

  g_autofree char *www = NULL;
  g_autofree char *body = NULL;
  if (notary_auth_check (f->auth, authorization, "notary.example.com", access, 1, &www, &body))
    {
      if (!signed_by_us)
        fuzz_fail ("a header the harness did not sign authenticated: %s", authorization);
      if (www != NULL || body != NULL)
        fuzz_fail ("a grant came with a challenge or an error body");
      /* The claims (after the newline) must name what was granted. */
      const char *claims = memchr (rest, '\n', rest_len);
      g_autofree char *claims_text = g_strndup (claims + 1, rest_len - (gsize) (claims + 1 - rest));
      if (strstr (claims_text, access->name) == NULL)
        fuzz_fail ("a token whose claims do not name %s was granted access to it", access->name);
      return 0;
    }
  if (www == NULL || !g_str_has_prefix (www, "Bearer realm=") || body == NULL)
    fuzz_fail ("a denial without its Bearer challenge or body");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) parsed = notary_json_parse (body, -1, &error);
  if (parsed == NULL || !JSON_NODE_HOLDS_OBJECT (parsed)
      || !json_object_has_member (json_node_get_object (parsed), "errors"))
    fuzz_fail ("a denial's body is not notary's JSON error: %s", body);
  return 0;
}
