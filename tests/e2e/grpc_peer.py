#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A gRPC backend and a gRPC client for the end-to-end tests (Debian's
python3-grpcio; no protoc: generic handlers, raw bytes as messages).

  grpc_peer.py serve ADDR PORT [--max-seconds S]
      service gs.test.Svc:
        Ok           unary: answers the request bytes (grpc-status 0)
        Slow, Hang, Drain   unary: sleep the milliseconds the request names, then answer
                     (Drain: prints "drain started" first)
        Unavailable  server streaming: one message, then UNAVAILABLE in the trailers
        Exhausted    server streaming: one message, then RESOURCE_EXHAUSTED in the trailers
        Deadline     unary: the backend's own dependency ran out of time:
                     DEADLINE_EXCEEDED at once (trailers-only)
        Enforce      unary: the client's deadline, propagated in grpc-timeout,
                     enforced: DEADLINE_EXCEEDED 300 ms before it runs out

  grpc_peer.py call TARGET METHOD N [--timeout S] [--arg BYTES] [--tag TAG] [--parallel]
      N calls, one after another (--parallel: all at once, N streams in
      flight), on one channel (one HTTP/2 connection);
      prints the client's own record, one line per call:
        TAG METHOD CODE SECONDS
      CODE the gRPC status name the client got (OK, DEADLINE_EXCEEDED, ...).
"""
import argparse
import sys
import threading
import time

import grpc

SVC = "gs.test.Svc"


def ok(req, ctx):
    return req


def slow(req, ctx):
    ms = int(req or b"0")
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end and ctx.is_active():
        time.sleep(0.01)
    return req


def drain(req, ctx):
    print("drain started", flush=True)	# the test waits for these
    return slow(req, ctx)


def one_then(code):
    def handler(req, ctx):
        yield b"partial"
        ctx.abort(code, f"backend says {code.name}")
    return handler


def enforce(req, ctx):
    # The propagated deadline, enforced by the backend a little before
    # the client's own timer would fire.
    time.sleep(max(ctx.time_remaining() - 0.3, 0))
    ctx.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline enforced by the backend")


def deadline(req, ctx):
    ctx.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "backend's dependency timed out")


def serve(args):
    from concurrent import futures
    raw = dict(request_deserializer=None, response_serializer=None)
    handlers = {
        "Ok": grpc.unary_unary_rpc_method_handler(ok, **raw),
        "Slow": grpc.unary_unary_rpc_method_handler(slow, **raw),
        "Hang": grpc.unary_unary_rpc_method_handler(slow, **raw),
        "Drain": grpc.unary_unary_rpc_method_handler(drain, **raw),
        "Unavailable": grpc.unary_stream_rpc_method_handler(
            one_then(grpc.StatusCode.UNAVAILABLE), **raw),
        "Exhausted": grpc.unary_stream_rpc_method_handler(
            one_then(grpc.StatusCode.RESOURCE_EXHAUSTED), **raw),
        "Deadline": grpc.unary_unary_rpc_method_handler(deadline, **raw),
        "Enforce": grpc.unary_unary_rpc_method_handler(enforce, **raw),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SVC, handlers),))
    host = f"[{args.addr}]" if ":" in args.addr else args.addr
    server.add_insecure_port(f"{host}:{args.port}")
    server.start()
    print("ready", flush=True)
    # Bounded: the tests stop it; this is the safety net.
    threading.Event().wait(args.max_seconds)
    server.stop(0)


STREAMING = {"Unavailable", "Exhausted"}


def call(args):
    with grpc.insecure_channel(args.target) as ch:
        # Connected first: a deadline then counts from the call, not from
        # the connect (grpc-timeout says what is left of it when sent).
        grpc.channel_ready_future(ch).result(timeout=10)
        path = f"/{SVC}/{args.method}"
        if args.method in STREAMING:
            rpc = ch.unary_stream(path)
        else:
            rpc = ch.unary_unary(path)
        if args.parallel:
            t0 = time.monotonic()
            futs = [rpc.future(args.arg.encode(), timeout=args.timeout) for _ in range(args.n)]
            for f in futs:
                code = "OK"
                try:
                    f.result()
                except grpc.RpcError as e:
                    code = e.code().name
                print(f"{args.tag} {args.method} {code} {time.monotonic() - t0:.3f}", flush=True)
            return
        for _ in range(args.n):
            t0 = time.monotonic()
            code = "OK"
            try:
                r = rpc(args.arg.encode(), timeout=args.timeout)
                if args.method in STREAMING:
                    list(r)
            except grpc.RpcError as e:
                code = e.code().name
            print(f"{args.tag} {args.method} {code} {time.monotonic() - t0:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--max-seconds", type=float, default=120)
    c = sub.add_parser("call")
    c.add_argument("target")
    c.add_argument("method")
    c.add_argument("n", type=int)
    c.add_argument("--timeout", type=float, default=10)
    c.add_argument("--arg", default="x")
    c.add_argument("--tag", default="-")
    c.add_argument("--parallel", action="store_true")
    args = ap.parse_args()
    serve(args) if args.cmd == "serve" else call(args)


if __name__ == "__main__":
    sys.exit(main())
