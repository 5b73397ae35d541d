#!/bin/bash
# (a) Healthy server: N connections, each sends a request, reads the reply
# and closes.  gatescope must count N connects, no failure, no reset, no
# retransmit, a connect time no longer than the client's own, and (with
# -e all, one line per connection) the bytes each one sent and received.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conn_lib.sh"
T=conn_healthy
N=5
PORT=8080
gs_require_bpf $T
conn_setup ok || { fail $T "testbed setup"; exit 1; }
gs_serve "$BNS" "$BE4" $PORT ok || { fail $T "server did not start"; exit 1; }
conn_run -e all -- "$BE4" $PORT --count $N --timeout-ms 2000 --send 1000 || { fail $T "run"; conn_dump; exit 1; }
L=$(gs_label "$BE4" $PORT)

# The oracle: every connection of the client succeeded and got its reply.
gs_check "$T: client saw ok replies" "$(conn_client outcome ok eof true)" $N
conn_expect $T "$L" connects=$N refused=0 timeout=0 unreachable=0 \
	rst_received=0 rst_sent=0 retransmits="$(conn_client_sum total_retrans)"
conn_events $T "$L" ok $N

# Bytes per connection, as the client counted them: data only (the SYN and
# FINs take sequence numbers the kernel's byte counters include).  What the
# peer acknowledged and received, and what the process wrote and read
# (counted from the socket's write_seq when a send begins and at the close,
# with no hook at a send's end).
check_bytes() {
	local what=$1 bad
	bad=$(python3 - "$OUT" "$COUT" <<'PY'
import json, sys
gs = {o["local"]: o for o in map(json.loads, open(sys.argv[1]))
      if o.get("type") == "connection" and o.get("direction") == "upstream"}
bad = []
keys = ("bytes_sent", "bytes_received", "bytes_written", "bytes_read")
for c in (json.loads(l) for l in open(sys.argv[2])):
    g = gs.get(c["local"])
    got = g and tuple(g.get(k) for k in keys)
    if got != (c["sent"], c["received"], c["sent"], c["received"]):
        bad.append(f'{c["local"]}: client sent {c["sent"]} received {c["received"]}, '
                   f'gatescope {dict(zip(keys, got or ()))}')
print("; ".join(bad))
PY
)
	if [ -z "$bad" ]; then
		pass "$T: bytes sent, received, written and read per connection match the client's ($what)"
	else
		fail "$T: bytes per connection ($what)" "$bad"
	fi
}
check_bytes "1,000-byte requests"

# SYN -> ESTABLISHED as the kernel saw it lies inside the client's
# connect() -> writable interval; the histogram is good to 1 %.
read -r p50 p99 < <(python3 - "$OUT" "$L" "$COUT" <<'PY'
import json, sys
tot = [json.loads(l) for l in open(sys.argv[1]) if '"total"' in l][-1]
be = [b for b in tot["backends"] if b["backend"] == sys.argv[2]][0]
print(be["connect_ms"]["p50"], be["connect_ms"]["p99"]) if be["connect_ms"] else print("null null")
PY
)
cmax=$(python3 -c 'import json,sys; print(max(json.loads(l)["connect_ms"] for l in open(sys.argv[1])))' "$COUT")
if python3 -c 'import sys; p50, p99, c = map(float, sys.argv[1:]); sys.exit(not (0 < p50 <= p99 <= c * 1.01 + 0.001))' \
	"$p50" "$p99" "$cmax" 2>/dev/null; then
	pass "$T: connect_ms p50 $p50 p99 $p99 within client max $cmax"
else
	fail "$T" "connect_ms p50 '$p50' p99 '$p99' not in (0, client max $cmax]"
fi

# Requests of 300,000 bytes: many sends, each of several segment-sized
# chunks, some of them partial (the client's socket is non-blocking).
[ "$GS_FAILS" -eq 0 ] || conn_dump
conn_run -e all -- "$BE4" $PORT --count 2 --timeout-ms 4000 --send 300000 || { fail $T "large run"; conn_dump; exit 1; }
gs_check "$T: client saw ok replies to large requests" "$(conn_client outcome ok eof true)" 2
check_bytes "300,000-byte requests"
[ "$GS_FAILS" -eq 0 ] || conn_dump
exit 0
