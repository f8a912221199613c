#!/usr/bin/env bash
# End-to-end: a mixed fleet during a migration.  The reference
# notary-server and ours run side by side on ONE MySQL database (server
# schema data/server-mysql.sql, tests/lib/mariadb.sh) and ONE notary-signer
# (ours, memory key store: both servers share it), and take turns
# publishing to the same repository:
#
#   ref  init -p + t1            ours add t2
#   ref  key rotate snapshot -r  ours add t4      (ours signs snapshots with
#        + t3                                      the key ref had created)
#   ours key rotate timestamp -r ref  add t6      (ref signs timestamps with
#        + t5                                      the key ours had created)
#
# After every publish a fresh trust dir, through each of the two servers,
# lists everything published so far and verifies the newest target's
# content.  Prints TAP.
#
#   NOTARY_BUILD_ROOT=build NOTARY_SERVER_BIN=build/core/notary-server \
#     bash tests/e2e/signer-mixed-fleet.sh
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
OUR_SERVER=$NOTARY_SERVER_BIN
SIGNER_BIN=${E2E_SIGNER_BIN:-$(signer_bin_ours)}
for bin in "$OUR_SERVER" "$REF_SERVER_BIN" "$SIGNER_BIN"; do
  [[ -x $bin ]] || bail_out "$bin is not executable"
done
[[ -f ${MARIADB_SQL_DIR}/server-mysql.sql ]] || bail_out "data/server-mysql.sql is missing"
[[ $OUR_SERVER == "$REF_SERVER_BIN" ]] || our_mysql_plugin_built ||
  skip_all "our MySQL storage plugin was not built (no MariaDB client library)"

e2e_init
T=$E2E_TMP
"$FIXTURES_DIR/ensure-fresh.sh" >"$T/fixtures.log" 2>&1 || {
  diag_file "$T/fixtures.log"
  bail_out "no usable TLS fixtures"
}

plan 17
# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() {
  local who
  for who in ref ours; do
    use "$who"
    server_log_diag 12
  done
  signer_log_diag 8
}

# ---------------------------------------------------------------- fleet

if mariadb_start "$T/mariadb" >"$T/mariadb.out" 2>&1; then
  mariadb_register_cleanup
  ok "MariaDB with the server schema (tests/lib/mariadb.sh)"
else
  not_ok "MariaDB with the server schema (tests/lib/mariadb.sh)"
  diag_file "$T/mariadb.out"
  bail_out "no MariaDB"
fi

SIGNER_PORT=$(free_port) || bail_out "no free port"
write_signer_config "$T/signer.json" "$SIGNER_PORT"
if start_notary_signer "$SIGNER_BIN" "$T/signer.json" "$T/signer.log" 2>"$T/signer.err"; then
  ok "one signer ($SIGNER_BIN, memory) on 127.0.0.1:$SIGNER_PORT"
else
  not_ok "one signer ($SIGNER_BIN, memory) on 127.0.0.1:$SIGNER_PORT"
  diag_file "$T/signer.err"
  signer_log_diag 20
  bail_out "signer did not start"
fi

declare -A PID PORT LOG BIN NAME
BIN[ref]=$REF_SERVER_BIN
BIN[ours]=$OUR_SERVER
NAME[ref]="reference server"
NAME[ours]="our server"
# use WHO: point the notary-server.sh globals at that server.
use() {
  NOTARY_SERVER_PID=${PID[$1]:-}
  NOTARY_SERVER_PORT=${PORT[$1]:-}
  NOTARY_SERVER_LOG=${LOG[$1]:-}
}
for who in ref ours; do
  PORT[$who]=$(free_port) || bail_out "no free port"
  LOG[$who]=$T/server-$who.log
  E2E_TRUST_TYPE=remote E2E_SIGNER_PORT=$SIGNER_PORT E2E_STORAGE_BACKEND=mysql \
    E2E_DB_URL=$MARIADB_DSN write_server_config "$T/server-$who.json" "${PORT[$who]}"
  if NOTARY_SERVER_BIN=${BIN[$who]} start_notary_server "$T/server-$who.json" "${LOG[$who]}" \
    "${PORT[$who]}" 2>"$T/start-$who.err"; then
    ok "${NAME[$who]} (${BIN[$who]}) on MySQL + the shared signer starts"
  else
    not_ok "${NAME[$who]} (${BIN[$who]}) on MySQL + the shared signer starts"
    diag_file "$T/start-$who.err"
    diag_file "${LOG[$who]}" 30
    bail_out "$who server did not start"
  fi
  PID[$who]=$NOTARY_SERVER_PID
done

# ---------------------------------------------------------------- turns

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw
GUN=example.com/fleet/app-$$

# on WHO ARGS: the publishing client (one trust dir) through server WHO.
on() {
  local who=$1
  shift
  timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "https://localhost:${PORT[$who]}" \
    --tlscacert "$ROOT_CA" -d "$T/trust" "$@"
}
# fresh WHO ARGS: a brand-new trust dir through server WHO.
fresh() {
  local who=$1
  shift
  timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "https://localhost:${PORT[$who]}" \
    --tlscacert "$ROOT_CA" -d "$(mktemp -d "$T/fresh.XXXXXX")" "$@"
}

# verify_all N: through both servers, a fresh client lists t1..tN and
# verifies tN's content (and rejects other content for it).
verify_all() {
  local n=$1 who out i
  for who in ref ours; do
    out=$(fresh "$who" list "$GUN" 2>&1) || { echo "$who: $out"; return 1; }
    for ((i = 1; i <= n; i++)); do
      grep -qE "^t${i}[[:space:]]" <<<"$out" || { echo "$who: t$i missing:"; echo "$out"; return 1; }
    done
    fresh "$who" verify "$GUN" "t$n" <"$T/t$n" >"$T/verified" || { echo "$who: verify t$n failed"; return 1; }
    cmp -s "$T/verified" "$T/t$n" || { echo "$who: verify echoed other bytes"; return 1; }
    if fresh "$who" verify "$GUN" "t$n" <"$T/t0" >/dev/null 2>&1; then
      echo "$who: verify accepted the wrong content for t$n"
      return 1
    fi
    echo "$who: fresh client lists t1..t$n and verifies t$n"
  done
}

printf 'not a release\n' >"$T/t0"
for i in 1 2 3 4 5 6; do printf 'release %s of %s\n' "$i" "$GUN" >"$T/t$i"; done

# turn WHO N [PRE...]: optional PRE command through WHO, then add tN and
# publish through WHO; then verify_all N.
turn() {
  local who=$1 n=$2
  shift 2
  if (($# > 0)); then
    on "$who" "$@" || return 1
  fi
  on "$who" add "$GUN" "t$n" "$T/t$n" && on "$who" publish "$GUN" && verify_all "$n"
}

step_ref_init() {
  on ref init -p "$GUN" && turn ref 1
}
check "ref: init -p + publish t1; fresh clients verify via both servers" step_ref_init
check "ours: publish t2; fresh clients verify via both servers" turn ours 2
check "ref: key rotate snapshot -r + publish t3 (snapshot key from the shared signer)" \
  turn ref 3 key rotate "$GUN" snapshot -r
check "ours: publish t4, signing the snapshot with the key ref created" turn ours 4
check "ours: key rotate timestamp -r + publish t5" turn ours 5 key rotate "$GUN" timestamp -r
check "ref: publish t6, signing the timestamp with the key ours created" turn ref 6

# Both servers now serve byte-identical metadata from the one database.
step_same_bytes() {
  local role who
  for role in root targets snapshot timestamp; do
    for who in ref ours; do
      curl -fsS --max-time 5 --cacert "$ROOT_CA" -o "$T/$role.$who" \
        "https://localhost:${PORT[$who]}/v2/$GUN/_trust/tuf/$role.json" || return 1
    done
    cmp "$T/$role.ref" "$T/$role.ours" || { echo "$role.json differs between the servers"; return 1; }
    echo "$role.json identical ($(wc -c <"$T/$role.ref") bytes)"
  done
}
check "both servers serve identical root/targets/snapshot/timestamp" step_same_bytes

# Snapshot and timestamp are signed by the keys root names, which the one
# signer created for one server or the other.
step_signed_by_root_keys() {
  python3 - "$T" <<'PY'
import json, sys
d = sys.argv[1]
root = json.load(open(d + "/root.ref"))
for role in ("snapshot", "timestamp"):
    meta = json.load(open("%s/%s.ref" % (d, role)))
    want = set(root["signed"]["roles"][role]["keyids"])
    got = {s["keyid"] for s in meta["signatures"]}
    kinds = {root["signed"]["keys"][k]["keytype"] for k in want}
    print(role, "root keyids", sorted(want), kinds, "signature keyids", sorted(got))
    if not got or not got <= want or kinds != {"ecdsa"}:
        sys.exit("%s is not signed by the ecdsa key root names" % role)
PY
}
check "snapshot and timestamp are signed by root's (signer-held, ecdsa) keys" step_signed_by_root_keys

step_versions() {
  python3 - "$T" <<'PY'
import json, sys
d = sys.argv[1]
for role in ("root", "targets", "snapshot", "timestamp"):
    print(role, "version", json.load(open("%s/%s.ref" % (d, role)))["signed"]["version"])
v = {r: json.load(open("%s/%s.ref" % (d, r)))["signed"]["version"]
     for r in ("root", "targets", "snapshot", "timestamp")}
# Client-driven, so the same as in an all-reference fleet (measured): two
# root rotations on the first root; targets 8 (the client re-signs
# targets once more than it publishes targets).  Snapshot and timestamp
# are the servers': at least one new version per publish.
if v["root"] != 3 or v["targets"] != 8:
    sys.exit("want root v3 and targets v8, as the reference fleet ends with")
if v["snapshot"] < 7 or v["timestamp"] < 7:
    sys.exit("snapshot/timestamp missed a publish")
PY
}
check "version history matches an all-reference fleet: root v3, targets v8" step_versions

step_signer_served_both() {
  local n
  n=$(grep -c 'Sign: Signed' "$NOTARY_SIGNER_LOG")
  echo "$n signatures"
  signer_alive && ((n > 0))
}
check "the shared signer signed for both servers and is alive" step_signer_served_both

for who in ref ours; do
  use "$who"
  step_alive() { server_alive && curl -fsS --max-time 5 --cacert "$ROOT_CA" "$(health_url)"; }
  check "${NAME[$who]} still running and healthy" step_alive
done
# Stopped here, not inside check(): reaping must happen in this shell.
: >"$T/unclean"
for who in ref ours; do
  use "$who"
  stop_notary_server
  server_log_clean >>"$T/unclean" 2>&1 || echo "${NAME[$who]} log is not clean" >>"$T/unclean"
done
stop_notary_signer
signer_log_clean >>"$T/unclean" 2>&1 || echo "signer log is not clean" >>"$T/unclean"
step_logs() { cat "$T/unclean"; [[ ! -s $T/unclean ]]; }
check "server and signer logs have no sanitizer or GLib-CRITICAL reports" step_logs
mariadb_stop_registered "$T/mariadb"

done_testing
