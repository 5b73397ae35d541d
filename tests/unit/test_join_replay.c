/* The join engine on recorded traffic, through the whole pipeline.
 *
 * tests/fixtures/nginx_mixed_servers.gsr: 100 concurrent requests for one
 * path through nginx (2 workers, proxy_read_timeout 1s) to two servers in
 * round robin, one fast, one that never answers, plus 10 requests to a
 * healthy /ok route; the 49 timeouts of one worker fire in one burst, its
 * closes and 504s interleaved.  nginx's access log of that run (the
 * oracle): /mixed/item 51 x 200 from 198.18.28.10:44082, 49 x 504 from
 * 198.18.28.10:44083; /ok/1..10 200 from 198.18.28.6:44081.
 *
 * tests/fixtures/nginx_keepalive_wrk.gsr: nginx (2 workers, upstream
 * keep-alive pool of 8) in front of gs-httpd on loopback, `wrk -t1 -c8 -d1s`
 * on one path, so every request has the same path and headers and content
 * cannot tell them apart; nginx passed each answer on only after the body
 * followed its head, up to 15 ms later, with other requests' heads read in
 * between.  nginx's access log of that run (the oracle): 168 requests, 166
 * answered 200 by the backend, 2 cut off by wrk at its end (499, no
 * upstream answer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"
#include "testlib.h"

static struct pipeline p;
static unsigned n200_joined, n200, n499;
static unsigned fast_200, slow_504, ok_200, other;

static void count(const struct request *r, void *ctx)
{
	(void)ctx;
	if (r->status == 200 && !r->client_closed) {
		n200++;
		n200_joined += r->nattempts == 1 && r->attempts[0].status == 200;
	} else if (r->client_closed) {
		n499++;
	}
}

/* Replay a fixture through the whole pipeline; sink sees every request
 * the engine hands over (instead of the pipeline's own consumer, so the
 * report is empty).  The pipeline stays set up for the checks. */
static void replay(const char *fixture, request_sink sink)
{
	static struct options o;
	static FILE *devnull;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	o.interval_s = 1;
	o.output = OUTPUT_JSON;
	o.max_conns = 1024;
	o.top_routes = 50;
	o.join_wait_ms = 100;
	ASSERT_EQ(pipeline_init(&p, &o, devnull), 0);
	p.join.on_request = sink;
	ASSERT_TRUE(pipeline_replay(&p, fixture) >= 0);
}

static void test_keepalive_same_path(void)
{
	replay("tests/fixtures/nginx_keepalive_wrk.gsr", count);
	ASSERT_EQ(p.join.st.requests, 168);
	ASSERT_EQ(n200, 166);
	ASSERT_EQ(n200_joined, 166);
	ASSERT_EQ(n499, 2);
	ASSERT_EQ(p.join.st.by_kind[JOIN_AMBIGUOUS], 0);
	ASSERT_EQ(p.join.st.by_kind[JOIN_NONE], 0);
	ASSERT_EQ(p.join.st.joined, 168);
	pipeline_free(&p);
}

/* Which server answered (or failed) each request, as nginx logged it. */
static void by_server(const struct request *r, void *ctx)
{
	const struct attempt *a = r->nattempts == 1 ? &r->attempts[0] : NULL;

	(void)ctx;
	if (a && r->status == 200 && !strcmp(a->backend, "198.18.28.10:44082") && a->status == 200)
		fast_200++;
	else if (a && r->status == 504 && !strcmp(a->backend, "198.18.28.10:44083") && !a->status)
		slow_504++;
	else if (a && r->status == 200 && !strcmp(a->backend, "198.18.28.6:44081"))
		ok_200++;
	else
		other++;
}

static void test_timeout_burst(void)
{
	replay("tests/fixtures/nginx_mixed_servers.gsr", by_server);
	ASSERT_EQ(fast_200, 51);
	ASSERT_EQ(slow_504, 49);
	ASSERT_EQ(ok_200, 10);
	ASSERT_EQ(other, 0);
	ASSERT_EQ(p.join.st.by_kind[JOIN_AMBIGUOUS], 0);
	pipeline_free(&p);
}

int main(void)
{
	RUN_TEST(test_keepalive_same_path);
	RUN_TEST(test_timeout_burst);
	TEST_MAIN_END();
}
