/* libFuzzer harness for the HTTP/1.x parser, the route templates and the
 * --record credential masking: everything that reads captured bytes.
 *
 * Input: one byte of stream kind, then fragments, each a 4-byte header
 * (u16 captured length, u16 extra bytes the I/O moved beyond the capture)
 * and its captured bytes.  Offsets follow from the lengths, as the kernel
 * reports them; "extra" makes the gaps the parser must resynchronise over. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http_parser.h"
#include "redact.h"

struct seen {
	size_t heads;
	char route[HTTP_PATH_LEN];
};

static void on_head(enum http_event ev, const struct http_head *h, void *ctx)
{
	struct seen *s = ctx;

	(void)ev;
	s->heads++;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_stream s;
	struct seen seen = { 0 };
	uint64_t off = 0, ts = 1;
	size_t pos = 1;

	if (size < 1)
		return 0;
	http_stream_init(&s, data[0] & 1 ? HTTP_RESPONSE : HTTP_REQUEST);
	if (data[0] & 2)
		http_stream_expect(&s, data[0] & 4 ? "HEAD" : "CONNECT");
	while (pos + 4 <= size) {
		uint32_t cap = data[pos] | data[pos + 1] << 8;
		uint32_t extra = data[pos + 2] | data[pos + 3] << 8;

		pos += 4;
		if (cap > size - pos)
			cap = size - pos;
		http_stream_feed(&s, data + pos, cap, cap + extra, off, ts++, on_head, &seen);
		check_redact(data + pos, cap);
		off += cap + extra;
		pos += cap;
	}
	http_stream_close(&s, ts, on_head, &seen);
	http_stream_free(&s);
	return 0;
}
