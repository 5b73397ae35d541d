// SPDX-License-Identifier: MIT
#include <string.h>
#include "join_loop.h"

enum loop_state {
	WAITING,	/* head read, no try yet */
	BUSY,		/* a try under way */
	RETRYING,	/* its last try failed: it may be served again */
	FINISHED,	/* no more tries */
};

struct req_state {
	uint8_t state;
	uint8_t last;		/* BUSY, RETRYING: its last try */
	uint8_t tries;		/* how many it was given */
	uint64_t since;		/* WAITING, RETRYING: in the queue since */
	uint64_t passed_at;	/* FINISHED by being passed over at this try's start */
};

struct search {
	const struct loop_req *reqs;
	const struct loop_att *atts;
	unsigned nreq, natt, target, nodes;
	int8_t owner[LOOP_MAX_ATTS];
	struct loop_result *res;
};

static bool answered_by(const struct loop_req *r, uint64_t t)
{
	return r->answered && r->answered <= t;
}

/* Request k's state at time t, its retry queued once its try failed. */
static void advance(const struct search *s, struct req_state *st, unsigned k, uint64_t t)
{
	struct req_state *q = &st[k];

	if (q->state == BUSY && s->atts[q->last].end <= t) {
		q->state = RETRYING;
		q->since = s->atts[q->last].end;
	}
	if ((q->state == WAITING || q->state == RETRYING) && answered_by(&s->reqs[k], t))
		q->state = FINISHED;	/* answered: it tries no more */
}

/* Waiting when attempt i began, and able to take it (answered only
 * once the gateway knew it failed, not before the kernel saw it fail). */
static bool eligible(const struct search *s, const struct req_state *st, unsigned k, unsigned i)
{
	const struct loop_req *r = &s->reqs[k];
	const struct loop_att *a = &s->atts[i];

	if (st[k].state == WAITING && r->queued > a->began)
		return false;
	if (st[k].state != WAITING && st[k].state != RETRYING)
		return false;
	return !r->answered || r->answered >= a->end;
}

/* The requests waiting when attempt i began, longest first. */
static unsigned queue_at(const struct search *s, const struct req_state *st, unsigned i,
			 uint8_t *q)
{
	unsigned n = 0;

	for (unsigned k = 0; k < s->nreq; k++) {
		unsigned p = n;

		if (!eligible(s, st, k, i))
			continue;
		for (; p > 0 && st[q[p - 1]].since > st[k].since; p--)
			q[p] = q[p - 1];
		q[p] = (uint8_t)k;
		n++;
	}
	return n;
}

static bool same_for_target(const struct search *s)
{
	for (unsigned i = 0; i < s->natt; i++)
		if ((s->owner[i] == (int)s->target) != (s->res->owner[i] == (int)s->target))
			return false;
	return true;
}

/* The same at the end, for answers: one passed over was answered in
 * that turn, before any request whose last try failed after the pass
 * (answered in a later turn). */
static bool answers_in_turn(const struct search *s, const struct req_state *st)
{
	for (unsigned p = 0; p < s->nreq; p++) {
		if (!st[p].passed_at)
			continue;
		for (unsigned f = 0; f < s->nreq; f++) {
			const struct loop_att *last = &s->atts[st[f].last];

			if (f != p && st[f].tries && !st[f].passed_at &&
			    last->end > st[p].passed_at && s->reqs[f].answered &&
			    s->reqs[p].answered > s->reqs[f].answered)
				return false;
		}
	}
	return true;
}

static void found(struct search *s, const struct req_state *st)
{
	struct loop_result *res = s->res;

	if (!answers_in_turn(s, st))
		return;
	if (!res->solutions++)
		memcpy(res->owner, s->owner, sizeof(res->owner));
	else if (!same_for_target(s))
		res->agree = false;
}

/* Serving q[c] with attempt i passes over those waiting longer (ties
 * aside): each then tried no more.  One retrying may have stopped (its
 * answer came later: a retry's wait is no promise); one waiting for its
 * first try cannot be passed over (one served without a try, answered
 * before i failed, is not in the queue: eligible()).  False when one
 * cannot be. */
static bool pass_over(struct req_state *next, const uint8_t *q, unsigned c, uint64_t at)
{
	for (unsigned p = 0; p < c; p++) {
		if (next[q[c]].since - next[q[p]].since <= LOOP_TIE_NS)
			continue;
		if (next[q[p]].state == WAITING)
			return false;
		next[q[p]].state = FINISHED;
		next[q[p]].passed_at = at;
	}
	return true;
}

/* A request passed over was served (answered) in that turn of the loop:
 * its answer is written before a later turn, one serving what became
 * ready after the pass (a retry after a failure seen since).  Could
 * attempt i go to q, which waits since `since`? */
static bool turns_allow(const struct search *s, const struct req_state *st, unsigned i,
			uint64_t since)
{
	for (unsigned k = 0; k < s->nreq; k++)
		if (st[k].passed_at && st[k].passed_at < since &&
		    s->reqs[k].answered > s->atts[i].began)
			return false;
	return true;
}

/* Give attempt i, then the rest, to every request the loop's order
 * allows: the one waiting longest, or one after it when those ahead
 * tried no more (answered later: a retry's wait is not a promise) or
 * waited about as long (served in either order). */
static void assign(struct search *s, const struct req_state *in, unsigned i)
{
	struct req_state st[LOOP_MAX_REQS];
	uint8_t q[LOOP_MAX_REQS];
	unsigned n;

	if (!s->res->agree || s->res->gave_up)
		return;
	if (++s->nodes > LOOP_MAX_NODES) {
		s->res->gave_up = true;
		return;
	}
	if (i == s->natt) {
		found(s, in);
		return;
	}
	memcpy(st, in, s->nreq * sizeof(*st));
	for (unsigned k = 0; k < s->nreq; k++)
		advance(s, st, k, s->atts[i].began);
	n = queue_at(s, st, i, q);
	for (unsigned c = 0; c < n; c++) {
		struct req_state next[LOOP_MAX_REQS];
		int fixed = s->atts[i].fixed;

		memcpy(next, st, s->nreq * sizeof(*st));
		if (!pass_over(next, q, c, s->atts[i].began))
			break;	/* nor can any behind it be served first */
		if ((fixed < 0 || fixed == q[c]) && turns_allow(s, next, i, st[q[c]].since)) {
			next[q[c]].state = BUSY;
			next[q[c]].last = (uint8_t)i;
			next[q[c]].tries++;
			s->owner[i] = (int8_t)q[c];
			assign(s, next, i + 1);
		}
	}
}

bool loop_solve(const struct loop_req *reqs, unsigned nreq, const struct loop_att *atts,
		unsigned natt, unsigned target, struct loop_result *res)
{
	struct req_state st[LOOP_MAX_REQS];
	struct search s = { .reqs = reqs, .atts = atts, .nreq = nreq, .natt = natt,
			    .target = target, .res = res };

	memset(res, 0, sizeof(*res));
	res->agree = true;
	if (nreq > LOOP_MAX_REQS || natt > LOOP_MAX_ATTS || target >= nreq) {
		res->gave_up = true;
		return false;
	}
	for (unsigned k = 0; k < nreq; k++) {
		st[k].state = reqs[k].done ? FINISHED : WAITING;
		st[k].since = reqs[k].queued;
		st[k].last = st[k].tries = 0;
		st[k].passed_at = 0;
	}
	assign(&s, st, 0);
	return res->solutions && res->agree && !res->gave_up;
}
