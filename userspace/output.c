// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attribute.h"
#include "http_parser.h"
#include "output.h"
#include "retries_out.h"
#include "tui.h"
#include "util.h"

void output_init(struct output *o, enum output_format format, FILE *out)
{
	o->format = format;
	o->out = out;
	json_init(&o->json, out);
}

static double ms(double ns)
{
	return ns / 1e6;
}

/* {"p50":..,"p99":..} in ms, or null when there is no sample. */
static void json_percentiles(struct json *j, const char *key, const struct hist *h)
{
	json_key(j, key);
	if (!h->count) {
		json_null(j);
		return;
	}
	json_obj_open(j);
	json_kdouble(j, "p50", ms(hist_quantile(h, 0.50)), 3);
	json_kdouble(j, "p99", ms(hist_quantile(h, 0.99)), 3);
	json_obj_close(j);
}

static void json_backend(struct json *j, const struct backend *b, bool total)
{
	const struct backend_stats *s = total ? &b->total : &b->win;

	json_obj_open(j);
	json_kstr(j, "backend", b->label);
	if (b->name[0])
		json_kstr(j, "name", b->name);
	json_ku64(j, "connects", s->connects);
	json_key(j, "connect_failures");
	json_obj_open(j);
	json_ku64(j, "refused", s->refused);
	json_ku64(j, "timeout", s->timeout);
	json_ku64(j, "unreachable", s->unreachable);
	json_obj_close(j);
	json_key(j, "resets");
	json_obj_open(j);
	json_ku64(j, "received", s->resets_received);
	json_ku64(j, "sent", s->resets_sent);
	json_obj_close(j);
	json_ku64(j, "retransmits", s->retransmits);
	json_key(j, "timeout_closes");
	json_obj_open(j);
	json_ku64(j, "gateway", s->timeout_closes_gateway);
	json_ku64(j, "backend", s->timeout_closes_backend);
	json_obj_close(j);
	json_percentiles(j, "connect_ms", &s->connect);
	json_percentiles(j, "ttfb_ms", &s->ttfb);
	json_obj_close(j);
}

static void json_status(struct json *j, const struct route_stats *s)
{
	static const char *cls[STATUS_CLASSES] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };

	json_key(j, "status");
	json_obj_open(j);
	for (int i = 1; i < STATUS_CLASSES; i++)
		if (s->status_class[i] || status_class_always_shown(i))
			json_ku64(j, cls[i], s->status_class[i]);
	json_ku64(j, "504", s->s504);
	json_obj_close(j);
	json_ku64(j, "client_aborts", s->status_class[0]);
	json_ku64(j, "unfinished", s->unfinished);
	json_ku64(j, "failed", s->failed);
	json_key(j, "cause_504");
	json_obj_open(j);
	for (int c = CAUSE_GATEWAY; c < CAUSE__MAX; c++)
		json_ku64(j, cause_name(c), s->cause_504[c]);
	json_obj_close(j);
}

static void json_xlate(struct json *j, const struct route_stats *s)
{
	json_key(j, "status_translation");
	json_arr_open(j);
	for (size_t i = 0; i < ROUTE_XLATE_MAX; i++) {
		if (!s->xlate[i].count)
			continue;
		json_obj_open(j);
		json_key(j, "upstream");
		if (s->xlate[i].upstream)
			json_u64(j, s->xlate[i].upstream);
		else
			json_null(j);
		json_ku64(j, "downstream", s->xlate[i].downstream);
		json_ku64(j, "count", s->xlate[i].count);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_route(struct json *j, const char *name, const struct route_stats *s)
{
	const struct hist *h = &s->latency;

	json_obj_open(j);
	json_kstr(j, "route", name);
	json_ku64(j, "requests", s->requests);
	json_status(j, s);
	json_key(j, "latency_ms");
	json_obj_open(j);
	json_kdouble(j, "p50", ms(hist_quantile(h, 0.50)), 3);
	json_kdouble(j, "p90", ms(hist_quantile(h, 0.90)), 3);
	json_kdouble(j, "p99", ms(hist_quantile(h, 0.99)), 3);
	json_kdouble(j, "max", ms(h->max_ns), 3);
	json_obj_close(j);
	json_ku64(j, "upstream_attempts", s->attempts);
	json_kdouble(j, "retry_amplification", s->requests ? (double)s->attempts / s->requests : 0, 3);
	json_ku64(j, "throttled", s->throttled);
	json_xlate(j, s);
	json_route_retries(j, s);
	json_obj_close(j);
}

static void json_routes(struct json *j, const struct routes *rt, bool total)
{
	const struct route *top[ROUTES_MAX];
	struct route_stats *rest = calloc(1, sizeof(*rest));
	bool have_rest;
	size_t n;

	json_key(j, "routes");
	json_arr_open(j);
	if (rest) {
		n = routes_top(rt, total, top, ROUTES_MAX, rest, &have_rest);
		for (size_t i = 0; i < n; i++)
			json_route(j, top[i]->name, total ? &top[i]->total : &top[i]->win);
		if (have_rest)
			json_route(j, "other", rest);
		free(rest);
	}
	json_arr_close(j);
}

static void json_http_stats(struct json *j, const struct run_stats *st)
{
	json_key(j, "join_rate");
	if (st->requests)
		json_double(j, (double)st->requests_joined / st->requests, 4);
	else
		json_null(j);
	json_key(j, "joins");
	json_obj_open(j);
	for (int k = 0; k < JOIN__MAX; k++)
		json_ku64(j, join_kind_name(k), st->joins[k]);
	json_obj_close(j);
	json_key(j, "http");
	json_obj_open(j);
	json_ku64(j, "requests", st->requests);
	json_ku64(j, "requests_joined", st->requests_joined);
	json_ku64(j, "backend_side_requests", st->backend_side_requests);
	json_ku64(j, "attempts_unjoined", st->attempts_unjoined);
	json_ku64(j, "unparsable_conns", st->http_unparsable);
	json_ku64(j, "conns_evicted", st->http_conns_evicted);
	json_ku64(j, "pipeline_overflow", st->http_pipeline_overflow);
	json_ku64(j, "captures_cut", st->captures_cut);
	json_ku64(j, "heads_truncated", st->heads_truncated);
	json_ku64(j, "heads_dropped", st->heads_dropped);
	json_ku64(j, "sync_lost", st->sync_lost);
	json_ku64(j, "resyncs", st->resyncs);
	json_ku64(j, "requests_evicted", st->requests_evicted);
	json_ku64(j, "attempts_evicted", st->attempts_evicted);
	json_ku64(j, "attributed_without_tcp_facts", st->facts_timeouts);
	json_ku64(j, "routes_overflowed", st->route_overflow);
	json_ku64(j, "tls_conns", st->tls_conns);
	json_ku64(j, "tls_decrypted", st->tls_decrypted);
	json_ku64(j, "tls_unreadable", st->tls_conns - st->tls_decrypted);
	json_ku64(j, "tls_sessions", st->tls_sessions);
	json_ku64(j, "tls_unmapped", st->tls_unmapped);
	json_ku64(j, "tls_dropped", st->tls_dropped);
	json_ku64(j, "tls_buffered", st->tls_buffered);
	json_ku64(j, "h2_conns", st->h2.conns);
	json_ku64(j, "h2_streams", st->h2.streams);
	json_ku64(j, "h2_upstream_streams", st->h2.upstream_streams);
	json_ku64(j, "h2_broken_conns", st->h2.broken_conns);
	json_ku64(j, "h2_streams_overflowed", st->h2.streams_overflowed);
	json_ku64(j, "h2_resets_by_client", st->h2.resets_by_client);
	json_ku64(j, "h2_resets_by_gateway", st->h2.resets_by_gateway);
	json_ku64(j, "h2_goaways", st->h2.goaways);
	json_obj_close(j);
}

/* HTTP/2 and gRPC facts of a request (null for HTTP/1.x). */
static void json_h2_fields(struct json *j, const struct request *r)
{
	bool h2 = r->proto != REQ_PROTO_H1;

	json_key(j, "stream_reset");
	if (h2 && r->h2_rst) {
		json_obj_open(j);
		json_kstr(j, "by", r->h2_rst_by_client ? "client" : "gateway");
		json_ku64(j, "code", r->h2_rst_code);
		json_obj_close(j);
	} else {
		json_null(j);
	}
	json_key(j, "goaway");
	if (h2 && r->h2_goaway_by) {
		json_obj_open(j);
		json_kstr(j, "by", r->h2_goaway_by == H2_GOAWAY_CLIENT ? "client" : "gateway");
		json_ku64(j, "code", r->h2_goaway_code);
		json_ku64(j, "last_stream", r->h2_goaway_last);
		json_key(j, "refused");
		json_bool(j, r->h2_goaway_refused);
		json_obj_close(j);
	} else {
		json_null(j);
	}
	json_key(j, "grpc_status");
	r->has_grpc_status ? json_u64(j, (uint64_t)r->grpc_status) : json_null(j);
	json_key(j, "grpc_timeout_ms");
	r->grpc_timeout_ns ? json_double(j, r->grpc_timeout_ns / 1e6, 3) : json_null(j);
}

static bool backend_active(const struct backend *b, bool total)
{
	const struct backend_stats *s = total ? &b->total : &b->win;

	return s->connects || s->ttfb.count || s->timeout_closes_gateway ||
	       s->timeout_closes_backend;
}

static void json_timeouts(struct json *j, const struct timeouts *t)
{
	struct inferred_timeout inf[TIMEOUT_KEYS_MAX];
	char warn[TIMEOUT_KEYS_MAX][LADDER_WARNING_LEN];
	size_t n = timeouts_infer(t, inf, TIMEOUT_KEYS_MAX);
	size_t nw = timeouts_ladder(t, inf, n, warn, TIMEOUT_KEYS_MAX);

	json_key(j, "timeouts");
	json_arr_open(j);
	for (size_t i = 0; i < n; i++) {
		json_obj_open(j);
		json_kstr(j, "closer", closer_name(inf[i].key.closer));
		json_kstr(j, "peer", inf[i].key.peer);
		json_kstr(j, "kind", inf[i].key.kind);
		json_kdouble(j, "seconds", inf[i].seconds, 3);
		json_ku64(j, "n", inf[i].n);
		json_obj_close(j);
	}
	json_arr_close(j);
	json_key(j, "ladder_warnings");
	json_arr_open(j);
	for (size_t i = 0; i < nw; i++)
		json_str(j, warn[i]);
	json_arr_close(j);
}

static void table_timeouts(FILE *f, const struct timeouts *t)
{
	struct inferred_timeout inf[TIMEOUT_KEYS_MAX];
	char warn[TIMEOUT_KEYS_MAX][LADDER_WARNING_LEN];
	size_t n = timeouts_infer(t, inf, TIMEOUT_KEYS_MAX);
	size_t nw = timeouts_ladder(t, inf, n, warn, TIMEOUT_KEYS_MAX);
	char safe[LADDER_WARNING_LEN];

	for (size_t i = 0; i < n; i++)
		fprintf(f, "inferred timeout: %s -> %s: %s timeout ~ %.3f s, n=%zu\n",
			closer_name(inf[i].key.closer), term_safe(inf[i].key.peer, safe, sizeof(safe)),
			inf[i].key.kind, inf[i].seconds, inf[i].n);
	for (size_t i = 0; i < nw; i++)
		fprintf(f, "LADDER WARNING: %s\n", term_safe(warn[i], safe, sizeof(safe)));
}

static void json_per_request_us(struct json *j, const char *key, uint64_t ns, uint64_t requests)
{
	json_key(j, key);
	if (requests)
		json_double(j, ns / 1e3 / requests, 3);
	else
		json_null(j);
}

/* What gatescope costs (README: "What gatescope costs"): over the report's
 * span, run so far, and per request finished; null on replay, and its BPF
 * part null while the kernel does not time programs. */
static void json_self_cost(struct json *j, const struct self_cost *c, double span_s, bool total)
{
	uint64_t cpu = total ? c->cpu_ns : c->cpu_ns_interval;
	uint64_t bpf = total ? c->bpf_ns : c->bpf_ns_interval;
	uint64_t requests = total ? c->requests : c->requests_interval;

	json_key(j, "self");
	if (!c->measured) {
		json_null(j);
		return;
	}
	json_obj_open(j);
	json_kdouble(j, "cpu_pct", cpu_share_pct(cpu, span_s), 2);
	json_kdouble(j, "cpu_s", c->cpu_ns / 1e9, 3);
	json_per_request_us(j, "cpu_us_per_request", cpu, requests);
	if (c->bpf_timed) {
		json_kdouble(j, "bpf_pct", cpu_share_pct(bpf, span_s), 2);
		json_kdouble(j, "bpf_s", c->bpf_ns / 1e9, 3);
		json_ku64(j, "bpf_runs", c->bpf_runs);
		json_per_request_us(j, "bpf_us_per_request", bpf, requests);
	} else {
		static const char *const keys[] = { "bpf_pct", "bpf_s", "bpf_runs",
						    "bpf_us_per_request" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_key(j, keys[i]);
			json_null(j);
		}
	}
	json_obj_close(j);
}

static void json_summary(struct output *o, const struct report *r)
{
	const struct aggregator *a = r->agg;
	const struct run_stats *st = r->stats;
	bool total = r->total;
	struct json *j = &o->json;

	json_obj_open(j);
	json_kstr(j, "type", total ? "total" : "summary");
	json_kdouble(j, "ts", r->ts, 3);
	json_kdouble(j, "interval_s", r->interval_s, 3);
	json_routes(j, r->routes, total);
	json_key(j, "backends");
	json_arr_open(j);
	for (size_t i = 0; i < a->n; i++)
		if (backend_active(a->backends[i], total))
			json_backend(j, a->backends[i], total);
	if (a->other && backend_active(a->other, total))
		json_backend(j, a->other, total);
	json_arr_close(j);
	json_ku64(j, "lost_events", st->lost_events);
	json_ku64(j, "evicted_conns", st->evicted_conns);
	json_ku64(j, "closes_unseen", st->closes_unseen);
	json_ku64(j, "conn_table_failures", st->insert_failures);
	json_ku64(j, "conns_adopted", st->conns_adopted);
	json_ku64(j, "pid_table_failures", st->pid_failures);
	json_ku64(j, "missed_program_runs", st->missed_runs);
	json_ku64(j, "forks_followed", st->forks_followed);
	json_ku64(j, "exits_followed", st->exits_followed);
	json_ku64(j, "malformed_events", st->malformed_events);
	json_ku64(j, "backends_overflowed", st->backend_overflow);
	json_self_cost(j, &st->self, r->interval_s, total);
	json_http_stats(j, st);
	json_timeouts(j, r->timeouts);
	if (total)
		json_throttled_clients(j, r->retries);
	json_obj_close(j);
	json_end_line(j);
}

/* One line of what gatescope costs (live runs). */
static void table_self_cost(FILE *f, const struct self_cost *c, double span_s, bool total)
{
	uint64_t cpu = total ? c->cpu_ns : c->cpu_ns_interval;
	uint64_t bpf = total ? c->bpf_ns : c->bpf_ns_interval;

	if (!c->measured)
		return;
	fprintf(f, "gatescope CPU %.1f %%", cpu_share_pct(cpu, span_s));
	if (c->bpf_timed)
		fprintf(f, "   its BPF programs %.1f %% (charged to the processes they run in)\n",
			cpu_share_pct(bpf, span_s));
	else
		fputs("   its BPF programs: not timed (--bpf-stats times them)\n", f);
}

static void table_route_row(FILE *f, const char *name, const struct route_stats *s)
{
	char safe[ROUTE_LEN];

	fprintf(f, "%-40.40s %8llu %6llu %6llu %6llu %5llu %5llu %5llu %5llu %10.3f %10.3f\n",
		term_safe(name, safe, sizeof(safe)),
		(unsigned long long)s->requests, (unsigned long long)s->status_class[2],
		(unsigned long long)s->status_class[4], (unsigned long long)s->status_class[5],
		(unsigned long long)s->s504, (unsigned long long)s->cause_504[CAUSE_GATEWAY],
		(unsigned long long)s->cause_504[CAUSE_NETWORK],
		(unsigned long long)s->cause_504[CAUSE_BACKEND],
		ms(hist_quantile(&s->latency, 0.5)), ms(hist_quantile(&s->latency, 0.99)));
}

static void table_routes(struct output *o, const struct routes *rt, bool total)
{
	const struct route *top[ROUTES_MAX];
	struct route_stats *rest = calloc(1, sizeof(*rest));
	bool have_rest;
	size_t n;

	if (!rest)
		return;
	n = routes_top(rt, total, top, ROUTES_MAX, rest, &have_rest);
	if (n || have_rest) {
		fprintf(o->out, "\n%-40s %8s %6s %6s %6s %5s %5s %5s %5s %10s %10s\n", "ROUTE",
			"REQS", "2XX", "4XX", "5XX", "504", "GW", "NET", "BE", "P50ms", "P99ms");
		for (size_t i = 0; i < n; i++)
			table_route_row(o->out, top[i]->name, total ? &top[i]->total : &top[i]->win);
		if (have_rest)
			table_route_row(o->out, "other", rest);
	}
	free(rest);
}

static void table_row(FILE *f, const struct backend *b, const struct backend_stats *s)
{
	char label[GS_ADDR_STRLEN + AGG_NAME_LEN + 4];

	if (b->name[0])
		snprintf(label, sizeof(label), "%s (%s)", b->label, b->name);
	else
		snprintf(label, sizeof(label), "%s", b->label);
	term_sanitize(label);	/* names come from a file, labels from the kernel */
	fprintf(f, "%-28s %8llu %7llu %7llu %7llu %6llu %6llu %7llu", label,
		(unsigned long long)s->connects, (unsigned long long)s->refused,
		(unsigned long long)s->timeout, (unsigned long long)s->unreachable,
		(unsigned long long)s->resets_received, (unsigned long long)s->resets_sent,
		(unsigned long long)s->retransmits);
	if (s->connect.count)
		fprintf(f, " %10.3f %10.3f\n", ms(hist_quantile(&s->connect, 0.5)),
			ms(hist_quantile(&s->connect, 0.99)));
	else
		fprintf(f, " %10s %10s\n", "-", "-");
}

/* The capture's and the process table's counters, under the backends:
 * one line, when any of them is not zero. */
static void table_capture_footer(FILE *f, const struct run_stats *st)
{
	if (!(st->captures_cut | st->heads_truncated | st->heads_dropped | st->sync_lost |
	      st->resyncs | st->forks_followed | st->exits_followed | st->pid_failures))
		return;
	fprintf(f, "HTTP capture: buffers cut %llu, heads truncated %llu, heads dropped %llu, "
		"sync lost %llu, resyncs %llu   processes: forks followed %llu, exits %llu, "
		"not traced %llu\n",
		(unsigned long long)st->captures_cut, (unsigned long long)st->heads_truncated,
		(unsigned long long)st->heads_dropped, (unsigned long long)st->sync_lost,
		(unsigned long long)st->resyncs, (unsigned long long)st->forks_followed,
		(unsigned long long)st->exits_followed, (unsigned long long)st->pid_failures);
}

static void table_summary(struct output *o, const struct report *r)
{
	const struct aggregator *a = r->agg;
	const struct run_stats *st = r->stats;
	double ts = r->ts, interval_s = r->interval_s;
	bool total = r->total;
	FILE *f = o->out;
	char when[32];
	time_t t = (time_t)ts;
	size_t shown = 0;

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	fprintf(f, "\n%s  %s %.1f s   lost events %llu   evicted conns %llu", when,
		total ? "TOTAL over" : "last", interval_s, (unsigned long long)st->lost_events,
		(unsigned long long)st->evicted_conns);
	/* Runs the kernel skipped lose facts as lost events do: shown when any. */
	if (st->missed_runs)
		fprintf(f, "   missed program runs %llu", (unsigned long long)st->missed_runs);
	fputc('\n', f);
	table_self_cost(f, &st->self, interval_s, total);
	if (st->tls_conns || st->tls_sessions || st->tls_unmapped)
		fprintf(f, "TLS connections %llu: plaintext read %llu, unreadable %llu   sessions %llu, socket not learned %llu\n",
			(unsigned long long)st->tls_conns, (unsigned long long)st->tls_decrypted,
			(unsigned long long)(st->tls_conns - st->tls_decrypted),
			(unsigned long long)st->tls_sessions, (unsigned long long)st->tls_unmapped);
	if (st->h2.conns)
		fprintf(f, "HTTP/2 connections %llu: streams %llu, upstream streams %llu, not decodable %llu   stream resets by client %llu, by gateway %llu\n",
			(unsigned long long)st->h2.conns, (unsigned long long)st->h2.streams,
			(unsigned long long)st->h2.upstream_streams,
			(unsigned long long)st->h2.broken_conns,
			(unsigned long long)st->h2.resets_by_client,
			(unsigned long long)st->h2.resets_by_gateway);
	fprintf(f, "%-28s %8s %7s %7s %7s %6s %6s %7s %10s %10s\n", "BACKEND", "CONNECTS",
		"REFUSED", "TIMEOUT", "UNREACH", "RST_IN", "RST_OUT", "RETRANS", "CONN_P50ms",
		"CONN_P99ms");
	for (size_t i = 0; i < a->n; i++) {
		if (!backend_active(a->backends[i], total))
			continue;
		table_row(f, a->backends[i], total ? &a->backends[i]->total : &a->backends[i]->win);
		shown++;
	}
	if (a->other && backend_active(a->other, total))
		table_row(f, a->other, total ? &a->other->total : &a->other->win);
	if (!shown)
		fprintf(f, "(no upstream connections%s)\n", total ? "" : " in this interval");
	table_capture_footer(f, st);
	table_timeouts(f, r->timeouts);
	fflush(f);
}

int output_start(struct output *o, double interval_s, const char *capture_path)
{
	if (o->format != OUTPUT_TUI)
		return 0;
	o->tui = tui_open(interval_s, capture_path);
	return o->tui ? 0 : -1;
}

void output_stop(struct output *o)
{
	tui_close(o->tui);
	o->tui = NULL;
}

bool output_poll_keys(struct output *o)
{
	return tui_input(o->tui) == TUI_QUIT;
}

void output_summary(struct output *o, const struct report *r)
{
	if (o->format == OUTPUT_TUI) {
		tui_report(o->tui, r);	/* nothing once the screen is closed */
	} else if (o->format == OUTPUT_JSON) {
		json_summary(o, r);
	} else {
		table_routes(o, r->routes, r->total);
		table_retries(o->out, r->routes, r->retries, r->total);
		table_summary(o, r);
	}
}

static const char *outcome_name(const struct conn_outcome *c)
{
	if (c->failure != CONNECT_OK)
		return connect_failure_name(c->failure);
	if (c->resets_received)
		return "reset_received";
	if (c->resets_sent)
		return "reset_sent";
	return "ok";
}

static void json_ms_or_null(struct json *j, const char *key, uint64_t from, uint64_t to)
{
	json_key(j, key);
	if (from && to >= from)
		json_double(j, ms(to - from), 3);
	else
		json_null(j);
}

static const char *fin_by_name(uint8_t fin_by)
{
	return fin_by == GS_FIN_LOCAL ? "local" : fin_by == GS_FIN_REMOTE ? "remote" : "none";
}

void output_connection(struct output *o, const struct gs_conn_event *e,
		       const struct conn_outcome *c, double ts)
{
	struct json *j = &o->json;
	char comm[GS_COMM_LEN + 1] = {0};
	const char *err = errno_name(e->sk_err);

	if (o->format == OUTPUT_TUI)
		return;		/* the screen owns the terminal */
	memcpy(comm, e->comm, GS_COMM_LEN);
	if (o->format != OUTPUT_JSON) {
		term_sanitize(comm);	/* a process names itself: untrusted */
		fprintf(o->out, "conn %-9s %s %s -> %s  syn_retrans %u retrans %u rst in/out %u/%u%s%s\n",
			outcome_name(c), comm, c->local, c->peer, e->syn_retrans, e->retrans,
			c->resets_received, c->resets_sent, err ? "  error " : "", err ? err : "");
		return;
	}
	json_obj_open(j);
	json_kstr(j, "type", "connection");
	json_kdouble(j, "ts", ts, 6);
	json_ku64(j, "pid", e->pid);
	json_kstr(j, "comm", comm);
	json_kstr(j, "direction", c->upstream ? "upstream" : "downstream");
	json_kstr(j, "local", c->local);
	json_kstr(j, c->upstream ? "backend" : "client", c->peer);
	json_kstr(j, "outcome", outcome_name(c));
	json_ms_or_null(j, "connect_ms", c->adopted ? 0 : e->ts_start, e->ts_established);
	json_ku64(j, "syn_retransmits", e->syn_retrans);
	json_ku64(j, "retransmits", e->retrans);
	json_key(j, "resets");
	json_obj_open(j);
	json_ku64(j, "received", c->resets_received);
	json_ku64(j, "sent", c->resets_sent);
	json_obj_close(j);
	json_ms_or_null(j, "rst_at_ms", e->ts_start, e->ts_rst);
	json_ku64(j, "rst_state", e->rst_state);
	json_kstr(j, "error", err);
	json_kstr(j, "first_fin", fin_by_name(e->fin_by));
	json_ku64(j, "bytes_sent", e->bytes_sent);
	json_ku64(j, "bytes_received", e->bytes_received);
	json_ku64(j, "bytes_written", e->app_tx_bytes);
	json_ku64(j, "bytes_read", e->app_rx_bytes);
	json_ms_or_null(j, "duration_ms", e->ts_start, e->ts_close);
	json_obj_close(j);
	json_end_line(j);
}

static void json_attempts(struct json *j, const struct request *r)
{
	json_key(j, "attempts");
	json_arr_open(j);
	for (unsigned i = 0; i < r->nattempts; i++) {
		const struct attempt *a = &r->attempts[i];

		json_obj_open(j);
		json_kstr(j, "backend", a->backend);
		json_key(j, "status");
		a->status ? json_u64(j, a->status) : json_null(j);
		json_key(j, "reused");
		json_bool(j, a->reused);
		json_key(j, "opaque");
		json_bool(j, a->opaque);
		json_kstr(j, "failure", attempt_failure_name(a->failure));
		json_key(j, "h2_stream");
		a->h2_stream ? json_u64(j, a->h2_stream) : json_null(j);
		json_key(j, "grpc_status");
		a->has_grpc_status ? json_u64(j, (uint64_t)a->grpc_status) : json_null(j);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_ms_opt(struct json *j, const char *key, double v)
{
	json_key(j, key);
	if (v >= 0)
		json_double(j, v, 3);
	else
		json_null(j);
}

static double span_ms(uint64_t from, uint64_t to)
{
	return from && to >= from ? (to - from) / 1e6 : -1;
}

void output_request(struct output *o, const struct request *r, const struct verdict *v,
		    const char *route_name, double ts, bool selected)
{
	const struct attempt *a = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;
	struct json *j = &o->json;
	char route[REQ_PATH_LEN];

	if (o->format == OUTPUT_TUI) {
		if (o->tui)	/* nothing once the screen is closed */
			tui_request(o->tui, r, v, route_name, ts);
		return;
	}
	if (!selected)
		return;
	if (o->format != OUTPUT_JSON) {
		char method[REQ_METHOD_LEN], host[REQ_HOST_LEN], path[REQ_PATH_LEN];
		char evidence[EVIDENCE_LEN];

		fprintf(o->out, "req %3u %s %s%s -> %s %s %s %s  join %s  %.3f ms  %s\n", r->status,
			term_safe(r->method, method, sizeof(method)),
			term_safe(r->host, host, sizeof(host)), term_safe(r->path, path, sizeof(path)),
			a ? a->backend : "-", v->term,
			v->cause ? cause_name(v->cause) : "-", v->reason ? v->reason : "-",
			join_kind_name(r->join), span_ms(r->ts_start, r->ts_done),
			term_safe(v->evidence, evidence, sizeof(evidence)));
		return;
	}
	json_obj_open(j);
	json_kstr(j, "type", "request");
	json_kdouble(j, "ts", ts, 6);
	json_ku64(j, "pid", r->pid);
	json_kstr(j, "comm", r->comm);
	json_kstr(j, "client", r->client);
	json_kstr(j, "proto", req_proto_name(r->proto));
	json_kstr(j, "method", r->method);
	json_kstr(j, "host", r->host);
	http_route_template(r->path, route, sizeof(route));
	json_kstr(j, "route", route);
	json_kstr(j, "route_name", route_name);
	json_key(j, "status");
	r->status ? json_u64(j, r->status) : json_null(j);
	json_key(j, "client_closed");
	json_bool(j, r->client_closed);
	json_h2_fields(j, r);
	json_kstr(j, "backend", a ? a->backend : NULL);
	json_key(j, "upstream_status");
	a && a->status ? json_u64(j, a->status) : json_null(j);
	json_ms_opt(j, "connect_ms", a ? a->connect_ms : -1);
	json_ms_opt(j, "ttfb_ms", a ? span_ms(a->ts_start, a->ts_resp_read) : -1);
	json_ms_opt(j, "ttfb_kernel_ms", a ? span_ms(a->ts_start, a->ts_resp_kernel) : -1);
	json_ms_opt(j, "total_ms", span_ms(r->ts_start, r->ts_done));
	json_kstr(j, "cause", cause_name(v->cause));
	json_kstr(j, "reason", v->reason);
	json_kstr(j, "term", v->term);
	json_kstr(j, "evidence", v->evidence[0] ? v->evidence : NULL);
	json_kstr(j, "join", join_kind_name(r->join));
	json_attempts(j, r);
	json_obj_close(j);
	json_end_line(j);
}
