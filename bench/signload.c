/* signload.c — load client for a notary-signer's Sign RPC (bench/run).
 *
 * Drives /proto.Signer/Sign over gRPC with mutual TLS through our `remote`
 * trust-service plugin (notary-signer-remote.so, loaded with GModule), so
 * the same client code measures our notary-signer and the reference one.
 *
 *   signload --plugin SO --port P --ca CA --cert CRT --key KEY
 *            [--host 127.0.0.1] [--algorithm ecdsa] [--callers N]
 *            [--duration S] [--message-bytes B]
 *
 * One key is created (CreateKey, gun "bench.example.com/sign", role
 * "timestamp"), then N threads each open their own plugin instance (the
 * plugin serialises calls on one connection per instance, so N instances
 * give N connections and N calls in flight), sign one warm-up message
 * (connects; not timed), wait for each other, and sign in a loop until the
 * shared deadline.  Prints one JSON object: calls, errors, calls_per_s,
 * p50/p99/max latency in ms, error samples.  Exit status 1 when any call
 * failed or returned a signature of the wrong size, 2 on usage errors.
 * Only 127.0.0.1/localhost is accepted as host.
 */
#include <string.h>

#include <notary/signer-backend.h>

/* GLib < 2.76 has no autoptr for GModule. */
#if !GLIB_CHECK_VERSION(2, 76, 0)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GModule, g_module_close)
#endif

#define MAX_CALLERS 256
#define MAX_DURATION_S 600
#define MAX_ERROR_SAMPLES 5

typedef struct
{
  const NotarySignerVTable *vtable;
  JsonObject *options;
  const char *key_id;
  GBytes *message;
  gsize expected_sig_len; /* 0: any non-empty signature */
  gint64 start_usec;      /* shared start, set once every caller is ready */
  gint64 deadline_usec;
  GMutex lock;
  GCond cond;
  guint ready;
  guint callers;
  gboolean started;
} Shared;

typedef struct
{
  Shared *shared;
  GArray *latencies_usec; /* gint64 per successful call */
  guint64 errors;
  GPtrArray *error_samples;
  gboolean open_failed;
} Caller;

static void
host_log (const NotaryHost *host, NotaryLogLevel level, const char *message)
{
  (void) host;
  if (level >= NOTARY_LOG_WARNING)
    g_printerr ("signload: plugin: %s\n", message);
}

static const NotaryHost bench_host = {
  NOTARY_VERSION_HOST, host_log, "/", "notary-server", NULL,
};

static void
caller_note_error (Caller *c, const char *what)
{
  c->errors++;
  if (c->error_samples->len < MAX_ERROR_SAMPLES)
    g_ptr_array_add (c->error_samples, g_strdup (what));
}

/* Sign once; FALSE (and an error noted) on failure or a bad signature. */
static gboolean
caller_sign (Caller *c, NotarySigner *signer)
{
  Shared *s = c->shared;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) sig = s->vtable->sign (signer, s->key_id, s->message, &error);

  if (sig == NULL)
    {
      caller_note_error (c, error->message);
      return FALSE;
    }
  if (g_bytes_get_size (sig) == 0
      || (s->expected_sig_len != 0 && g_bytes_get_size (sig) != s->expected_sig_len))
    {
      g_autofree char *msg = g_strdup_printf ("signature of %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT,
                                              g_bytes_get_size (sig), s->expected_sig_len);
      caller_note_error (c, msg);
      return FALSE;
    }
  return TRUE;
}

static gpointer
caller_run (gpointer data)
{
  Caller *c = data;
  Shared *s = c->shared;
  g_autoptr (GError) error = NULL;
  NotarySigner *signer = s->vtable->open (&bench_host, s->options, &error);
  gint64 deadline;

  if (signer == NULL)
    {
      c->open_failed = TRUE;
      caller_note_error (c, error->message);
    }
  else
    (void) caller_sign (c, signer); /* dials the connection; not timed */

  /* Everyone starts together so the rate covers N calls in flight. */
  g_mutex_lock (&s->lock);
  s->ready++;
  if (s->ready == s->callers)
    g_cond_broadcast (&s->cond);
  while (!s->started)
    g_cond_wait (&s->cond, &s->lock);
  deadline = s->deadline_usec;
  g_mutex_unlock (&s->lock);

  if (signer == NULL)
    return NULL;
  /* Warm-up failures are not part of the measured rate. */
  c->errors = 0;
  while (g_get_monotonic_time () < deadline)
    {
      gint64 t = g_get_monotonic_time ();
      if (caller_sign (c, signer))
        {
          gint64 dt = g_get_monotonic_time () - t;
          g_array_append_val (c->latencies_usec, dt);
        }
    }
  s->vtable->close (signer);
  return NULL;
}

static gint
cmp_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static double
percentile_ms (GArray *sorted, double p)
{
  gsize k;
  if (sorted->len == 0)
    return 0.0;
  k = (gsize) (p / 100.0 * sorted->len + 0.5);
  k = k == 0 ? 0 : MIN (k - 1, sorted->len - 1);
  return g_array_index (sorted, gint64, k) / 1000.0;
}

/* Load the plugin and check its descriptor before touching its vtable. */
static const NotarySignerVTable *
load_plugin (const char *path, GModule **module_out, GError **error)
{
  g_autoptr (GModule) module = g_module_open (path, G_MODULE_BIND_LOCAL);
  NotaryPluginGetDescFunc get_desc = NULL;
  const NotaryPluginDesc *desc;
  const NotarySignerVTable *vtable;

  if (module == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot load %s: %s", path, g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, NOTARY_PLUGIN_ENTRY_SYMBOL, (gpointer *) &get_desc) || get_desc == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s exports no %s", path, NOTARY_PLUGIN_ENTRY_SYMBOL);
      return NULL;
    }
  desc = get_desc ();
  if (desc->abi_major != NOTARY_PLUGIN_ABI_MAJOR || desc->abi_minor > NOTARY_PLUGIN_ABI_MINOR
      || g_strcmp0 (desc->build_signature, NOTARY_PLUGIN_BUILD_SIGNATURE) != 0
      || desc->kind != NOTARY_PLUGIN_KIND_SIGNER || g_strcmp0 (desc->name, "remote") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s is not a compatible remote trust-service plugin (abi %u.%u, kind %d, name %s)", path,
                   desc->abi_major, desc->abi_minor, (int) desc->kind, desc->name);
      return NULL;
    }
  vtable = desc->vtable;
  if (vtable == NULL || vtable->version < NOTARY_VERSION_SIGNER_VTABLE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s has an old signer vtable", path);
      return NULL;
    }
  *module_out = g_steal_pointer (&module);
  return vtable;
}

/* The canonical TUF key ID: sha256 of {"keytype":T,"keyval":{"private":null,"public":B64}}. */
static char *
key_id_of (const NotaryPublicKey *key)
{
  g_autofree char *b64 = g_base64_encode (g_bytes_get_data (key->public_bytes, NULL),
                                          g_bytes_get_size (key->public_bytes));
  g_autofree char *canon
      = g_strdup_printf ("{\"keytype\":\"%s\",\"keyval\":{\"private\":null,\"public\":\"%s\"}}", key->keytype, b64);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, canon, -1);
}

int
main (int argc, char **argv)
{
  g_autofree char *plugin = NULL, *host = NULL, *ca = NULL, *cert = NULL, *key = NULL, *algorithm = NULL;
  gint port = 0, callers = 8, duration = 10, message_bytes = 300;
  GOptionEntry entries[] = {
    { "plugin", 0, 0, G_OPTION_ARG_FILENAME, &plugin, "notary-signer-remote.so", "SO" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "signer host (127.0.0.1)", "H" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "signer gRPC port", "P" },
    { "ca", 0, 0, G_OPTION_ARG_FILENAME, &ca, "CA for the signer's certificate", "CA" },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "client certificate", "CRT" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key, "client key", "KEY" },
    { "algorithm", 0, 0, G_OPTION_ARG_STRING, &algorithm, "key algorithm (ecdsa)", "A" },
    { "callers", 0, 0, G_OPTION_ARG_INT, &callers, "concurrent callers (8)", "N" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &duration, "seconds (10)", "S" },
    { "message-bytes", 0, 0, G_OPTION_ARG_INT, &message_bytes, "bytes signed per call (300)", "B" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- load a notary-signer's Sign RPC");
  g_autoptr (GError) error = NULL;
  g_autoptr (GModule) module = NULL;
  g_autoptr (JsonObject) options = json_object_new ();
  g_autoptr (JsonBuilder) out = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) samples = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *key_id = NULL, *json = NULL;
  g_autofree guint8 *msg = NULL;
  g_autofree Caller *cs = NULL;
  g_autofree GThread **threads = NULL;
  const NotarySignerVTable *vtable;
  NotarySigner *admin;
  NotaryPublicKey *pub;
  Shared shared = { 0 };
  guint64 errors = 0;
  gint64 t_start, t_end;
  gboolean open_failed = FALSE;
  double wall;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("signload: %s\n", error->message);
      return 2;
    }
  if (host == NULL)
    host = g_strdup ("127.0.0.1");
  if (algorithm == NULL)
    algorithm = g_strdup ("ecdsa");
  if (plugin == NULL || ca == NULL || cert == NULL || key == NULL || port < 1 || port > 65535 || callers < 1
      || callers > MAX_CALLERS || duration < 1 || duration > MAX_DURATION_S || message_bytes < 1
      || message_bytes > 1 << 20)
    {
      g_printerr ("signload: need --plugin --port --ca --cert --key; callers 1..%d, duration 1..%d s\n",
                  MAX_CALLERS, MAX_DURATION_S);
      return 2;
    }
  /* A benchmark client: never aim it anywhere but this machine. */
  if (g_strcmp0 (host, "127.0.0.1") != 0 && g_strcmp0 (host, "localhost") != 0)
    {
      g_printerr ("signload: refusing non-loopback host %s\n", host);
      return 2;
    }

  vtable = load_plugin (plugin, &module, &error);
  if (vtable == NULL)
    {
      g_printerr ("signload: %s\n", error->message);
      return 1;
    }
  json_object_set_string_member (options, "hostname", host);
  json_object_set_int_member (options, "port", port);
  json_object_set_string_member (options, "tls_ca_file", ca);
  json_object_set_string_member (options, "tls_client_cert", cert);
  json_object_set_string_member (options, "tls_client_key", key);
  json_object_set_string_member (options, "key_algorithm", algorithm);

  admin = vtable->open (&bench_host, options, &error);
  if (admin == NULL)
    {
      g_printerr ("signload: opening the plugin: %s\n", error->message);
      return 1;
    }
  pub = vtable->create_key (admin, "bench.example.com/sign", "timestamp", algorithm, &error);
  vtable->close (admin);
  if (pub == NULL)
    {
      g_printerr ("signload: CreateKey: %s\n", error->message);
      return 1;
    }
  key_id = key_id_of (pub);
  notary_public_key_free (pub);

  /* A timestamp-sized message, the same bytes for every call. */
  msg = g_malloc (message_bytes);
  for (gint i = 0; i < message_bytes; i++)
    msg[i] = (guint8) ('a' + i % 26);
  shared.vtable = vtable;
  shared.options = options;
  shared.key_id = key_id;
  shared.message = g_bytes_new_static (msg, message_bytes);
  shared.expected_sig_len = g_strcmp0 (algorithm, "ecdsa") == 0 ? 64 : g_strcmp0 (algorithm, "ed25519") == 0 ? 64 : 0;
  shared.callers = callers;
  g_mutex_init (&shared.lock);
  g_cond_init (&shared.cond);

  cs = g_new0 (Caller, callers);
  threads = g_new0 (GThread *, callers);
  for (gint i = 0; i < callers; i++)
    {
      cs[i].shared = &shared;
      cs[i].latencies_usec = g_array_new (FALSE, FALSE, sizeof (gint64));
      cs[i].error_samples = g_ptr_array_new_with_free_func (g_free);
      threads[i] = g_thread_new ("signload", caller_run, &cs[i]);
    }
  g_mutex_lock (&shared.lock);
  while (shared.ready < shared.callers)
    g_cond_wait (&shared.cond, &shared.lock);
  t_start = g_get_monotonic_time ();
  shared.start_usec = t_start;
  shared.deadline_usec = t_start + (gint64) duration * G_USEC_PER_SEC;
  shared.started = TRUE;
  g_cond_broadcast (&shared.cond);
  g_mutex_unlock (&shared.lock);
  for (gint i = 0; i < callers; i++)
    g_thread_join (threads[i]);
  t_end = g_get_monotonic_time ();
  wall = (t_end - t_start) / (double) G_USEC_PER_SEC;

  for (gint i = 0; i < callers; i++)
    {
      g_array_append_vals (all, cs[i].latencies_usec->data, cs[i].latencies_usec->len);
      errors += cs[i].errors;
      open_failed |= cs[i].open_failed;
      for (guint j = 0; j < cs[i].error_samples->len && samples->len < MAX_ERROR_SAMPLES; j++)
        g_ptr_array_add (samples, g_strdup (cs[i].error_samples->pdata[j]));
      g_array_unref (cs[i].latencies_usec);
      g_ptr_array_unref (cs[i].error_samples);
    }
  g_array_sort (all, cmp_gint64);

  json_builder_begin_object (out);
  json_builder_set_member_name (out, "callers");
  json_builder_add_int_value (out, callers);
  json_builder_set_member_name (out, "wall_s");
  json_builder_add_double_value (out, wall);
  json_builder_set_member_name (out, "calls");
  json_builder_add_int_value (out, all->len);
  json_builder_set_member_name (out, "calls_per_s");
  json_builder_add_double_value (out, wall > 0 ? all->len / wall : 0.0);
  json_builder_set_member_name (out, "p50_ms");
  json_builder_add_double_value (out, percentile_ms (all, 50));
  json_builder_set_member_name (out, "p99_ms");
  json_builder_add_double_value (out, percentile_ms (all, 99));
  json_builder_set_member_name (out, "max_ms");
  json_builder_add_double_value (out, all->len ? g_array_index (all, gint64, all->len - 1) / 1000.0 : 0.0);
  json_builder_set_member_name (out, "message_bytes");
  json_builder_add_int_value (out, message_bytes);
  json_builder_set_member_name (out, "key_id");
  json_builder_add_string_value (out, key_id);
  json_builder_set_member_name (out, "errors");
  json_builder_add_int_value (out, (gint64) errors + (open_failed ? 1 : 0));
  json_builder_set_member_name (out, "error_samples");
  json_builder_begin_array (out);
  for (guint j = 0; j < samples->len; j++)
    json_builder_add_string_value (out, samples->pdata[j]);
  json_builder_end_array (out);
  json_builder_end_object (out);
  root = json_builder_get_root (out);
  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, NULL);
  g_print ("%s\n", json);

  g_bytes_unref (shared.message);
  g_mutex_clear (&shared.lock);
  g_cond_clear (&shared.cond);
  return errors > 0 || open_failed || all->len == 0 ? 1 : 0;
}
