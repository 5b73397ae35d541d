// SPDX-License-Identifier: MIT
/* HTTP/2 frames of one connection direction: see h2_frame.h. */
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "h2_frame.h"

#define SETTINGS_HEADER_TABLE_SIZE 1
#define SETTINGS_MAX 4096	/* SETTINGS payload kept (682 settings) */

static uint32_t be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int h2_reader_init(struct h2_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->table_size_pending = UINT32_MAX;
	r->table_size_max = NGHTTP2_DEFAULT_HEADER_TABLE_SIZE;
	return nghttp2_hd_inflate_new(&r->infl) ? -1 : 0;
}

void h2_reader_free(struct h2_reader *r)
{
	if (r->infl)
		nghttp2_hd_inflate_del(r->infl);
	free(r->pay);
	free(r->block);
	memset(r, 0, sizeof(*r));
}

static void fail(struct h2_reader *r, const char *why)
{
	if (!r->error) {
		r->error = why;
		r->error_off = r->pos;
	}
}

void h2_reader_table_size(struct h2_reader *r, uint32_t size)
{
	if (size <= r->table_size_max)
		return;
	r->table_size_max = size;
	r->table_size_pending = size;
}

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 1024;
	uint8_t *p;

	if (need <= *cap)
		return true;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return false;
	*buf = p;
	*cap = n;
	return true;
}

/* How much of a frame's payload is needed: header block fragments whole,
 * the codes of RST_STREAM and GOAWAY, SETTINGS; nothing of the rest. */
static uint32_t payload_needed(uint8_t type, uint8_t flags, uint32_t len)
{
	switch (type) {
	case H2_HEADERS:
	case H2_CONTINUATION:
	case H2_PUSH_PROMISE:
		return len;
	case H2_RST_STREAM:
		return len < 4 ? len : 4;
	case H2_GOAWAY:
		return len < 8 ? len : 8;
	case H2_SETTINGS:
		return (flags & H2_FLAG_ACK) ? 0 : len;
	default:
		return 0;
	}
}

/* HPACK-decode the assembled block, its fields to cb->field. */
static bool inflate_block(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	static const uint8_t empty[1];
	const uint8_t *in = r->block ? r->block : empty;	/* an empty block is valid */
	size_t left = r->block_len;

	if (r->table_size_pending != UINT32_MAX) {
		nghttp2_hd_inflate_change_table_size(r->infl, r->table_size_pending);
		r->table_size_pending = UINT32_MAX;
	}
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t n = nghttp2_hd_inflate_hd2(r->infl, &nv, &fl, in, left, 1);

		if (n < 0) {
			fail(r, "HPACK header block does not decode");
			return false;
		}
		in += n;
		left -= (size_t)n;
		if ((fl & NGHTTP2_HD_INFLATE_EMIT) && cb->field)
			cb->field(ctx, r->block_stream, nv.name, nv.namelen, nv.value, nv.valuelen);
		if (fl & NGHTTP2_HD_INFLATE_FINAL)
			break;
		if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && !n) {
			fail(r, "HPACK header block does not end");
			return false;
		}
	}
	nghttp2_hd_inflate_end_headers(r->infl);
	return true;
}

/* A recording's replay: the block's bytes were wiped; its fields were
 * recorded decoded. */
static bool supplied_block(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	if (!cb->block_fields || cb->block_fields(ctx, r->block_stream) < 0) {
		fail(r, "header block's fields missing from the recording");
		return false;
	}
	return true;
}

static void decode_block(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	struct h2_frame_ev ev = {
		.type = r->block_type, .stream = r->block_stream,
		.end_stream = r->block_end_stream,
	};

	if (!(r->fields_supplied ? supplied_block(r, cb, ctx) : inflate_block(r, cb, ctx)))
		return;
	r->in_block = false;
	r->block_len = 0;
	r->stats.header_blocks++;
	if (cb->frame)
		cb->frame(ctx, &ev);
}

/* A header block fragment (HEADERS, PUSH_PROMISE after their padding and
 * fields, CONTINUATION): appended; decoded at END_HEADERS. */
static void add_fragment(struct h2_reader *r, const uint8_t *p, size_t n,
			 const struct h2_frame_cbs *cb, void *ctx)
{
	if (r->block_len + n > H2_BLOCK_MAX) {
		fail(r, "header block too large");
		return;
	}
	if (!grow(&r->block, &r->block_cap, r->block_len + n)) {
		fail(r, "out of memory");
		return;
	}
	if (n)
		memcpy(r->block + r->block_len, p, n);
	r->block_len += n;
	if (r->flags & H2_FLAG_END_HEADERS)
		decode_block(r, cb, ctx);
}

/* HEADERS / PUSH_PROMISE: strip the padding, priority or promised id. */
static void start_block(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	const uint8_t *p = r->pay;
	size_t n = r->len, pad = 0, skip = 0;

	if (r->flags & H2_FLAG_PADDED) {
		if (n < 1) {
			fail(r, "HEADERS padding without a length");
			return;
		}
		pad = p[0];
		p++;
		n--;
	}
	if (r->type == H2_HEADERS && (r->flags & H2_FLAG_PRIORITY))
		skip = 5;
	if (r->type == H2_PUSH_PROMISE)
		skip = 4;
	if (n < skip + pad) {
		fail(r, "HEADERS shorter than its padding");
		return;
	}
	r->in_block = true;
	r->block_type = r->type;
	r->block_stream = r->stream;
	r->block_end_stream = r->type == H2_HEADERS && (r->flags & H2_FLAG_END_STREAM);
	r->block_len = 0;
	add_fragment(r, p + skip, n - skip - pad, cb, ctx);
}

static void settings_done(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	struct h2_frame_ev ev = { .type = H2_SETTINGS, .table_size = UINT32_MAX };

	if (r->flags & H2_FLAG_ACK)
		return;
	for (uint32_t i = 0; i + 6 <= r->len; i += 6)
		if ((r->pay[i] << 8 | r->pay[i + 1]) == SETTINGS_HEADER_TABLE_SIZE)
			ev.table_size = be32(r->pay + i + 2);
	if (cb->frame)
		cb->frame(ctx, &ev);
}

static void frame_done(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	struct h2_frame_ev ev = { .type = r->type, .stream = r->stream };

	r->in_payload = false;
	r->hdr_got = 0;
	r->stats.frames++;
	switch (r->type) {
	case H2_DATA:
		ev.end_stream = r->flags & H2_FLAG_END_STREAM;
		if (ev.end_stream && cb->frame)
			cb->frame(ctx, &ev);
		break;
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
		start_block(r, cb, ctx);
		break;
	case H2_CONTINUATION:
		add_fragment(r, r->pay, r->len, cb, ctx);
		break;
	case H2_RST_STREAM:
		if (r->len != 4) {
			fail(r, "RST_STREAM of a bad length");
			break;
		}
		ev.error_code = be32(r->pay);
		if (cb->frame)
			cb->frame(ctx, &ev);
		break;
	case H2_GOAWAY:
		if (r->len < 8) {
			fail(r, "GOAWAY of a bad length");
			break;
		}
		ev.last_stream = be32(r->pay) & 0x7fffffffu;
		ev.error_code = be32(r->pay + 4);
		if (cb->frame)
			cb->frame(ctx, &ev);
		break;
	case H2_SETTINGS:
		settings_done(r, cb, ctx);
		break;
	default:
		break;
	}
}

/* The 9-byte frame header is complete. */
static void header_done(struct h2_reader *r, const struct h2_frame_cbs *cb, void *ctx)
{
	r->len = be24(r->hdr);
	r->type = r->hdr[3];
	r->flags = r->hdr[4];
	r->stream = be32(r->hdr + 5) & 0x7fffffffu;
	r->got = 0;
	r->in_payload = true;
	if (r->in_block && (r->type != H2_CONTINUATION || r->stream != r->block_stream)) {
		fail(r, "header block interrupted by another frame");
		return;
	}
	if (r->type == H2_CONTINUATION && !r->in_block) {
		fail(r, "CONTINUATION without a header block");
		return;
	}
	if (r->type == H2_SETTINGS && r->len > SETTINGS_MAX) {
		fail(r, "SETTINGS too large");
		return;
	}
	r->keep = payload_needed(r->type, r->flags, r->len);
	if (r->keep > H2_BLOCK_MAX) {
		fail(r, "header block too large");
		return;
	}
	if (!grow(&r->pay, &r->pay_cap, r->keep ? r->keep : 1)) {
		fail(r, "out of memory");
		return;
	}
	if (!r->len)
		frame_done(r, cb, ctx);
}

/* The first bytes of a direction: the client preface, or a frame. */
static size_t eat_preface(struct h2_reader *r, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && r->pos + i < H2_PREFACE_LEN) {
		if (p[i] != (uint8_t)H2_PREFACE[r->pos + i]) {
			r->pos += i;
			fail(r, "bad client preface");
			return i;
		}
		i++;
	}
	if (r->pos + i == H2_PREFACE_LEN)
		r->preface = false;
	return i;
}

static void consume(struct h2_reader *r, const uint8_t *p, size_t n,
		    const struct h2_frame_cbs *cb, void *ctx)
{
	while (n && !r->error) {
		size_t k;

		if (r->preface) {
			k = eat_preface(r, p, n);
		} else if (!r->in_payload) {
			k = (size_t)(9 - r->hdr_got) < n ? (size_t)(9 - r->hdr_got) : n;
			memcpy(r->hdr + r->hdr_got, p, k);
			r->hdr_got += k;
		} else {
			k = r->len - r->got < n ? r->len - r->got : n;
			if (r->got < r->keep)
				memcpy(r->pay + r->got, p,
				       r->keep - r->got < k ? r->keep - r->got : k);
		}
		if (r->error)
			return;
		r->pos += k;
		p += k;
		n -= k;
		if (!r->preface && !r->in_payload && r->hdr_got == 9)
			header_done(r, cb, ctx);
		else if (r->in_payload && k && (r->got += k) == r->len)
			frame_done(r, cb, ctx);
	}
}

/* n bytes that were not captured. */
static void gap(struct h2_reader *r, uint64_t n, const struct h2_frame_cbs *cb, void *ctx)
{
	while (n && !r->error) {
		uint64_t k;

		if (r->preface || !r->in_payload) {
			fail(r, r->in_block ? "header block lost" : "frame header lost");
			return;
		}
		if (r->got < r->keep) {
			fail(r, r->in_block || r->type == H2_HEADERS || r->type == H2_PUSH_PROMISE ?
				"header block lost" : "frame payload lost");
			return;
		}
		k = r->len - r->got < n ? r->len - r->got : n;
		r->got += k;
		r->pos += k;
		r->stats.skipped_bytes += k;
		n -= k;
		if (r->got == r->len)
			frame_done(r, cb, ctx);
	}
}

int h2_reader_feed(struct h2_reader *r, const uint8_t *data, uint32_t cap, uint32_t len,
		   uint64_t off, const struct h2_frame_cbs *cb, void *ctx)
{
	if (cap > len)
		cap = len;
	if (r->error)
		return -1;
	if (!r->started) {
		if (off) {
			fail(r, "start of the connection not seen");
			return -1;
		}
		r->started = true;
		r->preface = cap && data[0] == 'P';
	}
	if (off + len <= r->pos)
		return 0;		/* seen already */
	if (off < r->pos) {		/* overlaps what was seen: skip that part */
		uint64_t seen = r->pos - off;

		data += seen < cap ? seen : cap;
		cap = seen < cap ? cap - (uint32_t)seen : 0;
		len -= (uint32_t)seen;
		off = r->pos;
	}
	if (off > r->pos)
		gap(r, off - r->pos, cb, ctx);
	consume(r, data, cap, cb, ctx);
	if (len > cap)
		gap(r, len - cap, cb, ctx);
	return r->error ? -1 : 0;
}
