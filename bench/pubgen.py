#!/usr/bin/python3
"""pubgen.py — load generator for notary-server's atomic update (POST /v2/<gun>/_trust/tuf/).

Builds valid, distinct, signed TUF uploads the way the notary 0.7.0 client does
(root with a self-signed ECDSA P-256 certificate whose CN is the GUN, targets
and snapshot signed with client-held ECDSA keys, the server's timestamp key
fetched from GET .../timestamp.key) and POSTs them as multipart/form-data over
TLS with keep-alive, SENDERS at once.

Subcommands (all print one JSON object on stdout):

  distinct   COUNT first publishes (root+targets+snapshot) to COUNT new GUNs.
             The uploads are built before the clock starts, written to a
             spool file and sent by the C sender given with --sender
             (bench/pubsend.c, SENDERS threads); only its POSTs are timed.
  one        one GUN, then COUNT successive targets+snapshot versions, built
             before the clock and sent concurrently by --sender; a sender
             takes the next version from a shared counter, so racing uploads
             may be refused with 400 VERSION (counted, not an error).
  fill       COUNT first publishes to new GUNs, built and sent on the fly in
             batches from SENDERS Python processes (to store many
             repositories; the rate reported includes the generator's own
             signing work and the key fetches).
  bigtargets one GUN, then REPS uploads of a targets file with ENTRIES
             entries (+ snapshot), sent from Python; reports each POST's
             wall time.

The timed sending of `distinct` and `one` is done in C because Python's
http.client+ssl spends ~2 ms of CPU per request, on the CPUs the server
under test needs.  Server timestamp keys are always fetched one at a time
before the concurrent phase: the reference's local signer crashes on
concurrent key creation.  With --server-pid, `distinct` and `one` also
report the server's CPU time per request over the sending alone
(server_cpu_us, from /proc), which sets the server's cost apart from the
machine's and the sender's; with --db-pid, its database's (db_cpu_us).

Every request loop is bounded by COUNT (and a per-request timeout).  Only
127.0.0.1/localhost URLs are accepted.  Any status other than the expected
ones (200; 400 VERSION in `one`) is an error and makes the exit status 1.

Uses only the Python standard library and python3-cryptography (Debian).
"""

import argparse
import base64
import datetime
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from benchlib import cpu_ticks  # bench/, beside this file

REQUEST_TIMEOUT = 60.0
FILL_BATCH = 5000


# --------------------------------------------------------------- TUF pieces

def canonical(value):
    """Canonical JSON (tuf-metadata.md §2): sorted keys, no whitespace,
    strings escape only '"' and '\\' (control bytes stay raw)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode())
        return "{" + ",".join(canonical(k) + ":" + canonical(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"cannot canonicalize {type(value)}")


def key_id(key_obj):
    return hashlib.sha256(canonical(key_obj).encode()).hexdigest()


def b64(data):
    return base64.b64encode(data).decode()


def rfc3339(days_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class EcKey:
    """A client-held ECDSA P-256 key as TUF sees it."""

    def __init__(self, private=None):
        self.private = private or ec.generate_private_key(ec.SECP256R1())
        spki = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.obj = {"keytype": "ecdsa", "keyval": {"private": None, "public": b64(spki)}}
        self.id = key_id(self.obj)

    def sign(self, message):
        r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def root_cert_key(private, gun):
    """The root key of GUN: a self-signed certificate, CN = GUN, 10 years."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, gun)])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                         False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(private, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    obj = {"keytype": "ecdsa-x509", "keyval": {"private": None, "public": b64(pem)}}
    return obj, key_id(obj)


def envelope(signed, signer_key, signer_id):
    sig = signer_key.sign(canonical(signed).encode())
    doc = {"signed": signed,
           "signatures": [{"keyid": signer_id, "method": "ecdsa", "sig": b64(sig)}]}
    return json.dumps(doc, separators=(",", ":")).encode()


def filemeta(data):
    return {"hashes": {"sha256": b64(hashlib.sha256(data).digest()),
                       "sha512": b64(hashlib.sha512(data).digest())},
            "length": len(data)}


def targets_body(version, entries, tag):
    targets = {}
    for i in range(entries):
        payload = f"{tag}-{version}-{i}".encode()
        targets[f"file-{i}"] = {"hashes": {"sha256": b64(hashlib.sha256(payload).digest())},
                                "length": len(payload)}
    return {"_type": "Targets", "delegations": {"keys": {}, "roles": []},
            "expires": rfc3339(3 * 365), "targets": targets, "version": version}


def snapshot_body(version, root_bytes, targets_bytes):
    return {"_type": "Snapshot", "expires": rfc3339(3 * 365),
            "meta": {"root": filemeta(root_bytes), "targets": filemeta(targets_bytes)},
            "version": version}


def multipart(parts):
    boundary = os.urandom(30).hex()
    out = []
    for role, data in parts:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                   f"filename=\"{role}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                   .encode())
        out.append(data)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(out)


class Keys:
    """Client-held keys shared by every GUN of one run (like a trust dir)."""

    def __init__(self):
        self.root = ec.generate_private_key(ec.SECP256R1())
        self.targets = EcKey()
        self.snapshot = EcKey()


class Repo:
    """One GUN's client-side state: root bytes and the targets/snapshot signers."""

    def __init__(self, keys, gun, ts_key):
        self.keys = keys
        self.gun = gun
        cert_obj, cert_id = root_cert_key(keys.root, gun)
        ts_id = key_id(ts_key)
        root = {"_type": "Root", "consistent_snapshot": False, "expires": rfc3339(10 * 365),
                "keys": {cert_id: cert_obj, keys.targets.id: keys.targets.obj,
                         keys.snapshot.id: keys.snapshot.obj, ts_id: ts_key},
                "roles": {"root": {"keyids": [cert_id], "threshold": 1},
                          "snapshot": {"keyids": [keys.snapshot.id], "threshold": 1},
                          "targets": {"keyids": [keys.targets.id], "threshold": 1},
                          "timestamp": {"keyids": [ts_id], "threshold": 1}},
                "version": 1}
        self.root_bytes = envelope(root, EcKey(keys.root), cert_id)

    def upload(self, version, entries, with_root):
        targets = envelope(targets_body(version, entries, self.gun), self.keys.targets,
                           self.keys.targets.id)
        snapshot = envelope(snapshot_body(version, self.root_bytes, targets),
                            self.keys.snapshot, self.keys.snapshot.id)
        parts = [("targets", targets), ("snapshot", snapshot)]
        if with_root:
            parts.insert(0, ("root", self.root_bytes))
        return multipart(parts)


# --------------------------------------------------------------------- HTTP

class Client:
    """A keep-alive HTTPS connection that reconnects when the server closed it."""

    def __init__(self, url, ca):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "https" or u.hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit(f"pubgen: refusing non-loopback or non-https URL {url}")
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=ca)
        self.conn = None
        self.reconnects = 0

    def request(self, method, path, body=None, headers=None):
        """Return (status, body bytes)."""
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                        timeout=REQUEST_TIMEOUT)
                self.conn.connect()
                # Like Go's net/http: no Nagle delay between our writes.
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.reconnects += 1
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.CannotSendRequest):
                self.close()
                if fresh or attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def tuf_path(gun, name=""):
    return f"/v2/{gun}/_trust/tuf/{name}"


def fetch_ts_key(client, gun):
    status, data = client.request("GET", tuf_path(gun, "timestamp.key"))
    if status != 200:
        raise RuntimeError(f"GET {gun} timestamp.key: HTTP {status}: {data[:200]!r}")
    return json.loads(data)


def error_code(data):
    try:
        return json.loads(data)["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return "?"


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


# ------------------------------------------------------------------ workers

def split(count, senders, index):
    return range(index, count, senders)


def fetch_ts_keys(args, guns):
    """GET timestamp.key for each GUN, one at a time on one connection: the
    reference server's local signer crashes ("concurrent map writes") when
    keys are created concurrently, so key creation is never part of the
    concurrent phase."""
    client = Client(args.url, args.ca)
    keys = [fetch_ts_key(client, gun) for gun in guns]
    client.close()
    return keys


def fill_worker(args, keys, batch, index, barrier, queue):
    """Build and POST this sender's share of new GUNs (batch = [(gun, ts_key)]),
    each upload built just before it is sent: the rate includes the
    generator's signing work (fill only stores repositories)."""
    result = {"ok": 0, "errors": [], "lat": [], "t0": None, "t1": None}
    client = Client(args.url, args.ca)
    mine = batch[index::args.senders]
    barrier.wait()
    result["t0"] = time.monotonic()
    for gun, ts in mine:
        try:
            ctype, body = Repo(keys, gun, ts).upload(1, args.entries, True)
            status, data = client.request("POST", tuf_path(gun), body, {"Content-Type": ctype})
        except Exception as e:  # noqa: BLE001 — reported to the parent as an error
            status, data = 0, str(e).encode()
        if status == 200:
            result["ok"] += 1
        elif len(result["errors"]) < 20:
            result["errors"].append(f"POST {gun}: HTTP {status} {error_code(data)} {data[:300]!r}")
    result["t1"] = time.monotonic()
    result["reconnects"] = client.reconnects
    client.close()
    queue.put(result)


def run_workers(target, args, extra):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(args.senders)
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(args, *extra, i, barrier, queue))
             for i in range(args.senders)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=args.timeout) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


def run_sender(args, uploads, allow_version_conflicts):
    """Send uploads ([(path, (content_type, body))], in this order) with the C
    sender and return its JSON summary (the keys of summarize())."""
    with tempfile.TemporaryDirectory(prefix="pubgen-") as tmp:
        spool = os.path.join(tmp, "spool")
        with open(spool, "wb") as f:
            for path, (ctype, body) in uploads:
                f.write(f"POST {path} {ctype} {len(body)}\n".encode())
                f.write(body)
        cmd = [args.sender, "--url", args.url, "--ca", args.ca, "--spool", spool,
               "--senders", str(args.senders), "--timeout", str(REQUEST_TIMEOUT)]
        if allow_version_conflicts:
            cmd.append("--allow-version-conflicts")
        watched = {"server_cpu_us": args.server_pid, "db_cpu_us": args.db_pid}
        cpu0 = {k: cpu_ticks(pid) for k, pid in watched.items()}
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=args.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SystemExit(f"pubgen: running {args.sender}: {e}") from e
        cpu1 = {k: cpu_ticks(pid) for k, pid in watched.items()}
    # 0: no error, 1: some request failed (reported in the JSON); else usage.
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pubgen: {args.sender} exited with status {proc.returncode}")
    try:
        out = json.loads(proc.stdout)
    except ValueError as e:
        raise SystemExit(f"pubgen: {args.sender} printed no JSON: {proc.stdout[:200]!r}") from e
    for k in watched:
        if cpu0[k] is not None and cpu1[k] is not None and out.get("requests"):
            out[k] = round((cpu1[k] - cpu0[k]) / os.sysconf("SC_CLK_TCK") * 1e6 / out["requests"], 1)
    return out


def summarize(results, extra=None):
    lat = sorted(x for r in results for x in r["lat"])
    t0s = [r["t0"] for r in results if r["t0"] is not None]
    t1s = [r["t1"] for r in results if r["t1"] is not None]
    wall = (max(t1s) - min(t0s)) if t0s and t1s else 0.0
    ok = sum(r["ok"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    out = {"accepted": ok, "wall_s": round(wall, 4),
           "accepted_per_s": round(ok / wall, 2) if wall > 0 else 0.0,
           "requests": len(lat),
           "p50_ms": round(percentile(lat, 50) * 1000, 3) if lat else None,
           "p99_ms": round(percentile(lat, 99) * 1000, 3) if lat else None,
           "max_ms": round(lat[-1] * 1000, 3) if lat else None,
           "connections": sum(r.get("reconnects", 0) for r in results),
           "errors": len(errors), "error_samples": errors[:10]}
    if extra:
        out.update(extra)
    return out


# --------------------------------------------------------------- commands

def gun_names(args, start, stop):
    return [f"{args.prefix}/{args.tag}-{i}" for i in range(start, stop)]


def cmd_distinct(args):
    keys = Keys()
    guns = gun_names(args, 0, args.count)
    uploads = [(tuf_path(gun), Repo(keys, gun, ts).upload(1, args.entries, True))
               for gun, ts in zip(guns, fetch_ts_keys(args, guns))]
    out = run_sender(args, uploads, False)
    del out["version_conflicts"]  # always 0 here; not part of this row
    out.update({"mode": "distinct", "senders": args.senders, "count": args.count})
    return out


def cmd_fill(args):
    keys = Keys()
    results, t0 = [], time.monotonic()
    for start in range(0, args.count, FILL_BATCH):
        guns = gun_names(args, start, min(args.count, start + FILL_BATCH))
        batch = list(zip(guns, fetch_ts_keys(args, guns)))
        results += run_workers(fill_worker, args, (keys, batch))
        if sum(len(r["errors"]) for r in results):
            break
    wall = time.monotonic() - t0
    out = summarize(results, {"mode": "fill", "senders": args.senders, "count": args.count})
    # The whole fill, key fetches included, is what the caller waits for.
    out["wall_s"] = round(wall, 2)
    out["accepted_per_s"] = round(out["accepted"] / wall, 2)
    return out


def init_repo(args, client, keys, gun):
    repo = Repo(keys, gun, fetch_ts_key(client, gun))
    ctype, body = repo.upload(1, 1, True)
    status, data = client.request("POST", tuf_path(gun), body, {"Content-Type": ctype})
    if status != 200:
        raise RuntimeError(f"first publish of {gun}: HTTP {status} {data[:300]!r}")
    return repo


def cmd_one(args):
    keys = Keys()
    client = Client(args.url, args.ca)
    repo = init_repo(args, client, keys, args.gun)
    client.close()
    uploads = [(tuf_path(args.gun), repo.upload(v, args.entries, False))
               for v in range(2, args.count + 2)]
    out = run_sender(args, uploads, True)
    out.update({"mode": "one", "senders": args.senders, "count": args.count})
    return out


def cmd_bigtargets(args):
    keys = Keys()
    client = Client(args.url, args.ca)
    repo = init_repo(args, client, keys, args.gun)
    times, errors, size = [], [], 0
    for rep in range(args.reps):
        ctype, body = repo.upload(rep + 2, args.entries, False)
        size = len(body)
        t = time.monotonic()
        status, data = client.request("POST", tuf_path(args.gun), body, {"Content-Type": ctype})
        times.append(time.monotonic() - t)
        if status != 200:
            errors.append(f"POST v{rep + 2}: HTTP {status} {error_code(data)} {data[:300]!r}")
    client.close()
    times.sort()
    return {"mode": "bigtargets", "entries": args.entries, "body_bytes": size,
            "reps": args.reps, "median_ms": round(times[len(times) // 2] * 1000, 2),
            "times_ms": [round(x * 1000, 2) for x in times],
            "errors": len(errors), "error_samples": errors[:10]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["distinct", "one", "fill", "bigtargets"])
    p.add_argument("--url", required=True, help="https://127.0.0.1:PORT")
    p.add_argument("--ca", required=True, help="CA file trusted for the server cert")
    p.add_argument("--count", type=int, default=1000, help="uploads (bounded)")
    p.add_argument("--senders", type=int, default=8)
    p.add_argument("--prefix", default="bench.example.com/d", help="GUN prefix (distinct/fill)")
    p.add_argument("--tag", default=None, help="GUN name tag (default: pid+time)")
    p.add_argument("--gun", default="bench.example.com/one", help="GUN (one/bigtargets)")
    p.add_argument("--entries", type=int, default=1, help="targets entries per upload")
    p.add_argument("--reps", type=int, default=3, help="uploads (bigtargets)")
    p.add_argument("--timeout", type=float, default=1800.0, help="overall bound, seconds")
    p.add_argument("--sender", help="the pubsend binary (bench/pubsend.c; distinct/one)")
    p.add_argument("--server-pid", type=int, default=0,
                   help="report this process's CPU per request while --sender runs "
                        "(server_cpu_us)")
    p.add_argument("--db-pid", type=int, default=0,
                   help="the same for the server's database (db_cpu_us)")
    args = p.parse_args()
    if args.command in ("distinct", "one") and not args.sender:
        raise SystemExit(f"pubgen: {args.command} needs --sender PATH (bench/pubsend.c)")
    if args.count < 1 or args.count > 1_000_000 or args.senders < 1 or args.senders > 64:
        raise SystemExit("pubgen: --count must be 1..1000000 and --senders 1..64")
    if args.tag is None:
        args.tag = f"{os.getpid()}-{int(time.time())}"
    out = {"distinct": cmd_distinct, "one": cmd_one, "fill": cmd_fill,
           "bigtargets": cmd_bigtargets}[args.command](args)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
