#!/bin/bash
# A backend far slower than nginx's proxy_read_timeout (1 s), hung for 20 s
# without noticing that nginx gave up: every 504 of /slow is the backend's
# fault (backend/backend_slow):
# connected, request acknowledged, no response byte before nginx gave up.  gatescope infers
# the 1 s read timeout; the clients wait longer, so no ladder warning.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_slow
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode hang --delay-ms 20000 || { fail "$T" "backend"; exit 1; }
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=1s
BE=$(gw_hostport "$BE2_4" "$P")
gw_route /slow "$BE"
gw_attr_start
gw_attr_clients /slow 3 4
gw_attr_clients /ok 1 20
gw_attr_stop
gw_check_attr "$T" /slow backend backend_slow
gw_check_timeouts "$T" "gateway:read:$BE:1.0"
gw_check_ladder "$T" no
exit $((GS_FAILS > 0))
