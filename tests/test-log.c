/* test-log.c — the logger: logrus JSON and logfmt lines, escaping, level
 * parsing and filtering, the installed GLib writer, one line per write. */
#include "notary-config.h"
#include "notary-log.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define FIXED_TIME "2026-11-22T23:37:13Z"

/* ---- helpers ------------------------------------------------------------ */

/* Parse one JSON line; asserts it is exactly one object and a newline. */
static JsonObject *
parse_json_line (const char *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize len = strlen (line);

  g_assert_cmpuint (len, >, 0);
  g_assert_cmpint (line[len - 1], ==, '\n');
  g_assert_null (memchr (line, '\n', len - 1));
  json_parser_load_from_data (parser, line, len, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* Member names in document order. */
static GPtrArray *
json_keys_in_order (JsonObject *obj)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  JsonObjectIter iter;
  const char *key;
  JsonNode *node;

  json_object_iter_init_ordered (&iter, obj);
  while (json_object_iter_next_ordered (&iter, &key, &node))
    g_ptr_array_add (keys, g_strdup (key));
  return keys;
}

typedef struct
{
  char *key;
  char *value;
  gboolean quoted;
} Pair;

static void
pair_free (gpointer p)
{
  Pair *pair = p;
  g_free (pair->key);
  g_free (pair->value);
  g_free (pair);
}

/* A small logfmt reader: key=bare or key="Go-quoted", space separated.
 * Returns NULL on any syntax error. */
static GPtrArray *
parse_logfmt_line (const char *line)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (pair_free);
  const char *p = line;
  gsize len = strlen (line);

  if (len == 0 || line[len - 1] != '\n' || memchr (line, '\n', len - 1) != NULL)
    return NULL;
  while (*p != '\n')
    {
      const char *eq = strchr (p, '=');
      Pair *pair;
      if (eq == NULL || eq == p)
        return NULL;
      pair = g_new0 (Pair, 1);
      pair->key = g_strndup (p, eq - p);
      g_ptr_array_add (pairs, pair);
      if (strchr (pair->key, ' ') != NULL || strchr (pair->key, '"') != NULL)
        return NULL;
      p = eq + 1;
      if (*p == '"')
        {
          GString *v = g_string_new (NULL);
          pair->quoted = TRUE;
          for (p++; *p != '"'; p++)
            {
              if (*p == '\n' || *p == '\0')
                {
                  g_string_free (v, TRUE);
                  return NULL;
                }
              if (*p != '\\')
                {
                  g_string_append_c (v, *p);
                  continue;
                }
              p++;
              switch (*p)
                {
                case 'n':
                  g_string_append_c (v, '\n');
                  break;
                case 't':
                  g_string_append_c (v, '\t');
                  break;
                case 'r':
                  g_string_append_c (v, '\r');
                  break;
                case '"':
                case '\\':
                  g_string_append_c (v, *p);
                  break;
                case 'x':
                  {
                    char hex[3] = { p[1], p[2], 0 };
                    g_string_append_c (v, (char)strtol (hex, NULL, 16));
                    p += 2;
                    break;
                  }
                default:
                  g_string_free (v, TRUE);
                  return NULL;
                }
            }
          p++;
          pair->value = g_string_free (v, FALSE);
        }
      else
        {
          const char *end = p + strcspn (p, " \n");
          pair->value = g_strndup (p, end - p);
          if (strchr (pair->value, '"') != NULL)
            return NULL;
          p = end;
        }
      if (*p == ' ')
        p++;
      else if (*p != '\n')
        return NULL;
    }
  return g_steal_pointer (&pairs);
}

static const Pair *
pair_at (GPtrArray *pairs, guint i)
{
  g_assert_cmpuint (i, <, pairs->len);
  return g_ptr_array_index (pairs, i);
}

/* ---- JSON ------------------------------------------------------------- */

static void
test_json_basic (void)
{
  g_autofree char *line = notary_log_format_line (NOTARY_LOG_FORMAT_JSON, NOTARY_LOG_INFO, "Starting Server",
                                                  NULL, NULL, 0, FIXED_TIME);

  /* byte-for-byte what logrus prints */
  g_assert_cmpstr (line, ==,
                   "{\"level\":\"info\",\"msg\":\"Starting Server\",\"time\":\"" FIXED_TIME "\"}\n");
}

static void
test_json_fields_sorted (void)
{
  const char *keys[] = { "zeta", "gun", "http.request.method", "alpha" };
  const char *values[] = { "z", "docker.io/library/alpine", "GET", "a" };
  g_autofree char *line = notary_log_format_line (NOTARY_LOG_FORMAT_JSON, NOTARY_LOG_WARNING, "updated", keys,
                                                  values, G_N_ELEMENTS (keys), FIXED_TIME);
  g_autoptr (JsonObject) obj = parse_json_line (line);
  g_autoptr (GPtrArray) order = json_keys_in_order (obj);
  const char *expected[] = { "alpha", "gun", "http.request.method", "level", "msg", "time", "zeta" };

  g_assert_cmpuint (order->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < order->len; i++)
    g_assert_cmpstr (g_ptr_array_index (order, i), ==, expected[i]);
  g_assert_cmpstr (json_object_get_string_member (obj, "level"), ==, "warning");
  g_assert_cmpstr (json_object_get_string_member (obj, "gun"), ==, "docker.io/library/alpine");
  g_assert_cmpstr (json_object_get_string_member (obj, "time"), ==, FIXED_TIME);
}

static void
test_json_escaping (void)
{
  const char *msg = "say \"hi\"\nback\\slash\ttab <b>&\x01 caf\xc3\xa9";
  const char *keys[] = { "q" };
  const char *values[] = { "\"\n" };
  g_autofree char *line
      = notary_log_format_line (NOTARY_LOG_FORMAT_JSON, NOTARY_LOG_ERROR, msg, keys, values, 1, FIXED_TIME);
  g_autoptr (JsonObject) obj = parse_json_line (line);

  g_assert_cmpstr (json_object_get_string_member (obj, "msg"), ==, msg);
  g_assert_cmpstr (json_object_get_string_member (obj, "q"), ==, "\"\n");
  /* Go's encoder is HTML-safe and never emits raw control characters */
  g_assert_nonnull (strstr (line, "\\u003cb\\u003e\\u0026\\u0001"));
  g_assert_nonnull (strstr (line, "say \\\"hi\\\"\\nback\\\\slash\\ttab"));
}

static void
test_json_reserved_field_names (void)
{
  const char *keys[] = { "msg", "level" };
  const char *values[] = { "user msg", "user level" };
  g_autofree char *line
      = notary_log_format_line (NOTARY_LOG_FORMAT_JSON, NOTARY_LOG_INFO, "real", keys, values, 2, FIXED_TIME);
  g_autoptr (JsonObject) obj = parse_json_line (line);

  g_assert_cmpstr (json_object_get_string_member (obj, "msg"), ==, "real");
  g_assert_cmpstr (json_object_get_string_member (obj, "level"), ==, "info");
  g_assert_cmpstr (json_object_get_string_member (obj, "fields.msg"), ==, "user msg");
  g_assert_cmpstr (json_object_get_string_member (obj, "fields.level"), ==, "user level");
}

static void
test_json_time_now (void)
{
  g_autofree char *line
      = notary_log_format_line (NOTARY_LOG_FORMAT_JSON, NOTARY_LOG_INFO, "x", NULL, NULL, 0, NULL);
  g_autoptr (JsonObject) obj = parse_json_line (line);
  const char *t = json_object_get_string_member (obj, "time");
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (t, NULL);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  g_assert_nonnull (dt);
  g_assert_true (g_str_has_suffix (t, "Z"));
  g_assert_cmpint (ABS (g_date_time_difference (now, dt)), <, 5 * G_TIME_SPAN_SECOND);
}

/* ---- logfmt ------------------------------------------------------------ */

static void
test_logfmt_basic (void)
{
  g_autofree char *line = notary_log_format_line (NOTARY_LOG_FORMAT_LOGFMT, NOTARY_LOG_INFO,
                                                  "Starting Server", NULL, NULL, 0, FIXED_TIME);

  g_assert_cmpstr (line, ==, "level=info msg=\"Starting Server\" time=\"" FIXED_TIME "\"\n");
}

static void
test_logfmt_fields_and_quoting (void)
{
  const char *keys[] = { "zeta", "gun", "empty", "path" };
  const char *values[] = { "has space", "docker.io/library/alpine", "", "a=b" };
  const char *msg = "quote \" backslash \\ newline\nend";
  g_autofree char *line = notary_log_format_line (NOTARY_LOG_FORMAT_LOGFMT, NOTARY_LOG_DEBUG, msg, keys,
                                                  values, G_N_ELEMENTS (keys), FIXED_TIME);
  g_autoptr (GPtrArray) pairs = parse_logfmt_line (line);
  const char *expected_keys[] = { "level", "msg", "time", "empty", "gun", "path", "zeta" };

  g_assert_nonnull (pairs);
  g_assert_cmpuint (pairs->len, ==, G_N_ELEMENTS (expected_keys));
  for (guint i = 0; i < pairs->len; i++)
    g_assert_cmpstr (pair_at (pairs, i)->key, ==, expected_keys[i]);

  g_assert_cmpstr (pair_at (pairs, 0)->value, ==, "debug");
  g_assert_false (pair_at (pairs, 0)->quoted);
  g_assert_cmpstr (pair_at (pairs, 1)->value, ==, msg);
  g_assert_true (pair_at (pairs, 1)->quoted);
  g_assert_cmpstr (pair_at (pairs, 2)->value, ==, FIXED_TIME);
  g_assert_cmpstr (pair_at (pairs, 3)->value, ==, "");
  g_assert_true (pair_at (pairs, 3)->quoted);
  /* logrus leaves plain tokens (letters, digits, -._/@^+) unquoted */
  g_assert_cmpstr (pair_at (pairs, 4)->value, ==, "docker.io/library/alpine");
  g_assert_false (pair_at (pairs, 4)->quoted);
  g_assert_cmpstr (pair_at (pairs, 5)->value, ==, "a=b");
  g_assert_true (pair_at (pairs, 5)->quoted);
  g_assert_cmpstr (pair_at (pairs, 6)->value, ==, "has space");
}

static void
test_logfmt_control_chars (void)
{
  const char *msg = "bell\x07 del\x7f tab\t";
  g_autofree char *line
      = notary_log_format_line (NOTARY_LOG_FORMAT_LOGFMT, NOTARY_LOG_ERROR, msg, NULL, NULL, 0, FIXED_TIME);
  g_autoptr (GPtrArray) pairs = parse_logfmt_line (line);

  g_assert_nonnull (pairs);
  g_assert_nonnull (strstr (line, "bell\\x07 del\\x7f tab\\t"));
  g_assert_cmpstr (pair_at (pairs, 1)->value, ==, msg);
}

/* ---- levels and formats ------------------------------------------------ */

static void
test_level_names (void)
{
  struct
  {
    const char *in;
    NotaryLogLevel out;
  } ok[] = {
    { "debug", NOTARY_LOG_DEBUG },  { "info", NOTARY_LOG_INFO },    { "warning", NOTARY_LOG_WARNING },
    { "warn", NOTARY_LOG_WARNING }, { "WARN", NOTARY_LOG_WARNING }, { "error", NOTARY_LOG_ERROR },
    { "Fatal", NOTARY_LOG_FATAL },  { "panic", NOTARY_LOG_PANIC },
  };
  const char *bad[] = { "foo", "", "2", "trace!", "warnings" };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr (GError) error = NULL;
      NotaryLogLevel level = (NotaryLogLevel)99;
      g_assert_true (notary_log_level_from_string (ok[i].in, &level, &error));
      g_assert_no_error (error);
      g_assert_cmpint (level, ==, ok[i].out);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("not a valid logrus Level: \"%s\"", bad[i]);
      NotaryLogLevel level;
      g_assert_false (notary_log_level_from_string (bad[i], &level, &error));
      g_assert_nonnull (error);
      g_assert_cmpstr (error->message, ==, expected);
    }
  g_assert_cmpstr (notary_log_level_to_string (NOTARY_LOG_DEBUG), ==, "debug");
  g_assert_cmpstr (notary_log_level_to_string (NOTARY_LOG_WARNING), ==, "warning");
  g_assert_cmpstr (notary_log_level_to_string (NOTARY_LOG_FATAL), ==, "fatal");
  g_assert_cmpstr (notary_log_level_to_string (NOTARY_LOG_PANIC), ==, "panic");
}

static void
test_format_names (void)
{
  g_autoptr (GError) error = NULL;
  NotaryLogFormat f = (NotaryLogFormat)99;

  g_assert_true (notary_log_format_from_string ("json", &f, &error));
  g_assert_cmpint (f, ==, NOTARY_LOG_FORMAT_JSON);
  g_assert_true (notary_log_format_from_string ("logfmt", &f, &error));
  g_assert_cmpint (f, ==, NOTARY_LOG_FORMAT_LOGFMT);
  g_assert_no_error (error);
  g_assert_false (notary_log_format_from_string ("text", &f, &error));
  g_assert_error (error, NOTARY_CONFIG_ERROR, NOTARY_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "\"text\""));
}

/* ---- the installed writer ----------------------------------------------- */

static char **
read_lines (const char *path)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  char **lines;
  guint n;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  /* the file ends with '\n': drop the empty tail, re-add the newline */
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpstr (lines[n - 1], ==, "");
  g_free (lines[n - 1]);
  lines[n - 1] = NULL;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *with_nl = g_strconcat (lines[i], "\n", NULL);
      g_free (lines[i]);
      lines[i] = with_nl;
    }
  return lines;
}

#define N_THREADS 8
#define N_PER_THREAD 200

static gpointer
log_from_thread (gpointer data)
{
  const char *id = data;
  for (int i = 0; i < N_PER_THREAD; i++)
    notary_log (NOTARY_LOG_ERROR, "concurrent line with some padding to make it longer than a few bytes",
                "thread", id, NULL);
  return NULL;
}

static void
test_writer_json (void)
{
  g_autofree char *dir = g_dir_make_tmp ("notary-test-log-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "log", NULL);
  int fd = g_open (path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  g_autoptr (NotaryLogger) logger = notary_logger_new (NOTARY_LOG_FORMAT_JSON, NOTARY_LOG_INFO, fd);
  GThread *threads[N_THREADS];
  char ids[N_THREADS][8];
  g_auto (GStrv) lines = NULL;
  guint counts[N_THREADS] = { 0 };

  g_assert_cmpint (fd, >=, 0);
  notary_logger_install (logger);
  g_assert_cmpint (notary_logger_get_level (logger), ==, NOTARY_LOG_INFO);

  notary_log (NOTARY_LOG_DEBUG, "filtered out", NULL);
  notary_log (NOTARY_LOG_INFO, "updated", "gun", "docker.io/x", NULL);
  g_message ("from g_message %d", 3);
  g_warning ("from g_warning");
  g_debug ("g_debug filtered at info");
  notary_logger_set_level (logger, NOTARY_LOG_ERROR);
  g_assert_cmpint (notary_logger_get_level (logger), ==, NOTARY_LOG_ERROR);
  notary_log (NOTARY_LOG_WARNING, "filtered warning", NULL);
  notary_log (NOTARY_LOG_ERROR, "an error", NULL);
  /* fatal lines explain an exit: shown whatever the level */
  notary_logger_set_level (logger, NOTARY_LOG_PANIC);
  notary_log (NOTARY_LOG_FATAL, "fatal shown", NULL);
  notary_log (NOTARY_LOG_ERROR, "error hidden at panic", NULL);
  notary_logger_set_level (logger, NOTARY_LOG_DEBUG);
  g_debug ("g_debug shown at debug");
  {
    NotaryHost host = { NOTARY_VERSION_HOST, notary_log_host_func, "/etc", "notary-server", NULL };
    notary_host_logf (&host, NOTARY_LOG_WARNING, "plugin says %d", 42);
  }

  lines = read_lines (path);
  {
    struct
    {
      const char *level, *msg;
    } expected[] = {
      { "info", "updated" },           { "info", "from g_message 3" }, { "warning", "from g_warning" },
      { "error", "an error" },         { "fatal", "fatal shown" },     { "debug", "g_debug shown at debug" },
      { "warning", "plugin says 42" },
    };
    g_assert_cmpuint (g_strv_length (lines), ==, G_N_ELEMENTS (expected));
    for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
      {
        g_autoptr (JsonObject) obj = parse_json_line (lines[i]);
        g_assert_cmpstr (json_object_get_string_member (obj, "level"), ==, expected[i].level);
        g_assert_cmpstr (json_object_get_string_member (obj, "msg"), ==, expected[i].msg);
        if (i == 0)
          {
            g_autoptr (GPtrArray) keys = json_keys_in_order (obj);
            g_assert_cmpuint (keys->len, ==, 4);
            g_assert_cmpstr (json_object_get_string_member (obj, "gun"), ==, "docker.io/x");
          }
      }
  }

  /* threads: every line intact, none lost */
  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  for (int t = 0; t < N_THREADS; t++)
    {
      g_snprintf (ids[t], sizeof ids[t], "t%d", t);
      threads[t] = g_thread_new ("logger", log_from_thread, ids[t]);
    }
  for (int t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
  g_strfreev (g_steal_pointer (&lines));
  lines = read_lines (path);
  g_assert_cmpuint (g_strv_length (lines), ==, N_THREADS * N_PER_THREAD);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonObject) obj = parse_json_line (lines[i]);
      const char *id = json_object_get_string_member (obj, "thread");
      g_assert_nonnull (id);
      g_assert_cmpint (id[0], ==, 't');
      counts[atoi (id + 1)]++;
    }
  for (int t = 0; t < N_THREADS; t++)
    g_assert_cmpuint (counts[t], ==, N_PER_THREAD);

  close (fd);
  g_unlink (path);
  g_rmdir (dir);
}

/* logfmt through the writer, in a child so it can own GLib's writer */
static void
test_writer_logfmt (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (NotaryLogger) logger = notary_logger_new (NOTARY_LOG_FORMAT_LOGFMT, NOTARY_LOG_INFO, 2);
      notary_logger_install (logger);
      notary_log (NOTARY_LOG_INFO, "Starting Server", NULL);
      notary_log (NOTARY_LOG_DEBUG, "hidden", NULL);
      g_message ("Starting on %s", ":4443");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("level=info msg=\"Starting Server\" time=\"*Z\"\n"
                             "level=info msg=\"Starting on :4443\" time=\"*Z\"\n");
  g_test_trap_assert_stderr_unmatched ("*hidden*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/json/basic", test_json_basic);
  g_test_add_func ("/log/json/fields-sorted", test_json_fields_sorted);
  g_test_add_func ("/log/json/escaping", test_json_escaping);
  g_test_add_func ("/log/json/reserved-field-names", test_json_reserved_field_names);
  g_test_add_func ("/log/json/time-now", test_json_time_now);
  g_test_add_func ("/log/logfmt/basic", test_logfmt_basic);
  g_test_add_func ("/log/logfmt/fields-and-quoting", test_logfmt_fields_and_quoting);
  g_test_add_func ("/log/logfmt/control-chars", test_logfmt_control_chars);
  g_test_add_func ("/log/level-names", test_level_names);
  g_test_add_func ("/log/format-names", test_format_names);
  g_test_add_func ("/log/writer/logfmt", test_writer_logfmt);
  g_test_add_func ("/log/writer/json", test_writer_json);
  return g_test_run ();
}
