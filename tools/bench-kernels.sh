#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench, per kernel: Debian 12's 6.1 and 6.12 booted under qemu (TCG)
# with the test suite's initramfs in benchmark mode
# (tests/e2e/kernel_vm_bench.sh).  For each capture path the kernel allows:
#   bystander ratio  an untraced syscall loop and an untraced loopback TCP
#                    exchange, CPU time per operation with gatescope
#                    attached / without (gatescope traces nginx only), the
#                    fastest of 7 samples each (a busy host, which TCG
#                    passes on to the guest, only ever adds time);
#   runs per op      gatescope program runs per bystander operation: the
#                    noise-free part (counted, not timed);
#   per call         each gatescope program's mean run time and run count
#                    (kernel.bpf_stats_enabled) while clients use nginx.
# Under TCG absolute times mean nothing, and a busy host slows the guest
# unevenly (its clock is the host's): the timed ratios are only as good as
# the host was quiet; the program runs per operation are counted, exact.
source "$(dirname "$0")/../tests/e2e/lib.sh"
source "$(dirname "$0")/../tests/e2e/kernel_lib.sh"
VM_SECONDS=${GS_BENCH_VM_SECONDS:-300}

for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || { echo "bench-kernels: SKIPPED: $tool missing (tools/install-deps.sh)"; exit 0; }
done
for f in "$GS_BIN" $(gs_vm_binaries); do
	[ -x "$f" ] || { echo "bench-kernels: $f not built (make all tools)" >&2; exit 1; }
done
gs_busybox_fetch || { echo "bench-kernels: SKIPPED: $GS_KERR"; exit 0; }
gs_vm_initramfs "$GS_TMP/initrd.gz"

report() {	# console rel
	python3 - "$@" <<'PY'
import sys
path_of, samples, stats, runs = {}, {}, [], {}
for l in open(sys.argv[1], errors="replace"):
    f = l.split()
    if not f:
        continue
    if f[0] == "GS-BPATH":
        path_of[f[1]] = " ".join(f[2:])
    elif f[0] == "GS-BENCH" and len(f) == 5:
        samples.setdefault((f[1], f[2], f[3]), []).append(float(f[4]))
    elif f[0] == "GS-BRUNS" and len(f) == 4:
        runs[(f[1], f[2])] = f[3]
    elif f[0] == "GS-BSTAT" and len(f) == 5:
        stats.append(f[1:])
print(f"\n== kernel {sys.argv[2]} (qemu TCG, 1 CPU): bystanders with gatescope attached;"
      " timed: CPU time with / without (noisy under TCG); counted: gatescope program runs")
print(f"{'PATH':<10} {'RUNS AS':<36} {'SYSCALL LOOP':>13} {'TCP EXCHANGE':>13} {'PROG RUNS/SYSCALL PAIR':>23} {'PROG RUNS/TCP EXCHANGE':>23}")
for p in ("auto", "kprobe", "syscalls"):
    if p not in path_of:
        continue
    row = []
    for kind in ("syscalls", "tcp"):
        base, with_ = samples.get((p, kind, "base")), samples.get((p, kind, "with"))
        row.append(f"{min(with_) / min(base):.3f}x" if base and with_ else "-")
    print(f"{p:<10} {path_of[p]:<36} {row[0]:>13} {row[1]:>13} {runs.get((p, 'syscalls'), '-'):>23} {runs.get((p, 'tcp'), '-'):>23}")
print(f"\n{'PATH':<10} {'PROGRAM':<22} {'RUNS':>8} {'NS/RUN (TCG)':>13}")
for p, name, runs, ns in stats:
    print(f"{p:<10} {name:<22} {runs:>8} {ns:>13}")
PY
}

for pkg in $(gs_kernel_pkg) $(gs_kernel_pkg_612); do
	if ! gs_kernel_fetch "$pkg"; then
		echo "bench-kernels: SKIPPED ${pkg#linux-image-}: $GS_KERR"
		continue
	fi
	rel=$(basename "$GS_KDIR")
	C=$GS_TMP/$rel.txt
	timeout --foreground -k 5 "$VM_SECONDS" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
		-kernel "$GS_KDIR/vmlinuz" -initrd "$GS_TMP/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 GS_MODE=bench" -nographic -no-reboot -nic none \
		</dev/null 2>&1 | tr -d '\r' >"$C"
	grep -q '^GS-VM-END' "$C" || { echo "bench-kernels: $rel: the VM did not finish in ${VM_SECONDS}s"; tail -5 "$C"; continue; }
	report "$C" "$rel"
done
