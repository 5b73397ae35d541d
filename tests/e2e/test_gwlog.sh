#!/bin/bash
# The oracle's own parser (tests/e2e/gwlog.py): each gateway's log lines, as
# the gateways wrote them in the attribution scenarios, must normalise to
# the line the checkers expect.  No root, no network.
# run: alongside other tests (no timing oracle)
set -u
T=gwlog
GWLOG=$(dirname "$0")/gwlog.py
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

check() {	# NAME KIND RAW_LINE WANT
	printf '%s\n' "$3" >"$tmp/raw"
	got=$($PY "$GWLOG" "$2" "$tmp/raw" 2>&1)
	if [ "$got" = "$4" ]; then
		echo "PASS $T/$2: $1"
	else
		echo "FAIL $T/$2: $1: got '$got', want '$4'"
		fails=$((fails + 1))
	fi
}

# nginx: "|" between fields; ", " between the attempts of one request.
check "read timeout" nginx 'GET|/slow/c1-1|504|504|0.000|-|1.002|198.18.1.10:20002|160|-' \
	'GET /slow/c1-1 504 504 0.000 - 1.002 1 198.18.1.10:20002 -'
check "two attempts, query string dropped" nginx \
	'GET|/api/x?id=3|502|502, 502|-, -|-, -|0.004|198.18.1.6:20001, [fd00:5c::1:2:2]:20002|150|-' \
	'GET /api/x 502 502 - - 0.004 2 [fd00:5c::1:2:2]:20002 -'
check "client gone" nginx 'GET|/abort/c1-1|499|-|0.000|-|0.501|198.18.1.10:20002|0|-' \
	'GET /abort/c1-1 499 - 0.000 - 0.501 1 198.18.1.10:20002 -'
check "body cut short" nginx 'GET|/partial/c1-1|200|200|0.000|0.042|0.043|198.18.1.10:20002|4001|8002' \
	'GET /partial/c1-1 200 200 0.000 0.042 0.043 1 198.18.1.10:20002 SD'
check "older seven fields" nginx 'GET /stall/c1-1 504 - 0.000 - 1.001' \
	'GET /stall/c1-1 504 - 0.000 - 1.001 - - -'
# HAProxy: %HM|%HU|%ST|%tsc|%rc|%b/%s|%si:%sp|%Tw|%Tc|%Tr|%Ta
check "connect timeout" haproxy 'GET|/blackhole/c1-1|503|sC--|0|gs_r1/s0|198.18.1.10:20002|0|-1|-1|1003' \
	'GET /blackhole/c1-1 503 - - - 1.003 1 198.18.1.10:20002 sC--'
check "two retries, redispatched" haproxy 'GET|/refused2/c1-1|503|SC--|+2|gs_r2/s1|fd00:5c::1:2:2:20004|0|-1|-1|0' \
	'GET /refused2/c1-1 503 - - - 0.000 3 [fd00:5c::1:2:2]:20004 SC--'
check "answered" haproxy 'GET|/ok/c1-1?a=b|200|----|0|gs_r0/s0|198.18.1.6:20001|0|1|3|5' \
	'GET /ok/c1-1 200 200 0.001 0.004 0.005 1 198.18.1.6:20001 ----'
check "client gone" haproxy 'GET|/abort/c1-1|-1|CH--|0|gs_r1/s0|198.18.1.10:20002|0|0|-1|501' \
	'GET /abort/c1-1 499 - 0.000 - 0.501 1 198.18.1.10:20002 CH--'
check "answered by HAProxy itself" haproxy 'GET|/nothing|404|LR--|0|gs_none/<NOSRV>|-:-|-1|-1|-1|0' \
	'GET /nothing 404 - - - 0.000 0 - LR--'
check "its stop notice is no request" haproxy 'Proxy gs_fe stopped (cumulated conns: FE: 32, BE: 0).' ''
# The Go proxy: METHOD PATH STATUS UPSTREAM BACKEND ATTEMPTS CONNECT HEADER TOTAL ERROR...
check "dial refused" go 'GET /down/c1-1 502 - 198.18.1.10:20002 1 - - 0.001 dial tcp 198.18.1.10:20002: connect: connection refused' \
	'GET /down/c1-1 502 - - - 0.001 1 198.18.1.10:20002 - dial tcp 198.18.1.10:20002: connect: connection refused'
check "client gone" go 'GET /abort/c1-1 502 - [fd00:5c::1:2:2]:20002 1 0.000 - 0.502 context canceled' \
	'GET /abort/c1-1 499 - 0.000 - 0.502 1 [fd00:5c::1:2:2]:20002 - context canceled'
check "body cut short" go 'GET /partial/c1-1 200 200 198.18.1.10:20002 1 0.000 0.022 0.024 aborted: net/http: abort Handler' \
	'GET /partial/c1-1 200 200 0.000 0.022 0.024 1 198.18.1.10:20002 SD aborted: net/http: abort Handler'
exit $((fails > 0))
