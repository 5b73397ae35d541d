/* SPDX-License-Identifier: MIT */
/* A min-heap of (time, handle) entries: the join engine's schedule of looks.
 * Entries are never updated in place: a newer one is pushed and the old
 * one goes stale.  The owner says which entries are live, and drops stale
 * ones as they reach the top (time_heap_clean_top) or all at once when the
 * heap is full (time_heap_push). */
#ifndef GS_TIME_HEAP_H
#define GS_TIME_HEAP_H

#include <stdbool.h>
#include <stdint.h>

struct time_entry {
	uint64_t at;
	uint32_t id;
};

struct time_heap {
	struct time_entry *v;
	uint32_t n, cap;
};

typedef bool (*time_entry_live)(void *ctx, const struct time_entry *e);

int time_heap_init(struct time_heap *h, uint32_t cap);
void time_heap_free(struct time_heap *h);
/* Adds an entry: when full, drops the stale ones first, then grows.
 * false: no memory (the entry is not added). */
bool time_heap_push(struct time_heap *h, uint64_t at, uint32_t id, time_entry_live live,
		    void *ctx);
/* The earliest entry, NULL when empty. */
const struct time_entry *time_heap_top(const struct time_heap *h);
void time_heap_pop(struct time_heap *h);
/* Pops stale entries off the top: the top is then live (or the heap empty). */
void time_heap_clean_top(struct time_heap *h, time_entry_live live, void *ctx);

#endif
