/* test-config.c — config file loading, env overrides and notary-server's
 * validation (config-and-ops.md §1, §2, §5, §11). */
#include "notary-config.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  GPtrArray *files;
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("notary-test-config-XXXXXX", &error);

  g_assert_no_error (error);
  /* the tmp dir may sit behind a symlink; error texts use the path as given */
  fx->dir = g_steal_pointer (&tmp);
  fx->files = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  for (guint i = 0; i < fx->files->len; i++)
    g_unlink (g_ptr_array_index (fx->files, i));
  g_ptr_array_unref (fx->files);
  g_rmdir (fx->dir);
  g_free (fx->dir);
}

static const char *
write_file (Fixture *fx, const char *name, const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (fx->dir, name, NULL);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_ptr_array_add (fx->files, path);
  return path;
}

/* A NULL-terminated env from "K=V" strings. */
static char **
make_env (const char *first, ...)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  va_list ap;

  va_start (ap, first);
  for (const char *s = first; s != NULL; s = va_arg (ap, const char *))
    g_strv_builder_add (b, s);
  va_end (ap);
  /* noise every real environment has */
  g_strv_builder_add (b, "PATH=/usr/bin:/bin");
  g_strv_builder_add (b, "HOME=/root");
  return g_strv_builder_end (b);
}

static const char *const known[] = {
  "server.http_addr",
  "trust_service.type",
  "storage.backend",
  "storage.db_url",
  "logging.level",
  "caching.max_age.current_metadata",
  "repositories.gun_prefixes",
  NULL,
};

static char *
lookup_str (NotaryConfig *c, const char *path)
{
  return notary_config_dup_string (c, path);
}

/* ---- reading files ------------------------------------------------------ */

static void
test_missing_file (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "nope.json", NULL);
  g_autofree char *expected = g_strdup_printf (
      "Could not read config at :%s, viper error: Config File \"nope\" Not Found in \"[%s]\"", path, fx->dir);
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, NULL, &error);

  g_assert_null (c);
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_READ);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_missing_relative (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr (NotaryConfig) c = NULL;
  g_autofree char *expected = NULL;

  /* the message repeats the path as given, with the absolute dir */
  g_assert_cmpint (g_chdir (fx->dir), ==, 0);
  c = notary_config_load ("sub/x.json", "NOTARY_SERVER_", known, NULL, &error);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  expected
      = g_strdup_printf ("Could not read config at :sub/x.json, viper error: Config File \"x\" Not Found in "
                         "\"[%s/sub]\"",
                         fx->dir);
  g_assert_null (c);
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_READ);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_no_path (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryConfig) c = notary_config_load ("", "NOTARY_SERVER_", known, NULL, &error);

  g_assert_null (c);
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_READ);
  g_assert_true (g_str_has_prefix (
      error->message, "Could not read config at :, viper error: Config File \".\" Not Found in \"["));
}

static void
test_no_extension (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path = write_file (fx, "config", "{}");
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, NULL, &error);

  g_assert_null (c);
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_READ);
  g_assert_nonnull (strstr (error->message, "Config File \"config\" Not Found"));
}

static void
test_bad_json (Fixture *fx, gconstpointer data)
{
  struct
  {
    const char *contents;
    const char *expected_tail; /* NULL: any decoder message */
  } cases[] = {
    { "{\"a\":", "While parsing config: unexpected end of JSON input" },
    { "", "While parsing config: unexpected end of JSON input" },
    { "{\"a\":1,}", NULL },
    { "[1, 2]",
      "While parsing config: json: cannot unmarshal array into Go value of type map[string]interface {}" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("bad%u.json", i);
      const char *path = write_file (fx, name, cases[i].contents);
      g_autofree char *prefix = g_strdup_printf ("Could not read config at :%s, viper error: ", path);
      g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, NULL, &error);

      g_assert_null (c);
      g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_READ);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      if (cases[i].expected_tail != NULL)
        g_assert_cmpstr (error->message + strlen (prefix), ==, cases[i].expected_tail);
      else
        g_assert_true (g_str_has_prefix (error->message + strlen (prefix), "While parsing config: "));
    }
}

static void
test_keys_lowercased_and_scalars (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path
      = write_file (fx, "c.json",
                    "{\"Storage\": {\"DB_URL\": \"x@tcp(h:1)/d\", \"Port\": 7899, \"Ratio\": 1.5,"
                    " \"Flag\": true, \"Nested\": {\"K\": \"v\"}, \"List\": [\"a\"], \"Nil\": null}}");
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, NULL, &error);
  g_autofree char *url = NULL, *port = NULL, *ratio = NULL, *flag = NULL, *nested = NULL, *nil = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_cmpstr (c->path, ==, path);
  g_assert_cmpstr (c->dir, ==, fx->dir);
  url = lookup_str (c, "storage.db_url");
  g_assert_cmpstr (url, ==, "x@tcp(h:1)/d");
  /* lookups are case-insensitive too */
  port = lookup_str (c, "STORAGE.port");
  g_assert_cmpstr (port, ==, "7899");
  ratio = lookup_str (c, "storage.ratio");
  g_assert_cmpstr (ratio, ==, "1.5");
  flag = lookup_str (c, "storage.flag");
  g_assert_cmpstr (flag, ==, "true");
  g_assert_cmpstr ((nested = lookup_str (c, "storage.nested.k")), ==, "v");
  g_assert_null ((nil = lookup_str (c, "storage.nil")));
  g_assert_null (notary_config_dup_string (c, "storage.nested"));
  g_assert_null (notary_config_dup_string (c, "storage.list"));
  g_assert_null (notary_config_dup_string (c, "storage.missing"));
  g_assert_null (notary_config_dup_string (c, "storage.db_url.deeper"));
  g_assert_nonnull (notary_config_get_object (c, "storage.nested"));
  g_assert_null (notary_config_get_object (c, "storage.db_url"));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (notary_config_lookup (c, "storage.list")));
  g_assert_false (json_object_has_member (c->root, "Storage"));
}

static void
test_relative_paths (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path = write_file (fx, "paths.json",
                                 "{\"server\": {\"tls_cert_file\": \"./certs/../server.crt\","
                                 " \"tls_key_file\": \"/abs/server.key\", \"client_ca_file\": \"\"}}");
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, NULL, &error);
  g_autofree char *cert = NULL, *key = NULL, *ca = NULL, *expected = NULL;

  g_assert_no_error (error);
  cert = notary_config_dup_path (c, "server.tls_cert_file");
  expected = g_build_filename (fx->dir, "server.crt", NULL);
  g_assert_cmpstr (cert, ==, expected);
  key = notary_config_dup_path (c, "server.tls_key_file");
  g_assert_cmpstr (key, ==, "/abs/server.key");
  ca = notary_config_dup_path (c, "server.client_ca_file");
  g_assert_null (ca);
  g_assert_null (notary_config_dup_path (c, "server.nothing"));
}

static void
test_relative_config_path (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr (NotaryConfig) c = NULL;
  g_autofree char *cert = NULL, *expected = NULL;

  write_file (fx, "rel.json", "{\"server\": {\"tls_cert_file\": \"server.crt\"}}");
  /* a relative -config is relative to the working directory */
  g_assert_cmpint (g_chdir (fx->dir), ==, 0);
  c = notary_config_load ("./rel.json", "NOTARY_SERVER_", known, NULL, &error);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpstr (c->dir, ==, fx->dir);
  cert = notary_config_dup_path (c, "server.tls_cert_file");
  expected = g_build_filename (fx->dir, "server.crt", NULL);
  g_assert_cmpstr (cert, ==, expected);
}

/* ---- environment overrides ------------------------------------------------ */

static void
test_env_overrides (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path = write_file (fx, "env.json",
                                 "{\"storage\": {\"backend\": \"mysql\", \"db_url\": \"file@tcp(f:1)/f\"},"
                                 " \"logging\": {\"level\": \"error\"}}");
  g_auto (GStrv) env
      = make_env ("NOTARY_SERVER_STORAGE_DB_URL=env@tcp(e:2)/e", "NOTARY_SERVER_LOGGING_LEVEL=debug",
                  "NOTARY_SERVER_TRUST_SERVICE_TYPE=local", "NOTARY_SERVER_STORAGE_BACKEND=memory",
                  "NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA=0", "NOTARY_SERVER_BOGUS_THING=ignored",
                  "NOTARY_SIGNER_STORAGE_DB_URL=other", NULL);
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, env, &error);
  g_autofree char *url = NULL, *level = NULL, *type = NULL, *backend = NULL, *age = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr ((url = lookup_str (c, "storage.db_url")), ==, "env@tcp(e:2)/e");
  g_assert_cmpstr ((level = lookup_str (c, "logging.level")), ==, "debug");
  g_assert_cmpstr ((backend = lookup_str (c, "storage.backend")), ==, "memory");
  /* absent from the file: created from the known schema paths, and
   * TRUST_SERVICE_TYPE resolves to trust_service.type, not trust.service_type */
  g_assert_cmpstr ((type = lookup_str (c, "trust_service.type")), ==, "local");
  g_assert_false (json_object_has_member (c->root, "trust"));
  g_assert_cmpstr ((age = lookup_str (c, "caching.max_age.current_metadata")), ==, "0");
  /* overriding values are strings */
  g_assert_cmpint (json_node_get_value_type (notary_config_lookup (c, "caching.max_age.current_metadata")),
                   ==, G_TYPE_STRING);
  g_assert_null (notary_config_lookup (c, "bogus"));
  g_assert_null (notary_config_lookup (c, "bogus_thing"));
}

static void
test_env_resolves_file_paths (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* keys only the file knows about are overridable too */
  const char *path = write_file (fx, "env2.json", "{\"custom_section\": {\"some_key\": 1}}");
  g_auto (GStrv) env = make_env ("NOTARY_SERVER_CUSTOM_SECTION_SOME_KEY=2", NULL);
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, env, &error);
  g_autofree char *v = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr ((v = lookup_str (c, "custom_section.some_key")), ==, "2");
}

static void
test_env_lowercase_and_empty_ignored (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path
      = write_file (fx, "env3.json", "{\"storage\": {\"backend\": \"mysql\", \"db_url\": \"f\"}}");
  g_auto (GStrv) env
      = make_env ("notary_server_storage_backend=memory", "NOTARY_SERVER_storage_backend=memory",
                  "NOTARY_SERVER_STORAGE_DB_URL=", "NOTARY_SERVER_=x", NULL);
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, env, &error);
  g_autofree char *backend = NULL, *url = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr ((backend = lookup_str (c, "storage.backend")), ==, "mysql");
  g_assert_cmpstr ((url = lookup_str (c, "storage.db_url")), ==, "f");
}

static void
test_env_map_override (Fixture *fx, gconstpointer data)
{
  const char *contents[] = { "{\"storage\": {\"backend\": \"mysql\"}}", "{}" };

  /* refused whether the map is in the file or only in the schema */
  for (guint i = 0; i < G_N_ELEMENTS (contents); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("map%u.json", i);
      const char *path = write_file (fx, name, contents[i]);
      g_auto (GStrv) env = make_env ("NOTARY_SERVER_STORAGE={\"backend\":\"memory\"}", NULL);
      g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, env, &error);

      g_assert_null (c);
      g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_ENV);
      g_assert_cmpstr (
          error->message, ==,
          "NOTARY_SERVER_STORAGE: cannot override \"storage\": it is a map; only string and number "
          "values can be overridden");
    }
  {
    g_autoptr (GError) error = NULL;
    const char *path = write_file (fx, "map-nested.json", "{\"caching\": {}}");
    g_auto (GStrv) env = make_env ("NOTARY_SERVER_CACHING_MAX_AGE=5", NULL);
    g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, env, &error);
    g_assert_null (c);
    g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_ENV);
    g_assert_nonnull (strstr (error->message, "\"caching.max_age\": it is a map"));
  }
}

static void
test_env_parent_not_a_map (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path = write_file (fx, "notmap.json", "{\"storage\": \"memory\"}");
  g_auto (GStrv) env = make_env ("NOTARY_SERVER_STORAGE_BACKEND=memory", NULL);
  g_autoptr (NotaryConfig) c = notary_config_load (path, "NOTARY_SERVER_", known, env, &error);

  g_assert_null (c);
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_ENV);
  g_assert_nonnull (strstr (error->message, "NOTARY_SERVER_STORAGE_BACKEND"));
}

/* ---- notary-server -------------------------------------------------------- */

#define VALID_SERVER                                                                                         \
  "{\"server\": {\"http_addr\": \":4443\", \"tls_cert_file\": \"./notary-server.crt\","                      \
  " \"tls_key_file\": \"notary-server.key\"},"                                                               \
  " \"trust_service\": {\"type\": \"remote\", \"hostname\": \"notarysigner\", \"port\": 7899,"               \
  " \"key_algorithm\": \"ecdsa\", \"tls_ca_file\": \"./root-ca.crt\", \"tls_client_cert\": "                 \
  "\"c/client.crt\","                                                                                        \
  " \"tls_client_key\": \"/keys/client.key\"},"                                                              \
  " \"storage\": {\"backend\": \"mysql\", \"db_url\": "                                                      \
  "\"server@tcp(mysql:3306)/notaryserver?parseTime=True\","                                                  \
  " \"tls_ca_file\": \"db-ca.pem\"},"                                                                        \
  " \"repositories\": {\"gun_prefixes\": [\"docker.io/\", \"quay.io/a/\"]},"                                 \
  " \"logging\": {\"level\": \"info\"}}"

static void
test_server_valid (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path = write_file (fx, "server.json", VALID_SERVER);
  g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, NULL, &error);
  g_autofree char *cert = g_build_filename (fx->dir, "notary-server.crt", NULL);
  g_autofree char *key = g_build_filename (fx->dir, "notary-server.key", NULL);
  g_autofree char *root_ca = g_build_filename (fx->dir, "root-ca.crt", NULL);
  g_autofree char *client = g_build_filename (fx->dir, "c", "client.crt", NULL);
  g_autofree char *db_ca = g_build_filename (fx->dir, "db-ca.pem", NULL);

  g_assert_no_error (error);
  g_assert_nonnull (sc);
  g_assert_cmpint (sc->log_level, ==, NOTARY_LOG_INFO);
  g_assert_cmpstr (sc->http_addr, ==, ":4443");
  g_assert_cmpstr (sc->tls_cert_file, ==, cert);
  g_assert_cmpstr (sc->tls_key_file, ==, key);
  g_assert_null (sc->client_ca_file);
  g_assert_cmpstr (sc->trust_type, ==, "remote");
  g_assert_cmpstr (json_object_get_string_member (sc->trust_options, "tls_ca_file"), ==, root_ca);
  g_assert_cmpstr (json_object_get_string_member (sc->trust_options, "tls_client_cert"), ==, client);
  g_assert_cmpstr (json_object_get_string_member (sc->trust_options, "tls_client_key"), ==,
                   "/keys/client.key");
  g_assert_cmpstr (json_object_get_string_member (sc->trust_options, "hostname"), ==, "notarysigner");
  g_assert_cmpint (json_object_get_int_member (sc->trust_options, "port"), ==, 7899);
  /* a copy: the config tree keeps the value as written */
  g_assert_cmpstr (
      json_object_get_string_member (notary_config_get_object (sc->config, "trust_service"), "tls_ca_file"),
      ==, "./root-ca.crt");
  g_assert_cmpstr (sc->storage_backend, ==, "mysql");
  g_assert_cmpstr (json_object_get_string_member (sc->storage_options, "db_url"), ==,
                   "server@tcp(mysql:3306)/notaryserver?parseTime=True");
  g_assert_cmpstr (json_object_get_string_member (sc->storage_options, "tls_ca_file"), ==, db_ca);
  g_assert_cmpint (sc->max_age_current, ==, 300);
  g_assert_cmpint (sc->max_age_consistent, ==, 2592000);
  g_assert_cmpuint (g_strv_length (sc->gun_prefixes), ==, 2);
  g_assert_cmpstr (sc->gun_prefixes[0], ==, "docker.io/");
  g_assert_cmpstr (sc->gun_prefixes[1], ==, "quay.io/a/");
  g_assert_null (sc->plugin_dir);
  g_assert_cmpuint (sc->workers, ==, g_get_num_processors ());
  /* mysql + remote may block: more handlers than workers */
  g_assert_cmpuint (sc->handlers, ==, 4 * g_get_num_processors ());
  g_assert_cmpint (sc->max_body_bytes, ==, 100 * 1024 * 1024);
}

static void
test_server_minimal_from_env (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* the spec's observed case: {} plus env is a runnable server */
  const char *path = write_file (fx, "empty.json", "{}");
  g_auto (GStrv) env = make_env (
      "NOTARY_SERVER_SERVER_HTTP_ADDR=127.0.0.1:4443", "NOTARY_SERVER_TRUST_SERVICE_TYPE=local",
      "NOTARY_SERVER_STORAGE_BACKEND=memory", "NOTARY_SERVER_REPOSITORIES_GUN_PREFIXES=a/  b/c/\td/",
      "NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA=0",
      "NOTARY_SERVER_CACHING_MAX_AGE_CONSISTENT_METADATA=31536000", "NOTARY_SERVER_PLUGIN_DIR=plugins",
      "NOTARY_SERVER_SERVER_WORKERS=3", "NOTARY_SERVER_SERVER_MAX_REQUEST_BODY=1024", NULL);
  g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, env, &error);
  g_autofree char *plugins = g_build_filename (fx->dir, "plugins", NULL);

  g_assert_no_error (error);
  g_assert_cmpint (sc->log_level, ==, NOTARY_LOG_ERROR); /* default */
  g_assert_cmpstr (sc->http_addr, ==, "127.0.0.1:4443");
  g_assert_cmpstr (sc->trust_type, ==, "local");
  g_assert_nonnull (sc->trust_options);
  g_assert_cmpstr (sc->storage_backend, ==, "memory");
  g_assert_nonnull (sc->storage_options);
  g_assert_null (sc->tls_cert_file);
  g_assert_cmpint (sc->max_age_current, ==, 0);
  g_assert_cmpint (sc->max_age_consistent, ==, 31536000);
  g_assert_cmpuint (g_strv_length (sc->gun_prefixes), ==, 3);
  g_assert_cmpstr (sc->gun_prefixes[0], ==, "a/");
  g_assert_cmpstr (sc->gun_prefixes[1], ==, "b/c/");
  g_assert_cmpstr (sc->gun_prefixes[2], ==, "d/");
  g_assert_cmpstr (sc->plugin_dir, ==, plugins);
  g_assert_cmpuint (sc->workers, ==, 3);
  /* memory + local never block: as many handlers as workers */
  g_assert_cmpuint (sc->handlers, ==, 3);
  g_assert_cmpint (sc->max_body_bytes, ==, 1024);
}

static void
test_server_handlers (Fixture *fx, gconstpointer data)
{
  /* the default follows the backends; an explicit value wins over it */
  const struct
  {
    const char *json;
    const char *env;
    guint expected_per_worker; /* 0: exactly 7 */
  } cases[] = {
    { "{\"trust_service\": {\"type\": \"local\"}, \"storage\": {\"backend\": \"memory\"}}", NULL, 1 },
    { "{\"trust_service\": {\"type\": \"remote\", \"hostname\": \"s\", \"port\": \"7899\", "
      "\"key_algorithm\": \"ecdsa\"}, "
      "\"storage\": {\"backend\": \"memory\"}}",
      NULL, 4 },
    { "{\"trust_service\": {\"type\": \"local\"}, \"storage\": {\"backend\": \"thirdparty\"}}", NULL, 4 },
    { "{\"trust_service\": {\"type\": \"local\"}, \"storage\": {\"backend\": \"thirdparty\"}, "
      "\"server\": {\"handlers\": 7}}",
      NULL, 0 },
    { "{\"trust_service\": {\"type\": \"local\"}, \"storage\": {\"backend\": \"memory\"}}",
      "NOTARY_SERVER_SERVER_HANDLERS=7", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *path = write_file (fx, "handlers.json", cases[i].json);
      g_auto (GStrv) env = make_env ("NOTARY_SERVER_SERVER_HTTP_ADDR=:1", cases[i].env, NULL);
      g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, env, &error);

      g_assert_no_error (error);
      if (cases[i].expected_per_worker == 0)
        g_assert_cmpuint (sc->handlers, ==, 7);
      else
        g_assert_cmpuint (sc->handlers, ==, cases[i].expected_per_worker * sc->workers);
    }
}

typedef struct
{
  const char *json;
  const char *message;
} BadCase;

#define OK_TRUST "\"trust_service\": {\"type\": \"local\"}"
#define OK_STORAGE "\"storage\": {\"backend\": \"memory\"}"
#define OK_SERVER "\"server\": {\"http_addr\": \":4443\"}"

static void
test_server_errors (Fixture *fx, gconstpointer data)
{
  const BadCase cases[] = {
    /* logging.level first */
    { "{\"logging\": {\"level\": \"foo\"}, \"repositories\": {\"gun_prefixes\": [\"a\"]}}",
      "not a valid logrus Level: \"foo\"" },
    { "{\"logging\": {\"level\": 2}}", "not a valid logrus Level: \"2\"" },
    /* then gun prefixes, before trust_service */
    { "{\"repositories\": {\"gun_prefixes\": [\"a\"]}}", "invalid GUN prefix a" },
    { "{\"repositories\": {\"gun_prefixes\": [\"/abs/\"]}}", "invalid GUN prefix /abs/" },
    { "{\"repositories\": {\"gun_prefixes\": [\"../up/\"]}}", "invalid GUN prefix ../up/" },
    { "{\"repositories\": {\"gun_prefixes\": [\"a//b/\"]}}", "invalid GUN prefix a//b/" },
    { "{\"repositories\": {\"gun_prefixes\": [\" a/\"]}}", "invalid GUN prefix  a/" },
    /* bugsnag is accepted: the next error is trust_service's */
    { "{\"reporting\": {\"bugsnag\": {\"release_stage\": \"x\"}}}",
      "must specify either a \"local\" or \"remote\" type for trust_service" },
    { "{\"trust_service\": {\"type\": \"bruhaha\"}}",
      "must specify either a \"local\" or \"remote\" type for trust_service" },
    { "{\"trust_service\": {\"type\": \"remote\", \"key_algorithm\": \"dsa\"}}",
      "invalid key algorithm configured: dsa" },
    { "{\"trust_service\": {\"type\": \"remote\"}}", "invalid key algorithm configured: " },
    { "{\"trust_service\": {\"type\": \"remote\", \"key_algorithm\": \"rsa\", \"hostname\": \"h\", \"port\": "
      "1,"
      " \"tls_client_cert\": \"c.crt\"}}",
      "either pass both client key and cert, or neither" },
    { "{\"trust_service\": {\"type\": \"remote\", \"key_algorithm\": \"ed25519\", \"port\": \"7899\"}}",
      "must specify a hostname for the remote trust_service" },
    { "{\"trust_service\": {\"type\": \"remote\", \"key_algorithm\": \"ecdsa\", \"hostname\": \"h\"}}",
      "must specify a port for the remote trust_service" },
    /* then storage */
    { "{" OK_TRUST "}", " is not a supported storage backend" },
    { "{" OK_TRUST ", \"storage\": {\"backend\": \"mysql\"}}",
      "must provide a non-empty database source for mysql" },
    { "{" OK_TRUST ", \"storage\": {\"backend\": \"postgres\", \"db_url\": \"\"}}",
      "must provide a non-empty database source for postgres" },
    /* then caching */
    { "{" OK_TRUST ", " OK_STORAGE ", \"caching\": {\"max_age\": {\"current_metadata\": 31536001}}}",
      "must specify a cache-control max-age between 0 and 31536000" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"caching\": {\"max_age\": {\"consistent_metadata\": -1}}}",
      "must specify a cache-control max-age between 0 and 31536000" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"caching\": {\"max_age\": {\"current_metadata\": \"abc\"}}}",
      "must specify a cache-control max-age between 0 and 31536000" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"caching\": {\"max_age\": {\"current_metadata\": 1.5}}}",
      "must specify a cache-control max-age between 0 and 31536000" },
    /* then the listen address */
    { "{" OK_TRUST ", " OK_STORAGE "}", "http listen address required for server" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \"\"}}",
      "http listen address required for server" },
    /* then TLS files */
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \":1\", \"tls_cert_file\": \"a.crt\"}}",
      "either include both a cert and key file, or no TLS information at all to disable TLS" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \":1\", \"tls_key_file\": \"a.key\"}}",
      "either include both a cert and key file, or no TLS information at all to disable TLS" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \":1\", \"client_ca_file\": \"ca.crt\"}}",
      "either include both a cert and key file, or no TLS information at all to disable TLS" },
    /* our own keys last */
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \":1\", \"workers\": 0}}",
      "server.workers must be an integer between 1 and 1024, not \"0\"" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \":1\", \"handlers\": \"-2\"}}",
      "server.handlers must be an integer between 1 and 1024, not \"-2\"" },
    { "{" OK_TRUST ", " OK_STORAGE ", \"server\": {\"http_addr\": \":1\", \"max_request_body\": \"lots\"}}",
      "server.max_request_body must be a positive number of bytes, not \"lots\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("bad-server-%u.json", i);
      const char *path = write_file (fx, name, cases[i].json);
      g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, NULL, &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_null (sc);
      g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_INVALID);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_server_env_errors (Fixture *fx, gconstpointer data)
{
  const char *path = write_file (fx, "srv-env.json", "{" OK_TRUST ", " OK_STORAGE ", " OK_SERVER "}");
  struct
  {
    const char *var;
    const char *message;
  } cases[] = {
    { "NOTARY_SERVER_LOGGING_LEVEL=loud", "not a valid logrus Level: \"loud\"" },
    { "NOTARY_SERVER_REPOSITORIES_GUN_PREFIXES=ok/ bad", "invalid GUN prefix bad" },
    { "NOTARY_SERVER_TRUST_SERVICE_TYPE=remote", "invalid key algorithm configured: " },
    { "NOTARY_SERVER_STORAGE_BACKEND=mysql", "must provide a non-empty database source for mysql" },
    { "NOTARY_SERVER_CACHING_MAX_AGE_CONSISTENT_METADATA=31536001",
      "must specify a cache-control max-age between 0 and 31536000" },
    { "NOTARY_SERVER_SERVER_CLIENT_CA_FILE=ca.crt",
      "either include both a cert and key file, or no TLS information at all to disable TLS" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_auto (GStrv) env = make_env (cases[i].var, NULL);
      g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, env, &error);

      g_test_message ("case %u: %s", i, cases[i].var);
      g_assert_null (sc);
      g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_INVALID);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }

  /* and the same file without overrides is fine */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (sc->trust_type, ==, "local");
  }
}

static void
test_server_map_env (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path = write_file (fx, "srv-map.json", "{" OK_TRUST ", " OK_SERVER "}");
  g_auto (GStrv) env = make_env ("NOTARY_SERVER_STORAGE={\"backend\":\"memory\"}", NULL);
  g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, env, &error);

  g_assert_null (sc);
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_ENV);
  g_assert_cmpstr (
      error->message, ==,
      "NOTARY_SERVER_STORAGE: cannot override \"storage\": it is a map; only string and number values "
      "can be overridden");
}

static void
test_server_pkcs11_and_bugsnag (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *path
      = write_file (fx, "srv-p11.json",
                    "{\"trust_service\": {\"type\": \"pkcs11\", \"module\": \"/usr/lib/softhsm.so\"},"
                    " \"reporting\": {\"bugsnag\": {\"api_key\": \"k\"}}, " OK_STORAGE ", " OK_SERVER
                    ", \"caching\": {\"max_age\": {\"current_metadata\": \"60\"}}}");
  g_autoptr (NotaryServerConfig) sc = notary_server_config_load (path, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (sc->trust_type, ==, "pkcs11");
  g_assert_cmpstr (json_object_get_string_member (sc->trust_options, "module"), ==, "/usr/lib/softhsm.so");
  g_assert_cmpint (sc->max_age_current, ==, 60);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, func) g_test_add ("/config/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("file/missing", test_missing_file);
  ADD ("file/missing-relative", test_missing_relative);
  ADD ("file/no-path", test_no_path);
  ADD ("file/no-extension", test_no_extension);
  ADD ("file/bad-json", test_bad_json);
  ADD ("file/keys-and-scalars", test_keys_lowercased_and_scalars);
  ADD ("file/relative-paths", test_relative_paths);
  ADD ("file/relative-config-path", test_relative_config_path);
  ADD ("env/overrides", test_env_overrides);
  ADD ("env/file-paths", test_env_resolves_file_paths);
  ADD ("env/lowercase-and-empty-ignored", test_env_lowercase_and_empty_ignored);
  ADD ("env/map-override", test_env_map_override);
  ADD ("env/parent-not-a-map", test_env_parent_not_a_map);
  ADD ("server/valid", test_server_valid);
  ADD ("server/minimal-from-env", test_server_minimal_from_env);
  ADD ("server/handlers", test_server_handlers);
  ADD ("server/errors", test_server_errors);
  ADD ("server/env-errors", test_server_env_errors);
  ADD ("server/map-env", test_server_map_env);
  ADD ("server/pkcs11-and-bugsnag", test_server_pkcs11_and_bugsnag);
#undef ADD
  return g_test_run ();
}
