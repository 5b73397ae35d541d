/* Endpoint parsing, the --backend-names and --route-map files (hostile
 * ones too: devices, FIFOs, directories, huge files, long lines, a 100k-line
 * reload), and the terminal sanitiser. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "pipeline.h"
#include "routes.h"
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

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL hostile config file: still reading after 5 s\n";

	(void)sig;
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

/* Load path as --backend-names and as --route-map into fresh pipelines;
 * both must fail within 5 s with a message. */
static void expect_refused(const char *path, const char *what)
{
	static struct options o = {
		.interval_s = 1, .output = OUTPUT_JSON, .max_conns = 1024, .top_routes = 50,
	};
	static struct pipeline p;
	FILE *null = fopen("/dev/null", "w");

	signal(SIGALRM, on_alarm);
	alarm(5);
	if (pipeline_init(&p, &o, null) == 0) {
		if (pipeline_load_backend_names(&p, path) != -1)
			TL_FAIL("--backend-names %s (%s) accepted", path, what);
		pipeline_free(&p);
	}
	o.route_map = path;
	if (pipeline_init(&p, &o, null) != -1)
		TL_FAIL("--route-map %s (%s) accepted", path, what);
	pipeline_free(&p);
	o.route_map = NULL;
	alarm(0);
	fclose(null);
}

static void test_hostile_config_files(void)
{
	char dir[] = "/tmp/gs-unit-cfg-XXXXXX", path[300];
	static char line[4096];
	int fd;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	expect_refused("/dev/zero", "endless device");
	expect_refused("/dev/null", "device");
	expect_refused(dir, "directory");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ASSERT_EQ(mkfifo(path, 0600), 0);
	expect_refused(path, "FIFO without a writer");
	unlink(path);
	/* a sparse regular file larger than the limit */
	snprintf(path, sizeof(path), "%s/huge", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ASSERT_TRUE(fd >= 0 && ftruncate(fd, CONFIG_FILE_MAX + 1) == 0);
	close(fd);
	expect_refused(path, "larger than the limit");
	unlink(path);
	/* one endless line, and a NUL byte */
	snprintf(path, sizeof(path), "%s/long", dir);
	memset(line, 'a', sizeof(line) - 1);
	line[0] = '/';
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ASSERT_TRUE(fd >= 0 && write(fd, line, sizeof(line) - 1) > 0);
	close(fd);
	expect_refused(path, "line too long");
	unlink(path);
	snprintf(path, sizeof(path), "%s/nul", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ASSERT_TRUE(fd >= 0 && write(fd, "198.18.2.2:80 a\0b\n", 18) == 18);
	close(fd);
	expect_refused(path, "NUL byte");
	unlink(path);
	rmdir(dir);
}

/* A 100k-line --backend-names (re)loads in well under a second (it took
 * ~10 s, quadratic, stalling the event loop on SIGHUP); a reload replaces
 * the names, and a failed reload keeps the old ones. */
static void test_backend_names_scale(void)
{
	enum { LINES = 100000 };
	static struct pipeline p;
	size_t cap = LINES * 40, len = 0;
	char *text = malloc(cap);
	struct timespec t0, t1;
	struct backend *b;
	double secs;

	if (!text)
		return;
	for (int i = 0; i < LINES; i++)
		len += snprintf(text + len, cap - len, "10.%d.%d.%d:80 be-%d\n", i >> 16,
				(i >> 8) & 255, i & 255, i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(load_names(text, &p), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 3.0)	/* ~0.1 s here, ~1.4 s under ASan; ~10 s when quadratic */
		TL_FAIL("loading %d names took %.2f s", LINES, secs);
	ASSERT_EQ(p.agg.nnames, LINES);
	b = agg_backend(&p.agg, "10.1.134.159:80");	/* i = 99999 */
	ASSERT_TRUE(b && !strcmp(b->name, "be-99999"));
	pipeline_free(&p);
	free(text);
}

static void test_backend_names_reload(void)
{
	static struct pipeline p;
	struct backend *a, *b;
	char path[] = "/tmp/gs-names-XXXXXX";
	int fd;

	ASSERT_EQ(load_names("198.18.2.2:80 a\n198.18.2.3:80 b\n198.18.2.2:80 a2\n", &p), 0);
	a = agg_backend(&p.agg, "198.18.2.2:80");
	b = agg_backend(&p.agg, "198.18.2.3:80");
	ASSERT_STREQ(a->name, "a2");		/* the later line wins */
	ASSERT_STREQ(b->name, "b");
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0 && write(fd, "198.18.2.3:80 bee\n", 18) == 18);
	close(fd);
	ASSERT_EQ(pipeline_load_backend_names(&p, path), 0);
	ASSERT_STREQ(a->name, "");		/* no longer listed */
	ASSERT_STREQ(b->name, "bee");
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_TRUE(fd >= 0 && write(fd, "198.18.2.2:80 x\nbogus\n", 22) == 22);
	close(fd);
	ASSERT_EQ(pipeline_load_backend_names(&p, path), -1);
	ASSERT_STREQ(a->name, "");		/* a failed reload changes nothing */
	ASSERT_STREQ(b->name, "bee");
	unlink(path);
	pipeline_free(&p);
}

/* Path (matrix) parameters never reach a route name, with or without a
 * --route-map prefix that names the route. */
static void test_route_names_without_path_params(void)
{
	char path[] = "/tmp/gs-routes-XXXXXX", name[ROUTE_LEN];
	struct routes rt;
	int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0 && write(fd, "/api/v1 orders-api\n", 19) == 19);
	close(fd);
	ASSERT_EQ(routes_init(&rt, 0, 0), 0);
	routes_name(&rt, "GET", "h", "/shop;jsessionid=S3CR3T/7?k=v", name, sizeof(name));
	ASSERT_STREQ(name, "GET h/shop/{id}");
	ASSERT_EQ(routes_load_map(&rt, path), 0);
	routes_name(&rt, "GET", "h", "/api;jsessionid=S3CR3T/v1/7?k=v", name, sizeof(name));
	ASSERT_STREQ(name, "GET orders-api");
	routes_name(&rt, "GET", "h", "/api/v2;x=1", name, sizeof(name));
	ASSERT_STREQ(name, "GET h/api/v2");
	routes_free(&rt);
	unlink(path);
}

/* The endpoint forms printf made, without printf: every octet and port
 * width, IPv4-mapped IPv6, IPv6, and buffers too small for the fast path. */
static void test_format_endpoint(void)
{
	const uint8_t v4[16] = { 10, 0, 200, 7 }, zero[16] = { 0 };
	const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 255, 255, 255, 255 };
	const uint8_t v6[16] = { 0xfd, 0x00, 0x00, 0x5c, [15] = 1 };
	char out[GS_ADDR_STRLEN], small[8];

	format_endpoint(out, sizeof(out), AF_INET, v4, 8080);
	ASSERT_STREQ(out, "10.0.200.7:8080");
	format_endpoint(out, sizeof(out), AF_INET, zero, 0);
	ASSERT_STREQ(out, "0.0.0.0:0");
	format_endpoint(out, sizeof(out), AF_INET6, mapped, 65535);
	ASSERT_STREQ(out, "255.255.255.255:65535");
	format_endpoint(out, sizeof(out), AF_INET6, v6, 443);
	ASSERT_STREQ(out, "[fd00:5c::1]:443");
	format_endpoint(small, sizeof(small), AF_INET, v4, 8080);
	ASSERT_STREQ(small, "10.0.20");
	ASSERT_EQ(format_port_suffix(out, sizeof(out), "[::]", 9), 6);
	ASSERT_STREQ(out, "[::]:9");
	ASSERT_EQ(format_port_suffix(small, sizeof(small), "0.0.0.0", 80), 7);
	ASSERT_STREQ(small, "0.0.0.0");
}

/* Route names come from a cache keyed by the whole (method, host, target):
 * requests that differ in any part, or only where a hash could collide,
 * never share a name; a name asked twice is the same; a shorter buffer
 * gets the name cut as printf cut it. */
static void check_route_name_cache(size_t cache_slots)
{
	char name[ROUTE_LEN], cut[8];
	struct routes rt;

	ASSERT_EQ(routes_init(&rt, 0, cache_slots), 0);
	for (int round = 0; round < 2; round++) {
		routes_name(&rt, "GET", "a", "/x/1", name, sizeof(name));
		ASSERT_STREQ(name, "GET a/x/{id}");
		routes_name(&rt, "POST", "a", "/x/1", name, sizeof(name));
		ASSERT_STREQ(name, "POST a/x/{id}");
		routes_name(&rt, "GET", "b", "/x/1", name, sizeof(name));
		ASSERT_STREQ(name, "GET b/x/{id}");
		routes_name(&rt, "GET", "", "/x/y", name, sizeof(name));
		ASSERT_STREQ(name, "GET -/x/y");
		routes_name(&rt, "GET", NULL, "/x/y", name, sizeof(name));
		ASSERT_STREQ(name, "GET -/x/y");
		/* The same bytes split differently between host and target. */
		routes_name(&rt, "GET", "a/x", "/y", name, sizeof(name));
		ASSERT_STREQ(name, "GET a/x/y");
		routes_name(&rt, "GET", "a", "/x/y", name, sizeof(name));
		ASSERT_STREQ(name, "GET a/x/y");
	}
	/* More distinct requests than the cache has slots: every name right. */
	for (unsigned i = 0; i < 3 * rt.cache_slots; i++) {
		char path[32], want[64];

		snprintf(path, sizeof(path), "/p%u/q", i);
		snprintf(want, sizeof(want), "GET h/p%u/q", i);
		routes_name(&rt, "GET", "h", path, name, sizeof(name));
		ASSERT_STREQ(name, want);
	}
	routes_name(&rt, "GET", "host", "/x", cut, sizeof(cut));
	ASSERT_STREQ(cut, "GET hos");
	routes_free(&rt);
}

/* The default cache, and one of a few slots (the fuzzing harness's): the
 * names are the same whatever the cache holds. */
static void test_route_name_cache(void)
{
	check_route_name_cache(0);
	check_route_name_cache(2);
}

static void test_term_safe(void)
{
	char buf[64];
	char s[] = "ok\x1b]0;pwned\x07\r\n\x9b" "2J\x7f";

	ASSERT_STREQ(term_safe("nginx: worker", buf, sizeof(buf)), "nginx: worker");
	ASSERT_STREQ(term_safe("\x1b[2Jx", buf, sizeof(buf)), "?[2Jx");
	ASSERT_STREQ(term_safe("caf\xc3\xa9", buf, sizeof(buf)), "caf??");
	ASSERT_STREQ(term_safe("abcdef", buf, 4), "abc");
	ASSERT_STREQ(term_safe(NULL, buf, sizeof(buf)), "");
	term_sanitize(s);
	ASSERT_STREQ(s, "ok?]0;pwned????2J?");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_parse_endpoint);
	RUN_TEST(test_backend_names_file);
	RUN_TEST(test_hostile_config_files);
	RUN_TEST(test_backend_names_scale);
	RUN_TEST(test_backend_names_reload);
	RUN_TEST(test_route_names_without_path_params);
	RUN_TEST(test_format_endpoint);
	RUN_TEST(test_route_name_cache);
	RUN_TEST(test_term_safe);
	TEST_MAIN_END();
}
