#!/usr/bin/env python3
"""A docker/distribution-style token service for the token-auth e2e test.

    token-server.py --port P --cert C --key K --signer-key S --chain L [--chain I]
                    --issuer ISS --user NAME:PASSWORD:ACTIONS ... --log FILE

Serves GET /auth over TLS on 127.0.0.1:P (the certificate must be one the
notary client trusts, as the client reaches the realm with the same TLS
settings as the server).  For each `scope=repository:<name>:<actions>` it
grants the requested actions the caller may have: a user given with
--user NAME:PASSWORD:ACTIONS (HTTP Basic, as the client sends NOTARY_AUTH)
gets ACTIONS (comma-separated, `*` for all), an anonymous caller `pull`
only, wrong credentials get 401.  The token is an RS256 JWS signed with
--signer-key whose header carries the --chain certificates (leaf first) as
x5c, so the server trusts it through its rootcertbundle.  One line per
request goes to --log: user, requested scopes, granted access.
"""
import argparse
import base64
import http.server
import json
import secrets
import ssl
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_args():
    ap = argparse.ArgumentParser()
    for opt in ("--port", "--cert", "--key", "--signer-key", "--issuer", "--log"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--chain", action="append", required=True)
    ap.add_argument("--user", action="append", default=[])
    return ap.parse_args()


class TokenService:
    def __init__(self, args):
        with open(args.signer_key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        x5c = []
        for path in args.chain:
            with open(path, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
            x5c.append(base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode())
        self.header = b64url(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": x5c}).encode())
        self.issuer = args.issuer
        self.users = {}
        for spec in args.user:
            name, password, actions = spec.split(":", 2)
            self.users[name] = (password, set(actions.split(",")))
        self.log = open(args.log, "a", buffering=1)

    def mint(self, subject, service, access):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": subject, "aud": service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = self.header + "." + b64url(json.dumps(claims).encode())
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


def handler_for(svc):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/auth":
                return self.reply(404, {"error": "not found"})
            query = urllib.parse.parse_qs(url.query)
            user, allowed = "anonymous", {"pull"}
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    name, password = "?", None
                if name not in svc.users or svc.users[name][0] != password:
                    svc.log.write(f"user={name} refused: bad credentials\n")
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                user, allowed = name, svc.users[name][1]
            access = []
            scopes = [s for v in query.get("scope", []) for s in v.split(" ") if s]
            for scope in scopes:
                kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else (scope, "", "")
                wanted = set(actions.split(","))
                granted = wanted if "*" in allowed else wanted & allowed
                if granted:
                    access.append({"type": kind, "name": name, "actions": sorted(granted)})
            svc.log.write(f"user={user} scopes={' '.join(scopes)} granted={json.dumps(access)}\n")
            token = svc.mint(user, query.get("service", [""])[0], access)
            self.reply(200, {"token": token, "access_token": token, "expires_in": 300,
                             "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    return Handler


def main():
    args = parse_args()
    svc = TokenService(args)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(args.port)), handler_for(svc))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print("token service listening", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
