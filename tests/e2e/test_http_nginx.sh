#!/bin/bash
# A real nginx reverse proxy in front of two backends, upstream keep-alive
# off and then on (then on again, with the syscall capture path forced),
# IPv4 and IPv6 on both sides.  gatescope (traced by the
# nginx master's pid) must count every route and status exactly as the
# client saw them, agree with nginx's own $upstream_connect_time and
# $upstream_header_time request by request, join (almost) every request to
# its upstream attempt, and show a backend's 429 in the status translation.
#
# Routes (client side -> backend side):
#   /a/         IPv4 -> be1 IPv4   200
#   /b/         IPv6 -> be2 IPv6   200, chunked
#   /status/    IPv4 -> be2 IPv4   200, 404, 500, 503 as asked, chunked
#   /throttled  IPv6 -> be1 IPv6   429
. "$(dirname "$0")/gateway_lib.sh"
T=http_nginx
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }

LOCS=(/a/ /b/ /status/ /throttled)
# Backends outlive all three phases also on a busy machine (they are
# stopped at exit; this is only the bound).
GW_BACKEND_SECONDS=400	# a safety net only: the test stops them; a loaded machine is slow
GW_NGINX_RT=1	# nginx's own times are the oracle: keep its event loop prompt
gw_setup || { fail "$T" "testbed setup"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2)
# "::" takes IPv4 (mapped) and IPv6 alike.  be2 answers chunked.
gw_backend "$B1NS" :: "$P1" || { fail "$T" "backend 1"; exit 1; }
gw_backend "$B2NS" :: "$P2" --chunked --body-bytes 300 || { fail "$T" "backend 2"; exit 1; }
gw_route /a/ "$(gw_hostport "$BE1_4" "$P1")"
gw_route /b/ "$(gw_hostport "$BE2_6" "$P2")"
gw_route /status/ "$(gw_hostport "$BE2_4" "$P2")"
gw_route /throttled "$(gw_hostport "$BE1_6" "$P1")"

# Each route has one sequential client, so the order of its requests is the
# same in nginx's access log and in gatescope's request lines.  Globbed URLs
# share one client connection; single URLs open one each.
load() {	# LABEL
	local l=$1 i pids=()
	(
		for i in 1 2 3; do gw_client "$l" /a/ "$(gw_url "/a/$i/[1-40]")"; done
		for i in $(seq 20); do gw_client "$l" /a/ "$(gw_url "/a/x$i")"; done
	) & pids+=($!)
	(
		for i in 1 2 3; do gw_client "$l" /b/ "$(gw_url "/b/$i/[1-40]" 6)"; done
		for i in $(seq 20); do gw_client "$l" /b/ "$(gw_url "/b/x$i" 6)"; done
	) & pids+=($!)
	(
		for code in 200 404 500 503 200; do
			gw_client "$l" /status/ "$(gw_url "/status/$code/[1-12]")"
		done
	) & pids+=($!)
	(
		gw_client "$l" /throttled "$(gw_url "/throttled/[1-15]" 6)"
		for i in $(seq 5); do gw_client "$l" /throttled "$(gw_url "/throttled/y$i" 6)"; done
	) & pids+=($!)
	wait "${pids[@]}"	# not a bare wait: nginx and gatescope run in the background too
}

phase() {	# NAME KEEPALIVE [GATESCOPE ARGS]
	local name=$1 out=$GS_TMP/$1.json
	GW_KEEPALIVE=$2
	shift 2
	gw_nginx_start || { fail "$T/$name" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; return 1; }
	gw_gatescope "$out" "$@" || { fail "$T/$name" "gatescope did not start"; return 1; }
	: >"$GS_TMP/client.$name"
	load "$name"
	sleep 0.5	# events are drained every 100 ms
	gs_stop
	gw_normalise nginx "$GW_DIR/access.log" >"$GS_TMP/$name.access.log"
	local workers
	workers=$(pgrep -P "$GW_NGINX_PID" | sort -n | tr '\n' ' ')
	gw_nginx_stop

	gw_check_http "$T/$name" "$out" "$GS_TMP/$name.access.log" "$GS_TMP/client.$name" "${LOCS[@]}"
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
	local pids pid ok=1
	pids=$(gw_request_pids "$out")
	for pid in $pids; do
		case " $workers" in *" $pid "*) ;; *) ok=0 ;; esac
	done
	if [ -n "$pids" ] && [ $ok = 1 ]; then
		pass "$T/$name: requests come from the nginx workers ($pids)"
	else
		fail "$T/$name: requests come from the nginx workers" "request pids '$pids', workers '$workers'"
	fi
	local want got
	want=$(grep -c '^/throttled 429 ' "$GS_TMP/client.$name")
	got=$(gw_xlate "$out" /throttled 429 429)
	if [ "$want" -gt 0 ] && [ "$got" = "$want" ]; then
		pass "$T/$name: upstream 429 -> downstream 429 in /throttled's status translation ($got)"
	else
		fail "$T/$name: upstream 429 -> downstream 429" "status translation has $got, client got $want 429s"
	fi
	if [ "$GS_FAILS" -gt 0 ]; then
		echo "--- gatescope stderr"; cat "$out.err"
		echo "--- nginx error log (tail)"; tail -5 "$GW_DIR/error.log"
	fi
}

# nginx stamps its times from a millisecond clock it refreshes once per
# event-loop turn: on a busy machine a few requests in 360 differ from the
# kernel's times by 1-3 ms (seen in CI: 356 of 360 agree, the rest off by
# 1.2-3.3 ms, nginx's header time the shorter).  98 % must agree.
GW_TIMING_BAR=0.98 phase keepalive_off 0
GW_TIMING_BAR=0.98 phase keepalive_on 8
# The fallback capture path (syscall tracepoints), forced: same answers.
# It slows every syscall of nginx, whose event loop then stamps its cached
# millisecond clock later (seen: nginx 2 ms where the kernel saw the answer
# read 0.15 ms after the request): nginx's timings are a noisier oracle on
# this path, so 97 % of requests must agree instead of 99 %.
GW_TIMING_BAR=0.97 phase syscall_path 8 --capture-path syscall
exit $((GS_FAILS > 0))
