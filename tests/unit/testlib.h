/* Tiny unit-test runner in the style of the kernel's test_progs.h: ASSERT_*
 * print expected vs. actual, fail the current test and say whether they
 * held; every test prints one "PASS name" / "FAIL name" line that
 * tests/run.sh counts. */
#ifndef GS_TESTLIB_H
#define GS_TESTLIB_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tl_failed_tests, tl_cur_failed;

/* A reproducible random sequence for the tests that draw cases at random
 * (splitmix64): the same state gives the same cases on every run. */
static inline uint64_t tl_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static const char *tl_cur;

#define TL_FAIL(fmt, ...)							\
	do {									\
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
		tl_cur_failed = 1;						\
	} while (0)

/* Every ASSERT_* is an expression: true when it held.  A test that cannot
 * go on after a failure (a NULL would follow) stops there, as the kernel
 * selftests do:
 *	if (!ASSERT_NOT_NULL(r))
 *		return;
 */
#define ASSERT_TRUE(c) ({							\
		bool _ok = (c);							\
		if (!_ok)							\
			TL_FAIL("expected true: %s", #c);			\
		_ok;								\
	})
#define ASSERT_NOT_NULL(p) ({							\
		bool _ok = (p) != NULL;						\
		if (!_ok)							\
			TL_FAIL("expected not NULL: %s", #p);			\
		_ok;								\
	})
#define ASSERT_EQ(a, b) ({							\
		long long _a = (long long)(a), _b = (long long)(b);		\
		if (_a != _b)							\
			TL_FAIL("%s == %s: got %lld, expected %lld", #a, #b, _a, _b); \
		_a == _b;							\
	})
#define ASSERT_NEAR(a, b, tol) ({						\
		double _a = (a), _b = (b);					\
		bool _ok = fabs(_a - _b) <= (tol);				\
		if (!_ok)							\
			TL_FAIL("%s ~= %s: got %.6f, expected %.6f +- %.6f", #a, #b, _a, _b, (double)(tol)); \
		_ok;								\
	})
#define ASSERT_STREQ(a, b) ({							\
		const char *_a = (a), *_b = (b);				\
		bool _ok = _a && _b && !strcmp(_a, _b);				\
		if (!_ok)							\
			TL_FAIL("%s == %s: got \"%s\", expected \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
		_ok;								\
	})

#define RUN_TEST(fn)								\
	do {									\
		tl_cur = #fn;							\
		tl_cur_failed = 0;						\
		fn();								\
		printf("%s %s\n", tl_cur_failed ? "FAIL" : "PASS", tl_cur);	\
		tl_failed_tests += tl_cur_failed;				\
	} while (0)

#define TEST_MAIN_END() return tl_failed_tests ? 1 : 0

#endif
