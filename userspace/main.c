// SPDX-License-Identifier: MIT
/* gatescope: who caused the 504s.  Wires the stages together: options ->
 * loader -> ring buffer -> decoder -> pipeline -> output, and runs the
 * event loop (signalfd + timerfd + ring buffer in one epoll). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "discover.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "report_html.h"
#include "util.h"

#define TICK_NS		(100 * 1000 * 1000ull)	/* ring buffer drain period */
#define RESCAN_TICKS	10			/* look for new processes every 1 s */
/* /healthz turns unhealthy after this many missed reports, plus slack for
 * a report that is late on a loaded host. */
#define STALE_REPORTS		3
#define STALE_SLACK_S		2
/* Processes already in the kernel filter, so a rescan does not add them
 * again: the command line's bound, with room for those found later
 * (restarts, reloads); past it a process is only added again. */
#define KNOWN_PIDS_MAX		(CLI_MAX_PIDS * 4)

static char *default_comms[] = { "nginx", "haproxy", "envoy" };

struct live {
	struct options *opts;
	struct pipeline *pipe;
	struct loader loader;
	struct ring_buffer *rb;
	struct metrics *metrics;	/* --metrics server, or NULL */
	pid_t known[KNOWN_PIDS_MAX];	/* pids already in the kernel filter */
	size_t nknown;
	bool discover_ports;		/* no --listen: follow the traced processes' listeners */
	bool told_serve_only;		/* said once that serving-only processes are skipped */
	bool told_tls_unmapped;		/* said once that TLS plaintext without a socket is dropped */
	uint64_t forks_seen;		/* forks followed in the kernel at the last rescan */
	uint16_t ports[CLI_MAX_PORTS];	/* client-facing ports in the kernel filter */
	size_t nports;
	int sfd, tfd, efd;
	uint64_t unaccounted;		/* connection inserts not live nor deleted, last sample */
	uint64_t adopt_failed;		/* connections open at the start that did not fit */
	int bpf_stats_fd;		/* --bpf-stats: the kernel times programs while it is open */
	struct self_cost_sample {	/* the last sample of what gatescope costs */
		uint64_t cpu_ns, bpf_ns, bpf_runs, requests;
	} cost_start, cost_last;
};

/* Records lie one after another in the ring, each behind an 8-byte
 * header and padded to 8 bytes: while one is decoded, the next one's
 * first lines are fetched (written up to a drain period ago, they are
 * out of the cache by now).  A prefetch never faults, even past the
 * last record. */
static int ring_cb(void *ctx, void *data, size_t size)
{
	const char *next = (const char *)data + ((size + 7) & ~(size_t)7) + 8;

	__builtin_prefetch(next);
	__builtin_prefetch(next + 64);
	__builtin_prefetch(next + 128);
	__builtin_prefetch(next + 192);
	return decoder_feed(ctx, data, size);
}

/* Pick the processes to trace: --pid, else --comm, else the default
 * gateway names, else everything. */
static int choose_targets(struct options *o, bool *filter)
{
	if (o->npids) {
		for (size_t i = 0; i < o->npids; i++) {
			if (!process_exists(o->pids[i])) {
				fprintf(stderr, "gatescope: no process with pid %d\n", o->pids[i]);
				return 2;
			}
		}
		*filter = true;
		return 0;
	}
	if (o->ncomms) {
		*filter = true;	/* even if none runs yet: they are picked up when they start */
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_comms); i++)
		o->comms[o->ncomms++] = default_comms[i];
	*filter = discover_by_comm(o->comms, o->ncomms, o->pids, 1) > 0;
	if (!*filter) {
		o->ncomms = 0;
		log_info("no nginx, haproxy or envoy running: tracing every process");
	}
	return 0;
}

static bool known_pid(const struct live *lv, pid_t pid)
{
	for (size_t i = 0; i < lv->nknown; i++)
		if (lv->known[i] == pid)
			return true;
	return false;
}

/* Listening ports of the traced processes that are not in the filter yet. */
static void rescan_ports(struct live *lv)
{
	uint16_t found[CLI_MAX_PORTS];
	size_t n = discover_listen_ports(lv->known, lv->nknown, found, CLI_MAX_PORTS);

	for (size_t i = 0; i < n; i++) {
		bool known = false;

		for (size_t k = 0; k < lv->nports; k++)
			known |= lv->ports[k] == found[i];
		if (known || lv->nports == CLI_MAX_PORTS || loader_add_port(&lv->loader, found[i]))
			continue;
		lv->ports[lv->nports++] = found[i];
		log_info("client-facing port %u (listening in a traced process)", found[i]);
	}
}

/* A traced process that connected out before we attached (a gateway
 * reusing its upstream keep-alive connections) is a gateway now: the
 * kernel would otherwise learn it only at its next connect. */
static void note_gateway(struct live *lv, pid_t pid)
{
	if (discover_connected_out(pid) && !loader_mark_gateway(&lv->loader, pid))
		log_debug("pid %d has upstream connections: a gateway", pid);
}

/* The traced processes' connections that were open before the start
 * (a gateway's upstream keep-alive pool, its clients' keep-alive
 * connections) are followed from now on: without them, requests on
 * them would go unseen and a 504 sent after an attempt on one would
 * read as if the gateway never tried upstream. */
static void adopt_open_conns(struct live *lv)
{
	struct loader_adopted ad;

	if (loader_adopt(&lv->loader, &ad)) {
		log_warn("cannot walk the connections open before the start (%s): requests on "
			 "them are not seen, and a failed one may read as gateway/no_upstream",
			 strerror(errno));
		return;
	}
	lv->adopt_failed = ad.failed;
	if (ad.upstream + ad.downstream)
		log_info("%u connection%s open before the start followed from now on (%u upstream, "
			 "%u client): their connect times are not known", ad.upstream + ad.downstream,
			 ad.upstream + ad.downstream == 1 ? "" : "s", ad.upstream, ad.downstream);
	if (ad.failed)
		log_warn("%u connection%s open before the start not followed: the connection "
			 "table is full (--max-conns)", ad.failed, ad.failed == 1 ? "" : "s");
}

/* New processes with a traced name (restarts, reloads) join the filter;
 * the listening ports are read again only when the set changed: a new
 * name-matched process, or a fork the kernel followed (a reload's
 * workers: its master may have opened new listeners). */
static void rescan(struct live *lv)
{
	pid_t found[CLI_MAX_PIDS];
	size_t n = discover_by_comm(lv->opts->comms, lv->opts->ncomms, found, CLI_MAX_PIDS);
	uint64_t forks = lv->pipe->stats.forks_followed;
	bool changed = forks != lv->forks_seen;

	lv->forks_seen = forks;

	for (size_t i = 0; i < n; i++) {
		if (known_pid(lv, found[i]) || loader_add_pid(&lv->loader, found[i]))
			continue;
		note_gateway(lv, found[i]);
		tls_attach_pid(&lv->loader.tls, found[i]);
		if (lv->nknown < ARRAY_SIZE(lv->known))
			lv->known[lv->nknown++] = found[i];
		changed = true;
		log_debug("tracing pid %d", found[i]);
	}
	if (lv->discover_ports && changed)
		rescan_ports(lv);
}

/* Connections the LRU evicted: every insert is still live, deleted at
 * close, replaced (a connection on the same socket address took the
 * entry of one whose end was never seen: not an eviction), or evicted.
 * Inserts are read before the live count, deletes and replacements
 * after it: the counters only grow, so the difference never exceeds the
 * evictions at the moment of the count.  A delete counted just after the
 * kernel forgot its entry still looks evicted for one sample; an eviction
 * stays: report what two samples in a row agree on. */
static void update_evictions(struct live *lv)
{
	uint64_t inserts, deletes, replaced, live, gone, unaccounted, evicted;
	struct run_stats *st = &lv->pipe->stats;

	inserts = loader_stat(&lv->loader, GS_STAT_CONN_INSERTS);
	live = loader_live_conns(&lv->loader);
	deletes = loader_stat(&lv->loader, GS_STAT_CONN_DELETES);
	replaced = loader_stat(&lv->loader, GS_STAT_CONN_REPLACED);
	gone = deletes + replaced + live;
	unaccounted = inserts > gone ? inserts - gone : 0;
	evicted = unaccounted < lv->unaccounted ? unaccounted : lv->unaccounted;
	lv->unaccounted = unaccounted;
	if (evicted > st->evicted_conns)
		st->evicted_conns = evicted;
}

static void update_kernel_stats(struct live *lv)
{
	struct loader_prog_totals progs;
	uint64_t k[GS_STAT__MAX];
	struct run_stats *st = &lv->pipe->stats;

	loader_stats(&lv->loader, k);
	/* A capture whose connection's identity record was lost is lost too. */
	st->lost_events = k[GS_STAT_LOST_EVENTS] + lv->pipe->decoder.heads_unknown;
	st->insert_failures = k[GS_STAT_CONN_INSERT_FAIL] + lv->adopt_failed;
	st->closes_unseen = k[GS_STAT_CONN_REPLACED];
	st->tls_sessions = k[GS_STAT_TLS_SESSIONS];
	st->tls_unmapped = k[GS_STAT_TLS_UNMAPPED];
	st->tls_dropped = k[GS_STAT_TLS_DROPPED];
	st->tls_buffered = k[GS_STAT_TLS_BUFFERED];
	st->captures_cut = k[GS_STAT_HTTP_TRUNCATED];
	st->forks_followed = k[GS_STAT_PID_FORKS];
	st->exits_followed = k[GS_STAT_PID_EXITS];
	if (k[GS_STAT_PID_INSERT_FAIL] > st->pid_failures)
		log_warn("%llu process(es) not traced so far: the traced-process table is full",
			 (unsigned long long)k[GS_STAT_PID_INSERT_FAIL]);
	st->pid_failures = k[GS_STAT_PID_INSERT_FAIL];
	loader_prog_totals(&lv->loader, &progs);
	st->missed_runs = progs.missed_runs;
	if (k[GS_STAT_TLS_UNMAPPED] && k[GS_STAT_TLS_DROPPED] && !lv->told_tls_unmapped) {
		lv->told_tls_unmapped = true;
		log_warn("TLS sessions whose socket is not known: their plaintext is dropped "
			 "(http.tls_unmapped, tls_dropped) and their connections are judged "
			 "by TCP facts only; a process whose TLS records move outside "
			 "SSL_read/SSL_write (OpenSSL memory BIOs, as Python's asyncio uses) "
			 "is never read");
	}
	if (k[GS_STAT_SERVE_ONLY_CONNS] && !lv->told_serve_only) {
		lv->told_serve_only = true;
		log_info("client connections of traced processes that only serve (never "
			 "connected out) are not captured; a process that connects out is "
			 "a gateway from then on");
	}
	update_evictions(lv);
}

/* Is the kernel timing BPF programs?  By the sysctl, or while a process
 * holds a BPF_ENABLE_STATS descriptor (--bpf-stats), which the sysctl does
 * not show. */
static bool bpf_stats_on(const struct live *lv)
{
	FILE *f;
	int on = 0;

	if (lv->bpf_stats_fd >= 0)
		return true;
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 0;
		fclose(f);
	}
	return on > 0;
}

static struct self_cost_sample sample_cost(const struct live *lv)
{
	struct loader_prog_totals t;
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	loader_prog_totals(&lv->loader, &t);
	return (struct self_cost_sample){
		.cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
		.bpf_ns = t.run_ns, .bpf_runs = t.runs, .requests = lv->pipe->join.st.requests,
	};
}

/* What gatescope cost since it began tracing, and since the last report:
 * taken once per report. */
static void update_self_cost(struct live *lv)
{
	struct self_cost_sample now = sample_cost(lv);
	struct self_cost *c = &lv->pipe->stats.self;

	c->measured = true;
	c->bpf_timed = bpf_stats_on(lv);
	c->cpu_ns = now.cpu_ns - lv->cost_start.cpu_ns;
	c->bpf_ns = now.bpf_ns - lv->cost_start.bpf_ns;
	c->bpf_runs = now.bpf_runs - lv->cost_start.bpf_runs;
	c->requests = now.requests - lv->cost_start.requests;
	c->cpu_ns_interval = now.cpu_ns - lv->cost_last.cpu_ns;
	c->bpf_ns_interval = now.bpf_ns - lv->cost_last.bpf_ns;
	c->requests_interval = now.requests - lv->cost_last.requests;
	lv->cost_last = now;
}

/* --bpf-stats: the kernel's run-time statistics on for this run. */
static void enable_bpf_stats(struct live *lv)
{
	lv->bpf_stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (lv->bpf_stats_fd < 0)
		log_warn("--bpf-stats: cannot turn on the kernel's BPF run-time statistics (%s): "
			 "the time in gatescope's programs is not reported", strerror(errno));
}

static void publish_metrics(const struct live *lv)
{
	struct report r = pipeline_run_report(lv->pipe);

	metrics_publish(lv->metrics, &r);
}

static int setup_fds(struct live *lv)
{
	sigset_t mask;
	struct itimerspec its = {
		.it_interval = { 0, TICK_NS }, .it_value = { 0, TICK_NS },
	};
	struct epoll_event ev = { .events = EPOLLIN };

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	lv->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	lv->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	lv->efd = epoll_create1(EPOLL_CLOEXEC);
	if (lv->sfd < 0 || lv->tfd < 0 || lv->efd < 0 ||
	    timerfd_settime(lv->tfd, 0, &its, NULL)) {
		log_err("event loop setup: %s", strerror(errno));
		return -1;
	}
	ev.data.fd = lv->sfd;
	epoll_ctl(lv->efd, EPOLL_CTL_ADD, lv->sfd, &ev);
	ev.data.fd = lv->tfd;
	epoll_ctl(lv->efd, EPOLL_CTL_ADD, lv->tfd, &ev);
	ev.data.fd = ring_buffer__epoll_fd(lv->rb);
	epoll_ctl(lv->efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	if (lv->opts->output == OUTPUT_TUI) {	/* keys, as soon as they are typed */
		ev.data.fd = STDIN_FILENO;
		epoll_ctl(lv->efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	return 0;
}

/* Read the pending signal.  SIGHUP reloads --backend-names and goes on;
 * anything else stops (returns false). */
static bool on_signal(struct live *lv)
{
	struct signalfd_siginfo si;

	if (read(lv->sfd, &si, sizeof(si)) != sizeof(si))
		return true;
	if (si.ssi_signo != SIGHUP)
		return false;
	if (!lv->opts->backend_names)
		log_info("SIGHUP: no --backend-names file to reload");
	else if (!pipeline_load_backend_names(lv->pipe, lv->opts->backend_names))
		log_info("SIGHUP: reloaded %s", lv->opts->backend_names);
	return true;
}

/* A second Ctrl-C while we shut down kills at once. */
static void arm_second_signal(void)
{
	sigset_t mask;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
}

/* Requests answered but not decided yet when the run ends (their join
 * wait, or their last connection's TCP facts) would be decided without
 * what is still to come: a gateway may close a timed-out upstream
 * connection a moment after its 504 (the Go proxy: tens of ms), and
 * without that close the request reads unknown/no_tcp_facts.  They get up
 * to 1 s; a second Ctrl-C (or SIGTERM) decides them at once. */
#define LAST_FACTS_WAIT_MS 1000
#define LAST_FACTS_POLL_MS 20

static void await_last_facts(struct live *lv)
{
	uint64_t until = mono_ns() + LAST_FACTS_WAIT_MS * 1000000ull;
	struct pollfd sig = { .fd = lv->sfd, .events = POLLIN };
	uint32_t n;

	ring_buffer__consume(lv->rb);
	if (!(n = pipeline_settle(lv->pipe)))
		return;
	log_info("waiting up to %d ms for %u answered request%s to be decided (their TCP facts; "
		 "Ctrl-C: decide now)", LAST_FACTS_WAIT_MS, n, n == 1 ? "" : "s");
	while (mono_ns() < until && poll(&sig, 1, LAST_FACTS_POLL_MS) == 0) {
		ring_buffer__consume(lv->rb);
		if (!pipeline_settle(lv->pipe))
			break;
	}
}

static int event_loop(struct live *lv)
{
	const struct options *o = lv->opts;
	uint64_t start = mono_ns(), next_report = start + o->interval_s * 1e9;
	uint64_t end = o->duration_s ? start + o->duration_s * 1e9 : UINT64_MAX;
	unsigned ticks = 0;

	for (;;) {
		struct epoll_event evs[4];
		int n = epoll_wait(lv->efd, evs, ARRAY_SIZE(evs), -1);
		uint64_t now;

		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lv->sfd && !on_signal(lv))
				return 0;	/* SIGINT/SIGTERM: final report in the caller */
			if (evs[i].data.fd == lv->tfd) {
				uint64_t expirations;

				if (read(lv->tfd, &expirations, sizeof(expirations)) < 0)
					continue;
				if ((o->ncomms || lv->discover_ports) && ++ticks % RESCAN_TICKS == 0)
					rescan(lv);
			}
		}
		/* Keys and window resizes (SIGWINCH interrupts the wait). */
		if (output_poll_keys(&lv->pipe->out))
			return 0;
		/* Events arrive without wake-ups (batched in BPF): drain every tick. */
		ring_buffer__consume(lv->rb);
		now = mono_ns();
		if (now >= next_report && now < end) {
			update_kernel_stats(lv);
			update_self_cost(lv);
			pipeline_report(lv->pipe, wall_s(), o->interval_s);
			publish_metrics(lv);
			next_report += o->interval_s * 1e9;
		}
		if (now >= end)
			return 0;
	}
}

/* The incident report (--report), from the whole-run totals: at the end
 * of a run that printed its total.  -1 when it could not be written. */
static int write_report(struct pipeline *pipe, FILE *f, const char *path, double start,
			double span_s, const char *source)
{
	struct report_view v = {
		.m = pipe->report, .routes = &pipe->routes, .agg = &pipe->agg,
		.timeouts = &pipe->timeouts, .stats = &pipe->stats, .retries = &pipe->retries,
		.start = start, .span_s = span_s, .source = source,
	};

	return report_html_finish(f, path, &v);
}

/* The ring's reader runs ahead of the traced workload: in a burst of
 * closes on busy CPUs it would otherwise wait its fair turn among the
 * closing processes while the ring fills (200,000 closes at once by 100
 * processes on 2 CPUs: 4,500 to 45,000 events lost at nice 0, none at
 * -10).  Its work is the same, done sooner.  Left alone when started with
 * a nice value of its own, or without CAP_SYS_NICE.  Before any thread
 * starts: threads inherit it. */
#define READER_NICE (-10)

static void raise_reader_priority(void)
{
	int cur;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (errno || cur != 0)
		return;
	if (setpriority(PRIO_PROCESS, 0, READER_NICE))
		log_debug("runs at nice 0: cannot raise its priority (%s)", strerror(errno));
}

static int run_live(struct options *o, struct pipeline *pipe)
{
	struct live lv = { .opts = o, .pipe = pipe, .sfd = -1, .tfd = -1, .efd = -1,
			   .bpf_stats_fd = -1 };
	struct loader_opts lo = {
		.max_conns = o->max_conns, .capture_bytes = o->capture_bytes,
		.capture = o->capture_path, .tls = o->tls,
	};
	uint64_t start;
	double start_wall;
	FILE *report = NULL;
	int ret = 1;

	if (choose_targets(o, &lo.filter_pid) == 2)
		return 2;
	if (loader_check_env())
		return 1;
	if (o->ncomms)
		o->npids = discover_by_comm(o->comms, o->ncomms, o->pids, CLI_MAX_PIDS);
	/* Children forked before we attached (nginx workers) are invisible
	 * to the fork hook: trace them from the start. */
	if (lo.filter_pid)
		o->npids += discover_descendants(o->pids, o->npids, o->pids + o->npids,
						 CLI_MAX_PIDS - o->npids);
	lo.pids = o->pids;
	lo.npids = o->npids;
	lo.comms = o->comms;
	lo.ncomms = o->ncomms;
	for (size_t i = 0; i < o->npids; i++)
		lv.known[lv.nknown++] = o->pids[i];
	/* Downstream = accepted on a client-facing port: --listen, or the
	 * listening sockets of the traced processes. */
	lv.discover_ports = lo.filter_pid && !o->nports;
	if (lv.discover_ports) {
		lv.nports = discover_listen_ports(o->pids, o->npids, lv.ports, CLI_MAX_PORTS);
		for (size_t i = 0; i < lv.nports; i++)
			log_info("client-facing port %u (listening in a traced process)", lv.ports[i]);
	} else
		memcpy(lv.ports, o->ports, (lv.nports = o->nports) * sizeof(lv.ports[0]));
	lo.listen_ports = lv.ports;
	lo.nports = lv.nports;
	if (o->record && decoder_record_open(&pipe->decoder, o->record))
		return 1;
	/* Created now: a file that cannot be written fails the start, not
	 * the end of a long run. */
	if (o->report && !(report = report_html_open(o->report)))
		return 1;
	raise_reader_priority();
	if (loader_start(&lv.loader, &lo))
		goto out;
	for (size_t i = 0; lo.filter_pid && i < o->npids; i++)
		note_gateway(&lv, o->pids[i]);
	adopt_open_conns(&lv);
	tls_attach_start(&lv.loader.tls, lo.filter_pid ? o->pids : NULL, o->npids);
	if (o->metrics_addr &&
	    !(lv.metrics = metrics_start(o->metrics_addr,
					 STALE_REPORTS * o->interval_s + STALE_SLACK_S)))
		goto out;
	publish_metrics(&lv);
	lv.rb = ring_buffer__new(loader_ring_fd(&lv.loader), ring_cb, &pipe->decoder, NULL);
	if (!lv.rb) {
		log_err("cannot open ring buffer: %s", strerror(errno));
		goto out;
	}
	if (setup_fds(&lv))
		goto out;
	log_info("tracing %s, %zu client-facing port%s, HTTP capture: %s; Ctrl-C to stop",
		 lo.filter_pid ? "selected processes" : "all processes", lv.nports,
		 lv.nports == 1 ? "" : "s", capture_path_name(lv.loader.capture));
	if (output_start(&pipe->out, o->interval_s, capture_path_name(lv.loader.capture)))
		goto out;
	if (o->bpf_stats)
		enable_bpf_stats(&lv);
	lv.cost_start = lv.cost_last = sample_cost(&lv);
	start = mono_ns();
	start_wall = wall_s();
	incident_set_origin(pipe->report, start_wall);
	ret = event_loop(&lv);
	output_stop(&pipe->out);	/* the terminal back before the total */
	if (!ret)
		await_last_facts(&lv);
	arm_second_signal();
	ring_buffer__consume(lv.rb);
	update_kernel_stats(&lv);
	update_kernel_stats(&lv);	/* a second sample confirms evictions */
	update_self_cost(&lv);
	pipeline_total(pipe, wall_s(), (mono_ns() - start) / 1e9);
	/* A recording that could not be written completely is a failed run. */
	if (decoder_record_close(&pipe->decoder))
		ret = 1;
	if (report && write_report(pipe, report, o->report, start_wall,
				   (mono_ns() - start) / 1e9, NULL))
		ret = 1;
	report = NULL;
out:
	report_html_abandon(report, o->report);
	output_stop(&pipe->out);	/* on every way out */
	metrics_stop(lv.metrics);
	ring_buffer__free(lv.rb);
	loader_stop(&lv.loader);
	if (lv.efd >= 0)
		close(lv.efd);
	if (lv.tfd >= 0)
		close(lv.tfd);
	if (lv.sfd >= 0)
		close(lv.sfd);
	if (lv.bpf_stats_fd >= 0)
		close(lv.bpf_stats_fd);
	return ret;
}

/* Exit 0, 1 on an unreadable or corrupt file, or EXIT_TORN_RECORDING when
 * the file ends inside its last event (everything before it is reported). */
static int run_replay(const struct options *o, struct pipeline *pipe)
{
	FILE *report = NULL;
	uint64_t rss, peak;
	int rc;

	if (o->report && !(report = report_html_open(o->report)))
		return 1;
	rc = pipeline_replay(pipe, o->replay);
	if (rc < 0) {
		report_html_abandon(report, o->report);
		return 1;
	}
	if (report && write_report(pipe, report, o->report,
				   decoder_epoch(&pipe->decoder, pipe->first_ns),
				   (pipe->last_ns - pipe->first_ns) / 1e9, o->replay))
		return 1;
	proc_rss_kib(&rss, &peak);
	log_debug("memory: resident %llu KiB at the end of the replay, %llu KiB at the peak",
		  (unsigned long long)rss, (unsigned long long)peak);
	return rc == DECODER_REPLAY_TORN ? EXIT_TORN_RECORDING : 0;
}

int main(int argc, char **argv)
{
	static struct options opts;
	static struct pipeline pipe;
	int ret;

	switch (cli_parse(argc, argv, &opts)) {
	case CLI_EXIT_OK: return 0;
	case CLI_USAGE: return 2;
	default: break;
	}
	log_init(opts.verbose);
	if (pipeline_init(&pipe, &opts, stdout))
		return 1;
	if (opts.backend_names && pipeline_load_backend_names(&pipe, opts.backend_names)) {
		pipeline_free(&pipe);
		return 1;
	}
	ret = opts.replay ? run_replay(&opts, &pipe) : run_live(&opts, &pipe);
	pipeline_free(&pipe);
	return ret;
}
