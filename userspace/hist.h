/* SPDX-License-Identifier: MIT */
/* Log-linear latency histogram (HDR-style) over nanoseconds.
 *
 * Values below 64 ns are exact; above, each power of two is split into 64
 * linear sub-buckets, so a bucket is at most 1/64 of its values wide and
 * reporting its midpoint is within 1/128 (0.8 %) of any value in it.
 * Range: up to 2^42 ns (about 73 minutes); larger values are clamped. */
#ifndef GS_HIST_H
#define GS_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_EXP	42
#define HIST_BUCKETS	(HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t min_ns;
	uint64_t max_ns;
	uint32_t buckets[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *dst, const struct hist *src);
/* Nearest-rank quantile, q in [0,1], in ns; 0 for an empty histogram. */
double hist_quantile(const struct hist *h, double q);

/* Bucket index and the [lo, hi] value range it covers (for exporters). */
unsigned hist_bucket(uint64_t ns);
uint64_t hist_bucket_lo(unsigned idx);
uint64_t hist_bucket_hi(unsigned idx);

#endif
