/* SPDX-License-Identifier: MIT */
/* Process discovery: which processes to trace, found by name in /proc. */
#ifndef GS_DISCOVER_H
#define GS_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Every pid whose comm is one of names[]; returns how many were written
 * to out (at most max). */
size_t discover_by_comm(char *const *names, size_t nnames, pid_t *out, size_t max);
/* Children of these processes (and theirs), not already in pids: the
 * workers a pre-forking gateway started before gatescope did, which the
 * in-kernel fork hook never saw.  Returns how many were written to out. */
size_t discover_descendants(const pid_t *pids, size_t npids, pid_t *out, size_t max);
bool process_exists(pid_t pid);
/* Local ports of TCP sockets in LISTEN state owned by these processes
 * (their client-facing ports).  Returns how many were written to out. */
size_t discover_listen_ports(const pid_t *pids, size_t npids, uint16_t *out, size_t max);
/* Does pid hold an established TCP connection whose local port is not a
 * listening port of its network namespace (one it opened: an upstream)? */
bool discover_connected_out(pid_t pid);

#endif
