/* notary-log.c — the daemons' logger (config-and-ops.md §5).
 *
 * Every record becomes exactly one line written with one write(2) call, in
 * the format chosen on the command line (logrus JSON or logrus-style
 * logfmt).  The logger is installed as GLib's structured log writer, so
 * g_message()/g_warning() from any library come out in the same format, and
 * notary_log() itself simply emits a structured GLib record: the logger's
 * state lives only behind GLib's writer registration, never in a global of
 * ours.
 *
 * Record fields: MESSAGE is the text; NOTARY_LEVEL (when present) carries
 * the logrus level, which GLib's levels cannot express (error/fatal/panic
 * must not abort); keys starting with a lower-case letter are extra logrus
 * fields ("gun", "http.request.method", …).  GLib's own upper-case fields
 * (CODE_FILE, PRIORITY, …) are not printed.
 */
#include "notary-log.h"
#include "notary-json.h"
#include "notary-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct _NotaryLogger
{
  gint ref_count;
  NotaryLogFormat format;
  gint level; /* NotaryLogLevel, read and written atomically */
  int fd;
};

#define FIELD_NOTARY_LEVEL "NOTARY_LEVEL"

/* ---- levels and formats ------------------------------------------------ */

static const char *const level_names[] = { "debug", "info", "warning", "error", "fatal", "panic" };

gboolean
notary_log_format_from_string (const char *s, NotaryLogFormat *out, GError **error)
{
  if (g_strcmp0 (s, "json") == 0)
    *out = NOTARY_LOG_FORMAT_JSON;
  else if (g_strcmp0 (s, "logfmt") == 0)
    *out = NOTARY_LOG_FORMAT_LOGFMT;
  else
    {
      g_set_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_INVALID,
                   "unknown log format \"%s\": must be json or logfmt", s != NULL ? s : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
notary_log_level_from_string (const char *s, NotaryLogLevel *out, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (s != NULL ? s : "", -1);

  /* logrus.ParseLevel is case-insensitive and knows "warn" as an alias. */
  if (g_str_equal (lower, "warn"))
    {
      *out = NOTARY_LOG_WARNING;
      return TRUE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (level_names); i++)
    {
      if (g_str_equal (lower, level_names[i]))
        {
          *out = (NotaryLogLevel)i;
          return TRUE;
        }
    }
  g_set_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_INVALID, "not a valid logrus Level: \"%s\"",
               s != NULL ? s : "");
  return FALSE;
}

const char *
notary_log_level_to_string (NotaryLogLevel level)
{
  if ((guint)level < G_N_ELEMENTS (level_names))
    return level_names[level];
  return "unknown";
}

/* ---- line formatting --------------------------------------------------- */

typedef struct
{
  const char *key;
  const char *value;
  gssize value_len; /* -1: NUL-terminated */
} Field;

static int
field_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Field *)a)->key, ((const Field *)b)->key);
}


/* logrus' text formatter quotes any value with a character outside this set. */
static gboolean
logfmt_needs_quoting (const char *s, gssize len)
{
  if (len == 0)
    return TRUE;
  for (gssize i = 0; i < len; i++)
    {
      char c = s[i];
      if (!(g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_' || c == '/' || c == '@' || c == '^'
            || c == '+'))
        return TRUE;
    }
  return FALSE;
}

/* Go's %q: backslash escapes, printable UTF-8 kept as is. */
static void
append_go_quoted (GString *out, const char *s, gssize len)
{
  const char *end = s + len;

  g_string_append_c (out, '"');
  for (const char *p = s; p < end;)
    {
      guchar c = (guchar)*p;
      if (c >= 0x80)
        {
          gunichar uc = g_utf8_get_char_validated (p, end - p);
          if (uc == (gunichar)-1 || uc == (gunichar)-2)
            {
              g_string_append_printf (out, "\\x%02x", c);
              p++;
              continue;
            }
          const char *next = g_utf8_next_char (p);
          if (g_unichar_isprint (uc))
            g_string_append_len (out, p, next - p);
          else if (uc <= 0xffff)
            g_string_append_printf (out, "\\u%04x", uc);
          else
            g_string_append_printf (out, "\\U%08x", uc);
          p = next;
          continue;
        }
      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\x%02x", c);
          else
            g_string_append_c (out, (char)c);
        }
      p++;
    }
  g_string_append_c (out, '"');
}

static void
append_logfmt_pair (GString *out, const char *key, const char *value, gssize len)
{
  if (len < 0)
    len = strlen (value);
  if (out->len > 0)
    g_string_append_c (out, ' ');
  g_string_append (out, key);
  g_string_append_c (out, '=');
  if (logfmt_needs_quoting (value, len))
    append_go_quoted (out, value, len);
  else
    g_string_append_len (out, value, len);
}

static char *
format_fields (NotaryLogFormat format, NotaryLogLevel level, const char *message, gssize message_len,
               const Field *extra, gsize n_extra, const char *time_rfc3339)
{
  g_autoptr (GString) out = g_string_sized_new (128);
  g_autoptr (GArray) fields = g_array_sized_new (FALSE, FALSE, sizeof (Field), n_extra + 3);
  g_autofree char *now = NULL;
  g_autoptr (GPtrArray) renamed = g_ptr_array_new_with_free_func (g_free);

  if (time_rfc3339 == NULL)
    {
      g_autoptr (GDateTime) dt = g_date_time_new_now_utc ();
      now = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
      time_rfc3339 = now;
    }

  for (gsize i = 0; i < n_extra; i++)
    {
      Field f = extra[i];
      if (f.key == NULL || f.value == NULL)
        continue;
      /* As logrus does, user fields never clobber the fixed ones. */
      if (g_str_equal (f.key, "level") || g_str_equal (f.key, "msg") || g_str_equal (f.key, "time"))
        {
          char *k = g_strconcat ("fields.", f.key, NULL);
          g_ptr_array_add (renamed, k);
          f.key = k;
        }
      g_array_append_val (fields, f);
    }
  g_array_sort (fields, field_cmp);

  if (format == NOTARY_LOG_FORMAT_JSON)
    {
      Field fixed[] = {
        { "level", notary_log_level_to_string (level), -1 },
        { "msg", message, message_len },
        { "time", time_rfc3339, -1 },
      };
      g_autoptr (GArray) all = g_array_sized_new (FALSE, FALSE, sizeof (Field), fields->len + 3);
      g_array_append_vals (all, fixed, G_N_ELEMENTS (fixed));
      g_array_append_vals (all, fields->data, fields->len);
      g_array_sort (all, field_cmp);

      g_string_append_c (out, '{');
      for (guint i = 0; i < all->len; i++)
        {
          const Field *f = &g_array_index (all, Field, i);
          if (i > 0)
            g_string_append_c (out, ',');
          notary_json_write_go_string (out, f->key, -1);
          g_string_append_c (out, ':');
          notary_json_write_go_string (out, f->value, f->value_len);
        }
      g_string_append_c (out, '}');
    }
  else
    {
      /* The fixed keys first, then the fields sorted, as logrus' text
       * formatter prints them. */
      append_logfmt_pair (out, "level", notary_log_level_to_string (level), -1);
      append_logfmt_pair (out, "msg", message, message_len);
      append_logfmt_pair (out, "time", time_rfc3339, -1);
      for (guint i = 0; i < fields->len; i++)
        {
          const Field *f = &g_array_index (fields, Field, i);
          append_logfmt_pair (out, f->key, f->value, f->value_len);
        }
    }
  g_string_append_c (out, '\n');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
notary_log_format_line (NotaryLogFormat format, NotaryLogLevel level, const char *message,
                        const char *const *keys, const char *const *values, gsize n_fields,
                        const char *time_rfc3339)
{
  g_autofree Field *extra = g_new0 (Field, n_fields + 1);

  for (gsize i = 0; i < n_fields; i++)
    {
      extra[i].key = keys[i];
      extra[i].value = values[i];
      extra[i].value_len = -1;
    }
  return format_fields (format, level, message != NULL ? message : "", -1, extra, n_fields, time_rfc3339);
}

/* ---- the logger object ------------------------------------------------- */

NotaryLogger *
notary_logger_new (NotaryLogFormat format, NotaryLogLevel level, int fd)
{
  NotaryLogger *logger = g_new0 (NotaryLogger, 1);

  logger->ref_count = 1;
  logger->format = format;
  logger->level = level;
  logger->fd = fd;
  return logger;
}

static NotaryLogger *
logger_ref (NotaryLogger *logger)
{
  g_atomic_int_inc (&logger->ref_count);
  return logger;
}

/* Drops the caller's reference.  An installed logger stays alive: GLib
 * holds a reference for the rest of the process, as a writer can never be
 * uninstalled. */
void
notary_logger_free (NotaryLogger *logger)
{
  if (logger == NULL)
    return;
  if (g_atomic_int_dec_and_test (&logger->ref_count))
    g_free (logger);
}

void
notary_logger_set_level (NotaryLogger *logger, NotaryLogLevel level)
{
  g_atomic_int_set (&logger->level, (gint)level);
}

NotaryLogLevel
notary_logger_get_level (NotaryLogger *logger)
{
  return (NotaryLogLevel)g_atomic_int_get (&logger->level);
}

/* One write(2) per line, so concurrent lines never interleave (O_APPEND
 * files and pipes up to PIPE_BUF); short writes are only continued. */
static void
write_line (int fd, const char *line, gsize len)
{
  while (len > 0)
    {
      gssize n = write (fd, line, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return; /* nowhere left to report a failing log stream */
        }
      line += n;
      len -= n;
    }
}

static NotaryLogLevel
level_from_glib (GLogLevelFlags log_level)
{
  if (log_level & G_LOG_LEVEL_ERROR)
    return NOTARY_LOG_FATAL;
  if (log_level & G_LOG_LEVEL_CRITICAL)
    return NOTARY_LOG_ERROR;
  if (log_level & G_LOG_LEVEL_WARNING)
    return NOTARY_LOG_WARNING;
  if (log_level & G_LOG_LEVEL_DEBUG)
    return NOTARY_LOG_DEBUG;
  return NOTARY_LOG_INFO; /* MESSAGE and INFO */
}

static GLogWriterOutput
logger_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  NotaryLogger *logger = user_data;
  NotaryLogLevel level = level_from_glib (log_level);
  const char *message = "";
  gssize message_len = 0;
  const char *domain = NULL;
  g_autoptr (GArray) extra = g_array_new (FALSE, FALSE, sizeof (Field));
  g_autofree char *line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      const GLogField *f = &fields[i];
      if (f->key == NULL || f->value == NULL)
        continue;
      if (g_str_equal (f->key, "MESSAGE"))
        {
          message = f->value;
          message_len = f->length;
        }
      else if (g_str_equal (f->key, FIELD_NOTARY_LEVEL) && f->length < 0)
        {
          NotaryLogLevel l;
          if (notary_log_level_from_string (f->value, &l, NULL))
            level = l;
        }
      else if (g_str_equal (f->key, "GLIB_DOMAIN") && f->length < 0)
        domain = f->value;
      else if (g_ascii_islower (f->key[0]))
        {
          Field x = { f->key, f->value, f->length };
          g_array_append_val (extra, x);
        }
    }

  /* fatal and panic lines always appear: they explain why we exit. */
  if (level < NOTARY_LOG_FATAL && level < notary_logger_get_level (logger))
    return G_LOG_WRITER_HANDLED;

  if (domain != NULL && domain[0] != '\0')
    {
      Field x = { "domain", domain, -1 };
      g_array_append_val (extra, x);
    }
  line = format_fields (logger->format, level, message, message_len, (const Field *)extra->data, extra->len,
                        NULL);
  write_line (logger->fd, line, strlen (line));
  return G_LOG_WRITER_HANDLED;
}

void
notary_logger_install (NotaryLogger *logger)
{
  /* GLib accepts one writer per process and never releases it, so it
   * keeps its own reference for good. */
  g_log_set_writer_func (logger_writer, logger_ref (logger), NULL);
}

/* ---- emitting ---------------------------------------------------------- */

static GLogLevelFlags
level_to_glib (NotaryLogLevel level)
{
  /* Never G_LOG_LEVEL_ERROR/CRITICAL/WARNING: those may abort the process
   * (always, or under G_DEBUG=fatal-*); the true level travels in
   * NOTARY_LEVEL. */
  switch (level)
    {
    case NOTARY_LOG_DEBUG:
      return G_LOG_LEVEL_DEBUG;
    case NOTARY_LOG_INFO:
      return G_LOG_LEVEL_INFO;
    default:
      return G_LOG_LEVEL_MESSAGE;
    }
}

void
notary_logv_fields (NotaryLogLevel level, const char *message, const char *const *keys,
                    const char *const *values, gsize n_fields)
{
  g_autofree GLogField *fields = g_new0 (GLogField, n_fields + 2);
  gsize n = 0;

  fields[n++] = (GLogField){ "MESSAGE", message != NULL ? message : "", -1 };
  fields[n++] = (GLogField){ FIELD_NOTARY_LEVEL, notary_log_level_to_string (level), -1 };
  for (gsize i = 0; i < n_fields; i++)
    {
      if (keys[i] == NULL || values[i] == NULL)
        continue;
      fields[n++] = (GLogField){ keys[i], values[i], -1 };
    }
  g_log_structured_array (level_to_glib (level), fields, n);
}

void
notary_log (NotaryLogLevel level, const char *message, ...)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  g_autoptr (GPtrArray) values = g_ptr_array_new ();
  va_list ap;
  const char *key;

  va_start (ap, message);
  while ((key = va_arg (ap, const char *)) != NULL)
    {
      const char *value = va_arg (ap, const char *);
      g_ptr_array_add (keys, (gpointer)key);
      g_ptr_array_add (values, (gpointer)value);
    }
  va_end (ap);
  notary_logv_fields (level, message, (const char *const *)keys->pdata, (const char *const *)values->pdata,
                      keys->len);
}

void
notary_log_host_func (const NotaryHost *host, NotaryLogLevel level, const char *message)
{
  notary_logv_fields (level, message, NULL, NULL, 0);
}
