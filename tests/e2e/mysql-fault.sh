#!/usr/bin/env bash
# End-to-end: the database goes away under a running server.  Our server
# runs on storage "mysql" (private MariaDB, tests/lib/mariadb.sh); MariaDB
# is stopped while the server keeps running: reads, publishes and the health
# endpoint must fail fast and clearly (5xx JSON error envelope, never a 404
# that would tell a client the repository does not exist; health 503 with
# "DB operational").  Once MariaDB is back on the same port, publishes and
# reads work again without restarting the server.  Prints TAP.
#
#   NOTARY_SERVER_BIN=build/core/notary-server \
#   NOTARY_PLUGIN_PATH=build/plugins bash tests/e2e/mysql-fault.sh
#
# E2E_HEALTH_WAIT (15 s) bounds how long health may take to notice; the
# reference checks every 10 s, so give it 25 to validate the script there.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"
# shellcheck source=tests/lib/mariadb.sh
source "$here/../lib/mariadb.sh"

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
[[ -x $NOTARY_SERVER_BIN ]] || bail_out "server binary $NOTARY_SERVER_BIN is not executable"

HEALTH_WAIT=${E2E_HEALTH_WAIT:-15}
# A request during the outage must be answered within this many seconds
# (the backend's connect timeout is 2 s; allow for a loaded machine).
FAIL_FAST=${E2E_FAIL_FAST:-10}

e2e_init
mariadb_e2e_setup
DB=$MARIADB_E2E_DIR
T=$E2E_TMP
diag "MariaDB at $E2E_DB_URL"

# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() {
  server_log_diag 10
  server_alive || bail_out "notary-server is no longer running"
}

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw NOTARY_DELEGATION_PASSPHRASE=delegpw

GUN=example.com/fault/app-$$
printf 'before the outage\n' >"$T/f1"
printf 'during the outage\n' >"$T/f2"
printf 'after the outage\n' >"$T/f3"

cli() {
  local dir=$1
  shift
  timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "$URL" --tlscacert "$ROOT_CA" -d "$dir" "$@"
}
N() { cli "$T/trust" "$@"; }

# get PATH: "<status> <seconds>" of a GET, body in $T/body.
get() {
  curl -sS --max-time 30 --cacert "$ROOT_CA" -o "$T/body" -w '%{http_code} %{time_total}' "$URL$1"
}

# is_error_envelope FILE: the server's JSON error body.
is_error_envelope() {
  python3 - "$1" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["errors"]
assert len(e) == 1 and e[0]["code"] and e[0]["message"], e
print("code", e[0]["code"], "message", e[0]["message"])
PY
}

# wait_health WANT: poll health (bounded) until it answers WANT; the last
# body is in $T/health.
wait_health() {
  local want=$1 deadline=$((SECONDS + HEALTH_WAIT)) code
  while :; do
    code=$(curl -s --max-time 5 --cacert "$ROOT_CA" -o "$T/health" -w '%{http_code}' \
      "$URL/_notary_server/health")
    [[ $code == "$want" ]] && return 0
    ((SECONDS >= deadline)) && break
    sleep 0.5
  done
  echo "health still answers $code after ${HEALTH_WAIT}s: $(cat "$T/health")"
  return 1
}

# ---------------------------------------------------------------- set-up

check "fixtures are present and fresh" "$FIXTURES_DIR/ensure-fresh.sh" ||
  bail_out "no usable TLS fixtures"

PORT=$(free_port) || bail_out "no free port"
URL=https://localhost:$PORT
write_server_config "$T/server.json" "$PORT"
if start_notary_server "$T/server.json" "$T/server.log" "$PORT" 2>"$T/start.err"; then
  ok "server starts on storage mysql"
else
  not_ok "server starts on storage mysql"
  diag_file "$T/start.err"
  server_log_diag 30
  bail_out "server did not start"
fi
SERVER_PID=$NOTARY_SERVER_PID

step_publish_before() {
  N init "$GUN" && N add "$GUN" before "$T/f1" && N publish "$GUN" &&
    cli "$T/reader" list "$GUN" | grep -E '^before[[:space:]]' >/dev/null
}
check "publish and read $GUN while the database is up" step_publish_before ||
  bail_out "nothing to test the outage with"

# ---------------------------------------------------------------- outage

step_stop_db() { mariadb_stop "$DB" && ! mariadb_running "$DB"; }
check "MariaDB stopped (the server keeps running)" step_stop_db || bail_out "cannot stop MariaDB"

step_read_fails() {
  local path out code secs
  for path in timestamp.json root.json snapshot.json targets.json 1.root.json; do
    out=$(get "/v2/$GUN/_trust/tuf/$path") || return 1
    read -r code secs <<<"$out"
    echo "GET $path: HTTP $code in ${secs}s; $(is_error_envelope "$T/body")"
    ((code >= 500 && code <= 599)) || return 1
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < $FAIL_FAST else 1)" "$secs" ||
      return 1
  done
}
check "reads during the outage: 5xx with a JSON error envelope, within ${FAIL_FAST}s" \
  step_read_fails

step_changefeed_fails() {
  local out code
  out=$(get "/v2/_trust/changefeed?change_id=0&records=10") || return 1
  code=${out%% *}
  echo "GET changefeed: HTTP $code; $(is_error_envelope "$T/body")"
  ((code >= 500 && code <= 599))
}
check "changefeed during the outage: 5xx with a JSON error envelope" step_changefeed_fails

step_health_503() {
  wait_health 503 || return 1
  cat "$T/health"
  python3 - "$T/health" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
assert isinstance(h.get("DB operational"), str) and h["DB operational"], h
PY
}
check "health turns 503 with a \"DB operational\" error within ${HEALTH_WAIT}s" step_health_503

step_publish_fails() {
  local out start=$SECONDS
  N add "$GUN" during "$T/f2" || return 1
  if out=$(N publish "$GUN" 2>&1); then
    echo "publish succeeded without a database: $out"
    return 1
  fi
  echo "$out (after $((SECONDS - start))s)"
  ((SECONDS - start < 2 * FAIL_FAST)) && grep -q 'fatal' <<<"$out"
}
check "publish during the outage fails in the client, promptly" step_publish_fails

step_fresh_read_fails() {
  local out
  if out=$(cli "$T/fresh" list "$GUN" 2>&1); then
    echo "list succeeded without a database: $out"
    return 1
  fi
  echo "$out"
  # A 404 would make the client report that the repository does not exist.
  ! grep -q 'does not have trust data' <<<"$out"
}
check "a fresh client's read fails, without claiming $GUN does not exist" step_fresh_read_fails

step_alive_during() { server_alive && [[ $NOTARY_SERVER_PID == "$SERVER_PID" ]]; }
check "the server is still running during the outage" step_alive_during

# ---------------------------------------------------------------- recovery

step_resume_db() { mariadb_resume "$DB"; }
check "MariaDB started again on the same port and datadir" step_resume_db ||
  bail_out "cannot restart MariaDB"

step_health_back() { wait_health 200 && cat "$T/health" && [[ $(cat "$T/health") == "{}" ]]; }
check "health is 200 {} again within ${HEALTH_WAIT}s" step_health_back

step_publish_after() {
  # The change staged during the outage is still in the changelist.
  N add "$GUN" after "$T/f3" && N publish "$GUN" &&
    N list "$GUN" >"$T/l" && cat "$T/l" &&
    grep -qE '^during[[:space:]]' "$T/l" && grep -qE '^after[[:space:]]' "$T/l"
}
check "publish works again with no server restart (staged + new target)" step_publish_after

step_read_after() {
  cli "$T/fresh2" list "$GUN" >"$T/l2" && cat "$T/l2" &&
    grep -qE '^before[[:space:]]' "$T/l2" && grep -qE '^during[[:space:]]' "$T/l2" &&
    grep -qE '^after[[:space:]]' "$T/l2" &&
    cli "$T/fresh2" verify "$GUN" after <"$T/f3" | cmp - "$T/f3" &&
    cli "$T/reader" list "$GUN" | grep -E '^after[[:space:]]' >/dev/null
}
check "fresh and earlier readers see every target after the outage" step_read_after

step_same_process() {
  echo "server pid $SERVER_PID, now $NOTARY_SERVER_PID"
  server_alive && [[ $NOTARY_SERVER_PID == "$SERVER_PID" ]]
}
check "it is the same server process throughout" step_same_process

# Every stored timestamp has its changefeed entry: nothing half-written
# during the outage.
step_consistent() {
  local ts feed
  ts=$(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM tuf_files WHERE gun = '$GUN' AND role = 'timestamp'") &&
    feed=$(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM changefeed WHERE gun = '$GUN'") || return 1
  echo "timestamps $ts, changefeed rows $feed"
  ((ts >= 2 && ts == feed))
}
check "database consistent after the outage (one change per timestamp)" step_consistent

stop_notary_server
diag "server exit status after SIGTERM: $NOTARY_SERVER_EXIT"
check "server log has no sanitizer or GLib-CRITICAL reports" server_log_clean
done_testing
