// SPDX-License-Identifier: MIT
#include <string.h>
#include "join_match.h"

struct matching {
	const struct join_match *m;
	uint64_t usable;
	int8_t owner[JOIN_MATCH_ATTS];	/* request matched to each attempt, -1: none */
	uint64_t seen;			/* attempts visited by this search */
};

/* An augmenting path from request q (Kuhn): q gets an attempt, maybe one
 * taken from a request that can move to another. */
static int augment(struct matching *s, unsigned q)
{
	uint64_t free = s->m->adj[q] & s->usable & ~s->seen;

	while (free) {
		unsigned b = (unsigned)__builtin_ctzll(free);

		free &= free - 1;
		s->seen |= 1ull << b;
		if (s->owner[b] < 0 || augment(s, (unsigned)s->owner[b])) {
			s->owner[b] = (int8_t)q;
			return 1;
		}
	}
	return 0;
}

unsigned join_match_max(const struct join_match *m, uint64_t excluded)
{
	struct matching s = { .m = m, .usable = ~excluded };
	unsigned n = 0;

	memset(s.owner, -1, sizeof(s.owner));
	for (unsigned q = 0; q < m->nreq && q < JOIN_MATCH_REQS; q++) {
		s.seen = 0;
		n += augment(&s, q);
	}
	return n;
}
