// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include "time_heap.h"

int time_heap_init(struct time_heap *h, uint32_t cap)
{
	h->n = 0;
	h->cap = cap ? cap : 1;
	h->v = calloc(h->cap, sizeof(*h->v));
	return h->v ? 0 : -1;
}

void time_heap_free(struct time_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static void sift_up(struct time_heap *h, uint32_t i)
{
	struct time_entry x = h->v[i];

	while (i && h->v[(i - 1) / 2].at > x.at) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

/* The entry at i sinks: the smaller child moves up into its place while
 * one is smaller (the same moves as swapping it down, half the stores). */
static void sift_down(struct time_heap *h, uint32_t i)
{
	struct time_entry x = h->v[i];

	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		uint64_t least = x.at;

		if (l < h->n && h->v[l].at < least) {
			m = l;
			least = h->v[l].at;
		}
		if (l + 1 < h->n && h->v[l + 1].at < least)
			m = l + 1;
		if (m == i)
			break;
		h->v[i] = h->v[m];
		i = m;
	}
	h->v[i] = x;
}

/* Full of stale entries: keep the live ones. */
static void keep_live(struct time_heap *h, time_entry_live live, void *ctx)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->n; i++)
		if (live(ctx, &h->v[i]))
			h->v[n++] = h->v[i];
	h->n = n;
	for (uint32_t i = n / 2; i-- > 0;)
		sift_down(h, i);
}

bool time_heap_push(struct time_heap *h, uint64_t at, uint32_t id, time_entry_live live,
		    void *ctx)
{
	if (h->n == h->cap)
		keep_live(h, live, ctx);
	if (h->n == h->cap) {	/* as many live entries as room: grow rather than lose one */
		struct time_entry *more = realloc(h->v, 2 * (size_t)h->cap * sizeof(*more));

		if (!more)
			return false;
		h->v = more;
		h->cap *= 2;
	}
	h->v[h->n] = (struct time_entry){ .at = at, .id = id };
	sift_up(h, h->n++);
	return true;
}

const struct time_entry *time_heap_top(const struct time_heap *h)
{
	return h->n ? &h->v[0] : NULL;
}

void time_heap_pop(struct time_heap *h)
{
	if (!h->n)
		return;
	h->v[0] = h->v[--h->n];
	sift_down(h, 0);
}

void time_heap_clean_top(struct time_heap *h, time_entry_live live, void *ctx)
{
	while (h->n && !live(ctx, &h->v[0]))
		time_heap_pop(h);
}
