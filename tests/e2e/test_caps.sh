#!/bin/bash
# Capabilities, not euid 0, decide whether gatescope may load its programs:
# root without CAP_BPF (and without CAP_SYS_ADMIN, which still implies it)
# gets one line naming what is missing and exit 1, not libbpf's output; an
# unprivileged user holding CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN traces.
. "$(dirname "$0")/lib.sh"
T=caps
gs_require_bpf $T
command -v setpriv >/dev/null || { skip $T "setpriv (util-linux) not installed"; exit 0; }
E=$GS_TMP/stderr
O=$GS_TMP/stdout
# A copy an unprivileged user can execute (GS_TMP is private to root).
BIN_DIR=$(mktemp -d /tmp/gs-caps.XXXXXX)
trap 'rm -rf "$BIN_DIR"; gs_cleanup' EXIT
cp "$GS_BIN" "$BIN_DIR/gatescope" && chmod 755 "$BIN_DIR" "$BIN_DIR/gatescope"

# one_line NAME WANT_RC PATTERN CMD...: exit WANT_RC, stderr exactly one
# line matching PATTERN, nothing on stdout.
one_line() {
	local name="$T: $1" want=$2 pat=$3 rc
	shift 3
	"$@" >"$O" 2>"$E" </dev/null
	rc=$?
	if [ $rc -ne "$want" ]; then fail "$name" "exit $rc, want $want: $(head -c 300 "$E")"; return; fi
	if [ "$(wc -l <"$E")" -ne 1 ]; then fail "$name" "$(wc -l <"$E") lines on stderr: $(head -c 600 "$E")"; return; fi
	if ! grep -q "$pat" "$E"; then fail "$name" "stderr lacks '$pat': $(cat "$E")"; return; fi
	if [ -s "$O" ]; then fail "$name" "wrote to stdout"; return; fi
	pass "$name"
}

one_line "root without CAP_BPF and CAP_SYS_ADMIN" 1 \
	"^gatescope: error: missing CAP_BPF to load BPF programs" \
	setpriv --bounding-set=-bpf,-sys_admin "$GS_BIN" -c gs-none --json -d 1
one_line "root without CAP_NET_ADMIN and CAP_PERFMON" 1 \
	"^gatescope: error: missing CAP_PERFMON, CAP_NET_ADMIN to load" \
	setpriv --bounding-set=-perfmon,-net_admin,-sys_admin "$GS_BIN" -c gs-none --json -d 1
one_line "nobody without capabilities" 1 \
	"^gatescope: error: missing CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN to load" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN_DIR/gatescope" -c gs-none --json -d 1

# nobody with exactly the capabilities: loads, traces, prints its total.
setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=+bpf,+perfmon,+net_admin --ambient-caps=+bpf,+perfmon,+net_admin \
	"$BIN_DIR/gatescope" -c gs-none --json -d 1 >"$O" 2>"$E" </dev/null
rc=$?
if [ $rc -eq 0 ] && grep -q '^{"type":"total"' "$O"; then
	pass "$T: nobody with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN traces"
else
	fail "$T: nobody with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN" "exit $rc: $(head -c 400 "$E")"
fi
exit 0
