#!/bin/bash
# Unreachable: the backend namespace answers SYNs to the port with ICMP
# host-unreachable (IPv4) and address-unreachable (IPv6).  The client's
# connect fails with EHOSTUNREACH; gatescope must count those connects as
# unreachable, and print one "connection" line each saying so.
# Both kernel paths are exercised: the IPv4 error comes back while connect()
# still holds the socket (queued, a soft error), the IPv6 one is ignored
# that way and ends the connect at the first SYN retransmit (a hard error).
# The clients wait 6 s, past the second SYN retransmit (3 s): the backend
# namespace rate-limits its ICMP errors, and one that is not sent leaves the
# connect to the next retransmit, not to a client timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_unreachable
N=2
PORT=8086
gs_require_bpf $T
conn_setup un || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }
gs_serve "$BNS" "$BE6" $PORT ok || { fail $T "server did not start"; exit 1; }
conn_nft "$BNS" ip daddr "$BE4" tcp dport $PORT reject with icmp type host-unreachable &&
	conn_nft "$BNS" ip6 daddr "$BE6" tcp dport $PORT reject with icmpv6 type addr-unreachable ||
	{ fail $T "nft rule"; exit 1; }
gs_start "$OUT" -c "$COMM" -e errors || { fail $T "gatescope did not start"; exit 1; }
for be in "$BE4" "$BE6"; do
	timeout 20 ip netns exec "$CNS" "$CLIENT" connect "$be" $PORT --count $N --timeout-ms 6000 \
		>"$COUT.$be"
done
sleep 0.3
gs_stop

for be in "$BE4" "$BE6"; do
	L=$(gs_label "$be" $PORT)
	COUT=$COUT.$be
	gs_check "$T: client saw EHOSTUNREACH from $L" "$(conn_client outcome unreachable errno 113)" $N
	# A SYN may be retransmitted before the ICMP error ends the connect.
	conn_expect $T "$L" connects=$N refused=0 timeout=0 unreachable=$N \
		rst_received=0 rst_sent=0 retransmits="$(conn_client_sum total_retrans)"
	conn_events $T "$L" unreachable $N
	gs_check "$T: $L connection lines say EHOSTUNREACH" \
		"$(gs_total "$OUT" --where connection backend "$L" error EHOSTUNREACH)" $N
	COUT=${COUT%.$be}
done
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
