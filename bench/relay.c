/*
 * bench/relay.c: `fkex bench relay`: what the relay daemon sustains, on
 * loopback, against Redis pub/sub driven by the same load generator.
 *
 * Processes: `fkex relay` (this binary, /proc/self/exe) with its database
 * on disk (WAL, synchronous=FULL); this process, the load generator
 * (bench/loadgen.c); for the join test, four processes that keep the
 * room's members live (bench/relay_members.c); redis-server if installed.
 * They all share the machine's cores, as the anchors did.
 *
 * The room is real: 100 members, each a ratchet state machine, joined one
 * by one through the relay (JoinRequest, Challenge, Proof, Commit,
 * Welcome), so the relay's roster holds 100 leaf keys it authenticated.
 * The generator then takes over their sessions (it signs each relay nonce
 * with the member's leaf key) and publishes 256-byte messages shaped as
 * application messages, which the relay stores and fans out as it does any
 * application message; their content is opaque to it (it never decrypts).
 *
 *   throughput   publishers keep a window of unacknowledged SUBMITs; we
 *                count DELIVERs at the 100 members per second
 *   latency      1,000 messages a second from one member; per delivery,
 *                receive time minus the send time in the message
 *   idle         anonymous sessions (HELLO, READY) up to 10,000; the
 *                relay's VmRSS before and after, and each one's set-up
 *                time (connect, TLS handshake, HELLO to READY)
 *   join         a new member joins the room of 100 live members (98
 *                spread over four processes, 2 in this one), timed from
 *                its first step until it can decrypt; it then leaves, so
 *                every join is into 100
 *   recovery     one of the 100 cannot open its slice of a path commit
 *                (one byte flipped, as a relay swapping it would), is
 *                LOST on SETTLED and re-enters through admission with a
 *                fresh pseudonym on a new connection, as the chat client
 *                does; timed from LOST to JOINED, and from the commit's
 *                submission to JOINED
 * Every link is TLS 1.3, as deployed (fkex, fkex-nrm, fkex-js, the rooms,
 * the members); fkex-plain is the same relay and database with
 * --insecure-plaintext, the transport's cost beside it.
 * Before each join and each recovery the room is let go quiet (the relay
 * and the member processes stop using CPU): every epoch change makes each
 * of the 99 others send an EpochAck that every member verifies, and the
 * previous event's acks would otherwise still be in flight.
 */
#define _XOPEN_SOURCE 700   /* nftw, to remove the scratch directory with the NATS data */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>
#include "bench.h"
#include "loadgen.h"
#include "child.h"
#include "nats_cluster.h"
#include "relay_members.h"
#include "wire/relay_msg.h"

#define MEMBERS 100
#define PUBLISHERS 4
#define WINDOW 256
#define WARMUP_S 1.0
#define RUN_S 5.0
#define PACE 1000.0
#define IDLE_TARGET 10000
#define WORKERS 4
#define JOINS 10
#define RECOVERIES 5
#define LOCAL 2      /* members kept live by this process: the recovery's victim and committer */
#define QUIET_MS 10000
#define POLICY "(ONE or THREE) and (TWO or FOUR)"
#define WAIT_MS 120000u
#define CLUSTER_RELAYS 2
#define ROOMS 100          /* the many-rooms test: ROOMS rooms of ROOM_MEMBERS on one relay */
#define ROOM_MEMBERS 10
#define ROOMS_WINDOW 16    /* each room's publisher's unacknowledged SUBMITs */

extern char **environ;

typedef struct {
    double rate;                       /* deliveries/s */
    double p50, p99, p999;             /* ms at 1k msg/s */
    size_t samples;
    int idle;                          /* connections held */
    double kb_per_conn;
    double setup_p50, setup_p99;       /* ms per idle connection's set-up */
    char idle_why[128];
    int ok;
    char why[160];
} server_figures;

typedef struct {
    int n;
    double lost_med, lost_max, commit_med, commit_max;
} recovery_figures;

/* ROOMS rooms of ROOM_MEMBERS on one relay. */
typedef struct {
    double rate;                       /* deliveries/s, all rooms */
    long rss_start, rss_built, rss_busy;   /* the relay's KiB: before, with the rooms, under load */
    double build_s;
    int ok;
    char why[160];
} rooms_figures;

typedef struct {
    int verbose;
    char dir[256];
    pid_t relay, redis;
    pid_t workers[WORKERS];
    char addr[128];
    uint16_t port;
    fkex_tls *tls;             /* the client's side of the relay's TLS */
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *key[2];
    rm_room room;
    int room_open;
    uint64_t rlimit;
    char rlimit_note[128];
} bench_relay_ctx;

static bench_relay_ctx *cur;

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;
    if (!cur || !cur->verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "bench relay: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- processes ------------------------------------------------------------- */

static pid_t spawn(const char *path, const char *const *argv, const char *out)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    fflush(NULL);
    int rc = posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static void stop(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill(*pid, sig);
    for (int i = 0; i < 500; i++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = -1;
            return;
        }
        nap_ms(10);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = -1;
}

/* Runs argv (this binary's relay) with its output in out, and waits for
 * "listening on": 0 with *pid, addr and *port, or -1. */
static int start_relay(const char *const *argv, const char *out, pid_t *pid, char addr[128],
                       uint16_t *port)
{
    if ((*pid = spawn(argv[0], argv, out)) < 0)
        return -1;
    for (int i = 0; i < 3000; i++) {   /* a relay of a cluster first reads the log */
        char line[256] = "";
        FILE *f = fopen(out, "r");
        if (f) {   /* its stderr is there too: "made a TLS key ..." first */
            int got = 0;
            while (!got && fgets(line, sizeof line, f))
                got = sscanf(line, "listening on %127s", addr) == 1;
            fclose(f);
            if (got) {
                const char *colon = strrchr(addr, ':');
                *port = (uint16_t)atoi(colon + 1);
                return 0;
            }
        }
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = -1;
            return -1;
        }
        nap_ms(10);
    }
    return -1;
}

static int self_exe(char exe[512])
{
    ssize_t n = readlink("/proc/self/exe", exe, 511);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    return 0;
}

/* sync: "full" or "normal" (fkex relay --sync); plaintext: with
 * --insecure-plaintext. The room's links follow (b->room.tls). */
static int relay_start(bench_relay_ctx *b, const char *sync, int plaintext)
{
    char db[320], out[320], exe[512];
    const char *argv[] = { exe, "relay", "--listen", "127.0.0.1:0", "--db", db, "--grace", "600",
                           "--sync", sync, plaintext ? "--insecure-plaintext" : NULL, NULL };
    if (self_exe(exe) != 0)
        return -1;
    snprintf(db, sizeof db, "%s/relay.db", b->dir);
    snprintf(out, sizeof out, "%s/relay.out", b->dir);
    b->room.tls = plaintext ? NULL : b->tls;
    return start_relay(argv, out, &b->relay, b->addr, &b->port);
}

/* redis-server on a free port, not durable (the anchors' setting). */
static int redis_start(bench_relay_ctx *b, const char *path, uint16_t *port)
{
    char portstr[8], out[320], maxc[16];
    lg_idle h;
    char why[128];
    *port = child_free_port();
    snprintf(portstr, sizeof portstr, "%u", (unsigned)*port);
    snprintf(maxc, sizeof maxc, "%d", IDLE_TARGET + 200);
    snprintf(out, sizeof out, "%s/redis.out", b->dir);
    const char *argv[] = { path, "--port", portstr, "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--maxclients", maxc, "--daemonize", "no",
                           "--protected-mode", "no", NULL };
    if (*port == 0 || (b->redis = spawn(path, argv, out)) < 0)
        return -1;
    for (int i = 0; i < 500; i++) {
        if (lg_idle_open(&h, LG_RESP, *port, NULL, 1, why) == 1) {
            lg_idle_close(&h);
            return 0;
        }
        lg_idle_close(&h);
        nap_ms(10);
    }
    stop(&b->redis, SIGKILL);
    return -1;
}

static const char *find_redis(void)
{
    static const char *const paths[] = { "/usr/bin/redis-server", "/usr/local/bin/redis-server",
                                         "/usr/sbin/redis-server" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* ---- the room -------------------------------------------------------------------- */

/* The head seq: an anonymous HELLO is answered by READY. */
static int head_seq_at(const char *addr, const rm_room *room, uint64_t *head)
{
    fkex_relay_msg m = { 0 }, r;
    fkex_writer w;
    uint8_t *rep = NULL;
    size_t replen;
    char err[128];
    fkex_err e;
    m.kind = FKEX_RELAY_HELLO;
    memcpy(m.room_id, room->room_id, 32);
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, &m);
    e = w.failed ? FKEX_ERR_NO_MEMORY
                 : fkex_net_request(&rep, &replen, addr, w.buf, w.len, NULL, room->tls, 10000, err);
    fkex_writer_free(&w);
    if (e != FKEX_OK)
        return -1;
    int ok = fkex_relay_msg_decode(&r, rep, replen) == FKEX_OK && r.kind == FKEX_RELAY_READY;
    if (ok)
        *head = r.relay_seq;
    free(rep);
    return ok ? 0 : -1;
}

static int head_seq(bench_relay_ctx *b, uint64_t *head)
{
    return head_seq_at(b->addr, &b->room, head);
}

/* The relay stopped and started again on its database (sync,
 * plaintext), the room's address and head seq read again: 0, or -1 with
 * why said. */
static int relay_again(bench_relay_ctx *b, const char *sync, int plaintext, uint64_t *head,
                       char why[160])
{
    stop(&b->relay, SIGTERM);
    if (relay_start(b, sync, plaintext) != 0) {
        snprintf(why, 160, "fkex relay --sync %s%s did not start on the database", sync,
                 plaintext ? " --insecure-plaintext" : "");
        return -1;
    }
    snprintf(b->room.addr, sizeof b->room.addr, "%s", b->addr);
    if (head_seq(b, head) != 0) {
        snprintf(why, 160, "fkex relay --sync %s%s: no head seq", sync,
                 plaintext ? " --insecure-plaintext" : "");
        return -1;
    }
    return 0;
}

static int sign_member(void *ctx, int i, const uint8_t nonce[32], uint8_t sig[64])
{
    rm_room *r = ctx;
    return fkex_ratchet_relay_auth(sig, r->m[i]->st, nonce) == FKEX_OK ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, size_t n, double q)
{
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return n ? sorted[k < n ? k : n - 1] : 0;
}

/* Throughput, latency and idle connections against one server (or the
 * relays of a cluster: the members spread over ports, the idle
 * connections on the first, pid's). */
static void measure(bench_relay_ctx *b, server_figures *f, const char *name, lg_proto proto,
                    const uint16_t *ports, int nports, pid_t pid, rm_room *room,
                    const uint8_t (*v)[32], uint64_t after)
{
    uint16_t port = ports[0];
    lg g;
    lg_idle h;
    memset(f, 0, sizeof *f);
    /* Idle first, on a fresh process: memory freed by a busy phase stays
     * resident and would hide what connections cost. */
    long before = child_rss_kib(pid);
    int want = IDLE_TARGET;
    if ((uint64_t)want + 64 > b->rlimit)
        want = (int)(b->rlimit - 64);
    f->idle = lg_idle_open(&h, proto, port, room->room_id, want, f->idle_why);
    nap_ms(200);
    long after_kib = child_rss_kib(pid);
    if (f->idle > 0 && before > 0 && after_kib > 0)
        f->kb_per_conn = (double)(after_kib - before) * 1.024 / f->idle;   /* KiB to kB */
    if (!f->idle_why[0] && f->idle < IDLE_TARGET)
        snprintf(f->idle_why, sizeof f->idle_why, "%s", b->rlimit_note);
    f->setup_p50 = h.setup_p50_ms;
    f->setup_p99 = h.setup_p99_ms;
    progress("%s: %d idle connections, %.2f kB each (RSS %ld -> %ld KiB), set up in %.3f ms "
             "(p99 %.3f)%s%s", name, f->idle, f->kb_per_conn, before, after_kib, f->setup_p50,
             f->setup_p99, f->idle_why[0] ? ": " : "", f->idle_why);
    lg_idle_close(&h);
    progress("%s: %d subscribers, %d publishers", name, MEMBERS, PUBLISHERS);
    if (lg_open(&g, proto, ports, nports, room->room_id, MEMBERS, PUBLISHERS, v, after, sign_member,
                room) != 0) {
        snprintf(f->why, sizeof f->why, "%s: %s", name, g.why);
        lg_close(&g);
        return;
    }
    if (lg_blast(&g, WINDOW, WARMUP_S, RUN_S, &f->rate) != 0) {
        snprintf(f->why, sizeof f->why, "%s throughput: %s", name, g.why);
        lg_close(&g);
        return;
    }
    progress("%s: %.0f deliveries/s", name, f->rate);
    if (lg_paced(&g, PACE, WARMUP_S, RUN_S) != 0 || g.nlat == 0) {
        snprintf(f->why, sizeof f->why, "%s latency: %s", name, g.why[0] ? g.why : "no samples");
        lg_close(&g);
        return;
    }
    qsort(g.lat, g.nlat, sizeof *g.lat, cmp_double);
    f->samples = g.nlat;
    f->p50 = quantile(g.lat, g.nlat, 0.50);
    f->p99 = quantile(g.lat, g.nlat, 0.99);
    f->p999 = quantile(g.lat, g.nlat, 0.999);
    progress("%s: latency p50 %.3f p99 %.3f p99.9 %.3f ms (%zu samples)", name, f->p50, f->p99,
             f->p999, f->samples);
    lg_close(&g);

    f->ok = 1;
}

/* utime + stime of a process, in clock ticks; -1 if gone. */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    const char *p;
    unsigned long long ut, st;
    size_t n;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pid <= 0 || !(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* after "pid (comm) ": state, then fields 4..13, then utime, stime */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static long long room_ticks(const bench_relay_ctx *b)
{
    long long t = cpu_ticks(b->relay);
    for (int k = 0; k < WORKERS; k++)
        t += cpu_ticks(b->workers[k]);
    return t;
}

/* Until the relay and the member processes have used at most one clock
 * tick over 100 ms (this process's members are served meanwhile), or
 * QUIET_MS. */
static void quiet(bench_relay_ctx *b)
{
    double end = bench_now_ms() + QUIET_MS;
    long long before = room_ticks(b);
    while (bench_now_ms() < end) {
        rm_run_for(&b->room, 100);
        long long now = room_ticks(b);
        if (now - before <= 1)
            return;
        before = now;
    }
    progress("the room did not go quiet within %d s", QUIET_MS / 1000);
}

static void loadavg(double *one)
{
    FILE *f = fopen("/proc/loadavg", "r");
    *one = -1;
    if (f) {
        if (fscanf(f, "%lf", one) != 1)
            *one = -1;
        fclose(f);
    }
}

/* A child keeping members [from, to) live until it is killed. */
static void worker(bench_relay_ctx *b, int from, int to, uint64_t after, int ready_fd)
{
    char err[128];
    if (rm_after_fork(&b->room) != FKEX_OK || rm_dial(&b->room, from, to, after, WAIT_MS, err) != FKEX_OK)
        _exit(1);
    if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    close(ready_fd);
    rm_run(&b->room, NULL);
    _exit(0);
}

static int join_latency(bench_relay_ctx *b, double *samples, int *n, char why[160])
{
    uint64_t head;
    int fds[2];
    char err[128];
    *n = 0;
    if (head_seq(b, &head) != 0 || pipe(fds) != 0) {
        snprintf(why, 160, "cannot read the room's head");
        return -1;
    }
    for (int k = 0; k < WORKERS; k++) {
        int from = (MEMBERS - LOCAL) * k / WORKERS, to = (MEMBERS - LOCAL) * (k + 1) / WORKERS;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            worker(b, from, to, head, fds[1]);
        }
        b->workers[k] = pid;
    }
    close(fds[1]);
    for (int k = 0; k < WORKERS; k++) {
        char c;
        struct pollfd p = { fds[0], POLLIN, 0 };
        if (poll(&p, 1, (int)WAIT_MS) != 1 || read(fds[0], &c, 1) != 1) {
            close(fds[0]);
            snprintf(why, 160, "the member processes did not come up");
            return -1;
        }
    }
    close(fds[0]);
    if (rm_dial(&b->room, MEMBERS - LOCAL, MEMBERS, head, WAIT_MS, err) != FKEX_OK) {
        snprintf(why, 160, "this process's members: %s", err);
        return -1;
    }
    progress("join: %d members live in %d processes and this one", MEMBERS, WORKERS);
    for (int j = 0; j < JOINS; j++) {
        quiet(b);
        if (rm_join_timed(&b->room, &samples[*n], WAIT_MS, err) != FKEX_OK) {
            snprintf(why, 160, "join %d: %s", j + 1, err);
            return -1;
        }
        progress("join %d: %.1f ms", j + 1, samples[*n]);
        (*n)++;
    }
    return 0;
}

/* The members kept live by this process are the last LOCAL: the victim
 * (MEMBERS - 2) and the committer of the path commit (MEMBERS - 1). */
static int recovery(bench_relay_ctx *b, recovery_figures *f, char why[160])
{
    double lost[RECOVERIES], commit[RECOVERIES];
    char err[128];
    f->n = 0;
    for (int j = 0; j < RECOVERIES; j++) {
        quiet(b);
        if (rm_recover_timed(&b->room, MEMBERS - 2, MEMBERS - 1, &lost[j], &commit[j], WAIT_MS,
                             err) != FKEX_OK) {
            snprintf(why, 160, "recovery %d: %s", j + 1, err);
            return -1;
        }
        const rm_member *m = b->room.m[MEMBERS - 2];
        progress("recovery %d: %.1f ms from LOST to JOINED, %.1f ms from the commit (LOST %.1f, "
                 "READY +%.1f, Challenge +%.1f, JOINED +%.1f)", j + 1, lost[j], commit[j],
                 commit[j] - lost[j], m->ready_at - m->lost_at, m->admit_at - m->ready_at,
                 m->joined_at - m->admit_at);
        f->n++;
    }
    f->lost_med = bench_median(lost, (size_t)f->n);   /* sorts */
    f->lost_max = lost[f->n - 1];
    f->commit_med = bench_median(commit, (size_t)f->n);
    f->commit_max = commit[f->n - 1];
    return 0;
}

/* ---- the run ----------------------------------------------------------------------- */

static void raise_nofile(bench_relay_ctx *b)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        b->rlimit = 1024;
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    b->rlimit = rl.rlim_cur;
    snprintf(b->rlimit_note, sizeof b->rlimit_note, "RLIMIT_NOFILE is %llu (the hard limit)",
             (unsigned long long)rl.rlim_cur);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(bench_relay_ctx *b)
{
    for (int k = 0; k < WORKERS; k++)
        stop(&b->workers[k], SIGKILL);
    stop(&b->redis, SIGTERM);
    stop(&b->relay, SIGTERM);
    if (b->room_open)
        rm_close(&b->room);
    b->room_open = 0;
    fkex_tls_free(b->tls);
    b->tls = NULL;
    fkex_key_free(b->key[0]);
    fkex_key_free(b->key[1]);
    fkex_mpk_free(b->mpk);
    fkex_msk_free(b->msk);
    if (b->dir[0])
        nftw(b->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int sign_rooms(void *ctx, int i, const uint8_t nonce[32], uint8_t sig[64])
{
    rm_room *rooms = ctx;
    const rm_member *m = rooms[i / ROOM_MEMBERS].m[i % ROOM_MEMBERS];
    return fkex_ratchet_relay_auth(sig, m->st, nonce) == FKEX_OK ? 0 : -1;
}

/* ROOMS rooms of ROOM_MEMBERS members on the relay at addr (pid), each
 * built through it; then every room's first member publishes as fast as
 * its window allows, and the others receive: deliveries per second over
 * all the rooms, and the relay's memory. */
static void measure_rooms(bench_relay_ctx *b, const char *addr, uint16_t port, pid_t pid,
                          rooms_figures *f)
{
    rm_room *rooms = calloc(ROOMS, sizeof *rooms);
    uint8_t (*ids)[32] = malloc(ROOMS * sizeof *ids);
    uint8_t (*v)[32] = malloc((size_t)ROOMS * ROOM_MEMBERS * sizeof *v);
    uint64_t *heads = malloc(ROOMS * sizeof *heads);
    char err[128];
    int opened = 0;
    lg g;
    memset(f, 0, sizeof *f);
    memset(&g, 0, sizeof g);
    g.ep = -1;
    if (!rooms || !ids || !v || !heads) {
        snprintf(f->why, sizeof f->why, "out of memory");
        goto out;
    }
    f->rss_start = child_rss_kib(pid);
    double t0 = bench_now_ms();
    for (int r = 0; r < ROOMS; r++) {
        if (rm_open(&rooms[r], addr, b->tls, POLICY, b->key[0], b->key[1], err) != FKEX_OK) {
            snprintf(f->why, sizeof f->why, "room %d: %s", r + 1, err);
            goto out;
        }
        opened++;
        if (rm_grow(&rooms[r], ROOM_MEMBERS - 1, ROOM_MEMBERS - 1, WAIT_MS, err) != FKEX_OK ||
            head_seq_at(addr, &rooms[r], &heads[r]) != 0 ||
            rm_settle(&rooms[r], heads[r], WAIT_MS, err) != FKEX_OK) {
            snprintf(f->why, sizeof f->why, "building room %d: %s", r + 1, err);
            goto out;
        }
        rm_hang_up(&rooms[r]);
        memcpy(ids[r], rooms[r].room_id, 32);
        for (int i = 0; i < ROOM_MEMBERS; i++)
            memcpy(v[r * ROOM_MEMBERS + i], rooms[r].m[i]->v, 32);
    }
    f->build_s = (bench_now_ms() - t0) / 1e3;
    f->rss_built = child_rss_kib(pid);
    progress("%d rooms of %d built at %s in %.1f s; relay RSS %ld -> %ld KiB", ROOMS, ROOM_MEMBERS,
             addr, f->build_s, f->rss_start, f->rss_built);
    if (lg_open_rooms(&g, LG_FKEX_TLS, port, ROOMS, (const uint8_t (*)[32])ids, ROOM_MEMBERS,
                      (const uint8_t (*)[32])v, heads, sign_rooms, rooms) != 0 ||
        lg_blast(&g, ROOMS_WINDOW, WARMUP_S, RUN_S, &f->rate) != 0) {
        snprintf(f->why, sizeof f->why, "%d rooms: %s", ROOMS, g.why);
        goto out;
    }
    f->rss_busy = child_rss_kib(pid);
    progress("%d rooms: %.0f deliveries/s, relay RSS %ld KiB under load", ROOMS, f->rate, f->rss_busy);
    f->ok = 1;
out:
    lg_close(&g);
    for (int r = 0; r < opened; r++)
        rm_close(&rooms[r]);
    free(rooms);
    free(ids);
    free(v);
    free(heads);
}

/* NATS JetStream: three nats-server nodes (the stream's replicas 3) and
 * two relays folding the one log, the room's 100 members spread over
 * them, each relay delivering to its own. */
static void measure_cluster(bench_relay_ctx *b, server_figures *f, rooms_figures *rooms)
{
    static rm_room room;
    nats_cluster c;
    char dir[320], exe[512], out[400], err[128], why[160] = "";
    pid_t pid[CLUSTER_RELAYS];
    char addr[CLUSTER_RELAYS][128];
    uint16_t port[CLUSTER_RELAYS];
    uint8_t (*v)[32] = NULL;
    uint64_t head;
    int room_open = 0;
    memset(f, 0, sizeof *f);
    for (int i = 0; i < CLUSTER_RELAYS; i++)
        pid[i] = -1;
    snprintf(dir, sizeof dir, "%s/nats", b->dir);
    if (self_exe(exe) != 0 || mkdir(dir, 0700) != 0 || nats_cluster_start(&c, dir, 3, why) != 0) {
        snprintf(f->why, sizeof f->why, "the NATS cluster: %.120s", why[0] ? why : strerror(errno));
        return;
    }
    for (int i = 0; i < CLUSTER_RELAYS; i++) {
        char key[340];
        const char *argv[] = { exe, "relay", "--listen", "127.0.0.1:0", "--store", c.store,
                               "--grace", "600", "--tls-key", key, NULL };
        snprintf(key, sizeof key, "%s/relay.key", dir);
        snprintf(out, sizeof out, "%s/relay%d.out", dir, i + 1);
        if (start_relay(argv, out, &pid[i], addr[i], &port[i]) != 0) {
            snprintf(f->why, sizeof f->why, "a relay of the cluster did not start");
            goto out;
        }
    }
    progress("cluster: NATS %s, relays %s and %s", c.store, addr[0], addr[1]);
    double t0 = bench_now_ms();
    if (rm_open(&room, addr[0], b->tls, POLICY, b->key[0], b->key[1], err) != FKEX_OK) {
        snprintf(f->why, sizeof f->why, "the cluster's room: %s", err);
        goto out;
    }
    room_open = 1;
    if (rm_grow(&room, MEMBERS - 1, 10, WAIT_MS, err) != FKEX_OK ||
        head_seq_at(addr[0], &room, &head) != 0 || rm_settle(&room, head, WAIT_MS, err) != FKEX_OK) {
        snprintf(f->why, sizeof f->why, "building the cluster's room: %s", err);
        goto out;
    }
    progress("cluster: room of %d members built in %.1f s (seq %llu)", room.n,
             (bench_now_ms() - t0) / 1e3, (unsigned long long)head);
    rm_hang_up(&room);
    if (!(v = malloc(MEMBERS * sizeof *v)))
        goto out;
    for (int i = 0; i < MEMBERS; i++)
        memcpy(v[i], room.m[i]->v, 32);
    measure(b, f, "fkex cluster", LG_FKEX_TLS, port, CLUSTER_RELAYS, pid[0], &room,
            (const uint8_t (*)[32])v, head);
    rm_close(&room);
    room_open = 0;
    measure_rooms(b, addr[0], port[0], pid[0], rooms);
out:
    free(v);
    if (room_open)
        rm_close(&room);
    for (int i = 0; i < CLUSTER_RELAYS; i++)
        stop(&pid[i], SIGTERM);
    nats_cluster_stop(&c);
}

static void noop(void *arg)
{
    (void)arg;
}

static void print_json_figures(const char *name, const server_figures *f)
{
    printf("\"%s\": {\"ok\": %s, \"deliveries_per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"p999_ms\": %.3f, \"latency_samples\": %zu, \"idle_connections\": %d, "
           "\"kb_per_idle_connection\": %.2f, \"setup_p50_ms\": %.3f, \"setup_p99_ms\": %.3f, "
           "\"idle_limited_by\": \"%s\", \"error\": \"%s\"}",
           name, f->ok ? "true" : "false", f->rate, f->p50, f->p99, f->p999, f->samples, f->idle,
           f->kb_per_conn, f->setup_p50, f->setup_p99, f->idle_why, f->why);
}

static void print_json_rooms(const char *name, const rooms_figures *f)
{
    printf("\"%s\": {\"ok\": %s, \"deliveries_per_s\": %.0f, \"build_s\": %.1f, "
           "\"rss_kib\": [%ld, %ld, %ld]}", name, f->ok ? "true" : "false", f->rate, f->build_s,
           f->rss_start, f->rss_built, f->rss_busy);
}

static void print_rooms_row(const char *name, const rooms_figures *f)
{
    if (!f->ok) {
        printf("  %-8s failed: %s\n", name, f->why);
        return;
    }
    printf("  %-8s %12.0f %9.1f %9.1f %9.1f %8.1f\n", name, f->rate, f->rss_start / 1024.0,
           f->rss_built / 1024.0, f->rss_busy / 1024.0, f->build_s);
}

static void print_table_row(const char *name, const server_figures *f)
{
    if (!f->ok) {
        printf("  %-10s failed: %s\n", name, f->why);
        return;
    }
    printf("  %-10s %12.0f %9.3f %9.3f %9.3f %9d %9.2f %9.3f %9.3f\n", name, f->rate, f->p50, f->p99,
           f->p999, f->idle, f->kb_per_conn, f->setup_p50, f->setup_p99);
}

int bench_relay(int json, int verbose)
{
    static bench_relay_ctx b;
    server_figures fx, fp, fn, rx, fj;
    rooms_figures rs, rj;
    recovery_figures rec = { 0 };
    double load_start, load_end;
    fkex_rng rng;
    char err[128], why[160] = "";
    const char *redis = find_redis();
    const char *ones[] = { "ONE", "TWO" }, *threes[] = { "THREE", "FOUR" };
    const char *tmp = getenv("TMPDIR");
    double joins[JOINS], join_med = 0, join_p99 = 0, pairing_ms = 0, op_ms;
    int njoins = 0, rc = 2;
    uint64_t head;
    uint8_t (*v)[32] = NULL;

    memset(&b, 0, sizeof b);
    memset(&rx, 0, sizeof rx);
    memset(&fj, 0, sizeof fj);
    memset(&rs, 0, sizeof rs);
    memset(&rj, 0, sizeof rj);
    memset(&fn, 0, sizeof fn);
    memset(&fp, 0, sizeof fp);
    b.verbose = verbose;
    b.relay = b.redis = -1;
    for (int k = 0; k < WORKERS; k++)
        b.workers[k] = -1;
    cur = &b;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(&b);
    fkex_rng_init_system(&rng);
    /* On disk, not tmpfs: durability costs what it costs. */
    snprintf(b.dir, sizeof b.dir, "%s/fkex-bench-relay.XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
    if (!mkdtemp(b.dir)) {
        fprintf(stderr, "fkex: error: cannot make a scratch directory %s: %s\n", b.dir, strerror(errno));
        b.dir[0] = 0;
        return 2;
    }
    loadavg(&load_start);
    bench_time(&op_ms, &pairing_ms, 16, noop, NULL);

    if (fkex_abe_setup(&b.mpk, &b.msk, "waters11", &rng) != FKEX_OK ||
        fkex_abe_keygen(&b.key[0], b.msk, ones, 2, &rng) != FKEX_OK ||
        fkex_abe_keygen(&b.key[1], b.msk, threes, 2, &rng) != FKEX_OK) {
        snprintf(why, sizeof why, "cannot make the authority's keys");
        goto out;
    }
    {
        char terr[160];
        if (fkex_tls_client_new(&b.tls, terr) != FKEX_OK) {
            snprintf(why, sizeof why, "TLS: %.150s", terr);
            goto out;
        }
    }
    if (relay_start(&b, "full", 0) != 0) {
        snprintf(why, sizeof why, "fkex relay did not start (see its output)");
        goto out;
    }
    progress("relay %s (pid %d), database in %s", b.addr, (int)b.relay, b.dir);
    double t0 = bench_now_ms();
    if (rm_open(&b.room, b.addr, b.tls, POLICY, b.key[0], b.key[1], err) != FKEX_OK) {
        snprintf(why, sizeof why, "the room: %s", err);
        goto out;
    }
    b.room_open = 1;
    if (rm_grow(&b.room, MEMBERS - 1, 10, WAIT_MS, err) != FKEX_OK || head_seq(&b, &head) != 0 ||
        rm_settle(&b.room, head, WAIT_MS, err) != FKEX_OK) {
        snprintf(why, sizeof why, "building the room: %s", err);
        goto out;
    }
    progress("room of %d members built through the relay in %.1f s (seq %llu)", b.room.n,
             (bench_now_ms() - t0) / 1e3, (unsigned long long)head);
    rm_hang_up(&b.room);
    /* A fresh relay for the measurements: it resumes the room from its
     * database, as after any restart. */
    stop(&b.relay, SIGTERM);
    if (relay_start(&b, "full", 0) != 0) {
        snprintf(why, sizeof why, "fkex relay did not restart on its database");
        goto out;
    }
    snprintf(b.room.addr, sizeof b.room.addr, "%s", b.addr);   /* a new port */
    if (!(v = malloc(MEMBERS * sizeof *v)))
        goto out;
    for (int i = 0; i < MEMBERS; i++)
        memcpy(v[i], b.room.m[i]->v, 32);

    measure(&b, &fx, "fkex", LG_FKEX_TLS, &b.port, 1, b.relay, &b.room, (const uint8_t (*)[32])v,
            head);
    if (!fx.ok) {
        snprintf(why, sizeof why, "%s", fx.why);
        goto out;
    }
    if (join_latency(&b, joins, &njoins, why) != 0 || recovery(&b, &rec, why) != 0)
        goto out;
    rm_hang_up(&b.room);
    for (int k = 0; k < WORKERS; k++)
        stop(&b.workers[k], SIGKILL);
    /* The recovery rotated the keys of this process's two members (a
     * fresh pseudonym, an Update): the generator signs with the new ones. */
    for (int i = MEMBERS - LOCAL; i < MEMBERS; i++)
        memcpy(v[i], b.room.m[i]->v, 32);
    measure_rooms(&b, b.addr, b.port, b.relay, &rs);
    join_med = bench_median(joins, (size_t)njoins);   /* sorts */
    join_p99 = quantile(joins, (size_t)njoins, 0.99);

    /* The same relay with --sync normal: durable through a crash of the
     * relay, not through a power loss, as a broker that fsyncs on a timer
     * (JetStream's default). */
    if (relay_again(&b, "normal", 0, &head, why) != 0)
        goto out;
    measure(&b, &fn, "fkex --sync normal", LG_FKEX_TLS, &b.port, 1, b.relay, &b.room,
            (const uint8_t (*)[32])v, head);
    /* The same relay and database over plain TCP: what TLS costs. */
    if (relay_again(&b, "full", 1, &head, why) != 0)
        goto out;
    measure(&b, &fp, "fkex plaintext", LG_FKEX, &b.port, 1, b.relay, &b.room,
            (const uint8_t (*)[32])v, head);

    if (redis) {
        uint16_t rport;
        if (redis_start(&b, redis, &rport) == 0) {
            measure(&b, &rx, "redis", LG_RESP, &rport, 1, b.redis, &b.room, NULL, 0);
            stop(&b.redis, SIGTERM);
        } else {
            snprintf(rx.why, sizeof rx.why, "redis-server did not start");
        }
    } else {
        snprintf(rx.why, sizeof rx.why, "redis-server is not installed (apt-get install redis-server)");
    }
    if (nats_server_path())
        measure_cluster(&b, &fj, &rj);
    else
        snprintf(fj.why, sizeof fj.why, "nats-server is not installed (apt-get install nats-server)");
    rc = 0;
    loadavg(&load_end);

out:
    free(v);
    cleanup(&b);
    if (rc != 0) {
        fprintf(stderr, "fkex: error: bench relay: %s\n", why[0] ? why : "failed");
        return rc;
    }
    if (json) {
        printf("{\"pairing_ms\": %.4f, \"members\": %d, \"message_bytes\": %d, \"publishers\": %d, "
               "\"window\": %d, \"paced_per_s\": %.0f, \"rlimit_nofile\": %llu, ",
               pairing_ms, MEMBERS, LG_MSG, PUBLISHERS, WINDOW, PACE, (unsigned long long)b.rlimit);
        print_json_figures("fkex", &fx);
        printf(", ");
        print_json_figures("fkex_plaintext", &fp);
        printf(", ");
        print_json_figures("fkex_sync_normal", &fn);
        printf(", ");
        print_json_figures("redis", &rx);
        printf(", ");
        print_json_figures("fkex_jetstream", &fj);
        printf(", \"rooms\": {\"n\": %d, \"members\": %d, \"window\": %d, ", ROOMS, ROOM_MEMBERS,
               ROOMS_WINDOW);
        print_json_rooms("fkex", &rs);
        printf(", ");
        print_json_rooms("fkex_jetstream", &rj);
        printf("}");
        printf(", \"ratio_deliveries\": %.3f, \"ratio_p99\": %.3f, ",
               rx.ok && rx.rate > 0 ? fx.rate / rx.rate : 0, rx.ok && rx.p99 > 0 ? fx.p99 / rx.p99 : 0);
        printf("\"tls_over_plaintext\": {\"deliveries\": %.3f, \"p99\": %.3f, \"kb_per_conn\": %.3f, "
               "\"setup_p50\": %.3f}, ",
               fp.ok && fp.rate > 0 ? fx.rate / fp.rate : 0, fp.ok && fp.p99 > 0 ? fx.p99 / fp.p99 : 0,
               fp.ok && fp.kb_per_conn > 0 ? fx.kb_per_conn / fp.kb_per_conn : 0,
               fp.ok && fp.setup_p50 > 0 ? fx.setup_p50 / fp.setup_p50 : 0);
        printf("\"join\": {\"n\": %d, \"median_ms\": %.2f, \"p99_ms\": %.2f, \"median_pe\": %.1f, "
               "\"p99_pe\": %.1f}, ",
               njoins, join_med, join_p99, join_med / pairing_ms, join_p99 / pairing_ms);
        printf("\"recovery\": {\"n\": %d, \"lost_to_joined_median_ms\": %.2f, "
               "\"lost_to_joined_max_ms\": %.2f, \"lost_to_joined_median_pe\": %.1f, "
               "\"lost_to_joined_max_pe\": %.1f, \"commit_to_joined_median_ms\": %.2f, "
               "\"commit_to_joined_max_ms\": %.2f, \"commit_to_joined_median_pe\": %.1f, "
               "\"commit_to_joined_max_pe\": %.1f}, ",
               rec.n, rec.lost_med, rec.lost_max, rec.lost_med / pairing_ms, rec.lost_max / pairing_ms,
               rec.commit_med, rec.commit_max, rec.commit_med / pairing_ms,
               rec.commit_max / pairing_ms);
        printf("\"load_average\": [%.2f, %.2f]}\n", load_start, load_end);
        return 0;
    }
    printf("fkex bench relay: %d members, %d-byte messages, %d publishers (window %d), loopback;\n"
           "fkex durable (SQLite WAL, synchronous=FULL, on disk) over TLS 1.3; fkex-plain: the same\n"
           "over plain TCP (--insecure-plaintext); fkex-nrm: --sync normal (durable through a relay\n"
           "crash, not a power loss); Redis pub/sub with --save \"\" --appendonly no (plain TCP);\n"
           "fkex-js: two relays --store over three nats-server nodes (JetStream, replicas 3, file\n"
           "storage), the members split over the two relays; set-up: connect, handshake, session\n\n",
           MEMBERS, LG_MSG, PUBLISHERS, WINDOW);
    printf("  %-10s %12s %9s %9s %9s %9s %9s %9s %9s\n", "server", "deliveries/s", "p50 ms",
           "p99 ms", "p99.9 ms", "idle conn", "kB/conn", "setup ms", "p99");
    print_table_row("fkex", &fx);
    print_table_row("fkex-plain", &fp);
    print_table_row("fkex-nrm", &fn);
    print_table_row("redis", &rx);
    print_table_row("fkex-js", &fj);
    printf("\n  %d rooms of %d members on one relay, each room's first member publishing (window %d):\n"
           "  %-8s %12s %9s %9s %9s %8s\n", ROOMS, ROOM_MEMBERS, ROOMS_WINDOW, "server",
           "deliveries/s", "RSS MiB", "+rooms", "busy", "build s");
    print_rooms_row("fkex", &rs);
    print_rooms_row("fkex-js", &rj);
    if (rx.ok)
        printf("\n  fkex/redis: deliveries/s %.2f, p99 %.2f\n", fx.rate / rx.rate, fx.p99 / rx.p99);
    if (fp.ok)
        printf("  TLS/plain: deliveries/s %.2f, p99 %.2f, kB per idle connection %.2f, set-up %.2f\n",
               fx.rate / fp.rate, fx.p99 / fp.p99, fx.kb_per_conn / fp.kb_per_conn,
               fx.setup_p50 / fp.setup_p50);
    if (fx.idle_why[0])
        printf("  fkex idle connections limited by: %s\n", fx.idle_why);
    if (rx.ok && rx.idle_why[0])
        printf("  redis idle connections limited by: %s\n", rx.idle_why);
    printf("\n  join into %d live members (%d joins): median %.1f ms (%.1f pe), p99 %.1f ms (%.1f pe)\n",
           MEMBERS, njoins, join_med, join_med / pairing_ms, join_p99, join_p99 / pairing_ms);
    printf("  recovery of a LOST member in %d live members (%d runs), LOST to JOINED: median %.1f ms\n"
           "    (%.1f pe), max %.1f ms (%.1f pe); commit submitted to JOINED: median %.1f ms (%.1f pe),\n"
           "    max %.1f ms (%.1f pe)\n",
           MEMBERS, rec.n, rec.lost_med, rec.lost_med / pairing_ms, rec.lost_max,
           rec.lost_max / pairing_ms, rec.commit_med, rec.commit_med / pairing_ms, rec.commit_max,
           rec.commit_max / pairing_ms);
    printf("  one pairing: %.3f ms; latency at %.0f msg/s over %zu deliveries; load average %.2f\n"
           "  at the start, %.2f at the end\n", pairing_ms, PACE, fx.samples, load_start, load_end);
    return 0;
}
