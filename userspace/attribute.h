/* SPDX-License-Identifier: MIT */
/* Attribution engine: for a finished downstream request that failed (502,
 * 503, 504, or the client gave up), one cause, one reason, the evidence
 * that decided it, and a two-letter termination code in the style of
 * HAProxy logs.  Pure function of the request and its attempts' TCP facts. */
#ifndef GS_ATTRIBUTE_H
#define GS_ATTRIBUTE_H

#include <stdbool.h>
#include "join.h"
#include "routes.h"

#define EVIDENCE_LEN 320
/* A reused pooled connection the backend closes this soon after the request
 * was written was already being closed: its keep-alive timeout is shorter
 * than the gateway's pool idle time. */
#define STALE_KEEPALIVE_NS (20 * 1000 * 1000ull)

struct verdict {
	enum cause cause;		/* CAUSE_NONE for a request that did not fail */
	const char *reason;		/* docs/reference.md "Verdicts", NULL if none */
	char term[3];			/* e.g. "sH", "--" */
	char evidence[EVIDENCE_LEN];
};

/* 429, 503 with Retry-After, or a 400 that names throttling. */
bool attempt_throttled(const struct attempt *a);
void attribute(const struct request *r, struct verdict *v);

#endif
