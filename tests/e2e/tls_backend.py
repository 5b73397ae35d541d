#!/usr/bin/env python3
"""An HTTPS/1.1 backend for the TLS end-to-end tests.

tls_backend.py --cert C --key K [--max-seconds N] [--log FILE] ADDR PORT

Listens on ADDR PORT (":: " takes IPv4 too), one thread per connection, the
TLS handshake in that thread.  What a request gets depends on the first
segment of its path:

  /slow...    never answers (a backend stuck in its work) until the client
              goes away or --max-seconds
  /reset...   read the request, then close with SO_LINGER {1,0} (RST)
  anything    200 with a small body and Content-Length; keep-alive

--log FILE gets one line per request: "PATH CLIENT_PORT" (the gateway's
local port of the upstream connection), an oracle for which connection
carried which request.  Prints "ready" once listening; exits after
--max-seconds (default 60)."""
import argparse, http.server, socket, socketserver, ssl, struct, sys, threading, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--log")
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    log = open(a.log, "a", buffering=1) if a.log else None
    lock = threading.Lock()
    deadline = time.monotonic() + a.max_seconds

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if log:
                with lock:
                    log.write(f"{self.path} {self.client_address[1]}\n")
            if self.path.startswith("/slow"):
                self.hang()
            elif self.path.startswith("/reset"):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
            else:
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def hang(self):
            """Wait without answering until the peer closes or time is up."""
            raw = self.connection
            raw.settimeout(0.2)
            while time.monotonic() < deadline:
                try:
                    if not raw.recv(1):
                        break
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                except OSError:
                    break
            self.close_connection = True

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
        daemon_threads = True

        def server_bind(self):
            if self.address_family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            # Not HTTPServer's: it looks its own name up in the DNS, which
            # has nothing to answer inside a test namespace.
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = a.addr, a.port

        def finish_request(self, request, client_address):
            # The handshake in the connection's own thread: a slow client
            # does not hold up the others.
            request.settimeout(max(1.0, deadline - time.monotonic()))
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            self.RequestHandlerClass(request, client_address, self)

    srv = Server((a.addr, a.port), Handler)
    threading.Timer(a.max_seconds, srv.shutdown).start()
    print("ready", flush=True)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    sys.exit(main())
