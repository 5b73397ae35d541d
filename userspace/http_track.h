/* SPDX-License-Identifier: MIT */
/* HTTP connection table: per traced connection, the two HTTP streams
 * (requests one way, responses the other) and the exchanges in flight.
 * Turns captured head fragments and connection closes into downstream
 * requests and upstream attempts for the join engine. */
#ifndef GS_HTTP_TRACK_H
#define GS_HTTP_TRACK_H

#include <stddef.h>
#include <stdint.h>
#include "conn.h"
#include "backend_side.h"
#include "conntable.h"
#include "h2.h"
#include "http.h"
#include "join.h"

#define HTTP_CONNS_MAX_DEFAULT 8192

struct http_conn;

/* Upstream connections that were open at the start (GS_EV_ADOPTED) and
 * have not been seen carrying an HTTP/1 request since, by socket: open
 * addressing, 0 free, 1 a removed entry. */
struct adopted_pool {
	uint64_t *sk;
	uint32_t *pid;
	uint32_t cap, used;		/* slots; slots not free (live or removed) */
};

struct http_tracker {
	struct http_conn **buckets;
	size_t nbuckets;
	size_t n, max;
	struct http_conn *lru_oldest;	/* use order, for eviction */
	struct http_conn *lru_newest;
	unsigned freed_since_trim;	/* connections freed since memory was returned */
	struct joiner *join;
	struct backend_side ends;	/* which connections are a backend's side of an attempt */
	struct adopted_pool unread;	/* upstream connections open at the start, unread */
	/* Degradations, all reported: */
	uint64_t evicted;		/* connections dropped from a full table */
	uint64_t unparsable;		/* connections whose HTTP could not be parsed */
	uint64_t pipeline_overflow;	/* exchanges beyond the in-flight limit */
	uint64_t tls_conns;		/* closed connections that spoke TLS */
	uint64_t tls_read;		/* ... whose plaintext was read (libssl uprobes) */
	struct http_stream_stats parser;/* every stream's parser counts, summed as they grow */
	struct h2_stats h2;		/* HTTP/2 connections (h2.c) */
};

int http_track_init(struct http_tracker *t, size_t max_conns, struct joiner *join);
void http_track_free(struct http_tracker *t);
void http_track_event(struct http_tracker *t, const struct gs_http_event *e);
/* A connection open at the start, now followed: an upstream one counts,
 * for its process, as possibly carrying requests gatescope cannot read
 * (an HTTP/2 one: its header compression began before the start) until
 * an HTTP/1 request is seen on it or it closes (join_pool_unread). */
void http_track_adopted(struct http_tracker *t, const struct gs_adopted_event *e);
/* The connection closed: finish its exchanges with its TCP facts. */
void http_track_conn_closed(struct http_tracker *t, const struct gs_conn_event *e,
			    const struct conn_outcome *o);

#endif
