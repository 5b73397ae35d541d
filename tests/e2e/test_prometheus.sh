#!/bin/bash
# --metrics end to end: a client (unique name) in one namespace talks to a
# backend in another that answers every request with an RST.  gatescope
# traces the client and serves /metrics on loopback; the scrape passes
# `promtool check metrics`; Debian's Prometheus scrapes it every second and
# its HTTP API must report gatescope_resets_total equal to the resets the
# client saw.  Then hostile clients (slowloris, a 1 MiB request, garbage)
# must not keep /metrics from answering within 2 s, nor stall the reports.
. "$(dirname "$0")/lib.sh"

T=prometheus
gs_require_bpf "$T"
for tool in prometheus promtool curl jq python3; do
	command -v "$tool" >/dev/null || { skip "$T" "$tool not installed (tools/install-deps.sh)"; exit 0; }
done
RST=$GS_TOOLS/gs-rst
[ -x "$RST" ] || { fail "$T" "$RST not built (make tools)"; exit 1; }

N=25
COMM="gsrst$GS_SUFFIX"
COMM=${COMM:0:15}
cp "$RST" "$GS_TMP/$COMM"
# Not cli=$(gs_ns ...): in a subshell gs_ns could not record the namespace
# for the cleanup trap.
gs_ns pcli >/dev/null && gs_ns psrv >/dev/null ||
	{ fail "$T" "cannot build namespaces"; exit 1; }
cli=gs-pcli-$GS_SUFFIX
srv=gs-psrv-$GS_SUFFIX
gs_link "$cli" "$srv" 0 || { fail "$T" "cannot link namespaces"; exit 1; }
SRV_IP=$(gs_ip_b 0)
BACKEND="$SRV_IP:8080"
OUT=$GS_TMP/out.json

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# /metrics status and time; "000" when nothing answered within 2 s.
scrape() {	# file -> prints "STATUS SECONDS"
	curl -s --max-time 2 -o "$1" -w '%{http_code} %{time_total}' "$METRICS_URL"
}

# The value of one PromQL expression from Prometheus's HTTP API, or "".
prom_query() {
	curl -s --max-time 2 -G --data-urlencode "query=$1" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query" |
		jq -r 'if .status == "success" and (.data.result | length) == 1
		       then .data.result[0].value[1] else "" end' 2>/dev/null
}

# ---- gatescope with --metrics on a free port (port 0: it prints the one it got)
gs_start "$OUT" -c "$COMM" -i 1 --metrics 127.0.0.1:0 || { fail "$T" "gatescope did not start"; exit 1; }
METRICS_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$OUT.err" | head -1)
[ -n "$METRICS_URL" ] || { fail "$T" "no 'serving metrics at' line: $(cat "$OUT.err")"; exit 1; }
METRICS_HOSTPORT=${METRICS_URL#http://}
METRICS_HOSTPORT=${METRICS_HOSTPORT%/metrics}

# ---- Prometheus on loopback, scraping gatescope every second
cat >"$GS_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gatescope
    static_configs:
      - targets: ['$METRICS_HOSTPORT']
EOF
promtool check config "$GS_TMP/prometheus.yml" >"$GS_TMP/promtool-config.log" 2>&1 ||
	{ fail "$T" "promtool rejects our config: $(cat "$GS_TMP/promtool-config.log")"; exit 1; }
PROM_PORT=
for attempt in 1 2 3; do
	port=$(free_port)
	gs_bg prometheus --config.file="$GS_TMP/prometheus.yml" \
		--storage.tsdb.path="$GS_TMP/tsdb$attempt" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn \
		>"$GS_TMP/prometheus.log" 2>&1
	prom_pid=$GS_LAST_PID
	for _ in $(seq 100); do
		curl -sf --max-time 1 "http://127.0.0.1:$port/-/ready" >/dev/null && { PROM_PORT=$port; break; }
		kill -0 "$prom_pid" 2>/dev/null || break
		sleep 0.2
	done
	[ -n "$PROM_PORT" ] && break
	kill "$prom_pid" 2>/dev/null
done
[ -n "$PROM_PORT" ] || { fail "$T" "prometheus did not start: $(tail -5 "$GS_TMP/prometheus.log")"; exit 1; }

# ---- traffic: N connections, each answered by an RST
gs_bg ip netns exec "$srv" "$RST" server "$SRV_IP" 8080 "$N" >"$GS_TMP/server.out"
for _ in $(seq 50); do
	grep -q listening "$GS_TMP/server.out" && break
	sleep 0.1
done
ip netns exec "$cli" "$GS_TMP/$COMM" client "$SRV_IP" 8080 "$N" >"$GS_TMP/client.out"
RESETS=$(awk '$1 == "resets" { print $2 }' "$GS_TMP/client.out")
CONNECTS=$(awk '$1 == "connects" { print $2 }' "$GS_TMP/client.out")
if [ "$RESETS" != "$N" ] || [ "$CONNECTS" != "$N" ]; then
	fail "$T" "test setup: client saw $CONNECTS connects and $RESETS resets, wanted $N each"
	exit 1
fi

# ---- gatescope's own scrape: the resets, and a document promtool accepts
want_line="gatescope_resets_total{backend=\"$BACKEND\",direction=\"received\"} $N"
got=
for _ in $(seq 50); do
	scrape "$GS_TMP/scrape.txt" >/dev/null
	if grep -qxF "$want_line" "$GS_TMP/scrape.txt"; then
		got=yes
		break
	fi
	sleep 0.2
done
if [ -n "$got" ]; then
	pass "metrics_resets_in_scrape"
else
	fail "metrics_resets_in_scrape" "no line '$want_line'; have: $(grep "gatescope_resets_total{" "$GS_TMP/scrape.txt" | tr '\n' ' ')"
fi
if promtool check metrics <"$GS_TMP/scrape.txt" >"$GS_TMP/promtool.log" 2>&1; then
	pass "metrics_promtool_check"
else
	fail "metrics_promtool_check" "$(head -5 "$GS_TMP/promtool.log" | tr '\n' ' ')"
fi
for fam in gatescope_upstream_connect_seconds gatescope_upstream_ttfb_seconds; do
	grep -qx "# TYPE $fam histogram" "$GS_TMP/scrape.txt" || fail "metrics_histograms" "no TYPE line for $fam"
done
count=$(awk -v b="gatescope_upstream_connect_seconds_count{backend=\"$BACKEND\"}" '$1 == b { print $2 }' "$GS_TMP/scrape.txt")
inf=$(awk -v b="gatescope_upstream_connect_seconds_bucket{backend=\"$BACKEND\",le=\"+Inf\"}" '$1 == b { print $2 }' "$GS_TMP/scrape.txt")
if [ "$count" = "$N" ] && [ "$inf" = "$N" ]; then
	pass "metrics_connect_histogram"
else
	fail "metrics_connect_histogram" "connect histogram count '$count', +Inf '$inf', wanted $N"
fi

# ---- the same numbers through a real Prometheus (its parser, its storage)
q_resets="gatescope_resets_total{backend=\"$BACKEND\",direction=\"received\"}"
q_connects="gatescope_connects_total{backend=\"$BACKEND\"}"
val=
for _ in $(seq 60); do	# at most 30 s
	val=$(prom_query "$q_resets")
	[ "$val" = "$N" ] && break
	sleep 0.5
done
if [ "$val" = "$N" ]; then
	pass "prometheus_resets_total"
else
	fail "prometheus_resets_total" "Prometheus says $q_resets = '$val', the client saw $N resets"
fi
val=$(prom_query "$q_connects")
[ "$val" = "$N" ] && pass "prometheus_connects_total" ||
	fail "prometheus_connects_total" "Prometheus says $q_connects = '$val', wanted $N"
val=$(prom_query "gatescope_resets_total{backend=\"$BACKEND\",direction=\"sent\"}")
[ "$val" = 0 ] && pass "prometheus_resets_sent_zero" ||
	fail "prometheus_resets_sent_zero" "resets sent '$val', wanted 0"
val=$(prom_query "histogram_quantile(0.5, gatescope_upstream_connect_seconds_bucket{backend=\"$BACKEND\"})")
if [ -n "$val" ] && awk -v v="$val" 'BEGIN { exit !(v > 0 && v < 1) }'; then
	pass "prometheus_histogram_quantile"
else
	fail "prometheus_histogram_quantile" "median connect time '$val' s, expected within (0, 1) on a veth"
fi

# ---- hostile clients
cat >"$GS_TMP/hostile.py" <<'EOF'
import os, socket, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def conn():
    s = socket.create_connection((host, port), timeout=5)
    return s

def answer(s):
    """First line of the answer, or 'closed'."""
    s.settimeout(5)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return "closed (%s)" % e.__class__.__name__
    return data.split(b"\r\n")[0].decode("latin-1") if data else "closed"

if mode == "slowloris":            # N connections for SECS seconds
    n, secs = int(sys.argv[4]), float(sys.argv[5])
    socks = []
    for i in range(n):
        try:
            s = conn()
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
            socks.append(s)
        except OSError:
            pass
    print("opened", len(socks), flush=True)
    end = time.time() + secs
    while time.time() < end:        # a byte a second on half of them
        for i, s in enumerate(socks):
            if i % 2:
                try:
                    s.send(b"a")
                except OSError:
                    pass
        time.sleep(1)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += s.recv(1) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("still_open", alive, flush=True)
elif mode == "big":                # a 1 MiB request head
    s = conn()
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    except OSError:
        pass
    print(answer(s))
elif mode == "bigbody":            # a 1 MiB body
    s = conn()
    try:
        s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (1 << 20)
                  + b"b" * (1 << 20))
    except OSError:
        pass
    print(answer(s))
elif mode == "garbage":
    s = conn()
    try:
        s.sendall(os.urandom(65536))
    except OSError:
        pass
    print(answer(s))
EOF
host=${METRICS_HOSTPORT%:*}
mport=${METRICS_HOSTPORT##*:}
summaries_before=$(grep -c '"type":"summary"' "$OUT")
gs_bg python3 "$GS_TMP/hostile.py" "$host" "$mport" slowloris 100 6 >"$GS_TMP/slowloris.out" 2>&1
slow_pid=$GS_LAST_PID
for _ in $(seq 50); do
	grep -q opened "$GS_TMP/slowloris.out" && break
	sleep 0.1
done
slow_ok=0 slow_worst=0
for i in 1 2 3 4 5; do
	read -r code secs < <(scrape "$GS_TMP/scrape-slow.txt")
	if [ "$code" = 200 ] && grep -q '^gatescope_lost_events_total ' "$GS_TMP/scrape-slow.txt"; then
		slow_ok=$((slow_ok + 1))
	fi
	slow_worst=$(awk -v a="$slow_worst" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')
	sleep 1
done
wait "$slow_pid" 2>/dev/null
if [ "$slow_ok" = 5 ]; then
	pass "metrics_slowloris"
else
	fail "metrics_slowloris" "$slow_ok of 5 scrapes answered within 2 s while $(cat "$GS_TMP/slowloris.out" | tr '\n' ' ')"
fi
echo "slowloris: $(tr '\n' ' ' <"$GS_TMP/slowloris.out"); slowest scrape ${slow_worst}s"

for mode in big bigbody garbage; do
	answer=$(timeout 20 python3 "$GS_TMP/hostile.py" "$host" "$mport" "$mode" 2>&1)
	read -r code secs < <(scrape "$GS_TMP/scrape-$mode.txt")
	echo "$mode request answered: $answer; next scrape $code in ${secs}s"
	case "$mode:$answer" in
	big:*" 431 "* | big:closed* | bigbody:*" 405 "* | garbage:*" 400 "* | garbage:closed*) ;;
	*) fail "metrics_$mode" "unexpected answer: $answer"; continue ;;
	esac
	if [ "$code" = 200 ] && grep -q '^gatescope_lost_events_total ' "$GS_TMP/scrape-$mode.txt"; then
		pass "metrics_$mode"
	else
		fail "metrics_$mode" "/metrics after a $mode request: status $code"
	fi
done

code=$(curl -s --max-time 2 -o "$GS_TMP/health.txt" -w '%{http_code}' "http://$METRICS_HOSTPORT/healthz")
[ "$code" = 200 ] && [ "$(cat "$GS_TMP/health.txt")" = ok ] && pass "metrics_healthz" ||
	fail "metrics_healthz" "/healthz: $code $(cat "$GS_TMP/health.txt")"
code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://$METRICS_HOSTPORT/nope")
code2=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' -X DELETE "$METRICS_URL")
[ "$code" = 404 ] && [ "$code2" = 405 ] && pass "metrics_404_405" ||
	fail "metrics_404_405" "unknown path gave $code, DELETE gave $code2"

# The event loop kept reporting through all of it (about 1 summary a second).
summaries_after=$(grep -c '"type":"summary"' "$OUT")
if [ $((summaries_after - summaries_before)) -ge 6 ]; then
	pass "metrics_event_loop_unblocked"
else
	fail "metrics_event_loop_unblocked" "only $((summaries_after - summaries_before)) reports during the hostile clients"
fi
# And Prometheus never lost its target.
val=$(prom_query "min_over_time(up{job=\"gatescope\"}[1m])")
[ "$val" = 1 ] && pass "prometheus_target_up" ||
	fail "prometheus_target_up" "min_over_time(up[1m]) = '$val' (a scrape failed)"

gs_stop
if grep -q '"type":"total"' "$OUT"; then
	pass "metrics_clean_exit"
else
	fail "metrics_clean_exit" "no total line after SIGINT: $(tail -3 "$OUT.err")"
fi
[ "$GS_FAILS" -eq 0 ]
