#!/bin/bash
# run-with-signer-db.sh PROGRAM [ARGS...] — runs a TAP test against a
# private MariaDB (tests/lib/mariadb.sh) holding the notary-signer key
# database (data/signer-mysql.sql + the least-privilege grant of
# data/signer-mysql-user.sql).  Exports NOTARY_TEST_SIGNER_DB_URL (user
# `signer`: SELECT, INSERT, DELETE only) and NOTARY_TEST_MARIADB_SOCKET
# (root, for tests that inspect or doctor rows), passes PROGRAM's TAP
# output through, then stops and removes the server whatever happened.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../lib/mariadb.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/notary-signer-db.XXXXXX")
cleanup() {
  mariadb_destroy "$tmp/db"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$(_mariadb_find mariadbd)" ] && [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP mariadbd is not installed (package mariadb-server)"
  exit 0
fi
if ! mariadb_start "$tmp/db" >&2 || ! mariadb_load_signer "$tmp/db" >&2; then
  echo "Bail out! could not start a private MariaDB with the signer schema (see the log above)"
  exit 1
fi
export NOTARY_TEST_SIGNER_DB_URL="$MARIADB_SIGNER_DSN"
export NOTARY_TEST_MARIADB_SOCKET="$MARIADB_SOCKET"
echo "# MariaDB at $MARIADB_SIGNER_DSN" >&2
"$@"
