/* gs-churn: bounded loopback TCP connection churn.
 *
 * One process, two roles: a server thread accepts on 127.0.0.1 and closes,
 * client threads connect and close, paced to a rate or as fast as possible.
 * Every run is bounded by a duration cap and a connection cap.  At the end
 * one line reports what was achieved:
 *
 *   gs-churn: connections=50000 seconds=10.000 rate=5000.0 errors=0 accepted=50000
 *
 * connections counts client connects that succeeded, errors the ones that
 * failed, accepted what the server accepted; rate = connections / seconds.
 * Used by tools/bench to load gatescope's TCP tracepoint programs.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_THREADS	8
#define MAX_SECONDS	300
#define MAX_CONNS	10000000ull
#define START_WAIT_MS	60000	/* -w: give up waiting for the go line */
#define DRAIN_MS	2000	/* server: finish open connections after the run */

enum closer { CLOSE_CLIENT, CLOSE_SERVER };

struct config {
	double rate;		/* connections per second, 0 = as fast as possible */
	double seconds;		/* duration cap */
	uint64_t max_conns;	/* connection cap */
	uint16_t port;		/* 0: ephemeral */
	int threads;
	enum closer closer;	/* who sends the first FIN */
	bool wait_go;		/* print the port, wait for a line on stdin */
};

struct run {
	const struct config *cfg;
	struct sockaddr_in addr;
	uint64_t start_ns;
	uint64_t end_ns;
	atomic_uint_fast64_t next;	/* next connection index to schedule */
	atomic_uint_fast64_t done;	/* successful connects */
	atomic_uint_fast64_t errors;	/* failed connects */
	atomic_uint_fast64_t accepted;
	atomic_bool clients_done;
	int listen_fd;
	int first_errno;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000ull, .tv_nsec = t % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void usage(FILE *out)
{
	fputs(
"Usage: gs-churn [-r RATE] [-d SEC] [-n COUNT] [-p PORT] [-j THREADS]\n"
"                [-f client|server] [-w]\n"
"Loopback TCP connection churn on 127.0.0.1, bounded in time and count.\n"
"  -r RATE     connections per second; 0 = as fast as possible (default 0)\n"
"  -d SEC      stop after SEC seconds (default 10, at most 300)\n"
"  -n COUNT    stop after COUNT connections (default 10000000)\n"
"  -p PORT     server port on 127.0.0.1 (default 0: any free port)\n"
"  -j THREADS  client threads (default 1, at most 8)\n"
"  -f WHO      who closes first: client (default) or server\n"
"  -w          print \"listening PORT\", then wait for a line on stdin\n"
"              (at most 60 s) before starting the churn\n"
"Prints: gs-churn: connections=N seconds=S rate=R errors=E accepted=A\n",
	out);
}

static bool parse_num(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= min && *out <= max;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	double v;
	int opt;

	*c = (struct config){ .seconds = 10, .max_conns = MAX_CONNS, .threads = 1 };
	while ((opt = getopt(argc, argv, "r:d:n:p:j:f:wh")) != -1) {
		switch (opt) {
		case 'r':
			if (!parse_num(optarg, 0, 1e7, &c->rate))
				goto bad;
			break;
		case 'd':
			if (!parse_num(optarg, 0.01, MAX_SECONDS, &c->seconds))
				goto bad;
			break;
		case 'n':
			if (!parse_num(optarg, 1, MAX_CONNS, &v) || v != (uint64_t)v)
				goto bad;
			c->max_conns = v;
			break;
		case 'p':
			if (!parse_num(optarg, 0, 65535, &v) || v != (uint16_t)v)
				goto bad;
			c->port = v;
			break;
		case 'j':
			if (!parse_num(optarg, 1, MAX_THREADS, &v) || v != (int)v)
				goto bad;
			c->threads = v;
			break;
		case 'f':
			if (!strcmp(optarg, "client"))
				c->closer = CLOSE_CLIENT;
			else if (!strcmp(optarg, "server"))
				c->closer = CLOSE_SERVER;
			else
				goto bad;
			break;
		case 'w':
			c->wait_go = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gs-churn: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "gs-churn: bad value for -%c: '%s'\n", opt, optarg);
	usage(stderr);
	return -1;
}

static int open_listener(struct run *r)
{
	socklen_t len = sizeof(r->addr);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r->addr.sin_family = AF_INET;
	r->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->addr.sin_port = htons(r->cfg->port);
	if (bind(fd, (struct sockaddr *)&r->addr, sizeof(r->addr)) ||
	    listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)&r->addr, &len)) {
		close(fd);
		return -1;
	}
	r->listen_fd = fd;
	return 0;
}

/* Accept everything queued.  Server-closes-first: close at once; otherwise
 * watch the socket and close when the client's FIN arrives. */
static void accept_all(struct run *r, int ep)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;		/* EAGAIN, or EMFILE: retried on the next wake-up */
		atomic_fetch_add(&r->accepted, 1);
		ev.data.fd = fd;
		if (r->cfg->closer == CLOSE_SERVER || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			close(fd);
	}
}

/* A watched connection is readable: the client sent its FIN (or data,
 * which is discarded).  EOF or error closes our side. */
static void serve_one(int fd)
{
	char buf[512];
	ssize_t n;

	do
		n = read(fd, buf, sizeof(buf));
	while (n > 0);
	if (n == 0 || errno != EAGAIN)
		close(fd);	/* also removes it from the epoll set */
}

static void *server_main(void *arg)
{
	struct run *r = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = r->listen_fd };
	uint64_t drain_end = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, r->listen_fd, &ev)) {
		perror("gs-churn: epoll");
		exit(1);
	}
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 50);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == r->listen_fd)
				accept_all(r, ep);
			else
				serve_one(evs[i].data.fd);
		}
		/* Bounded: after the clients stop, wait for their last FINs
		 * (at most DRAIN_MS), then quit; exit() closes what is left. */
		if (atomic_load(&r->clients_done)) {
			if (!drain_end)
				drain_end = now_ns() + DRAIN_MS * 1000000ull;
			if (atomic_load(&r->accepted) >= atomic_load(&r->done) || now_ns() > drain_end)
				break;
		}
	}
	close(ep);
	return NULL;
}

/* One connection: connect, then close first, or wait for the server's FIN. */
static int one_connection(const struct run *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char c;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&r->addr, sizeof(r->addr))) {
		int err = errno;

		close(fd);
		return -err;
	}
	if (r->cfg->closer == CLOSE_SERVER) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		/* Bounded wait for the FIN; a stuck server must not hang us. */
		if (poll(&p, 1, 1000) == 1)
			(void)!read(fd, &c, 1);
	}
	close(fd);
	return 0;
}

/* Connection i is due at start + i / rate; threads take indexes in turn. */
static void *client_main(void *arg)
{
	struct run *r = arg;
	const struct config *c = r->cfg;

	for (;;) {
		uint64_t i = atomic_fetch_add(&r->next, 1);
		int err;

		if (i >= c->max_conns)
			break;
		if (c->rate > 0) {
			uint64_t due = r->start_ns + (uint64_t)(i * 1e9 / c->rate);

			if (due >= r->end_ns)
				break;
			if (due > now_ns())
				sleep_until(due);
		}
		if (now_ns() >= r->end_ns)
			break;
		err = one_connection(r);
		if (!err) {
			atomic_fetch_add(&r->done, 1);
		} else if (atomic_fetch_add(&r->errors, 1) == 0) {
			r->first_errno = -err;
		}
	}
	return NULL;
}

/* -w: the caller attaches its tracer between our listen and our churn. */
static int wait_for_go(const struct run *r)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char line[64];

	printf("listening %u\n", ntohs(r->addr.sin_port));
	fflush(stdout);
	if (poll(&p, 1, START_WAIT_MS) != 1 || !fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "gs-churn: no start line on stdin within %d s\n",
			START_WAIT_MS / 1000);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct run r;
	pthread_t server, clients[MAX_THREADS];
	double secs;

	if (parse_args(argc, argv, &cfg))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	r.cfg = &cfg;
	if (open_listener(&r)) {
		fprintf(stderr, "gs-churn: cannot listen on 127.0.0.1:%u: %s\n", cfg.port,
			strerror(errno));
		return 1;
	}
	if (cfg.wait_go && wait_for_go(&r))
		return 1;
	r.start_ns = now_ns();
	r.end_ns = r.start_ns + (uint64_t)(cfg.seconds * 1e9);
	if (pthread_create(&server, NULL, server_main, &r)) {
		fputs("gs-churn: cannot start the server thread\n", stderr);
		return 1;
	}
	for (int i = 0; i < cfg.threads; i++) {
		if (pthread_create(&clients[i], NULL, client_main, &r)) {
			fputs("gs-churn: cannot start a client thread\n", stderr);
			return 1;
		}
	}
	for (int i = 0; i < cfg.threads; i++)
		pthread_join(clients[i], NULL);
	secs = (now_ns() - r.start_ns) / 1e9;
	atomic_store(&r.clients_done, true);
	pthread_join(server, NULL);

	if (r.errors)
		fprintf(stderr, "gs-churn: %llu connects failed, first: %s\n",
			(unsigned long long)r.errors, strerror(r.first_errno));
	printf("gs-churn: connections=%llu seconds=%.3f rate=%.1f errors=%llu accepted=%llu\n",
	       (unsigned long long)r.done, secs, r.done / secs,
	       (unsigned long long)r.errors, (unsigned long long)r.accepted);
	return r.done ? 0 : 1;
}
