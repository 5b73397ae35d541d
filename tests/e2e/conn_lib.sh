# Helpers for the connection end-to-end tests (test_conn_*.sh); source after
# lib.sh.  Topology: a client namespace and a backend namespace joined by one
# veth (gs_link n=0); the client is a copy of gs-tcp with a name unique to
# this run, and gatescope traces only that name.
#
# The client's own JSON lines (type "client") are the oracle: what it did
# and what its socket saw (outcome, errno, tcpi_total_retrans at close).

# conn_setup TAG: sets CNS BNS (namespaces), BE4 BE6 (backend addresses),
# COMM (unique client name), CLIENT (its path), OUT (gatescope JSON) and
# COUT (client JSON).
conn_setup() {
	CNS=$(gs_ns "c$1") && BNS=$(gs_ns "b$1") && gs_link "$CNS" "$BNS" 0 || return 1
	BE4=$(gs_ip_b 0)
	BE6=$(gs_ip6_b 0)
	COMM="gc$1$GS_SUFFIX"
	COMM=${COMM:0:15}
	CLIENT=$(gs_tool_as "$COMM") || return 1
	OUT=$GS_TMP/gatescope.json
	COUT=$GS_TMP/client.json
	# IPv6 addresses are added with nodad; wait until they are usable anyway.
	for _ in $(seq 20); do
		ip -n "$CNS" -6 addr show tentative | grep -q inet6 || break
		sleep 0.1
	done
}

# conn_nft NS RULE...: add one rule to an input-hook chain of table
# "inet gs" in namespace NS (created on first use; gone with the namespace).
conn_nft() {
	local ns=$1; shift
	ip netns exec "$ns" nft list table inet gs >/dev/null 2>&1 ||
		ip netns exec "$ns" nft -f - <<-EOF || return 1
		table inet gs {
			chain in { type filter hook input priority 0; policy accept; }
		}
		EOF
	ip netns exec "$ns" nft add rule inet gs in "$@"
}

# conn_run GATESCOPE_ARGS -- CLIENT_ARGS: start gatescope (tracing COMM,
# --events errors), run the client once in CNS, stop gatescope.
conn_run() {
	local gsargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do gsargs+=("$1"); shift; done
	shift
	gs_start "$OUT" -c "$COMM" -e errors "${gsargs[@]}" || return 1
	timeout 30 ip netns exec "$CNS" "$CLIENT" connect "$@" >"$COUT"
	# Events are drained from the ring buffer every 100 ms.
	sleep 0.3
	gs_stop
	grep -q '"type":"total"' "$OUT" || { echo "no total line in $OUT" >&2; return 1; }
}

# conn_client KEY VALUE...: client lines with these fields.
conn_client() { gs_total "$COUT" --where client "$@"; }
# conn_client_sum KEY: sum of a client field over its connections.
conn_client_sum() { gs_total "$COUT" --sum client "$1"; }
# conn_client_retrans T MIN: sets R, the retransmits the client's sockets
# reported (tcpi_total_retrans); fewer than MIN and the scenario proves
# nothing about counting them.
conn_client_retrans() {
	R=$(conn_client_sum total_retrans)
	if [ "$R" -ge "$2" ]; then pass "$1: client socket retransmitted ($R)"
	else fail "$1" "client tcpi_total_retrans $R, expected >= $2"; fi
}

# conn_expect T LABEL connects=N refused=N ...: exact counts in the total
# line for backend LABEL.  Keys: connects refused timeout unreachable
# rst_received rst_sent retransmits.
conn_expect() {
	local t=$1 label=$2 kv key paths=() wants=() got i
	shift 2
	for kv in "$@"; do
		key=${kv%%=*}
		case $key in
		connects|retransmits) paths+=("$key") ;;
		refused|timeout|unreachable) paths+=("connect_failures.$key") ;;
		rst_received) paths+=(resets.received) ;;
		rst_sent) paths+=(resets.sent) ;;
		*) fail "$t" "unknown key $key"; continue ;;
		esac
		wants+=("${kv#*=}")
	done
	# One read of the total line for every field.
	mapfile -t got < <(gs_total "$OUT" "$label" "${paths[@]}")
	for i in "${!paths[@]}"; do
		gs_check "$t: $label ${paths[$i]}" "${got[$i]:-}" "${wants[$i]}"
	done
}

# conn_events T LABEL OUTCOME N: exactly N "connection" lines for LABEL
# with this outcome, none with another, and (when N > 0) they are the
# client's connections: the same local ip:port as the client saw.
conn_events() {
	local t=$1 label=$2 outcome=$3 n=$4
	gs_check "$t: connection lines $outcome" \
		"$(gs_total "$OUT" --where connection backend "$label" outcome "$outcome" comm "$COMM")" "$n"
	gs_check "$t: connection lines in all" \
		"$(gs_total "$OUT" --where connection backend "$label")" "$n"
	[ "$n" -gt 0 ] || return 0
	gs_check "$t: connection lines name the client's sockets" "$(python3 - "$OUT" "$COUT" "$label" <<-'PY'
		import json, sys
		def objs(path):
		    return [json.loads(l) for l in open(path) if l.strip()]
		gs = sorted(o["local"] for o in objs(sys.argv[1])
		            if o.get("type") == "connection" and o.get("backend") == sys.argv[3])
		cl = sorted(o["local"] for o in objs(sys.argv[2])
		            if o.get("type") == "client" and o["local"] in gs)
		print("same" if gs == cl else f"gatescope {gs} client {cl}")
		PY
	)" same
}

# conn_dump: show what was seen, for a failing run's log.
conn_dump() {
	echo "--- client:"; cat "$COUT" 2>/dev/null
	echo "--- gatescope:"; grep -v '"type":"summary"' "$OUT" 2>/dev/null
	echo "--- gatescope stderr:"; cat "$OUT.err" 2>/dev/null
}
