/* SPDX-License-Identifier: MIT */
/* Command line: parse and validate every option (docs/reference.md,
 * docs/gatescope.8). */
#ifndef GS_CLI_H
#define GS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CLI_MAX_PIDS	256
#define CLI_MAX_COMMS	32
#define CLI_MAX_PORTS	64

/* Option defaults and bounds.  The usage text prints these very values
 * (STR()), so the help and the code cannot disagree. */
#define CLI_INTERVAL_DEFAULT_S	1	/* a live view: one report a second */
#define CLI_INTERVAL_MIN_S	0.1	/* the ring buffer is drained every 100 ms */
#define CLI_INTERVAL_MAX_S	3600
#define CLI_DURATION_MAX_S	31536000	/* a year: longer is "until stopped" */
#define CLI_MAX_CONNS_DEFAULT	16384	/* a busy gateway's open connections, with room */
#define CLI_MAX_CONNS_MIN	64
#define CLI_MAX_CONNS_LIMIT	4194304	/* 1 << 22: bounds the kernel map's memory */
#define CLI_CAPTURE_BYTES_MIN	16	/* a request line's method and the start of its path */
#define CLI_SLOW_MS_DEFAULT	1000
#define CLI_SLOW_MS_MAX		3600000	/* an hour */
/* Late facts (a failed connect, a close) reach userspace within a drain
 * period or two; the wait stays under a second so a request is reported
 * in the interval after the one it ended in, at the latest. */
#define CLI_JOIN_WAIT_MS_DEFAULT 100
#define CLI_JOIN_WAIT_MS_MAX	900

enum output_format { OUTPUT_TABLE, OUTPUT_JSON, OUTPUT_TUI };

/* --events WHICH */
enum events_mode { EVENTS_NONE, EVENTS_ERRORS, EVENTS_504, EVENTS_SLOW, EVENTS_ALL };

struct options {
	pid_t pids[CLI_MAX_PIDS];
	size_t npids;
	char *comms[CLI_MAX_COMMS];
	size_t ncomms;
	uint16_t ports[CLI_MAX_PORTS];
	size_t nports;
	double interval_s;
	double duration_s;		/* 0: until SIGINT/SIGTERM */
	enum output_format output;
	bool output_set;
	enum events_mode events;
	const char *metrics_addr;
	const char *backend_names;
	const char *record;
	const char *replay;
	const char *report;		/* --report: the incident report, written at exit */
	uint32_t max_conns;
	uint32_t capture_bytes;
	uint32_t top_routes;		/* routes shown, the rest as "other" */
	const char *route_map;
	double slow_ms;			/* --events slow threshold */
	uint32_t join_wait_ms;		/* a finished request waits this long for late evidence */
	/* Sizes of userspace tables, 0: each one's default.  No flag sets
	 * them: the fuzzing harness asks for small ones, cheap to build once
	 * per input and full after a few events (their evictions run too). */
	struct {
		uint32_t join_requests;		/* JOIN_REQUESTS */
		uint32_t retry_clients;		/* RETRY_CLIENTS_MAX */
		uint32_t route_cache;		/* ROUTE_CACHE_SLOTS */
	} tables;
	int capture_path;		/* enum capture_path (loader.h) */
	int tls;			/* enum tls_mode (tls_attach.h) */
	bool bpf_stats;			/* --bpf-stats: time gatescope's programs */
	bool verbose;
};

enum cli_result { CLI_OK = 0, CLI_EXIT_OK = 1, CLI_USAGE = 2 };

/* Exit status of a --replay whose file ends inside its last event. */
#define EXIT_TORN_RECORDING 3

/* Fills o; on CLI_USAGE a message was printed to stderr. */
enum cli_result cli_parse(int argc, char **argv, struct options *o);
void cli_usage(FILE *out);

#endif
