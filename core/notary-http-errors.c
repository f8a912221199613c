/* notary-http-errors.c — see notary-http-errors.h. */
#include "notary-http-errors.h"
#include "notary-json.h"

#include <string.h>

static const struct
{
  const char *code;
  guint status;
  const char *message;
} errors[] = {
  [NOTARY_HTTP_NO_STORAGE] = { "NO_STORAGE", 500, "The server is misconfigured and has no storage." },
  [NOTARY_HTTP_NO_FILENAME] = { "NO_FILENAME", 400, "No file/role name provided." },
  [NOTARY_HTTP_INVALID_ROLE] = { "INVALID_ROLE", 400, "The role you are attempting to operate on is invalid." },
  [NOTARY_HTTP_MALFORMED_JSON] = { "MALFORMED_JSON", 400, "JSON sent by the client could not be parsed by the server" },
  [NOTARY_HTTP_UPDATING] = { "UPDATING", 500, "An error has occurred while updating the TUF repository." },
  [NOTARY_HTTP_VERSION] = { "VERSION", 400, "A newer version of metadata is already available." },
  [NOTARY_HTTP_METADATA_NOT_FOUND] = { "METADATA_NOT_FOUND", 404, "You have requested metadata that does not exist." },
  [NOTARY_HTTP_INVALID_UPDATE] = { "INVALID_UPDATE", 400, "Update sent by the client is invalid." },
  [NOTARY_HTTP_MALFORMED_UPLOAD] = { "MALFORMED_UPLOAD", 400, "The body of your request is malformed." },
  [NOTARY_HTTP_GENERIC_NOT_FOUND] = { "GENERIC_NOT_FOUND", 404, "You have requested a resource that does not exist." },
  [NOTARY_HTTP_NO_CRYPTOSERVICE] = { "NO_CRYPTOSERVICE", 500, "The server does not have a signing service configured." },
  [NOTARY_HTTP_NO_KEYALGORITHM] = { "NO_KEYALGORITHM", 500, "The server does not have a key algorithm configured." },
  [NOTARY_HTTP_INVALID_GUN] = { "INVALID_GUN", 400, "The server does not support actions on images of this name." },
  [NOTARY_HTTP_INVALID_PARAMETERS] = { "INVALID_PARAMETERS", 400, "The parameters provided are not valid." },
  [NOTARY_HTTP_UNKNOWN] = { "UNKNOWN", 500, "unknown error" },
  [NOTARY_HTTP_UNAUTHORIZED] = { "UNAUTHORIZED", 401, "authentication required" },
  [NOTARY_HTTP_UNAVAILABLE] = { "UNKNOWN", 503, "unknown error" },
  [NOTARY_HTTP_TOO_LARGE] = { "MALFORMED_UPLOAD", 413, "The body of your request is malformed." },
};

const char *
notary_http_error_code_name (NotaryHttpErrorCode code)
{
  return errors[code].code;
}

guint
notary_http_error_status (NotaryHttpErrorCode code)
{
  return errors[code].status;
}

GBytes *
notary_http_error_body (NotaryHttpErrorCode code, const char *detail_json)
{
  GString *out = g_string_new ("{\"errors\":[{\"code\":\"");
  g_string_append (out, errors[code].code);
  g_string_append (out, "\",\"message\":\"");
  g_string_append (out, errors[code].message);
  g_string_append_c (out, '"');
  if (detail_json != NULL)
    {
      g_string_append (out, ",\"detail\":");
      g_string_append (out, detail_json);
    }
  g_string_append (out, "}]}\n");
  return g_string_free_to_bytes (out);
}

char *
notary_http_validation_detail (const char *name, const char *msg)
{
  GString *out = g_string_new ("{\"Name\":\"");
  /* Envelope + names take < 250 bytes; leave the rest to Msg, cut at a
   * UTF-8 boundary so that its escaped form fits (escaping can make a
   * byte six: "<" is \u003c). */
  const gsize max_escaped = 600;
  g_autoptr (GString) escaped = g_string_new (NULL);
  gsize cut = strlen (msg);

  for (;;)
    {
      g_string_truncate (escaped, 0);
      notary_json_write_go_string (escaped, msg, (gssize) cut);
      if (escaped->len <= max_escaped)
        break;
      /* Shrink in proportion; each round at least one character. */
      const char *end = g_utf8_find_prev_char (msg, msg + MIN (cut - 1, cut * max_escaped / escaped->len));
      cut = end != NULL ? (gsize) (end - msg) : 0;
    }
  g_string_append (out, name);
  g_string_append (out, "\",\"Error\":{");
  if (g_str_equal (name, "ErrBadHierarchy"))
    g_string_append (out, "\"Missing\":\"snapshot\",");
  g_string_append (out, "\"Msg\":");
  g_string_append_len (out, escaped->str, (gssize) escaped->len);
  g_string_append (out, "}}");
  return g_string_free (out, FALSE);
}
