/* test-http.c — notary-server's HTTP API (server-api.md §2-§6) driven
 * in-process: a NotaryHttpServer on 127.0.0.1:0 (plain HTTP, one worker)
 * over the memory storage and local signer, and a libsoup client.
 */
#include "lib/tuf-fixtures.c"
#include "notary-http.h"
#include "notary-http-errors.h"
#include "notary-http-private.h"

#include <libsoup/soup.h>

#define GUN "example.com/app"
#define JSON_CT "application/json; charset=utf-8"

typedef struct
{
  gint64 max_age_current;
  gint64 max_age_consistent;
  const char *const *gun_prefixes;
  gint64 max_body_bytes;
  guint workers; /* 0: one */
  gboolean storage_blocks; /* as for a database: reads on the handlers, coalesced */
} HttpConfig;

static const HttpConfig default_config = { 300, 2592000, NULL, 10 * 1024 * 1024 };
static const HttpConfig no_cache_config = { 0, 0, NULL, 10 * 1024 * 1024 };
static const char *const prefixes[] = { "example.com/", "other.io/", NULL };
static const HttpConfig prefix_config = { 300, 2592000, prefixes, 10 * 1024 * 1024 };
static const HttpConfig small_body_config = { 300, 2592000, NULL, 2048 };
static const HttpConfig two_workers_config = { 300, 2592000, NULL, 10 * 1024 * 1024, 2 };
static const HttpConfig blocking_storage_config = { 300, 2592000, NULL, 10 * 1024 * 1024, 2, TRUE };

typedef struct
{
  FxServer fx;
  NotaryHttpServer *http;
  SoupSession *session;
  char *base;
  FxRepoKeys keys;
  gint64 now;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  const HttpConfig *cfg = data ? data : &default_config;
  NotaryHttpOptions opts = { 0 };
  g_autoptr (GError) error = NULL;

  fx_server_init (&f->fx);
  opts.repo = f->fx.repo;
  opts.max_age_current = cfg->max_age_current;
  opts.max_age_consistent = cfg->max_age_consistent;
  opts.gun_prefixes = cfg->gun_prefixes;
  opts.max_body_bytes = cfg->max_body_bytes;
  opts.workers = MAX (cfg->workers, 1);
  opts.storage_blocks = cfg->storage_blocks;
  g_assert_true (notary_repo_set_coalesce_reads (f->fx.repo, cfg->storage_blocks ? 4 : 0, &error));
  g_assert_no_error (error);
  f->http = notary_http_server_new (&opts);
  g_assert_true (notary_http_server_listen (f->http, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notary_http_server_get_port (f->http), >, 0);
  f->base = g_strdup_printf ("http://127.0.0.1:%u", notary_http_server_get_port (f->http));
  f->session = soup_session_new ();
  f->now = g_get_real_time () / G_USEC_PER_SEC;
  fx_repo_keys_init (&f->keys, &f->fx, GUN, f->now);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->session);
  g_clear_pointer (&f->http, notary_http_server_free);
  g_free (f->base);
  fx_repo_keys_clear (&f->keys);
  fx_server_clear (&f->fx);
}

/* ---- client helpers ---------------------------------------------------------- */

typedef struct
{
  guint status;
  GBytes *body;
  SoupMessageHeaders *headers; /* response headers (ref) */
} Resp;

static void
resp_free (Resp *r)
{
  g_bytes_unref (r->body);
  soup_message_headers_unref (r->headers);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Resp, resp_free)

static Resp *
send_msg (Fixture *f, SoupMessage *msg)
{
  g_autoptr (GError) error = NULL;
  Resp *r = g_new0 (Resp, 1);

  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  r->body = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  r->status = soup_message_get_status (msg);
  r->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return r;
}

static Resp *
http (Fixture *f, const char *method, const char *path, const char *ctype, GBytes *body)
{
  g_autofree char *url = g_strconcat (f->base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_assert_nonnull (msg);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, ctype, body);
  return send_msg (f, msg);
}

static Resp *
get (Fixture *f, const char *path)
{
  return http (f, "GET", path, NULL, NULL);
}

static const char *
header (Resp *r, const char *name)
{
  return soup_message_headers_get_one (r->headers, name);
}

static void
assert_body (Resp *r, const char *expected)
{
  gsize len;
  const char *d = g_bytes_get_data (r->body, &len);
  g_assert_cmpmem (d, len, expected, strlen (expected));
}

static void
assert_bytes (Resp *r, GBytes *expected)
{
  g_assert_true (g_bytes_equal (r->body, expected));
}

/* An error response: status, exact body, content type, no cache headers. */
static void
assert_error (Resp *r, guint status, const char *code, const char *message, const char *detail)
{
  g_autofree char *expected = NULL;
  if (detail != NULL)
    expected = g_strdup_printf ("{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\",\"detail\":%s}]}\n", code, message,
                                detail);
  else
    expected = g_strdup_printf ("{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}\n", code, message);
  g_assert_cmpuint (r->status, ==, status);
  assert_body (r, expected);
  g_assert_cmpstr (header (r, "Content-Type"), ==, JSON_CT);
  g_assert_null (header (r, "Cache-Control"));
}

#define MSG_NOT_FOUND "You have requested metadata that does not exist."
#define MSG_INVALID_UPDATE "Update sent by the client is invalid."
#define MSG_MALFORMED_UPLOAD "The body of your request is malformed."

static void
assert_not_found (Resp *r, const char *detail)
{
  assert_error (r, 404, "METADATA_NOT_FOUND", MSG_NOT_FOUND, detail);
}

/* POST the files (role names as filenames) to the GUN's update route. */
/* A publish of @files (named @filenames) to @gun, as the client sends it. */
static SoupMessage *
publish_message (const char *base, const char *gun, const char *const *filenames, GBytes *const *files)
{
  g_autoptr (SoupMultipart) mp = soup_multipart_new ("multipart/form-data");
  g_autofree char *url = g_strdup_printf ("%s/v2/%s/_trust/tuf/", base, gun);
  SoupMessage *msg = soup_message_new ("POST", url);
  g_autoptr (SoupMessageHeaders) hdrs = soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GHashTable) params = NULL;
  const char *ctype;
  g_autofree char *full_ctype = NULL;

  for (guint i = 0; filenames[i] != NULL; i++)
    soup_multipart_append_form_file (mp, "files", filenames[i], "application/octet-stream", files[i]);
  soup_multipart_to_message (mp, hdrs, &body);
  ctype = soup_message_headers_get_content_type (hdrs, &params);
  full_ctype = g_strdup_printf ("%s; boundary=\"%s\"", ctype, (char *) g_hash_table_lookup (params, "boundary"));
  soup_message_set_request_body_from_bytes (msg, full_ctype, body);
  return msg;
}

static Resp *
post_files (Fixture *f, const char *gun, const char *const *filenames, GBytes *const *files)
{
  g_autoptr (SoupMessage) msg = publish_message (f->base, gun, filenames, files);
  return send_msg (f, msg);
}

/* POST one raw part with the given Content-Disposition. */
static Resp *
post_raw_part (Fixture *f, const char *disposition, const char *content)
{
  g_autofree char *text = g_strdup_printf ("--XyZ\r\nContent-Disposition: %s\r\nContent-Type: "
                                           "application/octet-stream\r\n\r\n%s\r\n--XyZ--\r\n",
                                           disposition, content);
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));
  return http (f, "POST", "/v2/" GUN "/_trust/tuf/", "multipart/form-data; boundary=XyZ", body);
}

static void
publish_initial_http (Fixture *f)
{
  const char *names[] = { "root", "targets", "snapshot", NULL };
  GBytes *files[3];
  g_autoptr (Resp) r = NULL;

  f->keys.root_bytes = fx_make_root (&f->keys, 1);
  f->keys.targets_bytes = fx_make_targets (&f->keys, 1);
  f->keys.snapshot_bytes = fx_make_snapshot (&f->keys, 1, f->keys.root_bytes, f->keys.targets_bytes);
  files[0] = f->keys.root_bytes;
  files[1] = f->keys.targets_bytes;
  files[2] = f->keys.snapshot_bytes;
  r = post_files (f, GUN, names, files);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpuint (g_bytes_get_size (r->body), ==, 0);
  g_assert_null (header (r, "Content-Type"));
  g_assert_cmpint (soup_message_headers_get_content_length (r->headers), ==, 0);
}

static char *
stored_timestamp_sha (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  NotaryStoredFile *ts = notary_repo_get_current (f->fx.repo, GUN, "timestamp", &error);
  char *sha;
  g_assert_no_error (error);
  sha = notary_sha256_hex (ts->data);
  notary_stored_file_free (ts);
  return sha;
}

/* ---- routes ----------------------------------------------------------------------- */

static void
test_ping (Fixture *f, gconstpointer data)
{
  g_autoptr (Resp) r = get (f, "/v2/");
  g_assert_cmpuint (r->status, ==, 200);
  assert_body (r, "{}");
}

/* Which requests the transport may run on its handler pool: a cheap
 * guess from method and path. */
static void
test_may_block (Fixture *f, gconstpointer data)
{
  const HttpConfig *cfg = data ? data : &default_config;
  NotaryHttpServer *srv = f->http;
  const char *by_hash = "/v2/" GUN "/_trust/tuf/targets."
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.json";

  /* changes of state always may */
  g_assert_true (_notary_http_server_may_block (srv, "POST", "/v2/" GUN "/_trust/tuf/"));
  g_assert_true (_notary_http_server_may_block (srv, "DELETE", "/v2/" GUN "/_trust/tuf/"));
  /* checksum-addressed files come from the file cache */
  g_assert_false (_notary_http_server_may_block (srv, "GET", by_hash));
  /* current metadata, versions, keys wait on storage only when it blocks */
  g_assert_cmpint (_notary_http_server_may_block (srv, "GET", "/v2/" GUN "/_trust/tuf/timestamp.json"), ==,
                   cfg->storage_blocks);
  g_assert_cmpint (_notary_http_server_may_block (srv, "HEAD", "/v2/" GUN "/_trust/tuf/3.root.json"), ==,
                   cfg->storage_blocks);
  g_assert_cmpint (_notary_http_server_may_block (srv, "GET", "/v2/" GUN "/_trust/tuf/snapshot.key"), ==,
                   cfg->storage_blocks);
}

static void
test_full_flow (Fixture *f, gconstpointer data)
{
  g_autofree char *sha_t = NULL;
  g_autofree char *sha_s = NULL;
  g_autofree char *path = NULL;

  /* nothing yet: 404 for every role */
  {
    static const char *const roles[] = { "root", "targets", "snapshot", "timestamp" };
    for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
      {
        g_autofree char *p = g_strdup_printf ("/v2/" GUN "/_trust/tuf/%s.json", roles[i]);
        g_autoptr (Resp) r = get (f, p);
        assert_not_found (r, "{}");
      }
  }
  publish_initial_http (f);

  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, f->keys.root_bytes);
    g_assert_cmpstr (header (r, "Cache-Control"), ==, "public, max-age=300, s-maxage=300, must-revalidate");
    g_assert_nonnull (header (r, "Last-Modified"));
    g_assert_null (header (r, "Pragma"));
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/timestamp.json");
    g_autoptr (NotarySigned) s = NULL;
    g_assert_cmpuint (r->status, ==, 200);
    s = fx_parse (r->body);
    g_assert_cmpstr (s->type, ==, "Timestamp");
    g_assert_cmpstr (header (r, "Cache-Control"), ==, "public, max-age=300, s-maxage=300, must-revalidate");
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/snapshot.json");
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, f->keys.snapshot_bytes);
  }
  /* by hash and by version: consistent caching */
  sha_t = notary_sha256_hex (f->keys.targets_bytes);
  path = g_strdup_printf ("/v2/" GUN "/_trust/tuf/targets.%s.json", sha_t);
  {
    g_autoptr (Resp) r = get (f, path);
    g_autoptr (GDateTime) lm = NULL;
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, f->keys.targets_bytes);
    g_assert_cmpstr (header (r, "Cache-Control"), ==, "public, max-age=2592000, s-maxage=2592000");
    g_assert_nonnull (header (r, "Last-Modified"));
    lm = soup_date_time_new_from_http_string (header (r, "Last-Modified"));
    g_assert_nonnull (lm);
    g_assert_cmpint (ABS (g_date_time_to_unix (lm) - f->now), <, 120);
  }
  sha_s = notary_sha256_hex (f->keys.snapshot_bytes);
  g_free (path);
  path = g_strdup_printf ("/v2/" GUN "/_trust/tuf/snapshot.%s.json", sha_s);
  {
    g_autoptr (Resp) r = get (f, path);
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, f->keys.snapshot_bytes);
  }
  {
    /* wrong role for the hash, 96/128-hex checksums: 404 */
    g_autofree char *p1 = g_strdup_printf ("/v2/" GUN "/_trust/tuf/root.%s.json", sha_t);
    g_autofree char *p2 = g_strdup_printf ("/v2/" GUN "/_trust/tuf/targets.%s%.32s.json", sha_t, sha_t);
    g_autoptr (Resp) r1 = get (f, p1);
    g_autoptr (Resp) r2 = get (f, p2);
    assert_not_found (r1, "{}");
    assert_not_found (r2, "{}");
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/1.root.json");
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, f->keys.root_bytes);
    g_assert_cmpstr (header (r, "Cache-Control"), ==, "public, max-age=2592000, s-maxage=2592000");
  }
  {
    g_autoptr (Resp) r0 = get (f, "/v2/" GUN "/_trust/tuf/0.root.json");
    g_autoptr (Resp) r2 = get (f, "/v2/" GUN "/_trust/tuf/2.root.json");
    assert_not_found (r0, "{}");
    assert_not_found (r2, "{}");
  }

  /* the by-hash route wins even though a delegation segment may hold dots:
   * a delegation named like a hash path is matched by hash */
  {
    g_autofree char *p = g_strdup_printf ("/v2/" GUN "/_trust/tuf/targets/a.%s.json", sha_t);
    g_autoptr (Resp) r = get (f, p);
    assert_not_found (r, "{}");
  }
}

static void
test_no_cache_config (Fixture *f, gconstpointer data)
{
  g_autofree char *sha = NULL;
  g_autofree char *path = NULL;

  publish_initial_http (f);
  sha = notary_sha256_hex (f->keys.root_bytes);
  path = g_strdup_printf ("/v2/" GUN "/_trust/tuf/root.%s.json", sha);
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_cmpstr (header (r, "Cache-Control"), ==, "max-age=0, no-cache, no-store");
    g_assert_cmpstr (header (r, "Pragma"), ==, "no-cache");
  }
  {
    g_autoptr (Resp) r = get (f, path);
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_cmpstr (header (r, "Cache-Control"), ==, "max-age=0, no-cache, no-store");
    g_assert_cmpstr (header (r, "Pragma"), ==, "no-cache");
  }
}

/* The reference sends the cleaned path (+ query) as a relative Location.
 * libsoup's set_redirect makes it absolute on this server's origin, which
 * clients treat the same; accept that form too but nothing else. */
static void
assert_location (Fixture *f, Resp *r, const char *path)
{
  const char *loc = header (r, "Location");
  g_assert_nonnull (loc);
  if (g_str_has_prefix (loc, f->base))
    loc += strlen (f->base);
  g_assert_cmpstr (loc, ==, path);
}

static void
test_path_cleaning (Fixture *f, gconstpointer data)
{
  {
    g_autoptr (Resp) r = get (f, "/v2//" GUN "/_trust//tuf/root.json");
    g_assert_cmpuint (r->status, ==, 301);
    assert_location (f, r, "/v2/" GUN "/_trust/tuf/root.json");
  }
  {
    g_autoptr (Resp) r = get (f, "/v2//_trust/changefeed?records=5&change_id=1");
    g_assert_cmpuint (r->status, ==, 301);
    assert_location (f, r, "/v2/_trust/changefeed?records=5&change_id=1");
  }
  {
    /* a trailing slash is kept: already clean */
    g_autoptr (Resp) r = get (f, "/v2/");
    g_assert_cmpuint (r->status, ==, 200);
  }
  /* dot segments, sent verbatim (the client URI parser would remove
   * them).  libsoup's server already resolves them while parsing the
   * request line, so the handler sees the clean path: either a redirect or
   * the clean path's answer is right, never another GUN's data. */
  publish_initial_http (f);
  {
    g_autoptr (GUri) uri = g_uri_build (G_URI_FLAGS_ENCODED, "http", NULL, "127.0.0.1",
                                        notary_http_server_get_port (f->http), "/v2/x/../" GUN "/_trust/tuf/./root.json",
                                        NULL, NULL);
    g_autoptr (SoupMessage) msg = soup_message_new_from_uri ("GET", uri);
    g_autoptr (Resp) r = send_msg (f, msg);
    if (r->status == 301)
      assert_location (f, r, "/v2/" GUN "/_trust/tuf/root.json");
    else
      {
        g_assert_cmpuint (r->status, ==, 200);
        assert_bytes (r, f->keys.root_bytes);
      }
  }
  {
    g_autofree char *c1 = notary_http_clean_path ("/a/b/../c/./d/");
    g_autofree char *c2 = notary_http_clean_path ("/../a//b");
    g_autofree char *c3 = notary_http_clean_path ("/v2/");
    g_assert_cmpstr (c1, ==, "/a/c/d/");
    g_assert_cmpstr (c2, ==, "/a/b");
    g_assert_cmpstr (c3, ==, "/v2/");
  }
}

/* A bearer token of 12 KB (a registry's JWT with a certificate chain
 * and many grants) is a header the server must take. */
static void
test_big_header (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strconcat (f->base, "/v2/", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *token = g_strnfill (12 * 1024, 'a');
  g_autofree char *value = g_strconcat ("Bearer ", token, NULL);
  g_autoptr (Resp) r = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
  r = send_msg (f, msg);
  g_assert_cmpuint (r->status, ==, 200);
}

static void
test_catch_all (Fixture *f, gconstpointer data)
{
  static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
  static const char *const paths[] = { "/", "/nothing", "/v2", "/v2/" GUN "/_trust/tuf/root.key",
                                       "/v2/" GUN "/_trust/tuf/foo.json", "/v2/" GUN "/_trust/tuf/root.json" };

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    for (guint j = 0; j < G_N_ELEMENTS (paths); j++)
      {
        g_autoptr (Resp) r = NULL;
        /* POST/PUT/DELETE of a metadata file and GET of anything else */
        if (g_str_equal (methods[i], "GET") && g_str_has_suffix (paths[j], "root.json"))
          continue;
        g_test_message ("%s %s", methods[i], paths[j]);
        r = http (f, methods[i], paths[j], NULL, NULL);
        assert_not_found (r, NULL);
      }
  {
    g_autoptr (Resp) r = http (f, "HEAD", "/v2/" GUN "/_trust/tuf/root.json", NULL, NULL);
    g_assert_cmpuint (r->status, ==, 404);
    g_assert_cmpstr (header (r, "Content-Type"), ==, JSON_CT);
  }
  {
    g_autoptr (Resp) r = http (f, "PATCH", "/v2/" GUN "/_trust/tuf/", NULL, NULL);
    g_assert_cmpuint (r->status, ==, 405);
    g_assert_cmpuint (g_bytes_get_size (r->body), ==, 0);
  }
  {
    g_autoptr (Resp) r = http (f, "OPTIONS", "/v2/", NULL, NULL);
    g_assert_cmpuint (r->status, ==, 405);
    g_assert_cmpuint (g_bytes_get_size (r->body), ==, 0);
  }
}

static void
test_health_and_metrics (Fixture *f, gconstpointer data)
{
  {
    g_autoptr (Resp) r = get (f, "/_notary_server/health");
    g_assert_cmpuint (r->status, ==, 200);
    assert_body (r, "{}");
    g_assert_cmpstr (header (r, "Content-Type"), ==, JSON_CT);
  }
  {
    g_autoptr (Resp) r1 = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    g_autoptr (Resp) r = get (f, "/metrics");
    g_autofree char *text = NULL;
    g_assert_cmpuint (r->status, ==, 200);
    text = g_strndup (g_bytes_get_data (r->body, NULL), g_bytes_get_size (r->body));
    g_assert_nonnull (strstr (text, "notary_server_http_requests_total"));
    g_assert_nonnull (strstr (text, "operation=\"GetRole\""));
  }
}

/* ---- POST update errors ------------------------------------------------------------- */

static void
test_post_malformed_upload (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) b = g_bytes_new_static ("{}", 2);
  {
    g_autoptr (Resp) r = http (f, "POST", "/v2/" GUN "/_trust/tuf/", "application/json", b);
    assert_error (r, 400, "MALFORMED_UPLOAD", MSG_MALFORMED_UPLOAD, NULL);
  }
  {
    g_autoptr (Resp) r = http (f, "POST", "/v2/" GUN "/_trust/tuf/", NULL, NULL);
    assert_error (r, 400, "MALFORMED_UPLOAD", MSG_MALFORMED_UPLOAD, NULL);
  }
  {
    /* multipart without a boundary, and a truncated stream */
    g_autoptr (GBytes) junk = g_bytes_new_static ("--XyZ\r\nContent-Disposition: form-data; filename=\"root\"\r\n\r\n{", 58);
    g_autoptr (Resp) r1 = http (f, "POST", "/v2/" GUN "/_trust/tuf/", "multipart/form-data", b);
    g_autoptr (Resp) r2 = http (f, "POST", "/v2/" GUN "/_trust/tuf/", "multipart/form-data; boundary=XyZ", junk);
    assert_error (r1, 400, "MALFORMED_UPLOAD", MSG_MALFORMED_UPLOAD, NULL);
    assert_error (r2, 400, "MALFORMED_UPLOAD", MSG_MALFORMED_UPLOAD, NULL);
  }
}

static void
test_post_part_errors (Fixture *f, gconstpointer data)
{
  {
    g_autoptr (Resp) r = post_raw_part (f, "form-data; name=\"files\"", "{}");
    assert_error (r, 400, "NO_FILENAME", "No file/role name provided.", NULL);
  }
  {
    g_autoptr (Resp) r = post_raw_part (f, "form-data; name=\"files\"; filename=\".json\"", "{}");
    assert_error (r, 400, "NO_FILENAME", "No file/role name provided.", NULL);
  }
  {
    g_autoptr (Resp) r = post_raw_part (f, "form-data; name=\"files\"; filename=\"foo\"", "{}");
    assert_error (r, 400, "INVALID_ROLE", "The role you are attempting to operate on is invalid.", "\"foo\"");
  }
  {
    /* Not UTF-8, and HTML-sensitive: the body stays valid JSON, the bad
     * byte a U+FFFD (found by fuzz/fuzz-http).  The mhd engine hands the
     * filename on as sent and the detail writes the byte as \ufffd, as Go
     * does; libsoup has already made the header valid UTF-8 (a raw
     * U+FFFD). */
    g_autoptr (Resp) r = post_raw_part (f, "form-data; name=\"files\"; filename=\"ro\xfft<x>\"", "{}");
    gsize len;
    const char *body = g_bytes_get_data (r->body, &len);
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) parsed = notary_json_parse (body, (gssize) len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (r->status, ==, 400);
    JsonObject *e = json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (parsed), "errors"), 0);
    g_assert_cmpstr (json_object_get_string_member (e, "code"), ==, "INVALID_ROLE");
    g_assert_cmpstr (json_object_get_string_member (e, "detail"), ==, "ro\xef\xbf\xbdt<x>");
    /* Either way the core escapes < and > as Go does. */
    g_assert_nonnull (g_strstr_len (body, (gssize) len, "t\\u003cx\\u003e\"}]}"));
  }
  {
    g_autoptr (Resp) r = post_raw_part (f, "form-data; name=\"files\"; filename=\"targets/A.json\"", "{}");
    assert_error (r, 400, "INVALID_ROLE", "The role you are attempting to operate on is invalid.",
                  "\"targets/A\"");
  }
  {
    g_autoptr (Resp) r = post_raw_part (f, "form-data; name=\"files\"; filename=\"root.json\"", "not json");
    assert_error (r, 400, "MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", NULL);
  }
  {
    /* A delegation named to the storage's limit (255 bytes): its part
     * header still fits the splitter's buffer, so the part is read (and its
     * JSON refused) rather than the whole form. */
    g_autofree char *role = g_strnfill (255, 'a');
    g_autofree char *disposition = NULL;
    memcpy (role, "targets/", 8);
    disposition = g_strdup_printf ("form-data; name=\"files\"; filename=\"%s\"", role);
    g_autoptr (Resp) r = post_raw_part (f, disposition, "not json");
    assert_error (r, 400, "MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", NULL);
  }
  {
    /* an unsigned top-level field (TUF-01-001) is malformed too */
    g_autoptr (Resp) r = post_raw_part (
        f, "form-data; name=\"files\"; filename=\"targets\"",
        "{\"signed\":{\"_type\":\"Targets\",\"expires\":\"2030-01-01T00:00:00Z\",\"version\":1},\"signatures\":[],"
        "\"x\":1}");
    assert_error (r, 400, "MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", NULL);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    assert_not_found (r, "{}");
  }
}

/* POST @text as a multipart body with boundary XyZ. */
static Resp *
post_form_text (Fixture *f, const char *text)
{
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));
  return http (f, "POST", "/v2/" GUN "/_trust/tuf/", "multipart/form-data; boundary=XyZ", body);
}

/* The shapes of form a transport's splitter must get right (each engine
 * splits with its own library). */
static void
test_post_form_shapes (Fixture *f, gconstpointer data)
{
  {
    /* the client's publish of an empty changelist: a close delimiter alone */
    g_autoptr (Resp) r = post_form_text (f, "\r\n--XyZ--\r\n");
    g_assert_cmpuint (r->status, ==, 200);
  }
  {
    /* no delimiter at all is not a form without parts */
    g_autoptr (Resp) r = post_form_text (f, "{}");
    assert_error (r, 400, "MALFORMED_UPLOAD", MSG_MALFORMED_UPLOAD, NULL);
  }
  {
    g_autoptr (Resp) r = post_form_text (f, "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; "
                                            "filename=\"root\"\r\n\r\n\r\n--XyZ--\r\n");
    assert_error (r, 400, "MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", NULL);
  }
  {
    /* the first bad part answers */
    g_autoptr (Resp) r = post_form_text (f, "--XyZ\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n{}\r\n"
                                            "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; "
                                            "filename=\"foo\"\r\n\r\n{}\r\n--XyZ--\r\n");
    assert_error (r, 400, "NO_FILENAME", "No file/role name provided.", NULL);
  }
  {
    /* a part's JSON is read before the next part's name */
    g_autoptr (Resp) r = post_form_text (f, "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; "
                                            "filename=\"root\"\r\n\r\nnot json\r\n"
                                            "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; "
                                            "filename=\"foo\"\r\n\r\n{}\r\n--XyZ--\r\n");
    assert_error (r, 400, "MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", NULL);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    assert_not_found (r, "{}");
  }
  {
    /* parts far bigger than a parser's buffer arrive whole, byte for byte */
    const char *names[] = { "root", "targets", "snapshot", NULL };
    JsonObject *b = fx_targets_body (1, f->keys.now + 3 * FX_YEAR);
    FxKey *tk[] = { f->keys.targets, NULL };
    GBytes *files[3];
    g_autoptr (Resp) r = NULL;
    g_autoptr (Resp) got = NULL;

    for (int i = 0; i < 2000; i++)
      {
        g_autofree char *name = g_strdup_printf ("files/%04d", i);
        fx_targets_add_target (b, name, name);
      }
    f->keys.root_bytes = fx_make_root (&f->keys, 1);
    f->keys.targets_bytes = fx_sign (b, tk);
    f->keys.snapshot_bytes = fx_make_snapshot (&f->keys, 1, f->keys.root_bytes, f->keys.targets_bytes);
    g_assert_cmpuint (g_bytes_get_size (f->keys.targets_bytes), >, 100 * 1024);
    files[0] = f->keys.root_bytes;
    files[1] = f->keys.targets_bytes;
    files[2] = f->keys.snapshot_bytes;
    r = post_files (f, GUN, names, files);
    g_assert_cmpuint (r->status, ==, 200);
    got = get (f, "/v2/" GUN "/_trust/tuf/targets.json");
    g_assert_cmpuint (got->status, ==, 200);
    g_assert_true (g_bytes_equal (got->body, f->keys.targets_bytes));
  }
}

static void
test_post_invalid_update (Fixture *f, gconstpointer data)
{
  const char *names[] = { "targets", NULL };
  g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
  GBytes *files[] = { t };
  g_autoptr (Resp) r = post_files (f, GUN, names, files);

  assert_error (r, 400, "INVALID_UPDATE", MSG_INVALID_UPDATE,
                "{\"Name\":\"ErrValidation\",\"Error\":{\"Msg\":\"no pre-existing root and no root provided in "
                "update.\"}}");
  g_assert_cmpuint (g_bytes_get_size (r->body), <, 1024);
}

static void
test_post_bad_hierarchy (Fixture *f, gconstpointer data)
{
  const char *names[] = { "targets", NULL };
  g_autoptr (GBytes) t = NULL;
  GBytes *files[1];
  g_autoptr (Resp) r = NULL;

  publish_initial_http (f);
  t = fx_make_targets (&f->keys, 2);
  files[0] = t;
  r = post_files (f, GUN, names, files);
  assert_error (r, 400, "INVALID_UPDATE", MSG_INVALID_UPDATE,
                "{\"Name\":\"ErrBadHierarchy\",\"Error\":{\"Missing\":\"snapshot\",\"Msg\":\"no snapshot was "
                "included in update and server does not hold current snapshot key for repository\"}}");
}

static void
test_post_version_conflict (Fixture *f, gconstpointer data)
{
  const char *names[] = { "root", "targets", "snapshot", NULL };
  GBytes *files[3];
  g_autoptr (Resp) r = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  publish_initial_http (f);
  before = stored_timestamp_sha (f);
  files[0] = f->keys.root_bytes;
  files[1] = f->keys.targets_bytes;
  files[2] = f->keys.snapshot_bytes;
  r = post_files (f, GUN, names, files);
  assert_error (r, 400, "VERSION", "A newer version of metadata is already available.", "{}");
  after = stored_timestamp_sha (f);
  g_assert_cmpstr (before, ==, after);
}

static void
test_validation_detail_size (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) msg = g_string_new (NULL);
  g_autofree char *detail = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonNode) parsed = NULL;
  g_autoptr (GError) error = NULL;

  /* multi-byte characters so the cut has to respect UTF-8 */
  while (msg->len < 5000)
    g_string_append (msg, "\xc3\xa9\"<x>");
  detail = notary_http_validation_detail ("ErrBadTargets", msg->str);
  body = notary_http_error_body (NOTARY_HTTP_INVALID_UPDATE, detail);
  g_assert_cmpuint (g_bytes_get_size (body), <, 1024);
  parsed = notary_json_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  g_assert_true (g_utf8_validate (g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL));
  {
    JsonObject *e = json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (parsed), "errors"), 0);
    JsonObject *d = json_object_get_object_member (e, "detail");
    g_assert_cmpstr (json_object_get_string_member (d, "Name"), ==, "ErrBadTargets");
    g_assert_true (g_str_has_prefix (msg->str,
                                     json_object_get_string_member (json_object_get_object_member (d, "Error"), "Msg")));
  }
}

/* Codes the in-process server cannot be made to produce: the bodies. */
static void
test_error_bodies (Fixture *f, gconstpointer data)
{
  static const struct
  {
    NotaryHttpErrorCode code;
    guint status;
    const char *body;
  } cases[] = {
    { NOTARY_HTTP_NO_STORAGE, 500,
      "{\"errors\":[{\"code\":\"NO_STORAGE\",\"message\":\"The server is misconfigured and has no storage.\"}]}\n" },
    { NOTARY_HTTP_UPDATING, 500,
      "{\"errors\":[{\"code\":\"UPDATING\",\"message\":\"An error has occurred while updating the TUF "
      "repository.\"}]}\n" },
    { NOTARY_HTTP_GENERIC_NOT_FOUND, 404,
      "{\"errors\":[{\"code\":\"GENERIC_NOT_FOUND\",\"message\":\"You have requested a resource that does not "
      "exist.\"}]}\n" },
    { NOTARY_HTTP_NO_CRYPTOSERVICE, 500,
      "{\"errors\":[{\"code\":\"NO_CRYPTOSERVICE\",\"message\":\"The server does not have a signing service "
      "configured.\"}]}\n" },
    { NOTARY_HTTP_NO_KEYALGORITHM, 500,
      "{\"errors\":[{\"code\":\"NO_KEYALGORITHM\",\"message\":\"The server does not have a key algorithm "
      "configured.\"}]}\n" },
    { NOTARY_HTTP_UNKNOWN, 500, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"unknown error\"}]}\n" },
    { NOTARY_HTTP_UNAUTHORIZED, 401,
      "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}\n" },
    { NOTARY_HTTP_INVALID_GUN, 400,
      "{\"errors\":[{\"code\":\"INVALID_GUN\",\"message\":\"The server does not support actions on images of this "
      "name.\"}]}\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) b = notary_http_error_body (cases[i].code, NULL);
      g_assert_cmpuint (notary_http_error_status (cases[i].code), ==, cases[i].status);
      g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), cases[i].body, strlen (cases[i].body));
    }
}

static void
test_post_delegation_filename (Fixture *f, gconstpointer data)
{
  g_autoptr (FxKey) d = fx_key_new ("ecdsa");
  FxKey *dk[] = { d, NULL }, *tk[] = { f->keys.targets, NULL }, *sk[] = { f->keys.snapshot, NULL };
  JsonObject *tb = NULL;
  g_autoptr (GBytes) t = NULL;
  g_autoptr (GBytes) rel = NULL;
  g_autoptr (GBytes) s = NULL;
  JsonObject *sb = NULL;
  const char *names[] = { "targets.json", "targets/releases", "snapshot", NULL };
  GBytes *files[3];

  publish_initial_http (f);
  tb = fx_targets_body (2, f->now + FX_YEAR);
  fx_targets_add_delegation (tb, "targets/releases", dk, 1);
  t = fx_sign (tb, tk);
  rel = fx_sign (fx_targets_body (1, f->now + FX_YEAR), dk);
  sb = fx_meta_body ("Snapshot", 2, f->now + FX_YEAR);
  fx_meta_add (sb, "root", f->keys.root_bytes);
  fx_meta_add (sb, "targets", t);
  fx_meta_add (sb, "targets/releases", rel);
  s = fx_sign (sb, sk);
  files[0] = t;
  files[1] = rel;
  files[2] = s;
  {
    g_autoptr (Resp) r = post_files (f, GUN, names, files);
    g_assert_cmpuint (r->status, ==, 200);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/targets/releases.json");
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, rel);
  }
  {
    g_autofree char *sha = notary_sha256_hex (rel);
    g_autofree char *p = g_strdup_printf ("/v2/" GUN "/_trust/tuf/targets/releases.%s.json", sha);
    g_autoptr (Resp) r = get (f, p);
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, rel);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/1.targets/releases.json");
    g_assert_cmpuint (r->status, ==, 200);
    assert_bytes (r, rel);
  }
}

/* ---- keys ------------------------------------------------------------------------------ */

static void
assert_key_json (Resp *r, char **out_public)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (r->body, NULL), g_bytes_get_size (r->body));
  g_autoptr (GRegex) re = g_regex_new ("^\\{\"keytype\":\"ed25519\",\"keyval\":\\{\"public\":\"([A-Za-z0-9+/=]+)\","
                                       "\"private\":null\\}\\}$",
                                       0, 0, NULL);
  g_autoptr (GMatchInfo) mi = NULL;
  g_autofree char *pub = NULL;
  gsize len = 0;
  g_autofree guchar *raw = NULL;

  g_assert_cmpuint (r->status, ==, 200);
  g_test_message ("key: %s", text);
  g_assert_true (g_regex_match (re, text, 0, &mi));
  pub = g_match_info_fetch (mi, 1);
  raw = g_base64_decode (pub, &len);
  g_assert_cmpuint (len, ==, 32);
  g_assert_null (header (r, "Cache-Control"));
  *out_public = g_steal_pointer (&pub);
}

static void
test_keys (Fixture *f, gconstpointer data)
{
  g_autofree char *k1 = NULL, *k2 = NULL, *k3 = NULL, *k4 = NULL, *k5 = NULL;

  {
    g_autoptr (Resp) r1 = get (f, "/v2/example.com/new/_trust/tuf/timestamp.key");
    g_autoptr (Resp) r2 = get (f, "/v2/example.com/new/_trust/tuf/timestamp.key");
    assert_key_json (r1, &k1);
    assert_key_json (r2, &k2);
    g_assert_cmpstr (k1, !=, k2); /* not idempotent before the first publish */
  }
  publish_initial_http (f);
  {
    g_autoptr (Resp) r3 = get (f, "/v2/" GUN "/_trust/tuf/timestamp.key");
    g_autoptr (Resp) r4 = http (f, "POST", "/v2/" GUN "/_trust/tuf/timestamp.key", NULL, NULL);
    g_autoptr (Resp) r5 = http (f, "POST", "/v2/" GUN "/_trust/tuf/snapshot.key", NULL, NULL);
    g_autofree char *listed = NULL;
    gsize len;
    const guchar *d = g_bytes_get_data (notary_key_get_public (f->keys.timestamp->pub), &len);
    listed = g_base64_encode (d, len);
    assert_key_json (r3, &k3);
    assert_key_json (r4, &k4);
    assert_key_json (r5, &k5);
    g_assert_cmpstr (k3, ==, listed);
    g_assert_cmpstr (k4, !=, listed);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/targets.key");
    assert_not_found (r, NULL);
  }
}

/* ---- delete ------------------------------------------------------------------------------ */

static void
test_delete (Fixture *f, gconstpointer data)
{
  publish_initial_http (f);
  {
    g_autoptr (Resp) r = http (f, "DELETE", "/v2/" GUN "/_trust/tuf/", NULL, NULL);
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_cmpuint (g_bytes_get_size (r->body), ==, 0);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    assert_not_found (r, "{}");
  }
  {
    /* nothing there: still 200 */
    g_autoptr (Resp) r = http (f, "DELETE", "/v2/example.com/never/_trust/tuf/", NULL, NULL);
    g_assert_cmpuint (r->status, ==, 200);
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/changefeed?records=10");
    g_autoptr (JsonNode) n = notary_json_parse (g_bytes_get_data (r->body, NULL), g_bytes_get_size (r->body), NULL);
    JsonArray *recs;
    JsonObject *last;
    g_assert_cmpuint (r->status, ==, 200);
    recs = json_object_get_array_member (json_node_get_object (n), "records");
    g_assert_cmpuint (json_array_get_length (recs), ==, 2);
    last = json_array_get_object_element (recs, 1);
    g_assert_cmpstr (json_object_get_string_member (last, "Category"), ==, "deletion");
    g_assert_cmpint (json_object_get_int_member (last, "Version"), ==, 0);
    g_assert_cmpstr (json_object_get_string_member (last, "SHA256"), ==, "");
  }
}

/* ---- concurrent publishes ------------------------------------------------------------ */

#define N_PUBLISHERS 8

typedef struct
{
  const char *base;
  char *gun;
  FxRepoKeys keys;
  GBytes *files[3];
  guint status;
  GCond *go;
  GMutex *lock;
  gboolean *started;
} Publisher;

/* One client on its own connection, as the bench's senders and a fleet of
 * CI jobs are: all start together, so whichever workers accepted their
 * connections, the publishes run at once on the handler pool. */
static gpointer
publisher_run (gpointer data)
{
  Publisher *p = data;
  const char *names[] = { "root", "targets", "snapshot", NULL };
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = publish_message (p->base, p->gun, names, p->files);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  g_mutex_lock (p->lock);
  while (!*p->started)
    g_cond_wait (p->go, p->lock);
  g_mutex_unlock (p->lock);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  p->status = soup_message_get_status (msg);
  return NULL;
}

static void
test_concurrent_publishes (Fixture *f, gconstpointer data)
{
  Publisher pubs[N_PUBLISHERS];
  GThread *threads[N_PUBLISHERS];
  GMutex lock;
  GCond go;
  gboolean started = FALSE;

  g_mutex_init (&lock);
  g_cond_init (&go);
  for (guint i = 0; i < N_PUBLISHERS; i++)
    {
      Publisher *p = &pubs[i];
      memset (p, 0, sizeof *p);
      p->base = f->base;
      p->gun = g_strdup_printf ("example.com/concurrent-%u", i);
      p->lock = &lock;
      p->go = &go;
      p->started = &started;
      fx_repo_keys_init (&p->keys, &f->fx, p->gun, f->now);
      p->files[0] = p->keys.root_bytes = fx_make_root (&p->keys, 1);
      p->files[1] = p->keys.targets_bytes = fx_make_targets (&p->keys, 1);
      p->files[2] = p->keys.snapshot_bytes
          = fx_make_snapshot (&p->keys, 1, p->keys.root_bytes, p->keys.targets_bytes);
      threads[i] = g_thread_new ("publisher", publisher_run, p);
    }
  g_mutex_lock (&lock);
  started = TRUE;
  g_cond_broadcast (&go);
  g_mutex_unlock (&lock);
  for (guint i = 0; i < N_PUBLISHERS; i++)
    g_thread_join (threads[i]);

  for (guint i = 0; i < N_PUBLISHERS; i++)
    {
      Publisher *p = &pubs[i];
      g_autofree char *root_path = g_strdup_printf ("/v2/%s/_trust/tuf/root.json", p->gun);
      g_autofree char *ts_path = g_strdup_printf ("/v2/%s/_trust/tuf/timestamp.json", p->gun);
      g_assert_cmpuint (p->status, ==, 200);
      {
        g_autoptr (Resp) r = get (f, root_path);
        g_assert_cmpuint (r->status, ==, 200);
        assert_bytes (r, p->keys.root_bytes);
      }
      {
        g_autoptr (Resp) r = get (f, ts_path);
        g_assert_cmpuint (r->status, ==, 200);
      }
      fx_repo_keys_clear (&p->keys);
      g_free (p->gun);
    }
  g_cond_clear (&go);
  g_mutex_clear (&lock);
}

/* ---- changefeed ------------------------------------------------------------------------- */

static JsonArray *
changefeed (Fixture *f, const char *path, JsonNode **out_node)
{
  g_autoptr (Resp) r = get (f, path);
  g_autoptr (GError) error = NULL;
  JsonObject *o;
  g_test_message ("%s -> %.*s", path, (int) g_bytes_get_size (r->body), (const char *) g_bytes_get_data (r->body, NULL));
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_null (header (r, "Cache-Control"));
  *out_node = notary_json_parse (g_bytes_get_data (r->body, NULL), g_bytes_get_size (r->body), &error);
  g_assert_no_error (error);
  o = json_node_get_object (*out_node);
  g_assert_cmpuint (json_object_get_size (o), ==, 2);
  g_assert_cmpint (json_object_get_int_member (o, "count"), ==,
                   json_array_get_length (json_object_get_array_member (o, "records")));
  return json_object_get_array_member (o, "records");
}

static const char *
record_id (JsonArray *a, guint i)
{
  return json_object_get_string_member (json_array_get_object_element (a, i), "ID");
}

static void
test_changefeed (Fixture *f, gconstpointer data)
{
  g_autofree char *ts_sha = NULL;

  publish_initial_http (f);
  ts_sha = stored_timestamp_sha (f);
  /* two more timestamps: regenerate by rotating targets with a new snapshot */
  for (gint64 v = 2; v <= 3; v++)
    {
      const char *names[] = { "targets", "snapshot", NULL };
      g_autoptr (GBytes) t = fx_make_targets (&f->keys, v);
      g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, v, f->keys.root_bytes, t);
      GBytes *files[] = { t, s };
      g_autoptr (Resp) r = post_files (f, GUN, names, files);
      g_assert_cmpuint (r->status, ==, 200);
    }
  /* another GUN's change */
  {
    FxRepoKeys other;
    fx_repo_keys_init (&other, &f->fx, "example.com/other", f->now);
    fx_publish_initial (&f->fx, &other);
    fx_repo_keys_clear (&other);
  }

  {
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/" GUN "/_trust/changefeed?records=10", &n);
    JsonObject *first;
    g_autoptr (GList) members = NULL;
    g_assert_cmpuint (json_array_get_length (a), ==, 3);
    first = json_array_get_object_element (a, 0);
    g_assert_cmpuint (json_object_get_size (first), ==, 6);
    g_assert_cmpstr (record_id (a, 0), ==, "1");
    g_assert_cmpstr (json_object_get_string_member (first, "GUN"), ==, GUN);
    g_assert_cmpint (json_object_get_int_member (first, "Version"), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (first, "SHA256"), ==, ts_sha);
    g_assert_cmpstr (json_object_get_string_member (first, "Category"), ==, "update");
    g_assert_true (notary_time_parse_rfc3339 (json_object_get_string_member (first, "CreatedAt"), &(gint64){ 0 },
                                              NULL));
  }
  {
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/_trust/changefeed?records=0", &n); /* 0 -> 100 */
    g_assert_cmpuint (json_array_get_length (a), ==, 4);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 3), "GUN"), ==,
                     "example.com/other");
  }
  {
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/_trust/changefeed?records=2&change_id=1", &n);
    g_assert_cmpuint (json_array_get_length (a), ==, 2);
    g_assert_cmpstr (record_id (a, 0), ==, "2");
    g_assert_cmpstr (record_id (a, 1), ==, "3");
  }
  {
    /* the newest two, oldest first */
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/_trust/changefeed?records=2&change_id=-1", &n);
    g_assert_cmpuint (json_array_get_length (a), ==, 2);
    g_assert_cmpstr (record_id (a, 0), ==, "3");
    g_assert_cmpstr (record_id (a, 1), ==, "4");
  }
  {
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/_trust/changefeed?records=-2", &n);
    g_assert_cmpuint (json_array_get_length (a), ==, 2);
    g_assert_cmpstr (record_id (a, 0), ==, "3");
    g_assert_cmpstr (record_id (a, 1), ==, "4");
  }
  {
    /* the two before change 4 */
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/_trust/changefeed?records=-2&change_id=4", &n);
    g_assert_cmpuint (json_array_get_length (a), ==, 2);
    g_assert_cmpstr (record_id (a, 0), ==, "2");
    g_assert_cmpstr (record_id (a, 1), ==, "3");
  }
  {
    g_autoptr (JsonNode) n = NULL;
    JsonArray *a = changefeed (f, "/v2/_trust/changefeed?records=10&change_id=", &n);
    g_assert_cmpuint (json_array_get_length (a), ==, 4);
  }
}

static void
test_changefeed_params (Fixture *f, gconstpointer data)
{
  static const char *const bad_records[][2] = {
    { "", "strconv.ParseInt: parsing \\\"\\\": invalid syntax" },
    { "?records=", "strconv.ParseInt: parsing \\\"\\\": invalid syntax" },
    { "?records=abc", "strconv.ParseInt: parsing \\\"abc\\\": invalid syntax" },
    { "?records=1.5", "strconv.ParseInt: parsing \\\"1.5\\\": invalid syntax" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad_records); i++)
    {
      g_autofree char *path = g_strconcat ("/v2/_trust/changefeed", bad_records[i][0], NULL);
      g_autofree char *detail = g_strdup_printf ("\"invalid records parameter: %s\"", bad_records[i][1]);
      g_autoptr (Resp) r = get (f, path);
      g_test_message ("%s", path);
      assert_error (r, 400, "INVALID_PARAMETERS", "The parameters provided are not valid.", detail);
    }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/changefeed?records=10&change_id=abc");
    assert_error (r, 400, "INVALID_PARAMETERS", "The parameters provided are not valid.", "{}");
  }
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/changefeed?records=10&change_id=99999999999");
    assert_error (r, 400, "INVALID_PARAMETERS", "The parameters provided are not valid.", "{}");
  }
}

/* Go's strconv error text differs for a number outside 32 bits. */
static void
test_changefeed_records_range (Fixture *f, gconstpointer data)
{
  g_autoptr (Resp) r = get (f, "/v2/_trust/changefeed?records=99999999999");
  assert_error (r, 400, "INVALID_PARAMETERS", "The parameters provided are not valid.",
                "\"invalid records parameter: strconv.ParseInt: parsing \\\"99999999999\\\": value out of range\"");
}

/* ---- GUN checks ------------------------------------------------------------------------ */

static void
test_gun_prefixes (Fixture *f, gconstpointer data)
{
  const char *names[] = { "root", NULL };
  g_autoptr (GBytes) root = fx_make_root (&f->keys, 1);
  GBytes *files[] = { root };
  {
    g_autoptr (Resp) r = post_files (f, "bad.io/x", names, files);
    assert_error (r, 400, "INVALID_GUN", "The server does not support actions on images of this name.",
                  "\"Require GUNs with prefix: [example.com/ other.io/]\"");
  }
  {
    static const char *const paths[] = {
      "/v2/bad.io/x/_trust/tuf/root.json", "/v2/bad.io/x/_trust/tuf/1.root.json",
      "/v2/bad.io/x/_trust/tuf/timestamp.key", "/v2/bad.io/x/_trust/changefeed?records=1",
      "/v2/bad.io/x/_trust/tuf/root.0000000000000000000000000000000000000000000000000000000000000000.json",
    };
    for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
      {
        g_autoptr (Resp) r = get (f, paths[i]);
        g_test_message ("%s", paths[i]);
        assert_not_found (r, NULL);
      }
  }
  {
    g_autoptr (Resp) r1 = http (f, "DELETE", "/v2/bad.io/x/_trust/tuf/", NULL, NULL);
    g_autoptr (Resp) r2 = http (f, "POST", "/v2/bad.io/x/_trust/tuf/snapshot.key", NULL, NULL);
    assert_not_found (r1, NULL);
    assert_not_found (r2, NULL);
  }
  /* allowed prefix works normally */
  publish_initial_http (f);
  {
    g_autoptr (Resp) r = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    g_assert_cmpuint (r->status, ==, 200);
  }
  {
    /* the global changefeed has no GUN: not filtered */
    g_autoptr (Resp) r = get (f, "/v2/_trust/changefeed?records=1");
    g_assert_cmpuint (r->status, ==, 200);
  }
}

static void
test_invalid_gun (Fixture *f, gconstpointer data)
{
  static const char *const guns[] = { "a%20b", "a%0Ab", "a/_trust/b", "a%3Fb" };
  /* refused by libsoup before routing (400, no body) or redirected by path
   * cleaning ("%2Fa" decodes to an empty segment): must never succeed */
  static const char *const odd[] = { "x%00y", "a%2F..%2Fb", "%2Fa" };
  const char *names[] = { "root", NULL };
  g_autoptr (GBytes) root = fx_make_root (&f->keys, 1);
  GBytes *files[] = { root };

  for (guint i = 0; i < G_N_ELEMENTS (guns); i++)
    {
      g_autofree char *p = g_strdup_printf ("/v2/%s/_trust/tuf/root.json", guns[i]);
      g_autoptr (Resp) r1 = post_files (f, guns[i], names, files);
      g_autoptr (Resp) r2 = get (f, p);
      g_test_message ("GUN %s: %u %u", guns[i], r1->status, r2->status);
      assert_error (r1, 400, "INVALID_GUN", "The server does not support actions on images of this name.", NULL);
      assert_not_found (r2, NULL);
    }
  for (guint i = 0; i < G_N_ELEMENTS (odd); i++)
    {
      g_autofree char *p = g_strdup_printf ("/v2/%s/_trust/tuf/root.json", odd[i]);
      g_autoptr (Resp) r1 = post_files (f, odd[i], names, files);
      g_autoptr (Resp) r2 = get (f, p);
      g_test_message ("GUN %s: %u %u", odd[i], r1->status, r2->status);
      g_assert_cmpuint (r1->status, >=, 300);
      g_assert_cmpuint (r2->status, >=, 300);
    }
}

static void
test_oversized_body (Fixture *f, gconstpointer data)
{
  const char *names[] = { "root", "targets", "snapshot", NULL };
  g_autoptr (GBytes) r = fx_make_root (&f->keys, 1);
  g_autoptr (GBytes) t = fx_make_targets (&f->keys, 1);
  g_autoptr (GBytes) s = fx_make_snapshot (&f->keys, 1, r, t);
  GBytes *files[] = { r, t, s };
  g_autoptr (Resp) resp = post_files (f, GUN, names, files);

  g_assert_cmpuint (g_bytes_get_size (r), >, 1000);
  g_assert_cmpuint (resp->status, ==, 413);
  g_assert_cmpstr (header (resp, "Content-Type"), ==, JSON_CT);
  {
    g_autoptr (Resp) after = get (f, "/v2/" GUN "/_trust/tuf/root.json");
    assert_not_found (after, "{}");
  }
  /* small requests still work on the same server */
  {
    g_autoptr (Resp) ping = get (f, "/v2/");
    g_assert_cmpuint (ping->status, ==, 200);
  }
}

/* ---- regeneration through HTTP: 500 when the snapshot cannot be refreshed ----------------- */

static void
test_get_unknown_error (Fixture *f, gconstpointer data)
{
  g_autoptr (Resp) r = NULL;
  publish_initial_http (f);
  notary_repo_set_clock (f->fx.repo, f->now + 4 * FX_YEAR);
  r = get (f, "/v2/" GUN "/_trust/tuf/timestamp.json");
  assert_error (r, 500, "UNKNOWN", "unknown error", "{}");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define T(name, fn) g_test_add ("/http/" name, Fixture, NULL, setup, fn, teardown)
#define TC(name, cfg, fn) g_test_add ("/http/" name, Fixture, &cfg, setup, fn, teardown)
  T ("ping", test_ping);
  T ("full-flow", test_full_flow);
  T ("may-block/memory", test_may_block);
  TC ("may-block/database", blocking_storage_config, test_may_block);
  TC ("blocking-storage/full-flow", blocking_storage_config, test_full_flow);
  TC ("blocking-storage/keys", blocking_storage_config, test_keys);
  TC ("blocking-storage/concurrent-connections", blocking_storage_config, test_concurrent_publishes);
  TC ("cache/no-cache", no_cache_config, test_no_cache_config);
  T ("path-cleaning", test_path_cleaning);
  T ("catch-all", test_catch_all);
  T ("big-header", test_big_header);
  T ("health-metrics", test_health_and_metrics);
  T ("post/malformed-upload", test_post_malformed_upload);
  T ("post/part-errors", test_post_part_errors);
  T ("post/form-shapes", test_post_form_shapes);
  T ("post/invalid-update", test_post_invalid_update);
  T ("post/bad-hierarchy", test_post_bad_hierarchy);
  T ("post/version-conflict", test_post_version_conflict);
  T ("post/delegation-filename", test_post_delegation_filename);
  T ("errors/validation-detail-size", test_validation_detail_size);
  T ("errors/bodies", test_error_bodies);
  T ("keys", test_keys);
  T ("delete", test_delete);
  TC ("post/concurrent-connections", two_workers_config, test_concurrent_publishes);
  T ("changefeed/records", test_changefeed);
  T ("changefeed/params", test_changefeed_params);
  TC ("gun/prefixes", prefix_config, test_gun_prefixes);
  T ("gun/invalid", test_invalid_gun);
  TC ("oversized-body", small_body_config, test_oversized_body);
  T ("get/unknown-error", test_get_unknown_error);
  /* last: its own suite, so a failure here does not hide the others */
  T ("reference-compat/changefeed-records-out-of-range", test_changefeed_records_range);
#undef T
#undef TC
  return g_test_run ();
}
