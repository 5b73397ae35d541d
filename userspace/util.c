// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include "log.h"
#include "util.h"

static bool is_v4_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* Decimal digits of v at p, no NUL; returns the end. */
static char *put_decimal(char *p, unsigned v)
{
	char tmp[10];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

size_t format_port_suffix(char *buf, size_t len, const char *host, uint16_t port)
{
	size_t n = strlen(host);
	char *p;

	if (n + sizeof(":65535") > len) {
		int w = snprintf(buf, len, "%s:%u", host, port);

		return w < 0 ? 0 : (size_t)w < len ? (size_t)w : len - 1;
	}
	memcpy(buf, host, n);
	p = buf + n;
	*p++ = ':';
	p = put_decimal(p, port);
	*p = 0;
	return p - buf;
}

/* Per request on the hot path: dotted quads without inet_ntop or printf. */
static void format_v4(char *buf, size_t len, const uint8_t a[4], uint16_t port)
{
	char *p = buf;

	if (len < sizeof("255.255.255.255:65535")) {
		char ip[INET_ADDRSTRLEN] = "?";

		inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, port);
		return;
	}
	for (int i = 0; i < 4; i++) {
		p = put_decimal(p, a[i]);
		*p++ = i < 3 ? '.' : ':';
	}
	p = put_decimal(p, port);
	*p = 0;
}

void format_endpoint(char *buf, size_t len, uint16_t family, const uint8_t addr[16],
		     uint16_t port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (family == AF_INET) {
		format_v4(buf, len, addr, port);
	} else if (family == AF_INET6 && is_v4_mapped(addr)) {
		format_v4(buf, len, addr + 12, port);
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	}
}

bool parse_endpoint(const char *s, char *canon, size_t len)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	uint8_t addr[16] = {};
	uint64_t port;
	size_t iplen;
	int family = AF_INET;

	if (!colon || !parse_u64(colon + 1, 1, 65535, &port))
		return false;
	iplen = colon - s;
	if (iplen >= 2 && s[0] == '[' && s[iplen - 1] == ']') {
		s++;
		iplen -= 2;
		family = AF_INET6;
	}
	if (iplen >= sizeof(ip))
		return false;
	memcpy(ip, s, iplen);
	ip[iplen] = 0;
	if (inet_pton(family, ip, addr) != 1)
		return false;
	format_endpoint(canon, len, family, addr, port);
	return true;
}

bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool parse_seconds(const char *s, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > max)
		return false;
	*out = v;
	return true;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *errno_name(int err)
{
	switch (err) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNRESET: return "ECONNRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case EPIPE: return "EPIPE";
	case EHOSTDOWN: return "EHOSTDOWN";
	case ENETDOWN: return "ENETDOWN";
	case EPROTO: return "EPROTO";
	default: return NULL;
	}
}

FILE *config_open(const char *what, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;

	if (fd < 0) {
		log_err("cannot open %s file %s: %s", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		log_err("%s file %s is not a regular file", what, path);
		close(fd);
		return NULL;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		log_err("%s file %s is larger than %u MiB", what, path, CONFIG_FILE_MAX >> 20);
		close(fd);
		return NULL;
	}
	if (fcntl(fd, F_SETFL, 0) || !(f = fdopen(fd, "r"))) {
		log_err("cannot open %s file %s: %s", what, path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

int config_line(FILE *f, char *buf, size_t len, const char **why)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0') {
			*why = "NUL byte in line";
			return -1;
		}
		if (n + 1 >= len) {
			*why = "line too long";
			return -1;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	return c == EOF && n == 0 ? 0 : 1;
}

static bool term_ok(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

const char *term_safe(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	if (!len)
		return buf;
	for (; s && s[i] && i + 1 < len; i++)
		buf[i] = term_ok(s[i]) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

void term_sanitize(char *s)
{
	for (; *s; s++)
		if (!term_ok(*s))
			*s = '?';
}

/* A new file, 0600, never through a symlink.  An existing regular file is
 * refused (a recording or a report is never overwritten); an existing
 * device or FIFO (/dev/null, a pipe to a compressor) is opened for
 * writing. */
int open_new_output(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;

	if (fd >= 0 || errno != EEXIST)
		return fd;
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) ||
	    fcntl(fd, F_SETFL, 0)) {
		close(fd);
		errno = EEXIST;
		return -1;
	}
	return fd;
}

void proc_rss_kib(uint64_t *now, uint64_t *peak)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long v;

	*now = *peak = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*now = v;
		else if (sscanf(line, "VmHWM: %llu", &v) == 1)
			*peak = v;
	}
	if (f)
		fclose(f);
}

uint64_t fnv1a_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}
