# SPDX-License-Identifier: MIT
# Sourced by kernel_vm_init.sh in a VM booted with GS_MODE=bench (make
# bench, tools/bench-kernels.sh), once nginx and its backend run.  Per
# capture path the kernel allows: what untraced processes pay with
# gatescope attached (gs-sysloop: a syscall loop, a loopback TCP
# exchange, each timed by its own CPU time), before, during and after one
# gatescope run that traces nginx only; and the cost per call of each of its programs
# (kernel.bpf_stats_enabled) while clients talk to nginx.  Prints
#   GS-BENCH PATH KIND base|with NS_PER_OP
#   GS-BRUNS PATH KIND RUNS_PER_OP   gatescope program runs per bystander
#                                    operation (noise-free: counted)
#   GS-BSTAT PATH PROGRAM RUNS NS_PER_RUN
# Ratios only mean something: TCG's absolute times are not a CPU's.
GS_BENCH_N=${GS_BENCH_N:-20000}		# syscall pairs per sample
GS_BENCH_TCP=${GS_BENCH_TCP:-800}	# TCP exchanges per sample
GS_BENCH_R=${GS_BENCH_R:-7}		# samples per phase (the fastest counts:
					# a busy host only ever adds time)

sample() {	# path phase
	for r in $(seq $GS_BENCH_R); do
		echo "GS-BENCH $1 syscalls $2 $(gs-sysloop syscalls $GS_BENCH_N | sed -n 's/^ns_per_op //p')"
		echo "GS-BENCH $1 tcp $2 $(gs-sysloop tcp $GS_BENCH_TCP | sed -n 's/^ns_per_op //p')"
	done
}

# Each program's run count and mean run time, from bpftool's JSON.
prog_stats() {	# path
	bpftool prog show 2>/dev/null | awk -v p="$1" '
		/^[0-9]+: / { name = ""; for (i = 1; i <= NF; i++) if ($i == "name") name = $(i + 1) }
		/run_time_ns/ { for (i = 1; i <= NF; i++) {
			if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) }
			if (name ~ /^gs_/ && c > 0) printf "GS-BSTAT %s %s %d %.0f\n", p, name, c, t / c }'
}

# Runs of all gatescope programs so far (kernel.bpf_stats_enabled on).
total_runs() {
	bpftool prog show 2>/dev/null | awk '
		/^[0-9]+: / { name = ""; for (i = 1; i <= NF; i++) if ($i == "name") name = $(i + 1) }
		/run_cnt/ { for (i = 1; i <= NF; i++) if ($i == "run_cnt" && name ~ /^gs_/) n += $(i + 1) }
		END { print n + 0 }'
}

runs_per_op() {	# path kind n
	local before after
	before=$(total_runs)
	gs-sysloop $2 $3 >/dev/null
	after=$(total_runs)
	echo "GS-BRUNS $1 $2 $(awk -v a=$before -v b=$after -v n=$3 'BEGIN { printf "%.3f", (b - a) / n }')"
}

for path in auto kprobe syscalls; do
	if [ $path = kprobe ] && [ ! -e /sys/bus/event_source/devices/kprobe/type ]; then
		continue
	fi
	sample $path base
	start_gs /tmp/b.json /tmp/b.err --capture-path $path -c nginx --json -i 3600 -d 600
	sed -n 's/.*HTTP capture: \([^;]*\);.*/GS-BPATH '$path' \1/p' /tmp/b.err
	sample $path with
	# Run times only now: counting them costs each program a clock read.
	sysctl -q -w kernel.bpf_stats_enabled=1
	runs_per_op $path syscalls $GS_BENCH_N
	runs_per_op $path tcp $GS_BENCH_TCP
	for i in $(seq 20); do get http://127.0.0.1:8090/api/items/$i; done
	prog_stats $path
	kill -INT $gs
	wait $gs
	sysctl -q -w kernel.bpf_stats_enabled=0
	sample $path base
done
