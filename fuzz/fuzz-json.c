/* fuzz-json.c — the strict JSON reader and the canonical writer
 * (core/notary-json.c), which every upload and every stored file goes
 * through before anything else looks at it.
 *
 * Beyond "no crash, no leak, no undefined behaviour" (the sanitizers'
 * part) it checks what the signature scheme relies on: a document the
 * reader accepts canonicalises, or fails with NOT_CANONICAL and nothing
 * else; the canonical text reads back (unless a string holds a control
 * character, which canonical form leaves raw); and canonicalising is
 * idempotent,
 * so a signer and a verifier that each canonicalise agree on the bytes.
 * The split reader (big targets maps) must accept exactly what the plain
 * one accepts and produce the same canonical bytes. */
#include "fuzz-target.h"

#include "notary-json.h"

static GBytes *
canonical_or_abort (JsonNode *node, const char *what)
{
  g_autoptr (GError) error = NULL;
  GBytes *out = notary_json_canonicalize (node, &error);
  if (out == NULL && !g_error_matches (error, NOTARY_JSON_ERROR, NOTARY_JSON_ERROR_NOT_CANONICAL))
    fuzz_fail ("%s: canonicalize failed with an unexpected error: %s", what, error->message);
  return out;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = notary_json_parse ((const char *) data, (gssize) size, &error);

  g_autoptr (GError) split_error = NULL;
  g_autoptr (GBytes) inner = NULL;
  g_autoptr (JsonNode) split = notary_json_parse_split ((const char *) data, (gssize) size, "signed",
                                                        "targets", &inner, &split_error);
  /* The split reader canonicalises the targets map while it reads, so
   * a number there that has no canonical form is refused at once, where
   * the plain reader accepts and canonicalising fails later: either way
   * the upload is refused.  Otherwise both must agree. */
  gboolean split_refused_number = split == NULL && g_error_matches (split_error, NOTARY_JSON_ERROR,
                                                                    NOTARY_JSON_ERROR_NOT_CANONICAL);
  if ((node == NULL) != (split == NULL) && !(node != NULL && split_refused_number))
    fuzz_fail ("plain and split readers disagree: %s / %s", error ? error->message : "accepted",
               split_error ? split_error->message : "accepted");
  if (node == NULL)
    {
      if (error == NULL || error->domain != NOTARY_JSON_ERROR)
        fuzz_fail ("rejected without a notary-json error");
      return 0;
    }

  g_autoptr (GBytes) first = canonical_or_abort (node, "parsed document");
  if (split_refused_number && first != NULL)
    fuzz_fail ("the split reader refused a number the plain reader's document canonicalises");
  if (first == NULL || split == NULL)
    return 0;

  /* The split reader leaves signed.targets as {} in the tree and hands
   * its canonical bytes back apart: spliced back into the "signed"
   * object, they must give that object's canonical bytes. */
  JsonNode *whole = node, *part = split;
  if (inner != NULL)
    {
      whole = json_object_get_member (json_node_get_object (node), "signed");
      part = json_object_get_member (json_node_get_object (split), "signed");
    }
  g_autoptr (GBytes) expected = whole == node ? g_bytes_ref (first) : canonical_or_abort (whole, "signed");
  g_autoptr (GBytes) spliced = JSON_NODE_HOLDS_OBJECT (part)
                                   ? notary_json_canonicalize_spliced (part, size, "targets", inner, &split_error)
                                   : notary_json_canonicalize (part, &split_error);
  if (expected != NULL && (spliced == NULL || !g_bytes_equal (spliced, expected)))
    fuzz_fail ("split reader's canonical bytes differ from the plain reader's");

  /* Canonical strings escape only '"' and '\\' (as the reference's
   * encoder does), so a control character in a string stays raw and the
   * text is no longer strict JSON; everything else must read back to the
   * same canonical bytes. */
  gsize n;
  const char *text = g_bytes_get_data (first, &n);
  for (gsize i = 0; i < n; i++)
    if ((guchar) text[i] < 0x20)
      return 0;
  g_autoptr (GError) again_error = NULL;
  g_autoptr (JsonNode) again = notary_json_parse (text, (gssize) n, &again_error);
  if (again == NULL)
    fuzz_fail ("canonical output does not read back: %s", again_error->message);
  g_autoptr (GBytes) second = canonical_or_abort (again, "canonical document");
  if (second == NULL || !g_bytes_equal (first, second))
    fuzz_fail ("canonicalising is not idempotent");
  return 0;
}
