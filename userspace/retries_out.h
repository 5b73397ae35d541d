/* SPDX-License-Identifier: MIT */
/* Printers of the throttling, client-retry and masked-failure figures:
 * their part of a route's JSON, the total's throttled_clients, and the
 * table's lines. */
#ifndef GS_RETRIES_OUT_H
#define GS_RETRIES_OUT_H

#include <stdbool.h>
#include <stdio.h>
#include "json.h"
#include "retries.h"
#include "routes.h"

/* "masked_failures" and "retries" keys of a route object. */
void json_route_retries(struct json *j, const struct route_stats *s);
/* "throttled_clients": the top RETRY_TOP_CLIENTS (client, route) pairs. */
void json_throttled_clients(struct json *j, const struct retries *t);
/* The lines the table and the TUI show: per route with masked failures
 * (flagged), throttled answers or client retries; with the total, the
 * throttled clients' verdicts.  Fills at most max lines (not sanitised
 * for a terminal); returns the count. */
#define RETRY_LINE_LEN 512
struct retry_line {
	char text[RETRY_LINE_LEN];
	bool flag;		/* a masked failure or a client that does not back off */
};
size_t retries_lines(const struct routes *rt, const struct retries *t, bool total,
		     struct retry_line *out, size_t max);
/* Those lines under the routes table. */
void table_retries(FILE *f, const struct routes *rt, const struct retries *t, bool total);
/* The client's verdict as reported: "unknown" when too few retries. */
const char *retry_verdict_name(const struct retry_client *c, char *evidence, size_t len);

#endif
