#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The checks of test_kernel_qemu.sh on one kernel's console (see
kernel_vm_init.sh for what ran there).  Prints PASS/FAIL lines.

    kernel_vm_check.py CONSOLE REL PLAN_PATH PLAN_DATA_READY

Oracles gatescope does not control: nginx's and the stalling proxy's
access logs (the status each request got), the TCP clients' record, and
the faults the VM injected (a backend slower than nginx's 1 s read
timeout; a proxy that sleeps 1 s before reading a response its backend
sent at once)."""
import json
import sys

console, rel, plan, plan_dr = sys.argv[1:5]
lines = open(console, errors="replace").read().splitlines()
fails = 0


def src(prefix):
    return [l[len(prefix) + 1:] for l in lines if l.startswith(prefix + " ")]


def rows(prefix):
    out = []
    for l in src(prefix):
        try:
            out.append(json.loads(l))
        except ValueError:
            pass
    return out


def check(name, ok, why=""):
    global fails
    if ok:
        print(f"PASS kernel_qemu/{name}_{rel}")
    else:
        fails += 1
        print(f"FAIL kernel_qemu/{name}_{rel}: {why}")


def said_path(err):
    """The capture path gatescope named in its 'tracing' line."""
    names = {"socket tracepoints": "tracepoint", "fentry": "fentry", "kprobes": "kprobe",
             "syscall tracepoints": "syscalls", "off": "off"}
    for l in err:
        if "HTTP capture: " in l and "tracing" in l:
            said = l.split("HTTP capture: ", 1)[1]
            for k, v in names.items():
                if said.startswith(k):
                    return v
            return said
    return None


def nginx_log(prefix):
    return [l.split("|") for l in src(prefix) if l.count("|") >= 3]


def requests(out, comm):
    return [r for r in out if r.get("type") == "request" and r.get("comm") == comm]


def statuses_agree(name, gs, log):
    want = sorted(int(f[2]) for f in log)
    got = sorted(r.get("status") or 0 for r in gs)
    check(name, len(log) > 0 and want == got,
          f"nginx logged statuses {want}, gatescope reported {got}")


def kernel_evidence(name, gs):
    """Data arrival (sk_data_ready's fact) for every answered request:
    the response's first byte reached the gateway's socket."""
    ok = [r for r in gs if r.get("status") == 200 and r.get("upstream_status") == 200]
    missing = [r.get("route") for r in ok if r.get("ttfb_kernel_ms") is None]
    check(name, ok and not missing,
          f"{len(ok)} answered requests, ttfb_kernel_ms missing on {missing}")


err, out = src("GS-ERR"), rows("GS-OUT")
said = said_path(err)
check("path", said == plan, f"gatescope said '{said}', the loader's plan for that BTF is '{plan}'")
stall_off = [l for l in err if "gateway_stall evidence" in l and "unavailable" in l]
if plan_dr != "none":
    check("stall_evidence_hook", not stall_off, f"gatescope said: {stall_off}")

# HTTP through nginx: the statuses nginx logged; the slow backend's 504.
ngx = nginx_log("GS-NGX")
gs_ngx = requests(out, "nginx")
statuses_agree("nginx_statuses", gs_ngx, ngx)
slow_logged = [f for f in ngx if f[1].startswith("/slow/")]
slow = [r for r in gs_ngx if (r.get("route") or "").startswith("/slow")]
check("attr_backend_slow",
      len(slow_logged) == 1 and slow_logged[0][2] == "504" and len(slow) == 1
      and (slow[0].get("status"), slow[0].get("cause"), slow[0].get("reason")) == (504, "backend", "backend_slow"),
      f"nginx logged {slow_logged}; gatescope: "
      + str([(r.get("status"), r.get("cause"), r.get("reason"), r.get("evidence")) for r in slow]))
kernel_evidence("nginx_ttfb_kernel", gs_ngx)

# The stalled gateway: its 504 is its own fault, seen only with the
# data-arrival fact.
if plan_dr != "none":
    stl = [l.split() for l in src("GS-STL")]
    stl_stall = [f for f in stl if len(f) > 2 and f[1].startswith("/stall")]
    st = [r for r in requests(out, "gs-stallproxy") if (r.get("route") or "").startswith("/stall")]
    check("attr_gateway_stall",
          len(stl_stall) == 1 and stl_stall[0][2] == "504" and len(st) == 1
          and (st[0].get("status"), st[0].get("cause"), st[0].get("reason")) == (504, "gateway", "gateway_stall"),
          f"proxy logged {stl_stall}; gatescope: "
          + str([(r.get("status"), r.get("cause"), r.get("reason"), r.get("evidence")) for r in st]))

# The kprobe run, when the kernel has kprobes.
if any(l.startswith("GS-KRC") for l in lines):
    kerr, kout = src("GS-KERR"), rows("GS-KOUT")
    check("kprobe_loads", "GS-KRC 0" in lines and said_path(kerr) == "kprobe",
          f"{[l for l in lines if l.startswith('GS-KRC')]} {kerr[-3:]}")
    kngx = requests(kout, "nginx")
    statuses_agree("kprobe_nginx_statuses", kngx, nginx_log("GS-KNGX"))
    kernel_evidence("kprobe_ttfb_kernel", kngx)
sys.exit(1 if fails else 0)
