/* test-ecdsa.c — core/notary-ecdsa.c on its own: keys GnuTLS made verify
 * signatures GnuTLS made on every curve notary uses, and libcrypto refuses
 * what it must (points off the curve, unknown curves, wrong digests). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "notary-ecdsa.h"

typedef struct
{
  gnutls_ecc_curve_t curve;
  const char *name;
  gsize half;
} Curve;

static const Curve curves[] = {
  { GNUTLS_ECC_CURVE_SECP256R1, "P-256", 32 },
  { GNUTLS_ECC_CURVE_SECP384R1, "P-384", 48 },
  { GNUTLS_ECC_CURVE_SECP521R1, "P-521", 66 },
};

/* Left-pads @d into @out[0..len). */
static void
put (guint8 *out, gsize len, const gnutls_datum_t *d)
{
  g_assert_cmpuint (d->size, <=, len);
  memset (out, 0, len - d->size);
  memcpy (out + len - d->size, d->data, d->size);
}

/* A fresh key pair on @c: the uncompressed point, and r‖s over @digest. */
static void
make_signature (const Curve *c, const guint8 digest[32], guint8 *point, guint8 *rs)
{
  gnutls_privkey_t priv = NULL;
  gnutls_datum_t x = { 0 }, y = { 0 }, k = { 0 }, sig = { 0 }, r = { 0 }, s = { 0 };
  gnutls_datum_t hash = { (unsigned char *)digest, 32 };

  g_assert_cmpint (gnutls_privkey_init (&priv), ==, 0);
  g_assert_cmpint (gnutls_privkey_generate (priv, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (c->curve), 0), ==,
                   0);
  g_assert_cmpint (gnutls_privkey_export_ecc_raw2 (priv, NULL, &x, &y, &k, GNUTLS_EXPORT_FLAG_NO_LZ), ==, 0);
  point[0] = 0x04;
  put (point + 1, c->half, &x);
  put (point + 1 + c->half, c->half, &y);
  g_assert_cmpint (gnutls_privkey_sign_hash2 (priv, GNUTLS_SIGN_ECDSA_SHA256, 0, &hash, &sig), ==, 0);
  g_assert_cmpint (gnutls_decode_rs_value (&sig, &r, &s), ==, 0);
  /* DER integers may carry a leading zero byte: drop it before padding. */
  gnutls_datum_t rt = r, st = s;
  while (rt.size > c->half && rt.data[0] == 0)
    rt.data++, rt.size--;
  while (st.size > c->half && st.data[0] == 0)
    st.data++, st.size--;
  put (rs, c->half, &rt);
  put (rs + c->half, c->half, &st);
  gnutls_free (x.data);
  gnutls_free (y.data);
  gnutls_free (k.data);
  gnutls_free (sig.data);
  gnutls_free (r.data);
  gnutls_free (s.data);
  gnutls_privkey_deinit (priv);
}

static void
test_curves (void)
{
  guint8 digest[32], other[32];

  for (gsize i = 0; i < 32; i++)
    digest[i] = (guint8)i, other[i] = (guint8)(i + 1);
  for (gsize i = 0; i < G_N_ELEMENTS (curves); i++)
    {
      const Curve *c = &curves[i];
      guint8 point[1 + 2 * 66], rs[2 * 66];
      g_test_message ("curve %s", c->name);
      make_signature (c, digest, point, rs);

      g_autoptr (NotaryEcdsaKey) key = notary_ecdsa_key_new (c->name, point, 1 + 2 * c->half);
      g_assert_nonnull (key);
      g_assert_true (notary_ecdsa_key_verify (key, digest, rs, c->half));
      g_assert_false (notary_ecdsa_key_verify (key, other, rs, c->half));
      rs[c->half - 1] ^= 1;
      g_assert_false (notary_ecdsa_key_verify (key, digest, rs, c->half));

      /* The same point on another curve is no key at all. */
      const Curve *wrong = &curves[(i + 1) % G_N_ELEMENTS (curves)];
      g_assert_null (notary_ecdsa_key_new (wrong->name, point, 1 + 2 * c->half));
    }
}

static void
test_refusals (void)
{
  guint8 digest[32] = { 0 };
  guint8 point[65], rs[64];

  make_signature (&curves[0], digest, point, rs);
  g_assert_null (notary_ecdsa_key_new ("secp256k1", point, sizeof point));
  g_assert_null (notary_ecdsa_key_new ("P-256", point, sizeof point - 1));

  /* A point off the curve: flip a bit of Y. */
  point[64] ^= 1;
  g_assert_null (notary_ecdsa_key_new ("P-256", point, sizeof point));
  point[64] ^= 1;

  /* The point at infinity and a compressed-form tag are refused too. */
  guint8 infinity[1] = { 0x00 };
  g_assert_null (notary_ecdsa_key_new ("P-256", infinity, sizeof infinity));
  g_autoptr (NotaryEcdsaKey) key = notary_ecdsa_key_new ("P-256", point, sizeof point);
  g_assert_nonnull (key);
  g_assert_true (notary_ecdsa_key_verify (key, digest, rs, 32));

  /* r and s outside 1..n-1 never verify: zero, and all-ones (above the
   * group order), each in one half with the other half genuine. */
  guint8 bad[64];
  for (guint half = 0; half < 2; half++)
    for (guint fill = 0; fill < 2; fill++)
      {
        memcpy (bad, rs, sizeof bad);
        memset (bad + 32 * half, fill ? 0xff : 0x00, 32);
        g_assert_false (notary_ecdsa_key_verify (key, digest, bad, 32));
      }
}

/* Keys are shared by server threads: verify from several at once. */
typedef struct
{
  NotaryEcdsaKey *key;
  const guint8 *digest;
  const guint8 *rs;
} Shared;

static gpointer
verify_many (gpointer data)
{
  Shared *sh = data;
  for (int i = 0; i < 200; i++)
    g_assert_true (notary_ecdsa_key_verify (sh->key, sh->digest, sh->rs, 32));
  return NULL;
}

static void
test_threads (void)
{
  guint8 digest[32] = { 7 }, point[65], rs[64];
  make_signature (&curves[0], digest, point, rs);
  g_autoptr (NotaryEcdsaKey) key = notary_ecdsa_key_new ("P-256", point, sizeof point);
  Shared sh = { key, digest, rs };
  GThread *t[4];

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    t[i] = g_thread_new ("verify", verify_many, &sh);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
}

/* Threads that used libcrypto ending while main() exits: with the
 * process set up as the daemons do, nothing of libcrypto's per-thread
 * state is lost (under ASan, LSan would report the error queues of the
 * threads that exited after libcrypto's atexit cleanup), and the exit is
 * clean.  Racy by nature: a child runs it, twenty times. */
static pthread_barrier_t exit_barrier;

static gpointer
verify_then_end (gpointer data)
{
  Shared *sh = data;
  g_assert_true (notary_ecdsa_key_verify (sh->key, sh->digest, sh->rs, 32));
  pthread_barrier_wait (&exit_barrier);
  return NULL;
}

static void
test_exit_with_threads (void)
{
  if (g_test_subprocess ())
    {
      guint8 digest[32] = { 9 }, point[65], rs[64];
      notary_ecdsa_process_init ();
      make_signature (&curves[0], digest, point, rs);
      static Shared sh;
      sh = (Shared){ notary_ecdsa_key_new ("P-256", point, sizeof point), digest, rs };
      pthread_barrier_init (&exit_barrier, NULL, 9);
      for (int i = 0; i < 8; i++)
        g_thread_unref (g_thread_new ("verify", verify_then_end, &sh));
      pthread_barrier_wait (&exit_barrier);
      exit (0);
    }
  for (int i = 0; i < 20; i++)
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stderr_unmatched ("*LeakSanitizer*");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ecdsa/curves", test_curves);
  g_test_add_func ("/ecdsa/refusals", test_refusals);
  g_test_add_func ("/ecdsa/threads", test_threads);
  g_test_add_func ("/ecdsa/exit-with-threads", test_exit_with_threads);
  return g_test_run ();
}
