/* TLS capture set-up without root: which /proc/PID/maps lines are a libssl
 * to attach to, and which executables carry their TLS inside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "testlib.h"
#include "tls_attach.h"

static void test_maps_lines(void)
{
	char path[256];
	dev_t dev;
	ino_t ino;

	ASSERT_TRUE(tls_maps_line_libssl("7f2a1c000000-7f2a1c02a000 r--p 00000000 fe:01 2623481                    /usr/lib/x86_64-linux-gnu/libssl.so.3\n",
					 path, sizeof(path), &dev, &ino));
	ASSERT_STREQ(path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
	ASSERT_EQ(major(dev), 0xfe);
	ASSERT_EQ(minor(dev), 1);
	ASSERT_EQ(ino, 2623481);
	ASSERT_TRUE(tls_maps_line_libssl("7f2a1c000000-7f2a1c02a000 r-xp 00000000 08:02 77 /opt/ssl/lib/libssl.so.1.1\n",
					 path, sizeof(path), &dev, &ino));
	ASSERT_STREQ(path, "/opt/ssl/lib/libssl.so.1.1");
	/* NSS's libssl3.so is another API; libcrypto has no sessions. */
	ASSERT_TRUE(!tls_maps_line_libssl("7f00-7f01 r-xp 00000000 08:02 78 /usr/lib/libssl3.so\n",
					  path, sizeof(path), &dev, &ino));
	ASSERT_TRUE(!tls_maps_line_libssl("7f00-7f01 r-xp 00000000 08:02 79 /usr/lib/x86_64-linux-gnu/libcrypto.so.3\n",
					  path, sizeof(path), &dev, &ino));
	/* Replaced on disk (a package upgrade under a running gateway). */
	ASSERT_TRUE(!tls_maps_line_libssl("7f00-7f01 r-xp 00000000 08:02 80 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n",
					  path, sizeof(path), &dev, &ino));
	ASSERT_TRUE(!tls_maps_line_libssl("7ffd0000-7ffd1000 rw-p 00000000 00:00 0                          [stack]\n",
					  path, sizeof(path), &dev, &ino));
	ASSERT_TRUE(!tls_maps_line_libssl("7f00-7f01 rw-p 00000000 00:00 0\n", path, sizeof(path), &dev, &ino));
	ASSERT_TRUE(!tls_maps_line_libssl("garbage", path, sizeof(path), &dev, &ino));
}

/* A file holding these bytes somewhere in the middle. */
static void write_file(const char *path, const char *marker)
{
	FILE *f = fopen(path, "wb");
	char pad[4096];

	memset(pad, 'x', sizeof(pad));
	fwrite(pad, 1, sizeof(pad), f);
	if (marker)
		fputs(marker, f);
	fwrite(pad, 1, sizeof(pad), f);
	fclose(f);
}

static void test_static_kind(void)
{
	char dir[] = "/tmp/gs-tls-XXXXXX", path[64];
	const char *ssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

	if (!mkdtemp(dir)) {
		TL_FAIL("mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/go", dir);
	write_file(path, "crypto/tls.(*Conn).Read");
	ASSERT_STREQ(tls_static_kind(path), "Go crypto/tls");
	write_file(path, "BoringSSL");
	ASSERT_STREQ(tls_static_kind(path), "BoringSSL");
	write_file(path, "SSL_read is only a string here");
	ASSERT_TRUE(tls_static_kind(path) == NULL);
	write_file(path, NULL);
	ASSERT_TRUE(tls_static_kind(path) == NULL);
	unlink(path);
	ASSERT_TRUE(tls_static_kind(path) == NULL);	/* gone */
	rmdir(dir);
	/* An ELF that defines SSL_read (here libssl itself) has OpenSSL in it;
	 * a plain executable has none. */
	if (access(ssl, R_OK) == 0)
		ASSERT_STREQ(tls_static_kind(ssl), "OpenSSL");
	ASSERT_TRUE(tls_static_kind("/bin/true") == NULL);
}

int main(void)
{
	RUN_TEST(test_maps_lines);
	RUN_TEST(test_static_kind);
	TEST_MAIN_END();
}
