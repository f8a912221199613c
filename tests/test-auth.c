/* test-auth.c — unit tests for core/notary-auth.c (server-api.md §7).
 *
 * Certificates and keys come from tests/data/auth/make-auth-certs.sh; the
 * tokens are minted here with GnuTLS against the real clock (the
 * certificates are valid 2024–2124).
 */
#include "lib/tuf-fixtures.c"
#include "lib/jws-fixtures.c"
#include "notary-auth.h"
#include "notary-http.h"

#include <libsoup/soup.h>

#include <string.h>
#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define REALM "https://auth.example.com/token"
#define SERVICE "notary-server"
#define ISSUER "test-issuer"
#define GUN "docker.io/library/alpine"

static const char *const push_pull[] = { "push", "pull", NULL };
static const char *const pull_only[] = { "pull", NULL };
static const char *const star[] = { "*", NULL };

static const char *const GUN_PUSH_PULL_BODY
    = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":["
      "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"" GUN "\",\"Action\":\"push\"},"
      "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"" GUN "\",\"Action\":\"pull\"}]}]}\n";

/* ---- fixtures ------------------------------------------------------------ */

static JsonObject *
object_from_text (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

/* An "auth" section with the given options JSON (a %s for the bundle path
 * may appear once). */
static JsonObject *
auth_section (const char *options_fmt, const char *bundle)
{
  g_autofree char *options = g_strdup_printf (options_fmt, bundle);
  g_autofree char *text = g_strdup_printf ("{\"type\":\"token\",\"options\":%s}", options);
  return object_from_text (text);
}

static NotaryAuth *
new_auth_full (gboolean autoredirect, const char *realm)
{
  g_autofree char *bundle = data_path ("bundle.pem");
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  NotaryAuth *auth;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "token");
  json_builder_set_member_name (b, "options");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "realm");
  json_builder_add_string_value (b, realm);
  json_builder_set_member_name (b, "service");
  json_builder_add_string_value (b, SERVICE);
  json_builder_set_member_name (b, "issuer");
  json_builder_add_string_value (b, ISSUER);
  json_builder_set_member_name (b, "rootcertbundle");
  json_builder_add_string_value (b, bundle);
  json_builder_set_member_name (b, "autoredirect");
  json_builder_add_boolean_value (b, autoredirect);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  auth = notary_auth_new_from_config (json_node_get_object (root), NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (auth);
  return auth;
}

static NotaryAuth *
new_auth (void)
{
  return new_auth_full (FALSE, REALM);
}

/* Claims with the usual issuer/audience and a window around now, plus
 * @access_json (a JSON array). */
static char *
claims_json (const char *access_json)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  return g_strdup_printf ("{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"" SERVICE
                          "\",\"exp\":%" G_GINT64_FORMAT ",\"nbf\":%" G_GINT64_FORMAT
                          ",\"iat\":%" G_GINT64_FORMAT ",\"jti\":\"j1\",\"access\":%s}",
                          now + 300, now - 10, now - 10, access_json);
}

static const char *const GUN_ACCESS_PUSH_PULL
    = "[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"push\",\"pull\"]}]";

static const char *const ec_chain[] = { "leaf-ec", "int-ca", NULL };
static const char *const rsa_chain[] = { "leaf-rsa", "int-ca", NULL };

static char *
valid_ec_token (const char *access_json)
{
  g_autofree char *claims = claims_json (access_json);
  return mint_x5c (ec_chain, "ES256", claims);
}

static char *
bearer (const char *token)
{
  return g_strdup_printf ("Bearer %s", token);
}

/* Runs the check for the push+pull GUN access. */
static gboolean
check_gun (NotaryAuth *auth, const char *authorization, char **www, char **body)
{
  NotaryAccess access = { "repository", GUN, push_pull };
  return notary_auth_check (auth, authorization, NULL, &access, 1, www, body);
}

static void
assert_accepted (NotaryAuth *auth, const char *token)
{
  g_autofree char *authz = bearer (token);
  g_autofree char *www = NULL;
  g_autofree char *body = NULL;
  gboolean ok = check_gun (auth, authz, &www, &body);
  if (!ok)
    g_test_message ("refused: %s", www);
  g_assert_true (ok);
  g_assert_null (www);
  g_assert_null (body);
}

static void
assert_invalid (NotaryAuth *auth, const char *token)
{
  g_autofree char *authz = bearer (token);
  g_autofree char *www = NULL;
  g_autofree char *body = NULL;
  g_assert_false (check_gun (auth, authz, &www, &body));
  g_assert_cmpstr (www, ==,
                   "Bearer realm=\"" REALM "\",service=\"" SERVICE "\",scope=\"repository:" GUN
                   ":push,pull\",error=\"invalid_token\"");
  g_assert_cmpstr (body, ==, GUN_PUSH_PULL_BODY);
}

/* ---- configuration ------------------------------------------------------- */

static void
test_config_disabled (void)
{
  static const char *const sections[] = {
    "{}",
    "{\"type\":\"\"}",
    "{\"type\":\"htpasswd\",\"options\":{}}",
    "{\"type\":\"Token\",\"options\":{}}",
    "{\"type\":1}",
    "{\"type\":null,\"options\":5}",
  };
  g_autoptr (GError) error = NULL;

  g_assert_null (notary_auth_new_from_config (NULL, NULL, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      g_autoptr (JsonObject) section = object_from_text (sections[i]);
      g_assert_null (notary_auth_new_from_config (section, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
assert_config_error (const char *section_text, int code, const char *message)
{
  g_autoptr (JsonObject) section = object_from_text (section_text);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryAuth) auth = notary_auth_new_from_config (section, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, code);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_config_options_not_map (void)
{
  static const char *const msg = "auth.options must be a map[string]interface{}";
  assert_config_error ("{\"type\":\"token\"}", NOTARY_AUTH_ERROR_CONFIG, msg);
  assert_config_error ("{\"type\":\"token\",\"options\":null}", NOTARY_AUTH_ERROR_CONFIG, msg);
  assert_config_error ("{\"type\":\"token\",\"options\":\"realm\"}", NOTARY_AUTH_ERROR_CONFIG, msg);
  assert_config_error ("{\"type\":\"token\",\"options\":[{\"realm\":\"x\"}]}", NOTARY_AUTH_ERROR_CONFIG, msg);
}

static void
test_config_missing_options (void)
{
  /* Checked in the reference's order: realm, issuer, service, bundle. */
  static const struct
  {
    const char *options;
    const char *missing;
  } cases[] = {
    { "{}", "realm" },
    { "{\"service\":\"s\",\"issuer\":\"i\",\"rootcertbundle\":\"b\"}", "realm" },
    { "{\"realm\":\"r\"}", "issuer" },
    { "{\"realm\":\"r\",\"service\":\"s\",\"rootcertbundle\":\"b\"}", "issuer" },
    { "{\"realm\":\"r\",\"issuer\":\"i\"}", "service" },
    { "{\"realm\":\"r\",\"issuer\":\"i\",\"service\":\"s\"}", "rootcertbundle" },
    { "{\"realm\":5,\"issuer\":\"i\",\"service\":\"s\",\"rootcertbundle\":\"b\"}", "realm" },
    { "{\"realm\":\"r\",\"issuer\":null,\"service\":\"s\",\"rootcertbundle\":\"b\"}", "issuer" },
    { "{\"realm\":\"r\",\"issuer\":\"i\",\"service\":[\"s\"],\"rootcertbundle\":\"b\"}", "service" },
    { "{\"realm\":\"r\",\"issuer\":\"i\",\"service\":\"s\",\"rootcertbundle\":true}", "rootcertbundle" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *section = g_strdup_printf ("{\"type\":\"token\",\"options\":%s}", cases[i].options);
      g_autofree char *msg
          = g_strdup_printf ("token auth requires a valid option string: \"%s\"", cases[i].missing);
      assert_config_error (section, NOTARY_AUTH_ERROR_CONFIG, msg);
    }
}

static void
test_config_autoredirect_type (void)
{
  g_autofree char *bundle = data_path ("bundle.pem");
  g_autoptr (JsonObject) section = auth_section ("{\"realm\":\"r\",\"issuer\":\"i\",\"service\":\"s\","
                                                 "\"rootcertbundle\":\"%s\",\"autoredirect\":\"true\"}",
                                                 bundle);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryAuth) auth = notary_auth_new_from_config (section, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "token auth requires a valid option bool: autoredirect");
}

static NotaryAuth *
auth_with_bundle (const char *bundle, const char *config_dir, GError **error)
{
  g_autoptr (JsonObject) section = auth_section (
      "{\"realm\":\"r\",\"issuer\":\"i\",\"service\":\"s\",\"rootcertbundle\":\"%s\"}", bundle);
  return notary_auth_new_from_config (section, config_dir, error);
}

static void
test_config_bundle_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryAuth) auth = NULL;
  g_autofree char *dir = g_dir_make_tmp ("test-auth-XXXXXX", &error);
  g_autofree char *empty = NULL;
  g_autofree char *no_certs = NULL;
  g_autofree char *corrupt = NULL;
  g_autofree char *ed25519 = NULL;
  g_autofree char *msg = NULL;
  g_autofree char *root_pem = read_data ("root-ca.pem");
  g_autofree char *corrupt_pem = NULL;
  g_assert_no_error (error);

  auth = auth_with_bundle ("/nonexistent/notary-auth/bundle.pem", NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE);
  g_assert_cmpstr (
      error->message, ==,
      "unable to open token auth root certificate bundle file \"/nonexistent/notary-auth/bundle.pem\": "
      "open /nonexistent/notary-auth/bundle.pem: no such file or directory");
  g_clear_error (&error);

  /* A directory opens but cannot be read. */
  auth = auth_with_bundle (dir, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE);
  msg = g_strdup_printf (
      "unable to read token auth root certificate bundle file \"%s\": read %s: is a directory", dir, dir);
  g_assert_cmpstr (error->message, ==, msg);
  g_clear_error (&error);

  empty = g_build_filename (dir, "empty.pem", NULL);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  auth = auth_with_bundle (empty, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE);
  g_assert_cmpstr (error->message, ==, "token auth requires at least one token signing root certificate");
  g_clear_error (&error);

  /* Only a key: PEM blocks that are not certificates are skipped. */
  no_certs = g_build_filename (dir, "key.pem", NULL);
  {
    g_autofree char *key_pem = read_data ("root-ca.key");
    g_assert_true (g_file_set_contents (no_certs, key_pem, -1, NULL));
  }
  auth = auth_with_bundle (no_certs, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE);
  g_assert_cmpstr (error->message, ==, "token auth requires at least one token signing root certificate");
  g_clear_error (&error);

  /* A certificate block whose body is damaged. */
  corrupt = g_build_filename (dir, "corrupt.pem", NULL);
  corrupt_pem = g_strdup (root_pem);
  {
    char *body = strchr (corrupt_pem, '\n') + 1;
    memcpy (body + 10, "AAAAAAAAAAAAAAAAAAAA", 20);
  }
  g_assert_true (g_file_set_contents (corrupt, corrupt_pem, -1, NULL));
  auth = auth_with_bundle (corrupt, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE);
  g_assert_true (g_str_has_prefix (error->message, "unable to parse token auth root certificate: "));
  g_clear_error (&error);

  /* A root whose key libtrust cannot represent (Ed25519). */
  ed25519 = g_build_filename (dir, "ed25519.pem", NULL);
  {
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t pem = { NULL, 0 };
    g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
    g_assert_cmpint (gnutls_x509_privkey_generate (key, GNUTLS_PK_EDDSA_ED25519, 256, 0), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_version (crt, 3), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_serial (crt, "\x01", 1), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_activation_time (crt, 1704067200), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_expiration_time (crt, 4102444800), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "ed", 2), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_key (crt, key), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_set_basic_constraints (crt, 1, -1), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA512, 0), ==, 0);
    g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
    g_assert_true (g_file_set_contents (ed25519, (const char *)pem.data, pem.size, NULL));
    gnutls_free (pem.data);
    gnutls_x509_crt_deinit (crt);
    gnutls_x509_privkey_deinit (key);
  }
  auth = auth_with_bundle (ed25519, NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, NOTARY_AUTH_ERROR, NOTARY_AUTH_ERROR_BUNDLE);
  g_assert_true (
      g_str_has_prefix (error->message, "unable to get public key from token auth root certificate: "));
  g_clear_error (&error);

  g_assert_cmpint (g_remove (empty), ==, 0);
  g_assert_cmpint (g_remove (no_certs), ==, 0);
  g_assert_cmpint (g_remove (corrupt), ==, 0);
  g_assert_cmpint (g_remove (ed25519), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_config_relative_bundle (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_build_filename (NOTARY_TEST_DATA_DIR, "auth", NULL);
  g_autoptr (NotaryAuth) auth = auth_with_bundle ("bundle.pem", dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (auth);
  g_clear_pointer (&auth, notary_auth_free);

  /* An absolute path ignores the config directory. */
  {
    g_autofree char *abs = data_path ("bundle.pem");
    auth = auth_with_bundle (abs, "/nonexistent", &error);
    g_assert_no_error (error);
    g_assert_nonnull (auth);
  }
}

/* ---- key IDs --------------------------------------------------------------- */

static void
test_key_id (void)
{
  /* The *.kid files were computed with OpenSSL and coreutils. */
  static const char *const names[] = { "root-ca", "kid-rsa", "leaf-ec", "leaf-rsa" };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *kid_file = g_strdup_printf ("%s.kid", names[i]);
      g_autofree char *expected = read_data (kid_file);
      gnutls_x509_crt_t crt = load_crt (names[i]);
      gnutls_pubkey_t pk = NULL;
      gnutls_datum_t der = { NULL, 0 };
      g_autoptr (GBytes) spki = NULL;
      g_autofree char *kid = NULL;

      g_strstrip (expected);
      g_assert_cmpint (gnutls_pubkey_init (&pk), ==, 0);
      g_assert_cmpint (gnutls_pubkey_import_x509 (pk, crt, 0), ==, 0);
      g_assert_cmpint (gnutls_pubkey_export2 (pk, GNUTLS_X509_FMT_DER, &der), ==, 0);
      spki = g_bytes_new (der.data, der.size);
      kid = notary_auth_key_id (spki);
      g_assert_cmpstr (kid, ==, expected);
      g_assert_cmpuint (strlen (kid), ==, 59);
      gnutls_free (der.data);
      gnutls_pubkey_deinit (pk);
      gnutls_x509_crt_deinit (crt);
    }
}

/* ---- valid tokens ---------------------------------------------------------- */

static void
test_valid_x5c_es256 (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *token = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  assert_accepted (auth, token);
}

static void
test_valid_x5c_rs256 (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *token = mint_x5c (rsa_chain, "RS256", claims);
  g_autofree char *token512 = mint_x5c (rsa_chain, "RS512", claims);
  assert_accepted (auth, token);
  assert_accepted (auth, token512);
}

static void
test_valid_x5c_es384 (void)
{
  static const char *const chain[] = { "leaf-ec384", "int-ca", NULL };
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *token = mint_x5c (chain, "ES384", claims);
  assert_accepted (auth, token);
}

/* Chain shapes, with the outcome the reference notary-server 0.7.0 gives. */
static void
test_x5c_shapes (void)
{
  static const struct
  {
    const char *chain[4];
    const char *alg;
    gboolean accepted;
  } cases[] = {
    /* The root itself may travel in the chain. */
    { { "leaf-ec", "int-ca", "root-ca", NULL }, "ES256", TRUE },
    /* A bundle certificate signs on its own, CA or not. */
    { { "root-ca", NULL }, "ES256", TRUE },
    { { "kid-rsa", NULL }, "RS256", TRUE },
    /* An intermediate CA is a valid leaf too (any key usage). */
    { { "int-ca", NULL }, "ES384", TRUE },
    /* Unrelated intermediates are ignored. */
    { { "leaf-ec", "rogue-ca", "int-ca", NULL }, "ES256", TRUE },
    /* The leaf must come first: here int-ca's key would have to sign. */
    { { "int-ca", "leaf-ec", NULL }, "ES384", FALSE },
  };
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *x5c = x5c_json (cases[i].chain);
      g_autofree char *header = g_strdup_printf ("{\"alg\":\"%s\",\"x5c\":%s}", cases[i].alg, x5c);
      /* Signed by the first entry's key, except in the reversed case,
       * where the real leaf signs. */
      const char *signer = cases[i].accepted ? cases[i].chain[0] : "leaf-ec";
      const char *alg = cases[i].accepted ? cases[i].alg : "ES256";
      g_autofree char *token = mint (header, claims, signer, alg);
      g_test_message ("case %" G_GSIZE_FORMAT, i);
      if (cases[i].accepted)
        assert_accepted (auth, token);
      else
        assert_invalid (auth, token);
    }
}

/* Header shapes the reference tolerates or refuses. */
static void
test_header_shapes (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *kid = g_strstrip (read_data ("kid-rsa.kid"));
  g_autofree char *x5c = x5c_json (ec_chain);
  /* An empty x5c falls through to the kid. */
  g_autofree char *h1 = g_strdup_printf ("{\"alg\":\"RS256\",\"x5c\":[],\"kid\":\"%s\"}", kid);
  g_autofree char *t1 = mint (h1, claims, "kid-rsa", "RS256");
  /* Unknown members are ignored, in the header and in the claims. */
  g_autofree char *h2 = g_strdup_printf ("{\"alg\":\"ES256\",\"x5c\":%s,\"foo\":{\"a\":[1]}}", x5c);
  g_autofree char *claims2 = g_strdup_printf ("{\"bar\":[1,2],%s", claims + 1);
  g_autofree char *t2 = mint (h2, claims2, "leaf-ec", "ES256");
  /* A known member of the wrong type makes the token malformed. */
  g_autofree char *h3 = g_strdup_printf ("{\"alg\":\"ES256\",\"x5c\":%s,\"typ\":5}", x5c);
  g_autofree char *t3 = mint (h3, claims, "leaf-ec", "ES256");

  assert_accepted (auth, t1);
  assert_accepted (auth, t2);
  assert_invalid (auth, t3);
}

static char *
kid_token (const char *signer, const char *alg, const char *claims)
{
  g_autofree char *kid_file = g_strdup_printf ("%s.kid", signer);
  g_autofree char *kid = g_strstrip (read_data (kid_file));
  g_autofree char *header = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
  return mint (header, claims, signer, alg);
}

static void
test_valid_kid (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *es = kid_token ("root-ca", "ES256", claims);
  g_autofree char *rs = kid_token ("kid-rsa", "RS256", claims);
  /* A kid naming a key that is not a root (leaf-ec is only chained). */
  g_autofree char *leaf = kid_token ("leaf-ec", "ES256", claims);
  assert_accepted (auth, es);
  assert_accepted (auth, rs);
  assert_invalid (auth, leaf);
}

/* The public JWK of a certificate's EC key, optionally with extra members. */
static char *
ec_jwk (const char *cert, const char *extra)
{
  gnutls_x509_crt_t crt = load_crt (cert);
  gnutls_pubkey_t pk = NULL;
  gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  guint8 xb[32] = { 0 }, yb[32] = { 0 };
  g_autofree char *xs = NULL;
  g_autofree char *ys = NULL;

  g_assert_cmpint (gnutls_pubkey_init (&pk), ==, 0);
  g_assert_cmpint (gnutls_pubkey_import_x509 (pk, crt, 0), ==, 0);
  g_assert_cmpint (gnutls_pubkey_export_ecc_raw2 (pk, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ), ==, 0);
  g_assert_cmpint (curve, ==, GNUTLS_ECC_CURVE_SECP256R1);
  g_assert_cmpuint (x.size, <=, 32);
  g_assert_cmpuint (y.size, <=, 32);
  memcpy (xb + 32 - x.size, x.data, x.size);
  memcpy (yb + 32 - y.size, y.data, y.size);
  xs = b64url (xb, 32);
  ys = b64url (yb, 32);
  gnutls_free (x.data);
  gnutls_free (y.data);
  gnutls_pubkey_deinit (pk);
  gnutls_x509_crt_deinit (crt);
  return g_strdup_printf ("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"%s}", xs, ys, extra);
}

static char *
jwk_token (const char *signer, const char *jwk, const char *claims)
{
  g_autofree char *header = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":%s}", jwk);
  return mint (header, claims, signer, "ES256");
}

static void
test_jwk (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *root_kid = g_strstrip (read_data ("root-ca.kid"));
  g_autofree char *leaf_kid = g_strstrip (read_data ("leaf-ec.kid"));
  g_autofree char *chain = x5c_json (ec_chain);
  g_autofree char *rogue_chain = NULL;
  g_autofree char *extra = NULL;
  g_autofree char *jwk = NULL;
  g_autofree char *token = NULL;

  /* A root key as JWK: trusted directly, with or without a matching kid. */
  jwk = ec_jwk ("root-ca", "");
  token = jwk_token ("root-ca", jwk, claims);
  assert_accepted (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);
  extra = g_strdup_printf (",\"kid\":\"%s\"", root_kid);
  jwk = ec_jwk ("root-ca", extra);
  token = jwk_token ("root-ca", jwk, claims);
  assert_accepted (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);
  g_clear_pointer (&extra, g_free);

  /* An "x5c" member that is not an array counts as no chain. */
  jwk = ec_jwk ("root-ca", ",\"x5c\":\"abc\"");
  token = jwk_token ("root-ca", jwk, claims);
  assert_accepted (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);

  /* A kid that is not this key's. */
  extra = g_strdup_printf (",\"kid\":\"%s\"", leaf_kid);
  jwk = ec_jwk ("root-ca", extra);
  token = jwk_token ("root-ca", jwk, claims);
  assert_invalid (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);
  g_clear_pointer (&extra, g_free);

  /* A leaf key without a chain is not trusted… */
  jwk = ec_jwk ("leaf-ec", "");
  token = jwk_token ("leaf-ec", jwk, claims);
  assert_invalid (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);

  /* …but is with its own x5c chain. */
  extra = g_strdup_printf (",\"x5c\":%s", chain);
  jwk = ec_jwk ("leaf-ec", extra);
  token = jwk_token ("leaf-ec", jwk, claims);
  assert_accepted (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);

  /* A chain for a different key than the JWK's. */
  jwk = ec_jwk ("root-ca", extra);
  token = jwk_token ("root-ca", jwk, claims);
  assert_invalid (auth, token);
  g_clear_pointer (&jwk, g_free);
  g_clear_pointer (&token, g_free);
  g_clear_pointer (&extra, g_free);

  /* An untrusted chain. */
  {
    static const char *const rogue[] = { "rogue-leaf", "rogue-ca", NULL };
    rogue_chain = x5c_json (rogue);
  }
  extra = g_strdup_printf (",\"x5c\":%s", rogue_chain);
  jwk = ec_jwk ("rogue-leaf", extra);
  token = jwk_token ("rogue-leaf", jwk, claims);
  assert_invalid (auth, token);
}

static void
test_valid_leeway (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *expired_recently = g_strdup_printf ("{\"iss\":\"" ISSUER "\",\"aud\":\"" SERVICE
                                                       "\",\"exp\":%" G_GINT64_FORMAT ",\"access\":%s}",
                                                       now - 30, GUN_ACCESS_PUSH_PULL);
  g_autofree char *nbf_soon
      = g_strdup_printf ("{\"iss\":\"" ISSUER "\",\"aud\":\"" SERVICE "\",\"exp\":%" G_GINT64_FORMAT
                         ",\"nbf\":%" G_GINT64_FORMAT ",\"access\":%s}",
                         now + 600, now + 30, GUN_ACCESS_PUSH_PULL);
  g_autofree char *t1 = mint_x5c (ec_chain, "ES256", expired_recently);
  g_autofree char *t2 = mint_x5c (ec_chain, "ES256", nbf_soon);
  assert_accepted (auth, t1);
  assert_accepted (auth, t2);
}

static void
test_scheme_case_and_claim_names (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *token = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  g_autofree char *lower = g_strdup_printf ("bearer %s", token);
  g_autofree char *upper = g_strdup_printf ("BEARER %s", token);
  NotaryAccess access = { "repository", GUN, push_pull };
  g_autofree char *www = NULL;
  g_autofree char *body = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  /* encoding/json matches member names case-insensitively. */
  g_autofree char *claims = g_strdup_printf (
      "{\"ISS\":\"" ISSUER "\",\"Aud\":\"" SERVICE "\",\"EXP\":%" G_GINT64_FORMAT
      ",\"Access\":[{\"Type\":\"repository\",\"NAME\":\"" GUN "\",\"actions\":[\"push\",\"pull\"]}]}",
      now + 300);
  g_autofree char *folded = mint_x5c (ec_chain, "ES256", claims);

  g_assert_true (notary_auth_check (auth, lower, NULL, &access, 1, &www, &body));
  g_assert_true (notary_auth_check (auth, upper, NULL, &access, 1, &www, &body));
  g_assert_null (www);
  assert_accepted (auth, folded);
}

/* ---- rejected tokens -------------------------------------------------------- */

static char *
claims_with (const char *iss, const char *aud_json, gint64 exp_delta, gint64 nbf_delta)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  return g_strdup_printf ("{\"iss\":\"%s\",\"aud\":%s,\"exp\":%" G_GINT64_FORMAT ",\"nbf\":%" G_GINT64_FORMAT
                          ",\"access\":%s}",
                          iss, aud_json, now + exp_delta, now + nbf_delta, GUN_ACCESS_PUSH_PULL);
}

static void
test_invalid_claims (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  struct
  {
    const char *iss;
    const char *aud;
    gint64 exp, nbf;
  } cases[] = {
    { "other-issuer", "\"" SERVICE "\"", 300, -10 },
    { "", "\"" SERVICE "\"", 300, -10 },
    { ISSUER, "\"other-service\"", 300, -10 },
    /* The reference's aud is a single string: an array does not decode. */
    { ISSUER, "[\"" SERVICE "\"]", 300, -10 },
    { ISSUER, "\"" SERVICE "\"", -120, -600 }, /* expired beyond the leeway */
    { ISSUER, "\"" SERVICE "\"", 600, 120 },   /* not yet valid */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *claims = claims_with (cases[i].iss, cases[i].aud, cases[i].exp, cases[i].nbf);
      g_autofree char *token = mint_x5c (ec_chain, "ES256", claims);
      g_test_message ("case %" G_GSIZE_FORMAT, i);
      assert_invalid (auth, token);
    }

  /* No exp at all means 1970. */
  {
    g_autofree char *claims = g_strdup_printf (
        "{\"iss\":\"" ISSUER "\",\"aud\":\"" SERVICE "\",\"access\":%s}", GUN_ACCESS_PUSH_PULL);
    g_autofree char *token = mint_x5c (ec_chain, "ES256", claims);
    assert_invalid (auth, token);
  }
}

/* Replace the signature part of @token. */
static char *
with_signature (const char *token, const char *sig)
{
  const char *last = strrchr (token, '.');
  return g_strdup_printf ("%.*s.%s", (int)(last - token), token, sig);
}

static void
test_bad_signature (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *token = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  g_autofree char *flipped = g_strdup (token);
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *x5c = x5c_json (ec_chain);
  g_autofree char *header = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"x5c\":%s}", x5c);
  /* Signed by another key than the leaf in x5c. */
  g_autofree char *wrong_key = mint (header, claims, "rogue-leaf", "ES256");
  g_autofree char *no_sig = with_signature (token, "");
  g_autofree char *short_sig = with_signature (token, "AAAA");
  char *last = strrchr (flipped, '.') + 5;

  *last = *last == 'A' ? 'B' : 'A';
  assert_invalid (auth, flipped);
  assert_invalid (auth, wrong_key);
  assert_invalid (auth, no_sig);
  assert_invalid (auth, short_sig);

  /* The claims were changed after signing. */
  {
    g_autofree char *other_claims
        = claims_json ("[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"*\"]}]");
    g_autofree char *c = b64url_str (other_claims);
    g_auto (GStrv) parts = g_strsplit (token, ".", 3);
    g_autofree char *tampered = g_strdup_printf ("%s.%s.%s", parts[0], c, parts[2]);
    assert_invalid (auth, tampered);
  }

  /* RSA: flipped signature, and a signature one byte short. */
  {
    g_autofree char *rsa = mint_x5c (rsa_chain, "RS256", claims);
    g_autofree char *rsa_flipped = g_strdup (rsa);
    char *p = strrchr (rsa_flipped, '.') + 10;
    *p = *p == 'A' ? 'B' : 'A';
    assert_invalid (auth, rsa_flipped);
  }
}

static void
test_wrong_alg (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *x5c = x5c_json (ec_chain);
  g_autofree char *rsa_x5c = x5c_json (rsa_chain);
  g_autofree char *c = b64url_str (claims);

  /* alg "none" with an empty signature. */
  {
    g_autofree char *h = b64url_str ("{\"typ\":\"JWT\",\"alg\":\"none\"}");
    g_autofree char *token = g_strdup_printf ("%s.%s.", h, c);
    assert_invalid (auth, token);
  }
  /* alg "none" but an x5c chain and a real ES256 signature. */
  {
    g_autofree char *good = valid_ec_token (GUN_ACCESS_PUSH_PULL);
    g_autofree char *hjson = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"none\",\"x5c\":%s}", x5c);
    g_autofree char *h = b64url_str (hjson);
    g_auto (GStrv) parts = g_strsplit (good, ".", 3);
    g_autofree char *token = g_strdup_printf ("%s.%s.%s", h, parts[1], parts[2]);
    assert_invalid (auth, token);
  }
  /* HS256 "signed" with the certificate as the HMAC secret. */
  {
    g_autofree char *hjson = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"HS256\",\"x5c\":%s}", x5c);
    g_autofree char *h = b64url_str (hjson);
    g_autofree char *input = g_strdup_printf ("%s.%s", h, c);
    g_autofree char *leaf = cert_b64 ("leaf-ec");
    guint8 mac[32];
    gsize mac_len = sizeof mac;
    g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *)leaf, strlen (leaf));
    g_autofree char *sig = NULL;
    g_autofree char *token = NULL;
    g_hmac_update (hmac, (const guchar *)input, -1);
    g_hmac_get_digest (hmac, mac, &mac_len);
    sig = b64url (mac, mac_len);
    token = g_strdup_printf ("%s.%s", input, sig);
    assert_invalid (auth, token);
  }
  /* An algorithm the key type does not allow. */
  {
    g_autofree char *hjson = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"ES384\",\"x5c\":%s}", x5c);
    g_autofree char *token = mint (hjson, claims, "leaf-ec", "ES256");
    assert_invalid (auth, token);
  }
  {
    g_autofree char *hjson = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"RS512\",\"x5c\":%s}", rsa_x5c);
    g_autofree char *token = mint (hjson, claims, "leaf-rsa", "RS256");
    assert_invalid (auth, token);
  }
  {
    g_autofree char *hjson = g_strdup_printf ("{\"typ\":\"JWT\",\"alg\":\"PS256\",\"x5c\":%s}", rsa_x5c);
    g_autofree char *token = mint (hjson, claims, "leaf-rsa", "RS256");
    assert_invalid (auth, token);
  }
}

static void
test_untrusted_chain (void)
{
  static const char *const rogue[] = { "rogue-leaf", "rogue-ca", NULL };
  static const char *const no_intermediate[] = { "leaf-ec", NULL };
  static const char *const expired[] = { "leaf-expired", "int-ca", NULL };
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *claims = claims_json (GUN_ACCESS_PUSH_PULL);
  g_autofree char *t1 = mint_x5c (rogue, "ES256", claims);
  g_autofree char *t2 = mint_x5c (no_intermediate, "ES256", claims);
  g_autofree char *t3 = mint_x5c (expired, "ES256", claims);
  /* A chain entry that is not base64 / not a certificate. */
  g_autofree char *leaf = cert_b64 ("leaf-ec");
  g_autofree char *bad_b64 = g_strdup_printf ("{\"alg\":\"ES256\",\"x5c\":[\"%s\",\"!!!!\"]}", leaf);
  g_autofree char *bad_der = g_strdup_printf ("{\"alg\":\"ES256\",\"x5c\":[\"%s\",\"AAAA\"]}", leaf);
  g_autofree char *t4 = mint (bad_b64, claims, "leaf-ec", "ES256");
  g_autofree char *t5 = mint (bad_der, claims, "leaf-ec", "ES256");
  /* No key source at all. */
  g_autofree char *t6 = mint ("{\"alg\":\"ES256\"}", claims, "leaf-ec", "ES256");

  assert_invalid (auth, t1);
  assert_invalid (auth, t2);
  assert_invalid (auth, t3);
  assert_invalid (auth, t4);
  assert_invalid (auth, t5);
  assert_invalid (auth, t6);
}

static void
test_malformed (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *good = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  g_auto (GStrv) parts = g_strsplit (good, ".", 3);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *not_json = b64url_str ("{not json");
  g_autofree char *array = b64url_str ("[1,2]");
  g_autofree char *exp_string
      = b64url_str ("{\"iss\":\"" ISSUER "\",\"aud\":\"" SERVICE "\",\"exp\":\"tomorrow\"}");
  g_autofree char *exp_float_text = g_strdup_printf (
      "{\"iss\":\"" ISSUER "\",\"aud\":\"" SERVICE "\",\"exp\":%" G_GINT64_FORMAT ".0}", now + 300);
  g_autofree char *exp_float = b64url_str (exp_float_text);
  g_autofree char *x5c_number = b64url_str ("{\"alg\":\"ES256\",\"x5c\":[1]}");
  g_autofree char *access_string = b64url_str ("{\"iss\":\"" ISSUER "\",\"access\":\"all\"}");
  const char *const tokens[] = {
    "abc",
    "a.b",
    "a.b.c.d",
    g_strdup_printf ("%s.%s.%s.", parts[0], parts[1], parts[2]),
    g_strdup_printf ("!!!.%s.%s", parts[1], parts[2]),
    g_strdup_printf ("%s.%s.%sAAA", parts[0], parts[1], parts[2]) /* length 1 mod 4 */,
    g_strdup_printf ("%s.%s.%s", not_json, parts[1], parts[2]),
    g_strdup_printf ("%s.%s.%s", parts[0], not_json, parts[2]),
    g_strdup_printf ("%s.%s.%s", array, parts[1], parts[2]),
    g_strdup_printf ("%s.%s.%s", parts[0], exp_string, parts[2]),
    g_strdup_printf ("%s.%s.%s", parts[0], exp_float, parts[2]),
    g_strdup_printf ("%s.%s.%s", x5c_number, parts[1], parts[2]),
    g_strdup_printf ("%s.%s.%s", parts[0], access_string, parts[2]),
  };

  /* As in the reference, explicit base64url padding is tolerated. */
  {
    g_autofree char *padded = g_strdup_printf ("%s.%s.%s=", parts[0], parts[1], parts[2]);
    g_assert_cmpuint (strlen (parts[2]) % 4, ==, 2);
    assert_accepted (auth, padded);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      g_test_message ("token %" G_GSIZE_FORMAT, i);
      assert_invalid (auth, tokens[i]);
    }
  for (gsize i = 3; i < G_N_ELEMENTS (tokens); i++)
    g_free ((char *)tokens[i]);
}

/* ---- scopes and challenges --------------------------------------------------- */

static void
test_insufficient_scope (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  static const char *const denied[] = {
    "[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"pull\"]}]",
    "[{\"type\":\"repository\",\"name\":\"docker.io/library/other\",\"actions\":[\"push\",\"pull\"]}]",
    "[{\"type\":\"registry\",\"name\":\"" GUN "\",\"actions\":[\"*\"]}]",
    "[]",
    "null",
    "[null]",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (denied); i++)
    {
      g_autofree char *token = valid_ec_token (denied[i]);
      g_autofree char *authz = bearer (token);
      g_autofree char *www = NULL;
      g_autofree char *body = NULL;
      g_test_message ("access %s", denied[i]);
      g_assert_false (check_gun (auth, authz, &www, &body));
      g_assert_cmpstr (
          www, ==,
          "Bearer realm=\"https://auth.example.com/token\",service=\"notary-server\","
          "scope=\"repository:docker.io/library/alpine:push,pull\",error=\"insufficient_scope\"");
      g_assert_cmpstr (body, ==, GUN_PUSH_PULL_BODY);
    }
}

static void
test_granted_scopes (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  static const char *const granted[] = {
    "[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"*\"]}]",
    "[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"pull\",\"push\",\"delete\"]}]",
    /* Entries for one resource pool their actions. */
    "[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"push\"]},"
    "{\"type\":\"repository\",\"class\":\"image\",\"name\":\"" GUN "\",\"actions\":[\"pull\"]}]",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (granted); i++)
    {
      g_autofree char *token = valid_ec_token (granted[i]);
      g_test_message ("access %s", granted[i]);
      assert_accepted (auth, token);
    }

  /* Route actions "*" (key rotation, delete) need a "*" grant. */
  {
    NotaryAccess access = { "repository", GUN, star };
    g_autofree char *pp = valid_ec_token (GUN_ACCESS_PUSH_PULL);
    g_autofree char *all = valid_ec_token (granted[0]);
    g_autofree char *authz_pp = bearer (pp);
    g_autofree char *authz_all = bearer (all);
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_true (notary_auth_check (auth, authz_all, NULL, &access, 1, &www, &body));
    g_assert_false (notary_auth_check (auth, authz_pp, NULL, &access, 1, &www, &body));
    g_assert_cmpstr (www, ==,
                     "Bearer realm=\"" REALM "\",service=\"" SERVICE "\",scope=\"repository:" GUN
                     ":*\",error=\"insufficient_scope\"");
    g_assert_cmpstr (
        body, ==,
        "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":["
        "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"" GUN "\",\"Action\":\"*\"}]}]}\n");
  }

  /* Pull-only routes accept a pull-only token. */
  {
    NotaryAccess access = { "repository", GUN, pull_only };
    g_autofree char *token
        = valid_ec_token ("[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"pull\"]}]");
    g_autofree char *authz = bearer (token);
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_true (notary_auth_check (auth, authz, NULL, &access, 1, &www, &body));
  }
}

static void
test_no_token (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *token = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  g_autofree char *two_spaces = g_strdup_printf ("Bearer  %s", token);
  g_autofree char *trailing = g_strdup_printf ("Bearer %s extra", token);
  g_autofree char *no_space = g_strdup_printf ("Bearer%s", token);
  const char *const headers[]
      = { NULL, "", "Basic YWxpY2U6c2VjcmV0", "Bearer", two_spaces, trailing, no_space, "Token abc" };
  static const char *const expected
      = "Bearer realm=\"" REALM "\",service=\"" SERVICE "\",scope=\"repository:" GUN ":push,pull\"";

  for (gsize i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      g_autofree char *www = NULL;
      g_autofree char *body = NULL;
      g_test_message ("header %" G_GSIZE_FORMAT, i);
      g_assert_false (check_gun (auth, headers[i], &www, &body));
      g_assert_cmpstr (www, ==, expected);
      g_assert_cmpstr (body, ==, GUN_PUSH_PULL_BODY);
    }

  /* Blanks around the value are not part of it (Go's header parsing drops
   * them), so "Bearer " is no token at all… */
  {
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_false (check_gun (auth, "Bearer \t", &www, &body));
    g_assert_cmpstr (www, ==, expected);
  }
  /* …and a padded valid token is accepted. */
  {
    g_autofree char *padded = g_strdup_printf ("  Bearer %s\t", token);
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_true (check_gun (auth, padded, &www, &body));
  }
  /* A tab is not the separator. */
  {
    g_autofree char *tab = g_strdup_printf ("Bearer\t%s", token);
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_false (check_gun (auth, tab, &www, &body));
    g_assert_cmpstr (www, ==, expected);
  }
}

static void
test_catalog (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  NotaryAccess access = { "registry", "catalog", NOTARY_AUTH_CATALOG_ACTIONS };
  g_autofree char *www = NULL;
  g_autofree char *body = NULL;
  g_autofree char *repo_token = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  g_autofree char *cat_token
      = valid_ec_token ("[{\"type\":\"registry\",\"name\":\"catalog\",\"actions\":[\"*\"]}]");
  g_autofree char *repo_authz = bearer (repo_token);
  g_autofree char *cat_authz = bearer (cat_token);
  static const char *const cat_body
      = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":["
        "{\"Type\":\"registry\",\"Class\":\"\",\"Name\":\"catalog\",\"Action\":\"*\"}]}]}\n";

  g_assert_false (notary_auth_check (auth, NULL, NULL, &access, 1, &www, &body));
  g_assert_cmpstr (www, ==,
                   "Bearer realm=\"" REALM "\",service=\"" SERVICE "\",scope=\"registry:catalog:*\"");
  g_assert_cmpstr (body, ==, cat_body);
  g_clear_pointer (&www, g_free);
  g_clear_pointer (&body, g_free);

  g_assert_false (notary_auth_check (auth, repo_authz, NULL, &access, 1, &www, &body));
  g_assert_cmpstr (www, ==,
                   "Bearer realm=\"" REALM "\",service=\"" SERVICE
                   "\",scope=\"registry:catalog:*\",error=\"insufficient_scope\"");
  g_assert_cmpstr (body, ==, cat_body);
  g_clear_pointer (&www, g_free);
  g_clear_pointer (&body, g_free);

  g_assert_true (notary_auth_check (auth, cat_authz, NULL, &access, 1, &www, &body));
  g_assert_null (www);
  g_assert_null (body);
}

static void
test_challenge_format (void)
{
  /* autoredirect: the realm follows the Host header. */
  {
    g_autoptr (NotaryAuth) auth = new_auth_full (TRUE, REALM);
    NotaryAccess access = { "repository", GUN, pull_only };
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_false (notary_auth_check (auth, NULL, "notary.example.com:4443", &access, 1, &www, &body));
    g_assert_cmpstr (www, ==,
                     "Bearer realm=\"https://notary.example.com:4443/auth/token\",service=\"" SERVICE
                     "\",scope=\"repository:" GUN ":pull\"");
  }
  /* Go %q quoting in the header, Go JSON escaping (HTML-safe) in the body;
   * several resources are space-separated in one scope. */
  {
    g_autoptr (NotaryAuth) auth = new_auth_full (FALSE, "https://a/\"q\"\\\tb\xc3\xa9");
    NotaryAccess access[] = {
      { "repository", "a&b<c>", push_pull },
      { "repository", "x\"y", pull_only },
    };
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_false (notary_auth_check (auth, NULL, NULL, access, G_N_ELEMENTS (access), &www, &body));
    g_assert_cmpstr (www, ==,
                     "Bearer realm=\"https://a/\\\"q\\\"\\\\\\tb\xc3\xa9\",service=\"" SERVICE
                     "\",scope=\"repository:a&b<c>:push,pull repository:x\\\"y:pull\"");
    g_assert_cmpstr (
        body, ==,
        "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":["
        "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"a\\u0026b\\u003cc\\u003e\",\"Action\":\"push\"},"
        "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"a\\u0026b\\u003cc\\u003e\",\"Action\":\"pull\"},"
        "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"x\\\"y\",\"Action\":\"pull\"}]}]}\n");
  }
  /* Observed from the reference notary-server 0.7.0 with this realm and a
   * request for this GUN (non-printable runes escaped by %q, HTML
   * characters and U+2028 by encoding/json, DEL left raw in the body). */
  {
    g_autoptr (NotaryAuth) auth = new_auth_full (FALSE, "https://a/\"q\"\\\tb\xc3\xa9\xc2\xa0\xe2\x80\xa8x");
    NotaryAccess access = { "repository", "a&b<c>\"\xe2\x80\xa8\x7f", pull_only };
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_false (notary_auth_check (auth, NULL, NULL, &access, 1, &www, &body));
    g_assert_cmpstr (www, ==,
                     "Bearer realm=\"https://a/\\\"q\\\"\\\\\\tb\xc3\xa9\\u00a0\\u2028x\",service=\"" SERVICE
                     "\",scope=\"repository:a&b<c>\\\"\\u2028\\x7f:pull\"");
    g_assert_cmpstr (
        body, ==,
        "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":["
        "{\"Type\":\"repository\",\"Class\":\"\",\"Name\":\"a\\u0026b\\u003cc\\u003e\\\"\\u2028\x7f\","
        "\"Action\":\"pull\"}]}]}\n");
  }
  /* The same resource listed twice merges into one scope entry. */
  {
    g_autoptr (NotaryAuth) auth = new_auth ();
    NotaryAccess access[] = {
      { "repository", GUN, push_pull },
      { "repository", GUN, pull_only },
    };
    g_autofree char *www = NULL;
    g_autofree char *body = NULL;
    g_assert_false (notary_auth_check (auth, NULL, NULL, access, G_N_ELEMENTS (access), &www, &body));
    g_assert_cmpstr (
        www, ==, "Bearer realm=\"" REALM "\",service=\"" SERVICE "\",scope=\"repository:" GUN ":push,pull\"");
  }
}

/* ---- threads ------------------------------------------------------------------ */

typedef struct
{
  NotaryAuth *auth;
  const char *good;
  const char *bad;
  gint failures;
} ThreadData;

static gpointer
thread_main (gpointer user_data)
{
  ThreadData *td = user_data;
  for (int i = 0; i < 40; i++)
    {
      g_autofree char *www = NULL;
      g_autofree char *body = NULL;
      const char *authz = (i % 2 == 0) ? td->good : td->bad;
      gboolean ok = check_gun (td->auth, authz, &www, &body);
      if (ok != (i % 2 == 0))
        g_atomic_int_inc (&td->failures);
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autofree char *token = valid_ec_token (GUN_ACCESS_PUSH_PULL);
  g_autofree char *rogue_claims = claims_json (GUN_ACCESS_PUSH_PULL);
  static const char *const rogue[] = { "rogue-leaf", "rogue-ca", NULL };
  g_autofree char *rogue_token = mint_x5c (rogue, "ES256", rogue_claims);
  g_autofree char *good = bearer (token);
  g_autofree char *bad = bearer (rogue_token);
  ThreadData td = { auth, good, bad, 0 };
  GThread *threads[8];

  for (gsize i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("auth", thread_main, &td);
  for (gsize i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (td.failures, ==, 0);
}

/* ---- wired into the HTTP front end ------------------------------------- */

typedef struct
{
  guint status;
  char *challenge;
} HttpResult;

static HttpResult
http_get (SoupSession *session, guint16 port, const char *method, const char *path, const char *token)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  HttpResult r;

  if (token != NULL)
    {
      g_autofree char *b = bearer (token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", b);
    }
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  r.status = soup_message_get_status (msg);
  r.challenge = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                        "WWW-Authenticate"));
  return r;
}

/* The server asks for the scopes of server-api.md §7 per route: catalog for
 * the ping, pull for reads, push+pull for key fetches, * for deletes. */
static void
test_http_routes (void)
{
  g_autoptr (NotaryAuth) auth = new_auth ();
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (GError) error = NULL;
  NotaryHttpOptions opts = { 0 };
  NotaryHttpServer *http;
  FxServer fx;
  guint16 port;
  g_autofree char *catalog = valid_ec_token ("[{\"type\":\"registry\",\"name\":\"catalog\",\"actions\":[\"*\"]}]");
  g_autofree char *pull = valid_ec_token ("[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"pull\"]}]");
  g_autofree char *all = valid_ec_token ("[{\"type\":\"repository\",\"name\":\"" GUN "\",\"actions\":[\"*\"]}]");
  HttpResult r;

  fx_server_init (&fx);
  opts.repo = fx.repo;
  opts.max_age_current = 300;
  opts.max_age_consistent = 300;
  opts.max_body_bytes = 1 << 20;
  opts.workers = 1;
  opts.auth = auth;
  http = notary_http_server_new (&opts);
  g_assert_true (notary_http_server_listen (http, "127.0.0.1:0", &error));
  port = notary_http_server_get_port (http);

  r = http_get (session, port, "GET", "/v2/", NULL);
  g_assert_cmpuint (r.status, ==, 401);
  g_assert_cmpstr (r.challenge, ==,
                   "Bearer realm=\"" REALM "\",service=\"" SERVICE "\",scope=\"registry:catalog:*\"");
  g_free (r.challenge);
  r = http_get (session, port, "GET", "/v2/", catalog);
  g_assert_cmpuint (r.status, ==, 200);
  g_free (r.challenge);

  r = http_get (session, port, "GET", "/v2/" GUN "/_trust/tuf/root.json", pull);
  g_assert_cmpuint (r.status, ==, 404); /* authorised, simply absent */
  g_free (r.challenge);
  r = http_get (session, port, "GET", "/v2/" GUN "/_trust/tuf/timestamp.key", pull);
  g_assert_cmpuint (r.status, ==, 401);
  g_assert_true (g_str_has_suffix (r.challenge, "error=\"insufficient_scope\""));
  g_free (r.challenge);
  r = http_get (session, port, "DELETE", "/v2/" GUN "/_trust/tuf/", pull);
  g_assert_cmpuint (r.status, ==, 401);
  g_free (r.challenge);
  r = http_get (session, port, "DELETE", "/v2/" GUN "/_trust/tuf/", all);
  g_assert_cmpuint (r.status, ==, 200);
  g_free (r.challenge);
  r = http_get (session, port, "GET", "/v2/" GUN "/_trust/tuf/root.json", "not.a.token");
  g_assert_cmpuint (r.status, ==, 401);
  g_assert_true (g_str_has_suffix (r.challenge, "error=\"invalid_token\""));
  g_free (r.challenge);
  /* health needs no token */
  r = http_get (session, port, "GET", "/_notary_server/health", NULL);
  g_assert_cmpuint (r.status, ==, 200);
  g_free (r.challenge);

  notary_http_server_free (http);
  fx_server_clear (&fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gnutls_global_init ();

  g_test_add_func ("/auth/config/disabled", test_config_disabled);
  g_test_add_func ("/auth/config/options-not-map", test_config_options_not_map);
  g_test_add_func ("/auth/config/missing-options", test_config_missing_options);
  g_test_add_func ("/auth/config/autoredirect-type", test_config_autoredirect_type);
  g_test_add_func ("/auth/config/bundle-errors", test_config_bundle_errors);
  g_test_add_func ("/auth/config/relative-bundle", test_config_relative_bundle);
  g_test_add_func ("/auth/key-id", test_key_id);
  g_test_add_func ("/auth/valid/x5c-es256", test_valid_x5c_es256);
  g_test_add_func ("/auth/valid/x5c-rs256", test_valid_x5c_rs256);
  g_test_add_func ("/auth/valid/x5c-es384", test_valid_x5c_es384);
  g_test_add_func ("/auth/x5c-shapes", test_x5c_shapes);
  g_test_add_func ("/auth/header-shapes", test_header_shapes);
  g_test_add_func ("/auth/valid/kid", test_valid_kid);
  g_test_add_func ("/auth/valid/leeway", test_valid_leeway);
  g_test_add_func ("/auth/valid/scheme-case-and-claim-names", test_scheme_case_and_claim_names);
  g_test_add_func ("/auth/jwk", test_jwk);
  g_test_add_func ("/auth/invalid/claims", test_invalid_claims);
  g_test_add_func ("/auth/invalid/signature", test_bad_signature);
  g_test_add_func ("/auth/invalid/alg", test_wrong_alg);
  g_test_add_func ("/auth/invalid/untrusted-chain", test_untrusted_chain);
  g_test_add_func ("/auth/invalid/malformed", test_malformed);
  g_test_add_func ("/auth/scope/insufficient", test_insufficient_scope);
  g_test_add_func ("/auth/scope/granted", test_granted_scopes);
  g_test_add_func ("/auth/scope/no-token", test_no_token);
  g_test_add_func ("/auth/scope/catalog", test_catalog);
  g_test_add_func ("/auth/challenge-format", test_challenge_format);
  g_test_add_func ("/auth/threads", test_threads);
  g_test_add_func ("/auth/http/routes", test_http_routes);

  int ret = g_test_run ();
  gnutls_global_deinit ();
  return ret;
}
