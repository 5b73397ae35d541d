// SPDX-License-Identifier: MIT
/* The HTTP tracker sums its streams' parser counts as they grow, so a
 * report shows them while the connections are still open. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "http_track.h"
#include "join.h"
#include "testlib.h"

static void ignore_request(const struct request *r, void *ctx)
{
	(void)r;
	(void)ctx;
}

static void ignore_attempt(const struct attempt *a, void *ctx)
{
	(void)a;
	(void)ctx;
}

/* A downstream request buffer of len bytes, of which text was captured. */
static void feed(struct http_tracker *t, const char *text, uint32_t len, uint64_t off)
{
	static struct gs_http_event e;

	memset(&e, 0, sizeof(e));
	e.type = GS_EV_HTTP;
	e.sk = 0x1234;
	e.ts = 1000000 + off;
	e.stream_off = off;
	e.pid = 42;
	e.len = len;
	e.cap_len = strlen(text);
	e.family = AF_INET;
	e.sport = 80;
	e.dport = 40000;
	e.io_dir = GS_IO_RECV;
	e.conn_dir = GS_DIR_DOWNSTREAM;
	memcpy(e.data, text, e.cap_len);
	e.size = GS_HTTP_HDR_SIZE + e.cap_len;
	http_track_event(t, &e);
}

static void test_parser_counts_summed_while_open(void)
{
	static struct joiner j;
	static struct http_tracker t;
	const char *cut = "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Long: aaaa";
	const char *whole = "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n";

	ASSERT_EQ(join_init(&j, 0, 0, ignore_request, ignore_attempt, NULL), 0);
	ASSERT_EQ(http_track_init(&t, 16, &j), 0);
	/* A head of 600 bytes of which 48 were captured, then a whole one. */
	feed(&t, cut, 600, 0);
	feed(&t, whole, strlen(whole), 600);
	ASSERT_EQ(t.parser.heads, 2);
	ASSERT_EQ(t.parser.truncated, 1);
	ASSERT_EQ(t.unparsable, 0);
	http_track_free(&t);
	join_free(&j);
}

int main(void)
{
	RUN_TEST(test_parser_counts_summed_while_open);
	TEST_MAIN_END();
}
