/* SPDX-License-Identifier: MIT */
/* Streaming JSON writer: one object per line, commas and escaping handled
 * here so every JSON emitter in gatescope is well-formed. */
#ifndef GS_JSON_H
#define GS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *out);
void json_obj_open(struct json *j);		/* value position */
void json_obj_close(struct json *j);
void json_arr_open(struct json *j);
void json_arr_close(struct json *j);
void json_key(struct json *j, const char *key);	/* then a value */
void json_str(struct json *j, const char *s);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_double(struct json *j, double v, int decimals);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
void json_end_line(struct json *j);		/* newline + flush after a top-level object */

/* key + value shorthands */
void json_kstr(struct json *j, const char *key, const char *s);
void json_ku64(struct json *j, const char *key, uint64_t v);
void json_kdouble(struct json *j, const char *key, double v, int decimals);

#endif
