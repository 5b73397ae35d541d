// SPDX-License-Identifier: MIT
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include "conntable.h"
#include "http_parser.h"
#include "http_track.h"
#include "log.h"

#define XCHG_MAX 8	/* pipelined exchanges in flight on one connection */
/* Connections freed between two returns of free heap pages to the system. */
#define TRIM_EVERY 8192
/* A gateway that cuts a chunked answer short closes the client's
 * connection at once after its last write; an idle close comes later. */
#define CHUNKED_CUT_CLOSE_NS (100 * 1000000ull)

/* One request/response exchange in flight on a connection. */
struct xchg {
	uint32_t id;		/* join engine handle: downstream request or upstream attempt */
	uint64_t head_end;	/* stream offset where the response head ends, if known */
	uint64_t body_end;	/* stream offset where the response ends, if known */
	bool responded;
	bool chunked_open;	/* a chunked response whose last chunk was not seen */
	bool conn_close;	/* the response announced the connection's end */
};

struct http_conn {
	struct http_conn *next;		/* hash chain */
	struct http_conn *older, *newer; /* use order: the tracker's LRU list */
	struct http_tracker *t;
	uint64_t sk;
	uint8_t dir;			/* enum gs_direction */
	uint32_t pid;
	char comm[GS_COMM_LEN + 1];
	/* The peer and the local port, formatted when a request or an attempt
	 * is made (a string each would cost 128 bytes per connection). */
	uint16_t family;
	uint16_t dport, sport;
	uint8_t daddr[16];
	/* Upstream: its ends' key in the tracker's backend_side (0: not
	 * kept there); downstream: it is the far end of such a connection
	 * (its requests may be a backend's side: the join engine decides). */
	uint64_t ends_key;
	bool far_end;
	/* Formatted once (they name every request and attempt on it): the
	 * peer's ip:port, and downstream the client-facing port on any
	 * address ("0.0.0.0:65535" is the longer of it and "[::]:65535"). */
	char peer[GS_ADDR_STRLEN];
	char listener[sizeof("0.0.0.0:65535")];
	uint64_t ts_conn_start, ts_established;
	unsigned nreq;			/* request heads seen */
	bool broken;
	bool tunnel;			/* after 101 / CONNECT: no more HTTP */
	uint32_t last_done;		/* downstream: the request finished last */
	const struct gs_http_event *cur;	/* the fragment being parsed */
	struct xchg q[XCHG_MAX];
	unsigned qhead, qlen;
	struct http_stream req, resp;
	struct h2_conn *h2;		/* an HTTP/2 connection: its streams (h2.c) */
};

/* A name formatted once into a request's or attempt's field (cut to len). */
static void copy_name(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* "ip:port" of the peer: the client downstream, the backend upstream. */
static void conn_peer(const struct http_conn *c, char *buf, size_t len)
{
	copy_name(buf, len, c->peer);
}

/* Downstream: the client-facing port, on any address. */
static void conn_listener(const struct http_conn *c, char *buf, size_t len)
{
	copy_name(buf, len, c->listener);
}

static void conn_name_ends(struct http_conn *c)
{
	format_endpoint(c->peer, sizeof(c->peer), c->family, c->daddr, c->dport);
	format_port_suffix(c->listener, sizeof(c->listener),
			   c->family == AF_INET6 ? "[::]" : "0.0.0.0", c->sport);
}

static size_t bucket_of(const struct http_tracker *t, uint64_t sk)
{
	return (sk >> 6) * 0x9e3779b97f4a7c15ull >> 32 & (t->nbuckets - 1);
}

/* A connection and what its streams hold. */
static void conn_free(struct http_conn *c)
{
	h2_conn_free(c->h2);
	http_stream_free(&c->req);
	http_stream_free(&c->resp);
	free(c);
}

int http_track_init(struct http_tracker *t, size_t max_conns, struct joiner *join)
{
	memset(t, 0, sizeof(*t));
	t->max = max_conns ? max_conns : HTTP_CONNS_MAX_DEFAULT;
	for (t->nbuckets = 64; t->nbuckets < t->max; t->nbuckets <<= 1)
		;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->join = join;
	backend_side_init(&t->ends);
	join_watch_ends(join, &t->ends);
	return t->buckets ? 0 : -1;
}

void http_track_free(struct http_tracker *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct http_conn *c = t->buckets[i], *next;

		for (; c; c = next) {
			next = c->next;
			conn_free(c);
		}
	}
	free(t->buckets);
	if (t->join)
		join_watch_ends(t->join, NULL);
	backend_side_free(&t->ends);
	free(t->unread.sk);
	free(t->unread.pid);
	memset(t, 0, sizeof(*t));
}

/* The adopted pool's slot of sk: its own, or the free one where it would
 * go (cap: full).  Removed entries are passed over, never reused: the
 * table grows (and drops them) at half full, counting them. */
#define POOL_FREE	0
#define POOL_REMOVED	1

static uint32_t pool_slot(const struct adopted_pool *p, uint64_t sk, bool *found)
{
	uint32_t i = (uint32_t)((sk >> 6) * 0x9e3779b97f4a7c15ull >> 32) & (p->cap - 1);

	*found = false;
	for (uint32_t n = 0; n < p->cap; n++, i = (i + 1) & (p->cap - 1)) {
		if (p->sk[i] == sk) {
			*found = true;
			return i;
		}
		if (p->sk[i] == POOL_FREE)
			return i;
	}
	return p->cap;
}

static bool pool_grow(struct adopted_pool *p)
{
	struct adopted_pool old = *p;
	uint32_t cap = old.cap ? old.cap * 2 : 64;
	bool found;

	p->sk = calloc(cap, sizeof(*p->sk));
	p->pid = calloc(cap, sizeof(*p->pid));
	if (!p->sk || !p->pid) {
		free(p->sk);
		free(p->pid);
		*p = old;
		return false;
	}
	p->cap = cap;
	p->used = 0;
	for (uint32_t i = 0; i < old.cap; i++) {
		uint32_t k;

		if (old.sk[i] <= POOL_REMOVED)
			continue;
		k = pool_slot(p, old.sk[i], &found);
		p->sk[k] = old.sk[i];
		p->pid[k] = old.pid[i];
		p->used++;
	}
	free(old.sk);
	free(old.pid);
	return true;
}

void http_track_adopted(struct http_tracker *t, const struct gs_adopted_event *e)
{
	struct adopted_pool *p = &t->unread;
	bool found;
	uint32_t k;

	if (e->direction != GS_DIR_UPSTREAM || e->sk <= POOL_REMOVED)
		return;
	if ((p->used + 1) * 2 > p->cap && !pool_grow(p))
		return;		/* no memory: that connection is not waited for */
	k = pool_slot(p, e->sk, &found);
	if (found || k == p->cap)
		return;
	p->sk[k] = e->sk;
	p->pid[k] = e->pid;
	p->used++;
	join_pool_unread(t->join, e->pid, 1);
}

/* sk carried an HTTP/1 request, or closed: it is no longer unread. */
static void pool_seen(struct http_tracker *t, uint64_t sk)
{
	struct adopted_pool *p = &t->unread;
	bool found;
	uint32_t k;

	if (!p->cap)
		return;
	k = pool_slot(p, sk, &found);
	if (!found)
		return;
	p->sk[k] = POOL_REMOVED;
	join_pool_unread(t->join, p->pid[k], -1);
}

static struct http_conn *conn_find(struct http_tracker *t, uint64_t sk)
{
	struct http_conn *c = t->buckets[bucket_of(t, sk)];

	while (c && c->sk != sk)
		c = c->next;
	return c;
}

/* The LRU list, least recently used first: O(1) to mark a use, to drop a
 * connection and to find the victim of a full table. */
static void lru_remove(struct http_tracker *t, struct http_conn *c)
{
	*(c->older ? &c->older->newer : &t->lru_oldest) = c->newer;
	*(c->newer ? &c->newer->older : &t->lru_newest) = c->older;
	c->older = c->newer = NULL;
}

static void lru_append(struct http_tracker *t, struct http_conn *c)
{
	c->older = t->lru_newest;
	c->newer = NULL;
	*(t->lru_newest ? &t->lru_newest->newer : &t->lru_oldest) = c;
	t->lru_newest = c;
}

static void lru_touch(struct http_tracker *t, struct http_conn *c)
{
	if (t->lru_newest != c) {
		lru_remove(t, c);
		lru_append(t, c);
	}
}

static void conn_unlink(struct http_tracker *t, struct http_conn *victim)
{
	struct http_conn **pp = &t->buckets[bucket_of(t, victim->sk)];

	while (*pp && *pp != victim)
		pp = &(*pp)->next;
	if (*pp)
		*pp = victim->next;
	if (victim->ends_key)
		backend_side_upstream_closed(&t->ends, victim->ends_key);
	lru_remove(t, victim);
	t->n--;
}

/* Full table: a connection whose close we missed is the likely victim, so
 * drop the least recently used one. */
static void evict_lru(struct http_tracker *t)
{
	struct http_conn *lru = t->lru_oldest;

	if (!lru)
		return;
	conn_unlink(t, lru);
	conn_free(lru);
	t->evicted++;
}

/* An upstream connection is known by its ends; a downstream one may be
 * the far end of one (backend_side.h). */
static void note_ends(struct http_tracker *t, struct http_conn *c, const struct gs_http_event *e)
{
	if (c->dir == GS_DIR_UPSTREAM) {
		uint64_t key = endpoint_pair_key(e->family, e->saddr, e->sport, e->daddr, e->dport);

		if (backend_side_upstream_open(&t->ends, key, c->pid))
			c->ends_key = key;
	} else {
		backend_side_serves(&t->ends, c->pid);
		c->far_end = backend_side_far_end(&t->ends, e->family, e->saddr, e->sport,
						  e->daddr, e->dport);
	}
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
	c->family = e->family;
	c->dport = e->dport;
	c->sport = e->sport;
	memcpy(c->daddr, e->daddr, sizeof(c->daddr));
	conn_name_ends(c);
	note_ends(t, c, e);
	c->ts_conn_start = e->ts_conn_start;
	c->ts_established = e->ts_established;
	http_stream_init(&c->req, HTTP_REQUEST);
	http_stream_init(&c->resp, HTTP_RESPONSE);
	b = bucket_of(t, e->sk);
	c->next = t->buckets[b];
	t->buckets[b] = c;
	lru_append(t, c);
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

/* Downstream: the front exchange is over at ts_done. */
static void finish_front(struct http_conn *c, uint64_t ts_done)
{
	struct xchg *x = xchg_at(c, 0);
	struct request *r = join_request(c->t->join, x->id);

	if (r)
		r->ts_done = ts_done > r->ts_response ? ts_done : r->ts_response;
	join_request_finish(c->t->join, x->id);
	c->last_done = x->id;
	xchg_pop(c);
}

/* Downstream: finish every answered exchange at the front; their responses
 * ended by ts_done (the gateway's last write before a new request). */
static void finish_answered(struct http_conn *c, uint64_t ts_done)
{
	struct xchg *x;

	while ((x = xchg_at(c, 0)) && x->responded)
		finish_front(c, ts_done);
}

/* A head's string into a zeroed field of the same size: the string and
 * its NUL, not the whole array (a path's 256 bytes are mostly stale
 * bytes of earlier heads, four cache lines read for one). */
static void copy_head_str(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size);

	memcpy(dst, src, n < size ? n + 1 : size);
}

static void downstream_request(struct http_conn *c, const struct http_head *h)
{
	const struct gs_http_event *e = c->cur;
	struct request proto = {
		.pid = e->pid, .tid = e->tid, .sk = c->sk, .ts_start = h->ts_start,
		.req_id = h->req_id, .fp = h->fp, .far_end = c->far_end,
	};

	/* A busy gateway reads a request late: when it arrived is the
	 * client's moment (retry delays are measured from the answer). */
	proto.ts_arrived = e->ts_first_byte && e->ts_first_byte <= h->ts_start ?
			   e->ts_first_byte : h->ts_start;
	struct xchg *x;

	/* A new request on a keep-alive connection: the previous response
	 * ended with the gateway's last write before it. */
	finish_answered(c, e->ts_last_tx);
	x = xchg_push(c);
	if (!x)
		return;
	memcpy(proto.comm, e->comm, GS_COMM_LEN);
	conn_peer(c, proto.client, sizeof(proto.client));
	conn_listener(c, proto.listener, sizeof(proto.listener));
	memcpy(proto.method, h->method, sizeof(proto.method));
	copy_head_str(proto.host, h->host, sizeof(proto.host));
	copy_head_str(proto.path, h->path, sizeof(proto.path));
	x->id = join_request_start(c->t->join, &proto);
	http_stream_expect(&c->resp, h->method);
}

static bool response_ends_in(const struct http_head *h, const struct gs_http_event *e)
{
	return h->body_end != HTTP_UNKNOWN && h->body_end <= e->stream_off + e->len;
}

/* 101, or a 2xx to CONNECT: the connection is a tunnel from now on; text
 * inside it that looks like HTTP is not. */
static bool starts_tunnel(const struct http_head *h)
{
	return h->body == HTTP_BODY_TUNNEL;
}

static void note_response(struct xchg *x, const struct http_head *h)
{
	x->responded = true;
	x->head_end = h->head_end;
	x->body_end = h->body_end;
	x->chunked_open = h->body == HTTP_BODY_CHUNKED && h->body_end == HTTP_UNKNOWN;
	x->conn_close = h->conn_close;
}

static void downstream_response(struct http_conn *c, const struct http_head *h)
{
	struct xchg *x = xchg_unanswered(c);
	struct request *r;

	if (!x)
		return;		/* a response we did not see the request of */
	note_response(x, h);
	r = join_request(c->t->join, x->id);
	if (r) {
		r->status = h->status;
		r->retry_after = h->retry_after;
		r->retry_after_s = h->retry_after_s;
		r->throttling_hint = h->throttling_hint;
		r->ts_response = h->ts_start;
		join_request_answered(c->t->join, x->id);
	}
	c->tunnel = starts_tunnel(h);
	if ((c->tunnel || response_ends_in(h, c->cur)) && x == xchg_at(c, 0))
		finish_front(c, c->cur->ts);
}

static void upstream_request(struct http_conn *c, const struct http_head *h)
{
	const struct gs_http_event *e = c->cur;
	/* A connection open before the start (no start time) was used before. */
	bool fresh = c->nreq++ == 0 && c->ts_conn_start;
	struct attempt a = {
		.pid = e->pid, .tid = e->tid, .sk = c->sk,
		.ts_start = fresh ? c->ts_conn_start : h->ts_start,
		.ts_request = h->ts_start, .connect_ms = -1, .reused = !fresh,
		.req_id = h->req_id, .fp = h->fp, .resp_body_end = HTTP_UNKNOWN,
	};
	struct xchg *x = xchg_push(c);

	if (c->nreq == 1 && !c->ts_conn_start)
		pool_seen(c->t, c->sk);	/* open at the start, and readable */
	conn_peer(c, a.backend, sizeof(a.backend));
	memcpy(a.method, h->method, sizeof(a.method));
	copy_head_str(a.path, h->path, sizeof(a.path));
	if (fresh && c->ts_established >= c->ts_conn_start)
		a.connect_ms = (c->ts_established - c->ts_conn_start) / 1e6;
	if (!x)
		return;
	x->id = join_attempt_start(c->t->join, &a);
	http_stream_expect(&c->resp, h->method);
}

static void upstream_response(struct http_conn *c, const struct http_head *h)
{
	struct xchg *x = xchg_unanswered(c);
	struct attempt *a;
	uint64_t first_byte = c->cur->ts_first_byte ? c->cur->ts_first_byte : h->ts_start;

	if (!x)
		return;
	note_response(x, h);
	a = join_attempt(c->t->join, x->id);
	if (a) {
		a->status = h->status;
		a->retry_after = h->retry_after;
		a->retry_after_s = h->retry_after_s;
		a->throttling_hint = h->throttling_hint;
		a->ts_resp_kernel = first_byte < h->ts_start ? first_byte : h->ts_start;
		a->ts_resp_read = h->ts_start;
		a->resp_body_end = h->body_end;
	}
	c->tunnel = starts_tunnel(h);
	/* The newest answered exchange stays until the next one: if the
	 * connection ends inside its body, the response was cut short. */
	while ((x = xchg_at(c, 0)) && x->responded && c->qlen > 1)
		xchg_pop(c);
}

/* A chunked response's last chunk was seen: it ended there. */
static void downstream_response_end(struct http_conn *c, const struct http_head *h)
{
	struct xchg *x = xchg_at(c, 0);

	if (x && x->responded)
		finish_front(c, h->ts_msg_end);
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
	if (!c->cur || c->tunnel)
		return;		/* heads found only at close, or inside a tunnel */
	if (h->kind == HTTP_RESPONSE && h->interim)
		return;		/* 100-continue: the exchange goes on */
	if (h->kind == HTTP_REQUEST)
		upstream ? upstream_request(c, h) : downstream_request(c, h);
	else
		upstream ? upstream_response(c, h) : downstream_response(c, h);
}

/* What one call of the parser added to its stream's counts, into the
 * tracker's sums: reports show them while connections are still open. */
static void sum_parser_stats(struct http_tracker *t, const struct http_stream_stats *before,
			     const struct http_stream *s)
{
	const struct http_stream_stats *now = http_stream_stats(s);

	t->parser.heads += now->heads - before->heads;
	t->parser.truncated += now->truncated - before->truncated;
	t->parser.dropped += now->dropped - before->dropped;
	t->parser.lost += now->lost - before->lost;
	t->parser.resyncs += now->resyncs - before->resyncs;
	t->parser.expect_overflow += now->expect_overflow - before->expect_overflow;
}

/* An HTTP/2 connection's bytes (the capture recognised its start): its
 * streams are followed by h2.c. */
static void h2_event(struct http_conn *c, const struct gs_http_event *e, bool is_request)
{
	struct request proto = { .pid = e->pid, .sk = c->sk, .far_end = c->far_end };
	/* Upstream, every stream is an attempt on this connection. */
	struct attempt up = {
		.pid = e->pid, .sk = c->sk, .ts_start = c->ts_conn_start, .connect_ms = -1,
	};

	if (!c->h2) {
		memcpy(proto.comm, e->comm, GS_COMM_LEN);
		conn_peer(c, proto.client, sizeof(proto.client));
		conn_listener(c, proto.listener, sizeof(proto.listener));
		conn_peer(c, up.backend, sizeof(up.backend));
		if (c->ts_conn_start && c->ts_established >= c->ts_conn_start)
			up.connect_ms = (c->ts_established - c->ts_conn_start) / 1e6;
		c->h2 = h2_conn_new(&proto, c->dir == GS_DIR_UPSTREAM ? &up : NULL, c->t->join,
				    &c->t->h2);
		if (!c->h2) {
			c->broken = true;
			c->t->unparsable++;
			return;
		}
	}
	if (e->flags & GS_HTTP_F_H2_FIELDS) {
		h2_conn_fields(c->h2, e, is_request);
		return;
	}
	if (h2_conn_feed(c->h2, e, is_request) < 0) {
		c->broken = true;
		c->t->unparsable++;
	}
}

void http_track_event(struct http_tracker *t, const struct gs_http_event *e)
{
	struct http_conn *c = conn_get(t, e);
	struct http_stream_stats before;
	bool is_request;
	struct http_stream *s;

	if (!c || c->broken || c->tunnel)
		return;
	lru_touch(t, c);
	c->cur = e;
	/* Requests flow in on downstream connections and out on upstream ones. */
	is_request = (c->dir == GS_DIR_UPSTREAM) == (e->io_dir == GS_IO_SEND);
	if (e->flags & GS_HTTP_F_H2) {
		h2_event(c, e, is_request);
		return;
	}
	s = is_request ? &c->req : &c->resp;
	before = *http_stream_stats(s);
	if (http_stream_feed(s, e->data, e->cap_len, e->len, e->stream_off, e->ts, on_head, c) < 0) {
		char peer[GS_ADDR_STRLEN];

		c->broken = true;
		t->unparsable++;
		conn_peer(c, peer, sizeof(peer));
		log_debug("connection to %s: HTTP not parsable, no longer followed", peer);
	}
	sum_parser_stats(t, &before, s);
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

/* A peer's close this soon after the last progress answers it. */
#define ANSWERED_CLOSE_NS (10 * 1000000ull)

/* The earlier of the last byte written and the last byte read: a timer
 * armed then may have run through the later progress (timeouts.h). */
static uint64_t armed_since(const struct gs_conn_event *e)
{
	if (!e->ts_last_tx || !e->ts_last_rx)
		return last_progress(e);
	return e->ts_last_tx < e->ts_last_rx ? e->ts_last_tx : e->ts_last_rx;
}

/* An upstream connection closed with an exchange outstanding (no answer,
 * or an answer cut short): whoever closed it waited that long for
 * progress, which is that side's timeout.  The sample rides on the
 * attempt and counts when its request is decided (not when the gateway
 * closed it because the client had left). */
static void note_idle_close(struct attempt *a, const struct gs_conn_event *e)
{
	uint64_t at = close_time(e), since = last_progress(e);
	bool by_backend = closed_by_peer(e);

	/* A backend RST right after the request is a reset, not a timeout.
	 * Nor is a close with response bytes waiting unread: the backend
	 * made progress the gateway never looked at (a stalled gateway,
	 * whose timer fired late), so the idle time is the stall's.  Nor a
	 * backend's close right after the gateway's last write: an answer to
	 * it (the gateway's TLS close_notify, which an asyncio gateway sends
	 * and then waits for the backend's; or a backend that closed on the
	 * request at once), never a timer that ran. */
	if (!since || at < since || (by_backend && e->rst_received) ||
	    (by_backend && at - since < ANSWERED_CLOSE_NS) ||
	    (e->ts_rx_pending && e->ts_rx_pending < at))
		return;
	a->idle_close_ns = at - since;
	a->idle_armed_ns = armed_since(e) < since ? at - armed_since(e) : a->idle_close_ns;
	a->idle_closed_by_backend = by_backend;
}

/* Bytes the process read / wrote in the stream the HTTP offsets count:
 * the plaintext of a TLS connection read through libssl, else the TCP
 * payload. */
static uint64_t stream_rx(const struct gs_conn_event *e)
{
	return e->flags & GS_CONN_F_TLS_READ ? e->tls_rx_bytes : e->app_rx_bytes;
}

static uint64_t stream_tx(const struct gs_conn_event *e)
{
	return e->flags & GS_CONN_F_TLS_READ ? e->tls_tx_bytes : e->app_tx_bytes;
}

/* Attach the connection's TCP facts to an attempt that used it. */
static void attempt_closed(struct attempt *a, const struct xchg *x, const struct gs_conn_event *e,
			   const struct conn_outcome *o)
{
	a->conn = *e;
	a->have_conn = true;
	a->ts_end = e->ts_close;
	a->resp_bytes = stream_rx(e);
	if (!x->responded)
		a->failure = failure_of(o, e);
	else if (x->body_end != HTTP_UNKNOWN && stream_rx(e) < x->body_end)
		a->truncated = true;	/* the connection ended inside the body */
	else if (x->chunked_open && !x->conn_close)
		a->body_end_unseen = true;
}

/* An upstream connection whose bytes were never read as a request (TLS,
 * another protocol, a connect that failed before any byte) is still an
 * attempt, judged by its TCP facts. */
static void opaque_attempt(struct http_tracker *t, const struct gs_conn_event *e,
			   const struct conn_outcome *o)
{
	struct attempt a = {
		.pid = e->pid, .tid = e->tid, .sk = e->sk, .ts_start = e->ts_start,
		.ts_request = e->ts_last_tx, .ts_end = e->ts_close, .connect_ms = o->connect_ms,
		.opaque = true, .conn = *e, .have_conn = true, .resp_body_end = HTTP_UNKNOWN,
		.resp_bytes = e->app_rx_bytes,
	};

	if (o->established && !e->app_tx_bytes)
		return;		/* opened and never used: no attempt */
	if (o->adopted && !e->ts_last_tx)
		return;		/* open before the start, unused since: none of ours */
	memcpy(a.backend, o->peer, sizeof(a.backend));
	a.opaque_answered = e->ts_last_rx > e->ts_last_tx;
	if (!a.opaque_answered)
		a.failure = failure_of(o, e);
	/* The gateway abandoned an unanswered SYN: its connect timeout (also
	 * when it aborted the socket with SO_LINGER 0: ECONNRESET, no RST). */
	a.connect_timeout_sample = o->failure == CONNECT_TIMEOUT && !e->rst_received &&
				   (!e->sk_err || e->sk_err == ECONNRESET);
	if (o->established && !a.opaque_answered)
		note_idle_close(&a, e);
	join_attempt_start(t->join, &a);
}

struct h2_close {
	const struct gs_conn_event *e;
	const struct conn_outcome *o;
};

/* An HTTP/2 stream's attempt when its connection closed: the TCP facts;
 * unanswered and not reset, it failed as the connection did; answered
 * and still open, its answer was cut. */
static void h2_attempt_closed(struct attempt *a, bool stream_open, void *ctx)
{
	const struct h2_close *x = ctx;

	a->conn = *x->e;
	a->have_conn = true;
	a->ts_end = x->e->ts_close;
	a->resp_bytes = stream_rx(x->e);
	if (a->status) {
		a->truncated |= stream_open;
		return;
	}
	if (!a->failure)
		a->failure = failure_of(x->o, x->e);
	if (!a->h2_rst && !a->h2_refused)
		note_idle_close(a, x->e);
}

static void close_upstream(struct http_conn *c, const struct gs_conn_event *e,
			   const struct conn_outcome *o)
{
	bool any = false;

	if (c->h2) {
		struct h2_close x = { .e = e, .o = o };

		any = h2_conn_upstream_closed(c->h2, h2_attempt_closed, &x) > 0;
		/* Decoding stopped: streams after that were never seen; the
		 * connection stands for them, judged by its TCP facts. */
		if (c->broken)
			any = false;
	}

	for (unsigned i = 0; i < c->qlen; i++) {
		struct xchg *x = xchg_at(c, i);
		struct attempt *a = join_attempt(c->t->join, x->id);

		any |= x->id != 0;
		if (!a)
			continue;
		attempt_closed(a, x, e, o);
		/* A body cut short by the backend's own close is no timeout;
		 * one the gateway gave up on after silence is its read timeout. */
		if (!x->responded || ((a->truncated || a->body_end_unseen) && !closed_by_peer(e)))
			note_idle_close(a, e);
	}
	if (!any && !c->nreq)
		opaque_attempt(c->t, e, o);
	join_attempt_closed(c->t->join);
}

/* The response of the front exchange ended before its announced length:
 * what was written when the connection ended tells. */
static void check_truncated(struct request *r, const struct xchg *x, const struct gs_conn_event *e)
{
	uint64_t sent = stream_tx(e);

	/* A chunked answer whose last chunk was not seen (body bytes are not
	 * captured), on a connection meant to stay open, that the gateway
	 * closed before its client did, right after its last write: the way
	 * gateways end a chunked answer they cannot finish (a complete one
	 * leaves the connection open, or closes it only when idle). */
	if (x->chunked_open && !x->conn_close && !closed_by_peer(e) && e->fin_by == GS_FIN_LOCAL &&
	    e->ts_last_tx && close_time(e) - e->ts_last_tx <= CHUNKED_CUT_CLOSE_NS) {
		r->truncated = true;
		r->chunked_unterminated = true;
		return;
	}
	if (x->body_end == HTTP_UNKNOWN || x->head_end == HTTP_UNKNOWN || sent >= x->body_end)
		return;
	r->truncated = true;
	r->body_expected = x->body_end - x->head_end;
	r->body_delivered = sent > x->head_end ? sent - x->head_end : 0;
}

/* The client had closed its side before the answer was written: the
 * answer went into a dead connection (a gateway that did not notice). */
static void check_client_left(struct request *r, const struct gs_conn_event *e)
{
	if (r->ts_response && closed_by_peer(e) && close_time(e) < r->ts_response) {
		r->client_closed = true;
		r->ts_client_fin = close_time(e);
	}
}

static void close_downstream(struct http_conn *c, const struct gs_conn_event *e)
{
	uint64_t end = e->ts_last_tx ? e->ts_last_tx : e->ts_close;
	bool client_fin = closed_by_peer(e);
	struct request *done = join_request(c->t->join, c->last_done);
	struct xchg *x;

	if (done)	/* answered, not decided yet */
		check_client_left(done, e);

	while ((x = xchg_at(c, 0))) {
		struct request *r = join_request(c->t->join, x->id);

		if (r && x->responded) {
			check_truncated(r, x, e);
			check_client_left(r, e);
			r->ts_done = end > r->ts_response ? end : r->ts_response;
		} else if (r) {
			/* Unanswered at close: who closed first tells if the
			 * client gave up, and after how long. */
			r->client_closed = client_fin;
			r->ts_done = close_time(e);
			if (client_fin)
				r->ts_client_fin = r->ts_done;
		}
		join_request_finish(c->t->join, x->id);
		xchg_pop(c);
	}
}

/* TLS connections by their first bytes, and whether their plaintext was
 * read. */
static void count_tls(struct http_tracker *t, const struct gs_conn_event *e)
{
	if (!(e->flags & (GS_CONN_F_TLS | GS_CONN_F_TLS_READ)))
		return;
	t->tls_conns++;
	if (e->flags & GS_CONN_F_TLS_READ)
		t->tls_read++;
}

/* malloc keeps freed connections for reuse, so after a burst of many the
 * process would stay at its peak: every TRIM_EVERY frees, the free pages
 * go back to the system (malloc_trim walks only free chunks). */
static void release_memory(struct http_tracker *t)
{
	if (++t->freed_since_trim < TRIM_EVERY)
		return;
	t->freed_since_trim = 0;
	malloc_trim(0);
}

void http_track_conn_closed(struct http_tracker *t, const struct gs_conn_event *e,
			    const struct conn_outcome *o)
{
	struct http_conn *c = conn_find(t, e->sk);

	count_tls(t, e);
	if (o->adopted)
		pool_seen(t, e->sk);

	if (!c) {
		if (o->upstream)
			opaque_attempt(t, e, o);
		return;
	}
	c->cur = NULL;
	if (c->h2 && c->dir != GS_DIR_UPSTREAM)
		h2_conn_closed(c->h2, closed_by_peer(e), close_time(e), e->ts_last_tx,
			       stream_tx(e));
	if (!c->broken && !c->tunnel && !c->h2) {
		struct http_stream_stats before = *http_stream_stats(&c->resp);

		http_stream_close(&c->resp, e->ts_close, on_head, c);
		sum_parser_stats(t, &before, &c->resp);
	}
	if (c->dir == GS_DIR_UPSTREAM)
		close_upstream(c, e, o);
	else
		close_downstream(c, e);
	conn_unlink(t, c);
	conn_free(c);
	release_memory(t);
}
