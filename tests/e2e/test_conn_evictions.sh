#!/bin/bash
# A full connection table: one client process holds HELD connections open
# at once while gatescope runs with --max-conns 64 (the smallest).  The
# LRU map must evict, and every eviction must be counted in evicted_conns
# (at least HELD - 64, at most HELD), not lost silently; gatescope keeps
# running and still reports the backend.
. "$(dirname "$0")/lib.sh"
T=conn_evictions
HELD=300
MAX=64
PORT=8080
gs_require_bpf $T
CNS=$(gs_ns cev) && BNS=$(gs_ns bev) && gs_link "$CNS" "$BNS" 0 || { fail $T "testbed setup"; exit 1; }
BE4=$(gs_ip_b 0)
GO=$GS_TMP/go

# Server: accepts and holds every connection until its peer closes (bounded).
gs_bg ip netns exec "$BNS" python3 -c '
import select, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1024)
conns, end = [], time.time() + 30
while time.time() < end:
    r, _, _ = select.select([s] + conns, [], [], 0.2)
    for c in r:
        if c is s:
            conns.append(s.accept()[0])
        elif not c.recv(64):
            c.close(); conns.remove(c)
' "$BE4" $PORT
gs_wait_listen "$BNS" $PORT
# Client: waits for gatescope, then opens HELD connections, holds them all
# for a second, closes them, and prints how many it made.
gs_bg ip netns exec "$CNS" python3 -c '
import os, socket, sys, time
go, addr, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
end = time.time() + 20
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
socks = [socket.create_connection((addr, port), timeout=5) for _ in range(n)]
time.sleep(1)
for s in socks:
    s.close()
print(len(socks), flush=True)
' "$GO" "$BE4" $PORT $HELD >"$GS_TMP/client.out"
CLIENT_PID=$GS_LAST_PID
OUT=$GS_TMP/gatescope.json
gs_start "$OUT" -p "$CLIENT_PID" --max-conns $MAX -i 0.5 || { fail $T "gatescope did not start"; exit 1; }
touch "$GO"
for _ in $(seq 200); do
	[ -s "$GS_TMP/client.out" ] && break
	sleep 0.1
done
sleep 1.2	# two report intervals: an eviction is confirmed by two samples
gs_stop
made=$(cat "$GS_TMP/client.out")
evicted=$(gs_total "$OUT" --top evicted_conns)
echo "# client held $made connections; gatescope: evicted_conns $evicted with --max-conns $MAX"
if [ "$made" = "$HELD" ]; then
	pass "$T: client held $HELD connections at once"
else
	fail "$T: client held $HELD connections at once" "it made '$made'"
fi
if [ -n "$evicted" ] && [ "$evicted" -ge $((HELD - MAX)) ] && [ "$evicted" -le "$HELD" ]; then
	pass "$T: evictions counted ($evicted, at least $((HELD - MAX)))"
else
	fail "$T: evictions counted" "evicted_conns '$evicted', want $((HELD - MAX))..$HELD"
fi
gs_check "$T: gatescope exited cleanly" "$(grep -c '"type":"total"' "$OUT")" 1
exit $((GS_FAILS > 0))
