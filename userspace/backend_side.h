/* SPDX-License-Identifier: MIT */
/* The backend's side of a gateway's attempt.  A backend on the gateway's
 * host often runs under the gateway's name (two nginx), so both are
 * traced; until the kernel has seen the backend answer 32 times without
 * ever connecting out (then it skips it), the backend's reads and writes
 * are captured too.  Each of its requests would be a second copy of the
 * gateway's attempt, reported as a request of its own: answered "by the
 * gateway itself" (a backend's own 504 would read gateway/no_upstream), or
 * given up by its "client" (the gateway timing out: client/client_abort).
 *
 * A downstream connection is the backend's side when it is the far end of
 * an upstream connection a traced gateway holds (the same two addresses
 * and ports, swapped), and its request is not reported when, as the join
 * engine decides it, the process that read it never connected out (not
 * when it is read: a gateway's first request after the start comes before
 * its first connect).  A gateway both serves clients and
 * connects out: the upstream connections of a process that never served
 * (curl, a load generator, a plain client traced with every process) have
 * no backend's side, their servers' requests are theirs.  A process that
 * connects out is a gateway from then on (a second gateway behind the
 * first: its requests are its own), as in the kernel. */
#ifndef GS_BACKEND_SIDE_H
#define GS_BACKEND_SIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set of 64-bit keys (never 0), each with a count: open addressing. */
struct key_set {
	uint64_t *key;
	uint32_t *count;
	size_t cap, n;
};

struct backend_side {
	struct key_set upstream;	/* live upstream connections of servers, by endpoint_pair_key */
	struct key_set gateways;	/* processes that connected out (count unused) */
	struct key_set servers;		/* processes that served clients (count unused) */
	bool out_of_memory;		/* a set could not grow: every process is a gateway */
};

/* A connection's two ends as one key: local then peer, IPv4-mapped IPv6
 * addresses as IPv4 (a backend listening on [::] sees the gateway's IPv4
 * connection so).  Never 0. */
uint64_t endpoint_pair_key(uint16_t family, const uint8_t local[16], uint16_t lport,
			   const uint8_t peer[16], uint16_t pport);

void backend_side_init(struct backend_side *b);
void backend_side_free(struct backend_side *b);
/* A traced process's client connection is followed: it serves. */
void backend_side_serves(struct backend_side *b, uint32_t pid);
/* A traced process's upstream connection (key: endpoint_pair_key of its
 * local, then peer end) is followed: true when it is kept, which it is
 * when the process serves clients (a gateway's); and a kept one is over. */
bool backend_side_upstream_open(struct backend_side *b, uint64_t key, uint32_t pid);
void backend_side_upstream_closed(struct backend_side *b, uint64_t key);
/* Is the downstream connection of these ends the far end of a followed
 * upstream connection? */
bool backend_side_far_end(const struct backend_side *b, uint16_t family, const uint8_t local[16],
			  uint16_t lport, const uint8_t peer[16], uint16_t pport);
/* Did this process ever connect out (while followed)? */
bool backend_side_is_gateway(const struct backend_side *b, uint32_t pid);

#endif
