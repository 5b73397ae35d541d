# Helpers for the gateway end-to-end tests (test_http_*.sh, test_attr_*.sh)
# and the demo; source it (it sources lib.sh).
#
# Topology, all with this run's suffix and addresses from lib.sh:
#
#   client ──(link 0)── gw (real nginx) ──(link 1)── be1
#                                        └─(link 2)── be2
#
# nginx runs in the gw namespace with a generated config (its own prefix,
# pid file, error and access logs in $GW_DIR).  gatescope runs in the root
# namespace and traces only this nginx, by the master's pid (its workers are
# its children).  Client-facing and backend ports are unique to this run, so
# parallel tests never see each other's traffic.
#
#   gw_setup                  namespaces and links; sets CNS GNS B1NS B2NS,
#                             GW4 GW6 (gateway, client side), BE1_4 BE1_6
#                             BE2_4 BE2_6, GW_PORT, GW_DIR
#   gw_backend NS ADDR PORT [gs-httpd options]    start a backend
#   gw_route LOCATION BACKEND [DIRECTIVE...]      one location -> upstream
#   gw_nginx_start / gw_nginx_stop                run nginx (GW_NGINX_PID)
#   gw_gatescope OUT [ARGS]   gatescope -p <nginx master> --json -e all
#   gw_client LABEL LOC URL   curl from the client namespace, answers kept
#   gw_fault_* NS PORT        nft faults inside a backend namespace
#   gw_check_http ...         gatescope vs. the client and nginx's access log
#   gw_attr_* / gw_check_*    attribution scenarios (see below)
#
# nginx's access log ($GW_DIR/access.log) has one request per line:
# METHOD URI STATUS UPSTREAM_STATUS CONNECT_TIME HEADER_TIME REQUEST_TIME

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Settings read by gw_nginx_start (override before calling it).
GW_WORKERS=${GW_WORKERS:-2}
GW_CONNECT_TIMEOUT=${GW_CONNECT_TIMEOUT:-1s}
GW_READ_TIMEOUT=${GW_READ_TIMEOUT:-2s}
GW_KEEPALIVE=${GW_KEEPALIVE:-0}			# upstream pool size; 0: no keep-alive
GW_KEEPALIVE_TIMEOUT=${GW_KEEPALIVE_TIMEOUT:-60s}
# nginx stamps its own times when its event loop gets to run: on a busy
# shared machine, a worker waiting for a CPU inflates $upstream_connect_time
# by milliseconds the kernel never saw (seen here: 14 ms for a 0.03 ms
# handshake).  Tests that use nginx's times as their oracle run it with a
# real-time priority (GW_NGINX_RT=1: SCHED_RR 1; its work is bounded).
GW_NGINX_RT=${GW_NGINX_RT:-0}
GW_ROUTES=()
GW_NGINX_PID=

# Ports unique to this run: nginx's client-facing port is a kernel filter
# key of gatescope (by number, in every namespace), so it must not collide
# with another test's gateway; backends get the next ones.
GW_PORT=$((20000 + GS_SUFFIX % 20000))
gw_be_port() { echo $((GW_PORT + $1)); }

# GW_KEEP=DIR: keep this run's files (gatescope JSON, nginx logs, client
# answers) in DIR for a look after the run.
gw_exit() {
	[ -n "${GW_KEEP:-}" ] && cp -r "$GS_TMP" "$GW_KEEP"
	gs_cleanup
}
trap gw_exit EXIT

gw_setup() {
	CNS=$(gs_ns c) && GNS=$(gs_ns g) && B1NS=$(gs_ns b1) && B2NS=$(gs_ns b2)
	[ -n "$CNS" ] && [ -n "$GNS" ] && [ -n "$B1NS" ] && [ -n "$B2NS" ] || return 1
	gs_link "$GNS" "$CNS" 0 && gs_link "$GNS" "$B1NS" 1 && gs_link "$GNS" "$B2NS" 2 || return 1
	GW4=$(gs_ip_a 0) GW6=$(gs_ip6_a 0)
	BE1_4=$(gs_ip_b 1) BE1_6=$(gs_ip6_b 1)
	BE2_4=$(gs_ip_b 2) BE2_6=$(gs_ip6_b 2)
	GW_DIR=$GS_TMP/nginx
	mkdir -p "$GW_DIR"
	# nginx workers drop root: let them reach their temp directories.
	chmod 755 "$GS_TMP" "$GW_DIR"
	# IPv6 addresses were added with nodad; wait until none is tentative.
	local ns
	for ns in "$CNS" "$GNS" "$B1NS" "$B2NS"; do
		for _ in $(seq 30); do
			ip -n "$ns" -6 addr show tentative | grep -q inet6 || break
			sleep 0.1
		done
	done
}

# gw_backend NS ADDR PORT [gs-httpd options]: a backend that lives at most
# GW_BACKEND_SECONDS (default 60).
gw_backend() {
	local ns=$1 addr=$2 port=$3
	shift 3
	gs_bg ip netns exec "$ns" "$GS_TOOLS/gs-httpd" --max-seconds "${GW_BACKEND_SECONDS:-60}" \
		"$@" "$addr" "$port" >/dev/null 2>>"$GS_TMP/backends.err"
	gs_wait_listen "$ns" "$port"
}

# gw_hostport ADDR PORT: "a.b.c.d:p" or "[v6]:p".
gw_hostport() {
	case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac
}

# gw_route LOCATION BACKEND [DIRECTIVE...]: requests under LOCATION go to
# BACKEND (ip:port or [ip6]:port) through an upstream of their own.
# Directives (e.g. "proxy_next_upstream off") go into the location.
gw_route() {
	local loc=$1 be=$2 extra="" d
	shift 2
	for d in "$@"; do extra+="            $d;"$'\n'; done
	GW_ROUTES+=("$loc|$be|$extra")
}

gw_nginx_conf() {
	local i=0 r loc be extra ka=""
	[ "$GW_KEEPALIVE" -gt 0 ] &&
		ka="keepalive $GW_KEEPALIVE; keepalive_timeout $GW_KEEPALIVE_TIMEOUT;"
	gs_nginx_head "$GW_DIR" "$GW_WORKERS" info
	cat <<-EOF
	    log_format gs '\$request_method \$uri \$status \$upstream_status \$upstream_connect_time \$upstream_header_time \$request_time';
	    access_log $GW_DIR/access.log gs;
	    keepalive_timeout 30s;
	EOF
	for r in "${GW_ROUTES[@]}"; do
		be=${r#*|}; be=${be%%|*}
		echo "    upstream gs_r$i { server $be; $ka }"
		i=$((i + 1))
	done
	cat <<-EOF
	    server {
	        listen $GW4:$GW_PORT;
	        listen [$GW6]:$GW_PORT;
	        proxy_connect_timeout $GW_CONNECT_TIMEOUT;
	        proxy_read_timeout $GW_READ_TIMEOUT;
	        proxy_http_version 1.1;
	        proxy_set_header Connection "";
	        location / { return 404; }
	EOF
	i=0
	for r in "${GW_ROUTES[@]}"; do
		loc=${r%%|*}
		extra=${r##*|}
		printf '        location %s {\n            proxy_pass http://gs_r%d;\n%s        }\n' \
			"$loc" "$i" "$extra"
		i=$((i + 1))
	done
	echo "    }"
	echo "}"
}

# gw_nginx_start: write the config and run nginx in the gateway namespace;
# returns once it listens and all its workers run.  Sets GW_NGINX_PID.
gw_nginx_start() {
	gw_nginx_conf >"$GW_DIR/nginx.conf"
	: >"$GW_DIR/access.log"
	if ! ip netns exec "$GNS" nginx -t -q -p "$GW_DIR" -c "$GW_DIR/nginx.conf" \
		-e "$GW_DIR/error.log" 2>"$GW_DIR/nginx-t.err"; then
		echo "nginx rejected its config:" >&2
		cat "$GW_DIR/nginx-t.err" >&2
		return 1
	fi
	# ip netns exec (and chrt) exec nginx: this pid is the master.
	local rt=()
	[ "$GW_NGINX_RT" = 1 ] && rt=(chrt -r 1)
	gs_bg ip netns exec "$GNS" "${rt[@]}" nginx -p "$GW_DIR" -c "$GW_DIR/nginx.conf" \
		-e "$GW_DIR/error.log" -g 'daemon off;'
	GW_NGINX_PID=$GS_LAST_PID
	gs_wait_listen "$GNS" "$GW_PORT" || return 1
	for _ in $(seq 50); do
		[ "$(pgrep -c -P "$GW_NGINX_PID")" -ge "$GW_WORKERS" ] && return 0
		sleep 0.1
	done
	echo "nginx workers did not start" >&2
	return 1
}

# gw_nginx_stop: graceful stop, bounded; workers finish what they do.
gw_nginx_stop() {
	[ -n "$GW_NGINX_PID" ] || return 0
	kill -QUIT "$GW_NGINX_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$GW_NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$GW_NGINX_PID" 2>/dev/null
	wait "$GW_NGINX_PID" 2>/dev/null
	GW_NGINX_PID=
}

# gw_request_pids OUT: the pids of gatescope's request lines (the nginx
# workers it followed).
gw_request_pids() {
	python3 - "$1" <<-'EOF'
	import json, sys
	pids = set()
	for line in open(sys.argv[1]):
	    try:
	        o = json.loads(line)
	    except ValueError:
	        continue
	    if o.get("type") == "request":
	        pids.add(o["pid"])
	print(" ".join(str(p) for p in sorted(pids)))
	EOF
}

# gw_gatescope OUT [ARGS]: gatescope on this nginx only (by the master's
# pid; workers follow), JSON and every request line.
gw_gatescope() {
	local out=$1
	shift
	gs_start "$out" -p "$GW_NGINX_PID" -e all "$@"
}

# gw_curl ARGS...: curl from the client namespace, bounded.
gw_curl() {
	ip netns exec "$CNS" curl -s --max-time "${GW_CURL_MAX_TIME:-10}" "$@"
}

# gw_url PATH [6]: the gateway URL of PATH, over IPv4 or IPv6.
gw_url() {
	if [ "${2:-4}" = 6 ]; then
		echo "http://[$GW6]:$GW_PORT$1"
	else
		echo "http://$GW4:$GW_PORT$1"
	fi
}

# --- faults (TESTBED.md), in a backend's namespace; gone with it ---------

gw_nft() {	# NS CHAIN(in|out) RULE...
	local ns=$1 chain=$2
	shift 2
	ip netns exec "$ns" nft list table inet gsf >/dev/null 2>&1 ||
		ip netns exec "$ns" nft -f - <<-EOF || return 1
		table inet gsf {
			chain in { type filter hook input priority 0; policy accept; }
			chain out { type filter hook output priority 0; policy accept; }
		}
		EOF
	ip netns exec "$ns" nft add rule inet gsf "$chain" "$@"
}

# SYN blackhole: SYNs to PORT vanish, the gateway's connect times out.
gw_fault_syn_drop() { gw_nft "$1" in tcp dport "$2" tcp flags \& \(syn \| ack\) == syn drop; }
# Loss after the handshake: everything but the SYN to PORT is dropped, so
# the connection is up on the gateway's side and its request never lands.
gw_fault_drop_after_handshake() { gw_nft "$1" in tcp dport "$2" tcp flags \& syn == 0 drop; }
# The backend's FINs from PORT are lost: a connection the backend closed
# still looks open to the gateway until the FIN's retransmission arrives.
gw_fault_fin_drop() { gw_nft "$1" out tcp sport "$2" tcp flags \& fin == fin drop; }

# --- oracles ---------------------------------------------------------------

# gw_client LABEL LOCATION URL [CURL ARGS...]: requests from the client
# namespace (URL may be a curl glob, one connection for all of them); one
# "LOCATION STATUS" line per answer (000: none) goes to $GS_TMP/client.LABEL.
GW_HOST=gw.test
gw_client() {
	local label=$1 loc=$2 url=$3
	shift 3
	gw_curl -H "Host: $GW_HOST" -w '\nGSCODE %{http_code}\n' "$@" "$url" |
		sed -n "s|^GSCODE |$loc |p" >>"$GS_TMP/client.$label"
}

# gw_check_http TEST OUT ACCESS_LOG CLIENT_FILE LOCATION...: compare
# gatescope's JSON (OUT) with what the client got and with nginx's access
# log, per location (route prefix); prints PASS/FAIL lines:
#  - per route: requests and every status (downstream, from the status
#    translation) exactly as the client counted them;
#  - per request, matched in order per route with the access log: connect_ms
#    and ttfb_ms within 1 ms or 5 % of nginx's for >= GW_TIMING_BAR (default
#    0.99) of requests;
#  - join_rate >= 0.99, no lost events.
gw_check_http() {
	GW_TIMING_BAR=${GW_TIMING_BAR:-0.99} python3 - "$@" <<-'EOF'
	import collections, json, os, sys
	test, out, alog, cfile, locs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
	bar = float(os.environ["GW_TIMING_BAR"])
	fails = 0
	def res(ok, name, why=""):
	    global fails
	    if ok:
	        print(f"PASS {test}: {name}")
	    else:
	        fails += 1
	        print(f"FAIL {test}: {name}: {why}")
	def loc_of(path):
	    best = None
	    for l in locs:
	        if path.startswith(l) and (best is None or len(l) > len(best)):
	            best = l
	    return best
	objs = []
	for line in open(out):
	    try:
	        objs.append(json.loads(line))
	    except ValueError:
	        pass
	total = [o for o in objs if o.get("type") == "total"]
	if not total:
	    res(False, "total line", "gatescope printed no total line")
	    sys.exit(1)
	total = total[-1]
	client = collections.defaultdict(collections.Counter)
	for line in open(cfile):
	    loc, code = line.split()
	    client[loc][int(code)] += 1
	# Routes are "METHOD host/template": group them by location.
	routes = collections.defaultdict(list)
	for r in total.get("routes", []):
	    path = "/" + r["route"].split("/", 1)[1] if "/" in r["route"] else ""
	    routes[loc_of(path)].append(r)
	for loc in locs:
	    want = client[loc]
	    got_n = sum(r["requests"] for r in routes[loc])
	    res(got_n == sum(want.values()), f"{loc} requests",
	        f"gatescope {got_n}, client {sum(want.values())}")
	    got = collections.Counter()
	    for r in routes[loc]:
	        for x in r.get("status_translation", []):
	            got[x["downstream"]] += x["count"]
	        got[0] += r["status"].get("client_aborts", 0)
	    got = +got
	    res(got == want, f"{loc} statuses",
	        f"gatescope {dict(sorted(got.items()))}, client {dict(sorted(want.items()))}")
	    classes = collections.Counter()
	    for code, n in want.items():
	        classes[f"{code // 100}xx"] += n
	    for r in routes[loc]:
	        for cls, n in r["status"].items():
	            if cls.endswith("xx"):
	                classes[cls] -= n
	    res(not +classes and not -classes, f"{loc} status classes",
	        f"client minus gatescope: {dict(classes)}")
	# Timings, request by request, in order per route.
	ng = collections.defaultdict(list)
	for line in open(alog):
	    f = line.split()
	    if len(f) == 7 and loc_of(f[1]):
	        ng[loc_of(f[1])].append(f)
	gs = collections.defaultdict(list)
	for o in objs:
	    if o.get("type") == "request" and loc_of(o["route"]):
	        gs[loc_of(o["route"])].append(o)
	def close(g, n):
	    return abs(g - n) <= 1.0005 or abs(g - n) <= 0.05 * n
	def ms(v):
	    try:
	        return float(v) * 1000
	    except ValueError:
	        return None
	n_all = n_ok = 0
	bad = []
	for loc in locs:
	    res(len(gs[loc]) == len(ng[loc]), f"{loc} request lines",
	        f"gatescope {len(gs[loc])}, nginx access log {len(ng[loc])}")
	    for g, n in zip(gs[loc], ng[loc]):
	        n_all += 1
	        nc, nh = ms(n[4]), ms(n[5])
	        gc, gh = g.get("connect_ms"), g.get("ttfb_ms")
	        att = g.get("attempts") or [{}]
	        if gc is None and att[-1].get("reused"):
	            gc = 0.0	# a pooled connection: no connect
	        ok = (g["status"] == int(n[2]) and None not in (nc, nh, gc, gh)
	              and close(gc, nc) and close(gh, nh))
	        n_ok += ok
	        if not ok and len(bad) < 5:
	            bad.append(f"{n[1]} nginx {n[2]} connect {n[4]} header {n[5]}"
	                       f" / gatescope {g['status']} connect {gc} ttfb {gh}")
	rate = n_ok / n_all if n_all else 0
	print(f"# timings: {n_ok} of {n_all} requests agree with nginx ({rate:.4f})")
	res(n_all > 0 and rate >= bar, f"connect_ms and ttfb_ms agree with nginx (>= {bar})",
	    f"{n_ok} of {n_all} within 1 ms or 5 %; e.g. " + " | ".join(bad))
	jr = total.get("join_rate")
	res(jr is not None and jr >= 0.99, "join_rate >= 0.99", f"join_rate {jr}")
	res(total.get("lost_events") == 0, "no lost events", f"lost_events {total.get('lost_events')}")
	sys.exit(1 if fails else 0)
	EOF
}

# gw_xlate OUT LOCATION UP DOWN: how many requests of that route went
# upstream status UP -> downstream status DOWN (status translation, total).
gw_xlate() {
	python3 - "$@" <<-'EOF'
	import json, sys
	out, loc, up, down = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
	total = [json.loads(l) for l in open(out) if '"type":"total"' in l][-1]
	n = 0
	for r in total["routes"]:
	    path = "/" + r["route"].split("/", 1)[1] if "/" in r["route"] else ""
	    if path.startswith(loc):
	        n += sum(x["count"] for x in r["status_translation"]
	                 if x["upstream"] == up and x["downstream"] == down)
	print(n)
	EOF
}

# --- attribution scenarios (test_attr_*.sh) -------------------------------
#
#   gw_attr_begin TEST        checks, testbed, a healthy /ok route on be1
#   ... the test adds its faulty backend, fault and route ...
#   gw_attr_start             nginx + gatescope (OUT=$GS_TMP/gs.json)
#   gw_attr_clients LOC N M [curl args]   N parallel clients, M requests each
#   gw_attr_stop              stop gatescope and nginx, keep the access log
#   gw_check_attr TEST LOC CAUSE REASON   every failed request of LOC

gw_attr_begin() {
	gs_require_bpf "$1"
	command -v nginx >/dev/null || { skip "$1" "nginx not installed"; exit 0; }
	GW_BACKEND_SECONDS=40
	gw_setup || { fail "$1" "testbed setup"; exit 1; }
	gw_backend "$B1NS" :: "$(gw_be_port 1)" || { fail "$1" "healthy backend"; exit 1; }
	gw_route /ok "$(gw_hostport "$BE1_4" "$(gw_be_port 1)")"
	GW_OUT=$GS_TMP/gs.json
	GW_ALOG=$GS_TMP/access.log
	GW_CLIENT_PIDS=()
}

gw_attr_start() {
	gw_nginx_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
	gw_gatescope "$GW_OUT" || { fail "$T" "gatescope did not start"; exit 1; }
}

# gw_attr_clients LOC N M [curl args]: N clients in parallel, each sending
# M requests to LOC/<client>-<i>, one connection per request.  Runs in the
# background; gw_attr_stop waits for them.
gw_attr_clients() {
	local loc=$1 n=$2 m=$3 c
	shift 3
	for c in $(seq "$n"); do
		(
			for i in $(seq "$m"); do gw_client attr "$loc" "$(gw_url "$loc/c$c-$i")" "$@"; done
		) &
		GW_CLIENT_PIDS+=($!)
	done
}

gw_attr_stop() {
	[ ${#GW_CLIENT_PIDS[@]} -gt 0 ] && wait "${GW_CLIENT_PIDS[@]}"
	sleep 0.5	# events are drained every 100 ms
	gs_stop
	gw_nginx_stop
	cp "$GW_DIR/access.log" "$GW_ALOG"
	grep -q '"type":"total"' "$GW_OUT" || { fail "$T" "gatescope printed no total line"; cat "$GW_OUT.err"; exit 1; }
}

# gw_check_attr TEST LOC CAUSE REASON: nginx's access log is the ground
# truth of which requests of LOC failed (5xx, or 499: the client gave up);
# gatescope must report the same failures, attribute >= 99 % of them, and
# every attributed one to CAUSE/REASON.  Requests of /ok must all be healthy
# and unblamed.
gw_check_attr() {
	python3 - "$GW_OUT" "$GW_ALOG" "$@" <<-'EOF'
	import collections, json, sys
	out, alog, test, loc, cause, reason = sys.argv[1:7]
	fails = 0
	def res(ok, name, why=""):
	    global fails
	    print(f"PASS {test}: {name}" if ok else f"FAIL {test}: {name}: {why}")
	    fails += not ok
	def under(path, l):
	    return path == l or path.startswith(l + "/")
	reqs = [o for o in map(json.loads, open(out)) if o.get("type") == "request"]
	ng = [l.split() for l in open(alog)]
	ng_fail = collections.Counter(int(f[2]) for f in ng if under(f[1], loc) and int(f[2]) >= 499)
	gs_loc = [o for o in reqs if under(o["route"], loc)]
	gs_failed = [o for o in gs_loc if o["status"] is None or o["status"] >= 500]
	gs_fail = collections.Counter(499 if o["status"] is None else o["status"] for o in gs_failed)
	print(f"# nginx: {sum(ng_fail.values())} failed requests on {loc} {dict(ng_fail)}; "
	      f"gatescope: {len(gs_failed)} {dict(gs_fail)} (499 = no status: client gone)")
	res(sum(ng_fail.values()) > 0, f"the fault made {loc} fail", "nginx logged no failure")
	res(gs_fail == ng_fail, f"gatescope saw every failure of {loc}",
	    f"nginx {dict(ng_fail)}, gatescope {dict(gs_fail)}")
	attributed = [o for o in gs_failed if o["cause"] not in (None, "unknown")]
	wrong = [o for o in attributed if (o["cause"], o["reason"]) != (cause, reason)]
	rate = len(attributed) / len(gs_failed) if gs_failed else 0
	verdicts = collections.Counter(f"{o['cause']}/{o['reason']}" for o in gs_failed)
	print(f"# verdicts: {dict(verdicts)}; terms: {dict(collections.Counter(o['term'] for o in gs_failed))}")
	res(rate >= 0.99, f">= 99 % of failed requests attributed ({len(attributed)}/{len(gs_failed)})",
	    f"unattributed: {[o['evidence'] for o in gs_failed if o not in attributed][:3]}")
	res(attributed and not wrong, f"every attributed failure is {cause}/{reason}",
	    f"{len(wrong)} of {len(attributed)} wrong")
	for o in wrong[:3]:
	    print(f"#   got {o['cause']}/{o['reason']} term {o['term']}: {json.dumps(o)}")
	ok_ng = [f for f in ng if under(f[1], "/ok")]
	ok_gs = [o for o in reqs if under(o["route"], "/ok")]
	blamed = [o for o in ok_gs if o["status"] != 200 or o["cause"] is not None]
	res(len(ok_gs) == len(ok_ng) > 0 and not blamed,
	    f"healthy /ok requests seen and not blamed ({len(ok_gs)})",
	    f"nginx {len(ok_ng)}, gatescope {len(ok_gs)}, blamed {[(o['status'], o['cause'], o['reason']) for o in blamed[:3]]}")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

# gw_check_timeouts TEST [CLOSER:KIND:PEER:SECONDS ...]: the timeouts
# configured in this scenario.  gatescope must infer each of them within
# 50 ms, and infer nothing else (a close that no timeout drove is no
# evidence of one).
gw_check_timeouts() {
	python3 - "$GW_OUT" "$@" <<-'EOF'
	import json, sys
	out, test, want = sys.argv[1], sys.argv[2], sys.argv[3:]
	total = [json.loads(l) for l in open(out) if '"type":"total"' in l][-1]
	got = total.get("timeouts") or []
	fails = 0
	def show(x):
	    return f"{x['closer']} {x['kind']} timeout to {x['peer']} = {x['seconds']} s (n={x['n']})"
	matched = set()
	for w in want:
	    closer, kind, rest = w.split(":", 2)
	    peer, secs = rest.rsplit(":", 1)
	    hits = [i for i, x in enumerate(got) if (x["closer"], x["kind"], x["peer"]) == (closer, kind, peer)]
	    ok = [i for i in hits if abs(got[i]["seconds"] - float(secs)) < 0.05]
	    matched.update(hits)
	    if ok:
	        print(f"PASS {test}: inferred {show(got[ok[0]])}, configured {secs} s")
	    else:
	        fails += 1
	        print(f"FAIL {test}: inferred {closer} {kind} timeout to {peer}: configured {secs} s, "
	              f"gatescope: {[show(got[i]) for i in hits] or 'none'}")
	extra = [show(x) for i, x in enumerate(got) if i not in matched]
	if extra:
	    fails += 1
	    print(f"FAIL {test}: only configured timeouts inferred: also {extra}")
	else:
	    print(f"PASS {test}: only configured timeouts inferred ({len(got)})")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

# gw_check_ladder TEST yes|no: a ladder warning is (not) expected.
gw_check_ladder() {
	local t=$1 want=$2 got
	got=$(gs_total "$GW_OUT" --top ladder_warnings)
	case $want:$got in
	yes:'[]' | yes:null) fail "$t: ladder warning" "expected one, got none" ;;
	yes:*) pass "$t: ladder warning: $got" ;;
	no:'[]') pass "$t: no ladder warning" ;;
	*) fail "$t: no ladder warning" "got $got" ;;
	esac
}
