// SPDX-License-Identifier: MIT
/* libFuzzer harness for the HTTP/2 path: framing, HPACK decoding and
 * streams becoming requests or attempts (h2_frame.c, h2.c), on one
 * connection: client-facing, or upstream when the input's length is odd.
 *
 * Input: fragments, each a 4-byte header (flags: bit 0 the server's
 * direction, else the client's; u16 captured length; u8 extra bytes the
 * I/O moved beyond the capture) and its captured bytes.  Offsets follow
 * from the lengths per direction, as the kernel reports them; "extra"
 * makes the gaps that must be skipped (DATA) or break the direction.
 * Every fragment is also recorded (h2_record.c: header blocks wiped, their
 * fields as events of their own) and the recording replayed into a second
 * connection, as --record and --replay do. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "h2.h"
#include "h2_record.h"
#include "join.h"

#define H2_FUZZ_JOIN_REQUESTS 16

static unsigned decided;

static void on_request(const struct request *r, void *ctx)
{
	(void)ctx;
	/* Every string handed out must be terminated within its field. */
	if (strnlen(r->method, sizeof(r->method)) == sizeof(r->method) ||
	    strnlen(r->host, sizeof(r->host)) == sizeof(r->host) ||
	    strnlen(r->path, sizeof(r->path)) == sizeof(r->path))
		abort();
	decided++;
}

static void on_orphan(const struct attempt *a, void *ctx)
{
	(void)ctx;
	if (strnlen(a->method, sizeof(a->method)) == sizeof(a->method) ||
	    strnlen(a->path, sizeof(a->path)) == sizeof(a->path))
		abort();
}

/* An upstream connection's close reaches each of its attempts once. */
static void on_closed(struct attempt *a, bool stream_open, void *ctx)
{
	(void)stream_open;
	(void)ctx;
	if (a->have_conn)
		abort();
	a->have_conn = true;
}

/* The recording's fields events go straight to the replaying connection. */
static void replay_fields(const struct gs_http_event *f, void *ctx)
{
	h2_conn_fields(ctx, f, f->io_dir == GS_IO_RECV);
}

static void record_and_replay(struct h2_recorder *rec, struct h2_conn *rh,
			      const struct gs_http_event *e, bool is_request)
{
	static struct gs_http_event copy;

	memcpy(&copy, e, GS_HTTP_HDR_SIZE + e->cap_len);
	h2_record_event(rec, &copy);
	if (copy.cap_len > GS_CAPTURE_MAX || (copy.flags & GS_HTTP_F_H2_FIELDS))
		abort();
	h2_conn_feed(rh, &copy, is_request);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gs_http_event e;
	struct request proto = { .pid = 1 };
	struct attempt up = { .pid = 1, .backend = "10.0.0.2:50051", .connect_ms = -1 };
	bool upstream = size & 1;
	struct h2_stats st = { 0 };
	/* A joiner of its own per input, so that nothing one input left (the
	 * join learns per process how threads and closes go) changes how the
	 * next runs, and a finding replays alone.  Small tables are cheap to
	 * build per input, and a few streams fill them (evictions run too). */
	static struct joiner j;
	struct h2_conn *h, *rh;
	struct h2_recorder *rec;
	uint64_t off[2] = { 0, 0 }, ts = 1000;
	size_t pos = 0;

	if (join_init(&j, 0, H2_FUZZ_JOIN_REQUESTS, on_request, on_orphan, NULL))
		abort();
	h = h2_conn_new(&proto, upstream ? &up : NULL, &j, &st);
	rh = h2_conn_new(&proto, upstream ? &up : NULL, &j, &st);
	rec = rh ? h2_recorder_new(replay_fields, rh) : NULL;
	if (!h || !rh || !rec) {
		h2_conn_free(h);
		h2_conn_free(rh);
		h2_recorder_free(rec);
		join_free(&j);
		return 0;
	}
	while (pos + 4 <= size) {
		bool server = data[pos] & 1;
		size_t cap = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		size_t extra = data[pos + 3];

		pos += 4;
		if (cap > size - pos)
			cap = size - pos;
		if (cap > GS_CAPTURE_MAX)
			cap = GS_CAPTURE_MAX;
		memset(&e, 0, GS_HTTP_HDR_SIZE);
		e.type = GS_EV_HTTP;
		e.flags = GS_HTTP_F_H2;
		e.io_dir = server ? GS_IO_SEND : GS_IO_RECV;
		e.conn_dir = GS_DIR_DOWNSTREAM;
		e.ts = ts += 1000;
		e.stream_off = off[server];
		e.cap_len = cap;
		e.len = cap + extra;
		memcpy(e.data, data + pos, cap);
		e.size = GS_HTTP_HDR_SIZE + cap;
		record_and_replay(rec, rh, &e, !server);
		h2_conn_feed(h, &e, !server);
		off[server] += e.len;
		pos += cap;
	}
	if (upstream) {
		h2_conn_upstream_closed(h, on_closed, NULL);
		h2_conn_upstream_closed(rh, on_closed, NULL);
	} else {
		h2_conn_closed(h, pos & 1, ts + 1000, ts, 0);
		h2_conn_closed(rh, pos & 1, ts + 1000, ts, 0);
	}
	join_poll(&j, UINT64_MAX);
	h2_conn_free(h);
	h2_conn_free(rh);
	h2_recorder_free(rec);
	join_free(&j);
	return 0;
}
