/* SPDX-License-Identifier: MIT */
/* Route aggregation: per "METHOD host/path-template" request counts, status
 * classes, latency, retry amplification and the upstream -> downstream
 * status translation matrix.  Kept per interval and for the whole run. */
#ifndef GS_ROUTES_H
#define GS_ROUTES_H

#include <stdbool.h>
#include <stdint.h>
#include "hist.h"
#include "retries.h"

#define ROUTE_LEN		256
#define ROUTES_MAX		256	/* tracked routes; later ones fold into "other" */
#define ROUTES_SHOWN_DEFAULT	50	/* top routes in reports, the rest "other" */
#define ROUTE_XLATE_MAX		16	/* distinct (upstream, downstream) status pairs */
#define ROUTE_F504_MAX		8	/* distinct (backend, cause, reason) of 504s */
#define ROUTE_MASKED_MAX	8	/* distinct masked (upstream, downstream) pairs */
#define ROUTE_MAP_MAX		4096	/* --route-map prefixes (each request scans them) */

enum cause { CAUSE_NONE = 0, CAUSE_GATEWAY, CAUSE_NETWORK, CAUSE_BACKEND, CAUSE_CLIENT,
	     CAUSE_UNKNOWN, CAUSE__MAX };

struct status_xlate {
	uint16_t upstream;	/* 0: no upstream answer */
	uint16_t downstream;
	uint64_t count;
};

/* 504s of a route by backend, cause and reason (Prometheus labels). */
struct fail_504 {
	char backend[64];		/* "" when no upstream attempt */
	enum cause cause;
	const char *reason;		/* static string from the attribution engine */
	uint64_t count;
};

#define STATUS_CLASSES		6	/* [1]..[5] = 1xx..5xx; [0] = no status (aborted) */

/* 2xx, 4xx and 5xx are reported even at zero: every route has them
 * (a Prometheus rate() then sees their first increase). */
static inline bool status_class_always_shown(int c)
{
	return c == 2 || c == 4 || c == 5;
}

struct route_stats {
	uint64_t requests;
	uint64_t status_class[STATUS_CLASSES];
	uint64_t unfinished;		/* decided before their end: no status class */
	uint64_t s504;
	uint64_t cause_504[CAUSE__MAX];
	uint64_t attempts;		/* upstream attempts these requests caused */
	uint64_t joined;		/* requests joined to at least one attempt */
	uint64_t throttled;		/* upstream 429, or 503 with Retry-After */
	uint64_t failed;		/* failed requests (any status, cut short, client gone) */
	struct status_xlate xlate[ROUTE_XLATE_MAX];
	uint64_t xlate_other;		/* pairs beyond ROUTE_XLATE_MAX */
	struct fail_504 f504[ROUTE_F504_MAX];
	uint64_t f504_other;		/* 504 keys beyond ROUTE_F504_MAX */
	struct hist latency;		/* downstream request -> response complete */
	/* Upstream 429/5xx answered downstream as 2xx: failures hidden from
	 * anyone counting downstream statuses. */
	struct status_xlate masked[ROUTE_MASKED_MAX];
	uint64_t masked_other;		/* pairs beyond ROUTE_MASKED_MAX */
	struct route_retries retries;	/* throttling and client retries */
};

struct route {
	char name[ROUTE_LEN];
	struct route_stats win, total;
};

/* One finished downstream request, as the route table needs it. */
struct route_sample {
	const char *route;
	uint16_t status;		/* 0 if the client got no status */
	bool failed;			/* request_failed(): the one definition */
	bool unfinished;		/* request_unfinished(): no outcome known */
	uint16_t upstream_status;	/* last attempt's status, 0 if none */
	bool throttled;
	unsigned attempts;
	enum cause cause;		/* for 504s */
	const char *reason;		/* for 504s, NULL if unattributed */
	const char *backend;		/* last attempt's backend, NULL if none */
	uint64_t latency_ns;
	const struct retry_facts *retry;	/* NULL: not followed */
};

/* An upstream 429 or 5xx that the client got as a 2xx. */
bool status_masks_failure(uint16_t upstream, uint16_t downstream);

struct route_map_entry {
	char prefix[ROUTE_LEN];
	char name[ROUTE_LEN];
};

#define ROUTE_CACHE_SLOTS	1024	/* named requests remembered (direct-mapped), by default */
#define ROUTE_INDEX_SLOTS	(2 * ROUTES_MAX)	/* routes by name hash (open addressing) */

struct route_cache_slot;

struct routes {
	struct route *r[ROUTES_MAX];
	/* Per finished request: its route's name by a hash of method + host
	 * + target, made only on a miss; the route by a hash of that name. */
	struct route_cache_slot *cache;
	size_t cache_slots;
	uint16_t index[ROUTE_INDEX_SLOTS];	/* 1 + position in r[]; 0: empty */
	size_t n;
	struct route *other;		/* overflow, always present */
	uint64_t overflowed;
	struct route_map_entry *map;	/* --route-map */
	size_t nmap;
	unsigned shown;			/* top N in reports */
};

/* cache_slots: requests whose route name is remembered (0:
 * ROUTE_CACHE_SLOTS); a name is the same whatever the cache holds. */
int routes_init(struct routes *rt, unsigned shown, size_t cache_slots);
void routes_free(struct routes *rt);
/* --route-map FILE: lines "PREFIX NAME"; -1 with a message. */
int routes_load_map(struct routes *rt, const char *path);
/* "METHOD host/template" for a request (query never included), at most
 * ROUTE_LEN - 1 characters. */
void routes_name(struct routes *rt, const char *method, const char *host,
		 const char *path, char *out, size_t len);
void routes_add(struct routes *rt, const struct route_sample *s);
void routes_window_reset(struct routes *rt);
/* Routes sorted by requests (descending) for this view, at most rt->shown;
 * returns the count; *rest gets the sum of everything not shown. */
size_t routes_top(const struct routes *rt, bool total, const struct route **out,
		  size_t max, struct route_stats *rest, bool *have_rest);
/* Merge a into acc (for the "other" row). */
void route_stats_merge(struct route_stats *acc, const struct route_stats *a);
const char *cause_name(enum cause c);

#endif
