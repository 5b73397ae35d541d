/* Aggregator: per-backend counts over sequences of connection outcomes,
 * interval windows, overflow into "other", backend names. */
#include <stdlib.h>
#include "aggregate.h"
#include "testlib.h"

static struct conn_outcome outcome(const char *peer, enum connect_failure f, double connect_ms)
{
	struct conn_outcome o = {
		.upstream = true, .established = f == CONNECT_OK, .failure = f,
		.connect_ms = connect_ms,
	};

	snprintf(o.peer, sizeof(o.peer), "%s", peer);
	snprintf(o.local, sizeof(o.local), "10.0.0.1:40000");
	return o;
}

static struct backend *find(const struct aggregator *a, const char *label)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->backends[i]->label, label))
			return a->backends[i];
	return NULL;
}

/* Expected counts of one backend_stats, checked field by field. */
struct want {
	uint64_t connects, refused, timeout, unreachable, rst_in, rst_out, retrans, connect_n;
};

#define ASSERT_STATS(s, w)							\
	do {									\
		ASSERT_EQ((s)->connects, (w).connects);				\
		ASSERT_EQ((s)->refused, (w).refused);				\
		ASSERT_EQ((s)->timeout, (w).timeout);				\
		ASSERT_EQ((s)->unreachable, (w).unreachable);			\
		ASSERT_EQ((s)->resets_received, (w).rst_in);			\
		ASSERT_EQ((s)->resets_sent, (w).rst_out);			\
		ASSERT_EQ((s)->retransmits, (w).retrans);			\
		ASSERT_EQ((s)->connect.count, (w).connect_n);			\
	} while (0)

/* A mixed sequence for three backends; counts follow from the sequence. */
static void feed_mix(struct aggregator *a)
{
	struct conn_outcome o;

	for (int i = 0; i < 10; i++) {			/* A: 10 ok, 1..10 ms */
		o = outcome("192.0.2.1:80", CONNECT_OK, i + 1);
		o.retransmits = i % 3 == 0;		/* i = 0, 3, 6, 9 */
		agg_add_conn(a, &o);
	}
	o = outcome("192.0.2.1:80", CONNECT_OK, 0.25);
	o.resets_received = 1;
	agg_add_conn(a, &o);
	for (int i = 0; i < 3; i++) {			/* B: 3 refused, 2 timeouts */
		o = outcome("[2001:db8::2]:8080", CONNECT_REFUSED, -1);
		agg_add_conn(a, &o);
	}
	for (int i = 0; i < 2; i++) {
		o = outcome("[2001:db8::2]:8080", CONNECT_TIMEOUT, -1);
		o.retransmits = 6;
		agg_add_conn(a, &o);
	}
	o = outcome("198.51.100.3:443", CONNECT_UNREACHABLE, -1);	/* C */
	agg_add_conn(a, &o);
	o = outcome("198.51.100.3:443", CONNECT_OK, 3);
	o.resets_sent = 2;
	agg_add_conn(a, &o);
	/* Downstream connections are clients, not backends: not counted. */
	o = outcome("192.0.2.1:80", CONNECT_OK, 1);
	o.upstream = false;
	agg_add_conn(a, &o);
}

static const struct want want_a = { .connects = 11, .rst_in = 1, .retrans = 4, .connect_n = 11 };
static const struct want want_b = { .connects = 5, .refused = 3, .timeout = 2, .retrans = 12 };
static const struct want want_c = { .connects = 2, .unreachable = 1, .rst_out = 2, .connect_n = 1 };

static void test_counts(void)
{
	struct aggregator a;
	struct backend *b;

	ASSERT_EQ(agg_init(&a, 0), 0);
	feed_mix(&a);
	ASSERT_EQ(a.n, 3);
	ASSERT_EQ(a.overflowed, 0);
	ASSERT_TRUE(a.other == NULL);
	/* In order of first sight. */
	ASSERT_STREQ(a.backends[0]->label, "192.0.2.1:80");
	ASSERT_STREQ(a.backends[1]->label, "[2001:db8::2]:8080");
	ASSERT_STREQ(a.backends[2]->label, "198.51.100.3:443");
	ASSERT_STATS(&a.backends[0]->total, want_a);
	ASSERT_STATS(&a.backends[0]->win, want_a);
	ASSERT_STATS(&a.backends[1]->total, want_b);
	ASSERT_STATS(&a.backends[2]->total, want_c);
	/* Connect latency went into the histogram in ns. */
	b = a.backends[0];
	ASSERT_EQ(b->total.connect.min_ns, 250000);
	ASSERT_EQ(b->total.connect.max_ns, 10000000);
	ASSERT_NEAR(hist_quantile(&b->total.connect, 0.5) / 1e6, 5, 0.05);
	agg_free(&a);
}

/* A new interval starts from zero; the whole-run totals keep counting. */
static void test_window_reset(void)
{
	struct aggregator a;
	struct conn_outcome o;
	struct want twice_a = want_a;
	struct backend *b;

	ASSERT_EQ(agg_init(&a, 0), 0);
	feed_mix(&a);
	agg_add_ttfb(&a, "192.0.2.1:80", 7000000);
	agg_window_reset(&a);
	for (size_t i = 0; i < a.n; i++) {
		struct want zero = {0};

		ASSERT_STATS(&a.backends[i]->win, zero);
		ASSERT_EQ(a.backends[i]->win.ttfb.count, 0);
	}
	ASSERT_STATS(&a.backends[0]->total, want_a);
	ASSERT_STATS(&a.backends[1]->total, want_b);
	ASSERT_STATS(&a.backends[2]->total, want_c);
	ASSERT_EQ(a.backends[0]->total.ttfb.count, 1);

	/* The next interval: its own counts in win, the sum in total. */
	feed_mix(&a);
	o = outcome("192.0.2.1:80", CONNECT_REFUSED, -1);
	agg_add_conn(&a, &o);
	b = find(&a, "192.0.2.1:80");
	if (!ASSERT_NOT_NULL(b))
		return;
	twice_a.connects = 2 * want_a.connects + 1;
	twice_a.refused = 1;
	twice_a.rst_in = 2 * want_a.rst_in;
	twice_a.retrans = 2 * want_a.retrans;
	twice_a.connect_n = 2 * want_a.connect_n;
	ASSERT_STATS(&b->total, twice_a);
	ASSERT_EQ(b->win.connects, want_a.connects + 1);
	ASSERT_EQ(b->win.refused, 1);
	ASSERT_EQ(b->win.connect.count, want_a.connect_n);
	ASSERT_EQ(a.n, 3);
	agg_free(&a);
}

/* A full table folds new backends into "other" and counts each connection
 * that went there; known backends keep their own rows. */
static void test_overflow(void)
{
	struct aggregator a;
	struct conn_outcome o;
	char label[32];

	ASSERT_EQ(agg_init(&a, 4), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(label, sizeof(label), "192.0.2.%d:80", i);
		o = outcome(label, i % 2 ? CONNECT_TIMEOUT : CONNECT_OK, 1);
		agg_add_conn(&a, &o);
		agg_add_conn(&a, &o);
	}
	o = outcome("192.0.2.0:80", CONNECT_OK, 1);	/* known: not overflow */
	agg_add_conn(&a, &o);
	ASSERT_EQ(a.n, 4);
	ASSERT_EQ(a.overflowed, 12);		/* 6 backends x 2 connections */
	ASSERT_TRUE(a.other != NULL);
	if (!a.other)
		return;
	ASSERT_STREQ(a.other->label, "other");
	ASSERT_EQ(a.other->total.connects, 12);
	ASSERT_EQ(a.other->total.timeout, 6);	/* i = 5, 7, 9 */
	ASSERT_EQ(a.other->win.connects, 12);
	ASSERT_EQ(a.backends[0]->total.connects, 3);
	ASSERT_EQ(a.backends[3]->total.connects, 2);
	ASSERT_TRUE(find(&a, "192.0.2.4:80") == NULL);
	/* Windows reset "other" too. */
	agg_window_reset(&a);
	ASSERT_EQ(a.other->win.connects, 0);
	ASSERT_EQ(a.other->total.connects, 12);
	agg_free(&a);
}

/* A full default table of backends: each label finds its own row again
 * (the hash index, with collisions among 512 labels in 1,024 slots), in
 * the order of first sight; one more goes to "other". */
static void test_many_backends(void)
{
	struct aggregator a;
	char label[32];
	bool same = true;

	ASSERT_EQ(agg_init(&a, 0), 0);
	for (int i = 0; i < AGG_MAX_BACKENDS_DEFAULT; i++) {
		snprintf(label, sizeof(label), "10.%d.%d.1:8080", i / 256, i % 256);
		agg_add_ttfb(&a, label, 1000000);
	}
	for (int i = AGG_MAX_BACKENDS_DEFAULT; i-- > 0;) {
		snprintf(label, sizeof(label), "10.%d.%d.1:8080", i / 256, i % 256);
		same &= agg_backend(&a, label) == a.backends[i] &&
			!strcmp(a.backends[i]->label, label);
		agg_add_ttfb(&a, label, 2000000);
	}
	ASSERT_TRUE(same);
	ASSERT_EQ(a.n, AGG_MAX_BACKENDS_DEFAULT);
	ASSERT_EQ(a.backends[7]->total.ttfb.count, 2);
	ASSERT_EQ(a.overflowed, 0);
	ASSERT_TRUE(agg_backend(&a, "192.0.2.1:80") == a.other);
	ASSERT_EQ(a.overflowed, 1);
	agg_free(&a);
}

/* Names apply to a backend already seen and to one seen later; a later
 * name for the same label wins; other backends stay unnamed. */
static void test_names(void)
{
	struct aggregator a;
	struct conn_outcome o;
	struct backend *b;

	ASSERT_EQ(agg_init(&a, 0), 0);
	o = outcome("192.0.2.1:80", CONNECT_OK, 1);
	agg_add_conn(&a, &o);
	agg_set_name(&a, "192.0.2.1:80", "orders-a");
	agg_set_name(&a, "[2001:db8::2]:8080", "orders-v6");
	agg_set_name(&a, "198.51.100.3:443", "old-name");
	agg_set_name(&a, "198.51.100.3:443", "payments");
	b = find(&a, "192.0.2.1:80");
	ASSERT_TRUE(b && !strcmp(b->name, "orders-a"));
	o = outcome("[2001:db8::2]:8080", CONNECT_REFUSED, -1);
	agg_add_conn(&a, &o);
	o = outcome("198.51.100.3:443", CONNECT_OK, 1);
	agg_add_conn(&a, &o);
	o = outcome("192.0.2.99:80", CONNECT_OK, 1);
	agg_add_conn(&a, &o);
	b = find(&a, "[2001:db8::2]:8080");
	ASSERT_TRUE(b && !strcmp(b->name, "orders-v6"));
	b = find(&a, "198.51.100.3:443");
	ASSERT_TRUE(b && !strcmp(b->name, "payments"));
	b = find(&a, "192.0.2.99:80");
	ASSERT_TRUE(b && b->name[0] == '\0');
	/* Renaming a known backend takes effect at once. */
	agg_set_name(&a, "192.0.2.1:80", "orders-b");
	b = find(&a, "192.0.2.1:80");
	ASSERT_TRUE(b && !strcmp(b->name, "orders-b"));
	ASSERT_EQ(a.n, 4);
	agg_free(&a);
}

/* Time to first byte lands on the named backend, per window and in total. */
static void test_ttfb(void)
{
	struct aggregator a;
	struct backend *b;

	ASSERT_EQ(agg_init(&a, 0), 0);
	for (uint64_t i = 1; i <= 100; i++)
		agg_add_ttfb(&a, "192.0.2.1:80", i * 1000000);
	b = find(&a, "192.0.2.1:80");
	if (!ASSERT_NOT_NULL(b))
		return;
	ASSERT_EQ(b->total.ttfb.count, 100);
	ASSERT_EQ(b->win.ttfb.count, 100);
	ASSERT_NEAR(hist_quantile(&b->total.ttfb, 0.99), 99e6, 0.99e6);
	ASSERT_EQ(b->total.connects, 0);
	agg_free(&a);
}

/* A connect time of 2^64 ns or more (a crafted recording's times) is
 * counted in the last bucket, not converted out of uint64_t's range
 * (undefined behaviour, which the sanitizer build of this test reports). */
static void test_connect_time_saturated(void)
{
	struct aggregator a;
	struct conn_outcome o = outcome("192.0.2.1:80", CONNECT_OK, 18446744073709.551615);
	struct backend *b;

	ASSERT_EQ(agg_init(&a, 0), 0);
	agg_add_conn(&a, &o);
	o.connect_ms = 1e300;
	agg_add_conn(&a, &o);
	b = find(&a, "192.0.2.1:80");
	if (ASSERT_NOT_NULL(b))
		ASSERT_EQ(b->total.connect.count, 2);
	agg_free(&a);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_counts);
	RUN_TEST(test_window_reset);
	RUN_TEST(test_overflow);
	RUN_TEST(test_many_backends);
	RUN_TEST(test_names);
	RUN_TEST(test_ttfb);
	RUN_TEST(test_connect_time_saturated);
	TEST_MAIN_END();
}
