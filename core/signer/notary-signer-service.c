/* notary-signer-service.c — KeyManagement, Signer and Health over a key
 * store, with the reference's status codes and texts (signer-rpc.md §4).
 *
 * Requests come from the network: a missing keyID is INVALID_ARGUMENT
 * (the reference crashes its handler there), every reply carries keyInfo
 * and its algorithm (the reference server dereferences them blindly).
 */
#include "notary-signer-service.h"

#include <string.h>

#include "health.pb-c.h"
#include "notary-log.h"
#include "signer.pb-c.h"

struct _NotarySignerService
{
  NotarySignerKeyStore *store;
};

NotarySignerService *
notary_signer_service_new (NotarySignerKeyStore *store)
{
  NotarySignerService *service = g_new0 (NotarySignerService, 1);
  service->store = store;
  return service;
}

void
notary_signer_service_set_store (NotarySignerService *service, NotarySignerKeyStore *store)
{
  g_atomic_pointer_set (&service->store, store);
}

void
notary_signer_service_free (NotarySignerService *service)
{
  g_free (service);
}

/* keyInfo for @key, filled into caller-provided storage. */
typedef struct
{
  Proto__KeyInfo info;
  Proto__KeyID id;
  Proto__Algorithm alg;
} KeyInfoStorage;

static Proto__KeyInfo *
fill_key_info_public (KeyInfoStorage *s, NotaryKey *pub)
{
  proto__key_info__init (&s->info);
  proto__key_id__init (&s->id);
  proto__algorithm__init (&s->alg);
  s->id.id = (char *) notary_key_get_id (pub);
  s->alg.algorithm = (char *) notary_key_get_keytype (pub);
  s->info.keyid = &s->id;
  s->info.algorithm = &s->alg;
  return &s->info;
}

static Proto__KeyInfo *
fill_key_info (KeyInfoStorage *s, NotaryPrivateKey *key)
{
  return fill_key_info_public (s, notary_private_key_get_public (key));
}

static void
set_public_bytes_public (ProtobufCBinaryData *out, NotaryKey *pub)
{
  gsize len = 0;
  out->data = (guint8 *) g_bytes_get_data (notary_key_get_public (pub), &len);
  out->len = len;
}

static void
set_public_bytes (ProtobufCBinaryData *out, NotaryPrivateKey *key)
{
  set_public_bytes_public (out, notary_private_key_get_public (key));
}

static GBytes *
handle_create_key (NotarySignerService *self, GBytes *request, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (NotaryKey) key = NULL;
  Proto__CreateKeyRequest *req;
  Proto__PublicKey reply = PROTO__PUBLIC_KEY__INIT;
  KeyInfoStorage info;
  GBytes *out;

  req = (Proto__CreateKeyRequest *) notary_grpc_unpack (&proto__create_key_request__descriptor, request, error);
  if (req == NULL)
    return NULL;
  if (g_strcmp0 (req->algorithm, "ecdsa") != 0 && g_strcmp0 (req->algorithm, "ed25519") != 0)
    {
      notary_log (NOTARY_LOG_ERROR, "CreateKey: unsupported algorithm", "algorithm", req->algorithm, NULL);
      /* A plain error in the reference, hence UNKNOWN on the wire. */
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNKNOWN, "algorithm %s not supported for create key",
                   req->algorithm);
      protobuf_c_message_free_unpacked (&req->base, NULL);
      return NULL;
    }
  key = self->store->klass->create_key (self->store, req->gun, req->role, req->algorithm, &local);
  protobuf_c_message_free_unpacked (&req->base, NULL);
  if (key == NULL)
    {
      notary_log (NOTARY_LOG_ERROR, "CreateKey: failed to create key", "error", local->message, NULL);
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "Key creation failed");
      return NULL;
    }
  reply.keyinfo = fill_key_info_public (&info, key);
  set_public_bytes_public (&reply.publickey, key);
  out = notary_grpc_pack (&reply.base);
  notary_log (NOTARY_LOG_INFO, "CreateKey: Created KeyID", "keyID", info.id.id, NULL);
  return out;
}

/* The key ID of a KeyID request, or NULL + INVALID_ARGUMENT. */
static Proto__KeyID *
unpack_key_id (GBytes *request, GError **error)
{
  Proto__KeyID *req = (Proto__KeyID *) notary_grpc_unpack (&proto__key_id__descriptor, request, error);
  if (req != NULL && (req->id == NULL || req->id[0] == '\0'))
    {
      protobuf_c_message_free_unpacked (&req->base, NULL);
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT, "missing key ID");
      return NULL;
    }
  return req;
}

static GBytes *
handle_get_key_info (NotarySignerService *self, GBytes *request, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (NotaryPrivateKey) key = NULL;
  g_autofree char *role = NULL;
  Proto__GetKeyInfoResponse reply = PROTO__GET_KEY_INFO_RESPONSE__INIT;
  KeyInfoStorage info;
  Proto__KeyID *req = unpack_key_id (request, error);

  if (req == NULL)
    return NULL;
  key = self->store->klass->get_key (self->store, req->id, &role, &local);
  if (key == NULL)
    {
      /* Every lookup failure is "not found" (signer-rpc.md §4). */
      notary_log (NOTARY_LOG_ERROR, "GetKeyInfo: key not found", "keyID", req->id, "error", local->message, NULL);
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND, "key %s not found", req->id);
      protobuf_c_message_free_unpacked (&req->base, NULL);
      return NULL;
    }
  notary_log (NOTARY_LOG_DEBUG, "GetKeyInfo: Returning PublicKey for KeyID", "keyID", req->id, NULL);
  protobuf_c_message_free_unpacked (&req->base, NULL);
  reply.keyinfo = fill_key_info (&info, key);
  set_public_bytes (&reply.publickey, key);
  reply.role = role != NULL ? role : (char *) "";
  return notary_grpc_pack (&reply.base);
}

static GBytes *
handle_delete_key (NotarySignerService *self, GBytes *request, GError **error)
{
  g_autoptr (GError) local = NULL;
  Proto__Void reply = PROTO__VOID__INIT;
  Proto__KeyID *req = unpack_key_id (request, error);

  if (req == NULL)
    return NULL;
  if (!self->store->klass->delete_key (self->store, req->id, &local))
    {
      notary_log (NOTARY_LOG_ERROR, "Failed to delete key", "keyID", req->id, "error", local->message, NULL);
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "Key deletion for KeyID %s failed", req->id);
      protobuf_c_message_free_unpacked (&req->base, NULL);
      return NULL;
    }
  notary_log (NOTARY_LOG_INFO, "DeleteKey: Deleted KeyID", "keyID", req->id, NULL);
  protobuf_c_message_free_unpacked (&req->base, NULL);
  return notary_grpc_pack (&reply.base);
}

static GBytes *
handle_sign (NotarySignerService *self, GBytes *request, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (NotaryPrivateKey) key = NULL;
  g_autoptr (GBytes) content = NULL;
  g_autoptr (GBytes) sig = NULL;
  Proto__SignatureRequest *req;
  Proto__Signature reply = PROTO__SIGNATURE__INIT;
  Proto__Algorithm method = PROTO__ALGORITHM__INIT;
  KeyInfoStorage info;
  gsize len = 0;
  GBytes *out;

  req = (Proto__SignatureRequest *) notary_grpc_unpack (&proto__signature_request__descriptor, request, error);
  if (req == NULL)
    return NULL;
  if (req->keyid == NULL || req->keyid->id == NULL || req->keyid->id[0] == '\0')
    {
      protobuf_c_message_free_unpacked (&req->base, NULL);
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INVALID_ARGUMENT, "missing key ID");
      return NULL;
    }
  key = self->store->klass->get_key (self->store, req->keyid->id, NULL, &local);
  if (key == NULL)
    {
      notary_log (NOTARY_LOG_ERROR, "Sign: key not found", "keyID", req->keyid->id, NULL);
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND, "signing key not found: %s",
                   req->keyid->id);
      protobuf_c_message_free_unpacked (&req->base, NULL);
      return NULL;
    }
  content = g_bytes_new (req->content.data, req->content.len);
  sig = notary_private_key_sign (key, content, &local);
  if (sig == NULL)
    {
      /* The reference prints the content with %s; a hex dump keeps the
       * status text printable whatever the bytes are. */
      g_autofree char *hex = g_malloc (req->content.len * 2 + 1);
      for (gsize i = 0; i < req->content.len; i++)
        g_snprintf (hex + 2 * i, 3, "%02x", req->content.data[i]);
      hex[req->content.len * 2] = '\0';
      notary_log (NOTARY_LOG_ERROR, "Sign: signing failed", "keyID", req->keyid->id, "error", local->message, NULL);
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_INTERNAL, "Signing failed for KeyID %s on hash %s",
                   req->keyid->id, hex);
      protobuf_c_message_free_unpacked (&req->base, NULL);
      return NULL;
    }
  if (self->store->klass->mark_used != NULL)
    self->store->klass->mark_used (self->store, req->keyid->id);
  notary_log (NOTARY_LOG_INFO, "Sign: Signed with KeyID", "keyID", req->keyid->id, NULL);
  protobuf_c_message_free_unpacked (&req->base, NULL);

  reply.keyinfo = fill_key_info (&info, key);
  method.algorithm = (char *) notary_private_key_get_method (key);
  reply.algorithm = &method;
  reply.content.data = (guint8 *) g_bytes_get_data (sig, &len);
  reply.content.len = len;
  out = notary_grpc_pack (&reply.base);
  return out;
}

static GBytes *
handle_health_check (NotarySignerService *self, GBytes *request, GError **error)
{
  Grpc__Health__V1__HealthCheckRequest *req;
  Grpc__Health__V1__HealthCheckResponse reply = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  gboolean known;

  req = (Grpc__Health__V1__HealthCheckRequest *) notary_grpc_unpack (
      &grpc__health__v1__health_check_request__descriptor, request, error);
  if (req == NULL)
    return NULL;
  known = g_strcmp0 (req->service, "") == 0 || g_strcmp0 (req->service, "grpc.health.v1.Health.KeyManagement") == 0
          || g_strcmp0 (req->service, "grpc.health.v1.Health.Signer") == 0;
  protobuf_c_message_free_unpacked (&req->base, NULL);
  if (!known)
    {
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_NOT_FOUND, "unknown service");
      return NULL;
    }
  reply.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
  if (self->store->klass->check_health != NULL)
    {
      g_autoptr (GError) local = NULL;
      /* Ours, unlike the reference's static marks: an unusable key store
       * is reported (signer-rpc.md §5). */
      if (!self->store->klass->check_health (self->store, &local))
        {
          notary_log (NOTARY_LOG_ERROR, "key store not operational", "error", local->message, NULL);
          reply.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
        }
    }
  return notary_grpc_pack (&reply.base);
}

typedef GBytes *(*MethodFunc) (NotarySignerService *self, GBytes *request, GError **error);

static const struct
{
  const char *service;
  const char *method;
  MethodFunc func;
} methods[] = {
  { "proto.KeyManagement", "CreateKey", handle_create_key },
  { "proto.KeyManagement", "DeleteKey", handle_delete_key },
  { "proto.KeyManagement", "GetKeyInfo", handle_get_key_info },
  { "proto.Signer", "Sign", handle_sign },
  { "grpc.health.v1.Health", "Check", handle_health_check },
  { "grpc.health.v1.Health", "Watch", NULL }, /* streaming: not served */
};

GBytes *
notary_signer_service_handle (const char *path, GBytes *request, gpointer user_data, GError **error)
{
  NotarySignerService *self = user_data;
  const char *slash;
  g_autofree char *service = NULL;
  const char *method;
  gboolean service_known = FALSE;

  if (path[0] != '/' || (slash = strchr (path + 1, '/')) == NULL)
    {
      g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED, "malformed method name: \"%s\"", path);
      return NULL;
    }
  service = g_strndup (path + 1, (gsize) (slash - path - 1));
  method = slash + 1;
  if (g_atomic_pointer_get (&self->store) == NULL)
    {
      g_set_error_literal (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNAVAILABLE, "key store not ready");
      return NULL;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      if (!g_str_equal (methods[i].service, service))
        continue;
      service_known = TRUE;
      if (g_str_equal (methods[i].method, method) && methods[i].func != NULL)
        return methods[i].func (self, request, error);
    }
  if (service_known)
    g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED, "unknown method %s for service %s", method,
                 service);
  else
    g_set_error (error, NOTARY_GRPC_ERROR, NOTARY_GRPC_STATUS_UNIMPLEMENTED, "unknown service %s", service);
  return NULL;
}
