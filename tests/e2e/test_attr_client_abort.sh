#!/bin/bash
# Clients that give up (curl --max-time 0.5) before the gateway's 2 s read
# timeout on a slow backend: every failed request of /abort is the
# client's (client/client_abort).  nginx logs 499 and closes the upstream;
# the Go proxy cancels the upstream request and writes a 502 into the dead
# connection; HAProxy (no "option abortonclose") waits for the server until
# its 2 s timeout and writes a late 504 (sH) into it: gatescope must still
# call it the client's, with "client_closed": true.  Patient clients of
# /patient (same backend) meet the 2 s read timeout.  gatescope infers both
# timeouts and warns that the ladder is inverted.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_client_abort
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode slow --delay-ms 4000 || { fail "$T" "backend"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P")
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /abort "$BE" connect=1s read=2s
	gw_route /patient "$BE" connect=1s read=2s
	gw_attr_start
	gw_attr_clients /abort 3 6 --max-time 0.5
	gw_attr_clients /patient 2 2
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /abort client client_abort
	gw_check_timeouts "$TK" "client:response:0.0.0.0:$GW_PORT:0.5" "gateway:read:$BE:2.0"
	gw_check_ladder "$TK" yes
done
exit $((GS_FAILS > 0))
