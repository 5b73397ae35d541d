#!/bin/bash
# Process discovery with a real nginx (2 workers) in a namespace of this run:
#   - with no --pid/--comm, gatescope traces every process named nginx and
#     its workers, and finds nginx's client-facing port by itself;
#   - after "nginx -s reload" in the middle of the run, the new workers are
#     traced at once: every request sent as soon as they are up is counted
#     and comes from a new worker's pid;
#   - an nginx started after gatescope is picked up (its port too) without
#     a restart;
#   - --comm overrides the default: a gatescope told to trace another name
#     sees none of these requests.
# Other tests may run nginx at the same time: only requests with this run's
# Host header are counted.
. "$(dirname "$0")/lib.sh"
T=discovery
gs_require_bpf "$T"
for c in nginx python3 curl; do
	command -v "$c" >/dev/null || { skip "$T" "$c not installed"; exit 0; }
done

NS=$(gs_ns disc) || { fail "$T" "namespace"; exit 1; }
P_GW=$((20000 + GS_SUFFIX % 20000))
P_GW2=$((P_GW + 1)) P_BE=$((P_GW + 2))
HOST=disc$GS_SUFFIX.test
OUT=$GS_TMP/default.json
OUT_C=$GS_TMP/comm.json
chmod 755 "$GS_TMP"	# nginx workers drop root

# nginx_start NAME PORT: an nginx (2 workers) proxying to the backend;
# sets MASTER_<NAME> to the master's pid.
nginx_start() {
	local name=$1 port=$2 dir=$GS_TMP/$1
	mkdir -p "$dir"
	chmod 755 "$dir"
	{
		gs_nginx_head "$dir" 2
		cat <<-EOF
	    access_log off;
	    server {
	        listen 127.0.0.1:$port;
	        location / { proxy_pass http://127.0.0.1:$P_BE; }
	    }
	}
	EOF
	} >"$dir/nginx.conf"
	gs_bg ip netns exec "$NS" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
		-g 'daemon off;'
	printf -v "MASTER_$name" %s "$GS_LAST_PID"
	gs_wait_listen "$NS" "$port" || return 1
	for _ in $(seq 50); do
		[ "$(pgrep -c -P "$GS_LAST_PID")" -ge 2 ] && return 0
		sleep 0.1
	done
	return 1
}
workers() { pgrep -P "$1" | sort -n | tr '\n' ' '; }

# client LABEL PORT N: N requests, each on a connection of its own
# (Connection: close), statuses counted per label in $GS_TMP/client.
client() {
	ip netns exec "$NS" curl -s -o /dev/null --max-time 10 -H "Host: $HOST" \
		-H 'Connection: close' -w "$1 %{http_code}\n" "http://127.0.0.1:$2/$1/[1-$3]" \
		>>"$GS_TMP/client"
}

# requests OUT [PIDS [LABEL]]: request lines of this run's host in OUT;
# only those served by one of PIDS ("any": all); only those of the
# client's LABEL.
requests() {
	python3 - "$HOST" "$@" <<-'EOF'
	import json, sys
	host, out = sys.argv[1], sys.argv[2]
	pids = set(sys.argv[3].split()) if len(sys.argv) > 3 and sys.argv[3] != "any" else None
	label = sys.argv[4] if len(sys.argv) > 4 else None
	n = 0
	for line in open(out):
	    try:
	        o = json.loads(line)
	    except ValueError:
	        continue
	    if o.get("type") != "request" or o.get("host") != host:
	        continue
	    if label and not o.get("route", "").startswith(f"/{label}/"):
	        continue
	    n += pids is None or str(o["pid"]) in pids
	print(n)
	EOF
}
ok_count() { grep -c "^$1 200" "$GS_TMP/client"; }

for d in a b c m; do
	mkdir -p "$GS_TMP/www/$d"
	for i in $(seq 80); do echo ok >"$GS_TMP/www/$d/$i"; done
done
gs_bg ip netns exec "$NS" python3 -m http.server --bind 127.0.0.1 --directory "$GS_TMP/www" \
	"$P_BE" >/dev/null 2>&1
gs_wait_listen "$NS" "$P_BE" || { fail "$T" "backend did not start"; exit 1; }
nginx_start one "$P_GW" || { fail "$T" "nginx did not start: $(tail -2 "$GS_TMP/one/error.log")"; exit 1; }

# Default discovery, and a --comm override beside it.
gs_start "$OUT" -e all -i 0.5 || { fail "$T" "gatescope did not start"; exit 1; }
PID_DEFAULT=$GS_GATESCOPE_PID
gs_start "$OUT_C" -c "gsnone$((GS_SUFFIX % 100000))" -e all -i 0.5 ||
	{ fail "$T" "gatescope -c did not start"; exit 1; }
PID_COMM=$GS_GATESCOPE_PID
if grep -q "tracing selected processes" "$OUT.err"; then
	pass "$T/default: traces the running nginx processes, not everything"
else
	fail "$T/default: traces the running nginx processes" "$(cat "$OUT.err")"
fi

OLD=$(workers "$MASTER_one")
client a "$P_GW" 30

# Reload in the middle of the run, while requests flow ("m"); more go out
# as soon as the old workers are gone ("b").
client m "$P_GW" 80 &
MID=$!
sleep 0.05
t_reload=$(date +%s%N)
ip netns exec "$NS" nginx -p "$GS_TMP/one" -c "$GS_TMP/one/nginx.conf" -e "$GS_TMP/one/error.log" \
	-s reload
NEW=""
for _ in $(seq 100); do
	NEW=$(comm -13 <(tr ' ' '\n' <<<"$OLD" | sort) <(workers "$MASTER_one" | tr ' ' '\n' | sort) |
		tr '\n' ' ')
	[ "$(wc -w <<<"$NEW")" -ge 2 ] && break
	sleep 0.05
done
# The old workers stop accepting when they have handled the reload: wait
# for them to go, so every request below is a new worker's.
for _ in $(seq 100); do
	[ -z "$(comm -12 <(tr ' ' '\n' <<<"$OLD" | sort) <(workers "$MASTER_one" | tr ' ' '\n' | sort))" ] &&
		break
	sleep 0.05
done
echo "# workers before reload: $OLD; after: $(workers "$MASTER_one");" \
	"requests to the new ones $((($(date +%s%N) - t_reload) / 1000000)) ms after the reload"
[ "$(wc -w <<<"$NEW")" -ge 2 ] || fail "$T/reload" "no new workers after nginx -s reload"
client b "$P_GW" 40
wait $MID

# A second nginx started now: found by name, its port by the rescan.
nginx_start two "$P_GW2" || { fail "$T" "second nginx did not start"; exit 1; }
found_port=0
for _ in $(seq 50); do
	grep -q "client-facing port $P_GW2" "$OUT.err" && { found_port=1; break; }
	sleep 0.1
done
client c "$P_GW2" 20
sleep 0.5	# events are drained every 100 ms

GS_GATESCOPE_PID=$PID_DEFAULT gs_stop
GS_GATESCOPE_PID=$PID_COMM gs_stop

N_A=$(ok_count a) N_M=$(ok_count m) N_B=$(ok_count b) N_C=$(ok_count c)
echo "# client got 200 for: before reload $N_A, across it $N_M, after $N_B, second nginx $N_C"
[ "$N_A" = 30 ] && [ "$N_M" = 80 ] && [ "$N_B" = 40 ] && [ "$N_C" = 20 ] ||
	fail "$T/traffic" "the client did not get every answer: $(sort "$GS_TMP/client" | uniq -c)"

got_new=$(requests "$OUT" "$NEW" b)
got_all=$(requests "$OUT")
per_label="a $(requests "$OUT" any a)/$N_A m $(requests "$OUT" any m)/$N_M"
per_label+=" b $(requests "$OUT" any b)/$N_B c $(requests "$OUT" any c)/$N_C"
echo "# gatescope/client per phase: $per_label"
if [ "$got_all" = $((N_A + N_M + N_B + N_C)) ] &&
	[ "$per_label" = "a $N_A/$N_A m $N_M/$N_M b $N_B/$N_B c $N_C/$N_C" ]; then
	pass "$T/default: every request counted ($got_all), before, across and after the reload"
else
	fail "$T/default: every request counted" "gatescope $got_all, client $((N_A + N_M + N_B + N_C))"
fi
if [ "$got_new" = "$N_B" ]; then
	pass "$T/reload: the new workers traced ($got_new requests from pids $NEW)"
else
	fail "$T/reload: the new workers traced" "$got_new of $N_B requests from the new workers $NEW"
fi
got_two=$(requests "$OUT" "$(workers "$MASTER_two")")
if [ $found_port = 1 ] && [ "$got_two" = "$N_C" ]; then
	pass "$T/an nginx started later is picked up with its port ($got_two requests)"
else
	fail "$T/an nginx started later is picked up" \
		"port line: $found_port, $got_two of $N_C requests from its workers"
fi
got_c=$(requests "$OUT_C")
if [ "$got_c" = 0 ] && grep -q '"type":"total"' "$OUT_C"; then
	pass "$T/--comm overrides the default names (no nginx request seen)"
else
	fail "$T/--comm overrides the default names" "$got_c requests seen"
fi

exit $((GS_FAILS > 0))
