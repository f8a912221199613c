/* notary-grpc.h — unary gRPC over HTTP/2 (nghttp2) over TLS (GnuTLS).
 *
 * The wire stack shared by the notary-signer daemon and the `remote`
 * trust-service plugin (signer-rpc.md §1, §7; docs/signer-wire.md says why
 * it is hand-assembled from nghttp2 + protobuf-c + GnuTLS rather than the
 * gRPC C core).  Only what notary needs: unary calls, identity encoding,
 * mandatory TLS with ALPN "h2", optional client certificates.
 *
 * Errors: every failed call reports a GError in NOTARY_GRPC_ERROR whose
 * code is the gRPC status code (NotaryGrpcStatus) and whose message is the
 * peer's grpc-message (or a local description for transport failures).
 * Server handlers report their status the same way; an error from another
 * domain goes on the wire as UNKNOWN, as grpc-go does for plain errors.
 */
#pragma once

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

G_BEGIN_DECLS

#define NOTARY_GRPC_ERROR (notary_grpc_error_quark ())
GQuark notary_grpc_error_quark (void);

typedef enum
{
  NOTARY_GRPC_STATUS_OK = 0,
  NOTARY_GRPC_STATUS_CANCELLED = 1,
  NOTARY_GRPC_STATUS_UNKNOWN = 2,
  NOTARY_GRPC_STATUS_INVALID_ARGUMENT = 3,
  NOTARY_GRPC_STATUS_DEADLINE_EXCEEDED = 4,
  NOTARY_GRPC_STATUS_NOT_FOUND = 5,
  NOTARY_GRPC_STATUS_ALREADY_EXISTS = 6,
  NOTARY_GRPC_STATUS_PERMISSION_DENIED = 7,
  NOTARY_GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
  NOTARY_GRPC_STATUS_FAILED_PRECONDITION = 9,
  NOTARY_GRPC_STATUS_ABORTED = 10,
  NOTARY_GRPC_STATUS_OUT_OF_RANGE = 11,
  NOTARY_GRPC_STATUS_UNIMPLEMENTED = 12,
  NOTARY_GRPC_STATUS_INTERNAL = 13,
  NOTARY_GRPC_STATUS_UNAVAILABLE = 14,
  NOTARY_GRPC_STATUS_DATA_LOSS = 15,
  NOTARY_GRPC_STATUS_UNAUTHENTICATED = 16,
} NotaryGrpcStatus;

/* grpc-go's spelling of a code ("NotFound", "Unavailable", …), used in
 * "rpc error: code = X desc = Y" texts.  Unknown codes give "Code(N)"
 * style text through a static buffer-free fallback ("Unknown"). */
const char *notary_grpc_status_to_string (NotaryGrpcStatus status);

/* Largest message accepted either way (grpc-go's default). */
#define NOTARY_GRPC_MAX_MESSAGE (4 * 1024 * 1024)

/* ---- message helpers ---------------------------------------------------- */

/* Serialise any protobuf-c message.  (transfer full) */
GBytes *notary_grpc_pack (const ProtobufCMessage *message);
/* Parse @bytes as @descriptor's message; INTERNAL on malformed input (as
 * grpc-go reports a request it cannot unmarshal).  Free the result with
 * protobuf_c_message_free_unpacked(). */
ProtobufCMessage *notary_grpc_unpack (const ProtobufCMessageDescriptor *descriptor, GBytes *bytes,
                                      GError **error);

/* Length-prefixed message framing: 1 flag byte (0 = not compressed) +
 * 4-byte big-endian length + payload. */
GBytes *notary_grpc_frame (GBytes *message);
/* Exactly one uncompressed message in @data; else an error with the code
 * grpc-go would use (INTERNAL / UNIMPLEMENTED / RESOURCE_EXHAUSTED). */
GBytes *notary_grpc_unframe (const guint8 *data, gsize len, GError **error);

/* grpc-message percent-encoding: bytes outside 0x20–0x7E and '%' → %XX. */
char *notary_grpc_percent_encode (const char *text);
/* Lenient decoding: malformed escapes are kept verbatim. */
char *notary_grpc_percent_decode (const char *text);

/* grpc-timeout values ("10S", "9999873u"): at most 8 digits + H M S m u n. */
gboolean notary_grpc_timeout_parse (const char *text, gint64 *out_usec);
char *notary_grpc_timeout_format (gint64 usec);

/* ---- server ------------------------------------------------------------- */

/* Handle one unary call.  @path is the full method path
 * ("/proto.Signer/Sign"), @request the message payload.  Runs on one of
 * the server's connection threads; must be thread-safe.
 * \return (transfer full) the response payload, or NULL with @error set. */
typedef GBytes *(*NotaryGrpcHandler) (const char *path, GBytes *request, gpointer user_data,
                                      GError **error);

typedef struct _NotaryGrpcServer NotaryGrpcServer;

/* TLS is mandatory: @cert_file (leaf + chain, PEM) and @key_file.  With
 * @client_ca_file, clients must present a certificate verifying against
 * the certificates of that file only (each one a trust anchor). */
NotaryGrpcServer *notary_grpc_server_new (const char *cert_file, const char *key_file,
                                          const char *client_ca_file, NotaryGrpcHandler handler,
                                          gpointer user_data, GError **error);
/* Bind @address ("host:port", ":port", "[v6]:port"; port 0 = any) and
 * start accepting on a thread of its own.  @out_port: the bound port. */
gboolean notary_grpc_server_start (NotaryGrpcServer *server, const char *address, guint16 *out_port,
                                   GError **error);
/* Stop accepting, close connections, join threads.  Idempotent. */
void notary_grpc_server_stop (NotaryGrpcServer *server);
void notary_grpc_server_free (NotaryGrpcServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryGrpcServer, notary_grpc_server_free)

/* ---- client ------------------------------------------------------------- */

typedef struct _NotaryGrpcClient NotaryGrpcClient;

/* A lazily connected client for https://@host:@port.  @ca_file: the only
 * trusted roots (NULL: the system's).  @cert_file/@key_file: client
 * identity (both or neither).  The server certificate must match @host
 * (DNS name or IP SAN).  Nothing is dialled until the first call. */
NotaryGrpcClient *notary_grpc_client_new (const char *host, guint16 port, const char *ca_file,
                                          const char *cert_file, const char *key_file, GError **error);
/* One unary call on the shared connection (dialled or re-dialled as
 * needed).  @timeout_usec > 0: deadline, also sent as grpc-timeout.
 * Thread-safe; calls are serialised on the one connection.
 * \return (transfer full) the response payload. */
GBytes *notary_grpc_client_call (NotaryGrpcClient *client, const char *path, GBytes *request,
                                 gint64 timeout_usec, GError **error);
/* Drop the current connection (tests; the next call re-dials). */
void notary_grpc_client_disconnect (NotaryGrpcClient *client);
void notary_grpc_client_free (NotaryGrpcClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryGrpcClient, notary_grpc_client_free)

G_END_DECLS
