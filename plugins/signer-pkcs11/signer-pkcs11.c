/* signer-pkcs11.c — the `pkcs11` trust service: server-managed timestamp
 * and snapshot keys generated and held in a PKCS#11 token (an HSM, or
 * SoftHSM2 in tests), reached through p11-kit.
 *
 * Unlike the `local` service, keys persist in the token, so a restarted
 * server still signs for existing repositories.  Every key pair is stored
 * with CKA_ID = the 32 raw bytes of its canonical TUF key ID (so token
 * tools show the ID in hex) and CKA_LABEL = "notary <gun> <role> <keyid>";
 * get_key and sign look keys up by CKA_ID, and get_key re-derives the ID
 * from the public half so an unrelated object with a colliding CKA_ID is
 * never mistaken for ours.  Private halves are CKA_SENSITIVE and not
 * extractable.
 *
 * Options (the `trust_service` config object): module (path; default: every
 * module registered with p11-kit), token_label or slot, pin, key_algorithm
 * (ecdsa | ed25519 | rsa, default ecdsa).  See docs/pkcs11.md.
 *
 * Threading: the module is initialised with CKF_OS_LOCKING_OK; PKCS#11
 * sessions carry per-operation state (find, sign), so each call borrows a
 * session from a locked pool and returns it afterwards.  One extra
 * "anchor" session stays open for the instance's lifetime: PKCS#11 login
 * state belongs to the application and ends when its last session closes,
 * and the anchor keeps it alive however the pool shrinks.  Object handles
 * of private keys are cached by key ID; a handle the token no longer
 * knows is dropped and looked up again.
 *
 * Errors: every CK_RV becomes a NOTARY_SIGNER_ERROR at its call site, with
 * the CKR_* name in the message (pkcs11-util.c); session/device errors are
 * UNAVAILABLE and the session is discarded.  The PIN is never logged.
 */
#include <string.h>

#include <p11-kit/p11-kit.h>

#include <notary/signer-backend.h>

#include "notary-keys.h"
#include "pkcs11-util.h"

/* Sessions kept for reuse; more may be open while many threads sign. */
#define MAX_IDLE_SESSIONS 16
#define KEY_ID_BYTES 32

typedef enum
{
  ALG_ECDSA,
  ALG_RSA,
  ALG_ED25519,
} KeyAlg;

static const char *const alg_names[] = { "ecdsa", "rsa", "ed25519" };

typedef struct
{
  CK_OBJECT_HANDLE priv;
  KeyAlg alg;
} CachedKey;

struct _NotarySigner
{
  const NotaryHost *host;
  CK_FUNCTION_LIST *funcs; /* loaded and initialised by us */
  char *module_name;       /* for messages */
  CK_SLOT_ID slot;
  char *token_label;
  char *pin; /* NULL when the token needs no login; wiped at close */
  KeyAlg default_alg;

  GMutex lock;              /* guards idle and keys */
  GArray *idle;             /* CK_SESSION_HANDLE, logged in, no active operation */
  GHashTable *keys;         /* key ID (hex) -> CachedKey* */
  GMutex anchor_lock;       /* guards anchor */
  CK_SESSION_HANDLE anchor; /* CK_INVALID_HANDLE when lost */
};

static void pkcs11_close (NotarySigner *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotarySigner, pkcs11_close)

/* ---- small helpers ---------------------------------------------------- */

static gboolean throw_signer (GError **error, NotarySignerError code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);
static gboolean
throw_signer (GError **error, NotarySignerError code, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, NOTARY_SIGNER_ERROR, code, msg);
  return FALSE;
}

static char *
dup_option (JsonObject *options, const char *key)
{
  char *v = notary_options_dup_string (options, key);
  if (v != NULL && v[0] == '\0')
    g_clear_pointer (&v, g_free);
  return v;
}

static gboolean
parse_alg (const char *name, KeyAlg *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (alg_names); i++)
    if (g_strcmp0 (name, alg_names[i]) == 0)
      {
        *out = (KeyAlg)i;
        return TRUE;
      }
  return FALSE;
}

/* A canonical key ID is 64 lowercase hex digits; anything else cannot be
 * one of ours, which callers report as KEY_NOT_FOUND. */
static gboolean
key_id_to_bytes (const char *key_id, guint8 out[KEY_ID_BYTES])
{
  if (key_id == NULL || strlen (key_id) != 2 * KEY_ID_BYTES)
    return FALSE;
  for (guint i = 0; i < KEY_ID_BYTES; i++)
    {
      int hi = g_ascii_xdigit_value (key_id[2 * i]);
      int lo = g_ascii_xdigit_value (key_id[2 * i + 1]);
      if (hi < 0 || lo < 0 || g_ascii_isupper (key_id[2 * i]) || g_ascii_isupper (key_id[2 * i + 1]))
        return FALSE;
      out[i] = (guint8)(hi << 4 | lo);
    }
  return TRUE;
}

static void
wipe_string (char *s)
{
  if (s == NULL)
    return;
  /* volatile: the store must not be optimised away before the free */
  for (volatile char *p = s; *p != '\0'; p++)
    *p = '\0';
  g_free (s);
}

/* ---- sessions ----------------------------------------------------------- */

/* A borrowed session.  @last is the most recent CK_RV on it: release
 * discards sessions whose last call said the token or session is gone. */
typedef struct
{
  NotarySigner *self;
  CK_SESSION_HANDLE handle;
  CK_RV last;
} Session;

#define SESSION_INIT                                                                                         \
  {                                                                                                          \
    NULL, CK_INVALID_HANDLE, CKR_OK                                                                          \
  }

static void
session_release (Session *s)
{
  NotarySigner *self = s->self;
  gboolean keep = FALSE;

  if (self == NULL || s->handle == CK_INVALID_HANDLE)
    return;
  if (!notary_pkcs11_rv_is_unavailable (s->last))
    {
      g_mutex_lock (&self->lock);
      if (self->idle->len < MAX_IDLE_SESSIONS)
        {
          g_array_append_val (self->idle, s->handle);
          keep = TRUE;
        }
      g_mutex_unlock (&self->lock);
    }
  if (!keep)
    self->funcs->C_CloseSession (s->handle);
  s->handle = CK_INVALID_HANDLE;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Session, session_release)

/* Log @handle in unless the application already is (login state is shared
 * by all sessions of the application on the token). */
static gboolean
session_login (NotarySigner *self, CK_SESSION_HANDLE handle, GError **error)
{
  CK_SESSION_INFO info;
  CK_RV rv;

  if (self->pin == NULL)
    return TRUE;
  rv = self->funcs->C_GetSessionInfo (handle, &info);
  if (rv != CKR_OK)
    return notary_pkcs11_throw (error, rv, "C_GetSessionInfo on token '%s'", self->token_label);
  if (info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS)
    return TRUE;
  rv = self->funcs->C_Login (handle, CKU_USER, (CK_UTF8CHAR_PTR)self->pin, strlen (self->pin));
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
    return notary_pkcs11_throw (error, rv, "logging in to token '%s' (C_Login)", self->token_label);
  return TRUE;
}

static gboolean
open_logged_in_session (NotarySigner *self, CK_SESSION_HANDLE *out, GError **error)
{
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  CK_RV rv
      = self->funcs->C_OpenSession (self->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &handle);

  if (rv != CKR_OK)
    return notary_pkcs11_throw (error, rv, "opening a session on token '%s' (slot %lu)", self->token_label,
                                (unsigned long)self->slot);
  if (!session_login (self, handle, error))
    {
      self->funcs->C_CloseSession (handle);
      return FALSE;
    }
  *out = handle;
  return TRUE;
}

static gboolean
session_acquire (NotarySigner *self, Session *s, GError **error)
{
  s->self = self;
  s->last = CKR_OK;
  g_mutex_lock (&self->lock);
  if (self->idle->len > 0)
    {
      s->handle = g_array_index (self->idle, CK_SESSION_HANDLE, self->idle->len - 1);
      g_array_set_size (self->idle, self->idle->len - 1);
    }
  g_mutex_unlock (&self->lock);
  if (s->handle != CK_INVALID_HANDLE)
    return TRUE;
  return open_logged_in_session (self, &s->handle, error);
}

/* ---- objects ------------------------------------------------------------ */

/* The first object of @cls whose CKA_ID is @id; *out = CK_INVALID_HANDLE
 * when there is none (not an error). */
static gboolean
find_by_id (Session *s, CK_OBJECT_CLASS cls, const guint8 id[KEY_ID_BYTES], CK_OBJECT_HANDLE *out,
            GError **error)
{
  CK_FUNCTION_LIST *f = s->self->funcs;
  CK_ATTRIBUTE tmpl[] = {
    { CKA_CLASS, &cls, sizeof cls },
    { CKA_ID, (void *)id, KEY_ID_BYTES },
  };
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;

  *out = CK_INVALID_HANDLE;
  s->last = f->C_FindObjectsInit (s->handle, tmpl, G_N_ELEMENTS (tmpl));
  if (s->last != CKR_OK)
    return notary_pkcs11_throw (error, s->last, "C_FindObjectsInit");
  s->last = f->C_FindObjects (s->handle, found, G_N_ELEMENTS (found), &n);
  /* Always end the search, or the session stays unusable. */
  {
    CK_RV rv = f->C_FindObjectsFinal (s->handle);
    if (s->last == CKR_OK)
      s->last = rv;
  }
  if (s->last != CKR_OK)
    return notary_pkcs11_throw (error, s->last, "C_FindObjects");
  if (n > 0)
    *out = found[0];
  return TRUE;
}

static GBytes *
get_attr (Session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, const char *name, GError **error)
{
  CK_FUNCTION_LIST *f = s->self->funcs;
  CK_ATTRIBUTE a = { type, NULL, 0 };
  g_autofree guint8 *buf = NULL;

  s->last = f->C_GetAttributeValue (s->handle, obj, &a, 1);
  if (s->last != CKR_OK)
    {
      notary_pkcs11_throw (error, s->last, "reading %s", name);
      return NULL;
    }
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "reading %s: not available", name);
      return NULL;
    }
  buf = g_malloc0 (MAX (a.ulValueLen, 1));
  a.pValue = buf;
  s->last = f->C_GetAttributeValue (s->handle, obj, &a, 1);
  if (s->last != CKR_OK)
    {
      notary_pkcs11_throw (error, s->last, "reading %s", name);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&buf), a.ulValueLen);
}

static gboolean
get_key_alg (Session *s, CK_OBJECT_HANDLE obj, KeyAlg *out, GError **error)
{
  CK_KEY_TYPE kt = 0;
  CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof kt };

  s->last = s->self->funcs->C_GetAttributeValue (s->handle, obj, &a, 1);
  if (s->last != CKR_OK)
    return notary_pkcs11_throw (error, s->last, "reading CKA_KEY_TYPE");
  switch (kt)
    {
    case CKK_EC:
      *out = ALG_ECDSA;
      return TRUE;
    case CKK_RSA:
      *out = ALG_RSA;
      return TRUE;
    case CKK_EC_EDWARDS:
      *out = ALG_ED25519;
      return TRUE;
    default:
      return throw_signer (error, NOTARY_SIGNER_ERROR_UNSUPPORTED,
                           "token key has unsupported CKA_KEY_TYPE 0x%lx", (unsigned long)kt);
    }
}

/* The TUF public key of public-key object @obj. */
static NotaryPublicKey *
read_public_key (Session *s, CK_OBJECT_HANDLE obj, GError **error)
{
  KeyAlg alg;
  g_autoptr (GBytes) point = NULL;
  g_autoptr (GBytes) bytes = NULL;
  NotaryPublicKey *pk;

  if (!get_key_alg (s, obj, &alg, error))
    return NULL;
  switch (alg)
    {
    case ALG_ECDSA:
      {
        g_autoptr (GBytes) params = get_attr (s, obj, CKA_EC_PARAMS, "CKA_EC_PARAMS", error);
        if (params == NULL)
          return NULL;
        if (!notary_pkcs11_ec_params_is_p256 (g_bytes_get_data (params, NULL), g_bytes_get_size (params)))
          {
            throw_signer (error, NOTARY_SIGNER_ERROR_UNSUPPORTED, "token EC key is not on curve P-256");
            return NULL;
          }
        point = get_attr (s, obj, CKA_EC_POINT, "CKA_EC_POINT", error);
        if (point != NULL)
          bytes = notary_pkcs11_p256_spki (g_bytes_get_data (point, NULL), g_bytes_get_size (point), error);
        break;
      }
    case ALG_ED25519:
      point = get_attr (s, obj, CKA_EC_POINT, "CKA_EC_POINT", error);
      if (point != NULL)
        bytes
            = notary_pkcs11_ed25519_public (g_bytes_get_data (point, NULL), g_bytes_get_size (point), error);
      break;
    case ALG_RSA:
      {
        g_autoptr (GBytes) n = get_attr (s, obj, CKA_MODULUS, "CKA_MODULUS", error);
        g_autoptr (GBytes) e
            = n ? get_attr (s, obj, CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT", error) : NULL;
        if (e != NULL)
          bytes = notary_pkcs11_rsa_spki (g_bytes_get_data (n, NULL), g_bytes_get_size (n),
                                          g_bytes_get_data (e, NULL), g_bytes_get_size (e), error);
        break;
      }
    }
  if (bytes == NULL)
    return NULL;
  pk = g_new0 (NotaryPublicKey, 1);
  pk->keytype = g_strdup (alg_names[alg]);
  pk->public_bytes = g_steal_pointer (&bytes);
  return pk;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryPublicKey, notary_public_key_free)

/* The canonical key ID of @pk (notary-keys.c computes it, so it is the
 * same ID the client and the rest of the server use). */
static char *
canonical_id (NotaryPublicKey *pk, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (NotaryKey) key = notary_key_new (pk->keytype, pk->public_bytes, &local);

  if (key == NULL)
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "token returned an unusable %s public key: %s",
                    pk->keytype, local->message);
      return NULL;
    }
  return g_strdup (notary_key_get_canonical_id (key));
}

static void
cache_key (NotarySigner *self, const char *key_id, CK_OBJECT_HANDLE priv, KeyAlg alg)
{
  CachedKey *c = g_new (CachedKey, 1);
  c->priv = priv;
  c->alg = alg;
  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->keys, g_strdup (key_id), c);
  g_mutex_unlock (&self->lock);
}

static gboolean
cached_key (NotarySigner *self, const char *key_id, CachedKey *out)
{
  CachedKey *c;
  g_mutex_lock (&self->lock);
  c = g_hash_table_lookup (self->keys, key_id);
  if (c != NULL)
    *out = *c;
  g_mutex_unlock (&self->lock);
  return c != NULL;
}

static void
forget_key (NotarySigner *self, const char *key_id)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->keys, key_id);
  g_mutex_unlock (&self->lock);
}

static gboolean
throw_not_found (NotarySigner *self, const char *key_id, GError **error)
{
  return throw_signer (error, NOTARY_SIGNER_ERROR_KEY_NOT_FOUND, "key %s not found in PKCS#11 token '%s'",
                       key_id, self->token_label);
}

/* ---- module and token --------------------------------------------------- */

static void
module_unload (CK_FUNCTION_LIST *funcs)
{
  if (funcs == NULL)
    return;
  funcs->C_Finalize (NULL);
  p11_kit_module_release (funcs);
}

/* Initialise @funcs for use from several threads with the system's locks. */
static gboolean
module_initialize (CK_FUNCTION_LIST *funcs, const char *name, GError **error)
{
  CK_C_INITIALIZE_ARGS args;
  CK_RV rv;

  memset (&args, 0, sizeof args);
  args.flags = CKF_OS_LOCKING_OK;
  rv = funcs->C_Initialize (&args);
  if (rv != CKR_OK)
    return notary_pkcs11_throw (error, rv, "initialising PKCS#11 module %s (C_Initialize)", name);
  return TRUE;
}

/* Looks in @funcs for the configured token: by label, by slot ID, or the
 * first initialised token when neither is set.  FALSE without an error
 * when there is no such token. */
static gboolean
find_token (CK_FUNCTION_LIST *funcs, const char *want_label, gboolean have_slot, CK_SLOT_ID want_slot,
            CK_SLOT_ID *out_slot, CK_TOKEN_INFO *out_info, GError **error)
{
  g_autofree CK_SLOT_ID *slots = NULL;
  CK_ULONG n = 0;
  CK_RV rv;

  rv = funcs->C_GetSlotList (CK_TRUE, NULL, &n);
  if (rv == CKR_OK && n > 0)
    {
      slots = g_new0 (CK_SLOT_ID, n);
      rv = funcs->C_GetSlotList (CK_TRUE, slots, &n);
    }
  if (rv != CKR_OK)
    return notary_pkcs11_throw (error, rv, "listing slots (C_GetSlotList)");
  for (CK_ULONG i = 0; i < n; i++)
    {
      CK_TOKEN_INFO info;
      g_autofree char *label = NULL;

      if (have_slot && slots[i] != want_slot)
        continue;
      if (funcs->C_GetTokenInfo (slots[i], &info) != CKR_OK)
        continue;
      if (!(info.flags & CKF_TOKEN_INITIALIZED))
        continue;
      label = notary_pkcs11_dup_padded (info.label, sizeof info.label);
      if (want_label != NULL && g_strcmp0 (label, want_label) != 0)
        continue;
      *out_slot = slots[i];
      *out_info = info;
      return TRUE;
    }
  return FALSE;
}

static char *
describe_wanted_token (const char *label, gboolean have_slot, CK_SLOT_ID slot)
{
  if (label != NULL && have_slot)
    return g_strdup_printf ("token '%s' in slot %lu", label, (unsigned long)slot);
  if (label != NULL)
    return g_strdup_printf ("token '%s'", label);
  if (have_slot)
    return g_strdup_printf ("initialised token in slot %lu", (unsigned long)slot);
  return g_strdup ("initialised token");
}

/* Loads the configured module (or every module registered with p11-kit)
 * and selects the token; fills self->funcs, module_name, slot. */
static gboolean
load_token (NotarySigner *self, const char *module, const char *want_label, gboolean have_slot,
            CK_SLOT_ID want_slot, CK_TOKEN_INFO *info, GError **error)
{
  g_autofree char *wanted = describe_wanted_token (want_label, have_slot, want_slot);

  if (module != NULL)
    {
      CK_FUNCTION_LIST *funcs = p11_kit_module_load (module, 0);
      if (funcs == NULL)
        {
          const char *why = p11_kit_message ();
          return throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "cannot load PKCS#11 module %s: %s", module,
                               why != NULL ? why : "unknown error");
        }
      if (!module_initialize (funcs, module, error))
        {
          p11_kit_module_release (funcs);
          return FALSE;
        }
      if (!find_token (funcs, want_label, have_slot, want_slot, &self->slot, info, error))
        {
          module_unload (funcs);
          if (error != NULL && *error != NULL)
            return FALSE;
          return throw_signer (error, NOTARY_SIGNER_ERROR_UNAVAILABLE, "no %s in PKCS#11 module %s", wanted,
                               module);
        }
      self->funcs = funcs;
      self->module_name = g_strdup (module);
      return TRUE;
    }

  /* No module: what the p11-kit proxy would offer, i.e. every module
   * registered in p11-kit's configuration; keep the one with the token. */
  {
    CK_FUNCTION_LIST **all = p11_kit_modules_load (NULL, 0);
    if (all == NULL)
      {
        const char *why = p11_kit_message ();
        return throw_signer (error, NOTARY_SIGNER_ERROR_FAILED,
                             "cannot load the registered PKCS#11 modules: %s",
                             why != NULL ? why : "unknown error");
      }
    for (guint i = 0; all[i] != NULL; i++)
      {
        g_autoptr (GError) local = NULL;
        g_autofree char *name = p11_kit_module_get_name (all[i]);

        if (self->funcs == NULL && module_initialize (all[i], name ? name : "(unnamed)", &local))
          {
            if (find_token (all[i], want_label, have_slot, want_slot, &self->slot, info, &local))
              {
                self->funcs = all[i];
                self->module_name
                    = g_strdup_printf ("'%s' (registered with p11-kit)", name ? name : "(unnamed)");
                continue;
              }
            all[i]->C_Finalize (NULL);
          }
        if (local != NULL)
          notary_host_logf (self->host, NOTARY_LOG_DEBUG, "PKCS#11 module %s skipped: %s", name ? name : "?",
                            local->message);
        if (all[i] != self->funcs)
          p11_kit_module_release (all[i]);
      }
    free (all);
  }
  if (self->funcs == NULL)
    return throw_signer (error, NOTARY_SIGNER_ERROR_UNAVAILABLE,
                         "no %s in any PKCS#11 module registered with p11-kit (set trust_service.module)",
                         wanted);
  return TRUE;
}

/* ---- vtable ------------------------------------------------------------- */

static NotarySigner *
pkcs11_open (const NotaryHost *host, JsonObject *options, GError **error)
{
  g_autoptr (NotarySigner) self = g_new0 (NotarySigner, 1);
  g_autofree char *module = dup_option (options, "module");
  g_autofree char *label = dup_option (options, "token_label");
  g_autofree char *slot_s = dup_option (options, "slot");
  g_autofree char *algo = dup_option (options, "key_algorithm");
  char *pin = dup_option (options, "pin");
  guint64 slot = 0;
  CK_TOKEN_INFO info;

  self->host = host;
  g_mutex_init (&self->lock);
  g_mutex_init (&self->anchor_lock);
  self->idle = g_array_new (FALSE, FALSE, sizeof (CK_SESSION_HANDLE));
  self->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->anchor = CK_INVALID_HANDLE;
  self->pin = pin; /* owned from here on, so it is wiped on every path */

  if (algo == NULL)
    self->default_alg = ALG_ECDSA;
  else if (!parse_alg (algo, &self->default_alg))
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "invalid key algorithm configured: %s", algo);
      return NULL;
    }
  if (slot_s != NULL && !g_ascii_string_to_unsigned (slot_s, 10, 0, G_MAXULONG, &slot, NULL))
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "trust_service.slot must be a slot number, not '%s'",
                    slot_s);
      return NULL;
    }
  if (module != NULL && !g_path_is_absolute (module) && host != NULL && host->config_dir != NULL)
    {
      char *abs = g_build_filename (host->config_dir, module, NULL);
      g_free (module);
      module = abs;
    }

  if (!load_token (self, module, label, slot_s != NULL, (CK_SLOT_ID)slot, &info, error))
    return NULL;
  self->token_label = notary_pkcs11_dup_padded (info.label, sizeof info.label);
  if ((info.flags & CKF_LOGIN_REQUIRED) && self->pin == NULL)
    {
      throw_signer (
          error, NOTARY_SIGNER_ERROR_FAILED,
          "PKCS#11 token '%s' requires a PIN: set trust_service.pin (or NOTARY_SERVER_TRUST_SERVICE_PIN)",
          self->token_label);
      return NULL;
    }
  if (info.flags & CKF_WRITE_PROTECTED)
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_FAILED,
                    "PKCS#11 token '%s' is write-protected: it cannot store keys", self->token_label);
      return NULL;
    }
  /* Logging in here makes a wrong PIN a start-up error, not a first-request one. */
  if (!open_logged_in_session (self, &self->anchor, error))
    return NULL;

  {
    g_autofree char *manufacturer
        = notary_pkcs11_dup_padded (info.manufacturerID, sizeof info.manufacturerID);
    g_autofree char *model = notary_pkcs11_dup_padded (info.model, sizeof info.model);
    notary_host_logf (host, NOTARY_LOG_INFO,
                      "using PKCS#11 token '%s' (%s %s, slot %lu) from module %s; new keys: %s",
                      self->token_label, manufacturer, model, (unsigned long)self->slot, self->module_name,
                      alg_names[self->default_alg]);
  }
  return g_steal_pointer (&self);
}

static void
pkcs11_close (NotarySigner *self)
{
  if (self == NULL)
    return;
  if (self->funcs != NULL)
    {
      for (guint i = 0; i < self->idle->len; i++)
        self->funcs->C_CloseSession (g_array_index (self->idle, CK_SESSION_HANDLE, i));
      if (self->anchor != CK_INVALID_HANDLE)
        self->funcs->C_CloseSession (self->anchor);
      module_unload (self->funcs);
    }
  g_array_unref (self->idle);
  g_hash_table_unref (self->keys);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->anchor_lock);
  wipe_string (self->pin);
  g_free (self->module_name);
  g_free (self->token_label);
  g_free (self);
}

static const char *
pkcs11_default_algorithm (NotarySigner *self)
{
  return alg_names[self->default_alg];
}

/* Gives a freshly generated pair its ID and label; on failure the caller
 * destroys the pair. */
static gboolean
label_pair (Session *s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, const char *key_id, const char *gun,
            const char *role, GError **error)
{
  guint8 id[KEY_ID_BYTES];
  g_autofree char *label = g_strdup_printf ("notary %s %s %s", gun, role, key_id);
  CK_ATTRIBUTE attrs[] = {
    { CKA_ID, id, sizeof id },
    { CKA_LABEL, label, strlen (label) },
  };

  if (!key_id_to_bytes (key_id, id))
    return throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "unexpected key ID %s", key_id);
  s->last = s->self->funcs->C_SetAttributeValue (s->handle, pub, attrs, G_N_ELEMENTS (attrs));
  if (s->last != CKR_OK)
    return notary_pkcs11_throw (error, s->last, "setting CKA_ID/CKA_LABEL of the new public key");
  s->last = s->self->funcs->C_SetAttributeValue (s->handle, priv, attrs, G_N_ELEMENTS (attrs));
  if (s->last != CKR_OK)
    return notary_pkcs11_throw (error, s->last, "setting CKA_ID/CKA_LABEL of the new private key");
  return TRUE;
}

static NotaryPublicKey *
pkcs11_create_key (NotarySigner *self, const char *gun, const char *role, const char *algorithm,
                   GError **error)
{
  g_auto (Session) s = SESSION_INIT;
  CK_FUNCTION_LIST *f = self->funcs;
  KeyAlg alg = self->default_alg;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG modulus_bits = 2048;
  static const guint8 f4[] = { 0x01, 0x00, 0x01 };
  CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
  /* Signing keys only: no encryption, wrapping or derivation uses. */
  CK_ATTRIBUTE pub_tmpl[7] = {
    { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &no, sizeof no }, { CKA_VERIFY, &yes, sizeof yes },
    { CKA_ENCRYPT, &no, sizeof no }, { CKA_WRAP, &no, sizeof no },
  };
  CK_ULONG n_pub = 5;
  CK_ATTRIBUTE priv_tmpl[] = {
    { CKA_TOKEN, &yes, sizeof yes },     { CKA_PRIVATE, &yes, sizeof yes },
    { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_EXTRACTABLE, &no, sizeof no },
    { CKA_SIGN, &yes, sizeof yes },      { CKA_DECRYPT, &no, sizeof no },
    { CKA_UNWRAP, &no, sizeof no },      { CKA_DERIVE, &no, sizeof no },
  };
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
  g_autoptr (NotaryPublicKey) pk = NULL;
  g_autofree char *key_id = NULL;

  if (algorithm != NULL && !parse_alg (algorithm, &alg))
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_UNSUPPORTED, "unsupported key algorithm '%s'", algorithm);
      return NULL;
    }
  switch (alg)
    {
    case ALG_ECDSA:
      mech.mechanism = CKM_EC_KEY_PAIR_GEN;
      pub_tmpl[n_pub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)notary_pkcs11_p256_params,
                                          sizeof notary_pkcs11_p256_params };
      break;
    case ALG_ED25519:
      mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub_tmpl[n_pub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)notary_pkcs11_ed25519_params,
                                          sizeof notary_pkcs11_ed25519_params };
      break;
    case ALG_RSA:
      mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub_tmpl[n_pub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits };
      pub_tmpl[n_pub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, (void *)f4, sizeof f4 };
      break;
    }

  if (!session_acquire (self, &s, error))
    return NULL;
  s.last = f->C_GenerateKeyPair (s.handle, &mech, pub_tmpl, n_pub, priv_tmpl, G_N_ELEMENTS (priv_tmpl), &pub,
                                 &priv);
  if (s.last != CKR_OK)
    {
      notary_pkcs11_throw (error, s.last, "generating a %s key pair on token '%s' (C_GenerateKeyPair)",
                           alg_names[alg], self->token_label);
      return NULL;
    }
  /* The ID derives from the public key, so it can only be set now. */
  pk = read_public_key (&s, pub, error);
  if (pk != NULL)
    key_id = canonical_id (pk, error);
  if (key_id == NULL || !label_pair (&s, pub, priv, key_id, gun, role, error))
    {
      if (!notary_pkcs11_rv_is_unavailable (s.last))
        {
          f->C_DestroyObject (s.handle, pub);
          f->C_DestroyObject (s.handle, priv);
        }
      return NULL;
    }
  cache_key (self, key_id, priv, alg);
  notary_host_logf (self->host, NOTARY_LOG_INFO, "created %s %s key %s for %s in PKCS#11 token '%s'", role,
                    alg_names[alg], key_id, gun, self->token_label);
  return g_steal_pointer (&pk);
}

static NotaryPublicKey *
pkcs11_get_key (NotarySigner *self, const char *key_id, GError **error)
{
  g_auto (Session) s = SESSION_INIT;
  guint8 id[KEY_ID_BYTES];
  CK_OBJECT_HANDLE pub, priv;
  g_autoptr (NotaryPublicKey) pk = NULL;
  g_autofree char *actual = NULL;
  KeyAlg alg;

  if (!key_id_to_bytes (key_id, id))
    {
      throw_not_found (self, key_id, error);
      return NULL;
    }
  if (!session_acquire (self, &s, error) || !find_by_id (&s, CKO_PUBLIC_KEY, id, &pub, error))
    return NULL;
  if (pub == CK_INVALID_HANDLE)
    {
      throw_not_found (self, key_id, error);
      return NULL;
    }
  pk = read_public_key (&s, pub, error);
  if (pk == NULL)
    return NULL;
  actual = canonical_id (pk, error);
  if (actual == NULL)
    return NULL;
  if (!g_str_equal (actual, key_id))
    {
      /* Some other application's object with a colliding CKA_ID. */
      notary_host_logf (self->host, NOTARY_LOG_WARNING, "token object with CKA_ID %s holds key %s; ignored",
                        key_id, actual);
      throw_not_found (self, key_id, error);
      return NULL;
    }
  /* Held means we can sign with it: the private half must be there too. */
  if (!find_by_id (&s, CKO_PRIVATE_KEY, id, &priv, error))
    return NULL;
  if (priv == CK_INVALID_HANDLE)
    {
      throw_not_found (self, key_id, error);
      return NULL;
    }
  if (!get_key_alg (&s, priv, &alg, error))
    return NULL;
  cache_key (self, key_id, priv, alg);
  return g_steal_pointer (&pk);
}

/* The private key of @key_id, from the cache or the token.  FALSE with
 * KEY_NOT_FOUND when the token has none. */
static gboolean
lookup_private (Session *s, const char *key_id, const guint8 id[KEY_ID_BYTES], CachedKey *out, GError **error)
{
  NotarySigner *self = s->self;

  if (cached_key (self, key_id, out))
    return TRUE;
  if (!find_by_id (s, CKO_PRIVATE_KEY, id, &out->priv, error))
    return FALSE;
  if (out->priv == CK_INVALID_HANDLE)
    return throw_not_found (self, key_id, error);
  if (!get_key_alg (s, out->priv, &out->alg, error))
    return FALSE;
  cache_key (self, key_id, out->priv, out->alg);
  return TRUE;
}

static GBytes *
pkcs11_sign (NotarySigner *self, const char *key_id, GBytes *message, GError **error)
{
  g_auto (Session) s = SESSION_INIT;
  CK_FUNCTION_LIST *f = self->funcs;
  guint8 id[KEY_ID_BYTES];
  CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  CK_ULONG sig_len = 0;
  g_autofree guint8 *sig = NULL;
  const guint8 *data;
  gsize data_len;
  CachedKey key;

  if (!key_id_to_bytes (key_id, id))
    {
      throw_not_found (self, key_id, error);
      return NULL;
    }
  if (!session_acquire (self, &s, error))
    return NULL;

  /* Two rounds at most: a cached handle the token forgot (or a login the
   * token dropped) gets one fresh attempt. */
  for (guint attempt = 0;; attempt++)
    {
      CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };

      if (!lookup_private (&s, key_id, id, &key, error))
        return NULL;
      data = g_bytes_get_data (message, &data_len);
      switch (key.alg)
        {
        case ALG_ECDSA:
          {
            /* CKM_ECDSA signs a digest we compute, which every token
             * supports (CKM_ECDSA_SHA256 is optional). */
            g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
            g_checksum_update (sum, data, data_len);
            g_checksum_get_digest (sum, digest, &digest_len);
            data = digest;
            data_len = digest_len;
            break;
          }
        case ALG_RSA:
          mech = (CK_MECHANISM){ CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss };
          break;
        case ALG_ED25519:
          mech = (CK_MECHANISM){ CKM_EDDSA, NULL, 0 };
          break;
        }
      s.last = f->C_SignInit (s.handle, &mech, key.priv);
      if (attempt == 0 && (s.last == CKR_KEY_HANDLE_INVALID || s.last == CKR_OBJECT_HANDLE_INVALID))
        {
          forget_key (self, key_id);
          continue;
        }
      if (attempt == 0 && s.last == CKR_USER_NOT_LOGGED_IN)
        {
          if (!session_login (self, s.handle, error))
            return NULL;
          continue;
        }
      if (s.last != CKR_OK)
        {
          notary_pkcs11_throw (error, s.last, "signing with key %s (C_SignInit)", key_id);
          return NULL;
        }
      break;
    }

  /* Size query first; it does not end the operation. */
  s.last = f->C_Sign (s.handle, (CK_BYTE_PTR)data, data_len, NULL, &sig_len);
  if (s.last == CKR_OK)
    {
      sig = g_malloc (MAX (sig_len, 1));
      s.last = f->C_Sign (s.handle, (CK_BYTE_PTR)data, data_len, sig, &sig_len);
    }
  if (s.last != CKR_OK)
    {
      notary_pkcs11_throw (error, s.last, "signing with key %s (C_Sign)", key_id);
      return NULL;
    }
  if (key.alg == ALG_ECDSA && sig_len != 64)
    {
      throw_signer (error, NOTARY_SIGNER_ERROR_FAILED, "token returned a %lu-byte ECDSA P-256 signature",
                    (unsigned long)sig_len);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&sig), sig_len);
}

static gboolean
pkcs11_check_health (NotarySigner *self, GError **error)
{
  CK_TOKEN_INFO info;
  CK_SESSION_INFO sinfo;
  CK_RV rv;
  gboolean ok = TRUE;
  g_autoptr (GError) local = NULL;

  rv = self->funcs->C_GetTokenInfo (self->slot, &info);
  if (rv != CKR_OK)
    /* Whatever the module's code, a token that cannot even describe
     * itself is unavailable as far as the health endpoint goes. */
    return throw_signer (error, NOTARY_SIGNER_ERROR_UNAVAILABLE,
                         "PKCS#11 token '%s' (slot %lu) not reachable: %s", self->token_label,
                         (unsigned long)self->slot, notary_pkcs11_rv_name (rv));
  g_mutex_lock (&self->anchor_lock);
  rv = self->anchor != CK_INVALID_HANDLE ? self->funcs->C_GetSessionInfo (self->anchor, &sinfo)
                                         : CKR_SESSION_HANDLE_INVALID;
  if (rv != CKR_OK)
    {
      /* The token came back (it answered C_GetTokenInfo): re-establish
       * the anchor, and with it the login. */
      if (self->anchor != CK_INVALID_HANDLE)
        self->funcs->C_CloseSession (self->anchor);
      self->anchor = CK_INVALID_HANDLE;
      ok = open_logged_in_session (self, &self->anchor, &local);
    }
  g_mutex_unlock (&self->anchor_lock);
  if (!ok)
    return throw_signer (error, NOTARY_SIGNER_ERROR_UNAVAILABLE, "%s", local->message);
  if (info.flags & CKF_USER_PIN_LOCKED)
    return throw_signer (error, NOTARY_SIGNER_ERROR_UNAVAILABLE, "PKCS#11 token '%s': user PIN locked",
                         self->token_label);
  return TRUE;
}

static const NotarySignerVTable pkcs11_vtable = {
  .version = NOTARY_VERSION_SIGNER_VTABLE,
  .open = pkcs11_open,
  .close = pkcs11_close,
  .default_algorithm = pkcs11_default_algorithm,
  .create_key = pkcs11_create_key,
  .get_key = pkcs11_get_key,
  .sign = pkcs11_sign,
  .check_health = pkcs11_check_health,
};

NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_SIGNER, "pkcs11", "keys generated and held in a PKCS#11 token (HSM)",
                      "1.0", &pkcs11_vtable)
