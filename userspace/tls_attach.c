// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "gatescope.skel.h"
#include "log.h"
#include "tls_attach.h"
#include "util.h"

/* The libssl entry points followed, and their programs.  SSL_read and
 * SSL_write are required; the _ex variants exist since OpenSSL 1.1.1. */
struct tls_sym {
	const char *name;
	bool required;
};

static const struct tls_sym tls_syms[] = {
	{ "SSL_read", true }, { "SSL_write", true },
	{ "SSL_read_ex", false }, { "SSL_write_ex", false }, { "SSL_shutdown", false },
	{ "SSL_free", false }, { "SSL_set_fd", false },
};

/* Every symbol has an entry uprobe; the four calls that move bytes have a
 * return one too (progs_of). */
_Static_assert(TLS_LINKS_PER_LIB == ARRAY_SIZE(tls_syms) + 4,
	       "TLS_LINKS_PER_LIB: one link per entry and per return uprobe");

static void progs_of(struct gatescope_bpf *skel, size_t i, struct bpf_program **entry,
		     struct bpf_program **ret)
{
	struct bpf_program *e[] = { skel->progs.gs_ssl_read, skel->progs.gs_ssl_write,
				    skel->progs.gs_ssl_read_ex, skel->progs.gs_ssl_write_ex,
				    skel->progs.gs_ssl_shutdown, skel->progs.gs_ssl_free,
				    skel->progs.gs_ssl_set_fd };
	struct bpf_program *r[] = { skel->progs.gs_ssl_read_ret, skel->progs.gs_ssl_write_ret,
				    skel->progs.gs_ssl_read_ex_ret, skel->progs.gs_ssl_write_ex_ret,
				    NULL, NULL, NULL };

	*entry = e[i];
	*ret = r[i];
}

static bool kernel_has_uprobes(void)
{
	return access("/sys/bus/event_source/devices/uprobe/type", R_OK) == 0;
}

void tls_configure(struct tls_attach *t, struct gatescope_bpf *skel, enum tls_mode mode,
		   bool http_capture)
{
	struct bpf_program *prog;

	memset(t, 0, sizeof(*t));
	t->skel = skel;
	if (mode == TLS_OFF)
		t->off_reason = "--tls off";
	else if (!http_capture)
		t->off_reason = "HTTP capture is off";
	else if (!kernel_has_uprobes())
		t->off_reason = "this kernel has no uprobes (CONFIG_UPROBE_EVENTS); TLS connections are judged by TCP facts only";
	t->enabled = !t->off_reason;
	skel->rodata->tls_enabled = t->enabled;
	bpf_object__for_each_program(prog, skel->obj)
		if (!strncmp(bpf_program__name(prog), "gs_ssl_", 7))
			bpf_program__set_autoload(prog, t->enabled);
}

bool tls_maps_line_libssl(const char *line, char *path, size_t len, dev_t *dev, ino_t *ino)
{
	unsigned major, minor;
	unsigned long inode;
	const char *base;
	int at = 0;

	if (sscanf(line, "%*s %*s %*s %x:%x %lu %n", &major, &minor, &inode, &at) != 3 || !at)
		return false;
	if (line[at] != '/' || strstr(line + at, " (deleted)"))
		return false;	/* anonymous, or replaced on disk: nothing to attach to */
	base = strrchr(line + at, '/') + 1;
	if (strncmp(base, "libssl.so", 9))
		return false;	/* not NSS's libssl3.so either: another API */
	snprintf(path, len, "%s", line + at);
	path[strcspn(path, "\n")] = 0;
	*dev = makedev(major, minor);
	*ino = inode;
	return true;
}

static struct tls_lib *find_lib(struct tls_attach *t, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < t->nlibs; i++)
		if (t->libs[i].dev == dev && t->libs[i].ino == ino)
			return &t->libs[i];
	return NULL;
}

static void lib_detach(struct tls_lib *lib)
{
	for (size_t i = 0; i < TLS_LINKS_PER_LIB; i++) {
		bpf_link__destroy(lib->links[i]);
		lib->links[i] = NULL;
	}
}

/* Entry and return uprobes on every followed symbol of one library file,
 * for all processes (pid -1).  file: the path through /proc/PID/root, so a
 * process in another mount namespace gets its own file. */
static int lib_attach(struct tls_attach *t, struct tls_lib *lib, const char *file)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(tls_syms); i++) {
		struct bpf_program *progs[2];

		progs_of(t->skel, i, &progs[0], &progs[1]);
		for (int r = 0; r < 2 && progs[r]; r++) {
			LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = tls_syms[i].name,
				    .retprobe = r == 1);
			struct bpf_link *l = bpf_program__attach_uprobe_opts(progs[r], -1, file, 0,
									    &opts);
			int err = libbpf_get_error(l);

			if (!err) {
				lib->links[n++] = l;
				continue;
			}
			if (tls_syms[i].required) {
				log_warn("TLS capture: cannot attach to %s in %s: %s", tls_syms[i].name,
					 lib->path, strerror(-err));
				lib_detach(lib);
				return -1;
			}
			log_debug("TLS capture: %s has no %s", lib->path, tls_syms[i].name);
		}
	}
	return 0;
}

static bool read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (!(f = fopen(path, "r")))
		return false;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ok;
}

/* The libssl files pid maps, attached when new.  Returns how many it maps. */
static unsigned scan_maps(struct tls_attach *t, pid_t pid)
{
	char path[64], line[512], lib[256], file[320], comm[32] = "?";
	unsigned found = 0;
	dev_t dev;
	ino_t ino;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct tls_lib *l;

		if (!tls_maps_line_libssl(line, lib, sizeof(lib), &dev, &ino))
			continue;
		found++;
		if (find_lib(t, dev, ino))
			continue;
		if (t->nlibs == TLS_MAX_LIBS) {
			log_warn("TLS capture: more than %d libssl files; %s of pid %d not attached",
				 TLS_MAX_LIBS, lib, pid);
			continue;
		}
		l = &t->libs[t->nlibs];
		memset(l, 0, sizeof(*l));
		l->dev = dev;
		l->ino = ino;
		snprintf(l->path, sizeof(l->path), "%s", lib);
		snprintf(file, sizeof(file), "/proc/%d/root%s", pid, lib);
		if (lib_attach(t, l, file))
			continue;
		t->nlibs++;
		read_comm(pid, comm, sizeof(comm));
		log_info("TLS capture: uprobes on %s (mapped by %s, pid %d)", lib, comm, pid);
	}
	fclose(f);
	return found;
}

static bool has_symbol(Elf *e, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		if (!(d = elf_getdata(scn, NULL)) || !sh.sh_entsize)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(d, i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			s = elf_strptr(e, sh.sh_link, sym.st_name);
			if (s && !strcmp(s, name))
				return true;
		}
	}
	return false;
}

const char *tls_static_kind(const char *path)
{
	static const char go_tls[] = "crypto/tls.(*Conn).Read";
	static const char boring[] = "BoringSSL";
	const char *kind = NULL;
	struct stat st;
	void *map;
	Elf *e;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !st.st_size ||
	    (map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	/* Go keeps function names (pclntab) even in stripped binaries. */
	if (memmem(map, st.st_size, go_tls, sizeof(go_tls) - 1))
		kind = "Go crypto/tls";
	else if (elf_version(EV_CURRENT) != EV_NONE &&
		 (e = elf_memory(map, st.st_size))) {
		if (has_symbol(e, "SSL_read"))
			kind = memmem(map, st.st_size, boring, sizeof(boring) - 1) ? "BoringSSL" : "OpenSSL";
		elf_end(e);
	}
	if (!kind && memmem(map, st.st_size, boring, sizeof(boring) - 1))
		kind = "BoringSSL";	/* stripped (Envoy) */
	munmap(map, st.st_size);
	close(fd);
	return kind;
}

/* A traced process without libssl: is its TLS built in?  Once per
 * executable file. */
static void check_static(struct tls_attach *t, pid_t pid)
{
	char exe[64], comm[32] = "?";
	const char *kind;
	struct stat st;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (stat(exe, &st))
		return;
	for (size_t i = 0; i < t->nexes; i++)
		if (t->exes[i].dev == st.st_dev && t->exes[i].ino == st.st_ino)
			return;
	if (t->nexes < TLS_MAX_EXES) {
		t->exes[t->nexes].dev = st.st_dev;
		t->exes[t->nexes++].ino = st.st_ino;
	}
	if (!(kind = tls_static_kind(exe)))
		return;
	t->static_tls++;
	read_comm(pid, comm, sizeof(comm));
	log_info("TLS of %s (pid %d) cannot be read: statically linked %s; its TLS connections are judged by TCP facts only",
		 comm, pid, kind);
}

void tls_attach_pid(struct tls_attach *t, pid_t pid)
{
	if (t->enabled && scan_maps(t, pid))
		return;
	check_static(t, pid);
}

static void scan_all(struct tls_attach *t)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]))
			scan_maps(t, atoi(de->d_name));
	closedir(d);
}

void tls_attach_start(struct tls_attach *t, const pid_t *pids, size_t npids)
{
	if (!t->enabled) {
		log_info("TLS capture off: %s", t->off_reason);
		for (size_t i = 0; pids && i < npids; i++)
			check_static(t, pids[i]);
		return;
	}
	if (!pids)
		scan_all(t);
	for (size_t i = 0; pids && i < npids; i++)
		tls_attach_pid(t, pids[i]);
	if (!t->nlibs)
		log_info("TLS capture: no traced process maps libssl; TLS connections are counted and judged by TCP facts only");
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Each uprobe's removal waits for several kernel grace periods (RCU,
 * RCU tasks trace), mostly one removal after the other under the tracing
 * events' lock: 55 to 110 ms per link measured on two machines, about a
 * second for one library's ten.  The links are destroyed from threads of
 * their own, so what the kernel lets overlap does (1,121 -> 896 ms here),
 * and a line says what the wait is.  Links of the uprobe_multi kind
 * (Linux 6.6, libbpf 1.3) would share the waits. */
void tls_detach(struct tls_attach *t)
{
	struct bpf_link *links[TLS_MAX_LIBS * TLS_LINKS_PER_LIB];
	pthread_t th[TLS_MAX_LIBS * TLS_LINKS_PER_LIB];
	bool threaded[TLS_MAX_LIBS * TLS_LINKS_PER_LIB];
	size_t n = 0;

	for (size_t i = 0; i < t->nlibs; i++)
		for (size_t k = 0; k < TLS_LINKS_PER_LIB; k++)
			if (t->libs[i].links[k]) {
				links[n++] = t->libs[i].links[k];
				t->libs[i].links[k] = NULL;
			}
	t->nlibs = 0;
	if (!n)
		return;
	log_info("removing %zu TLS uprobes (the kernel takes up to ~0.1 s for each)", n);
	for (size_t i = 0; i < n; i++)
		threaded[i] = !pthread_create(&th[i], NULL, destroy_link, links[i]);
	for (size_t i = 0; i < n; i++) {
		if (threaded[i])
			pthread_join(th[i], NULL);
		else
			bpf_link__destroy(links[i]);
	}
}
