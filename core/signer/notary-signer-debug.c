/* notary-signer-debug.c — see the header.
 *
 * The reference starts this server before it even reads its config, so
 * the store is attached later (notary_signer_debug_watch_store).  The
 * periodic check runs on the main loop: it is one short query bounded by
 * the connection's timeouts, and only signal handling shares that loop
 * (the gRPC threads are not held up by it).
 *
 * libmicrohttpd serves the requests from a thread of its own, as it does
 * the server's debug listener; the check's result crosses threads under
 * a lock.  Not libsoup: it alone would pull krb5, sqlite, psl and brotli
 * into every signer (14 more shared objects: ~2.8 ms of each start-up,
 * with or without -debug).
 */
#include "notary-signer-debug.h"

#include <arpa/inet.h>
#include <json-glib/json-glib.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

#include "notary-listen.h"

#define DB_CHECK_NAME "DB operational"

struct _NotarySignerDebug
{
  struct MHD_Daemon *server;
  guint16 port;
  char **argv;
  NotarySignerKeyStore *store;
  GSource *check_source; /* on the thread-default context of watch_store */
  GMutex lock;           /* db_error: written by the check, read by requests */
  char *db_error;        /* last check's failure, NULL when fine or not yet run */
};

NotarySignerDebug *
notary_signer_debug_new (char **argv)
{
  NotarySignerDebug *debug = g_new0 (NotarySignerDebug, 1);
  debug->argv = g_strdupv (argv);
  g_mutex_init (&debug->lock);
  return debug;
}

void
notary_signer_debug_free (NotarySignerDebug *debug)
{
  if (debug == NULL)
    return;
  if (debug->check_source != NULL)
    {
      g_source_destroy (debug->check_source);
      g_source_unref (debug->check_source);
    }
  /* Joins the request thread before anything it reads is freed. */
  g_clear_pointer (&debug->server, MHD_stop_daemon);
  g_strfreev (debug->argv);
  g_free (debug->db_error);
  g_mutex_clear (&debug->lock);
  g_free (debug);
}

/* ---- health ------------------------------------------------------------- */

static gboolean
run_db_check (gpointer data)
{
  NotarySignerDebug *debug = data;
  g_autoptr (GError) error = NULL;
  char *failure = NULL;

  /* The query runs unlocked: a request never waits on the database. */
  if (!debug->store->klass->check_health (debug->store, &error))
    failure = g_strdup (error->message);
  g_mutex_lock (&debug->lock);
  g_free (debug->db_error);
  debug->db_error = failure;
  g_mutex_unlock (&debug->lock);
  return G_SOURCE_CONTINUE;
}

void
notary_signer_debug_watch_store (NotarySignerDebug *debug, NotarySignerKeyStore *store, guint interval_ms)
{
  if (store == NULL || store->klass->check_health == NULL)
    return;
  debug->store = store;
  debug->check_source = g_timeout_source_new (interval_ms);
  g_source_set_callback (debug->check_source, run_db_check, debug, NULL);
  g_source_attach (debug->check_source, g_main_context_get_thread_default ());
}

char *
notary_signer_debug_health_json (NotarySignerDebug *debug, gboolean *out_ok)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  g_mutex_lock (&debug->lock);
  if (debug->db_error != NULL)
    {
      json_builder_set_member_name (b, DB_CHECK_NAME);
      json_builder_add_string_value (b, debug->db_error);
    }
  *out_ok = debug->db_error == NULL;
  g_mutex_unlock (&debug->lock);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* ---- vars --------------------------------------------------------------- */

static char *
vars_json (NotarySignerDebug *debug)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  struct mallinfo2 mi = mallinfo2 ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cmdline");
  json_builder_begin_array (b);
  for (char **a = debug->argv; a != NULL && *a != NULL; a++)
    json_builder_add_string_value (b, *a);
  json_builder_end_array (b);
  /* Go's runtime.MemStats names, filled from the C heap's view. */
  json_builder_set_member_name (b, "memstats");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Alloc");
  json_builder_add_int_value (b, (gint64)(mi.uordblks + mi.hblkhd));
  json_builder_set_member_name (b, "HeapAlloc");
  json_builder_add_int_value (b, (gint64)(mi.uordblks + mi.hblkhd));
  json_builder_set_member_name (b, "HeapIdle");
  json_builder_add_int_value (b, (gint64)mi.fordblks);
  json_builder_set_member_name (b, "HeapSys");
  json_builder_add_int_value (b, (gint64)(mi.arena + mi.hblkhd));
  json_builder_set_member_name (b, "Sys");
  json_builder_add_int_value (b, (gint64)(mi.arena + mi.hblkhd));
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* ---- HTTP --------------------------------------------------------------- */

static enum MHD_Result
reply (struct MHD_Connection *conn, guint status, const char *type, char *body /* transfer full */)
{
  struct MHD_Response *resp
      = MHD_create_response_from_buffer_with_free_callback (strlen (body), body, g_free);
  enum MHD_Result ok;

  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (status == MHD_HTTP_NOT_FOUND)
    MHD_add_response_header (resp, "X-Content-Type-Options", "nosniff"); /* net/http's NotFound */
  ok = MHD_queue_response (conn, status, resp);
  MHD_destroy_response (resp);
  return ok;
}

static enum MHD_Result
handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
        const char *upload_data, size_t *upload_data_size, void **req_cls)
{
  NotarySignerDebug *debug = cls;

  if (*req_cls == NULL)
    {
      /* First call: headers only; answer once the body (if any) is in.
       * Any non-NULL value marks the later calls. */
      *req_cls = debug;
      return MHD_YES;
    }
  if (*upload_data_size > 0)
    {
      *upload_data_size = 0; /* no endpoint takes a body */
      return MHD_YES;
    }
  if (g_str_equal (url, "/debug/health") && g_str_equal (method, "GET"))
    {
      gboolean ok = TRUE;
      char *body = notary_signer_debug_health_json (debug, &ok);
      return reply (conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json; charset=utf-8",
                    body);
    }
  if (g_str_equal (url, "/debug/vars") && (g_str_equal (method, "GET") || g_str_equal (method, "HEAD")))
    return reply (conn, MHD_HTTP_OK, "application/json; charset=utf-8", vars_json (debug));
  return reply (conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", g_strdup ("404 page not found\n"));
}

gboolean
notary_signer_debug_listen (NotarySignerDebug *debug, guint16 port, GError **error)
{
  NotaryListenAddr addr = { .len = sizeof (struct sockaddr_in) };
  struct sockaddr_in *sin = (struct sockaddr_in *) &addr.ss;
  int fd;

  g_return_val_if_fail (debug->server == NULL, FALSE);

  /* Go resolves localhost to 127.0.0.1 and binds that alone. */
  sin->sin_family = AF_INET;
  sin->sin_port = htons (port);
  sin->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fd = notary_listen_bind (&addr, FALSE, error);
  if (fd < 0)
    return FALSE;
  debug->port = notary_listen_socket_port (fd);
  /* MHD owns the socket from here on; its failure paths close it (most
   * of them), so it is not closed here again. */
  debug->server = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, handle, debug,
                                    MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd, MHD_OPTION_END);
  if (debug->server == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the debug HTTP server");
      return FALSE;
    }
  return TRUE;
}

guint16
notary_signer_debug_get_port (NotarySignerDebug *debug)
{
  return debug->server != NULL ? debug->port : 0;
}
