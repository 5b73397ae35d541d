/* gs-hookplan: which hooks gatescope's loader would use on another kernel,
 * decided from that kernel's BTF file by the loader's own code.
 *
 *   gs-hookplan VMLINUX [auto|tracepoint|fentry|kprobe|syscalls|off]
 *
 * Opens the BPF skeleton built here (nothing is loaded: no root needed),
 * lets the loader plan and set autoload as it would at start-up, then
 * prints one line per program, "prog NAME SECTION load|skip present|missing",
 * then "candidates NAME..." (the paths the loader would try, in order),
 * "data_ready HOOK" and a last line "capture_path NAME" (the first
 * candidate: what runs unless the kernel refuses it; Debian's kernels have
 * kprobes, so the plan assumes them).  Exits 1 if a program the loader
 * would load has no tracepoint or function in that BTF (the load would
 * fail there). */
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gatescope.skel.h"
#include "loader.h"

static int parse_path(const char *s)
{
	for (int i = 0; i < CAPTURE__COUNT; i++)
		if (!strcmp(s, capture_path_arg(i)))
			return i;
	return -1;
}

/* A tp_btf program attaches to typedef btf_trace_<tracepoint>.  The
 * libssl uprobes attach to a library, not to the kernel's BTF: the loader
 * checks the kernel's uprobe support at start-up and says so. */
static bool attach_target_present(const struct btf *btf, const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);
	const char *tp = strchr(sec, '/');
	char name[160];

	if (!strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe"))
		return true;
	if (!tp)
		return false;
	/* fentry/fexit attach to a BTF function; a kprobe needs the symbol,
	 * which BTF's functions stand for. */
	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6) ||
	    !strncmp(sec, "kprobe/", 7) || !strncmp(sec, "kretprobe/", 10))
		return btf__find_by_name_kind(btf, tp + 1, BTF_KIND_FUNC) > 0;
	/* A BPF iterator's target is the kernel's bpf_iter_<target> function. */
	if (!strncmp(sec, "iter/", 5)) {
		snprintf(name, sizeof(name), "bpf_iter_%s", tp + 1);
		return btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
	}
	if (strncmp(sec, "tp_btf/", 7))
		return false;	/* only tp_btf programs besides */
	snprintf(name, sizeof(name), "btf_trace_%s", tp + 1);
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
}

static int report(struct gatescope_bpf *skel, const struct btf *btf, const struct hook_plan *p)
{
	struct bpf_program *prog;
	int missing = 0;

	bpf_object__for_each_program(prog, skel->obj) {
		bool load = bpf_program__autoload(prog);
		bool present = attach_target_present(btf, prog);

		printf("prog %s %s %s %s\n", bpf_program__name(prog),
		       bpf_program__section_name(prog), load ? "load" : "skip",
		       present ? "present" : "missing");
		if (load && !present)
			missing++;
	}
	static const char *const dr[] = { "none", "tracepoint", "fentry", "kprobe" };

	printf("candidates");
	for (int i = 0; i < p->ncandidates; i++)
		printf(" %s", capture_path_arg(p->candidates[i]));
	printf("\ndata_ready %s\n", dr[loader_data_ready_hook(p, p->capture)]);
	printf("capture_path %s\n", capture_path_arg(p->capture));
	if (missing)
		fprintf(stderr, "gs-hookplan: %d program(s) to load lack their tracepoint\n", missing);
	return missing ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct gatescope_bpf *skel = NULL;
	struct btf *btf = NULL;
	struct hook_plan plan;
	int want = CAPTURE_AUTO, err = 2;

	if (argc < 2 || argc > 3 || (argc == 3 && (want = parse_path(argv[2])) < 0)) {
		fputs("usage: gs-hookplan VMLINUX [auto|tracepoint|fentry|kprobe|syscalls|off]\n", stderr);
		return 2;
	}
	btf = btf__parse(argv[1], NULL);
	if (!btf) {
		fprintf(stderr, "gs-hookplan: no BTF in %s\n", argv[1]);
		goto cleanup;
	}
	skel = gatescope_bpf__open();
	if (!skel) {
		fputs("gs-hookplan: cannot open the BPF skeleton\n", stderr);
		goto cleanup;
	}
	loader_plan(btf, want, true, &plan);
	loader_apply_plan(skel, &plan, plan.capture);
	err = report(skel, btf, &plan);
cleanup:
	gatescope_bpf__destroy(skel);
	btf__free(btf);
	return err;
}
