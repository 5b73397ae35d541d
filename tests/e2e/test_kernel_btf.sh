#!/bin/bash
# Builds where its users are: Debian 12's stock kernel (6.1, no
# iov_iter.__iov, none of the socket I/O tracepoints) checked from its BTF,
# without booting it.  The package comes from apt, cached under
# build/kernels/.
#   compile     the BPF objects build against that kernel's vmlinux.h;
#   relocs      every CO-RE relocation of the objects built here resolves
#               against its BTF (and those built there against this
#               kernel's), bar the ones the programs check for first;
#   relocs_can_fail   the checker rejects an unguarded access to a field
#               6.1 lacks (so a pass above means something);
#   hooks       every program the loader would load there has its
#               tracepoint; prints the capture path it would pick.
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
if ! gs_kernel_fetch; then
	skip $T "cannot get Debian 12's kernel package: $GS_KERR"
	exit 0
fi
REL=$(basename "$GS_KDIR")
BTF=$GS_KDIR/vmlinux.btf
echo "kernel: $REL, BTF $BTF"

# compile: the whole BPF build against that kernel's BTF, in its own
# build directory (the Makefile's vmlinux.h rule reads VMLINUX_BTF); not
# a sub-make of a `make test` that may be running us.
KBUILD=$GS_KDIR/build
if ! out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$GS_ROOT" BUILD="$KBUILD" \
		VMLINUX_BTF="$BTF" "$KBUILD/gatescope.bpf.o" 2>&1); then
	fail $T/compile_$REL "$(grep -m3 -E 'error|gatescope:' <<<"$out")"
elif grep -q '\b__iov\b' "$KBUILD/vmlinux.h"; then
	fail $T/compile_$REL "its vmlinux.h has iov_iter.__iov: not a pre-6.4 kernel, the check proves nothing"
else
	pass $T/compile_$REL
fi

# relocs: the object this host ships, against that kernel; and the one
# built there, against this kernel (a 6.1 build host's binary runs here).
relocs() {	# name btf object
	local out
	out=$("$RELOCS" "$2" "$3")
	local rc=$?
	echo "$1: $out"
	if [ $rc -eq 0 ]; then pass "$T/$1"; else fail "$T/$1" "$(grep -m3 '^missing\|failed' <<<"$out")"; fi
}
relocs "relocs_host_object_on_$REL" "$BTF" "$GS_ROOT/build/gatescope.bpf.o"
if [ ! -r /sys/kernel/btf/vmlinux ]; then
	skip "$T/relocs_${REL}_object_on_$(uname -r)" "this kernel has no BTF"
elif [ -e "$KBUILD/gatescope.bpf.o" ]; then	# else compile failed above
	relocs "relocs_${REL}_object_on_$(uname -r)" /sys/kernel/btf/vmlinux "$KBUILD/gatescope.bpf.o"
fi

# relocs_can_fail: iov_iter.__iov read without asking whether it exists.
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
if ! clang -target bpf -g -O2 -I"$KBUILD" -c "$GS_TMP/unguarded.bpf.c" -o "$GS_TMP/unguarded.o" 2>"$GS_TMP/cc.err"; then
	fail $T/relocs_can_fail "the probe object did not compile: $(head -1 "$GS_TMP/cc.err")"
elif out=$("$RELOCS" "$BTF" "$GS_TMP/unguarded.o"); then
	fail $T/relocs_can_fail "an unguarded iov_iter.__iov passed: $out"
elif grep -q '^missing: .*__iov' <<<"$out"; then
	pass $T/relocs_can_fail
else
	fail $T/relocs_can_fail "rejected for another reason: $out"
fi

# hooks: the loader's own plan for that kernel (gs-hookplan links it).
if out=$("$GS_TOOLS/gs-hookplan" "$BTF" 2>&1); then
	pass $T/hooks_$REL
else
	fail $T/hooks_$REL "$(grep -E 'load missing|gs-hookplan' <<<"$out" | tr '\n' ' ')"
fi
echo "$out"
echo "NOTE $REL: capture path $(sed -n 's/^capture_path //p' <<<"$out");" \
	"tracepoints missing: $(awk '$5 == "missing" { sub("tp_btf/", "", $3); printf "%s ", $3 }' <<<"$out")"
[ "$GS_FAILS" -eq 0 ]
