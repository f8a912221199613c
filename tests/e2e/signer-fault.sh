#!/usr/bin/env bash
# End-to-end: notary-server with a remote notary-signer that crashes.
#
#   1. publish; SIGKILL the signer between two publishes: the next publish
#      and a new repository's init fail with a 5xx ("unable to reach trust
#      server at this time: 503." -- ours; the reference answers 400 with
#      the RPC error as a validation error), reads still work, and
#      /_notary_server/health turns 503 with "Trust operational";
#   2. start the signer again: health turns 200, a new repository can be
#      initialised and published without restarting the server, and the
#      old one publishes again (MySQL key store: directly; memory store:
#      its timestamp key died with the signer, so after `key rotate
#      timestamp -r`, the operator's way back);
#   3. SIGKILL the signer while a publish waits inside a signing RPC (the
#      signer is SIGSTOPped first so the publish is caught mid-call), with
#      a client publishing in a loop: the one in flight and all later ones
#      fail cleanly with a 5xx, nothing hangs, and everything reported
#      published is still served to a fresh client.
#
# Key store: E2E_FAULT_STORE=auto (default: MySQL when data/signer-mysql.sql
# exists and our signer supports it, else memory), memory or mysql.
# Prints TAP.
#
#   NOTARY_BUILD_ROOT=build NOTARY_SERVER_BIN=build/core/notary-server \
#     bash tests/e2e/signer-fault.sh
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"
# shellcheck source=tests/lib/notary-signer.sh
source "$here/../lib/notary-signer.sh"
# shellcheck source=tests/lib/mariadb.sh
source "$here/../lib/mariadb.sh"

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
SIGNER_BIN=${E2E_SIGNER_BIN:-$(signer_bin_ours)}
[[ -x $SIGNER_BIN ]] || bail_out "signer binary $SIGNER_BIN is not executable"
[[ -x $NOTARY_SERVER_BIN ]] || bail_out "server binary $NOTARY_SERVER_BIN is not executable"

e2e_init
T=$E2E_TMP
"$FIXTURES_DIR/ensure-fresh.sh" >"$T/fixtures.log" 2>&1 || {
  diag_file "$T/fixtures.log"
  bail_out "no usable TLS fixtures"
}

plan 20
# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() {
  server_log_diag 15
  signer_log_diag 10
  server_alive || bail_out "notary-server is no longer running"
}

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw
GUN_A=example.com/fault/a-$$
GUN_NEW=example.com/fault/new-$$
GUN_C=example.com/fault/c-$$
printf 'artifact\n' >"$T/f"
# The reference checks its signer every 10 s, ours every 2 s.
HEALTH_LIMIT=${E2E_HEALTH_LIMIT:-25}
FAIL_5XX='unable to reach trust server at this time: 5[0-9][0-9]\.'

cli() {
  local dir=$1
  shift
  timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "$URL" --tlscacert "$ROOT_CA" -d "$dir" "$@"
}
N() { cli "$T/trust" "$@"; }
# F: a brand-new trust dir each time (trust on first use, full download).
F() { cli "$(mktemp -d "$T/fresh.XXXXXX")" "$@"; }

# expect_5xx CMD...: CMD fails, and with the client's 5xx message.
expect_5xx() {
  local out
  if out=$("$@" 2>&1); then
    echo "unexpectedly succeeded: $out"
    return 1
  fi
  echo "$out"
  grep -qE "$FAIL_5XX" <<<"$out"
}

# lists GUN NAME...: a fresh client lists every NAME in GUN.
lists() {
  local gun=$1 out name
  shift
  out=$(F list "$gun" 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  for name in "$@"; do
    grep -qE "^${name}[[:space:]]" <<<"$out" || { echo "missing $name"; return 1; }
  done
}

# ---------------------------------------------------------------- key store

STORE=${E2E_FAULT_STORE:-auto}
SIGNER_PORT=$(free_port) || bail_out "no free port"
start_signer_with_store() {
  local store=$1
  write_signer_config "$T/signer.json" "$SIGNER_PORT" "$store" "${SIGNER_MYSQL_DSN:-}"
  start_notary_signer "$SIGNER_BIN" "$T/signer.json" "$T/signer.log"
}
if [[ $STORE != memory ]]; then
  if ! signer_mysql_available; then
    [[ $STORE == mysql ]] && bail_out "E2E_FAULT_STORE=mysql but data/signer-mysql.sql does not exist"
    diag "memory key store: data/signer-mysql.sql does not exist yet"
    STORE=memory
  elif ! mariadb_start "$T/mariadb" >"$T/mariadb.out" 2>&1 || ! mariadb_register_cleanup ||
    ! signer_mysql_load >>"$T/mariadb.out" 2>&1; then
    diag_file "$T/mariadb.out"
    bail_out "MariaDB with the signer schema did not start"
  else
    signer_env_passphrases
    if start_signer_with_store mysql 2>"$T/signer.err"; then
      STORE=mysql
    elif [[ $STORE == auto ]] && grep -q 'is not supported by this notary-signer build' "$NOTARY_SIGNER_LOG"; then
      diag "memory key store: $(grep -o '"msg":"[^"]*"' "$NOTARY_SIGNER_LOG" | tail -n1)"
      STORE=memory
      mariadb_stop_registered "$T/mariadb"
    else
      diag_file "$T/signer.err"
      signer_log_diag 20
      bail_out "signer did not start on MySQL"
    fi
  fi
fi
if [[ $STORE == memory ]]; then
  start_signer_with_store memory 2>"$T/signer.err" || {
    diag_file "$T/signer.err"
    signer_log_diag 20
    bail_out "signer did not start"
  }
fi
ok "signer ($SIGNER_BIN, $STORE key store) listens on 127.0.0.1:$SIGNER_PORT"

PORT=$(free_port) || bail_out "no free port"
URL=https://localhost:$PORT
E2E_TRUST_TYPE=remote E2E_SIGNER_PORT=$SIGNER_PORT write_server_config "$T/server.json" "$PORT"
if start_notary_server "$T/server.json" "$T/server.log" "$PORT" 2>"$T/server.err"; then
  ok "server ($NOTARY_SERVER_BIN) with the remote signer starts healthy"
else
  not_ok "server ($NOTARY_SERVER_BIN) with the remote signer starts healthy"
  diag_file "$T/server.err"
  server_log_diag 30
  bail_out "server did not start"
fi
SERVER_PID=$NOTARY_SERVER_PID

# ---------------------------------------------------------------- 1. crash between publishes

step_publish_a1() { N init -p "$GUN_A" && N add "$GUN_A" a1 "$T/f" && N publish "$GUN_A" && lists "$GUN_A" a1; }
check "init -p + add a1 + publish $GUN_A" step_publish_a1

kill_notary_signer
if ((NOTARY_SIGNER_EXIT == 137)) && ! port_open "$SIGNER_PORT"; then
  ok "signer killed with SIGKILL between publishes"
else
  not_ok "signer killed with SIGKILL between publishes"
  diag "exit status $NOTARY_SIGNER_EXIT"
fi

step_publish_down() { N add "$GUN_A" a2 "$T/f" && expect_5xx N publish "$GUN_A"; }
check "publish with the signer down fails with a 5xx" step_publish_down

step_init_down() { expect_5xx N init -p "$GUN_NEW"; }
check "init of a new repository with the signer down fails with a 5xx" step_init_down

step_reads_down() {
  lists "$GUN_A" a1 && ! grep -qE '^a2[[:space:]]' <<<"$(F list "$GUN_A" 2>&1)" &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" "$URL/v2/" >/dev/null
}
check "reads still work with the signer down (fresh client lists a1, not a2)" step_reads_down

step_health_503() { health_wait 503 '"Trust operational"' "$HEALTH_LIMIT"; }
check "/_notary_server/health turns 503 with \"Trust operational\"" step_health_503

# ---------------------------------------------------------------- 2. recovery

if restart_notary_signer 2>"$T/restart.err"; then
  ok "signer restarted on the same port"
else
  not_ok "signer restarted on the same port"
  diag_file "$T/restart.err"
  signer_log_diag 20
  bail_out "signer did not restart"
fi

step_health_200() { health_wait 200 '{}' "$HEALTH_LIMIT"; }
check "/_notary_server/health turns 200 again" step_health_200

step_new_repo() {
  N init -p "$GUN_C" && N add "$GUN_C" c1 "$T/f" && N publish "$GUN_C" && lists "$GUN_C" c1 &&
    [[ $NOTARY_SERVER_PID == "$SERVER_PID" ]] && server_alive
}
check "a new repository initialises and publishes without restarting the server" step_new_repo

step_old_repo() {
  if [[ $STORE == memory ]]; then
    # The signer forgot the timestamp key root names; a fresh one from
    # the restarted signer, signed into root by the client, fixes that.
    N key rotate "$GUN_A" timestamp -r || return 1
  fi
  N publish "$GUN_A" && lists "$GUN_A" a1 a2
}
if [[ $STORE == memory ]]; then
  check "old repository publishes the staged a2 after key rotate timestamp -r (memory keys are gone)" step_old_repo
else
  check "old repository publishes the staged a2 with its old keys (MySQL key store)" step_old_repo
fi

# ---------------------------------------------------------------- 3. crash during publishes

# A client publishing in a loop; the signer is killed once the first of
# these publishes has succeeded.  Each result is one line in $T/loop.
ROUNDS=8
publish_loop() {
  local i out
  for ((i = 1; i <= ROUNDS; i++)); do
    if ! out=$(N add "$GUN_C" "d$i" "$T/f" 2>&1); then
      echo "$i add-failed $out" >>"$T/loop"
      continue
    fi
    if out=$(N publish "$GUN_C" 2>&1); then
      echo "$i ok" >>"$T/loop"
    else
      echo "$i fail ${out//$'\n'/ }" >>"$T/loop"
    fi
  done
  echo "done" >>"$T/loop"
}
: >"$T/loop"
publish_loop &
LOOP_PID=$!
E2E_PIDS+=("$LOOP_PID")
deadline=$((SECONDS + 60))
until grep -q '^1 ' "$T/loop" || ((SECONDS > deadline)); do sleep 0.05; done
# Freeze the signer so that publish 2 is caught inside its signing RPC
# (the kernel still accepts and buffers for a stopped process), then kill
# it: the RPC in flight dies with the connection.
kill -STOP "$NOTARY_SIGNER_PID" 2>/dev/null
sleep 1.5
kill_notary_signer
step_loop() {
  local deadline=$((SECONDS + 200)) oks fails bad
  until grep -q '^done' "$T/loop" || ((SECONDS > deadline)); do sleep 0.2; done
  cat "$T/loop"
  grep -q '^done' "$T/loop" || { echo "publish loop did not finish"; return 1; }
  oks=$(grep -c '^[0-9]* ok' "$T/loop")
  fails=$(grep -c '^[0-9]* fail' "$T/loop")
  bad=$(grep -E '^[0-9]+ (fail|add-failed)' "$T/loop" | grep -vcE "$FAIL_5XX")
  echo "succeeded $oks, failed $fails, failed without a 5xx $bad"
  grep -qE '^1 ok' "$T/loop" || { echo "publish 1 (before the crash) failed"; return 1; }
  grep -qE '^2 fail' "$T/loop" || { echo "publish 2 (in flight at the crash) did not fail"; return 1; }
  ((bad == 0 && oks + fails == ROUNDS))
}
check "SIGKILL during a publish (signer frozen mid-RPC) and between: each fails with a 5xx, none hangs" step_loop
wait "$LOOP_PID" 2>/dev/null
e2e_forget_pid "$LOOP_PID"
diag "publish loop around the SIGKILL: $(grep -cE '^[0-9]+ ok' "$T/loop") succeeded, $(grep -cE '^[0-9]+ fail' "$T/loop") failed"

step_nothing_lost() {
  local last names=(c1)
  last=$(grep -E '^[0-9]+ ok' "$T/loop" | tail -n1 | cut -d' ' -f1)
  for ((i = 1; i <= ${last:-0}; i++)); do names+=("d$i"); done
  echo "expecting ${names[*]} in $GUN_C and a1 a2 in $GUN_A"
  lists "$GUN_C" "${names[@]}" && lists "$GUN_A" a1 a2
}
check "everything published before the crash is still served to a fresh client" step_nothing_lost

step_health_503_again() { health_wait 503 '"Trust operational"' "$HEALTH_LIMIT"; }
check "health is 503 again after the second crash" step_health_503_again

if restart_notary_signer 2>"$T/restart.err"; then
  ok "signer restarted a second time"
else
  not_ok "signer restarted a second time"
  diag_file "$T/restart.err"
fi
check "/_notary_server/health turns 200 after the second restart" step_health_200

step_new_repo_again() {
  local gun=example.com/fault/after-$$
  N init -p "$gun" && N add "$gun" e1 "$T/f" && N publish "$gun" && lists "$gun" e1 &&
    [[ $NOTARY_SERVER_PID == "$SERVER_PID" ]]
}
check "publishing works again, same server process" step_new_repo_again

step_server_end() {
  server_alive && curl -fsS --max-time 5 --cacert "$ROOT_CA" "$(health_url)"
}
check "server never restarted and is healthy" step_server_end
stop_notary_server
stop_notary_signer
step_logs_clean() { server_log_clean && signer_log_clean; }
check "server and signer logs have no sanitizer or GLib-CRITICAL reports" step_logs_clean
[[ $STORE == mysql ]] && mariadb_stop_registered "$T/mariadb"

done_testing
