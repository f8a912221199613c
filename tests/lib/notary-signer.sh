# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153  # globals shared with notary-server.sh and the scripts
# Helpers to run a notary-signer (ours or the reference's) under test.
# Source after tap.sh and notary-server.sh (uses e2e_init's temp dir,
# E2E_PIDS cleanup trap, free_port and FIXTURES_DIR).
#
#   signer_bin_ours            print our signer's path
#                              ($NOTARY_BUILD_ROOT/core/signer/notary-signer)
#   write_signer_config FILE PORT [BACKEND [DB_URL]]
#                              fixture TLS (notary-signer.crt/.key), client
#                              certificates required and checked against
#                              notary-server.crt (leaf + intermediate, as
#                              in the reference's fixtures), listening on
#                              127.0.0.1:PORT; BACKEND memory (default) or
#                              mysql with DB_URL and default alias
#                              timestamp_1 (its passphrase comes from the
#                              environment, see signer_env_passphrases)
#   signer_env_passphrases     export NOTARY_SIGNER_DEFAULT_ALIAS and the
#                              passphrase of alias timestamp_1 (the values
#                              of the reference's compose file)
#   start_notary_signer BIN CONFIG LOGFILE
#                              start BIN -config=CONFIG, wait (bounded) until
#                              its gRPC port accepts TCP connections; sets
#                              NOTARY_SIGNER_PID / _PORT / _LOG / _BIN /
#                              _CONFIG; returns 1 (with a reason on stderr)
#                              if it exits or never listens
#   restart_notary_signer      start the last signer again (same binary,
#                              config, port; the log is appended to)
#   stop_notary_signer         SIGTERM, bounded wait, then SIGKILL; sets
#                              NOTARY_SIGNER_EXIT (128+N for signal N)
#   kill_notary_signer         SIGKILL at once (a crash); sets
#                              NOTARY_SIGNER_EXIT
#   signer_alive               true while the started signer runs
#   signer_log_clean           no sanitizer / GLib-CRITICAL report in the log
#   signer_log_diag [N]        last N lines of the signer log as TAP diagnostics
#   port_open PORT             true if 127.0.0.1:PORT accepts a TCP connection
#   e2e_forget_pid PID         drop a reaped PID from the exit trap's list
#   start_server_unhealthy CONFIG LOG PORT
#                              start_notary_server that waits for /v2/ only
#   health_wait CODE TEXT SECS poll the server's health until CODE + TEXT
#
# Environment:
#   NOTARY_BUILD_ROOT     our build tree (meson sets it)
#   E2E_SIGNER_START_TIMEOUT  seconds to wait for the port (default 10)

NOTARY_SIGNER_PID=
NOTARY_SIGNER_PORT=
NOTARY_SIGNER_LOG=
NOTARY_SIGNER_BIN=
NOTARY_SIGNER_CONFIG=
NOTARY_SIGNER_EXIT=
E2E_SIGNER_START_TIMEOUT=${E2E_SIGNER_START_TIMEOUT:-10}
REF_SIGNER_BIN=${REF_SIGNER_BIN:-/usr/bin/notary-signer}
REF_SERVER_BIN=${REF_SERVER_BIN:-/usr/bin/notary-server}

signer_bin_ours() {
  local root=${NOTARY_BUILD_ROOT:-$NOTARY_SOURCE_ROOT/build}
  echo "$root/core/signer/notary-signer"
}

signer_env_passphrases() {
  export NOTARY_SIGNER_DEFAULT_ALIAS=timestamp_1
  export NOTARY_SIGNER_TIMESTAMP_1=testpassword
}

write_signer_config() {
  local file=$1 port=$2 backend=${3:-memory} db_url=${4:-} storage
  if [[ $backend == memory ]]; then
    storage='"backend": "memory"'
  else
    storage="\"backend\": \"$backend\",
    \"db_url\": \"$db_url\",
    \"default_alias\": \"timestamp_1\""
  fi
  cat >"$file" <<EOF
{
  "server": {
    "grpc_addr": "127.0.0.1:$port",
    "tls_cert_file": "$FIXTURES_DIR/notary-signer.crt",
    "tls_key_file": "$FIXTURES_DIR/notary-signer.key",
    "client_ca_file": "$FIXTURES_DIR/notary-server.crt"
  },
  "storage": {
    $storage
  },
  "logging": {
    "level": "debug"
  }
}
EOF
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_signer_config_port() {
  sed -n 's/.*"grpc_addr"[[:space:]]*:[[:space:]]*"[^"]*:\([0-9][0-9]*\)".*/\1/p' "$1" | head -n1
}

_signer_launch() {
  local deadline
  (cd "$E2E_TMP" && exec "$NOTARY_SIGNER_BIN" -config="$NOTARY_SIGNER_CONFIG") >>"$NOTARY_SIGNER_LOG" 2>&1 &
  NOTARY_SIGNER_PID=$!
  E2E_PIDS+=("$NOTARY_SIGNER_PID")
  deadline=$((SECONDS + E2E_SIGNER_START_TIMEOUT))
  while ((SECONDS <= deadline)); do
    if ! kill -0 "$NOTARY_SIGNER_PID" 2>/dev/null; then
      echo "# notary-signer ($NOTARY_SIGNER_BIN) exited during start-up" >&2
      return 1
    fi
    # A bare TCP connect: both signers log nothing once they listen.
    port_open "$NOTARY_SIGNER_PORT" && return 0
    sleep 0.1
  done
  echo "# notary-signer not listening on $NOTARY_SIGNER_PORT after ${E2E_SIGNER_START_TIMEOUT}s" >&2
  return 1
}

start_notary_signer() {
  NOTARY_SIGNER_BIN=$1
  NOTARY_SIGNER_CONFIG=$2
  # The signer runs from the temp dir: anchor relative paths here.
  [[ $NOTARY_SIGNER_BIN != */* || $NOTARY_SIGNER_BIN == /* ]] || NOTARY_SIGNER_BIN=$PWD/$NOTARY_SIGNER_BIN
  [[ $NOTARY_SIGNER_CONFIG == /* ]] || NOTARY_SIGNER_CONFIG=$PWD/$NOTARY_SIGNER_CONFIG
  NOTARY_SIGNER_LOG=$3
  NOTARY_SIGNER_PORT=$(_signer_config_port "$NOTARY_SIGNER_CONFIG")
  if [[ -z $NOTARY_SIGNER_PORT ]]; then
    echo "# start_notary_signer: no grpc_addr port in $NOTARY_SIGNER_CONFIG" >&2
    return 1
  fi
  : >"$NOTARY_SIGNER_LOG"
  _signer_launch
}

restart_notary_signer() {
  [[ -n $NOTARY_SIGNER_BIN ]] || return 1
  echo "----- restart -----" >>"$NOTARY_SIGNER_LOG"
  _signer_launch
}

signer_alive() {
  [[ -n $NOTARY_SIGNER_PID ]] && kill -0 "$NOTARY_SIGNER_PID" 2>/dev/null
}

# Reaps the signer and drops it from the exit trap's list, so the trap
# never signals a PID the kernel may have handed to someone else.
_signer_reap() {
  local pid=$NOTARY_SIGNER_PID i
  wait "$pid" 2>/dev/null
  NOTARY_SIGNER_EXIT=$?
  NOTARY_SIGNER_PID=
  e2e_forget_pid "$pid"
}

# e2e_forget_pid PID: drop a reaped PID from the exit trap's list.
e2e_forget_pid() {
  local i
  for i in "${!E2E_PIDS[@]}"; do
    [[ ${E2E_PIDS[$i]} == "$1" ]] && unset 'E2E_PIDS[i]'
  done
  return 0
}

stop_notary_signer() {
  NOTARY_SIGNER_EXIT=
  [[ -n $NOTARY_SIGNER_PID ]] || return 0
  kill -TERM "$NOTARY_SIGNER_PID" 2>/dev/null || true
  _e2e_wait_gone "$NOTARY_SIGNER_PID" 100 || kill -KILL "$NOTARY_SIGNER_PID" 2>/dev/null || true
  _signer_reap
}

kill_notary_signer() {
  NOTARY_SIGNER_EXIT=
  [[ -n $NOTARY_SIGNER_PID ]] || return 0
  kill -KILL "$NOTARY_SIGNER_PID" 2>/dev/null || true
  _signer_reap
}

signer_log_clean() {
  ! grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|CRITICAL \*\*|-CRITICAL|Segmentation fault|panic:' \
    "$NOTARY_SIGNER_LOG"
}

signer_log_diag() {
  local n=${1:-40}
  if [[ -n $NOTARY_SIGNER_LOG ]]; then
    if signer_alive; then
      diag "signer (pid $NOTARY_SIGNER_PID) log, last $n lines:"
    else
      diag "signer is NOT running; log, last $n lines:"
    fi
    diag_file "$NOTARY_SIGNER_LOG" "$n"
  fi
}

# ---------------------------------------------------------------- MySQL store
#
#   signer_mysql_available     true once data/signer-mysql.sql exists (the
#                              signer's MySQL key store has landed)
#   mariadb_register_cleanup   put mariadbd's PID on the exit trap's list
#   mariadb_stop_registered DIR  stop it and take it off the list again
#   signer_mysql_load          load data/signer-mysql.sql (and
#                              data/signer-mysql-user.sql when present) into
#                              the MariaDB that tests/lib/mariadb.sh's
#                              mariadb_start started (MARIADB_DIR); sets
#                              SIGNER_MYSQL_DSN for user `signer`

SIGNER_MYSQL_DSN=

signer_mysql_available() {
  [[ -f $NOTARY_SOURCE_ROOT/data/signer-mysql.sql ]]
}

signer_mysql_load() {
  local data=$NOTARY_SOURCE_ROOT/data
  [[ -n ${MARIADB_DIR:-} && -n ${MARIADB_PORT:-} ]] || {
    echo "signer_mysql_load: start MariaDB first (mariadb_start)" >&2
    return 1
  }
  _mariadb_client "$MARIADB_DIR" <"$data/signer-mysql.sql" || return 1
  if [[ -f $data/signer-mysql-user.sql ]]; then
    _mariadb_client "$MARIADB_DIR" <"$data/signer-mysql-user.sql" || return 1
  else
    # No grants file yet: the seed's least privilege for the signer
    # (config-and-ops.md §10) plus UPDATE, which marking keys used needs.
    _mariadb_client "$MARIADB_DIR" <<'SQL' || return 1
CREATE USER IF NOT EXISTS 'signer'@'%';
CREATE USER IF NOT EXISTS 'signer'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON `notarysigner`.* TO 'signer'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `notarysigner`.* TO 'signer'@'localhost';
FLUSH PRIVILEGES;
SQL
  fi
  SIGNER_MYSQL_DSN="signer@tcp(127.0.0.1:$MARIADB_PORT)/notarysigner?parseTime=True"
}

# Registers the MariaDB of mariadb_start with the exit trap, so an
# aborted script does not leave it running.
mariadb_register_cleanup() {
  [[ -f ${MARIADB_DIR:-}/mariadbd.pid ]] && E2E_PIDS+=("$(cat "$MARIADB_DIR/mariadbd.pid")")
}

# mariadb_stop_registered DIR: mariadb_stop, and forget its PID again.
mariadb_stop_registered() {
  local pid=""
  [[ -f $1/mariadbd.pid ]] && pid=$(cat "$1/mariadbd.pid")
  mariadb_stop "$1"
  [[ -z $pid ]] || e2e_forget_pid "$pid"
}

# start_server_unhealthy CONFIG LOGFILE PORT: like start_notary_server
# (same globals, same exit trap), but ready as soon as GET /v2/ answers
# 200: for servers whose signer is meant to be unreachable or to refuse
# them, so /_notary_server/health will not turn 200.
start_server_unhealthy() {
  local config=$1 log=$2 port=$3 deadline
  NOTARY_SERVER_PORT=$port
  NOTARY_SERVER_LOG=$log
  (cd "$E2E_TMP" && exec "$NOTARY_SERVER_BIN" -config="$config") >"$log" 2>&1 &
  NOTARY_SERVER_PID=$!
  E2E_PIDS+=("$NOTARY_SERVER_PID")
  deadline=$((SECONDS + E2E_START_TIMEOUT))
  while ((SECONDS <= deadline)); do
    if ! kill -0 "$NOTARY_SERVER_PID" 2>/dev/null; then
      echo "# notary-server exited during start-up" >&2
      return 1
    fi
    if curl -fsS --max-time 2 --cacert "$ROOT_CA" "https://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "# notary-server did not answer /v2/ after ${E2E_START_TIMEOUT}s" >&2
  return 1
}

# health_wait CODE TEXT SECONDS: poll /_notary_server/health of the current
# server until it answers HTTP CODE with TEXT in the body (bounded); prints
# the last answer.  The reference checks its signer every 10 s, ours more
# often, so callers allow a little over 10 s.
health_wait() {
  local want=$1 text=$2 limit=$3 deadline code body
  deadline=$((SECONDS + limit))
  while :; do
    body=$(curl -sS --max-time 5 --cacert "$ROOT_CA" -w '\n%{http_code}' "$(health_url)" 2>&1)
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    if [[ $code == "$want" && $body == *"$text"* ]]; then
      echo "health $code $body"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      echo "health still $code $body after ${limit}s (want $want with '$text')"
      return 1
    fi
    sleep 0.5
  done
}

# our_mysql_plugin_built: our server's MySQL storage plugin exists under
# NOTARY_PLUGIN_PATH (it is optional: no MariaDB client library, no plugin).
our_mysql_plugin_built() {
  local dir=${NOTARY_PLUGIN_PATH:-${NOTARY_BUILD_ROOT:-$NOTARY_SOURCE_ROOT/build}/plugins}
  [[ -n $(find "$dir" -name 'notary-storage-mysql.so' -print -quit 2>/dev/null) ]]
}
