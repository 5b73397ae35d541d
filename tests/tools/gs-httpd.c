/* gs-httpd: a small HTTP/1.1 backend for gatescope's gateway tests.
 *
 *   gs-httpd [OPTIONS] ADDR PORT
 *
 * Listens on ADDR PORT (IPv4 or IPv6) and forks one child per connection.
 * What a request gets depends on the first segment of its path, or on
 * --mode when that segment names no mode:
 *
 *   /ok          200 with Content-Length (--body-bytes)
 *   /slow        sleep ?ms=N (or --delay-ms) before answering 200; stop
 *                waiting when the client goes away
 *   /hang        the same, but never notice the client went away (a
 *                backend stuck in its work)
 *   /reset       read the request, then close with SO_LINGER {1,0} (RST)
 *   /throttled   429; ?code=503 (or --retry-after): 503 with Retry-After
 *   /partial     head announcing a body, half of it, then FIN (with
 *                --chunked: one chunk and no last chunk, then FIN)
 *   /midstall    head announcing a body, half of it (or one chunk), then
 *                hang for ?ms=N (or --delay-ms) without noticing the
 *                client went away, then FIN: a backend stuck mid-body
 *   /upgrade     to a request with an Upgrade header: 101 Switching
 *                Protocols, then echo every byte back until EOF (a
 *                tunnel); without one: 426
 *   /status/NNN  answer NNN
 *
 * Keep-alive: HTTP/1.1 connections stay open until the client asks to
 * close, or until idle for --keepalive-ms (0: never), when the server
 * closes them (FIN) as keep-alive servers do.  --chunked sends bodies with
 * chunked transfer encoding.  Every wait is bounded: the server and every
 * child exit after --max-seconds (default 60).  Prints "ready" on stdout
 * once listening. */
#include <arpa/inet.h>
#include <errno.h>
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

const char *tool_name = "gs-httpd";

#define HEAD_MAX	16384	/* longer request heads are refused */
#define BODY_MAX	(1 << 20)

enum mode { M_OK, M_SLOW, M_HANG, M_RESET, M_THROTTLED, M_PARTIAL, M_MIDSTALL, M_UPGRADE,
	    M_STATUS, M_NONE };

static const char *const mode_names[] = {
	[M_OK] = "ok", [M_SLOW] = "slow", [M_HANG] = "hang", [M_RESET] = "reset",
	[M_THROTTLED] = "throttled", [M_PARTIAL] = "partial", [M_MIDSTALL] = "midstall",
	[M_UPGRADE] = "upgrade", [M_STATUS] = "status",
};

struct config {
	enum mode mode;
	unsigned delay_ms;
	unsigned keepalive_ms;
	unsigned max_seconds;
	unsigned body_bytes;
	bool chunked;
	bool retry_after;
	bool verbose;
};

static struct config cfg = {
	.mode = M_OK, .delay_ms = 2000, .max_seconds = 60, .body_bytes = 3,
};
static uint64_t deadline_ms;	/* monotonic: nobody waits past this */

/* One parsed request head. */
struct req {
	char method[16];
	char path[2048];
	char query[2048];
	char upgrade[64];	/* Upgrade header value, "" if none */
	long content_length;
	bool close;		/* Connection: close, or HTTP/1.0 without keep-alive */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int ms_left(void)
{
	uint64_t now = now_ms();

	return now >= deadline_ms ? 0 : (int)(deadline_ms - now);
}

static void usage(void)
{
	fputs("usage: gs-httpd [--mode ok|slow|hang|reset|throttled|partial|midstall|upgrade|status]\n"
	      "                [--delay-ms N]\n"
	      "                [--keepalive-ms N] [--max-seconds N] [--body-bytes N]\n"
	      "                [--chunked] [--retry-after] [-v] ADDR PORT\n", stderr);
	exit(2);
}

static enum mode mode_of(const char *name, size_t len)
{
	for (int m = 0; m < M_NONE; m++)
		if (strlen(mode_names[m]) == len && !strncmp(name, mode_names[m], len))
			return m;
	return M_NONE;
}

/* Write all of buf; false if the peer is gone. */
static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* Wait until fd is readable or timeout_ms passes (< 0: until the deadline). */
static bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int left = ms_left();

	if (timeout_ms < 0 || timeout_ms > left)
		timeout_ms = left;
	return poll(&p, 1, timeout_ms) > 0;
}

static const char *reason_of(unsigned status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* Send a whole response with a body of body_len bytes of 'x' (no body for
 * HEAD, 1xx, 204, 304). */
static char body[BODY_MAX];	/* filled before the first fork: children share it */

static bool respond(int fd, const struct req *r, unsigned status, const char *extra,
		    size_t body_len)
{
	char head[512], chunk[32];
	bool no_body = !strcmp(r->method, "HEAD") || status / 100 == 1 || status == 204 ||
		       status == 304;
	int n;

	if (body_len > sizeof(body))
		body_len = sizeof(body);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\nServer: gs-httpd\r\n%s%s", status,
		     reason_of(status), extra ? extra : "", r->close ? "Connection: close\r\n" : "");
	if (cfg.chunked && !no_body)
		n += snprintf(head + n, sizeof(head) - n, "Transfer-Encoding: chunked\r\n\r\n");
	else
		n += snprintf(head + n, sizeof(head) - n, "Content-Length: %zu\r\n\r\n", body_len);
	if (!write_all(fd, head, n))
		return false;
	if (no_body)
		return true;
	if (!cfg.chunked)
		return write_all(fd, body, body_len);
	if (body_len) {
		n = snprintf(chunk, sizeof(chunk), "%zx\r\n", body_len);
		if (!write_all(fd, chunk, n) || !write_all(fd, body, body_len) ||
		    !write_all(fd, "\r\n", 2))
			return false;
	}
	return write_all(fd, "0\r\n\r\n", 5);
}

static bool header_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return !strncasecmp(line, name, n) && line[n] == ':';
}

static const char *header_value(const char *line)
{
	const char *v = strchr(line, ':') + 1;

	return v + strspn(v, " \t");
}

/* Parse the head in buf (NUL-terminated, ends with the blank line). */
static bool parse_head(char *buf, struct req *r)
{
	char *save = NULL, *line = strtok_r(buf, "\r\n", &save);
	char target[2048], version[16];
	char *q;

	memset(r, 0, sizeof(*r));
	if (!line || sscanf(line, "%15s %2047s %15s", r->method, target, version) != 3)
		return false;
	q = strchr(target, '?');
	if (q) {
		snprintf(r->query, sizeof(r->query), "%s", q + 1);
		*q = 0;
	}
	snprintf(r->path, sizeof(r->path), "%s", target);
	r->close = !strcmp(version, "HTTP/1.0");
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		if (header_is(line, "Content-Length"))
			r->content_length = atol(header_value(line));
		else if (header_is(line, "Upgrade"))
			snprintf(r->upgrade, sizeof(r->upgrade), "%s", header_value(line));
		else if (header_is(line, "Connection"))
			r->close = !strncasecmp(header_value(line), "close", 5) ||
				   (r->close && strncasecmp(header_value(line), "keep-alive", 10));
	}
	return r->content_length >= 0 && r->content_length <= BODY_MAX;
}

/* Value of NAME in the query string, or def. */
static unsigned query_uint(const struct req *r, const char *name, unsigned def, unsigned max)
{
	size_t n = strlen(name);

	for (const char *p = r->query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (!strncmp(p, name, n) && p[n] == '=') {
			unsigned long v = strtoul(p + n + 1, NULL, 10);

			return v > max ? max : v;
		}
	}
	return def;
}

static void close_with_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
	exit(0);
}

/* Sleep ms, but stop early if the client goes away (FIN or RST). */
/* Bounded by --max-seconds like every wait. */
static void sleep_ms(unsigned ms)
{
	uint64_t until = now_ms() + ms;

	while (now_ms() < until && ms_left())
		usleep(10000);
}

static void sleep_unless_gone(int fd, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	char c;

	while (now_ms() < until && ms_left()) {
		ssize_t n;

		if (!wait_readable(fd, until - now_ms()))
			continue;
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
		/* Pipelined bytes of a next request: just wait the time out. */
		while (now_ms() < until && ms_left())
			usleep(1000);
	}
}

/* A 200 head that announces 2 * --body-bytes + 2 body bytes (or a chunked
 * body), then --body-bytes + 1 of them (as one chunk): a response that is
 * cut in the middle of its body.  False if the peer is gone. */
static bool respond_half(int fd)
{
	char head[256], chunk[32];
	unsigned part = cfg.body_bytes + 1;
	int n;

	if (cfg.chunked) {
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nServer: gs-httpd\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n");
		snprintf(chunk, sizeof(chunk), "%x\r\n", part);
		return write_all(fd, head, n) && write_all(fd, chunk, strlen(chunk)) &&
		       write_all(fd, body, part) && write_all(fd, "\r\n", 2);
	}
	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nServer: gs-httpd\r\n"
		     "Content-Length: %u\r\n\r\n", 2 * cfg.body_bytes + 2);
	return write_all(fd, head, n) && write_all(fd, body, part);
}

/* After a 101: echo every byte back (pending ones first) until EOF, an
 * error or the deadline.  The bytes are opaque: whatever they look like,
 * they are the tunnel's payload, not HTTP. */
static void echo_tunnel(int fd, const char *pending, size_t npending)
{
	char buf[4096];
	ssize_t n;

	if (npending && !write_all(fd, pending, npending))
		return;
	while (wait_readable(fd, -1)) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || !write_all(fd, buf, n))
			return;
	}
}

/* Answer one request (pending: bytes already read after its head and
 * body); false when the connection must end. */
static bool serve_request(int fd, const struct req *r, const char *pending, size_t npending)
{
	const char *seg = r->path + (r->path[0] == '/');
	size_t seglen = strcspn(seg, "/");
	enum mode m = mode_of(seg, seglen);
	char extra[192];
	unsigned status;

	if (m == M_NONE)
		m = cfg.mode;
	if (cfg.verbose)
		fprintf(stderr, "gs-httpd[%d]: %s %s -> %s\n", getpid(), r->method, r->path,
			mode_names[m]);
	switch (m) {
	case M_SLOW:
		sleep_unless_gone(fd, query_uint(r, "ms", cfg.delay_ms, 600000));
		return respond(fd, r, 200, NULL, cfg.body_bytes);
	case M_HANG:
		sleep_ms(query_uint(r, "ms", cfg.delay_ms, 600000));
		return respond(fd, r, 200, NULL, cfg.body_bytes);
	case M_RESET:
		close_with_reset(fd);
		return false;
	case M_THROTTLED:
		if (query_uint(r, "code", cfg.retry_after ? 503 : 429, 599) == 503)
			return respond(fd, r, 503, "Retry-After: 1\r\n", cfg.body_bytes);
		return respond(fd, r, 429, NULL, cfg.body_bytes);
	case M_PARTIAL:
		respond_half(fd);
		shutdown(fd, SHUT_WR);
		return false;
	case M_MIDSTALL:
		/* Stuck after half the body: the gateway's read timer, not a
		 * close, ends the response.  The close after the delay comes
		 * long after the gateway gave up. */
		if (respond_half(fd))
			sleep_ms(query_uint(r, "ms", cfg.delay_ms, 600000));
		return false;
	case M_UPGRADE:
		if (!r->upgrade[0])
			return respond(fd, r, 426, NULL, 0);
		snprintf(extra, sizeof(extra),
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\n"
			 "Connection: Upgrade\r\n\r\n", r->upgrade);
		if (write_all(fd, extra, strlen(extra)))
			echo_tunnel(fd, pending, npending);
		return false;
	case M_STATUS:
		/* /status/NNN, or ?code=NNN when --mode status picked it */
		if (mode_of(seg, seglen) == M_STATUS)
			status = strtoul(seg + seglen + (seg[seglen] == '/'), NULL, 10);
		else
			status = query_uint(r, "code", 200, 599);
		if (status < 100 || status > 599)
			status = 400;
		return respond(fd, r, status, NULL, cfg.body_bytes);
	default:
		return respond(fd, r, 200, NULL, cfg.body_bytes);
	}
}

/* Read and discard n body bytes that follow the head (some may already be
 * in buf[0..have)); returns how many bytes of buf remain after them. */
static long skip_body(int fd, char *buf, size_t have, long n)
{
	char sink[4096];

	if ((long)have >= n) {
		memmove(buf, buf + n, have - n);
		return have - n;
	}
	n -= have;
	while (n > 0 && wait_readable(fd, -1)) {
		ssize_t got = read(fd, sink, n < (long)sizeof(sink) ? n : (long)sizeof(sink));

		if (got <= 0)
			return -1;
		n -= got;
	}
	return n ? -1 : 0;
}

static void serve_connection(int fd)
{
	static char buf[HEAD_MAX + 1];
	size_t have = 0;
	bool idle = true;	/* no byte of the next request yet */

	for (;;) {
		char *end = NULL;
		struct req r;
		ssize_t n;
		long rest;

		buf[have] = 0;
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			int timeout = idle && cfg.keepalive_ms ? (int)cfg.keepalive_ms : -1;

			if (have == HEAD_MAX || !wait_readable(fd, timeout))
				goto out;	/* idle keep-alive timeout, or lifetime over */
			n = read(fd, buf + have, HEAD_MAX - have);
			if (n <= 0)
				goto out;
			have += n;
			buf[have] = 0;
			idle = false;
		}
		end += 4;
		rest = have - (end - buf);
		end[-1] = 0;
		if (!parse_head(buf, &r)) {
			r.close = true;
			respond(fd, &r, 400, NULL, 0);
			goto out;
		}
		memmove(buf, end, rest);
		rest = skip_body(fd, buf, rest, r.content_length);
		if (rest < 0 || !serve_request(fd, &r, buf, rest) || r.close)
			goto out;
		have = rest;
		idle = have == 0;
	}
out:
	close(fd);
}

static int listen_on(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = tool_sockaddr(addr, port, &ss);
	int one = 1, fd;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 512)) {
		fprintf(stderr, "gs-httpd: listen on %s port %u: %s\n", addr, port, strerror(errno));
		exit(1);
	}
	return fd;
}

static void parse_args(int argc, char **argv, const char **addr, unsigned *port)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--chunked")) {
			cfg.chunked = true;
			continue;
		}
		if (!strcmp(o, "--retry-after")) {
			cfg.retry_after = true;
			continue;
		}
		if (!strcmp(o, "-v")) {
			cfg.verbose = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(o, "--mode")) {
			cfg.mode = mode_of(v, strlen(v));
			if (cfg.mode == M_NONE)
				usage();
		} else if (!strcmp(o, "--delay-ms")) {
			cfg.delay_ms = tool_uint(v, 600000);
		} else if (!strcmp(o, "--keepalive-ms")) {
			cfg.keepalive_ms = tool_uint(v, 3600000);
		} else if (!strcmp(o, "--max-seconds")) {
			cfg.max_seconds = tool_uint(v, 86400);
		} else if (!strcmp(o, "--body-bytes")) {
			cfg.body_bytes = tool_uint(v, BODY_MAX);
		} else {
			usage();
		}
	}
	if (argc - i != 2)
		usage();
	*addr = argv[i];
	*port = tool_uint(argv[i + 1], 65535);
}

int main(int argc, char **argv)
{
	const char *addr;
	unsigned port;
	int lfd;

	parse_args(argc, argv, &addr, &port);
	memset(body, 'x', sizeof(body));
	deadline_ms = now_ms() + cfg.max_seconds * 1000ull;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);	/* children reap themselves */
	lfd = listen_on(addr, port);
	printf("ready\n");
	fflush(stdout);
	while (ms_left()) {
		int fd;
		pid_t pid;

		if (!wait_readable(lfd, 200))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pid = fork();
		if (pid == 0) {
			close(lfd);
			alarm(ms_left() / 1000 + 1);	/* a child never outlives the server by much */
			serve_connection(fd);
			_exit(0);
		}
		close(fd);
	}
	return 0;
}
