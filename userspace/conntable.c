// SPDX-License-Identifier: MIT
#include <errno.h>
#include "conntable.h"

const char *connect_failure_name(enum connect_failure f)
{
	switch (f) {
	case CONNECT_REFUSED: return "refused";
	case CONNECT_TIMEOUT: return "timeout";
	case CONNECT_UNREACHABLE: return "unreachable";
	default: return "ok";
	}
}

/* Why did a connection that never reached ESTABLISHED fail?  An RST to the
 * SYN (or ECONNREFUSED) is a refusal; an ICMP error is unreachable; anything
 * else is a SYN nobody answered before the caller or the kernel gave up. */
static enum connect_failure connect_failure_of(const struct gs_conn_event *e)
{
	if ((e->flags & GS_CONN_F_RST_IN_SYN) || e->sk_err == ECONNREFUSED)
		return CONNECT_REFUSED;
	switch (e->sk_err) {
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return CONNECT_UNREACHABLE;
	default:
		return CONNECT_TIMEOUT;
	}
}

void conn_classify(const struct gs_conn_event *e, struct conn_outcome *o)
{
	o->upstream = e->direction == GS_DIR_UPSTREAM;
	o->established = e->flags & GS_CONN_F_ESTABLISHED;
	o->failure = CONNECT_OK;
	o->connect_ms = -1;
	o->retransmits = e->syn_retrans + e->retrans;
	o->resets_received = e->rst_received;
	o->resets_sent = e->rst_sent;
	if (o->upstream && !o->established)
		o->failure = connect_failure_of(e);
	o->adopted = e->flags & GS_CONN_F_ADOPTED;
	if (o->upstream && o->established && !o->adopted && e->ts_established >= e->ts_start)
		o->connect_ms = (e->ts_established - e->ts_start) / 1e6;
	/* The RST that refused a connect is a refusal, not a reset. */
	if (o->failure == CONNECT_REFUSED && o->resets_received)
		o->resets_received--;
	format_endpoint(o->peer, sizeof(o->peer), e->family, e->daddr, e->dport);
	format_endpoint(o->local, sizeof(o->local), e->family, e->saddr, e->sport);
}

bool conn_is_failure(const struct conn_outcome *o)
{
	return o->failure != CONNECT_OK || o->resets_received || o->resets_sent;
}
