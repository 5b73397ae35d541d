// SPDX-License-Identifier: MIT
/* gs-sysloop: a bystander workload for the kernel benchmarks, timed by
 * itself (busybox has no sub-second clock).
 *
 *   gs-sysloop syscalls N   N x (read 1 byte from /dev/zero, write it to
 *                           /dev/null): what every process pays per syscall
 *   gs-sysloop tcp N        N request/response exchanges of 100 bytes over
 *                           one loopback TCP connection to itself
 *
 * Prints "ns_per_op X": the process's own CPU time per operation (user +
 * system, where BPF programs run in its syscalls), not the wall clock,
 * which on a one-CPU VM also counts whatever else ran (gatescope's own
 * userspace work).  Exits 1 on any I/O error. */
#include <fcntl.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include "tool.h"

const char *tool_name = "gs-sysloop";

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int syscalls(unsigned n)
{
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	char c;

	if (in < 0 || out < 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
			return -1;
	return 0;
}

/* A connected pair over loopback: *a the client, *b the accepted end. */
static int tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		return -1;
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	*b = accept(l, NULL, NULL);
	close(l);
	return *b < 0 ? -1 : 0;
}

static int exchange(int from, int to, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	if (write(from, buf, n) != (ssize_t)n)
		return -1;
	while (got < n) {
		r = read(to, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static int tcp(unsigned n)
{
	char buf[100] = "x";
	int a, b;

	if (tcp_pair(&a, &b))
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (exchange(a, b, buf, sizeof(buf)) || exchange(b, a, buf, sizeof(buf)))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n;
	double t0;
	int err;

	if (argc != 3 || (strcmp(argv[1], "syscalls") && strcmp(argv[1], "tcp"))) {
		fputs("usage: gs-sysloop syscalls|tcp N\n", stderr);
		return 2;
	}
	n = tool_uint(argv[2], 100000000);
	if (!n)
		return 2;
	t0 = now_ns();
	err = !strcmp(argv[1], "tcp") ? tcp(n) : syscalls(n);
	if (err) {
		perror("gs-sysloop");
		return 1;
	}
	printf("ns_per_op %.1f\n", (now_ns() - t0) / n);
	return 0;
}
