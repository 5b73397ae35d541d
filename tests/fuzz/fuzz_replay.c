/* libFuzzer harness for the whole replay path: a --record file through the
 * decoder, the pipeline (connection table, HTTP tracking, correlation,
 * attribution, aggregation) and the outputs (table or JSON, and the HTML
 * incident report of --report).
 *
 * Input: a record file.  If it does not start with the record magic, a
 * valid file header is put in front of it, so the fuzzer spends its time
 * on events rather than on the magic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decoder.h"
#include "log.h"
#include "pipeline.h"
#include "report_html.h"

static const uint8_t header[24] = {
	'G', 'S', 'R', 'E', 'C', 0, 0, 1, 1, 0, 0, 0, 24, 0, 0, 0,
	0, 0, 0x5c, 0x4b, 0x7a, 0x1c, 0x8f, 0x17,	/* wall offset ~1.7e18 ns */
};

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sink = fopen("/dev/null", "w");
	log_quiet(true);	/* warnings per input would drown the fuzzer's output */
	return 0;
}

/* The recording in memory, its header put in front when missing: read
 * through fmemopen, not a file written and opened again per input. */
static FILE *open_input(const uint8_t *data, size_t size, size_t *len)
{
	static uint8_t *buf;
	static size_t cap;
	bool has_header = size >= 8 && !memcmp(data, GS_REC_MAGIC, 8);
	size_t pre = has_header ? 0 : sizeof(header);

	*len = pre + size;
	if (*len > cap) {
		free(buf);
		cap = *len;
		if (!(buf = malloc(cap)))
			abort();
	}
	memcpy(buf, header, pre);
	memcpy(buf + pre, data, size);
	return fmemopen(buf, *len, "rb");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pipeline p;
	static struct options o;
	size_t len;
	FILE *in = open_input(data, size, &len);

	if (!in)
		abort();
	memset(&o, 0, sizeof(o));
	o.interval_s = size & 1 ? 1 : 0.25;
	o.output = size & 2 ? OUTPUT_TABLE : OUTPUT_JSON;
	o.events = EVENTS_ALL;
	/* Small tables: a few events fill them, so their eviction paths run
	 * too; and a pipeline is built and freed per input, which with the
	 * default tables (the join's alone are 23 MB, poisoned and zeroed by
	 * ASan at every calloc and free) held the harness to ~30 inputs/s. */
	o.max_conns = 64;
	o.tables.join_requests = 8;
	o.tables.retry_clients = 16;
	o.tables.route_cache = 16;
	o.top_routes = 4;
	o.slow_ms = 1;
	o.report = "/dev/null";		/* the report model is built */
	if (pipeline_init(&p, &o, sink))
		abort();
	if (pipeline_replay_stream(&p, "input", in, len) >= 0) {
		struct report_view v = {
			.m = p.report, .routes = &p.routes, .agg = &p.agg,
			.timeouts = &p.timeouts, .stats = &p.stats, .retries = &p.retries,
			.start = decoder_epoch(&p.decoder, p.first_ns),
			.span_s = (p.last_ns - p.first_ns) / 1e9,
		};

		report_html_write(sink, &v);
	}
	pipeline_free(&p);
	fclose(in);
	return 0;
}
