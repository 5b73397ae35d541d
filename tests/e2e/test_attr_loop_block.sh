#!/bin/bash
# An asyncio gateway whose event loop is blocked, and clients that give up
# first.  gs-pyproxy writes each /block request to a fast, healthy backend,
# then makes a blocking call of 1 s (a synchronous library call in a
# coroutine: the whole loop stops).  Its clients give up after 0.5 s.  The
# backend answers at once; the answer waits unread in the gateway's socket,
# and a request sent while the loop is blocked waits unread too.  The
# client left, but the gateway made it leave: every /block request is
# gateway/gateway_stall (client_closed), not client/client_abort.
#
# The contrast, through the same gateway with the same impatient clients:
# /slow goes to a backend that never answers, the loop never blocks: the
# client's own abort (client/client_abort).  /ok stays healthy.
#
# Oracles: curl's record (no status on /block and /slow, 200 on /ok) and
# the gateway's own log (it got the backend's 200 for every /block request,
# too late: "aborted" writing into the closed connection).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_loop_block
gs_require_bpf "$T"
why=$(GW_KIND=py gw_kind_ready py) || { skip "$T" "$why"; exit 0; }
GW_BACKEND_SECONDS=40
gw_setup || { fail "$T" "testbed setup"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2)
gw_backend "$B1NS" :: "$P1" || { fail "$T" "backend 1"; exit 1; }
gw_backend "$B2NS" :: "$P2" --mode hang --delay-ms 20000 || { fail "$T" "backend 2"; exit 1; }
BE=$(gw_hostport "$BE1_4" "$P1") BE_HANG=$(gw_hostport "$BE2_4" "$P2")
GW_KIND=py
GW_OUT=$GS_TMP/gs.json
GW_CLIENT_PIDS=()
: >"$GW_DIR/access.log"
gs_bg ip netns exec "$GNS" python3 "$GS_ROOT/tests/tools/gs-pyproxy.py" -max-seconds 40 \
	-listen "$GW4:$GW_PORT" -access-log "$GW_DIR/access.log" \
	"/block=$BE;read=3s;block=1s" "/slow=$BE_HANG;read=3s" "/ok=$BE" \
	>/dev/null 2>"$GW_DIR/error.log"
GW_PID=$GS_LAST_PID
gs_wait_listen "$GNS" "$GW_PORT" || { fail "$T" "proxy did not start: $(cat "$GW_DIR/error.log")"; exit 1; }
gw_gatescope "$GW_OUT" || { fail "$T" "gatescope did not start"; exit 1; }

# The loop blocks for 1 s per /block request: 4 in a row, each client
# gives up at 0.5 s (the next one's request then waits for the loop).
# /slow first, while the loop runs freely.
GW_CURL_MAX_TIME=0.5 gw_attr_clients /slow 2 2
wait "${GW_CLIENT_PIDS[@]}"
GW_CLIENT_PIDS=()
GW_CURL_MAX_TIME=0.5 gw_attr_clients /block 1 4
sleep 0.2
gw_attr_clients /ok 1 6
gw_attr_stop

python3 - "$T" "$GW_OUT" "$GW_DIR/access.log" "$GS_TMP/client.attr.py" "$BE" <<-'EOF'
import collections, json, sys
test, out, alog, cfile, be = sys.argv[1:6]
fails = 0
def res(ok, name, why=""):
    global fails
    print(f"PASS {test}: {name}" if ok else f"FAIL {test}: {name}: {why}")
    fails += not ok
client = collections.defaultdict(list)	# loc -> curl's codes
for line in open(cfile):
    loc, code, _ = line.split(None, 2)
    client[loc].append(code)
gw = collections.defaultdict(list)	# loc -> (status, upstream, error)
for line in open(alog):
    f = line.split(None, 9)
    gw["/" + f[1].split("/")[1]].append((f[2], f[3], f[9].strip()))
reqs = [o for o in map(json.loads, open(out)) if o.get("type") == "request"]
by = collections.defaultdict(list)
for o in reqs:
    by["/" + o["route"].split("/")[1]].append(o)
verdicts = {loc: collections.Counter(f"{o['cause']}/{o['reason']}" for o in by[loc]) for loc in by}
print(f"# clients {dict(client)}")
print(f"# gateway log {dict(gw)}")
print(f"# verdicts {verdicts}")
res(client["/block"] == ["000"] * 4 and client["/slow"] == ["000"] * 4,
    "every /block and /slow client gave up with no status (curl's record)", dict(client))
res(len(gw["/block"]) == 4 and all(up == "200" for _, up, _ in gw["/block"]),
    "the gateway got the backend's 200 for every /block request (its log)", gw["/block"])
res(len(by["/block"]) == 4 and all(o["client_closed"] for o in by["/block"]),
    "gatescope reports the 4 /block requests, each with its client gone", by["/block"][:1])
res(all((o["cause"], o["reason"]) == ("gateway", "gateway_stall") for o in by["/block"]),
    "every /block request is gateway/gateway_stall", verdicts.get("/block"))
res(all("unread in the gateway's sockets" in o["evidence"] and
        (be in o["evidence"] or "the request for" in o["evidence"]) for o in by["/block"]),
    "the evidence says what waited unread (the answer of the backend, or the request)",
    [o["evidence"] for o in by["/block"]][:2])
res(len(by["/slow"]) == 4 and all((o["cause"], o["reason"]) == ("client", "client_abort")
                                  for o in by["/slow"]),
    "every /slow request (backend silent, loop free) is client/client_abort", verdicts.get("/slow"))
res(client["/ok"] == ["200"] * 6 and len(by["/ok"]) == 6 and
    all(o["status"] == 200 and o["cause"] is None for o in by["/ok"]),
    "/ok: 6 answered 200, unblamed", verdicts.get("/ok"))
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
exit $((GS_FAILS > 0))
