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

void timeouts_add_either(struct timeouts *t, enum closer closer, const char *peer,
			 const char *kind, uint64_t idle_ns, uint64_t armed_ns)
{
	struct timeout_series *s = series(t, closer, peer, kind);

	if (!s) {
		t->dropped++;
		return;
	}
	s->idle_ns[s->next] = idle_ns;
	s->armed_ns[s->next] = armed_ns > idle_ns ? armed_ns : idle_ns;
	s->next = (s->next + 1) % TIMEOUT_SAMPLES;
	if (s->n < TIMEOUT_SAMPLES)
		s->n++;
	s->total++;
}

void timeouts_add(struct timeouts *t, enum closer closer, const char *peer, const char *kind,
		  uint64_t idle_ns)
{
	timeouts_add_either(t, closer, peer, kind, idle_ns, idle_ns);
}

/* One value a close may stand for: its idle time since the last progress
 * or, when different, since the earlier one (armed). */
struct candidate {
	uint64_t v;
	uint8_t close;		/* index of the close in its series */
	bool armed;
};

static int cmp_candidate(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return x->armed - y->armed;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A timer fires at a fixed delay after it was armed, plus scheduling
 * noise: closes of one timeout sit within a few ms of each other.  Closes
 * for other reasons scatter.  Window: 2 % of the value, at least 20 ms. */
#define CLUSTER_WINDOW_DIVISOR	50		/* 1/50 = 2 % */
#define CLUSTER_WINDOW_MIN_NS	20000000ull	/* 20 ms */

static uint64_t cluster_window(uint64_t v)
{
	uint64_t w = v / CLUSTER_WINDOW_DIVISOR;

	return w > CLUSTER_WINDOW_MIN_NS ? w : CLUSTER_WINDOW_MIN_NS;
}

static size_t candidates_of(const struct timeout_series *s, struct candidate *c)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		c[n++] = (struct candidate){ .v = s->idle_ns[i], .close = i };
		if (s->armed_ns[i] != s->idle_ns[i])
			c[n++] = (struct candidate){ .v = s->armed_ns[i], .close = i, .armed = true };
	}
	qsort(c, n, sizeof(*c), cmp_candidate);
	return n;
}

/* Where the most closes fall within one window, each counted once (by
 * either of its values); on a tie, the tighter window: a timer's closes
 * sit within a few ms, values that only happen to be near each other
 * spread over the window.  Its median, each close by the value in the
 * window (its last-progress one when both are). */
static bool densest_cluster(const struct timeout_series *s, double *median_s, size_t *count)
{
	struct candidate c[2 * TIMEOUT_SAMPLES];
	uint8_t in[TIMEOUT_SAMPLES] = { 0 };
	bool has[TIMEOUT_SAMPLES] = { 0 }, by_last[TIMEOUT_SAMPLES] = { 0 };
	uint64_t chosen[TIMEOUT_SAMPLES], vals[TIMEOUT_SAMPLES];
	size_t n = candidates_of(s, c), hi = 0, closes = 0;
	size_t best_lo = 0, best_hi = 0, best_closes = 0, nv = 0;
	uint64_t best_span = 0;

	for (size_t lo = 0; lo < n; lo++) {
		for (; hi < n && c[hi].v - c[lo].v <= cluster_window(c[lo].v); hi++)
			closes += !in[c[hi].close]++;
		if (closes > best_closes ||
		    (closes == best_closes && c[hi - 1].v - c[lo].v < best_span)) {
			best_closes = closes;
			best_span = c[hi - 1].v - c[lo].v;
			best_lo = lo;
			best_hi = hi;
		}
		closes -= !--in[c[lo].close];
	}
	if (best_closes < TIMEOUT_MIN_CLUSTER)
		return false;
	for (size_t i = best_lo; i < best_hi; i++) {
		uint8_t k = c[i].close;

		if (!has[k] || (!c[i].armed && !by_last[k])) {
			chosen[k] = c[i].v;
			has[k] = true;
			by_last[k] = !c[i].armed;
		}
	}
	for (size_t k = 0; k < s->n; k++)
		if (has[k])
			vals[nv++] = chosen[k];
	qsort(vals, nv, sizeof(vals[0]), cmp_u64);
	*median_s = vals[nv / 2] / 1e9;
	*count = best_closes;
	return true;
}

size_t timeouts_infer(const struct timeouts *t, struct inferred_timeout *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n && n < max; i++) {
		const struct timeout_series *s = &t->s[i];

		if (densest_cluster(s, &out[n].seconds, &out[n].n)) {
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

static uint64_t link_key(const char *listener, const char *backend)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = listener; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (const char *p = backend; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h ? h : 1;
}

/* The slot of key: where it is, or the empty one where it would go. */
static size_t link_slot(const struct timeouts *t, uint64_t key)
{
	size_t i = key % TIMEOUT_LINKS_MAX;

	while (t->links[i] && t->links[i] != key)
		i = (i + 1) % TIMEOUT_LINKS_MAX;
	return i;
}

void timeouts_link(struct timeouts *t, const char *listener, const char *backend)
{
	uint64_t key;
	size_t i;

	if (!listener[0] || !backend[0] || t->links_full)
		return;
	key = link_key(listener, backend);
	i = link_slot(t, key);
	if (t->links[i])
		return;
	if (t->nlinks >= TIMEOUT_LINKS_MAX / 4 * 3) {
		t->links_full = true;
		return;
	}
	t->links[i] = key;
	t->nlinks++;
}

static bool linked(const struct timeouts *t, const char *listener, const char *backend)
{
	return t->links_full || t->links[link_slot(t, link_key(listener, backend))];
}

size_t timeouts_ladder(const struct timeouts *t, const struct inferred_timeout *inf, size_t n,
		       char (*out)[LADDER_WARNING_LEN], size_t max)
{
	size_t w = 0;

	for (size_t c = 0; c < n; c++) {
		if (inf[c].key.closer != CLOSER_CLIENT)
			continue;
		for (size_t g = 0; g < n && w < max; g++) {
			const struct inferred_timeout *gw = &inf[g], *cl = &inf[c];

			if (gw->key.closer != CLOSER_GATEWAY || !linked(t, cl->key.peer, gw->key.peer))
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
