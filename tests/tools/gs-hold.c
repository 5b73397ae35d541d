// SPDX-License-Identifier: MIT
/* gs-hold: many idle TCP connections, held open, then closed at once.
 *
 *   gs-hold serve ADDR PORT NPORTS [--max-seconds S]
 *       listen on ADDR:PORT .. PORT+NPORTS-1 and never accept: the
 *       connections wait established in the accept queues (the namespace's
 *       net.core.somaxconn must allow it); prints "ready" once listening.
 *   gs-hold connect ADDR PORT NPORTS N [--wait FILE] [--close-after S]
 *                   [--max-seconds S]
 *       once FILE exists (if given), open N connections round robin over
 *       the ports, hold them; prints "held N seconds=T".  They are all
 *       closed at once on SIGUSR1 or S seconds after the last opened
 *       (--close-after): prints "closed N seconds=T".
 *
 * The connections are opened by worker processes of 10,000 each (forked
 * after --wait, so a tracer of this pid follows them), as no process may
 * raise its open-file limit without CAP_SYS_RESOURCE.  Both stop at
 * --max-seconds (default 120) or SIGTERM.  A failed connect ends a
 * worker's opening: "held" then says how many were made and "errno=" why.  Several ports let one address pair hold more than
 * one port range of connections.  Used by tests/e2e/test_conn_count.sh
 * and the scale section of tools/bench.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tool.h"

#define MAX_PORTS	256
#define MAX_CONNS	2000000u
#define PER_WORKER	10000u	/* connections per worker process */

const char *tool_name = "gs-hold";
static volatile sig_atomic_t stop, close_now;

static void on_term(int sig) { (void)sig; stop = 1; }
static void on_usr1(int sig) { (void)sig; close_now = 1; }

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Enough descriptors for n connections (within the hard limit). */
static void raise_nofile(unsigned n)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < n + 64) {
		r.rlim_cur = n + 64 < r.rlim_max ? n + 64 : r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static struct sockaddr_in addr_of(const char *ip, unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "gs-hold: bad IPv4 address '%s'\n", ip);
		exit(2);
	}
	return a;
}

static void setup_signals(void)
{
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_usr1);
	signal(SIGPIPE, SIG_IGN);
}

/* Listen and never accept: the connections wait, established, in the
 * accept queues (somaxconn of the namespace permitting), which needs no
 * descriptor per connection.  They go when the listeners close, at exit. */
static int serve(const char *ip, unsigned port, unsigned nports, double max_s)
{
	double end = now_s() + max_s;
	int one = 1;

	for (unsigned i = 0; i < nports; i++) {
		struct sockaddr_in a = addr_of(ip, port + i);
		int s = socket(AF_INET, SOCK_STREAM, 0);

		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, MAX_CONNS)) {
			fprintf(stderr, "gs-hold: listen on %s:%u: %s\n", ip, port + i, strerror(errno));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop && now_s() < end)
		usleep(20000);
	return 0;
}

static void wait_file(const char *path, double end)
{
	struct stat st;

	while (path && !stop && now_s() < end && stat(path, &st))
		usleep(20000);
}

/* Open n connections; returns how many were made. */
static unsigned open_all(int *fds, unsigned n, unsigned first, const char *ip, unsigned port,
			 unsigned nports, int *err)
{
	unsigned made = 0;

	for (; made < n && !stop; made++) {
		struct sockaddr_in a = addr_of(ip, port + (first + made) % nports);
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
			*err = errno;
			if (s >= 0)
				close(s);
			break;
		}
		fds[made] = s;
	}
	return made;
}

/* One worker: its share of the connections, held until told to close;
 * reports what it made, then that it closed them, on the pipe. */
static void worker(int out, unsigned n, unsigned first, const char *ip, unsigned port,
		   unsigned nports, double close_after, double end)
{
	int *fds = calloc(n ? n : 1, sizeof(*fds)), err = 0;
	unsigned made, rep[2];

	raise_nofile(n);
	made = open_all(fds, n, first, ip, port, nports, &err);
	rep[0] = made;
	rep[1] = err;
	if (write(out, rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	while (!stop && !close_now && now_s() < end && (close_after < 0 || now_s() < close_after))
		usleep(5000);
	for (unsigned i = 0; i < made; i++)
		close(fds[i]);
	rep[0] = made;
	if (write(out, rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	while (!stop && now_s() < end)
		usleep(20000);	/* stay traceable until told to go */
	_exit(0);
}

/* Sum one report from every worker; the largest errno seen. */
static unsigned collect(int in, unsigned nworkers, int *err)
{
	unsigned total = 0, rep[2];

	for (unsigned i = 0; i < nworkers; i++) {
		if (read(in, rep, sizeof(rep)) != sizeof(rep))
			break;
		total += rep[0];
		if ((int)rep[1] > *err)
			*err = rep[1];
	}
	return total;
}

/* Workers hold PER_WORKER connections each: a process may not raise its
 * open-file limit without CAP_SYS_RESOURCE.  They are forked after --wait,
 * so a tracer following this process by pid sees them born. */
static int hold(const char *ip, unsigned port, unsigned nports, unsigned n,
		const char *wait_path, double close_after, double max_s)
{
	double end = now_s() + max_s, t0;
	unsigned nworkers = (n + PER_WORKER - 1) / PER_WORKER, made, closed;
	pid_t pids[MAX_CONNS / PER_WORKER + 1];
	int p[2], err = 0;

	if (pipe(p))
		return 1;
	wait_file(wait_path, end);
	t0 = now_s();
	for (unsigned w = 0; w < nworkers; w++) {
		unsigned share = n - w * PER_WORKER < PER_WORKER ? n - w * PER_WORKER : PER_WORKER;

		pids[w] = fork();
		if (pids[w] == 0) {
			close(p[0]);
			worker(p[1], share, w * PER_WORKER, ip, port, nports, -1, end);
		}
	}
	made = collect(p[0], nworkers, &err);
	printf("held %u seconds=%.3f errno=%d\n", made, now_s() - t0, err);
	fflush(stdout);
	if (close_after >= 0)
		close_after += now_s();
	while (!stop && !close_now && now_s() < end && (close_after < 0 || now_s() < close_after))
		usleep(5000);
	t0 = now_s();
	for (unsigned w = 0; w < nworkers; w++)
		kill(pids[w], SIGUSR1);
	closed = collect(p[0], nworkers, &err);
	printf("closed %u seconds=%.3f\n", closed, now_s() - t0);
	fflush(stdout);
	while (!stop && now_s() < end)
		usleep(20000);	/* stay traceable until told to go */
	for (unsigned w = 0; w < nworkers; w++)
		kill(pids[w], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	double max_s = 120, close_after = -1;
	const char *wait = NULL;
	int npos = 0;
	char *pos[6];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
			max_s = tool_uint(argv[++i], 3600);
		else if (!strcmp(argv[i], "--close-after") && i + 1 < argc)
			close_after = tool_uint(argv[++i], 3600);
		else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
			wait = argv[++i];
		else if (npos < 6)
			pos[npos++] = argv[i];
	}
	setup_signals();
	if (npos >= 4 && !strcmp(pos[3], "0"))
		pos[3] = "1";
	if (npos == 4 && !strcmp(pos[0], "serve"))
		return serve(pos[1], tool_uint(pos[2], 65535), tool_uint(pos[3], MAX_PORTS), max_s);
	if (npos == 5 && !strcmp(pos[0], "connect"))
		return hold(pos[1], tool_uint(pos[2], 65535), tool_uint(pos[3], MAX_PORTS),
			    tool_uint(pos[4], MAX_CONNS), wait, close_after, max_s);
	fprintf(stderr, "usage: gs-hold serve ADDR PORT NPORTS [--max-seconds S]\n"
			"       gs-hold connect ADDR PORT NPORTS N [--wait FILE] [--close-after S] [--max-seconds S]\n");
	return 2;
}
