#!/bin/bash
# A backend that announces a body (Content-Length), sends half of it and
# closes: the gateway has passed the 200 head on and cannot turn it into an
# error, so the client gets a 200 cut short.  Every such request of /partial
# is the backend's (backend/backend_truncated).  The oracle: HAProxy logs
# SD (server abort during data); nginx logs fewer body bytes sent than the
# Content-Length it sent; the Go proxy logs ReverseProxy's abort of the
# handler after the head.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_truncated
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode partial --body-bytes 4000 || { fail "$T" "backend"; exit 1; }
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /partial "$(gw_hostport "$BE2_4" "$P")" connect=1s read=2s
	gw_attr_start
	gw_attr_clients /partial 3 4
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /partial backend backend_truncated
	gw_check_timeouts "$TK"	# none configured on this path
done
exit $((GS_FAILS > 0))
