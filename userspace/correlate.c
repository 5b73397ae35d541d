#include <stdlib.h>
#include <string.h>
#include "correlate.h"

#define SLOT(id) ((id) & 0xffff)
#define GEN(id) ((id) >> 16)

#define FREE_POS 0xffff

int corr_init(struct correlator *c, request_sink sink, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->pool = calloc(CORR_POOL, sizeof(*c->pool));
	c->gen = calloc(CORR_POOL, sizeof(*c->gen));
	c->active = calloc(CORR_POOL, sizeof(*c->active));
	c->pos = calloc(CORR_POOL, sizeof(*c->pos));
	c->free_slots = calloc(CORR_POOL, sizeof(*c->free_slots));
	c->sink = sink;
	c->ctx = ctx;
	if (!c->pool || !c->gen || !c->active || !c->pos || !c->free_slots)
		return -1;
	for (uint32_t slot = CORR_POOL - 1; slot >= 1; slot--) {
		c->pos[slot] = FREE_POS;
		c->free_slots[c->nfree++] = slot;
	}
	return 0;
}

void corr_free(struct correlator *c)
{
	free(c->pool);
	free(c->gen);
	free(c->active);
	free(c->pos);
	free(c->free_slots);
	memset(c, 0, sizeof(*c));
}

struct request *corr_get(struct correlator *c, uint32_t id)
{
	uint32_t slot = SLOT(id);

	if (!id || !slot || slot >= CORR_POOL || c->pos[slot] == FREE_POS ||
	    c->gen[slot] != GEN(id))
		return NULL;	/* finished (or evicted) meanwhile */
	return &c->pool[slot];
}

static void slot_release(struct correlator *c, uint32_t slot)
{
	uint16_t i = c->pos[slot], last = c->active[--c->nactive];

	c->active[i] = last;
	c->pos[last] = i;
	c->pos[slot] = FREE_POS;
	c->free_slots[c->nfree++] = slot;
}

/* A failed request whose last attempt got no answer is attributed from
 * that connection's TCP facts, which come when it closes. */
static bool needs_facts(const struct request *r)
{
	const struct attempt *a = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;
	bool failed = r->status == 0 || r->status >= 500;

	return failed && a && !a->have_conn && !a->status;
}

static void hand_over(struct correlator *c, struct request *r)
{
	c->requests++;
	c->joined += r->nattempts > 0;
	c->sink(r, c->ctx);
	slot_release(c, SLOT(r->id));
}

void corr_request_done(struct correlator *c, uint32_t id)
{
	struct request *r = corr_get(c, id);

	if (!r || r->waiting_facts)
		return;
	if (needs_facts(r)) {
		r->waiting_facts = true;
		return;
	}
	hand_over(c, r);
}

void corr_attempt_closed(struct correlator *c, uint32_t id)
{
	struct request *r = corr_get(c, id);

	if (r && r->waiting_facts && !needs_facts(r))
		hand_over(c, r);
}

void corr_flush(struct correlator *c, uint64_t now)
{
	/* Backwards: hand_over moves the last active slot into freed places. */
	for (uint32_t i = c->nactive; i-- > 0;) {
		struct request *r = &c->pool[c->active[i]];

		if (!r->waiting_facts)
			continue;
		if (now != UINT64_MAX && r->ts_done + CORR_FACTS_WAIT_NS > now)
			continue;
		c->facts_timeouts++;
		hand_over(c, r);
	}
}

/* A full pool means requests whose end we never saw: finish the oldest
 * (it goes out as unanswered) so new requests are still followed. */
static void evict_oldest(struct correlator *c)
{
	struct request *oldest = NULL;

	for (uint32_t i = 0; i < c->nactive; i++) {
		struct request *r = &c->pool[c->active[i]];

		if (!oldest || r->ts_start < oldest->ts_start)
			oldest = r;
	}
	c->pool_evictions++;
	hand_over(c, oldest);
}

uint32_t corr_request_start(struct correlator *c, const struct request *proto)
{
	uint32_t slot;
	struct request *r;

	if (!c->nfree)
		evict_oldest(c);
	slot = c->free_slots[--c->nfree];
	c->pos[slot] = c->nactive;
	c->active[c->nactive++] = slot;
	r = &c->pool[slot];
	*r = *proto;
	c->gen[slot]++;
	r->id = slot | (uint32_t)c->gen[slot] << 16;
	r->nattempts = 0;
	return r->id;
}

/* Has the request an attempt still waiting for its answer? */
static bool attempt_in_flight(const struct request *r)
{
	const struct attempt *a = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;

	return a && !a->status && a->failure == ATTEMPT_OK && !a->have_conn;
}

/* The pending request of this thread an attempt belongs to: the oldest
 * without a response whose method and path match, preferring one with no
 * attempt in flight (two clients asking for the same path at once get one
 * attempt each; a retry goes to the request whose attempt failed); when
 * the gateway rewrote them, the newest one that started before the
 * attempt. */
static struct request *find_owner(struct correlator *c, uint32_t pid, uint32_t tid,
				  const char *method, const char *path, uint64_t ts)
{
	struct request *match = NULL, *idle = NULL, *latest = NULL;

	for (uint32_t i = 0; i < c->nactive; i++) {
		struct request *r = &c->pool[c->active[i]];

		if (r->pid != pid || r->tid != tid || r->ts_response || r->waiting_facts ||
		    r->ts_start > ts)
			continue;	/* another thread's, answered, finished, or later */
		if (method && path && !strcmp(r->method, method) && !strcmp(r->path, path)) {
			if (!match || r->ts_start < match->ts_start)
				match = r;
			if (!attempt_in_flight(r) && (!idle || r->ts_start < idle->ts_start))
				idle = r;
		}
		if (!latest || r->ts_start > latest->ts_start)
			latest = r;
	}
	return idle ? idle : match ? match : latest;
}

uint32_t corr_attempt_start(struct correlator *c, uint32_t pid, uint32_t tid,
			    const char *method, const char *path, uint64_t ts,
			    const struct attempt *a, unsigned *index)
{
	struct request *r = c->nactive ? find_owner(c, pid, tid, method, path, ts) : NULL;

	if (!r) {
		c->unjoined_attempts++;
		return 0;
	}
	if (r->nattempts == REQ_ATTEMPTS) {
		r->attempts_dropped++;
		return 0;
	}
	*index = r->nattempts++;
	r->attempts[*index] = *a;
	return r->id;
}

struct attempt *corr_attempt(struct correlator *c, uint32_t id, unsigned index)
{
	struct request *r = corr_get(c, id);

	return r && index < r->nattempts ? &r->attempts[index] : NULL;
}
