// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attribute.h"
#include "retries.h"
#include "util.h"

/* Verdict thresholds.  Delays that grow by less than this factor from one
 * retry to the next are not a backoff. */
#define BACKOFF_RATIO_MIN	1.3
/* Below this spread (of delays, or of the growth ratios of a backoff),
 * clients that retry together keep retrying together.  Timer and
 * scheduling noise alone spreads ratios by about 0.05-0.1 on a busy host;
 * +-30 % jitter by about 0.25. */
#define JITTER_MIN		0.15
/* A client whose requests are at least this share of retries, without
 * backing off, is a storm by itself. */
#define STORM_SHARE		0.75
/* A retry sooner than this share of the Retry-After asked ignored it
 * (clocks, and Retry-After's one-second resolution). */
#define RA_HONOURED_SHARE	0.9

const char *throttle_source_name(enum throttle_source s)
{
	return s == THROTTLE_GATEWAY ? "gateway" : s == THROTTLE_BACKEND ? "backend" : NULL;
}

bool status_throttled(uint16_t status, bool retry_after, bool hint)
{
	return status == 429 || (status == 503 && retry_after) || (status == 400 && hint);
}

/* ---- delay statistics ---- */

void delay_moments_add(struct delay_moments *m, double delay_ms, double prev_ms)
{
	if (!m->n || delay_ms < m->min_ms)
		m->min_ms = delay_ms;
	if (!m->n || delay_ms > m->max_ms)
		m->max_ms = delay_ms;
	m->n++;
	m->sum_ms += delay_ms;
	m->sumsq_ms += delay_ms * delay_ms;
	if (prev_ms >= RETRY_RATIO_MIN_NS / 1e6 && delay_ms > 0) {
		double l = log(delay_ms / prev_ms);

		m->nratio++;
		m->sum_log += l;
		m->sumsq_log += l * l;
	}
}

void delay_moments_merge(struct delay_moments *acc, const struct delay_moments *a)
{
	if (!a->n)
		return;
	if (!acc->n || a->min_ms < acc->min_ms)
		acc->min_ms = a->min_ms;
	if (!acc->n || a->max_ms > acc->max_ms)
		acc->max_ms = a->max_ms;
	acc->n += a->n;
	acc->sum_ms += a->sum_ms;
	acc->sumsq_ms += a->sumsq_ms;
	acc->nratio += a->nratio;
	acc->sum_log += a->sum_log;
	acc->sumsq_log += a->sumsq_log;
}

static double stddev(uint64_t n, double sum, double sumsq)
{
	double mean = sum / n, var = sumsq / n - mean * mean;

	return var > 0 ? sqrt(var * n / (n - 1)) : 0;
}

double delay_mean_ms(const struct delay_moments *m)
{
	return m->n ? m->sum_ms / m->n : -1;
}

double delay_cv(const struct delay_moments *m)
{
	double mean = delay_mean_ms(m);

	if (m->n < 2 || mean <= 0)
		return -1;
	return stddev(m->n, m->sum_ms, m->sumsq_ms) / mean;
}

double backoff_ratio(const struct delay_moments *m)
{
	return m->nratio ? exp(m->sum_log / m->nratio) : -1;
}

double ratio_spread(const struct delay_moments *m)
{
	return m->nratio >= 2 ? stddev(m->nratio, m->sum_log, m->sumsq_log) : -1;
}

/* ---- per-route figures ---- */

/* Seconds with throttling give the apparent limit: what got through.
 * Requests are decided in answer order, so a slow one may start in a
 * second already left: it counts in the current one (a second is never
 * opened twice). */
static void count_second(struct route_retries *s, uint64_t ts, bool throttled)
{
	uint64_t sec = ts / 1000000000ull;

	if (sec > s->sec) {
		if (s->sec_throttled) {
			s->limit_seconds++;
			s->limit_ok += s->sec_ok;
		}
		s->sec = sec;
		s->sec_ok = s->sec_throttled = 0;
	}
	if (throttled)
		s->sec_throttled++;
	else
		s->sec_ok++;
}

static void count_rates(struct route_retries *s, const struct retry_facts *f)
{
	if (!s->first_ns || f->ts_start < s->first_ns)
		s->first_ns = f->ts_start;
	if (f->ts_start > s->last_ns)
		s->last_ns = f->ts_start;
	if (f->throttled && !s->throttle_start_ns)
		s->throttle_start_ns = f->ts_start;
	if (s->throttle_start_ns && f->ts_start >= s->throttle_start_ns)
		s->after++;
	else
		s->before++;
	count_second(s, f->ts_start, f->throttled);
}

void route_retries_add(struct route_retries *s, const struct retry_facts *f)
{
	if (f->throttled == THROTTLE_GATEWAY)
		s->throttled_gateway++;
	else if (f->throttled == THROTTLE_BACKEND)
		s->throttled_backend++;
	s->lockstep += f->lockstep;
	count_rates(s, f);
	if (!f->retry)
		return;
	s->retries++;
	s->retries_after_throttle += f->after_throttle;
	s->ra_retries += f->ra_asked;
	s->ra_ignored += f->ra_ignored;
	delay_moments_add(&s->delays, f->delay_ns / 1e6, f->prev_delay_ms);
	hist_add(&s->delay_hist, f->delay_ns);
}

void route_retries_merge(struct route_retries *acc, const struct route_retries *a)
{
	acc->throttled_gateway += a->throttled_gateway;
	acc->throttled_backend += a->throttled_backend;
	acc->retries += a->retries;
	acc->retries_after_throttle += a->retries_after_throttle;
	acc->ra_retries += a->ra_retries;
	acc->ra_ignored += a->ra_ignored;
	acc->lockstep += a->lockstep;
	delay_moments_merge(&acc->delays, &a->delays);
	hist_merge(&acc->delay_hist, &a->delay_hist);
	/* Rates of merged routes are sums of counts over the union of spans. */
	if (a->first_ns && (!acc->first_ns || a->first_ns < acc->first_ns))
		acc->first_ns = a->first_ns;
	if (a->last_ns > acc->last_ns)
		acc->last_ns = a->last_ns;
	if (a->throttle_start_ns &&
	    (!acc->throttle_start_ns || a->throttle_start_ns < acc->throttle_start_ns))
		acc->throttle_start_ns = a->throttle_start_ns;
	acc->before += a->before;
	acc->after += a->after;
	acc->limit_seconds += a->limit_seconds;
	acc->limit_ok += a->limit_ok;
}

static double per_second(uint64_t n, uint64_t from, uint64_t to)
{
	/* Less than a second says little about a rate. */
	return to > from && to - from >= 1000000000ull ? n / ((to - from) / 1e9) : -1;
}

double route_rate_before(const struct route_retries *s)
{
	return s->throttle_start_ns ? per_second(s->before, s->first_ns, s->throttle_start_ns)
				    : per_second(s->before, s->first_ns, s->last_ns);
}

double route_rate_after(const struct route_retries *s)
{
	return s->throttle_start_ns ? per_second(s->after, s->throttle_start_ns, s->last_ns) : -1;
}

double route_apparent_limit(const struct route_retries *s)
{
	/* Completed seconds only: the current one is still filling. */
	return s->limit_seconds ? (double)s->limit_ok / s->limit_seconds : -1;
}

/* ---- the (client, route) table ---- */

int retries_init(struct retries *t, size_t max_clients)
{
	memset(t, 0, sizeof(*t));
	t->max = max_clients ? max_clients : RETRY_CLIENTS_MAX;
	if (t->max > RETRY_CLIENTS_LIMIT)
		t->max = RETRY_CLIENTS_LIMIT;
	t->index_slots = RETRY_INDEX_PER_CLIENT * t->max;
	t->clients = calloc(t->max, sizeof(*t->clients));
	t->index = calloc(t->index_slots, sizeof(*t->index));
	return t->clients && t->index ? 0 : -1;
}

void retries_free(struct retries *t)
{
	free(t->clients);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

/* "10.0.0.1:5555" -> "10.0.0.1", "[::1]:5555" -> "::1": clients open a new
 * port per connection, their address is what stays. */
static void client_address(const char *peer, char *out, size_t len)
{
	const char *end;
	size_t n;

	if (peer[0] == '[') {
		end = strchr(peer, ']');
		peer++;
	} else {
		end = strrchr(peer, ':');
	}
	n = end ? (size_t)(end - peer) : strlen(peer);
	if (!len)
		return;
	n = n < len ? n : len - 1;
	memcpy(out, peer, n);	/* per request: no printf */
	out[n] = 0;
}

static void index_rebuild(struct retries *t)
{
	memset(t->index, 0, t->index_slots * sizeof(*t->index));
	for (size_t k = 0; k < t->n; k++) {
		size_t i = t->clients[k].key % t->index_slots;

		while (t->index[i])
			i = (i + 1) % t->index_slots;
		t->index[i] = (uint16_t)(k + 1);
	}
}

/* The pair's entry; when the table is full, the one seen longest ago
 * makes room (counted). */
static struct retry_client *client_entry(struct retries *t, const char *addr,
					 const char *route, uint64_t now)
{
	uint64_t key = fnv1a_str(fnv1a_str(FNV1A_BASIS, addr), route) | 1;
	size_t i = key % t->index_slots;
	struct retry_client *c, *oldest = NULL;
	bool evict = t->n == t->max;

	for (; t->index[i]; i = (i + 1) % t->index_slots) {
		c = &t->clients[t->index[i] - 1];
		if (c->key == key && !strcmp(c->client, addr) && !strcmp(c->route, route))
			return c;
	}
	for (size_t k = 0; evict && k < t->n; k++) {
		c = &t->clients[k];
		if (!oldest || c->last_seen_ns < oldest->last_seen_ns)
			oldest = c;
	}
	if (!evict) {
		t->index[i] = (uint16_t)(t->n + 1);
		c = &t->clients[t->n++];
	} else {
		c = oldest;
		t->evicted++;
	}
	memset(c, 0, sizeof(*c));
	c->key = key;
	c->ra_asked_s = -1;
	c->last_seen_ns = now;
	snprintf(c->client, sizeof(c->client), "%s", addr);
	snprintf(c->route, sizeof(c->route), "%s", route);
	if (evict)
		index_rebuild(t);	/* as costly as finding the oldest was */
	return c;
}

/* Retries of other clients on this route within RETRY_LOCKSTEP_NS: with
 * enough of them, all are marked synchronised (each once); returns how
 * many were newly marked. */
static unsigned lockstep_check(struct retries *t, uint64_t route_hash, struct retry_client *c,
			       uint64_t ts)
{
	struct retry_ring_entry *near[RETRY_LOCKSTEP_RING];
	uint64_t seen[RETRY_LOCKSTEP_CLIENTS];
	unsigned nnear = 0, nseen = 0, marked = 0;
	struct retry_ring_entry *self = &t->ring[t->ring_next++ % RETRY_LOCKSTEP_RING];

	*self = (struct retry_ring_entry){ .ts = ts, .route_hash = route_hash,
					   .client_key = c->key, .slot = c - t->clients };
	for (unsigned i = 0; i < RETRY_LOCKSTEP_RING; i++) {
		struct retry_ring_entry *e = &t->ring[i];
		uint64_t d = e->ts > ts ? e->ts - ts : ts - e->ts;

		if (!e->ts || e->route_hash != route_hash || d > RETRY_LOCKSTEP_NS)
			continue;
		near[nnear++] = e;
		if (nseen < RETRY_LOCKSTEP_CLIENTS) {
			unsigned k = 0;

			while (k < nseen && seen[k] != e->client_key)
				k++;
			if (k == nseen)
				seen[nseen++] = e->client_key;
		}
	}
	if (nseen < RETRY_LOCKSTEP_CLIENTS)
		return 0;
	for (unsigned i = 0; i < nnear; i++) {
		struct retry_client *o = &t->clients[near[i]->slot];

		if (near[i]->marked)
			continue;
		near[i]->marked = true;
		marked++;
		if (o->key == near[i]->client_key)	/* not evicted since */
			o->lockstep++;
	}
	return marked;
}

/* Is this request a retry of the client's last answer?  Fills f. */
static uint64_t arrived(const struct request *r)
{
	return r->ts_arrived ? r->ts_arrived : r->ts_start;
}

static void chain_step(struct retry_client *c, const struct request *r, uint64_t path,
		       struct retry_facts *f)
{
	uint64_t t = arrived(r);

	if (!c->last_failed || !c->last_end_ns || t < c->last_end_ns || path != c->last_path ||
	    t - c->last_end_ns > RETRY_WINDOW_NS) {
		c->prev_delay_ms = 0;
		return;
	}
	f->retry = true;
	f->after_throttle = c->last_throttled;
	f->delay_ns = t - c->last_end_ns;
	f->prev_delay_ms = c->prev_delay_ms;
	if (c->last_ra_s >= 0) {
		f->ra_asked = true;
		f->ra_ignored = f->delay_ns < RA_HONOURED_SHARE * c->last_ra_s * 1e9;
	}
	c->retries++;
	c->ra_retries += f->ra_asked;
	c->ra_ignored += f->ra_ignored;
	delay_moments_add(&c->delays, f->delay_ns / 1e6, f->prev_delay_ms);
	if (f->prev_delay_ms >= RETRY_RATIO_MIN_NS / 1e6 && f->delay_ns)
		c->log_ratio[c->nratios++ % RETRY_RATIOS_KEPT] =
			log(f->delay_ns / 1e6 / f->prev_delay_ms);
	c->prev_delay_ms = f->delay_ns / 1e6;
}

static enum throttle_source throttled_by(const struct request *r)
{
	const struct attempt *last = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;

	if (r->client_closed || !status_throttled(r->status, r->retry_after, r->throttling_hint))
		return THROTTLE_NONE;
	return last && attempt_throttled(last) ? THROTTLE_BACKEND : THROTTLE_GATEWAY;
}

void retries_observe(struct retries *t, const struct request *r, const char *route,
		     struct retry_facts *f)
{
	char addr[RETRY_ADDR_LEN];
	struct retry_client *c;
	uint64_t end = r->client_closed && r->ts_client_fin ? r->ts_client_fin : r->ts_done;
	uint64_t path = fnv1a_str(FNV1A_BASIS, r->path);	/* a retry asks for the same */

	memset(f, 0, sizeof(*f));
	f->ts_start = r->ts_start;
	f->throttled = throttled_by(r);
	f->status = r->client_closed ? 0 : r->status;
	client_address(r->client, addr, sizeof(addr));
	c = client_entry(t, addr, route, r->ts_start);
	c->requests++;
	c->throttled += f->throttled != THROTTLE_NONE;
	c->failed += request_failed(r);
	chain_step(c, r, path, f);
	if (f->retry)
		f->lockstep = lockstep_check(t, fnv1a_str(FNV1A_BASIS, route), c, arrived(r));
	if (r->ts_start > c->last_seen_ns)
		c->last_seen_ns = r->ts_start;
	c->last_end_ns = end;
	c->last_path = path;
	c->last_throttled = f->throttled != THROTTLE_NONE;
	c->last_failed = c->last_throttled || request_failed(r);
	c->last_ra_s = c->last_throttled && r->retry_after ? r->retry_after_s : -1;
	if (c->last_ra_s >= 0)
		c->ra_asked_s = c->last_ra_s;
}

/* ---- verdicts ---- */

static int cmp_float(const void *pa, const void *pb)
{
	float a = *(const float *)pa, b = *(const float *)pb;

	return a < b ? -1 : a > b;
}

static float median_sorted(const float *v, unsigned n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double client_ratio_spread(const struct retry_client *c)
{
	float v[RETRY_RATIOS_KEPT], dev[RETRY_RATIOS_KEPT], med;
	unsigned n = c->nratios < RETRY_RATIOS_KEPT ? c->nratios : RETRY_RATIOS_KEPT;

	if (n < 3)
		return -1;
	memcpy(v, c->log_ratio, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_float);
	med = median_sorted(v, n);
	for (unsigned i = 0; i < n; i++)
		dev[i] = fabsf(v[i] - med);
	qsort(dev, n, sizeof(dev[0]), cmp_float);
	return 1.4826 * median_sorted(dev, n);
}

static bool honours_retry_after(const struct retry_client *c)
{
	return c->ra_retries >= RETRY_MIN_JUDGED &&
	       c->ra_ignored * 10 <= c->ra_retries;	/* at most one in ten early */
}

/* The verdict for one client on one route, NULL when it retried too
 * little to judge; evidence gets the figures that decided it. */
const char *retry_verdict(const struct retry_client *c, char *ev, size_t len)
{
	const struct delay_moments *d = &c->delays;
	double ratio = backoff_ratio(d), mean = delay_mean_ms(d);
	bool backs_off = d->nratio >= 3 && ratio >= BACKOFF_RATIO_MIN;
	double jitter = backs_off ? client_ratio_spread(c) : delay_cv(d);

	if (c->retries < RETRY_MIN_JUDGED) {
		snprintf(ev, len, "%llu retries: too few to judge", (unsigned long long)c->retries);
		return NULL;
	}
	if (c->ra_retries >= RETRY_MIN_JUDGED && c->ra_ignored * 2 > c->ra_retries) {
		snprintf(ev, len, "%llu of %llu retries came sooner than the Retry-After asked (%d s); mean delay %.1f ms",
			 (unsigned long long)c->ra_ignored, (unsigned long long)c->ra_retries,
			 c->ra_asked_s, mean);
		return "ignores Retry-After";
	}
	if (honours_retry_after(c)) {
		snprintf(ev, len, "%llu of %llu retries waited the Retry-After asked (%d s); mean delay %.1f ms",
			 (unsigned long long)(c->ra_retries - c->ra_ignored),
			 (unsigned long long)c->ra_retries, c->ra_asked_s, mean);
		return "backoff ok";
	}
	if (!backs_off) {
		bool storm = c->retries >= STORM_SHARE * c->requests;

		snprintf(ev, len, "%llu retries of %llu requests; mean delay %.1f ms, growth x%.2f",
			 (unsigned long long)c->retries, (unsigned long long)c->requests, mean,
			 ratio > 0 ? ratio : 1.0);
		return storm ? "retry storm" : "no backoff";
	}
	snprintf(ev, len, "delays grow x%.2f per retry (mean %.1f ms, %.1f..%.1f ms), spread %.2f; %llu of %llu retries in lockstep with other clients",
		 ratio, mean, d->min_ms, d->max_ms, jitter, (unsigned long long)c->lockstep,
		 (unsigned long long)c->retries);
	/* Jitter is there to pull clients apart: retries that mostly come
	 * with other clients' show it did not, whatever their spread. */
	if ((jitter >= 0 && jitter < JITTER_MIN) || c->lockstep * 2 >= c->retries)
		return "no jitter";
	return "backoff ok";
}

static uint64_t offence(const struct retry_client *c)
{
	return c->throttled + c->retries;
}

static int by_offence(const void *pa, const void *pb)
{
	uint64_t a = offence(*(const struct retry_client *const *)pa);
	uint64_t b = offence(*(const struct retry_client *const *)pb);

	return a < b ? 1 : a > b ? -1 : 0;
}

size_t retries_top(const struct retries *t, const struct retry_client **out, size_t max)
{
	const struct retry_client **all = malloc(t->max * sizeof(*all));
	size_t n = 0;

	if (!all)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		if (offence(&t->clients[i]))
			all[n++] = &t->clients[i];
	qsort(all, n, sizeof(all[0]), by_offence);
	n = n < max ? n : max;
	memcpy(out, all, n * sizeof(all[0]));
	free(all);
	return n;
}
