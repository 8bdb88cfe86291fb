/*
 * bench/rooms.c: `fkex bench rooms`: what users of a room wait for, with
 * every party a real process on loopback: `fkex relay` (this binary, its
 * database on disk), and one `fkex chat --batch` per member, as people
 * run them.
 *
 *   together  a room of 50 members (each joined in turn); then 20 joiners
 *             started at the same instant. Each join is timed from its
 *             process's start until it prints its joined event (key file
 *             read, connection, JoinRequest, Challenge, Proof, Welcome):
 *             median and max, in ms and pairing-equivalents
 *   policy    `fkex room set-policy` to a policy half of the 70 satisfy:
 *             from the command's start until it exits (the re-attestation
 *             committed: from then on only members who satisfy it hold the
 *             room's key), and until every member who stays shows the
 *             roster without those who fell out (the others remove them
 *             once their acknowledgements are 15 s overdue)
 *
 * The pairing is timed in this process before the run (bench_time). The
 * processes share the machine's cores, as users on one machine would.
 * The scratch directory (every process's log, the relay's with -v) is
 * removed after a good run, kept after a failed one or with
 * FKEX_BENCH_KEEP=1.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bench.h"
#include "child.h"

#define MEMBERS 50
#define TOGETHER 20
#define POLICY "(ONE or THREE) and (TWO or FOUR)"
#define NEW_POLICY "ONE and TWO"   /* members hold {ONE,TWO} or {THREE,FOUR}: half stay */
#define STEP_S 60.0

typedef struct {
    char dir[64], exe[512], addr[128], invite[256];
    child relay;
    child *m[MEMBERS + TOGETHER];
    int n;
    int verbose;
} rooms;

static void progress(const rooms *b, const char *fmt, ...)
{
    va_list ap;
    if (!b->verbose)
        return;
    va_start(ap, fmt);
    fputs("  ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void noop(void *arg)
{
    (void)arg;
}

static const char *path(const rooms *b, const char *name)
{
    static char ring[8][160];
    static unsigned next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", b->dir, name);
    return p;
}

/* Runs `fkex ARGS...` to its end; its stdout in *out (malloc'd) if out. */
static int run(rooms *b, char **out, const char *first, ...)
{
    const char *argv[16] = { b->exe, first };
    va_list ap;
    size_t n = 2;
    child c;
    va_start(ap, first);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    if (child_start(&c, argv, path(b, "run.err")) != 0)
        return -1;
    int rc = child_finish(&c, STEP_S);
    if (out) {
        *out = c.buf;
        c.buf = NULL;
    }
    child_free(&c);
    return rc;
}
#define RUN(b, out, ...) run(b, out, __VA_ARGS__, (const char *)NULL)

/* A member's process: `fkex chat INVITE --key KEY --batch --nick NICK [found]`. */
static child *member_start(rooms *b, const char *key, const char *found)
{
    char nick[16], err[32];
    child *c = calloc(1, sizeof *c);
    snprintf(nick, sizeof nick, "m%02d", b->n);
    snprintf(err, sizeof err, "%s.err", nick);
    const char *argv[] = { b->exe, "chat", b->invite, "--key", key, "--batch", "--nick", nick,
                           found ? "--found" : NULL, found, NULL };
    if (!c || child_start(c, argv, path(b, err)) != 0) {
        free(c);
        return NULL;
    }
    b->m[b->n++] = c;
    return c;
}

static const char *key_of(const rooms *b, int i)
{
    return path(b, i % 2 ? "b.key" : "a.key");
}

static int setup(rooms *b)
{
    const char *argv[] = { b->exe, "relay", "--listen", "127.0.0.1:0", "--db", path(b, "relay.db"),
                           "--grace", "600", "-v", NULL };
    char *out = NULL;
    const char *at;
    if (child_start(&b->relay, argv, path(b, "relay.err")) != 0 ||
        !child_wait_for(&b->relay, "listening on ", 1, STEP_S) ||
        !(at = strstr(b->relay.buf, "listening on ")) ||
        sscanf(at, "listening on %127s", b->addr) != 1)
        return -1;
    if (RUN(b, NULL, "setup", "--dir", path(b, "auth")) != 0 ||
        RUN(b, NULL, "keygen", "--msk", path(b, "auth/msk.fkex"), "--attrs", "ONE TWO", "-o",
            path(b, "a.key")) != 0 ||
        RUN(b, NULL, "keygen", "--msk", path(b, "auth/msk.fkex"), "--attrs", "THREE FOUR", "-o",
            path(b, "b.key")) != 0 ||
        RUN(b, &out, "room", "create", "bench", "--policy", POLICY, "--relay", b->addr, "--dir",
            path(b, "R")) != 0 ||
        !out || sscanf(out, "%255s", b->invite) != 1) {
        free(out);
        return -1;
    }
    free(out);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Waits until every member shows `"members": want}` as its last epoch
 * line; 0, or -1 after STEP_S. */
static int all_show(rooms *b, int want)
{
    char needle[32];
    double deadline = child_now() + STEP_S;
    snprintf(needle, sizeof needle, "\"members\": %d}", want);
    for (;;) {
        int ok = 1;
        for (int i = 0; i < b->n && ok; i++)
            ok = b->m[i] && child_count(b->m[i], needle) > 0;
        if (ok)
            return 0;
        if (child_now() > deadline)
            return -1;
        child_pump_all(b->m, (size_t)b->n, 50);
    }
}

int bench_rooms(int json, int verbose)
{
    rooms b;
    double pairing_ms = 0, op_ms, started[TOGETHER], took[TOGETHER], t0;
    double committed_ms = 0, roster_ms = 0;
    int rc = 2, stay = 0;
    memset(&b, 0, sizeof b);
    b.verbose = verbose;
    b.relay.pid = -1;
    b.relay.in = b.relay.out = -1;
    ssize_t len = readlink("/proc/self/exe", b.exe, sizeof b.exe - 1);
    snprintf(b.dir, sizeof b.dir, "/tmp/fkex-rooms-XXXXXX");
    if (len <= 0 || !mkdtemp(b.dir)) {
        fprintf(stderr, "fkex: error: cannot make a scratch directory\n");
        return 2;
    }
    b.exe[len] = 0;
    signal(SIGPIPE, SIG_IGN);
    bench_time(&op_ms, &pairing_ms, 16, noop, NULL);
    if (setup(&b) != 0) {
        fprintf(stderr, "fkex: error: cannot start the relay or make the room (see %s)\n", b.dir);
        goto out;
    }
    progress(&b, "relay at %s, room %s", b.addr, b.invite);

    /* The room of 50, each member in turn. */
    for (int i = 0; i < MEMBERS; i++) {
        child *c = member_start(&b, key_of(&b, i), i ? NULL : path(&b, "R"));
        if (!c || !child_wait_for(c, "\"event\": \"joined\"", 1, STEP_S)) {
            fprintf(stderr, "fkex: error: member %d did not join (see %s)\n", i, b.dir);
            goto out;
        }
    }
    if (all_show(&b, MEMBERS) != 0) {
        fprintf(stderr, "fkex: error: the room of %d did not settle\n", MEMBERS);
        goto out;
    }
    progress(&b, "%d members", MEMBERS);

    /* 20 at once. */
    for (int i = 0; i < TOGETHER; i++) {
        started[i] = child_now();
        if (!member_start(&b, key_of(&b, MEMBERS + i), NULL)) {
            fprintf(stderr, "fkex: error: cannot start a joiner\n");
            goto out;
        }
        took[i] = -1;
    }
    t0 = child_now();
    for (int left = TOGETHER; left > 0;) {
        if (child_now() - t0 > STEP_S) {
            fprintf(stderr, "fkex: error: %d of %d joiners did not join within %.0f s (see %s)\n",
                    left, TOGETHER, STEP_S, b.dir);
            goto out;
        }
        child_pump_all(b.m + MEMBERS, TOGETHER, 20);
        double now = child_now();
        for (int i = 0; i < TOGETHER; i++)
            if (took[i] < 0 && child_count(b.m[MEMBERS + i], "\"event\": \"joined\"")) {
                took[i] = (now - started[i]) * 1000;
                left--;
            }
    }
    if (all_show(&b, MEMBERS + TOGETHER) != 0) {
        fprintf(stderr, "fkex: error: the room of %d did not settle\n", MEMBERS + TOGETHER);
        goto out;
    }
    qsort(took, TOGETHER, sizeof *took, cmp_double);
    double med = (took[TOGETHER / 2 - 1] + took[TOGETHER / 2]) / 2, max = took[TOGETHER - 1];
    progress(&b, "%d joined together: median %.0f ms, max %.0f ms", TOGETHER, med, max);

    /* A policy half of them satisfy. */
    for (int i = 0; i < b.n; i++)
        stay += i % 2 == 0;
    t0 = child_now();
    if (RUN(&b, NULL, "room", "set-policy", "--dir", path(&b, "R"), "--policy", NEW_POLICY) != 0) {
        fprintf(stderr, "fkex: error: set-policy failed (see %s/run.err)\n", b.dir);
        goto out;
    }
    committed_ms = (child_now() - t0) * 1000;
    for (int i = 1; i < b.n; i += 2)   /* those who fall out exit 1 */
        (void)child_finish(b.m[i], STEP_S);
    for (int i = 1; i < b.n; i += 2) {
        child_free(b.m[i]);
        free(b.m[i]);
        b.m[i] = NULL;
    }
    {
        child *kept[MEMBERS + TOGETHER];
        int k = 0;
        for (int i = 0; i < b.n; i++)
            if (b.m[i])
                kept[k++] = b.m[i];
        memcpy(b.m, kept, (size_t)k * sizeof *kept);
        b.n = k;
    }
    if (all_show(&b, stay) != 0) {
        fprintf(stderr, "fkex: error: the members who fell out were not removed\n");
        goto out;
    }
    roster_ms = (child_now() - t0) * 1000;
    progress(&b, "policy committed in %.0f ms, roster of %d after %.0f ms", committed_ms, stay,
             roster_ms);

    if (json)
        printf("{\"pairing_ms\": %.4f, \"members\": %d, \"together\": %d, "
               "\"join_median_ms\": %.1f, \"join_max_ms\": %.1f, \"join_median_pe\": %.0f, "
               "\"join_max_pe\": %.0f, \"policy_committed_ms\": %.1f, "
               "\"policy_committed_pe\": %.0f, \"policy_roster_ms\": %.1f, \"stay\": %d}\n",
               pairing_ms, MEMBERS, TOGETHER, med, max, med / pairing_ms, max / pairing_ms,
               committed_ms, committed_ms / pairing_ms, roster_ms, stay);
    else
        printf("fkex bench rooms: every party a process on loopback; one pairing = %.3f ms\n"
               "  %d joiners started at once into a room of %d: median %.0f ms (%.0f pe), "
               "max %.0f ms (%.0f pe)\n"
               "  set-policy \"%s\" in the room of %d: committed %.0f ms (%.0f pe) after the "
               "command started;\n"
               "    the %d who fell out removed from the roster after %.1f s (acks 15 s "
               "overdue)\n",
               pairing_ms, TOGETHER, MEMBERS, med, med / pairing_ms, max, max / pairing_ms,
               NEW_POLICY, MEMBERS + TOGETHER, committed_ms, committed_ms / pairing_ms,
               MEMBERS + TOGETHER - stay, roster_ms / 1000);
    rc = 0;
out:
    for (int i = 0; i < b.n; i++)
        if (b.m[i])
            child_say(b.m[i], "{\"cmd\": \"quit\"}");
    for (int i = 0; i < b.n; i++)
        if (b.m[i]) {
            (void)child_finish(b.m[i], 10);
            child_free(b.m[i]);
            free(b.m[i]);
        }
    if (b.relay.pid > 0) {
        kill(b.relay.pid, SIGTERM);
        (void)child_finish(&b.relay, 10);
    }
    child_free(&b.relay);
    if (rc == 0 && !getenv("FKEX_BENCH_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", b.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "fkex: could not remove %s\n", b.dir);
    }
    return rc;
}
