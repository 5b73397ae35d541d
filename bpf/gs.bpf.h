/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers and maps shared by every gatescope BPF program.  Several .bpf.c
 * files are linked into one object (bpftool gen object), so maps defined
 * here with __weak are one map in the final skeleton. */
#ifndef GATESCOPE_GS_BPF_H
#define GATESCOPE_GS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "conn.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6

/* Set by userspace before load: the verifier prunes what is switched off. */
extern const volatile bool filter_pid;		/* only tgids in traced_pids */
extern const volatile bool filter_listen;	/* downstream only on listen_ports */
/* Each CPU wakes userspace once it queued this much (a share of the ring
 * buffer); userspace also drains the ring on a short timer. */
extern const volatile __u64 wakeup_bytes;

/* What accumulates in a connection's event while it lives (fields named as
 * in struct gs_conn_event).  The rest of the event is not kept per
 * connection: addresses, ports and the final TCP counters are read from
 * the socket when it closes (struct gs_conn_close), the process name is
 * kept once per thread (comms), TLS plaintext counts only for TLS
 * connections (conn_tls); its socket's address is the table's key, not
 * kept twice.  The connection table holds a million of these: every byte
 * here is a MiB of kernel memory at --max-conns 1048576.  app_tx_bytes is
 * brought up to date from the socket's write_seq (tx_seq) when a send
 * begins and when the connection closes (sock_io.bpf.h: tx_sync). */
struct gs_conn_live {
	__u64 ts_start;
	__u64 ts_last_tx;
	__u64 ts_last_rx;
	__u64 app_tx_bytes;
	__u64 app_rx_bytes;
	__u32 pid;		/* 0 until a process claims a passive connection */
	__u32 tid;
	__u32 retrans;
	__u8 flags;		/* GS_CONN_F_* */
	__u8 direction;
	__u8 fin_by;
	__u8 rst_state;
};

/* A time after ts_start, 48 bits of nanoseconds (78 hours) plus one:
 * 0 = not yet (see conn_since_set). */
struct gs_since {
	__u32 lo;
	__u16 hi;
};

/* Per-connection state: the live part of its event, plus what the HTTP
 * capture needs between calls (never emitted).  104 bytes: keep it so. */
struct gs_conn_state {
	struct gs_conn_live ev;
	__u64 ts_rx_ready;	/* oldest unread data arrived (sk_data_ready), 0 if none */
	__u32 since_lo[3];	/* GS_SINCE_*: struct gs_since, split to pack */
	__u32 tx_seq;		/* write_seq when app_tx_bytes was last brought up to date */
	__u32 tx_call_end;	/* write_seq at which the sendmsg in progress ends */
	__u16 since_hi[3];
	__u16 tx_cont;		/* bytes of an unfinished head still to capture, send side */
	__u16 rx_cont;		/* same, receive side */
	__u16 role_epoch;	/* ROLE_SKIP: gateway_epoch (low bits) when it was decided */
	__u8 syn_retrans;	/* saturating counters: a SYN is retried at most 127 times */
	__u8 rst_received;
	__u8 rst_sent;
	__u8 sk_err;		/* positive errno (< 256) */
	__u8 tls;		/* a TLS session's socket (conn_tls): its plaintext comes from uprobes */
	__u8 h2;		/* an HTTP/2 connection: copied whole (h2.bpf.h) */
	/* Written by the send path only (one sendmsg at a time per socket). */
	__u8 tx_synced : 1;	/* tx_seq and tx_call_end are set */
	__u8 tx_uncounted : 1;	/* the last sendmsg begun is a TLS record outside SSL_write */
	/* Written by conn_followed only. */
	__u8 role : 2;		/* enum conn_role: is its I/O followed */
	__u8 followed : 1;	/* some of its I/O was followed: its summary is emitted */
	/* Written by the capture paths (http_event.bpf.h). */
	__u8 announced : 1;	/* its identity record went out */
	/* Written by the capture path at either direction's first bytes. */
	__u8 plain;		/* began with a plain HTTP head: never TLS (no TLS call lookups) */
};

/* 104 + 56 bytes of the kernel's per-entry overhead: 160 MiB per million
 * connections, within the 200 MiB of all maps at --max-conns 1048576. */
_Static_assert(sizeof(struct gs_conn_state) <= 104, "connection table entry grew");

/* Indexes of gs_conn_state.since_*: the event's timestamps after ts_start. */
enum gs_since_idx {
	GS_SINCE_ESTABLISHED = 0,
	GS_SINCE_FIN = 1,
	GS_SINCE_RST = 2,
};

/* Whose I/O a connection's hooks follow.  Upstream connections are the
 * gateway's by construction (a traced process connected out).  A client
 * connection belongs to whoever reads it: a gateway (followed), a traced
 * process not known yet to be one (followed, counted), or a process that
 * only serves, or an untraced one (skipped: the hooks stop at the table
 * lookup and one byte test). */
enum conn_role {
	ROLE_FOLLOW = 0,
	ROLE_PENDING = 1,
	ROLE_SKIP = 2,
};

/* traced_pids values: a bit for "traced", one for "has connected out",
 * and in the upper bits how many times it answered its clients before. */
#define PID_TRACED		GS_PID_TRACED
#define PID_GATEWAY		GS_PID_GATEWAY
#define PID_ANSWERS_SHIFT	2
#define PID_ANSWERS_MAX		63
/* A traced process that answered its clients this many times without
 * ever connecting out only serves (a backend that shares the gateway's
 * name): its client connections are skipped until it connects.  Answers,
 * not reads: a gateway that has not connected yet may read a burst of
 * requests first, but answers them only after it connects.  And answers
 * (a response head, an HTTP/2 HEADERS frame), not writes: a gateway that
 * has not connected yet writes TLS handshakes and HTTP/2 SETTINGS to a
 * burst of new clients before it answers any (count_answer). */
#define SERVE_ONLY_ANSWERS	32

/* Per-CPU counters (enum gs_stat); summed by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GS_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps") __weak;

/* Tgids to trace (when filter_pid).  Userspace fills it from --pid/--comm;
 * the fork program adds children of traced processes, the exit program
 * removes every process when its last thread exits (a pid is reused: a dead
 * worker's pid must not make an unrelated process traced).  Holds the live
 * traced processes only; a failed insert is counted (GS_STAT_PID_INSERT_FAIL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory for the traced processes only */
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} traced_pids SEC(".maps") __weak;

/* Process names to trace (--comm): matched at connect(), when the
 * caller's tgid then joins traced_pids.  Short-lived clients are caught
 * without userspace having to see them first. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[GS_COMM_LEN]);
	__type(value, __u8);
} traced_comms SEC(".maps") __weak;

/* Local ports whose accepted connections are downstream (client-facing). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} listen_ports SEC(".maps") __weak;

/* Open connections of traced processes, keyed by socket address.  LRU so a
 * connection whose close we never see cannot pin an entry forever; its size
 * comes from --max-conns.  Evictions = inserts - deletes - live entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct gs_conn_state);
} conns SEC(".maps") __weak;

/* Which sockets may be in the connection table: a count per slot of a hash
 * of the socket's address.  A socket whose slot counts 0 is not in it: an
 * untraced process's socket I/O is turned away by one array load (the
 * verifier inlines an array lookup), not a hash lookup.  A slot counts up
 * before an entry goes in and down when one is deleted; an entry the LRU
 * evicts leaves its count: a false "maybe" (then the table is asked), never
 * a false "no".  The loader sizes it to 2^conn_filter_bits slots (loader.c
 * conn_filter_bits()).  The slots come GS_FILTER_LINE to an element, one
 * cache line: an array rounds each element up to 8 bytes, which made a
 * count per element take twice its 4. */
struct gs_filter_line {
	__u32 count[GS_FILTER_LINE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (1 << 16) / GS_FILTER_LINE);
	__type(key, __u32);
	__type(value, struct gs_filter_line);
} conn_filter SEC(".maps") __weak;

extern const volatile __u32 conn_filter_bits;

/* The process name of each thread that opened or claimed a connection,
 * as it was then: one copy per thread rather than per connection.  LRU:
 * threads come and go; a connection whose thread's entry was pushed out
 * by 8,192 newer ones is reported without a name. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);		/* tid */
	__type(value, char[GS_COMM_LEN]);
} comms SEC(".maps") __weak;

/* What a connection's event needs from its socket, read when it reaches
 * TCP_CLOSE: a close() that aborts (SO_LINGER {1,0}) then clears the
 * addresses and counters before the RST that the event still waits for. */
struct gs_conn_close {
	__u64 ts_close;
	__u64 ts_rx_pending;
	__u64 bytes_sent;
	__u64 bytes_received;
	__u32 srtt_us;
	__u32 retrans;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 close_state;
	__u8 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Connections between TCP_CLOSE and the socket's destruction whose
 * process still holds them (the peer ended it, or the process's close()
 * is aborting it), keyed like conns; an orphan's event leaves at
 * TCP_CLOSE.  Allocated as used: no memory while they are open.  When it
 * is full the event is emitted at TCP_CLOSE, without a RST sent after it
 * (only an abort by the process's own close() sends one). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct gs_conn_close);
} closing SEC(".maps") __weak;

/* The TLS session of a connection whose plaintext is read through the
 * libssl uprobes (gs_conn_state.tls), and its plaintext byte counts.  As
 * many as tls_sessions can tie; allocated as used. */
struct gs_conn_tls {
	__u64 ssl;
	__u64 tx_bytes;		/* gs_conn_event.tls_tx_bytes */
	__u64 rx_bytes;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct gs_conn_tls);
} conn_tls SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps") __weak;

/* Bumped whenever a traced process becomes a gateway: skipped
 * connections then decide again (a gateway that served locally before it
 * first proxied, or a process traced by name at its first connect). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gateway_epoch SEC(".maps") __weak;

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;	/* per-CPU slot: no atomic needed */
}

static __always_inline bool pid_traced(__u32 tgid)
{
	if (!filter_pid)
		return true;
	return bpf_map_lookup_elem(&traced_pids, &tgid) != NULL;
}

static __always_inline __u32 current_gateway_epoch(void)
{
	__u32 zero = 0, *e = bpf_map_lookup_elem(&gateway_epoch, &zero);

	return e ? *e : 0;
}

static __always_inline void bump_gateway_epoch(void)
{
	__u32 zero = 0, *e = bpf_map_lookup_elem(&gateway_epoch, &zero);

	if (e)
		__sync_fetch_and_add(e, 1);
}

/* At connect(): traced by pid, or by name (then remembered by pid).  A
 * traced process that connects out is a gateway from now on. */
static __always_inline bool caller_traced(void)
{
	char comm[GS_COMM_LEN] = {};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 gw = PID_TRACED | PID_GATEWAY;
	__u8 *v;

	if (!filter_pid)
		return true;
	v = bpf_map_lookup_elem(&traced_pids, &tgid);
	if (v) {
		if (!(*v & PID_GATEWAY)) {
			*v = gw;
			bump_gateway_epoch();
		}
		return true;
	}
	bpf_get_current_comm(comm, sizeof(comm));
	if (!bpf_map_lookup_elem(&traced_comms, comm))
		return false;
	if (bpf_map_update_elem(&traced_pids, &tgid, &gw, BPF_ANY))
		stat_inc(GS_STAT_PID_INSERT_FAIL);	/* traced now, not at its next connect */
	bump_gateway_epoch();
	return true;
}

/* The role of the current process toward a client connection it uses. */
static __always_inline __u8 owner_role(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 *v, answers;

	if (!filter_pid)
		return ROLE_FOLLOW;	/* every process traced: no roles */
	v = bpf_map_lookup_elem(&traced_pids, &tgid);
	if (!v)
		return ROLE_SKIP;
	if (*v & PID_GATEWAY)
		return ROLE_FOLLOW;
	answers = *v >> PID_ANSWERS_SHIFT;
	if (answers >= SERVE_ONLY_ANSWERS)
		return ROLE_SKIP;
	return ROLE_PENDING;
}

/* The current process, of unknown role, answered on a client connection
 * (the capture saw it: a response head, an HTTP/2 HEADERS frame): one
 * more toward SERVE_ONLY_ANSWERS. */
static __always_inline void count_answer(const struct gs_conn_state *st)
{
	__u32 tgid;
	__u8 *v;

	if (st->role != ROLE_PENDING)
		return;
	tgid = bpf_get_current_pid_tgid() >> 32;
	v = bpf_map_lookup_elem(&traced_pids, &tgid);
	if (v && !(*v & PID_GATEWAY) && (*v >> PID_ANSWERS_SHIFT) < PID_ANSWERS_MAX)
		*v += 1 << PID_ANSWERS_SHIFT;	/* racy across CPUs: a count, not a lock */
}

/* Follow this I/O on the connection?  One byte test for the gateway's
 * connections, and for skipped ones while no process became a gateway. */
static __always_inline bool conn_followed(struct gs_conn_state *st)
{
	__u32 epoch;
	__u8 role;

	if (st->role == ROLE_FOLLOW)
		return true;
	epoch = current_gateway_epoch();
	if (st->role == ROLE_SKIP && st->role_epoch == (__u16)epoch)
		return false;
	role = owner_role();
	if (role == ROLE_SKIP && st->role != ROLE_SKIP)
		stat_inc(GS_STAT_SERVE_ONLY_CONNS);
	st->role = role;
	st->role_epoch = epoch;
	if (role != ROLE_SKIP)
		st->followed = 1;
	return role != ROLE_SKIP;
}

static __always_inline bool port_is_listener(__u16 port)
{
	if (!filter_listen)
		return true;
	return bpf_map_lookup_elem(&listen_ports, &port) != NULL;
}

/* The filter's count for a socket (multiplicative hashing of its address
 * past the cache line: sockets are allocated far apart).  The address's
 * low half is taken by a 32-bit move, which makes a socket pointer a number
 * to the verifier (for a program loaded with CAP_PERFMON), where shifting
 * the pointer itself is refused. */
static __always_inline __u32 *conn_filter_count(__u64 key)
{
	__u64 low;
	__u32 slot;
	struct gs_filter_line *line;
	__u32 index;

	asm volatile("r1 = %[key]; w1 = w1; %[low] = r1" : [low] "=r"(low) : [key] "r"(key) : "r1");
	slot = ((__u32)(low >> 6) * 2654435761u) >> (32 - conn_filter_bits);
	index = slot / GS_FILTER_LINE;
	line = bpf_map_lookup_elem(&conn_filter, &index);
	return line ? &line->count[slot % GS_FILTER_LINE] : NULL;
}

static __always_inline void conn_filter_add(__u64 key, int n)
{
	__u32 *count = conn_filter_count(key);

	if (count)
		__sync_fetch_and_add(count, n);
}

static __always_inline struct gs_conn_state *conn_lookup(const void *sk)
{
	__u64 key = (__u64)sk;
	__u32 *count = conn_filter_count(key);

	if (count && !*count)
		return NULL;	/* not in the table */
	return bpf_map_lookup_elem(&conns, &key);
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The current process's fd -> struct sock, if the fd is a socket (probe
 * reads: any program type). */
static __always_inline struct sock *sock_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;
	struct socket *sock;
	umode_t mode;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* The socket's addresses and ports (saddr/daddr: IPv4 in the first 4
 * bytes, the rest left as it is: zeros).  The local port is released at
 * TCP_CLOSE (inet_num = 0): then inet_sport, which stays.  A connect that
 * never got a local port (or lost it) has only its peer: the local
 * address, maybe already routed, is left out with it.  Probe reads: the
 * socket may come from a map (HTTP capture) rather than the tracepoint. */
static __always_inline void read_addrs(const struct sock *sk, __u16 *family, __u16 *sport,
				       __u16 *dport, __u8 *saddr, __u8 *daddr)
{
	const struct sock_common *skc = &sk->__sk_common;
	__u16 port = BPF_CORE_READ(skc, skc_num);

	if (!port)
		port = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	*family = BPF_CORE_READ(skc, skc_family);
	*sport = port;
	*dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (*family == AF_INET) {
		if (port)
			BPF_CORE_READ_INTO((__u32 *)saddr, skc, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)daddr, skc, skc_daddr);
	} else {
		if (port)
			BPF_CORE_READ_INTO((struct in6_addr *)saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)daddr, skc, skc_v6_daddr);
	}
}

/* The same from a socket the verifier knows the type of (a tp_btf
 * argument): plain loads instead of a probe-read helper call per field,
 * the larger part of an HTTP record's cost.  The socket is in use (a send
 * or a receive returns), so its local port is still bound; one without it
 * is left to read_addrs. */
static __always_inline void read_addrs_trusted(const struct sock *sk, __u16 *family,
					       __u16 *sport, __u16 *dport, __u8 *saddr,
					       __u8 *daddr)
{
	const struct sock_common *skc = &sk->__sk_common;
	__u16 port = skc->skc_num;

	if (!port) {
		read_addrs(sk, family, sport, dport, saddr, daddr);
		return;
	}
	*family = skc->skc_family;
	*sport = port;
	*dport = bpf_ntohs(skc->skc_dport);
	if (*family == AF_INET) {
		*(__u32 *)saddr = skc->skc_rcv_saddr;
		*(__u32 *)daddr = skc->skc_daddr;
	} else {
		__builtin_memcpy(saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(daddr, &skc->skc_v6_daddr, 16);
	}
}

/* A connection's timestamp (GS_SINCE_*): absolute ns, 0 if not set. */
static __always_inline __u64 conn_since(const struct gs_conn_state *st, int i)
{
	__u64 d;

	if (i < 0 || i > GS_SINCE_RST)
		return 0;
	d = (__u64)st->since_hi[i] << 32 | st->since_lo[i];
	return d ? st->ev.ts_start + d - 1 : 0;
}

/* Stored as ns after ts_start, plus one; past 78 hours it stays there
 * (a connection that old is reported as closing at that age). */
static __always_inline void conn_since_set(struct gs_conn_state *st, int i, __u64 ts)
{
	__u64 d = ts > st->ev.ts_start ? ts - st->ev.ts_start : 0;

	if (i < 0 || i > GS_SINCE_RST)
		return;
	d = d < 0xfffffffffffeULL ? d + 1 : 0xffffffffffffULL;
	st->since_lo[i] = (__u32)d;
	st->since_hi[i] = d >> 32;
}

/* Had the connection sent its FIN when it was in this state?  The FIN
 * takes a sequence number: write_seq (and bytes_acked once acknowledged)
 * count it. */
static __always_inline bool fin_sent_in(int state)
{
	return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING ||
	       state == TCP_LAST_ACK;
}

/* app_tx_bytes as of the socket's write_seq.  What was written since
 * tx_seq counts unless the sendmsg then begun was a TLS record outside
 * SSL_write (a close_notify, a session ticket).  fin: write_seq includes
 * our FIN, no byte written.  Before the first sendmsg seen (tx_synced),
 * the bytes are as counted (by the syscall path, or none). */
static __always_inline __u64 tx_bytes_at(const struct gs_conn_state *st, __u32 write_seq,
					 bool fin)
{
	__u32 d = write_seq - st->tx_seq;

	if (!st->tx_synced || st->tx_uncounted)
		return st->ev.app_tx_bytes;
	if (fin && d)
		d--;
	return st->ev.app_tx_bytes + d;
}

/* Bring app_tx_bytes up to date: written by the send path, and at the
 * connection's end (one sendmsg at a time per socket, none after). */
static __always_inline void tx_sync(struct gs_conn_state *st, __u32 write_seq, bool fin)
{
	st->ev.app_tx_bytes = tx_bytes_at(st, write_seq, fin);
	st->tx_seq = write_seq;
	st->tx_synced = 1;
}

/* Keep the calling thread's name for its connections' events; written
 * only when it changed (one lookup per new connection). */
static __always_inline void remember_comm(__u32 tid)
{
	__u64 comm[GS_COMM_LEN / 8] = {};
	__u64 *known;

	bpf_get_current_comm(comm, sizeof(comm));
	known = bpf_map_lookup_elem(&comms, &tid);
	if (known && known[0] == comm[0] && known[1] == comm[1])
		return;
	bpf_map_update_elem(&comms, &tid, comm, BPF_ANY);
}

/* The owner of a passive connection is the first process to use it. */
static __always_inline void conn_claim(struct gs_conn_live *c)
{
	__u64 id;

	if (c->pid)
		return;
	id = bpf_get_current_pid_tgid();
	c->pid = id >> 32;
	c->tid = (__u32)id;
	remember_comm(c->tid);
}

/* The connection's process name, into comm (zeros when unknown). */
static __always_inline void conn_comm(const struct gs_conn_live *c, char *comm)
{
	__u32 tid = c->tid;
	char *known;

	__builtin_memset(comm, 0, GS_COMM_LEN);
	if (!c->pid)
		return;
	known = bpf_map_lookup_elem(&comms, &tid);
	if (known)
		__builtin_memcpy(comm, known, GS_COMM_LEN);
}

/* Bytes this CPU queued since it last woke userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unwoken_bytes SEC(".maps") __weak;

/* Each CPU wakes userspace once per wakeup_bytes it queued; in between,
 * userspace drains the ring every 100 ms.  Wake-ups cost more than events
 * (and wake the reader onto a CPU the gateway needs), so they are rare:
 * wakeup_bytes is a quarter of the ring divided among the CPUs.  Counted
 * per CPU: asking the ring how full it is reads the consumer position, a
 * cache line the reader on another CPU keeps writing, which costs more
 * than the event itself.  size: the ring space the record takes, which is
 * what it reserved, not what it filled: a capture reserves its largest
 * size (an HTTP/2 one 4 KiB for a frame of a few dozen bytes), and
 * counting only the bytes filled let the ring fill up between drains
 * without a wake-up. */
static __always_inline __u64 wakeup_flags(__u64 size)
{
	__u32 zero = 0;
	__u64 *unwoken = bpf_map_lookup_elem(&unwoken_bytes, &zero);

	if (!unwoken)
		return BPF_RB_NO_WAKEUP;
	*unwoken += size;
	if (*unwoken < wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	*unwoken = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/* Queue an event; count it as lost when the ring is full. */
static __always_inline void emit(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&events, data, size, wakeup_flags(size)))
		stat_inc(GS_STAT_LOST_EVENTS);
}

#endif /* GATESCOPE_GS_BPF_H */
