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
#include "gs.bpf.h"
#include "http.h"

const volatile bool http_enabled = true;
const volatile __u32 capture_bytes = GS_CAPTURE_DEFAULT;

#define MSG_PEEK 2
#define HEAD_CONT_MAX 2		/* fragments captured after an unfinished head */

/* Syscalls whose buffer sock_recv_length can find in the registers. */
#if defined(__TARGET_ARCH_x86)
#define NR_READ 0
#define NR_READV 19
#define NR_RECVFROM 45
#define NR_RECVMSG 47
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_READ 63
#define NR_READV 65
#define NR_RECVFROM 207
#define NR_RECVMSG 212
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#else
#error "gatescope: add this architecture's syscall numbers"
#endif

/* The event is too large for the 512-byte stack: build it per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gs_http_event);
} http_scratch SEC(".maps");

/* First four bytes of every HTTP/1.x request method we follow, and of a
 * status line, as little-endian words. */
#define W(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

static __always_inline bool may_start_head(__u32 w)
{
	switch (w) {
	case W('G', 'E', 'T', ' '):
	case W('P', 'O', 'S', 'T'):
	case W('P', 'U', 'T', ' '):
	case W('H', 'E', 'A', 'D'):
	case W('D', 'E', 'L', 'E'):
	case W('P', 'A', 'T', 'C'):
	case W('O', 'P', 'T', 'I'):
	case W('C', 'O', 'N', 'N'):
	case W('T', 'R', 'A', 'C'):
	case W('H', 'T', 'T', 'P'):
		return true;
	default:
		return false;
	}
}

/* The owner of a passive connection is the first process to use it. */
static __always_inline void claim_owner(struct gs_conn_event *c)
{
	__u64 id;

	if (c->pid)
		return;
	id = bpf_get_current_pid_tgid();
	c->pid = id >> 32;
	c->tid = (__u32)id;
	bpf_get_current_comm(c->comm, sizeof(c->comm));
}

/* Did the captured bytes end a head ("\r\n\r\n" at their end)? */
static __always_inline bool ends_head(const struct gs_http_event *e, __u64 n)
{
	__u64 i = n - 4;

	if (n < 4 || i > GS_CAPTURE_MAX - 4)
		return false;
	return e->data[i] == '\r' && e->data[i + 1] == '\n' &&
	       e->data[i + 2] == '\r' && e->data[i + 3] == '\n';
}

/* Capture up to capture_bytes of a user buffer if it may start a head or
 * continue an unfinished one.  avail: bytes readable at buf (first iovec). */
static __always_inline void capture(struct gs_conn_state *st, const void *buf, __u32 len,
				    __u32 avail, __u8 io_dir, __u64 off, __u64 ts_ready)
{
	__u8 *cont = io_dir == GS_IO_SEND ? &st->tx_cont : &st->rx_cont;
	struct gs_conn_event *c = &st->ev;
	struct gs_http_event *e;
	__u32 zero = 0, first = 0;
	__u64 n;
	__u8 flags = 0;

	if (!buf || !len)
		return;
	if (bpf_probe_read_user(&first, sizeof(first), buf) && avail >= 4)
		return;		/* unreadable user memory: nothing to capture */
	if (!may_start_head(first)) {
		if (!*cont)
			return;
		(*cont)--;
		flags = GS_HTTP_F_CONT;
	}
	e = bpf_map_lookup_elem(&http_scratch, &zero);
	if (!e)
		return;
	n = len < capture_bytes ? len : capture_bytes;
	n = n < avail ? n : avail;
	barrier_var(n);		/* keep the clamp below where the verifier sees it */
	if (n > GS_CAPTURE_MAX)
		n = GS_CAPTURE_MAX;
	if (n == 0 || bpf_probe_read_user(e->data, n, buf))
		return;
	if (n < len)
		stat_inc(GS_STAT_HTTP_TRUNCATED);
	/* A whole small buffer that does not end a head: the rest follows. */
	if (!flags)
		*cont = (n == len && !ends_head(e, n)) ? HEAD_CONT_MAX : 0;
	else if (ends_head(e, n))
		*cont = 0;

	e->type = GS_EV_HTTP;
	e->size = GS_HTTP_HDR_SIZE + n;
	e->cap_len = n;
	e->len = len;
	e->sk = c->sk;
	e->ts = bpf_ktime_get_ns();
	e->stream_off = off;
	e->other_off = io_dir == GS_IO_SEND ? c->app_rx_bytes : c->app_tx_bytes;
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
	e->flags = flags;
	__builtin_memcpy(e->saddr, c->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, c->daddr, sizeof(e->daddr));
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
	stat_inc(GS_STAT_HTTP_CAPTURES);
	emit(e, GS_HTTP_HDR_SIZE + n);
}

/* iov_iter.__iov was "iov" before 6.4 (commit de4f5fed3f23). */
struct iov_iter___pre64 {
	const struct iovec *iov;
};

/* User pointer and contiguous length of the data a sendmsg is copying. */
static __always_inline const void *send_user_buf(const struct msghdr *msg, __u32 *avail)
{
	const struct iov_iter *it = &msg->msg_iter;
	const struct iovec *iov;
	__u64 off = it->iov_offset;
	const __u8 *base;
	__u64 iov_len;

	if (it->iter_type == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		*avail = it->count;
		return (const __u8 *)it->ubuf + off;
	}
	if (it->iter_type != bpf_core_enum_value(enum iter_type, ITER_IOVEC))
		return NULL;	/* kernel buffers (sendfile, splice): not HTTP heads */
	if (bpf_core_field_exists(it->__iov))
		iov = it->__iov;
	else
		iov = BPF_CORE_READ((struct iov_iter___pre64 *)it, iov);
	base = BPF_CORE_READ(iov, iov_base);
	iov_len = BPF_CORE_READ(iov, iov_len);
	*avail = iov_len > off ? iov_len - off : 0;
	return base + off;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(gs_sendmsg, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	struct gs_conn_state *st = conn_lookup(sk);
	const void *buf;
	__u32 avail = 0;

	/* Fires once per segment-sized chunk of one sendmsg: keep the first. */
	if (!st || st->tx_in_call)
		return 0;
	st->tx_in_call = 1;
	claim_owner(&st->ev);
	if (!http_enabled)
		return 0;
	buf = send_user_buf(msg, &avail);
	capture(st, buf, msg->msg_iter.count, avail, GS_IO_SEND, st->ev.app_tx_bytes, 0);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(gs_send_length, struct sock *sk, int ret, int flags)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (!st)
		return 0;
	st->tx_in_call = 0;
	if (ret > 0) {
		st->ev.app_tx_bytes += ret;
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
	unsigned long arg2 = PT_REGS_PARM2_CORE_SYSCALL(regs);
	struct user_msghdr m;

	*avail = ret;
	switch (SYSCALL_NR(regs)) {
	case NR_READ:
	case NR_RECVFROM:
		return (const void *)arg2;
	case NR_READV:
		return first_iov((const struct iovec *)arg2, avail);
	case NR_RECVMSG:
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
	__u64 off, ts_ready;
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
	if (http_enabled) {
		buf = recv_user_buf(ret, &avail);
		if (avail > (__u32)ret)
			avail = ret;
		capture(st, buf, ret, avail, GS_IO_RECV, off, ts_ready);
	}
	st->ev.app_rx_bytes += ret;
	st->ev.ts_last_rx = bpf_ktime_get_ns();
	return 0;
}

/* When did data the process has not read yet reach the socket?  Tells a
 * slow backend (late bytes) from a stalled gateway (bytes waiting). */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(gs_data_ready, const struct sock *sk)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (st && !st->ts_rx_ready)
		st->ts_rx_ready = bpf_ktime_get_ns();
	return 0;
}
