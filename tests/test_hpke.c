/*
 * HKDF-SHA256 and HPKE (src/crypto/hkdf.c, hpke.c): RFC 5869 test cases
 * 1-3 as arrays, the RFC 9180 A.2.1 vector from
 * tests/vectors/hpke-x25519-sha256-chacha20poly1305.txt, round trips, and
 * every way Open and setup must refuse.
 */
#include <stdlib.h>
#include "test.h"

/* Strict hex: even length, [0-9a-fA-F] only. Returns the byte count or -1. */
static long unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return (long)(n / 2);
}

/* ---- RFC 5869 Appendix A, test cases 1-3 (SHA-256) ------------------------ */

static const struct {
    const char *ikm, *salt, *info;   /* NULL: the range given below */
    size_t L;
    const char *prk, *okm;
} rfc5869[] = {
    { "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
      "f0f1f2f3f4f5f6f7f8f9", 42,
      "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
      "34007208d5b887185865" },
    /* Test case 2: ikm = 00..4f, salt = 60..af, info = b0..ff (80 bytes each). */
    { NULL, NULL, NULL, 82,
      "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
      "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
      "cc30c58179ec3e87c14c01d5c1f3434f1d87" },
    { "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
      "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
      "9d201395faa4b61a96c8" },
};

static void range(uint8_t *p, uint8_t first, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(first + i);
}

static void test_hkdf_rfc5869(void)
{
    for (size_t t = 0; t < FKEX_ARRAY_LEN(rfc5869); t++) {
        uint8_t ikm[80], salt[80], info[80], prk[32], want_prk[32], okm[82], want_okm[82];
        long ni, ns, nf;
        if (rfc5869[t].ikm) {
            ni = unhex(ikm, sizeof ikm, rfc5869[t].ikm);
            ns = unhex(salt, sizeof salt, rfc5869[t].salt);
            nf = unhex(info, sizeof info, rfc5869[t].info);
        } else {
            range(ikm, 0x00, 80);
            range(salt, 0x60, 80);
            range(info, 0xb0, 80);
            ni = ns = nf = 80;
        }
        CHECK(ni >= 0 && ns >= 0 && nf >= 0);
        CHECK(unhex(want_prk, sizeof want_prk, rfc5869[t].prk) == 32);
        CHECK(unhex(want_okm, sizeof want_okm, rfc5869[t].okm) == (long)rfc5869[t].L);
        fkex_hkdf_extract(prk, ns ? salt : NULL, (size_t)ns, ikm, (size_t)ni);
        CHECK(memcmp(prk, want_prk, 32) == 0);
        CHECK_OK(fkex_hkdf_expand(okm, rfc5869[t].L, prk, nf ? info : NULL, (size_t)nf));
        CHECK(memcmp(okm, want_okm, rfc5869[t].L) == 0);
        /* Every shorter output is a prefix. */
        for (size_t L = 0; L < rfc5869[t].L; L += 7) {
            uint8_t part[82];
            memset(part, 0xee, sizeof part);
            CHECK_OK(fkex_hkdf_expand(part, L, prk, info, (size_t)nf));
            CHECK(memcmp(part, want_okm, L) == 0 && part[L] == 0xee);
        }
    }
}

static void test_hkdf_limits(void)
{
    static uint8_t out[FKEX_HKDF_MAX_OUT + 1];
    uint8_t prk[32], again[32], copy[32];
    fill(prk, sizeof prk, 1);
    memset(out, 0x5a, sizeof out);
    CHECK_OK(fkex_hkdf_expand(out, FKEX_HKDF_MAX_OUT, prk, NULL, 0));
    CHECK(out[FKEX_HKDF_MAX_OUT] == 0x5a);
    memset(out, 0x5a, sizeof out);
    CHECK_ERR(fkex_hkdf_expand(out, FKEX_HKDF_MAX_OUT + 1, prk, NULL, 0), FKEX_ERR_ARGUMENT);
    CHECK(out[0] == 0x5a && out[FKEX_HKDF_MAX_OUT] == 0x5a);
    CHECK_ERR(fkex_hkdf_labeled_expand(out, FKEX_HKDF_MAX_OUT + 1, prk, NULL, 0, "x", NULL, 0),
              FKEX_ERR_ARGUMENT);
    CHECK_OK(fkex_hkdf_expand(out, 0, prk, NULL, 0));
    /* Output over its own prk, as a hash chain does. */
    CHECK_OK(fkex_hkdf_expand(again, 32, prk, (const uint8_t *)"chain", 5));
    memcpy(copy, prk, 32);
    CHECK_OK(fkex_hkdf_expand(copy, 32, copy, (const uint8_t *)"chain", 5));
    CHECK(memcmp(copy, again, 32) == 0);
    /* Longer than one block, in place: the later blocks use the old prk. */
    CHECK_OK(fkex_hkdf_expand(out, 64, prk, NULL, 0));
    {
        uint8_t buf[64];
        memcpy(buf, prk, 32);
        CHECK_OK(fkex_hkdf_expand(buf, 64, buf, NULL, 0));
        CHECK(memcmp(buf, out, 64) == 0);
    }
}

/* The labeled forms are plain HKDF over the concatenations of RFC 9180 §4. */
static void test_hkdf_labeled(void)
{
    static const uint8_t suite[5] = { 'K', 'E', 'M', 0x00, 0x20 };
    uint8_t salt[7], ikm[40], info[33], buf[128], a[32], b[32], oa[70], ob[70];
    size_t n = 0;
    fill(salt, sizeof salt, 2);
    fill(ikm, sizeof ikm, 3);
    fill(info, sizeof info, 4);

    fkex_hkdf_labeled_extract(a, suite, sizeof suite, salt, sizeof salt, "lbl", ikm, sizeof ikm);
    memcpy(buf, "HPKE-v1", 7), n = 7;
    memcpy(buf + n, suite, 5), n += 5;
    memcpy(buf + n, "lbl", 3), n += 3;
    memcpy(buf + n, ikm, sizeof ikm), n += sizeof ikm;
    fkex_hkdf_extract(b, salt, sizeof salt, buf, n);
    CHECK(memcmp(a, b, 32) == 0);

    CHECK_OK(fkex_hkdf_labeled_expand(oa, sizeof oa, a, suite, sizeof suite, "lbl", info,
                                      sizeof info));
    buf[0] = 0, buf[1] = sizeof oa, n = 2;
    memcpy(buf + n, "HPKE-v1", 7), n += 7;
    memcpy(buf + n, suite, 5), n += 5;
    memcpy(buf + n, "lbl", 3), n += 3;
    memcpy(buf + n, info, sizeof info), n += sizeof info;
    CHECK_OK(fkex_hkdf_expand(ob, sizeof ob, a, buf, n));
    CHECK(memcmp(oa, ob, sizeof oa) == 0);
}

/* ---- the RFC 9180 A.2.1 vector file ---------------------------------------- */
#define VECTOR_FILE "tests/vectors/hpke-x25519-sha256-chacha20poly1305.txt"
#define MAX_ENTRIES 64

typedef struct {
    char name[32];
    uint8_t val[80];
    long len;             /* -1 if the hex did not parse */
    unsigned long num;    /* for decimal fields */
} entry;

static int is_decimal(const char *name)
{
    static const char *const names[] = { "mode", "kem_id", "kdf_id", "aead_id",
                                         "sequence_number", "L" };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* Reads "name = value" lines in order. Returns the count, or -1. */
static int read_vectors(entry *e, int cap)
{
    FILE *f = fopen(VECTOR_FILE, "r");
    char line[512];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        char *eq, *val, *end;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        eq = strstr(line, " =");
        if (!eq || n == cap || (size_t)(eq - line) >= sizeof e[n].name) {
            n = -1;
            break;
        }
        memcpy(e[n].name, line, (size_t)(eq - line));
        e[n].name[eq - line] = 0;
        val = eq + 2;
        while (*val == ' ')
            val++;
        e[n].len = 0;
        e[n].num = 0;
        if (is_decimal(e[n].name)) {
            e[n].num = strtoul(val, &end, 10);
            if (end == val || *end) {
                n = -1;
                break;
            }
        } else {
            e[n].len = unhex(e[n].val, sizeof e[n].val, val);
            if (e[n].len < 0) {
                n = -1;
                break;
            }
        }
        n++;
    }
    fclose(f);
    return n;
}

static const entry *find(const entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return &e[i];
    return NULL;
}

/* Checks that `name` is present with exactly len bytes equal to p. */
static int same(const entry *e, int n, const char *name, const uint8_t *p, size_t len)
{
    const entry *x = find(e, n, name);
    return x && (size_t)x->len == len && memcmp(x->val, p, len) == 0;
}

static void test_rfc9180_vector(void)
{
    static entry e[MAX_ENTRIES];
    int n = read_vectors(e, MAX_ENTRIES);
    const entry *ikmE, *ikmR, *info, *enc_v, *skRm;
    uint8_t skE[32], pkE[32], skR[32], pkR[32], enc[32], ss[32], ss_r[32];
    fkex_hpke_context s, r;
    int encryptions = 0, exports = 0;

    CHECK(n > 0);
    if (n <= 0)
        return;
    CHECK(find(e, n, "mode") && find(e, n, "mode")->num == 0);
    CHECK(find(e, n, "kem_id") && find(e, n, "kem_id")->num == 0x20);
    CHECK(find(e, n, "kdf_id") && find(e, n, "kdf_id")->num == 1);
    CHECK(find(e, n, "aead_id") && find(e, n, "aead_id")->num == 3);
    ikmE = find(e, n, "ikmE");
    ikmR = find(e, n, "ikmR");
    info = find(e, n, "info");
    enc_v = find(e, n, "enc");
    skRm = find(e, n, "skRm");
    CHECK(ikmE && ikmR && info && enc_v && skRm && enc_v->len == 32 && skRm->len == 32);
    if (!ikmE || !ikmR || !info || !enc_v || !skRm)
        return;

    /* DeriveKeyPair (§7.1.3) for both key pairs. */
    CHECK_OK(fkex_hpke_keypair_derive(skE, pkE, ikmE->val, (size_t)ikmE->len));
    CHECK_OK(fkex_hpke_keypair_derive(skR, pkR, ikmR->val, (size_t)ikmR->len));
    CHECK(same(e, n, "skEm", skE, 32) && same(e, n, "pkEm", pkE, 32));
    CHECK(same(e, n, "skRm", skR, 32) && same(e, n, "pkRm", pkR, 32));

    /* The KEM on its own, both sides. */
    CHECK_OK(fkex_hpke_encap_derand(ss, enc, pkR, skE));
    CHECK(same(e, n, "enc", enc, 32) && same(e, n, "shared_secret", ss, 32));
    CHECK_OK(fkex_hpke_decap(ss_r, enc_v->val, skRm->val));
    CHECK(same(e, n, "shared_secret", ss_r, 32));

    /* Setup on both sides: key schedule outputs. */
    memset(enc, 0, sizeof enc);
    CHECK_OK(fkex_hpke_setup_base_s_derand(enc, &s, pkR, info->val, (size_t)info->len, skE));
    CHECK(same(e, n, "enc", enc, 32));
    CHECK_OK(fkex_hpke_setup_base_r(&r, enc_v->val, skRm->val, info->val, (size_t)info->len));
    CHECK(same(e, n, "key", s.key, 32) && same(e, n, "key", r.key, 32));
    CHECK(same(e, n, "base_nonce", s.base_nonce, 12) && same(e, n, "base_nonce", r.base_nonce, 12));
    CHECK(same(e, n, "exporter_secret", s.exporter_secret, 32));
    CHECK(same(e, n, "exporter_secret", r.exporter_secret, 32));

    /* Encryptions: seal and open every sequence number up to the last one
     * listed, with aad "Count-<seq>" as the RFC's generator does, and
     * compare at the listed ones. */
    for (int i = 0; i < n; i++) {
        const entry *pt, *aad, *ct;
        uint8_t got[128], back[128];
        if (strcmp(e[i].name, "sequence_number") != 0)
            continue;
        CHECK(i + 4 < n && strcmp(e[i + 1].name, "pt") == 0 && strcmp(e[i + 2].name, "aad") == 0
              && strcmp(e[i + 3].name, "nonce") == 0 && strcmp(e[i + 4].name, "ct") == 0);
        if (i + 4 >= n)
            break;
        pt = &e[i + 1], aad = &e[i + 2], ct = &e[i + 4];
        CHECK(s.seq <= e[i].num && ct->len == pt->len + FKEX_HPKE_NT);
        while (s.seq < e[i].num) {
            char a[32];
            int alen = snprintf(a, sizeof a, "Count-%llu", (unsigned long long)s.seq);
            CHECK_OK(fkex_hpke_seal(got, &s, (const uint8_t *)a, (size_t)alen, pt->val,
                                    (size_t)pt->len));
            CHECK_OK(fkex_hpke_open(back, &r, (const uint8_t *)a, (size_t)alen, got,
                                    (size_t)pt->len + FKEX_HPKE_NT));
        }
        CHECK(s.seq == e[i].num && r.seq == e[i].num);
        CHECK_OK(fkex_hpke_seal(got, &s, aad->val, (size_t)aad->len, pt->val, (size_t)pt->len));
        CHECK(memcmp(got, ct->val, (size_t)ct->len) == 0);
        memset(back, 0, sizeof back);
        CHECK_OK(fkex_hpke_open(back, &r, aad->val, (size_t)aad->len, ct->val, (size_t)ct->len));
        CHECK(memcmp(back, pt->val, (size_t)pt->len) == 0);
        encryptions++;
    }
    CHECK(encryptions == 6);

    /* Exported values, from both contexts. */
    for (int i = 0; i < n; i++) {
        uint8_t out_s[64], out_r[64];
        if (strcmp(e[i].name, "exporter_context") != 0)
            continue;
        CHECK(i + 2 < n && strcmp(e[i + 1].name, "L") == 0
              && strcmp(e[i + 2].name, "exported_value") == 0);
        if (i + 2 >= n || e[i + 1].num > sizeof out_s)
            break;
        CHECK_OK(fkex_hpke_export(out_s, e[i + 1].num, &s, e[i].val, (size_t)e[i].len));
        CHECK_OK(fkex_hpke_export(out_r, e[i + 1].num, &r, e[i].val, (size_t)e[i].len));
        CHECK((size_t)e[i + 2].len == e[i + 1].num);
        CHECK(memcmp(out_s, e[i + 2].val, e[i + 1].num) == 0);
        CHECK(memcmp(out_r, e[i + 2].val, e[i + 1].num) == 0);
        exports++;
    }
    CHECK(exports == 3);
    fkex_hpke_context_wipe(&s);
    fkex_hpke_context_wipe(&r);
}

/* ---- round trips and refusals ---------------------------------------------- */

typedef struct {
    uint8_t skR[32], pkR[32], enc[32];
    fkex_hpke_context s, r;
} pair;

static const uint8_t INFO[] = "fkex v1 test context";

static void make_pair(pair *p, const char *label)
{
    fkex_rng rng;
    test_rng(&rng, label);
    fkex_hpke_keypair_generate(p->skR, p->pkR, &rng);
    CHECK_OK(fkex_hpke_setup_base_s(p->enc, &p->s, p->pkR, INFO, sizeof INFO, &rng));
    CHECK_OK(fkex_hpke_setup_base_r(&p->r, p->enc, p->skR, INFO, sizeof INFO));
}

static void free_pair(pair *p)
{
    fkex_hpke_context_wipe(&p->s);
    fkex_hpke_context_wipe(&p->r);
}

static void test_round_trip(void)
{
    pair p;
    uint8_t pt[300], ct[300 + FKEX_HPKE_NT], back[300], xs[100], xr[100];
    make_pair(&p, "hpke round trip");
    for (size_t len = 0; len <= sizeof pt; len += 37) {
        fill(pt, len, (uint32_t)len);
        CHECK_OK(fkex_hpke_seal(ct, &p.s, (const uint8_t *)"hdr", 3, pt, len));
        CHECK_OK(fkex_hpke_open(back, &p.r, (const uint8_t *)"hdr", 3, ct, len + FKEX_HPKE_NT));
        CHECK(memcmp(back, pt, len) == 0);
    }
    /* In place, and with no aad. */
    fill(pt, 64, 9);
    memcpy(back, pt, 64);
    CHECK_OK(fkex_hpke_seal(back, &p.s, NULL, 0, back, 64));
    CHECK(memcmp(back, pt, 64) != 0);
    CHECK_OK(fkex_hpke_open(back, &p.r, NULL, 0, back, 64 + FKEX_HPKE_NT));
    CHECK(memcmp(back, pt, 64) == 0);
    /* Exports agree, differ by context, and are prefixes of longer ones. */
    CHECK_OK(fkex_hpke_export(xs, sizeof xs, &p.s, (const uint8_t *)"a", 1));
    CHECK_OK(fkex_hpke_export(xr, sizeof xr, &p.r, (const uint8_t *)"a", 1));
    CHECK(memcmp(xs, xr, sizeof xs) == 0);
    CHECK_OK(fkex_hpke_export(xr, sizeof xr, &p.r, (const uint8_t *)"b", 1));
    CHECK(memcmp(xs, xr, sizeof xs) != 0);
    CHECK_ERR(fkex_hpke_export(xr, FKEX_HPKE_MAX_EXPORT + 1, &p.r, NULL, 0), FKEX_ERR_ARGUMENT);
    /* A second setup to the same key gives a different enc and key. */
    {
        pair q;
        make_pair(&q, "hpke round trip 2");
        CHECK(memcmp(q.enc, p.enc, 32) != 0 && memcmp(q.s.key, p.s.key, 32) != 0);
        free_pair(&q);
    }
    free_pair(&p);
}

/* Opens ct (len bytes) into a buffer of 0xa5 and checks the error and that
 * nothing was written. */
static void open_fails(fkex_hpke_context *r, const uint8_t *aad, size_t aadlen,
                       const uint8_t *ct, size_t len, fkex_err want)
{
    uint8_t out[128];
    uint64_t seq = r->seq;
    memset(out, 0xa5, sizeof out);
    CHECK_ERR(fkex_hpke_open(out, r, aad, aadlen, ct, len), want);
    for (size_t i = 0; i < sizeof out; i++)
        CHECK(out[i] == 0xa5);
    CHECK(r->seq == seq);
}

static void test_tampering(void)
{
    pair p;
    uint8_t pt[40], ct[40 + FKEX_HPKE_NT], bad[sizeof ct], back[40];
    const uint8_t aad[] = "header";
    make_pair(&p, "hpke tampering");
    fill(pt, sizeof pt, 7);
    CHECK_OK(fkex_hpke_seal(ct, &p.s, aad, sizeof aad, pt, sizeof pt));

    /* Every bit of body and tag. */
    for (size_t i = 0; i < sizeof ct * 8; i++) {
        memcpy(bad, ct, sizeof ct);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        open_fails(&p.r, aad, sizeof aad, bad, sizeof bad, FKEX_ERR_AUTHENTICATION);
    }
    /* Truncated, extended, other aad. */
    for (size_t len = 0; len < FKEX_HPKE_NT; len++)
        open_fails(&p.r, aad, sizeof aad, ct, len, FKEX_ERR_TRUNCATED);
    for (size_t len = FKEX_HPKE_NT; len < sizeof ct; len++)
        open_fails(&p.r, aad, sizeof aad, ct, len, FKEX_ERR_AUTHENTICATION);
    open_fails(&p.r, aad, sizeof aad - 1, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);
    open_fails(&p.r, NULL, 0, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);
    open_fails(&p.r, (const uint8_t *)"headex", sizeof aad, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);

    /* None of that moved the context: the genuine ciphertext still opens. */
    CHECK_OK(fkex_hpke_open(back, &p.r, aad, sizeof aad, ct, sizeof ct));
    CHECK(memcmp(back, pt, sizeof pt) == 0);
    free_pair(&p);
}

static void test_wrong_enc_or_key(void)
{
    pair p;
    fkex_rng rng;
    fkex_hpke_context r2;
    uint8_t pt[20], ct[20 + FKEX_HPKE_NT], enc2[32], sk2[32], pk2[32];
    make_pair(&p, "hpke wrong enc");
    fill(pt, sizeof pt, 3);
    CHECK_OK(fkex_hpke_seal(ct, &p.s, NULL, 0, pt, sizeof pt));

    /* Any flipped bit of enc, including bit 255, which X25519 ignores: enc
     * is hashed into the shared secret. */
    for (size_t i = 0; i < 256; i += 17) {
        memcpy(enc2, p.enc, 32);
        enc2[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (fkex_hpke_setup_base_r(&r2, enc2, p.skR, INFO, sizeof INFO) == FKEX_OK)
            open_fails(&r2, NULL, 0, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);
        fkex_hpke_context_wipe(&r2);
    }
    memcpy(enc2, p.enc, 32);
    enc2[31] ^= 0x80;
    CHECK_OK(fkex_hpke_setup_base_r(&r2, enc2, p.skR, INFO, sizeof INFO));
    open_fails(&r2, NULL, 0, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);
    fkex_hpke_context_wipe(&r2);

    /* Another recipient key; the right key with another info. */
    test_rng(&rng, "hpke other key");
    fkex_hpke_keypair_generate(sk2, pk2, &rng);
    CHECK_OK(fkex_hpke_setup_base_r(&r2, p.enc, sk2, INFO, sizeof INFO));
    open_fails(&r2, NULL, 0, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);
    fkex_hpke_context_wipe(&r2);
    CHECK_OK(fkex_hpke_setup_base_r(&r2, p.enc, p.skR, INFO, sizeof INFO - 1));
    open_fails(&r2, NULL, 0, ct, sizeof ct, FKEX_ERR_AUTHENTICATION);
    fkex_hpke_context_wipe(&r2);
    free_pair(&p);
}

static void test_sequence(void)
{
    pair p;
    uint8_t pt[3][10], ct[3][10 + FKEX_HPKE_NT], back[10];
    const size_t clen = 10 + FKEX_HPKE_NT;
    make_pair(&p, "hpke sequence");
    for (int i = 0; i < 3; i++) {
        fill(pt[i], 10, (uint32_t)i);
        CHECK_OK(fkex_hpke_seal(ct[i], &p.s, NULL, 0, pt[i], 10));
    }
    /* Out of order and skipped messages fail; in order they open. */
    open_fails(&p.r, NULL, 0, ct[1], clen, FKEX_ERR_AUTHENTICATION);
    open_fails(&p.r, NULL, 0, ct[2], clen, FKEX_ERR_AUTHENTICATION);
    CHECK_OK(fkex_hpke_open(back, &p.r, NULL, 0, ct[0], clen));
    CHECK(memcmp(back, pt[0], 10) == 0);
    /* A replay of the one just opened fails. */
    open_fails(&p.r, NULL, 0, ct[0], clen, FKEX_ERR_AUTHENTICATION);
    CHECK_OK(fkex_hpke_open(back, &p.r, NULL, 0, ct[1], clen));
    CHECK(memcmp(back, pt[1], 10) == 0);
    open_fails(&p.r, NULL, 0, ct[0], clen, FKEX_ERR_AUTHENTICATION);
    open_fails(&p.r, NULL, 0, ct[1], clen, FKEX_ERR_AUTHENTICATION);
    CHECK_OK(fkex_hpke_open(back, &p.r, NULL, 0, ct[2], clen));
    CHECK(memcmp(back, pt[2], 10) == 0);
    free_pair(&p);
}

/* The counter is 64 bits: the last message has seq 2^64 - 2, and the next
 * one is refused on both sides without writing anything. */
static void test_sequence_overflow(void)
{
    pair p;
    uint8_t pt[8], ct[8 + FKEX_HPKE_NT], back[8];
    make_pair(&p, "hpke overflow");
    fill(pt, sizeof pt, 8);
    p.s.seq = p.r.seq = UINT64_MAX - 1;
    CHECK_OK(fkex_hpke_seal(ct, &p.s, NULL, 0, pt, sizeof pt));
    CHECK_OK(fkex_hpke_open(back, &p.r, NULL, 0, ct, sizeof ct));
    CHECK(memcmp(back, pt, sizeof pt) == 0);
    CHECK(p.s.seq == UINT64_MAX && p.r.seq == UINT64_MAX);
    memset(ct, 0xa5, sizeof ct);
    CHECK_ERR(fkex_hpke_seal(ct, &p.s, NULL, 0, pt, sizeof pt), FKEX_ERR_ARGUMENT);
    for (size_t i = 0; i < sizeof ct; i++)
        CHECK(ct[i] == 0xa5);
    CHECK(p.s.seq == UINT64_MAX);
    open_fails(&p.r, NULL, 0, ct, sizeof ct, FKEX_ERR_ARGUMENT);
    /* Exporting still works: it uses no nonce. */
    CHECK_OK(fkex_hpke_export(back, sizeof back, &p.r, NULL, 0));
    free_pair(&p);
}

/* u = 0 and u = 1 and an order-8 point give an all-zero X25519 output. */
static void test_low_order(void)
{
    static const char *const points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    };
    fkex_rng rng;
    fkex_hpke_context ctx;
    uint8_t sk[32], pk[32], bad[32], enc[32], ss[32], buf[32];
    test_rng(&rng, "hpke low order");
    fkex_hpke_keypair_generate(sk, pk, &rng);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(points); i++) {
        CHECK(unhex(bad, sizeof bad, points[i]) == 32);
        memset(ss, 0xa5, sizeof ss);
        CHECK_ERR(fkex_hpke_encap_derand(ss, enc, bad, sk), FKEX_ERR_NOT_IN_GROUP);
        CHECK(sodium_is_zero(ss, sizeof ss) && sodium_is_zero(enc, sizeof enc));
        CHECK_ERR(fkex_hpke_decap(ss, bad, sk), FKEX_ERR_NOT_IN_GROUP);
        CHECK_ERR(fkex_hpke_setup_base_s(enc, &ctx, bad, INFO, sizeof INFO, &rng),
                  FKEX_ERR_NOT_IN_GROUP);
        /* A failed setup leaves a context that refuses everything. */
        CHECK_ERR(fkex_hpke_seal(buf, &ctx, NULL, 0, NULL, 0), FKEX_ERR_ARGUMENT);
        CHECK_ERR(fkex_hpke_export(buf, sizeof buf, &ctx, NULL, 0), FKEX_ERR_ARGUMENT);
        CHECK_ERR(fkex_hpke_setup_base_r(&ctx, bad, sk, INFO, sizeof INFO),
                  FKEX_ERR_NOT_IN_GROUP);
        CHECK_ERR(fkex_hpke_open(buf, &ctx, NULL, 0, buf, sizeof buf), FKEX_ERR_ARGUMENT);
    }
}

static void test_misuse(void)
{
    pair p;
    uint8_t buf[64], ikm[32] = { 0 }, sk[32], pk[32];
    make_pair(&p, "hpke misuse");
    /* Each context does its own role only. */
    CHECK_ERR(fkex_hpke_seal(buf, &p.r, NULL, 0, buf, 8), FKEX_ERR_ARGUMENT);
    CHECK_OK(fkex_hpke_seal(buf, &p.s, NULL, 0, buf, 8));
    CHECK_ERR(fkex_hpke_open(buf, &p.s, NULL, 0, buf, 8 + FKEX_HPKE_NT), FKEX_ERR_ARGUMENT);
    CHECK(p.r.seq == 0 && p.s.seq == 1);
    /* Wiping zeroes the secrets and disables the context. */
    fkex_hpke_context_wipe(&p.s);
    CHECK(sodium_is_zero((const uint8_t *)&p.s, sizeof p.s));
    CHECK_ERR(fkex_hpke_seal(buf, &p.s, NULL, 0, buf, 8), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_hpke_export(buf, 32, &p.s, NULL, 0), FKEX_ERR_ARGUMENT);
    /* DeriveKeyPair wants at least Nsk bytes of ikm. */
    CHECK_ERR(fkex_hpke_keypair_derive(sk, pk, ikm, 31), FKEX_ERR_ARGUMENT);
    CHECK_OK(fkex_hpke_keypair_derive(sk, pk, ikm, 32));
    free_pair(&p);
}

/* fkex_x25519_small_order against libsodium's X25519, which refuses an
 * all-zero result: each point of order dividing 8 (RFC 7748's curve and
 * its twist; 0, 1, p - 1, two of order 8, and p, p + 1 as non-canonical 0
 * and 1), with the top bit clear or set (X25519 ignores it), makes every
 * multiplication fail and is flagged; random keys, and keys one bit off
 * a listed one, are neither. */
static void test_x25519_small_order(void)
{
    static const char *const small[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    fkex_rng rng;
    uint8_t pk[32], sk[32], out[32];
    test_rng(&rng, "x25519 small order");
    for (size_t i = 0; i < FKEX_ARRAY_LEN(small); i++)
        for (int top = 0; top < 2; top++) {
            CHECK(sodium_hex2bin(pk, 32, small[i], 64, NULL, NULL, NULL) == 0);
            pk[31] |= (uint8_t)(top ? 0x80 : 0);
            CHECK(fkex_x25519_small_order(pk));
            fkex_rng_fill(&rng, sk, 32);
            CHECK(crypto_scalarmult(out, sk, pk) != 0);
            pk[(size_t)(7 * i + 3) % 31] ^= 0x10;   /* one bit off: a usable key */
            CHECK(!fkex_x25519_small_order(pk) && crypto_scalarmult(out, sk, pk) == 0);
        }
    for (int k = 0; k < 1000; k++) {
        fkex_rng_fill(&rng, pk, 32);
        CHECK(!fkex_x25519_small_order(pk));
    }
}

void suite_hpke(void)
{
    RUN(test_hkdf_rfc5869);
    RUN(test_hkdf_limits);
    RUN(test_hkdf_labeled);
    RUN(test_rfc9180_vector);
    RUN(test_round_trip);
    RUN(test_tampering);
    RUN(test_wrong_enc_or_key);
    RUN(test_sequence);
    RUN(test_sequence_overflow);
    RUN(test_low_order);
    RUN(test_x25519_small_order);
    RUN(test_misuse);
}
