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
static __always_inline bool h2_send_iovs(struct gs_conn_state *st, const struct msghdr *msg)
{
	const struct iov_iter___new *it = (const void *)&msg->msg_iter;

	if (!iter_is(it, ITER_TYPE(ITER_IOVEC)))
		return false;
	return h2_capture_iovs(st, iter_iov(it), it->iov_offset, it->count, st->ev.app_tx_bytes, 0);
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

/* A sendmsg on a connection begins: capture the head of the user buffer
 * it copies.  The socket tracepoint fires once per segment-sized chunk of
 * one call: only the first counts.  probed: read msg with probe reads. */
static __always_inline void sock_send_begin(const struct sock *sk, const struct msghdr *msg,
					    bool probed)
{
	struct gs_conn_state *st = conn_lookup(sk);
	const void *buf;
	__u32 avail = 0;
	__u64 len = 0, ts;
	enum tls_io tls;

	if (!st || st->tx_in_call || !conn_followed(st, true))
		return;
	st->tx_in_call = 1;
	st->tx_timed = 0;
	claim_owner(&st->ev);
	if (!http_enabled)
		return;
	tls = tls_note_io(st, sk, 0, 0);
	/* A close_notify after the request is not request bytes the peer
	 * must acknowledge. */
	st->tx_uncounted = tls == TLS_IO_OUTSIDE;
	if (tls != TLS_IO_PLAIN)
		return;	/* TLS records: their plaintext comes from the uprobes */
	if (probed) {
		buf = send_user_buf_probed(msg, &avail, &len);
	} else {
		buf = send_user_buf(msg, &avail);
		len = msg->msg_iter.count;
		if (avail < len && h2_send_iovs(st, msg))
			return;	/* HTTP/2 over several iovecs: every one of them */
	}
	/* A head's capture time stands for the call's: one clock read less
	 * (sock_send_end), as on TLS connections. */
	ts = capture(st, probed ? NULL : sk, buf, len, avail, GS_IO_SEND, st->ev.app_tx_bytes, 0, 0);
	if (ts) {
		st->ev.ts_last_tx = ts;
		st->tx_timed = 1;
	}
}

/* The sendmsg returned ret (bytes sent, or an error). */
static __always_inline void sock_send_end(const struct sock *sk, int ret)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (!st)
		return;
	if (st->role == ROLE_SKIP) {	/* bytes only: no clock, no capture */
		if (ret > 0)
			st->ev.app_tx_bytes += ret;
		return;
	}
	st->tx_in_call = 0;
	if (ret > 0 && !st->tx_uncounted) {
		st->ev.app_tx_bytes += ret;
		/* A TLS socket progresses with its plaintext (tls.bpf.c):
		 * a close_notify or a ticket is no progress. */
		if (!st->tls && !st->tx_timed)
			st->ev.ts_last_tx = bpf_ktime_get_ns();
	}
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
	if (!conn_followed(st, false)) {	/* bytes only: no clock, no capture */
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
		capture(st, trusted ? sk : NULL, buf, ret, avail, GS_IO_RECV, off, ts_ready, now);
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
