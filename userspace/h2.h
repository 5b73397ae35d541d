/* SPDX-License-Identifier: MIT */
/* HTTP/2 request stage: on a client-facing HTTP/2 connection every stream
 * is a request.  Header blocks decoded by h2_frame give :method,
 * :authority, :path and :status; the end of the response stream, an
 * RST_STREAM or the connection's close end it; gRPC's grpc-status in the
 * trailers is its status.  Requests go to the join engine like HTTP/1.x
 * ones, so upstream HTTP/1.1 attempts join to them the same way.
 * On an upstream HTTP/2 connection (nginx grpc_pass, HAProxy proto h2)
 * every stream the gateway opens is an attempt: its :status and
 * grpc-status, a reset by either side or a GOAWAY that refused it, and
 * the connection's TCP facts when it closes. */
#ifndef GS_H2_H
#define GS_H2_H

#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "join.h"

#define H2_STREAMS_MAX 256	/* open streams followed per connection */

struct h2_stats {
	uint64_t conns;			/* HTTP/2 connections followed */
	uint64_t streams;		/* requests (streams) seen */
	uint64_t upstream_streams;	/* streams the gateway opened upstream: attempts */
	uint64_t broken_conns;		/* connections whose framing or header block was lost */
	uint64_t streams_overflowed;	/* streams beyond H2_STREAMS_MAX open at once */
	uint64_t resets_by_client;	/* RST_STREAM from the client before the response ended */
	uint64_t resets_by_gateway;	/* RST_STREAM from the gateway before the response ended */
	uint64_t goaways;		/* GOAWAY frames with streams in flight */
};

struct h2_conn;

/* proto: the connection's side of every request (pid, comm, client,
 * listener, sk); upstream: NULL on a client-facing connection, else the
 * connection's side of every attempt (pid, sk, backend, ts_start: the
 * connect, connect_ms): the gateway is the client on it. */
struct h2_conn *h2_conn_new(const struct request *proto, const struct attempt *upstream,
			    struct joiner *join, struct h2_stats *st);
void h2_conn_free(struct h2_conn *h);
/* A captured fragment (GS_HTTP_F_H2) of the connection; is_request: it
 * flows from the HTTP/2 client to the server.  Returns -1 once the
 * connection's decoding is broken (counted once in st->broken_conns). */
int h2_conn_feed(struct h2_conn *h, const struct gs_http_event *e, bool is_request);
/* The connection closed: streams still open end here, an answered one
 * cut short (truncated) if every byte the gateway wrote (gw_sent, as the
 * connection's counters say) was read.  client_fin: the client closed
 * first, at ts_close; ts_last_tx: the gateway's last write. */
void h2_conn_closed(struct h2_conn *h, bool client_fin, uint64_t ts_close, uint64_t ts_last_tx,
		    uint64_t gw_sent);
/* A recording's replay: the decoded fields of the connection's next
 * header block in this direction (GS_HTTP_F_H2_FIELDS), before the
 * wiped bytes (GS_HTTP_F_H2_WIPED) that end it. */
int h2_conn_fields(struct h2_conn *h, const struct gs_http_event *e, bool is_request);
/* An upstream connection closed: fn sees every attempt of its streams
 * still in the join engine that was open at the close or ended without an
 * answer (stream_open: no END_STREAM, reset or GOAWAY ended it).  Returns
 * how many streams the connection carried as attempts. */
typedef void (*h2_attempt_fn)(struct attempt *a, bool stream_open, void *ctx);
unsigned h2_conn_upstream_closed(struct h2_conn *h, h2_attempt_fn fn, void *ctx);
/* Why decoding broke, NULL if it did not. */
const char *h2_conn_error(const struct h2_conn *h);

/* gRPC status code -> the HTTP status it stands for (0 -> 0: no change). */
uint16_t h2_grpc_http_status(int grpc_status);

#endif
