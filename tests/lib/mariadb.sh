#!/bin/bash
# tests/lib/mariadb.sh — a private, throw-away MariaDB server for tests.
#
# Starts `mariadbd` on a fresh temporary datadir, listening on 127.0.0.1 at
# a free port and on a private socket, loads data/server-mysql.sql and
# data/server-mysql-user.sql, and hands back a go-sql-driver DSN for the
# least-privilege user `server`.  It never reads /etc/mysql (every program
# runs with --no-defaults) and never touches /var/lib/mysql or the system
# service, so it is safe next to a running distribution MariaDB.
#
# Use it either sourced (functions) or as a command:
#
#   source tests/lib/mariadb.sh
#   mariadb_start DIR      # DIR must not exist or be empty; sets MARIADB_DSN,
#                          # MARIADB_PORT, MARIADB_SOCKET, MARIADB_DIR; prints DSN
#   mariadb_stop DIR       # stop the server, keep DIR (restartable)
#   mariadb_resume DIR     # start it again on the same port and datadir
#   mariadb_destroy DIR    # stop and remove DIR
#   mariadb_sql DIR [ARGS] # run the client as root on DIR's socket in batch
#                          # mode (-N -B, database notaryserver); SQL on stdin
#                          # or -e '...'
#   mariadb_running DIR    # true while DIR's server process runs
#   mariadb_load_signer DIR  # also load data/signer-mysql{,-user}.sql (the
#                          # notary-signer key DB); sets MARIADB_SIGNER_DSN
#                          # (least-privilege user `signer`); prints it
#
#   tests/lib/mariadb.sh start|stop|resume|destroy|load-signer DIR
#
# Failures print a reason (and the server's error log) on stderr and return
# non-zero; waits are bounded (MARIADB_START_TIMEOUT seconds, default 60).
# MARIADB_BUFFER_POOL_SIZE sets innodb_buffer_pool_size (default 32M, plenty
# for tests; bench/run sizes it to hold its 100,000-repository tables).

MARIADB_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARIADB_SQL_DIR=${MARIADB_SQL_DIR:-$MARIADB_SH_DIR/../../data}

_mariadb_log() { echo "mariadb.sh: $*" >&2; }

_mariadb_find() {
  local name=$1 d
  for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
    if [ -x "$d/$name" ]; then
      echo "$d/$name"
      return 0
    fi
  done
  command -v "$name" 2>/dev/null
}

# Installs the Debian server package when the binaries are missing.  The
# package's own service is never used by this harness.
_mariadb_ensure_installed() {
  if [ -n "$(_mariadb_find mariadbd)" ] && [ -n "$(_mariadb_find mariadb-install-db)" ]; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    _mariadb_log "mariadbd not installed and not root: cannot apt-get install mariadb-server"
    return 1
  fi
  _mariadb_log "installing mariadb-server with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    mariadb-server mariadb-client >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends mariadb-server mariadb-client >&2; } || return 1
}

_mariadb_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_mariadb_pick_port() {
  local i p
  for i in $(seq 1 50); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if ! _mariadb_port_busy "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

_mariadb_client() {
  local dir=$1
  shift
  "$(_mariadb_find mariadb || _mariadb_find mysql)" --no-defaults --protocol=socket \
    --socket="$dir/sock" -uroot "$@"
}

# Launches mariadbd on DIR's datadir and port; waits until it answers.
_mariadb_launch() {
  local dir=$1 port=$2 timeout=${MARIADB_START_TIMEOUT:-60} i pid
  local mariadbd
  mariadbd=$(_mariadb_find mariadbd) || return 1
  rm -f "$dir/sock" "$dir/pid"
  # --user keeps mariadbd from refusing to run as root; as another user it
  # is only a (harmless) warning.
  "$mariadbd" --no-defaults \
    --user="$(id -un)" \
    --datadir="$dir/data" \
    --tmpdir="$dir/tmp" \
    --socket="$dir/sock" \
    --pid-file="$dir/pid" \
    --log-error="$dir/error.log" \
    --port="$port" \
    --bind-address=127.0.0.1 \
    --skip-networking=0 \
    --skip-name-resolve \
    --skip-log-bin \
    --innodb-buffer-pool-size="${MARIADB_BUFFER_POOL_SIZE:-32M}" \
    --innodb-log-file-size=16M \
    --innodb-flush-log-at-trx-commit=2 \
    --max-connections=200 \
    </dev/null >>"$dir/error.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/mariadbd.pid"
  for i in $(seq 1 $((timeout * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      _mariadb_log "mariadbd exited during startup; error log follows"
      tail -n 30 "$dir/error.log" >&2
      return 1
    fi
    if [ -S "$dir/sock" ] && _mariadb_client "$dir" -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  _mariadb_log "mariadbd did not answer within ${timeout}s; error log follows"
  tail -n 30 "$dir/error.log" >&2
  kill -KILL "$pid" 2>/dev/null
  return 1
}

_mariadb_export() {
  local dir=$1
  MARIADB_DIR=$dir
  MARIADB_PORT=$(cat "$dir/port")
  MARIADB_SOCKET=$dir/sock
  MARIADB_DSN="server@tcp(127.0.0.1:$MARIADB_PORT)/notaryserver?parseTime=True"
  export MARIADB_DIR MARIADB_PORT MARIADB_SOCKET MARIADB_DSN
}

mariadb_start() {
  local dir=$1 port attempt installdb
  if [ -z "$dir" ]; then
    _mariadb_log "usage: mariadb_start DIR"
    return 2
  fi
  _mariadb_ensure_installed || return 1
  installdb=$(_mariadb_find mariadb-install-db) || return 1
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd)
  if [ -e "$dir/data" ]; then
    _mariadb_log "$dir already holds a datadir"
    return 1
  fi
  mkdir -p "$dir/data" "$dir/tmp"
  # Retried once: a bootstrap on a busy machine occasionally fails.
  for attempt in 1 2; do
    if "$installdb" --no-defaults --auth-root-authentication-method=normal \
      --user="$(id -un)" --datadir="$dir/data" --skip-test-db --skip-name-resolve \
      --innodb-buffer-pool-size=32M >"$dir/install.log" 2>&1; then
      break
    fi
    if [ "$attempt" = 2 ]; then
      _mariadb_log "mariadb-install-db failed; log follows"
      grep -v '^$' "$dir/install.log" | head -n 25 >&2
      return 1
    fi
    _mariadb_log "mariadb-install-db failed, retrying; first lines of its log:"
    grep -v '^$' "$dir/install.log" | head -n 8 >&2
    rm -rf "$dir/data"
    mkdir -p "$dir/data"
    sleep 1
  done
  # A port taken between picking and binding makes mariadbd exit: retry.
  for attempt in 1 2 3; do
    port=$(_mariadb_pick_port) || { _mariadb_log "no free port"; return 1; }
    echo "$port" >"$dir/port"
    if _mariadb_launch "$dir" "$port"; then
      break
    fi
    [ "$attempt" = 3 ] && return 1
  done
  if ! _mariadb_client "$dir" <"$MARIADB_SQL_DIR/server-mysql.sql" ||
    ! _mariadb_client "$dir" <"$MARIADB_SQL_DIR/server-mysql-user.sql"; then
    _mariadb_log "loading the schema or grants failed"
    mariadb_stop "$dir"
    return 1
  fi
  _mariadb_export "$dir"
  echo "$MARIADB_DSN"
}

# Stops the server (bounded wait, then SIGKILL); keeps the datadir.
mariadb_stop() {
  local dir=$1 pid i
  [ -f "$dir/mariadbd.pid" ] || return 0
  pid=$(cat "$dir/mariadbd.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      _mariadb_log "mariadbd $pid ignored SIGTERM for 30s; killing it"
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  fi
  rm -f "$dir/mariadbd.pid"
  return 0
}

# Starts a stopped server again on its datadir and port.
mariadb_resume() {
  local dir=$1
  [ -f "$dir/port" ] || { _mariadb_log "$dir was never started"; return 1; }
  dir=$(cd "$dir" && pwd)
  _mariadb_launch "$dir" "$(cat "$dir/port")" || return 1
  _mariadb_export "$dir"
}

# Loads the notary-signer schema and grants into a running server.
mariadb_load_signer() {
  local dir=$1
  [ -f "$dir/port" ] || { _mariadb_log "$dir was never started"; return 1; }
  dir=$(cd "$dir" && pwd)
  if ! _mariadb_client "$dir" <"$MARIADB_SQL_DIR/signer-mysql.sql" ||
    ! _mariadb_client "$dir" <"$MARIADB_SQL_DIR/signer-mysql-user.sql"; then
    _mariadb_log "loading the signer schema or grants failed"
    return 1
  fi
  MARIADB_SIGNER_DSN="signer@tcp(127.0.0.1:$(cat "$dir/port"))/notarysigner?parseTime=True"
  export MARIADB_SIGNER_DSN
  echo "$MARIADB_SIGNER_DSN"
}

mariadb_sql() {
  local dir=$1
  shift
  _mariadb_client "$dir" -N -B --database=notaryserver "$@"
}

mariadb_running() {
  [ -f "$1/mariadbd.pid" ] && kill -0 "$(cat "$1/mariadbd.pid")" 2>/dev/null
}

mariadb_destroy() {
  local dir=$1
  [ -n "$dir" ] || return 0
  mariadb_stop "$dir"
  rm -rf "$dir"
}

# ---- TAP end-to-end glue ---------------------------------------------------

_mariadb_e2e_cleanup() {
  [ -n "${MARIADB_E2E_DIR:-}" ] && mariadb_stop "$MARIADB_E2E_DIR"
  _e2e_cleanup
}

mariadb_e2e_setup() {
  if [ -z "$(_mariadb_find mariadbd)" ] && [ "$(id -u)" != 0 ]; then
    skip_all "mariadbd is not installed (package mariadb-server)"
  fi
  # The plugin is optional in the build (needs libmariadb).
  if [ -n "${NOTARY_PLUGIN_PATH:-}" ] &&
    [ -z "$(find "$NOTARY_PLUGIN_PATH" -name 'notary-storage-mysql.so' -print -quit 2>/dev/null)" ]; then
    skip_all "the mysql storage plugin is not built (no libmariadb)"
  fi
  MARIADB_E2E_DIR=$E2E_TMP/db
  trap _mariadb_e2e_cleanup EXIT
  if ! mariadb_start "$MARIADB_E2E_DIR" >/dev/null 2>"$E2E_TMP/mariadb-start.err"; then
    diag_file "$E2E_TMP/mariadb-start.err"
    bail_out "could not start a private MariaDB"
  fi
  E2E_STORAGE_BACKEND=mysql
  E2E_DB_URL=$MARIADB_DSN
  export E2E_STORAGE_BACKEND E2E_DB_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  cmd=${1:-}
  dir=${2:-}
  case "$cmd" in
    start) mariadb_start "$dir" ;;
    stop) mariadb_stop "$dir" ;;
    resume) mariadb_resume "$dir" && echo "$MARIADB_DSN" ;;
    destroy) mariadb_destroy "$dir" ;;
    load-signer) mariadb_load_signer "$dir" ;;
    *)
      echo "usage: $0 start|stop|resume|destroy|load-signer DIR" >&2
      exit 2
      ;;
  esac
fi
