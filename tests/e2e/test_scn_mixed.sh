#!/bin/bash
# Concurrency on one path with mixed servers: 100 requests at once for the
# same path through a route with two servers in round robin, one fast and
# one slower (hung 3 s) than the gateway's 1 s read timeout.  The path
# cannot tell the requests apart, only their connections can.  Oracles:
# curl's own record of every request (its port and status) and the
# gateway's log (which server answered which client connection, and that
# its read timer ended the failed ones).  Every 504 must be
# backend/backend_slow naming the slow server, every 200 unblamed and
# naming the fast one.  Against nginx, HAProxy and the Go proxy.
. "$(dirname "$0")/scenario_lib.sh"
scn_begin scn_mixed mixed_servers
P_FAST=$(gw_be_port 2) P_SLOW=$(gw_be_port 3)
gw_backend "$B2NS" :: "$P_FAST" || { fail "$T" "fast backend"; exit 1; }
gw_backend "$B2NS" :: "$P_SLOW" --mode hang --delay-ms 3000 || { fail "$T" "slow backend"; exit 1; }
export FAST=$(gw_hostport "$BE2_4" "$P_FAST") SLOW=$(gw_hostport "$BE2_4" "$P_SLOW")
GW_READ_TIMEOUT=1s
for i in $(seq 100); do echo /mixed/item; done >"$GS_TMP/urls"
for i in $(seq 10); do echo "/ok/$i"; done >"$GS_TMP/ok-urls"
for GW_KIND in $(gw_kinds); do
	scn_kind || continue
	scn_route /mixed "$FAST" "$SLOW"
	scn_start
	scn_curl mixed "$GS_TMP/urls"
	scn_curl ok "$GS_TMP/ok-urls"
	scn_stop
	scn_check <<-'PY'
	import os
	FAST, SLOW = os.environ["FAST"], os.environ["SLOW"]
	recs = run.records("/mixed")
	run.check_seen(recs, "/mixed")
	# The log says which server took each request; round robin must have used both.
	by_server = {s: [r for r in recs if r.gw and r.gw["upstream_addr"] == [s]] for s in (FAST, SLOW)}
	run.res(all(len(v) > 0 for v in by_server.values()) and
	        sum(len(v) for v in by_server.values()) == len(recs),
	        "the gateway sent each request to one of the two servers, both used",
	        f"fast {len(by_server[FAST])}, slow {len(by_server[SLOW])}, of {len(recs)}")
	failed = [r for r in recs if r.gw and r.gw["status"] == 504]
	timed_out = lambda r: any(x["kind"] == "upstream_timeout" for x in r.gw["errors"])
	run.res(failed and all(r.gw["upstream_addr"] == [SLOW] and timed_out(r) for r in failed),
	        "the slow server's requests failed by the gateway's read timeout, only them",
	        f"{len(failed)} 504s, servers {set(tuple(r.gw['upstream_addr']) for r in failed)}")
	slow = lambda e, r: (e["cause"], e["reason"], e["backend"]) == ("backend", "backend_slow", SLOW)
	run.expect(failed, slow, "every 504 is backend/backend_slow naming the slow server")
	ok = [r for r in recs if r.gw and r.gw["status"] == 200]
	run.expect(ok, lambda e, r: e["cause"] is None and e["backend"] == FAST,
	           "every 200 is unblamed and names the fast server")
	run.expect(recs, lambda e, r: len(e.get("attempts") or []) == len(r.gw["upstream_addr"]),
	           "one attempt per server the gateway tried")
	okr = run.records("/ok")
	run.check_seen(okr, "/ok")
	run.expect(okr, lambda e, r: e["status"] == 200 and e["cause"] is None, "/ok is healthy and unblamed")
	run.check_no_phantoms()
	run.check_contract()
	run.figures(failed, slow)
	PY
	gw_check_timeouts "$TK" "gateway:read:$SLOW:1.0"
done
exit $((GS_FAILS > 0))
