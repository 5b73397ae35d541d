#!/bin/bash
# A backend far slower than the gateway's read timeout (1 s), hung for 20 s
# without noticing that the gateway gave up: every 504 of /slow is the
# backend's fault (backend/backend_slow): connected, request acknowledged,
# no response byte before the gateway gave up.  gatescope infers the 1 s
# read timeout; the clients wait longer, so no ladder warning.  Against
# nginx, HAProxy (timeout server) and the Go proxy (ResponseHeaderTimeout).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_slow
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode hang --delay-ms 20000 || { fail "$T" "backend"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P")
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /slow "$BE" connect=1s read=1s
	gw_attr_start
	gw_attr_clients /slow 3 4
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /slow backend backend_slow
	gw_check_timeouts "$TK" "gateway:read:$BE:1.0"
	gw_check_ladder "$TK" no
done
exit $((GS_FAILS > 0))
