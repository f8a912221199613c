#!/usr/bin/env bash
# Regenerates the certificates and keys used by tests/test-auth.c (token
# authentication, server-api.md §7).  All keys here are throw-away test keys;
# nothing in this directory protects anything.
#
#   root-ca        ECDSA P-256 self-signed CA: the token signing root.
#   int-ca         ECDSA P-384 intermediate CA, signed by root-ca.
#   leaf-ec        ECDSA P-256 token signer, signed by int-ca     (ES256 via x5c)
#   leaf-ec384     ECDSA P-384 token signer, signed by int-ca     (ES384 via x5c)
#   leaf-rsa       RSA 2048 token signer, signed by int-ca        (RS256 via x5c)
#   leaf-expired   ECDSA P-256, signed by int-ca, expired in 2021 (chain must fail)
#   kid-rsa        RSA 2048 self-signed, placed in the bundle     (RS256 via kid)
#   rogue-ca       ECDSA P-256 CA that is NOT in the bundle, and
#   rogue-leaf     its leaf                                       (untrusted chain)
#   bundle.pem     root-ca.pem + kid-rsa.pem: the auth.options.rootcertbundle.
#   *.kid          libtrust key ID of that certificate's public key, computed
#                  here with OpenSSL + coreutils (SHA-256 of the DER
#                  SubjectPublicKeyInfo, first 30 bytes, base32 without
#                  padding, 12 groups of 4 joined by ':'), so the test checks
#                  our GnuTLS-based computation against an independent one.
#
# Validity: 2024-01-01 .. 2124-01-01 (except leaf-expired), so the tests can
# use the real clock.
#
# Usage: tests/data/auth/make-auth-certs.sh     Needs: certtool, openssl, coreutils, xxd.
set -euo pipefail
export TZ=UTC LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$HERE"

template () { # name ca?(yes/no) [activation expiration]
  local act=${3:-"2024-01-01 00:00:00 UTC"} exp=${4:-"2124-01-01 00:00:00 UTC"}
  {
    echo "cn = \"notary-c test $1\""
    echo "organization = \"notary-c tests\""
    echo "serial = $((RANDOM * 32768 + RANDOM + 1))"
    echo "activation_date = \"$act\""
    echo "expiration_date = \"$exp\""
    if [ "$2" = yes ]; then
      echo "ca"
      echo "cert_signing_key"
    else
      echo "signing_key"
    fi
  } > "$TMP/$1.tmpl"
}

# Keys come from OpenSSL (PKCS#8): its EC keys always carry full-length
# private scalars, which every parser accepts.
genkey () { # name kind(ecdsa256|ecdsa384|rsa)
  case "$2" in
    ecdsa256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ;;
    ecdsa384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1.key" ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null ;;
  esac
}

selfsigned () { # name kind ca?
  genkey "$1" "$2"
  template "$1" "$3"
  certtool --generate-self-signed --load-privkey "$1.key" --template "$TMP/$1.tmpl" \
    --hash sha256 --no-text --outfile "$1.pem" 2>/dev/null
}

signed () { # name kind ca? issuer [activation expiration]
  genkey "$1" "$2"
  template "$1" "$3" "${5:-}" "${6:-}"
  certtool --generate-certificate --load-privkey "$1.key" --load-ca-certificate "$4.pem" \
    --load-ca-privkey "$4.key" --template "$TMP/$1.tmpl" --hash sha256 --no-text \
    --outfile "$1.pem" 2>/dev/null
}

libtrust_kid () { # cert.pem → key ID
  local b32
  b32=$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER \
    | sha256sum | cut -c1-60 | xxd -r -p | base32 -w0 | tr -d '=')
  echo "$b32" | sed -E 's/(....)/\1:/g; s/:$//'
}

rm -f ./*.pem ./*.key ./*.kid
selfsigned root-ca ecdsa256 yes
signed int-ca ecdsa384 yes root-ca
signed leaf-ec ecdsa256 no int-ca
signed leaf-ec384 ecdsa384 no int-ca
signed leaf-rsa rsa no int-ca
signed leaf-expired ecdsa256 no int-ca "2020-01-01 00:00:00 UTC" "2021-01-01 00:00:00 UTC"
selfsigned kid-rsa rsa no
selfsigned rogue-ca ecdsa256 yes
signed rogue-leaf ecdsa256 no rogue-ca
cat root-ca.pem kid-rsa.pem > bundle.pem

for c in root-ca kid-rsa leaf-ec leaf-rsa; do
  libtrust_kid "$c.pem" > "$c.kid"
done

# Sanity: the chains verify (or not) the way the tests expect.
cat leaf-ec.pem int-ca.pem > "$TMP/chain.pem"
certtool --verify --load-ca-certificate bundle.pem --infile "$TMP/chain.pem" >/dev/null 2>&1
if certtool --verify --load-ca-certificate bundle.pem --infile rogue-leaf.pem >/dev/null 2>&1; then
  echo "rogue-leaf unexpectedly verifies" >&2
  exit 1
fi
echo "regenerated test auth certificates in $HERE"
