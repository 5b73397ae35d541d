#!/bin/bash
# A traced backend: the gateway and its backend are both traced (by
# default gatescope traces nginx, haproxy and envoy, so an HAProxy or nginx
# gateway in front of an nginx on the same host is the common case; here
# both pids are given).  The backend's side of each attempt is the far end
# of the gateway's own upstream connection: it is no request of its own.
# The backend answers /e with a 504 of its own: the gateway's request that
# passed it on is backend/backend_error, as the gateway's log says, and
# none is reported twice (the backend's copy read gateway/no_upstream: a
# 504 "answered by the gateway itself", paging the wrong team).
#
# Every gateway kind (nginx, HAProxy, the Go proxy); a fresh nginx backend
# for each, in its own namespace, with fewer than 32 answers (after 32 the
# kernel skips a process that never connected out, and the check would
# pass by itself).
. "$(dirname "$0")/gateway_lib.sh"
T=attr_backend_side
gw_attr_begin "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }
gs_nginx_as bs || { fail "$T" "copy of nginx"; exit 1; }

# be_start DIR PORT: the nginx backend in B2NS on PORT (its master's pid:
# BE_PID); a port of its own for each gateway kind, so a backend still
# stopping never answers for the next one.
be_start() {
	BP=$2
	gs_nginx_in "$B2NS" "$BIN" "$1" "
    access_log $1/access.log;
    server { listen [::]:$BP ipv6only=off; location / { return 200 \"ok\\n\"; }
      location /e/ { return 504; } }"
	BE_PID=$GS_LAST_PID
	gs_wait_listen "$B2NS" "$BP"
}

for GW_KIND in $(gw_kinds); do
	gw_attr_kind "$T" || continue
	case $GW_KIND in nginx) port=7 ;; haproxy) port=8 ;; *) port=9 ;; esac
	be_start "$GS_TMP/be.$GW_KIND" "$(gw_be_port $port)" ||
		{ fail "$TK" "nginx backend did not start"; continue; }
	gw_route /e "$(gw_hostport "$BE2_4" "$BP")"
	gw_route /s "$(gw_hostport "$BE2_4" "$BP")"
	gw_start || { fail "$TK" "$GW_KIND did not start"; kill "$BE_PID"; continue; }
	gs_start "$GW_OUT" -p "$GW_PID,$BE_PID" -e all || { fail "$TK" "gatescope did not start"; exit 1; }
	gw_attr_clients /e 2 4
	gw_attr_clients /s 2 3
	gw_attr_clients /ok 1 2
	gw_attr_stop
	kill "$BE_PID"
	gw_check_attr "$TK" /e backend backend_error
	read -r be_reported be_side be_served <<<"$(python3 - "$GW_OUT" "$GS_TMP/be.$GW_KIND/access.log" "$NAME" <<'EOF'
import json, sys
out, log, name = sys.argv[1:4]
objs = [json.loads(l) for l in open(out) if l.startswith("{")]
total = [o for o in objs if o.get("type") == "total"][-1]
# Requests the backend's own process would have reported: by its name.
mine = sum(1 for o in objs if o.get("type") == "request" and o.get("comm") == name)
print(mine, total["http"]["backend_side_requests"], sum(1 for _ in open(log)))
EOF
)"
	gs_check "$TK: none of the backend's $be_served answers is reported as a request" \
		"$be_reported" 0
	gs_check "$TK: each is counted as the backend's side (http.backend_side_requests)" \
		"$be_side" "$be_served"
done
exit $((GS_FAILS > 0))
