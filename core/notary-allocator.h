/* notary-allocator.h — which malloc the daemon runs on, and its tuning.
 *
 * Built with `-Dallocator=mimalloc`, the executables link mimalloc ahead
 * of libc, which makes it the malloc of the whole process: GLib, GnuTLS,
 * json-glib and the plugins included; the default build keeps glibc's.
 * This module reports the outcome, so the start-up log says what an
 * operator actually got, caps glibc's arenas, and (in each executable it
 * is linked into, before any library starts) puts GLib's slice allocator
 * on malloc.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "mimalloc <version>" when mimalloc serves malloc(), "libc malloc"
 * otherwise.  \return (transfer full) */
char *notary_allocator_describe (void);

/* Whether GLib's g_slice_* allocations go straight to malloc, as this
 * module arranges before any library starts (see notary-allocator.c) and
 * as GLib >= 2.76 always does. */
gboolean notary_allocator_slices_use_malloc (void);

/* The same for the start-up log: "malloc" or "magazines".  \return
 * (transfer none) */
const char *notary_allocator_describe_slices (void);

/* For a daemon's main(), before any thread starts: caps glibc's malloc
 * arenas at two per CPU, unless the operator chose a cap
 * (MALLOC_ARENA_MAX, or glibc.malloc.arena_max in GLIBC_TUNABLES).
 * glibc gives every thread that allocates an arena of its own, up to
 * eight per CPU, and each keeps its freed memory for itself; the server
 * runs a thread per HTTP worker, per handler and per fetcher (21 with
 * MySQL on 2 CPUs), and no more than one per CPU can run at a time.
 * Nothing to do with mimalloc or another libc.
 * \return the cap set, 0 when none was */
guint notary_allocator_tune (void);

G_END_DECLS
