#!/usr/bin/env python3
"""gs-pyproxy: a small asyncio reverse proxy (Python standard library only),
one of the gateways of gatescope's end-to-end tests.  One thread runs every
connection on one event loop: the transports read and write whenever the
loop gets to them, in the order the selector says, so it joins requests to
attempts differently from nginx's workers, HAProxy's streams and Go's
goroutines.

    gs-pyproxy [OPTIONS] -listen HOST:PORT[,HOST:PORT...] ROUTE...

The command line and the access log are gs-goproxy's, so the tests read both
proxies alike.  ROUTE is PREFIX=BACKEND[,BACKEND...][;KEY=VALUE...]:
requests whose path is PREFIX or under it go to the backends (host:port,
[v6]:port) in round robin.  Keys: connect=DURATION (connect timeout),
read=DURATION (response head timeout), rewrite=PATH (the prefix is replaced
by PATH), retries=N (a failed connect is tried again on the next backend,
N times at most; default 0), block=DURATION (once the request is written upstream, the handler
makes a blocking call of that long, as a synchronous library call in a
coroutine does: the whole event loop stops, every connection waits).
Other paths get 404.

An upstream failure is answered 504 when it was a timeout (connect,
response head), 502 otherwise (refused, reset, closed, malformed).  A GET
or HEAD whose pooled upstream connection turns out closed before any byte
of the answer is tried again (the next pooled connection, else a new one);
ATTEMPTS counts every try.  A client that goes away while the proxy waits
for the answer ends the request, nothing is written: "client closed", 499
(nginx's number for it).  A
response body cut short after its head went out aborts the client's
connection: "aborted: ...".  One access-log line per request:

    METHOD PATH STATUS UPSTREAM_STATUS BACKEND ATTEMPTS CONNECT_S HEADER_S DURATION_S ERROR...

With -tls-cert and -tls-key it speaks TLS to its clients, with
-upstream-tls to its backends (no verification), both through Python's ssl
module on OpenSSL's memory BIOs (asyncio's SSL protocol): the process's
socket I/O happens outside the library's SSL_read and SSL_write calls.

Prints "ready" on stdout once listening; exits after -max-seconds.
"""
import argparse
import asyncio
import re
import ssl
import sys
import time

HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}
REASONS = {404: "Not Found", 502: "Bad Gateway", 504: "Gateway Timeout"}


def duration(text):
    """A Go-style duration ("1s", "500ms", "2.5s") in seconds."""
    m = re.fullmatch(r"([0-9.]+)(ms|s|m)", text)
    if not m:
        raise ValueError(f"bad duration {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(2)]


def split_hostport(hp):
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


class Route:
    def __init__(self, spec, opts):
        head, *keys = spec.split(";")
        prefix, eq, backends = head.partition("=")
        if not eq or not prefix or not backends or "" in backends.split(","):
            raise ValueError(f"route {spec!r}: want PREFIX=BACKEND[,BACKEND...][;KEY=VALUE...]")
        self.prefix, self.backends, self.next = prefix, backends.split(","), 0
        self.connect, self.read, self.rewrite = opts.connect_timeout, opts.read_timeout, ""
        self.block, self.retries = 0.0, 0
        for kv in keys:
            k, eq, v = kv.partition("=")
            if k == "connect" and eq:
                self.connect = duration(v)
            elif k == "read" and eq:
                self.read = duration(v)
            elif k == "rewrite" and eq:
                self.rewrite = v
            elif k == "block" and eq:
                self.block = duration(v)
            elif k == "retries" and eq and v.isdigit():
                self.retries = int(v)
            else:
                raise ValueError(
                    f"route {spec!r}: {kv!r}: want connect=, read=, rewrite=, retries= or block=")

    def covers(self, path):
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")

    def pick(self):
        be = self.backends[self.next % len(self.backends)]
        self.next += 1
        return be

    def upstream_target(self, target):
        if not self.rewrite:
            return target
        path, q, query = target.partition("?")
        rest = path[len(self.prefix.rstrip("/")):].lstrip("/")
        return self.rewrite.rstrip("/") + "/" + rest + q + query


class Pool:
    """Idle upstream connections per backend, newest first, each with the
    time it went idle."""

    def __init__(self, size, idle):
        self.size, self.idle, self.free = size, idle, {}

    def take(self, backend):
        conns = self.free.get(backend, [])
        while conns:
            r, w, since = conns.pop()
            if time.monotonic() - since < self.idle and not r.at_eof() and not w.is_closing():
                return r, w
            w.close()
        return None

    def give(self, backend, conn):
        conns = self.free.setdefault(backend, [])
        if len(conns) < self.size:
            conns.append((*conn, time.monotonic()))
        else:
            conn[1].close()


class Head:
    """A request or response head: its first line's three parts and its
    headers as (name, value) byte strings."""

    def __init__(self, raw):
        lines = raw.split(b"\r\n")
        self.first = lines[0].split(b" ", 2)
        if len(self.first) < 2:
            raise ValueError("bad first line")
        self.headers = []
        for line in lines[1:]:
            if line:
                name, colon, value = line.partition(b":")
                if not colon:
                    raise ValueError("bad header line")
                self.headers.append((name.strip(), value.strip()))

    def get(self, name):
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def tokens(self, name):
        v = self.get(name) or b""
        return {t.strip().lower() for t in v.split(b",")}

    def framed(self, first, connection):
        """The head again with first as its first line, without hop-by-hop
        headers, with Connection: connection."""
        out = [first]
        out += [n + b": " + v for n, v in self.headers if n.lower() not in HOP]
        out.append(b"Connection: " + connection)
        return b"\r\n".join(out) + b"\r\n\r\n"


async def read_head(reader):
    raw = await reader.readuntil(b"\r\n\r\n")
    return Head(raw[:-4])


async def relay_body(head, reader, writer, response=False, status=0):
    """Copy the message body that follows head from reader to writer, as it
    is framed (Content-Length, chunked, or up to the end of a response).
    Returns whether the connection can carry another message."""
    if response and (status < 200 or status in (204, 304)):
        return True
    if b"chunked" in head.tokens(b"transfer-encoding"):
        while True:
            line = await reader.readuntil(b"\r\n")
            writer.write(line)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while True:	# trailers, up to the empty line
                    line = await reader.readuntil(b"\r\n")
                    writer.write(line)
                    if line == b"\r\n":
                        return True
            writer.write(await reader.readexactly(size + 2))
            await writer.drain()
    length = head.get(b"content-length")
    if length is not None:
        left = int(length)
        while left:
            chunk = await reader.read(min(left, 65536))
            if not chunk:
                raise ConnectionError("body cut short")
            writer.write(chunk)
            left -= len(chunk)
            await writer.drain()
        return True
    if not response:
        return True
    while chunk := await reader.read(65536):	# up to the close
        writer.write(chunk)
        await writer.drain()
    return False


async def splice(reader, writer):
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()


class Exchange:
    """What the access log says about one request."""

    def __init__(self, head):
        self.start = time.monotonic()
        self.method = head.first[0].decode("latin-1")
        self.path = head.first[1].decode("latin-1").split("?")[0]
        self.status, self.upstream, self.backend = 0, None, None
        self.attempts, self.connect_s, self.header_s, self.error = 0, None, None, None

    def line(self):
        def secs(v):
            return "-" if v is None else f"{v:.3f}"
        return (f"{self.method} {self.path} {self.status} {self.upstream or '-'} "
                f"{self.backend or '-'} {self.attempts} {secs(self.connect_s)} "
                f"{secs(self.header_s)} {time.monotonic() - self.start:.3f} "
                f"{(self.error or '-').replace(chr(10), ' ')}\n")


class ClientGone(Exception):
    """The client closed its connection while the proxy waited."""


class Proxy:
    def __init__(self, opts, routes, log):
        self.opts, self.routes, self.log = opts, routes, log
        self.pool = Pool(opts.keepalive, opts.idle_timeout)
        self.upstream_tls = None
        if opts.upstream_tls:
            self.upstream_tls = ssl.create_default_context()
            self.upstream_tls.check_hostname = False
            self.upstream_tls.verify_mode = ssl.CERT_NONE

    async def serve(self, creader, cwriter):
        try:
            while True:
                try:
                    head = await read_head(creader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except (ValueError, asyncio.LimitOverrunError):
                    await self.answer(cwriter, 400)
                    return
                ex = Exchange(head)
                try:
                    again = await self.proxy(head, creader, cwriter, ex)
                finally:
                    self.log.write(ex.line())
                    self.log.flush()
                if not again:
                    return
        finally:
            cwriter.close()

    async def answer(self, cwriter, status):
        cwriter.write(f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\n"
                      f"Content-Length: 0\r\n\r\n".encode())
        await cwriter.drain()

    async def proxy(self, head, creader, cwriter, ex):
        """One request: returns whether the client's connection goes on."""
        route = next((r for r in self.routes if r.covers(ex.path)), None)
        if route is None:
            await relay_body(head, creader, _Sink())
            ex.status = 404
            await self.answer(cwriter, 404)
            return True
        ex.backend = route.pick()
        try:
            upstream, resp = await self.exchange(head, creader, route, ex)
        except ClientGone:
            ex.status, ex.error = 499, "client closed"	# nothing was written
            return False
        except UpstreamFailed as e:
            ex.status, ex.error = (504 if e.timeout else 502), str(e)
            await self.answer(cwriter, ex.status)
            # The request's body may be unread: a new connection for the next.
            return False
        return await self.respond(head, resp, upstream, creader, cwriter, ex)

    async def exchange(self, head, creader, route, ex):
        """Send the request upstream, read the response head: a pooled
        connection first, a new one again if that one was already closed."""
        target = route.upstream_target(head.first[1].decode("latin-1")).encode("latin-1")
        upgrade = head.get(b"upgrade")
        keep = self.opts.keepalive > 0 and not upgrade
        first = b" ".join([head.first[0], target, b"HTTP/1.1"])
        out = head.framed(first, b"upgrade" if upgrade else b"keep-alive" if keep else b"close")
        if upgrade:
            out = out[:-2] + b"Upgrade: " + upgrade + b"\r\n\r\n"
        retries = route.retries
        while True:
            ex.attempts += 1
            conn = self.pool.take(ex.backend) if keep else None
            reused = conn is not None
            if reused:
                ex.connect_s = 0.0
            else:
                try:
                    conn = await self.connect(route, ex)
                except UpstreamFailed:
                    if not retries:
                        raise
                    retries -= 1
                    ex.backend = route.pick()	# the next backend
                    continue
            r, w = conn
            attempt_start = time.monotonic()
            try:
                w.write(out)
                await relay_body(head, creader, w)
                await w.drain()
                if route.block:
                    time.sleep(route.block)	# blocks the event loop: the fault
                resp = await self.response_head(r, route, creader)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                w.close()
                if reused and ex.method in ("GET", "HEAD"):
                    continue	# the pooled connection had gone
                raise UpstreamFailed(f"upstream: {e or type(e).__name__}") from e
            except (ValueError, asyncio.LimitOverrunError) as e:
                w.close()
                raise UpstreamFailed(f"malformed HTTP response: {e}") from e
            except BaseException:
                w.close()
                raise
            ex.header_s = time.monotonic() - attempt_start
            return (r, w, keep), resp

    async def connect(self, route, ex):
        host, port = split_hostport(ex.backend)
        start = time.monotonic()
        try:
            conn = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self.upstream_tls), route.connect)
        except asyncio.TimeoutError:
            raise UpstreamFailed(f"dial tcp {ex.backend}: i/o timeout", True) from None
        except OSError as e:
            raise UpstreamFailed(f"dial tcp {ex.backend}: {e.strerror or e}") from e
        ex.connect_s = time.monotonic() - start
        return conn

    async def response_head(self, r, route, creader):
        """The answer's head (at most the read timeout); ClientGone when
        the client closes first (its transport reads on its own: its end
        shows in at_eof while the proxy waits)."""
        got = asyncio.ensure_future(read_head(r))
        deadline = time.monotonic() + route.read
        try:
            while True:
                done, _ = await asyncio.wait({got}, timeout=0.05)
                if done:
                    return got.result()
                if creader.at_eof():
                    raise ClientGone()
                if time.monotonic() >= deadline:
                    raise UpstreamFailed("net/http: timeout awaiting response headers", True)
        finally:
            got.cancel()

    async def respond(self, head, resp, upstream, creader, cwriter, ex):
        r, w, keep = upstream
        ex.status = ex.upstream = int(resp.first[1])
        if ex.status == 101:
            cwriter.write(resp.framed(b" ".join(resp.first), b"upgrade")[:-2] +
                          b"Upgrade: " + (resp.get(b"upgrade") or b"") + b"\r\n\r\n")
            await cwriter.drain()
            await asyncio.gather(splice(creader, w), splice(r, cwriter), return_exceptions=True)
            return False
        cwriter.write(resp.framed(b" ".join(resp.first), b"keep-alive"))
        try:
            framed = await relay_body(resp, r, cwriter, True, ex.status)
            await cwriter.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
            ex.error = f"aborted: {e or type(e).__name__}"
            w.close()
            cwriter.transport.abort()
            return False
        if keep and framed and b"close" not in resp.tokens(b"connection"):
            self.pool.give(ex.backend, (r, w))
        else:
            w.close()
        # A body sent up to the backend's close has no end the client
        # could see but the close.
        return framed and b"close" not in head.tokens(b"connection")


class UpstreamFailed(Exception):
    def __init__(self, text, timeout=False):
        super().__init__(text)
        self.timeout = timeout


class _Sink:
    def write(self, _):
        pass

    async def drain(self):
        pass


def options(argv):
    p = argparse.ArgumentParser(prog="gs-pyproxy", description=__doc__.split("\n\n")[0])
    p.add_argument("-listen", required=True, help="HOST:PORT[,HOST:PORT...] to accept clients on")
    p.add_argument("-connect-timeout", dest="connect_timeout", type=duration, default=1.0)
    p.add_argument("-read-timeout", dest="read_timeout", type=duration, default=2.0)
    p.add_argument("-idle-timeout", dest="idle_timeout", type=duration, default=60.0)
    p.add_argument("-keepalive", type=int, default=0,
                   help="idle upstream connections kept per backend (0: one per request)")
    p.add_argument("-max-seconds", dest="max_seconds", type=int, default=60)
    p.add_argument("-access-log", dest="access_log", default="")
    p.add_argument("-tls-cert", dest="tls_cert", default="", help="TLS toward clients: certificate")
    p.add_argument("-tls-key", dest="tls_key", default="", help="TLS toward clients: its key")
    p.add_argument("-upstream-tls", dest="upstream_tls", action="store_true",
                   help="TLS toward backends (not verified)")
    p.add_argument("routes", nargs="+", metavar="ROUTE")
    return p.parse_args(argv)


async def main(argv):
    opts = options(argv)
    try:
        routes = [Route(s, opts) for s in opts.routes]
    except ValueError as e:
        print(f"gs-pyproxy: {e}", file=sys.stderr)
        return 2
    log = open(opts.access_log, "a") if opts.access_log else sys.stderr
    proxy = Proxy(opts, routes, log)
    tls = None
    if opts.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(opts.tls_cert, opts.tls_key or None)
    servers = []
    for hp in opts.listen.split(","):
        host, port = split_hostport(hp)
        servers.append(await asyncio.start_server(proxy.serve, host, port, reuse_address=True,
                                                  ssl=tls))
    print("ready", flush=True)
    await asyncio.sleep(opts.max_seconds)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except KeyboardInterrupt:
        sys.exit(0)
