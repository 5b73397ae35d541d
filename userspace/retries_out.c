// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "retries_out.h"
#include "util.h"

const char *retry_verdict_name(const struct retry_client *c, char *evidence, size_t len)
{
	const char *v = retry_verdict(c, evidence, len);

	return v ? v : "unknown";
}

static void json_opt(struct json *j, const char *key, double v, int decimals)
{
	json_key(j, key);
	if (v >= 0)
		json_double(j, v, decimals);
	else
		json_null(j);
}

static void json_masked(struct json *j, const struct route_stats *s)
{
	json_key(j, "masked_failures");
	json_arr_open(j);
	for (size_t i = 0; i < ROUTE_MASKED_MAX; i++) {
		if (!s->masked[i].count)
			continue;
		json_obj_open(j);
		json_ku64(j, "upstream_status", s->masked[i].upstream);
		json_ku64(j, "downstream_status", s->masked[i].downstream);
		json_ku64(j, "count", s->masked[i].count);
		json_obj_close(j);
	}
	json_arr_close(j);
}

/* Delays in ms: the route's histogram for the quantiles, the moments for
 * the mean, backoff and jitter. */
static void json_delays(struct json *j, const struct route_retries *r)
{
	const struct delay_moments *d = &r->delays;

	json_key(j, "delay_ms");
	if (!d->n) {
		json_null(j);
		return;
	}
	json_obj_open(j);
	json_kdouble(j, "mean", delay_mean_ms(d), 3);
	json_kdouble(j, "p50", hist_quantile(&r->delay_hist, 0.50) / 1e6, 3);
	json_kdouble(j, "p90", hist_quantile(&r->delay_hist, 0.90) / 1e6, 3);
	json_kdouble(j, "max", d->max_ms, 3);
	json_obj_close(j);
}

static double first_tries(const struct route_stats *s)
{
	return s->requests > s->retries.retries ? s->requests - s->retries.retries : 0;
}

void json_route_retries(struct json *j, const struct route_stats *s)
{
	const struct route_retries *r = &s->retries;

	json_masked(j, s);
	json_key(j, "retries");
	json_obj_open(j);
	json_key(j, "throttled");
	json_obj_open(j);
	json_ku64(j, "gateway", r->throttled_gateway);
	json_ku64(j, "backend", r->throttled_backend);
	json_obj_close(j);
	json_opt(j, "rate_before_rps", route_rate_before(r), 2);
	json_opt(j, "rate_after_rps", route_rate_after(r), 2);
	json_opt(j, "apparent_limit_rps", route_apparent_limit(r), 2);
	json_ku64(j, "client_retries", r->retries);
	json_ku64(j, "after_throttled", r->retries_after_throttle);
	json_opt(j, "client_amplification", first_tries(s) ? s->requests / first_tries(s) : -1, 3);
	json_opt(j, "gateway_amplification", s->requests ? (double)s->attempts / s->requests : -1, 3);
	json_delays(j, r);
	json_opt(j, "backoff_ratio", backoff_ratio(&r->delays), 3);
	json_opt(j, "delay_cv", delay_cv(&r->delays), 3);
	json_key(j, "retry_after");
	json_obj_open(j);
	json_ku64(j, "retries", r->ra_retries);
	json_ku64(j, "ignored", r->ra_ignored);
	json_obj_close(j);
	json_ku64(j, "lockstep_retries", r->lockstep);
	json_obj_close(j);
}

static void json_client(struct json *j, const struct retry_client *c)
{
	const struct delay_moments *d = &c->delays;
	char evidence[256];
	const char *verdict = retry_verdict_name(c, evidence, sizeof(evidence));

	json_obj_open(j);
	json_kstr(j, "client", c->client);
	json_kstr(j, "route", c->route);
	json_ku64(j, "requests", c->requests);
	json_ku64(j, "throttled", c->throttled);
	json_ku64(j, "failed", c->failed);
	json_ku64(j, "retries", c->retries);
	json_key(j, "delay_ms");
	if (d->n) {
		json_obj_open(j);
		json_kdouble(j, "mean", delay_mean_ms(d), 3);
		json_kdouble(j, "min", d->min_ms, 3);
		json_kdouble(j, "max", d->max_ms, 3);
		json_obj_close(j);
	} else {
		json_null(j);
	}
	json_opt(j, "backoff_ratio", backoff_ratio(d), 3);
	json_opt(j, "ratio_spread", client_ratio_spread(c), 3);
	json_opt(j, "delay_cv", delay_cv(d), 3);
	json_key(j, "retry_after");
	json_obj_open(j);
	json_key(j, "asked_s");
	c->ra_asked_s >= 0 ? json_u64(j, c->ra_asked_s) : json_null(j);
	json_ku64(j, "retries", c->ra_retries);
	json_ku64(j, "ignored", c->ra_ignored);
	json_obj_close(j);
	json_ku64(j, "lockstep_retries", c->lockstep);
	json_kstr(j, "verdict", verdict);
	json_kstr(j, "evidence", evidence);
	json_obj_close(j);
}

void json_throttled_clients(struct json *j, const struct retries *t)
{
	const struct retry_client *top[RETRY_TOP_CLIENTS];
	size_t n = t ? retries_top(t, top, RETRY_TOP_CLIENTS) : 0;

	json_key(j, "throttled_clients");
	json_arr_open(j);
	for (size_t i = 0; i < n; i++)
		json_client(j, top[i]);
	json_arr_close(j);
	json_ku64(j, "retry_clients_evicted", t ? t->evicted : 0);
}

struct line_sink {
	struct retry_line *out;
	size_t n, max;
};

static void add_line(struct line_sink *k, bool flag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_line(struct line_sink *k, bool flag, const char *fmt, ...)
{
	va_list ap;

	if (k->n == k->max)
		return;
	va_start(ap, fmt);
	vsnprintf(k->out[k->n].text, RETRY_LINE_LEN, fmt, ap);
	va_end(ap);
	k->out[k->n++].flag = flag;
}

static void route_lines(struct line_sink *k, const char *name, const struct route_stats *s)
{
	const struct route_retries *r = &s->retries;
	double limit = route_apparent_limit(r);
	char lim[48] = "", delay[48] = "", step[48] = "";

	for (size_t i = 0; i < ROUTE_MASKED_MAX; i++)
		if (s->masked[i].count)
			add_line(k, true, "MASKED FAILURE %s: upstream %u answered as %u, %llu times",
				 name, s->masked[i].upstream, s->masked[i].downstream,
				 (unsigned long long)s->masked[i].count);
	if (!r->throttled_gateway && !r->throttled_backend && !r->retries)
		return;
	if (limit >= 0)
		snprintf(lim, sizeof(lim), ", apparent limit %.1f req/s", limit);
	if (r->delays.n)
		snprintf(delay, sizeof(delay), ", delay p50 %.1f ms",
			 hist_quantile(&r->delay_hist, 0.5) / 1e6);
	if (r->lockstep)
		snprintf(step, sizeof(step), ", %llu in lockstep", (unsigned long long)r->lockstep);
	add_line(k, false, "throttling %s: by gateway %llu, by backend %llu%s; client retries %llu (x%.2f), gateway upstream x%.2f%s%s",
		 name, (unsigned long long)r->throttled_gateway,
		 (unsigned long long)r->throttled_backend, lim, (unsigned long long)r->retries,
		 first_tries(s) ? s->requests / first_tries(s) : 0.0,
		 s->requests ? (double)s->attempts / s->requests : 0.0, delay, step);
}

static void client_lines(struct line_sink *k, const struct retries *t)
{
	const struct retry_client *top[RETRY_TOP_CLIENTS];
	size_t n = retries_top(t, top, RETRY_TOP_CLIENTS);
	char ev[256];

	for (size_t i = 0; i < n; i++) {
		const char *v = retry_verdict_name(top[i], ev, sizeof(ev));

		add_line(k, strcmp(v, "backoff ok") && strcmp(v, "unknown"),
			 "client %s %s: %llu requests, %llu throttled, %llu retries: %s (%s)",
			 top[i]->client, top[i]->route, (unsigned long long)top[i]->requests,
			 (unsigned long long)top[i]->throttled, (unsigned long long)top[i]->retries,
			 v, ev);
	}
	if (t->evicted)
		add_line(k, true, "retry table full: %llu (client, route) pairs evicted",
			 (unsigned long long)t->evicted);
}

size_t retries_lines(const struct routes *rt, const struct retries *t, bool total,
		     struct retry_line *out, size_t max)
{
	struct line_sink k = { .out = out, .max = max };

	for (size_t i = 0; i < rt->n; i++)
		route_lines(&k, rt->r[i]->name, total ? &rt->r[i]->total : &rt->r[i]->win);
	route_lines(&k, "other", total ? &rt->other->total : &rt->other->win);
	if (total && t)
		client_lines(&k, t);
	return k.n;
}

/* Enough for every route's masked pairs and throttling line, the top
 * clients and the eviction line; the rest is cut (it is all in JSON). */
#define TABLE_RETRY_LINES 128

void table_retries(FILE *f, const struct routes *rt, const struct retries *t, bool total)
{
	struct retry_line *l = malloc(TABLE_RETRY_LINES * sizeof(*l));
	size_t n;

	if (!l)
		return;
	n = retries_lines(rt, t, total, l, TABLE_RETRY_LINES);
	for (size_t i = 0; i < n; i++) {
		term_sanitize(l[i].text);	/* routes and addresses come from the wire */
		fprintf(f, "%s\n", l[i].text);
	}
	free(l);
}
