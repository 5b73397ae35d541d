// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include "began_index.h"

int began_index_init(struct began_index *x, uint32_t max)
{
	memset(x, 0, sizeof(*x));
	x->cap = 2 * max + 1;	/* live entries plus as many holes */
	x->v = calloc(x->cap, sizeof(*x->v));
	return x->v ? 0 : -1;
}

void began_index_free(struct began_index *x)
{
	free(x->v);
	memset(x, 0, sizeof(*x));
}

/* The answer lies in [lo, hi]: halve. */
static uint32_t halve(const struct began_index *x, uint64_t t, uint32_t lo, uint32_t hi)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (x->v[mid].began < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First entry from head with began >= t, or n (the entries before head are
 * holes).  Searched from where the last search ended, by steps that double
 * away from it, then by halves: the searches of one decision, and of the
 * next request's, land close together, among the oldest attempts, so they
 * stay in a few cache lines rather than halving the whole index. */
static uint32_t lower_bound(struct began_index *x, uint64_t t)
{
	uint32_t from = x->hint < x->head ? x->head : x->hint > x->n ? x->n : x->hint;
	uint32_t lo, hi, step;

	if (from < x->n && x->v[from].began < t) {
		for (lo = from, step = 1;; step *= 2, lo = hi) {	/* v[lo].began < t */
			hi = step < x->n - lo ? lo + step : x->n;
			if (hi == x->n || x->v[hi].began >= t)
				break;
		}
		lo++;
	} else {
		for (hi = from, step = 1;; step *= 2, hi = lo) {	/* the answer is <= hi */
			if (hi - x->head <= step) {
				lo = x->head;
				break;
			}
			lo = hi - step;
			if (x->v[lo].began < t) {
				lo++;
				break;
			}
		}
	}
	x->hint = halve(x, t, lo, hi);
	return x->hint;
}

static void sweep_holes(struct began_index *x)
{
	uint32_t o = 0;

	for (uint32_t i = 0; i < x->n; i++)
		if (x->v[i].id)
			x->v[o++] = x->v[i];
	x->n = o;
	x->holes = 0;
	x->head = 0;
}

void began_index_add(struct began_index *x, uint64_t began, uint32_t id, uint32_t pid)
{
	uint32_t at;

	if (x->n == x->cap)
		sweep_holes(x);
	if (x->n == x->cap)
		return;	/* more live attempts than the table holds: cannot be */
	/* After the equal keys.  Attempts mostly begin in time order: at the end. */
	at = !x->n || x->v[x->n - 1].began <= began ? x->n : lower_bound(x, began + 1);
	memmove(&x->v[at + 1], &x->v[at], (x->n - at) * sizeof(*x->v));
	x->v[at].began = began;
	x->v[at].id = id;
	x->v[at].pid = pid;
	x->n++;
	if (at <= x->head)
		x->head = at;
}

void began_index_remove(struct began_index *x, uint64_t began, uint32_t id)
{
	for (uint32_t i = lower_bound(x, began); i < x->n && x->v[i].began == began; i++) {
		if (x->v[i].id == id) {
			x->v[i].id = 0;
			x->holes++;
			break;
		}
	}
	while (x->head < x->n && !x->v[x->head].id)
		x->head++;
	if (x->holes > x->n / 2)
		sweep_holes(x);
}

uint32_t began_index_range(struct began_index *x, uint64_t lo, uint64_t hi, uint32_t pid,
			   uint32_t *out, uint32_t max)
{
	uint32_t k = 0;

	for (uint32_t i = lower_bound(x, lo); i < x->n && x->v[i].began <= hi && k < max; i++)
		if (x->v[i].id && x->v[i].pid == pid)
			out[k++] = x->v[i].id;
	return k;
}

uint32_t began_index_from(struct began_index *x, uint64_t t)
{
	return lower_bound(x, t);
}
