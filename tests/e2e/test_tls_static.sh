#!/bin/bash
# A gateway whose TLS is built into its binary cannot be read through
# libssl: the Go reverse proxy (tests/tools/gs-goproxy.go; net/http links
# Go's crypto/tls statically).  gatescope must say so at start-up, in one
# line naming the process, and still follow its plain HTTP.
. "$(dirname "$0")/gateway_lib.sh"
T=tls_static
gs_require_bpf "$T"
GW_KIND=go
why=$(gw_kind_ready go) || { skip "$T" "$why"; exit 0; }
gw_setup || { fail "$T" "testbed setup"; exit 1; }
gw_backend "$B1NS" :: "$(gw_be_port 1)" || { fail "$T" "backend"; exit 1; }
gw_route /ok "$(gw_hostport "$BE1_4" "$(gw_be_port 1)")"
gw_start || { fail "$T" "the Go proxy did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
OUT=$GS_TMP/gs.json
gw_gatescope "$OUT" || { fail "$T" "gatescope did not start"; exit 1; }
gw_client static /ok "$(gw_url "/ok/[1-5]")"
sleep 1	# events are drained every 100 ms; a busy machine is slower
gs_stop
pid=$GW_PID
gw_stop
line=$(grep "cannot be read" "$OUT.err")
case $line in
*"gs-goproxy (pid $pid) cannot be read: statically linked Go crypto/tls"*)
	pass "$T: start-up line: ${line#gatescope: }" ;;
*) fail "$T: start-up line names the Go proxy's built-in TLS" "stderr: $(cat "$OUT.err")" ;;
esac
n=$(gs_total "$OUT" --top http.requests)
gs_check "$T: its plain HTTP requests are still read" "$n" 5
exit $((GS_FAILS > 0))
