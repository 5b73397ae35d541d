/* SPDX-License-Identifier: MIT */
/* The incident report's section on retries and masked failures (its own
 * module: the retry figures it draws live in their own stage). */
#ifndef GS_REPORT_RETRIES_H
#define GS_REPORT_RETRIES_H

#include <stdio.h>
#include "routes.h"

/* Per route, upstream failures answered as successes and the reverse. */
void html_retry_findings(FILE *f, const struct routes *rt);

#endif
