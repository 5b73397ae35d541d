#!/bin/bash
# One route, two servers in round robin, the path rewritten on the way
# (/api/x -> /v2/x: nginx "proxy_pass http://be/v2/", HAProxy replace-path,
# the Go proxy's Director): one server is healthy, the other hangs past the
# gateway's 1 s read timeout.  Every failure of /api is backend/backend_slow
# on the hanging server, none on the healthy one, which the gateway's log
# names for each request: a join that only matches paths verbatim, or that
# takes the wrong server's connection, shows here.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_rewrite_rr
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode hang --delay-ms 20000 || { fail "$T" "backend"; exit 1; }
GOOD=$(gw_hostport "$BE1_4" "$(gw_be_port 1)") SLOW=$(gw_hostport "$BE2_4" "$P")
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /api/ "$GOOD,$SLOW" connect=1s read=1s rewrite=/v2/
	gw_attr_start
	gw_attr_clients /api 3 4
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /api backend backend_slow
	gw_check_timeouts "$TK" "gateway:read:$SLOW:1.0"
done
exit $((GS_FAILS > 0))
