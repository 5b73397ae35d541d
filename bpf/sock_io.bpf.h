/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a socket send, receive or data arrival does on a followed
 * connection, whichever hook saw it: the socket tracepoints (http.bpf.c),
 * or fentry/fexit and kprobes on the TCP functions (http_fn.bpf.c) on
 * kernels without those tracepoints.  Each hook is a thin wrapper that
 * finds its arguments and calls one of the sock_* functions below, so the
 * same records reach userspace whichever path runs. */
#ifndef GATESCOPE_SOCK_IO_BPF_H
#define GATESCOPE_SOCK_IO_BPF_H

#include "capture.bpf.h"
#include "core_fixes.bpf.h"
#include "tls.bpf.h"

/* User pointer and contiguous length of the data a sendmsg is copying.
 * msg is BTF-typed (tp_btf, fentry): plain loads. */
static __always_inline const void *send_user_buf(const struct msghdr *msg, __u32 *avail)
{
	const struct iov_iter___new *it = (const void *)&msg->msg_iter;
	const struct iovec *iov;
	__u64 off = it->iov_offset;
	const __u8 *base;
	__u64 iov_len;

	if (iter_is(it, ITER_TYPE(ITER_UBUF))) {
		*avail = it->count;
		return (const __u8 *)it->ubuf + off;
	}
	if (!iter_is(it, ITER_TYPE(ITER_IOVEC)))
		return NULL;	/* kernel buffers (sendfile, splice): not HTTP heads */
	iov = iter_iov(it);
	if (!iov)
		return NULL;
	base = iov->iov_base;	/* the kernel's copy of the iovec: a direct read */
	iov_len = iov->iov_len;
	*avail = iov_len > off ? iov_len - off : 0;
	return base + off;
}

/* An HTTP/2 connection's sendmsg of several iovecs (h2.bpf.h): every one
 * of them, not only the first. */
static __always_inline bool h2_send_iovs(struct gs_conn_state *st, __u64 key,
					 const struct msghdr *msg)
{
	const struct iov_iter___new *it = (const void *)&msg->msg_iter;

	if (!iter_is(it, ITER_TYPE(ITER_IOVEC)))
		return false;
	return h2_capture_iovs(st, key, iter_iov(it), it->iov_offset, it->count,
			       st->ev.app_tx_bytes, 0);
}

/* The same with probe reads (a kprobe's untyped msg; or a kernel whose
 * iov_iter layout the verifier types otherwise).  *len: the bytes the
 * call sends. */
static __always_inline const void *send_user_buf_probed(const struct msghdr *msg, __u32 *avail,
							 __u64 *len)
{
	const struct iov_iter___new *n = (const void *)&msg->msg_iter;
	const struct iov_iter___old *o = (const void *)&msg->msg_iter;
	const struct iovec *iov = NULL;
	__u64 off = BPF_CORE_READ(n, iov_offset);
	__u8 type = BPF_CORE_READ(n, iter_type);
	struct iovec v;

	*len = BPF_CORE_READ(n, count);
	if (type == ITER_TYPE(ITER_UBUF)) {
		*avail = *len;
		return (const __u8 *)BPF_CORE_READ(n, ubuf) + off;
	}
	if (type != ITER_TYPE(ITER_IOVEC))
		return NULL;
	if (bpf_core_field_exists(n->__iov))
		iov = BPF_CORE_READ(n, __iov);
	else if (bpf_core_field_exists(o->iov))
		iov = BPF_CORE_READ(o, iov);
	if (!iov || bpf_probe_read_kernel(&v, sizeof(v), iov))
		return NULL;
	*avail = v.iov_len > off ? v.iov_len - off : 0;
	return (const __u8 *)v.iov_base + off;
}

/* The socket's write_seq: where the next byte written goes.  probed: sk
 * is read with probe reads (a kprobe's untyped pointer). */
static __always_inline __u32 sock_write_seq(const struct sock *sk, bool probed)
{
	const struct tcp_sock *tp = probed ? NULL : bpf_skc_to_tcp_sock((void *)sk);

	return tp ? tp->write_seq : BPF_CORE_READ((const struct tcp_sock *)sk, write_seq);
}

/* The socket's TCP state, the same way. */
static __always_inline int sock_state(const struct sock *sk, bool probed)
{
	return probed ? BPF_CORE_READ(sk, __sk_common.skc_state) : sk->__sk_common.skc_state;
}

/* app_tx_bytes now, read without writing it (the send path does): the
 * bytes of the last sendmsg are counted there only when the next begins. */
static __always_inline __u64 tx_bytes_now(const struct gs_conn_state *st, const struct sock *sk,
					  bool probed)
{
	if (!st->tx_synced || st->tx_uncounted)
		return st->ev.app_tx_bytes;
	return tx_bytes_at(st, sock_write_seq(sk, probed), fin_sent_in(sock_state(sk, probed)));
}

/* A later chunk of the sendmsg in progress: write_seq moved by what it
 * copied, and the bytes it has left add up to where it ends.  (The
 * remainder of a partial send, written again by the next call, counts as
 * the same call: its bytes were captured with it.) */
static __always_inline bool send_goes_on(const struct gs_conn_state *st, __u32 seq, __u32 left)
{
	return st->tx_synced && seq + left == st->tx_call_end;
}

/* Will this sendmsg copy?  The tracepoint fires inside the kernel's copy
 * loop, past its checks; tcp_sendmsg's entry (fentry, kprobe) comes
 * before them: a send on a connection that was reset or shut sends
 * nothing and is no write. */
static __always_inline bool send_may_copy(const struct sock *sk, bool probed)
{
	int state;

	if (!probed)
		return true;
	state = sock_state(sk, true);
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT;
}

/* The head of the user buffer a sendmsg copies, captured; returns the
 * time written into its record, 0 if none was. */
static __always_inline __u64 send_capture(struct gs_conn_state *st, const struct sock *sk,
					  const struct msghdr *msg, bool probed)
{
	const void *buf;
	__u32 avail = 0;
	__u64 len = 0;

	if (probed) {
		buf = send_user_buf_probed(msg, &avail, &len);
	} else {
		buf = send_user_buf(msg, &avail);
		len = msg->msg_iter.count;
		if (avail < len && h2_send_iovs(st, (__u64)sk, msg))
			return 0;	/* HTTP/2 over several iovecs: every one of them */
	}
	return capture(st, (__u64)sk, probed ? NULL : sk, buf, len, avail, GS_IO_SEND,
		       st->ev.app_tx_bytes, st->ev.app_rx_bytes, 0, 0);
}

/* A sendmsg on a connection begins, or goes on: the socket tracepoint
 * fires once per segment-sized chunk of one call, tcp_sendmsg's entry once
 * per call.  Its first chunk brings app_tx_bytes up to date with the
 * calls before it (no hook at a call's end), then captures the head of
 * the user buffer it copies.  probed: read msg and sk with probe reads. */
static __always_inline void sock_send_begin(const struct sock *sk, const struct msghdr *msg,
					    bool probed)
{
	struct gs_conn_state *st = conn_lookup(sk);
	__u32 seq, left;
	enum tls_io tls;
	__u64 ts = 0;

	if (!st)
		return;
	seq = sock_write_seq(sk, probed);
	left = probed ? BPF_CORE_READ(msg, msg_iter.count) : msg->msg_iter.count;
	if (send_goes_on(st, seq, left)) {
		/* A long write's time is its last chunk's. */
		if (st->role != ROLE_SKIP && !st->tls && !st->tx_uncounted)
			st->ev.ts_last_tx = bpf_ktime_get_ns();
		return;
	}
	tx_sync(st, seq, false);
	st->tx_call_end = seq + left;
	st->tx_uncounted = 0;
	if (!conn_followed(st))
		return;
	claim_owner(&st->ev);
	if (http_enabled) {
		tls = tls_note_io(st, sk, 0, 0);
		/* A close_notify after the request is not request bytes the
		 * peer must acknowledge. */
		st->tx_uncounted = tls == TLS_IO_OUTSIDE;
		/* TLS records: their plaintext comes from the uprobes. */
		if (tls == TLS_IO_PLAIN)
			ts = send_capture(st, sk, msg, probed);
	}
	/* A TLS socket progresses with its plaintext (tls.bpf.c): a
	 * close_notify or a ticket is no progress.  A head's capture time
	 * stands for the call's: one clock read less. */
	if (!st->tls && !st->tx_uncounted && send_may_copy(sk, probed))
		st->ev.ts_last_tx = ts ? ts : bpf_ktime_get_ns();
}

/* The first iovec of a user iovec array. */
static __always_inline const void *first_iov(const struct iovec *uiov, __u32 *avail)
{
	struct iovec iov;

	if (bpf_probe_read_user(&iov, sizeof(iov), uiov))
		return NULL;
	*avail = iov.iov_len;
	return iov.iov_base;
}

/* The user buffer of the read/recv syscall this process is in. */
static __always_inline const void *recv_user_buf(__u32 ret, __u32 *avail)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	/* A trusted pointer: plain loads, no probe-read helper calls. */
	unsigned long arg2 = PT_REGS_PARM2_SYSCALL(regs);
	struct user_msghdr m;

	*avail = ret;
	switch (SYSCALL_NR(regs)) {
	case NR_read:
	case NR_recvfrom:
		return (const void *)arg2;
	case NR_readv:
		return first_iov((const struct iovec *)arg2, avail);
	case NR_recvmsg:
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)arg2))
			return NULL;
		return first_iov(m.msg_iov, avail);
	default:
		return NULL;	/* recvmmsg, io_uring: not followed */
	}
}

/* A receive on a socket returned ret bytes to the process (after the copy
 * to user memory); flags: the call's flags (MSG_PEEK leaves the bytes
 * queued: they are read again later); trusted: sk is a typed pointer
 * (tp_btf), not a value a kprobe or fexit read. */
static __always_inline void sock_recv_end(const struct sock *sk, int ret, int flags,
					  bool trusted)
{
	struct gs_conn_state *st;
	__u64 off, ts_ready, now;
	const void *buf;
	__u32 avail;

	if (ret <= 0 || (flags & MSG_PEEK))
		return;
	st = conn_lookup(sk);
	if (!st)
		return;
	if (!conn_followed(st)) {	/* bytes only: no clock, no capture */
		st->ev.app_rx_bytes += ret;
		return;
	}
	claim_owner(&st->ev);
	off = st->ev.app_rx_bytes;
	ts_ready = st->ts_rx_ready;
	st->ts_rx_ready = 0;
	now = bpf_ktime_get_ns();
	if (http_enabled && tls_note_io(st, sk, ts_ready, now) == TLS_IO_PLAIN) {
		buf = recv_user_buf(ret, &avail);
		if (avail > (__u32)ret)
			avail = ret;
		capture(st, (__u64)sk, trusted ? sk : NULL, buf, ret, avail, GS_IO_RECV, off,
			tx_bytes_now(st, sk, !trusted), ts_ready, now);
	}
	st->ev.app_rx_bytes += ret;
	if (!st->tls)
		st->ev.ts_last_rx = now;
}

#define RCV_SHUTDOWN 1

/* unread: sequence numbers received and not read.  A FIN takes one, and
 * it alone also wakes the reader: it is no response byte waiting (e.g. a
 * TLS backend closing in answer to the gateway's close_notify while the
 * gateway drains the session).  Only a single unread sequence number may
 * be that FIN: the socket's shutdown bits (a probe read) are asked then
 * only. */
static __always_inline bool unread_are_bytes(const struct sock *sk, __u32 unread)
{
	if ((__s32)unread != 1)
		return (__s32)unread > 1;
	return !(BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) & RCV_SHUTDOWN);
}

/* sk is BTF-typed (tp_btf, fentry). */
static __always_inline bool has_unread_bytes(const struct sock *sk)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return true;
	return unread_are_bytes(sk, tp->rcv_nxt - tp->copied_seq);
}

/* The same from a kprobe: an untyped pointer, probe reads.  The socket is
 * in the connection table, so it is a TCP socket. */
static __always_inline bool has_unread_bytes_probed(const struct sock *sk)
{
	const struct tcp_sock *tp = (const void *)sk;

	return unread_are_bytes(sk, BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq));
}

/* Data reached the socket.  When did data the process has not read yet
 * arrive?  Tells a slow backend (late bytes) from a stalled gateway
 * (bytes waiting).  probed: sk comes from a kprobe. */
static __always_inline void sock_data_arrived(const struct sock *sk, bool probed)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (!st || st->ts_rx_ready || st->role == ROLE_SKIP)
		return;
	if (probed ? has_unread_bytes_probed(sk) : has_unread_bytes(sk))
		st->ts_rx_ready = bpf_ktime_get_ns();
}

#endif /* GATESCOPE_SOCK_IO_BPF_H */
