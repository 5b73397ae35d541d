// SPDX-License-Identifier: MIT
/* HTTP/2 framing and streams.  A connection is built with libnghttp2's own
 * HPACK deflater (the fixture: 40 requests and answers whose headers fill,
 * reuse and evict the dynamic table, a small table size set by SETTINGS,
 * header blocks split over CONTINUATION frames, padding, priority, DATA
 * interleaved), then fed whole, split in two at every byte offset and one
 * byte at a time: the decoded fields must be exactly those encoded, every
 * time.  Bytes not captured inside DATA are skipped; inside a header block
 * or a frame header they break the direction, with nothing decoded after
 * (never garbage).  Streams become requests with their statuses, client
 * resets are client aborts, grpc-status in trailers is the status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "h2.h"
#include "h2_frame.h"
#include "h2_record.h"
#include "testlib.h"

#define MS 1000000ull

/* ---- building a connection ---- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 1024;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t stream,
		  const uint8_t *payload, size_t n)
{
	uint8_t h[9] = { n >> 16, n >> 8, n, type, flags, stream >> 24, stream >> 16,
			 stream >> 8, stream };

	put(b, h, 9);
	if (n)
		put(b, payload, n);
}

static size_t deflate(nghttp2_hd_deflater *d, const char *const *kv, size_t nkv, uint8_t *out,
		      size_t cap)
{
	nghttp2_nv nv[16];

	for (size_t i = 0; i < nkv; i++) {
		nv[i] = (nghttp2_nv){ (uint8_t *)kv[2 * i], (uint8_t *)kv[2 * i + 1],
				      strlen(kv[2 * i]), strlen(kv[2 * i + 1]), NGHTTP2_NV_FLAG_NONE };
	}
	return (size_t)nghttp2_hd_deflate_hd(d, out, cap, nv, nkv);
}

/* A header block as HEADERS (+ CONTINUATION when split), with padding or
 * priority when asked. */
static void headers(struct buf *b, uint32_t stream, const uint8_t *blk, size_t n,
		    bool end_stream, int style)
{
	uint8_t p[4096];
	uint8_t es = end_stream ? H2_FLAG_END_STREAM : 0;
	size_t k = 0;

	if (style == 1) {	/* padded, with priority */
		p[k++] = 3;
		memset(p + k, 0, 5);
		p[k + 4] = 16;
		k += 5;
		memcpy(p + k, blk, n);
		k += n;
		memset(p + k, 0, 3);
		k += 3;
		frame(b, H2_HEADERS, es | H2_FLAG_END_HEADERS | H2_FLAG_PADDED | H2_FLAG_PRIORITY,
		      stream, p, k);
	} else if (style == 2 && n >= 3) {	/* HEADERS + 2 CONTINUATION */
		size_t a = n / 3, c = n / 3;

		frame(b, H2_HEADERS, es, stream, blk, a);
		frame(b, H2_CONTINUATION, 0, stream, blk + a, c);
		frame(b, H2_CONTINUATION, H2_FLAG_END_HEADERS, stream, blk + a + c, n - a - c);
	} else {
		frame(b, H2_HEADERS, es | H2_FLAG_END_HEADERS, stream, blk, n);
	}
}

#define NSTREAMS 40

struct conn_fixture {
	struct buf c2s, s2c;	/* client -> server, server -> client */
	char want_c2s[NSTREAMS * 600], want_s2c[NSTREAMS * 600];
};

static void want_add(char *log, uint32_t stream, const char *const *kv, size_t nkv)
{
	for (size_t i = 0; i < nkv; i++)
		sprintf(log + strlen(log), "%u %s=%s\n", stream, kv[2 * i], kv[2 * i + 1]);
	sprintf(log + strlen(log), "%u END\n", stream);
}

static void build(struct conn_fixture *f)
{
	nghttp2_hd_deflater *dc, *ds;
	uint8_t blk[4096], data[300] = { 0 };
	/* SETTINGS_HEADER_TABLE_SIZE 8192: the server's encoder may use a
	 * table larger than the default (the reader must learn it from the
	 * client's SETTINGS); the client's encoder keeps to 512 bytes and
	 * evicts all the time. */
	uint8_t settings[6] = { 0, 1, 0, 0, 0x20, 0 };
	char path[64], cookie[64], id[64], status[8], len[16];

	memset(f, 0, sizeof(*f));
	nghttp2_hd_deflate_new(&dc, 512);
	nghttp2_hd_deflate_new(&ds, 8192);
	nghttp2_hd_deflate_change_table_size(ds, 8192);
	put(&f->c2s, H2_PREFACE, H2_PREFACE_LEN);
	frame(&f->c2s, H2_SETTINGS, 0, 0, settings, sizeof(settings));
	frame(&f->s2c, H2_SETTINGS, 0, 0, NULL, 0);
	frame(&f->s2c, H2_SETTINGS, H2_FLAG_ACK, 0, NULL, 0);
	for (uint32_t i = 0; i < NSTREAMS; i++) {
		uint32_t sid = 1 + 2 * i;
		const char *req[] = {
			":method", i % 3 ? "GET" : "POST", ":scheme", "https",
			":authority", "api.example", ":path", path,
			"user-agent", "fixture/1.0", "cookie", cookie, "x-request-id", id,
		};
		const char *resp[] = {
			":status", status, "content-type", "application/json",
			"content-length", len, "server", "nginx",
		};
		size_t n;

		snprintf(path, sizeof(path), "/orders/%u?q=%u", 1000 + i % 7, i);
		snprintf(cookie, sizeof(cookie), "session=%08x", i % 5 * 0x1111);
		snprintf(id, sizeof(id), "req-%u", i);
		snprintf(status, sizeof(status), "%u", i % 4 == 3 ? 503 : 200);
		snprintf(len, sizeof(len), "%u", 100 + i % 3 * 100);
		n = deflate(dc, req, 7, blk, sizeof(blk));
		headers(&f->c2s, sid, blk, n, i % 3 != 0, (int)(i % 3));
		if (i % 3 == 0)
			frame(&f->c2s, H2_DATA, H2_FLAG_END_STREAM, sid, data, 50);
		want_add(f->want_c2s, sid, req, 7);
		n = deflate(ds, resp, 4, blk, sizeof(blk));
		headers(&f->s2c, sid, blk, n, false, (int)((i + 1) % 3));
		want_add(f->want_s2c, sid, resp, 4);
		frame(&f->s2c, H2_DATA, 0, sid, data, sizeof(data));
		frame(&f->s2c, H2_DATA, H2_FLAG_END_STREAM, sid, data, 10);
	}
	frame(&f->s2c, H2_GOAWAY, 0, 0, (const uint8_t[]){ 0, 0, 0, 79, 0, 0, 0, 0 }, 8);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
}

/* ---- reading it back ---- */

struct log {
	char text[NSTREAMS * 1200];
	unsigned ends, goaways;
	struct h2_reader *other;	/* the reverse direction: gets SETTINGS' table size */
};

static void log_field(void *ctx, uint32_t stream, const uint8_t *name, size_t nlen,
		      const uint8_t *value, size_t vlen)
{
	struct log *l = ctx;

	sprintf(l->text + strlen(l->text), "%u %.*s=%.*s\n", stream, (int)nlen, (const char *)name,
		(int)vlen, (const char *)value);
}

static void log_frame(void *ctx, const struct h2_frame_ev *ev)
{
	struct log *l = ctx;

	if (ev->type == H2_HEADERS)
		sprintf(l->text + strlen(l->text), "%u END\n", ev->stream);
	if (ev->type == H2_DATA && ev->end_stream)
		l->ends++;
	if (ev->type == H2_GOAWAY && ev->last_stream == 79)
		l->goaways++;
	if (ev->type == H2_SETTINGS && ev->table_size != UINT32_MAX && l->other)
		h2_reader_table_size(l->other, ev->table_size);
}

static const struct h2_frame_cbs log_cbs = { .field = log_field, .frame = log_frame };

/* Feed the client's direction first (its SETTINGS sizes the server's
 * table), then the server's, each in pieces cut at the given offsets. */
static int read_dir(struct h2_reader *r, struct log *l, const struct buf *b,
		    const size_t *cuts, size_t ncuts)
{
	size_t at = 0;
	int rc = 0;

	for (size_t i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : b->n;

		rc = h2_reader_feed(r, b->p + at, end - at, end - at, at, &log_cbs, l);
		at = end;
	}
	return rc;
}

static bool read_conn(const struct conn_fixture *f, size_t cut_c2s, size_t cut_s2c,
		      struct log *lc, struct log *ls)
{
	struct h2_reader rc, rs;
	bool ok;

	memset(lc, 0, sizeof(*lc));
	memset(ls, 0, sizeof(*ls));
	h2_reader_init(&rc);
	h2_reader_init(&rs);
	lc->other = &rs;
	ok = read_dir(&rc, lc, &f->c2s, &cut_c2s, cut_c2s ? 1 : 0) == 0 &&
	     read_dir(&rs, ls, &f->s2c, &cut_s2c, cut_s2c ? 1 : 0) == 0;
	h2_reader_free(&rc);
	h2_reader_free(&rs);
	return ok;
}

static void test_fixture_whole(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct log *lc = malloc(sizeof(*lc)), *ls = malloc(sizeof(*ls));

	build(f);
	ASSERT_TRUE(read_conn(f, 0, 0, lc, ls));
	ASSERT_STREQ(lc->text, f->want_c2s);
	ASSERT_STREQ(ls->text, f->want_s2c);
	ASSERT_EQ(ls->ends, NSTREAMS);
	ASSERT_EQ(lc->ends, (NSTREAMS + 2) / 3);
	ASSERT_EQ(ls->goaways, 1);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(lc);
	free(ls);
}

/* Every split point of both directions: the same fields, every time. */
static void test_fixture_every_split(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct log *lc = malloc(sizeof(*lc)), *ls = malloc(sizeof(*ls));
	size_t bad = 0, n;

	build(f);
	n = f->c2s.n > f->s2c.n ? f->c2s.n : f->s2c.n;
	for (size_t cut = 1; cut < n; cut++) {
		bool ok = read_conn(f, cut < f->c2s.n ? cut : 0, cut < f->s2c.n ? cut : 0, lc, ls);

		if (!ok || strcmp(lc->text, f->want_c2s) || strcmp(ls->text, f->want_s2c) ||
		    ls->ends != NSTREAMS) {
			if (!bad)
				TL_FAIL("split at %zu: decoded differently", cut);
			bad++;
		}
	}
	ASSERT_EQ(bad, 0);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(lc);
	free(ls);
}

static void test_fixture_bytewise(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct log *lc = calloc(1, sizeof(*lc)), *ls = calloc(1, sizeof(*ls));
	struct h2_reader rc, rs;
	int rcode = 0;

	build(f);
	h2_reader_init(&rc);
	h2_reader_init(&rs);
	lc->other = &rs;
	for (size_t i = 0; i < f->c2s.n && !rcode; i++)
		rcode = h2_reader_feed(&rc, f->c2s.p + i, 1, 1, i, &log_cbs, lc);
	for (size_t i = 0; i < f->s2c.n && !rcode; i++)
		rcode = h2_reader_feed(&rs, f->s2c.p + i, 1, 1, i, &log_cbs, ls);
	ASSERT_EQ(rcode, 0);
	ASSERT_STREQ(lc->text, f->want_c2s);
	ASSERT_STREQ(ls->text, f->want_s2c);
	h2_reader_free(&rc);
	h2_reader_free(&rs);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(lc);
	free(ls);
}

/* Offset of the first frame of a type (after the preface when there is one). */
static size_t find_frame(const struct buf *b, uint8_t type, unsigned nth)
{
	size_t at = b->n && b->p[0] == 'P' ? H2_PREFACE_LEN : 0;

	while (at + 9 <= b->n) {
		size_t len = (size_t)b->p[at] << 16 | b->p[at + 1] << 8 | b->p[at + 2];

		if (b->p[at + 3] == type && nth-- == 0)
			return at;
		at += 9 + len;
	}
	return SIZE_MAX;
}

/* Bytes of a DATA payload not captured: skipped, nothing else changes. */
static void test_gap_in_data_skipped(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct log *ls = calloc(1, sizeof(*ls));
	struct h2_reader r;
	size_t d;

	build(f);
	d = find_frame(&f->s2c, H2_DATA, 0);
	ASSERT_TRUE(d != SIZE_MAX);
	h2_reader_init(&r);
	h2_reader_table_size(&r, 8192);
	/* Up to 20 bytes into the payload, then a 200-byte gap, then the rest. */
	ASSERT_EQ(h2_reader_feed(&r, f->s2c.p, d + 29, d + 229, 0, &log_cbs, ls), 0);
	ASSERT_EQ(h2_reader_feed(&r, f->s2c.p + d + 229, f->s2c.n - d - 229,
				 f->s2c.n - d - 229, d + 229, &log_cbs, ls), 0);
	ASSERT_STREQ(ls->text, f->want_s2c);
	ASSERT_EQ(r.stats.skipped_bytes, 200);
	h2_reader_free(&r);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(ls);
}

/* A header block (or a frame header) not captured: the direction breaks
 * there, and nothing after it is decoded. */
static void test_lost_header_block_breaks(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct log *lc = calloc(1, sizeof(*lc));
	struct h2_reader r;
	size_t h;

	build(f);
	h = find_frame(&f->c2s, H2_HEADERS, 5);
	ASSERT_TRUE(h != SIZE_MAX);
	h2_reader_init(&r);
	ASSERT_EQ(h2_reader_feed(&r, f->c2s.p, h + 12, h + 14, 0, &log_cbs, lc), -1);
	ASSERT_STREQ(r.error, "header block lost");
	/* Whatever follows is refused, never decoded. */
	ASSERT_EQ(h2_reader_feed(&r, f->c2s.p + h + 14, f->c2s.n - h - 14, f->c2s.n - h - 14,
				 h + 14, &log_cbs, lc), -1);
	ASSERT_TRUE(strstr(lc->text, "11 END") == NULL);	/* stream 11: the sixth */
	ASSERT_TRUE(strstr(lc->text, "9 END") != NULL);
	h2_reader_free(&r);

	/* A gap over a frame header. */
	memset(lc, 0, sizeof(*lc));
	h2_reader_init(&r);
	ASSERT_EQ(h2_reader_feed(&r, f->c2s.p, h + 4, h + 4, 0, &log_cbs, lc), 0);
	ASSERT_EQ(h2_reader_feed(&r, f->c2s.p + h + 20, 40, 40, h + 20, &log_cbs, lc), -1);
	ASSERT_STREQ(r.error, "frame header lost");
	h2_reader_free(&r);

	/* A connection whose start was not seen. */
	h2_reader_init(&r);
	ASSERT_EQ(h2_reader_feed(&r, f->c2s.p + h, 40, 40, h, &log_cbs, lc), -1);
	ASSERT_STREQ(r.error, "start of the connection not seen");
	h2_reader_free(&r);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(lc);
}

/* Garbage inside a complete header block: HPACK refuses it, the direction
 * breaks; a header block interrupted by another frame too. */
static void test_bad_blocks(void)
{
	struct buf b = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	struct h2_reader r;
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };	/* index beyond any table */

	put(&b, H2_PREFACE, H2_PREFACE_LEN);
	frame(&b, H2_HEADERS, H2_FLAG_END_HEADERS, 1, junk, sizeof(junk));
	h2_reader_init(&r);
	ASSERT_EQ(h2_reader_feed(&r, b.p, b.n, b.n, 0, &log_cbs, l), -1);
	ASSERT_STREQ(r.error, "HPACK header block does not decode");
	ASSERT_STREQ(l->text, "");
	h2_reader_free(&r);

	b.n = 0;
	put(&b, H2_PREFACE, H2_PREFACE_LEN);
	frame(&b, H2_HEADERS, 0, 1, (const uint8_t[]){ 0x82 }, 1);
	frame(&b, H2_DATA, 0, 1, NULL, 0);
	h2_reader_init(&r);
	ASSERT_EQ(h2_reader_feed(&r, b.p, b.n, b.n, 0, &log_cbs, l), -1);
	ASSERT_STREQ(r.error, "header block interrupted by another frame");
	h2_reader_free(&r);

	b.n = 0;
	put(&b, "PRI * HTTP/1.1\r\n", 16);
	h2_reader_init(&r);
	ASSERT_EQ(h2_reader_feed(&r, b.p, b.n, b.n, 0, &log_cbs, l), -1);
	ASSERT_STREQ(r.error, "bad client preface");
	h2_reader_free(&r);
	free(b.p);
	free(l);
}

/* ---- streams as requests ---- */

static struct request decided[64];
static unsigned ndecided;

static void on_request(const struct request *r, void *ctx)
{
	(void)ctx;
	if (ndecided < 64)
		decided[ndecided++] = *r;
}

static struct attempt orphans[16];
static unsigned norphans;

static void on_orphan(const struct attempt *a, void *ctx)
{
	(void)ctx;
	if (norphans < 16)
		orphans[norphans++] = *a;
}

static const struct attempt *orphan_stream(uint32_t sid)
{
	for (unsigned i = 0; i < norphans; i++)
		if (orphans[i].h2_stream == sid)
			return &orphans[i];
	return &orphans[15];
}

static struct gs_http_event *event(const struct buf *b, size_t from, uint64_t ts, bool recv)
{
	static struct gs_http_event e;
	size_t n = b->n - from;

	memset(&e, 0, sizeof(e));
	e.type = GS_EV_HTTP;
	e.flags = GS_HTTP_F_H2 | GS_HTTP_F_TLS;
	e.io_dir = recv ? GS_IO_RECV : GS_IO_SEND;
	e.conn_dir = GS_DIR_DOWNSTREAM;
	e.ts = ts;
	e.stream_off = from;
	e.len = e.cap_len = n;
	memcpy(e.data, b->p + from, n);
	return &e;
}

static void block(struct buf *b, nghttp2_hd_deflater *d, uint32_t sid, const char *const *kv,
		  size_t nkv, bool end_stream)
{
	uint8_t blk[1024];
	size_t n = deflate(d, kv, nkv, blk, sizeof(blk));

	headers(b, sid, blk, n, end_stream, 0);
}

static struct request *decided_path(const char *path)
{
	for (unsigned i = 0; i < ndecided; i++)
		if (!strcmp(decided[i].path, path))
			return &decided[i];
	return &decided[63];
}

/* One connection fed through the engine, so each case below holds only its frames and asserts. */
struct h2_case {
	struct joiner j;
	struct h2_stats st;
	struct h2_conn *h;
	nghttp2_hd_deflater *dc, *ds;	/* the client's and the server's HPACK */
	struct buf c, s;		/* the client's and the server's bytes */
	size_t c_at, s_at;		/* how much of each was fed */
	uint64_t t;			/* the clock: 1 ms a send */
};

/* UP: an upstream connection, its streams attempts like UP; NULL: a
 * client-facing one, its streams requests. */
static void case_begin(struct h2_case *k, const struct request *proto, const struct attempt *up)
{
	memset(k, 0, sizeof(*k));
	k->t = 1000 * MS;
	ndecided = norphans = 0;
	join_init(&k->j, 0, 0, on_request, on_orphan, NULL);
	k->h = h2_conn_new(proto, up, &k->j, &k->st);
	nghttp2_hd_deflate_new(&k->dc, 4096);
	nghttp2_hd_deflate_new(&k->ds, 4096);
}

static void case_end(struct h2_case *k)
{
	h2_conn_free(k->h);
	join_free(&k->j);
	nghttp2_hd_deflate_del(k->dc);
	nghttp2_hd_deflate_del(k->ds);
	free(k->c.p);
	free(k->s.p);
}

/* Feeds what the client wrote since the last send_c, 1 ms later. */
static void send_c(struct h2_case *k)
{
	k->t += MS;
	h2_conn_feed(k->h, event(&k->c, k->c_at, k->t, true), true);
	k->c_at = k->c.n;
}

/* Feeds what the server wrote since the last send_s, 1 ms later. */
static void send_s(struct h2_case *k)
{
	k->t += MS;
	h2_conn_feed(k->h, event(&k->s, k->s_at, k->t, false), false);
	k->s_at = k->s.n;
}

static void test_streams_are_requests(void)
{
	struct h2_case k;
	struct request proto = { .pid = 7 };
	static const char *const ok[] = { ":status", "200" };
	static const char *const gw504[] = { ":status", "504" };
	static const char *const grpc_ok[] = { ":status", "200", "content-type", "application/grpc" };
	static const char *const grpc_deadline[] = { "grpc-status", "4", "grpc-message", "late" };
#define REQ(p, ...) ((const char *const[]){ ":method", "GET", ":scheme", "https", \
	":authority", "API.example", ":path", p, ##__VA_ARGS__ })

	case_begin(&k, &proto, NULL);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.c, k.dc, 1, REQ("/a/1?x=1"), 4, true);
	block(&k.c, k.dc, 3, REQ("/slow/2"), 4, true);
	block(&k.c, k.dc, 5, REQ("/cancel/3"), 4, true);
	block(&k.c, k.dc, 7, REQ("/svc.Orders/Get", "content-type", "application/grpc",
			     "grpc-timeout", "250m"), 6, false);
	send_c(&k);
	frame(&k.s, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.s, k.ds, 1, ok, 1, false);
	frame(&k.s, H2_DATA, H2_FLAG_END_STREAM, 1, (const uint8_t *)"hello", 5);
	send_s(&k);
	frame(&k.c, H2_RST_STREAM, 0, 5, (const uint8_t[]){ 0, 0, 0, 8 }, 4);	/* CANCEL */
	send_c(&k);
	block(&k.s, k.ds, 3, gw504, 1, true);
	block(&k.s, k.ds, 7, grpc_ok, 2, false);
	frame(&k.s, H2_DATA, 0, 7, (const uint8_t *)"\0\0\0\0\0", 5);
	block(&k.s, k.ds, 7, grpc_deadline, 2, true);
	send_s(&k);
	k.t += MS;
	h2_conn_closed(k.h, true, k.t, k.t, k.s.n);
	join_poll(&k.j, UINT64_MAX);

	ASSERT_EQ(ndecided, 4);
	ASSERT_EQ(k.st.streams, 4);
	ASSERT_EQ(k.st.broken_conns, 0);
	ASSERT_EQ(decided_path("/a/1")->status, 200);
	ASSERT_STREQ(decided_path("/a/1")->host, "api.example");
	ASSERT_EQ(decided_path("/a/1")->proto, REQ_PROTO_H2);
	ASSERT_TRUE(!decided_path("/a/1")->client_closed);
	ASSERT_EQ(decided_path("/slow/2")->status, 504);
	ASSERT_EQ(decided_path("/cancel/3")->status, 0);
	ASSERT_TRUE(decided_path("/cancel/3")->client_closed);
	ASSERT_TRUE(decided_path("/cancel/3")->h2_rst_by_client);
	ASSERT_EQ(decided_path("/cancel/3")->h2_rst_code, 8);
	ASSERT_EQ(k.st.resets_by_client, 1);
	ASSERT_EQ(decided_path("/svc.Orders/Get")->proto, REQ_PROTO_GRPC);
	ASSERT_EQ(decided_path("/svc.Orders/Get")->status, 504);	/* DEADLINE_EXCEEDED */
	ASSERT_EQ(decided_path("/svc.Orders/Get")->grpc_status, 4);
	ASSERT_EQ(decided_path("/svc.Orders/Get")->grpc_timeout_ns, 250 * MS);

	case_end(&k);
}

/* The backend's side of a gateway's HTTP/2 connection (backend_side.h):
 * its streams are followed (HPACK stays in step), and while its process
 * never connected out none is a request: each is counted when decided.
 * Once it connects out (a gateway), the next stream is a request. */
static void test_backend_side_streams(void)
{
	struct h2_case k;
	struct request proto = { .pid = 9, .far_end = true };
	static const char *const gw504[] = { ":status", "504" };
	struct backend_side ends;

	backend_side_init(&ends);
	case_begin(&k, &proto, NULL);
	join_watch_ends(&k.j, &ends);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.c, k.dc, 1, REQ("/a/1"), 4, true);
	block(&k.c, k.dc, 3, REQ("/a/2"), 4, true);
	send_c(&k);
	frame(&k.s, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.s, k.ds, 1, gw504, 1, true);
	send_s(&k);
	frame(&k.c, H2_RST_STREAM, 0, 3, (const uint8_t[]){ 0, 0, 0, 8 }, 4);
	send_c(&k);
	join_poll(&k.j, UINT64_MAX);
	ASSERT_EQ(ndecided, 0);
	ASSERT_EQ(k.j.st.backend_side, 2);
	ASSERT_EQ(k.j.st.requests, 0);

	/* It connects out: a gateway from then on. */
	backend_side_serves(&ends, 9);
	backend_side_upstream_open(&ends, 1, 9);
	block(&k.c, k.dc, 5, REQ("/a/3"), 4, true);
	send_c(&k);
	block(&k.s, k.ds, 5, gw504, 1, true);
	send_s(&k);
	k.t += MS;
	h2_conn_closed(k.h, true, k.t, k.t, k.s.n);
	join_poll(&k.j, UINT64_MAX);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided_path("/a/3")->status, 504);
	ASSERT_EQ(k.j.st.backend_side, 2);
	ASSERT_EQ(k.st.broken_conns, 0);
	case_end(&k);
	backend_side_free(&ends);
}

/* The gateway's GOAWAY (last stream 3): stream 5 was never processed and
 * ends refused at once; stream 3 goes on and is cut when the gateway
 * closes the connection; stream 1 was answered. */
static void test_gateway_goaway(void)
{
	struct h2_case k;
	struct request proto = { .pid = 7 };
	static const char *const ok[] = { ":status", "200" };

	case_begin(&k, &proto, NULL);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.c, k.dc, 1, REQ("/g/1"), 4, true);
	block(&k.c, k.dc, 3, REQ("/g/3"), 4, true);
	block(&k.c, k.dc, 5, REQ("/g/5"), 4, true);
	send_c(&k);
	frame(&k.s, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.s, k.ds, 1, ok, 1, true);
	frame(&k.s, H2_GOAWAY, 0, 0, (const uint8_t[]){ 0, 0, 0, 3, 0, 0, 0, 0 }, 8);
	send_s(&k);
	k.t += 1000 * MS;
	h2_conn_closed(k.h, false, k.t, k.t, k.s.n);	/* the gateway closed first */
	join_poll(&k.j, UINT64_MAX);

	ASSERT_EQ(ndecided, 3);
	ASSERT_EQ(k.st.goaways, 1);
	ASSERT_EQ(decided_path("/g/1")->h2_goaway_by, H2_GOAWAY_NONE);
	ASSERT_EQ(decided_path("/g/1")->status, 200);
	ASSERT_EQ(decided_path("/g/5")->h2_goaway_by, H2_GOAWAY_GATEWAY);
	ASSERT_TRUE(decided_path("/g/5")->h2_goaway_refused);
	ASSERT_EQ(decided_path("/g/5")->h2_goaway_last, 3);
	ASSERT_TRUE(decided_path("/g/5")->ts_done < k.t);		/* ended at the GOAWAY */
	ASSERT_EQ(decided_path("/g/3")->h2_goaway_by, H2_GOAWAY_GATEWAY);
	ASSERT_TRUE(!decided_path("/g/3")->h2_goaway_refused);
	ASSERT_TRUE(!decided_path("/g/3")->client_closed);
	ASSERT_EQ(decided_path("/g/3")->ts_done, k.t);

	case_end(&k);
}

/* The client lowers the header table (SETTINGS_HEADER_TABLE_SIZE 0); the
 * server's answer, sent before it read that SETTINGS, still uses its 4096
 * bytes with no size update: valid, decoded (a backend's trailers-only
 * answer racing nginx's SETTINGS broke the connection before). */
static void test_table_size_race(void)
{
	struct h2_case k;
	struct request proto = { .pid = 7 };
	static const char *const ok[] = { ":status", "200", "x-served-by", "backend-1" };

	case_begin(&k, &proto, NULL);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, (const uint8_t[]){ 0, 1, 0, 0, 0, 0 }, 6);
	block(&k.c, k.dc, 1, REQ("/t/1"), 4, true);
	block(&k.c, k.dc, 3, REQ("/t/3"), 4, true);
	send_c(&k);
	block(&k.s, k.ds, 1, ok, 2, true);
	block(&k.s, k.ds, 3, ok, 2, true);	/* "x-served-by" from the dynamic table */
	send_s(&k);
	h2_conn_closed(k.h, false, k.t + MS, k.t + MS, k.s.n);
	join_poll(&k.j, UINT64_MAX);
	ASSERT_EQ(k.st.broken_conns, 0);
	ASSERT_EQ(decided_path("/t/1")->status, 200);
	ASSERT_EQ(decided_path("/t/3")->status, 200);
	case_end(&k);
}

/* A stream answered and still open when the connection closes: its answer
 * was cut, as an HTTP/1 body cut by a close; unless some of what the
 * gateway wrote was never read (its END_STREAM may be there), or the
 * connection's decoding broke. */
static void cut_at_close(size_t gw_unseen, bool client_fin, bool want_cut)
{
	struct h2_case k;
	struct request proto = { .pid = 7 };
	static const char *const ok[] = { ":status", "200" };

	case_begin(&k, &proto, NULL);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.c, k.dc, 1, REQ("/done/1"), 4, true);
	block(&k.c, k.dc, 3, REQ("/cut/3"), 4, true);
	block(&k.c, k.dc, 5, REQ("/none/5"), 4, true);
	send_c(&k);
	frame(&k.s, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.s, k.ds, 1, ok, 1, false);
	frame(&k.s, H2_DATA, H2_FLAG_END_STREAM, 1, (const uint8_t *)"whole", 5);
	block(&k.s, k.ds, 3, ok, 1, false);
	frame(&k.s, H2_DATA, 0, 3, (const uint8_t *)"part", 4);
	send_s(&k);
	k.t += MS;
	h2_conn_closed(k.h, client_fin, k.t, k.t - MS, k.s.n + gw_unseen);
	join_poll(&k.j, UINT64_MAX);

	ASSERT_EQ(ndecided, 3);
	ASSERT_EQ(decided_path("/cut/3")->status, 200);
	ASSERT_EQ(decided_path("/cut/3")->truncated, want_cut);
	ASSERT_EQ(decided_path("/cut/3")->ts_done, k.t - MS);	/* the gateway's last write */
	ASSERT_TRUE(!decided_path("/cut/3")->client_closed);
	ASSERT_TRUE(!decided_path("/done/1")->truncated);
	ASSERT_TRUE(!decided_path("/none/5")->truncated);	/* unanswered: no answer to cut */
	ASSERT_EQ(decided_path("/none/5")->status, 0);
	ASSERT_EQ(decided_path("/none/5")->client_closed, client_fin);
	case_end(&k);
}

static void test_answered_stream_cut_at_close(void)
{
	cut_at_close(0, false, true);		/* the gateway closed inside the answer */
	cut_at_close(0, true, true);		/* the client left inside it */
	cut_at_close(9, false, false);		/* a frame written, never read: not known */
}

static unsigned closed_open, closed_ended;

static void count_closed(struct attempt *a, bool stream_open, void *ctx)
{
	(void)ctx;
	a->have_conn = true;
	stream_open ? closed_open++ : closed_ended++;
}

/* An upstream connection (nginx grpc_pass): every stream the gateway
 * opens is an attempt; the backend's :status and trailers' grpc-status,
 * its RST_STREAM, its GOAWAY and the gateway's own RST_STREAM end them. */
static void test_upstream_streams_are_attempts(void)
{
	struct h2_case k;
	struct request proto = { .pid = 7 };
	struct attempt up = { .pid = 7, .backend = "10.0.0.2:50051", .ts_start = 500 * MS,
			      .connect_ms = 0.25 };
	static const char *const grpc_ok[] = { ":status", "200", "content-type", "application/grpc" };
	static const char *const unavailable[] = { "grpc-status", "14" };
#define CALL(p) ((const char *const[]){ ":method", "POST", ":scheme", "http", \
	":authority", "be", ":path", p, "content-type", "application/grpc" })

	closed_open = closed_ended = 0;
	case_begin(&k, &proto, &up);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, NULL, 0);
	for (uint32_t sid = 1; sid <= 9; sid += 2)
		block(&k.c, k.dc, sid, CALL("/pkg.Svc/M"), 5, false);
	send_c(&k);
	frame(&k.s, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.s, k.ds, 1, grpc_ok, 2, false);
	frame(&k.s, H2_DATA, 0, 1, (const uint8_t *)"\0\0\0\0\0", 5);
	block(&k.s, k.ds, 1, unavailable, 1, true);				/* trailers */
	frame(&k.s, H2_RST_STREAM, 0, 3, (const uint8_t[]){ 0, 0, 0, 7 }, 4);	/* REFUSED_STREAM */
	send_s(&k);
	frame(&k.c, H2_RST_STREAM, 0, 9, (const uint8_t[]){ 0, 0, 0, 8 }, 4);	/* the gateway's CANCEL */
	send_c(&k);
	/* GOAWAY, last stream 5: stream 7 was never processed. */
	frame(&k.s, H2_GOAWAY, 0, 0, (const uint8_t[]){ 0, 0, 0, 5, 0, 0, 0, 0 }, 8);
	send_s(&k);
	ASSERT_EQ(h2_conn_upstream_closed(k.h, count_closed, NULL), 5);
	ASSERT_EQ(closed_open, 1);	/* stream 5: open at the close */
	ASSERT_EQ(closed_ended, 3);	/* 3, 7, 9: ended unanswered */
	join_poll(&k.j, UINT64_MAX);

	ASSERT_EQ(k.st.upstream_streams, 5);
	ASSERT_EQ(k.st.streams, 0);
	ASSERT_EQ(k.st.goaways, 1);
	ASSERT_EQ(norphans, 5);
	ASSERT_STREQ(orphan_stream(1)->backend, "10.0.0.2:50051");
	ASSERT_STREQ(orphan_stream(1)->path, "/pkg.Svc/M");
	ASSERT_TRUE(!orphan_stream(1)->reused);
	ASSERT_EQ(orphan_stream(1)->ts_start, 500 * MS);
	ASSERT_EQ(orphan_stream(1)->status, 503);	/* UNAVAILABLE in the trailers */
	ASSERT_EQ(orphan_stream(1)->grpc_status, 14);
	ASSERT_TRUE(orphan_stream(3)->reused);
	ASSERT_EQ(orphan_stream(3)->status, 0);
	ASSERT_TRUE(orphan_stream(3)->h2_rst && orphan_stream(3)->h2_rst_by_backend);
	ASSERT_EQ(orphan_stream(3)->h2_rst_code, 7);
	ASSERT_EQ(orphan_stream(3)->failure, ATTEMPT_RESET);
	ASSERT_TRUE(attempt_end(orphan_stream(3)) > 0);
	ASSERT_EQ(orphan_stream(5)->failure, ATTEMPT_OK);	/* accepted: open until the close */
	ASSERT_TRUE(orphan_stream(7)->h2_refused);
	ASSERT_EQ(orphan_stream(7)->failure, ATTEMPT_REFUSED);
	ASSERT_TRUE(orphan_stream(9)->h2_rst && !orphan_stream(9)->h2_rst_by_backend);
	ASSERT_EQ(orphan_stream(9)->failure, ATTEMPT_ABANDONED);
	ASSERT_TRUE(orphan_stream(9)->idle_close_ns > 0);

	case_end(&k);
}

/* HAProxy multiplexes streams on one upstream connection and resets the
 * one its timeout ends, the connection staying open: a backend frame on
 * that stream or a later one proves the backend read its request. */
static void test_backend_read_proof(void)
{
	struct h2_case k;
	struct request proto = { .pid = 7 };
	struct attempt up = { .pid = 7, .backend = "10.0.0.2:50051", .ts_start = 500 * MS };
	static const char *const ok[] = { ":status", "200", "grpc-status", "0" };
	static const uint8_t cancel[] = { 0, 0, 0, 8 };

	case_begin(&k, &proto, &up);
	put(&k.c, H2_PREFACE, H2_PREFACE_LEN);
	frame(&k.c, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.c, k.dc, 1, CALL("/pkg.Svc/Hang"), 5, true);
	block(&k.c, k.dc, 3, CALL("/pkg.Svc/Ok"), 5, true);
	send_c(&k);
	frame(&k.s, H2_SETTINGS, 0, 0, NULL, 0);
	block(&k.s, k.ds, 3, ok, 2, true);		/* stream 3 answered, 1 not */
	send_s(&k);
	block(&k.c, k.dc, 5, CALL("/pkg.Svc/Hang"), 5, true);
	send_c(&k);
	frame(&k.c, H2_RST_STREAM, 0, 1, cancel, 4);	/* the gateway's timeout */
	frame(&k.c, H2_RST_STREAM, 0, 5, cancel, 4);
	send_c(&k);
	h2_conn_upstream_closed(k.h, count_closed, NULL);
	join_poll(&k.j, UINT64_MAX);

	ASSERT_EQ(norphans, 3);
	ASSERT_EQ(orphan_stream(1)->failure, ATTEMPT_ABANDONED);
	ASSERT_EQ(orphan_stream(1)->h2_read_proof, 3);
	ASSERT_EQ(orphan_stream(5)->failure, ATTEMPT_ABANDONED);
	ASSERT_EQ(orphan_stream(5)->h2_read_proof, 0);	/* nothing from the backend after it */
	case_end(&k);
}

/* ---- recordings: header blocks as decoded, masked fields ---- */

#define REC_MAX 32768

struct rec_list {
	struct gs_http_event *ev[REC_MAX];
	unsigned n;
};

static void rec_keep(struct rec_list *l, const struct gs_http_event *e)
{
	if (l->n < REC_MAX) {
		l->ev[l->n] = malloc(sizeof(*e));
		memcpy(l->ev[l->n++], e, e->size);
	}
}

static void rec_emit(const struct gs_http_event *e, void *ctx)
{
	rec_keep(ctx, e);
}

/* One direction recorded in chunks of cs bytes. */
static void record_dir(struct h2_recorder *rec, struct rec_list *l, const struct buf *b,
		       uint8_t io_dir, size_t cs)
{
	static struct gs_http_event e;

	for (size_t at = 0; at < b->n; at += cs) {
		size_t n = b->n - at < cs ? b->n - at : cs;

		memset(&e, 0, GS_HTTP_HDR_SIZE);
		e.type = GS_EV_HTTP;
		e.sk = 42;
		e.flags = GS_HTTP_F_H2;
		e.io_dir = io_dir;
		e.conn_dir = GS_DIR_DOWNSTREAM;
		e.stream_off = at;
		e.len = e.cap_len = (uint32_t)n;
		e.size = GS_HTTP_HDR_SIZE + (uint32_t)n;
		memcpy(e.data, b->p + at, n);
		h2_record_event(rec, &e);
		rec_keep(l, &e);
	}
}

/* Replay side: a log that takes recorded blocks' fields. */
struct rlog {
	struct log log;			/* first: log_field's ctx */
	const struct gs_http_event *q[REC_MAX];
	unsigned head, n;
};

static int rlog_fields(void *ctx, uint32_t stream)
{
	struct rlog *l = ctx;
	const struct gs_http_event *f;

	if (l->head == l->n)
		return -1;
	f = l->q[l->head++];
	for (size_t i = 0; i + H2_REC_FIELD_HDR <= f->cap_len;) {
		const uint8_t *p = f->data + i;
		size_t nl = p[0] | p[1] << 8, vl = p[2] | p[3] << 8;

		log_field(ctx, stream, p + 4, nl, p + 4 + nl, vl);
		i += H2_REC_FIELD_HDR + nl + vl;
	}
	return 0;
}

static const struct h2_frame_cbs rlog_cbs = {
	.field = log_field, .frame = log_frame, .block_fields = rlog_fields,
};

/* The fixture's fields as a recording keeps them: cookie values and the
 * query's values masked, byte for byte. */
static void masked_want(char *s)
{
	for (char *line = s; *line; line = strchr(line, '\n') + 1) {
		char *sp = strchr(line, ' '), *end = strchr(line, '\n');

		if (!strncmp(sp, " cookie=", 8))	/* "session=..." has no blank */
			memset(sp + 8, '*', end - sp - 8);
		if (!strncmp(sp, " :path=", 7))
			for (char *q = strstr(sp, "?q=") + 3; q < end; q++)
				*q = '*';
	}
}

/* Header block bytes of a recorded direction: every one zero. */
static bool blocks_wiped(const struct buf *b)
{
	size_t at = b->n && b->p[0] == 'P' ? H2_PREFACE_LEN : 0;

	while (at + 9 <= b->n) {
		size_t len = (size_t)b->p[at] << 16 | b->p[at + 1] << 8 | b->p[at + 2];
		uint8_t type = b->p[at + 3];

		for (size_t i = 0; i < len && (type == H2_HEADERS || type == H2_CONTINUATION); i++)
			if (b->p[at + 9 + i])
				return false;
		at += 9 + len;
	}
	return at == b->n;
}

/* The dynamic-table-heavy fixture recorded in chunks of every size from 1
 * to 64 bytes (blocks split across chunks, table sizes from the other
 * direction's SETTINGS) and replayed: the same fields as live, credentials
 * masked; no header block byte kept. */
static void test_record_replay(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct rlog *lc = malloc(sizeof(*lc)), *ls = malloc(sizeof(*ls));
	struct rec_list *l = malloc(sizeof(*l));
	size_t bad = 0;

	build(f);
	masked_want(f->want_c2s);
	masked_want(f->want_s2c);
	for (size_t cs = 1; cs <= 64; cs++) {
		struct h2_recorder *rec = h2_recorder_new(rec_emit, l);
		struct h2_reader rc, rs;
		struct buf wc = { 0 }, ws = { 0 };
		int rcode = 0;

		l->n = 0;
		record_dir(rec, l, &f->c2s, GS_IO_RECV, cs);
		record_dir(rec, l, &f->s2c, GS_IO_SEND, cs);
		h2_recorder_free(rec);
		memset(lc, 0, sizeof(*lc));
		memset(ls, 0, sizeof(*ls));
		h2_reader_init(&rc);
		h2_reader_init(&rs);
		rc.fields_supplied = rs.fields_supplied = true;
		for (unsigned i = 0; i < l->n && !rcode; i++) {
			struct gs_http_event *e = l->ev[i];
			bool c2s = e->io_dir == GS_IO_RECV;
			struct rlog *rl = c2s ? lc : ls;

			if (e->flags & GS_HTTP_F_H2_FIELDS) {
				rl->q[rl->n++] = e;
				continue;
			}
			if (!(e->flags & GS_HTTP_F_H2_WIPED))
				rcode = -1;
			put(c2s ? &wc : &ws, e->data, e->cap_len);
			rcode |= h2_reader_feed(c2s ? &rc : &rs, e->data, e->cap_len, e->len,
						e->stream_off, &rlog_cbs, rl);
		}
		if (rcode || strcmp(lc->log.text, f->want_c2s) || strcmp(ls->log.text, f->want_s2c) ||
		    ls->log.ends != NSTREAMS || !blocks_wiped(&wc) || !blocks_wiped(&ws) ||
		    wc.n != f->c2s.n || ws.n != f->s2c.n) {
			if (!bad)
				TL_FAIL("chunks of %zu bytes: replayed differently (rc %d)", cs, rcode);
			bad++;
		}
		h2_reader_free(&rc);
		h2_reader_free(&rs);
		for (unsigned i = 0; i < l->n; i++)
			free(l->ev[i]);
		free(wc.p);
		free(ws.p);
	}
	ASSERT_EQ(bad, 0);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(lc);
	free(ls);
	free(l);
}

/* A direction whose start was not recorded, or whose bytes stop
 * decoding, keeps no bytes (nothing unmasked can leak). */
static void test_record_unfollowed(void)
{
	struct conn_fixture *f = malloc(sizeof(*f));
	struct rec_list *l = malloc(sizeof(*l));
	struct h2_recorder *rec = h2_recorder_new(rec_emit, l);
	struct buf mid = { 0 };

	build(f);
	l->n = 0;
	put(&mid, f->c2s.p + 100, 200);
	record_dir(rec, l, &mid, GS_IO_RECV, 64);	/* from offset 0, but not a preface */
	ASSERT_TRUE(l->n > 0);
	for (unsigned i = 0; i < l->n; i++) {
		ASSERT_EQ(l->ev[i]->cap_len, 0);
		ASSERT_TRUE(!(l->ev[i]->flags & GS_HTTP_F_H2_FIELDS));
		free(l->ev[i]);
	}
	h2_recorder_free(rec);
	free(mid.p);
	free(f->c2s.p);
	free(f->s2c.p);
	free(f);
	free(l);
}

/* More directions than the recorder follows: the one silent longest is
 * dropped (recorded without bytes from then on), the others go on. */
static void test_record_table_full(void)
{
	struct rec_list *l = malloc(sizeof(*l));
	struct h2_recorder *rec = h2_recorder_new(rec_emit, l);
	static struct gs_http_event e;
	struct buf start = { 0 };

	l->n = 0;
	put(&start, H2_PREFACE, H2_PREFACE_LEN);
	frame(&start, H2_SETTINGS, 0, 0, NULL, 0);
	frame(&start, H2_PING, 0, 0, (const uint8_t *)"12345678", 8);
	for (uint64_t sk = 1; sk <= H2_REC_SLOTS + 1; sk++) {
		memset(&e, 0, GS_HTTP_HDR_SIZE);
		e.type = GS_EV_HTTP;
		e.sk = sk;
		e.ts = sk;
		e.flags = GS_HTTP_F_H2;
		e.io_dir = GS_IO_RECV;
		e.len = e.cap_len = H2_PREFACE_LEN + 9;	/* the preface, SETTINGS */
		memcpy(e.data, start.p, e.cap_len);
		h2_record_event(rec, &e);
		ASSERT_EQ(e.cap_len, H2_PREFACE_LEN + 9);
	}
	for (uint64_t sk = 1; sk <= 2; sk++) {	/* the PING */
		memset(&e, 0, GS_HTTP_HDR_SIZE);
		e.type = GS_EV_HTTP;
		e.sk = sk;
		e.ts = 10000;
		e.flags = GS_HTTP_F_H2;
		e.io_dir = GS_IO_RECV;
		e.stream_off = H2_PREFACE_LEN + 9;
		e.len = e.cap_len = 17;
		memcpy(e.data, start.p + e.stream_off, 17);
		h2_record_event(rec, &e);
		ASSERT_EQ(e.cap_len, sk == 1 ? 0 : 17);		/* sk 1 was the oldest */
		ASSERT_EQ(!!(e.flags & GS_HTTP_F_H2_WIPED), sk != 1);
	}
	ASSERT_EQ(l->n, 0);		/* no header block: no fields */
	h2_recorder_free(rec);
	free(start.p);
	free(l);
}

/* A header block whose fields take more than one record: its direction
 * is no longer recorded (the replay counts it broken), never replayed
 * with fewer fields than the live run decoded. */
static void test_record_block_too_large(void)
{
	struct rec_list *l = malloc(sizeof(*l));
	struct h2_recorder *rec = h2_recorder_new(rec_emit, l);
	nghttp2_hd_deflater *d;
	static char big[GS_CAPTURE_MAX];
	const char *kv[] = { ":method", "GET", ":path", "/a", "x-big", big };
	uint8_t blk[8192];
	struct buf b = { 0 };

	l->n = 0;
	memset(big, 'a', sizeof(big) - 1);
	nghttp2_hd_deflate_new(&d, 4096);
	put(&b, H2_PREFACE, H2_PREFACE_LEN);
	frame(&b, H2_SETTINGS, 0, 0, NULL, 0);
	headers(&b, 1, blk, deflate(d, kv, 3, blk, sizeof(blk)), true, 0);
	record_dir(rec, l, &b, GS_IO_RECV, 1024);
	for (unsigned i = 0; i < l->n; i++) {
		ASSERT_TRUE(!(l->ev[i]->flags & GS_HTTP_F_H2_FIELDS));
		if (l->ev[i]->stream_off + 1024 >= b.n)
			ASSERT_EQ(l->ev[i]->cap_len, 0);	/* the chunk that ends the block */
		free(l->ev[i]);
	}
	nghttp2_hd_deflate_del(d);
	h2_recorder_free(rec);
	free(b.p);
	free(l);
}

static void test_grpc_status_map(void)
{
	ASSERT_EQ(h2_grpc_http_status(0), 0);
	ASSERT_EQ(h2_grpc_http_status(4), 504);
	ASSERT_EQ(h2_grpc_http_status(14), 503);
	ASSERT_EQ(h2_grpc_http_status(8), 429);
	ASSERT_EQ(h2_grpc_http_status(1), 499);
	ASSERT_EQ(h2_grpc_http_status(13), 500);
}

int main(void)
{
	RUN_TEST(test_fixture_whole);
	RUN_TEST(test_fixture_every_split);
	RUN_TEST(test_fixture_bytewise);
	RUN_TEST(test_gap_in_data_skipped);
	RUN_TEST(test_lost_header_block_breaks);
	RUN_TEST(test_bad_blocks);
	RUN_TEST(test_streams_are_requests);
	RUN_TEST(test_backend_side_streams);
	RUN_TEST(test_gateway_goaway);
	RUN_TEST(test_table_size_race);
	RUN_TEST(test_answered_stream_cut_at_close);
	RUN_TEST(test_upstream_streams_are_attempts);
	RUN_TEST(test_backend_read_proof);
	RUN_TEST(test_record_replay);
	RUN_TEST(test_record_unfollowed);
	RUN_TEST(test_record_table_full);
	RUN_TEST(test_record_block_too_large);
	RUN_TEST(test_grpc_status_map);
	TEST_MAIN_END();
}
