/* The correlator's join of upstream attempts to downstream requests. */
#include <stdio.h>
#include "correlate.h"
#include "testlib.h"

#define MS 1000000ull

static unsigned handed;

static void sink(const struct request *r, void *ctx)
{
	(void)r;
	(void)ctx;
	handed++;
}

static uint32_t start(struct correlator *c, const char *path, uint64_t ts)
{
	struct request proto = { .pid = 10, .tid = 10, .ts_start = ts };

	snprintf(proto.method, sizeof(proto.method), "GET");
	snprintf(proto.path, sizeof(proto.path), "%s", path);
	return corr_request_start(c, &proto);
}

static uint32_t attempt(struct correlator *c, const char *path, uint64_t ts, const char *be)
{
	struct attempt a = { .ts_start = ts, .ts_request = ts };
	unsigned idx;

	snprintf(a.backend, sizeof(a.backend), "%s", be);
	return corr_attempt_start(c, 10, 10, "GET", path, ts, &a, &idx);
}

/* Two clients ask one worker for GET /x at once (requests a, b at 1 and
 * 2 ms), and the worker sends one attempt upstream for each: a's, b's. */
static void two_concurrent(struct correlator *c, uint32_t *a, uint32_t *b)
{
	ASSERT_EQ(corr_init(c, sink, NULL), 0);
	*a = start(c, "/x", 1 * MS);
	*b = start(c, "/x", 2 * MS);
	ASSERT_EQ(attempt(c, "/x", 3 * MS, "198.18.0.1:80"), *a);
	ASSERT_EQ(attempt(c, "/x", 4 * MS, "198.18.0.1:80"), *b);
}

/* Same path at once: one attempt each, in order, not both on the first. */
static void test_same_path_concurrent(void)
{
	static struct correlator c;
	uint32_t a, b;

	two_concurrent(&c, &a, &b);
	ASSERT_EQ(corr_get(&c, a)->nattempts, 1);
	ASSERT_EQ(corr_get(&c, b)->nattempts, 1);
	corr_free(&c);
}

/* A retry joins the request whose attempt failed, even when a later
 * request for the same path waits for its own answer. */
static void test_retry_joins_failed_request(void)
{
	static struct correlator c;
	uint32_t a, b;

	two_concurrent(&c, &a, &b);
	corr_attempt(&c, a, 0)->failure = ATTEMPT_RESET;
	ASSERT_EQ(attempt(&c, "/x", 5 * MS, "198.18.0.2:80"), a);
	ASSERT_EQ(corr_get(&c, a)->nattempts, 2);
	ASSERT_STREQ(corr_get(&c, a)->attempts[1].backend, "198.18.0.2:80");
	ASSERT_EQ(corr_get(&c, b)->nattempts, 1);
	/* With only one request pending, a retry while its first attempt
	 * still looks in flight (its close not seen yet) joins it too. */
	corr_request_done(&c, b);
	ASSERT_EQ(attempt(&c, "/x", 6 * MS, "198.18.0.3:80"), a);
	corr_free(&c);
}

/* A gateway that rewrites the path: the newest request of the thread. */
static void test_rewritten_path(void)
{
	static struct correlator c;
	uint32_t b;

	ASSERT_EQ(corr_init(&c, sink, NULL), 0);
	start(&c, "/a", 1 * MS);
	b = start(&c, "/b", 2 * MS);
	ASSERT_EQ(attempt(&c, "/internal/b", 3 * MS, "198.18.0.1:80"), b);
	/* No request of that thread started before the attempt: unjoined. */
	ASSERT_EQ(attempt(&c, "/b", 0, "198.18.0.1:80"), 0);
	ASSERT_EQ(c.unjoined_attempts, 1);
	corr_free(&c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_same_path_concurrent);
	RUN_TEST(test_retry_joins_failed_request);
	RUN_TEST(test_rewritten_path);
	TEST_MAIN_END();
}
