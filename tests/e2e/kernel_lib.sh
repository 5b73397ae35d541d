# Debian 12's kernels for the portability tests (source it after lib.sh):
# each package is fetched once with apt and cached under
# build/kernels/RELEASE/ as vmlinuz (to boot), vmlinux.btf (its BTF, raw)
# and config.  Sets GS_KDIR on success, GS_KERR (why not) on failure.

GS_KCACHE=$GS_ROOT/build/kernels

# The linux-image-6.1.0-NN-amd64 that Debian 12's linux-image-amd64
# depends on (the kernel a fresh install runs); else the newest one apt knows.
gs_kernel_pkg() {
	local p
	p=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -1)
	if ! grep -Eq '^linux-image-6\.1\.0-[0-9]+-amd64$' <<<"$p"; then
		p=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
			grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -1)
	fi
	echo "$p"
}

# The newest 6.12 kernel Debian 12 carries (bookworm-security), if any.
gs_kernel_pkg_612() {
	apt-cache pkgnames linux-image-6.12. 2>/dev/null |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -1
}

# The ELF vmlinux inside a bzImage: the first compressed stream that
# unpacks to an ELF file.  Debian compresses 6.1 with xz (Python's lzma)
# and 6.12 with zstd (the zstd tool, which complains about the bytes after
# the stream: only the ELF header of its output is checked).
gs_unpack_vmlinuz() {	# vmlinuz out
	python3 - "$1" "$2" <<'EOF'
import lzma, subprocess, sys
data = open(sys.argv[1], 'rb').read()

def xz(blob):
    try:
        return lzma.LZMADecompressor().decompress(blob)
    except lzma.LZMAError:
        return b''

def zstd(blob):
    try:
        return subprocess.run(['zstd', '-dcq'], input=blob, capture_output=True).stdout
    except FileNotFoundError:
        sys.exit('zstd missing (tools/install-deps.sh installs it)')

for magic, unpack in ((b'\xfd7zXZ\x00', xz), (b'\x28\xb5\x2f\xfd', zstd)):
    at = data.find(magic)
    while at >= 0:
        out = unpack(data[at:])
        if out[:4] == b'\x7fELF':
            open(sys.argv[2], 'wb').write(out)
            sys.exit(0)
        at = data.find(magic, at + 1)
sys.exit('no xz- or zstd-compressed ELF in ' + sys.argv[1])
EOF
}

# Download PKG, keep its vmlinuz, config and BTF.  Runs under a lock so
# tests started together download it once.
gs_kernel_unpack() {	# pkg dir
	local pkg=$1 dir=$2 tmp
	tmp=$(mktemp -d "$GS_KCACHE/.fetch.XXXXXX")
	if ! (cd "$tmp" && apt-get download "$pkg") >"$tmp/apt.log" 2>&1; then
		GS_KERR="apt-get download $pkg failed: $(grep -m1 '^E:' "$tmp/apt.log" || tail -1 "$tmp/apt.log")"
		rm -rf "$tmp"
		return 1
	fi
	if ! { dpkg-deb --fsys-tarfile "$tmp"/*.deb |
			tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*' &&
		gs_unpack_vmlinuz "$tmp"/boot/vmlinuz-* "$tmp/vmlinux" &&
		llvm-objcopy -O binary --only-section=.BTF "$tmp/vmlinux" "$tmp/vmlinux.btf" &&
		[ -s "$tmp/vmlinux.btf" ]; } 2>"$tmp/unpack.err"; then
		GS_KERR="no BTF could be extracted from $pkg: $(tail -1 "$tmp/unpack.err")"
		rm -rf "$tmp"
		return 1
	fi
	mkdir -p "$dir"
	mv "$tmp"/boot/vmlinuz-* "$dir/vmlinuz"
	mv "$tmp"/boot/config-* "$dir/config"
	mv "$tmp/vmlinux.btf" "$dir/vmlinux.btf"	# last: it marks a complete cache
	rm -rf "$tmp"
}

gs_kernel_fetch() {	# [pkg: default the stock 6.1] -> GS_KDIR, or GS_KERR and non-zero
	local pkg=${1:-$(gs_kernel_pkg)} lock rc=0
	GS_KERR=
	if [ -z "$pkg" ]; then
		GS_KERR="apt knows no linux-image-6.1.0-*-amd64 package (no Debian 12 package lists: apt-get update)"
		return 1
	fi
	GS_KDIR=$GS_KCACHE/${pkg#linux-image-}
	[ -s "$GS_KDIR/vmlinux.btf" ] && return 0
	mkdir -p "$GS_KCACHE"
	exec {lock}>"$GS_KCACHE/.lock"
	flock "$lock"
	[ -s "$GS_KDIR/vmlinux.btf" ] || gs_kernel_unpack "$pkg" "$GS_KDIR" || rc=1
	exec {lock}>&-
	return $rc
}

# A static busybox for the VM's initramfs, from the busybox-static package,
# cached as build/kernels/busybox.  Downloaded rather than installed: it
# conflicts with the busybox package many Debian systems have for their
# own initramfs.  Sets GS_BUSYBOX, or GS_KERR and non-zero.
gs_busybox_fetch() {
	local tmp
	GS_BUSYBOX=$GS_KCACHE/busybox
	[ -x "$GS_BUSYBOX" ] && return 0
	mkdir -p "$GS_KCACHE"
	tmp=$(mktemp -d "$GS_KCACHE/.fetch.XXXXXX")
	if ! (cd "$tmp" && apt-get download busybox-static) >"$tmp/apt.log" 2>&1; then
		GS_KERR="apt-get download busybox-static failed: $(grep -m1 '^E:' "$tmp/apt.log" || tail -1 "$tmp/apt.log")"
		rm -rf "$tmp"
		return 1
	fi
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" ./bin/busybox &&
		mv "$tmp/bin/busybox" "$GS_BUSYBOX"
	rm -rf "$tmp"
	[ -x "$GS_BUSYBOX" ] || { GS_KERR="no bin/busybox in busybox-static"; return 1; }
}

# The initramfs the kernel tests and benchmarks boot: busybox, gatescope,
# nginx, bpftool and the test tools, each with the shared libraries ldd
# resolves (at their own paths), and kernel_vm_init.sh as /init (which runs
# kernel_vm_bench.sh instead of the checks when booted with GS_MODE=bench).
GS_NGINX=$(command -v nginx || echo /usr/sbin/nginx)
GS_VM_TOOLS="gs-tcp gs-httpd gs-stallproxy gs-sysloop"

gs_vm_binaries() {
	local t
	for t in $GS_VM_TOOLS; do echo "$GS_TOOLS/$t"; done
	echo "$GS_NGINX"
}

gs_vm_add_binary() {	# root file dest
	local root=$1 lib
	install -D -m 0755 "$2" "$root/$3"
	for lib in $(ldd "$2" | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$lib" "$root$lib"
	done
}

gs_vm_initramfs() {	# out (needs GS_BUSYBOX: gs_busybox_fetch)
	local root=$GS_TMP/root t
	install -D -m 0755 "$GS_BUSYBOX" "$root/bin/busybox"
	gs_vm_add_binary "$root" "$GS_BIN" gs/gatescope
	for t in $GS_VM_TOOLS; do gs_vm_add_binary "$root" "$GS_TOOLS/$t" gs/$t; done
	gs_vm_add_binary "$root" "$GS_NGINX" gs/nginx
	# bpftool reads the per-program run time (benchmarks only).
	command -v bpftool >/dev/null && gs_vm_add_binary "$root" "$(command -v bpftool)" gs/bpftool
	install -D -m 0755 "$GS_ROOT/tests/e2e/kernel_vm_init.sh" "$root/init"
	install -D -m 0755 "$GS_ROOT/tests/e2e/kernel_vm_bench.sh" "$root/gs/kernel_vm_bench.sh"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$1"
}
