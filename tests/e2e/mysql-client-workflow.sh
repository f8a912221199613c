#!/usr/bin/env bash
# End-to-end: the full real-client workflow (client-workflow.sh) on
# storage.backend "mysql".  Starts a private MariaDB (tests/lib/mariadb.sh)
# with the schema and the least-privilege user from data/, runs
# client-workflow.sh against it with its TAP results passed through, then
# checks in the database itself that the server really stored the trust
# data there, and stops MariaDB.  Prints TAP.
#
#   NOTARY_SERVER_BIN=build/core/notary-server \
#   NOTARY_PLUGIN_PATH=build/plugins bash tests/e2e/mysql-client-workflow.sh
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"
# shellcheck source=tests/lib/mariadb.sh
source "$here/../lib/mariadb.sh"

e2e_init
mariadb_e2e_setup
DB=$MARIADB_E2E_DIR
diag "MariaDB at $E2E_DB_URL"

# ---------------------------------------------------------------- the workflow

# Its results are ours: pass its TAP lines through, drop its plan (ours is
# printed at the end, after the database checks) and keep the count.
inner_tests=0
inner_failed=0
inner_skipped=0
while IFS= read -r line; do
  case $line in
    1..0*)
      # The workflow skipped itself (no client, ...): so do we.
      echo "$line"
      exit 0
      ;;
    1..*) ;;
    "ok "*)
      inner_tests=$((inner_tests + 1))
      [[ $line == *"# SKIP"* ]] && inner_skipped=$((inner_skipped + 1))
      echo "$line"
      ;;
    "not ok "*)
      inner_tests=$((inner_tests + 1))
      inner_failed=$((inner_failed + 1))
      echo "$line"
      ;;
    "Bail out!"*)
      echo "$line"
      exit 1
      ;;
    *) echo "$line" ;;
  esac
done < <(bash "$here/client-workflow.sh" 2>&1)
wait $! 2>/dev/null
inner_rc=$?
TAP_COUNT=$inner_tests
TAP_FAILED=$inner_failed
diag "client-workflow.sh: $inner_tests tests, $inner_failed failed, $inner_skipped skipped, exit $inner_rc"

step_inner_complete() {
  # Fewer lines than the workflow has would mean it died half-way.
  echo "workflow exit status $inner_rc, $inner_tests results"
  ((inner_rc == 0 && inner_tests >= 30 && inner_failed == 0 && inner_skipped == 0))
}
check "client-workflow.sh ran to the end on mysql storage" step_inner_complete

# ---------------------------------------------------------------- the database

# The workflow names its GUNs example.com/e2e/{app,other}-<pid>.
step_rows_stored() {
  local roles
  roles=$(mariadb_sql "$DB" -e "SELECT GROUP_CONCAT(DISTINCT role ORDER BY role SEPARATOR ' ')
      FROM tuf_files WHERE gun LIKE 'example.com/e2e/other-%'") || return 1
  echo "roles stored for the surviving GUN: $roles"
  [[ $roles == "root snapshot targets timestamp" ]]
}
check "tuf_files holds root/targets/snapshot/timestamp of the surviving GUN" step_rows_stored

step_sha_matches() {
  # The sha256 column is what GetChecksum looks up: it must be the hash of
  # the stored bytes, in lower case.
  local bad
  bad=$(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM tuf_files
      WHERE sha256 IS NULL OR sha256 <> LOWER(SHA2(data, 256))") || return 1
  echo "rows whose sha256 does not match their data: $bad"
  [[ $bad == 0 ]]
}
check "every row's sha256 column is the lowercase SHA-256 of its data" step_sha_matches

step_deleted_gone() {
  local n
  n=$(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM tuf_files
      WHERE gun LIKE 'example.com/e2e/app-%'") || return 1
  echo "rows left of the deleted GUN: $n"
  [[ $n == 0 ]]
}
check "delete --remote removed every row of the deleted GUN" step_deleted_gone

step_changefeed() {
  local ts upd del
  ts=$(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM tuf_files
      WHERE gun LIKE 'example.com/e2e/other-%' AND role = 'timestamp'") || return 1
  upd=$(mariadb_sql "$DB" -e "SELECT COUNT(*) FROM changefeed
      WHERE gun LIKE 'example.com/e2e/other-%' AND category = 'update'") || return 1
  del=$(mariadb_sql "$DB" -e "SELECT CONCAT(version, '/', IFNULL(sha256, 'NULL'), '/') FROM changefeed
      WHERE gun LIKE 'example.com/e2e/app-%' AND category = 'deletion'") || return 1
  echo "surviving GUN: $ts timestamp rows, $upd update changes; deletion changes: [$del]"
  ((ts >= 1 && ts == upd)) && [[ $del == "0//" ]]
}
check "changefeed: one update per timestamp, one deletion (version 0, sha256 '')" step_changefeed

step_least_privilege() {
  local grants
  grants=$(mariadb_sql "$DB" -e "SHOW GRANTS FOR 'server'@'%'") || return 1
  echo "$grants"
  # shellcheck disable=SC2016  # the backquotes are SQL, not a command
  grep -q 'GRANT SELECT, INSERT, UPDATE, DELETE ON `notaryserver`.\*' <<<"$grants" &&
    ! grep -qE 'CREATE|ALTER|DROP|ALL PRIVILEGES' <<<"$grants" &&
    [[ $E2E_DB_URL == server@* ]]
}
check "the server ran as user 'server' with only SELECT, INSERT, UPDATE, DELETE" step_least_privilege

done_testing
