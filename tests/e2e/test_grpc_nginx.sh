#!/bin/bash
# SPDX-License-Identifier: MIT
# gRPC through nginx "grpc_pass" (h2c on both sides): a Python gRPC client
# (python3-grpcio, deadlines as grpc-timeout) in front, a Python gRPC
# backend (tests/e2e/grpc_peer.py) behind.  The oracles are the client's
# own record (the gRPC status of every call) and nginx's access log (its
# status, the upstream's status and the grpc-status trailer it passed on).
#  - Ok: grpc-status 0, 200, no failure;
#  - Unavailable / Exhausted: one message, then grpc-status 14 / 8 in the
#    trailers (a HEADERS frame after DATA): status 503 / 429, blamed on the
#    backend (backend_error / backend_throttled) through the upstream
#    stream it answered on;
#  - Deadline: the backend's own DEADLINE_EXCEEDED, trailers-only: a 504
#    blamed on the backend (backend_error);
#  - Enforce: the backend enforces the client's 1 s deadline (grpc-timeout,
#    passed on by nginx) 300 ms before it runs out: DEADLINE_EXCEEDED, a
#    504 blamed on the backend's answer, related to the deadline;
#  - Hang: the backend answers after 3 s, nginx's grpc_read_timeout is 1 s
#    and the client's deadline 4 s: nginx's 504, backend/backend_slow, as
#    over HTTP/1, said to come before the client's deadline;
#  - Slow: the backend answers after 3 s, the client's deadline is 1 s
#    (grpc-timeout), nginx waits 10 s: the client cancels the stream
#    (DEADLINE_EXCEEDED in its record, 499 in nginx's log):
#    client/client_abort, and the clients' patience in the timeout ladder
#    is the grpc-timeout they sent.  The backend enforces the same
#    deadline (nginx passes grpc-timeout on): on a busy machine its
#    DEADLINE_EXCEEDED may reach nginx before the client's cancel, and
#    nginx logs 200/grpc-status 4; such a call must be what nginx logged,
#    blamed on the backend's answer, said to come at the client's deadline;
#  - Drain: 4 concurrent calls on one connection that the backend answers
#    after 9 s, and nginx reloads (SIGHUP, worker_shutdown_timeout 1 s):
#    the old worker sends GOAWAY, then closes the connection with the 4
#    streams unanswered: gateway/gateway_goaway.  nginx logs them as 499
#    (its word for any client connection gone before the answer, its own
#    shutdown included); the client's record says it did not give up (it
#    got UNAVAILABLE long before its 15 s deadline) and nginx's error log
#    that it shut down.
. "$(dirname "$0")/gateway_lib.sh"
T=grpc_nginx
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }
gw_require_grpc "$T"

GW_BACKEND_SECONDS=60
# Upstream keep-alive: several streams, one after another, per connection.
GW_KEEPALIVE=${GRPC_KEEPALIVE:-4}
SVC=/gs.test.Svc
# nginx's own record of every call, with the grpc-status trailer it sent.
GW_NGINX_HTTP="log_format gsg '\$request_uri|\$status|\$upstream_status|\$sent_trailer_grpc_status|\$sent_http_grpc_status|\$upstream_addr'; access_log $GS_TMP/nginx/grpc.log gsg;"
gw_nginx_grpc -e '1i worker_shutdown_timeout 1s;'

gw_setup || { fail "$T" "testbed setup"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2)
for b in "$B1NS $BE1_4 $P1" "$B2NS $BE2_4 $P2"; do
	set -- $b
	gs_bg ip netns exec "$1" /usr/bin/python3 "$GS_ROOT/tests/e2e/grpc_peer.py" serve "$2" "$3" \
		--max-seconds 60 >>"$GS_TMP/backend.$3.out" 2>>"$GS_TMP/backends.err"
	gs_wait_listen "$1" "$3" || { fail "$T" "gRPC backend on $2:$3: $(tail -3 "$GS_TMP/backends.err")"; exit 1; }
done
gw_route $SVC/Ok "$BE1_4:$P1"
gw_route $SVC/Slow "$BE1_4:$P1" read=10s
gw_route $SVC/Hang "$BE1_4:$P1" read=1s
gw_route $SVC/Unavailable "$BE2_4:$P2"
gw_route $SVC/Exhausted "$BE2_4:$P2"
gw_route $SVC/Deadline "$BE2_4:$P2"
gw_route $SVC/Drain "$BE1_4:$P1" read=20s
gw_route $SVC/Enforce "$BE1_4:$P1" read=10s

OUT=$GS_TMP/grpc.json
gw_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
gw_gatescope "$OUT" ${GRPC_GS_ARGS:-} || { fail "$T" "gatescope did not start"; exit 1; }
call() {	# METHOD N [grpc_peer.py call options]
	ip netns exec "$CNS" /usr/bin/python3 "$GS_ROOT/tests/e2e/grpc_peer.py" call \
		"$GW4:$GW_PORT" "$@" >>"$GS_TMP/client.$1" 2>>"$GS_TMP/client.err"
}
pids=()
call Ok 10 & pids+=($!)
call Unavailable 4 & pids+=($!)
call Exhausted 4 & pids+=($!)
call Deadline 4 & pids+=($!)
call Hang 3 --timeout 4 --arg 3000 & pids+=($!)
call Slow 3 --timeout 1 --arg 3000 & pids+=($!)
call Enforce 3 --timeout 1 & pids+=($!)
wait "${pids[@]}"
# A reload with 4 streams in flight on one connection: the old worker
# sends GOAWAY, and closes the connection when its shutdown timeout (1 s)
# ends, the streams unanswered (the backend takes 9 s: a reload on a loaded
# machine can take seconds).
call Drain 4 --timeout 15 --arg 9000 --parallel & pids=($!)
for _ in $(seq 100); do
	[ "$(grep -c '^drain started' "$GS_TMP/backend.$P1.out")" -ge 4 ] && break
	sleep 0.1
done
sleep 0.2
# The reload is nginx's own: if no old worker says it is shutting down
# within 3 s (a signal lost while the master was busy), ask once more.
kill -HUP "$GW_NGINX_PID"
for _ in $(seq 30); do
	grep -q 'gracefully shutting down' "$GW_DIR/error.log" && break
	sleep 0.1
done
grep -q 'gracefully shutting down' "$GW_DIR/error.log" ||
	{ echo "# no worker shut down 3 s after SIGHUP: sending it again"; kill -HUP "$GW_NGINX_PID"; }
wait "${pids[@]}"
grep -E 'signal|reconfigur|shutting down|exiting|emerg|alert' "$GW_DIR/error.log" |
	sed 's/^/# nginx: /' | head -20
cat "$GS_TMP"/client.[A-Z]* >"$GS_TMP/client.all"
want=$(grep -c . "$GS_TMP/client.all")
gw_end_run "$T" "$OUT" "$GW_DIR/grpc.log" "$want"

PYTHONPATH="$GS_ROOT/tests/e2e" python3 - "$T" "$OUT" "$GS_TMP/client.all" "$GW_DIR/grpc.log" "$GW_DIR/error.log" <<'PY' || GS_FAILS=$((GS_FAILS + 1))
import collections, json, sys
from e2echeck import Checks, gs_output
test, out, cfile, nlog, elog = sys.argv[1:6]
res = Checks(test)
# gRPC status -> the status gatescope reports (docs/reference.md, HTTP/2 and gRPC).
GRPC_HTTP = {0: None, 1: 499, 3: 400, 4: 504, 5: 404, 7: 403, 8: 429, 12: 501, 14: 503, 16: 401}
CODES = {"OK": 0, "DEADLINE_EXCEEDED": 4, "RESOURCE_EXHAUSTED": 8, "UNAVAILABLE": 14}
objs, reqs, total = gs_output(out)
method = lambda path: path.rsplit("/", 1)[-1]

# What gatescope says per call: (method, status or "abort", grpc_status).
def gs_key(o):
    st = "abort" if o["client_closed"] else o["status"]
    return (method(o["route"]), st, o["grpc_status"])
gs = collections.Counter(gs_key(o) for o in reqs if method(o["route"]) != "Drain")
# nginx's own log: its status (499: the client went away), the grpc-status
# it passed on (trailers, or a trailers-only answer).
def ng_key(line):
    uri, status, ups, trailer, hdr, addr = line.rstrip("\n").split("|")
    if status == "499":
        return (method(uri), "abort", None)
    g = trailer if trailer != "-" else hdr
    g = int(g) if g != "-" else None
    mapped = GRPC_HTTP.get(g, 500) if g is not None else None
    return (method(uri), mapped or int(status), g)
ng = collections.Counter(ng_key(l) for l in open(nlog) if "/Drain|" not in l)
# The client's own record: what its calls ended with.
cl = collections.Counter((l.split()[1], l.split()[2]) for l in open(cfile))
# The drain needs nginx's old worker to keep the connection until its
# shutdown timeout; one that left at once (seen on a loaded machine: "exiting"
# in the same second as the HUP) let the calls finish with the backend's OK.
# Then the scenario did not happen: said loudly, and gatescope must still
# agree with the client (answered, unblamed).
drain_ran = cl[("Drain", "OK")] == 0
if not drain_ran:
    print(f"SKIP {test}: Drain: nginx did not cut the streams (its old worker exited at once; "
          f"the client got {dict((k, n) for k, n in cl.items() if k[0] == 'Drain')}): "
          "the drain checks are replaced by agreement with the client")
want_cl = {("Ok", "OK"): 10, ("Unavailable", "UNAVAILABLE"): 4, ("Exhausted", "RESOURCE_EXHAUSTED"): 4,
           ("Deadline", "DEADLINE_EXCEEDED"): 4, ("Hang", "UNAVAILABLE"): 3,
           ("Slow", "DEADLINE_EXCEEDED"): 3, ("Drain", "UNAVAILABLE"): 4,
           ("Enforce", "DEADLINE_EXCEEDED"): 3}
if not drain_ran:
    del want_cl[("Drain", "UNAVAILABLE")]
    want_cl[("Drain", "OK")] = 4
res(cl == want_cl, "the client got what each method does", f"{dict(cl)}")
res(gs == ng, "every call's status and grpc-status as nginx logged it",
    f"gatescope {sorted(gs.items(), key=str)}; nginx {sorted(ng.items(), key=str)}")
# The client's view: a gRPC status from the backend is the one gatescope
# shows; nginx's 504 reached the client as UNAVAILABLE; a deadline the
# client ran out of is its own abort.
for (m, code), n in cl.items():
    got = [gs_key(o) for o in reqs if method(o["route"]) == m]
    if m == "Hang":
        want = [(m, 504, None)] * n
    elif m == "Slow":	# the client's cancel, or the backend's DEADLINE_EXCEEDED first
        want = sorted([(m, 504, 4) if k[1] == 504 else (m, "abort", None)
                       for k in got], key=str)
    elif m == "Drain" and drain_ran:
        want = [(m, None, None)] * n
    else:
        g = CODES[code]
        want = [(m, GRPC_HTTP[g] or 200, g)] * n
    res(sorted(got, key=str) == want, f"{m}: {code} as the client got it", f"{got}")
res({o["proto"] for o in reqs} == {"grpc"}, "every request says proto grpc",
    f"{collections.Counter(o['proto'] for o in reqs)}")

# Verdicts.
def verdicts(m):
    return collections.Counter((o["cause"], o["reason"]) for o in reqs if method(o["route"]) == m)
want_v = {"Ok": {(None, None): 10}, "Exhausted": {(None, None): 4},
          "Unavailable": {("backend", "backend_error"): 4},
          "Deadline": {("backend", "backend_error"): 4},
          "Enforce": {("backend", "backend_error"): 3},
          "Hang": {("backend", "backend_slow"): 3},
          "Slow": {("client", "client_abort"): gs[("Slow", "abort", None)],
                   ("backend", "backend_error"): gs[("Slow", 504, 4)]},
          "Drain": {("gateway", "gateway_goaway") if drain_ran else (None, None): 4}}
for m, w in want_v.items():
    w = {k: n for k, n in w.items() if n}
    res(verdicts(m) == w, f"{m}: verdict {w}", f"{dict(verdicts(m))}")
ev = [o["evidence"] for o in reqs if method(o["route"]) == "Unavailable"]
res(all("grpc-status 14 UNAVAILABLE" in e for e in ev), "Unavailable: the evidence names the backend's grpc-status", f"{ev}")
ev = [o["evidence"] for o in reqs if method(o["route"]) == "Slow"]
res(all("gRPC deadline ran out" in e for e in ev), "Slow: the evidence says the client's deadline ran out", f"{ev}")
res(gs[("Slow", "abort", None)] >= 1, "Slow: a client cancelled at its deadline", f"{gs}")
# (How long before the deadline, as the gateway saw it, moves with the
# machine's load: the evidence must relate it to the request's own
# grpc-timeout.)
ev = [(o["evidence"], o["grpc_timeout_ms"]) for o in reqs if method(o["route"]) == "Enforce"]
res(ev and all("the backend's DEADLINE_EXCEEDED came" in e and
               f"gRPC deadline" in e and f"(grpc-timeout {t:.3f} ms)" in e for e, t in ev),
    "Enforce: the evidence relates the backend's DEADLINE_EXCEEDED to the client's deadline", f"{ev}")
ev = [o["evidence"] for o in reqs if method(o["route"]) == "Hang"]
res(all("before the client's gRPC deadline" in e for e in ev),
    "Hang: nginx's 504 came before the client's deadline", f"{ev}")
rt = {r["route"].split("/")[-1]: r for r in total["routes"]}
# The reload: nginx says it shut down; the client did not give up (its
# calls ended long before their 15 s deadline, before the backend's 9 s);
# gatescope saw the gateway's GOAWAY and its close.
drain_cl = [float(l.split()[3]) for l in open(cfile) if l.split()[1] == "Drain"]
drain = [o for o in reqs if method(o["route"]) == "Drain"]
if drain_ran:
    res("gracefully shutting down" in open(elog).read() and drain_cl and max(drain_cl) < 8.5,
        "Drain: nginx shut down, the client's calls ended by it, not by their deadline", f"{drain_cl}")
    res(all(o["goaway"] and o["goaway"]["by"] == "gateway" and not o["goaway"]["refused"]
            and not o["client_closed"] and o["attempts"] and o["attempts"][0]["status"] is None
            for o in drain), "Drain: the gateway's GOAWAY, then its close, the backend not answered",
        f"{[(o['goaway'], o['client_closed'], o['attempts']) for o in drain]}")
res(rt["Exhausted"]["throttled"] == 4 and rt["Exhausted"]["retries"]["throttled"]["backend"] == 4,
    "RESOURCE_EXHAUSTED is throttling by the backend", f"{rt['Exhausted']}")
res(rt["Deadline"]["cause_504"]["backend"] == 4 and rt["Hang"]["cause_504"]["backend"] == 3,
    "the 504s are the backend's", f"{rt['Deadline']['cause_504']} {rt['Hang']['cause_504']}")

# Upstream HTTP/2 streams are the attempts: every call nginx passed
# upstream is joined to its own stream on the backend nginx logged.
addr = collections.Counter((method(l.split("|")[0]), l.rstrip("\n").split("|")[5]) for l in open(nlog))
got = collections.Counter((method(o["route"]), o["backend"]) for o in reqs)
res(got == addr, "every call's backend as nginx logged it", f"gatescope {dict(got)}, nginx {dict(addr)}")
# Calls with the same content in flight together (Drain) are told apart by
# time on the thread that read them ("order").
bad = [o for o in reqs if len(o["attempts"]) != 1 or o["attempts"][0]["h2_stream"] is None
       or o["join"] not in (("content", "order") if method(o["route"]) == "Drain" else ("content",))]
res(not bad, "every call joined by its content to one upstream HTTP/2 stream",
    f"{[(o['route'], o['join'], o['attempts']) for o in bad][:3]}")
bad = [o for o in reqs if o["grpc_status"] and (not o["attempts"] or
                                               o["attempts"][0]["grpc_status"] != o["grpc_status"])]
res(not bad, "the backend's grpc-status on its attempt", f"{bad[:2]}")
h = total["http"]
res(h["h2_upstream_streams"] == len(reqs) and h["h2_broken_conns"] == 0,
    "every upstream stream followed, no connection broken", f"{h}")
res(total["join_rate"] == 1.0, "join_rate 1", f"{total['join_rate']}")

# The clients' patience in the ladder: the grpc-timeout they sent (1 s),
# from every call the client cancelled (3 are needed for a value).
pat = [t for t in total["timeouts"] if t["closer"] == "client"]
aborts = gs[("Slow", "abort", None)]
res((aborts < 3 and not pat) or
    (len(pat) == 1 and abs(pat[0]["seconds"] - 1.0) <= 0.05 and pat[0]["n"] == aborts),
    "the clients' patience is their 1 s deadline", f"{total['timeouts']}")
res.exit()
PY
exit $((GS_FAILS > 0))
