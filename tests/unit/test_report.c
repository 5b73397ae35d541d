// SPDX-License-Identifier: MIT
/* The incident report's model and renderer: the timeline keeps every
 * request however long the run (buckets merge, counts are kept), failed
 * requests are bounded per verdict and counted beyond it, and no traced
 * byte reaches the HTML unescaped. */
#include <stdlib.h>
#include <string.h>
#include "attribute.h"
#include "incident.h"
#include "report_html.h"
#include "testlib.h"

static struct request req(const char *path, uint16_t status)
{
	static struct attempt room[REQ_ATTEMPTS];	/* one request at a time here */
	struct request r = { .attempts = room };

	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.host, sizeof(r.host), "h");
	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.client, sizeof(r.client), "127.0.0.1:1");
	snprintf(r.listener, sizeof(r.listener), "0.0.0.0:80");
	r.status = status;
	r.ts_start = 1000;
	r.ts_done = 2000;
	return r;
}

static struct verdict verdict(enum cause c, const char *reason)
{
	struct verdict v = { .cause = c, .reason = reason, .term = "sH" };

	snprintf(v.evidence, sizeof(v.evidence), "evidence");
	return v;
}

static uint64_t sum_requests(const struct tl_series *s)
{
	uint64_t n = 0;

	for (unsigned b = 0; b < REPORT_TL_BUCKETS; b++)
		n += s->cells[b].requests;
	return n;
}

/* A run longer than the buckets: they double in width, nothing is lost,
 * and each request stays in the bucket of its second. */
static void test_timeline_coarsens(void)
{
	struct incident *m = incident_new();
	struct request r = req("/a", 200), f = req("/a", 504);
	struct verdict ok = { .cause = CAUSE_NONE }, slow = verdict(CAUSE_BACKEND, "backend_slow");

	incident_set_origin(m, 1000.4);
	incident_add_request(m, &r, &ok, "GET h/a", 1000.9);
	incident_add_request(m, &f, &slow, "GET h/a", 1000.0 + REPORT_TL_BUCKETS - 1);
	ASSERT_EQ(m->tl.width_s, 1);
	ASSERT_EQ(m->tl.nbuckets, REPORT_TL_BUCKETS);
	incident_add_request(m, &f, &slow, "GET h/a", 1000.0 + REPORT_TL_BUCKETS + 0.5);
	ASSERT_EQ(m->tl.width_s, 2);
	ASSERT_EQ(sum_requests(&m->tl.all), 3);
	ASSERT_EQ(m->tl.all.cells[0].requests, 1);
	ASSERT_EQ(m->tl.all.cells[(REPORT_TL_BUCKETS - 1) / 2].failed[CAUSE_BACKEND], 1);
	ASSERT_EQ(m->tl.all.cells[REPORT_TL_BUCKETS / 2].failed[CAUSE_BACKEND], 1);
	ASSERT_EQ(sum_requests(m->tl.routes[0]), 3);
	/* A timestamp years ahead collapses the timeline; it cannot grow it. */
	incident_add_request(m, &r, &ok, "GET h/a", 1e12);
	ASSERT_EQ(sum_requests(&m->tl.all), 4);
	ASSERT_TRUE(m->tl.nbuckets <= REPORT_TL_BUCKETS);
	incident_free(m);
}

static void test_failed_bounded(void)
{
	struct incident *m = incident_new();
	struct request f = req("/x", 502);
	struct verdict v = verdict(CAUSE_BACKEND, "backend_refused");

	for (int i = 0; i < REPORT_FAILED_KEPT + 7; i++)
		incident_add_request(m, &f, &v, "GET h/x", 5000 + i);
	ASSERT_EQ(m->ngroups, 1);
	ASSERT_EQ(m->groups[0].count, REPORT_FAILED_KEPT + 7);
	ASSERT_EQ(m->groups[0].nkept, REPORT_FAILED_KEPT);
	ASSERT_EQ(m->failed, REPORT_FAILED_KEPT + 7);
	incident_free(m);
}

/* Render a report whose request carries markup in every traced field. */
static char *render(const char *path, const char *host)
{
	static struct routes rt;
	static struct aggregator agg;
	static struct timeouts to;
	struct run_stats st = {0};
	struct incident *m = incident_new();
	struct request f = req(path, 502);
	struct verdict v = verdict(CAUSE_BACKEND, "backend_refused");
	struct route_sample s = { .route = path, .status = 502, .failed = true, .attempts = 1 };
	struct report_view view = { .m = m, .routes = &rt, .agg = &agg, .timeouts = &to,
				    .stats = &st, .start = 1000, .span_s = 1, .source = host };
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	routes_init(&rt, 50, 0);
	agg_init(&agg, 8);
	timeouts_init(&to);
	snprintf(f.host, sizeof(f.host), "%s", host);
	f.nattempts = 1;
	snprintf(f.attempts[0].backend, sizeof(f.attempts[0].backend), "%s", host);
	routes_add(&rt, &s);
	incident_add_request(m, &f, &v, path, 1000.5);
	ASSERT_EQ(report_html_write(mem, &view), 0);
	fclose(mem);
	incident_free(m);
	routes_free(&rt);
	agg_free(&agg);
	return buf;
}

static void test_escaped(void)
{
	char *html = render("/a\"'><script>alert(1)</script><img src=x onerror=y>\x1b[2J\xff",
			    "<b>h</b>&amp;");
	size_t scripts = 0;

	for (const char *p = html; (p = strstr(p, "<script")); p++)
		scripts++;
	ASSERT_EQ(scripts, 1);		/* the report's own */
	ASSERT_TRUE(!strstr(html, "<img"));
	ASSERT_TRUE(!strstr(html, "<b>h"));
	ASSERT_TRUE(!strstr(html, "\x1b"));
	ASSERT_TRUE(!strstr(html, "\xff"));
	ASSERT_TRUE(strstr(html, "/a&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	ASSERT_TRUE(strstr(html, "&lt;b&gt;h&lt;/b&gt;&amp;amp;") != NULL);
	ASSERT_TRUE(strstr(html, "class=\"failed-row\"") != NULL);
	free(html);
}

int main(void)
{
	RUN_TEST(test_timeline_coarsens);
	RUN_TEST(test_failed_bounded);
	RUN_TEST(test_escaped);
	TEST_MAIN_END();
}
