/* fuzz-signed.c — TUF metadata as an upload brings it: the signed
 * envelope (notary_signed_parse) and then each role's body validation
 * (core/notary-tuf.c: root's keys and roles, targets' delegations,
 * snapshot's and timestamp's file metadata).  Signatures are not what is
 * fuzzed here (random bytes never verify); everything the server reads
 * before and after verifying them is.
 *
 * Invariants: every rejection is a NOTARY_TUF_ERROR (notary-repo types
 * those into notary's 400 error codes; an error of any other domain
 * passes through untyped and would answer 500), and an accepted envelope
 * keeps the exact bytes it was given (the server stores and serves what
 * the client signed, byte for byte). */
#include "fuzz-target.h"

#include "notary-tuf.h"

static void
expect_tuf_error (const GError *error, const char *what)
{
  if (error == NULL || error->domain != NOTARY_TUF_ERROR)
    fuzz_fail ("%s failed without a NOTARY_TUF_ERROR (%s)", what,
               error ? error->message : "no error at all");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) raw = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (NotarySigned) s = notary_signed_parse (raw, &error);
  if (s == NULL)
    {
      expect_tuf_error (error, "notary_signed_parse");
      return 0;
    }
  if (!g_bytes_equal (s->raw, raw))
    fuzz_fail ("the envelope does not keep the uploaded bytes");
  if (s->canonical_signed == NULL || s->type == NULL || s->signatures == NULL)
    fuzz_fail ("an accepted envelope lacks its canonical body, type or signatures");
  (void) notary_signed_is_expired (s, 0);
  (void) notary_signed_is_expired (s, G_MAXINT64);

  /* Every body reader on every envelope: a snapshot read as a root must
   * fail cleanly as surely as a root read as a root must. */
  g_autoptr (GError) root_error = NULL;
  g_autoptr (NotaryRoot) root = notary_root_new (s, &root_error);
  if (root == NULL)
    expect_tuf_error (root_error, "notary_root_new");
  else
    {
      /* The root's own roles, checked against the root's keys: the
       * signature check must fail cleanly (or pass, for a seed that is
       * really signed). */
      GHashTableIter it;
      gpointer name, role;
      g_hash_table_iter_init (&it, root->roles);
      while (g_hash_table_iter_next (&it, &name, &role))
        {
          g_autoptr (GError) verify_error = NULL;
          if (!notary_signed_verify (s, root->keys, role, &verify_error))
            expect_tuf_error (verify_error, "notary_signed_verify");
        }
    }

  static const char *const targets_names[] = { "targets", "targets/releases", "targets/a/b" };
  for (gsize i = 0; i < G_N_ELEMENTS (targets_names); i++)
    {
      g_autoptr (GError) targets_error = NULL;
      g_autoptr (NotaryTargets) t = notary_targets_new (s, targets_names[i], &targets_error);
      if (t == NULL)
        expect_tuf_error (targets_error, "notary_targets_new");
      else
        (void) notary_targets_find_delegation (t, "targets/releases");
    }

  NotaryMetaRole *(*meta_readers[]) (NotarySigned *, GError **) = { notary_snapshot_new, notary_timestamp_new };
  for (gsize i = 0; i < G_N_ELEMENTS (meta_readers); i++)
    {
      g_autoptr (GError) meta_error = NULL;
      g_autoptr (NotaryMetaRole) m = meta_readers[i](s, &meta_error);
      if (m == NULL)
        {
          expect_tuf_error (meta_error, "snapshot/timestamp reader");
          continue;
        }
      /* Check each listed role's file metadata against the document
       * itself: it must answer yes or a HASH error, never crash. */
      GHashTableIter it;
      gpointer role, meta;
      g_hash_table_iter_init (&it, m->meta);
      while (g_hash_table_iter_next (&it, &role, &meta))
        {
          g_autoptr (GError) check_error = NULL;
          if (!notary_file_meta_check (meta, raw, role, &check_error))
            expect_tuf_error (check_error, "notary_file_meta_check");
          g_free (notary_file_meta_sha256_hex (meta));
        }
    }
  return 0;
}
