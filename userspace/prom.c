// SPDX-License-Identifier: MIT
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"
#include "util.h"

/* First buffer: a few routes and backends fit without a realloc. */
#define PROM_FIRST_CAP	16384

/* From a fast local hop (0.5 ms) to the longest common gateway timeouts
 * (30 s on managed gateways, 60 s proxy_read_timeout in nginx). */
const char *const prom_le_labels[PROM_LE_COUNT] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
};
const uint64_t prom_le_ns[PROM_LE_COUNT] = {
	500000ull, 1000000ull, 2500000ull, 5000000ull, 10000000ull, 25000000ull,
	50000000ull, 100000000ull, 250000000ull, 500000000ull, 1000000000ull,
	2500000000ull, 5000000000ull, 10000000000ull, 30000000000ull, 60000000000ull,
};

/* ---- text buffer ---- */

void prom_buf_free(struct prom_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static bool reserve(struct prom_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	if (b->len + more + 1 > PROM_MAX_BYTES) {
		b->failed = true;
		return false;
	}
	cap = b->cap ? b->cap : PROM_FIRST_CAP;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap > PROM_MAX_BYTES)
		cap = PROM_MAX_BYTES;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static void put(struct prom_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void puts_(struct prom_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at p, 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* A label value as the exposition format wants it: \\, \" and \n escaped,
 * valid UTF-8 only.  Values come from the network (addresses now, HTTP
 * routes later): other control characters become '?' and invalid bytes
 * U+FFFD, so no input can break a scraper's parser. */
static void put_label_value(struct prom_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = 0;

		/* Runs of plain printable ASCII (every address, most routes) in one copy. */
		while (p[n] >= 0x20 && p[n] < 0x7f && p[n] != '\\' && p[n] != '"')
			n++;
		if (n) {
			put(b, (const char *)p, n);
			p += n;
			continue;
		}
		n = utf8_seq(p);

		if (n == 0) {
			puts_(b, "\xef\xbf\xbd");
			p++;
		} else if (n > 1) {
			put(b, (const char *)p, n);
			p += n;
		} else {
			if (*p == '\\')
				puts_(b, "\\\\");
			else if (*p == '"')
				puts_(b, "\\\"");
			else if (*p == '\n')
				puts_(b, "\\n");
			else if (*p < 0x20 || *p == 0x7f)
				puts_(b, "?");
			else
				put(b, (const char *)p, 1);
			p++;
		}
	}
}

/* HELP text: only \\ and \n are escaped. */
static void put_help(struct prom_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else
			put(b, s, 1);
	}
}

/* ---- samples ---- */

struct label {
	const char *name, *value;
};

/* name{k="v",...} value -- labels with a NULL name are skipped. */
static void put_sample(struct prom_buf *b, const char *name, const char *suffix,
		       const struct label *labels, size_t n, const char *value)
{
	bool first = true;

	puts_(b, name);
	puts_(b, suffix);
	for (size_t i = 0; i < n; i++) {
		if (!labels[i].name)
			continue;
		puts_(b, first ? "{" : ",");
		puts_(b, labels[i].name);
		puts_(b, "=\"");
		put_label_value(b, labels[i].value);
		puts_(b, "\"");
		first = false;
	}
	if (!first)
		puts_(b, "}");
	puts_(b, " ");
	puts_(b, value);
	puts_(b, "\n");
}

static void put_u64_sample(struct prom_buf *b, const char *name, const char *suffix,
			   const struct label *labels, size_t n, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	put_sample(b, name, suffix, labels, n, num);
}

/* ---- histograms ---- */

uint64_t prom_hist_le(const struct hist *h, uint64_t le_ns)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HIST_BUCKETS && hist_bucket_hi(i) <= le_ns; i++)
		n += h->buckets[i];
	return n;
}

/* hist buckets [0, ends[k]) lie entirely at or below prom_le_ns[k].  A hist
 * bucket straddling an le (at most 1/64 of its value wide) is counted in the
 * next one up: a bucket never claims a latency lower than it may have been. */
static void ladder_ends(unsigned ends[PROM_LE_COUNT])
{
	unsigned i = 0;

	for (unsigned k = 0; k < PROM_LE_COUNT; k++) {
		while (i < HIST_BUCKETS && hist_bucket_hi(i) <= prom_le_ns[k])
			i++;
		ends[k] = i;
	}
}

static void put_histogram(struct prom_buf *b, const char *name, const char *label,
			  const char *value, const struct hist *h, const unsigned ends[])
{
	struct label l[2] = { { label, value }, { "le", NULL } };
	uint64_t cum = 0;
	unsigned i = 0;
	char sum[48];

	for (unsigned k = 0; k < PROM_LE_COUNT; k++) {
		for (; h->count && i < ends[k]; i++)
			cum += h->buckets[i];
		l[1].value = prom_le_labels[k];
		put_u64_sample(b, name, "_bucket", l, 2, cum);
	}
	l[1].value = "+Inf";
	put_u64_sample(b, name, "_bucket", l, 2, h->count);
	/* Exact decimal seconds from integer nanoseconds: no float rounding. */
	snprintf(sum, sizeof(sum), "%llu.%09llu", (unsigned long long)(h->sum_ns / 1000000000ull),
		 (unsigned long long)(h->sum_ns % 1000000000ull));
	put_sample(b, name, "_sum", l, 1, sum);
	put_u64_sample(b, name, "_count", l, 1, h->count);
}

/* ---- metric families ---- */

struct render {
	struct prom_buf *b;
	const struct aggregator *a;
	const struct run_stats *st;
	const struct routes *rt;	/* or NULL */
	const struct timeouts *to;	/* or NULL */
	size_t nroutes;			/* routes with series of their own */
	struct route_stats other;	/* every other route, summed */
	unsigned ends[PROM_LE_COUNT];
};

struct family;
typedef void (*emit_fn)(struct render *r, const struct family *f);

/* A per-backend counter: one sample per value of the second label. */
struct field {
	const char *value;	/* second label's value, or NULL for none */
	size_t off;		/* offset of the uint64_t in struct backend_stats */
};

struct family {
	const char *name, *type, *help;
	emit_fn emit;		/* NULL: no samples (HELP and TYPE only) */
	const char *label;	/* second label of per-backend counters */
	struct field fields[3];
	size_t off;		/* hist in backend_stats, or uint64_t in run_stats */
};

/* Backends in order of first sight, then "other" (the aggregator's cap). */
static const struct backend *backend_at(const struct aggregator *a, size_t i)
{
	if (i < a->n)
		return a->backends[i];
	return i == a->n ? a->other : NULL;
}

static void emit_backend_counter(struct render *r, const struct family *f)
{
	const struct backend *be;

	for (size_t i = 0; (be = backend_at(r->a, i)); i++) {
		/* fields[0] always; the rest while they name a label value. */
		for (size_t k = 0; k < ARRAY_SIZE(f->fields) && (k == 0 || f->fields[k].value); k++) {
			const struct field *fd = &f->fields[k];
			struct label l[2] = {
				{ "backend", be->label },
				{ fd->value ? f->label : NULL, fd->value },
			};
			uint64_t v = *(const uint64_t *)((const char *)&be->total + fd->off);

			put_u64_sample(r->b, f->name, "", l, 2, v);
		}
	}
}

static void emit_backend_hist(struct render *r, const struct family *f)
{
	const struct backend *be;

	for (size_t i = 0; (be = backend_at(r->a, i)); i++)
		put_histogram(r->b, f->name, "backend", be->label,
			      (const struct hist *)((const char *)&be->total + f->off), r->ends);
}

static void emit_backend_info(struct render *r, const struct family *f)
{
	const struct backend *be;

	for (size_t i = 0; (be = backend_at(r->a, i)); i++) {
		struct label l[2] = { { "backend", be->label }, { "name", be->name } };

		if (be->name[0])
			put_sample(r->b, f->name, "", l, 2, "1");
	}
}

static void emit_run_counter(struct render *r, const struct family *f)
{
	put_u64_sample(r->b, f->name, "", NULL, 0,
		       *(const uint64_t *)((const char *)r->st + f->off));
}

/* What gatescope costs (README: "What gatescope costs"): its own CPU
 * always on a live run, its programs' time while the kernel times them. */
static void emit_self_cpu(struct render *r, const struct family *f)
{
	char v[32];

	if (!r->st->self.measured)
		return;
	snprintf(v, sizeof(v), "%.6f", r->st->self.cpu_ns / 1e9);
	put_sample(r->b, f->name, "", NULL, 0, v);
}

static bool bpf_timed(const struct render *r)
{
	return r->st->self.measured && r->st->self.bpf_timed;
}

static void emit_self_bpf_seconds(struct render *r, const struct family *f)
{
	char v[32];

	if (!bpf_timed(r))
		return;
	snprintf(v, sizeof(v), "%.6f", r->st->self.bpf_ns / 1e9);
	put_sample(r->b, f->name, "", NULL, 0, v);
}

static void emit_self_bpf_runs(struct render *r, const struct family *f)
{
	if (bpf_timed(r))
		put_u64_sample(r->b, f->name, "", NULL, 0, r->st->self.bpf_runs);
}

/* Requests by how their upstream attempts were found (README: joins). */
static void emit_joins(struct render *r, const struct family *f)
{
	for (int k = 0; k < JOIN__MAX; k++) {
		struct label l[1] = { { "join", join_kind_name(k) } };

		put_u64_sample(r->b, f->name, "", l, 1, r->st->joins[k]);
	}
}

static void emit_build_info(struct render *r, const struct family *f)
{
	struct label l[1] = { { "version", GS_VERSION } };

	put_sample(r->b, f->name, "", l, 1, "1");
}

/* Routes with series of their own, then "other" once it has requests. */
static const struct route_stats *route_at(const struct render *r, size_t i, const char **name)
{
	if (i < r->nroutes) {
		*name = r->rt->r[i]->name;
		return &r->rt->r[i]->total;
	}
	*name = "other";
	return i == r->nroutes && r->rt && r->other.requests ? &r->other : NULL;
}

static void emit_route_requests(struct render *r, const struct family *f)
{
	static const char *const classes[STATUS_CLASSES] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
	const struct route_stats *s;
	const char *name;

	for (size_t i = 0; (s = route_at(r, i, &name)); i++) {
		for (int c = 0; c < STATUS_CLASSES; c++) {
			struct label l[2] = { { "route", name }, { "status_class", classes[c] } };

			if (s->status_class[c] || status_class_always_shown(c))
				put_u64_sample(r->b, f->name, "", l, 2, s->status_class[c]);
		}
	}
}

static void emit_route_504(struct render *r, const struct family *f)
{
	const struct route_stats *s;
	const char *name;

	for (size_t i = 0; (s = route_at(r, i, &name)); i++) {
		for (size_t k = 0; k < ROUTE_F504_MAX; k++) {
			const struct fail_504 *x = &s->f504[k];
			struct label l[4] = {
				{ "route", name }, { "backend", x->backend },
				{ "cause", cause_name(x->cause) ? cause_name(x->cause) : "unknown" },
				{ "reason", x->reason ? x->reason : "unknown" },
			};

			if (x->count)
				put_u64_sample(r->b, f->name, "", l, 4, x->count);
		}
		if (s->f504_other) {
			struct label l[4] = { { "route", name }, { "backend", "other" },
					      { "cause", "unknown" }, { "reason", "other" } };

			put_u64_sample(r->b, f->name, "", l, 4, s->f504_other);
		}
	}
}

static void emit_route_latency(struct render *r, const struct family *f)
{
	const struct route_stats *s;
	const char *name;

	for (size_t i = 0; (s = route_at(r, i, &name)); i++)
		put_histogram(r->b, f->name, "route", name, &s->latency, r->ends);
}

static void emit_client_retries(struct render *r, const struct family *f)
{
	const struct route_stats *s;
	const char *name;

	for (size_t i = 0; (s = route_at(r, i, &name)); i++) {
		struct label l[1] = { { "route", name } };

		put_u64_sample(r->b, f->name, "", l, 1, s->retries.retries);
	}
}

/* Both sources always, so rate() sees their first increase. */
static void emit_throttled(struct render *r, const struct family *f)
{
	const struct route_stats *s;
	const char *name;

	for (size_t i = 0; (s = route_at(r, i, &name)); i++) {
		struct label g[2] = { { "route", name }, { "source", "gateway" } };
		struct label b[2] = { { "route", name }, { "source", "backend" } };

		put_u64_sample(r->b, f->name, "", g, 2, s->retries.throttled_gateway);
		put_u64_sample(r->b, f->name, "", b, 2, s->retries.throttled_backend);
	}
}

static void emit_masked(struct render *r, const struct family *f)
{
	const struct route_stats *s;
	const char *name;
	char up[8], down[8];

	for (size_t i = 0; (s = route_at(r, i, &name)); i++) {
		for (size_t k = 0; k < ROUTE_MASKED_MAX; k++) {
			struct label l[3] = { { "route", name }, { "upstream_status", up },
					      { "downstream_status", down } };

			if (!s->masked[k].count)
				continue;
			snprintf(up, sizeof(up), "%u", s->masked[k].upstream);
			snprintf(down, sizeof(down), "%u", s->masked[k].downstream);
			put_u64_sample(r->b, f->name, "", l, 3, s->masked[k].count);
		}
		if (s->masked_other) {
			struct label l[3] = { { "route", name }, { "upstream_status", "other" },
					      { "downstream_status", "other" } };

			put_u64_sample(r->b, f->name, "", l, 3, s->masked_other);
		}
	}
}

static void emit_inferred_timeouts(struct render *r, const struct family *f)
{
	struct inferred_timeout inf[TIMEOUT_KEYS_MAX];
	size_t n = r->to ? timeouts_infer(r->to, inf, TIMEOUT_KEYS_MAX) : 0;
	char secs[32];

	for (size_t i = 0; i < n; i++) {
		struct label l[3] = {
			{ "closer", closer_name(inf[i].key.closer) },
			{ "peer", inf[i].key.peer },
			{ "kind", inf[i].key.kind ? inf[i].key.kind : "" },
		};

		snprintf(secs, sizeof(secs), "%.6f", inf[i].seconds);
		put_sample(r->b, f->name, "", l, 3, secs);
	}
}

static void emit_timeout_keys_dropped(struct render *r, const struct family *f)
{
	put_u64_sample(r->b, f->name, "", NULL, 0, r->to ? r->to->dropped : 0);
}

#define BS(field) offsetof(struct backend_stats, field)
#define RS(field) offsetof(struct run_stats, field)

static const struct family families[] = {
	{ .name = "gatescope_build_info", .type = "gauge",
	  .help = "gatescope version (always 1).", .emit = emit_build_info },
	{ .name = "gatescope_requests_total", .type = "counter",
	  .help = "Requests finished by the gateway, by route and status class "
		  "(1xx-5xx; none: the client got no answer).",
	  .emit = emit_route_requests },
	{ .name = "gatescope_504_total", .type = "counter",
	  .help = "504 responses by route, last upstream backend, attributed cause "
		  "(gateway, network, backend, client, unknown) and reason.",
	  .emit = emit_route_504 },
	{ .name = "gatescope_request_duration_seconds", .type = "histogram",
	  .help = "Downstream request duration (request to end of response) by route, in seconds.",
	  .emit = emit_route_latency },
	{ .name = "gatescope_client_retries_total", .type = "counter",
	  .help = "Client retries by route: requests from a client address for the same "
		  "path within 30 s of its throttled or failed answer.",
	  .emit = emit_client_retries },
	{ .name = "gatescope_throttled_total", .type = "counter",
	  .help = "Throttled answers (429, 503 with Retry-After, 400 naming throttling) "
		  "by route and source: gateway (no upstream attempt answered so) or backend.",
	  .emit = emit_throttled },
	{ .name = "gatescope_masked_failures_total", .type = "counter",
	  .help = "Upstream 429 or 5xx answers the client got as 2xx, by route, "
		  "upstream_status and downstream_status.",
	  .emit = emit_masked },
	{ .name = "gatescope_retry_clients_evicted_total", .type = "counter",
	  .help = "(client address, route) pairs forced out of the full retry table.",
	  .emit = emit_run_counter, .off = RS(retry_clients_evicted) },
	{ .name = "gatescope_connects_total", .type = "counter",
	  .help = "Upstream connection attempts (SYN sent) by backend.",
	  .emit = emit_backend_counter, .fields = { { NULL, BS(connects) } } },
	{ .name = "gatescope_connect_failures_total", .type = "counter",
	  .help = "Upstream connection attempts that failed: refused (RST to SYN), "
		  "timeout (no answer), unreachable (ICMP error).",
	  .emit = emit_backend_counter, .label = "reason",
	  .fields = { { "refused", BS(refused) }, { "timeout", BS(timeout) },
		      { "unreachable", BS(unreachable) } } },
	{ .name = "gatescope_resets_total", .type = "counter",
	  .help = "TCP resets on established upstream connections, received from or sent to "
		  "the backend.",
	  .emit = emit_backend_counter, .label = "direction",
	  .fields = { { "received", BS(resets_received) }, { "sent", BS(resets_sent) } } },
	{ .name = "gatescope_retransmits_total", .type = "counter",
	  .help = "SYN and data retransmits on upstream connections.",
	  .emit = emit_backend_counter, .fields = { { NULL, BS(retransmits) } } },
	{ .name = "gatescope_timeout_closes_total", .type = "counter",
	  .help = "Upstream connections closed after an idle period with a request "
		  "outstanding, by closer.",
	  .emit = emit_backend_counter, .label = "closer",
	  .fields = { { "gateway", BS(timeout_closes_gateway) },
		      { "backend", BS(timeout_closes_backend) } } },
	{ .name = "gatescope_upstream_connect_seconds", .type = "histogram",
	  .help = "Upstream connect latency (SYN sent to ESTABLISHED) in seconds.",
	  .emit = emit_backend_hist, .off = BS(connect) },
	{ .name = "gatescope_upstream_ttfb_seconds", .type = "histogram",
	  .help = "Upstream time to first response byte after the request was sent, in seconds.",
	  .emit = emit_backend_hist, .off = BS(ttfb) },
	{ .name = "gatescope_backend_info", .type = "gauge",
	  .help = "Names given to backends by --backend-names (always 1).",
	  .emit = emit_backend_info },
	{ .name = "gatescope_inferred_timeout_seconds", .type = "gauge",
	  .help = "Effective timeout of a hop, inferred from clusters of timeout-driven closes "
		  "(closer, peer, kind: connect, read or response).",
	  .emit = emit_inferred_timeouts },
	{ .name = "gatescope_lost_events_total", .type = "counter",
	  .help = "Events dropped in the kernel because the ring buffer was full.",
	  .emit = emit_run_counter, .off = RS(lost_events) },
	{ .name = "gatescope_evicted_conns_total", .type = "counter",
	  .help = "Connections evicted from the kernel connection table before they closed.",
	  .emit = emit_run_counter, .off = RS(evicted_conns) },
	{ .name = "gatescope_closes_unseen_total", .type = "counter",
	  .help = "Connections whose end never reached gatescope's programs (the kernel skipped a run): found when a new connection took their table entry.",
	  .emit = emit_run_counter, .off = RS(closes_unseen) },
	{ .name = "gatescope_conn_table_failures_total", .type = "counter",
	  .help = "Kernel connection table updates that failed.",
	  .emit = emit_run_counter, .off = RS(insert_failures) },
	{ .name = "gatescope_conns_adopted_total", .type = "counter",
	  .help = "Connections of the traced processes that were open when gatescope started, followed from then on.",
	  .emit = emit_run_counter, .off = RS(conns_adopted) },
	{ .name = "gatescope_missed_program_runs_total", .type = "counter",
	  .help = "Runs of gatescope's BPF programs the kernel skipped: a tracepoint fired while its program was running on that CPU.",
	  .emit = emit_run_counter, .off = RS(missed_runs) },
	{ .name = "gatescope_cpu_seconds_total", .type = "counter",
	  .help = "gatescope's own CPU time (user and system) since it began tracing.",
	  .emit = emit_self_cpu },
	{ .name = "gatescope_bpf_run_seconds_total", .type = "counter",
	  .help = "Time spent in gatescope's BPF programs since it began tracing, charged by the "
		  "kernel to the processes they run in; only while the kernel times BPF programs "
		  "(--bpf-stats or kernel.bpf_stats_enabled=1).",
	  .emit = emit_self_bpf_seconds },
	{ .name = "gatescope_bpf_runs_total", .type = "counter",
	  .help = "Runs of gatescope's BPF programs since it began tracing, counted while the "
		  "kernel times BPF programs.",
	  .emit = emit_self_bpf_runs },
	{ .name = "gatescope_pid_table_failures_total", .type = "counter",
	  .help = "Processes to trace that did not fit the kernel's table of traced processes.",
	  .emit = emit_run_counter, .off = RS(pid_failures) },
	{ .name = "gatescope_forks_followed_total", .type = "counter",
	  .help = "Children of traced processes traced from their fork.",
	  .emit = emit_run_counter, .off = RS(forks_followed) },
	{ .name = "gatescope_exits_followed_total", .type = "counter",
	  .help = "Traced processes that left the table of traced processes at exit.",
	  .emit = emit_run_counter, .off = RS(exits_followed) },
	{ .name = "gatescope_malformed_events_total", .type = "counter",
	  .help = "Events rejected by the decoder.",
	  .emit = emit_run_counter, .off = RS(malformed_events) },
	{ .name = "gatescope_backends_overflowed_total", .type = "counter",
	  .help = "Connections counted under backend=\"other\" because the backend table "
		  "was full.",
	  .emit = emit_run_counter, .off = RS(backend_overflow) },
	{ .name = "gatescope_routes_overflowed_total", .type = "counter",
	  .help = "Requests counted under route=\"other\" because the route table was full.",
	  .emit = emit_run_counter, .off = RS(route_overflow) },
	{ .name = "gatescope_http_conns_evicted_total", .type = "counter",
	  .help = "Connections whose HTTP was not followed because the HTTP table was full.",
	  .emit = emit_run_counter, .off = RS(http_conns_evicted) },
	{ .name = "gatescope_http_backend_side_requests_total", .type = "counter",
	  .help = "Requests a traced process that never connected out read on a traced "
		  "gateway's own upstream connection: the backend's side, not counted as requests.",
	  .emit = emit_run_counter, .off = RS(backend_side_requests) },
	{ .name = "gatescope_http_unparsable_total", .type = "counter",
	  .help = "Connections whose HTTP could not be parsed.",
	  .emit = emit_run_counter, .off = RS(http_unparsable) },
	{ .name = "gatescope_http_pipeline_overflow_total", .type = "counter",
	  .help = "Pipelined HTTP exchanges beyond the per-connection limit.",
	  .emit = emit_run_counter, .off = RS(http_pipeline_overflow) },
	{ .name = "gatescope_http_captures_cut_total", .type = "counter",
	  .help = "HTTP buffers captured in part: longer than --capture-bytes.",
	  .emit = emit_run_counter, .off = RS(captures_cut) },
	{ .name = "gatescope_http_heads_truncated_total", .type = "counter",
	  .help = "HTTP heads not wholly captured (--capture-bytes): fields may be missing.",
	  .emit = emit_run_counter, .off = RS(heads_truncated) },
	{ .name = "gatescope_http_heads_dropped_total", .type = "counter",
	  .help = "HTTP heads cut before their start line was usable.",
	  .emit = emit_run_counter, .off = RS(heads_dropped) },
	{ .name = "gatescope_http_sync_lost_total", .type = "counter",
	  .help = "HTTP streams that lost a message boundary because its bytes were not "
		  "captured.",
	  .emit = emit_run_counter, .off = RS(sync_lost) },
	{ .name = "gatescope_http_resyncs_total", .type = "counter",
	  .help = "HTTP streams that found a message boundary again at a head.",
	  .emit = emit_run_counter, .off = RS(resyncs) },
	{ .name = "gatescope_requests_evicted_total", .type = "counter",
	  .help = "In-flight requests forced out of a full request pool.",
	  .emit = emit_run_counter, .off = RS(requests_evicted) },
	{ .name = "gatescope_requests_joined_total", .type = "counter",
	  .help = "Finished requests by how their upstream attempts were found: id, content, "
		  "order, time, ambiguous (none joined), none (no attempt).",
	  .emit = emit_joins },
	{ .name = "gatescope_attempts_unjoined_total", .type = "counter",
	  .help = "Upstream attempts that could not be joined to a downstream request.",
	  .emit = emit_run_counter, .off = RS(attempts_unjoined) },
	{ .name = "gatescope_attributed_without_tcp_facts_total", .type = "counter",
	  .help = "Failed requests attributed before their upstream TCP facts arrived.",
	  .emit = emit_run_counter, .off = RS(facts_timeouts) },
	{ .name = "gatescope_tls_conns_total", .type = "counter",
	  .help = "Connections whose first bytes were a TLS handshake record.",
	  .emit = emit_run_counter, .off = RS(tls_conns) },
	{ .name = "gatescope_tls_decrypted_total", .type = "counter",
	  .help = "TLS connections whose plaintext was read through libssl uprobes.",
	  .emit = emit_run_counter, .off = RS(tls_decrypted) },
	{ .name = "gatescope_tls_unmapped_total", .type = "counter",
	  .help = "TLS sessions whose socket was not learned: their plaintext was lost.",
	  .emit = emit_run_counter, .off = RS(tls_unmapped) },
	{ .name = "gatescope_tls_dropped_total", .type = "counter",
	  .help = "SSL reads and writes whose plaintext had no followed connection.",
	  .emit = emit_run_counter, .off = RS(tls_dropped) },
	{ .name = "gatescope_tls_buffered_total", .type = "counter",
	  .help = "SSL reads served from OpenSSL's own buffer without touching the socket.",
	  .emit = emit_run_counter, .off = RS(tls_buffered) },
	{ .name = "gatescope_h2_streams_total", .type = "counter",
	  .help = "HTTP/2 streams that carried a request.",
	  .emit = emit_run_counter, .off = RS(h2.streams) },
	{ .name = "gatescope_h2_broken_conns_total", .type = "counter",
	  .help = "HTTP/2 connections no longer decoded: a header block or frame header was lost.",
	  .emit = emit_run_counter, .off = RS(h2.broken_conns) },
	{ .name = "gatescope_timeout_keys_dropped_total", .type = "counter",
	  .help = "Timeout-driven closes not followed because too many (closer, peer, kind) "
		  "were already followed.",
	  .emit = emit_timeout_keys_dropped },
};

static void routes_prepare(struct render *r)
{
	memset(&r->other, 0, sizeof(r->other));
	r->nroutes = 0;
	if (!r->rt)
		return;
	r->nroutes = r->rt->n < r->rt->shown ? r->rt->n : r->rt->shown;
	for (size_t i = r->nroutes; i < r->rt->n; i++)
		route_stats_merge(&r->other, &r->rt->r[i]->total);
	if (r->rt->other)
		route_stats_merge(&r->other, &r->rt->other->total);
}

int prom_render(const struct report *rep, struct prom_buf *b)
{
	struct render r = { .b = b, .a = rep->agg, .st = rep->stats, .rt = rep->routes,
			    .to = rep->timeouts };
	b->len = 0;
	b->failed = false;
	if (!reserve(b, 0))
		return -1;
	b->data[0] = '\0';
	ladder_ends(r.ends);
	routes_prepare(&r);
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		const struct family *f = &families[i];

		puts_(b, "# HELP ");
		puts_(b, f->name);
		puts_(b, " ");
		put_help(b, f->help);
		puts_(b, "\n# TYPE ");
		puts_(b, f->name);
		puts_(b, " ");
		puts_(b, f->type);
		puts_(b, "\n");
		if (f->emit)
			f->emit(&r, f);
	}
	return b->failed ? -1 : 0;
}
