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

/* Per-connection state: the event being built, plus what the HTTP capture
 * needs between calls (never emitted). */
struct gs_conn_state {
	struct gs_conn_event ev;
	__u64 ts_rx_ready;	/* oldest unread data arrived (sk_data_ready), 0 if none */
	__u8 tx_in_call;	/* inside one sendmsg: capture only its first segment */
	__u8 tls;		/* a TLS session's socket: its plaintext comes from uprobes */
	__u16 tx_cont;		/* bytes of an unfinished head still to capture, send side */
	__u16 rx_cont;		/* same, receive side */
	__u8 tx_uncounted;	/* this sendmsg is a TLS record outside SSL_write */
	__u8 h2;		/* an HTTP/2 connection: copied whole (h2.bpf.h) */
	__u32 tls_tgid;		/* the TLS session on it (tls.bpf.h), forgotten at close */
	__u64 tls_ssl;
	__u32 role_epoch;	/* ROLE_SKIP: gateway_epoch when it was decided */
	__u8 role;		/* enum conn_role: is its I/O followed */
	__u8 followed;		/* some of its I/O was followed: its summary is emitted */
	__u8 plain;		/* began with a plain HTTP head: never TLS (no TLS call lookups) */
	__u8 pad[1];
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
 * and in the upper bits how many times it wrote to its clients before. */
#define PID_TRACED		GS_PID_TRACED
#define PID_GATEWAY		GS_PID_GATEWAY
#define PID_WRITES_SHIFT	2
#define PID_WRITES_MAX		63
/* A traced process that wrote this many times to its clients (answers)
 * without ever connecting out only serves (a backend that shares the
 * gateway's name): its client connections are skipped until it connects.
 * Writes, not reads: a gateway that has not connected yet may read a
 * burst of requests first, but answers them only after it connects. */
#define SERVE_ONLY_WRITES	32

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

/* The role of the current process toward a client connection it uses;
 * a write by a process of unknown role counts toward SERVE_ONLY_WRITES. */
static __always_inline __u8 owner_role(bool is_write)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 *v, writes;

	if (!filter_pid)
		return ROLE_FOLLOW;	/* every process traced: no roles */
	v = bpf_map_lookup_elem(&traced_pids, &tgid);
	if (!v)
		return ROLE_SKIP;
	if (*v & PID_GATEWAY)
		return ROLE_FOLLOW;
	writes = *v >> PID_WRITES_SHIFT;
	if (writes >= SERVE_ONLY_WRITES)
		return ROLE_SKIP;
	if (is_write && writes < PID_WRITES_MAX)
		*v += 1 << PID_WRITES_SHIFT;	/* racy across CPUs: a count, not a lock */
	return ROLE_PENDING;
}

/* Follow this I/O on the connection?  One byte test for the gateway's
 * connections, and for skipped ones while no process became a gateway. */
static __always_inline bool conn_followed(struct gs_conn_state *st, bool is_write)
{
	__u32 epoch;
	__u8 role;

	if (st->role == ROLE_FOLLOW)
		return true;
	epoch = current_gateway_epoch();
	if (st->role == ROLE_SKIP && st->role_epoch == epoch)
		return false;
	role = owner_role(is_write);
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

static __always_inline struct gs_conn_state *conn_lookup(const void *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&conns, &key);
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
 * than the event itself. */
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
