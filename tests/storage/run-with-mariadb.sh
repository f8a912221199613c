#!/bin/bash
# run-with-mariadb.sh PROGRAM [ARGS...] — runs a TAP test against a private
# MariaDB (tests/lib/mariadb.sh): starts it, exports
# NOTARY_TEST_STORAGE_DB_URL (least-privilege user `server`) and
# NOTARY_TEST_MARIADB_DIR, runs PROGRAM with its TAP output passed through,
# then stops and removes the server whatever happened.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../lib/mariadb.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/notary-mariadb.XXXXXX")
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
if ! mariadb_start "$tmp/db" >&2; then
  echo "Bail out! could not start a private MariaDB (see the log above)"
  exit 1
fi
export NOTARY_TEST_STORAGE_DB_URL="$MARIADB_DSN"
export NOTARY_TEST_MARIADB_DIR="$MARIADB_DIR"
export NOTARY_TEST_MARIADB_SH="$here/../lib/mariadb.sh"
echo "# MariaDB at $MARIADB_DSN" >&2
"$@"
