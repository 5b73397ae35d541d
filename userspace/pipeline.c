#include <errno.h>
#include <string.h>
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

/* Replay has no wall clock: cut intervals when event time crosses them. */
static void replay_clock(struct pipeline *p, uint64_t ts)
{
	uint64_t interval_ns = p->opts->interval_s * 1e9;

	if (!p->first_ns) {
		p->first_ns = p->window_start_ns = ts;
	}
	while (ts >= p->window_start_ns + interval_ns) {
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
	if (want_connection_line(p, &c))
		output_connection(&p->out, e, &c, decoder_epoch(&p->decoder, e->ts_close));
}

static void on_event(const struct gs_event_hdr *ev, void *ctx)
{
	struct pipeline *p = ctx;

	switch (ev->type) {
	case GS_EV_CONN:
		on_conn(p, (const struct gs_conn_event *)ev);
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
	output_init(&p->out, o->output, out);
	if (agg_init(&p->agg, AGG_MAX_BACKENDS_DEFAULT)) {
		log_err("out of memory");
		return -1;
	}
	return 0;
}

void pipeline_free(struct pipeline *p)
{
	decoder_record_close(&p->decoder);
	agg_free(&p->agg);
}

void pipeline_report(struct pipeline *p, double ts, double interval_s)
{
	p->stats.malformed_events = p->decoder.malformed;
	p->stats.backend_overflow = p->agg.overflowed;
	output_summary(&p->out, &p->agg, &p->stats, ts, interval_s, false);
	agg_window_reset(&p->agg);
}

void pipeline_total(struct pipeline *p, double ts, double run_s)
{
	p->stats.malformed_events = p->decoder.malformed;
	p->stats.backend_overflow = p->agg.overflowed;
	output_summary(&p->out, &p->agg, &p->stats, ts, run_s, true);
}

int pipeline_load_backend_names(struct pipeline *p, const char *path)
{
	char line[512], label[128], name[128];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		log_err("cannot open --backend-names file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");

		lineno++;
		if (*s == '#' || *s == '\n' || !*s)
			continue;
		if (sscanf(s, "%127s %127s", label, name) != 2) {
			log_err("%s:%u: expected \"ip:port name\"", path, lineno);
			fclose(f);
			return -1;
		}
		agg_set_name(&p->agg, label, name);
	}
	fclose(f);
	return 0;
}
