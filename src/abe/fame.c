/*
 * abe/fame.c: Agrawal and Chase, "FAME: Fast Attribute-based Message
 * Encryption" (CCS 2017, ePrint 2017/807), section 3: the CP-ABE scheme,
 * with k = 2 (fully secure under DLIN in the random-oracle model), written
 * for a type-3 pairing e: G1 x G2 -> GT.
 *
 * Placement, in SCHEMES.md's terms: the random-oracle points appear in
 * both the rows ct_{i,l} and the key parts sk_{y,t} (and in sk'), so those
 * share G1, the paper's G; ct_0, sk_0 and the public H_1, H_2 live in G2,
 * its H. Each row then costs G1 work only (the cheaper group, and hashing
 * to G1 costs a quarter of hashing to G2), and decryption is six Miller
 * loops whatever the policy: three against sk_0, three against ct_0.
 * g and h are the standard generators g1 and g2.
 *
 *   Setup     a_1, a_2, b_1, b_2, d_1, d_2, d_3 <-$ Fr
 *             mpk = (H_1 = h^a_1, H_2 = h^a_2, T_t = e(g, h)^(d_t a_t + d_3))
 *   KeyGen(S) r_1, r_2 <-$ Fr;  br = (b_1 r_1, b_2 r_2, r_1 + r_2)
 *             sk_0 = (h^br_1, h^br_2, h^br_3)
 *             for y in S, sigma_y <-$ Fr, t = 1, 2:
 *               sk_{y,t} = prod_l H(y, l, t)^(br_l / a_t) g^(sigma_y / a_t)
 *               sk_{y,3} = g^-sigma_y
 *             sigma' <-$ Fr, t = 1, 2:
 *               sk'_t = g^d_t prod_l G(1, l, t)^(br_l / a_t) g^(sigma' / a_t)
 *               sk'_3 = g^d_3 g^-sigma'
 *   Encrypt   s_1, s_2 <-$ Fr;  ct_0 = (H_1^s_1, H_2^s_2, h^(s_1 + s_2))
 *             ct_{i,l} = prod_t [H(rho(i), l, t) prod_j G(j, l, t)^M_ij]^s_t
 *             Z = T_1^s_1 T_2^s_2  (the KEM secret; the paper's ct' = Z msg)
 *   Decrypt   with sum_i gamma_i M_i = (1, 0, .., 0):
 *             Z = prod_l e(sk'_l prod_i sk_{rho(i),l}^gamma_i, ct_{0,l})
 *                 / prod_l e(prod_i ct_{i,l}^gamma_i, sk_{0,l})
 *
 * H and G are the paper's H(y l t) and H(0 j l t), hashed to G1 under two
 * purposes (abe/fame.h) and cached by the public parameters
 * (abe/hash_cache.h); the paper's column j is the LSSS's 0-based
 * column j - 1 (policy/policy.h), so sk' uses column 1. Encrypt computes
 * each bracket, a public point, first (public coefficients, so no secret
 * meets a variable-time step), then raises it to the secret s_t; the
 * result is the paper's product regrouped.
 *
 * The master secret keeps the scalars d_t rather than the paper's g^d_t:
 * sk'_t is then one fixed-base multiplication of g by d_t + sigma' / a_t.
 */
#include "abe/abe.h"

typedef struct {
    fkex_fr a[2], b[2], d[3];
} fame_msk;

/* The fixed bases of encryption and key generation, whose combs are
 * built once they pay (pairing/base.c): mutable behind a const mpk, as the
 * caches are. */
typedef struct {
    fkex_g2_base h, h_a[2];
    fkex_gt_base t[2];
    fkex_g1_base g;
} fame_bases;

typedef struct {
    blst_p2_affine h_a[2];         /* H_t = h^a_t */
    fkex_gt t[2];                  /* T_t */
    fame_bases *bases;             /* not encoded */
    /* The random-oracle points met so far: attributes, columns. */
    fkex_hash_cache *attr_cache, *column_cache;
} fame_mpk;

/* Three G1 points: a key part sk_{y,1..3}, sk', or a row ct_{i,1..3}. */
typedef struct {
    blst_p1_affine p[3];
} fame_triple;

typedef struct {
    blst_p2_affine k0[3];          /* sk_0 */
    fame_triple kp;                /* sk' */
    fame_triple part[];            /* sk_y, one per expanded name, sorted */
} fame_key;

typedef struct {
    blst_p2_affine c0[3];          /* ct_0 */
    fame_triple row[];             /* ct_i */
} fame_ct;

/* ---- the random oracles ------------------------------------------------------ */

/* Six points: purpose, then l || t || tail hashed for each l and t. */
static void hash_family(blst_p1_affine out[6], const char *purpose, const uint8_t *tail,
                        size_t len)
{
    fkex_g1 p[6];
    const blst_p1 *ptrs[6];
    for (int l = 0; l < 3; l++) {
        for (int t = 0; t < 2; t++) {
            const uint8_t head[2] = { (uint8_t)(l + 1), (uint8_t)(t + 1) };
            fkex_g1_hash_two(&p[2 * l + t], purpose, head, sizeof head, tail, len);
            ptrs[2 * l + t] = &p[2 * l + t];
        }
    }
    blst_p1s_to_affine(out, ptrs, 6);
}

static void hash_attr(blst_p1_affine *out, const uint8_t *name, size_t len)
{
    hash_family(out, "FAME-ATTR", name, len);
}

static void hash_column(blst_p1_affine *out, const uint8_t *be, size_t len)
{
    hash_family(out, "FAME-COLUMN", be, len);
}

void fame_attr_points(fame_points *out, fkex_hash_cache *cache, const char *name)
{
    fkex_hash_cache_get(&out->p[0][0], cache, hash_attr, (const uint8_t *)name, strlen(name));
}

void fame_column_points(fame_points *out, fkex_hash_cache *cache, uint32_t j)
{
    uint8_t be[4];
    store32_be(be, j);
    fkex_hash_cache_get(&out->p[0][0], cache, hash_column, be, sizeof be);
}

/* ---- the scheme ------------------------------------------------------------ */

static size_t key_size(size_t n) { return sizeof(fame_key) + n * sizeof(fame_triple); }
static size_t ct_size(size_t rows) { return sizeof(fame_ct) + rows * sizeof(fame_triple); }

static void setup(void *msk_, fkex_rng *rng)
{
    fame_msk *msk = msk_;
    for (int t = 0; t < 2; t++) {
        fkex_fr_random(&msk->a[t], rng);
        fkex_fr_random(&msk->b[t], rng);
    }
    for (int t = 0; t < 3; t++)
        fkex_fr_random(&msk->d[t], rng);
}

static fkex_err mpk_tables(fame_mpk *mpk)
{
    fkex_g1 g;
    fkex_g2 h;
    fame_bases *b = malloc(sizeof *b);
    if (!b)
        return FKEX_ERR_NO_MEMORY;
    fkex_g1_generator(&g);
    fkex_g2_generator(&h);
    fkex_g1_base_init(&b->g, &g);
    fkex_g2_base_init(&b->h, &h);
    for (int t = 0; t < 2; t++) {
        blst_p2_from_affine(&h, &mpk->h_a[t]);
        fkex_g2_base_init(&b->h_a[t], &h);
        fkex_gt_base_init(&b->t[t], &mpk->t[t]);
    }
    mpk->bases = b;
    mpk->attr_cache = fkex_hash_cache_new(6);
    mpk->column_cache = fkex_hash_cache_new(6);
    return FKEX_OK;
}

static void mpk_release(void *mpk_)
{
    fame_mpk *mpk = mpk_;
    fame_bases *b = mpk->bases;
    if (b) {
        fkex_g1_base_clear(&b->g);
        fkex_g2_base_clear(&b->h);
        for (int t = 0; t < 2; t++) {
            fkex_g2_base_clear(&b->h_a[t]);
            fkex_gt_base_clear(&b->t[t]);
        }
        free(b);
    }
    fkex_hash_cache_free(mpk->attr_cache);
    fkex_hash_cache_free(mpk->column_cache);
}

static fkex_err mpk_from_msk(void *mpk_, const void *msk_)
{
    fame_mpk *mpk = mpk_;
    const fame_msk *msk = msk_;
    fkex_g1 g;
    fkex_g2 h, p;
    fkex_gt e;
    fkex_fr k;
    fkex_g1_generator(&g);
    fkex_g2_generator(&h);
    fkex_pairing(&e, &g, &h);
    for (int t = 0; t < 2; t++) {
        fkex_g2_mul(&p, &h, &msk->a[t]);
        blst_p2_to_affine(&mpk->h_a[t], &p);
        fkex_fr_mul(&k, &msk->d[t], &msk->a[t]);
        fkex_fr_add(&k, &k, &msk->d[2]);
        fkex_gt_pow(&mpk->t[t], &e, &k);
    }
    sodium_memzero(&k, sizeof k);
    return mpk_tables(mpk);
}

/* One key triple, sk_y (d = 0, the attribute's points) or sk' (d = the
 * master's, column 1's points):
 *   out_t = prod_l P[l][t]^(br_l / a_t) g^(d_t + sigma / a_t),  t = 1, 2
 *   out_3 = g^(d_3 - sigma)
 * e[l][t] = br_l / a_t. */
static void key_triple(fame_triple *out, const fame_points *pts, const fkex_fr e[3][2],
                       const fkex_fr inv_a[2], const fkex_fr d[3], const fkex_fr *sigma,
                       fkex_g1_base *g)
{
    fkex_g1 sum[3], term, base;
    const blst_p1 *ptrs[3];
    fkex_fr k;
    for (int t = 0; t < 2; t++) {
        fkex_fr_mul(&k, sigma, &inv_a[t]);
        fkex_fr_add(&k, &k, &d[t]);
        fkex_g1_base_mul(&sum[t], g, &k);
        for (int l = 0; l < 3; l++) {
            blst_p1_from_affine(&base, &pts->p[l][t]);
            fkex_g1_mul(&term, &base, &e[l][t]);
            fkex_g1_add(&sum[t], &sum[t], &term);
        }
        ptrs[t] = &sum[t];
    }
    fkex_fr_sub(&k, &d[2], sigma);
    fkex_g1_base_mul(&sum[2], g, &k);
    ptrs[2] = &sum[2];
    blst_p1s_to_affine(out->p, ptrs, 3);
    sodium_memzero(sum, sizeof sum);
    sodium_memzero(&term, sizeof term);
    sodium_memzero(&k, sizeof k);
}

static void keygen(void *key_, const void *msk_, const void *mpk_, size_t n,
                   const char *const *names, fkex_rng *rng)
{
    fame_key *key = key_;
    const fame_msk *msk = msk_;
    const fame_mpk *mpk = mpk_;
    static const fkex_fr zero[3];
    fkex_fr r[2], br[3], inv_a[2], e[3][2], sigma;
    fkex_g2 k0[3];
    const blst_p2 *ptrs[3];
    fame_points pts;

    fkex_fr_random(&r[0], rng);
    fkex_fr_random(&r[1], rng);
    fkex_fr_mul(&br[0], &msk->b[0], &r[0]);
    fkex_fr_mul(&br[1], &msk->b[1], &r[1]);
    fkex_fr_add(&br[2], &r[0], &r[1]);
    for (int l = 0; l < 3; l++) {
        fkex_g2_base_mul(&k0[l], &mpk->bases->h, &br[l]);
        ptrs[l] = &k0[l];
    }
    blst_p2s_to_affine(key->k0, ptrs, 3);
    for (int t = 0; t < 2; t++)
        fkex_fr_inv(&inv_a[t], &msk->a[t]);
    for (int l = 0; l < 3; l++)
        for (int t = 0; t < 2; t++)
            fkex_fr_mul(&e[l][t], &br[l], &inv_a[t]);

    /* The key's own names are hashed afresh: the cache holds only the
     * public policies encryption met (see key_consistent), and an
     * authority's key generation would otherwise take less time for the
     * attributes it had issued before. */
    for (size_t i = 0; i < n; i++) {
        fame_attr_points(&pts, NULL, names[i]);
        fkex_fr_random(&sigma, rng);
        key_triple(&key->part[i], &pts, e, inv_a, zero, &sigma, &mpk->bases->g);
    }
    fame_column_points(&pts, mpk->column_cache, 1);
    fkex_fr_random(&sigma, rng);
    key_triple(&key->kp, &pts, e, inv_a, msk->d, &sigma, &mpk->bases->g);

    sodium_memzero(r, sizeof r);
    sodium_memzero(br, sizeof br);
    sodium_memzero(inv_a, sizeof inv_a);
    sodium_memzero(e, sizeof e);
    sodium_memzero(&sigma, sizeof sigma);
    sodium_memzero(k0, sizeof k0);
}

/* The public brackets of row i:
 *   base[l][t] = H(rho(i), l, t) prod_j G(j, l, t)^M_ij
 * AND and OR give coefficients 1 and -1, additions; a threshold gate's
 * others are multiplications by public scalars. */
static void row_bases(fkex_g1 base[3][2], const fame_mpk *mpk, const fkex_lsss *lsss, size_t i,
                      const fkex_fr *minus_one)
{
    fame_points pts;
    const fkex_lsss_entry *e = &lsss->entry[lsss->row_start[i]];
    size_t ne = lsss->row_start[i + 1] - lsss->row_start[i];
    fame_attr_points(&pts, mpk->attr_cache, lsss->attr[i]);
    for (int l = 0; l < 3; l++)
        for (int t = 0; t < 2; t++)
            blst_p1_from_affine(&base[l][t], &pts.p[l][t]);
    for (size_t k = 0; k < ne; k++) {
        int one = fkex_fr_is_one(&e[k].value), minus = fkex_fr_equal(&e[k].value, minus_one);
        fame_column_points(&pts, mpk->column_cache, e[k].col + 1);
        for (int l = 0; l < 3; l++) {
            for (int t = 0; t < 2; t++) {
                blst_p1_affine *g = &pts.p[l][t];
                fkex_g1 m;
                if (one || minus) {
                    blst_fp_cneg(&g->y, &g->y, (size_t)minus);
                    blst_p1_add_or_double_affine(&base[l][t], &base[l][t], g);
                } else {
                    blst_p1_from_affine(&m, g);
                    fkex_g1_mul(&m, &m, &e[k].value);
                    fkex_g1_add(&base[l][t], &base[l][t], &m);
                }
            }
        }
    }
}

/* Encrypt(PK, (M, rho)) with s_1, s_2 from rng in that order (the
 * Fujisaki-Okamoto check replays them). */
static fkex_err encap(fkex_gt *z, void *ct_, const void *mpk_, const fkex_lsss *lsss,
                      fkex_rng *rng)
{
    fame_ct *ct = ct_;
    const fame_mpk *mpk = mpk_;
    fkex_fr s[2], sum, minus_one;
    fkex_g2 c0[3];
    const blst_p2 *c0p[3];
    fkex_g1 base[3][2], term, rows[16][3];
    const blst_p1 *rp[48];
    fkex_gt z2;

    fkex_fr_random(&s[0], rng);
    fkex_fr_random(&s[1], rng);
    fkex_fr_add(&sum, &s[0], &s[1]);
    fkex_g2_base_mul(&c0[0], &mpk->bases->h_a[0], &s[0]);
    fkex_g2_base_mul(&c0[1], &mpk->bases->h_a[1], &s[1]);
    fkex_g2_base_mul(&c0[2], &mpk->bases->h, &sum);
    for (int l = 0; l < 3; l++)
        c0p[l] = &c0[l];
    blst_p2s_to_affine(ct->c0, c0p, 3);
    fkex_gt_base_pow(z, &mpk->bases->t[0], &s[0]);
    fkex_gt_base_pow(&z2, &mpk->bases->t[1], &s[1]);
    fkex_gt_mul(z, z, &z2);

    fkex_fr_one(&minus_one);
    fkex_fr_neg(&minus_one, &minus_one);
    for (size_t done = 0; done < lsss->rows;) {
        size_t batch = lsss->rows - done < 16 ? lsss->rows - done : 16;
        for (size_t j = 0; j < batch; j++) {
            row_bases(base, mpk, lsss, done + j, &minus_one);
            for (int l = 0; l < 3; l++) {
                fkex_g1_mul(&rows[j][l], &base[l][0], &s[0]);
                fkex_g1_mul(&term, &base[l][1], &s[1]);
                fkex_g1_add(&rows[j][l], &rows[j][l], &term);
                rp[3 * j + (size_t)l] = &rows[j][l];
            }
        }
        /* One inversion per batch (Montgomery's trick) instead of per point. */
        blst_p1s_to_affine(ct->row[done].p, rp, 3 * batch);
        done += batch;
    }
    sodium_memzero(s, sizeof s);
    sodium_memzero(&sum, sizeof sum);
    sodium_memzero(c0, sizeof c0);
    sodium_memzero(&term, sizeof term);
    sodium_memzero(rows, sizeof rows);
    sodium_memzero(&z2, sizeof z2);
    return FKEX_OK;
}

/* z = prod_l e(P_l, Q_l) e(-R_l, sk_{0,l}), the shape of both FAME's
 * decryption and its key check: one conversion to affine for the six G1
 * points, one multi-Miller loop, one final exponentiation. R is negated
 * in place; the affine copies (sums of key parts) are wiped. */
static void pair_six(fkex_gt *z, const fkex_g1 p[3], const blst_p2_affine *const q[3],
                     fkex_g1 r[3], const blst_p2_affine sk0[3])
{
    const blst_p1 *ptrs[6];
    blst_p1_affine a[6];
    fkex_multi_pairing m;
    for (int l = 0; l < 3; l++) {
        blst_p1_cneg(&r[l], 1);
        ptrs[l] = &p[l];
        ptrs[3 + l] = &r[l];
    }
    blst_p1s_to_affine(a, ptrs, 6);
    fkex_multi_pairing_init(&m);
    for (int l = 0; l < 3; l++) {
        fkex_multi_pairing_add(&m, &a[l], q[l]);
        fkex_multi_pairing_add(&m, &a[3 + l], &sk0[l]);
    }
    fkex_multi_pairing_finish(z, &m);
    sodium_memzero(a, sizeof a);
}

/* acc += p if keep, acc += O (the affine (0, 0)) if not: the same
 * addition either way, keep is secret. */
static void add_masked(fkex_g1 *acc, const blst_p1_affine *p, limb_t keep)
{
    blst_p1_affine q = *p;
    limb_t mask = 0 - keep, *w = (limb_t *)&q;
    for (size_t i = 0; i < FKEX_LIMBS(q); i++)
        w[i] &= mask;
    blst_p1_add_or_double_affine(acc, acc, &q);
    sodium_memzero(&q, sizeof q);
}

/* acc += omega p, constant time in omega (0 for a row not used). */
static void add_scaled(fkex_g1 *acc, const blst_p1_affine *p, const fkex_fr *omega)
{
    fkex_g1 t;
    blst_p1_from_affine(&t, p);
    fkex_g1_mul(&t, &t, omega);
    fkex_g1_add(acc, acc, &t);
    sodium_memzero(&t, sizeof t);
}

/* Decrypt over every row of the policy with gamma_i = omega_i, 0 for the
 * rows the key does not use:
 *   Z = FE( prod_l ML(K_l, ct_{0,l}) ML(-C_l, sk_{0,l}) )
 *   K_l = sk'_l + sum_i omega_i sk_{rho(i),l},  C_l = sum_i omega_i ct_{i,l}
 * Six Miller loops sharing their squarings and one final exponentiation,
 * plus six masked G1 additions per row (six multiplications if the policy
 * has a threshold gate), whichever rows the key uses: a relay timing
 * admission learns no branch (PROTOCOL.md, version 2). sk_{rho(i)} is read
 * by a masked scan over all nnames key parts. */
static void decap(fkex_gt *z, const void *key_, size_t nnames, const void *ct_,
                  const fkex_lsss_solution *sol)
{
    const fame_key *key = key_;
    const fame_ct *ct = ct_;
    const blst_p2_affine *c0[3] = { &ct->c0[0], &ct->c0[1], &ct->c0[2] };
    fkex_g1 k[3], c[3];
    fame_triple part;

    for (int l = 0; l < 3; l++) {
        blst_p1_from_affine(&k[l], &key->kp.p[l]);
        memset(&c[l], 0, sizeof c[l]);   /* the identity */
    }
    for (size_t i = 0; i < sol->rows; i++) {
        fkex_ct_select((limb_t *)&part, (const limb_t *)key->part, FKEX_LIMBS(part), nnames,
                       sol->key_attr[i]);
        limb_t used = (limb_t)(1 ^ fkex_fr_is_zero(&sol->omega[i]));
        for (int l = 0; l < 3; l++) {
            if (sol->all_one) {    /* public: the policy's shape */
                add_masked(&k[l], &part.p[l], used);
                add_masked(&c[l], &ct->row[i].p[l], used);
            } else {
                add_scaled(&k[l], &part.p[l], &sol->omega[i]);
                add_scaled(&c[l], &ct->row[i].p[l], &sol->omega[i]);
            }
        }
    }
    pair_six(z, k, c0, c, key->k0);
    sodium_memzero(k, sizeof k);
    sodium_memzero(c, sizeof c);
    sodium_memzero(&part, sizeof part);
}

static int ct_equal(const void *a_, const void *b_, size_t rows)
{
    const fame_ct *a = a_, *b = b_;
    int same = 1;
    for (int l = 0; l < 3; l++)
        same &= blst_p2_affine_is_equal(&a->c0[l], &b->c0[l]);
    for (size_t i = 0; i < rows; i++)
        for (int l = 0; l < 3; l++)
            same &= blst_p1_affine_is_equal(&a->row[i].p[l], &b->row[i].p[l]);
    return same;
}

/* ---- bodies (points: abe/points.c) ------------------------------------------ */

static void put_triple(fkex_writer *w, const fame_triple *t)
{
    for (int l = 0; l < 3; l++)
        fkex_abe_put_g1(w, &t->p[l]);
}

static fkex_err get_triple(fame_triple *t, fkex_reader *r)
{
    fkex_err err = FKEX_OK;
    for (int l = 0; l < 3 && err == FKEX_OK; l++)
        err = fkex_abe_get_g1(&t->p[l], r);
    return err;
}

/* body: H_1 (96) | H_2 (96) | T_1 (576) | T_2 (576) */
static void mpk_encode(fkex_writer *w, const void *mpk_)
{
    const fame_mpk *mpk = mpk_;
    uint8_t b[576];
    for (int t = 0; t < 2; t++)
        fkex_abe_put_g2(w, &mpk->h_a[t]);
    for (int t = 0; t < 2; t++) {
        fkex_gt_to_bytes(b, &mpk->t[t]);
        fkex_writer_put(w, b, 576);
    }
}

static fkex_err mpk_decode(void *mpk_, fkex_reader *r)
{
    fame_mpk *mpk = mpk_;
    const uint8_t *b;
    fkex_err err;
    for (int t = 0; t < 2; t++)
        if ((err = fkex_abe_get_g2(&mpk->h_a[t], r)) != FKEX_OK)
            return err;
    for (int t = 0; t < 2; t++) {
        if (fkex_reader_view(r, &b, 576) != 0)
            return FKEX_ERR_TRUNCATED;
        if ((err = fkex_gt_from_bytes(&mpk->t[t], b)) != FKEX_OK)
            return err;
        /* T_t = 1 would make its half of Z public. */
        if (blst_fp12_is_one(&mpk->t[t]))
            return FKEX_ERR_NOT_IN_GROUP;
    }
    return mpk_tables(mpk);
}

/* body: a_1 | a_2 | b_1 | b_2 | d_1 | d_2 | d_3, 32 bytes each */
static void msk_encode(fkex_writer *w, const void *msk_)
{
    const fame_msk *msk = msk_;
    const fkex_fr *all[7] = { &msk->a[0], &msk->a[1], &msk->b[0], &msk->b[1],
                              &msk->d[0], &msk->d[1], &msk->d[2] };
    uint8_t b[32];
    for (int i = 0; i < 7; i++) {
        fkex_fr_to_bytes(b, all[i]);
        fkex_writer_put(w, b, 32);
    }
    sodium_memzero(b, sizeof b);
}

static fkex_err msk_decode(void *msk_, fkex_reader *r)
{
    fame_msk *msk = msk_;
    fkex_fr *all[7] = { &msk->a[0], &msk->a[1], &msk->b[0], &msk->b[1],
                        &msk->d[0], &msk->d[1], &msk->d[2] };
    const uint8_t *b;
    for (int i = 0; i < 7; i++) {
        if (fkex_reader_view(r, &b, 32) != 0)
            return FKEX_ERR_TRUNCATED;
        if (fkex_fr_from_bytes(all[i], b) != FKEX_OK)
            return FKEX_ERR_BAD_ENCODING;
    }
    /* a_t is inverted in keygen; b_t = 0 would put the identity in sk_0. */
    for (int t = 0; t < 2; t++)
        if (fkex_fr_is_zero(&msk->a[t]) || fkex_fr_is_zero(&msk->b[t]))
            return FKEX_ERR_BAD_ENCODING;
    return FKEX_OK;
}

/* body: sk_0 (3 x 96) | sk' (3 x 48) | sk_y (3 x 48) per name, sorted */
static void key_encode(fkex_writer *w, const void *key_, size_t n)
{
    const fame_key *key = key_;
    for (int l = 0; l < 3; l++)
        fkex_abe_put_g2(w, &key->k0[l]);
    put_triple(w, &key->kp);
    for (size_t i = 0; i < n; i++)
        put_triple(w, &key->part[i]);
}

/* 1 if every part sk_y belongs to its name y and to the key's sk_0, and
 * sk' to the public parameters. The paper's equations give, decrypting
 * with s_1 = s_2 = 1 (the sigma terms cancel as they do against ct_0):
 *   e(sk_{y,1}, H_1) e(sk_{y,2}, H_2) e(sk_{y,3}, h)^2
 *     = prod_l e(H(y, l, 1) H(y, l, 2), sk_{0,l})
 *   e(sk'_1, H_1) e(sk'_2, H_2) e(sk'_3, h)^2
 *     = T_1 T_2 prod_l e(G(1, l, 1) G(1, l, 2), sk_{0,l})
 * (T_1 T_2 = e(g, h)^(d_1 a_1 + d_2 a_2 + 2 d_3)). All are checked at once,
 * sk' with weight 1 and each sk_y with a batch weight rho_y (abe/batch.c:
 * a wrong part passes with probability at most 2^-63):
 *   e(A_1, H_1) e(A_2, H_2) e(2 A_3, h) prod_l e(-B_l, sk_{0,l}) = T_1 T_2,
 *   A_t = sk'_t + sum_y rho_y sk_{y,t},
 *   B_l = G(1, l, 1) + G(1, l, 2) + sum_y rho_y (H(y, l, 1) + H(y, l, 2)).
 * Six Miller loops, a final exponentiation, 6n hashes and 6n 64-bit
 * multiplications. The names are hashed afresh, not through the cache:
 * names cached at decoding would make the first re-encryption of a policy
 * (the Fujisaki-Okamoto check) faster for the rows this key holds, and a
 * relay timing admission would learn which. */
static int key_consistent(const fame_key *key, const fame_mpk *mpk, const char *const *names,
                          size_t n)
{
    const blst_p2_affine *h[3] = { &mpk->h_a[0], &mpk->h_a[1], blst_p2_affine_generator() };
    uint8_t rho[8];
    fkex_g1 a[3], b[3], t;
    fame_points pts;
    fkex_gt z, want;
    fkex_rng rng;
    int ok;
    fkex_rng_init_system(&rng);
    fame_column_points(&pts, mpk->column_cache, 1);
    for (int l = 0; l < 3; l++) {
        blst_p1_from_affine(&a[l], &key->kp.p[l]);
        blst_p1_from_affine(&b[l], &pts.p[l][0]);
        blst_p1_add_or_double_affine(&b[l], &b[l], &pts.p[l][1]);
    }
    for (size_t i = 0; i < n; i++) {
        fkex_abe_weight(rho, &rng);
        fame_attr_points(&pts, NULL, names[i]);
        for (int l = 0; l < 3; l++) {
            blst_p1_from_affine(&t, &key->part[i].p[l]);
            fkex_abe_add_weighted(&a[l], &t, rho);
            blst_p1_from_affine(&t, &pts.p[l][0]);
            blst_p1_add_or_double_affine(&t, &t, &pts.p[l][1]);
            fkex_abe_add_weighted(&b[l], &t, rho);
        }
    }
    blst_p1_double(&a[2], &a[2]);
    pair_six(&z, a, h, b, key->k0);
    fkex_gt_mul(&want, &mpk->t[0], &mpk->t[1]);
    ok = fkex_gt_equal(&z, &want);
    /* sums of the key's secret parts, and a pairing of them */
    sodium_memzero(a, sizeof a);
    sodium_memzero(&t, sizeof t);
    sodium_memzero(&z, sizeof z);
    sodium_memzero(rho, sizeof rho);
    return ok;
}

static fkex_err key_decode(void *key_, fkex_reader *r, const void *mpk, const char *const *names,
                           size_t n)
{
    fame_key *key = key_;
    fkex_err err;
    for (int l = 0; l < 3; l++)
        if ((err = fkex_abe_get_g2(&key->k0[l], r)) != FKEX_OK)
            return err;
    if ((err = get_triple(&key->kp, r)) != FKEX_OK)
        return err;
    for (size_t i = 0; i < n; i++)
        if ((err = get_triple(&key->part[i], r)) != FKEX_OK)
            return err;
    return key_consistent(key, mpk, names, n) ? FKEX_OK : FKEX_ERR_AUTHENTICATION;
}

/* body: ct_0 (3 x 96) | ct_i (3 x 48) per row */
static void ct_encode(fkex_writer *w, const void *ct_, size_t rows)
{
    const fame_ct *ct = ct_;
    for (int l = 0; l < 3; l++)
        fkex_abe_put_g2(w, &ct->c0[l]);
    for (size_t i = 0; i < rows; i++)
        put_triple(w, &ct->row[i]);
}

static fkex_err ct_decode(void *ct_, fkex_reader *r, size_t rows)
{
    fame_ct *ct = ct_;
    fkex_err err;
    for (int l = 0; l < 3; l++)
        if ((err = fkex_abe_get_g2(&ct->c0[l], r)) != FKEX_OK)
            return err;
    for (size_t i = 0; i < rows; i++)
        if ((err = get_triple(&ct->row[i], r)) != FKEX_OK)
            return err;
    return FKEX_OK;
}

const fkex_abe_scheme fkex_fame = {
    .id = FKEX_SCHEME_FAME,
    .mpk_size = sizeof(fame_mpk),
    .msk_size = sizeof(fame_msk),
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
