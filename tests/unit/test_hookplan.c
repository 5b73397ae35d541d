// SPDX-License-Identifier: MIT
/* The loader's capture-path plan, from kernel BTF built here to look like
 * the kernels gatescope meets: which paths it tries and in what order,
 * where tcp_recvmsg's flags argument is, and where the data-arrival fact
 * comes from.  (test_kernel_btf.sh and test_kernel_qemu.sh check the plan
 * against real kernels' BTF and boot them.) */
#include <bpf/btf.h>
#include "loader.h"
#include "testlib.h"

/* What a kernel's BTF has, for the plan. */
struct kernel {
	bool socket_tps;	/* tcp_sendmsg_locked, sock_send_length, sock_recv_length */
	bool data_ready_tp;	/* sk_data_ready */
	bool fns;		/* tcp_sendmsg, sock_def_readable */
	const char *const *recv_params;	/* tcp_recvmsg's parameter names (NULL-ended), or NULL */
};

static void add_tp(struct btf *b, int void_ptr, const char *tp)
{
	char name[64];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	btf__add_typedef(b, name, void_ptr);
}

static void add_fn(struct btf *b, const char *fn, const char *const *params, int arg_type)
{
	int proto = btf__add_func_proto(b, arg_type);

	for (int i = 0; params[i]; i++)
		btf__add_func_param(b, params[i], arg_type);
	btf__add_func(b, fn, BTF_FUNC_GLOBAL, proto);
}

static struct btf *kernel_btf(const struct kernel *k)
{
	static const char *const send[] = { "sk", "msg", "size", NULL };
	static const char *const one[] = { "sk", NULL };
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int vp = btf__add_ptr(b, 0);

	if (k->socket_tps) {
		add_tp(b, vp, "tcp_sendmsg_locked");
		add_tp(b, vp, "sock_send_length");
		add_tp(b, vp, "sock_recv_length");
	}
	if (k->data_ready_tp)
		add_tp(b, vp, "sk_data_ready");
	add_tp(b, vp, "inet_sk_error_report");
	if (k->fns) {
		add_fn(b, "tcp_sendmsg", send, i32);
		add_fn(b, "sock_def_readable", one, i32);
	}
	if (k->recv_params)
		add_fn(b, "tcp_recvmsg", k->recv_params, i32);
	return b;
}

static const char *const recv_618[] = { "sk", "msg", "len", "flags", NULL };
static const char *const recv_61[] = { "sk", "msg", "len", "flags", "addr_len", NULL };
static const char *const recv_515[] = { "sk", "msg", "len", "nonblock", "flags", "addr_len", NULL };

static void plan(const struct kernel *k, enum capture_path want, bool kprobes, struct hook_plan *p)
{
	struct btf *b = kernel_btf(k);

	loader_plan(b, want, kprobes, p);
	btf__free(b);
}

#define ASSERT_CANDIDATES(p, ...)						\
	do {									\
		enum capture_path _want[] = { __VA_ARGS__ };			\
		int _n = sizeof(_want) / sizeof(_want[0]);			\
		ASSERT_EQ((p).ncandidates, _n);					\
		for (int _i = 0; _i < _n && _i < (p).ncandidates; _i++)	\
			ASSERT_STREQ(capture_path_arg((p).candidates[_i]), capture_path_arg(_want[_i])); \
		ASSERT_EQ((p).capture, _want[0]);				\
	} while (0)

/* 6.18: every tracepoint; the TCP functions too (fentry is refused at
 * load on some hosts: the loader then tries the next). */
static void test_new_kernel(void)
{
	struct kernel k = { true, true, true, recv_618 };
	struct hook_plan p;

	plan(&k, CAPTURE_AUTO, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_TRACEPOINT, CAPTURE_FENTRY, CAPTURE_KPROBE, CAPTURE_SYSCALL);
	ASSERT_EQ(p.recvmsg_flags_arg, 3);
	ASSERT_EQ(loader_data_ready_hook(&p, CAPTURE_TRACEPOINT), DATA_READY_TRACEPOINT);
	ASSERT_EQ(loader_data_ready_hook(&p, CAPTURE_FENTRY), DATA_READY_TRACEPOINT);
	/* No kprobes (CONFIG_KPROBES off): not a candidate. */
	plan(&k, CAPTURE_AUTO, false, &p);
	ASSERT_CANDIDATES(p, CAPTURE_TRACEPOINT, CAPTURE_FENTRY, CAPTURE_SYSCALL);
}

/* 6.1: no socket I/O tracepoint, no sk_data_ready: fentry first, and the
 * data-arrival fact from the same kind of hook. */
static void test_debian_61(void)
{
	struct kernel k = { false, false, true, recv_61 };
	struct hook_plan p;

	plan(&k, CAPTURE_AUTO, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_FENTRY, CAPTURE_KPROBE, CAPTURE_SYSCALL);
	ASSERT_EQ(p.recvmsg_flags_arg, 3);
	ASSERT_EQ(loader_data_ready_hook(&p, CAPTURE_FENTRY), DATA_READY_FENTRY);
	ASSERT_EQ(loader_data_ready_hook(&p, CAPTURE_KPROBE), DATA_READY_KPROBE);
	ASSERT_EQ(loader_data_ready_hook(&p, CAPTURE_SYSCALL), DATA_READY_NONE);
	/* Forced paths: alone, or nothing when the kernel lacks them. */
	plan(&k, CAPTURE_KPROBE, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_KPROBE);
	plan(&k, CAPTURE_TRACEPOINT, true, &p);
	ASSERT_EQ(p.ncandidates, 0);
	plan(&k, CAPTURE_KPROBE, false, &p);
	ASSERT_EQ(p.ncandidates, 0);
	plan(&k, CAPTURE_OFF, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_OFF);
}

/* Before 5.19 tcp_recvmsg had nonblock before flags. */
static void test_before_519(void)
{
	struct kernel k = { false, false, true, recv_515 };
	struct hook_plan p;

	plan(&k, CAPTURE_AUTO, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_FENTRY, CAPTURE_KPROBE, CAPTURE_SYSCALL);
	ASSERT_EQ(p.recvmsg_flags_arg, 4);
}

/* A tcp_recvmsg without a "flags" argument, or no TCP functions in BTF:
 * only the syscall tracepoints are left (never a guessed argument). */
static void test_unknown_signatures(void)
{
	static const char *const odd[] = { "sk", "msg", "len", "mode", NULL };
	struct kernel k = { false, false, true, odd };
	struct kernel none = { false, false, false, NULL };
	struct hook_plan p;

	plan(&k, CAPTURE_AUTO, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_SYSCALL);
	plan(&none, CAPTURE_AUTO, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_SYSCALL);
	plan(&none, CAPTURE_FENTRY, true, &p);
	ASSERT_EQ(p.ncandidates, 0);
	loader_plan(NULL, CAPTURE_AUTO, true, &p);
	ASSERT_CANDIDATES(p, CAPTURE_SYSCALL);
}

int main(void)
{
	RUN_TEST(test_new_kernel);
	RUN_TEST(test_debian_61);
	RUN_TEST(test_before_519);
	RUN_TEST(test_unknown_signatures);
	TEST_MAIN_END();
}
