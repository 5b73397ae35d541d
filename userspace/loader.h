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
	CAPTURE_AUTO = 0,	/* socket tracepoints if the kernel has them, else syscalls */
	CAPTURE_SOCKET,		/* tcp_sendmsg_locked + sock_{send,recv}_length */
	CAPTURE_SYSCALL,	/* raw tracepoints sys_enter/sys_exit for read, write, ...: the fallback */
	CAPTURE_OFF,		/* TCP facts only */
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
	struct tls_attach tls;		/* libssl uprobes, attached after the start */
};

const char *capture_path_name(enum capture_path p);

/* The hooks the loader uses on a kernel, decided from its BTF alone (the
 * tracepoints it has), so another kernel's BTF file can be checked too. */
struct hook_plan {
	enum capture_path capture;	/* the HTTP capture path */
	bool socket_tps;		/* tcp_sendmsg_locked + sock_{send,recv}_length exist */
	bool data_ready;		/* sk_data_ready: gateway_stall evidence */
	bool error_report;		/* inet_sk_error_report: socket errno */
};

/* vmlinux: that kernel's BTF (NULL: none, nothing optional is used). */
void loader_plan(const struct btf *vmlinux, enum capture_path want, struct hook_plan *p);
/* Set the skeleton's autoload flags and rodata to the plan (before load). */
void loader_apply_plan(struct gatescope_bpf *skel, const struct hook_plan *p);

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
int loader_add_port(struct loader *l, uint16_t port);
int loader_ring_fd(const struct loader *l);
/* Kernel counters summed over CPUs. */
void loader_stats(const struct loader *l, uint64_t out[GS_STAT__MAX]);
/* One of them. */
uint64_t loader_stat(const struct loader *l, enum gs_stat idx);
/* Entries in the connection table right now: the kernel's own count
 * (one read), or a bounded walk on kernels that keep none. */
uint64_t loader_live_conns(const struct loader *l);

#endif
