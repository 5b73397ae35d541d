// SPDX-License-Identifier: MIT
/* HTTP/2 in --record files: see h2_record.h. */
#include <stdlib.h>
#include <string.h>
#include "h2_frame.h"
#include "h2_record.h"
#include "redact.h"

/* One recorded connection direction. */
struct rec_dir {
	uint64_t sk;
	uint8_t io_dir;
	bool lost;			/* no longer followed: recorded without bytes */
	bool started;			/* its first frame was a SETTINGS */
	uint64_t ts_last;		/* its last chunk: the table evicts the oldest */
	/* The largest SETTINGS_HEADER_TABLE_SIZE this direction's sender
	 * advertised: the reverse direction's encoder may use that table. */
	uint32_t advertised;
	struct h2_reader rd;
	struct gs_http_event *cur;	/* the chunk being recorded */
	struct gs_http_event fields;	/* the block being decoded, as its event */
};

struct h2_recorder {
	h2_rec_emit emit;
	void *ctx;
	struct rec_dir *slots[H2_REC_SLOTS];
};

struct h2_recorder *h2_recorder_new(h2_rec_emit emit, void *ctx)
{
	struct h2_recorder *r = calloc(1, sizeof(*r));

	if (r) {
		r->emit = emit;
		r->ctx = ctx;
	}
	return r;
}

static void dir_free(struct rec_dir *d)
{
	h2_reader_free(&d->rd);
	free(d);
}

void h2_recorder_free(struct h2_recorder *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < H2_REC_SLOTS; i++)
		if (r->slots[i])
			dir_free(r->slots[i]);
	free(r);
}

static unsigned slot_hash(uint64_t sk, uint8_t io_dir)
{
	return (unsigned)(((sk ^ (sk >> 29) ^ io_dir) * 0x9e3779b97f4a7c15ull) >> 54) % H2_REC_SLOTS;
}

/* The slot of (sk, io_dir), or NULL; *free_slot: the first empty slot on
 * the way (H2_REC_SLOTS if none). */
static struct rec_dir **slot_find(struct h2_recorder *r, uint64_t sk, uint8_t io_dir,
				  unsigned *free_slot)
{
	unsigned h = slot_hash(sk, io_dir);

	*free_slot = H2_REC_SLOTS;
	for (unsigned i = 0; i < H2_REC_SLOTS; i++) {
		unsigned k = (h + i) % H2_REC_SLOTS;
		struct rec_dir *d = r->slots[k];

		if (!d) {
			if (*free_slot == H2_REC_SLOTS)
				*free_slot = k;
			continue;
		}
		if (d->sk == sk && d->io_dir == io_dir)
			return &r->slots[k];
	}
	return NULL;
}

/* The table is full (closes missed, or that many open): the direction
 * silent the longest is no longer followed (its later chunks are recorded
 * without bytes, as any direction not followed).  Its slot, emptied. */
static unsigned evict_oldest(struct h2_recorder *r)
{
	unsigned old = 0;

	for (unsigned i = 1; i < H2_REC_SLOTS; i++)
		if (r->slots[i]->ts_last < r->slots[old]->ts_last)
			old = i;
	dir_free(r->slots[old]);
	r->slots[old] = NULL;
	return old;
}

static uint8_t reverse(uint8_t io_dir)
{
	return io_dir == GS_IO_SEND ? GS_IO_RECV : GS_IO_SEND;
}

/* Followed from the direction's first byte only (HPACK state starts
 * there); NULL: not followed. */
static struct rec_dir *dir_get(struct h2_recorder *r, const struct gs_http_event *e)
{
	unsigned free_slot;
	struct rec_dir **found = slot_find(r, e->sk, e->io_dir, &free_slot);
	struct rec_dir *d;

	if (found) {
		(*found)->ts_last = e->ts;
		return *found;
	}
	if (e->stream_off != 0)
		return NULL;
	if (free_slot == H2_REC_SLOTS)
		free_slot = evict_oldest(r);
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (h2_reader_init(&d->rd)) {
		dir_free(d);
		return NULL;
	}
	d->sk = e->sk;
	d->io_dir = e->io_dir;
	d->ts_last = e->ts;
	r->slots[free_slot] = d;
	found = slot_find(r, e->sk, reverse(e->io_dir), &free_slot);
	if (found && (*found)->advertised)
		h2_reader_table_size(&d->rd, (*found)->advertised);
	return d;
}

void h2_record_closed(struct h2_recorder *r, uint64_t sk)
{
	unsigned free_slot;

	for (uint8_t io = GS_IO_SEND; io <= GS_IO_RECV; io++) {
		struct rec_dir **d = slot_find(r, sk, io, &free_slot);

		if (d) {
			dir_free(*d);
			*d = NULL;
		}
	}
}

/* ---- a block's fields, masked, into its event ---- */

static bool is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(p, s, n);
}

static void on_field(void *ctx, uint32_t stream, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen)
{
	struct rec_dir *d = ctx;
	struct gs_http_event *f = &d->fields;
	uint8_t *p = f->data + f->cap_len;

	(void)stream;
	if (d->lost || nlen > UINT16_MAX || vlen > UINT16_MAX ||
	    H2_REC_FIELD_HDR + nlen + vlen > GS_CAPTURE_MAX - f->cap_len) {
		/* Too large for one record: rather than a replay that decodes
		 * fewer fields than the live run did, none (it counts the
		 * connection broken). */
		d->lost = true;
		return;
	}
	p[0] = nlen & 0xff;
	p[1] = nlen >> 8;
	p[2] = vlen & 0xff;
	p[3] = vlen >> 8;
	memcpy(p + H2_REC_FIELD_HDR, name, nlen);
	memcpy(p + H2_REC_FIELD_HDR + nlen, value, vlen);
	p += H2_REC_FIELD_HDR + nlen;
	/* Pseudo-headers hold no credential (":authority" is the host),
	 * but :path has its query. */
	if (is(name, nlen, ":path"))
		redact_target(p, vlen);
	else if (nlen && name[0] != ':' && redact_secret_header((const char *)name, nlen))
		redact_value(p, vlen);
	f->cap_len += H2_REC_FIELD_HDR + nlen + vlen;
}

/* The connection's own event, carrying what the block said. */
static void fields_begin(struct rec_dir *d)
{
	struct gs_http_event *f = &d->fields;

	memcpy(f, d->cur, GS_HTTP_HDR_SIZE);
	f->flags = GS_HTTP_F_H2 | GS_HTTP_F_H2_FIELDS | (d->cur->flags & GS_HTTP_F_TLS);
	f->len = f->cap_len = 0;
}

struct rec_ctx {
	struct h2_recorder *r;
	struct rec_dir *d;
};

/* SETTINGS_HEADER_TABLE_SIZE: the other direction's encoder may use a
 * table that large (as h2.c does live). */
static void settings(struct rec_ctx *c, uint32_t table_size)
{
	unsigned free_slot;
	struct rec_dir **o;

	if (table_size == UINT32_MAX)
		return;
	if (table_size > c->d->advertised)
		c->d->advertised = table_size;
	o = slot_find(c->r, c->d->sk, reverse(c->d->io_dir), &free_slot);
	if (o)
		h2_reader_table_size(&(*o)->rd, table_size);
}

static void on_frame(void *ctx, const struct h2_frame_ev *ev)
{
	struct rec_ctx *c = ctx;
	struct gs_http_event *f = &c->d->fields;

	if (ev->type == H2_SETTINGS)
		settings(c, ev->table_size);
	if ((ev->type != H2_HEADERS && ev->type != H2_PUSH_PROMISE) || c->d->lost)
		return;
	f->len = f->cap_len;
	f->size = GS_HTTP_HDR_SIZE + f->cap_len;
	f->stream_off = c->d->rd.pos;	/* where the block ended */
	c->r->emit(f, c->r->ctx);
	fields_begin(c->d);
}

static void on_rec_field(void *ctx, uint32_t stream, const uint8_t *name, size_t nlen,
			 const uint8_t *value, size_t vlen)
{
	struct rec_ctx *c = ctx;

	on_field(c->d, stream, name, nlen, value, vlen);
}

static const struct h2_frame_cbs rec_cbs = { .field = on_rec_field, .frame = on_frame };

/* ---- the chunk ---- */

/* Either side of a connection begins with a SETTINGS frame (after the
 * client's preface): bytes that begin otherwise are not the start of
 * an HTTP/2 direction, and framing them could keep header block bytes
 * as if they were DATA. */
static bool first_frame_ok(struct rec_dir *d)
{
	const struct h2_reader *rd = &d->rd;

	if (d->started || (!rd->in_payload && !rd->stats.frames))
		return true;	/* checked, or its header not complete yet */
	d->started = true;
	return rd->type == H2_SETTINGS && rd->stream == 0 && rd->stats.frames <= 1;
}

/* How many of the next bytes belong together (the preface, a frame
 * header, a payload), and whether they are header block bytes. */
static size_t next_piece(const struct h2_reader *rd, size_t avail, bool *wipe)
{
	size_t k;

	*wipe = false;
	if (!rd->started)
		k = 1;		/* decides: client preface or frame */
	else if (rd->preface)
		k = H2_PREFACE_LEN - rd->pos;
	else if (!rd->in_payload)
		k = 9u - rd->hdr_got;
	else {
		k = rd->len - rd->got;
		*wipe = rd->type == H2_HEADERS || rd->type == H2_CONTINUATION ||
			rd->type == H2_PUSH_PROMISE;
	}
	return k < avail ? k : avail;
}

static void wipe_all(struct gs_http_event *e)
{
	e->cap_len = 0;
	e->size = GS_HTTP_HDR_SIZE;
}

void h2_record_event(struct h2_recorder *r, struct gs_http_event *e)
{
	struct rec_dir *d = dir_get(r, e);
	struct rec_ctx c = { .r = r, .d = d };
	size_t n = e->cap_len <= GS_CAPTURE_MAX ? e->cap_len : GS_CAPTURE_MAX, i = 0;

	/* Bytes seen already (an overlap): not followed any more. */
	if (d && !d->lost && (d->rd.error || e->stream_off < d->rd.pos))
		d->lost = true;
	if (!d || d->lost) {
		wipe_all(e);
		return;
	}
	d->cur = e;
	fields_begin(d);
	if (d->rd.started && e->stream_off > d->rd.pos)	/* a gap before */
		h2_reader_feed(&d->rd, e->data, 0, 0, e->stream_off, &rec_cbs, &c);
	while (i < n && !d->rd.error && !d->lost) {
		bool wipe;
		size_t k = next_piece(&d->rd, n - i, &wipe);

		h2_reader_feed(&d->rd, e->data + i, (uint32_t)k, (uint32_t)k, e->stream_off + i,
			       &rec_cbs, &c);
		if (wipe)
			memset(e->data + i, 0, k);
		i += k;
		if (!first_frame_ok(d))
			d->lost = true;
	}
	if (e->len > n)
		h2_reader_feed(&d->rd, e->data, 0, e->len - (uint32_t)n, e->stream_off + n,
			       &rec_cbs, &c);
	d->cur = NULL;
	if (d->rd.error || d->lost) {
		d->lost = true;
		wipe_all(e);	/* its blocks may be in it: nothing kept */
		return;
	}
	e->flags |= GS_HTTP_F_H2_WIPED;
}
