/* SPDX-License-Identifier: MIT */
/* The userspace pipeline after the decoder: every event goes through
 * classification and aggregation here; reports are cut per interval, in
 * wall time when live and in event time when replaying. */
#ifndef GS_PIPELINE_H
#define GS_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include "aggregate.h"
#include "cli.h"
#include "decoder.h"
#include "http_track.h"
#include "join.h"
#include "output.h"
#include "incident.h"
#include "report.h"
#include "retries.h"
#include "routes.h"

/* Live, an event reaches userspace up to one drain period (100 ms) after
 * it happened: requests are decided as of that long ago. */
#define JOIN_DRAIN_SLACK_NS (200 * 1000000ull)

struct pipeline {
	const struct options *opts;
	struct decoder decoder;
	struct aggregator agg;
	struct joiner join;
	struct http_tracker http;
	struct routes routes;
	struct retries retries;
	struct timeouts timeouts;
	struct output out;
	struct run_stats stats;
	struct incident *report;	/* --report, or NULL */
	bool replaying;
	bool told_backend_side;		/* said once why a traced backend's requests are left out */
	uint64_t window_start_ns;	/* event time of the current interval (replay) */
	uint64_t first_ns, last_ns;	/* event time span seen (replay) */
	uint64_t replay_empty;		/* empty intervals printed (replay) */
	uint64_t replay_jumps;		/* time jumps collapsed (replay) */
	uint64_t replay_skipped;	/* empty intervals they skipped */
};

int pipeline_init(struct pipeline *p, const struct options *o, FILE *out);
void pipeline_free(struct pipeline *p);
/* Print the interval report and start a new interval. */
void pipeline_report(struct pipeline *p, double ts, double interval_s);
/* Live: decide the requests that can be decided as of now; returns how
 * many answered requests are still undecided (their join wait, or their
 * connections' TCP facts). */
uint32_t pipeline_settle(struct pipeline *p);
/* Print the whole-run report. */
void pipeline_total(struct pipeline *p, double ts, double run_s);
/* The report of the run so far, as the last report left it (for the
 * metrics server, which renders whole-run counters only). */
struct report pipeline_run_report(const struct pipeline *p);
/* Replay a recording (--replay) through the pipeline: every event, in
 * event time, then the whole-run report.  The one way a recording is
 * driven through the pipeline, by main.c and by the tests alike.
 * decoder_replay's result: < 0 when the file is unreadable or corrupt
 * (no total), DECODER_REPLAY_TORN when it ends inside its last event
 * (the total is printed). */
int pipeline_replay(struct pipeline *p, const char *path);
/* The same from a stream (decoder_replay_stream). */
int pipeline_replay_stream(struct pipeline *p, const char *name, FILE *f, off_t size);
/* Read "ip:port name" lines into the aggregator; -1 with a message. */
int pipeline_load_backend_names(struct pipeline *p, const char *path);

#endif
