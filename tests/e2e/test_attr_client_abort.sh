#!/bin/bash
# Clients that give up (curl --max-time 0.5) before nginx's 2 s read
# timeout on a slow backend: every failed request of /abort is the
# client's (client/client_abort; nginx logs 499).  Patient clients of
# /patient (same backend) meet nginx's 2 s read timeout.  gatescope infers
# both timeouts and warns that the ladder is inverted.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_client_abort
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode slow --delay-ms 4000 || { fail "$T" "backend"; exit 1; }
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=2s
BE=$(gw_hostport "$BE2_4" "$P")
gw_route /abort "$BE"
gw_route /patient "$BE"
gw_attr_start
gw_attr_clients /abort 3 6 --max-time 0.5
gw_attr_clients /patient 2 2
gw_attr_clients /ok 1 20
gw_attr_stop
gw_check_attr "$T" /abort client client_abort
gw_check_timeouts "$T" "client:response:0.0.0.0:$GW_PORT:0.5" "gateway:read:$BE:2.0"
gw_check_ladder "$T" yes
exit $((GS_FAILS > 0))
