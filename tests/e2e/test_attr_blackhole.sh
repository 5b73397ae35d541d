#!/bin/bash
# A backend whose SYNs vanish (nft drop in its namespace): every failure of
# /blackhole is the network's (network/connect_timeout): SYN sent, no
# SYN-ACK before the gateway's 1 s connect timeout, which gatescope infers.
# nginx answers 504; HAProxy 503 (sC: its "timeout connect", after which it
# aborts the connecting socket); the Go proxy 504 (its dial timeout).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_blackhole
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" || { fail "$T" "backend"; exit 1; }
gw_fault_syn_drop "$B2NS" "$P" || { fail "$T" "nft"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P")
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /blackhole "$BE" connect=1s read=2s
	gw_attr_start
	gw_attr_clients /blackhole 3 4
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /blackhole network connect_timeout
	gw_check_timeouts "$TK" "gateway:connect:$BE:1.0"
done
exit $((GS_FAILS > 0))
