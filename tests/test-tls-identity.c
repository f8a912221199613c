/* test-tls-identity.c — core/notary-tls-identity.c: the server's TLS files
 * load as PEM text, checked with GnuTLS, and every way they can be wrong
 * is an error naming the problem (never a silent plain-HTTP fallback). */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "notary-tls-identity.h"

static char *
fixture (const char *name)
{
  return g_build_filename (g_getenv ("NOTARY_SOURCE_ROOT"), "fixtures", name, NULL);
}

/* Writes @text to a file in a new temporary directory.  \return its path;
 * remove both with remove_temp_file(). */
static char *
write_temp_file (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tls-identity-XXXXXX", &error);
  char *path;

  g_assert_no_error (error);
  path = g_build_filename (dir, "file.pem", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
  return path;
}

static void
remove_temp_file (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_load (void)
{
  g_autofree char *crt = fixture ("notary-server.crt");
  g_autofree char *key = fixture ("notary-server.key");
  g_autofree char *crt_text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryTlsIdentity) id = notary_tls_identity_load (crt, key, &error);
  NotaryTlsIdentity *again;

  g_assert_no_error (error);
  g_assert_nonnull (id);
  /* the file's text as is: leaf and intermediate, so clients get the chain */
  g_assert_true (g_file_get_contents (crt, &crt_text, NULL, NULL));
  g_assert_cmpstr (notary_tls_identity_get_chain_pem (id), ==, crt_text);
  g_assert_nonnull (strstr (notary_tls_identity_get_key_pem (id), "PRIVATE KEY-----"));
  again = notary_tls_identity_ref (id);
  g_assert_true (again == id);
  notary_tls_identity_unref (again);
  g_assert_cmpstr (notary_tls_identity_get_chain_pem (id), ==, crt_text);
}

/* Loading @crt and @key must fail with @domain/@code, the message naming
 * @in_message. */
static void
expect_load_fails (const char *crt, const char *key, GQuark domain, gint code, const char *in_message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryTlsIdentity) id = notary_tls_identity_load (crt, key, &error);

  g_assert_null (id);
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, in_message));
}

static void
test_key_mismatch (void)
{
  g_autofree char *crt = fixture ("notary-server.crt");
  g_autofree char *key = fixture ("notary-signer.key");

  expect_load_fails (crt, key, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "certificate and key");
}

static void
test_missing_file (void)
{
  g_autofree char *crt = fixture ("notary-server.crt");

  expect_load_fails (crt, "/nonexistent/server.key", G_FILE_ERROR, G_FILE_ERROR_NOENT, "/nonexistent/server.key");
}

static void
test_not_pem (void)
{
  g_autofree char *key = fixture ("notary-server.key");
  g_autofree char *junk = write_temp_file ("not a certificate\n");

  expect_load_fails (junk, key, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "certificate and key");
  remove_temp_file (junk);
}

static void
test_ca_bundle (void)
{
  g_autofree char *ca = fixture ("root-ca.crt");
  g_autofree char *empty = write_temp_file ("# no certificates here\n");
  g_autoptr (GError) error = NULL;
  g_autofree char *pem = notary_tls_read_ca_bundle (ca, &error);
  g_autofree char *none = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (strstr (pem, "BEGIN CERTIFICATE"));

  none = notary_tls_read_ca_bundle (empty, &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, empty));
  g_clear_error (&error);

  g_assert_null (notary_tls_read_ca_bundle ("/nonexistent/ca.crt", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  remove_temp_file (empty);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls-identity/load", test_load);
  g_test_add_func ("/tls-identity/key-mismatch", test_key_mismatch);
  g_test_add_func ("/tls-identity/missing-file", test_missing_file);
  g_test_add_func ("/tls-identity/not-pem", test_not_pem);
  g_test_add_func ("/tls-identity/ca-bundle", test_ca_bundle);
  return g_test_run ();
}
