/* notary-allocator.h — which malloc the daemon runs on.
 *
 * Built with `-Dallocator=mimalloc`, the executables link mimalloc ahead
 * of libc, which makes it the malloc of the whole process: GLib, GnuTLS,
 * json-glib and the plugins included; the default build keeps glibc's.
 * This module only reports the outcome, so the start-up log says what an
 * operator actually got.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "mimalloc <version>" when mimalloc serves malloc(), "libc malloc"
 * otherwise.  \return (transfer full) */
char *notary_allocator_describe (void);

G_END_DECLS
