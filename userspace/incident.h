/* SPDX-License-Identifier: MIT */
/* Incident report model (--report): what the HTML report needs beyond the
 * whole-run totals the other outputs already keep.  Fed by the pipeline's
 * one consumer of finished requests; every part is bounded and what does
 * not fit is counted:
 *  - a timeline of requests and failures by cause, per route, in whole
 *    wall-clock seconds (a longer run than REPORT_TL_BUCKETS seconds
 *    doubles the bucket width, merging neighbours, as often as needed);
 *  - the failed requests with their evidence, grouped by verdict (the
 *    first REPORT_FAILED_KEPT of each, the rest counted);
 *  - per backend, the total time of the requests it served last;
 *  - which client-facing port reached which backend (the timeout ladder's
 *    rows). */
#ifndef GS_INCIDENT_H
#define GS_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hist.h"
#include "join.h"
#include "routes.h"

struct verdict;

#define REPORT_TL_BUCKETS	600	/* timeline buckets kept per route */
#define REPORT_ROUTES		ROUTES_MAX	/* routes with a timeline; later ones: "other" */
#define REPORT_GROUPS_MAX	48	/* distinct verdicts (cause, reason) */
#define REPORT_FAILED_KEPT	100	/* failed requests kept per verdict */
#define REPORT_BACKENDS		512	/* backends with a total-time histogram */
#define REPORT_PAIRS_MAX	256	/* (client-facing port, backend) pairs */
#define REPORT_EVIDENCE_LEN	320

/* One bucket: requests finished in it, and the failed ones by cause. */
struct tl_cell {
	uint32_t requests;
	uint32_t failed[CAUSE__MAX];	/* [CAUSE_GATEWAY]..[CAUSE_UNKNOWN] */
};

struct tl_series {
	char name[ROUTE_LEN];		/* route name as in the totals; "" for all */
	uint64_t requests;
	struct tl_cell *cells;		/* REPORT_TL_BUCKETS */
};

struct timeline {
	double t0;			/* epoch second of bucket 0 (whole second) */
	bool have_t0;
	unsigned width_s;		/* seconds per bucket: 1, 2, 4, ... */
	unsigned nbuckets;		/* buckets up to the last one used */
	struct tl_series all;
	struct tl_series *routes[REPORT_ROUTES];
	size_t nroutes;
	struct tl_series *other;	/* routes beyond REPORT_ROUTES */
	uint64_t before_t0;		/* requests that ended before t0 (counted in bucket 0) */
};

/* A failed request as the report lists it. */
struct failed_sample {
	double ts;			/* when the exchange ended, epoch */
	char route[ROUTE_LEN];
	char method[REQ_METHOD_LEN];
	char host[REQ_HOST_LEN];
	char path[REQ_PATH_LEN];
	char client[GS_ADDR_STRLEN];
	char backend[GS_ADDR_STRLEN];	/* "" when no attempt */
	uint16_t status, upstream_status;	/* 0: none */
	bool client_closed;
	double total_ms;		/* < 0: unknown */
	unsigned attempts;
	char term[3];
	const char *join;
	char evidence[REPORT_EVIDENCE_LEN];
};

struct failed_group {
	enum cause cause;
	const char *reason;		/* static string from attribute() */
	uint64_t count;
	size_t nkept;
	struct failed_sample *kept[REPORT_FAILED_KEPT];
};

struct backend_total {
	char label[GS_ADDR_STRLEN];
	struct hist total;		/* requests whose last attempt went here */
};

struct port_backend {
	char listener[GS_ADDR_STRLEN];
	char backend[GS_ADDR_STRLEN];
	uint64_t requests;
};

struct incident {
	struct timeline tl;
	struct failed_group groups[REPORT_GROUPS_MAX];
	size_t ngroups;
	uint64_t groups_overflowed;	/* failed requests of verdicts beyond REPORT_GROUPS_MAX */
	uint64_t failed;		/* every failed request */
	struct backend_total *backends[REPORT_BACKENDS];
	size_t nbackends;
	uint64_t backends_overflowed;	/* requests whose backend had no histogram left */
	struct port_backend pairs[REPORT_PAIRS_MAX];
	size_t npairs;
	uint64_t pairs_overflowed;
	uint64_t oom;			/* samples lost to a failed allocation */
};

/* NULL when out of memory. */
struct incident *incident_new(void);
void incident_free(struct incident *m);
/* The run's first moment (epoch s): bucket 0 is its whole second. */
void incident_set_origin(struct incident *m, double epoch_s);
/* One finished request with its verdict and route name; ts is when its
 * exchange ended (epoch s), as on its request line. */
void incident_add_request(struct incident *m, const struct request *r,
			const struct verdict *v, const char *route, double ts);
/* The total-time histogram of a backend, or NULL. */
const struct hist *incident_backend_total(const struct incident *m, const char *label);

#endif
