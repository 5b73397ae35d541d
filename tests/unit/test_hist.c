/* Histogram: every quantile against the exact nearest-rank value of the same
 * samples, sorted; merge, reset, and the bucket layout the 1 % bound rests on. */
#include <stdint.h>
#include <stdlib.h>
#include "hist.h"
#include "util.h"
#include "testlib.h"

#define MAX_SAMPLES 200000

static uint64_t samples[MAX_SAMPLES];
static struct hist h, h2, h3;

/* splitmix64: a fixed seed makes every run see the same samples. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	return tl_rng_next(&rng_state);
}

static double rng_unit(void)	/* (0, 1) */
{
	return ((rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)	/* Box-Muller */
{
	return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentiles in parts per 10000, so the exact rank is integer arithmetic:
 * nearest rank = ceil(p * n / 10000). */
static const unsigned check_p[] = {
	1, 10, 100, 700, 1000, 2500, 5000, 5700, 7500, 9000, 9500, 9900, 9990, 9999,
};

static uint64_t exact_quantile(const uint64_t *sorted, size_t n, unsigned p)
{
	uint64_t rank = ((uint64_t)p * n + 9999) / 10000;

	return sorted[(rank ? rank : 1) - 1];
}

/* Fill the histogram from samples[0..n), then compare every quantile with
 * the exact one: relative error at most 1 %. */
static void check_quantiles(const char *what, size_t n)
{
	int bad = 0;

	hist_reset(&h);
	for (size_t i = 0; i < n; i++)
		hist_add(&h, samples[i]);
	qsort(samples, n, sizeof(samples[0]), cmp_u64);
	ASSERT_EQ(h.count, n);
	ASSERT_EQ(h.min_ns, samples[0]);
	ASSERT_EQ(h.max_ns, samples[n - 1]);
	for (size_t i = 0; i < ARRAY_SIZE(check_p) && bad < 5; i++) {
		double q = check_p[i] / 10000.0;
		double want = exact_quantile(samples, n, check_p[i]);
		double got = hist_quantile(&h, q);

		if (fabs(got - want) > 0.01 * want) {
			TL_FAIL("%s n=%zu q=%.4f: got %.1f, exact %.1f (error %.3f %%)", what, n, q,
				got, want, 100 * fabs(got - want) / want);
			bad++;
		}
	}
	ASSERT_EQ(hist_quantile(&h, 0), samples[0]);
	ASSERT_EQ(hist_quantile(&h, 1), samples[n - 1]);
}

static void test_uniform(void)
{
	rng_state = 1;
	for (size_t i = 0; i < 100000; i++)
		samples[i] = 1000000 + rng_next() % 99000000;	/* 1 ms .. 100 ms */
	check_quantiles("uniform", 100000);
}

static void test_lognormal(void)
{
	rng_state = 2;
	for (size_t i = 0; i < MAX_SAMPLES; i++)	/* median 2 ms, long tail */
		samples[i] = (uint64_t)exp(log(2e6) + 1.5 * rng_normal());
	check_quantiles("lognormal", MAX_SAMPLES);
}

/* Two far-apart modes split at a percentile: one rank off lands in the
 * other mode (1000x away), so these show whether the rank is right. */
static void test_bimodal(void)
{
	static const unsigned split_pct[] = { 7, 50, 57, 90, 99 };

	rng_state = 3;
	for (size_t s = 0; s < ARRAY_SIZE(split_pct) && !tl_cur_failed; s++) {
		for (size_t n = 1; n <= 1000 && !tl_cur_failed; n++) {
			size_t fast = n * split_pct[s] / 100;

			for (size_t i = 0; i < n; i++)
				samples[i] = i < fast ? 200000 + rng_next() % 50000 :
							200000000 + rng_next() % 50000000;
			check_quantiles("bimodal", n);
		}
	}
}

static void test_constant(void)
{
	for (size_t i = 0; i < 5000; i++)
		samples[i] = 123456789;
	check_quantiles("constant", 5000);
	ASSERT_EQ(hist_quantile(&h, 0.5), 123456789);	/* exact: min == max */
}

static void test_single_sample(void)
{
	static const uint64_t values[] = { 0, 1, 63, 64, 65, 1000, 999999, 3000000007ull };

	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		samples[0] = values[i];
		check_quantiles("single", 1);
		ASSERT_EQ(hist_quantile(&h, 0.5), values[i]);
		ASSERT_EQ(hist_quantile(&h, 0.99), values[i]);
	}
}

/* Log-uniform from 1 ns to 30 minutes: every bucket scale at once. */
static void test_ns_to_minutes(void)
{
	rng_state = 4;
	for (size_t i = 0; i < MAX_SAMPLES; i++)
		samples[i] = (uint64_t)exp(rng_unit() * log(1.8e12));
	check_quantiles("ns-to-minutes", MAX_SAMPLES);
	ASSERT_TRUE(h.max_ns > 60e9 && h.min_ns < 100);
}

static void test_empty(void)
{
	hist_reset(&h);
	ASSERT_EQ(h.count, 0);
	ASSERT_NEAR(hist_quantile(&h, 0.5), 0, 0);
	ASSERT_NEAR(hist_quantile(&h, 0.99), 0, 0);
}

/* Merging the histograms of two halves equals the histogram of the whole. */
static void test_merge(void)
{
	size_t n = 50000;

	rng_state = 5;
	hist_reset(&h);
	hist_reset(&h2);
	hist_reset(&h3);
	for (size_t i = 0; i < n; i++) {
		samples[i] = i % 3 ? 1000 + rng_next() % 100000 : 5000000 + rng_next() % 10000000;
		hist_add(i < n / 3 ? &h : &h2, samples[i]);
	}
	hist_merge(&h3, &h);		/* into an empty one: takes min from src */
	hist_merge(&h3, &h2);
	hist_merge(&h3, &h);		/* h once more ... */
	hist_reset(&h);
	hist_merge(&h3, &h);		/* ... and an empty one changes nothing */
	for (size_t i = 0; i < n / 3; i++)
		samples[n + i] = samples[i];
	qsort(samples, n + n / 3, sizeof(samples[0]), cmp_u64);
	ASSERT_EQ(h3.count, n + n / 3);
	ASSERT_EQ(h3.min_ns, samples[0]);
	ASSERT_EQ(h3.max_ns, samples[n + n / 3 - 1]);
	for (size_t i = 0; i < ARRAY_SIZE(check_p); i++) {
		double want = exact_quantile(samples, n + n / 3, check_p[i]);

		ASSERT_NEAR(hist_quantile(&h3, check_p[i] / 10000.0), want, 0.01 * want);
	}
	/* Bucket for bucket, the merge is the sum. */
	hist_reset(&h);
	for (size_t i = 0; i < n + n / 3; i++)
		hist_add(&h, samples[i]);
	ASSERT_EQ(h.sum_ns, h3.sum_ns);
	ASSERT_TRUE(!memcmp(h.buckets, h3.buckets, sizeof(h.buckets)));
}

static void test_reset(void)
{
	hist_reset(&h);
	hist_add(&h, 5);
	hist_add(&h, 5000000000ull);
	hist_reset(&h);
	ASSERT_EQ(h.count, 0);
	ASSERT_EQ(h.sum_ns, 0);
	ASSERT_EQ(h.max_ns, 0);
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		if (h.buckets[i]) {
			TL_FAIL("bucket %u = %u after reset", i, h.buckets[i]);
			break;
		}
	/* Nothing of the old samples leaks into the new min, max or quantiles. */
	hist_add(&h, 700000);
	hist_add(&h, 900000);
	ASSERT_EQ(h.min_ns, 700000);
	ASSERT_EQ(h.max_ns, 900000);
	ASSERT_NEAR(hist_quantile(&h, 0.5), 700000, 7000);
	ASSERT_NEAR(hist_quantile(&h, 1), 900000, 0);
}

/* Buckets tile [0, 2^42] without gaps or overlaps, each maps back to itself,
 * and none is wider than 1/64 of its lower bound (the 1 % bound). */
static void test_bucket_bounds(void)
{
	int bad = 0;

	ASSERT_EQ(hist_bucket_lo(0), 0);
	ASSERT_EQ(hist_bucket_hi(HIST_BUCKETS - 1), 1ull << HIST_MAX_EXP);
	for (unsigned i = 0; i < HIST_BUCKETS && bad < 5; i++) {
		uint64_t lo = hist_bucket_lo(i), hi = hist_bucket_hi(i);
		int was = tl_cur_failed;

		tl_cur_failed = 0;
		ASSERT_TRUE(lo <= hi);
		ASSERT_EQ(hist_bucket(lo), i);
		ASSERT_EQ(hist_bucket(hi), i);
		if (i + 1 < HIST_BUCKETS)
			ASSERT_EQ(hist_bucket_lo(i + 1), hi + 1);
		if (i >= HIST_SUB)
			ASSERT_TRUE((hi - lo + 1) * 64 <= lo);
		else
			ASSERT_EQ(lo, hi);		/* below 64 ns: exact */
		if (tl_cur_failed) {
			fprintf(stderr, "  ... bucket %u [%llu, %llu]\n", i,
				(unsigned long long)lo, (unsigned long long)hi);
			bad++;
		}
		tl_cur_failed |= was;
	}
	/* Out of range values land in the last bucket, not past the array. */
	ASSERT_EQ(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
	ASSERT_EQ(hist_bucket((1ull << HIST_MAX_EXP) + 1), HIST_BUCKETS - 1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* details and verdicts in order */
	RUN_TEST(test_uniform);
	RUN_TEST(test_lognormal);
	RUN_TEST(test_bimodal);
	RUN_TEST(test_constant);
	RUN_TEST(test_single_sample);
	RUN_TEST(test_ns_to_minutes);
	RUN_TEST(test_empty);
	RUN_TEST(test_merge);
	RUN_TEST(test_reset);
	RUN_TEST(test_bucket_bounds);
	TEST_MAIN_END();
}
