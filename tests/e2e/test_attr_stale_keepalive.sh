#!/bin/bash
# Stale keep-alive: the backend closes idle connections after 100 ms while
# the gateway keeps them pooled for 60 s.  The gateway then writes a
# request on a pooled connection the backend has already closed, and the
# backend's kernel answers with RST.  Every 502 of /stale is the backend's
# (backend/stale_keepalive).
#
# The race is made deterministic: the backend's FINs are lost (nft in its
# namespace), so the gateway does not learn of the close before reusing the
# connection -- as when the FIN is still in flight.  POST, because gateways
# retry idempotent requests on a fresh connection (nginx; Go's Transport
# for a GET on a reused connection) and the client would never see the
# failure.  Pools: nginx "keepalive 4" (one worker: one pool), HAProxy
# "http-reuse always" (each client request is a new client connection,
# which "safe" reuse would not give an idle server connection), the Go
# Transport's idle connections.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_stale_keepalive
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --keepalive-ms 100 || { fail "$T" "backend"; exit 1; }
gw_fault_fin_drop "$B2NS" "$P" || { fail "$T" "nft"; exit 1; }
GW_KEEPALIVE=4
GW_WORKERS=1	# one nginx pool: every other request meets the stale connection
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /stale "$(gw_hostport "$BE2_4" "$P")" connect=1s read=2s
	gw_attr_start
	# Each request waits out the backend's 100 ms keep-alive, not the
	# ~200 ms until its lost FIN is retransmitted.
	for i in $(seq 12); do
		gw_client "attr.$GW_KIND" /stale "$(gw_url "/stale/r$i")" -X POST -d 'order=1'
		sleep 0.15
	done
	gw_attr_clients /ok 1 12
	gw_attr_stop
	gw_check_attr "$TK" /stale backend stale_keepalive
done
exit $((GS_FAILS > 0))
