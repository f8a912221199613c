#!/usr/bin/env bash
# The project's one test command (README "Run the tests"; .ci/run runs it):
# refresh the TLS fixtures if needed, configure a clean build, compile, run
# every meson test, and finish with ONE summary line:
#
#   N passed, N failed[, N skipped]
#
# Exit status is non-zero if the build failed or any test did not pass.
#
# Environment:
#   BUILD_DIR          build directory (default build-ci, wiped and recreated)
#   MESON_SETUP_ARGS   extra `meson setup` arguments, e.g.
#                      "-Db_sanitize=address,undefined"
#   MESON_TEST_ARGS    extra `meson test` arguments, e.g. "--suite foo"
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
build=${BUILD_DIR:-build-ci}

fixtures/ensure-fresh.sh

# Wipe only something that is clearly a meson build dir (or empty), never an
# arbitrary directory someone pointed BUILD_DIR at by mistake.
if [[ -e $build ]]; then
  if [[ -d $build/meson-private || -z $(ls -A "$build" 2>/dev/null) ]]; then
    rm -rf "$build"
  else
    echo "run-all.sh: $build exists and is not a meson build dir; refusing to wipe it" >&2
    exit 2
  fi
fi

# shellcheck disable=SC2086  # word splitting of the *_ARGS variables is intended
if ! meson setup ${MESON_SETUP_ARGS:-} "$build" || ! ninja -C "$build"; then
  echo "build failed (see above); no tests were run" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

set +e
# shellcheck disable=SC2086
meson test -C "$build" --print-errorlogs ${MESON_TEST_ARGS:-}
test_rc=$?
set -e

# meson writes one JSON object per test to testlog.json.
python3 - "$build/meson-logs/testlog.json" "$test_rc" <<'PY'
import json, sys

path, test_rc = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
failed_names = []
try:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            result = t.get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                failed_names.append("%s (%s)" % (t.get("name", "?"), result))
except FileNotFoundError:
    pass

if test_rc != 0 and failed == 0:
    # meson itself failed (bad arguments, no tests, ...): never report success.
    failed_names.append("meson test exited with status %d" % test_rc)
    failed = 1
if failed_names:
    print("failed: " + ", ".join(failed_names), file=sys.stderr)
summary = "%d passed, %d failed" % (passed, failed)
if skipped:
    summary += ", %d skipped" % skipped
sys.stderr.flush()
print(summary)
sys.exit(1 if failed else 0)
PY
