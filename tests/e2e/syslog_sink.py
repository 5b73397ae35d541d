#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""syslog_sink.py PORT OUT: receive a gateway's log messages over UDP on
127.0.0.1:PORT and write each one, as one line, to OUT (made anew);
OUT.ready is created once the socket is bound.  On SIGTERM, what is still
queued is read, then it exits.

HAProxy's test log goes through here rather than to its stdout: its threads
share a stdout logger under a lock they do not wait for, and a message
whose thread finds the lock taken is dropped (HAProxy issue 1861, "works
as designed").  A UDP message on loopback is only lost when the socket's
queue is full, and the queue here is far larger than a test's log."""
import signal
import socket
import sys

SO_RCVBUFFORCE = 33  # root may exceed net.core.rmem_max


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.1)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "wb", buffering=0) as f:
        open(out + ".ready", "w").close()
        while True:
            try:
                msg = s.recv(65536)
            except socket.timeout:
                if stop:
                    return  # the queue is empty and we were told to end
                continue
            f.write(msg.rstrip(b"\n") + b"\n")


if __name__ == "__main__":
    main()
