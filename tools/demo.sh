#!/bin/bash
# gatescope demo (make demo): a real nginx gateway between a client and
# seven backends, one fault each, under about 20 s of bounded load, with
# gatescope watching nginx from the kernel.  At the end: the per-route table
# with 504s split by cause, the inferred timeouts and ladder warnings, and
# the failed requests grouped by verdict with their evidence.
#
# Everything lives in network namespaces with this run's suffix and
# addresses in 198.18.0.0/15; all of it is torn down at the end and on
# Ctrl-C.  DEMO_SECONDS=N changes the load duration.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces, nginx, BPF): sudo make demo" >&2
	exit 1
fi
for need in nginx curl nft ip; do
	command -v "$need" >/dev/null || { echo "demo: $need is missing (make deps)" >&2; exit 1; }
done
[ -x build/gatescope ] && [ -x build/tests/gs-httpd ] ||
	{ echo "demo: build first: make all tools" >&2; exit 1; }
. tests/e2e/gateway_lib.sh

DURATION=${DEMO_SECONDS:-20}
HOST=api.demo
GS_OUT=$GS_TMP/gatescope.txt
LOAD_PIDS=()
bold=$(tput bold 2>/dev/null || true) norm=$(tput sgr0 2>/dev/null || true)

say() { printf '%s\n' "$*"; }
title() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$norm"; }

stop_load() {
	local p
	for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	LOAD_PIDS=()
}
demo_exit() {
	stop_load
	gw_exit
}
trap demo_exit EXIT
trap 'say ""; say "interrupted: tearing down"; exit 130' INT TERM

# --- testbed ---------------------------------------------------------------
GW_BACKEND_SECONDS=$((DURATION + 30))
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=2s GW_KEEPALIVE=8
gw_setup || { echo "demo: cannot build the namespaces" >&2; exit 1; }
P_OK=$(gw_be_port 1) P_SLOW=$(gw_be_port 2) P_RESET=$(gw_be_port 3) P_THR=$(gw_be_port 4)
P_HOLE=$(gw_be_port 5) P_LOSSY=$(gw_be_port 6) P_DOWN=$(gw_be_port 7)
{
	gw_backend "$B1NS" :: "$P_OK" --mode ok --body-bytes 512 &&
	gw_backend "$B1NS" :: "$P_SLOW" --mode slow &&
	gw_backend "$B1NS" :: "$P_RESET" --mode reset &&
	gw_backend "$B1NS" :: "$P_THR" --mode throttled &&
	gw_backend "$B2NS" :: "$P_HOLE" &&
	gw_backend "$B2NS" :: "$P_LOSSY" &&
	gw_fault_syn_drop "$B2NS" "$P_HOLE" &&
	gw_fault_drop_after_handshake "$B2NS" "$P_LOSSY"
} || { echo "demo: cannot start the backends" >&2; exit 1; }

declare -A BE=(
	[/ok]=$(gw_hostport "$BE1_4" "$P_OK") [/slow]=$(gw_hostport "$BE1_4" "$P_SLOW")
	[/reset]=$(gw_hostport "$BE1_4" "$P_RESET") [/throttled]=$(gw_hostport "$BE1_4" "$P_THR")
	[/blackhole]=$(gw_hostport "$BE2_4" "$P_HOLE") [/lossy]=$(gw_hostport "$BE2_4" "$P_LOSSY")
	[/down]=$(gw_hostport "$BE2_4" "$P_DOWN")
)
declare -A NAME=(
	[/ok]=catalog [/slow]=search [/reset]=payments [/throttled]=quotes
	[/blackhole]=inventory [/lossy]=shipping [/down]=reviews
)
declare -A FAULT=(
	[/ok]="healthy"
	[/slow]="answers after 0-3 s; nginx read timeout is 2 s"
	[/reset]="resets the connection after reading the request"
	[/throttled]="answers 429 Too Many Requests"
	[/blackhole]="its SYNs are dropped; nginx connect timeout is 1 s"
	[/lossy]="every packet after the handshake is dropped"
	[/down]="nothing listens on its port"
)
ROUTES=(/ok /slow /blackhole /lossy /reset /down /throttled)
: >"$GS_TMP/names"
for r in "${ROUTES[@]}"; do
	gw_route "$r" "${BE[$r]}"
	echo "${BE[$r]} ${NAME[$r]}" >>"$GS_TMP/names"
done
gw_nginx_start || { echo "demo: nginx did not start:" >&2; tail -5 "$GW_DIR/error.log" >&2; exit 1; }

title "gatescope demo"
say "client ($CNS) --> nginx gateway ($GNS, pid $GW_NGINX_PID, http://$GW4:$GW_PORT) --> backends:"
for r in "${ROUTES[@]}"; do
	printf '  %-11s -> %-10s %-22s %s\n' "$r" "${NAME[$r]}" "${BE[$r]}" "${FAULT[$r]}"
done
say "nginx: proxy_connect_timeout $GW_CONNECT_TIMEOUT, proxy_read_timeout $GW_READ_TIMEOUT, upstream keep-alive"
say "clients: curl loops for ${DURATION} s; on /slow also an impatient client that gives up after 1.5 s"

# --- gatescope -------------------------------------------------------------
gs_bg build/gatescope -p "$GW_NGINX_PID" -o table -e errors -i 5 \
	--backend-names "$GS_TMP/names" >"$GS_OUT" 2>"$GS_OUT.err"
GS_GATESCOPE_PID=$GS_LAST_PID
for _ in $(seq 100); do
	grep -q tracing "$GS_OUT.err" && break
	kill -0 "$GS_GATESCOPE_PID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q tracing "$GS_OUT.err"; then
	echo "demo: gatescope did not start:" >&2
	cat "$GS_OUT.err" >&2
	exit 1
fi
say "gatescope: $(tail -1 "$GS_OUT.err" | sed 's/^gatescope: //')"

# --- load ------------------------------------------------------------------
# loop ROUTE FIRST_ID PAUSE [curl args]: requests to ROUTE/<id> until the
# deadline, ids counting up from FIRST_ID (each client asks for its own).
END=$((SECONDS + DURATION))
loop() {
	local route=$1 n=$2 pause=$3 q
	shift 3
	while [ $SECONDS -lt $END ]; do
		n=$((n + 1))
		q=""
		[ "$route" = /slow ] && q="?ms=$((RANDOM % 3000))"
		gw_curl --max-time 5 -H "Host: $HOST" -o /dev/null "$@" "$(gw_url "$route/$n$q")"
		sleep "$pause"
	done
}
for r in "${ROUTES[@]}"; do
	case $r in
	/ok) pause=0.05 ;;
	/throttled|/reset|/down) pause=0.2 ;;
	*) pause=0 ;;
	esac
	loop "$r" 1000 "$pause" &
	LOAD_PIDS+=($!)
done
loop /slow 2000 0 &
LOAD_PIDS+=($!)
loop /slow 3000 0 --max-time 1.5 &
LOAD_PIDS+=($!)

title "live: gatescope's table every 5 s (failed-request lines are summarised at the end)"
tail -n +1 -f "$GS_OUT" --pid "$GS_GATESCOPE_PID" 2>/dev/null | grep --line-buffered -v '^req \|^conn ' &
VIEW_PID=$!
LOAD_PIDS+=("$VIEW_PID")
wait "${LOAD_PIDS[@]:0:${#ROUTES[@]}}" 2>/dev/null
sleep 2.5	# the last requests reach their timeouts
stop_load
kill -INT "$GS_GATESCOPE_PID" 2>/dev/null
for _ in $(seq 50); do kill -0 "$GS_GATESCOPE_PID" 2>/dev/null || break; sleep 0.1; done

# --- report ----------------------------------------------------------------
title "gatescope: whole run, per route (504s split by cause: GW gateway, NET network, BE backend)"
awk '/^ROUTE / { start = NR } { line[NR] = $0 }
     END { for (i = start; i <= NR; i++) if (line[i] !~ /^(req|conn) /) print line[i] }' "$GS_OUT"

title "failed requests by route and verdict (gatescope --events errors)"
awk '$1 == "req" {
	route = $4; sub(/\?.*/, "", route); gsub(/\/[0-9]+/, "/{id}", route)
	verdict = $8 "/" $9
	key = sprintf("%-24s %3s  %-26s %s", route, $2, verdict, $7)
	if (!(key in n)) {
		order[++k] = key
		ev = $0; sub(/.* ms  /, "", ev); example[key] = ev
	}
	n[key]++
     }
     END {
	if (!k) { print "(none)"; exit }
	printf "%-24s %3s  %-26s %-4s %5s\n", "ROUTE", "ST", "CAUSE/REASON", "TERM", "COUNT"
	for (i = 1; i <= k; i++) {
		printf "%s %5d\n", order[i], n[order[i]]
		printf "    e.g. %s\n", example[order[i]]
	}
     }' "$GS_OUT"
say ""
say "(ST 0: the client gave up before any answer. TERM: who ended the request -"
say " C/S client/server abort, c/s client/server timeout, P gateway - and in which"
say " phase - R request, C connect, H waiting for headers, D data.)"
say ""
say "gatescope's full output: $GS_OUT (removed at exit; DEMO_KEEP=DIR keeps a copy)"
[ -n "${DEMO_KEEP:-}" ] && GW_KEEP=$DEMO_KEEP
title "tearing down"
exit 0
