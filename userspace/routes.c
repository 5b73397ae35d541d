// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_parser.h"
#include "log.h"
#include "routes.h"
#include "util.h"

const char *cause_name(enum cause c)
{
	static const char *names[CAUSE__MAX] = {
		[CAUSE_NONE] = NULL, [CAUSE_GATEWAY] = "gateway", [CAUSE_NETWORK] = "network",
		[CAUSE_BACKEND] = "backend", [CAUSE_CLIENT] = "client", [CAUSE_UNKNOWN] = "unknown",
	};
	return c < CAUSE__MAX ? names[c] : NULL;
}

static struct route *route_new(const char *name)
{
	struct route *r = calloc(1, sizeof(*r));

	if (r)
		snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

/* A request's (method, host, target) and the name they gave its route.
 * The key is kept whole: a hash collision must never lend a route's name
 * to another request. */
#define ROUTE_KEY_MAX (HTTP_METHOD_LEN + HTTP_HOST_LEN + HTTP_PATH_LEN)

struct route_cache_slot {
	uint64_t hash;			/* 0: empty */
	uint16_t klen;			/* method NUL host NUL target, NULs included */
	char key[ROUTE_KEY_MAX];
	char name[ROUTE_LEN];
};

int routes_init(struct routes *rt, unsigned shown, size_t cache_slots)
{
	memset(rt, 0, sizeof(*rt));
	rt->shown = shown ? shown : ROUTES_SHOWN_DEFAULT;
	rt->other = route_new("other");
	rt->cache_slots = cache_slots ? cache_slots : ROUTE_CACHE_SLOTS;
	rt->cache = calloc(rt->cache_slots, sizeof(*rt->cache));
	return rt->other && rt->cache ? 0 : -1;
}

void routes_free(struct routes *rt)
{
	for (size_t i = 0; i < rt->n; i++)
		free(rt->r[i]);
	free(rt->other);
	free(rt->map);
	free(rt->cache);
	memset(rt, 0, sizeof(*rt));
}

int routes_load_map(struct routes *rt, const char *path)
{
	char line[2 * ROUTE_LEN + 16], prefix[ROUTE_LEN], name[ROUTE_LEN];
	const char *why;
	unsigned lineno = 0;
	int rc;
	FILE *f = config_open("--route-map", path);

	if (!f)
		return -1;
	while ((rc = config_line(f, line, sizeof(line), &why)) == 1) {
		char *s = line + strspn(line, " \t");
		struct route_map_entry *m;

		lineno++;
		if (*s == '#' || !*s)
			continue;
		if (sscanf(s, "%255s %255s", prefix, name) != 2 || prefix[0] != '/') {
			log_err("%s:%u: expected \"/path-prefix name\"", path, lineno);
			fclose(f);
			return -1;
		}
		if (rt->nmap == ROUTE_MAP_MAX) {
			log_err("%s: more than %u route prefixes", path, ROUTE_MAP_MAX);
			fclose(f);
			return -1;
		}
		m = realloc(rt->map, (rt->nmap + 1) * sizeof(*m));
		if (!m) {
			fclose(f);
			return -1;
		}
		rt->map = m;
		snprintf(m[rt->nmap].prefix, ROUTE_LEN, "%s", prefix);
		snprintf(m[rt->nmap].name, ROUTE_LEN, "%s", name);
		rt->nmap++;
	}
	if (rt->cache)	/* names made before the map are stale */
		memset(rt->cache, 0, rt->cache_slots * sizeof(*rt->cache));
	if (rc < 0)
		log_err("%s:%u: %s", path, lineno + 1, why);
	fclose(f);
	return rc < 0 ? -1 : 0;
}

/* The longest --route-map prefix that matches names the route. */
static const char *mapped_name(const struct routes *rt, const char *path)
{
	const char *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < rt->nmap; i++) {
		size_t n = strlen(rt->map[i].prefix);

		if (n > best_len && !strncmp(path, rt->map[i].prefix, n)) {
			best = rt->map[i].name;
			best_len = n;
		}
	}
	return best;
}

/* The path without path (matrix) parameters, query or fragment:
 * "/api;jsessionid=X/v1?q" matches the prefix "/api/v1" as "/api/v1" does. */
static void plain_path(const char *path, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = path; *p && *p != '?' && *p != '#' && o + 1 < len; p++) {
		if (*p == ';') {
			p += strcspn(p, "/?#");
			if (*p != '/')
				break;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* Appends s at out[o] within len (NUL kept), like snprintf truncates. */
static size_t append(char *out, size_t len, size_t o, const char *s)
{
	size_t n = strlen(s);

	if (o + 1 >= len)
		return o;
	if (n > len - 1 - o)
		n = len - 1 - o;
	memcpy(out + o, s, n);
	out[o + n] = 0;
	return o + n;
}

/* The name itself, made only when the cache has not seen the request. */
static void make_name(const struct routes *rt, const char *method, const char *host,
		      const char *path, char *out, size_t len)
{
	char tmpl[ROUTE_LEN], plain[ROUTE_LEN];
	const char *mapped;
	size_t o;

	out[0] = 0;
	plain_path(path, plain, sizeof(plain));
	mapped = mapped_name(rt, plain);
	o = append(out, len, 0, method);
	o = append(out, len, o, " ");
	if (mapped) {
		append(out, len, o, mapped);
		return;
	}
	http_route_template(path, tmpl, sizeof(tmpl));
	o = append(out, len, o, host && *host ? host : "-");
	append(out, len, o, tmpl);
}

/* The route tables' hash, 8 bytes a step: only lookups use it (a match is
 * compared whole), and FNV's multiply per byte made hashing each request's
 * key and name a chain of ~70 dependent multiplies. */
static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	for (w = 0; n--;)
		w = w << 8 | (uint8_t)s[n];
	h = (h ^ w) * 0x94d049bb133111ebull;
	return h ^ h >> 29;
}

/* method NUL host NUL target NUL into key; its length, or 0 if too long. */
static size_t route_key(const char *method, const char *host, const char *path,
			char key[ROUTE_KEY_MAX])
{
	const char *parts[3] = { method, host ? host : "", path };
	size_t o = 0;

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]) + 1;

		if (o + n > ROUTE_KEY_MAX)
			return 0;
		memcpy(key + o, parts[i], n);
		o += n;
	}
	return o;
}

void routes_name(struct routes *rt, const char *method, const char *host,
		 const char *path, char *out, size_t len)
{
	char key[ROUTE_KEY_MAX], name[ROUTE_LEN];
	size_t klen = route_key(method, host, path, key);
	uint64_t h = hash_bytes(key, klen) | 1;
	struct route_cache_slot *c = rt->cache && klen ? &rt->cache[h % rt->cache_slots] : NULL;

	if (!len)
		return;
	if (c && (c->hash != h || c->klen != klen || memcmp(c->key, key, klen))) {
		make_name(rt, method, host, path, c->name, sizeof(c->name));
		c->hash = h;
		c->klen = klen;
		memcpy(c->key, key, klen);
	} else if (!c) {
		make_name(rt, method, host, path, name, sizeof(name));
	}
	append(out, len, 0, c ? c->name : name);
}

static size_t index_slot(const char *name)
{
	return hash_bytes(name, strlen(name)) % ROUTE_INDEX_SLOTS;
}

/* The route of this name, by its hash (a host with 256 routes would
 * otherwise compare names 128 times per request). */
static struct route *route_find(struct routes *rt, const char *name)
{
	size_t i = index_slot(name);

	for (; rt->index[i]; i = (i + 1) % ROUTE_INDEX_SLOTS)
		if (!strcmp(rt->r[rt->index[i] - 1]->name, name))
			return rt->r[rt->index[i] - 1];
	if (rt->n < ROUTES_MAX && (rt->r[rt->n] = route_new(name))) {
		rt->index[i] = (uint16_t)(rt->n + 1);
		return rt->r[rt->n++];
	}
	rt->overflowed++;
	return rt->other;
}

/* Count (up, down) in a bounded pair table; beyond it in *other. */
static void pair_add(struct status_xlate *t, size_t max, uint64_t *other, uint16_t up,
		     uint16_t down, uint64_t n)
{
	for (size_t i = 0; i < max; i++) {
		struct status_xlate *x = &t[i];

		if (x->count && (x->upstream != up || x->downstream != down))
			continue;
		x->upstream = up;
		x->downstream = down;
		x->count += n;
		return;
	}
	*other += n;
}

static void xlate_add(struct route_stats *s, uint16_t up, uint16_t down, uint64_t n)
{
	pair_add(s->xlate, ROUTE_XLATE_MAX, &s->xlate_other, up, down, n);
}

static void masked_add(struct route_stats *s, uint16_t up, uint16_t down, uint64_t n)
{
	pair_add(s->masked, ROUTE_MASKED_MAX, &s->masked_other, up, down, n);
}

bool status_masks_failure(uint16_t upstream, uint16_t downstream)
{
	return (upstream == 429 || upstream >= 500) && downstream / 100 == 2;
}

static void f504_add(struct route_stats *s, const char *backend, enum cause c,
		     const char *reason, uint64_t n)
{
	for (size_t i = 0; i < ROUTE_F504_MAX; i++) {
		struct fail_504 *f = &s->f504[i];

		if (f->count && (f->cause != c || f->reason != reason || strcmp(f->backend, backend)))
			continue;
		if (!f->count) {
			snprintf(f->backend, sizeof(f->backend), "%s", backend);
			f->cause = c;
			f->reason = reason;
		}
		f->count += n;
		return;
	}
	s->f504_other += n;
}

static void stats_add(struct route_stats *s, const struct route_sample *x)
{
	unsigned cls = x->status / 100;

	s->requests++;
	if (x->unfinished)
		s->unfinished++;
	else
		s->status_class[cls < STATUS_CLASSES ? cls : 0]++;
	if (x->status == 504) {
		s->s504++;
		s->cause_504[x->cause < CAUSE__MAX ? x->cause : CAUSE_UNKNOWN]++;
		f504_add(s, x->backend ? x->backend : "", x->cause, x->reason, 1);
	}
	s->attempts += x->attempts;
	s->joined += x->attempts > 0;
	s->throttled += x->throttled;
	s->failed += x->failed;
	if (x->attempts)
		xlate_add(s, x->upstream_status, x->status, 1);
	if (x->attempts && status_masks_failure(x->upstream_status, x->status))
		masked_add(s, x->upstream_status, x->status, 1);
	if (x->retry)
		route_retries_add(&s->retries, x->retry);
	hist_add(&s->latency, x->latency_ns);
}

void routes_add(struct routes *rt, const struct route_sample *x)
{
	struct route *r = route_find(rt, x->route);

	stats_add(&r->win, x);
	stats_add(&r->total, x);
}

void routes_window_reset(struct routes *rt)
{
	for (size_t i = 0; i < rt->n; i++)
		memset(&rt->r[i]->win, 0, sizeof(rt->r[i]->win));
	memset(&rt->other->win, 0, sizeof(rt->other->win));
}

void route_stats_merge(struct route_stats *acc, const struct route_stats *a)
{
	acc->requests += a->requests;
	for (int i = 0; i < STATUS_CLASSES; i++)
		acc->status_class[i] += a->status_class[i];
	acc->unfinished += a->unfinished;
	acc->s504 += a->s504;
	for (int i = 0; i < CAUSE__MAX; i++)
		acc->cause_504[i] += a->cause_504[i];
	acc->attempts += a->attempts;
	acc->joined += a->joined;
	acc->throttled += a->throttled;
	acc->failed += a->failed;
	for (size_t i = 0; i < ROUTE_XLATE_MAX; i++)
		if (a->xlate[i].count)
			xlate_add(acc, a->xlate[i].upstream, a->xlate[i].downstream,
				  a->xlate[i].count);
	acc->xlate_other += a->xlate_other;
	for (size_t i = 0; i < ROUTE_F504_MAX; i++)
		if (a->f504[i].count)
			f504_add(acc, a->f504[i].backend, a->f504[i].cause, a->f504[i].reason,
				 a->f504[i].count);
	acc->f504_other += a->f504_other;
	for (size_t i = 0; i < ROUTE_MASKED_MAX; i++)
		if (a->masked[i].count)
			masked_add(acc, a->masked[i].upstream, a->masked[i].downstream,
				   a->masked[i].count);
	acc->masked_other += a->masked_other;
	route_retries_merge(&acc->retries, &a->retries);
	hist_merge(&acc->latency, &a->latency);
}

static const struct route_stats *view(const struct route *r, bool total)
{
	return total ? &r->total : &r->win;
}

static int by_requests_win(const void *a, const void *b)
{
	uint64_t x = (*(const struct route **)a)->win.requests;
	uint64_t y = (*(const struct route **)b)->win.requests;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int by_requests_total(const void *a, const void *b)
{
	uint64_t x = (*(const struct route **)a)->total.requests;
	uint64_t y = (*(const struct route **)b)->total.requests;

	return x < y ? 1 : x > y ? -1 : 0;
}

size_t routes_top(const struct routes *rt, bool total, const struct route **out,
		  size_t max, struct route_stats *rest, bool *have_rest)
{
	const struct route *all[ROUTES_MAX];
	size_t n = 0, limit = rt->shown < max ? rt->shown : max;

	for (size_t i = 0; i < rt->n; i++)
		if (view(rt->r[i], total)->requests)
			all[n++] = rt->r[i];
	qsort(all, n, sizeof(all[0]), total ? by_requests_total : by_requests_win);
	memset(rest, 0, sizeof(*rest));
	*have_rest = false;
	for (size_t i = limit; i < n; i++) {
		route_stats_merge(rest, view(all[i], total));
		*have_rest = true;
	}
	if (view(rt->other, total)->requests) {
		route_stats_merge(rest, view(rt->other, total));
		*have_rest = true;
	}
	n = n < limit ? n : limit;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}
