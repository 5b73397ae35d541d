#!/bin/bash
# Run one libFuzzer harness for a bounded time under ASan+UBSan and print
# one "PASS name" / "FAIL name: why" line for tests/run.sh.
#
#   tests/fuzz/run.sh NAME SECONDS      e.g. tests/fuzz/run.sh fuzz_replay 25
#
# The seed corpus is tests/fuzz/corpus/NAME (committed, read only); what the
# fuzzer learns goes to build/fuzz/corpus/NAME, kept between runs.  A crash,
# a sanitizer report, a leak or a timeout (-timeout, per input) is a finding:
# the input that caused it is saved as build/fuzz/artifacts/NAME-*, and the
# line says how to reproduce it.
set -u
cd "$(dirname "$0")/../.."
name=${1:?harness name}
secs=${2:-25}
bin=build/fuzz/$name
seeds=tests/fuzz/corpus/${name#fuzz_}
work=build/fuzz/corpus/$name
arts=build/fuzz/artifacts
log=build/fuzz/$name.log
[ -x "$bin" ] || { echo "FAIL $name: $bin not built (make sanitize)"; exit 1; }
mkdir -p "$work" "$arts"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=16384 \
	-print_final_stats=1 -artifact_prefix="$arts/$name-" "$work" "$seeds" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
if [ $rc -eq 0 ]; then
	echo "PASS $name: ${execs:-?} executions in ${secs} s, no finding"
	exit 0
fi
art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
grep -m1 -E "ERROR: |runtime error:|==ERROR|SUMMARY" "$log" | sed 's/^/    /'
echo "FAIL $name: finding after ${execs:-?} executions (exit $rc); input ${art:-?}; reproduce: $bin ${art:-INPUT}; log $log"
exit 1
