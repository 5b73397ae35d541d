/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The header of an HTTP capture record, from its connection's state: one
 * place for every writer of such records (capture.bpf.h, h2.bpf.h). */
#ifndef GATESCOPE_HTTP_EVENT_BPF_H
#define GATESCOPE_HTTP_EVENT_BPF_H

#include "gs.bpf.h"
#include "http.h"

/* sk: the connection's socket as a typed pointer (tp_btf), or NULL where
 * only its address is known (kprobes, syscalls, uprobes, HTTP/2 walks). */
static __always_inline void http_event_fill(struct gs_http_event *e,
					    const struct gs_conn_state *st, const struct sock *sk,
					    __u32 n, __u32 len,
					    __u8 io_dir, __u64 off, __u64 other_off, __u64 ts_ready,
					    __u64 now, __u8 flags)
{
	const struct gs_conn_live *c = &st->ev;

	e->type = GS_EV_HTTP;
	e->size = GS_HTTP_HDR_SIZE + n;
	e->cap_len = n;
	e->len = len;
	e->sk = c->sk;
	e->ts = now;
	e->stream_off = off;
	e->other_off = other_off;
	e->ts_conn_start = c->ts_start;
	e->ts_established = conn_since(st, GS_SINCE_ESTABLISHED);
	e->ts_first_byte = ts_ready;
	e->ts_last_tx = c->ts_last_tx;
	e->ts_last_rx = c->ts_last_rx;
	e->pid = c->pid;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->io_dir = io_dir;
	e->conn_dir = c->direction;
	e->flags = flags;
	__builtin_memset(e->pad, 0, sizeof(e->pad));	/* ring memory is not zeroed */
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	/* Not kept per connection: read from the socket, which is in use. */
	if (sk)
		read_addrs_trusted(sk, &e->family, &e->sport, &e->dport, e->saddr, e->daddr);
	else
		read_addrs((const struct sock *)c->sk, &e->family, &e->sport, &e->dport,
			   e->saddr, e->daddr);
	conn_comm(c, e->comm);
}

#endif
