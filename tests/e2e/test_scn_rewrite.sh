#!/bin/bash
# A rewritten path under concurrency: the gateway maps /api/ to /v2/ on
# the way upstream (nginx: location /api/ { proxy_pass http://up/v2/; };
# HAProxy: replace-path; the Go proxy: its Director).  50 clients at once
# ask for /api/items/<n>; every 5th n is slow: its backend answers after
# 3 s, past the gateway's 1 s read timeout.  All 50 share one route
# template and differ only in n, which reaches the backend under another
# prefix.  The slowness is asked for in the query string (gs-httpd's ?ms=),
# which the gateway passes on and gatescope never keeps, so the paths stay
# /api/items/<n> on both sides.  Oracles: curl's record and the gateway's
# log (nginx: $uri, $status, $upstream_status, $upstream_addr and its error
# log; HAProxy: %HU %ST %si:%sp %ts; Go: path, status, backend, error), per
# request.  Every 504 must be backend/backend_slow, every 200 unblamed.
. "$(dirname "$0")/scenario_lib.sh"
scn_begin scn_rewrite rewrite
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode hang --delay-ms 0 || { fail "$T" "backend"; exit 1; }
export BE=$(gw_hostport "$BE2_4" "$P")
GW_READ_TIMEOUT=1s
for n in $(seq 50); do
	if [ $((n % 5)) = 0 ]; then echo "/api/items/$n?ms=3000"; else echo "/api/items/$n"; fi
done >"$GS_TMP/urls"
for i in $(seq 10); do echo "/ok/$i"; done >"$GS_TMP/ok-urls"
for GW_KIND in $(gw_kinds); do
	scn_kind || continue
	scn_route /api/ --rewrite /v2/ "$BE"
	scn_start
	scn_curl api "$GS_TMP/urls"
	scn_curl ok "$GS_TMP/ok-urls"
	scn_stop
	scn_check <<-'PY'
	import os
	BE = os.environ["BE"]
	recs = run.records("/api")
	run.check_seen(recs, "/api")
	bad = [r for r in recs if r.gw and r.gw["uri"] != r.path]
	run.res(not bad, "the gateway logged each client's own path", f"{bad[:3]}")
	slow_n = lambda r: int(r.path.rsplit("/", 1)[1]) % 5 == 0
	failed = run.read_timeouts(recs)
	slow_paths = [r for r in recs if slow_n(r)]
	run.res(slow_paths and all(r in failed for r in slow_paths),
	        "every slow path ended by the gateway's read timeout (its log)",
	        f"{[(r.path, r.gw and r.gw['status']) for r in slow_paths if r not in failed][:4]}")
	late = [r.path for r in failed if not slow_n(r)]
	if late:
	    print(f"# fast paths the loaded machine made time out too: {late}")
	slow = lambda e, r: (e["cause"], e["reason"], e["backend"]) == ("backend", "backend_slow", BE)
	run.expect(failed, slow, "every 504 is backend/backend_slow")
	# Request by request as the gateway logged it: the server it used, and
	# no upstream status where the backend never answered (nginx logs its
	# own 504 there, not the backend's).
	run.expect(failed, lambda e, r: e["backend"] == r.gw["upstream_addr"][-1] and e["upstream_status"] is None,
	           "every 504 names the server the gateway used, no upstream status")
	ok = [r for r in recs if r.gw and r.gw["status"] == 200]
	run.expect(ok, lambda e, r: e["cause"] is None and e["backend"] == r.gw["upstream_addr"][-1] == BE
	           and e["upstream_status"] == (r.gw["upstream_status"] or [200])[-1] == 200,
	           "every 200 is unblamed, upstream 200 from the server the gateway used")
	okr = run.records("/ok")
	run.check_seen(okr, "/ok")
	run.expect(okr, lambda e, r: e["status"] == 200 and e["cause"] is None, "/ok is healthy and unblamed")
	run.check_no_phantoms()
	run.check_contract()
	run.figures(failed, slow)
	PY
	gw_check_timeouts "$TK" "gateway:read:$BE:1.0"
done
exit $((GS_FAILS > 0))
