// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "attribute.h"

static double ms(uint64_t from, uint64_t to)
{
	return to >= from ? (to - from) / 1e6 : 0;
}

static void evidence(struct verdict *v, const char *fmt, ...)
{
	size_t used = strlen(v->evidence);
	va_list ap;

	if (used >= sizeof(v->evidence) - 1)
		return;
	if (used)
		used += snprintf(v->evidence + used, sizeof(v->evidence) - used, "; ");
	va_start(ap, fmt);
	vsnprintf(v->evidence + used, sizeof(v->evidence) - used, fmt, ap);
	va_end(ap);
}

static void set(struct verdict *v, enum cause c, const char *reason, const char *term)
{
	v->cause = c;
	v->reason = reason;
	snprintf(v->term, sizeof(v->term), "%s", term);
}

bool attempt_throttled(const struct attempt *a)
{
	return a->status == 429 || (a->status == 503 && a->retry_after) ||
	       (a->status == 400 && a->throttling_hint);
}

static const struct attempt *last_attempt(const struct request *r)
{
	return r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;
}

/* A TLS alert record (close_notify) is 24 to 31 bytes with the usual
 * ciphers. */
#define TLS_ALERT_MAX	40
#define TLS_CLOSE_NS	(10 * 1000000ull)

/* An unreadable TLS connection whose only unacknowledged bytes are one
 * small record written as it closed: the process's close_notify, not
 * request bytes.  (When the plaintext is read, the capture leaves it out
 * of app_tx_bytes.) */
static bool close_notify_tail(const struct gs_conn_event *e)
{
	uint64_t end = e->ts_fin && e->ts_fin < e->ts_close ? e->ts_fin : e->ts_close;

	return (e->flags & GS_CONN_F_TLS) && !(e->flags & GS_CONN_F_TLS_READ) &&
	       e->app_tx_bytes - e->bytes_sent <= TLS_ALERT_MAX && e->ts_last_tx &&
	       end >= e->ts_last_tx && end - e->ts_last_tx < TLS_CLOSE_NS;
}

/* Were the request bytes acknowledged by the backend's TCP stack?  For an
 * HTTP/2 stream, the bytes up to its own request's end: what the gateway
 * wrote after it on the shared connection (other streams, its RST_STREAM or
 * GOAWAY as it gave up) may be unacknowledged when it aborts the
 * connection, and says nothing about this request.  (Its offset counts
 * plaintext on a TLS connection: there, all that was written.) */
static bool request_acked(const struct attempt *a)
{
	bool by_stream = a->h2_stream && a->h2_req_tx_end && !(a->conn.flags & GS_CONN_F_TLS_READ);
	uint64_t need = by_stream ? a->h2_req_tx_end : a->conn.app_tx_bytes;

	return a->have_conn && a->conn.app_tx_bytes &&
	       (a->conn.bytes_sent >= need || close_notify_tail(&a->conn));
}

static void connect_facts(struct verdict *v, const struct attempt *a)
{
	const struct gs_conn_event *e = &a->conn;

	if (!a->have_conn)
		return;
	if (e->flags & GS_CONN_F_ADOPTED)
		evidence(v, "connection open before gatescope started");
	else if (e->flags & GS_CONN_F_ESTABLISHED)
		evidence(v, "connected in %.3f ms", ms(e->ts_start, e->ts_established));
	else
		evidence(v, "SYN sent, %u SYN retransmits, no SYN-ACK in %.3f ms", e->syn_retrans,
			 ms(e->ts_start, e->ts_close));
}

/* The attempt failed before the connection was up. */
static bool attribute_connect(const struct attempt *a, struct verdict *v)
{
	switch (a->failure) {
	case ATTEMPT_REFUSED:
		set(v, CAUSE_BACKEND, "backend_refused", "SC");
		evidence(v, "RST answered the SYN to %s after %.3f ms (nothing listening)",
			 a->backend, ms(a->conn.ts_start, a->conn.ts_rst ? a->conn.ts_rst : a->conn.ts_close));
		return true;
	case ATTEMPT_CONNECT_TIMEOUT:
		set(v, CAUSE_NETWORK, "connect_timeout", "sC");
		connect_facts(v, a);
		return true;
	case ATTEMPT_UNREACHABLE:
		set(v, CAUSE_NETWORK, "unreachable", "SC");
		evidence(v, "ICMP error on connect to %s: errno %d", a->backend, a->conn.sk_err);
		return true;
	default:
		return false;
	}
}

/* The backend closed or reset after the request. */
static bool attribute_backend_close(const struct attempt *a, struct verdict *v)
{
	const struct gs_conn_event *e = &a->conn;
	uint64_t when = a->failure == ATTEMPT_RESET ? e->ts_rst : e->ts_fin;
	bool quick = a->reused && when >= a->ts_request && when - a->ts_request < STALE_KEEPALIVE_NS;

	if (a->failure != ATTEMPT_RESET && a->failure != ATTEMPT_CLOSED)
		return false;
	if (quick) {
		set(v, CAUSE_BACKEND, "stale_keepalive", "SH");
		evidence(v, "request written on a reused pooled connection to %s; backend %s it %.3f ms later",
			 a->backend, a->failure == ATTEMPT_RESET ? "reset" : "closed",
			 ms(a->ts_request, when));
		return true;
	}
	if (a->failure == ATTEMPT_RESET) {
		set(v, CAUSE_BACKEND, "backend_reset", "SH");
		evidence(v, "backend %s sent RST %.3f ms after the request", a->backend,
			 ms(a->ts_request, e->ts_rst));
	} else {
		set(v, CAUSE_BACKEND, "backend_closed", "SD");
		evidence(v, "backend %s sent FIN %.3f ms after the request, before a complete response",
			 a->backend, ms(a->ts_request, e->ts_fin));
	}
	return true;
}

/* No response head was read before the gateway gave up. */
static void attribute_no_response(const struct attempt *a, struct verdict *v)
{
	const struct gs_conn_event *e = &a->conn;

	if (a->have_conn && e->ts_rx_pending && e->ts_rx_pending < e->ts_close) {
		set(v, CAUSE_GATEWAY, "gateway_stall", "PH");
		evidence(v, "response bytes reached the gateway's socket at +%.3f ms and were never read; gateway closed at +%.3f ms",
			 ms(a->ts_start, e->ts_rx_pending), ms(a->ts_start, e->ts_close));
		return;
	}
	if (a->have_conn && (e->retrans || !request_acked(a))) {
		set(v, CAUSE_NETWORK, "packet_loss", "sH");
		evidence(v, "%u retransmits; request %s (%llu of %llu bytes acked)", e->retrans,
			 request_acked(a) ? "acked" : "not acknowledged",
			 (unsigned long long)e->bytes_sent, (unsigned long long)e->app_tx_bytes);
		return;
	}
	if (!a->have_conn && a->failure == ATTEMPT_ABANDONED && a->h2_read_proof) {
		/* An HTTP/2 stream the gateway gave up on, its connection still
		 * open (others' streams go on): the backend read the request,
		 * since it sent a frame on this stream or a later one (streams
		 * open in order, TCP delivers in order), and no answer came. */
		set(v, CAUSE_BACKEND, "backend_slow", "sH");
		evidence(v, "request read by backend %s (it sent a frame on HTTP/2 stream %u, opened after or with stream %u); no response byte; gateway reset the stream after %.3f ms",
			 a->backend, a->h2_read_proof, a->h2_stream, ms(a->ts_request, a->ts_stream_end));
		return;
	}
	if (!a->have_conn) {
		/* Without the connection's facts, a slow backend cannot be told
		 * from lost request bytes or a stalled gateway. */
		set(v, CAUSE_UNKNOWN, "no_tcp_facts", "-H");
		evidence(v, "request written to %s; no response byte before the gateway answered; the upstream connection's TCP facts did not arrive in time",
			 a->backend);
		return;
	}
	set(v, CAUSE_BACKEND, "backend_slow", "sH");
	if (a->failure == ATTEMPT_ABANDONED && a->h2_rst && a->ts_stream_end) {
		/* The gateway gave up on the stream, not on the connection. */
		evidence(v, "request acked by backend %s; no response byte; gateway reset HTTP/2 stream %u after %.3f ms",
			 a->backend, a->h2_stream, ms(a->ts_request, a->ts_stream_end));
		return;
	}
	evidence(v, "request acked by backend %s; no response byte; gateway closed upstream after %.3f ms",
		 a->backend, ms(a->ts_request, e->ts_fin ? e->ts_fin : e->ts_close));
}

/* A chunked answer the gateway ended without its last chunk, whose
 * upstream connection the backend closed, or went silent on until the
 * gateway gave up, before the last chunk was seen. */
static void attribute_chunked_cut(const struct request *r, const struct attempt *a,
				  struct verdict *v)
{
	const struct gs_conn_event *e = &a->conn;

	set(v, CAUSE_BACKEND, "backend_truncated", "SD");
	evidence(v, "backend %s answered %u with a chunked body; the gateway closed the client's connection without its last chunk",
		 a->backend, a->status);
	if (e->rst_received || e->fin_by == GS_FIN_REMOTE)
		evidence(v, "backend %s the upstream connection %.3f ms after the response head",
			 e->rst_received ? "reset" : "closed",
			 ms(a->ts_resp_read, e->rst_received ? e->ts_rst : e->ts_fin));
	else
		evidence(v, "backend went silent mid-body; gateway closed it after %.3f ms without progress",
			 a->idle_close_ns / 1e6);
	(void)r;
}

/* The response was cut short: by the backend (FIN or RST inside the body,
 * or silence until the gateway gave up), or somewhere we cannot see. */
static void attribute_truncated(const struct request *r, const struct attempt *a,
				struct verdict *v)
{
	const struct gs_conn_event *e = &a->conn;

	if (!a->truncated && a->body_end_unseen && a->have_conn &&
	    (e->rst_received || e->fin_by == GS_FIN_REMOTE || a->idle_close_ns)) {
		attribute_chunked_cut(r, a, v);
		return;
	}
	if (!a->truncated) {
		set(v, CAUSE_UNKNOWN, "response_truncated", "-D");
		evidence(v, "the client got %llu of %llu announced body bytes; the upstream response was complete",
			 (unsigned long long)r->body_delivered, (unsigned long long)r->body_expected);
		return;
	}
	set(v, CAUSE_BACKEND, "backend_truncated", "SD");
	if (a->h2_stream) {
		/* HTTP/2: the stream ends with END_STREAM, not at a length. */
		if (a->h2_rst)
			evidence(v, "backend %s answered %u on HTTP/2 stream %u, then reset it (RST_STREAM code %u) before its end",
				 a->backend, a->status, a->h2_stream, a->h2_rst_code);
		else
			evidence(v, "backend %s answered %u on HTTP/2 stream %u; the connection ended before the stream did",
				 a->backend, a->status, a->h2_stream);
		return;
	}
	evidence(v, "backend %s answered %u and announced a body ending at byte %llu; the connection ended at byte %llu",
		 a->backend, a->status, (unsigned long long)a->resp_body_end,
		 (unsigned long long)a->resp_bytes);
	if (e->rst_received)
		evidence(v, "backend reset it");
	else if (e->fin_by == GS_FIN_REMOTE)
		evidence(v, "backend closed it %.3f ms after the response head", ms(a->ts_resp_read, e->ts_fin));
	else if (a->idle_close_ns)
		evidence(v, "backend stalled mid-body; gateway closed it after %.3f ms without progress",
			 a->idle_close_ns / 1e6);
	if (r->truncated)
		evidence(v, "the client got %llu of %llu body bytes",
			 (unsigned long long)r->body_delivered, (unsigned long long)r->body_expected);
}

/* gRPC's status names (the codes gatescope maps, h2_grpc_http_status). */
static const char *grpc_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	return code >= 0 && code < (int)(sizeof(names) / sizeof(names[0])) ? names[code] : "?";
}

/* What the backend answered: its status, or its gRPC status and the HTTP
 * status that stands for it. */
static void answered(struct verdict *v, const struct attempt *a, const char *how)
{
	if (a->has_grpc_status && a->grpc_status)
		evidence(v, "backend %s answered grpc-status %d %s (as %u)%s", a->backend,
			 a->grpc_status, grpc_name(a->grpc_status), a->status, how);
	else
		evidence(v, "backend %s answered %u%s", a->backend, a->status, how);
}

/* An HTTP/2 stream to the backend that ended without an answer by the
 * backend's own doing: its RST_STREAM; its GOAWAY below the stream's id
 * (never processed); its GOAWAY and then its close (FIN or RST) with the
 * stream in flight. */
static bool attribute_h2_stream(const struct attempt *a, struct verdict *v)
{
	bool closed_after_goaway = a->ts_h2_goaway &&
				   (a->failure == ATTEMPT_CLOSED || a->failure == ATTEMPT_RESET);

	if (a->status)
		return false;
	if (a->h2_refused) {
		set(v, CAUSE_BACKEND, "backend_goaway", "S-");
		evidence(v, "backend %s sent GOAWAY (code %u) %.3f ms after the request, below HTTP/2 stream %u: never processed",
			 a->backend, a->h2_rst_code, ms(a->ts_request, a->ts_stream_end), a->h2_stream);
	} else if (a->h2_rst && a->h2_rst_by_backend) {
		set(v, CAUSE_BACKEND, "backend_reset", "SH");
		evidence(v, "backend %s reset HTTP/2 stream %u (RST_STREAM code %u) %.3f ms after the request",
			 a->backend, a->h2_stream, a->h2_rst_code, ms(a->ts_request, a->ts_stream_end));
	} else if (closed_after_goaway) {
		set(v, CAUSE_BACKEND, "backend_goaway", "SH");
		evidence(v, "backend %s sent GOAWAY (code %u) %.3f ms after the request and %s the connection with HTTP/2 stream %u unanswered",
			 a->backend, a->h2_rst_code, ms(a->ts_request, a->ts_h2_goaway),
			 a->failure == ATTEMPT_RESET ? "reset" : "closed", a->h2_stream);
	} else {
		return false;
	}
	return true;
}

/* Bytes came back on a connection gatescope cannot read (TLS without
 * plaintext, another protocol): the backend answered something. */
static void attribute_opaque_answer(const struct request *r, const struct attempt *a,
				    struct verdict *v)
{
	set(v, CAUSE_UNKNOWN, "unreadable_answer", "--");
	evidence(v, "backend %s sent %llu bytes gatescope cannot read (TLS or another protocol) after the last request bytes; the gateway answered %u",
		 a->backend, (unsigned long long)a->conn.app_rx_bytes, r->status);
}

static void attribute_attempt(const struct request *r, const struct attempt *a, struct verdict *v)
{
	if (r->truncated || a->truncated) {
		attribute_truncated(r, a, v);
		return;
	}
	if (a->opaque_answered) {
		attribute_opaque_answer(r, a, v);
		return;
	}
	if (attempt_throttled(a)) {
		set(v, CAUSE_BACKEND, "backend_throttled", "--");
		answered(v, a, a->retry_after ? " with Retry-After" :
			       a->throttling_hint ? " naming throttling" : "");
		return;
	}
	if (a->status >= 500) {
		set(v, CAUSE_BACKEND, "backend_error", "--");
		answered(v, a, "");
		return;
	}
	if (a->status) {
		/* An answer was read, yet the client got a failure. */
		set(v, CAUSE_GATEWAY, "gateway_cutoff", "PD");
		evidence(v, "backend %s answered %u after %.3f ms; the gateway still answered %u",
			 a->backend, a->status, ms(a->ts_start, a->ts_resp_read), r->status);
		return;
	}
	if (attribute_h2_stream(a, v) || attribute_connect(a, v) || attribute_backend_close(a, v))
		return;
	attribute_no_response(a, v);
}

/* An HTTP/2 stream the gateway's GOAWAY ended unanswered: refused (above
 * its last stream id: never processed), or cut when the gateway closed
 * the connection after it (a graceful shutdown or reload whose streams
 * outlived it). */
static void attribute_gateway_goaway(const struct request *r, const struct attempt *a,
				     struct verdict *v)
{
	if (r->h2_goaway_refused) {
		set(v, CAUSE_GATEWAY, "gateway_goaway", "P-");
		evidence(v, "the gateway's GOAWAY (last stream %u, code %u) at +%.3f ms refused HTTP/2 stream %u: never processed, the client may retry it",
			 r->h2_goaway_last, r->h2_goaway_code, ms(r->ts_start, r->ts_h2_goaway),
			 r->h2_stream);
		return;
	}
	set(v, CAUSE_GATEWAY, "gateway_goaway", "PH");
	evidence(v, "the gateway sent GOAWAY (code %u) at +%.3f ms and closed the connection at +%.3f ms with HTTP/2 stream %u unanswered",
		 r->h2_goaway_code, ms(r->ts_start, r->ts_h2_goaway), ms(r->ts_start, r->ts_done),
		 r->h2_stream);
	if (a && a->status)
		evidence(v, "upstream %s had answered %u", a->backend, a->status);
	else if (a)
		evidence(v, "upstream %s had not answered", a->backend);
}

/* A 504 to a gRPC client, the gateway's own or the backend's
 * DEADLINE_EXCEEDED: did it come when the client's deadline ran out (a
 * hop that enforces the propagated grpc-timeout), or before (that hop's
 * own timeout, shorter than the client's patience)? */
static void deadline_facts(const struct request *r, const struct attempt *a, struct verdict *v)
{
	uint64_t t = r->grpc_timeout_ns;
	uint64_t at = r->ts_response > r->ts_start ? r->ts_response - r->ts_start : 0;
	bool backend = a && a->has_grpc_status;
	const char *who = backend ? "the backend's DEADLINE_EXCEEDED came" : "the gateway answered";

	if (!t || r->status != 504 || !r->ts_response || (backend && a->grpc_status != 4))
		return;
	if (grpc_deadline_reached(t, at))
		evidence(v, "%s when the client's gRPC deadline ran out (grpc-timeout %.3f ms)", who,
			 t / 1e6);
	else
		evidence(v, "%s %.3f ms before the client's gRPC deadline (grpc-timeout %.3f ms)", who,
			 (t - at) / 1e6, t / 1e6);
}

/* A client that left before any response waited from its request's
 * arrival to its close. */
static uint64_t client_left_at(const struct request *r)
{
	return r->ts_client_fin ? r->ts_client_fin : r->ts_done;
}

/* Of a client's wait, how long bytes of the exchange sat unread in the
 * gateway's sockets: its request before the gateway read it, and the
 * upstream's answer before the gateway read it (or until the client left,
 * if it never did). */
struct unread_wait {
	uint64_t request;	/* request arrived -> read */
	uint64_t response;	/* first answer byte arrived -> read */
	uint64_t resp_at;	/* when that byte arrived, 0 if it did not before the client left */
};

static uint64_t span_until(uint64_t from, uint64_t to, uint64_t end)
{
	if (to > end)
		to = end;
	return from && to > from ? to - from : 0;
}

static uint64_t gateway_unread(const struct request *r, const struct attempt *a,
			       struct unread_wait *w)
{
	uint64_t left = client_left_at(r);

	memset(w, 0, sizeof(*w));
	w->request = span_until(r->ts_arrived, r->ts_start, left);
	if (a && a->status && a->ts_resp_kernel && a->ts_resp_kernel < left) {
		w->resp_at = a->ts_resp_kernel;
		w->response = span_until(a->ts_resp_kernel, a->ts_resp_read, left);
	} else if (a && !a->status && a->have_conn && a->conn.ts_rx_pending &&
		   a->conn.ts_rx_pending < left) {
		w->resp_at = a->conn.ts_rx_pending;
		w->response = left - a->conn.ts_rx_pending;
	}
	return w->request + w->response;
}

/* Unread bytes below this are a busy gateway's ordinary delay. */
#define STALL_MIN_NS (10 * 1000000ull)

/* The client left before any response, but for at least half of its wait
 * the exchange's bytes sat unread in the gateway's sockets (an event loop
 * blocked, a starved worker): the gateway made it give up, and the backend
 * is not to blame for an answer it had already given. */
static bool attribute_client_stalled(const struct request *r, const struct attempt *a,
				     struct verdict *v)
{
	uint64_t start = r->ts_arrived ? r->ts_arrived : r->ts_start;
	uint64_t left = client_left_at(r), waited = left > start ? left - start : 0;
	struct unread_wait w;
	uint64_t unread = gateway_unread(r, a, &w);

	if (unread < STALL_MIN_NS || 2 * unread < waited)
		return false;
	set(v, CAUSE_GATEWAY, "gateway_stall", a ? "CH" : "CR");
	evidence(v, "client left %.3f ms after its request arrived, before any response; %.3f ms of it bytes sat unread in the gateway's sockets",
		 ms(start, left), unread / 1e6);
	if (w.request >= STALL_MIN_NS / 10)
		evidence(v, "the request for %.3f ms", w.request / 1e6);
	if (w.response && a->status && a->ts_resp_read < left)
		evidence(v, "the answer (%u) of %s from +%.3f ms to +%.3f ms", a->status, a->backend,
			 ms(start, w.resp_at), ms(start, a->ts_resp_read));
	else if (w.response)
		evidence(v, "the answer of %s from +%.3f ms on", a->backend, ms(start, w.resp_at));
	return true;
}

/* The client left before any response: its own timeout, whatever the
 * gateway did afterwards. */
static void attribute_client_abort(const struct request *r, const struct attempt *a,
				   struct verdict *v)
{
	set(v, CAUSE_CLIENT, "client_abort", a ? "CH" : "CR");
	evidence(v, "client closed after %.3f ms, before any response",
		 ms(r->ts_start, client_left_at(r)));
	if (r->h2_goaway_by == H2_GOAWAY_CLIENT)
		evidence(v, "it sent GOAWAY (code %u) at +%.3f ms", r->h2_goaway_code,
			 ms(r->ts_start, r->ts_h2_goaway));
	if (r->grpc_timeout_ns)
		evidence(v, request_deadline_passed(r) ?
			 "its gRPC deadline ran out (grpc-timeout %.3f ms)" :
			 "before its gRPC deadline (grpc-timeout %.3f ms)", r->grpc_timeout_ns / 1e6);
	if (r->status)
		evidence(v, "the gateway wrote %u into the closed connection at +%.3f ms", r->status,
			 ms(r->ts_start, r->ts_response));
	if (a && a->status == 0)
		evidence(v, "upstream %s had not answered", a->backend);
	else if (a)	/* when its answer arrived: the gateway may have read it later */
		evidence(v, "upstream %s answered %u after %.3f ms", a->backend, a->status,
			 ms(a->ts_start, a->ts_resp_kernel ? a->ts_resp_kernel : a->ts_resp_read));
}

void attribute(const struct request *r, struct verdict *v)
{
	const struct attempt *a = last_attempt(r);

	memset(v, 0, sizeof(*v));
	snprintf(v->term, sizeof(v->term), "--");
	if (request_unfinished(r)) {
		set(v, CAUSE_UNKNOWN, "request_evicted", "--");
		evidence(v, "decided before its end: the table of requests in flight was full (%u)",
			 r->evicted_from);
		return;
	}
	if (!request_failed(r))
		return;
	if (r->client_closed) {
		if (!attribute_client_stalled(r, a, v))
			attribute_client_abort(r, a, v);
		return;
	}
	if (r->join == JOIN_AMBIGUOUS) {
		set(v, CAUSE_UNKNOWN, "ambiguous_join", "--");
		evidence(v, "several upstream attempts fit this request equally well and would give different verdicts; none was joined");
		return;
	}
	if (r->h2_goaway_by == H2_GOAWAY_GATEWAY && !r->status) {
		attribute_gateway_goaway(r, a, v);
		return;
	}
	if (!a) {
		if (r->status == 0)
			return;	/* not a failure we can attribute */
		if (r->truncated) {
			set(v, CAUSE_UNKNOWN, "response_truncated", "-D");
			evidence(v, "the client got %llu of %llu announced body bytes; no upstream attempt",
				 (unsigned long long)r->body_delivered, (unsigned long long)r->body_expected);
			return;
		}
		if (r->others_in_flight) {
			/* Attempts were under way, none could be joined: not
			 * proof that the gateway never tried upstream. */
			set(v, CAUSE_UNKNOWN, "unjoined", "--");
			evidence(v, "gateway answered %u; upstream attempts of this process were under way meanwhile, but none could be joined to this request",
				 r->status);
			return;
		}
		if (r->pool_unread) {
			/* Not proof either: a request may have gone over an
			 * upstream connection gatescope could not read. */
			set(v, CAUSE_UNKNOWN, "unjoined", "--");
			evidence(v, "gateway answered %u with no upstream attempt seen; %u upstream connection%s of this process, open before gatescope started, %s not been seen carrying a request (HTTP/2, or not used since): this request may have gone over one",
				 r->status, r->pool_unread, r->pool_unread == 1 ? "" : "s",
				 r->pool_unread == 1 ? "has" : "have");
			return;
		}
		set(v, CAUSE_GATEWAY, "no_upstream", "P-");
		evidence(v, "gateway answered %u with no upstream attempt", r->status);
		return;
	}
	attribute_attempt(r, a, v);
	deadline_facts(r, a, v);
	if (r->nattempts > 1)
		evidence(v, "%u attempts", r->nattempts);
}
