/* The replay path: events written with --record's writer (decoder_feed into
 * decoder_record_open's file), read back by decoder_replay through the whole
 * pipeline into JSON, and the counts read from the "total" line.  Damaged
 * files must fail with -1 and a message naming the file and byte offset. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "decoder.h"
#include "http.h"
#include "pipeline.h"
#include "testlib.h"

#define MS 1000000ull
#define T0 (5000 * 1000 * MS)	/* boot-time clock, 5000 s after boot */

static char dir[] = "/tmp/gs-unit-replay-XXXXXX";
static char path[256];
static long rec_header_size;	/* measured from an empty recording */

/* ---- synthetic events --------------------------------------------------- */

static struct gs_conn_event conn(int family, const char *dst, uint16_t dport, double close_s)
{
	struct gs_conn_event e = {
		.type = GS_EV_CONN, .size = sizeof(e), .sk = 0xffff888000001000ull,
		.ts_start = T0 + (uint64_t)(close_s * 1e9) - 20 * MS, .pid = 777, .tid = 777,
		.family = family, .sport = 41000, .dport = dport, .direction = GS_DIR_UPSTREAM,
		.flags = GS_CONN_F_DESTROYED, .comm = "replay-gw",
	};

	e.ts_close = e.ts_start + 20 * MS;
	inet_pton(family, family == AF_INET ? "10.9.0.1" : "2001:db8::1", e.saddr);
	inet_pton(family, dst, e.daddr);
	return e;
}

static struct gs_conn_event ok(const char *dst, uint16_t dport, double close_s, double connect_ms)
{
	struct gs_conn_event e = conn(strchr(dst, ':') ? AF_INET6 : AF_INET, dst, dport, close_s);

	e.flags |= GS_CONN_F_ESTABLISHED;
	e.ts_established = e.ts_start + (uint64_t)(connect_ms * MS);
	e.fin_by = GS_FIN_LOCAL;
	return e;
}

static struct gs_conn_event failed(const char *dst, uint16_t dport, double close_s, int err,
				   bool rst_in_syn)
{
	struct gs_conn_event e = conn(strchr(dst, ':') ? AF_INET6 : AF_INET, dst, dport, close_s);

	e.sk_err = err;
	if (rst_in_syn) {
		e.flags |= GS_CONN_F_RST_IN_SYN;
		e.rst_received = 1;
		e.ts_rst = e.ts_close;
		e.rst_state = 2;	/* TCP_SYN_SENT */
	}
	return e;
}

/* The events of one recorded run, in close order over 2.5 s:
 *   192.0.2.10:8080      4 connects: 3 ok (1, 2, 3 ms), 1 reset by the backend
 *   [2001:db8::20]:9000  4 connects: 2 refused, 1 timeout, 1 unreachable
 * plus one downstream connection and one HTTP capture, neither a backend. */
#define N_EVENTS 10
static union {
	struct gs_event_hdr hdr;
	struct gs_conn_event conn;
	struct gs_http_event http;
} events[N_EVENTS];

static void make_run(void)
{
	const char *a = "192.0.2.10", *b = "2001:db8::20";
	struct gs_http_event *h = &events[4].http;

	events[0].conn = ok(a, 8080, 0.1, 1);
	events[1].conn = failed(b, 9000, 0.2, ECONNREFUSED, true);
	events[2].conn = ok(a, 8080, 0.7, 2);
	events[3].conn = failed(b, 9000, 0.9, ECONNREFUSED, true);
	/* window 2 */
	memset(h, 0, sizeof(*h));
	h->type = GS_EV_HTTP;
	h->cap_len = 16;
	h->size = GS_HTTP_HDR_SIZE + h->cap_len;
	h->ts = T0 + 1150 * MS;	/* not on a window edge */
	h->io_dir = GS_IO_SEND;
	h->conn_dir = GS_DIR_UPSTREAM;
	memcpy(h->data, "GET / HTTP/1.1\r\n", 16);
	events[5].conn = ok(a, 8080, 1.2, 3);
	events[5].conn.retrans = 2;
	events[6].conn = ok("10.9.0.1", 80, 1.3, 1);
	events[6].conn.direction = GS_DIR_DOWNSTREAM;
	events[7].conn = failed(b, 9000, 1.5, ETIMEDOUT, false);
	events[7].conn.syn_retrans = 3;
	/* window 3 */
	events[8].conn = failed(b, 9000, 2.2, EHOSTUNREACH, false);
	events[9].conn = ok(a, 8080, 2.4, 1.5);
	events[9].conn.rst_received = 1;
	events[9].conn.ts_rst = events[9].conn.ts_close;
	events[9].conn.rst_state = 1;	/* TCP_ESTABLISHED */
}

/* ---- recording and replaying -------------------------------------------- */

static void count_event(const struct gs_event_hdr *ev, void *ctx)
{
	(void)ev;
	(*(unsigned *)ctx)++;
}

/* Record n events with the --record writer; the callback sees each one. */
static int record(const char *file, unsigned n)
{
	struct decoder d;
	unsigned seen = 0;

	decoder_init(&d, count_event, &seen);
	unlink(file);	/* recordings are never overwritten */
	if (decoder_record_open(&d, file))
		return -1;
	for (unsigned i = 0; i < n; i++)
		decoder_feed(&d, &events[i], events[i].hdr.size);
	decoder_record_close(&d);
	return seen == n ? 0 : -1;
}

static long file_size(const char *file)
{
	struct stat st;

	return stat(file, &st) ? -1 : st.st_size;
}

static char *errbuf;	/* what the last replay printed on stderr */

/* The file's bytes replayed from memory (fmemopen), as the fuzzing
 * harness does; -3 if the file cannot be read (or is empty). */
static int replay_in_memory(struct pipeline *p, const char *file)
{
	long size = file_size(file);
	char *bytes = malloc(size > 0 ? size : 1);
	int fd = open(file, O_RDONLY), rc = -3;
	FILE *f;

	if (bytes && fd >= 0 && size > 0 && read(fd, bytes, size) == size &&
	    (f = fmemopen(bytes, size, "rb"))) {
		rc = pipeline_replay_stream(p, file, f, size);
		fclose(f);
	}
	if (fd >= 0)
		close(fd);
	free(bytes);
	return rc;
}

/* Replay a file through a JSON pipeline as main.c does (from memory:
 * through pipeline_replay_stream); the JSON lines in *out (malloc'd),
 * stderr in errbuf.  decoder_replay's result. */
static int replay_from(const char *file, bool in_memory, char **out, uint64_t *events_seen)
{
	static struct pipeline p;
	static struct options o;
	char errpath[300];
	size_t len;
	int rc, saved, fd;
	FILE *f = open_memstream(out, &len);

	memset(&o, 0, sizeof(o));
	o.interval_s = 1;
	o.output = OUTPUT_JSON;
	o.events = EVENTS_ERRORS;
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	rc = pipeline_init(&p, &o, f) ? -2 : 0;
	if (rc == 0) {
		rc = in_memory ? replay_in_memory(&p, file) : pipeline_replay(&p, file);
		if (events_seen)
			*events_seen = p.decoder.events;
		pipeline_free(&p);
	}
	fclose(f);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	free(errbuf);
	len = lseek(fd, 0, SEEK_END);
	errbuf = calloc(1, len + 1);
	if (errbuf && pread(fd, errbuf, len, 0) < 0)
		errbuf[0] = '\0';
	close(fd);
	return rc;
}

static int replay(const char *file, char **out, uint64_t *events_seen)
{
	return replay_from(file, false, out, events_seen);
}

/* ---- reading the JSON lines --------------------------------------------- */

static int count_lines(const char *out, const char *type)
{
	char needle[64];
	int n = 0;

	snprintf(needle, sizeof(needle), "{\"type\":\"%s\"", type);
	for (const char *s = out; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		n += !strncmp(s, needle, strlen(needle));
	return n;
}

/* The idx-th line of this type, as a NUL-terminated copy (static). */
static const char *nth_line(const char *out, const char *type, int idx)
{
	static char line[64 * 1024];
	char needle[64];

	snprintf(needle, sizeof(needle), "{\"type\":\"%s\"", type);
	for (const char *s = out; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
		if (strncmp(s, needle, strlen(needle)) || idx--)
			continue;
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(s, "\n"), s);
		return line;
	}
	return NULL;
}

/* The object {"backend":"label",...} in a summary line, or NULL. */
static const char *backend_obj(const char *line, const char *label, size_t *len)
{
	char needle[128];
	const char *s, *p;
	int depth = 0;
	bool in_str = false;

	snprintf(needle, sizeof(needle), "{\"backend\":\"%s\"", label);
	s = line ? strstr(line, needle) : NULL;
	if (!s)
		return NULL;
	for (p = s; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = false;
		} else if (*p == '"') {
			in_str = true;
		} else if (*p == '{') {
			depth++;
		} else if (*p == '}' && --depth == 0) {
			*len = p - s + 1;
			return s;
		}
	}
	return NULL;
}

/* Number after "key": in a backend's object; -1 when absent, -2 for null. */
static double backend_num(const char *line, const char *label, const char *key)
{
	char needle[64], obj[4096];
	size_t len;
	const char *o = backend_obj(line, label, &len), *k;

	if (!o || len >= sizeof(obj))
		return -1;
	snprintf(obj, sizeof(obj), "%.*s", (int)len, o);
	snprintf(needle, sizeof(needle), "\"%s\":", key);
	k = strstr(obj, needle);
	if (!k)
		return -1;
	k += strlen(needle);
	return strncmp(k, "null", 4) ? strtod(k, NULL) : -2;
}

static double top_num(const char *line, const char *key)
{
	char needle[64];
	const char *k;

	snprintf(needle, sizeof(needle), "\"%s\":", key);
	k = line ? strstr(line, needle) : NULL;
	return k ? strtod(k + strlen(needle), NULL) : -1;
}

/* ---- tests -------------------------------------------------------------- */

#define A "192.0.2.10:8080"
#define B "[2001:db8::20]:9000"

static void test_record_header(void)
{
	snprintf(path, sizeof(path), "%s/empty.gsr", dir);
	ASSERT_EQ(record(path, 0), 0);
	rec_header_size = file_size(path);
	ASSERT_TRUE(rec_header_size >= 8);
	snprintf(path, sizeof(path), "%s/run.gsr", dir);
	ASSERT_EQ(record(path, N_EVENTS), 0);
	{
		long want = rec_header_size;

		for (int i = 0; i < N_EVENTS; i++)
			want += events[i].hdr.size;
		ASSERT_EQ(file_size(path), want);
	}
}

static void test_replay_totals(void)
{
	char *out = NULL;
	const char *t;
	uint64_t seen = 0;

	snprintf(path, sizeof(path), "%s/run.gsr", dir);
	ASSERT_EQ(replay(path, &out, &seen), 0);
	ASSERT_EQ(seen, N_EVENTS);
	ASSERT_EQ(count_lines(out, "total"), 1);
	t = nth_line(out, "total", 0);
	if (!ASSERT_NOT_NULL(t)) {
		free(out);
		return;
	}
	ASSERT_EQ(backend_num(t, A, "connects"), 4);
	ASSERT_EQ(backend_num(t, A, "refused"), 0);
	ASSERT_EQ(backend_num(t, A, "timeout"), 0);
	ASSERT_EQ(backend_num(t, A, "unreachable"), 0);
	ASSERT_EQ(backend_num(t, A, "received"), 1);
	ASSERT_EQ(backend_num(t, A, "sent"), 0);
	ASSERT_EQ(backend_num(t, A, "retransmits"), 2);
	/* connect_ms of 1, 2, 3, 1.5: nearest-rank p50 is 1.5, p99 is 3 */
	ASSERT_NEAR(backend_num(t, A, "p50"), 1.5, 0.015);
	ASSERT_NEAR(backend_num(t, A, "p99"), 3, 0.03);
	ASSERT_EQ(backend_num(t, B, "connects"), 4);
	ASSERT_EQ(backend_num(t, B, "refused"), 2);
	ASSERT_EQ(backend_num(t, B, "timeout"), 1);
	ASSERT_EQ(backend_num(t, B, "unreachable"), 1);
	ASSERT_EQ(backend_num(t, B, "received"), 0);	/* refusing RSTs are not resets */
	ASSERT_EQ(backend_num(t, B, "retransmits"), 3);
	ASSERT_EQ(backend_num(t, B, "connect_ms"), -2);	/* null: never connected */
	/* The downstream peer is a client, not a backend. */
	ASSERT_TRUE(backend_obj(t, "10.9.0.1:80", &(size_t){0}) == NULL);
	ASSERT_EQ(top_num(t, "lost_events"), 0);
	ASSERT_EQ(top_num(t, "malformed_events"), 0);
	/* Every counter is shown, also those a replay never moves. */
	ASSERT_EQ(top_num(t, "forks_followed"), 0);
	ASSERT_EQ(top_num(t, "exits_followed"), 0);
	ASSERT_EQ(top_num(t, "heads_truncated"), 0);
	ASSERT_EQ(top_num(t, "sync_lost"), 0);
	ASSERT_NEAR(top_num(t, "interval_s"), 2.3, 0.001);	/* first to last close */
	/* --events errors: the 4 failed connects and the reset, nothing else */
	ASSERT_EQ(count_lines(out, "connection"), 5);
	ASSERT_TRUE(strstr(out, "\"outcome\":\"reset_received\"") != NULL);
	if (tl_cur_failed)
		fprintf(stderr, "  output was:\n%s", out);
	free(out);
}

/* Intervals are cut in event time, from the first event on: the windows
 * [0.1, 1.1) and [1.1, 2.1) s are reported as they end, the last one only
 * in the total. */
static void test_replay_intervals(void)
{
	char *out = NULL;
	const char *s;

	snprintf(path, sizeof(path), "%s/run.gsr", dir);
	ASSERT_EQ(replay(path, &out, NULL), 0);
	ASSERT_EQ(count_lines(out, "summary"), 2);
	s = nth_line(out, "summary", 0);
	ASSERT_EQ(backend_num(s, A, "connects"), 2);
	ASSERT_EQ(backend_num(s, B, "refused"), 2);
	ASSERT_EQ(backend_num(s, B, "timeout"), 0);
	s = nth_line(out, "summary", 1);
	ASSERT_EQ(backend_num(s, A, "connects"), 1);
	ASSERT_EQ(backend_num(s, A, "retransmits"), 2);
	ASSERT_EQ(backend_num(s, B, "refused"), 0);
	ASSERT_EQ(backend_num(s, B, "timeout"), 1);
	ASSERT_EQ(backend_num(s, B, "unreachable"), 0);
	free(out);
}

static void write_file(const char *file, const void *data, size_t len)
{
	FILE *f = fopen(file, "wb");

	if (!f || fwrite(data, 1, len, f) != len)
		TL_FAIL("cannot write %s", file);
	if (f)
		fclose(f);
}

/* Cut a copy of run.gsr to len bytes. */
static void truncated_copy(const char *file, long len)
{
	char src[300];
	FILE *f;
	static char buf[64 * 1024];
	size_t n;

	snprintf(src, sizeof(src), "%s/run.gsr", dir);
	f = fopen(src, "rb");
	n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	ASSERT_TRUE((long)n >= len);
	write_file(file, buf, len);
}

/* A failed replay: -1, a message with the file name and the offset. */
static void expect_fail(const char *file, long offset, const char *what)
{
	char *out = NULL, want[64];
	int rc = replay(file, &out, NULL);

	if (rc != -1)
		TL_FAIL("%s: decoder_replay returned %d, expected -1", what, rc);
	if (offset >= 0) {
		snprintf(want, sizeof(want), "byte offset %ld", offset);
		if (!errbuf || !strstr(errbuf, file) || !strstr(errbuf, want))
			TL_FAIL("%s: message should name %s and \"%s\", got: %s", what, file, want,
				errbuf ? errbuf : "(none)");
	}
	if (count_lines(out, "total"))
		TL_FAIL("%s: a failed replay printed a total", what);
	free(out);
}

/* A recording cut inside an event (killed with -9, disk full): every event
 * before the cut is replayed and totalled, the rest counted as ignored. */
static void expect_torn(const char *file, long cut_at, long file_len, uint64_t want_events,
			const char *what)
{
	char *out = NULL, want[64];
	uint64_t seen = 0;
	int rc = replay(file, &out, &seen);

	if (rc != DECODER_REPLAY_TORN)
		TL_FAIL("%s: decoder_replay returned %d, expected %d (torn)", what, rc,
			DECODER_REPLAY_TORN);
	if (seen != want_events)
		TL_FAIL("%s: %llu events replayed, expected %llu", what,
			(unsigned long long)seen, (unsigned long long)want_events);
	if (count_lines(out, "total") != 1)
		TL_FAIL("%s: no total printed", what);
	snprintf(want, sizeof(want), "byte offset %ld", cut_at);
	if (!errbuf || !strstr(errbuf, want) || !strstr(errbuf, "torn tail"))
		TL_FAIL("%s: message should name \"%s\" and the torn tail, got: %s", what, want,
			errbuf ? errbuf : "(none)");
	snprintf(want, sizeof(want), "last %ld bytes ignored", file_len - cut_at);
	if (!errbuf || !strstr(errbuf, want))
		TL_FAIL("%s: message should say \"%s\", got: %s", what, want,
			errbuf ? errbuf : "(none)");
	free(out);
}

/* A recording replayed from memory gives what the file gives: the same
 * lines, the same result, whole or torn. */
static void test_replay_in_memory(void)
{
	char *from_file = NULL, *from_memory = NULL;
	long cut = rec_header_size + events[0].hdr.size + 100;

	snprintf(path, sizeof(path), "%s/run.gsr", dir);
	for (int torn = 0; torn < 2; torn++) {
		if (torn) {
			snprintf(path, sizeof(path), "%s/torn-mem.gsr", dir);
			truncated_copy(path, cut);
		}
		ASSERT_EQ(replay_from(path, false, &from_file, NULL), torn ? DECODER_REPLAY_TORN : 0);
		ASSERT_EQ(replay_from(path, true, &from_memory, NULL), torn ? DECODER_REPLAY_TORN : 0);
		ASSERT_TRUE(from_file && from_memory && !strcmp(from_file, from_memory));
		ASSERT_TRUE(count_lines(from_memory, "total") == 1);
		free(from_file);
		free(from_memory);
		from_file = from_memory = NULL;
	}
}

static void test_truncated(void)
{
	long first = rec_header_size, second = first + events[0].hdr.size;

	snprintf(path, sizeof(path), "%s/trunc.gsr", dir);
	/* inside the second event's body */
	truncated_copy(path, second + 100);
	expect_torn(path, second, second + 100, 1, "cut in an event");
	/* inside the second event's header */
	truncated_copy(path, second + 3);
	expect_torn(path, second, second + 3, 1, "cut in an event header");
	/* inside the first event */
	truncated_copy(path, first + 5);
	expect_torn(path, first, first + 5, 0, "cut in the first event");
	/* inside the file header, and empty: not a recording at all */
	truncated_copy(path, 10);
	expect_fail(path, 0, "cut in the file header");
	truncated_copy(path, 0);
	expect_fail(path, 0, "empty file");
	/* the HTTP capture (variable size) cut short */
	{
		long off = first;

		for (int i = 0; i < 4; i++)
			off += events[i].hdr.size;
		truncated_copy(path, off + GS_HTTP_HDR_SIZE + 5);
		expect_torn(path, off, off + GS_HTTP_HDR_SIZE + 5, 4, "cut in an HTTP capture");
	}
	/* cuts all over every event (in its header, its middle, its last byte)
	 * replay the events before it */
	{
		long off = first;
		int bad = 0;

		for (int idx = 0; idx < N_EVENTS && bad < 3; idx++) {
			long size = events[idx].hdr.size;
			long cuts[] = { 1, 3, 7, 8, 9, size / 2, size - 1 };

			for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
				char *out = NULL;
				uint64_t seen = 0;
				int rc;

				truncated_copy(path, off + cuts[k]);
				rc = replay(path, &out, &seen);
				if (rc != DECODER_REPLAY_TORN || seen != (uint64_t)idx ||
				    count_lines(out, "total") != 1) {
					TL_FAIL("cut at %ld: rc %d, %llu events, %d totals", off + cuts[k],
						rc, (unsigned long long)seen, count_lines(out, "total"));
					bad++;
				}
				free(out);
			}
			off += size;
		}
	}
	/* but a file cut exactly between events is a shorter, valid recording */
	{
		char *out = NULL;
		uint64_t seen = 0;

		truncated_copy(path, second);
		ASSERT_EQ(replay(path, &out, &seen), 0);
		ASSERT_EQ(seen, 1);
		ASSERT_EQ(backend_num(nth_line(out, "total", 0), A, "connects"), 1);
		free(out);
	}
}

static void test_garbage(void)
{
	static unsigned char junk[8192];
	uint64_t x = 88172645463325252ull;
	char src[300];
	FILE *f;

	for (size_t i = 0; i < sizeof(junk); i++) {	/* xorshift64 */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		junk[i] = x;
	}
	snprintf(path, sizeof(path), "%s/garbage.gsr", dir);
	write_file(path, junk, sizeof(junk));
	expect_fail(path, 0, "random bytes");
	/* a valid file header, then random bytes */
	snprintf(src, sizeof(src), "%s/empty.gsr", dir);
	f = fopen(src, "rb");
	ASSERT_TRUE(f && fread(junk, 1, rec_header_size, f) == (size_t)rec_header_size);
	if (f)
		fclose(f);
	write_file(path, junk, sizeof(junk));
	expect_fail(path, rec_header_size, "header then random bytes");
	/* a file that is not there */
	snprintf(path, sizeof(path), "%s/does-not-exist.gsr", dir);
	expect_fail(path, -1, "missing file");
	ASSERT_TRUE(errbuf && strstr(errbuf, path));
}

/* Record the run with one event damaged in place; replay must stop at it. */
static void expect_bad_event(int idx, const char *what)
{
	long off = rec_header_size;
	uint64_t seen = 0;
	char *out = NULL;

	for (int i = 0; i < idx; i++)
		off += events[i].hdr.size;
	snprintf(path, sizeof(path), "%s/bad-event.gsr", dir);
	{
		/* decoder_feed would drop a bad event: write this one by hand */
		FILE *f;

		ASSERT_EQ(record(path, idx), 0);
		f = fopen(path, "ab");
		if (!ASSERT_NOT_NULL(f))
			return;
		fwrite(&events[idx], 1, events[idx].hdr.size <= sizeof(events[idx]) ?
			events[idx].hdr.size : sizeof(events[idx].conn), f);
		for (int i = idx + 1; i < N_EVENTS; i++)
			fwrite(&events[i], 1, events[i].hdr.size, f);
		fclose(f);
	}
	ASSERT_EQ(replay(path, &out, &seen), -1);
	ASSERT_EQ(seen, idx);			/* the events before it went through */
	free(out);
	expect_fail(path, off, what);
}

static void test_bad_event_in_middle(void)
{
	make_run();
	events[3].hdr.type = 77;
	expect_bad_event(3, "unknown event type");
	make_run();
	events[2].hdr.type = 0;
	expect_bad_event(2, "event type 0");
	make_run();
	events[2].hdr.size = sizeof(struct gs_conn_event) - 8;
	expect_bad_event(2, "connection event too short");
	make_run();
	events[2].hdr.size = 0xffffffffu;
	expect_bad_event(2, "size field 4 GiB");
	make_run();
	events[4].http.cap_len = 200;		/* size says 16 bytes */
	expect_bad_event(4, "capture length does not match size");
	make_run();
}

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL test_clock_jump: replay still running after 5 s\n";

	(void)sig;
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

/* A structurally valid file whose clock jumps by years: the replay ends
 * (bounded time), it does not emit one summary per empty second. */
static void test_clock_jump(void)
{
	char *out = NULL;

	make_run();
	events[9].conn.ts_close += 3600ull * 24 * 365 * 1000000000ull;
	snprintf(path, sizeof(path), "%s/jump.gsr", dir);
	ASSERT_EQ(record(path, N_EVENTS), 0);
	signal(SIGALRM, on_alarm);
	alarm(5);	/* a hang fails the test instead of blocking the suite */
	ASSERT_EQ(replay(path, &out, NULL), 0);
	alarm(0);
	ASSERT_EQ(backend_num(nth_line(out, "total", 0), A, "connects"), 4);
	ASSERT_TRUE(count_lines(out, "summary") < 10000);
	free(out);
	make_run();
}

/* Many events, each jumping 999 s ahead (1 s intervals): the replay's
 * output stays proportional to its events (it printed ~1000 empty
 * summaries per event before). */
static void test_many_clock_jumps(void)
{
	enum { JUMPS = 300 };
	struct decoder d;
	unsigned seen = 0;
	char *out = NULL;

	snprintf(path, sizeof(path), "%s/jumps.gsr", dir);
	unlink(path);
	decoder_init(&d, count_event, &seen);
	ASSERT_EQ(decoder_record_open(&d, path), 0);
	for (int i = 0; i < JUMPS; i++) {
		struct gs_conn_event e = ok("192.0.2.10", 8080, 1 + 999.0 * i, 1);

		decoder_feed(&d, &e, e.size);
	}
	ASSERT_EQ(decoder_record_close(&d), 0);
	signal(SIGALRM, on_alarm);
	alarm(20);
	ASSERT_EQ(replay(path, &out, NULL), 0);
	alarm(0);
	ASSERT_EQ(backend_num(nth_line(out, "total", 0), A, "connects"), JUMPS);
	if (count_lines(out, "summary") > 10000 + 2 * JUMPS)
		TL_FAIL("%d summaries for %d events", count_lines(out, "summary"), JUMPS);
	free(out);
	unlink(path);
}

/* A FIFO, a directory, a device: refused at once, never read (a FIFO
 * blocked forever in open before). */
static void test_not_regular(void)
{
	static const char *devs[] = { "/dev/zero", "/dev/null", "/tmp" };

	snprintf(path, sizeof(path), "%s/fifo.gsr", dir);
	unlink(path);
	ASSERT_EQ(mkfifo(path, 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(5);
	expect_fail(path, -1, "FIFO");
	alarm(0);
	ASSERT_TRUE(errbuf && strstr(errbuf, "not a regular file"));
	unlink(path);
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		alarm(5);
		expect_fail(devs[i], -1, devs[i]);
		alarm(0);
		ASSERT_TRUE(errbuf && strstr(errbuf, "not a regular file"));
	}
}

/* Crafted clocks: the epoch conversion never overflows (a negative "ts"
 * came out before), and a header claiming a wall clock before 1970 or
 * centuries ahead is refused. */
static void test_crafted_clock(void)
{
	struct decoder d;
	unsigned char hdr[64];
	int64_t off;
	FILE *f;

	decoder_init(&d, count_event, NULL);
	d.wall_offset_ns = 1700000000ll * 1000000000ll;
	ASSERT_NEAR(decoder_epoch(&d, 0x7fffffffffffff00ull), 9223372036.854775 + 1.7e9, 1e-3);
	ASSERT_NEAR(decoder_epoch(&d, UINT64_MAX), 18446744073.709551 + 1.7e9, 1e-3);
	d.wall_offset_ns = INT64_MAX;
	ASSERT_TRUE(decoder_epoch(&d, UINT64_MAX) > 0);
	/* the header's wall offset field (bytes 16..23), set negative */
	snprintf(path, sizeof(path), "%s/empty.gsr", dir);
	f = fopen(path, "rb");
	ASSERT_TRUE(f && fread(hdr, 1, rec_header_size, f) == (size_t)rec_header_size);
	if (f)
		fclose(f);
	off = -5;
	memcpy(hdr + 16, &off, sizeof(off));
	snprintf(path, sizeof(path), "%s/badclock.gsr", dir);
	write_file(path, hdr, rec_header_size);
	expect_fail(path, 16, "negative wall-clock offset");
	unlink(path);
}

/* A header of the given record format version, as --record writes it
 * (from an empty recording), into buf. */
static void header_of_version(unsigned char *buf, uint32_t version)
{
	char src[300];
	FILE *f;

	snprintf(src, sizeof(src), "%s/empty.gsr", dir);
	f = fopen(src, "rb");
	ASSERT_TRUE(f && fread(buf, 1, rec_header_size, f) == (size_t)rec_header_size);
	if (f)
		fclose(f);
	memcpy(buf + 8, &version, sizeof(version));	/* magic[8], then version */
}

/* A newer format is refused, naming the versions this build reads; an
 * older one is converted as it is read (format 1 connection events lack
 * the TLS byte counts: they read as 0). */
static void test_record_versions(void)
{
	static unsigned char buf[64 * 1024];
	struct gs_conn_event c = events[0].conn;
	char *out = NULL, want[64];
	uint64_t seen = 0;
	const char *t;

	header_of_version(buf, GS_REC_VERSION + 1);
	snprintf(path, sizeof(path), "%s/newer.gsr", dir);
	write_file(path, buf, rec_header_size);
	expect_fail(path, 8, "a newer record format");
	snprintf(want, sizeof(want), "version %d is newer", GS_REC_VERSION + 1);
	ASSERT_TRUE(errbuf && strstr(errbuf, want));
	snprintf(want, sizeof(want), "reads (1 to %d)", GS_REC_VERSION);
	ASSERT_TRUE(errbuf && strstr(errbuf, want));

	header_of_version(buf, 1);
	c.size = GS_CONN_V1_SIZE;
	memcpy(buf + rec_header_size, &c, GS_CONN_V1_SIZE);
	snprintf(path, sizeof(path), "%s/v1.gsr", dir);
	write_file(path, buf, rec_header_size + GS_CONN_V1_SIZE);
	ASSERT_EQ(replay(path, &out, &seen), 0);
	ASSERT_EQ(seen, 1);
	t = nth_line(out, "total", 0);
	if (ASSERT_NOT_NULL(t))
		ASSERT_EQ(backend_num(t, A, "connects"), 1);
	free(out);
}

static void cleanup(void)
{
	static const char *files[] = {
		"empty.gsr", "run.gsr", "trunc.gsr", "garbage.gsr", "bad-event.gsr",
		"jump.gsr", "newer.gsr", "v1.gsr", "stderr",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	free(errbuf);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		printf("FAIL replay: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	make_run();
	RUN_TEST(test_record_header);
	RUN_TEST(test_replay_totals);
	RUN_TEST(test_replay_intervals);
	RUN_TEST(test_replay_in_memory);
	RUN_TEST(test_truncated);
	RUN_TEST(test_garbage);
	RUN_TEST(test_bad_event_in_middle);
	RUN_TEST(test_clock_jump);
	RUN_TEST(test_many_clock_jumps);
	RUN_TEST(test_not_regular);
	RUN_TEST(test_crafted_clock);
	RUN_TEST(test_record_versions);
	cleanup();
	TEST_MAIN_END();
}
