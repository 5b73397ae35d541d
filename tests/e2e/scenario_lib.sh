# Helpers for the scenario tests (test_scn_*.sh): a real gateway, real TCP,
# real faults, and two oracles that gatescope does not control: the
# gateway's own log and the client's own record.  Source it (it sources
# gateway_lib.sh for the testbed: namespaces, links, backends).
#
#   scn_begin TEST SCENARIO      checks and testbed, a healthy backend on be1
#   ... the test starts its backends, once ...
#   for GW_KIND in $(gw_kinds); do
#       scn_kind || continue     per-kind state and a healthy /ok route;
#                                SKIPs a kind this machine cannot run; sets
#                                TK=TEST/KIND, the name of every result
#       scn_route PREFIX [--rewrite URI] [--upgrade] SERVER...
#                                requests under PREFIX go to SERVER (ip:port;
#                                several: round robin, never marked down, no
#                                retry), the prefix replaced by URI if given
#                                (nginx's proxy_pass URI: PREFIX and URI end
#                                in "/"); --upgrade: nginx passes Upgrade/Connection
#                                on (HAProxy and Go's ReverseProxy do so
#                                by themselves)
#       scn_start                the gateway (GW_KIND) and gatescope
#       scn_curl LABEL URLFILE [curl args]   every URL of URLFILE at once,
#                                one connection each (curl -Z), background
#       scn_pieces LABEL [gs-pieces args] PATH   one gs-pieces client, background
#       scn_stop                 wait for the clients, stop gatescope and the
#                                gateway, normalise the gateway's log
#       scn_check <<'EOF' ... EOF    the scenario's own verdict rules, in
#                                Python with tests/e2e/scncheck.py (see there)
#   done
#
# The client record ($SCN_CLIENT) has one JSON line per request with the
# client's local port, the status it got (0: none), and how the exchange
# ended; the normalised gateway log ($SCN_GWLOG) one JSON line per request
# with the client port, method, URI, status, upstream statuses and
# addresses, and the gateway's own account of what ended the request (nginx:
# its error log; HAProxy: the termination state; Go: the proxy's error).
# The client port ties the three (gatescope's "client" field): every request
# here has a connection of its own.  The Go proxy does not log the port:
# its lines are tied to the client's by path (and status, for one path).
#
# The gateway kinds: nginx and HAProxy with configs of their own here (their
# logs must carry the client port), the Go proxy through gateway_lib.sh's
# gw_route and gw_go_start.

. "$(dirname "${BASH_SOURCE[0]}")/gateway_lib.sh"

SCN_ROUTES=()
SCN_CLIENT_PIDS=()

scn_begin() {	# TEST SCENARIO
	T=$1
	SCN_NAME=$2
	gs_require_bpf "$T"
	command -v curl >/dev/null || { skip "$T" "curl not installed"; exit 0; }
	# Backends serve every kind of the loop in turn.
	GW_BACKEND_SECONDS=${GW_BACKEND_SECONDS:-400}
	gw_setup || { fail "$T" "testbed setup"; exit 1; }
	SCN_OK_PORT=$(gw_be_port 1)
	gw_backend "$B1NS" :: "$SCN_OK_PORT" || { fail "$T" "healthy backend"; exit 1; }
	SCN_OK_BE=$(gw_hostport "$BE1_4" "$SCN_OK_PORT")
}

# scn_kind: start GW_KIND's turn; SKIP (returns 1) when this machine cannot
# run it.
scn_kind() {
	local why
	TK=$T/$GW_KIND
	if ! why=$(gw_kind_ready "$GW_KIND"); then
		skip "$TK" "$why"
		return 1
	fi
	gw_dir "$GS_TMP/$GW_KIND"
	SCN_OUT=$GS_TMP/gs.$GW_KIND.json
	SCN_CLIENT=$GS_TMP/client.$GW_KIND.jsonl
	SCN_GWLOG=$GS_TMP/gateway.$GW_KIND.jsonl
	GW_OUT=$SCN_OUT		# for gw_check_timeouts and gw_check_ladder
	: >"$SCN_CLIENT"
	SCN_ROUTES=()
	SCN_CLIENT_PIDS=()
	GW_PID= GW_NGINX_PID=
	scn_route /ok "$SCN_OK_BE"
}

scn_route() {	# PREFIX [--rewrite URI] [--upgrade] SERVER...
	local prefix=$1 rewrite="" upgrade=0
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--rewrite) rewrite=$2; shift 2 ;;
		--upgrade) upgrade=1; shift ;;
		*) break ;;
		esac
	done
	SCN_ROUTES+=("$prefix|$rewrite|$upgrade|$*")
}

# --- nginx ------------------------------------------------------------------

# One field per variable, '|' between them: $upstream_addr and
# $upstream_status hold ", "-separated lists when nginx tried several
# servers, so spaces cannot separate fields.
scn_nginx_conf() {
	local i=0 r prefix rewrite upgrade servers s
	gs_nginx_head "$GW_DIR" "$GW_WORKERS" info
	cat <<-EOF
	    log_format scn '\$remote_port|\$request_method|\$uri|\$status|\$upstream_status|\$upstream_addr|\$request_time|\$connection';
	    access_log $GW_DIR/access.log scn;
	    keepalive_timeout 30s;
	EOF
	for r in "${SCN_ROUTES[@]}"; do
		servers=${r##*|}
		# max_fails=0: a slow server stays in the rotation, so round
		# robin keeps alternating (nginx would take it out for 10 s
		# after its first timeout).
		printf '    upstream scn_u%d {\n' "$i"
		for s in $servers; do printf '        server %s max_fails=0;\n' "$s"; done
		printf '    }\n'
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
	        # One attempt per request: a retry on the other server would
	        # hide the fault from the client and the log's one-to-one view.
	        proxy_next_upstream off;
	        location / { return 404; }
	EOF
	i=0
	for r in "${SCN_ROUTES[@]}"; do
		IFS='|' read -r prefix rewrite upgrade servers <<<"$r"
		printf '        location %s {\n            proxy_pass http://scn_u%d%s;\n' \
			"$prefix" "$i" "$rewrite"
		if [ "$upgrade" = 1 ]; then
			# nginx passes neither hop-by-hop header on its own.
			printf '            proxy_set_header Upgrade $http_upgrade;\n'
			printf '            proxy_set_header Connection "upgrade";\n'
		fi
		printf '        }\n'
		i=$((i + 1))
	done
	echo "    }"
	echo "}"
}

scn_nginx_start() {
	scn_nginx_conf >"$GW_DIR/nginx.conf"
	: >"$GW_DIR/access.log"
	if ! ip netns exec "$GNS" nginx -t -q -p "$GW_DIR" -c "$GW_DIR/nginx.conf" \
		-e "$GW_DIR/error.log" 2>"$GW_DIR/nginx-t.err"; then
		cat "$GW_DIR/nginx-t.err" >&2
		return 1
	fi
	gs_bg ip netns exec "$GNS" nginx -p "$GW_DIR" -c "$GW_DIR/nginx.conf" \
		-e "$GW_DIR/error.log" -g 'daemon off;'
	GW_NGINX_PID=$GS_LAST_PID GW_PID=$GS_LAST_PID
	gs_wait_listen "$GNS" "$GW_PORT" || return 1
	for _ in $(seq 50); do
		[ "$(pgrep -c -P "$GW_NGINX_PID")" -ge "$GW_WORKERS" ] && return 0
		sleep 0.1
	done
	echo "nginx workers did not start" >&2
	return 1
}

# nginx's access log and error log -> one JSON line per request.  An error
# log line names its client connection by serial number ("*57"), which the
# access log has as $connection: one request per connection here, so that
# ties each message to its request, also when many share one path.
scn_nginx_normalise() {
	python3 - "$GW_DIR/access.log" "$GW_DIR/error.log" >"$SCN_GWLOG" <<-'EOF'
	import collections, json, re, sys
	alog, elog = sys.argv[1:3]
	errors = collections.defaultdict(list)
	kinds = [("upstream timed out", "upstream_timeout"),
	         ("upstream prematurely closed", "upstream_closed"),
	         ("client prematurely closed", "client_closed"),
	         ("recv() failed", "recv_failed")]
	for line in open(elog, errors="replace"):
	    m = re.search(r"\] \d+#\d+: \*(\d+) ", line)
	    if not m:
	        continue
	    for text, kind in kinds:
	        if text in line:
	            phase = re.search(r"while (.*?), client:", line)
	            errors[m.group(1)].append({"kind": kind, "while": phase.group(1) if phase else ""})
	def num(v):
	    try:
	        return int(v)
	    except ValueError:
	        return None
	for line in open(alog):
	    f = line.rstrip("\n").split("|")
	    if len(f) != 8:
	        continue
	    port, method, uri, status, ust, uaddr, rtime, conn = f
	    print(json.dumps({
	        "port": int(port), "method": method, "uri": uri, "status": int(status),
	        "upstream_status": [num(x) for x in ust.split(", ")] if ust != "-" else [],
	        "upstream_addr": uaddr.split(", ") if uaddr != "-" else [],
	        "time": float(rtime), "errors": errors.get(conn, [])}))
	EOF
}

# --- HAProxy ----------------------------------------------------------------

# One backend per route, chosen by path prefix.  The log line carries the
# client's port (%cp, the key to the client's record), the termination
# state (%ts: who ended the request and in which phase) and the server's
# address; "|" between fields.
scn_haproxy_conf() {
	local i=0 r prefix rewrite upgrade servers s j
	cat <<-EOF
	global
	    log 127.0.0.1:$GW_LOG_PORT format raw local0
	    pidfile $GW_DIR/haproxy.pid
	defaults
	    mode http
	    log global
	    log-format "%cp|%HM|%HU|%ST|%rc|%si:%sp|%Ta|%ts"
	    timeout connect $GW_CONNECT_TIMEOUT
	    timeout server $GW_READ_TIMEOUT
	    timeout client 30s
	    timeout tunnel 30s
	    # One attempt per request, one server connection per request (as
	    # the nginx setup: no retry, no upstream keep-alive).
	    retries 0
	    option http-server-close
	frontend scn_fe
	    bind $GW4:$GW_PORT
	    bind [$GW6]:$GW_PORT
	EOF
	for r in "${SCN_ROUTES[@]}"; do
		IFS='|' read -r prefix rewrite upgrade servers <<<"$r"
		echo "    use_backend scn_b$i if { path ${prefix%/} } || { path_beg ${prefix%/}/ }"
		i=$((i + 1))
	done
	printf '    default_backend scn_none\nbackend scn_none\n    http-request return status 404\n'
	i=0
	for r in "${SCN_ROUTES[@]}"; do
		IFS='|' read -r prefix rewrite upgrade servers <<<"$r"
		printf 'backend scn_b%d\n    balance roundrobin\n' "$i"
		# Upgrades need nothing: HAProxy tunnels after a 101 by itself.
		[ -n "$rewrite" ] &&
			echo "    http-request replace-path ^${prefix%/}/?(.*) ${rewrite%/}/\\1"
		# No "check": no server is ever marked down (nginx: max_fails=0).
		j=0
		for s in $servers; do
			s=${s#[}
			echo "    server s$j ${s/]:/:}"
			j=$((j + 1))
		done
		i=$((i + 1))
	done
}

scn_haproxy_start() {
	scn_haproxy_conf >"$GW_DIR/haproxy.cfg"
	if ! ip netns exec "$GNS" haproxy -c -q -f "$GW_DIR/haproxy.cfg" >"$GW_DIR/haproxy-c.err" 2>&1; then
		cat "$GW_DIR/haproxy-c.err" >&2
		return 1
	fi
	gw_log_sink_start "$GNS" "$GW_DIR/access.log" || return 1
	gs_bg ip netns exec "$GNS" haproxy -db -f "$GW_DIR/haproxy.cfg" >"$GW_DIR/haproxy.out" \
		2>"$GW_DIR/error.log"
	GW_PID=$GS_LAST_PID	# what gw_gatescope traces (ip netns exec execs)
	gs_wait_listen "$GNS" "$GW_PORT"
}

# scn_pid_stop SIGNAL: stop GW_PID gracefully with SIGNAL, bounded.
scn_pid_stop() {
	gs_end_pid "$GW_PID" "$1"
	GW_PID=
}

# The termination state is HAProxy's account of what went wrong: first
# letter who (S server closed/reset, s server timeout, C client closed),
# second the phase (H response head, D data).
scn_haproxy_normalise() {
	python3 - "$GW_DIR/access.log" >"$SCN_GWLOG" <<-'EOF'
	import json, sys
	phase = {"H": "reading response header from upstream", "D": "reading upstream"}
	for line in open(sys.argv[1]):
	    f = line.rstrip("\n").split("|")
	    if len(f) != 8:
	        continue
	    port, method, uri, status, rc, sisp, ta, ts = f
	    errors = []
	    if ts[:1] in ("s", "S") and ts[1:2] in phase:
	        errors.append({"kind": "upstream_timeout" if ts[0] == "s" else "upstream_closed",
	                       "while": phase[ts[1]]})
	    if ts[:1] == "C":
	        errors.append({"kind": "client_closed", "while": phase.get(ts[1:2], ts[1:2])})
	    print(json.dumps({
	        "port": int(port), "method": method, "uri": uri.split("?", 1)[0],
	        # -1: HAProxy wrote no status (nginx logs 499 then).
	        "status": 499 if status == "-1" else int(status),
	        "upstream_status": [], "upstream_addr": [] if sisp.startswith("-") else [sisp],
	        "time": int(ta) / 1000, "term": ts, "retries": rc, "errors": errors}))
	EOF
}

# --- the Go proxy (tests/tools/gs-goproxy.go) ---------------------------------

# Through gateway_lib.sh's routes: round robin over the servers, the read
# timeout is the Transport's ResponseHeaderTimeout (nothing times out a
# body), upgrades are ReverseProxy's own.
scn_go_start() {
	local r prefix rewrite upgrade servers
	GW_ROUTES=()
	for r in "${SCN_ROUTES[@]}"; do
		IFS='|' read -r prefix rewrite upgrade servers <<<"$r"
		gw_route "$prefix" "${servers// /,}" "connect=$GW_CONNECT_TIMEOUT" \
			"read=$GW_READ_TIMEOUT" ${rewrite:+"rewrite=$rewrite"}
	done
	: >"$GW_DIR/access.log"
	gw_go_start
}

# Its line: METHOD PATH STATUS UPSTREAM_STATUS BACKEND ATTEMPTS CONNECT_S
# HEADER_S DURATION_S ERROR...  No client port.  The error says what ended
# the request: the response head timer, the client's context, or a body
# copy aborted mid-way (ReverseProxy then panics with ErrAbortHandler).
scn_go_normalise() {
	python3 - "$GW_DIR/access.log" >"$SCN_GWLOG" <<-'EOF'
	import json, sys
	for line in open(sys.argv[1]):
	    f = line.split(None, 9)
	    if len(f) != 10:
	        continue
	    method, path, status, ups, be, attempts, _c, _h, total, err = f
	    err = err.strip()
	    errors = []
	    if "timeout awaiting response headers" in err:
	        errors.append({"kind": "upstream_timeout", "while": "reading response header from upstream"})
	    elif err in ("context canceled", "client closed"):	# go, py
	        errors.append({"kind": "client_closed", "while": ""})
	    elif err.startswith("aborted"):
	        errors.append({"kind": "upstream_closed", "while": "reading upstream"})
	    elif err != "-":
	        errors.append({"kind": "other", "while": err})
	    print(json.dumps({
	        "port": None, "method": method, "uri": path, "status": int(status),
	        "upstream_status": [int(ups)] if ups != "-" else [],
	        "upstream_addr": [be] if be != "-" else [], "attempts": attempts,
	        "time": float(total), "errors": errors, "error_text": err}))
	EOF
}

# --- any gateway --------------------------------------------------------------

scn_start() {
	case $GW_KIND in
	nginx) scn_nginx_start ;;
	haproxy) scn_haproxy_start ;;
	go | py) scn_go_start ;;
	esac || { fail "$TK" "$GW_KIND did not start: $(tail -3 "$GW_DIR/error.log" 2>/dev/null)"; exit 1; }
	# The raw event stream too: with GW_KEEP=DIR, a failed scenario can be
	# replayed (gatescope --replay) without root while the join is worked on.
	gw_gatescope "$SCN_OUT" --record "$GS_TMP/gs.$GW_KIND.gsr" ||
		{ fail "$TK" "gatescope did not start"; exit 1; }
}

scn_gateway_stop() {
	case $GW_KIND in
	nginx) gw_nginx_stop ;;
	haproxy) scn_pid_stop USR1; gw_log_sink_stop ;;	# HAProxy's graceful stop
	go | py) scn_pid_stop TERM ;;
	esac
}

# scn_curl LABEL URLFILE [curl args]: the URLs of URLFILE (one a line, a
# path on the gateway) all at once from the client namespace, one
# connection each; one JSON line per answer in $SCN_CLIENT.
scn_curl() {
	local label=$1 urls=$2 cfg="$GS_TMP/curl-$1.cfg" p
	shift 2
	: >"$cfg"
	while read -r p; do
		printf 'url = "%s"\noutput = /dev/null\n' "$(gw_url "$p")" >>"$cfg"
	done <"$urls"
	(
		ip netns exec "$CNS" curl -s --no-progress-meter -Z --parallel-immediate \
			--parallel-max 200 --max-time "${GW_CURL_MAX_TIME:-10}" -H "Host: $GW_HOST" \
			-K "$cfg" "$@" -w '{"label":"'"$label"'","port":%{local_port},"status":"%{http_code}","size":%{size_download},"exit":%{exitcode},"time":%{time_total},"url":"%{url_effective}"}\n' \
			2>/dev/null >>"$SCN_CLIENT.$label"
	) &
	SCN_CLIENT_PIDS+=($!)
}

# scn_pieces LABEL [gs-pieces args] PATH: one gs-pieces client in the
# background; its JSON line goes to $SCN_CLIENT.
scn_pieces() {
	local label=$1
	shift
	(
		ip netns exec "$CNS" "$GS_TOOLS/gs-pieces" --host "$GW_HOST" "${@:1:$#-1}" \
			"$GW4" "$GW_PORT" "${!#}" >>"$SCN_CLIENT.$label.$BASHPID"
	) &
	SCN_CLIENT_PIDS+=($!)
}

# scn_wait_closed: until no connection the gateway closed is still on
# its way to TCP_CLOSE (at most 5 s; said when some still are).  Its TCP
# facts (gatescope's close event) come then, and a failed request waits
# for them: stopped before, gatescope reports it unknown/no_tcp_facts
# (seen once in 50-odd runs of scn_mixed under load: two upstream
# connections of 504s had not closed 0.6 s after their answers).  A
# connection the gateway closed normally reaches TCP_CLOSE once the
# backend acknowledges its FIN (a delayed ACK, up to ~70 ms under load;
# then a timewait entry, "timer:(timewait", which needs nothing more);
# one still a full socket in FIN-WAIT-1/2, CLOSING or LAST-ACK has not.
scn_wait_closed() {
	local left
	for _ in $(seq 50); do
		left=$(ip netns exec "$GNS" ss -tnHo state fin-wait-1 state fin-wait-2 state closing \
			state last-ack 2>/dev/null | grep -v 'timer:(timewait')
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "# $GW_KIND: connections the gateway closed still open 5 s on:" >&2
	echo "$left" | sed 's/^/#   /' >&2
}

scn_stop() {
	[ ${#SCN_CLIENT_PIDS[@]} -gt 0 ] && wait "${SCN_CLIENT_PIDS[@]}"
	cat "$SCN_CLIENT".* >>"$SCN_CLIENT" 2>/dev/null
	# A client that gave up is done before the gateway is (HAProxy writes
	# its 504 seconds later): gatescope must see every request end, so wait
	# until the gateway has logged one line per client request (bounded).
	local want
	want=$(wc -l <"$SCN_CLIENT")
	for _ in $(seq 100); do
		[ "$(wc -l <"$GW_DIR/access.log")" -ge "$want" ] && break
		sleep 0.1
	done
	sleep 0.5	# events are drained every 100 ms
	scn_wait_closed
	gs_stop
	scn_gateway_stop
	case $GW_KIND in
	nginx) scn_nginx_normalise ;;
	haproxy) scn_haproxy_normalise ;;
	go | py) scn_go_normalise ;;
	esac
	grep -q '"type":"total"' "$SCN_OUT" ||
		{ fail "$TK" "gatescope printed no total line"; cat "$SCN_OUT.err"; exit 1; }
}

# scn_check: the Python on stdin, run with scncheck imported as sc and a
# Run object `run` over this scenario's files; run.done() ends it.
scn_check() {
	local py
	py=$(mktemp "$GS_TMP/check.XXXXXX")
	{
		echo 'import sys, scncheck as sc'
		echo 'run = sc.Run(*sys.argv[1:7])'
		cat
		echo 'run.done()'
	} >"$py"
	PYTHONPATH="$GS_ROOT/tests/e2e" python3 "$py" "$TK" "$GW_KIND" "$SCN_NAME" "$SCN_OUT" \
		"$SCN_GWLOG" "$SCN_CLIENT"
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}
