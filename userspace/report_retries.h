/* SPDX-License-Identifier: MIT */
/* The incident report's section on throttling, client retries and masked
 * failures (its own module: the figures it draws live in their own stage,
 * retries.h). */
#ifndef GS_REPORT_RETRIES_H
#define GS_REPORT_RETRIES_H

#include <stdio.h>
#include "retries.h"
#include "routes.h"

/* Per route: masked failures and gateway cut-offs, throttling and client
 * retries; the top throttled clients with their verdicts (t may be NULL). */
void html_retry_findings(FILE *f, const struct routes *rt, const struct retries *t);

#endif
