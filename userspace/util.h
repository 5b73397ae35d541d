/* SPDX-License-Identifier: MIT */
/* Small helpers used across modules: address formatting, strict number
 * parsing, clocks. */
#ifndef GS_UTIL_H
#define GS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GS_ADDR_STRLEN 64	/* "[ffff:...:ffff]:65535" */

/* "ip:port" for IPv4 (also IPv4-mapped IPv6), "[ip]:port" for IPv6. */
void format_endpoint(char *buf, size_t len, uint16_t family, const uint8_t addr[16],
		     uint16_t port);

/* "ip:port" or "[ip6]:port" (port 1-65535) into the form format_endpoint
 * prints, so user-given endpoints compare equal to the traced ones. */
bool parse_endpoint(const char *s, char *canon, size_t len);

/* Strict decimal parse of the whole string into [min, max]. */
bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds, possibly fractional ("0.5"), > 0 and <= max. */
bool parse_seconds(const char *s, double max, double *out);

uint64_t mono_ns(void);		/* CLOCK_MONOTONIC, the kernel event clock */
double wall_s(void);		/* seconds since the epoch */

const char *errno_name(int err);	/* "ECONNREFUSED", or NULL when unknown */

#endif
