// SPDX-License-Identifier: MIT
/* HTTP/2 streams as requests: see h2.h. */
#include <stdlib.h>
#include <string.h>
#include "h2.h"
#include "h2_frame.h"
#include "h2_record.h"
#include "log.h"

/* RST_STREAM / GOAWAY error codes (RFC 9113, section 7). */
#define H2_NO_ERROR	0x0
#define H2_CANCEL	0x8

/* Upstream attempts that ended without an answer, kept for their
 * connection's TCP facts. */
#define H2_UNANSWERED_KEPT 16
/* A recording's replay: recorded header blocks waiting for the bytes
 * that end them, per direction (they come just before those). */
#define H2_FIELDS_QUEUED 64

struct h2_fields_q {
	uint8_t *blk[H2_FIELDS_QUEUED];	/* h2_record.h's packed fields */
	uint16_t len[H2_FIELDS_QUEUED];
	unsigned head, n;
	bool lost;	/* one could not be kept: the blocks after it have no fields */
};

struct h2_stream {
	uint32_t id;		/* 0: free slot */
	uint32_t req;		/* join engine handle: request, or attempt upstream */
	bool responded;		/* a final :status was written */
	bool grpc;
	/* Upstream: a stream id, this one's or later, that the backend sent a
	 * frame on while this one waited: it read this stream's request
	 * (streams open in order, TCP delivers in order); 0: no proof. */
	uint32_t read_proof;
};

/* What one header block said. */
struct h2_block {
	struct http_head h;	/* method, host, path, fp, req_id (requests) */
	uint16_t status;	/* :status, 0 if none */
	int grpc_status;	/* -1 if none */
	bool grpc;		/* content-type application/grpc... */
	uint64_t grpc_timeout_ns;
};

struct h2_conn {
	struct request proto;
	bool upstream;
	struct attempt aproto;		/* upstream: every attempt's connection side */
	unsigned nattempts;		/* upstream: streams opened as attempts */
	uint32_t unanswered[H2_UNANSWERED_KEPT];	/* upstream: ended unanswered, newest last */
	unsigned nunanswered;
	bool broken;
	struct joiner *join;
	struct h2_stats *st;
	struct h2_reader rd[2];		/* [1]: client -> server, [0]: server -> client */
	struct h2_fields_q fq[2];	/* replay: recorded header blocks, as rd[] */
	const struct gs_http_event *cur;
	bool cur_request;
	struct h2_block blk;
	/* Client-facing: the last GOAWAY of each side (0: none). */
	uint64_t ts_goaway[2];		/* [1]: the client's, [0]: the gateway's */
	uint32_t goaway_last[2], goaway_code[2];
	unsigned nstreams;
	struct h2_stream streams[H2_STREAMS_MAX];
};

static void block_reset(struct h2_block *b)
{
	memset(b, 0, sizeof(*b));
	b->grpc_status = -1;
}

struct h2_conn *h2_conn_new(const struct request *proto, const struct attempt *upstream,
			    struct joiner *join, struct h2_stats *st)
{
	struct h2_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (h2_reader_init(&h->rd[0]) || h2_reader_init(&h->rd[1])) {
		h2_conn_free(h);
		return NULL;
	}
	h->proto = *proto;
	h->upstream = upstream != NULL;
	if (upstream)
		h->aproto = *upstream;
	h->join = join;
	h->st = st;
	block_reset(&h->blk);
	st->conns++;
	return h;
}

static void fields_q_clear(struct h2_fields_q *q)
{
	for (unsigned i = 0; i < q->n; i++)
		free(q->blk[(q->head + i) % H2_FIELDS_QUEUED]);
	q->head = q->n = 0;
}

void h2_conn_free(struct h2_conn *h)
{
	if (!h)
		return;
	fields_q_clear(&h->fq[0]);
	fields_q_clear(&h->fq[1]);
	h2_reader_free(&h->rd[0]);
	h2_reader_free(&h->rd[1]);
	free(h);
}

const char *h2_conn_error(const struct h2_conn *h)
{
	return h->rd[1].error ? h->rd[1].error : h->rd[0].error;
}

/* gRPC's codes where HTTP has a status that means the same to whoever
 * reads a route's 5xx and 504 counts (a gateway gives these statuses when
 * it translates). */
uint16_t h2_grpc_http_status(int grpc_status)
{
	switch (grpc_status) {
	case 0: return 0;	/* OK: the HTTP status stands */
	case 1: return 499;	/* CANCELLED: the client gave up */
	case 3: return 400;	/* INVALID_ARGUMENT */
	case 4: return 504;	/* DEADLINE_EXCEEDED */
	case 5: return 404;	/* NOT_FOUND */
	case 7: return 403;	/* PERMISSION_DENIED */
	case 8: return 429;	/* RESOURCE_EXHAUSTED: throttled */
	case 12: return 501;	/* UNIMPLEMENTED */
	case 14: return 503;	/* UNAVAILABLE */
	case 16: return 401;	/* UNAUTHENTICATED */
	default: return 500;	/* UNKNOWN, INTERNAL, DATA_LOSS, and the rest */
	}
}

static struct h2_stream *stream_find(struct h2_conn *h, uint32_t id)
{
	for (unsigned i = 0; i < H2_STREAMS_MAX && id; i++)
		if (h->streams[i].id == id)
			return &h->streams[i];
	return NULL;
}

static struct h2_stream *stream_add(struct h2_conn *h, uint32_t id)
{
	for (unsigned i = 0; i < H2_STREAMS_MAX; i++) {
		if (!h->streams[i].id) {
			memset(&h->streams[i], 0, sizeof(h->streams[i]));
			h->streams[i].id = id;
			h->nstreams++;
			return &h->streams[i];
		}
	}
	h->st->streams_overflowed++;
	return NULL;
}

static void stream_end(struct h2_conn *h, struct h2_stream *s, uint64_t ts_done)
{
	struct request *r = join_request(h->join, s->req);

	if (r)
		r->ts_done = ts_done > r->ts_response ? ts_done : r->ts_response;
	join_request_finish(h->join, s->req);
	s->id = 0;
	h->nstreams--;
}

/* ---- header fields ---- */

static bool is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(p, s, n);
}

static void copy_field(char *dst, size_t size, const uint8_t *v, size_t n, bool lower)
{
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++) {
		char c = (char)v[i];

		dst[i] = lower && c >= 'A' && c <= 'Z' ? c + 32 : c;
	}
	dst[n] = '\0';
}

static unsigned parse_uint(const uint8_t *v, size_t n, bool *ok)
{
	unsigned x = 0;

	*ok = n > 0 && n <= 9;
	for (size_t i = 0; i < n && *ok; i++) {
		if (v[i] < '0' || v[i] > '9')
			*ok = false;
		x = x * 10 + (v[i] - '0');
	}
	return *ok ? x : 0;
}

/* grpc-timeout: up to 8 digits and a unit (H M S m u n). */
static uint64_t grpc_timeout_ns(const uint8_t *v, size_t n)
{
	static const struct { char unit; uint64_t ns; } units[] = {
		{ 'H', 3600000000000ull }, { 'M', 60000000000ull }, { 'S', 1000000000ull },
		{ 'm', 1000000ull }, { 'u', 1000ull }, { 'n', 1ull },
	};
	bool ok;
	unsigned x;

	if (n < 2)
		return 0;
	x = parse_uint(v, n - 1, &ok);
	for (size_t i = 0; ok && i < sizeof(units) / sizeof(units[0]); i++)
		if (v[n - 1] == units[i].unit)
			return x * units[i].ns;
	return 0;
}

static void on_field(void *ctx, uint32_t stream, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen)
{
	struct h2_conn *h = ctx;
	struct h2_block *b = &h->blk;
	bool ok;

	(void)stream;
	if (is(name, nlen, ":method")) {
		copy_field(b->h.method, sizeof(b->h.method), value, vlen, false);
	} else if (is(name, nlen, ":authority")) {
		copy_field(b->h.host, sizeof(b->h.host), value, vlen, true);
	} else if (is(name, nlen, "host") && !b->h.host[0]) {
		copy_field(b->h.host, sizeof(b->h.host), value, vlen, true);
	} else if (is(name, nlen, ":path")) {
		http_request_set_path(&b->h, (const char *)value, vlen);
	} else if (is(name, nlen, ":status")) {
		b->status = parse_uint(value, vlen, &ok);
	} else if (is(name, nlen, "grpc-status")) {
		b->grpc_status = (int)parse_uint(value, vlen, &ok);
		if (!ok)
			b->grpc_status = 2;	/* UNKNOWN */
	} else if (is(name, nlen, "grpc-timeout")) {
		b->grpc_timeout_ns = grpc_timeout_ns(value, vlen);
	} else if (nlen && name[0] != ':') {
		if (is(name, nlen, "content-type") && vlen >= 16 &&
		    !memcmp(value, "application/grpc", 16))
			b->grpc = true;
		http_request_header(&b->h, (const char *)name, nlen, (const char *)value, vlen);
	}
}

/* ---- frames ---- */

static void request_block(struct h2_conn *h, const struct h2_frame_ev *ev)
{
	struct request r = h->proto;
	struct h2_stream *s;

	if (stream_find(h, ev->stream) || !h->blk.h.method[0])
		return;		/* trailers of a request, or no request at all */
	s = stream_add(h, ev->stream);
	h->st->streams++;
	if (!s)
		return;
	s->grpc = h->blk.grpc;
	r.tid = h->cur->tid;
	r.ts_start = h->cur->ts;
	r.req_id = h->blk.h.req_id;
	r.fp = h->blk.h.fp;
	r.proto = s->grpc ? REQ_PROTO_GRPC : REQ_PROTO_H2;
	r.h2_stream = ev->stream;
	r.grpc_timeout_ns = h->blk.grpc_timeout_ns;
	memcpy(r.method, h->blk.h.method, sizeof(r.method));
	memcpy(r.host, h->blk.h.host, sizeof(r.host));
	memcpy(r.path, h->blk.h.path, sizeof(r.path));
	s->req = join_request_start(h->join, &r);
}

/* gRPC: a grpc-status other than OK is the answer's status (of a
 * request or of an attempt: the same three fields). */
static void take_grpc_status(const struct h2_block *b, bool *has, int16_t *grpc, uint16_t *status)
{
	if (b->grpc_status < 0)
		return;
	*has = true;
	*grpc = (int16_t)b->grpc_status;
	if (b->grpc_status)
		*status = h2_grpc_http_status(b->grpc_status);
}

static void note_grpc_status(struct request *r, const struct h2_block *b)
{
	take_grpc_status(b, &r->has_grpc_status, &r->grpc_status, &r->status);
}

static void response_block(struct h2_conn *h, const struct h2_frame_ev *ev)
{
	struct h2_stream *s = stream_find(h, ev->stream);
	struct request *r = s ? join_request(h->join, s->req) : NULL;

	if (!s)
		return;
	if (!s->responded && h->blk.status >= 100 && h->blk.status < 200)
		return;		/* 100-continue and the like: the final answer follows */
	if (r && !s->responded && h->blk.status) {
		s->responded = true;
		r->status = h->blk.status;
		r->ts_response = h->cur->ts;
		note_grpc_status(r, &h->blk);
		join_request_answered(h->join, s->req);
	} else if (r) {
		note_grpc_status(r, &h->blk);	/* trailers */
	}
	if (ev->end_stream)
		stream_end(h, s, h->cur->ts);
}

/* RST_STREAM.  By the client before any response: it gave up (CANCEL
 * mostly), a client abort.  By the gateway: the stream failed there with
 * no status (REFUSED_STREAM, INTERNAL_ERROR), or its answer was cut. */
static void stream_reset(struct h2_conn *h, const struct h2_frame_ev *ev, bool by_client)
{
	struct h2_stream *s = stream_find(h, ev->stream);
	struct request *r = s ? join_request(h->join, s->req) : NULL;
	uint64_t ts = h->cur->ts;

	if (!s)
		return;
	if (r) {
		r->h2_rst_code = ev->error_code;
		r->h2_rst_by_client = by_client;
		r->h2_rst = true;
	}
	if (by_client) {
		h->st->resets_by_client++;
		if (r && !s->responded) {
			r->client_closed = true;
			r->ts_client_fin = ts;
		}
	} else {
		h->st->resets_by_gateway++;
		if (r && s->responded && ev->error_code != H2_NO_ERROR)
			r->truncated = true;
	}
	stream_end(h, s, ts);
}

/* ---- upstream: streams the gateway opens are attempts ---- */

static struct attempt *stream_attempt(struct h2_conn *h, const struct h2_stream *s)
{
	return s ? join_attempt(h->join, s->req) : NULL;
}

/* The gateway opened a stream to the backend: an attempt, fresh on the
 * connection's first stream (its connect is the attempt's), else reused. */
static void upstream_request_block(struct h2_conn *h, const struct h2_frame_ev *ev)
{
	struct attempt a = h->aproto;
	bool fresh = h->nattempts == 0;
	struct h2_stream *s;

	if (stream_find(h, ev->stream) || !h->blk.h.method[0])
		return;		/* request trailers, or no request */
	s = stream_add(h, ev->stream);
	h->st->upstream_streams++;
	if (!s)
		return;
	h->nattempts++;
	a.tid = h->cur->tid;
	a.ts_request = h->cur->ts;
	a.ts_start = fresh && a.ts_start ? a.ts_start : h->cur->ts;
	a.reused = !fresh;
	if (!fresh)
		a.connect_ms = -1;
	a.req_id = h->blk.h.req_id;
	a.fp = h->blk.h.fp;
	a.h2_stream = ev->stream;
	a.h2_req_tx_end = h->cur->stream_off + h->cur->cap_len;
	a.resp_body_end = HTTP_UNKNOWN;
	memcpy(a.method, h->blk.h.method, sizeof(a.method));
	memcpy(a.path, h->blk.h.path, sizeof(a.path));
	s->req = join_attempt_start(h->join, &a);
}

static void attempt_grpc_status(struct attempt *a, const struct h2_block *b)
{
	take_grpc_status(b, &a->has_grpc_status, &a->grpc_status, &a->status);
}

/* The stream is over on the gateway's side; one that ended unanswered is
 * kept for its connection's TCP facts. */
static void upstream_stream_end(struct h2_conn *h, struct h2_stream *s)
{
	if (!s->responded) {
		if (h->nunanswered == H2_UNANSWERED_KEPT) {
			memmove(h->unanswered, h->unanswered + 1,
				sizeof(h->unanswered) - sizeof(h->unanswered[0]));
			h->nunanswered--;
		}
		h->unanswered[h->nunanswered++] = s->req;
	}
	s->id = 0;
	h->nstreams--;
}

static void upstream_response_block(struct h2_conn *h, const struct h2_frame_ev *ev)
{
	struct h2_stream *s = stream_find(h, ev->stream);
	struct attempt *a = stream_attempt(h, s);
	uint64_t ts = h->cur->ts, first = h->cur->ts_first_byte;

	if (!s)
		return;
	if (!s->responded && h->blk.status >= 100 && h->blk.status < 200)
		return;		/* interim: the final answer follows */
	if (!s->responded && h->blk.status) {
		s->responded = true;
		if (a) {
			a->status = h->blk.status;
			a->ts_resp_read = ts;
			a->ts_resp_kernel = first && first < ts ? first : ts;
		}
	}
	if (a)
		attempt_grpc_status(a, &h->blk);	/* trailers-only, or trailers */
	if (ev->end_stream)
		upstream_stream_end(h, s);
}

/* RST_STREAM on an upstream stream.  By the backend before its answer:
 * it reset the attempt; after it: the answer was cut.  By the gateway
 * before an answer: it gave up on the stream (its timeout, or its client
 * left), after waiting since the request. */
static void upstream_reset(struct h2_conn *h, const struct h2_frame_ev *ev, bool by_gateway)
{
	struct h2_stream *s = stream_find(h, ev->stream);
	struct attempt *a = stream_attempt(h, s);
	uint64_t ts = h->cur->ts;

	if (!s)
		return;
	if (a) {
		a->h2_rst = true;
		a->h2_rst_by_backend = !by_gateway;
		a->h2_rst_code = ev->error_code;
		if (!s->responded) {
			a->failure = by_gateway ? ATTEMPT_ABANDONED : ATTEMPT_RESET;
			a->ts_stream_end = ts;
			a->h2_read_proof = s->read_proof;
			if (by_gateway && ts > a->ts_request)
				a->idle_close_ns = ts - a->ts_request;
		} else if (!by_gateway && ev->error_code != H2_NO_ERROR) {
			a->truncated = true;
		}
	}
	upstream_stream_end(h, s);
}

/* A backend's GOAWAY: streams above its last stream id were never
 * processed (RFC 9113, 6.8): the backend refused them. */
static void upstream_goaway(struct h2_conn *h, const struct h2_frame_ev *ev)
{
	for (unsigned i = 0; i < H2_STREAMS_MAX && h->nstreams; i++) {
		struct h2_stream *s = &h->streams[i];
		struct attempt *a = s->id ? stream_attempt(h, s) : NULL;

		if (!s->id || s->responded)
			continue;
		if (a) {
			a->ts_h2_goaway = h->cur->ts;
			a->h2_rst_code = ev->error_code;
		}
		if (s->id <= ev->last_stream)
			continue;	/* accepted: it goes on */
		if (a) {
			a->h2_refused = true;
			a->failure = ATTEMPT_REFUSED;
			a->ts_stream_end = h->cur->ts;
		}
		upstream_stream_end(h, s);
	}
}

/* A backend frame on stream id: every stream opened up to it still
 * waiting was read by the backend (without its connection's TCP facts,
 * the proof that the request reached it). */
static void note_backend_read(struct h2_conn *h, uint32_t id)
{
	for (unsigned i = 0; i < H2_STREAMS_MAX && h->nstreams && id; i++) {
		struct h2_stream *s = &h->streams[i];

		if (s->id && s->id <= id && !s->responded && !s->read_proof)
			s->read_proof = id;
	}
}

static void upstream_frame(struct h2_conn *h, const struct h2_frame_ev *ev, bool from_gateway)
{
	struct h2_stream *s;

	if (!from_gateway)
		note_backend_read(h, ev->stream);
	switch (ev->type) {
	case H2_HEADERS:
		from_gateway ? upstream_request_block(h, ev) : upstream_response_block(h, ev);
		break;
	case H2_DATA:
		s = stream_find(h, ev->stream);
		if (!from_gateway && s)
			upstream_stream_end(h, s);
		else if (s && stream_attempt(h, s))	/* the request's body */
			stream_attempt(h, s)->h2_req_tx_end = h->cur->stream_off + h->cur->cap_len;
		break;
	case H2_RST_STREAM:
		upstream_reset(h, ev, from_gateway);
		break;
	case H2_GOAWAY:
		if (h->nstreams)
			h->st->goaways++;
		if (!from_gateway)
			upstream_goaway(h, ev);
		break;
	default:
		break;
	}
}

unsigned h2_conn_upstream_closed(struct h2_conn *h, h2_attempt_fn fn, void *ctx)
{
	for (unsigned i = 0; i < h->nunanswered; i++) {
		struct attempt *a = join_attempt(h->join, h->unanswered[i]);

		if (a)
			fn(a, false, ctx);
	}
	for (unsigned i = 0; i < H2_STREAMS_MAX && h->nstreams; i++) {
		struct h2_stream *s = &h->streams[i];
		struct attempt *a;

		if (!s->id)
			continue;
		a = stream_attempt(h, s);
		if (a)
			fn(a, true, ctx);
		s->id = 0;
		h->nstreams--;
	}
	h->nunanswered = 0;
	return h->nattempts;
}

static void downstream_goaway(struct h2_conn *h, const struct h2_frame_ev *ev, bool by_client);

static void on_frame(void *ctx, const struct h2_frame_ev *ev)
{
	struct h2_conn *h = ctx;
	bool from_client = h->cur_request;

	if (h->upstream && ev->type != H2_SETTINGS && ev->type != H2_PUSH_PROMISE) {
		upstream_frame(h, ev, from_client);
		if (ev->type == H2_HEADERS)
			block_reset(&h->blk);
		return;
	}
	switch (ev->type) {
	case H2_HEADERS:
		from_client ? request_block(h, ev) : response_block(h, ev);
		block_reset(&h->blk);
		break;
	case H2_PUSH_PROMISE:
		block_reset(&h->blk);
		break;
	case H2_DATA:
		if (!from_client && stream_find(h, ev->stream))
			stream_end(h, stream_find(h, ev->stream), h->cur->ts);
		break;
	case H2_RST_STREAM:
		stream_reset(h, ev, from_client);
		break;
	case H2_GOAWAY:
		if (h->nstreams)
			h->st->goaways++;
		downstream_goaway(h, ev, from_client);
		break;
	case H2_SETTINGS:
		/* Its sender decodes with that table: the other direction's encoder may use it. */
		if (ev->table_size != UINT32_MAX)
			h2_reader_table_size(&h->rd[from_client ? 0 : 1], ev->table_size);
		break;
	default:
		break;
	}
}

/* A recorded block is complete in the wiped bytes: its fields, as the
 * recorder packed them (h2_record.h), go to on_field. */
static int on_block_fields(void *ctx, uint32_t stream)
{
	struct h2_conn *h = ctx;
	struct h2_fields_q *q = &h->fq[h->cur_request ? 1 : 0];
	const uint8_t *p;
	size_t n, i = 0;

	if (!q->n || q->lost)
		return -1;
	p = q->blk[q->head];
	n = q->len[q->head];
	while (n - i >= H2_REC_FIELD_HDR) {
		size_t nl = p[i] | p[i + 1] << 8, vl = p[i + 2] | p[i + 3] << 8;
		const uint8_t *name = p + i + H2_REC_FIELD_HDR;

		if (nl + vl > n - i - H2_REC_FIELD_HDR)
			break;
		on_field(h, stream, name, nl, name + nl, vl);
		i += H2_REC_FIELD_HDR + nl + vl;
	}
	free(q->blk[q->head]);
	q->head = (q->head + 1) % H2_FIELDS_QUEUED;
	q->n--;
	return i == n ? 0 : -1;
}

static const struct h2_frame_cbs cbs = {
	.field = on_field, .frame = on_frame, .block_fields = on_block_fields,
};

int h2_conn_fields(struct h2_conn *h, const struct gs_http_event *e, bool is_request)
{
	struct h2_fields_q *q = &h->fq[is_request ? 1 : 0];
	unsigned tail = (q->head + q->n) % H2_FIELDS_QUEUED;
	uint8_t *blk;

	h->rd[is_request ? 1 : 0].fields_supplied = true;
	if (h->broken)
		return -1;
	/* No room: its block finds no fields, and the direction breaks
	 * there (counted), never decoded from the wrong fields. */
	blk = q->n < H2_FIELDS_QUEUED ? malloc(e->cap_len ? e->cap_len : 1) : NULL;
	if (!blk) {
		q->lost = true;
		return 0;
	}
	memcpy(blk, e->data, e->cap_len);
	q->blk[tail] = blk;
	q->len[tail] = (uint16_t)e->cap_len;
	q->n++;
	return 0;
}

int h2_conn_feed(struct h2_conn *h, const struct gs_http_event *e, bool is_request)
{
	struct h2_reader *r = &h->rd[is_request ? 1 : 0];

	if (h->broken)
		return -1;
	h->cur = e;
	h->cur_request = is_request;
	if (e->flags & GS_HTTP_F_H2_WIPED)	/* recorded: blocks come as fields */
		r->fields_supplied = true;
	if (h2_reader_feed(r, e->data, e->cap_len, e->len, e->stream_off, &cbs, h) < 0) {
		h->broken = true;
		h->st->broken_conns++;
		log_debug("HTTP/2 connection of %s: %s at offset %llu; no longer decoded",
			  h->proto.client, r->error, (unsigned long long)r->error_off);
	}
	h->cur = NULL;
	block_reset(&h->blk);
	return h->broken ? -1 : 0;
}

/* Which side's GOAWAY ended r, unanswered: the side that closed the
 * connection after sending one. */
static void note_goaway(struct h2_conn *h, struct request *r, bool by_client)
{
	int side = by_client ? 1 : 0;

	if (!h->ts_goaway[side])
		return;
	r->h2_goaway_by = by_client ? H2_GOAWAY_CLIENT : H2_GOAWAY_GATEWAY;
	r->h2_goaway_code = h->goaway_code[side];
	r->h2_goaway_last = h->goaway_last[side];
	r->ts_h2_goaway = h->ts_goaway[side];
}

/* A GOAWAY on the client-facing connection.  The gateway's: streams above
 * its last stream id were never processed (RFC 9113, 6.8), they end now,
 * refused; those below go on until answered or until the connection
 * closes.  The client's: it is leaving (what it closes next says). */
static void downstream_goaway(struct h2_conn *h, const struct h2_frame_ev *ev, bool by_client)
{
	int side = by_client ? 1 : 0;

	h->ts_goaway[side] = h->cur->ts;
	h->goaway_last[side] = ev->last_stream;
	h->goaway_code[side] = ev->error_code;
	for (unsigned i = 0; i < H2_STREAMS_MAX && h->nstreams && !by_client; i++) {
		struct h2_stream *s = &h->streams[i];
		struct request *r;

		if (!s->id || s->id <= ev->last_stream || s->responded)
			continue;
		r = join_request(h->join, s->req);
		if (r) {
			note_goaway(h, r, false);
			r->h2_goaway_refused = true;
		}
		stream_end(h, s, h->cur->ts);
	}
}

void h2_conn_closed(struct h2_conn *h, bool client_fin, uint64_t ts_close, uint64_t ts_last_tx,
		    uint64_t gw_sent)
{
	for (unsigned i = 0; i < H2_STREAMS_MAX && h->nstreams; i++) {
		struct h2_stream *s = &h->streams[i];
		struct request *r;

		if (!s->id)
			continue;
		r = join_request(h->join, s->req);
		if (r && s->responded) {
			/* Answered, never ended (no END_STREAM, no RST_STREAM):
			 * the close cut the answer, as an HTTP/1 body cut by a
			 * close.  Not when decoding broke or some of what the
			 * gateway wrote was never read (lost events): its end
			 * may be in those bytes. */
			r->truncated |= !h->broken && h->rd[0].pos >= gw_sent;
			stream_end(h, s, ts_last_tx ? ts_last_tx : ts_close);
			continue;
		}
		if (r) {
			r->client_closed = client_fin;
			if (client_fin)
				r->ts_client_fin = ts_close;
			note_goaway(h, r, client_fin);
		}
		stream_end(h, s, ts_close);
	}
}
