// SPDX-License-Identifier: MIT
/* The join's path ids against a plain list of held paths: random holds and
 * releases of paths from a small set, under real hashes and under hashes
 * made to collide (every path in one or two probe chains, so that a
 * release moves the entries after it back).  Equal paths must share an
 * id, distinct paths must not, and every path let go of by all its
 * holders must be gone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "path_ids.h"
#include "testlib.h"

#define HOLDERS 300
#define PATHS 64

static uint64_t rng_state = 7;

static uint64_t rng_next(void)
{
	return tl_rng_next(&rng_state);
}

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* hash_kind 0: real hashes; 1: all in one chain; 2: two chains. */
static uint32_t hash_of(const char *s, int hash_kind)
{
	return hash_kind == 0 ? fnv(s) : hash_kind == 1 ? 5 : 5 + (fnv(s) & 1);
}

static void against_reference(int hash_kind)
{
	struct path_ids t;
	char paths[PATHS][16];
	int held_path[HOLDERS];	/* -1: free */
	uint32_t held_id[HOLDERS];

	for (int i = 0; i < PATHS; i++)
		snprintf(paths[i], sizeof(paths[i]), "/p/%d", i);
	ASSERT_EQ(path_ids_init(&t, HOLDERS), 0);
	for (int h = 0; h < HOLDERS; h++)
		held_path[h] = -1;
	for (int step = 0; step < 200000; step++) {
		int h = (int)(rng_next() % HOLDERS);

		if (held_path[h] < 0) {
			int p = (int)(rng_next() % PATHS);

			held_path[h] = p;
			held_id[h] = path_ids_get(&t, paths[p], hash_of(paths[p], hash_kind));
			ASSERT_TRUE(held_id[h] != 0);
		} else {
			path_ids_put(&t, held_id[h]);
			held_path[h] = -1;
		}
		if (step % 97)
			continue;
		/* Same path, same id; another path, another id; as many entries
		 * in use as distinct paths held. */
		uint32_t distinct = 0;
		bool seen[PATHS] = { false };

		for (int a = 0; a < HOLDERS; a++) {
			if (held_path[a] < 0)
				continue;
			distinct += !seen[held_path[a]];
			seen[held_path[a]] = true;
			for (int b = a + 1; b < HOLDERS; b++)
				if (held_path[b] >= 0)
					ASSERT_EQ(held_path[a] == held_path[b], held_id[a] == held_id[b]);
		}
		ASSERT_EQ(t.used, distinct);
	}
	for (int h = 0; h < HOLDERS; h++)
		if (held_path[h] >= 0)
			path_ids_put(&t, held_id[h]);
	ASSERT_EQ(t.used, 0);
	for (uint32_t i = 0; i <= t.mask; i++)
		ASSERT_EQ(t.index[i], 0);
	path_ids_free(&t);
}

static void test_real_hashes(void)
{
	against_reference(0);
}

static void test_one_chain(void)
{
	against_reference(1);
}

static void test_two_chains(void)
{
	against_reference(2);
}

/* Every holder at once, each with its own path: the table is full, and
 * one more is refused (0: compared by string), never a wrong id. */
static void test_full(void)
{
	struct path_ids t;
	char p[32];

	ASSERT_EQ(path_ids_init(&t, 8), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(p, sizeof(p), "/full/%d", i);
		ASSERT_EQ(path_ids_get(&t, p, fnv(p)), (uint32_t)i + 1);
	}
	ASSERT_EQ(path_ids_get(&t, "/one/more", fnv("/one/more")), 0);
	ASSERT_EQ(path_ids_get(&t, "/full/3", fnv("/full/3")), 4);	/* held again: no new entry */
	path_ids_put(&t, 0);	/* nothing */
	path_ids_free(&t);
}

int main(void)
{
	RUN_TEST(test_real_hashes);
	RUN_TEST(test_one_chain);
	RUN_TEST(test_two_chains);
	RUN_TEST(test_full);
	TEST_MAIN_END();
}
