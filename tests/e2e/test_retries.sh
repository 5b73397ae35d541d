#!/bin/bash
# SPDX-License-Identifier: MIT
# Throttling, client retries and masked failures through a real nginx, with
# real clients whose retry behaviour is known (retry_clients.py), each from
# an address of its own:
#
#   /lim/, /nob/, /storm/   nginx limit_req, 2 requests/s per client, 429
#                           (throttled by the gateway)
#   /ra/                    a backend that lets 4 requests/s through and
#                           answers the rest 429 with Retry-After: 1
#                           (throttled by the backend)
#   /mask/                  the backend's 429 answered 200 by nginx
#                           (proxy_intercept_errors + error_page 429 =200)
#   /big/                   the backend's 200 with a header too big for
#                           nginx, answered 502 (the reverse: gateway_cutoff)
#
# Oracles: each client's own log (its retries and the delays it waited),
# nginx's access log (who throttled, what it masked), the backend's own log
# (the 200s it sent), the nginx and backend limits as configured.
. "$(dirname "$0")/gateway_lib.sh"
T=retries
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }

SECONDS_RUN=10
GW_BACKEND_SECONDS=300	# a bound only (a busy machine is slow to set up): stopped at exit
GW_KEEPALIVE=8	# the backend forks per connection: keep them few
GW_NGINX_RT=1	# client delays are compared with the kernel's times: keep nginx prompt
gw_setup || { fail "$T" "testbed setup"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2)
gw_backend "$B1NS" "$BE1_4" "$P1" || { fail "$T" "backend 1"; exit 1; }
gs_bg ip netns exec "$B2NS" python3 "$GS_ROOT/tests/e2e/retry_clients.py" backend \
	"$BE2_4" "$P2" 4 300 "$GS_TMP/backend.log" >/dev/null
gs_wait_listen "$B2NS" "$P2" || { fail "$T" "throttling backend"; exit 1; }

GW_NGINX_HTTP="limit_req_zone \$binary_remote_addr zone=gs_lim:1m rate=2r/s; limit_req_status 429;"
GW_NGINX_SERVER="location @gs_masked { return 200 \"masked\\n\"; }"
for loc in /lim/ /nob/ /storm/; do
	gw_route "$loc" "$(gw_hostport "$BE1_4" "$P1")" "limit_req zone=gs_lim nodelay"
done
gw_route /ra/ "$(gw_hostport "$BE2_4" "$P2")"
gw_route /big/ "$(gw_hostport "$BE2_4" "$P2")"
gw_route /mask/ "$(gw_hostport "$BE1_4" "$P1")" rewrite=/throttled/ \
	"proxy_intercept_errors on" "error_page 429 =200 @gs_masked"

# Clients: policy, address (on the client link, next to the gateway's own).
CLIENTS=(storm:/storm/ fixed:/nob/ expo:/lim/ sync:/lim/ sync:/lim/ sync:/lim/
	 honour:/ra/ fixed:/ra/ storm:/ra/)
CPREFIX=${GW6%:1}
i=0
for c in "${CLIENTS[@]}"; do
	ip -n "$CNS" -6 addr add "$CPREFIX:$((100 + i))/112" dev "gsv${GS_SUFFIX}b0" nodad
	i=$((i + 1))
done

gw_nginx_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
gw_gatescope "$GS_TMP/gs.json" -e errors -i 1 --metrics 127.0.0.1:0 --record "$GS_TMP/run.gsr" ||
	{ fail "$T" "gatescope did not start"; exit 1; }
METRICS_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$GS_TMP/gs.json.err" | head -1)
# The same run on the TUI, in a tmux pane of its own (checked at the end).
TM=(tmux -L "gsretries$GS_SUFFIX" -f /dev/null)
retries_exit() { "${TM[@]}" kill-server 2>/dev/null; gw_exit; }
trap retries_exit EXIT
if command -v tmux >/dev/null; then
	"${TM[@]}" new-session -d -x 230 -y 60 "$GS_BIN -p $GW_NGINX_PID -o tui -i 1 2>/dev/null"
fi
# One process per client; the sync clients in one process (in step).
pids=() i=0 sync_src="" sync_log="" nstart=0
for c in "${CLIENTS[@]}"; do
	policy=${c%%:*} loc=${c#*:} src=$CPREFIX:$((100 + i)) log=$GS_TMP/client.$i.log
	i=$((i + 1))
	if [ "$policy" = sync ]; then
		sync_src+=${sync_src:+,}$src sync_log+=${sync_log:+,}$log sync_loc=$loc
		continue
	fi
	gs_bg ip netns exec "$CNS" python3 "$GS_ROOT/tests/e2e/retry_clients.py" client "$policy" \
		"$src" "$GW6" "$GW_PORT" "${loc}item" "$SECONDS_RUN" "$log"
	pids+=("$GS_LAST_PID") nstart=$((nstart + 1))
done
gs_bg ip netns exec "$CNS" python3 "$GS_ROOT/tests/e2e/retry_clients.py" client sync \
	"$sync_src" "$GW6" "$GW_PORT" "${sync_loc}item" "$SECONDS_RUN" "$sync_log"
pids+=("$GS_LAST_PID") nstart=$((nstart + 1))
for _ in $(seq 600); do	# the clients start together once all are up
	[ "$(ls "$GS_TMP"/client.*.log.ready 2>/dev/null | wc -l)" -ge $nstart ] && break
	sleep 0.1
done
touch "$GS_TMP/go"
: >"$GS_TMP/client.mask" && : >"$GS_TMP/client.big"
gw_client mask /mask/ "$(gw_url "/mask/[1-20]")"
gw_client big /big/ "$(gw_url "/big/[1-10]")"
wait "${pids[@]}"
sleep 2.5	# every request decided (join wait) and in a published report (-i 1)
curl -s --max-time 5 "$METRICS_URL" >"$GS_TMP/metrics.txt"
"${TM[@]}" capture-pane -p >"$GS_TMP/tui.txt" 2>/dev/null
"${TM[@]}" send-keys q 2>/dev/null
gs_stop
gw_normalise nginx "$GW_DIR/access.log" >"$GS_TMP/access.norm"
gw_nginx_stop

specs=() i=0
for c in "${CLIENTS[@]}"; do
	specs+=("${c%%:*}:${c#*:}:$CPREFIX:$((100 + i)):$GS_TMP/client.$i.log")
	i=$((i + 1))
done
python3 "$GS_ROOT/tests/e2e/retry_check.py" "$T" "$GS_TMP/gs.json" "$GS_TMP/access.norm" \
	"$GS_TMP/backend.log" "$GS_TMP/client.mask" "$GS_TMP/client.big" "$GS_TMP/metrics.txt" \
	"${specs[@]}" ||
	GS_FAILS=$((GS_FAILS + 1))
# The TUI's panel: the masked failure and every client's verdict as JSON has it.
if command -v tmux >/dev/null; then
	python3 - "$GS_TMP/gs.json" "$GS_TMP/tui.txt" <<-'EOF' || GS_FAILS=$((GS_FAILS + 1))
	import json, sys
	total = [json.loads(l) for l in open(sys.argv[1]) if '"type":"total"' in l][-1]
	screen = open(sys.argv[2]).read()
	want = ["THROTTLING, CLIENT RETRIES, MASKED FAILURES",
	        "MASKED FAILURE GET gw.test/mask/{id}: upstream 429 answered as 200"]
	want += [f"client {c['client']} {c['route']}: " for c in total["throttled_clients"]
	         if c["verdict"] != "unknown"]
	verdicts = {f"client {c['client']} {c['route']}: ": c["verdict"] for c in total["throttled_clients"]}
	bad = [w for w in want if w not in screen]
	bad += [w for w, v in verdicts.items() if w in screen and
	        not any(w in l and f": {v} (" in l for l in screen.splitlines())]
	print(("PASS" if not bad else "FAIL") + " retries: the TUI panel shows the masked failure and each client's verdict"
	      + (f": missing {bad}" if bad else ""))
	sys.exit(1 if bad else 0)
	EOF
else
	echo "SKIP retries: TUI panel: tmux not installed"
fi
# The recording replayed: the same verdicts and figures, offline.
"$GS_BIN" --replay "$GS_TMP/run.gsr" --json >"$GS_TMP/replay.json" 2>"$GS_TMP/replay.err"
python3 - "$GS_TMP/gs.json" "$GS_TMP/replay.json" <<-'EOF' || GS_FAILS=$((GS_FAILS + 1))
	import json, sys
	def total(p):
	    return [json.loads(l) for l in open(p) if '"type":"total"' in l][-1]
	live, replay = total(sys.argv[1]), total(sys.argv[2])
	key = lambda t: sorted((c["client"], c["route"], c["retries"], c["verdict"])
	                       for c in t["throttled_clients"])
	rkey = lambda t: sorted((r["route"], r["retries"]["client_retries"],
	                         json.dumps(r["retries"]["throttled"]), json.dumps(r["masked_failures"]))
	                        for r in t["routes"])
	ok = key(live) == key(replay) and rkey(live) == rkey(replay)
	print(("PASS" if ok else "FAIL") + " retries: the recording replayed gives the same retries, verdicts and masked failures"
	      + ("" if ok else f": live {key(live)} {rkey(live)}, replay {key(replay)} {rkey(replay)}"))
	sys.exit(0 if ok else 1)
	EOF
if [ "$GS_FAILS" -gt 0 ]; then
	echo "--- gatescope stderr"; tail -5 "$GS_TMP/gs.json.err"
	echo "--- nginx error log (tail)"; tail -5 "$GW_DIR/error.log"
fi
exit $((GS_FAILS > 0))
