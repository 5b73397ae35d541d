# Helpers for the HTTPS end-to-end tests (test_tls_*.sh); source it (it
# sources gateway_lib.sh: same namespaces, addresses, nginx and oracles).
#
#   tls_certs                 a key and a self-signed certificate made now
#                             ($TLS_KEY $TLS_CERT, $TLS_BOTH for HAProxy)
#   TLS_DOWN=1 / TLS_UP=1     nginx listens with "ssl" toward clients /
#                             speaks TLS to its backends (proxy_pass https://)
#   tls_backend NS ADDR PORT  an HTTPS backend (tls_backend.py)
#   tls_curl_url PATH [6]     the gateway's https:// URL (TLS_DOWN=1)
#   tls_check_conns TEST OUT LOG LOCATION...
#                             every request on the right connection: per
#                             request, the client's address and port and the
#                             backend as nginx logged them ($TLS_LOG)
#   tls_check_counts TEST OUT EXPR...   assertions on the "http" counters
#
# nginx also writes $GW_DIR/conns.log: "URI REMOTE_ADDR REMOTE_PORT
# UPSTREAM_ADDR STATUS" per request.

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
	chmod 644 "$TLS_KEY" "$TLS_CERT" "$TLS_BOTH"
}

# nginx's config, as gateway_lib.sh writes it, turned to TLS where asked,
# plus the connection log.
eval "$(declare -f gw_nginx_conf | sed '1s/gw_nginx_conf/tls_plain_nginx_conf/')"
tls_listen_ssl() {
	if [ "$TLS_DOWN" = 1 ]; then sed -E 's/^([[:space:]]*listen[[:space:]][^;]*);/\1 ssl;/'; else cat; fi
}
tls_pass_https() {
	if [ "$TLS_UP" = 1 ]; then sed 's|proxy_pass http://|proxy_pass https://|'; else cat; fi
}
gw_nginx_conf() {
	tls_plain_nginx_conf | tls_listen_ssl | tls_pass_https | awk -v dir="$GW_DIR" \
		-v down="$TLS_DOWN" -v key="${TLS_KEY:-}" -v cert="${TLS_CERT:-}" '
		{ print }
		/^[[:space:]]*access_log / {
			print "    log_format gsconn \"$uri $remote_addr $remote_port $upstream_addr $status\";"
			print "    access_log " dir "/conns.log gsconn;"
		}
		/^[[:space:]]*server \{/ && down == 1 {
			print "        ssl_certificate " cert ";"
			print "        ssl_certificate_key " key ";"
		}'
}

# tls_backend NS ADDR PORT: an HTTPS backend that logs "PATH CLIENT_PORT"
# to $GS_TMP/backend-PORT.log; returns once it listens.
tls_backend() {
	local ns=$1 addr=$2 port=$3
	gs_bg ip netns exec "$ns" python3 "$GS_ROOT/tests/e2e/tls_backend.py" \
		--cert "$TLS_CERT" --key "$TLS_KEY" --max-seconds "${GW_BACKEND_SECONDS:-60}" \
		--log "$GS_TMP/backend-$port.log" "$addr" "$port" \
		>/dev/null 2>>"$GS_TMP/backends.err"
	gs_wait_listen "$ns" "$port"
}

tls_url() {
	gw_url "$@" | sed 's|^http://|https://|'
}

# tls_check_conns TEST OUT CONNS_LOG LOCATION...: nginx's own record of
# which client connection (address, port) and which backend served each
# request, against gatescope's request lines, as multisets per location:
# plaintext put on the wrong socket shows as a wrong client port or backend.
tls_check_conns() {
	python3 - "$@" <<-'EOF'
	import collections, json, sys
	test, out, clog, locs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
	fails = 0
	def loc_of(path):
	    best = None
	    for l in locs:
	        if path.startswith(l) and (best is None or len(l) > len(best)):
	            best = l
	    return best
	def hostport(addr, port):
	    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
	ng = collections.defaultdict(collections.Counter)
	for line in open(clog):
	    f = line.split()
	    if len(f) == 5 and loc_of(f[0]):
	        be = f[3] if f[3] != "-" else None
	        ng[loc_of(f[0])][(hostport(f[1], f[2]), be, int(f[4]))] += 1
	gs = collections.defaultdict(collections.Counter)
	for line in open(out):
	    try:
	        o = json.loads(line)
	    except ValueError:
	        continue
	    if o.get("type") == "request" and loc_of(o["route"]):
	        gs[loc_of(o["route"])][(o["client"], o["backend"], o["status"])] += 1
	for loc in locs:
	    n = sum(ng[loc].values())
	    ok = n > 0 and ng[loc] == gs[loc]
	    if ok:
	        conns = len({k[0] for k in ng[loc]})
	        print(f"PASS {test}: {loc}: {n} requests on the client connections and backends nginx logged ({conns} client connections)")
	    else:
	        fails += 1
	        print(f"FAIL {test}: {loc}: (client, backend, status) differ: nginx only {dict(ng[loc] - gs[loc])}, gatescope only {dict(gs[loc] - ng[loc])}")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}

# tls_check_counts TEST OUT 'EXPR' ...: each EXPR is a Python expression
# over the total line's "http" counters (names as variables), e.g.
# 'tls_unmapped == 0'.
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
	        print(f"FAIL {test}: {e}: {shown} joins {env['joins']}")
	sys.exit(1 if fails else 0)
	EOF
	[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
}
