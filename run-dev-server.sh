#!/usr/bin/env bash
# Development server: refresh the TLS fixtures if needed, build, and run
# notary-server in the foreground with fixtures/server-config.json
# (HTTPS on :4443, memory storage, local signer; state is lost on exit).
#
#   ./run-dev-server.sh [CONFIG]      (default fixtures/server-config.json)
#
# Environment: BUILD_DIR (default build); NOTARY_SERVER_BIN runs that binary
# instead of building ours (e.g. /usr/bin/notary-server, the reference, to
# compare behaviour).  Extra server flags such as -debug can follow the
# config: ./run-dev-server.sh fixtures/server-config.json -debug
#
# THE FIXTURE KEYS ARE PUBLIC (committed to git).  Development only.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$src"
build=${BUILD_DIR:-build}
config=${1:-fixtures/server-config.json}
shift || true

fixtures/ensure-fresh.sh
if [[ -n ${NOTARY_SERVER_BIN:-} ]]; then
  server=$NOTARY_SERVER_BIN
else
  [[ -f $build/build.ninja ]] || meson setup "$build"
  ninja -C "$build"
  server=$build/core/notary-server
fi
echo "run-dev-server.sh: $server -config=$config (Ctrl-C to stop)" >&2
exec "$server" -config="$config" "$@"
