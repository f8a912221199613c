/* fuzz-target.h — what every fuzz target shares.
 *
 * A target is one LLVMFuzzerTestOneInput: built with clang's
 * -fsanitize=fuzzer it is a libFuzzer binary (meson -Dfuzzing=true, see
 * fuzz/README.md); otherwise it links fuzz-driver.c, which replays a
 * corpus and a bounded number of seeded mutations of it, and is a test of
 * the ordinary suite.  A target checks its own invariants with
 * fuzz_fail(), which aborts, so both engines report the input. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN static inline void
fuzz_fail (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("fuzz invariant broken: %s\n", msg);
  abort ();
}
