/* SPDX-License-Identifier: MIT */
/* Join engine: decides which upstream attempts (gateway -> backend) a
 * downstream request (client -> gateway) caused, and hands each finished
 * request, with its attempts, to one consumer.
 *
 * Contract:
 *  - Requests and attempts are reported as they happen (heads, responses,
 *    closes), in any interleaving, from any thread of the gateway process.
 *  - Attempts are not bound when they start: a request's attempts are
 *    chosen once it was answered (or ended) and the evidence is in (late
 *    binding): join_wait_ns after the answer, in the order requests were
 *    answered, longer (up to JOIN_FACTS_WAIT_NS) for a failed request whose
 *    best attempt has not closed yet, shorter (JOIN_ANSWERED_WAIT_NS) for
 *    one answered well, finished, whose candidates all read their answers
 *    (but no sooner than one answered before it that waits the whole
 *    time).  The request is
 *    handed over when its exchange is over and its last attempt's TCP
 *    facts are in (bounded).
 *  - Evidence, strongest first: a propagated request id; the content the
 *    gateway copies upstream (path, or its tail when the prefix was
 *    rewritten, and hashed header values); then time: the attempt whose end
 *    (response read, or connection closed) is nearest the moment the
 *    gateway answered.  Threads are a hint (join "order"), never a key.
 *  - When two candidates fit equally and would give different verdicts,
 *    the request is "ambiguous": no attempt is bound, the cause is unknown.
 *  - Attempts nobody claims expire (counted) and are handed to the attempt
 *    consumer, so their timings and timeout samples still count. */
#ifndef GS_JOIN_H
#define GS_JOIN_H

#include <stdbool.h>
#include <stdint.h>
#include "conn.h"
#include "backend_side.h"
#include "began_index.h"
#include "path_ids.h"
#include "time_heap.h"
#include "http_parser.h"
#include "util.h"

#define REQ_METHOD_LEN	HTTP_METHOD_LEN
#define REQ_HOST_LEN	HTTP_HOST_LEN
#define REQ_PATH_LEN	HTTP_PATH_LEN
#define REQ_ATTEMPTS	4
/* The tables' sizes by default (join_init's max_requests 0).  A smaller
 * request table makes one that costs less to build (the tables are tens of
 * MB at the default: the fuzzing harness builds one per input) and whose
 * evictions a few events reach. */
#define JOIN_REQUESTS	16384	/* requests in flight or waiting for a decision */
#define JOIN_REQUESTS_MIN	4	/* slot 0 is "none": room for 3, 6 attempts */
#define JOIN_REQUESTS_MAX	32768	/* the attempt table's slots fit a handle's 16 bits */
/* Attempts in flight or waiting to be claimed: two per request slot. */
#define JOIN_ATTEMPTS_PER_REQUEST	2
#define JOIN_LEVELS	5	/* join.c's enum level: none, time, tail, path, id */
/* Entries of the schedule of looks: at most two live per request. */
#define JOIN_DUE_PER_REQUEST	4

/* A request waits at least this long after its end for its evidence. */
#define JOIN_WAIT_DEFAULT_NS (100 * 1000000ull)
/* A request answered well waits this long instead (join.c: join_due). */
#define JOIN_ANSWERED_WAIT_NS (5 * 1000000ull)
/* A failed request waits at most this long for its upstream connection's
 * TCP facts (the gateway often answers before that connection closes). */
#define JOIN_FACTS_WAIT_NS (3 * 1000000000ull)
/* An attempt's end farther than this from the answer is not its last one. */
#define JOIN_FIT_NS (250 * 1000000ull)
/* Ends this close together are one burst: which is nearer proves nothing. */
#define JOIN_GROUP_NS (5 * 1000000ull)
/* Fits with one outcome compared to find the oldest (oldest_sibling()). */
#define JOIN_SIBLINGS 128
/* A gateway may close a connect it gave up on a little after it began the
 * retry (HAProxy aborts the old socket in a later turn of its loop): an
 * earlier try it closed may end this much after the next one began. */
#define JOIN_CLOSE_SLACK_NS (20 * 1000000ull)
/* Two candidates whose ends are this close to the answer fit equally. */
#define JOIN_TIE_NS (1 * 1000000ull)
/* An unclaimed attempt is kept this long after it ended. */
#define JOIN_ATTEMPT_TTL_NS (10 * 1000000000ull)

/* How a request's attempts were found (reported with every request). */
enum join_kind {
	JOIN_NONE = 0,		/* no attempt: the gateway answered alone */
	JOIN_ID,		/* a propagated request id */
	JOIN_CONTENT,		/* the only attempt with the request's content */
	JOIN_ORDER,		/* same content, told apart by time on the same thread */
	JOIN_TIME,		/* no content to compare: time across the process */
	JOIN_AMBIGUOUS,		/* candidates fit equally: no attempt bound */
	JOIN__MAX,
};

const char *join_kind_name(enum join_kind k);

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

const char *attempt_failure_name(enum attempt_failure f);

/* Hashes of a path, set by the engine when a request or an attempt enters
 * it: candidates are compared by hash first, by string only when the
 * hashes agree (thousands in flight are compared pairwise). */
struct path_sig {
	uint32_t whole;
	uint32_t tail[2];	/* from the last, the second-to-last '/' (whole path if none) */
	uint8_t tail_segs;	/* same_tail()'s segments as the downstream path; 0: no '/' */
	uint64_t method;	/* the method's bytes when shorter than 8 (exact), else 0 */
	uint32_t path_id;	/* path_ids.h: equal ids, equal paths; 0: compare strings */
};

struct attempt {
	/* What choosing a request's attempts reads of each candidate, first:
	 * thousands are in the table on a loaded gateway, and a scan of those
	 * begun while a request was in flight touches a few lines of each. */
	uint32_t id;			/* engine handle (0: not in the engine) */
	uint32_t owner;			/* engine: the request that claimed it, 0 if none */
	uint32_t pid, tid;		/* the process, and the thread that wrote the request */
	struct path_sig sig;		/* engine: hashes of path */
	uint64_t req_id;		/* hash of a propagated request id, 0 if none */
	uint64_t ts_start;		/* connect() when fresh, request write when reused */
	uint64_t ts_request;		/* request head written (opaque: last write) */
	uint64_t ts_resp_read;		/* response head read by the gateway */
	uint64_t ts_end;		/* connection closed / attempt given up */
	uint64_t ts_stream_end;		/* ended without an answer (reset, GOAWAY), 0 if not */
	uint16_t status;		/* 0: no response head */
	bool opaque;			/* its bytes could not be read (TLS, unknown protocol) */
	bool opaque_answered;		/* opaque: bytes were read after the last write */
	bool truncated;			/* the response ended before its announced length */
	bool have_conn;			/* conn (below) holds its connection's TCP facts */
	enum attempt_failure failure;
	char method[REQ_METHOD_LEN];	/* empty: no readable request head */
	struct http_fp fp;		/* hashed copied headers of the request */
	char path[REQ_PATH_LEN];	/* compared when the hashes agree: its start next */
	/* The rest: */
	char backend[GS_ADDR_STRLEN];
	uint64_t sk;			/* upstream connection */
	uint64_t ts_resp_kernel;	/* first response byte reached the socket */
	uint64_t resp_body_end;		/* rx stream offset where the response ends, or HTTP_UNKNOWN */
	uint64_t resp_bytes;		/* response bytes the gateway read (at close) */
	double connect_ms;		/* -1 when reused or unknown */
	bool reused, retry_after;
	int32_t retry_after_s;		/* Retry-After delay-seconds, -1 if none or a date */
	bool throttling_hint;		/* a 4xx/5xx whose visible text names throttling */
	bool body_end_unseen;		/* chunked, its last chunk not seen when the connection ended */
	struct gs_conn_event conn;	/* TCP facts of the upstream connection, if closed */
	/* The connection closed with this attempt unanswered after this long
	 * without progress: a timeout sample, counted when the request ends
	 * (not when the gateway closed it because the client had left). */
	uint64_t idle_close_ns;
	uint64_t idle_armed_ns;		/* since the last byte written, when earlier */
	bool idle_closed_by_backend;
	bool connect_timeout_sample;	/* the gateway gave up on its SYN: its connect timeout */
	/* An HTTP/2 stream on an upstream connection (h2.c): */
	uint32_t h2_stream;		/* stream id, 0: not HTTP/2 */
	uint64_t h2_req_tx_end;		/* tx offset by which its request frames were written
					 * (end of the capture holding the last one seen) */
	bool h2_rst, h2_rst_by_backend;	/* the stream was reset (RST_STREAM), by whom */
	uint32_t h2_rst_code;		/* ... with this error code */
	bool h2_refused;		/* above the last stream a backend's GOAWAY accepted */
	/* The gateway reset it unanswered after the backend had sent a frame
	 * on this stream id or a later one: the backend read the request
	 * (0: not known without the connection's TCP facts). */
	uint32_t h2_read_proof;
	uint64_t ts_h2_goaway;		/* the backend's GOAWAY while the stream was open, 0 if none */
	bool has_grpc_status;
	int16_t grpc_status;		/* grpc-status of the answer (status holds its mapping) */
};

/* When the attempt ended: its response head read, its HTTP/2 stream's
 * reset without an answer, or its connection's first FIN or RST (or
 * close); 0 while it is still open. */
uint64_t attempt_end(const struct attempt *a);

/* A gateway that closes an upstream this long after its client left did
 * so on its own timer, not because the client left. */
#define CLIENT_LEFT_REACTION_NS (100 * 1000000ull)

/* Who sent the GOAWAY that ended an HTTP/2 stream unanswered. */
enum h2_goaway_by { H2_GOAWAY_NONE = 0, H2_GOAWAY_CLIENT, H2_GOAWAY_GATEWAY };

/* The protocol a request came in by. */
enum req_proto { REQ_PROTO_H1 = 0, REQ_PROTO_H2, REQ_PROTO_GRPC };

const char *req_proto_name(enum req_proto p);

struct request {
	/* What the engine reads of every request in flight, first: its scans
	 * of them (who waits for facts, who else could own an attempt) touch
	 * the first lines of each of thousands on a loaded gateway. */
	uint32_t id;			/* engine handle */
	uint32_t pid, tid;
	/* Engine state (more below): */
	bool finished;			/* the exchange is over */
	bool pending;			/* answered or finished: the engine looks at it */
	bool joined;			/* its attempts are chosen (claimed) */
	bool awaiting_facts;		/* waiting for its last attempt's TCP facts */
	bool queued;			/* in the pass being decided */
	bool held;			/* waits the whole join_wait (join.c: join_due) */
	unsigned nclaimed;		/* attempts in claimed[] */
	uint64_t next_look;		/* pending: when the engine looks at it again */
	uint64_t ts_start;		/* request head read by the gateway */
	uint64_t ts_response;		/* response head written, 0 if none */
	uint64_t ts_done;		/* response complete, or the end of the exchange */
	uint16_t status;		/* 0: the client got no status */
	bool client_closed;		/* the client closed before any response */
	bool truncated;			/* the response was cut short */
	bool evicted;			/* decided unfinished: the request table was full */
	bool far_end;			/* read on the far end of a gateway's upstream connection */
	uint64_t req_id;
	struct path_sig sig;		/* engine: hashes of path */
	char method[REQ_METHOD_LEN];
	struct http_fp fp;
	/* The rest: */
	char comm[GS_COMM_LEN + 1];
	char client[GS_ADDR_STRLEN];
	char listener[GS_ADDR_STRLEN];	/* the client-facing port */
	char host[REQ_HOST_LEN];
	char path[REQ_PATH_LEN];
	uint64_t sk;			/* downstream connection */
	uint64_t ts_arrived;		/* its first byte reached the socket (else ts_start) */
	uint64_t ts_client_fin;		/* the client closed its side, 0 if not before the end */
	uint64_t body_expected;		/* truncated: response bytes announced */
	uint64_t body_delivered;	/* ... and written before the connection ended */
	int32_t retry_after_s;		/* the answer's Retry-After delay-seconds, -1 if none */
	bool retry_after;		/* the answer carried Retry-After */
	bool throttling_hint;		/* the answer (4xx/5xx) names throttling */
	uint32_t evicted_from;		/* evicted: the size of that table */
	bool chunked_unterminated;	/* truncated: a chunked one, seen by how the gateway closed */
	bool others_in_flight;		/* no attempt joined, yet the process had some under way */
	uint32_t pool_unread;		/* no attempt joined, and the process held this many
					 * upstream connections open at the start, unread */
	/* HTTP/2 and gRPC (h2.c): */
	uint8_t proto;			/* enum req_proto */
	uint32_t h2_stream;		/* stream id */
	bool h2_rst, h2_rst_by_client;	/* the stream was reset (RST_STREAM), by whom */
	uint32_t h2_rst_code;		/* ... with this error code */
	bool has_grpc_status;
	int16_t grpc_status;		/* grpc-status of the answer */
	uint64_t grpc_timeout_ns;	/* grpc-timeout of the request: the client's patience */
	uint8_t h2_goaway_by;		/* enum h2_goaway_by: a GOAWAY ended the stream unanswered */
	bool h2_goaway_refused;		/* ... above its last stream id: never processed */
	uint32_t h2_goaway_code, h2_goaway_last;
	uint64_t ts_h2_goaway;
	/* Engine state (the rest): */
	uint32_t claimed[REQ_ATTEMPTS];	/* attempt handles, oldest first, until handed over */
	enum join_kind join;
	unsigned nattempts;
	unsigned attempts_dropped;	/* beyond REQ_ATTEMPTS */
	/* Its attempts, oldest first, while it is handed over (on_request):
	 * the joiner's, not the request's (a request slot is a fifth of the
	 * size with them out, so a loaded gateway's wait fits more). */
	struct attempt *attempts;
};

typedef void (*request_sink)(const struct request *r, void *ctx);
/* An attempt that no request claimed, when it expires. */
typedef void (*attempt_sink)(const struct attempt *a, void *ctx);

struct join_stats {
	uint64_t requests;		/* requests decided */
	uint64_t joined;		/* ... with at least one attempt */
	uint64_t by_kind[JOIN__MAX];
	uint64_t unjoined_attempts;	/* attempts no request claimed */
	uint64_t request_evictions;	/* requests forced out of a full table */
	uint64_t attempt_evictions;	/* attempts forced out of a full table */
	uint64_t facts_timeouts;	/* failed requests decided without upstream TCP facts */
	uint64_t backend_side;		/* decided, not requests: a backend's side (backend_side.h) */
};

/* A slot's bookkeeping, together: taking, freeing and checking a handle
 * read one cache line of it, not one per field. */
struct join_slot {
	uint32_t pos;			/* index in active, or UINT32_MAX when free */
	uint32_t older, newer;		/* slots in use, in the order taken: a list */
	uint16_t gen;
};

/* Fixed slots handed out by handle (slot | generation << 16), so a stale
 * handle (decided, expired) is recognised. */
struct join_pool {
	uint32_t cap;
	struct join_slot *slot;		/* per slot */
	uint32_t *active;		/* slots in use, in no particular order */
	uint32_t *free;			/* stack of free slots */
	uint32_t oldest, newest;	/* its ends (0: none; slot 0 is never used) */
	uint32_t nactive, nfree;
};

/* Attempts that left the table lately: when they ran, by process. */
#define JOIN_RECENT 256

/* Where a process wrote requests' only attempts: on the thread that read
 * the request, or another (learned per process: gateways of both kinds may
 * be traced at once).  A few processes at a time; the least seen makes
 * room. */
#define JOIN_THREAD_PROCS 32
struct join_threads {
	uint32_t pid;
	uint32_t own, other;
};
/* Per process, its upstream connections open at the start that have not
 * been seen carrying a request (http_track_adopted): a request of it
 * with no attempt may have gone over one of them.  Processes beyond the
 * table count for every process (unplaced). */
#define JOIN_POOL_PROCS 64
struct join_unread_pool {
	uint32_t pid, unread;
};
struct join_recent {
	uint32_t pid;
	uint64_t began, end;
};

/* A request to look at, at a time; stale once the request was looked at
 * or rescheduled since (its next_look differs). */
struct joiner {
	struct request *reqs;		/* rpool.cap slots; slot 0 unused (id 0 = none) */
	struct attempt *atts;		/* apool.cap slots; slot 0 unused */
	struct join_pool rpool, apool;
	struct join_recent recent[JOIN_RECENT];
	unsigned nrecent;
	uint32_t npending;		/* answered or finished requests not handed over */
	uint32_t nawaiting;		/* ... of which waiting for TCP facts */
	uint64_t next_decision;		/* earliest time a waiting request may be decided */
	struct time_heap due;		/* (next_look, request): who to look at */
	struct began_index by_began;	/* the attempts by when they began */
	struct began_index by_written;	/* those written after their connect, by the write */
	struct path_ids paths;		/* the paths of the requests and attempts in it */
	uint32_t *window;		/* attempts begun in a time window, in began order */
	struct attempt **cand;		/* the request being joined: its candidates, in began order */
	uint8_t *cand_lvl;		/* ... and their levels */
	uint32_t ncand_at[JOIN_LEVELS];	/* ... how many at each level */
	struct request **todo;		/* the requests one pass decides (at most every one) */
	struct request **todo_tmp;	/* half as many: their sort's room */
	uint32_t ncand;
	uint64_t next_expiry;		/* next scan for expired attempts */
	uint64_t wait_ns;		/* join_wait */
	uint64_t held_last;		/* answer time of the last request held (join_due) */
	uint64_t closes_after, closes_before;	/* where this gateway closes attempts it gave up on */
	struct join_threads threads[JOIN_THREAD_PROCS];	/* per process: keeps threads? */
	struct join_unread_pool unread[JOIN_POOL_PROCS];	/* per process: unread connections open at the start */
	uint32_t nunread, unread_unplaced;
	struct attempt handover[REQ_ATTEMPTS];	/* the attempts of the request handed over */
	const struct backend_side *ends;	/* who is a gateway (NULL: everyone) */
	request_sink on_request;
	attempt_sink on_orphan;
	void *ctx;
	struct join_stats st;
};

/* max_requests: the request table's slots (0: JOIN_REQUESTS; bounded to
 * [JOIN_REQUESTS_MIN, JOIN_REQUESTS_MAX]); the attempt table has
 * JOIN_ATTEMPTS_PER_REQUEST times as many. */
int join_init(struct joiner *j, uint64_t wait_ns, uint32_t max_requests,
	      request_sink on_request, attempt_sink on_orphan, void *ctx);
void join_free(struct joiner *j);
/* Requests read on the far end of a gateway's upstream connection
 * (request.far_end) by a process that, when they are decided, never
 * connected out are the backend's side of that gateway's attempts: not
 * handed over, counted (st.backend_side).  ends: the tracker's. */
void join_watch_ends(struct joiner *j, const struct backend_side *ends);

/* A downstream request head was read; returns its handle (never 0). */
uint32_t join_request_start(struct joiner *j, const struct request *proto);
/* The request by handle, or NULL once it was decided. */
struct request *join_request(struct joiner *j, uint32_t id);
/* The gateway wrote the request's response head (ts_response and status
 * are set): its attempts are chosen join_wait after that, in the order
 * requests were answered. */
void join_request_answered(struct joiner *j, uint32_t id);
/* The request's exchange is over (answered or not): it is handed over
 * once joined and its evidence is in. */
void join_request_finish(struct joiner *j, uint32_t id);

/* An upstream attempt began (a request head written, or a connection that
 * carried no readable request); returns its handle (never 0). */
uint32_t join_attempt_start(struct joiner *j, const struct attempt *proto);
struct attempt *join_attempt(struct joiner *j, uint32_t id);
/* pid holds delta more (or fewer) upstream connections open at the start
 * and not seen carrying a request (struct join_unread_pool). */
void join_pool_unread(struct joiner *j, uint32_t pid, int delta);
/* An attempt's connection closed (its TCP facts are in): requests waiting
 * for evidence are looked at again at the next poll. */
void join_attempt_closed(struct joiner *j);

/* Failed, as every stage counts it: no status (the client or the gateway
 * gave up), a 5xx, a response cut short, or a client that left first. */
bool request_failed(const struct request *r);
/* Decided before its end (the table was full), no status seen. */
bool request_unfinished(const struct request *r);
/* Had a gRPC deadline of timeout_ns run out after elapsed_ns counted from
 * the gateway reading the request?  Within 10 %, at least 50 ms: the
 * client counted it from its send. */
bool grpc_deadline_reached(uint64_t timeout_ns, uint64_t elapsed_ns);
/* A gRPC client that left when its grpc-timeout ran out. */
bool request_deadline_passed(const struct request *r);

/* Decide every finished request whose evidence is in or whose wait is
 * over, as of now (event time); UINT64_MAX decides everything and expires
 * every unclaimed attempt (end of run). */
void join_poll(struct joiner *j, uint64_t now);

#endif
