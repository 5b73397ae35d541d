/* SPDX-License-Identifier: MIT */
/* Connection identities: the kernel sends a followed connection's
 * addresses, process and start times once (GS_EV_HTTP_CONN), then its
 * captures without them (GS_EV_HTTP_HEAD); this table keeps the first to
 * make whole gs_http_event records of the second, which is all the rest
 * of the pipeline (and every --record file) sees.
 *
 * Bounded: at most max identities.  A connection's close (GS_EV_CONN)
 * does not remove its identity at once (a process may still read what a
 * reset connection had queued), it makes it the first to go when the
 * table is full; a live connection's identity goes only when max are
 * live (counted), and its later captures are then dropped (the decoder
 * counts them). */
#ifndef GS_CONN_IDENT_H
#define GS_CONN_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http.h"

struct conn_ident;

struct conn_idents {
	struct conn_ident **buckets;
	size_t nbuckets, n, max;
	/* Two lists, oldest first: live connections (by announcement) and
	 * closed ones (by close), the closed evicted first. */
	struct conn_ident *live_old, *live_new, *closed_old, *closed_new;
	uint64_t evicted_live;		/* identities of live connections pushed out */
};

/* max 0: CONN_IDENTS_DEFAULT.  0, or -1 when out of memory. */
#define CONN_IDENTS_DEFAULT 8192
int conn_idents_init(struct conn_idents *t, size_t max);
void conn_idents_free(struct conn_idents *t);
/* A connection announced itself (a new one at the same socket address
 * replaces the old). */
void conn_idents_put(struct conn_idents *t, const struct gs_http_conn_event *c);
/* The connection's summary event came: it is over. */
void conn_idents_closed(struct conn_idents *t, uint64_t sk);
/* The whole capture record of h into out (room for a gs_http_event):
 * false when its connection's identity is unknown. */
bool conn_idents_expand(struct conn_idents *t, const struct gs_http_head_event *h,
			struct gs_http_event *out);

#endif
