/* signer-remote.c — the `remote` trust service: keys live in a
 * notary-signer reached over gRPC with mutual TLS (signer-rpc.md §6).
 *
 * Options (the `trust_service` section; the core has already made the
 * file paths absolute): hostname, port, tls_ca_file, tls_client_cert,
 * tls_client_key, key_algorithm.  Nothing is dialled at open, as with
 * grpc.Dial in the reference: the server starts while the signer is down,
 * and the first call (or health check) connects.  One connection is reused
 * for every call and re-dialled after a failure, so a restarted signer is
 * picked up without restarting the server.
 *
 * Error mapping: gRPC NOT_FOUND → KEY_NOT_FOUND; UNAVAILABLE and
 * DEADLINE_EXCEEDED → UNAVAILABLE; anything else → FAILED.  Messages keep
 * grpc-go's "rpc error: code = X desc = Y" shape, which is what the
 * reference shows in its health output.
 */
#include <string.h>

#include <notary/signer-backend.h>

#include "notary-grpc.h"
#include "health.pb-c.h"
#include "signer.pb-c.h"

/* The reference sets no deadline on key calls; we do, so that a wedged
 * signer cannot pin a server worker for ever.  Health: 10 s, as the
 * reference. */
#define CALL_TIMEOUT_USEC (10 * G_USEC_PER_SEC)
#define HEALTH_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

/* One gRPC client serialises its calls on its connection, so the plugin
 * keeps a few and spreads calls over them: signing for several HTTP
 * workers at once must not queue behind one round trip.  Option
 * `connections` (ours) sets how many; default 4. */
#define DEFAULT_CONNECTIONS 4
#define MAX_CONNECTIONS 64

struct _NotarySigner
{
  const NotaryHost *host;
  NotaryGrpcClient *clients[MAX_CONNECTIONS];
  guint n_clients;
  guint next; /* round robin, atomic */
  char *key_algorithm;
};

static NotaryGrpcClient *
pick_client (NotarySigner *self)
{
  guint i = (guint) g_atomic_int_add ((gint *) &self->next, 1);
  return self->clients[i % self->n_clients];
}

static void
remote_close (NotarySigner *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < self->n_clients; i++)
    notary_grpc_client_free (self->clients[i]);
  g_free (self->key_algorithm);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySigner, remote_close)

static char *
dup_option (JsonObject *options, const char *key)
{
  char *v = notary_options_dup_string (options, key);
  if (v != NULL && v[0] == '\0')
    g_clear_pointer (&v, g_free);
  return v;
}

static NotarySigner *
remote_open (const NotaryHost *host, JsonObject *options, GError **error)
{
  g_autoptr (NotarySigner) self = g_new0 (NotarySigner, 1);
  g_autofree char *hostname = dup_option (options, "hostname");
  g_autofree char *port = dup_option (options, "port");
  g_autofree char *ca = dup_option (options, "tls_ca_file");
  g_autofree char *cert = dup_option (options, "tls_client_cert");
  g_autofree char *key = dup_option (options, "tls_client_key");
  g_autoptr (GError) local = NULL;
  guint64 port_num = 0;

  self->host = host;
  self->key_algorithm = dup_option (options, "key_algorithm");
  if (g_strcmp0 (self->key_algorithm, "ecdsa") != 0 && g_strcmp0 (self->key_algorithm, "ed25519") != 0
      && g_strcmp0 (self->key_algorithm, "rsa") != 0)
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNSUPPORTED,
                   "invalid key algorithm configured: %s",
                   self->key_algorithm != NULL ? self->key_algorithm : "");
      return NULL;
    }
  if ((cert == NULL) != (key == NULL))
    {
      g_set_error_literal (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                           "either pass both client key and cert, or neither");
      return NULL;
    }
  if (hostname == NULL)
    {
      g_set_error_literal (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                           "trust_service.hostname is required for a remote trust service");
      return NULL;
    }
  if (port == NULL || !g_ascii_string_to_unsigned (port, 10, 1, 65535, &port_num, NULL))
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                   "trust_service.port must be a port number, not \"%s\"", port != NULL ? port : "");
      return NULL;
    }
  if (ca != NULL && !g_path_is_absolute (ca))
    {
      /* The core resolves paths; accept a relative one anyway, against
       * the config directory, like the reference. */
      char *abs = g_build_filename (host != NULL && host->config_dir != NULL ? host->config_dir : ".", ca, NULL);
      g_free (ca);
      ca = abs;
    }
  {
    g_autofree char *conns = dup_option (options, "connections");
    guint64 n = DEFAULT_CONNECTIONS;
    if (conns != NULL && !g_ascii_string_to_unsigned (conns, 10, 1, MAX_CONNECTIONS, &n, NULL))
      {
        g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                     "trust_service.connections must be between 1 and %d, not \"%s\"", MAX_CONNECTIONS, conns);
        return NULL;
      }
    for (guint i = 0; i < n; i++)
      {
        self->clients[i] = notary_grpc_client_new (hostname, (guint16) port_num, ca, cert, key, &local);
        if (self->clients[i] == NULL)
          {
            g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                         "Unable to configure TLS to the trust service: %s", local->message);
            return NULL;
          }
        self->n_clients++;
      }
  }
  notary_host_logf (host, NOTARY_LOG_INFO, "Using remote signing service");
  return g_steal_pointer (&self);
}

static const char *
remote_default_algorithm (NotarySigner *self)
{
  return self->key_algorithm;
}

/* Map a wire failure onto the trust-service error domain. */
static void
set_rpc_error (GError **error, GError *wire)
{
  NotarySignerError code = NOTARY_SIGNER_ERROR_FAILED;
  int status = wire->domain == NOTARY_GRPC_ERROR ? wire->code : NOTARY_GRPC_STATUS_UNKNOWN;

  if (status == NOTARY_GRPC_STATUS_NOT_FOUND)
    code = NOTARY_SIGNER_ERROR_KEY_NOT_FOUND;
  else if (status == NOTARY_GRPC_STATUS_UNAVAILABLE || status == NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED)
    code = NOTARY_SIGNER_ERROR_UNAVAILABLE;
  g_set_error (error, NOTARY_SIGNER_ERROR, code, "rpc error: code = %s desc = %s",
               notary_grpc_status_to_string (status), wire->message);
}

static ProtobufCMessage *
remote_call (NotarySigner *self, const char *path, const ProtobufCMessage *request,
             const ProtobufCMessageDescriptor *reply_type, gint64 timeout, GError **error)
{
  g_autoptr (GBytes) req = notary_grpc_pack (request);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) local = NULL;
  ProtobufCMessage *msg;

  reply = notary_grpc_client_call (pick_client (self), path, req, timeout, &local);
  if (reply == NULL)
    {
      set_rpc_error (error, local);
      return NULL;
    }
  msg = notary_grpc_unpack (reply_type, reply, &local);
  if (msg == NULL)
    {
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED, "rpc error: code = Internal desc = %s",
                   local->message);
      return NULL;
    }
  return msg;
}

/* A reply must carry keyInfo.algorithm and a public key, else it is
 * unusable (the reference would crash on it; we refuse it). */
static NotaryPublicKey *
public_key_from_reply (Proto__KeyInfo *info, ProtobufCBinaryData *pub, GError **error)
{
  NotaryPublicKey *key;

  if (info == NULL || info->algorithm == NULL || info->algorithm->algorithm == NULL
      || info->algorithm->algorithm[0] == '\0' || pub->len == 0)
    {
      g_set_error_literal (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                           "notary-signer returned an incomplete public key");
      return NULL;
    }
  key = g_new0 (NotaryPublicKey, 1);
  key->keytype = g_strdup (info->algorithm->algorithm);
  key->public_bytes = g_bytes_new (pub->data, pub->len);
  return key;
}

static NotaryPublicKey *
remote_create_key (NotarySigner *self, const char *gun, const char *role, const char *algorithm,
                   GError **error)
{
  Proto__CreateKeyRequest req = PROTO__CREATE_KEY_REQUEST__INIT;
  Proto__PublicKey *reply;
  NotaryPublicKey *key;

  req.algorithm = (char *) (algorithm != NULL ? algorithm : self->key_algorithm);
  req.gun = (char *) (gun != NULL ? gun : "");
  req.role = (char *) (role != NULL ? role : "");
  reply = (Proto__PublicKey *) remote_call (self, "/proto.KeyManagement/CreateKey", &req.base,
                                            &proto__public_key__descriptor, CALL_TIMEOUT_USEC, error);
  if (reply == NULL)
    return NULL;
  key = public_key_from_reply (reply->keyinfo, &reply->publickey, error);
  protobuf_c_message_free_unpacked (&reply->base, NULL);
  return key;
}

static NotaryPublicKey *
remote_get_key (NotarySigner *self, const char *key_id, GError **error)
{
  Proto__KeyID req = PROTO__KEY_ID__INIT;
  Proto__GetKeyInfoResponse *reply;
  NotaryPublicKey *key;

  req.id = (char *) key_id;
  reply = (Proto__GetKeyInfoResponse *) remote_call (self, "/proto.KeyManagement/GetKeyInfo", &req.base,
                                                     &proto__get_key_info_response__descriptor,
                                                     CALL_TIMEOUT_USEC, error);
  if (reply == NULL)
    return NULL;
  key = public_key_from_reply (reply->keyinfo, &reply->publickey, error);
  protobuf_c_message_free_unpacked (&reply->base, NULL);
  return key;
}

static GBytes *
remote_sign (NotarySigner *self, const char *key_id, GBytes *message, GError **error)
{
  Proto__SignatureRequest req = PROTO__SIGNATURE_REQUEST__INIT;
  Proto__KeyID id = PROTO__KEY_ID__INIT;
  Proto__Signature *reply;
  gsize len = 0;
  GBytes *sig;

  /* keyID must always be present: the reference signer crashes without it. */
  id.id = (char *) key_id;
  req.keyid = &id;
  req.content.data = (guint8 *) g_bytes_get_data (message, &len);
  req.content.len = len;
  reply = (Proto__Signature *) remote_call (self, "/proto.Signer/Sign", &req.base, &proto__signature__descriptor,
                                            CALL_TIMEOUT_USEC, error);
  if (reply == NULL)
    return NULL;
  if (reply->content.len == 0)
    {
      protobuf_c_message_free_unpacked (&reply->base, NULL);
      g_set_error_literal (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_FAILED,
                           "notary-signer returned an empty signature");
      return NULL;
    }
  sig = g_bytes_new (reply->content.data, reply->content.len);
  protobuf_c_message_free_unpacked (&reply->base, NULL);
  return sig;
}

static gboolean
check_service (NotarySigner *self, const char *service, const char *label, GError **error)
{
  Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  Grpc__Health__V1__HealthCheckResponse *reply;
  int status;

  req.service = (char *) service;
  reply = (Grpc__Health__V1__HealthCheckResponse *) remote_call (
      self, "/grpc.health.v1.Health/Check", &req.base, &grpc__health__v1__health_check_response__descriptor,
      HEALTH_TIMEOUT_USEC, error);
  if (reply == NULL)
    return FALSE;
  status = reply->status;
  protobuf_c_message_free_unpacked (&reply->base, NULL);
  if (status != GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
    {
      const ProtobufCEnumValue *v
          = protobuf_c_enum_descriptor_get_value (&grpc__health__v1__health_check_response__serving_status__descriptor,
                                                  status);
      g_set_error (error, NOTARY_SIGNER_ERROR, NOTARY_SIGNER_ERROR_UNAVAILABLE,
                   "got the serving status of %s: %s, want SERVING", label, v != NULL ? v->name : "UNKNOWN");
      return FALSE;
    }
  return TRUE;
}

static gboolean
remote_check_health (NotarySigner *self, GError **error)
{
  return check_service (self, "grpc.health.v1.Health.KeyManagement", "KeyManagement", error)
         && check_service (self, "grpc.health.v1.Health.Signer", "Signer", error);
}

static const NotarySignerVTable remote_vtable = {
  .version = NOTARY_VERSION_SIGNER_VTABLE,
  .open = remote_open,
  .close = remote_close,
  .default_algorithm = remote_default_algorithm,
  .create_key = remote_create_key,
  .get_key = remote_get_key,
  .sign = remote_sign,
  .check_health = remote_check_health,
};

NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_SIGNER, "remote", "keys held by a notary-signer over gRPC (mutual TLS)",
                      "0.1.0", &remote_vtable)
