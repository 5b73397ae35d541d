/* SPDX-License-Identifier: MIT */
/* How many requests can each have an attempt of their own: a maximum
 * bipartite matching, small enough for bit masks.  The join engine asks it
 * before it gives a failed request a connect that failed (no content, so
 * only time links it): when taking that connect would leave another failed
 * request, answered and waiting, with none it could have made, while a
 * different choice leaves every such request one, the other choice is
 * taken.  Three clients refused at once by a loaded goroutine proxy: the
 * answers lag the refusals, and nearness alone gave one request two
 * refusals (one of them the only one a later request could have made)
 * and that request none. */
#ifndef GS_JOIN_MATCH_H
#define GS_JOIN_MATCH_H

#include <stdint.h>

#define JOIN_MATCH_REQS 32	/* requests at most; beyond, no matching is asked */
#define JOIN_MATCH_ATTS 64	/* attempts at most (one bit each) */

struct join_match {
	uint64_t adj[JOIN_MATCH_REQS];	/* per request: the attempts it could have made */
	unsigned nreq;
};

/* The most requests that each get a different attempt, none of those in
 * excluded. */
unsigned join_match_max(const struct join_match *m, uint64_t excluded);

#endif
