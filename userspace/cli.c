// SPDX-License-Identifier: MIT
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "http.h"
#include "listen_addr.h"
#include "routes.h"
#include "tls_attach.h"
#include "util.h"

void cli_usage(FILE *out)
{
	fputs(
"Usage: gatescope [OPTIONS]\n"
"Who caused the 504s: the gateway, the network or the backend.  Follows the\n"
"TCP connections and HTTP/1.x requests of gateway processes from the kernel\n"
"(eBPF tracepoints, no kprobes) and reports per route (requests, statuses,\n"
"504s by cause, latency) and per backend (connects, refused / timed-out /\n"
"unreachable connects, resets by direction, retransmits, connect and\n"
"time-to-first-byte latency).\n"
"\n"
"What to trace:\n"
"  -p, --pid PID[,PID...]      trace these processes (and their children)\n"
"  -c, --comm NAME[,NAME...]   trace processes with these names\n"
"                              (default: nginx, haproxy, envoy; if none runs, all)\n"
"  -l, --listen PORT[,...]     client-facing ports: accepted connections on them\n"
"                              are downstream (default: every accepted connection)\n"
"      --max-conns N           connection table size (default " STR(CLI_MAX_CONNS_DEFAULT) "); evictions\n"
"                              are counted and shown; the event ring holds the\n"
"                              closes of N/4 connections (4 to 16 MiB)\n"
"\n"
"Reporting:\n"
"  -i, --interval SEC          report period (default " STR(CLI_INTERVAL_DEFAULT_S) ", fractions allowed)\n"
"  -d, --duration SEC          stop after SEC seconds (default: until Ctrl-C)\n"
"  -o, --output FORMAT         table (default on a terminal), json, or tui: a\n"
"                              live full-screen view (keys: s sort, / filter,\n"
"                              p pause, e failing requests, q quit)\n"
"      --json                  same as -o json\n"
"  -e, --events WHICH          also one line per request or connection: errors\n"
"                              (5xx, client aborts, failed or reset connections),\n"
"                              504, slow, all\n"
"      --backend-names FILE    lines of \"ip:port name\" to name backends\n"
"      --route-map FILE        lines of \"/path-prefix name\" to name routes\n"
"      --top-routes N          routes shown (default " STR(ROUTES_SHOWN_DEFAULT) "), the rest as \"other\"\n"
"      --slow-ms MS            --events slow: requests slower than MS (default " STR(CLI_SLOW_MS_DEFAULT) ")\n"
"      --join-wait MS          how long a finished request waits for late evidence\n"
"                              (an upstream connection's close, a failed connect)\n"
"                              before it is joined and reported (default " STR(CLI_JOIN_WAIT_MS_DEFAULT) ",\n"
"                              max " STR(CLI_JOIN_WAIT_MS_MAX) "); failed requests wait up to 3 s more for\n"
"                              their upstream connection's TCP facts\n"
"      --capture-bytes N       bytes of each HTTP head captured (default " STR(GS_CAPTURE_DEFAULT) ",\n"
"                              max " STR(GS_CAPTURE_MAX) "); longer heads are counted as truncated\n"
"      --capture-path PATH     how HTTP bytes are read: auto (default: the first\n"
"                              of these this kernel allows), tracepoint (socket\n"
"                              tracepoints: 6.18 has them, 6.12 not), fentry\n"
"                              (fentry/fexit on tcp_sendmsg, tcp_recvmsg), kprobe\n"
"                              (kprobes on them), syscalls (raw syscall\n"
"                              tracepoints: slows every syscall a little);\n"
"                              off (TCP facts only)\n"
"      --tls MODE              HTTPS: auto (default) reads the plaintext of TLS\n"
"                              connections with uprobes on each libssl the traced\n"
"                              processes map (OpenSSL: nginx, HAProxy), both\n"
"                              toward clients and toward backends; off: TLS\n"
"                              connections are judged by TCP facts only.  Built-in\n"
"                              TLS (Envoy's BoringSSL, Go) cannot be read: said\n"
"                              at start-up\n"
"      --metrics ADDR:PORT     serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                              and a health check at /healthz; ADDR is IPv4 or\n"
"                              [IPv6], default 127.0.0.1 (\"--metrics 9464\")\n"
"      --bpf-stats             have the kernel time BPF programs for the run, to\n"
"                              report what gatescope's cost the processes they\n"
"                              run in (bpf_pct; the kernel charges that time to\n"
"                              them, not to gatescope); costs two clock reads per\n"
"                              run of every BPF program on the host while on.\n"
"                              gatescope's own CPU (cpu_pct) is always reported\n"
"\n"
"Recording:\n"
"      --record FILE           also write the raw event stream to FILE: a new\n"
"                              file, mode 0600; an existing file or a symlink is\n"
"                              refused (a device or FIFO is written to); values of\n"
"                              credential headers (Authorization, Cookie, ...) and\n"
"                              of query/matrix parameters are masked with '*'\n"
"      --replay FILE           read events from FILE (a regular file) instead of\n"
"                              the kernel (no root)\n"
"      --report FILE           at the end of the run (or of the --replay file)\n"
"                              write an incident report to FILE: one\n"
"                              self-contained HTML page (timeline, timeout\n"
"                              ladder, routes, backends, latency histograms,\n"
"                              failed requests with their evidence); a new\n"
"                              file, mode 0600, created at the start, as for\n"
"                              --record\n"
"\n"
"  -v, --verbose               libbpf and loader diagnostics on stderr\n"
"  -h, --help                  this text\n"
"  -V, --version               print the version\n"
"\n"
"Exit status: 0 normal end, 1 runtime failure (also: a --record or --report\n"
"file that could not be written completely), 2 bad usage, 3 --replay of a\n"
"recording whose last event is cut short (every event before it is reported).\n"
"\n"
"EXAMPLES\n"
"  sudo gatescope                          live table for nginx/haproxy/envoy\n"
"  sudo gatescope -c nginx --json -d 60    one minute of JSON summaries\n"
"  sudo gatescope -p 1234 -e errors        print every failed connection\n"
"  sudo gatescope -c nginx -o tui          live full-screen view for an incident\n"
"  sudo gatescope --record inc.gsr -d 30   capture an incident for later\n"
"  gatescope --replay inc.gsr --json       analyse it anywhere, without root\n"
"  gatescope --replay inc.gsr --report inc.html   the same as a page to attach\n"
"  sudo gatescope --metrics 0.0.0.0:9464   export to Prometheus on every address\n",
	out);
}

static enum cli_result usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gatescope: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'gatescope --help' for more information.\n", stderr);
	return CLI_USAGE;
}

/* Split a comma list; every item goes through add(), which may refuse it. */
static enum cli_result for_each_item(const char *opt, char *list,
				     enum cli_result (*add)(const char *opt, const char *item,
							    struct options *o),
				     struct options *o)
{
	char *save = NULL, *item;

	if (!*list)
		return usage_error("%s needs a value", opt);
	for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		enum cli_result r = add(opt, item, o);

		if (r != CLI_OK)
			return r;
	}
	return CLI_OK;
}

static enum cli_result add_pid(const char *opt, const char *item, struct options *o)
{
	uint64_t v;

	if (!parse_u64(item, 1, 4194304, &v))
		return usage_error("%s: '%s' is not a process id", opt, item);
	if (o->npids == CLI_MAX_PIDS)
		return usage_error("%s: at most %d pids", opt, CLI_MAX_PIDS);
	o->pids[o->npids++] = v;
	return CLI_OK;
}

static enum cli_result add_comm(const char *opt, const char *item, struct options *o)
{
	if (strlen(item) > 15)
		return usage_error("%s: '%s' is longer than a process name (15 characters)", opt, item);
	if (o->ncomms == CLI_MAX_COMMS)
		return usage_error("%s: at most %d names", opt, CLI_MAX_COMMS);
	o->comms[o->ncomms++] = (char *)item;
	return CLI_OK;
}

static enum cli_result add_port(const char *opt, const char *item, struct options *o)
{
	uint64_t v;

	if (!parse_u64(item, 1, 65535, &v))
		return usage_error("%s: '%s' is not a port (1-65535)", opt, item);
	if (o->nports == CLI_MAX_PORTS)
		return usage_error("%s: at most %d ports", opt, CLI_MAX_PORTS);
	o->ports[o->nports++] = v;
	return CLI_OK;
}

static enum cli_result parse_output(const char *s, struct options *o)
{
	if (!strcmp(s, "table"))
		o->output = OUTPUT_TABLE;
	else if (!strcmp(s, "json"))
		o->output = OUTPUT_JSON;
	else if (!strcmp(s, "tui"))
		o->output = OUTPUT_TUI;
	else
		return usage_error("--output: unknown format '%s' (table, tui, json)", s);
	o->output_set = true;
	return CLI_OK;
}

static enum cli_result parse_events(const char *s, struct options *o)
{
	static const struct { const char *name; enum events_mode mode; } modes[] = {
		{ "errors", EVENTS_ERRORS }, { "504", EVENTS_504 },
		{ "slow", EVENTS_SLOW }, { "all", EVENTS_ALL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		if (!strcmp(s, modes[i].name)) {
			o->events = modes[i].mode;
			return CLI_OK;
		}
	}
	return usage_error("--events: unknown value '%s' (errors, 504, slow, all)", s);
}

static enum cli_result parse_capture_path(const char *s, struct options *o)
{
	/* Same order as enum capture_path; socket and syscall: the names
	 * before fentry and kprobes were paths too. */
	static const char *names[] = { "auto", "tracepoint", "fentry", "kprobe", "syscalls", "off" };
	static const struct { const char *name; int path; } aliases[] = {
		{ "socket", 1 }, { "syscall", 4 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			o->capture_path = i;
			return CLI_OK;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
		if (!strcmp(s, aliases[i].name)) {
			o->capture_path = aliases[i].path;
			return CLI_OK;
		}
	}
	return usage_error("--capture-path: unknown value '%s' (auto, tracepoint, fentry, kprobe, syscalls, off)", s);
}

static enum cli_result parse_tls(const char *s, struct options *o)
{
	if (!strcmp(s, "auto"))
		o->tls = TLS_AUTO;
	else if (!strcmp(s, "off"))
		o->tls = TLS_OFF;
	else
		return usage_error("--tls: unknown value '%s' (auto, off)", s);
	return CLI_OK;
}

static enum cli_result parse_metrics(const char *s, struct options *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[96];

	if (!listen_addr_parse(s, &ss, &len, why, sizeof(why)))
		return usage_error("--metrics: '%s': %s (e.g. 127.0.0.1:9464, [::1]:9464, :9464)",
				   s, why);
	o->metrics_addr = s;
	return CLI_OK;
}

enum {
	OPT_JSON = 256, OPT_METRICS, OPT_BACKEND_NAMES, OPT_RECORD, OPT_REPLAY,
	OPT_MAX_CONNS, OPT_CAPTURE_BYTES, OPT_ROUTE_MAP, OPT_TOP_ROUTES, OPT_SLOW_MS,
	OPT_CAPTURE_PATH, OPT_JOIN_WAIT, OPT_TLS, OPT_REPORT, OPT_BPF_STATS,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "interval", required_argument, NULL, 'i' },
	{ "duration", required_argument, NULL, 'd' },
	{ "output", required_argument, NULL, 'o' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "events", required_argument, NULL, 'e' },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "backend-names", required_argument, NULL, OPT_BACKEND_NAMES },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "capture-bytes", required_argument, NULL, OPT_CAPTURE_BYTES },
	{ "route-map", required_argument, NULL, OPT_ROUTE_MAP },
	{ "top-routes", required_argument, NULL, OPT_TOP_ROUTES },
	{ "slow-ms", required_argument, NULL, OPT_SLOW_MS },
	{ "capture-path", required_argument, NULL, OPT_CAPTURE_PATH },
	{ "join-wait", required_argument, NULL, OPT_JOIN_WAIT },
	{ "tls", required_argument, NULL, OPT_TLS },
	{ "bpf-stats", no_argument, NULL, OPT_BPF_STATS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static void set_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->interval_s = CLI_INTERVAL_DEFAULT_S;
	o->output = isatty(STDOUT_FILENO) ? OUTPUT_TABLE : OUTPUT_JSON;
	o->max_conns = CLI_MAX_CONNS_DEFAULT;
	o->capture_bytes = GS_CAPTURE_DEFAULT;
	o->top_routes = ROUTES_SHOWN_DEFAULT;
	o->slow_ms = CLI_SLOW_MS_DEFAULT;
	o->join_wait_ms = CLI_JOIN_WAIT_MS_DEFAULT;
}

static enum cli_result parse_one(int c, char *arg, struct options *o)
{
	uint64_t v;

	switch (c) {
	case 'p': return for_each_item("--pid", arg, add_pid, o);
	case 'c': return for_each_item("--comm", arg, add_comm, o);
	case 'l': return for_each_item("--listen", arg, add_port, o);
	case 'i':
		if (!parse_seconds(arg, CLI_INTERVAL_MAX_S, &o->interval_s) ||
		    o->interval_s < CLI_INTERVAL_MIN_S)
			return usage_error("--interval: '%s' is not a number of seconds in [%g, %d]", arg,
					   CLI_INTERVAL_MIN_S, CLI_INTERVAL_MAX_S);
		return CLI_OK;
	case 'd':
		if (!parse_seconds(arg, CLI_DURATION_MAX_S, &o->duration_s))
			return usage_error("--duration: '%s' is not a positive number of seconds", arg);
		return CLI_OK;
	case 'o': return parse_output(arg, o);
	case OPT_JSON: o->output = OUTPUT_JSON; o->output_set = true; return CLI_OK;
	case 'e': return parse_events(arg, o);
	case OPT_METRICS: return parse_metrics(arg, o);
	case OPT_BACKEND_NAMES: o->backend_names = arg; return CLI_OK;
	case OPT_RECORD: o->record = arg; return CLI_OK;
	case OPT_BPF_STATS: o->bpf_stats = true; return CLI_OK;
	case OPT_REPLAY: o->replay = arg; return CLI_OK;
	case OPT_REPORT: o->report = arg; return CLI_OK;
	case OPT_MAX_CONNS:
		if (!parse_u64(arg, CLI_MAX_CONNS_MIN, CLI_MAX_CONNS_LIMIT, &v))
			return usage_error("--max-conns: '%s' is not a number in [%d, %d]", arg,
					   CLI_MAX_CONNS_MIN, CLI_MAX_CONNS_LIMIT);
		o->max_conns = v;
		return CLI_OK;
	case OPT_CAPTURE_BYTES:
		if (!parse_u64(arg, CLI_CAPTURE_BYTES_MIN, GS_CAPTURE_MAX, &v))
			return usage_error("--capture-bytes: '%s' is not a number in [%d, %d]", arg,
					   CLI_CAPTURE_BYTES_MIN, GS_CAPTURE_MAX);
		o->capture_bytes = v;
		return CLI_OK;
	case OPT_ROUTE_MAP: o->route_map = arg; return CLI_OK;
	case OPT_TOP_ROUTES:
		if (!parse_u64(arg, 1, ROUTES_MAX, &v))
			return usage_error("--top-routes: '%s' is not a number in [1, %d]", arg,
					   ROUTES_MAX);
		o->top_routes = v;
		return CLI_OK;
	case OPT_SLOW_MS:
		if (!parse_seconds(arg, CLI_SLOW_MS_MAX, &o->slow_ms))
			return usage_error("--slow-ms: '%s' is not a positive number of milliseconds", arg);
		return CLI_OK;
	case OPT_CAPTURE_PATH: return parse_capture_path(arg, o);
	case OPT_TLS: return parse_tls(arg, o);
	case OPT_JOIN_WAIT:
		if (!parse_u64(arg, 1, CLI_JOIN_WAIT_MS_MAX, &v))
			return usage_error("--join-wait: '%s' is not a number of milliseconds in [1, %d]",
					   arg, CLI_JOIN_WAIT_MS_MAX);
		o->join_wait_ms = v;
		return CLI_OK;
	case 'v': o->verbose = true; return CLI_OK;
	case 'h': cli_usage(stdout); return CLI_EXIT_OK;
	case 'V': printf("gatescope %s\n", GS_VERSION); return CLI_EXIT_OK;
	default: return usage_error("unknown option");
	}
}

#define SHORT_OPTS ":p:c:l:i:d:o:e:vhV"

/* getopt returned '?': optopt is the short option it did not know, 0 for an
 * unknown long option (arg), or a long option's value when it was given a
 * value it does not take ("--json=yes", optopt OPT_JSON). */
static enum cli_result option_error(const char *arg)
{
	if (optopt > 0 && optopt < 256 && (optopt == ':' || !strchr(SHORT_OPTS, optopt)))
		return usage_error("unknown option '-%c'", optopt);
	if (optopt)
		return usage_error("option '%s' takes no value", arg);
	return usage_error("unknown option '%s'", arg);
}

enum cli_result cli_parse(int argc, char **argv, struct options *o)
{
	int c;

	set_defaults(o);
	opterr = 0;	/* our own messages, with the usage hint */
	optind = 0;	/* glibc: a full restart, also of a scan left mid "-xv" */
	while ((c = getopt_long(argc, argv, SHORT_OPTS, long_opts, NULL)) != -1) {
		enum cli_result r;

		if (c == '?')
			return option_error(argv[optind - 1]);
		if (c == ':')
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		r = parse_one(c, optarg, o);
		if (r != CLI_OK)
			return r;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->record && o->replay)
		return usage_error("--record and --replay cannot be used together");
	if (o->metrics_addr && o->replay)
		return usage_error("--metrics serves live data: it cannot be used with --replay");
	if (o->bpf_stats && o->replay)
		return usage_error("--bpf-stats times the live programs: it cannot be used with --replay");
	if (o->output == OUTPUT_TUI && o->replay)
		return usage_error("-o tui shows live tracing; with --replay use table or json");
	return CLI_OK;
}
