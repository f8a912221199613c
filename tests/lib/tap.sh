# shellcheck shell=bash
# TAP (Test Anything Protocol, version 12) helpers for bash test scripts.
# Source this file; it defines functions only and changes no shell options.
#
#   plan N                    print the plan up front ("1..N")
#   ok DESC / not_ok DESC     report a result by hand
#   skip DESC REASON          report a skipped test ("ok N - DESC # SKIP REASON")
#   skip_all REASON           whole script skipped ("1..0 # SKIP REASON"), exits 0
#   diag TEXT...              diagnostic lines ("# TEXT"), to stdout so meson keeps them
#   diag_file FILE [N]        last N (default 40) lines of FILE as diagnostics
#   check DESC CMD [ARGS...]  run CMD, ok if it exits 0, else not ok + its output
#   bail_out REASON           "Bail out! REASON", exit 1
#   done_testing              print the trailing plan if none was printed,
#                             return 1 if anything failed
#
# TAP_ON_FAIL may name a function that `check` calls after a failure (for
# example to dump a server log); it gets the test description as $1.

TAP_COUNT=0
TAP_FAILED=0
TAP_PLANNED=0
TAP_ON_FAIL=${TAP_ON_FAIL:-}

plan() {
  TAP_PLANNED=$1
  echo "1..$1"
}

_tap_clean() {
  # A description must not contain '#' (it would start a directive) or a
  # newline (it would end the line).
  local d=${1//#/_}
  echo "${d//$'\n'/ }"
}

ok() {
  TAP_COUNT=$((TAP_COUNT + 1))
  echo "ok $TAP_COUNT - $(_tap_clean "$1")"
}

not_ok() {
  TAP_COUNT=$((TAP_COUNT + 1))
  TAP_FAILED=$((TAP_FAILED + 1))
  echo "not ok $TAP_COUNT - $(_tap_clean "$1")"
}

skip() {
  TAP_COUNT=$((TAP_COUNT + 1))
  echo "ok $TAP_COUNT - $(_tap_clean "$1") # SKIP $(_tap_clean "${2:-}")"
}

skip_all() {
  echo "1..0 # SKIP $(_tap_clean "$1")"
  exit 0
}

diag() {
  local line
  while IFS= read -r line; do
    echo "# $line"
  done <<<"$*"
}

diag_file() {
  local file=$1 n=${2:-40} line
  if [[ ! -r $file ]]; then
    echo "# ($file not readable)"
    return 0
  fi
  while IFS= read -r line; do
    echo "#   $line"
  done < <(tail -n "$n" "$file")
}

bail_out() {
  echo "Bail out! $(_tap_clean "$1")"
  exit 1
}

# check DESC CMD [ARGS...]: runs CMD in a subshell with stdin from /dev/null
# (callers that need stdin redirect inside a function) and both output
# streams captured, so a passing step prints exactly one TAP line.
check() {
  local desc=$1 out rc
  shift
  out=$(mktemp "${TMPDIR:-/tmp}/tap-check.XXXXXX")
  ("$@") </dev/null >"$out" 2>&1
  rc=$?
  if ((rc == 0)); then
    ok "$desc"
  else
    not_ok "$desc"
    diag "command: $* (exit $rc)"
    diag "output (last 30 lines):"
    diag_file "$out" 30
    if [[ -n $TAP_ON_FAIL ]]; then
      "$TAP_ON_FAIL" "$desc"
    fi
  fi
  rm -f "$out"
  return "$rc"
}

done_testing() {
  if ((TAP_PLANNED == 0)); then
    echo "1..$TAP_COUNT"
  elif ((TAP_PLANNED != TAP_COUNT)); then
    diag "planned $TAP_PLANNED tests but ran $TAP_COUNT"
    return 1
  fi
  if ((TAP_FAILED > 0)); then
    diag "$TAP_FAILED of $TAP_COUNT tests failed"
    return 1
  fi
  return 0
}
