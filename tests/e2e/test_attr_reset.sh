#!/bin/bash
# A backend that reads the request and closes with SO_LINGER {1,0}: an RST
# after the request.  Every 502 of /reset is the backend's
# (backend/backend_reset; HAProxy logs SH).  IPv6 upstream.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_reset
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode reset || { fail "$T" "backend"; exit 1; }
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /reset "$(gw_hostport "$BE2_6" "$P")" connect=1s read=2s
	gw_attr_start
	gw_attr_clients /reset 3 6
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /reset backend backend_reset
	gw_check_timeouts "$TK"	# none configured on this path
done
exit $((GS_FAILS > 0))
