// SPDX-License-Identifier: MIT
/* The incident report's section on throttling, client retries and masked
 * failures: the figures of the retries stage (retries.h) per route and per
 * client, and the gateway's cut-offs from the status translations. */
#include <stdlib.h>
#include <string.h>
#include "report_html.h"
#include "report_retries.h"
#include "retries_out.h"

static void td_opt(FILE *f, double v, int decimals)
{
	if (v < 0)
		fputs("<td data-v=\"-1\">-</td>", f);
	else
		fprintf(f, "<td data-v=\"%.*f\">%.*f</td>", decimals, v, decimals, v);
}

static void pair_row(FILE *f, const char *cls, const char *route, const struct status_xlate *x,
		     const char *finding)
{
	fprintf(f, "<tr class=\"%s\">", cls);
	html_td_text(f, route);
	html_td_u64(f, x->upstream);
	html_td_u64(f, x->downstream);
	html_td_u64(f, x->count);
	html_td_text(f, finding);
	fputs("</tr>\n", f);
}

/* Masked failures (an upstream 429 or 5xx the client got as a 2xx, as the
 * retries stage counts them) and gateway cut-offs (an upstream answer
 * below 400 the client got as a 5xx, from the status translations). */
static void masked_rows(FILE *f, const char *route, const struct route_stats *s, size_t *n)
{
	for (size_t i = 0; i < ROUTE_MASKED_MAX; i++) {
		if (!s->masked[i].count)
			continue;
		pair_row(f, "masked", route, &s->masked[i], "masked failure");
		(*n)++;
	}
	for (size_t i = 0; i < ROUTE_XLATE_MAX; i++) {
		const struct status_xlate *x = &s->xlate[i];

		if (!x->count || !x->upstream || x->upstream >= 400 || x->downstream < 500)
			continue;
		pair_row(f, "cutoff", route, x, "gateway cut-off");
		(*n)++;
	}
}

static bool route_retried(const struct route_stats *s)
{
	const struct route_retries *r = &s->retries;

	return r->throttled_gateway || r->throttled_backend || r->retries;
}

static void retry_row(FILE *f, const char *route, const struct route_stats *s)
{
	const struct route_retries *r = &s->retries;
	double first = s->requests > r->retries ? s->requests - r->retries : 0;

	fputs("<tr class=\"retry-route\">", f);
	html_td_text(f, route);
	html_td_u64(f, r->throttled_gateway);
	html_td_u64(f, r->throttled_backend);
	td_opt(f, route_rate_before(r), 2);
	td_opt(f, route_rate_after(r), 2);
	td_opt(f, route_apparent_limit(r), 2);
	html_td_u64(f, r->retries);
	html_td_u64(f, r->retries_after_throttle);
	td_opt(f, first ? s->requests / first : -1, 3);
	td_opt(f, s->requests ? (double)s->attempts / s->requests : -1, 3);
	td_opt(f, r->delays.n ? hist_quantile(&r->delay_hist, 0.5) / 1e6 : -1, 3);
	td_opt(f, r->delays.n ? hist_quantile(&r->delay_hist, 0.9) / 1e6 : -1, 3);
	td_opt(f, backoff_ratio(&r->delays), 3);
	td_opt(f, delay_cv(&r->delays), 3);
	html_td_u64(f, r->ra_retries);
	html_td_u64(f, r->ra_ignored);
	html_td_u64(f, r->lockstep);
	fputs("</tr>\n", f);
}

static void client_row(FILE *f, const struct retry_client *c)
{
	char ev[256];
	const char *v = retry_verdict_name(c, ev, sizeof(ev));

	fputs("<tr class=\"retry-client\" data-verdict=\"", f);
	html_escape(f, v);
	fputs("\">", f);
	html_td_text(f, c->client);
	html_td_text(f, c->route);
	html_td_u64(f, c->requests);
	html_td_u64(f, c->throttled);
	html_td_u64(f, c->failed);
	html_td_u64(f, c->retries);
	td_opt(f, delay_mean_ms(&c->delays), 3);
	td_opt(f, backoff_ratio(&c->delays), 3);
	td_opt(f, delay_cv(&c->delays), 3);
	fputs(strcmp(v, "backoff ok") && strcmp(v, "unknown") ? "<td class=\"warn\"><b>" : "<td><b>", f);
	html_escape(f, v);
	fputs("</b></td>", f);
	html_td_text(f, ev);
	fputs("</tr>\n", f);
}

static void masked_table(FILE *f, const struct route *const *top, size_t n,
			 const struct route_stats *rest)
{
	size_t rows = 0;

	fputs("<h3>Masked failures and gateway cut-offs</h3>\n<table class=\"sortable\" "
	      "id=\"masked-table\"><thead><tr><th>route</th><th>upstream status</th>"
	      "<th>client status</th><th>requests</th><th>finding</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < n; i++)
		masked_rows(f, top[i]->name, &top[i]->total, &rows);
	if (rest)
		masked_rows(f, "other", rest, &rows);
	fputs("</tbody></table>\n", f);
	if (!rows)
		fputs("<p>No upstream failure was answered as a success, and no upstream success as "
		      "a failure.</p>\n", f);
}

static void retry_table(FILE *f, const struct route *const *top, size_t n,
			const struct route_stats *rest)
{
	fputs("<h3>Throttling and client retries per route</h3>\n<table class=\"sortable\" "
	      "id=\"retries-table\"><thead><tr><th>route</th><th>throttled by gateway</th>"
	      "<th>throttled by backend</th><th>rate before req/s</th><th>rate after req/s</th>"
	      "<th>apparent limit req/s</th><th>client retries</th><th>after throttling</th>"
	      "<th>client amplification</th><th>gateway amplification</th><th>delay p50 ms</th>"
	      "<th>delay p90 ms</th><th>backoff ratio</th><th>delay CV</th>"
	      "<th>after Retry-After</th><th>Retry-After ignored</th><th>in lockstep</th></tr>"
	      "</thead>\n<tbody>\n", f);
	for (size_t i = 0; i < n; i++)
		if (route_retried(&top[i]->total))
			retry_row(f, top[i]->name, &top[i]->total);
	if (rest && route_retried(rest))
		retry_row(f, "other", rest);
	fputs("</tbody></table>\n", f);
}

static void client_table(FILE *f, const struct retries *t)
{
	const struct retry_client *top[RETRY_TOP_CLIENTS];
	size_t n = t ? retries_top(t, top, RETRY_TOP_CLIENTS) : 0;

	fprintf(f, "<h3>Throttled clients (top %d)</h3>\n<table class=\"sortable\" "
		"id=\"clients-table\"><thead><tr><th>client</th><th>route</th><th>requests</th>"
		"<th>throttled</th><th>failed</th><th>retries</th><th>delay mean ms</th>"
		"<th>backoff ratio</th><th>delay CV</th><th>verdict</th><th>evidence</th></tr>"
		"</thead>\n<tbody>\n", RETRY_TOP_CLIENTS);
	for (size_t i = 0; i < n; i++)
		client_row(f, top[i]);
	fputs("</tbody></table>\n", f);
	if (t && t->evicted)
		fprintf(f, "<p class=\"note\">The retry table was full: %llu (client, route) pairs "
			"were forced out.</p>\n", (unsigned long long)t->evicted);
}

void html_retry_findings(FILE *f, const struct routes *rt, const struct retries *t)
{
	const struct route *top[ROUTES_MAX];
	struct route_stats *rest = calloc(1, sizeof(*rest));
	bool have_rest = false;
	size_t n = 0;

	fputs("<h2 id=\"retries\">Retries, throttling and masked failures</h2>\n", f);
	if (rest)
		n = routes_top(rt, true, top, ROUTES_MAX, rest, &have_rest);
	masked_table(f, top, n, have_rest ? rest : NULL);
	retry_table(f, top, n, have_rest ? rest : NULL);
	client_table(f, t);
	free(rest);
}
