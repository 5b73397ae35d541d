/* SPDX-License-Identifier: MIT */
/* TCP sockets of a network namespace, from the kernel's sock_diag netlink
 * interface: one dump of the states asked for (listening sockets only, say)
 * instead of a walk of /proc/PID/net/tcp{,6}, where the kernel formats
 * every socket of the namespace as text and we parse it back. */
#ifndef GS_SOCKDIAG_H
#define GS_SOCKDIAG_H

#include <stdint.h>
#include <sys/types.h>

#define SD_TCP_ESTABLISHED 1	/* the kernel's TCP states (include/net/tcp_states.h) */
#define SD_TCP_LISTEN 10
#define SD_STATE(s) (1u << (s))	/* a bit of the states mask */

struct sd_sock {
	uint8_t state;		/* SD_TCP_* */
	uint16_t port;		/* local port, host order */
	uint32_t inode;		/* the socket's inode: "socket:[N]" in /proc/PID/fd */
};

typedef void (*sd_sock_fn)(const struct sd_sock *s, void *ctx);

/* Calls fn for every TCP socket (IPv4 and IPv6) in one of the states of
 * mask, in the network namespace of pid.  Returns 0, or -errno when the
 * namespace cannot be entered or the kernel refuses the dump (no
 * CAP_NET_ADMIN/SYS_ADMIN, sock_diag not built): the caller falls back to
 * /proc. */
int sockdiag_tcp(pid_t pid, uint32_t mask, sd_sock_fn fn, void *ctx);

#endif
