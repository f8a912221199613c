/* notary-daemon.h — what notary-server and notary-signer share as
 * processes: Go-style command-line flags, the fatal start-up line, and the
 * reference's signal behaviour (SIGTERM/SIGINT stop, SIGUSR1/SIGUSR2 step
 * the log level).  The state lives in the caller's main(). */
#pragma once

#include <glib.h>
#include "notary-log.h"

G_BEGIN_DECLS

typedef enum
{
  NOTARY_FLAG_BOOL,   /* gboolean *: -x, -x=true|false */
  NOTARY_FLAG_STRING, /* char ** (owned, replaced): -x v, -x=v */
} NotaryFlagKind;

typedef struct
{
  const char *name;
  NotaryFlagKind kind;
  gpointer dest;
} NotaryFlag;

/* Go `flag` syntax: -x, --x, -x=v, -x v (strings), booleans take only
 * -x or -x=v; parsing stops at "--" or the first positional argument.
 * -h/-help set *@help.  Unknown flags are G_OPTION_ERROR_UNKNOWN_OPTION
 * with Go's text ("flag provided but not defined: -x"). */
gboolean notary_daemon_parse_flags (int argc, char **argv, const NotaryFlag *flags, gsize n_flags,
                                    gboolean *help, GError **error);

/* One fatal log line, exit status 1 (config-and-ops.md §5). */
G_GNUC_NORETURN void notary_daemon_fatal (const char *message);
G_GNUC_NORETURN void notary_daemon_fatalf (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

/* SIGUSR1 (-1: more verbose) / SIGUSR2 (+1), answering on stdout as the
 * reference does. */
void notary_daemon_step_log_level (NotaryLogger *logger, int direction);

typedef struct
{
  GMainLoop *loop;      /* quit on SIGTERM/SIGINT */
  NotaryLogger *logger; /* stepped on SIGUSR1/SIGUSR2 */
} NotaryDaemonSignals;

/* Attach the handlers to the default main context; @state must outlive
 * the loop. */
void notary_daemon_watch_signals (NotaryDaemonSignals *state);

G_END_DECLS
