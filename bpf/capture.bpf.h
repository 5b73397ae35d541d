/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* HTTP head capture shared by both capture paths: socket tracepoints
 * (http.bpf.c) and the syscall-tracepoint fallback (http_sys.bpf.c). */
#ifndef GATESCOPE_CAPTURE_BPF_H
#define GATESCOPE_CAPTURE_BPF_H

#include "gs.bpf.h"
#include "http.h"
#include "h2.bpf.h"

extern const volatile bool http_enabled;
extern const volatile __u32 capture_bytes;

#define MSG_PEEK 2

/* Syscalls whose buffers the capture paths find, and where a task's user
 * registers keep the syscall number. */
#if defined(__TARGET_ARCH_x86)
enum { NR_read = 0, NR_write = 1, NR_readv = 19, NR_writev = 20, NR_sendto = 44,
       NR_recvfrom = 45, NR_sendmsg = 46, NR_recvmsg = 47 };
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
enum { NR_read = 63, NR_write = 64, NR_readv = 65, NR_writev = 66, NR_sendto = 206,
       NR_recvfrom = 207, NR_sendmsg = 211, NR_recvmsg = 212 };
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "gatescope: add this architecture's syscall numbers"
#endif

/* First four bytes of every HTTP/1.x request method we follow, and of a
 * status line, as little-endian words. */
#define W(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

/* Can n bytes whose first (up to) four are w begin a head?  Fewer than
 * four bytes that are the start of one may: Go's HTTP server reads one
 * byte in the background while a handler runs (to see the client leave),
 * and a keep-alive client's next request then arrives as "G" and
 * "ET /...".  (Past n, w holds whatever followed in memory.) */
static __always_inline bool may_start_head(__u32 w, __u32 n)
{
	static const __u32 starts[] = {
		W('G', 'E', 'T', ' '), W('P', 'O', 'S', 'T'), W('P', 'U', 'T', ' '),
		W('H', 'E', 'A', 'D'), W('D', 'E', 'L', 'E'), W('P', 'A', 'T', 'C'),
		W('O', 'P', 'T', 'I'), W('C', 'O', 'N', 'N'), W('T', 'R', 'A', 'C'),
		W('H', 'T', 'T', 'P'),
	};
	__u32 mask = n >= 4 ? 0xffffffffu : (1u << (8 * n)) - 1;

	if (n == 0)
		return false;
	for (int i = 0; i < (int)(sizeof(starts) / sizeof(starts[0])); i++)
		if ((w & mask) == (starts[i] & mask))
			return true;
	return false;
}

/* The owner of a passive connection is the first process to use it. */
static __always_inline void claim_owner(struct gs_conn_live *c)
{
	conn_claim(c);
}

/* Did the captured bytes end a head ("\r\n\r\n" at their end)? */
static __always_inline bool ends_head(const struct gs_http_head_event *e, __u64 n)
{
	__u64 i = n - 4;

	if (n < 4)
		return false;
	barrier_var(i);	/* the bytes below are read at i, the register checked here */
	if (i > capture_bytes - 4)
		return false;
	return e->data[i] == '\r' && e->data[i + 1] == '\n' &&
	       e->data[i + 2] == '\r' && e->data[i + 3] == '\n';
}

/* A TLS record header: handshake (22), version 3.x.  Seen as the first
 * bytes of a connection, it is a TLS connection whatever its port.  A
 * connection that begins with a plain HTTP head instead is plain for good:
 * its I/O need not ask whether it happens inside a TLS library call (a
 * map lookup per send and receive).  Not after CONNECT: a proxy may speak
 * TLS itself inside the tunnel. */
static __always_inline void note_tls_start(struct gs_conn_state *st, __u32 first, __u32 n,
					   __u64 off)
{
	if (off)
		return;
	if ((first & 0xffff) == 0x0316)
		st->ev.flags |= GS_CONN_F_TLS;
	else if (n >= 4 && first != W('C', 'O', 'N', 'N') && may_start_head(first, n))
		st->plain = 1;
}

/* In tx_cont / rx_cont, beside the bytes of an unfinished head still to
 * capture: this direction's last buffer was captured (began or continued
 * a head).  Its next one most likely is too (keep-alive requests and
 * answers whose head and body come in one buffer): its bytes are read
 * straight into a record, one user-memory read instead of a 4-byte peek
 * first.  A buffer read so that begins no head is discarded and clears
 * the bit; later ones are peeked at until a head comes again: bodies of
 * many buffers cost one reserved record each, not one per buffer. */
#define CONT_HEAD_NEXT	0x8000
#define CONT_LEFT	0x7fff	/* capture_bytes <= GS_CAPTURE_MAX fits */

/* The first four bytes of a buffer: false when unreadable (then nothing is
 * captured).  Fewer than four readable bytes are read with what follows
 * them in memory, which may_start_head() masks. */
static __always_inline bool peek_first(const void *buf, __u32 avail, __u32 *first)
{
	return !bpf_probe_read_user(first, sizeof(*first), buf) || avail < 4;
}

/* A full ring: counted as a lost event if the buffer was a head's. */
static __always_inline void count_lost(__u16 cont, const void *buf, __u32 shown, bool peeked)
{
	__u32 first = 0;

	if (!peeked && !(cont & CONT_LEFT) &&
	    !(peek_first(buf, shown, &first) && may_start_head(first, shown)))
		return;
	stat_inc(GS_STAT_LOST_EVENTS);
}

/* How much of a head is left to capture after n bytes of a buffer of len:
 * a whole buffer that does not end a head is followed by the rest of the
 * head in later writes (or reads), however many, until the head ends or
 * capture_bytes of it were captured. */
static __always_inline __u16 cont_after(const struct gs_http_head_event *e, __u16 left, __u64 n,
					__u32 len, __u8 flags)
{
	if (!(flags & GS_HTTP_F_CONT))
		return (n == len && !ends_head(e, n)) ? capture_bytes - n : 0;
	if (ends_head(e, n) || n < len)
		return 0;
	return left - n;
}

/* Capture up to capture_bytes of a user buffer if it may start a head or
 * continue an unfinished one.  avail: bytes readable at buf (first iovec).
 * off / other_off: the stream offsets of this direction and of the other
 * one (TCP payload bytes, or TLS plaintext bytes with GS_HTTP_F_TLS).
 * The bytes go straight from user memory into a ring buffer record of
 * fixed size (capture_bytes is a load-time constant); the event's size
 * field says how much of it is used.  now: the caller's clock reading, or
 * 0 to read it here, only when something is captured.  sk: the socket as
 * a typed pointer where the hook has one, else NULL.  Returns the time
 * written into the record, 0 if none was. */
static __always_inline __u64 capture_stream(struct gs_conn_state *st, __u64 key,
					    const struct sock *sk, const void *buf, __u32 len, __u32 avail, __u8 io_dir,
					    __u64 off, __u64 other_off, __u64 ts_ready, __u64 now,
					    __u8 flags)
{
	__u16 *cont = io_dir == GS_IO_SEND ? &st->tx_cont : &st->rx_cont;
	__u32 shown = len < avail ? len : avail, first = 0;
	__u16 left = *cont & CONT_LEFT;
	/* A record takes its whole size from the ring, whatever it fills. */
	const __u32 record = GS_HTTP_HEAD_HDR_SIZE + capture_bytes;
	struct gs_http_head_event *e;
	bool peeked = false;
	__u64 n = shown;

	if (!buf || !len)
		return 0;
	/* A stream's first bytes decide what the connection is (TLS, plain
	 * HTTP, HTTP/2), and HTTP/2 copies every buffer: peek at those, and
	 * at buffers not expected to begin or continue a head. */
	if (!off || st->h2 || !(*cont & CONT_HEAD_NEXT)) {
		if (!peek_first(buf, avail, &first))
			return 0;	/* unreadable user memory: nothing to capture */
		if (!(flags & GS_HTTP_F_TLS))
			note_tls_start(st, first, shown, off);
		if (h2_capture(st, key, buf, len, avail, io_dir, off, other_off, ts_ready, now, flags,
			       first))
			return 0;
		if (!may_start_head(first, shown) && !left)
			return 0;
		peeked = true;
	}
	barrier_var(n);		/* keep the clamp below where the verifier sees it */
	if (n > capture_bytes)
		n = capture_bytes;
	if (n == 0)
		return 0;
	e = http_conn_announce(st, key, sk) ?
	    bpf_ringbuf_reserve(&events, record, 0) : NULL;
	if (!e) {
		count_lost(*cont, buf, shown, peeked);
		return 0;
	}
	if (bpf_probe_read_user(e->data, n, buf))
		goto discard;
	/* The clock first: reading back the bytes just copied waits for the
	 * copy's stores to land; the clock read runs meanwhile. */
	now = now ? now : bpf_ktime_get_ns();
	if (!peeked)
		__builtin_memcpy(&first, e->data, sizeof(first));	/* capture_bytes >= 16 */
	if (!may_start_head(first, shown)) {
		if (!left)
			goto discard;
		flags |= GS_HTTP_F_CONT;
		if (n > left)
			n = left;	/* a head is captured up to capture_bytes in all */
	}
	if (io_dir == GS_IO_SEND && !(flags & GS_HTTP_F_CONT) && first == W('H', 'T', 'T', 'P'))
		count_answer(st);	/* a response head */
	if (n < len)
		stat_inc(GS_STAT_HTTP_TRUNCATED);
	*cont = cont_after(e, left, n, len, flags) | CONT_HEAD_NEXT;
	http_event_fill(e, key, st, n, len, io_dir, off, other_off, ts_ready, now, flags);
	bpf_ringbuf_submit(e, wakeup_flags(record));
	return now;
discard:
	bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
	*cont = left;
	return 0;
}

/* The plain path: offsets are the TCP payload bytes of the connection. */
static __always_inline __u64 capture(struct gs_conn_state *st, __u64 key, const struct sock *sk,
				     const void *buf, __u32 len, __u32 avail, __u8 io_dir, __u64 off,
				     __u64 other_off, __u64 ts_ready, __u64 now)
{
	return capture_stream(st, key, sk, buf, len, avail, io_dir, off, other_off, ts_ready, now,
			      0);
}

#endif /* GATESCOPE_CAPTURE_BPF_H */
