/* SPDX-License-Identifier: MIT */
/* Live full-screen view (-o tui) for an incident: routes sorted by 504
 * rate with the 504 cause split, backends (connect and TTFB p99, resets,
 * retransmits, timeouts), inferred timeouts and ladder warnings, pipeline
 * health, and the last failing requests with their evidence.
 *
 * The event loop drives it and it never blocks that loop: keys are read
 * with nodelay when stdin is readable, the screen is redrawn once per
 * report or key batch with a single doupdate (no clear, no flicker). */
#ifndef GS_TUI_H
#define GS_TUI_H

#include "attribute.h"
#include "join.h"
#include "report.h"

struct tui;

enum tui_action { TUI_CONTINUE, TUI_QUIT };

/* Take over the terminal.  NULL, with one line on stderr, when stdin or
 * stdout is not a terminal or its type is unknown.  While the screen is
 * ours, stderr (when it is a terminal) is captured: the latest line shows
 * at the bottom and every captured line is printed again on close. */
struct tui *tui_open(double interval_s, const char *capture_path);
/* Give the terminal back exactly as it was; NULL is fine. */
void tui_close(struct tui *t);
/* An interval report: new numbers (unless paused), then a redraw.  The
 * whole-run report at exit is ignored. */
void tui_report(struct tui *t, const struct report *r);
/* Every finished request: failing ones are kept for the "e" view, and
 * every one links its route to its backends for the filter. */
void tui_request(struct tui *t, const struct request *r, const struct verdict *v,
		 const char *route, double ts);
/* Read every pending key (and resize) without blocking; call it on every
 * event-loop wake-up.  TUI_QUIT after "q" or when the terminal is gone. */
enum tui_action tui_input(struct tui *t);

#endif
