/*
 * gke/bd.c: the Burmester-Desmedt conference key (EUROCRYPT 1994, the
 * two-round broadcast protocol) over ristretto255, as a state
 * machine. UNAUTHENTICATED: a baseline for benchmarks and simulations,
 * never for a real room; authentication needs the Katz-Yung compiler
 * (see gke/dh.h).
 *
 * Additively, indices mod n:
 *   round 1  z_i = r_i G
 *   round 2  X_i = r_i (z_{i+1} - z_{i-1})
 *   key      K_i = n r_i z_{i-1} + (n-1) X_i + (n-2) X_{i+1} + ... + 1 X_{i-2}
 *              = sum_j r_j r_{j+1} G
 * The key uses the running sum of the papers' analysis: with
 * A_{i-1} = r_i z_{i-1} and A_j = A_{j-1} + X_j, A_j = r_j r_{j+1} G and
 * K = A_{i-1} + A_i + ... + A_{i+n-2}: 2(n-1) additions instead of
 * multiplying by n, n-1, ...
 *
 * A member broadcasts X_i as soon as both neighbours' z are in (only they
 * enter X_i) and completes once it holds every other member's z and X, so
 * delivery order does not matter; X_j that arrive early are kept. r_i is
 * wiped right after its third and last use, A_{i-1} = r_i z_{i-1}.
 *
 * Branches are on public values only: indices, counters, libsodium's
 * verdicts on public points, and whether the final K is the identity.
 */
#include <stdlib.h>
#include "gke/gke.h"

#define HAVE_Z 1
#define HAVE_X 2

struct fkex_bd {
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t n, index;
    uint8_t r[32];        /* r_i; zero once X_i and A_{i-1} are made */
    uint8_t z[32];        /* z_i */
    uint8_t zprev[32];    /* z_{i-1}, z_{i+1}, once HAVE_Z */
    uint8_t znext[32];
    uint8_t a[32];        /* A_{i-1} = r_i z_{i-1} = g^{r_{i-1} r_i}: secret */
    uint8_t (*x)[32];     /* X_j for every j (X_i own, once sent_x) */
    uint8_t *have;        /* HAVE_Z | HAVE_X per sender */
    uint32_t nz, nx;      /* how many z_j, X_j (j != i) are in */
    int sent_x, done;
    uint8_t key[32];
    uint64_t exps;
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

static void derive_key(uint8_t key[32], const uint8_t k[32], const fkex_bd *st)
{
    uint8_t prk[32], context[40];
    memcpy(context, st->room_id, 32);
    store64_be(context + 32, st->epoch);
    fkex_hkdf_extract(prk, NULL, 0, k, 32);
    fkex_kdf_expand(key, prk, "bd key", context, sizeof context);
    sodium_memzero(prk, sizeof prk);
}

static fkex_err emit(fkex_gke_out *out, const fkex_bd *st, uint8_t type, const uint8_t e[32])
{
    fkex_dh_msg m = { type, { 0 }, st->epoch, st->index, 1, e };
    uint8_t *bytes;
    size_t len;
    memcpy(m.room_id, st->room_id, 32);
    fkex_err err = fkex_dh_msg_encode(&bytes, &len, &m);
    if (err != FKEX_OK)
        return err;
    return fkex_gke_out_msg(out, FKEX_GKE_TO_ROOM, bytes, len);
}

static uint32_t prev(const fkex_bd *st)
{
    return st->index == 0 ? st->n - 1 : st->index - 1;
}

static uint32_t next(const fkex_bd *st)
{
    return st->index + 1 == st->n ? 0 : st->index + 1;
}

fkex_err fkex_bd_start(fkex_bd **st, const uint8_t room_id[32], uint64_t epoch,
                       uint32_t n, uint32_t index, fkex_rng *rng, fkex_gke_out *out)
{
    *st = NULL;
    if (n < 2 || n > FKEX_DH_MAX_MEMBERS || index >= n)
        return FKEX_ERR_ARGUMENT;
    fkex_bd *s = calloc(1, sizeof *s);
    if (!s)
        return FKEX_ERR_NO_MEMORY;
    s->x = calloc(n, sizeof *s->x);
    s->have = calloc(n, 1);
    if (!s->x || !s->have) {
        fkex_bd_free(s);
        return FKEX_ERR_NO_MEMORY;
    }
    memcpy(s->room_id, room_id, 32);
    s->epoch = epoch;
    s->n = n;
    s->index = index;
    draw_exponent(s->r, rng);
    s->exps++;
    crypto_scalarmult_ristretto255_base(s->z, s->r);
    fkex_err err = emit(out, s, FKEX_DH_BD_Z, s->z);
    if (err != FKEX_OK) {
        fkex_bd_free(s);
        return err;
    }
    *st = s;
    return FKEX_OK;
}

/* Which refusal, if any, a decoded message for this run gets. */
static fkex_err admit(const fkex_bd *st, const fkex_dh_msg *m)
{
    if (m->type != FKEX_DH_BD_Z && m->type != FKEX_DH_BD_X)
        return FKEX_ERR_WRONG_KIND;
    if (memcmp(m->room_id, st->room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if (m->epoch != st->epoch)
        return FKEX_ERR_WRONG_EPOCH;
    if (m->sender >= st->n)
        return FKEX_ERR_UNEXPECTED;
    if (m->type == FKEX_DH_BD_Z) {
        if (m->sender == st->index || (st->have[m->sender] & HAVE_Z))
            return FKEX_ERR_REPLAY;
        /* A z equal to ours, or to the other neighbour's, is a reflection
         * (and would make X_i the identity). */
        if (memcmp(m->elems, st->z, 32) == 0)
            return FKEX_ERR_REPLAY;
        if (st->n > 2 && m->sender == prev(st) && (st->have[next(st)] & HAVE_Z) &&
            memcmp(m->elems, st->znext, 32) == 0)
            return FKEX_ERR_REPLAY;
        if (st->n > 2 && m->sender == next(st) && (st->have[prev(st)] & HAVE_Z) &&
            memcmp(m->elems, st->zprev, 32) == 0)
            return FKEX_ERR_REPLAY;
        return FKEX_OK;
    }
    if (st->n == 2)   /* no round 2 */
        return FKEX_ERR_UNEXPECTED;
    if (m->sender == st->index)
        return st->sent_x ? FKEX_ERR_REPLAY : FKEX_ERR_UNEXPECTED;
    return st->have[m->sender] & HAVE_X ? FKEX_ERR_REPLAY : FKEX_OK;
}

/* K = sum_{j = i-1}^{i+n-2} A_j, A_j = A_{j-1} + X_j; xnew is X_{jnew},
 * just received and not stored yet (NULL if none). O(n) additions. */
static fkex_err key_element(uint8_t k[32], const fkex_bd *st, const uint8_t a[32],
                            const uint8_t xi[32], uint32_t jnew, const uint8_t *xnew)
{
    uint8_t acc[32];
    memcpy(acc, a, 32);
    memcpy(k, a, 32);
    for (uint32_t t = 0, j = st->index; t + 1 < st->n; t++, j = j + 1 == st->n ? 0 : j + 1) {
        const uint8_t *xj = j == st->index ? xi : xnew && j == jnew ? xnew : st->x[j];
        if (crypto_core_ristretto255_add(acc, acc, xj) != 0 ||
            crypto_core_ristretto255_add(k, k, acc) != 0) {
            sodium_memzero(acc, sizeof acc);
            return FKEX_ERR_NOT_IN_GROUP;   /* unreachable: all were decoded */
        }
    }
    sodium_memzero(acc, sizeof acc);
    /* Only a forged set of X_j can give the identity; its key would be public. */
    return sodium_is_zero(k, 32) ? FKEX_ERR_NOT_IN_GROUP : FKEX_OK;
}

fkex_err fkex_bd_receive(fkex_bd *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    const size_t nmsgs = out->nmsgs, nevents = out->nevents;
    fkex_dh_msg m;
    fkex_err err = fkex_dh_msg_decode(&m, msg, len);
    if (err == FKEX_OK)
        err = admit(st, &m);
    if (err != FKEX_OK)
        return err;

    /* What the state would be after this message, in locals. */
    const int is_z = m.type == FKEX_DH_BD_Z;
    const uint32_t j = m.sender, ip = prev(st), in = next(st);
    const uint8_t *zp = is_z && j == ip ? m.elems : st->have[ip] & HAVE_Z ? st->zprev : NULL;
    const uint8_t *zn = is_z && j == in ? m.elems : st->have[in] & HAVE_Z ? st->znext : NULL;
    const uint32_t nz = st->nz + is_z, nx = st->nx + !is_z;
    uint8_t xi[32], a[32], k[32], key[32], d[32];
    uint64_t exps = 0;
    int make_x = !st->sent_x && zp && zn, done = 0;

    memcpy(xi, st->x[st->index], 32);
    memcpy(a, st->a, 32);
    if (make_x && st->n == 2) {
        /* X_i = identity: K = 2 A_{i-1}. */
        exps++;
        if (crypto_scalarmult_ristretto255(a, st->r, zp) != 0 ||
            crypto_core_ristretto255_add(k, a, a) != 0)
            err = FKEX_ERR_NOT_IN_GROUP;
        done = 1;
    } else if (make_x) {
        /* X_i = r_i (z_{i+1} - z_{i-1}), A_{i-1} = r_i z_{i-1}; admit()
         * refused z_{i+1} = z_{i-1}, so neither is the identity. */
        exps += 2;
        if (crypto_core_ristretto255_sub(d, zn, zp) != 0 ||
            crypto_scalarmult_ristretto255(xi, st->r, d) != 0 ||
            crypto_scalarmult_ristretto255(a, st->r, zp) != 0)
            err = FKEX_ERR_NOT_IN_GROUP;
        if (err == FKEX_OK)
            err = emit(out, st, FKEX_DH_BD_X, xi);
    }
    if (err == FKEX_OK && st->n > 2 && (st->sent_x || make_x) && nz == st->n - 1 &&
        nx == st->n - 1) {
        err = key_element(k, st, a, xi, j, is_z ? NULL : m.elems);
        done = 1;
    }
    if (err == FKEX_OK && done) {
        derive_key(key, k, st);
        err = fkex_gke_out_event(out, FKEX_GKE_EV_EPOCH, FKEX_OK, st->epoch, st->n, st->index,
                                 NULL, 0);
    }

    if (err == FKEX_OK) {
        st->have[j] |= is_z ? HAVE_Z : HAVE_X;
        if (is_z && j == ip)
            memcpy(st->zprev, m.elems, 32);
        if (is_z && j == in)
            memcpy(st->znext, m.elems, 32);
        if (!is_z)
            memcpy(st->x[j], m.elems, 32);
        st->nz = nz;
        st->nx = nx;
        st->exps += exps;
        if (make_x) {
            memcpy(st->x[st->index], xi, 32);
            memcpy(st->a, a, 32);
            st->sent_x = 1;
            sodium_memzero(st->r, sizeof st->r);
        }
        if (done) {
            memcpy(st->key, key, 32);
            sodium_memzero(st->a, sizeof st->a);
            st->done = 1;
        }
    } else {
        fkex_gke_out_truncate(out, nmsgs, nevents);
    }
    sodium_memzero(a, sizeof a);
    sodium_memzero(k, sizeof k);
    sodium_memzero(key, sizeof key);
    return err;
}

int fkex_bd_key(uint8_t key[32], const fkex_bd *st)
{
    if (!st->done)
        return -1;
    memcpy(key, st->key, 32);
    return 0;
}

uint64_t fkex_bd_exponentiations(const fkex_bd *st)
{
    return st->exps;
}

void fkex_bd_free(fkex_bd *st)
{
    if (!st)
        return;
    if (st->x) {
        sodium_memzero(st->x, (size_t)st->n * sizeof *st->x);
        free(st->x);
    }
    free(st->have);
    sodium_memzero(st, sizeof *st);
    free(st);
}
