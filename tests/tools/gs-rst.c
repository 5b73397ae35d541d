/* gs-rst: a backend that answers every request with a TCP reset, and a
 * client that counts the resets it receives (the ground truth for
 * gatescope_resets_total).
 *
 *   gs-rst server IP PORT COUNT   accept COUNT connections; read each
 *                                 request, then close with SO_LINGER {1,0}
 *                                 (an RST); prints "listening" when ready
 *   gs-rst client IP PORT COUNT   COUNT times: connect, send a request,
 *                                 read; prints "resets N" (reads that
 *                                 failed with ECONNRESET) and
 *                                 "connects N" (connections established)
 *
 * Bounded: every socket has 5 s timeouts and the server gives up after
 * 60 s. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define REQUEST "GET /reset HTTP/1.1\r\nHost: gs-rst\r\nConnection: close\r\n\r\n"

static int resolve(const char *ip, const char *port, struct addrinfo **ai)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	int err = getaddrinfo(ip, port, &hints, ai);

	if (err)
		fprintf(stderr, "gs-rst: %s port %s: %s\n", ip, port, gai_strerror(err));
	return err ? -1 : 0;
}

static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Read until the end of the request head (or EOF, error, timeout). */
static void read_request(int fd)
{
	char buf[4096];
	size_t n = 0;

	while (n < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);

		if (r <= 0)
			return;
		n += r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return;
	}
}

static int server(struct addrinfo *ai, long count)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int one = 1, ls = socket(ai->ai_family, SOCK_STREAM, 0);
	time_t deadline = time(NULL) + 60;

	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, ai->ai_addr, ai->ai_addrlen) || listen(ls, 128)) {
		perror("gs-rst: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (long i = 0; i < count && time(NULL) < deadline; i++) {
		struct pollfd p = { .fd = ls, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 1000) <= 0) {
			i--;
			continue;
		}
		fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		timeouts(fd);
		read_request(fd);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);	/* with linger {1,0}: RST instead of FIN */
	}
	close(ls);
	return 0;
}

static int client(struct addrinfo *ai, long count)
{
	long resets = 0, connects = 0;

	for (long i = 0; i < count; i++) {
		int fd = socket(ai->ai_family, SOCK_STREAM, 0);
		char buf[512];
		ssize_t r;

		if (fd < 0)
			return 1;
		timeouts(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			close(fd);
			continue;
		}
		connects++;
		if (send(fd, REQUEST, strlen(REQUEST), MSG_NOSIGNAL) < 0) {
			resets += errno == ECONNRESET;
			close(fd);
			continue;
		}
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		resets += r < 0 && errno == ECONNRESET;
		close(fd);
	}
	printf("connects %ld\nresets %ld\n", connects, resets);
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo *ai;
	long count;
	int ret;

	if (argc != 5 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: gs-rst server|client IP PORT COUNT\n");
		return 2;
	}
	count = strtol(argv[4], NULL, 10);
	if (count < 1 || count > 100000 || resolve(argv[2], argv[3], &ai))
		return 2;
	ret = !strcmp(argv[1], "server") ? server(ai, count) : client(ai, count);
	freeaddrinfo(ai);
	return ret;
}
