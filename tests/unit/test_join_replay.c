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
 * upstream answer).
 *
 * tests/fixtures/haproxy_connect_retries_{a,b}.gsr: two runs of
 * test_attr_haproxy_connect (HAProxy, 2 threads, timeout connect 1s) on a
 * loaded machine: closed ports and SYN-dropping servers, with retries 0 or
 * 2 over two servers in round robin, several clients at once.  The
 * expectations are HAProxy's own log of each run, in the .oracle file
 * beside each fixture: per failed request, how many attempts it made and
 * the server of the last.  Both
 * once went wrong: a refused try was left out of a chain (another
 * request's answer, registered before this one's decision was due, looked
 * like it), and concurrent retry chains on one thread were swapped or
 * called ambiguous.
 *
 * tests/fixtures/haproxy_connect_retries_{c,d}.gsr: two more runs of it,
 * in which a /refused0 request (retries 0, one server) and a /refused2
 * request (retries 2, two servers) were read by one HAProxy thread within
 * 15 us, their four refused connects interleaved within 150 us.  Nearness
 * gave the /refused0 request three of them (in d, its last to the other
 * server: the wrong backend) and the /refused2 request one; the thread's
 * loop order gives each what HAProxy logged.
 *
 * tests/fixtures/haproxy_connect_retries_e.gsr: one more, in which two
 * /refused2 requests of one thread interleaved their six tries twice.
 * The loop's order alone also allowed one of them to stop after two
 * tries, passed over, and the other to make four; but a request passed
 * over is answered in that turn of the loop, before the turns that
 * follow, and its answer came after them.
 *
 * tests/fixtures/haproxy_connect_retries_f.gsr: one more, in which a
 * /synd0 request's connect (begun 14 us after HAProxy read it) and a
 * /synd2 request's retry to the other server (begun 3 ms later, right
 * after that request's first try timed out) fitted the /synd0 request's
 * 503 alike; the rule "the chain begun first is the request read first"
 * took the retry for a first try and named the other server.
 *
 * tests/fixtures/haproxy_connect_retries_{g,h}.gsr: two more.  In g a
 * /synd0 request was read 19 us before a /synd2 request's first try timed
 * out; both the /synd2 retry (38 us after) and the /synd0 connect (90 us
 * after) began "right after" that failure, and the request was left
 * ambiguous: only the first connect after a failure is its retry.  In h
 * a /synd2 request's middle try was closed by HAProxy 75 us after its
 * last try began, and the chain skipped it for its first try (ended a
 * second before), while another thread's try filled the gap: a try
 * between the two is the one before the chain, and at a gateway that
 * keeps requests to their threads the chain stays on its thread.
 *
 * tests/fixtures/pyloop_connect_retries_a.gsr: test_attr_haproxy_connect
 * through the asyncio proxy (gs-pyproxy: one thread, retries on the next
 * backend), its log in the .oracle file.  Two /synd2 requests read 0.3 ms
 * apart ran their three connect timeouts in step, each pair of tries
 * within 0.1 ms; the nearest end gave one of them both first tries and the
 * other two tries only.
 *
 * tests/fixtures/go_mixed_servers.gsr: test_scn_mixed through the Go proxy
 * (gs-goproxy): 100 concurrent requests for one path over a fast and a
 * hanging server (read timeout 1 s), 10 /ok; the Go proxy's log: 50 x 200
 * from 198.18.51.10:48312, 50 x 504 on 198.18.51.10:48313.  One 504 was
 * once left unjoined (its goroutines answered tens of ms late).
 *
 * tests/fixtures/go_mixed_servers_b.gsr: the same test on a loaded machine
 * (fast server 198.18.105.10:46852, hanging 198.18.105.10:46853; the Go
 * proxy's log: 50 x 200 and 50 x 504 likewise): the proxy wrote its 200s
 * up to 300 ms after it read them, one 200's own attempt ended beyond the
 * 250 ms fit window, and that 200 took another request's attempt still
 * hanging on the slow server, leaving a 504 unjoined.  Right: that 200
 * unjoined (an honest unknown), every 504 on the hanging server.
 *
 * tests/fixtures/go_mixed_servers_c.gsr: the same test (fast server
 * 198.18.85.10:58652, hanging 198.18.85.10:58653; the Go proxy's log: 50 x
 * 200 and 50 x 504 likewise, 10 /ok).  Two 200s were written on
 * connections the proxy's Transport had dialed before they arrived (for
 * requests that got another connection first): their connects came before
 * them, and they were left unjoined.  Right: every 200 on the fast
 * server. */
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

/* One failed request of a fixture, as its gateway logged it. */
struct logged {
	char path[64];
	unsigned attempts;
	char backend[GS_ADDR_STRLEN];	/* of the last attempt */
};

#define LOGGED_MAX 32
static struct logged expected[LOGGED_MAX];
static unsigned nexpected, matched, mismatched, ambiguous;

static void as_logged(const struct request *r, void *ctx)
{
	(void)ctx;
	if (r->status == 200)
		return;
	for (unsigned i = 0; i < nexpected; i++) {
		const struct logged *e = &expected[i];

		if (strcmp(r->path, e->path))
			continue;
		if (r->join == JOIN_AMBIGUOUS)
			ambiguous++;
		else if (r->nattempts == e->attempts &&
			 !strcmp(r->attempts[r->nattempts - 1].backend, e->backend))
			matched++;
		else
			mismatched++;
		return;
	}
	mismatched++;
}

/* The oracle beside a fixture (X.oracle for X.gsr): "path attempts
 * backend" per failed request, taken from the gateway's log of the run. */
static unsigned read_oracle(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned n = 0;

	if (!ASSERT_NOT_NULL(f))
		return 0;
	while (n < LOGGED_MAX && fgets(line, sizeof(line), f)) {
		struct logged *e = &expected[n];

		if (line[0] != '#' &&
		    sscanf(line, "%63s %u %47s", e->path, &e->attempts, e->backend) == 3)
			n++;
	}
	fclose(f);
	return n;
}

/* Every failed request of the run joined as the gateway logged it: as many
 * attempts, the same last server, none ambiguous. */
static void check_as_logged(const char *run)
{
	char fixture[128], oracle[128];

	snprintf(fixture, sizeof(fixture), "tests/fixtures/%s.gsr", run);
	snprintf(oracle, sizeof(oracle), "tests/fixtures/%s.oracle", run);
	nexpected = read_oracle(oracle);
	matched = mismatched = ambiguous = 0;
	replay(fixture, as_logged);
	if (matched != nexpected || mismatched || ambiguous)
		fprintf(stderr, "  %s: %u of %u as logged, %u not, %u ambiguous\n", run, matched,
			nexpected, mismatched, ambiguous);
	ASSERT_TRUE(nexpected > 0);
	ASSERT_EQ(matched, nexpected);
	ASSERT_EQ(mismatched, 0);
	ASSERT_EQ(ambiguous, 0);
	pipeline_free(&p);
}

static void test_haproxy_connect_runs(void)
{
	for (const char *run = "abcdefgh"; *run; run++) {
		char name[64];

		snprintf(name, sizeof(name), "haproxy_connect_retries_%c", *run);
		check_as_logged(name);
	}
}

static void test_pyloop_connect_run(void)
{
	check_as_logged("pyloop_connect_retries_a");
}

static unsigned go_200, go_504, go_ok, go_unjoined_200, go_other;
static const char *go_fast, *go_slow;	/* the run's two servers */

static void go_by_server(const struct request *r, void *ctx)
{
	const struct attempt *a = r->nattempts == 1 ? &r->attempts[0] : NULL;

	(void)ctx;
	if (a && r->status == 200 && !strcmp(r->path, "/mixed/item") &&
	    !strcmp(a->backend, go_fast) && a->status == 200)
		go_200++;
	else if (a && r->status == 504 && !strcmp(a->backend, go_slow) && !a->status)
		go_504++;
	else if (a && r->status == 200 && !strncmp(r->path, "/ok/", 4))
		go_ok++;
	else if (!r->nattempts && r->status == 200)
		go_unjoined_200++;
	else
		go_other++;
}

static void go_replay(const char *path, const char *fast, const char *slow)
{
	go_200 = go_504 = go_ok = go_unjoined_200 = go_other = 0;
	go_fast = fast;
	go_slow = slow;
	replay(path, go_by_server);
}

static void test_go_late_answers(void)
{
	go_replay("tests/fixtures/go_mixed_servers.gsr", "198.18.51.10:48312", "198.18.51.10:48313");
	ASSERT_EQ(go_200, 50);
	ASSERT_EQ(go_504, 50);
	ASSERT_EQ(go_ok, 10);
	ASSERT_EQ(go_unjoined_200, 0);
	ASSERT_EQ(go_other, 0);
	pipeline_free(&p);
}

static void test_go_answers_past_the_window(void)
{
	go_replay("tests/fixtures/go_mixed_servers_b.gsr", "198.18.105.10:46852",
		  "198.18.105.10:46853");
	ASSERT_EQ(go_200, 49);
	ASSERT_EQ(go_unjoined_200, 1);
	ASSERT_EQ(go_504, 50);
	ASSERT_EQ(go_ok, 10);
	ASSERT_EQ(go_other, 0);
	pipeline_free(&p);
}

static void test_go_connections_dialed_ahead(void)
{
	go_replay("tests/fixtures/go_mixed_servers_c.gsr", "198.18.85.10:58652",
		  "198.18.85.10:58653");
	ASSERT_EQ(go_200, 50);
	ASSERT_EQ(go_unjoined_200, 0);
	ASSERT_EQ(go_504, 50);
	ASSERT_EQ(go_ok, 10);
	ASSERT_EQ(go_other, 0);
	pipeline_free(&p);
}

int main(void)
{
	RUN_TEST(test_haproxy_connect_runs);
	RUN_TEST(test_pyloop_connect_run);
	RUN_TEST(test_go_late_answers);
	RUN_TEST(test_go_answers_past_the_window);
	RUN_TEST(test_go_connections_dialed_ahead);
	RUN_TEST(test_keepalive_same_path);
	RUN_TEST(test_timeout_burst);
	TEST_MAIN_END();
}
