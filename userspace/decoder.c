// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "decoder.h"
#include "h2_record.h"
#include "http.h"
#include "log.h"
#include "redact.h"
#include "util.h"

/* CLOCK_REALTIME - CLOCK_MONOTONIC of any real host: after 1970 and less
 * than 146 years of uptime.  A file header outside is corrupt or crafted. */
#define WALL_OFFSET_MAX (INT64_C(1) << 62)

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
	case GS_EV_ADOPTED:
		*min = *max = sizeof(struct gs_adopted_event);
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

/* Whole seconds and the nanosecond rests are added apart: no sum can
 * overflow, whatever a recording claims. */
double decoder_epoch(const struct decoder *d, uint64_t mono)
{
	int64_t sec = (int64_t)(mono / 1000000000u) + d->wall_offset_ns / 1000000000;
	int64_t nsec = (int64_t)(mono % 1000000000u) + d->wall_offset_ns % 1000000000;

	return sec + nsec / 1e9;
}

static void record_open_error(const char *path, int err)
{
	if (err == EEXIST)
		log_err("record file %s exists: recordings are never overwritten; remove it or choose another name", path);
	else if (err == ELOOP)
		log_err("record file %s is a symbolic link: not followed", path);
	else
		log_err("cannot write record file %s: %s", path, strerror(err));
}

/* The first write error ends the recording; the run goes on and fails at
 * the end (decoder_record_close). */
static void record_failed(struct decoder *d, int err)
{
	if (!d->record_err) {
		d->record_err = err ? err : EIO;
		log_err("writing record file %s: %s; recording stopped, the run will fail",
			d->record_path, strerror(d->record_err));
	}
	if (d->record)
		fclose(d->record);
	d->record = NULL;
}

/* Release everything of a recording; its error state is forgotten. */
static void record_release(struct decoder *d)
{
	if (d->record)
		fclose(d->record);
	d->record = NULL;
	d->record_err = 0;
	d->record_path = NULL;
	redactor_free(d->redactor);
	d->redactor = NULL;
	h2_recorder_free(d->h2rec);
	d->h2rec = NULL;
	free(d->scratch);
	d->scratch = NULL;
}

static void write_out(struct decoder *d, const void *ev)
{
	if (d->record && fwrite(ev, ((const struct gs_event_hdr *)ev)->size, 1, d->record) != 1)
		record_failed(d, errno);
}

/* An HTTP/2 header block's fields (h2_record.h), before its bytes. */
static void write_fields(const struct gs_http_event *e, void *ctx)
{
	write_out(ctx, e);
}

int decoder_record_open(struct decoder *d, const char *path)
{
	struct rec_header h = { .version = GS_REC_VERSION, .header_size = sizeof(h) };
	int fd, err;

	memcpy(h.magic, GS_REC_MAGIC, sizeof(h.magic));
	h.wall_offset_ns = d->wall_offset_ns;
	fd = open_new_output(path);
	if (fd < 0) {
		err = errno;
		record_open_error(path, err);
		return -err;
	}
	d->record_path = path;
	d->record = fdopen(fd, "wb");
	d->redactor = redactor_new();
	d->h2rec = h2_recorder_new(write_fields, d);
	d->scratch = malloc(sizeof(struct gs_http_event));
	if (!d->record)
		close(fd);
	/* The header goes out now: a file that cannot take it fails the start. */
	if (!d->record || !d->redactor || !d->h2rec || !d->scratch ||
	    fwrite(&h, sizeof(h), 1, d->record) != 1 || fflush(d->record)) {
		err = errno ? errno : ENOMEM;
		log_err("cannot write record file %s: %s", path, strerror(err));
		record_release(d);
		return -err;
	}
	return 0;
}

int decoder_record_close(struct decoder *d)
{
	int ret;
	FILE *f = d->record;

	d->record = NULL;
	if (f && fclose(f))
		record_failed(d, errno);
	ret = d->record_err ? -1 : 0;
	if (d->record_err)
		log_err("recording %s is incomplete (%s)", d->record_path, strerror(d->record_err));
	record_release(d);
	return ret;
}

/* Write one event, HTTP captures with their credentials masked. */
static void record_event(struct decoder *d, const struct gs_event_hdr *ev)
{
	const void *out = ev;

	if (ev->type == GS_EV_HTTP) {
		struct gs_http_event *e = d->scratch;

		memcpy(e, ev, ev->size);
		if (e->flags & GS_HTTP_F_H2)
			h2_record_event(d->h2rec, e);
		else
			redact_http(d->redactor, e);
		e->size = GS_HTTP_HDR_SIZE + e->cap_len;
		out = e;
	} else if (ev->type == GS_EV_CONN) {
		h2_record_closed(d->h2rec, ((const struct gs_conn_event *)ev)->sk);
	}
	write_out(d, out);
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

void decoder_free(struct decoder *d)
{
	if (d->idents.buckets)
		conn_idents_free(&d->idents);
	free(d->expanded);
	d->expanded = NULL;
}

/* A compact kernel record (GS_EV_HTTP_CONN / _HEAD, never in recordings):
 * NULL when valid, else why not. */
static const char *validate_compact(const void *data, size_t size)
{
	const struct gs_event_hdr *h = data;
	const struct gs_http_head_event *e = data;

	if (h->type == GS_EV_HTTP_CONN)
		return h->size == sizeof(struct gs_http_conn_event) && size >= h->size ? NULL :
		       "connection record size does not match its type";
	if (size < GS_HTTP_HEAD_HDR_SIZE || h->size > size || e->cap_len > GS_CAPTURE_MAX ||
	    GS_HTTP_HEAD_HDR_SIZE + e->cap_len != h->size)
		return "capture length does not match the record size";
	if (e->flags & (GS_HTTP_F_H2_WIPED | GS_HTTP_F_H2_FIELDS))
		return "a recording's flag on a kernel event";
	return NULL;
}

/* A valid compact kernel record: an identity is kept (the table made at
 * the first; failing that, tried again at the next), a capture made whole.
 * Returns the whole capture to pass on, or NULL (nothing to pass on). */
static const void *decode_compact(struct decoder *d, const void *data)
{
	if (!d->idents.buckets && conn_idents_init(&d->idents, d->max_conns))
		d->idents.buckets = NULL;
	if (!d->expanded)
		d->expanded = malloc(sizeof(struct gs_http_event));
	if (((const struct gs_event_hdr *)data)->type == GS_EV_HTTP_CONN) {
		if (d->idents.buckets)
			conn_idents_put(&d->idents, data);
		return NULL;
	}
	if (d->idents.buckets && d->expanded &&
	    conn_idents_expand(&d->idents, data, d->expanded))
		return d->expanded;
	d->heads_unknown++;	/* counted as lost (lost_events) */
	return NULL;
}

/* A whole kernel record: NULL when valid, else why not. */
static const char *validate_whole(const void *data, size_t size)
{
	const char *why = validate(data, size);

	if (!why && ((const struct gs_event_hdr *)data)->type == GS_EV_HTTP &&
	    (((const struct gs_http_event *)data)->flags & (GS_HTTP_F_H2_WIPED | GS_HTTP_F_H2_FIELDS)))
		why = "a recording's flag on a kernel event";
	return why;
}

int decoder_feed(struct decoder *d, const void *data, size_t size)
{
	const struct gs_event_hdr *h = data;
	bool compact = size >= sizeof(*h) &&
		       (h->type == GS_EV_HTTP_CONN || h->type == GS_EV_HTTP_HEAD);
	const char *why = compact ? validate_compact(data, size) : validate_whole(data, size);

	if (why) {
		d->malformed++;
		log_debug("dropped kernel event: %s", why);
		return 0;
	}
	if (compact && !(data = decode_compact(d, data)))
		return 0;	/* an identity kept, or a capture lost (counted) */
	if (d->record)
		record_event(d, data);
	if (((const struct gs_event_hdr *)data)->type == GS_EV_CONN && d->idents.buckets)
		conn_idents_closed(&d->idents, ((const struct gs_conn_event *)data)->sk);
	d->events++;
	d->fn(data, d->ctx);
	return 0;
}

static int replay_fail(const char *path, long off, const char *what)
{
	log_err("%s: byte offset %ld: %s", path, off, what);
	return -1;
}

/* Only a regular file: a FIFO would block, a device never end.  Opened
 * non-blocking so that even the open of a FIFO returns at once. */
static FILE *open_replay_file(const char *path, off_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;

	if (fd < 0) {
		log_err("cannot open replay file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		log_err("replay file %s is not a regular file (a FIFO, device or directory cannot be replayed)", path);
		close(fd);
		return NULL;
	}
	*size = st.st_size;
	if (fcntl(fd, F_SETFL, 0) || !(f = fdopen(fd, "rb"))) {
		log_err("cannot open replay file %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

/* A version this gatescope does not read: say which it reads and what to
 * do.  Older versions are converted as they are read (stretch_v1). */
static int version_fail(const char *path, const struct rec_header *h)
{
	char why[160];

	if (h->version > GS_REC_VERSION && h->header_size == sizeof(*h))
		snprintf(why, sizeof(why),
			 "record format version %u is newer than this gatescope reads (1 to %d): "
			 "replay it with the gatescope that recorded it", h->version, GS_REC_VERSION);
	else
		snprintf(why, sizeof(why),
			 "unsupported record file version %u (header of %u bytes; this gatescope "
			 "reads versions 1 to %d): a corrupt header", h->version, h->header_size,
			 GS_REC_VERSION);
	return replay_fail(path, 8, why);
}

static int read_header(struct decoder *d, const char *path, FILE *f)
{
	struct rec_header h;

	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, GS_REC_MAGIC, sizeof(h.magic)))
		return replay_fail(path, 0, "not a gatescope record file (bad magic)");
	if (h.version < 1 || h.version > GS_REC_VERSION || h.header_size != sizeof(h))
		return version_fail(path, &h);
	d->rec_version = h.version;
	if (h.wall_offset_ns < 0 || h.wall_offset_ns > WALL_OFFSET_MAX)
		return replay_fail(path, 16, "implausible wall-clock offset (corrupt header)");
	d->wall_offset_ns = h.wall_offset_ns;
	return 0;
}

/* The file ends inside the event at off: replay what came before. */
static int torn_tail(struct decoder *d, const char *path, long off, off_t size)
{
	d->torn_bytes = size > off ? (uint64_t)(size - off) : 0;
	log_warn("%s: byte offset %ld: truncated event (torn tail): the last %llu bytes ignored, every event before them replayed",
		 path, off, (unsigned long long)d->torn_bytes);
	return DECODER_REPLAY_TORN;
}

/* Format 1 connection events lack the TLS byte counts at their end: read
 * them as they are stored, zero-extended to today's size.  Sets
 * d->stored_size (what the file holds) and returns the size to use. */
static uint32_t stretch_v1(struct decoder *d, struct gs_event_hdr *h)
{
	d->stored_size = h->size;
	if (d->rec_version == 1 && h->type == GS_EV_CONN && h->size == GS_CONN_V1_SIZE)
		h->size = sizeof(struct gs_conn_event);
	return h->size;
}

/* Read the next event into buf: true; or false when the replay ends, with
 * *result what decoder_replay returns. */
static bool read_event(struct decoder *d, const char *path, FILE *f, long off, off_t size,
		       struct gs_event_hdr *buf, int *result)
{
	size_t n = fread(buf, 1, sizeof(*buf), f), want;
	const char *why = NULL;

	*result = 0;
	if (ferror(f))
		why = strerror(errno);
	else if (n == 0)
		return false;
	else if (n != sizeof(*buf))
		*result = torn_tail(d, path, off, size);
	else if (!(why = event_check_size(buf->type, stretch_v1(d, buf)))) {
		want = d->stored_size - sizeof(*buf);
		memset((uint8_t *)(buf + 1) + want, 0, buf->size - d->stored_size);
		if (fread(buf + 1, 1, want, f) != want) {
			if (ferror(f))
				why = strerror(errno);
			else
				*result = torn_tail(d, path, off, size);
		} else {
			why = validate(buf, buf->size);
			if (!why)
				return true;
		}
	}
	if (why)
		*result = replay_fail(path, off, why);
	return false;
}

int decoder_replay_stream(struct decoder *d, const char *name, FILE *f, off_t size)
{
	union {
		struct gs_event_hdr hdr;
		uint8_t bytes[GS_EVENT_MAX];
	} *buf = malloc(sizeof(*buf));
	long off = sizeof(struct rec_header);
	int ret = -1;

	if (!buf)
		return replay_fail(name, 0, "out of memory");
	if (read_header(d, name, f))
		goto out;
	while (read_event(d, name, f, off, size, &buf->hdr, &ret)) {
		d->events++;
		d->fn(&buf->hdr, d->ctx);
		off += d->stored_size;
	}
out:
	free(buf);
	return ret;
}

int decoder_replay(struct decoder *d, const char *path)
{
	off_t size = 0;
	FILE *f = open_replay_file(path, &size);
	int ret;

	if (!f)
		return -1;
	ret = decoder_replay_stream(d, path, f, size);
	fclose(f);
	return ret;
}
