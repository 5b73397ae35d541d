/* SPDX-License-Identifier: MIT */
/* HTTP/1.x parser stage: turns the captured prefixes of socket I/O (one
 * struct gs_http_event each) into request and response heads, and follows
 * message boundaries so the next head is found where it starts.
 *
 * The kernel copies only the first N bytes of an I/O that may start (or
 * continue) a head, with the I/O's stream offset and full length; body bytes
 * are usually not captured. So the parser works on stream offsets: a head
 * ends at its blank line, a Content-Length body is skipped by arithmetic,
 * chunked bodies are followed chunk by chunk as far as the chunk headers
 * were captured. When the bytes it needs were not captured, it loses sync
 * (counted) and picks up again at the next I/O that starts with a head.
 *
 * One struct http_stream per connection and direction, of fixed size
 * (about 700 bytes).  A line split over two captures is assembled in a
 * buffer of HTTP_LINE_KEEP bytes allocated only while the line is
 * unfinished (most heads arrive whole: an idle connection holds none);
 * http_stream_free() releases it if a stream is dropped mid-line. Heads that are longer than what was captured are
 * reported with .truncated set. Input that cannot be HTTP/1.x (control
 * bytes, over-long lines, bad numbers) marks the stream broken: sticky, the
 * stream ignores everything afterwards and the caller counts it. */
#ifndef GS_HTTP_PARSER_H
#define GS_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METHOD_LEN	16
#define HTTP_HOST_LEN	128
#define HTTP_PATH_LEN	256
#define HTTP_LINE_KEEP	512	/* bytes of a line kept for parsing */
#define HTTP_LINE_MAX	8192	/* a longer line marks the stream broken */
#define HTTP_HEAD_MAX	65536	/* a longer head marks the stream broken */
#define HTTP_EXPECT_MAX	16	/* requests awaiting a response */
#define HTTP_UNKNOWN	UINT64_MAX

enum http_kind { HTTP_REQUEST = 1, HTTP_RESPONSE = 2 };

/* Request headers whose values gateways copy from the client's request to
 * the upstream one: their hashes (never the values) tell requests apart. */
enum http_fp_header {
	HTTP_FP_USER_AGENT = 1, HTTP_FP_ACCEPT, HTTP_FP_ACCEPT_LANGUAGE, HTTP_FP_CONTENT_TYPE,
	HTTP_FP_CONTENT_LENGTH, HTTP_FP_COOKIE, HTTP_FP_AUTHORIZATION, HTTP_FP_REFERER,
};
#define HTTP_FP_MAX 8

struct http_fp {
	uint8_t n;
	uint8_t name[HTTP_FP_MAX];	/* enum http_fp_header */
	uint32_t hash[HTTP_FP_MAX];	/* FNV-1a of the whole value */
};

enum http_event {
	HTTP_EV_HEAD = 1,	/* a head is complete (or truncated) */
	HTTP_EV_END = 2,	/* a chunked body ended: body_end is now known */
};

/* How the message after the head ends. */
enum http_body {
	HTTP_BODY_UNKNOWN = 0,	/* truncated head: framing not seen */
	HTTP_BODY_NONE,		/* no body: HEAD, 1xx, 204, 304, no length on a request */
	HTTP_BODY_LENGTH,	/* Content-Length bytes */
	HTTP_BODY_CHUNKED,	/* chunked: an HTTP_EV_END follows if the chunks are seen */
	HTTP_BODY_CLOSE,	/* response without length: ends when the connection closes */
	HTTP_BODY_TUNNEL,	/* 101 / CONNECT: no more HTTP on this connection */
};

struct http_head {
	uint64_t stream_off;	/* offset of the head's first byte */
	uint64_t head_end;	/* offset just past the blank line (HTTP_UNKNOWN if truncated) */
	uint64_t body_end;	/* offset just past the message, HTTP_UNKNOWN if not known */
	uint64_t ts_start;	/* ts of the fragment where the head started */
	uint64_t ts_end;	/* ... where it completed (or was found truncated) */
	uint64_t ts_msg_end;	/* HTTP_EV_END: ts of the fragment holding the last chunk */
	int64_t content_length;	/* -1 if absent */
	enum http_kind kind;
	enum http_body body;
	uint16_t status;	/* response */
	uint8_t version_minor;	/* HTTP/1.x; 1 assumed if the start line was cut */
	bool interim;		/* 1xx other than 101: the final response follows */
	bool retry_after;	/* response carries Retry-After */
	int32_t retry_after_s;	/* its delay-seconds; -1 if absent or an HTTP-date */
	bool throttling_hint;	/* 4xx/5xx whose visible headers/body name throttling */
	bool chunked;		/* Transfer-Encoding ends in chunked */
	bool conn_close;	/* Connection: close, or HTTP/1.0 without keep-alive */
	bool truncated;		/* the head was not fully captured: fields may be missing */
	uint64_t req_id;	/* request: hash of a propagated id (X-Request-ID,
				 * traceparent's trace id, b3, X-Amzn-Trace-Id Root), 0 if none */
	struct http_fp fp;	/* request: hashed values of fully captured copied headers */
	char method[HTTP_METHOD_LEN];	/* request */
	char host[HTTP_HOST_LEN];	/* request: Host (or absolute-form authority), lowercased */
	char path[HTTP_PATH_LEN];	/* request: target without query or fragment; never the query */
};

/* Called for every head (HTTP_EV_HEAD) and, for chunked messages whose
 * chunks were followed to the end, once more with body_end and ts_msg_end
 * set (HTTP_EV_END). A 1xx head is followed by the final response's head.
 * h is valid only during the call. */
typedef void (*http_cb)(enum http_event ev, const struct http_head *h, void *ctx);

struct http_stream_stats {
	uint64_t heads;		/* HTTP_EV_HEAD reported (truncated included) */
	uint64_t truncated;	/* heads reported with .truncated */
	uint64_t dropped;	/* cut before even the start line was usable */
	uint64_t lost;		/* sync lost: the bytes of a boundary were not captured */
	uint64_t resyncs;	/* sync found again at a fragment starting a head */
	uint64_t expect_overflow; /* http_stream_expect() calls beyond HTTP_EXPECT_MAX */
};

/* Fields are private to http_parser.c; the struct is public so callers can
 * embed it. */
struct http_stream {
	struct http_stream_stats stats;
	uint64_t pos;		/* stream offset of the next byte the parser needs */
	uint64_t error_off;
	const char *error;	/* why the stream is broken, NULL if not */
	int64_t cl;		/* Content-Length of the head being parsed */
	uint32_t line_len;	/* bytes of the current line, CR included */
	uint32_t head_len;
	uint32_t nlines;	/* lines of the current head completed */
	enum http_kind kind;
	uint8_t state;
	uint16_t hflags;	/* header facts of the head being parsed */
	bool fresh;		/* nothing parsed yet */
	bool seek_counted;	/* the current search for a head follows a loss */
	bool maybe_tunnel;	/* last request asked for CONNECT / Upgrade */
	uint8_t expect[HTTP_EXPECT_MAX];
	uint8_t expect_head, expect_len;
	uint8_t tail[16];	/* the last bytes of the current line */
	struct http_head cur;
	char *line;		/* HTTP_LINE_KEEP bytes, only while a line is split */
};

void http_stream_init(struct http_stream *s, enum http_kind kind);
/* What the stream holds beyond its struct (a split line's buffer). */
void http_stream_free(struct http_stream *s);

/* Feed one I/O: cap captured bytes (its prefix) of a len-byte I/O that
 * starts at stream offset off. Fragments come in stream order; bytes between
 * fragments were not captured. Returns the number of callbacks made, or -1
 * if the stream is broken (now or before). */
int http_stream_feed(struct http_stream *s, const uint8_t *data, uint32_t cap, uint32_t len,
		     uint64_t off, uint64_t ts, http_cb cb, void *ctx);

/* The connection closed: a head still being assembled is reported as
 * truncated. */
void http_stream_close(struct http_stream *s, uint64_t ts, http_cb cb, void *ctx);

/* Responses only: a request with this method was sent on the connection and
 * awaits an answer (FIFO, call it when the request head is seen, before its
 * response is fed), so a response to HEAD is known to have no body and a 2xx
 * to CONNECT to start a tunnel. With nothing expected, a response is framed
 * as an answer to GET. */
void http_stream_expect(struct http_stream *s, const char *method);

bool http_stream_broken(const struct http_stream *s);
/* Why it is broken and at which stream offset; NULL if it is not. */
const char *http_stream_error(const struct http_stream *s, uint64_t *off);
const struct http_stream_stats *http_stream_stats(const struct http_stream *s);

/* Does p start with a known request method followed by a space? (The whole
 * "GET " must be there: a shorter buffer says no.) */
bool http_is_method(const uint8_t *p, size_t n);

/* Route template of a path: segments that are decimal numbers, UUIDs or
 * 16+ hex digits become "{id}"; a query or fragment is dropped, and so are
 * path (matrix) parameters: "/a;jsessionid=X/b;v=1" is "/a/b". Writes a
 * NUL-terminated string, cut to fit len; returns its length. */
size_t http_route_template(const char *path, char *out, size_t len);

/* For other framings of the same request fields (HTTP/2): a request
 * header's value goes into h's fingerprint and request id as an HTTP/1.x
 * head's would; a target becomes h->path (query and fragment dropped). */
void http_request_header(struct http_head *h, const char *name, size_t k, const char *v,
			 size_t vlen);
void http_request_set_path(struct http_head *h, const char *p, size_t n);

#endif
