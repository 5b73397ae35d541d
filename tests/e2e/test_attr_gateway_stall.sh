#!/bin/bash
# A gateway that blocks its own event loop: gs-stallproxy writes each /stall
# request to a fast, healthy backend, then sleeps 1 s (CPU work in the
# event loop) before it looks at the upstream socket again.  Its 500 ms read
# timer fires in the iteration the stall ends, so it answers 504 and closes
# the upstream socket with the response unread in its receive buffer.
# Every 504 of /stall is the gateway's fault (gateway/gateway_stall): the
# response reached the gateway's socket at once and was never read.  /ok,
# through the same proxy to the same backend, stays healthy.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_gateway_stall
STALL_MS=1000
TIMEOUT_MS=500
gs_require_bpf "$T"
[ -x "$GS_TOOLS/gs-stallproxy" ] || { fail "$T" "$GS_TOOLS/gs-stallproxy not built"; exit 1; }
GW_BACKEND_SECONDS=40
gw_setup || { fail "$T" "testbed setup"; exit 1; }
P=$(gw_be_port 1)
gw_backend "$B1NS" :: "$P" || { fail "$T" "backend"; exit 1; }
BE=$(gw_hostport "$BE1_4" "$P")
GW_OUT=$GS_TMP/gs.json
GW_ALOG=$GS_TMP/access.log
GW_CLIENT_PIDS=()

# The proxy stands where the gateway stands in the other scenarios: the
# gateway helpers find it by GW_PID (gatescope -p, and a SIGTERM to stop it)
# and its access log (nginx's older seven fields) in GW_DIR.
GW_KIND=stallproxy
gs_bg ip netns exec "$GNS" "$GS_TOOLS/gs-stallproxy" --stall-ms "$STALL_MS" \
	--timeout-ms "$TIMEOUT_MS" --max-seconds 40 --access-log "$GW_DIR/access.log" \
	:: "$GW_PORT" "$BE1_4" "$P" >/dev/null 2>"$GW_DIR/error.log"
GW_PID=$GS_LAST_PID
gs_wait_listen "$GNS" "$GW_PORT" || { fail "$T" "proxy did not start: $(cat "$GW_DIR/error.log")"; exit 1; }
gw_gatescope "$GW_OUT" || { fail "$T" "gatescope did not start"; exit 1; }

# One connection at a time: /ok requests queue behind the stalls.
gw_attr_clients /stall 2 2
gw_attr_clients /ok 1 20
gw_attr_stop

gw_check_attr "$T" /stall gateway gateway_stall
# The proxy closed each upstream 1 s after the request write, yet its read
# timeout is 500 ms: its timer fired late, when the stall ended, and the
# backend had answered at once.  The idle time measures the stall, so such a
# close is no evidence of a gateway read timeout: none may be inferred.
gw_check_timeouts "$T"
exit $((GS_FAILS > 0))
