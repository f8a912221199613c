#!/usr/bin/env bash
# make-reference-vectors.sh — regenerate tests/data/reference/ with the
# reference Go implementation (Debian notary 0.7.0: /usr/bin/notary and
# /usr/bin/notary-server).
#
# A throw-away notary-server (memory storage, local signer, plain HTTP on
# 127.0.0.1) is driven by the real client through init, two targets (one
# with an HTML-unsafe, non-ASCII name and custom data), a delegation, a
# delegated target and a rotation of the snapshot key to the server.  The
# metadata the client cached and the server serves is copied verbatim, so
# test-json can compare our canonical JSON writer with Go's byte for byte.
#
# The output differs on every run (fresh keys, signatures, expiry dates);
# only rerun it when the vectors need to change, then commit the result.
#
# Usage: tests/data/make-reference-vectors.sh [OUTDIR]
set -euo pipefail

OUT=${1:-$(cd "$(dirname "$0")" && pwd)/reference}
NOTARY=${NOTARY:-/usr/bin/notary}
NOTARY_SERVER=${NOTARY_SERVER:-/usr/bin/notary-server}
GUN=example.com/reference

T=$(mktemp -d)
SERVER_PID=
cleanup () {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

# Go writes "expires" in the local zone; pin UTC so test-json can check
# that formatting the parsed time reproduces each string exactly.
export TZ=UTC

# Keep the proxy settings of the caller away from 127.0.0.1 traffic.
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

# Pick a free port: try random ones until the server stays up.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  PORT=$((20000 + RANDOM % 20000))
  URL=http://127.0.0.1:$PORT
  cat > "$T/server.json" <<JSON
{
  "server": { "http_addr": "127.0.0.1:$PORT" },
  "trust_service": { "type": "local" },
  "storage": { "backend": "memory" },
  "logging": { "level": "error" }
}
JSON
  "$NOTARY_SERVER" -config "$T/server.json" > "$T/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do
    if curl -fsS "$URL/_notary_server/health" > /dev/null 2>&1; then break 2; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
done
if [ -z "$SERVER_PID" ]; then
  echo "notary-server did not start:" >&2; cat "$T/server.log" >&2; exit 1
fi

export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw \
       NOTARY_SNAPSHOT_PASSPHRASE=snappw NOTARY_DELEGATION_PASSPHRASE=delegpw
N () { "$NOTARY" -s "$URL" -d "$T/trust" "$@"; }
META=$T/trust/tuf/$GUN/metadata

printf 'payload\n' > "$T/f1"
printf 'other payload\n' > "$T/f2"
# Custom data: nested values, `_`/upper/lower-case key ordering, negative
# and zero integers, escaped quote/backslash and raw non-ASCII.  It must
# already be canonical: Go signs custom data as a json.RawMessage (copied,
# not re-sorted, HTML-escaped) while verification re-canonicalises it, so
# unsorted keys, other escapes or < > & would make the reference server
# reject the upload ("valid signatures did not meet threshold").
printf '%s' '{"A":[true,null,"x"],"_k":"é€","a":"\\\"q\"","b":{"x":0,"y":-7},"z":1}' > "$T/custom.json"

# 1. New repository, client-held snapshot key; two targets.
N init -p "$GUN" > /dev/null
N add "$GUN" v1 "$T/f1" > /dev/null
N add "$GUN" 'html<b>&é' "$T/f2" --custom "$T/custom.json" > /dev/null
N publish "$GUN" > "$T/out" || { cat "$T/out" >&2; exit 1; }
cp "$META/snapshot.json" "$T/snapshot-client.json"

# 2. Delegation targets/releases (ECDSA P-256 cert) and a delegated target.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$T/d.key" -out "$T/d.crt" -days 3650 -subj /CN=releases 2> /dev/null
N delegation add "$GUN" targets/releases "$T/d.crt" --all-paths > /dev/null
N publish "$GUN" > "$T/out" || { cat "$T/out" >&2; exit 1; }
N key import "$T/d.key" -r targets/releases > /dev/null
N add "$GUN" v2 "$T/f2" -r targets/releases > /dev/null
N publish "$GUN" > "$T/out" || { cat "$T/out" >&2; exit 1; }

# 3. Hand the snapshot key to the server so it signs snapshots too.
N key rotate "$GUN" snapshot -r > /dev/null
N add "$GUN" v3 "$T/f1" > /dev/null
N publish "$GUN" > "$T/out" || { cat "$T/out" >&2; exit 1; }

# Refresh the client cache, then take everything.
N list "$GUN" > /dev/null
mkdir -p "$OUT"
rm -f "$OUT"/*.json
cp "$META/root.json" "$OUT/root.json"
cp "$META/targets.json" "$OUT/targets.json"
cp "$META/targets/releases.json" "$OUT/targets-releases.json"
cp "$T/snapshot-client.json" "$OUT/snapshot-client.json"
P=$URL/v2/$GUN/_trust/tuf
curl -fsS -o "$OUT/snapshot.json" "$P/snapshot.json"
curl -fsS -o "$OUT/timestamp.json" "$P/timestamp.json"
# The served copies of client-uploaded files must be byte-identical.
for f in root targets; do
  curl -fsS "$P/$f.json" | cmp -s - "$OUT/$f.json" || { echo "served $f.json differs from client cache" >&2; exit 1; }
done
curl -fsS "$P/targets/releases.json" | cmp -s - "$OUT/targets-releases.json" \
  || { echo "served targets/releases.json differs" >&2; exit 1; }

chmod 644 "$OUT"/*.json
cat > "$OUT/README" <<TXT
Metadata produced by the reference Go implementation (Debian notary 0.7.0
client and notary-server, memory storage, local signer) for GUN $GUN,
generated by tests/data/make-reference-vectors.sh on $(date -u +%Y-%m-%d).
root/targets/targets-releases/snapshot-client: written by the client;
snapshot/timestamp: signed by the server after "key rotate snapshot -r".
The five files without "-client" form one consistent repository state.
TXT
ls -l "$OUT"
