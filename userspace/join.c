// SPDX-License-Identifier: MIT
/* Join engine: see join.h for the contract.  Everything here is a pure
 * function of the requests and attempts reported and of event time, so
 * replays decide exactly as the live run did. */
#include <stdlib.h>
#include <string.h>
#include "join.h"
#include "join_match.h"
#include "join_loop.h"

#define SLOT(id) ((id) & 0xffff)
#define GEN(id) ((id) >> 16)
#define FREE_POS UINT32_MAX

/* How strongly an attempt's content says it belongs to a request. */
enum level {
	LVL_NONE = 0,	/* cannot be its attempt */
	LVL_TIME,	/* no content to compare (opaque, failed connect) */
	LVL_TAIL,	/* same method, headers, and path tail under another prefix */
	LVL_PATH,	/* same method, headers and path */
	LVL_ID,		/* same propagated id */
};
_Static_assert(LVL_ID + 1 == JOIN_LEVELS, "join.h counts the levels");

const char *join_kind_name(enum join_kind k)
{
	static const char *const names[JOIN__MAX] = {
		[JOIN_NONE] = "none", [JOIN_ID] = "id", [JOIN_CONTENT] = "content",
		[JOIN_ORDER] = "order", [JOIN_TIME] = "time", [JOIN_AMBIGUOUS] = "ambiguous",
	};

	return k < JOIN__MAX ? names[k] : "none";
}

const char *req_proto_name(enum req_proto p)
{
	switch (p) {
	case REQ_PROTO_H2: return "h2";
	case REQ_PROTO_GRPC: return "grpc";
	default: return "h1";
	}
}

const char *attempt_failure_name(enum attempt_failure f)
{
	static const char *const names[] = {
		[ATTEMPT_OK] = NULL, [ATTEMPT_REFUSED] = "refused",
		[ATTEMPT_CONNECT_TIMEOUT] = "connect_timeout", [ATTEMPT_UNREACHABLE] = "unreachable",
		[ATTEMPT_RESET] = "reset", [ATTEMPT_CLOSED] = "closed", [ATTEMPT_ABANDONED] = "abandoned",
	};

	return f <= ATTEMPT_ABANDONED ? names[f] : NULL;
}

/* A request decided unfinished because the table was full has no outcome
 * yet: not a failure we know of (its verdict says unknown). */
bool request_failed(const struct request *r)
{
	if (request_unfinished(r))
		return false;
	return r->status == 0 || r->status >= 500 || r->truncated || r->client_closed;
}

bool request_unfinished(const struct request *r)
{
	return r->evicted && !r->status && !r->client_closed;
}

bool grpc_deadline_reached(uint64_t timeout_ns, uint64_t elapsed_ns)
{
	uint64_t slack = timeout_ns / 10 > 50000000ull ? timeout_ns / 10 : 50000000ull;

	return timeout_ns && elapsed_ns + slack >= timeout_ns;
}

bool request_deadline_passed(const struct request *r)
{
	return r->client_closed && r->ts_client_fin >= r->ts_start &&
	       grpc_deadline_reached(r->grpc_timeout_ns, r->ts_client_fin - r->ts_start);
}

/* ---- slots ---- */

static int pool_init(struct join_pool *p, uint32_t cap)
{
	p->cap = cap;
	p->slot = calloc(cap, sizeof(*p->slot));
	p->active = calloc(cap, sizeof(*p->active));
	p->free = calloc(cap, sizeof(*p->free));
	if (!p->slot || !p->active || !p->free)
		return -1;
	for (uint32_t slot = cap - 1; slot >= 1; slot--) {
		p->slot[slot].pos = FREE_POS;
		p->free[p->nfree++] = slot;
	}
	return 0;
}

static void pool_free(struct join_pool *p)
{
	free(p->slot);
	free(p->active);
	free(p->free);
}

/* A free slot's handle, or 0 when the pool is full. */
static uint32_t pool_take(struct join_pool *p)
{
	struct join_slot *m;
	uint32_t slot;

	if (!p->nfree)
		return 0;
	slot = p->free[--p->nfree];
	m = &p->slot[slot];
	m->pos = p->nactive;
	p->active[p->nactive++] = slot;
	m->older = p->newest;
	m->newer = 0;
	if (p->newest)
		p->slot[p->newest].newer = slot;
	else
		p->oldest = slot;
	p->newest = slot;
	return slot | (uint32_t)++m->gen << 16;
}

static void pool_put(struct join_pool *p, uint32_t slot)
{
	struct join_slot *m = &p->slot[slot];
	uint32_t i = m->pos, last = p->active[--p->nactive];

	if (m->older)
		p->slot[m->older].newer = m->newer;
	else
		p->oldest = m->newer;
	if (m->newer)
		p->slot[m->newer].older = m->older;
	else
		p->newest = m->older;
	p->active[i] = last;
	p->slot[last].pos = i;
	m->pos = FREE_POS;
	p->free[p->nfree++] = slot;
}

static bool pool_live(const struct join_pool *p, uint32_t id)
{
	uint32_t slot = SLOT(id);

	return id && slot && slot < p->cap && p->slot[slot].pos != FREE_POS &&
	       p->slot[slot].gen == GEN(id);
}

static uint32_t request_slots(uint32_t max_requests)
{
	if (!max_requests)
		return JOIN_REQUESTS;
	if (max_requests < JOIN_REQUESTS_MIN)
		return JOIN_REQUESTS_MIN;
	return max_requests > JOIN_REQUESTS_MAX ? JOIN_REQUESTS_MAX : max_requests;
}

int join_init(struct joiner *j, uint64_t wait_ns, uint32_t max_requests,
	      request_sink on_request, attempt_sink on_orphan, void *ctx)
{
	uint32_t nreqs = request_slots(max_requests);
	uint32_t natts = JOIN_ATTEMPTS_PER_REQUEST * nreqs;

	memset(j, 0, sizeof(*j));
	j->wait_ns = wait_ns ? wait_ns : JOIN_WAIT_DEFAULT_NS;
	j->on_request = on_request;
	j->on_orphan = on_orphan;
	j->ctx = ctx;
	j->next_decision = UINT64_MAX;
	j->reqs = calloc(nreqs, sizeof(*j->reqs));
	j->atts = calloc(natts, sizeof(*j->atts));
	j->cand = calloc(natts, sizeof(*j->cand));
	j->cand_lvl = calloc(natts, sizeof(*j->cand_lvl));
	j->window = calloc(natts, sizeof(*j->window));
	j->todo = calloc(nreqs, sizeof(*j->todo));
	j->todo_tmp = calloc(nreqs / 2 + 1, sizeof(*j->todo_tmp));
	if (!j->reqs || !j->atts || time_heap_init(&j->due, JOIN_DUE_PER_REQUEST * nreqs) ||
	    !j->cand || !j->cand_lvl || !j->window || !j->todo || !j->todo_tmp ||
	    pool_init(&j->rpool, nreqs) || pool_init(&j->apool, natts) ||
	    began_index_init(&j->by_began, natts) || began_index_init(&j->by_written, natts) ||
	    path_ids_init(&j->paths, nreqs + natts))
		return -1;
	return 0;
}

void join_free(struct joiner *j)
{
	free(j->reqs);
	free(j->atts);
	time_heap_free(&j->due);
	free(j->cand);
	free(j->cand_lvl);
	free(j->window);
	free(j->todo);
	free(j->todo_tmp);
	began_index_free(&j->by_began);
	began_index_free(&j->by_written);
	path_ids_free(&j->paths);
	pool_free(&j->rpool);
	pool_free(&j->apool);
	memset(j, 0, sizeof(*j));
}

struct request *join_request(struct joiner *j, uint32_t id)
{
	return pool_live(&j->rpool, id) ? &j->reqs[SLOT(id)] : NULL;
}

struct attempt *join_attempt(struct joiner *j, uint32_t id)
{
	return pool_live(&j->apool, id) ? &j->atts[SLOT(id)] : NULL;
}

/* ---- evidence ---- */

/* When the attempt ended: its response head read, or its connection's
 * first FIN or RST (or close); 0 while it is still open. */
uint64_t attempt_end(const struct attempt *a)
{
	const struct gs_conn_event *e = &a->conn;
	uint64_t t;

	if (a->status)
		return a->ts_resp_read;
	if (a->ts_stream_end)
		return a->ts_stream_end;	/* an HTTP/2 stream reset or refused */
	if (!a->have_conn)
		return 0;
	t = e->ts_fin;
	if (e->ts_rst && (!t || e->ts_rst < t))
		t = e->ts_rst;
	return t ? t : e->ts_close;
}

/* When the gateway began it: connect() or the request write; for an
 * opaque connection, its last write (it may have served earlier requests). */
static uint64_t attempt_began(const struct attempt *a)
{
	return a->opaque && a->ts_request ? a->ts_request : a->ts_start;
}

/* The moment the gateway answered the client (or the exchange ended). */
static uint64_t answer_time(const struct request *r)
{
	return r->ts_response ? r->ts_response : r->ts_done;
}

/* Ended without failing: answered 1xx-4xx, not cut short, its client
 * stayed.  The attempt that answered it was read before the gateway
 * passed its answer on, so its evidence is in when the answer is. */
static bool answered_well(const struct request *r)
{
	return r->ts_response && !request_failed(r);
}

/* r waits the whole join_wait; the requests answered after it are joined
 * after it (join_due). */
static void hold(struct joiner *j, struct request *r)
{
	uint64_t at = answer_time(r);

	r->held = true;
	if (at > j->held_last)
		j->held_last = at;
}

/* When r may be joined: join_wait after its answer, so that late facts
 * (failed connects, closes) are in.  A request answered well needs less
 * (JOIN_ANSWERED_WAIT_NS, against records read a little out of order),
 * but requests are joined in the order they were answered (a failed one
 * may claim attempts, refused connects or retries, that another would
 * take): no sooner than the last request held, never later than its own
 * join_wait.  A request is held when it failed, and when it would be
 * joined early with its exchange not over (consumers see each client's
 * requests in the order they were answered: a retry after the answer it
 * follows) or with a candidate that had not read its answer (try_join). */
static uint64_t join_due(struct joiner *j, struct request *r)	/* r not joined yet */
{
	uint64_t at = answer_time(r), due = at + JOIN_ANSWERED_WAIT_NS;

	if (!answered_well(r))
		hold(j, r);
	if (r->held || j->wait_ns <= JOIN_ANSWERED_WAIT_NS)
		return at + j->wait_ns;
	if (j->held_last && j->held_last + j->wait_ns > due)
		due = j->held_last + j->wait_ns;	/* behind the last held one */
	return due < at + j->wait_ns ? due : at + j->wait_ns;
}

static uint64_t distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

#define FNV32_BASIS 2166136261u

static uint32_t fnv32_step(uint32_t h, char c)
{
	return (h ^ (uint8_t)c) * 16777619u;
}

static uint32_t fnv32(const char *s, size_t n)
{
	uint32_t h = FNV32_BASIS;

	for (size_t i = 0; i < n; i++)
		h = fnv32_step(h, s[i]);
	return h;
}

/* Tail segments same_tail() compares for a downstream path: the last two
 * when it has more than two '/', else the last one. */
static unsigned segments_of(unsigned slashes)
{
	return slashes > 2 ? 2 : 1;
}

static unsigned tail_segments(const char *path)
{
	unsigned slashes = 0;

	for (const char *c = path; *c; c++)
		slashes += *c == '/';
	return segments_of(slashes);
}

/* A path that ends with another's tail of k segments (which starts at a
 * '/' and holds k of them) has the same suffix from its own k-th '/'
 * from the end: equal tail[k - 1] hashes are necessary for same_tail().
 * One pass finds the length, the hash, the slashes and the last two. */
static void path_sig_set(struct path_sig *s, const char *path)
{
	size_t n, from[2] = { 0, 0 };	/* the last '/', the one before */
	unsigned slashes = 0;
	uint32_t whole = FNV32_BASIS;

	for (n = 0; path[n]; n++) {
		whole = fnv32_step(whole, path[n]);
		if (path[n] == '/') {
			from[1] = from[0];
			from[0] = n;
			slashes++;
		}
	}
	s->whole = whole;
	for (unsigned k = 0; k < 2; k++)
		s->tail[k] = fnv32(path + from[k], n - from[k]);
	s->tail_segs = slashes ? (uint8_t)segments_of(slashes) : 0;
}

/* Can up end with down's tail?  False only when it surely cannot. */
static bool tail_may_match(const struct path_sig *down, const struct path_sig *up)
{
	return !down->tail_segs || down->tail[down->tail_segs - 1] == up->tail[down->tail_segs - 1];
}

/* The method's bytes as one word when it is shorter than 8 (every method
 * in use): compared as an integer, exactly; 0 for a longer one. */
static uint64_t method_word(const char *method)
{
	size_t n = strnlen(method, 8);
	uint64_t w = 0;

	if (n == 8)
		return 0;
	memcpy(&w, method, n);
	return w;
}

static bool same_method(const struct path_sig *x, const char *xm, const struct path_sig *y,
			const char *ym)
{
	if (x->method && y->method)
		return x->method == y->method;
	return !strcmp(xm, ym);
}

static bool same_path(const struct path_sig *x, const char *xp, const struct path_sig *y,
		      const char *yp)
{
	if (x->path_id && y->path_id)
		return x->path_id == y->path_id;
	return x->whole == y->whole && !strcmp(xp, yp);
}

/* The same tail under a rewritten prefix: the last two segments (the
 * last one for a shorter path) match ("/api/items/7" and
 * "/v2/items/7", not "/b/1/2" and "/status/200/2"). */
static bool same_tail(const char *down, const char *up)
{
	size_t dn = strlen(down), un = strlen(up), common = 0, tail = 0;
	unsigned segs = 0, want = tail_segments(down);
	while (tail < dn && segs < want)
		segs += down[dn - 1 - tail++] == '/';
	while (common < dn && common < un && down[dn - 1 - common] == up[un - 1 - common])
		common++;
	return tail > 1 && common >= tail;
}

/* Every copied header both heads carry has the same value. */
static bool fp_compatible(const struct http_fp *d, const struct http_fp *u)
{
	for (unsigned i = 0; i < d->n; i++)
		for (unsigned k = 0; k < u->n; k++)
			if (d->name[i] == u->name[k] && d->hash[i] != u->hash[k])
				return false;
	return true;
}

/* Another request of the process has exactly this attempt's path: a
 * tail match elsewhere is no evidence ("/a/1/2" is not "/b/1/2"). */
static bool path_claimed(const struct joiner *j, const struct request *r, const struct attempt *a)
{
	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];

		if (o != r && o->pid == a->pid && o->ts_start <= attempt_began(a) &&
		    same_path(&o->sig, o->path, &a->sig, a->path))
			return true;
	}
	return false;
}

static enum level content_level(const struct joiner *j, const struct request *r,
				const struct attempt *a)
{
	if (a->pid != r->pid)
		return LVL_NONE;
	if (a->req_id && r->req_id)
		return a->req_id == r->req_id ? LVL_ID : LVL_NONE;
	if (a->opaque || !a->method[0])
		return LVL_TIME;
	if ((r->method[0] && !same_method(&r->sig, r->method, &a->sig, a->method)) ||
	    !fp_compatible(&r->fp, &a->fp))
		return LVL_NONE;
	if (same_path(&r->sig, r->path, &a->sig, a->path))
		return LVL_PATH;
	if (tail_may_match(&r->sig, &a->sig) && same_tail(r->path, a->path) &&
	    !path_claimed(j, r, a))
		return LVL_TAIL;
	return LVL_NONE;
}

/* A fresh connection's attempt whose request went out after its connect
 * (gather_dialed_ahead). */
static bool written_later(const struct attempt *a)
{
	return !a->opaque && a->ts_request > attempt_began(a);
}

/* Could the attempt be one of r's at all: same process, begun while r was
 * in flight, compatible content. */
static enum level candidate_level(const struct joiner *j, const struct request *r,
				  const struct attempt *a)
{
	uint64_t began = attempt_began(a);

	if (a->owner || began < r->ts_start || began > answer_time(r))
		return LVL_NONE;
	return content_level(j, r, a);
}

/* Does the attempt's outcome agree with what the client got? */
static bool outcome_agrees(const struct request *r, const struct attempt *a)
{
	if (a->status)
		return a->status == r->status && !a->truncated;
	return request_failed(r);
}

/* Would binding a or b give r a different verdict? */
static bool outcomes_differ(const struct attempt *a, const struct attempt *b)
{
	return strcmp(a->backend, b->backend) || a->status != b->status ||
	       a->failure != b->failure || a->truncated != b->truncated ||
	       a->opaque_answered != b->opaque_answered;
}

/* The choice of r's last attempt. */
struct pick {
	struct attempt *last;
	enum join_kind kind;
	/* When the whole chain is known (loop_pick): its tries, oldest first. */
	struct attempt *chain[REQ_ATTEMPTS + 1];
	unsigned nchain;
};

/* A candidate for a request's last attempt, with its end's distance from
 * the moment the gateway answered. */
struct cand {
	struct attempt *a;
	uint64_t d;
	bool agrees;		/* its outcome is the client's */
	bool after;		/* it ended after the answer */
	bool same_tid;		/* begun on the thread that read the request */
};

/* Is x a better last attempt than y?  An outcome that agrees with the
 * client's first.  Then, for two answered attempts, the one begun first: a
 * gateway may pass an answer on long after it read its head (it waits for
 * the body), so nearness proves nothing, and requests are joined in the
 * order they were answered, so the oldest feasible attempt is the one
 * later requests can use least.  For attempts ended by a close: the
 * request's own thread when their outcomes differ, then the side of the
 * answer this gateway closes on (once learned), then the nearest: a
 * gateway answers right after it gives up on (or is refused by) an
 * upstream, or closes it right after answering.  (Same-outcome closes:
 * oldest_sibling().) */
static bool better(const struct cand *x, const struct cand *y, int side)
{
	if (x->agrees != y->agrees)
		return x->agrees;
	if (x->a->status && y->a->status)
		return attempt_began(x->a) < attempt_began(y->a);
	/* Event-loop gateways keep a request on the thread that read it
	 * (HAProxy's threads, nginx's workers): a hint, not a key. */
	if (x->same_tid != y->same_tid && outcomes_differ(x->a, y->a))
		return x->same_tid;
	if (side && x->after != y->after)
		return x->after == (side > 0);
	return x->d < y->d;
}

/* Did the gateway itself end the attempt (gave up on it: a connect or
 * read timeout), rather than the backend or the network? */
static bool gateway_closed(const struct attempt *a)
{
	return a->have_conn && !a->status &&
	       (a->failure == ATTEMPT_CONNECT_TIMEOUT || a->failure == ATTEMPT_ABANDONED);
}

/* On which side of its answer does the traced gateway close an attempt it
 * gave up on: +1 after (HAProxy answers first), -1 before (nginx closes
 * first), 0 not known yet (or mixed, when gateways of both kinds are
 * traced at once).  Learned from requests with one candidate. */
static int close_side(const struct joiner *j)
{
	if (j->closes_after >= 8 && j->closes_after >= 4 * j->closes_before)
		return 1;
	if (j->closes_before >= 8 && j->closes_before >= 4 * j->closes_after)
		return -1;
	return 0;
}

/* The thread counts of a process; with make, a slot for it (the least
 * seen one's when all are taken). */
static struct join_threads *threads_of(struct joiner *j, uint32_t pid, bool make)
{
	struct join_threads *least = &j->threads[0];

	for (unsigned i = 0; i < JOIN_THREAD_PROCS; i++) {
		struct join_threads *t = &j->threads[i];

		if (t->pid == pid)
			return t;
		if (t->own + t->other < least->own + least->other)
			least = t;
	}
	if (!make)
		return NULL;
	*least = (struct join_threads){ .pid = pid };
	return least;
}

/* Does this process write a request's attempts on the thread that read it
 * (HAProxy's and Envoy's threads: a key), or anywhere (Go's goroutines move
 * between threads: no hint)?  Learned from requests with one candidate. */
static bool keeps_threads(const struct joiner *j, uint32_t pid)
{
	const struct join_threads *t = threads_of((struct joiner *)j, pid, false);

	return t && t->own >= 8 && t->own >= 4 * t->other;
}

static void learn_thread(struct joiner *j, uint32_t pid, bool own)
{
	struct join_threads *t = threads_of(j, pid, true);

	own ? t->own++ : t->other++;
}

/* Did one attempt end before the other began (a retry after a failure)? */
static bool one_after_other(const struct attempt *a, const struct attempt *b)
{
	return attempt_end(a) <= attempt_began(b) || attempt_end(b) <= attempt_began(a);
}

/* Two fits the evidence cannot separate, with different verdicts: both
 * ended by a close, equally near the answer, and in flight at the same
 * time (one that ended before the other began is its retry). */
static bool tie(const struct request *r, const struct cand *best, const struct cand *second)
{
	/* Without content (failed connects, unreadable bytes) nearness is
	 * all there is: a wider window. */
	uint64_t window = best->a->opaque || second->a == NULL || second->a->opaque ?
			  JOIN_GROUP_NS : JOIN_TIE_NS;

	return request_failed(r) && second->a && best->agrees == second->agrees &&
	       best->same_tid == second->same_tid && !best->a->status && !second->a->status &&
	       second->d - best->d <= window && outcomes_differ(best->a, second->a) &&
	       !one_after_other(best->a, second->a);
}

static enum join_kind kind_of(const struct request *r, enum level lvl, unsigned seen,
			      const struct attempt *last)
{
	if (lvl == LVL_ID)
		return JOIN_ID;
	if (lvl == LVL_TIME)
		return JOIN_TIME;
	if (seen == 1)
		return JOIN_CONTENT;	/* the only attempt with its content */
	return last->tid == r->tid ? JOIN_ORDER : JOIN_TIME;
}

/* Is a a fit for r's last attempt at this level: ended, causally
 * possible, within JOIN_FIT_NS of the answer?  Fills c. */
static bool fit_measure(const struct request *r, struct attempt *a, struct cand *c)
{
	uint64_t end = attempt_end(a), ref = answer_time(r);

	if (!end)
		return false;
	/* The gateway reads an answer before it passes it on: an answer
	 * read after the client's answer was written is another request's.
	 * (A close may come either side: HAProxy answers a failed connect
	 * before it closes the socket.) */
	if (a->status && r->ts_response && end > r->ts_response)
		return false;
	/* Nor can it answer a refusal, a reset or a backend's FIN before the
	 * kernel saw it. */
	if (a->have_conn && !a->status && !gateway_closed(a) && r->ts_response &&
	    end > r->ts_response)
		return false;
	c->a = a;
	c->d = distance(end, ref);
	c->agrees = outcome_agrees(r, a);
	c->after = end > ref;
	c->same_tid = a->tid == r->tid;
	return c->d <= JOIN_FIT_NS;
}

/* The same for r's gathered candidate i, of level lvl: its level is
 * known, it does not change while r's choice is made (gather_candidates). */
static bool cand_fit(const struct joiner *j, const struct request *r, enum level lvl,
		     uint32_t i, struct cand *c)
{
	return j->cand_lvl[i] == lvl && fit_measure(r, j->cand[i], c);
}

/* A sibling of best: a fit ended by a close as best was, with best's
 * outcome and its agreement. */
static bool sibling(const struct joiner *j, const struct request *r, enum level lvl,
		    const struct cand *best, uint32_t i, struct cand *c)
{
	const struct attempt *a = j->cand[i];

	return !a->status && cand_fit(j, r, lvl, i, c) && c->agrees == best->agrees &&
	       !outcomes_differ(a, best->a);
}

/* Fits ended by a close with the same outcome (a gateway whose timers for
 * many requests fire together, or whose goroutines answer tens of ms
 * after they close): which one is nearest proves little, and taking a
 * neighbour's leaves that neighbour only attempts begun before it.  The
 * oldest one that no sibling began after (a retry follows its failed
 * predecessor) goes: requests are joined in the order they were answered,
 * so taking the oldest usable attempt leaves later ones the most, and the
 * verdict is the same either way.  On the request's own thread when the
 * gateway keeps requests to their threads and best is there.  Siblings are
 * gathered once, at most JOIN_SIBLINGS of them. */
static void oldest_sibling(const struct joiner *j, const struct request *r, enum level lvl,
			   struct cand *best)
{
	struct cand sib[JOIN_SIBLINGS], c;
	unsigned n = 0;
	bool own_thread;

	if (best->a->status)
		return;
	own_thread = best->same_tid && keeps_threads(j, r->pid);
	for (uint32_t i = 0; i < j->ncand && n < JOIN_SIBLINGS; i++)
		if (sibling(j, r, lvl, best, i, &c) && (c.same_tid || !own_thread))
			sib[n++] = c;
	for (unsigned i = 0; i < n; i++) {
		bool followed = false;

		for (unsigned k = 0; k < n && !followed; k++)
			followed = k != i && attempt_began(sib[k].a) >= attempt_end(sib[i].a);
		if (!followed && attempt_began(sib[i].a) < attempt_began(best->a))
			*best = sib[i];
	}
}

/* Could a be one of o's attempts: same process, unclaimed, begun while o
 * was in flight (o may not be answered yet), compatible content. */
static bool could_be(const struct joiner *j, const struct request *o, const struct attempt *a)
{
	uint64_t began = attempt_began(a), answered = answer_time(o);

	return !a->owner && a->pid == o->pid && began >= o->ts_start &&
	       (!answered || began <= answered) && content_level(j, o, a) != LVL_NONE;
}

/* Is c's attempt better explained by another request, one not decided
 * yet that was answered nearer its end (by more than margin) and whose
 * outcome it explains (the refusal another client got at once, ending
 * next to this request's own connect timeout)? */
static bool nearer_another(const struct joiner *j, const struct request *r, const struct cand *c,
			   uint64_t margin)
{
	uint64_t end = attempt_end(c->a);

	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];

		if (o != r && !o->joined && answer_time(o) && could_be(j, o, c->a) &&
		    outcome_agrees(o, c->a) && distance(end, answer_time(o)) + margin < c->d)
			return true;
	}
	return false;
}

/* ---- the other failed requests' share (join_match.h) ---- */

/* The failed requests of r's process other than r, answered and not
 * joined yet, in flight while r was; and the failed connects (no content,
 * no answer: only time links them to a request) begun meanwhile that any
 * of them could have made, one bit each. */
struct others {
	struct join_match m;
	struct attempt *att[JOIN_MATCH_ATTS];
	unsigned natt;
};

static bool other_failed(const struct request *r, const struct request *o)
{
	return o != r && !o->joined && o->pid == r->pid && answer_time(o) && request_failed(o) &&
	       o->ts_start <= answer_time(r) && answer_time(o) >= r->ts_start;
}

static bool bare_failure(const struct attempt *a)
{
	return attempt_end(a) && !a->status && (a->opaque || !a->method[0]);
}

/* False when there are none, or too many to ask (then nothing changes). */
static bool others_of(struct joiner *j, const struct request *r, struct others *ot)
{
	const struct request *reqs[JOIN_MATCH_REQS];
	uint32_t ids[JOIN_MATCH_ATTS + 1], n;
	uint64_t lo = r->ts_start, hi = answer_time(r);

	ot->m.nreq = ot->natt = 0;
	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];

		if (!other_failed(r, o))
			continue;
		if (ot->m.nreq == JOIN_MATCH_REQS)
			return false;
		reqs[ot->m.nreq++] = o;
		lo = o->ts_start < lo ? o->ts_start : lo;
		hi = answer_time(o) > hi ? answer_time(o) : hi;
	}
	if (!ot->m.nreq)
		return false;
	n = began_index_range(&j->by_began, lo, hi, r->pid, ids, JOIN_MATCH_ATTS + 1);
	if (n > JOIN_MATCH_ATTS)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct attempt *a = &j->atts[SLOT(ids[i])];

		if (!a->owner && bare_failure(a))
			ot->att[ot->natt++] = a;
	}
	for (unsigned q = 0; q < ot->m.nreq; q++) {
		ot->m.adj[q] = 0;
		for (unsigned b = 0; b < ot->natt; b++)
			if (could_be(j, reqs[q], ot->att[b]) && outcome_agrees(reqs[q], ot->att[b]))
				ot->m.adj[q] |= 1ull << b;
	}
	return true;
}

/* a's bit, 0 when it is none of theirs. */
static uint64_t others_bit(const struct others *ot, const struct attempt *a)
{
	for (unsigned b = 0; b < ot->natt; b++)
		if (ot->att[b] == a)
			return 1ull << b;
	return 0;
}

static unsigned retry_chain(struct joiner *j, const struct request *r, struct attempt *last,
			    struct attempt **chain);

/* The first try of the retry chain that ends at a. */
static struct attempt *chain_head(struct joiner *j, const struct request *r, struct attempt *a)
{
	struct attempt *chain[REQ_ATTEMPTS + 1];

	return chain[retry_chain(j, r, a, chain) - 1];
}

/* Did another attempt of head's process (of its thread, by_thread)
 * begin after lo and before hi?  Then head is not the first try begun
 * after lo. */
static bool begun_between(struct joiner *j, const struct attempt *head, uint64_t lo,
			  uint64_t hi, bool by_thread)
{
	struct began_index *x = &j->by_began;	/* the search moves its hint */

	for (uint32_t i = began_index_from(x, lo + 1); i < x->n && x->v[i].began < hi; i++) {
		const struct attempt *a;

		if (!x->v[i].id || x->v[i].pid != head->pid)
			continue;
		a = &j->atts[SLOT(x->v[i].id)];
		if (a != head && (!by_thread || a->tid == head->tid))
			return true;
	}
	return false;
}

/* Did head begin right after (within JOIN_TIE_NS) an attempt that r
 * could not have made failed, on head's thread where the gateway keeps
 * threads?  Then it is that attempt's retry (HAProxy connects again in the
 * turn of its loop that gave up), not a first try begun for r. */
static bool retry_of_another(struct joiner *j, const struct request *r,
			     const struct attempt *head)
{
	uint64_t began = attempt_began(head);
	bool by_thread = keeps_threads(j, r->pid);

	for (uint32_t i = 0; i < j->apool.nactive; i++) {
		const struct attempt *x = &j->atts[j->apool.active[i]];
		uint64_t end = attempt_end(x);

		if (x == head || x->pid != r->pid || x->status || attempt_began(x) >= r->ts_start ||
		    (by_thread && x->tid != head->tid))
			continue;
		if (end > r->ts_start && end <= began && began - end <= JOIN_TIE_NS &&
		    !begun_between(j, head, end, began, by_thread))
			return true;
	}
	return false;
}

/* Was this first try begun for r: is r the request of the process that
 * began last before it, and no other request's retry?  A gateway connects
 * upstream right after it reads a request's head. */
static bool began_for(struct joiner *j, const struct request *r, const struct attempt *head)
{
	uint64_t began = attempt_began(head);

	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];

		if (o != r && o->pid == r->pid && o->ts_start > r->ts_start && o->ts_start <= began)
			return false;
	}
	return r->ts_start <= began && !retry_of_another(j, r, head);
}

/* Two retry chains whose first tries both began after r and one other
 * request of r's thread were read, all on that thread: a gateway that
 * keeps requests to their threads runs each thread's event loop in order,
 * so the chain begun first is the request read first.  Is h1 (rather
 * than h2) r's?  +1 yes, -1 no, 0 when that rule does not apply. */
static int thread_order(struct joiner *j, const struct request *r,
			const struct attempt *h1, const struct attempt *h2)
{
	const struct request *other = NULL;
	bool retry1, retry2;

	if (!keeps_threads(j, r->pid) || h1->tid != r->tid || h2->tid != r->tid)
		return 0;
	/* A head is the first try r could have made.  When only one of the
	 * two begun right after an older request's try failed, that one is
	 * the older request's retry: its chain began before r was read. */
	retry1 = retry_of_another(j, r, h1);
	retry2 = retry_of_another(j, r, h2);
	if (retry1 != retry2)
		return retry1 ? -1 : 1;
	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];

		if (o == r || o->joined || o->tid != r->tid ||
		    !(could_be(j, o, h1) || could_be(j, o, h2)))
			continue;
		if (other)
			return 0;	/* more requests than chains */
		other = o;
	}
	if (!other || !could_be(j, other, h1) || !could_be(j, other, h2))
		return 0;
	return (attempt_began(h1) < attempt_began(h2)) == (r->ts_start < other->ts_start) ? 1 : -1;
}

/* A tie is settled when only one of the two is r's by other evidence:
 * the other is better explained by another request, or only one's retry
 * chain began right after r arrived (two requests whose retries run in
 * step, their closes in the same batch of timers). */
static void settle_tie(struct joiner *j, const struct request *r, struct cand *best,
		       struct cand *second)
{
	bool best_mine = !nearer_another(j, r, best, 0), second_mine = !nearer_another(j, r, second, 0);

	if (best_mine == second_mine) {
		struct attempt *h1 = chain_head(j, r, best->a), *h2 = chain_head(j, r, second->a);
		int order = thread_order(j, r, h1, h2);

		best_mine = order ? order > 0 : began_for(j, r, h1);
		second_mine = order ? order < 0 : began_for(j, r, h2);
	}
	if (best_mine == second_mine)
		return;
	if (second_mine)
		*best = *second;
	second->a = NULL;
}

/* Among the candidates of one level: the best fit (see better() and
 * oldest_sibling()), else the newest attempt still open; and whether a
 * second fit makes it a tie. */
/* An answered request other than r, not joined yet, that would look for
 * its attempts at this level: none of a higher level is in (a request of
 * another route with an attempt of its own content is no claimant). */
static bool claimant(const struct joiner *j, const struct request *r, const struct request *o,
		     enum level lvl)
{
	if (o == r || o->joined || !answer_time(o))
		return false;
	for (uint32_t i = 0; i < j->apool.nactive; i++)
		if (candidate_level(j, o, &j->atts[j->apool.active[i]]) > lvl)
			return false;
	return true;
}

/* Another claimant whose failure a could explain. */
static bool wanted_by_another(const struct joiner *j, const struct request *r,
			      const struct attempt *a, enum level lvl)
{
	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];

		if (outcome_agrees(o, a) && could_be(j, o, a) && claimant(j, r, o, lvl))
			return true;
	}
	return false;
}

/* How many claimants some failed attempt of the level that r could also
 * have made would explain. */
static unsigned others_wanting(const struct joiner *j, const struct request *r, enum level lvl)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];
		bool wants = false;

		for (uint32_t k = 0; k < j->ncand && !wants; k++)
			wants = j->cand_lvl[k] == lvl && !j->cand[k]->status &&
				outcome_agrees(o, j->cand[k]) && could_be(j, o, j->cand[k]);
		n += wants && claimant(j, r, o, lvl);
	}
	return n;
}

/* Failed connects carry no request and join by time.  When a gateway
 * connects for several requests in turn, each refused before the next
 * connect (one connection's HTTP/2 streams), and answers them only after
 * all the refusals, they look like one request's retry chain.  When r
 * has failed attempts only it could have made, and every other failed
 * attempt it could have made has another answered request to explain (as
 * many such requests as such attempts), r keeps to its own: the others
 * are theirs, not r's retries. */
static void keep_to_own(struct joiner *j, const struct request *r, enum level lvl,
			struct cand *best)
{
	struct cand own = { 0 }, c;
	unsigned shared = 0;
	int side = close_side(j);

	for (uint32_t i = 0; i < j->ncand; i++) {
		struct attempt *a = j->cand[i];

		if (a->status || !cand_fit(j, r, lvl, i, &c) || !c.agrees)
			continue;
		if (wanted_by_another(j, r, a, lvl))
			shared++;
		else if (!own.a || better(&c, &own, side))
			own = c;
	}
	if (own.a && shared && others_wanting(j, r, lvl) >= shared)
		*best = own;
}

/* For a gateway that keeps requests to their threads, the thread is a
 * key, not a hint: when r has fits of this level on its own thread, only
 * those count.  (As a hint alone it made better() no order: A beats B on
 * the thread, B beats C by nearness, C beats A on the thread.) */
static bool own_thread_only(const struct joiner *j, const struct request *r, enum level lvl)
{
	struct cand c;

	if (!keeps_threads(j, r->pid))
		return false;
	for (uint32_t i = 0; i < j->ncand; i++)
		if (j->cand_lvl[i] == lvl && j->cand[i]->tid == r->tid && cand_fit(j, r, lvl, i, &c))
			return true;
	return false;
}

/* An attempt still open, with no answer read, can explain a failure (the
 * gateway gave up on it first; its close comes later), never an answer
 * the gateway passed on: that came from an attempt it had read one from.
 * Unless that attempt's answer could not be read (opaque).  Under load a
 * request whose own attempt ended beyond the fit window was otherwise
 * given another request's hanging attempt: a 200 named the slow server. */
static bool open_may_explain(const struct request *r, const struct attempt *a)
{
	return request_failed(r) || request_unfinished(r) || a->opaque;
}

/* A failed request whose own attempt's close has not come (its TCP facts
 * come at TCP_CLOSE, which a FIN-WAIT socket reaches late) still has
 * ended fits: other requests' attempts, given up on later by the same
 * timer.  Taken, they leave those requests nothing, and the verdict is
 * right only when the two happen to share a server.  When every ended fit
 * r has at this level was closed by the gateway, began after an attempt
 * still open that may explain r's failure (a timer begun first fires
 * first), and ended nearer the answer of another request not decided yet
 * whose outcome it explains, by more than a burst (JOIN_GROUP_NS: a
 * gateway whose timers fire together answers in any order within it),
 * they are those requests': r's is the oldest such open attempt (on its
 * own thread when the gateway keeps requests to their threads; returned),
 * and it waits for its facts.  NULL when r may have a fit of its own, on
 * any thread. */
static struct attempt *open_own(const struct joiner *j, const struct request *r, enum level lvl,
				bool own_only)
{
	struct attempt *open = NULL;
	struct cand c;
	unsigned n = 0;

	for (uint32_t i = 0; i < j->ncand; i++) {
		struct attempt *a = j->cand[i];

		if (j->cand_lvl[i] == lvl && !attempt_end(a) && open_may_explain(r, a) &&
		    (!own_only || a->tid == r->tid) && (!open || attempt_began(a) < attempt_began(open)))
			open = a;
	}
	if (!open)
		return NULL;
	for (uint32_t i = 0; i < j->ncand; i++) {	/* on every thread: the thread is no proof here */
		if (!cand_fit(j, r, lvl, i, &c))
			continue;
		if (!gateway_closed(c.a) || attempt_began(c.a) <= attempt_began(open) ||
		    !nearer_another(j, r, &c, JOIN_GROUP_NS))
			return NULL;
		n++;
	}
	return n ? open : NULL;
}

/* A failed request's last attempt, a failed connect, that would leave
 * another failed request with none it could have made, when another fit
 * of r's leaves each of them one: that other fit (the best of those). */
static void leave_others_theirs(struct joiner *j, const struct request *r, enum level lvl,
				bool own_only, struct cand *best)
{
	struct others ot;
	struct cand alt = { 0 }, c;
	int side = close_side(j);
	unsigned all;

	if (!request_failed(r) || !bare_failure(best->a) || !others_of(j, r, &ot))
		return;
	all = join_match_max(&ot.m, 0);
	if (join_match_max(&ot.m, others_bit(&ot, best->a)) == all)
		return;
	for (uint32_t i = 0; i < j->ncand; i++) {
		if (j->cand_lvl[i] != lvl || j->cand[i] == best->a || !cand_fit(j, r, lvl, i, &c) ||
		    !c.agrees || (own_only && !c.same_tid))
			continue;
		if (join_match_max(&ot.m, others_bit(&ot, c.a)) < all)
			continue;
		if (!alt.a || better(&c, &alt, side))
			alt = c;
	}
	if (alt.a)
		*best = alt;
}

static void pick_in_level(struct joiner *j, const struct request *r, enum level lvl,
			  struct pick *pk)
{
	struct cand best = { 0 }, second = { 0 }, c;
	struct attempt *open = NULL, *own;
	unsigned seen = 0, fits = 0;
	int side = close_side(j);
	bool own_only = own_thread_only(j, r, lvl);

	for (uint32_t i = 0; i < j->ncand; i++) {
		struct attempt *a = j->cand[i];

		if (j->cand_lvl[i] != lvl)
			continue;
		seen++;
		if (!attempt_end(a)) {
			if (open_may_explain(r, a) &&
			    (!open || attempt_began(a) > attempt_began(open)))
				open = a;
			continue;
		}
		if (!cand_fit(j, r, lvl, i, &c) || (own_only && !c.same_tid))
			continue;
		fits++;
		if (!best.a || better(&c, &best, side)) {
			second = best;
			best = c;
		} else if (!second.a || better(&c, &second, side)) {
			second = c;
		}
	}
	if (!best.a && !open)
		return;
	if (best.a && request_failed(r) && (own = open_own(j, r, lvl, own_only))) {
		pk->last = own;
		pk->kind = kind_of(r, lvl, seen, own);
		return;
	}
	if (best.a && fits == 1 && gateway_closed(best.a) && r->ts_response)
		best.after ? j->closes_after++ : j->closes_before++;
	if (best.a && fits == 1 && !own_only)
		learn_thread(j, r->pid, best.same_tid);
	if (best.a && lvl == LVL_TIME && !best.a->status) {
		keep_to_own(j, r, lvl, &best);
		leave_others_theirs(j, r, lvl, own_only, &best);
	}
	if (best.a)
		oldest_sibling(j, r, lvl, &best);
	if (best.a && tie(r, &best, &second))
		settle_tie(j, r, &best, &second);
	pk->last = best.a ? best.a : open;
	pk->kind = best.a && tie(r, &best, &second) ? JOIN_AMBIGUOUS : kind_of(r, lvl, seen, pk->last);
}

/* The slots of process pid's attempts in index x's [lo, hi] into
 * j->window, in the index's order (when they began; for by_written, when
 * their request was written), on which choices between equals depend: the
 * first begun is met first.  From an index, never by a scan of the table:
 * on a loaded gateway it holds hundreds of attempts, one cache line each,
 * against the window's few.  Only pid's: an attempt of another process is
 * never a request's (content_level).  (The window was once put in the
 * table's order, which swap-removal makes a history of frees rather than
 * of the traffic: 627 recordings replay the same in either order but for
 * one join kind; a tenth of gatescope's CPU went to that sort under load.)
 * Returns how many. */
static uint32_t window_of(struct joiner *j, struct began_index *x, uint64_t lo, uint64_t hi,
			  uint32_t pid)
{
	uint32_t *w = j->window, n;

	if (lo > hi)
		return 0;
	n = began_index_range(x, lo, hi, pid, w, j->apool.cap);
	for (uint32_t i = 0; i < n; i++)
		w[i] = SLOT(w[i]);
	return n;
}

/* The attempts of r's process begun in [lo, hi], in the order they began. */
static uint32_t attempts_begun(struct joiner *j, const struct request *r, uint64_t lo,
			       uint64_t hi)
{
	return window_of(j, &j->by_began, lo, hi, r->pid);
}

static void clear_candidates(struct joiner *j)
{
	j->ncand = 0;
	memset(j->ncand_at, 0, sizeof(j->ncand_at));
}

static void add_candidate(struct joiner *j, struct attempt *a, enum level lvl)
{
	if (lvl == LVL_NONE)
		return;
	j->cand[j->ncand] = a;
	j->cand_lvl[j->ncand++] = (uint8_t)lvl;
	j->ncand_at[lvl]++;
}

/* r's candidates and their levels, once per choice (in the order they
 * began, as every level's scan saw them): nothing a choice does changes them.  Only
 * attempts begun while r was in flight can be. */
static void gather_candidates(struct joiner *j, const struct request *r)
{
	uint32_t n = attempts_begun(j, r, r->ts_start, answer_time(r));

	clear_candidates(j);
	for (uint32_t i = 0; i < n; i++) {
		struct attempt *a = &j->atts[j->window[i]];

		add_candidate(j, a, candidate_level(j, r, a));
	}
}

/* When none of r's candidates fits: attempts on connections dialed before r began
 * whose request was written while r was in flight (written_later).  A
 * Transport that dials ahead (Go's) pools a connection no request ended
 * up waiting for, and a later request is written on it: its connect
 * comes before that request.  Only then, so that every other request's
 * choice stays what its own window says. */
static void gather_dialed_ahead(struct joiner *j, const struct request *r)
{
	uint32_t n = window_of(j, &j->by_written, r->ts_start, answer_time(r), r->pid);

	clear_candidates(j);
	for (uint32_t i = 0; i < n; i++) {
		struct attempt *a = &j->atts[j->window[i]];

		if (!a->owner && attempt_began(a) < r->ts_start)
			add_candidate(j, a, content_level(j, r, a));
	}
}

/* ---- event-loop order (join_loop.h) ---- */

#define LOOP_THREAD_SEEN 2	/* requests seen tried on their own thread, none elsewhere */
#define LOOP_WALK 256		/* requests read before and after r looked at */

/* When the loop queued r: when it read its head (the loop's own act; the
 * bytes may have waited in the socket while it served others). */
static uint64_t loop_queued(const struct request *r)
{
	return r->ts_start;
}

/* Takes part in the replay of r's thread: a failed request of that
 * thread.  Not an answered success (an attempt with its content served
 * it: the content join's), nor one not answered yet: its connect may
 * still be open, and an open connect is not known before it ends (it
 * may be busy with one the replay cannot see). */
static bool loop_member(const struct request *r, const struct request *o)
{
	return o->pid == r->pid && o->tid == r->tid && answer_time(o) && request_failed(o);
}

/* The requests that may take part in r's replay: its thread's failed
 * requests among the LOOP_WALK read before r and the LOOP_WALK read
 * after it (the table's order of taking is the order of reading).  A
 * bound on the work: at a loaded gateway the table holds thousands, and
 * a burst of refused connects asks for a replay per failed request.
 * One read further away that is still waiting would be a request the
 * loop left waiting through hundreds of others: not how a loop serves.
 * Returns how many, into near. */
static unsigned loop_neighbours(const struct joiner *j, const struct request *r,
				const struct request **near)
{
	const struct join_pool *p = &j->rpool;
	uint32_t self = SLOT(r->id), s;
	unsigned n = 0, steps;

	near[n++] = r;
	for (s = p->slot[self].older, steps = 0; s && steps < LOOP_WALK;
	     s = p->slot[s].older, steps++)
		if (loop_member(r, &j->reqs[s]))
			near[n++] = &j->reqs[s];
	for (s = p->slot[self].newer, steps = 0; s && steps < LOOP_WALK;
	     s = p->slot[s].newer, steps++)
		if (loop_member(r, &j->reqs[s]))
			near[n++] = &j->reqs[s];
	return n;
}

/* Was o in flight at some moment of [lo, hi]? */
static bool loop_in_window(const struct request *o, uint64_t lo, uint64_t hi)
{
	return loop_queued(o) <= hi && answer_time(o) >= lo;
}

/* The window of r's thread to replay: from the read of the oldest
 * request in flight when r was, to the last answer of those in flight
 * meanwhile, up to JOIN_GROUP_NS after r's (the tries after r's answer
 * are not r's, but they rule out orders that leave one of them no
 * request).  False when it holds more requests than the search takes. */
static bool loop_window(const struct request *r, const struct request *const *near,
			unsigned nnear, uint64_t *lo, uint64_t *hi)
{
	uint64_t limit = answer_time(r) + JOIN_GROUP_NS;

	*lo = loop_queued(r);
	*hi = answer_time(r);
	for (unsigned round = 0; round < 8; round++) {
		uint64_t nlo = *lo, nhi = *hi;
		unsigned n = 0;

		for (unsigned i = 0; i < nnear; i++) {
			const struct request *o = near[i];
			uint64_t ans = answer_time(o);

			if (!loop_in_window(o, *lo, *hi))
				continue;
			n++;
			nlo = loop_queued(o) < nlo ? loop_queued(o) : nlo;
			nhi = ans > nhi && ans <= limit ? ans : nhi;
		}
		if (n > LOOP_MAX_REQS)
			return false;
		if (nlo == *lo && nhi == *hi)
			return true;
		*lo = nlo;
		*hi = nhi;
	}
	return false;
}

/* A connect that wrote no request: a refused, unreachable, timed out
 * (or still open) one. */
static bool bare_connect(const struct attempt *a)
{
	return !a->reused && !a->ts_request && !a->method[0] && !a->status;
}

/* A bare connect as the replay sees it; false for one it cannot place.
 * Only one the kernel saw fail (refused, unreachable): when the loop
 * learnt of it is when it failed.  Not one that timed out: the
 * gateway's timer fired at a moment no event shows (HAProxy begins the
 * retry, then closes the old socket). */
static bool loop_att_of(const struct attempt *a, struct loop_att *la)
{
	uint64_t end = attempt_end(a);

	if (!end || (a->failure != ATTEMPT_REFUSED && a->failure != ATTEMPT_UNREACHABLE))
		return false;
	*la = (struct loop_att){ .began = attempt_began(a), .end = end, .fixed = -1 };
	return true;
}

struct loop_input {
	struct loop_req reqs[LOOP_MAX_REQS];
	const struct request *req[LOOP_MAX_REQS];
	struct loop_att atts[LOOP_MAX_ATTS];
	struct attempt *att[LOOP_MAX_ATTS];
	unsigned nreq, natt, target;
};

static int loop_index(const struct loop_input *in, uint32_t request_id)
{
	for (unsigned k = 0; k < in->nreq; k++)
		if (in->req[k]->id == request_id)
			return (int)k;
	return -1;
}

static bool loop_requests(const struct request *r, const struct request *const *near,
			  unsigned nnear, uint64_t lo, uint64_t hi, struct loop_input *in)
{
	for (unsigned i = 0; i < nnear; i++) {
		const struct request *o = near[i];

		if (!loop_in_window(o, lo, hi))
			continue;
		if (in->nreq == LOOP_MAX_REQS)
			return false;
		if (o == r)
			in->target = in->nreq;
		in->req[in->nreq] = o;
		in->reqs[in->nreq++] = (struct loop_req){
			.queued = loop_queued(o), .answered = answer_time(o),
			/* decided without tries: it waits for none */
			.done = o->joined && !o->nclaimed,
		};
	}
	return true;
}

/* Could a try that wrote a request be one of the replay's requests'?
 * Then the replay does not hold all their tries. */
static bool member_may_own(const struct joiner *j, const struct loop_input *in,
			   const struct attempt *a)
{
	if (a->owner)
		return loop_index(in, a->owner) >= 0;
	for (unsigned k = 0; k < in->nreq; k++)
		if (candidate_level(j, in->req[k], a) != LVL_NONE)
			return true;
	return false;
}

/* Is a, a bare connect the replay cannot place (timed out, or still
 * open), no try of its requests?  When it was still open more than
 * JOIN_CLOSE_SLACK_NS after the last of them was answered (`now`: the
 * moment of the choice, for one still open): a gateway is done with a
 * request's connects when it answers it (nginx closes first, HAProxy
 * closes within a turn or two of its loop after).  Such a connect is
 * another request's, one still connecting (to a server that drops SYNs,
 * say): left out, as one taken by a request outside the replay is.
 * Without this, such a connect begun between a request's read and its
 * answer (attr_haproxy_connect: a /synd* client's, beside the /refused*
 * ones) made the replay give up, and nearness then gave a /refused0
 * request, besides its own refusal, the first refusal of a /refused2
 * request read just before it on its thread: 2 tries and 2 where
 * HAProxy logged 1 and 3 (test_refusals_beside_open_connect).  Not when
 * one of its requests ended without an answer (its client left): the
 * gateway may still be connecting for it. */
static bool loop_no_members(const struct loop_input *in, const struct attempt *a, uint64_t now)
{
	uint64_t end = attempt_end(a), last = 0;

	for (unsigned k = 0; k < in->nreq; k++) {
		if (!in->req[k]->ts_response)
			return false;
		if (in->reqs[k].answered > last)
			last = in->reqs[k].answered;
	}
	if (!end && now >= UINT64_MAX - 1)
		return false;	/* the end of the run, or a forced choice: no moment */
	return (end ? end : now) > last + JOIN_CLOSE_SLACK_NS;
}

/* The bare connects begun on r's thread in [lo, hi], in the order they
 * began.  False when the replay cannot hold the thread's tries: a bare
 * connect it cannot place that may be one of its requests' tries
 * (loop_no_members), or a try with a request that one of its requests may
 * have made (tries with content of other requests, such as the successes
 * of other routes, are theirs: left out). */
static bool loop_attempts(struct joiner *j, const struct request *r, uint64_t lo,
			  uint64_t hi, uint64_t now, struct loop_input *in)
{
	uint32_t n = began_index_range(&j->by_began, lo, hi, r->pid, j->window, j->apool.cap);

	for (uint32_t i = 0; i < n; i++) {
		struct attempt *a = &j->atts[SLOT(j->window[i])];
		struct loop_att la;

		if (a->tid != r->tid)
			continue;
		if (!bare_connect(a)) {
			if (member_may_own(j, in, a))
				return false;
			continue;
		}
		if (!loop_att_of(a, &la)) {
			if (!loop_no_members(in, a, now))
				return false;
			continue;	/* a request's outside the replay */
		}
		if (in->natt == LOOP_MAX_ATTS)
			return false;
		if (a->owner && (la.fixed = loop_index(in, a->owner)) < 0)
			continue;	/* taken by a request outside the replay */
		in->att[in->natt] = a;
		in->atts[in->natt++] = la;
	}
	return true;
}

/* Does r's thread serve its requests from one loop?  When the process
 * is known to keep requests to their threads; or, not known yet, when
 * it never did otherwise: when it did so a few times already, or r's
 * every candidate is on r's thread.  (Failures come in bursts, often
 * before enough single fits were seen to know; a process whose
 * requests move between threads, as Go's goroutines do, soon shows
 * one on another thread.) */
static bool loop_thread(struct joiner *j, const struct request *r)
{
	const struct join_threads *t = threads_of(j, r->pid, false);

	if (keeps_threads(j, r->pid))
		return true;
	if (t && t->other)
		return false;
	if (t && t->own >= LOOP_THREAD_SEEN)
		return true;
	for (uint32_t i = 0; i < j->ncand; i++)
		if (j->cand[i]->tid != r->tid)
			return false;
	return true;
}

/* r's tries by replaying its thread in the loop's order; false unless
 * the replay leaves r one set of them. */
static bool loop_replay(struct joiner *j, const struct request *r, uint64_t now,
			struct pick *pk)
{
	const struct request *near[2 * LOOP_WALK + 1];
	unsigned nnear = loop_neighbours(j, r, near);
	struct loop_input in = { .target = LOOP_MAX_REQS };
	struct loop_result res;
	uint64_t lo, hi;

	if (!loop_window(r, near, nnear, &lo, &hi) ||
	    !loop_requests(r, near, nnear, lo, hi, &in) ||
	    !loop_attempts(j, r, lo, hi, now, &in) ||
	    !loop_solve(in.reqs, in.nreq, in.atts, in.natt, in.target, &res))
		return false;
	for (unsigned i = 0; i < in.natt; i++) {
		if (res.owner[i] != (int)in.target)
			continue;
		if (pk->nchain == REQ_ATTEMPTS + 1) {	/* the newest kept: the last decides */
			memmove(pk->chain, pk->chain + 1, REQ_ATTEMPTS * sizeof(pk->chain[0]));
			pk->nchain--;
		}
		pk->chain[pk->nchain++] = in.att[i];
	}
	if (!pk->nchain)
		return false;
	pk->last = pk->chain[pk->nchain - 1];
	pk->kind = JOIN_TIME;
	return true;
}

/* r's tries by its thread's event-loop order, when that order leaves r
 * one set of them: a failed request whose every candidate joins by time
 * alone, at a gateway that keeps requests to their threads.  False
 * leaves the choice to nearness (pick_in_level). */
static bool loop_pick(struct joiner *j, const struct request *r, uint64_t now, struct pick *pk)
{
	if (!request_failed(r) || !j->ncand || !loop_thread(j, r))
		return false;
	for (uint32_t i = 0; i < j->ncand; i++)
		if (j->cand_lvl[i] != LVL_TIME)
			return false;
	return loop_replay(j, r, now, pk);
}

/* The gathered candidates' strongest level that picks one. */
static void pick_by_level(struct joiner *j, const struct request *r, struct pick *pk)
{
	for (enum level lvl = LVL_ID; lvl >= LVL_TIME && !pk->last; lvl--)
		if (j->ncand_at[lvl])	/* a level with no candidate picks none */
			pick_in_level(j, r, lvl, pk);
}

/* r's last attempt by nearness (pick_in_level), which also learns how
 * the gateway uses its threads and closes; when none fits, among the
 * connections dialed before r (gather_dialed_ahead); then, for a failed request
 * joined by time, its whole chain by its thread's loop order when that
 * order leaves it one. */
static void pick_last(struct joiner *j, const struct request *r, uint64_t now, struct pick *pk)
{
	struct pick by_loop;

	pk->last = NULL;
	pk->kind = JOIN_NONE;
	pk->nchain = 0;
	gather_candidates(j, r);
	pick_by_level(j, r, pk);
	if (!pk->last) {
		gather_dialed_ahead(j, r);
		pick_by_level(j, r, pk);
		if (!pk->last)
			gather_candidates(j, r);	/* loop_pick reads r's own */
	}
	by_loop.nchain = 0;
	if (loop_pick(j, r, now, &by_loop))
		*pk = by_loop;
}

static bool in_chain(struct attempt *const *chain, unsigned n, const struct attempt *a)
{
	for (unsigned i = 0; i < n; i++)
		if (chain[i] == a)
			return true;
	return false;
}

/* Is p the attempt that ended nearest o's answer among those that can
 * explain how o ended (outside r's chain)?  Then it is o's last. */
static bool nearest_for(const struct joiner *j, const struct request *o,
			const struct attempt *p, struct attempt *const *chain, unsigned n)
{
	uint64_t ans = answer_time(o), d = distance(attempt_end(p), ans);

	for (uint32_t i = 0; i < j->apool.nactive; i++) {
		const struct attempt *a = &j->atts[j->apool.active[i]];
		uint64_t end = attempt_end(a);

		if (a == p || in_chain(chain, n, a) || !could_be(j, o, a))
			continue;
		if (!end || (outcome_agrees(o, a) && distance(end, ans) < d &&
			     (end <= ans || gateway_closed(a))))
			return false;
	}
	return true;
}

/* Was o waiting on a connect that only it could have made (not r)
 * all through p?  A gateway tries one upstream at a time for a request,
 * so p, begun and ended meanwhile, is not o's: a refusal is not the
 * answer of a request whose own connect was timing out (HAProxy answers
 * that one when its timer fires, maybe right after the refusal). */
static bool busy_through(const struct joiner *j, const struct request *r,
			 const struct request *o, const struct attempt *p)
{
	uint64_t began = attempt_began(p), end = attempt_end(p);

	for (uint32_t i = 0; i < j->apool.nactive; i++) {
		const struct attempt *x = &j->atts[j->apool.active[i]];
		uint64_t x_end = attempt_end(x);

		if (x == p || x->status || !could_be(j, o, x) || could_be(j, r, x))
			continue;
		if (attempt_began(x) < began && (!x_end || x_end > end))
			return true;
	}
	return false;
}

/* Is p more likely another request's than an earlier try of r?  So when
 * p is the attempt that ended nearest another answered request's answer
 * among those that explain how it ended (a refusal answered with a 502 at
 * once; or late, by a goroutine that ran late on a loaded host).  Not when
 * that request has a nearer one of its own (two clients' retries
 * interleaved).  Requests not answered yet are no evidence: a connect in
 * flight is not known before it ends. */
static bool answers_another(const struct joiner *j, const struct request *r,
			    const struct attempt *p, struct attempt *const *chain, unsigned n)
{
	uint64_t end = attempt_end(p);

	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		const struct request *o = &j->reqs[j->rpool.active[i]];
		uint64_t answered = answer_time(o);

		if (o == r || o->joined || !could_be(j, o, p))
			continue;
		if (!answered)
			continue;	/* its attempts may not be known yet (a connect in flight) */
		if (answered + JOIN_GROUP_NS >= end && answered <= end + JOIN_FIT_NS &&
		    outcome_agrees(o, p) && !busy_through(j, r, o, p) &&
		    nearest_for(j, o, p, chain, n))
			return true;
	}
	return false;
}

/* What ended_before() asks of every candidate: the chain so far, and the
 * other failed requests' share of the connects. */
struct chain_walk {
	const struct request *r;
	const struct others *shared;
	struct attempt *const *chain;
	unsigned n;
	uint64_t limit;		/* the chain's oldest began */
	bool by_thread;
	uint64_t taken;		/* the chain's, among the others' connects */
	unsigned matched;	/* how many of the others keep one without them */
};

/* Could a have been the try before the chain's oldest (ended before it
 * began, or the gateway closed it up to JOIN_CLOSE_SLACK_NS after)? */
static bool earlier_try_fits(struct joiner *j, const struct chain_walk *w, struct attempt *a)
{
	uint64_t end = attempt_end(a);

	if (!end || attempt_began(a) >= w->limit || in_chain(w->chain, w->n, a) ||
	    end > w->limit + (gateway_closed(a) ? JOIN_CLOSE_SLACK_NS : 0) ||
	    !candidate_level(j, w->r, a))
		return false;
	if (w->by_thread && a->tid != w->chain[w->n - 1]->tid)
		return false;	/* the thread is a key: a retry stays on it */
	if (a->status && a->status < 500 && !a->truncated)
		return false;	/* answered: not retried */
	/* An earlier try of r must not leave another failed request none. */
	return !w->shared ||
	       join_match_max(&w->shared->m, w->taken | others_bit(w->shared, a)) >= w->matched;
}

/* Retries in step: several tries ended together (one connect timeout run
 * out for several requests in one turn of an event loop), and as many
 * tries began right after, the chain's oldest among them.  Which ended try
 * is its previous one?  Time cannot tell: an asyncio gateway begins the
 * retries in either order.  The nearest end alone gave one request two
 * tries of one moment and left another a try short; shared out by rank,
 * the k-th to begin again continuing the k-th that began before, each
 * chain keeps its length (its first try and its last are still decided by
 * when its request was read and answered).  Returns prev when that rule
 * does not apply (a different number of tries on each side: fresh first
 * tries, or tries another request claimed). */
#define IN_STEP_MAX 8
static struct attempt *in_step(struct joiner *j, const struct chain_walk *w, uint32_t nwin,
			       struct attempt *prev)
{
	struct attempt *ended[IN_STEP_MAX], *oldest = w->chain[w->n - 1];
	uint64_t lo = UINT64_MAX, hi = 0, prev_end = attempt_end(prev);
	unsigned nend = 0, nnext = 0, rank = IN_STEP_MAX;

	for (uint32_t i = 0; i < nwin; i++) {
		struct attempt *a = &j->atts[j->window[i]];
		uint64_t end = attempt_end(a);

		if (end > w->limit || distance(end, prev_end) > JOIN_TIE_NS ||
		    !earlier_try_fits(j, w, a) || answers_another(j, w->r, a, w->chain, w->n))
			continue;
		if (nend == IN_STEP_MAX)
			return prev;
		ended[nend++] = a;	/* in the order they began */
		lo = end < lo ? end : lo;
		hi = end > hi ? end : hi;
	}
	if (nend < 2)
		return prev;
	nwin = attempts_begun(j, w->r, lo, hi + JOIN_TIE_NS);
	for (uint32_t i = 0; i < nwin; i++) {
		struct attempt *b = &j->atts[j->window[i]];

		if (b != oldest && (b->owner || in_chain(w->chain, w->n, b) || !bare_failure(b) ||
				    (w->by_thread && b->tid != oldest->tid)))
			continue;
		if (b == oldest)
			rank = nnext;
		nnext++;
	}
	return nnext == nend && rank < nend ? ended[rank] : prev;
}

/* The failed attempt that ended latest before the chain's oldest began
 * (a retry follows a failure), unless it is another request's last
 * attempt: *prev; and the same when one the gateway closed itself may end
 * up to JOIN_CLOSE_SLACK_NS after: *closed_after.  One walk of the window
 * finds both; of tries that ended together, in_step() says which. */
static void ended_before(struct joiner *j, const struct request *r, const struct others *shared,
			 struct attempt *const *chain, unsigned n, struct attempt **prev,
			 struct attempt **closed_after)
{
	struct chain_walk w = {
		.r = r, .shared = shared, .chain = chain, .n = n,
		.limit = attempt_began(chain[n - 1]), .by_thread = keeps_threads(j, r->pid),
	};
	uint64_t prev_d = UINT64_MAX, closed_d = UINT64_MAX;
	/* A candidate of r began after r did; this one before the chain. */
	uint32_t nwin = w.limit ? attempts_begun(j, r, r->ts_start, w.limit - 1) : 0;

	if (shared) {
		for (unsigned i = 0; i < n; i++)
			w.taken |= others_bit(shared, chain[i]);
		w.matched = join_match_max(&shared->m, w.taken);
	}

	*prev = *closed_after = NULL;
	for (uint32_t i = 0; i < nwin; i++) {
		struct attempt *a = &j->atts[j->window[i]];
		uint64_t end = attempt_end(a), limit = w.limit, d;
		bool nearer, nearer_before;

		if (!earlier_try_fits(j, &w, a))
			continue;
		d = distance(end, limit);
		nearer = d < closed_d;
		nearer_before = end <= limit && d < prev_d;
		if ((nearer || nearer_before) && !answers_another(j, r, a, chain, n)) {
			if (nearer) {
				*closed_after = a;
				closed_d = d;
			}
			if (nearer_before) {
				*prev = a;
				prev_d = d;
			}
		}
	}
	if (*prev && bare_failure(chain[n - 1]))
		*prev = in_step(j, &w, nwin, *prev);
}

/* The try before the chain's oldest: one that ended before it began; else
 * one the gateway gave up on and closed just after it began the retry
 * (HAProxy aborts the old socket in a later turn of its loop). */
static struct attempt *previous_attempt(struct joiner *j, const struct request *r,
					const struct others *shared, struct attempt *const *chain,
					unsigned n)
{
	struct attempt *prev, *closed_after;

	ended_before(j, r, shared, chain, n, &prev, &closed_after);
	if (!prev)
		return closed_after;
	/* A connect that timed out, closed by the gateway just after (within
	 * JOIN_TIE_NS) the chain's oldest began, and itself begun after prev
	 * ended, lies between the two: the try before the chain (HAProxy
	 * begins the retry, then aborts the old socket).  Not a try of
	 * another kind closed then (a client that left: its request's). */
	if (closed_after && closed_after->failure == ATTEMPT_CONNECT_TIMEOUT &&
	    attempt_end(closed_after) <= attempt_began(chain[n - 1]) + JOIN_TIE_NS &&
	    attempt_began(closed_after) >= attempt_end(prev))
		return closed_after;
	return prev;
}

/* The retry chain that ends at last, newest first, into chain (room for
 * REQ_ATTEMPTS + 1): each try ended before the next began.  The other
 * failed requests' share is the same at every step: asked once.  Returns
 * its length, REQ_ATTEMPTS + 1 when it goes on beyond what a request
 * holds. */
static unsigned retry_chain(struct joiner *j, const struct request *r, struct attempt *last,
			    struct attempt **chain)
{
	struct others ot;
	const struct others *shared = request_failed(r) && others_of(j, r, &ot) ? &ot : NULL;
	unsigned n = 0;

	chain[n++] = last;
	while (n <= REQ_ATTEMPTS && (chain[n] = previous_attempt(j, r, shared, chain, n)))
		n++;
	return n;
}

/* ---- deciding ---- */

/* Claim the chain ending at last for r, oldest first.  The attempts stay
 * in the table until r is handed over, so facts that arrive meanwhile
 * (their connections' closes) still reach them. */
static void claim_attempts(struct request *r, struct attempt *last, struct joiner *j)
{
	struct attempt *chain[REQ_ATTEMPTS + 1];
	unsigned n = retry_chain(j, r, last, chain);

	if (n > REQ_ATTEMPTS) {
		r->attempts_dropped++;
		n = REQ_ATTEMPTS;
	}
	r->nclaimed = n;
	for (unsigned i = 0; i < n; i++) {
		r->claimed[i] = chain[n - 1 - i]->id;
		chain[i]->owner = r->id;
	}
}

/* The same for a chain known whole, oldest first (the newest kept when
 * it is longer than a request holds). */
static void claim_chain(struct request *r, struct attempt *const *chain, unsigned n)
{
	unsigned skip = n > REQ_ATTEMPTS ? n - REQ_ATTEMPTS : 0;

	r->attempts_dropped += skip > 0;
	r->nclaimed = 0;
	for (unsigned i = skip; i < n; i++) {
		r->claimed[r->nclaimed++] = chain[i]->id;
		chain[i]->owner = r->id;
	}
}

/* An attempt leaves the table: remember when it ran, so a request decided
 * later still knows the process was trying upstream meanwhile. */
static void release_attempt(struct joiner *j, struct attempt *a)
{
	struct join_recent *g = &j->recent[j->nrecent++ % JOIN_RECENT];

	g->pid = a->pid;
	g->began = attempt_began(a);
	g->end = attempt_end(a);
	began_index_remove(&j->by_began, attempt_began(a), a->id);
	if (written_later(a))
		began_index_remove(&j->by_written, a->ts_request, a->id);
	path_ids_put(&j->paths, a->sig.path_id);
	pool_put(&j->apool, SLOT(a->id));
}

/* r's claimed attempts that are still in the table, oldest first, into
 * own; returns how many. */
static unsigned take_claimed(struct joiner *j, struct request *r, struct attempt **own)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nclaimed; i++) {
		struct attempt *a = join_attempt(j, r->claimed[i]);

		if (a)
			own[n++] = a;
	}
	r->nclaimed = 0;
	return n;
}

/* Decided now, not when it began: a gateway's first request after the
 * start was read before its first connect was seen. */
static bool backend_side(const struct joiner *j, const struct request *r)
{
	return r->far_end && j->ends && !backend_side_is_gateway(j->ends, r->pid);
}

void join_watch_ends(struct joiner *j, const struct backend_side *ends)
{
	j->ends = ends;
}

/* r goes to the consumer with its attempts, which leave the table after
 * it.  One attempt (most requests) is lent where it is; more are copied
 * into one array. */
static void hand_over(struct joiner *j, struct request *r)
{
	struct attempt *own[REQ_ATTEMPTS];

	r->nattempts = take_claimed(j, r, own);
	r->attempts = r->nattempts == 1 ? own[0] : j->handover;
	for (unsigned i = 0; r->nattempts > 1 && i < r->nattempts; i++)
		j->handover[i] = *own[i];
	if (backend_side(j, r)) {
		j->st.backend_side++;
	} else {
		j->st.requests++;
		j->st.joined += r->nattempts > 0;
		j->st.by_kind[r->join]++;
		j->on_request(r, j->ctx);
	}
	for (unsigned i = 0; i < r->nattempts; i++)
		release_attempt(j, own[i]);
	if (r->pending)
		j->npending--;
	if (r->awaiting_facts)
		j->nawaiting--;
	path_ids_put(&j->paths, r->sig.path_id);
	pool_put(&j->rpool, SLOT(r->id));
}

/* A failed request is judged by its last attempt's TCP facts, which come
 * when that connection closes: unanswered, or answered and then cut short
 * (a passed-through 5xx needs none). */
static bool needs_facts(const struct request *r, const struct attempt *last)
{
	/* Most requests succeed: their attempt's HTTP/2 fields (another
	 * cache line of it) are not read. */
	if (!last || last->have_conn || !request_failed(r) || (last->status && !r->truncated))
		return false;
	/* A backend that reset or refused its HTTP/2 stream said so itself. */
	return !last->h2_refused && !(last->h2_rst && last->h2_rst_by_backend);
}

static struct attempt *last_claimed(struct joiner *j, const struct request *r)
{
	return r->nclaimed ? join_attempt(j, r->claimed[r->nclaimed - 1]) : NULL;
}

/* Did the process have upstream attempts under way while r was in
 * flight (claimed by other requests or not)?  Then "the gateway answered
 * without trying upstream" is not proven. */
static bool overlaps(const struct request *r, uint32_t pid, uint64_t began, uint64_t end)
{
	return pid == r->pid && began <= answer_time(r) && (!end || end >= r->ts_start);
}

void join_pool_unread(struct joiner *j, uint32_t pid, int delta)
{
	uint32_t i = 0;

	while (i < j->nunread && j->unread[i].pid != pid)
		i++;
	if (i == j->nunread) {
		if (delta < 0 || i == JOIN_POOL_PROCS) {
			j->unread_unplaced += delta;	/* a -1 here undoes an unplaced +1 */
			return;
		}
		j->unread[j->nunread++] = (struct join_unread_pool){ .pid = pid };
	}
	j->unread[i].unread += delta;
}

/* How many upstream connections open at the start r's process holds
 * unread. */
static uint32_t pool_unread_of(const struct joiner *j, const struct request *r)
{
	for (uint32_t i = 0; i < j->nunread; i++)
		if (j->unread[i].pid == r->pid)
			return j->unread[i].unread + j->unread_unplaced;
	return j->unread_unplaced;
}

/* Did r's process have an attempt under way while r was in flight?  Only
 * attempts begun by r's answer can have been: the index by when they
 * began is walked from the oldest up to it, not the whole table (a
 * request without attempts, decided after the older requests' attempts
 * left the table, met none and scanned all: ~46,000 instructions each at
 * a gateway that also answers some routes itself). */
static bool attempts_in_flight(const struct joiner *j, const struct request *r)
{
	const struct began_index *x = &j->by_began;
	uint64_t answer = answer_time(r);

	for (uint32_t i = x->head; i < x->n && x->v[i].began <= answer; i++) {
		const struct attempt *a;

		if (!x->v[i].id)
			continue;	/* a hole left by a removal */
		a = &j->atts[SLOT(x->v[i].id)];
		if (overlaps(r, a->pid, attempt_began(a), attempt_end(a)))
			return true;
	}
	for (unsigned i = 0; i < JOIN_RECENT; i++) {
		const struct join_recent *g = &j->recent[i];

		if (g->pid && overlaps(r, g->pid, g->began, g->end))
			return true;
	}
	return false;
}


/* Has every candidate of the request being joined read its answer?  One
 * without (open, opaque, or ended by a close) may still end nearer the
 * moment the gateway answered. */
static bool candidates_answered(const struct joiner *j)
{
	for (uint32_t i = 0; i < j->ncand; i++)
		if (!j->cand[i]->status)
			return false;
	return true;
}

static uint64_t await_facts(struct joiner *j, struct request *r, uint64_t until)
{
	if (!r->awaiting_facts)
		j->nawaiting++;
	r->awaiting_facts = true;
	return until;
}

/* Join r once it was answered (or ended) and its evidence is in: by the
 * moment of the answer, so requests answered first choose first, however
 * long their exchanges last.  Returns 0 when joined, else when to look
 * again. */
static uint64_t try_join(struct joiner *j, struct request *r, uint64_t now)
{
	uint64_t at = answer_time(r), facts = at + JOIN_FACTS_WAIT_NS, due = join_due(j, r);
	bool early = now < at + j->wait_ns;
	struct pick pk;

	if (now < due)
		return due;
	if (early && !r->finished) {
		hold(j, r);	/* handed over when joined: see join_due */
		return at + j->wait_ns;
	}
	pick_last(j, r, now, &pk);
	if (early && !candidates_answered(j)) {
		hold(j, r);	/* joined early only when no candidate can still change */
		return at + j->wait_ns;
	}
	if (needs_facts(r, pk.last) && now < facts)
		return await_facts(j, r, facts);
	r->join = pk.last ? pk.kind : JOIN_NONE;
	if (pk.nchain)
		claim_chain(r, pk.chain, pk.nchain);
	else if (pk.last && pk.kind != JOIN_AMBIGUOUS)
		claim_attempts(r, pk.last, j);
	else if (!pk.last) {
		r->others_in_flight = attempts_in_flight(j, r);
		r->pool_unread = pool_unread_of(j, r);
	}
	r->joined = true;
	return 0;
}

/* Advance r: join it, then hand it over once its exchange is over and its
 * last attempt's facts are in (bounded).  Returns when to look again. */
static uint64_t try_decide(struct joiner *j, struct request *r, uint64_t now)
{
	uint64_t again, facts;

	if (!r->joined && (again = try_join(j, r, now)))
		return again;
	if (!r->finished)
		return UINT64_MAX;	/* join_request_finish() looks again */
	facts = r->ts_done + JOIN_FACTS_WAIT_NS;
	if (needs_facts(r, last_claimed(j, r))) {
		if (now < facts)
			return await_facts(j, r, facts);
		j->st.facts_timeouts++;
	}
	hand_over(j, r);
	return UINT64_MAX;
}

/* Requests by answer time, equal ones in the order given: a merge sort,
 * stable on every libc (glibc's qsort is one up to 2.36, not after), with
 * no allocation (tmp holds n / 2). */
static void sort_by_answer(struct request **v, struct request **tmp, uint32_t n)
{
	uint32_t h = n / 2, i = 0, k = h, o = 0;

	if (n <= 8) {
		for (uint32_t a = 1; a < n; a++) {
			struct request *r = v[a];
			uint32_t b = a;

			for (; b > 0 && answer_time(v[b - 1]) > answer_time(r); b--)
				v[b] = v[b - 1];
			v[b] = r;
		}
		return;
	}
	sort_by_answer(v, tmp, h);
	sort_by_answer(v + h, tmp, n - h);
	memcpy(tmp, v, h * sizeof(*v));
	while (i < h && k < n)	/* the right one first only when it is earlier */
		v[o++] = answer_time(v[k]) < answer_time(tmp[i]) ? v[k++] : tmp[i++];
	while (i < h)
		v[o++] = tmp[i++];
}

/* ---- who is due: a min-heap of (next_look, request) ----
 * A pass looks only at the requests due by now (and at those waiting for
 * TCP facts, which any new fact may decide): the others would return at
 * once, unchanged, so skipping them decides the same requests in the same
 * order, without walking every pending request at every event. */

static bool due_live(void *ctx, const struct time_entry *d)
{
	struct request *r = join_request(ctx, d->id);

	return r && r->pending && !r->queued && r->next_look == d->at;
}

static void due_push(struct joiner *j, struct request *r, uint64_t at)
{
	r->next_look = at;
	if (at == UINT64_MAX)
		return;		/* join_request_finish() schedules it */
	if (!time_heap_push(&j->due, at, r->id, due_live, j))
		j->next_decision = 0;	/* looked at again at the next poll */
}

static uint32_t take_due(struct joiner *j, uint64_t now, struct request **todo)
{
	const struct time_entry *top;
	uint32_t n = 0;

	time_heap_clean_top(&j->due, due_live, j);
	while ((top = time_heap_top(&j->due)) && top->at <= now) {
		struct request *r = join_request(j, top->id);

		time_heap_pop(&j->due);
		r->queued = true;
		todo[n++] = r;
		time_heap_clean_top(&j->due, due_live, j);
	}
	for (uint32_t i = 0; j->nawaiting && i < j->rpool.nactive; i++) {
		struct request *r = &j->reqs[j->rpool.active[i]];

		if (r->pending && r->awaiting_facts && !r->queued) {
			r->queued = true;
			todo[n++] = r;
		}
	}
	return n;
}

/* Requests due, earliest answer first. */
static void decide_ready(struct joiner *j, uint64_t now)
{
	struct request **todo = j->todo;
	uint32_t n = take_due(j, now, todo);

	sort_by_answer(todo, j->todo_tmp, n);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = todo[i]->id;
		uint64_t again = try_decide(j, todo[i], now);
		struct request *r = join_request(j, id);

		if (r) {	/* not handed over */
			r->queued = false;
			due_push(j, r, again);
		}
	}
	time_heap_clean_top(&j->due, due_live, j);
	j->next_decision = j->due.n ? time_heap_top(&j->due)->at : UINT64_MAX;
}

static void orphan(struct joiner *j, struct attempt *a)
{
	j->st.unjoined_attempts++;
	if (j->on_orphan)
		j->on_orphan(a, j->ctx);
	release_attempt(j, a);
}

/* Attempts no request can claim any more: ended long ago (or all, at the
 * end of the run).  Claimed ones leave with their request. */
static void expire_attempts(struct joiner *j, uint64_t now)
{
	for (uint32_t i = j->apool.nactive; i-- > 0;) {
		struct attempt *a = &j->atts[j->apool.active[i]];
		uint64_t end = attempt_end(a);

		if (!a->owner && (now == UINT64_MAX || (end && end + JOIN_ATTEMPT_TTL_NS < now)))
			orphan(j, a);
	}
}

void join_poll(struct joiner *j, uint64_t now)
{
	if (j->npending && now >= j->next_decision)
		decide_ready(j, now);
	if (now == UINT64_MAX) {
		/* End of run: requests never finished go out as they are. */
		for (uint32_t i = j->rpool.nactive; i-- > 0;)
			hand_over(j, &j->reqs[j->rpool.active[i]]);
	}
	if (now >= j->next_expiry) {
		expire_attempts(j, now);
		j->next_expiry = now == UINT64_MAX ? 0 : now + 1000000000ull;
	}
}

/* ---- reporting ---- */

/* Look at r again at `at` (or sooner). */
static void schedule(struct joiner *j, struct request *r, uint64_t at)
{
	if (!r->pending) {
		r->pending = true;
		r->next_look = UINT64_MAX;
		j->npending++;
	}
	if (at < r->next_look && !r->queued)
		due_push(j, r, at);
	if (at < j->next_decision)
		j->next_decision = at;
}

/* The request read first: the slot taken first of those in use (a full
 * table evicts one per new request: a scan of the table each time cost
 * ~50,000 instructions per request past ~40,000 requests/s).  Among those
 * holding claimed attempts only, when holding (rarer: a scan); NULL if
 * none. */
static struct request *oldest_request(struct joiner *j, bool holding)
{
	struct request *oldest = NULL;

	if (!holding)
		return j->rpool.oldest ? &j->reqs[j->rpool.oldest] : NULL;
	for (uint32_t i = 0; i < j->rpool.nactive; i++) {
		struct request *r = &j->reqs[j->rpool.active[i]];

		if (r->nclaimed && (!oldest || r->ts_start < oldest->ts_start))
			oldest = r;
	}
	return oldest;
}

/* Decide a request now, whatever it still waits for (its slot and the
 * attempts it claimed go). */
static void evict(struct joiner *j, struct request *oldest)
{
	j->st.request_evictions++;
	if (!oldest->finished) {
		oldest->finished = true;
		oldest->evicted = true;
		oldest->evicted_from = j->rpool.cap;
		oldest->ts_done = oldest->ts_response ? oldest->ts_response : oldest->ts_start;
	}
	schedule(j, oldest, 0);
	try_decide(j, oldest, UINT64_MAX - 1);
}

/* A full request table means requests whose end we never saw: decide the
 * oldest now so new requests are still followed. */
static void evict_request(struct joiner *j)
{
	evict(j, oldest_request(j, false));
}

uint32_t join_request_start(struct joiner *j, const struct request *proto)
{
	uint32_t id = pool_take(&j->rpool);
	struct request *r;

	if (!id) {
		evict_request(j);
		id = pool_take(&j->rpool);
	}
	r = &j->reqs[SLOT(id)];
	*r = *proto;
	r->id = id;
	r->nattempts = r->nclaimed = 0;
	r->attempts = NULL;
	r->finished = r->pending = r->joined = r->awaiting_facts = r->queued = false;
	r->held = false;
	r->evicted = false;
	r->evicted_from = 0;
	path_sig_set(&r->sig, r->path);
	r->sig.method = method_word(r->method);
	r->sig.path_id = path_ids_get(&j->paths, r->path, r->sig.whole);
	r->next_look = UINT64_MAX;
	return id;
}

void join_request_answered(struct joiner *j, uint32_t id)
{
	struct request *r = join_request(j, id);

	if (r && !r->joined)
		schedule(j, r, join_due(j, r));
}

void join_request_finish(struct joiner *j, uint32_t id)
{
	struct request *r = join_request(j, id);

	if (!r || r->finished)
		return;
	r->finished = true;
	schedule(j, r, r->joined ? 0 : join_due(j, r));
}

/* A full attempt table: the oldest unclaimed attempt goes out unjoined.
 * When every attempt is claimed, the oldest request holding some is
 * decided, which frees them (the oldest request of all may hold none:
 * deciding it freed no attempt, and the new one had no slot). */
static void evict_attempt(struct joiner *j)
{
	struct attempt *oldest = NULL;
	struct request *holder;

	for (uint32_t i = 0; i < j->apool.nactive; i++) {
		struct attempt *a = &j->atts[j->apool.active[i]];

		if (!a->owner && (!oldest || attempt_began(a) < attempt_began(oldest)))
			oldest = a;
	}
	j->st.attempt_evictions++;
	if (oldest)
		orphan(j, oldest);
	else if ((holder = oldest_request(j, true)))
		evict(j, holder);
	else	/* cannot be: a full table has attempts, each claimed by one */
		evict_request(j);
}

void join_attempt_closed(struct joiner *j)
{
	if (j->nawaiting)
		j->next_decision = 0;
}

uint32_t join_attempt_start(struct joiner *j, const struct attempt *proto)
{
	uint32_t id = pool_take(&j->apool);
	struct attempt *a;

	if (!id) {
		evict_attempt(j);
		id = pool_take(&j->apool);
	}
	a = &j->atts[SLOT(id)];
	*a = *proto;
	a->id = id;
	a->owner = 0;
	path_sig_set(&a->sig, a->path);
	a->sig.method = method_word(a->method);
	a->sig.path_id = path_ids_get(&j->paths, a->path, a->sig.whole);
	began_index_add(&j->by_began, attempt_began(a), id, a->pid);
	if (written_later(a))
		began_index_add(&j->by_written, a->ts_request, id, a->pid);
	if (a->have_conn)
		join_attempt_closed(j);
	return id;
}
