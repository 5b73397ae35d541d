/* SPDX-License-Identifier: MIT */
/* Prometheus output stage: renders the aggregates as the text exposition
 * format (version 0.0.4).  Counters cover the whole run (they never go
 * down), latencies are histograms in seconds.  Pure and single-threaded:
 * the metrics server (metrics.h) serves what this renders. */
#ifndef GS_PROM_H
#define GS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aggregate.h"
#include "report.h"

/* A rendered document larger than this is refused (the previous one stays
 * served): a bound on memory whatever the aggregator holds. */
#define PROM_MAX_BYTES	(16u << 20)

/* Upper bounds ("le") of the latency histograms, in seconds. */
#define PROM_LE_COUNT	16
extern const char *const prom_le_labels[PROM_LE_COUNT];
extern const uint64_t prom_le_ns[PROM_LE_COUNT];

/* A growing text buffer; reused between renders to avoid reallocation. */
struct prom_buf {
	char *data;
	size_t len, cap;
	bool failed;		/* out of memory or over PROM_MAX_BYTES */
};

void prom_buf_free(struct prom_buf *b);

/* Render every metric family of a whole-run report (r->agg and r->stats
 * required, r->routes and r->timeouts optional) into b, replacing its
 * contents; the text is NUL-terminated, b->len excludes the NUL.  -1 when
 * it did not fit.
 *
 * Cardinality: backends are capped by the aggregator (the rest "other");
 * routes by r->routes->shown (--top-routes): the first routes seen get their
 * own series and later ones are summed into route="other".  First seen, not
 * busiest, so a series never changes meaning and counters never go down. */
int prom_render(const struct report *r, struct prom_buf *b);

/* Cumulative count of h at or below le_ns, counting only hist buckets that
 * lie entirely at or below it (exposed for tests). */
uint64_t prom_hist_le(const struct hist *h, uint64_t le_ns);

#endif
