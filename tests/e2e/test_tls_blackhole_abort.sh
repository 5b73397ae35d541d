#!/bin/bash
# The two attribution scenarios of test_attr_blackhole.sh and
# test_attr_client_abort.sh, with the gateway speaking TLS on both sides
# (nginx "listen ... ssl" + "proxy_pass https://", HAProxy "bind ... ssl
# crt" + "server ... ssl verify none"), in front of HTTPS backends
# (tls_backend.py; certificates made now):
#
#   /blackhole  SYNs to backend 2 vanish (nft drop): no TLS upstream at
#               all; every failure network/connect_timeout, the gateway's
#               1 s connect timeout inferred.
#   /slow       a backend that never answers; clients give up after 0.5 s
#               (curl --max-time), before the gateway's 2 s read timeout:
#               every failure client/client_abort.  HAProxy (no "option
#               abortonclose") keeps waiting for the server and writes a
#               late 504 into the dead TLS connection: still the client's.
#   /slowp      the same backend (it hangs on any path starting "/slow"),
#               clients that wait: they meet the 2 s read timeout
#               (backend_slow, not checked here), so that every gateway
#               has a read timeout to infer (nginx closes the upstream of
#               an aborted request at once); 4 of them, as gatescope
#               infers a timeout from 3 closes.
#
# Downstream the plaintext is only readable through the uprobes: a client
# abort that gatescope cannot tie to its request (no head read) would show
# as a request missing or unattributed, which gw_check_attr counts against
# the gateway's own log.  Verdicts must be those of plain HTTP.
. "$(dirname "$0")/tls_lib.sh"
T=tls_blackhole_abort
gs_require_bpf "$T"
command -v openssl >/dev/null || { skip "$T" "openssl not installed"; exit 0; }
[ -r /sys/bus/event_source/devices/uprobe/type ] || { skip "$T" "this kernel has no uprobes"; exit 0; }

GW_BACKEND_SECONDS=90
TLS_DOWN=1 TLS_UP=1
gw_setup || { fail "$T" "testbed setup"; exit 1; }
tls_certs || { fail "$T" "certificate: $(cat "$GS_TMP/tls/openssl.err")"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2) P3=$(gw_be_port 3)
tls_backend "$B1NS" :: "$P1" || { fail "$T" "backend 1: $(cat "$GS_TMP/backends.err")"; exit 1; }
tls_backend "$B2NS" :: "$P2" || { fail "$T" "backend 2: $(cat "$GS_TMP/backends.err")"; exit 1; }
tls_backend "$B2NS" :: "$P3" || { fail "$T" "backend 3: $(cat "$GS_TMP/backends.err")"; exit 1; }
gw_fault_syn_drop "$B2NS" "$P2" || { fail "$T" "nft"; exit 1; }
BH=$(gw_hostport "$BE2_4" "$P2") SL=$(gw_hostport "$BE2_4" "$P3")

# tls_attr_clients LOC N M [curl args]: as gw_attr_clients, over https.
tls_attr_clients() {
	local loc=$1 n=$2 m=$3 c
	shift 3
	for c in $(seq "$n"); do
		(
			for i in $(seq "$m"); do
				tls_client "attr.$GW_KIND" "$loc" "$(tls_url "$loc/c$c-$i")" "$@"
			done
		) &
		GW_CLIENT_PIDS+=($!)
	done
}

for GW_KIND in ${GW_KINDS:-nginx haproxy}; do
	why=$(gw_kind_ready "$GW_KIND") || { skip "$T/$GW_KIND" "$why"; continue; }
	gw_attr_kind_state "$T"		# TK, GW_DIR, GW_OUT, GW_ALOG; /ok -> be1
	gw_route /blackhole "$BH" connect=1s read=2s
	# The backend answers by the path's first segment: /slow never does.
	gw_route /slow "$SL" connect=1s read=2s
	gw_route /slowp "$SL" connect=1s read=2s
	gw_attr_start
	tls_attr_clients /blackhole 3 4
	tls_attr_clients /slow 3 6 --max-time 0.5
	tls_attr_clients /slowp 2 2	# >= 3 closes to infer a timeout
	tls_attr_clients /ok 1 12
	gw_attr_stop
	GW_SCENARIO=tls_blackhole gw_check_attr "$TK" /blackhole network connect_timeout
	GW_SCENARIO=tls_client_abort gw_check_attr "$TK" /slow client client_abort
	# The clients' patience as they measured it from the request: 0.5 s
	# less their TLS handshake (curl --max-time counts both).
	P=$(tls_patience "attr.$GW_KIND" /slow)
	echo "# $TK: clients' median wait after the handshake: ${P:-none} s"
	gw_check_timeouts "$TK" "gateway:connect:$BH:1.0" "gateway:read:$SL:2.0" \
		"client:response:0.0.0.0:$GW_PORT:${P:-0.5}"
	tls_check_conns "$TK" "$GW_OUT" "attr.$GW_KIND" /ok /blackhole /slow /slowp
	tls_check_counts "$TK" "$GW_OUT" "tls_conns > 0" "tls_unmapped == 0" \
		"tls_dropped == 0" "unparsable_conns == 0"
done
exit $((GS_FAILS > 0))
