/* SPDX-License-Identifier: MIT */
/* Metrics server (--metrics): serves GET /metrics and /healthz over HTTP
 * with libmicrohttpd on its own thread.  The event loop renders the text
 * once per report (metrics_publish) and swaps it in; request handlers only
 * hand out the latest text, so no client, however slow or hostile, can
 * block the event loop or make it allocate. */
#ifndef GS_METRICS_H
#define GS_METRICS_H

#include <stdbool.h>

struct report;

/* Connections served at once; past it the least useful one is dropped. */
#define METRICS_MAX_CONNS	32

struct metrics;

/* Listen on addr and start the server thread.  /healthz answers 503 once no
 * report was published for stale_after_s.  NULL with a message on failure. */
struct metrics *metrics_start(const char *addr, double stale_after_s);
/* Render a whole-run report and serve it from now on.  Called by the
 * event loop after each report.  NULL m: nothing. */
void metrics_publish(struct metrics *m, const struct report *r);
/* Stop the thread, close every connection, free.  NULL m: nothing. */
void metrics_stop(struct metrics *m);
/* The address listened on, with the real port: "127.0.0.1:9464". */
const char *metrics_address(const struct metrics *m);

#endif
