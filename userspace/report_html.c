// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "report_html.h"
#include "report_retries.h"

/* Sizes of the drawings (SVG user units = CSS pixels). */
#define TL_W		960
#define TL_H		240
#define TL_LEFT		56
#define TL_RIGHT	8
#define TL_TOP		10
#define TL_BOTTOM	34
#define TL_SELECTABLE	20	/* routes with a timeline of their own, by requests */
#define LADDER_W	960
#define LADDER_ROW_H	74
#define LADDER_LEFT	16
#define LADDER_ROWS	64	/* (port, backend) rows drawn */
#define HIST_W		300
#define HIST_H		130
#define HIST_BINS_PER_DECADE 4
#define HIST_BACKENDS	64	/* backends with histograms */

static const char *const cause_colour[CAUSE__MAX] = {
	[CAUSE_NONE] = "#aec7e8", [CAUSE_GATEWAY] = "#c0392b", [CAUSE_NETWORK] = "#e67e22",
	[CAUSE_BACKEND] = "#8e44ad", [CAUSE_CLIENT] = "#16a085", [CAUSE_UNKNOWN] = "#7f8c8d",
};

/* Traced strings (paths, hosts, methods, process names) and names from
 * files go through here: markup characters become entities, and control
 * and non-ASCII bytes '?', as on a terminal, so no byte a client sends can
 * open a tag, end an attribute or break the parser. */
void html_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(c < 0x20 || c >= 0x7f ? '?' : c, f); break;
		}
	}
}

static void utc(char *buf, size_t len, double ts, bool with_date)
{
	time_t t = (time_t)ts;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(buf, len, with_date ? "%Y-%m-%d %H:%M:%S UTC" : "%H:%M:%S", &tm);
}

static double ms_of(const struct hist *h, double q)
{
	return hist_quantile(h, q) / 1e6;
}

/* A numeric table cell: data-v sorts it; a missing value is "-". */
void html_td_u64(FILE *f, uint64_t v)
{
	fprintf(f, "<td data-v=\"%llu\">%llu</td>", (unsigned long long)v, (unsigned long long)v);
}

static void td_ms(FILE *f, const struct hist *h, double q)
{
	if (!h || !h->count)
		fputs("<td data-v=\"-1\">-</td>", f);
	else
		fprintf(f, "<td data-v=\"%.3f\">%.3f</td>", ms_of(h, q), ms_of(h, q));
}

void html_td_text(FILE *f, const char *s)
{
	fputs("<td>", f);
	html_escape(f, s);
	fputs("</td>", f);
}

static const char style[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
"h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}"
"table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px}"
"th{background:#f3f3f3}table.sortable th{cursor:pointer}td[data-v]{text-align:right}"
".note{color:#555}.warn{color:#a04000}.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}"
"svg{font:11px system-ui,sans-serif}svg .axis{stroke:#888}svg .grid{stroke:#eee}"
".rung{stroke-width:3}.rung.patience{stroke:#1f77b4}.rung.connect,.rung.read{stroke:#555}"
".rung.tight{stroke:#e67e22}.rung.inverted{stroke:#c0392b}.ttfb{stroke:#2ca02c;stroke-width:6}"
".gap.tight{fill:#e67e22;opacity:.25}.gap.inverted{fill:#c0392b;opacity:.3}"
".hbar{fill:#6a8fbf}.q{stroke:#c0392b}.evidence{min-width:24em}select{max-width:40em}.backend-hist svg{margin-right:12px}";

/* Sort any table.sortable by a click on its header; pick a timeline. */
static const char script[] =
"document.querySelectorAll('table.sortable th').forEach(function(th){"
"th.addEventListener('click',function(){var b=th.closest('table').tBodies[0],i=th.cellIndex,"
"up=th.dataset.dir!=='up';th.dataset.dir=up?'up':'down';"
"Array.from(b.rows).sort(function(x,y){var a=x.cells[i],c=y.cells[i],r;"
"if(a.dataset.v!==undefined&&c.dataset.v!==undefined)r=parseFloat(a.dataset.v)-parseFloat(c.dataset.v);"
"else r=a.textContent.localeCompare(c.textContent);return up?r:-r;})"
".forEach(function(r){b.appendChild(r);});});});"
"var sel=document.getElementById('tl-route');if(sel)sel.addEventListener('change',function(){"
"document.querySelectorAll('.tl-series').forEach(function(d){d.hidden=d.dataset.series!==sel.value;});});";

static void html_head(FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      /* Nothing may be fetched: the report is read offline, attached
	       * to a post-mortem, and must not call anywhere. */
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<title>gatescope incident report</title>\n<style>", f);
	fputs(style, f);
	fputs("</style>\n</head>\n<body>\n<h1>gatescope incident report</h1>\n", f);
}

static uint64_t failed_by_cause(const struct incident *m, enum cause c)
{
	uint64_t n = 0;

	for (size_t g = 0; g < m->ngroups; g++)
		if (m->groups[g].cause == c)
			n += m->groups[g].count;
	return n;
}

static void html_overview(FILE *f, const struct report_view *v)
{
	const struct incident *m = v->m;
	const struct run_stats *st = v->stats;
	char from[40], to[40];

	utc(from, sizeof(from), v->start, true);
	utc(to, sizeof(to), v->start + v->span_s, true);
	fputs("<p id=\"overview\">", f);
	if (v->source) {
		fputs("Replay of <code>", f);
		html_escape(f, v->source);
		fputs("</code>, ", f);
	} else {
		fputs("Live run, ", f);
	}
	fprintf(f, "%s to %s (%.1f s). <b id=\"requests\" data-n=\"%llu\">%llu</b> requests finished, "
		"<b id=\"failed\" data-n=\"%llu\">%llu</b> failed:", from, to, v->span_s,
		(unsigned long long)m->tl.all.requests, (unsigned long long)m->tl.all.requests,
		(unsigned long long)m->failed, (unsigned long long)m->failed);
	for (int c = CAUSE_GATEWAY; c < CAUSE__MAX; c++)
		fprintf(f, " <span class=\"key\" style=\"background:%s\"></span>%s "
			"<b class=\"cause-count\" data-cause=\"%s\">%llu</b>", cause_colour[c],
			cause_name(c), cause_name(c), (unsigned long long)failed_by_cause(m, c));
	fputs(".</p>\n<p class=\"note\" id=\"losses\">What was lost:", f);
	fprintf(f, " lost events %llu, evicted connections %llu, malformed events %llu, "
		"requests evicted %llu, attempts evicted %llu, attributed without TCP facts %llu, "
		"routes overflowed %llu, backends overflowed %llu, join rate %.4f.</p>\n",
		(unsigned long long)st->lost_events, (unsigned long long)st->evicted_conns,
		(unsigned long long)st->malformed_events, (unsigned long long)st->requests_evicted,
		(unsigned long long)st->attempts_evicted, (unsigned long long)st->facts_timeouts,
		(unsigned long long)st->route_overflow, (unsigned long long)st->backend_overflow,
		st->requests ? (double)st->requests_joined / st->requests : 0.0);
	if (m->backends_overflowed || m->pairs_overflowed || m->tl.before_t0)
		fprintf(f, "<p class=\"note\" id=\"report-losses\">Not in this report: %llu requests "
			"in no total-time histogram (backend table full), %llu requests of (port, "
			"backend) pairs beyond the ladder's table; %llu requests ended before the run's "
			"first second and are counted in the first bar.</p>\n",
			(unsigned long long)m->backends_overflowed,
			(unsigned long long)m->pairs_overflowed, (unsigned long long)m->tl.before_t0);
}

/* 1, 2 or 5 times a power of ten, at least v. */
static double nice_ceil(double v)
{
	double p, steps[] = { 1, 2, 5, 10 };

	if (v <= 0)
		return 1;
	p = pow(10, floor(log10(v)));
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
		if (steps[i] * p >= v)
			return steps[i] * p;
	return 10 * p;
}

static uint32_t cell_failed(const struct tl_cell *c)
{
	uint32_t n = 0;

	for (int k = CAUSE_GATEWAY; k < CAUSE__MAX; k++)
		n += c->failed[k];
	return n;
}

/* One stacked segment of a timeline bar; failures carry a tooltip. */
static void tl_segment(FILE *f, const struct timeline *tl, unsigned b, double x, double w,
		       double *y, double scale, enum cause c, uint32_t n)
{
	double h = n * scale, t = tl->t0 + (double)b * tl->width_s;
	char when[16];

	if (!n)
		return;
	*y -= h;
	fprintf(f, "<rect class=\"bar %s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
		"fill=\"%s\" data-t=\"%.0f\" data-n=\"%u\">", c == CAUSE_NONE ? "ok" : cause_name(c),
		x, *y, w, h, cause_colour[c], t, n);
	utc(when, sizeof(when), t, false);
	fprintf(f, "<title>%s: %u %s</title></rect>", when, n,
		c == CAUSE_NONE ? "answered" : cause_name(c));
}

static void tl_axes(FILE *f, const struct timeline *tl, double ymax)
{
	double plot_h = TL_H - TL_TOP - TL_BOTTOM, plot_w = TL_W - TL_LEFT - TL_RIGHT;
	char when[16];

	for (int i = 0; i <= 2; i++) {
		double y = TL_TOP + plot_h - plot_h * i / 2;

		fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>", TL_LEFT, y,
			TL_W - TL_RIGHT, y, TL_LEFT - 4, y + 4, ymax * i / 2);
	}
	unsigned nb = tl->nbuckets ? tl->nbuckets : 1;
	unsigned step = nb < 6 ? 1 : (unsigned)nice_ceil(nb / 6.0);

	/* A label at the start of every step-th bar. */
	for (unsigned b = 0; b < nb; b += step) {
		utc(when, sizeof(when), tl->t0 + (double)b * tl->width_s, false);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s</text>", TL_LEFT + plot_w * b / nb,
			TL_H - TL_BOTTOM + 16, when);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\">UTC, %u s per bar</text>", TL_LEFT, TL_H - 4,
		tl->width_s);
}

static void tl_svg(FILE *f, const struct timeline *tl, const struct tl_series *s, int idx)
{
	double plot_h = TL_H - TL_TOP - TL_BOTTOM, plot_w = TL_W - TL_LEFT - TL_RIGHT;
	double bw = plot_w / (tl->nbuckets ? tl->nbuckets : 1), ymax, scale;
	uint32_t peak = 0;

	for (unsigned b = 0; b < tl->nbuckets; b++)
		if (s->cells[b].requests > peak)
			peak = s->cells[b].requests;
	ymax = nice_ceil(peak);
	scale = plot_h / ymax;
	fprintf(f, "<div class=\"tl-series\" data-series=\"%d\"%s>\n<svg class=\"timeline\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" data-t0=\"%.0f\" "
		"data-width-s=\"%u\" data-requests=\"%llu\"><title>", idx, idx ? " hidden" : "",
		TL_W, TL_H, TL_W, TL_H, tl->t0, tl->width_s, (unsigned long long)s->requests);
	html_escape(f, idx ? s->name : "all routes");
	fputs("</title>", f);
	tl_axes(f, tl, ymax);
	for (unsigned b = 0; b < tl->nbuckets; b++) {
		const struct tl_cell *c = &s->cells[b];
		double x = TL_LEFT + b * bw, w = bw > 2 ? bw - 1 : bw, y = TL_TOP + plot_h;

		if (!c->requests)
			continue;
		for (int k = CAUSE_GATEWAY; k < CAUSE__MAX; k++)
			tl_segment(f, tl, b, x, w, &y, scale, k, c->failed[k]);
		tl_segment(f, tl, b, x, w, &y, scale, CAUSE_NONE, c->requests - cell_failed(c));
	}
	fputs("</svg>\n</div>\n", f);
}

static int cmp_series(const void *a, const void *b)
{
	const struct tl_series *x = *(const struct tl_series *const *)a;
	const struct tl_series *y = *(const struct tl_series *const *)b;

	return x->requests < y->requests ? 1 : x->requests > y->requests ? -1 : 0;
}

static void html_timeline(FILE *f, const struct report_view *v)
{
	const struct timeline *tl = &v->m->tl;
	const struct tl_series *pick[REPORT_ROUTES + 1];
	size_t n = 0;

	fputs("<h2 id=\"timeline\">Requests and failures per second</h2>\n", f);
	if (!tl->all.requests) {
		fputs("<p>No request finished.</p>\n", f);
		return;
	}
	for (size_t i = 0; i < tl->nroutes; i++)
		pick[n++] = tl->routes[i];
	if (tl->other)
		pick[n++] = tl->other;
	qsort(pick, n, sizeof(pick[0]), cmp_series);
	if (n > TL_SELECTABLE)
		n = TL_SELECTABLE;
	fputs("<p><label>Route: <select id=\"tl-route\"><option value=\"0\">all routes</option>", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "<option value=\"%zu\">", i + 1);
		html_escape(f, pick[i]->name);
		fputs("</option>", f);
	}
	fputs("</select></label>", f);
	for (int c = CAUSE_GATEWAY; c < CAUSE__MAX; c++)
		fprintf(f, "<span class=\"key\" style=\"background:%s\"></span>%s", cause_colour[c],
			cause_name(c));
	fprintf(f, "<span class=\"key\" style=\"background:%s\"></span>answered</p>\n",
		cause_colour[CAUSE_NONE]);
	tl_svg(f, tl, &tl->all, 0);
	for (size_t i = 0; i < n; i++)
		tl_svg(f, tl, pick[i], i + 1);
	fprintf(f, "<p class=\"note\">Requests by the second their exchange ended, failed ones "
		"by cause at the bottom of each bar.%s</p>\n", tl->nroutes + !!tl->other > n ?
		" Only the busiest routes can be picked; all of them are in \"all routes\"." : "");
}

/* The inferred timeout for (closer, peer, kind), or -1. */
static double inferred(const struct inferred_timeout *inf, size_t n, enum closer c,
		       const char *peer, const char *kind)
{
	for (size_t i = 0; i < n; i++)
		if (inf[i].key.closer == c && !strcmp(inf[i].key.peer, peer) &&
		    !strcmp(inf[i].key.kind, kind))
			return inf[i].seconds;
	return -1;
}

static const struct backend *agg_find(const struct aggregator *a, const char *label)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->backends[i]->label, label))
			return a->backends[i];
	return NULL;
}

/* One ladder row: outermost (client patience) to innermost (TTFB). */
struct rung_row {
	const char *listener, *backend;	/* "" when not known */
	double patience, connect, read;	/* s, -1 when not inferred */
	double p50, p99;		/* backend TTFB, s, -1 without samples */
};

/* Is this timeout already on a row: a client timeout on a row of its
 * port, a gateway timeout on a row of its backend? */
static bool row_covers(const struct rung_row *rows, size_t n, const struct inferred_timeout *t)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t->key.closer == CLOSER_CLIENT ? rows[i].listener : rows[i].backend,
			    t->key.peer))
			return true;
	return false;
}

static void row_fill(struct rung_row *r, const struct report_view *v,
		     const struct inferred_timeout *inf, size_t ninf)
{
	const struct backend *b = r->backend[0] ? agg_find(v->agg, r->backend) : NULL;

	r->patience = r->listener[0] ? inferred(inf, ninf, CLOSER_CLIENT, r->listener, "response") : -1;
	r->connect = r->backend[0] ? inferred(inf, ninf, CLOSER_GATEWAY, r->backend, "connect") : -1;
	r->read = r->backend[0] ? inferred(inf, ninf, CLOSER_GATEWAY, r->backend, "read") : -1;
	r->p50 = r->p99 = -1;
	if (b && b->total.ttfb.count) {
		r->p50 = hist_quantile(&b->total.ttfb, 0.5) / 1e9;
		r->p99 = hist_quantile(&b->total.ttfb, 0.99) / 1e9;
	}
}

static bool row_has_values(const struct rung_row *r)
{
	return r->patience >= 0 || r->connect >= 0 || r->read >= 0 || r->p99 >= 0;
}

/* Add a row if it shows anything; past max it is counted. */
static void row_add(struct rung_row *rows, size_t *n, size_t max, size_t *left_out,
		    struct rung_row *r, const struct report_view *v,
		    const struct inferred_timeout *inf, size_t ninf)
{
	row_fill(r, v, inf, ninf);
	if (!row_has_values(r))
		return;
	if (*n == max)
		(*left_out)++;
	else
		rows[(*n)++] = *r;
}

/* Rows: every (port, backend) pair requests went through, then each
 * timeout no row shows yet (a backend no request was joined to, a port
 * whose clients gave up before any attempt). */
static size_t ladder_rows(const struct report_view *v, const struct inferred_timeout *inf,
			  size_t ninf, struct rung_row *rows, size_t max, size_t *left_out)
{
	const struct incident *m = v->m;
	size_t n = 0;

	*left_out = 0;
	for (size_t i = 0; i < m->npairs; i++) {
		struct rung_row r = { .listener = m->pairs[i].listener, .backend = m->pairs[i].backend };

		row_add(rows, &n, max, left_out, &r, v, inf, ninf);
	}
	for (size_t i = 0; i < ninf; i++) {
		struct rung_row r = { .listener = "", .backend = "" };

		if (inf[i].key.closer == CLOSER_BACKEND || row_covers(rows, n, &inf[i]))
			continue;
		if (inf[i].key.closer == CLOSER_CLIENT)
			r.listener = inf[i].key.peer;
		else
			r.backend = inf[i].key.peer;
		row_add(rows, &n, max, left_out, &r, v, inf, ninf);
	}
	return n;
}

static const char *rung_state(double patience, double gateway)
{
	if (patience < 0 || gateway < 0)
		return "";
	if (patience < gateway)
		return " inverted";
	if (patience - gateway < LADDER_MIN_GAP_S)
		return " tight";
	return "";
}

static void rung(FILE *f, double x, double y, const char *kind, const char *state,
		 double s, const char *label, int dy)
{
	fprintf(f, "<line class=\"rung %s%s\" data-kind=\"%s\" data-s=\"%.3f\" x1=\"%.1f\" "
		"y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"><title>%s %.3f s</title></line>"
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s %.3f s</text>",
		kind, state, kind, s, x, y - 12, x, y + 12, label, s, x, y + dy, label, s);
}

static void ladder_gap(FILE *f, double x_gw, double x_cl, double y, const char *state)
{
	double lo = x_gw < x_cl ? x_gw : x_cl, hi = x_gw < x_cl ? x_cl : x_gw;

	if (*state)
		fprintf(f, "<rect class=\"gap%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"24\"/>",
			state, lo, y - 12, hi - lo > 1 ? hi - lo : 1);
}

static void ladder_row(FILE *f, const struct rung_row *r, int i, double xmax)
{
	double plot_w = LADDER_W - 2 * LADDER_LEFT, y = i * LADDER_ROW_H + 52;
	const char *cs = rung_state(r->patience, r->connect), *rs = rung_state(r->patience, r->read);
#define X(s) (LADDER_LEFT + (s) / xmax * plot_w)

	fputs("<g class=\"ladder-row\" data-listener=\"", f);
	html_escape(f, r->listener);
	fputs("\" data-backend=\"", f);
	html_escape(f, r->backend);
	fprintf(f, "\"><text x=\"%d\" y=\"%.1f\" font-weight=\"bold\">clients of ", LADDER_LEFT, y - 34);
	html_escape(f, r->listener[0] ? r->listener : "(port not known)");
	fputs(" &#8594; gateway &#8594; ", f);
	html_escape(f, r->backend[0] ? r->backend : "(no backend joined)");
	fprintf(f, "</text><line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>",
		LADDER_LEFT, y, LADDER_W - LADDER_LEFT, y);
	if (r->patience >= 0 && r->connect >= 0)
		ladder_gap(f, X(r->connect), X(r->patience), y, cs);
	if (r->patience >= 0 && r->read >= 0)
		ladder_gap(f, X(r->read), X(r->patience), y, rs);
	if (r->p99 >= 0)
		fprintf(f, "<line class=\"ttfb\" data-p50=\"%.3f\" data-p99=\"%.3f\" x1=\"%.1f\" "
			"y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"><title>backend TTFB p50 %.3f s, p99 %.3f s"
			"</title></line><text x=\"%.1f\" y=\"%.1f\" fill=\"#2ca02c\">TTFB p50 %.3f s, "
			"p99 %.3f s</text>", r->p50, r->p99, X(r->p50), y, X(r->p99) + 3, y, r->p50,
			r->p99, X(r->p99) + 8, y - 5, r->p50, r->p99);
	if (r->connect >= 0)
		rung(f, X(r->connect), y, "connect", cs, r->connect, "connect", 26);
	if (r->read >= 0)
		rung(f, X(r->read), y, "read", rs, r->read, "read", r->connect >= 0 ? 38 : 26);
	if (r->patience >= 0)
		rung(f, X(r->patience), y, "patience", "", r->patience, "client", -16);
	fputs("</g>\n", f);
#undef X
}

static double row_max(const struct rung_row *r)
{
	double m = r->patience;

	m = r->connect > m ? r->connect : m;
	m = r->read > m ? r->read : m;
	return r->p99 > m ? r->p99 : m;
}

static void html_ladder(FILE *f, const struct report_view *v)
{
	struct inferred_timeout inf[TIMEOUT_KEYS_MAX];
	char warn[TIMEOUT_KEYS_MAX][256];
	size_t ninf = timeouts_infer(v->timeouts, inf, TIMEOUT_KEYS_MAX);
	size_t nw = timeouts_ladder(v->timeouts, inf, ninf, warn, TIMEOUT_KEYS_MAX), left_out;
	struct rung_row rows[LADDER_ROWS];
	size_t n = ladder_rows(v, inf, ninf, rows, LADDER_ROWS, &left_out);
	double xmax = 0;

	fputs("<h2 id=\"ladder\">Timeout ladder</h2>\n<p class=\"note\">For each client-facing "
	      "port and backend, on one time axis: how long clients waited before giving up "
	      "(inferred), the gateway's inferred connect and read timeouts, and the backend's "
	      "observed time to first byte (p50 to p99, green). A client that gives up before the "
	      "gateway does is <b style=\"color:#c0392b\">inverted</b>; less than 2 s more is "
	      "<b style=\"color:#e67e22\">tight</b>.</p>\n", f);
	if (!n) {
		fputs("<p>No timeout inferred and no backend answered.</p>\n", f);
	} else {
		for (size_t i = 0; i < n; i++)
			xmax = row_max(&rows[i]) > xmax ? row_max(&rows[i]) : xmax;
		xmax = nice_ceil(xmax * 1.1);
		fprintf(f, "<svg id=\"ladder-svg\" width=\"%d\" height=\"%zu\" viewBox=\"0 0 %d %zu\" "
			"role=\"img\" data-xmax=\"%.3f\"><title>timeout ladder</title>\n", LADDER_W,
			n * LADDER_ROW_H + 42, LADDER_W, n * LADDER_ROW_H + 42, xmax);
		for (size_t i = 0; i < n; i++)
			ladder_row(f, &rows[i], i, xmax);
		fprintf(f, "<text x=\"%d\" y=\"%zu\">0 s</text><text x=\"%d\" y=\"%zu\" "
			"text-anchor=\"end\">%g s</text></svg>\n", LADDER_LEFT, n * LADDER_ROW_H + 38,
			LADDER_W - LADDER_LEFT, n * LADDER_ROW_H + 38, xmax);
	}
	if (left_out)
		fprintf(f, "<p class=\"note\">%zu more rows not drawn.</p>\n", left_out);
	fputs("<ul id=\"ladder-warnings\">", f);
	for (size_t i = 0; i < nw; i++) {
		fputs("<li class=\"warn\">", f);
		html_escape(f, warn[i]);
		fputs("</li>", f);
	}
	fputs("</ul>\n", f);
}

static void route_row(FILE *f, const char *name, const struct route_stats *s)
{
	const struct hist *h = &s->latency;

	fputs("<tr>", f);
	html_td_text(f, name);
	html_td_u64(f, s->requests);
	html_td_u64(f, s->status_class[2]);
	html_td_u64(f, s->status_class[4]);
	html_td_u64(f, s->status_class[5]);
	html_td_u64(f, s->s504);
	html_td_u64(f, s->status_class[0]);
	html_td_u64(f, s->failed);
	for (int c = CAUSE_GATEWAY; c < CAUSE__MAX; c++)
		html_td_u64(f, s->cause_504[c]);
	td_ms(f, h, 0.5);
	td_ms(f, h, 0.9);
	td_ms(f, h, 0.99);
	if (h->count)
		fprintf(f, "<td data-v=\"%.3f\">%.3f</td>", h->max_ns / 1e6, h->max_ns / 1e6);
	else
		fputs("<td data-v=\"-1\">-</td>", f);
	html_td_u64(f, s->attempts);
	fprintf(f, "<td data-v=\"%.3f\">%.3f</td>", s->requests ? (double)s->attempts / s->requests : 0,
		s->requests ? (double)s->attempts / s->requests : 0);
	html_td_u64(f, s->throttled);
	fputs("</tr>\n", f);
}

static void html_routes(FILE *f, const struct report_view *v)
{
	const struct route *top[ROUTES_MAX];
	struct route_stats *rest = calloc(1, sizeof(*rest));
	bool have_rest = false;
	size_t n;

	fputs("<h2 id=\"routes\">Routes</h2>\n<table class=\"sortable\" id=\"routes-table\"><thead><tr>"
	      "<th>route</th><th>requests</th><th>2xx</th><th>4xx</th><th>5xx</th><th>504</th>"
	      "<th>client aborts</th><th>failed</th><th>504 gateway</th><th>504 network</th>"
	      "<th>504 backend</th><th>504 client</th><th>504 unknown</th><th>p50 ms</th>"
	      "<th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>upstream attempts</th>"
	      "<th>retry amplification</th><th>throttled</th></tr></thead>\n<tbody>\n", f);
	if (rest) {
		n = routes_top(v->routes, true, top, ROUTES_MAX, rest, &have_rest);
		for (size_t i = 0; i < n; i++)
			route_row(f, top[i]->name, &top[i]->total);
		if (have_rest)
			route_row(f, "other", rest);
		free(rest);
	}
	fputs("</tbody></table>\n", f);
}

static bool backend_seen(const struct backend *b)
{
	const struct backend_stats *s = &b->total;

	return s->connects || s->ttfb.count || s->timeout_closes_gateway || s->timeout_closes_backend;
}

static void backend_label(FILE *f, const struct backend *b)
{
	html_escape(f, b->label);
	if (b->name[0]) {
		fputs(" (", f);
		html_escape(f, b->name);
		fputs(")", f);
	}
}

static void backend_row(FILE *f, const struct backend *b)
{
	const struct backend_stats *s = &b->total;

	fputs("<tr><td>", f);
	backend_label(f, b);
	fputs("</td>", f);
	html_td_u64(f, s->connects);
	html_td_u64(f, s->refused);
	html_td_u64(f, s->timeout);
	html_td_u64(f, s->unreachable);
	html_td_u64(f, s->resets_received);
	html_td_u64(f, s->resets_sent);
	html_td_u64(f, s->retransmits);
	html_td_u64(f, s->timeout_closes_gateway);
	html_td_u64(f, s->timeout_closes_backend);
	td_ms(f, &s->connect, 0.5);
	td_ms(f, &s->connect, 0.99);
	td_ms(f, &s->ttfb, 0.5);
	td_ms(f, &s->ttfb, 0.99);
	fputs("</tr>\n", f);
}

static void html_backends(FILE *f, const struct report_view *v)
{
	const struct aggregator *a = v->agg;

	fputs("<h2 id=\"backends\">Backends</h2>\n<table class=\"sortable\" id=\"backends-table\">"
	      "<thead><tr><th>backend</th><th>connects</th><th>refused</th><th>connect timeouts</th>"
	      "<th>unreachable</th><th>RST received</th><th>RST sent</th><th>retransmits</th>"
	      "<th>timeout closes by gateway</th><th>timeout closes by backend</th>"
	      "<th>connect p50 ms</th><th>connect p99 ms</th><th>TTFB p50 ms</th>"
	      "<th>TTFB p99 ms</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < a->n; i++)
		if (backend_seen(a->backends[i]))
			backend_row(f, a->backends[i]);
	if (a->other && backend_seen(a->other))
		backend_row(f, a->other);
	fputs("</tbody></table>\n", f);
}

/* A latency histogram on a log axis, HIST_BINS_PER_DECADE bins a decade,
 * with the p50 and p99 marked. */
static void hist_svg(FILE *f, const char *what, const struct hist *h)
{
	double lo_dec, hi_dec, plot_w = HIST_W - 20, plot_h = HIST_H - 58;
	uint64_t bins[64] = {0}, peak = 0;
	int nbins;

	fprintf(f, "<svg class=\"hist\" data-kind=\"%s\" data-count=\"%llu\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>%s</title>", what,
		h ? (unsigned long long)h->count : 0ULL, HIST_W, HIST_H, HIST_W, HIST_H, what);
	fprintf(f, "<text x=\"10\" y=\"12\">%s ms</text>", what);
	if (!h || !h->count) {
		fputs("<text x=\"10\" y=\"60\">no samples</text></svg>", f);
		return;
	}
	lo_dec = floor(log10(fmax(h->min_ns / 1e6, 1e-3)));
	hi_dec = ceil(log10(fmax(h->max_ns / 1e6, 1e-3) * 1.0001));
	if (hi_dec <= lo_dec)
		hi_dec = lo_dec + 1;
	nbins = (int)((hi_dec - lo_dec) * HIST_BINS_PER_DECADE);
	if (nbins > 64)
		nbins = 64;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		double mid;
		int bin;

		if (!h->buckets[i])
			continue;
		mid = (hist_bucket_lo(i) + hist_bucket_hi(i)) / 2.0 / 1e6;
		bin = (int)floor((log10(fmax(mid, 1e-3)) - lo_dec) * HIST_BINS_PER_DECADE);
		bin = bin < 0 ? 0 : bin >= nbins ? nbins - 1 : bin;
		bins[bin] += h->buckets[i];
	}
	for (int b = 0; b < nbins; b++)
		peak = bins[b] > peak ? bins[b] : peak;
	for (int b = 0; b < nbins; b++) {
		double bh = bins[b] * plot_h / (peak ? peak : 1);

		if (bins[b])
			fprintf(f, "<rect class=\"hbar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"data-n=\"%llu\"><title>%.3g to %.3g ms: %llu</title></rect>",
				10 + b * plot_w / nbins, 20 + plot_h - bh, plot_w / nbins - 1, bh,
				(unsigned long long)bins[b], pow(10, lo_dec + (double)b / HIST_BINS_PER_DECADE),
				pow(10, lo_dec + (double)(b + 1) / HIST_BINS_PER_DECADE),
				(unsigned long long)bins[b]);
	}
	for (int q = 0; q < 2; q++) {
		double v = ms_of(h, q ? 0.99 : 0.5);
		double x = 10 + (log10(fmax(v, 1e-3)) - lo_dec) / (hi_dec - lo_dec) * plot_w;

		fprintf(f, "<line class=\"q\" x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%.1f\"/>", x,
			x, 20 + plot_h);
		fprintf(f, "<text x=\"10\" y=\"%d\">%s %.3f ms</text>", HIST_H - (q ? 4 : 18),
			q ? "p99" : "p50", v);
	}
	fprintf(f, "<text x=\"10\" y=\"%.0f\">%g</text><text x=\"%d\" y=\"%.0f\" "
		"text-anchor=\"end\">%g</text></svg>", 34 + plot_h, pow(10, lo_dec), HIST_W - 10,
		34 + plot_h, pow(10, hi_dec));
}

static void html_histograms(FILE *f, const struct report_view *v)
{
	const struct aggregator *a = v->agg;
	size_t shown = 0, left = 0;

	fputs("<h2 id=\"latency\">Latency per backend</h2>\n<p class=\"note\">Connect (SYN to "
	      "established), time to first byte (attempt start to the response head read), total "
	      "(the client's request to its complete response, for requests whose last attempt "
	      "went to this backend); log scale, ms.</p>\n", f);
	for (size_t i = 0; i < a->n; i++) {
		const struct backend *b = a->backends[i];

		if (!backend_seen(b))
			continue;
		if (shown == HIST_BACKENDS) {
			left++;
			continue;
		}
		fputs("<div class=\"backend-hist\" data-backend=\"", f);
		html_escape(f, b->label);
		fputs("\"><h3>", f);
		backend_label(f, b);
		fputs("</h3>", f);
		hist_svg(f, "connect", &b->total.connect);
		hist_svg(f, "ttfb", &b->total.ttfb);
		hist_svg(f, "total", incident_backend_total(v->m, b->label));
		fputs("</div>\n", f);
		shown++;
	}
	if (left)
		fprintf(f, "<p class=\"note\">%zu more backends not drawn.</p>\n", left);
}

static int cmp_groups(const void *a, const void *b)
{
	const struct failed_group *x = *(const struct failed_group *const *)a;
	const struct failed_group *y = *(const struct failed_group *const *)b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void failed_row(FILE *f, const struct failed_sample *s)
{
	char when[16];

	utc(when, sizeof(when), s->ts, false);
	fprintf(f, "<tr class=\"failed-row\"><td data-v=\"%.6f\">%s.%03d</td>", s->ts, when,
		(int)((s->ts - floor(s->ts)) * 1000));
	html_td_text(f, s->route);
	fputs("<td>", f);
	html_escape(f, s->method);
	fputs(" ", f);
	html_escape(f, s->host);
	html_escape(f, s->path);
	fputs("</td>", f);
	html_td_text(f, s->client);
	if (s->status)
		html_td_u64(f, s->status);
	else
		fputs(s->client_closed ? "<td data-v=\"0\">client left</td>" : "<td data-v=\"0\">none</td>", f);
	if (s->upstream_status)
		html_td_u64(f, s->upstream_status);
	else
		fputs("<td data-v=\"0\">-</td>", f);
	html_td_text(f, s->backend[0] ? s->backend : "-");
	if (s->total_ms >= 0)
		fprintf(f, "<td data-v=\"%.3f\">%.3f</td>", s->total_ms, s->total_ms);
	else
		fputs("<td data-v=\"-1\">-</td>", f);
	html_td_u64(f, s->attempts);
	html_td_text(f, s->term);
	html_td_text(f, s->join);
	fputs("<td class=\"evidence\">", f);
	html_escape(f, s->evidence);
	fputs("</td></tr>\n", f);
}

static void failed_group_html(FILE *f, const struct failed_group *g)
{
	fprintf(f, "<section class=\"verdict\" data-cause=\"%s\" data-reason=\"", cause_name(g->cause));
	html_escape(f, g->reason ? g->reason : "none");
	fprintf(f, "\" data-count=\"%llu\" data-shown=\"%zu\">\n<h3><span class=\"key\" "
		"style=\"background:%s\"></span>%s / ", (unsigned long long)g->count, g->nkept,
		cause_colour[g->cause], cause_name(g->cause));
	html_escape(f, g->reason ? g->reason : "none");
	fprintf(f, ": %llu request%s</h3>\n", (unsigned long long)g->count, g->count == 1 ? "" : "s");
	fputs("<table class=\"sortable\"><thead><tr><th>ended (UTC)</th><th>route</th>"
	      "<th>request</th><th>client</th><th>status</th><th>upstream status</th><th>backend</th>"
	      "<th>total ms</th><th>attempts</th><th>term</th><th>join</th><th>evidence</th></tr>"
	      "</thead>\n<tbody>\n", f);
	for (size_t i = 0; i < g->nkept; i++)
		failed_row(f, g->kept[i]);
	fputs("</tbody></table>\n", f);
	if (g->count > g->nkept)
		fprintf(f, "<p class=\"note left-out\" data-n=\"%llu\">%llu more not shown (the first "
			"%d of each verdict are listed).</p>\n",
			(unsigned long long)(g->count - g->nkept),
			(unsigned long long)(g->count - g->nkept), REPORT_FAILED_KEPT);
	fputs("</section>\n", f);
}

static void html_failed(FILE *f, const struct report_view *v)
{
	const struct incident *m = v->m;
	const struct failed_group *order[REPORT_GROUPS_MAX];

	fputs("<h2 id=\"failed-requests\">Failed requests by verdict</h2>\n", f);
	if (!m->failed) {
		fputs("<p>No request failed.</p>\n", f);
		return;
	}
	for (size_t g = 0; g < m->ngroups; g++)
		order[g] = &m->groups[g];
	qsort(order, m->ngroups, sizeof(order[0]), cmp_groups);
	for (size_t g = 0; g < m->ngroups; g++)
		failed_group_html(f, order[g]);
	if (m->groups_overflowed || m->oom)
		fprintf(f, "<p class=\"note left-out\" data-n=\"%llu\">%llu failed requests of further "
			"verdicts and %llu that could not be kept (out of memory) are not listed.</p>\n",
			(unsigned long long)(m->groups_overflowed + m->oom),
			(unsigned long long)m->groups_overflowed, (unsigned long long)m->oom);
}

int report_html_write(FILE *f, const struct report_view *v)
{
	html_head(f);
	html_overview(f, v);
	html_timeline(f, v);
	html_ladder(f, v);
	html_routes(f, v);
	html_backends(f, v);
	html_histograms(f, v);
	html_failed(f, v);
	html_retry_findings(f, v->routes, v->retries);
	fprintf(f, "<p class=\"note\">gatescope %s</p>\n<script>", GS_VERSION);
	fputs(script, f);
	fputs("</script>\n</body>\n</html>\n", f);
	return ferror(f) ? -1 : 0;
}

FILE *report_html_open(const char *path)
{
	int fd = open_new_output(path), err = errno;
	FILE *f;

	if (fd < 0) {
		if (err == EEXIST)
			log_err("report file %s exists: reports are never overwritten; remove it or choose another name", path);
		else if (err == ELOOP)
			log_err("report file %s is a symbolic link: not followed", path);
		else
			log_err("cannot write report file %s: %s", path, strerror(err));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		log_err("cannot write report file %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

void report_html_abandon(FILE *f, const char *path)
{
	struct stat st;

	if (!f)
		return;
	if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode))
		unlink(path);
	fclose(f);
}

int report_html_finish(FILE *f, const char *path, const struct report_view *v)
{
	int rc = report_html_write(f, v), err = errno;

	if (fclose(f) && !rc) {
		rc = -1;
		err = errno;
	}
	if (rc)
		log_err("writing report file %s: %s; the report is incomplete", path,
			strerror(err ? err : EIO));
	return rc;
}
