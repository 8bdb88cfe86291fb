#!/bin/sh
# scripts/demo.sh: `make demo`, the whole system on loopback, narrated.
#
# A key authority (fkex kms) enrols alice {ONE, TWO}, bob {THREE, FOUR} and
# eve {FIVE} with one-time tokens; a relay (fkex relay) hosts a room with
# the prototype's policy (ONE or THREE) and (TWO or FOUR). alice founds it,
# bob joins (epoch 1), they talk, eve is refused, alice leaves (epoch 2).
# The clients run in batch mode (JSON lines); the narration shows what each
# of them reports.
#
#   make demo               the narrated run; exits 0 only if all of that happens
#   make demo TUI=1         then the same room in the terminal interface, in tmux
#
# Every process it starts is stopped at the end, whatever happens.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/fkex"
if [ ! -x "$bin" ]; then
    printf 'demo: %s not found; run make first\n' "$bin" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fkex-demo.XXXXXX")
pids="" daemons=""
tmux_socket="fkex-demo-$$"
cleanup() {
    stop_all 4 5 6 7
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
}
. "$top/scripts/demo-lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

policy='(ONE or THREE) and (TWO or FOUR)'
export FKEX_PASSPHRASE="demo passphrase: never use one like it"


say "A key authority: the CP-ABE master key, sealed with a passphrase"
fkex kms init --dir kms
daemon kms kms serve --dir kms --listen 127.0.0.1:0
daemons="$daemons $pid"
kms_addr=$addr

say "One-time enrolment tokens; each user redeems theirs for a key (over TLS 1.3: the token pins the authority's key)"
for who in alice:"ONE TWO" bob:"THREE FOUR" eve:FIVE; do
    name=${who%%:*}
    attrs=${who#*:}
    "$bin" kms token --dir kms --attrs "$attrs" --address "$kms_addr" > "$name.token"
    printf '  %s {%s}\n' "$name" "$attrs"
    show enroll "$(cut -c1-24 "$name.token")..." -o "$name.key"
    "$bin" enroll "$(cat "$name.token")" -o "$name.key" 2> "$name.enroll" || die "$name could not enroll: $(cat "$name.enroll")"
    sed "s/^/  /" "$name.enroll"
done
fkex inspect alice.key

say "The same token does not work twice"
rc=0
"$bin" enroll "$(cat alice.token)" -o again.key 2> again.err || rc=$?
sed 's/^/  /' again.err
[ "$rc" -eq 1 ] || die "a used token should exit 1, it exited $rc"

say "A relay, and a room whose policy is the prototype's (the invitation pins the relay's TLS key)"
daemon relay relay --listen 127.0.0.1:0 --db relay.db -v
daemons="$daemons $pid"
show room create lab --policy "$policy" --relay "$addr" --dir lab
"$bin" room create lab --policy "$policy" --relay "$addr" --dir lab > lab.invite 2>&1
invite=$(grep '^fkex://' lab.invite)
printf '  invitation: %s\n' "$invite"

say "An invitation that pins another key: the client refuses the relay before it sends anything, as it would refuse an impostor"
other=$(printf '%s' "$invite" | sed 's#^fkex://A#fkex://B#; t; s#^fkex://.#fkex://A#')
rc=0
show chat "$other" --key eve.key --batch
"$bin" chat "$other" --key eve.key --batch < /dev/null > other.out 2> other.err || rc=$?
sed 's/^/  /' other.err
[ "$rc" -eq 2 ] || die "another key should exit 2, it exited $rc"

say "alice founds the room: epoch 0, one member"
member alice 4 "$invite" --found lab
wait_for alice.out '"event": "joined"'
events alice '"joined"'

say "bob joins: his attributes satisfy the policy, alice's client proves hers; epoch 1"
member bob 5 "$invite"
wait_for bob.out '"event": "joined"'
wait_for alice.out '"epoch": 1'
events bob '"joined"'
events alice '"epoch": 1'

say "They talk; the relay carries ciphertext only"
tell alice 4 '{"send": "hello bob, the lab at nine?"}'
wait_for bob.out '"event": "message"'
tell bob 5 '{"send": "hello alice: nine it is"}'
wait_for alice.out '"event": "message"'
events bob '"message"'
events alice '"message"'

say "eve's attribute FIVE does not satisfy the policy: she is refused"
rc=0
show chat "$invite" --key eve.key --nick eve --batch
"$bin" chat "$invite" --key eve.key --nick eve --batch < /dev/null > eve.out 2> eve.err || rc=$?
events eve '"error"'
printf '  (exit code %s)\n' "$rc"
[ "$rc" -eq 1 ] || die "eve should exit 1, she exited $rc"
grep -q '"code": "policy_unsatisfied"' eve.out || die "eve was not told why"
grep -q '"event": "message"\|"event": "joined"' eve.out && die "eve saw the room"

say "alice leaves: bob's client commits her removal; epoch 2, a key alice never sees"
tell alice 4 '{"cmd": "leave"}'
wait_for alice.out '"event": "left"'
wait_for bob.out '"epoch": 2'
events alice '"left"'
events bob '"epoch": 2'
exec 4>&-
rc=0
wait "$alice_pid" || rc=$?
[ "$rc" -eq 0 ] || die "alice's client exited $rc"

if [ "${TUI:-}" = 1 ]; then
    say "The terminal interface: carol {ONE, FOUR} joins bob's room in tmux"
    "$bin" kms token --dir kms --attrs "ONE FOUR" --address "$kms_addr" > carol.token
    "$bin" enroll "$(cat carol.token)" -o carol.key 2> carol.enroll || die "carol could not enroll"
    tmux -L "$tmux_socket" new-session -d -s demo -x 100 -y 30 \
        "'$bin' chat '$invite' --key carol.key --nick carol"
    wait_for bob.out '"epoch": 3'
    tell bob 5 '{"send": "carol, welcome: type something"}'
    printf '  tmux -L %s attach -t demo    (type; /who, /help; /quit to end)\n' "$tmux_socket"
    if [ -t 0 ]; then
        tmux -L "$tmux_socket" attach -t demo || true
    else
        sleep 2
        tmux -L "$tmux_socket" capture-pane -p -t demo | grep -v '^ *$' | sed 's/^/  | /'
    fi
fi

say "bob quits; the relay and the authority stop"
tell bob 5 '{"cmd": "quit"}'
exec 5>&-
rc=0
wait "$bob_pid" || rc=$?
[ "$rc" -eq 0 ] || die "bob's client exited $rc"
for pid in $daemons; do kill -TERM "$pid"; done
for pid in $daemons; do
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || die "a daemon did not stop cleanly on SIGTERM (exit $rc)"
done
pids=""

say "Done: alice and bob talked in a room only their attributes open; eve could not enter."
