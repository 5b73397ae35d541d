#!/bin/bash
# A request head in many writes: gs-pieces writes each head in 7 small
# writes 20 ms apart (TCP_NODELAY: 7 segments; the first piece is not even
# a whole request line), as slow or hand-written clients do.  The gateway
# reassembles them; gatescope must too.  /pieces goes to a healthy backend
# (200, unblamed), /slow to one hung past the gateway's 1 s read timeout
# (504, backend/backend_slow).  Oracles: gs-pieces' own record and the
# gateway's log; every request must be in gatescope's output with its route
# and verdict.
. "$(dirname "$0")/scenario_lib.sh"
scn_begin scn_pieces head_in_pieces
[ -x "$GS_TOOLS/gs-pieces" ] || { fail "$T" "$GS_TOOLS/gs-pieces not built"; exit 1; }
P=$(gw_be_port 2)
gw_backend "$B2NS" :: "$P" --mode hang --delay-ms 3000 || { fail "$T" "backend"; exit 1; }
export BE=$(gw_hostport "$BE2_4" "$P") OK_BE=$SCN_OK_BE
GW_READ_TIMEOUT=1s
for GW_KIND in $(gw_kinds); do
	scn_kind || continue
	scn_route /pieces "$OK_BE"
	scn_route /slow "$BE"
	scn_start
	for n in $(seq 6); do scn_pieces pieces --pieces 7 --pause-ms 20 "/pieces/$n"; done
	for n in $(seq 4); do scn_pieces slow --pieces 7 --pause-ms 20 "/slow/$n"; done
	for i in $(seq 10); do echo "/ok/$i"; done >"$GS_TMP/ok-urls"
	scn_curl ok "$GS_TMP/ok-urls"
	scn_stop
	scn_check <<-'PY'
	import os
	BE, OK_BE = os.environ["BE"], os.environ["OK_BE"]
	pieces = run.records("/pieces")
	slowr = run.records("/slow")
	run.res(all(r.client["writes"] == 7 for r in pieces + slowr),
	        "every head went out in 7 writes", f"{[r.client['writes'] for r in pieces + slowr]}")
	run.check_seen(pieces, "/pieces")
	run.check_seen(slowr, "/slow")
	ok = [r for r in pieces if r.client["status"] == 200 and r.client["complete"]]
	run.res(len(ok) == len(pieces), "every /pieces client got its whole 200", f"{len(ok)} of {len(pieces)}")
	run.expect(ok, lambda e, r: e["cause"] is None and e["backend"] == OK_BE and e["method"] == "GET",
	           "every /pieces request is unblamed, its backend and method right")
	failed = [r for r in slowr if r.client["status"] == 504 and r.gw and r.gw["status"] == 504]
	run.res(len(failed) == len(slowr), "every /slow client got the gateway's 504", f"{len(failed)} of {len(slowr)}")
	slow = lambda e, r: (e["cause"], e["reason"], e["backend"]) == ("backend", "backend_slow", BE)
	run.expect(failed, slow, "every /slow 504 is backend/backend_slow")
	okr = run.records("/ok")
	run.check_seen(okr, "/ok")
	run.expect(okr, lambda e, r: e["status"] == 200 and e["cause"] is None, "/ok is healthy and unblamed")
	run.check_no_phantoms()
	run.check_contract()
	run.figures(failed, slow)
	PY
	gw_check_timeouts "$TK" "gateway:read:$BE:1.0"
done
exit $((GS_FAILS > 0))
