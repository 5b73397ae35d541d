/* SPDX-License-Identifier: MIT */
/* Small helpers used across modules: address formatting, strict number
 * parsing, clocks. */
#ifndef GS_UTIL_H
#define GS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A numeric macro as a string literal, for texts that print a constant. */
#define STR(x) STR_(x)
#define STR_(x) #x
#define GS_ADDR_STRLEN 64	/* "[ffff:...:ffff]:65535" */

/* "ip:port" for IPv4 (also IPv4-mapped IPv6), "[ip]:port" for IPv6. */
void format_endpoint(char *buf, size_t len, uint16_t family, const uint8_t addr[16],
		     uint16_t port);

/* "HOST:port" into buf (truncated to len like snprintf), without printf:
 * it runs per request.  Returns the length written. */
size_t format_port_suffix(char *buf, size_t len, const char *host, uint16_t port);

/* "ip:port" or "[ip6]:port" (port 1-65535) into the form format_endpoint
 * prints, so user-given endpoints compare equal to the traced ones. */
bool parse_endpoint(const char *s, char *canon, size_t len);

/* Strict decimal parse of the whole string into [min, max]. */
bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds, possibly fractional ("0.5"), > 0 and <= max. */
bool parse_seconds(const char *s, double max, double *out);

uint64_t mono_ns(void);		/* CLOCK_MONOTONIC, the kernel event clock */
double wall_s(void);		/* seconds since the epoch */

const char *errno_name(int err);
/* This process's resident memory now and at its peak, KiB (0 if unknown). */
void proc_rss_kib(uint64_t *now, uint64_t *peak);	/* "ECONNREFUSED", or NULL when unknown */

/* Configuration files (--backend-names, --route-map) are regular files of
 * at most this size; a device, FIFO or directory is refused at once. */
#define CONFIG_FILE_MAX (16u << 20)

/* Open a configuration file; NULL after a message naming what (the option)
 * and path. */
FILE *config_open(const char *what, const char *path);
/* The next line of f into buf, without its newline: 1, 0 at the end, or -1
 * with *why set (a line that does not fit buf, a NUL byte). */
int config_line(FILE *f, char *buf, size_t len, const char **why);

/* Copy s for a terminal: control bytes (C0, DEL) and bytes >= 0x80 (C1
 * controls, broken UTF-8) become '?', so a traced process name or path can
 * never move the cursor, change colours or retitle the window.  Returns
 * buf. */
const char *term_safe(const char *s, char *buf, size_t len);
/* The same, in place. */
void term_sanitize(char *s);

/* A new output file (--record, --report): mode 0600, never through a
 * symlink (ELOOP); an existing regular file is refused (EEXIST), an existing
 * device or FIFO is opened for writing.  The fd, or -1 with errno set. */
int open_new_output(const char *path);

/* FNV-1a over a NUL-terminated string, from h (FNV1A_BASIS to start):
 * table keys; a chain of calls hashes several strings as one. */
#define FNV1A_BASIS 0xcbf29ce484222325ull
uint64_t fnv1a_str(uint64_t h, const char *s);

#endif
