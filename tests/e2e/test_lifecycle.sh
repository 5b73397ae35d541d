#!/bin/bash
# Lifecycle of a live gatescope:
#   - SIGHUP reloads --backend-names: a renamed backend shows its new name
#     in the following reports; a broken file is reported with its line and
#     gatescope keeps running;
#   - SIGTERM, while requests flow, ends it within 1 s with a total report
#     and exit 0; then every BPF program, map and link it held is gone from
#     the kernel (none pinned or left attached), no tracefs instance or
#     probe event of its own is left behind, and nothing new is pinned
#     under /sys/fs/bpf.  Both HTTP capture paths (socket tracepoints, and
#     the syscall-tracepoint fallback, which attaches other programs).
# The traced process is a copy of curl with a name of this run (-c), talking
# to a backend in a namespace of this run.
. "$(dirname "$0")/lib.sh"
T=lifecycle
gs_require_bpf "$T"
for c in python3 curl bpftool; do
	command -v "$c" >/dev/null || { skip "$T" "$c not installed"; exit 0; }
done

NS=$(gs_ns lc) || { fail "$T" "namespace"; exit 1; }
PORT=$((20000 + GS_SUFFIX % 20000))
BE=127.0.0.1:$PORT
CLIENT=gslc$((GS_SUFFIX % 1000000))
NAMES=$GS_TMP/names
OUT=$GS_TMP/out.json
TRACEFS=/sys/kernel/tracing
# A fresh machine has no tracefs mounted: mount it for the run (instances
# and probe events are the kernel's, whichever mount shows them), and
# unmount it after.
if [ ! -d "$TRACEFS/instances" ] && mount -t tracefs nodev "$TRACEFS" 2>/dev/null; then
	trap 'umount "$TRACEFS" 2>/dev/null; gs_cleanup' EXIT
fi
cp "$(command -v curl)" "$GS_TMP/$CLIENT"
mkdir -p "$GS_TMP/www" && echo ok >"$GS_TMP/www/index.html"
gs_bg ip netns exec "$NS" python3 -m http.server --bind 127.0.0.1 --directory "$GS_TMP/www" \
	"$PORT" >/dev/null 2>&1
gs_wait_listen "$NS" "$PORT"

requests() {	# N: N requests from the traced client, one connection each
	local i
	for i in $(seq "$1"); do
		ip netns exec "$NS" "$GS_TMP/$CLIENT" -s -o /dev/null --max-time 5 "http://$BE/"
	done
}

# names_in_reports: "name" of our backend in every summary so far, in order.
names_in_reports() {
	python3 - "$OUT" "$BE" <<-'EOF'
	import json, sys
	for line in open(sys.argv[1]):
	    try:
	        o = json.loads(line)
	    except ValueError:
	        continue
	    for b in o.get("backends", []):
	        if o["type"] == "summary" and b["backend"] == sys.argv[2]:
	            print(b.get("name", "-"))
	EOF
}

wait_for() {	# SECONDS COMMAND...: until COMMAND succeeds
	local secs=$1
	shift
	for _ in $(seq $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
last_name_is() { [ "$(names_in_reports | tail -1)" = "$1" ]; }

# Our BPF objects, from the process's own file descriptors ("prog 12" ...).
bpf_objects() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		sed -n 's/^\(prog\|map\|link\)_id:[[:space:]]*\([0-9]*\)/\1 \2/p' "$f"
	done 2>/dev/null | sort -u
}
# Which of these objects the kernel still has.
bpf_still_there() {	# FILE-of-objects
	python3 - "$1" <<-'EOF'
	import json, subprocess, sys
	want = set(tuple(l.split()) for l in open(sys.argv[1]) if l.strip())
	have = set()
	for kind in ("prog", "map", "link"):
	    out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True).stdout
	    for o in json.loads(out or "[]"):
	        have.add((kind, str(o["id"])))
	left = sorted(want & have)
	print(" ".join(f"{k}:{i}" for k, i in left))
	sys.exit(1 if left else 0)
	EOF
}
exited() {	# PID: gone or a zombie (its files are closed)
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

echo "$BE alpha" >"$NAMES"
touch "$GS_TMP/marker"
ls "$TRACEFS/instances" 2>/dev/null | sort >"$GS_TMP/instances.before"
mount | grep -c ' type bpf ' >"$GS_TMP/bpffs.before"
gs_start "$OUT" -c "$CLIENT" --backend-names "$NAMES" -i 0.5 ||
	{ fail "$T" "gatescope did not start"; exit 1; }
PID=$GS_GATESCOPE_PID
bpf_objects "$PID" >"$GS_TMP/objects"
echo "# gatescope holds $(grep -c ^prog "$GS_TMP/objects") programs," \
	"$(grep -c ^map "$GS_TMP/objects") maps, $(grep -c ^link "$GS_TMP/objects") links"
grep -q ^link "$GS_TMP/objects" || fail "$T" "no BPF links found in /proc/$PID/fdinfo"

# --- SIGHUP ---------------------------------------------------------------

requests 3
if wait_for 5 last_name_is alpha; then
	pass "$T/backend named from --backend-names"
else
	fail "$T/backend named from --backend-names" "names in reports: $(names_in_reports | sort | uniq -c)"
fi
echo "$BE beta" >"$NAMES"
kill -HUP "$PID"
wait_for 3 grep -q "SIGHUP: reloaded $NAMES" "$OUT.err" || fail "$T/SIGHUP" "no 'reloaded' line"
requests 3
if wait_for 5 last_name_is beta && kill -0 "$PID"; then
	pass "$T/SIGHUP: the renamed backend has its new name, gatescope runs on"
else
	fail "$T/SIGHUP: the renamed backend has its new name" \
		"names in reports: $(names_in_reports | uniq -c | tr '\n' ' ')"
fi
printf '# names\n%s gamma\nbroken-line-without-a-name\n' "$BE" >"$NAMES"
kill -HUP "$PID"
if wait_for 3 grep -q "$NAMES:3: expected" "$OUT.err" && sleep 0.6 && kill -0 "$PID" &&
	! exited "$PID"; then
	pass "$T/SIGHUP with a broken file: the bad line is named, gatescope runs on"
else
	fail "$T/SIGHUP with a broken file" "stderr: $(tail -2 "$OUT.err")"
fi

# --- SIGTERM under load ----------------------------------------------------

# sigterm_check NAME: SIGTERM gatescope ($PID, objects in $GS_TMP/objects)
# while requests flow; it must exit 0 with a total report and leave nothing.
sigterm_check() {
	local name=$1 load t0 t_exit t_gone left="" rc pinned new_inst probes
	requests 200 &
	load=$!
	sleep 1
	t0=$(date +%s%N)
	kill -TERM "$PID"
	for _ in $(seq 300); do	# 10 ms steps, at most about 3 s
		exited "$PID" && break
		sleep 0.01
	done
	t_exit=$((($(date +%s%N) - t0) / 1000000))
	for _ in $(seq 20); do
		left=$(bpf_still_there "$GS_TMP/objects") && break
		sleep 0.05
	done
	t_gone=$((($(date +%s%N) - t0) / 1000000))
	wait "$PID"
	rc=$?
	kill "$load" 2>/dev/null
	wait "$load" 2>/dev/null
	echo "# $name: exited $t_exit ms after SIGTERM, its BPF objects gone after $t_gone ms"

	if [ $rc = 0 ] && [ "$(gs_total "$OUT" "$BE" connects)" != absent ]; then
		pass "$T/$name: SIGTERM: exit 0 with a total report"
	else
		fail "$T/$name: SIGTERM: exit 0 with a total report" "exit $rc; $(tail -2 "$OUT.err")"
	fi
	# Detached = the process is gone (its links closed with it); what the
	# kernel frees after that (RCU) may take a little longer to vanish.
	# The kernel removes uprobes mostly one at a time (55 to 110 ms each
	# measured, 10 per libssl): 150 ms per uprobe gatescope says it
	# removes (README).
	local libs bound nprobes
	libs=$(grep -c "TLS capture: uprobes on" "$OUT.err")
	nprobes=$(sed -n 's/.*removing \([0-9]*\) TLS uprobes.*/\1/p' "$OUT.err" | tail -1)
	bound=$((1000 + 150 * ${nprobes:-0}))
	if [ "$t_exit" -le "$bound" ]; then
		pass "$T/$name: SIGTERM: detached and exited within $bound ms ($t_exit ms, $libs libssl with uprobes)"
	else
		fail "$T/$name: SIGTERM: detached and exited within $bound ms ($libs libssl with uprobes)" "took $t_exit ms"
	fi
	if [ -z "$left" ]; then
		pass "$T/$name: every program, map and link it held is gone (checked at $t_gone ms)"
	else
		fail "$T/$name: every program, map and link it held is gone" \
			"after $t_gone ms still there: $left"
	fi
	pinned=$(find /sys/fs/bpf -newer "$GS_TMP/marker" 2>/dev/null | grep -v '^/sys/fs/bpf$')
	if [ -z "$pinned" ] && [ "$(mount | grep -c ' type bpf ')" = "$(cat "$GS_TMP/bpffs.before")" ]; then
		pass "$T/$name: nothing pinned, no bpffs mount left"
	else
		fail "$T/$name: nothing pinned, no bpffs mount left" "new: $pinned"
	fi
	if [ ! -d "$TRACEFS/instances" ]; then
		skip "$T/$name: no tracefs instance left" "tracefs not mounted at $TRACEFS"
		return
	fi
	ls "$TRACEFS/instances" | sort >"$GS_TMP/instances.after"
	new_inst=$(comm -13 "$GS_TMP/instances.before" "$GS_TMP/instances.after")
	probes=$(cat "$TRACEFS/kprobe_events" "$TRACEFS/uprobe_events" 2>/dev/null |
		grep -e "_${PID}_" -e gatescope)
	if [ -z "$new_inst" ] && [ -z "$probes" ]; then
		pass "$T/$name: no tracefs instance or probe event left"
	else
		fail "$T/$name: no tracefs instance or probe event left" "instances: $new_inst; probes: $probes"
	fi
}

sigterm_check socket-capture

# The syscall-tracepoint capture path attaches other programs: same checks.
gs_start "$OUT" -c "$CLIENT" --capture-path syscall -i 0.5 ||
	{ fail "$T" "gatescope --capture-path syscall did not start"; exit 1; }
PID=$GS_GATESCOPE_PID
bpf_objects "$PID" >"$GS_TMP/objects"
echo "# syscall capture: $(grep -c ^prog "$GS_TMP/objects") programs," \
	"$(grep -c ^map "$GS_TMP/objects") maps, $(grep -c ^link "$GS_TMP/objects") links"
sigterm_check syscall-capture

exit $((GS_FAILS > 0))
