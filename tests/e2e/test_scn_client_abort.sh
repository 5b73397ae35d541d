#!/bin/bash
# Client abort: clients give up after 0.5 s on a backend that takes 3 s,
# while the gateway would wait 5 s.  nginx notices the close, logs 499 and
# answers nothing.  Oracles: curl's record (no status, its timeout) and the
# gateway's log.  Every such request must be client/client_abort, with the
# client's close on record (client_closed) and the backend's silence in the
# evidence (its address named).
. "$(dirname "$0")/scenario_lib.sh"
scn_begin scn_client_abort client_abort
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode slow --delay-ms 3000 || { fail "$T" "backend"; exit 1; }
export BE=$(gw_hostport "$BE2_4" "$P")
GW_READ_TIMEOUT=5s
scn_route /abort "$BE"
scn_start
for n in $(seq 12); do echo "/abort/$n"; done >"$GS_TMP/urls"
for i in $(seq 10); do echo "/ok/$i"; done >"$GS_TMP/ok-urls"
scn_curl abort "$GS_TMP/urls" --max-time 0.5
scn_curl ok "$GS_TMP/ok-urls"
scn_stop
scn_check <<'PY'
import os
BE = os.environ["BE"]
recs = run.records("/abort")
run.check_seen(recs, "/abort")
# The client's record decides: it gave up (curl 28: its own timeout)
# before any status.
failed = [r for r in recs if r.client["status"] == 0 and r.client["exit"] == 28]
run.res(len(failed) == len(recs), "every /abort client gave up before an answer (curl's record)",
        f"{len(failed)} of {len(recs)}")
run.res(all(r.gw and r.gw["status"] == 499 for r in failed),
        "the gateway noticed each abort (499 in its log)",
        f"{[r.gw and r.gw['status'] for r in failed]}")
abort = lambda e, r: (e["cause"], e["reason"]) == ("client", "client_abort")
run.expect(failed, abort, "every abort is client/client_abort")
run.expect(failed, lambda e, r: e.get("client_closed") is True and
           e["status"] == (None if r.gw["status"] == 499 else r.gw["status"]),
           "client_closed, and the status the gateway wrote (none)")
run.expect(failed, lambda e, r: BE in (e.get("evidence") or ""),
           "the evidence names the silent backend")
okr = run.records("/ok")
run.check_seen(okr, "/ok")
run.expect(okr, lambda e, r: e["status"] == 200 and e["cause"] is None and e.get("client_closed") is False,
           "/ok is healthy and unblamed, its client not gone")
run.check_no_phantoms()
run.check_contract()
run.figures(failed, abort)
PY
gw_check_timeouts "$T" "client:response:0.0.0.0:$GW_PORT:0.5"
exit $((GS_FAILS > 0))
