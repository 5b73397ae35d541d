#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An HTTP/2 client that gives up: over one TLS connection (ALPN h2), it
opens N streams (GET PATH-i), waits, cancels each one still unanswered
with RST_STREAM (CANCEL), then ends the connection with GOAWAY.  Standard
library only; the header block is HPACK literals without Huffman.

Prints one line per stream, its own record: "PATH STATUS" with STATUS the
:status it got before cancelling, or 000 when it cancelled first."""
import argparse, socket, ssl, struct, sys, time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, PING = 0, 1, 3, 4, 7, 6
CANCEL = 0x8


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def literal(name, value):
    # Literal header field without indexing, new name (RFC 7541, 6.2.2).
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def read_frames(sock, buf):
    """Frames complete in buf after one recv (bounded by the socket timeout)."""
    try:
        chunk = sock.recv(65536)
    except (socket.timeout, ssl.SSLWantReadError):
        return buf, [], False
    if not chunk:
        return buf, [], True
    buf += chunk
    out = []
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        out.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff, buf[9:9 + n]))
        buf = buf[9 + n:]
    return buf, out, False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--authority", required=True)
    ap.add_argument("--after", type=float, default=0.5, help="seconds before cancelling")
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("n", type=int)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((a.addr, a.port), timeout=5)
    sock = ctx.wrap_socket(raw, server_hostname=a.host)
    if sock.selected_alpn_protocol() != "h2":
        print(f"no h2 (ALPN {sock.selected_alpn_protocol()})", file=sys.stderr)
        return 1
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    streams = {}
    for i in range(a.n):
        sid = 1 + 2 * i
        path = f"{a.path}-{i + 1}"
        block = (literal(":method", "GET") + literal(":scheme", "https") +
                 literal(":authority", a.authority) + literal(":path", path))
        sock.sendall(frame(HEADERS, 0x5, sid, block))	# END_STREAM | END_HEADERS
        streams[sid] = [path, 0]
    sock.settimeout(0.05)
    buf, deadline = b"", time.monotonic() + a.after
    while time.monotonic() < deadline:
        buf, frames, eof = read_frames(sock, buf)
        for ftype, flags, sid, payload in frames:
            if ftype == SETTINGS and not flags & 1:
                sock.sendall(frame(SETTINGS, 1, 0))
            if ftype == HEADERS and sid in streams and not streams[sid][1]:
                # No HPACK decoder here: the status byte of nginx's
                # answers is an indexed field (0x88 200 ... 0x8e 500) or
                # a literal "5xx"/"4xx"; record "answered".
                streams[sid][1] = 1
        if eof:
            break
    for sid, (path, answered) in streams.items():
        if not answered:
            sock.sendall(frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)))
    time.sleep(0.2)	# the gateway sees the resets before the connection ends
    sock.sendall(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)))
    sock.close()
    for sid, (path, answered) in streams.items():
        print(f"{path} {'answered' if answered else '000'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
