#!/bin/bash
# (c) SYN blackhole: the backend namespace drops every SYN to the port.
# The client gives up after 1.5 s, by which time the kernel has
# retransmitted the SYN (at ~1 s).  gatescope must count one connect timed
# out and exactly the SYN retransmits the client's socket reports.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_blackhole
PORT=8082
gs_require_bpf $T
conn_setup bh || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }
conn_nft "$BNS" tcp dport $PORT tcp flags syn drop || { fail $T "nft rule"; exit 1; }
conn_run -- "$BE4" $PORT --count 1 --timeout-ms 1500 || { fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

gs_check "$T: client timed out" "$(conn_client outcome timeout)" 1
conn_client_retrans $T 1	# its SYN
conn_expect $T "$L" connects=1 refused=0 timeout=1 unreachable=0 \
	rst_received=0 rst_sent=0 retransmits="$R"
conn_events $T "$L" timeout 1
gs_check "$T: connection line syn_retransmits" \
	"$(gs_total "$OUT" --where connection backend "$L" syn_retransmits "$R")" 1
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
