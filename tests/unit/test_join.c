/* The join engine: which attempts a request gets, how the join is labelled,
 * and when it is decided.  Synthetic requests and attempts in the shapes
 * real gateways produce: interleaved event loops, rewritten paths,
 * goroutines on other threads, failed connects answered before their
 * sockets close, unreadable upstream bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attribute.h"
#include "join.h"
#include "join_match.h"
#include "testlib.h"

#define MS 1000000ull
#define US 1000ull
#define T0 (1000 * 1000 * MS)
#define PID 10

static struct request decided[64];
static unsigned ndecided;
static struct attempt orphans[64];
static unsigned norphans;

static struct attempt decided_attempts[64][REQ_ATTEMPTS];

/* A decided request, kept with its attempts (the joiner's only while it
 * is handed over). */
static void on_request(const struct request *r, void *ctx)
{
	(void)ctx;
	if (ndecided == 64)
		return;
	decided[ndecided] = *r;
	decided[ndecided].attempts = decided_attempts[ndecided];
	memcpy(decided_attempts[ndecided], r->attempts, r->nattempts * sizeof(*r->attempts));
	ndecided++;
}

static void on_orphan(const struct attempt *a, void *ctx)
{
	(void)ctx;
	if (norphans < 64)
		orphans[norphans++] = *a;
}

static void setup(struct joiner *j)
{
	ndecided = norphans = 0;
	ASSERT_EQ(join_init(j, 0, 0, on_request, on_orphan, NULL), 0);
}

/* The decided request with this path or status; NULL when none was
 * decided (the test stops at ASSERT_NOT_NULL). */
static struct request *by_path(const char *path)
{
	for (unsigned i = 0; i < ndecided; i++)
		if (!strcmp(decided[i].path, path))
			return &decided[i];
	return NULL;
}

/* The two decided requests with these paths: false (the test stops)
 * unless both were decided. */
static bool decided_pair(const char *p1, const char *p2, const struct request **r1,
			 const struct request **r2)
{
	*r1 = by_path(p1);
	*r2 = by_path(p2);
	return ASSERT_NOT_NULL(*r1) && ASSERT_NOT_NULL(*r2);
}

static struct request *by_status(uint16_t status)
{
	for (unsigned i = 0; i < ndecided; i++)
		if (decided[i].status == status)
			return &decided[i];
	return NULL;
}

static uint32_t request(struct joiner *j, const char *path, uint32_t tid, uint64_t at)
{
	struct request r = { .pid = PID, .tid = tid, .ts_start = at };

	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.path, sizeof(r.path), "%s", path);
	return join_request_start(j, &r);
}

static void answer(struct joiner *j, uint32_t id, uint16_t status, uint64_t at)
{
	struct request *r = join_request(j, id);

	r->status = status;
	r->ts_response = r->ts_done = at;
	join_request_finish(j, id);
}

static struct attempt attempt_proto(const char *path, uint32_t tid, const char *be, uint64_t at)
{
	struct attempt a = { .pid = PID, .tid = tid, .ts_start = at, .ts_request = at,
			     .connect_ms = -1, .resp_body_end = HTTP_UNKNOWN };

	snprintf(a.backend, sizeof(a.backend), "%s", be);
	if (path) {
		snprintf(a.method, sizeof(a.method), "GET");
		snprintf(a.path, sizeof(a.path), "%s", path);
	}
	return a;
}

static uint32_t attempt(struct joiner *j, const char *path, uint32_t tid, const char *be, uint64_t at)
{
	struct attempt a = attempt_proto(path, tid, be, at);

	return join_attempt_start(j, &a);
}

static void responded(struct joiner *j, uint32_t id, uint16_t status, uint64_t at)
{
	struct attempt *a = join_attempt(j, id);

	a->status = status;
	a->ts_resp_read = a->ts_resp_kernel = at;
}

/* The gateway closed the attempt's connection at `at` without an answer. */
static void abandoned(struct joiner *j, uint32_t id, uint64_t at)
{
	struct attempt *a = join_attempt(j, id);

	a->have_conn = true;
	a->failure = ATTEMPT_ABANDONED;
	a->conn.ts_start = a->ts_start;
	a->conn.ts_fin = a->conn.ts_close = at;
	a->conn.fin_by = GS_FIN_LOCAL;
}

/* A connect made on thread tid and refused at `at`, no bytes. */
static uint32_t refused_on(struct joiner *j, const char *be, uint32_t tid, uint64_t start,
			   uint64_t at)
{
	struct attempt a = attempt_proto(NULL, tid, be, start);

	a.opaque = true;
	a.ts_request = 0;
	a.have_conn = true;
	a.failure = ATTEMPT_REFUSED;
	a.conn.ts_start = start;
	a.conn.ts_rst = a.conn.ts_close = at;
	return join_attempt_start(j, &a);
}

/* A connect that failed: refused at `at`, no bytes. */
static uint32_t failed_connect(struct joiner *j, const char *be, uint64_t start, uint64_t at)
{
	return refused_on(j, be, 99, start, at);
}

/* Two clients ask one worker for the same path; the worker writes the
 * upstream requests in the other order; the slow one times out.  Each
 * request gets the attempt whose end is nearest its answer. */
static void test_same_path_out_of_order(void)
{
	struct joiner j;
	const struct request *ok, *failed;
	uint32_t a, b, ua, ub;

	setup(&j);
	a = request(&j, "/x", 1, T0);
	b = request(&j, "/x", 1, T0 + 1 * MS);
	ub = attempt(&j, "/x", 1, "198.18.0.3:80", T0 + 2 * MS);	/* b's, written first */
	ua = attempt(&j, "/x", 1, "198.18.0.2:80", T0 + 3 * MS);
	responded(&j, ub, 200, T0 + 10 * MS);
	answer(&j, b, 200, T0 + 10 * MS + 50000);
	abandoned(&j, ua, T0 + 1003 * MS);
	answer(&j, a, 504, T0 + 1003 * MS + 40000);
	join_poll(&j, T0 + 2000 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_NOT_NULL(by_path("/x"));
	for (unsigned i = 0; i < ndecided; i++) {
		const struct request *r = &decided[i];

		ASSERT_EQ(r->nattempts, 1);
		ASSERT_STREQ(r->attempts[0].backend, r->status == 200 ? "198.18.0.3:80" : "198.18.0.2:80");
	}
	ok = by_status(200);
	failed = by_status(504);
	if (!ASSERT_NOT_NULL(ok) || !ASSERT_NOT_NULL(failed))
		goto out;
	/* Decided first, b chose between two attempts with its content by
	 * time on its thread; a then had only one left. */
	ASSERT_EQ(ok->join, JOIN_ORDER);
	ASSERT_EQ(failed->join, JOIN_CONTENT);
out:
	join_free(&j);
}

/* nginx proxy_pass http://be/v2/: the upstream path has another prefix,
 * the same tail; another request's attempt on another path is not taken. */
static void test_rewritten_prefix(void)
{
	struct joiner j;
	const struct request *d1, *d2;
	uint32_t r1, r2, u1, u2;

	setup(&j);
	r1 = request(&j, "/api/items/7", 1, T0);
	r2 = request(&j, "/api/items/8", 1, T0 + MS);
	u2 = attempt(&j, "/v2/items/8", 1, "198.18.0.2:80", T0 + 2 * MS);
	u1 = attempt(&j, "/v2/items/7", 1, "198.18.0.2:80", T0 + 3 * MS);
	responded(&j, u1, 200, T0 + 5 * MS);
	responded(&j, u2, 200, T0 + 5 * MS + 1000);
	answer(&j, r1, 200, T0 + 5 * MS + 2000);
	answer(&j, r2, 200, T0 + 5 * MS + 3000);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	if (!decided_pair("/api/items/7", "/api/items/8", &d1, &d2))
		goto out;
	ASSERT_EQ(d1->join, JOIN_CONTENT);
	ASSERT_EQ(d1->attempts[0].ts_request, T0 + 3 * MS);
	ASSERT_EQ(d2->attempts[0].ts_request, T0 + 2 * MS);
	ASSERT_TRUE(!join_attempt(&j, u1) && !join_attempt(&j, u2));
out:
	join_free(&j);
}

/* Two routes, the same tail, answered within microseconds: each request
 * takes the attempt with exactly its path; the tail is no evidence when
 * another request has exactly that path. */
static void test_exact_path_over_tail(void)
{
	struct joiner j;
	const struct request *da, *db;
	uint32_t ra, rb, ua, ub;

	setup(&j);
	ra = request(&j, "/a/1/2", 1, T0);
	rb = request(&j, "/b/1/2", 1, T0 + 10000);
	ub = attempt(&j, "/b/1/2", 1, "198.18.0.3:80", T0 + 20000);
	ua = attempt(&j, "/a/1/2", 1, "198.18.0.2:80", T0 + 30000);
	responded(&j, ub, 502, T0 + 400000);
	responded(&j, ua, 502, T0 + 400100);
	answer(&j, ra, 502, T0 + 400200);
	answer(&j, rb, 502, T0 + 400300);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	if (!decided_pair("/a/1/2", "/b/1/2", &da, &db))
		goto out;
	ASSERT_STREQ(da->attempts[0].backend, "198.18.0.2:80");
	ASSERT_STREQ(db->attempts[0].backend, "198.18.0.3:80");
	ASSERT_EQ(da->join, JOIN_CONTENT);
out:
	join_free(&j);
}

/* A shared last segment is not a rewritten prefix: "/b/1/2" is not
 * "/status/200/2". */
static void test_tail_needs_two_segments(void)
{
	struct joiner j;
	uint32_t r1, u1;

	setup(&j);
	r1 = request(&j, "/b/1/2", 1, T0);
	u1 = attempt(&j, "/status/200/2", 1, "198.18.0.2:80", T0 + MS);
	responded(&j, u1, 200, T0 + 2 * MS);
	answer(&j, r1, 200, T0 + 3 * MS);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 0);
	ASSERT_EQ(decided[0].join, JOIN_NONE);
	join_free(&j);
}

/* A propagated id decides even when content and time point elsewhere. */
static void test_request_id_first(void)
{
	struct joiner j;
	struct attempt p1 = attempt_proto("/x", 1, "198.18.0.2:80", T0 + 2 * MS);
	struct attempt p2 = attempt_proto("/x", 1, "198.18.0.3:80", T0 + 3 * MS);
	uint32_t r1, u1, u2;

	setup(&j);
	r1 = request(&j, "/x", 1, T0);
	join_request(&j, r1)->req_id = 42;
	p1.req_id = 43;
	p2.req_id = 42;
	u1 = join_attempt_start(&j, &p1);
	u2 = join_attempt_start(&j, &p2);
	responded(&j, u1, 200, T0 + 9 * MS);
	responded(&j, u2, 200, T0 + 5 * MS);
	answer(&j, r1, 200, T0 + 9 * MS);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].join, JOIN_ID);
	ASSERT_STREQ(decided[0].attempts[0].backend, "198.18.0.3:80");
	join_free(&j);
}

/* Copied header values tell apart requests for the same path. */
static void test_fingerprint_separates(void)
{
	struct joiner j;
	const struct request *dx;
	struct attempt p1 = attempt_proto("/x", 1, "198.18.0.2:80", T0 + 2 * MS);
	struct attempt p2 = attempt_proto("/x", 1, "198.18.0.3:80", T0 + 2 * MS + 100);
	struct http_fp fa = { .n = 1, .name = { HTTP_FP_USER_AGENT }, .hash = { 111 } };
	struct http_fp fb = { .n = 1, .name = { HTTP_FP_USER_AGENT }, .hash = { 222 } };
	uint32_t r1, r2, u1, u2;

	setup(&j);
	r1 = request(&j, "/x", 1, T0);
	r2 = request(&j, "/x", 1, T0 + 100);
	join_request(&j, r1)->fp = fa;
	join_request(&j, r2)->fp = fb;
	p1.fp = fb;
	p2.fp = fa;
	u1 = join_attempt_start(&j, &p1);
	u2 = join_attempt_start(&j, &p2);
	responded(&j, u1, 200, T0 + 5 * MS);
	responded(&j, u2, 503, T0 + 5 * MS + 10);
	answer(&j, r1, 503, T0 + 5 * MS + 20);
	answer(&j, r2, 200, T0 + 5 * MS + 30);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	dx = by_path("/x");
	if (!ASSERT_NOT_NULL(dx))
		goto out;
	ASSERT_STREQ(dx->attempts[0].backend,
		     dx->status == 503 ? "198.18.0.3:80" : "198.18.0.2:80");
	for (unsigned i = 0; i < ndecided; i++) {
		ASSERT_EQ(decided[i].join, JOIN_CONTENT);
		ASSERT_EQ(decided[i].attempts[0].status, decided[i].status);
	}
out:
	join_free(&j);
}

/* A goroutine proxy: the client head is read on one thread, the upstream
 * request written on another.  Threads are a hint, not a key. */
static void test_other_thread(void)
{
	struct joiner j;
	uint32_t r1, u1;

	setup(&j);
	r1 = request(&j, "/g", 7, T0);
	u1 = attempt(&j, "/g", 8, "198.18.0.2:80", T0 + MS);
	responded(&j, u1, 200, T0 + 3 * MS);
	answer(&j, r1, 200, T0 + 3 * MS + 100);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 1);
	ASSERT_EQ(decided[0].join, JOIN_CONTENT);
	join_free(&j);
}

/* An attempt for /g on a connection dialed at `connect`, its request
 * written at `write`. */
static uint32_t attempt_dialed(struct joiner *j, const char *be, uint64_t connect,
			       uint64_t write)
{
	struct attempt a = attempt_proto("/g", 8, be, connect);

	a.ts_request = write;
	return join_attempt_start(j, &a);
}

/* A Transport that dials ahead (Go's): a connection dialed while an
 * earlier request waited, which that request did not use, sits in the
 * pool; a later request is written on it.  Its connect came before that
 * request began, its request write after: with no other candidate, it is
 * the request's attempt.  One written before a request began is not that
 * request's. */
static void test_connection_dialed_ahead(void)
{
	struct joiner j;
	uint32_t r1, r2, u1, u2;

	setup(&j);
	r1 = request(&j, "/g", 7, T0 + 11 * MS);
	u1 = attempt_dialed(&j, "198.18.0.2:80", T0 + 10 * MS, T0 + 15 * MS);
	responded(&j, u1, 200, T0 + 17 * MS);
	answer(&j, r1, 200, T0 + 18 * MS);

	u2 = attempt_dialed(&j, "198.18.0.3:80", T0 + 8 * MS, T0 + 19 * MS);
	r2 = request(&j, "/g", 7, T0 + 20 * MS);
	responded(&j, u2, 200, T0 + 21 * MS);
	answer(&j, r2, 200, T0 + 22 * MS);

	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_EQ(decided[0].nattempts, 1);
	ASSERT_EQ(decided[0].join, JOIN_CONTENT);
	ASSERT_STREQ(decided[0].attempts[0].backend, "198.18.0.2:80");
	ASSERT_EQ(decided[1].nattempts, 0);
	ASSERT_EQ(decided[1].join, JOIN_NONE);
	join_free(&j);
}

/* A connection dialed ahead is no candidate for a request that has one
 * begun while it was in flight: the usual window decides. */
static void test_dialed_ahead_only_without_candidates(void)
{
	struct joiner j;
	uint32_t r1, u1, u2;

	setup(&j);
	r1 = request(&j, "/g", 7, T0 + 11 * MS);
	u1 = attempt_dialed(&j, "198.18.0.2:80", T0 + 10 * MS, T0 + 12 * MS);
	u2 = attempt(&j, "/g", 8, "198.18.0.3:80", T0 + 13 * MS);
	responded(&j, u1, 200, T0 + 14 * MS);
	responded(&j, u2, 200, T0 + 15 * MS);
	answer(&j, r1, 200, T0 + 16 * MS);

	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 1);
	ASSERT_STREQ(decided[0].attempts[0].backend, "198.18.0.3:80");
	join_free(&j);
}

/* HAProxy answers a refused connect before it closes the socket, and
 * retries: every failed connect that began inside the request's lifetime
 * is one of its attempts, bound by time.  The request waits for them. */
static void test_failed_connects_late(void)
{
	struct joiner j;
	uint32_t r1;

	setup(&j);
	r1 = request(&j, "/r", 1, T0);
	failed_connect(&j, "198.18.0.2:80", T0 + MS, T0 + 2 * MS);
	failed_connect(&j, "198.18.0.2:80", T0 + 1002 * MS, T0 + 1003 * MS);
	answer(&j, r1, 503, T0 + 2003 * MS);
	join_poll(&j, T0 + 2003 * MS + 50 * MS);
	ASSERT_EQ(ndecided, 0);		/* still inside its join wait */
	/* the last attempt's connection: reported when the kernel knew it */
	failed_connect(&j, "198.18.0.2:80", T0 + 2002 * MS, T0 + 2003 * MS - 1000);
	join_poll(&j, T0 + 2003 * MS + 100 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 3);
	ASSERT_EQ(decided[0].join, JOIN_TIME);
	ASSERT_EQ(decided[0].attempts[2].failure, ATTEMPT_REFUSED);
	ASSERT_EQ(decided[0].attempts[0].ts_start, T0 + MS);
	join_free(&j);
}

/* Six refused tries of one request on one event-loop thread (retries 5),
 * joined by the loop's order: a request holds the newest four, its last
 * among them, and says some were left out. */
static void test_loop_chain_longer_than_kept(void)
{
	struct joiner j;
	uint32_t r1;

	setup(&j);
	r1 = request(&j, "/r", 99, T0);
	for (unsigned k = 0; k < 6; k++)
		failed_connect(&j, "198.18.0.2:80", T0 + (10 * k + 1) * US, T0 + (10 * k + 5) * US);
	answer(&j, r1, 503, T0 + 70 * US);
	join_poll(&j, T0 + 70 * US + 100 * MS);
	if (!ASSERT_EQ(ndecided, 1))
		return;
	ASSERT_EQ(decided[0].join, JOIN_TIME);
	ASSERT_EQ(decided[0].nattempts, REQ_ATTEMPTS);
	ASSERT_EQ(decided[0].attempts[REQ_ATTEMPTS - 1].ts_start, T0 + 51 * US);
	ASSERT_EQ(decided[0].attempts[0].ts_start, T0 + 21 * US);
	ASSERT_TRUE(decided[0].attempts_dropped > 0);
	join_free(&j);
}

/* Two clients, a backend that refuses: each refusal is answered 502,
 * b's at b_answer.  The first request answered must not take the other's
 * refusal as an earlier try of its own (which would leave the other with
 * none, blamed on the gateway). */
static void refusals_answered(uint64_t b_answer)
{
	struct joiner j;
	const struct request *d1, *d2;
	uint32_t ra, rb;

	setup(&j);
	ra = request(&j, "/d/1", 1, T0);
	rb = request(&j, "/d/2", 1, T0 + 100000);
	failed_connect(&j, "198.18.0.2:80", T0 + 150000, T0 + 200000);	/* b's */
	failed_connect(&j, "198.18.0.2:80", T0 + 300000, T0 + 350000);	/* a's */
	answer(&j, ra, 502, T0 + 400000);
	answer(&j, rb, 502, b_answer);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	if (!decided_pair("/d/1", "/d/2", &d1, &d2))
		goto out;
	ASSERT_EQ(d1->nattempts, 1);
	ASSERT_EQ(d2->nattempts, 1);
	ASSERT_EQ(d1->attempts[0].ts_start, T0 + 300000);
	ASSERT_EQ(d2->attempts[0].ts_start, T0 + 150000);
out:
	join_free(&j);
}

/* Each refusal answered at once. */
/* One connection's HTTP/2 streams refused in turn (nginx 1.22, times in
 * us as recorded): each connect begins after the previous refusal, and
 * the three 502s come after all of them.  The first refusal began before
 * the other streams arrived: it alone is the first stream's; the other two
 * are the other streams', not its retries.  A request of another route in
 * flight meanwhile, answered later with a failure but with an attempt of
 * its own content, is no claimant of the refusals. */
static void test_stream_refusals_in_turn(void)
{
	static const char *const paths[] = { "/down/c1-1", "/down/c1-2", "/down/c1-3" };
	struct joiner j;
	uint32_t r[3], other;

	setup(&j);
	other = request(&j, "/reset/x", 2, T0 - 300000);
	abandoned(&j, attempt(&j, "/reset/x", 2, "198.18.0.3:80", T0 - 200000), T0 + 1150000);
	r[0] = request(&j, paths[0], 1, T0);
	failed_connect(&j, "198.18.0.2:80", T0 + 236000, T0 + 276000);
	r[1] = request(&j, paths[1], 1, T0 + 387000);
	r[2] = request(&j, paths[2], 1, T0 + 483000);
	failed_connect(&j, "198.18.0.2:80", T0 + 613000, T0 + 629000);
	failed_connect(&j, "198.18.0.2:80", T0 + 720000, T0 + 726000);
	answer(&j, r[0], 502, T0 + 906000);
	answer(&j, r[1], 502, T0 + 1023000);
	answer(&j, r[2], 502, T0 + 1089000);
	answer(&j, other, 502, T0 + 1200000);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 4);
	ASSERT_EQ(by_path("/reset/x")->nattempts, 1);
	for (unsigned i = 0; i < 3; i++) {
		const struct request *d = by_path(paths[i]);

		ASSERT_NOT_NULL(d);
		ASSERT_EQ(d->nattempts, 1);
	}
	ASSERT_EQ(by_path(paths[0])->attempts[0].ts_start, T0 + 236000);
	join_free(&j);
}

static void test_refusal_not_a_retry(void)
{
	refusals_answered(T0 + 600000);
}

/* The same on a loaded host: the goroutine that answers b runs 30 ms
 * after b's refusal, after a was answered.  b's refusal is the attempt
 * nearest b's 502, so it is not a's earlier try. */
static void test_refusal_answered_late(void)
{
	refusals_answered(T0 + 30 * MS);
}

/* A retry is still a retry when another request is in flight: b has an
 * attempt of its own (open when a is decided), so a's refused first try
 * stays a's. */
static void test_retry_beside_another(void)
{
	struct joiner j;
	const struct request *d1, *d2;
	uint32_t ra, rb, ub;

	setup(&j);
	ra = request(&j, "/d/1", 1, T0);
	rb = request(&j, "/d/2", 1, T0 + 100000);
	failed_connect(&j, "198.18.0.2:80", T0 + 150000, T0 + 200000);	/* a's first */
	ub = attempt(&j, "/d/2", 1, "198.18.0.3:80", T0 + 250000);	/* b's */
	abandoned(&j, attempt(&j, "/d/1", 1, "198.18.0.3:80", T0 + 300000), T0 + 60 * MS);
	answer(&j, ra, 504, T0 + 60 * MS + 100000);
	join_poll(&j, T0 + 300 * MS);
	ASSERT_EQ(ndecided, 1);
	d1 = by_path("/d/1");
	if (!ASSERT_NOT_NULL(d1))
		goto out;
	ASSERT_EQ(d1->nattempts, 2);
	responded(&j, ub, 200, T0 + 400 * MS);
	answer(&j, rb, 200, T0 + 400 * MS + 100000);
	join_poll(&j, T0 + 600 * MS);
	d2 = by_path("/d/2");
	if (ASSERT_NOT_NULL(d2))
		ASSERT_EQ(d2->nattempts, 1);
out:
	join_free(&j);
}

/* HAProxy retries a refused connect at once, twice, while another
 * client's request to a refusing server is answered 1.7 ms after the
 * first request's second try: that request has a nearer refusal of its
 * own, so the tries stay in their chain. */
static void test_retries_beside_refusal(void)
{
	struct joiner j;
	uint32_t r, o;

	setup(&j);
	r = request(&j, "/r2", 1, T0);
	o = request(&j, "/r0", 1, T0 + 250000);
	failed_connect(&j, "198.18.0.2:80", T0 + 100000, T0 + 200000);
	failed_connect(&j, "198.18.0.3:80", T0 + 300000, T0 + 400000);
	failed_connect(&j, "198.18.0.2:80", T0 + 500000, T0 + 600000);
	failed_connect(&j, "198.18.0.2:80", T0 + 350000, T0 + 2 * MS);	/* o's */
	answer(&j, r, 503, T0 + 700000);
	answer(&j, o, 503, T0 + 2 * MS + 100000);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_EQ(by_path("/r2")->nattempts, 3);
	ASSERT_EQ(by_path("/r0")->nattempts, 1);
	ASSERT_EQ(by_path("/r0")->attempts[0].ts_start, T0 + 350000);
	join_free(&j);
}

/* A connect the gateway gave up on at `at` (its timer), no bytes. */
static uint32_t timed_out_connect(struct joiner *j, const char *be, uint64_t start, uint64_t at)
{
	struct attempt a = attempt_proto(NULL, 1, be, start);

	a.opaque = true;
	a.ts_request = 0;
	a.have_conn = true;
	a.failure = ATTEMPT_CONNECT_TIMEOUT;
	a.conn.ts_start = start;
	a.conn.ts_close = at;
	return join_attempt_start(j, &a);
}

/* HAProxy, retries 2, recorded (ms from the first request): a request
 * whose three tries are refused in 0.2 ms while another request's connect
 * (SYNs dropped) runs to its 1 s timeout, answered 5.8 ms after the
 * middle refusal.  That request was waiting on its own connect all
 * through the refusal: the refusal is the retrying request's middle try,
 * not the other's answer (which left a try out of the chain and made the
 * other request ambiguous). */
static void test_refusal_while_another_connects(void)
{
	struct joiner j;
	uint32_t o, r;

	setup(&j);
	o = request(&j, "/synd0/c2-1", 1, T0 + 604152000);
	timed_out_connect(&j, "198.18.0.3:80", T0 + 604272000, T0 + 1615275000);
	r = request(&j, "/refused2/c1-3", 1, T0 + 1600284000);
	failed_connect(&j, "198.18.0.4:80", T0 + 1600375000, T0 + 1600448000);
	failed_connect(&j, "198.18.0.2:80", T0 + 1600512000, T0 + 1600522000);
	failed_connect(&j, "198.18.0.4:80", T0 + 1600554000, T0 + 1600560000);
	answer(&j, r, 503, T0 + 1600639000);
	answer(&j, o, 503, T0 + 1606339000);
	join_poll(&j, T0 + 3000 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_NOT_NULL(by_path("/refused2/c1-3"));
	ASSERT_EQ(by_path("/refused2/c1-3")->nattempts, 3);
	ASSERT_NOT_NULL(by_path("/synd0/c2-1"));
	ASSERT_EQ(by_path("/synd0/c2-1")->nattempts, 1);
	ASSERT_EQ(by_path("/synd0/c2-1")->attempts[0].failure, ATTEMPT_CONNECT_TIMEOUT);
	join_free(&j);
}

/* A connect on thread tid still waiting for its SYN's answer. */
static uint32_t open_connect(struct joiner *j, const char *be, uint32_t tid, uint64_t start)
{
	struct attempt a = attempt_proto(NULL, tid, be, start);

	a.opaque = true;
	a.ts_request = 0;
	return join_attempt_start(j, &a);
}

/* HAProxy, one thread, recorded shape (us from A's read): B (/refused2,
 * retries 2) read 30 us before A (/refused0, retries 0); B's first try
 * refused, then A's, then, while A is answered, B's two retries.  A
 * connect to a server that drops SYNs (another client's request, read
 * meanwhile) begins in A's window and is still open when A is decided:
 * no try of A or B (both answered long before), it is left out of the
 * loop's replay, which gives A one try and B three.  (The replay gave
 * up on it, and nearness made B's first refusal A's earlier try: 2 and
 * 2, where HAProxy logged 1 and 3.) */
static void test_refusals_beside_open_connect(void)
{
	struct joiner j;
	uint32_t a, b;

	setup(&j);
	b = request(&j, "/refused2/b", 1, T0 - 30 * US);
	a = request(&j, "/refused0/a", 1, T0);
	refused_on(&j, "198.18.0.2:80", 1, T0 + 50 * US, T0 + 60 * US);	/* B's */
	refused_on(&j, "198.18.0.2:80", 1, T0 + 80 * US, T0 + 90 * US);	/* A's */
	open_connect(&j, "198.18.0.9:80", 1, T0 + 100 * US);	/* another's, SYNs dropped */
	answer(&j, a, 503, T0 + 120 * US);
	refused_on(&j, "198.18.0.3:80", 1, T0 + 130 * US, T0 + 140 * US);	/* B's */
	refused_on(&j, "198.18.0.2:80", 1, T0 + 150 * US, T0 + 160 * US);	/* B's */
	answer(&j, b, 503, T0 + 180 * US);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 2);
	if (!ASSERT_NOT_NULL(by_path("/refused0/a")) || !ASSERT_NOT_NULL(by_path("/refused2/b")))
		goto out;
	ASSERT_EQ(by_path("/refused0/a")->nattempts, 1);
	ASSERT_EQ(by_path("/refused0/a")->attempts[0].ts_start, T0 + 80 * US);
	ASSERT_EQ(by_path("/refused2/b")->nattempts, 3);
	ASSERT_EQ(by_path("/refused2/b")->attempts[0].ts_start, T0 + 50 * US);
out:
	join_free(&j);
}

/* The matching under it: requests 0-2 could have made attempts {0,1},
 * {0}, {1,2}: each gets one (0 moves to 1 for request 1); without attempt
 * 0 two can; without 0 and 1 only one; an empty graph none. */
static void test_match_max(void)
{
	struct join_match m = { .adj = { 0x3, 0x1, 0x6 }, .nreq = 3 };
	struct join_match none = { .nreq = 0 };

	ASSERT_EQ(join_match_max(&m, 0), 3);
	ASSERT_EQ(join_match_max(&m, 0x1), 2);
	ASSERT_EQ(join_match_max(&m, 0x3), 1);
	ASSERT_EQ(join_match_max(&m, 0x7), 0);
	ASSERT_EQ(join_match_max(&none, 0), 0);
}

/* Three clients refused at once by a goroutine proxy on a loaded host
 * (times of a kept run of test_attr_down): each request made one connect,
 * refused, and its 502 went out 0.1 to 0.3 ms after its refusal, in
 * another order.  C began after the first two connects ended, so the third
 * is the only one it could have made.  Nearness gave B the third (nearest
 * its answer) and the first as an earlier try, A the second, C none. */
static void test_refusals_of_a_loaded_goroutine_proxy(void)
{
	struct joiner j;
	uint32_t a, b, c;

	setup(&j);
	a = request(&j, "/down/a", 1, T0);
	b = request(&j, "/down/b", 2, T0 + 39 * US);
	refused_on(&j, "198.18.0.2:80", 3, T0 + 241 * US, T0 + 278 * US);
	refused_on(&j, "198.18.0.2:80", 4, T0 + 334 * US, T0 + 342 * US);
	c = request(&j, "/down/c", 5, T0 + 381 * US);
	refused_on(&j, "198.18.0.2:80", 6, T0 + 412 * US, T0 + 420 * US);
	answer(&j, b, 502, T0 + 552 * US);
	answer(&j, a, 502, T0 + 585 * US);
	answer(&j, c, 502, T0 + 596 * US);
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(ndecided, 3);
	for (unsigned i = 0; i < ndecided; i++)
		ASSERT_EQ(decided[i].nattempts, 1);
	if (ASSERT_NOT_NULL(by_path("/down/c")) && by_path("/down/c")->nattempts)
		ASSERT_EQ(by_path("/down/c")->attempts[0].ts_start, T0 + 412 * US);
	join_free(&j);
}

/* Two requests on one HAProxy thread, 0.7 ms apart, each retried twice
 * against two SYN-dropping servers: their tries run in step and their
 * last closes come in one batch of timers, 0.3 ms apart.  Each retry
 * chain began right after its own request arrived: that settles it. */
static void test_retries_in_step(void)
{
	struct joiner j;
	uint32_t r1, r2;

	setup(&j);
	r1 = request(&j, "/s/1", 1, T0);
	r2 = request(&j, "/s/2", 1, T0 + 700000);
	timed_out_connect(&j, "198.18.0.3:80", T0 + 100000, T0 + 1000 * MS);
	timed_out_connect(&j, "198.18.0.2:80", T0 + 800000, T0 + 1000 * MS + 300000);
	timed_out_connect(&j, "198.18.0.2:80", T0 + 1000 * MS + 200000, T0 + 2000 * MS);
	timed_out_connect(&j, "198.18.0.3:80", T0 + 1000 * MS + 350000, T0 + 2000 * MS + 200000);
	timed_out_connect(&j, "198.18.0.3:80", T0 + 2000 * MS + 100000, T0 + 3020 * MS);
	timed_out_connect(&j, "198.18.0.2:80", T0 + 2000 * MS + 250000, T0 + 3020 * MS + 300000);
	answer(&j, r1, 503, T0 + 3003 * MS);
	answer(&j, r2, 503, T0 + 3020 * MS + 100000);
	join_poll(&j, T0 + 4000 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_EQ(by_path("/s/1")->join, JOIN_TIME);
	ASSERT_EQ(by_path("/s/1")->nattempts, 3);
	ASSERT_EQ(by_path("/s/2")->nattempts, 3);
	ASSERT_STREQ(by_path("/s/1")->attempts[2].backend, "198.18.0.3:80");
	ASSERT_STREQ(by_path("/s/2")->attempts[2].backend, "198.18.0.2:80");
	ASSERT_EQ(by_path("/s/1")->attempts[0].ts_start, T0 + 100000);
	join_free(&j);
}

/* The Go proxy (goroutines) with one slow server: two clients ask for the
 * same path 100 ms apart, each attempt times out 1 s after it began, and
 * the first client's 504 is written 90 ms after its attempt closed (its
 * goroutine ran late), 10 ms before the second attempt closed.  The
 * nearest close is the second request's: taken, it leaves the second
 * request only an attempt begun before it read its head (unjoined, as in
 * 1 of 50 504s of scn_mixed/go).  Same outcome either way, so the
 * first request takes the oldest, and both are joined. */
static void test_late_answers_same_outcome(void)
{
	struct joiner j;
	uint32_t r1, r2, u1, u2;

	setup(&j);
	r1 = request(&j, "/m", 1, T0);
	u1 = attempt(&j, "/m", 2, "198.18.0.3:80", T0 + 10 * MS);
	r2 = request(&j, "/m", 3, T0 + 100 * MS);
	u2 = attempt(&j, "/m", 2, "198.18.0.3:80", T0 + 110 * MS);
	abandoned(&j, u1, T0 + 1010 * MS);
	abandoned(&j, u2, T0 + 1110 * MS);
	answer(&j, r1, 504, T0 + 1100 * MS);
	answer(&j, r2, 504, T0 + 1115 * MS);
	join_poll(&j, T0 + 5000 * MS);
	ASSERT_EQ(ndecided, 2);
	for (unsigned i = 0; i < ndecided; i++) {
		ASSERT_EQ(decided[i].nattempts, 1);
		ASSERT_TRUE(decided[i].nattempts &&
			    decided[i].attempts[0].ts_start >= decided[i].ts_start);
	}
	join_free(&j);
}

/* The Go proxy with one slow server (scn_mixed/go, mx.1): r1's attempt u1
 * began first and timed out first, but its connection's close (its TCP
 * facts) had not come when r1 was decided, 100 ms after its 504; r2's
 * attempt u2, begun 30 ms later, was given up on 30 ms after r1's answer,
 * next to r2's own 504.  Taking u2 (the only ended fit) left r2 nothing:
 * unjoined, and r1 named u2's server, right only by luck.  u2 ended nearer
 * r2's answer, which it explains, and began after u1, still open: it is
 * r2's, and r1 waits for u1's facts (late: then joined with them; never:
 * unknown, without them). */
static void check_own_close_late(bool closes)
{
	struct joiner j;
	uint32_t r1, r2, u1, u2;

	setup(&j);
	r1 = request(&j, "/m", 1, T0);
	u1 = attempt(&j, "/m", 2, "198.18.0.3:80", T0 + MS);
	r2 = request(&j, "/m", 3, T0 + 30 * MS);
	u2 = attempt(&j, "/m", 2, "198.18.0.4:80", T0 + 31 * MS);
	answer(&j, r1, 504, T0 + 1001 * MS);
	abandoned(&j, u2, T0 + 1031 * MS);
	join_attempt_closed(&j);
	answer(&j, r2, 504, T0 + 1031 * MS + 100 * US);
	join_poll(&j, T0 + 1200 * MS);	/* both past their wait; u1 still open */
	ASSERT_EQ(ndecided, 1);
	if (closes && ASSERT_TRUE(join_attempt(&j, u1) != NULL)) {
		abandoned(&j, u1, T0 + 1000 * MS + 900 * US);
		join_attempt_closed(&j);
	}
	join_poll(&j, T0 + 5000 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_EQ(j.st.facts_timeouts, closes ? 0 : 1);
	if (!ASSERT_NOT_NULL(by_status(504)))
		goto out;
	for (unsigned i = 0; i < ndecided; i++) {
		const struct request *r = &decided[i];
		bool first = r->ts_start == T0;

		if (!ASSERT_EQ(r->nattempts, 1))
			continue;
		ASSERT_STREQ(r->attempts[0].backend, first ? "198.18.0.3:80" : "198.18.0.4:80");
		ASSERT_EQ(r->attempts[0].have_conn, !first || closes);
	}
out:
	join_free(&j);
}

static void test_own_close_late(void)
{
	check_own_close_late(true);
	check_own_close_late(false);
}

/* A loaded Go proxy: r1's own attempt answered 200 before r1 was read
 * (another request's, really: the answers came 300 ms late), and the only
 * attempt begun while r1 was in flight hangs on the slow server.  An
 * attempt with no answer cannot have given r1 its 200: r1 stays unjoined,
 * and the hanging attempt is left to the 504 it explains. */
static void test_open_attempt_not_for_an_answer(void)
{
	struct joiner j;
	uint32_t r1, r2, u0, u1;

	setup(&j);
	r2 = request(&j, "/m", 1, T0 - 100 * MS);
	u0 = attempt(&j, "/m", 2, "198.18.0.2:80", T0 - 90 * MS);
	responded(&j, u0, 200, T0 - 50 * MS);
	r1 = request(&j, "/m", 3, T0);
	u1 = attempt(&j, "/m", 2, "198.18.0.3:80", T0 + 10 * MS);
	answer(&j, r1, 200, T0 + 400 * MS);
	join_poll(&j, T0 + 900 * MS);	/* r1 is decided while u1 still hangs */
	if (ASSERT_TRUE(join_attempt(&j, u1) != NULL))	/* not handed over with r1 */
		abandoned(&j, u1, T0 + 1010 * MS);
	answer(&j, r2, 504, T0 + 1020 * MS);
	join_poll(&j, T0 + 5000 * MS);
	ASSERT_EQ(ndecided, 2);
	for (unsigned i = 0; i < ndecided; i++) {
		if (decided[i].status == 200) {
			ASSERT_EQ(decided[i].nattempts, 0);
		} else if (ASSERT_EQ(decided[i].nattempts, 1)) {
			ASSERT_STREQ(decided[i].attempts[0].backend, "198.18.0.3:80");
		}
	}
	join_free(&j);
}

/* HAProxy gives up on a connect, begins the retry, and aborts the old
 * socket 7 ms later, in a later turn of its loop: still one chain. */
static void test_retry_before_close(void)
{
	struct joiner j;
	uint32_t r1;

	setup(&j);
	r1 = request(&j, "/s/1", 1, T0);
	timed_out_connect(&j, "198.18.0.2:80", T0 + 100000, T0 + 1007 * MS);
	timed_out_connect(&j, "198.18.0.3:80", T0 + 1000 * MS + 700000, T0 + 2001 * MS);
	answer(&j, r1, 503, T0 + 2000 * MS + 800000);
	join_poll(&j, T0 + 3000 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 2);
	ASSERT_STREQ(decided[0].attempts[0].backend, "198.18.0.2:80");
	join_free(&j);
}

/* A 504 and two opaque attempts (TLS) ending 0.1 ms either side of it
 * with different outcomes: the engine says ambiguous and binds nothing. */
static void test_ambiguous(void)
{
	struct joiner j;
	uint32_t r1, u1, u2;
	struct attempt a = attempt_proto(NULL, 1, "198.18.0.2:80", T0 + MS);
	struct attempt b = attempt_proto(NULL, 1, "198.18.0.3:80", T0 + MS);

	setup(&j);
	r1 = request(&j, "/t", 1, T0);
	a.opaque = b.opaque = true;
	a.ts_request = b.ts_request = T0 + 2 * MS;
	a.have_conn = b.have_conn = true;
	a.failure = b.failure = ATTEMPT_ABANDONED;
	/* a: the gateway gave up on it just after answering; b: the backend
	 * reset it just before (the gateway may have answered that). */
	a.conn.ts_fin = a.conn.ts_close = T0 + 1000 * MS + 200000;
	b.conn.ts_rst = b.conn.ts_close = T0 + 1000 * MS;
	b.conn.rst_received = 1;
	b.failure = ATTEMPT_RESET;
	u1 = join_attempt_start(&j, &a);
	u2 = join_attempt_start(&j, &b);
	answer(&j, r1, 504, T0 + 1000 * MS + 100000);
	join_poll(&j, T0 + 1200 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].join, JOIN_AMBIGUOUS);
	ASSERT_EQ(decided[0].nattempts, 0);
	ASSERT_TRUE(join_attempt(&j, u1) && join_attempt(&j, u2));
	join_free(&j);
}

/* A failed request whose attempt is still open waits (bounded) for the
 * connection's TCP facts; a healthy one does not. */
static void test_waits_for_facts(void)
{
	struct joiner j;
	uint32_t r1, u1;

	setup(&j);
	r1 = request(&j, "/w", 1, T0);
	u1 = attempt(&j, "/w", 1, "198.18.0.2:80", T0 + MS);
	answer(&j, r1, 504, T0 + 1000 * MS);
	join_poll(&j, T0 + 1500 * MS);
	ASSERT_EQ(ndecided, 0);
	abandoned(&j, u1, T0 + 1000 * MS - 100);
	join_attempt_closed(&j);
	join_poll(&j, T0 + 1600 * MS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 1);
	ASSERT_TRUE(decided[0].attempts[0].have_conn);
	ASSERT_EQ(j.st.facts_timeouts, 0);
	join_free(&j);
}

/* Attempts no request claims expire and are handed over, counted. */
static void test_orphans_expire(void)
{
	struct joiner j;
	uint32_t u1;

	setup(&j);
	u1 = attempt(&j, "/o", 1, "198.18.0.2:80", T0);
	responded(&j, u1, 200, T0 + MS);
	join_poll(&j, T0 + 2 * JOIN_ATTEMPT_TTL_NS);
	ASSERT_EQ(norphans, 1);
	ASSERT_EQ(j.st.unjoined_attempts, 1);
	ASSERT_TRUE(!join_attempt(&j, u1));
	join_free(&j);
}

/* A full request table (slots requests, one slot kept for "none") decides
 * its oldest request rather than lose new ones; the eviction is counted,
 * the request is unfinished and its evidence names the table's size. */
static void check_full_table(uint32_t max_requests, unsigned slots)
{
	struct joiner j;
	struct verdict v;
	char size[32];

	ndecided = norphans = 0;
	ASSERT_EQ(join_init(&j, 0, max_requests, on_request, on_orphan, NULL), 0);
	for (unsigned i = 0; i < slots; i++)
		request(&j, "/f", 1, T0 + i);
	ASSERT_EQ(j.st.request_evictions, 1);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].ts_start, T0);
	ASSERT_TRUE(request_unfinished(&decided[0]));	/* no outcome: not a failure */
	attribute(&decided[0], &v);
	snprintf(size, sizeof(size), "was full (%u)", slots);
	ASSERT_TRUE(strstr(v.evidence, size) != NULL);
	join_poll(&j, UINT64_MAX);
	ASSERT_EQ(j.st.requests, slots);
	join_free(&j);
}

/* The default table, and one sized smaller (the fuzzing harness's), which
 * fills as soon as it has as many requests in flight; a size below the
 * least is raised to it. */
static void test_full_table(void)
{
	check_full_table(0, JOIN_REQUESTS);
	check_full_table(8, 8);
	check_full_table(1, JOIN_REQUESTS_MIN);
}

/* Requests answered, their bodies still coming, holding every slot of the
 * attempt table with their tries, and an older request still waiting for
 * its answer: a new attempt takes the slots of the oldest request holding
 * some (decided now), never the "none" handle 0. */
static void test_full_attempt_table_claimed(void)
{
	struct joiner j;
	uint32_t old, id;
	char path[16];

	ndecided = norphans = 0;
	ASSERT_EQ(join_init(&j, 0, 8, on_request, on_orphan, NULL), 0);	/* 15 attempts */
	old = request(&j, "/old", 1, T0);
	for (int r = 0; r < 5; r++) {
		uint64_t t = T0 + MS + r * 10 * MS;
		struct request *rq;

		snprintf(path, sizeof(path), "/p%d", r);
		id = request(&j, path, 2 + r, t);
		for (int k = 0; k < 3; k++) {	/* two tries closed, the third answered */
			uint32_t a = attempt(&j, path, 2 + r, "10.0.0.2:80", t + MS + k * 2 * MS);

			if (k < 2)
				abandoned(&j, a, t + 2 * MS + k * 2 * MS);
			else
				responded(&j, a, 200, t + 6 * MS);
		}
		rq = join_request(&j, id);
		rq->status = 200;
		rq->ts_response = t + 7 * MS;
		join_request_answered(&j, id);
	}
	join_poll(&j, T0 + 500 * MS);
	ASSERT_EQ(j.apool.nactive, 15);
	ASSERT_EQ(ndecided, 0);
	id = attempt(&j, "/new", 9, "10.0.0.3:80", T0 + 600 * MS);
	ASSERT_TRUE(id != 0 && join_attempt(&j, id) != NULL);
	ASSERT_EQ(j.st.attempt_evictions, 1);
	ASSERT_EQ(ndecided, 1);
	ASSERT_STREQ(decided[0].path, "/p0");
	ASSERT_EQ(decided[0].nattempts, 3);
	ASSERT_TRUE(join_request(&j, old) != NULL);	/* still waiting for its answer */
	ASSERT_EQ(j.apool.nactive, 13);
	join_poll(&j, UINT64_MAX);
	join_free(&j);
}

/* A request on thread tid answered 200 by its one attempt: read at t,
 * its attempt written at t + 1 ms and answered at t + 2 ms, the client
 * answered at t + 3 ms.  Returns the request. */
static uint32_t exchange_ok(struct joiner *j, const char *path, uint32_t tid, const char *be,
			    uint64_t t)
{
	uint32_t r = request(j, path, tid, t), a = attempt(j, path, tid, be, t + MS);

	responded(j, a, 200, t + 2 * MS);
	answer(j, r, 200, t + 3 * MS);
	return r;
}

/* A request answered well, whose only candidate read its answer before,
 * is joined JOIN_ANSWERED_WAIT_NS after its answer, not join_wait. */
static void test_answered_well_joins_early(void)
{
	struct joiner j;

	setup(&j);
	exchange_ok(&j, "/ok", 1, "198.18.0.2:80", T0);
	join_poll(&j, T0 + 3 * MS + JOIN_ANSWERED_WAIT_NS - 1);
	ASSERT_EQ(ndecided, 0);
	join_poll(&j, T0 + 3 * MS + JOIN_ANSWERED_WAIT_NS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_EQ(decided[0].nattempts, 1);
	ASSERT_EQ(decided[0].join, JOIN_CONTENT);
	join_free(&j);
}

/* Requests are joined in the order they were answered: one answered well
 * after a failed one waits for it (a failed one may claim refused
 * connects that a later one could take as its retries). */
static void test_answered_well_waits_behind_failed(void)
{
	struct joiner j;
	uint32_t bad;

	setup(&j);
	bad = request(&j, "/bad", 1, T0);
	failed_connect(&j, "198.18.0.2:80", T0 + MS, T0 + 2 * MS);
	answer(&j, bad, 502, T0 + 3 * MS);
	exchange_ok(&j, "/ok", 2, "198.18.0.3:80", T0 + 4 * MS);
	join_poll(&j, T0 + 50 * MS);
	ASSERT_EQ(ndecided, 0);
	join_poll(&j, T0 + 200 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_STREQ(decided[0].path, "/bad");
	ASSERT_EQ(decided[0].nattempts, 1);
	ASSERT_EQ(decided[0].attempts[0].failure, ATTEMPT_REFUSED);
	ASSERT_STREQ(decided[1].path, "/ok");
	ASSERT_EQ(decided[1].nattempts, 1);
	join_free(&j);
}

/* A candidate still open when the request answered well would be joined
 * may yet end nearer its answer: it waits the whole join_wait, and so
 * does a request answered after it. */
static void test_open_candidate_holds(void)
{
	struct joiner j;
	uint32_t r1, a1, a2;

	setup(&j);
	r1 = request(&j, "/x", 1, T0);
	a1 = attempt(&j, NULL, 1, "198.18.0.2:443", T0 + MS);	/* opaque: no answer read */
	join_attempt(&j, a1)->opaque = true;
	a2 = attempt(&j, "/x", 1, "198.18.0.3:80", T0 + 2 * MS);
	responded(&j, a2, 200, T0 + 3 * MS);
	answer(&j, r1, 200, T0 + 4 * MS);
	exchange_ok(&j, "/y", 1, "198.18.0.3:80", T0 + 5 * MS);
	join_poll(&j, T0 + 50 * MS);
	ASSERT_EQ(ndecided, 0);
	join_poll(&j, T0 + 200 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_STREQ(decided[0].path, "/x");
	ASSERT_STREQ(decided[1].path, "/y");
	join_free(&j);
}

/* A request answered well whose exchange is not over when it would be
 * joined early waits the whole join_wait, and so does one answered after
 * it: consumers see requests in the order they were answered (a client's
 * retry after the answer it follows). */
static void test_unfinished_holds(void)
{
	struct joiner j;
	uint32_t r1, a1;
	struct request *r;

	setup(&j);
	r1 = request(&j, "/long", 1, T0);
	a1 = attempt(&j, "/long", 1, "198.18.0.2:80", T0 + MS);
	responded(&j, a1, 200, T0 + 2 * MS);
	r = join_request(&j, r1);
	r->status = 200;
	r->ts_response = T0 + 3 * MS;	/* answered; its body still being written */
	join_request_answered(&j, r1);
	exchange_ok(&j, "/short", 2, "198.18.0.2:80", T0 + 4 * MS);
	join_poll(&j, T0 + 50 * MS);
	ASSERT_EQ(ndecided, 0);
	r->ts_done = T0 + 60 * MS;
	join_request_finish(&j, r1);
	join_poll(&j, T0 + 200 * MS);
	ASSERT_EQ(ndecided, 2);
	ASSERT_STREQ(decided[0].path, "/long");
	ASSERT_STREQ(decided[1].path, "/short");
	join_free(&j);
}

/* A held request delays only the requests answered within its wait: at a
 * loaded gateway that fails now and then, those answered later are joined
 * early again (holding is no chain that a steady flow keeps alive). */
static void test_hold_passes(void)
{
	struct joiner j;
	uint32_t bad;
	char path[16];

	setup(&j);
	bad = request(&j, "/bad", 1, T0);
	failed_connect(&j, "198.18.0.2:80", T0 + MS, T0 + 2 * MS);
	answer(&j, bad, 502, T0 + 3 * MS);
	for (unsigned i = 1; i <= 20; i++) {	/* answered every 10 ms: 13 ms .. 203 ms */
		snprintf(path, sizeof(path), "/ok%u", i);
		exchange_ok(&j, path, 2, "198.18.0.3:80", T0 + i * 10 * MS);
		join_poll(&j, T0 + i * 10 * MS + 3 * MS);
	}
	join_poll(&j, T0 + 209 * MS);
	ASSERT_EQ(ndecided, 21);	/* /ok20, answered at 203 ms, 5 ms later */
	ASSERT_STREQ(decided[0].path, "/bad");
	for (unsigned i = 1; i < ndecided; i++)
		ASSERT_TRUE(decided[i].ts_response > decided[i - 1].ts_response);
	join_free(&j);
}

/* A request answered before a held one is joined no later than its own
 * join_wait, however late that held one was answered. */
static void test_hold_never_beyond_wait(void)
{
	struct joiner j;
	uint32_t bad;

	setup(&j);
	exchange_ok(&j, "/ok", 1, "198.18.0.3:80", T0);	/* answered at 3 ms */
	bad = request(&j, "/bad", 2, T0 + MS);
	failed_connect(&j, "198.18.0.2:80", T0 + 2 * MS, T0 + 3 * MS);
	answer(&j, bad, 502, T0 + 4 * MS);
	join_poll(&j, T0 + 3 * MS + JOIN_WAIT_DEFAULT_NS);
	ASSERT_EQ(ndecided, 1);
	ASSERT_STREQ(decided[0].path, "/ok");
	join_free(&j);
}

int main(void)
{
	RUN_TEST(test_same_path_out_of_order);
	RUN_TEST(test_rewritten_prefix);
	RUN_TEST(test_exact_path_over_tail);
	RUN_TEST(test_tail_needs_two_segments);
	RUN_TEST(test_request_id_first);
	RUN_TEST(test_fingerprint_separates);
	RUN_TEST(test_other_thread);
	RUN_TEST(test_connection_dialed_ahead);
	RUN_TEST(test_dialed_ahead_only_without_candidates);
	RUN_TEST(test_failed_connects_late);
	RUN_TEST(test_loop_chain_longer_than_kept);
	RUN_TEST(test_stream_refusals_in_turn);
	RUN_TEST(test_refusal_while_another_connects);
	RUN_TEST(test_refusal_not_a_retry);
	RUN_TEST(test_refusal_answered_late);
	RUN_TEST(test_retry_beside_another);
	RUN_TEST(test_retries_beside_refusal);
	RUN_TEST(test_retries_in_step);
	RUN_TEST(test_refusals_beside_open_connect);
	RUN_TEST(test_match_max);
	RUN_TEST(test_refusals_of_a_loaded_goroutine_proxy);
	RUN_TEST(test_late_answers_same_outcome);
	RUN_TEST(test_own_close_late);
	RUN_TEST(test_open_attempt_not_for_an_answer);
	RUN_TEST(test_retry_before_close);
	RUN_TEST(test_ambiguous);
	RUN_TEST(test_waits_for_facts);
	RUN_TEST(test_orphans_expire);
	RUN_TEST(test_full_table);
	RUN_TEST(test_full_attempt_table_claimed);
	RUN_TEST(test_answered_well_joins_early);
	RUN_TEST(test_answered_well_waits_behind_failed);
	RUN_TEST(test_open_candidate_holds);
	RUN_TEST(test_unfinished_holds);
	RUN_TEST(test_hold_passes);
	RUN_TEST(test_hold_never_beyond_wait);
	TEST_MAIN_END();
}
