#!/usr/bin/env bash
# End-to-end: the reference notary-server (/usr/bin/notary-server, Debian
# 0.7.0) and ours share one MariaDB database (tests/lib/mariadb.sh, schema
# and user from data/).  Repositories published through either server are
# read and verified through the other by fresh client trust dirs, the raw
# metadata both serve is byte-identical, both report the same changefeed,
# and a deletion through one is seen by the other.  Prints TAP.
#
# Each server keeps the keys of its local signer in memory, so a server can
# only sign timestamps (and server-managed snapshots) of repositories it
# created itself: writes go to the creating server, reads are crossed.
#
#   NOTARY_SERVER_BIN=build/core/notary-server \
#   NOTARY_PLUGIN_PATH=build/plugins bash tests/e2e/mysql-cross-compat.sh
#
# NOTARY_REFERENCE_SERVER_BIN (default /usr/bin/notary-server) names the
# reference; without it the script skips.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"
# shellcheck source=tests/lib/mariadb.sh
source "$here/../lib/mariadb.sh"

REF_BIN=${NOTARY_REFERENCE_SERVER_BIN:-/usr/bin/notary-server}
OUR_BIN=$NOTARY_SERVER_BIN

for tool in curl certtool python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
[[ -x $REF_BIN ]] || skip_all "reference server $REF_BIN not installed (Debian package notary-server)"
[[ -x $OUR_BIN ]] || bail_out "server binary $OUR_BIN is not executable"

e2e_init
mariadb_e2e_setup
DB=$MARIADB_E2E_DIR
T=$E2E_TMP
diag "MariaDB at $E2E_DB_URL; reference $REF_BIN, ours $OUR_BIN"

# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() {
  local who
  for who in REF OURS; do
    local pid_var=${who}_PID log_var=${who}_LOG
    if kill -0 "${!pid_var}" 2>/dev/null; then
      diag "$who server log, last 6 lines:"
    else
      diag "$who server is NOT running; log, last 6 lines:"
    fi
    diag_file "${!log_var}" 6
  done
}

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw NOTARY_DELEGATION_PASSPHRASE=delegpw

GUN_R=example.com/cross/by-reference-$$
GUN_O=example.com/cross/by-ours-$$
for i in 1 2 3 4 5 6; do printf 'cross payload %s\n' "$i" >"$T/f$i"; done
printf 'tampered\n' >"$T/bad"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
# cli URL TRUSTDIR ARGS: the client, bounded.
cli() {
  local url=$1 dir=$2
  shift 2
  timeout -k 5 "$E2E_CMD_TIMEOUT" \
    "$NOTARY_CLIENT_BIN" -s "$url" --tlscacert "$ROOT_CA" -d "$dir" "$@"
}
# Writers: one trust dir per publishing server.  Readers: fresh trust dirs
# that only ever talk to the *other* server.
RW() { cli "$URL_REF" "$T/trust-ref" "$@"; }
OW() { cli "$URL_OURS" "$T/trust-ours" "$@"; }
R_VIA_OURS() { cli "$URL_OURS" "$T/fresh-ours" "$@"; }
O_VIA_REF() { cli "$URL_REF" "$T/fresh-ref" "$@"; }

expect_listed() {
  local line
  line=$(grep -E "^$2[[:space:]]" "$1") || { echo "$2 not listed:"; cat "$1"; return 1; }
  if [[ -n ${3:-} ]] && ! grep -qE "[[:space:]]$3[[:space:]]*\$" <<<"$line"; then
    echo "$2 not in role $3: $line"
    return 1
  fi
}

make_delegation_key() {
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
    --outfile "$T/$1.key" 2>/dev/null || return 1
  printf 'cn = "%s"\nexpiration_days = 30\nsigning_key\n' "$1" >"$T/$1.tmpl"
  certtool --generate-self-signed --load-privkey "$T/$1.key" --template "$T/$1.tmpl" \
    --no-text --outfile "$T/$1.crt" 2>/dev/null
}

# publish_repo W GUN A B C: W is a writer function.  init + publish, target
# A, server-managed snapshot, target B, delegation targets/releases with
# target C.
publish_repo() {
  local w=$1 gun=$2 key=deleg-$1
  $w init "$gun" && $w add "$gun" "$3" "$T/f1" && $w publish "$gun" &&
    $w key rotate "$gun" snapshot -r &&
    $w add "$gun" "$4" "$T/f2" && $w publish "$gun" &&
    make_delegation_key "$key" &&
    $w delegation add "$gun" targets/releases "$T/$key.crt" --all-paths &&
    $w key import "$T/$key.key" -r targets/releases &&
    $w add "$gun" "$5" "$T/f3" -r targets/releases && $w publish "$gun" &&
    $w list "$gun"
}

# read_repo R GUN A B C: a fresh reader lists and verifies what publish_repo
# wrote, and rejects tampered content.
read_repo() {
  local r=$1 gun=$2
  $r list "$gun" >"$T/list.$r" || return 1
  cat "$T/list.$r"
  expect_listed "$T/list.$r" "$3" targets && expect_listed "$T/list.$r" "$4" targets &&
    expect_listed "$T/list.$r" "$5" targets/releases &&
    $r verify "$gun" "$3" <"$T/f1" | cmp - "$T/f1" &&
    $r verify "$gun" "$5" <"$T/f3" | cmp - "$T/f3" &&
    ! $r verify "$gun" "$4" <"$T/bad" >/dev/null 2>&1 &&
    $r delegation list "$gun" | grep 'targets/releases' >/dev/null
}

# same_bytes GUN PATH...: every path under /v2/GUN/_trust/tuf/ is served
# identically (status and body) by both servers.
same_bytes() {
  local gun=$1 p a b
  shift
  for p in "$@"; do
    a=$(curl -sS --max-time 10 --cacert "$ROOT_CA" -w '%{http_code}' -o "$T/a" \
      "$URL_REF/v2/$gun/_trust/tuf/$p") || return 1
    b=$(curl -sS --max-time 10 --cacert "$ROOT_CA" -w '%{http_code}' -o "$T/b" \
      "$URL_OURS/v2/$gun/_trust/tuf/$p") || return 1
    echo "$p: reference $a, ours $b"
    [[ $a == 200 && $b == 200 ]] && cmp "$T/a" "$T/b" || return 1
  done
}

# sha_of_meta GUN ROLE: sha256 of ROLE as listed in the current snapshot.
snapshot_hash_of() {
  curl -fsS --max-time 10 --cacert "$ROOT_CA" "$URL_OURS/v2/$1/_trust/tuf/snapshot.json" |
    python3 -c 'import base64, json, sys
m = json.load(sys.stdin)["signed"]["meta"][sys.argv[1]]["hashes"]["sha256"]
print(base64.b64decode(m).hex())' "$2"
}

# first_version GUN ROLE: the oldest stored version of ROLE.
first_version() {
  mariadb_sql "$DB" -e "SELECT MIN(version) FROM tuf_files WHERE gun = '$1' AND role = '$2'"
}

# ---------------------------------------------------------------- set-up

check "fixtures are present and fresh" "$FIXTURES_DIR/ensure-fresh.sh" ||
  bail_out "no usable TLS fixtures"

P_REF=$(free_port) || bail_out "no free port"
P_OURS=$(free_port) || bail_out "no free port"
URL_REF=https://localhost:$P_REF
URL_OURS=https://localhost:$P_OURS
# The reference takes the go-sql-driver DSN as is; so does ours.
write_server_config "$T/ref.json" "$P_REF"
write_server_config "$T/ours.json" "$P_OURS"

start_both() {
  NOTARY_SERVER_BIN=$REF_BIN start_notary_server "$T/ref.json" "$T/ref.log" "$P_REF" || return 1
  REF_PID=$NOTARY_SERVER_PID
  NOTARY_SERVER_BIN=$OUR_BIN start_notary_server "$T/ours.json" "$T/ours.log" "$P_OURS" || return 1
  OURS_PID=$NOTARY_SERVER_PID
}
REF_PID=''
OURS_PID=''
# shellcheck disable=SC2034  # read indirectly by on_fail
REF_LOG=$T/ref.log
OURS_LOG=$T/ours.log
if start_both 2>"$T/start.err"; then
  ok "reference and our server both run on storage mysql, one database"
else
  not_ok "reference and our server both run on storage mysql, one database"
  diag_file "$T/start.err"
  on_fail
  bail_out "servers did not start"
fi

# ---------------------------------------------------------------- reference → ours

check "reference server: init, targets, server snapshot, delegation for $GUN_R" \
  publish_repo RW "$GUN_R" r1 r2 r3
check "our server serves $GUN_R to a fresh client: list + verify + delegations" \
  read_repo R_VIA_OURS "$GUN_R" r1 r2 r3

step_bytes_r() {
  local sn tv sv
  sn=$(snapshot_hash_of "$GUN_R" targets) || return 1
  tv=$(first_version "$GUN_R" targets) && sv=$(first_version "$GUN_R" snapshot) || return 1
  echo "oldest targets version $tv, oldest snapshot version $sv"
  same_bytes "$GUN_R" root.json targets.json snapshot.json timestamp.json \
    targets/releases.json 1.root.json "$sv.snapshot.json" "$tv.targets.json" "targets.$sn.json"
}
check "both servers serve $GUN_R's metadata byte for byte (current, by version, by hash)" step_bytes_r

step_follow_update() {
  # The reader keeps its trust dir: it must accept the next versions, made
  # by the reference, through our server.
  RW add "$GUN_R" r4 "$T/f4" && RW publish "$GUN_R" &&
    R_VIA_OURS list "$GUN_R" >"$T/l.follow" && cat "$T/l.follow" &&
    expect_listed "$T/l.follow" r4 targets &&
    R_VIA_OURS verify "$GUN_R" r4 <"$T/f4" | cmp - "$T/f4"
}
check "a reader of our server follows the reference's next publish of $GUN_R" step_follow_update

# ---------------------------------------------------------------- ours → reference

check "our server: init, targets, server snapshot, delegation for $GUN_O" \
  publish_repo OW "$GUN_O" o1 o2 o3
check "reference server serves $GUN_O to a fresh client: list + verify + delegations" \
  read_repo O_VIA_REF "$GUN_O" o1 o2 o3

step_bytes_o() {
  local sn tv sv
  sn=$(snapshot_hash_of "$GUN_O" targets) || return 1
  tv=$(first_version "$GUN_O" targets) && sv=$(first_version "$GUN_O" snapshot) || return 1
  echo "oldest targets version $tv, oldest snapshot version $sv"
  same_bytes "$GUN_O" root.json targets.json snapshot.json timestamp.json \
    targets/releases.json 1.root.json "$sv.snapshot.json" "$tv.targets.json" "targets.$sn.json"
}
check "both servers serve $GUN_O's metadata byte for byte (current, by version, by hash)" step_bytes_o

step_follow_update_o() {
  OW add "$GUN_O" o4 "$T/f5" && OW publish "$GUN_O" &&
    O_VIA_REF list "$GUN_O" >"$T/l.follow2" && cat "$T/l.follow2" &&
    expect_listed "$T/l.follow2" o4 targets
}
check "a reader of the reference follows our next publish of $GUN_O" step_follow_update_o

# ---------------------------------------------------------------- changefeed

# changefeed_of URL: the global changefeed without CreatedAt (its textual
# form may differ in fractional seconds), one record per line.
changefeed_of() {
  curl -fsS --max-time 10 --cacert "$ROOT_CA" "$1/v2/_trust/changefeed?change_id=0&records=1000" |
    python3 -c 'import json, sys
feed = json.load(sys.stdin)
recs = feed["records"] or []
assert feed["count"] == len(recs), "count %r but %d records" % (feed["count"], len(recs))
for r in recs:
    print(r["ID"], r["GUN"], r["Version"], r["SHA256"], r["Category"])'
}

step_changefeed() {
  changefeed_of "$URL_REF" >"$T/cf.ref" && changefeed_of "$URL_OURS" >"$T/cf.ours" || return 1
  cat "$T/cf.ours"
  diff "$T/cf.ref" "$T/cf.ours" || return 1
  # Every timestamp either server stored is in it, in order, once.
  [[ $(grep -c " $GUN_R " "$T/cf.ours") == $(mariadb_sql "$DB" -e \
    "SELECT COUNT(*) FROM tuf_files WHERE gun = '$GUN_R' AND role = 'timestamp'") ]] &&
    [[ $(grep -c " $GUN_O " "$T/cf.ours") == $(mariadb_sql "$DB" -e \
      "SELECT COUNT(*) FROM tuf_files WHERE gun = '$GUN_O' AND role = 'timestamp'") ]]
}
check "both servers report the same changefeed, one update per stored timestamp" step_changefeed

# ---------------------------------------------------------------- deletion

http_status() {
  curl -s -o /dev/null --max-time 10 --cacert "$ROOT_CA" -w '%{http_code}' "$1"
}

step_delete_o_via_ref() {
  # A trust dir of the reference deletes the repository our server made.
  O_VIA_REF delete "$GUN_O" --remote || return 1
  local a b
  a=$(http_status "$URL_OURS/v2/$GUN_O/_trust/tuf/root.json")
  b=$(http_status "$URL_REF/v2/$GUN_O/_trust/tuf/timestamp.json")
  echo "after deletion: ours root.json $a, reference timestamp.json $b"
  [[ $a == 404 && $b == 404 ]] &&
    curl -fsS --max-time 10 --cacert "$ROOT_CA" \
      "$URL_OURS/v2/$GUN_O/_trust/changefeed?change_id=-1&records=1" |
    python3 -c 'import json, sys
r = json.load(sys.stdin)["records"][-1]
print(r)
assert r["Category"] == "deletion" and r["Version"] == 0 and r["SHA256"] == "", r'
}
check "delete --remote through the reference: our server answers 404 and lists the deletion" \
  step_delete_o_via_ref

step_delete_r_via_ours() {
  R_VIA_OURS delete "$GUN_R" --remote || return 1
  local a
  a=$(http_status "$URL_REF/v2/$GUN_R/_trust/tuf/root.json")
  echo "after deletion through ours: reference root.json $a"
  [[ $a == 404 ]] &&
    [[ $(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM tuf_files") == 0 ]]
}
check "delete --remote through ours: the reference answers 404, no rows left" step_delete_r_via_ours

step_recreate() {
  # A deleted GUN starts again from version 1, made by our server and read
  # through the reference.
  OW init -p "$GUN_R" && OW add "$GUN_R" again "$T/f6" && OW publish "$GUN_R" &&
    O_VIA_REF list "$GUN_R" >"$T/l.again" && cat "$T/l.again" &&
    expect_listed "$T/l.again" again targets &&
    [[ $(mariadb_sql "$DB" -e "SELECT MIN(version) FROM tuf_files WHERE gun = '$GUN_R'
        AND role = 'root'") == 1 ]]
}
check "the deleted GUN is created again from version 1 and read across" step_recreate

# ---------------------------------------------------------------- wrap-up

step_alive() {
  kill -0 "$REF_PID" && kill -0 "$OURS_PID" &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" "$URL_REF/_notary_server/health" &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" "$URL_OURS/_notary_server/health"
}
check "both servers are still running and healthy" step_alive

NOTARY_SERVER_PID=$OURS_PID NOTARY_SERVER_LOG=$OURS_LOG
stop_notary_server
diag "our server's exit status after SIGTERM: $NOTARY_SERVER_EXIT"
check "our server's log has no sanitizer or GLib-CRITICAL reports" server_log_clean
done_testing
