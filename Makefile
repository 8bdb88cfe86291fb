# fkex: functional key exchange. See README.md.
#
#   make            the libraries and the fkex binary (never installs anything)
#   make deps       what the build needs: Debian packages (as root), blst from npm
#   make test       deps, then the whole suite, normally and under ASan/UBSan,
#                   plus the layer check, the web client in headless chromium
#                   and the fuzz corpora
#   make wasm       the web client (WebAssembly) into build/wasm/web, and the
#                   benchmark's wasm build (scripts/deps-web.sh first)
#   make demo       deps, then the whole system on loopback, narrated
#                   (TUI=1: then the chat in tmux)
#   make demo-files CP-ABE file encryption, narrated
#   make demo-cluster two relays sharing rooms through a 3-node NATS JetStream cluster
#   make demo-web   a relay serving the web client, a room, and the command
#                   that opens it in Chromium
#   make bench      fkex bench abe (and its wasm build beside the native one at
#                   N = 10), fkex bench ibe, fkex bench gke, fkex bench relay
#   make layers     each layer links against the layers below it alone
#   make fuzz       libFuzzer targets (clang)
#   make install / uninstall / clean
#
# `make deps BLST_DIR=/path/to/blst` builds an existing blst tree instead of
# fetching one. WERROR= builds without -Werror.

VERSION := $(shell cat VERSION)
CC      ?= cc
AR      ?= ar
PKG_CONFIG ?= pkg-config
CFLAGS  ?= -O2 -g
LDFLAGS ?=
WERROR  ?= -Werror
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
WEBDIR  ?= $(PREFIX)/share/fkex/web
BUILD   ?= build

# SAN=1 builds everything under AddressSanitizer and UBSan.
ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

# The libraries the code uses, from pkg-config (the curses headers need no
# flags beyond their path: tui.c sets the feature macros it needs).
PURE_PKGS = libsodium libcrypto
IO_PKGS   = libuv sqlite3 libnats libssl
TUI_PKGS  = ncursesw
# Asked once per make (what is missing is check-deps' to say).
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PURE_PKGS) $(IO_PKGS) 2>/dev/null) \
              $(shell $(PKG_CONFIG) --cflags-only-I $(TUI_PKGS) 2>/dev/null)
PURE_PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PURE_PKGS) 2>/dev/null)
IO_PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(IO_PKGS) 2>/dev/null)
TUI_PKG_LIBS  := $(shell $(PKG_CONFIG) --libs $(TUI_PKGS) 2>/dev/null)

FKEX_CFLAGS = -std=c11 -Wall -Wextra $(WERROR) -D_POSIX_C_SOURCE=200809L \
              -Iinclude -Isrc -Ibench -Ideps/include -fPIC -fvisibility=hidden -MMD -MP \
              $(PKG_CFLAGS)
BLST = deps/lib/libblst.a
PURE_LIBS = $(BLST) $(PURE_PKG_LIBS) -lm
IO_LIBS   = $(BLST) $(IO_PKG_LIBS) $(PURE_PKG_LIBS) -lm
LIBS = $(BLST) $(IO_PKG_LIBS) $(TUI_PKG_LIBS) $(PURE_PKG_LIBS) -lm

# ---- layers ------------------------------------------------------------------
# Bottom to top (docs/ARCHITECTURE.md, "Layers"). Each layer is one archive
# and names every layer it may use; `make layers` links each archive against
# those alone (a pure layer with blst, libsodium and libcrypto only; an I/O
# layer without curses), so a call upward or sideways fails to link.
# libfkex is the pure layers; the I/O layers (sockets, SQLite, NATS) make
# libfkex-io; the terminal interface (tui) is the fkex command's alone.
PURE_LAYERS = codec rand pairing policy crypto authority abe ibe wire gke file enrol
IO_LAYERS   = net kms relay chat
TOP_LAYERS  = tui
uses_codec     =
uses_rand      =
uses_pairing   = rand codec
uses_policy    = pairing rand codec
uses_crypto    = rand codec
uses_authority = crypto policy pairing rand codec
uses_abe       = authority crypto policy pairing rand codec
uses_ibe       = authority crypto policy pairing rand codec
uses_wire      = abe authority crypto policy pairing rand codec
uses_gke       = wire abe authority crypto policy pairing rand codec
uses_file      = ibe abe authority crypto policy pairing rand codec
uses_enrol     = crypto rand codec
uses_net       = codec
uses_kms       = net enrol ibe abe authority crypto policy pairing rand codec
uses_relay     = net gke wire abe authority crypto policy pairing rand codec
uses_chat      = net gke wire ibe abe authority crypto policy pairing rand codec
uses_tui       = chat net gke wire ibe abe authority crypto policy pairing rand codec

LAYERS     = $(PURE_LAYERS) $(IO_LAYERS) $(TOP_LAYERS)
layer_src  = $(sort $(wildcard src/$(1)/*.c))
layer_obj  = $(patsubst %.c,$(BUILD)/%.o,$(call layer_src,$(1)))
layer_lib  = $(BUILD)/layers/libfkex-$(1).a
# Top first, for static linking.
LINK_LAYERS = $(foreach l,$(shell echo $(LAYERS) | tr ' ' '\n' | tac),$(call layer_lib,$(l)))

PURE_OBJ = $(foreach l,$(PURE_LAYERS),$(call layer_obj,$(l)))
IO_OBJ   = $(foreach l,$(IO_LAYERS),$(call layer_obj,$(l)))
LIB_SRC  = $(foreach l,$(LAYERS),$(call layer_src,$(l)))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
TEST_SRC = $(sort $(wildcard tests/*.c))
BENCH_SRC = $(sort $(wildcard bench/*.c))
FUZZ_SRC = $(sort $(wildcard fuzz/*.c))

CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o) $(BENCH_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/bench/room.o $(BUILD)/bench/child.o \
           $(BUILD)/bench/nats_cluster.o

all: $(BUILD)/libfkex.a $(BUILD)/libfkex.so $(BUILD)/libfkex-io.a $(BUILD)/libfkex-io.so \
	$(BUILD)/fkex
ifeq ($(BUILD),build)
all: fkex
fkex: $(BUILD)/fkex
	cp $< $@.tmp && mv -f $@.tmp $@
endif

# Plain make checks and never installs; `make deps` installs.
deps:
	@sh scripts/deps.sh
check-deps:
	@sh scripts/deps.sh --check

# fkex_version() says what VERSION said when it was built.
$(BUILD)/src/crypto/init.o $(BUILD)/fuzz/obj/src/crypto/init.o: VERSION
$(BUILD)/src/crypto/init.o $(BUILD)/fuzz/obj/src/crypto/init.o: FKEX_CFLAGS += -DFKEX_VERSION='"$(VERSION)"'

$(BUILD)/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(FKEX_CFLAGS) $(CFLAGS) -c $< -o $@

# An archive also depends on its folder, whose time changes when a file
# comes or goes, so that a removed file leaves no object behind.
define layer_rule
$(call layer_lib,$(1)): $(call layer_obj,$(1)) src/$(1)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$(AR) rcs $$@ $(call layer_obj,$(1))
$(BUILD)/layers/$(1).ok: $(call layer_lib,$(1)) $(foreach u,$(uses_$(1)),$(call layer_lib,$(u))) Makefile
	$(CC) -shared -Wl,--no-undefined -o $(BUILD)/layers/$(1).so \
		-Wl,--whole-archive $(call layer_lib,$(1)) -Wl,--no-whole-archive \
		$(foreach u,$(uses_$(1)),$(call layer_lib,$(u))) \
		$(if $(filter $(1),$(PURE_LAYERS)),$(PURE_LIBS),$(if $(filter $(1),$(IO_LAYERS)),$(IO_LIBS),$(LIBS)))
	@rm -f $(BUILD)/layers/$(1).so
	@touch $$@
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

layers: $(foreach l,$(LAYERS),$(BUILD)/layers/$(l).ok)

$(BUILD)/libfkex.a: $(PURE_OBJ) $(addprefix src/,$(PURE_LAYERS))
	@rm -f $@
	$(AR) rcs $@ $(PURE_OBJ)
# The shared library is the pure layers and exports the public API alone:
# what include/fkex/ marks FKEX_API (everything else is built hidden), with
# blst inside it and hidden too. Its soname changes with MAJOR.MINOR while
# the major version is 0.
SOVERSION := $(shell echo $(VERSION) | cut -d. -f1-2)
$(BUILD)/libfkex.so.$(VERSION): $(PURE_OBJ) $(addprefix src/,$(PURE_LAYERS))
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libfkex.so.$(SOVERSION) -Wl,--no-undefined -Wl,--exclude-libs,ALL \
		-Wl,-Bsymbolic-functions -o $@ $(PURE_OBJ) $(PURE_LIBS)
$(BUILD)/libfkex.so: $(BUILD)/libfkex.so.$(VERSION)
	ln -sf libfkex.so.$(VERSION) $(BUILD)/libfkex.so.$(SOVERSION)
	ln -sf libfkex.so.$(SOVERSION) $@

$(BUILD)/libfkex-io.a: $(IO_OBJ) $(addprefix src/,$(IO_LAYERS))
	@rm -f $@
	$(AR) rcs $@ $(IO_OBJ)
# The I/O library's shared one holds the pure layers too (their objects
# are hidden in libfkex.so), and exports both public APIs.
$(BUILD)/libfkex-io.so.$(VERSION): $(PURE_OBJ) $(IO_OBJ) $(addprefix src/,$(PURE_LAYERS) $(IO_LAYERS))
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libfkex-io.so.$(SOVERSION) -Wl,--no-undefined \
		-Wl,--exclude-libs,ALL -Wl,-Bsymbolic-functions -o $@ $(PURE_OBJ) $(IO_OBJ) $(IO_LIBS)
$(BUILD)/libfkex-io.so: $(BUILD)/libfkex-io.so.$(VERSION)
	ln -sf libfkex-io.so.$(VERSION) $(BUILD)/libfkex-io.so.$(SOVERSION)
	ln -sf libfkex-io.so.$(SOVERSION) $@

$(BUILD)/fkex: $(CLI_OBJ) $(LINK_LAYERS)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LINK_LAYERS) $(LIBS)

# The library's calls to these blst functions go through tests/opcount.c,
# which counts them (tests/opcount.h).
TEST_WRAP = $(foreach f,blst_pairing_raw_aggregate blst_final_exp blst_p1_mult \
	blst_p2_mult blst_p1_add_or_double_affine blst_p2_add_or_double_affine \
	blst_hash_to_g1,-Wl,--wrap=$(f))

$(BUILD)/fkex-tests: $(TEST_OBJ) $(LINK_LAYERS)
	$(CC) $(LDFLAGS) $(TEST_WRAP) -o $@ $(TEST_OBJ) $(LINK_LAYERS) $(LIBS)

# Constant-time checks under valgrind (tests/ctgrind/ctgrind.c).
$(BUILD)/fkex-ctgrind: $(BUILD)/tests/ctgrind/ctgrind.o $(LINK_LAYERS)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LAYERS) $(LIBS)

tests: all $(BUILD)/fkex-tests $(BUILD)/fkex-ctgrind

test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory tests layers wasm
	sh scripts/test.sh

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	TUI=$(TUI) sh scripts/demo.sh

demo-files: all
	sh scripts/demo-files.sh

demo-cluster: all
	sh scripts/demo-cluster.sh

demo-web: all wasm
	sh scripts/demo-web.sh

bench: all wasm
	./fkex bench abe
	./fkex bench abe --size 10 --wasm $(WASM)/fkex-bench.js
	./fkex bench ibe
	./fkex bench gke
	./fkex bench relay

# ---- WebAssembly (docs/ARCHITECTURE.md, "The browser client") ------------
# The pure layers and src/web/ compiled by Debian's emcc against blst and
# libsodium built for wasm (scripts/deps-web.sh, into deps/wasm/).
WASM      = $(BUILD)/wasm
EMCC      = NODE_PATH=/usr/share/nodejs emcc
# src/web/include (libuv's timers on the browser's loop) comes first.
WASM_CFLAGS = -std=c11 -Wall -Wextra $(WERROR) -D_POSIX_C_SOURCE=200809L -Isrc/web/include -Iinclude \
              -Isrc -Ibench -Ideps/wasm/include -O2 -MMD -MP
WASM_DEPS = deps/wasm/lib/libblst.a deps/wasm/lib/libsodium.a
WASM_PURE_OBJ = $(patsubst %.c,$(WASM)/%.o,$(foreach l,$(PURE_LAYERS),$(call layer_src,$(l))))
# Node.js runs the benchmark from one file (the wasm inside it).
WASM_BENCH_OBJ = $(WASM)/src/web/bench_main.o $(WASM)/bench/abe.o $(WASM)/bench/bench.o \
                 $(WASM)/bench/groups.o
# The web client: the chat layer over a WebSocket, and the page (web/).
WASM_CLIENT_SRC = $(filter-out src/chat/api.c,$(call layer_src,chat)) src/net/address.c \
                  $(filter-out src/web/bench_main.c,$(sort $(wildcard src/web/*.c)))
WASM_CLIENT_OBJ = $(WASM_CLIENT_SRC:%.c=$(WASM)/%.o)
WEB_FILES = $(sort $(wildcard web/*))
WASM_LINK = -O2 -sALLOW_MEMORY_GROWTH=1 -sDYNAMIC_EXECUTION=0 -sFILESYSTEM=0
wasm: deps-web $(WASM)/fkex-bench.js $(WASM)/web/index.html
$(WASM)/web/fkex.js: $(WASM_CLIENT_OBJ) $(WASM_PURE_OBJ) $(WASM_DEPS)
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_LINK) -sMODULARIZE=1 -sEXPORT_NAME=FkexModule -sENVIRONMENT=web \
		-sEXPORTED_FUNCTIONS=_malloc,_free -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8 \
		-o $@ $(WASM_CLIENT_OBJ) $(WASM_PURE_OBJ) $(WASM_DEPS)
$(WASM)/web/index.html: $(WEB_FILES) $(WASM)/web/fkex.js
	cp $(WEB_FILES) $(WASM)/web/
deps-web:
	@sh scripts/deps-web.sh
$(WASM)/src/crypto/init.o: FKEX_VERSION_FLAG = -DFKEX_VERSION='"$(VERSION)"'
$(WASM)/%.o: %.c $(WASM_DEPS)
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_CFLAGS) $(FKEX_VERSION_FLAG) -c $< -o $@
$(WASM)/fkex-bench.js: $(WASM_BENCH_OBJ) $(WASM_PURE_OBJ) $(WASM_DEPS)
	$(EMCC) $(WASM_LINK) -sSINGLE_FILE=1 -sENVIRONMENT=node -sEXIT_RUNTIME=1 \
		-o $@ $(WASM_BENCH_OBJ) $(WASM_PURE_OBJ) $(WASM_DEPS)

# libFuzzer targets: clang, linked against the library built with the same flags.
FUZZ_CC = clang
FUZZ_SAN = -g -O1 -fno-sanitize-recover=all
FUZZ_FLAGS = $(FUZZ_SAN) -fsanitize=fuzzer,address,undefined
FUZZ_BINS = $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
# The library is compiled once, instrumented, and every target links it.
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
fuzz: $(FUZZ_BINS)
$(BUILD)/fuzz/obj/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FKEX_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(BUILD)/fuzz/libfkex-fuzz.a: $(FUZZ_LIB_OBJ) $(addprefix src/,$(LAYERS))
	@rm -f $@
	$(AR) rcs $@ $(FUZZ_LIB_OBJ)
$(BUILD)/fuzz/%: fuzz/%.c fuzz/seeds.h $(BUILD)/fuzz/libfkex-fuzz.a | check-deps
	$(FUZZ_CC) $(FKEX_CFLAGS) -MF $@.d $(FUZZ_FLAGS) -o $@ $< $(BUILD)/fuzz/libfkex-fuzz.a $(LIBS)

# The shared library carries blst inside it; for static linking, blst is
# installed privately under LIBDIR/fkex (libfkex.pc's Libs.private).
# Templates get their paths and the version (files made with mode 644
# whatever the umask).
FILL = sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|' \
	-e 's|@BINDIR@|$(BINDIR)|; s|@VERSION@|$(VERSION)|'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/fkex $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCDIR)/fkex $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(BUILD)/install
	install -m 755 $(BUILD)/fkex $(DESTDIR)$(BINDIR)/fkex
	install -m 644 $(BUILD)/libfkex.a $(BUILD)/libfkex-io.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(BLST) $(DESTDIR)$(LIBDIR)/fkex/libblst.a
	install -m 644 include/fkex/*.h $(DESTDIR)$(INCDIR)/fkex/
	for l in libfkex libfkex-io; do \
		install -m 755 $(BUILD)/$$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION) && \
		ln -sf $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) && \
		ln -sf $$l.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$$l.so && \
		$(FILL) $$l.pc.in > $(BUILD)/install/$$l.pc && \
		install -m 644 $(BUILD)/install/$$l.pc $(DESTDIR)$(LIBDIR)/pkgconfig/$$l.pc || exit 1; \
	done
	for p in man1/fkex.1 man5/fkex.5 man8/fkex-kms.8 man8/fkex-relay.8; do \
		$(FILL) docs/$${p#*/} > $(BUILD)/install/$${p#*/} && \
		install -m 644 $(BUILD)/install/$${p#*/} $(DESTDIR)$(MANDIR)/$$p || exit 1; \
	done
	for u in fkex-kms fkex-relay; do \
		$(FILL) packaging/systemd/$$u.service.in > $(BUILD)/install/$$u.service && \
		install -m 644 $(BUILD)/install/$$u.service $(DESTDIR)$(UNITDIR)/$$u.service || exit 1; \
	done
	install -m 644 packaging/systemd/fkex.sysusers $(DESTDIR)$(SYSUSERSDIR)/fkex.conf
	@if [ -f $(WASM)/web/fkex.wasm ]; then \
		install -d $(DESTDIR)$(WEBDIR) && install -m 644 $(WASM)/web/* $(DESTDIR)$(WEBDIR)/ && \
		echo "make install: the web client is in $(WEBDIR) (fkex relay --web $(WEBDIR))"; \
	else echo "make install: no web client (make wasm builds it)"; fi
	@test -n "$(DESTDIR)" || echo "make install: run ldconfig so that programs find libfkex.so.$(SOVERSION)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/fkex $(DESTDIR)$(LIBDIR)/libfkex.a $(DESTDIR)$(MANDIR)/man1/fkex.1
	rm -f $(DESTDIR)$(MANDIR)/man5/fkex.5 $(DESTDIR)$(MANDIR)/man8/fkex-kms.8 \
		$(DESTDIR)$(MANDIR)/man8/fkex-relay.8 $(DESTDIR)$(SYSUSERSDIR)/fkex.conf \
		$(DESTDIR)$(UNITDIR)/fkex-kms.service $(DESTDIR)$(UNITDIR)/fkex-relay.service
	for l in libfkex libfkex-io; do \
		rm -f $(DESTDIR)$(LIBDIR)/$$l.so $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) \
			$(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/pkgconfig/$$l.pc; \
	done
	rm -f $(DESTDIR)$(LIBDIR)/libfkex-io.a
	rm -rf $(DESTDIR)$(INCDIR)/fkex $(DESTDIR)$(LIBDIR)/fkex $(DESTDIR)$(WEBDIR)
	rmdir $(DESTDIR)$(patsubst %/,%,$(dir $(WEBDIR))) 2>/dev/null || true

clean:
	rm -rf $(BUILD) fkex

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

.PHONY: all deps check-deps layers tests test demo demo-files demo-cluster demo-web bench fuzz wasm \
	deps-web \
	install uninstall clean
