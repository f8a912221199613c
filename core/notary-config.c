/* notary-config.c — reading a daemon's JSON config file and applying its
 * NOTARY_<PROGRAM>_* environment overrides (config-and-ops.md §1).
 *
 * The reference reads its config through viper; we keep viper's observable
 * behaviour (error texts, case-insensitive keys, env beats file, empty env
 * = unset, values read "as strings") and fix its two traps as the project
 * decided (§11): an override naming a map is an error instead of being
 * silently dropped, and ambiguous '_' in variable names is resolved against
 * the key paths that exist (in the file or in the daemon's schema).
 *
 * Typed, validated views of the tree (NotaryServerConfig) live in
 * notary-server-config.c.
 */
#include "notary-config.h"

#include <errno.h>
#include <string.h>

G_DEFINE_QUARK (notary - config - error - quark, notary_config_error)

/* ---- reading the file -------------------------------------------------- */

/* viper reports every path as "Could not read config at :PATH, viper
 * error: …" (sic, colon before the path). */
static gboolean throw_read (GError **error, const char *given_path, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);
static gboolean
throw_read (GError **error, const char *given_path, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *detail = NULL;

  va_start (ap, fmt);
  detail = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_READ,
               "Could not read config at :%s, viper error: %s", given_path, detail);
  return FALSE;
}

/* viper's "Not Found": NAME is the base name without its extension. */
static gboolean
throw_not_found (GError **error, const char *given_path, const char *abs_path)
{
  g_autofree char *base = g_path_get_basename (given_path[0] != '\0' ? given_path : ".");
  g_autofree char *dir = g_path_get_dirname (abs_path);
  const char *dot = strrchr (base, '.');

  if (dot != NULL && dot != base)
    base[dot - base] = '\0';
  return throw_read (error, given_path, "Config File \"%s\" Not Found in \"[%s]\"", base, dir);
}

/* Lower-case every object key, recursively (viper keys are
 * case-insensitive); on collisions the later member wins. */
static JsonNode *
lowercase_keys (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *in = json_node_get_object (node);
        g_autoptr (JsonObject) out = json_object_new ();
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;

        json_object_iter_init_ordered (&iter, in);
        while (json_object_iter_next_ordered (&iter, &key, &member))
          {
            g_autofree char *lower = g_utf8_strdown (key, -1);
            json_object_set_member (out, lower, lowercase_keys (member));
          }
        JsonNode *res = json_node_new (JSON_NODE_OBJECT);
        json_node_take_object (res, g_steal_pointer (&out));
        return res;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *in = json_node_get_array (node);
        g_autoptr (JsonArray) out = json_array_sized_new (json_array_get_length (in));
        for (guint i = 0; i < json_array_get_length (in); i++)
          json_array_add_element (out, lowercase_keys (json_array_get_element (in, i)));
        JsonNode *res = json_node_new (JSON_NODE_ARRAY);
        json_node_take_array (res, g_steal_pointer (&out));
        return res;
      }
    default:
      return json_node_copy (node);
    }
}

static const char *
node_type_go_name (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_ARRAY:
      return "array";
    case JSON_NODE_NULL:
      return "null";
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING:
          return "string";
        case G_TYPE_BOOLEAN:
          return "bool";
        default:
          return "number";
        }
    }
}

static JsonObject *
read_config_file (const char *given_path, const char *abs_path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *ext = strrchr (abs_path, '.');
  const char *slash = strrchr (abs_path, '/');
  JsonNode *root;

  /* viper picks the decoder from the extension; without one it finds
   * nothing at all. */
  if (ext == NULL || (slash != NULL && ext < slash) || ext == slash + 1)
    return throw_not_found (error, given_path, abs_path), NULL;
  if (g_ascii_strcasecmp (ext, ".json") != 0)
    return throw_read (error, given_path, "Unsupported Config Type \"%s\" (only json is supported)", ext + 1),
           NULL;

  if (!g_file_get_contents (abs_path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)
          || g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_ISDIR))
        return throw_not_found (error, given_path, abs_path), NULL;
      return throw_read (error, given_path, "%s", local_error->message), NULL;
    }

  if (!json_parser_load_from_data (parser, contents, length, &local_error))
    {
      const char *msg = local_error->message;
      if (g_str_has_prefix (msg, "<data>:"))
        msg += strlen ("<data>:");
      if (strstr (msg, "unexpected end of file") != NULL)
        msg = "unexpected end of JSON input";
      return throw_read (error, given_path, "While parsing config: %s", msg), NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    return throw_read (error, given_path, "While parsing config: unexpected end of JSON input"), NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return throw_read (error, given_path,
                       "While parsing config: json: cannot unmarshal %s into Go value of type "
                       "map[string]interface {}",
                       node_type_go_name (root)),
           NULL;

  g_autoptr (JsonNode) lowered = lowercase_keys (root);
  return json_object_ref (json_node_get_object (lowered));
}

/* ---- environment overrides --------------------------------------------- */

typedef struct
{
  char *path;      /* dotted, lower case */
  gboolean is_map; /* an object in the file, or a parent of a schema path */
} Candidate;

static void
candidate_free (gpointer p)
{
  Candidate *c = p;
  g_free (c->path);
  g_free (c);
}

/* env name of a dotted path: upper case, '.' → '_' */
static char *
env_name_of_path (const char *path)
{
  char *name = g_ascii_strup (path, -1);
  g_strdelimit (name, ".", '_');
  return name;
}

static void
add_candidate (GHashTable *by_name, const char *path, gboolean is_map)
{
  g_autofree char *name = env_name_of_path (path);
  Candidate *old = g_hash_table_lookup (by_name, name);

  /* Leaves win over maps for the same spelling: a value can be set, a map
   * could only be refused. */
  if (old != NULL && (!old->is_map || is_map))
    return;
  Candidate *c = g_new0 (Candidate, 1);
  c->path = g_strdup (path);
  c->is_map = is_map;
  g_hash_table_replace (by_name, g_steal_pointer (&name), c);
}

static void
collect_file_paths (GHashTable *by_name, JsonObject *obj, const char *prefix)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *member;

  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &key, &member))
    {
      g_autofree char *path = prefix != NULL ? g_strconcat (prefix, ".", key, NULL) : g_strdup (key);
      gboolean is_map = JSON_NODE_HOLDS_OBJECT (member);
      add_candidate (by_name, path, is_map);
      if (is_map)
        collect_file_paths (by_name, json_node_get_object (member), path);
    }
}

static void
collect_known_paths (GHashTable *by_name, const char *const *known_paths)
{
  for (gsize i = 0; known_paths != NULL && known_paths[i] != NULL; i++)
    {
      g_autofree char *path = g_ascii_strdown (known_paths[i], -1);
      add_candidate (by_name, path, FALSE);
      /* every proper prefix of a schema path names a map */
      for (char *dot = strchr (path, '.'); dot != NULL; dot = strchr (dot + 1, '.'))
        {
          g_autofree char *parent = g_strndup (path, dot - path);
          add_candidate (by_name, parent, TRUE);
        }
    }
}

/* Set @value as a string leaf at @path, creating parent objects. */
static gboolean
set_leaf (JsonObject *root, const char *path, const char *value, const char *var, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonObject *obj = root;
  guint n = g_strv_length (parts);

  for (guint i = 0; i + 1 < n; i++)
    {
      JsonNode *child = json_object_get_member (obj, parts[i]);
      if (child == NULL || JSON_NODE_HOLDS_NULL (child))
        {
          json_object_set_object_member (obj, parts[i], json_object_new ());
          child = json_object_get_member (obj, parts[i]);
        }
      else if (!JSON_NODE_HOLDS_OBJECT (child))
        {
          g_set_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_ENV,
                       "%s: cannot override \"%s\": \"%s\" in the config file is not a map", var, path,
                       parts[i]);
          return FALSE;
        }
      obj = json_node_get_object (child);
    }
  json_object_set_string_member (obj, parts[n - 1], value);
  return TRUE;
}

static gboolean
name_is_upper (const char *s)
{
  for (; *s != '\0'; s++)
    if (g_ascii_islower (*s))
      return FALSE;
  return TRUE;
}

static gboolean
apply_env (JsonObject *root, const char *prefix, const char *const *known_paths, char **envp, GError **error)
{
  g_autoptr (GHashTable) by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, candidate_free);
  gsize prefix_len = strlen (prefix);

  collect_file_paths (by_name, root, NULL);
  collect_known_paths (by_name, known_paths);

  for (gsize i = 0; envp != NULL && envp[i] != NULL; i++)
    {
      const char *eq = strchr (envp[i], '=');
      if (eq == NULL || !g_str_has_prefix (envp[i], prefix))
        continue;
      g_autofree char *var = g_strndup (envp[i], eq - envp[i]);
      const char *rest = var + prefix_len;
      const char *value = eq + 1;

      /* viper only looks up upper-case names, and "" means unset */
      if (rest[0] == '\0' || value[0] == '\0' || !name_is_upper (var))
        continue;
      Candidate *c = g_hash_table_lookup (by_name, rest);
      if (c == NULL)
        continue; /* names no key we know: not ours (e.g. a signer passphrase) */
      if (c->is_map)
        {
          g_set_error (
              error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_ENV,
              "%s: cannot override \"%s\": it is a map; only string and number values can be overridden", var,
              c->path);
          return FALSE;
        }
      if (!set_leaf (root, c->path, value, var, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- public ------------------------------------------------------------ */

NotaryConfig *
notary_config_load (const char *path, const char *env_prefix, const char *const *known_paths, char **envp,
                    GError **error)
{
  g_autoptr (NotaryConfig) config = g_new0 (NotaryConfig, 1);
  const char *given = path != NULL ? path : "";

  config->path = g_canonicalize_filename (given[0] != '\0' ? given : ".", NULL);
  config->dir = g_path_get_dirname (config->path);
  if (given[0] == '\0')
    {
      /* viper: no file name at all is "." searched in the working dir */
      g_autofree char *cwd = g_get_current_dir ();
      return throw_read (error, given, "Config File \".\" Not Found in \"[%s]\"", cwd), NULL;
    }

  config->root = read_config_file (given, config->path, error);
  if (config->root == NULL)
    return NULL;
  if (env_prefix != NULL && !apply_env (config->root, env_prefix, known_paths, envp, error))
    return NULL;
  return g_steal_pointer (&config);
}

void
notary_config_free (NotaryConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->dir);
  if (config->root != NULL)
    json_object_unref (config->root);
  g_free (config);
}

JsonNode *
notary_config_lookup (NotaryConfig *config, const char *dotted_path)
{
  g_autofree char *lower = g_ascii_strdown (dotted_path, -1);
  g_auto (GStrv) parts = g_strsplit (lower, ".", -1);
  JsonObject *obj = config->root;
  JsonNode *node = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (obj == NULL)
        return NULL;
      node = json_object_get_member (obj, parts[i]);
      if (node == NULL)
        return NULL;
      obj = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    }
  return node;
}

/* A scalar as viper's GetString gives it. */
static char *
node_dup_scalar (JsonNode *node)
{
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return NULL;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (node));
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        double d = json_node_get_double (node);
        /* Go formats whole floats without exponent or fraction */
        if (d == (double)(gint64)d && d > -1e15 && d < 1e15)
          return g_strdup_printf ("%" G_GINT64_FORMAT, (gint64)d);
        return g_strdup (g_ascii_dtostr (buf, sizeof buf, d));
      }
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "true" : "false");
    default:
      return NULL;
    }
}

char *
notary_config_dup_string (NotaryConfig *config, const char *dotted_path)
{
  return node_dup_scalar (notary_config_lookup (config, dotted_path));
}

/* Relative paths resolve against @dir, cleaned (config-and-ops.md §1.1);
 * "" and NULL give NULL. */
static char *
resolve_path (const char *dir, const char *value)
{
  if (value == NULL || value[0] == '\0')
    return NULL;
  if (g_path_is_absolute (value))
    return g_strdup (value);
  return g_canonicalize_filename (value, dir);
}

char *
notary_config_dup_path (NotaryConfig *config, const char *dotted_path)
{
  g_autofree char *value = notary_config_dup_string (config, dotted_path);
  return resolve_path (config->dir, value);
}

JsonObject *
notary_config_get_object (NotaryConfig *config, const char *dotted_path)
{
  JsonNode *node = notary_config_lookup (config, dotted_path);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}
