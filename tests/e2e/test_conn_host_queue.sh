#!/bin/bash
# Retransmit tries that send nothing are not retransmits.  The client's
# own queue (a tbf qdisc at 16 kbit/s on its veth) holds its 5,000 bytes
# for longer than the retransmission timeout, so the kernel's retransmit
# timer tries to send again a segment that is still in the host's queue:
# the try fails (-EBUSY) and nothing goes out.  On a kernel whose
# tcp_retransmit_skb tracepoint fires for such tries too (it has an err
# argument: 6.18 here), gatescope must count only the sent ones: exactly
# the retransmits the client's socket reports (tcpi_total_retrans), which
# the scenario must make happen.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_host_queue
PORT=8091
gs_require_bpf $T
conn_setup hq || { fail $T "testbed setup"; exit 1; }
VA="gsv${GS_SUFFIX}a0"
if ! ip netns exec "$CNS" tc qdisc add dev "$VA" root tbf rate 16kbit burst 1600 limit 200000; then
	skip $T "this kernel has no tbf qdisc (sch_tbf): the client's queue cannot be slowed"
	exit 0
fi
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }
conn_run -- "$BE4" $PORT --count 1 --send 5000 --timeout-ms 8000 --linger0 ||
	{ fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

gs_check "$T: client connected and was answered" "$(conn_client outcome ok)" 1
conn_client_retrans $T 1
conn_expect $T "$L" connects=1 refused=0 timeout=0 unreachable=0 retransmits="$R"
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
