/* gs-stallproxy: a single-threaded HTTP/1.1 reverse proxy for gatescope's
 * tests, whose event loop can be made to stall.
 *
 *   gs-stallproxy [--stall-ms N] [--timeout-ms N] [--max-seconds N]
 *                 [--access-log FILE] LISTEN_ADDR PORT BACKEND_ADDR BACKEND_PORT
 *
 * Serves one client connection at a time (accept, one request, answer with
 * Connection: close, close).  Each request gets a fresh upstream connection
 * to BACKEND; the request head is forwarded as it came.  Addresses may be
 * IPv4 or IPv6.
 *
 * Requests under /stall model a gateway whose event loop is blocked by CPU
 * work right after it wrote the request upstream: the proxy sleeps
 * --stall-ms before it looks at the upstream socket again.  Its upstream
 * timeout (--timeout-ms, for the connect and for each read) runs by the
 * clock from the request write; like an event loop whose timer fires in the
 * same iteration as the stall ends, a stall that overran the timeout gets
 * the client a 504 and the upstream socket closed without reading the
 * response already sitting in its receive buffer.  Other requests are
 * relayed (head and Content-Length body).
 *
 * One access-log line per request, in the nginx tests' format:
 *   METHOD URI STATUS UPSTREAM_STATUS CONNECT_TIME HEADER_TIME REQUEST_TIME
 * (seconds; "-" when unknown; 499: the client was gone before the answer).
 * Every wait is bounded; the proxy exits after --max-seconds, or after the
 * current request on SIGINT, SIGTERM or SIGQUIT.  Prints "ready" on stdout
 * once listening. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tool.h"

const char *tool_name = "gs-stallproxy";

#define HEAD_MAX	16384		/* longer heads are refused */
#define BODY_MAX	(1 << 20)	/* longer response bodies are refused */
#define CLIENT_MS	5000		/* for the client to send its head, or take an answer */

struct config {
	unsigned stall_ms;
	unsigned timeout_ms;
	unsigned max_seconds;
	const char *access_log;
};

static struct config cfg = { .stall_ms = 1000, .timeout_ms = 500, .max_seconds = 60 };
static uint64_t deadline_ms;		/* monotonic: nobody waits past this */
static volatile sig_atomic_t stopping;
static FILE *alog;

/* What the access log says about one request. */
struct log_entry {
	char method[16];
	char uri[2048];
	unsigned status;
	unsigned upstream_status;	/* 0: none */
	double connect_s;		/* < 0: unknown */
	double header_s;		/* < 0: unknown */
	uint64_t t0;			/* request head complete, ms */
};

/* One upstream response. */
struct response {
	unsigned status;
	char reason[64];
	char body[BODY_MAX];
	size_t body_len;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

/* Milliseconds until `until` (monotonic ms), never past the deadline. */
static int ms_until(uint64_t until)
{
	uint64_t now = now_ms();

	if (until > deadline_ms)
		until = deadline_ms;
	return now >= until ? 0 : (int)(until - now);
}

static void usage(void)
{
	fputs("usage: gs-stallproxy [--stall-ms N] [--timeout-ms N] [--max-seconds N]\n"
	      "                     [--access-log FILE] LISTEN_ADDR PORT BACKEND_ADDR BACKEND_PORT\n",
	      stderr);
	exit(2);
}

/* Wait for events on fd until `until` (monotonic ms); false on timeout. */
static bool wait_for(int fd, short events, uint64_t until)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&p, 1, ms_until(until));
	} while (n < 0 && errno == EINTR && ms_until(until));
	return n > 0;
}

/* Write all of buf to a non-blocking socket by `until`; false if the peer
 * is gone or the time is up. */
static bool write_all(int fd, const void *buf, size_t len, uint64_t until)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(fd, POLLOUT, until))
				return false;
			continue;
		}
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* Read from fd into buf until it holds a head ("\r\n\r\n"), waiting at most
 * timeout_ms for each read.  Returns the head's length (body bytes may
 * follow it in buf, *have in all), 0 on timeout, -1 on EOF, error or a head
 * too long. */
static ssize_t read_head(int fd, char *buf, size_t *have, unsigned timeout_ms)
{
	char *end;

	*have = 0;
	buf[0] = 0;
	while (!(end = strstr(buf, "\r\n\r\n"))) {
		ssize_t n;

		if (*have == HEAD_MAX)
			return -1;
		if (!wait_for(fd, POLLIN, now_ms() + timeout_ms))
			return 0;
		n = recv(fd, buf + *have, HEAD_MAX - *have, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		*have += n;
		buf[*have] = 0;
	}
	return end + 4 - buf;
}

/* Value of header NAME in a head (lines after the first), or NULL. */
static const char *header(const char *head, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, name, n) && l[2 + n] == ':')
			return l + 3 + n + strspn(l + 3 + n, " \t");
	}
	return NULL;
}

static bool is_stall_path(const char *path)
{
	return !strncmp(path, "/stall", 6) && (path[6] == 0 || path[6] == '/');
}

static void log_request(const struct log_entry *e)
{
	char up[16] = "-", conn[32] = "-", hdr[32] = "-";

	if (!alog)
		return;
	if (e->upstream_status)
		snprintf(up, sizeof(up), "%u", e->upstream_status);
	if (e->connect_s >= 0)
		snprintf(conn, sizeof(conn), "%.3f", e->connect_s);
	if (e->header_s >= 0)
		snprintf(hdr, sizeof(hdr), "%.3f", e->header_s);
	fprintf(alog, "%s %s %u %s %s %s %.3f\n", e->method, e->uri, e->status, up, conn, hdr,
		(now_ms() - e->t0) / 1e3);
	fflush(alog);
}

static const char *reason_of(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	default: return "Gateway Timeout";
	}
}

/* Answer the client with status and body; Connection: close. */
static void answer(int cfd, struct log_entry *e, unsigned status, const char *reason,
		   const char *body, size_t body_len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %u %s\r\nServer: gs-stallproxy\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, reason, body_len);
	uint64_t until = now_ms() + CLIENT_MS;

	e->status = status;
	if (!write_all(cfd, head, n, until) || !write_all(cfd, body, body_len, until))
		e->status = 499;	/* the client left before its answer */
}

static void answer_error(int cfd, struct log_entry *e, unsigned status)
{
	answer(cfd, e, status, reason_of(status), "", 0);
}

/* Connect to the backend by `until`; -1 with errno set on failure
 * (ETIMEDOUT when the time ran out). */
static int connect_backend(const struct sockaddr_storage *be, socklen_t len, uint64_t until)
{
	int fd = socket(be->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t elen = sizeof(err);

	if (fd < 0)
		return -1;
	if (!connect(fd, (const struct sockaddr *)be, len))
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	if (!wait_for(fd, POLLOUT, until)) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
		errno = err ? err : errno;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* The event loop is busy for ms (CPU work): nothing else happens. */
static void stall(unsigned ms)
{
	struct timespec left = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000l };

	while (nanosleep(&left, &left) && errno == EINTR)
		;
}

/* Read the upstream response (head and Content-Length body), each read
 * within the timeout.  Returns the status to answer: 0 when r holds the
 * response, 504 on timeout, 502 on a broken or unsupported response. */
static unsigned read_response(int ufd, struct response *r, uint64_t t_start,
			      struct log_entry *e)
{
	static char buf[HEAD_MAX + 1];
	size_t have;
	ssize_t head_len = read_head(ufd, buf, &have, cfg.timeout_ms);
	const char *cl;
	long want;

	if (head_len <= 0)
		return head_len == 0 ? 504 : 502;
	e->header_s = (now_us() - t_start) / 1e6;
	if (sscanf(buf, "HTTP/1.%*1[01] %3u %63[^\r\n]", &r->status, r->reason) < 1 ||
	    r->status < 100 || r->status > 599)
		return 502;
	e->upstream_status = r->status;
	cl = header(buf, "Content-Length");
	want = cl ? atol(cl) : -1;
	if (want < 0 || want > BODY_MAX || (long)(have - head_len) > want)
		return 502;	/* no length, chunked, too long, or more than announced */
	r->body_len = have - head_len;
	memcpy(r->body, buf + head_len, r->body_len);
	while ((long)r->body_len < want) {
		ssize_t n;

		if (!wait_for(ufd, POLLIN, now_ms() + cfg.timeout_ms))
			return 504;
		n = recv(ufd, r->body + r->body_len, want - r->body_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return 502;
		r->body_len += n;
	}
	return 0;
}

/* Forward the request head to the backend and answer from its response. */
static void proxy(int cfd, const char *head, size_t head_len, struct log_entry *e,
		  const struct sockaddr_storage *be, socklen_t be_len)
{
	static struct response r;
	uint64_t t_start = now_us(), t_write;
	unsigned failed;
	int ufd;

	ufd = connect_backend(be, be_len, t_start / 1000 + cfg.timeout_ms);
	if (ufd < 0) {
		e->upstream_status = errno == ETIMEDOUT ? 504 : 502;
		answer_error(cfd, e, e->upstream_status);
		return;
	}
	e->connect_s = (now_us() - t_start) / 1e6;
	if (!write_all(ufd, head, head_len, now_ms() + cfg.timeout_ms)) {
		close(ufd);
		e->upstream_status = 502;
		answer_error(cfd, e, 502);
		return;
	}
	t_write = now_ms();
	if (is_stall_path(e->uri))
		stall(cfg.stall_ms);
	/* The timer fires in the iteration the stall ends: the response
	 * waiting in the socket is never looked at. */
	if (now_ms() >= t_write + cfg.timeout_ms)
		failed = 504;
	else
		failed = read_response(ufd, &r, t_start, e);
	close(ufd);
	if (failed) {
		e->upstream_status = e->upstream_status ? e->upstream_status : failed;
		answer_error(cfd, e, failed);
		return;
	}
	answer(cfd, e, r.status, r.reason[0] ? r.reason : "Status", r.body, r.body_len);
}

/* One client connection: one request. */
static void serve(int cfd, const struct sockaddr_storage *be, socklen_t be_len)
{
	static char buf[HEAD_MAX + 1];
	struct log_entry e = { .connect_s = -1, .header_s = -1 };
	char target[2048];
	size_t have;
	ssize_t head_len = read_head(cfd, buf, &have, CLIENT_MS);
	const char *cl;

	if (head_len <= 0)
		return;		/* no request: nothing to log, as nginx */
	e.t0 = now_ms();
	if (sscanf(buf, "%15s %2047s HTTP/1.%*1[01]", e.method, target) != 2) {
		snprintf(e.method, sizeof(e.method), "-");
		snprintf(e.uri, sizeof(e.uri), "-");
		answer_error(cfd, &e, 400);
	} else {
		target[strcspn(target, "?")] = 0;
		snprintf(e.uri, sizeof(e.uri), "%s", target);
		cl = header(buf, "Content-Length");
		if (header(buf, "Transfer-Encoding") || (cl && atol(cl) != 0))
			answer_error(cfd, &e, 501);	/* request bodies: not for this proxy */
		else
			proxy(cfd, buf, head_len, &e, be, be_len);
	}
	log_request(&e);
}

static int listen_on(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = tool_sockaddr(addr, port, &ss);
	int one = 1, fd;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 512)) {
		fprintf(stderr, "gs-stallproxy: listen on %s port %u: %s\n", addr, port,
			strerror(errno));
		exit(1);
	}
	return fd;
}

/* Options, then LISTEN_ADDR PORT BACKEND_ADDR BACKEND_PORT (argv + i). */
static int parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(o, "--stall-ms"))
			cfg.stall_ms = tool_uint(v, 600000);
		else if (!strcmp(o, "--timeout-ms"))
			cfg.timeout_ms = tool_uint(v, 600000);
		else if (!strcmp(o, "--max-seconds"))
			cfg.max_seconds = tool_uint(v, 86400);
		else if (!strcmp(o, "--access-log"))
			cfg.access_log = v;
		else
			usage();
	}
	if (argc - i != 4)
		usage();
	return i;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };	/* no SA_RESTART */

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage be;
	socklen_t be_len;
	int i = parse_args(argc, argv), lfd;
	unsigned port = tool_uint(argv[i + 1], 65535);

	be_len = tool_sockaddr(argv[i + 2], tool_uint(argv[i + 3], 65535), &be);
	if (cfg.access_log) {
		alog = fopen(cfg.access_log, "a");
		if (!alog) {
			fprintf(stderr, "gs-stallproxy: %s: %s\n", cfg.access_log, strerror(errno));
			return 1;
		}
	}
	deadline_ms = now_ms() + cfg.max_seconds * 1000ull;
	/* The last request's stall may run past the deadline: never by much. */
	alarm(cfg.max_seconds + cfg.stall_ms / 1000 + 2);
	handle_signals();
	lfd = listen_on(argv[i], port);
	printf("ready\n");
	fflush(stdout);
	while (!stopping && ms_until(deadline_ms)) {
		int cfd;

		if (!wait_for(lfd, POLLIN, now_ms() + 200))
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		serve(cfd, &be, be_len);
		close(cfd);
	}
	return 0;
}
