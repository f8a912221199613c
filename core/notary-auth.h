/* notary-auth.h — docker/distribution-style bearer token authentication for
 * notary-server (server-api.md §7, config-and-ops.md §2 auth.*).
 *
 * The HTTP layer builds one NotaryAuth from the config's "auth" section at
 * start-up and asks notary_auth_check() once per request with the access the
 * route needs (server-api.md §2 table).  A NotaryAuth is immutable after
 * creation and safe to use from several threads at once.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NOTARY_AUTH_ERROR (notary_auth_error_quark ())
GQuark notary_auth_error_quark (void);

typedef enum
{
  NOTARY_AUTH_ERROR_CONFIG,        /* auth.options missing, wrong type or incomplete */
  NOTARY_AUTH_ERROR_BUNDLE,        /* rootcertbundle unreadable, unparsable or empty */
  NOTARY_AUTH_ERROR_INVALID_TOKEN, /* internal: why a token was refused (logged) */
} NotaryAuthError;

typedef struct _NotaryAuth NotaryAuth;

/* One required access item: resource type, resource name and the actions on
 * it, e.g. {"repository", gun, {"push", "pull", NULL}}, or for routes without
 * a GUN {"registry", "catalog", {"*", NULL}}.  Every action must be granted
 * by the token; the token's "*" grants any action. */
typedef struct
{
  const char *type;
  const char *name;
  const char *const *actions; /* NULL-terminated */
} NotaryAccess;

/* The catalog requirement every route without a GUN uses (§7). */
#define NOTARY_AUTH_CATALOG_ACTIONS ((const char *const[]){ "*", NULL })

/**
 * notary_auth_new_from_config:
 * @auth_section: (nullable): the config's "auth" object (keys lower-cased)
 * @config_dir: (nullable): directory a relative rootcertbundle is resolved
 *   against; NULL resolves it against the working directory, as the
 *   reference does
 * @error: set with NOTARY_AUTH_ERROR_* and the reference's message on failure
 *
 * Returns: (transfer full) (nullable): the authenticator; NULL without an
 * error when auth is disabled (no section, or auth.type is not the string
 * "token"); NULL with @error set when the options are invalid.
 */
NotaryAuth *notary_auth_new_from_config (JsonObject *auth_section, const char *config_dir, GError **error);

void notary_auth_free (NotaryAuth *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NotaryAuth, notary_auth_free)

/**
 * notary_auth_check:
 * @auth: the authenticator
 * @authorization: (nullable): the raw Authorization request header
 * @host: (nullable): the Host request header, used for the realm when
 *   auth.options.autoredirect is true
 * @access: (array length=n_access): what the route requires
 * @out_www_authenticate: (out) (transfer full): on denial, the whole
 *   WWW-Authenticate value: Bearer realm=…,service=…,scope=…[,error=…]
 * @out_body: (out) (transfer full): on denial, the 401 JSON body (with its
 *   trailing newline) listing every required (type, name, action)
 *
 * Returns: TRUE if the request carries a valid token granting all of
 * @access (the out parameters are then set to NULL); FALSE otherwise, and the
 * caller answers 401 with the two out values.
 */
gboolean notary_auth_check (NotaryAuth *auth, const char *authorization, const char *host,
                            const NotaryAccess *access, gsize n_access, char **out_www_authenticate,
                            char **out_body);

/**
 * notary_auth_key_id:
 * @spki_der: a DER SubjectPublicKeyInfo
 *
 * Returns: (transfer full): the libtrust key ID of that key (SHA-256 of the
 * DER, first 240 bits, base32, 12 groups of 4 joined by ':'), the form a
 * token's "kid" header uses.
 */
char *notary_auth_key_id (GBytes *spki_der);

G_END_DECLS
