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
             retries (clients in step: they all do it at the same instants)
  honour     wait what Retry-After asks plus 0-200 ms (else 200 ms)
"""
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def failed(status):
    return status is None or status == 429 or status >= 500


class Client:
    def __init__(self, src, gw, port, path, log):
        self.src, self.gw, self.port, self.path = src, gw, port, path
        self.log = log
        self.conn = None
        self.last_answer = None		# monotonic time the last answer was read
        self.last_failed = False
        self.retry_after = None

    def get(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.gw, self.port, timeout=5,
                                                   source_address=(self.src, 0))
        t_send, t_wall = time.monotonic(), time.time()
        status = None
        try:
            self.conn.request("GET", self.path, headers={"Host": "gw.test"})
            r = self.conn.getresponse()
            r.read()
            status = r.status
            ra = r.getheader("Retry-After")
            self.retry_after = int(ra) if ra and ra.isdigit() else None
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
        follows = self.last_failed and self.last_answer is not None
        delay = (t_send - self.last_answer) * 1000 if follows else None
        self.log.write(json.dumps({"status": status, "retry": follows, "delay_ms": delay,
                                   "t": round(t_wall, 4)}) + "\n")
        self.last_answer = time.monotonic()
        self.last_failed = failed(status)
        return status


def start_together(logpath):
    """Say ready (LOG.ready), then wait (at most 60 s) for the file "go"
    next to LOG: on a busy machine the clients take a while to start."""
    open(logpath + ".ready", "w").close()
    go = os.path.join(os.path.dirname(logpath), "go")
    limit = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < limit:
        time.sleep(0.01)


def run_client(policy, src, gw, port, path, seconds, logpath):
    start_together(logpath)
    end = time.monotonic() + seconds
    with open(logpath, "w") as log:
        c = Client(src, gw, port, path, log)
        while time.monotonic() < end:
            if policy == "sync":	# the next 1.6 s of wall clock, all together
                time.sleep(1.6 - time.time() % 1.6)
                c.get()
                time.sleep(max(0.0, 0.15 - time.time() % 1.6))
            n = 0
            while failed(c.get()) and time.monotonic() < end:
                n += 1
                if policy == "storm":
                    if n > 4:
                        time.sleep(0.4)
                        break
                elif policy == "fixed":
                    time.sleep(0.6)
                elif policy in ("expo", "sync"):
                    d = min((0.05 if policy == "expo" else 0.1) * 2 ** (n - 1), 0.8)
                    if policy == "expo":
                        d *= random.uniform(0.7, 1.3)
                    time.sleep(d)
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
            self.log.write(f"{self.path} {status}\n")
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
