#!/bin/sh
# Bootstrap fkex's dependencies: Debian packages, and blst fetched from the
# npm registry with a pinned integrity hash, built into deps/ (never committed).
#
#   sh scripts/deps.sh            install what is missing (`make deps`)
#   BLST_DIR=/path sh scripts/deps.sh   build an existing blst tree instead
#   sh scripts/deps.sh --check    change nothing: exit 2, saying what is
#                                 missing, unless the build has what it needs
#                                 (plain `make` asks this, never installs)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/deps"
blst_pkg="@chainsafe/blst@0.2.11"
blst_integrity="sha512-URyOLq5GtxBoxibOnd2pgLydCy0UZzbiIIBcsRAvGxAsRzjZL04TsQfwRkz5aphU3a1ebeRoMmI/HHyMCiFSQg=="

say() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# --- what the build itself needs (pkg-config names) --------------------------
build_modules="libsodium libcrypto libssl libuv sqlite3 libnats ncursesw"
if [ "${1:-}" = "--check" ]; then
    lacking=""
    command -v pkg-config >/dev/null 2>&1 || lacking=" pkg-config"
    [ -n "$lacking" ] || for m in $build_modules; do
        pkg-config --exists "$m" || lacking="$lacking $m"
    done
    [ -f "$deps/lib/libblst.a" ] || lacking="$lacking blst"
    if [ -n "$lacking" ]; then
        printf 'fkex: error: the build needs what is missing here:%s\n' "$lacking" >&2
        printf 'fkex: hint: run `make deps` (as root it installs the Debian packages; it fetches and builds blst)\n' >&2
        exit 2
    fi
    exit 0
fi

# --- Debian packages -------------------------------------------------------
packages="libsodium-dev libssl-dev libuv1-dev libsqlite3-dev libncurses-dev pkg-config clang libclang-rt-dev llvm
          perl openssl valgrind gnuplot-nox tmux redis-server nats-server libnats-dev python3 systemd"
missing=""
# npm may come from Node.js rather than Debian; only ask Debian when it is absent.
command -v npm >/dev/null 2>&1 || [ -n "${BLST_DIR:-}" ] || missing=" npm"
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        say "installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        # shellcheck disable=SC2086
        apt-get install -y -qq $missing >/dev/null || die "apt-get install failed for:$missing"
    else
        die "missing Debian packages:$missing
deps: hint: run: sudo apt-get install -y$missing"
    fi
fi

# --- blst ------------------------------------------------------------------
mkdir -p "$deps"
if [ -n "${BLST_DIR:-}" ]; then
    src=$(cd "$BLST_DIR" && pwd) || die "BLST_DIR=$BLST_DIR is not a directory"
    [ -f "$src/build.sh" ] && [ -f "$src/bindings/blst.h" ] ||
        die "BLST_DIR=$src does not look like a blst tree (no build.sh or bindings/blst.h)"
    stamp="local:$src"
else
    src="$deps/blst-src"
    stamp="npm:$blst_pkg:$blst_integrity"
fi

# blst picks its fastest x86-64 code (mulx/adcx) only when told the CPU has
# ADX; the build runs on the machine that uses it, so ask /proc/cpuinfo.
blst_flags=""
grep -qw adx /proc/cpuinfo 2>/dev/null && blst_flags="-D__ADX__"
stamp="$stamp $blst_flags"

if [ -f "$deps/lib/libblst.a" ] && [ "$(cat "$deps/stamp" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi

if [ -z "${BLST_DIR:-}" ]; then
    command -v npm >/dev/null || die "npm is needed to fetch blst"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    say "fetching $blst_pkg from the npm registry"
    (cd "$tmp" && npm pack --silent "$blst_pkg" >/dev/null 2>"$tmp/npm.log") ||
        die "npm pack $blst_pkg failed: $(tail -n 3 "$tmp/npm.log")"
    tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1)
    [ -n "$tgz" ] || die "npm pack produced no tarball"
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 | tr -d '\n')"
    [ "$got" = "$blst_integrity" ] ||
        die "blst tarball integrity mismatch: expected $blst_integrity, got $got (refusing to build it)"
    rm -rf "$src"
    mkdir -p "$tmp/x"
    tar -xzf "$tgz" -C "$tmp/x" package/blst || die "tarball has no package/blst"
    mv "$tmp/x/package/blst" "$src"
fi

say "building libblst.a"
rm -rf "$deps/build" "$deps/include" "$deps/lib"
mkdir -p "$deps/build" "$deps/include" "$deps/lib"
(cd "$deps/build" && CFLAGS="-O2 -fno-builtin -fPIC -Wall -Wextra" sh "$src/build.sh" $blst_flags >build.log 2>&1) ||
    die "blst build failed; see $deps/build/build.log"
cp "$deps/build/libblst.a" "$deps/lib/"
cp "$src/bindings/blst.h" "$src/bindings/blst_aux.h" "$deps/include/"
printf '%s\n' "$stamp" >"$deps/stamp"
say "blst ready in $deps"
