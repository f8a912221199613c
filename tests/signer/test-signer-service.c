/* test-signer-service.c — the signer's RPC handlers in-process over the
 * memory store: status codes and texts of signer-rpc.md §4-5, and the
 * malformed requests the reference would crash on. */
#include "health.pb-c.h"
#include "notary-signer-service.h"
#include "signer.pb-c.h"

typedef struct
{
  NotarySignerKeyStore *store;
  NotarySignerService *service;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->store = notary_signer_memory_store_new ();
  f->service = notary_signer_service_new (f->store);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  notary_signer_service_free (f->service);
  notary_signer_keystore_free (f->store);
}

static GBytes *
invoke (Fixture *f, const char *path, const ProtobufCMessage *msg, GError **error)
{
  g_autoptr (GBytes) req = notary_grpc_pack (msg);
  return notary_signer_service_handle (path, req, f->service, error);
}

static char *
create (Fixture *f, const char *alg)
{
  Proto__CreateKeyRequest req = PROTO__CREATE_KEY_REQUEST__INIT;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = NULL;
  Proto__PublicKey *pk;
  char *id;

  req.algorithm = (char *) alg;
  req.gun = (char *) "docker.com/notary";
  req.role = (char *) "timestamp";
  out = invoke (f, "/proto.KeyManagement/CreateKey", &req.base, &error);
  g_assert_no_error (error);
  pk = (Proto__PublicKey *) notary_grpc_unpack (&proto__public_key__descriptor, out, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pk->keyinfo);
  g_assert_nonnull (pk->keyinfo->algorithm);
  g_assert_cmpstr (pk->keyinfo->algorithm->algorithm, ==, alg);
  g_assert_cmpuint (strlen (pk->keyinfo->keyid->id), ==, 64);
  id = g_strdup (pk->keyinfo->keyid->id);
  protobuf_c_message_free_unpacked (&pk->base, NULL);
  return id;
}

static void
test_create_get_sign_delete (Fixture *f, gconstpointer data)
{
  g_autofree char *id = create (f, "ed25519");
  Proto__KeyID kid = PROTO__KEY_ID__INIT;
  Proto__SignatureRequest sreq = PROTO__SIGNATURE_REQUEST__INIT;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) info = NULL;
  g_autoptr (GBytes) sig = NULL;
  g_autoptr (GBytes) del = NULL;
  g_autoptr (GBytes) after = NULL;
  Proto__GetKeyInfoResponse *gi;
  Proto__Signature *s;

  kid.id = id;
  info = invoke (f, "/proto.KeyManagement/GetKeyInfo", &kid.base, &error);
  g_assert_no_error (error);
  gi = (Proto__GetKeyInfoResponse *) notary_grpc_unpack (&proto__get_key_info_response__descriptor, info, &error);
  g_assert_cmpstr (gi->role, ==, "timestamp");
  g_assert_cmpuint (gi->publickey.len, ==, 32);
  protobuf_c_message_free_unpacked (&gi->base, NULL);

  sreq.keyid = &kid;
  sreq.content.data = (guint8 *) "hello";
  sreq.content.len = 5;
  sig = invoke (f, "/proto.Signer/Sign", &sreq.base, &error);
  g_assert_no_error (error);
  s = (Proto__Signature *) notary_grpc_unpack (&proto__signature__descriptor, sig, &error);
  g_assert_cmpstr (s->algorithm->algorithm, ==, "eddsa");
  g_assert_cmpstr (s->keyinfo->algorithm->algorithm, ==, "ed25519");
  g_assert_cmpuint (s->content.len, ==, 64);
  protobuf_c_message_free_unpacked (&s->base, NULL);

  del = invoke (f, "/proto.KeyManagement/DeleteKey", &kid.base, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (del), ==, 0);
  after = invoke (f, "/proto.KeyManagement/GetKeyInfo", &kid.base, &error);
  g_assert_null (after);
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND);
  {
    g_autofree char *expected = g_strdup_printf ("key %s not found", id);
    g_assert_cmpstr (error->message, ==, expected);
  }
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  Proto__CreateKeyRequest req = PROTO__CREATE_KEY_REQUEST__INIT;
  Proto__KeyID kid = PROTO__KEY_ID__INIT;
  Proto__SignatureRequest sreq = PROTO__SIGNATURE_REQUEST__INIT;
  g_autoptr (GError) error = NULL;

  req.algorithm = (char *) "rsa";
  g_assert_null (invoke (f, "/proto.KeyManagement/CreateKey", &req.base, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNKNOWN);
  g_assert_cmpstr (error->message, ==, "algorithm rsa not supported for create key");
  g_clear_error (&error);

  kid.id = (char *) "abc";
  sreq.keyid = &kid;
  g_assert_null (invoke (f, "/proto.Signer/Sign", &sreq.base, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "signing key not found: abc");
  g_clear_error (&error);

  /* No keyID at all: the reference crashes; we answer INVALID_ARGUMENT. */
  sreq.keyid = NULL;
  g_assert_null (invoke (f, "/proto.Signer/Sign", &sreq.base, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT);
  g_clear_error (&error);
  kid.id = (char *) "";
  g_assert_null (invoke (f, "/proto.KeyManagement/GetKeyInfo", &kid.base, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Deleting an unknown key is fine. */
  kid.id = (char *) "nope";
  {
    g_autoptr (GBytes) r = invoke (f, "/proto.KeyManagement/DeleteKey", &kid.base, &error);
    g_assert_no_error (error);
  }

  g_assert_null (invoke (f, "/proto.Signer/Verify", &kid.base, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED);
  g_assert_cmpstr (error->message, ==, "unknown method Verify for service proto.Signer");
  g_clear_error (&error);
  g_assert_null (invoke (f, "/proto.Nope/X", &kid.base, &error));
  g_assert_cmpstr (error->message, ==, "unknown service proto.Nope");
  g_clear_error (&error);

  {
    g_autoptr (GBytes) garbage = g_bytes_new_static ("\x0a\x7f", 2);
    g_assert_null (notary_signer_service_handle ("/proto.Signer/Sign", garbage, f->service, &error));
    g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL);
  }
}

static void
test_health (Fixture *f, gconstpointer data)
{
  const char *names[] = { "", "grpc.health.v1.Health.KeyManagement", "grpc.health.v1.Health.Signer" };
  Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GBytes) out = NULL;
      req.service = (char *) names[i];
      out = invoke (f, "/grpc.health.v1.Health/Check", &req.base, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), "\x08\x01", 2);
    }
  req.service = (char *) "proto.Other";
  g_assert_null (invoke (f, "/grpc.health.v1.Health/Check", &req.base, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "unknown service");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/signer/service/create-get-sign-delete", Fixture, NULL, setup, test_create_get_sign_delete, teardown);
  g_test_add ("/signer/service/errors", Fixture, NULL, setup, test_errors, teardown);
  g_test_add ("/signer/service/health", Fixture, NULL, setup, test_health, teardown);
  return g_test_run ();
}
