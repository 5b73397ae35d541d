#!/bin/bash
# Retransmits are segments.  The backend namespace drops one data packet in
# eight at random while the client sends 200 KB on each of 4 connections:
# the client's kernel recovers with retransmits of several segments at a
# time (one buffer, GSO), which its socket counts one by one
# (tcpi_total_retrans).  gatescope must count the same: exactly what the
# client's sockets report, summed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_loss_segments
PORT=8095
gs_require_bpf $T
conn_setup lseg || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }
# SYN and bare ACKs are < 100 bytes; data segments are not.
conn_nft "$BNS" tcp dport $PORT meta length gt 200 numgen random mod 8 == 0 drop ||
	{ fail $T "nft rule"; exit 1; }
conn_run -- "$BE4" $PORT --count 4 --send 200000 --timeout-ms 20000 ||
	{ fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

gs_check "$T: every client connection was answered" "$(conn_client outcome ok)" 4
conn_client_retrans $T 8
conn_expect $T "$L" connects=4 refused=0 timeout=0 unreachable=0 retransmits="$R"
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
