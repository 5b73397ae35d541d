/* SPDX-License-Identifier: MIT */
/* A listening address given on the command line (--metrics): parsed once
 * by the option parser, to refuse a bad one before anything starts, and
 * again by the server that binds it. */
#ifndef GS_LISTEN_ADDR_H
#define GS_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* "IPv4:PORT", "[IPv6]:PORT", ":PORT" or "PORT" (the last two bind
 * 127.0.0.1).  Port 0 picks a free port.  false and a reason in err when
 * it is none of these. */
bool listen_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		       char *err, size_t errlen);

#endif
