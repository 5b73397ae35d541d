/* Connection classification: synthetic gs_conn_event records, shaped like
 * the ones bpf/conn.bpf.c emits for each outcome, through conn_classify(). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "conntable.h"
#include "testlib.h"

#define MS 1000000ull
#define T0 (1000 * 1000 * MS)	/* a boot-time clock far from zero */

/* An upstream IPv4 connection that began at T0; fields set per test. */
static struct gs_conn_event upstream4(const char *dst, uint16_t dport)
{
	struct gs_conn_event e = {
		.type = GS_EV_CONN, .size = sizeof(e), .sk = 0xffff8880deadbeefull,
		.ts_start = T0, .pid = 4242, .tid = 4242, .family = AF_INET,
		.sport = 40000, .dport = dport, .direction = GS_DIR_UPSTREAM,
		.comm = "gw-test",
	};

	inet_pton(AF_INET, "10.1.2.3", e.saddr);
	inet_pton(AF_INET, dst, e.daddr);
	return e;
}

/* A connection that reached ESTABLISHED after connect_ms and closed cleanly. */
static struct gs_conn_event established4(double connect_ms)
{
	struct gs_conn_event e = upstream4("192.0.2.10", 8080);

	e.flags = GS_CONN_F_ESTABLISHED | GS_CONN_F_DESTROYED;
	e.ts_established = T0 + (uint64_t)(connect_ms * MS);
	e.ts_fin = e.ts_established + 50 * MS;
	e.ts_close = e.ts_fin + 1 * MS;
	e.fin_by = GS_FIN_LOCAL;
	e.bytes_sent = 120;
	e.bytes_received = 4000;
	return e;
}

/* A connect that never got an answer it liked: SYN out, close after wait_ms. */
static struct gs_conn_event never_established4(double wait_ms)
{
	struct gs_conn_event e = upstream4("192.0.2.20", 9000);

	e.flags = GS_CONN_F_DESTROYED;
	e.ts_close = T0 + (uint64_t)(wait_ms * MS);
	e.close_state = 2;	/* TCP_SYN_SENT */
	return e;
}

static void test_established_ok(void)
{
	struct gs_conn_event e = established4(1.25);
	struct conn_outcome o;

	e.retrans = 2;
	e.syn_retrans = 1;
	conn_classify(&e, &o);
	ASSERT_TRUE(o.upstream);
	ASSERT_TRUE(o.established);
	ASSERT_EQ(o.failure, CONNECT_OK);
	ASSERT_NEAR(o.connect_ms, 1.25, 1e-9);
	ASSERT_EQ(o.resets_received, 0);
	ASSERT_EQ(o.resets_sent, 0);
	ASSERT_EQ(o.retransmits, 3);
	ASSERT_STREQ(o.peer, "192.0.2.10:8080");
	ASSERT_STREQ(o.local, "10.1.2.3:40000");
	ASSERT_TRUE(!conn_is_failure(&o));
	ASSERT_STREQ(connect_failure_name(o.failure), "ok");
}

/* Nothing listening: the SYN is answered by an RST (flag set in SYN_SENT),
 * the caller sees ECONNREFUSED.  Either sign alone is enough, and that RST
 * is the refusal, not a reset of a connection. */
static void test_refused(void)
{
	static const struct { uint32_t flags; int err; unsigned rst_in; } cases[] = {
		{ GS_CONN_F_RST_IN_SYN, ECONNREFUSED, 1 },
		{ GS_CONN_F_RST_IN_SYN, 0, 1 },
		{ 0, ECONNREFUSED, 1 },
		{ 0, ECONNREFUSED, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gs_conn_event e = never_established4(0.1);
		struct conn_outcome o;

		e.flags |= cases[i].flags;
		e.sk_err = cases[i].err;
		e.rst_received = cases[i].rst_in;
		e.ts_rst = e.ts_close;
		e.rst_state = 2;	/* TCP_SYN_SENT */
		conn_classify(&e, &o);
		if (o.failure != CONNECT_REFUSED || o.resets_received || o.resets_sent)
			TL_FAIL("case %zu: failure %s resets %u/%u, expected refused 0/0", i,
				connect_failure_name(o.failure), o.resets_received, o.resets_sent);
		ASSERT_TRUE(!o.established);
		ASSERT_TRUE(o.connect_ms < 0);
		ASSERT_TRUE(conn_is_failure(&o));
	}
	ASSERT_STREQ(connect_failure_name(CONNECT_REFUSED), "refused");
}

/* An ICMP host or network unreachable reaches the socket as sk_err. */
static void test_unreachable(void)
{
	static const int errs[] = { EHOSTUNREACH, ENETUNREACH };

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		struct gs_conn_event e = never_established4(3000);
		struct conn_outcome o;

		e.sk_err = errs[i];
		e.syn_retrans = 1;
		conn_classify(&e, &o);
		ASSERT_EQ(o.failure, CONNECT_UNREACHABLE);
		ASSERT_EQ(o.retransmits, 1);
		ASSERT_EQ(o.resets_received, 0);
		ASSERT_TRUE(conn_is_failure(&o));
	}
	ASSERT_STREQ(connect_failure_name(CONNECT_UNREACHABLE), "unreachable");
}

/* No answer at all: the caller gave up (no error) or the kernel did
 * (ETIMEDOUT after the SYN retries). */
static void test_timeout(void)
{
	static const int errs[] = { 0, ETIMEDOUT };

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		struct gs_conn_event e = never_established4(7000);
		struct conn_outcome o;

		e.sk_err = errs[i];
		e.syn_retrans = 3;
		conn_classify(&e, &o);
		ASSERT_EQ(o.failure, CONNECT_TIMEOUT);
		ASSERT_EQ(o.retransmits, 3);
		ASSERT_TRUE(o.connect_ms < 0);
		ASSERT_TRUE(conn_is_failure(&o));
		ASSERT_STREQ(o.peer, "192.0.2.20:9000");
	}
	ASSERT_STREQ(connect_failure_name(CONNECT_TIMEOUT), "timeout");
}

/* The backend resets an established connection: a reset received, not a
 * connect failure, and connect latency is still known. */
static void test_reset_received(void)
{
	struct gs_conn_event e = established4(0.5);
	struct conn_outcome o;

	e.rst_received = 1;
	e.ts_rst = e.ts_established + 5 * MS;
	e.rst_state = 1;	/* TCP_ESTABLISHED */
	e.sk_err = ECONNRESET;
	e.fin_by = GS_FIN_NONE;
	conn_classify(&e, &o);
	ASSERT_EQ(o.failure, CONNECT_OK);
	ASSERT_TRUE(o.established);
	ASSERT_EQ(o.resets_received, 1);
	ASSERT_EQ(o.resets_sent, 0);
	ASSERT_NEAR(o.connect_ms, 0.5, 1e-9);
	ASSERT_TRUE(conn_is_failure(&o));
}

/* The gateway aborts an established connection (SO_LINGER 0 close). */
static void test_reset_sent(void)
{
	struct gs_conn_event e = established4(2);
	struct conn_outcome o;

	e.rst_sent = 1;
	e.ts_rst = e.ts_established + 5 * MS;
	e.rst_state = 1;
	conn_classify(&e, &o);
	ASSERT_EQ(o.failure, CONNECT_OK);
	ASSERT_EQ(o.resets_received, 0);
	ASSERT_EQ(o.resets_sent, 1);
	ASSERT_TRUE(conn_is_failure(&o));
}

/* Downstream connections (accepted by the traced process) have no connect
 * outcome or connect latency of their own, whatever their flags say. */
static void test_downstream(void)
{
	struct gs_conn_event e = never_established4(100);
	struct conn_outcome o;

	e.direction = GS_DIR_DOWNSTREAM;
	conn_classify(&e, &o);
	ASSERT_TRUE(!o.upstream);
	ASSERT_EQ(o.failure, CONNECT_OK);
	ASSERT_TRUE(!conn_is_failure(&o));

	e = established4(1);
	e.direction = GS_DIR_DOWNSTREAM;
	e.rst_received = 1;
	conn_classify(&e, &o);
	ASSERT_TRUE(!o.upstream);
	ASSERT_TRUE(o.connect_ms < 0);
	ASSERT_EQ(o.resets_received, 1);
}

static void test_ipv6_labels(void)
{
	struct gs_conn_event e = established4(1);
	struct conn_outcome o;

	e.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", e.saddr);
	inet_pton(AF_INET6, "2001:db8:0:7::2a", e.daddr);
	e.dport = 443;
	conn_classify(&e, &o);
	ASSERT_STREQ(o.peer, "[2001:db8:0:7::2a]:443");
	ASSERT_STREQ(o.local, "[2001:db8::1]:40000");

	/* A dual-stack socket talking to IPv4 is labelled as IPv4, so the
	 * backend gets one label whichever socket family reached it. */
	inet_pton(AF_INET6, "::ffff:192.0.2.10", e.daddr);
	inet_pton(AF_INET6, "::ffff:10.1.2.3", e.saddr);
	e.dport = 8080;
	conn_classify(&e, &o);
	ASSERT_STREQ(o.peer, "192.0.2.10:8080");
	ASSERT_STREQ(o.local, "10.1.2.3:40000");

	/* ::1 and an address that merely ends like a mapped one stay IPv6. */
	inet_pton(AF_INET6, "::1", e.daddr);
	conn_classify(&e, &o);
	ASSERT_STREQ(o.peer, "[::1]:8080");
	inet_pton(AF_INET6, "64:ff9b::c000:20a", e.daddr);
	conn_classify(&e, &o);
	ASSERT_STREQ(o.peer, "[64:ff9b::c000:20a]:8080");
}

/* A connection open before gatescope started: found established, its
 * connect never seen.  No connect time (ts_established equals the time it
 * was found, which would read as a 0 ms connect), no connect counted. */
static void test_adopted(void)
{
	struct gs_conn_event e = established4(0);
	struct conn_outcome o;

	e.flags |= GS_CONN_F_ADOPTED;
	conn_classify(&e, &o);
	ASSERT_TRUE(o.adopted);
	ASSERT_TRUE(o.established);
	ASSERT_EQ(o.failure, CONNECT_OK);
	ASSERT_TRUE(o.connect_ms < 0);
	e.flags &= ~GS_CONN_F_ADOPTED;
	conn_classify(&e, &o);
	ASSERT_TRUE(!o.adopted);
	ASSERT_NEAR(o.connect_ms, 0, 1e-9);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_established_ok);
	RUN_TEST(test_refused);
	RUN_TEST(test_unreachable);
	RUN_TEST(test_timeout);
	RUN_TEST(test_reset_received);
	RUN_TEST(test_reset_sent);
	RUN_TEST(test_downstream);
	RUN_TEST(test_ipv6_labels);
	RUN_TEST(test_adopted);
	TEST_MAIN_END();
}
