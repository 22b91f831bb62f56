# gpufleet build. `make` builds build/gpufleet; `make test` runs the whole suite;
# `make sanitize` runs it under ASan+UBSan, `make tsan` under ThreadSanitizer;
# `make demo` starts the demo control plane; `make image` builds the default pod image
# (test and demo depend on it). Every target installs missing
# Debian packages first (scripts/install-deps.sh, quick when present).

CC      ?= cc
BUILD   ?= build
SANFLAGS ?=
OPT     ?= -O2
VERSION ?= 0.1.0
PKGS    := sqlite3 libmicrohttpd jansson libcurl libcrypto yaml-0.1

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wvla -Wundef
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DGPF_VERSION=\"$(VERSION)\" $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude -Isrc \
           -include src/util/banned.h -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -ldl -lm
LDFLAGS += $(SANFLAGS)

LIB_SRCS  := $(wildcard src/*/*.c)
HELPER    := $(BUILD)/gpufleet-ssh-helper
POD_INIT  := $(BUILD)/gpufleet-pod-init
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
EMBED_FILES := $(wildcard web/*) $(wildcard data/catalog/*.csv) $(wildcard data/*.json)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRCS := $(wildcard tests/unit/helpers/*.c)
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
# The crash test's checker (tests/integration/test_crash_load.sh): libsqlite3 only, read-only.
CRASH_CHECK := $(BUILD)/tests/crash/crash_check

.SECONDARY:

.PHONY: all deps image test unit integration sanitize tsan demo bench clean fuzz fuzz-run check-layers

all: deps $(BUILD)/gpufleet $(HELPER) $(POD_INIT)

deps:
	@bash scripts/install-deps.sh

# The default pod image, an OCI layout built from Debian packages (scripts/build-image.sh):
# ~45 s the first time, then a no-op until the script changes. Prints its directory
# (under $${GPF_IMAGE_CACHE:-/var/cache/gpufleet/images}); needs root and a Debian mirror.
image: deps
	@bash scripts/build-image.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The portal, the catalog and the demo fleet are embedded as a generated C file.
$(BUILD)/gen/embedded.c: $(EMBED_FILES) scripts/embed-files.sh
	@mkdir -p $(dir $@)
	bash scripts/embed-files.sh $@ $(EMBED_FILES)

$(BUILD)/gen/embedded.o: $(BUILD)/gen/embedded.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libgpufleet.a: $(LIB_OBJS) $(BUILD)/gen/embedded.o
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gpufleet: $(BUILD)/src/main.o $(BUILD)/libgpufleet.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# pod-init and ssh-proxy without gpufleet's libraries (src/ssh_helper.c): libc only, so a
# pod's root process and each ssh connection's proxy start in ~1 ms of CPU, not ~7.
$(HELPER): $(BUILD)/src/ssh_helper.o $(BUILD)/libgpufleet.a
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPER_OBJS) $(BUILD)/libgpufleet.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(TEST_HELPER_OBJS) $(BUILD)/libgpufleet.a $(LDFLAGS) $(LDLIBS) -lcmocka

# Every OCI pod's root process, static so that it runs in any image (libc only); never
# built with SANFLAGS (a static sanitizer runtime does not link).
$(POD_INIT): src/pod_init.c src/agent/podinit.c src/agent/podinit.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -Isrc -include src/util/banned.h -static -o $@ src/pod_init.c src/agent/podinit.c

# The fake libnvidia-ml.so.1 (tests/fakes/fake_nvml.c) that test_nvml dlopens: full, without
# the optional entry points (minimal), and without a required one (nopci). Never built with
# SANFLAGS: the ASan and TSan test binaries load the same plain shared object.
FAKE_NVML_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -g -Isrc -include src/util/banned.h -fPIC -shared
FAKE_NVML_LIBS := $(BUILD)/fakes/libnvidia-ml.so.1 $(BUILD)/fakes/minimal/libnvidia-ml.so.1 \
                  $(BUILD)/fakes/nopci/libnvidia-ml.so.1

$(BUILD)/fakes/libnvidia-ml.so.1: tests/fakes/fake_nvml.c src/agent/nvml_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -o $@ $<

$(BUILD)/fakes/minimal/libnvidia-ml.so.1: tests/fakes/fake_nvml.c src/agent/nvml_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -DFAKE_NVML_MINIMAL -o $@ $<

$(BUILD)/fakes/nopci/libnvidia-ml.so.1: tests/fakes/fake_nvml.c src/agent/nvml_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -DFAKE_NVML_NO_PCI -o $@ $<

$(BUILD)/tests/test_nvml: $(FAKE_NVML_LIBS)
$(BUILD)/tests/test_runtime: $(HELPER)
$(BUILD)/tests/test_runtime_oci: $(POD_INIT)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libgpufleet.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libgpufleet.a $(LDFLAGS) $(LDLIBS)

$(CRASH_CHECK): tests/crash/crash_check.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS) -lsqlite3

unit: deps $(UNIT_BINS) $(BUILD)/gpufleet $(HELPER) $(POD_INIT)

# The include order of src/ (docs/architecture.md): the checker's self-test, then the tree.
check-layers:
	@bash scripts/check-layers.sh --self-test
	@bash scripts/check-layers.sh

test: check-layers deps image $(BUILD)/gpufleet $(HELPER) $(POD_INIT) $(UNIT_BINS) $(CRASH_CHECK)
	@BUILD=$(BUILD) bash tests/run.sh

sanitize:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test

tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT=-O1 SANFLAGS="-fsanitize=thread" test

# Compares `gpufleet discover --json` with nvidia-smi on a host with NVIDIA GPUs; skips
# (exit 0) where there is no nvidia-smi.
.PHONY: test-gpu
test-gpu: deps $(BUILD)/gpufleet
	@BUILD=$(BUILD) bash tests/gpu/run.sh

demo: deps image $(BUILD)/gpufleet $(HELPER) $(POD_INIT)
	$(BUILD)/gpufleet serve --demo --state-dir $${GPF_STATE_DIR:-$(CURDIR)/.demo-state}

bench: deps $(BUILD)/gpufleet $(HELPER) $(POD_INIT) $(BENCH_BINS)

# libFuzzer targets for every parser of untrusted input (clang, ASan+UBSan).
# FUZZ_SECONDS per target: 60 by default, CI runs a short pass.
FUZZ_SECONDS ?= 60
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT=-O1 \
	  SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" fuzz-run

fuzz-run: deps $(FUZZ_BINS)
	@bash tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libgpufleet.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libgpufleet.a $(LDFLAGS) $(LDLIBS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
