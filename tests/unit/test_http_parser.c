/* HTTP/1.x parser: table-driven tests. Every message of the tables is fed
 * whole, split in two at every byte offset and one byte at a time; the heads
 * it yields must be the same each time. Capture-gap tests feed fragments the
 * way the kernel produces them (a captured prefix of each I/O, with its stream
 * offset and full length). */
#include <stdint.h>
#include <stdlib.h>
#include "http_parser.h"
#include "testlib.h"
#include "util.h"

#define T(lit)		lit, sizeof(lit) - 1
#define MAX_RECS	32
#define DESC_LEN	1024

struct rec {
	enum http_event ev;
	struct http_head h;
};

struct log {
	struct rec r[MAX_RECS];
	int n;
};

static void collect(enum http_event ev, const struct http_head *h, void *ctx)
{
	struct log *l = ctx;

	if (l->n < MAX_RECS) {
		l->r[l->n].ev = ev;
		l->r[l->n].h = *h;
	}
	l->n++;
}

static const char *body_name(enum http_body b)
{
	static const char *const names[] = {
		"unknown", "none", "length", "chunked", "close", "tunnel",
	};
	return b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

static void fmt_off(char *buf, size_t n, uint64_t v)
{
	if (v == HTTP_UNKNOWN)
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
}

/* Every field of a record but the timestamps, as one comparable string
 * (n must hold it: DESC_LEN does). */
static void describe(const struct rec *r, char *buf, size_t n)
{
	const struct http_head *h = &r->h;
	char he[24], be[24], cl[32], first[HTTP_METHOD_LEN + HTTP_HOST_LEN + HTTP_PATH_LEN + 8];

	fmt_off(he, sizeof(he), h->head_end);
	fmt_off(be, sizeof(be), h->body_end);
	if (r->ev == HTTP_EV_END) {
		snprintf(buf, n, "END off=%llu end=%s", (unsigned long long)h->stream_off, be);
		return;
	}
	if (h->kind == HTTP_REQUEST)
		snprintf(first, sizeof(first), "%s %s %s", h->method, h->host[0] ? h->host : "-",
			 h->path[0] ? h->path : "-");
	else
		snprintf(first, sizeof(first), "%u", h->status);
	cl[0] = '\0';
	if (h->content_length >= 0)
		snprintf(cl, sizeof(cl), " cl=%lld", (long long)h->content_length);
	snprintf(buf, n, "%s 1.%u off=%llu head=%s end=%s %s%s%s%s%s%s%s%s%s%s", first,
		 h->version_minor, (unsigned long long)h->stream_off, he, be, body_name(h->body),
		 cl, h->chunked ? " chunked" : "", h->conn_close ? " close" : "",
		 h->interim ? " interim" : "", h->retry_after ? " retry" : "",
		 h->throttling_hint ? " throttle" : "", h->truncated ? " trunc" : "",
		 h->method[0] && h->kind == HTTP_RESPONSE ? " !method" : "",
		 h->kind == HTTP_REQUEST && h->status ? " !status" : "");
}

/* A stream (re)started: what it held before is released (streams here
 * start zeroed). */
static void restart(struct http_stream *s, enum http_kind kind)
{
	http_stream_free(s);
	http_stream_init(s, kind);
}

static void expect_methods(struct http_stream *s, const char *list)
{
	char buf[128], *tok, *save;

	if (!list)
		return;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		http_stream_expect(s, tok);
}

static int feed(struct http_stream *s, struct log *l, const void *data, uint32_t cap,
		uint32_t len, uint64_t off, uint64_t ts)
{
	return http_stream_feed(s, data, cap, len, off, ts, collect, l);
}

/* Compare two logs record by record; name says which run differed. */
static void assert_same_log(const struct log *got, const struct log *want, const char *name,
			    size_t split)
{
	char a[DESC_LEN], b[DESC_LEN];
	int i;

	if (got->n != want->n) {
		TL_FAIL("%s split %zu: %d records, expected %d", name, split, got->n, want->n);
		return;
	}
	for (i = 0; i < got->n && i < MAX_RECS; i++) {
		describe(&got->r[i], a, sizeof(a));
		describe(&want->r[i], b, sizeof(b));
		if (strcmp(a, b)) {
			TL_FAIL("%s split %zu record %d: got \"%s\", expected \"%s\"", name, split, i, a, b);
			return;
		}
	}
}

/* ---- well-formed messages, fully captured ---- */

struct msg_case {
	const char *name;
	enum http_kind kind;
	const char *expect;	/* responses: methods of the requests answered */
	const char *text;
	size_t len;
	const char *want[8];	/* describe() of each record, in order */
};

static const struct msg_case msg_cases[] = {
	{ "get_host_query", HTTP_REQUEST, NULL,
	  T("GET /orders/123?token=secret#top HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: t\r\n\r\n"),
	  { "GET example.com /orders/123 1.1 off=0 head=79 end=79 none" } },
	{ "post_content_length", HTTP_REQUEST, NULL,
	  T("POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"),
	  { "POST h /api 1.1 off=0 head=50 end=55 length cl=5" } },
	{ "pipelined_three", HTTP_REQUEST, NULL,
	  T("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
	    "DELETE /c/42 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
	  { "GET h /a 1.1 off=0 head=28 end=28 none",
	    "POST h /b 1.1 off=28 head=76 end=79 length cl=3",
	    "DELETE h /c/42 1.1 off=79 head=132 end=132 none close" } },
	{ "crlf_between_requests", HTTP_REQUEST, NULL,
	  T("POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi\r\nGET /b HTTP/1.1\r\n\r\n"),
	  { "POST - /a 1.1 off=0 head=39 end=41 length cl=2",
	    "GET - /b 1.1 off=43 head=62 end=62 none" } },
	{ "http10_close", HTTP_REQUEST, NULL,
	  T("GET / HTTP/1.0\r\n\r\nGET /k HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
	  { "GET - / 1.0 off=0 head=18 end=18 none close",
	    "GET - /k 1.0 off=18 head=61 end=61 none" } },
	{ "absolute_form", HTTP_REQUEST, NULL,
	  T("GET http://user:pw@API.example.com:8080/v1/items?id=3 HTTP/1.1\r\nHost: other\r\n\r\n"
	    "OPTIONS HTTPS://Example.com HTTP/1.1\r\n\r\n"
	    "OPTIONS * HTTP/1.1\r\nHost: star\r\n\r\n"),
	  { "GET api.example.com:8080 /v1/items 1.1 off=0 head=79 end=79 none",
	    "OPTIONS example.com / 1.1 off=79 head=119 end=119 none",
	    "OPTIONS star * 1.1 off=119 head=153 end=153 none" } },
	{ "header_whitespace_fold", HTTP_REQUEST, NULL,
	  T("PUT /x HTTP/1.1\r\nhost:\t h2 \r\nX-Long: a\r\n  folded\r\n"
	    "content-length:  7 , 7\t\r\n\r\n1234567"),
	  { "PUT h2 /x 1.1 off=0 head=77 end=84 length cl=7" } },
	{ "obs_text_value", HTTP_REQUEST, NULL,
	  T("GET /caf\xc3\xa9 HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff\x80\xa0 12345678\r\nHost: u\r\n\r\n"),
	  { "GET u /caf\xc3\xa9 1.1 off=0 head=60 end=60 none" } },
	{ "bare_lf_lines", HTTP_REQUEST, NULL,
	  T("GET /lf HTTP/1.1\nHost: lf\n\n"),
	  { "GET lf /lf 1.1 off=0 head=27 end=27 none" } },
	{ "chunked_request", HTTP_REQUEST, NULL,
	  T("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n"),
	  { "POST h /up 1.1 off=0 head=58 end=? chunked chunked",
	    "END off=0 end=73",
	    "GET - /next 1.1 off=73 head=95 end=95 none" } },
	{ "connect_tunnel", HTTP_REQUEST, NULL,
	  T("CONNECT Example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
	    "\x16\x03\x01\x02\x00\x01\x00"),
	  { "CONNECT example.com:443 - 1.1 off=0 head=59 end=59 none" } },
	{ "websocket_upgrade", HTTP_REQUEST, NULL,
	  T("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	    "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
	  { "GET h /ws 1.1 off=0 head=70 end=70 none" } },
	{ "upgrade_refused", HTTP_REQUEST, NULL,
	  T("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nGET /n HTTP/1.1\r\n\r\n"),
	  { "GET - /ws 1.1 off=0 head=55 end=55 none",
	    "GET - /n 1.1 off=55 head=74 end=74 none" } },
	{ "h2c_upgrade", HTTP_REQUEST, NULL,
	  T("GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
	    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	  { "GET - / 1.1 off=0 head=111 end=111 none" } },
	{ "response_length", HTTP_RESPONSE, "GET",
	  T("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
	  { "200 1.1 off=0 head=38 end=43 length cl=5" } },
	{ "response_chunked_then_next", HTTP_RESPONSE, "GET GET",
	  T("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	    "4;ext=1\r\nwiki\r\n5\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nExpires: x\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\n"),
	  { "200 1.1 off=0 head=53 end=? chunked chunked",
	    "END off=0 end=115",
	    "204 1.1 off=115 head=142 end=142 none" } },
	{ "continue_then_final", HTTP_RESPONSE, "POST",
	  T("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
	  { "100 1.1 off=0 head=25 end=25 none interim",
	    "103 1.1 off=25 head=69 end=69 none interim",
	    "201 1.1 off=69 head=112 end=114 length cl=2" } },
	{ "head_no_body", HTTP_RESPONSE, "HEAD GET",
	  T("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"),
	  { "200 1.1 off=0 head=41 end=41 none cl=1000",
	    "404 1.1 off=41 head=86 end=89 length cl=3" } },
	{ "204_304_no_body", HTTP_RESPONSE, "DELETE GET GET",
	  T("HTTP/1.1 204 No Content\r\n\r\n"
	    "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	  { "204 1.1 off=0 head=27 end=27 none",
	    "304 1.1 off=27 head=76 end=76 none cl=50",
	    "200 1.1 off=76 head=114 end=114 none cl=0" } },
	{ "until_close", HTTP_RESPONSE, NULL,
	  T("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nHTTP/1.1 200 this is body, not a head\r\n\r\n"),
	  { "200 1.0 off=0 head=32 end=? close close" } },
	{ "throttled_429_503", HTTP_RESPONSE, NULL,
	  T("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException\r\n"
	    "Content-Length: 0\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nX-Throttle-Budget: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
	  { "429 1.1 off=0 head=69 end=69 none cl=0 retry",
	    "503 1.1 off=69 head=140 end=140 none cl=0 retry",
	    "400 1.1 off=140 head=226 end=226 none cl=0 throttle",
	    "200 1.1 off=226 head=305 end=305 none cl=0 close" } },
	{ "switching_protocols", HTTP_RESPONSE, "GET",
	  T("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	    "\x81\x02hi\x00\x01"),
	  { "101 1.1 off=0 head=77 end=? tunnel" } },
	{ "connect_established", HTTP_RESPONSE, "CONNECT",
	  T("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03\x00\x10\x00"),
	  { "200 1.1 off=0 head=39 end=? tunnel" } },
	{ "status_without_reason", HTTP_RESPONSE, NULL,
	  T("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx"),
	  { "200 1.1 off=0 head=35 end=36 length cl=1" } },
};

static void run_msg(const struct msg_case *c, struct log *l, size_t split, bool bytewise)
{
	struct http_stream s = {0};
	size_t i;

	memset(l, 0, sizeof(*l));
	restart(&s, c->kind);
	expect_methods(&s, c->expect);
	if (bytewise) {
		for (i = 0; i < c->len; i++)
			feed(&s, l, c->text + i, 1, 1, i, i + 1);
	} else if (split) {
		feed(&s, l, c->text, split, split, 0, 1);
		feed(&s, l, c->text + split, c->len - split, c->len - split, split, 2);
	} else {
		feed(&s, l, c->text, c->len, c->len, 0, 1);
	}
	if (http_stream_broken(&s))
		TL_FAIL("%s split %zu: broken: %s", c->name, split, http_stream_error(&s, NULL));
	if (s.stats.lost || s.stats.resyncs || s.stats.truncated || s.stats.dropped)
		TL_FAIL("%s split %zu: lost %llu resyncs %llu truncated %llu dropped %llu", c->name,
			split, (unsigned long long)s.stats.lost, (unsigned long long)s.stats.resyncs,
			(unsigned long long)s.stats.truncated, (unsigned long long)s.stats.dropped);
	http_stream_free(&s);
}

static void test_messages_whole(void)
{
	struct log l;
	char d[DESC_LEN];
	size_t i;
	int j, nwant;

	for (i = 0; i < ARRAY_SIZE(msg_cases); i++) {
		const struct msg_case *c = &msg_cases[i];

		run_msg(c, &l, 0, false);
		for (nwant = 0; nwant < 8 && c->want[nwant]; nwant++)
			;
		if (l.n != nwant) {
			TL_FAIL("%s: %d records, expected %d", c->name, l.n, nwant);
			continue;
		}
		for (j = 0; j < l.n; j++) {
			describe(&l.r[j], d, sizeof(d));
			if (strcmp(d, c->want[j]))
				TL_FAIL("%s record %d: got \"%s\", expected \"%s\"", c->name, j, d, c->want[j]);
		}
	}
}

/* The head that completes in the second fragment must carry its ts. */
static void check_split_ts(const struct msg_case *c, const struct log *l, size_t split)
{
	int j;

	for (j = 0; j < l->n && j < MAX_RECS; j++) {
		const struct http_head *h = &l->r[j].h;

		if (l->r[j].ev != HTTP_EV_HEAD)
			continue;
		if (h->ts_start != (h->stream_off < split ? 1u : 2u) ||
		    h->ts_end != (h->head_end - 1 < split ? 1u : 2u))
			TL_FAIL("%s split %zu record %d: ts %llu..%llu", c->name, split, j,
				(unsigned long long)h->ts_start, (unsigned long long)h->ts_end);
	}
}

/* Split in two at every offset, and one byte at a time: same records as
 * the whole message. Returns the whole message's records in *whole. */
static void check_every_split(const struct msg_case *c, struct log *whole)
{
	static struct log part;
	size_t k;

	run_msg(c, whole, 0, false);
	for (k = 1; k < c->len; k++) {
		run_msg(c, &part, k, false);
		assert_same_log(&part, whole, c->name, k);
		check_split_ts(c, &part, k);
	}
	run_msg(c, &part, 0, true);
	assert_same_log(&part, whole, c->name, (size_t)-1);
}

static void test_messages_split_everywhere(void)
{
	static struct log whole;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(msg_cases); i++)
		check_every_split(&msg_cases[i], &whole);
}

/* Lines longer than HTTP_LINE_KEEP: the request line's version comes from
 * its tail, long values are cut to their fields' sizes, long uninteresting
 * headers are skipped. */
static void test_long_lines(void)
{
	static char buf[4096];
	static struct log whole;
	struct msg_case c = { .name = "long_lines", .kind = HTTP_REQUEST, .text = buf };
	char want_path[HTTP_PATH_LEN], want_host[HTTP_HOST_LEN];
	size_t n = 0;

	n += sprintf(buf + n, "GET /search?q=%0600d HTTP/1.0\r\nHost: h\r\nCookie: %01000d\r\n\r\n",
		     7, 8);
	n += sprintf(buf + n, "GET /%0400d HTTP/1.1\r\nHost: %0300d\r\n\r\n", 9, 5);
	c.len = n;
	check_every_split(&c, &whole);
	ASSERT_EQ(whole.n, 2);
	ASSERT_STREQ(whole.r[0].h.path, "/search");
	ASSERT_EQ(whole.r[0].h.version_minor, 0);
	ASSERT_TRUE(whole.r[0].h.conn_close);
	ASSERT_STREQ(whole.r[0].h.host, "h");
	memset(want_path, '0', sizeof(want_path));
	want_path[0] = '/';
	want_path[sizeof(want_path) - 1] = '\0';
	ASSERT_STREQ(whole.r[1].h.path, want_path);
	memset(want_host, '0', sizeof(want_host));
	want_host[sizeof(want_host) - 1] = '\0';
	ASSERT_STREQ(whole.r[1].h.host, want_host);
	ASSERT_EQ(whole.r[1].h.stream_off, whole.r[0].h.body_end);
	ASSERT_EQ(whole.r[1].h.body_end, n);
}

/* A framing header cut to HTTP_LINE_KEEP cannot be trusted. */
static void test_long_framing_header(void)
{
	static char buf[2048];
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	size_t n;

	n = sprintf(buf, "POST / HTTP/1.1\r\nTransfer-Encoding: %0600d, chunked\r\n\r\n", 0);
	restart(&s, HTTP_REQUEST);
	ASSERT_EQ(feed(&s, &l, buf, n, n, 0, 1), -1);
	ASSERT_STREQ(http_stream_error(&s, NULL), "Transfer-Encoding line too long");
	http_stream_free(&s);
}

/* ---- malformed input: broken, sticky, never a crash ---- */

struct bad_case {
	const char *name;
	enum http_kind kind;
	const char *text;
	size_t len;
	const char *why;	/* expected http_stream_error() */
	int heads_before;	/* good heads before the bad bytes */
};

static const struct bad_case bad_cases[] = {
	{ "nul_in_target", HTTP_REQUEST, T("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"), "NUL byte", 0 },
	{ "nul_in_header", HTTP_REQUEST, T("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"), "NUL byte", 0 },
	{ "nul_first", HTTP_RESPONSE, T("\0\0\0\0HTTP/1.1 200 OK\r\n\r\n"), "NUL byte", 0 },
	{ "control_byte", HTTP_REQUEST, T("GET / HTTP/1.1\r\nX: \x1b[31m\r\n\r\n"), "control byte", 0 },
	{ "del_in_header", HTTP_REQUEST, T("GET / HTTP/1.1\r\nX-Long-Name: abcdefgh\x7f\r\n\r\n"),
	  "control byte", 0 },
	{ "vt_in_value", HTTP_RESPONSE, T("HTTP/1.1 200 OK\r\nServer: abcdefghijklmnop\x0bq\r\n\r\n"),
	  "control byte", 0 },
	{ "garbage_after_good", HTTP_REQUEST,
	  T("GET /ok HTTP/1.1\r\n\r\n\x8f\x12\xff\x00garbage"), "not an HTTP/1.x request", 1 },
	{ "tls_client_hello", HTTP_REQUEST, T("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	  "control byte", 0 },
	{ "ssh_banner", HTTP_REQUEST, T("SSH-2.0-OpenSSH_9.2\r\n"), "not an HTTP/1.x request", 0 },
	{ "http09", HTTP_REQUEST, T("GET /\r\n\r\n"), "bad request line", 0 },
	{ "no_version", HTTP_REQUEST, T("GET / \r\n\r\n"), "bad request line", 0 },
	{ "http2_preface", HTTP_REQUEST, T("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "bad request line", 0 },
	{ "method_too_long", HTTP_REQUEST, T("ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n\r\n"),
	  "not an HTTP/1.x request", 0 },
	{ "relative_target", HTTP_REQUEST, T("GET foo HTTP/1.1\r\n\r\n"), "bad request line", 0 },
	{ "space_in_target", HTTP_REQUEST, T("GET /a b HTTP/1.1\r\n\r\n"), "bad request line", 0 },
	{ "header_without_colon", HTTP_REQUEST, T("GET / HTTP/1.1\r\nHost h\r\n\r\n"),
	  "malformed header line", 0 },
	{ "space_before_colon", HTTP_REQUEST, T("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
	  "malformed header line", 0 },
	{ "cl_negative", HTTP_REQUEST, T("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
	  "bad Content-Length", 0 },
	{ "cl_overflow", HTTP_REQUEST,
	  T("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
	  "bad Content-Length", 0 },
	{ "cl_not_number", HTTP_RESPONSE, T("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n"),
	  "bad Content-Length", 0 },
	{ "cl_empty", HTTP_RESPONSE, T("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"),
	  "bad Content-Length", 0 },
	{ "cl_conflict_list", HTTP_RESPONSE, T("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
	  "bad Content-Length", 0 },
	{ "cl_conflict_headers", HTTP_REQUEST,
	  T("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n"),
	  "bad Content-Length", 0 },
	{ "request_te_not_chunked", HTTP_REQUEST,
	  T("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
	  "request Transfer-Encoding does not end in chunked", 0 },
	{ "request_te_chunked_twice", HTTP_REQUEST,
	  T("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  "request Transfer-Encoding does not end in chunked", 0 },
	{ "chunk_size_garbage", HTTP_RESPONSE,
	  T("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), "bad chunk size", 1 },
	{ "chunk_size_huge", HTTP_RESPONSE,
	  T("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"),
	  "chunk size too large", 1 },
	{ "chunk_too_long", HTTP_RESPONSE,
	  T("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"),
	  "chunk data longer than its size", 1 },
	{ "status_four_digits", HTTP_RESPONSE, T("HTTP/1.1 2000 OK\r\n\r\n"), "bad status line", 0 },
	{ "status_http2", HTTP_RESPONSE, T("HTTP/2 200\r\n\r\n"), "not an HTTP/1.x response", 0 },
	{ "status_letters", HTTP_RESPONSE, T("HTTP/1.1 2x0 OK\r\n\r\n"), "bad status line", 0 },
	{ "response_garbage", HTTP_RESPONSE, T("<html>hello</html>\r\n"), "not an HTTP/1.x response", 0 },
};

/* After breaking, a valid head changes nothing. */
static void check_sticky(struct http_stream *s, const char *name)
{
	static const char good_req[] = "GET / HTTP/1.1\r\n\r\n", good_rsp[] = "HTTP/1.1 200 OK\r\n\r\n";
	const char *g = s->kind == HTTP_REQUEST ? good_req : good_rsp;
	struct log l = { .n = 0 };

	if (feed(s, &l, g, strlen(g), strlen(g), 1u << 20, 99) != -1 || l.n != 0 ||
	    !http_stream_broken(s))
		TL_FAIL("%s: not sticky", name);
}

static void run_bad(const struct bad_case *c, size_t split, bool bytewise)
{
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	const char *why;
	size_t i;

	restart(&s, c->kind);
	if (bytewise) {
		for (i = 0; i < c->len; i++)
			feed(&s, &l, c->text + i, 1, 1, i, i);
	} else if (split) {
		feed(&s, &l, c->text, split, split, 0, 1);
		feed(&s, &l, c->text + split, c->len - split, c->len - split, split, 2);
	} else if (feed(&s, &l, c->text, c->len, c->len, 0, 1) != -1) {
		TL_FAIL("%s: feed did not return -1", c->name);
	}
	why = http_stream_error(&s, NULL);
	if (!why || strcmp(why, c->why))
		TL_FAIL("%s split %zu: error \"%s\", expected \"%s\"", c->name, split,
			why ? why : "(none)", c->why);
	if (l.n != c->heads_before)
		TL_FAIL("%s split %zu: %d heads before breaking, expected %d", c->name, split, l.n,
			c->heads_before);
	check_sticky(&s, c->name);
	http_stream_free(&s);
}

static void test_malformed_table(void)
{
	size_t i, k;

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		run_bad(&bad_cases[i], 0, false);
		for (k = 1; k < bad_cases[i].len; k++)
			run_bad(&bad_cases[i], k, false);
		run_bad(&bad_cases[i], 0, true);
	}
}

/* One byte of a header value at every position, the header's name of
 * every length from 1 to 16 (so the byte falls at each place in each
 * 16-byte block the parser scans a line by): a NUL or another control
 * byte breaks the stream, with its name; HTAB, CR and bytes from 0x80 do
 * not.  Fed whole (lines parsed in place) and one byte at a time (lines
 * assembled), with the same result. */
static void control_byte_at(uint8_t b, size_t name_len, size_t at, bool bytewise)
{
	static const char head[] = "GET / HTTP/1.1\r\n", tail[] = "\r\nHost: h\r\n\r\n";
	const char *want = b == 0 ? "NUL byte" :
			   (b < 0x20 && b != '\t' && b != '\r') || b == 0x7f ? "control byte" : NULL;
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	char text[160];
	size_t n = 0;
	const char *why;

	n += (size_t)snprintf(text, sizeof(text), "%s%.*s: ", head, (int)name_len, "XABCDEFGHIJKLMNOP");
	memset(text + n, 'v', 48);
	text[n + at] = (char)b;
	n += 48;
	memcpy(text + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;

	restart(&s, HTTP_REQUEST);
	if (bytewise)
		for (size_t i = 0; i < n; i++)
			feed(&s, &l, text + i, 1, 1, i, 1);
	else
		feed(&s, &l, text, (uint32_t)n, (uint32_t)n, 0, 1);
	why = http_stream_error(&s, NULL);
	if (want ? !why || strcmp(why, want) : why != NULL)
		TL_FAIL("byte 0x%02x at %zu, name of %zu%s: error \"%s\", expected \"%s\"", b, at,
			name_len, bytewise ? ", bytewise" : "", why ? why : "(none)",
			want ? want : "(none)");
	else if (!want && (l.n != 1 || strcmp(l.r[0].h.host, "h") || l.r[0].h.head_end != n))
		TL_FAIL("byte 0x%02x at %zu, name of %zu%s: %d heads", b, at, name_len,
			bytewise ? ", bytewise" : "", l.n);
	http_stream_free(&s);
}

static void test_control_bytes_every_position(void)
{
	static const uint8_t bytes[] = {
		0x00, 0x01, 0x0b, 0x1b, 0x1f, 0x7f, '\t', '\r', ' ', 0x7e, 0x80, 0xc3, 0xff,
	};

	for (size_t i = 0; i < ARRAY_SIZE(bytes); i++)
		for (size_t name_len = 1; name_len <= 16; name_len++)
			for (size_t at = 0; at < 48; at++) {
				control_byte_at(bytes[i], name_len, at, false);
				if (at % 7 == 0)
					control_byte_at(bytes[i], name_len, at, true);
			}
}

static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1664525u + 1013904223u;
	return *x >> 8;
}

static void test_binary_garbage(void)
{
	static uint8_t buf[4096];
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	uint32_t x = 12345;
	int kind, seed;

	for (seed = 0; seed < 50; seed++) {
		size_t i;

		for (i = 0; i < sizeof(buf); i++)
			buf[i] = lcg(&x);
		for (kind = HTTP_REQUEST; kind <= HTTP_RESPONSE; kind++) {
			/* as the kernel delivers it: 256 bytes of a 4096-byte write */
			restart(&s, kind);
			feed(&s, &l, buf, 256, sizeof(buf), 0, 1);
			ASSERT_TRUE(http_stream_broken(&s));
			restart(&s, kind);
			feed(&s, &l, buf, sizeof(buf), sizeof(buf), 0, 1);
			ASSERT_TRUE(http_stream_broken(&s));
		}
	}
	ASSERT_EQ(l.n, 0);
	http_stream_free(&s);
}

/* A 64 KiB request line: fully captured it breaks the stream (longer than
 * HTTP_LINE_MAX); through the kernel's 4096-byte capture of one write only
 * a prefix is visible, which is a truncated GET, not an error. */
static void test_64k_request_line(void)
{
	static char buf[65536 + 64];
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	size_t n, off;
	char want[HTTP_PATH_LEN];

	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', 65536);
	n = 5 + 65536;
	n += sprintf(buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n");

	restart(&s, HTTP_REQUEST);
	ASSERT_EQ(feed(&s, &l, buf, n, n, 0, 1), -1);
	ASSERT_STREQ(http_stream_error(&s, NULL), "line too long");
	ASSERT_EQ(l.n, 0);

	/* contiguous, fully captured 4 KiB writes: breaks after 8 KiB */
	restart(&s, HTTP_REQUEST);
	for (off = 0; off < n; off += 4096) {
		uint32_t len = n - off < 4096 ? n - off : 4096;

		if (feed(&s, &l, buf + off, len, len, off, 1) < 0)
			break;
	}
	ASSERT_STREQ(http_stream_error(&s, NULL), "line too long");
	ASSERT_TRUE(off <= HTTP_LINE_MAX);
	ASSERT_EQ(l.n, 0);

	/* one write, 4096 bytes captured */
	restart(&s, HTTP_REQUEST);
	ASSERT_EQ(feed(&s, &l, buf, 4096, n, 0, 1), 1);
	ASSERT_TRUE(!http_stream_broken(&s));
	ASSERT_EQ(l.n, 1);
	ASSERT_TRUE(l.r[0].h.truncated);
	ASSERT_STREQ(l.r[0].h.method, "GET");
	want[0] = '/';
	memset(want + 1, 'a', sizeof(want) - 2);
	want[sizeof(want) - 1] = '\0';
	ASSERT_STREQ(l.r[0].h.path, want);
	/* the next request, at the offset after the long one, is parsed */
	ASSERT_EQ(feed(&s, &l, "GET /b HTTP/1.1\r\n\r\n", 19, 19, n, 2), 1);
	ASSERT_STREQ(l.r[1].h.path, "/b");
	ASSERT_EQ(s.stats.resyncs, 0);
	http_stream_free(&s);
}

/* A head of 70 header lines of 1 KiB each: longer than HTTP_HEAD_MAX. */
static void test_head_too_long(void)
{
	static char buf[80 * 1024];
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	size_t n = 0;
	int i;

	n += sprintf(buf, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 70; i++) {
		n += sprintf(buf + n, "X-%d: ", i);
		memset(buf + n, 'v', 1000);
		n += 1000;
		n += sprintf(buf + n, "\r\n");
	}
	n += sprintf(buf + n, "\r\n");
	restart(&s, HTTP_REQUEST);
	ASSERT_EQ(feed(&s, &l, buf, n, n, 0, 1), -1);
	ASSERT_STREQ(http_stream_error(&s, NULL), "head too long");
	ASSERT_EQ(l.n, 0);
	http_stream_free(&s);
}

/* ---- capture gaps: fragments as the kernel delivers them ---- */

struct frag_spec {
	const char *text;	/* captured bytes */
	uint32_t cap;		/* 0: strlen(text) */
	uint32_t len;		/* 0: cap */
	uint64_t off;
};

struct gap_case {
	const char *name;
	enum http_kind kind;
	const char *expect;
	struct frag_spec frags[5];
	const char *want[6];
	uint64_t lost, resyncs, truncated, dropped;
};

#define RSP200_CL1000	"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"	/* 41 bytes */
#define RSP404		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"	/* 45 bytes */
#define RSP_CHUNKED	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"	/* 47 bytes */
#define BIG_COOKIE_REQ	"GET /big/7 HTTP/1.1\r\nHost: big.example\r\nCookie: "	/* 48 bytes */

/* W: a write captured whole; F: cap bytes captured of a len-byte write */
#define W(text, off)		{ text, 0, 0, off }
#define F(text, cap, len, off)	{ text, cap, len, off }

static const struct gap_case gap_cases[] = {
	{ .name = "body_not_captured", .kind = HTTP_RESPONSE,
	  .frags = { W(RSP200_CL1000, 0), W(RSP404, 1041) },
	  .want = { "200 1.1 off=0 head=41 end=1041 length cl=1000",
		    "404 1.1 off=1041 head=1086 end=1086 none cl=0" } },
	{ .name = "head_and_body_one_write", .kind = HTTP_RESPONSE,
	  .frags = { F(RSP200_CL1000 "<html>", 47, 1041, 0), W(RSP404, 1041) },
	  .want = { "200 1.1 off=0 head=41 end=1041 length cl=1000",
		    "404 1.1 off=1041 head=1086 end=1086 none cl=0" } },
	{ .name = "chunked_not_captured", .kind = HTTP_RESPONSE,
	  .frags = { W(RSP_CHUNKED, 0), W(RSP404, 5000) },
	  .want = { "200 1.1 off=0 head=47 end=? chunked chunked",
		    "404 1.1 off=5000 head=5045 end=5045 none cl=0" },
	  .lost = 1, .resyncs = 1 },
	{ .name = "chunk_size_cut_by_capture", .kind = HTTP_RESPONSE,
	  .frags = { F(RSP_CHUNKED "1f", 49, 600, 0), W(RSP404, 600) },
	  .want = { "200 1.1 off=0 head=47 end=? chunked chunked",
		    "404 1.1 off=600 head=645 end=645 none cl=0" },
	  .lost = 1, .resyncs = 1 },
	{ .name = "chunked_over_fragments", .kind = HTTP_RESPONSE,
	  .frags = { W(RSP_CHUNKED, 0), W("a\r\n0123456789\r\n", 47), F("1000\r\n", 6, 4102, 62),
		     W("\r\n0\r\n\r\n" RSP404, 4164) },
	  .want = { "200 1.1 off=0 head=47 end=? chunked chunked",
		    "END off=0 end=4171",
		    "404 1.1 off=4171 head=4216 end=4216 none cl=0" } },
	{ .name = "chunk_data_skipped", .kind = HTTP_RESPONSE,
	  /* the data of a chunk is not needed: only its header and the CRLF */
	  .frags = { W(RSP_CHUNKED "10\r\n", 0), W("\r\n0\r\n\r\n", 67) },
	  .want = { "200 1.1 off=0 head=47 end=? chunked chunked", "END off=0 end=74" } },
	{ .name = "next_head_not_captured", .kind = HTTP_RESPONSE,
	  /* two responses in one write; the second starts past the capture */
	  .frags = { F(RSP200_CL1000 "xx", 43, 1086, 0), W(RSP404, 1086) },
	  .want = { "200 1.1 off=0 head=41 end=1041 length cl=1000",
		    "404 1.1 off=1086 head=1131 end=1131 none cl=0" },
	  .lost = 1, .resyncs = 1 },
	{ .name = "head_not_captured_gap", .kind = HTTP_REQUEST,
	  /* a request the kernel did not capture between two it did */
	  .frags = { W("GET /1 HTTP/1.1\r\n\r\n", 0), W("GET /3 HTTP/1.1\r\n\r\n", 38) },
	  .want = { "GET - /1 1.1 off=0 head=19 end=19 none",
		    "GET - /3 1.1 off=38 head=57 end=57 none" },
	  .lost = 1, .resyncs = 1 },
	{ .name = "headers_larger_than_capture", .kind = HTTP_REQUEST,
	  .frags = { F(BIG_COOKIE_REQ "abcdefgh", 56, 700, 0), W("GET /n HTTP/1.1\r\n\r\n", 700) },
	  .want = { "GET big.example /big/7 1.1 off=0 head=? end=? unknown trunc",
		    "GET - /n 1.1 off=700 head=719 end=719 none" },
	  .truncated = 1 },
	{ .name = "start_line_cut", .kind = HTTP_REQUEST,
	  .frags = { F("GET /a/very/long/path?q=1", 12, 5000, 0), W("GET /n HTTP/1.1\r\n\r\n", 5000) },
	  .want = { "GET - /a/very/ 1.1 off=0 head=? end=? unknown trunc",
		    "GET - /n 1.1 off=5000 head=5019 end=5019 none" },
	  .truncated = 1 },
	{ .name = "response_headers_larger", .kind = HTTP_RESPONSE, .expect = "GET GET",
	  .frags = { F("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3\r\n"
		       "Set-Cookie: aaaa", 66, 900, 0),
		     W(RSP404, 2000) },
	  .want = { "503 1.1 off=0 head=? end=? unknown retry trunc",
		    "404 1.1 off=2000 head=2045 end=2045 none cl=0" },
	  .truncated = 1 },
	{ .name = "status_line_unusable", .kind = HTTP_RESPONSE,
	  .frags = { F("HTTP/1.1 2", 10, 300, 0), W(RSP404, 300) },
	  .want = { "404 1.1 off=300 head=345 end=345 none cl=0" },
	  .dropped = 1 },
	{ .name = "head_continues_after_gap", .kind = HTTP_REQUEST,
	  /* an unfinished head whose continuation was not captured */
	  .frags = { W("GET /a HTTP/1.1\r\nHost: x\r\n", 0), W("GET /b HTTP/1.1\r\n\r\n", 400) },
	  .want = { "GET x /a 1.1 off=0 head=? end=? unknown trunc",
		    "GET - /b 1.1 off=400 head=419 end=419 none" },
	  .truncated = 1 },
	{ .name = "attached_mid_stream", .kind = HTTP_REQUEST,
	  /* body bytes first (ignored), then a head at an offset > 0 */
	  .frags = { F("xyz body", 8, 900, 100), W("GET /late HTTP/1.1\r\n\r\n", 12345) },
	  .want = { "GET - /late 1.1 off=12345 head=12367 end=12367 none" } },
	{ .name = "old_fragment_ignored", .kind = HTTP_REQUEST,
	  .frags = { W("POST /p HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 0),
		     W("GET /inside-body HTTP/1.1\r\n\r\n", 50), W("GET /q HTTP/1.1\r\n\r\n", 141) },
	  .want = { "POST - /p 1.1 off=0 head=41 end=141 length cl=100",
		    "GET - /q 1.1 off=141 head=160 end=160 none" } },
	{ .name = "resync_after_loss", .kind = HTTP_RESPONSE,
	  /* lost in a chunked body: body fragments are skipped until a head */
	  .frags = { W(RSP_CHUNKED, 0), F("7\r\nnot head", 11, 3000, 100),
		     W("HTTP/1.1 200 OK\r\n\r\n", 4000) },
	  .want = { "200 1.1 off=0 head=47 end=? chunked chunked",
		    "200 1.1 off=4000 head=4019 end=? close" },
	  .lost = 1, .resyncs = 1 },
};

static void run_gap(const struct gap_case *c)
{
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	char d[DESC_LEN];
	int i, nwant;

	restart(&s, c->kind);
	expect_methods(&s, c->expect);
	for (i = 0; i < 5 && c->frags[i].text; i++) {
		const struct frag_spec *f = &c->frags[i];
		uint32_t cap = f->cap ? f->cap : strlen(f->text);

		feed(&s, &l, f->text, cap, f->len ? f->len : cap, f->off, i + 1);
	}
	if (http_stream_broken(&s))
		TL_FAIL("%s: broken: %s", c->name, http_stream_error(&s, NULL));
	for (nwant = 0; nwant < 6 && c->want[nwant]; nwant++)
		;
	if (l.n != nwant)
		TL_FAIL("%s: %d records, expected %d", c->name, l.n, nwant);
	for (i = 0; i < l.n && i < nwant; i++) {
		describe(&l.r[i], d, sizeof(d));
		if (strcmp(d, c->want[i]))
			TL_FAIL("%s record %d: got \"%s\", expected \"%s\"", c->name, i, d, c->want[i]);
	}
	if (s.stats.lost != c->lost || s.stats.resyncs != c->resyncs ||
	    s.stats.truncated != c->truncated || s.stats.dropped != c->dropped)
		TL_FAIL("%s: lost %llu resyncs %llu truncated %llu dropped %llu, expected %llu %llu %llu %llu",
			c->name, (unsigned long long)s.stats.lost, (unsigned long long)s.stats.resyncs,
			(unsigned long long)s.stats.truncated, (unsigned long long)s.stats.dropped,
			(unsigned long long)c->lost, (unsigned long long)c->resyncs,
			(unsigned long long)c->truncated, (unsigned long long)c->dropped);
	http_stream_free(&s);
}

static void test_capture_gaps(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(gap_cases); i++)
		run_gap(&gap_cases[i]);
}

/* Timestamps: a head spread over three writes starts at the first and ends
 * at the last; a chunked end carries the ts of the fragment with the last
 * chunk. */
static void test_timestamps(void)
{
	struct http_stream s = {0};
	struct log l = { .n = 0 };

	restart(&s, HTTP_RESPONSE);
	feed(&s, &l, "HTTP/1.1 200 OK\r\n", 17, 17, 0, 10);
	feed(&s, &l, "Transfer-Encoding: chunked\r\n", 28, 28, 17, 20);
	feed(&s, &l, "\r\n", 2, 2, 45, 30);
	feed(&s, &l, "3\r\nabc\r\n", 8, 8, 47, 40);
	feed(&s, &l, "0\r\n\r\n", 5, 5, 55, 50);
	ASSERT_EQ(l.n, 2);
	ASSERT_EQ(l.r[0].h.ts_start, 10);
	ASSERT_EQ(l.r[0].h.ts_end, 30);
	ASSERT_EQ(l.r[1].ev, HTTP_EV_END);
	ASSERT_EQ(l.r[1].h.ts_msg_end, 50);
	ASSERT_EQ(l.r[1].h.body_end, 60);
	http_stream_free(&s);
}

/* The connection closes while a head is being assembled. */
static void test_close_flushes_partial_head(void)
{
	struct http_stream s = {0};
	struct log l = { .n = 0 };

	restart(&s, HTTP_REQUEST);
	ASSERT_EQ(feed(&s, &l, "PATCH /users/9 HTTP/1.1\r\nHo", 27, 27, 0, 5), 0);
	http_stream_close(&s, 7, collect, &l);
	ASSERT_EQ(l.n, 1);
	ASSERT_TRUE(l.r[0].h.truncated);
	ASSERT_STREQ(l.r[0].h.method, "PATCH");
	ASSERT_STREQ(l.r[0].h.path, "/users/9");
	ASSERT_STREQ(l.r[0].h.host, "");
	ASSERT_EQ(l.r[0].h.ts_end, 7);
	http_stream_free(&s);
}

/* A 400 whose visible body names throttling (a DNS API's answer). */
static void test_throttling_in_body(void)
{
	static const char rsp[] =
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 60\r\n\r\n"
		"<Error><Code>PriorRequestNotComplete</Code></Error>         ";
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nthrottling is fine..";
	struct http_stream s = {0};
	struct log l = { .n = 0 };

	restart(&s, HTTP_RESPONSE);
	feed(&s, &l, rsp, sizeof(rsp) - 1, sizeof(rsp) - 1, 0, 1);
	feed(&s, &l, ok, sizeof(ok) - 1, sizeof(ok) - 1, sizeof(rsp) - 1, 2);
	ASSERT_EQ(l.n, 2);
	ASSERT_TRUE(l.r[0].h.throttling_hint);
	ASSERT_TRUE(!l.r[1].h.throttling_hint);		/* a 200 is no throttling */
	/* body not captured: nothing to see */
	restart(&s, HTTP_RESPONSE);
	feed(&s, &l, rsp, 48, sizeof(rsp) - 1, 0, 1);
	ASSERT_EQ(l.n, 3);
	ASSERT_TRUE(!l.r[2].h.throttling_hint);
	http_stream_free(&s);
}

/* More requests in flight than the FIFO holds: counted, not a crash. */
static void test_expect_overflow(void)
{
	struct http_stream s = {0};
	int i;

	restart(&s, HTTP_RESPONSE);
	for (i = 0; i < HTTP_EXPECT_MAX + 3; i++)
		http_stream_expect(&s, "HEAD");
	ASSERT_EQ(s.stats.expect_overflow, 3);
	http_stream_free(&s);
}

/* Random fragments of valid and invalid traffic, with random capture sizes
 * and gaps: no crash, no hang, and every head is consistent. */
static void test_random_fragments(void)
{
	static const struct { const char *p; size_t n; } pieces[] = {
		{ T("GET /a/1 HTTP/1.1\r\nHost: h\r\n\r\n") },
		{ T("POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc") },
		{ T("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody") },
		{ T("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") },
		{ T("HTTP/1.1 100 Continue\r\n\r\n") },
		{ T("\r\n") }, { T("\x00\xff\x16") }, { T("zz\r\n") }, { T("Host: x\r\n") },
	};
	static uint8_t buf[8192];
	struct http_stream s = {0};
	struct log l;
	uint32_t x = 777;
	int iter, broken = 0;

	for (iter = 0; iter < 400; iter++) {
		size_t n = 0, off = 0;
		uint64_t last_off = 0;
		int j;

		while (n < sizeof(buf) - 128) {
			size_t k = lcg(&x) % ARRAY_SIZE(pieces);

			memcpy(buf + n, pieces[k].p, pieces[k].n);
			n += pieces[k].n;
		}
		restart(&s, iter % 2 ? HTTP_REQUEST : HTTP_RESPONSE);
		memset(&l, 0, sizeof(l));
		while (off < n) {
			uint32_t len = 1 + lcg(&x) % 300, cap;

			if (len > n - off)
				len = n - off;
			cap = lcg(&x) % 4 ? len : lcg(&x) % (len + 1);
			if (lcg(&x) % 8 == 0)
				off += lcg(&x) % 50;	/* a write not captured at all */
			if (off >= n)
				break;
			if (len > n - off)
				len = cap = n - off;
			if (cap > len)
				cap = len;
			l.n = 0;
			http_stream_feed(&s, buf + off, cap, len, off, off, collect, &l);
			for (j = 0; j < l.n && j < MAX_RECS; j++) {
				const struct http_head *h = &l.r[j].h;

				if (h->stream_off < last_off ||
				    (h->head_end != HTTP_UNKNOWN && h->head_end <= h->stream_off) ||
				    (h->body_end != HTTP_UNKNOWN && h->head_end != HTTP_UNKNOWN &&
				     h->body_end < h->head_end))
					TL_FAIL("iteration %d: inconsistent head at %llu", iter,
						(unsigned long long)h->stream_off);
				last_off = h->stream_off;
			}
			off += len;
		}
		broken += http_stream_broken(&s);
	}
	/* the garbage pieces must break some streams and the gaps must not
	 * break all of them */
	ASSERT_TRUE(broken > 0 && broken < 400);
	http_stream_free(&s);
}

/* ---- helpers ---- */

static void test_is_method(void)
{
	static const struct { const char *s; bool want; } cases[] = {
		{ "GET / HTTP/1.1", true }, { "POST /x", true }, { "PATCH /x", true },
		{ "OPTIONS *", true }, { "CONNECT h:443", true }, { "DELETE ", true },
		{ "GET", false }, { "GET/", false }, { "GETX /", false }, { "get /", false },
		{ "HTTP/1.1 200", false }, { "", false }, { "\x16\x03\x01", false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (http_is_method((const uint8_t *)cases[i].s, strlen(cases[i].s)) != cases[i].want)
			TL_FAIL("http_is_method(\"%s\") != %d", cases[i].s, cases[i].want);
}

static void test_route_template(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "/orders/123/items/9f8e7d6c5b4a39281706f5e4d3c2b1a0", "/orders/{id}/items/{id}" },
		{ "/users/550e8400-e29b-41d4-a716-446655440000/profile", "/users/{id}/profile" },
		{ "/users/550E8400-E29B-41D4-A716-446655440000", "/users/{id}" },
		{ "/users/550e8400-e29b-41d4-a716-44665544000", "/users/550e8400-e29b-41d4-a716-44665544000" },
		{ "/a/deadbeefdeadbeef", "/a/{id}" },
		{ "/a/deadbeefdeadbee", "/a/deadbeefdeadbee" },
		{ "/a/deadbeef", "/a/deadbeef" },
		{ "/v2/items", "/v2/items" },
		{ "/a/123abc", "/a/123abc" },
		{ "/1/2/3", "/{id}/{id}/{id}" },
		{ "/search?q=42", "/search" },
		{ "/p/7#frag", "/p/{id}" },
		{ "//x//1/", "//x//{id}/" },
		{ "/", "/" },
		{ "", "" },
		{ "*", "*" },
		/* path (matrix) parameters go, like the query */
		{ "/cart;jsessionid=A1B2C3/checkout", "/cart/checkout" },
		{ "/cart;jsessionid=A1B2C3", "/cart" },
		{ "/o/12;v=2;x=y/items?q=1", "/o/{id}/items" },
		{ "/;a=b/c", "//c" },	/* an empty segment stays, as in "//x" */
		{ "/a;b", "/a" },
	};
	char out[128];
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		n = http_route_template(cases[i].in, out, sizeof(out));
		ASSERT_STREQ(out, cases[i].want);
		ASSERT_EQ(n, strlen(cases[i].want));
	}
	/* cut to fit */
	n = http_route_template("/orders/123", out, 8);
	ASSERT_STREQ(out, "/orders");
	ASSERT_EQ(n, 7);
	n = http_route_template("/orders/123", out, 10);
	ASSERT_STREQ(out, "/orders/{");
	ASSERT_EQ(http_route_template("/x", out, 0), 0);
}

static void test_stream_is_small(void)
{
	/* one per connection and direction */
	ASSERT_TRUE(sizeof(struct http_stream) <= 768);
}

/* A line split over two captures is assembled in a buffer the stream holds
 * only until the line is complete: an idle connection holds none. */
static void test_split_line_buffer_released(void)
{
	static const char head[] = "GET /a/long/path HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_stream s = {0};
	struct log l = { .n = 0 };

	restart(&s, HTTP_REQUEST);
	feed(&s, &l, head, 10, 10, 0, 1);	/* inside the request line */
	ASSERT_TRUE(s.line != NULL);
	feed(&s, &l, head + 10, sizeof(head) - 11, sizeof(head) - 11, 10, 2);
	ASSERT_TRUE(s.line == NULL);
	ASSERT_EQ(l.n, 1);
	ASSERT_TRUE(!http_stream_broken(&s));
	feed(&s, &l, head, 10, 10, sizeof(head) - 1, 3);	/* the next head, cut */
	ASSERT_TRUE(s.line != NULL);
	http_stream_close(&s, 4, collect, &l);
	ASSERT_TRUE(s.line == NULL);
	ASSERT_EQ(l.n, 2);	/* the cut head, reported truncated */
	http_stream_free(&s);
}

/* The head of one request with a header line, parsed alone. */
static struct http_head head_with(const char *line)
{
	struct http_stream s = {0};
	struct log l = { .n = 0 };
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "GET /x HTTP/1.1\r\n%s\r\n\r\n", line);

	restart(&s, HTTP_REQUEST);
	feed(&s, &l, buf, (uint32_t)n, (uint32_t)n, 0, 1);
	http_stream_free(&s);
	ASSERT_EQ(l.n, 1);
	return l.r[0].h;
}

/* Every header name the parser acts on is known in any case, and names
 * that share a length or a first letter with one are not taken for it. */
static void test_known_header_names(void)
{
	static const char *const copied[] = {
		"User-Agent", "ACCEPT", "accept-Language", "Content-Type", "Content-Length",
		"cookie", "Authorization", "REFERER",
	};
	static const char *const ids[] = {
		"X-Request-ID: abc", "x-correlation-id: abc", "X-B3-TraceId: abc", "B3: abc-1-1",
		"X-Amzn-Trace-Id: Root=abc;Parent=1",
	};
	static const char *const strangers[] = {
		"Hosts: h", "Hos: h", "X-Request-IE: abc", "Content-Lengtj: 5", "Accepts: x",
		"Upgradf: x", "Retry-Aftex: 3", "Cookies: a", "b4: abc", "Transfer-Encodinh: x",
	};
	uint64_t id = head_with("x-request-id: abc").req_id;
	struct http_head h;
	char line[128];

	for (unsigned i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		snprintf(line, sizeof(line), "%s: 1", copied[i]);
		h = head_with(line);
		ASSERT_EQ(h.fp.n, 1);
		ASSERT_EQ(h.fp.name[0], i + 1);	/* enum http_fp_header, in this order */
	}
	ASSERT_TRUE(id != 0);
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		ASSERT_EQ(head_with(ids[i]).req_id, id);
	ASSERT_EQ(head_with("Traceparent: 00-0123456789abcdef0123456789abcdef-0123456789abcdef-01")
			  .req_id,
		  head_with("X-Request-Id: 0123456789abcdef0123456789abcdef").req_id);
	ASSERT_TRUE(!strcmp(head_with("HOST: Shop.Example").host, "shop.example"));
	ASSERT_EQ(head_with("content-LENGTH: 5").content_length, 5);
	ASSERT_EQ(head_with("Transfer-Encoding: chunked").body, HTTP_BODY_CHUNKED);
	ASSERT_TRUE(head_with("CONNECTION: close").conn_close);
	ASSERT_TRUE(head_with("retry-AFTER: 3").retry_after);
	for (unsigned i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
		h = head_with(strangers[i]);
		ASSERT_EQ(h.fp.n, 0);
		ASSERT_EQ(h.req_id, 0);
		ASSERT_TRUE(!h.host[0] && h.content_length < 0 && h.body == HTTP_BODY_NONE);
		ASSERT_TRUE(!h.retry_after && !h.conn_close);
	}
}

int main(void)
{
	RUN_TEST(test_messages_whole);
	RUN_TEST(test_messages_split_everywhere);
	RUN_TEST(test_long_lines);
	RUN_TEST(test_long_framing_header);
	RUN_TEST(test_malformed_table);
	RUN_TEST(test_control_bytes_every_position);
	RUN_TEST(test_binary_garbage);
	RUN_TEST(test_64k_request_line);
	RUN_TEST(test_head_too_long);
	RUN_TEST(test_capture_gaps);
	RUN_TEST(test_timestamps);
	RUN_TEST(test_close_flushes_partial_head);
	RUN_TEST(test_throttling_in_body);
	RUN_TEST(test_expect_overflow);
	RUN_TEST(test_random_fragments);
	RUN_TEST(test_is_method);
	RUN_TEST(test_route_template);
	RUN_TEST(test_stream_is_small);
	RUN_TEST(test_split_line_buffer_released);
	RUN_TEST(test_known_header_names);
	TEST_MAIN_END();
}
