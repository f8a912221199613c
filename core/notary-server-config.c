/* notary-server-config.c — notary-server's typed, validated configuration
 * (config-and-ops.md §2, §5, §11).
 *
 * Validation runs in the reference's order so the first error a user sees
 * is the one notary-server would print: logging.level →
 * repositories.gun_prefixes → reporting.bugsnag → trust_service → storage →
 * caching → server.http_addr → server TLS files; our own keys (plugin_dir,
 * server.workers, server.handlers, server.max_request_body) come last.  Whether the named
 * storage/signer plugin exists, and whether TLS files load, is checked
 * later by the plugin loader and the TLS setup.
 */
#include "notary-config.h"
#include "notary-error.h"

#include <string.h>

#define CACHE_MAX_AGE_LIMIT 31536000 /* one year, the reference's ceiling */
#define DEFAULT_MAX_AGE_CURRENT 300
#define DEFAULT_MAX_AGE_CONSISTENT 2592000
#define DEFAULT_MAX_BODY_BYTES (100 * 1024 * 1024)
#define MAX_WORKERS 1024
/* Handler threads per worker when a backend blocks on the network: a
 * publish to MySQL with a remote signer is mostly waiting (commit, RPC),
 * and on the 2-CPU bench 8 handlers accepted ~45% more publishes than 2
 * (4 and 16 were worse than 8). */
#define BLOCKING_HANDLERS_PER_WORKER 4

/* Keys an environment variable may set even when the file lacks them. */
static const char *const server_known_paths[] = {
  "plugin_dir",
  "server.http_addr",
  "server.tls_cert_file",
  "server.tls_key_file",
  "server.client_ca_file",
  "server.workers",
  "server.handlers",
  "server.max_request_body",
  "trust_service.type",
  "trust_service.hostname",
  "trust_service.port",
  "trust_service.key_algorithm",
  "trust_service.tls_ca_file",
  "trust_service.tls_client_cert",
  "trust_service.tls_client_key",
  "trust_service.connections",   /* remote */
  "trust_service.pin",           /* pkcs11 */
  "trust_service.module",        /* pkcs11 */
  "trust_service.token_label",   /* pkcs11 */
  "trust_service.slot",          /* pkcs11 */
  "storage.backend",
  "storage.db_url",
  "storage.max_connections",     /* mysql */
  "storage.connect_timeout",     /* mysql */
  "storage.read_timeout",        /* mysql */
  "storage.write_timeout",       /* mysql */
  "auth.type",
  "auth.options.realm",
  "auth.options.service",
  "auth.options.issuer",
  "auth.options.rootcertbundle",
  "auth.options.autoredirect",
  "logging.level",
  "reporting.bugsnag.api_key",
  "reporting.bugsnag.release_stage",
  "reporting.bugsnag.endpoint",
  "caching.max_age.current_metadata",
  "caching.max_age.consistent_metadata",
  "repositories.gun_prefixes",
  NULL,
};

/* Path keys resolved against the config dir, per section (§1.1). */
static const char *const trust_path_keys[] = { "tls_ca_file", "tls_client_cert", "tls_client_key", "module", NULL };
static const char *const storage_path_keys[] = { "tls_ca_file", "client_cert_file", "client_key_file", NULL };

#define throw_invalid(error, ...) \
  notary_throw (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_INVALID, __VA_ARGS__)

static gboolean
is_empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

/* Go's path.Clean: lexical, '/'-separated, "" → ".". */
static char *
go_path_clean (const char *p)
{
  gboolean rooted = p[0] == '/';
  g_auto (GStrv) parts = g_strsplit (p, "/", -1);
  g_autoptr (GPtrArray) out = g_ptr_array_new ();
  g_autoptr (GString) res = g_string_new (rooted ? "/" : "");

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *seg = parts[i];
      if (seg[0] == '\0' || g_str_equal (seg, "."))
        continue;
      if (g_str_equal (seg, ".."))
        {
          if (out->len > 0 && !g_str_equal (g_ptr_array_index (out, out->len - 1), ".."))
            g_ptr_array_remove_index (out, out->len - 1);
          else if (!rooted)
            g_ptr_array_add (out, (gpointer)seg);
          continue;
        }
      g_ptr_array_add (out, (gpointer)seg);
    }
  for (guint i = 0; i < out->len; i++)
    {
      if (i > 0)
        g_string_append_c (res, '/');
      g_string_append (res, g_ptr_array_index (out, i));
    }
  if (res->len == 0)
    g_string_assign (res, ".");
  return g_string_free (g_steal_pointer (&res), FALSE);
}

/* strconv.Atoi: optional sign, decimal digits only. */
static gboolean
parse_go_int (const char *s, gint64 *out)
{
  return g_ascii_string_to_signed (s, 10, G_MININT64, G_MAXINT64, out, NULL);
}

/* ---- the steps, in order ----------------------------------------------- */

static gboolean
load_log_level (NotaryServerConfig *sc, GError **error)
{
  g_autofree char *level = notary_config_dup_string (sc->config, "logging.level");

  sc->log_level = NOTARY_LOG_ERROR;
  if (!is_empty (level))
    return notary_log_level_from_string (level, &sc->log_level, error);
  /* a non-scalar (object, list) cannot be a level either */
  JsonNode *node = notary_config_lookup (sc->config, "logging.level");
  if (node != NULL && JSON_NODE_TYPE (node) != JSON_NODE_VALUE && !JSON_NODE_HOLDS_NULL (node))
    return throw_invalid (error, "not a valid logrus Level: \"%s\"", "");
  return TRUE;
}

static gboolean
load_gun_prefixes (NotaryServerConfig *sc, GError **error)
{
  JsonNode *node = notary_config_lookup (sc->config, "repositories.gun_prefixes");
  g_autoptr (GPtrArray) prefixes = g_ptr_array_new_with_free_func (g_free);

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *arr = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonNode *el = json_array_get_element (arr, i);
          char *s = NULL;
          if (JSON_NODE_TYPE (el) == JSON_NODE_VALUE)
            s = json_node_get_value_type (el) == G_TYPE_STRING
                    ? g_strdup (json_node_get_string (el))
                    : g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (el));
          g_ptr_array_add (prefixes, s != NULL ? s : g_strdup (""));
        }
    }
  else if (node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_VALUE)
    {
      /* a string (e.g. from the environment) is split on whitespace, as
       * viper's GetStringSlice does */
      g_autofree char *s = notary_config_dup_string (sc->config, "repositories.gun_prefixes");
      g_auto (GStrv) words = g_strsplit_set (s != NULL ? s : "", " \t\n\r\v\f", -1);
      for (guint i = 0; words[i] != NULL; i++)
        if (words[i][0] != '\0')
          g_ptr_array_add (prefixes, g_strdup (words[i]));
    }

  for (guint i = 0; i < prefixes->len; i++)
    {
      const char *prefix = g_ptr_array_index (prefixes, i);
      g_autofree char *trimmed = g_strstrip (g_strdup (prefix));
      g_autofree char *clean = go_path_clean (trimmed);
      g_autofree char *with_slash = g_strconcat (clean, "/", NULL);
      if (!g_str_equal (with_slash, prefix) || g_str_has_prefix (clean, "/")
          || g_str_has_prefix (clean, ".."))
        return throw_invalid (error, "invalid GUN prefix %s", prefix);
    }
  g_ptr_array_add (prefixes, NULL);
  sc->gun_prefixes = (char **)g_ptr_array_free (g_steal_pointer (&prefixes), FALSE);
  return TRUE;
}

static gboolean
check_bugsnag (NotaryServerConfig *sc, GError **error)
{
  static const char *const keys[]
      = { "reporting.bugsnag.api_key", "reporting.bugsnag.release_stage", "reporting.bugsnag.endpoint" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *v = notary_config_dup_string (sc->config, keys[i]);
      if (!is_empty (v))
        {
          /* project decision (§11): accepted, never contacted */
          notary_log (NOTARY_LOG_WARNING, "bugsnag reporting is not supported; ignoring reporting.bugsnag",
                      NULL);
          break;
        }
    }
  return TRUE;
}

/* json_node_copy() shares containers; options handed to a plugin must not
 * alias the config tree. */
static JsonNode *deep_copy_node (JsonNode *node);

static JsonObject *
deep_copy_object (JsonObject *obj)
{
  JsonObject *out = json_object_new ();
  JsonObjectIter iter;
  const char *key;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, obj);
  while (json_object_iter_next_ordered (&iter, &key, &member))
    json_object_set_member (out, key, deep_copy_node (member));
  return out;
}

static JsonNode *
deep_copy_node (JsonNode *node)
{
  JsonNode *res;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      res = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (res, deep_copy_object (json_node_get_object (node)));
      return res;
    case JSON_NODE_ARRAY:
      {
        JsonArray *in = json_node_get_array (node);
        JsonArray *out = json_array_sized_new (json_array_get_length (in));
        for (guint i = 0; i < json_array_get_length (in); i++)
          json_array_add_element (out, deep_copy_node (json_array_get_element (in, i)));
        res = json_node_new (JSON_NODE_ARRAY);
        json_node_take_array (res, out);
        return res;
      }
    default:
      return json_node_copy (node);
    }
}

/* A deep copy of section @name (never NULL) with its path keys resolved. */
static JsonObject *
copy_section_resolved (NotaryConfig *config, const char *name, const char *const *path_keys)
{
  JsonObject *section = notary_config_get_object (config, name);
  g_autoptr (JsonObject) copy = NULL;

  if (section == NULL)
    return json_object_new ();
  copy = deep_copy_object (section);
  for (guint i = 0; path_keys[i] != NULL; i++)
    {
      g_autofree char *dotted = g_strconcat (name, ".", path_keys[i], NULL);
      g_autofree char *resolved = notary_config_dup_path (config, dotted);
      if (resolved != NULL)
        json_object_set_string_member (copy, path_keys[i], resolved);
    }
  return g_steal_pointer (&copy);
}

static gboolean
load_trust_service (NotaryServerConfig *sc, GError **error)
{
  NotaryConfig *c = sc->config;
  g_autofree char *type = notary_config_dup_string (c, "trust_service.type");

  if (g_strcmp0 (type, "local") != 0 && g_strcmp0 (type, "remote") != 0 && g_strcmp0 (type, "pkcs11") != 0)
    /* the reference's text; "pkcs11" is our addition (§11) */
    return throw_invalid (error, "must specify either a \"local\" or \"remote\" type for trust_service");
  sc->trust_type = g_steal_pointer (&type);

  if (g_str_equal (sc->trust_type, "remote"))
    {
      g_autofree char *algo = notary_config_dup_string (c, "trust_service.key_algorithm");
      g_autofree char *cert = notary_config_dup_path (c, "trust_service.tls_client_cert");
      g_autofree char *key = notary_config_dup_path (c, "trust_service.tls_client_key");
      g_autofree char *host = notary_config_dup_string (c, "trust_service.hostname");
      g_autofree char *port = notary_config_dup_string (c, "trust_service.port");

      if (g_strcmp0 (algo, "ecdsa") != 0 && g_strcmp0 (algo, "rsa") != 0 && g_strcmp0 (algo, "ed25519") != 0)
        return throw_invalid (error, "invalid key algorithm configured: %s", algo != NULL ? algo : "");
      if ((cert == NULL) != (key == NULL))
        return throw_invalid (error, "either pass both client key and cert, or neither");
      /* The reference only fails at dial time; we refuse to start. */
      if (is_empty (host))
        return throw_invalid (error, "must specify a hostname for the remote trust_service");
      if (is_empty (port))
        return throw_invalid (error, "must specify a port for the remote trust_service");
    }
  sc->trust_options = copy_section_resolved (c, "trust_service", trust_path_keys);
  return TRUE;
}

static gboolean
load_storage (NotaryServerConfig *sc, GError **error)
{
  NotaryConfig *c = sc->config;
  g_autofree char *backend = notary_config_dup_string (c, "storage.backend");

  if (is_empty (backend))
    return throw_invalid (error, "%s is not a supported storage backend", backend != NULL ? backend : "");
  if (g_str_equal (backend, "mysql") || g_str_equal (backend, "postgres") || g_str_equal (backend, "sqlite3"))
    {
      g_autofree char *url = notary_config_dup_string (c, "storage.db_url");
      if (is_empty (url))
        return throw_invalid (error, "must provide a non-empty database source for %s", backend);
    }
  sc->storage_blocks = !g_str_equal (backend, "memory");
  sc->storage_backend = g_steal_pointer (&backend);
  sc->storage_options = copy_section_resolved (c, "storage", storage_path_keys);
  return TRUE;
}

static gboolean
load_max_age (NotaryConfig *c, const char *key, gint64 def, gint64 *out, GError **error)
{
  g_autofree char *s = notary_config_dup_string (c, key);

  *out = def;
  if (is_empty (s))
    {
      /* a list or map here is not a number of seconds either */
      JsonNode *node = notary_config_lookup (c, key);
      if (node != NULL && JSON_NODE_TYPE (node) != JSON_NODE_VALUE && !JSON_NODE_HOLDS_NULL (node))
        return throw_invalid (error, "must specify a cache-control max-age between 0 and %d",
                              CACHE_MAX_AGE_LIMIT);
      return TRUE;
    }
  if (!parse_go_int (s, out) || *out < 0 || *out > CACHE_MAX_AGE_LIMIT)
    return throw_invalid (error, "must specify a cache-control max-age between 0 and %d",
                          CACHE_MAX_AGE_LIMIT);
  return TRUE;
}

static gboolean
load_caching (NotaryServerConfig *sc, GError **error)
{
  return load_max_age (sc->config, "caching.max_age.current_metadata", DEFAULT_MAX_AGE_CURRENT,
                       &sc->max_age_current, error)
         && load_max_age (sc->config, "caching.max_age.consistent_metadata", DEFAULT_MAX_AGE_CONSISTENT,
                          &sc->max_age_consistent, error);
}

static gboolean
load_server (NotaryServerConfig *sc, GError **error)
{
  NotaryConfig *c = sc->config;
  g_autofree char *addr = notary_config_dup_string (c, "server.http_addr");

  if (is_empty (addr))
    return throw_invalid (error, "http listen address required for server");
  sc->http_addr = g_steal_pointer (&addr);

  sc->tls_cert_file = notary_config_dup_path (c, "server.tls_cert_file");
  sc->tls_key_file = notary_config_dup_path (c, "server.tls_key_file");
  sc->client_ca_file = notary_config_dup_path (c, "server.client_ca_file");
  /* A client CA without our own cert/key would silently serve plain HTTP
   * (NCC 2015-9): refused like a lone cert or key. */
  if ((sc->tls_cert_file == NULL) != (sc->tls_key_file == NULL)
      || (sc->tls_cert_file == NULL && sc->client_ca_file != NULL))
    return throw_invalid (
        error, "either include both a cert and key file, or no TLS information at all to disable TLS");
  return TRUE;
}

static gboolean
load_ours (NotaryServerConfig *sc, GError **error)
{
  NotaryConfig *c = sc->config;
  g_autofree char *workers = notary_config_dup_string (c, "server.workers");
  g_autofree char *handlers = notary_config_dup_string (c, "server.handlers");
  g_autofree char *max_body = notary_config_dup_string (c, "server.max_request_body");

  sc->plugin_dir = notary_config_dup_path (c, "plugin_dir");

  sc->workers = g_get_num_processors ();
  if (!is_empty (workers))
    {
      guint64 n;
      if (!g_ascii_string_to_unsigned (workers, 10, 1, MAX_WORKERS, &n, NULL))
        return throw_invalid (error, "server.workers must be an integer between 1 and %d, not \"%s\"",
                              MAX_WORKERS, workers);
      sc->workers = (guint)n;
    }

  /* Only the built-in in-process pair never waits: there the handlers
   * are CPU-bound and more threads than workers only contend (memory
   * mode, 8 handlers: ~10% fewer publishes than 2).  Any other backend,
   * a third party's included, may block. */
  if (!sc->storage_blocks && g_strcmp0 (sc->trust_type, "local") == 0)
    sc->handlers = sc->workers;
  else
    sc->handlers = MIN (sc->workers * BLOCKING_HANDLERS_PER_WORKER, MAX_WORKERS);
  if (!is_empty (handlers))
    {
      guint64 n;
      if (!g_ascii_string_to_unsigned (handlers, 10, 1, MAX_WORKERS, &n, NULL))
        return throw_invalid (error, "server.handlers must be an integer between 1 and %d, not \"%s\"",
                              MAX_WORKERS, handlers);
      sc->handlers = (guint)n;
    }

  sc->max_body_bytes = DEFAULT_MAX_BODY_BYTES;
  if (!is_empty (max_body))
    {
      gint64 n;
      if (!g_ascii_string_to_signed (max_body, 10, 1, G_MAXINT64, &n, NULL))
        return throw_invalid (error, "server.max_request_body must be a positive number of bytes, not \"%s\"",
                              max_body);
      sc->max_body_bytes = n;
    }
  return TRUE;
}

/* ---- public ------------------------------------------------------------ */

NotaryServerConfig *
notary_server_config_load (const char *path, char **envp, GError **error)
{
  g_autoptr (NotaryServerConfig) sc = g_new0 (NotaryServerConfig, 1);

  sc->config = notary_config_load (path, "NOTARY_SERVER_", server_known_paths, envp, error);
  if (sc->config == NULL)
    return NULL;
  if (!load_log_level (sc, error) || !load_gun_prefixes (sc, error) || !check_bugsnag (sc, error)
      || !load_trust_service (sc, error) || !load_storage (sc, error) || !load_caching (sc, error)
      || !load_server (sc, error) || !load_ours (sc, error))
    return NULL;
  return g_steal_pointer (&sc);
}

void
notary_server_config_free (NotaryServerConfig *config)
{
  if (config == NULL)
    return;
  notary_config_free (config->config);
  g_free (config->http_addr);
  g_free (config->tls_cert_file);
  g_free (config->tls_key_file);
  g_free (config->client_ca_file);
  g_free (config->trust_type);
  if (config->trust_options != NULL)
    json_object_unref (config->trust_options);
  g_free (config->storage_backend);
  if (config->storage_options != NULL)
    json_object_unref (config->storage_options);
  g_strfreev (config->gun_prefixes);
  g_free (config->plugin_dir);
  g_free (config);
}
