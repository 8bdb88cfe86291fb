#!/bin/sh
# scripts/install-test.sh: what `make install` gives an operator and a
# programmer. Into a scratch prefix: a program from outside the tree
# (tests/outside/seal_open.c) built with pkg-config alone, against the
# shared library and the static one; one against libfkex-io; the public
# headers as C++; the systemd units verified; the man pages. Then a
# DESTDIR install under umask 077 (files readable all the same) and its
# uninstall (nothing left). Exit 0 if all of that holds.
set -eu
cd "$(dirname "$0")/.."

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
prefix="$dest/usr/local"
lib="$prefix/lib"
fail() { echo "install-test: $*"; exit 1; }

make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$lib/pkgconfig"

version=$(pkg-config --modversion libfkex)
[ "$version" = "$(cat VERSION)" ] || fail "libfkex.pc says $version"
[ "$(pkg-config --modversion libfkex-io)" = "$version" ] || fail "libfkex-io.pc says another version"

# The libraries: their sonames, and only the public API leaves them.
for l in libfkex libfkex-io; do
    soname=$(readelf -d "$lib/$l.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "$l.so.$(echo "$version" | cut -d. -f1-2)" ] || fail "$l.so's soname is $soname"
    extra=$(nm -D --defined-only "$lib/$l.so" | awk '$3 !~ /^fkex_/ { print $3 }')
    [ -z "$extra" ] || fail "$l.so exports more than fkex_*: $extra"
done

# Shared: what `pkg-config --libs` gives.
cc -std=c11 -Wall -Wextra -Werror -o "$dest/seal_open" tests/outside/seal_open.c \
    $(pkg-config --cflags --libs libfkex)
LD_LIBRARY_PATH="$lib" "$dest/seal_open"

# Static: libfkex.a and what `pkg-config --static --libs` adds.
cc -std=c11 -Wall -Wextra -Werror -o "$dest/seal_open_static" tests/outside/seal_open.c \
    $(pkg-config --cflags libfkex) "$lib/libfkex.a" $(pkg-config --static --libs libfkex)
"$dest/seal_open_static" >/dev/null
nm "$dest/seal_open_static" | grep -q " T fkex_file_seal_policy" || fail "the static program is not static"

# A program that forgets fkex_init is not aborted by libsodium.
cat >"$dest/noinit.c" <<'PROGRAM'
#include <fkex/fkex.h>
int main(void)
{
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_rng rng;
    fkex_rng_init_system(&rng);
    if (fkex_abe_setup(&mpk, &msk, "fame", &rng) != FKEX_OK)
        return 1;
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    return 0;
}
PROGRAM
cc -std=c11 -Wall -Wextra -Werror -o "$dest/noinit" "$dest/noinit.c" $(pkg-config --cflags --libs libfkex)
LD_LIBRARY_PATH="$lib" "$dest/noinit" || fail "a program without fkex_init fails"

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
LD_LIBRARY_PATH="$lib" "$dest/client"
cc -std=c11 -Wall -Wextra -Werror -o "$dest/client_static" "$dest/client.c" \
    $(pkg-config --cflags libfkex-io) "$lib/libfkex-io.a" "$lib/libfkex.a" $(pkg-config --static --libs libfkex-io)
"$dest/client_static"

# C++ sees the same API (extern "C").
printf '#include <fkex/fkex.h>\n#include <fkex/client.h>\nint main() { return fkex_init() == FKEX_OK ? 0 : 1; }\n' >"$dest/api.cc"
clang++ -std=c++17 -Wall -Werror -o "$dest/api" "$dest/api.cc" $(pkg-config --cflags --libs libfkex)
LD_LIBRARY_PATH="$lib" "$dest/api"

# The units: systemd-analyze finds nothing to say of them (their binary
# is the one installed; their man pages are not in this system's MANPATH),
# and the sysusers file parses.
units="$lib/systemd/system"
out=$(systemd-analyze verify --man=no "$units/fkex-kms.service" "$units/fkex-relay.service" 2>&1) ||
    fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify says: $out"
systemd-sysusers --dry-run --root="$dest" "$lib/sysusers.d/fkex.conf" >/dev/null 2>&1 ||
    fail "the sysusers file does not parse"
for page in man1/fkex.1 man5/fkex.5 man8/fkex-kms.8 man8/fkex-relay.8; do
    head -n 1 "$prefix/share/man/$page" | grep -q "\"fkex $version\"" || fail "$page does not say $version"
done

# A staged install under a strict umask, and its uninstall.
staged="$dest/staged"
(umask 077 && make -s install DESTDIR="$staged" PREFIX=/usr/local >/dev/null)
for f in lib/pkgconfig/libfkex.pc lib/systemd/system/fkex-kms.service share/man/man8/fkex-kms.8; do
    [ "$(stat -c %a "$staged/usr/local/$f")" = 644 ] || fail "$f is not mode 644 under umask 077"
done
if [ -f build/wasm/web/fkex.wasm ]; then   # the web client, once make wasm has built it
    [ "$(stat -c %a "$staged/usr/local/share/fkex/web/fkex.wasm" 2>/dev/null)" = 644 ] ||
        fail "the web client is not installed (mode 644) in share/fkex/web"
fi
make -s uninstall DESTDIR="$staged" PREFIX=/usr/local >/dev/null
left=$(find "$staged" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"

echo "install-test: ok (libfkex $version, $(nm -D --defined-only "$lib/libfkex.so" | wc -l) functions exported, $(nm -D --defined-only "$lib/libfkex-io.so" | wc -l) by libfkex-io)"
