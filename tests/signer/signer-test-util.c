/* signer-test-util.c — see signer-test-util.h. */
#include "signer-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
run_certtool (const char *dir, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  gint status = 0;

  g_ptr_array_add (argv, (gpointer) "certtool");
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (dir, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("certtool failed: %s", err);
}

static void
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

/* CA @name (self-signed) with an ECDSA key: fast to make. */
static void
make_ca (const char *dir, const char *name, const char *cn)
{
  g_autofree char *tmpl = g_strdup_printf ("%s.tmpl", name);
  g_autofree char *key = g_strdup_printf ("%s.key", name);
  g_autofree char *crt = g_strdup_printf ("%s.crt", name);
  g_autofree char *text = g_strdup_printf ("cn = \"%s\"\nexpiration_days = 30\nca\ncert_signing_key\n", cn);
  write_file (dir, tmpl, text);
  run_certtool (dir, (const char *[]){ "--generate-privkey", "--key-type=ecdsa", "--outfile", key, NULL });
  run_certtool (dir, (const char *[]){ "--generate-self-signed", "--load-privkey", key, "--template", tmpl,
                                       "--outfile", crt, NULL });
}

static void
make_leaf (const char *dir, const char *name, const char *cn, const char *ca)
{
  g_autofree char *tmpl = g_strdup_printf ("%s.tmpl", name);
  g_autofree char *key = g_strdup_printf ("%s.key", name);
  g_autofree char *crt = g_strdup_printf ("%s.crt", name);
  g_autofree char *ca_key = g_strdup_printf ("%s.key", ca);
  g_autofree char *ca_crt = g_strdup_printf ("%s.crt", ca);
  g_autofree char *text = g_strdup_printf ("cn = \"%s\"\nexpiration_days = 30\ndns_name = \"localhost\"\n"
                                           "ip_address = \"127.0.0.1\"\ntls_www_server\ntls_www_client\n"
                                           "signing_key\nencryption_key\n",
                                           cn);
  write_file (dir, tmpl, text);
  run_certtool (dir, (const char *[]){ "--generate-privkey", "--key-type=ecdsa", "--outfile", key, NULL });
  run_certtool (dir, (const char *[]){ "--generate-certificate", "--load-privkey", key, "--load-ca-privkey",
                                       ca_key, "--load-ca-certificate", ca_crt, "--template", tmpl, "--outfile",
                                       crt, NULL });
}

SignerTestPki *
signer_test_pki_new (void)
{
  SignerTestPki *pki = g_new0 (SignerTestPki, 1);
  g_autoptr (GError) error = NULL;
  const char *src = g_getenv ("NOTARY_SOURCE_ROOT");
  g_autofree char *fixtures = g_build_filename (src != NULL ? src : ".", "fixtures", NULL);
  g_autofree char *fx_signer = g_build_filename (fixtures, "notary-signer.crt", NULL);
  g_autofree char *fx_server_key = g_build_filename (fixtures, "notary-server.key", NULL);
  g_autofree char *fx_root = g_build_filename (fixtures, "root-ca.crt", NULL);

  pki->dir = g_dir_make_tmp ("notary-signer-test-XXXXXX", &error);
  g_assert_no_error (error);

  if (g_file_test (fx_signer, G_FILE_TEST_EXISTS) && g_file_test (fx_server_key, G_FILE_TEST_EXISTS)
      && g_file_test (fx_root, G_FILE_TEST_EXISTS))
    {
      pki->root_ca = g_steal_pointer (&fx_root);
      pki->signer_crt = g_steal_pointer (&fx_signer);
      pki->signer_key = g_build_filename (fixtures, "notary-signer.key", NULL);
      pki->client_crt = g_build_filename (fixtures, "notary-server.crt", NULL);
      pki->client_key = g_steal_pointer (&fx_server_key);
    }
  else
    {
      make_ca (pki->dir, "root", "Test Root CA");
      make_leaf (pki->dir, "signer", "notary-signer", "root");
      make_leaf (pki->dir, "server", "notary-server", "root");
      pki->root_ca = g_build_filename (pki->dir, "root.crt", NULL);
      pki->signer_crt = g_build_filename (pki->dir, "signer.crt", NULL);
      pki->signer_key = g_build_filename (pki->dir, "signer.key", NULL);
      pki->client_crt = g_build_filename (pki->dir, "server.crt", NULL);
      pki->client_key = g_build_filename (pki->dir, "server.key", NULL);
    }
  make_ca (pki->dir, "other-ca", "Unrelated CA");
  make_leaf (pki->dir, "other", "notary-server", "other-ca");
  pki->other_crt = g_build_filename (pki->dir, "other.crt", NULL);
  pki->other_key = g_build_filename (pki->dir, "other.key", NULL);
  return pki;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);
        rm_rf (child);
      }
  g_remove (path);
}

void
signer_test_pki_free (SignerTestPki *pki)
{
  if (pki == NULL)
    return;
  rm_rf (pki->dir);
  g_free (pki->dir);
  g_free (pki->root_ca);
  g_free (pki->signer_crt);
  g_free (pki->signer_key);
  g_free (pki->client_crt);
  g_free (pki->client_key);
  g_free (pki->other_crt);
  g_free (pki->other_key);
  g_free (pki);
}

guint16
signer_test_free_port (void)
{
  struct sockaddr_in sa = { 0 };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sa, &len), ==, 0);
  port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

gboolean
signer_test_wait_port (guint16 port, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      struct sockaddr_in sa = { 0 };
      int fd = socket (AF_INET, SOCK_STREAM, 0);
      int r;
      sa.sin_family = AF_INET;
      sa.sin_port = htons (port);
      sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      r = connect (fd, (struct sockaddr *) &sa, sizeof sa);
      close (fd);
      if (r == 0)
        return TRUE;
      g_usleep (50 * 1000);
    }
  return FALSE;
}

char *
signer_test_write_signer_config (SignerTestPki *pki, const char *name, guint16 port, gboolean require_client_cert)
{
  g_autofree char *text = NULL;
  char *path = g_build_filename (pki->dir, name, NULL);
  g_autoptr (GError) error = NULL;

  text = g_strdup_printf ("{\n"
                          "  \"server\": {\n"
                          "    \"grpc_addr\": \"127.0.0.1:%u\",\n"
                          "    \"tls_cert_file\": \"%s\",\n"
                          "    \"tls_key_file\": \"%s\"%s%s%s\n"
                          "  },\n"
                          "  \"logging\": { \"level\": \"debug\" },\n"
                          "  \"storage\": { \"backend\": \"memory\" }\n"
                          "}\n",
                          port, pki->signer_crt, pki->signer_key,
                          require_client_cert ? ",\n    \"client_ca_file\": \"" : "",
                          require_client_cert ? pki->client_crt : "", require_client_cert ? "\"" : "");
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

GSubprocess *
signer_test_spawn (const char *binary, const char *config, guint16 port, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                                         | (g_test_verbose ()
                                                                                ? G_SUBPROCESS_FLAGS_NONE
                                                                                : G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_autoptr (GSubprocess) proc = NULL;

  proc = g_subprocess_launcher_spawn (launcher, error, binary, "-config", config, NULL);
  if (proc == NULL)
    return NULL;
  if (!signer_test_wait_port (port, 10000))
    {
      signer_test_kill (proc);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s did not listen on port %u", binary, port);
      return NULL;
    }
  return g_steal_pointer (&proc);
}

void
signer_test_kill (GSubprocess *proc)
{
  if (proc == NULL)
    return;
  g_subprocess_send_signal (proc, SIGKILL);
  g_subprocess_wait (proc, NULL, NULL);
}

const NotarySignerVTable *
signer_test_load_remote (void)
{
  const char *dir = g_getenv ("NOTARY_PLUGIN_PATH");
  g_autofree char *path = NULL;
  GModule *module;
  NotaryPluginGetDescFunc get_desc = NULL;
  const NotaryPluginDesc *desc;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "signer-remote", "notary-signer-remote.so", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_free (path);
      path = g_build_filename (dir, "notary-signer-remote.so", NULL);
    }
  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    g_error ("cannot load %s: %s", path, g_module_error ());
  g_module_make_resident (module);
  g_assert_true (g_module_symbol (module, NOTARY_PLUGIN_ENTRY_SYMBOL, (gpointer *) &get_desc));
  desc = get_desc ();
  g_assert_cmpuint (desc->abi_major, ==, NOTARY_PLUGIN_ABI_MAJOR);
  g_assert_cmpstr (desc->build_signature, ==, NOTARY_PLUGIN_BUILD_SIGNATURE);
  g_assert_cmpint (desc->kind, ==, NOTARY_PLUGIN_KIND_SIGNER);
  g_assert_cmpstr (desc->name, ==, "remote");
  g_assert_nonnull (desc->vtable);
  g_assert_cmpuint (((const NotarySignerVTable *) desc->vtable)->version, >=, NOTARY_VERSION_SIGNER_VTABLE);
  return desc->vtable;
}

JsonObject *
signer_test_remote_options (SignerTestPki *pki, guint16 port, const char *algorithm)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "type", "remote");
  json_object_set_string_member (o, "hostname", "127.0.0.1");
  json_object_set_int_member (o, "port", port);
  json_object_set_string_member (o, "tls_ca_file", pki->root_ca);
  json_object_set_string_member (o, "tls_client_cert", pki->client_crt);
  json_object_set_string_member (o, "tls_client_key", pki->client_key);
  json_object_set_string_member (o, "key_algorithm", algorithm);
  return o;
}
