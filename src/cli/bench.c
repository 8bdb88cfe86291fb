/*
 * cli/bench.c: `fkex bench abe [--json]`, `fkex bench ibe [--json]`,
 * `fkex bench gke [--json] [--members LIST] [--plot FILE.svg] [-v]` and
 * `fkex bench relay [--json] [-v]` and `fkex bench rooms [--json] [-v]`.
 */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli/cli.h"
#include "bench.h"

#define MAX_SIZES 64

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex bench abe [--json] [--size N] [--wasm FILE.js]\n"
               "       fkex bench ibe [--json]\n"
               "       fkex bench gke [--json] [--members 2,10,100,1000] [--plot FILE.svg] [-v]\n"
               "       fkex bench relay [--json] [-v]\n"
               "       fkex bench rooms [--json] [-v]\n\n"
               "abe: both CP-ABE schemes (fame, waters11) side by side: keygen, encrypt,\n"
               "encrypt_new (under attributes the authority's parameters have not met),\n"
               "decode, decrypt and decrypt_cca for AND-policies of 1, 10, 50 and 100\n"
               "attributes and the prototype's policy, as medians in ms and in\n"
               "pairing-equivalents (one pairing timed in the same run), with ciphertext\n"
               "and key sizes; then the group operations under them, each alone (hash to\n"
               "G1, multiplications by any base and by fixed bases, an addition), which\n"
               "times a scheme's operation counts make its floor.\n"
               "  --size N        the AND-policy of N attributes alone (1, 10, 50 or 100)\n"
               "  --wasm FILE.js  then the same in the WebAssembly build, under node\n"
               "                  (`make wasm` builds build/wasm/fkex-bench.js): its figures\n"
               "                  are in pairing-equivalents of a pairing in WebAssembly\n"
               "                  (--json: one object per build, a line each)\n\n"
               "ibe: Boneh-Franklin encapsulation, decapsulation with the Fujisaki-Okamoto\n"
               "check (from bytes), and each side of a whole IBAKE exchange (RFC 6539),\n"
               "in ms and pairing-equivalents; encap_gtexp times the paper's order of the\n"
               "mask, e(Q_ID, P_pub)^r, for comparison. --json: one object.\n\n"
               "gke: what a join and a leave cost in a room of n members, for the ratchet\n"
               "(under a FAME authority; ratchet-w11: under a Waters 2011 one), seed mode\n"
               "(the 2014 prototype's protocol), GDH.2 and Burmester-Desmedt,\n"
               "and what an Update costs in the ratchet (whose tree is first filled by\n"
               "Updates), under the policy (ONE or THREE) and (TWO or FOUR), members holding\n"
               "{ONE,TWO} or {THREE,FOUR}. For each role, the median CPU time (thread\n"
               "CPU clock; setup not timed) in ms and in pairing-equivalents (ms divided\n"
               "by one pairing timed on the same clock alongside: each protocol at each\n"
               "size runs in a process of its own, so that neither what ran before nor\n"
               "a slower spell of the machine shifts its figures), and the bytes it sent:\n"
               "  joiner   the new member (gdh2: the new last member)\n"
               "  sponsor  ratchet join: the sponsor; ratchet leave and update: the\n"
               "           COMMITTER; seed leave: the member that re-encapsulates; gdh2\n"
               "           leave: the last member (none for seed join, gdh2 join, bd)\n"
               "  member   the median over every other member\n"
               "  room     all parties together, with the bytes the relay fanned out\n"
               "join at n: a room of n admits one; leave at n: one of n leaves (gdh2 and\n"
               "bd rerun with n+1 or n-1 members). A size whose measured event would\n"
               "take over 60 s is extrapolated from smaller ones by the protocol's\n"
               "complexity, and so is seed's room above 10 members (one member is\n"
               "timed, all do the same); extrapolated figures are marked.\n\n"
               "  --members LIST  room sizes, comma-separated, 2..%d (default 2,10,100,1000)\n"
               "  --json          one JSON object: {\"pairing_ms\", \"results\": [{\"protocol\",\n"
               "                  \"event\", \"n\", \"role\", \"median_ms\", \"pe\", \"bytes\",\n"
               "                  \"extrapolated\"}]}; room rows add \"relay_bytes\"\n"
               "  --plot FILE.svg cost against n, log-log, drawn by gnuplot\n"
               "  -v, --verbose   progress on stderr\n\n"
               "relay: fkex relay (this binary, database on disk: SQLite WAL, synchronous=FULL)\n"
               "and a load generator in another process on 127.0.0.1, sharing the cores. A\n"
               "room of 100 real members is built through the relay; the generator takes\n"
               "over their sessions and publishes 256-byte application-shaped messages:\n"
               "  deliveries/s  as fast as acknowledgements allow (4 publishers, 256 unacked each)\n"
               "  p50/p99/p99.9 delivery latency at 1,000 messages/s\n"
               "  idle          anonymous sessions held (up to 10,000; RLIMIT_NOFILE raised to\n"
               "                its hard limit) and the relay's RSS per connection\n"
               "  join          a new member joins the 100 (98 kept live by 4 processes, 2 by\n"
               "                this one; the room let go quiet before each join), from its\n"
               "                first step until it can decrypt, in ms and pairing-equivalents\n"
               "  recovery      one member's path slice is swapped: LOST, then re-entry through\n"
               "                admission (fresh pseudonym, new connection); LOST to JOINED and\n"
               "                commit to JOINED, 5 runs\n"
               "redis-server, if installed, runs with --save \"\" --appendonly no on a free\n"
               "port under the same generator (SUBSCRIBE/PUBLISH), and fkex/Redis ratios are\n"
               "given. --json: one object; -v: progress on stderr.\n\n"
               "rooms: what users of a room wait for, every party a process on 127.0.0.1:\n"
               "fkex relay and one fkex chat --batch per member, members holding {ONE,TWO}\n"
               "or {THREE,FOUR} under the policy (ONE or THREE) and (TWO or FOUR):\n"
               "  together      20 joiners started at the same instant into a room of 50,\n"
               "                each timed from its process's start until it has joined:\n"
               "                median and max, in ms and pairing-equivalents\n"
               "  policy        fkex room set-policy \"ONE and TWO\" in the room of 70: until\n"
               "                it exits (committed: only members who satisfy it hold the\n"
               "                key from then on), and until every member who stays shows\n"
               "                the roster without the 35 who fell out\n"
               "--json: one object; -v: progress on stderr.\n",
            BENCH_GKE_MAX);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* "2,10,100": ascending, without repeats. Returns the count, or 0. */
static size_t parse_sizes(size_t *sizes, const char *text)
{
    size_t n = 0, k = 0;
    const char *p = text;
    for (;;) {
        char *end;
        unsigned long v;
        if (*p < '0' || *p > '9')
            return 0;
        errno = 0;
        v = strtoul(p, &end, 10);
        if (errno || v < 2 || v > BENCH_GKE_MAX || n == MAX_SIZES)
            return 0;
        sizes[n++] = (size_t)v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return 0;
        p = end + 1;
    }
    qsort(sizes, n, sizeof *sizes, cmp_size);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || sizes[i] != sizes[k - 1])
            sizes[k++] = sizes[i];
    return k;
}

/* `fkex bench abe` with --size or --wasm: the native build, then the
 * WebAssembly one under node, in this same run. */
extern char **environ;

static int abe_builds(int json, const char *size, const char *wasm)
{
    static const size_t known[] = BENCH_ABE_SIZES;
    size_t n = 0;
    int rc;
    if (size) {
        for (size_t i = 0; i < FKEX_ARRAY_LEN(known); i++)
            if (strspn(size, "0123456789") == strlen(size) && strtoul(size, NULL, 10) == known[i])
                n = known[i];
        if (!n) {
            cli_error("bad --size '%s'", size);
            cli_hint("the sizes are 1, 10, 50 and 100 attributes");
            return EXIT_USAGE;
        }
    }
    if (wasm && access(wasm, R_OK) != 0) {
        cli_error("cannot read %s: %s", wasm, strerror(errno));
        cli_hint("`make wasm` builds build/wasm/fkex-bench.js");
        return EXIT_USAGE;
    }
    if ((rc = bench_abe(json, n, "native")) != 0 || !wasm)
        return rc;
    fflush(stdout);
    {
        char *const args[] = { "node", (char *)wasm, json ? "--json" : "--text",
                               (char *)(size ? size : "0"), NULL };
        pid_t pid;
        int status, e = posix_spawnp(&pid, "node", NULL, NULL, args, environ);
        if (e != 0 || waitpid(pid, &status, 0) != pid) {
            cli_error("could not run node: %s", strerror(e ? e : errno));
            cli_hint("the WebAssembly build runs under Node.js (scripts/deps-web.sh installs it)");
            return EXIT_USAGE;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            cli_error("the WebAssembly benchmark failed (%s %d)",
                      WIFEXITED(status) ? "exit status" : "signal",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return EXIT_USAGE;
        }
    }
    return 0;
}

int bench_main(int argc, char **argv)
{
    int json = 0, verbose = 0;
    const char *what = NULL, *members = NULL, *plot = NULL, *size = NULL, *wasm = NULL;
    size_t sizes[MAX_SIZES], nsizes;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--size") == 0 || strcmp(argv[i], "--wasm") == 0) {
            if (i + 1 == argc) {
                cli_error("%s needs a value", argv[i]);
                usage(stderr);
                return EXIT_USAGE;
            }
            if (argv[i][2] == 's')
                size = argv[++i];
            else
                wasm = argv[++i];
        } else if (strcmp(argv[i], "--members") == 0 || strcmp(argv[i], "--plot") == 0) {
            if (i + 1 == argc) {
                cli_error("%s needs a value", argv[i]);
                usage(stderr);
                return EXIT_USAGE;
            }
            if (argv[i][2] == 'm')
                members = argv[++i];
            else
                plot = argv[++i];
        } else if (!what && argv[i][0] != '-') {
            what = argv[i];
        } else {
            cli_error("unexpected argument '%s'", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!what || (strcmp(what, "abe") != 0 && strcmp(what, "ibe") != 0 &&
                  strcmp(what, "gke") != 0 && strcmp(what, "relay") != 0 &&
                  strcmp(what, "rooms") != 0)) {
        cli_error(what ? "unknown benchmark '%s'" : "which benchmark?%s", what ? what : "");
        cli_hint("the benchmarks are: abe, ibe, gke, relay, rooms");
        return EXIT_USAGE;
    }
    if ((size || wasm) && strcmp(what, "abe") != 0) {
        cli_error("%s is for fkex bench abe", size ? "--size" : "--wasm");
        return EXIT_USAGE;
    }
    if (strcmp(what, "abe") == 0 && (size || wasm) && !(members || plot || verbose))
        return abe_builds(json, size, wasm);
    if (strcmp(what, "relay") == 0 || strcmp(what, "rooms") == 0) {
        if (members || plot) {
            cli_error("%s is for fkex bench gke", members ? "--members" : "--plot");
            return EXIT_USAGE;
        }
        return what[1] == 'e' ? bench_relay(json, verbose) : bench_rooms(json, verbose);
    }
    if (strcmp(what, "abe") == 0 || strcmp(what, "ibe") == 0) {
        if (members || plot || verbose) {
            cli_error("%s is for fkex bench gke", members ? "--members" : plot ? "--plot" : "-v");
            return EXIT_USAGE;
        }
        return what[0] == 'a' ? bench_abe(json, 0, "native") : bench_ibe(json);
    }
    if (!members)
        members = "2,10,100,1000";
    if (!(nsizes = parse_sizes(sizes, members))) {
        cli_error("bad --members '%s'", members);
        cli_hint("give room sizes from 2 to %d, comma-separated: --members 2,10,100,1000",
                 BENCH_GKE_MAX);
        return EXIT_USAGE;
    }
    if (plot && system("command -v gnuplot >/dev/null 2>&1") != 0) {
        cli_error("--plot needs gnuplot, which is not installed");
        cli_hint("install it: apt-get install gnuplot-nox (or run: sh scripts/deps.sh)");
        return EXIT_USAGE;
    }
    return bench_gke(sizes, nsizes, json, plot, verbose);
}
