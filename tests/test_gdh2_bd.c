/*
 * The group Diffie-Hellman baselines (src/gke/gdh2.c, bd.c) and their
 * messages (src/wire/dh_msg.c): whole rooms simulated in one process for
 * n = 2, 3, 5, 17, exponentiation counts against the papers' formulas, the
 * key against g^{r_1...r_n} (GDH.2) and g^{sum r_i r_{i+1}} (BD) computed
 * from the exponents directly (a deterministic rng reproduces them, see
 * gke/dh.h), and every refusal, each leaving state and output unchanged.
 */
#include <stdlib.h>
#include "test.h"

#define MAXN 17

/* ---- one interface over both protocols, for the room simulator ----------- */
typedef struct {
    const char *label;   /* the KDF label */
    fkex_err (*start)(void **st, const uint8_t room_id[32], uint64_t epoch, uint32_t n,
                      uint32_t index, fkex_rng *rng, fkex_gke_out *out);
    fkex_err (*receive)(void *st, const uint8_t *msg, size_t len, fkex_gke_out *out);
    int (*key)(uint8_t key[32], const void *st);
    uint64_t (*exps)(const void *st);
    void (*free)(void *st);
} proto;

static fkex_err gdh2_start(void **st, const uint8_t room_id[32], uint64_t epoch, uint32_t n,
                           uint32_t index, fkex_rng *rng, fkex_gke_out *out)
{
    fkex_gdh2 *s;
    fkex_err err = fkex_gdh2_start(&s, room_id, epoch, n, index, rng, out);
    *st = s;
    return err;
}
static fkex_err gdh2_receive(void *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    return fkex_gdh2_receive(st, msg, len, out);
}
static int gdh2_key(uint8_t key[32], const void *st) { return fkex_gdh2_key(key, st); }
static uint64_t gdh2_exps(const void *st) { return fkex_gdh2_exponentiations(st); }
static void gdh2_free(void *st) { fkex_gdh2_free(st); }

static fkex_err bd_start(void **st, const uint8_t room_id[32], uint64_t epoch, uint32_t n,
                         uint32_t index, fkex_rng *rng, fkex_gke_out *out)
{
    fkex_bd *s;
    fkex_err err = fkex_bd_start(&s, room_id, epoch, n, index, rng, out);
    *st = s;
    return err;
}
static fkex_err bd_receive(void *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    return fkex_bd_receive(st, msg, len, out);
}
static int bd_key(uint8_t key[32], const void *st) { return fkex_bd_key(key, st); }
static uint64_t bd_exps(const void *st) { return fkex_bd_exponentiations(st); }
static void bd_free(void *st) { fkex_bd_free(st); }

static const proto GDH2 = { "gdh2 key", gdh2_start, gdh2_receive, gdh2_key, gdh2_exps, gdh2_free };
static const proto BD = { "bd key", bd_start, bd_receive, bd_key, bd_exps, bd_free };

/* ---- the room: members and a network of per-recipient packets ------------ */
typedef struct {
    uint32_t from, to;
    uint8_t *bytes;
    size_t len;
} sim_packet;

typedef struct {
    const proto *p;
    uint32_t n;
    uint8_t room_id[32];
    uint64_t epoch;
    const char *label;
    void *st[MAXN];
    unsigned epochs[MAXN];   /* FKEX_GKE_EV_EPOCH events seen per member */
    sim_packet *q;
    size_t nq, capq;
} sim;

static void sim_push(sim *rm, uint32_t from, uint32_t to, const uint8_t *b, size_t len)
{
    if (rm->nq == rm->capq) {
        rm->capq = rm->capq ? 2 * rm->capq : 64;
        rm->q = realloc(rm->q, rm->capq * sizeof *rm->q);
        if (!rm->q)
            abort();
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        abort();
    memcpy(copy, b, len);
    rm->q[rm->nq++] = (sim_packet){ from, to, copy, len };
}

/* Moves what member `from` emitted into the network; checks its events. */
static void sim_collect(sim *rm, uint32_t from, fkex_gke_out *out)
{
    for (size_t m = 0; m < out->nmsgs; m++) {
        const fkex_gke_msg *msg = &out->msgs[m];
        if (msg->to == FKEX_GKE_TO_ROOM) {
            for (uint32_t i = 0; i < rm->n; i++)
                if (i != from)
                    sim_push(rm, from, i, msg->bytes, msg->len);
        } else {
            CHECK(msg->to < rm->n);
            sim_push(rm, from, msg->to, msg->bytes, msg->len);
        }
    }
    for (size_t e = 0; e < out->nevents; e++) {
        const fkex_gke_event *ev = &out->events[e];
        CHECK(ev->kind == FKEX_GKE_EV_EPOCH && ev->err == FKEX_OK);
        CHECK(ev->epoch == rm->epoch && ev->members == rm->n && ev->member == from);
        rm->epochs[from]++;
    }
    fkex_gke_out_clear(out);
}

static void member_rng(fkex_rng *rng, const char *label, uint32_t i)
{
    char name[96];
    snprintf(name, sizeof name, "dh %s member %u", label, (unsigned)i);
    test_rng(rng, name);
}

/* r_i exactly as start draws it (gke/dh.h): 64 bytes mod the order. */
static void member_exponent(uint8_t r[32], const char *label, uint32_t i)
{
    fkex_rng rng;
    uint8_t wide[64];
    member_rng(&rng, label, i);
    fkex_rng_fill(&rng, wide, sizeof wide);
    crypto_core_ristretto255_scalar_reduce(r, wide);
    CHECK(!sodium_is_zero(r, 32));
}

static void sim_start(sim *rm, const proto *p, uint32_t n, uint64_t epoch, const char *label)
{
    fkex_gke_out out;
    memset(rm, 0, sizeof *rm);
    rm->p = p;
    rm->n = n;
    rm->epoch = epoch;
    rm->label = label;
    memset(rm->room_id, 0xa5, 32);
    fkex_gke_out_init(&out);
    for (uint32_t i = 0; i < n; i++) {
        fkex_rng rng;
        member_rng(&rng, label, i);
        CHECK_OK(p->start(&rm->st[i], rm->room_id, epoch, n, i, &rng, &out));
        sim_collect(rm, i, &out);
    }
}

/* Takes sim_packet k out of the network and hands it to its recipient. */
static fkex_err sim_deliver(sim *rm, size_t k)
{
    fkex_gke_out out;
    sim_packet pk = rm->q[k];
    memmove(rm->q + k, rm->q + k + 1, (rm->nq - k - 1) * sizeof *rm->q);
    rm->nq--;
    fkex_gke_out_init(&out);
    fkex_err err = rm->p->receive(rm->st[pk.to], pk.bytes, pk.len, &out);
    sim_collect(rm, pk.to, &out);
    free(pk.bytes);
    return err;
}

/* Delivers everything, in order or (shuffle != 0) in an order drawn from
 * a deterministic generator; every sim_packet must be accepted. */
static void sim_run(sim *rm, uint32_t shuffle)
{
    uint32_t x = shuffle;
    while (rm->nq > 0) {
        size_t k = 0;
        if (shuffle) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            k = x % rm->nq;
        }
        CHECK_OK(sim_deliver(rm, k));
    }
}

/* Every member done, one epoch event each, one key; returns it. */
static void sim_key(uint8_t key[32], const sim *rm)
{
    memset(key, 0, 32);
    for (uint32_t i = 0; i < rm->n; i++) {
        uint8_t k[32];
        CHECK(rm->epochs[i] == 1);
        CHECK(rm->p->key(k, rm->st[i]) == 0);
        if (i == 0)
            memcpy(key, k, 32);
        CHECK(memcmp(k, key, 32) == 0);
    }
}

static void sim_free(sim *rm)
{
    for (uint32_t i = 0; i < rm->n; i++)
        rm->p->free(rm->st[i]);
    for (size_t k = 0; k < rm->nq; k++)
        free(rm->q[k].bytes);
    free(rm->q);
}

static uint64_t sim_exps(const sim *rm)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < rm->n; i++)
        total += rm->p->exps(rm->st[i]);
    return total;
}

/* The key a member must derive from the group element k (gke/dh.h). */
static void expected_key(uint8_t key[32], const uint8_t k[32], const sim *rm)
{
    uint8_t prk[32], context[40];
    memcpy(context, rm->room_id, 32);
    store64_be(context + 32, rm->epoch);
    fkex_hkdf_extract(prk, NULL, 0, k, 32);
    fkex_kdf_expand(key, prk, rm->p->label, context, sizeof context);
}

/* GDH.2: K = g^{r_0 r_1 ... r_{n-1}}. */
static void gdh2_direct(uint8_t key[32], const sim *rm)
{
    uint8_t prod[32] = { 1 }, r[32], k[32];
    for (uint32_t i = 0; i < rm->n; i++) {
        member_exponent(r, rm->label, i);
        crypto_core_ristretto255_scalar_mul(prod, prod, r);
    }
    CHECK(crypto_scalarmult_ristretto255_base(k, prod) == 0);
    expected_key(key, k, rm);
}

/* BD: K = g^{sum_i r_i r_{i+1}}, indices mod n. */
static void bd_direct(uint8_t key[32], const sim *rm)
{
    uint8_t sum[32] = { 0 }, r[MAXN][32], t[32], k[32];
    for (uint32_t i = 0; i < rm->n; i++)
        member_exponent(r[i], rm->label, i);
    for (uint32_t i = 0; i < rm->n; i++) {
        crypto_core_ristretto255_scalar_mul(t, r[i], r[(i + 1) % rm->n]);
        crypto_core_ristretto255_scalar_add(sum, sum, t);
    }
    CHECK(crypto_scalarmult_ristretto255_base(k, sum) == 0);
    expected_key(key, k, rm);
}

static const uint32_t sizes[] = { 2, 3, 5, 17 };

/* ---- agreement and costs ----------------------------------------------- */

static void test_gdh2_agree(void)
{
    for (size_t s = 0; s < FKEX_ARRAY_LEN(sizes); s++) {
        const uint32_t n = sizes[s];
        sim rm;
        uint8_t key[32], direct[32];
        sim_start(&rm, &GDH2, n, 7, "gdh2 agree");
        CHECK(rm.nq == 1 && rm.q[0].from == 0 && rm.q[0].to == 1);
        sim_run(&rm, 0);
        sim_key(key, &rm);
        gdh2_direct(direct, &rm);
        CHECK(memcmp(key, direct, 32) == 0);
        CHECK(sim_exps(&rm) == ((uint64_t)n * n + 3 * n) / 2 - 1);
        CHECK(rm.p->exps(rm.st[n - 1]) == n);            /* M_n does n */
        CHECK(rm.p->exps(rm.st[0]) == 2);
        for (uint32_t i = 1; i + 1 < n; i++)
            CHECK(rm.p->exps(rm.st[i]) == i + 2);        /* M_{i+1}: i+1, plus the key */
        sim_free(&rm);
    }
}

static void test_gdh2_first_upflow(void)
{
    /* M_1 sends {g, g^{r_1}}: element 0 is the generator. */
    sim rm;
    fkex_dh_msg m;
    uint8_t one[32] = { 1 }, g[32], r[32], gr[32];
    sim_start(&rm, &GDH2, 3, 1, "gdh2 first");
    CHECK_OK(fkex_dh_msg_decode(&m, rm.q[0].bytes, rm.q[0].len));
    CHECK(m.type == FKEX_DH_GDH2_UP && m.sender == 0 && m.count == 2 && m.epoch == 1);
    CHECK(crypto_scalarmult_ristretto255_base(g, one) == 0);
    member_exponent(r, "gdh2 first", 0);
    CHECK(crypto_scalarmult_ristretto255_base(gr, r) == 0);
    CHECK(memcmp(m.elems, g, 32) == 0 && memcmp(m.elems + 32, gr, 32) == 0);
    sim_free(&rm);
}

static void test_bd_agree(void)
{
    for (size_t s = 0; s < FKEX_ARRAY_LEN(sizes); s++) {
        const uint32_t n = sizes[s];
        sim rm, shuffled;
        uint8_t key[32], key2[32], direct[32];
        sim_start(&rm, &BD, n, 3, "bd agree");
        CHECK(rm.nq == (size_t)n * (n - 1));   /* every z_i to every other member */
        sim_run(&rm, 0);
        sim_key(key, &rm);
        bd_direct(direct, &rm);
        CHECK(memcmp(key, direct, 32) == 0);
        for (uint32_t i = 0; i < n; i++)
            CHECK(rm.p->exps(rm.st[i]) == (n == 2 ? 2 : 3));
        /* Same exponents, any delivery order (X_j before z_j, ...): same key. */
        sim_start(&shuffled, &BD, n, 3, "bd agree");
        sim_run(&shuffled, 0x9e3779b9u + n);
        sim_key(key2, &shuffled);
        CHECK(memcmp(key, key2, 32) == 0);
        sim_free(&rm);
        sim_free(&shuffled);
    }
}

/* ---- refusals ------------------------------------------------------------ */

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
    uint8_t *q = malloc(len + 1);
    if (!q)
        abort();
    memcpy(q, p, len);
    return q;
}

/* Re-encodes a message with one header field changed: 0 room, 1 epoch,
 * 2 sender (the elements are then the first one repeated, as many as the
 * new sender's message carries). */
static uint8_t *reencode(size_t *len, const uint8_t *p, size_t plen, int field, uint64_t v)
{
    fkex_dh_msg m;
    uint8_t *out = NULL, *elems = NULL;
    CHECK_OK(fkex_dh_msg_decode(&m, p, plen));
    if (field == 0) {
        m.room_id[0] ^= (uint8_t)v;
    } else if (field == 1) {
        m.epoch = v;
    } else {
        m.sender = (uint32_t)v;
        m.count = fkex_dh_msg_expected_count(m.type, m.sender);
        elems = malloc((size_t)m.count * 32);
        if (!elems)
            abort();
        for (uint32_t i = 0; i < m.count; i++)
            memcpy(elems + (size_t)i * 32, m.elems, 32);
        m.elems = elems;
    }
    CHECK_OK(fkex_dh_msg_encode(&out, len, &m));
    free(elems);
    return out;
}

/* Offset of element e in an encoded message. */
#define ELEM(e) (FKEX_DH_MSG_HEADER + 32 * (e))

/* A canonical, even field element that is no ristretto255 point. */
static void non_point(uint8_t p[32])
{
    memset(p, 0, 32);
    for (uint8_t s = 2;; s += 2) {
        p[0] = s;
        if (crypto_core_ristretto255_is_valid_point(p) != 1)
            return;
    }
}

/* Every way a received copy of msg must be refused by st, and each refusal
 * leaves out and the exponentiation count as they were. Element `e` of the
 * message is the one tampered with. */
static void refuse_bad_bytes(const proto *p, void *st, const uint8_t *msg, size_t len, size_t e)
{
    fkex_gke_out out;
    uint8_t *b = dup_bytes(msg, len), *w;
    size_t wlen;
    const uint64_t exps = p->exps(st);
    fkex_dh_msg m;
    CHECK_OK(fkex_dh_msg_decode(&m, msg, len));

    fkex_gke_out_init(&out);
    CHECK_OK(fkex_gke_out_event(&out, FKEX_GKE_EV_MESSAGE, FKEX_OK, 0, 0, 0, NULL, 0));

    b[ELEM(e) + 31] |= 0x80;     /* the top bit: libsodium alone would accept it */
    CHECK_ERR(p->receive(st, b, len, &out), FKEX_ERR_BAD_ENCODING);
    memcpy(b, msg, len);
    b[ELEM(e)] ^= 1;             /* a negative s */
    CHECK_ERR(p->receive(st, b, len, &out), FKEX_ERR_BAD_ENCODING);
    memcpy(b, msg, len);
    memset(b + ELEM(e), 0xff, 32);
    b[ELEM(e)] = 0xee;           /* p + 1: even, but not reduced */
    b[ELEM(e) + 31] = 0x7f;
    CHECK_ERR(p->receive(st, b, len, &out), FKEX_ERR_BAD_ENCODING);
    memcpy(b, msg, len);
    non_point(b + ELEM(e));
    CHECK_ERR(p->receive(st, b, len, &out), FKEX_ERR_NOT_IN_GROUP);
    memcpy(b, msg, len);
    memset(b + ELEM(e), 0, 32);  /* the identity */
    CHECK_ERR(p->receive(st, b, len, &out), FKEX_ERR_NOT_IN_GROUP);

    memcpy(b, msg, len);
    CHECK_ERR(p->receive(st, b, len - 1, &out), FKEX_ERR_TRUNCATED);
    CHECK_ERR(p->receive(st, b, FKEX_DH_MSG_HEADER, &out), FKEX_ERR_TRUNCATED);
    b[len] = 0;
    CHECK_ERR(p->receive(st, b, len + 1, &out), FKEX_ERR_BAD_ENCODING);
    b[1] = 2;
    CHECK_ERR(p->receive(st, b, len, &out), FKEX_ERR_UNSUPPORTED);

    w = reencode(&wlen, msg, len, 0, 1);
    CHECK_ERR(p->receive(st, w, wlen, &out), FKEX_ERR_WRONG_ROOM);
    free(w);
    w = reencode(&wlen, msg, len, 1, m.epoch + 1);
    CHECK_ERR(p->receive(st, w, wlen, &out), FKEX_ERR_WRONG_EPOCH);
    free(w);
    w = reencode(&wlen, msg, len, 1, m.epoch - 1);
    CHECK_ERR(p->receive(st, w, wlen, &out), FKEX_ERR_WRONG_EPOCH);
    free(w);

    CHECK(out.nmsgs == 0 && out.nevents == 1 && out.events[0].kind == FKEX_GKE_EV_MESSAGE);
    CHECK(p->exps(st) == exps);
    fkex_gke_out_clear(&out);
    free(b);
}

/* Hands msg to st expecting err, with out and the count left alone. */
#define refuse(p, st, msg, len, err) refuse_at(p, st, msg, len, err, __LINE__)
static void refuse_at(const proto *p, void *st, const uint8_t *msg, size_t len, fkex_err err,
                      int line)
{
    fkex_gke_out out;
    const uint64_t exps = p->exps(st);
    uint8_t key[32];
    const int done = p->key(key, st) == 0;
    fkex_gke_out_init(&out);
    fkex_err got = p->receive(st, msg, len, &out);
    if (got != err)
        fprintf(stderr, "    line %d: got \"%s\", want \"%s\"\n", line, fkex_strerror(got),
                fkex_strerror(err));
    CHECK(got == err);
    CHECK(out.nmsgs == 0 && out.nevents == 0);
    CHECK(p->exps(st) == exps);
    CHECK((p->key(key, st) == 0) == done);
    fkex_gke_out_clear(&out);
}

/* The first sim_packet in the network from `from` to `to`. */
static size_t sim_find(const sim *rm, uint32_t from, uint32_t to)
{
    for (size_t k = 0; k < rm->nq; k++)
        if (rm->q[k].from == from && rm->q[k].to == to)
            return k;
    CHECK(0);
    return 0;
}

static void test_gdh2_refusals(void)
{
    sim rm, early;
    uint8_t *up1, *up2, *down, *w, key[32], direct[32];
    size_t up1len, up2len, downlen, wlen;

    sim_start(&rm, &GDH2, 3, 9, "gdh2 refusals");
    up1 = dup_bytes(rm.q[0].bytes, up1len = rm.q[0].len);

    refuse_bad_bytes(&GDH2, rm.st[1], up1, up1len, 0);
    refuse_bad_bytes(&GDH2, rm.st[1], up1, up1len, 1);
    refuse(&GDH2, rm.st[0], up1, up1len, FKEX_ERR_REPLAY);       /* its own, echoed */
    refuse(&GDH2, rm.st[2], up1, up1len, FKEX_ERR_UNEXPECTED);   /* not its predecessor */
    w = reencode(&wlen, up1, up1len, 2, 7);                      /* sender 7 of 3 */
    refuse(&GDH2, rm.st[1], w, wlen, FKEX_ERR_UNEXPECTED);
    free(w);
    /* A valid broadcast for this room and epoch, from a twin run, arriving
     * before the upflow: out of turn. */
    sim_start(&early, &GDH2, 3, 9, "gdh2 refusals twin");
    CHECK_OK(sim_deliver(&early, 0));
    CHECK_OK(sim_deliver(&early, 0));   /* M_3 broadcasts to M_1 and M_2 */
    down = dup_bytes(early.q[0].bytes, downlen = early.q[0].len);
    sim_free(&early);
    refuse(&GDH2, rm.st[1], down, downlen, FKEX_ERR_UNEXPECTED);
    refuse(&GDH2, rm.st[2], down, downlen, FKEX_ERR_UNEXPECTED); /* M_n, before sending it */

    CHECK_OK(sim_deliver(&rm, 0));                               /* up1 -> M_2 */
    refuse(&GDH2, rm.st[1], up1, up1len, FKEX_ERR_REPLAY);
    up2 = dup_bytes(rm.q[0].bytes, up2len = rm.q[0].len);
    refuse(&GDH2, rm.st[1], up2, up2len, FKEX_ERR_REPLAY);       /* its own */
    refuse(&GDH2, rm.st[0], up2, up2len, FKEX_ERR_UNEXPECTED);
    refuse_bad_bytes(&GDH2, rm.st[2], up2, up2len, 2);
    CHECK_OK(sim_deliver(&rm, 0));                               /* up2 -> M_3 */
    refuse(&GDH2, rm.st[2], up2, up2len, FKEX_ERR_REPLAY);
    free(down);
    down = dup_bytes(rm.q[0].bytes, downlen = rm.q[0].len);
    refuse(&GDH2, rm.st[2], down, downlen, FKEX_ERR_REPLAY);     /* its own */
    refuse_bad_bytes(&GDH2, rm.st[0], down, downlen, 0);
    sim_run(&rm, 0);
    refuse(&GDH2, rm.st[0], down, downlen, FKEX_ERR_REPLAY);
    refuse(&GDH2, rm.st[1], down, downlen, FKEX_ERR_REPLAY);

    /* A BD message is the wrong kind. */
    {
        sim bd;
        sim_start(&bd, &BD, 3, 9, "gdh2 refusals");
        refuse(&GDH2, rm.st[0], bd.q[0].bytes, bd.q[0].len, FKEX_ERR_WRONG_KIND);
        refuse(&BD, bd.st[1], up1, up1len, FKEX_ERR_WRONG_KIND);
        sim_free(&bd);
    }

    sim_key(key, &rm);
    gdh2_direct(direct, &rm);
    CHECK(memcmp(key, direct, 32) == 0);
    CHECK(sim_exps(&rm) == (9 + 9) / 2 - 1);
    free(up1);
    free(up2);
    free(down);
    sim_free(&rm);
}

static void test_bd_refusals(void)
{
    sim rm;
    uint8_t *z[4], *w, key[32], direct[32];
    size_t zlen[4], wlen;

    sim_start(&rm, &BD, 4, 5, "bd refusals");
    for (uint32_t i = 0; i < 4; i++) {
        size_t k = sim_find(&rm, i, (i + 1) % 4);
        z[i] = dup_bytes(rm.q[k].bytes, zlen[i] = rm.q[k].len);
    }
    refuse_bad_bytes(&BD, rm.st[0], z[1], zlen[1], 0);
    refuse(&BD, rm.st[0], z[0], zlen[0], FKEX_ERR_REPLAY);       /* its own, echoed */
    w = reencode(&wlen, z[1], zlen[1], 2, 4);                    /* sender 4 of 4 */
    refuse(&BD, rm.st[0], w, wlen, FKEX_ERR_UNEXPECTED);
    free(w);
    w = reencode(&wlen, z[0], zlen[0], 2, 2);                    /* z_0 as z_2 */
    refuse(&BD, rm.st[0], w, wlen, FKEX_ERR_REPLAY);
    free(w);

    CHECK_OK(sim_deliver(&rm, sim_find(&rm, 1, 0)));
    refuse(&BD, rm.st[0], z[1], zlen[1], FKEX_ERR_REPLAY);
    /* z_1 passed off as z_3: X_0 would be the identity. */
    w = reencode(&wlen, z[1], zlen[1], 2, 3);
    refuse(&BD, rm.st[0], w, wlen, FKEX_ERR_REPLAY);
    free(w);
    /* M_0 has not sent X_0: one claiming to be from it is forged. */
    CHECK_OK(sim_deliver(&rm, sim_find(&rm, 0, 1)));
    CHECK_OK(sim_deliver(&rm, sim_find(&rm, 2, 1)));     /* M_1 sends X_1 */
    {
        size_t k = sim_find(&rm, 1, 0);
        uint8_t *x1 = dup_bytes(rm.q[k].bytes, rm.q[k].len);
        size_t x1len = rm.q[k].len;
        fkex_dh_msg m;
        CHECK_OK(fkex_dh_msg_decode(&m, x1, x1len));
        CHECK(m.type == FKEX_DH_BD_X && m.sender == 1);
        refuse(&BD, rm.st[1], x1, x1len, FKEX_ERR_REPLAY);       /* its own */
        w = reencode(&wlen, x1, x1len, 2, 0);
        refuse(&BD, rm.st[0], w, wlen, FKEX_ERR_UNEXPECTED);     /* "from" M_0 */
        free(w);
        refuse_bad_bytes(&BD, rm.st[0], x1, x1len, 0);
        CHECK_OK(sim_deliver(&rm, k));                               /* X_1 before z_3 */
        refuse(&BD, rm.st[0], x1, x1len, FKEX_ERR_REPLAY);
        free(x1);
    }
    sim_run(&rm, 12345);
    for (uint32_t i = 0; i < 4; i++)
        refuse(&BD, rm.st[i], z[(i + 1) % 4], zlen[(i + 1) % 4], FKEX_ERR_REPLAY);
    for (uint32_t i = 0; i < 4; i++)
        free(z[i]);
    sim_key(key, &rm);
    bd_direct(direct, &rm);
    CHECK(memcmp(key, direct, 32) == 0);
    for (uint32_t i = 0; i < 4; i++)
        CHECK(rm.p->exps(rm.st[i]) == 3);
    sim_free(&rm);

    /* n = 2 has no round 2: an X is unexpected. */
    sim_start(&rm, &BD, 2, 5, "bd pair");
    {
        fkex_dh_msg m;
        uint8_t *x;
        size_t xlen;
        CHECK_OK(fkex_dh_msg_decode(&m, rm.q[0].bytes, rm.q[0].len));
        m.type = FKEX_DH_BD_X;
        CHECK_OK(fkex_dh_msg_encode(&x, &xlen, &m));
        refuse(&BD, rm.st[1], x, xlen, FKEX_ERR_UNEXPECTED);
        free(x);
    }
    sim_run(&rm, 0);
    sim_key(key, &rm);
    bd_direct(direct, &rm);
    CHECK(memcmp(key, direct, 32) == 0);
    sim_free(&rm);
}

/* Unauthenticated, BD lets an injector choose X_j; one that makes a
 * member's K the identity (whose key anyone can compute) is refused at the
 * completing step, which leaves everything as it was. Here the test knows
 * the exponents: for M_0 of three, K = 3 r_0 z_2 + 2 X_0 + X_1, so
 * X_1 = -(r_0 r_2 + 2 r_0 r_1) G cancels it. */
static void test_bd_identity_key(void)
{
    sim rm;
    uint8_t r[3][32], t[32], s[32], forged[32], *x1, *w, key[32], direct[32];
    size_t x1len, wlen;
    fkex_dh_msg m;
    sim_start(&rm, &BD, 3, 2, "bd identity");
    for (uint32_t i = 0; i < 3; i++)
        member_exponent(r[i], "bd identity", i);
    crypto_core_ristretto255_scalar_mul(s, r[0], r[1]);
    crypto_core_ristretto255_scalar_add(s, s, s);
    crypto_core_ristretto255_scalar_mul(t, r[0], r[2]);
    crypto_core_ristretto255_scalar_add(s, s, t);
    crypto_core_ristretto255_scalar_negate(s, s);
    CHECK(crypto_scalarmult_ristretto255_base(forged, s) == 0);

    /* Everything is delivered but X_1 to M_0, the only sim_packet from M_1 to
     * M_0 left once z_1 is in. */
    CHECK_OK(sim_deliver(&rm, sim_find(&rm, 1, 0)));     /* z_1 */
    CHECK_OK(sim_deliver(&rm, sim_find(&rm, 0, 1)));
    CHECK_OK(sim_deliver(&rm, sim_find(&rm, 2, 1)));     /* M_1 sends X_1 */
    size_t k = sim_find(&rm, 1, 0);
    x1 = dup_bytes(rm.q[k].bytes, x1len = rm.q[k].len);
    while (rm.nq > 1)
        CHECK_OK(sim_deliver(&rm, rm.q[0].from == 1 && rm.q[0].to == 0 ? 1 : 0));
    CHECK(rm.nq == 1 && rm.q[0].from == 1 && rm.q[0].to == 0);
    CHECK(fkex_bd_key(key, rm.st[0]) == -1);

    CHECK_OK(fkex_dh_msg_decode(&m, x1, x1len));
    m.elems = forged;
    CHECK_OK(fkex_dh_msg_encode(&w, &wlen, &m));
    refuse(&BD, rm.st[0], w, wlen, FKEX_ERR_NOT_IN_GROUP);
    free(w);
    CHECK_OK(sim_deliver(&rm, 0));                   /* the genuine X_1 */
    sim_key(key, &rm);
    bd_direct(direct, &rm);
    CHECK(memcmp(key, direct, 32) == 0);
    free(x1);
    sim_free(&rm);
}

static void test_start_arguments(void)
{
    fkex_gdh2 *g;
    fkex_bd *b;
    fkex_rng rng;
    fkex_gke_out out;
    uint8_t room_id[32] = { 0 }, key[32];
    test_rng(&rng, "dh arguments");
    fkex_gke_out_init(&out);
    CHECK_ERR(fkex_gdh2_start(&g, room_id, 0, 1, 0, &rng, &out), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_gdh2_start(&g, room_id, 0, 3, 3, &rng, &out), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_gdh2_start(&g, room_id, 0, FKEX_DH_MAX_MEMBERS + 1, 0, &rng, &out),
              FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_bd_start(&b, room_id, 0, 1, 0, &rng, &out), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_bd_start(&b, room_id, 0, 2, 2, &rng, &out), FKEX_ERR_ARGUMENT);
    CHECK(g == NULL && b == NULL && out.nmsgs == 0);
    CHECK_OK(fkex_gdh2_start(&g, room_id, 0, 4, 2, &rng, &out));   /* waits: sends nothing */
    CHECK(out.nmsgs == 0 && fkex_gdh2_key(key, g) == -1 && fkex_gdh2_exponentiations(g) == 0);
    fkex_gdh2_free(g);
    fkex_gdh2_free(NULL);
    fkex_bd_free(NULL);
}

/* ---- membership change: a new run, fresh exponents, a new key ------------- */

static void test_rerun(void)
{
    const proto *ps[2] = { &GDH2, &BD };
    for (size_t p = 0; p < 2; p++) {
        sim a, b, c;
        uint8_t ka[32], kb[32], kc[32];
        sim_start(&a, ps[p], 5, 10, "rerun 5");
        sim_run(&a, 0);
        sim_key(ka, &a);
        /* Member 4 leaves: the remaining four rerun at epoch 11. */
        sim_start(&b, ps[p], 4, 11, "rerun 4");
        sim_run(&b, 0);
        sim_key(kb, &b);
        CHECK(memcmp(ka, kb, 32) != 0);
        /* A sixth joins: epoch 12, six members. */
        sim_start(&c, ps[p], 6, 12, "rerun 6");
        /* A message of the old epoch is refused by the new run. */
        {
            sim old;
            sim_start(&old, ps[p], 6, 11, "rerun 6");
            refuse(ps[p], c.st[1], old.q[0].bytes, old.q[0].len, FKEX_ERR_WRONG_EPOCH);
            sim_free(&old);
        }
        sim_run(&c, 77);
        sim_key(kc, &c);
        CHECK(memcmp(kc, ka, 32) != 0 && memcmp(kc, kb, 32) != 0);
        sim_free(&a);
        sim_free(&b);
        sim_free(&c);
    }
}

/* ---- the codec ------------------------------------------------------------- */

static void test_codec(void)
{
    uint8_t one[32] = { 1 }, elems[5][32], room_id[32], *b, *again;
    size_t len, len2;
    fkex_dh_msg m, d;
    CHECK(crypto_scalarmult_ristretto255_base(elems[0], one) == 0);
    for (int i = 1; i < 5; i++)
        CHECK(crypto_core_ristretto255_add(elems[i], elems[i - 1], elems[0]) == 0);
    memset(room_id, 0x3c, sizeof room_id);

    const struct { uint8_t type; uint32_t sender, count; } ok[] = {
        { FKEX_DH_GDH2_UP, 0, 2 }, { FKEX_DH_GDH2_UP, 3, 5 }, { FKEX_DH_GDH2_DOWN, 4, 4 },
        { FKEX_DH_GDH2_DOWN, 1, 1 }, { FKEX_DH_BD_Z, 9, 1 }, { FKEX_DH_BD_X, 0, 1 },
    };
    for (size_t t = 0; t < FKEX_ARRAY_LEN(ok); t++) {
        m = (fkex_dh_msg){ ok[t].type, { 0 }, 0x0102030405060708ull, ok[t].sender, ok[t].count,
                           elems[0] };
        memcpy(m.room_id, room_id, 32);
        CHECK_OK(fkex_dh_msg_encode(&b, &len, &m));
        CHECK(len == FKEX_DH_MSG_HEADER + 32 * (size_t)ok[t].count);
        CHECK(b[0] == ok[t].type && b[1] == 1 && b[34] == 1 && b[41] == 8);
        CHECK_OK(fkex_dh_msg_decode(&d, b, len));
        CHECK(d.type == m.type && d.epoch == m.epoch && d.sender == m.sender &&
              d.count == m.count && memcmp(d.room_id, room_id, 32) == 0 &&
              memcmp(d.elems, elems, 32 * (size_t)m.count) == 0);
        CHECK_OK(fkex_dh_msg_encode(&again, &len2, &d));
        CHECK(len2 == len && memcmp(again, b, len) == 0);
        free(again);
        for (size_t cut = 0; cut < len; cut++)
            CHECK_ERR(fkex_dh_msg_decode(&d, b, cut), FKEX_ERR_TRUNCATED);
        free(b);
    }

    /* Counts that do not fit the type and sender, either way. */
    m = (fkex_dh_msg){ FKEX_DH_GDH2_UP, { 0 }, 1, 2, 3, elems[0] };
    CHECK_ERR(fkex_dh_msg_encode(&b, &len, &m), FKEX_ERR_ARGUMENT);
    CHECK(b == NULL);
    m.count = 4;
    CHECK_OK(fkex_dh_msg_encode(&b, &len, &m));
    store32_be(b + 46, 3);   /* says 3, carries 4 */
    CHECK_ERR(fkex_dh_msg_decode(&d, b, len), FKEX_ERR_BAD_ENCODING);
    CHECK_ERR(fkex_dh_msg_decode(&d, b, len - 32), FKEX_ERR_BAD_ENCODING);
    store32_be(b + 46, 0);
    CHECK_ERR(fkex_dh_msg_decode(&d, b, FKEX_DH_MSG_HEADER), FKEX_ERR_BAD_ENCODING);
    /* An upflow from 65535 would need 65537 elements: over the bound. */
    store32_be(b + 42, 65535);
    store32_be(b + 46, 65537);
    CHECK_ERR(fkex_dh_msg_decode(&d, b, len), FKEX_ERR_BAD_ENCODING);
    store32_be(b + 42, 0xffffffffu);
    store32_be(b + 46, 1);   /* sender + 2 wraps in 32 bits; must not pass */
    CHECK_ERR(fkex_dh_msg_decode(&d, b, FKEX_DH_MSG_HEADER + 32), FKEX_ERR_BAD_ENCODING);
    b[0] = FKEX_DH_GDH2_DOWN;
    store32_be(b + 42, 0);
    store32_be(b + 46, 0);
    CHECK_ERR(fkex_dh_msg_decode(&d, b, FKEX_DH_MSG_HEADER), FKEX_ERR_BAD_ENCODING);
    b[0] = 0x44;
    CHECK_ERR(fkex_dh_msg_decode(&d, b, len), FKEX_ERR_WRONG_KIND);
    b[0] = 0x00;
    CHECK_ERR(fkex_dh_msg_decode(&d, b, len), FKEX_ERR_WRONG_KIND);
    free(b);
    CHECK(fkex_dh_msg_expected_count(FKEX_DH_GDH2_UP, 65534) == 65536);
    CHECK(fkex_dh_msg_expected_count(FKEX_DH_GDH2_UP, 65535) == 0);
    CHECK(fkex_dh_msg_expected_count(FKEX_DH_GDH2_DOWN, 65536) == 65536);
    CHECK(fkex_dh_msg_expected_count(FKEX_DH_GDH2_DOWN, 65537) == 0);
    CHECK(fkex_dh_msg_expected_count(0x50, 1) == 0);
}

static void test_elements(void)
{
    uint8_t p[32], one[32] = { 1 };
    CHECK(crypto_scalarmult_ristretto255_base(p, one) == 0);
    CHECK_OK(fkex_dh_elem_check(p));
    p[31] |= 0x80;
    CHECK(crypto_core_ristretto255_is_valid_point(p) == 1);   /* why we check it ourselves */
    CHECK_ERR(fkex_dh_elem_check(p), FKEX_ERR_BAD_ENCODING);
    memset(p, 0, 32);
    CHECK_ERR(fkex_dh_elem_check(p), FKEX_ERR_NOT_IN_GROUP);  /* the identity */
    non_point(p);
    CHECK_ERR(fkex_dh_elem_check(p), FKEX_ERR_NOT_IN_GROUP);
    /* p = 2^255 - 19 up to 2^255 - 1: none canonical. */
    memset(p, 0xff, 32);
    p[31] = 0x7f;
    for (uint8_t lo = 0xed; lo != 0x00; lo++) {
        p[0] = lo;
        CHECK_ERR(fkex_dh_elem_check(p), FKEX_ERR_BAD_ENCODING);
    }
    /* p - 1 is canonical and even: whatever it is, it is not refused as an encoding. */
    p[0] = 0xec;
    CHECK(fkex_dh_elem_check(p) != FKEX_ERR_BAD_ENCODING);
}

/* BD and GDH.2 authenticate nobody: a relay in the middle runs the
 * protocol with each side, shares a key with each, and nobody can tell.
 * (This is why they are baselines only; docs/COMPARISON.md.) */
static void pump(fkex_bd *to, fkex_gke_out *from)
{
    for (size_t i = 0; i < from->nmsgs; i++) {
        fkex_gke_out sink;
        fkex_gke_out_init(&sink);
        CHECK_OK(fkex_bd_receive(to, from->msgs[i].bytes, from->msgs[i].len, &sink));
        fkex_gke_out_clear(&sink);
    }
}

static void test_bd_man_in_the_middle(void)
{
    uint8_t room[32] = { 9 }, ka[32], kb[32], kma[32], kmb[32];
    fkex_rng ra, rb, rm;
    fkex_bd *a, *b, *m_as_b, *m_as_a;
    fkex_gke_out oa, ob, oma, omb;
    test_rng(&ra, "mitm a");
    test_rng(&rb, "mitm b");
    test_rng(&rm, "mitm relay");
    fkex_gke_out_init(&oa);
    fkex_gke_out_init(&ob);
    fkex_gke_out_init(&oma);
    fkex_gke_out_init(&omb);
    CHECK_OK(fkex_bd_start(&a, room, 1, 2, 0, &ra, &oa));
    CHECK_OK(fkex_bd_start(&b, room, 1, 2, 1, &rb, &ob));
    CHECK_OK(fkex_bd_start(&m_as_b, room, 1, 2, 1, &rm, &omb));   /* facing a */
    CHECK_OK(fkex_bd_start(&m_as_a, room, 1, 2, 0, &rm, &oma));   /* facing b */
    pump(m_as_b, &oa);
    pump(a, &omb);
    pump(m_as_a, &ob);
    pump(b, &oma);
    CHECK(fkex_bd_key(ka, a) == 0 && fkex_bd_key(kb, b) == 0);
    CHECK(fkex_bd_key(kma, m_as_b) == 0 && fkex_bd_key(kmb, m_as_a) == 0);
    CHECK(memcmp(ka, kma, 32) == 0);   /* the relay holds a's key */
    CHECK(memcmp(kb, kmb, 32) == 0);   /* and b's */
    CHECK(memcmp(ka, kb, 32) != 0);    /* and a and b cannot tell */
    fkex_bd_free(a);
    fkex_bd_free(b);
    fkex_bd_free(m_as_a);
    fkex_bd_free(m_as_b);
    fkex_gke_out_clear(&oa);
    fkex_gke_out_clear(&ob);
    fkex_gke_out_clear(&oma);
    fkex_gke_out_clear(&omb);
}

void suite_dh(void)
{
    RUN(test_codec);
    RUN(test_elements);
    RUN(test_start_arguments);
    RUN(test_gdh2_first_upflow);
    RUN(test_gdh2_agree);
    RUN(test_bd_agree);
    RUN(test_gdh2_refusals);
    RUN(test_bd_refusals);
    RUN(test_bd_identity_key);
    RUN(test_rerun);
    RUN(test_bd_man_in_the_middle);
}
