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
/* Lines under the routes table for routes with throttling, retries or
 * masked failures; with the total, the throttled clients' verdicts. */
void table_retries(FILE *f, const struct routes *rt, const struct retries *t, bool total);
/* The client's verdict as reported: "unknown" when too few retries. */
const char *retry_verdict_name(const struct retry_client *c, char *evidence, size_t len);

#endif
