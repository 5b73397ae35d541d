#!/bin/bash
# SPDX-License-Identifier: MIT
# The incident report of a live run (--report FILE, written at exit) behind
# a real nginx, opened in chromium.  The oracles are the test's own: nginx's
# configured read timeouts (1 s on /tight to backend A, 2 s on /inv and
# /wait to backend B), the clients' patience (clients of /inv close 1.5 s after sending)
# and what every client got.  The ladder must show, for the client-facing
# port and backend A, the clients' 1.5 s and the gateway's 1 s read timeout
# as a tight rung, and for backend B the 2 s read timeout as an inverted one
# (clients give up first); the timeline must count every request the
# clients sent and their failures; there must be one failed-request row
# per failed request.  Requests for /down (nothing listens there: 502)
# carry a path full of markup: it must show as text, and nothing in it may
# become an element, a handler or a request.  The live run's recording,
# replayed with --report, gives a report with the same figures.  The
# retries section: /mask/ answers the backend's 429 as 200 (nginx
# proxy_intercept_errors + error_page 429 =200): every request of it is a
# masked failure; one client asks /thr/again four times, each answered 429
# by the backend: four throttled answers, three retries.
. "$(dirname "$0")/gateway_lib.sh"
. "$(dirname "$0")/report_lib.sh"
T=report_live
GW_KIND=nginx
# Timeouts are inferred from closes within 2 % of each other: on a loaded
# machine nginx's timers and the clients' must fire on time.
GW_NGINX_RT=1
report_need_tools $T
gw_attr_begin "$T"
PA=$(gw_be_port 2) PB=$(gw_be_port 3) PD=$(gw_be_port 4)
gw_backend "$B2NS" :: "$PA" --mode slow --delay-ms 4000 || { fail "$T" "backend A"; exit 1; }
gw_backend "$B2NS" :: "$PB" --mode slow --delay-ms 4000 || { fail "$T" "backend B"; exit 1; }
A=$(gw_hostport "$BE2_4" "$PA") B=$(gw_hostport "$BE2_4" "$PB")
gw_route /tight "$A" read=1s
gw_route /inv "$B" read=2s
gw_route /wait "$B" read=2s
gw_route /down "$(gw_hostport "$BE2_4" "$PD")"
OKBE=$(gw_hostport "$BE1_4" "$(gw_be_port 1)")
GW_NGINX_SERVER="location @gs_masked { return 200 \"masked\\n\"; }"
gw_route /mask/ "$OKBE" rewrite=/throttled/ "proxy_intercept_errors on" "error_page 429 =200 @gs_masked"
gw_route /thr/ "$OKBE" rewrite=/throttled/
gw_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
R=$GS_TMP/live.html
gw_gatescope "$GW_OUT" --report "$R" --record "$GS_TMP/live.gsr" || { fail "$T" "gatescope did not start"; exit 1; }

# Markup in a path: quotes, tags, a script, handlers (no space: a request
# line cannot carry one).
HOSTILE="/down/\"'><script>document.title='pwned'</script><img/src=x/onerror=alert(1)><svg/onload=fetch('//127.0.0.1:9/')>"
# give_up N: a client that sends GET /inv/cN and closes 1.5 s after
# sending it if no answer came; one "LOCATION STATUS PATH" line as
# gw_client writes (000: it gave up).  Its patience starts when the
# request is sent, not when the process starts (curl --max-time would
# count its own start-up too, which varies on a loaded machine).
give_up() {
	ip netns exec "$CNS" chrt -r 1 python3 -c '
import os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET /inv/c%s HTTP/1.1\r\nHost: gw.test\r\n\r\n" % sys.argv[3].encode())
s.settimeout(1.5)
try:
    head = s.recv(64).split(b" ")
    status = head[1].decode() if len(head) > 1 else "000"
except socket.timeout:
    status = "000"
except OSError as e:	# a reset: no answer either, but say so
    print(f"give_up {sys.argv[3]}: {e!r}", file=sys.stderr)
    status = "000"
s.close()
# One write: the six clients give up at the same moment, and a line
# printed in two writes (text, then newline) interleaved with another.
os.write(1, f"/inv {status} /inv/c{sys.argv[3]}\n".encode())' "$GW4" "$GW_PORT" "$1" >>"$GS_TMP/client.attr.$GW_KIND" \
		2>>"$GS_TMP/give_up.err" || echo "# give_up $1: exited $?" >>"$GS_TMP/give_up.err"
}
# Six of each: the inference needs three closes within 2 % (20 ms) of
# each other, and a loaded machine spreads them.
gw_attr_clients /tight 6 1
for i in 1 2 3 4 5 6; do
	give_up "$i" &
	GW_CLIENT_PIDS+=($!)
done
gw_attr_clients /wait 6 1
gw_attr_clients /ok 1 6
gw_client "attr.$GW_KIND" /mask/ "$(gw_url "/mask/[1-5]")" &
GW_CLIENT_PIDS+=($!)
(for _ in 1 2 3 4; do gw_client "attr.$GW_KIND" /thr/ "$(gw_url /thr/again)"; done) &
GW_CLIENT_PIDS+=($!)
for i in 1 2 3; do
	gw_client "attr.$GW_KIND" /down "$(gw_url "$HOSTILE$i")" -g --path-as-is &
	GW_CLIENT_PIDS+=($!)
done
wait "${GW_CLIENT_PIDS[@]}"
GW_CLIENT_PIDS=()
gw_wait_logged
sleep 0.5	# events are drained every 100 ms
gs_stop
rc=$?
gw_stop
CLIENTS=$GS_TMP/client.attr.$GW_KIND
gs_check "$T: gatescope exit status" "$rc" 0
gs_check "$T: requests the clients sent" "$(grep -c . "$CLIENTS")" 36
# Which client's line is missing when one is (seen under a full suite's load).
[ "$(grep -c . "$CLIENTS")" = 36 ] || sed 's/^/# client line: /' "$CLIENTS"
[ -s "$GS_TMP/give_up.err" ] && sed 's/^/# /' "$GS_TMP/give_up.err"
gs_check "$T: the hostile requests reached nginx and failed (502)" \
	"$(grep -c '^/down 502' "$CLIENTS")" 3
gs_check "$T: nginx answered the masked route 200" "$(grep -c '^/mask/ 200' "$CLIENTS")" 5
gs_check "$T: the backend throttled /thr/again" "$(grep -c '^/thr/ 429' "$CLIENTS")" 4
[ -s "$R" ] || { fail "$T: report written at exit" "$(tail -3 "$GW_OUT.err")"; exit 1; }
gs_check "$T: report file mode" "$(stat -c %a "$R")" 600
python3 "$REPORT_CHECK" valid "$R" || GS_FAILS=$((GS_FAILS + 1))

if report_browse "$R" "$GS_TMP/live.dom" "$GS_TMP/live.netlog"; then
	pass "$T: chromium rendered the report"
	D=$GS_TMP/live.dom
	python3 "$REPORT_CHECK" netlog "$GS_TMP/live.netlog" none || GS_FAILS=$((GS_FAILS + 1))
	python3 "$REPORT_CHECK" dom "$D" "$GW_OUT" --clients "$CLIENTS" || GS_FAILS=$((GS_FAILS + 1))
	L=0.0.0.0:$GW_PORT
	for want in "$A read 1.0 tight" "$A patience 1.5 none" "$B read 2.0 inverted" "$B patience 1.5 none"; do
		set -- $want
		python3 "$REPORT_CHECK" ladder "$D" "$L" "$1" "$2" "$3" "$4" || GS_FAILS=$((GS_FAILS + 1))
	done
	python3 "$REPORT_CHECK" hostile "$D" "${HOSTILE}1" || GS_FAILS=$((GS_FAILS + 1))
	python3 "$REPORT_CHECK" retries "$D" gw.test/mask/ 5 gw.test/thr/again 4 3 ||
		GS_FAILS=$((GS_FAILS + 1))
else
	fail "$T: chromium rendered the report" "$(tail -3 "$GS_TMP/live.dom.err")"
fi

# The recording of the same run, replayed: the same figures, from the file.
"$GS_BIN" --replay "$GS_TMP/live.gsr" --json -e all >"$GS_TMP/replay.json" 2>/dev/null
"$GS_BIN" --replay "$GS_TMP/live.gsr" --json --report "$GS_TMP/replay.html" >/dev/null 2>&1 ||
	fail "$T: --replay of the live recording with --report" "exit $?"
python3 "$REPORT_CHECK" valid "$GS_TMP/replay.html" || GS_FAILS=$((GS_FAILS + 1))
python3 "$REPORT_CHECK" dom "$GS_TMP/replay.html" "$GS_TMP/replay.json" --clients "$CLIENTS" |
	sed 's/^\(PASS\|FAIL\) /\1 replay: /'
[ "${PIPESTATUS[0]}" -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
exit $((GS_FAILS > 0))
