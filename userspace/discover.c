// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "discover.h"

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

#define MAX_SOCK_INODES 4096

/* Socket inodes among the open files of pid ("socket:[12345]" links). */
static size_t socket_inodes(pid_t pid, unsigned long *out, size_t n, size_t max)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return n;
	while (n < max && (de = readdir(d))) {
		char fdpath[320];
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (sscanf(link, "socket:[%lu]", &out[n]) == 1)
			n++;
	}
	closedir(d);
	return n;
}

static bool has_inode(const unsigned long *inodes, size_t n, unsigned long ino)
{
	for (size_t i = 0; i < n; i++)
		if (inodes[i] == ino)
			return true;
	return false;
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

/* LISTEN sockets (state 0A) of /proc/PID/net/tcp{,6} whose inode is ours:
 * read through the process so its network namespace is the one read. */
static size_t listen_ports_of(pid_t pid, const char *file, const unsigned long *inodes,
			      size_t ninodes, uint16_t *out, size_t n, size_t max)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return n;
	while (fgets(line, sizeof(line), f)) {
		unsigned port, state;
		unsigned long ino;

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*d %*d %lu",
			   &port, &state, &ino) != 3)
			continue;
		if (state == 0x0A && has_inode(inodes, ninodes, ino))
			n = add_port(out, n, max, port);
	}
	fclose(f);
	return n;
}

size_t discover_listen_ports(const pid_t *pids, size_t npids, uint16_t *out, size_t max)
{
	unsigned long *inodes = malloc(MAX_SOCK_INODES * sizeof(*inodes));
	size_t n = 0;

	if (!inodes)
		return 0;
	for (size_t i = 0; i < npids; i++) {
		size_t ninodes = socket_inodes(pids[i], inodes, 0, MAX_SOCK_INODES);

		if (!ninodes)
			continue;
		n = listen_ports_of(pids[i], "tcp", inodes, ninodes, out, n, max);
		n = listen_ports_of(pids[i], "tcp6", inodes, ninodes, out, n, max);
	}
	free(inodes);
	return n;
}

#define MAX_OUT_PORTS 4096

struct out_scan {
	uint8_t listening[65536 / 8];	/* every LISTEN port of the namespace */
	uint16_t mine[MAX_OUT_PORTS];	/* local ports of pid's established sockets */
	size_t nmine;
};

/* One pass over /proc/PID/net/FILE: the namespace's listeners, and the
 * local ports of pid's own established (state 01) sockets. */
static void scan_established(pid_t pid, const char *file, const unsigned long *inodes,
			     size_t ninodes, struct out_scan *s)
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

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*d %*d %lu",
			   &port, &state, &ino) != 3 || port > 0xffff)
			continue;
		if (state == 0x0A)
			s->listening[port / 8] |= 1u << (port % 8);
		else if (state == 0x01 && s->nmine < MAX_OUT_PORTS && has_inode(inodes, ninodes, ino))
			s->mine[s->nmine++] = port;
	}
	fclose(f);
}

bool discover_connected_out(pid_t pid)
{
	unsigned long *inodes = malloc(MAX_SOCK_INODES * sizeof(*inodes));
	struct out_scan *s = calloc(1, sizeof(*s));
	bool out = false;
	size_t ninodes;

	if (!inodes || !s)
		goto done;
	ninodes = socket_inodes(pid, inodes, 0, MAX_SOCK_INODES);
	if (!ninodes)
		goto done;
	scan_established(pid, "tcp", inodes, ninodes, s);
	scan_established(pid, "tcp6", inodes, ninodes, s);
	for (size_t i = 0; i < s->nmine && !out; i++)
		out = !(s->listening[s->mine[i] / 8] & (1u << (s->mine[i] % 8)));
done:
	free(inodes);
	free(s);
	return out;
}
