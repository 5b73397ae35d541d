// SPDX-License-Identifier: MIT
/* gs-emptyprog: BPF programs that do nothing, on the tracepoints given.
 *
 *   gs-emptyprog [--max-seconds S] TRACEPOINT...
 *       loads one program per tracepoint (tp_btf, "return 0": two
 *       instructions), attaches it, prints "prog_id=ID tracepoint=NAME"
 *       for each ("absent tracepoint=NAME" for one this kernel does not
 *       have) and then "ready"; detaches at SIGTERM, SIGINT or after S
 *       seconds (default 120).
 *
 * What the kernel's run-time statistics (kernel.bpf_stats_enabled) say
 * such a program costs per run is their own cost: the two clock reads
 * around every run.  tools/bench runs it beside gatescope in its
 * statistics run, on the same tracepoints, and reads its counters from
 * /proc/PID/fdinfo, so that every ns/run it prints can be read net of
 * that measurement's share.  Exit status: 0, 1 if a program could not be
 * loaded or attached (the message says which), 2 on bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "tool.h"

const char *tool_name = "gs-emptyprog";

#define MAX_TPS 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* "r0 = 0; exit" */
static const struct bpf_insn empty_prog[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/* Load an empty tp_btf program for tracepoint tp and attach it; returns
 * the link's fd (the program stays loaded while the link holds it), 0 if
 * this kernel has no such tracepoint, or -1 with a message. */
static int attach_empty(const struct btf *vmlinux, const char *tp, __u32 *prog_id)
{
	char type_name[128];
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int btf_id, prog_fd, link_fd;

	snprintf(type_name, sizeof(type_name), "btf_trace_%s", tp);
	btf_id = btf__find_by_name_kind(vmlinux, type_name, BTF_KIND_TYPEDEF);
	if (btf_id < 0)
		return 0;	/* not in this kernel: nothing to compare with there */
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP,
		    .attach_btf_id = btf_id);
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "gs_empty", "GPL", empty_prog,
				sizeof(empty_prog) / sizeof(empty_prog[0]), &opts);
	if (prog_fd < 0) {
		fprintf(stderr, "%s: cannot load a program for %s: %s\n", tool_name, tp,
			strerror(errno));
		return -1;
	}
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	if (link_fd < 0) {
		fprintf(stderr, "%s: cannot attach to %s: %s\n", tool_name, tp, strerror(errno));
		close(prog_fd);
		return -1;
	}
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len) == 0)
		*prog_id = info.id;
	/* The program fd stays open: /proc/PID/fdinfo shows its counters. */
	return link_fd;
}

int main(int argc, char **argv)
{
	unsigned max_seconds = 120;
	struct btf *vmlinux;
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "--max-seconds")) {
		max_seconds = tool_uint(argv[2], 86400);
		i = 3;
	}
	if (i >= argc || argc - i > MAX_TPS) {
		fprintf(stderr, "usage: %s [--max-seconds S] TRACEPOINT... (1 to %d)\n", tool_name,
			MAX_TPS);
		return 2;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		fprintf(stderr, "%s: no kernel BTF: %s\n", tool_name, strerror(errno));
		return 1;
	}
	for (; i < argc; i++) {
		__u32 id = 0;
		int link = attach_empty(vmlinux, argv[i], &id);

		if (link < 0)
			return 1;
		if (link == 0)
			printf("absent tracepoint=%s\n", argv[i]);
		else
			printf("prog_id=%u tracepoint=%s\n", id, argv[i]);
	}
	btf__free(vmlinux);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	for (unsigned s = 0; s < max_seconds && !stop; s++)
		sleep(1);
	return 0;
}
