// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gatescope.skel.h"
#include "loader.h"
#include "log.h"
#include "util.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define RING_MAX (256u << 20)	/* bytes: the largest ring buffer asked for */

/* Is cap in the effective set? */
static bool cap_effective(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK (not the memory
 * cgroup): raising it needs CAP_SYS_RESOURCE unless it is unlimited. */
static bool needs_sys_resource(void)
{
	struct utsname u;
	struct rlimit r;
	unsigned major = 0, minor = 0;

	if (getrlimit(RLIMIT_MEMLOCK, &r) == 0 && r.rlim_cur == RLIM_INFINITY)
		return false;
	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major < 5 || (major == 5 && minor < 11);
}

/* The capabilities that are missing, "CAP_BPF, CAP_PERFMON" ("" if none):
 * capabilities, not euid 0, decide (a root shell in a container may lack
 * CAP_BPF; a non-root service may hold exactly these). */
size_t loader_missing_caps(char *buf, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	const struct { int cap; const char *name; bool need; } caps[] = {
		{ CAP_BPF, "CAP_BPF", true },
		{ CAP_PERFMON, "CAP_PERFMON", true },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN", true },
		{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE", needs_sys_resource() },
	};
	bool sys_admin;
	size_t o = 0, n = 0;

	buf[0] = '\0';
	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(buf, len, "all (capget: %s)", strerror(errno));
		return 1;
	}
	/* CAP_SYS_ADMIN still grants what CAP_BPF and CAP_PERFMON split off. */
	sys_admin = cap_effective(data, CAP_SYS_ADMIN);
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		if (!caps[i].need || cap_effective(data, caps[i].cap))
			continue;
		if (sys_admin && (caps[i].cap == CAP_BPF || caps[i].cap == CAP_PERFMON))
			continue;
		o += snprintf(buf + o, o < len ? len - o : 0, "%s%s", n ? ", " : "", caps[i].name);
		n++;
	}
	return n;
}

int loader_check_env(void)
{
	char missing[128];

	if (loader_missing_caps(missing, sizeof(missing))) {
		log_err("missing %s to load BPF programs (needs CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN%s); try: sudo gatescope, or --replay FILE",
			missing, needs_sys_resource() ? ", CAP_SYS_RESOURCE" : "");
		return -1;
	}
	if (access(BTF_PATH, R_OK)) {
		log_err("kernel has no BTF (%s missing): needs a kernel built with CONFIG_DEBUG_INFO_BTF=y", BTF_PATH);
		return -1;
	}
	return 0;
}

int loader_add_port(struct loader *l, uint16_t port)
{
	uint8_t one = 1;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.listen_ports), &port, &one, BPF_ANY)) {
		log_err("cannot add listen port %u: %s", port, strerror(errno));
		return -1;
	}
	return 0;
}

const char *capture_path_name(enum capture_path p)
{
	switch (p) {
	case CAPTURE_SOCKET: return "socket tracepoints";
	case CAPTURE_SYSCALL: return "syscall tracepoints (fallback)";
	case CAPTURE_OFF: return "off";
	default: return "auto";
	}
}

/* Does the kernel have this tracepoint as a BTF-typed (tp_btf) hook? */
static bool kernel_has_tp(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

static void set_autoload(struct bpf_object *obj, const char *prefix, bool on)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
		if (!strncmp(bpf_program__name(prog), prefix, strlen(prefix)))
			bpf_program__set_autoload(prog, on);
}

void loader_plan(const struct btf *vmlinux, enum capture_path want, struct hook_plan *p)
{
	p->socket_tps = kernel_has_tp(vmlinux, "tcp_sendmsg_locked") &&
			kernel_has_tp(vmlinux, "sock_send_length") &&
			kernel_has_tp(vmlinux, "sock_recv_length");
	p->data_ready = kernel_has_tp(vmlinux, "sk_data_ready");
	p->error_report = kernel_has_tp(vmlinux, "inet_sk_error_report");
	p->capture = want;
	if (want == CAPTURE_AUTO || (want == CAPTURE_SOCKET && !p->socket_tps))
		p->capture = p->socket_tps ? CAPTURE_SOCKET : CAPTURE_SYSCALL;
}

void loader_apply_plan(struct gatescope_bpf *skel, const struct hook_plan *p)
{
	bool socket = p->capture == CAPTURE_SOCKET;

	bpf_program__set_autoload(skel->progs.gs_sendmsg, socket);
	bpf_program__set_autoload(skel->progs.gs_send_length, socket);
	bpf_program__set_autoload(skel->progs.gs_recv_length, socket);
	set_autoload(skel->obj, "gs_sys_", p->capture == CAPTURE_SYSCALL);
	skel->rodata->http_enabled = p->capture != CAPTURE_OFF;
	bpf_program__set_autoload(skel->progs.gs_data_ready, p->data_ready);
	bpf_program__set_autoload(skel->progs.gs_error_report, p->error_report);
}

/* Pick the hooks this kernel has; say in one line what is degraded. */
static enum capture_path choose_hooks(struct gatescope_bpf *skel, enum capture_path want)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	struct hook_plan p;

	loader_plan(vmlinux, want, &p);
	btf__free(vmlinux);
	if (want == CAPTURE_SOCKET && !p.socket_tps)
		log_warn("--capture-path socket: this kernel lacks the tcp_sendmsg_locked / sock_*_length tracepoints (6.18 has them, 6.12 not all); using the raw syscall tracepoints");
	else if (want == CAPTURE_AUTO && !p.socket_tps)
		log_info("degraded: no socket I/O tracepoints on this kernel; HTTP capture uses the raw syscall tracepoints (slower for every process)");
	if (!p.data_ready)
		log_info("degraded: no sk_data_ready tracepoint; gateway_stall evidence (unread response bytes) unavailable");
	if (!p.error_report)
		log_info("degraded: no inet_sk_error_report tracepoint; socket errno not recorded");
	loader_apply_plan(skel, &p);
	return p.capture;
}

/* Bytes each CPU queues before it wakes userspace: with every CPU just
 * under it, a quarter of the ring is in use. */
static uint64_t wakeup_share(uint64_t ring_bytes)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t share = ring_bytes / 4 / (ncpu > 0 ? ncpu : 1);

	return share < 4096 ? 4096 : share;
}

/* The ring holds the close events of a quarter of the connection table at
 * once (a power of two, at least the 4 MiB the object declares): a burst
 * of closes (a gateway restart, a client fleet going away) outruns the
 * reader at first, and every event that does not fit is lost. */
static uint32_t ring_bytes(uint32_t declared, uint32_t max_conns)
{
	uint64_t want = (uint64_t)max_conns / 4 * (sizeof(struct gs_conn_event) + 8), size = declared;

	while (size < want && size < RING_MAX)
		size <<= 1;
	return size;
}

static int fill_filters(struct loader *l, const struct loader_opts *o)
{
	uint8_t one = 1;

	for (size_t i = 0; i < o->npids; i++)
		if (loader_add_pid(l, o->pids[i]))
			return -1;
	for (size_t i = 0; i < o->ncomms; i++) {
		char key[GS_COMM_LEN] = {0};

		strncpy(key, o->comms[i], sizeof(key) - 1);
		if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.traced_comms), key, &one, BPF_ANY)) {
			log_err("cannot add process name %s: %s", o->comms[i], strerror(errno));
			return -1;
		}
	}
	for (size_t i = 0; i < o->nports; i++)
		if (loader_add_port(l, o->listen_ports[i]))
			return -1;
	return 0;
}

/* Bounded walk: one syscall per entry (kernels before 6.6). */
static uint64_t walk_conns(const struct loader *l)
{
	int fd = bpf_map__fd(l->skel->maps.conns);
	uint64_t key, next, n = 0;
	void *prev = NULL;

	while (n < l->max_conns && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* The kernel's element count of conns, through the map iterator
 * (bpf/conncount.bpf.c); -1 if the kernel does not keep one. */
static int64_t counted_conns(const struct loader *l)
{
	struct bpf_link *link = l->skel->links.gs_count_conns;
	int64_t n = -1;
	int fd;

	if (!link || (fd = bpf_iter_create(bpf_link__fd(link))) < 0)
		return -1;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		n = -1;
	close(fd);
	return n;
}

uint64_t loader_live_conns(const struct loader *l)
{
	int64_t n = l->conns_counted ? counted_conns(l) : -1;

	return n >= 0 ? (uint64_t)n : walk_conns(l);
}

/* Does this kernel count the conns map's entries?  Says so once if not. */
static bool probe_conn_count(struct loader *l)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_map__fd(l->skel->maps.conns), &info, &len))
		return false;
	l->skel->bss->conns_map_id = info.id;
	if (counted_conns(l) >= 0)
		return true;
	log_debug("no map element count (kernel before 6.6): evictions are found by walking the connection table");
	return false;
}

int loader_start(struct loader *l, const struct loader_opts *o)
{
	struct gatescope_bpf *skel;
	int err;

	memset(l, 0, sizeof(*l));
	skel = gatescope_bpf__open();
	if (!skel) {
		log_err("cannot open BPF object: %s", strerror(errno));
		return -1;
	}
	l->skel = skel;
	skel->rodata->filter_pid = o->filter_pid;
	/* When only some processes are traced, only their client-facing ports
	 * make a connection downstream; with no filter, every accept does. */
	skel->rodata->filter_listen = o->filter_pid || o->nports > 0;
	bpf_map__set_max_entries(skel->maps.events,
				 ring_bytes(bpf_map__max_entries(skel->maps.events), o->max_conns));
	skel->rodata->wakeup_bytes = wakeup_share(bpf_map__max_entries(skel->maps.events));
	skel->rodata->capture_bytes = o->capture_bytes;
	l->max_conns = o->max_conns;
	l->capture = choose_hooks(skel, o->capture);
	tls_configure(&l->tls, skel, o->tls, l->capture != CAPTURE_OFF);
	bpf_map__set_max_entries(skel->maps.conns, o->max_conns);

	err = gatescope_bpf__load(skel);
	if (err) {
		log_err("cannot load BPF programs: %s (run with -v for the verifier log)", strerror(-err));
		goto fail;
	}
	if (fill_filters(l, o))
		goto fail;
	err = gatescope_bpf__attach(skel);
	if (err) {
		log_err("cannot attach BPF programs: %s", strerror(-err));
		goto fail;
	}
	l->conns_counted = probe_conn_count(l);
	return 0;
fail:
	loader_stop(l);
	return -1;
}

void loader_stop(struct loader *l)
{
	tls_detach(&l->tls);
	gatescope_bpf__destroy(l->skel);	/* detaches links, closes maps */
	l->skel = NULL;
}

int loader_add_pid(struct loader *l, pid_t pid)
{
	uint32_t key = pid;
	uint8_t one = 1;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.traced_pids), &key, &one, BPF_ANY)) {
		log_err("cannot trace pid %d: %s", pid, strerror(errno));
		return -1;
	}
	return 0;
}

int loader_ring_fd(const struct loader *l)
{
	return bpf_map__fd(l->skel->maps.events);
}

uint64_t loader_stat(const struct loader *l, enum gs_stat idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t k = idx;
	uint64_t *vals, sum = 0;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.stats), &k, vals))
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
	free(vals);
	return sum;
}

void loader_stats(const struct loader *l, uint64_t out[GS_STAT__MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(l->skel->maps.stats);
	uint64_t *vals;

	memset(out, 0, GS_STAT__MAX * sizeof(*out));
	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	for (uint32_t k = 0; k < GS_STAT__MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
}
