#!/bin/bash
# A tunnel after 101: the client asks /ws/<n> to switch protocols, the
# backend answers 101 Switching Protocols and from then on echoes every
# byte.  Inside the tunnel the client sends bytes that look like HTTP: a
# request for /fake and a "HTTP/1.1 500" response (both go up through the
# gateway and come back down).  They are the tunnel's payload, not
# requests: gatescope must report exactly one request per tunnel (the
# upgrade, 101), no /fake request and no 500.  nginx passes the Upgrade and
# Connection headers for this location only.  Oracles: gs-pieces' record
# (101, every byte echoed) and the gateway's log (one 101 line per tunnel).
. "$(dirname "$0")/scenario_lib.sh"
scn_begin scn_tunnel tunnel
[ -x "$GS_TOOLS/gs-pieces" ] || { fail "$T" "$GS_TOOLS/gs-pieces not built"; exit 1; }
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode upgrade || { fail "$T" "backend"; exit 1; }
export BE=$(gw_hostport "$BE2_4" "$P")
for GW_KIND in $(gw_kinds); do
	scn_kind || continue
	scn_route /ws --upgrade "$BE"
	scn_start
	FAKE_REQ=$'GET /fake HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n'
	FAKE_RESP=$'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n'
	for n in $(seq 4); do
		# Each text in both orders, and a second request after the response,
		# so a parser that takes either for the start of a message has one.
		scn_pieces ws --pieces 1 --upgrade gs-echo --tunnel "$FAKE_REQ" --tunnel "$FAKE_RESP" \
			--tunnel "$FAKE_REQ" "/ws/$n"
	done
	for i in $(seq 10); do echo "/ok/$i"; done >"$GS_TMP/ok-urls"
	scn_curl ok "$GS_TMP/ok-urls"
	scn_stop
	scn_check <<-'PY'
	import collections, os
	BE = os.environ["BE"]
	recs = run.records("/ws")
	tunnels = [r for r in recs if r.client["status"] == 101 and r.client["complete"]
	           and r.client["tunnel_echoed"] == r.client["tunnel_sent"] > 0]
	run.res(len(tunnels) == len(recs), "every client got 101 and its tunnel bytes echoed",
	        f"{len(tunnels)} of {len(recs)}: {[r.client for r in recs if r not in tunnels][:2]}")
	run.check_seen(recs, "/ws")
	run.expect(recs, lambda e, r: e["status"] == 101 and e["cause"] is None and e["backend"] == BE,
	           "each tunnel is one unblamed 101 request")
	fake = [e for e in run.reqs if "fake" in (e.get("route") or "")]
	run.res(not fake, "no request for /fake (tunnel payload)", f"{len(fake)} reported")
	s500 = [e for e in run.reqs if e.get("status") == 500 or 500 in
	        [a.get("status") for a in e.get("attempts") or []] or e.get("upstream_status") == 500]
	run.res(not s500, "no 500 (tunnel payload)", f"{len(s500)} reported")
	xl = collections.Counter()
	for rt in run.total.get("routes", []):
	    for x in rt.get("status_translation", []):
	        xl[(x["upstream"], x["downstream"])] += x["count"]
	run.res(all(500 not in k for k in xl) and sum(rt["requests"] for rt in run.total.get("routes", [])) ==
	        len(recs) + len(run.records("/ok")),
	        "the total counts the tunnels and /ok only, no 500",
	        f"routes {[(rt['route'], rt['requests']) for rt in run.total.get('routes', [])]}, statuses {dict(xl)}")
	okr = run.records("/ok")
	run.check_seen(okr, "/ok")
	run.expect(okr, lambda e, r: e["status"] == 200 and e["cause"] is None, "/ok is healthy and unblamed")
	run.check_no_phantoms()
	run.check_contract()
	# Nothing failed: the tunnels are healthy requests.
	run.figures([r for r in recs if r.gw and r.gw["status"] >= 500], lambda e, r: False)
	PY
	gw_check_timeouts "$TK"
done
exit $((GS_FAILS > 0))
