# fkex: functional key exchange. See README.md.
#
#   make            libfkex.a and the fkex binary
#   make test       the whole suite, normally and under ASan/UBSan, plus fuzz corpora
#   make demo       the whole system on loopback, narrated (TUI=1: then the chat in tmux)
#   make demo-files CP-ABE file encryption, narrated
#   make demo-cluster two relays sharing rooms through a 3-node NATS JetStream cluster
#   make bench      fkex bench abe, fkex bench ibe, fkex bench gke, fkex bench relay
#   make fuzz       libFuzzer targets (clang)
#   make install / uninstall / clean
#
# BLST_DIR=/path/to/blst builds an existing blst tree instead of fetching one.

CC      ?= cc
AR      ?= ar
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
BUILD   ?= build

# SAN=1 builds everything under AddressSanitizer and UBSan.
ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

FKEX_CFLAGS = -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
              -Iinclude -Isrc -Ibench -Ideps/include
# The I/O edges (src/kms, src/relay, src/chat) use libuv, SQLite, NATS and ncurses.
LIBS = deps/lib/libblst.a -lsodium -lcrypto -luv -lsqlite3 -lnats -lncursesw -ltinfo -lm

LIB_SRC  = $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c src/*.c)))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
TEST_SRC = $(sort $(wildcard tests/*.c))
BENCH_SRC = $(sort $(wildcard bench/*.c))
FUZZ_SRC = $(sort $(wildcard fuzz/*.c))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o) $(BENCH_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/bench/room.o $(BUILD)/bench/child.o \
           $(BUILD)/bench/nats_cluster.o
HEADERS  = $(wildcard include/fkex/*.h src/*.h src/*/*.h bench/*.h tests/*.h)

all: $(BUILD)/libfkex.a $(BUILD)/fkex $(BUILD)/fkex-tests
ifeq ($(BUILD),build)
all: fkex
fkex: $(BUILD)/fkex
	cp $< $@
endif

deps/stamp: scripts/deps.sh
	sh scripts/deps.sh
deps: FORCE
	@sh scripts/deps.sh

$(BUILD)/%.o: %.c $(HEADERS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(FKEX_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libfkex.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/fkex: $(CLI_OBJ) $(BUILD)/libfkex.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libfkex.a $(LIBS)

# The library's calls to these blst functions go through tests/opcount.c,
# which counts them (tests/opcount.h).
TEST_WRAP = $(foreach f,blst_pairing_raw_aggregate blst_final_exp blst_p1_mult \
	blst_p2_mult blst_p1_add_or_double_affine blst_p2_add_or_double_affine \
	blst_hash_to_g1,-Wl,--wrap=$(f))

$(BUILD)/fkex-tests: $(TEST_OBJ) $(BUILD)/libfkex.a
	$(CC) $(LDFLAGS) $(TEST_WRAP) -o $@ $(TEST_OBJ) $(BUILD)/libfkex.a $(LIBS)

# Constant-time checks under valgrind (tests/ctgrind/ctgrind.c).
$(BUILD)/fkex-ctgrind: tests/ctgrind/ctgrind.c $(BUILD)/libfkex.a
	$(CC) $(FKEX_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libfkex.a $(LIBS)

test: all $(BUILD)/fkex-ctgrind
	sh scripts/test.sh

demo: all
	TUI=$(TUI) sh scripts/demo.sh

demo-files: all
	sh scripts/demo-files.sh

demo-cluster: all
	sh scripts/demo-cluster.sh

bench: all
	./fkex bench abe
	./fkex bench ibe
	./fkex bench gke
	./fkex bench relay

# libFuzzer targets: clang, linked against the library built with the same flags.
FUZZ_CC = clang
FUZZ_SAN = -g -O1 -fno-sanitize-recover=all
FUZZ_FLAGS = $(FUZZ_SAN) -fsanitize=fuzzer,address,undefined
FUZZ_BINS = $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
# The library is compiled once, instrumented, and every target links it.
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
fuzz: $(FUZZ_BINS)
$(BUILD)/fuzz/obj/%.o: %.c $(HEADERS) | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FKEX_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(BUILD)/fuzz/libfkex-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/fuzz/%: fuzz/%.c fuzz/seeds.h $(BUILD)/fuzz/libfkex-fuzz.a | deps
	$(FUZZ_CC) $(FKEX_CFLAGS) $(FUZZ_FLAGS) -o $@ $< $(BUILD)/fuzz/libfkex-fuzz.a $(LIBS)

# blst is installed privately, under LIBDIR/fkex, for static linking through
# pkg-config (libfkex.pc's Libs.private).
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/fkex $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCDIR)/fkex $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/fkex $(DESTDIR)$(BINDIR)/fkex
	install -m 644 $(BUILD)/libfkex.a $(DESTDIR)$(LIBDIR)/libfkex.a
	install -m 644 deps/lib/libblst.a $(DESTDIR)$(LIBDIR)/fkex/libblst.a
	install -m 644 include/fkex/*.h $(DESTDIR)$(INCDIR)/fkex/
	install -m 644 docs/fkex.1 $(DESTDIR)$(MANDIR)/man1/fkex.1
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|' \
		libfkex.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libfkex.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/fkex $(DESTDIR)$(LIBDIR)/libfkex.a $(DESTDIR)$(MANDIR)/man1/fkex.1
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/libfkex.pc
	rm -rf $(DESTDIR)$(INCDIR)/fkex $(DESTDIR)$(LIBDIR)/fkex

clean:
	rm -rf build fkex

FORCE:
.PHONY: all test demo demo-files demo-cluster bench fuzz install uninstall clean deps FORCE
