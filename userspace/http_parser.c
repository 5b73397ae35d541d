// SPDX-License-Identifier: MIT
/* HTTP/1.x heads and message boundaries from captured I/O prefixes; see
 * http_parser.h for the model. Everything is line based: a head, a chunk
 * size, the CRLF after chunk data and the trailers are lines; bodies and
 * chunk data are skipped by moving s->pos, never read. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "http_parser.h"

enum parse_state {
	ST_SEEK = 0,	/* out of sync: wait for a fragment that starts a head */
	ST_IDLE,	/* the next head starts at pos (CR/LF before it skipped) */
	ST_HEAD,	/* inside a head */
	ST_CHUNK_SIZE,	/* chunked body: a chunk-size line at pos */
	ST_CHUNK_CRLF,	/* chunked body: the CRLF after chunk data at pos */
	ST_TRAILER,	/* chunked body: trailer lines up to the blank one */
	ST_CLOSE,	/* body runs to the connection's end */
	ST_TUNNEL,	/* no more HTTP on this connection */
};

/* s->hflags: what the headers of the current head said */
#define HF_CLOSE		(1u << 0)
#define HF_KEEPALIVE		(1u << 1)
#define HF_UPGRADE_TOKEN	(1u << 2)	/* Connection: upgrade */
#define HF_UPGRADE_HEADER	(1u << 3)	/* Upgrade: ... */
#define HF_TE			(1u << 4)
#define HF_TE_CHUNKED_LAST	(1u << 5)
#define HF_TE_CHUNKED_EARLY	(1u << 6)	/* chunked, then another coding */
#define HF_HOST_FROM_TARGET	(1u << 7)
#define HF_HOST_SEEN		(1u << 8)
#define HF_THROTTLE_WORD	(1u << 9)

/* s->expect[] entries: what kind of request a response answers */
enum expect_kind { EXPECT_OTHER = 0, EXPECT_HEAD, EXPECT_CONNECT };

#define CL_DIGITS_MAX	18	/* < 2^63: no overflow */
#define CHUNK_DIGITS_MAX 15	/* < 2^60 */

/* One fed I/O */
struct frag {
	const uint8_t *data;
	uint64_t off, cend, end, ts;	/* start, end of captured bytes, end of the I/O */
	http_cb cb;
	void *ctx;
	int events;
	bool untouched;			/* no byte of it parsed yet: may resync here */
};

static const char *const methods[] = {
	"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
};

/* ---- small character helpers ---- */

/* RFC 9110 tchar: the bytes of methods and header names */
static const bool tchar[256] = {
	['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
	['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true,
	['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true,
	['`'] = true, ['|'] = true, ['~'] = true,
};

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Is the method name m the literal lit?  Asked of every head, and almost
 * always no: the first byte says so without a call. */
static bool is_method(const char *m, const char *lit)
{
	return m[0] == lit[0] && !strcmp(m, lit);
}

static bool is_tchar(char c)
{
	return tchar[(uint8_t)c];
}

/* Four bytes a turn while four are left: one bound test for four. */
static size_t token_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i + 4 <= n && is_tchar(p[i]) && is_tchar(p[i + 1]) && is_tchar(p[i + 2]) &&
	       is_tchar(p[i + 3]))
		i += 4;
	while (i < n && is_tchar(p[i]))
		i++;
	return i;
}

/* a[0..n) equals the lowercase literal lit of length len, ignoring case.
 * Most names differ in length: one integer compare then. */
static bool ci_equal_n(const char *a, size_t n, const char *lit, size_t len)
{
	size_t i;

	if (len != n)
		return false;
	for (i = 0; i < n; i++)
		if (lower(a[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

/* lit must be a string literal ("" lit "" does not compile otherwise). */
#define ci_equal(a, n, lit) ci_equal_n(a, n, "" lit "", sizeof(lit) - 1)

/* Case-insensitive search of a lowercase needle. */
static bool ci_contains(const uint8_t *p, size_t n, const char *needle)
{
	size_t m = strlen(needle), i, j;

	for (i = 0; i + m <= n; i++) {
		for (j = 0; j < m && lower(p[i + j]) == (uint8_t)needle[j]; j++)
			;
		if (j == m)
			return true;
	}
	return false;
}

/* In locals: through p and n, each byte read would reload both (a char
 * may alias anything). */
static void trim_ows(const char **p, size_t *n)
{
	const char *s = *p;
	size_t len = *n;

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*p = s;
	*n = len;
}

/* Next element of a comma-separated list, trimmed; false at the end. */
static bool next_element(const char **p, const char *end, const char **el, size_t *n)
{
	const char *comma;

	if (*p > end)
		return false;
	comma = memchr(*p, ',', end - *p);
	if (!comma)
		comma = end;
	*el = *p;
	*n = comma - *p;
	*p = comma + 1;
	trim_ows(el, n);
	return true;
}

static void copy_str(char *dst, size_t size, const char *src, size_t n, bool to_lower)
{
	if (n >= size)
		n = size - 1;
	if (to_lower) {
		for (size_t i = 0; i < n; i++)
			dst[i] = (char)lower(src[i]);
	} else {
		memcpy(dst, src, n);
	}
	dst[n] = '\0';
}

static bool bad_byte(uint8_t c)
{
	return (c < 0x20 && c != '\t' && c != '\r') || c == 0x7f;
}

/* Might the 8 bytes at p hold a control byte (< 0x20, or 0x7f)?  HTAB
 * and CR flag a word too: its bytes are then looked at one by one. */
static bool word_flagged(const uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t w, del;

	memcpy(&w, p, 8);
	del = w ^ (0x7f * ones);
	return ((w - 0x20 * ones) & ~w & highs) | ((del - ones) & ~del & highs);
}

/* The first bad byte of p[from, to), or to. */
static size_t bad_byte_in(const uint8_t *p, size_t from, size_t to)
{
	for (; from < to; from++)
		if (bad_byte(p[from]))
			break;
	return from;
}

/* Header and framing bytes: no NUL or other control bytes except HTAB and
 * CR (LF ends the line before it gets here). Returns the first bad one's
 * index, or n. Words of 8 bytes with no byte < 0x20 or 0x7f are skipped
 * whole; only a flagged word is looked into.  The line's closing CR is
 * left out (it would flag the last word of every line), and the bytes past
 * the last whole word are checked as the 8 that end the line. */
static size_t first_bad_byte(const uint8_t *p, size_t n)
{
	size_t m = n && p[n - 1] == '\r' ? n - 1 : n, i = 0, j;

	for (; i + 8 <= m; i += 8)
		if (word_flagged(p + i) && (j = bad_byte_in(p, i, i + 8)) < i + 8)
			return j;
	if (i < m && (m < 8 || word_flagged(p + m - 8)) && (j = bad_byte_in(p, i, m)) < m)
		return j;
	return n;
}

#ifdef __SSE2__
/* The control bytes (< 0x20, and DEL) of the 16 at p, one bit each. */
static unsigned control_bits(const uint8_t *p)
{
	const __m128i c = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
	__m128i v = _mm_loadu_si128((const __m128i *)p);

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, c), v),
							_mm_cmpeq_epi8(v, del)));
}

/* The first of the bits that is a LF or a bad byte, as an index from p
 * (16 if none): HTAB and CR are control bytes a line may hold. */
static unsigned first_stop(const uint8_t *p, unsigned bits)
{
	for (; bits; bits &= bits - 1) {
		unsigned k = (unsigned)__builtin_ctz(bits);

		if (p[k] != '\t' && p[k] != '\r')
			return k;
	}
	return 16;
}
#endif

/* Where the line at p ends: the index of the first byte of p[0, n) that
 * is a LF or a bad byte, n if none is (read_line's memchr and
 * first_bad_byte in one pass).  With SSE2 (every x86-64) 16 bytes at a
 * time, the last 16 of p once for the bytes past the last whole 16: a
 * line's bytes that are not control bytes are passed over without a look
 * each.  A third of the parser's work went to those two scans. */
static size_t line_end(const uint8_t *p, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		unsigned k = first_stop(p + i, control_bits(p + i));

		if (k < 16)
			return i + k;
	}
	if (i < n && n >= 16) {
		size_t b = n - 16;
		unsigned k = first_stop(p + b, control_bits(p + b) & (~0u << (i - b)));

		return k < 16 ? b + k : n;
	}
#endif
	for (; i < n; i++)
		if (p[i] == '\n' || bad_byte(p[i]))
			return i;
	return n;
}

/* ---- stream bookkeeping ---- */

/* The split-line buffer goes back once a feed ends with no line pending,
 * so an idle connection holds none (not sooner: the line being parsed may
 * still be read from it). */
static void release_line(struct http_stream *s)
{
	free(s->line);
	s->line = NULL;
}

static void fail(struct http_stream *s, const char *why)
{
	if (!s->error) {
		s->error = why;
		s->error_off = s->pos;
	}
}

static void emit(struct http_stream *s, struct frag *f, enum http_event ev)
{
	if (ev == HTTP_EV_HEAD) {
		s->stats.heads++;
		if (s->cur.truncated)
			s->stats.truncated++;
	}
	f->events++;
	if (f->cb)
		f->cb(ev, &s->cur, f->ctx);
}

static enum expect_kind expect_pop(struct http_stream *s)
{
	uint8_t k;

	if (!s->expect_len)
		return EXPECT_OTHER;
	k = s->expect[s->expect_head];
	s->expect_head = (s->expect_head + 1) % HTTP_EXPECT_MAX;
	s->expect_len--;
	return k;
}

static void seek(struct http_stream *s, bool after_loss)
{
	s->state = ST_SEEK;
	s->seek_counted = after_loss;
}

static void lose_sync(struct http_stream *s)
{
	s->stats.lost++;
	seek(s, true);
}

/* ---- start lines ---- */

static bool parse_version(const char *p, size_t n, uint8_t *minor)
{
	if (n != 8 || memcmp(p, "HTTP/1.", 7) || !is_digit(p[7]))
		return false;
	*minor = p[7] - '0';
	return true;
}

/* The path ends at the query or the fragment, whichever comes first. */
static void set_path(struct http_head *h, const char *p, size_t n)
{
	const char *q = memchr(p, '?', n);
	const char *hash = memchr(p, '#', q ? (size_t)(q - p) : n);
	const char *end = hash ? hash : q;

	copy_str(h->path, sizeof(h->path), p, end ? (size_t)(end - p) : n, false);
}

static size_t scheme_len(const char *t, size_t n)
{
	if (n >= 7 && ci_equal(t, 7, "http://"))
		return 7;
	if (n >= 8 && ci_equal(t, 8, "https://"))
		return 8;
	return 0;
}

/* origin-form, absolute-form (the authority overrides Host, userinfo
 * dropped), asterisk-form, or authority-form for CONNECT. */
static bool set_target(struct http_stream *s, const char *t, size_t n)
{
	struct http_head *h = &s->cur;
	size_t sch = scheme_len(t, n), alen;
	const char *a, *at, *rest;

	if (t[0] == '/') {
		set_path(h, t, n);
		return true;
	}
	if (n == 1 && t[0] == '*') {
		strcpy(h->path, "*");
		return true;
	}
	if (sch) {
		a = t + sch;
		for (alen = 0; sch + alen < n && !strchr("/?#", a[alen]); alen++)
			;
		rest = a + alen;
		at = memrchr(a, '@', alen);
		if (at) {
			alen -= at + 1 - a;
			a = at + 1;
		}
		copy_str(h->host, sizeof(h->host), a, alen, true);
		s->hflags |= HF_HOST_FROM_TARGET;
		if (rest < t + n && *rest == '/')
			set_path(h, rest, t + n - rest);
		else
			strcpy(h->path, "/");
		return true;
	}
	if (is_method(h->method, "CONNECT")) {
		copy_str(h->host, sizeof(h->host), t, n, true);
		s->hflags |= HF_HOST_FROM_TARGET;
		return true;
	}
	return false;
}

/* METHOD SP target SP HTTP/1.x. l holds the first plen bytes of an n-byte
 * line; the line's last bytes are in s->tail (tail_end marks the end of
 * them, CR excluded). A cut line (whole = false: truncated capture) needs
 * only the method and the start of the target. */
static bool parse_request_line(struct http_stream *s, const char *l, size_t plen, size_t n,
			       bool whole, size_t tail_end)
{
	struct http_head *h = &s->cur;
	size_t m = token_len(l, plen), avail, tlen;
	const char *t, *sp;

	if (m == 0 || m >= sizeof(h->method) || m >= plen || l[m] != ' ')
		return false;
	copy_str(h->method, sizeof(h->method), l, m, false);
	t = l + m + 1;
	avail = plen - m - 1;
	if (whole && n == plen) {
		sp = memrchr(t, ' ', avail);
		if (!sp || !parse_version(sp + 1, l + n - sp - 1, &h->version_minor))
			return false;
		tlen = sp - t;
	} else if (whole) {
		/* longer than kept: the version is in the tail */
		if (s->tail[tail_end - 9] != ' ' ||
		    !parse_version((const char *)s->tail + tail_end - 8, 8, &h->version_minor))
			return false;
		tlen = avail;
	} else {
		sp = memchr(t, ' ', avail);
		tlen = sp ? (size_t)(sp - t) : avail;
		if (sp && l + plen - sp - 1 >= 8)
			parse_version(sp + 1, 8, &h->version_minor);
	}
	if (tlen == 0 || memchr(t, ' ', tlen))
		return false;
	return set_target(s, t, tlen);
}

/* HTTP/1.x SP 3DIGIT [SP reason] */
static bool parse_status_line(struct http_stream *s, const char *l, size_t plen)
{
	struct http_head *h = &s->cur;

	if (plen < 12 || !parse_version(l, 8, &h->version_minor) || l[8] != ' ' ||
	    !is_digit(l[9]) || l[9] == '0' || !is_digit(l[10]) || !is_digit(l[11]) ||
	    (plen > 12 && l[12] != ' '))
		return false;
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	h->interim = h->status < 200 && h->status != 101;
	return true;
}

/* Can the start line seen so far still become a valid one? Lets garbage
 * break the stream without waiting for a line end that may never come. */
static bool start_prefix_ok(enum http_kind kind, const char *l, size_t plen)
{
	size_t m;

	if (kind == HTTP_REQUEST) {
		m = token_len(l, plen);
		if (m >= HTTP_METHOD_LEN)
			return false;
		return m == plen || (m > 0 && l[m] == ' ');
	}
	m = plen < 7 ? plen : 7;
	if (memcmp(l, "HTTP/1.", m))
		return false;
	return (plen < 8 || is_digit(l[7])) && (plen < 9 || l[8] == ' ');
}

/* ---- header lines ---- */

static bool parse_content_length(struct http_stream *s, const char *v, size_t n)
{
	const char *p = v, *end = v + n, *el;
	size_t len, i;
	int64_t val;

	while (next_element(&p, end, &el, &len)) {
		if (len == 0 || len > CL_DIGITS_MAX)
			return false;
		for (val = 0, i = 0; i < len; i++) {
			if (!is_digit(el[i]))
				return false;
			val = val * 10 + (el[i] - '0');
		}
		if (s->cl >= 0 && s->cl != val)
			return false;
		s->cl = val;
	}
	return true;
}

static void parse_transfer_encoding(struct http_stream *s, const char *v, size_t n)
{
	const char *p = v, *end = v + n, *el, *semi;
	size_t len;

	while (next_element(&p, end, &el, &len)) {
		semi = memchr(el, ';', len);
		if (semi)
			len = semi - el;
		trim_ows(&el, &len);
		if (!len)
			continue;
		s->hflags |= HF_TE;
		if (s->hflags & HF_TE_CHUNKED_LAST)
			s->hflags |= HF_TE_CHUNKED_EARLY;
		if (ci_equal(el, len, "chunked"))
			s->hflags |= HF_TE_CHUNKED_LAST;
		else
			s->hflags &= ~HF_TE_CHUNKED_LAST;
	}
}

static void parse_connection(struct http_stream *s, const char *v, size_t n)
{
	const char *p = v, *end = v + n, *el;
	size_t len;

	while (next_element(&p, end, &el, &len)) {
		if (ci_equal(el, len, "close"))
			s->hflags |= HF_CLOSE;
		else if (ci_equal(el, len, "keep-alive"))
			s->hflags |= HF_KEEPALIVE;
		else if (ci_equal(el, len, "upgrade"))
			s->hflags |= HF_UPGRADE_TOKEN;
	}
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h ? h : 1;	/* 0 means "none" */
}

/* ---- header names the parser acts on ----
 * A header line's name is looked up once, among the few known names of its
 * length, rather than compared with each of ~20 names in turn. */

enum known_header {
	KH_OTHER = 0,
	/* framing and routing */
	KH_HOST, KH_CONTENT_LENGTH, KH_TRANSFER_ENCODING, KH_CONNECTION, KH_UPGRADE,
	KH_RETRY_AFTER,
	/* copied headers (fingerprint) other than Content-Length */
	KH_USER_AGENT, KH_ACCEPT, KH_ACCEPT_LANGUAGE, KH_CONTENT_TYPE, KH_COOKIE,
	KH_AUTHORIZATION, KH_REFERER,
	/* propagated request ids */
	KH_X_REQUEST_ID, KH_X_CORRELATION_ID, KH_X_B3_TRACEID, KH_TRACEPARENT, KH_B3,
	KH_X_AMZN_TRACE_ID,
	KH__MAX
};

#define KNOWN(id, lit, fp) [id] = { lit, sizeof(lit) - 1, fp }

static const struct {
	const char *name;	/* lowercase letters, digits and '-' (known_name_is()) */
	size_t len;
	enum http_fp_header fp;	/* copied upstream: hashed into the fingerprint; 0 if not */
} known[KH__MAX] = {
	KNOWN(KH_HOST, "host", 0),
	KNOWN(KH_CONTENT_LENGTH, "content-length", HTTP_FP_CONTENT_LENGTH),
	KNOWN(KH_TRANSFER_ENCODING, "transfer-encoding", 0),
	KNOWN(KH_CONNECTION, "connection", 0),
	KNOWN(KH_UPGRADE, "upgrade", 0),
	KNOWN(KH_RETRY_AFTER, "retry-after", 0),
	KNOWN(KH_USER_AGENT, "user-agent", HTTP_FP_USER_AGENT),
	KNOWN(KH_ACCEPT, "accept", HTTP_FP_ACCEPT),
	KNOWN(KH_ACCEPT_LANGUAGE, "accept-language", HTTP_FP_ACCEPT_LANGUAGE),
	KNOWN(KH_CONTENT_TYPE, "content-type", HTTP_FP_CONTENT_TYPE),
	KNOWN(KH_COOKIE, "cookie", HTTP_FP_COOKIE),
	KNOWN(KH_AUTHORIZATION, "authorization", HTTP_FP_AUTHORIZATION),
	KNOWN(KH_REFERER, "referer", HTTP_FP_REFERER),
	KNOWN(KH_X_REQUEST_ID, "x-request-id", 0),
	KNOWN(KH_X_CORRELATION_ID, "x-correlation-id", 0),
	KNOWN(KH_X_B3_TRACEID, "x-b3-traceid", 0),
	KNOWN(KH_TRACEPARENT, "traceparent", 0),
	KNOWN(KH_B3, "b3", 0),
	KNOWN(KH_X_AMZN_TRACE_ID, "x-amzn-trace-id", 0),
};

/* The known names by length (each list ends at KH_OTHER); a name in the
 * wrong list is never matched: test_known_header_names catches that. */
#define KNOWN_LEN_MAX 17
static const uint8_t known_by_len[KNOWN_LEN_MAX + 1][4] = {
	[2] = { KH_B3 },
	[4] = { KH_HOST },
	[6] = { KH_ACCEPT, KH_COOKIE },
	[7] = { KH_UPGRADE, KH_REFERER },
	[10] = { KH_CONNECTION, KH_USER_AGENT },
	[11] = { KH_RETRY_AFTER, KH_TRACEPARENT },
	[12] = { KH_CONTENT_TYPE, KH_X_REQUEST_ID, KH_X_B3_TRACEID },
	[13] = { KH_AUTHORIZATION },
	[14] = { KH_CONTENT_LENGTH },
	[15] = { KH_ACCEPT_LANGUAGE, KH_X_AMZN_TRACE_ID },
	[16] = { KH_X_CORRELATION_ID },
	[17] = { KH_TRANSFER_ENCODING },
};

/* Do n (4 or 8) bytes of a name differ from a known name's, case aside? */
static bool case_bits_differ(const char *a, const char *lit, size_t n)
{
	uint64_t x = 0, y = 0;

	memcpy(&x, a, n);
	memcpy(&y, lit, n);
	return (x | 0x2020202020202020ull) != (y | 0x2020202020202020ull);
}

/* Is the name (tchars only) the known name lit of the same length n,
 * ignoring case?  lit holds lowercase letters, digits and '-', which all
 * have the 0x20 bit set, and no tchar other than their uppercase differs
 * from one of them in that bit alone: OR-ing it in is lowercasing here.
 * Compared a word at a time (the last word overlaps the one before). */
static bool known_name_is(const char *a, size_t n, const char *lit)
{
	size_t i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8)
			if (case_bits_differ(a + i, lit + i, 8))
				return false;
		return !case_bits_differ(a + n - 8, lit + n - 8, 8);
	}
	if (n >= 4)
		return !case_bits_differ(a, lit, 4) && !case_bits_differ(a + n - 4, lit + n - 4, 4);
	for (i = 0; i < n; i++)
		if (((uint8_t)a[i] | 0x20) != (uint8_t)lit[i])
			return false;
	return true;
}

/* The known header a name of k tchars is, if any. */
static enum known_header known_header(const char *name, size_t k)
{
	if (k > KNOWN_LEN_MAX)
		return KH_OTHER;
	for (const uint8_t *id = known_by_len[k]; *id; id++)
		if (known_name_is(name, k, known[*id].name))
			return *id;
	return KH_OTHER;
}

/* A copied header's value goes into the fingerprint, hashed. */
static void fingerprint_header(struct http_head *h, enum known_header id, const char *v,
			       size_t vlen)
{
	if (!known[id].fp || h->fp.n >= HTTP_FP_MAX)
		return;
	h->fp.name[h->fp.n] = known[id].fp;
	h->fp.hash[h->fp.n++] = (uint32_t)fnv1a(v, vlen);
}

/* The part of a propagated id header that every hop keeps: the trace id
 * of traceparent ("00-<trace id>-<span id>-<flags>") and b3
 * ("<trace id>-<span id>-..."), the Root of X-Amzn-Trace-Id, the whole
 * value of X-Request-ID, X-Correlation-ID and X-B3-TraceId. */
static void request_id_header(struct http_head *h, enum known_header id, const char *v,
			      size_t vlen)
{
	const char *end;

	switch (id) {
	case KH_X_REQUEST_ID:
	case KH_X_CORRELATION_ID:
	case KH_X_B3_TRACEID:
		h->req_id = fnv1a(v, vlen);
		break;
	case KH_TRACEPARENT:
		if (vlen >= 35 && v[2] == '-')
			h->req_id = fnv1a(v + 3, 32);
		break;
	case KH_B3:
		if (!h->req_id) {
			end = memchr(v, '-', vlen);
			h->req_id = fnv1a(v, end ? (size_t)(end - v) : vlen);
		}
		break;
	case KH_X_AMZN_TRACE_ID: {
		const char *root = vlen > 5 && !strncasecmp(v, "Root=", 5) ? v + 5 : v;
		size_t rlen = vlen - (size_t)(root - v);

		end = memchr(root, ';', rlen);
		h->req_id = fnv1a(root, end ? (size_t)(end - root) : rlen);
		break;
	}
	default:
		break;
	}
}

/* Retry-After as delay-seconds (RFC 9110 10.2.3); -1 for an HTTP-date (no
 * clock to compare it with) or anything else.  Capped at a day. */
static int32_t retry_after_seconds(const char *v, size_t n)
{
	int32_t s = 0;

	if (!n || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		s = s * 10 + (v[i] - '0');
	}
	return s < 86400 ? s : 86400;
}

void http_request_header(struct http_head *h, const char *name, size_t k, const char *v,
			 size_t vlen)
{
	/* Known names are all tchars: a name with another byte is none. */
	enum known_header id = token_len(name, k) == k ? known_header(name, k) : KH_OTHER;

	fingerprint_header(h, id, v, vlen);
	request_id_header(h, id, v, vlen);
}

void http_request_set_path(struct http_head *h, const char *p, size_t n)
{
	set_path(h, p, n);
}

/* name: OWS value OWS. cut: the line was longer than the bytes kept. */
static void parse_header(struct http_stream *s, const char *l, size_t plen, bool cut)
{
	struct http_head *h = &s->cur;
	enum known_header id;
	size_t k, vlen;
	const char *v;

	if (l[0] == ' ' || l[0] == '\t')
		return;		/* obsolete line folding: a value continues; none we need */
	k = token_len(l, plen);
	if (k == 0 || k >= plen || l[k] != ':') {
		fail(s, "malformed header line");
		return;
	}
	if (s->kind == HTTP_RESPONSE && h->status >= 400 &&
	    ci_contains((const uint8_t *)l, plen, "throttl"))
		s->hflags |= HF_THROTTLE_WORD;
	id = known_header(l, k);
	if (id == KH_OTHER)
		return;		/* a header the parser does not act on: its value is not read */
	v = l + k + 1;
	vlen = plen - k - 1;
	trim_ows(&v, &vlen);
	if (s->kind == HTTP_REQUEST && !cut) {
		fingerprint_header(h, id, v, vlen);
		request_id_header(h, id, v, vlen);
	}
	switch (id) {
	case KH_HOST:
		if (!(s->hflags & (HF_HOST_FROM_TARGET | HF_HOST_SEEN)))
			copy_str(h->host, sizeof(h->host), v, vlen, true);
		s->hflags |= HF_HOST_SEEN;
		break;
	case KH_CONTENT_LENGTH:
		if (cut || !parse_content_length(s, v, vlen))
			fail(s, "bad Content-Length");
		break;
	case KH_TRANSFER_ENCODING:
		if (cut)
			fail(s, "Transfer-Encoding line too long");
		else
			parse_transfer_encoding(s, v, vlen);
		break;
	case KH_CONNECTION:
		parse_connection(s, v, vlen);
		break;
	case KH_UPGRADE:
		s->hflags |= HF_UPGRADE_HEADER;
		break;
	case KH_RETRY_AFTER:
		h->retry_after = true;
		h->retry_after_s = cut ? -1 : retry_after_seconds(v, vlen);
		break;
	default:
		break;
	}
}

/* ---- end of a head: framing of what follows ---- */

static void fill_common(struct http_stream *s)
{
	struct http_head *h = &s->cur;

	h->content_length = s->cl;
	h->chunked = (s->hflags & HF_TE) && (s->hflags & HF_TE_CHUNKED_LAST);
	h->conn_close = (s->hflags & HF_CLOSE) ||
			(h->version_minor == 0 && !(s->hflags & HF_KEEPALIVE));
}

static enum http_body request_body(struct http_stream *s)
{
	if (s->hflags & HF_TE) {
		/* RFC 9112 6.3: a request whose last coding is not chunked is
		 * unframed: a server answers 400 and closes */
		if (!s->cur.chunked || (s->hflags & HF_TE_CHUNKED_EARLY)) {
			fail(s, "request Transfer-Encoding does not end in chunked");
			return HTTP_BODY_UNKNOWN;
		}
		return HTTP_BODY_CHUNKED;
	}
	return s->cl > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
}

static enum http_body response_body(struct http_stream *s)
{
	uint16_t st = s->cur.status;
	enum expect_kind req;

	if (st == 101) {
		expect_pop(s);
		return HTTP_BODY_TUNNEL;
	}
	if (st < 200)
		return HTTP_BODY_NONE;
	req = expect_pop(s);
	if (req == EXPECT_HEAD || st == 204 || st == 304)
		return HTTP_BODY_NONE;
	if (req == EXPECT_CONNECT && st < 300)
		return HTTP_BODY_TUNNEL;
	if (s->hflags & HF_TE)
		return s->cur.chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_CLOSE;
	if (s->cl >= 0)
		return s->cl > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	return HTTP_BODY_CLOSE;
}

/* 4xx/5xx that name throttling in a header or in the visible body bytes
 * (e.g. "Throttling", "PriorRequestNotComplete" in a 400). */
static bool throttling_hint(struct http_stream *s, const struct frag *f)
{
	static const char *const words[] = {
		"throttl", "priorrequestnotcomplete", "too many requests", "rate exceeded",
	};
	const uint8_t *p;
	uint64_t n;
	size_t i;

	if (s->cur.status < 400)
		return false;
	if (s->hflags & HF_THROTTLE_WORD)
		return true;
	if (!f || s->pos >= f->cend)
		return false;
	p = f->data + (s->pos - f->off);
	n = f->cend - s->pos;
	if (s->cur.body_end != HTTP_UNKNOWN && s->cur.body_end - s->pos < n)
		n = s->cur.body_end - s->pos;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (ci_contains(p, n, words[i]))
			return true;
	return false;
}

static void finish_head(struct http_stream *s, struct frag *f)
{
	struct http_head *h = &s->cur;

	h->head_end = s->pos;
	h->ts_end = f->ts;
	fill_common(s);
	h->body = s->kind == HTTP_REQUEST ? request_body(s) : response_body(s);
	if (s->error)
		return;
	if (s->kind == HTTP_REQUEST)
		s->maybe_tunnel = is_method(h->method, "CONNECT") ||
				  ((s->hflags & HF_UPGRADE_TOKEN) && (s->hflags & HF_UPGRADE_HEADER));
	if (h->body == HTTP_BODY_NONE) {
		h->body_end = h->head_end;
	} else if (h->body == HTTP_BODY_LENGTH) {
		if ((uint64_t)s->cl > UINT64_MAX - h->head_end - 1) {
			fail(s, "Content-Length past the stream's end");
			return;
		}
		h->body_end = h->head_end + s->cl;
	}
	h->throttling_hint = throttling_hint(s, f);
	emit(s, f, HTTP_EV_HEAD);

	switch (h->body) {
	case HTTP_BODY_CHUNKED:
		s->state = ST_CHUNK_SIZE;
		break;
	case HTTP_BODY_CLOSE:
		s->state = ST_CLOSE;
		break;
	case HTTP_BODY_TUNNEL:
		s->state = ST_TUNNEL;
		break;
	default:
		s->state = ST_IDLE;
		s->pos = h->body_end;
	}
}

/* The rest of the head was not captured: report what was seen if the start
 * line is usable, then wait for a fragment that starts a head. */
static void truncate_head(struct http_stream *s, struct frag *f)
{
	struct http_head *h = &s->cur;
	size_t plen = s->line_len < HTTP_LINE_KEEP ? s->line_len : HTTP_LINE_KEEP;
	const char *l = plen ? s->line : "";	/* no buffer while nothing is pending */
	bool ok = true;

	if (s->nlines == 0) {
		if (plen && l[plen - 1] == '\r')
			plen--;
		ok = s->kind == HTTP_REQUEST ?
			parse_request_line(s, l, plen, plen, false, 0) :
			parse_status_line(s, l, plen < 12 ? plen : 12);
	}
	seek(s, false);
	if (!ok) {
		s->stats.dropped++;
		return;
	}
	h->truncated = true;
	h->ts_end = f->ts;
	fill_common(s);
	if (s->kind == HTTP_RESPONSE && (h->status >= 200 || h->status == 101))
		expect_pop(s);
	if (s->kind == HTTP_RESPONSE && h->status == 101)
		s->state = ST_TUNNEL;
	h->throttling_hint = h->status >= 400 && (s->hflags & HF_THROTTLE_WORD);
	emit(s, f, HTTP_EV_HEAD);
}

/* ---- chunked bodies ---- */

/* 1*HEXDIG [BWS ; extensions] */
static void chunk_size_line(struct http_stream *s, const char *l, size_t plen)
{
	uint64_t size = 0;
	size_t i;
	int v;

	for (i = 0; i < plen && (v = hex_value(l[i])) >= 0; i++) {
		if (i == CHUNK_DIGITS_MAX) {
			fail(s, "chunk size too large");
			return;
		}
		size = size * 16 + v;
	}
	while (i > 0 && i < plen && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i == 0 || (i < plen && l[i] != ';')) {
		fail(s, "bad chunk size");
		return;
	}
	if (size == 0) {
		s->state = ST_TRAILER;
		return;
	}
	if (size > UINT64_MAX - s->pos - 1) {
		fail(s, "chunk past the stream's end");
		return;
	}
	s->pos += size;		/* chunk data: skipped, never read */
	s->state = ST_CHUNK_CRLF;
}

static void end_message(struct http_stream *s, struct frag *f)
{
	s->cur.body_end = s->pos;
	s->cur.ts_msg_end = f->ts;
	s->state = ST_IDLE;
	emit(s, f, HTTP_EV_END);
}

/* ---- the byte-level driver ---- */

static void begin_head(struct http_stream *s, struct frag *f)
{
	struct http_head *h = &s->cur;

	/* the scalars; the strings only need emptying (480 bytes per head) */
	memset(h, 0, offsetof(struct http_head, method));
	h->method[0] = h->host[0] = h->path[0] = '\0';
	h->kind = s->kind;
	h->stream_off = s->pos;
	h->head_end = h->body_end = HTTP_UNKNOWN;
	h->ts_start = f->ts;
	h->content_length = -1;
	h->retry_after_s = -1;
	h->version_minor = 1;
	s->cl = -1;
	s->hflags = 0;
	s->nlines = 0;
	s->head_len = 0;
	s->line_len = 0;
	s->state = ST_HEAD;
}

static void line_append(struct http_stream *s, const uint8_t *p, size_t n)
{
	const size_t tl = sizeof(s->tail);

	if (!s->line && !(s->line = malloc(HTTP_LINE_KEEP))) {
		fail(s, "out of memory for a split line");
		return;
	}
	if (s->line_len < HTTP_LINE_KEEP)
		memcpy(s->line + s->line_len, p,
		       n < HTTP_LINE_KEEP - s->line_len ? n : HTTP_LINE_KEEP - s->line_len);
	if (n >= tl) {
		memcpy(s->tail, p + n - tl, tl);
	} else if (n) {
		memmove(s->tail, s->tail + n, tl - n);
		memcpy(s->tail + tl - n, p, n);
	}
	s->line_len += n;
}

/* Bytes that cannot be HTTP: after a request that asked to switch protocols
 * (CONNECT, Upgrade) where the next head should start, they are the new
 * protocol; anywhere else they break the stream. */
static void not_http(struct http_stream *s, const char *why)
{
	if (s->kind == HTTP_REQUEST && s->maybe_tunnel && s->state == ST_HEAD &&
	    s->nlines == 0)
		s->state = ST_TUNNEL;
	else
		fail(s, why);
}

/* A line being handed to its parser: the first plen bytes of an n-byte line
 * (CR and LF excluded); when n > plen the last bytes are in s->tail. */
struct line {
	const char *p;
	size_t plen, n, tail_end;
};

/* Consume captured bytes at pos up to and including a LF. Returns true when
 * a whole line is ready in *ln, assembled in s->line / s->tail: a line that
 * lies whole in the fragment and is good is taken in place before this
 * (line_in_place). Errors are those of the earliest offending byte, so
 * they do not depend on how the bytes were split. */
static bool read_line(struct http_stream *s, struct frag *f, struct line *ln)
{
	const uint8_t *p = f->data + (s->pos - f->off);
	size_t n = f->cend - s->pos, seg, take, room, total;
	const uint8_t *lf = memchr(p, '\n', n);
	const char *why = NULL;

	seg = lf ? (size_t)(lf - p) : n;
	take = first_bad_byte(p, seg);
	if (take < seg)
		why = p[take] ? "control byte" : "NUL byte";
	room = HTTP_LINE_MAX - s->line_len;
	if (take > room) {
		take = room;
		why = "line too long";
	}
	room = s->state != ST_HEAD ? SIZE_MAX :
	       s->head_len + 1 < HTTP_HEAD_MAX ? HTTP_HEAD_MAX - 1 - s->head_len : 0;
	if (take > room) {
		take = room;
		why = "head too long";
	}
	line_append(s, p, take);
	if (s->error)
		return false;
	total = s->line_len;
	s->pos += take;
	if (s->state == ST_HEAD) {
		s->head_len += take;
		if (s->nlines == 0 &&
		    !start_prefix_ok(s->kind, s->line,
				     total < HTTP_LINE_KEEP ? total : HTTP_LINE_KEEP))
			why = s->kind == HTTP_REQUEST ? "not an HTTP/1.x request" :
							"not an HTTP/1.x response";
	}
	if (why) {
		not_http(s, why);
		return false;
	}
	if (!lf)
		return false;
	s->pos++;
	s->head_len += s->state == ST_HEAD;
	s->line_len = 0;

	ln->p = s->line;
	ln->n = total;
	ln->tail_end = sizeof(s->tail);
	if (total && (total <= HTTP_LINE_KEEP ? ln->p[total - 1] : s->tail[ln->tail_end - 1]) == '\r') {
		ln->n--;
		ln->tail_end--;
	}
	ln->plen = ln->n < HTTP_LINE_KEEP ? ln->n : HTTP_LINE_KEEP;
	return true;
}

/* read_line's common case, taken first: a line lying whole in the
 * fragment, none of it read before, no bad byte, short enough to parse in
 * place (and within the head's limit; on a start line, a start read_line
 * accepts).  Any other line changes nothing here and returns false:
 * read_line takes it, with its errors.  Most heads arrive whole, so this
 * is every line of most heads, without read_line's bookkeeping for lines
 * that are split or refused. */
static bool line_in_place(struct http_stream *s, const struct frag *f, struct line *ln)
{
	const uint8_t *p = f->data + (s->pos - f->off);
	size_t n = f->cend - s->pos, seg;
	bool head = s->state == ST_HEAD;

	if (s->line_len)
		return false;
	seg = line_end(p, n);
	if (seg == n || p[seg] != '\n' || seg > HTTP_LINE_KEEP ||
	    (head && s->head_len + seg + 1 > HTTP_HEAD_MAX) ||
	    (head && s->nlines == 0 && !start_prefix_ok(s->kind, (const char *)p, seg)))
		return false;
	s->pos += seg + 1;
	if (head)
		s->head_len += seg + 1;
	ln->p = (const char *)p;
	ln->n = seg && p[seg - 1] == '\r' ? seg - 1 : seg;
	ln->tail_end = sizeof(s->tail) - (seg - ln->n);
	ln->plen = ln->n;
	return true;
}

static void line_done(struct http_stream *s, struct frag *f, const struct line *ln)
{
	const char *l = ln->p;
	size_t n = ln->n, plen = ln->plen;

	switch (s->state) {
	case ST_HEAD:
		if (s->nlines == 0) {
			bool ok = s->kind == HTTP_REQUEST ?
				parse_request_line(s, l, plen, n, true, ln->tail_end) :
				parse_status_line(s, l, plen);
			if (!ok)
				not_http(s, s->kind == HTTP_REQUEST ? "bad request line" :
								      "bad status line");
		} else if (n == 0) {
			finish_head(s, f);
		} else {
			parse_header(s, l, plen, n > plen);
		}
		s->nlines++;
		break;
	case ST_CHUNK_SIZE:
		chunk_size_line(s, l, plen);
		break;
	case ST_CHUNK_CRLF:
		if (n)
			fail(s, "chunk data longer than its size");
		s->state = ST_CHUNK_SIZE;
		break;
	case ST_TRAILER:
		if (n == 0)
			end_message(s, f);
		break;
	}
}

static void idle_step(struct http_stream *s, struct frag *f)
{
	const uint8_t *p = f->data + (s->pos - f->off);
	const uint8_t *end = f->data + (f->cend - f->off);

	/* RFC 9112 2.2: empty lines before a request line are ignored */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	s->pos = f->off + (p - f->data);
	if (p < end)
		begin_head(s, f);
}

static bool starts_head(const struct http_stream *s, const struct frag *f)
{
	uint64_t cap = f->cend - f->off;

	if (s->kind == HTTP_REQUEST)
		return http_is_method(f->data, cap);
	return cap >= 7 && !memcmp(f->data, "HTTP/1.", 7);
}

/* Out of sync: take this fragment if a head starts at its first byte (or,
 * on a fresh stream, if it is the stream's first byte: garbage there
 * breaks the stream). */
static bool resync(struct http_stream *s, struct frag *f)
{
	if (!f->untouched || !((s->fresh && f->off == 0) || starts_head(s, f)))
		return false;
	if (s->seek_counted)
		s->stats.resyncs++;
	s->fresh = false;
	s->pos = f->off;
	s->state = ST_IDLE;
	return true;
}

/* The byte at pos was not captured (or the fragment starts past it). */
static void missing_bytes(struct http_stream *s, struct frag *f)
{
	if (s->state == ST_HEAD)
		truncate_head(s, f);
	else
		lose_sync(s);
}

int http_stream_feed(struct http_stream *s, const uint8_t *data, uint32_t cap, uint32_t len,
		     uint64_t off, uint64_t ts, http_cb cb, void *ctx)
{
	struct frag f = { .data = data, .off = off, .ts = ts, .cb = cb, .ctx = ctx,
			  .untouched = true };
	struct line ln;

	if (s->error)
		return -1;
	if (cap > len)
		cap = len;
	if (!data)
		cap = 0;
	if (off > UINT64_MAX - len) {
		s->pos = off;
		fail(s, "stream offset out of range");
		return -1;
	}
	f.cend = off + cap;
	f.end = off + len;

	while (!s->error) {
		if (s->state == ST_CLOSE || s->state == ST_TUNNEL)
			break;
		if (s->state == ST_SEEK) {
			if (!resync(s, &f))
				break;
			continue;
		}
		if (s->pos >= f.end)
			break;
		if (s->pos < f.off) {
			missing_bytes(s, &f);	/* then perhaps resync on f */
			continue;
		}
		f.untouched = false;
		if (s->pos >= f.cend) {
			missing_bytes(s, &f);
			break;
		}
		if (s->state == ST_IDLE)
			idle_step(s, &f);
		else if (line_in_place(s, &f, &ln) || read_line(s, &f, &ln))
			line_done(s, &f, &ln);
	}
	if (!s->line_len || s->error)	/* broken is sticky: no line is parsed again */
		release_line(s);
	return s->error ? -1 : f.events;
}

void http_stream_close(struct http_stream *s, uint64_t ts, http_cb cb, void *ctx)
{
	struct frag f = { .ts = ts, .cb = cb, .ctx = ctx };

	if (!s->error && s->state == ST_HEAD)
		truncate_head(s, &f);
	release_line(s);
}

void http_stream_free(struct http_stream *s)
{
	release_line(s);
}

void http_stream_init(struct http_stream *s, enum http_kind kind)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->state = ST_SEEK;
	s->fresh = true;
	s->cl = -1;
}

void http_stream_expect(struct http_stream *s, const char *method)
{
	uint8_t k = EXPECT_OTHER;

	if (s->expect_len == HTTP_EXPECT_MAX) {
		s->stats.expect_overflow++;
		return;
	}
	if (is_method(method, "HEAD"))
		k = EXPECT_HEAD;
	else if (is_method(method, "CONNECT"))
		k = EXPECT_CONNECT;
	s->expect[(s->expect_head + s->expect_len) % HTTP_EXPECT_MAX] = k;
	s->expect_len++;
}

bool http_stream_broken(const struct http_stream *s)
{
	return s->error != NULL;
}

const char *http_stream_error(const struct http_stream *s, uint64_t *off)
{
	if (off)
		*off = s->error_off;
	return s->error;
}

const struct http_stream_stats *http_stream_stats(const struct http_stream *s)
{
	return &s->stats;
}

bool http_is_method(const uint8_t *p, size_t n)
{
	size_t i, m;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		m = strlen(methods[i]);
		if (n > m && p[m] == ' ' && !memcmp(p, methods[i], m))
			return true;
	}
	return false;
}

/* ---- route templates ---- */

static bool all_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (hex_value(p[i]) < 0)
			return false;
	return true;
}

static bool is_uuid(const char *p, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? p[i] != '-' : hex_value(p[i]) < 0)
			return false;
	}
	return true;
}

static bool is_id_segment(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n && is_digit(p[i]); i++)
		;
	return i == n || is_uuid(p, n) || (n >= 16 && all_hex(p, n));
}

static size_t put_bytes(char *out, size_t len, size_t o, const char *p, size_t n)
{
	if (o + 1 >= len)
		return o;
	if (n > len - 1 - o)
		n = len - 1 - o;
	memcpy(out + o, p, n);
	return o + n;
}

size_t http_route_template(const char *path, char *out, size_t len)
{
	const char *p = path;
	size_t o = 0, seg;

	if (!len)
		return 0;
	while (*p && *p != '?' && *p != '#') {
		seg = strcspn(p, "/?#;");
		if (*p == '/') {
			o = put_bytes(out, len, o, p, 1);
			p++;
			continue;
		}
		if (seg == 0) {		/* ";jsessionid=...": a path parameter */
			p += strcspn(p, "/?#");
			continue;
		}
		if (is_id_segment(p, seg))
			o = put_bytes(out, len, o, "{id}", 4);
		else
			o = put_bytes(out, len, o, p, seg);
		p += seg;
	}
	out[o] = '\0';
	return o;
}
