# Helpers for the HTTPS end-to-end tests (test_tls_*.sh); source it (it
# sources gateway_lib.sh: same namespaces, addresses, gateways and oracles).
#
#   tls_certs                 a key and a self-signed certificate made now
#                             ($TLS_KEY $TLS_CERT, $TLS_BOTH for HAProxy)
#   TLS_DOWN=1 / TLS_UP=1     the gateway (nginx, haproxy) speaks TLS toward
#                             its clients (nginx "listen ... ssl", HAProxy
#                             "bind ... ssl crt") / toward its backends
#                             (proxy_pass https://, "server ... ssl verify none")
#   tls_backend NS ADDR PORT  an HTTPS backend (tls_backend.py)
#   tls_url PATH [6]          the gateway's URL, https:// with TLS_DOWN=1
#   tls_client LABEL LOC URL [CURL ARGS]
#                             gw_client over https (curl -k), also keeping
#                             the client's own address and port per answer
#   tls_check_conns TEST OUT LABEL LOCATION...
#                             every request on the right connections
#   tls_check_counts TEST OUT EXPR...   assertions on the "http" counters

. "$(dirname "${BASH_SOURCE[0]}")/gateway_lib.sh"

TLS_DOWN=${TLS_DOWN:-0}
TLS_UP=${TLS_UP:-0}

tls_certs() {
	local d=$GS_TMP/tls
	mkdir -p "$d"
	TLS_KEY=$d/key.pem TLS_CERT=$d/cert.pem TLS_BOTH=$d/both.pem
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test \
		-keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$d/openssl.err" || return 1
	cat "$TLS_CERT" "$TLS_KEY" >"$TLS_BOTH"
	chmod 755 "$d"
	chmod 644 "$TLS_KEY" "$TLS_CERT" "$TLS_BOTH"
}

# The gateways' configs, as gateway_lib.sh writes them, turned to TLS
# where asked.
eval "$(declare -f gw_nginx_conf | sed '1s/gw_nginx_conf/tls_plain_nginx_conf/')"
eval "$(declare -f gw_haproxy_conf | sed '1s/gw_haproxy_conf/tls_plain_haproxy_conf/')"

gw_nginx_conf() {
	local down=(cat) up=(cat)
	[ "$TLS_DOWN" = 1 ] && down=(sed -E 's/^([[:space:]]*listen[[:space:]][^;]*);/\1 ssl;/')
	[ "$TLS_UP" = 1 ] && up=(sed 's|proxy_pass http://|proxy_pass https://|')
	tls_plain_nginx_conf | "${down[@]}" | "${up[@]}" |
		awk -v down="$TLS_DOWN" -v key="${TLS_KEY:-}" -v cert="${TLS_CERT:-}" '
		{ print }
		/^[[:space:]]*server \{/ && down == 1 {
			print "        ssl_certificate " cert ";"
			print "        ssl_certificate_key " key ";"
		}'
}

# tls_require_h2_nginx T: T is skipped (the script exits 0) without what an
# nginx HTTP/2-over-TLS gateway read through libssl needs: nginx, the
# openssl CLI, h2load (nghttp2-client) and uprobes.
tls_require_h2_nginx() {
	command -v nginx >/dev/null || { skip "$1" "nginx not installed"; exit 0; }
	command -v openssl >/dev/null || { skip "$1" "openssl not installed"; exit 0; }
	command -v h2load >/dev/null || { skip "$1" "h2load not installed (nghttp2-client)"; exit 0; }
	[ -r /sys/bus/event_source/devices/uprobe/type ] || { skip "$1" "this kernel has no uprobes"; exit 0; }
}

# tls_nginx_h2: nginx speaks HTTP/2 on its TLS listeners (nginx 1.22
# takes it as a parameter of "listen ... ssl"): gw_nginx_conf above, with
# "ssl http2".  Call it after tls_lib.sh is sourced.
tls_nginx_h2() {
	eval "$(declare -f gw_nginx_conf | sed '1s/gw_nginx_conf/h2_tls_nginx_conf/')"
	gw_nginx_conf() {
		h2_tls_nginx_conf | sed -E 's/^([[:space:]]*listen[[:space:]][^;]*) ssl;/\1 ssl http2;/'
	}
}

gw_haproxy_conf() {
	local down=(cat) up=(cat)
	[ "$TLS_DOWN" = 1 ] && down=(sed -E "s|^([[:space:]]*bind [^ ]+)\$|\\1 ssl crt $TLS_BOTH|")
	[ "$TLS_UP" = 1 ] && up=(sed -E 's/^([[:space:]]*server s[0-9]+ .*)$/\1 ssl verify none/')
	tls_plain_haproxy_conf | "${down[@]}" | "${up[@]}"
}

# The asyncio proxy (GW_KIND=py): its TLS options.
eval "$(declare -f gw_go_start | sed '1s/gw_go_start/tls_plain_go_start/')"
gw_go_start() {
	local GW_PROXY_OPTS=()	# read by gw_go_start (dynamic scope)
	if [ "$GW_KIND" = py ]; then
		[ "$TLS_DOWN" = 1 ] && GW_PROXY_OPTS+=(-tls-cert "$TLS_CERT" -tls-key "$TLS_KEY")
		[ "$TLS_UP" = 1 ] && GW_PROXY_OPTS+=(-upstream-tls)
	fi
	tls_plain_go_start
}

# tls_backend NS ADDR PORT: an HTTPS backend; returns once it listens.
tls_backend() {
	local ns=$1 addr=$2 port=$3
	gs_bg ip netns exec "$ns" python3 "$GS_ROOT/tests/e2e/tls_backend.py" \
		--cert "$TLS_CERT" --key "$TLS_KEY" --max-seconds "${GW_BACKEND_SECONDS:-60}" \
		"$addr" "$port" >/dev/null 2>>"$GS_TMP/backends.err"
	gs_wait_listen "$ns" "$port"
}

tls_url() {	# PATH [6]: https:// when the gateway speaks TLS to its clients
	if [ "$TLS_DOWN" = 1 ]; then gw_url "$@" | sed 's|^http://|https://|'; else gw_url "$@"; fi
}

# tls_client LABEL LOCATION URL [CURL ARGS...]: as gw_client (the same
# "LOCATION STATUS PATH" lines in $GS_TMP/client.LABEL), over https with
# curl -k; "LOCATION STATUS LOCAL_ADDR:PORT" lines go to
# $GS_TMP/conns.LABEL: which client connection carried each request, as
# the client knows it; "LOCATION STATUS SECONDS" lines go to
# $GS_TMP/patience.LABEL: how long the client waited after its handshake,
# from sending the request to its answer or to giving up (curl's
# --max-time also counts the TLS handshake, which a loaded machine makes
# long).
tls_client() {
	local label=$1 loc=$2 url=$3
	shift 3
	gw_curl -k -H "Host: $GW_HOST" \
		-w '\nGSCODE %{http_code} %{url_effective} %{local_ip} %{local_port} %{time_pretransfer} %{time_total}\n' \
		"$@" "$url" |
		sed -n 's|^GSCODE ||p' | while read -r code u ip port pre total; do
			echo "$loc $code /${u#*://*/}" >>"$GS_TMP/client.$label"
			echo "$loc $code $(gw_hostport "$ip" "$port")" >>"$GS_TMP/conns.$label"
			echo "$loc $code $(awk -v a="$pre" -v b="$total" 'BEGIN { printf "%.3f", b - a }')" \
				>>"$GS_TMP/patience.$label"
		done
}

# tls_patience LABEL LOCATION: the median of the clients' waits (see
# tls_client) on LOCATION for requests that got no status.
tls_patience() {
	awk -v loc="$2" '$1 == loc && $2 == "000" { print $3 }' "$GS_TMP/patience.$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)] }'
}

# tls_check_conns TEST OUT LABEL LOCATION...: per location, the multiset of
# (client address:port, status) as the clients recorded them
# ($GS_TMP/conns.LABEL), and of (backend, status) as the gateway logged
# them ($GW_NLOG), against gatescope's request lines: plaintext put on the
# wrong socket shows as a request on the wrong client connection or at the
# wrong backend.  LABEL "-": plain clients, only the backends are checked.
tls_check_conns() {
	python3 - "$1" "$2" "$GS_TMP/conns.$3" "$GW_NLOG" "${@:4}" <<-'EOF'
	import collections, json, os, sys
	test, out, cfile, nlog, locs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
	fails = 0
	def loc_of(path):
	    best = None
	    for l in locs:
	        if path.startswith(l) and (best is None or len(l) > len(best)):
	            best = l
	    return best
	def res(ok, name, why):
	    global fails
	    fails += not ok
	    print(f"PASS {test}: {name}" if ok else f"FAIL {test}: {name}: {why}")
	def status(o):
	    return 499 if o["status"] is None or o.get("client_closed") else o["status"]
	cl, gl = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
	clients = not cfile.endswith(".-")
	if clients:
	    for line in open(cfile):
	        loc, code, ep = line.split()
	        cl[loc][(ep, int(code) or 499)] += 1
	for line in open(nlog):
	    f = line.split()
	    if len(f) >= 10 and loc_of(f[1]):
	        gl[loc_of(f[1])][(None if f[8] == "-" else f[8], int(f[2]))] += 1
	gc, gb = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
	for line in open(out):
	    try:
	        o = json.loads(line)
	    except ValueError:
	        continue
	    if o.get("type") == "request" and loc_of(o["route"]):
	        gc[loc_of(o["route"])][(o["client"], status(o))] += 1
	        # No status sent: nginx logs 499, a gateway that wrote a late
	        # status into the dead connection (HAProxy) logs that status.
	        st = 499 if o["status"] is None else o["status"]
	        gb[loc_of(o["route"])][(o["backend"], st)] += 1
	for loc in locs:
	    if clients:
	        n, conns = sum(cl[loc].values()), len({k[0] for k in cl[loc]})
	        res(n > 0 and cl[loc] == gc[loc],
	            f"{loc}: {n} requests on the client connections the clients used ({conns})",
	            f"clients only {dict(cl[loc] - gc[loc])}, gatescope only {dict(gc[loc] - cl[loc])}")
	    n = sum(gl[loc].values())
	    res(n > 0 and gl[loc] == gb[loc], f"{loc}: {n} requests at the backends the gateway logged",
	        f"gateway only {dict(gl[loc] - gb[loc])}, gatescope only {dict(gb[loc] - gl[loc])}")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

# tls_by_completion OUT: OUT's request lines in the order the requests
# completed (their "ts"), the other lines where they were.  A request is
# reported when it is decided, which may be later than a request that
# completed after it (it waited for more evidence); gateways log in
# completion order, and gw_check_http pairs requests in order.
tls_by_completion() {
	python3 - "$1" <<-'EOF'
	import json, sys
	lines = open(sys.argv[1]).read().splitlines()
	def req(l):
	    try:
	        return json.loads(l).get("type") == "request"
	    except ValueError:
	        return False
	slots = [i for i, l in enumerate(lines) if req(l)]
	ordered = sorted((lines[i] for i in slots), key=lambda l: json.loads(l)["ts"])
	for i, l in zip(slots, ordered):
	    lines[i] = l
	print("\n".join(lines))
	EOF
}

# tls_check_counts TEST OUT 'EXPR' ...: each EXPR is a Python expression
# over the total line's "http" counters (names as variables, plus joins
# and join_rate), e.g. 'tls_unmapped == 0'.
tls_check_counts() {
	python3 - "$@" <<-'EOF'
	import json, sys
	test, out, exprs = sys.argv[1], sys.argv[2], sys.argv[3:]
	total = [json.loads(l) for l in open(out) if '"type":"total"' in l][-1]
	env = dict(total["http"])
	env["joins"] = total.get("joins", {})
	env["join_rate"] = total.get("join_rate")
	shown = {k: v for k, v in total["http"].items() if k.startswith("tls_") or k == "requests"}
	fails = 0
	for e in exprs:
	    if eval(e, {}, env):
	        print(f"PASS {test}: {e}")
	    else:
	        fails += 1
	        print(f"FAIL {test}: {e}: {shown} joins {env['joins']} join_rate {env['join_rate']}")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

# tls_startup_line TEST OUT: gatescope named the libssl it attached to.
tls_startup_line() {
	local line
	line=$(grep "TLS capture" "$2.err")
	case $line in
	*"uprobes on "*libssl.so*) pass "$1: start-up line names the libssl attached: ${line#gatescope: }" ;;
	*) fail "$1: start-up line names the libssl attached" "stderr: $(cat "$2.err")" ;;
	esac
}
