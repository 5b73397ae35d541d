#!/bin/bash
# (e) Loss after the handshake: the backend namespace drops every
# data-carrying packet to the port, so the request is retransmitted.  The
# client waits for two retransmits, then aborts with an RST.  gatescope must
# count exactly the retransmits the client's socket reports and one reset
# sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_loss
PORT=8084
gs_require_bpf $T
conn_setup loss || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }
# SYN and bare ACKs are < 100 bytes; the 1000-byte request is not.
conn_nft "$BNS" tcp dport $PORT meta length gt 200 drop || { fail $T "nft rule"; exit 1; }
conn_run -- "$BE4" $PORT --count 1 --send 1000 --timeout-ms 4000 --wait-retrans 2 --linger0 ||
	{ fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

gs_check "$T: client connected and was not answered" "$(conn_client outcome ok received 0)" 1
conn_client_retrans $T 2
conn_expect $T "$L" connects=1 refused=0 timeout=0 unreachable=0 \
	rst_received=0 rst_sent=1 retransmits="$R"
conn_events $T "$L" reset_sent 1
gs_check "$T: connection line retransmits, RST in ESTABLISHED" \
	"$(gs_total "$OUT" --where connection backend "$L" retransmits "$R" syn_retransmits 0 rst_state 1)" 1
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
