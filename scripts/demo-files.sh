#!/bin/sh
# scripts/demo-files.sh: `make demo-files`, CP-ABE file encryption, narrated.
#
# An authority issues keys to alice {ONE, TWO}, bob {THREE, FOUR} and eve
# {FIVE}; a note is encrypted under the prototype policy
# (ONE or THREE) and (TWO or FOUR). Alice and bob read it; eve is refused.
# Exits 0 only if all of that happens exactly so.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/fkex"
if [ ! -x "$bin" ]; then
    printf 'demo: %s not found; run make first\n' "$bin" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fkex-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cd "$work"

policy='(ONE or THREE) and (TWO or FOUR)'
note='Meet at the lab at nine. Bring the prototype.'

. "$top/scripts/demo-lib.sh"

say "An authority: public parameters for everyone, a master key kept secret"
fkex setup --dir authority

say "The authority issues keys: alice {ONE, TWO}, bob {THREE, FOUR}, eve {FIVE}"
fkex keygen --msk authority/msk.fkex --attrs "ONE TWO" -o alice.key
fkex keygen --msk authority/msk.fkex --attrs "THREE FOUR" -o bob.key
fkex keygen --msk authority/msk.fkex --attrs "FIVE" -o eve.key
fkex inspect alice.key

say "Anyone with the public parameters encrypts a note under a policy"
printf '%s\n' "$note" > note.txt
fkex encrypt --mpk authority/mpk.fkex --policy "$policy" -o note.fkex note.txt

say "The ciphertext says who may open it, and nothing else"
fkex inspect note.fkex

for who in alice bob; do
    say "$who's attributes satisfy the policy: $who reads the note"
    fkex decrypt --key "$who.key" -o "$who.txt" note.fkex
    cat "$who.txt"
    [ "$(cat "$who.txt")" = "$note" ] || die "$who decrypted something else"
done

say "eve's attribute FIVE does not: eve is refused, and gets no file"
rc=0
fkex decrypt --key eve.key -o eve.txt note.fkex 2> eve.err || rc=$?
cat eve.err
printf '(exit code %s)\n' "$rc"
[ "$rc" -eq 1 ] || die "eve's decryption should exit 1, it exited $rc"
grep -q 'fkex: error: .*do not satisfy the policy' eve.err || die "eve was not told why"
[ ! -e eve.txt ] || die "eve's refused decryption left a file"

say "Done: alice and bob read the note; eve could not."
