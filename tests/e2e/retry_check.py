#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks of test_retries.sh: gatescope's JSON against the clients' own
logs, nginx's access log and the backend's log.

retry_check.py TEST GS_JSON ACCESS_NORM BACKEND_LOG CLIENT_MASK CLIENT_BIG SPEC...
  SPEC: POLICY:LOCATION:ADDRESS:CLIENT_LOG (the address may hold colons)
"""
import json
import sys

VERDICT = {"storm": "retry storm", "fixed": "no backoff", "expo": "backoff ok",
           "sync": "no jitter", "honour": "backoff ok"}
# A client that retries with fixed delays on the route whose backend asks
# for Retry-After ignores it.
VERDICT_RA = {"fixed": "ignores Retry-After", "honour": "backoff ok"}
BACKEND_LIMIT_RPS = 4.0		# retry_clients.py backend ... 4

fails = 0


def res(ok, name, why=""):
    global fails
    if ok:
        print(f"PASS {TEST}: {name}")
    else:
        fails += 1
        print(f"FAIL {TEST}: {name}: {why}")


def route_of(total, loc):
    rs = [r for r in total["routes"] if "/" in r["route"] and
          ("/" + r["route"].split("/", 1)[1]).startswith(loc)]
    return rs[0] if len(rs) == 1 else None


def spec(s):
    policy, loc, rest = s.split(":", 2)
    addr, log = rest.rsplit(":", 1)
    return policy, loc, addr, log


def client_record(path):
    reqs = [json.loads(l) for l in open(path)]
    delays = [r["delay_ms"] for r in reqs if r["retry"]]
    return reqs, delays


def check_client(total, policy, loc, addr, log):
    reqs, delays = client_record(log)
    name = f"{policy} client {addr} on {loc}"
    got = [c for c in total["throttled_clients"]
           if c["client"] == addr and ("/" + c["route"].split("/", 1)[1]).startswith(loc)]
    if len(got) != 1:
        res(False, name, f"not among throttled_clients ({len(delays)} retries by its own log)")
        return
    c = got[0]
    want = (VERDICT_RA if loc == "/ra/" else VERDICT)[policy]
    res(c["verdict"] == want, f"{name}: verdict '{want}'",
        f"got '{c['verdict']}' ({c['evidence']})")
    print(f"# {name}: {c['verdict']}: {c['evidence']}")
    res(c["requests"] == len(reqs) and c["retries"] == len(delays),
        f"{name}: requests and retries as the client counted them ({c['requests']}, {c['retries']})",
        f"gatescope {c['requests']} requests {c['retries']} retries, "
        f"client {len(reqs)} requests {len(delays)} retries")
    if not delays or not c["delay_ms"]:
        res(False, f"{name}: delays", "no retry delays")
        return
    mine = sum(delays) / len(delays)
    seen = c["delay_ms"]["mean"]
    res(abs(seen - mine) <= 0.10 * mine,
        f"{name}: mean retry delay within 10 % of the client's own ({seen:.1f} ms vs {mine:.1f} ms)",
        f"gatescope {seen:.2f} ms, client {mine:.2f} ms")
    if policy == "sync":
        res(c["lockstep_retries"] * 2 >= c["retries"],
            f"{name}: at least half its retries in lockstep ({c['lockstep_retries']} of {c['retries']})",
            f"{c['lockstep_retries']} of {c['retries']}")


def check_sources(total, log):
    for loc, source, ups in (("/lim/", "gateway", "-"), ("/ra/", "backend", "429")):
        r = route_of(total, loc)
        want = sum(1 for l in log if l[1].startswith(loc) and l[2] == "429" and l[3] == ups)
        other = "backend" if source == "gateway" else "gateway"
        got = r["retries"]["throttled"] if r else {}
        res(r is not None and want > 0 and got.get(source) == want and got.get(other) == 0,
            f"{loc}: throttled by the {source} as nginx logged it ({want})",
            f"gatescope {got}, nginx log {want} 429s with upstream status {ups}")


def check_limit(total, backend_log):
    r = route_of(total, "/ra/")
    lim = r["retries"]["apparent_limit_rps"] if r else None
    res(lim is not None and abs(lim - BACKEND_LIMIT_RPS) <= 0.1 * BACKEND_LIMIT_RPS,
        f"/ra/: apparent limit within 10 % of the backend's {BACKEND_LIMIT_RPS}/s ({lim})",
        f"apparent_limit_rps {lim}")
    r = route_of(total, "/lim/")
    lim = r["retries"]["apparent_limit_rps"] if r else None
    print(f"# /lim/ (2/s per client address, several clients): apparent limit {lim}")


def check_masked(total, log, client_mask):
    r = route_of(total, "/mask/")
    want = sum(1 for l in log if l[1].startswith("/mask/") and l[2] == "200" and l[3] == "429")
    client = sum(1 for l in open(client_mask) if l.split()[1] == "200")
    got = [m for m in r["masked_failures"]] if r else []
    n = sum(m["count"] for m in got if m["upstream_status"] == 429 and m["downstream_status"] == 200)
    res(want == 20 and client == 20 and n == want and len(got) == 1,
        f"/mask/: upstream 429 answered as 200 counted exactly ({n})",
        f"gatescope {got}, nginx log {want}, client got {client} 200s")
    masked_elsewhere = [(x["route"], x["masked_failures"]) for x in total["routes"]
                        if x["masked_failures"] and x is not r]
    res(not masked_elsewhere, "no masked failures on other routes", str(masked_elsewhere))


def check_cutoff(gs_lines, backend_log, client_big):
    sent = sum(1 for l in open(backend_log) if l.startswith("/big/") and l.split()[1] == "200")
    client = sum(1 for l in open(client_big) if l.split()[1] == "502")
    reqs = [o for o in gs_lines if o.get("type") == "request" and o["route"].startswith("/big/")]
    cut = [o for o in reqs if o["reason"] == "gateway_cutoff" and o["status"] == 502 and
           o["upstream_status"] == 200]
    res(sent == 10 and client == 10 and len(cut) == len(reqs) == 10,
        f"/big/: the backend's 200 answered 502 is gateway_cutoff ({len(cut)})",
        f"backend sent {sent} 200s, client got {client} 502s, gatescope "
        f"{len(cut)} gateway_cutoff of {len(reqs)}: {[(o['reason'], o['upstream_status']) for o in reqs][:3]}")


def main():
    global TEST
    TEST, out, norm, backend_log, client_mask, client_big = sys.argv[1:7]
    gs_lines = [json.loads(l) for l in open(out) if l.strip()]
    total = [o for o in gs_lines if o.get("type") == "total"][-1]
    log = [l.split() for l in open(norm)]
    for s in sys.argv[7:]:
        check_client(total, *spec(s))
    check_sources(total, log)
    check_limit(total, backend_log)
    check_masked(total, log, client_mask)
    check_cutoff(gs_lines, backend_log, client_big)
    res(total.get("lost_events") == 0, "no lost events", f"lost_events {total.get('lost_events')}")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
