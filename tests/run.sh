#!/bin/bash
# Run every test of gatescope and print one summary line: "N passed, N failed".
#
# Protocol: each test program prints lines "PASS name", "FAIL name" or
# "SKIP name: why".  A program that exits non-zero without printing a FAIL
# line counts as one failure.  Unit tests (build/tests/test_*) need no root;
# the same unit tests built with ASan+UBSan (build/san/tests/test_*) run
# too, then each libFuzzer harness (build/fuzz/fuzz_*) for FUZZ_TEST_SECONDS
# (default 25) under ASan+UBSan; end-to-end tests (tests/e2e/test_*.sh) load
# BPF and build namespaces; one that fails is run once more and, if that
# run passes, is named FLAKY in the summary (E2E_RERUN=0: no second run).
#
# End-to-end tests that judge nothing by time (their header has the line
# "# run: alongside other tests") run in a second lane while the unit,
# sanitizer and fuzz tests run, their lines printed after them; the others
# drive timers that must fire within tens of ms, so they run one at a time
# on a quiet machine.  ALONGSIDE=0 runs everything one at a time.
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
flaky_names=()
logdir=build/test-logs
mkdir -p "$logdir"

# What is run is built first (nothing to do after `make test`): a test
# binary older than its sources would test the code before the change.
case $which in
unit) targets="all unit sanitize" ;;
fuzz) targets="sanitize" ;;
e2e) targets="all tools" ;;
*) targets="all unit tools sanitize" ;;
esac
# shellcheck disable=SC2086 # targets is a list
if ! make --no-print-directory -s $targets >"$logdir/build.log" 2>&1; then
	echo "FAIL build: make $targets (build/test-logs/build.log)"
	tail -20 "$logdir/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi

# run_one NAME COMMAND...: runs a test program and prints one line of its
# PASS/FAIL/SKIP counts (and its log's tail when it failed); leaves the
# counts in ONE_PASS, ONE_FAIL, ONE_SKIP.
run_one() {
	local name=$1; shift
	local log="$logdir/$name.log" start=$SECONDS rc
	mkdir -p "$(dirname "$log")"
	printf '%-40s ' "$name"
	"$@" >"$log" 2>&1
	rc=$?
	ONE_PASS=$(grep -c '^PASS ' "$log"); ONE_FAIL=$(grep -c '^FAIL ' "$log")
	ONE_SKIP=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$ONE_FAIL" -eq 0 ]; then
		ONE_FAIL=1
		echo "FAIL $name: exited $rc" >>"$log"
	fi
	printf '%3d passed %3d failed %3d skipped  (%ds)\n' "$ONE_PASS" "$ONE_FAIL" "$ONE_SKIP" \
		$((SECONDS - start))
	[ "$ONE_FAIL" -gt 0 ] && sed 's/^/    | /' "$log" | tail -40
	grep '^SKIP ' "$log" | sed 's/^/    !! /'
}

# count NAME: adds the last run_one's counts to the totals.
count() {
	pass=$((pass + ONE_PASS)); fail=$((fail + ONE_FAIL)); skip=$((skip + ONE_SKIP))
	[ "$ONE_FAIL" -gt 0 ] && failed_names+=("$1")
}

# test_once NAME COMMAND...: run and count.
test_once() {
	run_one "$@"
	count "$1"
}

# test_e2e NAME COMMAND...: an end-to-end test drives real servers and
# timers on a shared machine; one that fails is run once more (unless
# E2E_RERUN=0) and counts as passed only if that whole run passes.  It is
# then named FLAKY in the summary, its first run's failures printed above
# and its first log kept (NAME.first.log); a failure that comes back counts.
test_e2e() {
	run_one "$@"
	if [ "$ONE_FAIL" -gt 0 ] && [ "${E2E_RERUN:-1}" != 0 ]; then
		mv "$logdir/$1.log" "$logdir/$1.first.log"
		echo "    ~~ $1 failed; running it once more (first log: $logdir/$1.first.log)"
		run_one "$@"
		[ "$ONE_FAIL" -eq 0 ] && flaky_names+=("$1")
	fi
	count "$1"
}

# Does this end-to-end test run alongside others (no timing oracle)?
alongside() {
	grep -q '^# run: alongside other tests' "$1"
}

# The end-to-end tests to run, in order, matching the pattern.
e2e_tests() {
	local t
	for t in tests/e2e/test_*.sh; do
		[ -e "$t" ] || continue
		case "$t" in *"$pattern"*) echo "$t" ;; esac
	done
}

# run_e2e_list TEST...: test_e2e on each.
run_e2e_list() {
	local t
	for t in "$@"; do
		test_e2e "e2e/$(basename "$t" .sh)" "$t"
	done
}

# The second lane: its tests' lines go to a file, its counts and names to
# another (it runs in a subshell), both read back by lane_join.
lane_dir=$logdir/lane
lane_pid=
lane_start() {
	local list=()
	for t in $(e2e_tests); do alongside "$t" && list+=("$t"); done
	[ ${#list[@]} -gt 0 ] || return 0
	rm -rf "$lane_dir" && mkdir -p "$lane_dir"
	(
		pass=0 fail=0 skip=0 failed_names=() flaky_names=()
		run_e2e_list "${list[@]}" >"$lane_dir/out" 2>&1
		{
			echo "$pass $fail $skip"
			echo "${failed_names[*]}"
			echo "${flaky_names[*]}"
		} >"$lane_dir/counts"
	) &
	lane_pid=$!
}
lane_join() {
	local p f s names flakies
	[ -n "$lane_pid" ] || return 0
	wait "$lane_pid"
	echo "(run alongside the tests above:)"
	cat "$lane_dir/out"
	{ read -r p f s; read -r names; read -r flakies; } <"$lane_dir/counts"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	[ -n "$names" ] && failed_names+=($names)
	[ -n "$flakies" ] && flaky_names+=($flakies)
}

lane=0
[ "$which" = all ] && [ "${ALONGSIDE:-1}" != 0 ] && lane=1
[ "$lane" = 1 ] && lane_start

if [ "$which" = all ] || [ "$which" = unit ]; then
	for t in build/tests/test_*; do
		[ -x "$t" ] && test_once "unit/$(basename "$t")" "$t"
	done
fi
if [ "$which" = all ] || [ "$which" = unit ]; then
	# A leak, an overflow or undefined behaviour aborts the sanitizer build.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for t in build/san/tests/test_*; do
		[ -x "$t" ] && test_once "asan+ubsan/$(basename "$t")" "$t"
	done
fi
if [ "$which" = all ] || [ "$which" = fuzz ]; then
	for f in build/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		case "$f" in *.log) continue ;; esac
		test_once "fuzz/$(basename "$f")" tests/fuzz/run.sh "$(basename "$f")" "${FUZZ_TEST_SECONDS:-25}"
	done
fi
[ "$lane" = 1 ] && lane_join
if [ "$which" = all ] || [ "$which" = e2e ]; then
	for t in $(e2e_tests); do
		[ "$lane" = 1 ] && alongside "$t" && continue
		run_e2e_list "$t"
	done
fi

echo
[ "$skip" -gt 0 ] && echo "WARNING: $skip test(s) SKIPPED (see !! lines above)"
[ ${#flaky_names[@]} -gt 0 ] &&
	echo "FLAKY (failed once, passed when run again): ${flaky_names[*]}"
[ "$fail" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed${flaky_names:+, ${#flaky_names[@]} flaky}"
[ "$fail" -eq 0 ]
