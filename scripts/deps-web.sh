#!/bin/sh
# What the WebAssembly build (`make wasm`, docs/ARCHITECTURE.md "The browser
# client") needs, built into deps/wasm/ (never committed):
#   - Debian's emscripten, and autotools for libsodium's build; Debian's
#     chromium and chromedriver, for the browser tests (tests/web);
#   - libsodium from Debian's own source package (`apt-get source`, with a
#     deb-src entry for the archive this machine already uses: apt checks it
#     against the archive's signed index), built with emcc, no assembly;
#   - blst (deps/blst-src, fetched by scripts/deps.sh) built with emcc in its
#     portable C (__BLST_NO_ASM__).
#
#   sh scripts/deps-web.sh          install and build what is missing
#   sh scripts/deps-web.sh --env    print the environment emcc needs (eval it)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/deps/wasm"

say() { printf 'deps-web: %s\n' "$*" >&2; }
die() { printf 'deps-web: error: %s\n' "$*" >&2; exit 1; }

# Debian's emcc runs its JavaScript optimiser with Debian's node-acorn, which
# a Node.js from elsewhere (nodesource's, say) does not look for.
NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
export NODE_PATH
if [ "${1:-}" = "--env" ]; then
    printf 'NODE_PATH=%s; export NODE_PATH\n' "$NODE_PATH"
    exit 0
fi

packages="emscripten autoconf automake libtool dpkg-dev chromium chromium-driver"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || die "missing Debian packages:$missing (run as root, or: sudo apt-get install -y$missing)"
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null || die "apt-get install failed for:$missing"
fi
[ -f "$top/deps/blst-src/src/server.c" ] || die "no blst source in deps/blst-src (run make deps first)"

stamp="emcc:$(emcc -dumpversion) blst:$(cat "$top/deps/stamp" 2>/dev/null | cut -d' ' -f1)"
if [ -f "$out/lib/libsodium.a" ] && [ -f "$out/lib/libblst.a" ] &&
    [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
rm -rf "$out"
mkdir -p "$out/src" "$out/lib" "$out/include"

# --- libsodium, from Debian's source package ---------------------------------
# A deb-src entry beside each deb entry of Debian's archive, in the same
# format (deb822 or one-line), written once.
src_list=/etc/apt/sources.list.d/fkex-deb-src.sources
if ! apt-get source --print-uris -qq libsodium >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "apt has no deb-src entry for libsodium; as root this script adds one"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed -n 's/^Types: deb$/Types: deb-src/; p' /etc/apt/sources.list.d/debian.sources >"$src_list"
    else
        grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /' \
            >/etc/apt/sources.list.d/fkex-deb-src.list
    fi
    say "added a deb-src entry for Debian's archive; apt-get update"
    apt-get update -qq || die "apt-get update failed"
fi
say "fetching libsodium's Debian source package"
(cd "$out/src" && apt-get source -qq libsodium >"$out/src/apt.log" 2>&1) ||
    die "apt-get source libsodium failed; see $out/src/apt.log"
sodium=$(ls -d "$out"/src/libsodium-*/ 2>/dev/null | head -n 1)
[ -n "$sodium" ] || die "apt-get source gave no libsodium tree"
say "building libsodium with emcc (a few minutes)"
(
    cd "$sodium"
    autoreconf -fi >"$out/src/build.log" 2>&1 &&
        emconfigure ./configure --host=wasm32-unknown-emscripten --prefix="$out" \
            --disable-shared --enable-static --disable-ssp --disable-asm \
            --without-pthreads --disable-pie CFLAGS="-O3" >>"$out/src/build.log" 2>&1 &&
        emmake make -j2 install >>"$out/src/build.log" 2>&1
) || die "libsodium's wasm build failed; see $out/src/build.log"

# --- blst --------------------------------------------------------------------
say "building blst with emcc"
emcc -O2 -fno-builtin -D__BLST_NO_ASM__ -c "$top/deps/blst-src/src/server.c" -o "$out/src/blst.o" ||
    die "blst's wasm build failed"
emar rcs "$out/lib/libblst.a" "$out/src/blst.o"
cp "$top/deps/blst-src/bindings/blst.h" "$top/deps/blst-src/bindings/blst_aux.h" "$out/include/"
rm -rf "$out/src"
printf '%s\n' "$stamp" >"$out/stamp"
say "wasm dependencies ready in $out"
