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
/* One report; r->total for the whole-run report at exit. */
void output_summary(struct output *o, const struct report *r);
/* One request line; route_name is the name its route has in the totals. */
void output_request(struct output *o, const struct request *r, const struct verdict *v,
		    const char *route_name, double ts);
void output_connection(struct output *o, const struct gs_conn_event *e,
		       const struct conn_outcome *c, double ts);

#endif
