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

#include "gs.bpf.h"
#include "http.h"

#define H2_CHUNKS 16	/* 64 KiB per buffer: an OpenSSL record is at most 16 KiB */

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

static __always_inline void h2_fill(struct gs_http_event *e, const struct gs_conn_state *st,
				    __u32 n, __u32 len, __u8 io_dir, __u64 off, __u64 other_off,
				    __u64 ts_ready, __u64 now, __u8 flags)
{
	const struct gs_conn_event *c = &st->ev;

	e->type = GS_EV_HTTP;
	e->size = GS_HTTP_HDR_SIZE + n;
	e->cap_len = n;
	e->len = len;
	e->sk = c->sk;
	e->ts = now;
	e->stream_off = off;
	e->other_off = other_off;
	e->ts_conn_start = c->ts_start;
	e->ts_established = c->ts_established;
	e->ts_first_byte = ts_ready;
	e->ts_last_tx = c->ts_last_tx;
	e->ts_last_rx = c->ts_last_rx;
	e->pid = c->pid;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->family = c->family;
	e->sport = c->sport;
	e->dport = c->dport;
	e->io_dir = io_dir;
	e->conn_dir = c->direction;
	e->flags = flags | GS_HTTP_F_H2;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	__builtin_memcpy(e->saddr, c->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, c->daddr, sizeof(e->daddr));
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
}

/* Copy an HTTP/2 connection's buffer.  Returns true when the connection is
 * HTTP/2 (the buffer is then not an HTTP/1.x head).  avail: bytes
 * readable at buf; the rest of len is a gap. */
static __always_inline bool h2_capture(struct gs_conn_state *st, const void *buf, __u32 len,
				       __u32 avail, __u8 io_dir, __u64 off, __u64 other_off,
				       __u64 ts_ready, __u64 now, __u8 flags, __u32 first)
{
	__u32 left = len < avail ? len : avail;
	__u64 pos = 0;

	if (!st->h2) {
		if (off || !h2_starts_conn(first))
			return false;
		st->h2 = 1;
		st->tx_cont = st->rx_cont = 0;
	}
	if (!now)
		now = bpf_ktime_get_ns();
	for (int i = 0; i < H2_CHUNKS && left; i++) {
		struct gs_http_event *e;
		__u64 n = left;
		__u32 moved;

		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			stat_inc(GS_STAT_LOST_EVENTS);
			return true;
		}
		barrier_var(n);	/* keep the clamp where the verifier sees it */
		if (n > GS_CAPTURE_MAX)
			n = GS_CAPTURE_MAX;
		if (bpf_probe_read_user(e->data, n, buf + pos)) {
			bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
			return true;
		}
		/* The last chunk also stands for what is left uncopied. */
		moved = (i == H2_CHUNKS - 1 || n == left) ? len - (__u32)pos : (__u32)n;
		h2_fill(e, st, n, moved, io_dir, off + pos, other_off, ts_ready, now, flags);
		bpf_ringbuf_submit(e, wakeup_flags(GS_HTTP_HDR_SIZE + n));
		pos += n;
		left -= n;
	}
	return true;
}

#endif /* GATESCOPE_H2_BPF_H */
