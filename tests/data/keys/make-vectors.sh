#!/usr/bin/env bash
# Regenerates the test vectors used by tests/test-keys.c.  All keys here are
# throw-away test keys; nothing in this directory protects anything.
#
#   go/       metadata written by the reference Go notary client 0.7.0 and
#             notary-server 0.7.0 (memory storage, local trust service, plain
#             HTTP on 127.0.0.1): root.json (ecdsa-x509 root key), targets.json
#             and snapshot.json (ecdsa keys), timestamp.json (ed25519, signed by
#             the server).  <role>.signed holds the canonical bytes of the
#             "signed" member — for Go-written files that is the raw text of the
#             member, cut out below and re-checked against a canonical re-encoding.
#             root-canonical-id is the name the client gave the root private key
#             file (= canonical key ID of the root key); targets-key.pkcs8.der is
#             the targets private key as notary stores it (PKCS#8 version 1),
#             decrypted.
#   openssl/  signatures made by OpenSSL over msg.bin: RSA-PSS (salt 32) and
#             PKCS#1 v1.5 with SHA-256 (2048-bit key), ECDSA P-384/SHA-256
#             converted to raw r||s, and RSA-PSS with a 1024-bit key (must be
#             refused).  *-spki.der are the public keys.
#   certs/    certificates for the root-certificate checks, made with certtool
#             (leaf-rsa2048.spki.der: that leaf's public key as OpenSSL exports it;
#             leaf-rsa2048.pss.sig: OpenSSL RSA-PSS signature of openssl/msg.bin by it).
#             The tests evaluate them at a fixed "now" of 2025-06-01T00:00:00Z.
#
# Usage: tests/data/keys/make-vectors.sh [go|openssl|certs|all]   (default all)
# Needs: notary, notary-server (Debian package), certtool, openssl, python3.
set -euo pipefail
export TZ=UTC LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
WHAT=${1:-all}
TMP=$(mktemp -d)
SERVER_PID=
cleanup () {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- Go reference client/server ---------------------------------------------
make_go () {
  local out=$HERE/go
  mkdir -p "$out"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$TMP/server.json" <<EOF
{"server":{"http_addr":"127.0.0.1:$port"},"trust_service":{"type":"local"},
 "storage":{"backend":"memory"},"logging":{"level":"error"}}
EOF
  notary-server -config "$TMP/server.json" > "$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
         NOTARY_SNAPSHOT_PASSPHRASE=snappw NOTARY_DELEGATION_PASSPHRASE=delegpw
  local gun=example.com/keys-vec
  N () { notary -s "http://127.0.0.1:$port" -d "$TMP/trust" "$@"; }
  N init -p "$gun" >/dev/null
  echo payload > "$TMP/f1"
  N add "$gun" v1 "$TMP/f1" >/dev/null
  N publish "$gun" >/dev/null

  local role
  for role in root targets snapshot timestamp; do
    # Served bytes are exactly what the client (or server) wrote.
    curl -fsS "http://127.0.0.1:$port/v2/$gun/_trust/tuf/$role.json" -o "$out/$role.json"
  done
  python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
for role in ("root", "targets", "snapshot", "timestamp"):
    text = open(f"{out}/{role}.json", encoding="utf-8").read()
    prefix = '{"signed":'
    assert text.startswith(prefix), role
    obj, end = json.JSONDecoder().raw_decode(text, len(prefix))
    raw = text[len(prefix):end]
    # Go wrote canonical JSON here; make sure (no HTML escapes, sorted keys).
    canon = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert raw == canon, f"{role}: signed member is not canonical"
    open(f"{out}/{role}.signed", "wb").write(raw.encode("utf-8"))
EOF

  # The client names the root private key file by the canonical key ID.
  local f
  for f in "$TMP"/trust/private/*.key; do
    if grep -q '^role: root' "$f"; then basename "$f" .key | tr -d '\n' > "$out/root-canonical-id"; fi
    if grep -q '^role: targets$' "$f"; then
      # openssl drops notary's PKCS#8 (version 1) wrapper; re-wrap the SEC1
      # key exactly as notary does so the quirk is covered.
      grep -v '^role:\|^gun:' "$f" | sed '/^$/d' \
        | openssl pkcs8 -passin pass:targetspw -outform DER -out "$TMP/sec1.der"
      python3 - "$TMP/sec1.der" "$out/targets-key.pkcs8.der" <<'EOF'
import sys
def tlv(t, b):
    n = len(b)
    l = bytes([n]) if n < 128 else (bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 255]))
    return bytes([t]) + l + b
sec1 = open(sys.argv[1], "rb").read()
alg = tlv(0x30, bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06082a8648ce3d030107"))
open(sys.argv[2], "wb").write(tlv(0x30, tlv(2, b"\x01") + alg + tlv(4, sec1)))
EOF
    fi
  done
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# ---- OpenSSL-made signatures ------------------------------------------------
make_openssl () {
  local out=$HERE/openssl
  mkdir -p "$out"
  printf 'notary-c test message\n' > "$out/msg.bin"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.key" 2>/dev/null
  openssl pkey -in "$TMP/rsa.key" -pubout -outform DER -out "$out/rsa2048-spki.der"
  openssl dgst -sha256 -sign "$TMP/rsa.key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -out "$out/rsa2048-pss.sig" "$out/msg.bin"
  openssl dgst -sha256 -sign "$TMP/rsa.key" -out "$out/rsa2048-pkcs1.sig" "$out/msg.bin"
  # A PSS signature with a different salt length must not verify.
  openssl dgst -sha256 -sign "$TMP/rsa.key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 \
    -out "$out/rsa2048-pss-salt20.sig" "$out/msg.bin"

  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$TMP/rsa1024.key" 2>/dev/null
  openssl pkey -in "$TMP/rsa1024.key" -pubout -outform DER -out "$out/rsa1024-spki.der"
  openssl dgst -sha256 -sign "$TMP/rsa1024.key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -out "$out/rsa1024-pss.sig" "$out/msg.bin"

  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp384r1 -out "$TMP/p384.key" 2>/dev/null
  openssl pkey -in "$TMP/p384.key" -pubout -outform DER -out "$out/p384-spki.der"
  openssl dgst -sha256 -sign "$TMP/p384.key" -out "$TMP/p384.der.sig" "$out/msg.bin"
  python3 - "$TMP/p384.der.sig" "$out/p384.sig" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
def read_int(d, i):
    assert d[i] == 2
    n = d[i + 1]
    return int.from_bytes(d[i + 2:i + 2 + n], "big"), i + 2 + n
assert d[0] == 0x30
i = 3 if d[1] & 0x80 else 2
r, i = read_int(d, i)
s, i = read_int(d, i)
open(sys.argv[2], "wb").write(r.to_bytes(48, "big") + s.to_bytes(48, "big"))
EOF
}

# ---- certificates -----------------------------------------------------------
# cert NAME KEY SUBJECT-CN NOT-BEFORE NOT-AFTER [ca] [SIGNER-NAME] [HASH]
cert () {
  local name=$1 key=$2 cn=$3 nb=$4 na=$5 ca=${6:-}
  local signer=${7:-} hash=${8:-SHA256}
  local tmpl=$TMP/$name.tmpl
  {
    echo "cn = \"$cn\""
    echo "serial = $((RANDOM * 1000 + RANDOM))"
    echo "activation_date = \"$nb\""
    echo "expiration_date = \"$na\""
    if [ "$ca" = ca ]; then
      echo "ca"
      echo "cert_signing_key"
    else
      echo "signing_key"
      echo "encryption_key"
      echo "code_signing_key"
    fi
  } > "$tmpl"
  if [ -z "$signer" ]; then
    certtool --generate-self-signed --load-privkey "$TMP/$key.key" --template "$tmpl" \
      --hash "$hash" --outfile "$TMP/$name.pem" 2>/dev/null
  else
    certtool --generate-certificate --load-privkey "$TMP/$key.key" \
      --load-ca-certificate "$TMP/$signer.pem" --load-ca-privkey "$TMP/$signer.key" \
      --template "$tmpl" --hash "$hash" --outfile "$TMP/$name.pem" 2>/dev/null
  fi
  # Keep only the PEM block (certtool prepends a text dump).
  sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$TMP/$name.pem" > "$TMP/$name.crt"
}

make_certs () {
  local out=$HERE/certs
  mkdir -p "$out"
  local gun=example.com/keys-test
  local k
  for k in ec1 ec2 ec3 ec4 ec5 ec6 ec7 ec8 ec9 ec10 ca1 int1 int2; do
    certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$TMP/$k.key" 2>/dev/null
  done
  certtool --generate-privkey --key-type rsa --bits 2048 --outfile "$TMP/rsa2048.key" 2>/dev/null
  certtool --generate-privkey --key-type rsa --bits 1024 --outfile "$TMP/rsa1024.key" 2>/dev/null
  # certtool wants the signer's key under <name>.key next to <name>.pem.
  cp "$TMP/ca1.key" "$TMP/ca.key"; cp "$TMP/int1.key" "$TMP/int.key"; cp "$TMP/int2.key" "$TMP/int-expired.key"

  cert leaf-good ec1 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59"
  cert leaf-rsa2048 rsa2048 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59"
  cert leaf-rsa1024 rsa1024 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59"
  cert leaf-expired ec2 "$gun" "2000-01-01 00:00:00" "2010-01-01 00:00:00"
  cert leaf-future ec3 "$gun" "2025-06-03 00:00:00" "2099-12-31 23:59:59"   # now + 48h
  cert leaf-soon ec4 "$gun" "2025-06-01 12:00:00" "2099-12-31 23:59:59"     # now + 12h
  cert leaf-sha1 ec5 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59" "" "" SHA1
  cert leaf-wildcard ec6 "example.com/*" "2020-01-01 00:00:00" "2099-12-31 23:59:59"
  cert leaf-other-cn ec7 "example.com/other" "2020-01-01 00:00:00" "2099-12-31 23:59:59"
  cert ca ca1 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59" ca
  cert int int1 "Test Intermediate" "2020-01-01 00:00:00" "2099-12-31 23:59:59" ca ca
  cert int-expired int2 "Expired Intermediate" "2000-01-01 00:00:00" "2010-01-01 00:00:00" ca ca
  cert leaf-chained ec8 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59" "" int
  cert leaf-chained2 ec9 "$gun" "2020-01-01 00:00:00" "2099-12-31 23:59:59" "" int-expired

  local c
  for c in leaf-good leaf-rsa2048 leaf-rsa1024 leaf-expired leaf-future leaf-soon leaf-sha1 \
           leaf-wildcard leaf-other-cn ca; do
    cp "$TMP/$c.crt" "$out/$c.pem"
  done
  # Independent SPKI extraction for the canonical-ID check of an rsa-x509 key.
  openssl x509 -in "$out/leaf-rsa2048.pem" -pubkey -noout | openssl pkey -pubin -outform DER \
    -out "$out/leaf-rsa2048.spki.der"
  # An RSA-PSS signature by that leaf's key over openssl/msg.bin (rsa-x509 verification).
  openssl dgst -sha256 -sign "$TMP/rsa2048.key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -out "$out/leaf-rsa2048.pss.sig" "$HERE/openssl/msg.bin"
  cat "$TMP/leaf-chained.crt" "$TMP/int.crt" > "$out/chain-good.pem"
  cat "$TMP/int.crt" "$TMP/leaf-chained.crt" > "$out/chain-leaf-not-first.pem"
  cat "$TMP/leaf-chained2.crt" "$TMP/int-expired.crt" > "$out/chain-expired-int.pem"
  cat "$TMP/leaf-chained2.crt" > "$out/chain-expired-int-leaf.pem"
  cat "$TMP/leaf-good.crt" "$TMP/leaf-rsa2048.crt" > "$out/chain-two-leaves.pem"
  { cat "$TMP/leaf-good.crt"; certtool --load-privkey "$TMP/ec1.key" --pubkey-info 2>/dev/null \
      | sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p'; } > "$out/chain-with-pubkey.pem"
}

case "$WHAT" in
  go) make_go ;;
  openssl) make_openssl ;;
  certs) make_certs ;;
  all) make_go; make_openssl; make_certs ;;
  *) echo "usage: $0 [go|openssl|certs|all]" >&2; exit 2 ;;
esac
