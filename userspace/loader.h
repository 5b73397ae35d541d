/* Loader stage: open -> configure -> load -> attach the BPF programs, fill
 * the filter maps, read kernel-side counters, detach cleanly. */
#ifndef GS_LOADER_H
#define GS_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "conn.h"

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
};

struct loader {
	struct gatescope_bpf *skel;
	uint32_t max_conns;
	enum capture_path capture;	/* the path actually in use */
};

const char *capture_path_name(enum capture_path p);

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
/* Entries in the connection table right now (bounded walk). */
uint64_t loader_live_conns(const struct loader *l);

#endif
