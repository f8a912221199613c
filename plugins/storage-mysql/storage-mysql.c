/* storage-mysql.c — the MySQL/MariaDB storage backend ("mysql").
 *
 * Reads and writes the reference notary-server's final MySQL schema
 * (server-storage.md §3.1, data/server-mysql.sql) with the statement
 * semantics of §3.4, so a database can be shared with, or migrated from,
 * the reference.  Needs only SELECT, INSERT, UPDATE and DELETE.
 *
 * Connections: a small thread-safe pool (storage.max_connections, default
 * 2 × CPUs).  Each connection keeps its prepared statements and is set to
 * UTC.  A connection that reports a network-level error is closed, and the
 * idle ones are dropped with it (after a server restart they are all
 * dead); the next request dials again.  An operation whose *first*
 * statement failed on a reused connection is retried once on a fresh one,
 * which is safe because nothing of it reached the database.  Dialing a
 * stopped server fails at once (or after storage.connect_timeout), so
 * requests fail fast with NOTARY_STORAGE_ERROR_UNAVAILABLE.
 *
 * Writes: update_many runs its pre-checks, then every insert in one
 * transaction; the unique key `gun` (gun, role, version) is what really
 * decides races (errors 1062/1022 → OLD_VERSION).
 *
 * Case: the reference schema stores gun and role as utf8_general_ci, so
 * plain `gun = ?` would let `Foo/x` read, and delete, the rows of `foo/x`
 * (and ignore trailing spaces).  Every lookup and delete therefore matches
 * gun and role exactly as well (`gun = ? AND BINARY gun = ?`: the first
 * half keeps the unique index usable, the second makes it exact).  Inserts
 * cannot be made exact without changing the shared schema: creating `Foo/x`
 * next to an existing `foo/x` collides on the unique key at version 1 and
 * fails with OLD_VERSION (400 VERSION), which stores nothing.
 */
#include <notary/storage-backend.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <string.h>

#include "storage-mysql-dsn.h"

/* ---- statements --------------------------------------------------------- */

typedef enum
{
  STMT_EXISTS,
  STMT_INSERT_FILE,
  STMT_INSERT_CHANGE,
  STMT_GET_LATEST,
  STMT_GET_CHECKSUM,
  STMT_GET_VERSION,
  STMT_DELETE_GUN,
  STMT_CHANGES_FWD,
  STMT_CHANGES_FWD_GUN,
  STMT_CHANGES_REV,
  STMT_CHANGES_REV_GUN,
  STMT_HEALTH,
  N_STMTS
} StmtId;

#define CHANGE_COLUMNS "id, UNIX_TIMESTAMP(created_at), gun, version, sha256, category"
/* Exact (case- and space-sensitive) match on a utf8_general_ci column; it
 * takes the value twice, see bind_exact(). */
#define EXACT(col) col " = ? AND BINARY " col " = ?"

static const char *const stmt_sql[N_STMTS] = {
  [STMT_EXISTS] = "SELECT 1 FROM tuf_files WHERE " EXACT ("gun") " AND " EXACT ("role") " AND version >= ? "
                  "AND deleted_at IS NULL LIMIT 1",
  [STMT_INSERT_FILE] = "INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, "
                       "version, data, sha256) VALUES (NOW(), NOW(), NULL, ?, ?, ?, ?, ?)",
  [STMT_INSERT_CHANGE] = "INSERT INTO changefeed (created_at, gun, version, sha256, category) "
                         "VALUES (NOW(), ?, ?, ?, ?)",
  [STMT_GET_LATEST] = "SELECT UNIX_TIMESTAMP(updated_at), version, data FROM tuf_files "
                      "WHERE " EXACT ("gun") " AND " EXACT ("role") " AND deleted_at IS NULL "
                      "ORDER BY version DESC LIMIT 1",
  [STMT_GET_CHECKSUM] = "SELECT UNIX_TIMESTAMP(created_at), version, data FROM tuf_files "
                        "WHERE " EXACT ("gun") " AND " EXACT ("role") " AND sha256 = ? "
                        "AND deleted_at IS NULL LIMIT 1",
  [STMT_GET_VERSION] = "SELECT UNIX_TIMESTAMP(created_at), version, data FROM tuf_files "
                       "WHERE " EXACT ("gun") " AND " EXACT ("role") " AND version = ? "
                       "AND deleted_at IS NULL LIMIT 1",
  [STMT_DELETE_GUN] = "DELETE FROM tuf_files WHERE " EXACT ("gun"),
  [STMT_CHANGES_FWD] = "SELECT " CHANGE_COLUMNS " FROM changefeed WHERE id > ? "
                       "ORDER BY id ASC LIMIT ?",
  [STMT_CHANGES_FWD_GUN] = "SELECT " CHANGE_COLUMNS " FROM changefeed WHERE " EXACT ("gun") " AND id > ? "
                           "ORDER BY id ASC LIMIT ?",
  [STMT_CHANGES_REV] = "SELECT " CHANGE_COLUMNS " FROM changefeed WHERE id < ? "
                       "ORDER BY id DESC LIMIT ?",
  [STMT_CHANGES_REV_GUN] = "SELECT " CHANGE_COLUMNS " FROM changefeed WHERE " EXACT ("gun") " AND id < ? "
                           "ORDER BY id DESC LIMIT ?",
  /* Fails with ER_NO_SUCH_TABLE when the schema is missing. */
  [STMT_HEALTH] = "SELECT 1 FROM tuf_files LIMIT 1",
};

/* ---- instance and pool -------------------------------------------------- */

typedef struct
{
  MYSQL *mysql;
  MYSQL_STMT *stmts[N_STMTS]; /* prepared on first use */
  gboolean broken;            /* a network error happened: close, don't reuse */
  gboolean reused;            /* came from the idle list, may be stale */
  guint n_ok;                 /* statements that succeeded since acquired */
} Conn;

struct _NotaryStorage
{
  const NotaryHost *host;
  NotaryMysqlDsn *dsn;
  char *where; /* DSN without password, for messages */
  guint connect_timeout_s;
  guint read_timeout_s;
  guint write_timeout_s;
  guint lock_wait_timeout_s;
  gint64 pool_wait_us; /* how long a request may wait for a free connection */

  GMutex lock;
  GCond cond;
  GQueue idle;  /* Conn* */
  guint n_open; /* idle + in use + being dialed */
  guint max_open;
};

static void
conn_free (Conn *c)
{
  if (c == NULL)
    return;
  for (guint i = 0; i < N_STMTS; i++)
    if (c->stmts[i] != NULL)
      mysql_stmt_close (c->stmts[i]);
  if (c->mysql != NULL)
    mysql_close (c->mysql);
  g_free (c);
}

/* ---- error mapping ------------------------------------------------------ */

static gboolean
is_connection_error (unsigned int code)
{
  switch (code)
    {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_UNKNOWN_HOST:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT: idle connection closed by the server */
      return TRUE;
    default:
      return FALSE;
    }
}

/* Turns a MariaDB error into a GError, marking @c broken when the
 * connection can no longer be trusted.  \return FALSE. */
static gboolean
set_db_error (NotaryStorage *self, Conn *c, unsigned int code, const char *msg, const char *what,
              GError **error)
{
  if (code == ER_DUP_ENTRY || code == ER_DUP_KEY)
    {
      g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION,
                           "Error updating metadata. A newer version is already available");
      return FALSE;
    }
  if (code == ER_LOCK_DEADLOCK)
    {
      /* Two publishes of the same GUN crossed; the other one wins, and this
       * one would have collided with it on the unique key anyway. */
      g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION,
                           "Error updating metadata. A newer version is already available");
      return FALSE;
    }
  if (is_connection_error (code) || code == ER_LOCK_WAIT_TIMEOUT)
    {
      if (is_connection_error (code) && c != NULL)
        c->broken = TRUE;
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_UNAVAILABLE,
                   "mysql %s: %s: %s (error %u)", self->where, what, msg, code);
      return FALSE;
    }
  g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED, "mysql %s: %s: %s (error %u)",
               self->where, what, msg, code);
  return FALSE;
}

static gboolean
set_conn_error (NotaryStorage *self, Conn *c, const char *what, GError **error)
{
  return set_db_error (self, c, mysql_errno (c->mysql), mysql_error (c->mysql), what, error);
}

static gboolean
set_stmt_error (NotaryStorage *self, Conn *c, MYSQL_STMT *stmt, const char *what, GError **error)
{
  return set_db_error (self, c, mysql_stmt_errno (stmt), mysql_stmt_error (stmt), what, error);
}

/* ---- connections -------------------------------------------------------- */

static gboolean
conn_query (NotaryStorage *self, Conn *c, const char *sql, GError **error)
{
  if (mysql_real_query (c->mysql, sql, strlen (sql)) != 0)
    return set_conn_error (self, c, sql, error);
  c->n_ok++;
  return TRUE;
}

static Conn *
conn_dial (NotaryStorage *self, GError **error)
{
  const NotaryMysqlDsn *dsn = self->dsn;
  g_autoptr (GString) init = NULL;
  Conn *c = g_new0 (Conn, 1);
  my_bool off = 0, on = 1;
  unsigned int protocol = dsn->unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;

  c->mysql = mysql_init (NULL);
  if (c->mysql == NULL)
    {
      g_free (c);
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                   "mysql: out of memory creating a connection");
      return NULL;
    }
  mysql_options (c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &self->connect_timeout_s);
  mysql_options (c->mysql, MYSQL_OPT_READ_TIMEOUT, &self->read_timeout_s);
  mysql_options (c->mysql, MYSQL_OPT_WRITE_TIMEOUT, &self->write_timeout_s);
  /* We reconnect ourselves: the library's silent reconnect would lose the
   * session time zone and the prepared statements. */
  mysql_options (c->mysql, MYSQL_OPT_RECONNECT, &off);
  /* "localhost" would otherwise mean the socket. */
  mysql_options (c->mysql, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options (c->mysql, MYSQL_SET_CHARSET_NAME, dsn->charset != NULL ? dsn->charset : "utf8mb4");
  switch (dsn->tls)
    {
    case NOTARY_MYSQL_TLS_VERIFY:
      mysql_options (c->mysql, MYSQL_OPT_SSL_ENFORCE, &on);
      mysql_options (c->mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
      break;
    case NOTARY_MYSQL_TLS_SKIP_VERIFY:
      mysql_options (c->mysql, MYSQL_OPT_SSL_ENFORCE, &on);
      mysql_options (c->mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
      break;
    case NOTARY_MYSQL_TLS_PREFERRED:
      mysql_ssl_set (c->mysql, NULL, NULL, NULL, NULL, NULL);
      mysql_options (c->mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
      break;
    case NOTARY_MYSQL_TLS_OFF:
    default:
      break;
    }

  if (mysql_real_connect (c->mysql, dsn->unix_socket ? NULL : dsn->host, dsn->user, dsn->password,
                          *dsn->dbname != '\0' ? dsn->dbname : NULL, dsn->unix_socket ? 0 : dsn->port,
                          dsn->unix_socket ? dsn->socket : NULL, 0)
      == NULL)
    {
      unsigned int code = mysql_errno (c->mysql);
      /* Bad credentials or database are configuration errors, not outages. */
      gboolean config
          = code == ER_ACCESS_DENIED_ERROR || code == ER_DBACCESS_DENIED_ERROR || code == ER_BAD_DB_ERROR;
      g_set_error (error, NOTARY_STORAGE_ERROR,
                   config ? NOTARY_STORAGE_ERROR_FAILED : NOTARY_STORAGE_ERROR_UNAVAILABLE,
                   "cannot connect to mysql %s: %s (error %u)", self->where, mysql_error (c->mysql), code);
      conn_free (c);
      return NULL;
    }

  /* Session setup: the DSN's system variables first, then our own so they
   * cannot be overridden (all times are UTC, lock waits stay short). */
  for (guint i = 0; i < dsn->session_vars->len; i++)
    {
      g_autofree char *sql = g_strdup_printf ("SET %s", (char *)dsn->session_vars->pdata[i]);
      if (!conn_query (self, c, sql, error))
        {
          conn_free (c);
          return NULL;
        }
    }
  init = g_string_new ("SET time_zone = '+00:00'");
  g_string_append_printf (init, ", SESSION innodb_lock_wait_timeout = %u", self->lock_wait_timeout_s);
  if (!conn_query (self, c, init->str, error))
    {
      conn_free (c);
      return NULL;
    }
  c->n_ok = 0;
  return c;
}

/* \return (transfer full) a connection for the calling thread, or NULL
 * with UNAVAILABLE when the database cannot be reached. */
static Conn *
pool_acquire (NotaryStorage *self, GError **error)
{
  Conn *c;
  gint64 deadline = g_get_monotonic_time () + self->pool_wait_us;

  g_mutex_lock (&self->lock);
  while (g_queue_is_empty (&self->idle) && self->n_open >= self->max_open)
    {
      if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
        {
          g_mutex_unlock (&self->lock);
          g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_UNAVAILABLE,
                       "mysql %s: all %u database connections stayed busy", self->where, self->max_open);
          return NULL;
        }
    }
  c = g_queue_pop_head (&self->idle);
  if (c != NULL)
    {
      g_mutex_unlock (&self->lock);
      c->reused = TRUE;
      c->n_ok = 0;
      return c;
    }
  self->n_open++;
  g_mutex_unlock (&self->lock);

  /* Dial without the lock: it may block for connect_timeout. */
  c = conn_dial (self, error);
  if (c == NULL)
    {
      g_mutex_lock (&self->lock);
      self->n_open--;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      return NULL;
    }
  c->reused = FALSE;
  return c;
}

static void
pool_release (NotaryStorage *self, Conn *c)
{
  GQueue stale = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  if (!c->broken)
    {
      g_queue_push_head (&self->idle, c);
      c = NULL;
    }
  else
    {
      /* The server went away: the idle connections are as dead as this one. */
      self->n_open -= 1 + self->idle.length;
      stale = self->idle;
      g_queue_init (&self->idle);
    }
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  conn_free (c);
  g_queue_clear_full (&stale, (GDestroyNotify)conn_free);
}

typedef gboolean (*ConnOp) (NotaryStorage *self, Conn *c, gpointer data, GError **error);

/* Runs @op on a pooled connection.  When its first statement hit a dead
 * reused connection, nothing reached the database, so it is run once more
 * on a freshly dialed one. */
static gboolean
run_op (NotaryStorage *self, ConnOp op, gpointer data, GError **error)
{
  for (guint attempt = 0;; attempt++)
    {
      g_autoptr (GError) local = NULL;
      Conn *c = pool_acquire (self, error);
      gboolean ok, retry;

      if (c == NULL)
        return FALSE;
      ok = op (self, c, data, &local);
      retry = !ok && c->broken && c->reused && c->n_ok == 0 && attempt == 0;
      pool_release (self, c);
      if (ok)
        return TRUE;
      if (!retry)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
}

/* ---- statement helpers -------------------------------------------------- */

static MYSQL_STMT *
conn_stmt (NotaryStorage *self, Conn *c, StmtId id, GError **error)
{
  MYSQL_STMT *stmt;

  if (c->stmts[id] != NULL)
    return c->stmts[id];
  stmt = mysql_stmt_init (c->mysql);
  if (stmt == NULL)
    {
      set_conn_error (self, c, "preparing a statement", error);
      return NULL;
    }
  if (mysql_stmt_prepare (stmt, stmt_sql[id], strlen (stmt_sql[id])) != 0)
    {
      set_stmt_error (self, c, stmt, stmt_sql[id], error);
      mysql_stmt_close (stmt);
      return NULL;
    }
  c->stmts[id] = stmt;
  return stmt;
}

static void
bind_str (MYSQL_BIND *b, const char *s, unsigned long *len)
{
  *len = strlen (s);
  b->buffer_type = MYSQL_TYPE_STRING;
  b->buffer = (void *)s;
  b->buffer_length = *len;
  b->length = len;
}

/* Binds @s to the two placeholders of an EXACT() condition.  \return 2. */
static guint
bind_exact (MYSQL_BIND *b, const char *s, unsigned long *len)
{
  bind_str (&b[0], s, len);
  bind_str (&b[1], s, len);
  return 2;
}

static void
bind_i64 (MYSQL_BIND *b, gint64 *v)
{
  b->buffer_type = MYSQL_TYPE_LONGLONG;
  b->buffer = v;
}

/* Binds @params (may be NULL), executes and buffers the whole result.
 * \return the statement, ready for bind_result/fetch, or NULL. */
static MYSQL_STMT *
stmt_run (NotaryStorage *self, Conn *c, StmtId id, MYSQL_BIND *params, GError **error)
{
  MYSQL_STMT *stmt = conn_stmt (self, c, id, error);

  if (stmt == NULL)
    return NULL;
  if (params != NULL && mysql_stmt_bind_param (stmt, params) != 0)
    {
      set_stmt_error (self, c, stmt, "binding parameters", error);
      return NULL;
    }
  if (mysql_stmt_execute (stmt) != 0)
    {
      set_stmt_error (self, c, stmt, stmt_sql[id], error);
      return NULL;
    }
  if (mysql_stmt_field_count (stmt) > 0 && mysql_stmt_store_result (stmt) != 0)
    {
      set_stmt_error (self, c, stmt, "reading the result", error);
      return NULL;
    }
  c->n_ok++;
  return stmt;
}

/* Reads the single-file result of GET_LATEST/GET_CHECKSUM/GET_VERSION. */
static gboolean
fetch_file (NotaryStorage *self, Conn *c, MYSQL_STMT *stmt, NotaryStoredFile **out, GError **error)
{
  MYSQL_BIND res[3];
  gint64 ts = 0, version = 0;
  my_bool ts_null = 0;
  unsigned long data_len = 0;
  gpointer buf;
  int rc;

  memset (res, 0, sizeof res);
  res[0].buffer_type = MYSQL_TYPE_LONGLONG;
  res[0].buffer = &ts;
  res[0].is_null = &ts_null;
  res[1].buffer_type = MYSQL_TYPE_LONGLONG;
  res[1].buffer = &version;
  /* No buffer: fetch reports the length, then fetch_column reads it. */
  res[2].buffer_type = MYSQL_TYPE_BLOB;
  res[2].length = &data_len;

  if (mysql_stmt_bind_result (stmt, res) != 0)
    {
      set_stmt_error (self, c, stmt, "binding the result", error);
      mysql_stmt_free_result (stmt);
      return FALSE;
    }
  rc = mysql_stmt_fetch (stmt);
  if (rc == MYSQL_NO_DATA)
    {
      mysql_stmt_free_result (stmt);
      *out = NULL;
      return TRUE;
    }
  if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
    {
      set_stmt_error (self, c, stmt, "fetching a file", error);
      mysql_stmt_free_result (stmt);
      return FALSE;
    }
  buf = g_malloc (data_len > 0 ? data_len : 1);
  if (data_len > 0)
    {
      res[2].buffer = buf;
      res[2].buffer_length = data_len;
      if (mysql_stmt_fetch_column (stmt, &res[2], 2, 0) != 0)
        {
          g_free (buf);
          set_stmt_error (self, c, stmt, "reading file data", error);
          mysql_stmt_free_result (stmt);
          return FALSE;
        }
    }
  mysql_stmt_free_result (stmt);

  *out = g_new0 (NotaryStoredFile, 1);
  (*out)->data = g_bytes_new_take (buf, data_len);
  (*out)->version = version;
  (*out)->modified_unix = ts_null ? 0 : ts;
  return TRUE;
}

static gpointer
set_not_found (GError **error)
{
  g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND, "No record found");
  return NULL;
}

/* ---- update_many -------------------------------------------------------- */

typedef struct
{
  const char *gun;
  const NotaryStorageUpdate *updates;
  gsize n_updates;
  char **sha256; /* per update, lowercase hex */
} UpdateArgs;

static gboolean
insert_change (NotaryStorage *self, Conn *c, const char *gun, gint64 version, const char *sha256,
               const char *category, GError **error)
{
  MYSQL_BIND p[4];
  unsigned long l_gun, l_sha, l_cat;

  memset (p, 0, sizeof p);
  bind_str (&p[0], gun, &l_gun);
  bind_i64 (&p[1], &version);
  bind_str (&p[2], sha256, &l_sha);
  bind_str (&p[3], category, &l_cat);
  return stmt_run (self, c, STMT_INSERT_CHANGE, p, error) != NULL;
}

/* OLD_VERSION when a stored file of (gun, role) has version >= @min. */
static gboolean
check_min_version (NotaryStorage *self, Conn *c, const char *gun, const char *role, gint64 min,
                   GError **error)
{
  MYSQL_BIND p[5];
  unsigned long l_gun, l_role;
  MYSQL_STMT *stmt;
  my_ulonglong rows;

  memset (p, 0, sizeof p);
  bind_exact (&p[0], gun, &l_gun);
  bind_exact (&p[2], role, &l_role);
  bind_i64 (&p[4], &min);
  stmt = stmt_run (self, c, STMT_EXISTS, p, error);
  if (stmt == NULL)
    return FALSE;
  rows = mysql_stmt_num_rows (stmt);
  mysql_stmt_free_result (stmt);
  if (rows > 0)
    {
      g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION,
                           "Error updating metadata. A newer version is already available");
      return FALSE;
    }
  return TRUE;
}

static gboolean
update_many_op (NotaryStorage *self, Conn *c, gpointer data, GError **error)
{
  UpdateArgs *a = data;
  g_autoptr (GHashTable) min_by_role = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  /* Pre-check (outside the transaction, as the reference): the smallest
   * new version of each role must exceed every stored one. */
  for (gsize i = 0; i < a->n_updates; i++)
    {
      const NotaryStorageUpdate *u = &a->updates[i];
      gint64 *min = g_hash_table_lookup (min_by_role, u->role);
      if (min == NULL || u->version < *min)
        g_hash_table_insert (min_by_role, (gpointer)u->role, (gpointer)&u->version);
    }
  g_hash_table_iter_init (&iter, min_by_role);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!check_min_version (self, c, a->gun, key, *(const gint64 *)value, error))
      return FALSE;

  if (!conn_query (self, c, "START TRANSACTION", error))
    return FALSE;
  for (gsize i = 0; i < a->n_updates; i++)
    {
      const NotaryStorageUpdate *u = &a->updates[i];
      MYSQL_BIND p[5];
      unsigned long l_gun, l_role, l_data, l_sha;
      gint64 version = u->version;
      gsize size;
      gconstpointer bytes = g_bytes_get_data (u->data, &size);

      memset (p, 0, sizeof p);
      bind_str (&p[0], a->gun, &l_gun);
      bind_str (&p[1], u->role, &l_role);
      bind_i64 (&p[2], &version);
      l_data = size;
      p[3].buffer_type = MYSQL_TYPE_BLOB;
      p[3].buffer = (void *)(bytes != NULL ? bytes : "");
      p[3].buffer_length = size;
      p[3].length = &l_data;
      bind_str (&p[4], a->sha256[i], &l_sha);
      if (stmt_run (self, c, STMT_INSERT_FILE, p, error) == NULL
          || (strcmp (u->role, "timestamp") == 0
              && !insert_change (self, c, a->gun, u->version, a->sha256[i], "update", error)))
        {
          /* On a dead connection the server has rolled back already. */
          if (!c->broken)
            mysql_rollback (c->mysql);
          return FALSE;
        }
    }
  if (mysql_commit (c->mysql) != 0)
    {
      set_conn_error (self, c, "COMMIT", error);
      if (!c->broken)
        mysql_rollback (c->mysql);
      return FALSE;
    }
  c->n_ok++;
  return TRUE;
}

static gboolean
mysql_update_many (NotaryStorage *self, const char *gun, const NotaryStorageUpdate *updates, gsize n_updates,
                   GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) sha = g_ptr_array_new_with_free_func (g_free);
  UpdateArgs args = { gun, updates, n_updates, NULL };

  g_return_val_if_fail (self != NULL && gun != NULL, FALSE);
  g_return_val_if_fail (n_updates == 0 || updates != NULL, FALSE);

  for (gsize i = 0; i < n_updates; i++)
    {
      const NotaryStorageUpdate *u = &updates[i];
      if (u->role == NULL || u->data == NULL || u->version < 1 || u->version > G_MAXINT32)
        {
          g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                       "invalid update %" G_GSIZE_FORMAT ": needs a role, data and a version "
                       "in 1..%d",
                       i, G_MAXINT32);
          return FALSE;
        }
      if (!g_hash_table_add (seen, g_strdup_printf ("%s\n%" G_GINT64_FORMAT, u->role, u->version)))
        {
          g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION,
                               "Error updating metadata. A newer version is already available");
          return FALSE;
        }
      g_ptr_array_add (sha, u->sha256 != NULL ? g_ascii_strdown (u->sha256, -1)
                                              : g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, u->data));
    }
  if (n_updates == 0)
    return TRUE;
  args.sha256 = (char **)sha->pdata;
  return run_op (self, update_many_op, &args, error);
}

/* ---- lookups ------------------------------------------------------------ */

typedef struct
{
  StmtId id;
  const char *gun;
  const char *role;
  const char *sha256;
  gint64 version;
  NotaryStoredFile *result;
} GetArgs;

static gboolean
get_op (NotaryStorage *self, Conn *c, gpointer data, GError **error)
{
  GetArgs *a = data;
  MYSQL_BIND p[5];
  unsigned long l_gun, l_role, l_sha;
  MYSQL_STMT *stmt;

  memset (p, 0, sizeof p);
  bind_exact (&p[0], a->gun, &l_gun);
  bind_exact (&p[2], a->role, &l_role);
  if (a->id == STMT_GET_CHECKSUM)
    bind_str (&p[4], a->sha256, &l_sha);
  else if (a->id == STMT_GET_VERSION)
    bind_i64 (&p[4], &a->version);
  stmt = stmt_run (self, c, a->id, p, error);
  if (stmt == NULL)
    return FALSE;
  return fetch_file (self, c, stmt, &a->result, error);
}

static NotaryStoredFile *
run_get (NotaryStorage *self, GetArgs *a, GError **error)
{
  if (!run_op (self, get_op, a, error))
    return NULL;
  if (a->result == NULL)
    return set_not_found (error);
  return a->result;
}

static NotaryStoredFile *
mysql_get_latest (NotaryStorage *self, const char *gun, const char *role, GError **error)
{
  GetArgs a = { STMT_GET_LATEST, gun, role, NULL, 0, NULL };
  g_return_val_if_fail (self != NULL && gun != NULL && role != NULL, NULL);
  return run_get (self, &a, error);
}

static NotaryStoredFile *
mysql_get_checksum (NotaryStorage *self, const char *gun, const char *role, const char *sha256,
                    GError **error)
{
  GetArgs a = { STMT_GET_CHECKSUM, gun, role, sha256, 0, NULL };
  g_return_val_if_fail (self != NULL && gun != NULL && role != NULL && sha256 != NULL, NULL);
  return run_get (self, &a, error);
}

static NotaryStoredFile *
mysql_get_version (NotaryStorage *self, const char *gun, const char *role, gint64 version, GError **error)
{
  GetArgs a = { STMT_GET_VERSION, gun, role, NULL, version, NULL };
  g_return_val_if_fail (self != NULL && gun != NULL && role != NULL, NULL);
  /* The reference's ORM would drop a zero condition and return any file. */
  if (version < 1 || version > G_MAXINT32)
    return set_not_found (error);
  return run_get (self, &a, error);
}

/* ---- delete ------------------------------------------------------------- */

static gboolean
delete_op (NotaryStorage *self, Conn *c, gpointer data, GError **error)
{
  const char *gun = data;
  MYSQL_BIND p[2];
  unsigned long l_gun;
  MYSQL_STMT *stmt;

  if (!conn_query (self, c, "START TRANSACTION", error))
    return FALSE;
  memset (p, 0, sizeof p);
  bind_exact (&p[0], gun, &l_gun);
  stmt = stmt_run (self, c, STMT_DELETE_GUN, p, error);
  if (stmt == NULL
      || (mysql_stmt_affected_rows (stmt) > 0 && !insert_change (self, c, gun, 0, "", "deletion", error)))
    {
      if (!c->broken)
        mysql_rollback (c->mysql);
      return FALSE;
    }
  if (mysql_commit (c->mysql) != 0)
    {
      set_conn_error (self, c, "COMMIT", error);
      if (!c->broken)
        mysql_rollback (c->mysql);
      return FALSE;
    }
  c->n_ok++;
  return TRUE;
}

static gboolean
mysql_delete_gun (NotaryStorage *self, const char *gun, GError **error)
{
  g_return_val_if_fail (self != NULL && gun != NULL, FALSE);
  return run_op (self, delete_op, (gpointer)gun, error);
}

/* ---- changefeed --------------------------------------------------------- */

typedef struct
{
  const char *gun;
  gint64 change_id;
  gint64 records;
  gboolean reversed;
  GPtrArray *result;
} ChangesArgs;

static gboolean
changes_op (NotaryStorage *self, Conn *c, gpointer data, GError **error)
{
  ChangesArgs *a = data;
  MYSQL_BIND p[4], res[6];
  unsigned long l_gun, len_gun = 0, len_sha = 0, len_cat = 0;
  gint64 bound, id = 0, ts = 0, version = 0;
  my_bool ts_null = 0, sha_null = 0;
  char gun[1024], sha[256], cat[64];
  guint n = 0;
  StmtId sid;
  MYSQL_STMT *stmt;
  int rc;

  /* Reversed without a start: no upper bound. */
  bound = a->reversed && a->change_id <= 0 ? G_MAXINT64 : a->change_id;
  memset (p, 0, sizeof p);
  if (a->gun != NULL)
    n += bind_exact (&p[n], a->gun, &l_gun);
  bind_i64 (&p[n++], &bound);
  bind_i64 (&p[n++], &a->records);
  if (a->reversed)
    sid = a->gun != NULL ? STMT_CHANGES_REV_GUN : STMT_CHANGES_REV;
  else
    sid = a->gun != NULL ? STMT_CHANGES_FWD_GUN : STMT_CHANGES_FWD;
  stmt = stmt_run (self, c, sid, p, error);
  if (stmt == NULL)
    return FALSE;

  memset (res, 0, sizeof res);
  bind_i64 (&res[0], &id);
  bind_i64 (&res[1], &ts);
  res[1].is_null = &ts_null;
  res[2].buffer_type = MYSQL_TYPE_STRING;
  res[2].buffer = gun;
  res[2].buffer_length = sizeof gun;
  res[2].length = &len_gun;
  bind_i64 (&res[3], &version);
  res[4].buffer_type = MYSQL_TYPE_STRING;
  res[4].buffer = sha;
  res[4].buffer_length = sizeof sha;
  res[4].length = &len_sha;
  res[4].is_null = &sha_null;
  res[5].buffer_type = MYSQL_TYPE_STRING;
  res[5].buffer = cat;
  res[5].buffer_length = sizeof cat;
  res[5].length = &len_cat;
  if (mysql_stmt_bind_result (stmt, res) != 0)
    {
      set_stmt_error (self, c, stmt, "binding the result", error);
      mysql_stmt_free_result (stmt);
      return FALSE;
    }

  a->result = g_ptr_array_new_with_free_func ((GDestroyNotify)notary_change_free);
  while ((rc = mysql_stmt_fetch (stmt)) == 0)
    {
      NotaryChange *ch = g_new0 (NotaryChange, 1);
      ch->id = id;
      ch->created_unix = ts_null ? 0 : ts;
      ch->gun = g_strndup (gun, MIN (len_gun, sizeof gun));
      ch->version = version;
      ch->sha256 = sha_null ? g_strdup ("") : g_strndup (sha, MIN (len_sha, sizeof sha));
      ch->category = g_strndup (cat, MIN (len_cat, sizeof cat));
      g_ptr_array_add (a->result, ch);
    }
  if (rc != MYSQL_NO_DATA)
    {
      /* Columns are bounded by the schema; truncation means a foreign schema. */
      if (rc == MYSQL_DATA_TRUNCATED)
        g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                     "mysql %s: changefeed row wider than the schema allows", self->where);
      else
        set_stmt_error (self, c, stmt, "fetching changes", error);
      mysql_stmt_free_result (stmt);
      g_clear_pointer (&a->result, g_ptr_array_unref);
      return FALSE;
    }
  mysql_stmt_free_result (stmt);

  if (a->reversed)
    for (guint i = 0, j = a->result->len; i + 1 < j; i++, j--)
      {
        gpointer tmp = a->result->pdata[i];
        a->result->pdata[i] = a->result->pdata[j - 1];
        a->result->pdata[j - 1] = tmp;
      }
  return TRUE;
}

static GPtrArray *
mysql_get_changes (NotaryStorage *self, const char *gun, gint64 change_id, guint records, gboolean reversed,
                   GError **error)
{
  ChangesArgs a = { gun, change_id, records, reversed, NULL };

  g_return_val_if_fail (self != NULL, NULL);
  if (!run_op (self, changes_op, &a, error))
    return NULL;
  return a.result;
}

/* ---- health ------------------------------------------------------------- */

static gboolean
health_op (NotaryStorage *self, Conn *c, gpointer data, GError **error)
{
  MYSQL_STMT *stmt = stmt_run (self, c, STMT_HEALTH, NULL, error);
  if (stmt == NULL)
    return FALSE;
  mysql_stmt_free_result (stmt);
  return TRUE;
}

static gboolean
mysql_check_health (NotaryStorage *self, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return run_op (self, health_op, NULL, error);
}

/* ---- open / close ------------------------------------------------------- */

static gboolean
option_seconds (JsonObject *options, const char *key, guint dsn_ms, guint fallback_s, guint *out,
                GError **error)
{
  g_autofree char *text = notary_options_dup_string (options, key);
  guint ms = dsn_ms;

  if (text != NULL && !notary_mysql_parse_duration_ms (text, TRUE, &ms))
    {
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                   "storage.%s: '%s' is not a number of seconds or a duration such as 5s", key, text);
      return FALSE;
    }
  if (text == NULL && dsn_ms == 0)
    {
      *out = fallback_s;
      return TRUE;
    }
  /* The client library counts whole seconds; 0 would mean "forever". */
  *out = MAX (1u, (ms + 999) / 1000);
  return TRUE;
}

static void
mysql_close_storage (NotaryStorage *self)
{
  if (self == NULL)
    return;
  g_queue_clear_full (&self->idle, (GDestroyNotify)conn_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  notary_mysql_dsn_free (self->dsn);
  g_free (self->where);
  g_free (self);
}

static NotaryStorage *
mysql_open (const NotaryHost *host, JsonObject *options, GError **error)
{
  static gsize library_ready = 0;
  g_autofree char *url = notary_options_dup_string (options, "db_url");
  g_autofree char *max_text = notary_options_dup_string (options, "max_connections");
  g_autoptr (NotaryMysqlDsn) dsn = NULL;
  g_autoptr (GError) health_error = NULL;
  NotaryStorage *self;
  Conn *c;
  guint64 max_open = 2 * (guint64)g_get_num_processors ();

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                           "storage.db_url is required for the mysql backend, e.g. "
                           "server@tcp(127.0.0.1:3306)/notaryserver?parseTime=True");
      return NULL;
    }
  dsn = notary_mysql_dsn_parse (url, error);
  if (dsn == NULL)
    return NULL;
  if (max_text != NULL && !g_ascii_string_to_unsigned (max_text, 10, 1, 10000, &max_open, NULL))
    {
      g_set_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED,
                   "storage.max_connections: '%s' is not a number in 1..10000", max_text);
      return NULL;
    }

  /* The client library's global state must be set up once before threads
   * use it. */
  if (g_once_init_enter (&library_ready))
    {
      mysql_library_init (0, NULL, NULL);
      g_once_init_leave (&library_ready, 1);
    }

  self = g_new0 (NotaryStorage, 1);
  self->host = host;
  self->where = notary_mysql_dsn_describe (dsn);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->idle);
  self->max_open = (guint)max_open;
  if (!option_seconds (options, "connect_timeout", dsn->connect_timeout_ms, 2, &self->connect_timeout_s,
                       error)
      || !option_seconds (options, "read_timeout", dsn->read_timeout_ms, 5, &self->read_timeout_s, error)
      || !option_seconds (options, "write_timeout", dsn->write_timeout_ms, 5, &self->write_timeout_s, error))
    {
      mysql_close_storage (self);
      return NULL;
    }
  /* A lock wait must end before the client gives up reading, so a blocked
   * writer gets a database error rather than a dropped connection. */
  self->lock_wait_timeout_s = MAX (1u, self->read_timeout_s > 2 ? self->read_timeout_s - 2 : 1);
  self->pool_wait_us = (gint64)(self->connect_timeout_s + self->read_timeout_s) * G_USEC_PER_SEC;
  self->dsn = g_steal_pointer (&dsn);

  /* Fail at start when the database cannot be reached at all. */
  c = pool_acquire (self, error);
  if (c == NULL)
    {
      mysql_close_storage (self);
      return NULL;
    }
  if (!health_op (self, c, NULL, &health_error))
    notary_host_logf (host, NOTARY_LOG_WARNING, "mysql storage %s: %s", self->where, health_error->message);
  pool_release (self, c);

  notary_host_logf (host, NOTARY_LOG_INFO, "mysql storage %s: up to %u connections", self->where,
                    self->max_open);
  return self;
}

static const NotaryStorageVTable mysql_vtable = {
  .version = NOTARY_VERSION_STORAGE_VTABLE,
  .open = mysql_open,
  .close = mysql_close_storage,
  .update_many = mysql_update_many,
  .get_latest = mysql_get_latest,
  .get_checksum = mysql_get_checksum,
  .get_version = mysql_get_version,
  .delete_gun = mysql_delete_gun,
  .get_changes = mysql_get_changes,
  .check_health = mysql_check_health,
};

NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_STORAGE, "mysql",
                      "MySQL/MariaDB TUF metadata store (reference notary-server schema)", "1.0",
                      &mysql_vtable)
