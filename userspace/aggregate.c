// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aggregate.h"
#include "log.h"
#include "timeouts.h"

int agg_init(struct aggregator *a, size_t max_backends)
{
	memset(a, 0, sizeof(*a));
	a->max = max_backends ? max_backends : AGG_MAX_BACKENDS_DEFAULT;
	a->backends = calloc(a->max, sizeof(*a->backends));
	return a->backends ? 0 : -1;
}

void agg_free(struct aggregator *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->backends[i]);
	free(a->backends);
	free(a->other);
	free(a->names);
	memset(a, 0, sizeof(*a));
}

static struct backend *backend_new(const struct aggregator *a, const char *label)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	snprintf(b->label, sizeof(b->label), "%s", label);
	for (size_t i = 0; i < a->nnames; i++)
		if (!strcmp(a->names[i].label, label))
			snprintf(b->name, sizeof(b->name), "%s", a->names[i].name);
	return b;
}

struct backend *agg_backend(struct aggregator *a, const char *label)
{
	struct backend *b;

	/* Linear scan: a gateway host talks to tens of backends, and the scan
	 * runs once per finished connection, not per packet. */
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->backends[i]->label, label))
			return a->backends[i];
	if (a->n < a->max && (b = backend_new(a, label))) {
		a->backends[a->n++] = b;
		return b;
	}
	if (!a->other)
		a->other = backend_new(a, "other");
	a->overflowed++;
	return a->other;
}

static void stats_add_conn(struct backend_stats *s, const struct conn_outcome *o)
{
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
		hist_add(&s->connect, (uint64_t)(o->connect_ms * 1e6));
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
	struct agg_name *p;

	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->backends[i]->label, label))
			snprintf(a->backends[i]->name, AGG_NAME_LEN, "%s", name);
	for (size_t i = 0; i < a->nnames; i++) {
		if (!strcmp(a->names[i].label, label)) {	/* reloaded: replace */
			snprintf(a->names[i].name, AGG_NAME_LEN, "%s", name);
			return;
		}
	}
	p = realloc(a->names, (a->nnames + 1) * sizeof(*p));
	if (!p) {
		log_warn("out of memory naming backend %s", label);
		return;
	}
	a->names = p;
	snprintf(p[a->nnames].label, GS_ADDR_STRLEN, "%s", label);
	snprintf(p[a->nnames].name, AGG_NAME_LEN, "%s", name);
	a->nnames++;
}
