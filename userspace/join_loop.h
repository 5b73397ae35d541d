/* SPDX-License-Identifier: MIT */
/* Event-loop order: which failed connect was whose, on one thread of a
 * gateway that serves its requests from one event loop per thread
 * (HAProxy, nginx).
 *
 * Failed connects carry no request bytes: time is their only tie to a
 * request.  When two failing requests of one thread are in flight at
 * once, their tries interleave within microseconds, and "the try that
 * ended nearest the answer" often names the other request's try.  But
 * such a loop serves what became ready in the order it became ready: a
 * request once its head arrived, a retry once its previous try failed.
 * Each connect it begins is for the request waiting longest.  Replaying
 * the thread's events in that order leaves few assignments, usually one;
 * loop_solve() finds them all (a bounded search) and says whether they
 * agree on one request's tries. */
#ifndef GS_JOIN_LOOP_H
#define GS_JOIN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_MAX_REQS	32
#define LOOP_MAX_ATTS	64
#define LOOP_MAX_NODES	1024	/* search steps before giving up */
#define LOOP_TIE_NS	2000	/* events this close may have been served in either order */

struct loop_req {
	uint64_t queued;	/* the loop read its head: it waits for a first try */
	uint64_t answered;	/* the gateway answered it (no more tries); 0: not yet */
	bool done;		/* decided to have no tries here: it waits for none */
};

struct loop_att {
	uint64_t began;		/* connect() */
	uint64_t end;		/* the kernel saw it fail: its request may be served again */
	int fixed;		/* the request it was already given, or -1 */
};

struct loop_result {
	unsigned solutions;	/* assignments consistent with the loop's order */
	bool agree;		/* ... all giving the target the same tries */
	bool gave_up;		/* the search was cut off: no answer */
	int8_t owner[LOOP_MAX_ATTS];	/* the first solution: request per attempt */
};

/* Attempts sorted by began.  Fills res; returns true when there is at
 * least one solution, all agree on target's tries and the search was
 * complete. */
bool loop_solve(const struct loop_req *reqs, unsigned nreq, const struct loop_att *atts,
		unsigned natt, unsigned target, struct loop_result *res);

#endif
