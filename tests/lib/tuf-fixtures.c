/* tuf-fixtures.c — helpers the TUF, repo and HTTP tests share to build
 * signed metadata: keys (plain and self-signed x509 root certificates made
 * with GnuTLS, as the Go client makes them), role bodies as mutable JSON
 * objects (so a test can break exactly one field), and signing into the
 * envelope format of tuf-metadata.md §1.
 *
 * Included (#include "lib/tuf-fixtures.c") by each test rather than built
 * as a library: test code only, everything is static.
 */
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <string.h>

#include <notary/storage-backend.h>
#include <notary/signer-backend.h>
#include "notary-json.h"
#include "notary-keys.h"
#include "notary-plugin-loader.h"
#include "notary-repo.h"
#include "notary-tuf.h"

#define FX_DAY (24 * 3600)
#define FX_YEAR (365 * FX_DAY)

/* ---- keys ---------------------------------------------------------------- */

typedef struct
{
  NotaryPrivateKey *priv; /* NULL for keys only the server holds */
  NotaryKey *pub;         /* as published in metadata */
} FxKey;

G_GNUC_UNUSED static void
fx_key_free (FxKey *k)
{
  if (k == NULL)
    return;
  g_clear_pointer (&k->priv, notary_private_key_unref);
  g_clear_pointer (&k->pub, notary_key_unref);
  g_free (k);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FxKey, fx_key_free)

G_GNUC_UNUSED static FxKey *
fx_key_new (const char *algorithm)
{
  g_autoptr (GError) error = NULL;
  FxKey *k = g_new0 (FxKey, 1);
  k->priv = notary_private_key_generate (algorithm, &error);
  g_assert_no_error (error);
  k->pub = notary_key_ref (notary_private_key_get_public (k->priv));
  return k;
}

/* A public key the test does not hold the private half of (server keys). */
G_GNUC_UNUSED static FxKey *
fx_key_from_public (NotaryKey *pub)
{
  FxKey *k = g_new0 (FxKey, 1);
  k->pub = notary_key_ref (pub);
  return k;
}

/* Self-signed ECDSA P-256 certificate like the Go client's root key:
 * CN = @cn, not a CA, digitalSignature, EKU codeSigning, SHA-256.  The
 * private key goes through PKCS#8 into a NotaryPrivateKey. */
G_GNUC_UNUSED static FxKey *
fx_cert_key_new (const char *cn, gint64 not_before, gint64 not_after)
{
  gnutls_x509_privkey_t xkey;
  gnutls_x509_crt_t crt;
  gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
  guint8 serial[8];
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) pkcs8 = NULL;
  g_autoptr (GBytes) pem_bytes = NULL;
  FxKey *k = g_new0 (FxKey, 1);

  g_assert_cmpint (gnutls_x509_privkey_init (&xkey), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (xkey, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (xkey, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &der),
                   ==, 0);
  pkcs8 = g_bytes_new (der.data, der.size);
  gnutls_free (der.data);
  k->priv = notary_private_key_new_from_pkcs8 (pkcs8, &error);
  g_assert_no_error (error);

  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_version (crt, 3), ==, 0);
  for (guint i = 0; i < sizeof serial; i++)
    serial[i] = (guint8) g_random_int_range (1, 256);
  serial[0] &= 0x7f;
  g_assert_cmpint (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (crt, (time_t) not_before), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (crt, (time_t) not_after), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen (cn)), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (crt, xkey), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_basic_constraints (crt, 0, -1), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_CODE_SIGNING, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_sign2 (crt, crt, xkey, GNUTLS_DIG_SHA256, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
  /* GnuTLS writes the same layout as Go's pem.Encode (64-column lines,
   * trailing newline), which is what makes the TUF IDs line up. */
  pem_bytes = g_bytes_new (pem.data, pem.size);
  gnutls_free (pem.data);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (xkey);

  k->pub = notary_key_new ("ecdsa-x509", pem_bytes, &error);
  g_assert_no_error (error);
  return k;
}

G_GNUC_UNUSED static FxKey *
fx_root_key_new (const char *gun, gint64 now)
{
  return fx_cert_key_new (gun, now - FX_DAY, now + 10 * FX_YEAR);
}

G_GNUC_UNUSED static const char *
fx_id (FxKey *k)
{
  return notary_key_get_id (k->pub);
}

/* ---- JSON bodies ----------------------------------------------------------- */

G_GNUC_UNUSED static JsonNode *
fx_key_json (NotaryKey *key)
{
  JsonObject *o = json_object_new ();
  JsonObject *kv = json_object_new ();
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);
  gsize len;
  const guchar *d = g_bytes_get_data (notary_key_get_public (key), &len);
  g_autofree char *b64 = g_base64_encode (d, len);

  json_object_set_string_member (o, "keytype", notary_key_get_keytype (key));
  json_object_set_null_member (kv, "private");
  json_object_set_string_member (kv, "public", b64);
  json_object_set_object_member (o, "keyval", kv);
  json_node_take_object (n, o);
  return n;
}

G_GNUC_UNUSED static char *
fx_time (gint64 t)
{
  return notary_time_format_rfc3339 (t, 0);
}

G_GNUC_UNUSED static JsonObject *
fx_common_body (const char *type, gint64 version, gint64 expires)
{
  JsonObject *o = json_object_new ();
  g_autofree char *e = fx_time (expires);
  json_object_set_string_member (o, "_type", type);
  json_object_set_string_member (o, "expires", e);
  json_object_set_int_member (o, "version", version);
  return o;
}

/* Adds @keys (NULL-terminated) to @keys_obj and returns the role object
 * {"keyids":[…],"threshold":N}. */
G_GNUC_UNUSED static JsonObject *
fx_role_object (JsonObject *keys_obj, FxKey *const *keys, gint64 threshold)
{
  JsonObject *role = json_object_new ();
  JsonArray *ids = json_array_new ();
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      json_array_add_string_element (ids, fx_id (keys[i]));
      json_object_set_member (keys_obj, fx_id (keys[i]), fx_key_json (keys[i]->pub));
    }
  json_object_set_array_member (role, "keyids", ids);
  json_object_set_int_member (role, "threshold", threshold);
  return role;
}

/* Root body; every key list NULL-terminated; thresholds 1 except root's. */
G_GNUC_UNUSED static JsonObject *
fx_root_body (gint64 version, gint64 expires, FxKey *const *root, gint64 root_threshold, FxKey *const *targets,
              FxKey *const *snapshot, FxKey *const *timestamp)
{
  JsonObject *o = fx_common_body ("Root", version, expires);
  JsonObject *keys = json_object_new ();
  JsonObject *roles = json_object_new ();

  json_object_set_boolean_member (o, "consistent_snapshot", FALSE);
  json_object_set_object_member (roles, "root", fx_role_object (keys, root, root_threshold));
  json_object_set_object_member (roles, "targets", fx_role_object (keys, targets, 1));
  json_object_set_object_member (roles, "snapshot", fx_role_object (keys, snapshot, 1));
  json_object_set_object_member (roles, "timestamp", fx_role_object (keys, timestamp, 1));
  json_object_set_object_member (o, "keys", keys);
  json_object_set_object_member (o, "roles", roles);
  return o;
}

G_GNUC_UNUSED static JsonObject *
fx_targets_body (gint64 version, gint64 expires)
{
  JsonObject *o = fx_common_body ("Targets", version, expires);
  JsonObject *del = json_object_new ();
  json_object_set_object_member (del, "keys", json_object_new ());
  json_object_set_array_member (del, "roles", json_array_new ());
  json_object_set_object_member (o, "delegations", del);
  json_object_set_object_member (o, "targets", json_object_new ());
  return o;
}

G_GNUC_UNUSED static void
fx_targets_add_delegation (JsonObject *body, const char *name, FxKey *const *keys, gint64 threshold)
{
  JsonObject *del = json_object_get_object_member (body, "delegations");
  JsonObject *role = fx_role_object (json_object_get_object_member (del, "keys"), keys, threshold);
  JsonArray *paths = json_array_new ();
  json_array_add_string_element (paths, "");
  json_object_set_string_member (role, "name", name);
  json_object_set_array_member (role, "paths", paths);
  json_array_add_object_element (json_object_get_array_member (del, "roles"), role);
}

/* A target entry so successive targets versions differ in content. */
G_GNUC_UNUSED static void
fx_targets_add_target (JsonObject *body, const char *name, const char *content)
{
  g_autoptr (GBytes) b = g_bytes_new (content, strlen (content));
  g_autoptr (GBytes) d = notary_digest (G_CHECKSUM_SHA256, b);
  JsonObject *t = json_object_new ();
  JsonObject *h = json_object_new ();
  g_autofree char *enc = g_base64_encode (g_bytes_get_data (d, NULL), g_bytes_get_size (d));
  json_object_set_string_member (h, "sha256", enc);
  json_object_set_object_member (t, "hashes", h);
  json_object_set_int_member (t, "length", strlen (content));
  json_object_set_object_member (json_object_get_object_member (body, "targets"), name, t);
}

G_GNUC_UNUSED static JsonObject *
fx_meta_body (const char *type, gint64 version, gint64 expires)
{
  JsonObject *o = fx_common_body (type, version, expires);
  json_object_set_object_member (o, "meta", json_object_new ());
  return o;
}

/* meta[@role] = filemeta of @data (sha256 + sha512, base64). */
G_GNUC_UNUSED static void
fx_meta_add (JsonObject *body, const char *role, GBytes *data)
{
  g_autoptr (GBytes) s256 = notary_digest (G_CHECKSUM_SHA256, data);
  g_autoptr (GBytes) s512 = notary_digest (G_CHECKSUM_SHA512, data);
  g_autofree char *e256 = g_base64_encode (g_bytes_get_data (s256, NULL), 32);
  g_autofree char *e512 = g_base64_encode (g_bytes_get_data (s512, NULL), 64);
  JsonObject *fm = json_object_new ();
  JsonObject *h = json_object_new ();
  json_object_set_string_member (h, "sha256", e256);
  json_object_set_string_member (h, "sha512", e512);
  json_object_set_object_member (fm, "hashes", h);
  json_object_set_int_member (fm, "length", g_bytes_get_size (data));
  json_object_set_object_member (json_object_get_object_member (body, "meta"), role, fm);
}

/* ---- envelopes ------------------------------------------------------------- */

G_GNUC_UNUSED static GBytes *
fx_canonical (JsonObject *body)
{
  g_autoptr (JsonNode) n = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (GError) error = NULL;
  GBytes *b;
  json_node_set_object (n, body);
  b = notary_json_canonicalize (n, &error);
  g_assert_no_error (error);
  return b;
}

/* Sign @body (consumed) with every key of @signers (NULL-terminated) and
 * wrap it into the envelope bytes. */
G_GNUC_UNUSED static GBytes *
fx_sign (JsonObject *body, FxKey *const *signers)
{
  g_autoptr (GBytes) canon = fx_canonical (body);
  g_autoptr (GPtrArray) sigs = g_ptr_array_new_with_free_func ((GDestroyNotify) notary_signature_free);

  for (guint i = 0; signers != NULL && signers[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      NotarySignature *sig = g_new0 (NotarySignature, 1);
      g_assert_nonnull (signers[i]->priv);
      sig->keyid = g_strdup (fx_id (signers[i]));
      sig->method = g_strdup (notary_private_key_get_method (signers[i]->priv));
      sig->sig = notary_private_key_sign (signers[i]->priv, canon, &error);
      g_assert_no_error (error);
      g_ptr_array_add (sigs, sig);
    }
  json_object_unref (body);
  return notary_envelope_build (canon, sigs);
}

G_GNUC_UNUSED static NotarySigned *
fx_parse (GBytes *raw)
{
  g_autoptr (GError) error = NULL;
  NotarySigned *s = notary_signed_parse (raw, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

G_GNUC_UNUSED static NotarySigned *
fx_parse_str (const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return fx_parse (b);
}

/* ---- plugins ------------------------------------------------------------- */

static const NotaryHost fx_host = { NOTARY_VERSION_HOST, NULL, "/", "notary-server", NULL };

G_GNUC_UNUSED static gconstpointer
fx_load_vtable (NotaryPluginKind kind, const char *name)
{
  g_auto (GStrv) path = notary_plugin_search_path (NULL);
  g_autoptr (GError) error = NULL;
  const NotaryPluginDesc *desc = notary_plugin_load ((const char *const *) path, kind, name, &error);
  g_assert_no_error (error);
  g_assert_nonnull (desc);
  return desc->vtable;
}

typedef struct
{
  const NotaryStorageVTable *svt;
  NotaryStorage *storage;
  const NotarySignerVTable *kvt;
  NotarySigner *signer;
  NotaryRepo *repo;
} FxServer;

G_GNUC_UNUSED static void
fx_server_init (FxServer *fx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) opts = json_object_new ();

  fx->svt = fx_load_vtable (NOTARY_PLUGIN_KIND_STORAGE, "memory");
  fx->kvt = fx_load_vtable (NOTARY_PLUGIN_KIND_SIGNER, "local");
  fx->storage = fx->svt->open (&fx_host, opts, &error);
  g_assert_no_error (error);
  fx->signer = fx->kvt->open (&fx_host, opts, &error);
  g_assert_no_error (error);
  fx->repo = notary_repo_new (fx->svt, fx->storage, fx->kvt, fx->signer);
}

G_GNUC_UNUSED static void
fx_server_clear (FxServer *fx)
{
  g_clear_pointer (&fx->repo, notary_repo_free);
  if (fx->signer)
    fx->kvt->close (fx->signer);
  if (fx->storage)
    fx->svt->close (fx->storage);
  fx->signer = NULL;
  fx->storage = NULL;
}

/* ---- a whole repository as the Go client keeps it ---------------------------- */

typedef struct
{
  char *gun;
  gint64 now;
  FxKey *root;      /* x509 */
  FxKey *targets;   /* ecdsa */
  FxKey *snapshot;  /* client-held ecdsa, or server's (priv NULL) */
  FxKey *timestamp; /* the server's */
  gint64 root_version, targets_version, snapshot_version;
  GBytes *root_bytes, *targets_bytes, *snapshot_bytes;
} FxRepoKeys;

G_GNUC_UNUSED static void
fx_repo_keys_clear (FxRepoKeys *r)
{
  g_clear_pointer (&r->gun, g_free);
  g_clear_pointer (&r->root, fx_key_free);
  g_clear_pointer (&r->targets, fx_key_free);
  g_clear_pointer (&r->snapshot, fx_key_free);
  g_clear_pointer (&r->timestamp, fx_key_free);
  g_clear_pointer (&r->root_bytes, g_bytes_unref);
  g_clear_pointer (&r->targets_bytes, g_bytes_unref);
  g_clear_pointer (&r->snapshot_bytes, g_bytes_unref);
}

G_GNUC_UNUSED static FxKey *
fx_server_key (FxServer *fx, const char *gun, const char *role)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NotaryKey) k = notary_repo_get_or_create_key (fx->repo, gun, role, &error);
  g_assert_no_error (error);
  return fx_key_from_public (k);
}

/* Keys for @gun: client root/targets/snapshot keys, the server's timestamp
 * key (created through the repo as the client's GET timestamp.key does). */
G_GNUC_UNUSED static void
fx_repo_keys_init (FxRepoKeys *r, FxServer *fx, const char *gun, gint64 now)
{
  memset (r, 0, sizeof *r);
  r->gun = g_strdup (gun);
  r->now = now;
  r->root = fx_root_key_new (gun, now);
  r->targets = fx_key_new ("ecdsa");
  r->snapshot = fx_key_new ("ecdsa");
  r->timestamp = fx_server_key (fx, gun, "timestamp");
}

G_GNUC_UNUSED static GBytes *
fx_make_root (FxRepoKeys *r, gint64 version)
{
  FxKey *rk[] = { r->root, NULL }, *tk[] = { r->targets, NULL }, *sk[] = { r->snapshot, NULL },
        *tsk[] = { r->timestamp, NULL };
  return fx_sign (fx_root_body (version, r->now + 10 * FX_YEAR, rk, 1, tk, sk, tsk), rk);
}

G_GNUC_UNUSED static GBytes *
fx_make_targets (FxRepoKeys *r, gint64 version)
{
  FxKey *tk[] = { r->targets, NULL };
  JsonObject *b = fx_targets_body (version, r->now + 3 * FX_YEAR);
  g_autofree char *content = g_strdup_printf ("content v%" G_GINT64_FORMAT, version);
  fx_targets_add_target (b, "file", content);
  return fx_sign (b, tk);
}

G_GNUC_UNUSED static GBytes *
fx_make_snapshot (FxRepoKeys *r, gint64 version, GBytes *root, GBytes *targets)
{
  FxKey *sk[] = { r->snapshot, NULL };
  JsonObject *b = fx_meta_body ("Snapshot", version, r->now + 3 * FX_YEAR);
  fx_meta_add (b, "root", root);
  fx_meta_add (b, "targets", targets);
  return fx_sign (b, sk);
}

G_GNUC_UNUSED static GHashTable *
fx_uploads_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) notary_signed_unref);
}

G_GNUC_UNUSED static void
fx_uploads_add (GHashTable *uploads, const char *role, GBytes *raw)
{
  g_hash_table_replace (uploads, g_strdup (role), fx_parse (raw));
}

/* First publish: root v1 + targets v1 + snapshot v1 (client snapshot key). */
G_GNUC_UNUSED static void
fx_publish_initial (FxServer *fx, FxRepoKeys *r)
{
  g_autoptr (GHashTable) up = fx_uploads_new ();
  g_autoptr (GError) error = NULL;

  r->root_version = r->targets_version = r->snapshot_version = 1;
  r->root_bytes = fx_make_root (r, 1);
  r->targets_bytes = fx_make_targets (r, 1);
  r->snapshot_bytes = fx_make_snapshot (r, 1, r->root_bytes, r->targets_bytes);
  fx_uploads_add (up, "root", r->root_bytes);
  fx_uploads_add (up, "targets", r->targets_bytes);
  fx_uploads_add (up, "snapshot", r->snapshot_bytes);
  g_assert_true (notary_repo_update (fx->repo, r->gun, up, &error));
  g_assert_no_error (error);
}
