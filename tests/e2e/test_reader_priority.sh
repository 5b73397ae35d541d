#!/bin/bash
# SPDX-License-Identifier: MIT
# gatescope's reader runs ahead of the traced workload: started at nice 0 it
# raises itself to nice -10 (a burst of closes by many processes otherwise
# fills the ring while it waits its turn: tools/bench, scale section), and
# started with a nice value of its own it keeps it.  The oracle is the
# kernel's own view of each of its threads (/proc/PID/task/*/stat).
. "$(dirname "$0")/lib.sh"
T=reader_priority
gs_require_bpf $T
gs_bg sleep 120
TARGET=$GS_LAST_PID
# This shell's own nice value: each gatescope is started at an absolute one.
self=$(awk '{ print $19 }' /proc/$$/stat)

# start_at NICE OUT: gatescope tracing TARGET, started at nice NICE;
# sets GS_GATESCOPE_PID once it says it is tracing.
start_at() {
	gs_bg nice -n $(($1 - self)) "$GS_BIN" --json -p "$TARGET" >"$2" 2>"$2.err"
	gs_wait_tracing "$2"
}

# The nice values of every thread of gatescope, sorted, unique.
thread_nices() {
	cat /proc/"$GS_GATESCOPE_PID"/task/*/stat 2>/dev/null |
		sed 's/.*) //' | awk '{ print $17 }' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

start_at 0 "$GS_TMP/at0.json" || { fail $T "gatescope did not start"; exit 1; }
gs_check "$T: started at nice 0, every thread runs at nice -10" "$(thread_nices)" "-10"
gs_stop
start_at 5 "$GS_TMP/at5.json" || { fail $T "gatescope did not start at nice 5"; exit 1; }
gs_check "$T: started at nice 5, it keeps 5" "$(thread_nices)" "5"
gs_stop
exit $((GS_FAILS > 0))
