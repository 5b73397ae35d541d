/* SPDX-License-Identifier: MIT */
/* The report model: what one report (an interval, or the whole run) shows,
 * whatever renders it (table, JSON lines, TUI, Prometheus).  The pipeline
 * builds it (pipeline.c); the outputs only read it. */
#ifndef GS_REPORT_H
#define GS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "aggregate.h"
#include "h2.h"
#include "join.h"
#include "retries.h"
#include "routes.h"
#include "timeouts.h"

/* What gatescope itself costs, since it began tracing, sampled at each
 * report of a live run (measured; never on replay): its own CPU time, and
 * the time its BPF programs take in the processes and softirqs they run
 * in, which the kernel charges to those, not to gatescope.  The kernel
 * times its programs only while its run-time statistics are on
 * (bpf_timed: --bpf-stats, or kernel.bpf_stats_enabled=1). */
struct self_cost {
	bool measured;
	bool bpf_timed;
	uint64_t cpu_ns;		/* gatescope's CPU time, user + system */
	uint64_t bpf_ns;		/* time in its BPF programs */
	uint64_t bpf_runs;		/* their runs */
	uint64_t requests;		/* downstream requests finished meanwhile */
	uint64_t cpu_ns_interval;	/* the same over the last interval */
	uint64_t bpf_ns_interval;
	uint64_t requests_interval;
};

/* ns of CPU time over span_s as a share of one CPU, in %. */
static inline double cpu_share_pct(uint64_t ns, double span_s)
{
	return span_s > 0 ? ns / 1e7 / span_s : 0;
}

/* Pipeline health, shown in every report: nothing is lost silently. */
struct run_stats {
	uint64_t lost_events;		/* ring buffer full in the kernel */
	uint64_t evicted_conns;		/* connection table LRU evictions */
	uint64_t closes_unseen;		/* connections whose end never reached the programs */
	uint64_t insert_failures;	/* connection table updates that failed */
	uint64_t conns_adopted;		/* connections open before the start, followed from it */
	uint64_t pid_failures;		/* processes to trace that did not fit traced_pids */
	uint64_t missed_runs;		/* program runs the kernel skipped (nested on a CPU) */
	uint64_t forks_followed;	/* children of traced processes traced from their fork */
	uint64_t exits_followed;	/* traced processes that left the table at exit */
	uint64_t malformed_events;	/* rejected by the decoder */
	uint64_t backend_overflow;	/* connections folded into backend "other" */
	uint64_t route_overflow;	/* requests folded into route "other" */
	uint64_t retry_clients_evicted;	/* (client, route) pairs forced out of the retry table */
	uint64_t http_conns_evicted;	/* HTTP connection table full */
	uint64_t http_unparsable;	/* connections whose HTTP could not be parsed */
	uint64_t http_pipeline_overflow;/* pipelined exchanges beyond the limit */
	uint64_t captures_cut;		/* HTTP buffers captured in part (--capture-bytes), kernel */
	uint64_t heads_truncated;	/* heads not wholly captured: fields may be missing */
	uint64_t heads_dropped;		/* heads cut before their start line was usable */
	uint64_t sync_lost;		/* streams that lost a message boundary (bytes not captured) */
	uint64_t resyncs;		/* ... and found one again at a head */
	uint64_t requests;		/* downstream requests finished */
	uint64_t backend_side_requests;	/* a same-host backend's side of attempts: not requests */
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
	struct self_cost self;		/* what gatescope costs (live runs) */
};

/* Everything one report shows. */
struct report {
	const struct aggregator *agg;
	const struct routes *routes;
	const struct timeouts *timeouts;
	const struct retries *retries;	/* per-client retry figures, or NULL */
	const struct run_stats *stats;
	double ts;			/* seconds since the epoch */
	double interval_s;		/* the span it covers */
	bool total;			/* whole run (at exit) rather than one interval */
};

#endif
