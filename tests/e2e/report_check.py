# SPDX-License-Identifier: MIT
"""Checks of gatescope's HTML incident report (--report), for the report
tests.  Each command prints PASS/FAIL lines and exits non-zero on a FAIL.

  report_check.py valid FILE
      the file parses with html5lib in strict mode (any parse error fails)
  report_check.py netlog NETLOG WANT
      requests the page itself made, from chromium's --log-net-log file
      (the browser's own background requests, which carry no page origin,
      are not the page's): WANT "none" or "some" (the negative control)
  report_check.py dom DOM JSONLINES [--clients FILE --routes SPEC]
      the DOM chromium rendered (--dump-dom), against gatescope's JSON
      lines of the same recording (-e all) and, with --clients, against
      the clients' own record
  report_check.py ladder DOM LISTENER BACKEND KIND SECONDS STATE
      the ladder row (LISTENER, BACKEND) has a KIND rung (patience,
      connect, read) within 0.1 s of SECONDS whose highlight is STATE
      (tight, inverted, none)
  report_check.py retries DOM MASKED_ROUTE N THROTTLED_ROUTE THROTTLED RETRIES
      the retries section: N masked failures (429 answered 200) on the
      route starting MASKED_ROUTE; on THROTTLED_ROUTE, THROTTLED answers
      throttled by the backend and RETRIES client retries
  report_check.py hostile DOM TEXT
      TEXT (a request path full of markup) shows as text in a failed
      request's row, and nothing in it became an element or a handler
"""
import collections
import json
import math
import sys

import html5lib

fails = 0


def ok(name, cond, why=""):
    global fails
    if cond:
        print(f"PASS {name}")
    else:
        fails += 1
        print(f"FAIL {name}: {why}")


def parse(path):
    with open(path, "rb") as f:
        return html5lib.parse(f.read(), namespaceHTMLElements=False)


def cmd_valid(path):
    p = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        with open(path, "rb") as f:
            p.parse(f.read())
        ok(f"report valid HTML ({path.rsplit('/', 1)[-1]})", True)
    except Exception as e:  # html5lib raises ParseError at the first error
        ok(f"report valid HTML ({path.rsplit('/', 1)[-1]})", False, f"{e} {p.errors[:3]}")


def page_requests(netlog):
    with open(netlog) as f:
        text = f.read()
    # chromium leaves the closing brackets off when it is killed; the
    # events written so far are all there.
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for e in log.get("events", []):
        p = e.get("params") or {}
        if e.get("type") != start or "url" not in p:
            continue
        # The browser's own requests (update checks) have no page origin.
        if p.get("initiator") == "not an origin" and p.get("network_isolation_key", "").startswith("null"):
            continue
        urls.append(p["url"])
    return urls


def cmd_netlog(netlog, want):
    urls = page_requests(netlog)
    if want == "none":
        ok("the page made no network request", not urls, f"it fetched {urls[:5]}")
    else:
        ok(f"a page that fetches is caught ({len(urls)} requests: {urls[:3]})", len(urls) > 0,
           "nothing seen: the detector does not work")


def records(jsonlines):
    reqs, total = [], None
    with open(jsonlines) as f:
        for line in f:
            if '"type":"request"' in line:
                reqs.append(json.loads(line))
            elif '"type":"total"' in line:
                total = json.loads(line)
    return reqs, total


def local(e):
    """The element's name without its namespace (SVG elements have one)."""
    return e.tag.rsplit("}", 1)[-1] if isinstance(e.tag, str) else ""


def elems(root, tag):
    return [e for e in root.iter() if local(e) == tag]


def by_class(root, tag, cls):
    return [e for e in elems(root, tag) if cls in (e.get("class") or "").split()]


def failed(r):
    return r["cause"] is not None


def check_timeline(root, reqs):
    svgs = [s for s in elems(root, "svg") if s.get("class") == "timeline"]
    ok("timeline drawn", svgs, "no timeline svg")
    if not svgs:
        return
    allv = svgs[0]
    t0, width = float(allv.get("data-t0")), int(allv.get("data-width-s"))
    bars = by_class(allv, "rect", "bar")
    ok(f"timeline has bars ({len(bars)})", bars, "no bar")
    got = collections.Counter()
    for b in bars:
        cls = [c for c in b.get("class").split() if c != "bar"][0]
        got[(int(float(b.get("data-t"))), cls)] += int(b.get("data-n"))
    want = collections.Counter()
    for r in reqs:
        b = int((math.floor(r["ts"]) - t0) // width)
        key = (int(t0 + b * width), r["cause"] if failed(r) else "ok")
        want[key] += 1
    ok(f"timeline: every second's answered and failed-by-cause counts equal the request "
       f"lines ({sum(want.values())} requests, {len(want)} bar segments)", got == want,
       f"differ: {sorted((set(got.items()) ^ set(want.items())))[:6]}")
    sel = [e for e in elems(root, "select") if e.get("id") == "tl-route"]
    routes = {r["route_name"] for r in reqs}
    nopt = len(list(elems(sel[0], "option"))) if sel else 0
    ok(f"timeline route selector: all routes + {min(len(routes), 20)}", nopt == 1 + min(len(routes), 20),
       f"{nopt} options for {len(routes)} routes")
    ok("one timeline per selectable route", len(svgs) == nopt, f"{len(svgs)} timelines, {nopt} options")


def check_failed(root, reqs):
    want = collections.Counter((r["cause"], r["reason"]) for r in reqs if failed(r))
    sections = [s for s in elems(root, "section") if s.get("class") == "verdict"]
    got = {}
    for s in sections:
        rows = by_class(s, "tr", "failed-row")
        got[(s.get("data-cause"), s.get("data-reason"))] = (int(s.get("data-count")), len(rows))
    for key, n in want.items():
        shown = min(n, 100)
        ok(f"failed requests {key[0]}/{key[1]}: {n} counted, {shown} rows",
           got.get(key) == (n, shown), f"report has (count, rows) {got.get(key)}")
    extra = set(got) - set(want)
    ok("no verdict the request lines do not have", not extra, f"extra {extra}")
    rows = sum(len(by_class(s, "tr", "failed-row")) for s in sections)
    print(f"# figures failed_rows={rows} failed_requests={sum(want.values())}")


def table_rows(root, tid):
    t = [e for e in elems(root, "table") if e.get("id") == tid]
    return list(t[0].find("tbody").iter("tr")) if t else []


def check_tables(root, total):
    ok(f"routes table: one row per route of the total ({len(total['routes'])})",
       len(table_rows(root, "routes-table")) == len(total["routes"]),
       f"{len(table_rows(root, 'routes-table'))} rows")
    ok(f"backends table: one row per backend of the total ({len(total['backends'])})",
       len(table_rows(root, "backends-table")) == len(total["backends"]),
       f"{len(table_rows(root, 'backends-table'))} rows")
    bad = []
    for row in table_rows(root, "routes-table"):
        name = "".join(row.find("td").itertext())
        want = [r for r in total["routes"] if r["route"] == name]
        cells = [c.get("data-v") for c in elems(row, "td")]
        if not (want and int(cells[1]) == want[0]["requests"] and int(cells[7]) == want[0]["failed"]):
            bad.append((name, cells[:8], want[:1]))
    ok("routes table: each route's requests and failed as in the total", not bad, f"{bad[:3]}")


def check_histograms(root, reqs):
    per_backend = collections.Counter(r["backend"] for r in reqs if r["backend"] and r["total_ms"] is not None)
    divs = [d for d in elems(root, "div") if d.get("class") == "backend-hist"]
    for d in divs:
        be = d.get("data-backend")
        h = {s.get("data-kind"): s for s in elems(d, "svg")}
        n = int(h["total"].get("data-count"))
        bars = sum(int(b.get("data-n")) for b in by_class(h["total"], "rect", "hbar"))
        ok(f"histogram total {be}: {per_backend[be]} requests as the request lines say",
           n == per_backend[be] and bars == n, f"count {n}, bars sum {bars}")


def check_ladder_vs_total(root, total):
    rungs = by_class(root, "line", "rung")
    for t in total["timeouts"]:
        if t["closer"] == "backend":
            continue
        kind = "patience" if t["closer"] == "client" else t["kind"]
        key = "data-listener" if t["closer"] == "client" else "data-backend"
        hits = [r for g in elems(root, "g") if g.get("class") == "ladder-row" and g.get(key) == t["peer"]
                for r in by_class(g, "line", "rung") if r.get("data-kind") == kind]
        ok(f"ladder shows the {t['closer']} {t['kind']} timeout of {t['peer']} ({t['seconds']} s)",
           hits and all(abs(float(h.get("data-s")) - t["seconds"]) < 0.0015 for h in hits),
           f"rungs {[h.get('data-s') for h in hits]}")
    print(f"# figures ladder_rungs={len(rungs)}")


def check_clients(root, clients):
    """The clients' own record: 'LOCATION STATUS PATH' per request (000:
    the client gave up)."""
    lines = [l.split(" ", 2) for l in open(clients) if l.strip()]
    svgs = [s for s in elems(root, "svg") if s.get("class") == "timeline"]
    n = sum(int(b.get("data-n")) for b in by_class(svgs[0], "rect", "bar")) if svgs else 0
    ok(f"timeline counts every request the clients sent ({len(lines)})", n == len(lines), f"bars sum {n}")
    want_failed = sum(1 for l in lines if l[1] == "000" or l[1].startswith("5"))
    rows = sum(1 for s in elems(root, "section") if s.get("class") == "verdict"
               for _ in by_class(s, "tr", "failed-row"))
    ok(f"failed-request rows equal the clients' failures ({want_failed})", rows == want_failed,
       f"{rows} rows")
    gave_up = sum(1 for l in lines if l[1] == "000")
    client = sum(int(b.get("data-n")) for b in by_class(svgs[0], "rect", "client")) if svgs else 0
    ok(f"timeline client failures equal the clients that gave up ({gave_up})", client == gave_up,
       f"{client} in the timeline")


def cmd_dom(dom, jsonlines, clients=None):
    root = parse(dom)
    reqs, total = records(jsonlines)
    ok("gatescope printed its total", total is not None, "no total line")
    if total is None:
        return
    check_timeline(root, reqs)
    check_failed(root, reqs)
    check_tables(root, total)
    check_histograms(root, reqs)
    check_ladder_vs_total(root, total)
    if clients:
        check_clients(root, clients)


def cmd_ladder(dom, listener, backend, kind, seconds, state):
    root = parse(dom)
    rows = [g for g in elems(root, "g") if g.get("class") == "ladder-row"
            and g.get("data-listener") == listener and g.get("data-backend") == backend]
    rungs = [r for g in rows for r in by_class(g, "line", "rung") if r.get("data-kind") == kind]
    got = [(float(r.get("data-s")), [c for c in r.get("class").split() if c in ("tight", "inverted")])
           for r in rungs]
    want_state = [] if state == "none" else [state]
    ok(f"ladder {listener} -> {backend}: {kind} {seconds} s, {state}",
       len(got) == 1 and abs(got[0][0] - float(seconds)) < 0.1 and got[0][1] == want_state,
       f"rungs {got}")


def cmd_hostile(dom, text):
    root = parse(dom)
    scripts = list(elems(root, "script"))
    ok("one script element, the report's own", len(scripts) == 1, f"{len(scripts)} scripts")
    handlers = [(e.tag, k) for e in root.iter() if isinstance(e.tag, str) for k in e.attrib if k.lower().startswith("on")]
    ok("no element has an event handler attribute", not handlers, f"{handlers[:5]}")
    title = root.find("head/title")
    ok("the page title is the report's", title is not None and title.text == "gatescope incident report",
       f"title {title.text if title is not None else None!r}")
    imgs = list(elems(root, "img"))
    ok("no img element", not imgs, f"{len(imgs)} img")
    shown = [c for s in elems(root, "section") if s.get("class") == "verdict"
             for tr in by_class(s, "tr", "failed-row") for c in elems(tr, "td") if text in "".join(c.itertext())]
    ok("the hostile path is shown as text in a failed request's row", shown, "not found")


def cmd_retries(dom, masked_route_prefix, masked_n, retry_route_prefix, throttled_n, retries_n):
    """The retries section against the test's own clients: every request of
    the masked route was a backend 429 answered 200 by nginx's config;
    one client asked the throttled path again after each 429."""
    root = parse(dom)
    t = [e for e in elems(root, "table") if e.get("id") == "masked-table"]
    rows = [tr for tr in (elems(t[0], "tr") if t else []) if tr.get("class") == "masked"]
    got = sum(int(elems(tr, "td")[3].get("data-v")) for tr in rows
              if "".join(elems(tr, "td")[0].itertext()).split(" ", 1)[-1].startswith(masked_route_prefix)
              and elems(tr, "td")[1].get("data-v") == "429" and elems(tr, "td")[2].get("data-v") == "200")
    ok(f"masked failures: {masked_n} backend 429s answered 200 on {masked_route_prefix}",
       got == int(masked_n), f"report shows {got}")
    t = [e for e in elems(root, "table") if e.get("id") == "retries-table"]
    rows = [tr for tr in (elems(t[0], "tr") if t else []) if tr.get("class") == "retry-route"]
    hit = [[c.get("data-v") for c in elems(tr, "td")] for tr in rows
           if "".join(elems(tr, "td")[0].itertext()).split(" ", 1)[-1].startswith(retry_route_prefix)]
    ok(f"throttling on {retry_route_prefix}: {throttled_n} throttled by the backend, {retries_n} client retries",
       len(hit) == 1 and int(hit[0][2]) == int(throttled_n) and int(hit[0][6]) == int(retries_n),
       f"rows {hit}")
    t = [e for e in elems(root, "table") if e.get("id") == "clients-table"]
    clients = [tr for tr in (elems(t[0], "tr") if t else []) if tr.get("class") == "retry-client"]
    ok(f"throttled clients listed with a verdict ({len(clients)})",
       clients and all(tr.get("data-verdict") for tr in clients), "none")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "valid":
        cmd_valid(*args)
    elif cmd == "netlog":
        cmd_netlog(*args)
    elif cmd == "dom":
        clients = args[args.index("--clients") + 1] if "--clients" in args else None
        cmd_dom(args[0], args[1], clients)
    elif cmd == "ladder":
        cmd_ladder(*args)
    elif cmd == "hostile":
        cmd_hostile(*args)
    elif cmd == "retries":
        cmd_retries(*args)
    else:
        sys.exit(f"unknown command {cmd}")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
