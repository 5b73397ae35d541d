#!/bin/sh
# Install the Debian 12 packages gatescope needs to build, test and demo.
# Only what is missing is installed; a machine that has everything is left alone.
# qemu-system-x86 and cpio boot Debian 12's own kernel for the kernel tests
# (tests/e2e/test_kernel_*.sh), which fetch the kernels and busybox-static
# with apt-get download instead of installing them; zstd unpacks 6.12's.
# chromium (headless) and python3-html5lib check the --report page;
# python3-grpcio is the gRPC client and backend of test_grpc_nginx.sh.
set -e
PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
libmicrohttpd-dev libncurses-dev iproute2 nftables nginx-light curl wrk
libbpf-tools valgrind tmux prometheus python3 python3-yaml qemu-system-x86 cpio zstd
haproxy golang-go openssl chromium python3-html5lib libnghttp2-dev
nghttp2-client python3-grpcio"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "gatescope: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "gatescope: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# Packaged services (nginx, prometheus) must not start on install: tests
# start their own instances with their own configs.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	trap "rm -f /usr/sbin/policy-rc.d" EXIT
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
