/* storage-mysql-dsn.h — parsing `storage.db_url` for the MySQL backend.
 *
 * The reference reads a go-sql-driver DSN (config-and-ops.md §9):
 *
 *   [user[:password]@][net[(addr)]]/dbname[?param=value&...]
 *
 * net is `tcp` (also `tcp4`/`tcp6`; addr `host[:port]`, IPv6 in brackets,
 * default 127.0.0.1:3306) or `unix` (addr = socket path, default: the
 * client library's).  An empty net means tcp, so `user@/db` works.
 * Parameters understood: timeout, readTimeout, writeTimeout (Go
 * durations), charset, tls (true|skip-verify|preferred|false), parseTime
 * and loc (accepted; times are always UTC), the driver-only switches of
 * go-sql-driver (accepted, no effect), and any other name is a session
 * variable set on every connection (`SET name=value`), as the Go driver
 * does.
 *
 * Errors name the offending part of the DSN but never include the
 * password.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  NOTARY_MYSQL_TLS_OFF,
  NOTARY_MYSQL_TLS_PREFERRED,
  NOTARY_MYSQL_TLS_SKIP_VERIFY,
  NOTARY_MYSQL_TLS_VERIFY,
} NotaryMysqlTls;

typedef struct
{
  char *user;     /* "" when absent */
  char *password; /* NULL when absent */
  gboolean unix_socket;
  char *host;               /* tcp only */
  guint port;               /* tcp only */
  char *socket;             /* unix only; NULL = library default */
  char *dbname;             /* may be "" */
  char *charset;            /* NULL = library default */
  guint connect_timeout_ms; /* 0 = unset */
  guint read_timeout_ms;
  guint write_timeout_ms;
  NotaryMysqlTls tls;
  GPtrArray *session_vars; /* char* "name=value", applied with SET */
} NotaryMysqlDsn;

NotaryMysqlDsn *notary_mysql_dsn_parse (const char *dsn, GError **error);
void notary_mysql_dsn_free (NotaryMysqlDsn *dsn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryMysqlDsn, notary_mysql_dsn_free)

/* The DSN without its password, for logs and error messages. */
char *notary_mysql_dsn_describe (const NotaryMysqlDsn *dsn);

/* Parses a Go duration ("1.5s", "500ms", "1m30s") or, when
 * @bare_is_seconds, a plain number of seconds.  \return FALSE when
 * malformed, negative or over G_MAXUINT milliseconds. */
gboolean notary_mysql_parse_duration_ms (const char *text, gboolean bare_is_seconds, guint *out_ms);

G_END_DECLS
