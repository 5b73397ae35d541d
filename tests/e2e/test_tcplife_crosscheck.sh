#!/bin/bash
# Cross-check against libbpf-tools tcplife: one run of the unique client
# making K good and R refused connections, both tools tracing at once.  They
# must see the same connections: per backend, tcplife's lines for the
# client's sockets equal gatescope's connects.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=tcplife_crosscheck
K=10
R=3
PORT=8090
CLOSED_PORT=8091
TCPLIFE=${TCPLIFE:-/usr/sbin/tcplife}
gs_require_bpf $T
[ -x "$TCPLIFE" ] || { skip $T "$TCPLIFE not installed (Debian package libbpf-tools)"; exit 0; }
# tcplife finds its tracepoints through tracefs, which a fresh machine has
# not mounted (gatescope itself does not need it).
if [ ! -e /sys/kernel/tracing/events ]; then
	mount -t tracefs tracefs /sys/kernel/tracing ||
		{ fail $T "tracefs is not mounted and could not be mounted for tcplife"; exit 1; }
	trap 'umount /sys/kernel/tracing 2>/dev/null; gs_cleanup' EXIT	# as it was
fi
conn_setup tl || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }

TL=$GS_TMP/tcplife.out
gs_bg stdbuf -oL "$TCPLIFE" -w >"$TL" 2>"$TL.err"
TL_PID=$GS_LAST_PID
for _ in $(seq 100); do
	grep -q '^PID' "$TL" && break
	kill -0 "$TL_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q '^PID' "$TL" || { fail $T "tcplife did not start: $(head -c 300 "$TL.err")"; exit 1; }

gs_start "$OUT" -c "$COMM" || { fail $T "gatescope did not start"; exit 1; }
{
	timeout 20 ip netns exec "$CNS" "$CLIENT" connect "$BE4" $PORT --count $K --timeout-ms 2000
	timeout 20 ip netns exec "$CNS" "$CLIENT" connect "$BE4" $CLOSED_PORT --count $R --timeout-ms 2000
} >"$COUT"
sleep 0.5
gs_stop
kill -INT "$TL_PID"
for _ in $(seq 30); do kill -0 "$TL_PID" 2>/dev/null || break; sleep 0.1; done

gs_check "$T: client connections ok" "$(conn_client outcome ok)" $K
gs_check "$T: client connections refused" "$(conn_client outcome refused)" $R
# tcplife lines: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS.  The
# client's own sockets are those to the backend's address and port (the
# backend's sockets can carry the client's name: tcplife takes it from the
# context of the packet that closed them).
tl_count() {
	awk -v c="$COMM" -v a="$BE4" -v p="$1" '$2 == c && $5 == a && $6 == p' "$TL" | wc -l
}
for p in $PORT $CLOSED_PORT; do
	L=$(gs_label "$BE4" $p)
	n=$(tl_count $p)
	[ "$p" = $PORT ] && want=$K || want=$R
	gs_check "$T: tcplife connections to $L" "$n" "$want"
	gs_check "$T: gatescope connects to $L equal tcplife's" "$(gs_total "$OUT" "$L" connects)" "$n"
done
if [ "$GS_FAILS" -ne 0 ]; then
	conn_dump
	echo "--- tcplife:"; grep -F "$COMM" "$TL"
fi
exit 0
