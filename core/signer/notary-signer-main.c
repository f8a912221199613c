/* notary-signer-main.c — the notary-signer daemon (config-and-ops.md
 * §3-5, §8; signer-rpc.md).
 *
 * Start-up follows the reference's order so the first failure reported
 * is the same one: -version → anti-dump → version line → config →
 * logging.level → TLS → grpc_addr → backend → db_url → default alias →
 * (ours) its passphrase → DB connect → listen → serve.  With -debug the
 * plain-HTTP debug server on localhost:8080 starts before all of that.  Any
 * failure is one fatal log line and exit status 1; nothing is left
 * listening.  The gRPC server runs on its own threads; the main thread
 * only runs a GMainLoop for signals.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <glib-unix.h>
#include <glib.h>

#include "notary-allocator.h"
#include "notary-build-config.h"
#include "notary-config.h"
#include "notary-daemon.h"
#include "notary-ecdsa.h"
#include "notary-grpc.h"
#include "notary-log.h"
#include "notary-signer-debug.h"
#include "notary-signer-keystore.h"
#include "notary-signer-service.h"

/* The reference's fixed debug address (config-and-ops.md §4, §7). */
#define DEBUG_PORT 8080
#define DEBUG_ADDR "localhost:8080"
/* Its "DB operational" period. */
#define DB_CHECK_INTERVAL_MS (60 * 1000)

typedef struct
{
  char *config;
  char *logf;
  gboolean debug;
  gboolean version;
  gboolean help;
} SignerFlags;

static void
signer_flags_clear (SignerFlags *f)
{
  g_free (f->config);
  g_free (f->logf);
}

static const char *const signer_known_paths[] = {
  "server.grpc_addr",
  "server.tls_cert_file",
  "server.tls_key_file",
  "server.client_ca_file",
  "storage.backend",
  "storage.db_url",
  "storage.default_alias",
  "default_alias",
  "storage.key_cache_size",
  "logging.level",
  NULL,
};

static void
usage (FILE *out)
{
  fprintf (out, "usage: notary-signer -config <config.json> [-debug] [-logf json|logfmt] [-version]\n"
                "  -config string   path to configuration file\n"
                "  -debug           enable debug logging and allow core dumps/ptrace\n"
                "  -logf string     log format: json or logfmt (default \"json\")\n"
                "  -version         print the version and exit\n");
}

/* Keys must never reach a core file or a debugger (NCC: the reference
 * does the prctl; we also zero the core limit). */
static void
protect_memory (void)
{
  struct rlimit none = { 0, 0 };
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    notary_daemon_fatalf ("error disabling core dumps: %s", g_strerror (errno));
  if (setrlimit (RLIMIT_CORE, &none) != 0)
    notary_daemon_fatalf ("error disabling core dumps: %s", g_strerror (errno));
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SignerFlags, signer_flags_clear)

int
main (int argc, char **argv)
{
  g_auto (SignerFlags) flags = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryLogger) logger = NULL;
  g_autoptr (NotaryConfig) config = NULL;
  g_autoptr (NotaryGrpcServer) server = NULL;
  g_autoptr (NotarySignerKeyStore) store = NULL;
  g_autoptr (NotarySignerService) service = NULL;
  g_autoptr (NotarySignerDebug) debug = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autofree char *level_str = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *client_ca = NULL;
  g_autofree char *grpc_addr = NULL;
  g_auto (GStrv) envp = NULL;
  NotaryLogFormat format = NOTARY_LOG_FORMAT_JSON;
  NotaryLogLevel level = NOTARY_LOG_ERROR;
  NotaryDaemonSignals sig;

  /* A vanished peer must cost a connection, never the process. */
  signal (SIGPIPE, SIG_IGN);
  notary_ecdsa_process_init ();
  notary_allocator_tune ();

  const NotaryFlag flag_table[] = {
    { "config", NOTARY_FLAG_STRING, &flags.config },
    { "logf", NOTARY_FLAG_STRING, &flags.logf },
    { "debug", NOTARY_FLAG_BOOL, &flags.debug },
    { "version", NOTARY_FLAG_BOOL, &flags.version },
  };

  if (!notary_daemon_parse_flags (argc, argv, flag_table, G_N_ELEMENTS (flag_table), &flags.help, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      usage (stderr);
      return 2;
    }
  if (flags.help)
    {
      usage (stderr);
      return 0;
    }
  if (flags.version)
    {
      printf ("notary-signer Version: %s, Git commit: , Build: notary-c (GLib %u.%u)\n", NOTARY_VERSION,
              glib_major_version, glib_minor_version);
      return 0;
    }
  if (flags.logf != NULL && !notary_log_format_from_string (flags.logf, &format, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }

  /* The version line is always logged (level info until the config is
   * read); so is every fatal line. */
  logger = notary_logger_new (format, NOTARY_LOG_INFO, 2);
  notary_logger_install (logger);

  if (flags.debug)
    {
      /* Started first, as the reference's goroutine is. */
      debug = notary_signer_debug_new (argv);
      if (!notary_signer_debug_listen (debug, DEBUG_PORT, &error))
        notary_daemon_fatalf ("error listening on debug interface: %s", error->message);
      notary_log (NOTARY_LOG_INFO, "Debug server listening on " DEBUG_ADDR, NULL);
    }
  else
    protect_memory ();

  {
    g_autofree char *line = g_strdup_printf ("Version: %s, Git commit: , Build: notary-c", NOTARY_VERSION);
    g_autofree char *allocator = notary_allocator_describe ();
    notary_log (NOTARY_LOG_INFO, line, "runtime_malloc", allocator, "runtime_gslice",
                notary_allocator_describe_slices (), NULL);
  }

  envp = g_get_environ ();
  config = notary_config_load (flags.config, "NOTARY_SIGNER_", signer_known_paths, envp, &error);
  if (config == NULL)
    notary_daemon_fatal (error->message);

  level_str = notary_config_dup_string (config, "logging.level");
  if (level_str != NULL && level_str[0] != '\0' && !notary_log_level_from_string (level_str, &level, &error))
    notary_daemon_fatal (error->message);
  notary_logger_set_level (logger, level);

  cert = notary_config_dup_path (config, "server.tls_cert_file");
  key = notary_config_dup_path (config, "server.tls_key_file");
  client_ca = notary_config_dup_path (config, "server.client_ca_file");
  /* Loads (and so validates) the TLS files before anything else, as the
   * reference does; the key store is attached once it exists. */
  service = notary_signer_service_new (NULL);
  server = notary_grpc_server_new (cert, key, client_ca, notary_signer_service_handle, service, &error);
  if (server == NULL)
    notary_daemon_fatalf ("unable to set up TLS: %s", error->message);

  grpc_addr = notary_config_dup_string (config, "server.grpc_addr");
  if (grpc_addr == NULL || grpc_addr[0] == '\0')
    notary_daemon_fatal ("grpc listen address required for server");

  store = notary_signer_keystore_open (config, envp, &error);
  if (store == NULL)
    notary_daemon_fatal (error->message);
  notary_signer_service_set_store (service, store);
  if (debug != NULL)
    notary_signer_debug_watch_store (debug, store, DB_CHECK_INTERVAL_MS);

  if (!notary_grpc_server_start (server, grpc_addr, NULL, &error))
    notary_daemon_fatalf ("grpc server failed to listen on %s: %s", grpc_addr, error->message);
  if (flags.debug)
    {
      /* The reference prints this through Go's std logger. */
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%Y/%m/%d %H:%M:%S");
      fprintf (stderr, "%s RPC server listening on %s\n", stamp, grpc_addr);
    }

  loop = g_main_loop_new (NULL, FALSE);
  sig.loop = loop;
  sig.logger = logger;
  notary_daemon_watch_signals (&sig);
  g_main_loop_run (loop);

  /* Ours: stop accepting, let connection threads finish, exit 0. */
  notary_grpc_server_stop (server);
  return 0;
}
