#!/bin/bash
# Run every test of gatescope and print one summary line: "N passed, N failed".
#
# Protocol: each test program prints lines "PASS name", "FAIL name" or
# "SKIP name: why".  A program that exits non-zero without printing a FAIL
# line counts as one failure.  Unit tests (build/tests/test_*) need no root;
# the same unit tests built with ASan+UBSan (build/san/tests/test_*) run
# too, then each libFuzzer harness (build/fuzz/fuzz_*) for FUZZ_TEST_SECONDS
# (default 25) under ASan+UBSan; end-to-end tests (tests/e2e/test_*.sh) load
# BPF and build namespaces.
#
#   tests/run.sh                 everything
#   tests/run.sh unit            only unit tests (plain and sanitizer builds)
#   tests/run.sh fuzz            only the fuzzing harnesses
#   tests/run.sh e2e [PATTERN]   only end-to-end tests (matching PATTERN)
set -u
cd "$(dirname "$0")/.."
which=${1:-all}
pattern=${2:-}
pass=0 fail=0 skip=0
failed_names=()
logdir=build/test-logs
mkdir -p "$logdir"

run_one() {	# name, command...
	local name=$1; shift
	local log="$logdir/$name.log" start=$SECONDS rc
	mkdir -p "$(dirname "$log")"
	printf '%-40s ' "$name"
	"$@" >"$log" 2>&1
	rc=$?
	local p f s
	p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL $name: exited $rc" >>"$log"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	printf '%3d passed %3d failed %3d skipped  (%ds)\n' "$p" "$f" "$s" $((SECONDS - start))
	if [ "$f" -gt 0 ]; then
		failed_names+=("$name")
		sed 's/^/    | /' "$log" | tail -40
	fi
	grep '^SKIP ' "$log" | sed 's/^/    !! /'
}

if [ "$which" = all ] || [ "$which" = unit ]; then
	for t in build/tests/test_*; do
		[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$which" = all ] || [ "$which" = unit ]; then
	# A leak, an overflow or undefined behaviour aborts the sanitizer build.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for t in build/san/tests/test_*; do
		[ -x "$t" ] && run_one "asan+ubsan/$(basename "$t")" "$t"
	done
fi
if [ "$which" = all ] || [ "$which" = fuzz ]; then
	for f in build/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		case "$f" in *.log) continue ;; esac
		run_one "fuzz/$(basename "$f")" tests/fuzz/run.sh "$(basename "$f")" "${FUZZ_TEST_SECONDS:-25}"
	done
fi
if [ "$which" = all ] || [ "$which" = e2e ]; then
	for t in tests/e2e/test_*.sh; do
		[ -e "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		run_one "e2e/$(basename "$t" .sh)" "$t"
	done
fi

echo
[ "$skip" -gt 0 ] && echo "WARNING: $skip test(s) SKIPPED (see !! lines above)"
[ "$fail" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
