/* Command line: the documented forms parse into the options they say; bad
 * numbers, unknown options and missing values are CLI_USAGE with a message
 * that points to --help. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli.h"
#include "http.h"
#include "loader.h"
#include "testlib.h"
#include "tls_attach.h"
#include "util.h"

static struct options o;
static char *argv_copy[64];
static int argc_copy;
static char out_text[16384], err_text[16384];

/* Read what was written to fd since it was opened, into text. */
static void slurp(int fd, char *text, size_t size)
{
	ssize_t n = pread(fd, text, size - 1, 0);

	text[n > 0 ? n : 0] = '\0';
}

/* cli_parse("gatescope", args..., NULL) on writable copies (cli_parse
 * splits lists in place and keeps pointers into them, so they live until
 * the next call); stdout and stderr captured in out_text and err_text. */
static enum cli_result parse(const char *first, ...)
{
	char outpath[] = "/tmp/gs-unit-cli-out-XXXXXX", errpath[] = "/tmp/gs-unit-cli-err-XXXXXX";
	int outfd = mkstemp(outpath), errfd = mkstemp(errpath), saved_out, saved_err;
	enum cli_result r;
	va_list ap;

	for (int i = 0; i < argc_copy; i++)
		free(argv_copy[i]);
	argc_copy = 0;
	argv_copy[argc_copy++] = strdup("gatescope");
	va_start(ap, first);
	for (const char *a = first; a && argc_copy < 63; a = va_arg(ap, const char *))
		argv_copy[argc_copy++] = strdup(a);
	va_end(ap);
	argv_copy[argc_copy] = NULL;

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(outfd, 1);
	dup2(errfd, 2);
	r = cli_parse(argc_copy, argv_copy, &o);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	slurp(outfd, out_text, sizeof(out_text));
	slurp(errfd, err_text, sizeof(err_text));
	close(outfd);
	close(errfd);
	unlink(outpath);
	unlink(errpath);
	return r;
}

#define ARGS(...) parse(__VA_ARGS__, NULL)

static void test_defaults(void)
{
	ASSERT_EQ(parse(NULL), CLI_OK);
	ASSERT_EQ(o.npids, 0);
	ASSERT_EQ(o.ncomms, 0);
	ASSERT_EQ(o.nports, 0);
	ASSERT_NEAR(o.interval_s, 1, 0);
	ASSERT_NEAR(o.duration_s, 0, 0);
	ASSERT_TRUE(!o.output_set);
	ASSERT_EQ(o.events, EVENTS_NONE);
	ASSERT_EQ(o.max_conns, 16384);
	ASSERT_EQ(o.capture_bytes, GS_CAPTURE_DEFAULT);
	ASSERT_TRUE(!o.record && !o.replay && !o.backend_names && !o.verbose);
	ASSERT_TRUE(!o.bpf_stats);
	ASSERT_STREQ(err_text, "");
	ASSERT_EQ(ARGS("--bpf-stats"), CLI_OK);
	ASSERT_TRUE(o.bpf_stats);
}

static void test_targets(void)
{
	ASSERT_EQ(ARGS("-p", "1234"), CLI_OK);
	ASSERT_EQ(o.npids, 1);
	ASSERT_EQ(o.pids[0], 1234);
	ASSERT_EQ(ARGS("--pid", "1,22,333", "-p", "4194304"), CLI_OK);
	ASSERT_EQ(o.npids, 4);
	ASSERT_EQ(o.pids[0], 1);
	ASSERT_EQ(o.pids[2], 333);
	ASSERT_EQ(o.pids[3], 4194304);
	ASSERT_EQ(ARGS("--pid=42", "-p7"), CLI_OK);
	ASSERT_EQ(o.npids, 2);
	ASSERT_EQ(o.pids[0], 42);
	ASSERT_EQ(o.pids[1], 7);

	ASSERT_EQ(ARGS("-c", "nginx,haproxy", "--comm=envoy"), CLI_OK);
	ASSERT_EQ(o.ncomms, 3);
	ASSERT_STREQ(o.comms[0], "nginx");
	ASSERT_STREQ(o.comms[1], "haproxy");
	ASSERT_STREQ(o.comms[2], "envoy");
	ASSERT_EQ(ARGS("-c", "fifteen-chars-x"), CLI_OK);	/* TASK_COMM_LEN - 1 */

	ASSERT_EQ(ARGS("-l", "80,443", "--listen", "65535"), CLI_OK);
	ASSERT_EQ(o.nports, 3);
	ASSERT_EQ(o.ports[0], 80);
	ASSERT_EQ(o.ports[1], 443);
	ASSERT_EQ(o.ports[2], 65535);
}

static void test_reporting(void)
{
	ASSERT_EQ(ARGS("-i", "0.5", "-d", "60"), CLI_OK);
	ASSERT_NEAR(o.interval_s, 0.5, 1e-12);
	ASSERT_NEAR(o.duration_s, 60, 0);
	ASSERT_EQ(ARGS("--interval=0.1", "--duration", "1.5"), CLI_OK);
	ASSERT_NEAR(o.interval_s, 0.1, 1e-12);
	ASSERT_NEAR(o.duration_s, 1.5, 1e-12);
	ASSERT_EQ(ARGS("-i", "3600"), CLI_OK);
	ASSERT_NEAR(o.interval_s, 3600, 0);

	ASSERT_EQ(ARGS("--json"), CLI_OK);
	ASSERT_TRUE(o.output_set && o.output == OUTPUT_JSON);
	ASSERT_EQ(ARGS("-o", "json"), CLI_OK);
	ASSERT_TRUE(o.output_set && o.output == OUTPUT_JSON);
	ASSERT_EQ(ARGS("--output", "table"), CLI_OK);
	ASSERT_TRUE(o.output_set && o.output == OUTPUT_TABLE);
	ASSERT_EQ(ARGS("--output=json", "-o", "table"), CLI_OK);	/* last wins */
	ASSERT_EQ(o.output, OUTPUT_TABLE);

	ASSERT_EQ(ARGS("-e", "errors"), CLI_OK);
	ASSERT_EQ(o.events, EVENTS_ERRORS);
	ASSERT_EQ(ARGS("--events", "504"), CLI_OK);
	ASSERT_EQ(o.events, EVENTS_504);
	ASSERT_EQ(ARGS("--events=slow"), CLI_OK);
	ASSERT_EQ(o.events, EVENTS_SLOW);
	ASSERT_EQ(ARGS("-e", "all"), CLI_OK);
	ASSERT_EQ(o.events, EVENTS_ALL);

	ASSERT_EQ(ARGS("--backend-names", "/etc/gs-names", "--max-conns", "64",
		       "--capture-bytes", "4096"), CLI_OK);
	ASSERT_STREQ(o.backend_names, "/etc/gs-names");
	ASSERT_EQ(o.max_conns, 64);
	ASSERT_EQ(o.capture_bytes, 4096);
	ASSERT_EQ(ARGS("--max-conns=4194304", "--capture-bytes=16"), CLI_OK);
	ASSERT_EQ(o.max_conns, 4194304);
	ASSERT_EQ(o.capture_bytes, 16);
}

static void test_recording_and_misc(void)
{
	ASSERT_EQ(ARGS("--record", "inc.gsr", "-d", "30"), CLI_OK);
	ASSERT_STREQ(o.record, "inc.gsr");
	ASSERT_TRUE(!o.replay);
	ASSERT_EQ(ARGS("--replay=inc.gsr", "--json"), CLI_OK);
	ASSERT_STREQ(o.replay, "inc.gsr");
	ASSERT_TRUE(!o.record);
	ASSERT_EQ(ARGS("-v"), CLI_OK);
	ASSERT_TRUE(o.verbose);
	ASSERT_EQ(ARGS("--verbose"), CLI_OK);
	ASSERT_TRUE(o.verbose);
	/* The EXAMPLES of --help, all of them. */
	ASSERT_EQ(ARGS("-c", "nginx", "--json", "-d", "60"), CLI_OK);
	ASSERT_EQ(ARGS("-p", "1234", "-e", "errors"), CLI_OK);
	ASSERT_EQ(ARGS("--record", "inc.gsr", "-d", "30"), CLI_OK);
	ASSERT_EQ(ARGS("--replay", "inc.gsr", "--json"), CLI_OK);
	/* Grouped short options. */
	ASSERT_EQ(ARGS("-vp", "9"), CLI_OK);
	ASSERT_TRUE(o.verbose && o.npids == 1 && o.pids[0] == 9);
	/* HTTPS through libssl: on unless switched off. */
	ASSERT_EQ(ARGS("-d", "1"), CLI_OK);
	ASSERT_EQ(o.tls, TLS_AUTO);
	ASSERT_EQ(ARGS("--tls", "off"), CLI_OK);
	ASSERT_EQ(o.tls, TLS_OFF);
	ASSERT_EQ(ARGS("--tls=auto"), CLI_OK);
	ASSERT_EQ(o.tls, TLS_AUTO);
}

static void expect_usage(const char *mention, const char *a, const char *b, const char *c);

/* Every capture path by name, and the names older releases accepted. */
static void test_capture_path(void)
{
	static const struct { const char *arg; int path; } cases[] = {
		{ "auto", CAPTURE_AUTO }, { "tracepoint", CAPTURE_TRACEPOINT },
		{ "fentry", CAPTURE_FENTRY }, { "kprobe", CAPTURE_KPROBE },
		{ "syscalls", CAPTURE_SYSCALL }, { "off", CAPTURE_OFF },
		{ "socket", CAPTURE_TRACEPOINT }, { "syscall", CAPTURE_SYSCALL },
	};

	ASSERT_EQ(ARGS("-d", "1"), CLI_OK);
	ASSERT_EQ(o.capture_path, CAPTURE_AUTO);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ASSERT_EQ(ARGS("--capture-path", cases[i].arg), CLI_OK);
		ASSERT_EQ(o.capture_path, cases[i].path);
		/* The name the loader prints parses back to the same path. */
		ASSERT_EQ(ARGS("--capture-path", capture_path_arg(cases[i].path)), CLI_OK);
		ASSERT_EQ(o.capture_path, cases[i].path);
	}
	expect_usage("'kprobes'", "--capture-path", "kprobes", NULL);
	expect_usage("'fexit'", "--capture-path=fexit", NULL, NULL);
}

static void test_help_version(void)
{
	char want[64];

	ASSERT_EQ(ARGS("-h"), CLI_EXIT_OK);
	ASSERT_TRUE(strstr(out_text, "Usage: gatescope") && strstr(out_text, "EXAMPLES"));
	ASSERT_EQ(ARGS("--help"), CLI_EXIT_OK);
	ASSERT_TRUE(strstr(out_text, "--replay FILE") != NULL);
	ASSERT_STREQ(err_text, "");
	snprintf(want, sizeof(want), "gatescope %s\n", GS_VERSION);
	ASSERT_EQ(ARGS("-V"), CLI_EXIT_OK);
	ASSERT_STREQ(out_text, want);
	ASSERT_EQ(ARGS("--version"), CLI_EXIT_OK);
	ASSERT_STREQ(out_text, want);
}

/* args must be CLI_USAGE, with a message on stderr that names what was
 * wrong (mention) and points to --help; nothing on stdout. */
static void expect_usage(const char *mention, const char *a, const char *b, const char *c)
{
	enum cli_result r = parse(a, b, c, NULL);

	if (r != CLI_USAGE) {
		TL_FAIL("%s %s %s: result %d, expected CLI_USAGE", a, b ? b : "", c ? c : "", r);
		return;
	}
	if (!strstr(err_text, "gatescope: ") || !strstr(err_text, "--help") ||
	    (mention && !strstr(err_text, mention)))
		TL_FAIL("%s %s %s: message should name '%s': %s", a, b ? b : "", c ? c : "",
			mention ? mention : "", err_text);
	if (out_text[0])
		TL_FAIL("%s: usage error wrote to stdout: %s", a, out_text);
}

static void test_bad_numbers(void)
{
	static const char *bad_pids[] = {
		"0", "-1", "+5", " 5", "abc", "12x", "1.5", "0x10", "4194305",
		"99999999999999999999", "1,abc", "1,0",
	};
	static const char *bad_ports[] = { "0", "65536", "-80", "http", "80,99999", "8o" };
	static const char *bad_intervals[] = {
		"0", "0.05", "-1", "abc", "1s", "nan", "inf", "3601", "1e9", "0.5x",
	};
	static const char *bad_durations[] = { "0", "-5", "x", "inf", "nan", "1e99", "10m" };

	for (size_t i = 0; i < ARRAY_SIZE(bad_pids); i++)
		expect_usage("--pid", "-p", bad_pids[i], NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_ports); i++)
		expect_usage("--listen", "--listen", bad_ports[i], NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_intervals); i++)
		expect_usage(bad_intervals[i], "-i", bad_intervals[i], NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_durations); i++)
		expect_usage(bad_durations[i], "--duration", bad_durations[i], NULL);
	expect_usage("--max-conns", "--max-conns", "63", NULL);
	expect_usage("--max-conns", "--max-conns", "4194305", NULL);
	expect_usage("--max-conns", "--max-conns", "1k", NULL);
	expect_usage("--capture-bytes", "--capture-bytes", "15", NULL);
	expect_usage("--capture-bytes", "--capture-bytes", "4097", NULL);
	expect_usage("--tls", "--tls", "on", NULL);
	expect_usage("--tls", "--tls", "", NULL);
	/* Empty values. */
	expect_usage("--pid", "--pid=", NULL, NULL);
	expect_usage("--comm", "-c", "", NULL);
	expect_usage("--interval", "-i", "", NULL);
}

static void test_bad_options(void)
{
	expect_usage("--bogus", "--bogus", NULL, NULL);
	expect_usage("-x", "-x", NULL, NULL);
	expect_usage("--re", "--re", "x", NULL);		/* ambiguous: record, replay */
	expect_usage("-p", "-p", NULL, NULL);			/* missing value */
	expect_usage("--interval", "--interval", NULL, NULL);
	expect_usage("stray", "-v", "stray", NULL);		/* positional argument */
	expect_usage("xml", "-o", "xml", NULL);
	expect_usage("bogus", "-e", "bogus", NULL);
	expect_usage("longer", "-c", "sixteen-chars-xx", NULL);	/* > 15: never matches */
	expect_usage("--replay", "--record", "a", "--replay=b");
	expect_usage("--bpf-stats", "--bpf-stats", "--replay", "a");
	expect_usage("--json=yes", "--json=yes", NULL, NULL);	/* takes no value */
	expect_usage("--help=x", "--help=x", NULL, NULL);	/* not "-h" */
	expect_usage("'-x'", "--json", "-vx", NULL);
	expect_usage("'-:'", "-:", NULL, NULL);
}

/* A failed parse must not leak into the next one: "-xv" stops at x with v
 * still pending inside getopt. */
static void test_parse_twice(void)
{
	ASSERT_EQ(ARGS("-xv"), CLI_USAGE);
	ASSERT_EQ(ARGS("--json"), CLI_OK);
	ASSERT_TRUE(!o.verbose);
	ASSERT_EQ(ARGS("-Vv"), CLI_EXIT_OK);
	ASSERT_EQ(ARGS("-p", "5"), CLI_OK);
	ASSERT_TRUE(!o.verbose);
	ASSERT_EQ(o.npids, 1);
	/* And options parsed before do not survive into the next result. */
	ASSERT_EQ(ARGS("-c", "a,b", "-l", "80", "-e", "all"), CLI_OK);
	ASSERT_EQ(ARGS("-d", "5"), CLI_OK);
	ASSERT_TRUE(o.ncomms == 0 && o.nports == 0 && o.events == EVENTS_NONE);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_defaults);
	RUN_TEST(test_targets);
	RUN_TEST(test_reporting);
	RUN_TEST(test_recording_and_misc);
	RUN_TEST(test_capture_path);
	RUN_TEST(test_help_version);
	RUN_TEST(test_bad_numbers);
	RUN_TEST(test_bad_options);
	RUN_TEST(test_parse_twice);
	for (int i = 0; i < argc_copy; i++)
		free(argv_copy[i]);
	TEST_MAIN_END();
}
