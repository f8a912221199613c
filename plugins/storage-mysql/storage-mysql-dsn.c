/* storage-mysql-dsn.c — go-sql-driver DSN parsing for the MySQL backend.
 *
 * Follows the Go driver's split rules so that every DSN the reference
 * accepts means the same here: the database name starts after the LAST
 * '/', the credentials end at the LAST '@' before it (so passwords may
 * contain '@', ':' and '/'), and the password is everything after the
 * first ':' of the credentials.
 */
#include "storage-mysql-dsn.h"

#include <notary/storage-backend.h>
#include <string.h>

static gboolean dsn_fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
dsn_fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
               "failed to parse the database source for mysql: %s", msg);
  return FALSE;
}

void
notary_mysql_dsn_free (NotaryMysqlDsn *dsn)
{
  if (dsn == NULL)
    return;
  g_free (dsn->user);
  if (dsn->password != NULL)
    {
      /* Do not leave the secret lying around in freed heap memory. */
      memset (dsn->password, 0, strlen (dsn->password));
      g_free (dsn->password);
    }
  g_free (dsn->host);
  g_free (dsn->socket);
  g_free (dsn->dbname);
  g_free (dsn->charset);
  if (dsn->session_vars != NULL)
    g_ptr_array_unref (dsn->session_vars);
  g_free (dsn);
}

gboolean
notary_mysql_parse_duration_ms (const char *text, gboolean bare_is_seconds, guint *out_ms)
{
  static const struct
  {
    const char *unit;
    double ms;
  } units[] = {
    /* longest first so "ms" is not read as "m" */
    { "ns", 1e-6 }, { "us", 1e-3 }, { "\xc2\xb5s", 1e-3 }, { "ms", 1.0 },
    { "s", 1e3 },   { "m", 60e3 },  { "h", 3600e3 },
  };
  const char *p = text;
  double total = 0;

  if (text == NULL || *text == '\0')
    return FALSE;

  if (bare_is_seconds)
    {
      char *end = NULL;
      double v = g_ascii_strtod (text, &end);
      if (end != text && *end == '\0')
        {
          if (!(v >= 0) || v * 1e3 > G_MAXUINT)
            return FALSE;
          *out_ms = (guint)(v * 1e3 + 0.5);
          return TRUE;
        }
    }
  if (g_strcmp0 (text, "0") == 0)
    {
      *out_ms = 0;
      return TRUE;
    }

  while (*p != '\0')
    {
      char *end = NULL;
      double v;
      gsize i;

      if (!g_ascii_isdigit (*p) && *p != '.')
        return FALSE;
      v = g_ascii_strtod (p, &end);
      if (end == p)
        return FALSE;
      p = end;
      for (i = 0; i < G_N_ELEMENTS (units); i++)
        {
          gsize n = strlen (units[i].unit);
          /* "m" must not swallow the "m" of "ms" */
          if (strncmp (p, units[i].unit, n) == 0 && !(strcmp (units[i].unit, "m") == 0 && p[1] == 's'))
            {
              total += v * units[i].ms;
              p += n;
              break;
            }
        }
      if (i == G_N_ELEMENTS (units))
        return FALSE;
    }
  if (total > G_MAXUINT)
    return FALSE;
  *out_ms = (guint)(total + 0.5);
  return TRUE;
}

/* Go's url.QueryUnescape: '+' is a space, %XX escapes. */
static char *
query_unescape (const char *s)
{
  g_autofree char *plus = g_strdup (s);
  for (char *p = plus; *p != '\0'; p++)
    if (*p == '+')
      *p = ' ';
  return g_uri_unescape_string (plus, NULL);
}

static gboolean
parse_bool (const char *v, gboolean *out)
{
  if (g_ascii_strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (v, "false") == 0 || strcmp (v, "0") == 0)
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
is_identifier (const char *s)
{
  if (*s == '\0' || g_ascii_isdigit (*s))
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && *s != '_')
      return FALSE;
  return TRUE;
}

/* Parameters of go-sql-driver that only change the Go driver's own
 * behaviour; accepted so reference DSNs keep working. */
static const char *const driver_only_params[] = {
  "allowAllFiles",
  "allowCleartextPasswords",
  "allowFallbackToPlaintext",
  "allowNativePasswords",
  "allowOldPasswords",
  "checkConnLiveness",
  "clientFoundRows",
  "columnsWithAlias",
  "interpolateParams",
  "maxAllowedPacket",
  "multiStatements",
  "rejectReadOnly",
  "serverPubKey",
  "strict",
  "collation",
  "connectionAttributes",
};

static gboolean
parse_param (NotaryMysqlDsn *dsn, const char *pair, GError **error)
{
  const char *eq = strchr (pair, '=');
  g_autofree char *name = NULL;
  g_autofree char *value = NULL;
  gboolean b;

  if (eq == NULL)
    return dsn_fail (error, "parameter '%s' has no '=value'", pair);
  name = g_strndup (pair, eq - pair);
  value = query_unescape (eq + 1);
  if (value == NULL)
    return dsn_fail (error, "bad %%-escape in the value of parameter '%s'", name);

  if (strcmp (name, "timeout") == 0 || strcmp (name, "readTimeout") == 0
      || strcmp (name, "writeTimeout") == 0)
    {
      guint ms;
      if (!notary_mysql_parse_duration_ms (value, FALSE, &ms))
        return dsn_fail (error, "parameter '%s': '%s' is not a duration such as 5s or 500ms", name, value);
      if (strcmp (name, "timeout") == 0)
        dsn->connect_timeout_ms = ms;
      else if (strcmp (name, "readTimeout") == 0)
        dsn->read_timeout_ms = ms;
      else
        dsn->write_timeout_ms = ms;
      return TRUE;
    }
  if (strcmp (name, "parseTime") == 0)
    {
      /* Forced on by the reference; we always return proper times. */
      if (!parse_bool (value, &b))
        return dsn_fail (error, "parameter 'parseTime': '%s' is not a boolean", value);
      return TRUE;
    }
  if (strcmp (name, "loc") == 0)
    /* Times are stored in TIMESTAMP columns and always read as UTC epoch
     * seconds, so the Go driver's DATETIME location has no effect here. */
    return TRUE;
  if (strcmp (name, "charset") == 0)
    {
      g_auto (GStrv) parts = g_strsplit (value, ",", 2);
      if (parts[0] == NULL || !is_identifier (parts[0]))
        return dsn_fail (error, "parameter 'charset': '%s' is not a character set name", value);
      g_free (dsn->charset);
      dsn->charset = g_strdup (parts[0]);
      return TRUE;
    }
  if (strcmp (name, "tls") == 0)
    {
      if (g_ascii_strcasecmp (value, "true") == 0)
        dsn->tls = NOTARY_MYSQL_TLS_VERIFY;
      else if (g_ascii_strcasecmp (value, "skip-verify") == 0)
        dsn->tls = NOTARY_MYSQL_TLS_SKIP_VERIFY;
      else if (g_ascii_strcasecmp (value, "preferred") == 0)
        dsn->tls = NOTARY_MYSQL_TLS_PREFERRED;
      else if (g_ascii_strcasecmp (value, "false") == 0 || *value == '\0')
        dsn->tls = NOTARY_MYSQL_TLS_OFF;
      else
        return dsn_fail (error,
                         "parameter 'tls': '%s' is not supported (use true, skip-verify, "
                         "preferred or false)",
                         value);
      return TRUE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (driver_only_params); i++)
    if (strcmp (name, driver_only_params[i]) == 0)
      return TRUE;

  /* Like the Go driver: any other parameter is a session variable. */
  if (!is_identifier (name))
    return dsn_fail (error, "parameter name '%s' is not a valid system variable name", name);
  if (strpbrk (value, ";\n\r") != NULL)
    return dsn_fail (error, "the value of system variable '%s' contains ';' or a newline", name);
  g_ptr_array_add (dsn->session_vars, g_strdup_printf ("%s=%s", name, value));
  return TRUE;
}

static gboolean
parse_tcp_addr (NotaryMysqlDsn *dsn, const char *addr, GError **error)
{
  const char *port_str = NULL;
  g_autofree char *host = NULL;

  if (*addr == '\0')
    {
      dsn->host = g_strdup ("127.0.0.1");
      dsn->port = 3306;
      return TRUE;
    }
  if (addr[0] == '[')
    {
      const char *close = strchr (addr, ']');
      if (close == NULL)
        return dsn_fail (error, "address '%s' has '[' without ']'", addr);
      host = g_strndup (addr + 1, close - addr - 1);
      if (close[1] == ':')
        port_str = close + 2;
      else if (close[1] != '\0')
        return dsn_fail (error, "unexpected text after ']' in address '%s'", addr);
    }
  else
    {
      const char *colon = strrchr (addr, ':');
      if (colon != NULL && strchr (addr, ':') != colon)
        return dsn_fail (error, "IPv6 address '%s' must be written as [addr]:port", addr);
      host = colon != NULL ? g_strndup (addr, colon - addr) : g_strdup (addr);
      port_str = colon != NULL ? colon + 1 : NULL;
    }
  if (*host == '\0')
    return dsn_fail (error, "empty host in address '%s'", addr);

  dsn->port = 3306;
  if (port_str != NULL)
    {
      guint64 port;
      if (!g_ascii_string_to_unsigned (port_str, 10, 1, 65535, &port, NULL))
        return dsn_fail (error, "invalid port '%s' in address '%s'", port_str, addr);
      dsn->port = (guint)port;
    }
  dsn->host = g_steal_pointer (&host);
  return TRUE;
}

NotaryMysqlDsn *
notary_mysql_dsn_parse (const char *text, GError **error)
{
  g_autoptr (NotaryMysqlDsn) dsn = g_new0 (NotaryMysqlDsn, 1);
  const char *slash, *at, *netaddr, *dbpart, *query;
  g_autofree char *prefix = NULL;
  g_autofree char *net = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *db_raw = NULL;

  dsn->session_vars = g_ptr_array_new_with_free_func (g_free);
  if (text == NULL || *text == '\0')
    {
      dsn_fail (error, "storage.db_url is empty");
      return NULL;
    }

  /* As the Go driver: the last '/' separates the database name, so a '/'
   * in a parameter value must be %-escaped. */
  slash = strrchr (text, '/');
  if (slash == NULL)
    {
      dsn_fail (error, "missing the '/' before the database name (expected "
                       "user[:password]@tcp(host:port)/dbname)");
      return NULL;
    }
  prefix = g_strndup (text, slash - text);
  dbpart = slash + 1;

  at = strrchr (prefix, '@');
  if (at != NULL)
    {
      const char *colon = memchr (prefix, ':', at - prefix);
      if (colon != NULL)
        {
          dsn->user = g_strndup (prefix, colon - prefix);
          dsn->password = g_strndup (colon + 1, at - colon - 1);
        }
      else
        dsn->user = g_strndup (prefix, at - prefix);
      netaddr = at + 1;
    }
  else
    {
      dsn->user = g_strdup ("");
      netaddr = prefix;
    }

  {
    const char *open = strchr (netaddr, '(');
    if (open != NULL)
      {
        gsize len = strlen (netaddr);
        if (len == 0 || netaddr[len - 1] != ')')
          {
            dsn_fail (error, "the address part after '@' must look like tcp(host:port) or "
                             "unix(/path): missing ')'");
            return NULL;
          }
        net = g_strndup (netaddr, open - netaddr);
        addr = g_strndup (open + 1, netaddr + len - 1 - open - 1);
      }
    else
      {
        if (strchr (netaddr, ')') != NULL)
          {
            dsn_fail (error, "the address part after '@' has ')' without '('");
            return NULL;
          }
        net = g_strdup (netaddr);
        addr = g_strdup ("");
      }
  }

  if (*net == '\0' || strcmp (net, "tcp") == 0 || strcmp (net, "tcp4") == 0 || strcmp (net, "tcp6") == 0)
    {
      if (!parse_tcp_addr (dsn, addr, error))
        return NULL;
    }
  else if (strcmp (net, "unix") == 0)
    {
      dsn->unix_socket = TRUE;
      dsn->socket = *addr != '\0' ? g_strdup (addr) : NULL;
    }
  else
    {
      dsn_fail (error, "unsupported network '%s' (expected tcp or unix)", net);
      return NULL;
    }

  query = strchr (dbpart, '?');
  db_raw = query != NULL ? g_strndup (dbpart, query - dbpart) : g_strdup (dbpart);
  dsn->dbname = g_uri_unescape_string (db_raw, NULL);
  if (dsn->dbname == NULL)
    {
      dsn_fail (error, "bad %%-escape in the database name '%s'", db_raw);
      return NULL;
    }

  if (query != NULL && query[1] != '\0')
    {
      g_auto (GStrv) pairs = g_strsplit (query + 1, "&", -1);
      for (char **p = pairs; *p != NULL; p++)
        {
          if (**p == '\0')
            continue;
          if (!parse_param (dsn, *p, error))
            return NULL;
        }
    }

  return g_steal_pointer (&dsn);
}

char *
notary_mysql_dsn_describe (const NotaryMysqlDsn *dsn)
{
  g_autofree char *addr = NULL;

  if (dsn->unix_socket)
    addr = g_strdup_printf ("unix(%s)", dsn->socket != NULL ? dsn->socket : "");
  else if (strchr (dsn->host, ':') != NULL)
    addr = g_strdup_printf ("tcp([%s]:%u)", dsn->host, dsn->port);
  else
    addr = g_strdup_printf ("tcp(%s:%u)", dsn->host, dsn->port);
  return g_strdup_printf ("%s%s%s@%s/%s", dsn->user, dsn->password != NULL ? ":" : "",
                          dsn->password != NULL ? "***" : "", addr, dsn->dbname);
}
