// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTPS: the plaintext of SSL_read, SSL_read_ex, SSL_write and
 * SSL_write_ex, from entry and return uprobes on each libssl a traced
 * process maps (attached per library file by userspace/tls_attach.c, so
 * every process using it fires them: the traced-pid filter comes first).
 * Entry: remember the call per thread.  Socket hooks inside the call tie
 * the SSL * to its socket (tls.bpf.h).  Return: the bytes moved become the
 * same HTTP capture records as plain traffic, on that connection, with
 * plaintext stream offsets of their own (tls_tx_bytes / tls_rx_bytes). */
#include "capture.bpf.h"
#include "tls.bpf.h"

const volatile bool tls_enabled = false;

static __always_inline int tls_enter(void *ssl, const void *buf, void *done_ptr, __u8 io_dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call call = {
		.ssl = (__u64)ssl, .buf = (__u64)buf, .done_ptr = (__u64)done_ptr,
		.io_dir = io_dir,
	};

	if (!pid_traced(id >> 32))
		return 0;
	bpf_map_update_elem(&tls_calls, &id, &call, BPF_ANY);
	return 0;
}

/* The session is on socket sk from now on (unmapped: whether it was
 * already counted as a session whose socket was not learned). */
static __always_inline void tie_session(const struct tls_key *key, __u64 sk, __u8 unmapped)
{
	struct tls_session s = { .sk = sk, .unmapped = unmapped };

	if (!bpf_map_update_elem(&tls_sessions, key, &s, BPF_ANY))
		stat_inc(GS_STAT_TLS_SESSIONS);
}

/* The session's socket: the one this call used (then remembered), or the
 * one remembered from an earlier call (a read served from OpenSSL's
 * buffer).  0 when unknown: the session is counted once as unmapped. */
static __always_inline __u64 session_sk(const struct tls_call *call, __u32 tgid, bool moved)
{
	struct tls_key key = { .ssl = call->ssl, .tgid = tgid };
	struct tls_session *s = bpf_map_lookup_elem(&tls_sessions, &key);
	struct tls_session fresh = {};

	if (call->sk) {
		if (!s || s->sk != call->sk)
			tie_session(&key, call->sk, s ? s->unmapped : 0);
		return call->sk;
	}
	if (s && s->sk)
		return s->sk;
	if (!moved)
		return 0;
	if (!s) {
		fresh.unmapped = 1;
		if (!bpf_map_update_elem(&tls_sessions, &key, &fresh, BPF_NOEXIST))
			stat_inc(GS_STAT_TLS_UNMAPPED);
	} else if (!s->unmapped) {
		s->unmapped = 1;
		stat_inc(GS_STAT_TLS_UNMAPPED);
	}
	return 0;
}

/* First plaintext on this socket: from now on its HTTP comes from here.
 * Head continuations left by the record bytes cannot apply.  The session
 * and its plaintext counts: NULL when conn_tls is full (the plaintext is
 * then dropped, counted). */
static __always_inline struct gs_conn_tls *bind_conn(struct gs_conn_state *st, __u64 key,
						     const struct tls_call *call, __u32 tgid)
{
	struct gs_conn_tls fresh = { .ssl = call->ssl, .tgid = tgid }, *t;

	t = st->tls ? bpf_map_lookup_elem(&conn_tls, &key) : NULL;
	if (t && t->ssl == call->ssl)
		return t;
	if (t) {	/* another session on the socket: its counts go on */
		t->ssl = call->ssl;
		t->tgid = tgid;
	} else {
		if (bpf_map_update_elem(&conn_tls, &key, &fresh, BPF_ANY))
			return NULL;
		t = bpf_map_lookup_elem(&conn_tls, &key);
		if (!t)
			return NULL;
	}
	st->tls = 1;
	st->tx_cont = st->rx_cont = 0;
	st->ev.flags |= GS_CONN_F_TLS_READ;
	return t;
}

/* n: plaintext bytes the call moved (0 on failure or would-block). */
static __always_inline int tls_exit(__u64 n)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = bpf_map_lookup_elem(&tls_calls, &id);
	struct gs_conn_state *st;
	struct gs_conn_tls *t;
	struct tls_call call;
	__u64 sk, now, *off, *other;

	if (!p)
		return 0;
	call = *p;
	bpf_map_delete_elem(&tls_calls, &id);
	sk = session_sk(&call, id >> 32, n > 0);
	if (!sk)
		goto dropped;
	st = conn_lookup((void *)sk);
	if (!st)
		goto dropped;
	if (st->role == ROLE_SKIP)
		return 0;	/* a serving process's session: not the gateway's */
	t = bind_conn(st, sk, &call, id >> 32);
	if (!t)
		goto dropped;
	if (!n)
		return 0;
	if (!call.sk)
		stat_inc(GS_STAT_TLS_BUFFERED);	/* tied by an earlier call */
	now = call.ts_io ? call.ts_io : bpf_ktime_get_ns();
	off = call.io_dir == GS_IO_SEND ? &t->tx_bytes : &t->rx_bytes;
	other = call.io_dir == GS_IO_SEND ? &t->rx_bytes : &t->tx_bytes;
	claim_owner(&st->ev);
	capture_stream(st, sk, NULL, (const void *)call.buf, n, n, call.io_dir, *off, *other,
		       call.io_dir == GS_IO_RECV ? call.ts_ready : 0, now, GS_HTTP_F_TLS);
	*off += n;
	if (call.io_dir == GS_IO_SEND)
		st->ev.ts_last_tx = now;
	else
		st->ev.ts_last_rx = now;
	return 0;
dropped:
	if (n)
		stat_inc(GS_STAT_TLS_DROPPED);
	return 0;
}

/* Bytes an *_ex call reports through its out pointer (1 = success). */
static __always_inline __u64 ex_bytes(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = bpf_map_lookup_elem(&tls_calls, &id);
	__u64 n = 0;

	if (!p || ret != 1 || !p->done_ptr)
		return 0;
	if (bpf_probe_read_user(&n, sizeof(n), (const void *)p->done_ptr))
		return 0;
	return n;
}

SEC("uprobe")
int BPF_KPROBE(gs_ssl_read, void *ssl, void *buf, int num)
{
	return tls_enter(ssl, buf, NULL, GS_IO_RECV);
}

SEC("uretprobe")
int BPF_KRETPROBE(gs_ssl_read_ret, int ret)
{
	return tls_exit(ret > 0 ? ret : 0);
}

SEC("uprobe")
int BPF_KPROBE(gs_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return tls_enter(ssl, buf, readbytes, GS_IO_RECV);
}

SEC("uretprobe")
int BPF_KRETPROBE(gs_ssl_read_ex_ret, int ret)
{
	return tls_exit(ex_bytes(ret));
}

SEC("uprobe")
int BPF_KPROBE(gs_ssl_write, void *ssl, const void *buf, int num)
{
	return tls_enter(ssl, buf, NULL, GS_IO_SEND);
}

SEC("uretprobe")
int BPF_KRETPROBE(gs_ssl_write_ret, int ret)
{
	return tls_exit(ret > 0 ? ret : 0);
}

SEC("uprobe")
int BPF_KPROBE(gs_ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return tls_enter(ssl, buf, written, GS_IO_SEND);
}

SEC("uretprobe")
int BPF_KRETPROBE(gs_ssl_write_ex_ret, int ret)
{
	return tls_exit(ex_bytes(ret));
}

/* The process closes the TLS session (close_notify).  A TLS peer answers
 * it by closing, so its FIN may come before the process's own: the
 * close_notify is the process's close (fin_by, ts_fin), or a gateway's
 * timeout would look like the backend closing. */
SEC("uprobe")
int BPF_KPROBE(gs_ssl_shutdown, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_key key = { .ssl = (__u64)ssl, .tgid = id >> 32 };
	struct gs_conn_state *st;
	struct tls_session *s;
	struct gs_conn_tls *t;

	if (!pid_traced(id >> 32))
		return 0;
	s = bpf_map_lookup_elem(&tls_sessions, &key);
	if (!s || !s->sk)
		return 0;
	st = conn_lookup((void *)s->sk);
	if (!st || !st->tls || st->ev.fin_by)
		return 0;
	t = bpf_map_lookup_elem(&conn_tls, &s->sk);
	if (!t || t->ssl != key.ssl)
		return 0;
	st->ev.fin_by = GS_FIN_LOCAL;
	conn_since_set(st, GS_SINCE_FIN, bpf_ktime_get_ns());
	return 0;
}

/* The process gives the session its socket (nginx does, for client and
 * upstream connections alike): tied now, before the handshake.  Otherwise
 * the tie waits for a call that touches the socket, and the plaintext of
 * a call before it that touched none (a read OpenSSL served from its own
 * buffer) is dropped: on HTTP/2, a lost header block takes the header
 * compression state of the whole connection with it. */
SEC("uprobe")
int BPF_KPROBE(gs_ssl_set_fd, void *ssl, int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_key key = { .ssl = (__u64)ssl, .tgid = id >> 32 };
	struct sock *sk;

	if (!pid_traced(id >> 32))
		return 0;
	sk = sock_of_fd(fd);
	if (!sk || !conn_lookup(sk))
		return 0;	/* not a connection gatescope follows */
	tie_session(&key, (__u64)sk, 0);
	return 0;
}

/* The session ends: forget its socket (the SSL pointer will be reused). */
SEC("uprobe")
int BPF_KPROBE(gs_ssl_free, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_key key = { .ssl = (__u64)ssl, .tgid = id >> 32 };

	if (!pid_traced(id >> 32))
		return 0;
	bpf_map_delete_elem(&tls_sessions, &key);
	return 0;
}
