# Helpers for the gateway end-to-end tests (test_http_*.sh, test_attr_*.sh)
# and the demo; source it (it sources lib.sh).
#
# Topology, all with this run's suffix and addresses from lib.sh:
#
#   client ──(link 0)── gw (a real gateway) ──(link 1)── be1
#                                            └─(link 2)── be2
#
# The gateway is one of four kinds (GW_KIND): nginx, haproxy (HAProxy,
# "haproxy -f cfg -db"), go (tests/tools/gs-goproxy.go, a
# net/http/httputil.ReverseProxy) or py (tests/tools/gs-pyproxy.py, an
# asyncio proxy on one event loop; gs-goproxy's command line and log).  It runs in the gw namespace with a
# generated config and its own files in $GW_DIR.  gatescope runs in the root
# namespace and traces only this gateway, by pid (nginx: the master, whose
# workers are its children).  Client-facing and backend ports are unique to
# this run, so parallel tests never see each other's traffic.
#
#   gw_setup                  namespaces and links; sets CNS GNS B1NS B2NS,
#                             GW4 GW6 (gateway, client side), BE1_4 BE1_6
#                             BE2_4 BE2_6, GW_PORT, GW_DIR
#   gw_backend NS ADDR PORT [gs-httpd options]    start a backend
#   gw_route LOCATION BACKEND[,BACKEND...] [OPTION...]
#                             one location -> its own upstream (round robin)
#   gw_start / gw_stop        run / stop the GW_KIND gateway (GW_PID); gw_stop
#                             writes the normalised access log (GW_NLOG)
#   gw_nginx_start / gw_nginx_stop    the same for nginx (GW_NGINX_PID)
#   gw_gatescope OUT [ARGS]   gatescope -p <gateway pid> --json -e all
#   gw_client LABEL LOC URL   curl from the client namespace, answers kept
#   gw_fault_* NS PORT        nft faults inside a backend namespace
#   gw_check_http ...         gatescope vs. the client and the gateway's log
#   gw_attr_* / gw_check_*    attribution scenarios (see below)
#
# The normalised access log (gw_normalise; what every checker reads) has one
# request per line, "-" for what did not happen:
#
#   METHOD URI STATUS UPSTREAM_STATUS CONNECT_S HEADER_S TOTAL_S ATTEMPTS BACKEND TERM [NOTE...]
#
# STATUS is the status the gateway logged, 499 when its log says the client
# went away before any answer; UPSTREAM_STATUS, CONNECT_S (handshake time)
# and HEADER_S (from the start of the attempt to the response head) are the
# last attempt's; ATTEMPTS counts every upstream attempt, failed connects
# included; BACKEND is the last attempt's ip:port; TERM is HAProxy's
# termination state (%tsc), for the others "SD" when the response was cut
# short after its head (nginx: fewer body bytes sent than its
# Content-Length; Go: the handler aborted after the head), else "-"; NOTE
# is the Go proxy's error text.  Each gateway's own log is the source:
#   nginx    $upstream_status, $upstream_addr, $upstream_connect_time, ...
#   haproxy  %ST %tsc %rc %b/%s %si:%sp %Tc %Tr %Ta (attempts = %rc + 1)
#   go       its own line per request (status, backend, attempts, error)

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Settings read by gw_start (override before calling it).
GW_KIND=${GW_KIND:-nginx}
GW_WORKERS=${GW_WORKERS:-2}			# nginx worker processes
GW_CONNECT_TIMEOUT=${GW_CONNECT_TIMEOUT:-1s}	# default of every route
GW_READ_TIMEOUT=${GW_READ_TIMEOUT:-2s}
GW_KEEPALIVE=${GW_KEEPALIVE:-0}			# upstream pool size; 0: no keep-alive
GW_KEEPALIVE_TIMEOUT=${GW_KEEPALIVE_TIMEOUT:-60s}
# nginx stamps its own times when its event loop gets to run: on a busy
# shared machine, a worker waiting for a CPU inflates $upstream_connect_time
# by milliseconds the kernel never saw (seen here: 14 ms for a 0.03 ms
# handshake).  Tests that use nginx's times as their oracle run it with a
# real-time priority (GW_NGINX_RT=1: SCHED_RR 1; its work is bounded).
GW_NGINX_RT=${GW_NGINX_RT:-0}
# How long a gateway lives at most (HAProxy and the Go proxy stop by
# themselves after it; nginx is stopped at exit like everything else).
GW_MAX_SECONDS=${GW_MAX_SECONDS:-120}
GW_ROUTES=()
GW_PID=
GW_NGINX_PID=

# Ports unique to this run: the gateway's client-facing port is a kernel
# filter key of gatescope (by number, in every namespace), so it must not
# collide with another test's gateway; backends get the next nine.  Runs
# started together have neighbouring pids: ten ports apart each, one run's
# backends never take another's gateway port.
GW_PORT=$((20000 + GS_SUFFIX % 4000 * 10))
gw_be_port() { echo $((GW_PORT + $1)); }

# GW_KEEP=DIR: keep this run's files (gatescope JSON, gateway logs, client
# answers, a recording gatescope can replay) in DIR for a look after the run.
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
	gw_dir "$GS_TMP/nginx"
	# IPv6 addresses were added with nodad; wait until none is tentative.
	local ns
	for ns in "$CNS" "$GNS" "$B1NS" "$B2NS"; do
		for _ in $(seq 30); do
			ip -n "$ns" -6 addr show tentative | grep -q inet6 || break
			sleep 0.1
		done
	done
}

# gw_dir DIR: the gateway's files (config, logs, temp files) go to DIR.
gw_dir() {
	GW_DIR=$1
	GW_NLOG=$GW_DIR/access.norm
	mkdir -p "$GW_DIR"
	# nginx workers drop root: let them reach their temp directories.
	chmod 755 "$GS_TMP" "$GW_DIR"
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

# gw_route LOCATION BACKEND[,BACKEND...] [OPTION...]: requests under
# LOCATION go to the BACKENDs (ip:port or [ip6]:port; several: round robin)
# through an upstream of their own.  Options, for every kind:
#   connect=DUR read=DUR   connect / read (response head) timeouts of this
#                          route (default GW_CONNECT_TIMEOUT, GW_READ_TIMEOUT;
#                          nginx and HAProxy syntax: 1s, 500ms)
#   retries=N              N more attempts after a failed one (HAProxy
#                          "retries N" + "option redispatch"; nginx
#                          proxy_next_upstream_tries N+1; the asyncio proxy
#                          after a failed connect; not go); default 0: one
#                          attempt per request everywhere (nginx would
#                          otherwise retry on the next server by itself)
#   rewrite=PATH           the upstream path is PATH instead of LOCATION
#                          (nginx "proxy_pass http://be/v2/" style)
# Anything else is an nginx directive for the location (e.g.
# "proxy_next_upstream off"); gw_start refuses it for the other kinds.
GW_SEP=$'\x1f'
gw_route() {
	local loc=$1 be=$2 connect="" read="" retries=0 rewrite="" extra="" d
	shift 2
	for d in "$@"; do
		case $d in
		connect=*) connect=${d#*=} ;;
		read=*) read=${d#*=} ;;
		retries=*) retries=${d#*=} ;;
		rewrite=*) rewrite=${d#*=} ;;
		*) extra+="            $d;"$'\n' ;;
		esac
	done
	GW_ROUTES+=("$loc$GW_SEP$be$GW_SEP$connect$GW_SEP$read$GW_SEP$retries$GW_SEP$rewrite$GW_SEP$extra")
}

# gw_route_fields ROUTE: sets r_loc r_be r_connect r_read r_retries
# r_rewrite r_extra from one GW_ROUTES entry (timeouts not given: the
# GW_*_TIMEOUT in force when the gateway starts).
gw_route_fields() {
	IFS=$GW_SEP read -r -d '' r_loc r_be r_connect r_read r_retries r_rewrite r_extra <<<"$1"
	r_extra=${r_extra%$'\n'}	# the here-string's own newline
	r_connect=${r_connect:-$GW_CONNECT_TIMEOUT} r_read=${r_read:-$GW_READ_TIMEOUT}
}

# gw_hp_server ADDR:PORT: HAProxy's server address form ("[v6]:p" -> "v6:p":
# HAProxy takes the last colon as the port's).
gw_hp_server() {
	local a=${1#[}
	echo "${a/]:/:}"
}

gw_nginx_conf() {
	local i=0 r ka="" b servers pass mf
	[ "$GW_KEEPALIVE" -gt 0 ] &&
		ka="keepalive $GW_KEEPALIVE; keepalive_timeout $GW_KEEPALIVE_TIMEOUT;"
	gs_nginx_head "$GW_DIR" "$GW_WORKERS" info
	# "|" between fields: $upstream_* list every attempt, ", " between them.
	cat <<-EOF
	    log_format gs '\$request_method|\$request_uri|\$status|\$upstream_status|\$upstream_connect_time|\$upstream_header_time|\$request_time|\$upstream_addr|\$body_bytes_sent|\$sent_http_content_length';
	    access_log $GW_DIR/access.log gs;
	    keepalive_timeout 30s;
	EOF
	# GW_NGINX_HTTP / GW_NGINX_SERVER: more directives at http / server level.
	[ -n "${GW_NGINX_HTTP:-}" ] && echo "    $GW_NGINX_HTTP"
	for r in "${GW_ROUTES[@]}"; do
		gw_route_fields "$r"
		# Several servers: max_fails=0, so that nginx never takes one
		# out (HAProxy and the Go proxy don't either) and every request
		# makes its own attempts.
		servers="" mf=""
		[ "${r_be//,/}" != "$r_be" ] && mf=" max_fails=0"
		for b in ${r_be//,/ }; do servers+="server $b$mf; "; done
		echo "    upstream gs_r$i { $servers$ka }"
		i=$((i + 1))
	done
	cat <<-EOF
	    server {
	        listen $GW4:$GW_PORT;
	        listen [$GW6]:$GW_PORT;
	        proxy_http_version 1.1;
	        proxy_set_header Connection "";
	        location / { return 404; }
	EOF
	[ -n "${GW_NGINX_SERVER:-}" ] && echo "        $GW_NGINX_SERVER"
	i=0
	for r in "${GW_ROUTES[@]}"; do
		gw_route_fields "$r"
		printf '        location %s {\n' "$r_loc"
		printf '            proxy_connect_timeout %s;\n            proxy_read_timeout %s;\n' \
			"$r_connect" "$r_read"
		if [ "$r_retries" -gt 0 ]; then
			printf '            proxy_next_upstream error timeout;\n'
			printf '            proxy_next_upstream_tries %d;\n' $((r_retries + 1))
		else
			case $r_extra in
			*proxy_next_upstream*) ;;
			*) printf '            proxy_next_upstream off;\n' ;;
			esac
		fi
		pass="http://gs_r$i"
		if [ -n "$r_rewrite" ]; then
			# proxy_pass with a URI replaces the location's prefix; for
			# a location without its trailing slash, a rewrite does.
			case $r_loc in
			*/) pass+=$r_rewrite ;;
			*) printf '            rewrite ^%s/?(.*)$ %s/$1 break;\n' "$r_loc" "${r_rewrite%/}" ;;
			esac
		fi
		printf '            proxy_pass %s;\n%s        }\n' "$pass" "$r_extra"
		i=$((i + 1))
	done
	echo "    }"
	echo "}"
}

# gw_require_grpc T: skip test T (and exit) without the Python gRPC
# package the gRPC peer (tests/e2e/grpc_peer.py) needs.
gw_require_grpc() {
	/usr/bin/python3 -c 'import grpc' 2>/dev/null ||
		{ skip "$1" "python3-grpcio not installed (tools/install-deps.sh installs it)"; exit 0; }
}

# gw_nginx_grpc [SED-ARGS...]: from here on gw_nginx_conf writes nginx
# speaking gRPC: h2c on the listener, grpc_pass (and the grpc_ timeouts)
# to the backends; SED-ARGS (e.g. -e '1i worker_shutdown_timeout 1s;')
# edit the config further.
gw_nginx_grpc() {
	eval "$(declare -f gw_nginx_conf | sed '1s/gw_nginx_conf/gw_nginx_plain_conf/')"
	GW_NGINX_GRPC_SED=("$@")
	gw_nginx_conf() {
		gw_nginx_plain_conf | sed -E \
			-e 's/^([[:space:]]*listen[[:space:]][^;]*);/\1 http2;/' \
			-e '/proxy_http_version|proxy_set_header/d' \
			-e 's/proxy_pass http:/grpc_pass grpc:/; s/proxy_(connect_timeout|read_timeout|next_upstream)/grpc_\1/' \
			"${GW_NGINX_GRPC_SED[@]}"
	}
}

# HAProxy: one backend per route, chosen by path prefix; the log line
# carries what the normaliser needs ("|" between fields, no spaces).
gw_haproxy_conf() {
	local i=0 r b j pool=""
	cat <<-EOF
	global
	    log 127.0.0.1:$GW_LOG_PORT format raw local0
	    pidfile $GW_DIR/haproxy.pid
	defaults
	    mode http
	    log global
	    log-format "%HM|%HU|%ST|%tsc|%rc|%b/%s|%si:%sp|%Tw|%Tc|%Tr|%Ta"
	    timeout connect $GW_CONNECT_TIMEOUT
	    timeout server $GW_READ_TIMEOUT
	    timeout client 30s
	    retries 0
	frontend gs_fe
	    bind $GW4:$GW_PORT
	    bind [$GW6]:$GW_PORT
	EOF
	for r in "${GW_ROUTES[@]}"; do
		gw_route_fields "$r"
		echo "    use_backend gs_r$i if { path ${r_loc%/} } || { path_beg ${r_loc%/}/ }"
		i=$((i + 1))
	done
	echo "    default_backend gs_none"
	echo "backend gs_none"
	echo "    http-request return status 404"
	i=0
	for r in "${GW_ROUTES[@]}"; do
		gw_route_fields "$r"
		echo "backend gs_r$i"
		echo "    balance roundrobin"
		echo "    timeout connect $r_connect"
		echo "    timeout server $r_read"
		echo "    retries $r_retries"
		[ "$r_retries" -gt 0 ] && echo "    option redispatch"
		if [ "$GW_KEEPALIVE" -gt 0 ]; then
			# Every request may take an idle connection, also the
			# first of a client connection (each curl opens one).
			echo "    http-reuse always"
			pool=" pool-max-conn $GW_KEEPALIVE"
		else
			echo "    option http-server-close"
		fi
		[ -n "$r_rewrite" ] &&
			echo "    http-request replace-path ^${r_loc%/}/?(.*) ${r_rewrite%/}/\\1"
		# No "check": HAProxy never marks a server down, so every
		# request makes its attempts (as nginx's max_fails=0).
		j=0
		for b in ${r_be//,/ }; do
			echo "    server s$j $(gw_hp_server "$b")$pool"
			j=$((j + 1))
		done
		i=$((i + 1))
	done
}

# The Go proxy's routes, one argument each.
gw_go_routes() {
	local r
	for r in "${GW_ROUTES[@]}"; do
		gw_route_fields "$r"
		echo "$r_loc=$r_be;connect=$r_connect;read=$r_read${r_rewrite:+;rewrite=$r_rewrite}$(
			[ "$r_retries" -gt 0 ] && echo ";retries=$r_retries")"
	done
}

# gw_kind_ready KIND: can this machine run KIND?  Prints why not.
gw_kind_ready() {
	case $1 in
	nginx) command -v nginx >/dev/null || { echo "nginx not installed (tools/install-deps.sh)"; return 1; } ;;
	haproxy) command -v haproxy >/dev/null || { echo "haproxy not installed (tools/install-deps.sh)"; return 1; } ;;
	go)
		# Built by "make tools" when a Go toolchain is installed; a
		# stale or missing binary is rebuilt here (offline, seconds).
		if ! command -v go >/dev/null; then
			echo "golang-go not installed (tools/install-deps.sh)"
			return 1
		fi
		make -s -C "$GS_ROOT" build/tests/gs-goproxy >"$GS_TMP/go-build.log" 2>&1 ||
			{ echo "gs-goproxy did not build: $(tail -3 "$GS_TMP/go-build.log")"; return 1; } ;;
	py) python3 -c 'import asyncio' 2>/dev/null || { echo "python3 not installed"; return 1; } ;;
	*) echo "unknown gateway kind '$1' (nginx, haproxy, go, py)"; return 1 ;;
	esac
}

# gw_start: write the GW_KIND gateway's config and run it in the gateway
# namespace; returns once it listens (nginx: and all its workers run).
# Sets GW_PID (nginx: also GW_NGINX_PID, the master).
gw_start() {
	local r why
	why=$(gw_kind_ready "$GW_KIND") || { echo "$why" >&2; return 1; }
	if [ "$GW_KIND" != nginx ]; then
		for r in "${GW_ROUTES[@]}"; do
			gw_route_fields "$r"
			[ -z "$r_extra" ] || { echo "$GW_KIND: nginx directives on $r_loc: $r_extra" >&2; return 1; }
			[ "$GW_KIND" = go ] && [ "$r_retries" -gt 0 ] &&
				{ echo "go: ReverseProxy makes no retries ($r_loc retries=$r_retries)" >&2; return 1; }
		done
	fi
	: >"$GW_DIR/access.log"
	rm -f "$GW_NLOG"
	case $GW_KIND in
	nginx) gw_nginx_start ;;
	haproxy) gw_haproxy_start ;;
	go | py) gw_go_start ;;
	esac
}

# gw_kind_go_like: is GW_KIND one of the proxies with gs-goproxy's command
# line and log (go, py)?
gw_kind_go_like() { [ "$GW_KIND" = go ] || [ "$GW_KIND" = py ]; }

# gw_stop: stop the gateway (gracefully, bounded), then normalise its log.
gw_stop() {
	case $GW_KIND in
	nginx) gw_nginx_stop ;;
	*)
		# HAProxy: SIGUSR1 is its graceful stop; the Go proxy and others
		# end on SIGTERM.
		gs_end_pid "$GW_PID" "$([ "$GW_KIND" = haproxy ] && echo USR1 || echo TERM)"
		GW_PID= ;;
	esac
	gw_log_sink_stop
	gw_normalise "$GW_KIND" "$GW_DIR/access.log" >"$GW_NLOG"
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
	GW_NGINX_PID=$GS_LAST_PID GW_PID=$GS_LAST_PID
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
	gs_end_pid "$GW_NGINX_PID" QUIT
	GW_NGINX_PID= GW_PID=
}

# HAProxy's log: UDP to a sink in its namespace (syslog_sink.py), which
# writes each message as a line of LOG.  Not "log stdout": HAProxy drops a
# message there when another of its threads holds the logger (seen under
# the whole suite: 70 of 72 requests logged).
GW_LOG_PORT=5514
gw_log_sink_start() {	# NS LOG
	rm -f "$2.ready"
	gs_bg ip netns exec "$1" timeout -k 5 "$GW_MAX_SECONDS" \
		python3 "$GS_ROOT/tests/e2e/syslog_sink.py" "$GW_LOG_PORT" "$2"
	GW_SINK_PID=$GS_LAST_PID
	for _ in $(seq 100); do
		[ -e "$2.ready" ] && return 0
		sleep 0.05
	done
	echo "the log sink did not start" >&2
	return 1
}

# gw_log_sink_stop: after the gateway stopped, the sink reads what is
# queued and ends (bounded).
gw_log_sink_stop() {
	gs_end_pid "${GW_SINK_PID:-}" TERM
	GW_SINK_PID=
}

# HAProxy in the foreground (-db), one process (its threads), its log to
# the sink.  It stops by itself after GW_MAX_SECONDS (a bounded helper).
gw_haproxy_start() {
	gw_haproxy_conf >"$GW_DIR/haproxy.cfg"
	if ! ip netns exec "$GNS" haproxy -c -q -f "$GW_DIR/haproxy.cfg" >"$GW_DIR/haproxy-c.err" 2>&1; then
		echo "haproxy rejected its config:" >&2
		cat "$GW_DIR/haproxy-c.err" >&2
		return 1
	fi
	gw_log_sink_start "$GNS" "$GW_DIR/access.log" || return 1
	gs_bg ip netns exec "$GNS" timeout -s USR1 -k 5 "$GW_MAX_SECONDS" \
		haproxy -f "$GW_DIR/haproxy.cfg" -db >"$GW_DIR/haproxy.out" 2>"$GW_DIR/error.log"
	gw_find_child "$GS_LAST_PID" haproxy || return 1
	gs_wait_listen "$GNS" "$GW_PORT"
}

# The Go proxy (and the asyncio one, GW_KIND=py) listens on both
# client-side addresses, like the others.
gw_go_start() {
	local routes cmd=("$GS_TOOLS/gs-goproxy")
	mapfile -t routes < <(gw_go_routes)
	[ "$GW_KIND" = py ] && cmd=(python3 "$GS_ROOT/tests/tools/gs-pyproxy.py")
	gs_bg ip netns exec "$GNS" "${cmd[@]}" -max-seconds "$GW_MAX_SECONDS" \
		-listen "$GW4:$GW_PORT,[$GW6]:$GW_PORT" -keepalive "$GW_KEEPALIVE" \
		-idle-timeout "$GW_KEEPALIVE_TIMEOUT" -access-log "$GW_DIR/access.log" \
		"${GW_PROXY_OPTS[@]}" "${routes[@]}" >/dev/null 2>"$GW_DIR/error.log"
	GW_PID=$GS_LAST_PID
	gs_wait_listen "$GNS" "$GW_PORT"
}

# gw_find_child PID NAME: GW_PID = the process NAME that PID is or runs
# ("timeout" forks its command; ip netns exec execs).
gw_find_child() {
	local p
	for _ in $(seq 50); do
		for p in "$1" $(pgrep -P "$1"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && { GW_PID=$p; return 0; }
		done
		sleep 0.1
	done
	echo "$2 did not start: $(tail -3 "$GW_DIR/error.log")" >&2
	return 1
}

# gw_normalise KIND RAW_LOG: the normalised access log (see the top) on
# stdout.
gw_normalise() {
	python3 "$GS_ROOT/tests/e2e/gwlog.py" "$@"
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

# gw_gatescope OUT [ARGS]: gatescope on this gateway only (by pid; nginx's
# workers follow their master), JSON and every request line.
gw_gatescope() {
	local out=$1
	shift
	local rec=() n=1 path="$out.gsr"
	# With GW_KEEP, a recording to replay the run's joins offline; a second
	# run into the same output (tls_backends' "off" run) records beside the
	# first one (--record never overwrites).
	while [ -e "$path" ]; do n=$((n + 1)); path="$out.$n.gsr"; done
	[ -n "${GW_KEEP:-}" ] && [[ " $* " != *" --record "* ]] && rec=(--record "$path")
	gs_start "$out" -p "${GW_PID:-$GW_NGINX_PID}" -e all "${rec[@]}" "$@"
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
# "LOCATION STATUS PATH" line per answer (000: none, the client gave up)
# goes to $GS_TMP/client.LABEL.
GW_HOST=gw.test
gw_client() {
	local label=$1 loc=$2 url=$3
	shift 3
	gw_curl -H "Host: $GW_HOST" -w '\nGSCODE %{http_code} %{url_effective}\n' "$@" "$url" |
		sed -n "s|^GSCODE \([0-9]*\) [a-z]*://[^/]*|$loc \1 |p" >>"$GS_TMP/client.$label"
}

# gw_check_http TEST OUT ACCESS_LOG CLIENT_FILE LOCATION...: compare
# gatescope's JSON (OUT) with what the client got and with the gateway's
# normalised access log, per location (route prefix); prints PASS/FAIL
# lines:
#  - per route: requests and every status (downstream, from the status
#    translation) exactly as the client counted them;
#  - per request, matched in order per route with the access log: connect_ms
#    and ttfb_ms within 1 ms or 5 % of the gateway's for >= GW_TIMING_BAR
#    (default 0.99) of requests;
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
	    loc, code = line.split()[:2]
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
	    if len(f) >= 7 and loc_of(f[1]):
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
	        f"gatescope {len(gs[loc])}, gateway access log {len(ng[loc])}")
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
	            bad.append(f"{n[1]} gateway {n[2]} connect {n[4]} header {n[5]}"
	                       f" / gatescope {g['status']} connect {gc} ttfb {gh}")
	rate = n_ok / n_all if n_all else 0
	print(f"# timings: {n_ok} of {n_all} requests agree with the gateway ({rate:.4f})")
	res(n_all > 0 and rate >= bar, f"connect_ms and ttfb_ms agree with the gateway (>= {bar})",
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
#   gw_attr_begin TEST        checks, testbed (backends live GW_BACKEND_SECONDS)
#   ... the test starts its faulty backend(s) and faults, once ...
#   for GW_KIND in $(gw_kinds); do
#       gw_attr_kind TEST || continue   per-kind state, a healthy /ok route
#                                       on be1; SKIPs a kind this machine
#                                       cannot run; sets TK=TEST/KIND
#       gw_route ...                    the scenario's route(s)
#       gw_attr_start                   gateway + gatescope (GW_OUT)
#       gw_attr_clients LOC N M [curl args]   N parallel clients, M requests each
#       gw_attr_stop                    stop gatescope and the gateway, keep
#                                       the normalised log (GW_ALOG)
#       gw_check_attr TK LOC CAUSE REASON     every failed request of LOC
#   done
#
# Every name printed (PASS/FAIL/SKIP, figures) carries the gateway kind.

# gw_kinds: the gateway kinds to run (GW_KINDS="nginx haproxy go py" by
# default; set it to run fewer).
gw_kinds() { echo "${GW_KINDS:-nginx haproxy go py}"; }

gw_attr_begin() {
	gs_require_bpf "$1"
	# Backends serve every kind of the loop in turn.
	GW_BACKEND_SECONDS=${GW_BACKEND_SECONDS:-400}
	gw_setup || { fail "$1" "testbed setup"; exit 1; }
	gw_backend "$B1NS" :: "$(gw_be_port 1)" || { fail "$1" "healthy backend"; exit 1; }
	GW_CLIENT_PIDS=()
	gw_attr_kind_state "$1"
}

# gw_attr_kind_state TEST: a fresh turn for GW_KIND: its own directory,
# gatescope output, log and client file, and the healthy /ok route only.
gw_attr_kind_state() {
	TK=$1/$GW_KIND
	gw_dir "$GS_TMP/$GW_KIND"
	GW_OUT=$GS_TMP/gs.$GW_KIND.json
	GW_ALOG=$GS_TMP/access.$GW_KIND.norm
	: >"$GS_TMP/client.attr.$GW_KIND"
	GW_ROUTES=()
	GW_CLIENT_PIDS=()
	gw_route /ok "$(gw_hostport "$BE1_4" "$(gw_be_port 1)")"
}

# gw_attr_kind TEST: start a kind's turn of the loop; SKIP (returns 1)
# when this machine cannot run GW_KIND.
gw_attr_kind() {
	local why
	if ! why=$(gw_kind_ready "$GW_KIND"); then
		skip "$1/$GW_KIND" "$why"
		return 1
	fi
	gw_attr_kind_state "$1"
}

gw_attr_start() {
	gw_start || { fail "$TK" "$GW_KIND did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
	gw_gatescope "$GW_OUT" || { fail "$TK" "gatescope did not start"; exit 1; }
}

# gw_attr_clients LOC N M [curl args]: N clients in parallel, each sending
# M requests to LOC/<client>-<i>, one connection per request.  Runs in the
# background; gw_attr_stop waits for them.
gw_attr_clients() {
	local loc=$1 n=$2 m=$3 c
	shift 3
	for c in $(seq "$n"); do
		(
			for i in $(seq "$m"); do gw_client "attr.$GW_KIND" "$loc" "$(gw_url "$loc/c$c-$i")" "$@"; done
		) &
		GW_CLIENT_PIDS+=($!)
	done
}

# gw_attr_stop [now]: wait for the clients, then stop gatescope once the
# gateway logged them and the last events were drained; "now": stop it as
# soon as the clients are done (what gatescope does at its end is tested).
gw_attr_stop() {
	[ ${#GW_CLIENT_PIDS[@]} -gt 0 ] && wait "${GW_CLIENT_PIDS[@]}"
	GW_CLIENT_PIDS=()
	if [ "${1:-}" = now ]; then
		gs_stop
		gw_wait_logged
	else
		gw_wait_logged
		sleep 0.5	# events are drained every 100 ms
		gs_stop
	fi
	gw_stop || echo "# $GW_KIND: its access log has lines the normaliser did not read" >&2
	cp "$GW_NLOG" "$GW_ALOG"
	grep -q '"type":"total"' "$GW_OUT" || { fail "$TK" "gatescope printed no total line"; cat "$GW_OUT.err"; exit 1; }
}

# gw_wait_logged: until the gateway has logged as many requests as the
# clients sent (at most 10 s): a client that gave up does not end its
# request at the gateway (HAProxy waits for the server until its timeout),
# and gatescope must still be running when the gateway ends it.
gw_wait_logged() {
	local want
	want=$(cat "$GS_TMP/client.attr.$GW_KIND" 2>/dev/null | wc -l)
	for _ in $(seq 100); do
		[ "$(grep -c . "$GW_DIR/access.log")" -ge "$want" ] && return 0
		sleep 0.1
	done
	echo "# $GW_KIND logged $(grep -c . "$GW_DIR/access.log") of $want requests" >&2
}

# gw_end_run TEST OUT LOG WANT: once the gateway's LOG has WANT lines (at
# most 15 s: a machine running the whole suite is slow; said when it is
# still short) and gatescope has drained the last events, stop gatescope,
# then the gateway; the test ends failed if gatescope's OUT has no total
# line.
gw_end_run() {
	local t=$1 out=$2 log=$3 want=$4 have=0
	for _ in $(seq 150); do
		have=$(grep -c . "$log" 2>/dev/null)
		[ "${have:-0}" -ge "$want" ] && break
		sleep 0.1
	done
	[ "${have:-0}" -ge "$want" ] ||
		echo "# $t: the gateway's log has $have of $want lines after 15 s" >&2
	sleep 0.5	# events are drained every 100 ms
	gs_stop
	gw_stop
	grep -q '"type":"total"' "$out" || { fail "$t" "gatescope printed no total line"; cat "$out.err"; exit 1; }
}

# gw_check_attr TEST LOC CAUSE REASON: the oracle -- the gateway's own log,
# with the client's side for requests it gave up on -- says which requests
# of LOC failed: 5xx, 499 when the client closed before any answer (a
# gateway that wrote a late 5xx into the dead connection included: HAProxy
# logs its sH 504, the Go proxy its 502), or a response cut short after its
# head (TERM SD).  gatescope must report the same failures (its status, or
# 499 for a request with no status or "client_closed": true; a request it
# gives a cause counts as failed), attribute >= 99 % of them, every attributed one
# to CAUSE/REASON ("unknown"/"ambiguous_join" is not attributed, and not
# wrong), with as many upstream attempts per failed request as the gateway
# logged.  Requests of /ok must all be healthy and unblamed.  Request
# events must name their join and say whether the client closed; the total
# must count the joins by kind.  Prints one figures line:
#   # figures gateway=KIND scenario=NAME failed=N correct=M ambiguous=A join_rate=R
# NAME: GW_SCENARIO, default TEST without its kind; N: failed requests of
# LOC by the oracle; M: those gatescope gave CAUSE/REASON; A: request events
# of LOC joined "ambiguous"; R: the total's join_rate (the whole run).
gw_check_attr() {
	local cfile=$GS_TMP/client.attr.$GW_KIND
	touch "$cfile"
	GW_SCENARIO=${GW_SCENARIO:-${1%/*}} python3 - "$GW_OUT" "$GW_ALOG" "$cfile" "$GW_KIND" "$@" <<-'EOF'
	import collections, json, os, sys
	out, alog, cfile, kind, test, loc, cause, reason = sys.argv[1:9]
	scenario = os.environ["GW_SCENARIO"]
	fails = 0
	def res(ok, name, why=""):
	    global fails
	    print(f"PASS {test}: {name}" if ok else f"FAIL {test}: {name}: {why}")
	    fails += not ok
	def under(path, l):
	    l = l.rstrip("/")
	    return path == l or path.startswith(l + "/")
	objs = [json.loads(l) for l in open(out) if l.strip()]
	reqs = [o for o in objs if o.get("type") == "request"]
	total = [o for o in objs if o.get("type") == "total"][-1]
	# The oracle.  A request the client got no answer for (curl: 000) is
	# a client abort whatever the gateway wrote later.
	client = {}
	for l in open(cfile):
	    f = l.split()
	    if len(f) >= 3:
	        client[f[2]] = int(f[1])
	ng = []
	for l in open(alog):
	    f = l.split()
	    st = int(f[2])
	    if client.get(f[1]) == 0:
	        st = 499
	    ng.append((f, st))
	# Failed: 5xx, 499, or an answer cut short after its head (TERM sD/SD:
	# the status is the upstream's 200, the body never complete).
	ng_loc = [(f, st) for f, st in ng if under(f[1], loc)]
	ng_failed = [(f, st) for f, st in ng_loc if st >= 499 or f[9][:2] in ("SD", "sD")]
	ng_fail = collections.Counter(st for f, st in ng_failed)
	sent = sum(1 for p in client if under(p, loc))
	def gs_status(o):
	    if o["status"] is None or o.get("client_closed") is True:
	        return 499
	    return o["status"]
	gs_loc = [o for o in reqs if under(o["route"], loc)]
	gs_failed = [o for o in gs_loc if gs_status(o) >= 499 or o["cause"] is not None]
	gs_fail = collections.Counter(gs_status(o) for o in gs_failed)
	print(f"# {kind}: {sum(ng_fail.values())} failed requests on {loc} {dict(ng_fail)}; "
	      f"gatescope: {len(gs_failed)} {dict(gs_fail)} (499: the client closed first)")
	res(len(ng_loc) == sent, f"{kind} logged every request the client sent to {loc}",
	    f"client sent {sent}, {kind} logged {len(ng_loc)}")
	res(sum(ng_fail.values()) > 0, f"the fault made {loc} fail", f"{kind} logged no failure")
	res(gs_fail == ng_fail, f"gatescope saw every failure of {loc}",
	    f"{kind} {dict(ng_fail)}, gatescope {dict(gs_fail)}")
	attributed = [o for o in gs_failed if o["cause"] not in (None, "unknown")]
	wrong = [o for o in attributed if (o["cause"], o["reason"]) != (cause, reason)]
	rate = len(attributed) / len(gs_failed) if gs_failed else 0
	verdicts = collections.Counter(f"{o['cause']}/{o['reason']}" for o in gs_failed)
	print(f"# verdicts: {dict(verdicts)}; terms: {dict(collections.Counter(o.get('term') for o in gs_failed))}; "
	      f"joins: {dict(collections.Counter(o.get('join') for o in gs_failed))}")
	res(rate >= 0.99, f">= 99 % of failed requests attributed ({len(attributed)}/{len(gs_failed)})",
	    f"unattributed: {[(o['reason'], o['evidence']) for o in gs_failed if o not in attributed][:3]}")
	res(attributed and not wrong, f"every attributed failure is {cause}/{reason}",
	    f"{len(wrong)} of {len(attributed)} wrong")
	for o in wrong[:3]:
	    print(f"#   got {o['cause']}/{o['reason']} term {o.get('term')}: {json.dumps(o)}")
	# Attempts: the gateway's count per failed request (HAProxy: %rc + 1)
	# against the length of gatescope's attempts list, as multisets (one
	# route's requests are alike; the log and the events are not in the
	# same order).
	want_att = collections.Counter(int(f[7]) for f, st in ng_failed if len(f) > 7 and f[7] != "-")
	if want_att:
	    got_att = collections.Counter(len(o.get("attempts") or []) for o in gs_failed)
	    res(got_att == want_att, f"upstream attempts per failed request as {kind} logged them",
	        f"{kind} {dict(want_att)}, gatescope {dict(got_att)}")
	# The backend of each failed request (the last attempt's), as a
	# multiset again.
	want_be = collections.Counter(f[8] for f, st in ng_failed if len(f) > 8 and f[8] != "-")
	if want_be:
	    got_be = collections.Counter(o.get("backend") for o in gs_failed)
	    res(got_be == want_be, f"the backend of each failed request as {kind} logged it",
	        f"{kind} {dict(want_be)}, gatescope {dict(got_be)}")
	# The contract of the join engine.
	joins = ("id", "content", "order", "time", "ambiguous", "none")
	nojoin = [o for o in reqs if o.get("join") not in joins]
	res(not nojoin, "every request event names its join",
	    f"{len(nojoin)} of {len(reqs)} without one of {joins}, e.g. {[o.get('join') for o in nojoin[:3]]}")
	nocc = [o for o in reqs if not isinstance(o.get("client_closed"), bool)]
	res(not nocc, "every request event says whether the client closed",
	    f"{len(nocc)} of {len(reqs)} without client_closed true|false")
	tj = total.get("joins")
	res(isinstance(tj, dict) and set(tj) >= set(joins)
	    and sum(tj[k] for k in joins) >= len(reqs),
	    "the total counts the joins by kind", f"joins {tj}, {len(reqs)} request events")
	ok_ng = [f for f, st in ng if under(f[1], "/ok")]
	ok_gs = [o for o in reqs if under(o["route"], "/ok")]
	blamed = [o for o in ok_gs if o["status"] != 200 or o["cause"] is not None]
	res(len(ok_gs) == len(ok_ng) > 0 and not blamed,
	    f"healthy /ok requests seen and not blamed ({len(ok_gs)})",
	    f"{kind} {len(ok_ng)}, gatescope {len(ok_gs)}, blamed {[(o['status'], o['cause'], o['reason']) for o in blamed[:3]]}")
	correct = min(len(ng_failed), sum(1 for o in gs_failed if (o["cause"], o["reason"]) == (cause, reason)))
	ambiguous = sum(1 for o in gs_loc if o.get("join") == "ambiguous")
	print(f"# figures gateway={kind} scenario={scenario} failed={len(ng_failed)} correct={correct} "
	      f"ambiguous={ambiguous} join_rate={total.get('join_rate')}")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

# gw_check_timeouts TEST [CLOSER:KIND:PEER:SECONDS ...]: the timeouts
# configured in this scenario.  gatescope must infer each of them within
# GW_TIMEOUT_TOL seconds (default 0.05), and infer nothing else (a close
# that no timeout drove is no evidence of one).
gw_check_timeouts() {
	GW_TIMEOUT_TOL=${GW_TIMEOUT_TOL:-0.05} python3 - "$GW_OUT" "$@" <<-'EOF'
	import json, os, sys
	out, test, want = sys.argv[1], sys.argv[2], sys.argv[3:]
	tol = float(os.environ["GW_TIMEOUT_TOL"])
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
	    ok = [i for i in hits if abs(got[i]["seconds"] - float(secs)) < tol]
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
