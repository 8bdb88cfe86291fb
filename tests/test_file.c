/*
 * tests/test_file.c: encrypted files through the public API (fkex/file.h),
 * in memory: round trips under a policy and to an identity, binary and
 * armored; every refusal a key can meet; and every byte of a file flipped
 * and every length of it cut, with what reached the sink. (`fkex decrypt`
 * reads the same files: tests/test_cli.c checks its exit codes and that it
 * leaves nothing behind, on a sample of the same damage.)
 */
#include <stdlib.h>
#include "test.h"
#include "file/file.h"

typedef struct {
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *alice;     /* ONE TWO, alice@example.org */
    fkex_key *bob;       /* THREE, bob@example.org */
    fkex_mpk *other;     /* another authority */
    fkex_msk *other_msk;
    fkex_key *stranger;  /* ONE TWO from the other authority */
    fkex_rng rng;
} world;

static int world_new(world *w)
{
    fkex_mpk *plain;
    memset(w, 0, sizeof *w);
    test_rng(&w->rng, "file world");
    if (fkex_abe_setup(&plain, &w->msk, "fame", &w->rng) != FKEX_OK)
        return -1;
    fkex_mpk_free(plain);
    if (fkex_ibe_setup(&w->mpk, w->msk, &w->rng) != FKEX_OK)
        return -1;
    if (fkex_abe_setup(&w->other, &w->other_msk, "fame", &w->rng) != FKEX_OK)
        return -1;
    w->alice = test_keygen(w->msk, "ONE TWO", &w->rng);
    w->bob = test_keygen(w->msk, "THREE", &w->rng);
    w->stranger = test_keygen(w->other_msk, "ONE TWO", &w->rng);
    if (!w->alice || !w->bob || !w->stranger ||
        fkex_ibe_keygen(w->alice, w->msk, "alice@example.org") != FKEX_OK ||
        fkex_ibe_keygen(w->bob, w->msk, "bob@example.org") != FKEX_OK)
        return -1;
    return 0;
}

static void world_free(world *w)
{
    fkex_key_free(w->alice);
    fkex_key_free(w->bob);
    fkex_key_free(w->stranger);
    fkex_mpk_free(w->mpk);
    fkex_msk_free(w->msk);
    fkex_mpk_free(w->other);
    fkex_msk_free(w->other_msk);
}

/* Seals pt under policy text, or to identity when policy is NULL. */
static fkex_err seal(mem_snk *out, world *w, const uint8_t *pt, size_t n, const char *policy,
                     const char *identity, int armor)
{
    mem_src m;
    fkex_source src = src_make(&m, pt, n, 0);
    fkex_sink sink = snk_make(out);
    fkex_policy *p = NULL;
    fkex_err err;
    if (policy && fkex_policy_parse(&p, policy, strlen(policy), NULL) != FKEX_OK)
        return FKEX_ERR_POLICY_SYNTAX;
    err = policy ? fkex_file_seal_policy(&sink, &src, w->mpk, p, armor, &w->rng)
                 : fkex_file_seal_identity(&sink, &src, w->mpk, identity, armor, &w->rng);
    fkex_policy_free(p);
    return err;
}

/* Opens file bytes with key into out: the first error, from open, unlock
 * or decrypt; *stage says which (1, 2, 3), 0 if none failed. */
static fkex_err open_with(mem_snk *out, const uint8_t *in, size_t len, const fkex_key *key,
                          int *stage, fkex_file_info *info)
{
    mem_src m;
    fkex_source src = src_make(&m, in, len, 7);
    fkex_sink sink = snk_make(out);
    fkex_file *f;
    fkex_err err;
    *stage = 1;
    if ((err = fkex_file_open(&f, &src, info)) != FKEX_OK)
        return err;
    *stage = 2;
    if ((err = fkex_file_unlock(f, key)) == FKEX_OK) {
        *stage = 3;
        err = fkex_file_decrypt(f, &sink);
    }
    if (err == FKEX_OK)
        *stage = 0;
    fkex_file_free(f);
    return err;
}

static void file_round_trips(void)
{
    world w;
    static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 200000 };
    if (world_new(&w) != 0) {
        CHECK(0);
        world_free(&w);
        return;
    }
    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        for (int armor = 0; armor < 2; armor++) {
            for (int to_id = 0; to_id < 2; to_id++) {
                size_t n = sizes[i];
                uint8_t *pt = malloc(n + 1);
                mem_snk file = { 0 }, out = { 0 };
                fkex_file_info info;
                int stage;
                fill(pt, n, (uint32_t)n);
                CHECK_OK(seal(&file, &w, pt, n, to_id ? NULL : "(ONE or THREE) and TWO",
                              "Alice@Example.org", armor));
                CHECK_OK(open_with(&out, file.p, file.len, w.alice, &stage, &info));
                CHECK(out.len == n && (n == 0 || memcmp(out.p, pt, n) == 0));
                CHECK(info.armored == armor && info.has_header);
                CHECK(info.header.kind == FKEX_KIND_CIPHERTEXT);
                if (armor)
                    CHECK(strcmp(info.armor_kind, "CIPHERTEXT") == 0);
                snk_free(&file);
                snk_free(&out);
                free(pt);
            }
        }
    }
    world_free(&w);
}

/* What a file says before any key is used, and the calls out of order. */
static void file_describes_itself(void)
{
    world w;
    mem_snk a = { 0 }, b = { 0 }, out = { 0 };
    mem_src m;
    fkex_source src;
    fkex_sink sink = snk_make(&out);
    fkex_file *f;
    uint8_t fp[32], want[32];
    if (world_new(&w) != 0) {
        CHECK(0);
        world_free(&w);
        return;
    }
    fkex_mpk_fingerprint(want, w.mpk);
    CHECK_OK(seal(&a, &w, (const uint8_t *)"x", 1, "TWO  and   ONE", NULL, 0));
    src = src_make(&m, a.p, a.len, 0);
    CHECK_OK(fkex_file_open(&f, &src, NULL));
    CHECK(strcmp(fkex_file_policy(f), "TWO and ONE") == 0);
    CHECK(fkex_file_identity(f) == NULL && fkex_file_ibe_ct(f) == NULL);
    CHECK(fkex_abe_ct_mode(fkex_file_abe_ct(f)) == FKEX_ABE_CCA);
    fkex_file_fingerprint(fp, f);
    CHECK(memcmp(fp, want, 32) == 0);
    CHECK_ERR(fkex_file_decrypt(f, &sink), FKEX_ERR_ARGUMENT);     /* not unlocked */
    CHECK_OK(fkex_file_unlock(f, w.alice));
    CHECK_OK(fkex_file_decrypt(f, &sink));
    CHECK_ERR(fkex_file_decrypt(f, &sink), FKEX_ERR_ARGUMENT);     /* once */
    CHECK(out.len == 1 && out.p[0] == 'x');
    fkex_file_free(f);

    CHECK_OK(seal(&b, &w, (const uint8_t *)"y", 1, NULL, " Bob@example.ORG ", 1));
    src = src_make(&m, b.p, b.len, 3);
    CHECK_OK(fkex_file_open(&f, &src, NULL));
    CHECK(strcmp(fkex_file_identity(f), "bob@example.org") == 0);
    CHECK(fkex_file_policy(f) == NULL && fkex_file_abe_ct(f) == NULL);
    fkex_file_free(f);
    snk_free(&a);
    snk_free(&b);
    snk_free(&out);
    world_free(&w);
}

/* Keys that must not open a file, and nothing written for them. */
static void file_refuses_keys(void)
{
    world w;
    mem_snk pol = { 0 }, id = { 0 }, out = { 0 };
    int stage;
    if (world_new(&w) != 0) {
        CHECK(0);
        world_free(&w);
        return;
    }
    CHECK_OK(seal(&pol, &w, (const uint8_t *)"secret", 6, "ONE and TWO", NULL, 0));
    CHECK_OK(seal(&id, &w, (const uint8_t *)"secret", 6, NULL, "alice@example.org", 0));
    CHECK_ERR(open_with(&out, pol.p, pol.len, w.bob, &stage, NULL), FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(stage == 2 && out.len == 0);
    CHECK_ERR(open_with(&out, pol.p, pol.len, w.stranger, &stage, NULL), FKEX_ERR_WRONG_AUTHORITY);
    CHECK(stage == 2 && out.len == 0);
    CHECK_ERR(open_with(&out, id.p, id.len, w.bob, &stage, NULL), FKEX_ERR_WRONG_IDENTITY);
    CHECK(stage == 2 && out.len == 0);
    CHECK_ERR(open_with(&out, id.p, id.len, w.stranger, &stage, NULL), FKEX_ERR_WRONG_AUTHORITY);
    CHECK(stage == 2 && out.len == 0);
    /* An authority without identity parameters cannot seal to one. */
    {
        mem_snk none = { 0 };
        fkex_mpk *keep = w.mpk;
        w.mpk = w.other;
        CHECK_ERR(seal(&none, &w, (const uint8_t *)"x", 1, NULL, "alice@example.org", 0),
                  FKEX_ERR_UNSUPPORTED);
        w.mpk = keep;
        snk_free(&none);
    }
    snk_free(&pol);
    snk_free(&id);
    snk_free(&out);
    world_free(&w);
}

/* Inputs that are not encrypted files, and how far open got. */
static void file_refuses_other_inputs(void)
{
    world w;
    mem_snk out = { 0 };
    fkex_file_info info;
    uint8_t *key;
    char *armored;
    size_t klen, alen;
    int stage;
    if (world_new(&w) != 0) {
        CHECK(0);
        world_free(&w);
        return;
    }
    CHECK_ERR(open_with(&out, (const uint8_t *)"", 0, w.alice, &stage, &info), FKEX_ERR_NOT_FKEX);
    CHECK_ERR(open_with(&out, (const uint8_t *)"hello, world\n", 13, w.alice, &stage, &info),
              FKEX_ERR_NOT_FKEX);
    CHECK(!info.armored && !info.has_header);
    CHECK_OK(fkex_key_encode(&key, &klen, w.alice));
    CHECK_ERR(open_with(&out, key, klen, w.alice, &stage, &info), FKEX_ERR_WRONG_KIND);
    CHECK(info.has_header && info.header.kind == FKEX_KIND_USER_KEY);
    CHECK_OK(fkex_armor_encode(&armored, &alen, "USER KEY", key, klen));
    CHECK_ERR(open_with(&out, (const uint8_t *)armored, alen, w.alice, &stage, &info),
              FKEX_ERR_WRONG_KIND);
    CHECK(info.armored && !info.has_header && strcmp(info.armor_kind, "USER KEY") == 0);
    CHECK_ERR(open_with(&out, (const uint8_t *)"-----BEGIN FKEX \n", 17, w.alice, &stage, &info),
              FKEX_ERR_BAD_ENCODING);
    CHECK(info.armored && info.armor_kind[0] == '\0');
    CHECK(out.len == 0);
    free(armored);
    fkex_bytes_free(key, klen);
    snk_free(&out);
    world_free(&w);
}

/* What damage may give: a refusal, never success, never a usage error. */
static int refused(fkex_err err)
{
    switch (err) {
    case FKEX_ERR_AUTHENTICATION: case FKEX_ERR_BAD_ENCODING: case FKEX_ERR_TRUNCATED:
    case FKEX_ERR_NOT_IN_GROUP: case FKEX_ERR_WRONG_AUTHORITY:
    case FKEX_ERR_POLICY_UNSATISFIED: case FKEX_ERR_UNSUPPORTED:
        return 1;
    default:
        return 0;
    }
}

/* Every byte of a file flipped, binary and armored, and every length cut:
 * past the header's first 8 bytes the file is always refused and nothing
 * reaches the sink. The first 8 bytes (magic, version, kind, scheme,
 * curve) may also make it no fkex file or another kind. (Damage to
 * streams of many chunks, and which chunks then reach the sink, is
 * tests/test_stream.c's.) */
static void file_every_byte_and_length(void)
{
    world w;
    size_t n = 300, bad = 0;
    uint8_t *pt = malloc(n), *buf;
    mem_snk file = { 0 };
    if (world_new(&w) != 0 || !pt) {
        CHECK(0);
        world_free(&w);
        free(pt);
        return;
    }
    fill(pt, n, 99);
    CHECK_OK(seal(&file, &w, pt, n, "ONE and TWO", NULL, 0));
    buf = malloc(file.len);
    for (size_t i = 0; i < file.len; i++) {
        mem_snk out = { 0 };
        fkex_file_info info;
        int stage;
        memcpy(buf, file.p, file.len);
        buf[i] ^= 0xff;
        fkex_err err = open_with(&out, buf, file.len, w.alice, &stage, &info);
        int ok = i >= 8 ? refused(err) && !(err == FKEX_ERR_UNSUPPORTED && !info.has_header)
                        : err != FKEX_OK;
        ok &= out.len == 0;
        if (!ok && bad++ < 8)
            fprintf(stderr, "    byte %zu: %s at stage %d, %zu bytes out\n", i,
                    fkex_strerror(err), stage, out.len);
        snk_free(&out);
    }
    for (size_t len = 0; len < file.len; len++) {
        mem_snk out = { 0 };
        int stage;
        fkex_err err = open_with(&out, file.p, len, w.alice, &stage, NULL);
        int ok = len >= 8 ? refused(err) : err != FKEX_OK;
        ok &= out.len == 0;
        if (!ok && bad++ < 8)
            fprintf(stderr, "    cut to %zu: %s at stage %d\n", len, fkex_strerror(err), stage);
        snk_free(&out);
    }
    CHECK(bad == 0);
    free(buf);
    snk_free(&file);

    /* Armored: a flipped character anywhere is refused or not armor. */
    CHECK_OK(seal(&file, &w, pt, 100, "ONE and TWO", NULL, 1));
    buf = malloc(file.len);
    for (size_t i = 0; i < file.len; i++) {
        mem_snk out = { 0 };
        int stage;
        memcpy(buf, file.p, file.len);
        buf[i] ^= 0x01;
        fkex_err err = open_with(&out, buf, file.len, w.alice, &stage, NULL);
        if ((err == FKEX_OK || out.len != 0) && bad++ < 8)
            fprintf(stderr, "    armored byte %zu: %s, %zu bytes out\n", i, fkex_strerror(err),
                    out.len);
        snk_free(&out);
    }
    CHECK(bad == 0);
    free(buf);
    snk_free(&file);
    free(pt);
    world_free(&w);
}

void suite_file(void)
{
    RUN(file_round_trips);
    RUN(file_describes_itself);
    RUN(file_refuses_keys);
    RUN(file_refuses_other_inputs);
    RUN(file_every_byte_and_length);
}
