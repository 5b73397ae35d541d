/* SPDX-License-Identifier: MIT */
/* The join's attempts by the moment they began, so a request looks only at
 * those begun while it was in flight: at a loaded gateway's rate the table
 * holds every attempt of the last join wait (100 ms: thousands), and a scan
 * of all of them per request made the join quadratic in the request rate. */
#ifndef GS_BEGAN_INDEX_H
#define GS_BEGAN_INDEX_H

#include <stdint.h>

struct began_entry {
	uint64_t began;
	uint32_t id;		/* the attempt's handle; 0: removed */
	uint32_t pid;		/* the attempt's process: every look at a window is
				 * for one process's attempts, and the entry's
				 * padding holds it, so the others are passed over
				 * here without a look at their attempts */
};

/* Sorted by began; removal leaves a hole, swept when holes are half.
 * Attempts mostly leave oldest first: the holes before the first live
 * entry are skipped by where it is (head), not walked. */
struct began_index {
	struct began_entry *v;
	uint32_t n, cap, holes;
	uint32_t head;		/* every entry before it is a hole */
	uint32_t hint;		/* where the last search ended: the next starts there */
};

/* Room for max attempts at once (the attempt table's size). */
int began_index_init(struct began_index *x, uint32_t max);
void began_index_free(struct began_index *x);
/* An attempt's began is fixed when it enters the table: it is its key. */
void began_index_add(struct began_index *x, uint64_t began, uint32_t id, uint32_t pid);
void began_index_remove(struct began_index *x, uint64_t began, uint32_t id);
/* The handles of process pid's attempts begun in [lo, hi], in began
 * order, into out (at most max); returns how many. */
uint32_t began_index_range(struct began_index *x, uint64_t lo, uint64_t hi, uint32_t pid,
			   uint32_t *out, uint32_t max);
/* (The live entries from the oldest: v[i] for i from head up to n, those
 * with id 0 being holes.) */
/* The first entry from head with began >= t (n if none): where a walk of
 * v from t starts.  Searches start where the last one ended (hint): they
 * change nothing else. */
uint32_t began_index_from(struct began_index *x, uint64_t t);

#endif
