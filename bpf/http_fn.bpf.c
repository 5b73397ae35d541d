// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP capture on kernels without the socket I/O tracepoints (before
 * 6.10; Debian 12's 6.1 and 6.12): the same sock_io.bpf.h work, hooked on
 * the kernel's TCP functions, so only TCP calls pay (not every syscall of
 * every process, as on the raw syscall tracepoints).  Two flavours of the
 * same hooks; userspace loads one (fentry/fexit where the kernel allows
 * BPF trampolines, else kprobes/kretprobes).
 *
 * Why these functions:
 *   tcp_sendmsg(sk, msg, size): the TCP send entry of every write, send,
 *     sendto, sendmsg and writev (inet_sendmsg calls it from another file,
 *     so it is never inlined); signature unchanged since 4.1.  Its entry
 *     is the tracepoint tcp_sendmsg_locked's first chunk; no return hook:
 *     the bytes sent come from the socket's write_seq.  Not
 *     tcp_sendmsg_locked: its arguments are stable too, but kernel TLS
 *     and MPTCP call it as well.
 *   tcp_recvmsg(sk, msg, len, [nonblock,] flags, [addr_len]): the TCP
 *     receive of every read, recv, recvfrom, recvmsg and readv; called
 *     from inet_recvmsg / inet6_recvmsg (other files).  Its first two
 *     arguments and its return value never changed; flags moved: Linux
 *     5.19 (commit ec095263a965 "net: remove noblock parameter from
 *     recvmsg() entities") removed nonblock, and 6.18 has no addr_len.
 *     Userspace finds flags' index by name in the kernel's BTF.
 *   sock_def_readable(sk): the sk_data_ready callback of TCP sockets,
 *     where 6.6+ has the sk_data_ready tracepoint; called through
 *     sk->sk_data_ready, so never inlined (tcp_data_ready, its TCP-only
 *     caller, is inlined into tcp_input.c's callers).  It also fires for
 *     other sockets' data: one table lookup each. */
#include "sock_io.bpf.h"

/* Index of tcp_recvmsg's flags argument: 3 since 5.19, 4 before (set by
 * userspace from the kernel's BTF). */
const volatile __u32 recvmsg_flags_arg = 3;

/* The iterator with probe reads: before 6.4 its ubuf shares a union with
 * iov, which the verifier types as an iovec pointer (no arithmetic). */
SEC("fentry/tcp_sendmsg")
int BPF_PROG(gs_fn_sendmsg, struct sock *sk, struct msghdr *msg, size_t size)
{
	sock_send_begin(sk, msg, true);
	return 0;
}

/* Raw context: the arguments differ between kernels (above). */
SEC("fexit/tcp_recvmsg")
int gs_fn_recvmsg_ret(__u64 *ctx)
{
	__u64 ret = 0, flags = 0;

	if (bpf_get_func_ret(ctx, &ret) || bpf_get_func_arg(ctx, recvmsg_flags_arg, &flags))
		return 0;
	sock_recv_end((const struct sock *)ctx[0], (int)ret, (int)flags, false);
	return 0;
}

SEC("fentry/sock_def_readable")
int BPF_PROG(gs_fn_data_ready, struct sock *sk)
{
	sock_data_arrived(sk, false);
	return 0;
}

/* kprobes: the receive's return probe has no arguments, so its entry
 * keeps the socket and flags per thread, only for followed connections.
 * LRU: a return missed (kretprobe instances exhausted) cannot pin an
 * entry. */
struct kp_call {
	__u64 sk;
	__u32 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct kp_call);
} kp_calls SEC(".maps");

static __always_inline void kp_enter(const struct sock *sk, __u32 flags)
{
	struct kp_call c = { .sk = (__u64)sk, .flags = flags };
	__u64 id = bpf_get_current_pid_tgid();

	if (conn_lookup(sk))
		bpf_map_update_elem(&kp_calls, &id, &c, BPF_ANY);
}

/* The socket of this thread's receive, if followed. */
static __always_inline const struct sock *kp_exit(__u32 *flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct kp_call *c = bpf_map_lookup_elem(&kp_calls, &id);
	const struct sock *sk;

	if (!c)
		return NULL;
	sk = (const void *)c->sk;
	*flags = c->flags;
	bpf_map_delete_elem(&kp_calls, &id);
	return sk;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(gs_kp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	sock_send_begin(sk, msg, true);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(gs_kp_recvmsg, struct sock *sk)
{
	unsigned long f4 = PT_REGS_PARM4(ctx), f5 = PT_REGS_PARM5(ctx);

	/* Two fixed loads: the verifier refuses a context read at a
	 * computed offset. */
	barrier_var(f4);
	barrier_var(f5);
	kp_enter(sk, recvmsg_flags_arg == 4 ? f5 : f4);
	return 0;
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(gs_kp_recvmsg_ret, int ret)
{
	__u32 flags = 0;
	const struct sock *sk = kp_exit(&flags);

	if (sk)
		sock_recv_end(sk, ret, flags, false);
	return 0;
}

SEC("kprobe/sock_def_readable")
int BPF_KPROBE(gs_kp_data_ready, struct sock *sk)
{
	sock_data_arrived(sk, true);
	return 0;
}
