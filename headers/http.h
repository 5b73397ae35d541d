/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* HTTP capture event: the first bytes of a socket buffer that may start an
 * HTTP/1.x head (or continue one), with the connection it belongs to.
 * Shared by bpf/http.bpf.c and userspace/. */
#ifndef GATESCOPE_HTTP_H
#define GATESCOPE_HTTP_H

#include "conn.h"

#define GS_CAPTURE_DEFAULT	256
#define GS_CAPTURE_MAX		4096

enum gs_io_dir {
	GS_IO_SEND = 1,		/* the traced process wrote these bytes */
	GS_IO_RECV = 2,		/* the traced process read these bytes */
};

/* Flags in gs_http_event.flags */
#define GS_HTTP_F_CONT	(1u << 0)	/* continuation of an unfinished head */
#define GS_HTTP_F_TLS	(1u << 1)	/* plaintext of a TLS connection (libssl uprobes);
					 * stream_off and other_off count plaintext */
#define GS_HTTP_F_H2	(1u << 2)	/* a chunk of an HTTP/2 connection's bytes, copied
					 * whole; len > cap_len only for a gap after it */
/* Recordings only (userspace/h2_record.h; never from the kernel): */
#define GS_HTTP_F_H2_WIPED	(1u << 3)	/* an F_H2 chunk whose header block bytes
						 * are zeroed: their fields come in ... */
#define GS_HTTP_F_H2_FIELDS	(1u << 4)	/* ... the fields of one header block,
						 * decoded and masked, before the chunk
						 * that ends the block */

struct gs_http_event {
	__u32 type;		/* GS_EV_HTTP */
	__u32 size;		/* offsetof(data) + cap_len */
	__u64 sk;		/* connection key, as in gs_conn_event */
	__u64 ts;		/* send: at the call; recv: after the copy to user */
	__u64 stream_off;	/* bytes in this direction before this buffer */
	__u64 ts_conn_start;	/* connect() / accept of the connection */
	__u64 ts_established;
	__u64 ts_first_byte;	/* recv: when the oldest unread byte reached the socket */
	__u64 ts_last_tx;	/* previous send on this connection, 0 if none */
	__u64 ts_last_rx;	/* previous recv on this connection, 0 if none */
	__u64 other_off;	/* bytes so far in the other direction */
	__u32 pid;
	__u32 tid;
	__u32 len;		/* bytes moved by this call */
	__u32 cap_len;		/* bytes captured in data[] */
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 io_dir;		/* enum gs_io_dir */
	__u8 conn_dir;		/* enum gs_direction */
	__u8 flags;		/* GS_HTTP_F_* */
	__u8 pad[7];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[GS_COMM_LEN];
	__u8 data[GS_CAPTURE_MAX];
};

#define GS_HTTP_HDR_SIZE ((__u32)__builtin_offsetof(struct gs_http_event, data))

/* What the kernel sends instead of gs_http_event: a connection's identity
 * once (before its first capture), then captures without it, half the
 * header.  The decoder joins the two into a gs_http_event. */
struct gs_http_conn_event {
	__u32 type;		/* GS_EV_HTTP_CONN */
	__u32 size;		/* sizeof(struct gs_http_conn_event) */
	__u64 sk;
	__u64 ts_conn_start;
	__u64 ts_established;
	__u32 pid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 conn_dir;		/* enum gs_direction */
	__u8 pad[5];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[GS_COMM_LEN];
};

struct gs_http_head_event {
	__u32 type;		/* GS_EV_HTTP_HEAD */
	__u32 size;		/* offsetof(data) + cap_len */
	__u64 sk;
	__u64 ts;		/* the fields below as in gs_http_event */
	__u64 stream_off;
	__u64 other_off;
	__u64 ts_first_byte;
	__u64 ts_last_tx;
	__u64 ts_last_rx;
	__u32 tid;
	__u32 len;
	__u32 cap_len;
	__u8 io_dir;
	__u8 flags;
	__u8 pad[2];
	__u8 data[GS_CAPTURE_MAX];
};

#define GS_HTTP_HEAD_HDR_SIZE ((__u32)__builtin_offsetof(struct gs_http_head_event, data))

#endif /* GATESCOPE_HTTP_H */
