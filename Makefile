# artsearch - hand-written Makefile.
#
#   make            build libartsearch.a and ./artsearch
#   make test       build and run every test (unit and end-to-end)
#   make asan       the same tests built with AddressSanitizer + UBSan
#   make tsan       the threads test built with ThreadSanitizer
#   make valgrind   the end-to-end tests, every process under memcheck
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS (clang;
#                   make fuzz-deps installs it)
#   make shared     build libartsearch.so
#   make install    install the command, libraries, header, pkg-config
#                   file, man page and bash completion (PREFIX, DESTDIR)
#   make uninstall  remove what make install installed
#   make deps       install the Debian packages the project needs
#   make clean      remove build products
#
# Variables: OPTIMIZATION (default -O2), WERROR=1 (warnings are errors),
# CC, CFLAGS, LDFLAGS, BUILD (output folder, default build), PREFIX
# (default /usr/local), DESTDIR.

CC ?= cc
OPTIMIZATION ?= -O2
BUILD ?= build
SANITIZE ?=

WARNINGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wundef -Wvla -Wwrite-strings \
           -Wold-style-definition -Wnull-dereference -Wimplicit-fallthrough
# Messages and paths are cut to their buffers on purpose.
WARNINGS += $(if $(findstring clang,$(CC)),,-Wno-format-truncation)
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

ifeq ($(SANITIZE),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
OPTIMIZATION = -O1
endif
ifeq ($(SANITIZE),fuzzer)
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined \
           -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPTIMIZATION = -O1
endif
ifeq ($(SANITIZE),thread)
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
OPTIMIZATION = -O1
endif

VERSION = 0.1.0
SOVERSION = 0
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
MANDIR = $(PREFIX)/share/man
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

DEPS_CFLAGS := $(shell pkg-config --cflags libutf8proc jansson 2>/dev/null)
DEPS_LIBS := -lstemmer -lisal -lz -lzstd -lutf8proc -ljansson -lpthread -lm
# The command links libc and ISA-L (which Debian ships only as a shared
# library) dynamically and the other libraries statically, not
# position-independent (no relocations of its own code at start).
BIN_LDFLAGS = $(if $(SANITIZE),,-no-pie)
BIN_LIBS := -Wl,-Bstatic -lstemmer -lz -lzstd -lutf8proc -ljansson \
            -Wl,-Bdynamic -lisal -lpthread -lm

# Only what artsearch.h marks AS_API is exported (see $(LIB) below).
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -g $(OPTIMIZATION) $(WARNINGS) \
             $(SANFLAGS) $(DEPS_CFLAGS) -fvisibility=hidden -Isrc $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

LIB_SRC = src/err.c src/mem.c src/buf.c src/codec.c src/analyze.c \
          src/corpus.c src/invert.c src/segment.c src/index.c src/search.c \
          src/snippet.c src/query.c src/api.c src/ring.c src/gzin.c
LIB_OBJ = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
PIC_OBJ = $(LIB_SRC:src/%.c=$(BUILD)/pic/%.o)
# Every module, for the tests and the benchmark, which test internals.
LIB_INTERNAL = $(BUILD)/libartsearch-internal.a
# The public library: one object whose only global symbols are the API.
LIB = $(BUILD)/libartsearch.a
SONAME = libartsearch.so.$(SOVERSION)
SO = $(BUILD)/libartsearch.so.$(VERSION)
BIN = $(BUILD)/artsearch

TEST_SRC = $(wildcard tests/test_*.c)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

BENCH_BIN = $(BUILD)/bench
# The benchmark's corpus and queries (see bench/bench.c); BENCH_ARGS adds
# options such as --fts-every 20.
BENCH_CORPUS ?= ../shared/corpora/wiki-passages
BENCH_QUERIES ?= ../shared/queries/health-titles.tsv \
                 ../shared/queries/health-descriptions.tsv
BENCH_ARGS ?=

.PHONY: all test asan tsan deps clean bench bench-quick eval shared \
        install uninstall fuzz fuzz-build fuzz-deps valgrind
.SUFFIXES:

all: artsearch

# The command lives at the top level for the README's commands.
artsearch: $(BIN)
	@if [ "$(BUILD)" = build ]; then cp $(BIN) artsearch; fi

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/pic/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/pic
	$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(LIB_INTERNAL): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# Link the modules into one object and make every symbol not marked AS_API
# local, so a program linking libartsearch.a sees nothing but the API.
$(LIB): $(LIB_OBJ)
	rm -f $@
	$(LD) -r -o $(BUILD)/obj/artsearch-all.o $^
	objcopy --localize-hidden $(BUILD)/obj/artsearch-all.o
	ar rcs $@ $(BUILD)/obj/artsearch-all.o

$(SO): $(PIC_OBJ)
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(DEPS_LIBS)
	ln -sf libartsearch.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libartsearch.so

shared: $(SO)

# The command uses the public library only.
$(BIN): $(BUILD)/obj/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) $(BIN_LDFLAGS) -o $@ $^ $(BIN_LIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB_INTERNAL) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(LIB_INTERNAL) $(ALL_LDFLAGS) \
	    $(DEPS_LIBS) -lcmocka

$(BUILD)/obj $(BUILD)/pic $(BUILD)/tests:
	mkdir -p $@

$(BENCH_BIN): bench/bench.c $(LIB_INTERNAL)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_INTERNAL) $(ALL_LDFLAGS) $(DEPS_LIBS) \
	    -lsqlite3

# The full benchmark.  Absent shared data: a generated corpus, and queries
# from the generated vocabulary are not available, so none are run.
bench: $(BENCH_BIN)
	$(BENCH_BIN) --corpus $(BENCH_CORPUS) \
	    $(foreach q,$(wildcard $(BENCH_QUERIES)),--queries $(q)) $(BENCH_ARGS)

# A few seconds on a small generated corpus, for CI: checks that the
# benchmark runs and that pruned and exhaustive rankings agree.
bench-quick: $(BENCH_BIN)
	$(BENCH_BIN) --docs 5000 --out quick --fts-every 5 \
	    --queries bench/quick-queries.tsv

EVAL_BIN = $(BUILD)/eval
NFCORPUS ?= ../shared/eval/nfcorpus

$(EVAL_BIN): bench/eval.c | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) -lm

# Ranking quality on the NFCorpus dev split (see bench/eval.c).
eval: $(BIN) $(EVAL_BIN)
	@test -d $(NFCORPUS) || { echo "eval: $(NFCORPUS) is absent"; exit 0; }
	$(BIN) build $(NFCORPUS)/corpus.jsonl.gz -o $(BUILD)/nfcorpus-index -q
	$(BIN) query -i $(BUILD)/nfcorpus-index -n 100 --format trec \
	    --queries $(NFCORPUS)/dev.queries.tsv > $(BUILD)/nfcorpus-dev.run
	$(EVAL_BIN) $(NFCORPUS)/dev.qrels $(BUILD)/nfcorpus-dev.run

# ---- Fuzzing -------------------------------------------------------------
# Targets in fuzz/: the query parser and search, each corpus reader, and an
# index made of arbitrary bytes.  Seeds in fuzz/seeds/TARGET, inputs that
# once crashed in fuzz/regressions/TARGET; `make test` replays both through
# replay-TARGET (the same entry points without libFuzzer).
FUZZ_TARGETS = query text html jsonl gzip index
FUZZ_SECONDS ?= 60
FUZZ_BUILD = build/fuzz
fuzz_src = $(if $(filter query,$(1)),fuzz/fuzz_query.c,$(if \
    $(filter index,$(1)),fuzz/fuzz_index.c,fuzz/fuzz_reader.c))
fuzz_def = $(if $(filter text,$(1)),-DREADER_EXT='".txt"',$(if \
    $(filter html,$(1)),-DREADER_EXT='".html"',$(if \
    $(filter jsonl,$(1)),-DREADER_EXT='".jsonl"',$(if \
    $(filter gzip,$(1)),-DREADER_EXT='".jsonl.gz"',))))
REPLAY_BIN = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay-%)

$(BUILD)/fuzz/replay-%: fuzz/replay.c fuzz/fuzz_*.c fuzz/fuzz_util.h \
                        $(LIB_INTERNAL)
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(ALL_CFLAGS) -Ifuzz $(call fuzz_def,$*) -o $@ fuzz/replay.c \
	    $(call fuzz_src,$*) $(LIB_INTERNAL) $(ALL_LDFLAGS) $(DEPS_LIBS)

fuzz-build:
	$(MAKE) CC=clang BUILD=$(FUZZ_BUILD) SANITIZE=fuzzer \
	    $(FUZZ_BUILD)/libartsearch-internal.a
	@for t in $(FUZZ_TARGETS); do \
	    $(MAKE) --no-print-directory CC=clang BUILD=$(FUZZ_BUILD) \
	        SANITIZE=fuzzer $(FUZZ_BUILD)/fuzz-$$t || exit 1; done

$(FUZZ_BUILD)/fuzz-%: fuzz/fuzz_*.c fuzz/fuzz_util.h \
                      $(FUZZ_BUILD)/libartsearch-internal.a
	$(CC) $(ALL_CFLAGS) -Ifuzz $(call fuzz_def,$*) -fsanitize=fuzzer \
	    -o $@ $(call fuzz_src,$*) $(FUZZ_BUILD)/libartsearch-internal.a \
	    $(ALL_LDFLAGS) $(DEPS_LIBS)

# Each target for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=600); new inputs
# go to build/fuzz/corpus-TARGET, crashes to build/fuzz/crash-TARGET-*.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	        $(FUZZ_BUILD)/corpus-$$t fuzz/seeds/$$t || exit 1; \
	done

test: $(BIN) $(TEST_BIN) $(EVAL_BIN) $(REPLAY_BIN)
	@ARTSEARCH_BIN=$(abspath $(BIN)) ARTSEARCH_EVAL=$(abspath $(EVAL_BIN)) \
	    ARTSEARCH_REPLAY=$(abspath $(BUILD)/fuzz) \
	    tests/run.sh $(TEST_BIN)

asan:
	$(MAKE) BUILD=build/asan SANITIZE=1 test

# The end-to-end tests with every artsearch process under valgrind memcheck
# (tests/valgrind.sh): any error or leak fails the run.  Its own build,
# with libc linked dynamically: memcheck replaces malloc through it.
VG_BUILD = build/valgrind
VG_LOGDIR = $(VG_BUILD)/logs
valgrind:
	$(MAKE) BUILD=$(VG_BUILD) $(VG_BUILD)/artsearch \
	    $(VG_BUILD)/tests/test_e2e
	rm -rf $(VG_LOGDIR) && mkdir -p $(VG_LOGDIR)
	VG_LOGDIR=$(abspath $(VG_LOGDIR)) VG_BIN=$(abspath $(VG_BUILD)/artsearch) \
	    ARTSEARCH_BIN=$(abspath tests/valgrind.sh) \
	    tests/run.sh $(VG_BUILD)/tests/test_e2e
	@n=$$(ls $(VG_LOGDIR) | wc -l); \
	bad=$$(find $(VG_LOGDIR) -type f -size +0 | wc -l); \
	echo "valgrind: $$n artsearch processes checked, $$bad with errors or leaks"; \
	if [ "$$bad" -ne 0 ]; then \
	    find $(VG_LOGDIR) -type f -size +0 -exec cat {} +; exit 1; fi; \
	[ "$$n" -gt 0 ]

# Several threads searching one index (tests/test_threads.c).
tsan:
	$(MAKE) BUILD=build/tsan SANITIZE=thread build/tsan/tests/test_threads \
	    build/tsan/tests/test_index build/tsan/artsearch
	TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/test_threads
	TSAN_OPTIONS=halt_on_error=1 \
	    ARTSEARCH_BIN=$(abspath build/tsan/artsearch) build/tsan/tests/test_index

# ---- Installation --------------------------------------------------------

$(BUILD)/artsearch.pc: artsearch.pc.in Makefile | $(BUILD)/obj
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

install: $(BIN) $(LIB) $(SO) $(BUILD)/artsearch.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/artsearch
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libartsearch.a
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/libartsearch.so.$(VERSION)
	ln -sf libartsearch.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libartsearch.so
	install -m 644 src/artsearch.h $(DESTDIR)$(INCLUDEDIR)/artsearch.h
	install -m 644 $(BUILD)/artsearch.pc $(DESTDIR)$(PKGCONFIGDIR)/artsearch.pc
	install -m 644 artsearch.1 $(DESTDIR)$(MANDIR)/man1/artsearch.1
	install -m 644 completion/artsearch.bash \
	    $(DESTDIR)$(COMPLETIONDIR)/artsearch

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/artsearch $(DESTDIR)$(LIBDIR)/libartsearch.a \
	    $(DESTDIR)$(LIBDIR)/libartsearch.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libartsearch.so \
	    $(DESTDIR)$(INCLUDEDIR)/artsearch.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/artsearch.pc \
	    $(DESTDIR)$(MANDIR)/man1/artsearch.1 \
	    $(DESTDIR)$(COMPLETIONDIR)/artsearch

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES = build-essential pkg-config libstemmer-dev zlib1g-dev \
                  libisal-dev libzstd-dev \
                  libcmocka-dev libutf8proc-dev libjansson-dev \
                  libsqlite3-dev man-db valgrind
# Only for `make fuzz` (libFuzzer): `make fuzz-deps`.
FUZZ_PACKAGES = clang libclang-rt-14-dev

deps:
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	    $(DEBIAN_PACKAGES)

fuzz-deps:
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	    $(FUZZ_PACKAGES)

clean:
	rm -rf build artsearch
