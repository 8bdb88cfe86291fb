#!/bin/sh
# scripts/demo-cluster.sh: `make demo-cluster`, relays on several machines
# (FEDERATION.md), on loopback, narrated.
#
# Three nats-server nodes form a JetStream cluster; two fkex relays share
# the rooms through it (fkex relay --store nats://...). alice talks through
# relay 1 and bob through relay 2, in one room. Relay 1 is killed (-9) in
# the middle of the conversation: alice's client fails over to relay 2,
# which holds the same room, and the conversation goes on; every message
# reaches the other exactly once. Exits 0 only if all of that happens.
#
# Every process it starts is stopped at the end, whatever happens.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/fkex"
if [ ! -x "$bin" ]; then
    printf 'demo-cluster: %s not found; run make first\n' "$bin" >&2
    exit 2
fi
nats=$(command -v nats-server || true)
if [ -z "$nats" ]; then
    printf 'demo-cluster: nats-server not found; run make deps\n' >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fkex-demo-cluster.XXXXXX")
pids=""
cleanup() { stop_all 4 5; }
. "$top/scripts/demo-lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

policy='(ONE or THREE) and (TWO or FOUR)'
export FKEX_PASSPHRASE="demo passphrase: never use one like it"


# The cluster: three nodes on ports from $1 up (clients $1, $1+1, $1+2;
# routes $1+3..$1+5), each routing to the others. 0 if all three answer;
# 1 if one could not start (a port was taken: the caller tries others).
cluster() {
    base=$1 started=""
    for i in 1 2 3; do
        routes=""
        for j in 1 2 3; do
            [ "$j" = "$i" ] || routes="$routes    nats-route://127.0.0.1:$((base + 2 + j))
"
        done
        mkdir -p "n$i"
        cat > "n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((base + i - 1))
max_payload: 20971520
jetstream { store_dir: "$work/n$i" }
cluster {
  name: fkex
  listen: 127.0.0.1:$((base + 2 + i))
  routes: [
$routes  ]
}
CONF
        printf '$ nats-server -c n%s.conf   (port %s)\n' "$i" "$((base + i - 1))"
        "$nats" -c "n$i.conf" > "n$i.log" 2>&1 &
        started="$started $!"
    done
    k=0
    while [ "$(cat n1.log n2.log n3.log | grep -c 'Server is ready')" -lt 3 ]; do
        k=$((k + 1))
        if [ $k -gt 300 ] || grep -q 'address already in use' n1.log n2.log n3.log; then
            for p in $started; do kill "$p" 2>/dev/null || true; done
            for p in $started; do wait "$p" 2>/dev/null || true; done
            return 1
        fi
        sleep 0.1
    done
    pids="$pids $started"
    store="nats://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
}

say "Three NATS servers with JetStream, clustered on loopback"
tries=0
until cluster $((20000 + ($$ * 7919 + tries * 104729) % 40000)); do
    tries=$((tries + 1))
    [ $tries -lt 5 ] || die "could not start the NATS cluster (see n1.log)"
    printf '  (a port was taken: other ports)\n'
done
printf '  (the cluster: %s)\n' "$store"

say "Two relays share the rooms through it: each folds the one log"
daemon relay1 relay --listen 127.0.0.1:0 --store "$store" --tls-key relay1.key -v
relay1=$addr relay1_pid=$pid
daemon relay2 relay --listen 127.0.0.1:0 --store "$store" --tls-key relay2.key -v
relay2=$addr relay2_pid=$pid
grep -h 'shared log' relay1.err relay2.err | sed 's/^/  /' || true

say "A key authority enrols alice {ONE, TWO} and bob {THREE, FOUR}"
fkex kms init --dir kms
daemon kms kms serve --dir kms --listen 127.0.0.1:0
kms_addr=$addr kms_pid=$pid
for who in alice:"ONE TWO" bob:"THREE FOUR"; do
    name=${who%%:*}
    attrs=${who#*:}
    "$bin" kms token --dir kms --attrs "$attrs" --address "$kms_addr" > "$name.token"
    "$bin" enroll "$(cat "$name.token")" -o "$name.key" 2> "$name.enroll" ||
        die "$name could not enroll: $(cat "$name.enroll")"
    printf '  %s {%s}\n' "$name" "$attrs"
done

say "A room on both relays: the invitation lists them"
fkex room create lab --policy "$policy" --relay "$relay1,$relay2" --dir lab > lab.invite
invite=$(grep '^fkex://' lab.invite)
room=${invite##*/}
bob_invite="fkex://$relay2,$relay1/$room"
printf '  alice: %s\n  bob:   %s (relay 2 first)\n' "$invite" "$bob_invite"

say "alice founds it through relay 1; bob joins through relay 2"
member alice 4 "$invite" --found lab
wait_for alice.out '"event": "joined"'
member bob 5 "$bob_invite"
wait_for bob.out '"event": "joined"'
wait_for alice.out '"epoch": 1'
events bob '"joined"'

say "They talk across the relays"
tell alice 4 '{"send": "one: hello bob, from relay 1"}'
wait_for bob.out '"text": "one:'
tell bob 5 '{"send": "two: hello alice, from relay 2"}'
wait_for alice.out '"text": "two:'
events bob '"event": "message"'
events alice '"event": "message"'

say "Relay 1 dies (kill -9) in the middle of the conversation"
tell bob 5 '{"send": "three: sent while relay 1 dies"}'
kill -9 "$relay1_pid"
printf '$ kill -9 %s   (relay 1)\n' "$relay1_pid"
wait_for alice.out '"state": "reconnecting"'
events alice '"reconnecting"'
wait_for alice.out '"state": "online"'
events alice '"online"'

say "alice is on relay 2 now: the conversation goes on, nothing lost or twice"
tell alice 4 '{"send": "four: still here, through relay 2"}'
wait_for bob.out '"text": "four:'
wait_for alice.out '"text": "three:'
for n in one four; do
    [ "$(grep -c "\"text\": \"$n:" bob.out)" -eq 1 ] || die "bob did not get '$n' exactly once"
done
for n in two three; do
    [ "$(grep -c "\"text\": \"$n:" alice.out)" -eq 1 ] || die "alice did not get '$n' exactly once"
done
events alice '"event": "message"'
events bob '"event": "message"'

say "Everyone quits; the relay, the authority and the NATS servers stop"
tell alice 4 '{"cmd": "quit"}'
tell bob 5 '{"cmd": "quit"}'
exec 4>&- 5>&-
for who in alice bob; do
    rc=0
    eval "wait \$${who}_pid" || rc=$?
    [ "$rc" -eq 0 ] || die "$who's client exited $rc"
done
for pid in $relay2_pid $kms_pid; do kill -TERM "$pid"; done
for pid in $relay2_pid $kms_pid; do
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || die "a daemon did not stop cleanly on SIGTERM (exit $rc)"
done

say "Done: two relays, one room, one relay killed, and the room went on."
