// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "listen_addr.h"
#include "util.h"

static bool addr_error(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return false;
}

bool listen_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		       char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN] = "127.0.0.1";
	const char *port_s = s, *colon, *close;
	bool v6 = false;
	uint64_t port;
	size_t n = 0;

	if (!s || !*s)
		return addr_error(err, errlen, "empty address");
	if (s[0] == '[') {
		close = strchr(s, ']');
		if (!close || close[1] != ':')
			return addr_error(err, errlen, "expected [IPv6]:PORT");
		n = close - s - 1;
		port_s = close + 2;
		v6 = true;
		if (n == 0 || n >= sizeof(host))
			return addr_error(err, errlen, "not an IPv6 address");
		memcpy(host, s + 1, n);
		host[n] = '\0';
	} else if ((colon = strrchr(s, ':'))) {
		if (strchr(s, ':') != colon)
			return addr_error(err, errlen, "IPv6 addresses go in brackets: [::1]:9464");
		n = colon - s;
		port_s = colon + 1;
		if (n >= sizeof(host))
			return addr_error(err, errlen, "not an IPv4 address");
		if (n) {
			memcpy(host, s, n);
			host[n] = '\0';
		}
	}
	if (!parse_u64(port_s, 0, 65535, &port))
		return addr_error(err, errlen, "not a port (0-65535)");
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return addr_error(err, errlen, "not an IPv6 address");
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return addr_error(err, errlen, "not an IPv4 address");
		*len = sizeof(*a);
	}
	return true;
}
