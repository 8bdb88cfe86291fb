#!/bin/sh
# scripts/demo-web.sh: `make demo-web`, the web client on loopback.
#
# An authority issues alice {ONE, TWO} and bob {THREE, FOUR}; a relay
# serves the web client and WebSockets beside its TCP port (fkex relay
# --web); alice founds a room with the prototype's policy in a terminal
# client that answers every message. The script prints the one command
# that opens the room in Chromium as bob, and his key file to pick, and
# runs until Ctrl-C; every process it started is stopped then.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/fkex"
web="$top/build/wasm/web"
if [ ! -x "$bin" ] || [ ! -f "$web/fkex.wasm" ]; then
    printf 'demo-web: run `make` and `make wasm` first\n' >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fkex-demo-web.XXXXXX")
pids=""
cleanup() { stop_all 4; }
. "$top/scripts/demo-lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

policy='(ONE or THREE) and (TWO or FOUR)'
say "An authority, and keys for alice {ONE, TWO} and bob {THREE, FOUR}"
show setup --dir auth
"$bin" setup --dir auth > /dev/null
fkex keygen --msk auth/msk.fkex --attrs "ONE TWO" -o alice.key 2> /dev/null
fkex keygen --msk auth/msk.fkex --attrs "THREE FOUR" -o bob.key 2> /dev/null

say "A relay that serves browsers too: the web client, and WebSockets"
daemon relay relay --listen 127.0.0.1:0 --db relay.db --web "$web"
wait_for relay.out '^browsers: '
page=$(sed -n 's/^browsers: \([^ ]*\) (key pin \(.*\))$/\1/p' relay.out)
pin=$(sed -n 's/^browsers: \([^ ]*\) (key pin \(.*\))$/\2/p' relay.out)
spki="$(printf '%s' "$pin" | tr -- '-_' '+/')="

say "A room, founded by alice in a terminal client"
fkex room create lab --policy "$policy" --relay "$addr" --dir lab > /dev/null 2>&1
invite=$("$bin" room invite --dir lab)
member alice 4 "$invite" --found lab
wait_for alice.out '"event": "joined"'

say "Open the room in Chromium as bob:"
printf '\n  chromium --ignore-certificate-errors-spki-list=%s \\\n    %s\n\n' "$spki" "'$page#$invite'"
printf '  pick the key file %s, a nickname, and Join.\n' "$work/bob.key"
printf '  (The flag trusts the relay'"'"'s own key for this one run; a relay with\n'
printf '  --tls-cert from an authority the browser trusts needs no flag.)\n'
printf '\n  alice sees (Ctrl-C to stop):\n'
seen=0
while kill -0 "$alice_pid" 2>/dev/null; do
    n=$(grep -c '"event": "message"' alice.out || true)
    if [ "$n" -gt "$seen" ]; then
        sed -n "$((seen + 1)),\$p" alice.out | grep '"event": "message"' | sed 's/^/  alice <- /' || true
        seen=$n
        tell alice 4 '{"send": "alice got your message"}'
    fi
    grep -h '"event": "epoch"' alice.out | tail -n 1 | sed 's/^/  alice <- /' > epoch.now
    if ! cmp -s epoch.now epoch.shown 2>/dev/null; then cat epoch.now; cp epoch.now epoch.shown; fi
    sleep 0.5
done
