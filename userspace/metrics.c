// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include "listen_addr.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"
#include "util.h"

/* Limits that keep a hostile client cheap.  A request head larger than the
 * per-connection memory is answered 431 and closed; a connection silent for
 * the timeout is closed by libmicrohttpd; one that trickles bytes without
 * finishing a request is dropped after METRICS_HEAD_NS, or sooner when its
 * slot is needed (on_accept). */
#define METRICS_CONN_MEMORY	(32 * 1024)
#define METRICS_TIMEOUT_S	10
#define METRICS_HEAD_NS		(5 * 1000000000ull)
#define METRICS_SLOTS		(METRICS_MAX_CONNS + 4)	/* + those being dropped */

#define CONTENT_TYPE_PROM	"text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT	"text/plain; charset=utf-8"

/* One rendered document, shared by every response that sends it. */
struct snapshot {
	unsigned refs;		/* atomic */
	size_t len;
	char text[];
};

/* What we know of one open connection (server thread only). */
struct slot {
	int fd;			/* -1: free */
	bool busy;		/* a request arrived and is being answered */
	bool dropping;		/* shut down by on_accept, not closed yet */
	uint64_t since_ns;	/* accepted, or its last answer finished */
};

struct metrics {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;		/* guards cur and published_ns */
	struct snapshot *cur;
	uint64_t published_ns;
	uint64_t stale_ns;
	struct prom_buf render;		/* event loop only */
	bool render_failed;
	struct slot slots[METRICS_SLOTS];
	char where[GS_ADDR_STRLEN];
};

static void format_sockaddr(char *buf, size_t len, const struct sockaddr_storage *ss)
{
	uint8_t addr[16] = { 0 };
	uint16_t port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		memcpy(addr, &a->sin6_addr, 16);
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		memcpy(addr, &a->sin_addr, 4);
		port = ntohs(a->sin_port);
	}
	format_endpoint(buf, len, ss->ss_family, addr, port);
}

/* Our own listening socket: precise errors, and the real port for port 0. */
static int listen_on(const char *spec, struct metrics *m, int *family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[96];
	int fd, one = 1;

	if (!listen_addr_parse(spec, &ss, &len, err, sizeof(err))) {
		log_err("--metrics %s: %s", spec, err);
		return -1;
	}
	format_sockaddr(m->where, sizeof(m->where), &ss);
	*family = ss.ss_family;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("metrics socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		log_err("cannot listen on %s for --metrics: %s", m->where, strerror(errno));
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	if (!getsockname(fd, (struct sockaddr *)&ss, &len))
		format_sockaddr(m->where, sizeof(m->where), &ss);
	return fd;
}

/* ---- snapshots ---- */

static void snap_put(void *p)
{
	struct snapshot *s = p;

	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(s);
}

static struct snapshot *snap_get(struct metrics *m)
{
	struct snapshot *s;

	pthread_mutex_lock(&m->lock);
	s = m->cur;
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&m->lock);
	return s;
}

void metrics_publish(struct metrics *m, const struct report *r)
{
	struct snapshot *s, *old;

	if (!m)
		return;
	if (prom_render(r, &m->render)) {
		if (!m->render_failed)
			log_warn("metrics larger than %u bytes: still serving the last that fit",
				 PROM_MAX_BYTES);
		m->render_failed = true;
		return;
	}
	m->render_failed = false;
	s = malloc(sizeof(*s) + m->render.len);
	if (!s) {
		log_warn("out of memory publishing metrics");
		return;
	}
	s->refs = 1;
	s->len = m->render.len;
	memcpy(s->text, m->render.data, s->len);
	pthread_mutex_lock(&m->lock);
	old = m->cur;
	m->cur = s;
	m->published_ns = mono_ns();
	pthread_mutex_unlock(&m->lock);
	snap_put(old);
}

/* ---- connections (server thread) ---- */

static void drop(struct slot *s)
{
	/* libmicrohttpd sees end-of-stream, closes and frees the connection. */
	shutdown(s->fd, SHUT_RDWR);
	s->dropping = true;
	log_debug("metrics server: dropped a connection %s",
		  s->busy ? "with a request in progress" : "without a complete request");
}

/* Which connection to give up first: one without a request in progress,
 * then the oldest. */
static bool worse(const struct slot *a, const struct slot *b)
{
	if (a->busy != b->busy)
		return !a->busy;
	return a->since_ns < b->since_ns;
}

/* Before every accept: drop connections that sent no complete request in
 * time, and if the new one would fill the table, the least useful one.  A
 * full table of trickling clients therefore never locks a scraper out. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct metrics *m = cls;
	struct slot *victim = NULL;
	uint64_t now = mono_ns();
	size_t live = 0;

	(void)addr;
	(void)len;
	for (size_t i = 0; i < METRICS_SLOTS; i++) {
		struct slot *s = &m->slots[i];

		if (s->fd < 0 || s->dropping)
			continue;
		if (!s->busy && now - s->since_ns > METRICS_HEAD_NS) {
			drop(s);
			continue;
		}
		live++;
		if (!victim || worse(s, victim))
			victim = s;
	}
	if (victim && live + 1 >= METRICS_MAX_CONNS)
		drop(victim);
	return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct metrics *m = cls;
	const union MHD_ConnectionInfo *info;
	struct slot *s = *ctx;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (s)
			*s = (struct slot){ .fd = -1 };
		*ctx = NULL;
		return;
	}
	info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (size_t i = 0; info && i < METRICS_SLOTS; i++) {
		if (m->slots[i].fd >= 0)
			continue;
		m->slots[i] = (struct slot){ .fd = info->connect_fd, .since_ns = mono_ns() };
		*ctx = &m->slots[i];
		return;
	}
}

static struct slot *slot_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode code)
{
	struct slot *s = slot_of(c);

	(void)cls;
	(void)req;
	(void)code;
	if (s) {
		s->busy = false;
		s->since_ns = mono_ns();
	}
}

/* ---- requests (server thread) ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
			     const char *type)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;	/* out of memory: libmicrohttpd closes the connection */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status,
		     MHD_create_response_from_buffer(strlen(text), (void *)text,
						     MHD_RESPMEM_MUST_COPY),
		     CONTENT_TYPE_TEXT);
}

static enum MHD_Result reply_metrics(struct metrics *m, struct MHD_Connection *c)
{
	struct snapshot *s = snap_get(m);
	struct MHD_Response *r;

	if (!s)
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no report yet\n");
	r = MHD_create_response_from_buffer_with_free_callback_cls(s->len, s->text, snap_put, s);
	if (!r)
		snap_put(s);
	return reply(c, MHD_HTTP_OK, r, CONTENT_TYPE_PROM);
}

/* Healthy while the event loop keeps publishing reports. */
static enum MHD_Result reply_health(struct metrics *m, struct MHD_Connection *c)
{
	uint64_t age;
	char text[96];

	pthread_mutex_lock(&m->lock);
	age = mono_ns() - m->published_ns;
	pthread_mutex_unlock(&m->lock);
	if (age <= m->stale_ns)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	snprintf(text, sizeof(text), "stale: no report for %.1f s\n", age / 1e9);
	return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static bool has_body(struct MHD_Connection *c)
{
	const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len && strcmp(len, "0")) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* First called once the request head is complete: refuse what we do not
 * serve at once (libmicrohttpd then closes the connection without reading
 * any body).  A good request is answered on the second call, when the
 * (empty) request is complete, so the connection can be kept alive. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **req)
{
	static int started;
	struct metrics *m = cls;
	struct slot *s = slot_of(c);
	bool metrics = !strcmp(url, "/metrics");

	(void)version;
	(void)upload;
	if (s)
		s->busy = true;
	if (*req) {
		if (*upload_size)
			return MHD_NO;	/* a body we refused to accept: close */
		return metrics ? reply_metrics(m, c) : reply_health(m, c);
	}
	if (!metrics && strcmp(url, "/healthz"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (has_body(c))
		return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "a GET has no body\n");
	*req = &started;
	return MHD_YES;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug("metrics server: %s", msg);
}

/* ---- lifecycle ---- */

static struct MHD_Daemon *start_daemon(struct metrics *m, int fd, int family)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;
	sigset_t all, old;

	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The server thread inherits our signal mask: block everything so that
	 * SIGINT and SIGTERM always reach the event loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	d = MHD_start_daemon(flags, 0, on_accept, m, on_request, m,
			     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_SLOTS,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
			     MHD_OPTION_EXTERNAL_LOGGER, on_log, m,
			     MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
			     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d;
}

struct metrics *metrics_start(const char *addr, double stale_after_s)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int fd, family;

	if (!m) {
		log_err("out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	for (size_t i = 0; i < METRICS_SLOTS; i++)
		m->slots[i].fd = -1;
	m->stale_ns = stale_after_s * 1e9;
	m->published_ns = mono_ns();
	fd = listen_on(addr, m, &family);
	if (fd < 0)
		goto fail;
	m->daemon = start_daemon(m, fd, family);
	if (!m->daemon) {
		/* The socket may already belong to libmicrohttpd: leave it to exit. */
		log_err("cannot start the metrics server on %s", m->where);
		goto fail;
	}
	log_info("serving metrics at http://%s/metrics", m->where);
	return m;
fail:
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->daemon);	/* joins the thread, frees every response */
	snap_put(m->cur);
	prom_buf_free(&m->render);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

const char *metrics_address(const struct metrics *m)
{
	return m->where;
}
