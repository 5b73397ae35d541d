// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "decoder.h"
#include "http.h"
#include "log.h"
#include "util.h"

/* File header of a --record file; events follow back to back, each
 * starting with its gs_event_hdr. */
struct rec_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	int64_t wall_offset_ns;
};

/* Fixed-size events have min == max; HTTP captures carry 0..max bytes. */
static bool event_size_range(uint32_t type, size_t *min, size_t *max)
{
	switch (type) {
	case GS_EV_CONN:
		*min = *max = sizeof(struct gs_conn_event);
		return true;
	case GS_EV_HTTP:
		*min = GS_HTTP_HDR_SIZE;
		*max = sizeof(struct gs_http_event);
		return true;
	default:
		return false;
	}
}

const char *event_check_size(uint32_t type, size_t size)
{
	size_t min, max;

	if (!event_size_range(type, &min, &max))
		return "unknown event type (garbage or corrupt file)";
	if (size < min || size > max)
		return "event size does not match its type";
	return NULL;
}

static int64_t now_wall_offset(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}

void decoder_init(struct decoder *d, event_fn fn, void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->fn = fn;
	d->ctx = ctx;
	d->wall_offset_ns = now_wall_offset();
}

double decoder_epoch(const struct decoder *d, uint64_t mono)
{
	return ((int64_t)mono + d->wall_offset_ns) / 1e9;
}

int decoder_record_open(struct decoder *d, const char *path)
{
	struct rec_header h = { .version = GS_REC_VERSION, .header_size = sizeof(h) };

	memcpy(h.magic, GS_REC_MAGIC, sizeof(h.magic));
	h.wall_offset_ns = d->wall_offset_ns;
	d->record = fopen(path, "wb");
	if (!d->record || fwrite(&h, sizeof(h), 1, d->record) != 1) {
		int err = errno;

		log_err("cannot write record file %s: %s", path, strerror(err));
		if (d->record)
			fclose(d->record);
		d->record = NULL;
		return -err;
	}
	d->record_path = path;
	return 0;
}

void decoder_record_close(struct decoder *d)
{
	if (d->record && fclose(d->record))
		log_err("writing record file %s: %s", d->record_path, strerror(errno));
	d->record = NULL;
}

/* Returns NULL when the event is valid, else why not. */
static const char *validate(const void *data, size_t size)
{
	const struct gs_event_hdr *h = data;
	const char *why;

	if (size < sizeof(*h))
		return "shorter than an event header";
	why = event_check_size(h->type, h->size);
	if (why)
		return why;
	if (size < h->size)
		return "event shorter than its size field";
	if (h->type == GS_EV_HTTP) {
		const struct gs_http_event *e = data;

		if (e->cap_len > GS_CAPTURE_MAX || GS_HTTP_HDR_SIZE + e->cap_len != e->size)
			return "capture length does not match the event size";
	}
	return NULL;
}

int decoder_feed(struct decoder *d, const void *data, size_t size)
{
	const char *why = validate(data, size);

	if (why) {
		d->malformed++;
		log_debug("dropped kernel event: %s", why);
		return 0;
	}
	if (d->record && fwrite(data, ((const struct gs_event_hdr *)data)->size, 1, d->record) != 1) {
		log_err("writing record file %s: %s; recording stopped", d->record_path,
			strerror(errno));
		fclose(d->record);
		d->record = NULL;
	}
	d->events++;
	d->fn(data, d->ctx);
	return 0;
}

static int replay_fail(const char *path, long off, const char *what)
{
	log_err("%s: byte offset %ld: %s", path, off, what);
	return -1;
}

int decoder_replay(struct decoder *d, const char *path)
{
	struct rec_header h;
	union {
		struct gs_event_hdr hdr;
		uint8_t bytes[GS_EVENT_MAX];
	} *buf;
	long off = 0;
	int ret = -1;
	FILE *f = fopen(path, "rb");

	if (!f) {
		log_err("cannot open replay file %s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(sizeof(*buf));
	if (!buf) {
		fclose(f);
		return replay_fail(path, 0, "out of memory");
	}
	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, GS_REC_MAGIC, sizeof(h.magic))) {
		replay_fail(path, 0, "not a gatescope record file (bad magic)");
		goto out;
	}
	if (h.version < 1 || h.version > GS_REC_VERSION || h.header_size != sizeof(h)) {
		replay_fail(path, 8, "unsupported record file version");
		goto out;
	}
	d->wall_offset_ns = h.wall_offset_ns;
	off = sizeof(h);
	for (;;) {
		size_t n = fread(&buf->hdr, 1, sizeof(buf->hdr), f);
		size_t want;
		const char *why;

		if (n == 0 && feof(f))
			break;
		if (n != sizeof(buf->hdr)) {
			replay_fail(path, off, "truncated event header");
			goto out;
		}
		want = buf->hdr.size;
		if (h.version == 1 && buf->hdr.type == GS_EV_CONN && want == GS_CONN_V1_SIZE)
			buf->hdr.size = sizeof(struct gs_conn_event);	/* zero-extended below */
		why = event_check_size(buf->hdr.type, buf->hdr.size);
		if (why) {
			replay_fail(path, off, why);
			goto out;
		}
		memset(buf->bytes + want, 0, buf->hdr.size - want);
		if (fread(buf->bytes + sizeof(buf->hdr), 1, want - sizeof(buf->hdr), f) !=
		    want - sizeof(buf->hdr)) {
			replay_fail(path, off, "truncated event");
			goto out;
		}
		why = validate(buf, buf->hdr.size);
		if (why) {
			replay_fail(path, off, why);
			goto out;
		}
		d->events++;
		d->fn(&buf->hdr, d->ctx);
		off += want;
	}
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}
