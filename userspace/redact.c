// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "http_parser.h"
#include "redact.h"

#define MASK		'*'
#define NAME_MAX_KEPT	48		/* longer header names are not credentials */
#define SLOTS		4096		/* connections x directions remembered */

enum scan_state {
	S_LINE_START = 1,
	S_NAME,			/* header name, or a request method */
	S_SECRET,		/* credential header value: masked */
	S_SKIP,			/* rest of a line that holds nothing secret */
	S_TARGET,		/* request target path */
	S_QUERY_KEY, S_QUERY_VALUE,	/* after '?' */
	S_MATRIX_KEY, S_MATRIX_VALUE,	/* after ';' in a path segment */
};

struct scanner {
	uint8_t state;
	bool prev_secret;	/* last header was a credential: masks folded lines */
	uint8_t name_len;
	char name[NAME_MAX_KEPT];
};

/* Scanner state of one connection and direction, valid for the buffer that
 * starts at next_off. */
struct slot {
	uint64_t sk;
	uint64_t next_off;
	uint8_t dir;
	bool used;
	struct scanner sc;
};

struct redactor {
	struct slot slots[SLOTS];
};

static const char *const secret_words[] = {
	"auth", "cookie", "token", "secret", "passw", "api-key", "apikey", "api_key",
	"session", "signature", "credential",
};

bool redact_secret_header(const char *name, size_t n)
{
	char low[NAME_MAX_KEPT + 1];

	if (n > NAME_MAX_KEPT)
		return false;
	for (size_t i = 0; i < n; i++)
		low[i] = tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
		if (strstr(low, secret_words[i]))
			return true;
	return false;
}

/* A request line starts with an upper-case method token and a space. */
static bool name_is_method(const struct scanner *sc)
{
	if (!sc->name_len || sc->name_len > NAME_MAX_KEPT)
		return false;
	for (size_t i = 0; i < sc->name_len; i++)
		if (sc->name[i] < 'A' || sc->name[i] > 'Z')
			return false;
	return true;
}

static void name_add(struct scanner *sc, uint8_t c)
{
	if (sc->name_len < NAME_MAX_KEPT)
		sc->name[sc->name_len] = c;
	if (sc->name_len <= NAME_MAX_KEPT)
		sc->name_len++;		/* NAME_MAX_KEPT + 1: too long to matter */
}

static void on_name(struct scanner *sc, uint8_t c)
{
	if (c == ':') {
		sc->prev_secret = redact_secret_header(sc->name, sc->name_len);
		sc->state = sc->prev_secret ? S_SECRET : S_SKIP;
	} else if (c == ' ') {
		sc->state = name_is_method(sc) ? S_TARGET : S_SKIP;
	} else {
		name_add(sc, c);
	}
}

static void on_line_start(struct scanner *sc, uint8_t *p)
{
	if (*p == '\r')
		return;
	if (*p == ' ' || *p == '\t') {		/* obsolete line folding */
		sc->state = sc->prev_secret ? S_SECRET : S_SKIP;
		return;
	}
	sc->prev_secret = false;
	sc->name_len = 0;
	sc->state = S_NAME;
	on_name(sc, *p);
}

/* Query "?k=v&k=v" and matrix ";k=v" parameters: keys stay, values go. */
static void on_target(struct scanner *sc, uint8_t *p)
{
	uint8_t c = *p;

	if (c == ' ') {
		sc->state = S_SKIP;		/* " HTTP/1.1" */
		return;
	}
	switch (sc->state) {
	case S_TARGET:
		if (c == '?')
			sc->state = S_QUERY_KEY;
		else if (c == ';')
			sc->state = S_MATRIX_KEY;
		return;
	case S_QUERY_KEY:
	case S_QUERY_VALUE:
		if (c == '&' || c == ';')
			sc->state = S_QUERY_KEY;
		else if (c == '=' && sc->state == S_QUERY_KEY)
			sc->state = S_QUERY_VALUE;
		else if (sc->state == S_QUERY_VALUE)
			*p = MASK;
		return;
	default:	/* matrix parameters */
		if (c == '/')
			sc->state = S_TARGET;
		else if (c == '?')
			sc->state = S_QUERY_KEY;
		else if (c == ';')
			sc->state = S_MATRIX_KEY;
		else if (c == '=' && sc->state == S_MATRIX_KEY)
			sc->state = S_MATRIX_VALUE;
		else if (sc->state == S_MATRIX_VALUE)
			*p = MASK;
		return;
	}
}

static void scan_byte(struct scanner *sc, uint8_t *p)
{
	if (*p == '\n') {
		sc->state = S_LINE_START;
		return;
	}
	switch (sc->state) {
	case S_LINE_START:
		on_line_start(sc, p);
		break;
	case S_NAME:
		if (*p == '\r')
			sc->state = S_SKIP;
		else
			on_name(sc, *p);
		break;
	case S_SECRET:
		if (*p != '\r' && *p != ' ' && *p != '\t')
			*p = MASK;
		break;
	case S_SKIP:
		break;
	default:
		if (*p == '\r')
			sc->state = S_SKIP;
		else
			on_target(sc, p);
		break;
	}
}

static void scan(struct scanner *sc, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		scan_byte(sc, p + i);
}

void redact_value(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			p[i] = MASK;	/* as a credential header's value in an HTTP/1 head */
}

void redact_target(uint8_t *p, size_t n)
{
	struct scanner sc = { .state = S_TARGET };

	for (size_t i = 0; i < n; i++) {
		/* A target ends at a blank or a line end; bytes after one
		 * are no target to keep. */
		if (sc.state == S_SKIP || p[i] == ' ' || p[i] == '\r' || p[i] == '\n') {
			sc.state = S_SKIP;
			p[i] = MASK;
			continue;
		}
		on_target(&sc, p + i);
	}
}

void redact_buffer(uint8_t *p, size_t n)
{
	struct scanner sc = { .state = S_LINE_START };

	scan(&sc, p, n);
}

static bool starts_head(const uint8_t *p, size_t n)
{
	return http_is_method(p, n) || (n >= 5 && !memcmp(p, "HTTP/", 5));
}

/* "1a\r\n" or "1a;ext\r\n": the parser follows chunked bodies by these. */
static bool chunk_size_line(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && isxdigit(p[i]))
		i++;
	if (i == 0 || i == n)
		return false;
	return p[i] == '\r' || p[i] == '\n' || p[i] == ';';
}

/* A buffer of unknown context: its first partial line may be the tail of a
 * credential header. */
static void mask_first_line(uint8_t *p, size_t n)
{
	if (chunk_size_line(p, n))
		return;
	for (size_t i = 0; i < n && p[i] != '\r' && p[i] != '\n'; i++)
		p[i] = MASK;
}

struct redactor *redactor_new(void)
{
	return calloc(1, sizeof(struct redactor));
}

void redactor_free(struct redactor *r)
{
	free(r);
}

static struct slot *slot_of(struct redactor *r, uint64_t sk, uint8_t dir)
{
	uint64_t h = (sk ^ (sk >> 17) ^ dir) * 0x9e3779b97f4a7c15ull;

	return &r->slots[h >> 52];	/* top 12 bits: SLOTS == 4096 */
}

void redact_http(struct redactor *r, struct gs_http_event *e)
{
	/* HTTP/2 header blocks are HPACK: a credential may be a Huffman-coded
	 * literal or an index into a table built earlier, so no masking in
	 * place is sound.  Their bytes are not recorded (a replay counts those
	 * connections as h2_broken_conns). */
	if (e->flags & GS_HTTP_F_H2) {
		e->cap_len = 0;
		e->size = GS_HTTP_HDR_SIZE;
		return;
	}
	struct slot *s = slot_of(r, e->sk, e->io_dir);
	size_t n = e->cap_len <= GS_CAPTURE_MAX ? e->cap_len : GS_CAPTURE_MAX;
	bool same = s->used && s->sk == e->sk && s->dir == e->io_dir;

	if (!(same && s->next_off == e->stream_off)) {
		bool partial = e->stream_off != 0 && !starts_head(e->data, n);

		memset(&s->sc, 0, sizeof(s->sc));
		s->sc.state = partial ? S_SKIP : S_LINE_START;
		if (partial)
			mask_first_line(e->data, n);
	}
	scan(&s->sc, e->data, n);
	s->used = true;
	s->sk = e->sk;
	s->dir = e->io_dir;
	/* Only a fully captured buffer tells where the next one continues. */
	s->next_off = e->len == n ? e->stream_off + n : UINT64_MAX;
}
