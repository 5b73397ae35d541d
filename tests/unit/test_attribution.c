/* The attribution engine, timeout inference and ladder warnings, from
 * synthetic requests, and the whole pipeline on a stream recorded with
 * --record from a real nginx (tests/fixtures/nginx_faults.gsr: 2 answered
 * requests, one to a closed port, 3 to a backend that never answers behind
 * proxy_read_timeout 1s, one client that gives up after 0.3 s). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "attribute.h"
#include "pipeline.h"
#include "testlib.h"
#include "attempts_room.h"
#include "timeouts.h"

#define MS 1000000ull
#define T0 (1000 * 1000 * MS)

static struct request req(uint16_t status)
{
	struct request r = { .status = status, .ts_start = T0, .ts_done = T0 + 1000 * MS,
			     .attempts = attempts_room() };

	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.path, sizeof(r.path), "/x");
	return r;
}

/* An attempt whose connection closed with these TCP facts. */
static struct attempt *attempt(struct request *r, enum attempt_failure f)
{
	struct attempt *a = &r->attempts[r->nattempts++];

	snprintf(a->backend, sizeof(a->backend), "198.18.2.2:8080");
	a->ts_start = T0 + MS;
	a->ts_request = T0 + 2 * MS;
	a->failure = f;
	a->have_conn = true;
	a->conn.ts_start = a->ts_start;
	a->conn.ts_established = a->ts_start + MS;
	a->conn.flags = GS_CONN_F_ESTABLISHED;
	a->conn.app_tx_bytes = 100;
	a->conn.bytes_sent = 100;
	a->conn.ts_close = T0 + 1000 * MS;
	return a;
}

static void expect(const struct request *r, enum cause c, const char *reason, const char *term)
{
	struct verdict v;

	attribute(r, &v);
	ASSERT_STREQ(cause_name(v.cause), cause_name(c));
	ASSERT_STREQ(v.reason, reason);
	ASSERT_STREQ(v.term, term);
	if (reason)
		ASSERT_TRUE(v.evidence[0] != 0);
}

static void test_success_has_no_cause(void)
{
	struct request r = req(200);
	struct verdict v;

	attempt(&r, ATTEMPT_OK)->status = 200;
	attribute(&r, &v);
	ASSERT_EQ(v.cause, CAUSE_NONE);
	ASSERT_TRUE(v.reason == NULL);
	ASSERT_STREQ(v.term, "--");
}

/* A request decided unfinished (the request table was full) has no known
 * outcome: unknown, not a client abort and not a failure; one whose client
 * had already left is still the client's. */
static void test_evicted_unfinished(void)
{
	struct request r = req(0);

	r.evicted = true;
	ASSERT_TRUE(request_unfinished(&r));
	ASSERT_TRUE(!request_failed(&r));
	expect(&r, CAUSE_UNKNOWN, "request_evicted", "--");
	r.client_closed = true;
	ASSERT_TRUE(!request_unfinished(&r));
	expect(&r, CAUSE_CLIENT, "client_abort", "CR");
	r = req(504);
	r.evicted = true;	/* answered, then decided early: its status stands */
	ASSERT_TRUE(!request_unfinished(&r));
	ASSERT_TRUE(request_failed(&r));
}

static void test_connect_failures(void)
{
	struct request r = req(502);
	struct attempt *a = attempt(&r, ATTEMPT_REFUSED);

	a->conn.flags = GS_CONN_F_RST_IN_SYN;
	expect(&r, CAUSE_BACKEND, "backend_refused", "SC");
	r = req(504);
	a = attempt(&r, ATTEMPT_CONNECT_TIMEOUT);
	a->conn.flags = 0;
	a->conn.syn_retrans = 2;
	expect(&r, CAUSE_NETWORK, "connect_timeout", "sC");
	r = req(502);
	attempt(&r, ATTEMPT_UNREACHABLE)->conn.sk_err = EHOSTUNREACH;
	expect(&r, CAUSE_NETWORK, "unreachable", "SC");
}

static void test_backend_closes(void)
{
	struct request r = req(502);
	struct attempt *a = attempt(&r, ATTEMPT_RESET);

	a->conn.ts_rst = a->ts_request + 300 * MS;
	expect(&r, CAUSE_BACKEND, "backend_reset", "SH");
	r = req(502);
	a = attempt(&r, ATTEMPT_CLOSED);
	a->conn.ts_fin = a->ts_request + 300 * MS;
	expect(&r, CAUSE_BACKEND, "backend_closed", "SD");
	/* The same close a few ms after a request on a reused connection:
	 * the backend's keep-alive timeout fired first. */
	r = req(502);
	a = attempt(&r, ATTEMPT_CLOSED);
	a->reused = true;
	a->conn.ts_fin = a->ts_request + 2 * MS;
	expect(&r, CAUSE_BACKEND, "stale_keepalive", "SH");
	/* ... but not when the connection was fresh. */
	a->reused = false;
	expect(&r, CAUSE_BACKEND, "backend_closed", "SD");
}

static void test_no_response(void)
{
	struct request r = req(504);
	struct attempt *a = attempt(&r, ATTEMPT_ABANDONED);

	expect(&r, CAUSE_BACKEND, "backend_slow", "sH");
	a->conn.retrans = 3;
	expect(&r, CAUSE_NETWORK, "packet_loss", "sH");
	a->conn.retrans = 0;
	a->conn.bytes_sent = 1;		/* request not acknowledged */
	expect(&r, CAUSE_NETWORK, "packet_loss", "sH");
	a->conn.bytes_sent = 100;
	a->conn.ts_rx_pending = a->ts_request + 10 * MS;	/* answer waited unread */
	expect(&r, CAUSE_GATEWAY, "gateway_stall", "PH");
	/* No TCP facts of the upstream connection: no guess. */
	a->have_conn = false;
	expect(&r, CAUSE_UNKNOWN, "no_tcp_facts", "-H");
}

/* An HTTP/2 stream through HAProxy: HAProxy gave up on it and aborted the
 * shared connection right after its GOAWAY (17 bytes), which the backend
 * never acknowledged; the stream's own request (its frames end at 764)
 * was.  No retransmit: not packet loss (as recorded in test_h2_haproxy,
 * "764 of 781 bytes acked"). */
static void test_h2_unacked_tail(void)
{
	struct request r = req(504);
	struct attempt *a = attempt(&r, ATTEMPT_ABANDONED);

	a->h2_stream = 5;
	a->h2_req_tx_end = 764;
	a->conn.app_tx_bytes = 781;
	a->conn.bytes_sent = 764;
	expect(&r, CAUSE_BACKEND, "backend_slow", "sH");
	a->conn.bytes_sent = 700;	/* the stream's request itself not acked */
	expect(&r, CAUSE_NETWORK, "packet_loss", "sH");
	/* Plaintext offsets (TLS read by uprobes) are no TCP offsets. */
	a->conn.bytes_sent = 764;
	a->conn.flags |= GS_CONN_F_TLS_READ;
	expect(&r, CAUSE_NETWORK, "packet_loss", "sH");
}

static void test_answers(void)
{
	struct request r = req(502);
	struct attempt *a = attempt(&r, ATTEMPT_OK);

	a->status = 429;
	expect(&r, CAUSE_BACKEND, "backend_throttled", "--");
	a->status = 503;
	expect(&r, CAUSE_BACKEND, "backend_error", "--");
	a->retry_after = true;
	expect(&r, CAUSE_BACKEND, "backend_throttled", "--");
	r = req(504);
	attempt(&r, ATTEMPT_OK)->status = 200;
	expect(&r, CAUSE_GATEWAY, "gateway_cutoff", "PD");
	r = req(503);
	expect(&r, CAUSE_GATEWAY, "no_upstream", "P-");
	/* Its process holds upstream connections open since before the
	 * start that were never seen carrying a request (HTTP/2 ones, or
	 * not used since): no proof that it never tried upstream. */
	r.pool_unread = 2;
	expect(&r, CAUSE_UNKNOWN, "unjoined", "--");
	{
		struct verdict v;

		attribute(&r, &v);
		ASSERT_TRUE(strstr(v.evidence, "2 upstream connections") != NULL);
	}
}

static void test_client_abort(void)
{
	struct request r = req(0);

	r.client_closed = true;
	expect(&r, CAUSE_CLIENT, "client_abort", "CR");
	attempt(&r, ATTEMPT_ABANDONED);
	expect(&r, CAUSE_CLIENT, "client_abort", "CH");
	/* The gateway closing on its client without a status is not a
	 * client abort. */
	r.client_closed = false;
	expect(&r, CAUSE_BACKEND, "backend_slow", "sH");
}

/* A client that gave up while the gateway sat on its exchange (an event
 * loop blocked by a synchronous call, recorded in test_attr_loop_block
 * against the asyncio proxy): the gateway's stall when bytes sat unread
 * for at least half of the client's wait, else still the client's abort. */
static void test_client_abort_stalled_gateway(void)
{
	struct request r = req(0);
	struct attempt *a;
	struct verdict v;

	r.client_closed = true;
	r.ts_arrived = T0;
	r.ts_client_fin = T0 + 500 * MS;
	/* The request waited unread 470 ms; no attempt yet. */
	r.ts_start = T0 + 470 * MS;
	r.ts_done = T0 + 1000 * MS;
	expect(&r, CAUSE_GATEWAY, "gateway_stall", "CR");
	/* Read at once: the client's own patience. */
	r.ts_start = T0 + 1 * MS;
	expect(&r, CAUSE_CLIENT, "client_abort", "CR");
	/* The backend answered at +2 ms; the gateway read it at +1000 ms:
	 * 1 + 498 ms unread. */
	a = attempt(&r, ATTEMPT_OK);
	a->status = 200;
	a->ts_resp_kernel = T0 + 2 * MS;
	a->ts_resp_read = T0 + 1000 * MS;
	attribute(&r, &v);
	ASSERT_STREQ(v.reason, "gateway_stall");
	ASSERT_STREQ(v.term, "CH");
	ASSERT_TRUE(strstr(v.evidence, "499.000 ms of it bytes sat unread") != NULL);
	ASSERT_TRUE(strstr(v.evidence, "the answer of 198.18.2.2:8080 from +2.000 ms on") != NULL);
	/* Read at +300 ms, then the client still got nothing: 298 ms of 500
	 * unread is the gateway's. */
	a->ts_resp_read = T0 + 300 * MS;
	expect(&r, CAUSE_GATEWAY, "gateway_stall", "CH");
	/* Read at +200 ms: 198 ms of 500, under half: the client's abort. */
	a->ts_resp_read = T0 + 200 * MS;
	expect(&r, CAUSE_CLIENT, "client_abort", "CH");
	/* An answer that came after the client left proves nothing. */
	a->ts_resp_kernel = T0 + 600 * MS;
	a->ts_resp_read = T0 + 1000 * MS;
	expect(&r, CAUSE_CLIENT, "client_abort", "CH");
	/* No answer read, but bytes waiting since +100 ms: 400 of 500. */
	a->status = 0;
	a->ts_resp_kernel = a->ts_resp_read = 0;
	a->failure = ATTEMPT_ABANDONED;
	a->conn.ts_rx_pending = T0 + 100 * MS;
	expect(&r, CAUSE_GATEWAY, "gateway_stall", "CH");
	/* ... and none: a slow backend, the client's abort. */
	a->conn.ts_rx_pending = 0;
	expect(&r, CAUSE_CLIENT, "client_abort", "CH");
	/* Below 10 ms unread is no stall, even of a short wait. */
	r.ts_client_fin = T0 + 12 * MS;
	r.ts_start = T0 + 8 * MS;
	expect(&r, CAUSE_CLIENT, "client_abort", "CH");
}

static void test_timeouts_cluster(void)
{
	static struct timeouts t;
	struct inferred_timeout inf[8];
	size_t n;

	timeouts_init(&t);
	/* 2.000 s read timeout with scheduling noise, plus two stray closes. */
	for (int i = 0; i < 14; i++)
		timeouts_add(&t, CLOSER_GATEWAY, "198.18.2.2:8080", "read", 2000 * MS + (i % 5) * MS);
	timeouts_add(&t, CLOSER_GATEWAY, "198.18.2.2:8080", "read", 350 * MS);
	timeouts_add(&t, CLOSER_GATEWAY, "198.18.2.2:8080", "read", 7300 * MS);
	/* Two closes are not enough to infer anything. */
	timeouts_add(&t, CLOSER_BACKEND, "198.18.2.2:8080", "idle", 5000 * MS);
	timeouts_add(&t, CLOSER_BACKEND, "198.18.2.2:8080", "idle", 5000 * MS);
	n = timeouts_infer(&t, inf, 8);
	ASSERT_EQ(n, 1);
	ASSERT_NEAR(inf[0].seconds, 2.002, 0.003);
	ASSERT_EQ(inf[0].n, 14);
	ASSERT_STREQ(inf[0].key.kind, "read");
}

/* nginx keeps a read timer armed at the request through reads within
 * 300 ms of it: its closes cluster by the idle time since the request
 * (measured in a loaded run: 1000-1007 ms), not since the last byte read
 * (930-978 ms, scattered).  A timer re-armed at every read clusters by
 * the last read, also when the reads follow the request by a steady
 * 30 ms (the tighter cluster); closes scattered either way infer nothing. */
static size_t infer_either(const uint64_t (*ms)[2], size_t n, struct inferred_timeout *inf)
{
	static struct timeouts t;

	timeouts_init(&t);
	for (size_t i = 0; i < n; i++)
		timeouts_add_either(&t, CLOSER_GATEWAY, "198.18.2.2:8080", "read", ms[i][0] * MS,
				    ms[i][1] * MS);
	return timeouts_infer(&t, inf, 8);
}

static void test_timeouts_armed_earlier(void)
{
	static const uint64_t lazy[][2] = { { 978, 1004 }, { 955, 1007 }, { 931, 1001 }, { 949, 1003 } };
	static const uint64_t rearmed[][2] = { { 1000, 1030 }, { 1001, 1031 }, { 1002, 1028 },
					       { 1000, 1034 } };
	static const uint64_t scattered[][2] = { { 900, 1100 }, { 940, 1180 }, { 980, 1260 },
						 { 1020, 1340 } };
	struct inferred_timeout inf[8];

	ASSERT_EQ(infer_either(lazy, 4, inf), 1);
	ASSERT_NEAR(inf[0].seconds, 1.004, 0.001);
	ASSERT_EQ(inf[0].n, 4);
	ASSERT_EQ(infer_either(rearmed, 4, inf), 1);
	ASSERT_NEAR(inf[0].seconds, 1.001, 0.001);
	ASSERT_EQ(inf[0].n, 4);
	ASSERT_EQ(infer_either(scattered, 4, inf), 0);
}

/* Clients of :80 and a gateway timeout to 198.18.2.2:8080; linked: the
 * port's requests reached that backend. */
static size_t ladder(double client_s, double gateway_s, bool linked,
		     char (*w)[LADDER_WARNING_LEN])
{
	static struct timeouts t;
	struct inferred_timeout inf[8];

	timeouts_init(&t);
	for (int i = 0; i < 5; i++) {
		timeouts_add(&t, CLOSER_CLIENT, "0.0.0.0:80", "response", client_s * 1e9);
		timeouts_add(&t, CLOSER_GATEWAY, "198.18.2.2:8080", "read", gateway_s * 1e9);
	}
	timeouts_link(&t, "0.0.0.0:80", linked ? "198.18.2.2:8080" : "198.18.2.3:8080");
	timeouts_link(&t, "0.0.0.0:443", "198.18.2.2:8080");
	return timeouts_ladder(&t, inf, timeouts_infer(&t, inf, 8), w, 8);
}

static void test_ladder(void)
{
	char w[8][LADDER_WARNING_LEN];

	ASSERT_EQ(ladder(1.5, 2.0, true, w), 1);	/* inverted */
	ASSERT_TRUE(strstr(w[0], "give up after 1.500 s, before the gateway's 2.000 s") != NULL);
	ASSERT_EQ(ladder(3.0, 2.0, true, w), 1);	/* right order, too tight */
	ASSERT_TRUE(strstr(w[0], "tight ladder") != NULL);
	ASSERT_EQ(ladder(5.0, 2.0, true, w), 0);	/* right order, 3 s apart */
	/* The port's requests never reached that backend (another port's
	 * did): its clients' patience says nothing about that timeout. */
	ASSERT_EQ(ladder(1.5, 2.0, false, w), 0);
}

/* A full link table links everything: a warning too many, none lost. */
static void test_ladder_links_full(void)
{
	static struct timeouts t;
	char w[8][LADDER_WARNING_LEN], be[32];
	struct inferred_timeout inf[8];

	timeouts_init(&t);
	for (int i = 0; i < 5; i++) {
		timeouts_add(&t, CLOSER_CLIENT, "0.0.0.0:80", "response", 1.5e9);
		timeouts_add(&t, CLOSER_GATEWAY, "198.18.2.2:8080", "read", 2e9);
	}
	for (int i = 0; i < TIMEOUT_LINKS_MAX; i++) {
		snprintf(be, sizeof(be), "198.18.3.%d:%d", i % 250, 1000 + i);
		timeouts_link(&t, "0.0.0.0:81", be);
	}
	ASSERT_TRUE(t.links_full);
	ASSERT_EQ(timeouts_ladder(&t, inf, timeouts_infer(&t, inf, 8), w, 8), 1);
}

/* A recorded run replayed through the whole pipeline: its JSON output
 * (malloc'd), NULL on failure. */
static char *replay(const char *fixture)
{
	static struct options o;
	static struct pipeline p;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	o.interval_s = 1;
	o.output = OUTPUT_JSON;
	o.events = EVENTS_ALL;
	o.max_conns = 1024;
	o.top_routes = 50;
	if (ASSERT_EQ(pipeline_init(&p, &o, f), 0)) {
		ASSERT_EQ(pipeline_replay(&p, fixture), 0);
		pipeline_free(&p);
	}
	fclose(f);
	ASSERT_NOT_NULL(out);
	return out;
}

/* The recorded nginx run. */
static void test_recorded_nginx(void)
{
	char *out = replay("tests/fixtures/nginx_faults.gsr"), *line, *save = NULL;
	int n504 = 0, abort = 0, refused = 0, ok = 0;

	if (!out)
		return;
	ASSERT_TRUE(strstr(out, "\"kind\":\"read\",\"seconds\":1.00") != NULL);
	ASSERT_TRUE(strstr(out, "\"join_rate\":1.0000") != NULL);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, "\"type\":\"request\""))
			continue;
		if (strstr(line, "\"status\":504"))
			n504 += strstr(line, "\"reason\":\"backend_slow\"") != NULL;
		else if (strstr(line, "\"status\":502"))
			refused += strstr(line, "\"reason\":\"backend_refused\"") != NULL;
		else if (strstr(line, "\"status\":null"))
			abort += strstr(line, "\"reason\":\"client_abort\"") != NULL;
		else if (strstr(line, "\"cause\":null"))
			ok++;
	}
	ASSERT_EQ(n504, 3);
	ASSERT_EQ(refused, 1);
	ASSERT_EQ(abort, 1);
	ASSERT_EQ(ok, 2);
	free(out);
}

/* A recorded gs-stallproxy run (tests/e2e/test_attr_gateway_stall.sh): three
 * /stall requests whose responses reached the proxy's upstream socket at once
 * and sat unread through a 1 s stall, then 504; two healthy /ok requests.
 * Each 504 is the gateway's stall, and the stalled closes (all 1 s after the
 * request, with a 500 ms read timeout) infer no timeout. */
static void test_recorded_stall(void)
{
	char *out = replay("tests/fixtures/proxy_stall.gsr"), *line, *save = NULL;
	int stall = 0, ok = 0, other = 0, totals = 0;

	if (!out)
		return;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "\"type\":\"total\"")) {
			totals++;
			ASSERT_TRUE(strstr(line, "\"timeouts\":[]") != NULL);
			ASSERT_TRUE(strstr(line, "\"timeout_closes\":{\"gateway\":0,"
					    "\"backend\":0}") != NULL);
		}
		if (!strstr(line, "\"type\":\"request\""))
			continue;
		if (strstr(line, "\"status\":504") && strstr(line, "\"reason\":\"gateway_stall\""))
			stall++;
		else if (strstr(line, "\"status\":200") && strstr(line, "\"cause\":null"))
			ok++;
		else
			other++;
	}
	ASSERT_EQ(stall, 3);
	ASSERT_EQ(ok, 2);
	ASSERT_EQ(other, 0);
	ASSERT_EQ(totals, 1);
	free(out);
}

/* HTTP/2 and gRPC: an upstream stream's own ending, the gateway's GOAWAY,
 * a gRPC status in the backend's trailers, a client whose deadline ran out. */
static void test_h2_grpc(void)
{
	struct request r = req(0);
	struct attempt *a = attempt(&r, ATTEMPT_RESET);
	struct verdict v;

	/* The backend reset its stream: backend_reset, without a TCP RST. */
	a->h2_stream = 3;
	a->h2_rst = a->h2_rst_by_backend = true;
	a->h2_rst_code = 7;
	a->ts_stream_end = T0 + 5 * MS;
	a->have_conn = false;
	expect(&r, CAUSE_BACKEND, "backend_reset", "SH");
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "reset HTTP/2 stream 3 (RST_STREAM code 7)") != NULL);

	/* Its GOAWAY refused the stream, or it closed after its GOAWAY. */
	a->h2_rst = a->h2_rst_by_backend = false;
	a->h2_refused = true;
	a->failure = ATTEMPT_REFUSED;
	expect(&r, CAUSE_BACKEND, "backend_goaway", "S-");
	a->h2_refused = false;
	a->ts_h2_goaway = T0 + 4 * MS;
	a->failure = ATTEMPT_CLOSED;
	expect(&r, CAUSE_BACKEND, "backend_goaway", "SH");
	/* The gateway gave up on the stream (its RST), the connection open:
	 * no TCP facts, no verdict on the backend. */
	a->ts_h2_goaway = 0;
	a->h2_rst = true;
	a->failure = ATTEMPT_ABANDONED;
	expect(&r, CAUSE_UNKNOWN, "no_tcp_facts", "-H");
	/* ... unless the backend read the request: it sent a frame on a
	 * stream opened after it (HAProxy's streams of other clients on the
	 * same connection). */
	a->h2_read_proof = 5;
	expect(&r, CAUSE_BACKEND, "backend_slow", "sH");
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "frame on HTTP/2 stream 5, opened after or with stream 3") != NULL);
	a->h2_read_proof = 0;

	/* The gateway's GOAWAY: refused, or cut by its close. */
	r = req(0);
	r.proto = REQ_PROTO_GRPC;
	r.h2_stream = 9;
	r.h2_goaway_by = H2_GOAWAY_GATEWAY;
	r.h2_goaway_refused = true;
	r.ts_h2_goaway = T0 + 10 * MS;
	expect(&r, CAUSE_GATEWAY, "gateway_goaway", "P-");
	r.h2_goaway_refused = false;
	attempt(&r, ATTEMPT_ABANDONED);
	expect(&r, CAUSE_GATEWAY, "gateway_goaway", "PH");
	/* A client that left first is a client abort, GOAWAY or not. */
	r.client_closed = true;
	r.ts_client_fin = T0 + 900 * MS;
	expect(&r, CAUSE_CLIENT, "client_abort", "CH");

	/* grpc-status 14 in the trailers (as 503): the backend's error. */
	r = req(503);
	a = attempt(&r, ATTEMPT_OK);
	a->status = 503;
	a->has_grpc_status = true;
	a->grpc_status = 14;
	expect(&r, CAUSE_BACKEND, "backend_error", "--");
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "grpc-status 14 UNAVAILABLE (as 503)") != NULL);

	/* The gateway's own 504 (no grpc-status from the backend): at the
	 * client's deadline, or before it. */
	r = req(504);
	r.grpc_timeout_ns = 1000 * MS;
	r.ts_response = T0 + 995 * MS;
	attempt(&r, ATTEMPT_ABANDONED);
	expect(&r, CAUSE_BACKEND, "backend_slow", "sH");
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "when the client's gRPC deadline ran out") != NULL);
	r.ts_response = T0 + 400 * MS;
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "600.000 ms before the client's gRPC deadline") != NULL);

	/* A client gone at its grpc-timeout: its deadline ran out; gone well
	 * before it: not its deadline. */
	r = req(0);
	r.client_closed = true;
	r.grpc_timeout_ns = 1000 * MS;
	r.ts_client_fin = T0 + 990 * MS;
	ASSERT_TRUE(request_deadline_passed(&r));
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "its gRPC deadline ran out (grpc-timeout 1000.000 ms)") != NULL);
	r.ts_client_fin = T0 + 300 * MS;
	ASSERT_TRUE(!request_deadline_passed(&r));
	attribute(&r, &v);
	ASSERT_TRUE(strstr(v.evidence, "before its gRPC deadline") != NULL);
}

int main(void)
{
	RUN_TEST(test_success_has_no_cause);
	RUN_TEST(test_connect_failures);
	RUN_TEST(test_backend_closes);
	RUN_TEST(test_no_response);
	RUN_TEST(test_h2_unacked_tail);
	RUN_TEST(test_answers);
	RUN_TEST(test_client_abort);
	RUN_TEST(test_client_abort_stalled_gateway);
	RUN_TEST(test_h2_grpc);
	RUN_TEST(test_timeouts_cluster);
	RUN_TEST(test_evicted_unfinished);
	RUN_TEST(test_timeouts_armed_earlier);
	RUN_TEST(test_ladder);
	RUN_TEST(test_ladder_links_full);
	RUN_TEST(test_recorded_nginx);
	RUN_TEST(test_recorded_stall);
	TEST_MAIN_END();
}
