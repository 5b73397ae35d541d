/* SPDX-License-Identifier: MIT */
/* Event decoder: turns raw events from the BPF ring buffer, or from a
 * --record file, into validated events for the pipeline.  Also writes the
 * --record file.  Everything after the kernel is driven through here, so the
 * pipeline can be tested from recorded files without root. */
#ifndef GS_DECODER_H
#define GS_DECODER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "conn.h"
#include "conn_ident.h"

#define GS_REC_MAGIC	"GSREC\0\0\1"
#define GS_REC_VERSION	4	/* 4: GS_EV_ADOPTED events; 3: HTTP/2 header blocks
				 * as decoded, masked fields (h2_record.h); 2: TLS
				 * plaintext byte counts in gs_conn_event; 1 to 3
				 * are read too */
#define GS_EVENT_MAX	(64 * 1024)	/* no event is larger */

/* Called for every valid event, in order. */
typedef void (*event_fn)(const struct gs_event_hdr *ev, void *ctx);

/* A replay that read every event before a cut-off last one (gatescope was
 * killed, the disk filled up): decoder_replay's result, main's exit 3. */
#define DECODER_REPLAY_TORN	1

struct redactor;
struct h2_recorder;

struct decoder {
	event_fn fn;
	void *ctx;
	FILE *record;		/* --record FILE, or NULL */
	const char *record_path;
	struct redactor *redactor;	/* masks credentials in what is recorded */
	struct h2_recorder *h2rec;	/* HTTP/2 header blocks, recorded decoded */
	void *scratch;		/* the masked copy of an HTTP event */
	int record_err;		/* first write error of the recording, 0 if none */
	uint64_t events;	/* valid events passed on */
	uint64_t malformed;	/* rejected from the ring buffer (should stay 0) */
	uint64_t torn_bytes;	/* replay: bytes of a cut-off last event, ignored */
	int64_t wall_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, for epoch ts */
	uint32_t rec_version;	/* replay: the file's record format */
	uint32_t stored_size;	/* replay: bytes the current event takes in the file */
	/* Live: the connections' identities, to make whole capture records
	 * of the kernel's compact ones (conn_ident.h); made at the first. */
	struct conn_idents idents;
	size_t max_conns;	/* its bound (0: CONN_IDENTS_DEFAULT) */
	uint64_t heads_unknown;	/* compact captures dropped: their connection's identity
				 * was lost, pushed out, or found no memory */
	void *expanded;		/* the whole record being passed on */
};

void decoder_init(struct decoder *d, event_fn fn, void *ctx);
/* What decoder_feed allocated (the recording is closed apart). */
void decoder_free(struct decoder *d);
/* Start writing --record FILE: created 0600, never through a symlink, never
 * over an existing regular file (a device or FIFO is written to).  0 or
 * -errno (message printed). */
int decoder_record_open(struct decoder *d, const char *path);
/* Finish the recording: 0, or -1 if any write failed (message printed):
 * a failed recording is a failed run. */
int decoder_record_close(struct decoder *d);
/* One raw event (ring buffer callback): validate, record, pass on. */
int decoder_feed(struct decoder *d, const void *data, size_t size);
/* Read a --record file (a regular file) through the pipeline.  0;
 * DECODER_REPLAY_TORN when the last event is cut short (everything before
 * it was replayed, d->torn_bytes ignored, a warning printed); or -1 after
 * printing a message that names the file and the byte offset of the
 * problem. */
int decoder_replay(struct decoder *d, const char *path);
/* The same from a stream open for reading at its start, size bytes long
 * (name in messages; the stream stays open): a recording in memory
 * (fmemopen), as the fuzzing harness replays its inputs without a file. */
int decoder_replay_stream(struct decoder *d, const char *name, FILE *f, off_t size);
/* Kernel monotonic ns -> seconds since the epoch. */
double decoder_epoch(const struct decoder *d, uint64_t mono_ns);

/* NULL if an event of this type may have this size, else why not. */
const char *event_check_size(uint32_t type, size_t size);

#endif
