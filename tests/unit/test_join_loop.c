/* Event-loop order (join_loop.c) on the shapes of real runs: the times
 * below (us) are those of test_attr_haproxy_connect runs in which two
 * failing requests (/refused0: retries 0, /refused2: retries 2 over two
 * servers) were read by one HAProxy thread together, and HAProxy's log
 * says how many connects each made, and to which server last. */
#include <string.h>
#include "testlib.h"
#include "join_loop.h"

#define US 1000ull

static struct loop_att refused(uint64_t began_us, uint64_t end_us)
{
	return (struct loop_att){ .began = began_us * US, .end = end_us * US, .fixed = -1 };
}

static struct loop_req req(uint64_t read_us, uint64_t answered_us)
{
	return (struct loop_req){ .queued = read_us * US, .answered = answered_us * US };
}

/* Solve for target; the attempts given to it as a bit mask. */
static unsigned tries_of(const struct loop_req *r, unsigned nr, const struct loop_att *a,
			 unsigned na, unsigned target, bool *unique)
{
	struct loop_result res;
	unsigned mask = 0;

	*unique = loop_solve(r, nr, a, na, target, &res);
	for (unsigned i = 0; i < na; i++)
		mask |= (unsigned)(res.owner[i] == (int)target) << i;
	return mask;
}

/* Two requests of one thread and their refused connects, in us, with
 * HAProxy's answer: the connects (bit i: the i-th to begin) each made. */
struct shape {
	const char *name;
	uint64_t read[2], answered[2];
	uint64_t began[6], end[6];
	unsigned natt;
	unsigned tries[2];
};

static const struct shape shapes[] = {
	/* Read 0 (retries 0) then 1; 0's connect fails, 1's first connect
	 * comes before 0's retry could: 0 had one try, 1 the other three.
	 * Nearness had given 0 the first two. */
	{ "second read served before a retry", { 848, 855 }, { 942, 1028 },
	  { 880, 913, 988, 1013 }, { 899, 920, 996, 1020 }, 4, { 0x1, 0xe } },
	/* Read 0 (retries 2) then 1: 0's first try, then 1's (1 waited
	 * since its read, 0 only since its failure), then 0's two retries.
	 * Nearness had given 1 three tries and 0 one. */
	{ "interleaved retry chain", { 267, 271 }, { 439, 344 },
	  { 286, 304, 331, 415 }, { 294, 311, 338, 426 }, 4, { 0xd, 0x2 } },
	/* Three tries each (retries 2), read 86 us apart: the tries
	 * alternate.  The order alone also lets 0 stop after its second try,
	 * passed over at the fourth connect, and 1 make four; but 0 was
	 * answered after a later turn of the loop began (the fifth connect
	 * retries a failure seen after the pass): no. */
	{ "passed over is answered in its turn", { 75547, 75633 }, { 75747, 75801 },
	  { 75576, 75656, 75675, 75702, 75718, 75785 },
	  { 75596, 75665, 75681, 75708, 75724, 75792 }, 6, { 0x0b, 0x34 } },
	/* The same read 6 us apart, 1 passed over at the last connect, with
	 * no connect after to show a later turn: 0's answer, after its
	 * fourth try failed (a later turn), came before 1's. */
	{ "passed over answered before later answers", { 15486, 15492 }, { 15651, 15693 },
	  { 15518, 15550, 15578, 15594, 15615, 15631 },
	  { 15536, 15557, 15584, 15600, 15622, 15637 }, 6, { 0x15, 0x2a } },
};

/* Each request of each shape gets exactly the tries HAProxy logged, and
 * no other order the events allow says otherwise. */
static void test_real_shapes(void)
{
	for (unsigned k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		const struct shape *sh = &shapes[k];
		struct loop_req r[2];
		struct loop_att a[6];
		bool unique;

		for (unsigned q = 0; q < 2; q++)
			r[q] = req(sh->read[q], sh->answered[q]);
		for (unsigned i = 0; i < sh->natt; i++)
			a[i] = refused(sh->began[i], sh->end[i]);
		for (unsigned q = 0; q < 2; q++) {
			unsigned got = tries_of(r, 2, a, sh->natt, q, &unique);

			if (got != sh->tries[q] || !unique)
				fprintf(stderr, "  %s: request %u\n", sh->name, q);
			ASSERT_EQ(got, sh->tries[q]);
			ASSERT_TRUE(unique);
		}
	}
}

/* Two requests read at once (within LOOP_TIE_NS): either may have been
 * served first, and the tries do not tell: no answer. */
static void test_tie_is_no_answer(void)
{
	struct loop_req r[] = { req(100, 200), req(100, 200) };
	struct loop_att a[] = { refused(120, 130), refused(140, 150) };
	struct loop_result res;

	ASSERT_TRUE(!loop_solve(r, 2, a, 2, 0, &res));
	ASSERT_TRUE(res.solutions >= 2);
	ASSERT_TRUE(!res.agree);
}

/* A try already given to a request the loop's order cannot have served
 * with it: no solution, no answer. */
static void test_fixed_owner_against_order(void)
{
	struct loop_req r[] = { req(100, 300), req(110, 300) };
	struct loop_att a[] = { refused(120, 130), refused(140, 150) };
	struct loop_result res;

	a[0].fixed = 1;	/* 0 was read first and waits: 1 cannot go first */
	ASSERT_TRUE(!loop_solve(r, 2, a, 2, 0, &res));
	ASSERT_EQ(res.solutions, 0u);
}

/* A request waiting for its first try is never passed over: unless it
 * was answered before the try failed (served without one, it waits for
 * none), the try is its. */
static void test_waiting_request_not_passed_over(void)
{
	struct loop_req r[] = { req(100, 400), req(105, 200) };
	struct loop_att a[] = { refused(120, 130) };
	bool unique;

	ASSERT_EQ(tries_of(r, 2, a, 1, 0, &unique), 0x1u);
	ASSERT_TRUE(unique);
	r[0].answered = 125 * US;	/* before the try failed: served without one */
	ASSERT_EQ(tries_of(r, 2, a, 1, 1, &unique), 0x1u);
	ASSERT_TRUE(unique);
}

/* Past its bounds the search gives no answer rather than a guess. */
static void test_bounds(void)
{
	struct loop_req r[LOOP_MAX_REQS + 1];
	struct loop_att a[1] = { refused(10, 20) };
	struct loop_result res;

	for (unsigned k = 0; k <= LOOP_MAX_REQS; k++)
		r[k] = req(1, 0);
	ASSERT_TRUE(!loop_solve(r, LOOP_MAX_REQS + 1, a, 1, 0, &res));
	ASSERT_TRUE(res.gave_up);
	ASSERT_TRUE(!loop_solve(r, 2, a, 1, 5, &res));	/* no such target */
}

/* Many requests read at once, each retried once: the ties make the
 * search wide; it stops at LOOP_MAX_NODES and says so. */
static void test_search_cut_off(void)
{
	struct loop_req r[12];
	struct loop_att a[24];
	struct loop_result res;

	for (unsigned k = 0; k < 12; k++)
		r[k] = req(100, 0);
	for (unsigned i = 0; i < 24; i++)
		a[i] = refused(200 + 10 * i, 205 + 10 * i);
	ASSERT_TRUE(!loop_solve(r, 12, a, 24, 0, &res));
	ASSERT_TRUE(res.gave_up || !res.agree);
}

int main(void)
{
	RUN_TEST(test_real_shapes);
	RUN_TEST(test_tie_is_no_answer);
	RUN_TEST(test_fixed_owner_against_order);
	RUN_TEST(test_waiting_request_not_passed_over);
	RUN_TEST(test_bounds);
	RUN_TEST(test_search_cut_off);
	TEST_MAIN_END();
}
