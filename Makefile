# gatescope build: .bpf.c -> .bpf.o -> (bpftool gen object) -> .skel.h -> binary
#
#   make            build build/gatescope
#   make test       install dependencies, build, run every test
#   make unit       build the unit tests (tests/run.sh unit runs them)
#   make fixtures   rewrite tests/fixtures/*.gsr in today's record format
#   make demo       install dependencies, build, run the netns demo
#   make bench      install dependencies, build, run the benchmarks
#   make test-kernels  the kernel matrix alone: Debian 12's 6.1 and 6.12
#                   booted under qemu, every check on each (make test runs
#                   it too, with the kprobe run on the first kernel only)
#   make install    copy build/gatescope to $(PREFIX)/sbin, the man page to
#                   $(PREFIX)/share/man/man8 (DESTDIR= for staging)
#   make sanitize   build the ASan+UBSan unit tests and the fuzzing harnesses
#   make fuzz       run each libFuzzer harness FUZZ_SECONDS (default 600) s
#   V=1             show the full commands

VERSION    := 0.1.0
BUILD      := build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= cc
PREFIX     ?= /usr/local
ARCH       := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(V),1)
  Q =
  msg =
else
  Q = @
  msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
US_SRCS    := $(wildcard userspace/*.c)
US_OBJS    := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(US_SRCS))
LIB_OBJS   := $(filter-out $(BUILD)/obj/main.o,$(US_OBJS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))
# The Go gateway of the end-to-end tests, when a Go toolchain is installed
# (tools/install-deps.sh installs golang-go; without it those tests skip).
GO         ?= go
TOOL_BINS  += $(if $(shell command -v $(GO) 2>/dev/null),$(BUILD)/tests/gs-goproxy)

# Sanitizer builds (clang): the unit tests under ASan+UBSan, and the
# libFuzzer harnesses of tests/fuzz/ over the same library objects.  Any
# undefined behaviour aborts (no recovery), so it fails the run.
SAN_CC     ?= clang
SAN_FLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link \
              -fno-sanitize-recover=all
SAN_CFLAGS := $(SAN_FLAGS) -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
              -DGS_VERSION='"$(VERSION)"' -Iheaders -Iuserspace -I$(BUILD)
SAN_OBJS   := $(patsubst userspace/%.c,$(BUILD)/san/obj/%.o,$(filter-out userspace/main.c,$(US_SRCS)))
SAN_UNITS  := $(patsubst tests/unit/%.c,$(BUILD)/san/tests/%,$(UNIT_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 600

LIBS       := $(shell pkg-config --libs libbpf libmicrohttpd ncursesw 2>/dev/null || echo -lbpf -lmicrohttpd -lncursesw) -lnghttp2 -lelf -lz -lm
# HPACK (HTTP/2 header blocks) is decoded with libnghttp2.
NGHTTP2_H  := $(wildcard /usr/include/nghttp2/nghttp2.h)
# -O3 and link-time inlining across the pipeline's modules: ~5 % fewer
# instructions per record (tools/bench --only replay).  GCC's
# maybe-uninitialized is unreliable across LTO partitions (false alarms on
# arrays filled by a callee); the sanitizer build (clang) keeps its own
# uninitialized-use warnings.  The objects also carry plain code, which
# the test programs link (TEST_LDFLAGS): one link-time optimisation of the
# whole pipeline per test program took most of the build's time.
CFLAGS     ?= -O3 -g -flto=auto -ffat-lto-objects -Wno-maybe-uninitialized
TEST_LDFLAGS ?= -fno-lto
CFLAGS     += -Wall -Wextra -Werror -std=gnu11 -MMD -MP -D_GNU_SOURCE \
              -DGS_VERSION='"$(VERSION)"' -Iheaders -Iuserspace -I$(BUILD)
BPF_CFLAGS := -target bpf -g -O2 -D__TARGET_ARCH_$(ARCH) -MMD -MP \
              -Wall -Werror -I$(BUILD) -Iheaders -Ibpf

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test unit e2e demo bench install clean tools sanitize fuzz fixtures test-kernels FORCE

all: $(BUILD)/gatescope

# A missing libnghttp2-dev fails the build at once, saying so.
$(BUILD)/obj/h2_frame.o $(BUILD)/san/obj/h2_frame.o: | nghttp2-check
.PHONY: nghttp2-check
nghttp2-check:
	$(Q)test -n "$(NGHTTP2_H)" || { echo "gatescope: libnghttp2 headers missing (nghttp2/nghttp2.h): install libnghttp2-dev (tools/install-deps.sh)" >&2; exit 1; }

deps:
	$(Q)tools/install-deps.sh

# vmlinux.h comes from the kernel BTF in VMLINUX_BTF (the running kernel's
# unless set).  Regenerated on every make (FORCE: ~0.4 s), but rewritten only
# when it changed, so an unchanged kernel does not rebuild every BPF object.
# On a host without BTF an existing header is kept, with a warning.
$(BUILD)/vmlinux.h: FORCE | $(BUILD)
	$(Q)if [ ! -r $(VMLINUX_BTF) ] && [ -e $@ ]; then \
		echo "gatescope: $(VMLINUX_BTF) missing: keeping $@ as it is" >&2; \
	elif [ ! -r $(VMLINUX_BTF) ]; then \
		echo "gatescope: $(VMLINUX_BTF) missing: the kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y needed)" >&2; exit 1; \
	else \
		$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && \
		{ cmp -s $@.tmp $@ && rm -f $@.tmp || { $(if $(Q),printf '  %-8s %s\n' GEN $@;) mv $@.tmp $@; }; }; \
	fi

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/gatescope.bpf.o: $(BPF_OBJS)
	$(call msg,LINK-BPF,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(BUILD)/gatescope.skel.h: $(BUILD)/gatescope.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name gatescope_bpf > $@

# Only the objects that include the skeleton wait for it (and are rebuilt
# when it changes); -MMD records every other header.
SKEL_USERS := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(shell grep -l '"gatescope.skel.h"' userspace/*.c))
$(SKEL_USERS): $(BUILD)/gatescope.skel.h

$(BUILD)/obj/%.o: userspace/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gatescope: $(US_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(TEST_LDFLAGS) -Itests/unit $< $(LIB_OBJS) $(LIBS) -o $@

# gs-hookplan asks the loader itself which hooks it would use on a kernel.
$(BUILD)/tests/gs-hookplan: tests/tools/gs-hookplan.c $(BUILD)/gatescope.skel.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(TEST_LDFLAGS) $< $(LIB_OBJS) $(LIBS) -o $@

# gs-rerecord rewrites a recording with gatescope's own decoder.
$(BUILD)/tests/gs-rerecord: tests/tools/gs-rerecord.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(TEST_LDFLAGS) $< $(LIB_OBJS) $(LIBS) -o $@

# gs-emptyprog loads its two-instruction programs with libbpf.
$(BUILD)/tests/gs-emptyprog: tests/tools/gs-emptyprog.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(TEST_LDFLAGS) $< $(LIBS) -o $@

$(BUILD)/tests/%: tests/tools/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(TEST_LDFLAGS) $< -o $@

# Standard library only: a throw-away GOCACHE and GOPATH, no module proxy,
# so the build never reaches the network and leaves nothing behind.
$(BUILD)/tests/gs-goproxy: tests/tools/gs-goproxy.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)tmp=$$(mktemp -d) && cd tests/tools && \
	GOCACHE=$$tmp/cache GOPATH=$$tmp/path GOFLAGS=-mod=mod GOPROXY=off \
		$(GO) build -o $(abspath $@) gs-goproxy.go; rc=$$?; rm -rf $$tmp; exit $$rc

$(BUILD)/san/obj/%.o: userspace/%.c $(BUILD)/gatescope.skel.h
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(SAN_OBJS)
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -Itests/unit $< $(SAN_OBJS) $(LIBS) -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(SAN_OBJS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer $< $(SAN_OBJS) $(LIBS) -o $@

$(BUILD):
	$(Q)mkdir -p $@

tools: $(TOOL_BINS)

unit: $(UNIT_BINS)

# Bring every recorded fixture to today's record format (after a change to
# headers/conn.h or headers/http.h, a new GS_REC_VERSION and its converter
# in decoder.c): each file is rewritten by gs-rerecord, replaced only when
# the rewrite succeeded.  README "Fixtures" says how to record new ones.
fixtures: $(BUILD)/tests/gs-rerecord
	$(Q)for f in tests/fixtures/*.gsr; do \
		rm -f $(BUILD)/fixture.tmp && \
		$(BUILD)/tests/gs-rerecord $$f $(BUILD)/fixture.tmp && \
		mv $(BUILD)/fixture.tmp $$f || exit 1; \
	done

sanitize: $(SAN_UNITS) $(FUZZ_BINS)

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(TOOL_BINS) $(SAN_UNITS) $(FUZZ_BINS)
	$(Q)tests/run.sh

# The kernel matrix with every check on every kernel (and more time).
test-kernels: deps
	$(Q)$(MAKE) --no-print-directory all $(TOOL_BINS)
	$(Q)GS_VM_FULL=1 GS_VM_SECONDS=$${GS_VM_SECONDS:-400} tests/run.sh e2e kernel_

# Long fuzzing: each harness FUZZ_SECONDS, its corpus kept in build/fuzz/.
fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do tests/fuzz/run.sh $$(basename $$f) $(FUZZ_SECONDS) || exit 1; done

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(TOOL_BINS)
	$(Q)tools/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(TOOL_BINS)
	$(Q)tools/bench
	$(Q)tools/bench-kernels.sh

install: $(BUILD)/gatescope
	install -D -m 0755 $< $(DESTDIR)$(PREFIX)/sbin/gatescope
	install -D -m 0644 docs/gatescope.8 $(DESTDIR)$(PREFIX)/share/man/man8/gatescope.8

clean:
	rm -rf $(BUILD)

FORCE:

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/bpf/*.d $(BUILD)/tests/*.d)

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/bpf/*.d $(BUILD)/tests/*.d $(BUILD)/san/obj/*.d)
