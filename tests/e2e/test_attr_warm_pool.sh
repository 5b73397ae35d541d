#!/bin/bash
# gatescope started during an incident: the gateway's upstream keep-alive
# pool and a client's keep-alive connection were open before it.  Each
# gateway (upstream pool of 4, one worker) is warmed with 4 overlapping
# requests, so 4 upstream connections sit in its pool; one client opens a
# keep-alive connection and sends its first request; then gatescope
# starts, and the backend turns slow (3 s, past the gateway's 1 s read
# timeout): 4 new clients at once, which the gateway sends over its pooled
# connections, and the keep-alive client's next two requests, on its old
# connection.
#
# Oracles: the gateway's own log (status, attempts and backend of every
# request) and the clients' record.  Every 504 must be backend/backend_slow
# (before gatescope followed connections open at its start: the pooled
# ones read gateway/no_upstream, "the gateway never tried upstream", and
# the keep-alive client's requests were not seen at all).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_warm_pool
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" || { fail "$T" "backend"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P")
GW_KEEPALIVE=4
GW_WORKERS=1	# one nginx pool
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /slow "$BE" connect=1s read=1s
	gw_start || { fail "$TK" "$GW_KIND did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
	# The pool: 4 requests that overlap (300 ms each), all answered.
	warm=()
	for i in 1 2 3 4; do
		gw_client "attr.$GW_KIND" /slow "$(gw_url "/slow/warm$i?ms=300")" &
		warm+=($!)
	done
	wait "${warm[@]}"
	# A client's keep-alive connection: its first request now, the
	# next two on the same connection 5 s apart, under gatescope (curl
	# runs its URLs in order: the extra ones come first).
	gw_client "attr.$GW_KIND" /slow "$(gw_url "/slow/ka3?ms=3000")" \
		"$(gw_url "/slow/ka1?ms=1")" "$(gw_url "/slow/ka2?ms=3000")" --rate 12/m &
	KA=$!
	sleep 0.5
	gw_gatescope "$GW_OUT" || { fail "$TK" "gatescope did not start"; exit 1; }
	for i in 1 2 3 4; do
		gw_client "attr.$GW_KIND" /slow "$(gw_url "/slow/s$i?ms=3000")" &
		GW_CLIENT_PIDS+=($!)
	done
	wait "$KA"
	gw_attr_clients /ok 1 4
	gw_attr_stop
	gw_check_attr "$TK" /slow backend backend_slow
	python3 - "$GW_OUT" "$TK" <<-'EOF' || GS_FAILS=$((GS_FAILS + 1))
	import json, sys
	out, t = sys.argv[1:3]
	objs = [json.loads(l) for l in open(out) if l.strip()]
	total = [o for o in objs if o.get("type") == "total"][-1]
	n = total.get("conns_adopted", 0)
	# The pool (up to 4; HAProxy may have closed some) and the client's.
	ok = n >= 2
	print(f"{'PASS' if ok else 'FAIL'} {t}: connections open at the start followed (conns_adopted {n})")
	reqs = [o for o in objs if o.get("type") == "request" and o["route"].startswith("/slow/ka")]
	ok2 = len(reqs) == 2
	print(f"{'PASS' if ok2 else 'FAIL'} {t}: the keep-alive client's two requests after the start seen "
	      f"on its old connection ({len(reqs)}: {[o['route'] for o in reqs]})")
	sys.exit(0 if ok and ok2 else 1)
	EOF
done
exit $((GS_FAILS > 0))
