#!/usr/bin/env bash
# End-to-end: notary-server's command line, start-up, logs, debug listener,
# env overrides and signals, on the built binary.  Prints TAP.
#
#   NOTARY_SERVER_BIN=build/core/notary-server bash tests/e2e/server-cli.sh
#
# Checks what the reference gets wrong on purpose (config-and-ops.md §11):
# every log line is in the -logf format from the very first one, and a
# map-valued env override is a clear error naming the variable.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
[[ -x $NOTARY_SERVER_BIN ]] || bail_out "server binary $NOTARY_SERVER_BIN is not executable"
e2e_init
T=$E2E_TMP

# Every line of FILE must parse in FORMAT (json|logfmt) with level, msg, time.
log_lines_parse() {
  python3 - "$1" "$2" <<'EOF'
import json, re, sys
fmt, path = sys.argv[1], sys.argv[2]
pair = re.compile(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')
lines = open(path, encoding="utf-8").read().splitlines()
if not lines:
    sys.exit("no log lines")
for n, line in enumerate(lines, 1):
    if fmt == "json":
        rec = json.loads(line)
        if list(rec) != sorted(rec):
            sys.exit(f"line {n}: keys not sorted: {line}")
    else:
        if line.startswith("{"):
            sys.exit(f"line {n} is JSON under logfmt: {line}")
        pos, rec = 0, {}
        while pos < len(line):
            m = pair.match(line, pos)
            if not m:
                sys.exit(f"line {n} is not logfmt at {pos}: {line}")
            rec[m.group(1)] = m.group(2)
            pos = m.end()
    for key in ("level", "msg", "time"):
        if key not in rec:
            sys.exit(f"line {n} lacks {key}: {line}")
print(len(lines))
EOF
}

wait_for_line() { # FILE PATTERN TENTHS
  local i
  for ((i = 0; i < $3; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# ---- -version / -help / bad flags ------------------------------------------
out=$("$NOTARY_SERVER_BIN" -version 2>&1)
if [[ $? == 0 && $out == *"notary-server Version:"* ]]; then ok "-version prints the version"; else not_ok "-version: $out"; fi
if "$NOTARY_SERVER_BIN" -help >/dev/null 2>&1; then ok "-help exits 0"; else not_ok "-help"; fi
"$NOTARY_SERVER_BIN" -no-such-flag >/dev/null 2>&1
if [[ $? == 2 ]]; then ok "unknown flag exits 2"; else not_ok "unknown flag exit status"; fi
out=$("$NOTARY_SERVER_BIN" -logf=xml -config=/nonexistent 2>&1)
if [[ $? != 0 && $out == *xml* ]]; then ok "unknown -logf value is an error naming it"; else not_ok "-logf=xml: $out"; fi

# ---- log formats from the first line ---------------------------------------
for fmt in json logfmt; do
  port=$(free_port)
  write_server_config "$T/$fmt.json" "$port"
  log=$T/$fmt.log
  (cd "$T" && exec "$NOTARY_SERVER_BIN" -config="$T/$fmt.json" -logf="$fmt") >"$log" 2>&1 &
  pid=$!
  E2E_PIDS+=("$pid")
  if wait_for_line "$log" "Starting on" 100 &&
    curl -fsS --max-time 5 --cacert "$ROOT_CA" "https://127.0.0.1:$port/v2/" >/dev/null; then
    ok "-logf=$fmt: server starts and answers"
  else
    not_ok "-logf=$fmt: server did not start"
    diag_file "$log" 20
  fi
  # one request at debug level adds a request log line with fields
  curl -fsS --max-time 5 --cacert "$ROOT_CA" "https://127.0.0.1:$port/v2/x/_trust/tuf/root.json" >/dev/null 2>&1
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  status=$?
  if [[ $status == 0 ]]; then ok "-logf=$fmt: SIGTERM stops the server cleanly (exit 0)"; else not_ok "-logf=$fmt: exit status $status after SIGTERM"; fi
  if res=$(log_lines_parse "$fmt" "$log" 2>&1); then
    ok "-logf=$fmt: all $res log lines parse as $fmt, from the first"
  else
    not_ok "-logf=$fmt: $res"
    diag_file "$log" 20
  fi
  for msg in "Using local signing service, which requires ED25519" "Using memory backend" "Starting Server" \
    "Enabling TLS" "Starting on 127.0.0.1:$port"; do
    if grep -q -- "$msg" "$log"; then ok "-logf=$fmt: start-up line '$msg'"; else not_ok "-logf=$fmt: missing '$msg'"; fi
  done
done

# ---- start-up failures: one fatal line, exit 1, nothing listening ----------
expect_fatal() { # DESC PATTERN CMD...
  local desc=$1 pattern=$2
  shift 2
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [[ $status == 1 && $out == *'"level":"fatal"'* && $out == *"$pattern"* ]]; then
    ok "$desc"
  else
    not_ok "$desc (status $status)"
    diag "$out"
  fi
}
port=$(free_port)
write_server_config "$T/base.json" "$port"
expect_fatal "missing config file is fatal" "Could not read config" "$NOTARY_SERVER_BIN" -config="$T/none.json"
echo '{"server":' >"$T/broken.json"
expect_fatal "malformed config JSON is fatal" "Could not read config" "$NOTARY_SERVER_BIN" -config="$T/broken.json"
expect_fatal "map-valued env override names the variable" "NOTARY_SERVER_STORAGE" \
  env NOTARY_SERVER_STORAGE='{"backend":"memory"}' "$NOTARY_SERVER_BIN" -config="$T/base.json"
expect_fatal "unknown storage backend lists the available ones" "memory" \
  env NOTARY_SERVER_STORAGE_BACKEND=nosuch "$NOTARY_SERVER_BIN" -config="$T/base.json"
expect_fatal "unknown trust service type is fatal" "trust_service" \
  env NOTARY_SERVER_TRUST_SERVICE_TYPE=bogus "$NOTARY_SERVER_BIN" -config="$T/base.json"
expect_fatal "bad logging level is fatal" "not a valid logrus Level" \
  env NOTARY_SERVER_LOGGING_LEVEL=loud "$NOTARY_SERVER_BIN" -config="$T/base.json"
expect_fatal "unreadable TLS key is fatal (never falls back to plain HTTP)" "Could not load X509 key pair" \
  env NOTARY_SERVER_SERVER_TLS_KEY_FILE=/nonexistent.key "$NOTARY_SERVER_BIN" -config="$T/base.json"

# ---- env overrides reach the server ------------------------------------------
port2=$(free_port)
(cd "$T" && exec env NOTARY_SERVER_SERVER_HTTP_ADDR="127.0.0.1:$port2" NOTARY_SERVER_STORAGE_BACKEND=memory \
  NOTARY_SERVER_TRUST_SERVICE_TYPE=local NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA=0 \
  "$NOTARY_SERVER_BIN" -config="$T/base.json") >"$T/env.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
if wait_for_line "$T/env.log" "Starting on 127.0.0.1:$port2" 100 &&
  curl -fsS --max-time 5 --cacert "$ROOT_CA" "https://127.0.0.1:$port2/v2/" >/dev/null; then
  ok "NOTARY_SERVER_SERVER_HTTP_ADDR overrides server.http_addr"
else
  not_ok "env override of http_addr"
  diag_file "$T/env.log" 10
fi
# http:// to the TLS port: the answer says so (as Go's net/http does), for
# GET and POST, and the port keeps serving TLS.  The libmicrohttpd engine
# (the default) only: under libsoup, GIO's TLS closes such a connection.
if [[ ${E2E_HTTP_ENGINE:-mhd} == soup ]]; then
  skip "plain HTTP on the TLS port gets 400" "the libsoup engine closes the connection"
else
  plain_ok=1
  for method in GET POST; do
    answer=$(curl -sS --max-time 5 -X "$method" -w ' %{http_code}' "http://127.0.0.1:$port2/v2/" 2>&1)
    [[ $answer == "Client sent an HTTP request to an HTTPS server."*" 400" ]] || { plain_ok=0; echo "# $method: $answer"; }
  done
  if ((plain_ok)) && curl -fsS --max-time 5 --cacert "$ROOT_CA" "https://127.0.0.1:$port2/v2/" >/dev/null; then
    ok "plain HTTP on the TLS port gets 400 \"Client sent an HTTP request to an HTTPS server.\""
  else
    not_ok "plain HTTP on the TLS port gets 400 \"Client sent an HTTP request to an HTTPS server.\""
  fi
fi
# SIGHUP re-reads certificate and log level instead of killing the server
kill -HUP "$pid" 2>/dev/null
if wait_for_line "$T/env.log" "reloaded TLS certificate" 50 && kill -0 "$pid" 2>/dev/null &&
  curl -fsS --max-time 5 --cacert "$ROOT_CA" "https://127.0.0.1:$port2/v2/" >/dev/null; then
  ok "SIGHUP reloads the certificate and keeps serving"
else
  not_ok "SIGHUP reload"
  diag_file "$T/env.log" 10
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# ---- -debug: localhost only ---------------------------------------------------
port=$(free_port)
write_server_config "$T/debug.json" "$port"
(cd "$T" && exec "$NOTARY_SERVER_BIN" -config="$T/debug.json" -debug) >"$T/debug.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
if wait_for_line "$T/debug.log" "Starting on" 100; then
  if curl -fsS --max-time 5 http://127.0.0.1:8080/debug/health | grep -qx '{}'; then
    ok "-debug: /debug/health answers {} on localhost:8080"
  else
    not_ok "-debug: /debug/health"
  fi
  if curl -fsS --max-time 5 http://127.0.0.1:8080/debug/vars | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "cmdline" in d and "memstats" in d'; then
    ok "-debug: /debug/vars is JSON with cmdline and memstats"
  else
    not_ok "-debug: /debug/vars"
  fi
  # Listening sockets on port 8080 (0x1F90) must all be loopback.
  listeners=$(python3 - <<'EOF'
import socket, struct
found = []
for path, fam in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
    try:
        rows = open(path).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        addr, port = f[1].split(":")
        if f[3] != "0A" or int(port, 16) != 8080:
            continue
        raw = bytes.fromhex(addr)
        if fam == socket.AF_INET:
            ip = socket.inet_ntop(fam, struct.pack("<I", struct.unpack(">I", raw)[0]))
        else:
            ip = socket.inet_ntop(fam, b"".join(raw[i:i+4][::-1] for i in range(0, 16, 4)))
        found.append(ip)
print(" ".join(found))
EOF
)
  nonlocal=0
  for ip in $listeners; do
    [[ $ip == 127.* || $ip == ::1 ]] || nonlocal=1
  done
  if [[ -n $listeners && $nonlocal == 0 ]]; then
    ok "-debug: port 8080 is bound to loopback only ($listeners)"
  else
    not_ok "-debug: port 8080 listeners: '$listeners'"
  fi
else
  not_ok "-debug: server did not start"
  diag_file "$T/debug.log" 10
  skip "-debug: /debug/vars" "server not running"
  skip "-debug: loopback only" "server not running"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# ---- server.client_ca_file: clients must present a certificate ---------------
# The seed's production shape can put mutual TLS in front of the server; the
# real client then passes --tlscert/--tlskey.  fixtures/notary-signer.crt is
# a client certificate under fixtures/root-ca.crt; a self-signed one is not.
port=$(free_port)
write_server_config "$T/mtls0.json" "$port"
python3 - "$T/mtls0.json" "$T/mtls.json" "$ROOT_CA" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["server"]["client_ca_file"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"))
EOF
(cd "$T" && exec "$NOTARY_SERVER_BIN" -config="$T/mtls.json") >"$T/mtls.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
CLIENT_CRT=$FIXTURES_DIR/notary-signer.crt CLIENT_KEY=$FIXTURES_DIR/notary-signer.key
if wait_for_line "$T/mtls.log" "Starting on" 100; then
  if curl -fsS --max-time 5 --cacert "$ROOT_CA" --cert "$CLIENT_CRT" --key "$CLIENT_KEY" \
    "https://127.0.0.1:$port/_notary_server/health" | grep -qx '{}'; then
    ok "client_ca_file: a client certificate under the CA is let in"
  else
    not_ok "client_ca_file: a client certificate under the CA is let in"
  fi
  # Refused with a TLS alert that says why, not a bare close or reset.  TLS
  # 1.2 here: a TLS 1.3 client may send its request before it has read the
  # server's verdict, and whether it then sees the alert is a race.  Under
  # the libsoup engine glib-networking refuses without an alert.
  refusal=alert
  [[ ${E2E_HTTP_ENGINE:-mhd} == soup ]] && refusal='.'

  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --tls-max 1.2 --cacert "$ROOT_CA" \
    "https://127.0.0.1:$port/_notary_server/health" 2>"$T/mtls-nocert.err")
  if [[ $code == 000 ]] && grep -q "$refusal" "$T/mtls-nocert.err"; then
    ok "client_ca_file: no client certificate: refused ($(head -c 120 "$T/mtls-nocert.err"))"
  else
    not_ok "client_ca_file: no client certificate: HTTP $code, $(head -c 200 "$T/mtls-nocert.err")"
  fi
  if command -v certtool >/dev/null 2>&1; then
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile "$T/stranger.key" 2>/dev/null
    printf 'cn = "stranger"\nexpiration_days = 2\ntls_www_client\n' >"$T/stranger.tmpl"
    certtool --generate-self-signed --load-privkey "$T/stranger.key" --template "$T/stranger.tmpl" \
      --no-text --outfile "$T/stranger.crt" 2>/dev/null
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --tls-max 1.2 --cacert "$ROOT_CA" \
      --cert "$T/stranger.crt" --key "$T/stranger.key" "https://127.0.0.1:$port/_notary_server/health" \
      2>"$T/mtls-stranger.err")
    if [[ $code == 000 ]] && grep -q "$refusal" "$T/mtls-stranger.err"; then
      ok "client_ca_file: a certificate from another CA: refused ($(head -c 120 "$T/mtls-stranger.err"))"
    else
      not_ok "client_ca_file: a certificate from another CA: HTTP $code, $(head -c 200 "$T/mtls-stranger.err")"
    fi
  else
    skip "client_ca_file: a certificate from another CA: refused" "certtool not installed"
  fi
  if command -v "$NOTARY_CLIENT_BIN" >/dev/null 2>&1; then
    printf 'mtls payload\n' >"$T/mtls-payload"
    gun=example.com/e2e/mtls-$$
    if (export NOTARY_ROOT_PASSPHRASE=rootpw NOTARY_TARGETS_PASSPHRASE=targetspw NOTARY_SNAPSHOT_PASSPHRASE=snappw
      n() { timeout -k 5 60 "$NOTARY_CLIENT_BIN" -s "https://localhost:$port" --tlscacert "$ROOT_CA" \
        --tlscert "$CLIENT_CRT" --tlskey "$CLIENT_KEY" -d "$T/mtls-trust" "$@"; }
      n init -p "$gun" && n add "$gun" m1 "$T/mtls-payload" && n publish "$gun" &&
        n list "$gun" | grep -q '^m1[[:space:]]') >"$T/mtls-client.out" 2>&1; then
      ok "client_ca_file: the real client publishes with --tlscert/--tlskey"
    else
      not_ok "client_ca_file: the real client publishes with --tlscert/--tlskey"
      diag_file "$T/mtls-client.out" 15
    fi
  else
    skip "client_ca_file: the real client publishes with --tlscert/--tlskey" "notary client not installed"
  fi
else
  not_ok "client_ca_file: server did not start"
  diag_file "$T/mtls.log" 10
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# ---- slow clients cost no CPU ------------------------------------------------
# A client that connects and says nothing, or stops halfway through the TLS
# handshake, must leave the server idle: with MHD's epoll loop a worker
# spun at ~100% of a CPU for as long as such a client waited (in
# production, every handshake's round trip).  Each client below waits 2 s:
# a busy loop costs ~2 s of CPU then, an idle server next to nothing.
port=$(free_port)
write_server_config "$T/slow.json" "$port"
(cd "$T" && exec "$NOTARY_SERVER_BIN" -config="$T/slow.json") >"$T/slow.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }
if wait_for_line "$T/slow.log" "Starting on" 100; then
  for mode in silent-tcp stalled-handshake; do
    before=$(cpu_ms "$pid")
    if out=$(python3 - "$port" "$mode" "$ROOT_CA" 2>&1 <<'EOF'
import socket, ssl, sys, time
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
if mode == "stalled-handshake":
    ctx = ssl.create_default_context(cafile=ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="notary-server")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(out.read())  # ClientHello
    for _ in range(100):  # the server's flight, in as many reads as it takes
        data = sock.recv(65536)
        if not data:
            sys.exit("the server closed the connection mid-handshake")
        inc.write(data)
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            continue
    else:
        sys.exit("no complete server flight")
    finished = out.read()  # held back: the server waits for it
    time.sleep(2)
    sock.sendall(finished)
else:
    time.sleep(2)
sock.close()
EOF
    ); then
      used=$(($(cpu_ms "$pid") - before))
      if ((used < 500)); then
        ok "$mode client for 2 s: the server stays idle (${used} ms of CPU)"
      else
        not_ok "$mode client for 2 s: the server used ${used} ms of CPU (a busy loop)"
      fi
    else
      not_ok "$mode client: $out"
    fi
  done
  if curl -fsS --max-time 5 --cacert "$ROOT_CA" "https://127.0.0.1:$port/v2/" >/dev/null; then
    ok "the server answers after the slow clients left"
  else
    not_ok "no answer after the slow clients left"
  fi
else
  not_ok "slow clients: server did not start"
  diag_file "$T/slow.log" 10
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

done_testing
