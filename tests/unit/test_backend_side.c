// SPDX-License-Identifier: MIT
/* The backend's side of a gateway's attempt (backend_side.h): a downstream
 * connection that is the far end of a followed upstream connection, read
 * by a process that never connected out, brings no request; any other
 * does.  And the set under it stays exact through many opens and closes. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "backend_side.h"
#include "http_track.h"
#include "testlib.h"

#define MS 1000000ull

static const uint8_t LO4[16] = { 127, 0, 0, 1 };
static const uint8_t LO4_MAPPED[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
static const uint8_t LO6[16] = { [15] = 1 };

/* The ends as the two sockets see them: the upstream one local first. */
static void test_far_end_is_swapped_ends(void)
{
	struct backend_side b;
	uint64_t up = endpoint_pair_key(AF_INET, LO4, 40001, LO4, 8080);

	backend_side_init(&b);
	/* A process that never served: a plain client, no backend's side. */
	ASSERT_TRUE(!backend_side_upstream_open(&b, up, 7));
	ASSERT_TRUE(!backend_side_far_end(&b, AF_INET, LO4, 8080, LO4, 40001));
	backend_side_serves(&b, 7);
	ASSERT_TRUE(backend_side_upstream_open(&b, up, 7));
	ASSERT_TRUE(backend_side_far_end(&b, AF_INET, LO4, 8080, LO4, 40001));
	/* A backend listening on [::] sees the IPv4 connection mapped. */
	ASSERT_TRUE(backend_side_far_end(&b, AF_INET6, LO4_MAPPED, 8080, LO4_MAPPED, 40001));
	/* The same ends, not swapped, are the upstream connection itself. */
	ASSERT_TRUE(!backend_side_far_end(&b, AF_INET, LO4, 40001, LO4, 8080));
	ASSERT_TRUE(!backend_side_far_end(&b, AF_INET, LO4, 8080, LO4, 40002));
	ASSERT_TRUE(!backend_side_far_end(&b, AF_INET6, LO6, 8080, LO6, 40001));
	ASSERT_TRUE(backend_side_is_gateway(&b, 7));
	ASSERT_TRUE(!backend_side_is_gateway(&b, 9));
	backend_side_upstream_closed(&b, up);
	ASSERT_TRUE(!backend_side_far_end(&b, AF_INET, LO4, 8080, LO4, 40001));
	ASSERT_TRUE(backend_side_is_gateway(&b, 7));	/* a gateway stays one */
	backend_side_free(&b);
}

/* 3,000 upstream connections (a few of them twice: a socket address
 * reused before the close was seen) opened and closed in random order:
 * after every step, exactly the open ones are found. */
static void test_many_open_and_closed(void)
{
	enum { N = 3000 };
	static uint16_t port[N];
	static int open[N];
	struct backend_side b;
	uint64_t rng = 42;
	unsigned wrong = 0;

	backend_side_init(&b);
	backend_side_serves(&b, 7);
	for (unsigned i = 0; i < N; i++) {
		port[i] = 1024 + i;
		open[i] = 1 + (i % 97 == 0);
		for (int k = 0; k < open[i]; k++)
			backend_side_upstream_open(&b, endpoint_pair_key(AF_INET, LO4, port[i],
									 LO4, 80), 7);
	}
	for (unsigned step = 0; step < 2 * N; step++) {
		unsigned i = tl_rng_next(&rng) % N;

		if (open[i]) {
			backend_side_upstream_closed(&b, endpoint_pair_key(AF_INET, LO4, port[i],
									   LO4, 80));
			open[i]--;
		}
		if (step % 97)
			continue;
		for (unsigned k = 0; k < N; k++)
			wrong += backend_side_far_end(&b, AF_INET, LO4, 80, LO4, port[k]) !=
				 (open[k] > 0);
	}
	ASSERT_EQ(wrong, 0);
	backend_side_free(&b);
}

/* ---- through the HTTP connection table ---- */

static unsigned nfar, nown;	/* requests reported, by path */

static void on_request(const struct request *r, void *ctx)
{
	(void)ctx;
	nfar += !strcmp(r->path, "/far");
	nown += !strcmp(r->path, "/own");
}

static void on_orphan(const struct attempt *a, void *ctx)
{
	(void)a;
	(void)ctx;
}

/* One captured buffer: a process's read or write on a connection whose
 * local end is port lport and peer end pport (loopback). */
static void io(struct http_tracker *t, uint64_t sk, uint32_t pid, uint8_t conn_dir,
	       uint8_t io_dir, uint16_t lport, uint16_t pport, const char *bytes, uint64_t off,
	       uint64_t at)
{
	static struct gs_http_event e;
	size_t n = strlen(bytes);

	memset(&e, 0, GS_HTTP_HDR_SIZE);
	e.type = GS_EV_HTTP;
	e.sk = sk;
	e.ts = at;
	e.stream_off = off;
	e.pid = pid;
	e.len = e.cap_len = n;
	e.size = GS_HTTP_HDR_SIZE + n;
	e.family = AF_INET;
	e.sport = lport;
	e.dport = pport;
	memcpy(e.saddr, LO4, 4);
	memcpy(e.daddr, LO4, 4);
	e.io_dir = io_dir;
	e.conn_dir = conn_dir;
	memcpy(e.data, bytes, n);
	http_track_event(t, &e);
}

static const char *const GET = "GET /far HTTP/1.1\r\nHost: h\r\n\r\n";
static const char *const GET_OWN = "GET /own HTTP/1.1\r\nHost: h\r\n\r\n";
static const char *const GET_GW = "GET /gw HTTP/1.1\r\nHost: h\r\n\r\n";
static const char *const ANSWER504 = "HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n";

/* The backend (pid 9) reads the gateway's (pid 7) attempt on the far end
 * of its upstream connection and answers 504 itself: no request of its
 * own (it would read gateway/no_upstream).  A client of its own, on
 * another connection, is a request; so is a plain client's (pid 5, which
 * never served: no gateway).  Once the backend connects out it is a
 * gateway: the next request on the far end is its own request. */
static void test_backend_side_not_a_request(void)
{
	struct joiner j;
	struct http_tracker t;
	uint64_t at = 1000 * MS, n = strlen(GET);

	nfar = nown = 0;
	ASSERT_EQ(join_init(&j, 0, 0, on_request, on_orphan, NULL), 0);
	ASSERT_EQ(http_track_init(&t, 64, &j), 0);
	io(&t, 10, 7, GS_DIR_DOWNSTREAM, GS_IO_RECV, 80, 60000, GET_GW, 0, at - 1);
	io(&t, 1, 7, GS_DIR_UPSTREAM, GS_IO_SEND, 40001, 8080, GET, 0, at);
	io(&t, 2, 9, GS_DIR_DOWNSTREAM, GS_IO_RECV, 8080, 40001, GET, 0, at + 1);
	io(&t, 2, 9, GS_DIR_DOWNSTREAM, GS_IO_SEND, 8080, 40001, ANSWER504, 0, at + 2);
	/* Its own client: a request. */
	io(&t, 3, 9, GS_DIR_DOWNSTREAM, GS_IO_RECV, 8080, 50000, GET_OWN, 0, at + 3);
	io(&t, 3, 9, GS_DIR_DOWNSTREAM, GS_IO_SEND, 8080, 50000, ANSWER504, 0, at + 4);
	/* A plain client's request to it: a request. */
	io(&t, 5, 5, GS_DIR_UPSTREAM, GS_IO_SEND, 41000, 8080, GET_OWN, 0, at + 3);
	io(&t, 6, 9, GS_DIR_DOWNSTREAM, GS_IO_RECV, 8080, 41000, GET_OWN, 0, at + 4);
	io(&t, 6, 9, GS_DIR_DOWNSTREAM, GS_IO_SEND, 8080, 41000, ANSWER504, 0, at + 5);
	join_poll(&j, UINT64_MAX);
	ASSERT_EQ(nfar, 0);
	ASSERT_EQ(nown, 2);
	ASSERT_EQ(j.st.backend_side, 1);

	/* It connects out: a gateway; the far end's next request is its own. */
	io(&t, 4, 9, GS_DIR_UPSTREAM, GS_IO_SEND, 40100, 9090, GET_OWN, 0, at + 6);
	io(&t, 1, 7, GS_DIR_UPSTREAM, GS_IO_SEND, 40001, 8080, GET, n, at + 7);
	io(&t, 2, 9, GS_DIR_DOWNSTREAM, GS_IO_RECV, 8080, 40001, GET, n, at + 8);
	io(&t, 2, 9, GS_DIR_DOWNSTREAM, GS_IO_SEND, 8080, 40001, ANSWER504, strlen(ANSWER504),
	   at + 9);
	join_poll(&j, UINT64_MAX);
	ASSERT_EQ(nfar, 1);
	ASSERT_EQ(j.st.backend_side, 1);
	http_track_free(&t);
	join_free(&j);
}

/* Two gateways on one host, both traced: C (pid 11) serves its clients
 * and proxies to G (pid 12), which proxies on.  G's first request after
 * the start is read on the far end of C's upstream connection before G
 * was ever seen connecting out; it connects for it right after.  Decided
 * when its answer is in, it is G's request. */
static void test_gateway_first_request_kept(void)
{
	struct joiner j;
	struct http_tracker t;
	uint64_t at = 1000 * MS;
	static const char *const ANSWER200 = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	nfar = nown = 0;
	ASSERT_EQ(join_init(&j, 0, 0, on_request, on_orphan, NULL), 0);
	ASSERT_EQ(http_track_init(&t, 64, &j), 0);
	io(&t, 20, 11, GS_DIR_DOWNSTREAM, GS_IO_RECV, 443, 60000, GET_OWN, 0, at);
	io(&t, 21, 11, GS_DIR_UPSTREAM, GS_IO_SEND, 40001, 8080, GET, 0, at + 1);
	io(&t, 22, 12, GS_DIR_DOWNSTREAM, GS_IO_RECV, 8080, 40001, GET, 0, at + 2);
	io(&t, 23, 12, GS_DIR_UPSTREAM, GS_IO_SEND, 40500, 9090, GET, 0, at + 3);
	io(&t, 23, 12, GS_DIR_UPSTREAM, GS_IO_RECV, 40500, 9090, ANSWER200, 0, at + 4);
	io(&t, 22, 12, GS_DIR_DOWNSTREAM, GS_IO_SEND, 8080, 40001, ANSWER200, 0, at + 5);
	join_poll(&j, UINT64_MAX);
	ASSERT_EQ(nfar, 1);
	ASSERT_EQ(j.st.backend_side, 0);
	http_track_free(&t);
	join_free(&j);
}

int main(void)
{
	RUN_TEST(test_far_end_is_swapped_ends);
	RUN_TEST(test_many_open_and_closed);
	RUN_TEST(test_backend_side_not_a_request);
	RUN_TEST(test_gateway_first_request_kept);
	TEST_MAIN_END();
}
