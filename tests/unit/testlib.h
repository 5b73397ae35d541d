/* Tiny unit-test runner in the style of the kernel's test_progs.h: ASSERT_*
 * print expected vs. actual and fail the current test; every test prints one
 * "PASS name" / "FAIL name" line that tests/run.sh counts. */
#ifndef GS_TESTLIB_H
#define GS_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int tl_failed_tests, tl_cur_failed;
static const char *tl_cur;

#define TL_FAIL(fmt, ...)							\
	do {									\
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
		tl_cur_failed = 1;						\
	} while (0)

#define ASSERT_TRUE(c)	do { if (!(c)) TL_FAIL("expected true: %s", #c); } while (0)
#define ASSERT_EQ(a, b)								\
	do {									\
		long long _a = (long long)(a), _b = (long long)(b);		\
		if (_a != _b)							\
			TL_FAIL("%s == %s: got %lld, expected %lld", #a, #b, _a, _b); \
	} while (0)
#define ASSERT_NEAR(a, b, tol)							\
	do {									\
		double _a = (a), _b = (b);					\
		if (!(fabs(_a - _b) <= (tol)))					\
			TL_FAIL("%s ~= %s: got %.6f, expected %.6f +- %.6f", #a, #b, _a, _b, (double)(tol)); \
	} while (0)
#define ASSERT_STREQ(a, b)							\
	do {									\
		const char *_a = (a), *_b = (b);				\
		if (!_a || !_b || strcmp(_a, _b))				\
			TL_FAIL("%s == %s: got \"%s\", expected \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
	} while (0)

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
