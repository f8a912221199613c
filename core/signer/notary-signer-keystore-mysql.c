/* notary-signer-keystore-mysql.c — the `mysql` key store: the reference
 * signer's `private_keys` table (signer-storage.md §2-4,
 * data/signer-mysql.sql), shared row for row with the reference.
 *
 * Rows: the private key is the reference's raw key bytes inside a JWE
 * encrypted with the passphrase of the row's `passphrase_alias`
 * (NOTARY_SIGNER_<ALIAS>); new rows use the default alias.  Rows with
 * `deleted_at` set (the reference's soft delete) are invisible.
 *
 * Lifecycle with SELECT, INSERT and DELETE only: CreateKey hands back the
 * lowest-ID *pending* key (last_used NULL) for (gun, role, algorithm), or
 * stores a new one.  A key becomes used at its first signature.  The
 * reference records that with an UPDATE, which the least-privilege grant
 * does not allow (its rotation then silently keeps the old key).  We
 * replace the row instead, in one transaction: lock it (SELECT … FOR
 * UPDATE needs only SELECT), DELETE it, INSERT the same values with
 * last_used set.  Readers never see the key missing, the reference sees
 * it as used too, and concurrent markers serialise on the row lock (the
 * loser finds no pending row and does nothing).  Later signatures do not
 * touch the row again.
 *
 * Decrypted keys are cached by key ID, as the reference does, so PBKDF2
 * runs once per key while it stays in use; unlike the reference's, the
 * cache is bounded (storage.key_cache_size, notary-signer-keycache.h).
 * An evicted key is read again with its row, so its used flag comes back
 * from the database.  One connection serves all threads under a mutex:
 * traffic is a few statements per key, and a dropped connection is
 * re-dialled on the next statement.
 */
#include "notary-signer-keystore.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <string.h>

#include "notary-log.h"
#include "notary-signer-jwe.h"
#include "notary-signer-keycache.h"
#include "notary-signer-keyformat.h"
#include "storage-mysql-dsn.h"

#define TABLE "private_keys"

typedef struct
{
  NotarySignerKeyStore parent;
  NotaryMysqlDsn *dsn;
  char *where; /* DSN without password, for messages */
  char *default_alias;
  char **envp;

  GMutex db_lock; /* guards conn */
  MYSQL *conn;

  NotarySignerKeyCache *cache;
} MysqlStore;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MYSQL_RES, mysql_free_result)

/* ---- passphrases -------------------------------------------------------- */

char *
notary_signer_passphrase_variable (const char *alias)
{
  /* viper's env lookup: prefix, upper case, '.' → '_'. */
  g_autofree char *upper = g_ascii_strup (alias, -1);
  g_strdelimit (upper, ".", '_');
  return g_strconcat ("NOTARY_SIGNER_", upper, NULL);
}

char *
notary_signer_passphrase_lookup (char **envp, const char *alias, GError **error)
{
  g_autofree char *var = notary_signer_passphrase_variable (alias);
  const char *value = g_environ_getenv (envp, var);

  if (value == NULL || value[0] == '\0')
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_PASSPHRASE,
                   "expected env variable to not be empty: %s", alias);
      return NULL;
    }
  return g_strdup (value);
}

/* ---- connection --------------------------------------------------------- */

static void
conn_close (MysqlStore *self)
{
  if (self->conn != NULL)
    mysql_close (self->conn);
  self->conn = NULL;
}

static gboolean
conn_dial (MysqlStore *self, GError **error)
{
  const NotaryMysqlDsn *dsn = self->dsn;
  unsigned int protocol = dsn->unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
  unsigned int connect_s = dsn->connect_timeout_ms > 0 ? MAX (1, dsn->connect_timeout_ms / 1000) : 10;
  unsigned int read_s = dsn->read_timeout_ms > 0 ? MAX (1, dsn->read_timeout_ms / 1000) : 30;
  unsigned int write_s = dsn->write_timeout_ms > 0 ? MAX (1, dsn->write_timeout_ms / 1000) : 30;
  my_bool off = 0, on = 1;
  MYSQL *m = mysql_init (NULL);

  if (m == NULL)
    {
      g_set_error_literal (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED,
                           "mysql: out of memory");
      return FALSE;
    }
  mysql_options (m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
  mysql_options (m, MYSQL_OPT_READ_TIMEOUT, &read_s);
  mysql_options (m, MYSQL_OPT_WRITE_TIMEOUT, &write_s);
  /* We re-dial ourselves; a silent reconnect would lose the session
   * time zone in the middle of a transaction. */
  mysql_options (m, MYSQL_OPT_RECONNECT, &off);
  mysql_options (m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options (m, MYSQL_SET_CHARSET_NAME, dsn->charset != NULL ? dsn->charset : "utf8mb4");
  switch (dsn->tls)
    {
    case NOTARY_MYSQL_TLS_VERIFY:
      mysql_options (m, MYSQL_OPT_SSL_ENFORCE, &on);
      mysql_options (m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
      break;
    case NOTARY_MYSQL_TLS_SKIP_VERIFY:
      mysql_options (m, MYSQL_OPT_SSL_ENFORCE, &on);
      mysql_options (m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
      break;
    case NOTARY_MYSQL_TLS_PREFERRED:
      mysql_ssl_set (m, NULL, NULL, NULL, NULL, NULL);
      mysql_options (m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
      break;
    case NOTARY_MYSQL_TLS_OFF:
    default:
      break;
    }
  if (mysql_real_connect (m, dsn->unix_socket ? NULL : dsn->host, dsn->user, dsn->password,
                          *dsn->dbname != '\0' ? dsn->dbname : NULL, dsn->unix_socket ? 0 : dsn->port,
                          dsn->unix_socket ? dsn->socket : NULL, 0)
      == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_UNAVAILABLE,
                   "cannot connect to mysql %s: %s (error %u)", self->where, mysql_error (m),
                   mysql_errno (m));
      mysql_close (m);
      return FALSE;
    }
  /* The reference's driver writes times in UTC (loc defaults to UTC). */
  for (guint i = 0; i < dsn->session_vars->len + 1; i++)
    {
      g_autofree char *sql = i < dsn->session_vars->len
                                 ? g_strdup_printf ("SET %s", (char *)dsn->session_vars->pdata[i])
                                 : g_strdup ("SET time_zone = '+00:00'");
      if (mysql_real_query (m, sql, strlen (sql)) != 0)
        {
          g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED, "mysql %s: %s: %s",
                       self->where, sql, mysql_error (m));
          mysql_close (m);
          return FALSE;
        }
    }
  self->conn = m;
  return TRUE;
}

static gboolean
is_connection_error (unsigned int code)
{
  return code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST || code == CR_CONNECTION_ERROR
         || code == CR_CONN_HOST_ERROR || code == ER_CONNECTION_KILLED;
}

/* Runs @sql (db_lock held); *@out_res gets the result set of a SELECT.
 * With @retry, a statement that fails because the connection died is
 * sent once more on a fresh one (only for statements outside a
 * transaction: nothing of them reached the database). */
static gboolean
conn_exec (MysqlStore *self, const char *sql, MYSQL_RES **out_res, guint64 *out_affected, gboolean retry,
           GError **error)
{
  for (int attempt = 0;; attempt++)
    {
      unsigned int code;

      if (self->conn == NULL && !conn_dial (self, error))
        return FALSE;
      if (mysql_real_query (self->conn, sql, strlen (sql)) == 0)
        {
          if (out_res != NULL)
            {
              *out_res = mysql_store_result (self->conn);
              if (*out_res == NULL && mysql_errno (self->conn) != 0)
                goto failed;
            }
          if (out_affected != NULL)
            *out_affected = mysql_affected_rows (self->conn);
          return TRUE;
        }
    failed:
      code = mysql_errno (self->conn);
      if (is_connection_error (code))
        {
          if (retry && attempt == 0)
            {
              conn_close (self);
              continue;
            }
          g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_UNAVAILABLE,
                       "mysql %s: %s (error %u)", self->where, mysql_error (self->conn), code);
          conn_close (self);
          return FALSE;
        }
      g_set_error (error, NOTARY_KEYSTORE_ERROR,
                   code == ER_DUP_ENTRY ? NOTARY_KEYSTORE_ERROR_EXISTS : NOTARY_KEYSTORE_ERROR_FAILED,
                   "mysql %s: %s (error %u)", self->where, mysql_error (self->conn), code);
      return FALSE;
    }
}

/* Appends 'escaped text' (db_lock held, connection open). */
static void
append_quoted (MysqlStore *self, GString *sql, const char *text)
{
  gsize len = strlen (text);
  g_autofree char *buf = g_malloc (len * 2 + 1);
  mysql_real_escape_string (self->conn, buf, text, (unsigned long)len);
  g_string_append_c (sql, '\'');
  g_string_append (sql, buf);
  g_string_append_c (sql, '\'');
}

/* Appends X'hex': binary-safe without any escaping rules. */
static void
append_blob (GString *sql, const guint8 *data, gsize len)
{
  g_string_append (sql, "X'");
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (sql, "%02x", data[i]);
  g_string_append_c (sql, '\'');
}

/* A statement built with a live connection (for escaping).  NULL when
 * the database cannot be reached. */
static GString *
sql_begin (MysqlStore *self, const char *head, GError **error)
{
  if (self->conn == NULL && !conn_dial (self, error))
    return NULL;
  return g_string_new (head);
}

/* ---- rows --------------------------------------------------------------- */

typedef struct
{
  char *key_id;
  char *algorithm;
  char *alias;
  GBytes *public;
  char *private;
  char *role;
  gboolean used;
} Row;

static void
row_free (Row *r)
{
  g_free (r->key_id);
  g_free (r->algorithm);
  g_free (r->alias);
  if (r->public != NULL)
    g_bytes_unref (r->public);
  g_free (r->private);
  g_free (r->role);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Row, row_free)

/* The live row for @key_id, NULL + NOT_FOUND when there is none. */
static Row *
load_row (MysqlStore *self, const char *key_id, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->db_lock);
  g_autoptr (GString) sql = NULL;
  g_autoptr (MYSQL_RES) res = NULL;
  MYSQL_ROW row;
  unsigned long *lens;
  Row *r;

  sql = sql_begin (self,
                   "SELECT key_id, algorithm, passphrase_alias, public, private, role, last_used IS NOT NULL "
                   "FROM " TABLE " WHERE deleted_at IS NULL AND key_id = ",
                   error);
  if (sql == NULL)
    return NULL;
  append_quoted (self, sql, key_id);
  g_string_append (sql, " LIMIT 1");
  if (!conn_exec (self, sql->str, &res, NULL, TRUE, error))
    return NULL;
  row = res != NULL ? mysql_fetch_row (res) : NULL;
  if (row == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_NOT_FOUND, "signing key not found: %s",
                   key_id);
      return NULL;
    }
  lens = mysql_fetch_lengths (res);
  r = g_new0 (Row, 1);
  r->key_id = g_strndup (row[0], lens[0]);
  r->algorithm = g_strndup (row[1], lens[1]);
  r->alias = g_strndup (row[2], lens[2]);
  r->public = g_bytes_new (row[3], lens[3]);
  r->private = g_strndup (row[4], lens[4]);
  r->role = g_strndup (row[5], lens[5]);
  r->used = row[6] != NULL && g_str_equal (row[6], "1");
  return r;
}

/* Decrypts @r and checks it is what the row claims: the key type, the
 * public key and the key ID must all match (a row is data from the
 * network's point of view). */
static NotaryPrivateKey *
open_row (MysqlStore *self, Row *r, GError **error)
{
  g_autofree char *passphrase = NULL;
  g_autoptr (GBytes) raw = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (NotaryPrivateKey) key = NULL;
  NotaryKey *pub;

  passphrase = notary_signer_passphrase_lookup (self->envp, r->alias, error);
  if (passphrase == NULL)
    return NULL;
  raw = notary_jwe_decrypt (r->private, passphrase, &local);
  memset (passphrase, 0, strlen (passphrase));
  if (raw == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED, "decrypting key %s: %s",
                   r->key_id, local->message);
      return NULL;
    }
  key = notary_signer_key_from_raw (r->algorithm, raw, &local);
  if (key == NULL)
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED, "reading key %s: %s",
                   r->key_id, local->message);
      return NULL;
    }
  pub = notary_private_key_get_public (key);
  if (!g_bytes_equal (notary_key_get_public (pub), r->public)
      || !g_str_equal (notary_key_get_id (pub), r->key_id))
    {
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED,
                   "key %s: the stored public key or key ID does not match the private key", r->key_id);
      return NULL;
    }
  return g_steal_pointer (&key);
}

/* ---- the vtable --------------------------------------------------------- */

static NotaryPrivateKey *
mysql_get_key (NotarySignerKeyStore *store, const char *key_id, char **out_role, GError **error)
{
  MysqlStore *self = (MysqlStore *)store;
  g_autoptr (Row) r = NULL;
  NotaryPrivateKey *key = notary_signer_key_cache_lookup (self->cache, key_id, out_role, NULL);

  if (key != NULL)
    return key;
  r = load_row (self, key_id, error);
  if (r == NULL)
    return NULL;
  key = open_row (self, r, error);
  if (key == NULL)
    return NULL;
  notary_signer_key_cache_store (self->cache, key_id, key, r->role, r->used);
  if (out_role != NULL)
    *out_role = g_strdup (r->role);
  return key;
}

/* The pending key for (gun, role, algorithm), if any: \return TRUE with
 * *@out_key NULL when there is none. */
static gboolean
find_pending (MysqlStore *self, const char *gun, const char *role, const char *algorithm, NotaryKey **out_key,
              GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->db_lock);
  g_autoptr (GString) sql = NULL;
  g_autoptr (MYSQL_RES) res = NULL;
  g_autoptr (GBytes) public = NULL;
  MYSQL_ROW row;
  unsigned long *lens;

  *out_key = NULL;
  sql = sql_begin (self,
                   "SELECT algorithm, public FROM " TABLE " WHERE deleted_at IS NULL AND role = ", error);
  if (sql == NULL)
    return FALSE;
  append_quoted (self, sql, role);
  g_string_append (sql, " AND gun = ");
  append_quoted (self, sql, gun);
  g_string_append (sql, " AND algorithm = ");
  append_quoted (self, sql, algorithm);
  g_string_append (sql, " AND last_used IS NULL ORDER BY key_id LIMIT 1");
  if (!conn_exec (self, sql->str, &res, NULL, TRUE, error))
    return FALSE;
  row = res != NULL ? mysql_fetch_row (res) : NULL;
  if (row == NULL)
    return TRUE;
  lens = mysql_fetch_lengths (res);
  public = g_bytes_new (row[1], lens[1]);
  /* Like the reference, a pending key is answered from its public half:
   * no passphrase is needed until it signs. */
  *out_key = notary_key_new (row[0], public, error);
  return *out_key != NULL;
}

static gboolean
insert_key (MysqlStore *self, NotaryPrivateKey *key, const char *gun, const char *role, const char *jwe,
            GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->db_lock);
  NotaryKey *pub = notary_private_key_get_public (key);
  GBytes *public = notary_key_get_public (pub);
  g_autoptr (GString) sql = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (public, &len);

  sql = sql_begin (self,
                   "INSERT INTO " TABLE
                   " (created_at, updated_at, deleted_at, key_id, encryption_alg, keywrap_alg, "
                   "algorithm, passphrase_alias, public, private, gun, role) VALUES (NOW(), NOW(), NULL, ",
                   error);
  if (sql == NULL)
    return FALSE;
  append_quoted (self, sql, notary_key_get_id (pub));
  g_string_append (sql, ", '" NOTARY_JWE_ENCRYPTION_ALG "', '" NOTARY_JWE_KEYWRAP_ALG "', ");
  append_quoted (self, sql, notary_key_get_keytype (pub));
  g_string_append (sql, ", ");
  append_quoted (self, sql, self->default_alias);
  g_string_append (sql, ", ");
  append_blob (sql, data, len);
  g_string_append (sql, ", ");
  append_quoted (self, sql, jwe);
  g_string_append (sql, ", ");
  append_quoted (self, sql, gun);
  g_string_append (sql, ", ");
  append_quoted (self, sql, role);
  g_string_append (sql, ")");
  /* No retry: an INSERT that may have reached the server is not resent. */
  if (!conn_exec (self, sql->str, NULL, NULL, FALSE, error))
    {
      g_prefix_error (error, "failed to add private key to database: %s: ", notary_key_get_id (pub));
      return FALSE;
    }
  return TRUE;
}

static NotaryKey *
mysql_create_key (NotarySignerKeyStore *store, const char *gun, const char *role, const char *algorithm,
                  GError **error)
{
  MysqlStore *self = (MysqlStore *)store;
  NotaryKey *pending = NULL;
  g_autoptr (NotaryPrivateKey) key = NULL;
  g_autoptr (GBytes) raw = NULL;
  g_autofree char *passphrase = NULL;
  g_autofree char *jwe = NULL;

  if (!find_pending (self, gun, role, algorithm, &pending, error))
    return NULL;
  if (pending != NULL)
    return pending;

  passphrase = notary_signer_passphrase_lookup (self->envp, self->default_alias, error);
  if (passphrase == NULL)
    return NULL;
  key = notary_private_key_generate (algorithm, error);
  if (key == NULL)
    return NULL;
  raw = notary_signer_key_to_raw (key, error);
  if (raw == NULL)
    return NULL;
  jwe = notary_jwe_encrypt (raw, passphrase, error);
  memset (passphrase, 0, strlen (passphrase));
  if (jwe == NULL)
    return NULL;
  if (!insert_key (self, key, gun, role, jwe, error))
    return NULL;
  notary_signer_key_cache_store (self->cache, notary_key_get_id (notary_private_key_get_public (key)), key,
                                 role, FALSE);
  return notary_key_ref (notary_private_key_get_public (key));
}

static void
rollback (MysqlStore *self)
{
  if (self->conn != NULL && mysql_real_query (self->conn, "ROLLBACK", 8) != 0)
    conn_close (self);
}

/* Replaces the pending row of @key_id by the same row with last_used set
 * (see the file comment).  \return TRUE when the row is (now) used or
 * gone. */
static gboolean
replace_as_used (MysqlStore *self, const char *key_id, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->db_lock);
  g_autoptr (GString) sel = NULL;
  g_autoptr (GString) ins = NULL;
  g_autoptr (MYSQL_RES) res = NULL;
  g_autofree char *quoted_id = NULL;
  guint64 deleted = 0;
  MYSQL_ROW row;

  if (!conn_exec (self, "START TRANSACTION", NULL, NULL, TRUE, error))
    return FALSE;
  sel = g_string_new (NULL);
  append_quoted (self, sel, key_id);
  quoted_id = g_strdup (sel->str);
  g_string_printf (
      sel,
      "SELECT created_at, encryption_alg, keywrap_alg, algorithm, passphrase_alias, HEX(public), "
      "HEX(private), gun, role FROM " TABLE
      " WHERE deleted_at IS NULL AND last_used IS NULL AND key_id = %s FOR UPDATE",
      quoted_id);
  if (!conn_exec (self, sel->str, &res, NULL, FALSE, error))
    {
      rollback (self);
      return FALSE;
    }
  row = res != NULL ? mysql_fetch_row (res) : NULL;
  if (row == NULL)
    {
      /* Already used (another signer marked it) or deleted. */
      rollback (self);
      return TRUE;
    }

  ins = g_string_new (
      "INSERT INTO " TABLE " (created_at, updated_at, deleted_at, key_id, encryption_alg, "
      "keywrap_alg, algorithm, passphrase_alias, public, private, gun, role, last_used) VALUES (");
  if (row[0] != NULL)
    append_quoted (self, ins, row[0]);
  else
    g_string_append (ins, "NULL");
  g_string_append_printf (ins, ", NOW(), NULL, %s", quoted_id);
  for (int i = 1; i <= 4; i++)
    {
      g_string_append (ins, ", ");
      append_quoted (self, ins, row[i]);
    }
  g_string_append_printf (ins, ", X'%s', X'%s', ", row[5], row[6]);
  append_quoted (self, ins, row[7]);
  g_string_append (ins, ", ");
  append_quoted (self, ins, row[8]);
  g_string_append (ins, ", NOW())");

  g_string_printf (
      sel, "DELETE FROM " TABLE " WHERE deleted_at IS NULL AND last_used IS NULL AND key_id = %s", quoted_id);
  if (!conn_exec (self, sel->str, NULL, &deleted, FALSE, error) || deleted != 1
      || !conn_exec (self, ins->str, NULL, NULL, FALSE, error)
      || !conn_exec (self, "COMMIT", NULL, NULL, FALSE, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED,
                     "key %s: locked row vanished while marking it used", key_id);
      rollback (self);
      return FALSE;
    }
  return TRUE;
}

static void
mysql_mark_used (NotarySignerKeyStore *store, const char *key_id)
{
  MysqlStore *self = (MysqlStore *)store;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryPrivateKey) key = NULL;
  gboolean used = FALSE;

  key = notary_signer_key_cache_lookup (self->cache, key_id, NULL, &used);
  if (key != NULL && used)
    return;
  if (!replace_as_used (self, key_id, &error))
    {
      /* As in the reference, the signature stands; the next one retries. */
      notary_log (NOTARY_LOG_ERROR, "failed to mark key as used", "keyID", key_id, "error", error->message,
                  NULL);
      return;
    }
  notary_signer_key_cache_set_used (self->cache, key_id);
}

static gboolean
mysql_delete_key (NotarySignerKeyStore *store, const char *key_id, GError **error)
{
  MysqlStore *self = (MysqlStore *)store;
  g_autoptr (GString) sql = NULL;

  notary_signer_key_cache_remove (self->cache, key_id);

  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->db_lock);
  /* A real DELETE (the reference soft-deletes with UPDATE): the
   * reference reads a missing row as "not found" all the same. */
  sql = sql_begin (self, "DELETE FROM " TABLE " WHERE key_id = ", error);
  if (sql == NULL)
    return FALSE;
  append_quoted (self, sql, key_id);
  return conn_exec (self, sql->str, NULL, NULL, TRUE, error);
}

static gboolean
mysql_check_health (NotarySignerKeyStore *store, GError **error)
{
  MysqlStore *self = (MysqlStore *)store;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->db_lock);
  g_autoptr (MYSQL_RES) res = NULL;
  g_autoptr (GError) local = NULL;

  if (conn_exec (self, "SELECT 1 FROM " TABLE " LIMIT 1", &res, NULL, TRUE, &local))
    return TRUE;
  if (g_error_matches (local, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED))
    {
      /* Reachable but the table is missing or not ours to read. */
      g_set_error (error, NOTARY_KEYSTORE_ERROR, NOTARY_KEYSTORE_ERROR_FAILED, "cannot access table: %s",
                   TABLE);
      return FALSE;
    }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static void
mysql_free (NotarySignerKeyStore *store)
{
  MysqlStore *self = (MysqlStore *)store;
  conn_close (self);
  notary_signer_key_cache_free (self->cache);
  g_mutex_clear (&self->db_lock);
  notary_mysql_dsn_free (self->dsn);
  g_free (self->where);
  g_free (self->default_alias);
  g_strfreev (self->envp);
  g_free (self);
}

static const NotarySignerKeyStoreClass mysql_class = {
  .name = "mysql",
  .create_key = mysql_create_key,
  .get_key = mysql_get_key,
  .mark_used = mysql_mark_used,
  .delete_key = mysql_delete_key,
  .check_health = mysql_check_health,
  .free = mysql_free,
};

NotarySignerKeyStore *
notary_signer_mysql_store_new (const char *db_url, const char *default_alias, guint key_cache_size,
                               char **envp, GError **error)
{
  g_autoptr (NotaryMysqlDsn) dsn = notary_mysql_dsn_parse (db_url, error);
  MysqlStore *self;
  g_autoptr (GError) local = NULL;

  if (dsn == NULL)
    return NULL;
  self = g_new0 (MysqlStore, 1);
  self->parent.klass = &mysql_class;
  self->where = notary_mysql_dsn_describe (dsn);
  self->dsn = g_steal_pointer (&dsn);
  self->default_alias = g_strdup (default_alias);
  self->envp = g_strdupv (envp);
  g_mutex_init (&self->db_lock);
  self->cache = notary_signer_key_cache_new (key_cache_size);

  /* Connect now, as the reference does, so a bad URL fails at start-up. */
  if (!conn_dial (self, error))
    {
      mysql_free (&self->parent);
      return NULL;
    }
  return &self->parent;
}
