#!/bin/bash
# Client abort: clients give up after 0.5 s on a backend that takes 3 s;
# the gateway's read timeout is 2 s.  nginx notices the close, logs 499 and
# answers nothing.  HAProxy (no "option abortonclose") does not: it waits
# for the server and at its 2 s server timeout writes a 504 into the
# half-closed connection (log: 504, termination state sH).  The Go proxy's
# request context ends with the client: it drops the upstream request and
# writes its 502 into the closed connection (log: "context canceled").
# Oracles: curl's record (no status, its own timeout) and the gateway's log.
# Every way, the client was gone before any answer: every such request must
# be client/client_abort, with the client's close on record (client_closed),
# the status the gateway wrote, if any, and the backend's silence in the
# evidence (its address named).
. "$(dirname "$0")/scenario_lib.sh"
scn_begin scn_client_abort client_abort
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode slow --delay-ms 3000 || { fail "$T" "backend"; exit 1; }
export BE=$(gw_hostport "$BE2_4" "$P")
GW_READ_TIMEOUT=2s
for n in $(seq 12); do echo "/abort/$n"; done >"$GS_TMP/urls"
for i in $(seq 10); do echo "/ok/$i"; done >"$GS_TMP/ok-urls"
for GW_KIND in $(gw_kinds); do
	scn_kind || continue
	scn_route /abort "$BE"
	scn_start
	scn_curl abort "$GS_TMP/urls" --max-time 0.5
	scn_curl ok "$GS_TMP/ok-urls"
	scn_stop
	scn_check <<-'PY'
	import os
	BE = os.environ["BE"]
	recs = run.records("/abort")
	run.check_seen(recs, "/abort")
	# The client's record decides: it gave up (curl 28: its own timeout)
	# before any status.
	failed = [r for r in recs if r.client["status"] == 0 and r.client["exit"] == 28]
	run.res(len(failed) == len(recs), "every /abort client gave up before an answer (curl's record)",
	        f"{len(failed)} of {len(recs)}")
	seen = [r.gw and (r.gw["status"], r.gw.get("term"), [x["kind"] for x in r.gw["errors"]]) for r in failed]
	if run.kind == "haproxy":
	    run.res(all(r.gw and r.gw["status"] == 504 and r.gw["term"] == "sH" for r in failed),
	            "the gateway wrote 504 at its server timeout, after the client left (504 sH in its log)", f"{seen}")
	elif run.kind in ("go", "py"):
	    run.res(all(r.gw and r.gw["errors"] and r.gw["errors"][0]["kind"] == "client_closed" for r in failed),
	            "the gateway saw the client's context end (its log)", f"{seen}")
	else:
	    run.res(all(r.gw and r.gw["status"] == 499 for r in failed),
	            "the gateway noticed each abort (499 in its log)", f"{seen}")
	abort = lambda e, r: (e["cause"], e["reason"]) == ("client", "client_abort")
	run.expect(failed, abort, "every abort is client/client_abort")
	run.expect(failed, lambda e, r: e.get("client_closed") is True and
	           e["status"] == (None if r.gw["status"] == 499 else r.gw["status"]),
	           "client_closed, and the status the gateway wrote, if any")
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
	if [ "$GW_KIND" = haproxy ]; then
		# HAProxy's server timeout fires too, with the request unanswered.
		gw_check_timeouts "$TK" "client:response:0.0.0.0:$GW_PORT:0.5" "gateway:read:$BE:2.0"
	else
		gw_check_timeouts "$TK" "client:response:0.0.0.0:$GW_PORT:0.5"
	fi
done
exit $((GS_FAILS > 0))
