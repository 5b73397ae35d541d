#!/bin/bash
# gatescope stopped right after the gateway's 504s: a gateway may close a
# timed-out upstream connection a moment after it answers (the Go proxy:
# tens of ms), and a failed request is judged by that connection's TCP
# facts.  Stopped before they came, such requests were reported
# unknown/no_tcp_facts; now gatescope gives them up to 1 s at its end (and
# says so on stderr).  Against every gateway kind: 8 clients at once on a
# backend that hangs 3 s behind a 1 s read timeout, gatescope stopped
# (SIGINT) as soon as the last client has its 504.  Oracles: the clients'
# record and the gateway's own log.  Every 504 must be backend/backend_slow.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_stop_early
gw_attr_begin "$T"
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode hang --delay-ms 3000 || { fail "$T" "backend"; exit 1; }
for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	gw_route /hang "$(gw_hostport "$BE2_4" "$P")" read=1s
	gw_attr_start
	gw_attr_clients /ok 1 2
	wait "${GW_CLIENT_PIDS[@]}"
	gw_attr_clients /hang 8 1
	gw_attr_stop now	# no wait for the gateway's log or the last events
	grep 'waiting up to' "$GW_OUT.err" | sed "s/^/# $GW_KIND: /"
	gw_check_attr "$TK" /hang backend backend_slow
done
exit $((GS_FAILS > 0))
