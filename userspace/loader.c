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
#define RING_MAX (16u << 20)	/* bytes: the largest ring buffer asked for */

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
	case CAPTURE_TRACEPOINT: return "socket tracepoints";
	case CAPTURE_FENTRY: return "fentry on tcp_sendmsg/tcp_recvmsg";
	case CAPTURE_KPROBE: return "kprobes on tcp_sendmsg/tcp_recvmsg";
	case CAPTURE_SYSCALL: return "syscall tracepoints (fallback)";
	case CAPTURE_OFF: return "off";
	default: return "auto";
	}
}

const char *capture_path_arg(enum capture_path p)
{
	static const char *const arg[CAPTURE__COUNT] = {
		[CAPTURE_AUTO] = "auto", [CAPTURE_TRACEPOINT] = "tracepoint",
		[CAPTURE_FENTRY] = "fentry", [CAPTURE_KPROBE] = "kprobe",
		[CAPTURE_SYSCALL] = "syscalls", [CAPTURE_OFF] = "off",
	};

	return (unsigned)p < CAPTURE__COUNT ? arg[p] : "auto";
}

/* The number of arguments of a tp_btf tracepoint (its context pointer
 * not counted), -1 if BTF lacks it. */
static int kernel_tp_args(const struct btf *vmlinux, const char *tp)
{
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	if (!vmlinux || (id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF)) <= 0)
		return -1;
	t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);	/* the pointer */
	t = t && btf_is_ptr(t) ? btf__type_by_id(vmlinux, t->type) : NULL;
	return t && btf_is_func_proto(t) && btf_vlen(t) > 0 ? btf_vlen(t) - 1 : -1;
}

/* Does the kernel have this tracepoint as a BTF-typed (tp_btf) hook? */
static bool kernel_has_tp(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/* The number of parameters of a kernel function, -1 if BTF lacks it;
 * *at: the index of the one called `arg` (-1 if none). */
static int kernel_fn_params(const struct btf *vmlinux, const char *fn, const char *arg, int *at)
{
	const struct btf_type *t;
	int id;

	if (at)
		*at = -1;
	if (!vmlinux || (id = btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC)) <= 0)
		return -1;
	t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
	if (!t || !btf_is_func_proto(t))
		return -1;
	for (int i = 0; at && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(vmlinux, btf_params(t)[i].name_off), arg))
			*at = i;
	return btf_vlen(t);
}

static void set_autoload(struct bpf_object *obj, const char *prefix, bool on)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
		if (!strncmp(bpf_program__name(prog), prefix, strlen(prefix)))
			bpf_program__set_autoload(prog, on);
}

/* Can the kernel run this path at all (the load may still refuse it)? */
static bool path_possible(const struct hook_plan *p, enum capture_path c, bool kprobes)
{
	switch (c) {
	case CAPTURE_TRACEPOINT: return p->socket_tps;
	case CAPTURE_FENTRY: return p->tcp_fns;
	case CAPTURE_KPROBE: return p->tcp_fns && kprobes;
	default: return true;
	}
}

void loader_plan(const struct btf *vmlinux, enum capture_path want, bool kprobes,
		 struct hook_plan *p)
{
	/* Preference: cheapest for the rest of the host first. */
	static const enum capture_path order[] = {
		CAPTURE_TRACEPOINT, CAPTURE_FENTRY, CAPTURE_KPROBE, CAPTURE_SYSCALL,
	};
	int flags_at = -1;

	memset(p, 0, sizeof(*p));
	p->socket_tps = kernel_has_tp(vmlinux, "tcp_sendmsg_locked") &&
			kernel_has_tp(vmlinux, "sock_recv_length");
	/* tcp_recvmsg(sk, msg, len, [nonblock,] flags, [addr_len]): where
	 * flags is depends on the kernel (nonblock went in 5.19, addr_len
	 * later): its index comes from the kernel's BTF, by name. */
	p->tcp_fns = kernel_fn_params(vmlinux, "tcp_sendmsg", NULL, NULL) == 3 &&
		     kernel_fn_params(vmlinux, "tcp_recvmsg", "flags", &flags_at) >= 4 &&
		     flags_at >= 3 && kernel_fn_params(vmlinux, "sock_def_readable", NULL, NULL) == 1;
	p->recvmsg_flags_arg = flags_at >= 3 ? flags_at : 3;
	p->data_ready = kernel_has_tp(vmlinux, "sk_data_ready");
	p->error_report = kernel_has_tp(vmlinux, "inet_sk_error_report");
	/* (sk, skb, err) on newer kernels (6.18 here): the tracepoint fires
	 * for tries that failed too; (sk, skb) before (6.1), for sent ones. */
	p->retransmit_err = kernel_tp_args(vmlinux, "tcp_retransmit_skb") == 3;
	if (want != CAPTURE_AUTO) {
		if (path_possible(p, want, kprobes))
			p->candidates[p->ncandidates++] = want;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(order); i++)
			if (path_possible(p, order[i], kprobes))
				p->candidates[p->ncandidates++] = order[i];
	}
	p->capture = p->ncandidates ? p->candidates[0] : want;
}

enum data_ready_hook loader_data_ready_hook(const struct hook_plan *p, enum capture_path c)
{
	if (p->data_ready)
		return DATA_READY_TRACEPOINT;
	if (c == CAPTURE_FENTRY)
		return DATA_READY_FENTRY;
	if (c == CAPTURE_KPROBE)
		return DATA_READY_KPROBE;
	return DATA_READY_NONE;
}

void loader_apply_plan(struct gatescope_bpf *skel, const struct hook_plan *p, enum capture_path c)
{
	enum data_ready_hook dr = loader_data_ready_hook(p, c);

	bpf_program__set_autoload(skel->progs.gs_sendmsg, c == CAPTURE_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.gs_recv_length, c == CAPTURE_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.gs_fn_sendmsg, c == CAPTURE_FENTRY);
	bpf_program__set_autoload(skel->progs.gs_fn_recvmsg_ret, c == CAPTURE_FENTRY);
	bpf_program__set_autoload(skel->progs.gs_kp_sendmsg, c == CAPTURE_KPROBE);
	bpf_program__set_autoload(skel->progs.gs_kp_recvmsg, c == CAPTURE_KPROBE);
	bpf_program__set_autoload(skel->progs.gs_kp_recvmsg_ret, c == CAPTURE_KPROBE);
	set_autoload(skel->obj, "gs_sys_", c == CAPTURE_SYSCALL);
	skel->rodata->http_enabled = c != CAPTURE_OFF;
	skel->rodata->recvmsg_flags_arg = p->recvmsg_flags_arg;
	bpf_program__set_autoload(skel->progs.gs_data_ready, dr == DATA_READY_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.gs_fn_data_ready, dr == DATA_READY_FENTRY);
	bpf_program__set_autoload(skel->progs.gs_kp_data_ready, dr == DATA_READY_KPROBE);
	bpf_program__set_autoload(skel->progs.gs_error_report, p->error_report);
	bpf_program__set_autoload(skel->progs.gs_retransmit, !p->retransmit_err);
	bpf_program__set_autoload(skel->progs.gs_retransmit_err, p->retransmit_err);
	/* The kprobe path's per-thread table exists only where it runs. */
	if (c != CAPTURE_KPROBE)
		bpf_map__set_max_entries(skel->maps.kp_calls, 1);
	/* ... and the syscall path's table of calls in progress. */
	if (c != CAPTURE_SYSCALL)
		bpf_map__set_max_entries(skel->maps.sys_pending, 1);
}

/* Kernels built without CONFIG_KPROBES have no kprobe event source. */
static bool kernel_has_kprobes(void)
{
	return access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0;
}

/* Why the path asked for cannot run on this kernel. */
static void log_path_missing(enum capture_path want, const struct hook_plan *p)
{
	switch (want) {
	case CAPTURE_TRACEPOINT:
		log_err("--capture-path tracepoint: this kernel lacks the tcp_sendmsg_locked / sock_recv_length tracepoints (6.18 has them; 6.1 and 6.12 do not): try fentry or kprobe");
		break;
	case CAPTURE_FENTRY:
	case CAPTURE_KPROBE:
		if (!p->tcp_fns)
			log_err("--capture-path %s: this kernel's BTF lacks tcp_sendmsg(sk, msg, size), tcp_recvmsg or sock_def_readable with the expected arguments",
				capture_path_arg(want));
		else
			log_err("--capture-path kprobe: this kernel has no kprobes (CONFIG_KPROBES)");
		break;
	default:
		log_err("--capture-path %s: not available on this kernel", capture_path_arg(want));
	}
}

/* Bytes each CPU queues before it wakes userspace: with every CPU just
 * under it, a quarter of the ring is in use.  At least a page, so that a
 * host with very many CPUs still batches its wake-ups. */
#define WAKEUP_RING_FRACTION	4
#define WAKEUP_SHARE_MIN	4096

static uint64_t wakeup_share(uint64_t ring_bytes)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t share = ring_bytes / WAKEUP_RING_FRACTION / (ncpu > 0 ? ncpu : 1);

	return share < WAKEUP_SHARE_MIN ? WAKEUP_SHARE_MIN : share;
}

/* The connection filter's slots, as a power of two: four or more per
 * entry of the connection table (a bystander's socket then finds its slot
 * empty at least three times in four with the table full), from 2^16
 * (256 KiB, --max-conns up to 16,384) to 2^19 (2 MiB, from 131,072): the
 * connection table takes ~176 bytes an entry, and all maps stay within
 * 200 MiB at --max-conns 1048576 (tools/bench --only scale).  Past 2^19,
 * a full table leaves fewer slots empty (one in seven at 1,048,576), and
 * a socket in a taken slot is looked up in the table, as without a
 * filter. */
#define CONN_FILTER_BITS_MIN 16
#define CONN_FILTER_BITS_MAX 19

static uint32_t conn_filter_bits(uint32_t max_conns)
{
	uint32_t bits = CONN_FILTER_BITS_MIN;

	while (bits < CONN_FILTER_BITS_MAX && (1ull << bits) < 4ull * max_conns)
		bits++;
	return bits;
}

/* The ring holds the close events of a quarter of the connection table at
 * once (a power of two, at least the 4 MiB the object declares): a burst
 * of closes (a gateway restart, a client fleet going away) outruns the
 * reader at first, and every event that does not fit is lost (counted).
 * Up to 16 MiB (67,000 close events; N = 262,144): a bigger table gets no
 * bigger ring, as every MiB of it is locked kernel memory and counts twice
 * in gatescope's RSS (the ring is mapped twice, so that a record may wrap
 * around its end).  A ring four times bigger does not save a burst the
 * reader cannot keep up with: make bench, 1,000,000 idle connections
 * closed at once by 100 processes on 2 CPUs, lost 795,000 events with
 * 16 MiB and 587,000 with 64 MiB.  200,000 at once at N = 262,144 (16 MiB
 * before and now) lost 0, 1,111 and 7,811 in three runs. */
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

/* Open, configure and load the skeleton with capture path c.  quiet:
 * another path follows if this one fails, so libbpf's warnings would only
 * alarm (-v still shows them). */
static int load_path(struct loader *l, const struct loader_opts *o, const struct hook_plan *p,
		     enum capture_path c, bool quiet)
{
	libbpf_print_fn_t print = NULL;
	struct gatescope_bpf *skel;
	int err;

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
	loader_apply_plan(skel, p, c);
	tls_configure(&l->tls, skel, o->tls, c != CAPTURE_OFF);
	bpf_map__set_max_entries(skel->maps.conns, o->max_conns);
	skel->rodata->conn_filter_bits = conn_filter_bits(o->max_conns);
	bpf_map__set_max_entries(skel->maps.conn_filter,
				 (1u << skel->rodata->conn_filter_bits) / GS_FILTER_LINE);
	if (quiet && !log_verbose())
		print = libbpf_set_print(NULL);
	err = gatescope_bpf__load(skel);
	if (!err && fill_filters(l, o))
		err = -EINVAL;
	else if (!err && (err = gatescope_bpf__attach(skel)))
		log_debug("cannot attach the %s programs: %s", capture_path_arg(c), strerror(-err));
	if (quiet && !log_verbose())
		libbpf_set_print(print);
	if (!err) {
		l->capture = c;
		l->data_ready = loader_data_ready_hook(p, c);
		l->conns_counted = probe_conn_count(l);
		return 0;
	}
	if (!quiet)
		log_err("cannot load or attach the BPF programs (HTTP capture: %s): %s (run with -v for the verifier log)",
			capture_path_name(c), strerror(-err));
	loader_stop(l);
	return -1;
}

/* Say in one line each what this kernel degrades. */
static void log_degraded(const struct loader *l, const struct hook_plan *p, enum capture_path want)
{
	if (want == CAPTURE_AUTO && l->capture == CAPTURE_SYSCALL)
		log_info("degraded: no socket I/O tracepoints, fentry or kprobes on tcp_sendmsg/tcp_recvmsg here; HTTP capture uses the raw syscall tracepoints (slower for every process)");
	if (l->data_ready == DATA_READY_NONE && l->capture != CAPTURE_OFF)
		log_info("degraded: no sk_data_ready tracepoint%s; gateway_stall evidence (unread response bytes) unavailable",
			 p->tcp_fns ? " and the capture path hooks no sock_def_readable" : "");
	if (!p->error_report)
		log_info("degraded: no inet_sk_error_report tracepoint; socket errno not recorded");
}

int loader_start(struct loader *l, const struct loader_opts *o)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	struct hook_plan p;
	int i;

	memset(l, 0, sizeof(*l));
	l->max_conns = o->max_conns;
	loader_plan(vmlinux, o->capture, kernel_has_kprobes(), &p);
	btf__free(vmlinux);
	if (!p.ncandidates) {
		log_path_missing(o->capture, &p);
		return -1;
	}
	for (i = 0; i < p.ncandidates; i++) {
		bool last = i == p.ncandidates - 1;

		if (!load_path(l, o, &p, p.candidates[i], !last))
			break;
		if (!last)
			log_info("HTTP capture: the kernel refused %s; trying %s",
				 capture_path_name(p.candidates[i]), capture_path_name(p.candidates[i + 1]));
	}
	if (i == p.ncandidates)
		return -1;
	log_degraded(l, &p, o->capture);
	return 0;
}

void loader_stop(struct loader *l)
{
	tls_detach(&l->tls);
	gatescope_bpf__destroy(l->skel);	/* detaches links, closes maps */
	l->skel = NULL;
}

/* A pid the kernel already traces (a fork, a connect by name) keeps what
 * it learned about it (GS_PID_GATEWAY). */
int loader_add_pid(struct loader *l, pid_t pid)
{
	uint32_t key = pid;
	uint8_t traced = GS_PID_TRACED;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.traced_pids), &key, &traced,
				BPF_NOEXIST) && errno != EEXIST) {
		log_err("cannot trace pid %d: %s", pid, strerror(errno));
		return -1;
	}
	return 0;
}

int loader_mark_gateway(struct loader *l, pid_t pid)
{
	uint32_t key = pid;
	uint8_t gw = GS_PID_TRACED | GS_PID_GATEWAY;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.traced_pids), &key, &gw, BPF_ANY)) {
		log_err("cannot trace pid %d: %s", pid, strerror(errno));
		return -1;
	}
	return 0;
}

/* Enter the traced processes' connections that were open before the
 * start into the table (bpf/adopt.bpf.c): one walk of their open files,
 * after the client-facing ports are in the filter (they tell a client
 * connection from an upstream one). */
int loader_adopt(struct loader *l, struct loader_adopted *out)
{
	struct bpf_link *link = l->skel->links.gs_adopt;
	char buf[64];
	int fd;

	memset(out, 0, sizeof(*out));
	if (!link || (fd = bpf_iter_create(bpf_link__fd(link))) < 0)
		return -1;
	while (read(fd, buf, sizeof(buf)) > 0)
		;	/* the walk writes nothing: it runs as it is read */
	close(fd);
	out->upstream = l->skel->bss->adopted_upstream;
	out->downstream = l->skel->bss->adopted_downstream;
	out->failed = l->skel->bss->adopt_failed;
	/* Its work is done: its link need not stay. */
	bpf_link__destroy(link);
	l->skel->links.gs_adopt = NULL;
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

/* The kernel's own counts, from each program's info.  Missed runs: a
 * tracepoint that fires while its program is already running on that CPU
 * (a softirq changing a socket's state inside the program's run for
 * another socket's close) does not run it again, and the facts it would
 * have recorded are lost.  Run time and count: only while the kernel's
 * run-time statistics are on. */
void loader_prog_totals(const struct loader *l, struct loader_prog_totals *t)
{
	struct bpf_program *prog;

	memset(t, 0, sizeof(*t));
	bpf_object__for_each_program(prog, l->skel->obj) {
		struct bpf_prog_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		t->missed_runs += info.recursion_misses;
		t->run_ns += info.run_time_ns;
		t->runs += info.run_cnt;
	}
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
