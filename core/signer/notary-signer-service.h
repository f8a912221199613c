/* notary-signer-service.h — the signer's gRPC services: KeyManagement,
 * Signer and grpc.health.v1.Health (signer-rpc.md §4-5), as one
 * NotaryGrpcHandler over a key store.
 */
#pragma once

#include "notary-grpc.h"
#include "notary-signer-keystore.h"

G_BEGIN_DECLS

typedef struct _NotarySignerService NotarySignerService;

/* @store: (transfer none, nullable), must outlive the service.  A
 * service without a store answers every key call with UNAVAILABLE. */
NotarySignerService *notary_signer_service_new (NotarySignerKeyStore *store);
void notary_signer_service_set_store (NotarySignerService *service, NotarySignerKeyStore *store);
void notary_signer_service_free (NotarySignerService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySignerService, notary_signer_service_free)

/* A NotaryGrpcHandler; @user_data is the NotarySignerService. */
GBytes *notary_signer_service_handle (const char *path, GBytes *request, gpointer user_data, GError **error);

G_END_DECLS
