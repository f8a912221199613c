/* notary-http-errors.h — the reference's error codes and JSON bodies
 * (server-api.md §6): {"errors":[{"code","message","detail"}]}\n */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  NOTARY_HTTP_NO_STORAGE,
  NOTARY_HTTP_NO_FILENAME,
  NOTARY_HTTP_INVALID_ROLE,
  NOTARY_HTTP_MALFORMED_JSON,
  NOTARY_HTTP_UPDATING,
  NOTARY_HTTP_VERSION,
  NOTARY_HTTP_METADATA_NOT_FOUND,
  NOTARY_HTTP_INVALID_UPDATE,
  NOTARY_HTTP_MALFORMED_UPLOAD,
  NOTARY_HTTP_GENERIC_NOT_FOUND,
  NOTARY_HTTP_NO_CRYPTOSERVICE,
  NOTARY_HTTP_NO_KEYALGORITHM,
  NOTARY_HTTP_INVALID_GUN,
  NOTARY_HTTP_INVALID_PARAMETERS,
  NOTARY_HTTP_UNKNOWN,
  NOTARY_HTTP_UNAUTHORIZED,
  NOTARY_HTTP_UNAVAILABLE, /* ours: a backend is down (503, code UNKNOWN) */
  NOTARY_HTTP_TOO_LARGE,   /* ours: body over server.max_request_body (413) */
} NotaryHttpErrorCode;

const char *notary_http_error_code_name (NotaryHttpErrorCode code);
guint notary_http_error_status (NotaryHttpErrorCode code);

/* The body, with @detail_json (already-encoded JSON, or NULL to omit
 * "detail").  Kept under 1 KiB for 400s: the v0.7.0 client reads no more
 * (long Msg values inside @detail_json are the caller's to truncate). */
GBytes *notary_http_error_body (NotaryHttpErrorCode code, const char *detail_json);

/* Detail for a typed validation error: {"Name":…,"Error":{…"Msg":…}}, with
 * Msg truncated so the whole body stays under 1 KiB. */
char *notary_http_validation_detail (const char *name, const char *msg);

G_END_DECLS
