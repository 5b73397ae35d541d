#!/bin/bash
# A gateway that stops for a second (SIGSTOP to all its processes: a
# starved or paused host, a stop-the-world pause) while its clients wait,
# each giving up after 0.5 s.  The backend answers /stop in 200 ms; the
# gateway is stopped 100 ms after the clients start and continued 1 s later.
# The answers (or the requests, when the gateway stopped before reading
# them) wait unread in the gateway's sockets while the clients give up:
# every /stop request is gateway/gateway_stall (client_closed), not
# client/client_abort.  Against nginx, HAProxy, the Go proxy and the asyncio
# proxy.  /ok, asked after the pause, stays healthy.
#
# Oracles: curl's record (no status on /stop, 200 on /ok), the gateway's own
# log (one line per request), and the pause itself (the injected fault).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_gateway_stopped
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode slow --delay-ms 200 || { fail "$T" "backend"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P")

# gw_pause SECONDS: SIGSTOP every process of the gateway (nginx: its master
# and workers), SIGCONT them SECONDS later.
gw_pause() {
	local pids
	pids="${GW_PID:-$GW_NGINX_PID} $(pgrep -P "${GW_PID:-$GW_NGINX_PID}" | tr '\n' ' ')"
	kill -STOP $pids
	sleep "$1"
	kill -CONT $pids
}

for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /stop "$BE" connect=1s read=3s
	gw_attr_start
	GW_CURL_MAX_TIME=0.5 gw_attr_clients /stop 4 1
	sleep 0.1
	gw_pause 1
	wait "${GW_CLIENT_PIDS[@]}"
	GW_CLIENT_PIDS=()
	gw_attr_clients /ok 1 4
	gw_attr_stop
	python3 - "$TK" "$GW_OUT" "$GS_TMP/client.attr.$GW_KIND" "$GW_ALOG" <<-'EOF'
	import collections, json, sys
	test, out, cfile, alog = sys.argv[1:5]
	fails = 0
	def res(ok, name, why=""):
	    global fails
	    print(f"PASS {test}: {name}" if ok else f"FAIL {test}: {name}: {why}")
	    fails += not ok
	client = collections.defaultdict(list)
	for line in open(cfile):
	    loc, code, _ = line.split(None, 2)
	    client[loc].append(code)
	logged = collections.Counter(l.split()[1].split("/")[1] for l in open(alog) if l.strip())
	reqs = [o for o in map(json.loads, open(out)) if o.get("type") == "request"]
	stop = [o for o in reqs if o["route"].startswith("/stop")]
	ok = [o for o in reqs if o["route"].startswith("/ok")]
	verdicts = collections.Counter(f"{o['cause']}/{o['reason']}" for o in stop)
	print(f"# clients {dict(client)}; gateway logged {dict(logged)}; /stop verdicts {dict(verdicts)}")
	res(client["/stop"] == ["000"] * 4, "every /stop client gave up with no status (curl's record)",
	    client["/stop"])
	res(logged["stop"] == 4 and logged["ok"] == 4, "the gateway logged every request", dict(logged))
	res(len(stop) == 4 and all(o["client_closed"] for o in stop),
	    "gatescope reports the 4 /stop requests, each with its client gone", len(stop))
	res(stop and all((o["cause"], o["reason"]) == ("gateway", "gateway_stall") for o in stop),
	    "every /stop request is gateway/gateway_stall",
	    [(o["cause"], o["reason"], o["evidence"]) for o in stop if o["reason"] != "gateway_stall"][:2])
	res(len(ok) == 4 and all(o["status"] == 200 and o["cause"] is None for o in ok),
	    "/ok after the pause: 4 answered 200, unblamed", [(o["status"], o["cause"]) for o in ok])
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
done
exit $((GS_FAILS > 0))
