/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The records of an HTTP capture, from its connection's state: one place
 * for every writer of such records (capture.bpf.h, h2.bpf.h).  A
 * connection's identity (addresses, process, times of its start) goes out
 * once, before its first capture; each capture then carries only what
 * changes (userspace joins the two). */
#ifndef GATESCOPE_HTTP_EVENT_BPF_H
#define GATESCOPE_HTTP_EVENT_BPF_H

#include "gs.bpf.h"
#include "http.h"

/* Send the connection's identity unless it was sent.  false: the ring is
 * full (the capture that would follow is lost with it: counted there).
 * key: the socket's address (its table key); sk: the socket as a typed
 * pointer (tp_btf), or NULL where only its address is known (kprobes,
 * syscalls, uprobes, HTTP/2 walks). */
static __always_inline bool http_conn_announce(struct gs_conn_state *st, __u64 key,
					       const struct sock *sk)
{
	const struct gs_conn_live *c = &st->ev;
	struct gs_http_conn_event *e;

	if (st->announced)
		return true;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return false;
	e->type = GS_EV_HTTP_CONN;
	e->size = sizeof(*e);
	e->sk = key;
	/* 0: open before the start, its opening not seen (adopt.bpf.c). */
	e->ts_conn_start = c->flags & GS_CONN_F_ADOPTED ? 0 : c->ts_start;
	e->ts_established = c->flags & GS_CONN_F_ADOPTED ? 0 : conn_since(st, GS_SINCE_ESTABLISHED);
	e->pid = c->pid;
	e->conn_dir = c->direction;
	__builtin_memset(e->pad, 0, sizeof(e->pad));	/* ring memory is not zeroed */
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (sk)
		read_addrs_trusted(sk, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	else
		read_addrs((const struct sock *)key, &e->family, &e->sport, &e->dport,
			   e->saddr, e->daddr);
	conn_comm(c, e->comm);
	bpf_ringbuf_submit(e, wakeup_flags(sizeof(*e)));
	st->announced = 1;
	return true;
}

static __always_inline void http_event_fill(struct gs_http_head_event *e, __u64 key,
					    const struct gs_conn_state *st, __u32 n, __u32 len,
					    __u8 io_dir, __u64 off, __u64 other_off, __u64 ts_ready,
					    __u64 now, __u8 flags)
{
	const struct gs_conn_live *c = &st->ev;

	e->type = GS_EV_HTTP_HEAD;
	e->size = GS_HTTP_HEAD_HDR_SIZE + n;
	e->cap_len = n;
	e->len = len;
	e->sk = key;
	e->ts = now;
	e->stream_off = off;
	e->other_off = other_off;
	e->ts_first_byte = ts_ready;
	e->ts_last_tx = c->ts_last_tx;
	e->ts_last_rx = c->ts_last_rx;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->io_dir = io_dir;
	e->flags = flags;
	e->pad[0] = e->pad[1] = 0;
}

#endif
