/* SPDX-License-Identifier: MIT */
/* Aggregator stage: per-backend counters and latency histograms, kept twice:
 * for the current report interval and for the whole run. */
#ifndef GS_AGGREGATE_H
#define GS_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>
#include "conntable.h"
#include "hist.h"
#include "util.h"

#define AGG_MAX_BACKENDS_DEFAULT 512
#define AGG_NAME_LEN 64

struct backend_stats {
	uint64_t connects;		/* connection attempts (SYN sent) */
	uint64_t refused, timeout, unreachable;
	uint64_t resets_received, resets_sent;
	uint64_t retransmits;
	uint64_t timeout_closes_gateway, timeout_closes_backend;
	struct hist connect;		/* SYN -> ESTABLISHED */
	struct hist ttfb;		/* request sent -> first response byte */
};

struct agg_name {
	char label[GS_ADDR_STRLEN];
	char name[AGG_NAME_LEN];
};

struct backend {
	char label[GS_ADDR_STRLEN];	/* ip:port or [ip]:port; "other" on overflow */
	char name[AGG_NAME_LEN];	/* from --backend-names, or "" */
	struct backend_stats win;	/* this interval */
	struct backend_stats total;	/* whole run */
};

struct aggregator {
	struct backend **backends;	/* in order of first sight */
	size_t n, max;
	uint32_t *index;		/* open addressing by label hash: backends[i - 1], 0 empty */
	size_t index_mask;		/* slots - 1: twice max or more, a power of two */
	uint64_t overflowed;		/* connections folded into "other" */
	struct backend *other;
	struct agg_name *names;		/* --backend-names, sorted by label */
	size_t nnames;
};

int agg_init(struct aggregator *a, size_t max_backends);
void agg_free(struct aggregator *a);
/* The backend for this label, created on first use; when the table is full
 * the "other" backend (counted in a->overflowed). */
struct backend *agg_backend(struct aggregator *a, const char *label);
void agg_add_conn(struct aggregator *a, const struct conn_outcome *o);
/* A timeout-driven close on a connection to this backend. */
void agg_add_timeout_close(struct aggregator *a, const char *backend, int closer);
void agg_add_ttfb(struct aggregator *a, const char *backend, uint64_t ns);
void agg_window_reset(struct aggregator *a);
/* Apply "ip:port name" from --backend-names to known and future backends. */
void agg_set_name(struct aggregator *a, const char *label, const char *name);
/* Replace every name at once (a --backend-names reload: a label no longer
 * listed loses its name; of repeated labels the last wins).  O(n log n).
 * 0, or -1 out of memory (the old names stay). */
int agg_replace_names(struct aggregator *a, const struct agg_name *names, size_t n);

#endif
