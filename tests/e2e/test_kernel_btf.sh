#!/bin/bash
# Builds where its users are: Debian 12's kernels checked from their BTF,
# without booting them: the stock 6.1 (no iov_iter.__iov, none of the
# socket I/O tracepoints) and the newest 6.12 of its archive.  Packages
# come from apt, cached under build/kernels/.  Per kernel:
#   compile     the BPF objects build against that kernel's vmlinux.h;
#   relocs      every CO-RE relocation of the objects built here resolves
#               against its BTF (and those built there against this
#               kernel's), bar the ones the programs check for first;
#   hooks       every program the loader would load there has its
#               tracepoint; prints the capture path it would pick.
# And once, on 6.1: relocs_can_fail, the checker rejects an unguarded
# access to a field 6.1 lacks (so a pass above means something).
# run: alongside other tests (no timing oracle)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/kernel_lib.sh"
T=kernel_btf
RELOCS=$GS_ROOT/tests/e2e/core_relocs.py

for tool in bpftool clang llvm-objcopy python3 apt-get; do
	command -v $tool >/dev/null || { fail $T "$tool missing (tools/install-deps.sh installs it)"; exit 1; }
done
for f in "$GS_ROOT/build/gatescope.bpf.o" "$GS_TOOLS/gs-hookplan"; do
	[ -e "$f" ] || { fail $T "$f not built"; exit 1; }
done

# compile: the whole BPF build against that kernel's BTF, in its own
# build directory (the Makefile's vmlinux.h rule reads VMLINUX_BTF); not
# a sub-make of a `make test` that may be running us.
compile() {	# rel btf kbuild pre64
	local out
	if ! out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$GS_ROOT" BUILD="$3" \
			VMLINUX_BTF="$2" "$3/gatescope.bpf.o" 2>&1); then
		fail $T/compile_$1 "$(grep -m3 -E 'error|gatescope:' <<<"$out")"
	elif [ "$4" = pre64 ] && grep -q '\b__iov\b' "$3/vmlinux.h"; then
		fail $T/compile_$1 "its vmlinux.h has iov_iter.__iov: not a pre-6.4 kernel, the check proves nothing"
	else
		pass $T/compile_$1
	fi
}

# relocs: the object this host ships, against that kernel; and the one
# built there, against this kernel (for a binary built on that kernel).
relocs() {	# name btf object
	local out
	out=$("$RELOCS" "$2" "$3")
	local rc=$?
	echo "$1: $out"
	if [ $rc -eq 0 ]; then pass "$T/$1"; else fail "$T/$1" "$(grep -m3 '^missing\|failed' <<<"$out")"; fi
}

relocs_both_ways() {	# rel btf kbuild
	local here
	here=$(uname -r)
	relocs "relocs_host_object_on_$1" "$2" "$GS_ROOT/build/gatescope.bpf.o"
	if [ ! -r /sys/kernel/btf/vmlinux ]; then
		skip "$T/relocs_$1_object_on_$here" "this kernel has no BTF"
	elif [ -e "$3/gatescope.bpf.o" ]; then	# else compile failed above
		relocs "relocs_$1_object_on_$here" /sys/kernel/btf/vmlinux "$3/gatescope.bpf.o"
	fi
}

# hooks: the loader's own plan for that kernel (gs-hookplan links it).
hooks() {	# rel btf
	local out
	if out=$("$GS_TOOLS/gs-hookplan" "$2" 2>&1); then
		pass $T/hooks_$1
	else
		fail $T/hooks_$1 "$(grep -E 'load missing|gs-hookplan' <<<"$out" | tr '\n' ' ')"
	fi
	echo "$out"
	echo "NOTE $1: capture path $(sed -n 's/^capture_path //p' <<<"$out");" \
		"tracepoints missing: $(awk '$5 == "missing" { sub("tp_btf/", "", $3); printf "%s ", $3 }' <<<"$out")"
}

check_kernel() {	# package pre64|new
	local rel btf
	if ! gs_kernel_fetch "$1"; then
		skip "$T/${1#linux-image-}" "cannot get Debian 12's kernel package: $GS_KERR"
		return 1
	fi
	rel=$(basename "$GS_KDIR")
	btf=$GS_KDIR/vmlinux.btf
	echo "kernel: $rel, BTF $btf"
	compile "$rel" "$btf" "$GS_KDIR/build" "$2"
	relocs_both_ways "$rel" "$btf" "$GS_KDIR/build"
	hooks "$rel" "$btf"
}

# relocs_can_fail: iov_iter.__iov read without asking whether it exists.
relocs_can_fail() {	# btf kbuild
	local out
	cat >"$GS_TMP/unguarded.bpf.c" <<'EOF'
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct iov_iter___x { const struct iovec *__iov; } __attribute__((preserve_access_index));
char LICENSE[] SEC("license") = "GPL";
SEC("tp_btf/sock_send_length")
int BPF_PROG(p, struct sock *sk, struct msghdr *msg)
{
	return ((struct iov_iter___x *)&msg->msg_iter)->__iov != 0;
}
EOF
	if ! clang -target bpf -g -O2 -I"$2" -c "$GS_TMP/unguarded.bpf.c" -o "$GS_TMP/unguarded.o" 2>"$GS_TMP/cc.err"; then
		fail $T/relocs_can_fail "the probe object did not compile: $(head -1 "$GS_TMP/cc.err")"
	elif out=$("$RELOCS" "$1" "$GS_TMP/unguarded.o"); then
		fail $T/relocs_can_fail "an unguarded iov_iter.__iov passed: $out"
	elif grep -q '^missing: .*__iov' <<<"$out"; then
		pass $T/relocs_can_fail
	else
		fail $T/relocs_can_fail "rejected for another reason: $out"
	fi
}

STOCK=$(gs_kernel_pkg)
if [ -z "$STOCK" ]; then
	skip $T "apt knows no linux-image-6.1.0-*-amd64 package (no Debian 12 package lists: apt-get update)"
	exit 0
fi
if check_kernel "$STOCK" pre64; then
	relocs_can_fail "$GS_KDIR/vmlinux.btf" "$GS_KDIR/build"
fi
NEW=$(gs_kernel_pkg_612)
if [ -n "$NEW" ]; then
	check_kernel "$NEW" new
else
	skip $T/6.12 "apt knows no linux-image-6.12.*+deb12-amd64 package"
fi
[ "$GS_FAILS" -eq 0 ]
