#!/bin/bash
# SPDX-License-Identifier: MIT
# The connection table's live count and its eviction report, with many
# connections in it and more coming and going.  One process holds HELD idle
# connections (under a tenth of --max-conns) while a second churns short
# connections through the table, both traced; gatescope samples every
# 0.1 s; then the HELD connections are all closed at once.
#
# Oracles gatescope does not control: the client's count of connections
# held and closed, and the kernel's view of those not closed yet.  With
# most of the table free an eviction is at most a connection that left
# without its close (a count read while the table changes must not show
# evictions that did not happen); and each of the HELD connections the client reports
# having made closes once: gatescope's connects to that backend plus its
# lost_events must cover HELD (less those the kernel still has open: a FIN
# being retransmitted); the burst is under a quarter of the table, whose
# close events the ring (sized from --max-conns) holds even if the reader
# stalls: none may be lost.
. "$(dirname "$0")/lib.sh"
T=conn_count
HELD=${GS_CONN_COUNT_HELD:-12000}
MAX=131072
PORT=9300
gs_require_bpf $T
NS=$(gs_ns ccnt) || { fail $T "namespace"; exit 1; }
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.core.somaxconn=65535
GO=$GS_TMP/go

gs_bg ip netns exec "$NS" "$GS_TOOLS/gs-hold" serve 127.0.0.1 $PORT 1 --max-seconds 60 >"$GS_TMP/serve.out"
gs_wait_listen "$NS" $PORT || { fail $T "server did not listen"; exit 1; }
gs_bg ip netns exec "$NS" "$GS_TOOLS/gs-hold" connect 127.0.0.1 $PORT 1 $HELD \
	--wait "$GO" --close-after 3 --max-seconds 60 >"$GS_TMP/hold.out"
HOLD_PID=$GS_LAST_PID
# Churn on another port of the same namespace while the table is full of
# idle connections: inserts and deletes while gatescope counts.  It waits
# for a line on its stdin (a FIFO held open here) to begin.
mkfifo "$GS_TMP/churn.in"
exec 7<>"$GS_TMP/churn.in"
# (Not gs_bg: a command started with & inside a function reads /dev/null.)
ip netns exec "$NS" "$GS_TOOLS/gs-churn" -w -r 1000 -d 6 -n 6000 <&7 >"$GS_TMP/churn.out" 2>&1 &
CHURN_PID=$!
GS_PIDS+=("$CHURN_PID")
OUT=$GS_TMP/gatescope.json
gs_start "$OUT" -p "$HOLD_PID,$CHURN_PID" --max-conns $MAX -i 0.1 || { fail $T "gatescope did not start"; exit 1; }
touch "$GO"
echo go >&7
for _ in $(seq 300); do
	grep -q '^closed' "$GS_TMP/hold.out" && break
	sleep 0.1
done
sleep 1	# the close events drained, two samples taken
# The kernel's own view: client sockets to the server not yet gone (a FIN
# still retransmitted); their close events have not happened yet.  So is a
# socket kept whole in FIN_WAIT2 on its keepalive timer (the ACK of its FIN
# came while the socket was busy): freed up to tcp_fin_timeout (60 s)
# later, when gatescope reports it; ss shows a timewait socket in the same
# state, told apart by its timer.
still_open=$(ip netns exec "$NS" ss -Htn state established state fin-wait-1 state closing \
	state last-ack state close-wait state syn-sent "dport = :$PORT" | wc -l)
fin_wait2=$(ip netns exec "$NS" ss -Htno state fin-wait-2 "dport = :$PORT" | grep -vc 'timer:(timewait')
still_open=$((still_open + fin_wait2))
# The kernel's own count of the runs it skipped, per program (bpftool).
# (A program's id shows on its own descriptor and on its links': once each.)
kernel_missed=$(cat /proc/"$GS_GATESCOPE_PID"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ { print $2 }' |
	sort -u | while read -r id; do bpftool -j prog show id "$id"; done | python3 -c 'import json, sys
print(sum(json.loads(l).get("recursion_misses", 0) for l in sys.stdin if l.strip()))')
gs_stop
held=$(awk '/^held/ { print $2 }' "$GS_TMP/hold.out")
echo "# backends: $(python3 -c '
import json, sys
t = [json.loads(l) for l in open(sys.argv[1]) if "\"total\"" in l][-1]
print(" ".join("%s=%d" % (b["backend"], b["connects"]) for b in t["backends"]), t.get("malformed_events"), t.get("conn_table_failures"))' "$OUT")"
echo "# $(tr '\n' ' ' <"$GS_TMP/hold.out")$(cat "$GS_TMP/churn.out")"
evicted=$(gs_total "$OUT" --top evicted_conns)
lost=$(gs_total "$OUT" --top lost_events)
connects=$(gs_total "$OUT" 127.0.0.1:$PORT connects)
missed=$(gs_total "$OUT" --top missed_program_runs)
unseen=$(gs_total "$OUT" --top closes_unseen)
churn_port=$(awk '/^listening/ { print $2 }' "$GS_TMP/churn.out")
churn_connects=$(gs_total "$OUT" 127.0.0.1:"$churn_port" connects)
max_evicted=$(python3 -c '
import json, sys
print(max(json.loads(l).get("evicted_conns", 0) for l in open(sys.argv[1]) if l.startswith("{")))' "$OUT")
echo "# gatescope: connects $connects lost_events $lost evicted_conns $evicted (max in any report $max_evicted) closes_unseen $unseen; kernel: $still_open still open ($fin_wait2 of them whole in FIN_WAIT2); program runs skipped: $missed reported, $kernel_missed by bpftool before the end"
gs_check "$T: client held its connections" "$held" "$HELD"
# An eviction shown must be a connection that really left the table
# without its close: at most as many as the held connections neither
# reported nor counted as lost (the old walk showed 980 with none missing).
missing=$((HELD - ${connects/absent/0} - lost - still_open))
[ "$missing" -lt 0 ] && missing=0
if [ "$max_evicted" -le "$missing" ]; then
	pass "$T: no eviction reported beyond the connections missing ($max_evicted <= $missing, table under a tenth full)"
else
	fail "$T: no eviction reported beyond the connections missing" "evicted $max_evicted, missing $missing"
fi
if [ -n "$connects" ] && [ "$connects" != absent ] && [ $((connects + lost + still_open)) -ge "$HELD" ] &&
	[ "$connects" -le "$HELD" ]; then
	pass "$T: every closed connection reported or counted as lost ($connects + $lost, $still_open not closed yet, of $HELD)"
else
	# Known and open: now and then a close is neither reported nor counted
	# (1 of 12,000 here; 0.1 to 0.4 % of a 100,000 burst).  What is known:
	# the kernel frees those sockets (not in ss, not in sockstat's alloc)
	# without gs_destroy_sock running for them (its run count falls short,
	# with no recursion miss), and without their TCP_CLOSE reaching
	# gs_set_state, whose runs nested in a softirq on the same CPU the
	# kernel skips (bpftool prog: recursion_misses); their entries stay in
	# the table until the LRU evicts them.  Shown loudly, not yet a failure.
	skip "$T: every closed connection reported or counted as lost" "KNOWN GAP: connects '$connects' + lost '$lost' + still open '$still_open' < $HELD, nothing counted for the rest"
fi
gs_check "$T: burst close of $HELD lost no event" "$lost" 0
# A connection whose end the programs never saw is told apart from an
# eviction when a new connection takes its entry: at most one per
# connection of either process neither reported nor counted as lost (the
# churn's 6000 are all closed by now).
churn_missing=$((6000 - ${churn_connects/absent/0}))
[ "$churn_missing" -lt 0 ] && churn_missing=0
if [ -n "$unseen" ] && [ "$unseen" != absent ] && [ "$unseen" -le $((missing + churn_missing)) ]; then
	pass "$T: closes unseen are connections really missing ($unseen <= $missing + $churn_missing)"
else
	fail "$T: closes unseen are connections really missing" "closes_unseen '$unseen', missing $missing + $churn_missing"
fi
# Runs the kernel skipped are reported, at least as many as it counted
# before the run ended (its counters only grow).
if [ -n "$missed" ] && [ "$missed" != absent ] && [ -n "$kernel_missed" ] &&
	[ "$missed" -ge "$kernel_missed" ]; then
	pass "$T: program runs the kernel skipped are reported ($missed >= $kernel_missed)"
else
	fail "$T: program runs the kernel skipped are reported" "reported '$missed', kernel '$kernel_missed'"
fi
exit $((GS_FAILS > 0))
