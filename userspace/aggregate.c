// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aggregate.h"
#include "log.h"
#include "timeouts.h"
#include "util.h"

int agg_init(struct aggregator *a, size_t max_backends)
{
	size_t slots = 2;

	memset(a, 0, sizeof(*a));
	a->max = max_backends ? max_backends : AGG_MAX_BACKENDS_DEFAULT;
	while (slots < 2 * a->max)
		slots *= 2;
	a->index_mask = slots - 1;
	a->backends = calloc(a->max, sizeof(*a->backends));
	a->index = calloc(slots, sizeof(*a->index));
	return a->backends && a->index ? 0 : -1;
}

void agg_free(struct aggregator *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->backends[i]);
	free(a->backends);
	free(a->index);
	free(a->other);
	free(a->names);
	memset(a, 0, sizeof(*a));
}

static int by_label(const void *a, const void *b)
{
	return strcmp(((const struct agg_name *)a)->label, ((const struct agg_name *)b)->label);
}

/* a->names is kept sorted by label: lookups are binary searches, so a
 * 100k-line --backend-names loads in O(n log n), not O(n^2). */
static const struct agg_name *name_of(const struct aggregator *a, const char *label)
{
	struct agg_name key;

	if (!a->nnames)
		return NULL;
	snprintf(key.label, sizeof(key.label), "%s", label);
	return bsearch(&key, a->names, a->nnames, sizeof(key), by_label);
}

static void apply_name(const struct aggregator *a, struct backend *b)
{
	const struct agg_name *n = name_of(a, b->label);

	snprintf(b->name, sizeof(b->name), "%s", n ? n->name : "");
}

static struct backend *backend_new(const struct aggregator *a, const char *label)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	snprintf(b->label, sizeof(b->label), "%s", label);
	apply_name(a, b);
	return b;
}

/* Looked up once per request and per upstream connection: by hash, not
 * a scan of every backend.  At most half the slots are used, so a probe
 * ends at an empty one. */
struct backend *agg_backend(struct aggregator *a, const char *label)
{
	size_t i = fnv1a_str(FNV1A_BASIS, label) & a->index_mask;
	struct backend *b;

	for (; a->index[i]; i = (i + 1) & a->index_mask)
		if (!strcmp(a->backends[a->index[i] - 1]->label, label))
			return a->backends[a->index[i] - 1];
	if (a->n < a->max && (b = backend_new(a, label))) {
		a->backends[a->n++] = b;
		a->index[i] = (uint32_t)a->n;
		return b;
	}
	if (!a->other)
		a->other = backend_new(a, "other");
	a->overflowed++;
	return a->other;
}

/* A connect time in ms as the histogram's whole ns, saturated: a crafted
 * recording's times may be any 64-bit values, and a double of 2^64 ns or
 * more has no uint64_t value (undefined behaviour, found by fuzz_replay). */
static uint64_t connect_ns(double ms)
{
	double ns = ms * 1e6;

	return ns < 0x1p64 ? (uint64_t)ns : UINT64_MAX;
}

static void stats_add_conn(struct backend_stats *s, const struct conn_outcome *o)
{
	if (!o->adopted)
		s->connects++;
	switch (o->failure) {
	case CONNECT_REFUSED: s->refused++; break;
	case CONNECT_TIMEOUT: s->timeout++; break;
	case CONNECT_UNREACHABLE: s->unreachable++; break;
	default: break;
	}
	s->resets_received += o->resets_received;
	s->resets_sent += o->resets_sent;
	s->retransmits += o->retransmits;
	if (o->connect_ms >= 0)
		hist_add(&s->connect, connect_ns(o->connect_ms));
}

void agg_add_conn(struct aggregator *a, const struct conn_outcome *o)
{
	struct backend *b;

	if (!o->upstream)
		return;		/* backends are what the gateway connects to */
	b = agg_backend(a, o->peer);
	if (!b)
		return;
	stats_add_conn(&b->win, o);
	stats_add_conn(&b->total, o);
}

void agg_add_ttfb(struct aggregator *a, const char *label, uint64_t ns)
{
	struct backend *b = agg_backend(a, label);

	if (!b)
		return;
	hist_add(&b->win.ttfb, ns);
	hist_add(&b->total.ttfb, ns);
}

void agg_add_timeout_close(struct aggregator *a, const char *label, int closer)
{
	struct backend *b = agg_backend(a, label);

	if (!b)
		return;
	if (closer == CLOSER_GATEWAY) {
		b->win.timeout_closes_gateway++;
		b->total.timeout_closes_gateway++;
	} else {
		b->win.timeout_closes_backend++;
		b->total.timeout_closes_backend++;
	}
}

void agg_window_reset(struct aggregator *a)
{
	for (size_t i = 0; i < a->n; i++)
		memset(&a->backends[i]->win, 0, sizeof(a->backends[i]->win));
	if (a->other)
		memset(&a->other->win, 0, sizeof(a->other->win));
}

void agg_set_name(struct aggregator *a, const char *label, const char *name)
{
	struct agg_name key, *p;
	size_t lo = 0, hi = a->nnames;

	snprintf(key.label, sizeof(key.label), "%s", label);
	snprintf(key.name, sizeof(key.name), "%s", name);
	while (lo < hi) {	/* first entry not below label */
		size_t mid = lo + (hi - lo) / 2;

		if (by_label(&a->names[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->nnames && !by_label(&a->names[lo], &key)) {
		a->names[lo] = key;		/* reloaded: replace */
	} else {
		p = realloc(a->names, (a->nnames + 1) * sizeof(*p));
		if (!p) {
			log_warn("out of memory naming backend %s", label);
			return;
		}
		a->names = p;
		memmove(p + lo + 1, p + lo, (a->nnames - lo) * sizeof(*p));
		p[lo] = key;
		a->nnames++;
	}
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->backends[i]->label, label))
			apply_name(a, a->backends[i]);
}

/* Sort by label; of equal labels the later line (higher index) comes last. */
struct indexed_name {
	struct agg_name n;
	size_t idx;
};

static int by_label_then_index(const void *a, const void *b)
{
	const struct indexed_name *x = a, *y = b;
	int c = strcmp(x->n.label, y->n.label);

	return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

int agg_replace_names(struct aggregator *a, const struct agg_name *names, size_t n)
{
	struct indexed_name *tmp = calloc(n ? n : 1, sizeof(*tmp));
	struct agg_name *out = calloc(n ? n : 1, sizeof(*out));
	size_t k = 0;

	if (!tmp || !out) {
		free(tmp);
		free(out);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		tmp[i] = (struct indexed_name){ .n = names[i], .idx = i };
	qsort(tmp, n, sizeof(*tmp), by_label_then_index);
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(out[k - 1].label, tmp[i].n.label))
			k--;		/* the later line wins */
		out[k++] = tmp[i].n;
	}
	free(tmp);
	free(a->names);
	a->names = out;
	a->nnames = k;
	for (size_t i = 0; i < a->n; i++)
		apply_name(a, a->backends[i]);
	return 0;
}
