// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP bytes without the syscall tax: capture the first bytes of socket
 * buffers that may start an HTTP/1.x head, on the connections the tracer
 * follows, from socket tracepoints that fire only for socket I/O:
 *   send: tp_btf/tcp_sendmsg_locked (the msghdr's iterator gives the user
 *         buffer; the socket's write_seq the bytes sent before it: no
 *         hook at the call's end);
 *   recv: tp_btf/sock_recv_length, after the copy to user memory; the user
 *         buffer comes from the reading syscall's own registers.
 * One event per head (or head fragment), never one per syscall; byte
 * counts and times are kept in the connection's map entry.  What each
 * hook does is in sock_io.bpf.h, shared with the fentry and kprobe hooks
 * of http_fn.bpf.c (kernels without these tracepoints). */
#include "sock_io.bpf.h"

const volatile bool http_enabled = true;
const volatile __u32 capture_bytes = GS_CAPTURE_DEFAULT;

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(gs_sendmsg, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	sock_send_begin(sk, msg, false);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(gs_recv_length, struct sock *sk, int ret, int flags)
{
	sock_recv_end(sk, ret, flags, true);
	return 0;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(gs_data_ready, const struct sock *sk)
{
	sock_data_arrived(sk, false);
	return 0;
}
