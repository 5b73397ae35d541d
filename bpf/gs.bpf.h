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
};

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

/* At connect(): traced by pid, or by name (then remembered by pid). */
static __always_inline bool caller_traced(void)
{
	char comm[GS_COMM_LEN] = {};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (pid_traced(tgid))
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	if (!bpf_map_lookup_elem(&traced_comms, comm))
		return false;
	if (bpf_map_update_elem(&traced_pids, &tgid, &one, BPF_ANY))
		stat_inc(GS_STAT_PID_INSERT_FAIL);	/* traced now, not at its next connect */
	return true;
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
