// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Fallback HTTP capture for kernels without the socket tracepoints
 * (tcp_sendmsg_locked, sock_send_length, sock_recv_length): read, write,
 * readv, writev, sendto, recvfrom, sendmsg and recvmsg, seen from the raw
 * syscall tracepoints.  Attaching them slows every syscall of every
 * process, so userspace loads these only when the primary path is missing
 * or --capture-path syscall asks for them.  Enter: remember the socket and
 * the user buffer per thread; exit: count the bytes and capture the head. */
#include "capture.bpf.h"
#include "tls.bpf.h"

/* One syscall in progress per thread. */
struct sys_io {
	__u64 sk;
	const void *buf;
	__u32 avail;		/* contiguous bytes at buf (first iovec) */
	__u8 io_dir;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sys_io);
} sys_pending SEC(".maps");

static __always_inline void io_enter(int fd, const void *buf, __u32 avail, __u8 io_dir)
{
	struct sock *sk = sock_of_fd(fd);
	struct sys_io io = { .buf = buf, .avail = avail, .io_dir = io_dir };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!sk || !conn_lookup(sk))
		return;		/* not a connection we follow: one lookup */
	io.sk = (__u64)sk;
	bpf_map_update_elem(&sys_pending, &tid, &io, BPF_ANY);
}

/* The first iovec of a user iovec array. */
static __always_inline void iov_enter(int fd, const struct iovec *uiov, __u8 io_dir)
{
	struct iovec iov;

	if (!bpf_probe_read_user(&iov, sizeof(iov), uiov))
		io_enter(fd, iov.iov_base, iov.iov_len, io_dir);
}

static __always_inline void msg_enter(int fd, const struct user_msghdr *umsg, __u8 io_dir)
{
	struct user_msghdr m;

	if (!bpf_probe_read_user(&m, sizeof(m), umsg))
		iov_enter(fd, m.msg_iov, io_dir);
}

/* The other direction's bytes, as this path counts them (at each exit). */
static __always_inline __u64 other_bytes(const struct gs_conn_state *st, __u8 io_dir)
{
	return io_dir == GS_IO_SEND ? st->ev.app_rx_bytes : st->ev.app_tx_bytes;
}

static __always_inline void io_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sys_io *io = bpf_map_lookup_elem(&sys_pending, &tid);
	struct gs_conn_state *st;
	__u64 *bytes, *last, ts_ready = 0, now;
	enum tls_io tls;
	__u32 len;

	if (!io)
		return;
	st = conn_lookup((void *)io->sk);
	if (!st || ret <= 0)
		goto out;
	len = ret;
	bytes = io->io_dir == GS_IO_SEND ? &st->ev.app_tx_bytes : &st->ev.app_rx_bytes;
	if (!conn_followed(st)) {
		*bytes += len;	/* bytes only: no clock, no capture */
		goto out;
	}
	claim_owner(&st->ev);
	last = io->io_dir == GS_IO_SEND ? &st->ev.ts_last_tx : &st->ev.ts_last_rx;
	if (io->io_dir == GS_IO_RECV) {
		ts_ready = st->ts_rx_ready;
		st->ts_rx_ready = 0;
	}
	now = bpf_ktime_get_ns();
	tls = http_enabled ? tls_note_io(st, (void *)io->sk, ts_ready, now) : TLS_IO_PLAIN;
	if (http_enabled && tls == TLS_IO_PLAIN)
		capture(st, io->sk, NULL, io->buf, len, io->avail < len ? io->avail : len,
			io->io_dir, *bytes, other_bytes(st, io->io_dir), ts_ready, now);
	/* A close_notify after the request is not request bytes. */
	if (tls != TLS_IO_OUTSIDE || io->io_dir == GS_IO_RECV)
		*bytes += len;
	if (!st->tls)
		*last = now;	/* a TLS socket progresses with its plaintext */
out:
	bpf_map_delete_elem(&sys_pending, &tid);
}

/* One raw tracepoint pair (tp_btf sys_enter/sys_exit) serves all eight
 * syscalls: start-up attaches and shutdown detaches two links (each
 * detach waits for an RCU grace period), not sixteen; and a raw tracepoint
 * costs other syscalls less than a classic one, which formats a record. */
#define ARG(regs, n) PT_REGS_PARM##n##_SYSCALL(regs)

SEC("tp_btf/sys_enter")
int BPF_PROG(gs_sys_enter, struct pt_regs *regs, long id)
{
	switch (id) {
	case NR_write: case NR_sendto: case NR_writev: case NR_sendmsg:
	case NR_read: case NR_recvfrom: case NR_readv: case NR_recvmsg:
		break;
	default:
		return 0;
	}
	if (!pid_traced(bpf_get_current_pid_tgid() >> 32))
		return 0;	/* bystanders pay a switch and one lookup */
	switch (id) {
	case NR_write:
	case NR_sendto:
		io_enter(ARG(regs, 1), (const void *)ARG(regs, 2), ARG(regs, 3), GS_IO_SEND);
		break;
	case NR_writev:
		iov_enter(ARG(regs, 1), (const struct iovec *)ARG(regs, 2), GS_IO_SEND);
		break;
	case NR_sendmsg:
		msg_enter(ARG(regs, 1), (const struct user_msghdr *)ARG(regs, 2), GS_IO_SEND);
		break;
	case NR_read:
		io_enter(ARG(regs, 1), (const void *)ARG(regs, 2), ARG(regs, 3), GS_IO_RECV);
		break;
	case NR_recvfrom:
		/* MSG_PEEK leaves the data queued: it is read again later. */
		if (!(ARG(regs, 4) & MSG_PEEK))
			io_enter(ARG(regs, 1), (const void *)ARG(regs, 2), ARG(regs, 3), GS_IO_RECV);
		break;
	case NR_readv:
		iov_enter(ARG(regs, 1), (const struct iovec *)ARG(regs, 2), GS_IO_RECV);
		break;
	case NR_recvmsg:
		if (!(ARG(regs, 3) & MSG_PEEK))
			msg_enter(ARG(regs, 1), (const struct user_msghdr *)ARG(regs, 2), GS_IO_RECV);
		break;
	}
	return 0;
}

/* The pending entry, if any, says which direction the syscall was. */
SEC("tp_btf/sys_exit")
int BPF_PROG(gs_sys_exit, struct pt_regs *regs, long ret)
{
	switch (SYSCALL_NR(regs)) {
	case NR_write: case NR_sendto: case NR_writev: case NR_sendmsg:
	case NR_read: case NR_recvfrom: case NR_readv: case NR_recvmsg:
		io_exit(ret);
	}
	return 0;
}
