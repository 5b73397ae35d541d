// SPDX-License-Identifier: MIT
#include <math.h>
#include "json.h"

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

/* Before any value or key: a comma if a sibling came first. */
static void sep(struct json *j)
{
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
}

static void push(struct json *j, char c)
{
	fputc(c, j->out);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void pop(struct json *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
}

void json_obj_open(struct json *j) { sep(j); push(j, '{'); }
void json_obj_close(struct json *j) { pop(j, '}'); }
void json_arr_open(struct json *j) { sep(j); push(j, '['); }
void json_arr_close(struct json *j) { pop(j, ']'); }

/* Code point of the UTF-8 sequence at p and its length, or 0 when it is
 * not one (bad lead byte, cut short, overlong, surrogate, past U+10FFFF). */
static int utf8_decode(const unsigned char *p, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t c;
	int n;

	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* ASCII-only output: non-ASCII characters as \uXXXX (UTF-16 pairs above
 * U+FFFF); bytes that are not UTF-8 (a comm can hold anything) as U+FFFD. */
static void write_escaped(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	int n;

	fputc('"', out);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fprintf(out, "\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, out);
		} else if ((n = utf8_decode(p, &cp)) == 0) {
			fputs("\\ufffd", out);
			p++;
		} else if (cp < 0x10000) {
			fprintf(out, "\\u%04x", cp);
			p += n;
		} else {
			cp -= 0x10000;
			fprintf(out, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
			p += n;
		}
	}
	fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
	sep(j);
	write_escaped(j->out, key);
	fputc(':', j->out);
	j->need_comma[j->depth] = false;	/* the value follows without a comma */
}

void json_str(struct json *j, const char *s)
{
	sep(j);
	if (s)
		write_escaped(j->out, s);
	else
		fputs("null", j->out);
}

void json_u64(struct json *j, uint64_t v) { sep(j); fprintf(j->out, "%llu", (unsigned long long)v); }
void json_i64(struct json *j, int64_t v) { sep(j); fprintf(j->out, "%lld", (long long)v); }
void json_bool(struct json *j, bool v) { sep(j); fputs(v ? "true" : "false", j->out); }
void json_null(struct json *j) { sep(j); fputs("null", j->out); }

void json_double(struct json *j, double v, int decimals)
{
	sep(j);
	if (isfinite(v))
		fprintf(j->out, "%.*f", decimals, v);
	else
		fputs("null", j->out);
}

void json_end_line(struct json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
	j->depth = 0;
	j->need_comma[0] = false;
}

void json_kstr(struct json *j, const char *key, const char *s) { json_key(j, key); json_str(j, s); }
void json_ku64(struct json *j, const char *key, uint64_t v) { json_key(j, key); json_u64(j, v); }
void json_kdouble(struct json *j, const char *key, double v, int decimals)
{
	json_key(j, key);
	json_double(j, v, decimals);
}
