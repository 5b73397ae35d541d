// SPDX-License-Identifier: MIT
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "retries_out.h"
#include "tui.h"
#include "util.h"

#define TUI_MIN_COLS	80
#define TUI_MIN_ROWS	16
#define TUI_FAILS	256	/* failing requests kept for the "e" view */
#define TUI_LOG_LINES	32	/* stderr lines kept while the screen is ours */
#define TUI_LOG_LEN	256
#define TUI_LOG_SHOW_S	8	/* a new stderr line replaces the key help this long */
#define TUI_FILTER_LEN	64
#define TUI_LINKS	8	/* backends remembered per route (for the filter) */
#define TUI_LINK_SLOTS	512	/* route -> backends table (ROUTES_MAX + "other" fit twice) */
#define TUI_TIMEOUT_ROWS 4	/* inferred timeouts and warnings shown at most */
#define TUI_RETRY_LINES 32	/* throttling, retry and masked-failure lines kept */
#define TUI_RETRY_ROWS 6	/* ... of which shown at least, when there are any */
#define TUI_MATCH_MAX	64	/* backends matching the filter, for route links */
#define KEY_ESC		27

enum sort_key { SORT_504, SORT_REQUESTS, SORT_P99, SORT_5XX, SORT__MAX };
enum screen_id { SCREEN_MAIN, SCREEN_FAILS };
enum color { C_TITLE = 1, C_BAD, C_WARN, C_DIM, C_HEAD };

static const char *const sort_names[SORT__MAX] = { "504/s", "requests", "p99", "5xx" };

/* One route as shown: numbers computed when the report arrives. */
struct route_row {
	char name[ROUTE_LEN];
	uint64_t requests, cls[6], s504, cause[CAUSE__MAX];
	double p50_ms, p99_ms;
};

struct backend_row {
	char label[GS_ADDR_STRLEN];
	char name[AGG_NAME_LEN];
	uint64_t connects, refused, ctimeout, unreach;
	uint64_t rst_in, rst_out, retrans, tclose_gw, tclose_be;
	double conn_p99_ms, ttfb_p99_ms;	/* < 0: no sample */
};

/* A copy of one report's view (this interval, or since start): the screen
 * draws from it, so pause, sort and filter work on stable numbers. */
struct view {
	struct route_row *routes;	/* ROUTES_MAX + 1 ("other") */
	size_t nroutes;
	struct backend_row *backends;
	size_t nbackends, cap;
	double span_s;
};

struct fail_entry {
	double ts;
	uint16_t status;
	unsigned attempts;
	enum cause cause;
	char route[ROUTE_LEN];
	char client[GS_ADDR_STRLEN];
	char backend[GS_ADDR_STRLEN];
	char reason[32];
	char term[3];
	double total_ms;
	char evidence[EVIDENCE_LEN];
};

struct route_link {
	uint64_t hash;			/* 0: free */
	unsigned n;
	char backend[TUI_LINKS][GS_ADDR_STRLEN];
};

struct tui {
	SCREEN *scr;
	bool active;
	double interval_s;
	char capture[32];
	double start_ts, report_ts;
	bool have_report;
	struct view win, total;
	struct run_stats stats;
	struct inferred_timeout inf[TIMEOUT_KEYS_MAX];
	size_t ninf;
	char warn[TIMEOUT_KEYS_MAX][LADDER_WARNING_LEN];
	size_t nwarn;
	struct retry_line retry[TUI_RETRY_LINES];	/* since start */
	size_t nretry;

	enum sort_key sort;
	enum screen_id screen;
	bool show_interval, paused, editing;
	char filter[TUI_FILTER_LEN], filter_saved[TUI_FILTER_LEN];
	size_t route_scroll, fail_scroll;
	size_t ridx[ROUTES_MAX + 1];

	struct fail_entry fails[TUI_FAILS];
	uint64_t nfails, fails_frozen;	/* seen; seen when paused */
	struct route_link links[TUI_LINK_SLOTS];

	int saved_stderr, log_rd;	/* stderr while the screen is ours */
	char log[TUI_LOG_LINES][TUI_LOG_LEN];
	uint64_t nlog;
	char partial[TUI_LOG_LEN];
	size_t partial_len;
	double last_log_ts;
};

static struct tui *open_tui;	/* for the exit safety net */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool contains(const char *hay, const char *needle)
{
	return !*needle || strcasestr(hay, needle);
}

/* ---- stderr capture: log lines must not scribble over the screen ---- */

static void log_push(struct tui *t, const char *line, size_t len)
{
	char *dst = t->log[t->nlog++ % TUI_LOG_LINES];

	if (len >= TUI_LOG_LEN)
		len = TUI_LOG_LEN - 1;
	memcpy(dst, line, len);
	dst[len] = '\0';
	t->last_log_ts = now_s();
}

static void drain_log(struct tui *t)
{
	char buf[1024];
	ssize_t n;

	if (t->log_rd < 0)
		return;
	while ((n = read(t->log_rd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || t->partial_len == TUI_LOG_LEN - 1) {
				log_push(t, t->partial, t->partial_len);
				t->partial_len = 0;
				if (buf[i] == '\n')
					continue;
			}
			t->partial[t->partial_len++] = buf[i];
		}
	}
}

/* stderr goes to a non-blocking pipe we drain: a full pipe drops lines
 * rather than stall the event loop. */
static void capture_stderr(struct tui *t)
{
	int p[2];

	t->saved_stderr = t->log_rd = -1;
	if (!isatty(STDERR_FILENO) || pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return;
	fflush(stderr);
	t->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (t->saved_stderr < 0 || dup2(p[1], STDERR_FILENO) < 0) {
		if (t->saved_stderr >= 0)
			close(t->saved_stderr);
		t->saved_stderr = -1;
		close(p[0]);
		close(p[1]);
		return;
	}
	close(p[1]);
	t->log_rd = p[0];
}

/* Put stderr back and print what was captured, so no message is lost. */
static void release_stderr(struct tui *t)
{
	uint64_t first;

	if (t->saved_stderr < 0)
		return;
	drain_log(t);
	if (t->partial_len)
		log_push(t, t->partial, t->partial_len);
	fflush(stderr);
	dup2(t->saved_stderr, STDERR_FILENO);
	close(t->saved_stderr);
	close(t->log_rd);
	t->saved_stderr = t->log_rd = -1;
	first = t->nlog > TUI_LOG_LINES ? t->nlog - TUI_LOG_LINES : 0;
	if (first)
		fprintf(stderr, "gatescope: (%llu earlier messages not kept)\n",
			(unsigned long long)first);
	for (uint64_t i = first; i < t->nlog; i++)
		fprintf(stderr, "%s\n", t->log[i % TUI_LOG_LINES]);
}

/* ---- snapshots ---- */

static double q_ms(const struct hist *h, double q)
{
	return h->count ? hist_quantile(h, q) / 1e6 : -1;
}

static void add_route_row(struct view *v, const char *name, const struct route_stats *s)
{
	struct route_row *row;

	if (!s->requests || v->nroutes > ROUTES_MAX)
		return;
	row = &v->routes[v->nroutes++];
	snprintf(row->name, sizeof(row->name), "%s", name);
	row->requests = s->requests;
	memcpy(row->cls, s->status_class, sizeof(row->cls));
	row->s504 = s->s504;
	memcpy(row->cause, s->cause_504, sizeof(row->cause));
	row->p50_ms = q_ms(&s->latency, 0.50);
	row->p99_ms = q_ms(&s->latency, 0.99);
}

static void snap_routes(struct view *v, const struct routes *rt, bool total)
{
	v->nroutes = 0;
	for (size_t i = 0; i < rt->n; i++)
		add_route_row(v, rt->r[i]->name, total ? &rt->r[i]->total : &rt->r[i]->win);
	if (rt->other)
		add_route_row(v, "other", total ? &rt->other->total : &rt->other->win);
}

static uint64_t backend_trouble(const struct backend_row *b)
{
	return b->refused + b->ctimeout + b->unreach + b->rst_in + b->rst_out + b->tclose_gw +
	       b->tclose_be;
}

static void add_backend_row(struct view *v, const struct backend *b, bool total)
{
	const struct backend_stats *s = total ? &b->total : &b->win;
	struct backend_row *row;

	if (!s->connects && !s->ttfb.count && !s->timeout_closes_gateway &&
	    !s->timeout_closes_backend)
		return;
	if (v->nbackends == v->cap)
		return;
	row = &v->backends[v->nbackends++];
	snprintf(row->label, sizeof(row->label), "%s", b->label);
	snprintf(row->name, sizeof(row->name), "%s", b->name);
	row->connects = s->connects;
	row->refused = s->refused;
	row->ctimeout = s->timeout;
	row->unreach = s->unreachable;
	row->rst_in = s->resets_received;
	row->rst_out = s->resets_sent;
	row->retrans = s->retransmits;
	row->tclose_gw = s->timeout_closes_gateway;
	row->tclose_be = s->timeout_closes_backend;
	row->conn_p99_ms = q_ms(&s->connect, 0.99);
	row->ttfb_p99_ms = q_ms(&s->ttfb, 0.99);
}

/* Backends with trouble first, then the busiest. */
static int by_trouble(const void *pa, const void *pb)
{
	const struct backend_row *a = pa, *b = pb;
	uint64_t x = backend_trouble(a), y = backend_trouble(b);

	if (x != y)
		return x < y ? 1 : -1;
	if (a->connects != b->connects)
		return a->connects < b->connects ? 1 : -1;
	return strcmp(a->label, b->label);
}

static void snap_backends(struct view *v, const struct aggregator *a, bool total)
{
	size_t need = a->n + 1;

	if (need > v->cap) {
		struct backend_row *nb = realloc(v->backends, need * sizeof(*nb));

		if (nb) {
			v->backends = nb;
			v->cap = need;
		}
	}
	v->nbackends = 0;
	for (size_t i = 0; i < a->n; i++)
		add_backend_row(v, a->backends[i], total);
	if (a->other)
		add_backend_row(v, a->other, total);
	qsort(v->backends, v->nbackends, sizeof(*v->backends), by_trouble);
}

static void snapshot(struct tui *t, const struct report *r)
{
	snap_routes(&t->win, r->routes, false);
	snap_routes(&t->total, r->routes, true);
	snap_backends(&t->win, r->agg, false);
	snap_backends(&t->total, r->agg, true);
	t->win.span_s = r->interval_s;
	t->total.span_s = r->ts - t->start_ts > r->interval_s ? r->ts - t->start_ts : r->interval_s;
	t->stats = *r->stats;
	t->ninf = timeouts_infer(r->timeouts, t->inf, TIMEOUT_KEYS_MAX);
	t->nwarn = timeouts_ladder(r->timeouts, t->inf, t->ninf, t->warn, TIMEOUT_KEYS_MAX);
	t->nretry = retries_lines(r->routes, r->retries, true, t->retry, TUI_RETRY_LINES);
	t->report_ts = r->ts;
	t->have_report = true;
}

/* ---- route -> backend links, so a backend filter also finds its routes ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h | 1;	/* never 0: 0 marks a free slot */
}

/* The slot of this route; with create, a free one if it has none (NULL
 * when the table is full: links are a convenience, bounded). */
static struct route_link *link_slot(struct tui *t, const char *route, bool create)
{
	uint64_t h = hash_str(route);

	for (size_t i = 0; i < TUI_LINK_SLOTS; i++) {
		struct route_link *l = &t->links[(h + i) % TUI_LINK_SLOTS];

		if (l->hash == h)
			return l;
		if (!l->hash) {
			if (!create)
				return NULL;
			l->hash = h;
			return l;
		}
	}
	return NULL;
}

static void link_route(struct tui *t, const char *route, const char *backend)
{
	struct route_link *l = link_slot(t, route, true);

	if (!l || !*backend)
		return;
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->backend[i], backend))
			return;
	if (l->n < TUI_LINKS)
		snprintf(l->backend[l->n++], GS_ADDR_STRLEN, "%s", backend);
}

/* ---- filter ---- */

struct matcher {
	const char *f;
	const char *backends[TUI_MATCH_MAX];	/* labels whose label or name matches */
	size_t n;
};

static void matcher_init(struct matcher *m, const struct tui *t)
{
	const struct view *v = &t->total;

	m->f = t->filter;
	m->n = 0;
	if (!*m->f)
		return;
	for (size_t i = 0; i < v->nbackends && m->n < TUI_MATCH_MAX; i++)
		if (contains(v->backends[i].label, m->f) || contains(v->backends[i].name, m->f))
			m->backends[m->n++] = v->backends[i].label;
}

static bool backend_matches(const struct matcher *m, const char *label)
{
	if (contains(label, m->f))
		return true;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->backends[i], label))
			return true;
	return false;
}

static bool route_matches(struct tui *t, const struct matcher *m, const char *route)
{
	const struct route_link *l;

	if (contains(route, m->f))
		return true;
	l = link_slot(t, route, false);
	for (unsigned i = 0; l && i < l->n; i++)
		if (backend_matches(m, l->backend[i]))
			return true;
	return false;
}

static bool backend_row_matches(const struct matcher *m, const struct backend_row *b)
{
	return contains(b->label, m->f) || contains(b->name, m->f);
}

static bool fail_matches(const struct matcher *m, const struct fail_entry *e)
{
	return contains(e->route, m->f) || backend_matches(m, e->backend) ||
	       contains(e->reason, m->f) || contains(e->client, m->f);
}

/* ---- drawing helpers ---- */

static int attr_of(enum color c)
{
	return has_colors() ? COLOR_PAIR(c) : c == C_TITLE || c == C_HEAD ? A_REVERSE : 0;
}

/* One line at (y, x), clipped to the screen; never the last cell of the
 * last line (writing there would scroll on some terminals). */
static void put(int y, int x, int attr, const char *fmt, ...)
{
	char buf[1024];
	int room = COLS - x - (y == LINES - 1);
	va_list ap;

	if (y < 0 || y >= LINES || room <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	term_sanitize(buf);	/* traced names and paths are untrusted bytes */
	attron(attr);
	mvaddnstr(y, x, buf, room);
	attroff(attr);
}

/* A full-width bar (title, headers). */
static void bar(int y, int attr, const char *text)
{
	put(y, 0, attr, "%-*.*s", COLS, COLS, text);
}

static void fmt_u64(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void fmt_ms(char *buf, size_t len, double ms)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3f", ms);
}

static void fmt_clock(char *buf, size_t len, double ts, bool millis)
{
	time_t s = (time_t)ts;
	struct tm tm;
	size_t n;

	localtime_r(&s, &tm);
	n = strftime(buf, len, "%H:%M:%S", &tm);
	if (millis && n)
		snprintf(buf + n, len - n, ".%03d", (int)((ts - s) * 1000));
}

/* ---- tables: columns drop out, least useful first, as the window narrows ---- */

struct column {
	const char *title;
	int width;		/* including the space before it */
	int drop;		/* higher drops first */
};

enum { RC_REQS, RC_RATE, RC_2XX, RC_4XX, RC_5XX, RC_504, RC_504RATE, RC_504PCT, RC_GW, RC_NET,
       RC_BE, RC_CLI, RC_P50, RC_P99, RC__MAX };

static const struct column route_cols[RC__MAX] = {
	[RC_REQS] = { "REQS", 9, 0 },	 [RC_RATE] = { "REQ/s", 9, 3 },
	[RC_2XX] = { "2XX", 7, 4 },	 [RC_4XX] = { "4XX", 7, 4 },
	[RC_5XX] = { "5XX", 7, 0 },	 [RC_504] = { "504", 7, 0 },
	[RC_504RATE] = { "504/s", 8, 2 }, [RC_504PCT] = { "504%", 7, 1 },
	[RC_GW] = { "GW", 6, 0 },	 [RC_NET] = { "NET", 6, 0 },
	[RC_BE] = { "BE", 6, 0 },	 [RC_CLI] = { "CLI", 6, 2 },
	[RC_P50] = { "P50ms", 11, 3 },	 [RC_P99] = { "P99ms", 11, 0 },
};

enum { BC_CONNS, BC_REFUSED, BC_CTMO, BC_UNREACH, BC_CONNP99, BC_TTFBP99, BC_RSTIN, BC_RSTOUT,
       BC_RETRANS, BC_GWTMO, BC_BETMO, BC__MAX };

static const struct column backend_cols[BC__MAX] = {
	[BC_CONNS] = { "CONNS", 8, 2 },	      [BC_REFUSED] = { "REFUSED", 8, 0 },
	[BC_CTMO] = { "CONN_TMO", 9, 0 },     [BC_UNREACH] = { "UNREACH", 8, 2 },
	[BC_CONNP99] = { "CONN_P99ms", 11, 0 }, [BC_TTFBP99] = { "TTFB_P99ms", 11, 0 },
	[BC_RSTIN] = { "RST_IN", 7, 0 },      [BC_RSTOUT] = { "RST_OUT", 8, 1 },
	[BC_RETRANS] = { "RETRANS", 8, 0 },   [BC_GWTMO] = { "GW_TMO", 7, 1 },
	[BC_BETMO] = { "BE_TMO", 7, 2 },
};

#define NAME_MIN_WIDTH 24

/* The drop level that fits: columns with drop < level are shown. */
static int fit_level(const struct column *cols, int n, int *name_w)
{
	for (int level = 5; level > 0; level--) {
		int w = 0;

		for (int i = 0; i < n; i++)
			if (cols[i].drop < level)
				w += cols[i].width;
		if (COLS - w >= NAME_MIN_WIDTH || level == 1) {
			*name_w = COLS - w > 8 ? COLS - w : 8;
			return level;
		}
	}
	return 1;
}

typedef void (*cell_fn)(const void *row, int col, double span_s, char *buf, size_t len);

/* "name  col col ..." for a header (row == NULL) or a row. */
static void table_line(char *out, size_t len, const char *name, const struct column *cols, int n,
		       int level, int name_w, cell_fn cell, const void *row, double span_s)
{
	size_t o = snprintf(out, len, "%-*.*s", name_w, name_w, name);

	for (int i = 0; i < n && o < len; i++) {
		char v[32];

		if (cols[i].drop >= level)
			continue;
		if (row)
			cell(row, i, span_s, v, sizeof(v));
		o += snprintf(out + o, len - o, "%*s", cols[i].width, row ? v : cols[i].title);
	}
}

static double rate(uint64_t n, double span_s)
{
	return span_s > 0 ? n / span_s : 0;
}

static void route_cell(const void *p, int col, double span_s, char *buf, size_t len)
{
	const struct route_row *r = p;

	switch (col) {
	case RC_REQS: fmt_u64(buf, len, r->requests); break;
	case RC_RATE: snprintf(buf, len, "%.1f", rate(r->requests, span_s)); break;
	case RC_2XX: fmt_u64(buf, len, r->cls[2]); break;
	case RC_4XX: fmt_u64(buf, len, r->cls[4]); break;
	case RC_5XX: fmt_u64(buf, len, r->cls[5]); break;
	case RC_504: fmt_u64(buf, len, r->s504); break;
	case RC_504RATE: snprintf(buf, len, "%.2f", rate(r->s504, span_s)); break;
	case RC_504PCT: snprintf(buf, len, "%.1f", 100.0 * r->s504 / r->requests); break;
	case RC_GW: fmt_u64(buf, len, r->cause[CAUSE_GATEWAY]); break;
	case RC_NET: fmt_u64(buf, len, r->cause[CAUSE_NETWORK]); break;
	case RC_BE: fmt_u64(buf, len, r->cause[CAUSE_BACKEND]); break;
	case RC_CLI: fmt_u64(buf, len, r->cause[CAUSE_CLIENT]); break;
	case RC_P50: fmt_ms(buf, len, r->p50_ms); break;
	case RC_P99: fmt_ms(buf, len, r->p99_ms); break;
	default: buf[0] = '\0';
	}
}

static void backend_cell(const void *p, int col, double span_s, char *buf, size_t len)
{
	const struct backend_row *b = p;

	(void)span_s;
	switch (col) {
	case BC_CONNS: fmt_u64(buf, len, b->connects); break;
	case BC_REFUSED: fmt_u64(buf, len, b->refused); break;
	case BC_CTMO: fmt_u64(buf, len, b->ctimeout); break;
	case BC_UNREACH: fmt_u64(buf, len, b->unreach); break;
	case BC_CONNP99: fmt_ms(buf, len, b->conn_p99_ms); break;
	case BC_TTFBP99: fmt_ms(buf, len, b->ttfb_p99_ms); break;
	case BC_RSTIN: fmt_u64(buf, len, b->rst_in); break;
	case BC_RSTOUT: fmt_u64(buf, len, b->rst_out); break;
	case BC_RETRANS: fmt_u64(buf, len, b->retrans); break;
	case BC_GWTMO: fmt_u64(buf, len, b->tclose_gw); break;
	case BC_BETMO: fmt_u64(buf, len, b->tclose_be); break;
	default: buf[0] = '\0';
	}
}

/* ---- the routes panel ---- */

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;	/* descending */
}

static int cmp_route(const void *pa, const void *pb, void *ctx)
{
	const struct tui *t = ctx;
	const struct view *v = t->show_interval ? &t->win : &t->total;
	const struct route_row *a = &v->routes[*(const size_t *)pa];
	const struct route_row *b = &v->routes[*(const size_t *)pb];
	int c = 0;

	switch (t->sort) {
	case SORT_504:
		/* Same span for every route: the count orders by rate; then share. */
		c = cmp_u64(a->s504, b->s504);
		if (!c && a->s504)
			c = cmp_u64(a->s504 * b->requests, b->s504 * a->requests);
		break;
	case SORT_P99:
		c = a->p99_ms < b->p99_ms ? 1 : a->p99_ms > b->p99_ms ? -1 : 0;
		break;
	case SORT_5XX:
		c = cmp_u64(a->cls[5], b->cls[5]);
		break;
	default:
		break;
	}
	if (!c)
		c = cmp_u64(a->requests, b->requests);
	return c ? c : strcmp(a->name, b->name);
}

static size_t route_order(struct tui *t, const struct matcher *m)
{
	const struct view *v = t->show_interval ? &t->win : &t->total;
	size_t n = 0;

	for (size_t i = 0; i < v->nroutes; i++)
		if (route_matches(t, m, v->routes[i].name))
			t->ridx[n++] = i;
	qsort_r(t->ridx, n, sizeof(t->ridx[0]), cmp_route, t);
	return n;
}

static const char *view_name(const struct tui *t, char *buf, size_t len)
{
	if (t->show_interval)
		snprintf(buf, len, "last %.1f s", t->win.span_s);
	else
		snprintf(buf, len, "since start, %.0f s", t->total.span_s);
	return buf;
}

static void draw_routes(struct tui *t, const struct matcher *m, int y, int h)
{
	const struct view *v = t->show_interval ? &t->win : &t->total;
	size_t n = route_order(t, m), rows = h > 2 ? h - 2 : 0;
	int name_w, level = fit_level(route_cols, RC__MAX, &name_w);
	char line[1024], span[48];

	if (t->route_scroll + rows > n)
		t->route_scroll = n > rows ? n - rows : 0;
	snprintf(line, sizeof(line), " ROUTES  %zu%s%s shown %zu-%zu  sort: %s  (%s)", n,
		 *t->filter ? " matching" : "", n == 1 ? " route," : " routes,",
		 n ? t->route_scroll + 1 : 0, t->route_scroll + (n < rows ? n : rows),
		 sort_names[t->sort], view_name(t, span, sizeof(span)));
	put(y, 0, A_BOLD, "%s", line);
	table_line(line, sizeof(line), "ROUTE", route_cols, RC__MAX, level, name_w, NULL, NULL, 0);
	bar(y + 1, attr_of(C_HEAD), line);
	if (!n)
		put(y + 2, 0, attr_of(C_DIM), "%s",
		    *t->filter ? "(no route matches the filter)"
		    : !t->have_report ? "(waiting for the first report)"
		    : t->show_interval ? "(no HTTP requests in the last interval)" : "(no HTTP requests yet)");
	for (size_t i = 0; i < rows && t->route_scroll + i < n; i++) {
		const struct route_row *r = &v->routes[t->ridx[t->route_scroll + i]];
		int attr = r->s504 ? attr_of(C_BAD) : r->cls[5] ? attr_of(C_WARN) : 0;

		table_line(line, sizeof(line), r->name, route_cols, RC__MAX, level, name_w, route_cell,
			   r, v->span_s);
		put(y + 2 + i, 0, attr, "%s", line);
	}
}

/* ---- the backends panel ---- */

static void draw_backends(struct tui *t, const struct matcher *m, int y, int h)
{
	const struct view *v = t->show_interval ? &t->win : &t->total;
	int name_w, level = fit_level(backend_cols, BC__MAX, &name_w), shown = 0, rows = h - 2;
	size_t n = 0;
	char line[1024], label[GS_ADDR_STRLEN + AGG_NAME_LEN + 4];

	for (size_t i = 0; i < v->nbackends; i++)
		n += backend_row_matches(m, &v->backends[i]);
	put(y, 0, A_BOLD, " BACKENDS  %zu%s, trouble first", n, *t->filter ? " matching" : "");
	table_line(line, sizeof(line), "BACKEND", backend_cols, BC__MAX, level, name_w, NULL, NULL,
		   0);
	bar(y + 1, attr_of(C_HEAD), line);
	if (!n)
		put(y + 2, 0, attr_of(C_DIM), "%s",
		    *t->filter ? "(no backend matches the filter)" : "(no upstream connections yet)");
	for (size_t i = 0; i < v->nbackends && shown < rows; i++) {
		const struct backend_row *b = &v->backends[i];

		if (!backend_row_matches(m, b))
			continue;
		if (b->name[0])
			snprintf(label, sizeof(label), "%s (%s)", b->label, b->name);
		else
			snprintf(label, sizeof(label), "%s", b->label);
		table_line(line, sizeof(line), label, backend_cols, BC__MAX, level, name_w,
			   backend_cell, b, v->span_s);
		put(y + 2 + shown++, 0, backend_trouble(b) ? attr_of(C_BAD) : 0, "%s", line);
	}
}

/* ---- inferred timeouts and ladder warnings ---- */

/* Rows the timeouts panel wants (title included); at least `least` of them
 * are kept free whatever the routes and backends need. */
static int timeouts_height(const struct tui *t, bool least)
{
	size_t n = t->ninf + t->nwarn;

	if (least && n > TUI_TIMEOUT_ROWS)
		n = TUI_TIMEOUT_ROWS;
	return 1 + (int)(n ? n : 1);
}

static void draw_timeouts(const struct tui *t, int y, int h)
{
	int line = 1;

	if (h <= 0)
		return;
	put(y, 0, A_BOLD, " INFERRED TIMEOUTS  %zu, ladder warnings %zu", t->ninf, t->nwarn);
	if (!t->ninf && !t->nwarn)
		put(y + 1, 0, attr_of(C_DIM), "(no timeout-driven closes clustered yet)");
	/* Warnings first: they are what needs acting on. */
	for (size_t i = 0; i < t->nwarn && line < h; i++)
		put(y + line++, 0, attr_of(C_WARN), "LADDER WARNING: %s", t->warn[i]);
	for (size_t i = 0; i < t->ninf && line < h; i++)
		put(y + line++, 0, 0, "%s -> %s: %s timeout ~ %.3f s (n=%zu)",
		    closer_name(t->inf[i].key.closer), t->inf[i].key.peer, t->inf[i].key.kind,
		    t->inf[i].seconds, t->inf[i].n);
}

/* Rows the retries panel wants: none while there is nothing to show. */
static int retries_height(const struct tui *t, bool least)
{
	size_t n = t->nretry;

	if (least && n > TUI_RETRY_ROWS)
		n = TUI_RETRY_ROWS;
	return n ? 1 + (int)n : 0;
}

/* Masked failures and clients that do not back off first: they need acting on. */
static void draw_retries(const struct tui *t, int y, int h)
{
	int line = 1;

	if (h <= 0 || !t->nretry)
		return;
	put(y, 0, A_BOLD, " THROTTLING, CLIENT RETRIES, MASKED FAILURES (since start)");
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t->nretry && line < h; i++)
			if (t->retry[i].flag == !pass)
				put(y + line++, 0, t->retry[i].flag ? attr_of(C_WARN) : 0, "%s",
				    t->retry[i].text);
}

/* ---- title, status and key lines ---- */

/* What gatescope cost over the last interval, for the title: its own
 * CPU, and its programs' when the kernel times them. */
static void self_cost_text(const struct tui *t, char *out, size_t len)
{
	const struct self_cost *c = &t->stats.self;
	double span = t->win.span_s;

	*out = 0;
	if (!c->measured || span <= 0)
		return;
	if (c->bpf_timed)
		snprintf(out, len, "   cpu %.1f%%, bpf %.1f%%", cpu_share_pct(c->cpu_ns_interval, span),
			 cpu_share_pct(c->bpf_ns_interval, span));
	else
		snprintf(out, len, "   cpu %.1f%%", cpu_share_pct(c->cpu_ns_interval, span));
}

static void draw_title(const struct tui *t)
{
	char line[512], when[16], cost[64];

	fmt_clock(when, sizeof(when), t->have_report ? t->report_ts : now_s(), false);
	self_cost_text(t, cost, sizeof(cost));
	snprintf(line, sizeof(line), " gatescope %s%s   %s   every %.1f s   view: %s%s%s%s",
		 GS_VERSION, cost, when, t->interval_s,
		 t->show_interval ? "interval" : "since start",
		 *t->filter ? "   filter: " : "", t->filter, t->paused ? "   [PAUSED]" : "");
	bar(0, attr_of(C_TITLE) | A_BOLD, line);
}

static void draw_status(const struct tui *t)
{
	const struct run_stats *s = &t->stats;
	char join[48];
	int y = LINES - 2;
	bool bad = s->lost_events || s->evicted_conns || s->missed_runs;

	if (s->requests)
		snprintf(join, sizeof(join), "%.1f%%", 100.0 * s->requests_joined / s->requests);
	else
		snprintf(join, sizeof(join), "-");
	/* The four that matter first: they must fit in 80 columns. */
	put(y, 0, bad ? (int)(attr_of(C_BAD) | A_BOLD) : attr_of(C_DIM),
	    " lost events %llu  evicted conns %llu  join rate %s  capture: %s  requests %llu"
	    "  joined %llu  malformed %llu  unparsable %llu  no TCP facts %llu  missed runs %llu",
	    (unsigned long long)s->lost_events, (unsigned long long)s->evicted_conns, join,
	    t->capture, (unsigned long long)s->requests, (unsigned long long)s->requests_joined,
	    (unsigned long long)s->malformed_events, (unsigned long long)s->http_unparsable,
	    (unsigned long long)s->facts_timeouts, (unsigned long long)s->missed_runs);
}

static void draw_keys(const struct tui *t)
{
	int y = LINES - 1;

	if (t->editing) {
		put(y, 0, A_BOLD, " filter (route or backend; Enter keeps, Esc cancels): %s_", t->filter);
		return;
	}
	if (t->nlog && now_s() - t->last_log_ts < TUI_LOG_SHOW_S) {
		put(y, 0, attr_of(C_WARN), " %s", t->log[(t->nlog - 1) % TUI_LOG_LINES]);
		return;
	}
	if (t->screen == SCREEN_FAILS)
		put(y, 0, attr_of(C_DIM), " Esc/q back  j/k/PgUp/PgDn scroll  / filter  p pause");
	else
		put(y, 0, attr_of(C_DIM),
		    " q quit  s sort  / filter  p pause  e failing requests  t interval  j/k scroll");
}

/* Body rows split between routes and backends: each gets what it needs
 * (the rest stays free below), and when both overflow the backends get at
 * most 2/5 and the routes the rest. */
static void split_body(int rem, size_t nr, size_t nb, int *hr, int *hb)
{
	int need_r = 2 + (int)(nr ? nr : 1), need_b = 2 + (int)(nb ? nb : 1);

	if (need_r + need_b <= rem) {
		*hr = need_r;
		*hb = need_b;
		return;
	}
	*hb = rem * 2 / 5 > 3 ? rem * 2 / 5 : 3;
	if (*hb > need_b)
		*hb = need_b;
	if (rem - *hb > need_r)
		*hb = rem - need_r;
	*hr = rem - *hb;
}

static void draw_main(struct tui *t)
{
	const struct view *v = t->show_interval ? &t->win : &t->total;
	struct matcher m;
	/* Title, two gaps, status and key lines around the panels. */
	int rem = LINES - 5 - timeouts_height(t, true) - retries_height(t, true), hr, hb, y, th;
	size_t nb = 0;

	matcher_init(&m, t);
	for (size_t i = 0; i < v->nbackends; i++)
		nb += backend_row_matches(&m, &v->backends[i]);
	split_body(rem, route_order(t, &m), nb, &hr, &hb);
	draw_routes(t, &m, 1, hr);
	draw_backends(t, &m, 1 + hr + 1, hb);
	y = 1 + hr + 1 + hb + 1;
	th = timeouts_height(t, false);
	if (th > LINES - 2 - y - retries_height(t, true))
		th = LINES - 2 - y - retries_height(t, true);
	draw_timeouts(t, y, th);
	y += th > 0 ? th : 0;
	th = retries_height(t, false);
	draw_retries(t, y, th < LINES - 2 - y ? th : LINES - 2 - y);
}

/* ---- the failing requests ---- */

static uint64_t fails_limit(const struct tui *t)
{
	return t->paused ? t->fails_frozen : t->nfails;
}

static uint64_t fails_first(const struct tui *t)
{
	return t->nfails > TUI_FAILS ? t->nfails - TUI_FAILS : 0;
}

/* "ip:port (name)" when --backend-names names it. */
static void backend_label(const struct tui *t, const char *label, char *buf, size_t len)
{
	for (size_t i = 0; i < t->total.nbackends; i++) {
		const struct backend_row *b = &t->total.backends[i];

		if (b->name[0] && !strcmp(b->label, label)) {
			snprintf(buf, len, "%s (%s)", label, b->name);
			return;
		}
	}
	snprintf(buf, len, "%s", *label ? label : "(none)");
}

static void draw_fail(const struct tui *t, const struct fail_entry *e, int y)
{
	char when[24], backend[GS_ADDR_STRLEN + AGG_NAME_LEN + 4];

	fmt_clock(when, sizeof(when), e->ts, true);
	backend_label(t, e->backend, backend, sizeof(backend));
	put(y, 0, e->cause ? attr_of(C_BAD) : attr_of(C_WARN),
	    "%s  %3u  %-s  -> %s  attempts %u  term %s  %s/%s  %.3f ms  client %s", when,
	    e->status, e->route, backend, e->attempts, e->term,
	    e->cause ? cause_name(e->cause) : "-", e->reason[0] ? e->reason : "-", e->total_ms,
	    e->client);
	put(y + 1, 0, 0, "      %s", e->evidence[0] ? e->evidence : "(no evidence)");
}

static void draw_fails(struct tui *t)
{
	struct matcher m;
	uint64_t first = fails_first(t), limit = fails_limit(t), n = 0, skipped = 0;
	int y = 2, bottom = LINES - 2;

	matcher_init(&m, t);
	for (uint64_t i = limit; i > first; i--)
		n += fail_matches(&m, &t->fails[(i - 1) % TUI_FAILS]);
	if (t->fail_scroll >= n)
		t->fail_scroll = n ? n - 1 : 0;
	put(1, 0, A_BOLD, " LAST FAILING REQUESTS  %llu%s of %llu seen, newest first%s",
	    (unsigned long long)n, *t->filter ? " matching" : "", (unsigned long long)t->nfails,
	    t->fail_scroll ? " (scrolled)" : "");
	if (!n)
		put(y, 0, attr_of(C_DIM), "%s",
		    *t->filter ? "(no failing request matches the filter)" : "(no failing request yet)");
	for (uint64_t i = limit; i > first && y + 1 < bottom; i--) {
		const struct fail_entry *e = &t->fails[(i - 1) % TUI_FAILS];

		if (!fail_matches(&m, e) || skipped++ < t->fail_scroll)
			continue;
		draw_fail(t, e, y);
		y += 2;
	}
}

static void draw_too_small(void)
{
	put(0, 0, A_BOLD, "window too small");
	put(1, 0, 0, "%dx%d, need %dx%d", COLS, LINES, TUI_MIN_COLS, TUI_MIN_ROWS);
	put(2, 0, 0, "q quits");
}

static void draw(struct tui *t)
{
	drain_log(t);
	erase();
	if (COLS < TUI_MIN_COLS || LINES < TUI_MIN_ROWS) {
		draw_too_small();
	} else {
		draw_title(t);
		if (t->screen == SCREEN_FAILS)
			draw_fails(t);
		else
			draw_main(t);
		draw_status(t);
		draw_keys(t);
	}
	wnoutrefresh(stdscr);
	doupdate();
}

/* ---- keys ---- */

static void edit_filter(struct tui *t, int ch)
{
	size_t len = strlen(t->filter);

	switch (ch) {
	case KEY_ESC:
		memcpy(t->filter, t->filter_saved, sizeof(t->filter));
		t->editing = false;
		break;
	case '\n': case '\r': case KEY_ENTER:
		t->editing = false;
		break;
	case KEY_BACKSPACE: case 127: case 8:
		if (len)
			t->filter[len - 1] = '\0';
		break;
	default:
		if (ch >= ' ' && ch < 127 && len < sizeof(t->filter) - 1) {
			t->filter[len] = ch;
			t->filter[len + 1] = '\0';
		}
	}
	t->route_scroll = t->fail_scroll = 0;
}

static void scroll_by(size_t *pos, long delta)
{
	if (delta < 0 && (size_t)-delta > *pos)
		*pos = 0;
	else
		*pos += delta;	/* clamped when drawn */
}

static bool common_key(struct tui *t, int ch)
{
	size_t *pos = t->screen == SCREEN_FAILS ? &t->fail_scroll : &t->route_scroll;
	long page = LINES > 8 ? LINES / (t->screen == SCREEN_FAILS ? 3 : 2) : 1;

	switch (ch) {
	case 'p': case 'P':
		t->paused = !t->paused;
		t->fails_frozen = t->nfails;
		return true;
	case '/':
		memcpy(t->filter_saved, t->filter, sizeof(t->filter));
		t->editing = true;
		return true;
	case 12:	/* Ctrl-L: repaint everything */
		clearok(curscr, TRUE);
		return true;
	case KEY_UP: case 'k': scroll_by(pos, -1); return true;
	case KEY_DOWN: case 'j': scroll_by(pos, 1); return true;
	case KEY_PPAGE: scroll_by(pos, -page); return true;
	case KEY_NPAGE: case ' ': scroll_by(pos, page); return true;
	case KEY_HOME: case 'g': *pos = 0; return true;
	default: return false;
	}
}

static enum tui_action handle_key(struct tui *t, int ch)
{
	if (ch == KEY_RESIZE)
		return TUI_CONTINUE;	/* the redraw follows */
	if (t->editing) {
		edit_filter(t, ch);
		return TUI_CONTINUE;
	}
	if (common_key(t, ch))
		return TUI_CONTINUE;
	if (t->screen == SCREEN_FAILS) {
		if (ch == KEY_ESC || ch == 'q' || ch == 'Q' || ch == 'e')
			t->screen = SCREEN_MAIN;
		return TUI_CONTINUE;
	}
	switch (ch) {
	case 'q': case 'Q':
		return TUI_QUIT;
	case 's':
		t->sort = (t->sort + 1) % SORT__MAX;
		t->route_scroll = 0;
		break;
	case 'S':
		t->sort = (t->sort + SORT__MAX - 1) % SORT__MAX;
		t->route_scroll = 0;
		break;
	case 't':
		t->show_interval = !t->show_interval;
		break;
	case 'e': case '\n': case '\r': case KEY_ENTER:
		t->screen = SCREEN_FAILS;
		t->fail_scroll = 0;
		break;
	case KEY_ESC:
		t->filter[0] = '\0';
		break;
	default:
		break;
	}
	return TUI_CONTINUE;
}

/* A hung-up terminal reads as end of file forever: stop rather than spin. */
static bool terminal_gone(void)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	int avail = 0;

	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
		return true;
	return (p.revents & POLLIN) && !ioctl(STDIN_FILENO, FIONREAD, &avail) && !avail;
}

enum tui_action tui_input(struct tui *t)
{
	bool dirty = false;
	int ch;

	if (!t || !t->active)
		return TUI_CONTINUE;
	if (terminal_gone())
		return TUI_QUIT;
	while ((ch = getch()) != ERR) {
		dirty = true;
		if (handle_key(t, ch) == TUI_QUIT)
			return TUI_QUIT;
	}
	drain_log(t);
	if (dirty || (t->nlog && now_s() - t->last_log_ts < 1))
		draw(t);
	return TUI_CONTINUE;
}

/* ---- the pipeline's side ---- */

void tui_report(struct tui *t, const struct report *r)
{
	if (!t || !t->active || r->total)
		return;
	if (!t->paused)
		snapshot(t, r);
	draw(t);
}

void tui_request(struct tui *t, const struct request *r, const struct verdict *v,
		 const char *route, double ts)
{
	const struct attempt *last = r->nattempts ? &r->attempts[r->nattempts - 1] : NULL;
	struct fail_entry *e;

	if (!t)
		return;
	for (unsigned i = 0; i < r->nattempts; i++)
		link_route(t, route, r->attempts[i].backend);
	if (!request_failed(r) && r->status < 500)
		return;
	e = &t->fails[t->nfails++ % TUI_FAILS];
	memset(e, 0, sizeof(*e));
	e->ts = ts;
	e->status = r->status;
	e->attempts = r->nattempts;
	e->cause = v->cause;
	snprintf(e->route, sizeof(e->route), "%s", route);
	snprintf(e->client, sizeof(e->client), "%s", r->client);
	if (last)
		snprintf(e->backend, sizeof(e->backend), "%s", last->backend);
	snprintf(e->reason, sizeof(e->reason), "%s", v->reason ? v->reason : "");
	snprintf(e->term, sizeof(e->term), "%s", v->term);
	e->total_ms = r->ts_done > r->ts_start ? (r->ts_done - r->ts_start) / 1e6 : 0;
	snprintf(e->evidence, sizeof(e->evidence), "%s", v->evidence);
}

/* ---- open and close ---- */

static void setup_colors(void)
{
	if (!has_colors() || start_color() == ERR)
		return;
	use_default_colors();
	init_pair(C_TITLE, COLOR_BLACK, COLOR_CYAN);
	init_pair(C_BAD, COLOR_RED, -1);
	init_pair(C_WARN, COLOR_YELLOW, -1);
	init_pair(C_DIM, COLOR_BLUE, -1);
	init_pair(C_HEAD, COLOR_BLACK, COLOR_WHITE);
}

/* Any exit() while the screen is ours still leaves a sane terminal and
 * the captured messages on stderr. */
static void tui_atexit(void)
{
	if (!open_tui)
		return;
	if (open_tui->active) {
		endwin();
		open_tui->active = false;
	}
	release_stderr(open_tui);
}

static void free_tui(struct tui *t)
{
	free(t->win.routes);
	free(t->total.routes);
	free(t->win.backends);
	free(t->total.backends);
	free(t);
}

struct tui *tui_open(double interval_s, const char *capture_path)
{
	static bool atexit_set;
	struct tui *t;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		log_err("-o tui needs a terminal on stdin and stdout (use -o table or -o json)");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->win.routes = calloc(ROUTES_MAX + 1, sizeof(struct route_row))) ||
	    !(t->total.routes = calloc(ROUTES_MAX + 1, sizeof(struct route_row)))) {
		log_err("out of memory");
		if (t)
			free_tui(t);
		return NULL;
	}
	t->interval_s = interval_s;
	t->start_ts = now_s();
	snprintf(t->capture, sizeof(t->capture), "%s", capture_path ? capture_path : "-");
	setlocale(LC_CTYPE, "");	/* LC_CTYPE only: numbers keep their "." */
	t->scr = newterm(NULL, stdout, stdin);
	if (!t->scr) {
		log_err("-o tui: cannot drive terminal type '%s'", getenv("TERM") ? getenv("TERM") : "(unset)");
		free_tui(t);
		return NULL;
	}
	set_term(t->scr);
	t->active = true;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);	/* Esc alone: wait at most 25 ms for a sequence */
	curs_set(0);
	setup_colors();
	capture_stderr(t);
	open_tui = t;
	if (!atexit_set)
		atexit_set = !atexit(tui_atexit);
	draw(t);
	return t;
}

void tui_close(struct tui *t)
{
	if (!t)
		return;
	if (t->active) {
		endwin();
		t->active = false;
	}
	delscreen(t->scr);
	release_stderr(t);
	if (open_tui == t)
		open_tui = NULL;
	free_tui(t);
}
