#!/bin/bash
# Loss after the handshake: the backend's namespace drops everything to its
# port but SYNs, so nginx connects, writes the request, retransmits it, and
# gives up at proxy_read_timeout (1 s).  Every 504 of /lossy is the
# network's (network/packet_loss): request bytes retransmitted, never acked.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_lossy
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" || { fail "$T" "backend"; exit 1; }
gw_fault_drop_after_handshake "$B2NS" "$P" || { fail "$T" "nft"; exit 1; }
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=1s
BE=$(gw_hostport "$BE2_4" "$P")
gw_route /lossy "$BE"
gw_attr_start
gw_attr_clients /lossy 3 4
gw_attr_clients /ok 1 20
gw_attr_stop
gw_check_attr "$T" /lossy network packet_loss
gw_check_timeouts "$T" "gateway:read:$BE:1.0"
exit $((GS_FAILS > 0))
