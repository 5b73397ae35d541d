// SPDX-License-Identifier: MIT
#include <math.h>
#include <string.h>
#include "hist.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned hist_bucket(uint64_t ns)
{
	unsigned exp;

	if (ns < HIST_SUB)
		return ns;
	exp = 63 - __builtin_clzll(ns);		/* ns in [2^exp, 2^(exp+1)) */
	if (exp >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (exp - HIST_SUB_BITS) * HIST_SUB +
	       ((ns >> (exp - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

uint64_t hist_bucket_lo(unsigned idx)
{
	unsigned exp, sub;

	if (idx < HIST_SUB)
		return idx;
	exp = (idx - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	sub = (idx - HIST_SUB) % HIST_SUB;
	return (1ull << exp) + ((uint64_t)sub << (exp - HIST_SUB_BITS));
}

uint64_t hist_bucket_hi(unsigned idx)
{
	if (idx < HIST_SUB)
		return idx;
	if (idx + 1 >= HIST_BUCKETS)
		return 1ull << HIST_MAX_EXP;
	return hist_bucket_lo(idx + 1) - 1;
}

void hist_add(struct hist *h, uint64_t ns)
{
	if (h->count == 0 || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
	h->sum_ns += ns;
	h->buckets[hist_bucket(ns)]++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	if (dst->count == 0 || src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	double mid, x, r;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min_ns;
	if (q >= 1)
		return h->max_ns;
	/* q is a decimal rounded to binary: 0.07 * 100 computes as
	 * 7.000000000000001, and ceil() of that would skip a rank.  A product
	 * within rounding error of an integer is that integer. */
	x = q * h->count;
	r = nearbyint(x);
	rank = fabs(x - r) <= x * 1e-15 ? (uint64_t)r : (uint64_t)ceil(x);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen < rank)
			continue;
		mid = (hist_bucket_lo(i) + (double)hist_bucket_hi(i)) / 2;
		/* The extremes are known exactly: never report past them. */
		if (mid > h->max_ns)
			mid = h->max_ns;
		if (mid < h->min_ns)
			mid = h->min_ns;
		return mid;
	}
	return h->max_ns;
}
