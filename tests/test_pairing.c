/* Pairing layer: algebra, encodings, validation, constant-time paths. */
#include "test.h"

static void random_g1(fkex_g1 *out, fkex_rng *rng)
{
    fkex_fr k;
    fkex_g1 g;
    fkex_fr_random(&k, rng);
    fkex_g1_generator(&g);
    fkex_g1_mul(out, &g, &k);
}

static void random_g2(fkex_g2 *out, fkex_rng *rng)
{
    fkex_fr k;
    fkex_g2 g;
    fkex_fr_random(&k, rng);
    fkex_g2_generator(&g);
    fkex_g2_mul(out, &g, &k);
}

static void test_fr_field(void)
{
    fkex_rng rng;
    test_rng(&rng, "fr field");
    for (int i = 0; i < 100; i++) {
        fkex_fr a, b, c, inv, one, neg, zero;
        uint8_t bytes[32];
        fkex_fr_random(&a, &rng);
        fkex_fr_random(&b, &rng);
        fkex_fr_add(&c, &a, &b);
        fkex_fr_sub(&c, &c, &b);
        CHECK(fkex_fr_equal(&c, &a));
        fkex_fr_inv(&inv, &a);
        fkex_fr_mul(&c, &a, &inv);
        CHECK(fkex_fr_is_one(&c));
        fkex_fr_neg(&neg, &a);
        fkex_fr_add(&c, &a, &neg);
        CHECK(fkex_fr_is_zero(&c));
        fkex_fr_to_bytes(bytes, &a);
        CHECK_OK(fkex_fr_from_bytes(&c, bytes));
        CHECK(fkex_fr_equal(&c, &a));
        fkex_fr_one(&one);
        fkex_fr_zero(&zero);
        CHECK(!fkex_fr_equal(&one, &zero));
    }
}

static void test_fr_rejects_non_canonical(void)
{
    /* r = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001 */
    static const uint8_t r[32] = {
        0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1, 0xd8, 0x05,
        0x53, 0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
    };
    uint8_t x[32];
    fkex_fr f;
    CHECK_ERR(fkex_fr_from_bytes(&f, r), FKEX_ERR_BAD_ENCODING);
    memset(x, 0xff, sizeof x);
    CHECK_ERR(fkex_fr_from_bytes(&f, x), FKEX_ERR_BAD_ENCODING);
    memcpy(x, r, 32);
    x[31] = 0x00;   /* r - 1 */
    CHECK_OK(fkex_fr_from_bytes(&f, x));
}

static void test_rng_deterministic(void)
{
    fkex_rng a, b;
    uint8_t x[100], y[100];
    test_rng(&a, "same");
    test_rng(&b, "same");
    fkex_rng_fill(&a, x, sizeof x);
    fkex_rng_fill(&b, y, sizeof y);
    CHECK(memcmp(x, y, sizeof x) == 0);
    fkex_rng_fill(&a, x, sizeof x);
    CHECK(memcmp(x, y, sizeof x) != 0);
    test_rng(&b, "other");
    fkex_rng_fill(&b, y, sizeof y);
    CHECK(memcmp(x, y, sizeof x) != 0);
}

static void test_bilinearity(void)
{
    fkex_rng rng;
    test_rng(&rng, "bilinear");
    fkex_g1 g1, pa;
    fkex_g2 g2, qb;
    fkex_gt e1, e2, e3;
    fkex_fr a, b, ab;
    fkex_g1_generator(&g1);
    fkex_g2_generator(&g2);
    for (int i = 0; i < 4; i++) {
        fkex_fr_random(&a, &rng);
        fkex_fr_random(&b, &rng);
        fkex_fr_mul(&ab, &a, &b);
        fkex_g1_mul(&pa, &g1, &a);
        fkex_g2_mul(&qb, &g2, &b);
        fkex_pairing(&e1, &pa, &qb);          /* e(aP, bQ) */
        fkex_pairing(&e2, &g1, &g2);
        fkex_gt_pow(&e3, &e2, &ab);           /* e(P, Q)^ab */
        CHECK(fkex_gt_equal(&e1, &e3));
        CHECK(blst_fp12_in_group(&e1));
        CHECK(!blst_fp12_is_one(&e2));
    }
}

static void test_gt_pow_matches_g1_mul(void)
{
    fkex_rng rng;
    test_rng(&rng, "gt pow");
    fkex_g1 g1, p;
    fkex_g2 g2;
    fkex_gt base, lhs, rhs;
    fkex_g1_generator(&g1);
    fkex_g2_generator(&g2);
    fkex_pairing(&base, &g1, &g2);
    static fkex_gt_fixed fixed;
    fkex_gt_fixed_init(&fixed, &base);
    /* Edge scalars as well as random ones. */
    for (int i = 0; i < 8; i++) {
        fkex_fr k;
        if (i == 0)
            fkex_fr_zero(&k);
        else if (i == 1)
            fkex_fr_one(&k);
        else if (i == 2) {
            fkex_fr_one(&k);
            fkex_fr_neg(&k, &k);      /* r - 1 */
        } else
            fkex_fr_random(&k, &rng);
        fkex_gt_pow(&lhs, &base, &k);
        fkex_g1_mul(&p, &g1, &k);
        fkex_pairing(&rhs, &p, &g2);
        if (i == 0)
            CHECK(blst_fp12_is_one(&lhs));
        else
            CHECK(fkex_gt_equal(&lhs, &rhs));
        fkex_gt_fixed_pow(&rhs, &fixed, &k);
        CHECK(fkex_gt_equal(&lhs, &rhs));
    }
}

static void test_multi_pairing(void)
{
    fkex_rng rng;
    test_rng(&rng, "multi");
    CHECK(blst_pairing_sizeof() <= FKEX_PAIRING_CTX_BYTES);
    for (size_t n = 0; n <= 19; n += (n < 3 ? 1 : 8)) {
        blst_p1_affine p[20];
        blst_p2_affine q[20];
        fkex_gt want, got, e;
        fkex_gt_one(&want);
        for (size_t i = 0; i < n; i++) {
            fkex_g1 a;
            fkex_g2 b;
            random_g1(&a, &rng);
            random_g2(&b, &rng);
            blst_p1_to_affine(&p[i], &a);
            blst_p2_to_affine(&q[i], &b);
            fkex_pairing(&e, &a, &b);
            fkex_gt_mul(&want, &want, &e);
        }
        fkex_multi_pairing m;
        fkex_multi_pairing_init(&m);
        for (size_t i = 0; i < n; i++)
            fkex_multi_pairing_add(&m, &p[i], &q[i]);
        fkex_multi_pairing_finish(&got, &m);
        CHECK(fkex_gt_equal(&got, &want));
    }
    /* A pair with the identity contributes 1. */
    {
        blst_p1_affine p[2];
        blst_p2_affine q[2];
        fkex_g1 a;
        fkex_g2 b;
        fkex_gt want, got;
        random_g1(&a, &rng);
        random_g2(&b, &rng);
        blst_p1_to_affine(&p[0], &a);
        blst_p2_to_affine(&q[0], &b);
        memset(&p[1], 0, sizeof p[1]);
        q[1] = q[0];
        fkex_pairing(&want, &a, &b);
        fkex_multi_pairing m;
        fkex_multi_pairing_init(&m);
        fkex_multi_pairing_add(&m, &p[0], &q[0]);
        fkex_multi_pairing_add(&m, &p[1], &q[1]);
        fkex_multi_pairing_finish(&got, &m);
        CHECK(fkex_gt_equal(&got, &want));
    }
}

static void test_fixed_base(void)
{
    fkex_rng rng;
    test_rng(&rng, "fixed");
    static fkex_g1_fixed t1;
    static fkex_g2_fixed t2;
    fkex_g1 b1, x1, y1;
    fkex_g2 b2, x2, y2;
    random_g1(&b1, &rng);
    random_g2(&b2, &rng);
    fkex_g1_fixed_init(&t1, &b1);
    fkex_g2_fixed_init(&t2, &b2);
    for (int i = 0; i < 40; i++) {
        fkex_fr k;
        uint8_t bytes[32];
        if (i == 0)
            fkex_fr_zero(&k);
        else if (i == 1) {
            fkex_fr_one(&k);
            fkex_fr_neg(&k, &k);
        } else if (i < 6) {
            /* scalars whose low bytes are all ones: every window at its maximum */
            memset(bytes, 0, sizeof bytes);
            memset(bytes + 32 - 4 * (i - 1), 0xff, 4 * (i - 1));
            bytes[0] &= 0x3f;
            CHECK_OK(fkex_fr_from_bytes(&k, bytes));
        } else
            fkex_fr_random(&k, &rng);
        fkex_g1_fixed_mul(&x1, &t1, &k);
        fkex_g1_mul(&y1, &b1, &k);
        CHECK(fkex_g1_equal(&x1, &y1));
        fkex_g2_fixed_mul(&x2, &t2, &k);
        fkex_g2_mul(&y2, &b2, &k);
        CHECK(fkex_g2_equal(&x2, &y2));
    }
}

static void test_point_encodings(void)
{
    fkex_rng rng;
    test_rng(&rng, "encodings");
    for (int i = 0; i < 20; i++) {
        fkex_g1 a, a2;
        fkex_g2 b, b2;
        uint8_t e1[48], e2[96];
        random_g1(&a, &rng);
        random_g2(&b, &rng);
        fkex_g1_to_bytes(e1, &a);
        fkex_g2_to_bytes(e2, &b);
        CHECK_OK(fkex_g1_from_bytes(&a2, e1));
        CHECK_OK(fkex_g2_from_bytes(&b2, e2));
        CHECK(fkex_g1_equal(&a, &a2));
        CHECK(fkex_g2_equal(&b, &b2));
        /* Clearing the compression flag is not our canonical form. */
        e1[0] &= 0x7f;
        CHECK(fkex_g1_from_bytes(&a2, e1) != FKEX_OK);
        e2[0] &= 0x7f;
        CHECK(fkex_g2_from_bytes(&b2, e2) != FKEX_OK);
    }
    /* The identity is refused. */
    {
        uint8_t inf1[48] = { 0xc0 }, inf2[96] = { 0xc0 };
        fkex_g1 a;
        fkex_g2 b;
        CHECK_ERR(fkex_g1_from_bytes(&a, inf1), FKEX_ERR_NOT_IN_GROUP);
        CHECK_ERR(fkex_g2_from_bytes(&b, inf2), FKEX_ERR_NOT_IN_GROUP);
    }
    /* x >= p: all-ones x with the compression bit. */
    {
        uint8_t big[48];
        fkex_g1 a;
        memset(big, 0xff, sizeof big);
        big[0] = 0x9f;
        CHECK(fkex_g1_from_bytes(&a, big) != FKEX_OK);
    }
}

/* Points on the curve but outside the prime-order subgroup: most x that
 * decompress at all give such a point, since the cofactors are large. */
static void test_subgroup_rejected(void)
{
    fkex_rng rng;
    test_rng(&rng, "subgroup");
    int found1 = 0, found2 = 0;
    for (int tries = 0; tries < 200 && (found1 < 5 || found2 < 5); tries++) {
        uint8_t e1[48], e2[96];
        blst_p1_affine a1;
        blst_p2_affine a2;
        fkex_g1 g;
        fkex_g2 h;
        fkex_rng_fill(&rng, e1, sizeof e1);
        fkex_rng_fill(&rng, e2, sizeof e2);
        e1[0] = (uint8_t)((e1[0] & 0x1f) | 0x80);
        e2[0] = (uint8_t)((e2[0] & 0x1f) | 0x80);
        if (blst_p1_uncompress(&a1, e1) == BLST_SUCCESS && !blst_p1_affine_in_g1(&a1)) {
            CHECK_ERR(fkex_g1_from_bytes(&g, e1), FKEX_ERR_NOT_IN_GROUP);
            found1++;
        }
        if (blst_p2_uncompress(&a2, e2) == BLST_SUCCESS && !blst_p2_affine_in_g2(&a2)) {
            CHECK_ERR(fkex_g2_from_bytes(&h, e2), FKEX_ERR_NOT_IN_GROUP);
            found2++;
        }
    }
    CHECK(found1 >= 5 && found2 >= 5);
}

static void test_gt_encoding(void)
{
    fkex_g1 g1;
    fkex_g2 g2;
    fkex_gt e, e2, ml;
    uint8_t bytes[576];
    blst_p1_affine pa;
    blst_p2_affine qa;
    fkex_g1_generator(&g1);
    fkex_g2_generator(&g2);
    fkex_pairing(&e, &g1, &g2);
    fkex_gt_to_bytes(bytes, &e);
    CHECK_OK(fkex_gt_from_bytes(&e2, bytes));
    CHECK(fkex_gt_equal(&e, &e2));
    /* A Miller loop value without the final exponentiation is in Fp12* but
     * not in the order-r subgroup. */
    blst_p1_to_affine(&pa, &g1);
    blst_p2_to_affine(&qa, &g2);
    blst_miller_loop(&ml, &qa, &pa);
    fkex_gt_to_bytes(bytes, &ml);
    CHECK_ERR(fkex_gt_from_bytes(&e2, bytes), FKEX_ERR_NOT_IN_GROUP);
    /* A coordinate >= p is not canonical. */
    fkex_gt_to_bytes(bytes, &e);
    memset(bytes, 0xff, 48);
    CHECK_ERR(fkex_gt_from_bytes(&e2, bytes), FKEX_ERR_BAD_ENCODING);
}

static void test_hash_domain_separation(void)
{
    fkex_g1 a, b, c;
    blst_p1_affine aff;
    fkex_g1_hash(&a, "ATTR", (const uint8_t *)"ONE", 3);
    fkex_g1_hash(&b, "ATTR", (const uint8_t *)"ONE", 3);
    fkex_g1_hash(&c, "CONST", (const uint8_t *)"ONE", 3);
    CHECK(fkex_g1_equal(&a, &b));
    CHECK(!fkex_g1_equal(&a, &c));
    blst_p1_to_affine(&aff, &a);
    CHECK(blst_p1_affine_in_g1(&aff));
    fkex_g1_hash(&b, "ATTR", (const uint8_t *)"ONE ", 4);
    CHECK(!fkex_g1_equal(&a, &b));
    /* Purposes too long for a 255-byte tag (RFC 9380 §5.3.3) stay distinct. */
    {
        char p1[300], p2[300];
        memset(p1, 'X', sizeof p1 - 1);
        p1[sizeof p1 - 1] = '\0';
        memcpy(p2, p1, sizeof p2);
        p2[290] = 'Y';
        fkex_g1_hash(&a, p1, (const uint8_t *)"ONE", 3);
        fkex_g1_hash(&b, p2, (const uint8_t *)"ONE", 3);
        CHECK(!fkex_g1_equal(&a, &b));
        blst_p1_to_affine(&aff, &a);
        CHECK(blst_p1_affine_in_g1(&aff));
    }
}

/* A fixed base gives plain multiplications until its comb pays, then the
 * comb's, always the same results (pairing/base.c). */
static void test_lazy_base(void)
{
    fkex_rng rng;
    fkex_fr k;
    fkex_g1 p1, a1, b1;
    fkex_g2 p2, a2, b2;
    fkex_gt e, ag, bg;
    fkex_g1_base g1;
    fkex_g2_base g2;
    fkex_gt_base gt;
    int built1 = -1, built2 = -1, builtt = -1;
    test_rng(&rng, "lazy");
    fkex_fr_random(&k, &rng);
    fkex_g1_generator(&p1);
    fkex_g1_mul(&p1, &p1, &k);
    fkex_g2_generator(&p2);
    fkex_g2_mul(&p2, &p2, &k);
    fkex_pairing(&e, &p1, &p2);
    fkex_g1_base_init(&g1, &p1);
    fkex_g2_base_init(&g2, &p2);
    fkex_gt_base_init(&gt, &e);
    for (int i = 0; i < 20; i++) {
        fkex_fr_random(&k, &rng);
        fkex_g1_base_mul(&a1, &g1, &k);
        fkex_g1_mul(&b1, &p1, &k);
        fkex_g2_base_mul(&a2, &g2, &k);
        fkex_g2_mul(&b2, &p2, &k);
        fkex_gt_base_pow(&ag, &gt, &k);
        fkex_gt_pow(&bg, &e, &k);
        CHECK(fkex_g1_equal(&a1, &b1) && fkex_g2_equal(&a2, &b2) && fkex_gt_equal(&ag, &bg));
        if (g1.comb && built1 < 0)
            built1 = i;
        if (g2.comb && built2 < 0)
            built2 = i;
        if (gt.comb && builtt < 0)
            builtt = i;
    }
    /* The combs come when they pay, each at its own count (base.c). */
    CHECK(built1 == 12 && built2 == 14 && builtt == 2);
    fkex_g1_base_clear(&g1);
    fkex_g2_base_clear(&g2);
    fkex_gt_base_clear(&gt);
    CHECK(!g1.comb && !g2.comb && !gt.comb);
}

void suite_pairing(void)
{
    RUN(test_fr_field);
    RUN(test_fr_rejects_non_canonical);
    RUN(test_rng_deterministic);
    RUN(test_bilinearity);
    RUN(test_gt_pow_matches_g1_mul);
    RUN(test_multi_pairing);
    RUN(test_fixed_base);
    RUN(test_lazy_base);
    RUN(test_point_encodings);
    RUN(test_subgroup_rejected);
    RUN(test_gt_encoding);
    RUN(test_hash_domain_separation);
}
