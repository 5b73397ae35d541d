/* SPDX-License-Identifier: MIT */
/* HTTP/2 in --record files.  HPACK cannot be masked in place (a
 * credential may be Huffman-coded, or a reference into a table built
 * earlier), so a recording does not keep header block bytes: the
 * recorder follows every HTTP/2 connection direction it records (its own
 * h2_reader, HPACK included), zeroes the bytes of HEADERS, CONTINUATION
 * and PUSH_PROMISE payloads in the recorded copy (GS_HTTP_F_H2_WIPED),
 * and writes each header block's fields, decoded and masked as an
 * HTTP/1 head is (credential header values, query and matrix parameter
 * values of :path), in an event of their own (GS_HTTP_F_H2_FIELDS)
 * just before the chunk that ends the block.  Frame headers, DATA
 * lengths, RST_STREAM, GOAWAY and SETTINGS stay as they were, so a
 * replay follows the same frames at the same offsets and takes each
 * block's fields from its event instead of HPACK.
 *
 * A fields event's data: the fields in order, each a little-endian u16
 * name length, u16 value length, the name, the value.  A direction the
 * recorder cannot follow (its start not seen, decoding broken, a block
 * whose fields do not fit in GS_CAPTURE_MAX bytes, or the one silent
 * longest when H2_REC_SLOTS are followed and another starts) is recorded
 * without bytes from then on: its replay counts it broken. */
#ifndef GS_H2_RECORD_H
#define GS_H2_RECORD_H

#include <stdint.h>
#include "http.h"

#define H2_REC_FIELD_HDR	4	/* u16 name length, u16 value length */
#define H2_REC_SLOTS		1024	/* connection directions followed at once */

struct h2_recorder;

/* Writes one event (a fields event) to the recording. */
typedef void (*h2_rec_emit)(const struct gs_http_event *e, void *ctx);

struct h2_recorder *h2_recorder_new(h2_rec_emit emit, void *ctx);
void h2_recorder_free(struct h2_recorder *r);
/* e (GS_HTTP_F_H2), a copy about to be recorded: its header block bytes
 * are wiped in place, and the blocks it completes are emitted first. */
void h2_record_event(struct h2_recorder *r, struct gs_http_event *e);
/* The connection closed: its directions are forgotten. */
void h2_record_closed(struct h2_recorder *r, uint64_t sk);

#endif
