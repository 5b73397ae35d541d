#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the initramfs test_kernel_qemu.sh boots each kernel with: mounts
# what gatescope needs, starts a backend (gs-httpd), nginx in front of it,
# a gateway that stalls its own event loop (gs-stallproxy) and a TCP
# listener, runs gatescope on the capture path the kernel gives it while
# clients talk to them all, then once more with kprobes forced (when the
# kernel has them), and prints everything on the console with a prefix
# per source: GS-ERR/GS-OUT gatescope, GS-TCP the TCP clients' own record,
# GS-NGX nginx's access log, GS-STL the stalling proxy's; the second run's
# lines are GS-KERR/GS-KOUT/GS-KNGX.  Booted with GS_MODE=bench, it runs
# kernel_vm_bench.sh instead.  Every wait is bounded.
/bin/busybox --install -s /bin
export PATH=/bin:/gs
mkdir -p /proc /sys /dev /tmp /etc
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
ip link set lo up
# From the kernel command line (the kernel hands init its unknown
# NAME=value parameters as environment):
GS_D=${GS_D:-120}		# gatescope -d: a bound; runs end once the traffic did
GS_KPROBE=${GS_KPROBE:-1}	# the second run, kprobes forced (when the kernel has them)
echo "GS-VM kernel $(uname -r)"

# nginx as root (no other user here), everything under /tmp/ngx.
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
echo 'root:x:0:' >/etc/group
N=/tmp/ngx
mkdir -p $N
cat >$N/nginx.conf <<NGX
user root;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 64; }
http {
    client_body_temp_path $N/body;
    proxy_temp_path $N/proxy;
    fastcgi_temp_path $N/fastcgi;
    uwsgi_temp_path $N/uwsgi;
    scgi_temp_path $N/scgi;
    log_format gs '\$request_method|\$request_uri|\$status|\$upstream_status';
    access_log $N/access.log gs;
    server {
        listen 127.0.0.1:8090;
        location / {
            proxy_pass http://127.0.0.1:8080;
            proxy_connect_timeout 2s;
            proxy_read_timeout 1s;
        }
    }
}
NGX

gs-httpd --max-seconds 150 127.0.0.1 8080 >/tmp/httpd.log 2>&1 &
gs-tcp serve 127.0.0.1 8081 ok --max-seconds 150 >/tmp/tcpd.log 2>&1 &
gs-stallproxy --stall-ms 1000 --timeout-ms 500 --max-seconds 150 --access-log /tmp/stall.log \
	127.0.0.1 8091 127.0.0.1 8080 >/dev/null 2>/tmp/stall.err &
nginx -p $N -c $N/nginx.conf -e $N/error.log 2>/tmp/nginx.err || echo "GS-VM nginx failed: $(cat /tmp/nginx.err)"

# gatescope ARGS... -> its pid in $gs, once it says it traces (loading
# takes seconds under TCG) or after 120 s.
start_gs() {	# out err args...
	out=$1 err=$2
	shift 2
	gatescope "$@" >$out 2>$err &
	gs=$!
	i=0
	while [ $i -lt 240 ] && kill -0 $gs 2>/dev/null && ! grep -q 'tracing' $err; do
		sleep 0.5; i=$((i + 1))
	done
}

# Stop gatescope once every request is over and its late facts are in
# (the TCP facts wait is 3 s), not at a fixed time a slow VM may not meet.
stop_gs() {
	sleep 4
	kill -INT $gs 2>/dev/null
	wait $gs
}

get() {	# url (an HTTP error status is no failure here: the checks read the logs)
	timeout 15 wget -q -O /dev/null "$1" 2>/tmp/wget.err || echo "GS-VM wget $1: $(cat /tmp/wget.err)"
}

if [ "$GS_MODE" = bench ]; then
	. /gs/kernel_vm_bench.sh
	echo GS-VM-END
	poweroff -f
fi

start_gs /tmp/gs.json /tmp/gs.err -c gs-httpd,wget,gs-tcp,nginx,gs-stallproxy --json -e all -d $GS_D
for n in 1 2 3; do get http://127.0.0.1:8080/items/$n; done
gs-tcp connect 127.0.0.1 8081 --count 3 --send 100 --timeout-ms 5000 >/tmp/tcp.json
gs-tcp connect 127.0.0.1 8082 --count 1 --timeout-ms 5000 >>/tmp/tcp.json
get http://127.0.0.1:8090/api/items/1
get http://127.0.0.1:8090/api/items/2
get http://127.0.0.1:8090/status/404
get 'http://127.0.0.1:8090/slow/1?ms=4000'
# Not wget here: its request through this proxy is left unjoined (with the
# socket tracepoints too); a curl-like head, the connection held open
# until the answer came.
{ printf 'GET /stall/1 HTTP/1.1\r\nHost: 127.0.0.1:8091\r\nUser-Agent: gs-vm\r\nAccept: */*\r\n\r\n'
  sleep 3; } | timeout 10 nc 127.0.0.1 8091 >/dev/null
get http://127.0.0.1:8091/ok/1
stop_gs
echo "GS-RC $?"
cp $N/access.log /tmp/ngx1.log

if [ "$GS_KPROBE" = 1 ] && [ -e /sys/bus/event_source/devices/kprobe/type ]; then
	start_gs /tmp/gsk.json /tmp/gsk.err --capture-path kprobe -c nginx --json -e all -d $GS_D
	get http://127.0.0.1:8090/api/items/3
	get http://127.0.0.1:8090/status/404
	stop_gs
	echo "GS-KRC $?"
	tail -n +$(($(wc -l </tmp/ngx1.log) + 1)) $N/access.log | sed 's/^/GS-KNGX /'
	sed 's/^/GS-KERR /' /tmp/gsk.err
	sed 's/^/GS-KOUT /' /tmp/gsk.json
fi
sed 's/^/GS-ERR /' /tmp/gs.err
sed 's/^/GS-OUT /' /tmp/gs.json
sed 's/^/GS-TCP /' /tmp/tcp.json
sed 's/^/GS-NGX /' /tmp/ngx1.log
sed 's/^/GS-STL /' /tmp/stall.log
echo GS-VM-END
poweroff -f
