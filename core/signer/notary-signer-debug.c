/* notary-signer-debug.c — see the header.
 *
 * The reference starts this server before it even reads its config, so
 * the store is attached later (notary_signer_debug_watch_store).  The
 * periodic check runs on the main loop: it is one short query bounded by
 * the connection's timeouts, and only the debug server and signal
 * handling share that loop (the gRPC threads are not held up by it).
 */
#include "notary-signer-debug.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <malloc.h>
#include <string.h>

#define DB_CHECK_NAME "DB operational"

struct _NotarySignerDebug
{
  SoupServer *server;
  char **argv;
  NotarySignerKeyStore *store;
  GSource *check_source; /* on the thread-default context of watch_store */
  char *db_error;        /* last check's failure, NULL when fine or not yet run */
};

NotarySignerDebug *
notary_signer_debug_new (char **argv)
{
  NotarySignerDebug *debug = g_new0 (NotarySignerDebug, 1);
  debug->argv = g_strdupv (argv);
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
  if (debug->server != NULL)
    {
      soup_server_disconnect (debug->server);
      g_object_unref (debug->server);
    }
  g_strfreev (debug->argv);
  g_free (debug->db_error);
  g_free (debug);
}

/* ---- health ------------------------------------------------------------- */

static gboolean
run_db_check (gpointer data)
{
  NotarySignerDebug *debug = data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&debug->db_error, g_free);
  if (!debug->store->klass->check_health (debug->store, &error))
    debug->db_error = g_strdup (error->message);
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
  if (debug->db_error != NULL)
    {
      json_builder_set_member_name (b, DB_CHECK_NAME);
      json_builder_add_string_value (b, debug->db_error);
    }
  json_builder_end_object (b);
  *out_ok = debug->db_error == NULL;
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

static void
reply (SoupServerMessage *msg, guint status, const char *type, char *body /* transfer full */)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
not_found (SoupServerMessage *msg)
{
  /* net/http's NotFound. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "X-Content-Type-Options",
                                "nosniff");
  reply (msg, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8", g_strdup ("404 page not found\n"));
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  NotarySignerDebug *debug = data;
  const char *method = soup_server_message_get_method (msg);

  if (g_str_equal (path, "/debug/health") && g_str_equal (method, "GET"))
    {
      gboolean ok = TRUE;
      char *body = notary_signer_debug_health_json (debug, &ok);
      reply (msg, ok ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, "application/json; charset=utf-8",
             body);
    }
  else if (g_str_equal (path, "/debug/vars") && (g_str_equal (method, "GET") || g_str_equal (method, "HEAD")))
    reply (msg, SOUP_STATUS_OK, "application/json; charset=utf-8", vars_json (debug));
  else
    not_found (msg);
}

gboolean
notary_signer_debug_listen (NotarySignerDebug *debug, guint16 port, GError **error)
{
  g_return_val_if_fail (debug->server == NULL, FALSE);

  debug->server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (debug->server, NULL, handle, debug, NULL);
  /* Go resolves localhost to 127.0.0.1 and binds that alone. */
  if (!soup_server_listen_local (debug->server, port, SOUP_SERVER_LISTEN_IPV4_ONLY, error))
    {
      g_clear_object (&debug->server);
      return FALSE;
    }
  return TRUE;
}

guint16
notary_signer_debug_get_port (NotarySignerDebug *debug)
{
  GSList *uris;
  guint16 port = 0;

  if (debug->server == NULL)
    return 0;
  uris = soup_server_get_uris (debug->server);
  if (uris != NULL)
    port = (guint16)g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  return port;
}
