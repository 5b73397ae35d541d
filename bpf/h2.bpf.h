/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* HTTP/2 capture.  An HTTP/2 connection is recognised by its first bytes
 * in either direction, whatever its port: the client preface ("PRI * HTTP/2.0")
 * or a server's SETTINGS frame.  From then on every buffer of the
 * connection is copied whole, in records of GS_CAPTURE_MAX bytes at
 * consecutive stream offsets (up to H2_CHUNKS of them per buffer): HPACK
 * is stateful, so userspace (userspace/h2.c) must see every header block
 * in order, and it follows the frame boundaries there.  What is not copied
 * (a ring buffer full, a buffer longer than the chunks) shows as a gap in
 * the offsets, which userspace skips inside DATA and counts elsewhere. */
#ifndef GATESCOPE_H2_BPF_H
#define GATESCOPE_H2_BPF_H

#include "http_event.bpf.h"

#define H2_CHUNKS 16	/* 64 KiB per buffer: an OpenSSL record is at most 16 KiB */
#define H2_FRAME_HEADERS 1	/* frame type (RFC 9113 6.2): the fourth byte of a frame */

/* The first four bytes of a stream, as a little-endian word. */
static __always_inline bool h2_starts_conn(__u32 first)
{
	/* "PRI " of the client preface */
	if (first == ((__u32)'P' | (__u32)'R' << 8 | (__u32)'I' << 16 | (__u32)' ' << 24))
		return true;
	/* A SETTINGS frame header: length < 256 (two zero bytes), type 4.
	 * No HTTP/1.x head starts with a NUL byte. */
	return (first & 0xffff) == 0 && (first >> 24) == 4;
}

/* The state of a copy in progress.  It lives in a per-CPU map, not on the
 * stack: the verifier then sees its counters as unknown and checks a
 * bpf_loop step once, instead of once per iteration with known values. */
struct h2_walk {
	__u64 sk;
	const __u8 *buf;	/* buffer walk: the buffer */
	const struct iovec *iov;	/* iovec walk: the array */
	struct iovec v;		/* ... the current iovec */
	__u64 in_iov;		/* ... bytes of it done */
	__u64 len, left, pos, off, other_off, ts_ready, now;
	__u32 k;		/* ... the current iovec's index */
	__u8 io_dir, flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct h2_walk);
} h2_walks SEC(".maps") __weak;

static __always_inline struct h2_walk *h2_walk_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&h2_walks, &zero);
}

/* Copy n (<= GS_CAPTURE_MAX) bytes at src into one record. */
static __always_inline bool h2_record(struct h2_walk *w, const void *src, __u64 n, __u32 moved,
				      __u64 off)
{
	struct gs_conn_state *st = conn_lookup((const void *)w->sk);
	struct gs_http_head_event *e;

	if (!st)
		return false;
	e = http_conn_announce(st, w->sk, NULL) ? bpf_ringbuf_reserve(&events, sizeof(*e), 0) : NULL;
	if (!e) {
		stat_inc(GS_STAT_LOST_EVENTS);
		return false;
	}
	barrier_var(n);	/* keep the clamp where the verifier sees it */
	if (n > GS_CAPTURE_MAX)
		n = GS_CAPTURE_MAX;
	if (bpf_probe_read_user(e->data, n, src)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return false;
	}
	/* A send that begins with a HEADERS frame answers a request. */
	if (w->io_dir == GS_IO_SEND && off == w->off && n > 3 && e->data[3] == H2_FRAME_HEADERS)
		count_answer(st);
	http_event_fill(e, w->sk, st, n, moved, w->io_dir, off, w->other_off, w->ts_ready, w->now,
			w->flags | GS_HTTP_F_H2);
	bpf_ringbuf_submit(e, wakeup_flags(sizeof(*e)));
	return true;
}

/* One record of a buffer (a bpf_loop step). */
static long h2_buf_step(__u32 i, void *data)
{
	struct h2_walk *w = h2_walk_get();
	__u64 n;
	__u32 moved;

	if (!w || !w->left)
		return 1;
	n = w->left < GS_CAPTURE_MAX ? w->left : GS_CAPTURE_MAX;
	/* The last record also stands for what is left uncopied. */
	moved = (i == H2_CHUNKS - 1 || n == w->left) ? w->len - w->pos : n;
	if (!h2_record(w, w->buf + w->pos, n, moved, w->off + w->pos))
		return 1;
	w->pos += n;
	w->left -= n;
	return 0;
}

static __always_inline bool h2_walk_start(struct gs_conn_state *st, __u64 off, __u32 first)
{
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop))
		return false;
	if (!st->h2) {
		if (off || !h2_starts_conn(first))
			return false;
		st->h2 = 1;
		st->tx_cont = st->rx_cont = 0;
	}
	return true;
}

/* Copy an HTTP/2 connection's buffer, in records of GS_CAPTURE_MAX bytes.
 * Returns true when the connection is HTTP/2 (the buffer is then not an
 * HTTP/1.x head).  avail: bytes readable at buf; the rest of len is a gap.
 * Needs bpf_loop (5.17): without it HTTP/2 is not followed (its bytes
 * start no HTTP/1.x head and are left alone). */
static __always_inline bool h2_capture(struct gs_conn_state *st, __u64 key, const void *buf,
				       __u32 len,
				       __u32 avail, __u8 io_dir, __u64 off, __u64 other_off,
				       __u64 ts_ready, __u64 now, __u8 flags, __u32 first)
{
	struct h2_walk *w;

	if (!h2_walk_start(st, off, first))
		return false;
	w = h2_walk_get();
	if (!w)
		return true;
	w->sk = key;
	w->buf = buf;
	w->len = len;
	w->left = len < avail ? len : avail;
	w->pos = 0;
	w->off = off;
	w->other_off = other_off;
	w->ts_ready = ts_ready;
	w->now = now ? now : bpf_ktime_get_ns();
	w->io_dir = io_dir;
	w->flags = flags;
	bpf_loop(H2_CHUNKS, h2_buf_step, NULL, 0);
	return true;
}

#define H2_IOV_STEPS 64	/* steps per sendmsg of several iovecs: a record, or the next iovec */

/* One step of an iovec walk: a record of the current iovec, or a move to
 * the next one. */
static long h2_iov_step(__u32 i, void *data)
{
	struct h2_walk *w = h2_walk_get();
	__u64 n;

	if (!w || w->pos >= w->len)
		return 1;
	if (w->in_iov >= w->v.iov_len) {
		w->k++;
		w->in_iov = 0;
		if (w->k >= 1024 || bpf_probe_read_kernel(&w->v, sizeof(w->v), w->iov + w->k))
			return 1;
		return 0;
	}
	n = w->v.iov_len - w->in_iov;
	if (n > w->len - w->pos)
		n = w->len - w->pos;
	if (n > GS_CAPTURE_MAX)
		n = GS_CAPTURE_MAX;
	if (!h2_record(w, (const __u8 *)w->v.iov_base + w->in_iov, n, n, w->off + w->pos))
		return 1;
	w->pos += n;
	w->in_iov += n;
	return 0;
}

/* A sendmsg of several iovecs (nginx writes HTTP/2 frames with writev, a
 * frame header and its payload often in iovecs of their own): every iovec
 * is captured at its stream offset, up to H2_IOV_STEPS records and iovec
 * moves; what is left shows as a gap.  Returns false when the connection
 * is not HTTP/2 (nothing was captured). */
static __always_inline bool h2_capture_iovs(struct gs_conn_state *st, __u64 key,
					    const struct iovec *iov,
					    __u64 iov_off, __u64 count, __u64 off, __u64 now)
{
	struct iovec v = {};
	struct h2_walk *w;
	__u32 first = 0;

	if (!st->h2 && off)
		return false;	/* HTTP/2 starts at offset 0: an HTTP/1.x writev pays nothing more */
	if (bpf_probe_read_kernel(&v, sizeof(v), iov))
		return false;
	if (bpf_probe_read_user(&first, sizeof(first), (const __u8 *)v.iov_base + iov_off))
		return false;
	if (!h2_walk_start(st, off, first))
		return false;
	w = h2_walk_get();
	if (!w)
		return true;
	w->sk = key;
	w->iov = iov;
	w->v = v;
	w->k = 0;
	w->in_iov = iov_off;
	w->len = count;
	w->pos = 0;
	w->off = off;
	w->other_off = st->ev.app_rx_bytes;
	w->ts_ready = 0;
	w->now = now ? now : bpf_ktime_get_ns();
	w->io_dir = GS_IO_SEND;
	w->flags = 0;
	bpf_loop(H2_IOV_STEPS, h2_iov_step, NULL, 0);
	return true;
}

#endif /* GATESCOPE_H2_BPF_H */
