// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attribute.h"
#include "incident.h"

struct incident *incident_new(void)
{
	struct incident *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->tl.width_s = 1;
	m->tl.all.cells = calloc(REPORT_TL_BUCKETS, sizeof(struct tl_cell));
	if (!m->tl.all.cells) {
		free(m);
		return NULL;
	}
	return m;
}

static void series_free(struct tl_series *s)
{
	if (s)
		free(s->cells);
}

void incident_free(struct incident *m)
{
	if (!m)
		return;
	series_free(&m->tl.all);
	for (size_t i = 0; i < m->tl.nroutes; i++) {
		series_free(m->tl.routes[i]);
		free(m->tl.routes[i]);
	}
	series_free(m->tl.other);
	free(m->tl.other);
	for (size_t g = 0; g < m->ngroups; g++)
		for (size_t i = 0; i < m->groups[g].nkept; i++)
			free(m->groups[g].kept[i]);
	for (size_t i = 0; i < m->nbackends; i++)
		free(m->backends[i]);
	free(m);
}

void incident_set_origin(struct incident *m, double epoch_s)
{
	if (m && !m->tl.have_t0) {
		m->tl.t0 = floor(epoch_s);
		m->tl.have_t0 = true;
	}
}

static struct tl_series *series_new(const char *name)
{
	struct tl_series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cells = calloc(REPORT_TL_BUCKETS, sizeof(struct tl_cell));
	if (!s->cells) {
		free(s);
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

/* The route's series; past REPORT_ROUTES (or out of memory) "other". */
static struct tl_series *series_of(struct timeline *tl, const char *route)
{
	struct tl_series *s;

	for (size_t i = 0; i < tl->nroutes; i++)
		if (!strcmp(tl->routes[i]->name, route))
			return tl->routes[i];
	if (tl->nroutes < REPORT_ROUTES && (s = series_new(route)))
		return tl->routes[tl->nroutes++] = s;
	if (!tl->other)
		tl->other = series_new("other");
	return tl->other;
}

static void series_halve(struct tl_series *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < REPORT_TL_BUCKETS; i++) {
		struct tl_cell c = {0};
		const struct tl_cell *a = i * 2 < REPORT_TL_BUCKETS ? &s->cells[i * 2] : &c;
		const struct tl_cell *b = i * 2 + 1 < REPORT_TL_BUCKETS ? &s->cells[i * 2 + 1] : &c;
		struct tl_cell sum = { .requests = a->requests + b->requests };

		for (int k = 0; k < CAUSE__MAX; k++)
			sum.failed[k] = a->failed[k] + b->failed[k];
		s->cells[i] = sum;
	}
}

/* Twice as wide buckets: neighbours merge, the first half holds the run. */
static void timeline_coarsen(struct timeline *tl)
{
	series_halve(&tl->all);
	for (size_t i = 0; i < tl->nroutes; i++)
		series_halve(tl->routes[i]);
	series_halve(tl->other);
	tl->width_s *= 2;
	tl->nbuckets = (tl->nbuckets + 1) / 2;
}

/* Widest bucket: 2^30 s.  A corrupt timestamp years ahead collapses the
 * timeline into a few buckets (or the last one); it cannot make it grow. */
#define TL_MAX_WIDTH_S (1u << 30)

/* The bucket of an epoch time, coarsening until it fits. */
static unsigned bucket_of(struct timeline *tl, double ts)
{
	double off = ts - tl->t0;
	uint64_t sec;

	if (off < 0) {
		tl->before_t0++;
		off = 0;
	}
	sec = off < 9.2e18 ? (uint64_t)off : UINT64_MAX;
	while (sec / tl->width_s >= REPORT_TL_BUCKETS && tl->width_s < TL_MAX_WIDTH_S)
		timeline_coarsen(tl);
	if (sec / tl->width_s >= REPORT_TL_BUCKETS)
		return REPORT_TL_BUCKETS - 1;
	return sec / tl->width_s;
}

static void cell_add(struct tl_series *s, unsigned b, bool failed, enum cause c)
{
	if (!s)
		return;
	s->requests++;
	s->cells[b].requests++;
	if (failed)
		s->cells[b].failed[c]++;
}

static void timeline_add(struct timeline *tl, const char *route, double ts, bool failed,
			 enum cause c)
{
	unsigned b;

	if (!tl->have_t0) {
		tl->t0 = floor(ts);
		tl->have_t0 = true;
	}
	b = bucket_of(tl, ts);
	if (b + 1 > tl->nbuckets)
		tl->nbuckets = b + 1;
	cell_add(&tl->all, b, failed, c);
	cell_add(series_of(tl, route), b, failed, c);
}

static struct failed_group *group_of(struct incident *m, enum cause c, const char *reason)
{
	for (size_t g = 0; g < m->ngroups; g++)
		if (m->groups[g].cause == c && m->groups[g].reason == reason)
			return &m->groups[g];
	if (m->ngroups == REPORT_GROUPS_MAX)
		return NULL;
	m->groups[m->ngroups].cause = c;
	m->groups[m->ngroups].reason = reason;
	return &m->groups[m->ngroups++];
}

static void sample_fill(struct failed_sample *s, const struct request *r,
			const struct verdict *v, const char *route, double ts)
{
	const struct attempt *a = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;

	s->ts = ts;
	snprintf(s->route, sizeof(s->route), "%s", route);
	snprintf(s->method, sizeof(s->method), "%s", r->method);
	snprintf(s->host, sizeof(s->host), "%s", r->host);
	snprintf(s->path, sizeof(s->path), "%s", r->path);
	snprintf(s->client, sizeof(s->client), "%s", r->client);
	snprintf(s->backend, sizeof(s->backend), "%s", a ? a->backend : "");
	s->status = r->status;
	s->upstream_status = a ? a->status : 0;
	s->client_closed = r->client_closed;
	s->total_ms = r->ts_start && r->ts_done >= r->ts_start ? (r->ts_done - r->ts_start) / 1e6 : -1;
	s->attempts = r->nattempts;
	memcpy(s->term, v->term, sizeof(s->term));
	s->term[2] = 0;
	s->join = join_kind_name(r->join);
	snprintf(s->evidence, sizeof(s->evidence), "%s", v->evidence);
}

static void failed_add(struct incident *m, const struct request *r,
		       const struct verdict *v, const char *route, double ts)
{
	enum cause c = v->cause == CAUSE_NONE ? CAUSE_UNKNOWN : v->cause;
	struct failed_group *g = group_of(m, c, v->reason);
	struct failed_sample *s;

	m->failed++;
	if (!g) {
		m->groups_overflowed++;
		return;
	}
	g->count++;
	if (g->nkept == REPORT_FAILED_KEPT)
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		m->oom++;
		return;
	}
	sample_fill(s, r, v, route, ts);
	g->kept[g->nkept++] = s;
}

static struct backend_total *backend_of(struct incident *m, const char *label)
{
	struct backend_total *b;

	for (size_t i = 0; i < m->nbackends; i++)
		if (!strcmp(m->backends[i]->label, label))
			return m->backends[i];
	if (m->nbackends == REPORT_BACKENDS || !(b = calloc(1, sizeof(*b))))
		return NULL;
	snprintf(b->label, sizeof(b->label), "%s", label);
	hist_reset(&b->total);
	return m->backends[m->nbackends++] = b;
}

const struct hist *incident_backend_total(const struct incident *m, const char *label)
{
	for (size_t i = 0; i < m->nbackends; i++)
		if (!strcmp(m->backends[i]->label, label))
			return &m->backends[i]->total;
	return NULL;
}

static void pair_add(struct incident *m, const char *listener, const char *backend)
{
	for (size_t i = 0; i < m->npairs; i++) {
		if (!strcmp(m->pairs[i].listener, listener) && !strcmp(m->pairs[i].backend, backend)) {
			m->pairs[i].requests++;
			return;
		}
	}
	if (m->npairs == REPORT_PAIRS_MAX) {
		m->pairs_overflowed++;
		return;
	}
	snprintf(m->pairs[m->npairs].listener, GS_ADDR_STRLEN, "%s", listener);
	snprintf(m->pairs[m->npairs].backend, GS_ADDR_STRLEN, "%s", backend);
	m->pairs[m->npairs++].requests = 1;
}

void incident_add_request(struct incident *m, const struct request *r,
			const struct verdict *v, const char *route, double ts)
{
	const struct attempt *a = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;
	bool failed = request_failed(r);
	enum cause c = v->cause == CAUSE_NONE ? CAUSE_UNKNOWN : v->cause;

	if (!m)
		return;
	timeline_add(&m->tl, route, ts, failed, c);
	if (failed)
		failed_add(m, r, v, route, ts);
	if (!a)
		return;
	pair_add(m, r->listener, a->backend);
	if (r->ts_start && r->ts_done >= r->ts_start) {
		struct backend_total *b = backend_of(m, a->backend);

		if (b)
			hist_add(&b->total, r->ts_done - r->ts_start);
		else
			m->backends_overflowed++;
	}
}
