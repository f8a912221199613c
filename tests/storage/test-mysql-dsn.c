/* test-mysql-dsn.c — go-sql-driver DSN parsing of the mysql backend. */
#include <notary/storage-backend.h>
#include <string.h>

#include "storage-mysql-dsn.h"

static NotaryMysqlDsn *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  NotaryMysqlDsn *dsn = notary_mysql_dsn_parse (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (dsn);
  return dsn;
}

static void
test_reference_fixture (void)
{
  g_autoptr (NotaryMysqlDsn) dsn = parse_ok ("server@tcp(mysql:3306)/notaryserver?parseTime=True");
  g_autofree char *desc = notary_mysql_dsn_describe (dsn);

  g_assert_cmpstr (dsn->user, ==, "server");
  g_assert_null (dsn->password);
  g_assert_false (dsn->unix_socket);
  g_assert_cmpstr (dsn->host, ==, "mysql");
  g_assert_cmpuint (dsn->port, ==, 3306);
  g_assert_cmpstr (dsn->dbname, ==, "notaryserver");
  g_assert_cmpuint (dsn->session_vars->len, ==, 0);
  g_assert_cmpstr (desc, ==, "server@tcp(mysql:3306)/notaryserver");
}

static void
test_password_and_params (void)
{
  /* The password may hold ':', '@' and '/'; the last '@' ends it. */
  g_autoptr (NotaryMysqlDsn) dsn
      = parse_ok ("u:p:a@s/s@tcp([::1]:3307)/db%2Dx?timeout=1500ms&readTimeout=1m&writeTimeout=3s"
                  "&charset=utf8mb4,utf8&tls=skip-verify&loc=UTC&allowNativePasswords=true"
                  "&sql_mode=%27STRICT_ALL_TABLES%27");
  g_autofree char *desc = notary_mysql_dsn_describe (dsn);

  g_assert_cmpstr (dsn->user, ==, "u");
  g_assert_cmpstr (dsn->password, ==, "p:a@s/s");
  g_assert_cmpstr (dsn->host, ==, "::1");
  g_assert_cmpuint (dsn->port, ==, 3307);
  g_assert_cmpstr (dsn->dbname, ==, "db-x");
  g_assert_cmpuint (dsn->connect_timeout_ms, ==, 1500);
  g_assert_cmpuint (dsn->read_timeout_ms, ==, 60000);
  g_assert_cmpuint (dsn->write_timeout_ms, ==, 3000);
  g_assert_cmpstr (dsn->charset, ==, "utf8mb4");
  g_assert_cmpint (dsn->tls, ==, NOTARY_MYSQL_TLS_SKIP_VERIFY);
  g_assert_cmpuint (dsn->session_vars->len, ==, 1);
  g_assert_cmpstr (dsn->session_vars->pdata[0], ==, "sql_mode='STRICT_ALL_TABLES'");
  g_assert_null (strstr (desc, "p:a@s"));
  g_assert_cmpstr (desc, ==, "u:***@tcp([::1]:3307)/db-x");
}

static void
test_defaults_and_unix (void)
{
  g_autoptr (NotaryMysqlDsn) a = parse_ok ("user@/notaryserver");
  g_autoptr (NotaryMysqlDsn) b = parse_ok ("/db");
  g_autoptr (NotaryMysqlDsn) c = parse_ok ("server@unix(/run/x/mysqld.sock)/notaryserver");
  g_autoptr (NotaryMysqlDsn) d = parse_ok ("server@tcp(db.example)/n");
  g_autoptr (NotaryMysqlDsn) e = parse_ok ("server@unix/n");

  g_assert_cmpstr (a->host, ==, "127.0.0.1");
  g_assert_cmpuint (a->port, ==, 3306);
  g_assert_cmpstr (a->user, ==, "user");
  g_assert_cmpstr (b->user, ==, "");
  g_assert_cmpstr (b->dbname, ==, "db");
  g_assert_true (c->unix_socket);
  g_assert_cmpstr (c->socket, ==, "/run/x/mysqld.sock");
  g_assert_cmpstr (c->dbname, ==, "notaryserver");
  g_assert_cmpstr (d->host, ==, "db.example");
  g_assert_cmpuint (d->port, ==, 3306);
  g_assert_true (e->unix_socket);
  g_assert_null (e->socket);
}

static void
test_malformed (void)
{
  static const struct
  {
    const char *dsn;
    const char *mentions;
  } cases[] = {
    { "", "empty" },
    { "user:hunter2@tcp(127.0.0.1:3306)", "'/'" },
    { "user:hunter2@tcp(127.0.0.1:99999)/db", "99999" },
    { "user:hunter2@tcp(127.0.0.1:)/db", "port" },
    { "user:hunter2@tcp(127.0.0.1/db", ")" },
    { "user:hunter2@udp(127.0.0.1)/db", "udp" },
    { "user:hunter2@tcp(::1)/db", "[addr]" },
    { "user:hunter2@tcp([::1)/db", "]" },
    { "user:hunter2@tcp(:3306)/db", "empty host" },
    { "user:hunter2@tcp(h)/db?x", "'x'" },
    { "user:hunter2@tcp(h)/db?timeout=5", "timeout" },
    { "user:hunter2@tcp(h)/db?readTimeout=abc", "readTimeout" },
    { "user:hunter2@tcp(h)/db?parseTime=maybe", "parseTime" },
    { "user:hunter2@tcp(h)/db?tls=mycustom", "tls" },
    { "user:hunter2@tcp(h)/db?bad-name=1", "bad-name" },
    { "user:hunter2@tcp(h)/db?time_zone=%zz", "time_zone" },
    { "user:hunter2@tcp(h)/db?sql_mode=a%3Bdrop", "sql_mode" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      NotaryMysqlDsn *dsn = notary_mysql_dsn_parse (cases[i].dsn, &error);
      g_test_message ("'%s' -> %s", cases[i].dsn, error ? error->message : "(parsed)");
      g_assert_null (dsn);
      g_assert_error (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_FAILED);
      g_assert_true (g_str_has_prefix (error->message, "failed to parse the database source for mysql"));
      g_assert_nonnull (strstr (error->message, cases[i].mentions));
      g_assert_null (strstr (error->message, "hunter2"));
    }
}

static void
test_durations (void)
{
  static const struct
  {
    const char *text;
    gboolean bare_seconds;
    gboolean ok;
    guint ms;
  } cases[] = {
    { "5s", FALSE, TRUE, 5000 },   { "500ms", FALSE, TRUE, 500 },  { "1m30s", FALSE, TRUE, 90000 },
    { "1.5s", FALSE, TRUE, 1500 }, { "2h", FALSE, TRUE, 7200000 }, { "0", FALSE, TRUE, 0 },
    { "5", FALSE, FALSE, 0 },      { "5", TRUE, TRUE, 5000 },      { "2.5", TRUE, TRUE, 2500 },
    { "", TRUE, FALSE, 0 },        { "-1s", FALSE, FALSE, 0 },     { "5x", FALSE, FALSE, 0 },
    { "-3", TRUE, FALSE, 0 },      { "10us", FALSE, TRUE, 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint ms = 12345;
      gboolean ok = notary_mysql_parse_duration_ms (cases[i].text, cases[i].bare_seconds, &ms);
      g_test_message ("'%s' bare=%d", cases[i].text, cases[i].bare_seconds);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (ok)
        g_assert_cmpuint (ms, ==, cases[i].ms);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mysql-dsn/reference-fixture", test_reference_fixture);
  g_test_add_func ("/mysql-dsn/password-and-params", test_password_and_params);
  g_test_add_func ("/mysql-dsn/defaults-and-unix", test_defaults_and_unix);
  g_test_add_func ("/mysql-dsn/malformed", test_malformed);
  g_test_add_func ("/mysql-dsn/durations", test_durations);
  return g_test_run ();
}
