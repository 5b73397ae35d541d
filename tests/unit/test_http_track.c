// SPDX-License-Identifier: MIT
/* The HTTP connection table when full: the least recently used connection
 * is dropped (not the oldest, not the newest), every drop is counted, and
 * a table that keeps filling stays correct over many evictions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_track.h"
#include "testlib.h"

#define MS 1000000ull

static char paths[16][HTTP_PATH_LEN];
static unsigned npaths;

static void on_request(const struct request *r, void *ctx)
{
	(void)ctx;
	if (npaths < 16)
		snprintf(paths[npaths++], sizeof(paths[0]), "%s", r->path);
}

static void on_orphan(const struct attempt *a, void *ctx)
{
	(void)a;
	(void)ctx;
}

static uint64_t offs[64];	/* bytes fed so far per connection */

/* Bytes a client sent on downstream connection sk (read by the gateway). */
static void feed(struct http_tracker *t, uint64_t sk, const char *bytes, uint64_t at)
{
	static struct gs_http_event e;
	size_t n = strlen(bytes);

	memset(&e, 0, GS_HTTP_HDR_SIZE);
	e.type = GS_EV_HTTP;
	e.sk = sk;
	e.ts = at;
	e.stream_off = offs[sk];
	e.pid = 7;
	e.len = e.cap_len = n;
	e.size = GS_HTTP_HDR_SIZE + n;
	e.family = 2;
	e.sport = 80;
	e.dport = 40000 + sk;
	e.io_dir = GS_IO_RECV;
	e.conn_dir = GS_DIR_DOWNSTREAM;
	memcpy(e.data, bytes, n);
	offs[sk] += n;
	http_track_event(t, &e);
}

static void answer_and_close(struct http_tracker *t, uint64_t sk, uint64_t at)
{
	static struct gs_http_event e;
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct gs_conn_event c = { .type = GS_EV_CONN, .sk = sk, .ts_close = at + MS,
				   .direction = GS_DIR_DOWNSTREAM, .family = 2 };
	struct conn_outcome o = { .established = true };

	memset(&e, 0, GS_HTTP_HDR_SIZE);
	e.type = GS_EV_HTTP;
	e.sk = sk;
	e.ts = at;
	e.pid = 7;
	e.len = e.cap_len = strlen(resp);
	e.size = GS_HTTP_HDR_SIZE + e.len;
	e.family = 2;
	e.io_dir = GS_IO_SEND;
	e.conn_dir = GS_DIR_DOWNSTREAM;
	memcpy(e.data, resp, e.len);
	http_track_event(t, &e);
	http_track_conn_closed(t, &c, &o);
}

static bool seen(const char *path)
{
	for (unsigned i = 0; i < npaths; i++)
		if (!strcmp(paths[i], path))
			return true;
	return false;
}

/* Table of 4: A, B, C, D start heads; A is used again; E arrives: B, the
 * least recently used, goes.  A's head completes and is a request; B's end
 * alone starts no request. */
static void test_evicts_least_recently_used(void)
{
	struct joiner j;
	struct http_tracker t;
	uint64_t at = 1000 * MS;

	npaths = 0;
	memset(offs, 0, sizeof(offs));
	ASSERT_EQ(join_init(&j, 0, 0, on_request, on_orphan, NULL), 0);
	ASSERT_EQ(http_track_init(&t, 4, &j), 0);
	feed(&t, 1, "GET /a HTTP/1.1\r\nHost: x\r\n", at);
	feed(&t, 2, "GET /b HTTP/1.1\r\nHost: x\r\n", at + 1);
	feed(&t, 3, "GET /c HTTP/1.1\r\nHost: x\r\n", at + 2);
	feed(&t, 1, "X-A: 1\r\n", at + 3);
	feed(&t, 4, "GET /d HTTP/1.1\r\nHost: x\r\n", at + 4);
	ASSERT_EQ(t.evicted, 0);
	feed(&t, 5, "GET /e HTTP/1.1\r\nHost: x\r\n", at + 5);
	ASSERT_EQ(t.evicted, 1);
	ASSERT_EQ(t.n, 4);
	feed(&t, 1, "\r\n", at + 6);
	feed(&t, 2, "\r\n", at + 7);	/* B is new again: mid-stream, no head */
	ASSERT_EQ(t.evicted, 2);	/* ... and took C's place (LRU: C) */
	for (uint64_t sk = 1; sk <= 5; sk++)
		answer_and_close(&t, sk, at + 10 * MS);
	join_poll(&j, UINT64_MAX);
	ASSERT_TRUE(seen("/a"));
	ASSERT_TRUE(!seen("/b"));
	ASSERT_EQ(t.n, 0);
	http_track_free(&t);
	join_free(&j);
}

/* Many more connections than slots, each used twice: every one beyond the
 * table is one eviction, the table never holds more than its size, and
 * freeing it finds every remaining connection (no list corrupted). */
static void test_many_evictions(void)
{
	struct joiner j;
	struct http_tracker t;
	char line[64];

	ASSERT_EQ(join_init(&j, 0, 0, on_request, on_orphan, NULL), 0);
	ASSERT_EQ(http_track_init(&t, 8, &j), 0);
	for (uint64_t sk = 1000; sk < 1000 + 5000; sk++) {
		struct gs_http_event e = { .type = GS_EV_HTTP, .sk = sk << 6, .pid = 7,
					   .io_dir = GS_IO_RECV, .conn_dir = GS_DIR_DOWNSTREAM,
					   .family = 2 };

		snprintf(line, sizeof(line), "GET /%llu HTTP/1.1\r\n", (unsigned long long)sk);
		e.len = e.cap_len = strlen(line);
		e.size = GS_HTTP_HDR_SIZE + e.len;
		memcpy(e.data, line, e.len);
		http_track_event(&t, &e);
		e.stream_off = e.len;
		http_track_event(&t, &e);
		ASSERT_TRUE(t.n <= 8);
	}
	ASSERT_EQ(t.evicted, 5000 - 8);
	ASSERT_EQ(t.n, 8);
	http_track_free(&t);
	join_free(&j);
}

int main(void)
{
	RUN_TEST(test_evicts_least_recently_used);
	RUN_TEST(test_many_evictions);
	TEST_MAIN_END();
}
