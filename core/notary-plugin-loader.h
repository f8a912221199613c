/* notary-plugin-loader.h — finds, opens and checks plugin modules.
 *
 * Search order (first hit wins), documented once here:
 *   1. the config's `plugin_dir`, when set;
 *   2. every directory of $NOTARY_PLUGIN_PATH (':'-separated);
 *   3. the build tree's plugins/ directory, only when the running binary
 *      itself lives in that build tree (development);
 *   4. the compiled-in install directory (<libdir>/notary/plugins).
 * A plugin of kind K and name N is the file notary-K-N.so (K = storage or
 * signer), directly in a search directory or in its K-N/ subdirectory (the
 * build tree's layout).
 *
 * Modules are opened with G_MODULE_BIND_LOCAL and no lazy binding, checked
 * (ABI, build signature, kind, name) before any of their code but the
 * descriptor getter runs, and made resident.
 */
#pragma once

#include <glib.h>
#include <notary/plugin.h>

G_BEGIN_DECLS

#define NOTARY_PLUGIN_ERROR (notary_plugin_error_quark ())
GQuark notary_plugin_error_quark (void);

typedef enum
{
  NOTARY_PLUGIN_ERROR_NOT_FOUND, /* no such plugin: message lists the available ones */
  NOTARY_PLUGIN_ERROR_OPEN,      /* dlopen failed (missing symbol, not an ELF…) */
  NOTARY_PLUGIN_ERROR_SYMBOL,    /* no NOTARY_PLUGIN_ENTRY_SYMBOL */
  NOTARY_PLUGIN_ERROR_ABI,       /* ABI major/minor or build signature mismatch */
  NOTARY_PLUGIN_ERROR_DESC,      /* descriptor incomplete, wrong kind or name */
} NotaryPluginError;

/* The search directories per the order above.  (transfer full) */
char **notary_plugin_search_path (const char *config_plugin_dir);

/* Load plugin @name of @kind.  \return (transfer none) its descriptor,
 * valid for the life of the process. */
const NotaryPluginDesc *notary_plugin_load (const char *const *search_path, NotaryPluginKind kind,
                                            const char *name, GError **error);

/* Load one plugin file and check it (for --check-plugin and tests). */
const NotaryPluginDesc *notary_plugin_load_file (const char *path, GError **error);

/* Names of the plugins of @kind found on @search_path, sorted.  (transfer full) */
char **notary_plugin_list_available (const char *const *search_path, NotaryPluginKind kind);

G_END_DECLS
