#!/usr/bin/env bash
# End-to-end: notary-signer enforces mutual TLS itself, at the handshake.
# With server.client_ca_file = fixtures/notary-server.crt (leaf +
# intermediate, the reference's fixture layout) the signer must
#
#   - refuse a client that sends no certificate,
#   - refuse a certificate from an unrelated CA,
#   - refuse a certificate signed by the fixtures' root CA, which is NOT in
#     client_ca_file (the file is the only set of trust anchors),
#   - accept notary-server.crt, and speak HTTP/2 (its SETTINGS frame
#     arrives) only then,
#
# over TLS 1.2 and TLS 1.3 (openssl s_client), and report a refusal as a
# TLS alert as the reference does (bad_certificate).  Then a notary-server
# configured with a foreign client certificate cannot create keys, while
# one with the fixture certificate can.  Prints TAP.
#
#   NOTARY_BUILD_ROOT=build NOTARY_SERVER_BIN=build/core/notary-server \
#     bash tests/e2e/signer-mtls.sh
#   E2E_SIGNER_BIN=/usr/bin/notary-signer ...   (check the script against
#                                                the reference signer)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"
# shellcheck source=tests/lib/notary-signer.sh
source "$here/../lib/notary-signer.sh"

for tool in curl certtool openssl od python3; do
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

plan 14
# shellcheck disable=SC2034  # read by check() in tap.sh
TAP_ON_FAIL=on_fail
on_fail() { signer_log_diag 15; }

# ---------------------------------------------------------------- certificates

# gen_key NAME: ECDSA P-256 key in $T/NAME.key
gen_key() {
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
    --outfile "$T/$1.key" 2>/dev/null
}

# A client leaf that looks exactly like the fixture's notary-server
# certificate except for who issued it.
leaf_template() {
  cat <<'EOF'
country = "US"
state = "CA"
locality = "San Francisco"
organization = "Docker"
cn = "notary-server"
dns_name = "notary-server"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_client
tls_www_server
signing_key
encryption_key
expiration_days = 30
EOF
}

step_certs() {
  gen_key rogue-ca &&
    printf 'cn = "Rogue Testing CA"\norganization = "Docker"\nca\ncert_signing_key\nexpiration_days = 30\n' \
      >"$T/rogue-ca.tmpl" &&
    certtool --generate-self-signed --load-privkey "$T/rogue-ca.key" \
      --template "$T/rogue-ca.tmpl" --no-text --outfile "$T/rogue-ca.crt" 2>/dev/null &&
    leaf_template >"$T/leaf.tmpl" &&
    gen_key rogue &&
    certtool --generate-certificate --load-privkey "$T/rogue.key" \
      --load-ca-certificate "$T/rogue-ca.crt" --load-ca-privkey "$T/rogue-ca.key" \
      --template "$T/leaf.tmpl" --no-text --outfile "$T/rogue.crt" 2>/dev/null &&
    gen_key byroot &&
    certtool --generate-certificate --load-privkey "$T/byroot.key" \
      --load-ca-certificate "$FIXTURES_DIR/root-ca.crt" --load-ca-privkey "$FIXTURES_DIR/root-ca.key" \
      --template "$T/leaf.tmpl" --no-text --outfile "$T/byroot.crt" 2>/dev/null &&
    # Sanity: the root-signed one is valid for the fixtures' root, so only
    # client_ca_file's exclusiveness can make the signer refuse it.
    certtool --verify --load-ca-certificate "$FIXTURES_DIR/root-ca.crt" \
      --infile "$T/byroot.crt" >/dev/null 2>&1 &&
    ! certtool --verify --load-ca-certificate "$FIXTURES_DIR/root-ca.crt" \
      --infile "$T/rogue.crt" >/dev/null 2>&1
}
check "client certificates from a rogue CA and from the fixtures' root (certtool)" step_certs ||
  bail_out "cannot generate test certificates"

# ---------------------------------------------------------------- signer

SIGNER_PORT=$(free_port) || bail_out "no free port"
write_signer_config "$T/signer.json" "$SIGNER_PORT"
if start_notary_signer "$SIGNER_BIN" "$T/signer.json" "$T/signer.log" 2>"$T/signer.err"; then
  ok "signer ($SIGNER_BIN) listens on 127.0.0.1:$SIGNER_PORT with client_ca_file"
else
  not_ok "signer ($SIGNER_BIN) listens on 127.0.0.1:$SIGNER_PORT with client_ca_file"
  diag_file "$T/signer.err"
  signer_log_diag 20
  bail_out "signer did not start"
fi

# probe VERSION CLIENT: one TLS connection with openssl s_client (-tls1_2 /
# -tls1_3), verifying the signer against the fixtures' root; CLIENT is
# none, rogue, byroot or good.  Leaves the received application bytes in
# $T/probe.bin and s_client's messages in $T/probe.err; returns s_client's
# status.  stdin stays open one second so a server that accepted us has
# time to send its HTTP/2 SETTINGS frame.
probe() {
  local version=$1 client=$2 certargs=()
  case $client in
    none) ;;
    rogue | byroot) certargs=(-cert "$T/$client.crt" -key "$T/$client.key") ;;
    good) certargs=(-cert "$FIXTURES_DIR/notary-server.crt" -key "$FIXTURES_DIR/notary-server.key") ;;
  esac
  (sleep 1) | timeout -k 2 10 openssl s_client -connect "127.0.0.1:$SIGNER_PORT" \
    -servername notary-signer "$version" -alpn h2 -CAfile "$ROOT_CA" -verify_return_error \
    -quiet -no_ign_eof "${certargs[@]}" >"$T/probe.bin" 2>"$T/probe.err"
}

# The first bytes a gRPC server sends after the handshake: an HTTP/2 frame
# header of type SETTINGS (4) on stream 0.
got_settings() {
  local hex
  hex=$(od -An -tx1 -N9 "$T/probe.bin" | tr -d ' \n')
  [[ ${#hex} == 18 && ${hex:6:2} == 04 && ${hex:10:8} == 00000000 ]]
}

probe_diag() {
  echo "received $(wc -c <"$T/probe.bin") bytes: $(od -An -tx1 -N16 "$T/probe.bin")"
  grep -v '^depth=\|^verify return' "$T/probe.err"
}

ALERTS=$T/alerts
: >"$ALERTS"
expect_refused() {
  probe "$1" "$2"
  local rc=$?
  probe_diag
  echo "s_client exit $rc"
  if got_settings; then
    echo "the signer accepted the connection and spoke HTTP/2"
    return 1
  fi
  # A refusal the peer can diagnose is a TLS alert (the reference sends
  # bad_certificate); a bare reset or close only says "connection lost".
  if grep -qiE 'alert' "$T/probe.err"; then
    echo "$1 $2: alert" >>"$ALERTS"
  else
    echo "$1 $2: no TLS alert ($(grep -oiE 'errno=[0-9]+|[a-z_ ]*error[^:]*' "$T/probe.err" | head -n1))" >>"$ALERTS"
  fi
  return 0
}
expect_accepted() {
  probe "$1" "$2"
  local rc=$?
  probe_diag
  echo "s_client exit $rc"
  got_settings
}

for v in tls1_2 tls1_3; do
  check "$v: no client certificate is refused at the handshake" expect_refused "-$v" none
  check "$v: certificate from an unrelated CA is refused" expect_refused "-$v" rogue
  check "$v: certificate from the fixtures' root CA (not in client_ca_file) is refused" \
    expect_refused "-$v" byroot
  check "$v: notary-server.crt is accepted and the signer speaks HTTP/2" expect_accepted "-$v" good
done

step_alerts() {
  cat "$ALERTS"
  [[ -s $ALERTS ]] && ! grep -q 'no TLS alert' "$ALERTS"
}
check "every refusal is a TLS alert, not a bare connection reset" step_alerts

# ---------------------------------------------------------------- through a server

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
  NOTARY_SNAPSHOT_PASSPHRASE=snappw

# server_with_client_cert NAME CERT KEY: a server config whose
# trust_service client identity is CERT/KEY (empty: none).
server_with_client_cert() {
  local name=$1 cert=$2 key=$3 port
  port=$(free_port) || return 1
  E2E_TRUST_TYPE=remote E2E_SIGNER_PORT=$SIGNER_PORT write_server_config "$T/$name.json" "$port"
  python3 - "$T/$name.json" "$cert" "$key" <<'PY' || return 1
import json, sys
path, cert, key = sys.argv[1:]
cfg = json.load(open(path))
ts = cfg["trust_service"]
if cert:
    ts["tls_client_cert"], ts["tls_client_key"] = cert, key
else:
    del ts["tls_client_cert"], ts["tls_client_key"]
json.dump(cfg, open(path, "w"), indent=2)
PY
  start_server_unhealthy "$T/$name.json" "$T/$name.log" "$port"
}

cli() {
  timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "https://localhost:$NOTARY_SERVER_PORT" \
    --tlscacert "$ROOT_CA" -d "$T/trust-$1" "${@:2}"
}

# Servers are started here, not inside check(): check runs its command in
# a subshell, and the exit trap must know every PID.
if server_with_client_cert rogue-server "$T/rogue.crt" "$T/rogue.key" 2>"$T/rogue-server.err"; then
  step_server_rogue() {
    local out
    if out=$(cli rogue init -p "example.com/mtls/rogue-$$" 2>&1); then
      echo "init succeeded with a rogue client certificate: $out"
      return 1
    fi
    echo "$out"
    grep -qE 'unable to reach trust server at this time: 5[0-9][0-9]\.' <<<"$out"
  }
  check "a server presenting a rogue-CA client certificate cannot create keys (init fails with 5xx)" \
    step_server_rogue
else
  not_ok "a server presenting a rogue-CA client certificate cannot create keys (init fails with 5xx)"
  diag_file "$T/rogue-server.err"
  server_log_diag 20
fi
stop_notary_server

if server_with_client_cert good-server "$FIXTURES_DIR/notary-server.crt" \
  "$FIXTURES_DIR/notary-server.key" 2>"$T/good-server.err"; then
  step_server_good() {
    local gun=example.com/mtls/good-$$
    cli good init -p "$gun" && cli good list "$gun"
  }
  check "a server presenting notary-server.crt initialises and publishes a repository" step_server_good
else
  not_ok "a server presenting notary-server.crt initialises and publishes a repository"
  diag_file "$T/good-server.err"
  server_log_diag 20
fi
stop_notary_server

step_signer_alive() {
  signer_alive && port_open "$SIGNER_PORT" && signer_log_clean
}
check "signer still running after the refused clients, log clean" step_signer_alive

done_testing
