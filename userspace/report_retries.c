// SPDX-License-Identifier: MIT
/* The incident report's section on retries and masked failures. */
#include <stdlib.h>
#include "report_html.h"
#include "report_retries.h"

/* Upstream answers a gateway turned into a client-facing success (a 429 or
 * 5xx answered 2xx/3xx), and the reverse (a good answer the client got as
 * a 5xx), from the status translations of each route. */
static bool xlate_masks(const struct status_xlate *x)
{
	return (x->upstream == 429 || x->upstream >= 500) && x->downstream >= 200 &&
	       x->downstream < 400;
}

static bool xlate_cuts(const struct status_xlate *x)
{
	return x->upstream && x->upstream < 400 && x->downstream >= 500;
}

static void xlate_rows(FILE *f, const char *route, const struct route_stats *s, size_t *n)
{
	for (size_t i = 0; i < ROUTE_XLATE_MAX; i++) {
		const struct status_xlate *x = &s->xlate[i];

		if (!x->count || !(xlate_masks(x) || xlate_cuts(x)))
			continue;
		fprintf(f, "<tr class=\"%s\">", xlate_masks(x) ? "masked" : "cutoff");
		html_td_text(f, route);
		html_td_u64(f, x->upstream);
		html_td_u64(f, x->downstream);
		html_td_u64(f, x->count);
		html_td_text(f, xlate_masks(x) ? "masked failure" : "gateway cut-off");
		fputs("</tr>\n", f);
		(*n)++;
	}
}

void html_retry_findings(FILE *f, const struct routes *rt)
{
	const struct route *top[ROUTES_MAX];
	struct route_stats *rest = calloc(1, sizeof(*rest));
	bool have_rest = false;
	size_t n = 0, rows = 0;

	fputs("<h2 id=\"retries\">Retries and masked failures</h2>\n<table class=\"sortable\" "
	      "id=\"translations-table\"><thead><tr><th>route</th><th>upstream status</th>"
	      "<th>client status</th><th>requests</th><th>finding</th></tr></thead>\n<tbody>\n", f);
	if (rest)
		n = routes_top(rt, true, top, ROUTES_MAX, rest, &have_rest);
	for (size_t i = 0; i < n; i++)
		xlate_rows(f, top[i]->name, &top[i]->total, &rows);
	if (rest && have_rest)
		xlate_rows(f, "other", rest, &rows);
	fputs("</tbody></table>\n", f);
	if (!rows)
		fputs("<p>No upstream failure was answered as a success, and no upstream success as "
		      "a failure.</p>\n", f);
	fputs("<p class=\"note\">The gateway's own retries per route are the routes table's "
	      "\"retry amplification\" (upstream attempts per request).</p>\n", f);
	free(rest);
}
