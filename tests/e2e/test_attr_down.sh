#!/bin/bash
# The gateway's upstream points at a port where nothing listens: the
# backend's kernel answers the SYN with RST.  Every failure of /down is the
# backend's (backend/backend_refused): nginx and the Go proxy answer 502,
# HAProxy 503 (SC, retries 0).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_down
gw_attr_begin "$T"
P=$(gw_be_port 2)	# nothing listens there
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /down "$(gw_hostport "$BE2_4" "$P")" connect=1s read=2s
	gw_attr_start
	gw_attr_clients /down 3 6
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /down backend backend_refused
	gw_check_timeouts "$TK"	# none configured on this path
done
exit $((GS_FAILS > 0))
