#!/bin/bash
# A live --record of real HTTP requests carrying credentials: the file is
# mode 0600 and holds none of them (Authorization, Cookie, query and path
# parameter values are masked byte for byte), the live output's route names
# hold no path parameter, and the masked recording replays to the same
# requests and routes as the live run.
. "$(dirname "$0")/lib.sh"
T=record_secrets
gs_require_bpf $T
command -v curl >/dev/null || { skip $T "curl not installed"; exit 0; }
NAME=gsrec$((GS_SUFFIX % 100000))
cp "$GS_TOOLS/gs-httpd" "$GS_TMP/$NAME" || { fail $T "gs-httpd not built"; exit 1; }
PORT=$((20000 + GS_SUFFIX % 20000))
REC=$GS_TMP/secrets.gsr
OUT=$GS_TMP/live.json
SECRETS=(Bearer-Zx81qTOKEN sidCOOKIEq93 APIKEYq7730 JSESSIONq5521)

gs_bg "$GS_TMP/$NAME" --max-seconds 60 127.0.0.1 "$PORT" >"$GS_TMP/httpd.out"
for _ in $(seq 50); do grep -q '^ready' "$GS_TMP/httpd.out" && break; sleep 0.1; done
gs_start "$OUT" -c "$NAME" -e all --record "$REC" -i 1 || { fail $T "gatescope did not start"; exit 1; }
for i in 1 2 3; do
	curl -s -o /dev/null -H "Authorization: ${SECRETS[0]}" -H "Cookie: s=${SECRETS[1]}" \
		"http://127.0.0.1:$PORT/ok/$i;jsessionid=${SECRETS[3]}?api_key=${SECRETS[2]}&n=$i"
done
sleep 0.5
gs_stop

gs_check "$T: recording mode" "$(stat -c %a "$REC")" 600
leaks=0
for s in "${SECRETS[@]}"; do
	if grep -aq "$s" "$REC"; then fail "$T: the recording holds $s"; leaks=$((leaks + 1)); fi
done
[ $leaks -eq 0 ] && pass "$T: no credential in the recording"
# Same length, in place: the captured heads hold the masks where the values were.
for pat in 'Authorization: [*]{17}'$'\r' 'Cookie: [*]{14}'$'\r' 'jsessionid=[*]{13}[?]api_key=[*]{11}&n=[*] HTTP/1.1'; do
	if grep -aqE "$pat" "$REC"; then pass "$T: masked in place: ${pat%$'\r'}"
	else fail "$T: no '${pat%$'\r'}' in the recording"; fi
done
if grep -q jsessionid "$OUT"; then fail "$T: a path parameter reached the live output's routes"
else pass "$T: no path parameter in the live output"; fi

live=$(gs_total "$OUT" --where request route "/ok/{id}")
gs_check "$T: live requests on route /ok/{id}" "$live" 3
"$GS_BIN" --replay "$REC" --json -e all >"$GS_TMP/replay.json" 2>"$GS_TMP/replay.err"
rc=$?
gs_check "$T: replay of the masked recording exits 0" "$rc" 0
gs_check "$T: replayed requests on route /ok/{id}" \
	"$(gs_total "$GS_TMP/replay.json" --where request route "/ok/{id}")" "$live"
gs_check "$T: replayed route totals match the live run" \
	"$(python3 -c 'import json,sys; print([r["requests"] for l in open(sys.argv[1]) for o in [json.loads(l)] if o["type"]=="total" for r in o["routes"]])' "$GS_TMP/replay.json")" \
	"$(python3 -c 'import json,sys; print([r["requests"] for l in open(sys.argv[1]) for o in [json.loads(l)] if o["type"]=="total" for r in o["routes"]])' "$OUT")"
exit 0
