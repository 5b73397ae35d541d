#!/bin/bash
# SPDX-License-Identifier: MIT
# Client-facing ports found without --listen, from the kernel's listening
# sockets (sock_diag), in every network namespace the traced processes
# live in.  Processes of one run-unique name listen in gatescope's own
# namespace (IPv4), in a namespace A (IPv6 on ::1, and IPv4) and in a
# namespace B (IPv4, started after gatescope: found by the rescan).  Other
# listeners, not of that name, sit beside them in the same namespaces.
# Oracle: the addresses the test told each process to listen on.  Every
# port of the traced name must be reported, none of the others.
. "$(dirname "$0")/lib.sh"
T=listen_discovery
gs_require_bpf "$T"
[ -x "$GS_TOOLS/gs-tcp" ] || { fail "$T" "gs-tcp not built (make tools)"; exit 1; }

NAME="gsld$GS_SUFFIX"
NAME=${NAME:0:15}
BIN=$(gs_tool_as "$NAME") || { fail "$T" "copy of gs-tcp"; exit 1; }
NS_A=$(gs_ns lda) || { fail "$T" "namespace"; exit 1; }
NS_B=$(gs_ns ldb) || { fail "$T" "namespace"; exit 1; }
BASE=$((30000 + GS_SUFFIX % 20000))
P_ROOT=$BASE P_A6=$((BASE + 1)) P_A4=$((BASE + 2)) P_B=$((BASE + 3))
P_OTHER_A=$((BASE + 4)) P_OTHER_B=$((BASE + 5))
OUT=$GS_TMP/gs.json

# listen NS BIN ADDR PORT: BIN serves on ADDR:PORT in NS ("-": gatescope's
# own namespace); returns once it listens.
listen() {
	gs_serve_bin "$2" "$1" "$3" "$4" ok
}

listen - "$BIN" 127.0.0.1 "$P_ROOT" &&
	listen "$NS_A" "$BIN" ::1 "$P_A6" &&
	listen "$NS_A" "$BIN" 127.0.0.1 "$P_A4" &&
	listen "$NS_A" "$GS_TOOLS/gs-tcp" 127.0.0.1 "$P_OTHER_A" &&
	listen "$NS_B" "$GS_TOOLS/gs-tcp" ::1 "$P_OTHER_B" ||
	{ fail "$T" "listeners did not start"; exit 1; }

gs_start "$OUT" -c "$NAME" -i 0.5 || { fail "$T" "gatescope did not start"; exit 1; }
listen "$NS_B" "$BIN" 127.0.0.1 "$P_B" || { fail "$T" "late listener did not start"; exit 1; }
for _ in $(seq 50); do	# the rescan runs every second
	grep -q "client-facing port $P_B " "$OUT.err" && break
	sleep 0.1
done
gs_stop

found=$(sed -n 's/.*client-facing port \([0-9]*\) .*/\1/p' "$OUT.err" | sort -n | tr '\n' ' ')
want="$P_ROOT $P_A6 $P_A4 $P_B "
echo "# ports reported: $found; listening under $NAME: $want"
gs_check "$T: every port of the traced processes, none of the others' (IPv4, IPv6, 3 namespaces)" \
	"$found" "$want"
if grep -q "sock_diag netlink refused" "$OUT.err"; then
	fail "$T: sock_diag answered" "$(grep 'sock_diag' "$OUT.err")"
else
	pass "$T: sock_diag answered (no fallback to /proc)"
fi
exit $((GS_FAILS > 0))
