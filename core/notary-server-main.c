/* notary-server-main.c — the notary-server daemon's entry point.
 *
 * Owns every piece of process state (logger, config, plugins, repo, HTTP
 * server, main loop) and wires them together in the reference's start-up
 * order (config-and-ops.md §5), logging the same start-up lines.
 */
#include "notary-allocator.h"
#include "notary-build-config.h"
#include "notary-config.h"
#include "notary-daemon.h"
#include "notary-ecdsa.h"
#include "notary-http.h"
#include "notary-log.h"
#include "notary-plugin-loader.h"
#include "notary-repo.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  char *config_path;
  gboolean debug;
  char *logf;
  gboolean version;
  gboolean help;
  gboolean list_plugins;
  char *check_plugin;
} Flags;

static void
flags_clear (Flags *flags)
{
  g_free (flags->config_path);
  g_free (flags->logf);
  g_free (flags->check_plugin);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Flags, flags_clear)

static void
usage (FILE *out)
{
  fprintf (out, "usage: notary-server -config=FILE [-debug] [-logf=json|logfmt]\n"
                "  -config string      path to the JSON configuration file\n"
                "  -debug              serve debug endpoints on localhost:8080\n"
                "  -logf string        log format: json (default) or logfmt\n"
                "  -version            print the version and exit\n"
                "  -list-plugins       list the storage and signer plugins found and exit\n"
                "  -check-plugin FILE  load and check one plugin file and exit\n");
}

typedef struct
{
  NotaryDaemonSignals common; /* SIGTERM/SIGINT/SIGUSR1/SIGUSR2 */
  NotaryHttpServer *http;
  const char *config_path;
  gboolean tls; /* a plain-HTTP server cannot switch to TLS on reload */
} SignalCtx;

typedef struct
{
  NotaryHttpServer *http;
  NotaryAllocatorQuiet quiet;
} QuietCtx;

/* Gives the memory a burst of requests left free back to the kernel once
 * the requests stop (notary-allocator.h). */
static gboolean
on_quiet_tick (gpointer data)
{
  QuietCtx *ctx = data;

  notary_allocator_quiet_tick (&ctx->quiet, notary_http_server_count_answered (ctx->http));
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: re-read the config file for the log level and the TLS
 * certificate/key (renewed certificates need no restart).  A bad file is
 * logged and changes nothing. */
static gboolean
on_hup (gpointer data)
{
  SignalCtx *ctx = data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (NotaryServerConfig) config = notary_server_config_load (ctx->config_path, envp, &error);
  g_autoptr (NotaryTlsIdentity) identity = NULL;

  if (config == NULL)
    {
      g_autofree char *m = g_strdup_printf ("reload failed, keeping the running configuration: %s", error->message);
      notary_log (NOTARY_LOG_ERROR, m, NULL);
      return G_SOURCE_CONTINUE;
    }
  if (ctx->tls && config->tls_cert_file != NULL)
    {
      identity = notary_tls_identity_load (config->tls_cert_file, config->tls_key_file, &error);
      if (identity == NULL)
        {
          g_autofree char *m = g_strdup_printf ("reload failed, keeping the running certificate: %s", error->message);
          notary_log (NOTARY_LOG_ERROR, m, NULL);
          return G_SOURCE_CONTINUE;
        }
      notary_http_server_set_tls_identity (ctx->http, identity);
    }
  notary_logger_set_level (ctx->common.logger, config->log_level);
  notary_log (NOTARY_LOG_INFO, "reloaded TLS certificate and log level", NULL);
  return G_SOURCE_CONTINUE;
}

static int
list_plugins (char **search_path)
{
  static const struct
  {
    NotaryPluginKind kind;
    const char *label;
  } kinds[] = { { NOTARY_PLUGIN_KIND_STORAGE, "storage" }, { NOTARY_PLUGIN_KIND_SIGNER, "trust_service" } };

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_auto (GStrv) names = notary_plugin_list_available ((const char *const *) search_path, kinds[k].kind);
      printf ("%s:", kinds[k].label);
      for (guint i = 0; names && names[i]; i++)
        printf (" %s", names[i]);
      printf ("\n");
    }
  return 0;
}

int
main (int argc, char **argv)
{
  g_auto (Flags) flags = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryLogger) logger = NULL;
  g_autoptr (NotaryServerConfig) config = NULL;
  g_auto (GStrv) search_path = NULL;
  g_auto (GStrv) envp = g_get_environ ();
  NotaryLogFormat format = NOTARY_LOG_FORMAT_JSON;
  const NotaryPluginDesc *storage_desc, *signer_desc;
  const NotaryStorageVTable *svt;
  const NotarySignerVTable *kvt;
  NotaryStorage *storage;
  NotarySigner *signer;
  NotaryHost host = { NOTARY_VERSION_HOST, notary_log_host_func, NULL, "notary-server", NULL };
  g_autoptr (NotaryRepo) repo = NULL;
  g_autoptr (NotaryHttpServer) http = NULL;
  g_autoptr (NotaryTlsIdentity) identity = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (NotaryAuth) auth = NULL;
  g_autofree char *msg = NULL;
  g_autofree char *allocator = NULL;
  NotaryHttpOptions opts = { 0 };
  SignalCtx sig;
  QuietCtx quiet = { 0 };
  guint quiet_tick;

  const NotaryFlag flag_table[] = {
    { "config", NOTARY_FLAG_STRING, &flags.config_path },
    { "logf", NOTARY_FLAG_STRING, &flags.logf },
    { "check-plugin", NOTARY_FLAG_STRING, &flags.check_plugin },
    { "debug", NOTARY_FLAG_BOOL, &flags.debug },
    { "version", NOTARY_FLAG_BOOL, &flags.version },
    { "list-plugins", NOTARY_FLAG_BOOL, &flags.list_plugins },
  };

  notary_ecdsa_process_init ();
  notary_allocator_tune ();
  if (!notary_daemon_parse_flags (argc, argv, flag_table, G_N_ELEMENTS (flag_table), &flags.help, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      usage (stderr);
      return 2;
    }
  if (flags.help)
    {
      usage (stdout);
      return 0;
    }
  if (flags.version)
    {
      printf ("notary-server Version: %s, Git commit: notary-c, GLib: %u.%u.%u\n", NOTARY_VERSION,
              glib_major_version, glib_minor_version, glib_micro_version);
      return 0;
    }
  /* The format applies from the first line (the reference prints its
   * start-up lines as JSON whatever -logf says; we do not). */
  if (flags.logf != NULL && !notary_log_format_from_string (flags.logf, &format, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  logger = notary_logger_new (format, NOTARY_LOG_INFO, 2);
  notary_logger_install (logger);

  if (flags.check_plugin != NULL)
    {
      const NotaryPluginDesc *d = notary_plugin_load_file (flags.check_plugin, &error);
      if (d == NULL)
        notary_daemon_fatal (error->message);
      printf ("%s: %s plugin \"%s\" %s (ABI %u.%u): %s\n", flags.check_plugin,
              d->kind == NOTARY_PLUGIN_KIND_STORAGE ? "storage" : "signer", d->name, d->version, d->abi_major,
              d->abi_minor, d->description);
      fflush (stdout);
      return 0;
    }

  msg = g_strdup_printf ("Version: %s, Git commit: notary-c, GLib: %u.%u.%u", NOTARY_VERSION, glib_major_version,
                         glib_minor_version, glib_micro_version);
  allocator = notary_allocator_describe ();
  notary_log (NOTARY_LOG_INFO, msg, "runtime_malloc", allocator, "runtime_gslice",
              notary_allocator_describe_slices (), NULL);

  if (flags.list_plugins)
    {
      search_path = notary_plugin_search_path (NULL);
      return list_plugins (search_path);
    }

  config = notary_server_config_load (flags.config_path ? flags.config_path : "", envp, &error);
  if (config == NULL)
    notary_daemon_fatal (error->message);
  notary_logger_set_level (logger, config->log_level);
  host.config_dir = config->config->dir;
  search_path = notary_plugin_search_path (config->plugin_dir);

  if (g_str_equal (config->trust_type, "local"))
    notary_log (NOTARY_LOG_INFO,
                "Using local signing service, which requires ED25519. Ignoring all other trust_service "
                "parameters, including keyAlgorithm",
                NULL);
  else
    {
      g_autofree char *m = g_strdup_printf ("Using %s signing service", config->trust_type);
      notary_log (NOTARY_LOG_INFO, m, NULL);
    }
  signer_desc = notary_plugin_load ((const char *const *) search_path, NOTARY_PLUGIN_KIND_SIGNER,
                                    config->trust_type, &error);
  if (signer_desc == NULL)
    notary_daemon_fatal (error->message);
  kvt = signer_desc->vtable;
  signer = kvt->open (&host, config->trust_options, &error);
  if (signer == NULL)
    notary_daemon_fatal (error->message);

  {
    g_autofree char *m = g_strdup_printf ("Using %s backend", config->storage_backend);
    notary_log (NOTARY_LOG_INFO, m, NULL);
  }
  storage_desc = notary_plugin_load ((const char *const *) search_path, NOTARY_PLUGIN_KIND_STORAGE,
                                     config->storage_backend, &error);
  if (storage_desc == NULL)
    notary_daemon_fatal (error->message);
  svt = storage_desc->vtable;
  storage = svt->open (&host, config->storage_options, &error);
  if (storage == NULL)
    notary_daemon_fatal (error->message);

  repo = notary_repo_new (svt, storage, kvt, signer);
  /* The in-process store answers in a microsecond: sharing its reads would
   * only add a lock.  Every other backend is a round trip away; as many
   * reads may be under way as requests may wait elsewhere. */
  if (!notary_repo_set_coalesce_reads (repo, config->storage_blocks ? config->handlers : 0, &error))
    notary_daemon_fatal (error->message);

  notary_log (NOTARY_LOG_INFO, "Starting Server", NULL);
  if (config->tls_cert_file != NULL)
    {
      identity = notary_tls_identity_load (config->tls_cert_file, config->tls_key_file, &error);
      if (identity == NULL)
        {
          g_autofree char *m = g_strdup_printf ("Could not load X509 key pair (cert: \"%s\", key: \"%s\"): %s",
                                                config->tls_cert_file, config->tls_key_file, error->message);
          notary_daemon_fatal (m);
        }
      if (config->client_ca_file != NULL)
        {
          /* read again by the transport; checked here to fail early */
          g_autofree char *ca = notary_tls_read_ca_bundle (config->client_ca_file, &error);
          if (ca == NULL)
            notary_daemon_fatal (error->message);
        }
      notary_log (NOTARY_LOG_INFO, "Enabling TLS", NULL);
    }

  /* Checked after the TLS files, as the reference does. */
  auth = notary_auth_new_from_config (notary_config_get_object (config->config, "auth"), config->config->dir,
                                      &error);
  if (auth == NULL && error != NULL)
    notary_daemon_fatal (error->message);
  if (auth != NULL)
    notary_log (NOTARY_LOG_INFO, "Using token authentication", NULL);

  opts.repo = repo;
  opts.auth = auth;
  opts.logger = logger;
  opts.max_age_current = config->max_age_current;
  opts.max_age_consistent = config->max_age_consistent;
  opts.gun_prefixes = (const char *const *) config->gun_prefixes;
  opts.max_body_bytes = config->max_body_bytes;
  opts.tls_identity = identity;
  opts.client_ca_file = identity != NULL ? config->client_ca_file : NULL;
  opts.workers = config->workers;
  opts.handlers = config->handlers;
  opts.storage_blocks = config->storage_blocks;
  http = notary_http_server_new (&opts);

  loop = g_main_loop_new (NULL, FALSE);
  if (flags.debug)
    {
      if (!notary_http_server_listen_debug (http, "localhost:8080", &error))
        notary_daemon_fatal (error->message);
      notary_log (NOTARY_LOG_INFO, "Debug server listening on localhost:8080", NULL);
    }

  {
    g_autofree char *m = g_strdup_printf ("Starting on %s", config->http_addr);
    notary_log (NOTARY_LOG_INFO, m, NULL);
  }
  if (!notary_http_server_listen (http, config->http_addr, &error))
    notary_daemon_fatal (error->message);

  sig.common.loop = loop;
  sig.common.logger = logger;
  sig.http = http;
  sig.config_path = flags.config_path;
  sig.tls = identity != NULL;
  g_unix_signal_add (SIGHUP, on_hup, &sig);
  notary_daemon_watch_signals (&sig.common);
  quiet.http = http;
  quiet_tick = g_timeout_add (NOTARY_ALLOCATOR_QUIET_MS, on_quiet_tick, &quiet);
  g_main_loop_run (loop);
  g_source_remove (quiet_tick);

  notary_http_server_stop (http);
  g_clear_pointer (&http, notary_http_server_free);
  g_clear_pointer (&repo, notary_repo_free);
  svt->close (storage);
  kvt->close (signer);
  notary_log (NOTARY_LOG_INFO, "stopped", NULL);
  return 0;
}
