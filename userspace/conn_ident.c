// SPDX-License-Identifier: MIT
/* Connection identities (conn_ident.h): a chained hash by socket address,
 * each entry on one of two lists, live or closed, oldest first. */
#include "conn_ident.h"

#include <stdlib.h>
#include <string.h>

struct conn_ident {
	struct conn_ident *next;		/* bucket chain */
	struct conn_ident *older, *newer;	/* its list */
	bool closed;
	struct gs_http_conn_event c;
};

static size_t bucket_of(const struct conn_idents *t, uint64_t sk)
{
	return (sk >> 6) * 0x9e3779b97f4a7c15ull >> 32 & (t->nbuckets - 1);
}

int conn_idents_init(struct conn_idents *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max ? max : CONN_IDENTS_DEFAULT;
	for (t->nbuckets = 64; t->nbuckets < t->max; t->nbuckets <<= 1)
		;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -1;
}

void conn_idents_free(struct conn_idents *t)
{
	struct conn_ident *id, *next;

	for (size_t b = 0; t->buckets && b < t->nbuckets; b++)
		for (id = t->buckets[b]; id; id = next) {
			next = id->next;
			free(id);
		}
	free(t->buckets);
	t->buckets = NULL;
}

static struct conn_ident *find(const struct conn_idents *t, uint64_t sk)
{
	struct conn_ident *id = t->buckets[bucket_of(t, sk)];

	while (id && id->c.sk != sk)
		id = id->next;
	return id;
}

static void list_remove(struct conn_idents *t, struct conn_ident *id)
{
	struct conn_ident **old = id->closed ? &t->closed_old : &t->live_old;
	struct conn_ident **new = id->closed ? &t->closed_new : &t->live_new;

	if (id->older)
		id->older->newer = id->newer;
	else
		*old = id->newer;
	if (id->newer)
		id->newer->older = id->older;
	else
		*new = id->older;
	id->older = id->newer = NULL;
}

static void list_append(struct conn_idents *t, struct conn_ident *id, bool closed)
{
	struct conn_ident **old = closed ? &t->closed_old : &t->live_old;
	struct conn_ident **new = closed ? &t->closed_new : &t->live_new;

	id->closed = closed;
	id->older = *new;
	id->newer = NULL;
	if (*new)
		(*new)->newer = id;
	else
		*old = id;
	*new = id;
}

/* Full: the connection closed longest ago goes, else the live one
 * announced first (counted). */
static void evict_one(struct conn_idents *t)
{
	struct conn_ident *id = t->closed_old ? t->closed_old : t->live_old;
	struct conn_ident **pp;

	if (!id)
		return;
	if (!id->closed)
		t->evicted_live++;
	for (pp = &t->buckets[bucket_of(t, id->c.sk)]; *pp != id; pp = &(*pp)->next)
		;
	*pp = id->next;
	list_remove(t, id);
	free(id);
	t->n--;
}

void conn_idents_put(struct conn_idents *t, const struct gs_http_conn_event *c)
{
	struct conn_ident *id = find(t, c->sk);
	size_t b;

	if (id) {
		list_remove(t, id);
	} else {
		if (t->n >= t->max)
			evict_one(t);
		if (!(id = calloc(1, sizeof(*id))))
			return;	/* its captures are dropped, counted */
		b = bucket_of(t, c->sk);
		id->next = t->buckets[b];
		t->buckets[b] = id;
		t->n++;
	}
	id->c = *c;
	list_append(t, id, false);
}

void conn_idents_closed(struct conn_idents *t, uint64_t sk)
{
	struct conn_ident *id = find(t, sk);

	if (id && !id->closed) {
		list_remove(t, id);
		list_append(t, id, true);
	}
}

bool conn_idents_expand(struct conn_idents *t, const struct gs_http_head_event *h,
			struct gs_http_event *out)
{
	const struct conn_ident *id = find(t, h->sk);
	const struct gs_http_conn_event *c;

	if (!id)
		return false;
	c = &id->c;
	memset(out, 0, GS_HTTP_HDR_SIZE);
	out->type = GS_EV_HTTP;
	out->size = GS_HTTP_HDR_SIZE + h->cap_len;
	out->sk = h->sk;
	out->ts = h->ts;
	out->stream_off = h->stream_off;
	out->ts_conn_start = c->ts_conn_start;
	out->ts_established = c->ts_established;
	out->ts_first_byte = h->ts_first_byte;
	out->ts_last_tx = h->ts_last_tx;
	out->ts_last_rx = h->ts_last_rx;
	out->other_off = h->other_off;
	out->pid = c->pid;
	out->tid = h->tid;
	out->len = h->len;
	out->cap_len = h->cap_len;
	out->family = c->family;
	out->sport = c->sport;
	out->dport = c->dport;
	out->io_dir = h->io_dir;
	out->conn_dir = c->conn_dir;
	out->flags = h->flags;
	memcpy(out->saddr, c->saddr, sizeof(out->saddr));
	memcpy(out->daddr, c->daddr, sizeof(out->daddr));
	memcpy(out->comm, c->comm, sizeof(out->comm));
	memcpy(out->data, h->data, h->cap_len);
	return true;
}
