/* notary-daemon.c — see notary-daemon.h. */
#include "notary-daemon.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean
parse_bool (const char *v, gboolean *out)
{
  static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
  static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };
  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    if (g_str_equal (v, yes[i]))
      return (*out = TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (no); i++)
    if (g_str_equal (v, no[i]))
      return (*out = FALSE), TRUE;
  return FALSE;
}

gboolean
notary_daemon_parse_flags (int argc, char **argv, const NotaryFlag *flags, gsize n_flags, gboolean *help,
                           GError **error)
{
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      g_autofree char *name = NULL;
      const char *value = NULL;
      const char *eq;
      const NotaryFlag *flag = NULL;

      if (arg[0] != '-' || arg[1] == '\0' || g_str_equal (arg, "--"))
        break; /* flag.Parse stops at the first non-flag */
      arg += arg[1] == '-' ? 2 : 1;
      eq = strchr (arg, '=');
      name = eq != NULL ? g_strndup (arg, (gsize) (eq - arg)) : g_strdup (arg);
      value = eq != NULL ? eq + 1 : NULL;

      if (g_str_equal (name, "h") || g_str_equal (name, "help"))
        {
          *help = TRUE;
          continue;
        }
      for (gsize f = 0; f < n_flags; f++)
        if (g_str_equal (flags[f].name, name))
          flag = &flags[f];
      if (flag == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "flag provided but not defined: -%s",
                       name);
          return FALSE;
        }
      if (flag->kind == NOTARY_FLAG_BOOL)
        {
          gboolean b = TRUE;
          if (value != NULL && !parse_bool (value, &b))
            {
              g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "invalid boolean value \"%s\" for -%s: parse error", value, name);
              return FALSE;
            }
          *(gboolean *) flag->dest = b;
          continue;
        }
      if (value == NULL)
        {
          if (i + 1 >= argc)
            {
              g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "flag needs an argument: -%s", name);
              return FALSE;
            }
          value = argv[++i];
        }
      g_free (*(char **) flag->dest);
      *(char **) flag->dest = g_strdup (value);
    }
  return TRUE;
}

void
notary_daemon_fatal (const char *message)
{
  notary_log (NOTARY_LOG_FATAL, message, NULL);
  exit (1);
}

void
notary_daemon_fatalf (const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  notary_daemon_fatal (msg);
}

void
notary_daemon_step_log_level (NotaryLogger *logger, int direction)
{
  NotaryLogLevel cur = notary_logger_get_level (logger);
  int next = (int) cur + direction;

  if (next < (int) NOTARY_LOG_DEBUG)
    printf ("Attempt to increase log level failed, will remain at %s level, error: log level can not be set "
            "higher than Debug\n",
            notary_log_level_to_string (cur));
  else if (next > (int) NOTARY_LOG_PANIC)
    printf ("Attempt to decrease log level failed, will remain at %s level, error: log level can not be set "
            "lower than Panic\n",
            notary_log_level_to_string (cur));
  else
    {
      notary_logger_set_level (logger, (NotaryLogLevel) next);
      printf ("Successfully setting log level to %s\n", notary_log_level_to_string ((NotaryLogLevel) next));
    }
  fflush (stdout);
}

static gboolean
on_quit (gpointer data)
{
  NotaryDaemonSignals *s = data;
  notary_log (NOTARY_LOG_INFO, "shutting down: finishing in-flight requests", NULL);
  g_main_loop_quit (s->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_usr1 (gpointer data)
{
  notary_daemon_step_log_level (((NotaryDaemonSignals *) data)->logger, -1);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_usr2 (gpointer data)
{
  notary_daemon_step_log_level (((NotaryDaemonSignals *) data)->logger, +1);
  return G_SOURCE_CONTINUE;
}

void
notary_daemon_watch_signals (NotaryDaemonSignals *state)
{
  g_unix_signal_add (SIGTERM, on_quit, state);
  g_unix_signal_add (SIGINT, on_quit, state);
  g_unix_signal_add (SIGUSR1, on_usr1, state);
  g_unix_signal_add (SIGUSR2, on_usr2, state);
}
