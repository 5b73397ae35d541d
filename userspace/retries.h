/* SPDX-License-Identifier: MIT */
/* Client retry stage: throttled answers (and which side throttled), the
 * clients' retries after a throttled or failed answer, their delays,
 * backoff, jitter, Retry-After and lockstep, and a verdict per client.
 *
 * Fed by the one request consumer (pipeline.c: on_request), in the order
 * requests are decided.  A retry is a request from the same client address
 * for the same path (so the same route; the query is never kept) that
 * reaches the gateway within RETRY_WINDOW_NS after the answer
 * (the response's end) to a throttled or failed request of that client;
 * its delay is the time between the two.  The per-route figures live in
 * struct route_retries inside each route's stats (routes.h); the per
 * (client, route) figures in a bounded table here, its evictions counted. */
#ifndef GS_RETRIES_H
#define GS_RETRIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hist.h"
#include "join.h"

/* A request this long after a failed answer is a new request, not a retry. */
#define RETRY_WINDOW_NS		(30 * 1000000000ull)
#define RETRY_CLIENTS_MAX	1024	/* (client address, route) pairs followed */
#define RETRY_TOP_CLIENTS	10	/* throttled_clients shown in the total */
/* Retries of this many distinct clients within RETRY_LOCKSTEP_NS of each
 * other are one synchronised burst. */
#define RETRY_LOCKSTEP_NS	(10 * 1000000ull)
#define RETRY_LOCKSTEP_CLIENTS	3
#define RETRY_LOCKSTEP_RING	256	/* recent retries compared */
/* Successive delays are compared only when the earlier one is at least
 * this long: below it, scheduling noise is the delay. */
#define RETRY_RATIO_MIN_NS	(2 * 1000000ull)
#define RETRY_ADDR_LEN		48
/* The last ratios of successive delays kept per client, for a spread
 * that one scheduling hiccup does not make (median absolute deviation). */
#define RETRY_RATIOS_KEPT	32

enum throttle_source { THROTTLE_NONE = 0, THROTTLE_GATEWAY, THROTTLE_BACKEND };
const char *throttle_source_name(enum throttle_source s);

/* Running moments of retry delays and of the log of successive delay
 * ratios (the log makes the mean a geometric mean: noise around a fixed
 * delay averages to a ratio of 1). */
struct delay_moments {
	uint64_t n;
	double sum_ms, sumsq_ms, min_ms, max_ms;
	uint64_t nratio;
	double sum_log, sumsq_log;
};

void delay_moments_add(struct delay_moments *m, double delay_ms, double prev_ms);
void delay_moments_merge(struct delay_moments *acc, const struct delay_moments *a);
double delay_mean_ms(const struct delay_moments *m);		/* -1 if none */
double delay_cv(const struct delay_moments *m);		/* std/mean, -1 if < 2 */
double backoff_ratio(const struct delay_moments *m);		/* geometric mean, -1 if none */
/* Spread of the ratios (std of their logs, about their CV); -1 if < 2. */
double ratio_spread(const struct delay_moments *m);

/* What one finished request says about throttling and retries. */
struct retry_facts {
	uint64_t ts_start;		/* the request reached the gateway */
	enum throttle_source throttled;	/* its answer was throttled, by whom */
	bool retry;			/* it retried a throttled or failed answer */
	bool after_throttle;		/* ... a throttled one */
	uint64_t delay_ns;		/* since that answer */
	double prev_delay_ms;		/* the retry before it in the chain, 0 if none */
	bool ra_asked;			/* that answer named Retry-After seconds */
	bool ra_ignored;		/* ... and this retry came sooner (by > 10 %) */
	unsigned lockstep;		/* retries found synchronised by this one */
	bool masked;			/* an upstream 429/5xx answered as 2xx */
	uint16_t upstream_status, status;
};

/* Per route (win and total): the report model's "retries". */
struct route_retries {
	uint64_t throttled_gateway;	/* throttled answers no upstream attempt gave */
	uint64_t throttled_backend;	/* ... relayed from the joined attempt */
	uint64_t retries;		/* client retries */
	uint64_t retries_after_throttle;
	uint64_t ra_retries, ra_ignored;	/* retries after a Retry-After, sooner than asked */
	uint64_t lockstep;		/* retries in synchronised bursts */
	struct delay_moments delays;
	struct hist delay_hist;
	/* Rate before and after throttling began; the apparent limit is the
	 * rate of answers not throttled in the seconds that had throttling. */
	uint64_t first_ns, last_ns, throttle_start_ns;
	uint64_t before, after;		/* requests before / from throttle_start_ns */
	uint64_t sec, sec_ok, sec_throttled;	/* the second being counted */
	uint64_t limit_seconds, limit_ok;	/* completed seconds with throttling */
};

void route_retries_add(struct route_retries *s, const struct retry_facts *f);
void route_retries_merge(struct route_retries *acc, const struct route_retries *a);
/* Requests per second; -1 when the span is too short to say. */
double route_rate_before(const struct route_retries *s);
double route_rate_after(const struct route_retries *s);
double route_apparent_limit(const struct route_retries *s);

/* One (client address, route) pair. */
struct retry_client {
	uint64_t key;			/* hash of client and route, 0: free */
	char client[RETRY_ADDR_LEN];	/* address without port */
	char route[256];
	uint64_t requests, throttled, failed, retries;
	uint64_t ra_retries, ra_ignored, lockstep;
	int32_t ra_asked_s;		/* the last Retry-After seconds it was given, -1 none */
	struct delay_moments delays;
	float log_ratio[RETRY_RATIOS_KEPT];	/* ring of log(delay / previous delay) */
	unsigned nratios;		/* ratios seen (the ring holds the last ones) */
	/* chain state */
	uint64_t last_seen_ns;		/* last request start (for eviction) */
	uint64_t last_end_ns;		/* last answer's end */
	uint64_t last_path;		/* hash of its path: a retry asks for the same */
	bool last_failed, last_throttled;
	int32_t last_ra_s;
	double prev_delay_ms;		/* 0: the last request was not a retry */
};

struct retry_ring_entry {
	uint64_t ts, route_hash, client_key;
	uint32_t slot;
	bool marked;
};

/* The index has twice the table's slots, positions in 16 bits. */
#define RETRY_INDEX_PER_CLIENT	2
#define RETRY_CLIENTS_LIMIT	32767

struct retries {
	struct retry_client *clients;	/* max */
	size_t n, max;
	/* The pairs by key (1 + position in clients; 0: empty), open
	 * addressing: every finished request looks its pair up. */
	uint16_t *index;
	size_t index_slots;
	uint64_t evicted;		/* pairs forced out of the full table */
	struct retry_ring_entry ring[RETRY_LOCKSTEP_RING];
	unsigned ring_next;
};

/* max_clients: (client, route) pairs followed at once (0:
 * RETRY_CLIENTS_MAX; at most RETRY_CLIENTS_LIMIT). */
int retries_init(struct retries *t, size_t max_clients);
void retries_free(struct retries *t);
/* One finished request: its throttling source, whether it is a retry, and
 * its delay; updates the client's chain.  route is its route's name. */
void retries_observe(struct retries *t, const struct request *r, const char *route,
		     struct retry_facts *out);

/* Robust spread of a client's backoff: 1.4826 x the median absolute
 * deviation of the logs of its last ratios (about their CV for jitter
 * spread evenly, unmoved by a few outliers); -1 with fewer than 3. */
double client_ratio_spread(const struct retry_client *c);

/* The verdicts. */
#define RETRY_MIN_JUDGED 3		/* retries needed before a verdict */
const char *retry_verdict(const struct retry_client *c, char *evidence, size_t len);

/* The clients with the most throttled answers and retries, at most max;
 * returns the count. */
size_t retries_top(const struct retries *t, const struct retry_client **out, size_t max);

/* Is an answer throttling?  429; 503 with Retry-After; a 400 naming it. */
bool status_throttled(uint16_t status, bool retry_after, bool hint);

#endif
