// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connections that were open before gatescope started.  The tracer enters
 * a connection into its table when it is opened (conn.bpf.c); one opened
 * earlier would go unseen for its whole life, and a gateway started under
 * load reuses exactly such connections: its upstream keep-alive pool and
 * its clients' keep-alive connections.  A request sent on one would have
 * no attempt, and a 504 of it would read "the gateway never tried
 * upstream".  So, once at start-up, this iterator walks the open files of
 * every traced process and enters its established TCP connections, marked
 * GS_CONN_F_ADOPTED: their connect and establishment times are not known,
 * their byte counts are taken from the socket (what was written and read
 * before counts, so that the close's acknowledged-byte facts compare with
 * them as for any connection).  Userspace runs it once (loader.c:
 * loader_adopt) and reads the counts below. */
#include "gs.bpf.h"

#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define EEXIST		17

/* What the walk found, read by userspace after it. */
__u32 adopted_upstream;
__u32 adopted_downstream;
__u32 adopt_failed;

/* The TCP socket behind an open file, or NULL.  Probe reads: the file's
 * private data is untyped. */
static __always_inline struct sock *file_tcp_sock(struct file *file)
{
	struct socket *sock;
	struct sock *sk;

	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_ESTABLISHED)
		return NULL;
	return sk;
}

/* Data bytes the process wrote and read so far.  Written: acknowledged
 * (less an active open's SYN) plus in flight or queued; read: received
 * less what waits in the receive queue. */
static __always_inline void lifetime_bytes(const struct sock *sk, struct gs_conn_state *st)
{
	const struct tcp_sock *tp = (const void *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u32 write_seq = BPF_CORE_READ(tp, write_seq);
	__u32 snd_una = BPF_CORE_READ(tp, snd_una);
	__u32 rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	__u32 copied = BPF_CORE_READ(tp, copied_seq);
	__u64 received = BPF_CORE_READ(tp, bytes_received);

	if (acked && st->ev.direction == GS_DIR_UPSTREAM)
		acked--;
	st->ev.app_tx_bytes = acked + (__u32)(write_seq - snd_una);
	st->ev.app_rx_bytes = received - (__u32)(rcv_nxt - copied);
	/* The next sendmsg counts from here (tx_sync). */
	st->tx_seq = write_seq;
	st->tx_call_end = write_seq;
	st->tx_synced = 1;
}

/* Did the process accept this connection (a client's), or open it (an
 * upstream one)?  An accepted socket is a copy of its listener and keeps
 * its accept backlog (sk_max_ack_backlog, the listen() argument); a socket
 * that connected out never listened: 0.  (The port-lock bits do not tell:
 * the copy drops SOCK_BINDPORT_LOCK.)  With client-facing ports known, an
 * accepted one on another port is left out, as a connection accepted
 * later would be. */
enum adopt_as { ADOPT_NONE, ADOPT_UPSTREAM, ADOPT_DOWNSTREAM };

static __always_inline enum adopt_as adopt_direction(const struct sock *sk)
{
	if (!BPF_CORE_READ(sk, sk_max_ack_backlog))
		return ADOPT_UPSTREAM;
	if (!port_is_listener(BPF_CORE_READ(sk, __sk_common.skc_num)))
		return ADOPT_NONE;
	return ADOPT_DOWNSTREAM;
}

/* Its owner: the process holding it (an accepted socket is held by the
 * worker that accepted it, not shared), with its thread's name, as
 * remember_comm() keeps it for a connection opened later. */
static __always_inline void adopt_owner(struct gs_conn_live *c, struct task_struct *task)
{
	__u64 comm[GS_COMM_LEN / 8] = {};

	c->pid = task->tgid;
	c->tid = task->pid;
	bpf_probe_read_kernel_str(comm, sizeof(comm), task->comm);
	bpf_map_update_elem(&comms, &c->tid, comm, BPF_ANY);
}

/* Userspace learns it through the ring, like every other event, so that
 * a recording holds it too. */
static __always_inline void tell_adopted(__u64 key, const struct gs_conn_live *c, __u64 now)
{
	struct gs_adopted_event e = {
		.type = GS_EV_ADOPTED, .size = sizeof(e), .sk = key, .ts = now,
		.pid = c->pid, .direction = c->direction,
	};

	emit(&e, sizeof(e));
}

static __always_inline void adopt(struct sock *sk, struct task_struct *task, __u64 now)
{
	__u64 key = (__u64)sk;
	struct gs_conn_state st = {};
	enum adopt_as as = adopt_direction(sk);
	bool down = as == ADOPT_DOWNSTREAM;
	long err;

	if (as == ADOPT_NONE)
		return;
	st.ev.direction = down ? GS_DIR_DOWNSTREAM : GS_DIR_UPSTREAM;
	st.ev.ts_start = now;
	st.ev.flags = GS_CONN_F_ESTABLISHED | GS_CONN_F_ADOPTED;
	conn_since_set(&st, GS_SINCE_ESTABLISHED, now);
	/* A client connection's role is decided at its first read or
	 * write, as for one accepted later. */
	if (down)
		st.role = ROLE_PENDING;
	adopt_owner(&st.ev, task);
	lifetime_bytes(sk, &st);
	/* One followed already (opened after attach, or a parent's and a
	 * child's descriptor of one socket) stays as it is. */
	conn_filter_add(key, 1);	/* before the entry can be seen (gs.bpf.h) */
	err = bpf_map_update_elem(&conns, &key, &st, BPF_NOEXIST);
	if (err) {
		conn_filter_add(key, -1);	/* the entry there keeps its own count */
		if (err != -EEXIST)
			adopt_failed++;
		return;
	}
	stat_inc(GS_STAT_CONN_INSERTS);
	tell_adopted(key, &st.ev, now);
	if (down)
		adopted_downstream++;
	else
		adopted_upstream++;
}

SEC("iter/task_file")
int gs_adopt(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	__u32 tgid;
	struct sock *sk;

	if (!task || !file)
		return 0;
	tgid = task->tgid;
	if (filter_pid && !bpf_map_lookup_elem(&traced_pids, &tgid))
		return 0;
	sk = file_tcp_sock(file);
	if (sk)
		adopt(sk, task, bpf_ktime_get_ns());
	return 0;
}
