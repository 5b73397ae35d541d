// SPDX-License-Identifier: MIT
/* The join's index of attempts by when they began, against a plain list of
 * the same attempts: random begins (mostly in time order, some late, many
 * equal; three processes), removals in any order, the table full, holes
 * swept.  Every range must list exactly the live attempts of its process
 * begun in it, in began order and, for equal begins, in the order they
 * were added. */
#include <stdint.h>
#include <stdlib.h>
#include "began_index.h"
#include "testlib.h"

#define MAX 512

static uint64_t rng_state = 42;

static uint64_t rng_next(void)
{
	return tl_rng_next(&rng_state);
}

struct ref {
	uint64_t began[MAX];
	uint32_t id[MAX];	/* in the order added */
	uint32_t pid[MAX];
	uint32_t n;
};

static void ref_remove(struct ref *r, uint32_t i)
{
	for (; i + 1 < r->n; i++) {
		r->began[i] = r->began[i + 1];
		r->id[i] = r->id[i + 1];
		r->pid[i] = r->pid[i + 1];
	}
	r->n--;
}

/* The reference answer: pid's live ids in [lo, hi] by began, then by
 * addition (every process's for pid 0). */
static uint32_t ref_range(const struct ref *r, uint64_t lo, uint64_t hi, uint32_t pid,
			  uint32_t *out)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < r->n; i++)
		if (r->began[i] >= lo && r->began[i] <= hi &&
		    (!pid || r->pid[i] == pid))
			out[k++] = i;
	for (uint32_t a = 1; a < k; a++)	/* stable by began */
		for (uint32_t b = a; b > 0 && r->began[out[b - 1]] > r->began[out[b]]; b--) {
			uint32_t t = out[b];

			out[b] = out[b - 1];
			out[b - 1] = t;
		}
	for (uint32_t i = 0; i < k; i++)
		out[i] = r->id[out[i]];
	return k;
}

/* Walked from head, the index lists every live attempt, in order: none
 * is before head, which is one of them (or the end). */
static void check_head(const struct began_index *x, const struct ref *r)
{
	uint32_t want[MAX], m = ref_range(r, 0, UINT64_MAX, 0, want), k = 0;

	ASSERT_TRUE(x->head == x->n || x->v[x->head].id);	/* no hole is walked first */
	for (uint32_t i = 0; i < x->head && i < x->n; i++)
		ASSERT_EQ(x->v[i].id, 0);
	for (uint32_t i = x->head; i < x->n; i++)
		if (x->v[i].id && ASSERT_TRUE(k < m))
			ASSERT_EQ(x->v[i].id, want[k++]);
	ASSERT_EQ(k, m);
}

/* began_index_from(): the first entry from head begun at t or later,
 * wherever the search before it ended. */
static void check_from(struct began_index *x, uint64_t t)
{
	uint32_t i = began_index_from(x, t);

	ASSERT_TRUE(i >= x->head && i <= x->n);
	ASSERT_TRUE(i == x->n || x->v[i].began >= t);
	ASSERT_TRUE(i == x->head || x->v[i - 1].began < t);
}

static void check_ranges(struct began_index *x, const struct ref *r, uint64_t now)
{
	uint32_t got[MAX], want[MAX];

	check_head(x, r);

	for (int q = 0; q < 20; q++) {
		uint64_t lo = now > 400 ? now - rng_next() % 400 : 0, hi = lo + rng_next() % 300;
		uint32_t pid = 1 + rng_next() % 3;
		uint32_t n = began_index_range(x, lo, hi, pid, got, MAX),
			 m = ref_range(r, lo, hi, pid, want);

		ASSERT_EQ(n, m);
		for (uint32_t i = 0; i < n && i < m; i++)
			ASSERT_EQ(got[i], want[i]);
		check_from(x, lo);
		check_from(x, hi + 1);
		check_from(x, rng_next() % (now + 2));
	}
}

/* oldest_first: removals mostly take the attempt added first (a steady
 * gateway), which moves the head; else any. */
static void against_reference(bool oldest_first)
{
	struct began_index x;
	struct ref r = { .n = 0 };
	uint64_t now = 1000;
	uint32_t next_id = 1;

	ASSERT_EQ(began_index_init(&x, MAX), 0);
	for (int step = 0; step < 20000; step++) {
		uint64_t roll = rng_next() % 100;

		if (r.n < MAX && roll < 55) {
			/* Mostly now, sometimes late (by up to 50, or 1000 when
			 * the oldest leave first: before the head), often equal. */
			uint64_t began = roll < 10 ? now - rng_next() % (oldest_first ? 1000 : 50) : now;

			uint32_t pid = 1 + rng_next() % 3;

			began_index_add(&x, began, next_id, pid);
			r.pid[r.n] = pid;
			r.began[r.n] = began;
			r.id[r.n++] = next_id++;
			now += rng_next() % 3;
		} else if (r.n) {
			uint32_t i = oldest_first && roll < 95 ? 0 : rng_next() % r.n;

			began_index_remove(&x, r.began[i], r.id[i]);
			ref_remove(&r, i);
		}
		if (step % 97 == 0)
			check_ranges(&x, &r, now);
	}
	check_ranges(&x, &r, now);
	began_index_free(&x);
}

static void test_against_reference(void)
{
	against_reference(false);
}

static void test_oldest_first(void)
{
	against_reference(true);
}

/* Everything out at once, then a full table again: the holes are swept. */
static void test_full_table(void)
{
	struct began_index x;
	uint32_t out[MAX];

	ASSERT_EQ(began_index_init(&x, MAX), 0);
	for (int round = 0; round < 4; round++) {
		for (uint32_t i = 1; i <= MAX; i++)
			began_index_add(&x, 100 * round + i % 7, 1000 * round + i, 7);
		ASSERT_EQ(began_index_range(&x, 0, UINT64_MAX, 7, out, MAX), MAX);
		for (uint32_t i = 1; i <= MAX; i++)
			began_index_remove(&x, 100 * round + i % 7, 1000 * round + i);
		ASSERT_EQ(began_index_range(&x, 0, UINT64_MAX, 7, out, MAX), 0);
	}
	began_index_free(&x);
}

int main(void)
{
	RUN_TEST(test_against_reference);
	RUN_TEST(test_oldest_first);
	RUN_TEST(test_full_table);
	TEST_MAIN_END();
}
