/*
 * abe/waters11.c: Waters, "Ciphertext-Policy Attribute-Based Encryption: An
 * Expressive, Efficient, and Provably Secure Realization" (PKC 2011, ePrint
 * 2008/290), section 3, the large-universe variant with the attribute map T
 * a random oracle, written for a type-3 pairing e: G1 x G2 -> GT.
 *
 * Placement (SCHEMES.md): T(x) = H(x) in G1 appears in C_i and K_x, so those
 * live in G1 with C'; K, L and D_i live in G2.
 *
 *   Setup     alpha, a <-$ Fr;  mpk = (g1^a, Y = e(g1, g2)^alpha)
 *   KeyGen(S) t <-$ Fr;  K = g2^alpha (g2^a)^t,  L = g2^t,  K_x = H(x)^t
 *   Encrypt   v = (s, y_2..y_n),  lambda_i = M_i . v,  r_i <-$ Fr
 *             C' = g1^s,  C_i = (g1^a)^lambda_i H(rho(i))^-r_i,  D_i = g2^r_i
 *             Z = Y^s  (the KEM secret; the paper's C = M Y^s)
 *   Decrypt   Z = e(C', K) / prod_{i in I} (e(C_i, L) e(K_rho(i), D_i))^omega_i
 *             taken over all rows, omega_i = 0 outside I (see decap)
 *
 * The master secret is kept as the scalars (alpha, a) rather than the
 * paper's group element g^alpha: K = g2^(alpha + a t) is the same element
 * and costs one fixed-base multiplication instead of two.
 */
#include "abe/abe.h"

typedef struct {
    fkex_fr alpha, a;
} waters_msk;

/* The fixed bases of encryption and key generation, whose combs are
 * built once they pay (pairing/base.c): mutable behind a const mpk, as the
 * cache is. */
typedef struct {
    fkex_g1_base g1, g1a;
    fkex_g2_base g2;
    fkex_gt_base y;
} waters_bases;

typedef struct {
    fkex_g1 g1a;                   /* g1^a */
    fkex_gt y;                     /* e(g1, g2)^alpha */
    waters_bases *bases;           /* not encoded */
    fkex_hash_cache *cache;        /* H(x) for the names met so far */
} waters_mpk;

typedef struct {
    blst_p2_affine k, l;
    blst_p1_affine kx[];           /* one per expanded attribute, sorted */
} waters_key;

typedef struct {
    blst_p1_affine c;              /* C_i */
    blst_p2_affine d;              /* D_i */
} waters_row;

typedef struct {
    blst_p1_affine c0;             /* C' */
    waters_row row[];
} waters_ct;

#define ATTR_HASH "ATTR"          /* H = hash_to_G1 with this purpose */

static size_t key_size(size_t n) { return sizeof(waters_key) + n * sizeof(blst_p1_affine); }
static size_t ct_size(size_t rows) { return sizeof(waters_ct) + rows * sizeof(waters_row); }

static void hash_one(blst_p1_affine *out, const uint8_t *name, size_t len)
{
    fkex_g1 p;
    fkex_g1_hash(&p, ATTR_HASH, name, len);
    blst_p1_to_affine(out, &p);
}

/* H(x), through cache (abe/hash_cache.h) if not NULL. Only encryption,
 * whose names are a public policy's, reads through the public parameters'
 * cache: a key's own names cached would make the first re-encryption of a
 * policy (the Fujisaki-Okamoto check) faster for the rows the key holds,
 * which a relay timing admission would see (abe/fame.c, key_consistent). */
static void hash_attr(fkex_g1 *out, fkex_hash_cache *cache, const char *name)
{
    blst_p1_affine a;
    if (!cache) {   /* no round trip through affine coordinates */
        fkex_g1_hash(out, ATTR_HASH, (const uint8_t *)name, strlen(name));
        return;
    }
    fkex_hash_cache_get(&a, cache, hash_one, (const uint8_t *)name, strlen(name));
    blst_p1_from_affine(out, &a);
}

static void setup(void *msk_, fkex_rng *rng)
{
    waters_msk *msk = msk_;
    fkex_fr_random(&msk->alpha, rng);
    fkex_fr_random(&msk->a, rng);
}

static fkex_err mpk_tables(waters_mpk *mpk)
{
    fkex_g1 g1;
    fkex_g2 g2;
    waters_bases *b = malloc(sizeof *b);
    if (!b)
        return FKEX_ERR_NO_MEMORY;
    fkex_g1_generator(&g1);
    fkex_g2_generator(&g2);
    fkex_g1_base_init(&b->g1, &g1);
    fkex_g1_base_init(&b->g1a, &mpk->g1a);
    fkex_g2_base_init(&b->g2, &g2);
    fkex_gt_base_init(&b->y, &mpk->y);
    mpk->bases = b;
    mpk->cache = fkex_hash_cache_new(1);
    return FKEX_OK;
}

static void mpk_release(void *mpk_)
{
    waters_mpk *mpk = mpk_;
    waters_bases *b = mpk->bases;
    if (b) {
        fkex_g1_base_clear(&b->g1);
        fkex_g1_base_clear(&b->g1a);
        fkex_g2_base_clear(&b->g2);
        fkex_gt_base_clear(&b->y);
        free(b);
    }
    fkex_hash_cache_free(mpk->cache);
}

static fkex_err mpk_from_msk(void *mpk_, const void *msk_)
{
    waters_mpk *mpk = mpk_;
    const waters_msk *msk = msk_;
    fkex_g1 g1;
    fkex_g2 g2;
    fkex_gt e;
    fkex_g1_generator(&g1);
    fkex_g2_generator(&g2);
    fkex_g1_mul(&mpk->g1a, &g1, &msk->a);
    fkex_pairing(&e, &g1, &g2);
    fkex_gt_pow(&mpk->y, &e, &msk->alpha);
    return mpk_tables(mpk);
}

/* KeyGen(MSK, S): t <-$ Fr, K = g2^(alpha + a t), L = g2^t, K_x = H(x)^t. */
static void keygen(void *key_, const void *msk_, const void *mpk_, size_t n,
                   const char *const *names, fkex_rng *rng)
{
    waters_key *key = key_;
    const waters_msk *msk = msk_;
    const waters_mpk *mpk = mpk_;
    fkex_fr t, e;
    fkex_g2 k, l;
    fkex_g1 kx[16];
    const blst_p1 *ptrs[16];

    fkex_fr_random(&t, rng);
    fkex_fr_mul(&e, &msk->a, &t);
    fkex_fr_add(&e, &e, &msk->alpha);
    fkex_g2_base_mul(&k, &mpk->bases->g2, &e);
    fkex_g2_base_mul(&l, &mpk->bases->g2, &t);
    blst_p2_to_affine(&key->k, &k);
    blst_p2_to_affine(&key->l, &l);

    /* K_x in batches, so one inversion converts a batch to affine. */
    for (size_t done = 0; done < n;) {
        size_t batch = n - done < 16 ? n - done : 16;
        for (size_t j = 0; j < batch; j++) {
            fkex_g1 h;
            hash_attr(&h, NULL, names[done + j]);
            fkex_g1_mul(&kx[j], &h, &t);
            ptrs[j] = &kx[j];
        }
        blst_p1s_to_affine(&key->kx[done], ptrs, batch);
        done += batch;
    }
    sodium_memzero(&t, sizeof t);
    sodium_memzero(&e, sizeof e);
    sodium_memzero(&k, sizeof k);
    sodium_memzero(&l, sizeof l);
    sodium_memzero(kx, sizeof kx);
}

/* Encrypt(PK, (M, rho)) with v = (s, y_2, .., y_n) and r_i, all from rng in
 * that order (the Fujisaki-Okamoto check replays them). */
static fkex_err encap(fkex_gt *z, void *ct_, const void *mpk_, const fkex_lsss *lsss,
                      fkex_rng *rng)
{
    waters_ct *ct = ct_;
    const waters_mpk *mpk = mpk_;
    fkex_fr v[FKEX_POLICY_MAX_LEAVES], lambda, r, term;
    fkex_g1 c0, c[16], h;
    fkex_g2 d[16];
    const blst_p1 *cp[16];
    const blst_p2 *dp[16];
    blst_p1_affine ca[16];
    blst_p2_affine da[16];
    size_t cols = lsss->cols;

    /* A tree with L leaves adds sum (children - 1) = L - 1 columns at most,
     * so v fits on the stack (32 KiB) and encryption allocates nothing. */
    if (cols > FKEX_POLICY_MAX_LEAVES)
        return FKEX_ERR_POLICY_LIMIT;
    for (size_t j = 0; j < cols; j++)
        fkex_fr_random(&v[j], rng);

    fkex_g1_base_mul(&c0, &mpk->bases->g1, &v[0]);          /* C' = g1^s */
    blst_p1_to_affine(&ct->c0, &c0);
    fkex_gt_base_pow(z, &mpk->bases->y, &v[0]);              /* Z = Y^s */

    for (size_t done = 0; done < lsss->rows;) {
        size_t batch = lsss->rows - done < 16 ? lsss->rows - done : 16;
        for (size_t j = 0; j < batch; j++) {
            size_t i = done + j;
            const fkex_lsss_entry *e = &lsss->entry[lsss->row_start[i]];
            size_t ne = lsss->row_start[i + 1] - lsss->row_start[i];
            fkex_fr_zero(&lambda);                           /* lambda_i = M_i . v */
            for (size_t k = 0; k < ne; k++) {
                fkex_fr_mul(&term, &e[k].value, &v[e[k].col]);
                fkex_fr_add(&lambda, &lambda, &term);
            }
            fkex_fr_random(&r, rng);
            fkex_g1_base_mul(&c[j], &mpk->bases->g1a, &lambda);  /* (g1^a)^lambda_i */
            hash_attr(&h, mpk->cache, lsss->attr[i]);
            fkex_fr_neg(&r, &r);
            fkex_g1_mul(&h, &h, &r);                          /* H(rho(i))^-r_i */
            fkex_fr_neg(&r, &r);
            fkex_g1_add(&c[j], &c[j], &h);
            fkex_g2_base_mul(&d[j], &mpk->bases->g2, &r);     /* D_i = g2^r_i */
            cp[j] = &c[j];
            dp[j] = &d[j];
        }
        /* One inversion per batch (Montgomery's trick) instead of per point. */
        blst_p1s_to_affine(ca, cp, batch);
        blst_p2s_to_affine(da, dp, batch);
        for (size_t j = 0; j < batch; j++) {
            ct->row[done + j].c = ca[j];
            ct->row[done + j].d = da[j];
        }
        done += batch;
    }
    sodium_memzero(v, cols * sizeof *v);
    sodium_memzero(&lambda, sizeof lambda);
    sodium_memzero(&term, sizeof term);
    sodium_memzero(&r, sizeof r);
    sodium_memzero(&h, sizeof h);       /* with C_i it would give (g1^a)^lambda_i */
    sodium_memzero(&c0, sizeof c0);
    sodium_memzero(c, sizeof c);
    sodium_memzero(d, sizeof d);
    return FKEX_OK;
}

static void neg_p1(blst_p1_affine *p) { blst_fp_cneg(&p->y, &p->y, 1); }

/* out = pick[1] if bit else pick[0], by masks: bit is secret. */
static void select_p1(fkex_g1 *out, const fkex_g1 pick[2], limb_t bit)
{
    fkex_ct_select((limb_t *)out, (const limb_t *)pick, FKEX_LIMBS(*out), 2, (size_t)bit);
}

/* One row, for a policy without threshold gates (omega_i is 0 or 1):
 * sum += omega_i C_i and out = T - omega_i K_rho(i), by masked selection. */
static void row_unit(fkex_g1 *sum, fkex_g1 *out, const blst_p1_affine *c,
                     const blst_p1_affine *kx, const fkex_fr *omega,
                     const fkex_g1 *offset)
{
    fkex_g1 pick[2];
    blst_p1_affine neg = *kx;
    limb_t used = (limb_t)(1 ^ fkex_fr_is_zero(omega));
    pick[0] = *sum;
    blst_p1_add_or_double_affine(&pick[1], sum, c);
    select_p1(sum, pick, used);
    neg_p1(&neg);
    pick[0] = *offset;
    blst_p1_add_or_double_affine(&pick[1], offset, &neg);
    select_p1(out, pick, used);
    sodium_memzero(pick, sizeof pick);
    sodium_memzero(&neg, sizeof neg);
}

/* One row, any policy: two constant-time multiplications by omega_i,
 * which is 0 for a row not used. */
static void row_scaled(fkex_g1 *sum, fkex_g1 *out, const blst_p1_affine *c,
                       const blst_p1_affine *kx, const fkex_fr *omega,
                       const blst_p1_affine *offset)
{
    fkex_g1 t;
    blst_p1_from_affine(&t, c);
    fkex_g1_mul(&t, &t, omega);
    fkex_g1_add(sum, sum, &t);
    blst_p1_from_affine(&t, kx);
    fkex_g1_mul(&t, &t, omega);
    blst_p1_cneg(&t, 1);
    blst_p1_add_or_double_affine(out, &t, offset);
    sodium_memzero(&t, sizeof t);
}

/* Decrypt over every row of the policy, aggregated (SCHEMES.md), with
 * omega_i = 0 for the rows the key does not use:
 *   Z = FE( ML(C', K) * ML(-sum_i omega_i C_i, L) * ML(-T, sum_i D_i)
 *           * prod_i ML(T - omega_i K_rho(i), D_i) )
 * T = g1 is a public offset: it keeps every row's point off the identity,
 * which the multi-pairing would skip, and ML(-T, sum_i D_i) cancels its
 * prod_i e(T, D_i). So the work is l + 3 Miller loops sharing their
 * squarings and one final exponentiation, plus 2 l G1 multiplications if
 * the policy has a threshold gate, whichever rows the key uses: a relay
 * timing admission learns no branch (PROTOCOL.md, version 2). K_rho(i) is
 * read by a masked scan over all nnames key components: O(l nnames) limb
 * operations, microseconds. */
static void decap(fkex_gt *z, const void *key_, size_t nnames, const void *ct_,
                  const fkex_lsss_solution *sol)
{
    const waters_key *key = key_;
    const waters_ct *ct = ct_;
    const blst_p1_affine *t_aff = blst_p1_affine_generator();
    fkex_multi_pairing m;
    fkex_g1 sum, offset, pt[16];
    fkex_g2 dsum;
    const blst_p1 *pp[16];
    blst_p1_affine a[16], kx;
    blst_p2_affine d;

    fkex_multi_pairing_init(&m);
    fkex_multi_pairing_add(&m, &ct->c0, &key->k);
    blst_p1_from_affine(&offset, t_aff);
    memset(&sum, 0, sizeof sum);   /* the identity */
    memset(&dsum, 0, sizeof dsum);
    for (size_t done = 0; done < sol->rows;) {
        size_t batch = sol->rows - done < 16 ? sol->rows - done : 16;
        for (size_t j = 0; j < batch; j++) {
            size_t i = done + j;
            fkex_ct_select((limb_t *)&kx, (const limb_t *)key->kx, FKEX_LIMBS(kx), nnames,
                           sol->key_attr[i]);
            if (sol->all_one)      /* public: the policy's shape */
                row_unit(&sum, &pt[j], &ct->row[i].c, &kx, &sol->omega[i], &offset);
            else
                row_scaled(&sum, &pt[j], &ct->row[i].c, &kx, &sol->omega[i], t_aff);
            pp[j] = &pt[j];
            blst_p2_add_or_double_affine(&dsum, &dsum, &ct->row[i].d);
        }
        /* One inversion per batch (Montgomery's trick) instead of per point. */
        blst_p1s_to_affine(a, pp, batch);
        for (size_t j = 0; j < batch; j++)
            fkex_multi_pairing_add(&m, &a[j], &ct->row[done + j].d);
        done += batch;
    }
    blst_p1_to_affine(&a[0], &sum);
    neg_p1(&a[0]);
    fkex_multi_pairing_add(&m, &a[0], &key->l);
    a[0] = *t_aff;
    neg_p1(&a[0]);
    blst_p2_to_affine(&d, &dsum);
    fkex_multi_pairing_add(&m, &a[0], &d);
    fkex_multi_pairing_finish(z, &m);
    sodium_memzero(&sum, sizeof sum);
    sodium_memzero(pt, sizeof pt);
    sodium_memzero(a, sizeof a);
    sodium_memzero(&kx, sizeof kx);
}

static int ct_equal(const void *a_, const void *b_, size_t rows)
{
    const waters_ct *a = a_, *b = b_;
    int same = blst_p1_affine_is_equal(&a->c0, &b->c0);
    for (size_t i = 0; i < rows; i++) {
        same &= blst_p1_affine_is_equal(&a->row[i].c, &b->row[i].c);
        same &= blst_p2_affine_is_equal(&a->row[i].d, &b->row[i].d);
    }
    return same;
}

/* ---- bodies (points: abe/points.c) ------------------------------------------ */

static void mpk_encode(fkex_writer *w, const void *mpk_)
{
    const waters_mpk *mpk = mpk_;
    uint8_t b[576];
    fkex_g1_to_bytes(b, &mpk->g1a);
    fkex_writer_put(w, b, 48);
    fkex_gt_to_bytes(b, &mpk->y);
    fkex_writer_put(w, b, 576);
}

static fkex_err mpk_decode(void *mpk_, fkex_reader *r)
{
    waters_mpk *mpk = mpk_;
    const uint8_t *b;
    fkex_err err;
    if (fkex_reader_view(r, &b, 48) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_g1_from_bytes(&mpk->g1a, b)) != FKEX_OK)
        return err;
    if (fkex_reader_view(r, &b, 576) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_gt_from_bytes(&mpk->y, b)) != FKEX_OK)
        return err;
    if (blst_fp12_is_one(&mpk->y))
        return FKEX_ERR_NOT_IN_GROUP;   /* alpha = 0 would make Z public */
    return mpk_tables(mpk);
}

static void msk_encode(fkex_writer *w, const void *msk_)
{
    const waters_msk *msk = msk_;
    uint8_t b[32];
    fkex_fr_to_bytes(b, &msk->alpha);
    fkex_writer_put(w, b, 32);
    fkex_fr_to_bytes(b, &msk->a);
    fkex_writer_put(w, b, 32);
    sodium_memzero(b, sizeof b);
}

static fkex_err msk_decode(void *msk_, fkex_reader *r)
{
    waters_msk *msk = msk_;
    const uint8_t *b;
    if (fkex_reader_view(r, &b, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if (fkex_fr_from_bytes(&msk->alpha, b) != FKEX_OK)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(r, &b, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if (fkex_fr_from_bytes(&msk->a, b) != FKEX_OK)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_fr_is_zero(&msk->alpha) || fkex_fr_is_zero(&msk->a))
        return FKEX_ERR_BAD_ENCODING;
    return FKEX_OK;
}

static void key_encode(fkex_writer *w, const void *key_, size_t n)
{
    const waters_key *key = key_;
    fkex_abe_put_g2(w, &key->k);
    fkex_abe_put_g2(w, &key->l);
    for (size_t i = 0; i < n; i++)
        fkex_abe_put_g1(w, &key->kx[i]);
}

/* 1 if key is a key of mpk's authority for exactly these names:
 *   e(g1, K) = Y e(g1^a, L)                 (K and L belong together, and to Y)
 *   e(K_x, g2) = e(H(x), L) for every x     (each K_x is its name's)
 * checked at once, as e(g1, K) e(A, g2) e(-B, L) = Y with A = sum rho_x K_x
 * and B = g1^a + sum rho_x H(x), rho_x batch weights (abe/batch.c: a wrong
 * K_x passes with probability at most 2^-63). Three Miller loops, a
 * final exponentiation, n hashes to G1 and 2n 64-bit multiplications: a
 * key is decoded once per use of a file, and its labels are what inspect
 * reports and what decryption selects components by. */
static int key_consistent(const waters_key *key, const waters_mpk *mpk, const char *const *names,
                          size_t n)
{
    uint8_t rho[8];
    fkex_g1 a, bsum, t, hx;
    blst_p1_affine aa, ba;
    fkex_multi_pairing m;
    fkex_gt z;
    fkex_rng rng;
    int ok;
    fkex_rng_init_system(&rng);
    memset(&a, 0, sizeof a);   /* the point at infinity */
    bsum = mpk->g1a;
    for (size_t i = 0; i < n; i++) {
        fkex_abe_weight(rho, &rng);
        blst_p1_from_affine(&t, &key->kx[i]);
        fkex_abe_add_weighted(&a, &t, rho);
        hash_attr(&hx, NULL, names[i]);
        fkex_abe_add_weighted(&bsum, &hx, rho);
    }
    blst_p1_cneg(&bsum, 1);
    blst_p1_to_affine(&aa, &a);
    blst_p1_to_affine(&ba, &bsum);
    fkex_multi_pairing_init(&m);
    fkex_multi_pairing_add(&m, blst_p1_affine_generator(), &key->k);
    fkex_multi_pairing_add(&m, &aa, blst_p2_affine_generator());
    fkex_multi_pairing_add(&m, &ba, &key->l);
    fkex_multi_pairing_finish(&z, &m);
    ok = fkex_gt_equal(&z, &mpk->y);
    /* sums of the key's secret components, and the pairing of K */
    sodium_memzero(&a, sizeof a);
    sodium_memzero(&t, sizeof t);
    sodium_memzero(&aa, sizeof aa);
    sodium_memzero(&m, sizeof m);
    sodium_memzero(&z, sizeof z);
    sodium_memzero(rho, sizeof rho);
    return ok;
}

static fkex_err key_decode(void *key_, fkex_reader *r, const void *mpk, const char *const *names,
                           size_t n)
{
    waters_key *key = key_;
    fkex_err err;
    if ((err = fkex_abe_get_g2(&key->k, r)) != FKEX_OK || (err = fkex_abe_get_g2(&key->l, r)) != FKEX_OK)
        return err;
    for (size_t i = 0; i < n; i++)
        if ((err = fkex_abe_get_g1(&key->kx[i], r)) != FKEX_OK)
            return err;
    return key_consistent(key, mpk, names, n) ? FKEX_OK : FKEX_ERR_AUTHENTICATION;
}

static void ct_encode(fkex_writer *w, const void *ct_, size_t rows)
{
    const waters_ct *ct = ct_;
    fkex_abe_put_g1(w, &ct->c0);
    for (size_t i = 0; i < rows; i++) {
        fkex_abe_put_g1(w, &ct->row[i].c);
        fkex_abe_put_g2(w, &ct->row[i].d);
    }
}

static fkex_err ct_decode(void *ct_, fkex_reader *r, size_t rows)
{
    waters_ct *ct = ct_;
    fkex_err err;
    if ((err = fkex_abe_get_g1(&ct->c0, r)) != FKEX_OK)
        return err;
    for (size_t i = 0; i < rows; i++) {
        if ((err = fkex_abe_get_g1(&ct->row[i].c, r)) != FKEX_OK ||
            (err = fkex_abe_get_g2(&ct->row[i].d, r)) != FKEX_OK)
            return err;
    }
    return FKEX_OK;
}

const fkex_abe_scheme fkex_waters11 = {
    .id = FKEX_SCHEME_WATERS11,
    .mpk_size = sizeof(waters_mpk),
    .msk_size = sizeof(waters_msk),
    .key_size = key_size,
    .ct_size = ct_size,
    .setup = setup,
    .mpk_from_msk = mpk_from_msk,
    .mpk_release = mpk_release,
    .keygen = keygen,
    .encap = encap,
    .decap = decap,
    .ct_equal = ct_equal,
    .mpk_encode = mpk_encode,
    .mpk_decode = mpk_decode,
    .msk_encode = msk_encode,
    .msk_decode = msk_decode,
    .key_encode = key_encode,
    .key_decode = key_decode,
    .ct_encode = ct_encode,
    .ct_decode = ct_decode,
};
