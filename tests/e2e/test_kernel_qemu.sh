#!/bin/bash
# The gatescope built here, run on Debian 12's kernels (the stock 6.1, then
# the newest 6.12 of its archive if time is left), each booted under qemu
# (TCG: no KVM needed) from one small initramfs: busybox, the binary, nginx
# and the test tools with their shared libraries, and an /init
# (kernel_vm_init.sh) that drives loopback traffic and prints everything on
# the serial console.  Per kernel (most checks in kernel_vm_check.py):
#   boots     the VM ran the checks and powered off within the time bound;
#   loads     gatescope loaded and attached there and exited 0;
#   path      it named the capture path the loader's plan for that kernel's
#             BTF predicts (gs-hookplan: the same code, without booting):
#             fentry on 6.1 and 6.12, not the syscall tracepoints;
#   facts     3 connections to a listener and 1 refused connect, counted
#             per backend with the bytes the client saw sent (3 x 100), and
#             3 HTTP requests to gs-httpd, each with route and status;
#   nginx     requests through nginx reported with the statuses nginx
#             logged; the one to a backend slower than nginx's read timeout
#             is backend/backend_slow; answered ones carry the kernel's
#             first-byte time (the data-arrival hook);
#   stall     a proxy that sleeps before reading its upstream's answer:
#             its 504 is gateway/gateway_stall (needs the data-arrival hook);
#   kprobe    gatescope --capture-path kprobe loads and reports nginx's
#             statuses and first-byte times too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kernel_lib.sh"
T=kernel_qemu
BUDGET=${GS_VM_SECONDS:-200}	# TCG is slow: all boots together, so the test stays under 4 min
MIN_VM=75			# a boot needs this much of the budget to be tried
GS_D=100			# gatescope -d inside the VM: a bound (the runs end with the traffic)

for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || { skip $T "$tool missing (tools/install-deps.sh installs qemu-system-x86 and cpio)"; exit 0; }
done
for f in "$GS_BIN" "$GS_TOOLS/gs-hookplan" $(gs_vm_binaries); do
	[ -x "$f" ] || { fail $T "$f not built"; exit 1; }
done
if ! gs_busybox_fetch; then
	skip $T "cannot get busybox-static: $GS_KERR"
	exit 0
fi

# Boot one kernel; leaves its console in $GS_TMP/REL.txt and the VM's
# gatescope JSON in $GS_TMP/REL.json.  Returns 2 if qemu itself cannot run.
boot() {	# rel seconds kprobe-run(0|1)
	local rel=$1 start=$SECONDS rc C=$GS_TMP/$1.txt
	timeout --foreground -k 5 "$2" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
		-kernel "$GS_KCACHE/$rel/vmlinuz" -initrd "$GS_TMP/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 GS_D=$GS_D GS_KPROBE=$3" -nographic -no-reboot -nic none \
		</dev/null >"$GS_TMP/$rel.log" 2>&1
	rc=$?
	tr -d '\r' <"$GS_TMP/$rel.log" >"$C"
	grep '^GS-OUT ' "$C" | sed 's/^GS-OUT //' >"$GS_TMP/$rel.json"
	grep '^GS-TCP ' "$C" | sed 's/^GS-TCP //' >"$GS_TMP/$rel.tcp.json"
	echo "== $rel: qemu exited $rc after $((SECONDS - start))s; console (gatescope's lines trimmed):"
	grep -vE '^GS-(OUT|KOUT|TCP|NGX|KNGX|STL) ' "$C" | tail -30
	grep -E '^GS-OUT \{"type":"request"' "$C" | cut -c1-300 | tail -12
	# qemu that fails before the guest prints anything (no BIOS, no
	# memory, a refused accelerator) cannot run here: no verdict on gatescope.
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q '^GS-VM kernel' "$C"; then
		skip $T "qemu-system-x86_64 cannot run here (exit $rc): $(grep -m1 -i 'qemu' "$C")"
		return 2
	fi
	if ! grep -q '^GS-VM-END' "$C"; then
		fail $T/boots_$rel "no end mark on the console after $((SECONDS - start))s (qemu exit $rc; limit $2 s)"
		return 1
	fi
	pass $T/boots_$rel
}

# What gatescope reported and what the clients saw, in one line (one
# python start: under load each costs seconds):
# "CONNECTS RST_IN refused=N sent=BYTES http=N client_sent=BYTES".
facts() {	# gatescope-json client-json
	python3 - "$@" <<'PY'
import json, sys
rows = lambda p: [json.loads(l) for l in open(p) if l.strip()]
gs, cl = rows(sys.argv[1]), rows(sys.argv[2])
total = ([r for r in gs if r.get("type") == "total"] or [{}])[-1]
be = {b["backend"]: b for b in total.get("backends", [])}
b81, b82 = be.get("127.0.0.1:8081", {}), be.get("127.0.0.1:8082", {})
up = [r for r in gs if r.get("type") == "connection" and r.get("direction") == "upstream"
      and r.get("backend") == "127.0.0.1:8081"]
sent = sum(r.get("bytes_sent") or 0 for r in up)
written = sum(r.get("bytes_written") or 0 for r in up)
http = sum(1 for r in gs if r.get("type") == "request" and r.get("method") == "GET"
           and r.get("route") == "/items/{id}" and r.get("status") == 200)
print(b81.get("connects"), b81.get("resets", {}).get("received"),
      f"refused={b82.get('connect_failures', {}).get('refused')} sent={sent}"
      f" written={written} http={http}"
      f" client_sent={sum(r.get('sent', 0) for r in cl)}")
PY
}

check() {	# name expected actual
	if [ "$2" = "$3" ]; then pass "$T/$1"; else fail "$T/$1" "expected $2, got $3"; fi
}

# The checks on one booted kernel's console.
verify() {	# rel
	local rel=$1 C=$GS_TMP/$1.txt plan
	if grep -q '^GS-RC 0$' "$C" && grep -q '^GS-ERR gatescope: tracing' "$C"; then
		pass $T/loads_$rel
	else
		fail $T/loads_$rel "$(grep -E '^GS-(RC|ERR|VM nginx)' "$C" | head -5 | tr '\n' ' ')"
	fi
	plan=$("$GS_TOOLS/gs-hookplan" "$GS_KCACHE/$rel/vmlinux.btf")
	echo "NOTE $rel: gatescope said: $(sed -n 's/^GS-ERR .*HTTP capture: \([^;,]*\).*/\1/p' "$C");" \
		"plan: $(grep -E '^(candidates|data_ready)' <<<"$plan" | tr '\n' ' ');" \
		"$(grep -c '^GS-ERR gatescope: degraded' "$C") degraded line(s)"
	grep '^GS-ERR gatescope: degraded' "$C" | sed "s/^GS-ERR /NOTE $rel: /"
	# One line per kernel for the README's table.
	echo "MATRIX $rel | capture: $(sed -n 's/^GS-ERR .*HTTP capture: \([^;,]*\).*/\1/p' "$C")" \
		"| data arrival: $(sed -n 's/^data_ready //p' <<<"$plan")" \
		"| kprobe run: $(sed -n 's/^GS-KERR .*HTTP capture: \([^;,]*\).*/\1/p' "$C")" \
		"| degraded: $(sed -n 's/^GS-ERR gatescope: degraded: //p' "$C" | tr '\n' ';')"
	"$GS_ROOT/tests/e2e/kernel_vm_check.py" "$C" "$rel" \
		"$(sed -n 's/^capture_path //p' <<<"$plan")" "$(sed -n 's/^data_ready //p' <<<"$plan")" ||
		GS_FAILS=$((GS_FAILS + 1))
	check facts_$rel "3 0 refused=1 sent=300 written=300 http=3 client_sent=300" \
		"$(facts "$GS_TMP/$rel.json" "$GS_TMP/$rel.tcp.json")"
}

start=$SECONDS
gs_vm_initramfs "$GS_TMP/initrd.gz"
echo "initramfs: $(du -k "$GS_TMP/initrd.gz" | cut -f1) KiB in $((SECONDS - start))s"
begin=$SECONDS
n=0
for pkg in $(gs_kernel_pkg) $(gs_kernel_pkg_612); do
	left=$((BUDGET - (SECONDS - begin)))
	if [ $n -gt 0 ] && [ $left -lt $MIN_VM ]; then
		skip "$T/${pkg#linux-image-}" "only ${left}s of the ${BUDGET}s boot budget left (TCG on a busy machine)"
		continue
	fi
	if ! gs_kernel_fetch "$pkg"; then
		skip "$T/${pkg#linux-image-}" "cannot get Debian 12's kernel package: $GS_KERR"
		continue
	fi
	n=$((n + 1))
	# The kprobe run on the first kernel; on every one with GS_VM_FULL=1.
	boot "$(basename "$GS_KDIR")" "$left" $([ $n -eq 1 ] || [ "${GS_VM_FULL:-0}" = 1 ] && echo 1 || echo 0)
	case $? in
	0) verify "$(basename "$GS_KDIR")" ;;
	2) exit 0 ;;
	esac
done
[ $n -gt 0 ] || { skip $T "no Debian 12 kernel package could be fetched"; exit 0; }
[ "$GS_FAILS" -eq 0 ]
