#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Clients with known retry behaviour, and a throttling backend, for
test_retries.sh.  Every run is bounded in time.

  retry_clients.py client POLICY SRC GW PORT PATH SECONDS LOG
      one client from source address SRC, sending GETs for PATH to GW:PORT
      (Host gw.test) for SECONDS, retrying throttled or failed answers as
      POLICY says; one JSON line per request to LOG: its status, whether it
      follows a throttled or failed answer, and the delay since that answer
      as the client itself measured it (end of reading the answer to the
      start of sending the next request).  The clients start together: each
      says it is ready (LOG.ready) and waits for a file "go" next to LOG.
  retry_clients.py backend ADDR PORT LIMIT SECONDS LOG
      HTTP/1.1 backend: /ra/... lets LIMIT requests through per wall-clock
      second (200) and answers the rest 429 with Retry-After: 1; /big/...
      answers 200 with a 6000-byte header (more than a gateway's 4 KiB
      header buffer).  One "PATH STATUS" line per answer to LOG.

Policies:
  storm      up to 4 immediate retries, then a 400 ms pause and a new request
  fixed      retry after a fixed 600 ms until it gets through; 50 ms between
             requests
  expo       exponential backoff 50 ms x2 with +-30 % jitter (cap 800 ms)
  sync       exponential backoff 100 ms x2 without jitter; every 1.6 s of wall
             clock a request, and 150 ms later another that starts the
             retries; SRC and LOG are comma-separated lists: one process
             runs these clients in step (their requests leave together)
  honour     wait what Retry-After asks plus 0-200 ms (else 200 ms)
"""
import json
import os
import random
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def failed(status):
    return status is None or status == 429 or status >= 500


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Client:
    """HTTP/1.1 over one keep-alive connection from its own address.  The
    delay it logs runs from the moment its kernel received the last bytes
    of the answer (SO_TIMESTAMPNS) to the moment it sends the next request:
    its own scheduling lag on a busy machine is part of how long it
    waited."""

    def __init__(self, src, gw, port, path, log):
        self.src, self.gw, self.port, self.path = src, gw, port, path
        self.log = log
        self.sock = None
        self.buf = b""
        self.last_answer = None		# CLOCK_REALTIME the answer arrived
        self.last_failed = False
        self.retry_after = None
        self.t_send = self.t_rx = None

    def connect(self):
        fam = socket.AF_INET6 if ":" in self.gw else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(5)
        self.sock.bind((self.src, 0))
        self.sock.connect((self.gw, self.port))
        self.buf = b""

    def recv(self):
        data, anc, _, _ = self.sock.recvmsg(65536, 64)
        if not data:
            raise OSError("closed")
        for level, kind, v in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, ns = struct.unpack("qq", v[:16])
                self.t_rx = sec + ns / 1e9
        self.buf += data

    def send(self):
        if self.sock is None:
            self.connect()
        self.t_send = time.time()
        self.sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: gw.test\r\n\r\n".encode())

    def answer(self):
        """Read one response; its status (None: no answer)."""
        status = None
        try:
            if self.sock is None:
                raise OSError("not connected")
            while b"\r\n\r\n" not in self.buf:
                self.recv()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            hdr = {k.strip().lower(): v.strip() for k, _, v in
                   (l.partition(":") for l in lines[1:])}
            length = int(hdr.get("content-length", "0"))
            while len(self.buf) < length:
                self.recv()
            self.buf = self.buf[length:]
            status = int(lines[0].split()[1])
            ra = hdr.get("retry-after")
            self.retry_after = int(ra) if ra and ra.isdigit() else None
        except (OSError, ValueError, IndexError):
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            self.t_rx = time.time()
        follows = self.last_failed and self.last_answer is not None
        delay = (self.t_send - self.last_answer) * 1000 if follows else None
        self.log.write(json.dumps({"status": status, "retry": follows, "delay_ms": delay,
                                   "t": round(self.t_send, 4)}) + "\n")
        self.last_answer = self.t_rx
        self.last_failed = failed(status)
        return status

    def get(self):
        try:
            self.send()
        except OSError:
            self.sock = None
        return self.answer()


def start_together(logpath):
    """Say ready (LOG.ready), then wait (at most 60 s) for the file "go"
    next to LOG: on a busy machine the clients take a while to start."""
    open(logpath + ".ready", "w").close()
    go = os.path.join(os.path.dirname(logpath), "go")
    limit = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < limit:
        time.sleep(0.01)


def run_group(srcs, gw, port, path, seconds, logpaths):
    """The sync policy for several clients at once, from one process: each
    step sends every client's request, then reads every answer, so their
    retries leave in the same instant whatever the machine's load."""
    start_together(logpaths[0])
    end = time.monotonic() + seconds
    logs = [open(l, "w") for l in logpaths]
    cs = [Client(s, gw, port, path, l) for s, l in zip(srcs, logs)]

    def step(group):
        for c in group:
            try:
                c.send()
            except OSError:
                c.sock = None
        return [c for c in group if failed(c.answer())]

    while time.monotonic() < end:
        time.sleep(1.6 - time.time() % 1.6)	# every 1.6 s of wall clock
        step(cs)
        time.sleep(0.15)
        waiting, n = step(cs), 0
        while waiting and time.monotonic() < end:
            n += 1
            time.sleep(min(0.1 * 2 ** (n - 1), 0.8))
            waiting = step(waiting)
    for l in logs:
        l.close()


def run_client(policy, src, gw, port, path, seconds, logpath):
    if policy == "sync":
        return run_group(src.split(","), gw, port, path, seconds, logpath.split(","))
    start_together(logpath)
    end = time.monotonic() + seconds
    with open(logpath, "w") as log:
        c = Client(src, gw, port, path, log)
        while time.monotonic() < end:
            n = 0
            while failed(c.get()) and time.monotonic() < end:
                n += 1
                if policy == "storm":
                    if n > 4:
                        time.sleep(0.4)
                        break
                elif policy == "fixed":
                    time.sleep(0.6)
                elif policy == "expo":
                    time.sleep(min(0.05 * 2 ** (n - 1), 0.8) * random.uniform(0.7, 1.3))
                elif policy == "honour":
                    ra = c.retry_after
                    time.sleep((ra if ra is not None else 0.2) + random.uniform(0, 0.2))
            if policy == "fixed":
                time.sleep(0.05)


class Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    limit = 1
    lock = threading.Lock()
    window = [0, 0]		# [second, requests let through in it]
    log = None

    def answer(self, status, headers=(), body=b"ok\n"):
        with self.lock:		# before writing: a gateway may close early
            self.log.write(f"{self.path} {status} {time.time():.3f}\n")
            self.log.flush()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/big/"):
            return self.answer(200, [("X-Big", "b" * 6000)])
        with self.lock:
            sec = int(time.time())
            if self.window[0] != sec:
                self.window[:] = [sec, 0]
            ok = self.window[1] < self.limit
            self.window[1] += ok
        if ok:
            return self.answer(200)
        return self.answer(429, [("Retry-After", "1")], b"Too Many Requests\n")

    def log_message(self, *args):
        pass


def run_backend(addr, port, limit, seconds, logpath):
    Backend.limit = limit
    Backend.log = open(logpath, "w")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ThreadingHTTPServer.address_family = fam
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((addr, port), Backend)
    threading.Timer(seconds, srv.shutdown).start()
    print("ready", flush=True)
    srv.serve_forever()


def main():
    if len(sys.argv) == 9 and sys.argv[1] == "client":
        _, _, policy, src, gw, port, path, seconds, log = sys.argv
        run_client(policy, src, gw, int(port), path, float(seconds), log)
    elif len(sys.argv) == 7 and sys.argv[1] == "backend":
        _, _, addr, port, limit, seconds, log = sys.argv
        run_backend(addr, int(port), int(limit), float(seconds), log)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
