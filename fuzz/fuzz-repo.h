/* fuzz-repo.h — the repository the update and HTTP targets start from:
 * the memory storage and local signer plugins (from NOTARY_PLUGIN_PATH,
 * by default the build tree's), a fixed clock, and one GUN's keys made
 * by tests/lib/tuf-fixtures.c (client root certificate, targets and
 * snapshot keys, the server's timestamp key). */
#pragma once

#include "fuzz-target.h"

#include "notary-build-config.h"
#include "../tests/lib/tuf-fixtures.c"

#define FUZZ_GUN "fuzz.example.com/app"
/* 2026-01-01: fixed, so that expiry checks depend on the input only. */
#define FUZZ_NOW ((gint64) 1767225600)

static inline void
fuzz_repo_init (FxServer *fx, FxRepoKeys *keys)
{
  if (g_getenv ("NOTARY_PLUGIN_PATH") == NULL)
    g_setenv ("NOTARY_PLUGIN_PATH", NOTARY_BUILD_ROOT "/plugins", FALSE);
  fx_server_init (fx);
  notary_repo_set_clock (fx->repo, FUZZ_NOW);
  fx_repo_keys_init (keys, fx, FUZZ_GUN, FUZZ_NOW);
}
