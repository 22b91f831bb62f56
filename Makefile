# gpufleet build. `make` builds build/gpufleet; `make test` runs the whole suite;
# `make sanitize` runs it under ASan+UBSan, `make tsan` under ThreadSanitizer;
# `make demo` starts the demo control plane. Every target installs missing
# Debian packages first (scripts/install-deps.sh, quick when present).

CC      ?= cc
BUILD   ?= build
SANFLAGS ?=
OPT     ?= -O2
PKGS    := sqlite3 libmicrohttpd jansson libcurl

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wvla -Wundef
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude -Isrc \
           -include src/util/banned.h -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -ldl
LDFLAGS += $(SANFLAGS)

LIB_SRCS  := $(filter-out src/main.c,$(wildcard src/*/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
WEB_FILES := $(wildcard web/*)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRCS := $(wildcard tests/unit/helpers/*.c)
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps test unit integration sanitize tsan demo bench clean install-deps fmt

all: deps $(BUILD)/gpufleet

deps:
	@bash scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Web assets are embedded into the binary as a generated C file.
$(BUILD)/gen/web_assets.c: $(WEB_FILES) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	bash scripts/embed-web.sh $@ $(WEB_FILES)

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/libgpufleet.a: $(LIB_OBJS) $(BUILD)/gen/web_assets.o
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gpufleet: $(BUILD)/src/main.o $(BUILD)/libgpufleet.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPER_OBJS) $(BUILD)/libgpufleet.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(TEST_HELPER_OBJS) $(BUILD)/libgpufleet.a $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(BUILD)/libgpufleet.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libgpufleet.a $(LDFLAGS) $(LDLIBS)

unit: deps $(UNIT_BINS) $(BUILD)/gpufleet

test: deps $(BUILD)/gpufleet $(UNIT_BINS)
	@BUILD=$(BUILD) bash tests/run.sh

sanitize:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test

tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT=-O1 SANFLAGS="-fsanitize=thread" test

demo: deps $(BUILD)/gpufleet
	$(BUILD)/gpufleet serve --demo --state-dir $${GPF_STATE_DIR:-$(CURDIR)/.demo-state}

bench: deps $(BUILD)/gpufleet $(BENCH_BINS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
