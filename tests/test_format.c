/*
 * Object formats: headers, round trips, canonical encodings, kinds,
 * fingerprints. Each rejection is checked with its specific error.
 */
#include <stdlib.h>
#include "test.h"

typedef struct {
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *key;
    uint8_t *mpk_b, *msk_b, *key_b;
    size_t mpk_n, msk_n, key_n;
} world;

static void make_world(world *w, const char *label)
{
    fkex_rng rng;
    const char *attrs[] = { "ONE", "dept:telematics", "year=5" };
    memset(w, 0, sizeof *w);
    test_rng(&rng, label);
    CHECK_OK(fkex_abe_setup(&w->mpk, &w->msk, "waters11", &rng));
    CHECK_OK(fkex_abe_keygen(&w->key, w->msk, attrs, 3, &rng));
    CHECK_OK(fkex_mpk_encode(&w->mpk_b, &w->mpk_n, w->mpk));
    CHECK_OK(fkex_msk_encode(&w->msk_b, &w->msk_n, w->msk));
    CHECK_OK(fkex_key_encode(&w->key_b, &w->key_n, w->key));
}

static void free_world(world *w)
{
    fkex_bytes_free(w->mpk_b, w->mpk_n);
    fkex_bytes_free(w->msk_b, w->msk_n);
    fkex_bytes_free(w->key_b, w->key_n);
    fkex_key_free(w->key);
    fkex_mpk_free(w->mpk);
    fkex_msk_free(w->msk);
}

static void test_round_trips(void)
{
    world w;
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *key;
    uint8_t *b, fp1[32], fp2[32];
    size_t n;
    make_world(&w, "round trips");
    /* Sizes the README publishes: mpk 44 + 48 + 576; msk 44 + 64. */
    CHECK(w.mpk_n == 44 + 48 + 576);
    CHECK(w.msk_n == 44 + 64);
    CHECK_OK(fkex_mpk_decode(&mpk, w.mpk_b, w.mpk_n));
    CHECK_OK(fkex_mpk_encode(&b, &n, mpk));
    CHECK(n == w.mpk_n && memcmp(b, w.mpk_b, n) == 0);
    fkex_bytes_free(b, n);
    CHECK_OK(fkex_msk_decode(&msk, w.msk_b, w.msk_n));
    CHECK_OK(fkex_msk_encode(&b, &n, msk));
    CHECK(n == w.msk_n && memcmp(b, w.msk_b, n) == 0);
    fkex_bytes_free(b, n);
    CHECK_OK(fkex_key_decode(&key, w.key_b, w.key_n));
    CHECK_OK(fkex_key_encode(&b, &n, key));
    CHECK(n == w.key_n && memcmp(b, w.key_b, n) == 0);
    fkex_bytes_free(b, n);
    /* The master key determines the same authority. */
    fkex_mpk_fingerprint(fp1, fkex_msk_mpk(msk));
    fkex_mpk_fingerprint(fp2, mpk);
    CHECK(memcmp(fp1, fp2, 32) == 0);
    CHECK(memcmp(fp1, w.mpk_b + 8, 32) == 0);
    /* Key attributes come back sorted, numeric ones as written. */
    const char *const *attrs;
    size_t na;
    fkex_key_attrs(&attrs, &na, key);
    CHECK(na == 3 && strcmp(attrs[0], "ONE") == 0 && strcmp(attrs[1], "dept:telematics") == 0 &&
          strcmp(attrs[2], "year=5") == 0);
    /* 1 + 1 + 64 expanded names: 192 + 48 per name after the attributes. */
    const char *const *names;
    size_t nn;
    fkex_key_names(&names, &nn, key);
    CHECK(nn == 66);
    fkex_key_free(key);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    free_world(&w);
}

static void test_header_rejections(void)
{
    world w;
    fkex_mpk *mpk;
    fkex_key *key;
    fkex_msk *msk;
    fkex_header h;
    uint8_t *copy;
    make_world(&w, "headers");
    copy = malloc(w.mpk_n + 1);

    CHECK_OK(fkex_header_decode(&h, w.mpk_b));
    CHECK(h.kind == FKEX_KIND_PUBLIC_PARAMS && h.version == 1 && h.body_len == 48 + 576);

#define MUTATE(off, val, want)                                   \
    do {                                                         \
        memcpy(copy, w.mpk_b, w.mpk_n);                          \
        copy[off] = (val);                                       \
        CHECK_ERR(fkex_mpk_decode(&mpk, copy, w.mpk_n), want); \
    } while (0)
    MUTATE(0, 'G', FKEX_ERR_BAD_ENCODING);          /* magic */
    MUTATE(4, 2, FKEX_ERR_UNSUPPORTED);             /* version */
    MUTATE(5, 9, FKEX_ERR_UNSUPPORTED);             /* kind */
    MUTATE(5, FKEX_KIND_CIPHERTEXT, FKEX_ERR_WRONG_KIND);
    MUTATE(6, 7, FKEX_ERR_UNSUPPORTED);             /* scheme */
    MUTATE(7, 2, FKEX_ERR_UNSUPPORTED);             /* curve */
    MUTATE(8, (uint8_t)(w.mpk_b[8] ^ 1), FKEX_ERR_BAD_ENCODING);  /* fingerprint */
    MUTATE(43, (uint8_t)(w.mpk_b[43] + 1), FKEX_ERR_TRUNCATED);   /* body length */
    MUTATE(43, (uint8_t)(w.mpk_b[43] - 1), FKEX_ERR_BAD_ENCODING);
    MUTATE(40, 0x7f, FKEX_ERR_BAD_ENCODING);        /* body length over the limit */
#undef MUTATE
    /* Trailing bytes and every truncation. */
    memcpy(copy, w.mpk_b, w.mpk_n);
    copy[w.mpk_n] = 0;
    CHECK_ERR(fkex_mpk_decode(&mpk, copy, w.mpk_n + 1), FKEX_ERR_BAD_ENCODING);
    for (size_t cut = 0; cut < w.mpk_n; cut++)
        CHECK(fkex_mpk_decode(&mpk, w.mpk_b, cut) != FKEX_OK);
    for (size_t cut = 0; cut < w.key_n; cut += 7)
        CHECK(fkex_key_decode(&key, w.key_b, cut) != FKEX_OK);
    for (size_t cut = 0; cut < w.msk_n; cut++)
        CHECK(fkex_msk_decode(&msk, w.msk_b, cut) != FKEX_OK);
    /* One kind where another is expected. */
    CHECK_ERR(fkex_key_decode(&key, w.mpk_b, w.mpk_n), FKEX_ERR_WRONG_KIND);
    CHECK_ERR(fkex_msk_decode(&msk, w.key_b, w.key_n), FKEX_ERR_WRONG_KIND);
    free(copy);
    free_world(&w);
}

/* Y = 1 (alpha = 0) would make every encapsulation public. */
static void test_degenerate_mpk(void)
{
    world w;
    fkex_mpk *mpk;
    fkex_gt one;
    make_world(&w, "degenerate");
    fkex_gt_one(&one);
    fkex_gt_to_bytes(w.mpk_b + 44 + 48, &one);
    CHECK_ERR(fkex_mpk_decode(&mpk, w.mpk_b, w.mpk_n), FKEX_ERR_NOT_IN_GROUP);
    /* A master key of zeros. */
    memset(w.msk_b + 44, 0, 64);
    fkex_msk *msk;
    CHECK_ERR(fkex_msk_decode(&msk, w.msk_b, w.msk_n), FKEX_ERR_BAD_ENCODING);
    /* Scalars >= r. */
    memset(w.msk_b + 44, 0xff, 32);
    CHECK_ERR(fkex_msk_decode(&msk, w.msk_b, w.msk_n), FKEX_ERR_BAD_ENCODING);
    free_world(&w);
}

/* A key's attribute list is canonical: sorted, unique, valid. */
static void test_key_attributes_canonical(void)
{
    world w;
    fkex_key *key;
    uint8_t *copy;
    size_t off;
    make_world(&w, "canonical attrs");
    copy = malloc(w.key_n);
    /* After the header: u32 mpk length, the mpk, u16 count, then "ONE". */
    off = 44 + 4 + w.mpk_n + 2;
    CHECK(load16_be(w.key_b + off) == 3 && memcmp(w.key_b + off + 2, "ONE", 3) == 0);
    memcpy(copy, w.key_b, w.key_n);
    memcpy(copy + off + 2, "zzz", 3);           /* no longer sorted */
    CHECK_ERR(fkex_key_decode(&key, copy, w.key_n), FKEX_ERR_BAD_ENCODING);
    memcpy(copy, w.key_b, w.key_n);
    memcpy(copy + off + 2, "O N", 3);           /* not an attribute */
    CHECK_ERR(fkex_key_decode(&key, copy, w.key_n), FKEX_ERR_BAD_ENCODING);
    memcpy(copy, w.key_b, w.key_n);
    copy[off + 1] = 4;                          /* count disagrees */
    CHECK(fkex_key_decode(&key, copy, w.key_n) != FKEX_OK);
    /* A label edited into another valid, sorted one: the parts are ONE's,
     * and the key says so (issue 11: inspect must not report "ONF"). */
    memcpy(copy, w.key_b, w.key_n);
    memcpy(copy + off + 2, "ONF", 3);
    CHECK_ERR(fkex_key_decode(&key, copy, w.key_n), FKEX_ERR_AUTHENTICATION);
    /* The untouched key decodes. */
    CHECK_OK(fkex_key_decode(&key, w.key_b, w.key_n));
    fkex_key_free(key);
    /* Duplicate attributes at keygen are refused. */
    {
        const char *dup[] = { "ONE", "ONE" };
        const char *num[] = { "year=5", "year=6" };
        const char *bad[] = { "and" };
        fkex_rng rng;
        test_rng(&rng, "dups");
        CHECK_ERR(fkex_abe_keygen(&key, w.msk, dup, 2, &rng), FKEX_ERR_ATTRIBUTE);
        CHECK_ERR(fkex_abe_keygen(&key, w.msk, num, 2, &rng), FKEX_ERR_ATTRIBUTE);
        CHECK(fkex_abe_keygen(&key, w.msk, bad, 1, &rng) != FKEX_OK);
    }
    free(copy);
    free_world(&w);
}

static void test_fingerprint_text(void)
{
    uint8_t fp[32] = { 0 };
    char text[20];
    fkex_fingerprint_text(text, fp);
    CHECK(strcmp(text, "aaaa-aaaa-aaaa-aaaa") == 0);
    memset(fp, 0xff, sizeof fp);
    fkex_fingerprint_text(text, fp);
    CHECK(strcmp(text, "7777-7777-7777-7777") == 0);
    /* RFC 4648 test vector: base32("fooba") = "MZXW6YTB" (lower case here). */
    memset(fp, 0, sizeof fp);
    memcpy(fp, "foobafooba", 10);
    fkex_fingerprint_text(text, fp);
    CHECK(strcmp(text, "mzxw-6ytb-mzxw-6ytb") == 0);
    CHECK(strcmp(fkex_kind_armor(FKEX_KIND_USER_KEY), "USER KEY") == 0);
    CHECK(strcmp(fkex_scheme_name(1), "waters11") == 0);
    CHECK(strcmp(fkex_scheme_name(2), "bf01") == 0);   /* identity-based ciphertexts */
    CHECK(strcmp(fkex_scheme_name(3), "fame") == 0);
    CHECK(fkex_scheme_name(4) == NULL && fkex_scheme_title(4) == NULL);
    CHECK(fkex_abe_scheme_id("fame") == 3 && fkex_abe_scheme_id("waters11") == 1);
    CHECK(fkex_abe_scheme_id("bf01") == 0);   /* not one setup makes */
    CHECK(strstr(fkex_scheme_title(3), "Agrawal-Chase") != NULL);
}

void suite_format(void)
{
    RUN(test_round_trips);
    RUN(test_header_rejections);
    RUN(test_degenerate_mpk);
    RUN(test_key_attributes_canonical);
    RUN(test_fingerprint_text);
}
