/* JSON writer: commas and nesting, string escaping checked by decoding the
 * output back (a JSON reader must get the original text), non-finite
 * numbers as null. */
#include <stdint.h>
#include <stdlib.h>
#include "json.h"
#include "testlib.h"

static struct json j;
static FILE *mem;
static char *buf;
static size_t len;

static void start(void)
{
	mem = open_memstream(&buf, &len);
	json_init(&j, mem);
}

/* The output so far; valid until the next start(). */
static const char *finish(void)
{
	static char *last;

	fclose(mem);
	free(last);
	last = buf;
	return buf;
}

static void test_nesting(void)
{
	start();
	json_obj_open(&j);
	json_kstr(&j, "type", "summary");
	json_ku64(&j, "n", 18446744073709551615ull);
	json_key(&j, "list");
	json_arr_open(&j);
	json_u64(&j, 1);
	json_i64(&j, -2);
	json_obj_open(&j);
	json_key(&j, "x");
	json_arr_open(&j);
	json_arr_close(&j);
	json_key(&j, "y");
	json_obj_open(&j);
	json_obj_close(&j);
	json_obj_close(&j);
	json_bool(&j, true);
	json_null(&j);
	json_str(&j, NULL);
	json_arr_close(&j);
	json_key(&j, "after");
	json_bool(&j, false);
	json_kdouble(&j, "ms", 1.5, 3);
	json_obj_close(&j);
	json_end_line(&j);
	/* a second line starts clean: no comma carried over */
	json_obj_open(&j);
	json_ku64(&j, "a", 0);
	json_obj_close(&j);
	json_end_line(&j);
	ASSERT_STREQ(finish(),
		     "{\"type\":\"summary\",\"n\":18446744073709551615,"
		     "\"list\":[1,-2,{\"x\":[],\"y\":{}},true,null,null],"
		     "\"after\":false,\"ms\":1.500}\n"
		     "{\"a\":0}\n");
}

/* Every supported level deep, with siblings before and after each child
 * and an empty container after it (its close must not upset the comma
 * state of the level it sits in). */
static void test_deep_nesting(void)
{
	char want[1024] = "", *w = want;
	int levels = JSON_MAX_DEPTH - 1;

	start();
	for (int i = 0; i < levels; i++) {
		if (i % 2) {
			json_arr_open(&j);
			json_u64(&j, i);
			w += sprintf(w, "[%d,", i);
		} else {
			json_obj_open(&j);
			json_ku64(&j, "k", i);
			json_key(&j, "v");
			w += sprintf(w, "{\"k\":%d,\"v\":", i);
		}
	}
	json_null(&j);
	w += sprintf(w, "null");
	for (int i = levels - 1; i >= 0; i--) {
		if (i % 2) {
			json_obj_open(&j);
			json_obj_close(&j);
			json_u64(&j, 100 + i);
			json_arr_close(&j);
			w += sprintf(w, ",{},%d]", 100 + i);
		} else {
			json_key(&j, "e");
			json_arr_open(&j);
			json_arr_close(&j);
			json_ku64(&j, "z", i);
			json_obj_close(&j);
			w += sprintf(w, ",\"e\":[],\"z\":%d}", i);
		}
	}
	json_end_line(&j);
	sprintf(w, "\n");
	ASSERT_STREQ(finish(), want);
}

/* ---- a JSON string reader, to check escaping by round trip ------------- */

static void put_utf8(char **o, uint32_t c)
{
	unsigned char *u = (unsigned char *)*o;

	if (c < 0x80) {
		*u++ = c;
	} else if (c < 0x800) {
		*u++ = 0xc0 | c >> 6;
		*u++ = 0x80 | (c & 0x3f);
	} else if (c < 0x10000) {
		*u++ = 0xe0 | c >> 12;
		*u++ = 0x80 | (c >> 6 & 0x3f);
		*u++ = 0x80 | (c & 0x3f);
	} else {
		*u++ = 0xf0 | c >> 18;
		*u++ = 0x80 | (c >> 12 & 0x3f);
		*u++ = 0x80 | (c >> 6 & 0x3f);
		*u++ = 0x80 | (c & 0x3f);
	}
	*o = (char *)u;
}

static int hex4(const char *s, uint32_t *v)
{
	char tmp[5] = {0}, *end;

	memcpy(tmp, s, 4);
	*v = strtoul(tmp, &end, 16);
	return end == tmp + 4 && strspn(tmp, "0123456789abcdefABCDEF") == 4;
}

/* Decode the JSON string literal at s into out (UTF-8).  NULL when it is not
 * a valid literal (RFC 8259: no raw control bytes, known escapes only, no
 * lone surrogates), else the character after the closing quote. */
static const char *decode_string(const char *s, char *out)
{
	uint32_t c, lo;

	if (*s++ != '"')
		return NULL;
	for (;;) {
		unsigned char ch = *s;

		if (ch == '"')
			break;
		if (ch < 0x20)
			return NULL;	/* raw control byte, or the end */
		if (ch != '\\') {
			*out++ = *s++;
			continue;
		}
		s++;
		switch (*s++) {
		case '"': *out++ = '"'; break;
		case '\\': *out++ = '\\'; break;
		case '/': *out++ = '/'; break;
		case 'b': *out++ = '\b'; break;
		case 'f': *out++ = '\f'; break;
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 't': *out++ = '\t'; break;
		case 'u':
			if (!hex4(s, &c))
				return NULL;
			s += 4;
			if (c >= 0xdc00 && c <= 0xdfff)
				return NULL;
			if (c >= 0xd800 && c <= 0xdbff) {
				if (s[0] != '\\' || s[1] != 'u' || !hex4(s + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return NULL;
				s += 6;
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			}
			put_utf8(&out, c);
			break;
		default:
			return NULL;
		}
	}
	*out = '\0';
	return s + 1;
}

/* json_str(in) as a JSON reader sees it; NULL (test failed) when the
 * output is not one valid, ASCII-only JSON string. */
static const char *read_back(const char *in)
{
	static char got[4096];
	const char *out, *end;

	start();
	json_str(&j, in);
	out = finish();
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p >= 0x80) {
			TL_FAIL("output is not ASCII: %s", out);
			return NULL;
		}
	end = decode_string(out, got);
	if (!end || *end) {
		TL_FAIL("not one valid JSON string: %s", out);
		return NULL;
	}
	return got;
}

static void check_round_trip(const char *in)
{
	const char *got = read_back(in);

	if (got && strcmp(got, in))
		TL_FAIL("round trip of \"%s\": reads back as \"%s\"", in, got);
}

static void test_escape_ascii(void)
{
	check_round_trip("");
	check_round_trip("plain text 0-9 ~!@#$%^&*()");
	check_round_trip("say \"hi\"");
	check_round_trip("C:\\path\\to\\\"x\"\\");
	check_round_trip("/orders/{id}?a=1&b=<2>");
	/* every control byte, and DEL */
	{
		char all[40];

		for (int i = 1; i < 0x20; i++)
			all[i - 1] = i;
		all[31] = 0x7f;
		all[32] = 'x';
		all[33] = '\0';
		check_round_trip(all);
	}
	check_round_trip("line1\nline2\r\n\ttab");
}

/* Text that is not ASCII (process names, hosts, URL paths) must read back
 * as the same characters, not as one Latin-1 character per UTF-8 byte. */
static void test_escape_utf8(void)
{
	check_round_trip("caf\xc3\xa9");				/* é, 2 bytes */
	check_round_trip("\xe2\x82\xac 5");			/* €, 3 bytes */
	check_round_trip("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");	/* 日本語 */
	check_round_trip("\xf0\x9f\x98\x80!");			/* U+1F600, 4 bytes */
	check_round_trip("\xf4\x8f\xbf\xbf");			/* U+10FFFF */
	check_round_trip("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf");	/* edges */
}

/* Bytes that are not UTF-8 cannot be carried: they read back as one or
 * more U+FFFD, and the valid text around them survives. */
static void check_replaced(const char *before, const char *bad, const char *after)
{
	char in[64];
	const char *got, *mid;

	snprintf(in, sizeof(in), "%s%s%s", before, bad, after);
	got = read_back(in);
	if (!got)
		return;
	mid = got + strlen(before);
	if (strncmp(got, before, strlen(before)) || strncmp(mid, "\xef\xbf\xbd", 3))
		goto bad;
	while (!strncmp(mid, "\xef\xbf\xbd", 3))
		mid += 3;
	if (!strcmp(mid, after))
		return;
bad:
	TL_FAIL("\"%s\" reads back as \"%s\"", in, got);
}

static void test_escape_invalid_utf8(void)
{
	check_replaced("a", "\xff", "b");			/* never valid */
	check_replaced("a", "\x80", "b");			/* lone continuation */
	check_replaced("a", "\xc0\xaf", "b");			/* overlong '/' */
	check_replaced("", "\xe0\x80\xaf", "c");		/* overlong, 3 bytes */
	check_replaced("", "\xed\xa0\x80", "");		/* UTF-16 surrogate */
	check_replaced("", "\xf4\x90\x80\x80", "d");		/* past U+10FFFF */
	check_replaced("x", "\xe2", "");			/* cut at the end */
	check_replaced("", "\xe2\x82", "y");			/* cut before ASCII */
	check_replaced("", "\xf0\x9f\x98", "\xc3\xa9");	/* cut before valid UTF-8 */
}

/* Keys are escaped like values. */
static void test_escape_key(void)
{
	static char got[256];
	const char *out, *end;

	start();
	json_obj_open(&j);
	json_kstr(&j, "k\"e\\y\n\xc3\xa9", "v");
	json_obj_close(&j);
	out = finish();
	ASSERT_TRUE(out[0] == '{');
	end = decode_string(out + 1, got);
	ASSERT_TRUE(end && !strcmp(end, ":\"v\"}"));
	ASSERT_STREQ(got, "k\"e\\y\n\xc3\xa9");
}

static void test_non_finite(void)
{
	start();
	json_obj_open(&j);
	json_kdouble(&j, "nan", NAN, 3);
	json_kdouble(&j, "inf", INFINITY, 3);
	json_kdouble(&j, "ninf", -INFINITY, 3);
	json_kdouble(&j, "ok", 2.25, 2);
	json_key(&j, "arr");
	json_arr_open(&j);
	json_double(&j, NAN, 1);
	json_double(&j, -0.5, 1);
	json_double(&j, INFINITY, 0);
	json_arr_close(&j);
	json_kdouble(&j, "big", 1e300 * 1e10, 3);	/* overflow to inf */
	json_obj_close(&j);
	ASSERT_STREQ(finish(), "{\"nan\":null,\"inf\":null,\"ninf\":null,\"ok\":2.25,"
			       "\"arr\":[null,-0.5,null],\"big\":null}");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_nesting);
	RUN_TEST(test_deep_nesting);
	RUN_TEST(test_escape_ascii);
	RUN_TEST(test_escape_utf8);
	RUN_TEST(test_escape_invalid_utf8);
	RUN_TEST(test_escape_key);
	RUN_TEST(test_non_finite);
	TEST_MAIN_END();
}
