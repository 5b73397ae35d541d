// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "attribute.h"
#include "conntable.h"
#include "log.h"
#include "pipeline.h"

static bool want_connection_line(const struct pipeline *p, const struct conn_outcome *c)
{
	switch (p->opts->events) {
	case EVENTS_ALL: return true;
	case EVENTS_ERRORS: return conn_is_failure(c);
	default: return false;
	}
}

/* Replay has no wall clock: cut intervals when event time crosses them.
 * A jump over more than this many empty intervals (a long idle stretch, or
 * a corrupt timestamp years ahead) is skipped, with a warning, instead of
 * being printed one empty report at a time. */
#define REPLAY_MAX_EMPTY_INTERVALS 1000
/* Empty intervals a whole replay prints at most; past it every jump is
 * collapsed, so the output stays proportional to the events in the file
 * whatever their timestamps. */
#define REPLAY_EMPTY_BUDGET 10000
/* Collapsed jumps warned about one by one; the rest are summed at the end. */
#define REPLAY_JUMP_WARNINGS 10

static void report_jump(struct pipeline *p, uint64_t ts, uint64_t skipped)
{
	p->replay_jumps++;
	p->replay_skipped += skipped;
	if (p->replay_jumps <= REPLAY_JUMP_WARNINGS)
		log_warn("replay: event time jumps %.0f s ahead; %llu empty intervals not reported",
			 (ts - p->window_start_ns) / 1e9, (unsigned long long)skipped);
	else if (p->replay_jumps == REPLAY_JUMP_WARNINGS + 1)
		log_warn("replay: more time jumps; not warned about one by one");
}

static void replay_clock(struct pipeline *p, uint64_t ts)
{
	uint64_t interval_ns = p->opts->interval_s * 1e9;
	uint64_t ends;

	if (!p->first_ns) {
		p->first_ns = p->window_start_ns = ts;
		incident_set_origin(p->report, decoder_epoch(&p->decoder, ts));
	}
	ends = ts > p->window_start_ns ? (ts - p->window_start_ns) / interval_ns : 0;
	if (ends > 1 && (ends > REPLAY_MAX_EMPTY_INTERVALS ||
			 p->replay_empty + ends - 1 > REPLAY_EMPTY_BUDGET)) {
		p->window_start_ns += interval_ns;
		pipeline_report(p, decoder_epoch(&p->decoder, p->window_start_ns),
				p->opts->interval_s);
		report_jump(p, ts, ends - 1);
		p->window_start_ns += (ends - 1) * interval_ns;
		ends = 0;
	}
	if (ends > 1)
		p->replay_empty += ends - 1;
	while (ends--) {
		p->window_start_ns += interval_ns;
		pipeline_report(p, decoder_epoch(&p->decoder, p->window_start_ns),
				p->opts->interval_s);
	}
	if (ts > p->last_ns)
		p->last_ns = ts;
}

static void on_conn(struct pipeline *p, const struct gs_conn_event *e)
{
	struct conn_outcome c;

	if (p->replaying)
		replay_clock(p, e->ts_close);
	conn_classify(e, &c);
	agg_add_conn(&p->agg, &c);
	http_track_conn_closed(&p->http, e, &c);
	if (want_connection_line(p, &c))
		output_connection(&p->out, e, &c, decoder_epoch(&p->decoder, e->ts_close));
	join_poll(&p->join, e->ts_close);
}

static void on_http(struct pipeline *p, const struct gs_http_event *e)
{
	/* A recorded header block's fields: part of the chunk that follows
	 * (h2_record.h), no moment of its own (the live run had none). */
	if (e->flags & GS_HTTP_F_H2_FIELDS) {
		http_track_event(&p->http, e);
		return;
	}
	if (p->replaying)
		replay_clock(p, e->ts);
	/* What was due before this read or write is decided without it (a
	 * request answered later is no evidence about an earlier one's
	 * tries).  A connection's close is read first: it carries facts about
	 * earlier moments (its FIN, its RST), emitted when it is gone. */
	join_poll(&p->join, e->ts);
	http_track_event(&p->http, e);
	join_poll(&p->join, e->ts);
}

static bool want_request_line(const struct pipeline *p, const struct request *r,
			      double total_ms)
{
	switch (p->opts->events) {
	case EVENTS_ALL: return true;
	case EVENTS_ERRORS: return request_failed(r);
	case EVENTS_504: return r->status == 504;
	case EVENTS_SLOW: return total_ms >= p->opts->slow_ms;
	default: return false;
	}
}

static void add_timeout_close(struct pipeline *p, const struct attempt *a)
{
	enum closer who = a->idle_closed_by_backend ? CLOSER_BACKEND : CLOSER_GATEWAY;

	agg_add_timeout_close(&p->agg, a->backend, who);
	timeouts_add_either(&p->timeouts, who, a->backend, a->idle_closed_by_backend ? "idle" : "read",
			    a->idle_close_ns, a->idle_armed_ns);
}

/* Did the gateway close this attempt because its client had left (at
 * once), rather than on its own timer (HAProxy without abortonclose
 * waits for its server timeout)? */
static bool closed_for_client(const struct request *r, const struct attempt *a)
{
	return r && r->client_closed &&
	       attempt_end(a) < r->ts_client_fin + CLIENT_LEFT_REACTION_NS;
}

/* What one attempt tells the per-backend figures and the timeout ladder.
 * A gateway that closed an upstream because its client had left waited
 * for the client, not for a timer: no gateway timeout sample then. */
static void count_attempt(struct pipeline *p, const struct attempt *a, bool client_left)
{
	if (a->status && a->ts_resp_read > a->ts_start)
		agg_add_ttfb(&p->agg, a->backend, a->ts_resp_read - a->ts_start);
	if (a->idle_close_ns && (a->idle_closed_by_backend || !client_left))
		add_timeout_close(p, a);
	if (a->connect_timeout_sample && !client_left) {
		agg_add_timeout_close(&p->agg, a->backend, CLOSER_GATEWAY);
		timeouts_add(&p->timeouts, CLOSER_GATEWAY, a->backend, "connect",
			     a->conn.ts_close - a->conn.ts_start);
	}
}

/* An attempt no request claimed still counts for its backend. */
static void on_orphan_attempt(const struct attempt *a, void *ctx)
{
	count_attempt(ctx, a, false);
}

/* The strings a finished request's figures look up (route, backend,
 * client) were written when it began, long ago for the cache: asked for
 * together, their misses overlap rather than come one after another. */
static void prefetch_strings(const struct request *r, const struct attempt *last)
{
	__builtin_prefetch(r->host);
	__builtin_prefetch(r->path);
	__builtin_prefetch(r->client);
	__builtin_prefetch(r->listener);
	if (last)
		__builtin_prefetch(last->backend);
}

/* The one consumer of finished requests: attribution, routes, backend
 * figures, timeouts and the request line all see the same request, the
 * same verdict and the same route name. */
static void on_request(const struct request *r, void *ctx)
{
	struct pipeline *p = ctx;
	const struct attempt *last = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;
	char route[ROUTE_LEN];
	struct retry_facts rf;
	struct verdict v;
	struct route_sample s = {
		.route = route,
		/* A client that left got nothing, whatever the gateway wrote. */
		.status = r->client_closed ? 0 : r->status,
		.attempts = r->nattempts,
		.latency_ns = r->ts_done > r->ts_start ? r->ts_done - r->ts_start : 0,
	};

	prefetch_strings(r, last);
	attribute(r, &v);
	routes_name(&p->routes, r->method, r->host, r->path, route, sizeof(route));
	for (unsigned i = 0; i < r->nattempts; i++) {
		count_attempt(p, &r->attempts[i], closed_for_client(r, &r->attempts[i]));
		timeouts_link(&p->timeouts, r->listener, r->attempts[i].backend);
	}
	/* A gRPC client whose deadline ran out said how long it waits. */
	if (r->client_closed && r->ts_client_fin > r->ts_start)
		timeouts_add(&p->timeouts, CLOSER_CLIENT, r->listener, "response",
			     request_deadline_passed(r) ? r->grpc_timeout_ns :
			     r->ts_client_fin - r->ts_start);
	retries_observe(&p->retries, r, route, &rf);
	s.retry = &rf;
	if (last) {
		s.upstream_status = last->status;
		s.throttled = attempt_throttled(last);
	}
	s.failed = request_failed(r);
	s.unfinished = request_unfinished(r);
	s.cause = v.cause == CAUSE_NONE ? CAUSE_UNKNOWN : v.cause;
	s.reason = v.reason;
	s.backend = last ? last->backend : NULL;
	routes_add(&p->routes, &s);
	incident_add_request(p->report, r, &v, route, decoder_epoch(&p->decoder, r->ts_done));
	output_request(&p->out, r, &v, route, decoder_epoch(&p->decoder, r->ts_done),
		       want_request_line(p, r, s.latency_ns / 1e6));
}

static void on_event(const struct gs_event_hdr *ev, void *ctx)
{
	struct pipeline *p = ctx;

	switch (ev->type) {
	case GS_EV_CONN:
		on_conn(p, (const struct gs_conn_event *)ev);
		break;
	case GS_EV_HTTP:
		on_http(p, (const struct gs_http_event *)ev);
		break;
	case GS_EV_ADOPTED:
		p->stats.conns_adopted++;	/* live and replayed alike */
		http_track_adopted(&p->http, (const struct gs_adopted_event *)ev);
		break;
	default:
		break;
	}
}

int pipeline_init(struct pipeline *p, const struct options *o, FILE *out)
{
	memset(p, 0, sizeof(*p));
	p->opts = o;
	decoder_init(&p->decoder, on_event, p);
	p->decoder.max_conns = o->max_conns;
	timeouts_init(&p->timeouts);
	output_init(&p->out, o->output, out);
	if ((o->report && !(p->report = incident_new())) ||
	    agg_init(&p->agg, AGG_MAX_BACKENDS_DEFAULT) ||
	    join_init(&p->join, o->join_wait_ms * 1000000ull, o->tables.join_requests,
		      on_request, on_orphan_attempt, p) ||
	    http_track_init(&p->http, o->max_conns, &p->join) ||
	    routes_init(&p->routes, o->top_routes, o->tables.route_cache) ||
	    retries_init(&p->retries, o->tables.retry_clients)) {
		log_err("out of memory");
		return -1;
	}
	if (o->route_map && routes_load_map(&p->routes, o->route_map))
		return -1;
	return 0;
}

void pipeline_free(struct pipeline *p)
{
	decoder_record_close(&p->decoder);
	decoder_free(&p->decoder);
	http_track_free(&p->http);
	join_free(&p->join);
	routes_free(&p->routes);
	retries_free(&p->retries);
	agg_free(&p->agg);
	incident_free(p->report);
	p->report = NULL;
}

static void collect_stats(struct pipeline *p)
{
	struct run_stats *st = &p->stats;

	st->malformed_events = p->decoder.malformed;
	st->backend_overflow = p->agg.overflowed;
	st->route_overflow = p->routes.overflowed;
	st->retry_clients_evicted = p->retries.evicted;
	st->http_conns_evicted = p->http.evicted;
	st->http_unparsable = p->http.unparsable;
	st->http_pipeline_overflow = p->http.pipeline_overflow;
	st->heads_truncated = p->http.parser.truncated;
	st->heads_dropped = p->http.parser.dropped;
	st->sync_lost = p->http.parser.lost;
	st->resyncs = p->http.parser.resyncs;
	st->requests = p->join.st.requests;
	st->backend_side_requests = p->join.st.backend_side;
	if (st->backend_side_requests && !p->told_backend_side) {
		p->told_backend_side = true;
		log_info("what a traced process that never connected out reads on a traced "
			 "gateway's own upstream connections is the backend's side of the "
			 "gateway's attempts: not reported as requests "
			 "(http.backend_side_requests)");
	}
	st->requests_joined = p->join.st.joined;
	st->attempts_unjoined = p->join.st.unjoined_attempts;
	st->requests_evicted = p->join.st.request_evictions;
	st->attempts_evicted = p->join.st.attempt_evictions;
	st->facts_timeouts = p->join.st.facts_timeouts;
	st->tls_conns = p->http.tls_conns;
	st->tls_decrypted = p->http.tls_read;
	st->h2 = p->http.h2;
	memcpy(st->joins, p->join.st.by_kind, sizeof(st->joins));
}

uint32_t pipeline_settle(struct pipeline *p)
{
	join_poll(&p->join, mono_ns());
	return p->join.npending;
}

static void report(struct pipeline *p, double ts, double span_s, bool total)
{
	/* Requests still waiting for their evidence: at the end, all of
	 * them; otherwise those that waited long enough.  Live, events reach
	 * userspace up to a drain period late: decide as of then. */
	join_poll(&p->join, total ? UINT64_MAX : p->replaying ? p->last_ns :
		  mono_ns() - JOIN_DRAIN_SLACK_NS);
	struct report r = pipeline_run_report(p);

	r.ts = ts;
	r.interval_s = span_s;
	r.total = total;
	collect_stats(p);
	output_summary(&p->out, &r);
}

struct report pipeline_run_report(const struct pipeline *p)
{
	return (struct report){
		.agg = &p->agg, .routes = &p->routes, .timeouts = &p->timeouts,
		.retries = &p->retries, .stats = &p->stats, .total = true,
	};
}

void pipeline_report(struct pipeline *p, double ts, double interval_s)
{
	report(p, ts, interval_s, false);
	agg_window_reset(&p->agg);
	routes_window_reset(&p->routes);
}

void pipeline_total(struct pipeline *p, double ts, double run_s)
{
	report(p, ts, run_s, true);
}

/* After the last event of a replay whose decoder returned rc. */
static int replay_end(struct pipeline *p, int rc)
{
	if (rc < 0)
		return rc;
	if (p->replay_jumps)
		log_info("replay: %llu time jump(s) in all; %llu empty intervals not reported",
			 (unsigned long long)p->replay_jumps,
			 (unsigned long long)p->replay_skipped);
	pipeline_total(p, decoder_epoch(&p->decoder, p->last_ns),
		       (p->last_ns - p->first_ns) / 1e9);
	return rc;
}

int pipeline_replay(struct pipeline *p, const char *path)
{
	p->replaying = true;
	return replay_end(p, decoder_replay(&p->decoder, path));
}

int pipeline_replay_stream(struct pipeline *p, const char *name, FILE *f, off_t size)
{
	p->replaying = true;
	return replay_end(p, decoder_replay_stream(&p->decoder, name, f, size));
}

/* Names a --backend-names file may give; its size is bounded too. */
#define BACKEND_NAMES_MAX 250000

/* One "ip:port name" line into *out; -1 after a message. */
static int parse_name_line(const char *path, unsigned lineno, const char *s,
			   struct agg_name *out)
{
	char label[128], name[128];

	if (sscanf(s, "%127s %127s", label, name) != 2) {
		log_err("%s:%u: expected \"ip:port name\"", path, lineno);
		return -1;
	}
	if (!parse_endpoint(label, out->label, sizeof(out->label))) {
		log_err("%s:%u: \"%s\" is not ip:port or [ip6]:port", path, lineno, label);
		return -1;
	}
	snprintf(out->name, sizeof(out->name), "%.*s", (int)sizeof(out->name) - 1, name);
	return 0;
}

/* The whole file is read before anything changes: a bad line (also on a
 * SIGHUP reload) leaves the names in use as they were. */
int pipeline_load_backend_names(struct pipeline *p, const char *path)
{
	char line[512];
	const char *why = "unreadable line";
	unsigned lineno = 0;
	struct agg_name *names = NULL;
	size_t n = 0, cap = 0;
	int rc, ret = -1;
	FILE *f = config_open("--backend-names", path);

	if (!f)
		return -1;
	while ((rc = config_line(f, line, sizeof(line), &why)) == 1) {
		char *s = line + strspn(line, " \t");

		lineno++;
		if (*s == '#' || !*s)
			continue;
		if (n == BACKEND_NAMES_MAX) {
			log_err("%s: more than %u backends named", path, BACKEND_NAMES_MAX);
			goto out;
		}
		if (n == cap) {
			struct agg_name *more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*more));

			if (!more) {
				log_err("%s: out of memory", path);
				goto out;
			}
			names = more;
		}
		if (parse_name_line(path, lineno, s, &names[n]))
			goto out;
		n++;
	}
	if (rc < 0) {
		log_err("%s:%u: %s", path, lineno + 1, why);
		goto out;
	}
	ret = agg_replace_names(&p->agg, names, n);
	if (ret)
		log_err("%s: out of memory", path);
out:
	free(names);
	fclose(f);
	return ret;
}
