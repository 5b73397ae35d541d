/* Endpoint parsing and the --backend-names file. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli.h"
#include "pipeline.h"
#include "testlib.h"
#include "util.h"

static void expect_endpoint(const char *in, const char *want)
{
	char out[GS_ADDR_STRLEN] = "";
	bool ok = parse_endpoint(in, out, sizeof(out));

	if (want) {
		ASSERT_TRUE(ok);
		ASSERT_STREQ(out, want);
	} else if (ok) {
		TL_FAIL("\"%s\" accepted as \"%s\"", in, out);
	}
}

static void test_parse_endpoint(void)
{
	expect_endpoint("198.18.2.2:8080", "198.18.2.2:8080");
	expect_endpoint("[fd00:5c::1]:80", "[fd00:5c::1]:80");
	/* Canonical form: compares equal to what gatescope prints. */
	expect_endpoint("[fd00:005c:0::0001]:80", "[fd00:5c::1]:80");
	expect_endpoint("[::ffff:10.0.0.1]:443", "10.0.0.1:443");
	expect_endpoint("api-backend", NULL);
	expect_endpoint("198.18.2.2", NULL);
	expect_endpoint("198.18.2.2:", NULL);
	expect_endpoint("198.18.2.2:0", NULL);
	expect_endpoint("198.18.2.2:65536", NULL);
	expect_endpoint("198.18.2.2:80x", NULL);
	expect_endpoint("198.18.2.256:80", NULL);
	expect_endpoint("fd00::1:80", NULL);		/* IPv6 needs brackets */
	expect_endpoint("[198.18.2.2]:80", NULL);
	expect_endpoint(":80", NULL);
	expect_endpoint("[]:80", NULL);
}

/* Loads FILE's text as --backend-names into a fresh pipeline. */
static int load_names(const char *text, struct pipeline *p)
{
	char path[] = "/tmp/gs-names-XXXXXX";
	static struct options o = {
		.interval_s = 1, .output = OUTPUT_JSON, .max_conns = 1024, .top_routes = 50,
	};
	int fd = mkstemp(path), rc;
	static FILE *null;

	if (!null)
		null = fopen("/dev/null", "w");
	if (fd < 0 || !null || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    pipeline_init(p, &o, null)) {
		TL_FAIL("setup");
		return -2;
	}
	close(fd);
	rc = pipeline_load_backend_names(p, path);
	unlink(path);
	return rc;
}

static void test_backend_names_file(void)
{
	static struct pipeline p;

	ASSERT_EQ(load_names("# backends\n\n198.18.2.2:8080 orders\n[fd00::2]:80 users\n", &p), 0);
	ASSERT_EQ(p.agg.nnames, 2);
	ASSERT_STREQ(p.agg.names[1].label, "[fd00::2]:80");
	ASSERT_STREQ(p.agg.names[1].name, "users");
	pipeline_free(&p);
	/* A label that is no endpoint would never match: an error, not a
	 * silently useless name. */
	ASSERT_EQ(load_names("orders-svc orders\n", &p), -1);
	pipeline_free(&p);
	ASSERT_EQ(load_names("198.18.2.2:8080\n", &p), -1);
	pipeline_free(&p);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_parse_endpoint);
	RUN_TEST(test_backend_names_file);
	TEST_MAIN_END();
}
