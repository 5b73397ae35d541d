/* SPDX-License-Identifier: MIT */
/* TLS capture set-up: which libssl files the traced processes map, the
 * uprobes on each of them (once per file, for every process using it: the
 * BPF side filters by traced pid, so workers forked later are covered),
 * and processes whose TLS cannot be read (statically linked TLS: Envoy's
 * BoringSSL, Go's crypto/tls), each said in one line. */
#ifndef GS_TLS_ATTACH_H
#define GS_TLS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct gatescope_bpf;
struct bpf_link;

enum tls_mode { TLS_AUTO = 0, TLS_OFF };

#define TLS_MAX_LIBS	16
#define TLS_MAX_EXES	64
#define TLS_LINKS_PER_LIB 11	/* tls_attach.c: one per entry uprobe, and per return uprobe */

struct tls_lib {
	dev_t dev;
	ino_t ino;
	char path[256];			/* as the process maps it */
	struct bpf_link *links[TLS_LINKS_PER_LIB];
};

struct tls_attach {
	struct gatescope_bpf *skel;
	bool enabled;			/* programs loaded: libraries may be attached */
	const char *off_reason;		/* why not, for the start-up line */
	struct tls_lib libs[TLS_MAX_LIBS];
	size_t nlibs;
	struct { dev_t dev; ino_t ino; } exes[TLS_MAX_EXES];	/* executables looked at */
	size_t nexes;
	unsigned static_tls;		/* processes with TLS gatescope cannot read */
};

/* Before the BPF object is loaded: switch the TLS programs on or off
 * (uprobes missing, --tls off, no HTTP capture). */
void tls_configure(struct tls_attach *t, struct gatescope_bpf *skel, enum tls_mode mode,
		   bool http_capture);
/* After attach: the libssl files of these processes (all processes when
 * pids is NULL); prints the start-up line. */
void tls_attach_start(struct tls_attach *t, const pid_t *pids, size_t npids);
/* A process found later (restart, new name match): its libssl too. */
void tls_attach_pid(struct tls_attach *t, pid_t pid);
void tls_detach(struct tls_attach *t);

/* Parse one /proc/PID/maps line; true when it maps a libssl file (path,
 * device and inode filled).  Exposed for the unit test. */
bool tls_maps_line_libssl(const char *line, char *path, size_t len, dev_t *dev, ino_t *ino);
/* What statically linked TLS an executable holds: "Go crypto/tls",
 * "BoringSSL", "OpenSSL", or NULL. */
const char *tls_static_kind(const char *path);

#endif
