/* SPDX-License-Identifier: MIT */
/* Output stage: the periodic report as a table, JSON lines or the live
 * screen (-o tui, tui.c), and the per-event lines of --events.  The rest of
 * the program talks to this interface only, whatever the format. */
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
#include "report.h"
#include "routes.h"
#include "timeouts.h"

struct verdict;
struct tui;

struct output {
	enum output_format format;
	FILE *out;
	struct json json;
	struct tui *tui;		/* -o tui, while the screen is up */
};

void output_init(struct output *o, enum output_format format, FILE *out);
/* Start a format that takes over the terminal (-o tui); nothing for the
 * others.  -1 with a message when it cannot. */
int output_start(struct output *o, double interval_s, const char *capture_path);
/* Give the terminal back; safe to call again, and when nothing started. */
void output_stop(struct output *o);
/* Read pending keys without blocking (call it on every event-loop
 * wake-up); true when the user asked to quit. */
bool output_poll_keys(struct output *o);
/* One report; r->total for the whole-run report at exit. */
void output_summary(struct output *o, const struct report *r);
/* Every finished request; route_name is the name its route has in the
 * totals.  A line is printed when --events selected it; the live screen
 * sees every request (its failing-request view, its route filter). */
void output_request(struct output *o, const struct request *r, const struct verdict *v,
		    const char *route_name, double ts, bool selected);
void output_connection(struct output *o, const struct gs_conn_event *e,
		       const struct conn_outcome *c, double ts);

#endif
