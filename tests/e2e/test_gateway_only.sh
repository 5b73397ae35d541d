#!/bin/bash
# SPDX-License-Identifier: MIT
# Only the gateway's traffic is captured.  An nginx gateway and an nginx
# backend run under one process name (two nginx on one host), gatescope is
# given only that name and no --listen.  The backend only serves (it never
# connects out): after its first 32 answers its client connections are
# skipped in the kernel.  The gateway's requests must all be there, as the
# client counted them.  The backend's are the far end of the gateway's own
# attempts: none is reported as a request (each counted as
# backend_side_requests, up to the threshold; its access log counts them
# all).  Its first answers are 504s of its own: the gateway's requests
# that passed them on are backend/backend_error, and no 504 is the
# gateway's (before, the backend's side of each read gateway/no_upstream).
. "$(dirname "$0")/lib.sh"
T=gateway_only
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }
command -v curl >/dev/null || { skip "$T" "curl not installed"; exit 0; }

N=120			# requests through the gateway
NE=8			# of which answered 504 by the backend itself, first
SERVE_ONLY=32		# answers after which a process that never connected out only serves
NS=$(gs_ns go) || { fail "$T" "namespace"; exit 1; }
gs_nginx_as go || { fail "$T" "copy of nginx"; exit 1; }
P_BE=28081 P_GW=28080

gs_nginx_in "$NS" "$BIN" "$GS_TMP/be" "
    access_log $GS_TMP/be/access.log;
    server { listen 127.0.0.1:$P_BE; location / { return 200 \"ok\\n\"; }
      location /e/ { return 504; } }"
gs_nginx_in "$NS" "$BIN" "$GS_TMP/gw" "
    access_log $GS_TMP/gw/access.log;
    upstream be { server 127.0.0.1:$P_BE; keepalive 8; }
    server { listen 127.0.0.1:$P_GW; location / {
        proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
      location /c/ { proxy_pass http://127.0.0.1:$P_BE; } }"
gs_wait_listen "$NS" "$P_BE" && gs_wait_listen "$NS" "$P_GW" || { fail "$T" "nginx did not start"; exit 1; }

OUT=$GS_TMP/gs.json
gs_start "$OUT" -c "$NAME" -i 1 -e all || { fail "$T" "gatescope did not start"; exit 1; }
# One keep-alive connection for most requests, then a few connections of
# their own; the client's record is the count of 200s it got.
urls=()
for i in $(seq $NE); do urls+=("http://127.0.0.1:$P_GW/e/$i"); done
got504=$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}\n' "${urls[@]}" | grep -c '^504$')
urls=()
for i in $(seq $((N - 20 - NE))); do urls+=("http://127.0.0.1:$P_GW/k/$i"); done
got=$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}\n' "${urls[@]}" | grep -c '^200$')
got=$((got + got504))
for i in $(seq 20); do
	ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P_GW/n/$i"
done | grep -c '^200$' >"$GS_TMP/n200"
got=$((got + $(cat "$GS_TMP/n200")))
# And NC through /c/, an upstream connection each (HTTP/1.0 to the
# backend): the backend's side of each closes, skipped, and must leave
# the kernel's table as counted (no eviction, no event).
NC=20
urls=()
for i in $(seq $NC); do urls+=("http://127.0.0.1:$P_GW/c/$i"); done
got=$((got + $(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}\n' "${urls[@]}" | grep -c '^200$')))
N=$((N + NC))
sleep 1.5	# the join waits 100 ms; a busy machine is slower
gs_stop

gs_check "$T: the client got its answers" "$got" "$N"
served=$(grep -c '' "$GS_TMP/be/access.log")
gs_check "$T: the backend served every request (its access log)" "$served" "$N"

gs_check "$T: the client got the backend's own 504s" "$got504" "$NE"
read -r gw_seen be_seen be_side joined evicted v504 <<<"$(python3 - "$OUT" "$P_GW" <<'EOF'
import collections, json, sys
path, port = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(path) if l.startswith("{")]
total = [d for d in lines if d.get("type") == "total"][-1]
gw = sum(r["requests"] for r in total.get("routes", []) if f":{port}/" in r["route"])
be = sum(r["requests"] for r in total.get("routes", []) if f":{port}/" not in r["route"])
# Every 504 gatescope reported, by verdict.
v = collections.Counter(f'{d.get("cause")}/{d.get("reason")}' for d in lines
                        if d.get("type") == "request" and d.get("status") == 504)
print(gw, be, total["http"]["backend_side_requests"], total["http"]["requests_joined"],
      total["evicted_conns"], ",".join(f"{k}={n}" for k, n in sorted(v.items())) or "none")
EOF
)"
gs_check "$T: every request the client made is captured at the gateway" "$gw_seen" "$N"
gs_check "$T: none of the backend's side of them is reported as a request" "$be_seen" 0
if [ "$be_side" -ge "$NE" ] && [ "$be_side" -le "$SERVE_ONLY" ] && [ "$served" -gt "$SERVE_ONLY" ]; then
	pass "$T: the backend's side is counted until the kernel skips it ($be_side of $served)"
else
	fail "$T: the backend's side is counted until the kernel skips it" \
		"backend_side_requests $be_side of the $served it served, want $NE..$SERVE_ONLY"
fi
gs_check "$T: the backend's own 504s are the backend's (every 504 reported, by verdict)" \
	"$v504" "backend/backend_error=$NE"
if [ "$joined" -ge "$N" ]; then
	pass "$T: every gateway request joined to its upstream attempt ($joined)"
else
	fail "$T: every gateway request joined to its upstream attempt" "joined $joined of $N"
fi
gs_check "$T: the backend's closed connections left the kernel's table as counted (evicted_conns)" "$evicted" 0
if grep -q "only serve (never connected out) are not captured" "$OUT.err"; then
	pass "$T: said once that a serving-only process is skipped"
else
	fail "$T: said once that a serving-only process is skipped" "stderr: $(cat "$OUT.err")"
fi
gs_check "$T: said once why the backend's side is not reported" \
	"$(grep -c "the backend's side of the gateway's attempts" "$OUT.err")" 1
exit $((GS_FAILS > 0))
