// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "discover.h"
#include "log.h"
#include "sockdiag.h"

static bool read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return false;	/* it exited meanwhile */
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ok;
}

size_t discover_by_comm(char *const *names, size_t nnames, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	char comm[32];

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (!read_comm(pid, comm, sizeof(comm)))
			continue;
		for (size_t i = 0; i < nnames; i++) {
			if (!strcmp(comm, names[i])) {
				out[n++] = pid;
				break;
			}
		}
	}
	closedir(d);
	return n;
}

/* Parent pid from /proc/PID/stat (after the last ')': the comm may hold
 * spaces and parentheses); 0 if the process is gone. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

static bool pid_in(const pid_t *set, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == pid)
			return true;
	return false;
}

#define DESCENDANT_DEPTH 4	/* master -> worker -> helper is already deep */

size_t discover_descendants(const pid_t *pids, size_t npids, pid_t *out, size_t max)
{
	size_t n = 0, before;
	unsigned depth = 0;

	do {
		DIR *d = opendir("/proc");
		struct dirent *de;

		if (!d)
			break;
		before = n;
		while (n < max && (de = readdir(d))) {
			pid_t pid, ppid;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = atoi(de->d_name);
			if (pid_in(pids, npids, pid) || pid_in(out, n, pid))
				continue;
			ppid = parent_of(pid);
			if (ppid && (pid_in(pids, npids, ppid) || pid_in(out, n, ppid)))
				out[n++] = pid;
		}
		closedir(d);
	} while (n > before && n < max && ++depth < DESCENDANT_DEPTH);
	return n;
}

bool process_exists(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

#define MAX_SOCK_INODES (1u << 20)

struct inode_set {
	unsigned long *v;
	size_t n, cap;
};

static void inode_add(struct inode_set *set, unsigned long ino)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 256;
		unsigned long *v;

		if (cap > MAX_SOCK_INODES || !(v = realloc(set->v, cap * sizeof(*v))))
			return;	/* a process with a million sockets: the rest unmatched */
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = ino;
}

/* Socket inodes among the open files of pid ("socket:[12345]" links). */
static void socket_inodes(pid_t pid, struct inode_set *set)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char fdpath[320];
		unsigned long ino;
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) == 1)
			inode_add(set, ino);
	}
	closedir(d);
}

static int cmp_inode(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

/* Sorted: a namespace may hold 100k sockets, each looked up here. */
static void inode_seal(struct inode_set *set)
{
	qsort(set->v, set->n, sizeof(*set->v), cmp_inode);
}

static bool has_inode(const struct inode_set *set, unsigned long ino)
{
	return set->n && bsearch(&ino, set->v, set->n, sizeof(*set->v), cmp_inode);
}

/* The fallback when sock_diag is refused: /proc/PID/net/FILE, read
 * through the process so its network namespace is the one read. */
static void proc_tcp_file(pid_t pid, const char *file, uint32_t mask, sd_sock_fn fn, void *ctx)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned port, state;
		unsigned long ino;
		struct sd_sock s;

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*d %*d %lu",
			   &port, &state, &ino) != 3 || port > 0xffff || state > 31 ||
		    !(mask & SD_STATE(state)))
			continue;
		s.state = state;
		s.port = port;
		s.inode = ino;
		fn(&s, ctx);
	}
	fclose(f);
}

/* The TCP sockets of pid's network namespace in the states of mask: from
 * sock_diag, or from /proc when netlink is refused or has no TCP handler
 * (said once). */
static void tcp_sockets(pid_t pid, uint32_t mask, sd_sock_fn fn, void *ctx)
{
	static bool warned;
	int rc = sockdiag_tcp(pid, mask, fn, ctx);

	if (!rc || rc == -ENOENT || rc == -ESRCH)
		return;	/* done, or the process is gone */
	if (!warned)
		log_warn("sock_diag netlink unavailable (%s): reading /proc/PID/net/tcp instead",
			 strerror(-rc));
	warned = true;
	proc_tcp_file(pid, "tcp", mask, fn, ctx);
	proc_tcp_file(pid, "tcp6", mask, fn, ctx);
}

static size_t add_port(uint16_t *out, size_t n, size_t max, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] == port)
			return n;
	if (n < max)
		out[n++] = port;
	return n;
}

struct listen_scan {
	const struct inode_set *mine;
	uint16_t *out;
	size_t n, max;
};

static void on_listener(const struct sd_sock *s, void *ctx)
{
	struct listen_scan *ls = ctx;

	if (s->state == SD_TCP_LISTEN && has_inode(ls->mine, s->inode))
		ls->n = add_port(ls->out, ls->n, ls->max, s->port);
}

/* The network namespace of pid, as the inode of /proc/PID/ns/net; 0 if
 * the process is gone. */
static unsigned long netns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* One listening-socket dump per network namespace of the pids, matched
 * against the socket inodes of all of them (inodes are unique across
 * namespaces: one sockfs for the whole host). */
size_t discover_listen_ports(const pid_t *pids, size_t npids, uint16_t *out, size_t max)
{
	struct inode_set mine = { 0 };
	struct listen_scan ls = { .mine = &mine, .out = out, .max = max };
	unsigned long *ns = calloc(npids ? npids : 1, sizeof(*ns));

	if (!ns)
		return 0;
	for (size_t i = 0; i < npids; i++) {
		socket_inodes(pids[i], &mine);
		ns[i] = netns_of(pids[i]);
	}
	inode_seal(&mine);
	for (size_t i = 0; i < npids && mine.n; i++) {
		bool seen = !ns[i];

		for (size_t k = 0; k < i && !seen; k++)
			seen = ns[k] == ns[i];
		if (!seen)
			tcp_sockets(pids[i], SD_STATE(SD_TCP_LISTEN), on_listener, &ls);
	}
	free(mine.v);
	free(ns);
	return ls.n;
}

#define MAX_OUT_PORTS 4096

struct out_scan {
	const struct inode_set *mine;
	uint8_t listening[65536 / 8];	/* every LISTEN port of the namespace */
	uint16_t ports[MAX_OUT_PORTS];	/* local ports of pid's established sockets */
	size_t nports;
};

static void on_out_candidate(const struct sd_sock *s, void *ctx)
{
	struct out_scan *os = ctx;

	if (s->state == SD_TCP_LISTEN)
		os->listening[s->port / 8] |= 1u << (s->port % 8);
	else if (s->state == SD_TCP_ESTABLISHED && os->nports < MAX_OUT_PORTS &&
		 has_inode(os->mine, s->inode))
		os->ports[os->nports++] = s->port;
}

bool discover_connected_out(pid_t pid)
{
	struct out_scan *os = calloc(1, sizeof(*os));
	struct inode_set mine = { 0 };
	bool out = false;

	if (!os)
		return false;
	socket_inodes(pid, &mine);
	inode_seal(&mine);
	os->mine = &mine;
	if (mine.n)
		tcp_sockets(pid, SD_STATE(SD_TCP_LISTEN) | SD_STATE(SD_TCP_ESTABLISHED),
			    on_out_candidate, os);
	for (size_t i = 0; i < os->nports && !out; i++)
		out = !(os->listening[os->ports[i] / 8] & (1u << (os->ports[i] % 8)));
	free(mine.v);
	free(os);
	return out;
}
