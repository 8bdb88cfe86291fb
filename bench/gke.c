/*
 * bench/gke.c: `fkex bench gke`, what a membership change costs in each
 * group key exchange: the ratchet (PROTOCOL.md) under a FAME authority and
 * (ratchet-w11) under a Waters 2011 one, seed mode (the 2014 prototype's
 * protocol, FAME) and the two classic group Diffie-Hellman baselines GDH.2
 * and Burmester-Desmedt, for rooms of n members.
 *
 * Events, at size n:
 *   join   a room of n members admits one more (n + 1 after)
 *   leave  one member of a room of n leaves (n - 1 after)
 *   update a member of a room of n commits an Update (ratchet only: new
 *          leaf keys and a path through the tree)
 * GDH.2 and BD have no incremental events: a change reruns the protocol
 * with the new member set, n + 1 members for a join and n - 1 for a leave
 * (no rows for a leave at n = 2: one member left has nobody to agree with).
 *
 * Roles, each the CPU time (thread CPU clock) inside the state machines and
 * the bytes each party sent:
 *   joiner   the new member (GDH.2: the new last member M_n, which does the
 *            most work; BD: the new member, no different from the others)
 *   sponsor  ratchet join: the sponsor; ratchet leave and update: the
 *            committer (RFC 9420's benchmarks call it so); seed
 *            leave: the lowest remaining index, which re-encapsulates;
 *            GDH.2 leave: the last member M_{n-1}, which finishes the upflow
 *            and broadcasts. None for seed join, GDH.2 join and BD.
 *   member   the median over every other member
 *   room     the sum over every party, the leaver included; its row also
 *            carries the bytes the relay fanned out (every copy it delivered)
 *
 * Setup (building the room) is never timed. Each figure is the median over
 * the repetitions, in ms and in pairing-equivalents: divided by one full
 * pairing timed on the same clock (thread CPU time), interleaved with the
 * events of this run (bench.h). Each protocol at each size runs in a child
 * process of its own (run_apart), so that no figure depends on what ran
 * before it, and its figures are divided by the pairings timed in that
 * process: a machine that slows down for a while (a shared VM does)
 * slows both alike.
 *
 * Big rooms:
 *   ratchet  built by batched joins (BATCH joiners admitted per commit),
 *            its tree filled by Updates (ratchet_fill), then the events
 *            are measured on it, every party running.
 *   seed     at most SEED_FULL members run in full. Above that the room is
 *            built from encapsulations whose parties are dropped at once,
 *            and only the parties measured are kept: each catches up by
 *            decapsulating the latest KeySet (a joiner accepts the first
 *            KeySet holding its own encapsulation). Every member does the
 *            same work, so the room is the sampled member times n, and is
 *            marked extrapolated.
 *   any      a size whose measured event would take over BUDGET_S seconds
 *            (estimated from the largest size measured, by the protocol's
 *            complexity) is not run: each role is extrapolated from the two
 *            largest measured sizes with cost = a + b f(n), f the role's
 *            complexity (one size: proportional), and marked extrapolated.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include "room.h"

#define POLICY "(ONE or THREE) and (TWO or FOUR)"
#define BATCH 50            /* ratchet joiners admitted per commit while building (a
                               sponsor tracks at most RATCHET_MAX_PENDING joins) */
#define SEED_FULL 10        /* seed rooms up to this size run every member */
#define BUDGET_S 60.0       /* the most one measured event may take */

/* The ratchet under each CP-ABE scheme: its authority's, FAME by default,
 * and Waters 2011 (rooms of authorities made before FAME). */
enum { P_RATCHET, P_RATCHET_W, P_SEED, P_GDH2, P_BD, NPROTO };
enum { EV_JOIN, EV_LEAVE, EV_UPDATE, NEVENT };
enum { R_JOINER, R_SPONSOR, R_MEMBER, R_ROOM, NROLE };

static const char *const proto_name[NPROTO] = { "ratchet", "ratchet-w11", "seed", "gdh2", "bd" };
static const char *const event_name[NEVENT] = { "join", "leave", "update" };
static const char *const role_name[NROLE] = { "joiner", "sponsor", "member", "room" };

#define MAXREPS 9

/* One event measured once. */
typedef struct {
    int has[NROLE];
    double ms[NROLE], bytes[NROLE];
    double relay;           /* bytes the relay fanned out */
    double run_s;           /* CPU seconds the event took as run, for the budget */
} sample;

/* The figures of one (protocol, event, n). */
typedef struct {
    size_t n;
    int measured;           /* 0: no rows (e.g. GDH.2 leave at n = 2) */
    int ran;                /* measured by running it, not extrapolated */
    int extrapolated[NROLE];
    int has[NROLE];
    double ms[NROLE], bytes[NROLE], relay;
    int relay_extrapolated;
    double run_s;
    double pairing_ms;      /* one pairing, median of those its process timed; 0 if
                               extrapolated (then the whole run's) */
} figures;

typedef struct {
    fkex_mpk *mpk[2];   /* FAME, Waters 2011 */
    fkex_msk *msk[2];
    fkex_key *keys[2][2];  /* per scheme: {ONE, TWO} and {THREE, FOUR} */
    fkex_key **key;     /* the keys of the scheme being run */
    fkex_policy *policy;
    fkex_rng rng;
    double *pairing;        /* pairing samples, thread CPU ms */
    size_t npairing, pairing_cap;
    int verbose;
} bench_ctx;

/* ---- clocks and pairings --------------------------------------------------- */

static int is_ratchet(int proto) { return proto == P_RATCHET || proto == P_RATCHET_W; }

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void pairing_add(bench_ctx *b, double ms)
{
    if (b->npairing == b->pairing_cap) {
        b->pairing_cap = b->pairing_cap ? 2 * b->pairing_cap : 64;
        if (!(b->pairing = realloc(b->pairing, b->pairing_cap * sizeof *b->pairing)))
            abort();
    }
    b->pairing[b->npairing++] = ms;
}

/* Times k pairings on the thread CPU clock, the clock the parties are
 * measured on, so that a loaded machine scales both alike. */
static void pairing_tick(bench_ctx *b, int k)
{
    fkex_g1 p;
    fkex_g2 q;
    fkex_fr x, y;
    fkex_gt e;
    fkex_fr_random(&x, &b->rng);
    fkex_fr_random(&y, &b->rng);
    fkex_g1_generator(&p);
    fkex_g2_generator(&q);
    fkex_g1_mul(&p, &p, &x);
    fkex_g2_mul(&q, &q, &y);
    for (int i = 0; i < k; i++) {
        double t0 = cpu_now();
        fkex_pairing(&e, &p, &q);
        pairing_add(b, cpu_now() - t0);
    }
}

static double median_of(const double *v, size_t n)
{
    double tmp[MAXREPS * 4 + 1], *t = tmp, m;
    if (n == 0)
        return 0;
    if (n > FKEX_ARRAY_LEN(tmp) && !(t = malloc(n * sizeof *t)))
        abort();
    memcpy(t, v, n * sizeof *t);
    m = bench_median(t, n);
    if (t != tmp)
        free(t);
    return m;
}

static void say(const bench_ctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const bench_ctx *b, const char *fmt, ...)
{
    va_list ap;
    if (!b->verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "bench gke: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Fills a role from per-party figures: the median over the parties listed. */
static void role_median(sample *s, int role, const double *ms, const double *bytes,
                        const int *who, size_t nwho)
{
    double *a, *c;
    if (nwho == 0)
        return;
    if (!(a = malloc(nwho * sizeof *a)) || !(c = malloc(nwho * sizeof *c)))
        abort();
    for (size_t i = 0; i < nwho; i++) {
        a[i] = ms[who[i]];
        c[i] = bytes[who[i]];
    }
    s->has[role] = 1;
    s->ms[role] = bench_median(a, nwho);
    s->bytes[role] = bench_median(c, nwho);
    free(a);
    free(c);
}

static void role_one(sample *s, int role, double ms, double bytes)
{
    s->has[role] = 1;
    s->ms[role] = ms;
    s->bytes[role] = bytes;
}

/* ---- ratchet ---------------------------------------------------------------- */

typedef struct {
    double *cpu, *sent;
    size_t relay;
} room_snap;

static void room_snapshot(room_snap *s, const room *r)
{
    s->cpu = malloc(ROOM_MAX_PARTIES * sizeof *s->cpu);
    s->sent = malloc(ROOM_MAX_PARTIES * sizeof *s->sent);
    if (!s->cpu || !s->sent)
        abort();
    for (int i = 0; i < ROOM_MAX_PARTIES; i++) {
        s->cpu[i] = r->parties[i].cpu_ms;
        s->sent[i] = (double)r->parties[i].bytes_sent;
    }
    s->relay = r->fanout_bytes;
}

/* Turns the snapshot into deltas since it was taken. */
static void room_delta(room_snap *s, const room *r)
{
    for (int i = 0; i < ROOM_MAX_PARTIES; i++) {
        s->cpu[i] = r->parties[i].cpu_ms - s->cpu[i];
        s->sent[i] = (double)r->parties[i].bytes_sent - s->sent[i];
    }
    s->relay = r->fanout_bytes - s->relay;
}

static void room_snap_free(room_snap *s)
{
    free(s->cpu);
    free(s->sent);
}

static void room_total(sample *s, const room_snap *d, int nparties)
{
    double ms = 0, bytes = 0;
    for (int i = 0; i < nparties; i++) {
        ms += d->cpu[i];
        bytes += d->sent[i];
    }
    role_one(s, R_ROOM, ms, bytes);
    s->relay = (double)d->relay;
}

static int ratchet_build(room *r, size_t n, bench_ctx *b)
{
    if (room_open(r, POLICY, 0, NULL, b->key[0], "fkex bench gke") != FKEX_OK)
        return -1;
    while ((size_t)r->nroster < n) {
        size_t k = n - (size_t)r->nroster < BATCH ? n - (size_t)r->nroster : BATCH;
        int first = r->nparties, s = r->roster[0];
        fkex_err err;
        for (size_t i = 0; i < k; i++)
            if (room_join_start(r, b->key[(r->nparties) % 2], &err) < 0)
                return -1;
        room_run(r, (size_t)-1);
        if (room_commit(r, s, NULL) != FKEX_OK)
            return -1;
        room_run(r, (size_t)-1);
        for (int p = first; p < r->nparties; p++)
            if (!r->parties[p].joined)
                return -1;
    }
    return room_agree(r) ? 0 : -1;
}

static int ratchet_join(sample *s, room *r, bench_ctx *b)
{
    room_snap d;
    int *who, nwho = 0;
    double t0 = cpu_now();
    room_snapshot(&d, r);
    int p = room_join(r, b->key[r->nparties % 2]);
    s->run_s = (cpu_now() - t0) / 1e3;
    if (p < 0 || !r->parties[p].joined || !room_agree(r)) {
        room_snap_free(&d);
        return -1;
    }
    room_delta(&d, r);
    int sp = r->sponsor_of[p];
    if (!(who = malloc((size_t)r->nroster * sizeof *who)))
        abort();
    for (int i = 0; i < r->nroster; i++)
        if (r->roster[i] != p && r->roster[i] != sp)
            who[nwho++] = r->roster[i];
    role_one(s, R_JOINER, d.cpu[p], d.sent[p]);
    role_one(s, R_SPONSOR, d.cpu[sp], d.sent[sp]);
    role_median(s, R_MEMBER, d.cpu, d.sent, who, (size_t)nwho);
    room_total(s, &d, r->nparties);
    free(who);
    room_snap_free(&d);
    return 0;
}

/* The roles of a commit's event from snapshot d: the committer (as
 * sponsor), the median of the other members, the room. */
static void committer_roles(sample *s, room_snap *d, const room *r, int committer)
{
    int *who, nwho = 0;
    room_delta(d, r);
    if (!(who = malloc((size_t)r->nroster * sizeof *who)))
        abort();
    for (int i = 0; i < r->nroster; i++)
        if (r->roster[i] != committer)
            who[nwho++] = r->roster[i];
    role_one(s, R_SPONSOR, d->cpu[committer], d->sent[committer]);
    role_median(s, R_MEMBER, d->cpu, d->sent, who, (size_t)nwho);
    room_total(s, d, r->nparties);
    free(who);
}

/* The member p leaves; the first other member in roster order commits. */
static int ratchet_leave(sample *s, room *r, int p)
{
    room_snap d;
    int committer = -1;
    for (int i = 0; i < r->nroster && committer < 0; i++)
        if (r->roster[i] != p && r->parties[r->roster[i]].online)
            committer = r->roster[i];
    double t0 = cpu_now();
    room_snapshot(&d, r);
    fkex_err err = room_leave(r, p);
    if (s)
        s->run_s = (cpu_now() - t0) / 1e3;
    if (err != FKEX_OK || !r->parties[p].left || !room_agree(r) || committer < 0) {
        room_snap_free(&d);
        return -1;
    }
    if (s)
        committer_roles(s, &d, r, committer);
    room_snap_free(&d);
    return 0;
}

/* Member p commits an Update (its leaf keys and its path). */
static int ratchet_update(sample *s, room *r, int p)
{
    static const fkex_commit_options upd = { .update = 1 };
    room_snap d;
    uint64_t epoch = r->epoch;
    double t0 = cpu_now();
    room_snapshot(&d, r);
    fkex_err err = room_commit(r, p, &upd);
    if (err == FKEX_OK)
        room_run(r, (size_t)-1);
    if (s)
        s->run_s = (cpu_now() - t0) / 1e3;
    if (err != FKEX_OK || r->epoch != epoch + 1 || !room_agree(r)) {
        room_snap_free(&d);
        return -1;
    }
    if (s)
        committer_roles(s, &d, r, p);
    room_snap_free(&d);
    return 0;
}

/* The ratchet tree as a room whose members update keeps it (the chat
 * client commits an Update every so often): every other member, in
 * roster (leaf) order, commits one, which sets every parent's key, as
 * RFC 9420's benchmarks call a full tree. A room built by joins alone has
 * blank parents, and its first removals cost the committer about one
 * seal per member, as the star did. */
static int ratchet_fill(room *r)
{
    for (int i = 0; i < r->nroster; i += 2)
        if (ratchet_update(NULL, r, r->roster[i]) != 0)
            return -1;
    return 0;
}

/* Each repetition: a measured join (n -> n+1), the joiner leaves again
 * (not measured), a measured leave of the last member (n -> n-1), an
 * unmeasured join back to n, and a measured Update by a member spread
 * over the roster, on a room whose tree was filled first (ratchet_fill). */
static int run_ratchet(sample s[NEVENT][MAXREPS], int reps, size_t n, bench_ctx *b)
{
    room *r = calloc(1, sizeof *r);
    int rc = -1;
    if (!r)
        abort();
    if ((size_t)ROOM_MAX_PARTIES < n + 2 * (size_t)reps + 1)
        goto done;
    double t0 = bench_now_ms();
    if (ratchet_build(r, n, b) != 0 || ratchet_fill(r) != 0)
        goto done;
    say(b, "ratchet: a room of %zu built, its tree filled, in %.1f s", n,
        (bench_now_ms() - t0) / 1e3);
    for (int i = 0; i < reps; i++) {
        pairing_tick(b, 3);
        if (ratchet_join(&s[EV_JOIN][i], r, b) != 0)
            goto done;
        if (ratchet_leave(NULL, r, r->roster[r->nroster - 1]) != 0)
            goto done;
        pairing_tick(b, 3);
        if (ratchet_leave(&s[EV_LEAVE][i], r, r->roster[r->nroster - 1]) != 0)
            goto done;
        if (room_join(r, b->key[r->nparties % 2]) < 0 || !room_agree(r))
            goto done;
        pairing_tick(b, 3);
        if (ratchet_update(&s[EV_UPDATE][i], r, r->roster[(size_t)(2 * i + 1) * (size_t)r->nroster /
                                                          (2 * (size_t)reps)]) != 0)
            goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "bench gke: the ratchet room of %zu failed\n", n);
    room_close(r);
    free(r);
    return rc;
}

/* ---- seed -------------------------------------------------------------------- */

typedef struct {
    fkex_seed **st;         /* per party; NULL once dropped */
    int *live;              /* receives what the relay sends */
    double *cpu, *sent;
    size_t nparties, cap;
    fkex_seed_relay *relay;
    fkex_gke_out relay_out;
    uint8_t room_id[32];
    uint8_t *keyset;        /* the last KeySet, for parties catching up */
    size_t keyset_len;
    double relay_bytes;
    int failed;
    bench_ctx *b;
} seed_sim;

static void seed_to_relay(seed_sim *s, size_t from, fkex_gke_out *o)
{
    for (size_t j = 0; j < o->nmsgs; j++) {
        s->sent[from] += (double)o->msgs[j].len;
        if (fkex_seed_relay_receive(s->relay, o->msgs[j].bytes, o->msgs[j].len,
                                    &s->relay_out) != FKEX_OK)
            s->failed = 1;
    }
    fkex_gke_out_clear(o);
}

static void seed_deliver(seed_sim *s, size_t p, const uint8_t *msg, size_t len)
{
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    double t0 = cpu_now();
    fkex_err err = fkex_seed_receive(s->st[p], msg, len, &s->b->rng, &o);
    s->cpu[p] += cpu_now() - t0;
    if (err != FKEX_OK)
        s->failed = 1;
    for (size_t e = 0; e < o.nevents; e++)
        if (o.events[e].kind == FKEX_GKE_EV_LEFT)
            s->live[p] = 0;   /* it hears nothing more */
    seed_to_relay(s, p, &o);
}

/* Delivers what the relay sent to every live party, until it is quiet.
 * The fan-out counts one copy per room member (a leaver gets its Leave). */
static void seed_pump(seed_sim *s)
{
    while (s->relay_out.nmsgs && !s->failed) {
        fkex_gke_out batch = s->relay_out;
        fkex_gke_out_init(&s->relay_out);
        for (size_t k = 0; k < batch.nmsgs; k++) {
            const fkex_gke_msg *m = &batch.msgs[k];
            size_t members = fkex_seed_relay_members(s->relay);
            if (m->bytes[0] == FKEX_SEED_MSG_KEYSET) {
                free(s->keyset);
                if (!(s->keyset = malloc(m->len)))
                    abort();
                memcpy(s->keyset, m->bytes, m->len);
                s->keyset_len = m->len;
            } else {
                members++;
            }
            s->relay_bytes += (double)m->len * (double)members;
            for (size_t p = 0; p < s->nparties; p++)
                if (s->live[p])
                    seed_deliver(s, p, m->bytes, m->len);
        }
        fkex_gke_out_clear(&batch);
    }
}

/* A party joins; a kept one stays (timed), a dropped one only adds its
 * encapsulation. live: whether it hears the relay from now on. */
static size_t seed_join(seed_sim *s, int keep, int live)
{
    fkex_gke_out o;
    size_t p = s->nparties++;
    if (p == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->st = realloc(s->st, s->cap * sizeof *s->st);
        s->live = realloc(s->live, s->cap * sizeof *s->live);
        s->cpu = realloc(s->cpu, s->cap * sizeof *s->cpu);
        s->sent = realloc(s->sent, s->cap * sizeof *s->sent);
        if (!s->st || !s->live || !s->cpu || !s->sent)
            abort();
    }
    s->st[p] = NULL;
    s->live[p] = 0;
    s->cpu[p] = s->sent[p] = 0;
    fkex_gke_out_init(&o);
    double t0 = cpu_now();
    if (fkex_seed_join(&s->st[p], s->room_id, s->b->policy, s->b->key[p % 2], &s->b->rng,
                       &o) != FKEX_OK) {
        s->failed = 1;
        return p;
    }
    s->cpu[p] += cpu_now() - t0;
    if (!keep) {
        fkex_seed_free(s->st[p]);
        s->st[p] = NULL;
    }
    s->live[p] = keep && live;
    seed_to_relay(s, p, &o);
    seed_pump(s);
    return p;
}

static void seed_drop(seed_sim *s, size_t p)
{
    s->live[p] = 0;
    fkex_seed_free(s->st[p]);
    s->st[p] = NULL;
}

static void seed_free(seed_sim *s)
{
    for (size_t p = 0; p < s->nparties; p++)
        fkex_seed_free(s->st[p]);
    free(s->st);
    free(s->live);
    free(s->cpu);
    free(s->sent);
    free(s->keyset);
    fkex_seed_relay_free(s->relay);
    fkex_gke_out_clear(&s->relay_out);
}

static void seed_mark(const seed_sim *s, double *cpu, double *sent)
{
    for (size_t p = 0; p < s->nparties; p++) {
        cpu[p] = s->cpu[p];
        sent[p] = s->sent[p];
    }
}

/* One repetition at size n: build (parties 0 .. n-1, relay indices alike),
 * a measured leave of index 1 (n -> n-1; index 0 re-encapsulates), an
 * unmeasured join back to n, a measured join (n -> n+1). */
static int run_seed_once(sample *js, sample *ls, size_t n, bench_ctx *b)
{
    seed_sim s = { 0 };
    int full = n <= SEED_FULL, rc = -1;
    size_t cap = 2 * n + 8;
    double *c0 = malloc(cap * sizeof *c0), *b0 = malloc(cap * sizeof *b0);
    int *who = malloc(cap * sizeof *who);
    size_t nwho;
    double t0, r0;
    s.b = b;
    if (!c0 || !b0 || !who)
        abort();
    fkex_rng_fill(&b->rng, s.room_id, 32);
    fkex_gke_out_init(&s.relay_out);
    if (fkex_seed_relay_new(&s.relay, s.room_id) != FKEX_OK)
        goto done;

    /* Build: kept parties do not listen until the end, then catch up from
     * the last KeySet, which holds their encapsulations. */
    for (size_t i = 0; i < n && !s.failed; i++)
        seed_join(&s, full || i == 0 || i == n - 1, 0);
    for (size_t p = 0; p < n && !s.failed; p++)
        if (s.st[p]) {
            s.live[p] = 1;
            seed_deliver(&s, p, s.keyset, s.keyset_len);
        }
    if (s.failed)
        goto done;

    /* Leave: index 1 goes; index 0 re-encapsulates. */
    pairing_tick(b, 3);
    seed_mark(&s, c0, b0);
    r0 = s.relay_bytes;
    t0 = cpu_now();
    if (fkex_seed_relay_remove(s.relay, 1, &s.relay_out) != FKEX_OK)
        goto done;
    seed_pump(&s);
    ls->run_s = (cpu_now() - t0) / 1e3;
    if (s.failed || fkex_seed_relay_members(s.relay) != n - 1)
        goto done;
    for (size_t p = 0; p < s.nparties; p++) {
        c0[p] = s.cpu[p] - c0[p];
        b0[p] = s.sent[p] - b0[p];
    }
    nwho = 0;
    for (size_t p = 2; p < s.nparties; p++)
        if (s.st[p])
            who[nwho++] = (int)p;
    role_one(ls, R_SPONSOR, c0[0], b0[0]);
    role_median(ls, R_MEMBER, c0, b0, who, nwho);
    {
        double ms = 0, bytes = 0;
        for (size_t p = 0; p < s.nparties; p++) {
            ms += c0[p];
            bytes += b0[p];
        }
        if (!full && nwho)   /* the n - 2 members not run do what the sample did */
            ms += (double)(n - 2 - nwho) * ls->ms[R_MEMBER];
        role_one(ls, R_ROOM, ms, bytes);
        ls->relay = s.relay_bytes - r0;
    }
    if (full && s.st[1])
        seed_drop(&s, 1);

    /* Back to n: in a sampled room a new party D catches up by its own
     * join, and the samples of the leave go. */
    if (!full)
        for (size_t p = 0; p < s.nparties; p++)
            if (s.st[p])
                seed_drop(&s, p);
    seed_join(&s, 1, 1);
    if (s.failed || fkex_seed_relay_members(s.relay) != n)
        goto done;

    /* Join: J. */
    pairing_tick(b, 3);
    seed_mark(&s, c0, b0);
    r0 = s.relay_bytes;
    t0 = cpu_now();
    size_t j = s.nparties;
    seed_join(&s, 1, 1);
    js->run_s = (cpu_now() - t0) / 1e3;
    if (s.failed || fkex_seed_relay_members(s.relay) != n + 1)
        goto done;
    for (size_t p = 0; p < j; p++) {
        c0[p] = s.cpu[p] - c0[p];
        b0[p] = s.sent[p] - b0[p];
    }
    c0[j] = s.cpu[j];
    b0[j] = s.sent[j];
    nwho = 0;
    for (size_t p = 0; p < j; p++)
        if (s.st[p])
            who[nwho++] = (int)p;
    role_one(js, R_JOINER, c0[j], b0[j]);
    role_median(js, R_MEMBER, c0, b0, who, nwho);
    {
        double ms = 0, bytes = 0;
        for (size_t p = 0; p <= j; p++) {
            ms += c0[p];
            bytes += b0[p];
        }
        if (!full)
            ms += (double)(n - nwho) * js->ms[R_MEMBER];
        role_one(js, R_ROOM, ms, bytes);
        js->relay = s.relay_bytes - r0;
    }
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "bench gke: the seed room of %zu failed\n", n);
    seed_free(&s);
    free(c0);
    free(b0);
    free(who);
    return rc;
}

static int run_seed(sample js[], sample ls[], int reps, size_t n, bench_ctx *b)
{
    for (int i = 0; i < reps; i++)
        if (run_seed_once(&js[i], &ls[i], n, b) != 0)
            return -1;
    return 0;
}

/* ---- GDH.2 and BD --------------------------------------------------------------- */

#define TO_ALL 0xffffffffu

typedef struct {
    uint32_t from, to;      /* to: an index, or TO_ALL but the sender */
    uint8_t *bytes;
    size_t len;
} dh_pkt;

typedef struct {
    int bd;
    uint32_t n;
    void **st;
    double *cpu, *sent;
    double relay;
    dh_pkt *q;
    size_t qhead, qlen, qcap;
    int failed;
} dh_sim;

static void dh_push(dh_sim *s, uint32_t from, uint32_t to, uint8_t *bytes, size_t len)
{
    if (s->qhead + s->qlen == s->qcap) {
        if (s->qhead) {
            memmove(s->q, s->q + s->qhead, s->qlen * sizeof *s->q);
            s->qhead = 0;
        }
        if (s->qlen == s->qcap) {
            s->qcap = s->qcap ? 2 * s->qcap : 256;
            if (!(s->q = realloc(s->q, s->qcap * sizeof *s->q)))
                abort();
        }
    }
    s->q[s->qhead + s->qlen++] = (dh_pkt){ from, to, bytes, len };
}

/* Takes the messages out of o (ownership included). */
static void dh_collect(dh_sim *s, uint32_t from, fkex_gke_out *o)
{
    for (size_t m = 0; m < o->nmsgs; m++) {
        fkex_gke_msg *msg = &o->msgs[m];
        uint32_t to = msg->to == FKEX_GKE_TO_ROOM ? TO_ALL : msg->to;
        s->sent[from] += (double)msg->len;
        s->relay += (double)msg->len * (to == TO_ALL ? s->n - 1 : 1);
        dh_push(s, from, to, msg->bytes, msg->len);
        msg->bytes = NULL;
        msg->len = 0;
    }
    fkex_gke_out_clear(o);
}

static void dh_deliver(dh_sim *s, uint32_t to, const uint8_t *bytes, size_t len)
{
    fkex_gke_out o;
    fkex_err err;
    fkex_gke_out_init(&o);
    double t0 = cpu_now();
    err = s->bd ? fkex_bd_receive(s->st[to], bytes, len, &o)
                : fkex_gdh2_receive(s->st[to], bytes, len, &o);
    s->cpu[to] += cpu_now() - t0;
    if (err != FKEX_OK)
        s->failed = 1;
    dh_collect(s, to, &o);
}

/* A whole run of n members; per-member CPU and bytes in s. */
static int dh_run(dh_sim *s, int bd, uint32_t n, bench_ctx *b)
{
    uint8_t room_id[32], key0[32], key[32];
    memset(s, 0, sizeof *s);
    s->bd = bd;
    s->n = n;
    s->st = calloc(n, sizeof *s->st);
    s->cpu = calloc(n, sizeof *s->cpu);
    s->sent = calloc(n, sizeof *s->sent);
    if (!s->st || !s->cpu || !s->sent)
        abort();
    fkex_rng_fill(&b->rng, room_id, 32);
    for (uint32_t i = 0; i < n && !s->failed; i++) {
        fkex_gke_out o;
        fkex_err err;
        fkex_gke_out_init(&o);
        double t0 = cpu_now();
        if (bd) {
            fkex_bd *st = NULL;
            err = fkex_bd_start(&st, room_id, 1, n, i, &b->rng, &o);
            s->st[i] = st;
        } else {
            fkex_gdh2 *st = NULL;
            err = fkex_gdh2_start(&st, room_id, 1, n, i, &b->rng, &o);
            s->st[i] = st;
        }
        s->cpu[i] += cpu_now() - t0;
        if (err != FKEX_OK)
            s->failed = 1;
        dh_collect(s, i, &o);
    }
    while (s->qlen && !s->failed) {
        dh_pkt p = s->q[s->qhead++];
        s->qlen--;
        if (p.to == TO_ALL) {
            for (uint32_t j = 0; j < n && !s->failed; j++)
                if (j != p.from)
                    dh_deliver(s, j, p.bytes, p.len);
        } else if (p.to < n) {
            dh_deliver(s, p.to, p.bytes, p.len);
        } else {
            s->failed = 1;
        }
        free(p.bytes);
    }
    for (uint32_t i = 0; i < n && !s->failed; i++) {
        int ok = bd ? fkex_bd_key(key, s->st[i]) : fkex_gdh2_key(key, s->st[i]);
        if (ok != 0 || (i && memcmp(key, key0, 32) != 0))
            s->failed = 1;
        if (i == 0)
            memcpy(key0, key, 32);
    }
    return s->failed ? -1 : 0;
}

static void dh_free(dh_sim *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->bd)
            fkex_bd_free(s->st[i]);
        else
            fkex_gdh2_free(s->st[i]);
    }
    for (size_t k = 0; k < s->qlen; k++)
        free(s->q[s->qhead + k].bytes);
    free(s->q);
    free(s->st);
    free(s->cpu);
    free(s->sent);
}

/* A change reruns the protocol: join at n is a run of n + 1 (the joiner is
 * the new last member), leave at n a run of n - 1 (GDH.2's "sponsor" is
 * the last member, which finishes the upflow and broadcasts). */
static int dh_event(sample *s, int bd, int join, size_t n, bench_ctx *b)
{
    dh_sim sim;
    uint32_t m = (uint32_t)(join ? n + 1 : n - 1);
    int *who = malloc(m * sizeof *who);
    int rc;
    if (!who)
        abort();
    pairing_tick(b, 3);
    double t0 = cpu_now();
    rc = dh_run(&sim, bd, m, b);
    s->run_s = (cpu_now() - t0) / 1e3;
    if (rc == 0) {
        double ms = 0, bytes = 0;
        size_t nwho = 0;
        uint32_t last = m - 1;
        int special = join || !bd;   /* the last member has a role of its own */
        for (uint32_t i = 0; i < m; i++) {
            ms += sim.cpu[i];
            bytes += sim.sent[i];
            if (!special || i != last)
                who[nwho++] = (int)i;
        }
        if (join)
            role_one(s, R_JOINER, sim.cpu[last], sim.sent[last]);
        else if (!bd)
            role_one(s, R_SPONSOR, sim.cpu[last], sim.sent[last]);
        role_median(s, R_MEMBER, sim.cpu, sim.sent, who, nwho);
        role_one(s, R_ROOM, ms, bytes);
        s->relay = sim.relay;
    } else {
        fprintf(stderr, "bench gke: a %s run of %u failed\n", bd ? "bd" : "gdh2", m);
    }
    dh_free(&sim);
    free(who);
    return rc;
}

static int run_dh(sample js[], sample ls[], int reps, size_t n, int bd, bench_ctx *b)
{
    for (int i = 0; i < reps; i++) {
        if (dh_event(&js[i], bd, 1, n, b) != 0)
            return -1;
        if (n >= 3 && dh_event(&ls[i], bd, 0, n, b) != 0)
            return -1;
    }
    return 0;
}

/* ---- complexity, for budgets and extrapolation --------------------------------- */

static double members_after(int event, double n)
{
    return event == EV_JOIN ? n + 1 : event == EV_LEAVE ? n - 1 : n;
}

/* f(n) for a role: its cost is modelled as a + b f(n). */
static double complexity(int proto, int event, int role, double n)
{
    double m = members_after(event, n);
    switch (proto) {
    case P_SEED:
        /* Every party decapsulates the whole KeySet: m entries. */
        if (role == R_ROOM)
            return m * m;
        return m;
    case P_GDH2:
        /* M_i does i + 1 exponentiations (and one more for the broadcast
         * unless last); (m^2 + 3m)/2 - 1 in all; the last member m. */
        if (role == R_ROOM)
            return (m * m + 3 * m) / 2 - 1;
        return m;
    case P_BD:
        /* 3 exponentiations each, O(m) messages and additions. */
        return role == R_ROOM ? m * m : m;
    default:
        /* ratchet: joiner, sponsor and members O(1) ABE and public-key
         * work with O(n) roster and tree handling (copies, the joiner's
         * hashes); a path's committer O(log n) seals in a full tree, and
         * O(n) copying, so a line through two sizes overestimates it. */
        return role == R_ROOM ? n : n;
    }
}

/* Bytes sent per role, as a function of n (a + b g(n)). */
static double byte_complexity(int proto, int event, int role, double n)
{
    double m = members_after(event, n);
    switch (proto) {
    case P_SEED:
        return role == R_ROOM ? 1 : 1;          /* one encapsulation */
    case P_GDH2:
        return role == R_ROOM ? m * m : m;
    case P_BD:
        return role == R_ROOM ? m : 1;
    default:
        return n;
    }
}

/* Copies the relay delivers: the ratchet sends each member O(1) (its
 * slice of a commit, a proposal, a JoinAck); the others O(m) to each. */
static double relay_complexity(int proto, int event, double n)
{
    double m = members_after(event, n);
    return is_ratchet(proto) ? n : m * m;
}

/* The measured event's CPU time as run, for the budget: it grows like the
 * room's, except that a sampled seed room runs a fixed number of parties. */
static double run_estimate(int proto, int event, double n_from, double wall_from, double n)
{
    return wall_from * complexity(proto, event, R_ROOM, n) /
           complexity(proto, event, R_ROOM, n_from) *
           (proto == P_SEED && n > SEED_FULL ? 1.0 / n * n_from : 1.0);
}

/* a + b f(n) through the two largest measured points; one point, or a
 * line through the origin's wrong side: proportional to the last point;
 * a falling line (noise): the last point's value. */
static double fit(double f, const double *fx, const double *y, int k)
{
    if (k >= 2 && fx[1] != fx[0]) {
        double slope = (y[1] - y[0]) / (fx[1] - fx[0]);
        double a = y[1] - slope * fx[1];
        if (slope < 0)
            return y[1];
        if (a >= 0)
            return a + slope * f;
    }
    return fx[k - 1] > 0 ? y[k - 1] * f / fx[k - 1] : y[k - 1];
}

static void extrapolate(figures *out, const figures *fig, int nfig, int proto, int event)
{
    const figures *src[2];
    int k = 0;
    for (int i = nfig - 1; i >= 0 && k < 2; i--)
        if (fig[i].ran && fig[i].n < out->n)
            src[k++] = &fig[i];
    if (k == 0)
        return;
    if (k == 2) {   /* smaller first */
        const figures *t = src[0];
        src[0] = src[1];
        src[1] = t;
    }
    out->measured = 1;
    for (int r = 0; r < NROLE; r++) {
        double fx[2], y[2], gx[2], by[2];
        int kk = 0;
        for (int i = 0; i < k; i++)
            if (src[i]->has[r]) {
                fx[kk] = complexity(proto, event, r, (double)src[i]->n);
                y[kk] = src[i]->ms[r];
                gx[kk] = byte_complexity(proto, event, r, (double)src[i]->n);
                by[kk] = src[i]->bytes[r];
                kk++;
            }
        if (!kk)
            continue;
        out->has[r] = 1;
        out->extrapolated[r] = 1;
        out->ms[r] = fit(complexity(proto, event, r, (double)out->n), fx, y, kk);
        out->bytes[r] = round(fit(byte_complexity(proto, event, r, (double)out->n), gx, by, kk));
    }
    {
        double fx[2], y[2];
        for (int i = 0; i < k; i++) {
            fx[i] = relay_complexity(proto, event, (double)src[i]->n);
            y[i] = src[i]->relay;
        }
        out->relay = round(fit(relay_complexity(proto, event, (double)out->n), fx, y, k));
        out->relay_extrapolated = 1;
    }
}

/* Medians over the repetitions. */
static void summarize(figures *f, const sample *s, int reps)
{
    double v[MAXREPS];
    for (int r = 0; r < NROLE; r++) {
        int k = 0;
        for (int i = 0; i < reps; i++)
            if (s[i].has[r])
                v[k++] = s[i].ms[r];
        if (!k)
            continue;
        f->has[r] = 1;
        f->ms[r] = median_of(v, (size_t)k);
        k = 0;
        for (int i = 0; i < reps; i++)
            if (s[i].has[r])
                v[k++] = s[i].bytes[r];
        f->bytes[r] = median_of(v, (size_t)k);
    }
    for (int i = 0; i < reps; i++)
        v[i] = s[i].relay;
    f->relay = median_of(v, (size_t)reps);
    for (int i = 0; i < reps; i++)
        v[i] = s[i].run_s;
    f->run_s = median_of(v, (size_t)reps);
    f->measured = f->ran = f->has[R_ROOM];
}

static int reps_for(int proto, size_t n)
{
    if (proto == P_SEED)
        return n <= 3 ? 5 : n <= SEED_FULL ? 3 : 1;
    if (is_ratchet(proto))
        return n <= 10 ? 7 : 5;   /* a repetition at 1000 takes about a second */
    return n <= 10 ? 7 : n <= 100 ? 3 : 1;
}

/* Seed mode's samples at n = 1000 are kept, but its room is an estimate:
 * a room above SEED_FULL is marked extrapolated. */
static void seed_marks(figures *f)
{
    if (f->n > SEED_FULL)
        f->extrapolated[R_ROOM] = 1;
}

/* ---- output ---------------------------------------------------------------------- */

/* Role r's figure in pairing-equivalents: divided by its own process's
 * pairing when it ran, by the whole run's when extrapolated. */
static double pe_of(const figures *f, int r, double pairing_ms)
{
    return f->ms[r] / (f->pairing_ms > 0 ? f->pairing_ms : pairing_ms);
}

static void print_json(figures fig[NPROTO][NEVENT][64], size_t nsizes, double pairing_ms)
{
    int first = 1;
    printf("{\"pairing_ms\": %.4f, \"policy\": \"%s\", \"results\": [", pairing_ms, POLICY);
    for (int p = 0; p < NPROTO; p++)
        for (int e = 0; e < NEVENT; e++)
            for (size_t i = 0; i < nsizes; i++) {
                const figures *f = &fig[p][e][i];
                if (!f->measured)
                    continue;
                for (int r = 0; r < NROLE; r++) {
                    if (!f->has[r])
                        continue;
                    printf("%s\n  {\"protocol\": \"%s\", \"event\": \"%s\", \"n\": %zu, "
                           "\"role\": \"%s\", \"median_ms\": %.4f, \"pe\": %.4f, "
                           "\"bytes\": %.0f, \"extrapolated\": %s",
                           first ? "" : ",", proto_name[p], event_name[e], f->n, role_name[r],
                           f->ms[r], pe_of(f, r, pairing_ms), f->bytes[r],
                           f->extrapolated[r] ? "true" : "false");
                    if (r == R_ROOM)
                        printf(", \"relay_bytes\": %.0f", f->relay);
                    printf("}");
                    first = 0;
                }
            }
    printf("\n]}\n");
}

static void print_table(figures fig[NPROTO][NEVENT][64], size_t nsizes, double pairing_ms,
                        size_t npairing)
{
    printf("one pairing: %.3f ms (thread CPU time, median of %zu timed through this run)\n"
           "room policy: %s\n"
           "pe = ms / one pairing timed alongside, in the process that ran that\n"
           "protocol at that size (the whole run's if extrapolated); * = extrapolated\n"
           "(seed rooms above %d members: one member timed, the room is n times it)\n\n",
           pairing_ms, npairing, POLICY, SEED_FULL);
    printf("%-11s %-6s %6s %-8s %13s %11s %11s %12s\n", "protocol", "event", "n", "role",
           "median ms", "pe", "bytes", "relay B");
    for (int p = 0; p < NPROTO; p++)
        for (int e = 0; e < NEVENT; e++)
            for (size_t i = 0; i < nsizes; i++) {
                const figures *f = &fig[p][e][i];
                if (!f->measured)
                    continue;
                for (int r = 0; r < NROLE; r++) {
                    char relay[32] = "";
                    if (!f->has[r])
                        continue;
                    if (r == R_ROOM)
                        snprintf(relay, sizeof relay, "%.0f%s", f->relay,
                                 f->relay_extrapolated ? "*" : "");
                    printf("%-11s %-6s %6zu %-8s %12.3f%s %10.2f%s %10.0f%s %12s\n", proto_name[p],
                           event_name[e], f->n, role_name[r], f->ms[r],
                           f->extrapolated[r] ? "*" : " ", pe_of(f, r, pairing_ms),
                           f->extrapolated[r] ? "*" : " ", f->bytes[r],
                           f->extrapolated[r] && !f->ran ? "*" : " ", relay);
                }
            }
    printf("\nratchet: under a FAME authority; ratchet-w11: under a Waters 2011 one.\n"
           "join at n: a room of n admits one; leave at n: one of n leaves; update at n:\n"
           "one of n commits an Update (the ratchet, its tree filled by Updates first).\n"
           "gdh2 and bd rerun with n+1 or n-1 members. sponsor: the ratchet's sponsor\n"
           "(join) or committer (leave, update); seed's re-encapsulating member\n"
           "(leave); gdh2's last member (leave). member: the median of the others.\n"
           "room: every party's total; relay B: every copy the relay delivered.\n");
}

/* ---- the plot ---------------------------------------------------------------------- */

static int plot_svg(const char *path, figures fig[NPROTO][NEVENT][64], size_t nsizes,
                    double pairing_ms)
{
    static const char *const color[NPROTO] = { "#1b9e77", "#66a61e", "#d95f02", "#7570b3",
                                                "#e7298a" };
    static const int dash[NROLE] = { 1, 2, 3, 4 };
    static const int point[NROLE] = { 7, 5, 9, 13 };
    FILE *g = popen("gnuplot", "w");
    if (!g)
        return -1;
    fprintf(g, "set terminal svg size 1500,560 dynamic font 'sans,11' background '#ffffff'\n"
               "set output '%s'\n"
               "set logscale xy\nset grid xtics ytics mxtics mytics lc '#dddddd'\n"
               "set xlabel 'members n'\nset ylabel 'CPU, pairing-equivalents'\n"
               "set format y '10^{%%L}'\nset key outside right top font 'sans,9'\n",
               path);
    /* One data block per (protocol, event, role): n, pe, extrapolated. */
    for (int p = 0; p < NPROTO; p++)
        for (int e = 0; e < NEVENT; e++)
            for (int r = 0; r < NROLE; r++) {
                fprintf(g, "$d_%d_%d_%d << EOD\n", p, e, r);
                for (size_t i = 0; i < nsizes; i++) {
                    const figures *f = &fig[p][e][i];
                    if (f->measured && f->has[r] && f->ms[r] > 0)
                        fprintf(g, "%zu %.6g %d\n", f->n, pe_of(f, r, pairing_ms),
                                f->extrapolated[r]);
                }
                fprintf(g, "EOD\n");
            }
    fprintf(g, "set multiplot layout 1,3 title 'fkex bench gke: CPU per membership change "
               "(policy %s; open circles: extrapolated)'\n", POLICY);
    for (int e = 0; e < NEVENT; e++) {
        int first = 1;
        fprintf(g, "set title '%s'\nplot ", event_name[e]);
        for (int p = 0; p < NPROTO; p++)
            for (int r = 0; r < NROLE; r++) {
                int any = 0;
                for (size_t i = 0; i < nsizes; i++)
                    any |= fig[p][e][i].measured && fig[p][e][i].has[r];
                if (!any)
                    continue;
                fprintf(g, "%s$d_%d_%d_%d using 1:2 with linespoints lc rgb '%s' dt %d pt %d "
                           "ps 0.7 lw 1.5 title '%s %s'",
                        first ? "" : ", ", p, e, r, color[p], dash[r], point[r], proto_name[p],
                        role_name[r]);
                fprintf(g, ", $d_%d_%d_%d using 1:($3 > 0 ? $2 : 1/0) with points pt 6 ps 1.6 "
                           "lc rgb '#000000' notitle", p, e, r);
                first = 0;
            }
        fprintf(g, "\n");
    }
    fprintf(g, "unset multiplot\n");
    return pclose(g) == 0 ? 0 : -1;
}

/* ---- one size, in a process of its own ------------------------------------------------ */

static int run_here(int p, sample s[NEVENT][MAXREPS], int reps, size_t n, bench_ctx *b)
{
    b->key = b->keys[p == P_RATCHET_W];
    return is_ratchet(p) ? run_ratchet(s, reps, n, b)
         : p == P_SEED    ? run_seed(s[EV_JOIN], s[EV_LEAVE], reps, n, b)
                          : run_dh(s[EV_JOIN], s[EV_LEAVE], reps, n, p == P_BD, b);
}

/* Runs protocol p at size n in a child process, which sends back its
 * samples and the pairings it timed. The in-process rooms put up to a
 * thousand parties on one heap, and the heap that smaller sizes left
 * behind (freed, fragmented) slowed the next size's every allocation:
 * the ratchet's joiner at 1000 measured 14.4 pe after the rooms of 2, 10
 * and 100, and 9.7 pe alone. In a fresh process each size starts from the
 * same heap, whatever ran before. */
static int run_apart(int p, sample s[NEVENT][MAXREPS], int reps, size_t n, bench_ctx *b,
                     double *pairing_ms)
{
    int fd[2], status;
    size_t before = b->npairing, k = 0;
    FILE *f;
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        int ok = run_here(p, s, reps, n, b) == 0 && (f = fdopen(fd[1], "wb")) != NULL;
        k = b->npairing - before;
        for (int e = 0; ok && e < NEVENT; e++)
            ok = fwrite(s[e], sizeof s[e][0], (size_t)reps, f) == (size_t)reps;
        ok = ok && fwrite(&k, sizeof k, 1, f) == 1 &&
             fwrite(b->pairing + before, sizeof *b->pairing, k, f) == k && fclose(f) == 0;
        fflush(NULL);
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    if (!(f = fdopen(fd[0], "rb"))) {
        close(fd[0]);
        waitpid(pid, &status, 0);
        return -1;
    }
    int ok = 1;
    for (int e = 0; ok && e < NEVENT; e++)
        ok = fread(s[e], sizeof s[e][0], (size_t)reps, f) == (size_t)reps;
    ok = ok && fread(&k, sizeof k, 1, f) == 1 && k <= 1000000;
    for (size_t i = 0; ok && i < k; i++) {
        double ms;
        if ((ok = fread(&ms, sizeof ms, 1, f) == 1))
            pairing_add(b, ms);
    }
    fclose(f);
    *pairing_ms = ok && k ? median_of(b->pairing + before, k) : 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- the benchmark ---------------------------------------------------------------- */

int bench_gke(const size_t *sizes, size_t nsizes, int json, const char *plot, int verbose)
{
    static figures fig[NPROTO][NEVENT][64];
    bench_ctx b = { 0 };
    const char *ones[] = { "ONE", "TWO" }, *threes[] = { "THREE", "FOUR" };
    fkex_policy_error perr;
    sample (*s)[MAXREPS] = calloc(NEVENT, sizeof *s);
    int rc = 2;

    if (nsizes > 64 || !s)
        return 2;
    memset(fig, 0, sizeof fig);
    b.verbose = verbose;
    fkex_rng_init_system(&b.rng);
    for (int k = 0; k < 2; k++)
        if (fkex_abe_setup(&b.mpk[k], &b.msk[k], k ? "waters11" : "fame", &b.rng) != FKEX_OK ||
            fkex_abe_keygen(&b.keys[k][0], b.msk[k], ones, 2, &b.rng) != FKEX_OK ||
            fkex_abe_keygen(&b.keys[k][1], b.msk[k], threes, 2, &b.rng) != FKEX_OK) {
            fprintf(stderr, "bench gke: setting up the authorities failed\n");
            goto done;
        }
    if (fkex_policy_parse(&b.policy, POLICY, strlen(POLICY), &perr) != FKEX_OK)
        goto done;
    pairing_tick(&b, 5);

    for (int p = 0; p < NPROTO; p++) {
        for (size_t i = 0; i < nsizes; i++) {
            size_t n = sizes[i];
            int reps = reps_for(p, n), over = 0;
            double worst = 0;
            /* The budget: estimate this size's measured event from the
             * largest size measured so far. */
            for (int e = 0; e < NEVENT; e++)
                for (int k = (int)i - 1; k >= 0; k--)
                    if (fig[p][e][k].ran) {
                        double est = run_estimate(p, e, (double)fig[p][e][k].n,
                                                   fig[p][e][k].run_s, (double)n);
                        worst = est > worst ? est : worst;
                        break;
                    }
            if (is_ratchet(p) && (size_t)ROOM_MAX_PARTIES < n + 2 * (size_t)reps + 1)
                over = 1;   /* the in-process room cannot hold it */
            if (worst > BUDGET_S && !is_ratchet(p))
                over = 1;
            while (reps > 1 && worst * reps > BUDGET_S)
                reps--;
            for (int e = 0; e < NEVENT; e++)
                fig[p][e][i].n = n;
            if (over) {
                say(&b, "%s at %zu: over budget (about %.0f s), extrapolated", proto_name[p], n,
                    worst);
                for (int e = 0; e < NEVENT; e++)
                    extrapolate(&fig[p][e][i], fig[p][e], (int)i, p, e);
                continue;
            }
            say(&b, "%s at %zu: %d repetition%s", proto_name[p], n, reps, reps > 1 ? "s" : "");
            memset(s, 0, NEVENT * sizeof *s);
            double pairing_ms;
            int err = run_apart(p, s, reps, n, &b, &pairing_ms);
            if (err != 0)
                goto done;
            for (int e = 0; e < NEVENT; e++) {
                summarize(&fig[p][e][i], s[e], reps);
                fig[p][e][i].pairing_ms = pairing_ms;
                if (p == P_SEED)
                    seed_marks(&fig[p][e][i]);
            }
            say(&b, "%s at %zu: join %.1f s, leave %.1f s per event", proto_name[p], n,
                fig[p][EV_JOIN][i].run_s, fig[p][EV_LEAVE][i].run_s);
        }
    }

    double pairing_ms = median_of(b.pairing, b.npairing);
    if (json)
        print_json(fig, nsizes, pairing_ms);
    else
        print_table(fig, nsizes, pairing_ms, b.npairing);
    fflush(stdout);
    rc = 0;
    if (plot && plot_svg(plot, fig, nsizes, pairing_ms) != 0) {
        fprintf(stderr, "bench gke: gnuplot could not draw %s\n", plot);
        rc = 2;
    }
done:
    free(s);
    free(b.pairing);
    fkex_policy_free(b.policy);
    for (int k = 0; k < 2; k++) {
        fkex_key_free(b.keys[k][0]);
        fkex_key_free(b.keys[k][1]);
        fkex_mpk_free(b.mpk[k]);
        fkex_msk_free(b.msk[k]);
    }
    return rc;
}
