/* Event-loop order (join_loop.c) on the shapes of real runs: the times
 * below (us) are those of test_attr_haproxy_connect runs in which a
 * /refused0 request (retries 0) and a /refused2 request (retries 2) were
 * read by one HAProxy thread together, and HAProxy's log says which
 * connect was whose. */
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

/* Read 0 (retries 0) then 1; 0's connect fails, 1's first connect comes
 * before 0's retry could: 0 had one try, 1 the other three.  Nearness
 * had given 0 the first two. */
static void test_second_read_served_before_a_retry(void)
{
	struct loop_req r[] = { req(848, 942), req(855, 1028) };
	struct loop_att a[] = { refused(880, 899), refused(913, 920), refused(988, 996),
				refused(1013, 1020) };
	bool unique;

	ASSERT_EQ(tries_of(r, 2, a, 4, 0, &unique), 0x1u);
	ASSERT_TRUE(unique);
	ASSERT_EQ(tries_of(r, 2, a, 4, 1, &unique), 0xeu);
	ASSERT_TRUE(unique);
}

/* Read 1 (retries 2) then 0: 1's first try, then 0's (0 waited since its
 * read, 1 only since its failure), then 1's two retries.  Nearness had
 * given 0 three tries and 1 one. */
static void test_interleaved_retry_chain(void)
{
	struct loop_req r[] = { req(267, 439), req(271, 344) };
	struct loop_att a[] = { refused(286, 294), refused(304, 311), refused(331, 338),
				refused(415, 426) };
	bool unique;

	ASSERT_EQ(tries_of(r, 2, a, 4, 1, &unique), 0x2u);
	ASSERT_TRUE(unique);
	ASSERT_EQ(tries_of(r, 2, a, 4, 0, &unique), 0xdu);
	ASSERT_TRUE(unique);
}

/* Two requests with three tries each (retries 2), read 6 us apart: the
 * tries alternate.  The order alone also allows the first to stop after
 * its second try, passed over at the fourth connect, and the second to
 * make four; but the first was answered after a later turn of the loop
 * began (the fifth connect retries a failure seen after the pass): no. */
static void test_passed_over_is_answered_in_its_turn(void)
{
	struct loop_req r[] = { req(75547, 75747), req(75633, 75801) };
	struct loop_att a[] = { refused(75576, 75596), refused(75656, 75665),
				refused(75675, 75681), refused(75702, 75708),
				refused(75718, 75724), refused(75785, 75792) };
	bool unique;

	ASSERT_EQ(tries_of(r, 2, a, 6, 0, &unique), 0x0bu);
	ASSERT_TRUE(unique);
	ASSERT_EQ(tries_of(r, 2, a, 6, 1, &unique), 0x34u);
	ASSERT_TRUE(unique);
}

/* The same, the second request passed over at the last connect, with no
 * connect after to show a later turn: the first request's answer, after
 * its fourth try failed (a later turn), came before the second's. */
static void test_passed_over_answered_before_later_answers(void)
{
	struct loop_req r[] = { req(15486, 15651), req(15492, 15693) };
	struct loop_att a[] = { refused(15518, 15536), refused(15550, 15557),
				refused(15578, 15584), refused(15594, 15600),
				refused(15615, 15622), refused(15631, 15637) };
	bool unique;

	ASSERT_EQ(tries_of(r, 2, a, 6, 0, &unique), 0x15u);
	ASSERT_TRUE(unique);
	ASSERT_EQ(tries_of(r, 2, a, 6, 1, &unique), 0x2au);
	ASSERT_TRUE(unique);
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
	RUN_TEST(test_second_read_served_before_a_retry);
	RUN_TEST(test_interleaved_retry_chain);
	RUN_TEST(test_passed_over_is_answered_in_its_turn);
	RUN_TEST(test_passed_over_answered_before_later_answers);
	RUN_TEST(test_tie_is_no_answer);
	RUN_TEST(test_fixed_owner_against_order);
	RUN_TEST(test_waiting_request_not_passed_over);
	RUN_TEST(test_bounds);
	RUN_TEST(test_search_cut_off);
	TEST_MAIN_END();
}
