// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "timeouts.h"

const char *closer_name(enum closer c)
{
	switch (c) {
	case CLOSER_GATEWAY: return "gateway";
	case CLOSER_BACKEND: return "backend";
	default: return "client";
	}
}

void timeouts_init(struct timeouts *t)
{
	memset(t, 0, sizeof(*t));
}

static struct timeout_series *series(struct timeouts *t, enum closer closer, const char *peer,
				     const char *kind)
{
	for (size_t i = 0; i < t->n; i++) {
		struct timeout_key *k = &t->s[i].key;

		if (k->closer == closer && k->kind == kind && !strcmp(k->peer, peer))
			return &t->s[i];
	}
	if (t->n == TIMEOUT_KEYS_MAX)
		return NULL;
	t->s[t->n].key.closer = closer;
	t->s[t->n].key.kind = kind;
	snprintf(t->s[t->n].key.peer, sizeof(t->s[t->n].key.peer), "%s", peer);
	return &t->s[t->n++];
}

void timeouts_add(struct timeouts *t, enum closer closer, const char *peer, const char *kind,
		  uint64_t idle_ns)
{
	struct timeout_series *s = series(t, closer, peer, kind);

	if (!s) {
		t->dropped++;
		return;
	}
	s->idle_ns[s->next] = idle_ns;
	s->next = (s->next + 1) % TIMEOUT_SAMPLES;
	if (s->n < TIMEOUT_SAMPLES)
		s->n++;
	s->total++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A timer fires at a fixed delay after the last progress, plus scheduling
 * noise: closes of one timeout sit within a few ms of each other.  Closes
 * for other reasons scatter.  Window: 2 % of the value, at least 20 ms. */
#define CLUSTER_WINDOW_DIVISOR	50		/* 1/50 = 2 % */
#define CLUSTER_WINDOW_MIN_NS	20000000ull	/* 20 ms */

static uint64_t cluster_window(uint64_t v)
{
	uint64_t w = v / CLUSTER_WINDOW_DIVISOR;

	return w > CLUSTER_WINDOW_MIN_NS ? w : CLUSTER_WINDOW_MIN_NS;
}

/* Densest run of sorted values within the window; its median. */
static bool densest_cluster(const uint64_t *v, size_t n, double *median_s, size_t *count)
{
	size_t best_lo = 0, best_n = 0, hi = 0;

	for (size_t lo = 0; lo < n; lo++) {
		if (hi < lo)
			hi = lo;
		while (hi + 1 < n && v[hi + 1] - v[lo] <= cluster_window(v[lo]))
			hi++;
		if (hi - lo + 1 > best_n) {
			best_n = hi - lo + 1;
			best_lo = lo;
		}
	}
	if (best_n < TIMEOUT_MIN_CLUSTER)
		return false;
	*median_s = v[best_lo + best_n / 2] / 1e9;
	*count = best_n;
	return true;
}

size_t timeouts_infer(const struct timeouts *t, struct inferred_timeout *out, size_t max)
{
	uint64_t sorted[TIMEOUT_SAMPLES];
	size_t n = 0;

	for (size_t i = 0; i < t->n && n < max; i++) {
		const struct timeout_series *s = &t->s[i];

		memcpy(sorted, s->idle_ns, s->n * sizeof(sorted[0]));
		qsort(sorted, s->n, sizeof(sorted[0]), cmp_u64);
		if (densest_cluster(sorted, s->n, &out[n].seconds, &out[n].n)) {
			out[n].key = s->key;
			n++;
		}
	}
	return n;
}

/* The port of a listener label "0.0.0.0:80" -> ":80" for sentences. */
static const char *port_of(const char *label)
{
	const char *colon = strrchr(label, ':');

	return colon ? colon : label;
}

size_t timeouts_ladder(const struct inferred_timeout *inf, size_t n, char (*out)[LADDER_WARNING_LEN], size_t max)
{
	size_t w = 0;

	for (size_t c = 0; c < n; c++) {
		if (inf[c].key.closer != CLOSER_CLIENT)
			continue;
		for (size_t g = 0; g < n && w < max; g++) {
			const struct inferred_timeout *gw = &inf[g], *cl = &inf[c];

			if (gw->key.closer != CLOSER_GATEWAY)
				continue;
			if (cl->seconds < gw->seconds)
				snprintf(out[w++], LADDER_WARNING_LEN,
					 "clients of %s give up after %.3f s, before the gateway's %.3f s %s timeout to %s",
					 port_of(cl->key.peer), cl->seconds, gw->seconds, gw->key.kind,
					 gw->key.peer);
			else if (cl->seconds - gw->seconds < LADDER_MIN_GAP_S)
				snprintf(out[w++], LADDER_WARNING_LEN,
					 "tight ladder: clients of %s wait %.3f s, only %.3f s more than the gateway's %.3f s %s timeout to %s (leave 2-3 s)",
					 port_of(cl->key.peer), cl->seconds, cl->seconds - gw->seconds,
					 gw->seconds, gw->key.kind, gw->key.peer);
		}
	}
	return w;
}
