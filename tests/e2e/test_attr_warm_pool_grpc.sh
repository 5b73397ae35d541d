#!/bin/bash
# SPDX-License-Identifier: MIT
# gatescope started while nginx holds a gRPC (HTTP/2) upstream connection
# in its keep-alive pool.  Such a connection cannot be decoded from the
# middle (its header compression began before the start): the requests
# nginx sends over it are not seen.  A 504 of one of them must not read
# gateway/no_upstream ("the gateway never tried upstream"): either it is
# joined to what the connection's close shows (nginx gives up on the
# stream by closing the connection), or it is honestly unknown.
#
# nginx grpc_pass (h2c both sides, upstream keep-alive), a Python gRPC
# backend (tests/e2e/grpc_peer.py); one quick call warms the route's pool
# before gatescope starts; then 2 calls the backend answers after 3 s, past
# nginx's 1 s grpc_read_timeout (the first goes over the pooled
# connection, the second over a new one, nginx having closed the first),
# then 2 quick ones.  Oracles: the client's record and nginx's log.
. "$(dirname "$0")/gateway_lib.sh"
T=attr_warm_pool_grpc
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }
gw_require_grpc "$T"

GW_BACKEND_SECONDS=60
GW_KEEPALIVE=4
GW_WORKERS=1	# one pool
SVC=/gs.test.Svc
GW_NGINX_HTTP="log_format gsg '\$request_uri|\$status|\$upstream_status|\$upstream_addr|\$upstream_connect_time'; access_log $GS_TMP/nginx/grpc.log gsg;"
gw_nginx_grpc

gw_setup || { fail "$T" "testbed setup"; exit 1; }
P1=$(gw_be_port 1)
gs_bg ip netns exec "$B1NS" /usr/bin/python3 "$GS_ROOT/tests/e2e/grpc_peer.py" serve "$BE1_4" "$P1" \
	--max-seconds 60 >>"$GS_TMP/backend.out" 2>>"$GS_TMP/backends.err"
gs_wait_listen "$B1NS" "$P1" || { fail "$T" "gRPC backend: $(tail -3 "$GS_TMP/backends.err")"; exit 1; }
gw_route $SVC/Ok "$BE1_4:$P1"
gw_route $SVC/Hang "$BE1_4:$P1" read=1s
call() {	# METHOD N [grpc_peer.py call options]
	ip netns exec "$CNS" /usr/bin/python3 "$GS_ROOT/tests/e2e/grpc_peer.py" call \
		"$GW4:$GW_PORT" "$@" >>"$GS_TMP/client.all" 2>>"$GS_TMP/client.err"
}

OUT=$GS_TMP/grpc.json
gw_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
call Hang 1 --tag warm --arg 10	# the Hang route's own pool (each route has its upstream)
gw_gatescope "$OUT" || { fail "$T" "gatescope did not start"; exit 1; }
call Hang 2 --timeout 4 --arg 3000
call Ok 2
gw_end_run "$T" "$OUT" "$GW_DIR/grpc.log" "$(grep -c . "$GS_TMP/client.all")"

PYTHONPATH="$GS_ROOT/tests/e2e" python3 - "$T" "$OUT" "$GS_TMP/client.all" "$GW_DIR/grpc.log" <<'PY' || GS_FAILS=$((GS_FAILS + 1))
import collections, json, sys
from e2echeck import Checks, gs_output
test, out, cfile, nlog = sys.argv[1:5]
res = Checks(test)
objs, reqs, total = gs_output(out)
method = lambda path: path.rsplit("/", 1)[-1]
cl = collections.Counter((l.split()[1], l.split()[2]) for l in open(cfile) if l.split()[0] != "warm")
res(cl == {("Hang", "UNAVAILABLE"): 2, ("Ok", "OK"): 2}, "the client got nginx's 504 twice, then 2 OKs",
    f"{dict(cl)}")
ng = [l.rstrip("\n").split("|") for l in open(nlog)]
hang_ng = [f for f in ng if f[0].endswith("/Hang")][1:]	# the first: the warm-up's 200
res(len(hang_ng) == 2 and all(f[1] == "504" for f in hang_ng), "nginx logged 504 for both Hang calls",
    f"{hang_ng}")
res(total.get("conns_adopted", 0) >= 1, "the pooled upstream connection was open at the start "
    "(conns_adopted >= 1)", f"{total.get('conns_adopted')}")
hang = [o for o in reqs if method(o["route"]) == "Hang"]
verdicts = collections.Counter((o["status"], o["cause"], o["reason"]) for o in hang)
print(f"# gatescope's Hang verdicts: {dict(verdicts)}")
for o in hang:
    print(f"#   {o['status']} {o['cause']}/{o['reason']}: {o['evidence']}")
res(len(hang) == 2 and all(o["status"] == 504 for o in hang), "gatescope saw both 504s",
    f"{[(o['status'], o['route']) for o in hang]}")
res(not [o for o in hang if o["cause"] == "gateway"],
    "no 504 blamed on the gateway (it did try upstream, over the pooled connection or a new one)",
    f"{dict(verdicts)}")
res(all((o["cause"], o["reason"]) in (("backend", "backend_slow"), ("unknown", "unjoined")) for o in hang),
    "each 504 is the backend's slowness or honestly unknown", f"{dict(verdicts)}")
res(any((o["cause"], o["reason"]) == ("backend", "backend_slow") for o in hang),
    "the one over a new connection is backend/backend_slow", f"{dict(verdicts)}")
# The scenario happened: one Hang went over the pooled connection, which
# gatescope could only judge by its TCP facts (an opaque attempt).
res(sum(1 for o in hang for a in o["attempts"] or [] if a["opaque"]) == 1,
    "one Hang went over the connection open at the start (an opaque attempt)",
    f"{[[(a['opaque'], a['reused']) for a in o['attempts'] or []] for o in hang]}")
ok = [o for o in reqs if method(o["route"]) == "Ok"]
res(len(ok) == 2 and all(o["cause"] is None for o in ok), "the 2 OKs after are seen, unblamed",
    f"{[(o['status'], o['cause']) for o in ok]}")
res.exit()
PY
exit $((GS_FAILS > 0))
