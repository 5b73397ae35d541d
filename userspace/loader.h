/* SPDX-License-Identifier: MIT */
/* Loader stage: open -> configure -> load -> attach the BPF programs, fill
 * the filter maps, read kernel-side counters, detach cleanly. */
#ifndef GS_LOADER_H
#define GS_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "conn.h"
#include "tls_attach.h"

struct btf;
struct gatescope_bpf;
struct ring_buffer;

/* How HTTP bytes are captured. */
enum capture_path {
	CAPTURE_AUTO = 0,	/* the first of the paths below this kernel allows */
	CAPTURE_TRACEPOINT,	/* tcp_sendmsg_locked + sock_{send,recv}_length */
	CAPTURE_FENTRY,		/* fentry/fexit on tcp_sendmsg, tcp_recvmsg */
	CAPTURE_KPROBE,		/* kprobes/kretprobes on the same functions */
	CAPTURE_SYSCALL,	/* raw tracepoints sys_enter/sys_exit for read, write, ...: the last resort */
	CAPTURE_OFF,		/* TCP facts only */
	CAPTURE__COUNT,
};

/* Where the sk_data_ready fact (gateway_stall evidence) comes from. */
enum data_ready_hook {
	DATA_READY_NONE = 0,
	DATA_READY_TRACEPOINT,	/* tp_btf/sk_data_ready (6.6+) */
	DATA_READY_FENTRY,	/* fentry/sock_def_readable */
	DATA_READY_KPROBE,	/* kprobe/sock_def_readable */
};

struct loader_opts {
	bool filter_pid;		/* trace only the pids added below */
	const pid_t *pids;
	size_t npids;
	char *const *comms;		/* also trace processes with these names */
	size_t ncomms;
	const uint16_t *listen_ports;	/* client-facing ports; none: every accept */
	size_t nports;
	uint32_t max_conns;		/* size of the connection table */
	uint32_t capture_bytes;		/* HTTP head bytes captured per buffer */
	enum capture_path capture;
	enum tls_mode tls;		/* --tls */
};

struct loader {
	struct gatescope_bpf *skel;
	uint32_t max_conns;
	bool conns_counted;		/* the kernel counts conns' entries (6.6+) */
	enum capture_path capture;	/* the path actually in use */
	enum data_ready_hook data_ready;	/* gateway_stall evidence: its hook */
	struct tls_attach tls;		/* libssl uprobes, attached after the start */
};

/* "socket tracepoints", "fentry on tcp_sendmsg/tcp_recvmsg", ... */
const char *capture_path_name(enum capture_path p);
/* The --capture-path value naming it: "tracepoint", "fentry", ... */
const char *capture_path_arg(enum capture_path p);

/* The hooks the loader uses on a kernel, decided from its BTF alone (the
 * tracepoints it has), so another kernel's BTF file can be checked too. */
struct hook_plan {
	enum capture_path capture;	/* the HTTP capture path (the first candidate) */
	/* The paths to try, in order of preference: the kernel may still
	 * refuse one at load (fentry without BPF trampolines, no kprobes). */
	enum capture_path candidates[CAPTURE__COUNT];
	int ncandidates;		/* 0: the path asked for does not exist here */
	bool socket_tps;		/* tcp_sendmsg_locked + sock_{send,recv}_length exist */
	bool tcp_fns;			/* tcp_sendmsg, tcp_recvmsg, sock_def_readable in BTF */
	bool data_ready;		/* sk_data_ready tracepoint: gateway_stall evidence */
	bool error_report;		/* inet_sk_error_report: socket errno */
	bool retransmit_err;		/* tcp_retransmit_skb says whether a try was sent */
	unsigned recvmsg_flags_arg;	/* index of tcp_recvmsg's flags (3 since 5.19, 4 before) */
};

/* vmlinux: that kernel's BTF (NULL: none, nothing optional is used).
 * kprobes: the kernel has kprobes (BTF cannot tell). */
void loader_plan(const struct btf *vmlinux, enum capture_path want, bool kprobes,
		 struct hook_plan *p);
/* The hook for the data-arrival fact on capture path c. */
enum data_ready_hook loader_data_ready_hook(const struct hook_plan *p, enum capture_path c);
/* Set the skeleton's autoload flags and rodata for capture path c of the
 * plan (before load). */
void loader_apply_plan(struct gatescope_bpf *skel, const struct hook_plan *p, enum capture_path c);

/* Capabilities (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, and CAP_SYS_RESOURCE
 * on kernels that charge maps to RLIMIT_MEMLOCK) and kernel BTF present?
 * Prints one line naming what is missing if not.  Not euid 0: root without
 * CAP_BPF fails here, a non-root process with the capabilities passes. */
int loader_check_env(void);
/* The missing capabilities' names into buf; their count. */
size_t loader_missing_caps(char *buf, size_t len);
int loader_start(struct loader *l, const struct loader_opts *o);
void loader_stop(struct loader *l);
int loader_add_pid(struct loader *l, pid_t pid);
/* pid connected out before we attached: a gateway (its client connections
 * are captured from the start). */
int loader_mark_gateway(struct loader *l, pid_t pid);
int loader_add_port(struct loader *l, uint16_t port);

/* Connections of the traced processes open before the start, now in the
 * table (GS_CONN_F_ADOPTED); failed: did not fit. */
struct loader_adopted {
	uint32_t upstream, downstream, failed;
};

int loader_adopt(struct loader *l, struct loader_adopted *out);
int loader_ring_fd(const struct loader *l);
/* Kernel counters summed over CPUs. */
void loader_stats(const struct loader *l, uint64_t out[GS_STAT__MAX]);
/* One of them. */
uint64_t loader_stat(const struct loader *l, enum gs_stat idx);
/* Entries in the connection table right now: the kernel's own count
 * (one read), or a bounded walk on kernels that keep none. */
uint64_t loader_live_conns(const struct loader *l);
/* What the kernel counts of gatescope's programs, summed over them. */
struct loader_prog_totals {
	uint64_t missed_runs;	/* runs it skipped (nested on a CPU) */
	uint64_t run_ns;	/* time in them: counted only while the kernel's */
	uint64_t runs;		/* run-time statistics are on (kernel.bpf_stats_enabled) */
};
void loader_prog_totals(const struct loader *l, struct loader_prog_totals *t);

#endif
