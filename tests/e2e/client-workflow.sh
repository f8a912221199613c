#!/usr/bin/env bash
# End-to-end: drive the official `notary` CLI (0.7.0) against a notary-server
# over TLS through every workflow of spec/client-usage.md §5.  Prints TAP.
#
#   NOTARY_SERVER_BIN=build/core/notary-server bash tests/e2e/client-workflow.sh
#
# Without NOTARY_SERVER_BIN the reference /usr/bin/notary-server is used, so
# the script itself can be validated against the original.  The server runs
# on a free 127.0.0.1 port with memory storage and the local signer; the CLI
# reaches it as https://localhost:PORT (the host must match a SAN of
# fixtures/notary-server.crt) trusting only fixtures/root-ca.crt.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"

for tool in curl certtool sha256sum python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
[[ -x $NOTARY_SERVER_BIN ]] || bail_out "server binary $NOTARY_SERVER_BIN is not executable"

e2e_init
# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() {
  server_log_diag 30
  # Later steps build on earlier ones; with a dead or hung server they would
  # only pile up timeouts, so stop here.
  server_alive || bail_out "notary-server is no longer running"
  [[ ! -e $T/hung ]] || bail_out "notary-server stopped answering"
}

T=$E2E_TMP
export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw NOTARY_DELEGATION_PASSPHRASE=delegpw

GUN=example.com/e2e/app-$$
GUN2=example.com/e2e/other-$$
GUN_UNKNOWN=example.com/e2e/never-$$

printf 'payload one\n' >"$T/f1"
printf 'tampered payload\n' >"$T/f2"
printf 'release three\n' >"$T/f3"
printf 'custom four\n' >"$T/f4"
printf 'nightly five\n' >"$T/f5"

# Bound every CLI call: the client has connect/handshake timeouts but none
# for a server that accepts and then never answers.
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
cli() {
  local dir=$1 rc
  shift
  timeout -k 5 "$E2E_CMD_TIMEOUT" \
    "$NOTARY_CLIENT_BIN" -s "$URL" --tlscacert "$ROOT_CA" -d "$dir" "$@"
  rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "notary $* timed out after ${E2E_CMD_TIMEOUT}s" >&2
    : >"$T/hung"
  fi
  return "$rc"
}
# N ARGS: the main trust dir; F ARGS: a second, empty one (TOFU); G ARGS: a
# third that never saw anything (after deletion the others may still answer
# from their local cache, which is client behaviour).
N() { cli "$T/trust" "$@"; }
F() { cli "$T/fresh" "$@"; }
G() { cli "$T/never" "$@"; }
# O ARGS: a reader that trusts the first root and is next seen after root
# rotations, so it must walk the chain of roots (n.root.json by version).
O() { cli "$T/old" "$@"; }

sha256_of() { sha256sum <"$1" | cut -c1-64; }
size_of() { wc -c <"$1" | tr -d ' '; }

# expect_unknown CLI GUN: reading GUN must fail with "does not have trust data".
expect_unknown() {
  local out
  if out=$("$1" list "$2" 2>&1); then
    echo "list $2 unexpectedly succeeded: $out"
    return 1
  fi
  echo "$out"
  grep -q 'does not have trust data' <<<"$out"
}

# expect_listed FILE NAME [ROLE]: FILE (output of list) has NAME, in ROLE if given.
expect_listed() {
  local line
  line=$(grep -E "^$2[[:space:]]" "$1") || { echo "$2 not listed:"; cat "$1"; return 1; }
  if [[ -n ${3:-} ]] && ! grep -qE "[[:space:]]$3[[:space:]]*\$" <<<"$line"; then
    echo "$2 not in role $3: $line"
    return 1
  fi
}

# make_delegation_key NAME: ECDSA P-256 key + self-signed cert in $T/NAME.{key,crt}
make_delegation_key() {
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
    --outfile "$T/$1.key" 2>/dev/null || return 1
  printf 'cn = "%s"\nexpiration_days = 30\nsigning_key\n' "$1" >"$T/$1.tmpl"
  certtool --generate-self-signed --load-privkey "$T/$1.key" --template "$T/$1.tmpl" \
    --no-text --outfile "$T/$1.crt" 2>/dev/null
}

# ---------------------------------------------------------------- set-up

step_fixtures() { "$FIXTURES_DIR/ensure-fresh.sh"; }
check "fixtures are present and fresh (fixtures/ensure-fresh.sh)" step_fixtures ||
  bail_out "no usable TLS fixtures"

PORT=$(free_port) || bail_out "no free port"
URL=https://localhost:$PORT
write_server_config "$T/server-config.json" "$PORT"
LOG=$T/server.log

if start_notary_server "$T/server-config.json" "$LOG" "$PORT" 2>"$T/start.err"; then
  ok "server ($NOTARY_SERVER_BIN) starts and /_notary_server/health answers over TLS"
else
  not_ok "server ($NOTARY_SERVER_BIN) starts and /_notary_server/health answers over TLS"
  diag_file "$T/start.err"
  server_log_diag 40
  bail_out "server did not start"
fi

# ---------------------------------------------------------------- transport

step_ping() {
  curl -fsS --max-time 5 --cacert "$ROOT_CA" "$URL/v2/" &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" "$URL/_notary_server/health"
}
check "GET /v2/ (client ping) and health answer 200 via https://localhost" step_ping

step_tls_untrusted() {
  # Trusting only an unrelated CA, the handshake must fail with curl's
  # "peer certificate cannot be authenticated" (60), not with some other error.
  local rc
  make_delegation_key stranger || return 1
  curl -sS --max-time 5 --cacert "$T/stranger.crt" "$URL/v2/"
  rc=$?
  echo "curl exit $rc"
  ((rc == 60))
}
check "TLS chain is rejected without fixtures/root-ca.crt" step_tls_untrusted

step_unknown() { expect_unknown N "$GUN_UNKNOWN"; }
check "list of an unknown GUN reports 'does not have trust data'" step_unknown

# ---------------------------------------------------------------- repositories

step_init_then_publish() {
  N init "$GUN" && N publish "$GUN" && N list "$GUN"
}
check "init (no -p) then publish creates $GUN" step_init_then_publish

step_init_p() { N init -p "$GUN2" && N list "$GUN2"; }
check "init -p creates a second GUN $GUN2" step_init_p

step_add_publish() { N add "$GUN" v1 "$T/f1" && N publish "$GUN"; }
check "add v1 + publish" step_add_publish

step_publish_empty() { N publish "$GUN"; }
check "publish with nothing staged succeeds" step_publish_empty

step_list() { N list "$GUN" >"$T/l0" && cat "$T/l0" && expect_listed "$T/l0" v1 targets; }
check "list shows v1 in targets" step_list

step_old_reader_first_root() {
  O list "$GUN" >"$T/o0" && expect_listed "$T/o0" v1 targets &&
    cp "$T/old/tuf/$GUN/metadata/root.json" "$T/old-root-first.json"
}
check "a second reader trusts the first root (TOFU)" step_old_reader_first_root

step_lookup() {
  N lookup "$GUN" v1 >"$T/l1" && cat "$T/l1" &&
    grep -q "^v1 sha256:$(sha256_of "$T/f1") $(size_of "$T/f1")\$" "$T/l1"
}
check "lookup v1 prints its sha256 and size" step_lookup

step_verify() { N verify "$GUN" v1 <"$T/f1" >"$T/v1.out" && cmp "$T/v1.out" "$T/f1"; }
check "verify v1 with the right payload echoes it" step_verify

step_verify_tampered() {
  local out
  if out=$(N verify "$GUN" v1 <"$T/f2" 2>&1); then
    echo "verify accepted tampered content: $out"
    return 1
  fi
  echo "$out"
  grep -q 'did not match' <<<"$out"
}
check "verify v1 with tampered payload fails (checksum did not match)" step_verify_tampered

step_other_gun_isolated() {
  N list "$GUN2" >"$T/l2" 2>&1 || return 1
  cat "$T/l2"
  ! grep -qE '^v1[[:space:]]' "$T/l2"
}
check "targets of $GUN do not leak into $GUN2" step_other_gun_isolated

# ---------------------------------------------------------------- key rotation

step_rotate_snapshot() { N key rotate "$GUN" snapshot -r; }
check "key rotate snapshot -r (server-managed snapshot)" step_rotate_snapshot

step_rotate_timestamp() { N key rotate "$GUN" timestamp -r; }
check "key rotate timestamp -r" step_rotate_timestamp

step_publish_after_rotation() {
  N add "$GUN" v2 "$T/f1" && N publish "$GUN" &&
    N list "$GUN" >"$T/l3" && cat "$T/l3" && expect_listed "$T/l3" v2 targets
}
check "add v2 + publish after rotations (server signs snapshot)" step_publish_after_rotation

# The server-signed snapshot and timestamp must be signed by exactly the
# key IDs the (rotated) root lists for those roles.
step_server_signatures() {
  local base=$URL/v2/$GUN/_trust/tuf
  curl -fsS --max-time 5 --cacert "$ROOT_CA" -o "$T/root.json" "$base/root.json" &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" -o "$T/snapshot.json" "$base/snapshot.json" &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" -o "$T/timestamp.json" "$base/timestamp.json" &&
    python3 - "$T" <<'PY'
import json, sys
d = sys.argv[1]
root = json.load(open(d + "/root.json"))
for role in ("snapshot", "timestamp"):
    meta = json.load(open("%s/%s.json" % (d, role)))
    want = set(root["signed"]["roles"][role]["keyids"])
    got = {s["keyid"] for s in meta["signatures"]}
    print(role, "root keyids", sorted(want), "signature keyids", sorted(got))
    if not got or not got <= want:
        sys.exit("%s is not signed by the key root names" % role)
PY
}
check "snapshot and timestamp are signed by the keys named in root" step_server_signatures

step_rotate_targets() {
  N key rotate "$GUN" targets && N list "$GUN" >"$T/l4" && expect_listed "$T/l4" v2 targets
}
check "key rotate targets (client-held) keeps the repository readable" step_rotate_targets

# The client asks before rotating root; it reads the answer from stdin.
step_rotate_root() {
  printf 'yes\n' | N key rotate "$GUN" root &&
    printf 'yes\n' | N key rotate "$GUN" root --legacy 1 &&
    N add "$GUN" r1 "$T/f1" && N publish "$GUN" &&
    N list "$GUN" >"$T/lr" && expect_listed "$T/lr" r1 targets
}
check "key rotate root twice (the second also signed with the older root) + publish" step_rotate_root

# The old reader still trusts the first root, which every rotation since
# (snapshot, timestamp, targets, root twice) has superseded: the client
# fetches the versions in between (n.root.json) and checks each against the
# one before.
step_old_reader_follows() {
  local cached=$T/old/tuf/$GUN/metadata/root.json
  O list "$GUN" >"$T/o1" && cat "$T/o1" && expect_listed "$T/o1" r1 targets || return 1
  curl -fsS --max-time 5 --cacert "$ROOT_CA" -o "$T/root-now.json" "$URL/v2/$GUN/_trust/tuf/root.json" &&
    cmp "$cached" "$T/root-now.json" &&
    python3 - "$T/old-root-first.json" "$cached" <<'PY'
import json, sys
first, now = (json.load(open(f)) for f in sys.argv[1:3])
v0, v = first["signed"]["version"], now["signed"]["version"]
print("the old reader trusted root version", v0, "and now trusts", v,
      "with", len(now["signatures"]), "signatures")
if v < v0 + 2:
    sys.exit("want at least the two root rotations walked")
PY
}
check "the old reader walks the rotated roots to the current one" step_old_reader_follows

# ---------------------------------------------------------------- delegations

step_delegation_add() {
  make_delegation_key releases &&
    N delegation add "$GUN" targets/releases "$T/releases.crt" --all-paths &&
    N publish "$GUN"
}
check "delegation add targets/releases --all-paths + publish" step_delegation_add

step_delegation_list() {
  N delegation list "$GUN" >"$T/dl" && cat "$T/dl" && grep -q 'targets/releases' "$T/dl"
}
check "delegation list shows targets/releases" step_delegation_list

step_delegated_target() {
  N key import "$T/releases.key" -r targets/releases &&
    N add "$GUN" v3 "$T/f3" -r targets/releases && N publish "$GUN" &&
    N list "$GUN" >"$T/l5" && cat "$T/l5" && expect_listed "$T/l5" v3 targets/releases
}
check "key import + add -r targets/releases + publish" step_delegated_target

step_custom_delegation() {
  make_delegation_key custom &&
    N delegation add "$GUN" targets/custom "$T/custom.crt" --paths=custom/ &&
    N publish "$GUN" &&
    N key import "$T/custom.key" -r targets/custom &&
    N add "$GUN" custom/c4 "$T/f4" -r targets/custom && N publish "$GUN" &&
    N list "$GUN" >"$T/l6" && cat "$T/l6" && expect_listed "$T/l6" custom/c4 targets/custom
}
check "path-restricted delegation targets/custom + delegated target + publish" step_custom_delegation

step_nested_delegation() {
  make_delegation_key nightly &&
    N delegation add "$GUN" targets/releases/nightly "$T/nightly.crt" --all-paths &&
    N publish "$GUN" &&
    N key import "$T/nightly.key" -r targets/releases/nightly &&
    N add "$GUN" n5 "$T/f5" -r targets/releases/nightly && N publish "$GUN" &&
    N list "$GUN" >"$T/l7" && cat "$T/l7" && expect_listed "$T/l7" n5 targets/releases/nightly
}
check "nested delegation targets/releases/nightly + delegated target + publish" step_nested_delegation

step_witness() {
  local before after
  before=$(curl -fsS --max-time 5 --cacert "$ROOT_CA" \
    "$URL/v2/$GUN/_trust/tuf/targets/releases.json" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["signed"]["version"])') || return 1
  N witness "$GUN" targets/releases && N publish "$GUN" || return 1
  after=$(curl -fsS --max-time 5 --cacert "$ROOT_CA" \
    "$URL/v2/$GUN/_trust/tuf/targets/releases.json" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["signed"]["version"])') || return 1
  echo "targets/releases version $before -> $after"
  ((after == before + 1))
}
check "witness targets/releases + publish bumps its version" step_witness

# A whole delegation removed: the client asks first and reads the answer
# from stdin; after the publish neither the role nor its target is listed.
step_delegation_remove() {
  make_delegation_key old &&
    N delegation add "$GUN" targets/old "$T/old.crt" --paths=old/ && N publish "$GUN" &&
    N key import "$T/old.key" -r targets/old &&
    N add "$GUN" old/o6 "$T/f1" -r targets/old && N publish "$GUN" &&
    N list "$GUN" >"$T/l9" && expect_listed "$T/l9" old/o6 targets/old || return 1
  printf 'y\n' | N delegation remove "$GUN" targets/old && N publish "$GUN" &&
    N delegation list "$GUN" >"$T/dl2" && cat "$T/dl2" && ! grep -q 'targets/old' "$T/dl2" &&
    N list "$GUN" >"$T/l10" && cat "$T/l10" && ! grep -qE '^old/o6[[:space:]]' "$T/l10"
}
check "delegation remove targets/old + publish drops the role and its target" step_delegation_remove

step_remove() {
  N remove "$GUN" v1 && N publish "$GUN" &&
    N list "$GUN" >"$T/l8" && cat "$T/l8" && ! grep -qE '^v1[[:space:]]' "$T/l8"
}
check "remove v1 + publish" step_remove

# ---------------------------------------------------------------- fresh client

step_fresh_list() {
  F list "$GUN" >"$T/lf" && cat "$T/lf" &&
    expect_listed "$T/lf" v2 targets &&
    expect_listed "$T/lf" v3 targets/releases &&
    expect_listed "$T/lf" custom/c4 targets/custom &&
    expect_listed "$T/lf" n5 targets/releases/nightly &&
    ! grep -qE '^v1[[:space:]]' "$T/lf"
}
check "empty trust dir lists the same state (TOFU, full chain download)" step_fresh_list

step_fresh_verify() {
  F verify "$GUN" v3 <"$T/f3" >"$T/v3.out" && cmp "$T/v3.out" "$T/f3" &&
    F verify "$GUN" custom/c4 <"$T/f4" >"$T/v4.out" && cmp "$T/v4.out" "$T/f4" &&
    ! F verify "$GUN" v2 <"$T/f2" >/dev/null 2>&1
}
check "empty trust dir verifies delegated targets and rejects tampering" step_fresh_verify

step_fresh_delegations() {
  F delegation list "$GUN" >"$T/dlf" && cat "$T/dlf" &&
    grep -q 'targets/releases' "$T/dlf" && grep -q 'targets/custom' "$T/dlf"
}
check "empty trust dir sees the delegations" step_fresh_delegations

step_fresh_second_gun() { F list "$GUN2"; }
check "empty trust dir reads the second GUN" step_fresh_second_gun

# ---------------------------------------------------------------- deletion

step_delete() { N delete "$GUN" --remote; }
check "delete --remote" step_delete

step_deleted_unknown() {
  expect_unknown N "$GUN" && expect_unknown G "$GUN" &&
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$ROOT_CA" \
      "$URL/v2/$GUN/_trust/tuf/root.json") == 404 ]]
}
check "deleted GUN is unknown again (root.json 404)" step_deleted_unknown

step_other_survives() { G list "$GUN2" && N list "$GUN2"; }
check "deleting $GUN leaves $GUN2 intact" step_other_survives

step_still_alive() {
  server_alive && curl -fsS --max-time 5 --cacert "$ROOT_CA" "$(health_url)"
}
check "server is still running and healthy" step_still_alive

stop_notary_server
diag "server exit status after SIGTERM: $NOTARY_SERVER_EXIT"
step_log_clean() { server_log_clean; }
check "server log has no sanitizer or GLib-CRITICAL reports" step_log_clean
done_testing
