/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Connection summary event: one per finished or failed TCP connection of a
 * traced process.  Shared by bpf/conn.bpf.c and userspace/.  64-bit fields
 * first, fixed-size arrays, no pointers: the layout is also the on-disk
 * record format of --record files. */
#ifndef GATESCOPE_CONN_H
#define GATESCOPE_CONN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define GS_COMM_LEN 16

enum gs_event_type {
	GS_EV_CONN = 1,		/* struct gs_conn_event */
	GS_EV_HTTP = 2,		/* struct gs_http_event (headers/http.h) */
	/* From the kernel only (never in --record files, which hold the
	 * GS_EV_HTTP event the decoder makes of the two): */
	GS_EV_HTTP_CONN = 3,	/* struct gs_http_conn_event */
	GS_EV_HTTP_HEAD = 4,	/* struct gs_http_head_event */
	GS_EV_ADOPTED = 5,	/* struct gs_adopted_event (also in --record files, version 4) */
};

enum gs_direction {
	GS_DIR_UPSTREAM = 1,	/* active open: the traced process connected out */
	GS_DIR_DOWNSTREAM = 2,	/* passive open: a client connected to it */
};

/* Who sent the first FIN (or nobody: the connection ended by RST/abort). */
enum gs_fin_by {
	GS_FIN_NONE = 0,
	GS_FIN_LOCAL = 1,
	GS_FIN_REMOTE = 2,
};

/* Flags in gs_conn_event.flags */
#define GS_CONN_F_ESTABLISHED	(1u << 0)	/* reached ESTABLISHED */
#define GS_CONN_F_RST_IN_SYN	(1u << 1)	/* RST answered our SYN */
#define GS_CONN_F_DESTROYED	(1u << 2)	/* close seen via tcp_destroy_sock */
#define GS_CONN_F_ABANDONED	(1u << 3)	/* emitted when the process closed it with
						 * unacknowledged data, before TCP_CLOSE */
#define GS_CONN_F_TLS		(1u << 4)	/* its first bytes were a TLS handshake record */
#define GS_CONN_F_TLS_READ	(1u << 5)	/* its plaintext was read through libssl uprobes:
						 * tls_{tx,rx}_bytes count it */
#define GS_CONN_F_ADOPTED	(1u << 6)	/* open before gatescope started: ts_start is
						 * when it was found, its connect is unknown */

/* Values of the BPF map traced_pids: the process is traced; it has
 * connected out (a gateway, whose client connections are captured); the
 * upper bits count its writes to its clients before it did (kernel only). */
#define GS_PID_TRACED		1
#define GS_PID_GATEWAY		2

/* Slots of the connection filter (BPF map conn_filter) per element of it;
 * the loader sizes the map in elements. */
#define GS_FILTER_LINE		16

/* Every event starts with this header (also in --record files). */
struct gs_event_hdr {
	__u32 type;		/* enum gs_event_type */
	__u32 size;		/* size of the whole event in bytes */
};

/* A connection that was open when gatescope started, followed from then
 * on (bpf/adopt.bpf.c): one per connection, before any other event of it.
 * Its own events say GS_CONN_F_ADOPTED; this one tells, from the start,
 * which connections a process holds that gatescope has not seen opened. */
struct gs_adopted_event {
	__u32 type;		/* GS_EV_ADOPTED */
	__u32 size;		/* sizeof(struct gs_adopted_event) */
	__u64 sk;
	__u64 ts;		/* when it was found */
	__u32 pid;		/* the process holding it */
	__u8 direction;		/* enum gs_direction */
	__u8 pad[3];
};

struct gs_conn_event {
	__u32 type;		/* GS_EV_CONN */
	__u32 size;		/* sizeof(struct gs_conn_event) */
	__u64 sk;		/* kernel socket address: connection key */
	__u64 ts_start;		/* connect() (SYN sent) or SYN received, ns */
	__u64 ts_established;	/* 0 if never established */
	__u64 ts_fin;		/* first FIN (either side), 0 if none */
	__u64 ts_rst;		/* first RST (either direction), 0 if none */
	__u64 ts_close;		/* reached TCP_CLOSE */
	__u64 ts_last_tx;	/* last send()/write() by the process, 0 if none */
	__u64 ts_last_rx;	/* last recv()/read() returning data, 0 if none */
	__u64 ts_rx_pending;	/* data reached the socket at this time and was never read */
	__u64 app_tx_bytes;	/* bytes the process wrote (socket tracepoints) */
	__u64 app_rx_bytes;	/* bytes the process read */
	__u64 bytes_sent;	/* data bytes acked by the peer (bytes_acked - SYN, FIN) */
	__u64 bytes_received;	/* data bytes received (bytes_received - FIN) */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 flags;		/* GS_CONN_F_* */
	__u32 syn_retrans;
	__u32 retrans;		/* data retransmits, after the handshake */
	__u32 rst_received;
	__u32 rst_sent;
	__s32 sk_err;		/* last socket error reported (positive errno), 0 if none */
	__u32 srtt_us;		/* smoothed RTT at close, microseconds */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 sport;		/* local port, host order */
	__u16 dport;		/* remote port, host order */
	__u8 direction;		/* enum gs_direction */
	__u8 fin_by;		/* enum gs_fin_by */
	__u8 rst_state;		/* TCP state when the first RST was seen */
	__u8 close_state;	/* state we left for TCP_CLOSE */
	__u8 pad[2];
	__u8 saddr[16];		/* local address; IPv4 in the first 4 bytes */
	__u8 daddr[16];		/* remote address */
	char comm[GS_COMM_LEN];
	/* Record format 2 (files of format 1 end here; read as zeros): */
	__u64 tls_tx_bytes;	/* GS_CONN_F_TLS_READ: plaintext written through TLS */
	__u64 tls_rx_bytes;	/* ... and read; app_*_bytes stay the TLS record bytes */
};

/* A connection event as record format 1 wrote it. */
#define GS_CONN_V1_SIZE ((__u32)__builtin_offsetof(struct gs_conn_event, tls_tx_bytes))

/* Indexes into the per-CPU "stats" array map: kernel-side counters that
 * userspace sums over CPUs and shows in every report. */
enum gs_stat {
	GS_STAT_LOST_EVENTS = 0,	/* ring buffer full: event dropped */
	GS_STAT_CONN_INSERTS,		/* connections entered into the table */
	GS_STAT_CONN_DELETES,		/* connections removed at close */
	GS_STAT_CONN_INSERT_FAIL,	/* map update failed */
	GS_STAT_HTTP_TRUNCATED,		/* capture shorter than the buffer */
	GS_STAT_PID_FORKS,		/* children of traced processes added */
	GS_STAT_TLS_SESSIONS,		/* TLS sessions tied to a followed connection */
	GS_STAT_TLS_UNMAPPED,		/* TLS sessions whose socket was not learned */
	GS_STAT_TLS_DROPPED,		/* SSL reads/writes whose plaintext had no connection */
	GS_STAT_TLS_BUFFERED,		/* ... with plaintext but no socket I/O (OpenSSL's buffer) */
	GS_STAT_PID_INSERT_FAIL,	/* a process to trace did not fit traced_pids */
	GS_STAT_PID_EXITS,		/* traced processes removed at exit */
	GS_STAT_SERVE_ONLY_CONNS,	/* client connections skipped: their process only
					 * serves (never connected out) or is not traced */
	GS_STAT_CONN_REPLACED,		/* a new connection took the entry of one on the same
					 * socket address whose close was never seen */
	GS_STAT__MAX,
};

#endif /* GATESCOPE_CONN_H */
