#!/bin/bash
# make-reference-rows.sh [OUT] — regenerates reference-private-keys.json:
# rows of the `private_keys` table written by the REFERENCE notary-signer
# (/usr/bin/notary-signer, MySQL store, alias timestamp_1, passphrase
# "testpassword") on a private MariaDB (tests/lib/mariadb.sh).  Keys are
# created the way production creates them: the reference notary-server
# with a remote trust service answers GET .../timestamp.key and
# snapshot.key (ecdsa), then timestamp.key for a second GUN with
# key_algorithm ed25519.  Only 127.0.0.1 is used.
set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$here/reference-private-keys.json}
fx=$root/fixtures
source "$root/tests/lib/mariadb.sh"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  mariadb_destroy "$tmp/db"
  rm -rf "$tmp"
}
trap cleanup EXIT

mariadb_start "$tmp/db" >/dev/null
dsn=$(mariadb_load_signer "$tmp/db")
gport=$((21000 + RANDOM % 20000))
hport=$((gport + 1))

cat >"$tmp/signer.json" <<JSON
{"server":{"grpc_addr":"127.0.0.1:$gport","tls_cert_file":"$fx/notary-signer.crt",
 "tls_key_file":"$fx/notary-signer.key","client_ca_file":"$fx/notary-server.crt"},
 "storage":{"backend":"mysql","db_url":"$dsn","default_alias":"timestamp_1"}}
JSON
NOTARY_SIGNER_TIMESTAMP_1=testpassword /usr/bin/notary-signer -config "$tmp/signer.json" 2>"$tmp/signer.log" &
pids+=($!)

server() { # ALGORITHM
  cat >"$tmp/server.json" <<JSON
{"server":{"http_addr":"127.0.0.1:$hport"},
 "trust_service":{"type":"remote","hostname":"127.0.0.1","port":"$gport","tls_ca_file":"$fx/root-ca.crt",
  "key_algorithm":"$1","tls_client_cert":"$fx/notary-server.crt","tls_client_key":"$fx/notary-server.key"},
 "storage":{"backend":"memory"}}
JSON
  /usr/bin/notary-server -config "$tmp/server.json" 2>"$tmp/server.log" &
  spid=$!
  pids+=($spid)
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$hport/_notary_server/health" && break; sleep 0.1; done
}
key() { curl -sf "http://127.0.0.1:$hport/v2/$1/_trust/tuf/$2.key" >/dev/null; }

server ecdsa
key example.com/ref timestamp
key example.com/ref snapshot
kill "$spid"; wait "$spid" 2>/dev/null || true
server ed25519
key example.com/ref-ed timestamp

_mariadb_client "$tmp/db" -N -B -e "SELECT key_id, encryption_alg, keywrap_alg, algorithm, passphrase_alias,
  TO_BASE64(public), private, gun, role FROM notarysigner.private_keys ORDER BY id" | python3 -c '
import json, sys
names = ["key_id", "encryption_alg", "keywrap_alg", "algorithm", "passphrase_alias", "public", "private", "gun", "role"]
rows = [dict(zip(names, [v.replace("\\n", "") for v in l.rstrip("\n").split("\t")])) for l in sys.stdin]
assert len(rows) == 3, rows
print(json.dumps({"passphrase": "testpassword", "rows": rows}, indent=2))' >"$out"
echo "wrote $out" >&2
