// SPDX-License-Identifier: MIT
/* gs-rerecord: rewrite a --record file in today's record format.
 *
 *   gs-rerecord IN.gsr OUT.gsr
 *
 * Reads IN with gatescope's own decoder (which converts every older
 * format it reads, and refuses the others with a message), and writes
 * every event to OUT, which must not exist, as `gatescope --record` would
 * have: the same events, the same wall-clock offset, today's version.
 * `make fixtures` runs it over every tests/fixtures file after a format
 * change.
 * Exit 0; 1 when IN cannot be read whole or OUT cannot be written. */
#include <stdio.h>
#include "decoder.h"
#include "log.h"

static struct decoder in, out;
static const char *out_path;
static int failed;

static void drop(const struct gs_event_hdr *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
}

/* The output's header carries the input's wall-clock offset, known once
 * the input's header was read: open the output at the first event. */
static int open_output(void)
{
	if (out.record || failed)
		return failed ? -1 : 0;
	out.wall_offset_ns = in.wall_offset_ns;
	failed = decoder_record_open(&out, out_path) != 0;
	return failed ? -1 : 0;
}

static void copy_event(const struct gs_event_hdr *ev, void *ctx)
{
	(void)ctx;
	if (!open_output())
		decoder_feed(&out, ev, ev->size);
}

int main(int argc, char **argv)
{
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: gs-rerecord IN.gsr OUT.gsr\n");
		return 2;
	}
	log_init(false);
	out_path = argv[2];
	decoder_init(&out, drop, NULL);
	decoder_init(&in, copy_event, NULL);
	rc = decoder_replay(&in, argv[1]);
	if (rc != 0) {
		fprintf(stderr, "gs-rerecord: %s not read whole: nothing written\n", argv[1]);
		if (out.record)
			remove(out_path);
		return 1;
	}
	if (open_output() || decoder_record_close(&out))
		return 1;
	fprintf(stderr, "gs-rerecord: %s -> %s: %llu events, record format %d\n", argv[1],
		out_path, (unsigned long long)out.events, GS_REC_VERSION);
	return 0;
}
