/* notary-config.h — JSON config files with NOTARY_<PROGRAM>_<PATH> env
 * overrides (config-and-ops.md §1), and the server's typed view of them.
 *
 * Env overrides: for every variable starting with the prefix, the rest
 * (upper case only) is matched against key paths joined by '_': first the
 * leaves present in the file and the known schema paths, so that
 * TRUST_SERVICE_TYPE resolves to trust_service.type and not trust.service…
 * An override whose target is a JSON object (e.g. NOTARY_SERVER_STORAGE)
 * is an error naming the variable: maps cannot be overridden.  Empty values
 * count as unset.  Keys are case-insensitive (lower-cased on load).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "notary-log.h"

G_BEGIN_DECLS

#define NOTARY_CONFIG_ERROR (notary_config_error_quark ())
GQuark notary_config_error_quark (void);

typedef enum
{
  NOTARY_CONFIG_ERROR_READ,    /* missing/unreadable file, bad JSON */
  NOTARY_CONFIG_ERROR_ENV,     /* bad environment override */
  NOTARY_CONFIG_ERROR_INVALID, /* a value fails validation */
} NotaryConfigError;

typedef struct
{
  char *path;       /* absolute path of the file read */
  char *dir;        /* its directory: relative paths resolve against it */
  JsonObject *root; /* the whole tree, keys lower-cased, env applied */
} NotaryConfig;

/* Read @path and apply overrides from @envp (NULL-terminated "K=V" list,
 * e.g. g_get_environ()) whose names start with @env_prefix
 * ("NOTARY_SERVER_").  @known_paths: dotted schema paths overridable even
 * when absent from the file (NULL-terminated). */
NotaryConfig *notary_config_load (const char *path, const char *env_prefix, const char *const *known_paths,
                                  char **envp, GError **error);
void notary_config_free (NotaryConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryConfig, notary_config_free)

/* The node at a dotted path ("storage.db_url"), or NULL. */
JsonNode *notary_config_lookup (NotaryConfig *config, const char *dotted_path);
/* A scalar leaf as a string (numbers and bools stringified), or NULL. */
char *notary_config_dup_string (NotaryConfig *config, const char *dotted_path);
/* A file path leaf resolved against the config dir ("" stays NULL). */
char *notary_config_dup_path (NotaryConfig *config, const char *dotted_path);
/* The object at @dotted_path, or NULL.  (transfer none) */
JsonObject *notary_config_get_object (NotaryConfig *config, const char *dotted_path);

/* ---- notary-server --------------------------------------------------- */

typedef struct
{
  NotaryConfig *config;

  NotaryLogLevel log_level; /* logging.level, default error */

  char *http_addr;      /* server.http_addr */
  char *tls_cert_file;  /* absolute, or NULL */
  char *tls_key_file;
  char *client_ca_file;

  char *trust_type;          /* trust_service.type: local | remote | pkcs11 | … */
  JsonObject *trust_options; /* trust_service section (paths resolved), never NULL */

  char *storage_backend;       /* storage.backend */
  gboolean storage_blocks;     /* a read of it waits on I/O: every backend but "memory" */
  JsonObject *storage_options; /* storage section, never NULL */

  gint64 max_age_current;    /* caching.max_age.current_metadata, default 300 */
  gint64 max_age_consistent; /* caching.max_age.consistent_metadata, default 2592000 */

  char **gun_prefixes; /* repositories.gun_prefixes, NULL-terminated, may be empty */

  char *plugin_dir;       /* plugin_dir (ours), or NULL */
  guint workers;          /* server.workers (ours), default = number of CPUs */
  guint handlers;         /* server.handlers (ours), default = workers for memory + local,
                           * else 4 × workers */
  gint64 max_body_bytes;  /* server.max_request_body (ours), default 100 MiB */
} NotaryServerConfig;

/* Load and validate in the reference's order (config-and-ops.md §5),
 * with its error texts. */
NotaryServerConfig *notary_server_config_load (const char *path, char **envp, GError **error);
void notary_server_config_free (NotaryServerConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryServerConfig, notary_server_config_free)

G_END_DECLS
