#!/bin/bash
# HAProxy's failed connects, with and without retries.  HAProxy answers a
# failed connect (503) before it closes the socket, and a request it
# retries makes several attempts that carry no bytes at all: gatescope must
# still join every attempt to its request.  HAProxy's own log is the
# oracle: each failed request made %rc + 1 attempts, and gatescope's
# request event must list as many.
#
# GW_KINDS=py runs it through the asyncio proxy (retries on the next
# backend, one thread for every connection).  Not by default: refusals of
# concurrent requests within microseconds on one event loop are joined by
# time alone, and in 7 of 22 runs 1 or 2 of its 19 failed requests got
# another request's try (a backend or an attempt count off; the verdicts
# right).  README "How a request is joined".
#
#   /refused0  one closed port, retries 0                  backend/backend_refused
#   /refused2  two closed ports, retries 2 + redispatch    backend/backend_refused
#   /synd0     SYNs dropped, timeout connect 1s, retries 0 network/connect_timeout
#   /synd2     two such servers, retries 2 + redispatch    network/connect_timeout
#
# After each connect timeout HAProxy aborts the connecting socket: gatescope
# must infer the 1 s connect timeout to each SYN-dropping server.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_haproxy_connect
GW_KINDS=${GW_KINDS:-haproxy}
gw_attr_begin "$T"
R1=$(gw_be_port 3) R2=$(gw_be_port 4)	# nothing listens there
S1=$(gw_be_port 5) S2=$(gw_be_port 6)
for p in "$S1" "$S2"; do
	gw_backend "$B2NS" :: "$p" || { fail "$T" "backend"; exit 1; }
	gw_fault_syn_drop "$B2NS" "$p" || { fail "$T" "nft"; exit 1; }
done
hp() { gw_hostport "$BE2_4" "$1"; }
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /refused0 "$(hp "$R1")" connect=1s read=2s retries=0
	gw_route /refused2 "$(hp "$R1"),$(hp "$R2")" connect=1s read=2s retries=2
	gw_route /synd0 "$(hp "$S1")" connect=1s read=2s retries=0
	gw_route /synd2 "$(hp "$S1"),$(hp "$S2")" connect=1s read=2s retries=2
	gw_attr_start
	gw_attr_clients /refused0 2 3
	gw_attr_clients /refused2 2 3
	gw_attr_clients /synd0 2 2
	gw_attr_clients /synd2 3 1
	gw_attr_clients /ok 1 12
	gw_attr_stop
	GW_SCENARIO=haproxy_refused_retries0 gw_check_attr "$TK" /refused0 backend backend_refused
	GW_SCENARIO=haproxy_refused_retries2 gw_check_attr "$TK" /refused2 backend backend_refused
	GW_SCENARIO=haproxy_syndrop_retries0 gw_check_attr "$TK" /synd0 network connect_timeout
	GW_SCENARIO=haproxy_syndrop_retries2 gw_check_attr "$TK" /synd2 network connect_timeout
	gw_check_timeouts "$TK" "gateway:connect:$(hp "$S1"):1.0" "gateway:connect:$(hp "$S2"):1.0"
done
exit $((GS_FAILS > 0))
