/*
 * Waters 2011 CP-ABE through the generic KEM: known answers, algebra,
 * satisfaction against an independent evaluator, collusion, tampering, and
 * a decapsulation whose structure does not depend on the branch a key uses.
 */
#include <stdlib.h>
#include "test.h"
#include "opcount.h"

#define PROTOTYPE "(ONE or THREE) and (TWO or FOUR)"

static fkex_policy *parse(const char *text)
{
    fkex_policy *p = NULL;
    fkex_policy_error perr;
    if (fkex_policy_parse(&p, text, strlen(text), &perr) != FKEX_OK) {
        fprintf(stderr, "    cannot parse %s: %s at %zu\n", text, perr.message, perr.column);
        return NULL;
    }
    return p;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void sha_hex(char out[65], const uint8_t *p, size_t n)
{
    uint8_t h[32];
    crypto_hash_sha256(h, p, n);
    hex(out, h, 32);
}

/* ---- known answers ---------------------------------------------------------
 * A deterministic-RNG run of setup, keygen({ONE, TWO}) and a CCA
 * encapsulation under the prototype policy. The vector file holds SHA-256
 * of each encoding and the KEM key; FKEX_WRITE_VECTORS=1 regenerates it. */
#define KAT_FILE "tests/vectors/waters11.kat"

static void test_known_answers(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *key;
    fkex_abe_ct *ct;
    fkex_policy *p = parse(PROTOTYPE);
    uint8_t kem[32], again[32], *b;
    size_t len;
    const uint8_t *ctb;
    char line[4][100], want[4][220];

    test_rng(&rng, "fkex kat waters11");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    key = test_keygen(msk, "ONE TWO", &rng);
    CHECK(key != NULL && p != NULL);
    if (!key || !p)
        return;
    CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CCA, &rng));

    CHECK_OK(fkex_abe_mpk_encode(&b, &len, mpk));
    strcpy(line[0], "mpk ");
    sha_hex(line[0] + 4, b, len);
    fkex_abe_bytes_free(b, len);
    CHECK_OK(fkex_abe_key_encode(&b, &len, key));
    strcpy(line[1], "key ");
    sha_hex(line[1] + 4, b, len);
    fkex_abe_bytes_free(b, len);
    fkex_abe_ct_bytes(&ctb, &len, ct);
    strcpy(line[2], "ciphertext ");
    sha_hex(line[2] + 11, ctb, len);
    strcpy(line[3], "kem_key ");
    hex(line[3] + 8, kem, 32);

    CHECK_OK(fkex_abe_decap(again, key, ct, FKEX_ABE_CCA));
    CHECK(memcmp(again, kem, 32) == 0);

    if (getenv("FKEX_WRITE_VECTORS")) {
        FILE *f = fopen(KAT_FILE, "w");
        CHECK(f != NULL);
        if (f) {
            fprintf(f, "# Waters 2011 over BLS12-381: deterministic-RNG known answers.\n"
                       "# seed = SHA-256(\"fkex kat waters11\"); setup; test_keygen(ONE TWO);\n"
                       "# CCA encap under " PROTOTYPE ".\n"
                       "# SHA-256 of each encoding, and the 32-byte KEM key.\n");
            for (int i = 0; i < 4; i++)
                fprintf(f, "%s\n", line[i]);
            fclose(f);
        }
    } else {
        FILE *f = fopen(KAT_FILE, "r");
        int n = 0;
        char buf[200];
        CHECK(f != NULL);
        while (f && n < 4 && fgets(buf, sizeof buf, f)) {
            if (buf[0] == '#')
                continue;
            buf[strcspn(buf, "\n")] = '\0';
            snprintf(want[n++], sizeof want[0], "%s", buf);
        }
        if (f)
            fclose(f);
        CHECK(n == 4);
        for (int i = 0; i < n; i++) {
            CHECK(strcmp(line[i], want[i]) == 0);
            if (strcmp(line[i], want[i]) != 0)
                fprintf(stderr, "    got  %s\n    want %s\n", line[i], want[i]);
        }
    }
    fkex_abe_ct_free(ct);
    fkex_abe_key_free(key);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
    fkex_policy_free(p);
}

/* ---- random policies with an independent evaluator ------------------------ */

enum { LEAF, AND, OR, THRESHOLD, CMP };
enum { LT, LE, GT, GE, EQ };

typedef struct node {
    int kind, k, n, attr, op;
    uint64_t c;
    struct node *kid[4];
} node;

static const char *const names[] = { "A", "B", "C", "D", "E", "F" };

static uint32_t rnd(fkex_rng *rng, uint32_t bound)
{
    uint8_t b[4];
    fkex_rng_fill(rng, b, 4);
    return load32_be(b) % bound;
}

static node *gen(fkex_rng *rng, int depth, int *cmps)
{
    node *x = calloc(1, sizeof *x);
    int r = (int)rnd(rng, depth >= 3 ? 2 : 7);
    if (r == 1 && *cmps < 1) {
        x->kind = CMP;
        x->op = (int)rnd(rng, 5);
        x->c = rnd(rng, 16);
        if (x->op == LT && x->c == 0)
            x->c = 1;
        (*cmps)++;
        return x;
    }
    if (r <= 1) {
        x->kind = LEAF;
        x->attr = (int)rnd(rng, 6);
        return x;
    }
    x->kind = r <= 3 ? AND : r <= 5 ? OR : THRESHOLD;
    /* A threshold here is a proper one: 1 < k < n. */
    x->n = x->kind == THRESHOLD ? 3 + (int)rnd(rng, 2) : 2 + (int)rnd(rng, 2);
    x->k = x->kind == AND ? x->n : x->kind == OR ? 1 : 2 + (int)rnd(rng, (uint32_t)x->n - 2);
    for (int i = 0; i < x->n; i++)
        x->kid[i] = gen(rng, depth + 1, cmps);
    return x;
}

static void node_free(node *x)
{
    if (!x)
        return;
    for (int i = 0; i < 4; i++)
        node_free(x->kid[i]);
    free(x);
}

static void print(char *out, size_t cap, const node *x)
{
    static const char *const ops[] = { "<", "<=", ">", ">=", "==" };
    size_t len = strlen(out);
    switch (x->kind) {
    case LEAF:
        snprintf(out + len, cap - len, "%s", names[x->attr]);
        return;
    case CMP:
        snprintf(out + len, cap - len, "n %s %llu", ops[x->op], (unsigned long long)x->c);
        return;
    case THRESHOLD:
        snprintf(out + len, cap - len, "%d of (", x->k);
        break;
    default:
        snprintf(out + len, cap - len, "(");
    }
    for (int i = 0; i < x->n; i++) {
        if (i) {
            len = strlen(out);
            snprintf(out + len, cap - len, "%s",
                     x->kind == AND ? " and " : x->kind == OR ? " or " : ", ");
        }
        print(out, cap, x->kid[i]);
    }
    len = strlen(out);
    snprintf(out + len, cap - len, ")");
}

/* has: bit i = attribute names[i]; value < 0: no numeric attribute. */
static int eval(const node *x, unsigned has, long value)
{
    int sat = 0;
    switch (x->kind) {
    case LEAF:
        return (has >> x->attr) & 1;
    case CMP:
        if (value < 0)
            return 0;
        switch (x->op) {
        case LT: return (uint64_t)value < x->c;
        case LE: return (uint64_t)value <= x->c;
        case GT: return (uint64_t)value > x->c;
        case GE: return (uint64_t)value >= x->c;
        default: return (uint64_t)value == x->c;
        }
    }
    for (int i = 0; i < x->n; i++)
        sat += eval(x->kid[i], has, value);
    return sat >= x->k;
}

static void test_random_policies(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    int satisfied = 0, denied = 0;
    test_rng(&rng, "random policies");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    for (int iter = 0; iter < 30; iter++) {
        int cmps = 0;
        node *tree = gen(&rng, 0, &cmps);
        char text[2048] = "";
        fkex_policy *p;
        print(text, sizeof text, tree);
        p = parse(text);
        CHECK(p != NULL);
        if (!p) {
            node_free(tree);
            continue;
        }
        fkex_abe_mode mode = iter % 2 ? FKEX_ABE_CCA : FKEX_ABE_CPA;
        fkex_abe_ct *ct;
        uint8_t kem[32];
        CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, mode, &rng));
        for (int trial = 0; trial < 4; trial++) {
            unsigned has = rnd(&rng, 64);
            long value = rnd(&rng, 3) == 0 ? -1 : (long)rnd(&rng, 18);
            char list[128] = "";
            for (int i = 0; i < 6; i++)
                if ((has >> i) & 1)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s ", names[i]);
            if (value >= 0)
                snprintf(list + strlen(list), sizeof list - strlen(list), "n=%ld", value);
            if (!list[0])
                snprintf(list, sizeof list, "Z");
            fkex_abe_key *key = test_keygen(msk, list, &rng);
            uint8_t got[32] = { 0 };
            CHECK(key != NULL);
            if (!key)
                continue;
            fkex_err err = fkex_abe_decap(got, key, ct, mode);
            if (eval(tree, has, value)) {
                CHECK_OK(err);
                CHECK(memcmp(got, kem, 32) == 0);
                satisfied++;
            } else {
                CHECK_ERR(err, FKEX_ERR_POLICY_UNSATISFIED);
                CHECK(sodium_is_zero(got, 32));
                denied++;
            }
            if (test_case_failed == 1)
                fprintf(stderr, "    policy %s, key {%s}\n", text, list);
            fkex_abe_key_free(key);
        }
        fkex_abe_ct_free(ct);
        fkex_policy_free(p);
        node_free(tree);
    }
    /* Both outcomes must have been exercised. */
    CHECK(satisfied > 10 && denied > 10);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
}

/* Z from encapsulation equals Z from decapsulation, at the scheme level,
 * including thresholds whose coefficients are not 1. */
static void test_scheme_algebra(void)
{
    static const struct { const char *policy, *attrs; } cases[] = {
        { PROTOTYPE, "ONE TWO" },
        { PROTOTYPE, "THREE FOUR" },
        { "2 of (A, B, C)", "A C" },
        { "3 of (A, B, C, D, E)", "B D E" },
        { "A and (2 of (B, C, D) or E)", "A C D" },
        { "year >= 5 and dept:telematics", "dept:telematics year=7" },
    };
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    test_rng(&rng, "algebra");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        fkex_policy *p = parse(cases[i].policy);
        fkex_abe_key *key = test_keygen(msk, cases[i].attrs, &rng);
        fkex_abe_ct *ct;
        uint8_t kem[32];
        CHECK(p && key);
        if (!p || !key)
            continue;
        CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CPA, &rng));
        const fkex_abe_scheme *s = fkex_abe_ct_scheme(ct);
        const fkex_lsss *l = fkex_abe_ct_lsss(ct);
        void *impl = calloc(1, s->ct_size(l->rows));
        const char *const *kn;
        size_t nk;
        fkex_lsss_solution sol;
        fkex_gt z1, z2;
        fkex_rng coins;
        test_rng(&coins, cases[i].policy);
        CHECK_OK(s->encap(&z1, impl, fkex_abe_mpk_impl(mpk), l, &coins));
        fkex_abe_key_names(&kn, &nk, key);
        CHECK_OK(fkex_lsss_satisfy(&sol, l, kn, nk));
        s->decap(&z2, fkex_abe_key_impl(key), nk, impl, &sol);
        CHECK(fkex_gt_equal(&z1, &z2));
        CHECK(!blst_fp12_is_one(&z1));
        fkex_lsss_solution_free(&sol);
        free(impl);
        fkex_abe_ct_free(ct);
        fkex_abe_key_free(key);
        fkex_policy_free(p);
    }
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
}

/* A large threshold: 200 of 300 attributes gives 200 columns and
 * reconstruction coefficients that are not 1. */
static void test_large_threshold(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *key, *short_key;
    fkex_abe_ct *ct;
    fkex_policy *p;
    char *text = malloc(300 * 8 + 32), names[300][8];
    const char *attrs[300];
    size_t len = (size_t)sprintf(text, "200 of (");
    uint8_t kem[32], got[32];
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "T%d", i);
        attrs[i] = names[i];
        len += (size_t)sprintf(text + len, "%s%s", i ? ", " : "", names[i]);
    }
    sprintf(text + len, ")");
    test_rng(&rng, "large threshold");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    p = parse(text);
    CHECK(p != NULL);
    if (p) {
        CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CCA, &rng));
        CHECK(fkex_abe_ct_lsss(ct)->cols == 200);
        /* Attributes 50..249: exactly 200 of them. */
        CHECK_OK(fkex_abe_keygen(&key, msk, attrs + 50, 200, &rng));
        CHECK_OK(fkex_abe_decap(got, key, ct, FKEX_ABE_CCA));
        CHECK(memcmp(got, kem, 32) == 0);
        CHECK_OK(fkex_abe_keygen(&short_key, msk, attrs + 50, 199, &rng));
        CHECK_ERR(fkex_abe_decap(got, short_key, ct, FKEX_ABE_CCA), FKEX_ERR_POLICY_UNSATISFIED);
        fkex_abe_key_free(key);
        fkex_abe_key_free(short_key);
        fkex_abe_ct_free(ct);
        fkex_policy_free(p);
    }
    free(text);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
}

/* Two keys that each fail ({A} and {B} for "A and B") stay useless when
 * their parts are combined: K, L and K_A from one, K_B from the other. */
static void test_collusion(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *alice, *bob, *carol, *franken;
    fkex_policy *p = parse("A and B");
    uint8_t *a, *b, *c, kem[32], got[32];
    size_t la, lb, lc;
    test_rng(&rng, "collusion");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    alice = test_keygen(msk, "A", &rng);
    bob = test_keygen(msk, "B", &rng);
    carol = test_keygen(msk, "A B", &rng);       /* a template with the right shape */
    CHECK(alice && bob && carol && p);
    if (!alice || !bob || !carol || !p)
        return;
    for (int mode = FKEX_ABE_CPA; mode <= FKEX_ABE_CCA; mode++) {
        fkex_abe_ct *ct;
        CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, (fkex_abe_mode)mode, &rng));
        CHECK_ERR(fkex_abe_decap(got, alice, ct, (fkex_abe_mode)mode), FKEX_ERR_POLICY_UNSATISFIED);
        CHECK_ERR(fkex_abe_decap(got, bob, ct, (fkex_abe_mode)mode), FKEX_ERR_POLICY_UNSATISFIED);
        CHECK_OK(fkex_abe_key_encode(&a, &la, alice));
        CHECK_OK(fkex_abe_key_encode(&b, &lb, bob));
        CHECK_OK(fkex_abe_key_encode(&c, &lc, carol));
        /* Glued together in memory (the scheme's key is K | L | K_x, sorted,
         * as its encoding): K, L, K_A from alice, K_B from bob. */
        CHECK_OK(fkex_abe_key_decode(&franken, c, lc));
        if (franken) {
            uint8_t *fk = (uint8_t *)fkex_abe_key_impl(franken);
            const uint8_t *ak = fkex_abe_key_impl(alice), *bk = fkex_abe_key_impl(bob);
            size_t kl = 2 * sizeof(blst_p2_affine), x = sizeof(blst_p1_affine);
            memcpy(fk, ak, kl + x);
            memcpy(fk + kl + x, bk + kl, x);
        }
        /* Glued in the file, it is refused as it is read: its parts do not
         * belong together. */
        memcpy(c + lc - 288, a + la - 240, 240);
        memcpy(c + lc - 48, b + lb - 48, 48);
        fkex_abe_key *refused = NULL;
        CHECK_ERR(fkex_abe_key_decode(&refused, c, lc), FKEX_ERR_AUTHENTICATION);
        if (franken) {
            fkex_err err = fkex_abe_decap(got, franken, ct, (fkex_abe_mode)mode);
            if (mode == FKEX_ABE_CCA)
                CHECK_ERR(err, FKEX_ERR_AUTHENTICATION);
            else
                CHECK(err == FKEX_OK && memcmp(got, kem, 32) != 0);
            fkex_abe_key_free(franken);
        }
        /* The honest key works, so the failure is the collusion's. */
        CHECK_OK(fkex_abe_decap(got, carol, ct, (fkex_abe_mode)mode));
        CHECK(memcmp(got, kem, 32) == 0);
        fkex_abe_bytes_free(a, la);
        fkex_abe_bytes_free(b, lb);
        fkex_abe_bytes_free(c, lc);
        fkex_abe_ct_free(ct);
    }
    fkex_abe_key_free(alice);
    fkex_abe_key_free(bob);
    fkex_abe_key_free(carol);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
    fkex_policy_free(p);
}

/* Every single-byte change and every truncation of a CCA ciphertext is
 * rejected: by the decoder, or by decapsulation. */
static void test_tampering(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *key;
    fkex_abe_ct *ct, *bad;
    fkex_policy *p = parse(PROTOTYPE);
    uint8_t kem[32], got[32], *copy;
    const uint8_t *bytes;
    size_t len, accepted = 0;
    test_rng(&rng, "tampering");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    key = test_keygen(msk, "ONE TWO", &rng);
    CHECK(key && p);
    if (!key || !p)
        return;
    CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CCA, &rng));
    fkex_abe_ct_bytes(&bytes, &len, ct);
    copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, bytes, len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        if (fkex_abe_ct_decode(&bad, copy, len) == FKEX_OK) {
            if (fkex_abe_decap(got, key, bad, FKEX_ABE_CCA) == FKEX_OK)
                accepted++;
            fkex_abe_ct_free(bad);
        }
    }
    CHECK(accepted == 0);
    for (size_t cut = 0; cut < len; cut++) {
        CHECK(fkex_abe_ct_decode(&bad, bytes, cut) != FKEX_OK);
    }
    /* Trailing bytes. */
    copy = realloc(copy, len + 1);
    memcpy(copy, bytes, len);
    copy[len] = 0;
    CHECK_ERR(fkex_abe_ct_decode(&bad, copy, len + 1), FKEX_ERR_BAD_ENCODING);
    /* The untouched ciphertext still decrypts. */
    CHECK_OK(fkex_abe_ct_decode(&bad, bytes, len));
    CHECK_OK(fkex_abe_decap(got, key, bad, FKEX_ABE_CCA));
    CHECK(memcmp(got, kem, 32) == 0);
    fkex_abe_ct_free(bad);
    free(copy);
    fkex_abe_ct_free(ct);
    fkex_abe_key_free(key);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
    fkex_policy_free(p);
}

/* A compressed point on the curve but outside the prime-order subgroup. */
static void non_subgroup_g1(uint8_t out[48], fkex_rng *rng)
{
    blst_p1_affine a;
    for (;;) {
        fkex_rng_fill(rng, out, 48);
        out[0] = (uint8_t)((out[0] & 0x1f) | 0x80);
        if (blst_p1_uncompress(&a, out) == BLST_SUCCESS && !blst_p1_affine_in_g1(&a))
            return;
    }
}

static void non_subgroup_g2(uint8_t out[96], fkex_rng *rng)
{
    blst_p2_affine a;
    for (;;) {
        fkex_rng_fill(rng, out, 96);
        out[0] = (uint8_t)((out[0] & 0x1f) | 0x80);
        if (blst_p2_uncompress(&a, out) == BLST_SUCCESS && !blst_p2_affine_in_g2(&a))
            return;
    }
}

static void test_subgroup_points_rejected(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *key, *bad_key;
    fkex_abe_ct *ct, *bad;
    fkex_policy *p = parse("ONE");
    uint8_t kem[32], *copy, *kb, g1[48], g2[96];
    const uint8_t *bytes;
    size_t len, kl;
    test_rng(&rng, "subgroup ct");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    key = test_keygen(msk, "ONE", &rng);
    CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CPA, &rng));
    fkex_abe_ct_bytes(&bytes, &len, ct);
    copy = malloc(len);
    /* A CPA body ends: u16 rows | C' (48) | C_1 (48) | D_1 (96). */
    non_subgroup_g1(g1, &rng);
    non_subgroup_g2(g2, &rng);
    memcpy(copy, bytes, len);
    memcpy(copy + len - 144 - 48, g1, 48);
    CHECK_ERR(fkex_abe_ct_decode(&bad, copy, len), FKEX_ERR_NOT_IN_GROUP);
    memcpy(copy, bytes, len);
    memcpy(copy + len - 144, g1, 48);
    CHECK_ERR(fkex_abe_ct_decode(&bad, copy, len), FKEX_ERR_NOT_IN_GROUP);
    memcpy(copy, bytes, len);
    memcpy(copy + len - 96, g2, 96);
    CHECK_ERR(fkex_abe_ct_decode(&bad, copy, len), FKEX_ERR_NOT_IN_GROUP);
    /* The same in a key: K_ONE is the last 48 bytes, L the 96 before. */
    CHECK_OK(fkex_abe_key_encode(&kb, &kl, key));
    memcpy(kb + kl - 48, g1, 48);
    CHECK_ERR(fkex_abe_key_decode(&bad_key, kb, kl), FKEX_ERR_NOT_IN_GROUP);
    fkex_abe_bytes_free(kb, kl);
    CHECK_OK(fkex_abe_key_encode(&kb, &kl, key));
    memcpy(kb + kl - 48 - 96, g2, 96);
    CHECK_ERR(fkex_abe_key_decode(&bad_key, kb, kl), FKEX_ERR_NOT_IN_GROUP);
    fkex_abe_bytes_free(kb, kl);
    free(copy);
    fkex_abe_ct_free(ct);
    fkex_abe_key_free(key);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
    fkex_policy_free(p);
}

static void test_wrong_authority(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk1, *mpk2;
    fkex_abe_msk *msk1, *msk2;
    fkex_abe_key *key2;
    fkex_abe_ct *ct;
    fkex_policy *p = parse("ONE");
    uint8_t kem[32], got[32] = { 0 };
    test_rng(&rng, "authorities");
    CHECK_OK(fkex_abe_setup(&mpk1, &msk1, "waters11", &rng));
    CHECK_OK(fkex_abe_setup(&mpk2, &msk2, "waters11", &rng));
    key2 = test_keygen(msk2, "ONE", &rng);
    CHECK_OK(fkex_abe_encap(kem, &ct, mpk1, p, FKEX_ABE_CCA, &rng));
    CHECK_ERR(fkex_abe_decap(got, key2, ct, FKEX_ABE_CCA), FKEX_ERR_WRONG_AUTHORITY);
    CHECK(sodium_is_zero(got, 32));
    {
        fkex_abe_mpk *none_mpk;
        fkex_abe_msk *none_msk;
        CHECK_ERR(fkex_abe_setup(&none_mpk, &none_msk, "nonesuch", &rng), FKEX_ERR_UNSUPPORTED);
        CHECK(none_mpk == NULL && none_msk == NULL);
    }
    fkex_abe_ct_free(ct);
    fkex_abe_key_free(key2);
    fkex_abe_mpk_free(mpk1);
    fkex_abe_msk_free(msk1);
    fkex_abe_mpk_free(mpk2);
    fkex_abe_msk_free(msk2);
    fkex_policy_free(p);
}

/* CPA and CCA keys differ, encapsulations are randomized, and a CPA
 * ciphertext changed in its policy-independent part yields another key. */
static void test_kem_binding(void)
{
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *key;
    fkex_abe_ct *c1, *c2;
    fkex_policy *p = parse(PROTOTYPE);
    uint8_t k1[32], k2[32];
    test_rng(&rng, "binding");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    key = test_keygen(msk, "THREE FOUR", &rng);
    CHECK_OK(fkex_abe_encap(k1, &c1, mpk, p, FKEX_ABE_CPA, &rng));
    CHECK_OK(fkex_abe_encap(k2, &c2, mpk, p, FKEX_ABE_CPA, &rng));
    CHECK(memcmp(k1, k2, 32) != 0);
    CHECK_OK(fkex_abe_decap(k2, key, c1, FKEX_ABE_CPA));
    CHECK(memcmp(k1, k2, 32) == 0);
    /* The caller, not the ciphertext, chooses the mode. */
    CHECK_ERR(fkex_abe_decap(k2, key, c1, FKEX_ABE_CCA), FKEX_ERR_AUTHENTICATION);
    CHECK(fkex_abe_ct_mode(c1) == FKEX_ABE_CPA);
    CHECK(strcmp(fkex_abe_ct_policy(c1), PROTOTYPE) == 0);
    CHECK(fkex_abe_ct_rows(c1) == 4);
    fkex_abe_ct_free(c1);
    fkex_abe_ct_free(c2);
    fkex_abe_key_free(key);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
    fkex_policy_free(p);
}

/* ---- admission leaks no branch (PROTOCOL.md, version 2) -----------------
 * One key, several policies, each satisfied through a different branch:
 * every CCA decapsulation gives the encapsulated key. */
static void test_branches_decap(void)
{
    static const char *const policies[] = {
        "E or (A and B and C)",          /* E */
        "(A and B) or F",                /* the AND */
        "F or (E and A)",                /* an AND including E */
        "2 of (A, Z, E)",                /* a threshold, coefficients not 1 */
        "Z or 2 of (Y, B, X, A)",        /* a threshold under an OR */
        "(A or Z) and (Y or B) and E",   /* one side of each OR */
    };
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    test_rng(&rng, "branches");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    fkex_abe_key *key = test_keygen(msk, "A B E", &rng);
    CHECK(key != NULL);
    for (size_t i = 0; key && i < FKEX_ARRAY_LEN(policies); i++) {
        fkex_policy *p = parse(policies[i]);
        fkex_abe_ct *ct;
        uint8_t kem[32], again[32];
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CCA, &rng));
        CHECK_OK(fkex_abe_decap(again, key, ct, FKEX_ABE_CCA));
        CHECK(memcmp(kem, again, 32) == 0);
        fkex_abe_ct_free(ct);
        fkex_policy_free(p);
    }
    fkex_abe_key_free(key);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
}

/* Decapsulates ct (CPA) with a key for attrs, counting the group
 * operations; checks the KEM key. */
static void decap_counted(opcount *ops, const fkex_abe_msk *msk, const fkex_abe_ct *ct,
                          const uint8_t kem[32], const char *attrs, fkex_rng *rng)
{
    fkex_abe_key *key = test_keygen(msk, attrs, rng);
    uint8_t again[32];
    memset(ops, 0, sizeof *ops);
    CHECK(key != NULL);
    if (!key)
        return;
    opcount_reset();
    CHECK_OK(fkex_abe_decap(again, key, ct, FKEX_ABE_CPA));
    opcount_read(ops);
    CHECK(memcmp(kem, again, 32) == 0);
    fkex_abe_key_free(key);
}

/* Under one policy, keys that satisfy it through different branches (and
 * with different numbers of attributes) ask for exactly the same group
 * operations: l + 3 Miller-loop pairs, one final exponentiation, and G1
 * multiplications only if the policy has a threshold gate (2 per row).
 * Counted, not timed (tests/opcount.h). */
static void test_branch_structure(void)
{
    static const struct {
        const char *policy;
        size_t rows;
        int threshold;
        const char *keys[4];
    } cases[] = {
        { "E or (A and B and C and D and F and G)", 7, 0,
          { "E", "A B C D F G", "A B C D E F G", "E X Y Z" } },
        { "(ONE or THREE) and (TWO or FOUR)", 4, 0,
          { "ONE TWO", "THREE FOUR", "ONE FOUR", "ONE TWO THREE FOUR" } },
        { "A or 2 of (B, C, D)", 4, 1, { "A", "B C", "C D", "A B C D" } },
        { "year >= 5 or dept:x", 0, 0, { "dept:x", "year=9", "year=5 dept:x", "year=200" } },
    };
    fkex_rng rng;
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    test_rng(&rng, "structure");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        fkex_policy *p = parse(cases[i].policy);
        fkex_abe_ct *ct;
        uint8_t kem[32];
        opcount first, ops;
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_OK(fkex_abe_encap(kem, &ct, mpk, p, FKEX_ABE_CPA, &rng));
        size_t rows = fkex_abe_ct_rows(ct);
        if (cases[i].rows)
            CHECK(rows == cases[i].rows);
        decap_counted(&first, msk, ct, kem, cases[i].keys[0], &rng);
        CHECK(first.miller_pairs == rows + 3);
        CHECK(first.final_exps == 1);
        CHECK(first.g1_mults == (cases[i].threshold ? 2 * rows : 0));
        CHECK(first.g2_mults == 0);
        for (size_t k = 1; k < FKEX_ARRAY_LEN(cases[i].keys); k++) {
            decap_counted(&ops, msk, ct, kem, cases[i].keys[k], &rng);
            CHECK(opcount_equal(&ops, &first));
        }
        fkex_abe_ct_free(ct);
        fkex_policy_free(p);
    }
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
}

void suite_waters(void)
{
    RUN(test_known_answers);
    RUN(test_scheme_algebra);
    RUN(test_random_policies);
    RUN(test_large_threshold);
    RUN(test_collusion);
    RUN(test_tampering);
    RUN(test_subgroup_points_rejected);
    RUN(test_wrong_authority);
    RUN(test_kem_binding);
    RUN(test_branches_decap);
    RUN(test_branch_structure);
}
