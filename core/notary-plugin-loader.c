/* notary-plugin-loader.c — finding, opening and checking plugin modules.
 *
 * Search order (documented once, in notary-plugin-loader.h): config
 * `plugin_dir` → $NOTARY_PLUGIN_PATH → the build tree's plugins/ (only for
 * a binary running from that build tree) → the compiled-in install dir.
 *
 * A file is accepted only after these checks, in this order, with nothing
 * of the plugin's run but its descriptor getter:
 *   open (G_MODULE_BIND_LOCAL, immediate binding: unresolved symbols fail
 *   now, not on the first request) → entry symbol → ABI major equal and
 *   minor <= ours → build signature equal → kind → name → vtable present
 *   with version >= 1 → no other file already loaded under that kind+name.
 * Accepted modules are made resident: code they registered (GTypes,
 * callbacks) must outlive any handle.
 */
#include "notary-plugin-loader.h"
#include "notary-build-config.h"
#include "notary-log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (notary - plugin - error - quark, notary_plugin_error)

/* Process-wide registry of accepted plugins.  It mirrors state that is
 * process-global anyway (resident modules in the dynamic linker), which is
 * why it is the one global here; it only ever grows. */
typedef struct
{
  char *file; /* canonical path */
  const NotaryPluginDesc *desc;
} LoadedPlugin;

static GMutex registry_lock;
static GHashTable *registry_by_file; /* canonical path → LoadedPlugin* (owned) */
static GHashTable *registry_by_name; /* "kind/name" → LoadedPlugin* (borrowed) */

static const char *
kind_to_string (NotaryPluginKind kind)
{
  switch (kind)
    {
    case NOTARY_PLUGIN_KIND_STORAGE:
      return "storage";
    case NOTARY_PLUGIN_KIND_SIGNER:
      return "signer";
    default:
      return NULL;
    }
}

static gboolean
name_is_valid (const char *name)
{
  if (name == NULL || name[0] == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == '-' || *p == '.'))
      return FALSE;
  return !g_str_equal (name, ".") && !g_str_equal (name, "..");
}

/* ---- search path ------------------------------------------------------- */

static void
add_dir (GPtrArray *dirs, const char *dir)
{
  if (dir == NULL || dir[0] == '\0')
    return;
  for (guint i = 0; i < dirs->len; i++)
    if (g_str_equal (g_ptr_array_index (dirs, i), dir))
      return;
  g_ptr_array_add (dirs, g_strdup (dir));
}

/* Whether the running executable lives in the build tree it was built in
 * (then its freshly built plugins are the ones that match it). */
static gboolean
running_from_build_tree (void)
{
  g_autofree char *exe = realpath ("/proc/self/exe", NULL);
  g_autofree char *root = realpath (NOTARY_BUILD_ROOT, NULL);

  if (exe == NULL || root == NULL)
    return FALSE;
  gsize n = strlen (root);
  return strncmp (exe, root, n) == 0 && exe[n] == '/';
}

char **
notary_plugin_search_path (const char *config_plugin_dir)
{
  g_autoptr (GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  const char *env = g_getenv ("NOTARY_PLUGIN_PATH");

  add_dir (dirs, config_plugin_dir);
  if (env != NULL)
    {
      g_auto (GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i] != NULL; i++)
        add_dir (dirs, parts[i]);
    }
  if (running_from_build_tree ())
    {
      g_autofree char *build_plugins = g_build_filename (NOTARY_BUILD_ROOT, "plugins", NULL);
      add_dir (dirs, build_plugins);
    }
  add_dir (dirs, NOTARY_PLUGIN_INSTALL_DIR);
  g_ptr_array_add (dirs, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&dirs), FALSE);
}

/* ---- checks ------------------------------------------------------------ */

/* From a file name notary-<kind>-<name>.so, what it must contain. */
static gboolean
expected_from_file_name (const char *path, NotaryPluginKind *kind, char **name)
{
  g_autofree char *base = g_path_get_basename (path);
  static const NotaryPluginKind kinds[] = { NOTARY_PLUGIN_KIND_STORAGE, NOTARY_PLUGIN_KIND_SIGNER };

  if (!g_str_has_suffix (base, ".so"))
    return FALSE;
  base[strlen (base) - 3] = '\0';
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *prefix = g_strdup_printf ("notary-%s-", kind_to_string (kinds[i]));
      if (g_str_has_prefix (base, prefix) && base[strlen (prefix)] != '\0')
        {
          *kind = kinds[i];
          *name = g_strdup (base + strlen (prefix));
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
check_desc (const char *path, const NotaryPluginDesc *desc, NotaryPluginKind want_kind, const char *want_name,
            GError **error)
{
  if (desc == NULL)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC, "%s: %s returned no descriptor",
                   path, NOTARY_PLUGIN_ENTRY_SYMBOL);
      return FALSE;
    }
  if (desc->abi_major != NOTARY_PLUGIN_ABI_MAJOR || desc->abi_minor > NOTARY_PLUGIN_ABI_MINOR)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_ABI,
                   "%s: plugin ABI %u.%u is not compatible with this notary (ABI %u.%u)", path,
                   desc->abi_major, desc->abi_minor, NOTARY_PLUGIN_ABI_MAJOR, NOTARY_PLUGIN_ABI_MINOR);
      return FALSE;
    }
  if (g_strcmp0 (desc->build_signature, NOTARY_PLUGIN_BUILD_SIGNATURE) != 0)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_ABI,
                   "%s: plugin is not binary compatible (built as \"%s\", this notary is \"%s\")", path,
                   desc->build_signature != NULL ? desc->build_signature : "(none)",
                   NOTARY_PLUGIN_BUILD_SIGNATURE);
      return FALSE;
    }
  if (kind_to_string (desc->kind) == NULL)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC, "%s: unknown plugin kind %d", path,
                   (int)desc->kind);
      return FALSE;
    }
  if (want_kind != 0 && desc->kind != want_kind)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC,
                   "%s: is a %s plugin, not a %s plugin", path, kind_to_string (desc->kind),
                   kind_to_string (want_kind));
      return FALSE;
    }
  if (desc->name == NULL || desc->name[0] == '\0')
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC, "%s: plugin has no name", path);
      return FALSE;
    }
  if (want_name != NULL && !g_str_equal (desc->name, want_name))
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC,
                   "%s: plugin calls itself \"%s\", expected \"%s\"", path, desc->name, want_name);
      return FALSE;
    }
  if (desc->vtable == NULL || *(const guint32 *)desc->vtable < 1)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC,
                   "%s: plugin has no %s vtable (or its version is 0)", path, kind_to_string (desc->kind));
      return FALSE;
    }
  return TRUE;
}

static void
loaded_plugin_free (gpointer p)
{
  LoadedPlugin *lp = p;
  g_free (lp->file);
  g_free (lp);
}

/* Caller holds registry_lock. */
static void
registry_ensure (void)
{
  if (registry_by_file != NULL)
    return;
  registry_by_file = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, loaded_plugin_free);
  registry_by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static const NotaryPluginDesc *
load_checked (const char *path, NotaryPluginKind want_kind, const char *want_name, GError **error)
{
  g_autofree char *file = realpath (path, NULL);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *file_kind_name = NULL;
  g_autofree char *key = NULL;
  NotaryPluginKind file_kind = 0;
  NotaryPluginGetDescFunc get_desc = NULL;
  const NotaryPluginDesc *desc;
  GModule *module;
  LoadedPlugin *lp;
  g_autoptr (GMutexLocker) locker = NULL;

  if (file == NULL)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_OPEN, "%s: cannot open plugin: %s", path,
                   g_strerror (errno));
      return NULL;
    }
  /* A file named like a plugin must be that plugin. */
  if (want_kind == 0 && expected_from_file_name (file, &file_kind, &file_kind_name))
    {
      want_kind = file_kind;
      want_name = file_kind_name;
    }

  locker = g_mutex_locker_new (&registry_lock);
  registry_ensure ();
  lp = g_hash_table_lookup (registry_by_file, file);
  if (lp != NULL)
    {
      /* already accepted once: same answer, and no second dlopen */
      if (!check_desc (path, lp->desc, want_kind, want_name, error))
        return NULL;
      return lp->desc;
    }

  notary_log (NOTARY_LOG_DEBUG, "loading plugin", "path", file, NULL);
  module = g_module_open_full (file, G_MODULE_BIND_LOCAL, &local_error);
  if (module == NULL)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_OPEN, "%s: cannot open plugin: %s", path,
                   local_error->message);
      return NULL;
    }
  if (!g_module_symbol (module, NOTARY_PLUGIN_ENTRY_SYMBOL, (gpointer *)&get_desc) || get_desc == NULL)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_SYMBOL,
                   "%s: not a notary plugin (it does not export %s)", path, NOTARY_PLUGIN_ENTRY_SYMBOL);
      g_module_close (module);
      return NULL;
    }
  desc = get_desc ();
  if (!check_desc (path, desc, want_kind, want_name, error))
    {
      g_module_close (module);
      return NULL;
    }

  key = g_strdup_printf ("%s/%s", kind_to_string (desc->kind), desc->name);
  lp = g_hash_table_lookup (registry_by_name, key);
  if (lp != NULL)
    {
      g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC,
                   "%s: duplicate plugin: %s backend \"%s\" is already loaded from %s", path,
                   kind_to_string (desc->kind), desc->name, lp->file);
      g_module_close (module);
      return NULL;
    }

  g_module_make_resident (module);
  lp = g_new0 (LoadedPlugin, 1);
  lp->file = g_steal_pointer (&file);
  lp->desc = desc;
  g_hash_table_insert (registry_by_file, lp->file, lp);
  g_hash_table_insert (registry_by_name, g_steal_pointer (&key), lp);
  return desc;
}

/* ---- public ------------------------------------------------------------ */

const NotaryPluginDesc *
notary_plugin_load_file (const char *path, GError **error)
{
  return load_checked (path, 0, NULL, error);
}

/* The file of plugin @kind/@name in @dir, or NULL. */
static char *
find_in_dir (const char *dir, NotaryPluginKind kind, const char *name)
{
  g_autofree char *file = g_strdup_printf ("notary-%s-%s.so", kind_to_string (kind), name);
  g_autofree char *subdir = g_strdup_printf ("%s-%s", kind_to_string (kind), name);
  g_autofree char *direct = g_build_filename (dir, file, NULL);
  g_autofree char *nested = g_build_filename (dir, subdir, file, NULL);

  if (g_file_test (direct, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&direct);
  if (g_file_test (nested, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&nested);
  return NULL;
}

const NotaryPluginDesc *
notary_plugin_load (const char *const *search_path, NotaryPluginKind kind, const char *name, GError **error)
{
  const char *kind_str = kind_to_string (kind);

  g_return_val_if_fail (kind_str != NULL, NULL);

  /* the name becomes part of a file name: no path tricks */
  if (name_is_valid (name))
    {
      for (gsize i = 0; search_path != NULL && search_path[i] != NULL; i++)
        {
          g_autofree char *file = find_in_dir (search_path[i], kind, name);
          if (file != NULL)
            return load_checked (file, kind, name, error);
        }
    }

  g_auto (GStrv) available = notary_plugin_list_available (search_path, kind);
  g_autofree char *avail = g_strv_length (available) > 0 ? g_strjoinv (", ", available) : g_strdup ("none");
  g_autofree char *searched = search_path != NULL ? g_strjoinv (":", (char **)search_path) : g_strdup ("");
  g_set_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_NOT_FOUND,
               "no %s backend \"%s\" (available: %s); searched: %s", kind_str, name != NULL ? name : "",
               avail, searched);
  return NULL;
}

static void
add_name (GPtrArray *names, const char *name)
{
  if (!name_is_valid (name))
    return;
  for (guint i = 0; i < names->len; i++)
    if (g_str_equal (g_ptr_array_index (names, i), name))
      return;
  g_ptr_array_add (names, g_strdup (name));
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

char **
notary_plugin_list_available (const char *const *search_path, NotaryPluginKind kind)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *file_prefix = g_strdup_printf ("notary-%s-", kind_to_string (kind));
  g_autofree char *dir_prefix = g_strdup_printf ("%s-", kind_to_string (kind));

  for (gsize i = 0; kind_to_string (kind) != NULL && search_path != NULL && search_path[i] != NULL; i++)
    {
      g_autoptr (GDir) dir = g_dir_open (search_path[i], 0, NULL);
      const char *entry;

      if (dir == NULL)
        continue;
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          if (g_str_has_prefix (entry, file_prefix) && g_str_has_suffix (entry, ".so"))
            {
              g_autofree char *name = g_strndup (entry + strlen (file_prefix),
                                                 strlen (entry) - strlen (file_prefix) - strlen (".so"));
              g_autofree char *path = g_build_filename (search_path[i], entry, NULL);
              if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
                add_name (names, name);
            }
          else if (g_str_has_prefix (entry, dir_prefix))
            {
              const char *name = entry + strlen (dir_prefix);
              g_autofree char *found = name_is_valid (name) ? find_in_dir (search_path[i], kind, name) : NULL;
              if (found != NULL)
                add_name (names, name);
            }
        }
    }
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&names), FALSE);
}
