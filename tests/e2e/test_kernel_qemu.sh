#!/bin/bash
# The gatescope built here, run on Debian 12's kernels (the stock 6.1, then
# the newest 6.12 of its archive if time is left), each booted under qemu
# (TCG: no KVM needed) from one small initramfs: busybox, the binary and the
# test tools with their shared libraries, and an /init that drives loopback
# traffic and prints everything on the serial console.  Per kernel:
#   boots     the VM ran the checks and powered off within the time bound;
#   loads     gatescope loaded and attached there and exited 0;
#   path      it named the capture path the loader's plan for that kernel's
#             BTF predicts (gs-hookplan: the same code, without booting);
#   facts     3 connections to a listener and 1 refused connect, counted
#             per backend with the bytes the client saw sent (3 x 100), and
#             3 HTTP requests through gs-httpd, each with route and status.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kernel_lib.sh"
T=kernel_qemu
BUDGET=${GS_VM_SECONDS:-150}	# TCG is slow: all boots together, so the test stays under 3 min
MIN_VM=60			# a boot needs this much of the budget to be tried
GS_D=8				# gatescope -d inside the VM

for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || { skip $T "$tool missing (tools/install-deps.sh installs qemu-system-x86 and cpio)"; exit 0; }
done
for f in "$GS_BIN" "$GS_TOOLS/gs-tcp" "$GS_TOOLS/gs-httpd" "$GS_TOOLS/gs-hookplan"; do
	[ -x "$f" ] || { fail $T "$f not built"; exit 1; }
done
if ! gs_busybox_fetch; then
	skip $T "cannot get busybox-static: $GS_KERR"
	exit 0
fi

# Every binary with the shared libraries ldd resolves, at their own paths.
add_binary() {	# root file dest
	local root=$1 lib
	install -D -m 0755 "$2" "$root/$3"
	for lib in $(ldd "$2" | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$lib" "$root$lib"
	done
}

write_init() {	# file
	cat >"$1" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/gs
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
ip link set lo up
echo "GS-VM kernel \$(uname -r)"
gs-httpd --max-seconds 120 127.0.0.1 8080 >/tmp/httpd.log 2>&1 &
gs-tcp serve 127.0.0.1 8081 ok --max-seconds 120 >/tmp/tcpd.log 2>&1 &
gatescope -c gs-httpd,wget,gs-tcp --json -e all -d $GS_D >/tmp/gs.json 2>/tmp/gs.err &
gs=\$!
# Loading under TCG takes seconds: traffic starts once gatescope says it traces.
i=0
while [ \$i -lt 240 ] && kill -0 \$gs 2>/dev/null && ! grep -q 'tracing' /tmp/gs.err; do
	sleep 0.5; i=\$((i + 1))
done
for n in 1 2 3; do wget -q -O /dev/null http://127.0.0.1:8080/items/\$n; done
gs-tcp connect 127.0.0.1 8081 --count 3 --send 100 --timeout-ms 5000 >/tmp/tcp.json
gs-tcp connect 127.0.0.1 8082 --count 1 --timeout-ms 5000 >>/tmp/tcp.json
wait \$gs
echo "GS-RC \$?"
sed 's/^/GS-ERR /' /tmp/gs.err
sed 's/^/GS-OUT /' /tmp/gs.json
sed 's/^/GS-TCP /' /tmp/tcp.json
echo GS-VM-END
poweroff -f
EOF
	chmod +x "$1"
}

build_initramfs() {	# out
	local root=$GS_TMP/root
	install -D -m 0755 "$GS_BUSYBOX" "$root/bin/busybox"
	add_binary "$root" "$GS_BIN" gs/gatescope
	add_binary "$root" "$GS_TOOLS/gs-tcp" gs/gs-tcp
	add_binary "$root" "$GS_TOOLS/gs-httpd" gs/gs-httpd
	write_init "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$1"
}

# Boot one kernel; leaves its console in $GS_TMP/REL.txt and the VM's
# gatescope JSON in $GS_TMP/REL.json.  Returns 2 if qemu itself cannot run.
boot() {	# rel seconds
	local rel=$1 start=$SECONDS rc C=$GS_TMP/$1.txt
	timeout --foreground -k 5 "$2" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
		-kernel "$GS_KCACHE/$rel/vmlinuz" -initrd "$GS_TMP/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1" -nographic -no-reboot -nic none \
		</dev/null >"$GS_TMP/$rel.log" 2>&1
	rc=$?
	tr -d '\r' <"$GS_TMP/$rel.log" >"$C"
	grep '^GS-OUT ' "$C" | sed 's/^GS-OUT //' >"$GS_TMP/$rel.json"
	grep '^GS-TCP ' "$C" | sed 's/^GS-TCP //' >"$GS_TMP/$rel.tcp.json"
	echo "== $rel: qemu exited $rc after $((SECONDS - start))s; console (gatescope's lines trimmed):"
	grep -v '^GS-OUT ' "$C" | tail -30
	grep -E '^GS-OUT \{"type":"(request|connection|total)"' "$C" | cut -c1-300 | tail -12
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
sent = sum(r.get("bytes_sent") or 0 for r in gs if r.get("type") == "connection"
           and r.get("direction") == "upstream" and r.get("backend") == "127.0.0.1:8081")
http = sum(1 for r in gs if r.get("type") == "request" and r.get("method") == "GET"
           and r.get("route") == "/items/{id}" and r.get("status") == 200)
print(b81.get("connects"), b81.get("resets", {}).get("received"),
      f"refused={b82.get('connect_failures', {}).get('refused')} sent={sent} http={http}"
      f" client_sent={sum(r.get('sent', 0) for r in cl)}")
PY
}

check() {	# name expected actual
	if [ "$2" = "$3" ]; then pass "$T/$1"; else fail "$T/$1" "expected $2, got $3"; fi
}

# The checks on one booted kernel's console.
verify() {	# rel
	local rel=$1 C=$GS_TMP/$1.txt plan said
	if grep -q '^GS-RC 0$' "$C" && grep -q '^GS-ERR gatescope: tracing' "$C"; then
		pass $T/loads_$rel
	else
		fail $T/loads_$rel "$(grep -E '^GS-(RC|ERR)' "$C" | head -5 | tr '\n' ' ')"
	fi
	plan=$("$GS_TOOLS/gs-hookplan" "$GS_KCACHE/$rel/vmlinux.btf" | sed -n 's/^capture_path //p')
	said=$(sed -n 's/^GS-ERR .*HTTP capture: \([^;,]*\).*/\1/p' "$C")
	if [ -n "$plan" ] && [[ "$said" == "$plan"* ]]; then
		pass $T/path_$rel
	else
		fail $T/path_$rel "gatescope said '$said', the loader's plan for that BTF is '$plan'"
	fi
	echo "NOTE $rel: gatescope said: HTTP capture: $said; $(grep -c '^GS-ERR gatescope: degraded' "$C") degraded line(s)"
	check facts_$rel "3 0 refused=1 sent=300 http=3 client_sent=300" \
		"$(facts "$GS_TMP/$rel.json" "$GS_TMP/$rel.tcp.json")"
}

start=$SECONDS
build_initramfs "$GS_TMP/initrd.gz"
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
	boot "$(basename "$GS_KDIR")" "$left"
	case $? in
	0) verify "$(basename "$GS_KDIR")" ;;
	2) exit 0 ;;
	esac
done
[ $n -gt 0 ] || { skip $T "no Debian 12 kernel package could be fetched"; exit 0; }
[ "$GS_FAILS" -eq 0 ]
