/*
 * gke/gdh2.c: GDH.2 (Steiner, Tsudik, Waidner, CCS 1996) over
 * ristretto255, as a state machine. UNAUTHENTICATED: a baseline for
 * benchmarks and simulations, never for a real room (see gke/dh.h).
 *
 * In the paper's terms, with M_1..M_n = indices 0..n-1:
 *   upflow   M_i -> M_{i+1}: { g^{(r_1...r_i)/r_j} : j in [1,i] }, g^{r_1...r_i}
 *   M_n      raises the n - 1 partial values to r_n and broadcasts
 *            { g^{(r_1...r_n)/r_i} : i in [1,n-1] }; K = (g^{r_1...r_{n-1}})^{r_n}
 *   M_i      K = (g^{(r_1...r_n)/r_i})^{r_i}
 * M_1 sends {g, g^{r_1}}. M_i (1 < i < n) raises the i - 1 partials and the
 * full value, and passes the old full value on as its own partial: i
 * exponentiations, plus 1 for the key. M_n does n. In all (n^2 + 3n)/2 - 1.
 *
 * Exponents never leave the state; a step computes into locals, emits, and
 * only then commits, so a refused message changes nothing. Branches are on
 * public values only (indices, phases, libsodium's verdicts on public
 * points).
 */
#include <stdlib.h>
#include "gke/gke.h"

enum { WAIT_UP, WAIT_DOWN, DONE };

struct fkex_gdh2 {
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t n, index;
    int phase;
    uint8_t r[32];       /* r_i; zero once used for the key */
    uint8_t key[32];     /* valid when phase == DONE */
    uint64_t exps;
};

/* The encoding of the ristretto255 generator (RFC 9496, A.1: 1 * B). */
static const uint8_t generator[32] = {
    0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
    0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76,
};

/* r = 64 rng bytes mod the group order; zero is drawn again (see dh.h). */
static void draw_exponent(uint8_t r[32], fkex_rng *rng)
{
    uint8_t wide[64];
    do {
        fkex_rng_fill(rng, wide, sizeof wide);
        crypto_core_ristretto255_scalar_reduce(r, wide);
    } while (sodium_is_zero(r, 32));
    sodium_memzero(wide, sizeof wide);
}

/* libsodium refuses a result equal to the identity, which for a nonzero
 * exponent means p was the identity: never for a decoded element. */
static fkex_err smul(uint8_t q[32], const uint8_t r[32], const uint8_t p[32], uint64_t *exps)
{
    (*exps)++;
    return crypto_scalarmult_ristretto255(q, r, p) == 0 ? FKEX_OK : FKEX_ERR_NOT_IN_GROUP;
}

static void derive_key(uint8_t key[32], const uint8_t k[32], const fkex_gdh2 *st)
{
    uint8_t prk[32], context[40];
    memcpy(context, st->room_id, 32);
    store64_be(context + 32, st->epoch);
    fkex_hkdf_extract(prk, NULL, 0, k, 32);
    fkex_kdf_expand(key, prk, "gdh2 key", context, sizeof context);
    sodium_memzero(prk, sizeof prk);
}

/* Encodes and appends one message; elems holds count elements. */
static fkex_err emit(fkex_gke_out *out, const fkex_gdh2 *st, uint8_t type, uint32_t to,
                     const uint8_t *elems, uint32_t count)
{
    fkex_dh_msg m = { type, { 0 }, st->epoch, st->index, count, elems };
    uint8_t *bytes;
    size_t len;
    memcpy(m.room_id, st->room_id, 32);
    fkex_err err = fkex_dh_msg_encode(&bytes, &len, &m);
    if (err != FKEX_OK)
        return err;
    return fkex_gke_out_msg(out, to, bytes, len);
}

fkex_err fkex_gdh2_start(fkex_gdh2 **st, const uint8_t room_id[32], uint64_t epoch,
                         uint32_t n, uint32_t index, fkex_rng *rng, fkex_gke_out *out)
{
    *st = NULL;
    if (n < 2 || n > FKEX_DH_MAX_MEMBERS || index >= n)
        return FKEX_ERR_ARGUMENT;
    fkex_gdh2 *s = calloc(1, sizeof *s);
    if (!s)
        return FKEX_ERR_NO_MEMORY;
    memcpy(s->room_id, room_id, 32);
    s->epoch = epoch;
    s->n = n;
    s->index = index;
    s->phase = WAIT_UP;
    draw_exponent(s->r, rng);
    if (index == 0) {
        /* M_1: {g^{r_1/r_1}, g^{r_1}} = {g, g^{r_1}}. */
        uint8_t up[2][32];
        memcpy(up[0], generator, 32);
        s->exps++;
        crypto_scalarmult_ristretto255_base(up[1], s->r);
        fkex_err err = emit(out, s, FKEX_DH_GDH2_UP, 1, up[0], 2);
        if (err != FKEX_OK) {
            fkex_gdh2_free(s);
            return err;
        }
        s->phase = WAIT_DOWN;
    }
    *st = s;
    return FKEX_OK;
}

/* The upflow from M_{i-1} (this is M_i, index i >= 1): e[0..i-1] are the
 * partials g^{(r_0...r_{i-1})/r_j}, e[i] is g^{r_0...r_{i-1}}. O(i)
 * exponentiations and O(i) memory. */
static fkex_err on_upflow(fkex_gdh2 *st, const uint8_t *e, fkex_gke_out *out)
{
    const uint32_t i = st->index;
    const int last = i == st->n - 1;
    const uint32_t nout = last ? i : i + 2;
    uint64_t exps = 0;
    uint8_t k[32], key[32];
    fkex_err err = FKEX_OK;
    uint8_t *o = malloc((size_t)nout * 32);
    if (!o)
        return FKEX_ERR_NO_MEMORY;
    for (uint32_t j = 0; j < i && err == FKEX_OK; j++)
        err = smul(o + (size_t)j * 32, st->r, e + (size_t)j * 32, &exps);
    if (err == FKEX_OK && !last) {
        /* (r_0...r_i)/r_i is the old full product: passed on unraised. */
        memcpy(o + (size_t)i * 32, e + (size_t)i * 32, 32);
        err = smul(o + (size_t)(i + 1) * 32, st->r, e + (size_t)i * 32, &exps);
        if (err == FKEX_OK)
            err = emit(out, st, FKEX_DH_GDH2_UP, i + 1, o, nout);
    } else if (err == FKEX_OK) {
        /* M_n: broadcast the n - 1 partials, K = (g^{r_0...r_{n-2}})^{r_{n-1}}. */
        err = smul(k, st->r, e + (size_t)i * 32, &exps);
        if (err == FKEX_OK)
            err = emit(out, st, FKEX_DH_GDH2_DOWN, FKEX_GKE_TO_ROOM, o, nout);
        if (err == FKEX_OK) {
            derive_key(key, k, st);
            err = fkex_gke_out_event(out, FKEX_GKE_EV_EPOCH, FKEX_OK, st->epoch, st->n,
                                     st->index, NULL, 0);
        }
    }
    free(o);
    if (err == FKEX_OK) {
        st->exps += exps;
        if (last) {
            memcpy(st->key, key, 32);
            sodium_memzero(st->r, sizeof st->r);
            st->phase = DONE;
        } else {
            st->phase = WAIT_DOWN;
        }
    }
    sodium_memzero(k, sizeof k);
    sodium_memzero(key, sizeof key);
    return err;
}

/* The broadcast from M_n: element index is g^{(r_0...r_{n-1})/r_index}. */
static fkex_err on_broadcast(fkex_gdh2 *st, const uint8_t *e, fkex_gke_out *out)
{
    uint64_t exps = 0;
    uint8_t k[32], key[32];
    fkex_err err = smul(k, st->r, e + (size_t)st->index * 32, &exps);
    if (err == FKEX_OK) {
        derive_key(key, k, st);
        err = fkex_gke_out_event(out, FKEX_GKE_EV_EPOCH, FKEX_OK, st->epoch, st->n,
                                 st->index, NULL, 0);
    }
    if (err == FKEX_OK) {
        st->exps += exps;
        memcpy(st->key, key, 32);
        sodium_memzero(st->r, sizeof st->r);
        st->phase = DONE;
    }
    sodium_memzero(k, sizeof k);
    sodium_memzero(key, sizeof key);
    return err;
}

/* Which refusal, if any, a decoded message for this run gets. */
static fkex_err admit(const fkex_gdh2 *st, const fkex_dh_msg *m)
{
    const uint32_t last = st->n - 1;
    if (m->type != FKEX_DH_GDH2_UP && m->type != FKEX_DH_GDH2_DOWN)
        return FKEX_ERR_WRONG_KIND;
    if (memcmp(m->room_id, st->room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if (m->epoch != st->epoch)
        return FKEX_ERR_WRONG_EPOCH;
    if (m->sender >= st->n)
        return FKEX_ERR_UNEXPECTED;
    if (m->type == FKEX_DH_GDH2_UP) {
        if (m->sender == st->index)   /* our own upflow, if we sent one */
            return st->index != last && st->phase != WAIT_UP ? FKEX_ERR_REPLAY
                                                             : FKEX_ERR_UNEXPECTED;
        if (m->sender + 1 != st->index)
            return FKEX_ERR_UNEXPECTED;
        return st->phase == WAIT_UP ? FKEX_OK : FKEX_ERR_REPLAY;
    }
    if (m->sender != last)
        return FKEX_ERR_UNEXPECTED;
    if (st->phase == DONE)   /* had it, or (M_n) sent it */
        return FKEX_ERR_REPLAY;
    return st->phase == WAIT_DOWN && st->index != last ? FKEX_OK : FKEX_ERR_UNEXPECTED;
}

fkex_err fkex_gdh2_receive(fkex_gdh2 *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    const size_t nmsgs = out->nmsgs, nevents = out->nevents;
    fkex_dh_msg m;
    fkex_err err = fkex_dh_msg_decode(&m, msg, len);
    if (err == FKEX_OK)
        err = admit(st, &m);
    if (err != FKEX_OK)
        return err;
    err = m.type == FKEX_DH_GDH2_UP ? on_upflow(st, m.elems, out) : on_broadcast(st, m.elems, out);
    if (err != FKEX_OK)
        fkex_gke_out_truncate(out, nmsgs, nevents);
    return err;
}

int fkex_gdh2_key(uint8_t key[32], const fkex_gdh2 *st)
{
    if (st->phase != DONE)
        return -1;
    memcpy(key, st->key, 32);
    return 0;
}

uint64_t fkex_gdh2_exponentiations(const fkex_gdh2 *st)
{
    return st->exps;
}

void fkex_gdh2_free(fkex_gdh2 *st)
{
    if (!st)
        return;
    sodium_memzero(st, sizeof *st);
    free(st);
}
