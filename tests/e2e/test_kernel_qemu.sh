#!/bin/bash
# The gatescope built here, run on Debian 12's stock kernel (6.1), booted
# under qemu (TCG: no KVM needed) from a small initramfs: busybox, the binary
# and the test tools with their shared libraries, and an /init that drives
# loopback traffic and prints everything on the serial console.
#   boots     the VM ran the checks and powered off within the time bound;
#   loads     gatescope loaded and attached there and exited 0;
#   path      it named the capture path the loader's plan for that kernel's
#             BTF predicts (gs-hookplan: the same code, without booting);
#   tcp       3 connections to a listener and 1 refused connect, counted
#             per backend with the bytes the client saw sent;
#   http      3 HTTP requests through gs-httpd, each with route and status.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kernel_lib.sh"
T=kernel_qemu
VM_SECONDS=${GS_VM_SECONDS:-150}	# TCG is slow; the whole test stays under 3 min
GS_D=8				# gatescope -d inside the VM

for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || { skip $T "$tool missing (tools/install-deps.sh installs qemu-system-x86 and cpio)"; exit 0; }
done
for f in "$GS_BIN" "$GS_TOOLS/gs-tcp" "$GS_TOOLS/gs-httpd" "$GS_TOOLS/gs-hookplan"; do
	[ -x "$f" ] || { fail $T "$f not built"; exit 1; }
done
if ! gs_kernel_fetch; then
	skip $T "cannot get Debian 12's kernel package: $GS_KERR"
	exit 0
fi
REL=$(basename "$GS_KDIR")
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

start=$SECONDS
build_initramfs "$GS_TMP/initrd.gz"
echo "initramfs: $(du -k "$GS_TMP/initrd.gz" | cut -f1) KiB in $((SECONDS - start))s"
start=$SECONDS
timeout --foreground -k 5 "$VM_SECONDS" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
	-kernel "$GS_KDIR/vmlinuz" -initrd "$GS_TMP/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1" -nographic -no-reboot \
	</dev/null >"$GS_TMP/console.log" 2>&1
rc=$?
took=$((SECONDS - start))
tr -d '\r' <"$GS_TMP/console.log" >"$GS_TMP/console.txt"
C=$GS_TMP/console.txt
grep '^GS-OUT ' "$C" | sed 's/^GS-OUT //' >"$GS_TMP/gs.json"
grep '^GS-TCP ' "$C" | sed 's/^GS-TCP //' >"$GS_TMP/tcp.json"
echo "qemu exited $rc after ${took}s; console (gatescope's lines trimmed):"
grep -v '^GS-OUT ' "$C" | tail -30
grep -E '^GS-OUT \{"type":"(request|connection|total)"' "$C" | cut -c1-300 | tail -12

# qemu that fails before the guest prints anything (no BIOS, no memory, a
# refused accelerator) cannot run here: that is no verdict on gatescope.
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q '^GS-VM kernel' "$C"; then
	skip $T "qemu-system-x86_64 cannot run here (exit $rc): $(grep -m1 -i 'qemu' "$C")"
	exit 0
fi
if ! grep -q '^GS-VM-END' "$C"; then
	fail $T/boots_$REL "no end mark on the console after ${took}s (qemu exit $rc; limit ${VM_SECONDS}s)"
	exit 1
fi
pass $T/boots_$REL

if grep -q '^GS-RC 0$' "$C" && grep -q '^GS-ERR gatescope: tracing' "$C"; then
	pass $T/loads_$REL
else
	fail $T/loads_$REL "$(grep -E '^GS-(RC|ERR)' "$C" | head -5 | tr '\n' ' ')"
fi

plan=$("$GS_TOOLS/gs-hookplan" "$GS_KDIR/vmlinux.btf" | sed -n 's/^capture_path //p')
said=$(sed -n 's/^GS-ERR .*HTTP capture: \([^;,]*\).*/\1/p' "$C")
if [ -n "$plan" ] && [[ "$said" == "$plan"* ]]; then
	pass $T/path_$REL
else
	fail $T/path_$REL "gatescope said '$said', the loader's plan for that BTF is '$plan'"
fi
echo "NOTE $REL: gatescope said: HTTP capture: $said; $(grep -c '^GS-ERR gatescope: degraded' "$C") degraded line(s)"

J=$GS_ROOT/tests/e2e/gsjson.py
check() {	# name expected actual
	if [ "$2" = "$3" ]; then pass "$T/$1_$REL"; else fail "$T/$1_$REL" "expected $2, got $3"; fi
}
# What the clients saw, and what gatescope reported for the same backend.
sum_sent() {	# file key backend-or-empty
	python3 - "$@" <<'PY'
import json, sys
path, key, backend = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
print(sum(r.get(key) or 0 for r in rows
          if not backend or (r.get("type") == "connection" and r.get("direction") == "upstream"
              and r.get("backend") == backend)))
PY
}
sent=$(sum_sent "$GS_TMP/tcp.json" sent "")
tcp=$("$J" "$GS_TMP/gs.json" 127.0.0.1:8081 connects resets.received | tr '\n' ' ')
tcp+="refused=$("$J" "$GS_TMP/gs.json" 127.0.0.1:8082 connect_failures.refused) "
tcp+="sent=$(sum_sent "$GS_TMP/gs.json" bytes_sent 127.0.0.1:8081)"
check tcp "3 0 refused=1 sent=300" "$tcp"
[ "$sent" = 300 ] || fail "$T/tcp_client_$REL" "gs-tcp itself sent $sent bytes, not 3 x 100"
http=$("$J" "$GS_TMP/gs.json" --where request route '/items/{id}' status 200 method GET)
check http 3 "$http"
[ "$GS_FAILS" -eq 0 ]
