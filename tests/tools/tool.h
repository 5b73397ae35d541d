/* Helpers shared by the test tools (gs-tcp, gs-httpd, gs-stallproxy):
 * strict argument parsing that exits 2 with a message naming the tool. */
#ifndef GS_TOOL_H
#define GS_TOOL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The tool's name in messages; each tool defines it. */
extern const char *tool_name;

/* A decimal number in [0, max], or exit 2. */
static inline unsigned tool_uint(const char *s, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max) {
		fprintf(stderr, "%s: '%s' is not a number in [0, %u]\n", tool_name, s, max);
		exit(2);
	}
	return v;
}

/* IPv4 or IPv6 ADDR and PORT -> socket address and its length, or exit 2. */
static inline socklen_t tool_sockaddr(const char *addr, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	fprintf(stderr, "%s: '%s' is not an IPv4 or IPv6 address\n", tool_name, addr);
	exit(2);
}

#endif
