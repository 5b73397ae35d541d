/* Correlator stage: joins each downstream request (client -> gateway) to the
 * upstream attempts (gateway -> backend) it caused: same process and thread,
 * same method and path when the gateway does not rewrite them, time order.
 * A retry to a second backend is a second attempt.  Finished requests go to
 * a sink (routes, outputs). */
#ifndef GS_CORRELATE_H
#define GS_CORRELATE_H

#include <stdbool.h>
#include <stdint.h>
#include "conn.h"
#include "http_parser.h"
#include "util.h"

#define REQ_METHOD_LEN	HTTP_METHOD_LEN
#define REQ_HOST_LEN	HTTP_HOST_LEN
#define REQ_PATH_LEN	HTTP_PATH_LEN
#define REQ_ATTEMPTS	4
#define CORR_POOL	4096	/* requests in flight at once */

/* How an attempt ended before or without a response. */
enum attempt_failure {
	ATTEMPT_OK = 0,
	ATTEMPT_REFUSED,
	ATTEMPT_CONNECT_TIMEOUT,
	ATTEMPT_UNREACHABLE,
	ATTEMPT_RESET,		/* RST from the backend after the request */
	ATTEMPT_CLOSED,		/* backend FIN before a complete response */
	ATTEMPT_ABANDONED,	/* the gateway closed it without a response */
};

struct attempt {
	char backend[GS_ADDR_STRLEN];
	uint64_t sk;			/* upstream connection */
	uint64_t ts_start;		/* connect() when fresh, request write when reused */
	uint64_t ts_request;		/* request head written */
	uint64_t ts_resp_kernel;	/* first response byte reached the socket */
	uint64_t ts_resp_read;		/* response head read by the gateway */
	uint64_t ts_end;		/* connection closed / attempt given up */
	double connect_ms;		/* -1 when reused or unknown */
	uint16_t status;		/* 0: no response head */
	bool reused, retry_after;
	bool throttling_hint;		/* a 4xx/5xx whose visible text names throttling */
	enum attempt_failure failure;
	struct gs_conn_event conn;	/* TCP facts of the upstream connection, if closed */
	bool have_conn;
	/* The connection closed with this attempt unanswered after this long
	 * without progress: a timeout sample, counted when the request ends
	 * (not when the gateway closed it because the client had left). */
	uint64_t idle_close_ns;
	bool idle_closed_by_backend;
};

struct request {
	uint32_t id;			/* pool slot | generation << 16 */
	uint32_t pid, tid;
	char comm[GS_COMM_LEN + 1];
	char client[GS_ADDR_STRLEN];
	char method[REQ_METHOD_LEN];
	char host[REQ_HOST_LEN];
	char path[REQ_PATH_LEN];
	uint64_t sk;			/* downstream connection */
	uint64_t ts_start;		/* request head read by the gateway */
	uint64_t ts_response;		/* response head written, 0 if none */
	uint64_t ts_done;		/* response complete, or the end of the exchange */
	uint16_t status;		/* 0: the client got no status */
	bool client_closed;		/* the client closed before the response */
	unsigned nattempts;
	unsigned attempts_dropped;	/* beyond REQ_ATTEMPTS */
	bool waiting_facts;		/* finished, waiting for the upstream connection's close */
	struct attempt attempts[REQ_ATTEMPTS];
};

typedef void (*request_sink)(const struct request *r, void *ctx);

struct correlator {
	struct request *pool;		/* CORR_POOL slots; slot 0 unused (id 0 = none) */
	uint16_t *gen;			/* per slot, so stale ids are detected */
	uint16_t *active;		/* slots in use, in no particular order */
	uint16_t *pos;			/* slot -> index in active, or 0xffff when free */
	uint16_t *free_slots;		/* stack of free slots */
	uint32_t nactive, nfree;
	request_sink sink;
	void *ctx;
	uint64_t requests;		/* downstream requests finished */
	uint64_t joined;		/* ... with at least one attempt */
	uint64_t unjoined_attempts;	/* upstream attempts with no request to join */
	uint64_t pool_evictions;	/* requests forced out of a full pool */
	uint64_t facts_timeouts;	/* failed requests reported without upstream TCP facts */
};

/* A failed request waits at most this long for its upstream connection's
 * TCP facts (the gateway often answers before that connection is closed). */
#define CORR_FACTS_WAIT_NS (3 * 1000000000ull)

int corr_init(struct correlator *c, request_sink sink, void *ctx);
void corr_free(struct correlator *c);
/* A downstream request head was read; returns its id (never 0). */
uint32_t corr_request_start(struct correlator *c, const struct request *proto);
struct request *corr_get(struct correlator *c, uint32_t id);
/* Finish: hands the request to the sink and frees its slot; a failed
 * request whose last attempt has no TCP facts yet waits for them. */
void corr_request_done(struct correlator *c, uint32_t id);
/* The upstream connection of this attempt closed (its facts are in). */
void corr_attempt_closed(struct correlator *c, uint32_t id);
/* Hand over waiting requests finished before now - CORR_FACTS_WAIT_NS
 * (all of them with now = UINT64_MAX). */
void corr_flush(struct correlator *c, uint64_t now);
/* An upstream attempt began (request head written, or a connection that
 * failed before any request).  Returns the owning request id and the
 * attempt index, or 0 when no pending request of that thread matches. */
uint32_t corr_attempt_start(struct correlator *c, uint32_t pid, uint32_t tid,
			    const char *method, const char *path, uint64_t ts,
			    const struct attempt *a, unsigned *index);
struct attempt *corr_attempt(struct correlator *c, uint32_t id, unsigned index);

#endif
