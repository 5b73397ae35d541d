#!/bin/bash
# SPDX-License-Identifier: MIT
# What gatescope costs, as it reports it: its own CPU time, and with
# --bpf-stats the time and runs of its BPF programs, which the kernel
# charges to the traced processes.  An nginx gateway proxies N requests to
# an nginx backend in a namespace.  The oracles are the kernel's own
# accounts, read beside a /metrics scrape: gatescope's CPU time
# (/proc/PID/stat) and its programs' run counts and times (the fdinfo of
# its program descriptors).  Without --bpf-stats and with the kernel's
# statistics off, the BPF figures are null and have no sample; on replay
# the whole "self" object is null.
. "$(dirname "$0")/lib.sh"
T=self_cost
gs_require_bpf "$T"
for tool in nginx curl; do
	command -v "$tool" >/dev/null || { skip "$T" "$tool not installed"; exit 0; }
done

N=200
NS=$(gs_ns sc) || { fail "$T" "namespace"; exit 1; }
gs_nginx_as sc || { fail "$T" "copy of nginx"; exit 1; }
P_BE=28181 P_GW=28180

gs_nginx_in "$NS" "$BIN" "$GS_TMP/be" "
    access_log off;
    server { listen 127.0.0.1:$P_BE; location / { return 200 \"ok\\n\"; } }"
gs_nginx_in "$NS" "$BIN" "$GS_TMP/gw" "
    access_log off;
    upstream be { server 127.0.0.1:$P_BE; keepalive 8; }
    server { listen 127.0.0.1:$P_GW; location / {
        proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
gs_wait_listen "$NS" "$P_BE" && gs_wait_listen "$NS" "$P_GW" || { fail "$T" "nginx did not start"; exit 1; }

# N requests on one keep-alive connection; prints how many got a 200.
drive() {
	local urls=()
	for i in $(seq "$N"); do urls+=("http://127.0.0.1:$P_GW/r/$i"); done
	ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}\n' "${urls[@]}" | grep -c '^200$'
}

# A sample's value from a /metrics scrape, or "absent".
metric() {	# file name
	awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print "absent" }' "$1"
}

# The kernel's own account of the gatescope process: CPU seconds (user +
# system, /proc/PID/stat), and the run count and seconds of the BPF
# programs whose descriptors it holds (fdinfo).
kernel_account() {
	python3 - "$GS_GATESCOPE_PID" <<'PY'
import glob, os, sys
pid = sys.argv[1]
stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
runs = ns = 0
for path in glob.glob(f"/proc/{pid}/fdinfo/*"):
    try:
        info = dict(l.split(":", 1) for l in open(path) if ":" in l)
    except OSError:
        continue
    if "prog_id" in info and "run_cnt" in info:
        runs += int(info["run_cnt"])
        ns += int(info["run_time_ns"])
print(cpu, runs, ns / 1e9)
PY
}

# ---- with --bpf-stats: figures that stay within the kernel's own account
OUT=$GS_TMP/on.json
gs_start "$OUT" -c "$NAME" -i 1 --bpf-stats --metrics 127.0.0.1:0 --record "$GS_TMP/on.gsr" ||
	{ fail "$T" "gatescope did not start"; exit 1; }
URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$OUT.err" | head -1)
got=$(drive)
gs_check "$T: the client got $N answers" "$got" "$N"
sleep 2.5	# two reports after the last request (join wait 100 ms)
curl -s --max-time 2 -o "$GS_TMP/m.txt" "$URL" || fail "$T" "no /metrics answer"
read -r k_cpu k_runs k_bpf_s < <(kernel_account)
m_cpu=$(metric "$GS_TMP/m.txt" gatescope_cpu_seconds_total)
m_runs=$(metric "$GS_TMP/m.txt" gatescope_bpf_runs_total)
m_bpf_s=$(metric "$GS_TMP/m.txt" gatescope_bpf_run_seconds_total)
# What was reported at the last report is at most what the kernel counts
# a moment later (CPU time in clock ticks: 10 ms of slack); the N requests
# ran the programs at least 4 times each (a read and a write on each of
# the gateway's two connections), and took some CPU.
if python3 -c '
import sys
m_cpu, k_cpu, m_runs, k_runs, m_s, k_s, n = map(float, sys.argv[1:])
sys.exit(not (0 < m_cpu <= k_cpu + 0.01 and 4 * n <= m_runs <= k_runs and 0 < m_s <= k_s))' \
	"$m_cpu" "$k_cpu" "$m_runs" "$k_runs" "$m_bpf_s" "$k_bpf_s" "$N" 2>/dev/null; then
	pass "$T: /metrics within the kernel's account: cpu ${m_cpu}s <= ${k_cpu}s, bpf runs $m_runs in [$((4 * N)), $k_runs], bpf ${m_bpf_s}s <= ${k_bpf_s}s"
else
	fail "$T: /metrics against the kernel's account" \
		"cpu '$m_cpu' (kernel $k_cpu), runs '$m_runs' (kernel $k_runs, N $N), bpf s '$m_bpf_s' (kernel $k_bpf_s)"
fi
gs_stop
bad=$(python3 - "$OUT" "$N" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
tot = [o for o in lines if o.get("type") == "total"][-1]
s, n, bad = tot.get("self"), int(sys.argv[2]), []
if not isinstance(s, dict):
    sys.exit(print(f"total self is {s!r}"))
for k in ("cpu_pct", "cpu_s", "cpu_us_per_request", "bpf_pct", "bpf_s", "bpf_runs",
          "bpf_us_per_request"):
    if not isinstance(s.get(k), (int, float)) or s[k] < 0:
        bad.append(f"{k}={s.get(k)!r}")
if tot["joins"] and sum(tot["joins"].values()) < n:
    bad.append(f"requests {sum(tot['joins'].values())} < {n}")
if isinstance(s.get("bpf_runs"), int) and s["bpf_runs"] < 4 * n:
    bad.append(f"bpf_runs {s['bpf_runs']} < {4 * n}")
for o in lines:
    if o.get("type") == "summary" and not isinstance(o.get("self"), dict):
        bad.append(f"summary self {o.get('self')!r}")
print("; ".join(bad))
PY
)
gs_check "$T: the total's self figures are all numbers, bpf_runs >= 4 per request" "$bad" ""

# ---- without: the kernel does not time programs, nothing is made up
was=$(cat /proc/sys/kernel/bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=0
OUT=$GS_TMP/off.json
gs_start "$OUT" -c "$NAME" -i 1 --metrics 127.0.0.1:0 || { fail "$T" "gatescope did not start (off)"; exit 1; }
URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$OUT.err" | head -1)
got=$(drive)
sleep 2.5
curl -s --max-time 2 -o "$GS_TMP/m2.txt" "$URL" || fail "$T" "no /metrics answer (off)"
gs_check "$T: no BPF time sample without --bpf-stats" \
	"$(metric "$GS_TMP/m2.txt" gatescope_bpf_run_seconds_total) $(metric "$GS_TMP/m2.txt" gatescope_bpf_runs_total)" \
	"absent absent"
gs_stop
sysctl -qw kernel.bpf_stats_enabled="$was"
gs_check "$T: without --bpf-stats the BPF figures are null, the CPU figures not" \
	"$(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if "\"total\"" in l][-1]["self"]
print(s["bpf_pct"], s["bpf_s"], s["bpf_runs"], s["bpf_us_per_request"], type(s["cpu_s"]).__name__)' "$OUT")" \
	"None None None None float"

# ---- on replay, what the live run cost is not known
"$GS_BIN" --replay "$GS_TMP/on.gsr" --json >"$GS_TMP/replay.json" 2>"$GS_TMP/replay.err" ||
	fail "$T" "replay failed: $(cat "$GS_TMP/replay.err")"
gs_check "$T: replay reports self as null" \
	"$(python3 -c '
import json, sys
print({repr(json.loads(l).get("self", "absent")) for l in open(sys.argv[1]) if l.startswith("{")})' "$GS_TMP/replay.json")" \
	"{'None'}"
exit $((GS_FAILS > 0))
