/* gs-pieces: an HTTP/1.1 client that writes its request head in pieces.
 *
 *   gs-pieces [--pieces N] [--pause-ms M] [--host H] [--timeout-ms T]
 *             [--upgrade PROTO [--tunnel BYTES]...] ADDR PORT PATH
 *
 * Connects to ADDR PORT, writes "GET PATH HTTP/1.1" and its headers in N
 * writes (default 7) of nearly equal size with M ms (default 20) between
 * them, TCP_NODELAY on so that every write leaves as its own segment, as a
 * slow or hand-written client sends them.  Then reads the response head and
 * its body (Content-Length, chunked, or until EOF).
 *
 * With --upgrade, the head asks for "Upgrade: PROTO"; after a 101 every
 * --tunnel argument is written as one write inside the tunnel, and as many
 * bytes are read back (the test backend echoes them).  Bash's $'...'
 * quoting passes CR and LF, so tunnel bytes can look like HTTP.
 *
 * Prints one JSON line with what this client saw: the oracle the tests
 * compare gatescope against.  Every wait is bounded by --timeout-ms
 * (default 5000) for the whole exchange. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

const char *tool_name = "gs-pieces";

#define HEAD_MAX	8192
#define TUNNEL_MAX	16

struct opts {
	unsigned pieces, pause_ms, timeout_ms;
	const char *host, *upgrade;
	const char *tunnel[TUNNEL_MAX];
	unsigned ntunnel;
};

/* What the client saw, printed as its JSON line. */
struct seen {
	const char *outcome;	/* ok, truncated, timeout, error, refused */
	unsigned local_port;
	unsigned writes;	/* head writes made */
	unsigned status;	/* 0: no status line */
	long content_length;	/* -1: none announced */
	bool chunked, complete;
	unsigned long body;	/* body bytes received */
	unsigned tunnel_sent, tunnel_echoed;	/* bytes */
};

static uint64_t deadline_ms;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(void)
{
	uint64_t now = now_ms();

	return now >= deadline_ms ? 0 : (int)(deadline_ms - now);
}

static void usage(void)
{
	fputs("usage: gs-pieces [--pieces N] [--pause-ms M] [--host H] [--timeout-ms T]\n"
	      "                 [--upgrade PROTO [--tunnel BYTES]...] ADDR PORT PATH\n", stderr);
	exit(2);
}

static bool wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, left_ms());
	while (n < 0 && errno == EINTR);
	return n > 0;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* Read into buf[have..cap); bytes read, 0 on EOF, -1 on error or time up. */
static ssize_t read_some(int fd, char *buf, size_t have, size_t cap)
{
	ssize_t n;

	if (!wait_in(fd))
		return -1;
	do
		n = read(fd, buf + have, cap - have);
	while (n < 0 && errno == EINTR);
	return n;
}

/* The head's status and framing. */
static void parse_head(const char *head, struct seen *s)
{
	const char *line = strstr(head, "\r\n");

	s->content_length = -1;
	sscanf(head, "HTTP/1.%*c %u", &s->status);
	while (line && line[2] != '\r') {
		line += 2;
		if (!strncasecmp(line, "Content-Length:", 15))
			s->content_length = atol(line + 15);
		else if (!strncasecmp(line, "Transfer-Encoding:", 18) &&
			 strstr(line, "chunked") && strstr(line, "chunked") < strstr(line, "\r\n"))
			s->chunked = true;
		line = strstr(line, "\r\n");
	}
}

/* A chunked body is complete when its last chunk ("0\r\n\r\n") arrived;
 * the tail of what was read is enough to tell (no trailers here). */
static bool chunked_done(const char *tail, size_t n)
{
	return n >= 5 && !memcmp(tail + n - 5, "0\r\n\r\n", 5);
}

static void read_body(int fd, char *buf, size_t have, struct seen *s)
{
	char tail[8] = "";
	size_t ntail = 0;

	for (;;) {
		/* Keep the last bytes across reads for the chunked end check. */
		for (size_t i = 0; i < have; i++) {
			if (ntail == sizeof(tail))
				memmove(tail, tail + 1, --ntail);
			tail[ntail++] = buf[i];
		}
		s->body += have;
		if (s->content_length >= 0 && s->body >= (unsigned long)s->content_length) {
			s->complete = true;
			return;
		}
		if (s->chunked && chunked_done(tail, ntail)) {
			s->complete = true;
			return;
		}
		ssize_t n = read_some(fd, buf, 0, HEAD_MAX);

		if (n == 0) {
			/* EOF: complete only when the close delimits the body. */
			s->complete = s->content_length < 0 && !s->chunked;
			if (!s->complete)
				s->outcome = "truncated";
			return;
		}
		if (n < 0) {
			s->outcome = left_ms() ? "error" : "timeout";
			return;
		}
		have = n;
	}
}

static void tunnel(int fd, const struct opts *o, struct seen *s, char *buf, size_t have)
{
	for (unsigned i = 0; i < o->ntunnel; i++) {
		size_t want = strlen(o->tunnel[i]);

		if (!write_all(fd, o->tunnel[i], want)) {
			s->outcome = "error";
			return;
		}
		s->tunnel_sent += want;
		/* Bytes the backend already echoed count against this write. */
		while (have < want) {
			ssize_t n = read_some(fd, buf, have, HEAD_MAX);

			if (n <= 0) {
				s->outcome = n == 0 ? "truncated" : left_ms() ? "error" : "timeout";
				s->tunnel_echoed += have;
				return;
			}
			have += n;
		}
		s->tunnel_echoed += want;
		have -= want;
		memmove(buf, buf + want, have);
	}
	s->complete = true;
}

static void exchange(int fd, const char *path, const struct opts *o, struct seen *s)
{
	static char req[HEAD_MAX], buf[HEAD_MAX + 1];
	size_t len, off = 0, have = 0;
	char *end;
	int n;

	if (o->upgrade)
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gs-pieces\r\n"
			     "Accept: */*\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n",
			     path, o->host, o->upgrade);
	else
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gs-pieces\r\n"
			     "Accept: */*\r\nConnection: close\r\n\r\n", path, o->host);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "gs-pieces: request head too long\n");
		exit(2);
	}
	len = n;
	for (unsigned i = 0; i < o->pieces && off < len; i++) {
		/* Piece i ends at len * (i + 1) / pieces: sizes differ by <= 1. */
		size_t to = i + 1 == o->pieces ? len : len * (i + 1) / o->pieces;

		if (to <= off)
			continue;
		if (i && o->pause_ms)
			usleep(o->pause_ms * 1000);
		if (!write_all(fd, req + off, to - off)) {
			s->outcome = "error";
			return;
		}
		s->writes++;
		off = to;
	}
	buf[0] = 0;
	while (!(end = strstr(buf, "\r\n\r\n"))) {
		ssize_t got = read_some(fd, buf, have, HEAD_MAX);

		if (got <= 0) {
			s->outcome = got == 0 ? "truncated" : left_ms() ? "error" : "timeout";
			return;
		}
		have += got;
		buf[have] = 0;
	}
	end += 4;
	parse_head(buf, s);
	have -= end - buf;
	memmove(buf, end, have);
	if (s->status == 101)
		tunnel(fd, o, s, buf, have);
	else
		read_body(fd, buf, have, s);
}

static void print_seen(const struct seen *s, const char *path)
{
	printf("{\"type\":\"client\",\"path\":\"");
	for (; *path; path++)	/* JSON string: escape what needs it */
		printf(*path == '"' || *path == '\\' ? "\\%c" : (unsigned char)*path < 0x20 ?
		       "\\u%04x" : "%c", *path);
	printf("\",\"outcome\":\"%s\",\"local_port\":%u,\"writes\":%u,"
	       "\"status\":%u,\"content_length\":%ld,\"chunked\":%s,\"complete\":%s,"
	       "\"body\":%lu,\"tunnel_sent\":%u,\"tunnel_echoed\":%u}\n",
	       s->outcome, s->local_port, s->writes, s->status, s->content_length,
	       s->chunked ? "true" : "false", s->complete ? "true" : "false", s->body,
	       s->tunnel_sent, s->tunnel_echoed);
}

int main(int argc, char **argv)
{
	struct opts o = { .pieces = 7, .pause_ms = 20, .timeout_ms = 5000, .host = "gs.test" };
	struct seen s = { .outcome = "ok", .content_length = -1 };
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd, one = 1;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			usage();
		if (!strcmp(a, "--pieces"))
			o.pieces = tool_uint(argv[++i], 1000);
		else if (!strcmp(a, "--pause-ms"))
			o.pause_ms = tool_uint(argv[++i], 10000);
		else if (!strcmp(a, "--timeout-ms"))
			o.timeout_ms = tool_uint(argv[++i], 600000);
		else if (!strcmp(a, "--host"))
			o.host = argv[++i];
		else if (!strcmp(a, "--upgrade"))
			o.upgrade = argv[++i];
		else if (!strcmp(a, "--tunnel") && o.ntunnel < TUNNEL_MAX)
			o.tunnel[o.ntunnel++] = argv[++i];
		else
			usage();
	}
	if (argc - i != 3 || !o.pieces || (o.ntunnel && !o.upgrade))
		usage();
	len = tool_sockaddr(argv[i], tool_uint(argv[i + 1], 65535), &ss);
	deadline_ms = now_ms() + o.timeout_ms;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("gs-pieces: socket");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A blocking connect is bounded by the kernel's SYN retries: the tests
	 * only connect to their own gateway, which listens. */
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		s.outcome = errno == ECONNREFUSED ? "refused" : "error";
	} else {
		struct sockaddr_storage me;
		socklen_t mlen = sizeof(me);

		if (!getsockname(fd, (struct sockaddr *)&me, &mlen))
			s.local_port = ntohs(me.ss_family == AF_INET ?
					     ((struct sockaddr_in *)&me)->sin_port :
					     ((struct sockaddr_in6 *)&me)->sin6_port);
		exchange(fd, argv[i + 2], &o, &s);
	}
	print_seen(&s, argv[i + 2]);
	close(fd);
	return 0;
}
