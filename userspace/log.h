/* SPDX-License-Identifier: MIT */
/* Logging: one place for messages to stderr and the libbpf print callback. */
#ifndef GS_LOG_H
#define GS_LOG_H

#include <stdbool.h>

void log_init(bool verbose);
/* No messages at all (fuzzing harnesses replay millions of broken inputs). */
void log_quiet(bool quiet);
bool log_verbose(void);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
