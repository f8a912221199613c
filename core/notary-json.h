/* notary-json.h — strict JSON parsing and TUF canonical JSON.
 *
 * Parsing is stricter than the reference on purpose: duplicate object keys
 * are an error (the Go decoder keeps the last one, which lets two parsers of
 * one file disagree), and so is invalid UTF-8.  Canonical output follows
 * tuf-metadata.md §2 exactly (docker/go MarshalCanonical): sorted keys by
 * raw bytes, no whitespace, only `"` and `\` escaped, integers only.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NOTARY_JSON_ERROR (notary_json_error_quark ())
GQuark notary_json_error_quark (void);

typedef enum
{
  NOTARY_JSON_ERROR_PARSE,         /* not JSON, or invalid UTF-8 */
  NOTARY_JSON_ERROR_DUPLICATE_KEY, /* an object names one key twice */
  NOTARY_JSON_ERROR_NOT_CANONICAL, /* value cannot be canonicalised (non-integral number) */
} NotaryJsonError;

/* Parse @len bytes (or NUL-terminated when @len < 0).  Rejects duplicate
 * keys at any depth.  \return (transfer full) the root node. */
JsonNode *notary_json_parse (const char *data, gssize len, GError **error);

/* Append the canonical encoding of @node to @out.  \return FALSE (and
 * leaves @out partly written) on a value that cannot be canonicalised. */
gboolean notary_json_write_canonical (GString *out, JsonNode *node, GError **error);

/* Canonical bytes of @node.  \return (transfer full). */
GBytes *notary_json_canonicalize (JsonNode *node, GError **error);
/* The same, with the output buffer sized for @size_hint bytes up front:
 * canonicalising a multi-megabyte document into a doubling buffer briefly
 * held three times its size. */
GBytes *notary_json_canonicalize_sized (JsonNode *node, gsize size_hint, GError **error);

/* notary_json_parse, for documents with one big object: the object at
 * @outer.@inner (e.g. "signed"."targets"), when both are objects named
 * without escapes, is not built into the tree.  It is left as an empty
 * object there, and its canonical encoding is returned in
 * @inner_canonical (which stays NULL when the document has no such
 * object; the tree is then complete).  The whole text is held to every
 * rule of notary_json_parse, duplicate keys inside the object included.
 * Why: json-glib spends ~1 KB per small object, so a targets map of
 * 100,000 entries would be a 100 MB tree.  \return (transfer full). */
JsonNode *notary_json_parse_split (const char *data, gssize len, const char *outer, const char *inner,
                                   GBytes **inner_canonical, GError **error);

/* Canonical bytes of the object @node with the value of its member @key
 * written as @value_canonical (from notary_json_parse_split).  With @key
 * or @value_canonical NULL, notary_json_canonicalize_sized.
 * \return (transfer full). */
GBytes *notary_json_canonicalize_spliced (JsonNode *node, gsize size_hint, const char *key,
                                          GBytes *value_canonical, GError **error);

/* Append @s as a canonical JSON string (quotes included). */
void notary_json_write_canonical_string (GString *out, const char *s);

/* Append @len bytes of @s (NUL-terminated when @len < 0) as Go's
 * encoding/json writes a string: quotes, `"` `\` \n \r \t escaped, other
 * control bytes and the HTML-sensitive < > & as \u00XX, U+2028/U+2029 as
 * \u2028/\u2029, and each byte that is not part of valid UTF-8 as \ufffd
 * (what logrus lines and Go-made JSON bodies contain). */
void notary_json_write_go_string (GString *out, const char *s, gssize len);

/* Parse an RFC 3339 timestamp ("2024-05-01T10:00:00.123456789Z",
 * "…+02:00").  \return seconds since the epoch in @out_unix (fraction
 * truncated toward the past). */
gboolean notary_time_parse_rfc3339 (const char *s, gint64 *out_unix, GError **error);

/* Go's RFC3339Nano rendering in UTC: "2006-01-02T15:04:05.999999999Z"
 * with trailing fraction zeros trimmed (fraction omitted when 0).
 * @nanos in [0, 1e9).  \return (transfer full). */
char *notary_time_format_rfc3339 (gint64 unix_seconds, gint32 nanos);

/* HTTP date for Last-Modified: "Mon, 02 Jan 2006 15:04:05 GMT". */
char *notary_time_format_http (gint64 unix_seconds);

/* Convenience accessors on parsed TUF JSON; all return NULL/FALSE when the
 * member is missing or of another type (no GError: callers phrase the
 * error in TUF terms). */
JsonObject *notary_json_object_get_object (JsonObject *obj, const char *member);
JsonArray *notary_json_object_get_array (JsonObject *obj, const char *member);
const char *notary_json_object_get_string (JsonObject *obj, const char *member);
/* An integral JSON number (no fraction, fits gint64). */
gboolean notary_json_object_get_int (JsonObject *obj, const char *member, gint64 *out);

/* Added after the first interface draft. */

/* notary_time_parse_rfc3339() that also returns the fraction of the second
 * in @out_nanos, [0, 1e9); digits after the ninth are dropped, as Go does.
 * Either out pointer may be NULL.  Round-trips with
 * notary_time_format_rfc3339() for UTC input in Go's format. */
gboolean notary_time_parse_rfc3339_nanos (const char *s, gint64 *out_unix, gint32 *out_nanos,
                                          GError **error);

G_END_DECLS
