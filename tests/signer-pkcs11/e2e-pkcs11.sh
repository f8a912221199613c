#!/usr/bin/env bash
# End-to-end: our notary-server with `trust_service.type: pkcs11` (keys in a
# private SoftHSM2 token) and memory storage, driven by the real `notary`
# CLI 0.7.0.  Prints TAP.
#
#   NOTARY_SERVER_BIN=build/core/notary-server NOTARY_PLUGIN_PATH=build/plugins \
#     bash tests/signer-pkcs11/e2e-pkcs11.sh
#
# Covers: start-up errors (wrong PIN, unknown token) name the CKR and never
# print the PIN; init -p / add / publish / list with an ECDSA timestamp key
# held in the token (labelled "notary <gun> timestamp <keyid>", CKA_ID =
# key ID); key rotate timestamp -r; a restart (memory storage is lost, the
# token keeps every key); RSA and Ed25519 timestamp keys, each verified by
# the Go client.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"

SOFTHSM_MODULE=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
  if [[ -e $m ]]; then
    SOFTHSM_MODULE=$m
    break
  fi
done
[[ -n $SOFTHSM_MODULE ]] || skip_all "SoftHSM2 module not installed (Debian package softhsm2)"
for tool in softhsm2-util curl python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
[[ -x $NOTARY_SERVER_BIN ]] || bail_out "server binary $NOTARY_SERVER_BIN is not executable"

e2e_init
T=$E2E_TMP
# SoftHSM's own leaks must not fail a sanitizer build (see lsan.supp).
case ${LSAN_OPTIONS:-} in
  *lsan.supp*) ;;
  *) export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/lsan.supp ;;
esac
# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() {
  server_log_diag 30
  [[ ! -e $T/hung ]] || bail_out "notary-server stopped answering"
}

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw NOTARY_DELEGATION_PASSPHRASE=delegpw

PIN=1234
FILE_PIN=pin-from-file-not-used
GUN=example.com/pkcs11/app-$$
GUN_RSA=example.com/pkcs11/rsa-$$
GUN_ED=example.com/pkcs11/ed-$$
printf 'payload one\n' >"$T/f1"
printf 'payload two\n' >"$T/f2"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
N() {
  local rc
  timeout -k 5 "$E2E_CMD_TIMEOUT" \
    "$NOTARY_CLIENT_BIN" -s "$URL" --tlscacert "$ROOT_CA" -d "$T/trust" "$@"
  rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "notary $* timed out after ${E2E_CMD_TIMEOUT}s" >&2
    : >"$T/hung"
  fi
  return "$rc"
}

# key_id_of GUN ROLE: the TUF key ID of the server's current ROLE key
# (hex SHA-256 of the canonical key object, as the client computes it).
key_id_of() {
  curl -fsS --max-time 10 --cacert "$ROOT_CA" "$URL/v2/$1/_trust/tuf/$2.key" | python3 -c '
import hashlib, json, sys
k = json.load(sys.stdin)
canon = json.dumps({"keytype": k["keytype"], "keyval": {"private": None, "public": k["keyval"]["public"]}},
                   separators=(",", ":"), sort_keys=True)
print(k["keytype"], hashlib.sha256(canon.encode()).hexdigest())'
}

# token_labels: the CKA_LABELs of the token's objects, one a line, read
# with GnuTLS's p11tool (callers skip those checks when it is missing).
token_labels() {
  GNUTLS_PIN=$PIN p11tool --provider "$SOFTHSM_MODULE" --login --list-all "pkcs11:token=notary-test" 2>/dev/null |
    sed -n 's/^[[:space:]]*Label: //p'
}
have_p11tool() { command -v p11tool >/dev/null 2>&1; }

# ---------------------------------------------------------------- set-up

check "fixtures are present and fresh (fixtures/ensure-fresh.sh)" "$FIXTURES_DIR/ensure-fresh.sh" ||
  bail_out "no usable TLS fixtures"

mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
check "private SoftHSM2 token 'notary-test' initialised" \
  softhsm2-util --init-token --free --label notary-test --pin "$PIN" --so-pin 5678 ||
  bail_out "cannot create the SoftHSM2 token"

PORT=$(free_port) || bail_out "no free port"
URL=https://localhost:$PORT
CONFIG=$T/server-config.json
# The PIN in the file is wrong on purpose: the environment override
# (NOTARY_SERVER_TRUST_SERVICE_PIN) must win, as for every config leaf.
write_config() {
  local label=$1 algo=$2
  cat >"$CONFIG" <<EOF
{
  "server": {
    "http_addr": "127.0.0.1:$PORT",
    "tls_cert_file": "$FIXTURES_DIR/notary-server.crt",
    "tls_key_file": "$FIXTURES_DIR/notary-server.key"
  },
  "trust_service": {
    "type": "pkcs11",
    "module": "$SOFTHSM_MODULE",
    "token_label": "$label",
    "pin": "$FILE_PIN",
    "key_algorithm": "$algo"
  },
  "storage": { "backend": "memory" },
  "logging": { "level": "debug" }
}
EOF
}

# ---------------------------------------------------------------- start-up errors

# expect_start_failure DESC PATTERN: the server must exit non-zero during
# start-up, say PATTERN, and never print a PIN.
expect_start_failure() {
  local log=$T/fail-$TAP_COUNT.log rc
  (cd "$T" && timeout -k 5 30 "$NOTARY_SERVER_BIN" -config="$CONFIG") >"$log" 2>&1
  rc=$?
  cat "$log"
  echo "exit $rc"
  ((rc != 0 && rc != 124)) || return 1
  grep -q -- "$1" "$log" || { echo "no '$1' in the output"; return 1; }
  ! grep -q -e "$FILE_PIN" -e "wrong-pin-9876" "$log"
}

write_config notary-test ecdsa
step_bad_pin() { NOTARY_SERVER_TRUST_SERVICE_PIN=wrong-pin-9876 expect_start_failure CKR_PIN_INCORRECT; }
check "a wrong PIN stops start-up with CKR_PIN_INCORRECT and is never printed" step_bad_pin

write_config no-such-token ecdsa
step_no_token() { NOTARY_SERVER_TRUST_SERVICE_PIN=$PIN expect_start_failure "no token 'no-such-token'"; }
check "an unknown token label stops start-up with a clear message" step_no_token

# ---------------------------------------------------------------- ECDSA keys in the token

export NOTARY_SERVER_TRUST_SERVICE_PIN=$PIN
write_config notary-test ecdsa
start_server() {
  local log=$T/server-$1.log
  if start_notary_server "$CONFIG" "$log" "$PORT" 2>"$T/start.err"; then
    ok "server starts with trust_service pkcs11 ($1) and /_notary_server/health answers"
  else
    not_ok "server starts with trust_service pkcs11 ($1) and /_notary_server/health answers"
    diag_file "$T/start.err"
    server_log_diag 40
    bail_out "server did not start"
  fi
}
start_server ecdsa

step_health_log() {
  curl -fsS --max-time 5 --cacert "$ROOT_CA" "$URL/_notary_server/health" &&
    grep "using PKCS#11 token 'notary-test'" "$NOTARY_SERVER_LOG"
}
check "health is 200 and the log names the token" step_health_log

step_init() { N init -p "$GUN" && N list "$GUN"; }
check "init -p $GUN (timestamp key created in the token)" step_init

step_ts_key_in_token() {
  local kt id
  read -r kt id < <(key_id_of "$GUN" timestamp) || return 1
  echo "timestamp key: $kt $id"
  [[ $kt == ecdsa ]] || return 1
  echo "$id" >"$T/ts-id-1"
  if ! have_p11tool; then
    echo "(p11tool missing: label not checked)"
    return 0
  fi
  token_labels | tee "$T/labels" | grep -Fx "notary $GUN timestamp $id"
}
check "timestamp.key is ecdsa and the token holds it labelled with its key ID" step_ts_key_in_token

step_add_publish_list() {
  N add "$GUN" v1 "$T/f1" && N publish "$GUN" && N list "$GUN" >"$T/l1" && cat "$T/l1" &&
    grep -qE '^v1[[:space:]]' "$T/l1"
}
check "add + publish + list (timestamp signed by the token, verified by the client)" step_add_publish_list

step_rotate() {
  local kt id old
  N key rotate "$GUN" timestamp -r || return 1
  read -r kt id < <(key_id_of "$GUN" timestamp) || return 1
  old=$(cat "$T/ts-id-1")
  echo "rotated: $old -> $kt $id"
  [[ $kt == ecdsa && $id != "$old" ]] || return 1
  echo "$id" >"$T/ts-id-2"
}
check "key rotate $GUN timestamp -r gives a new token key" step_rotate

step_publish_after_rotate() {
  N add "$GUN" v2 "$T/f2" && N publish "$GUN" && N list "$GUN" >"$T/l2" && cat "$T/l2" &&
    grep -qE '^v1[[:space:]]' "$T/l2" && grep -qE '^v2[[:space:]]' "$T/l2"
}
check "publish + list after the rotation" step_publish_after_rotate

# ---------------------------------------------------------------- restart

stop_notary_server
step_clean_exit() { ((NOTARY_SERVER_EXIT == 0)) && server_log_clean; }
check "server exits 0 on SIGTERM with a clean log" step_clean_exit

write_config notary-test rsa
start_server "restart, rsa"

step_token_kept_keys() {
  local id
  if ! have_p11tool; then
    echo "p11tool (gnutls-bin) missing"
    return 0
  fi
  token_labels >"$T/labels-after" || return 1
  cat "$T/labels-after"
  for id in "$(cat "$T/ts-id-1")" "$(cat "$T/ts-id-2")"; do
    # public and private halves
    [[ $(grep -cFx "notary $GUN timestamp $id" "$T/labels-after") == 2 ]] || return 1
  done
}
if have_p11tool; then
  check "after the restart the token still holds both timestamp key pairs of $GUN" step_token_kept_keys
else
  skip "after the restart the token still holds both timestamp key pairs" "p11tool (gnutls-bin) not installed"
fi

step_rsa_repo() {
  local kt id
  N init -p "$GUN_RSA" || return 1
  read -r kt id < <(key_id_of "$GUN_RSA" timestamp) || return 1
  echo "timestamp key: $kt $id"
  [[ $kt == rsa ]] && N add "$GUN_RSA" v1 "$T/f1" && N publish "$GUN_RSA" && N list "$GUN_RSA" | grep -qE '^v1[[:space:]]'
}
check "RSA-PSS timestamp key (key_algorithm rsa): init -p, add, publish, list" step_rsa_repo

stop_notary_server
write_config notary-test ed25519
start_server "restart, ed25519"

step_ed_repo() {
  local kt id
  N init -p "$GUN_ED" || return 1
  read -r kt id < <(key_id_of "$GUN_ED" timestamp) || return 1
  echo "timestamp key: $kt $id"
  [[ $kt == ed25519 ]] && N add "$GUN_ED" v1 "$T/f1" && N publish "$GUN_ED" && N list "$GUN_ED" | grep -qE '^v1[[:space:]]'
}
check "Ed25519 timestamp key (CKM_EDDSA): init -p, add, publish, list" step_ed_repo

step_no_pin_in_logs() {
  ! grep -l -e "$FILE_PIN" -e "\"$PIN\"" -e "pin=$PIN" "$T"/server-*.log
}
check "no server log contains the PIN" step_no_pin_in_logs

stop_notary_server
step_clean_exit2() { ((NOTARY_SERVER_EXIT == 0)) && server_log_clean; }
check "server exits 0 on SIGTERM with a clean log (ed25519 run)" step_clean_exit2

done_testing
