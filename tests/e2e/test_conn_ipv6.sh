#!/bin/bash
# (f) As (a), over IPv6: the backend is labelled "[fd00:5c::...]:port".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_ipv6
N=5
PORT=8085
gs_require_bpf $T
conn_setup v6 || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE6" $PORT ok || { fail $T "server did not start"; exit 1; }
conn_run -- "$BE6" $PORT --count $N --timeout-ms 2000 || { fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE6" $PORT)

case $L in "[fd00:5c:"*"]:$PORT") pass "$T: label $L" ;; *) fail "$T" "label $L" ;; esac
gs_check "$T: client saw ok replies" "$(conn_client outcome ok eof true)" $N
conn_expect $T "$L" connects=$N refused=0 timeout=0 unreachable=0 \
	rst_received=0 rst_sent=0 retransmits="$(conn_client_sum total_retrans)"
conn_events $T "$L" ok 0
p50=$(gs_total "$OUT" "$L" connect_ms.p50)
if python3 -c 'import sys; sys.exit(not 0 < float(sys.argv[1]) < 2000)' "$p50" 2>/dev/null; then
	pass "$T: connect_ms p50 $p50"
else
	fail "$T" "connect_ms p50 '$p50'"
fi
gs_check "$T: no IPv4 backend" "$(gs_total "$OUT" "$(gs_label "$BE4" $PORT)" connects)" absent
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
