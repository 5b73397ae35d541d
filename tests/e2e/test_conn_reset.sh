#!/bin/bash
# (d) The server reads each request and answers with an RST (SO_LINGER
# {1,0}).  gatescope must count N connects, no failed connect, N resets
# received and none sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_reset
N=4
PORT=8083
gs_require_bpf $T
conn_setup rst || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT reset || { fail $T "server did not start"; exit 1; }
conn_run -- "$BE4" $PORT --count $N --timeout-ms 2000 || { fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

gs_check "$T: client saw ECONNRESET" "$(conn_client outcome reset errno 104)" $N
conn_expect $T "$L" connects=$N refused=0 timeout=0 unreachable=0 \
	rst_received=$N rst_sent=0 retransmits="$(conn_client_sum total_retrans)"
conn_events $T "$L" reset_received $N
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
