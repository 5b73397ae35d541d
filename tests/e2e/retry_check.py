#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks of test_retries.sh: gatescope's JSON against the clients' own
logs, nginx's access log and the backend's log.

retry_check.py TEST GS_JSON ACCESS_NORM BACKEND_LOG CLIENT_MASK CLIENT_BIG METRICS SPEC...
  SPEC: POLICY:LOCATION:ADDRESS:CLIENT_LOG (the address may hold colons)
"""
import json
import sys

VERDICT = {"storm": "retry storm", "fixed": "no backoff", "expo": "backoff ok",
           "sync": "no jitter", "honour": "backoff ok"}
# A client that retries with fixed delays on the route whose backend asks
# for Retry-After ignores it.
VERDICT_RA = {"fixed": "ignores Retry-After", "storm": "ignores Retry-After",
              "honour": "backoff ok"}
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
        check_lockstep(name, c, addr, loc, log, SPECS)


LOCKSTEP_S = 0.010	# gatescope's window (RETRY_LOCKSTEP_NS)


def retry_times(log):
    return [r["t"] for r in client_record(log)[0] if r["retry"]]


def check_lockstep(name, c, addr, loc, log, specs):
    """The clients' own send times say which of this client's retries came
    within 10 ms of retries of two other clients on the route; gatescope
    sees them arrive at the gateway, a few ms of scheduling apart: within
    a quarter (and 2) of that count."""
    others = [retry_times(l) for _, lc, a, l in specs if lc == loc and a != addr]
    mine = retry_times(log)
    want = sum(1 for t in mine
               if sum(1 for o in others if any(abs(t - u) <= LOCKSTEP_S for u in o)) >= 2)
    got = c["lockstep_retries"]
    res(want >= 3, f"{name}: the clients' own times show retries in step ({want} of {len(mine)})",
        f"only {want} of {len(mine)}: the test's clients did not keep step")
    res(abs(got - want) <= max(2, 0.25 * want),
        f"{name}: retries in lockstep as the clients' times show ({got}, clients {want})",
        f"gatescope {got}, clients' times {want}")


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
    # The backend lets 4 through per second of its own clock; gatescope
    # counts successes over whole seconds of its clock, so N counted
    # seconds may hold one window edge more or less: an error of up to
    # 4/N beside the 10 % (N from the backend's log: its seconds with a 429).
    throttled = {int(float(f[2])) for f in (l.split() for l in open(backend_log))
                 if len(f) > 2 and f[0].startswith("/ra/") and f[1] == "429"}
    tol = max(0.1 * BACKEND_LIMIT_RPS, BACKEND_LIMIT_RPS / max(len(throttled), 1))
    res(lim is not None and abs(lim - BACKEND_LIMIT_RPS) <= tol + 1e-9,
        f"/ra/: apparent limit within {tol:.2f}/s of the backend's {BACKEND_LIMIT_RPS}/s "
        f"(10 %, or one of its 1 s windows over its {len(throttled)} throttled seconds) ({lim})",
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


def metric(scrape, name, **labels):
    """The value of one sample of the scrape, None if absent."""
    for line in scrape:
        if not line.startswith(name + "{"):
            continue
        lab = dict(kv.split("=", 1) for kv in line[len(name) + 1:line.rindex("}")].split('",'))
        lab = {k: v.strip('"') for k, v in lab.items()}
        if all(lab.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def check_metrics(scrape, total, log, specs):
    """The scrape, taken after the traffic, against the gateway's and the
    clients' own records."""
    route = {loc: route_of(total, loc)["route"] for loc in ("/lim/", "/ra/", "/mask/")}
    want = sum(1 for l in log if l[1].startswith("/lim/") and l[2] == "429" and l[3] == "-")
    got = metric(scrape, "gatescope_throttled_total", route=route["/lim/"], source="gateway")
    res(got == want, f"gatescope_throttled_total /lim/ source=gateway as nginx logged ({got})",
        f"scrape {got}, nginx {want}")
    want = sum(1 for l in log if l[1].startswith("/ra/") and l[2] == "429" and l[3] == "429")
    got = metric(scrape, "gatescope_throttled_total", route=route["/ra/"], source="backend")
    res(got == want, f"gatescope_throttled_total /ra/ source=backend as nginx logged ({got})",
        f"scrape {got}, nginx {want}")
    want = sum(len(client_record(log_)[1]) for _, loc, _, log_ in specs if loc == "/lim/")
    got = metric(scrape, "gatescope_client_retries_total", route=route["/lim/"])
    res(got == want, f"gatescope_client_retries_total /lim/ as the clients counted ({got})",
        f"scrape {got}, clients {want}")
    want = sum(1 for l in log if l[1].startswith("/mask/") and l[2] == "200" and l[3] == "429")
    got = metric(scrape, "gatescope_masked_failures_total", route=route["/mask/"],
                 upstream_status="429", downstream_status="200")
    res(got == want, f"gatescope_masked_failures_total /mask/ 429->200 as nginx logged ({got})",
        f"scrape {got}, nginx {want}")


def main():
    global TEST
    TEST, out, norm, backend_log, client_mask, client_big, metrics = sys.argv[1:8]
    gs_lines = [json.loads(l) for l in open(out) if l.strip()]
    total = [o for o in gs_lines if o.get("type") == "total"][-1]
    log = [l.split() for l in open(norm)]
    global SPECS
    specs = SPECS = [spec(s) for s in sys.argv[8:]]
    for s in specs:
        check_client(total, *s)
    check_metrics(open(metrics).read().splitlines(), total, log, specs)
    check_sources(total, log)
    check_limit(total, backend_log)
    check_masked(total, log, client_mask)
    check_cutoff(gs_lines, backend_log, client_big)
    res(total.get("lost_events") == 0, "no lost events", f"lost_events {total.get('lost_events')}")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
