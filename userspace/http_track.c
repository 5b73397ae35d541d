#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conntable.h"
#include "http_parser.h"
#include "http_track.h"
#include "log.h"

#define XCHG_MAX 8	/* pipelined exchanges in flight on one connection */

/* One request/response exchange in flight on a connection. */
struct xchg {
	uint32_t id;		/* downstream: request id; upstream: owning request id or 0 */
	unsigned attempt;	/* upstream: attempt index in the owning request */
	uint64_t ts_attempt;	/* upstream: attempt start (connect or request write) */
	uint64_t body_end;	/* stream offset where the response ends, if known */
	bool responded;
	bool client_gone;	/* upstream: the owning request's client left first */
};

struct http_conn {
	struct http_conn *next;		/* hash chain */
	struct http_tracker *t;
	uint64_t sk;
	uint64_t last_use;
	uint8_t dir;			/* enum gs_direction */
	uint32_t pid;
	char comm[GS_COMM_LEN + 1];
	char peer[GS_ADDR_STRLEN];
	char listener[GS_ADDR_STRLEN];	/* downstream: the client-facing port */
	uint64_t ts_conn_start, ts_established;
	unsigned nreq;			/* request heads seen */
	bool broken;
	const struct gs_http_event *cur;	/* the fragment being parsed */
	struct xchg q[XCHG_MAX];
	unsigned qhead, qlen;
	struct http_stream req, resp;
};

static size_t bucket_of(const struct http_tracker *t, uint64_t sk)
{
	return (sk >> 6) * 0x9e3779b97f4a7c15ull >> 32 & (t->nbuckets - 1);
}

int http_track_init(struct http_tracker *t, size_t max_conns, struct correlator *corr,
		    struct aggregator *agg, struct timeouts *timeouts)
{
	memset(t, 0, sizeof(*t));
	t->max = max_conns ? max_conns : HTTP_CONNS_MAX_DEFAULT;
	for (t->nbuckets = 64; t->nbuckets < t->max; t->nbuckets <<= 1)
		;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->corr = corr;
	t->agg = agg;
	t->timeouts = timeouts;
	return t->buckets ? 0 : -1;
}

void http_track_free(struct http_tracker *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct http_conn *c = t->buckets[i], *next;

		for (; c; c = next) {
			next = c->next;
			free(c);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static struct http_conn *conn_find(struct http_tracker *t, uint64_t sk)
{
	struct http_conn *c = t->buckets[bucket_of(t, sk)];

	while (c && c->sk != sk)
		c = c->next;
	return c;
}

static void conn_unlink(struct http_tracker *t, struct http_conn *victim)
{
	struct http_conn **pp = &t->buckets[bucket_of(t, victim->sk)];

	while (*pp && *pp != victim)
		pp = &(*pp)->next;
	if (*pp)
		*pp = victim->next;
	t->n--;
}

/* Full table: a connection whose close we missed is the likely victim, so
 * drop the least recently used one.  O(n), and only when full. */
static void evict_lru(struct http_tracker *t)
{
	struct http_conn *lru = NULL;

	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct http_conn *c = t->buckets[i]; c; c = c->next)
			if (!lru || c->last_use < lru->last_use)
				lru = c;
	if (!lru)
		return;
	conn_unlink(t, lru);
	free(lru);
	t->evicted++;
}

static struct http_conn *conn_get(struct http_tracker *t, const struct gs_http_event *e)
{
	struct http_conn *c = conn_find(t, e->sk);
	size_t b;

	if (c)
		return c;
	if (t->n >= t->max)
		evict_lru(t);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->t = t;
	c->sk = e->sk;
	c->dir = e->conn_dir;
	c->pid = e->pid;
	memcpy(c->comm, e->comm, GS_COMM_LEN);
	format_endpoint(c->peer, sizeof(c->peer), e->family, e->daddr, e->dport);
	snprintf(c->listener, sizeof(c->listener), "%s:%u",
		 e->family == 10 ? "[::]" : "0.0.0.0", e->sport);
	c->ts_conn_start = e->ts_conn_start;
	c->ts_established = e->ts_established;
	http_stream_init(&c->req, HTTP_REQUEST);
	http_stream_init(&c->resp, HTTP_RESPONSE);
	b = bucket_of(t, e->sk);
	c->next = t->buckets[b];
	t->buckets[b] = c;
	t->n++;
	return c;
}

static struct xchg *xchg_push(struct http_conn *c)
{
	struct xchg *x;

	if (c->qlen == XCHG_MAX) {
		c->t->pipeline_overflow++;
		return NULL;
	}
	x = &c->q[(c->qhead + c->qlen++) % XCHG_MAX];
	memset(x, 0, sizeof(*x));
	return x;
}

static struct xchg *xchg_at(struct http_conn *c, unsigned i)
{
	return i < c->qlen ? &c->q[(c->qhead + i) % XCHG_MAX] : NULL;
}

static void xchg_pop(struct http_conn *c)
{
	c->qhead = (c->qhead + 1) % XCHG_MAX;
	c->qlen--;
}

/* The first exchange still waiting for its response head. */
static struct xchg *xchg_unanswered(struct http_conn *c)
{
	for (unsigned i = 0; i < c->qlen; i++)
		if (!xchg_at(c, i)->responded)
			return xchg_at(c, i);
	return NULL;
}

/* Downstream: the front exchange's response ended at ts_done. */
static void finish_answered_one(struct http_conn *c, uint64_t ts_done)
{
	struct xchg *x = xchg_at(c, 0);
	struct request *r = corr_get(c->t->corr, x->id);

	if (r)
		r->ts_done = ts_done > r->ts_response ? ts_done : r->ts_response;
	corr_request_done(c->t->corr, x->id);
	xchg_pop(c);
}

/* Downstream: finish every answered exchange at the front; their responses
 * ended by ts_done (the gateway's last write before a new request). */
static void finish_answered(struct http_conn *c, uint64_t ts_done)
{
	struct xchg *x;

	while ((x = xchg_at(c, 0)) && x->responded)
		finish_answered_one(c, ts_done);
}

static void downstream_request(struct http_conn *c, const struct http_head *h)
{
	const struct gs_http_event *e = c->cur;
	struct request proto = { .pid = e->pid, .tid = e->tid, .sk = c->sk };
	struct xchg *x;

	/* A new request on a keep-alive connection: the previous response
	 * ended with the gateway's last write before it. */
	finish_answered(c, e->ts_last_tx);
	x = xchg_push(c);
	if (!x)
		return;
	memcpy(proto.comm, e->comm, GS_COMM_LEN);
	snprintf(proto.client, sizeof(proto.client), "%s", c->peer);
	snprintf(proto.method, sizeof(proto.method), "%s", h->method);
	snprintf(proto.host, sizeof(proto.host), "%s", h->host);
	snprintf(proto.path, sizeof(proto.path), "%s", h->path);
	proto.ts_start = h->ts_start;
	x->id = corr_request_start(c->t->corr, &proto);
	http_stream_expect(&c->resp, h->method);
}

static bool response_ends_in(const struct http_head *h, const struct gs_http_event *e)
{
	return h->body_end != HTTP_UNKNOWN && h->body_end <= e->stream_off + e->len;
}

static void downstream_response(struct http_conn *c, const struct http_head *h)
{
	struct xchg *x = xchg_unanswered(c);
	struct request *r;

	if (!x)
		return;		/* a response we did not see the request of */
	x->responded = true;
	x->body_end = h->body_end;
	r = corr_get(c->t->corr, x->id);
	if (r) {
		r->status = h->status;
		r->ts_response = h->ts_start;
	}
	if (response_ends_in(h, c->cur) && x == xchg_at(c, 0))
		finish_answered_one(c, c->cur->ts);
}

static void upstream_request(struct http_conn *c, const struct http_head *h)
{
	const struct gs_http_event *e = c->cur;
	bool fresh = c->nreq++ == 0;
	struct attempt a = {
		.sk = c->sk,
		.ts_start = fresh && c->ts_conn_start ? c->ts_conn_start : h->ts_start,
		.ts_request = h->ts_start,
		.connect_ms = -1,
		.reused = !fresh,
	};
	struct xchg *x = xchg_push(c);

	snprintf(a.backend, sizeof(a.backend), "%s", c->peer);
	if (fresh && c->ts_established >= c->ts_conn_start && c->ts_conn_start)
		a.connect_ms = (c->ts_established - c->ts_conn_start) / 1e6;
	if (!x)
		return;
	x->ts_attempt = a.ts_start;
	x->id = corr_attempt_start(c->t->corr, e->pid, e->tid, h->method, h->path, h->ts_start,
				   &a, &x->attempt);
	http_stream_expect(&c->resp, h->method);
}

static void upstream_response(struct http_conn *c, const struct http_head *h)
{
	struct xchg *x = xchg_unanswered(c);
	struct attempt *a;
	uint64_t first_byte = c->cur->ts_first_byte ? c->cur->ts_first_byte : h->ts_start;

	if (!x)
		return;
	x->responded = true;
	if (h->ts_start > x->ts_attempt)
		agg_add_ttfb(c->t->agg, c->peer, h->ts_start - x->ts_attempt);
	a = corr_attempt(c->t->corr, x->id, x->attempt);
	if (a) {
		a->status = h->status;
		a->retry_after = h->retry_after;
		a->throttling_hint = h->throttling_hint;
		a->ts_resp_kernel = first_byte < h->ts_start ? first_byte : h->ts_start;
		a->ts_resp_read = h->ts_start;
	}
	while ((x = xchg_at(c, 0)) && x->responded)
		xchg_pop(c);
}

/* A chunked response's last chunk was seen: it ended there. */
static void downstream_response_end(struct http_conn *c, const struct http_head *h)
{
	struct xchg *x = xchg_at(c, 0);

	if (x && x->responded)
		finish_answered_one(c, h->ts_msg_end);
}

static void on_head(enum http_event ev, const struct http_head *h, void *ctx)
{
	struct http_conn *c = ctx;
	bool upstream = c->dir == GS_DIR_UPSTREAM;

	if (ev == HTTP_EV_END) {
		if (!upstream && h->kind == HTTP_RESPONSE)
			downstream_response_end(c, h);
		return;
	}
	if (!c->cur)
		return;		/* heads found only at close: nothing to join them to */
	if (h->kind == HTTP_RESPONSE && h->interim)
		return;		/* 100-continue: the exchange goes on */
	if (h->kind == HTTP_REQUEST)
		upstream ? upstream_request(c, h) : downstream_request(c, h);
	else
		upstream ? upstream_response(c, h) : downstream_response(c, h);
}

void http_track_event(struct http_tracker *t, const struct gs_http_event *e)
{
	struct http_conn *c = conn_get(t, e);
	bool is_request;
	struct http_stream *s;

	if (!c || c->broken)
		return;
	c->last_use = ++t->clock;
	c->cur = e;
	/* Requests flow in on downstream connections and out on upstream ones. */
	is_request = (c->dir == GS_DIR_UPSTREAM) == (e->io_dir == GS_IO_SEND);
	s = is_request ? &c->req : &c->resp;
	if (http_stream_feed(s, e->data, e->cap_len, e->len, e->stream_off, e->ts, on_head, c) < 0) {
		c->broken = true;
		t->unparsable++;
		log_debug("connection to %s: HTTP not parsable, no longer followed", c->peer);
	}
	c->cur = NULL;
}

static enum attempt_failure failure_of(const struct conn_outcome *o, const struct gs_conn_event *e)
{
	switch (o->failure) {
	case CONNECT_REFUSED: return ATTEMPT_REFUSED;
	case CONNECT_TIMEOUT: return ATTEMPT_CONNECT_TIMEOUT;
	case CONNECT_UNREACHABLE: return ATTEMPT_UNREACHABLE;
	default: break;
	}
	if (o->resets_received)
		return ATTEMPT_RESET;
	if (e->fin_by == GS_FIN_REMOTE)
		return ATTEMPT_CLOSED;
	return ATTEMPT_ABANDONED;
}

/* When the first FIN or RST left, and who sent it. */
static uint64_t close_time(const struct gs_conn_event *e)
{
	uint64_t t = e->ts_fin;

	if (e->ts_rst && (!t || e->ts_rst < t))
		t = e->ts_rst;
	return t ? t : e->ts_close;
}

static bool closed_by_peer(const struct gs_conn_event *e)
{
	if (e->ts_rst && (!e->ts_fin || e->ts_rst < e->ts_fin))
		return e->rst_received > 0;
	return e->fin_by == GS_FIN_REMOTE;
}

/* Last progress on the connection: the last byte written or read. */
static uint64_t last_progress(const struct gs_conn_event *e)
{
	return e->ts_last_tx > e->ts_last_rx ? e->ts_last_tx : e->ts_last_rx;
}

static void add_timeout_close(struct http_tracker *t, const char *backend, bool by_backend,
			      uint64_t idle)
{
	enum closer who = by_backend ? CLOSER_BACKEND : CLOSER_GATEWAY;

	agg_add_timeout_close(t->agg, backend, who);
	timeouts_add(t->timeouts, who, backend, by_backend ? "idle" : "read", idle);
}

/* An upstream connection closed with a request outstanding: whoever
 * closed it waited that long for progress, which is that side's timeout.
 * Unless the gateway closed it because the client had left: that is the
 * client's timeout, counted on the downstream side.  Whether the client
 * left is known when the request ends, so an attempt whose request is
 * still followed carries the sample until then. */
static void upstream_timeout_close(struct http_tracker *t, struct http_conn *c,
				   const struct gs_conn_event *e)
{
	struct xchg *x = xchg_unanswered(c);
	uint64_t at = close_time(e), since = last_progress(e);
	bool by_backend = closed_by_peer(e);
	struct attempt *a;

	/* A backend RST right after the request is a reset, not a timeout.
	 * Nor is a close with response bytes waiting unread: the backend
	 * made progress the gateway never looked at (a stalled gateway,
	 * whose timer fired late), so the idle time is the stall's. */
	if (!x || !since || at < since || (by_backend && e->rst_received) ||
	    (e->ts_rx_pending && e->ts_rx_pending < at))
		return;
	a = corr_attempt(t->corr, x->id, x->attempt);
	if (a) {
		a->idle_close_ns = at - since;
		a->idle_closed_by_backend = by_backend;
	} else if (by_backend || !x->client_gone) {
		add_timeout_close(t, c->peer, by_backend, at - since);
	}
}

void http_track_request_done(struct http_tracker *t, const struct request *r)
{
	for (unsigned i = 0; i < r->nattempts; i++) {
		const struct attempt *a = &r->attempts[i];

		if (a->idle_close_ns && (a->idle_closed_by_backend || !r->client_closed))
			add_timeout_close(t, a->backend, a->idle_closed_by_backend, a->idle_close_ns);
	}
}

/* The client of request r left: its upstream exchanges still open were
 * abandoned for that reason, whenever their connections close. */
static void mark_client_gone(struct http_tracker *t, const struct request *r)
{
	for (unsigned i = 0; i < r->nattempts; i++) {
		struct http_conn *u = conn_find(t, r->attempts[i].sk);

		for (unsigned j = 0; u && u->dir == GS_DIR_UPSTREAM && j < u->qlen; j++)
			if (xchg_at(u, j)->id == r->id)
				xchg_at(u, j)->client_gone = true;
	}
}

/* An upstream connection that failed before carrying a request is still an
 * attempt of whichever request the gateway was serving. */
static void failed_connect_attempt(struct http_tracker *t, const struct gs_conn_event *e,
				   const struct conn_outcome *o)
{
	struct attempt a = {
		.sk = e->sk, .ts_start = e->ts_start, .ts_end = e->ts_close, .connect_ms = -1,
		.failure = failure_of(o, e), .conn = *e, .have_conn = true,
	};
	unsigned idx;

	snprintf(a.backend, sizeof(a.backend), "%s", o->peer);
	corr_attempt_start(t->corr, e->pid, e->tid, NULL, NULL, e->ts_start, &a, &idx);
	/* The gateway abandoned an unanswered SYN: its connect timeout. */
	if (o->failure == CONNECT_TIMEOUT && !e->sk_err) {
		agg_add_timeout_close(t->agg, o->peer, CLOSER_GATEWAY);
		timeouts_add(t->timeouts, CLOSER_GATEWAY, o->peer, "connect", e->ts_close - e->ts_start);
	}
}

static void close_upstream(struct http_conn *c, const struct gs_conn_event *e,
			   const struct conn_outcome *o)
{
	upstream_timeout_close(c->t, c, e);
	for (unsigned i = 0; i < c->qlen; i++) {
		struct xchg *x = xchg_at(c, i);
		struct attempt *a = corr_attempt(c->t->corr, x->id, x->attempt);

		if (!a)
			continue;
		a->conn = *e;
		a->have_conn = true;
		a->ts_end = e->ts_close;
		if (!x->responded)
			a->failure = failure_of(o, e);
		corr_attempt_closed(c->t->corr, x->id);
	}
}

static void close_downstream(struct http_conn *c, const struct gs_conn_event *e)
{
	struct xchg *x;

	finish_answered(c, e->ts_last_tx ? e->ts_last_tx : e->ts_close);
	while ((x = xchg_at(c, 0))) {
		struct request *r = corr_get(c->t->corr, x->id);

		if (r) {
			/* Unanswered at close: who closed first tells if the
			 * client gave up, and after how long. */
			r->client_closed = closed_by_peer(e);
			r->ts_done = close_time(e);
			if (r->client_closed && r->ts_done > r->ts_start)
				timeouts_add(c->t->timeouts, CLOSER_CLIENT, c->listener, "response",
					     r->ts_done - r->ts_start);
			if (r->client_closed)
				mark_client_gone(c->t, r);
		}
		corr_request_done(c->t->corr, x->id);
		xchg_pop(c);
	}
}

void http_track_conn_closed(struct http_tracker *t, const struct gs_conn_event *e,
			    const struct conn_outcome *o)
{
	struct http_conn *c = conn_find(t, e->sk);

	if (!c) {
		if (o->upstream && o->failure != CONNECT_OK)
			failed_connect_attempt(t, e, o);
		return;
	}
	c->cur = NULL;
	if (!c->broken)
		http_stream_close(&c->resp, e->ts_close, on_head, c);
	if (c->dir == GS_DIR_UPSTREAM)
		close_upstream(c, e, o);
	else
		close_downstream(c, e);
	conn_unlink(t, c);
	free(c);
}
