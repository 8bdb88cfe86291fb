# scripts/demo-lib.sh: what the narrated demos share (sourced; $bin is the
# fkex binary).

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

# Shows a command as one would type it.
show() {
    printf '$ fkex'
    for arg in "$@"; do
        case $arg in
        '' | *[!A-Za-z0-9_./:=,@-]*) printf " '%s'" "$arg" ;;
        *) printf ' %s' "$arg" ;;
        esac
    done
    printf '\n'
}

# Shows it, then runs it.
fkex() { show "$@"; "$bin" "$@"; }

# The rooms' demos (demo.sh, demo-cluster.sh, demo-web.sh) also use these;
# they run in $work with $pids the processes to stop at the end.

# stop_all FD...: at the end (trap EXIT): closes the members' command pipes
# on those descriptors, stops the processes in $pids (by their pids alone)
# and waits for them, and removes $work.
stop_all() {
    for fd in "$@"; do eval "exec $fd>&-" 2>/dev/null || true; done
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}

# wait_for FILE PATTERN [COUNT]: until FILE has COUNT lines matching (30 s at most).
wait_for() {
    i=0
    while [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -lt "${3:-1}" ]; do
        i=$((i + 1))
        [ $i -le 300 ] || die "$1 never showed: $2"
        sleep 0.1
    done
}

# A daemon: starts it with its output in NAME.out/.err, waits for
# "listening on HOST:PORT" and sets $addr and $pid.
daemon() {
    name=$1
    shift
    show "$@"
    "$bin" "$@" > "$name.out" 2> "$name.err" &
    pid=$!
    pids="$pids $pid"
    wait_for "$name.out" 'listening on '
    addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$name.out")
    printf '  (%s listens on %s)\n' "$name" "$addr"
}

# member NAME FD INVITE [ARGS]: a batch-mode member on file descriptor FD;
# commands go into the fifo NAME.in, events come out in NAME.out, and
# ${NAME}_pid is its process.
member() {
    name=$1 fd=$2 inv=$3
    shift 3
    mkfifo "$name.in"
    show chat "$inv" --key "$name.key" --nick "$name" --batch "$@"
    "$bin" chat "$inv" --key "$name.key" --nick "$name" --batch "$@" \
        < "$name.in" > "$name.out" 2> "$name.err" &
    pids="$pids $!"
    eval "${name}_pid=$!"
    eval "exec $fd>$name.in"
}

# tell NAME FD LINE: a command to NAME's client, shown.
tell() {
    printf '  %s -> %s\n' "$1" "$3"
    printf '%s\n' "$3" >&"$2"
}

# Prints NAME's events that match PATTERN, as that member saw them.
events() {
    grep -- "$2" "$1.out" | sed "s/^/  $1 <- /"
}
