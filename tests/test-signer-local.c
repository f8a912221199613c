/* test-signer-local.c — the `local` trust service plugin, loaded as the
 * daemon loads it: keys it creates sign messages their public halves
 * verify, keys are distinct, unknown keys fail cleanly, and rotation keeps
 * older keys usable (the server still signs with them until it switches). */
#include <string.h>

#include <notary/signer-backend.h>
#include "notary-keys.h"
#include "notary-plugin-loader.h"

typedef struct
{
  const NotarySignerVTable *vt;
  NotarySigner *signer;
  NotaryHost host;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) path = notary_plugin_search_path (NULL);
  const NotaryPluginDesc *desc;
  g_autoptr (JsonObject) options = json_object_new ();

  if (g_getenv ("NOTARY_PLUGIN_PATH") == NULL)
    {
      g_test_skip ("NOTARY_PLUGIN_PATH not set");
      return;
    }
  desc = notary_plugin_load ((const char *const *)path, NOTARY_PLUGIN_KIND_SIGNER, "local", &error);
  g_assert_no_error (error);
  f->vt = desc->vtable;
  g_assert_cmpuint (f->vt->version, ==, NOTARY_VERSION_SIGNER_VTABLE);
  f->host.version = NOTARY_VERSION_HOST;
  f->host.program = "notary-server";
  f->signer = f->vt->open (&f->host, options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->signer);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->signer != NULL)
    f->vt->close (f->signer);
}

static NotaryKey *
create (Fixture *f, const char *role)
{
  g_autoptr (GError) error = NULL;
  NotaryPublicKey *pk = f->vt->create_key (f->signer, "docker.io/library/x", role, "ecdsa", &error);
  g_assert_no_error (error);
  g_assert_nonnull (pk);
  /* Whatever is asked for, the local service makes ED25519 keys. */
  g_assert_cmpstr (pk->keytype, ==, "ed25519");
  g_assert_cmpuint (g_bytes_get_size (pk->public_bytes), ==, 32);
  NotaryKey *key = notary_key_new (pk->keytype, pk->public_bytes, &error);
  g_assert_no_error (error);
  notary_public_key_free (pk);
  return key;
}

static void
test_sign_verifies (Fixture *f, gconstpointer data)
{
  if (f->signer == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = create (f, "timestamp");
  g_autoptr (GBytes) msg = g_bytes_new_static ("{\"_type\":\"Timestamp\"}", 21);
  g_autoptr (GBytes) other = g_bytes_new_static ("{\"_type\":\"Timestamq\"}", 21);
  g_autoptr (GBytes) sig = f->vt->sign (f->signer, notary_key_get_canonical_id (key), msg, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 64);
  g_assert_true (notary_key_verify (key, "eddsa", msg, sig, &error));
  g_assert_no_error (error);
  g_assert_false (notary_key_verify (key, "eddsa", other, sig, NULL));

  /* Ed25519 is deterministic: the same message signs the same. */
  g_autoptr (GBytes) again = f->vt->sign (f->signer, notary_key_get_canonical_id (key), msg, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (sig, again));
}

static void
test_get_key (Fixture *f, gconstpointer data)
{
  if (f->signer == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) key = create (f, "timestamp");
  NotaryPublicKey *pk = f->vt->get_key (f->signer, notary_key_get_canonical_id (key), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (pk->keytype, ==, "ed25519");
  g_assert_true (g_bytes_equal (pk->public_bytes, notary_key_get_public (key)));
  notary_public_key_free (pk);
}

static void
test_distinct_and_rotation (Fixture *f, gconstpointer data)
{
  if (f->signer == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) first = create (f, "timestamp");
  g_autoptr (NotaryKey) second = create (f, "timestamp");
  g_autoptr (GBytes) msg = g_bytes_new_static ("m", 1);

  g_assert_cmpstr (notary_key_get_canonical_id (first), !=, notary_key_get_canonical_id (second));
  for (NotaryKey **k = (NotaryKey *[]){ first, second, NULL }; *k != NULL; k++)
    {
      g_autoptr (GBytes) sig = f->vt->sign (f->signer, notary_key_get_canonical_id (*k), msg, &error);
      g_assert_no_error (error);
      g_assert_true (notary_key_verify (*k, "eddsa", msg, sig, NULL));
    }
}

static void
test_unknown_key (Fixture *f, gconstpointer data)
{
  if (f->signer == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = g_bytes_new_static ("m", 1);
  const char *id = "0000000000000000000000000000000000000000000000000000000000000000";

  g_assert_null (f->vt->sign (f->signer, id, msg, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (f->vt->get_key (f->signer, id, &error));
  g_assert_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND);
  g_assert_true (f->vt->check_health (f->signer, NULL));
}

/* Many threads creating and signing at once (the server's workers do). */
static gpointer
hammer (gpointer data)
{
  Fixture *f = data;
  g_autoptr (GBytes) msg = g_bytes_new_static ("concurrent", 10);
  for (int i = 0; i < 50; i++)
    {
      g_autoptr (NotaryKey) key = create (f, "timestamp");
      g_autoptr (GBytes) sig = f->vt->sign (f->signer, notary_key_get_canonical_id (key), msg, NULL);
      g_assert_nonnull (sig);
      g_assert_true (notary_key_verify (key, "eddsa", msg, sig, NULL));
    }
  return NULL;
}

static void
test_concurrent (Fixture *f, gconstpointer data)
{
  if (f->signer == NULL)
    return;
  GThread *t[4];
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    t[i] = g_thread_new ("hammer", hammer, f);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/signer-local/sign-verifies", Fixture, NULL, fixture_set_up, test_sign_verifies, fixture_tear_down);
  g_test_add ("/signer-local/get-key", Fixture, NULL, fixture_set_up, test_get_key, fixture_tear_down);
  g_test_add ("/signer-local/distinct-and-rotation", Fixture, NULL, fixture_set_up, test_distinct_and_rotation,
              fixture_tear_down);
  g_test_add ("/signer-local/unknown-key", Fixture, NULL, fixture_set_up, test_unknown_key, fixture_tear_down);
  g_test_add ("/signer-local/concurrent", Fixture, NULL, fixture_set_up, test_concurrent, fixture_tear_down);
  return g_test_run ();
}
