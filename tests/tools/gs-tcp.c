/* gs-tcp: a small TCP client and server for gatescope's end-to-end tests.
 *
 *   gs-tcp serve ADDR PORT MODE [--max-seconds S]
 *	MODE ok:    accept, read the request (up to '\n'), write a short
 *	            reply, close (FIN).
 *	MODE reset: accept, read the request, close with SO_LINGER {1,0} (RST).
 *	Prints "ready" once listening; exits after S seconds (default 30).
 *
 *   gs-tcp connect ADDR PORT [--count N] [--timeout-ms T] [--send BYTES]
 *	[--wait-retrans N] [--linger0] [--hold-ms M]
 *	N sequential connections.  Each: non-blocking connect, poll up to T ms;
 *	if connected, send BYTES bytes (the last one '\n'), then either wait
 *	(up to T ms) until TCP_INFO tcpi_total_retrans >= N, or read the reply
 *	until EOF (up to T ms); hold M ms; close (with RST if --linger0).
 *	Prints one JSON line per connection with what this side observed:
 *	the oracle the tests compare gatescope against.
 *
 * Every wait is bounded; the program never runs longer than its limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tool.h"

const char *tool_name = "gs-tcp";

#define REQ_MAX		(1 << 20)
#define REPLY		"OK gs-tcp\n"

struct client_opts {
	unsigned count;
	unsigned timeout_ms;
	unsigned send_bytes;
	unsigned wait_retrans;
	unsigned hold_ms;
	bool linger0;
};

/* What one connection saw, printed as its JSON line. */
struct observed {
	const char *outcome;	/* ok, refused, timeout, unreachable, reset, error */
	int err;		/* errno of the failure, 0 if none */
	double connect_ms;	/* < 0 when not connected */
	unsigned sent, received;
	bool eof;		/* the server closed (FIN) */
	unsigned total_retrans;	/* tcpi_total_retrans just before close */
	unsigned char tcp_state;	/* tcpi_state just before close */
	char local[64];
};

static void die(const char *what)
{
	fprintf(stderr, "gs-tcp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fputs("usage: gs-tcp serve ADDR PORT ok|reset [--max-seconds S]\n"
	      "       gs-tcp connect ADDR PORT [--count N] [--timeout-ms T] [--send BYTES]\n"
	      "                      [--wait-retrans N] [--linger0] [--hold-ms M]\n", stderr);
	exit(2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Milliseconds left until deadline, 0 if past. */
static int left_ms(uint64_t deadline)
{
	uint64_t now = now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static socklen_t make_addr(const char *ip, const char *port, struct sockaddr_storage *ss)
{
	return tool_sockaddr(ip, tool_uint(port, 65535), ss);
}

static void set_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)))
		die("SO_LINGER");
}

/* ---- server ---- */

/* Read up to the request's '\n' (or EOF, error, 2 s). */
static void read_request(int fd)
{
	char buf[4096];
	uint64_t deadline = now_ms() + 2000;
	size_t total = 0;

	while (total < REQ_MAX && wait_fd(fd, POLLIN, left_ms(deadline)) > 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			return;
		total += n;
		if (memchr(buf, '\n', n))
			return;
	}
}

static void serve_one(int lfd, bool reset)
{
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		return;
	read_request(fd);
	if (reset)
		set_linger0(fd);
	else if (write(fd, REPLY, strlen(REPLY)) < 0)
		perror("gs-tcp: write");
	close(fd);
}

static int serve(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned max_s = 30;
	bool reset;
	int fd, one = 1;
	uint64_t deadline;

	if (argc < 3)
		usage();
	len = make_addr(argv[0], argv[1], &ss);
	if (!strcmp(argv[2], "ok"))
		reset = false;
	else if (!strcmp(argv[2], "reset"))
		reset = true;
	else
		usage();
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
			max_s = tool_uint(argv[++i], 3600);
		else
			usage();
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	if (listen(fd, 128))
		die("listen");
	printf("ready\n");
	fflush(stdout);
	deadline = now_ms() + max_s * 1000ull;
	while (left_ms(deadline) > 0)
		if (wait_fd(fd, POLLIN, left_ms(deadline)) > 0)
			serve_one(fd, reset);
	close(fd);
	return 0;
}

/* ---- client ---- */

static const char *failure_outcome(int err)
{
	switch (err) {
	case ECONNREFUSED: return "refused";
	case ETIMEDOUT: return "timeout";
	case EHOSTUNREACH:
	case ENETUNREACH: return "unreachable";
	case ECONNRESET: return "reset";
	default: return "error";
	}
}

static void read_tcp_info(int fd, struct observed *o)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		o->total_retrans = ti.tcpi_total_retrans;
		o->tcp_state = ti.tcpi_state;
	}
}

static void note_local(int fd, struct observed *o)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(o->local, sizeof(o->local), "%s:%u", ip, ntohs(a->sin_port));
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(o->local, sizeof(o->local), "[%s]:%u", ip, ntohs(a->sin6_port));
	}
}

/* Non-blocking connect bounded by timeout_ms; 0 when connected. */
static int do_connect(int fd, const struct sockaddr_storage *ss, socklen_t len,
		      unsigned timeout_ms, struct observed *o)
{
	double t0 = now_ms_f();
	int err = 0;
	socklen_t elen = sizeof(err);

	if (connect(fd, (const struct sockaddr *)ss, len) && errno != EINPROGRESS) {
		err = errno;
	} else if (wait_fd(fd, POLLOUT, timeout_ms) <= 0) {
		err = ETIMEDOUT;	/* we gave up: the kernel had no answer yet */
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen)) {
		err = errno;
	}
	note_local(fd, o);
	if (err) {
		o->outcome = failure_outcome(err);
		o->err = err;
		return -1;
	}
	o->connect_ms = now_ms_f() - t0;
	return 0;
}

static void send_request(int fd, unsigned bytes, uint64_t deadline, struct observed *o)
{
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	while (o->sent < bytes && wait_fd(fd, POLLOUT, left_ms(deadline)) > 0) {
		size_t chunk = bytes - o->sent < sizeof(buf) ? bytes - o->sent : sizeof(buf);
		ssize_t n;

		if (o->sent + chunk == bytes)
			buf[chunk - 1] = '\n';
		n = send(fd, buf, chunk, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			o->outcome = failure_outcome(errno);
			o->err = errno;
			return;
		}
		o->sent += n;
	}
}

/* Read until EOF, an error or the deadline. */
static void read_reply(int fd, uint64_t deadline, struct observed *o)
{
	char buf[4096];

	while (wait_fd(fd, POLLIN, left_ms(deadline)) > 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0) {
			o->eof = true;
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			o->outcome = failure_outcome(errno);
			o->err = errno;
			return;
		}
		o->received += n;
	}
}

static void wait_retrans(int fd, unsigned want, uint64_t deadline, struct observed *o)
{
	for (;;) {
		read_tcp_info(fd, o);
		if (o->total_retrans >= want || !left_ms(deadline))
			return;
		usleep(5000);
	}
}

static void print_observed(unsigned i, const struct observed *o, bool linger0)
{
	printf("{\"type\":\"client\",\"i\":%u,\"outcome\":\"%s\",\"errno\":%d,"
	       "\"error\":\"%s\",\"local\":\"%s\",\"connect_ms\":",
	       i, o->outcome, o->err, o->err ? strerror(o->err) : "", o->local);
	if (o->connect_ms >= 0)
		printf("%.3f", o->connect_ms);
	else
		printf("null");
	printf(",\"sent\":%u,\"received\":%u,\"eof\":%s,\"total_retrans\":%u,"
	       "\"tcp_state\":%u,\"linger0\":%s}\n",
	       o->sent, o->received, o->eof ? "true" : "false", o->total_retrans,
	       o->tcp_state, linger0 ? "true" : "false");
	fflush(stdout);
}

static void one_connection(unsigned i, const struct sockaddr_storage *ss, socklen_t len,
			   const struct client_opts *c)
{
	struct observed o = { .outcome = "ok", .connect_ms = -1, .local = "?" };
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	uint64_t deadline;

	if (fd < 0)
		die("socket");
	if (do_connect(fd, ss, len, c->timeout_ms, &o) == 0) {
		deadline = now_ms() + c->timeout_ms;
		send_request(fd, c->send_bytes, deadline, &o);
		if (c->wait_retrans)
			wait_retrans(fd, c->wait_retrans, deadline, &o);
		else if (!o.err)
			read_reply(fd, deadline, &o);
		if (c->hold_ms)
			usleep(c->hold_ms * 1000);
	}
	read_tcp_info(fd, &o);
	if (c->linger0)
		set_linger0(fd);
	print_observed(i, &o, c->linger0);
	close(fd);
}

static int client(int argc, char **argv)
{
	struct client_opts c = { .count = 1, .timeout_ms = 2000, .send_bytes = 64 };
	struct sockaddr_storage ss;
	socklen_t len;

	if (argc < 2)
		usage();
	len = make_addr(argv[0], argv[1], &ss);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;

		if (!strcmp(a, "--count") && has_val)
			c.count = tool_uint(argv[++i], 100000);
		else if (!strcmp(a, "--timeout-ms") && has_val)
			c.timeout_ms = tool_uint(argv[++i], 600000);
		else if (!strcmp(a, "--send") && has_val)
			c.send_bytes = tool_uint(argv[++i], REQ_MAX);
		else if (!strcmp(a, "--wait-retrans") && has_val)
			c.wait_retrans = tool_uint(argv[++i], 1000);
		else if (!strcmp(a, "--hold-ms") && has_val)
			c.hold_ms = tool_uint(argv[++i], 600000);
		else if (!strcmp(a, "--linger0"))
			c.linger0 = true;
		else
			usage();
	}
	for (unsigned i = 0; i < c.count; i++)
		one_connection(i, &ss, len, &c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "connect"))
		return client(argc - 2, argv + 2);
	usage();
	return 2;
}
