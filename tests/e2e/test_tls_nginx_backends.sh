#!/bin/bash
# nginx speaking TLS to its backends (proxy_pass https://, upstream
# keep-alive on, so pooled TLS sessions are reused), plain HTTP toward its
# clients.  Two HTTPS backends (tls_backend.py, certificates made now):
# /ok and /six answer 200 (IPv4 and IPv6), /slow never answers, and nginx
# gives up after its 1 s proxy_read_timeout: 504.
#
# With the plaintext read through the libssl uprobes, every 504 of /slow
# must be backend/backend_slow (request acknowledged by the backend, no
# response byte), exactly the failures nginx logged, the 1 s read timeout
# inferred, /ok healthy; every request joined by its content (never by
# time: the upstream heads were read), on the client connection and backend
# nginx logged for it; every upstream TLS connection decrypted.
# With --tls off the same upstream connections cannot be read: they are
# still attempts (opaque, joined by time), counted as unreadable TLS.
. "$(dirname "$0")/tls_lib.sh"
T=tls_nginx_backends
gs_require_bpf "$T"
command -v nginx >/dev/null || { skip "$T" "nginx not installed"; exit 0; }
command -v openssl >/dev/null || { skip "$T" "openssl not installed"; exit 0; }
[ -r /sys/bus/event_source/devices/uprobe/type ] || { skip "$T" "this kernel has no uprobes"; exit 0; }

GW_BACKEND_SECONDS=60
GW_CONNECT_TIMEOUT=1s GW_READ_TIMEOUT=1s
GW_KEEPALIVE=8
TLS_UP=1
gw_setup || { fail "$T" "testbed setup"; exit 1; }
tls_certs || { fail "$T" "certificate: $(cat "$GS_TMP/tls/openssl.err")"; exit 1; }
P1=$(gw_be_port 1) P2=$(gw_be_port 2)
tls_backend "$B1NS" :: "$P1" || { fail "$T" "backend 1: $(cat "$GS_TMP/backends.err")"; exit 1; }
tls_backend "$B2NS" :: "$P2" || { fail "$T" "backend 2: $(cat "$GS_TMP/backends.err")"; exit 1; }
BE=$(gw_hostport "$BE2_4" "$P2")
gw_route /ok "$(gw_hostport "$BE1_4" "$P1")"
gw_route /slow "$BE"
gw_route /six "$(gw_hostport "$BE2_6" "$P2")"
GW_ALOG=$GS_TMP/access.log
GW_CLIENT_PIDS=()

run() {	# LABEL [GATESCOPE ARGS]: the scenario; GW_OUT is its JSON
	local l=$1
	shift
	GW_OUT=$GS_TMP/$l.json
	gw_nginx_start || { fail "$T/$l" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
	gw_gatescope "$GW_OUT" "$@" || { fail "$T/$l" "gatescope did not start"; exit 1; }
	GW_CLIENT_PIDS=()
	gw_attr_clients /slow 3 3
	gw_attr_clients /ok 1 15
	( gw_client attr /ok "$(gw_url "/ok/k[1-20]")" ) & GW_CLIENT_PIDS+=($!)
	( gw_client attr /six "$(gw_url "/six/s[1-20]" 6)" ) & GW_CLIENT_PIDS+=($!)
	gw_attr_stop
	cp "$GW_DIR/conns.log" "$GS_TMP/$l.conns.log"
	: >"$GW_DIR/conns.log"
}

# --- TLS read ----------------------------------------------------------------
run tls
line=$(grep "TLS capture" "$GW_OUT.err")
case $line in
*"uprobes on "*libssl.so*) pass "$T: start-up line names the libssl attached: $line" ;;
*) fail "$T: start-up line names the libssl attached" "stderr: $(cat "$GW_OUT.err")" ;;
esac
gw_check_attr "$T" /slow backend backend_slow
gw_check_timeouts "$T" "gateway:read:$BE:1.0"
tls_check_conns "$T" "$GW_OUT" "$GS_TMP/tls.conns.log" /ok /slow /six
tls_check_counts "$T" "$GW_OUT" "tls_conns > 0" "tls_decrypted == tls_conns" \
	"tls_unmapped == 0" "tls_dropped == 0" "unparsable_conns == 0" \
	"joins['time'] == 0 and joins['ambiguous'] == 0" "join_rate == 1"

# --- --tls off: opaque attempts, judged by TCP facts -----------------------
# Without upstream keep-alive: an opaque attempt is known when its
# connection closes, and pooled ones stay open past the run.
: >"$GW_DIR/access.log"
GW_KEEPALIVE=0
run off --tls off
tls_check_counts "$T/off" "$GW_OUT" "tls_conns > 0" "tls_decrypted == 0" \
	"tls_unreadable == tls_conns" "join_rate >= 0.99"
python3 - "$GW_OUT" "$T/off" <<-'EOF'
import collections, json, sys
out, test = sys.argv[1], sys.argv[2]
reqs = [o for o in map(json.loads, open(out)) if o.get("type") == "request"]
att = [a for o in reqs for a in o["attempts"]]
opaque = sum(a["opaque"] for a in att)
verdicts = collections.Counter(f"{o['cause']}/{o['reason']}" for o in reqs if o["route"].startswith("/slow"))
print(f"# /slow verdicts without plaintext: {dict(verdicts)}")
ok = att and opaque == len(att)
print(f"{'PASS' if ok else 'FAIL'} {test}: every attempt is opaque ({opaque} of {len(att)})")
gw = verdicts.get("gateway/gateway_stall", 0) + verdicts.get("gateway/gateway_cutoff", 0)
print(f"{'PASS' if not gw else 'FAIL'} {test}: no /slow failure blamed on the gateway ({gw})")
sys.exit(0 if ok and not gw else 1)
EOF
[ $? -eq 0 ] || GS_FAILS=$((GS_FAILS + 1))
exit $((GS_FAILS > 0))
