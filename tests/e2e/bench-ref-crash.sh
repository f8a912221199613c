#!/usr/bin/env bash
# bench/run when the reference server dies mid-run, as notary-server 0.7.0
# does with MySQL ("fatal error: concurrent map writes"): the smoke run
# still passes (that crash is the reference's, a warning there), the side
# is restarted, and its peak RSS counts the VmHWM the crashed process left
# in hwm-PID.kb instead of going unmeasured.  The crash is staged by a
# wrapper around the real reference binary, timed by the bench's own
# progress (the first publish row starting), not by a clock.
# Prints TAP.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"

[[ -x /usr/bin/notary-server ]] || skip_all "the reference notary-server is not installed"
command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] || skip_all "mariadbd not installed"
[[ -n ${NOTARY_SERVER_BIN:-} ]] || skip_all "NOTARY_SERVER_BIN not set (run through meson test)"
e2e_init
T=$E2E_TMP
out=$T/results
ref=$out/mysql-remote/ref

# The wrapper execs the real server (same pid, so bench/run watches the
# real process).  For the main instance only (the start-up launches use
# config-startup.json), a background loop waits (at most 120 s) for the
# first publish row to begin, seen as its load generator's stderr file,
# then "crashes" the server the way the Go runtime does: the message on
# stderr (server.log), then SIGKILL.  Once: the restarted one is left be.
mkdir -p "$T/bin"
cat >"$T/bin/notary-server" <<EOF
#!/usr/bin/env bash
case "\$*" in
  *-config=*/config.json)
    [[ -e $T/crashed ]] && exec /usr/bin/notary-server "\$@" # the restart
    me=\$\$
    (for _ in \$(seq 1200); do
       [[ -e $ref/pubgen-pub_distinct.json.1.stderr ]] && break
       sleep 0.1
     done
     touch $T/crashed
     echo "fatal error: concurrent map writes" >&2
     kill -KILL \$me) &
    ;;
esac
exec /usr/bin/notary-server "\$@"
EOF
chmod +x "$T/bin/notary-server"

NOTARY_BENCH_REF_SERVER=$T/bin/notary-server \
  bash "$NOTARY_SOURCE_ROOT/bench/run" --smoke --no-install --mode mysql-remote --sides ref \
  --server "$NOTARY_SERVER_BIN" --out "$out" >"$T/bench.log" 2>&1
rc=$?
if ((rc == 0)); then
  ok "smoke run passes with the reference's known crash"
else
  not_ok "smoke run passes with the reference's known crash (exit $rc)"
  diag_file "$T/bench.log" 30
fi

crash_log=$ref/server.crash-1.log
if [[ -f $crash_log ]] && grep -q "fatal error: concurrent map writes" "$crash_log"; then
  ok "the crashed process's log is kept as server.crash-1.log"
else
  not_ok "the crashed process's log is kept as server.crash-1.log"
fi
if grep -q "the reference server crashed of its known concurrent-map defect" "$T/bench.log"; then
  ok "the run names the crash in its warning"
else
  not_ok "the run names the crash in its warning"
fi

# One hwm file per server process: the crashed one and its successor.
n=$(find "$ref" -maxdepth 1 -name 'hwm-*.kb' | wc -l)
if ((n >= 2)); then
  ok "each reference process left its high-water mark ($n files)"
else
  not_ok "each reference process left its high-water mark ($n files)"
fi
dead=$(sed -n 's/.*ref died (pid \([0-9]*\)).*/\1/p' "$T/bench.log" | head -n1)
crashed=$(cat "$ref/hwm-$dead.kb" 2>/dev/null)
restarted=$(awk '$1 == "peak" && $2 == "VmRSS_kB" {print $NF}' "$ref/rss.txt")
peak=$(awk -F'\t' '$1 == "mysql-remote" && $2 == "ref" && $3 == "rss" && $4 == "peak_kb" {print $5}' "$out/metrics.tsv")
if [[ -n $peak && -n $crashed && -n $restarted ]] && ((crashed > 0 && peak >= crashed && peak >= restarted)); then
  ok "the reference's peak RSS ($peak kB) counts the crashed process ($crashed kB) and the restarted one ($restarted kB)"
else
  not_ok "the reference's peak RSS counts both processes (peak '$peak', crashed pid '$dead' '$crashed', restarted '$restarted' kB)"
fi
if grep -q $'mysql-remote.ref\tpeak RSS is the highest' "$out/row-notes.tsv"; then
  ok "row-notes.tsv says the figure spans the crash"
else
  not_ok "row-notes.tsv says the figure spans the crash"
fi

done_testing
