/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TLS plaintext through libssl uprobes (tls.bpf.c), and what the socket
 * hooks of both capture paths do for it.  An SSL * is tied to its socket
 * without OpenSSL struct offsets: while a thread is inside SSL_read or
 * SSL_write, the socket it reads from or sends to (sock_recv_length,
 * tcp_sendmsg_locked, or the syscall path's exit) is the session's.  The
 * tie is kept per session (a read served from OpenSSL's buffer touches no
 * socket) and forgotten when the socket closes or SSL_free runs. */
#ifndef GATESCOPE_TLS_BPF_H
#define GATESCOPE_TLS_BPF_H

#include "gs.bpf.h"
#include "http.h"

/* Off with --tls off, without HTTP capture, or without uprobes: the
 * verifier then prunes every TLS branch from the socket hooks. */
extern const volatile bool tls_enabled;

/* One SSL_read / SSL_write in progress per thread (OpenSSL does not nest
 * them: SSL_read and SSL_read_ex share an internal function). */
struct tls_call {
	__u64 ssl;
	__u64 buf;		/* the caller's plaintext buffer */
	__u64 done_ptr;		/* *_ex: where the byte count is written */
	__u64 sk;		/* the socket the call used, once seen */
	__u64 ts_ready;		/* oldest unread ciphertext reached the socket */
	__u64 ts_io;		/* the call's first send / last read on the socket */
	__u8 io_dir;		/* enum gs_io_dir */
	__u8 pad[7];
};

/* LRU: a thread that died inside a call (no return probe) cannot pin its
 * entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct tls_call);
} tls_calls SEC(".maps") __weak;

/* SSL pointers are addresses inside one process. */
struct tls_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct tls_session {
	__u64 sk;		/* 0: not learned (yet) */
	__u8 unmapped;		/* counted once in GS_STAT_TLS_UNMAPPED */
	__u8 pad[7];
};

/* SSL * -> socket.  Bounded; entries go at close / SSL_free, LRU for the
 * ones whose end was missed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tls_key);
	__type(value, struct tls_session);
} tls_sessions SEC(".maps") __weak;

enum tls_io {
	TLS_IO_PLAIN = 0,	/* not TLS (as far as we know): the plain path */
	TLS_IO_CALL,		/* TLS records inside SSL_read / SSL_write */
	TLS_IO_OUTSIDE,		/* TLS records of a known session outside them:
				 * handshake, close_notify, tickets */
};

/* Socket I/O on a followed connection.  Inside an SSL call of this thread
 * the socket is the session's: note it, when its oldest unread bytes
 * arrived (the read's first-byte time), and when the bytes moved: the
 * plaintext's time is its records' (a response head is written when its
 * first record is sent, a request read when its last record is), not the
 * call's return, which a busy process may reach late.  now: the caller's
 * clock reading, 0 to read it here.  Anything but TLS_IO_PLAIN: the bytes
 * are TLS records, not to be parsed as HTTP. */
static __always_inline enum tls_io tls_note_io(struct gs_conn_state *st, const void *sk,
					       __u64 ts_ready, __u64 now)
{
	struct tls_call *call;
	__u64 id;

	if (!tls_enabled || st->plain)
		return TLS_IO_PLAIN;
	id = bpf_get_current_pid_tgid();
	call = bpf_map_lookup_elem(&tls_calls, &id);
	if (!call)
		return st->tls ? TLS_IO_OUTSIDE : TLS_IO_PLAIN;
	if (!call->sk)
		call->sk = (__u64)sk;
	if (!call->ts_ready)
		call->ts_ready = ts_ready;
	if (call->io_dir == GS_IO_RECV || !call->ts_io)
		call->ts_io = now ? now : bpf_ktime_get_ns();
	return TLS_IO_CALL;
}

/* The connection on socket sk is over: its session's tie goes with it
 * (unless the SSL pointer was freed and reused for another socket
 * meanwhile). */
static __always_inline void tls_forget(__u64 ssl, __u32 tgid, __u64 sk)
{
	struct tls_key key = { .ssl = ssl, .tgid = tgid };
	struct tls_session *s;

	if (!tls_enabled || !ssl)
		return;
	s = bpf_map_lookup_elem(&tls_sessions, &key);
	if (s && s->sk == sk)
		bpf_map_delete_elem(&tls_sessions, &key);
}

#endif /* GATESCOPE_TLS_BPF_H */
