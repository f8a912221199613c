#!/usr/bin/env bash
# End-to-end: token authentication (auth.type "token", server-api.md §7)
# with the real `notary` client and a token service (token-server.py) that
# signs RS256 tokens with tests/data/auth/leaf-rsa under int-ca, which the
# server trusts through tests/data/auth/bundle.pem.  Prints TAP.
#
#   NOTARY_SERVER_BIN=build/core/notary-server bash tests/e2e/token-auth.sh
#
# Users of the token service: "writer" may do anything (`*`), "reader" only
# pull; anonymous callers get pull.  The client sends NOTARY_AUTH
# (base64 "user:password") to the token service as Basic credentials.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1 ||
  skip_all "notary client ($NOTARY_CLIENT_BIN) not installed (Debian package notary)"
python3 -c 'import cryptography' 2>/dev/null || skip_all "python3-cryptography not installed"
[[ -x $NOTARY_SERVER_BIN ]] || bail_out "server binary $NOTARY_SERVER_BIN is not executable"

e2e_init
T=$E2E_TMP
AUTH_DATA=$NOTARY_SOURCE_ROOT/tests/data/auth
export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw NOTARY_SNAPSHOT_PASSPHRASE=snappw
GUN=example.com/e2e/auth-$$
printf 'authorised payload\n' >"$T/f1"
printf 'second payload\n' >"$T/f2"

# ---------------------------------------------------------------- set-up

TOKEN_PORT=$(free_port) || bail_out "no free port"
python3 "$here/token-server.py" --port "$TOKEN_PORT" \
  --cert "$FIXTURES_DIR/notary-server.crt" --key "$FIXTURES_DIR/notary-server.key" \
  --signer-key "$AUTH_DATA/leaf-rsa.key" --chain "$AUTH_DATA/leaf-rsa.pem" --chain "$AUTH_DATA/int-ca.pem" \
  --issuer e2e-token-issuer --user 'writer:writerpw:*' --user 'reader:readerpw:pull' \
  --log "$T/token.log" >"$T/token.out" 2>&1 &
E2E_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
  grep -q 'token service listening' "$T/token.out" 2>/dev/null && break
  sleep 0.1
done
((i < 100)) || { diag_file "$T/token.out" 10; bail_out "the token service did not start"; }

PORT=$(free_port) || bail_out "no free port"
URL=https://localhost:$PORT
write_server_config "$T/base.json" "$PORT"
python3 - "$T/base.json" "$T/server-config.json" "https://localhost:$TOKEN_PORT/auth" \
  "$AUTH_DATA/bundle.pem" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"] = {"type": "token", "options": {"realm": sys.argv[3], "service": "notary-server",
                                          "issuer": "e2e-token-issuer", "rootcertbundle": sys.argv[4]}}
json.dump(c, open(sys.argv[2], "w"), indent=1)
EOF
if start_notary_server "$T/server-config.json" "$T/server.log" "$PORT" 2>"$T/start.err"; then
  ok "server with token auth starts (health needs no token)"
else
  not_ok "server with token auth starts"
  diag_file "$T/start.err"
  bail_out "server did not start"
fi

# as USER ARGS: the client with NOTARY_AUTH for USER:PASSWORD ("-" for none),
# stdin closed so that a prompt cannot wait.  Its trust directory is the
# user's own unless TRUST_OF names another user's (keys are local; the
# token only decides what the server lets through).
as() {
  local who=$1 dir
  shift
  dir=$T/trust-${TRUST_OF:-${who%%:*}}
  if [[ $who == - ]]; then
    (unset NOTARY_AUTH; timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "$URL" --tlscacert "$ROOT_CA" -d "$dir" "$@" </dev/null)
  else
    NOTARY_AUTH=$(printf '%s' "$who" | base64) timeout -k 5 60 \
      "$NOTARY_CLIENT_BIN" -s "$URL" --tlscacert "$ROOT_CA" -d "$dir" "$@" </dev/null
  fi
}

# ---------------------------------------------------------------- the challenge

step_challenge() {
  local headers=$T/challenge.h code
  code=$(curl -sS --max-time 5 --cacert "$ROOT_CA" -D "$headers" -o "$T/challenge.body" -w '%{http_code}' \
    "$URL/v2/$GUN/_trust/tuf/root.json") || return 1
  cat "$headers" "$T/challenge.body"
  [[ $code == 401 ]] &&
    grep -qi "^www-authenticate: Bearer realm=\"https://localhost:$TOKEN_PORT/auth\",service=\"notary-server\",scope=\"repository:$GUN:pull\"" "$headers" &&
    grep -q '"code":"UNAUTHORIZED"' "$T/challenge.body"
}
check "no token: 401 with the Bearer challenge naming realm, service and scope" step_challenge

# ---------------------------------------------------------------- the client

step_writer_publishes() {
  as writer:writerpw init -p "$GUN" && as writer:writerpw add "$GUN" v1 "$T/f1" &&
    as writer:writerpw publish "$GUN" && as writer:writerpw list "$GUN" >"$T/l1" &&
    cat "$T/l1" && grep -qE '^v1[[:space:]]' "$T/l1"
}
check "writer: init -p, add, publish and list with tokens from the token service" step_writer_publishes

step_token_service_used() {
  cat "$T/token.log"
  grep -q "^user=writer scopes=.*repository:$GUN:push,pull" "$T/token.log" &&
    grep -q "granted=.*\"name\": \"$GUN\"" "$T/token.log"
}
check "the token service was asked for repository:$GUN:push,pull" step_token_service_used

step_anonymous_reads() { as - list "$GUN" >"$T/l2" && cat "$T/l2" && grep -qE '^v1[[:space:]]' "$T/l2"; }
check "anonymous: list works with a pull-only token" step_anonymous_reads

# The reader holds the writer's keys (the writer's trust directory), so
# nothing stops the publish but the token.
step_reader_cannot_push() {
  local out
  as reader:readerpw list "$GUN" >/dev/null || { echo "reader cannot even list"; return 1; }
  TRUST_OF=writer as reader:readerpw add "$GUN" v2 "$T/f2" || return 1
  if out=$(TRUST_OF=writer as reader:readerpw publish "$GUN" 2>&1); then
    echo "a pull-only token published: $out"
    return 1
  fi
  echo "$out"
  grep -q 'not authorized' <<<"$out" || return 1
  as writer:writerpw list "$GUN" >"$T/l3" && ! grep -qE '^v2[[:space:]]' "$T/l3" &&
    as writer:writerpw reset "$GUN" --all # drop the staged v2
}
check "reader: publish refused (not authorized), the repository unchanged" step_reader_cannot_push

step_bad_password() {
  local out
  if out=$(as writer:wrong publish "$GUN" 2>&1); then
    echo "published with a wrong password: $out"
    return 1
  fi
  echo "$out"
  grep -q 'user=writer refused: bad credentials' "$T/token.log"
}
check "a wrong password: the token service refuses, so does the publish" step_bad_password

step_writer_deletes() {
  local code
  as writer:writerpw delete "$GUN" --remote || return 1
  code=$(curl -sS --max-time 5 --cacert "$ROOT_CA" -o /dev/null -w '%{http_code}' \
    "$URL/v2/$GUN/_trust/tuf/root.json")
  [[ $code == 401 ]] # still guarded; what is left is checked with a token below
}
check "writer: delete --remote (needs the * action)" step_writer_deletes

# A trust directory that never saw the GUN (the others keep a cached copy).
step_deleted() {
  local out
  if out=$(TRUST_OF=never as - list "$GUN" 2>&1); then
    echo "still listed: $out"
    return 1
  fi
  echo "$out"
  grep -q 'does not have trust data' <<<"$out"
}
check "after delete --remote the GUN has no trust data" step_deleted

step_log_clean() { server_log_clean; }
check "server log has no error-level lines" step_log_clean

done_testing
