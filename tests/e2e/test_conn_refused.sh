#!/bin/bash
# (b) Nothing listening: every SYN is answered by an RST.  gatescope must
# count N connects, all refused, and no RST as a reset.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_refused
N=4
PORT=8081
gs_require_bpf $T
conn_setup ref || { fail $T "testbed setup"; exit 1; }
conn_run -- "$BE4" $PORT --count $N --timeout-ms 2000 || { fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

gs_check "$T: client saw ECONNREFUSED" "$(conn_client outcome refused errno 111)" $N
conn_expect $T "$L" connects=$N refused=$N timeout=0 unreachable=0 \
	rst_received=0 rst_sent=0 retransmits="$(conn_client_sum total_retrans)"
conn_events $T "$L" refused $N
gs_check "$T: connection lines say ECONNREFUSED" \
	"$(gs_total "$OUT" --where connection backend "$L" error ECONNREFUSED)" $N
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
