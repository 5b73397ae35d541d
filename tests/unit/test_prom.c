/* Prometheus exposition (prom.c) from a synthetic aggregator, checked line
 * by line, and the metrics server (metrics.c) on loopback: routing, limits,
 * hostile clients, health. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "aggregate.h"
#include "listen_addr.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "prom.h"
#include "testlib.h"
#include "util.h"

#define BE1 "198.18.2.2:8080"
#define BE2 "[fd00:5c::1]:443"
#define WEIRD "we\"ird\\la\nbel"		/* needs every escape */
#define SCRAPE "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
#define WEIRD_ESC "we\\\"ird\\\\la\\nbel"

#define R1 "GET example.com/orders/{id}"
#define R2 "GET example.com/users"

static struct pipeline P;	/* only the aggregates metrics_publish reads */

static void add_request(struct routes *rt, const char *route, int status, enum cause cause,
			uint64_t latency_ns)
{
	static const char *reasons[CAUSE__MAX] = {
		[CAUSE_GATEWAY] = "gateway_stall", [CAUSE_NETWORK] = "connect_timeout",
		[CAUSE_BACKEND] = "backend_slow", [CAUSE_CLIENT] = "client_abort",
	};
	struct route_sample s = {
		.route = route, .status = status, .upstream_status = status, .attempts = 1,
		.cause = cause, .latency_ns = latency_ns, .reason = reasons[cause],
		.backend = "198.18.2.2:8080",
	};

	routes_add(rt, &s);
}

/* Four backends fill the table, the fifth goes to "other"; two routes get
 * series of their own (shown = 2), the rest are "other". */
static void fill(struct pipeline *p)
{
	struct aggregator *a = &p->agg;
	struct run_stats *st = &p->stats;
	struct backend *b;

	memset(p, 0, sizeof(*p));
	agg_init(a, 4);
	routes_init(&p->routes, 2, 0);
	timeouts_init(&p->timeouts);
	agg_set_name(a, BE1, "orders-a");
	agg_set_name(a, BE2, "caf\xc3\xa9-\xff");	/* valid UTF-8, then an invalid byte */
	b = agg_backend(a, BE1);
	b->total.connects = 7;
	b->total.refused = 1;
	b->total.timeout = 2;
	b->total.unreachable = 3;
	b->total.resets_received = 4;
	b->total.resets_sent = 5;
	b->total.retransmits = 6;
	b->total.timeout_closes_gateway = 8;
	b->total.timeout_closes_backend = 9;
	b->win.connects = 999;			/* the interval must not leak in */
	hist_add(&b->total.connect, 400000);	/* 0.4 ms */
	hist_add(&b->total.connect, 600000);	/* 0.6 ms */
	hist_add(&b->total.connect, 1000000000);	/* 1 s: its bucket straddles le=1 */
	hist_add(&b->total.connect, 70000000000ull);	/* past the last le */
	hist_add(&b->total.ttfb, 3000000);
	b = agg_backend(a, BE2);
	b->total.connects = 1;
	agg_backend(a, WEIRD)->total.connects = 2;
	agg_backend(a, "198.18.2.4:80")->total.connects = 3;
	agg_backend(a, "198.18.2.5:80")->total.connects += 5;	/* -> other */
	agg_backend(a, "198.18.2.6:80")->total.connects += 6;	/* -> other again */

	for (int i = 0; i < 3; i++)
		add_request(&p->routes, R1, 200, CAUSE_NONE, 2000000);
	add_request(&p->routes, R1, 504, CAUSE_BACKEND, 1000000000);
	add_request(&p->routes, R1, 504, CAUSE_NETWORK, 1000000000);
	add_request(&p->routes, R1, 0, CAUSE_CLIENT, 1500000000);	/* client gave up */
	add_request(&p->routes, R2, 404, CAUSE_NONE, 1000000);
	add_request(&p->routes, R2, 404, CAUSE_NONE, 1000000);
	add_request(&p->routes, "POST example.com/pay", 502, CAUSE_BACKEND, 5000000);	/* other */
	add_request(&p->routes, "DELETE example.com/x", 200, CAUSE_NONE, 5000000);	/* other */
	add_request(&p->routes, "DELETE example.com/x", 504, CAUSE_GATEWAY, 5000000);

	timeouts_add(&p->timeouts, CLOSER_GATEWAY, BE1, "read", 2000000000);
	timeouts_add(&p->timeouts, CLOSER_GATEWAY, BE1, "read", 2001000000);
	timeouts_add(&p->timeouts, CLOSER_GATEWAY, BE1, "read", 2002000000);

	st->lost_events = 12;
	st->evicted_conns = 13;
	st->closes_unseen = 11;
	st->insert_failures = 14;
	st->malformed_events = 15;
	st->backend_overflow = a->overflowed;
	st->route_overflow = 16;
	st->pid_failures = 17;
	st->forks_followed = 18;
	st->exits_followed = 19;
	st->captures_cut = 20;
	st->heads_truncated = 21;
	st->heads_dropped = 22;
	st->sync_lost = 23;
	st->resyncs = 24;
	st->tls_buffered = 25;
}

static void unfill(struct pipeline *p)
{
	agg_free(&p->agg);
	routes_free(&p->routes);
}

static int render_into(struct pipeline *p, struct prom_buf *b)
{
	struct report r = pipeline_run_report(p);

	return prom_render(&r, b);
}

/* What the event loop does after each report. */
static void publish(struct metrics *m)
{
	struct report r = pipeline_run_report(&P);

	metrics_publish(m, &r);
}

static char *render(void)
{
	struct prom_buf b = { 0 };

	fill(&P);
	ASSERT_EQ(render_into(&P, &b), 0);
	unfill(&P);
	return b.data;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define ASSERT_LINE(text, line)							\
	do {									\
		if (!has_line(text, line))					\
			TL_FAIL("missing line: %s", line);			\
	} while (0)

/* ---- a small parser for the text format, to check every line ---- */

struct sample {
	char name[128];
	char labels[8][2][128];	/* name, unescaped value */
	int nlabels;
	char value[64];
};

static const char *parse_name(const char *p, char *out, size_t len)
{
	size_t n = 0;

	if (!isalpha((unsigned char)*p) && *p != '_' && *p != ':')
		return NULL;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':') {
		if (n + 1 < len)
			out[n++] = *p;
		p++;
	}
	out[n] = '\0';
	return p;
}

static const char *parse_value(const char *p, char *out, size_t len)
{
	size_t n = 0;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		char c = *p;

		if (!c || c == '\n')
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'n')
				c = '\n';
			else if (*p == '\\' || *p == '"')
				c = *p;
			else
				return NULL;	/* no other escapes exist */
		}
		if (n + 1 < len)
			out[n++] = c;
	}
	out[n] = '\0';
	return p + 1;
}

/* One sample line (without its newline); false if it is not valid. */
static bool parse_sample(const char *line, struct sample *s)
{
	const char *p = parse_name(line, s->name, sizeof(s->name));
	char *end;

	s->nlabels = 0;
	if (!p)
		return false;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (s->nlabels == 8)
				return false;
			p = parse_name(p, s->labels[s->nlabels][0], 128);
			if (!p || *p++ != '=')
				return false;
			p = parse_value(p, s->labels[s->nlabels][1], 128);
			if (!p)
				return false;
			s->nlabels++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	snprintf(s->value, sizeof(s->value), "%s", p);
	strtod(p, &end);
	return end != p && *end == '\0';
}

static const char *label(const struct sample *s, const char *name)
{
	for (int i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i][0], name))
			return s->labels[i][1];
	return NULL;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Every line is a HELP, a TYPE or a valid sample; each family has one HELP
 * followed by one TYPE, and its samples follow them before the next one. */
static void test_every_line_valid(void)
{
	char *text = render(), *save = NULL, *line;
	char family[128] = "", type[16] = "";
	int helps = 0, types = 0, samples = 0;
	bool expect_type = false;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sample s;

		if (starts(line, "# HELP ")) {
			ASSERT_TRUE(!expect_type);
			ASSERT_TRUE(parse_name(line + 7, family, sizeof(family)));
			ASSERT_TRUE(starts(family, "gatescope_"));
			expect_type = true;
			helps++;
			continue;
		}
		if (starts(line, "# TYPE ")) {
			char name[128];
			const char *p = parse_name(line + 7, name, sizeof(name));

			ASSERT_TRUE(expect_type && p && !strcmp(name, family));
			snprintf(type, sizeof(type), "%s", p ? p + 1 : "");
			ASSERT_TRUE(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
				    !strcmp(type, "histogram"));
			if (!strcmp(type, "counter"))
				ASSERT_TRUE(strstr(family, "_total") &&
					    !strcmp(strstr(family, "_total"), "_total"));
			expect_type = false;
			types++;
			continue;
		}
		ASSERT_TRUE(!expect_type);
		if (!parse_sample(line, &s)) {
			TL_FAIL("not a valid sample line: %s", line);
			continue;
		}
		samples++;
		if (!strcmp(type, "histogram")) {
			size_t n = strlen(family);

			ASSERT_TRUE(!strncmp(s.name, family, n) &&
				    (!strcmp(s.name + n, "_bucket") || !strcmp(s.name + n, "_sum") ||
				     !strcmp(s.name + n, "_count")));
		} else if (strcmp(s.name, family)) {
			TL_FAIL("sample %s under family %s", s.name, family);
		}
	}
	ASSERT_EQ(helps, types);
	ASSERT_TRUE(helps >= 10);
	ASSERT_TRUE(samples > 50);
	free(text);
}

/* The families the contract names, each with HELP and TYPE, even those
 * without samples yet. */
static void test_contract_families(void)
{
	static const char *const want[][2] = {
		{ "gatescope_requests_total", "counter" },
		{ "gatescope_504_total", "counter" },
		{ "gatescope_upstream_connect_seconds", "histogram" },
		{ "gatescope_upstream_ttfb_seconds", "histogram" },
		{ "gatescope_resets_total", "counter" },
		{ "gatescope_retransmits_total", "counter" },
		{ "gatescope_timeout_closes_total", "counter" },
		{ "gatescope_lost_events_total", "counter" },
		{ "gatescope_connects_total", "counter" },
		{ "gatescope_connect_failures_total", "counter" },
		{ "gatescope_evicted_conns_total", "counter" },
	};
	char *text = render();
	char line[160];

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(line, sizeof(line), "# TYPE %s %s", want[i][0], want[i][1]);
		ASSERT_LINE(text, line);
		snprintf(line, sizeof(line), "\n# HELP %s ", want[i][0]);
		ASSERT_TRUE(strstr(text, line));
	}
	free(text);
}

static void test_counters(void)
{
	char *text = render();

	ASSERT_LINE(text, "gatescope_connects_total{backend=\"" BE1 "\"} 7");
	ASSERT_LINE(text, "gatescope_connect_failures_total{backend=\"" BE1 "\",reason=\"refused\"} 1");
	ASSERT_LINE(text, "gatescope_connect_failures_total{backend=\"" BE1 "\",reason=\"timeout\"} 2");
	ASSERT_LINE(text, "gatescope_connect_failures_total{backend=\"" BE1 "\",reason=\"unreachable\"} 3");
	ASSERT_LINE(text, "gatescope_resets_total{backend=\"" BE1 "\",direction=\"received\"} 4");
	ASSERT_LINE(text, "gatescope_resets_total{backend=\"" BE1 "\",direction=\"sent\"} 5");
	ASSERT_LINE(text, "gatescope_retransmits_total{backend=\"" BE1 "\"} 6");
	ASSERT_LINE(text, "gatescope_timeout_closes_total{backend=\"" BE1 "\",closer=\"gateway\"} 8");
	ASSERT_LINE(text, "gatescope_timeout_closes_total{backend=\"" BE1 "\",closer=\"backend\"} 9");
	/* Known label combinations are exported at zero, so rate() sees the first one. */
	ASSERT_LINE(text, "gatescope_resets_total{backend=\"" BE2 "\",direction=\"received\"} 0");
	ASSERT_LINE(text, "gatescope_lost_events_total 12");
	ASSERT_LINE(text, "gatescope_evicted_conns_total 13");
	ASSERT_LINE(text, "gatescope_conn_table_failures_total 14");
	ASSERT_LINE(text, "gatescope_malformed_events_total 15");
	ASSERT_LINE(text, "gatescope_pid_table_failures_total 17");
	ASSERT_LINE(text, "gatescope_closes_unseen_total 11");
	ASSERT_LINE(text, "gatescope_forks_followed_total 18");
	ASSERT_LINE(text, "gatescope_exits_followed_total 19");
	ASSERT_LINE(text, "gatescope_http_captures_cut_total 20");
	ASSERT_LINE(text, "gatescope_http_heads_truncated_total 21");
	ASSERT_LINE(text, "gatescope_http_heads_dropped_total 22");
	ASSERT_LINE(text, "gatescope_http_sync_lost_total 23");
	ASSERT_LINE(text, "gatescope_http_resyncs_total 24");
	ASSERT_LINE(text, "gatescope_tls_buffered_total 25");
	/* The cap: the fifth and sixth backends are one "other". */
	ASSERT_LINE(text, "gatescope_connects_total{backend=\"other\"} 11");
	ASSERT_LINE(text, "gatescope_backends_overflowed_total 2");
	ASSERT_TRUE(!strstr(text, "198.18.2.5:80"));
	ASSERT_LINE(text, "gatescope_backend_info{backend=\"" BE1 "\",name=\"orders-a\"} 1");
	ASSERT_TRUE(!strstr(text, " 999\n"));
	free(text);
}

static void test_escaping(void)
{
	char *text = render();

	ASSERT_LINE(text, "gatescope_connects_total{backend=\"" WEIRD_ESC "\"} 2");
	/* Valid UTF-8 kept, the invalid byte replaced by U+FFFD. */
	ASSERT_LINE(text, "gatescope_backend_info{backend=\"" BE2 "\",name=\"caf\xc3\xa9-\xef\xbf\xbd\"} 1");
	ASSERT_TRUE(!strstr(text, "\xff"));
	free(text);
}

/* Buckets of the connect histogram of BE1, in order. */
static void test_histogram(void)
{
	static const char *const expect[][2] = {
		{ "0.0005", "1" }, { "0.001", "2" }, { "0.5", "2" },
		{ "1", "2" },	/* 1 s exactly shares a bucket reaching past 1 s */
		{ "2.5", "3" }, { "60", "3" }, { "+Inf", "4" },
	};
	char *text = render(), *save = NULL, *line;
	double prev_le = -1;
	uint64_t prev = 0, inf = UINT64_MAX, count = 0;
	int buckets = 0;
	char want[200];

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sample s;
		const char *le;

		if (line[0] == '#' || !parse_sample(line, &s) ||
		    strcmp(label(&s, "backend") ? label(&s, "backend") : "", BE1))
			continue;
		if (!strcmp(s.name, "gatescope_upstream_connect_seconds_count"))
			count = strtoull(s.value, NULL, 10);
		if (!strcmp(s.name, "gatescope_upstream_connect_seconds_sum"))
			ASSERT_STREQ(s.value, "71.001000000");	/* exact */
		if (strcmp(s.name, "gatescope_upstream_connect_seconds_bucket"))
			continue;
		le = label(&s, "le");
		if (!ASSERT_NOT_NULL(le))
			continue;
		buckets++;
		/* le ascending, counts cumulative */
		ASSERT_TRUE(strtod(le, NULL) > prev_le || !strcmp(le, "+Inf"));
		ASSERT_TRUE(strtoull(s.value, NULL, 10) >= prev);
		prev_le = strtod(le, NULL);
		prev = strtoull(s.value, NULL, 10);
		if (!strcmp(le, "+Inf"))
			inf = prev;
	}
	ASSERT_EQ(buckets, PROM_LE_COUNT + 1);
	ASSERT_EQ(inf, count);
	ASSERT_EQ(count, 4);
	free(text);
	text = render();
	for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
		snprintf(want, sizeof(want),
			 "gatescope_upstream_connect_seconds_bucket{backend=\"" BE1 "\",le=\"%s\"} %s",
			 expect[i][0], expect[i][1]);
		ASSERT_LINE(text, want);
	}
	/* An empty histogram is exported too, all zero. */
	ASSERT_LINE(text, "gatescope_upstream_ttfb_seconds_bucket{backend=\"" BE2 "\",le=\"+Inf\"} 0");
	ASSERT_LINE(text, "gatescope_upstream_ttfb_seconds_sum{backend=\"" BE2 "\"} 0.000000000");
	free(text);
}

/* Against the exact answer on many values: a bucket never counts a value
 * above its le, and misses only values within 1/64 below it. */
static void test_bucket_error_bound(void)
{
	static uint64_t vals[20000];
	struct hist h;
	uint64_t x = 88172645463325252ull;

	hist_reset(&h);
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		vals[i] = x % 80000000000ull >> (x % 24);	/* spread over decades */
		hist_add(&h, vals[i]);
	}
	for (unsigned k = 0; k < PROM_LE_COUNT; k++) {
		uint64_t le = prom_le_ns[k], below = 0, near = 0, got = prom_hist_le(&h, le);

		for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
			below += vals[i] <= le;
			near += vals[i] <= le - le / 64;
		}
		if (got > below || got < near)
			TL_FAIL("le %s: %llu counted, exact %llu, floor %llu", prom_le_labels[k],
				(unsigned long long)got, (unsigned long long)below,
				(unsigned long long)near);
		ASSERT_NEAR(strtod(prom_le_labels[k], NULL) * 1e9, (double)le, 1);
	}
}

/* The render buffer is reused: a second render replaces, never appends. */
static void test_render_twice(void)
{
	struct prom_buf b = { 0 };
	size_t first;

	fill(&P);
	ASSERT_EQ(render_into(&P, &b), 0);
	first = b.len;
	ASSERT_EQ(render_into(&P, &b), 0);
	ASSERT_EQ(b.len, first);
	ASSERT_EQ(strlen(b.data), b.len);
	unfill(&P);
	prom_buf_free(&b);
}

static void test_routes(void)
{
	char *text = render();

	ASSERT_LINE(text, "gatescope_requests_total{route=\"" R1 "\",status_class=\"2xx\"} 3");
	ASSERT_LINE(text, "gatescope_requests_total{route=\"" R1 "\",status_class=\"4xx\"} 0");
	ASSERT_LINE(text, "gatescope_requests_total{route=\"" R1 "\",status_class=\"5xx\"} 2");
	ASSERT_LINE(text, "gatescope_requests_total{route=\"" R1 "\",status_class=\"none\"} 1");
	ASSERT_TRUE(!strstr(text, "{route=\"" R1 "\",status_class=\"1xx\"}"));
	ASSERT_LINE(text, "gatescope_requests_total{route=\"" R2 "\",status_class=\"4xx\"} 2");
	ASSERT_LINE(text, "gatescope_504_total{route=\"" R1 "\",backend=\"198.18.2.2:8080\",cause=\"backend\",reason=\"backend_slow\"} 1");
	ASSERT_LINE(text, "gatescope_504_total{route=\"" R1 "\",backend=\"198.18.2.2:8080\",cause=\"network\",reason=\"connect_timeout\"} 1");
	ASSERT_TRUE(!strstr(text, "gatescope_504_total{route=\"" R1 "\",backend=\"198.18.2.2:8080\",cause=\"gateway\""));
	ASSERT_TRUE(!strstr(text, "gatescope_504_total{route=\"" R2 "\""));	/* no 504 there */
	/* Past --top-routes (2 here): summed into "other", never named. */
	ASSERT_LINE(text, "gatescope_requests_total{route=\"other\",status_class=\"2xx\"} 1");
	ASSERT_LINE(text, "gatescope_requests_total{route=\"other\",status_class=\"5xx\"} 2");
	ASSERT_LINE(text, "gatescope_504_total{route=\"other\",backend=\"198.18.2.2:8080\",cause=\"gateway\",reason=\"gateway_stall\"} 1");
	ASSERT_TRUE(!strstr(text, "example.com/pay") && !strstr(text, "example.com/x"));
	ASSERT_LINE(text, "gatescope_request_duration_seconds_count{route=\"" R1 "\"} 6");
	ASSERT_LINE(text, "gatescope_request_duration_seconds_bucket{route=\"" R1 "\",le=\"0.0025\"} 3");
	ASSERT_LINE(text, "gatescope_request_duration_seconds_sum{route=\"" R1 "\"} 3.506000000");
	ASSERT_LINE(text, "gatescope_routes_overflowed_total 16");
	free(text);
}

static void test_inferred_timeouts(void)
{
	char *text = render();
	const char *p = strstr(text, "\ngatescope_inferred_timeout_seconds{closer=\"gateway\",peer=\""
				 BE1 "\",kind=\"read\"} ");

	if (ASSERT_NOT_NULL(p))
		ASSERT_NEAR(strtod(strchr(p + 1, '}') + 2, NULL), 2.001, 0.002);
	ASSERT_LINE(text, "gatescope_timeout_keys_dropped_total 0");
	free(text);
}

/* Every series of one scrape is still there in the next, never lower: more
 * traffic, including new routes and backends past the caps, only adds. */
static void test_monotonic(void)
{
	struct prom_buf b1 = { 0 }, b2 = { 0 };
	char *save = NULL, *line;
	int checked = 0;

	fill(&P);
	render_into(&P, &b1);
	add_request(&P.routes, "GET example.com/new", 504, CAUSE_BACKEND, 1000);
	add_request(&P.routes, R2, 200, CAUSE_NONE, 1000);
	agg_backend(&P.agg, "198.18.2.9:80")->total.connects++;
	P.stats.backend_overflow = P.agg.overflowed;
	render_into(&P, &b2);
	for (line = strtok_r(b1.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[512];
		const char *sp = strrchr(line, ' '), *p;

		if (line[0] == '#' || !sp || strstr(line, "_info{") || strstr(line, "_timeout_seconds{"))
			continue;	/* gauges */
		snprintf(key, sizeof(key), "\n%.*s", (int)(sp - line + 1), line);
		p = strstr(b2.data, key);
		if (!p) {
			TL_FAIL("series gone: %s", line);
			continue;
		}
		if (strtod(p + strlen(key), NULL) < strtod(sp + 1, NULL))
			TL_FAIL("went down: %s -> %.*s", line, (int)strcspn(p + 1, "\n"), p + 1);
		checked++;
	}
	ASSERT_TRUE(checked > 100);
	ASSERT_TRUE(!strstr(b2.data, "example.com/new"));	/* a third route: "other" */
	ASSERT_TRUE(strstr(b2.data, "\ngatescope_504_total{route=\"other\",backend=\"198.18.2.2:8080\",cause=\"backend\",reason=\"backend_slow\"} 1\n"));
	unfill(&P);
	prom_buf_free(&b1);
	prom_buf_free(&b2);
}

/* ---- the server ---- */

static void test_parse_addr(void)
{
	static const struct { const char *s; int family; const char *ip; int port; } good[] = {
		{ "127.0.0.1:9464", AF_INET, "127.0.0.1", 9464 },
		{ "0.0.0.0:1", AF_INET, "0.0.0.0", 1 },
		{ ":9464", AF_INET, "127.0.0.1", 9464 },
		{ "9464", AF_INET, "127.0.0.1", 9464 },
		{ "[::1]:9464", AF_INET6, "::1", 9464 },
		{ "[::]:0", AF_INET6, "::", 0 },
	};
	static const char *const bad[] = {
		"", ":", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:+80", "127.0.0.1:80x", "1.2.3:80", "localhost:80", "::1:80",
		"[::1]", "[::1]80", "[]:80", "[127.0.0.1]:80", "[::1]:", "300.1.1.1:80", "a",
		"127.0.0.1:80 ",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[96], ip[64];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		bool ok = listen_addr_parse(good[i].s, &ss, &len, err, sizeof(err));

		if (!ok) {
			TL_FAIL("'%s' refused: %s", good[i].s, err);
			continue;
		}
		ASSERT_EQ(ss.ss_family, good[i].family);
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			ASSERT_EQ(ntohs(a->sin_port), good[i].port);
			ASSERT_EQ(len, sizeof(*a));
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			ASSERT_EQ(ntohs(a->sin6_port), good[i].port);
			ASSERT_EQ(len, sizeof(*a));
		}
		ASSERT_STREQ(ip, good[i].ip);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		if (listen_addr_parse(bad[i], &ss, &len, err, sizeof(err)))
			TL_FAIL("'%s' accepted", bad[i]);
		ASSERT_TRUE(err[0]);
	}
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int dial(const char *where)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 2 };
	const char *colon = strrchr(where, ':');
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_port = htons(atoi(colon + 1));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one response (Content-Length framed); its status, or -1 on a
 * closed connection or a timeout (2 s). */
static int read_response(int fd, char *body, size_t cap)
{
	static char buf[1 << 20];
	size_t n = 0;
	const char *end, *cl;
	int status = -1;
	long want = -1;

	for (;;) {
		ssize_t r;

		if (n && (end = strstr(buf, "\r\n\r\n"))) {
			if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
				return -1;
			cl = strcasestr(buf, "\r\nContent-Length: ");
			want = cl ? atol(cl + 18) : 0;
			if ((long)(n - (end + 4 - buf)) >= want) {
				if (body) {
					size_t len = (size_t)want < cap - 1 ? (size_t)want : cap - 1;

					memcpy(body, end + 4, len);
					body[len] = '\0';
				}
				return status;
			}
		}
		if (n + 1 >= sizeof(buf))
			return -1;
		r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r <= 0)
			return -1;
		n += r;
		buf[n] = '\0';
	}
}

static int request(const char *where, const char *req, char *body, size_t cap)
{
	int fd = dial(where), status;

	if (fd < 0)
		return -1;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	status = read_response(fd, body, cap);
	close(fd);
	return status;
}

static struct metrics *start_published(char **expect)
{
	struct prom_buf b = { 0 };
	struct metrics *m = metrics_start("127.0.0.1:0", 60);

	if (!ASSERT_NOT_NULL(m))
		return NULL;
	fill(&P);
	publish(m);
	render_into(&P, &b);
	unfill(&P);
	*expect = b.data;
	return m;
}

static void test_server_routes(void)
{
	static char body[1 << 20];
	int fds = open_fds(), fd;
	struct metrics *m = metrics_start("127.0.0.1:0", 60);
	char *expect = NULL;
	const char *w;

	if (!ASSERT_NOT_NULL(m))
		return;
	w = metrics_address(m);
	ASSERT_TRUE(starts(w, "127.0.0.1:") && atoi(strrchr(w, ':') + 1) > 0);
	/* Nothing published yet. */
	ASSERT_EQ(request(w, SCRAPE, NULL, 0), 503);
	metrics_stop(m);

	m = start_published(&expect);
	if (!m)
		return;
	w = metrics_address(m);
	ASSERT_EQ(request(w, SCRAPE, body, sizeof(body)), 200);
	ASSERT_STREQ(body, expect);
	ASSERT_EQ(request(w, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 200);
	ASSERT_EQ(request(w, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)), 200);
	ASSERT_STREQ(body, "ok\n");
	ASSERT_EQ(request(w, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 404);
	ASSERT_EQ(request(w, "GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 404);
	ASSERT_EQ(request(w, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			  NULL, 0), 405);
	ASSERT_EQ(request(w, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 405);
	ASSERT_EQ(request(w, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			  NULL, 0), 413);
	/* Keep-alive: two answers on one connection. */
	fd = dial(w);
	for (int i = 0; i < 2; i++) {
		send(fd, SCRAPE, strlen(SCRAPE), MSG_NOSIGNAL);
		ASSERT_EQ(read_response(fd, body, sizeof(body)), 200);
		ASSERT_STREQ(body, expect);
	}
	close(fd);
	metrics_stop(m);
	free(expect);
	ASSERT_EQ(open_fds(), fds);	/* listening socket and connections closed */
}

/* Garbage, a 1 MiB request head and a 1 MiB body get an error or a closed
 * connection, and the next scrape is answered. */
static void test_server_hostile(void)
{
	static char big[(1 << 20) + 64];
	char *expect = NULL;
	struct metrics *m = start_published(&expect);
	const char *w;
	int fd, status;

	if (!m)
		return;
	w = metrics_address(m);
	status = request(w, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", NULL, 0);
	ASSERT_TRUE(status == 400 || status == -1);
	status = request(w, "GET /metrics\r\n\r\n", NULL, 0);	/* HTTP/0.9-ish */
	ASSERT_TRUE(status >= 400 || status == -1);

	memcpy(big, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
	memset(big + 30, 'a', sizeof(big) - 30 - 5);
	memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
	status = request(w, big, NULL, 0);
	ASSERT_TRUE(status == 431 || status == 400 || status == -1);

	fd = dial(w);
	snprintf(big, 100, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1 << 20);
	send(fd, big, strlen(big), MSG_NOSIGNAL);
	memset(big, 'b', 1 << 20);
	send(fd, big, 1 << 20, MSG_NOSIGNAL | MSG_DONTWAIT);	/* as much as fits */
	status = read_response(fd, NULL, 0);
	ASSERT_EQ(status, 405);
	close(fd);

	ASSERT_EQ(request(w, SCRAPE, NULL, 0), 200);
	metrics_stop(m);
	free(expect);
}

/* Twice as many silent or trickling connections as the server takes: a
 * scrape still gets its answer within the client's 2 s timeout. */
static void test_server_slowloris(void)
{
	int conns[2 * METRICS_MAX_CONNS], n = 0;
	char *expect = NULL;
	struct metrics *m = start_published(&expect);
	const char *w;
	uint64_t t0;

	if (!m)
		return;
	w = metrics_address(m);
	for (int i = 0; i < (int)ARRAY_SIZE(conns); i++) {
		conns[n] = dial(w);
		if (conns[n] < 0)
			continue;
		if (i % 2)	/* half start a request they never finish */
			send(conns[n], "GET /metrics HTTP/1.1\r\nX: ", 26, MSG_NOSIGNAL);
		n++;
	}
	ASSERT_EQ(n, (int)ARRAY_SIZE(conns));
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++)	/* one more byte each */
			send(conns[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		t0 = mono_ns();
		ASSERT_EQ(request(w, SCRAPE, NULL, 0), 200);
		ASSERT_TRUE(mono_ns() - t0 < 2000000000ull);
	}
	for (int i = 0; i < n; i++)
		close(conns[i]);
	metrics_stop(m);
	free(expect);
}

static void test_server_health_stale(void)
{
	struct metrics *m = metrics_start("127.0.0.1:0", 0.3);
	char body[128];

	if (!m) {
		TL_FAIL("server did not start");
		return;
	}
	fill(&P);
	publish(m);
	ASSERT_EQ(request(metrics_address(m), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
			  body, sizeof(body)), 200);
	usleep(500 * 1000);
	ASSERT_EQ(request(metrics_address(m), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
			  body, sizeof(body)), 503);
	ASSERT_TRUE(starts(body, "stale"));
	publish(m);
	ASSERT_EQ(request(metrics_address(m), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
			  body, sizeof(body)), 200);
	unfill(&P);
	metrics_stop(m);
}

/* Publishing while clients read: every answer is one whole document. */
static void test_server_publish_while_serving(void)
{
	static char body[1 << 20];
	struct metrics *m = metrics_start("127.0.0.1:0", 60);
	int bad = 0;

	if (!m) {
		TL_FAIL("server did not start");
		return;
	}
	fill(&P);
	for (int i = 0; i < 200; i++) {
		int fd;

		P.stats.lost_events = i;
		publish(m);
		fd = dial(metrics_address(m));
		send(fd, SCRAPE, strlen(SCRAPE), MSG_NOSIGNAL);
		publish(m);	/* swapped while the answer is out */
		if (read_response(fd, body, sizeof(body)) != 200 ||
		    !starts(body, "# HELP") || body[strlen(body) - 1] != '\n' ||
		    !strstr(body, "\ngatescope_backends_overflowed_total 2\n"))
			bad++;
		close(fd);
	}
	ASSERT_EQ(bad, 0);
	unfill(&P);
	metrics_stop(m);
}

static void test_server_bind_errors(void)
{
	struct metrics *m = metrics_start("127.0.0.1:0", 60), *again;
	char where[80];

	if (!ASSERT_NOT_NULL(m))
		return;
	snprintf(where, sizeof(where), "%s", metrics_address(m));
	again = metrics_start(where, 60);	/* port in use: a clean failure */
	ASSERT_TRUE(again == NULL);
	metrics_stop(again);
	metrics_stop(m);
	ASSERT_TRUE(metrics_start("198.51.100.7:0", 60) == NULL);	/* not our address */
}

int main(void)
{
	log_init(false);
	RUN_TEST(test_every_line_valid);
	RUN_TEST(test_contract_families);
	RUN_TEST(test_counters);
	RUN_TEST(test_escaping);
	RUN_TEST(test_histogram);
	RUN_TEST(test_bucket_error_bound);
	RUN_TEST(test_render_twice);
	RUN_TEST(test_routes);
	RUN_TEST(test_inferred_timeouts);
	RUN_TEST(test_monotonic);
	RUN_TEST(test_parse_addr);
	RUN_TEST(test_server_routes);
	RUN_TEST(test_server_hostile);
	RUN_TEST(test_server_slowloris);
	RUN_TEST(test_server_health_stale);
	RUN_TEST(test_server_publish_while_serving);
	RUN_TEST(test_server_bind_errors);
	TEST_MAIN_END();
}
