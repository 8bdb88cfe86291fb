#!/bin/sh
# scripts/install-test.sh: `make install` into a scratch DESTDIR, then a
# program from outside the tree (tests/outside/seal_open.c) built with
# pkg-config alone, against the shared library and against the static one,
# the public headers compiled as C++, the systemd units verified and the
# man pages present. Exit 0 if all of that works.
set -eu
cd "$(dirname "$0")/.."

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
prefix=/usr/local

make -s install DESTDIR="$dest" PREFIX="$prefix" >/dev/null
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_LIBDIR="$dest$prefix/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"

version=$(pkg-config --modversion libfkex)
[ "$version" = "$(cat VERSION)" ] || { echo "install-test: libfkex.pc says $version"; exit 1; }

# Only the public API leaves the shared library.
extra=$(nm -D --defined-only "$dest$prefix/lib/libfkex.so" | awk '$3 !~ /^fkex_/ { print $3 }')
[ -z "$extra" ] || { echo "install-test: libfkex.so exports more than fkex_*: $extra"; exit 1; }

# Shared: what `pkg-config --libs` gives.
cc -std=c11 -Wall -Wextra -Werror -o "$dest/seal_open" tests/outside/seal_open.c \
    $(pkg-config --cflags --libs libfkex)
LD_LIBRARY_PATH="$dest$prefix/lib" "$dest/seal_open"

# Static: libfkex.a and what `pkg-config --static --libs` adds (the
# sysroot prefixes -L and -I only, so blst's path is moved by hand).
static_libs=$(pkg-config --static --libs libfkex | sed "s| -lfkex | |; s| $prefix/| $dest$prefix/|g")
cc -std=c11 -Wall -Wextra -Werror -o "$dest/seal_open_static" tests/outside/seal_open.c \
    $(pkg-config --cflags libfkex) "$dest$prefix/lib/libfkex.a" $static_libs
"$dest/seal_open_static" >/dev/null

# The I/O library: a room member; with no relay to reach, opening says so.
cat >"$dest/client.c" <<'PROGRAM'
#include <fkex/fkex.h>
#include <fkex/client.h>
int main(void)
{
    fkex_client *c;
    if (fkex_init() != FKEX_OK)
        return 1;
    return fkex_client_open(&c, "fkex://nowhere", (const fkex_key *)0, "me") == FKEX_ERR_ARGUMENT ? 0 : 1;
}
PROGRAM
cc -std=c11 -Wall -Wextra -Werror -o "$dest/client" "$dest/client.c" $(pkg-config --cflags --libs libfkex-io)
LD_LIBRARY_PATH="$dest$prefix/lib" "$dest/client"
extra=$(nm -D --defined-only "$dest$prefix/lib/libfkex-io.so" | awk '$3 !~ /^fkex_/ { print $3 }')
[ -z "$extra" ] || { echo "install-test: libfkex-io.so exports more than fkex_*: $extra"; exit 1; }

# C++ sees the same API (extern "C").
printf '#include <fkex/fkex.h>\n#include <fkex/client.h>\nint main() { return fkex_init() == FKEX_OK ? 0 : 1; }\n' >"$dest/api.cc"
clang++ -std=c++17 -Wall -Werror -o "$dest/api" "$dest/api.cc" $(pkg-config --cflags --libs libfkex)
LD_LIBRARY_PATH="$dest$prefix/lib" "$dest/api"
# The units: systemd-analyze finds nothing to say of them against this
# system's targets (a copy runs the binary installed in DESTDIR; their man
# pages are not in this system's MANPATH), and the sysusers file parses.
units="$dest/units"
mkdir "$units"
for u in fkex-kms fkex-relay; do
    sed "s|$prefix/bin/fkex|$dest$prefix/bin/fkex|" "$dest$prefix/lib/systemd/system/$u.service" \
        >"$units/$u.service"
done
out=$(systemd-analyze verify --man=no "$units/fkex-kms.service" "$units/fkex-relay.service" 2>&1) ||
    { echo "install-test: systemd-analyze verify failed: $out"; exit 1; }
[ -z "$out" ] || { echo "install-test: systemd-analyze verify says: $out"; exit 1; }
systemd-sysusers --dry-run --root="$dest" "$dest$prefix/lib/sysusers.d/fkex.conf" >/dev/null 2>&1 ||
    { echo "install-test: the sysusers file does not parse"; exit 1; }
for page in man1/fkex.1 man5/fkex.5 man8/fkex-kms.8 man8/fkex-relay.8; do
    [ -s "$dest$prefix/share/man/$page" ] || { echo "install-test: $page is missing"; exit 1; }
done

echo "install-test: ok (libfkex $version, $(nm -D --defined-only "$dest$prefix/lib/libfkex.so" | wc -l) exported functions)"
