#!/bin/bash
# nginx's upstream points at a port where nothing listens: the backend's
# kernel answers the SYN with RST.  Every 502 of /down is the backend's
# (backend/backend_refused).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_down
gw_attr_begin "$T"
P=$(gw_be_port 2)	# nothing listens there
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=2s
gw_route /down "$(gw_hostport "$BE2_4" "$P")"
gw_attr_start
gw_attr_clients /down 3 10
gw_attr_clients /ok 1 20
gw_attr_stop
gw_check_attr "$T" /down backend backend_refused
gw_check_timeouts "$T"	# none configured on this path
exit $((GS_FAILS > 0))
