#!/bin/bash
# Loss after the handshake: the backend's namespace drops everything to its
# port but SYNs, so the gateway connects, writes the request, retransmits
# it, and gives up at its 1 s read timeout (nginx proxy_read_timeout,
# HAProxy timeout server, the Go proxy's ResponseHeaderTimeout).  Every 504
# of /lossy is the network's (network/packet_loss): request bytes
# retransmitted, never acked.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_lossy
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" || { fail "$T" "backend"; exit 1; }
gw_fault_drop_after_handshake "$B2NS" "$P" || { fail "$T" "nft"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P")
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /lossy "$BE" connect=1s read=1s
	gw_attr_start
	gw_attr_clients /lossy 3 4
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /lossy network packet_loss
	gw_check_timeouts "$TK" "gateway:read:$BE:1.0"
done
exit $((GS_FAILS > 0))
