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
