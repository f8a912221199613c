/* notary-http.c — routes, handlers and workers of notary-server.
 *
 * Routing follows server-api.md §2: the decoded path is cleaned (a change
 * answers 301), then matched against the routes in the reference's order;
 * a path that matches no route for its method ends in the catch-all (404
 * METADATA_NOT_FOUND for GET/POST/PUT/HEAD/DELETE, 405 otherwise).
 *
 * Nothing here knows how HTTP reaches us: a transport (notary-http-soup.c
 * or notary-http-mhd.c, see notary-http-private.h) hands each request over
 * as a NotaryHttpExchange and sends back what the handlers put in it.
 */
#include "notary-http.h"
#include "notary-http-errors.h"
#include "notary-http-private.h"
#include "notary-json.h"
#include "notary-log.h"
#include "notary-route.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

/* ---- metrics ------------------------------------------------------------ */

typedef enum
{
  OP_NONE,
  OP_UPDATE_TUF,
  OP_GET_ROLE_BY_HASH,
  OP_GET_ROLE_BY_VERSION,
  OP_GET_ROLE,
  OP_GET_KEY,
  OP_ROTATE_KEY,
  OP_DELETE_TUF,
  OP_CHANGEFEED,
  N_OPS
} Operation;

static const char *const op_names[N_OPS] = {
  "", "UpdateTUF", "GetRoleByHash", "GetRoleByVersion", "GetRole", "GetKey", "RotateKey", "DeleteTUF", "Changefeed",
};

static const guint status_slots[] = { 200, 301, 400, 401, 404, 405, 413, 500, 503 };
#define N_STATUS (G_N_ELEMENTS (status_slots) + 1)

typedef struct
{
  gint64 requests[N_OPS][N_STATUS];
  gint64 duration_us[N_OPS];
} Metrics;

static guint
status_slot (guint status)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_slots); i++)
    if (status_slots[i] == status)
      return i;
  return N_STATUS - 1;
}

/* ---- server ------------------------------------------------------------- */

struct _NotaryHttpServer
{
  NotaryHttpOptions opts;
  char **gun_prefixes;
  NotaryHttpTransport *transport;
  guint16 port;
  gboolean listening;
  Metrics metrics;

  /* Cache-Control values, formatted once: they only depend on the config. */
  char *cache_control_current;
  char *cache_control_consistent;

  /* Health is probed by a background thread every HEALTH_PERIOD; the
   * endpoint only reads the last result, so a probe that blocks (signer
   * down: up to its RPC deadline) never ties up an HTTP worker, and a flood
   * of health requests never reaches the backends. */
  GMutex health_lock;
  GCond health_cond;
  GThread *health_thread;
  gboolean health_stop;
  char *health_body;
  gboolean health_ok;
};

static char *
format_cache_control (gint64 max_age, gboolean current)
{
  return g_strdup_printf ("public, max-age=%" G_GINT64_FORMAT ", s-maxage=%" G_GINT64_FORMAT "%s", max_age, max_age,
                          current ? ", must-revalidate" : "");
}

NotaryHttpServer *
notary_http_server_new (const NotaryHttpOptions *options)
{
  NotaryHttpServer *srv = g_new0 (NotaryHttpServer, 1);

  srv->opts = *options;
  srv->gun_prefixes = g_strdupv ((char **) options->gun_prefixes);
  srv->opts.gun_prefixes = (const char *const *) srv->gun_prefixes;
  if (srv->opts.workers < 1)
    srv->opts.workers = 1;
  if (srv->opts.handlers < 1)
    srv->opts.handlers = srv->opts.workers;
  if (options->tls_identity)
    notary_tls_identity_ref (options->tls_identity);
  srv->opts.client_ca_file = g_strdup (options->client_ca_file);
  g_mutex_init (&srv->health_lock);
  g_cond_init (&srv->health_cond);
  srv->health_body = g_strdup ("{}");
  srv->health_ok = TRUE;
  srv->cache_control_current = format_cache_control (srv->opts.max_age_current, TRUE);
  srv->cache_control_consistent = format_cache_control (srv->opts.max_age_consistent, FALSE);

  srv->transport = _notary_http_transport_new (srv, &srv->opts);
  return srv;
}

void
notary_http_server_free (NotaryHttpServer *srv)
{
  if (srv == NULL)
    return;
  notary_http_server_stop (srv);
  g_clear_pointer (&srv->transport, _notary_http_transport_free);
  g_clear_pointer (&srv->opts.tls_identity, notary_tls_identity_unref);
  g_free ((char *) srv->opts.client_ca_file);
  g_strfreev (srv->gun_prefixes);
  g_free (srv->cache_control_current);
  g_free (srv->cache_control_consistent);
  g_free (srv->health_body);
  g_cond_clear (&srv->health_cond);
  g_mutex_clear (&srv->health_lock);
  g_free (srv);
}

/* ---- exchanges ---------------------------------------------------------- */

void
_notary_http_exchange_clear (NotaryHttpExchange *ex)
{
  g_clear_pointer (&ex->body, g_bytes_unref);
  g_clear_pointer (&ex->response_body, g_bytes_unref);
  g_clear_pointer (&ex->read, notary_repo_read_free);
  for (guint i = 0; i < ex->n_headers; i++)
    g_free (ex->headers[i].owned);
  ex->n_headers = 0;
}

static void
set_header (NotaryHttpExchange *ex, const char *name, const char *value, char *owned)
{
  NotaryHttpHeader *h = NULL;

  for (guint i = 0; i < ex->n_headers && h == NULL; i++)
    if (g_ascii_strcasecmp (ex->headers[i].name, name) == 0)
      h = &ex->headers[i];
  if (h == NULL)
    {
      /* The core sets at most six distinct headers on one response. */
      g_return_if_fail (ex->n_headers < NOTARY_HTTP_MAX_RESPONSE_HEADERS);
      h = &ex->headers[ex->n_headers++];
    }
  else
    g_free (h->owned);
  h->name = name;
  h->value = value;
  h->owned = owned;
}

void
_notary_http_exchange_set_header_take (NotaryHttpExchange *ex, const char *name, char *value)
{
  set_header (ex, name, value, value);
}

void
_notary_http_exchange_set_header_static (NotaryHttpExchange *ex, const char *name, const char *value)
{
  set_header (ex, name, value, NULL);
}

/* ---- responses ---------------------------------------------------------- */

typedef struct
{
  NotaryHttpServer *srv;
  NotaryHttpExchange *ex;
  const char *method;
  Operation op;
  char *gun;
  gint64 started_us;
  gboolean no_wait;  /* answer only what needs no backend call... */
  gboolean deferred; /* ...and this says one was needed: no answer */
} Request;

/* @content_type must be a static string. */
static void
respond_bytes (Request *req, guint status, const char *content_type, GBytes *body)
{
  req->ex->status = status;
  if (content_type != NULL)
    _notary_http_exchange_set_header_static (req->ex, "Content-Type", content_type);
  g_clear_pointer (&req->ex->response_body, g_bytes_unref);
  if (body != NULL && g_bytes_get_size (body) > 0)
    req->ex->response_body = g_bytes_ref (body);
}

static void
respond_empty (Request *req, guint status)
{
  /* Content-Length: 0 (the transport's) and no Content-Type, as the
   * reference. */
  req->ex->status = status;
  g_clear_pointer (&req->ex->response_body, g_bytes_unref);
}

static void
respond_error (Request *req, NotaryHttpErrorCode code, const char *detail_json)
{
  g_autoptr (GBytes) body = notary_http_error_body (code, detail_json);
  respond_bytes (req, notary_http_error_status (code), "application/json; charset=utf-8", body);
}

/* Map a failure from the repo to the reference's answer for a read. */
static void
respond_read_error (Request *req, GError *error)
{
  if (g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_NOT_FOUND))
    respond_error (req, NOTARY_HTTP_METADATA_NOT_FOUND, "{}");
  else if (g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_UNAVAILABLE)
           || g_error_matches (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE))
    {
      notary_log (NOTARY_LOG_ERROR, error->message, "gun", req->gun ? req->gun : "", NULL);
      respond_error (req, NOTARY_HTTP_UNAVAILABLE, "{}");
    }
  else
    {
      notary_log (NOTARY_LOG_ERROR, error->message, "gun", req->gun ? req->gun : "", NULL);
      respond_error (req, NOTARY_HTTP_UNKNOWN, "{}");
    }
}

static void
set_cache_headers (Request *req, gint64 max_age, gboolean current, gint64 modified_unix)
{
  NotaryHttpExchange *ex = req->ex;

  if (max_age <= 0)
    {
      _notary_http_exchange_set_header_static (ex, "Cache-Control", "max-age=0, no-cache, no-store");
      _notary_http_exchange_set_header_static (ex, "Pragma", "no-cache");
      return;
    }
  _notary_http_exchange_set_header_static (ex, "Cache-Control",
                                           current ? req->srv->cache_control_current
                                                   : req->srv->cache_control_consistent);
  _notary_http_exchange_set_header_take (ex, "Last-Modified", notary_time_format_http (modified_unix));
}

static void
respond_file (Request *req, NotaryStoredFile *file, gboolean current)
{
  gint64 max_age = current ? req->srv->opts.max_age_current : req->srv->opts.max_age_consistent;
  set_cache_headers (req, max_age, current, file->modified_unix);
  respond_bytes (req, 200, "application/json", file->data);
}

/* ---- GUN checks --------------------------------------------------------- */

static gboolean
gun_allowed (NotaryHttpServer *srv, const char *gun)
{
  if (srv->gun_prefixes == NULL || srv->gun_prefixes[0] == NULL)
    return TRUE;
  for (guint i = 0; srv->gun_prefixes[i] != NULL; i++)
    if (g_str_has_prefix (gun, srv->gun_prefixes[i]))
      return TRUE;
  return FALSE;
}

/* @s as an error detail: a JSON string, written as Go writes it. */
static char *
detail_string (const char *s)
{
  GString *out = g_string_new (NULL);
  notary_json_write_go_string (out, s, -1);
  return g_string_free (out, FALSE);
}

/* FALSE (and the response written) when the GUN may not be used. */
static gboolean
check_gun (Request *req, gboolean is_update)
{
  NotaryHttpServer *srv = req->srv;

  if (!gun_allowed (srv, req->gun))
    {
      if (is_update)
        {
          g_autofree char *joined = g_strjoinv (" ", srv->gun_prefixes);
          g_autofree char *detail_text = g_strdup_printf ("Require GUNs with prefix: [%s]", joined);
          g_autofree char *detail = detail_string (detail_text);
          respond_error (req, NOTARY_HTTP_INVALID_GUN, detail);
        }
      else
        respond_error (req, NOTARY_HTTP_METADATA_NOT_FOUND, NULL);
      return FALSE;
    }
  /* Ours (TUF-01-004): a GUN that could act as a path or key prefix
   * never reaches storage. */
  if (!notary_gun_is_valid (req->gun))
    {
      notary_log (NOTARY_LOG_INFO, "rejected invalid GUN", "gun", req->gun, NULL);
      if (is_update)
        respond_error (req, NOTARY_HTTP_INVALID_GUN, NULL);
      else
        respond_error (req, NOTARY_HTTP_METADATA_NOT_FOUND, NULL);
      return FALSE;
    }
  return TRUE;
}

/* ---- handlers ----------------------------------------------------------- */

/* One part of an upload, as split: the role its filename names, or the
 * error that refuses it (then the last one). */
typedef struct
{
  char *role;
  GBytes *data;
  NotaryHttpErrorCode refused; /* 0: not refused */
  char *detail_json;
} UploadPart;

static void
upload_part_free (UploadPart *p)
{
  g_free (p->role);
  g_clear_pointer (&p->data, g_bytes_unref);
  g_free (p->detail_json);
  g_free (p);
}

typedef struct
{
  Request *req;
  GPtrArray *parts; /* UploadPart* in body order */
} Upload;

static gboolean
refuse_part (Upload *up, NotaryHttpErrorCode code, char *detail_json)
{
  UploadPart *p = g_new0 (UploadPart, 1);

  p->refused = code;
  p->detail_json = detail_json;
  g_ptr_array_add (up->parts, p);
  return FALSE;
}

/* One part as the splitter hands it over: its filename names the role
 * (".json" optional).  Splitting stops at the first part refused for
 * its name; its bytes are parsed later (handle_update). */
static gboolean
take_part (const char *filename, GBytes *data, gpointer user_data)
{
  Upload *up = user_data;
  g_autofree char *role = g_strdup (filename != NULL ? filename : "");
  UploadPart *p;

  if (g_str_has_suffix (role, ".json"))
    role[strlen (role) - 5] = '\0';
  if (role[0] == '\0')
    return refuse_part (up, NOTARY_HTTP_NO_FILENAME, NULL);
  if (!notary_role_is_valid (role))
    {
      notary_log (NOTARY_LOG_INFO, "upload names an invalid role", "gun", up->req->gun, "role", role, NULL);
      return refuse_part (up, NOTARY_HTTP_INVALID_ROLE, detail_string (role));
    }
  p = g_new0 (UploadPart, 1);
  p->role = g_steal_pointer (&role);
  p->data = g_bytes_ref (data);
  g_ptr_array_add (up->parts, p);
  return TRUE;
}

/* Whether the media type of @ctype (parameters aside) is
 * multipart/form-data. */
static gboolean
is_form_data (const char *ctype)
{
  static const char form_data[] = "multipart/form-data";
  gsize n = strlen (form_data);

  if (ctype == NULL)
    return FALSE;
  while (*ctype == ' ' || *ctype == '\t')
    ctype++;
  if (g_ascii_strncasecmp (ctype, form_data, n) != 0)
    return FALSE;
  for (ctype += n; *ctype == ' ' || *ctype == '\t'; ctype++)
    ;
  return *ctype == '\0' || *ctype == ';';
}

static void
handle_update (Request *req)
{
  g_autoptr (GHashTable) uploads
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_signed_unref);
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) upload_part_free);
  Upload up = { req, parts };
  g_autoptr (GError) error = NULL;
  gboolean split, meaningful = FALSE;

  if (!is_form_data (req->ex->get_header (req->ex, "Content-Type")))
    return respond_error (req, NOTARY_HTTP_MALFORMED_UPLOAD, NULL);
  split = req->ex->split_form (req->ex, take_part, &up);
  /* The parts hold what they need of the body (notary-http-private.h);
   * with a big targets file, parsing it is the peak of the request. */
  g_clear_pointer (&req->ex->body, g_bytes_unref);

  /* Part by part, as the reference reads them: its name, then its JSON;
   * then whether the body went on as a form. */
  for (guint i = 0; i < parts->len; i++)
    {
      UploadPart *p = g_ptr_array_index (parts, i);
      g_autoptr (GError) perr = NULL;
      NotarySigned *s;

      if (p->refused)
        return respond_error (req, p->refused, p->detail_json);
      s = notary_signed_parse (p->data, &perr);
      if (s == NULL)
        {
          notary_log (NOTARY_LOG_INFO, perr->message, "gun", req->gun, "role", p->role, NULL);
          return respond_error (req, NOTARY_HTTP_MALFORMED_JSON, NULL);
        }
      g_clear_pointer (&p->data, g_bytes_unref);
      if (!g_str_equal (p->role, "timestamp"))
        meaningful = TRUE;
      g_hash_table_replace (uploads, g_steal_pointer (&p->role), s);
    }
  if (!split)
    return respond_error (req, NOTARY_HTTP_MALFORMED_UPLOAD, NULL);

  if (!meaningful)
    {
      /* Nothing to apply (the client publishes an empty changelist as a
       * POST with no parts): success, storage untouched. */
      return respond_empty (req, 200);
    }

  if (!notary_repo_update (req->srv->opts.repo, req->gun, uploads, &error))
    {
      if (error->domain == NOTARY_VALIDATION_ERROR)
        {
          g_autofree char *detail
              = notary_http_validation_detail (notary_validation_error_name (error->code), error->message);
          notary_log (NOTARY_LOG_INFO, error->message, "gun", req->gun, NULL);
          return respond_error (req, NOTARY_HTTP_INVALID_UPDATE, detail);
        }
      if (g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_OLD_VERSION))
        {
          notary_log (NOTARY_LOG_INFO, error->message, "gun", req->gun, NULL);
          return respond_error (req, NOTARY_HTTP_VERSION, "{}");
        }
      if (error->domain == NOTARY_TUF_ERROR || error->domain == NOTARY_JSON_ERROR
          || error->domain == NOTARY_KEY_ERROR)
        {
          notary_log (NOTARY_LOG_INFO, error->message, "gun", req->gun, NULL);
          return respond_error (req, NOTARY_HTTP_INVALID_UPDATE, NULL);
        }
      notary_log (NOTARY_LOG_ERROR, error->message, "gun", req->gun, NULL);
      if (g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_UNAVAILABLE)
          || g_error_matches (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE))
        return respond_error (req, NOTARY_HTTP_UNAVAILABLE, NULL);
      if (error->domain == NOTARY_STORAGE_ERROR)
        return respond_error (req, NOTARY_HTTP_UPDATING, NULL);
      return respond_error (req, NOTARY_HTTP_UNKNOWN, NULL);
    }
  notary_log (NOTARY_LOG_INFO, "updated repository", "gun", req->gun, NULL);
  respond_empty (req, 200);
}

static void
handle_get (Request *req, const NotaryRouteMatch *m)
{
  const char *role = m->role;
  const char *checksum = m->checksum;
  const char *version = m->version;
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *file = NULL;
  NotaryRepo *repo = req->srv->opts.repo;

  if (req->no_wait && req->op != OP_GET_ROLE)
    {
      req->deferred = TRUE;
      return;
    }
  if (req->op == OP_GET_ROLE_BY_HASH)
    file = notary_repo_get_checksum (repo, req->gun, role, checksum, &error);
  else if (req->op == OP_GET_ROLE_BY_VERSION)
    {
      guint64 v = 0;
      if (!g_ascii_string_to_unsigned (version, 10, 0, G_MAXINT64, &v, NULL))
        return respond_error (req, NOTARY_HTTP_METADATA_NOT_FOUND, "{}");
      file = notary_repo_get_version (repo, req->gun, role, (gint64) v, &error);
    }
  else
    file = notary_repo_get_current_after (repo, req->gun, role, req->ex->read, req->no_wait, &error);

  if (file == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      req->deferred = TRUE;
      return;
    }
  if (file == NULL)
    return respond_read_error (req, error);
  respond_file (req, file, req->op == OP_GET_ROLE);
  notary_stored_file_free (file);
}

static void
handle_key (Request *req, const NotaryRouteMatch *m)
{
  const char *role = m->role;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = NULL;
  g_autofree char *json = NULL;
  g_autoptr (GBytes) body = NULL;

  if (req->op == OP_ROTATE_KEY)
    key = notary_repo_rotate_key (req->srv->opts.repo, req->gun, role, &error);
  else
    key = notary_repo_get_or_create_key (req->srv->opts.repo, req->gun, role, &error);
  if (key == NULL)
    return respond_read_error (req, error);
  json = notary_key_to_endpoint_json (key);
  body = g_bytes_new_take (json, strlen (json));
  json = NULL;
  respond_bytes (req, 200, "application/json", body);
}

static void
handle_delete (Request *req)
{
  g_autoptr (GError) error = NULL;
  if (!notary_repo_delete (req->srv->opts.repo, req->gun, &error))
    return respond_read_error (req, error);
  notary_log (NOTARY_LOG_INFO, "deleted repository", "gun", req->gun, NULL);
  respond_empty (req, 200);
}

static void
handle_changefeed (Request *req, GHashTable *query)
{
  const char *records_s = query ? g_hash_table_lookup (query, "records") : NULL;
  const char *change_s = query ? g_hash_table_lookup (query, "change_id") : NULL;
  gint64 records = 0, change_id = 0;
  gboolean reversed;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) changes = NULL;
  g_autoptr (GString) out = NULL;
  g_autoptr (GBytes) body = NULL;

  if (records_s == NULL
      || !g_ascii_string_to_signed (records_s, 10, G_MININT32, G_MAXINT32, &records, &error))
    {
      /* Go's strconv error text, which the reference puts in the detail. */
      gboolean range = g_error_matches (error, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS);
      g_autofree char *text = g_strdup_printf ("invalid records parameter: strconv.ParseInt: parsing \"%s\": %s",
                                               records_s ? records_s : "",
                                               range ? "value out of range" : "invalid syntax");
      g_autofree char *detail = detail_string (text);
      respond_error (req, NOTARY_HTTP_INVALID_PARAMETERS, detail);
      return;
    }
  if (change_s != NULL && *change_s != '\0'
      && !g_ascii_string_to_signed (change_s, 10, G_MININT32, G_MAXINT32, &change_id, NULL))
    return respond_error (req, NOTARY_HTTP_INVALID_PARAMETERS, "{}");
  if (records == 0)
    records = 100;
  reversed = change_id < 0 || records < 0;
  if (records < 0)
    records = -records;

  changes = notary_repo_get_changes (req->srv->opts.repo, req->gun, change_id, (guint) records, reversed, &error);
  if (changes == NULL)
    {
      if (g_error_matches (error, NOTARY_STORAGE_ERROR, NOTARY_STORAGE_ERROR_BAD_QUERY))
        return respond_error (req, NOTARY_HTTP_INVALID_PARAMETERS, "{}");
      return respond_read_error (req, error);
    }
  out = g_string_new (NULL);
  g_string_append_printf (out, "{\"count\":%u,\"records\":[", changes->len);
  for (guint i = 0; i < changes->len; i++)
    {
      NotaryChange *c = changes->pdata[i];
      g_autofree char *created = notary_time_format_rfc3339 (c->created_unix, 0);
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "{\"ID\":\"%" G_GINT64_FORMAT "\",\"CreatedAt\":\"%s\",\"GUN\":", c->id, created);
      notary_json_write_go_string (out, c->gun, -1);
      g_string_append_printf (out, ",\"Version\":%" G_GINT64_FORMAT ",\"SHA256\":", c->version);
      notary_json_write_go_string (out, c->sha256 ? c->sha256 : "", -1);
      g_string_append (out, ",\"Category\":");
      notary_json_write_go_string (out, c->category, -1);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
  body = g_bytes_new (out->str, out->len);
  respond_bytes (req, 200, "application/json", body);
}

#define HEALTH_PERIOD_US (2 * G_USEC_PER_SEC)

/* One probe of every backend; publishes {} or {"check":"error",…}. */
static void
health_probe (NotaryHttpServer *srv)
{
  g_autoptr (GHashTable) failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GString) out = g_string_new ("{");
  GHashTableIter it;
  gpointer k, v;
  gboolean first = TRUE;
  gboolean ok = notary_repo_check_health (srv->opts.repo, failures);

  g_hash_table_iter_init (&it, failures);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      notary_json_write_go_string (out, k, -1);
      g_string_append_c (out, ':');
      notary_json_write_go_string (out, v, -1);
    }
  g_string_append_c (out, '}');

  g_mutex_lock (&srv->health_lock);
  if (!ok && (srv->health_ok || !g_str_equal (srv->health_body, out->str)))
    notary_log (NOTARY_LOG_ERROR, "health check failed", "checks", out->str, NULL);
  else if (ok && !srv->health_ok)
    notary_log (NOTARY_LOG_INFO, "health checks pass again", NULL);
  g_free (srv->health_body);
  srv->health_body = g_string_free (g_steal_pointer (&out), FALSE);
  srv->health_ok = ok;
  g_mutex_unlock (&srv->health_lock);
}

static gpointer
health_main (gpointer data)
{
  NotaryHttpServer *srv = data;

  for (;;)
    {
      gint64 deadline;

      health_probe (srv);
      g_mutex_lock (&srv->health_lock);
      deadline = g_get_monotonic_time () + HEALTH_PERIOD_US;
      while (!srv->health_stop && g_cond_wait_until (&srv->health_cond, &srv->health_lock, deadline))
        ;
      if (srv->health_stop)
        {
          g_mutex_unlock (&srv->health_lock);
          return NULL;
        }
      g_mutex_unlock (&srv->health_lock);
    }
}

static gboolean
health_status (NotaryHttpServer *srv, char **out_body)
{
  gboolean ok;
  g_mutex_lock (&srv->health_lock);
  *out_body = g_strdup (srv->health_body);
  ok = srv->health_ok;
  g_mutex_unlock (&srv->health_lock);
  return ok;
}

static void
handle_health (Request *req)
{
  g_autofree char *body = NULL;
  gboolean ok = health_status (req->srv, &body);
  g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
  respond_bytes (req, ok ? 200 : 503, "application/json; charset=utf-8", b);
}

/* Requests of @op answered so far, whatever their status. */
static gint64
requests_of_op (NotaryHttpServer *srv, guint op)
{
  gint64 total = 0;

  for (guint s = 0; s < N_STATUS; s++)
    total += __atomic_load_n (&srv->metrics.requests[op][s], __ATOMIC_RELAXED);
  return total;
}

static void
handle_metrics (Request *req)
{
  NotaryHttpServer *srv = req->srv;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GBytes) b = NULL;

  g_string_append (out, "# HELP notary_server_http_requests_total Total number of HTTP requests made.\n"
                        "# TYPE notary_server_http_requests_total counter\n");
  for (guint op = 1; op < N_OPS; op++)
    for (guint s = 0; s < N_STATUS; s++)
      {
        gint64 n = __atomic_load_n (&srv->metrics.requests[op][s], __ATOMIC_RELAXED);
        g_autofree char *code = s < G_N_ELEMENTS (status_slots) ? g_strdup_printf ("%u", status_slots[s])
                                                                : g_strdup ("other");
        if (n > 0)
          g_string_append_printf (out,
                                  "notary_server_http_requests_total{code=\"%s\",operation=\"%s\"} %" G_GINT64_FORMAT
                                  "\n",
                                  code, op_names[op], n);
      }
  g_string_append (out, "# HELP notary_server_http_request_duration_microseconds_sum Total time spent.\n"
                        "# TYPE notary_server_http_request_duration_microseconds_sum counter\n");
  for (guint op = 1; op < N_OPS; op++)
    g_string_append_printf (out, "notary_server_http_request_duration_microseconds_sum{operation=\"%s\"} %" G_GINT64_FORMAT "\n",
                            op_names[op], __atomic_load_n (&srv->metrics.duration_us[op], __ATOMIC_RELAXED));
  b = g_bytes_new (out->str, out->len);
  respond_bytes (req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
}

/* ---- token authentication (server-api.md §7) ---------------------------- */

/* FALSE (and a 401 written) unless the request's token grants @actions on
 * the repository (or, with @gun NULL, catalog access). */
static const char *const ACT_PULL[] = { "pull", NULL };
static const char *const ACT_PUSH_PULL[] = { "push", "pull", NULL };
static const char *const ACT_ALL[] = { "*", NULL };

static gboolean
authorize (Request *req, const char *gun, const char *const *actions)
{
  NotaryAuth *auth = req->srv->opts.auth;
  NotaryAccess access;
  g_autofree char *challenge = NULL;
  g_autofree char *body = NULL;

  if (auth == NULL)
    return TRUE;
  if (gun != NULL)
    access = (NotaryAccess){ "repository", gun, actions };
  else
    access = (NotaryAccess){ "registry", "catalog", ACT_ALL };
  if (notary_auth_check (auth, req->ex->get_header (req->ex, "Authorization"), req->ex->get_header (req->ex, "Host"),
                         &access, 1, &challenge, &body))
    return TRUE;
  _notary_http_exchange_set_header_take (req->ex, "WWW-Authenticate", g_steal_pointer (&challenge));
  {
    gsize len = strlen (body);
    g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&body), len);
    respond_bytes (req, 401, "application/json; charset=utf-8", b);
  }
  return FALSE;
}

/* ---- routing ------------------------------------------------------------ */

/* Whether cleaning leaves @path as it is: absolute, and no empty (but a
 * trailing one), "." or ".." segment. */
static gboolean
path_is_clean (const char *path)
{
  const char *seg;

  if (path[0] != '/')
    return FALSE;
  for (seg = path + 1;; )
    {
      const char *slash = strchr (seg, '/');
      const char *end = slash != NULL ? slash : seg + strlen (seg);
      gsize len = end - seg;

      if (len == 0 && *end == '/')
        return FALSE; /* "//" */
      if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return FALSE;
      if (*end == '\0')
        return TRUE;
      seg = end + 1;
    }
}

/* The request path with its %-escapes decoded; NULL for a bad escape or
 * an encoded NUL (g_uri_unescape_string).  Request paths seldom carry
 * escapes, and this runs on every request: those without are copied. */
static char *
unescape_path (const char *raw)
{
  if (strchr (raw, '%') == NULL)
    return g_strdup (raw);
  return g_uri_unescape_string (raw, NULL);
}

char *
notary_http_clean_path (const char *path)
{
  g_auto (GStrv) parts = NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new ();
  GString *s;
  gboolean trailing;

  if (path == NULL || *path == '\0')
    return g_strdup ("/");
  if (path_is_clean (path))
    return g_strdup (path); /* nearly every request: skip the split */
  trailing = g_str_has_suffix (path, "/") && strlen (path) > 1;
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || g_str_equal (parts[i], "."))
        continue;
      if (g_str_equal (parts[i], ".."))
        {
          if (out->len > 0)
            g_ptr_array_remove_index (out, out->len - 1);
          continue;
        }
      g_ptr_array_add (out, parts[i]);
    }
  s = g_string_new (NULL);
  for (guint i = 0; i < out->len; i++)
    {
      g_string_append_c (s, '/');
      g_string_append (s, out->pdata[i]);
    }
  if (s->len == 0 || trailing)
    g_string_append_c (s, '/');
  return g_string_free (s, FALSE);
}

/* A cheap necessary condition for a checksum-addressed GET, on the raw
 * path: "<role>.<64+ hex>.json" is all in the last segment. */
static gboolean
may_be_by_hash (const char *path)
{
  const char *last = strrchr (path, '/');
  return last != NULL && strlen (last + 1) >= 1 + 1 + 64 + 5;
}

gboolean
_notary_http_server_may_block (NotaryHttpServer *srv, const char *method, const char *raw_path)
{
  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    return TRUE;
  /* Reads that skip storage (/v2/, /metrics, health from its probe
   * thread's last answer) are guessed blocking too when they are not by
   * hash; they are rare, and a hop is all it costs them. */
  return srv->opts.storage_blocks && !may_be_by_hash (raw_path);
}

/* Which GET of metadata @path (decoded, clean) is, with its match;
 * OP_NONE if none.  The reference's order: by checksum, by version, by
 * role. */
static Operation
classify_get (const char *path, NotaryRouteMatch *m)
{
  if (notary_route_match (NOTARY_ROUTE_ROLE_BY_HASH, path, m))
    return OP_GET_ROLE_BY_HASH;
  if (notary_route_match (NOTARY_ROUTE_ROLE_BY_VERSION, path, m))
    return OP_GET_ROLE_BY_VERSION;
  if (notary_route_match (NOTARY_ROUTE_ROLE, path, m))
    return OP_GET_ROLE;
  return OP_NONE;
}

typedef struct
{
  NotaryHttpExchange *ex;
  NotaryHttpReadyFunc ready;
  gpointer user_data;
} ReadAhead;

static void
read_ahead_done (NotaryRepoRead *read, gpointer data)
{
  ReadAhead *ra = data;
  NotaryHttpReadyFunc ready = ra->ready;
  gpointer user_data = ra->user_data;

  ra->ex->read = read;
  g_free (ra);
  ready (user_data);
}

gboolean
_notary_http_server_read_ahead (NotaryHttpServer *srv, NotaryHttpExchange *ex, NotaryHttpReadyFunc ready,
                                gpointer user_data)
{
  g_autofree char *path = NULL;
  g_autofree char *clean = NULL;
  g_auto (NotaryRouteMatch) m = { NULL };
  ReadAhead *ra;

  if (ex->too_large || !g_str_equal (ex->method, "GET"))
    return FALSE;
  /* the GET route() would take, for a GUN it would serve */
  path = unescape_path (ex->raw_path);
  if (path == NULL || !g_str_has_prefix (path, "/v2/") || !g_str_equal ((clean = notary_http_clean_path (path)), path)
      || classify_get (path, &m) != OP_GET_ROLE || !gun_allowed (srv, m.gun) || !notary_gun_is_valid (m.gun))
    return FALSE;
  ex->read_started_us = g_get_monotonic_time ();
  ra = g_new (ReadAhead, 1);
  *ra = (ReadAhead){ ex, ready, user_data };
  if (!notary_repo_read_ahead (srv->opts.repo, m.gun, read_ahead_done, ra))
    {
      g_free (ra);
      return FALSE;
    }
  return TRUE;
}

static gboolean
method_is (Request *req, const char *m)
{
  return g_str_equal (req->method, m);
}

/* Whether @path is route @kind; if so, the request takes its GUN and
 * @m the rest of its variables. */
static gboolean
matched (Request *req, NotaryRouteKind kind, const char *path, NotaryRouteMatch *m)
{
  if (!notary_route_match (kind, path, m))
    return FALSE;
  req->gun = g_steal_pointer (&m->gun);
  return TRUE;
}

static void
route (Request *req, const char *path, GHashTable *query)
{
  g_auto (NotaryRouteMatch) m = { NULL };

  if (g_str_equal (path, "/v2/") && method_is (req, "GET"))
    {
      g_autoptr (GBytes) b = g_bytes_new_static ("{}", 2);
      /* with token auth the ping answers 401 + challenge: the client's
       * cue to fetch a token */
      return authorize (req, NULL, NULL) ? respond_bytes (req, 200, "application/json", b) : (void) 0;
    }
  if (g_str_has_prefix (path, "/v2/"))
    {
      if (method_is (req, "POST") && matched (req, NOTARY_ROUTE_UPDATE, path, &m))
        {
          req->op = OP_UPDATE_TUF;
          return check_gun (req, TRUE) && authorize (req, req->gun, ACT_PUSH_PULL) ? handle_update (req) : (void) 0;
        }
      if (method_is (req, "GET") && (req->op = classify_get (path, &m)) != OP_NONE)
        {
          req->gun = g_steal_pointer (&m.gun);
          return check_gun (req, FALSE) && authorize (req, req->gun, ACT_PULL) ? handle_get (req, &m) : (void) 0;
        }
      if ((method_is (req, "GET") || method_is (req, "POST")) && matched (req, NOTARY_ROUTE_KEY, path, &m))
        {
          req->op = method_is (req, "GET") ? OP_GET_KEY : OP_ROTATE_KEY;
          return check_gun (req, FALSE)
                         && authorize (req, req->gun, req->op == OP_GET_KEY ? ACT_PUSH_PULL : ACT_ALL)
                     ? handle_key (req, &m)
                     : (void) 0;
        }
      if (method_is (req, "DELETE") && matched (req, NOTARY_ROUTE_UPDATE, path, &m))
        {
          req->op = OP_DELETE_TUF;
          return check_gun (req, FALSE) && authorize (req, req->gun, ACT_ALL) ? handle_delete (req) : (void) 0;
        }
      if (method_is (req, "GET") && matched (req, NOTARY_ROUTE_CHANGEFEED, path, &m))
        {
          req->op = OP_CHANGEFEED;
          return check_gun (req, FALSE) && authorize (req, req->gun, ACT_PULL) ? handle_changefeed (req, query)
                                                                                : (void) 0;
        }
      if (method_is (req, "GET") && g_str_equal (path, "/v2/_trust/changefeed"))
        {
          req->op = OP_CHANGEFEED;
          return authorize (req, NULL, NULL) ? handle_changefeed (req, query) : (void) 0;
        }
    }
  if (method_is (req, "GET") && g_str_equal (path, "/_notary_server/health"))
    return handle_health (req);
  if (method_is (req, "GET") && g_str_equal (path, "/metrics"))
    return handle_metrics (req);

  /* catch-all */
  if (method_is (req, "GET") || method_is (req, "POST") || method_is (req, "PUT") || method_is (req, "HEAD")
      || method_is (req, "DELETE"))
    return authorize (req, NULL, NULL) ? respond_error (req, NOTARY_HTTP_METADATA_NOT_FOUND, NULL) : (void) 0;
  respond_empty (req, 405);
}

static void
log_request (Request *req)
{
  guint status = req->ex->status;
  gint64 dur = g_get_monotonic_time () - req->started_us;
  NotaryLogger *logger = req->srv->opts.logger;

  __atomic_fetch_add (&req->srv->metrics.requests[req->op][status_slot (status)], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add (&req->srv->metrics.duration_us[req->op], dur, __ATOMIC_RELAXED);
  /* Formatting the line costs more than some whole requests: only do it
   * when it will be written. */
  if (logger != NULL && notary_logger_get_level (logger) <= NOTARY_LOG_DEBUG)
    {
      g_autofree char *status_s = g_strdup_printf ("%u", status);
      g_autofree char *dur_s = g_strdup_printf ("%.6fs", dur / 1e6);
      /* the request target, as the reference's RequestURI */
      g_autofree char *uri_s = req->ex->raw_query ? g_strconcat (req->ex->raw_path, "?", req->ex->raw_query, NULL)
                                                  : g_strdup (req->ex->raw_path);
      notary_log (NOTARY_LOG_DEBUG, "response completed", "http.request.method", req->method, "http.request.uri",
                  uri_s, "http.response.status", status_s, "http.response.duration", dur_s, NULL);
    }
}

/* application/x-www-form-urlencoded query, as libsoup's soup_form_decode
 * (which the first transport used): pairs without '=' or with a bad
 * escape are dropped, a repeated name keeps its last value. */
static GHashTable *
parse_query (const char *query)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) pairs = NULL;

  if (query == NULL)
    return out;
  pairs = g_strsplit (query, "&", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      char *eq = strchr (pairs[i], '=');
      char *name, *value;

      if (eq == NULL)
        continue;
      *eq = '\0';
      g_strdelimit (pairs[i], "+", ' ');
      g_strdelimit (eq + 1, "+", ' ');
      name = g_uri_unescape_string (pairs[i], NULL);
      value = g_uri_unescape_string (eq + 1, NULL);
      if (name == NULL || value == NULL)
        {
          g_free (name);
          g_free (value);
          continue;
        }
      g_hash_table_replace (out, name, value);
    }
  return out;
}

/* FALSE, and no answer, when @no_wait and answering needs a backend call. */
static gboolean
handle (NotaryHttpServer *srv, NotaryHttpExchange *ex, gboolean no_wait)
{
  Request req = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *clean = NULL;

  req.srv = srv;
  req.ex = ex;
  req.method = ex->method;
  /* the request's duration includes its wait for a read ahead */
  req.started_us = ex->read_started_us ? ex->read_started_us : g_get_monotonic_time ();
  req.no_wait = no_wait;
  ex->status = 500;

  if (ex->too_large)
    {
      notary_log (NOTARY_LOG_INFO, "request body too large", NULL);
      respond_error (&req, NOTARY_HTTP_TOO_LARGE, NULL);
      log_request (&req);
      return TRUE;
    }

  path = unescape_path (ex->raw_path);
  if (path == NULL)
    respond_error (&req, NOTARY_HTTP_METADATA_NOT_FOUND, NULL);
  else if (!g_str_equal ((clean = notary_http_clean_path (path)), path))
    {
      const char *q = ex->raw_query;
      /* The reference answers with the cleaned path alone, not a URL. */
      respond_empty (&req, 301);
      _notary_http_exchange_set_header_take (ex, "Location", q ? g_strconcat (clean, "?", q, NULL)
                                                               : g_steal_pointer (&clean));
    }
  else
    {
      g_autoptr (GHashTable) query = ex->raw_query ? parse_query (ex->raw_query) : NULL;
      route (&req, path, query);
    }
  g_free (req.gun);
  if (req.deferred)
    {
      /* nothing was answered: the exchange is as it came */
      g_assert (ex->n_headers == 0 && ex->response_body == NULL);
      ex->status = 0;
      return FALSE;
    }
  log_request (&req);
  return TRUE;
}

void
_notary_http_server_handle (NotaryHttpServer *srv, NotaryHttpExchange *ex)
{
  handle (srv, ex, FALSE);
}

gboolean
_notary_http_server_try_handle (NotaryHttpServer *srv, NotaryHttpExchange *ex)
{
  /* Only a GET read ahead is known to reach nothing but handle_get. */
  return ex->read != NULL && handle (srv, ex, TRUE);
}

/* ---- listening ---------------------------------------------------------- */

static gboolean
parse_addr (const char *addr, char **host, guint16 *port, GError **error)
{
  const char *colon = addr ? strrchr (addr, ':') : NULL;
  guint64 p;

  if (colon == NULL
      || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &p, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "address %s: invalid port", addr ? addr : "");
      return FALSE;
    }
  *host = g_strndup (addr, colon - addr);
  if ((*host)[0] == '[' && g_str_has_suffix (*host, "]"))
    {
      char *inner = g_strndup (*host + 1, strlen (*host) - 2);
      g_free (*host);
      *host = inner;
    }
  *port = (guint16) p;
  return TRUE;
}

/* The addresses @host names, in getaddrinfo's order, without duplicates,
 * each with @port: an IP literal is itself, "" the IPv6 wildcard
 * (dual-stack, like Go's ":port"), a name is resolved as GLib's resolver
 * would (AI_ADDRCONFIG).  With libc, not GIO: the resolver's types and
 * thread pool were ~0.4 MiB of the server's memory for one call at
 * start-up.  (transfer full) or NULL with @error set. */
static GArray *
resolve_host (const char *host, guint16 port, GError **error)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (NotaryListenAddr));
  struct addrinfo hints = { 0 }, *res = NULL;
  NotaryListenAddr a = { 0 };
  struct sockaddr_in *in4 = (struct sockaddr_in *) &a.ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a.ss;
  int rc;

  if (host[0] == '\0' || inet_pton (AF_INET6, host, &in6->sin6_addr) == 1)
    {
      in6->sin6_family = AF_INET6; /* "" leaves in6addr_any */
      a.len = sizeof *in6;
    }
  else if (inet_pton (AF_INET, host, &in4->sin_addr) == 1)
    {
      in4->sin_family = AF_INET;
      a.len = sizeof *in4;
    }
  if (a.len > 0)
    {
      notary_listen_addr_set_port (&a, port);
      g_array_append_val (out, a);
      return out;
    }
  hints.ai_flags = AI_ADDRCONFIG;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  rc = getaddrinfo (host, NULL, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "Error resolving \u201c%s\u201d: %s", host,
                   rc == EAI_SYSTEM ? g_strerror (errno) : gai_strerror (rc));
      g_array_unref (out);
      return NULL;
    }
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
    {
      gboolean seen = FALSE;

      if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof a.ss)
        continue;
      memset (&a, 0, sizeof a);
      memcpy (&a.ss, ai->ai_addr, ai->ai_addrlen);
      a.len = ai->ai_addrlen;
      notary_listen_addr_set_port (&a, port);
      for (guint i = 0; i < out->len && !seen; i++)
        seen = memcmp (&g_array_index (out, NotaryListenAddr, i), &a, sizeof a) == 0;
      if (!seen)
        g_array_append_val (out, a);
    }
  freeaddrinfo (res);
  if (out->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "Error resolving \u201c%s\u201d: no IP address", host);
      g_array_unref (out);
      return NULL;
    }
  return out;
}

static gboolean
addr_is_loopback (const NotaryListenAddr *addr)
{
  if (addr->ss.ss_family == AF_INET6)
    {
      const struct in6_addr *in6 = &((const struct sockaddr_in6 *) &addr->ss)->sin6_addr;
      /* ::1, or an IPv4 loopback address mapped */
      return IN6_IS_ADDR_LOOPBACK (in6) || (IN6_IS_ADDR_V4MAPPED (in6) && in6->s6_addr[12] == 127);
    }
  return (ntohl (((const struct sockaddr_in *) &addr->ss)->sin_addr.s_addr) >> 24) == 127;
}

gboolean
notary_http_server_listen (NotaryHttpServer *srv, const char *addr, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GArray) addrs = NULL;
  guint16 port;

  if (!parse_addr (addr, &host, &port, error))
    return FALSE;
  addrs = resolve_host (host, port, error);
  if (addrs == NULL)
    return FALSE;
  /* the first address, as Go's net.Listen */
  if (!_notary_http_transport_listen (srv->transport, &g_array_index (addrs, NotaryListenAddr, 0), &srv->port, error))
    return FALSE;
  srv->listening = TRUE;
  /* The health thread makes the first probe at once.  Not here as well:
   * a probe on this thread ran a database query and two TLS handshakes
   * to the signer (then the thread did both again) before start-up could
   * go on, and its CPU delayed the first answers.  Until the first probe
   * ends, health reads {} as in the reference (whose first result comes
   * after a whole period). */
  srv->health_thread = g_thread_new ("health", health_main, srv);
  return TRUE;
}

guint16
notary_http_server_get_port (NotaryHttpServer *srv)
{
  return srv->port;
}

void
notary_http_server_set_tls_identity (NotaryHttpServer *srv, NotaryTlsIdentity *identity)
{
  notary_tls_identity_ref (identity);
  g_clear_pointer (&srv->opts.tls_identity, notary_tls_identity_unref);
  srv->opts.tls_identity = identity;
  _notary_http_transport_set_identity (srv->transport, identity);
}

void
notary_http_server_stop (NotaryHttpServer *srv)
{
  if (srv->health_thread != NULL)
    {
      g_mutex_lock (&srv->health_lock);
      srv->health_stop = TRUE;
      g_cond_signal (&srv->health_cond);
      g_mutex_unlock (&srv->health_lock);
      g_thread_join (srv->health_thread);
      srv->health_thread = NULL;
    }
  if (srv->listening)
    _notary_http_transport_stop (srv->transport);
  srv->listening = FALSE;
}

/* ---- debug listener ------------------------------------------------------ */

static gint64
rss_bytes (void)
{
  g_autofree char *statm = NULL;
  long pages = 0, resident = 0;
  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%ld %ld", &pages, &resident);
  return (gint64) resident * 4096;
}

void
_notary_http_server_handle_debug (NotaryHttpServer *srv, NotaryHttpExchange *ex)
{
  Request req = { srv, ex, ex->method, OP_NONE, NULL, 0 };
  const char *path = ex->raw_path;

  if (g_str_equal (path, "/debug/health"))
    return handle_health (&req);
  if (g_str_equal (path, "/debug/vars"))
    {
      g_autoptr (GString) out = g_string_new ("{\"cmdline\":");
      g_autofree char *cmdline = NULL;
      gsize len = 0;
      g_autoptr (GBytes) b = NULL;

      g_file_get_contents ("/proc/self/cmdline", &cmdline, &len, NULL);
      g_string_append_c (out, '[');
      for (gsize off = 0; cmdline != NULL && off < len; off += strlen (cmdline + off) + 1)
        {
          if (off > 0)
            g_string_append_c (out, ',');
          notary_json_write_go_string (out, cmdline + off, -1);
        }
      g_string_append_printf (out, "],\"memstats\":{\"rss_bytes\":%" G_GINT64_FORMAT "},\"requests\":{", rss_bytes ());
      for (guint op = 1; op < N_OPS; op++)
        {
          g_string_append_printf (out, "%s\"%s\":%" G_GINT64_FORMAT, op > 1 ? "," : "", op_names[op],
                                  requests_of_op (srv, op));
        }
      g_string_append (out, "}}\n");
      b = g_bytes_new (out->str, out->len);
      return respond_bytes (&req, 200, "application/json; charset=utf-8", b);
    }
  respond_error (&req, NOTARY_HTTP_GENERIC_NOT_FOUND, NULL);
}

guint64
notary_http_server_count_answered (NotaryHttpServer *srv)
{
  guint64 total = 0;

  for (guint op = 0; op < N_OPS; op++)
    total += (guint64)requests_of_op (srv, op);
  return total;
}

gboolean
notary_http_server_listen_debug (NotaryHttpServer *srv, const char *addr, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GArray) addrs = NULL;
  guint16 port;
  guint bound = 0;

  if (!parse_addr (addr, &host, &port, error))
    return FALSE;
  if (host[0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "debug interface must listen on a loopback address, not %s", addr);
      return FALSE;
    }
  addrs = resolve_host (host, port, error);
  if (addrs == NULL)
    return FALSE;
  /* Every address the name has (127.0.0.1 and ::1 for localhost), all of
   * which must be loopback: debug data never leaves the host. */
  for (guint i = 0; i < addrs->len; i++)
    if (!addr_is_loopback (&g_array_index (addrs, NotaryListenAddr, i)))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "debug interface must listen on a loopback address, not %s", addr);
        return FALSE;
      }
  for (guint i = 0; i < addrs->len; i++)
    if (_notary_http_transport_listen_debug (srv->transport, &g_array_index (addrs, NotaryListenAddr, i),
                                             bound == 0 && i + 1 == addrs->len ? error : NULL))
      bound++;
  if (bound == 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot bind %s", addr);
      g_prefix_error (error, "error listening on debug interface: ");
      return FALSE;
    }
  return TRUE;
}
