/* The --record writer: how the file is created (0600, no symlink, no
 * overwrite), what happens when writing fails (the run must fail), and the
 * credential masking (same length; a masked recording replays the same). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "decoder.h"
#include "http.h"
#include "pipeline.h"
#include "redact.h"
#include "testlib.h"

#define MS 1000000ull
#define T0 (5000 * 1000 * MS)

static char dir[] = "/tmp/gs-unit-record-XXXXXX";
static char path[256];

static void nop(const struct gs_event_hdr *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
}

static struct gs_conn_event conn_event(double close_s)
{
	struct gs_conn_event e = {
		.type = GS_EV_CONN, .size = sizeof(e), .sk = 0x1000,
		.ts_start = T0 + (uint64_t)(close_s * 1e9) - 5 * MS, .pid = 7, .tid = 7,
		.family = 2, .sport = 41000, .dport = 8080, .direction = GS_DIR_UPSTREAM,
		.flags = GS_CONN_F_DESTROYED | GS_CONN_F_ESTABLISHED, .comm = "gw",
	};

	e.ts_close = e.ts_start + 5 * MS;
	e.ts_established = e.ts_start + MS;
	return e;
}

static struct gs_http_event http_event(uint64_t sk, uint8_t dir_, uint64_t off, const char *data,
				       uint32_t len)
{
	struct gs_http_event e = { .type = GS_EV_HTTP, .sk = sk, .ts = T0, .io_dir = dir_,
				   .conn_dir = GS_DIR_DOWNSTREAM, .stream_off = off };
	size_t n = strlen(data);

	memcpy(e.data, data, n);
	e.cap_len = n;
	e.len = len ? len : n;
	e.size = GS_HTTP_HDR_SIZE + n;
	return e;
}

static int dir_path(const char *name)
{
	return snprintf(path, sizeof(path), "%s/%s", dir, name);
}

static char *slurp(const char *file, size_t *len)
{
	FILE *f = fopen(file, "rb");
	char *buf = calloc(1, 1 << 20);

	*len = f && buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

/* ---- how the file is created ------------------------------------------ */

static void test_created_0600(void)
{
	struct decoder d;
	struct stat st;
	mode_t old = umask(022);

	dir_path("new.gsr");
	decoder_init(&d, nop, NULL);
	ASSERT_EQ(decoder_record_open(&d, path), 0);
	ASSERT_EQ(decoder_record_close(&d), 0);
	umask(old);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0600);
	unlink(path);
}

/* A symlink planted where the recording goes is never followed: its target
 * keeps its content; an existing file is never overwritten. */
static void test_no_symlink_no_overwrite(void)
{
	char target[300];
	struct decoder d;
	size_t len;
	char *content;
	FILE *f;

	snprintf(target, sizeof(target), "%s/victim", dir);
	f = fopen(target, "w");
	if (!ASSERT_NOT_NULL(f))
		return;
	fputs("precious\n", f);
	fclose(f);
	dir_path("link.gsr");
	ASSERT_EQ(symlink(target, path), 0);
	decoder_init(&d, nop, NULL);
	ASSERT_EQ(decoder_record_open(&d, path), -ELOOP);
	content = slurp(target, &len);
	ASSERT_STREQ(content, "precious\n");
	free(content);
	unlink(path);
	/* the victim itself, an existing regular file */
	ASSERT_EQ(decoder_record_open(&d, target), -EEXIST);
	content = slurp(target, &len);
	ASSERT_STREQ(content, "precious\n");
	free(content);
	unlink(target);
	/* a device is written to: /dev/null */
	ASSERT_EQ(decoder_record_open(&d, "/dev/null"), 0);
	ASSERT_EQ(decoder_record_close(&d), 0);
}

/* ---- write errors: a failed recording is a failed run ------------------ */

static void test_dev_full(void)
{
	struct decoder d;

	decoder_init(&d, nop, NULL);
	ASSERT_EQ(decoder_record_open(&d, "/dev/full"), -ENOSPC);
	ASSERT_TRUE(d.record == NULL);
	ASSERT_EQ(decoder_record_close(&d), 0);	/* nothing was open */
}

/* Record n connection events into a file limited to limit bytes; the
 * result of decoder_record_close. */
static int record_limited(rlim_t limit, int n, uint64_t *passed_on)
{
	struct rlimit old, lim;
	struct decoder d;
	int rc;

	dir_path("limited.gsr");
	unlink(path);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = limit;
	signal(SIGXFSZ, SIG_IGN);
	decoder_init(&d, nop, NULL);
	if (decoder_record_open(&d, path))
		return -100;
	setrlimit(RLIMIT_FSIZE, &lim);
	for (int i = 0; i < n; i++) {
		struct gs_conn_event e = conn_event(1 + i);

		decoder_feed(&d, &e, e.size);
	}
	rc = decoder_record_close(&d);
	setrlimit(RLIMIT_FSIZE, &old);
	*passed_on = d.events;
	unlink(path);
	return rc;
}

static void test_write_errors(void)
{
	uint64_t passed = 0;

	/* per event: far more than stdio buffers, the file stops at 1000 bytes */
	ASSERT_EQ(record_limited(1000, 500, &passed), -1);
	ASSERT_EQ(passed, 500);		/* the live analysis goes on */
	/* at close: two events fit the stdio buffer, not the file */
	ASSERT_EQ(record_limited(100, 2, &passed), -1);
	/* no limit hit: success */
	ASSERT_EQ(record_limited(RLIM_INFINITY, 20, &passed), 0);
}

/* ---- masking ------------------------------------------------------------ */

static void expect_masked(const char *in, const char *want)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", in);
	redact_buffer((uint8_t *)buf, strlen(buf));
	ASSERT_STREQ(buf, want);
}

static void test_mask_buffer(void)
{
	expect_masked("GET /a?api_key=s3cr3t&page=2 HTTP/1.1\r\nHost: x\r\n\r\n",
		      "GET /a?api_key=******&page=* HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_masked("GET /a;jsessionid=ABC123/b;v=1?x HTTP/1.1\r\n",
		      "GET /a;jsessionid=******/b;v=*?x HTTP/1.1\r\n");
	expect_masked("POST /login HTTP/1.1\r\nAuthorization: Bearer abc.def\r\n"
		      "Proxy-Authorization: Basic Zm9v\r\ncookie: a=b; c=d\r\n"
		      "X-Api-Key: k1\r\nX-Request-ID: r-1\r\nContent-Length: 5\r\n\r\n",
		      "POST /login HTTP/1.1\r\nAuthorization: ****** *******\r\n"
		      "Proxy-Authorization: ***** ****\r\ncookie: **** ***\r\n"
		      "X-Api-Key: **\r\nX-Request-ID: r-1\r\nContent-Length: 5\r\n\r\n");
	expect_masked("HTTP/1.1 200 OK\r\nSet-Cookie: sid=42; HttpOnly\r\n\r\n",
		      "HTTP/1.1 200 OK\r\nSet-Cookie: ******* ********\r\n\r\n");
	/* an obsolete folded continuation of a credential header */
	expect_masked("X-Auth-Token: a\r\n b\r\nX: y\r\n", "X-Auth-Token: *\r\n *\r\nX: y\r\n");
	ASSERT_TRUE(!redact_secret_header("Host", 4));
	ASSERT_TRUE(!redact_secret_header("traceparent", 11));
	ASSERT_TRUE(redact_secret_header("X-AMZ-SECURITY-TOKEN", 20));
}

/* A credential header cut between two writes: the second part is masked
 * too (the scanner state follows the connection); a buffer of unknown
 * context that does not start a head has its first partial line masked. */
static void test_mask_split(void)
{
	struct redactor *r = redactor_new();
	struct gs_http_event a = http_event(9, GS_IO_SEND, 0, "GET / HTTP/1.1\r\nCookie: ab", 0);
	struct gs_http_event b = http_event(9, GS_IO_SEND, a.cap_len, "cd\r\nHost: h\r\n\r\n", 0);
	struct gs_http_event c = http_event(10, GS_IO_SEND, 777, "tail-of-secret\r\nHost: h\r\n", 0);
	struct gs_http_event ch = http_event(11, GS_IO_RECV, 500, "1a\r\n{\"x\":1}", 0);

	if (!ASSERT_NOT_NULL(r))
		return;
	redact_http(r, &a);
	redact_http(r, &b);
	redact_http(r, &c);
	redact_http(r, &ch);
	ASSERT_TRUE(!memcmp(a.data, "GET / HTTP/1.1\r\nCookie: **", a.cap_len));
	ASSERT_TRUE(!memcmp(b.data, "**\r\nHost: h\r\n\r\n", b.cap_len));
	ASSERT_TRUE(!memcmp(c.data, "**************\r\nHost: h\r\n", c.cap_len));
	ASSERT_TRUE(!memcmp(ch.data, "1a\r\n{\"x\":1}", ch.cap_len));
	redactor_free(r);
}

/* What reaches the file: no secret, same sizes; and the masked recording
 * replays to the same JSON as the events fed live. */
static const char *const secrets[] = { "Bearer abc.def", "sid=42", "s3cr3t", "ABC123" };

static void record_requests(const char *file)
{
	struct gs_http_event req = http_event(
		1, GS_IO_RECV, 0,
		"GET /orders;jsessionid=ABC123/42?api_key=s3cr3t HTTP/1.1\r\nHost: shop\r\n"
		"Authorization: Bearer abc.def\r\nCookie: sid=42\r\n\r\n", 0);
	struct gs_http_event resp = http_event(
		1, GS_IO_SEND, 0, "HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n", 0);
	struct gs_conn_event down = conn_event(2);
	struct decoder d;

	req.conn_dir = resp.conn_dir = GS_DIR_DOWNSTREAM;
	req.ts = T0 + 100 * MS;
	resp.ts = T0 + 1100 * MS;
	resp.other_off = req.cap_len;
	down.sk = 1;
	down.direction = GS_DIR_DOWNSTREAM;
	unlink(file);
	decoder_init(&d, nop, NULL);
	ASSERT_EQ(decoder_record_open(&d, file), 0);
	decoder_feed(&d, &req, req.size);
	decoder_feed(&d, &resp, resp.size);
	decoder_feed(&d, &down, down.size);
	ASSERT_EQ(decoder_record_close(&d), 0);
	/* the caller's events are untouched: the live pipeline sees them whole */
	ASSERT_TRUE(strstr((const char *)req.data, "Bearer abc.def") != NULL);
}

static char *replay_json(const char *file)
{
	static struct pipeline p;
	static struct options o;
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	memset(&o, 0, sizeof(o));
	o.interval_s = 1;
	o.output = OUTPUT_JSON;
	o.events = EVENTS_ALL;
	if (pipeline_init(&p, &o, f) == 0) {
		ASSERT_EQ(pipeline_replay(&p, file), 0);
		pipeline_free(&p);
	}
	fclose(f);
	return out;
}

static void test_recording_masked(void)
{
	size_t len;
	char *data, *json;

	dir_path("masked.gsr");
	record_requests(path);
	data = slurp(path, &len);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (memmem(data, len, secrets[i], strlen(secrets[i])))
			TL_FAIL("the recording holds \"%s\"", secrets[i]);
	ASSERT_TRUE(memmem(data, len, "Host: shop", 10) != NULL);
	ASSERT_TRUE(memmem(data, len, "Authorization: ****** *******", 29) != NULL);
	free(data);
	json = replay_json(path);
	if (!json || !strstr(json, "\"route\":\"/orders/{id}\""))
		TL_FAIL("route not /orders/{id}: %s", json ? json : "(none)");
	ASSERT_TRUE(json && strstr(json, "\"status\":504"));
	for (size_t i = 0; json && i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(json, secrets[i]))
			TL_FAIL("the replay printed \"%s\"", secrets[i]);
	free(json);
	unlink(path);
}

/* Table output of traced strings: a process name, a request path and a
 * backend name full of terminal escapes reach the table as '?'. */
static void test_table_output_sanitised(void)
{
	static struct pipeline p;
	static struct options o;
	struct gs_http_event req = http_event(
		1, GS_IO_RECV, 0, "GET /x\x9b" "2J\xc3\xa9 HTTP/1.1\r\nHost: shop\r\n\r\n", 0);
	struct gs_http_event resp = http_event(
		1, GS_IO_SEND, 0, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", 0);
	struct gs_conn_event up = conn_event(1), down = conn_event(2);
	static const char evil_comm[] = "\x1b[31mevil\x1b[0m";
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	o.interval_s = 1;
	o.output = OUTPUT_TABLE;
	o.events = EVENTS_ALL;
	ASSERT_EQ(pipeline_init(&p, &o, f), 0);
	p.replaying = true;
	agg_set_name(&p.agg, "0.0.0.0:8080", "be\x1b]0;owned\x07");
	memcpy(up.comm, evil_comm, sizeof(evil_comm));
	req.ts = T0 + 100 * MS;
	resp.ts = T0 + 200 * MS;
	down.sk = 1;
	down.direction = GS_DIR_DOWNSTREAM;
	memcpy(down.comm, up.comm, sizeof(down.comm));
	p.decoder.fn((void *)&req, &p);
	p.decoder.fn((void *)&resp, &p);
	p.decoder.fn((void *)&up, &p);
	p.decoder.fn((void *)&down, &p);
	pipeline_total(&p, 1.0, 1.0);
	pipeline_free(&p);
	fclose(f);
	ASSERT_TRUE(out && strstr(out, "?[31mevil?[0m"));
	ASSERT_TRUE(out && strstr(out, "be?]0;owned?"));
	ASSERT_TRUE(out && strstr(out, "GET shop/x?2J??"));
	for (size_t i = 0; out && i < len; i++)
		if (out[i] != '\n' && ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)) {
			TL_FAIL("byte 0x%02x at %zu in the table: %.*s", (unsigned char)out[i], i,
				(int)(i > 60 ? 60 : i), out + (i > 60 ? i - 60 : 0));
			break;
		}
	free(out);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		printf("FAIL record: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN_TEST(test_created_0600);
	RUN_TEST(test_no_symlink_no_overwrite);
	RUN_TEST(test_dev_full);
	RUN_TEST(test_write_errors);
	RUN_TEST(test_mask_buffer);
	RUN_TEST(test_mask_split);
	RUN_TEST(test_recording_masked);
	RUN_TEST(test_table_output_sanitised);
	rmdir(dir);
	TEST_MAIN_END();
}
