// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP connection tracer: lifecycle, handshake, resets, retransmits and
 * errors of every connection of the traced processes, on tp_btf
 * tracepoints only (no kprobes).  One gs_conn_event per connection: its
 * final counters are taken when it reaches TCP_CLOSE.  It is emitted then
 * if its process had closed it already (the socket is freed in the same
 * call), else when the socket is destroyed, because a close() that aborts
 * the connection (SO_LINGER {1,0}, unread data) enters TCP_CLOSE first and
 * sends its RST just after.  Two kinds are emitted as soon as the kernel
 * knows: a failed connect (at TCP_CLOSE from SYN_SENT) and a connection
 * abandoned with unacknowledged data. */
#include "gs.bpf.h"
#include "tls.bpf.h"

/* The license of the whole linked BPF object (bpftool gen object keeps this
 * one section).  Every file in bpf/ and headers/ is (LGPL-2.1 OR
 * BSD-2-Clause); "Dual BSD/GPL" is the GPL-compatible string the kernel
 * accepts for such code (libbpf-tools' convention), which lets the programs
 * call GPL-only helpers.  See LICENSE. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 conn_filter_bits = 16;	/* loader.c: conn_filter_bits() */

const volatile bool filter_pid = false;
const volatile bool filter_listen = false;
const volatile __u64 wakeup_bytes = 64 * 1024;

/* Enter a new connection into the table. */
static __always_inline void conn_start(const struct sock *sk, __u8 direction, __u64 now)
{
	struct gs_conn_state st = {};
	struct gs_conn_live *c = &st.ev;
	__u64 key = (__u64)sk;
	__u64 id = bpf_get_current_pid_tgid();

	c->direction = direction;
	c->ts_start = now;
	if (direction == GS_DIR_UPSTREAM) {
		/* connect() runs in the caller's context: pid and comm are real. */
		c->pid = id >> 32;
		c->tid = (__u32)id;
		remember_comm(c->tid);
	} else {
		/* Passive opens complete in softirq: the owner is found later,
		 * from the first process that reads or writes it. */
		conn_since_set(&st, GS_SINCE_ESTABLISHED, now);
		c->flags |= GS_CONN_F_ESTABLISHED;
		st.role = ROLE_PENDING;	/* decided at its first read or write */
	}
	/* An entry already there is a freed socket's whose end never
	 * reached gatescope (a program run the kernel skipped, or a destroy
	 * not traced): it goes now, counted apart from the LRU's evictions. */
	conn_filter_add(key, 1);	/* before the entry can be seen */
	if (bpf_map_update_elem(&conns, &key, &st, BPF_NOEXIST)) {
		/* Either way one count goes: the failed entry's, or the
		 * replaced one's. */
		conn_filter_add(key, -1);
		if (bpf_map_update_elem(&conns, &key, &st, BPF_ANY)) {
			stat_inc(GS_STAT_CONN_INSERT_FAIL);
			return;
		}
		stat_inc(GS_STAT_CONN_REPLACED);
	}
	stat_inc(GS_STAT_CONN_INSERTS);
}

/* Data bytes the peer acknowledged.  tcp_sock.bytes_acked also counts
 * the SYN of an active open and our FIN once acknowledged (sequence
 * numbers, not data); write_seq includes the FIN. */
static __always_inline __u64 data_acked(const struct tcp_sock *tp, const struct gs_conn_live *c,
					int oldstate)
{
	__u64 n = tp->bytes_acked;

	if (n && c->direction == GS_DIR_UPSTREAM && (c->flags & GS_CONN_F_ESTABLISHED))
		n--;
	if (n && fin_sent_in(oldstate) && tp->snd_una == tp->write_seq)
		n--;
	return n;
}

/* The process's last writes into app_tx_bytes (tx_sync): at TCP_CLOSE,
 * before an abort's tcp_disconnect moves write_seq on; not for a socket
 * freed without a TCP_CLOSE seen (GS_CONN_F_DESTROYED), whose write_seq
 * may have been moved: its last sendmsg's bytes are then not counted. */
static __always_inline void tx_close(struct gs_conn_state *st, const struct tcp_sock *tp,
				     int oldstate)
{
	if (st->ev.flags & GS_CONN_F_DESTROYED)
		return;
	tx_sync(st, tp->write_seq, fin_sent_in(oldstate));
}

/* Data bytes received: bytes_received also counts the peer's FIN. */
static __always_inline __u64 data_received(const struct tcp_sock *tp,
					   const struct gs_conn_live *c, int oldstate)
{
	__u64 n = tp->bytes_received;
	bool peer_fin = c->fin_by == GS_FIN_REMOTE || oldstate == TCP_CLOSE_WAIT ||
			oldstate == TCP_CLOSING || oldstate == TCP_LAST_ACK;

	return n && peer_fin ? n - 1 : n;
}

/* Retransmissions that the peer reported as duplicates (D-SACK) repaired
 * no loss: e.g. a tail loss probe sent just before the peer's delayed ACK,
 * as after a TLS client's last handshake flight and its request, two
 * segments in flight.  They are no evidence of packet loss. */
static __always_inline __u32 repairing_retrans(const struct tcp_sock *tp, __u32 retrans)
{
	__u32 dups;

	if (!bpf_core_field_exists(tp->dsack_dups))
		return retrans;
	dups = tp->dsack_dups;
	return retrans > dups ? retrans - dups : 0;
}

/* Final counters and addresses at TCP_CLOSE (or when the socket is freed
 * without it), while the socket still has them.  The helper gives a
 * trusted tcp_sock: plain loads, not one probe read each. */
static __always_inline void conn_finish(const struct sock *sk, struct gs_conn_state *st,
					struct gs_conn_close *fin, int oldstate, __u64 now)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	struct gs_conn_live *c = &st->ev;

	fin->ts_close = now;
	fin->ts_rx_pending = st->ts_rx_ready;
	fin->close_state = oldstate;
	fin->retrans = c->retrans;
	if (!st->sk_err)
		st->sk_err = sk->sk_err;
	if (tp) {
		tx_close(st, tp, oldstate);
		fin->bytes_sent = data_acked(tp, c, oldstate);
		fin->bytes_received = data_received(tp, c, oldstate);
		fin->srtt_us = tp->srtt_us >> 3;
		fin->retrans = repairing_retrans(tp, c->retrans);
	}
	read_addrs(sk, &fin->family, &fin->sport, &fin->dport, fin->saddr, fin->daddr);
}

/* The connection reached TCP_CLOSE: its event waits for the socket's
 * destruction (an abort's RST comes after TCP_CLOSE), with what was read
 * now in the closing table.  False: no room, emit it now. */
static __always_inline bool conn_closing(const struct sock *sk, const struct gs_conn_close *fin)
{
	__u64 key = (__u64)sk;

	return !bpf_map_update_elem(&closing, &key, fin, BPF_ANY);
}

/* What was read when the connection reached TCP_CLOSE, or NULL if it has
 * not yet.  An entry older than the connection is a previous socket's at
 * this address whose destruction was missed: not this one's. */
static __always_inline struct gs_conn_close *conn_closed(const struct sock *sk,
							 const struct gs_conn_state *st)
{
	__u64 key = (__u64)sk;
	struct gs_conn_close *fin = bpf_map_lookup_elem(&closing, &key);

	return fin && fin->ts_close >= st->ev.ts_start ? fin : NULL;
}

/* TLS plaintext counts of the event, and the session's tie forgotten. */
static __always_inline void conn_tls_done(const struct sock *sk, struct gs_conn_state *st,
					  struct gs_conn_event *e)
{
	__u64 key = (__u64)sk;
	struct gs_conn_tls *t;

	if (!st->tls)
		return;
	t = bpf_map_lookup_elem(&conn_tls, &key);
	if (!t)
		return;
	if (e) {
		e->tls_tx_bytes = t->tx_bytes;
		e->tls_rx_bytes = t->rx_bytes;
	}
	tls_forget(t->ssl, t->tgid, key);
	bpf_map_delete_elem(&conn_tls, &key);
}

/* The whole event, from the table's live part and what was read at close. */
static __always_inline void conn_event(struct gs_conn_event *e, __u64 key,
				       const struct gs_conn_state *st,
				       const struct gs_conn_close *fin)
{
	const struct gs_conn_live *c = &st->ev;

	e->type = GS_EV_CONN;
	e->size = sizeof(*e);
	e->sk = key;
	e->ts_start = c->ts_start;
	e->ts_established = c->flags & GS_CONN_F_ESTABLISHED ?
			    conn_since(st, GS_SINCE_ESTABLISHED) : 0;
	e->ts_fin = conn_since(st, GS_SINCE_FIN);
	e->ts_rst = conn_since(st, GS_SINCE_RST);
	e->ts_close = fin->ts_close;
	e->ts_last_tx = c->ts_last_tx;
	e->ts_last_rx = c->ts_last_rx;
	e->ts_rx_pending = fin->ts_rx_pending;
	e->app_tx_bytes = c->app_tx_bytes;
	e->app_rx_bytes = c->app_rx_bytes;
	e->bytes_sent = fin->bytes_sent;
	e->bytes_received = fin->bytes_received;
	e->pid = c->pid;
	e->tid = c->tid;
	e->flags = c->flags;
	e->syn_retrans = st->syn_retrans;
	e->retrans = fin->retrans;
	e->rst_received = st->rst_received;
	e->rst_sent = st->rst_sent;
	e->sk_err = st->sk_err;
	e->srtt_us = fin->srtt_us;
	e->family = fin->family;
	e->sport = fin->sport;
	e->dport = fin->dport;
	e->direction = c->direction;
	e->fin_by = c->fin_by;
	e->rst_state = c->rst_state;
	e->close_state = fin->close_state;
	__builtin_memcpy(e->saddr, fin->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, fin->daddr, sizeof(e->daddr));
	conn_comm(c, e->comm);
}

/* Has the connection anything to tell?  A client connection only a
 * serving process (or an untraced one) ever used is not the gateway's. */
static __always_inline bool conn_told(const struct gs_conn_state *st)
{
	return st->role != ROLE_SKIP || st->followed;
}

/* Out of the table, counted (the live count is inserts less deletes). */
static __always_inline void conn_delete(__u64 key)
{
	if (!bpf_map_delete_elem(&conns, &key)) {
		conn_filter_add(key, -1);
		stat_inc(GS_STAT_CONN_DELETES);
	}
}

/* Emit, forget (waited: fin is its closing entry). */
static __always_inline void conn_emit(const struct sock *sk, struct gs_conn_state *st,
				      const struct gs_conn_close *fin, bool waited)
{
	struct gs_conn_event e = {};
	__u64 key = (__u64)sk;

	conn_event(&e, key, st, fin);
	conn_tls_done(sk, st, &e);
	if (conn_told(st))
		emit(&e, sizeof(e));
	if (waited)
		bpf_map_delete_elem(&closing, &key);
	conn_delete(key);
}

/* A connection with nothing to tell is forgotten at its end at once,
 * without reading its final facts or waiting for its socket's
 * destruction (a co-located backend that shares the gateway's name
 * closes as many connections as the gateway).  False: it has a story. */
static __always_inline bool conn_forget_untold(const struct sock *sk, struct gs_conn_state *st)
{
	if (conn_told(st))
		return false;
	conn_tls_done(sk, st, NULL);
	conn_delete((__u64)sk);
	return true;
}

/* Read the final facts and emit now: a failed connect, an abandoned
 * connection, a socket freed unseen at TCP_CLOSE, or no room to wait. */
static __always_inline void conn_finish_emit(const struct sock *sk, struct gs_conn_state *st,
					     int oldstate, __u64 now)
{
	struct gs_conn_close fin = {};

	conn_finish(sk, st, &fin, oldstate, now);
	conn_emit(sk, st, &fin, false);
}

/* Its process closed it already (an orphan): the socket is freed right
 * after TCP_CLOSE, in the same call, and nothing else can happen to it.
 * Most connections end so: their event leaves at once, without waiting. */
static __always_inline bool sock_dead(const struct sock *sk)
{
	return sk->__sk_common.skc_flags & (1UL << SOCK_DEAD);
}

/* Entering FIN_WAIT1 from close() (both directions shut) with bytes the
 * peer never acknowledged: the process gave up on a connection that lost
 * its data.  The orphan now retransmits for minutes before TCP_CLOSE, but
 * the facts (retransmits, bytes acked) are needed when the process gave
 * up, e.g. to tell packet loss from a slow backend. */
static __always_inline bool abandoned_with_unacked(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u8 shut = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown);

	return shut == 3 /* SHUTDOWN_MASK */ &&
	       BPF_CORE_READ(tp, snd_una) != BPF_CORE_READ(tp, write_seq);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(gs_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct gs_conn_close *closed, fin = {};
	struct gs_conn_state *st;
	struct gs_conn_live *c;
	__u64 now;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		if (!caller_traced())
			return 0;
		/* connect() again on a closed socket: the old one is over. */
		st = conn_lookup(sk);
		closed = st ? conn_closed(sk, st) : NULL;
		if (st && closed)
			conn_emit(sk, st, closed, true);
		conn_start(sk, GS_DIR_UPSTREAM, bpf_ktime_get_ns());
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		if (port_is_listener(sk->__sk_common.skc_num))
			conn_start(sk, GS_DIR_DOWNSTREAM, bpf_ktime_get_ns());
		return 0;
	}
	/* FIN_WAIT2, TIME_WAIT, LAST_ACK, CLOSING record nothing: skip the
	 * lookup, this program runs on every state change of every socket. */
	if (newstate != TCP_ESTABLISHED && newstate != TCP_FIN_WAIT1 &&
	    newstate != TCP_CLOSE_WAIT && newstate != TCP_CLOSE)
		return 0;
	st = conn_lookup(sk);
	if (!st)
		return 0;
	c = &st->ev;
	now = bpf_ktime_get_ns();
	switch (newstate) {
	case TCP_ESTABLISHED:
		conn_since_set(st, GS_SINCE_ESTABLISHED, now);
		c->flags |= GS_CONN_F_ESTABLISHED;
		break;
	case TCP_FIN_WAIT1:
		if (!c->fin_by) {
			c->fin_by = GS_FIN_LOCAL;
			conn_since_set(st, GS_SINCE_FIN, now);
		}
		if (abandoned_with_unacked(sk)) {
			/* Report it now: its destroy comes minutes later. */
			c->flags |= GS_CONN_F_ABANDONED;
			conn_finish_emit(sk, st, oldstate, now);
		}
		break;
	case TCP_CLOSE_WAIT:
		if (!c->fin_by) {
			c->fin_by = GS_FIN_REMOTE;
			conn_since_set(st, GS_SINCE_FIN, now);
		}
		break;
	case TCP_CLOSE:
		if (conn_forget_untold(sk, st))
			break;
		conn_finish(sk, st, &fin, oldstate, now);
		/* A connect that failed (RST or ICMP answer, SYN timeout, or
		 * the process gave up on it) is reported now: the gateway
		 * answers its client at once, and the socket may live on
		 * until it is closed.  No RST follows a close in SYN_SENT. */
		if (oldstate == TCP_SYN_SENT || sock_dead(sk) || !conn_closing(sk, &fin))
			conn_emit(sk, st, &fin, false);
		break;
	}
	return 0;
}

/* The segments a retransmit sent: its buffer may hold several (GSO), and
 * the socket counts each (tcp_skb_pcount: tcpi_total_retrans, nstat's
 * TcpRetransSegs).  A probe read: cb is a char array to the verifier. */
static __always_inline __u32 retransmit_segs(const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb = (const void *)skb->cb;
	__u16 segs = BPF_CORE_READ(cb, tcp_gso_segs);

	return segs ? segs : 1;
}

static __always_inline void count_retransmit(const struct sock *sk, const struct sk_buff *skb)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (!st)
		return;
	if (sk->__sk_common.skc_state == TCP_SYN_SENT) {
		if (st->syn_retrans < 255)
			st->syn_retrans++;
	} else {
		st->ev.retrans += retransmit_segs(skb);
	}
}

/* Kernels whose tracepoint fires for sent retransmits only. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(gs_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	count_retransmit(sk, skb);
	return 0;
}

/* Kernels whose tracepoint fires for every try and says how it went
 * (err): a try that sent nothing (the first copy still in the host's
 * queue, no memory) is no retransmit.  The loader loads one of the two,
 * by the tracepoint's arguments in the kernel's BTF (hook_plan). */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(gs_retransmit_err, const struct sock *sk, const struct sk_buff *skb, int err)
{
	if (!err)
		count_retransmit(sk, skb);
	return 0;
}

static __always_inline void note_rst(struct gs_conn_state *st, const struct sock *sk)
{
	__u8 state = sk->__sk_common.skc_state;
	struct gs_conn_close *closed;

	if (conn_since(st, GS_SINCE_RST))
		return;
	conn_since_set(st, GS_SINCE_RST, bpf_ktime_get_ns());
	/* An abort sends its RST just after entering TCP_CLOSE: the state it
	 * aborted is the one it left. */
	closed = state == TCP_CLOSE ? conn_closed(sk, st) : NULL;
	st->ev.rst_state = closed ? closed->close_state : state;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(gs_receive_reset, struct sock *sk)
{
	struct gs_conn_state *st = conn_lookup(sk);

	if (!st)
		return 0;
	note_rst(st, sk);
	if (st->rst_received < 255)
		st->rst_received++;
	if (sk->__sk_common.skc_state == TCP_SYN_SENT)
		st->ev.flags |= GS_CONN_F_RST_IN_SYN;
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(gs_send_reset, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	struct gs_conn_state *st;

	if (!sk)	/* RST for a segment with no socket */
		return 0;
	st = conn_lookup(sk);
	if (!st)
		return 0;
	note_rst(st, sk);
	if (st->rst_sent < 255)
		st->rst_sent++;
	return 0;
}

#define SO_EE_ORIGIN_ICMP	2
#define SO_EE_ORIGIN_ICMP6	3

/* errno of the ICMP error just queued on the socket's error queue.  An ICMP
 * error that arrives while the owner holds the socket (a local reject,
 * answered inside connect()) is queued and reported before it becomes
 * sk_err_soft, which connect() then returns. */
static __always_inline int queued_icmp_errno(const struct sock *sk)
{
	const struct sock_exterr_skb *serr;
	struct sk_buff *skb;

	if (!sk->sk_error_queue.qlen)
		return 0;
	skb = sk->sk_error_queue.prev;
	serr = (const struct sock_exterr_skb *)skb->cb;
	if (serr->ee.ee_origin != SO_EE_ORIGIN_ICMP && serr->ee.ee_origin != SO_EE_ORIGIN_ICMP6)
		return 0;
	return serr->ee.ee_errno;
}

/* The tracepoint fires after the owner was woken, which may already have
 * consumed the error (SO_ERROR clears it): keep what was seen before rather
 * than overwrite it with 0. */
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(gs_error_report, const struct sock *sk)
{
	struct gs_conn_state *st = conn_lookup(sk);
	int err;

	if (!st)
		return 0;
	err = sk->sk_err;
	if (!err)
		err = sk->sk_err_soft;
	if (!err)
		err = queued_icmp_errno(sk);
	if (err)
		st->sk_err = err;
	return 0;
}

/* The socket is freed: after TCP_CLOSE and any RST its close() sent. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(gs_destroy_sock, struct sock *sk)
{
	struct gs_conn_state *st = conn_lookup(sk);
	struct gs_conn_close *closed;

	if (!st)
		return 0;
	closed = conn_closed(sk, st);
	if (closed) {
		conn_emit(sk, st, closed, true);
		return 0;
	}
	/* Freed without a TCP_CLOSE transition seen. */
	st->ev.flags |= GS_CONN_F_DESTROYED;
	conn_finish_emit(sk, st, sk->__sk_common.skc_state, bpf_ktime_get_ns());
	return 0;
}

/* nginx reloads and pre-forking servers create workers by fork(): follow
 * them in-kernel so no connection of a new worker is missed. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(gs_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid;
	__u8 *pv, cv;

	if (!filter_pid)
		return 0;
	ptgid = parent->tgid;
	ctgid = child->tgid;
	if (ptgid == ctgid)
		return 0;
	pv = bpf_map_lookup_elem(&traced_pids, &ptgid);
	if (!pv)
		return 0;
	/* A gateway's child is one too (a worker of a proxy that forks per
	 * connection); its read count starts afresh. */
	cv = *pv & (PID_TRACED | PID_GATEWAY);
	switch (bpf_map_update_elem(&traced_pids, &ctgid, &cv, BPF_NOEXIST)) {
	case 0:
		stat_inc(GS_STAT_PID_FORKS);
		break;
	case -17:		/* -EEXIST (no errno.h for BPF): already traced */
		break;
	default:		/* table full: this child goes untraced, counted */
		stat_inc(GS_STAT_PID_INSERT_FAIL);
		break;
	}
	return 0;
}

/* The last thread of a traced process exits: forget its pid, so the table
 * holds live processes only and a reused pid is not traced by mistake. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(gs_exit, struct task_struct *task)
{
	__u32 tgid;

	if (!filter_pid || task->signal->live.counter > 0)
		return 0;
	tgid = task->tgid;
	if (!bpf_map_delete_elem(&traced_pids, &tgid))
		stat_inc(GS_STAT_PID_EXITS);
	return 0;
}
