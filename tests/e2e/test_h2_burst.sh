#!/bin/bash
# SPDX-License-Identifier: MIT
# A burst of HTTP/2 over TLS: h2load opens 32 connections at once to nginx
# ("listen ... ssl http2") and sends 10,000 requests, 10 concurrent streams
# on each.  Oracle: h2load's own count of the requests it completed.
#  - no TLS plaintext dropped for want of its socket.  nginx hands OpenSSL
#    each socket with SSL_set_fd, where gatescope ties the session to it;
#    without that tie, plaintext read or written before any socket I/O of
#    an SSL call tied it was dropped (18 captures in every run of the
#    build before; on HTTP/2 a lost header block breaks the header
#    compression state of its whole connection);
#  - no HTTP/2 connection left undecodable, every request h2load completed
#    a decoded stream.  nginx has not connected upstream when the burst
#    begins: the TLS handshakes and HTTP/2 SETTINGS it writes to 32 new
#    clients are no answers, and must not make it a process that only
#    serves (a build that counted every write skipped the first reads of
#    1 or 2 of the 32 connections, and with them their first header
#    blocks);
#  - no event lost.
. "$(dirname "$0")/tls_lib.sh"
T=h2_burst
gs_require_bpf "$T"
tls_require_h2_nginx "$T"

TLS_DOWN=1
GW_KEEPALIVE=8
GW_BACKEND_SECONDS=60
tls_nginx_h2

gw_setup || { fail "$T" "testbed setup"; exit 1; }
tls_certs || { fail "$T" "certificate: $(cat "$GS_TMP/tls/openssl.err")"; exit 1; }
P1=$(gw_be_port 1)
gw_backend "$B1NS" :: "$P1" || { fail "$T" "backend"; exit 1; }
gw_route /h/ "$(gw_hostport "$BE1_4" "$P1")"

N=10000
OUT=$GS_TMP/h2burst.json
gw_start || { fail "$T" "nginx did not start: $(tail -3 "$GW_DIR/error.log")"; exit 1; }
gw_gatescope "$OUT" || { fail "$T" "gatescope did not start"; exit 1; }
timeout 120 ip netns exec "$CNS" h2load -n "$N" -c 32 -m 10 "$(tls_url /h/burst)" \
	>"$GS_TMP/h2load.out" 2>&1
sleep 0.5	# events are drained every 100 ms
gs_stop
gw_stop
grep -q '"type":"total"' "$OUT" || { fail "$T" "gatescope printed no total line"; cat "$OUT.err"; exit 1; }

python3 - "$T" "$OUT" "$GS_TMP/h2load.out" "$N" <<'PY' || GS_FAILS=$((GS_FAILS + 1))
import json, re, sys
test, out, h2load, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
text = open(h2load).read()
m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", text)
done = int(m.group(2)) if m else 0
total = [json.loads(l) for l in open(out) if '"type":"total"' in l][-1]
http = total["http"]
print(f"# h2load: {done} succeeded of {n}; gatescope: lost {total['lost_events']}, "
      f"HTTP/2 connections {http.get('h2_conns')}, streams {http.get('h2_streams')}, "
      f"broken {http.get('h2_broken_conns')}, TLS plaintext dropped {http.get('tls_dropped')}")
fails = 0
def res(ok, what, detail=""):
    global fails
    print(f"PASS {test}: {what}" if ok else f"FAIL {test}: {what}: {detail}")
    fails += not ok
res(done == n, f"h2load completed its {n} requests", text[-300:])
res(http.get("h2_conns") == 32, "32 HTTP/2 connections", http.get("h2_conns"))
res(http.get("tls_dropped") == 0, "no TLS plaintext dropped for want of its socket",
    http.get("tls_dropped"))
res(http.get("h2_broken_conns") == 0, "no HTTP/2 connection left undecodable",
    f"{http.get('h2_broken_conns')} broken")
res(http.get("h2_streams") == done, "every request h2load completed decoded as a stream",
    f"{http.get('h2_streams')} of {done}")
res(total["lost_events"] == 0, "no event lost", total["lost_events"])
sys.exit(1 if fails else 0)
PY
[ "$GS_FAILS" -eq 0 ] || tail -5 "$OUT.err"
exit 0
