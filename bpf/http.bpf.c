// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP bytes without the syscall tax: capture the first bytes of socket
 * buffers that may start an HTTP/1.x head, on the connections the tracer
 * follows, from socket tracepoints that fire only for socket I/O:
 *   send: tp_btf/tcp_sendmsg_locked (the msghdr's iterator gives the user
 *         buffer) + tp_btf/sock_send_length (bytes, end of the call);
 *   recv: tp_btf/sock_recv_length, after the copy to user memory; the user
 *         buffer comes from the reading syscall's own registers.
 * One event per head (or head fragment), never one per syscall; byte
 * counts and times are kept in the connection's map entry. */
#include "capture.bpf.h"
#include "core_fixes.bpf.h"
#include "tls.bpf.h"

const volatile bool http_enabled = true;
const volatile __u32 capture_bytes = GS_CAPTURE_DEFAULT;

/* User pointer and contiguous length of the data a sendmsg is copying. */
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

/* An HTTP/2 connection's sendmsg of several iovecs (h2.bpf.h). */
static __always_inline bool h2_send_iovs(struct gs_conn_state *st, const struct msghdr *msg)
{
	const struct iov_iter___new *it = (const void *)&msg->msg_iter;

	if (!iter_is(it, ITER_TYPE(ITER_IOVEC)))
		return false;
	return h2_capture_iovs(st, iter_iov(it), it->iov_offset, it->count, st->ev.app_tx_bytes, 0);
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(gs_sendmsg, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	struct gs_conn_state *st = conn_lookup(sk);
	enum tls_io tls;
	const void *buf;
	__u32 avail = 0;

	/* Fires once per segment-sized chunk of one sendmsg: keep the first. */
	if (!st || st->tx_in_call)
		return 0;
	st->tx_in_call = 1;
	claim_owner(&st->ev);
	if (!http_enabled)
		return 0;
	tls = tls_note_io(st, sk, 0, 0);
	/* A close_notify after the request is not request bytes the peer
	 * must acknowledge. */
	st->tx_uncounted = tls == TLS_IO_OUTSIDE;
	if (tls != TLS_IO_PLAIN)
		return 0;	/* TLS records: their plaintext comes from the uprobes */
	buf = send_user_buf(msg, &avail);
	if (avail < msg->msg_iter.count && h2_send_iovs(st, msg))
		return 0;	/* HTTP/2 over several iovecs: every one of them */
	capture(st, buf, msg->msg_iter.count, avail, GS_IO_SEND, st->ev.app_tx_bytes, 0, 0);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(gs_send_length, struct sock *sk, int ret, int flags)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (!st)
		return 0;
	st->tx_in_call = 0;
	if (ret > 0 && !st->tx_uncounted) {
		st->ev.app_tx_bytes += ret;
		/* A TLS socket progresses with its plaintext (tls.bpf.c):
		 * a close_notify or a ticket is no progress. */
		if (!st->tls)
			st->ev.ts_last_tx = bpf_ktime_get_ns();
	}
	return 0;
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

SEC("tp_btf/sock_recv_length")
int BPF_PROG(gs_recv_length, struct sock *sk, int ret, int flags)
{
	struct gs_conn_state *st;
	__u64 off, ts_ready, now;
	const void *buf;
	__u32 avail;

	if (ret <= 0 || (flags & MSG_PEEK))
		return 0;
	st = conn_lookup(sk);
	if (!st)
		return 0;
	claim_owner(&st->ev);
	off = st->ev.app_rx_bytes;
	ts_ready = st->ts_rx_ready;
	st->ts_rx_ready = 0;
	now = bpf_ktime_get_ns();
	if (http_enabled && tls_note_io(st, sk, ts_ready, now) == TLS_IO_PLAIN) {
		buf = recv_user_buf(ret, &avail);
		if (avail > (__u32)ret)
			avail = ret;
		capture(st, buf, ret, avail, GS_IO_RECV, off, ts_ready, now);
	}
	st->ev.app_rx_bytes += ret;
	if (!st->tls)
		st->ev.ts_last_rx = now;
	return 0;
}

#define RCV_SHUTDOWN 1

/* A FIN alone also wakes the reader (and fires sk_data_ready): it is no
 * response byte waiting, e.g. a TLS backend closing in answer to the
 * gateway's close_notify while the gateway drains the session. */
static __always_inline bool has_unread_bytes(const struct sock *sk)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	__u32 unread;

	if (!tp)
		return true;
	unread = tp->rcv_nxt - tp->copied_seq;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) & RCV_SHUTDOWN)
		unread--;	/* the FIN's sequence number */
	return (__s32)unread > 0;
}

/* When did data the process has not read yet reach the socket?  Tells a
 * slow backend (late bytes) from a stalled gateway (bytes waiting). */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(gs_data_ready, const struct sock *sk)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (st && !st->ts_rx_ready && has_unread_bytes(sk))
		st->ts_rx_ready = bpf_ktime_get_ns();
	return 0;
}
