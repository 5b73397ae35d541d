/* SPDX-License-Identifier: MIT */
/* Output stage: the periodic report as a table or JSON lines, and the
 * per-event lines of --events. */
#ifndef GS_OUTPUT_H
#define GS_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "aggregate.h"
#include "cli.h"
#include "conn.h"
#include "conntable.h"
#include "h2.h"
#include "join.h"
#include "json.h"
#include "routes.h"
#include "timeouts.h"

struct verdict;
struct tui;

/* Pipeline health, shown in every report: nothing is lost silently. */
struct run_stats {
	uint64_t lost_events;		/* ring buffer full in the kernel */
	uint64_t evicted_conns;		/* connection table LRU evictions */
	uint64_t insert_failures;	/* connection table updates that failed */
	uint64_t pid_failures;		/* processes to trace that did not fit traced_pids */
	uint64_t malformed_events;	/* rejected by the decoder */
	uint64_t backend_overflow;	/* connections folded into backend "other" */
	uint64_t route_overflow;	/* requests folded into route "other" */
	uint64_t http_conns_evicted;	/* HTTP connection table full */
	uint64_t http_unparsable;	/* connections whose HTTP could not be parsed */
	uint64_t http_pipeline_overflow;/* pipelined exchanges beyond the limit */
	uint64_t requests;		/* downstream requests finished */
	uint64_t requests_joined;	/* ... joined to at least one upstream attempt */
	uint64_t attempts_unjoined;	/* upstream attempts with no request to join */
	uint64_t requests_evicted;	/* in-flight requests forced out of a full pool */
	uint64_t attempts_evicted;	/* unclaimed attempts forced out of a full pool */
	uint64_t joins[JOIN__MAX];	/* requests by how they were joined */
	uint64_t facts_timeouts;	/* failed requests attributed without upstream TCP facts */
	struct h2_stats h2;		/* HTTP/2 connections and streams (h2.h) */
	uint64_t tls_conns;		/* connections that spoke TLS (first bytes a handshake) */
	uint64_t tls_decrypted;		/* ... whose plaintext was read through libssl */
	uint64_t tls_sessions;		/* TLS sessions tied to their socket (kernel) */
	uint64_t tls_unmapped;		/* TLS sessions whose socket was not learned (kernel) */
	uint64_t tls_dropped;		/* SSL reads/writes whose plaintext had no connection */
	uint64_t tls_buffered;		/* ... served from OpenSSL's buffer, tied by an earlier call */
};

struct output {
	enum output_format format;
	FILE *out;
	struct json json;
	struct tui *tui;		/* -o tui, while the screen is up */
};

void output_init(struct output *o, enum output_format format, FILE *out);
/* One report; total=true for the whole-run report at exit. */
/* Everything one report shows. */
struct report {
	const struct aggregator *agg;
	const struct routes *routes;
	const struct timeouts *timeouts;
	const struct run_stats *stats;
	double ts;			/* seconds since the epoch */
	double interval_s;		/* the span it covers */
	bool total;			/* whole run (at exit) rather than one interval */
};

void output_summary(struct output *o, const struct report *r);
/* One request line; route_name is the name its route has in the totals. */
void output_request(struct output *o, const struct request *r, const struct verdict *v,
		    const char *route_name, double ts);
void output_connection(struct output *o, const struct gs_conn_event *e,
		       const struct conn_outcome *c, double ts);

#endif
