# shellcheck shell=bash
# Helpers to run a notary-server under test.  Source after tap.sh.
#
#   e2e_init                  set up paths, the temp dir and the exit trap
#   e2e_tmpdir                print a new temp dir (removed on exit)
#   free_port                 print an unused TCP port on 127.0.0.1
#   write_server_config FILE PORT [BACKEND]
#                             memory (default) + local signer + fixture TLS,
#                             absolute paths, listening on 127.0.0.1:PORT only;
#                             E2E_STORAGE_BACKEND/E2E_DB_URL/E2E_TRUST_TYPE/
#                             E2E_SIGNER_PORT select other backends
#   start_notary_server CONFIG LOGFILE [PORT]
#                             start $NOTARY_SERVER_BIN, wait (bounded) for
#                             /_notary_server/health over TLS; sets
#                             NOTARY_SERVER_PID / NOTARY_SERVER_PORT /
#                             NOTARY_SERVER_LOG; returns 1 on failure
#   stop_notary_server        SIGTERM, bounded wait, then SIGKILL; sets
#                             NOTARY_SERVER_EXIT
#   server_log_clean          no sanitizer / GLib-CRITICAL report in the log
#   server_alive              true while the started server process runs
#   server_log_diag [N]       last N lines of the server log as TAP diagnostics
#
# Environment:
#   NOTARY_SERVER_BIN    server binary (default /usr/bin/notary-server, the
#                        reference; meson sets it to ours)
#   NOTARY_CLIENT_BIN    notary CLI (default: notary from PATH)
#   NOTARY_SOURCE_ROOT   repository root (default: derived from this file)
#   E2E_KEEP_TMP=1       keep the temp dir for post-mortem inspection
#
# Everything binds and connects to 127.0.0.1 only, and every wait is bounded.

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NOTARY_SOURCE_ROOT=${NOTARY_SOURCE_ROOT:-$(cd "$E2E_LIB_DIR/../.." && pwd)}
FIXTURES_DIR=$NOTARY_SOURCE_ROOT/fixtures
ROOT_CA=$FIXTURES_DIR/root-ca.crt
NOTARY_SERVER_BIN=${NOTARY_SERVER_BIN:-/usr/bin/notary-server}
# The server is started from the temp dir, so a relative path must be
# anchored to the caller's directory now.
if [[ $NOTARY_SERVER_BIN == */* && $NOTARY_SERVER_BIN != /* ]]; then
  NOTARY_SERVER_BIN=$PWD/$NOTARY_SERVER_BIN
fi
NOTARY_CLIENT_BIN=${NOTARY_CLIENT_BIN:-notary}
NOTARY_SERVER_PID=
NOTARY_SERVER_PORT=
NOTARY_SERVER_LOG=
NOTARY_SERVER_EXIT=
E2E_TMP=
E2E_PIDS=()

# Seconds to wait for the server to answer its health check.
E2E_START_TIMEOUT=${E2E_START_TIMEOUT:-10}

_e2e_cleanup() {
  local pid
  for pid in "${E2E_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${E2E_PIDS[@]}"; do
    _e2e_wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n $E2E_TMP && -d $E2E_TMP ]]; then
    if [[ ${E2E_KEEP_TMP:-0} == 1 ]]; then
      echo "# kept temp dir $E2E_TMP"
    else
      rm -rf "$E2E_TMP"
    fi
  fi
}

# _e2e_wait_gone PID TENTHS: wait at most TENTHS/10 s for PID to exit.
_e2e_wait_gone() {
  local pid=$1 i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

e2e_init() {
  E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/notary-e2e.XXXXXX")
  trap _e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # Nothing must go through a proxy: the tests talk to 127.0.0.1 only.
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  # The notary CLI reads ~/.notary/config.json when present; isolate it.
  export HOME=$E2E_TMP/home
  mkdir -p "$HOME"
}

e2e_tmpdir() {
  mktemp -d "$E2E_TMP/d.XXXXXX"
}

free_port() {
  # Ask the kernel for a free ephemeral port (bind to port 0).  Another
  # process could take it before the server binds; start_notary_server
  # notices that because the server then dies or never turns healthy.
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    return
  fi
  # Fallback: random high port that nothing answers on.
  local port i
  for ((i = 0; i < 50; i++)); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

write_server_config() {
  # Storage and trust service come from the arguments or the environment,
  # so one workflow script runs against every combination:
  #   E2E_STORAGE_BACKEND (memory), E2E_DB_URL,
  #   E2E_TRUST_TYPE (local) and, for remote, E2E_SIGNER_HOST (127.0.0.1),
  #   E2E_SIGNER_PORT, E2E_KEY_ALGORITHM (ecdsa).
  local file=$1 port=$2 backend=${3:-${E2E_STORAGE_BACKEND:-memory}}
  local trust=${E2E_TRUST_TYPE:-local} storage_extra="" trust_extra=""
  if [[ -n ${E2E_DB_URL:-} ]]; then
    storage_extra=",
    \"db_url\": \"$E2E_DB_URL\""
  fi
  if [[ $trust == remote ]]; then
    trust_extra=",
    \"hostname\": \"${E2E_SIGNER_HOST:-127.0.0.1}\",
    \"port\": \"${E2E_SIGNER_PORT:?E2E_SIGNER_PORT must be set for a remote signer}\",
    \"key_algorithm\": \"${E2E_KEY_ALGORITHM:-ecdsa}\",
    \"tls_ca_file\": \"$FIXTURES_DIR/root-ca.crt\",
    \"tls_client_cert\": \"$FIXTURES_DIR/notary-server.crt\",
    \"tls_client_key\": \"$FIXTURES_DIR/notary-server.key\""
  fi
  cat >"$file" <<EOF
{
  "server": {
    "http_addr": "127.0.0.1:$port",
    "tls_cert_file": "$FIXTURES_DIR/notary-server.crt",
    "tls_key_file": "$FIXTURES_DIR/notary-server.key"
  },
  "trust_service": {
    "type": "$trust"$trust_extra
  },
  "storage": {
    "backend": "$backend"$storage_extra
  },
  "logging": {
    "level": "debug"
  }
}
EOF
}

_e2e_config_port() {
  sed -n 's/.*"http_addr"[[:space:]]*:[[:space:]]*"[^"]*:\([0-9][0-9]*\)".*/\1/p' "$1" | head -n1
}

health_url() {
  echo "https://127.0.0.1:$NOTARY_SERVER_PORT/_notary_server/health"
}

start_notary_server() {
  local config=$1 log=$2 port=${3:-} deadline
  [[ -n $port ]] || port=$(_e2e_config_port "$config")
  if [[ -z $port ]]; then
    echo "# start_notary_server: no port in $config" >&2
    return 1
  fi
  NOTARY_SERVER_PORT=$port
  NOTARY_SERVER_LOG=$log
  # Run from the temp dir so the server never writes into the source tree.
  (cd "$E2E_TMP" && exec "$NOTARY_SERVER_BIN" -config="$config") >"$log" 2>&1 &
  NOTARY_SERVER_PID=$!
  E2E_PIDS+=("$NOTARY_SERVER_PID")
  deadline=$((SECONDS + E2E_START_TIMEOUT))
  while ((SECONDS <= deadline)); do
    if ! kill -0 "$NOTARY_SERVER_PID" 2>/dev/null; then
      echo "# notary-server exited during start-up" >&2
      return 1
    fi
    if curl -fsS --max-time 2 --cacert "$ROOT_CA" "$(health_url)" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "# notary-server not healthy after ${E2E_START_TIMEOUT}s" >&2
  return 1
}

server_alive() {
  [[ -n $NOTARY_SERVER_PID ]] && kill -0 "$NOTARY_SERVER_PID" 2>/dev/null
}

# Sets NOTARY_SERVER_EXIT to the server's exit status (128+N for signal N).
stop_notary_server() {
  NOTARY_SERVER_EXIT=
  [[ -n $NOTARY_SERVER_PID ]] || return 0
  kill -TERM "$NOTARY_SERVER_PID" 2>/dev/null || true
  # Generous: a sanitizer build writes its leak report on the way out.
  _e2e_wait_gone "$NOTARY_SERVER_PID" 100 || kill -KILL "$NOTARY_SERVER_PID" 2>/dev/null || true
  wait "$NOTARY_SERVER_PID" 2>/dev/null
  # shellcheck disable=SC2034  # read by the test scripts
  NOTARY_SERVER_EXIT=$?
  NOTARY_SERVER_PID=
}

# server_log_clean: no sanitizer or GLib critical report in the server log.
server_log_clean() {
  ! grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|CRITICAL \*\*|-CRITICAL|Segmentation fault' \
    "$NOTARY_SERVER_LOG"
}

server_log_diag() {
  local n=${1:-40}
  if [[ -n $NOTARY_SERVER_LOG ]]; then
    if server_alive; then
      diag "server (pid $NOTARY_SERVER_PID) log, last $n lines:"
    else
      diag "server is NOT running; log, last $n lines:"
    fi
    diag_file "$NOTARY_SERVER_LOG" "$n"
  fi
}
