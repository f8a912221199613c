/* notary/plugin.h — the one entry point every notary plugin exports.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * NOTARY_PLUGIN_ENTRY_SYMBOL, returning a static NotaryPluginDesc.  The core
 * checks the descriptor (ABI major/minor, build signature, kind, name)
 * *before* calling any other plugin code, so an incompatible plugin is
 * refused with a clear message instead of crashing later.
 *
 * ABI rules (copied in spirit from GStreamer and PipeWire SPA):
 *  - majors must match; the plugin's minor must be <= the core's minor;
 *  - every struct crossing the boundary starts with a `version` field and
 *    only ever grows at the end; callers check `version` before touching
 *    members added later;
 *  - plugins never link against the daemon: everything they need from the
 *    host comes through NotaryHost.
 *
 * Write a plugin with NOTARY_PLUGIN_DEFINE() and build it with hidden
 * symbol visibility; see docs/writing-a-storage-plugin.md.
 */
#pragma once

#include <glib.h>
#include <gmodule.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NOTARY_PLUGIN_ABI_MAJOR 1
#define NOTARY_PLUGIN_ABI_MINOR 0

/* Build details that change the binary layout of what we pass across the
 * boundary (GLib's major, pointer and time_t width).  Compared as a string. */
#define NOTARY_PLUGIN_BUILD_SIGNATURE                                                              \
  "glib" G_STRINGIFY (GLIB_MAJOR_VERSION) "/ptr" G_STRINGIFY (GLIB_SIZEOF_VOID_P) "/time" G_STRINGIFY (  \
      NOTARY_SIZEOF_TIME_T)

#if defined(__LP64__) || (defined(_TIME_BITS) && _TIME_BITS == 64)
#define NOTARY_SIZEOF_TIME_T 8
#else
#define NOTARY_SIZEOF_TIME_T 4
#endif

#define NOTARY_PLUGIN_ENTRY_SYMBOL "notary_plugin_get_desc"

typedef enum
{
  NOTARY_PLUGIN_KIND_STORAGE = 1,
  NOTARY_PLUGIN_KIND_SIGNER = 2,
} NotaryPluginKind;

typedef enum
{
  NOTARY_LOG_DEBUG,
  NOTARY_LOG_INFO,
  NOTARY_LOG_WARNING,
  NOTARY_LOG_ERROR,
} NotaryLogLevel;

typedef struct _NotaryHost NotaryHost;

/**
 * NotaryHost:
 * Services the daemon lends to a plugin instance.  Valid until the
 * instance is closed.
 */
#define NOTARY_VERSION_HOST 1
struct _NotaryHost
{
  guint32 version; /* NOTARY_VERSION_HOST */
  /* Log one line through the daemon's logger (json or logfmt).  Never put
   * secrets in @message. */
  void (*log) (const NotaryHost *host, NotaryLogLevel level, const char *message);
  /* Absolute directory of the config file: relative paths in the plugin's
   * own options resolve against it. */
  const char *config_dir;
  /* Which daemon loaded the plugin: "notary-server" or "notary-signer". */
  const char *program;
  gpointer host_data;
};

static inline void
notary_host_logf (const NotaryHost *host, NotaryLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
static inline void
notary_host_logf (const NotaryHost *host, NotaryLogLevel level, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (host != NULL && host->log != NULL)
    host->log (host, level, msg);
  g_free (msg);
}

/**
 * NotaryPluginDesc:
 * What NOTARY_PLUGIN_ENTRY_SYMBOL returns.  @vtable points to a
 * NotaryStorageVTable or NotarySignerVTable according to @kind.
 */
typedef struct
{
  guint32 abi_major;
  guint32 abi_minor;
  const char *build_signature;
  NotaryPluginKind kind;
  const char *name;        /* what the config names: "memory", "mysql", "local" … */
  const char *description; /* one line, shown by --list-plugins */
  const char *version;     /* the plugin's own version string */
  gconstpointer vtable;
} NotaryPluginDesc;

typedef const NotaryPluginDesc *(*NotaryPluginGetDescFunc) (void);

/* Emits the plugin's only exported symbol. */
#define NOTARY_PLUGIN_DEFINE(kind_, name_, description_, version_, vtable_)                        \
  G_MODULE_EXPORT const NotaryPluginDesc *notary_plugin_get_desc (void);                           \
  G_MODULE_EXPORT const NotaryPluginDesc *notary_plugin_get_desc (void)                            \
  {                                                                                                \
    static const NotaryPluginDesc desc = {                                                         \
      NOTARY_PLUGIN_ABI_MAJOR, NOTARY_PLUGIN_ABI_MINOR, NOTARY_PLUGIN_BUILD_SIGNATURE,             \
      (kind_),                 (name_),                 (description_),                            \
      (version_),              (vtable_),                                                          \
    };                                                                                             \
    return &desc;                                                                                  \
  }

/* Helpers for plugins reading their JSON options (the config section that
 * selected them, env overrides already applied).  Every scalar may be given
 * as a string or a number, as in the reference's config. */
static inline char *
notary_options_dup_string (JsonObject *options, const char *key)
{
  JsonNode *n;
  if (options == NULL || !json_object_has_member (options, key))
    return NULL;
  n = json_object_get_member (options, key);
  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE)
    return NULL;
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (n));
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
    case G_TYPE_DOUBLE:
      return g_strdup_printf ("%g", json_node_get_double (n));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (n) ? "true" : "false");
    default:
      return NULL;
    }
}

G_END_DECLS
