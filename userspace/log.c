// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

static bool verbose, quiet;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "gatescope: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define DEFINE_LOG(name, prefix, cond)			\
	void name(const char *fmt, ...)			\
	{						\
		va_list ap;				\
		if (!(cond))				\
			return;				\
		va_start(ap, fmt);			\
		vlog(prefix, fmt, ap);			\
		va_end(ap);				\
	}

DEFINE_LOG(log_err, "error: ", !quiet)
DEFINE_LOG(log_warn, "warning: ", !quiet)
DEFINE_LOG(log_info, "", !quiet)
DEFINE_LOG(log_debug, "debug: ", verbose && !quiet)

/* libbpf is chatty about things we handle (feature probes); show it only
 * with -v, and always show its warnings. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (level == LIBBPF_INFO && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void log_init(bool v)
{
	verbose = v;
	libbpf_set_print(libbpf_print);
}

void log_quiet(bool q)
{
	quiet = q;
}

bool log_verbose(void)
{
	return verbose;
}
