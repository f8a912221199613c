/* test-signer-proto.c — the generated message code and the gRPC framing
 * helpers against the byte-exact vectors of signer-rpc.md §7-8. */
#include "notary-grpc.h"
#include "health.pb-c.h"
#include "signer.pb-c.h"

static void
assert_bytes_hex (GBytes *bytes, const char *hex)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  g_assert_cmpstr (s->str, ==, hex);
  g_string_free (s, TRUE);
}

static GBytes *
from_hex (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *buf = g_malloc (n + 1);
  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) * 16 + g_ascii_xdigit_value (hex[2 * i + 1]));
  return g_bytes_new_take (buf, n);
}

static void
test_key_id (void)
{
  Proto__KeyID id = PROTO__KEY_ID__INIT;
  g_autoptr (GBytes) packed = NULL;
  g_autoptr (GError) error = NULL;
  Proto__KeyID *back;

  id.id = (char *) "ab";
  packed = notary_grpc_pack (&id.base);
  assert_bytes_hex (packed, "0a026162");
  back = (Proto__KeyID *) notary_grpc_unpack (&proto__key_id__descriptor, packed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->id, ==, "ab");
  protobuf_c_message_free_unpacked (&back->base, NULL);
}

static void
test_signature_request (void)
{
  Proto__SignatureRequest req = PROTO__SIGNATURE_REQUEST__INIT;
  Proto__KeyID id = PROTO__KEY_ID__INIT;
  g_autoptr (GBytes) packed = NULL;
  g_autoptr (GError) error = NULL;
  Proto__SignatureRequest *back;

  id.id = (char *) "ab";
  req.keyid = &id;
  req.content.data = (guint8 *) "x";
  req.content.len = 1;
  packed = notary_grpc_pack (&req.base);
  assert_bytes_hex (packed, "0a040a0261621201" "78");
  back = (Proto__SignatureRequest *) notary_grpc_unpack (&proto__signature_request__descriptor, packed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back->keyid);
  g_assert_cmpstr (back->keyid->id, ==, "ab");
  g_assert_cmpmem (back->content.data, back->content.len, "x", 1);
  protobuf_c_message_free_unpacked (&back->base, NULL);
}

static void
test_create_key_request (void)
{
  Proto__CreateKeyRequest req = PROTO__CREATE_KEY_REQUEST__INIT;
  g_autoptr (GBytes) packed = NULL;

  req.algorithm = (char *) "ecdsa";
  req.gun = (char *) "g";
  req.role = (char *) "timestamp";
  packed = notary_grpc_pack (&req.base);
  assert_bytes_hex (packed, "0a056563647361120167" "1a0974696d657374616d70");
}

static void
test_unknown_fields_and_order (void)
{
  /* role (3), unknown varint field 9, then algorithm (1): a decoder must
   * skip the unknown field and accept any order. */
  g_autoptr (GBytes) wire = from_hex ("1a08736e617073686f74" "4801" "0a0765643235353139");
  g_autoptr (GError) error = NULL;
  Proto__CreateKeyRequest *req
      = (Proto__CreateKeyRequest *) notary_grpc_unpack (&proto__create_key_request__descriptor, wire, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (req->role, ==, "snapshot");
  g_assert_cmpstr (req->algorithm, ==, "ed25519");
  g_assert_cmpstr (req->gun, ==, "");
  protobuf_c_message_free_unpacked (&req->base, NULL);
}

static void
test_nested_round_trip (void)
{
  Proto__GetKeyInfoResponse resp = PROTO__GET_KEY_INFO_RESPONSE__INIT;
  Proto__KeyInfo info = PROTO__KEY_INFO__INIT;
  Proto__KeyID id = PROTO__KEY_ID__INIT;
  Proto__Algorithm alg = PROTO__ALGORITHM__INIT;
  guint8 pub[32];
  g_autoptr (GBytes) packed = NULL;
  g_autoptr (GError) error = NULL;
  Proto__GetKeyInfoResponse *back;

  for (guint i = 0; i < sizeof pub; i++)
    pub[i] = (guint8) (i * 7);
  id.id = (char *) "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  alg.algorithm = (char *) "ed25519";
  info.keyid = &id;
  info.algorithm = &alg;
  resp.keyinfo = &info;
  resp.publickey.data = pub;
  resp.publickey.len = sizeof pub;
  resp.role = (char *) "timestamp";
  packed = notary_grpc_pack (&resp.base);
  back = (Proto__GetKeyInfoResponse *) notary_grpc_unpack (&proto__get_key_info_response__descriptor, packed,
                                                           &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->keyinfo->keyid->id, ==, id.id);
  g_assert_cmpstr (back->keyinfo->algorithm->algorithm, ==, "ed25519");
  g_assert_cmpmem (back->publickey.data, back->publickey.len, pub, sizeof pub);
  g_assert_cmpstr (back->role, ==, "timestamp");
  protobuf_c_message_free_unpacked (&back->base, NULL);
}

static void
test_health (void)
{
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  Proto__Void v = PROTO__VOID__INIT;
  g_autoptr (GBytes) packed = NULL;
  g_autoptr (GBytes) empty = NULL;
  g_autoptr (GBytes) framed = NULL;

  resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
  packed = notary_grpc_pack (&resp.base);
  assert_bytes_hex (packed, "0801");
  empty = notary_grpc_pack (&v.base);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
  framed = notary_grpc_frame (empty);
  assert_bytes_hex (framed, "0000000000");
}

static void
test_malformed (void)
{
  g_autoptr (GBytes) bad = from_hex ("0a05616263"); /* length 5, only 3 bytes */
  g_autoptr (GError) error = NULL;
  ProtobufCMessage *m = notary_grpc_unpack (&proto__key_id__descriptor, bad, &error);
  g_assert_null (m);
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL);
}

static void
test_framing (void)
{
  g_autoptr (GBytes) msg = from_hex ("0a026162");
  g_autoptr (GBytes) framed = notary_grpc_frame (msg);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (framed, &len);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) back = NULL;

  assert_bytes_hex (framed, "00000000040a026162");
  back = notary_grpc_unframe (data, len, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, msg));

  g_assert_null (notary_grpc_unframe (data, len - 1, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL);
  g_clear_error (&error);
  g_assert_null (notary_grpc_unframe (data, 0, &error));
  g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL);
  g_clear_error (&error);
  {
    const guint8 compressed[] = { 1, 0, 0, 0, 0 };
    g_assert_null (notary_grpc_unframe (compressed, sizeof compressed, &error));
    g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED);
    g_clear_error (&error);
  }
  {
    const guint8 huge[] = { 0, 0x7f, 0, 0, 0 };
    g_assert_null (notary_grpc_unframe (huge, sizeof huge, &error));
    g_assert_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_RESOURCE_EXHAUSTED);
  }
}

static void
test_percent (void)
{
  g_autofree char *enc = notary_grpc_percent_encode ("key 100% \xc3\xa9\n");
  g_autofree char *dec = NULL;
  g_autofree char *lenient = notary_grpc_percent_decode ("a%zz%4");
  g_assert_cmpstr (enc, ==, "key 100%25 %C3%A9%0A");
  dec = notary_grpc_percent_decode (enc);
  g_assert_cmpstr (dec, ==, "key 100% \xc3\xa9\n");
  g_assert_cmpstr (lenient, ==, "a%zz%4");
}

static void
test_timeout (void)
{
  gint64 usec = 0;
  g_autofree char *ten = notary_grpc_timeout_format (10 * G_USEC_PER_SEC);
  g_autofree char *big = notary_grpc_timeout_format (G_GINT64_CONSTANT (3600) * 24 * 365 * G_USEC_PER_SEC);

  g_assert_true (notary_grpc_timeout_parse ("9999873u", &usec));
  g_assert_cmpint (usec, ==, 9999873);
  g_assert_true (notary_grpc_timeout_parse ("10S", &usec));
  g_assert_cmpint (usec, ==, 10 * G_USEC_PER_SEC);
  g_assert_true (notary_grpc_timeout_parse ("2H", &usec));
  g_assert_cmpint (usec, ==, G_GINT64_CONSTANT (7200) * G_USEC_PER_SEC);
  g_assert_true (notary_grpc_timeout_parse ("5000n", &usec));
  g_assert_cmpint (usec, ==, 5);
  g_assert_false (notary_grpc_timeout_parse ("123456789S", &usec)); /* 9 digits */
  g_assert_false (notary_grpc_timeout_parse ("10", &usec));
  g_assert_false (notary_grpc_timeout_parse ("S", &usec));
  g_assert_false (notary_grpc_timeout_parse ("1x", &usec));

  g_assert_true (notary_grpc_timeout_parse (ten, &usec));
  g_assert_cmpint (usec, ==, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (strlen (big), <=, 9);
  g_assert_true (notary_grpc_timeout_parse (big, &usec));
}

static void
test_status_names (void)
{
  g_assert_cmpstr (notary_grpc_status_to_string (NOTARY_GRPC_STATUS_NOT_FOUND), ==, "NotFound");
  g_assert_cmpstr (notary_grpc_status_to_string (NOTARY_GRPC_STATUS_UNAVAILABLE), ==, "Unavailable");
  g_assert_cmpstr (notary_grpc_status_to_string (NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED), ==, "DeadlineExceeded");
  g_assert_cmpstr (notary_grpc_status_to_string ((NotaryGrpcStatus) 99), ==, "Unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/signer/proto/key-id", test_key_id);
  g_test_add_func ("/signer/proto/signature-request", test_signature_request);
  g_test_add_func ("/signer/proto/create-key-request", test_create_key_request);
  g_test_add_func ("/signer/proto/unknown-fields", test_unknown_fields_and_order);
  g_test_add_func ("/signer/proto/nested-round-trip", test_nested_round_trip);
  g_test_add_func ("/signer/proto/health", test_health);
  g_test_add_func ("/signer/proto/malformed", test_malformed);
  g_test_add_func ("/signer/grpc/framing", test_framing);
  g_test_add_func ("/signer/grpc/percent", test_percent);
  g_test_add_func ("/signer/grpc/timeout", test_timeout);
  g_test_add_func ("/signer/grpc/status-names", test_status_names);
  return g_test_run ();
}
