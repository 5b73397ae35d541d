# Shared helpers for end-to-end tests (source it).  Every test builds its own
# network namespaces with a per-run suffix, talks only to their addresses or
# loopback, bounds every loop, and tears everything down on exit.
#
# Test protocol: print "PASS name", "FAIL name: why" or "SKIP name: why".

GS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GS_BIN=$GS_ROOT/build/gatescope
GS_TOOLS=$GS_ROOT/build/tests
GS_SUFFIX=${GS_SUFFIX:-$$}
# A per-run /24 inside 198.18.0.0/15 so parallel runs never share addresses.
GS_NET3=$(( (GS_SUFFIX % 200) + 20 ))
GS_TMP=$(mktemp -d /tmp/gs-e2e.XXXXXX)
GS_NETNS=()
GS_PIDS=()
GS_FAILS=0

# Debian's python3 (tools/install-deps.sh installs it, with python3-yaml)
# for every check: a python3 earlier in PATH (a version manager's shim)
# may lack those modules, and here costs about 2 s per start.
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; GS_FAILS=$((GS_FAILS + 1)); }
skip() { echo "SKIP $1${2:+: $2}"; }

gs_cleanup() {
	local p ns
	for p in "${GS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.1
	for p in "${GS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	# Every namespace of this run, also those gs_ns created in a subshell
	# (NS=$(gs_ns x) cannot add to GS_NETNS): they all end in the suffix.
	for ns in "${GS_NETNS[@]}" $(ip netns list | awk -v s="-$GS_SUFFIX" \
		'$1 ~ /^gs-/ && substr($1, length($1) - length(s) + 1) == s { print $1 }'); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$GS_TMP"
}
trap gs_cleanup EXIT
trap 'exit 130' INT TERM

# Skip (loudly) when the real BPF programs cannot be loaded here.
gs_require_bpf() {	# test-name
	if [ "$(id -u)" != 0 ]; then skip "$1" "needs root to load BPF"; exit 0; fi
	if [ ! -r /sys/kernel/btf/vmlinux ]; then skip "$1" "kernel has no BTF"; exit 0; fi
	if [ ! -x "$GS_BIN" ]; then fail "$1" "$GS_BIN not built"; exit 1; fi
}

# gs_ns NAME -> creates namespace gs-NAME-SUFFIX, prints its name
gs_ns() {
	local ns="gs-$1-$GS_SUFFIX"
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	GS_NETNS+=("$ns")
	echo "$ns"
}

# gs_link NS_A NS_B N: veth between two namespaces, addresses
# 198.18.NET3.(4N+1)/30 and .(4N+2)/30, fd00:5c::NET3:N:1/2 (/112).
gs_link() {
	local a=$1 b=$2 n=$3
	local va="gsv${GS_SUFFIX}a$n" vb="gsv${GS_SUFFIX}b$n"
	ip link add "$va" netns "$a" type veth peer name "$vb" netns "$b" || return 1
	ip -n "$a" addr add "198.18.$GS_NET3.$((4 * n + 1))/30" dev "$va"
	ip -n "$b" addr add "198.18.$GS_NET3.$((4 * n + 2))/30" dev "$vb"
	ip -n "$a" -6 addr add "fd00:5c::$GS_NET3:$n:1/112" dev "$va" nodad
	ip -n "$b" -6 addr add "fd00:5c::$GS_NET3:$n:2/112" dev "$vb" nodad
	ip -n "$a" link set "$va" up
	ip -n "$b" link set "$vb" up
}
gs_ip_a() { echo "198.18.$GS_NET3.$((4 * $1 + 1))"; }
gs_ip_b() { echo "198.18.$GS_NET3.$((4 * $1 + 2))"; }
gs_ip6_a() { echo "fd00:5c::$GS_NET3:$1:1"; }
gs_ip6_b() { echo "fd00:5c::$GS_NET3:$1:2"; }

# gs_bg CMD...: run in the background, killed at exit.  Sets GS_LAST_PID.
gs_bg() {
	"$@" &
	GS_LAST_PID=$!
	GS_PIDS+=("$GS_LAST_PID")
}

# gs_start OUT ARGS...: start gatescope with ARGS, JSON to OUT, stderr to
# OUT.err; returns once the programs are attached (or fails after 30 s:
# loading and attaching takes 2-3 s on a machine at load 30).
gs_start() {
	local out=$1; shift
	gs_bg "$GS_BIN" --json "$@" >"$out" 2>"$out.err"
	gs_wait_tracing "$out"
}

# gs_wait_tracing OUT: the gatescope just started by gs_bg (stderr to
# OUT.err) becomes GS_GATESCOPE_PID; returns once it says it is tracing
# (or fails after 30 s, or when it exits).
gs_wait_tracing() {
	GS_GATESCOPE_PID=$GS_LAST_PID
	for _ in $(seq 300); do
		grep -q "tracing" "$1.err" 2>/dev/null && return 0
		kill -0 "$GS_GATESCOPE_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "gatescope did not start:" >&2
	cat "$1.err" >&2
	return 1
}

# gs_end_pid PID SIGNAL: send SIGNAL (a graceful stop), wait for PID at
# most 5 s, then SIGKILL it; reaps it.  Nothing when PID is empty.
gs_end_pid() {
	[ -n "$1" ] || return 0
	kill "-$2" "$1" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# gs_stop: SIGINT gatescope and wait for its total line (at most 5 s).
gs_stop() {
	kill -INT "$GS_GATESCOPE_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$GS_GATESCOPE_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$GS_GATESCOPE_PID" 2>/dev/null
}

# gs_total OUT BACKEND PATH: a field of one backend in the "total" line,
# e.g. gs_total out.json 198.18.20.2:8080 connect_failures.refused
gs_total() {
	python3 "$GS_ROOT/tests/e2e/gsjson.py" "$@"
}

# gs_check NAME GOT WANT: PASS when the two strings are equal, else FAIL.
gs_check() {
	if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1" "got '$2', want '$3'"; fi
}

# gs_nginx_as TAG: sets NAME (gs + TAG + the run's suffix, at most 15
# characters: a process name) and BIN, a copy of nginx under that name, so
# gatescope can trace this test's nginx alone (-c NAME).
gs_nginx_as() {
	NAME="gs$1$GS_SUFFIX"
	NAME=${NAME:0:15}
	BIN="$GS_TMP/$NAME"
	cp "$(command -v nginx)" "$BIN"
}

# gs_tool_as NAME: a copy of build/tests/gs-tcp named NAME (at most 15
# characters), so its comm is unique to this run; prints its path.
gs_tool_as() {
	local path="$GS_TMP/$1"
	cp "$GS_TOOLS/gs-tcp" "$path" && echo "$path"
}

# gs_serve NS ADDR PORT MODE: gs-tcp server in namespace NS (killed at
# exit); returns once it listens (or fails after 5 s).
gs_serve() {
	gs_serve_bin "$GS_TOOLS/gs-tcp" "$@"
}

# gs_serve_bin BIN NS ADDR PORT MODE: the same with BIN (a copy of gs-tcp,
# e.g. under another process name); NS "-": gatescope's own namespace.
gs_serve_bin() {
	local bin=$1 ns=$2 addr=$3 port=$4 mode=$5 out="$GS_TMP/serve-$4.out"
	local run=(ip netns exec "$ns")

	[ "$ns" = - ] && run=()
	gs_bg "${run[@]}" "$bin" serve "$addr" "$port" "$mode" --max-seconds 60 >"$out"
	for _ in $(seq 50); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "gs-tcp server on $addr port $port did not start" >&2
	return 1
}

# gs_wait_listen NS PORT: until something listens on PORT in NS (5 s).
gs_wait_listen() {
	for _ in $(seq 50); do
		[ -n "$(ip netns exec "$1" ss -Htln "sport = :$2")" ] && return 0
		sleep 0.1
	done
	echo "nothing listens on port $2 in $1" >&2
	return 1
}

# gs_nginx_head DIR WORKERS [ERROR_LOG_LEVEL]: the start of an nginx config
# that keeps everything (pid, logs, temp files) in DIR, open inside
# "http {": the caller adds its access log, upstreams, servers and the
# closing brace.
gs_nginx_head() {
	cat <<-EOF
	worker_processes $2;
	pid $1/nginx.pid;
	error_log $1/error.log${3:+ $3};
	events { worker_connections 1024; }
	http {
	    client_body_temp_path $1/body;
	    proxy_temp_path $1/proxy;
	    fastcgi_temp_path $1/fastcgi;
	    uwsgi_temp_path $1/uwsgi;
	    scgi_temp_path $1/scgi;
	EOF
}

# gs_nginx_in NS BIN DIR BODY: nginx (the binary BIN, a copy under a name
# of the test's own) in namespace NS, one worker, its files in DIR, BODY
# inside "http {"; in the background, stopped by the cleanup.
gs_nginx_in() {
	mkdir -p "$3"
	{ gs_nginx_head "$3" 1; echo "$4"; echo "}"; } >"$3/nginx.conf"
	gs_bg ip netns exec "$1" "$2" -p "$3" -c "$3/nginx.conf" -g "daemon off;"
}

# gs_label ADDR PORT: the backend label gatescope prints for this peer.
gs_label() {
	python3 -c 'import ipaddress, sys
a = ipaddress.ip_address(sys.argv[1])
print(f"{a}:{sys.argv[2]}" if a.version == 4 else f"[{a}]:{sys.argv[2]}")' "$1" "$2"
}
