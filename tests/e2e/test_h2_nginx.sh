#!/bin/bash
# SPDX-License-Identifier: MIT
# HTTP/2 clients of nginx "listen ... ssl http2" (ALPN h2), plain HTTP/1.1
# to the backends: every stream is a request.
#  - curl --http2, one connection per glob (many streams on one
#    connection): routes and statuses exactly as curl counted them, timings
#    as nginx logged them, every request on the client connection curl used;
#  - h2load, 2 connections x 10 concurrent streams (interleaved HEADERS and
#    DATA): as many requests and statuses as h2load and nginx counted;
#  - a backend that hangs past nginx's 1 s read timeout, 4 concurrent
#    streams on one connection at a time: every 504 is backend/backend_slow,
#    as for HTTP/1;
#  - a client that cancels its streams (RST_STREAM CANCEL, h2_cancel.py)
#    before any answer: client/client_abort, as nginx logged (499);
#  - the other backend faults of the HTTP/1 scenarios, several streams of
#    one connection at a time: a backend that resets after the request
#    (backend/backend_reset), SYNs dropped past nginx's 1 s connect
#    timeout (network/connect_timeout), a port nothing listens on
#    (backend/backend_refused; see h2_check_refused);
#  - no connection left undecodable, every HTTP/2 connection counted;
#  - the run's --record file holds no credential of a request that sent
#    some (Authorization, Cookie), and its replay prints the very request
#    lines the live run printed.
. "$(dirname "$0")/tls_lib.sh"
T=h2_nginx
gs_require_bpf "$T"
tls_require_h2_nginx "$T"
curl -V | grep -q HTTP2 || { skip "$T" "curl without HTTP/2"; exit 0; }

TLS_DOWN=1
GW_NGINX_RT=1
GW_TIMING_BAR=0.90	# as over HTTP/1 with TLS (test_tls_nginx_clients.sh)
GW_KEEPALIVE=8
GW_BACKEND_SECONDS=60
tls_nginx_h2

gw_setup || { fail "$T" "testbed setup"; exit 1; }
tls_certs || { fail "$T" "certificate: $(cat "$GS_TMP/tls/openssl.err")"; exit 1; }
GW_KIND=nginx
gw_attr_kind_state "$T"
TK=$T
P1=$(gw_be_port 1) P2=$(gw_be_port 2) P3=$(gw_be_port 3)
P4=$(gw_be_port 4) P5=$(gw_be_port 5) P6=$(gw_be_port 6)
gw_backend "$B1NS" :: "$P1" || { fail "$T" "backend 1"; exit 1; }
gw_backend "$B2NS" :: "$P2" --chunked --body-bytes 300 || { fail "$T" "backend 2"; exit 1; }
gw_backend "$B2NS" :: "$P3" --mode hang --delay-ms 20000 || { fail "$T" "hanging backend"; exit 1; }
gw_backend "$B2NS" :: "$P4" --mode reset || { fail "$T" "resetting backend"; exit 1; }
gw_backend "$B2NS" :: "$P6" || { fail "$T" "blackholed backend"; exit 1; }
gw_fault_syn_drop "$B2NS" "$P6" || { fail "$T" "nft"; exit 1; }	# nothing listens on P5
gw_route /a/ "$(gw_hostport "$BE1_4" "$P1")"
gw_route /b/ "$(gw_hostport "$BE2_6" "$P2")"
gw_route /status/ "$(gw_hostport "$BE2_4" "$P2")"
gw_route /h/ "$(gw_hostport "$BE1_4" "$P1")"
gw_route /slow "$(gw_hostport "$BE2_4" "$P3")" connect=1s read=1s
gw_route /cancel "$(gw_hostport "$BE2_4" "$P3")" connect=1s read=5s
gw_route /reset "$(gw_hostport "$BE2_6" "$P4")" connect=1s read=2s
gw_route /down "$(gw_hostport "$BE2_4" "$P5")" connect=1s read=2s
gw_route /blackhole "$(gw_hostport "$BE2_4" "$P6")" connect=1s read=2s
LOCS=(/a/ /b/ /status/)

# h2 clients: tls_client with --http2 (a glob is one connection, its
# requests streams of it).
h2_client() { tls_client "$1" "$2" "$3" --http2 "${@:4}"; }
# For the attribution checks: "LOC STATUS PATH" in client.attr.nginx.
h2_attr_client() {	# LOC URL [curl args]
	gw_curl -k --http2 -H "Host: $GW_HOST" -w '\nGSCODE %{http_code} %{url_effective}\n' \
		"${@:3}" "$2" | sed -n "s|^GSCODE \([0-9]*\) [a-z]*://[^/]*|$1 \1 |p" \
		>>"$GS_TMP/client.attr.nginx"
}

# h2_check_refused LOC: the refused streams of LOC.  nginx connects for
# each stream of a connection in turn and is refused at once, so the
# refusals form what looks like one request's retry chain (each connect
# begins after the previous refusal), and nginx answers the streams only
# after all of them: a stream could be left without its attempt
# (unknown/unjoined) and another given two (the join keeps a request to the
# refusals only it could have made when the others have as many other
# answered requests to explain).  Never blamed on another party:
# every verdict is backend/backend_refused or unknown; the unknown ones
# are a loud known gap, not a pass.
h2_check_refused() {
	python3 - "$T" "$OUT" "$GS_TMP/client.attr.nginx" "$1" <<-'PY'
	import collections, json, sys
	test, out, clients, loc = sys.argv[1:5]
	sent = [l.split()[2] for l in open(clients) if l.split()[0] == loc]
	got, tries = {}, collections.Counter()
	for l in open(out):
	    if '"type":"request"' in l:
	        o = json.loads(l)
	        if o["route"].startswith(loc + "/"):
	            got[o["route"]] = f'{o["cause"]}/{o["reason"]}'
	            tries[len(o["attempts"])] += 1
	v = collections.Counter(got.get(p, "missing") for p in sent)
	print(f"# {loc}: {dict(v)}")
	wrong = {k: n for k, n in v.items() if k not in ("backend/backend_refused", "unknown/unjoined")}
	print(f"FAIL {test}: {loc}: no refused stream blamed on another party: {wrong}" if wrong or not sent
	      else f"PASS {test}: {loc}: no refused stream blamed on another party ({len(sent)} streams)")
	print(f"PASS {test}: {loc}: refusals attributed to the backend ({v['backend/backend_refused']})"
	      if v["backend/backend_refused"] else f"FAIL {test}: {loc}: no refusal attributed to the backend")
	if v["unknown/unjoined"]:
	    print(f"SKIP {test}: {loc}: every refused stream joined to its attempt: KNOWN GAP: "
	          f"{v['unknown/unjoined']} of {len(sent)} unjoined (refusals of one connection's streams look like a retry chain)")
	else:
	    print(f"PASS {test}: {loc}: every refused stream joined to its attempt")
	    print(f"PASS {test}: {loc}: one attempt per stream, as nginx logged" if set(tries) == {1}
	          else f"FAIL {test}: {loc}: one attempt per stream, as nginx logged: {dict(tries)}")
	PY
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

OUT=$GS_TMP/h2.json
GW_OUT=$OUT
gw_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
REC=$GS_TMP/h2.gsr
gw_gatescope "$OUT" --record "$REC" || { fail "$T" "gatescope did not start"; exit 1; }
ver=$(gw_curl -k --http2 -o /dev/null -w '%{http_version}' "$(tls_url /ok/probe)")
[ "$ver" = 2 ] && pass "$T: curl and nginx speak HTTP/2" ||
	fail "$T: curl and nginx speak HTTP/2" "curl's http_version: '$ver'"
echo "/ok 200 /ok/probe" >>"$GS_TMP/client.attr.nginx"
: >"$GS_TMP/client.h2"
pids=()
( h2_client h2 /a/ "$(tls_url "/a/1/[1-40]")" ) & pids+=($!)
( h2_client h2 /b/ "$(tls_url "/b/1/[101-130]" 6)" ) & pids+=($!)
( for code in 200 404 500 503; do h2_client h2 /status/ "$(tls_url "/status/$code/[201-206]")"; done ) & pids+=($!)
( ip netns exec "$CNS" h2load -n 200 -c 2 -m 10 "$(tls_url /h/load)" \
	>"$GS_TMP/h2load.out" 2>&1 ) & pids+=($!)
( for i in 1 2 3; do h2_attr_client /slow "$(tls_url "/slow/c$i-[1-4]")" --parallel; done ) & pids+=($!)
for loc in /reset /down /blackhole; do
	( for i in 1 2; do h2_attr_client "$loc" "$(tls_url "$loc/c$i-[1-3]")" --parallel; done ) &
	pids+=($!)
done
SECRETS=(Zx81qH2TOKEN H2COOKIEq93)
( for i in $(seq 8); do h2_attr_client /ok "$(tls_url "/ok/c1-$i")"; done
  h2_attr_client /ok "$(tls_url /ok/c1-9)" -H "Authorization: Bearer ${SECRETS[0]}" \
	-H "Cookie: sid=${SECRETS[1]}" ) & pids+=($!)
ip netns exec "$CNS" python3 "$GS_ROOT/tests/e2e/h2_cancel.py" --host test --authority "$GW_HOST" \
	--after 0.5 "$GW4" "$GW_PORT" /cancel/x 3 >"$GS_TMP/cancel.out" 2>"$GS_TMP/cancel.err" &
pids+=($!)
wait "${pids[@]}"
sed -n 's|^\(/cancel[^ ]*\) \(000\)$|/cancel 0 \1|p; s|^\(/cancel[^ ]*\) answered$|/cancel 200 \1|p' \
	"$GS_TMP/cancel.out" >>"$GS_TMP/client.attr.nginx"
want=$(($(cat "$GS_TMP/client.h2" "$GS_TMP/client.attr.nginx" | wc -l) + 200))
for _ in $(seq 100); do
	[ "$(grep -c . "$GW_DIR/access.log")" -ge "$want" ] && break
	sleep 0.1
done
sleep 0.5	# events are drained every 100 ms
gs_stop
gw_stop
GW_ALOG=$GW_NLOG
grep -q '"type":"total"' "$OUT" || { fail "$T" "gatescope printed no total line"; cat "$OUT.err"; exit 1; }

tls_by_completion "$OUT" >"$OUT.done"
gw_check_http "$T" "$OUT.done" "$GW_NLOG" "$GS_TMP/client.h2" "${LOCS[@]}"
[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
tls_check_conns "$T" "$OUT" h2 "${LOCS[@]}"

# h2load's own counts, nginx's log and gatescope's requests of /h/.
python3 - "$T" "$OUT" "$GW_NLOG" "$GS_TMP/h2load.out" <<'PY' || GS_FAILS=$((GS_FAILS + 1))
import collections, json, re, sys
test, out, nlog, h2l = sys.argv[1:5]
text = open(h2l).read()
m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded", text)
c = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
fails = 0
def res(ok, name, why):
    global fails
    fails += not ok
    print(f"PASS {test}: {name}" if ok else f"FAIL {test}: {name}: {why}")
if not m or not c:
    res(False, "h2load ran", text[-300:])
    sys.exit(1)
done, ok2xx = int(m.group(3)), int(c.group(1))
ng = collections.Counter(l.split()[2] for l in open(nlog) if l.split()[1].startswith("/h/"))
reqs = [json.loads(l) for l in open(out) if '"type":"request"' in l]
gs = collections.Counter(str(o["status"]) for o in reqs if o["route"].startswith("/h/"))
protos = collections.Counter(o.get("proto") for o in reqs)
res(done == 200 and ok2xx == 200, "h2load: 200 requests done, 200 2xx", text[-300:])
res(gs == ng and sum(gs.values()) == done,
    f"{done} concurrent streams: every request and status as h2load and nginx counted",
    f"gatescope {dict(gs)}, nginx {dict(ng)}, h2load done {done}")
res(set(protos) == {"h2"}, "every request line says proto h2", f"{dict(protos)}")
sys.exit(1 if fails else 0)
PY

gw_check_attr "$T" /slow backend backend_slow
gw_check_attr "$T" /cancel client client_abort
gw_check_attr "$T" /reset backend backend_reset
h2_check_refused /down
gw_check_attr "$T" /blackhole network connect_timeout
# Each cancelled stream was reset by the client, not the gateway.
n=$(grep -c . "$GS_TMP/cancel.out")
tls_check_counts "$T" "$OUT" "h2_broken_conns == 0" "unparsable_conns == 0" \
	"h2_resets_by_client >= $(grep -c ' 000$' "$GS_TMP/cancel.out")" "h2_conns >= 12" \
	"h2_streams == requests" "$n == 3"

# The recording: no credential, and the same request lines when replayed.
leaks=0
for s in "${SECRETS[@]}"; do grep -qa "$s" "$REC" && leaks=$((leaks + 1)); done
gs_check "$T: the recording holds no credential" "$leaks" 0
"$GS_BIN" --replay "$REC" --json -e all >"$GS_TMP/replay.json" 2>"$GS_TMP/replay.err"
python3 - "$T" "$OUT" "$GS_TMP/replay.json" <<'PY' || GS_FAILS=$((GS_FAILS + 1))
import collections, json, sys
test, live, replay = sys.argv[1:4]
lines = lambda f: collections.Counter(l for l in open(f) if l.startswith('{"type":"request"'))
a, b = lines(live), lines(replay)
ok = a == b and sum(a.values()) > 0
print(f"PASS {test}: the replay prints the live run's {sum(a.values())} request lines" if ok else
      f"FAIL {test}: the replay prints the live run's request lines: {sum((a - b).values())} live only, "
      f"{sum((b - a).values())} replayed only, e.g. {list(a - b)[:1]} vs {list(b - a)[:1]}")
sys.exit(0 if ok else 1)
PY
exit $((GS_FAILS > 0))
