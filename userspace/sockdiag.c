// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "log.h"
#include "sockdiag.h"

#define SD_RECV_BUF 32768
#define SD_TIMEOUT_S 2		/* the kernel answers at once; never hang on it */

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int diag_socket(void)
{
	struct timeval tv = { .tv_sec = SD_TIMEOUT_S };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A sock_diag socket that lives in pid's network namespace: a netlink
 * socket answers about the namespace it was created in, so this thread
 * enters pid's namespace for the socket() call and comes back.  Only this
 * thread moves (setns), and only for that call. */
static int diag_socket_in_ns_of(pid_t pid)
{
	char path[64];
	int target, self, fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return -errno;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		fd = -errno;
	} else if (same_file(target, self)) {
		fd = diag_socket();
	} else if (setns(target, CLONE_NEWNET)) {
		fd = -errno;
	} else {
		fd = diag_socket();
		if (setns(self, CLONE_NEWNET)) {
			/* Cannot happen short of a kernel bug: say so loudly. */
			log_err("cannot return to gatescope's network namespace: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
			fd = -EIO;
		}
	}
	if (self >= 0)
		close(self);
	close(target);
	return fd;
}

static int send_dump_request(int fd, uint8_t family, uint32_t mask)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = family,
		},
		.r = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = mask,
		},
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/* One message of the dump: 1 = more to come, 0 = done, -errno. */
static int on_message(const struct nlmsghdr *h, sd_sock_fn fn, void *ctx)
{
	const struct inet_diag_msg *m;
	struct sd_sock s;

	if (h->nlmsg_type == NLMSG_DONE)
		return 0;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error : -EPROTO;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return 1;
	m = NLMSG_DATA(h);
	s.state = m->idiag_state;
	s.port = ntohs(m->id.idiag_sport);
	s.inode = m->idiag_inode;
	fn(&s, ctx);
	return 1;
}

static int read_dump(int fd, sd_sock_fn fn, void *ctx)
{
	static char buf[SD_RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		if (len == 0)
			return -EPROTO;
		for (; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			int rc = on_message(h, fn, ctx);

			if (rc <= 0)
				return rc;
		}
	}
}

int sockdiag_tcp(pid_t pid, uint32_t mask, sd_sock_fn fn, void *ctx)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	int fd = diag_socket_in_ns_of(pid), rc = 0;

	if (fd < 0)
		return fd;
	for (size_t i = 0; i < sizeof(families) && !rc; i++) {
		rc = send_dump_request(fd, families[i], mask);
		if (!rc)
			rc = read_dump(fd, fn, ctx);
		/* No handler for the family: a kernel without IPv6 (no sockets
		 * there), or for AF_INET without inet_diag/tcp_diag (modules
		 * not loaded, as in a minimal VM): then sock_diag cannot say,
		 * and ENOENT must not read as "the process is gone". */
		if (rc == -ENOENT)
			rc = families[i] == AF_INET6 ? 0 : -EPROTONOSUPPORT;
	}
	close(fd);
	return rc;
}
