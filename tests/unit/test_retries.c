// SPDX-License-Identifier: MIT
/* Client retry stage: throttling source, retry detection, delay moments,
 * backoff and jitter, Retry-After, lockstep, verdicts, the apparent limit,
 * masked failures and the bounded client table. */
#include <stdlib.h>
#include <string.h>
#include "http_parser.h"
#include "retries.h"
#include "routes.h"
#include "testlib.h"
#include "attempts_room.h"

#define MS 1000000ull
#define T0 (1000ull * 1000 * MS)	/* an arbitrary second boundary */

static const char *ROUTE = "GET example/api";

/* One request from client (ip) starting at start_ms, answered after 1 ms
 * with status; upstream_status 0: the gateway answered alone. */
static struct request req(const char *ip, double start_ms, uint16_t status,
			  uint16_t upstream_status, int retry_after_s)
{
	struct request r = {
		.ts_start = T0 + start_ms * MS, .ts_done = T0 + (start_ms + 1) * MS,
		.status = status, .retry_after = retry_after_s >= 0,
		.retry_after_s = retry_after_s, .attempts = attempts_room(),
	};

	snprintf(r.client, sizeof(r.client), "%s:%d", ip, 40000 + (int)start_ms % 1000);
	if (upstream_status) {
		r.nattempts = 1;
		r.attempts[0].status = upstream_status;
		r.attempts[0].retry_after = retry_after_s >= 0;
	}
	return r;
}

static const struct retry_client *client(const struct retries *t, const char *ip)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->clients[i].client, ip))
			return &t->clients[i];
	return NULL;
}

/* Feed a request; the route's figures too. */
static void feed(struct retries *t, struct route_retries *rs, struct request r,
		 struct retry_facts *out)
{
	struct retry_facts f;

	retries_observe(t, &r, ROUTE, &f);
	if (rs)
		route_retries_add(rs, &f);
	if (out)
		*out = f;
}

/* A client that retries with delays d[0..n) after 429s, then succeeds. */
static void chain(struct retries *t, struct route_retries *rs, const char *ip,
		  double *at_ms, const double *d, int n, int retry_after_s, uint16_t upstream)
{
	feed(t, rs, req(ip, *at_ms, 429, upstream, retry_after_s), NULL);
	for (int i = 0; i < n; i++) {
		*at_ms += 1 + d[i];	/* answered 1 ms after the start */
		feed(t, rs, req(ip, *at_ms, i == n - 1 ? 200 : 429, upstream ? 200 : 0,
				i == n - 1 ? -1 : retry_after_s), NULL);
	}
	*at_ms += 1000;
}

static void test_moments(void)
{
	struct delay_moments m = {0};

	delay_moments_add(&m, 100, 0);
	delay_moments_add(&m, 200, 100);
	delay_moments_add(&m, 400, 200);
	ASSERT_EQ(m.n, 3);
	ASSERT_NEAR(delay_mean_ms(&m), 233.333, 0.01);
	ASSERT_NEAR(backoff_ratio(&m), 2.0, 1e-9);
	ASSERT_NEAR(ratio_spread(&m), 0.0, 1e-9);
	/* sample std of 100, 200, 400 is 152.75 */
	ASSERT_NEAR(delay_cv(&m), 152.753 / 233.333, 0.001);
	ASSERT_NEAR(m.min_ms, 100, 0);
	ASSERT_NEAR(m.max_ms, 400, 0);

	/* A ratio after a delay below RETRY_RATIO_MIN_NS is noise: not taken. */
	struct delay_moments z = {0};

	delay_moments_add(&z, 0.5, 0);
	delay_moments_add(&z, 1.5, 0.5);
	ASSERT_EQ(z.nratio, 0);
	ASSERT_TRUE(backoff_ratio(&z) < 0);

	struct delay_moments acc = {0};

	delay_moments_merge(&acc, &m);
	delay_moments_merge(&acc, &z);
	ASSERT_EQ(acc.n, 5);
	ASSERT_NEAR(acc.min_ms, 0.5, 0);
	ASSERT_NEAR(acc.max_ms, 400, 0);
}

static void test_source_and_retry_detection(void)
{
	struct retries t;
	struct retry_facts f;

	retries_init(&t, 0);
	/* nginx limit_req: 429 with no upstream attempt: the gateway's */
	feed(&t, NULL, req("10.0.0.1", 0, 429, 0, -1), &f);
	ASSERT_EQ(f.throttled, THROTTLE_GATEWAY);
	ASSERT_TRUE(!f.retry);
	/* 50 ms after the answer: a retry; the backend throttled this one */
	feed(&t, NULL, req("10.0.0.1", 51, 503, 503, 2), &f);
	ASSERT_TRUE(f.retry && f.after_throttle);
	ASSERT_EQ(f.delay_ns, 50 * MS);
	ASSERT_EQ(f.throttled, THROTTLE_BACKEND);
	/* 503 without Retry-After is a failure, not throttling, but a retry
	 * of the throttled answer; it came sooner than the 2 s asked */
	feed(&t, NULL, req("10.0.0.1", 100, 503, 503, -1), &f);
	ASSERT_TRUE(f.retry && f.ra_asked && f.ra_ignored);
	ASSERT_EQ(f.throttled, THROTTLE_NONE);
	/* after a failure (not throttling): still a retry */
	feed(&t, NULL, req("10.0.0.1", 3000, 200, 200, -1), &f);
	ASSERT_TRUE(f.retry && !f.after_throttle && !f.ra_asked);
		/* after a success: not a retry */
	feed(&t, NULL, req("10.0.0.1", 3100, 200, 200, -1), &f);
	ASSERT_TRUE(!f.retry);
	/* another path after a failure: another request, not a retry */
	feed(&t, NULL, req("10.0.0.1", 3150, 503, 503, -1), &f);
	struct request other = req("10.0.0.1", 3160, 200, 200, -1);

	snprintf(other.path, sizeof(other.path), "/other");
	retries_observe(&t, &other, ROUTE, &f);
	ASSERT_TRUE(!f.retry);
	/* another client, another chain; the port is not part of a client */
	feed(&t, NULL, req("10.0.0.2", 3200, 429, 0, -1), &f);
	ASSERT_TRUE(!f.retry);
	ASSERT_EQ(t.n, 2);
	ASSERT_EQ(client(&t, "10.0.0.1")->retries, 3);
	ASSERT_EQ(client(&t, "10.0.0.1")->requests, 7);
	/* a 400 naming throttling */
	struct request r = req("10.0.0.3", 0, 400, 400, -1);

	r.throttling_hint = true;
	r.attempts[0].throttling_hint = true;
	retries_observe(&t, &r, ROUTE, &f);
	ASSERT_EQ(f.throttled, THROTTLE_BACKEND);
	/* past the window, a new request */
	feed(&t, NULL, req("10.0.0.2", 3200 + RETRY_WINDOW_NS / MS + 10, 200, 0, -1), &f);
	ASSERT_TRUE(!f.retry);
	retries_free(&t);
}

static void test_verdicts(void)
{
	static const double immediate[] = { 0.3, 0.4, 0.3, 0.5 };
	/* +-30 % around 50, 100, 200, 400 ms, differently each time */
	static const double exp_jitter[3][4] = {
		{ 62, 88, 245, 300 }, { 38, 125, 160, 490 }, { 55, 72, 230, 355 },
	};
	static const double exp_plain[] = { 100, 200, 400, 800 };
	static const double exp_hiccup[] = { 100, 282, 400, 800 };	/* one sleep overslept */
	static const double ra[] = { 1050, 1120, 1010 };
	struct retries t;
	char ev[256];
	double at = 0;

	retries_init(&t, 0);
	for (int k = 0; k < 3; k++) {
		double a = at;

		chain(&t, NULL, "10.0.0.1", &a, exp_jitter[k], 4, -1, 0);
		a = at + 5;
		chain(&t, NULL, "10.0.0.2", &a, exp_plain, 4, -1, 0);
		a = at + 7;
		chain(&t, NULL, "10.0.0.7", &a, k ? exp_plain : exp_hiccup, 4, -1, 0);
		a = at + 10;
		chain(&t, NULL, "10.0.0.3", &a, ra, 3, 1, 429);
		a = at + 15;
		chain(&t, NULL, "10.0.0.4", &a, immediate, 2, 1, 429);
		a = at + 20;
		chain(&t, NULL, "10.0.0.5", &a, immediate, 4, -1, 0);
		/* no backoff, but most of its requests are first tries */
		a = at + 25;
		chain(&t, NULL, "10.0.0.6", &a, immediate, 1, -1, 0);
		for (int i = 0; i < 4; i++)
			feed(&t, NULL, req("10.0.0.6", a + i * 10, 200, 0, -1), NULL);
		at += 10000;
	}
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.1"), ev, sizeof(ev)), "backoff ok");
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.2"), ev, sizeof(ev)), "no jitter");
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.7"), ev, sizeof(ev)), "no jitter");
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.3"), ev, sizeof(ev)), "backoff ok");
	ASSERT_TRUE(strstr(ev, "Retry-After") != NULL);
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.4"), ev, sizeof(ev)), "ignores Retry-After");
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.5"), ev, sizeof(ev)), "retry storm");
	ASSERT_STREQ(retry_verdict(client(&t, "10.0.0.6"), ev, sizeof(ev)), "no backoff");
	ASSERT_NEAR(backoff_ratio(&client(&t, "10.0.0.2")->delays), 2.0, 1e-6);
	ASSERT_NEAR(delay_mean_ms(&client(&t, "10.0.0.2")->delays), 375, 1e-6);
	/* too few retries: no verdict */
	feed(&t, NULL, req("10.0.0.9", 0, 429, 0, -1), NULL);
	feed(&t, NULL, req("10.0.0.9", 10, 200, 0, -1), NULL);
	ASSERT_TRUE(retry_verdict(client(&t, "10.0.0.9"), ev, sizeof(ev)) == NULL);

	const struct retry_client *top[RETRY_TOP_CLIENTS];
	size_t n = retries_top(&t, top, RETRY_TOP_CLIENTS);

	ASSERT_EQ(n, 8);
	for (size_t i = 1; i < n; i++)
		ASSERT_TRUE(top[i - 1]->throttled + top[i - 1]->retries >=
			    top[i]->throttled + top[i]->retries);
	retries_free(&t);
}

/* Three clients retrying within a few ms of each other are in lockstep;
 * a fourth, 100 ms apart, is not. */
static void test_lockstep(void)
{
	struct retries t;
	struct route_retries rs = {0};
	static const char *ip[] = { "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4" };

	retries_init(&t, 0);
	for (int i = 0; i < 4; i++)
		feed(&t, &rs, req(ip[i], 0, 429, 0, -1), NULL);
	for (int i = 0; i < 3; i++)
		feed(&t, &rs, req(ip[i], 101 + i, 200, 0, -1), NULL);
	feed(&t, &rs, req(ip[3], 201, 200, 0, -1), NULL);
	ASSERT_EQ(rs.retries, 4);
	ASSERT_EQ(rs.lockstep, 3);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(client(&t, ip[i])->lockstep, 1);
	ASSERT_EQ(client(&t, ip[3])->lockstep, 0);
	retries_free(&t);
}

/* 10 requests a second get through while 30 a second arrive. */
static void test_apparent_limit(void)
{
	struct route_retries rs = {0};
	struct retry_facts f = {0};

	for (int i = 0; i < 20; i++) {		/* 2 s at 10/s, none throttled */
		f.ts_start = T0 + i * 100 * MS;
		f.throttled = THROTTLE_NONE;
		route_retries_add(&rs, &f);
	}
	for (int i = 0; i < 90; i++) {		/* 3 s at 30/s, a third let through */
		f.ts_start = T0 + 2000 * MS + i * (1000 * MS / 30);
		f.throttled = i % 3 ? THROTTLE_GATEWAY : THROTTLE_NONE;
		route_retries_add(&rs, &f);
	}
	/* a slow request of an earlier second, decided late: no second twice */
	f.ts_start = T0 + 3500 * MS;
	f.throttled = THROTTLE_GATEWAY;
	route_retries_add(&rs, &f);
	f.ts_start = T0 + 5000 * MS;		/* closes the last second */
	f.throttled = THROTTLE_NONE;
	route_retries_add(&rs, &f);
	ASSERT_EQ(rs.throttled_gateway, 61);
	ASSERT_EQ(rs.limit_seconds, 3);
	ASSERT_NEAR(route_apparent_limit(&rs), 10.0, 0.01);
	ASSERT_NEAR(route_rate_before(&rs), 10.0, 0.6);
	ASSERT_NEAR(route_rate_after(&rs), 30.0, 1.0);
}

static void test_masked_failures(void)
{
	struct routes rt;
	struct retry_facts f = {0};
	struct route_sample s = { .route = "GET x/y", .attempts = 1, .retry = &f };

	ASSERT_TRUE(status_masks_failure(429, 200));
	ASSERT_TRUE(status_masks_failure(502, 204));
	ASSERT_TRUE(!status_masks_failure(404, 200));
	ASSERT_TRUE(!status_masks_failure(429, 429));
	ASSERT_TRUE(!status_masks_failure(200, 502));	/* the reverse is gateway_cutoff */
	routes_init(&rt, 10, 0);
	for (int i = 0; i < 3; i++) {
		s.upstream_status = 429;
		s.status = 200;
		routes_add(&rt, &s);
	}
	s.upstream_status = 500;
	s.status = 200;
	routes_add(&rt, &s);
	s.upstream_status = 200;
	routes_add(&rt, &s);
	ASSERT_EQ(rt.r[0]->total.masked[0].upstream, 429);
	ASSERT_EQ(rt.r[0]->total.masked[0].count, 3);
	ASSERT_EQ(rt.r[0]->total.masked[1].upstream, 500);
	ASSERT_EQ(rt.r[0]->total.masked[1].count, 1);
	ASSERT_EQ(rt.r[0]->total.masked[2].count, 0);
	routes_free(&rt);
}

static const char *client_ip(int i)
{
	static char ip[32];

	snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
	return ip;
}

/* The table is bounded (max pairs, 0: the default): the pair seen longest
 * ago makes room, counted. */
static void check_eviction(size_t max_clients, int max)
{
	struct retries t;

	retries_init(&t, max_clients);
	for (int i = 0; i < max + 5; i++)
		feed(&t, NULL, req(client_ip(i), i, 200, 0, -1), NULL);
	ASSERT_EQ(t.n, max);
	ASSERT_EQ(t.evicted, 5);
	ASSERT_TRUE(client(&t, "10.1.0.0") == NULL);
	ASSERT_TRUE(client(&t, client_ip(max + 4)) != NULL);	/* the newest */
	/* Found again after the evictions: no new entry, none forced out. */
	feed(&t, NULL, req(client_ip(max + 4), max + 5, 200, 0, -1), NULL);
	feed(&t, NULL, req("10.1.0.7", max + 6, 200, 0, -1), NULL);
	ASSERT_EQ(t.evicted, 5);
	/* One forced out comes back, in place of the one seen longest ago. */
	feed(&t, NULL, req("10.1.0.0", max + 7, 200, 0, -1), NULL);
	ASSERT_EQ(t.evicted, 6);
	ASSERT_TRUE(client(&t, "10.1.0.0") != NULL);
	ASSERT_TRUE(client(&t, "10.1.0.5") == NULL);
	ASSERT_TRUE(client(&t, "10.1.0.7") != NULL);
	retries_free(&t);
}

/* The default table, and one sized smaller (the fuzzing harness's). */
static void test_eviction(void)
{
	check_eviction(0, RETRY_CLIENTS_MAX);
	check_eviction(16, 16);
}

static struct http_head last_head;

static void on_head(enum http_event ev, const struct http_head *h, void *ctx)
{
	(void)ctx;
	if (ev == HTTP_EV_HEAD)
		last_head = *h;
}

static struct http_head parse_response(const char *text)
{
	struct http_stream st;

	memset(&last_head, 0, sizeof(last_head));
	http_stream_init(&st, HTTP_RESPONSE);
	http_stream_feed(&st, (const uint8_t *)text, strlen(text), strlen(text), 0, 1, on_head, NULL);
	return last_head;
}

/* The parser keeps what throttling needs: Retry-After seconds (a date
 * form is kept as "present, not comparable"), and a 400 naming it. */
static void test_parser_throttling(void)
{
	struct http_head h;

	h = parse_response("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n");
	ASSERT_EQ(h.status, 429);
	ASSERT_TRUE(h.retry_after);
	ASSERT_EQ(h.retry_after_s, 7);
	ASSERT_TRUE(status_throttled(h.status, h.retry_after, h.throttling_hint));
	h = parse_response("HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n");
	ASSERT_TRUE(h.retry_after);
	ASSERT_EQ(h.retry_after_s, -1);
	ASSERT_TRUE(status_throttled(h.status, h.retry_after, h.throttling_hint));
	h = parse_response("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	ASSERT_TRUE(!h.retry_after && h.retry_after_s == -1);
	ASSERT_TRUE(!status_throttled(h.status, h.retry_after, h.throttling_hint));
	h = parse_response("HTTP/1.1 400 Bad Request\r\nContent-Length: 40\r\n\r\n{\"__type\":\"Throttling\",\"message\":\"Rate\"}");
	ASSERT_TRUE(h.throttling_hint);
	ASSERT_TRUE(status_throttled(h.status, h.retry_after, h.throttling_hint));
	h = parse_response("HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request");
	ASSERT_TRUE(!status_throttled(h.status, h.retry_after, h.throttling_hint));
}

int main(void)
{
	RUN_TEST(test_parser_throttling);
	RUN_TEST(test_moments);
	RUN_TEST(test_source_and_retry_detection);
	RUN_TEST(test_verdicts);
	RUN_TEST(test_lockstep);
	RUN_TEST(test_apparent_limit);
	RUN_TEST(test_masked_failures);
	RUN_TEST(test_eviction);
	TEST_MAIN_END();
}
