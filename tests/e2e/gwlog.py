#!/usr/bin/env python3
"""Normalise a gateway's own access log to the one line format the
end-to-end checkers read (gateway_lib.sh describes it):

  METHOD URI STATUS UPSTREAM_STATUS CONNECT_S HEADER_S TOTAL_S ATTEMPTS BACKEND TERM [NOTE...]

gwlog.py KIND RAW_LOG   KIND: nginx, haproxy, go or py (the same log as go;
                        anything else: read as
                        nginx's format)

The gateway's log is the oracle: nothing here looks at gatescope's output.
"""
import re
import sys

CLIENT_GONE = 499	# nginx's code for "the client closed before the answer"


def label(host, port):
    """ip:port, [ip6]:port: the form gatescope prints."""
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def secs(v, scale=1.0):
    try:
        x = float(v)
    except ValueError:
        return "-"
    return "-" if x < 0 else f"{x / scale:.3f}"


def nginx_list(v):
    """$upstream_* values: one per attempt, ", " between attempts of one
    upstream group and " : " between groups (internal redirects)."""
    return [x for x in re.split(r", | : ", v.strip()) if x and x != "-"]


def nginx(line):
    term = "-"
    if "|" in line:
        f = line.rstrip("\n").split("|")
        if len(f) != 10:
            return None
        method, uri, status, ups, conn, head, total, addrs, sent, length = f
        uri = uri.split("?", 1)[0]	# $request_uri: the client's, not rewritten
        attempts = str(len(nginx_list(addrs)))
        addr = nginx_list(addrs)[-1] if nginx_list(addrs) else "-"
        # The head went out with a Content-Length the body never reached:
        # the upstream's answer was cut short (nginx closes the client
        # connection; the status stays the upstream's).
        if sent.isdigit() and length.isdigit() and int(sent) < int(length):
            term = "SD"
    else:
        # The older seven fields, space separated (gs-stallproxy writes
        # them): no upstream address, so no attempt count.
        f = line.split()
        if len(f) != 7:
            return None
        method, uri, status, ups, conn, head, total = f
        attempts, addr = "-", "-"
    last = lambda v: (nginx_list(v) or ["-"])[-1]
    return [method, uri, status, last(ups), secs(last(conn)), secs(last(head)), secs(total),
            attempts, addr, term]


# What HAProxy itself logs on a soft stop, next to the request lines.
HAPROXY_NOTICE = re.compile(r"^(Proxy|Stopping|Pausing) \S+ ")


def haproxy(line):
    # %HM|%HU|%ST|%tsc|%rc|%b/%s|%si:%sp|%Tw|%Tc|%Tr|%Ta
    if HAPROXY_NOTICE.match(line):
        return []
    f = line.rstrip("\n").split("|")
    if len(f) != 11:
        return None
    method, uri, status, term, rc, srv, sisp, _tw, tc, tr, ta = f
    uri = uri.split("?", 1)[0]
    # The client closed before the response head (C in the request,
    # queue, connect or header phase): as nginx's 499.  Without
    # "option abortonclose" HAProxy waits for the server anyway and logs
    # the status it then wrote into the dead connection (e.g. sH 504):
    # the checkers learn that case from the client's side.
    if (term[:1] == "C" and term[1:2] in "RQCH") or status == "-1":
        status = str(CLIENT_GONE)
    # %rc counts retries ("+N" when the last one was redispatched); a
    # request HAProxy answered itself (<NOSRV>) made no attempt.
    attempts = "0" if srv.endswith("/<NOSRV>") else str(int(rc.lstrip("+")) + 1)
    host, _, port = sisp.rpartition(":")
    backend = label(host, port) if host not in ("", "-") else "-"
    # %Tr >= 0: the server's response head arrived; %ST is then its
    # status (HAProxy passes it on).
    ups, head = "-", "-"
    try:
        c, r = int(tc), int(tr)
        if c >= 0 and r >= 0:
            head, ups = secs(c + r, 1000), status
    except ValueError:
        pass
    return [method, uri, status, ups, secs(tc, 1000), head, secs(ta, 1000), attempts, backend, term]


def go(line):
    # METHOD PATH STATUS UPSTREAM_STATUS BACKEND ATTEMPTS CONNECT_S HEADER_S DURATION_S ERROR...
    f = line.split(None, 9)
    if len(f) != 10:
        return None
    method, path, status, ups, backend, attempts, conn, head, total, err = f
    err = err.strip()
    # The request's context ends when the client goes away: the proxy
    # then writes its 502 into a dead connection.
    if err == "context canceled":
        status = str(CLIENT_GONE)
    if backend != "-":
        host, _, port = backend.rpartition(":")
        backend = label(host, port)
    # ReverseProxy aborts the handler (ErrAbortHandler) when the upstream
    # body fails after the head was passed on.
    term = "SD" if err.startswith("aborted") and ups != "-" else "-"
    return [method, path, status, ups, conn, head, total, attempts, backend, term, err]


def main():
    kind, raw = sys.argv[1], sys.argv[2]
    parse = {"haproxy": haproxy, "go": go, "py": go}.get(kind, nginx)
    bad = 0
    with open(raw) as f:
        for line in f:
            if not line.strip():
                continue
            out = parse(line)
            if out is None:
                bad += 1
                print(f"gwlog: {raw}: not a {kind} log line: {line.strip()[:120]}", file=sys.stderr)
                continue
            if out:
                print(" ".join(out))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
