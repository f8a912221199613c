/* notary-log.h — the daemons' logger: one line per record on stderr, as
 * logrus JSON ({"level","msg","time"} + fields, keys sorted) or logfmt
 * (level=info msg="…" time=…), from the very first line.
 *
 * Code logs through notary_log() (or GLib's g_debug/g_info/g_message/
 * g_warning/g_critical, which the installed writer also formats).  The
 * logger object is created by the daemon's main() and installed as GLib's
 * structured log writer; nothing else holds logger state.
 */
#pragma once

#include <glib.h>
#include <notary/plugin.h>

G_BEGIN_DECLS

typedef enum
{
  NOTARY_LOG_FORMAT_JSON,
  NOTARY_LOG_FORMAT_LOGFMT,
} NotaryLogFormat;

/* Extra levels above NotaryLogLevel's, as logrus has them. */
#define NOTARY_LOG_FATAL ((NotaryLogLevel) 4)
#define NOTARY_LOG_PANIC ((NotaryLogLevel) 5)

typedef struct _NotaryLogger NotaryLogger;

/* "json" or "logfmt"; anything else is an error naming the value. */
gboolean notary_log_format_from_string (const char *s, NotaryLogFormat *out, GError **error);
/* logrus names: debug, info, warning|warn, error, fatal, panic.  Else error
 * `not a valid logrus Level: "X"`. */
gboolean notary_log_level_from_string (const char *s, NotaryLogLevel *out, GError **error);
const char *notary_log_level_to_string (NotaryLogLevel level);

/* A logger writing to @fd (2 = stderr) at @level. */
NotaryLogger *notary_logger_new (NotaryLogFormat format, NotaryLogLevel level, int fd);
void notary_logger_free (NotaryLogger *logger);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryLogger, notary_logger_free)

/* Make @logger GLib's structured log writer (g_log_set_writer_func). */
void notary_logger_install (NotaryLogger *logger);
void notary_logger_set_level (NotaryLogger *logger, NotaryLogLevel level);
NotaryLogLevel notary_logger_get_level (NotaryLogger *logger);

/* Log @message with extra string fields given as key, value pairs ended by
 * NULL: notary_log (NOTARY_LOG_INFO, "updated", "gun", gun, NULL).
 * Thread-safe; one write(2) per line. */
void notary_log (NotaryLogLevel level, const char *message, ...) G_GNUC_NULL_TERMINATED;
void notary_logv_fields (NotaryLogLevel level, const char *message, const char *const *keys,
                         const char *const *values, gsize n_fields);

/* NotaryHost.log implementation for plugins. */
void notary_log_host_func (const NotaryHost *host, NotaryLogLevel level, const char *message);

/* Format one record into a line (without writing it); used by the writer
 * and by tests.  @time_rfc3339 NULL means now.  \return (transfer full)
 * the line including its trailing '\n'. */
char *notary_log_format_line (NotaryLogFormat format, NotaryLogLevel level, const char *message,
                              const char *const *keys, const char *const *values, gsize n_fields,
                              const char *time_rfc3339);

G_END_DECLS
