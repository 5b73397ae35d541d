/* SPDX-License-Identifier: MIT */
/* Timeout inference: every timeout-driven close (an endpoint closes a
 * connection with a request outstanding after a period without progress)
 * gives one idle time.  Clusters of idle times per (closer, peer, kind)
 * reveal each hop's effective timeout; comparing hops finds inverted or
 * tight timeout ladders (the outer hop must wait longest, 2 s or more
 * longer than the hop inside it). */
#ifndef GS_TIMEOUTS_H
#define GS_TIMEOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define TIMEOUT_KEYS_MAX	64	/* distinct (closer, peer, kind) followed */
#define TIMEOUT_SAMPLES		128	/* idle times kept per key (most recent) */
#define TIMEOUT_MIN_CLUSTER	3	/* closes needed before a value is inferred */
#define LADDER_MIN_GAP_S	2.0	/* outer hop should wait this much longer */
/* A ladder warning: two endpoints, two durations and a sentence fit. */
#define LADDER_WARNING_LEN	256

enum closer { CLOSER_GATEWAY, CLOSER_BACKEND, CLOSER_CLIENT };

struct timeout_key {
	enum closer closer;
	char peer[GS_ADDR_STRLEN];	/* backend ip:port, or listener 0.0.0.0:port */
	const char *kind;		/* "connect", "read", "response" */
};

/* A close's idle time is measured from the last progress (byte read or
 * written).  A gateway may have armed its timer at an earlier progress
 * and kept it through later reads: nginx re-arms a read timer only when
 * the new deadline moves by 300 ms or more, so a response read within
 * 300 ms of the request times out 1 s after the request, not after its
 * last byte.  Each close therefore also carries the idle time since its
 * earlier progress (the last byte written), and counts for either. */
struct timeout_series {
	struct timeout_key key;
	uint64_t idle_ns[TIMEOUT_SAMPLES];
	uint64_t armed_ns[TIMEOUT_SAMPLES];	/* since the earlier progress (>= idle_ns) */
	size_t n;			/* samples held (<= TIMEOUT_SAMPLES) */
	size_t next;			/* ring position */
	uint64_t total;			/* closes seen */
};

struct inferred_timeout {
	struct timeout_key key;
	double seconds;			/* median of the densest cluster */
	size_t n;			/* closes in that cluster */
};

/* (client-facing port, backend) pairs requests went through, hashed: a
 * ladder pairs a port's clients only with the backends they reach.  When
 * the table fills, every pair counts as linked (a warning too many rather
 * than one lost). */
#define TIMEOUT_LINKS_MAX	1024	/* slots; at most 3/4 used */

struct timeouts {
	struct timeout_series s[TIMEOUT_KEYS_MAX];
	size_t n;
	uint64_t dropped;		/* closes of keys beyond TIMEOUT_KEYS_MAX */
	uint64_t links[TIMEOUT_LINKS_MAX];	/* 0: empty */
	size_t nlinks;
	bool links_full;
};

void timeouts_init(struct timeouts *t);
void timeouts_add(struct timeouts *t, enum closer closer, const char *peer, const char *kind,
		  uint64_t idle_ns);
/* The same, for a close whose timer may have been armed earlier, armed_ns
 * before it (since the last byte written; see struct timeout_series). */
void timeouts_add_either(struct timeouts *t, enum closer closer, const char *peer,
			 const char *kind, uint64_t idle_ns, uint64_t armed_ns);
/* Requests of this client-facing port reached this backend. */
void timeouts_link(struct timeouts *t, const char *listener, const char *backend);
/* Inferred timeouts (whole run); returns how many were written to out. */
size_t timeouts_infer(const struct timeouts *t, struct inferred_timeout *out, size_t max);
/* Ladder warnings as sentences, each client timeout against the gateway
 * timeouts to the backends its port's requests reached; returns how many
 * were written. */
size_t timeouts_ladder(const struct timeouts *t, const struct inferred_timeout *inf, size_t n,
		       char (*out)[LADDER_WARNING_LEN], size_t max);
const char *closer_name(enum closer c);

#endif
