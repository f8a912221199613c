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

/* Hands the pages malloc holds free, in every arena, back to the kernel
 * (glibc's malloc_trim).  glibc returns memory on its own only from the
 * top of each arena, so a burst leaves the server's RSS at its
 * high-water mark, and the next burst adds its own fragmentation on top:
 * over the bench's rows the MySQL-mode server grew by ~1 MiB this way.
 * It walks each arena under its lock (0.2-0.8 ms here, over 10 ms when
 * the CPUs are saturated), so call it when the server is quiet, not
 * while requests wait on malloc.  \return whether anything was released;
 * FALSE with mimalloc or another libc, which purge on their own. */
gboolean notary_allocator_release_free (void);

/* When to call it: a daemon ticks this every NOTARY_ALLOCATOR_QUIET_MS
 * with a count of the work it has done so far (requests answered).  A
 * tick that sees the count unchanged after one that saw it move ends a
 * burst: it releases free memory, once, and says so.  An idle daemon
 * never trims again; a busy one only after its load stops. */
#define NOTARY_ALLOCATOR_QUIET_MS 500

typedef struct
{
  guint64 seen; /* the count at the last tick */
  gboolean busy; /* it moved since the last release */
} NotaryAllocatorQuiet;

/* \return whether this tick released (or tried to) */
gboolean notary_allocator_quiet_tick (NotaryAllocatorQuiet *quiet, guint64 work_done);

G_END_DECLS
