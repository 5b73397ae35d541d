#!/bin/bash
# Bad input: usage errors exit 2 with a message and the --help hint; a --pid
# that does not exist exits 2 with a clear message; --replay of a garbage or
# otherwise broken file exits 1 with a message naming the file and the byte
# offset of the problem, and (under valgrind) without any memory error or
# leak; a recording whose last event is cut (torn tail) is replayed up to
# the cut, says how many bytes it ignored and exits 3; a FIFO, device or
# directory given as a file is refused at once.  A --record file is created
# 0600, never over an existing file or through a symlink, and a recording
# that cannot be written fails the run.  Only the live parts need root.
# run: alongside other tests (no timing oracle)
. "$(dirname "$0")/lib.sh"
T=cli_badinput
[ -x "$GS_BIN" ] || { fail $T "$GS_BIN not built"; exit 1; }
E=$GS_TMP/stderr
O=$GS_TMP/stdout

# usage_case TOKEN ARGS...: exit 2, nothing on stdout, one "gatescope: "
# message that quotes TOKEN (the bad value or option), then the hint.
usage_case() {
	local token=$1 rc name
	shift
	name="$T: usage error for '$*'"
	"$GS_BIN" "$@" >"$O" 2>"$E" </dev/null
	rc=$?
	if [ $rc -ne 2 ]; then fail "$name" "exit $rc, want 2: $(head -c 200 "$E")"; return; fi
	if [ -s "$O" ]; then fail "$name" "wrote to stdout: $(head -c 200 "$O")"; return; fi
	if ! head -1 "$E" | grep -q "^gatescope: .*$token"; then
		fail "$name" "message does not name '$token': $(head -1 "$E")"; return
	fi
	if ! grep -qF "Try 'gatescope --help'" "$E"; then fail "$name" "no --help hint"; return; fi
	pass "$name"
}

usage_case "'--bogus'" --bogus
usage_case "'-x'" -x
usage_case "abc" --interval abc
usage_case "'0'" --interval 0
usage_case "'-1'" --interval -1
usage_case "'-1'" --duration -1
usage_case "abc" --duration abc
usage_case "'0'" --duration 0
usage_case "'0'" --pid 0
usage_case "'abc'" --pid abc
usage_case "'12x'" -p 12x
usage_case "'99999999999'" --pid 99999999999
usage_case "--pid" --pid ""
usage_case "'5'" --max-conns 5
usage_case "'lots'" --max-conns lots
usage_case "'0'" --listen 0
usage_case "'70000'" --listen 70000
usage_case "'bogus'" --events bogus
usage_case "'xml'" --output xml
usage_case "averyveryverylongname" --comm averyveryverylongname
usage_case "'--pid'" --pid
usage_case "'extra'" --json extra
usage_case "--record and --replay" --record "$GS_TMP/a" --replay "$GS_TMP/b"

# A pid that does not exist: a clear message, exit 2, before anything loads.
nopid=
for p in 4194303 4194000 3999999 2999999; do
	[ -e "/proc/$p" ] || { nopid=$p; break; }
done
"$GS_BIN" --pid "$nopid" --json -d 1 >"$O" 2>"$E" </dev/null
rc=$?
if [ $rc -eq 2 ] && grep -q "^gatescope: no process with pid $nopid\$" "$E" && [ ! -s "$O" ]; then
	pass "$T: --pid $nopid (no such process)"
else
	fail "$T: --pid $nopid" "exit $rc: $(head -c 200 "$E")"
fi

# ---- --replay of broken files, under valgrind ----
VG=()
if command -v valgrind >/dev/null; then
	VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
	    --errors-for-leak-kinds=definite,indirect --log-file="$GS_TMP/valgrind.log")
else
	skip "$T: valgrind" "valgrind not installed: replay cases run without the memory check"
fi

# replay_case NAME FILE WANT_RC OFFSET WHY [novg]: exit WANT_RC; when OFFSET
# is set, the message is "FILE: byte offset OFFSET: ..." mentioning WHY.
# Under valgrind unless "novg" (paths that stop before reading any event;
# valgrind costs ~1 s a run).
replay_case() {
	local name="$T: --replay $1" f=$2 want=$3 off=$4 why=$5 rc vg=("${VG[@]}")
	[ "${6:-}" = novg ] && vg=()
	rm -f "$GS_TMP/valgrind.log"
	"${vg[@]}" "$GS_BIN" --replay "$f" --json >"$O" 2>"$E" </dev/null
	rc=$?
	if [ $rc -eq 99 ]; then fail "$name" "valgrind found memory errors:"; cat "$GS_TMP/valgrind.log"; return; fi
	if [ $rc -ne "$want" ]; then fail "$name" "exit $rc, want $want: $(head -c 300 "$E")"; return; fi
	if [ -n "$off" ] && ! grep -qF "gatescope: error: $f: byte offset $off: " "$E"; then
		fail "$name" "message lacks '$f: byte offset $off': $(head -c 300 "$E")"; return
	fi
	if [ -n "$why" ] && ! grep -q "$why" "$E"; then fail "$name" "message lacks '$why': $(cat "$E")"; return; fi
	pass "$name${off:+ (offset $off)}"
}

# The record format (userspace/decoder.c): a 24-byte header (magic
# "GSREC\0\0\1", u32 version 1, u32 header size 24, i64 wall offset), then
# events, each starting with u32 type, u32 size.
REC_FIXTURE=$GS_ROOT/tests/fixtures/nginx_faults.gsr
rec_header() { printf 'GSREC\0\0\1\1\0\0\0\30\0\0\0\0\0\0\0\0\0\0\0'; }

head -c 4096 /dev/urandom >"$GS_TMP/garbage.gsr"
replay_case "of random bytes" "$GS_TMP/garbage.gsr" 1 0 "not a gatescope record file"
: >"$GS_TMP/empty.gsr"
replay_case "of an empty file" "$GS_TMP/empty.gsr" 1 0 "not a gatescope record file" novg
head -c 12 <(rec_header) >"$GS_TMP/shorthdr.gsr"
replay_case "of a truncated header" "$GS_TMP/shorthdr.gsr" 1 0 "" novg
{ rec_header; printf '\1\0\0\0\260'; } >"$GS_TMP/trunc-evhdr.gsr"
replay_case "of a truncated event header" "$GS_TMP/trunc-evhdr.gsr" 3 "" "byte offset 24: truncated event (torn tail): the last 5 bytes ignored"
{ rec_header; printf '\143\0\0\0\50\0\0\0'; head -c 32 /dev/zero; } >"$GS_TMP/badtype.gsr"
replay_case "of an unknown event type" "$GS_TMP/badtype.gsr" 1 24 "unknown event type"
{ rec_header; printf '\1\0\0\0\377\377\377\177'; head -c 64 /dev/zero; } >"$GS_TMP/badsize.gsr"
replay_case "of a huge event size" "$GS_TMP/badsize.gsr" 1 24 "size"
{ rec_header | head -c 8; printf '\7\0\0\0\30\0\0\0'; head -c 8 /dev/zero; } >"$GS_TMP/version.gsr"
replay_case "of an unknown version" "$GS_TMP/version.gsr" 1 8 "version" novg
{ rec_header; head -c 200 /dev/urandom; } >"$GS_TMP/garbage-events.gsr"
replay_case "of a header then garbage" "$GS_TMP/garbage-events.gsr" 1 24
replay_case "of a missing file" "$GS_TMP/does-not-exist.gsr" 1 "" "does-not-exist.gsr" novg
replay_case "of a directory" "$GS_TMP" 1 "" "is not a regular file" novg
mkfifo "$GS_TMP/fifo.gsr"
replay_case "of a FIFO (no writer: must not block)" "$GS_TMP/fifo.gsr" 1 "" "is not a regular file" novg
replay_case "of /dev/zero" /dev/zero 1 "" "is not a regular file" novg

# --backend-names and --route-map that are not regular files: refused at
# once (a directory was accepted, /dev/zero looped forever).
for opt in --backend-names --route-map; do
	for f in /dev/zero "$GS_TMP" "$GS_TMP/fifo.gsr"; do
		timeout 10 "$GS_BIN" --replay "$REC_FIXTURE" --json $opt "$f" >"$O" 2>"$E" </dev/null
		rc=$?
		if [ $rc -eq 1 ] && grep -q "^gatescope: error: $opt file $f is not a regular file" "$E"; then
			pass "$T: $opt $f refused"
		else
			fail "$T: $opt $f" "exit $rc: $(head -c 200 "$E")"
		fi
	done
done

# A recording cut at every byte inside its last events: the events before
# the cut are totalled, exit 3 (a cut between events is a valid file).
torn_ok=0 torn_bad=0
fsize=$(stat -c %s "$REC_FIXTURE")
for cut in $(seq $((fsize - 400)) 37 $((fsize - 1))); do
	head -c "$cut" "$REC_FIXTURE" >"$GS_TMP/torn.gsr"
	"$GS_BIN" --replay "$GS_TMP/torn.gsr" --json >"$O" 2>"$E" </dev/null
	rc=$?
	if { [ $rc -eq 3 ] && grep -q "torn tail" "$E" || [ $rc -eq 0 ]; } && grep -q '^{"type":"total"' "$O"; then
		torn_ok=$((torn_ok + 1))
	else
		torn_bad=$((torn_bad + 1))
		[ $torn_bad -le 3 ] && echo "cut at $cut: exit $rc: $(head -c 200 "$E")"
	fi
done
gs_check "$T: torn recordings replayed up to the cut (of $((torn_ok + torn_bad)) cut points)" "$torn_bad" 0

# ---- a real recording, cut short ----
if [ "$(id -u)" != 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
	skip "$T: recorded file" "needs root and BTF to record a real run"
	exit 0
fi
. "$(dirname "$0")/conn_lib.sh"
REC=$GS_TMP/run.gsr
N=3
conn_setup bad || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" 8092 ok || { fail $T "server did not start"; exit 1; }
conn_run --record "$REC" -- "$BE4" 8092 --count $N --timeout-ms 2000 || { fail $T "record run"; exit 1; }
conn_run_out=$OUT
L=$(gs_label "$BE4" 8092)
gs_check "$T: live run counted the client's connects" "$(gs_total "$OUT" "$L" connects)" $N

# The whole recording replays cleanly to the same totals.
OUT=$GS_TMP/replay.json
rm -f "$GS_TMP/valgrind.log"
"${VG[@]}" "$GS_BIN" --replay "$REC" --json >"$OUT" 2>"$E" </dev/null
rc=$?
gs_check "$T: --replay of the recording exits 0" "$rc" 0
[ $rc -eq 99 ] && cat "$GS_TMP/valgrind.log"
gs_check "$T: replayed connects" "$(gs_total "$OUT" "$L" connects)" $N
gs_check "$T: replayed failures" "$(gs_total "$OUT" "$L" connect_failures.refused)" \
	"$(gs_total "$conn_run_out" "$L" connect_failures.refused)"

# Cut inside the last event: the message points at where that event starts.
read -r size evsize < <(python3 - "$REC" <<'PY'
import os, struct, sys
d = open(sys.argv[1], "rb").read()
print(len(d), struct.unpack_from("<I", d, 28)[0] if len(d) >= 32 else 0)
PY
)
if [ "$evsize" -gt 0 ] && [ $(( (size - 24) % evsize )) -eq 0 ] && [ "$size" -gt 24 ]; then
	head -c $((size - 10)) "$REC" >"$GS_TMP/cut.gsr"
	replay_case "of a recording cut 10 bytes short" "$GS_TMP/cut.gsr" 3 "" \
		"byte offset $((size - evsize)): truncated event (torn tail): the last $((evsize - 10)) bytes ignored"
	gs_check "$T: the cut recording's connects up to the cut" \
		"$(gs_total "$O" "$L" connects)" $((N - 1))
	head -c $((24 + evsize + 3)) "$REC" >"$GS_TMP/cut2.gsr"
	replay_case "of a recording cut in an event header" "$GS_TMP/cut2.gsr" 3 "" \
		"byte offset $((24 + evsize)): truncated event (torn tail): the last 3 bytes ignored"
else
	fail "$T: recorded file" "size $size is not a header plus whole events of $evsize bytes"
fi

# ---- how --record writes ----
mode=$(stat -c %a "$REC")
gs_check "$T: the recording is mode 0600" "$mode" 600
echo precious >"$GS_TMP/victim"
ln -s "$GS_TMP/victim" "$GS_TMP/link.gsr"
for target in "$GS_TMP/link.gsr" "$GS_TMP/victim"; do
	"$GS_BIN" -c gs-none --record "$target" --json -d 1 >"$O" 2>"$E" </dev/null
	rc=$?
	if [ $rc -eq 1 ] && [ "$(cat "$GS_TMP/victim")" = precious ] &&
	   grep -Eq "is a symbolic link: not followed|exists: recordings are never overwritten" "$E"; then
		pass "$T: --record $(basename "$target") refused, the file untouched"
	else
		fail "$T: --record $(basename "$target")" "exit $rc, victim: $(head -c 50 "$GS_TMP/victim"): $(head -c 200 "$E")"
	fi
done
# A recording that cannot be written is a failed run (it exited 0).
"$GS_BIN" -c gs-none --record /dev/full --json -d 1 >"$O" 2>"$E" </dev/null
rc=$?
if [ $rc -eq 1 ] && grep -q "cannot write record file /dev/full: No space left on device" "$E"; then
	pass "$T: --record /dev/full fails the run"
else
	fail "$T: --record /dev/full" "exit $rc: $(head -c 200 "$E")"
fi
exit 0
