/* SPDX-License-Identifier: MIT */
/* Output stage: the incident report (--report FILE), one self-contained
 * HTML file (inline CSS, inline SVG drawn here, a few lines of inline JS;
 * nothing fetched from anywhere: a Content-Security-Policy forbids it).
 * Rendered once, at the end of the run, from the report model and the
 * whole-run totals.  Every traced string is escaped. */
#ifndef GS_INCIDENT_HTML_H
#define GS_INCIDENT_HTML_H

#include <stdio.h>
#include "aggregate.h"
#include "output.h"
#include "incident.h"
#include "retries.h"
#include "routes.h"
#include "timeouts.h"

struct report_view {
	const struct incident *m;
	const struct routes *routes;
	const struct aggregator *agg;
	const struct timeouts *timeouts;
	const struct run_stats *stats;
	const struct retries *retries;	/* client retries, or NULL */
	double start;			/* epoch s the run began */
	double span_s;			/* seconds it covered */
	const char *source;		/* the --replay file, or NULL for a live run */
};

/* Open FILE for the report as --record opens its file: a new file, mode
 * 0600, never through a symlink, an existing regular file refused (a
 * device or FIFO is written to).  NULL after a message. */
FILE *report_html_open(const char *path);
/* Write the report and close f: 0, or -1 after a message naming path
 * (a write that failed: the run fails). */
int report_html_finish(FILE *f, const char *path, const struct report_view *v);
/* A run that ends without a total writes no report: close f, and remove
 * the file when it is the one report_html_open created.  NULL f: nothing. */
void report_html_abandon(FILE *f, const char *path);
/* Helpers of every report section: a traced string escaped (markup
 * characters as entities, control and non-ASCII bytes as '?'), a numeric
 * table cell (data-v sorts it), a text cell. */
void html_escape(FILE *f, const char *s);
void html_td_u64(FILE *f, uint64_t v);
void html_td_text(FILE *f, const char *s);
/* The report's HTML to f; -1 on a write error. */
int report_html_write(FILE *f, const struct report_view *v);

#endif
