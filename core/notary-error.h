/* notary-error.h — one "set a GError and return FALSE" helper, so a
 * failure is one statement (glnx_throw style) in every module. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

static inline gboolean notary_throw (GError **error, GQuark domain, gint code, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);
static inline gboolean
notary_throw (GError **error, GQuark domain, gint code, const char *fmt, ...)
{
  va_list ap;
  if (error == NULL)
    return FALSE;
  va_start (ap, fmt);
  g_propagate_error (error, g_error_new_valist (domain, code, fmt, ap));
  va_end (ap);
  return FALSE;
}

G_END_DECLS
