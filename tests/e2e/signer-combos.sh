#!/usr/bin/env bash
# End-to-end: the whole client workflow (tests/e2e/client-workflow.sh, run
# as a child with trust_service.type=remote) through every pairing of
# notary-server and notary-signer that must interoperate:
#
#   our server       + our signer        (memory stores)
#   our server       + reference signer  (memory)
#   reference server + our signer        (memory)
#   our server       + reference signer  (both on MySQL)
#   our server       + our signer        (both on MySQL)
# The MySQL pairings are skipped while data/signer-mysql.sql does not exist
# or when our signer was built without its MySQL key store.
#
# Each pairing reports: the workflow passed; the signer really created and
# signed the server-managed keys (its log); the signer survived and stopped
# cleanly.  Prints TAP.
#
#   NOTARY_BUILD_ROOT=build NOTARY_SERVER_BIN=build/core/notary-server \
#     bash tests/e2e/signer-combos.sh
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

for tool in curl certtool sha256sum python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
OUR_SERVER=$NOTARY_SERVER_BIN
OUR_SIGNER=$(signer_bin_ours)
[[ $OUR_SERVER != "$REF_SERVER_BIN" ]] ||
  bail_out "NOTARY_SERVER_BIN must be our server (it is the reference's)"
for bin in "$OUR_SERVER" "$OUR_SIGNER" "$REF_SERVER_BIN" "$REF_SIGNER_BIN"; do
  [[ -x $bin ]] || bail_out "$bin is not executable"
done

e2e_init
T=$E2E_TMP
"$FIXTURES_DIR/ensure-fresh.sh" >"$T/fixtures.log" 2>&1 || {
  diag_file "$T/fixtures.log"
  bail_out "no usable TLS fixtures"
}

plan 15

# signed_lines: how the signer logs a CreateKey and a Sign (ours and the
# reference word them alike; the reference appends the signed bytes).
created_re='CreateKey: Created KeyID'
signed_re='Sign: Signed'

# run_combo NAME SERVER_BIN SIGNER_BIN [BACKEND]: three TAP lines.
run_combo() {
  local name=$1 server=$2 signer=$3 backend=${4:-memory} port out rc
  local dir
  dir=$(e2e_tmpdir)
  port=$(free_port) || bail_out "no free port"
  write_signer_config "$dir/signer.json" "$port" "$backend" "${SIGNER_MYSQL_DSN:-}"
  if ! start_notary_signer "$signer" "$dir/signer.json" "$dir/signer.log" 2>"$dir/start.err"; then
    # A build without the optional MySQL key store says so and exits.
    if grep -q 'is not supported by this notary-signer build' "$NOTARY_SIGNER_LOG"; then
      local reason
      reason=$(grep -o '"msg":"[^"]*"' "$NOTARY_SIGNER_LOG" | tail -n1 | cut -d'"' -f4)
      skip "$name: client workflow" "$reason"
      skip "$name: signer created and signed the server-managed keys" "$reason"
      skip "$name: signer survived and stopped cleanly" "$reason"
      return
    fi
    not_ok "$name: client workflow"
    diag_file "$dir/start.err"
    signer_log_diag 15
    skip "$name: signer created and signed the server-managed keys" "signer did not start"
    skip "$name: signer survived and stopped cleanly" "signer did not start"
    return
  fi

  out=$dir/workflow.tap
  E2E_TRUST_TYPE=remote E2E_SIGNER_PORT=$port E2E_KEY_ALGORITHM=ecdsa \
    NOTARY_SERVER_BIN=$server E2E_STORAGE_BACKEND=$backend \
    E2E_DB_URL=$( [[ $backend == mysql ]] && echo "$MARIADB_DSN") \
    bash "$here/client-workflow.sh" >"$out" 2>"$dir/workflow.err"
  rc=$?
  if ((rc == 0)) && grep -qE '^1\.\.[1-9]' "$out" && ! grep -qE '^(not ok|Bail out!)' "$out" &&
    ! grep -q '# SKIP' "$out"; then
    ok "$name: client workflow ($(grep -c '^ok' "$out") steps)"
  else
    not_ok "$name: client workflow"
    diag "client-workflow.sh exit $rc; its TAP output:"
    diag_file "$out" 200
    diag_file "$dir/workflow.err" 20
    signer_log_diag 15
  fi

  local rows="" keys_ok=1
  grep -q "$created_re" "$NOTARY_SIGNER_LOG" && grep -q "$signed_re" "$NOTARY_SIGNER_LOG" || keys_ok=0
  if [[ $backend == mysql ]]; then
    # The keys must really be in the database, not only in the process.
    rows=$(_mariadb_client "$MARIADB_DIR" -N -e \
      "SELECT COUNT(*) FROM notarysigner.private_keys WHERE gun LIKE 'example.com/e2e/%'" 2>&1)
    [[ $rows =~ ^[0-9]+$ ]] && ((rows > 0)) || keys_ok=0
    rows=", $rows key rows in notarysigner.private_keys"
  fi
  if ((keys_ok)); then
    ok "$name: signer created and signed the server-managed keys ($(grep -c "$signed_re" "$NOTARY_SIGNER_LOG") signatures$rows)"
  else
    not_ok "$name: signer created and signed the server-managed keys"
    diag "${rows#, }"
    signer_log_diag 15
  fi

  # Not through check(): stop/reap must run in this shell, not a subshell.
  local why=""
  if ! signer_alive; then
    why="signer died during the workflow"
  else
    stop_notary_signer
    # Ours drains and exits 0; the reference dies of the signal (143).
    if ((NOTARY_SIGNER_EXIT != 0)) && { [[ $signer == "$OUR_SIGNER" ]] || ((NOTARY_SIGNER_EXIT != 143)); }; then
      why="exit status $NOTARY_SIGNER_EXIT after SIGTERM"
    elif ! signer_log_clean >"$dir/unclean" 2>&1; then
      why="sanitizer or GLib-CRITICAL report in its log"
    fi
  fi
  if [[ -z $why ]]; then
    ok "$name: signer survived and stopped cleanly (exit $NOTARY_SIGNER_EXIT)"
  else
    not_ok "$name: signer survived and stopped cleanly"
    diag "$why"
    diag_file "$dir/unclean" 20
    signer_log_diag 15
  fi
}

run_combo "our server + our signer" "$OUR_SERVER" "$OUR_SIGNER"
run_combo "our server + reference signer" "$OUR_SERVER" "$REF_SIGNER_BIN"
run_combo "reference server + our signer" "$REF_SERVER_BIN" "$OUR_SIGNER"

# MySQL: one MariaDB with the server's and the signer's schema; the
# reference signer first (it validates data/signer-mysql*.sql against the
# reference's own SQL store), then ours.
mysql_combos=("our server + reference signer, both on MySQL|$REF_SIGNER_BIN"
  "our server + our signer, both on MySQL|$OUR_SIGNER")
# skip_mysql REASON [fail]: three lines per combo; with "fail" the
# workflow line of each is a failure instead of a skip.
skip_mysql() {
  local c
  for c in "${mysql_combos[@]}"; do
    if [[ ${2:-} == fail ]]; then
      not_ok "${c%%|*}: client workflow"
      diag "$1"
    else
      skip "${c%%|*}: client workflow" "$1"
    fi
    skip "${c%%|*}: signer created and signed the server-managed keys" "$1"
    skip "${c%%|*}: signer survived and stopped cleanly" "$1"
  done
}
if ! signer_mysql_available; then
  skip_mysql "data/signer-mysql.sql does not exist yet (signer MySQL key store not landed)"
elif ! our_mysql_plugin_built; then
  skip_mysql "our MySQL storage plugin was not built (no MariaDB client library)"
elif ! mariadb_start "$T/mariadb" >"$T/mariadb.out" 2>&1; then
  diag "MariaDB did not start:"
  diag_file "$T/mariadb.out"
  skip_mysql "MariaDB (tests/lib/mariadb.sh) did not start" fail
else
  mariadb_register_cleanup
  if ! signer_mysql_load >"$T/signer-sql.out" 2>&1; then
    diag_file "$T/signer-sql.out"
    skip_mysql "loading data/signer-mysql.sql and its grants failed" fail
  else
    signer_env_passphrases
    for c in "${mysql_combos[@]}"; do
      run_combo "${c%%|*}" "$OUR_SERVER" "${c#*|}" mysql
    done
  fi
  mariadb_stop_registered "$T/mariadb"
fi

done_testing
