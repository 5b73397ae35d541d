"""Checks for the scenario tests (scenario_lib.sh's scn_check).

The oracles decide: the client's own record (what each client sent and got)
and the gateway's own log (normalised by scenario_lib.sh: status, upstream
statuses and addresses, the gateway's error messages), joined per request
by the client's port.  gatescope's request events are then checked against
them; gatescope's own output never decides what failed or why.

    recs = run.records("/mixed")        client requests under a prefix, each
                                        with .gw (log line) and .gs (events)
    run.check_seen(recs)                one log line and one request event
                                        each, statuses and routes agree
    run.expect(recs, pred, name)        pred(event, rec) holds for each
    run.figures(failed, pred)           the figures line
"""
import collections
import json
import re
import sys
import urllib.parse

JOIN_KINDS = {"id", "content", "order", "time", "ambiguous", "none"}


def port_of(addr):
    try:
        return int(addr.rsplit(":", 1)[1])
    except (AttributeError, IndexError, ValueError):
        return None


def template(path):
    """The route gatescope prints for a path (README: ids folded): all-digit
    segments, UUIDs and long hex strings become {id}."""
    def seg(s):
        if s.isdigit() or re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", s) \
                or (len(s) >= 16 and re.fullmatch(r"[0-9a-fA-F]+", s)):
            return "{id}"
        return s
    return "/".join(seg(s) if s else s for s in path.split("/"))


def verdict(e):
    return f"{e.get('cause')}/{e.get('reason')}"


class Rec:
    """One client request, with what the gateway logged and what gatescope
    reported for the same client connection."""

    def __init__(self, client, gw, gs):
        self.client = client
        self.path = urllib.parse.urlsplit(client["url"]).path if "://" in client["url"] \
            else client["url"].split("?")[0]
        self.gw = gw
        self.gs = gs

    @property
    def ev(self):
        return self.gs[0] if len(self.gs) == 1 else None

    def __repr__(self):
        return f"{self.path} client {self.client.get('status')} port {self.client.get('port')}"


class Run:
    def __init__(self, test, kind, scenario, out, gwlog, client):
        self.test, self.kind, self.scenario = test, kind, scenario
        self.fails = 0
        self.figured = False
        objs = []
        for line in open(out):
            try:
                objs.append(json.loads(line))
            except ValueError:
                pass
        self.reqs = [o for o in objs if o.get("type") == "request"]
        totals = [o for o in objs if o.get("type") == "total"]
        self.total = totals[-1] if totals else {}
        self.gw = [json.loads(l) for l in open(gwlog) if l.strip()]
        self.client = [json.loads(l) for l in open(client) if l.strip()]
        for c in self.client:
            c["status"] = int(c["status"])	# curl's "000": no answer
            if "local_port" in c:		# gs-pieces
                c["port"] = c.pop("local_port")
                c["url"] = c.pop("path")
        self.gw_by_port = collections.defaultdict(list)
        for g in self.gw:
            self.gw_by_port[g["port"]].append(g)
        self.gw_ports = all(g["port"] is not None for g in self.gw)
        if not self.gw_ports:
            print(f"# {kind}'s log has no client port: its lines are tied to the clients' by path")
        self.gs_by_port = collections.defaultdict(list)
        for e in self.reqs:
            self.gs_by_port[port_of(e.get("client"))].append(e)
        ports = collections.Counter(c["port"] for c in self.client)
        dup = [p for p, n in ports.items() if n > 1]
        # Ports are the join key: a reused port would make the oracle
        # itself ambiguous.
        self.res(not dup, "every client request has a port of its own", f"reused: {dup[:5]}")
        self.res(self.client and 0 not in ports, "every client connected",
                 f"{ports.get(0, 0)} of {len(self.client)} have no local port")

    def res(self, ok, name, why=""):
        if ok:
            print(f"PASS {self.test}: {name}")
        else:
            self.fails += 1
            print(f"FAIL {self.test}: {name}: {why}")
        return ok

    @staticmethod
    def under(path, prefix):
        return path == prefix or path.startswith(prefix.rstrip("/") + "/")

    def records(self, prefix):
        recs = []
        for c in self.client:
            path = urllib.parse.urlsplit(c["url"]).path if "://" in c["url"] else c["url"]
            if self.under(path, prefix):
                recs.append(Rec(c, None, self.gs_by_port.get(c["port"], [])))
        if self.gw_ports:
            for r in recs:
                gw = self.gw_by_port.get(r.client["port"], [])
                r.gw = gw[0] if len(gw) == 1 else None
            return recs
        # A log without the client's port (the Go proxy's): a path of one
        # request ties its line; lines of one path shared by several
        # requests pair with the clients' by status, so that the counts
        # per status are compared, not a per-request order nobody knows.
        lines = collections.defaultdict(list)
        for g in self.gw:
            lines[g["uri"]].append(g)
        for r in recs:
            free = lines.get(r.path, [])
            same = [g for g in free if g["status"] == r.client["status"]]
            pick = (same or free or [None])[0]
            if pick is not None:
                free.remove(pick)
            r.gw = pick
        return recs

    def check_seen(self, recs, prefix):
        """Each client request: exactly one gateway log line and one
        gatescope request event; the statuses agree (a client that gave up
        saw none: the gateway then logs 499 (nginx) or the status it wrote
        into the closed connection, and gatescope says the same, null for
        499); gatescope's route is the path's template."""
        self.res(len(recs) > 0, f"{prefix}: the clients made requests", "none in the client record")
        nolog = [r for r in recs if r.gw is None]
        self.res(not nolog, f"{prefix}: the gateway logged every client request once ({len(recs)})",
                 f"{len(nolog)} not (exactly once) in its log: {nolog[:3]}")
        seen = [r for r in recs if r.ev]
        self.res(len(seen) == len(recs),
                 f"{prefix}: gatescope reported every client request exactly once ({len(seen)}/{len(recs)})",
                 f"{len(recs) - len(seen)} missing or doubled: "
                 f"{[(r.path, len(r.gs)) for r in recs if not r.ev][:4]}")
        bad = []
        for r in recs:
            c = r.client["status"]
            g = r.gw["status"] if r.gw else None
            if g is not None and c != g and c != 0:
                bad.append(f"{r.path}: client {c}, gateway {g}")
        self.res(not bad, f"{prefix}: the client got what the gateway logged", "; ".join(bad[:4]))
        bad = []
        for r in recs:
            e = r.ev
            if not e or not r.gw:
                continue
            want = None if r.gw["status"] == 499 else r.gw["status"]
            # A client that got no status: the gateway may have written
            # the status it logged into the dead connection (HAProxy's 504
            # after a client abort), or never sent what it logged (a Go
            # handler's buffered head, dropped when it aborts).
            if r.client["status"] == 0 and e.get("status") is None:
                want = None
            if e.get("status") != want:
                bad.append(f"{r.path}: gateway {r.gw['status']}, gatescope {e.get('status')}")
            elif e.get("route") != template(r.path):
                bad.append(f"{r.path}: route {e.get('route')}, want {template(r.path)}")
        self.res(not bad, f"{prefix}: gatescope's status and route agree with the gateway's log",
                 "; ".join(bad[:4]))
        want = collections.Counter(r.gw["status"] for r in recs if r.gw)
        got = collections.Counter(499 if e.get("status") is None else e["status"]
                                  for r in recs for e in r.gs)
        print(f"# {prefix}: client {dict(collections.Counter(r.client['status'] for r in recs))}, "
              f"gateway {dict(want)}, gatescope {dict(got)} (499: no status)")
        # The run's total, per status class (and 504s), as the gateway
        # logged them; its routes are "METHOD host/template".  Requests
        # without any status are client aborts.
        tot, exp = collections.Counter(), collections.Counter()
        for rt in self.total.get("routes", []):
            path = "/" + rt["route"].split("/", 1)[1] if "/" in rt["route"] else ""
            if self.under(path, template(prefix)):
                for k, n in rt.get("status", {}).items():
                    if n and k in ("1xx", "2xx", "3xx", "4xx", "5xx", "504"):
                        tot[k] += n
                if rt.get("client_aborts"):
                    tot["no status"] += rt["client_aborts"]
        # A client that had left got nothing, whatever the gateway wrote
        # into the dead connection afterwards (HAProxy's late 504): the
        # total counts it as a client abort, as the client's record does.
        for r in recs:
            if not r.gw:
                continue
            st = r.gw["status"]
            if st == 499 or r.client["status"] == 0:
                exp["no status"] += 1
                continue
            exp[f"{st // 100}xx"] += 1
            if st == 504:
                exp["504"] += 1
        self.res(tot == exp, f"{prefix}: the total's status counts are the gateway log's",
                 f"total {dict(tot)}, gateway log {dict(exp)}")

    def read_timeouts(self, recs, status=504):
        """The requests the gateway answered STATUS because its read timer
        fired (its own log says so).  Others with that status (a connect
        timeout when the machine is too loaded to answer a SYN in time)
        are not this scenario's fault: noted, and left out of its
        figures, as long as they stay few."""
        failed = [r for r in recs if r.gw and r.gw["status"] == status]
        timed = [r for r in failed if any(x["kind"] == "upstream_timeout" for x in r.gw["errors"])]
        other = [r for r in failed if r not in timed]
        if other:
            print(f"# {len(other)} of {len(failed)} {status}s not by a read timeout (left out): "
                  f"{[r.gw.get('error_text') or r.gw['errors'] for r in other[:3]]}")
        self.res(len(other) <= len(failed) // 10,
                 f"the gateway's read timer ended (nearly) every {status} ({len(timed)}/{len(failed)})",
                 f"{len(other)} ended otherwise")
        return timed

    def check_no_phantoms(self):
        """gatescope reports no request that no client made (bytes inside
        a tunnel, a head split across writes counted twice, ...), and lost
        no event."""
        ports = {c["port"] for c in self.client}
        extra = [e for e in self.reqs if port_of(e.get("client")) not in ports]
        self.res(not extra, "no request event without a client request",
                 f"{len(extra)}: {[(e.get('route'), e.get('status'), e.get('client')) for e in extra[:4]]}")
        self.check_no_loss()

    def expect(self, recs, pred, name):
        bad = [r for r in recs if not (r.ev and pred(r.ev, r))]
        self.res(recs and not bad, f"{name} ({len(recs) - len(bad)}/{len(recs)})",
                 f"{len(bad)} not; e.g. " + " | ".join(
                     f"{r.path} gw {r.gw and r.gw['status']}: " +
                     (json.dumps({k: r.ev.get(k) for k in ('status', 'backend', 'cause', 'reason', 'term',
                                                           'join', 'client_closed', 'evidence')})
                      if r.ev else f"{len(r.gs)} events") for r in bad[:3]))
        counts = collections.Counter(verdict(r.ev) if r.ev else f"{len(r.gs)} events" for r in recs)
        print(f"#   verdicts: {dict(counts)}")

    def check_no_loss(self):
        """Nothing lost on the way from the kernel: a failure above is then
        the join's or the verdict's, not the capture's."""
        lost = self.total.get("lost_events")
        self.res(lost == 0, "no lost events", f"lost_events {lost}")

    def check_contract(self):
        """The join-engine contract: every request event says how it was
        joined and whether the client had closed; the total counts joins."""
        bad = [e for e in self.reqs if e.get("join") not in JOIN_KINDS
               or not isinstance(e.get("client_closed"), bool)]
        self.res(self.reqs and not bad, "request events carry join and client_closed",
                 f"{len(bad)} of {len(self.reqs)} do not; e.g. join={bad[0].get('join')!r} "
                 f"client_closed={bad[0].get('client_closed')!r}" if bad else "no request events")
        # A request that did not fail has no cause, however it was joined.
        failed = lambda e: e.get("status") is None or e["status"] >= 500
        amb = [e for e in self.reqs if (e.get("join") == "ambiguous" and failed(e)) !=
               ((e.get("cause"), e.get("reason")) == ("unknown", "ambiguous_join"))]
        self.res(not amb, "a failed request joined ambiguously, and only one, is unknown/ambiguous_join",
                 f"{len(amb)}: {[(e.get('join'), e.get('status'), verdict(e)) for e in amb[:3]]}")
        joins = self.total.get("joins")
        tally = collections.Counter(e.get("join") for e in self.reqs)
        ok = isinstance(joins, dict) and all(joins.get(k, 0) == tally.get(k, 0) for k in JOIN_KINDS)
        self.res(ok, "the total's joins count the request events' joins",
                 f"total joins {joins}, request events {dict(tally)}")

    def figures(self, failed, pred):
        correct = sum(1 for r in failed if r.ev and pred(r.ev, r))
        ambiguous = sum(1 for e in self.reqs if e.get("join") == "ambiguous")
        jr = self.total.get("join_rate")
        print(f"# figures gateway={self.kind} scenario={self.scenario} failed={len(failed)} "
              f"correct={correct} ambiguous={ambiguous} join_rate={jr}")
        self.figured = True

    def done(self):
        if not self.figured:
            self.res(False, "figures", "the scenario printed no figures line")
        sys.exit(1 if self.fails else 0)
