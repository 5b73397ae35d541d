/* libFuzzer harness for the HTTP/1.x parser, the route templates and the
 * --record credential masking: everything that reads captured bytes.
 *
 * Input: one byte of stream kind, then fragments, each a 4-byte header
 * (u16 captured length, u16 extra bytes the I/O moved beyond the capture)
 * and its captured bytes.  Offsets follow from the lengths, as the kernel
 * reports them; "extra" makes the gaps the parser must resynchronise over.
 * An input with no gap is fed a second time one byte at a time: the heads
 * and the error must not depend on how the bytes were split (whole lines
 * are parsed in place, split ones assembled: two ways to one answer), but
 * for the throttling hint, which also reads the body bytes a head's own
 * capture holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http_parser.h"
#include "redact.h"

struct seen {
	size_t heads;
	uint64_t digest;	/* of every head's fields but its times and its
				 * throttling hint (read from the body bytes the
				 * head's own capture holds: one byte has none) */
	char route[HTTP_PATH_LEN];
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t head_digest(uint64_t d, enum http_event ev, const struct http_head *h)
{
	const uint64_t v[] = {
		ev, h->kind, h->status, h->stream_off, h->head_end, h->body_end,
		(uint64_t)h->content_length, h->body, h->chunked, h->conn_close, h->truncated,
		h->interim, h->version_minor, h->req_id, h->retry_after,
		(uint64_t)h->retry_after_s,
	};

	d = mix(d, v, sizeof(v));
	d = mix(d, h->method, strlen(h->method));
	d = mix(d, h->host, strlen(h->host) + 1);
	return mix(d, h->path, strlen(h->path) + 1);
}

static void on_head(enum http_event ev, const struct http_head *h, void *ctx)
{
	struct seen *s = ctx;

	s->heads++;
	s->digest = head_digest(s->digest, ev, h);
	/* Every string the parser hands out must be terminated within its field. */
	if (strnlen(h->method, sizeof(h->method)) == sizeof(h->method) ||
	    strnlen(h->host, sizeof(h->host)) == sizeof(h->host) ||
	    strnlen(h->path, sizeof(h->path)) == sizeof(h->path))
		abort();
	http_route_template(h->path, s->route, sizeof(s->route));
}

/* Masking never changes the length nor a byte that is not masked into
 * anything but '*'. */
static void check_redact(const uint8_t *data, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);

	if (!copy)
		return;
	memcpy(copy, data, n);
	redact_buffer(copy, n);
	for (size_t i = 0; i < n; i++)
		if (copy[i] != data[i] && copy[i] != '*')
			abort();
	free(copy);
}

static void stream_start(struct http_stream *s, uint8_t how)
{
	http_stream_init(s, how & 1 ? HTTP_RESPONSE : HTTP_REQUEST);
	if (how & 2)
		http_stream_expect(s, how & 4 ? "HEAD" : "CONNECT");
}

/* The same bytes one at a time: same heads, same error (or none). */
static void check_bytewise(uint8_t how, const uint8_t *bytes, size_t n, const struct seen *whole,
			   const char *whole_error)
{
	struct http_stream s;
	struct seen seen = { 0 };
	const char *error;

	stream_start(&s, how);
	for (size_t i = 0; i < n; i++)
		http_stream_feed(&s, bytes + i, 1, 1, i, 1, on_head, &seen);
	error = http_stream_error(&s, NULL);
	http_stream_close(&s, 2, on_head, &seen);
	if (seen.heads != whole->heads || seen.digest != whole->digest ||
	    !error != !whole_error || (error && strcmp(error, whole_error)))
		abort();
	http_stream_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_stream s;
	struct seen seen = { 0 };
	uint64_t off = 0, ts = 1;
	size_t pos = 1, nbytes = 0;
	uint8_t *bytes = malloc(size ? size : 1);	/* the captured bytes, in a row */
	bool gaps = false;
	const char *error;

	if (size < 1 || !bytes) {
		free(bytes);
		return 0;
	}
	stream_start(&s, data[0]);
	while (pos + 4 <= size) {
		uint32_t cap = data[pos] | data[pos + 1] << 8;
		uint32_t extra = data[pos + 2] | data[pos + 3] << 8;

		pos += 4;
		if (cap > size - pos)
			cap = size - pos;
		http_stream_feed(&s, data + pos, cap, cap + extra, off, ts++, on_head, &seen);
		check_redact(data + pos, cap);
		memcpy(bytes + nbytes, data + pos, cap);
		nbytes += cap;
		gaps |= extra > 0;
		off += cap + extra;
		pos += cap;
	}
	error = http_stream_error(&s, NULL);
	http_stream_close(&s, ts, on_head, &seen);
	if (!gaps)
		check_bytewise(data[0], bytes, nbytes, &seen, error);
	http_stream_free(&s);
	free(bytes);
	return 0;
}
