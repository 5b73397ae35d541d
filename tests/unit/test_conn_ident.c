/* The kernel's compact capture records: a connection's identity once
 * (GS_EV_HTTP_CONN), then captures without it (GS_EV_HTTP_HEAD).  The
 * decoder makes whole gs_http_event records of them, for the pipeline and
 * for --record files; captures whose identity is unknown are dropped and
 * counted; the identity table is bounded, closed connections going first. */
#include <stdlib.h>
#include <unistd.h>
#include "decoder.h"
#include "http.h"
#include "testlib.h"

static char dir[] = "/tmp/gs-unit-ident-XXXXXX";

/* What the decoder passed on. */
struct seen {
	unsigned n;
	struct gs_http_event last;
};

static void keep(const struct gs_event_hdr *ev, void *ctx)
{
	struct seen *s = ctx;

	if (!s)
		return;
	s->n++;
	if (ev->type == GS_EV_HTTP)
		memcpy(&s->last, ev, ev->size);
}

static struct gs_http_conn_event ident(uint64_t sk, uint32_t pid)
{
	struct gs_http_conn_event c = {
		.type = GS_EV_HTTP_CONN, .size = sizeof(c), .sk = sk, .ts_conn_start = 1000,
		.ts_established = 1500, .pid = pid, .family = 2, .sport = 41000, .dport = 8080,
		.conn_dir = GS_DIR_UPSTREAM, .saddr = { 10, 0, 0, 1 }, .daddr = { 10, 0, 0, 2 },
		.comm = "gw",
	};

	return c;
}

static struct gs_http_head_event head(uint64_t sk, const char *data)
{
	struct gs_http_head_event h = {
		.type = GS_EV_HTTP_HEAD, .sk = sk, .ts = 2000, .stream_off = 17, .other_off = 5,
		.ts_first_byte = 1900, .ts_last_tx = 1800, .ts_last_rx = 1700, .tid = 9,
		.io_dir = GS_IO_SEND, .flags = 0,
	};

	h.cap_len = strlen(data);
	h.len = h.cap_len + 100;
	h.size = GS_HTTP_HEAD_HDR_SIZE + h.cap_len;
	memcpy(h.data, data, h.cap_len);
	return h;
}

static void feed_ident(struct decoder *d, uint64_t sk)
{
	struct gs_http_conn_event c = ident(sk, 7);

	decoder_feed(d, &c, sizeof(c));
}

/* true when a capture of sk was passed on. */
static bool feed_head(struct decoder *d, struct seen *s, uint64_t sk)
{
	struct gs_http_head_event h = head(sk, "GET / HTTP/1.1\r\n\r\n");
	unsigned before = s->n;

	decoder_feed(d, &h, h.size);
	return s->n == before + 1;
}

static void test_capture_made_whole(void)
{
	struct seen s = { 0 };
	struct decoder d;
	struct gs_http_conn_event c = ident(0x1000, 7);
	struct gs_http_head_event h = head(0x1000, "GET /a HTTP/1.1\r\n\r\n");
	const struct gs_http_event *e = &s.last;

	decoder_init(&d, keep, &s);
	decoder_feed(&d, &c, sizeof(c));
	ASSERT_EQ(s.n, 0);	/* an identity alone is passed on as nothing */
	decoder_feed(&d, &h, h.size);
	if (ASSERT_EQ(s.n, 1) && ASSERT_EQ(e->type, GS_EV_HTTP)) {
		ASSERT_EQ(e->size, GS_HTTP_HDR_SIZE + h.cap_len);
		ASSERT_EQ(e->sk, 0x1000);
		ASSERT_EQ(e->ts, 2000);
		ASSERT_EQ(e->stream_off, 17);
		ASSERT_EQ(e->other_off, 5);
		ASSERT_EQ(e->ts_conn_start, 1000);
		ASSERT_EQ(e->ts_established, 1500);
		ASSERT_EQ(e->ts_first_byte, 1900);
		ASSERT_EQ(e->ts_last_tx, 1800);
		ASSERT_EQ(e->ts_last_rx, 1700);
		ASSERT_EQ(e->pid, 7);
		ASSERT_EQ(e->tid, 9);
		ASSERT_EQ(e->len, h.len);
		ASSERT_EQ(e->cap_len, h.cap_len);
		ASSERT_EQ(e->family, 2);
		ASSERT_EQ(e->sport, 41000);
		ASSERT_EQ(e->dport, 8080);
		ASSERT_EQ(e->io_dir, GS_IO_SEND);
		ASSERT_EQ(e->conn_dir, GS_DIR_UPSTREAM);
		ASSERT_EQ(e->saddr[0], 10);
		ASSERT_EQ(e->daddr[3], 2);
		ASSERT_STREQ(e->comm, "gw");
		ASSERT_TRUE(!memcmp(e->data, h.data, h.cap_len));
	}
	ASSERT_EQ(d.heads_unknown, 0);
	ASSERT_EQ(d.malformed, 0);
	decoder_free(&d);
}

/* A capture of a connection never announced (its identity record was
 * lost with a full ring) is lost too: dropped and counted. */
static void test_unknown_connection_counted(void)
{
	struct seen s = { 0 };
	struct decoder d;

	decoder_init(&d, keep, &s);
	feed_ident(&d, 0x1000);
	ASSERT_TRUE(!feed_head(&d, &s, 0x2000));
	ASSERT_EQ(d.heads_unknown, 1);
	ASSERT_TRUE(feed_head(&d, &s, 0x1000));
	decoder_free(&d);
}

/* A process may read what a reset connection had queued after its close
 * event: the identity outlives the close. */
static void test_identity_outlives_close(void)
{
	struct seen s = { 0 };
	struct decoder d;
	struct gs_conn_event close = { .type = GS_EV_CONN, .size = sizeof(close), .sk = 0x1000 };

	decoder_init(&d, keep, &s);
	feed_ident(&d, 0x1000);
	decoder_feed(&d, &close, sizeof(close));
	ASSERT_TRUE(feed_head(&d, &s, 0x1000));
	ASSERT_EQ(d.heads_unknown, 0);
	decoder_free(&d);
}

/* Full: the connection closed longest ago goes first; a live one only when
 * all are live (counted); a new connection at a socket address replaces
 * the old one's identity. */
static void test_bounded_closed_first(void)
{
	struct seen s = { 0 };
	struct decoder d;
	struct gs_conn_event close = { .type = GS_EV_CONN, .size = sizeof(close), .sk = 0x1000 };
	struct gs_http_conn_event again = ident(0x3000, 8);

	decoder_init(&d, keep, &s);
	d.max_conns = 2;
	feed_ident(&d, 0x1000);
	feed_ident(&d, 0x2000);
	decoder_feed(&d, &close, sizeof(close));	/* 0x1000 closed */
	feed_ident(&d, 0x3000);				/* pushes out 0x1000 */
	ASSERT_TRUE(!feed_head(&d, &s, 0x1000));
	ASSERT_TRUE(feed_head(&d, &s, 0x2000));
	ASSERT_TRUE(feed_head(&d, &s, 0x3000));
	ASSERT_EQ(d.idents.evicted_live, 0);
	feed_ident(&d, 0x4000);				/* all live: 0x2000 goes, counted */
	ASSERT_EQ(d.idents.evicted_live, 1);
	ASSERT_TRUE(!feed_head(&d, &s, 0x2000));
	ASSERT_TRUE(feed_head(&d, &s, 0x4000));
	decoder_feed(&d, &again, sizeof(again));	/* same socket, new connection */
	ASSERT_EQ(d.idents.n, 2);
	ASSERT_TRUE(feed_head(&d, &s, 0x3000));
	ASSERT_EQ(s.last.pid, 8);
	ASSERT_EQ(d.heads_unknown, 2);
	decoder_free(&d);
}

static void test_malformed_compact_dropped(void)
{
	struct seen s = { 0 };
	struct decoder d;
	struct gs_http_conn_event c = ident(0x1000, 7);
	struct gs_http_head_event h = head(0x1000, "GET / HTTP/1.1\r\n\r\n");

	decoder_init(&d, keep, &s);
	c.size = sizeof(c) - 1;
	decoder_feed(&d, &c, sizeof(c));
	ASSERT_EQ(d.malformed, 1);
	c.size = sizeof(c);
	decoder_feed(&d, &c, sizeof(c));
	h.size++;				/* size and capture length disagree */
	decoder_feed(&d, &h, sizeof(h));
	h.size--;
	h.flags = GS_HTTP_F_H2_WIPED;		/* recordings only */
	decoder_feed(&d, &h, h.size);
	h.flags = 0;
	decoder_feed(&d, &h, h.size - 1);	/* shorter than its size field */
	ASSERT_EQ(d.malformed, 4);
	ASSERT_EQ(s.n, 0);
	decoder_free(&d);
}

/* --record files hold the whole records: replayed, a capture is the same
 * event the live pipeline saw. */
static void test_recorded_whole(void)
{
	struct seen live = { 0 }, replayed = { 0 };
	struct decoder d;
	char path[256];

	snprintf(path, sizeof(path), "%s/compact.gsr", dir);
	decoder_init(&d, keep, &live);
	if (!ASSERT_EQ(decoder_record_open(&d, path), 0))
		return;
	feed_ident(&d, 0x1000);
	ASSERT_TRUE(feed_head(&d, &live, 0x1000));
	ASSERT_EQ(decoder_record_close(&d), 0);
	decoder_free(&d);

	decoder_init(&d, keep, &replayed);
	ASSERT_EQ(decoder_replay(&d, path), 0);
	if (ASSERT_EQ(replayed.n, 1))
		ASSERT_TRUE(!memcmp(&replayed.last, &live.last, live.last.size));
	decoder_free(&d);
	unlink(path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		printf("FAIL conn_ident: mkdtemp\n");
		return 1;
	}
	RUN_TEST(test_capture_made_whole);
	RUN_TEST(test_unknown_connection_counted);
	RUN_TEST(test_identity_outlives_close);
	RUN_TEST(test_bounded_closed_first);
	RUN_TEST(test_malformed_compact_dropped);
	RUN_TEST(test_recorded_whole);
	rmdir(dir);
	TEST_MAIN_END();
}
