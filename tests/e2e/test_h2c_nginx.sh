#!/bin/bash
# SPDX-License-Identifier: MIT
# Cleartext HTTP/2 with prior knowledge (h2c): nginx "listen ... http2"
# without TLS, clients curl --http2-prior-knowledge and h2load (2 connections x 10 concurrent
# streams), plain HTTP/1.1 to the backend.  The bytes come from the socket
# tracepoints, not libssl; nginx writes HTTP/2 frames with writev, a frame
# header and its payload in iovecs of their own, so every iovec of a send
# must be copied.  gatescope must count every request and status
# as the clients and nginx's log did, decode every connection, and say
# proto h2.
. "$(dirname "$0")/gateway_lib.sh"
T=h2c_nginx
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }
command -v h2load >/dev/null || { skip "$T" "h2load not installed (nghttp2-client)"; exit 0; }
curl -V | grep -q HTTP2 || { skip "$T" "curl without HTTP/2"; exit 0; }

GW_KEEPALIVE=8
GW_BACKEND_SECONDS=40
eval "$(declare -f gw_nginx_conf | sed '1s/gw_nginx_conf/h2c_plain_nginx_conf/')"
gw_nginx_conf() {
	h2c_plain_nginx_conf | sed -E 's/^([[:space:]]*listen[[:space:]][^;]*);/\1 http2;/'
}
gw_setup || { fail "$T" "testbed setup"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2)
gw_backend "$B1NS" :: "$P1" || { fail "$T" "backend 1"; exit 1; }
gw_backend "$B2NS" :: "$P2" --chunked --body-bytes 3000 || { fail "$T" "backend 2"; exit 1; }
gw_route /a/ "$(gw_hostport "$BE1_4" "$P1")"
gw_route /status/ "$(gw_hostport "$BE2_4" "$P2")"
gw_route /h/ "$(gw_hostport "$BE2_4" "$P2")"

OUT=$GS_TMP/h2c.json
gw_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
gw_gatescope "$OUT" ${H2C_GS_ARGS:-} || { fail "$T" "gatescope did not start"; exit 1; }
: >"$GS_TMP/client.h2c"
pids=()
# One connection per curl: curl 7.88 answers only the first URL of a glob
# over prior knowledge (h2load makes the concurrent streams).
( for i in $(seq 20); do gw_client h2c /a/ "$(gw_url "/a/1/$i")" --http2-prior-knowledge; done ) &
pids+=($!)
( for code in 200 404 503; do for i in 1 2 3; do
	gw_client h2c /status/ "$(gw_url "/status/$code/$i" 6)" --http2-prior-knowledge
  done; done ) & pids+=($!)
( ip netns exec "$CNS" h2load -n 100 -c 2 -m 10 "$(gw_url /h/load)" >"$GS_TMP/h2load.out" 2>&1 ) &
pids+=($!)
wait "${pids[@]}"
want=$(($(wc -l <"$GS_TMP/client.h2c") + 100))
gw_end_run "$T" "$OUT" "$GW_DIR/access.log" "$want"

PYTHONPATH="$GS_ROOT/tests/e2e" python3 - "$T" "$OUT" "$GW_NLOG" "$GS_TMP/client.h2c" "$GS_TMP/h2load.out" <<'PY' || GS_FAILS=$((GS_FAILS + 1))
import collections, json, re, sys
from e2echeck import Checks, gs_output
test, out, nlog, cfile, h2l = sys.argv[1:6]
res = Checks(test)
def loc(p):
    return "/" + p.split("/")[1] + "/"
objs, reqs, total = gs_output(out)
gs = collections.Counter((loc(o["route"]), o["status"]) for o in reqs)
ng = collections.Counter((loc(l.split()[1]), int(l.split()[2])) for l in open(nlog))
cl = collections.Counter((l.split()[0], int(l.split()[1])) for l in open(cfile))
text = open(h2l).read()
m = re.search(r"status codes: (\d+) 2xx", text)
if m:
    cl[("/h/", 200)] += int(m.group(1))
res(sum(cl.values()) == 129, "the clients got 129 answers", f"{dict(cl)}; h2load: {text[-200:]}")
res(gs == ng == cl, "every request and status as the clients and nginx counted",
    f"gatescope {dict(gs)}, nginx {dict(ng)}, clients {dict(cl)}")
res({o.get("proto") for o in reqs} == {"h2"}, "every request line says proto h2",
    f"{collections.Counter(o.get('proto') for o in reqs)}")
h = total["http"]
res(h["h2_broken_conns"] == 0 and h["unparsable_conns"] == 0 and h["h2_conns"] >= 31,
    "every HTTP/2 connection decoded", f"{ {k: v for k, v in h.items() if k.startswith('h2') or k == 'unparsable_conns'} }")
res(total.get("join_rate", 0) >= 0.99, "join_rate >= 0.99", f"{total.get('join_rate')}")
res(total.get("lost_events") == 0, "no lost events", f"{total.get('lost_events')}")
res.exit()
PY
exit $((GS_FAILS > 0))
