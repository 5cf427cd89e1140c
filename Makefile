# crypto-bet-indexer build.
#
#   make            build build/crypto-bet-indexer and the tools
#   make check      dependency rules, unit + integration tests, then again under ASan+UBSan
#   make checkdeps  the dependency rules only (tools/checkdeps.rules)
#   make bench      benchmarks (prints figures next to in-run ceilings)
#   make demo       live sync against a throwaway PostgreSQL + replay server
#   make deps       install the Debian packages the build and tests need
#
# SAN=1 builds everything into build/san with AddressSanitizer and
# UndefinedBehaviorSanitizer.

CC      ?= cc
PKGS    := libcurl libwebsockets libpq jansson libsodium
SAN     ?= 0

ifeq ($(SAN),1)
BUILD   ?= build/san
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDSAN   := -fsanitize=address,undefined
else
BUILD   ?= build
OPT     := -O2 -g
LDSAN   :=
endif

# Recursively expanded on purpose: pkg-config runs when a recipe needs the
# flags, after `deps` has installed the packages, not when make parses this
# file (a fresh machine has no libpq-fe.h yet).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wpointer-arith -Wundef
CFLAGS   = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -I$(BUILD)/gen $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS   = $(PKG_LIBS) -lpthread -lm

# src/<layer>/*.c: one folder per concern (README, "Layout").
LIB_SRC   := $(sort $(wildcard src/*/*.c))
LIB_SRC   := $(filter-out src/cli/main.c,$(LIB_SRC))
LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(BUILD)/obj/embedded.o
# The fixture replay server and its store/synthesizer: linked into the tool
# and the tests, never into the daemon.
REPLAY_SRC := $(sort $(filter-out tools/replay/cbi-replay.c,$(wildcard tools/replay/*.c)))
REPLAY_OBJ := $(patsubst tools/%.c,$(BUILD)/obj/tools/%.o,$(REPLAY_SRC))
TOOLS     := $(BUILD)/cbi-replay
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
SCHEMA    := $(sort $(wildcard schema/*.sql))
BIN       := $(BUILD)/crypto-bet-indexer

.PHONY: all check checkdeps test-bins bench bench-bins demo deps clean format fuzz

all: $(BIN) $(TOOLS)

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/tools/%.o: tools/%.c $(wildcard include/*.h) | $(BUILD)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# Schema migrations and the default IDL are compiled into the binary so a
# deployed daemon needs no data files.
$(BUILD)/gen/embedded.c: $(SCHEMA) idl/crypto_bet.json tools/embed.sh | $(BUILD)/gen
	sh tools/embed.sh idl/crypto_bet.json $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/embedded.o: $(BUILD)/gen/embedded.c | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libcbi.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libreplay.a: $(REPLAY_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/cli/main.o $(BUILD)/libcbi.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/cbi-replay: tools/replay/cbi-replay.c $(BUILD)/libreplay.a $(BUILD)/libcbi.a $(wildcard include/*.h)
	$(CC) $(CFLAGS) -Itools/replay $(LDSAN) -o $@ $< $(BUILD)/libreplay.a $(BUILD)/libcbi.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libreplay.a $(BUILD)/libcbi.a $(wildcard include/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itests -Itools/replay $(LDSAN) -o $@ $< $(BUILD)/libreplay.a $(BUILD)/libcbi.a $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c bench/benchutil.h $(BUILD)/libreplay.a $(BUILD)/libcbi.a $(wildcard include/*.h) | $(BUILD)/bench
	$(CC) $(CFLAGS) -Itests -Itools/replay $(LDSAN) -o $@ $< $(BUILD)/libreplay.a $(BUILD)/libcbi.a $(LDLIBS)

$(BUILD)/obj $(BUILD)/gen $(BUILD)/tests $(BUILD)/bench:
	mkdir -p $@

test-bins: $(BIN) $(TOOLS) $(TESTS)

# make check: plain build first, the dependency rules, then the sanitizer
# build, each against a PostgreSQL cluster the runner starts and stops itself.
check:
	@sh tools/install-deps.sh
	$(MAKE) test-bins
	sh tools/checkdeps.sh build
	sh tests/run.sh build
	$(MAKE) SAN=1 test-bins
	sh tests/run.sh build/san

# The layering and library rules of tools/checkdeps.rules (make check runs
# it before the tests).
checkdeps: $(BIN) $(LIB_OBJ)
	sh tools/checkdeps.sh $(BUILD)

# demo, bench and check install the packages first and then build in a
# second make, so they work on a machine that has none of them yet.
bench:
	@sh tools/install-deps.sh
	$(MAKE) all bench-bins
	sh bench/run.sh $(BUILD)

bench-bins: $(BENCHES)

demo:
	@sh tools/install-deps.sh
	$(MAKE) all
	sh deploy/demo.sh $(BUILD)

deps:
	@sh tools/install-deps.sh

format:
	clang-format -i src/*/*.c src/*/*.h include/*.h tests/*.c tests/*.h tools/replay/*.c bench/*.c

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/tools/*/*.d)

# libFuzzer targets for every parser (installs clang when missing).
# FUZZ_SECONDS per target, default 30.
fuzz:
	sh tests/fuzz/run.sh
