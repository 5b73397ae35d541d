/* SPDX-License-Identifier: MIT */
/* Connection table stage: classifies each finished connection (one
 * gs_conn_event) into the outcome the reports count. */
#ifndef GS_CONNTABLE_H
#define GS_CONNTABLE_H

#include <stdbool.h>
#include "conn.h"
#include "util.h"

enum connect_failure {
	CONNECT_OK = 0,
	CONNECT_REFUSED,	/* RST answered the SYN (nothing listening) */
	CONNECT_TIMEOUT,	/* SYN never answered before it was abandoned */
	CONNECT_UNREACHABLE,	/* ICMP error: host or network unreachable */
};

struct conn_outcome {
	bool upstream;
	bool established;
	bool adopted;			/* open before the start: its connect not seen */
	enum connect_failure failure;
	double connect_ms;		/* SYN to ESTABLISHED, upstream only; < 0 if n/a */
	unsigned resets_received;	/* RSTs on an established connection */
	unsigned resets_sent;
	unsigned retransmits;		/* SYN and data retransmits */
	char peer[GS_ADDR_STRLEN];	/* remote ip:port */
	char local[GS_ADDR_STRLEN];
};

void conn_classify(const struct gs_conn_event *e, struct conn_outcome *out);
const char *connect_failure_name(enum connect_failure f);
/* Does this connection deserve a "connection" event line? */
bool conn_is_failure(const struct conn_outcome *o);

#endif
