/* fuzz-http.c — the server's request handling (core/notary-http.c:
 * routing, path cleaning, GUN checks, uploads split into parts, every
 * handler) as a transport hands it requests, over a repository in the
 * memory storage with one published GUN.
 *
 * Input: the method, the request target (path and query, as sent) and
 * the Content-Type, one per line, then the body.  When the core asks for
 * the multipart parts, the harness splits the body on lines "--part"
 * itself, each part's first line being its filename (empty: none): the
 * wire's multipart syntax is the transport library's to parse, what the
 * core does with the parts is what is fuzzed here.
 *
 * Invariants, the promise of the developers' guide that bad input always
 * gets a clear error: no request is answered 5xx (the memory storage and
 * local signer do not fail), and every error but 405 carries notary's
 * JSON error body ({"errors":[...]}); a JSON response is valid JSON. */
#include "fuzz-repo.h"
#include "notary-http-private.h"

#define PART_SEPARATOR "\n--part\n"

typedef struct
{
  FxServer fx;
  FxRepoKeys keys;
  NotaryHttpServer *srv;
} Fixture;

/* Quiet: the handlers log every refusal at info level.  Criticals still
 * go to GLib's writer, which G_DEBUG=fatal-criticals makes fatal. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static void
publish_if_gone (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *root = f->fx.svt->get_latest (f->fx.storage, FUZZ_GUN, "root", &error);
  if (root != NULL)
    {
      notary_stored_file_free (root);
      return;
    }
  /* First input, or a fuzzed DELETE took the GUN away: publish it again
   * (fresh versions 1, as a client re-initialising would). */
  g_clear_pointer (&f->keys.root_bytes, g_bytes_unref);
  g_clear_pointer (&f->keys.targets_bytes, g_bytes_unref);
  g_clear_pointer (&f->keys.snapshot_bytes, g_bytes_unref);
  fx_publish_initial (&f->fx, &f->keys);
}

static Fixture *
fixture (void)
{
  static Fixture *f;
  if (f != NULL)
    return f;
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  f = g_new0 (Fixture, 1);
  fuzz_repo_init (&f->fx, &f->keys);
  NotaryHttpOptions opts = {
    .repo = f->fx.repo,
    .max_age_current = 300,
    .max_age_consistent = 31536000,
    .max_body_bytes = 1 << 20,
    .workers = 1,
  };
  f->srv = notary_http_server_new (&opts);
  return f;
}

/* The request an input describes; the exchange points into it. */
typedef struct
{
  NotaryHttpExchange ex;
  char *content_type; /* NULL: no such header */
} FuzzRequest;

static const char *
get_header (NotaryHttpExchange *ex, const char *name)
{
  FuzzRequest *r = (FuzzRequest *) ex;
  if (g_ascii_strcasecmp (name, "Content-Type") == 0)
    return r->content_type;
  if (g_ascii_strcasecmp (name, "Host") == 0)
    return "notary.example.com";
  return NULL;
}

static gboolean
split_form (NotaryHttpExchange *ex, NotaryHttpPartFunc func, gpointer user_data)
{
  gsize len = 0;
  const char *body = ex->body != NULL ? g_bytes_get_data (ex->body, &len) : NULL;

  if (len == 0)
    return TRUE;
  const char *end = body + len;
  for (const char *p = body; p <= end;)
    {
      const char *next = g_strstr_len (p, end - p, PART_SEPARATOR);
      const char *part_end = next != NULL ? next : end;
      const char *nl = memchr (p, '\n', part_end - p);
      if (nl == NULL)
        return FALSE; /* a part without its filename line: not a form */
      g_autofree char *filename = nl > p ? g_strndup (p, nl - p) : NULL;
      if (filename != NULL && strlen (filename) != (gsize) (nl - p))
        return FALSE; /* a NUL in a header: the transport refuses those */
      g_autoptr (GBytes) data = g_bytes_new (nl + 1, part_end - nl - 1);
      if (!func (filename, data, user_data))
        return TRUE;
      if (next == NULL)
        break;
      p = next + strlen (PART_SEPARATOR);
    }
  return TRUE;
}

/* Splits the input's first three lines off; FALSE when they are not there
 * or hold a NUL (no HTTP parser hands those on). */
static gboolean
take_line (const char **p, const char *end, char **out)
{
  const char *nl = memchr (*p, '\n', end - *p);
  if (nl == NULL || memchr (*p, '\0', nl - *p) != NULL)
    return FALSE;
  *out = g_strndup (*p, nl - *p);
  *p = nl + 1;
  return TRUE;
}

static void
check_response (NotaryHttpExchange *ex, const char *method, const char *target)
{
  if (ex->status < 200 || ex->status >= 500)
    fuzz_fail ("%s %s answered %u", method, target, ex->status);

  const char *ctype = NULL;
  for (guint i = 0; i < ex->n_headers; i++)
    if (g_ascii_strcasecmp (ex->headers[i].name, "Content-Type") == 0)
      ctype = ex->headers[i].value;
  gsize len = 0;
  const char *body = ex->response_body != NULL ? g_bytes_get_data (ex->response_body, &len) : NULL;
  gboolean json = ctype != NULL && g_str_has_prefix (ctype, "application/json");

  if (ex->status >= 400 && ex->status != 405 && (!json || len == 0))
    fuzz_fail ("%s %s answered %u without notary's JSON error body", method, target, ex->status);
  if (!json || len == 0)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) parsed = notary_json_parse (body, (gssize) len, &error);
  if (parsed == NULL)
    fuzz_fail ("%s %s answered %u with invalid JSON: %s", method, target, ex->status, error->message);
  if (ex->status >= 400)
    {
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (parsed) ? json_node_get_object (parsed) : NULL;
      JsonArray *errors = o != NULL ? notary_json_object_get_array (o, "errors") : NULL;
      if (errors == NULL || json_array_get_length (errors) == 0)
        fuzz_fail ("%s %s answered %u with a body that is not notary's error", method, target, ex->status);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *p = (const char *) data, *end = p + size;
  g_autofree char *method = NULL;
  g_autofree char *target = NULL;
  FuzzRequest r = { { 0 }, NULL };

  if (!take_line (&p, end, &method) || !take_line (&p, end, &target) || !take_line (&p, end, &r.content_type))
    {
      g_free (r.content_type);
      return 0;
    }
  if (r.content_type[0] == '\0')
    g_clear_pointer (&r.content_type, g_free);

  Fixture *f = fixture ();
  publish_if_gone (f);

  char *query = strchr (target, '?');
  if (query != NULL)
    *query++ = '\0';
  r.ex.method = method;
  r.ex.raw_path = target;
  r.ex.raw_query = query;
  r.ex.body = p < end ? g_bytes_new (p, end - p) : NULL;
  r.ex.get_header = get_header;
  r.ex.split_form = split_form;

  _notary_http_server_handle (f->srv, &r.ex);
  check_response (&r.ex, method, target);

  _notary_http_exchange_clear (&r.ex);
  g_free (r.content_type);
  return 0;
}
