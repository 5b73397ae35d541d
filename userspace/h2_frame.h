/* SPDX-License-Identifier: MIT */
/* HTTP/2 framing stage: follows the frames of one direction of an HTTP/2
 * connection over captured fragments (stream offset, bytes copied, bytes
 * moved), keeps every header block (HEADERS, CONTINUATION, PUSH_PROMISE)
 * whole and in order and decodes it with libnghttp2's HPACK inflater (one
 * per direction: HPACK state is per direction), skips DATA payloads by
 * length, and reports what a request tracker needs: decoded header fields,
 * ends of streams, RST_STREAM, GOAWAY, SETTINGS' header table size.
 *
 * Bytes that were not captured (a gap between fragments, or len > cap) are
 * skipped when they fall inside a payload nobody needs (DATA, PING,
 * WINDOW_UPDATE, ...).  A gap over a frame header or a header block breaks
 * the direction: sticky, nothing more is decoded (HPACK state would be
 * wrong, so decoding further would produce garbage), and the caller counts
 * it. */
#ifndef GS_H2_FRAME_H
#define GS_H2_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN		24
#define H2_BLOCK_MAX		(256 * 1024)	/* a longer header block breaks the direction */

enum h2_frame_type {
	H2_DATA = 0, H2_HEADERS = 1, H2_PRIORITY = 2, H2_RST_STREAM = 3, H2_SETTINGS = 4,
	H2_PUSH_PROMISE = 5, H2_PING = 6, H2_GOAWAY = 7, H2_WINDOW_UPDATE = 8,
	H2_CONTINUATION = 9,
};

#define H2_FLAG_END_STREAM	0x01
#define H2_FLAG_ACK		0x01
#define H2_FLAG_END_HEADERS	0x04
#define H2_FLAG_PADDED		0x08
#define H2_FLAG_PRIORITY	0x20

/* What a frame (or a whole header block) meant. */
struct h2_frame_ev {
	uint8_t type;		/* enum h2_frame_type; HEADERS: the whole block was decoded */
	uint32_t stream;
	bool end_stream;	/* HEADERS, DATA */
	uint32_t error_code;	/* RST_STREAM, GOAWAY */
	uint32_t last_stream;	/* GOAWAY */
	uint32_t table_size;	/* SETTINGS: SETTINGS_HEADER_TABLE_SIZE, UINT32_MAX if absent */
};

struct h2_frame_cbs {
	/* One decoded header field of the block on stream (before the block's
	 * HEADERS event).  Values are not NUL-terminated. */
	void (*field)(void *ctx, uint32_t stream, const uint8_t *name, size_t nlen,
		      const uint8_t *value, size_t vlen);
	void (*frame)(void *ctx, const struct h2_frame_ev *ev);
	/* Only with fields_supplied (a recording's replay): the block on
	 * stream is complete; emit its fields through field().  -1: they
	 * are not there (the direction breaks). */
	int (*block_fields)(void *ctx, uint32_t stream);
};

struct h2_frame_stats {
	uint64_t frames;
	uint64_t header_blocks;		/* decoded */
	uint64_t skipped_bytes;		/* not captured, inside payloads not needed */
};

struct nghttp2_hd_inflater;

struct h2_reader {
	struct h2_frame_stats stats;
	uint64_t pos;			/* stream offset of the next byte */
	const char *error;		/* why the direction is broken, NULL if not */
	uint64_t error_off;
	bool started;			/* the first byte (offset 0) was seen */
	bool preface;			/* this direction starts with the client preface */
	uint8_t hdr[9];
	uint8_t hdr_got;
	bool in_payload;
	uint8_t type, flags;
	uint32_t stream, len, got, keep;	/* current frame; keep: payload bytes needed */
	uint8_t *pay;			/* the kept payload */
	size_t pay_cap;
	uint8_t *block;			/* header block being assembled */
	size_t block_len, block_cap;
	bool in_block;
	uint8_t block_type;		/* HEADERS or PUSH_PROMISE */
	uint32_t block_stream;
	bool block_end_stream;
	uint32_t table_size_pending;	/* UINT32_MAX: none */
	uint32_t table_size_max;	/* the largest table the encoder may use (4096 at first) */
	struct nghttp2_hd_inflater *infl;
	/* A recording's replay: header block bytes were wiped, their fields
	 * come through cb->block_fields instead of HPACK. */
	bool fields_supplied;
};

int h2_reader_init(struct h2_reader *r);
void h2_reader_free(struct h2_reader *r);

/* Feed one fragment: cap bytes of data, copied from a len-byte I/O at
 * stream offset off (fragments in stream order).  Returns -1 once the
 * direction is broken (now or before), else 0. */
int h2_reader_feed(struct h2_reader *r, const uint8_t *data, uint32_t cap, uint32_t len,
		   uint64_t off, const struct h2_frame_cbs *cb, void *ctx);

/* The peer advertised SETTINGS_HEADER_TABLE_SIZE: this direction's encoder
 * may use a table that large (applied between header blocks).  Only a
 * larger limit is applied: the encoder shrinks its table with an update
 * in a header block once it has read the SETTINGS, and a block it sent
 * before that (a response racing the SETTINGS) is still valid; the
 * inflater follows the encoder's updates either way. */
void h2_reader_table_size(struct h2_reader *r, uint32_t size);

#endif
