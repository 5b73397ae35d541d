#!/bin/bash
# A backend whose SYNs vanish (nft drop in its namespace): every 504 of
# /blackhole is the network's (network/connect_timeout): SYN sent, no
# SYN-ACK before nginx's proxy_connect_timeout (1 s), which gatescope infers.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_blackhole
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" || { fail "$T" "backend"; exit 1; }
gw_fault_syn_drop "$B2NS" "$P" || { fail "$T" "nft"; exit 1; }
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=2s
BE=$(gw_hostport "$BE2_4" "$P")
gw_route /blackhole "$BE"
gw_attr_start
gw_attr_clients /blackhole 3 4
gw_attr_clients /ok 1 20
gw_attr_stop
gw_check_attr "$T" /blackhole network connect_timeout
gw_check_timeouts "$T" "gateway:connect:$BE:1.0"
exit $((GS_FAILS > 0))
