/*
 * tests/test_ibe.c: Boneh-Franklin IBE (src/ibe/bf.c, keys.c, ct.c) and
 * IBAKE (src/ibe/ibake.c, ibake_msg.c).
 *
 * Known answers from a deterministic-RNG run (tests/vectors/ibe.kat;
 * FKEX_WRITE_VECTORS=1 regenerates it), the pairing equations, identity
 * normalisation, every way a ciphertext can be wrong, and IBAKE against
 * tampering, replays, men in the middle and a passive key authority.
 */
#include <stdlib.h>
#include "test.h"

#define KAT_FILE "tests/vectors/ibe.kat"

typedef struct {
    fkex_mpk *mpk;
    fkex_msk *msk;
} authority;

static void authority_new(authority *a, const char *label)
{
    fkex_rng rng;
    fkex_mpk *old;
    test_rng(&rng, label);
    a->mpk = NULL;
    a->msk = NULL;
    CHECK_OK(fkex_abe_setup(&old, &a->msk, "waters11", &rng));
    fkex_mpk_free(old);
    CHECK_OK(fkex_ibe_setup(&a->mpk, a->msk, &rng));
}

static void authority_free(authority *a)
{
    fkex_mpk_free(a->mpk);
    fkex_msk_free(a->msk);
}

/* A key for identity id (and the attributes, if any). */
static fkex_key *id_key(const authority *a, const char *attrs, const char *id, fkex_rng *rng)
{
    fkex_key *key = NULL;
    if (attrs)
        key = test_keygen(a->msk, attrs, rng);
    else
        CHECK_OK(fkex_abe_keygen(&key, a->msk, NULL, 0, rng));
    CHECK(key != NULL);
    if (key && id)
        CHECK_OK(fkex_ibe_keygen(key, a->msk, id));
    return key;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* ---- identities ------------------------------------------------------------ */

static void test_identity_normalisation(void)
{
    static const struct { const char *in, *out; } good[] = {
        { "alice@example.org", "alice@example.org" },
        { "Alice@Example.ORG", "alice@example.org" },
        { "  \t Alice@Example.org\r\n", "alice@example.org" },
        { "Bob Smith", "bob smith" },                 /* inner spaces stay */
        { "\xc3\x89VA@example.org", "\xc3\x89va@example.org" },   /* only ASCII folds */
        { "\xf0\x9f\x94\x91", "\xf0\x9f\x94\x91" },   /* a 4-byte character */
    };
    static const char *const bad[] = {
        "", "   ", "\t\n", "a\tb", "a\nb", "a\x7f", "a\x01", "\xc2\x85",   /* C1 NEL */
        "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xc3",
        "a\xc3(",
        /* invisible: no-break space, zero-width space and joiner, a right-to-left
         * override, an ideographic space, a BOM, a soft hyphen */
        "alice\xc2\xa0@example.org", "al\xe2\x80\x8bice", "a\xe2\x80\x8d", "\xe2\x80\xaegro.elpmaxe@ecila",
        "\xe3\x80\x80" "alice", "\xef\xbb\xbf" "alice", "ali\xc2\xad" "ce",
    };
    char out[FKEX_IBE_ID_MAX + 1], longer[FKEX_IBE_ID_INPUT_MAX + 2];
    for (size_t i = 0; i < FKEX_ARRAY_LEN(good); i++) {
        CHECK_OK(fkex_ibe_identity(out, good[i].in, strlen(good[i].in)));
        CHECK(strcmp(out, good[i].out) == 0);
        CHECK(fkex_ibe_identity_canonical((const uint8_t *)good[i].out, strlen(good[i].out)));
    }
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++)
        CHECK_ERR(fkex_ibe_identity(out, bad[i], strlen(bad[i])), FKEX_ERR_ATTRIBUTE);
    /* An embedded NUL is a control character. */
    CHECK_ERR(fkex_ibe_identity(out, "a\0b", 3), FKEX_ERR_ATTRIBUTE);
    /* The bound: 255 bytes after trimming; longer inputs are refused unread. */
    memset(longer, 'x', sizeof longer);
    CHECK_OK(fkex_ibe_identity(out, longer, FKEX_IBE_ID_MAX));
    CHECK(strlen(out) == FKEX_IBE_ID_MAX);
    CHECK_ERR(fkex_ibe_identity(out, longer, FKEX_IBE_ID_MAX + 1), FKEX_ERR_ATTRIBUTE);
    CHECK_ERR(fkex_ibe_identity(out, longer, sizeof longer), FKEX_ERR_ATTRIBUTE);
    /* Not canonical: what normalisation would change. */
    CHECK(!fkex_ibe_identity_canonical((const uint8_t *)"Alice", 5));
    CHECK(!fkex_ibe_identity_canonical((const uint8_t *)" alice", 6));
}

/* ---- H1 against RFC 9380 ------------------------------------------------------- */

static void unhex(uint8_t *out, const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* H1 is blst's hash_to_curve, suite BLS12381G1_XMD:SHA-256_SSWU_RO_: the
 * suite's own vectors (RFC 9380, appendix J.9.1, x then y), and Q_ID is
 * that suite under the tag FORMATS.md gives, so another implementation
 * can recompute it. */
static void test_h1_rfc9380(void)
{
    static const char quux[] = "QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_";
    static const char tag[] = "FKEX-V1-IBE-ID-BLS12381G1_XMD:SHA-256_SSWU_RO_";
    static const struct { const char *msg, *xy; } v[] = {
        { "", "052926add2207b76ca4fa57a8734416c8dc95e24501772c814278700eed6d1e4e8cf62d9c09db0fac349612b759e79a1"
              "08ba738453bfed09cb546dbb0783dbb3a5f1f566ed67bb6be0e8c67e2e81a4cc68ee29813bb7994998f3eae0c9c6a265" },
        { "abc", "03567bc5ef9c690c2ab2ecdf6a96ef1c139cc0b2f284dca0a9a7943388a49a3aee664ba5379a7655d3c68900be2f6903"
                 "0b9c15f3fe6e5cf4211f346271d7b01c8f3b28be689c8429c85b67af215533311f0b8dfaaa154fa6b88176c229f2885d" },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(v); i++) {
        fkex_g1 p;
        uint8_t got[96], want[96];
        blst_hash_to_g1(&p, (const uint8_t *)v[i].msg, strlen(v[i].msg), (const uint8_t *)quux,
                        sizeof quux - 1, NULL, 0);
        blst_p1_serialize(got, &p);
        unhex(want, v[i].xy, sizeof want);
        CHECK(memcmp(got, want, sizeof want) == 0);
    }
    {
        fkex_g1 q, ref;
        fkex_ibe_hash_id(&q, "alice@example.org", 17);
        blst_hash_to_g1(&ref, (const uint8_t *)"alice@example.org", 17, (const uint8_t *)tag,
                        sizeof tag - 1, NULL, 0);
        CHECK(fkex_g1_equal(&q, &ref));
    }
}

/* ---- the scheme's equations --------------------------------------------------- */

static void test_algebra(void)
{
    authority a;
    fkex_rng rng;
    fkex_key *key;
    fkex_g1 q, d;
    fkex_g2 g2, ppub;
    fkex_gt left, right, lines;
    test_rng(&rng, "ibe algebra");
    authority_new(&a, "ibe algebra authority");
    key = id_key(&a, NULL, "alice@example.org", &rng);
    if (!key)
        return;
    const fkex_ibe_ukey *uk = key->ibe;
    const fkex_ibe_pub *pub = a.mpk->ibe;
    CHECK(uk != NULL && pub != NULL);
    fkex_ibe_hash_id(&q, "alice@example.org", 17);
    blst_p1_from_affine(&d, &uk->d);
    blst_p2_from_affine(&ppub, &pub->ppub.q);
    fkex_g2_generator(&g2);
    /* e(d_ID, g2) = e(s Q_ID, P) = e(Q_ID, sP) = e(Q_ID, P_pub) */
    fkex_pairing(&left, &d, &g2);
    fkex_pairing(&right, &q, &ppub);
    CHECK(fkex_gt_equal(&left, &right));
    /* The precomputed lines give the same pairing. */
    fkex_pairing_lines(&lines, &q, &pub->ppub);
    CHECK(fkex_gt_equal(&lines, &right));
    /* P_pub = g2^s. */
    {
        fkex_g2 again;
        fkex_g2_mul(&again, &g2, &a.msk->ibe->s);
        CHECK(fkex_g2_equal(&again, &ppub));
    }
    /* The identity hash has its own tag: not the attribute hash of the same bytes. */
    {
        fkex_g1 attr;
        fkex_g1_hash(&attr, "ATTR", (const uint8_t *)"alice@example.org", 17);
        CHECK(!fkex_g1_equal(&attr, &q));
    }
    fkex_key_free(key);
    authority_free(&a);
}

/* ---- the KEM ---------------------------------------------------------------- */

static void test_roundtrip(void)
{
    authority a;
    fkex_rng rng;
    fkex_key *alice, *alice2;
    fkex_ibe_ct *c1, *c2, *copy;
    uint8_t k1[32], k2[32], back[32];
    const uint8_t *b;
    size_t len;
    test_rng(&rng, "ibe roundtrip");
    authority_new(&a, "ibe roundtrip authority");
    alice = id_key(&a, "ONE TWO", "alice@example.org", &rng);
    /* A second key for the same name (another t for the attributes) opens too. */
    alice2 = id_key(&a, NULL, "ALICE@example.org", &rng);
    if (!alice || !alice2)
        return;
    CHECK(strcmp(fkex_key_identity(alice2), "alice@example.org") == 0);
    CHECK_OK(fkex_ibe_encap(k1, &c1, a.mpk, "  Alice@Example.org ", &rng));
    CHECK_OK(fkex_ibe_encap(k2, &c2, a.mpk, "alice@example.org", &rng));
    CHECK(strcmp(fkex_ibe_ct_identity(c1), "alice@example.org") == 0);
    CHECK(memcmp(k1, k2, 32) != 0);
    CHECK_OK(fkex_ibe_decap(back, alice, c1));
    CHECK(memcmp(back, k1, 32) == 0);
    CHECK_OK(fkex_ibe_decap(back, alice2, c2));
    CHECK(memcmp(back, k2, 32) == 0);
    /* decode(encode) is the identity, and the decoded one opens alike. */
    fkex_ibe_ct_bytes(&b, &len, c1);
    CHECK(len == FKEX_HEADER_BYTES + 2 + 17 + 96 + 32);
    CHECK_OK(fkex_ibe_ct_decode(&copy, b, len));
    CHECK_OK(fkex_ibe_decap(back, alice, copy));
    CHECK(memcmp(back, k1, 32) == 0);
    /* The ABE side of the same key still works. */
    {
        fkex_policy *p;
        fkex_policy_error perr;
        fkex_abe_ct *ct;
        CHECK_OK(fkex_policy_parse(&p, "ONE and TWO", 11, &perr));
        CHECK_OK(fkex_abe_encap(k1, &ct, a.mpk, p, FKEX_ABE_CCA, &rng));
        CHECK_OK(fkex_abe_decap(back, alice, ct, FKEX_ABE_CCA));
        CHECK(memcmp(back, k1, 32) == 0);
        fkex_abe_ct_free(ct);
        fkex_policy_free(p);
    }
    fkex_ibe_ct_free(copy);
    fkex_ibe_ct_free(c1);
    fkex_ibe_ct_free(c2);
    fkex_key_free(alice);
    fkex_key_free(alice2);
    authority_free(&a);
}

static void test_wrong_key(void)
{
    authority a, other;
    fkex_rng rng;
    fkex_key *bob, *alice, *stranger, *attrs_only;
    fkex_ibe_ct *ct, forged;
    uint8_t k[32], out[32];
    test_rng(&rng, "ibe wrong key");
    authority_new(&a, "ibe wrong key authority");
    authority_new(&other, "ibe wrong key other authority");
    alice = id_key(&a, NULL, "alice@example.org", &rng);
    bob = id_key(&a, NULL, "bob@example.org", &rng);
    stranger = id_key(&other, NULL, "alice@example.org", &rng);
    attrs_only = id_key(&a, "ONE", NULL, &rng);
    if (!alice || !bob || !stranger || !attrs_only)
        return;
    CHECK_OK(fkex_ibe_encap(k, &ct, a.mpk, "alice@example.org", &rng));
    memset(out, 0xa5, sizeof out);
    CHECK_ERR(fkex_ibe_decap(out, bob, ct), FKEX_ERR_WRONG_IDENTITY);
    CHECK_ERR(fkex_ibe_decap(out, attrs_only, ct), FKEX_ERR_WRONG_IDENTITY);
    CHECK_ERR(fkex_ibe_decap(out, stranger, ct), FKEX_ERR_WRONG_AUTHORITY);
    /* The algebra refuses too, without the name check: bob's d_ID under
     * alice's name fails the Fujisaki-Okamoto check. */
    {
        fkex_ibe_ukey impostor = *bob->ibe;
        uint8_t fp[32];
        memcpy(impostor.id, "alice@example.org", 18);
        impostor.idlen = 17;
        fkex_mpk_fingerprint(fp, a.mpk);
        CHECK_ERR(fkex_ibe_decap_with(out, &impostor, a.mpk->ibe, fp, ct),
                  FKEX_ERR_AUTHENTICATION);
        sodium_memzero(&impostor, sizeof impostor);
    }
    /* Relabelling the ciphertext for bob: bob's key takes it up, and fails. */
    forged = *ct;
    memcpy(forged.id, "bob@example.org", 16);
    forged.idlen = 15;
    fkex_ibe_ct_serialize(&forged);
    CHECK_ERR(fkex_ibe_decap(out, bob, &forged), FKEX_ERR_AUTHENTICATION);
    for (int i = 0; i < 32; i++)
        CHECK(out[i] == 0xa5);      /* nothing written on failure */
    /* Keygen refuses what it should. */
    CHECK_ERR(fkex_ibe_keygen(alice, a.msk, "again@example.org"), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_ibe_keygen(attrs_only, other.msk, "x@example.org"), FKEX_ERR_WRONG_AUTHORITY);
    CHECK_ERR(fkex_ibe_keygen(attrs_only, a.msk, " \t"), FKEX_ERR_ATTRIBUTE);
    fkex_ibe_ct_free(ct);
    fkex_key_free(alice);
    fkex_key_free(bob);
    fkex_key_free(stranger);
    fkex_key_free(attrs_only);
    authority_free(&a);
    authority_free(&other);
}

/* Every byte of a ciphertext, flipped in two ways: decoding or
 * decapsulation refuses each, never a key. */
static void test_tamper_every_byte(void)
{
    authority a;
    fkex_rng rng;
    fkex_key *alice;
    fkex_ibe_ct *ct;
    uint8_t k[32], out[32], buf[FKEX_IBE_CT_MAX];
    const uint8_t *b;
    size_t len, refused_decode = 0, refused_decap = 0;
    test_rng(&rng, "ibe tamper");
    authority_new(&a, "ibe tamper authority");
    alice = id_key(&a, NULL, "alice@example.org", &rng);
    if (!alice)
        return;
    CHECK_OK(fkex_ibe_encap(k, &ct, a.mpk, "alice@example.org", &rng));
    fkex_ibe_ct_bytes(&b, &len, ct);
    for (size_t i = 0; i < len; i++) {
        for (int m = 0; m < 2; m++) {
            fkex_ibe_ct *bad;
            memcpy(buf, b, len);
            buf[i] ^= m ? 0x80 : 0x01;
            if (fkex_ibe_ct_decode(&bad, buf, len) != FKEX_OK) {
                refused_decode++;
                continue;
            }
            fkex_err err = fkex_ibe_decap(out, alice, bad);
            CHECK(err != FKEX_OK);
            refused_decap += err != FKEX_OK;
            fkex_ibe_ct_free(bad);
        }
    }
    CHECK(refused_decode + refused_decap == 2 * len);
    /* V and the identity's letters decode, and the FO check refuses them. */
    CHECK(refused_decap >= 64);
    /* Truncated at every length, and extended. */
    for (size_t n = 0; n < len; n++) {
        fkex_ibe_ct *bad;
        CHECK(fkex_ibe_ct_decode(&bad, b, n) != FKEX_OK);
    }
    memcpy(buf, b, len);
    buf[len] = 0;
    {
        fkex_ibe_ct *bad;
        CHECK_ERR(fkex_ibe_ct_decode(&bad, buf, len + 1), FKEX_ERR_BAD_ENCODING);
    }
    fkex_ibe_ct_free(ct);
    fkex_key_free(alice);
    authority_free(&a);
}

/* U off the subgroup, at infinity, or not canonical is refused at decoding. */
static void test_bad_u(void)
{
    authority a;
    fkex_rng rng;
    fkex_ibe_ct *ct, *bad;
    uint8_t k[32], buf[FKEX_IBE_CT_MAX], x[96];
    const uint8_t *b;
    size_t len, u_off, found = 0;
    test_rng(&rng, "ibe bad u");
    authority_new(&a, "ibe bad u authority");
    CHECK_OK(fkex_ibe_encap(k, &ct, a.mpk, "alice@example.org", &rng));
    fkex_ibe_ct_bytes(&b, &len, ct);
    u_off = len - 32 - 96;
    /* On the curve but outside G2: compressed points whose x decodes to a
     * curve point (half of all x do), almost none of them in G2. */
    for (int tries = 0; tries < 64 && found < 4; tries++) {
        blst_p2_affine p;
        fkex_rng_fill(&rng, x, sizeof x);
        x[0] = (uint8_t)((x[0] & 0x0f) | 0x80);      /* compressed, not infinity */
        x[48] &= 0x0f;                                   /* both coordinates below p */
        if (blst_p2_uncompress(&p, x) != BLST_SUCCESS || blst_p2_affine_in_g2(&p))
            continue;
        blst_p2_affine_compress(x, &p);                  /* its canonical form */
        memcpy(buf, b, len);
        memcpy(buf + u_off, x, 96);
        CHECK_ERR(fkex_ibe_ct_decode(&bad, buf, len), FKEX_ERR_NOT_IN_GROUP);
        found++;
    }
    CHECK(found == 4);
    /* The point at infinity. */
    memcpy(buf, b, len);
    memset(buf + u_off, 0, 96);
    buf[u_off] = 0xc0;
    CHECK_ERR(fkex_ibe_ct_decode(&bad, buf, len), FKEX_ERR_NOT_IN_GROUP);
    /* Not compressed, and the sign bit of another encoding. */
    memcpy(buf, b, len);
    buf[u_off] &= 0x7f;
    CHECK(fkex_ibe_ct_decode(&bad, buf, len) != FKEX_OK);
    /* x >= p: all ones below the flags. */
    memcpy(buf, b, len);
    memset(buf + u_off, 0xff, 96);
    buf[u_off] = 0x9f;
    CHECK_ERR(fkex_ibe_ct_decode(&bad, buf, len), FKEX_ERR_BAD_ENCODING);
    fkex_ibe_ct_free(ct);
    authority_free(&a);
}

static void test_ct_codec(void)
{
    authority a;
    fkex_rng rng;
    fkex_ibe_ct *ct, *bad;
    fkex_abe_ct *abe;
    uint8_t k[32], buf[FKEX_IBE_CT_MAX];
    const uint8_t *b;
    size_t len;
    test_rng(&rng, "ibe codec");
    authority_new(&a, "ibe codec authority");
    CHECK_OK(fkex_ibe_encap(k, &ct, a.mpk, "alice@example.org", &rng));
    fkex_ibe_ct_bytes(&b, &len, ct);
    CHECK(b[5] == FKEX_KIND_CIPHERTEXT && b[6] == FKEX_SCHEME_BF01);
    /* The ABE decoder refuses it as another kind, not as damage. */
    CHECK_ERR(fkex_abe_ct_decode(&abe, b, len), FKEX_ERR_WRONG_KIND);
    /* A non-normalised identity, with the length fixed up. */
    memcpy(buf, b, len);
    buf[FKEX_HEADER_BYTES + 2] = 'A';
    CHECK_ERR(fkex_ibe_ct_decode(&bad, buf, len), FKEX_ERR_BAD_ENCODING);
    /* An empty identity. */
    {
        fkex_ibe_ct c = *ct;
        c.idlen = 0;
        c.id[0] = '\0';
        fkex_ibe_ct_serialize(&c);
        CHECK_ERR(fkex_ibe_ct_decode(&bad, c.bytes, c.len), FKEX_ERR_BAD_ENCODING);
    }
    /* The scheme byte on other kinds is refused by the header. */
    {
        uint8_t *m;
        size_t mlen;
        CHECK_OK(fkex_mpk_encode(&m, &mlen, a.mpk));
        m[6] = FKEX_SCHEME_BF01;
        fkex_mpk *p;
        CHECK_ERR(fkex_mpk_decode(&p, m, mlen), FKEX_ERR_UNSUPPORTED);
        fkex_bytes_free(m, mlen);
    }
    /* Encapsulating to a bad name. */
    CHECK_ERR(fkex_ibe_encap(k, &bad, a.mpk, "a\nb", &rng), FKEX_ERR_ATTRIBUTE);
    fkex_ibe_ct_free(ct);
    authority_free(&a);
}

/* Public parameters, master keys and user keys with and without the IBE
 * section; objects from before IBE still decode. */
static void test_objects(void)
{
    authority a;
    fkex_rng rng;
    fkex_mpk *plain_mpk, *again;
    fkex_msk *plain_msk, *msk2;
    fkex_key *key, *key2, *plain_key;
    fkex_ibe_ct *ct;
    uint8_t *b, *b2, k[32];
    size_t len, len2;
    test_rng(&rng, "ibe objects");
    authority_new(&a, "ibe objects authority");
    CHECK(fkex_mpk_has_ibe(a.mpk));
    /* mpk: 1 + 96 more bytes, and a fingerprint that covers them. */
    CHECK_OK(fkex_abe_setup(&plain_mpk, &plain_msk, "waters11", &rng));
    CHECK(!fkex_mpk_has_ibe(plain_mpk));
    CHECK_ERR(fkex_ibe_encap(k, &ct, plain_mpk, "alice@example.org", &rng), FKEX_ERR_UNSUPPORTED);
    CHECK_OK(fkex_mpk_encode(&b, &len, a.mpk));
    CHECK_OK(fkex_mpk_encode(&b2, &len2, plain_mpk));
    CHECK(len == len2 + 97);
    CHECK_OK(fkex_mpk_decode(&again, b, len));
    CHECK(fkex_mpk_has_ibe(again));
    fkex_mpk_free(again);
    b[len - 1] ^= 1;   /* P_pub changed: the fingerprint no longer matches, or off curve */
    CHECK(fkex_mpk_decode(&again, b, len) != FKEX_OK);
    b[len - 1] ^= 1;
    b[len - 97] = 2;   /* an unknown section */
    CHECK_ERR(fkex_mpk_decode(&again, b, len), FKEX_ERR_BAD_ENCODING);
    fkex_bytes_free(b, len);
    fkex_bytes_free(b2, len2);
    /* msk round trip keeps s. */
    CHECK_OK(fkex_msk_encode(&b, &len, a.msk));
    CHECK_OK(fkex_msk_decode(&msk2, b, len));
    CHECK(fkex_fr_equal(&msk2->ibe->s, &a.msk->ibe->s));
    fkex_bytes_free(b, len);
    CHECK_ERR(fkex_ibe_setup(&again, msk2, &rng), FKEX_ERR_ARGUMENT);
    /* A key with both, round trip. */
    key = id_key(&a, "ONE year=5", "Carol@Example.org", &rng);
    if (!key)
        return;
    CHECK_OK(fkex_key_encode(&b, &len, key));
    CHECK_OK(fkex_key_decode(&key2, b, len));
    CHECK(strcmp(fkex_key_identity(key2), "carol@example.org") == 0);
    CHECK_OK(fkex_key_encode(&b2, &len2, key2));
    CHECK(len == len2 && memcmp(b, b2, len) == 0);
    CHECK_OK(fkex_ibe_encap(k, &ct, a.mpk, "carol@example.org", &rng));
    {
        uint8_t back[32];
        CHECK_OK(fkex_ibe_decap(back, key2, ct));
        CHECK(memcmp(back, k, 32) == 0);
    }
    fkex_ibe_ct_free(ct);
    fkex_bytes_free(b2, len2);
    /* Trailing bytes after the section, and a section cut short. */
    {
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, b, len);
        longer[len] = 0;
        store32_be(longer + 40, load32_be(longer + 40) + 1);
        fkex_key *k3;
        CHECK_ERR(fkex_key_decode(&k3, longer, len + 1), FKEX_ERR_BAD_ENCODING);
        store32_be(longer + 40, load32_be(longer + 40) - 2);
        CHECK(fkex_key_decode(&k3, longer, len - 1) != FKEX_OK);
        free(longer);
    }
    fkex_bytes_free(b, len);
    /* A key from an authority without IBE has no identity, and keygen says so. */
    plain_key = test_keygen(plain_msk, "ONE", &rng);
    CHECK(plain_key && fkex_key_identity(plain_key) == NULL);
    CHECK_ERR(fkex_ibe_keygen(plain_key, plain_msk, "alice@example.org"), FKEX_ERR_UNSUPPORTED);
    fkex_key_free(plain_key);
    fkex_key_free(key);
    fkex_key_free(key2);
    fkex_msk_free(msk2);
    fkex_mpk_free(plain_mpk);
    fkex_msk_free(plain_msk);
    authority_free(&a);
}

/* ---- known answers ------------------------------------------------------------ */

static void kat_line(char *line, const char *name, const uint8_t *p, size_t n)
{
    size_t o = (size_t)sprintf(line, "%s ", name);
    hex(line + o, p, n);
}

static void test_known_answers(void)
{
    authority a;
    fkex_rng rng;
    fkex_key *alice, *bob;
    fkex_ibe_ct *ct;
    fkex_ibake ia, ib;
    uint8_t kem[32], back[32], *b, ppub[96], d[48], m[FKEX_IBAKE_MSG_MAX], m2[FKEX_IBAKE_MSG_MAX];
    uint8_t ka[32], kb[32];
    size_t len, mlen, m2len;
    const uint8_t *ctb;
    char lines[8][2 * 1100], want[8][2 * 1100];
    size_t n = 0;

    authority_new(&a, "fkex kat ibe");
    test_rng(&rng, "fkex kat ibe keys");
    alice = id_key(&a, NULL, "alice@example.org", &rng);
    bob = id_key(&a, NULL, "bob@example.org", &rng);
    if (!alice || !bob)
        return;
    CHECK_OK(fkex_mpk_encode(&b, &len, a.mpk));
    {
        uint8_t h[32];
        crypto_hash_sha256(h, b, len);
        kat_line(lines[n++], "mpk_sha256", h, 32);
    }
    fkex_bytes_free(b, len);
    blst_p2_affine_compress(ppub, &a.mpk->ibe->ppub.q);
    kat_line(lines[n++], "p_pub", ppub, 96);
    blst_p1_affine_compress(d, &alice->ibe->d);
    kat_line(lines[n++], "d_alice", d, 48);
    test_rng(&rng, "fkex kat ibe encap");
    CHECK_OK(fkex_ibe_encap(kem, &ct, a.mpk, "alice@example.org", &rng));
    fkex_ibe_ct_bytes(&ctb, &len, ct);
    kat_line(lines[n++], "ciphertext", ctb, len);
    kat_line(lines[n++], "kem_key", kem, 32);
    CHECK_OK(fkex_ibe_decap(back, alice, ct));
    CHECK(memcmp(back, kem, 32) == 0);
    /* IBAKE between alice and bob with one deterministic RNG. */
    test_rng(&rng, "fkex kat ibake");
    CHECK_OK(fkex_ibake_init(&ia, FKEX_IBAKE_INITIATOR, alice, "bob@example.org"));
    CHECK_OK(fkex_ibake_init(&ib, FKEX_IBAKE_RESPONDER, bob, NULL));
    CHECK_OK(fkex_ibake_start(&ia, m, &mlen, &rng));
    {
        uint8_t h[32];
        crypto_hash_sha256(h, m, mlen);
        kat_line(lines[n++], "ibake_m1_sha256", h, 32);
    }
    CHECK_OK(fkex_ibake_receive(&ib, m2, &m2len, m, mlen, &rng));
    CHECK_OK(fkex_ibake_receive(&ia, m, &mlen, m2, m2len, &rng));
    CHECK_OK(fkex_ibake_receive(&ib, m2, &m2len, m, mlen, &rng));
    CHECK_OK(fkex_ibake_session_key(ka, &ia));
    CHECK_OK(fkex_ibake_session_key(kb, &ib));
    CHECK(memcmp(ka, kb, 32) == 0);
    kat_line(lines[n++], "ibake_session", ka, 32);

    if (getenv("FKEX_WRITE_VECTORS")) {
        FILE *f = fopen(KAT_FILE, "w");
        CHECK(f != NULL);
        if (f) {
            fprintf(f, "# Boneh-Franklin IBE-KEM and IBAKE over BLS12-381: deterministic-RNG\n"
                       "# known answers (tests/test_ibe.c). Authority: test_rng(\"fkex kat ibe\"),\n"
                       "# fkex_abe_setup(waters11) then fkex_ibe_setup; keys for alice@example.org\n"
                       "# and bob@example.org with test_rng(\"fkex kat ibe keys\"); an encapsulation\n"
                       "# to alice with test_rng(\"fkex kat ibe encap\"); an IBAKE alice -> bob with\n"
                       "# test_rng(\"fkex kat ibake\"). Values in hex.\n");
            for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\n", lines[i]);
            fclose(f);
        }
    } else {
        FILE *f = fopen(KAT_FILE, "r");
        size_t got = 0;
        CHECK(f != NULL);
        while (f && got < n && fgets(want[got], sizeof want[got], f)) {
            if (want[got][0] == '#')
                continue;
            want[got][strcspn(want[got], "\n")] = '\0';
            got++;
        }
        if (f)
            fclose(f);
        CHECK(got == n);
        for (size_t i = 0; i < got; i++) {
            CHECK(strcmp(lines[i], want[i]) == 0);
            if (strcmp(lines[i], want[i]) != 0)
                fprintf(stderr, "    got  %.80s\n    want %.80s\n", lines[i], want[i]);
        }
    }
    fkex_ibake_wipe(&ia);
    fkex_ibake_wipe(&ib);
    fkex_ibe_ct_free(ct);
    fkex_key_free(alice);
    fkex_key_free(bob);
    authority_free(&a);
}

/* ---- IBAKE ----------------------------------------------------------------- */

typedef struct {
    authority a;
    fkex_key *alice, *bob, *mallory;
    fkex_rng rng;
} ibake_world;

static int world_new(ibake_world *w, const char *label)
{
    authority_new(&w->a, label);
    test_rng(&w->rng, label);
    w->alice = id_key(&w->a, "ONE", "alice@example.org", &w->rng);
    w->bob = id_key(&w->a, NULL, "bob@example.org", &w->rng);
    w->mallory = id_key(&w->a, NULL, "mallory@example.org", &w->rng);
    return w->alice && w->bob && w->mallory;
}

static void world_free(ibake_world *w)
{
    fkex_key_free(w->alice);
    fkex_key_free(w->bob);
    fkex_key_free(w->mallory);
    authority_free(&w->a);
}

typedef struct {
    uint8_t m[3][FKEX_IBAKE_MSG_MAX];
    size_t len[3];
} transcript;

/* A full exchange alice -> bob; 0 if every step succeeded. */
static int run(ibake_world *w, fkex_ibake *ia, fkex_ibake *ib, transcript *t)
{
    size_t none;
    uint8_t scratch[FKEX_IBAKE_MSG_MAX];
    if (fkex_ibake_init(ia, FKEX_IBAKE_INITIATOR, w->alice, "Bob@Example.org") != FKEX_OK ||
        fkex_ibake_init(ib, FKEX_IBAKE_RESPONDER, w->bob, NULL) != FKEX_OK ||
        fkex_ibake_start(ia, t->m[0], &t->len[0], &w->rng) != FKEX_OK ||
        fkex_ibake_receive(ib, t->m[1], &t->len[1], t->m[0], t->len[0], &w->rng) != FKEX_OK ||
        fkex_ibake_receive(ia, t->m[2], &t->len[2], t->m[1], t->len[1], &w->rng) != FKEX_OK ||
        fkex_ibake_receive(ib, scratch, &none, t->m[2], t->len[2], &w->rng) != FKEX_OK)
        return -1;
    return none == 0 ? 0 : -1;
}

static void test_ibake_success(void)
{
    ibake_world w;
    fkex_ibake ia, ib, ja, jb;
    transcript t, u;
    uint8_t ka[32], kb[32], kc[32];
    if (!world_new(&w, "ibake success"))
        return;
    CHECK(run(&w, &ia, &ib, &t) == 0);
    CHECK(fkex_ibake_done(&ia) && fkex_ibake_done(&ib));
    CHECK_OK(fkex_ibake_session_key(ka, &ia));
    CHECK_OK(fkex_ibake_session_key(kb, &ib));
    CHECK(memcmp(ka, kb, 32) == 0);
    CHECK(strcmp(fkex_ibake_peer(&ia), "bob@example.org") == 0);
    CHECK(strcmp(fkex_ibake_peer(&ib), "alice@example.org") == 0);
    /* Every message is for the right name, under the authority's fingerprint. */
    for (int i = 0; i < 3; i++) {
        fkex_ibake_msg m;
        fkex_ibe_ct ct;
        CHECK_OK(fkex_ibake_msg_decode(&m, t.m[i], t.len[i]));
        CHECK(m.type == i + 1);
        CHECK_OK(fkex_ibe_ct_parse(&ct, m.ct, m.ctlen));
        CHECK(strcmp(ct.id, i == 1 ? "alice@example.org" : "bob@example.org") == 0);
    }
    /* Secrets are gone once done. */
    {
        static const uint8_t zero[32];
        CHECK(memcmp(ia.secret, zero, 32) == 0 && memcmp(ib.secret, zero, 32) == 0);
        CHECK(memcmp(ib.z, zero, 32) == 0);
    }
    /* Another run: another key. */
    CHECK(run(&w, &ja, &jb, &u) == 0);
    CHECK_OK(fkex_ibake_session_key(kc, &ja));
    CHECK(memcmp(kc, ka, 32) != 0);
    /* Out of order. */
    {
        uint8_t out[FKEX_IBAKE_MSG_MAX];
        size_t n;
        fkex_ibake fresh_a, fresh_b;
        CHECK_OK(fkex_ibake_init(&fresh_a, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
        CHECK_OK(fkex_ibake_init(&fresh_b, FKEX_IBAKE_RESPONDER, w.bob, NULL));
        CHECK_ERR(fkex_ibake_session_key(kc, &fresh_a), FKEX_ERR_UNEXPECTED);
        CHECK_ERR(fkex_ibake_receive(&fresh_a, out, &n, u.m[1], u.len[1], &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK_ERR(fkex_ibake_receive(&fresh_b, out, &n, u.m[2], u.len[2], &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK_ERR(fkex_ibake_start(&fresh_b, out, &n, &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK_OK(fkex_ibake_start(&fresh_a, out, &n, &w.rng));
        CHECK_ERR(fkex_ibake_start(&fresh_a, out, &n, &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK_ERR(fkex_ibake_init(&fresh_a, FKEX_IBAKE_INITIATOR, w.alice, NULL), FKEX_ERR_ARGUMENT);
        /* An attribute-only key cannot take part. */
        fkex_key *plain = id_key(&w.a, "ONE", NULL, &w.rng);
        CHECK_ERR(fkex_ibake_init(&fresh_a, FKEX_IBAKE_RESPONDER, plain, NULL), FKEX_ERR_WRONG_IDENTITY);
        /* ... and a state whose init failed takes nothing (no crash on its
         * missing key). */
        CHECK_ERR(fkex_ibake_receive(&fresh_a, out, &n, u.m[0], u.len[0], &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK(n == 0 && !fkex_ibake_done(&fresh_a));
        fkex_key_free(plain);
    }
    /* An empty input is not a replay of a message never sent: a fresh
     * initiator's m1 and m2 slots are empty, and must match nothing. */
    {
        uint8_t out[FKEX_IBAKE_MSG_MAX];
        size_t n;
        fkex_ibake fresh, before;
        CHECK_OK(fkex_ibake_init(&fresh, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
        before = fresh;
        CHECK_ERR(fkex_ibake_receive(&fresh, out, &n, out, 0, &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK(n == 0 && memcmp(&before, &fresh, sizeof before) == 0);
    }
    world_free(&w);
}

/* Every bit flip of every message is refused and leaves the state as it
 * was; the genuine message then goes through. */
static void test_ibake_tamper(void)
{
    ibake_world w;
    fkex_ibake ia, ib, before;
    transcript t;
    uint8_t out[FKEX_IBAKE_MSG_MAX], bad[FKEX_IBAKE_MSG_MAX];
    size_t n;
    if (!world_new(&w, "ibake tamper"))
        return;
    CHECK_OK(fkex_ibake_init(&ia, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
    CHECK_OK(fkex_ibake_init(&ib, FKEX_IBAKE_RESPONDER, w.bob, NULL));
    CHECK_OK(fkex_ibake_start(&ia, t.m[0], &t.len[0], &w.rng));
    for (int step = 0; step < 3; step++) {
        fkex_ibake *to = step == 1 ? &ia : &ib;
        const uint8_t *msg = t.m[step];
        size_t len = t.len[step], refused = 0;
        for (size_t i = 0; i < len; i++) {
            memcpy(bad, msg, len);
            bad[i] ^= (uint8_t)(1u << (i % 8));
            before = *to;
            if (fkex_ibake_receive(to, out, &n, bad, len, &w.rng) != FKEX_OK)
                refused++;
            CHECK(n == 0);
            CHECK(memcmp(&before, to, sizeof before) == 0);
        }
        CHECK(refused == len);
        /* Truncated and extended. */
        before = *to;
        CHECK(fkex_ibake_receive(to, out, &n, msg, len - 1, &w.rng) != FKEX_OK);
        memcpy(bad, msg, len);
        bad[len] = 0;
        CHECK(fkex_ibake_receive(to, out, &n, bad, len + 1, &w.rng) != FKEX_OK);
        CHECK(memcmp(&before, to, sizeof before) == 0);
        if (step < 2) {
            CHECK_OK(fkex_ibake_receive(to, t.m[step + 1], &t.len[step + 1], msg, len, &w.rng));
        } else {
            CHECK_OK(fkex_ibake_receive(to, out, &n, msg, len, &w.rng));
        }
    }
    {
        uint8_t ka[32], kb[32];
        CHECK_OK(fkex_ibake_session_key(ka, &ia));
        CHECK_OK(fkex_ibake_session_key(kb, &ib));
        CHECK(memcmp(ka, kb, 32) == 0);
    }
    world_free(&w);
}

static void test_ibake_replay(void)
{
    ibake_world w;
    fkex_ibake ia, ib, ja, jb, before;
    transcript t, u;
    uint8_t out[FKEX_IBAKE_MSG_MAX];
    size_t n;
    if (!world_new(&w, "ibake replay"))
        return;
    CHECK(run(&w, &ia, &ib, &t) == 0);
    /* Within a session: every message again. */
    CHECK_ERR(fkex_ibake_receive(&ib, out, &n, t.m[0], t.len[0], &w.rng), FKEX_ERR_REPLAY);
    CHECK_ERR(fkex_ibake_receive(&ia, out, &n, t.m[1], t.len[1], &w.rng), FKEX_ERR_REPLAY);
    CHECK_ERR(fkex_ibake_receive(&ib, out, &n, t.m[2], t.len[2], &w.rng), FKEX_ERR_REPLAY);
    /* Across sessions: an old message 2 to a new initiator fails the echo of
     * its xP, an old message 3 to a new responder the echo of its yP. */
    CHECK_OK(fkex_ibake_init(&ja, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
    CHECK_OK(fkex_ibake_init(&jb, FKEX_IBAKE_RESPONDER, w.bob, NULL));
    CHECK_OK(fkex_ibake_start(&ja, u.m[0], &u.len[0], &w.rng));
    before = ja;
    CHECK_ERR(fkex_ibake_receive(&ja, out, &n, t.m[1], t.len[1], &w.rng), FKEX_ERR_AUTHENTICATION);
    CHECK(memcmp(&before, &ja, sizeof before) == 0);
    CHECK_OK(fkex_ibake_receive(&jb, u.m[1], &u.len[1], u.m[0], u.len[0], &w.rng));
    before = jb;
    CHECK_ERR(fkex_ibake_receive(&jb, out, &n, t.m[2], t.len[2], &w.rng), FKEX_ERR_AUTHENTICATION);
    CHECK(memcmp(&before, &jb, sizeof before) == 0);
    /* A replayed message 1 gets an answer (bob cannot tell), but whoever
     * replayed it cannot read that answer: it is for alice. */
    {
        fkex_ibake kb;
        fkex_ibake_payload p;
        uint8_t type;
        CHECK_OK(fkex_ibake_init(&kb, FKEX_IBAKE_RESPONDER, w.bob, NULL));
        CHECK_OK(fkex_ibake_receive(&kb, out, &n, t.m[0], t.len[0], &w.rng));
        CHECK_ERR(fkex_ibake_open(&p, &type, w.mallory, out, n), FKEX_ERR_WRONG_IDENTITY);
        CHECK(!fkex_ibake_done(&kb));
    }
    world_free(&w);
}

/* Mallory holds a key, for mallory@example.org, from the same authority. */
static void test_ibake_mitm(void)
{
    ibake_world w;
    fkex_ibake ia, ib, im, before;
    fkex_ibake_payload p;
    uint8_t m1[FKEX_IBAKE_MSG_MAX], m2[FKEX_IBAKE_MSG_MAX], forged[FKEX_IBAKE_MSG_MAX];
    uint8_t out[FKEX_IBAKE_MSG_MAX], guess[32], type;
    size_t n1, n2, nf, n;
    if (!world_new(&w, "ibake mitm"))
        return;

    /* Mallory as bob, to alice: she cannot open message 1, so her message
     * 2 echoes a guess, and alice refuses it. */
    CHECK_OK(fkex_ibake_init(&ia, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
    CHECK_OK(fkex_ibake_start(&ia, m1, &n1, &w.rng));
    CHECK_ERR(fkex_ibake_open(&p, &type, w.mallory, m1, n1), FKEX_ERR_WRONG_IDENTITY);
    CHECK_OK(fkex_ibake_init(&im, FKEX_IBAKE_RESPONDER, w.mallory, NULL));
    CHECK_ERR(fkex_ibake_receive(&im, out, &n, m1, n1, &w.rng), FKEX_ERR_WRONG_IDENTITY);
    fkex_rng_fill(&w.rng, guess, 32);
    guess[31] &= 0x7f;
    memset(&p, 0, sizeof p);
    strcpy(p.sender, "bob@example.org");
    p.sender_len = 15;
    strcpy(p.recipient, "alice@example.org");
    p.recipient_len = 17;
    memcpy(p.share[0], guess, 32);
    crypto_scalarmult_curve25519_base(p.share[1], guess);
    CHECK_OK(fkex_ibake_seal(forged, &nf, 2, w.a.mpk, &p, &w.rng));
    before = ia;
    CHECK_ERR(fkex_ibake_receive(&ia, out, &n, forged, nf, &w.rng), FKEX_ERR_AUTHENTICATION);
    CHECK(memcmp(&before, &ia, sizeof before) == 0 && !fkex_ibake_done(&ia));
    /* Nor can she answer in her own name: alice expects bob. */
    strcpy(p.sender, "mallory@example.org");
    p.sender_len = 19;
    CHECK_OK(fkex_ibake_seal(forged, &nf, 2, w.a.mpk, &p, &w.rng));
    CHECK_ERR(fkex_ibake_receive(&ia, out, &n, forged, nf, &w.rng), FKEX_ERR_WRONG_IDENTITY);

    /* Mallory as alice, to bob: anyone can write message 1 in alice's
     * name, but bob's answer is for alice, so message 3 echoes a guess. */
    CHECK_OK(fkex_ibake_init(&ib, FKEX_IBAKE_RESPONDER, w.bob, NULL));
    memset(&p, 0, sizeof p);
    strcpy(p.sender, "alice@example.org");
    p.sender_len = 17;
    strcpy(p.recipient, "bob@example.org");
    p.recipient_len = 15;
    crypto_scalarmult_curve25519_base(p.share[0], guess);
    CHECK_OK(fkex_ibake_seal(forged, &nf, 1, w.a.mpk, &p, &w.rng));
    CHECK_OK(fkex_ibake_receive(&ib, m2, &n2, forged, nf, &w.rng));
    CHECK_ERR(fkex_ibake_open(&p, &type, w.mallory, m2, n2), FKEX_ERR_WRONG_IDENTITY);
    memset(&p, 0, sizeof p);
    strcpy(p.sender, "alice@example.org");
    p.sender_len = 17;
    strcpy(p.recipient, "bob@example.org");
    p.recipient_len = 15;
    fkex_rng_fill(&w.rng, p.share[0], 32);
    p.share[0][31] &= 0x7f;
    CHECK_OK(fkex_ibake_seal(forged, &nf, 3, w.a.mpk, &p, &w.rng));
    before = ib;
    CHECK_ERR(fkex_ibake_receive(&ib, out, &n, forged, nf, &w.rng), FKEX_ERR_AUTHENTICATION);
    CHECK(memcmp(&before, &ib, sizeof before) == 0 && !fkex_ibake_done(&ib));

    /* Mallory as a legitimate peer relaying: alice talks to mallory, who
     * opens message 1 (it is hers), learns xP and re-sends it to bob in
     * alice's name. Bob's answer echoes xP correctly but names bob as its
     * sender and is sealed to alice: mallory can neither read nor rewrap
     * it, and alice, who expects mallory, refuses it as it stands. */
    {
        fkex_ibake ma, mb;
        uint8_t relay[FKEX_IBAKE_MSG_MAX];
        size_t nr;
        CHECK_OK(fkex_ibake_init(&ma, FKEX_IBAKE_INITIATOR, w.alice, "mallory@example.org"));
        CHECK_OK(fkex_ibake_init(&mb, FKEX_IBAKE_RESPONDER, w.bob, NULL));
        CHECK_OK(fkex_ibake_start(&ma, m1, &n1, &w.rng));
        CHECK_OK(fkex_ibake_open(&p, &type, w.mallory, m1, n1));
        CHECK(type == 1 && memcmp(p.share[0], ma.xp, 32) == 0);
        strcpy(p.recipient, "bob@example.org");
        p.recipient_len = 15;
        CHECK_OK(fkex_ibake_seal(relay, &nr, 1, w.a.mpk, &p, &w.rng));
        CHECK_OK(fkex_ibake_receive(&mb, m2, &n2, relay, nr, &w.rng));
        CHECK_ERR(fkex_ibake_open(&p, &type, w.mallory, m2, n2), FKEX_ERR_WRONG_IDENTITY);
        before = ma;
        CHECK_ERR(fkex_ibake_receive(&ma, out, &n, m2, n2, &w.rng), FKEX_ERR_WRONG_IDENTITY);
        CHECK(n == 0 && memcmp(&before, &ma, sizeof before) == 0 && !fkex_ibake_done(&ma));
        CHECK(!fkex_ibake_done(&mb));
    }

    /* A responder that names its peer refuses anyone else's message 1. */
    {
        fkex_ibake only;
        CHECK_OK(fkex_ibake_init(&only, FKEX_IBAKE_RESPONDER, w.bob, "carol@example.org"));
        CHECK_ERR(fkex_ibake_receive(&only, out, &n, forged, nf, &w.rng), FKEX_ERR_UNEXPECTED);
        CHECK_OK(fkex_ibake_init(&ia, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
        CHECK_OK(fkex_ibake_start(&ia, m1, &n1, &w.rng));
        CHECK_ERR(fkex_ibake_receive(&only, out, &n, m1, n1, &w.rng), FKEX_ERR_WRONG_IDENTITY);
    }
    /* A key for bob from another authority: not this authority's ciphertext. */
    {
        authority other;
        fkex_key *bob2;
        fkex_ibake ob;
        authority_new(&other, "ibake mitm other authority");
        bob2 = id_key(&other, NULL, "bob@example.org", &w.rng);
        CHECK_OK(fkex_ibake_init(&ob, FKEX_IBAKE_RESPONDER, bob2, NULL));
        CHECK_ERR(fkex_ibake_receive(&ob, out, &n, m1, n1, &w.rng), FKEX_ERR_WRONG_AUTHORITY);
        fkex_key_free(bob2);
        authority_free(&other);
    }
    world_free(&w);
}

/* Low-order X25519 shares are refused, whichever side sends them. */
static void test_ibake_low_order(void)
{
    static const uint8_t low[][32] = {
        { 0 },                                                       /* 0 */
        { 1 },                                                       /* 1 */
        { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
          0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
          0x5f, 0x49, 0xb8, 0x00 },                                  /* order 8 */
        { 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
          0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
          0xd0, 0x9f, 0x11, 0x57 },                                  /* order 8 */
        { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0x7f },                                  /* p - 1, order 2 */
    };
    ibake_world w;
    fkex_ibake ib, ia, before;
    fkex_ibake_payload p;
    uint8_t msg[FKEX_IBAKE_MSG_MAX], out[FKEX_IBAKE_MSG_MAX], m1[FKEX_IBAKE_MSG_MAX];
    size_t n, n1;
    if (!world_new(&w, "ibake low order"))
        return;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(low); i++) {
        /* In message 1, to bob. */
        CHECK_OK(fkex_ibake_init(&ib, FKEX_IBAKE_RESPONDER, w.bob, NULL));
        memset(&p, 0, sizeof p);
        strcpy(p.sender, "alice@example.org");
        p.sender_len = 17;
        strcpy(p.recipient, "bob@example.org");
        p.recipient_len = 15;
        memcpy(p.share[0], low[i], 32);
        CHECK_OK(fkex_ibake_seal(msg, &n, 1, w.a.mpk, &p, &w.rng));
        before = ib;
        CHECK_ERR(fkex_ibake_receive(&ib, out, &n, msg, n, &w.rng), FKEX_ERR_NOT_IN_GROUP);
        CHECK(memcmp(&before, &ib, sizeof before) == 0);
        /* As yP in message 2, to alice, with xP echoed correctly: only the
         * real bob could send it, and even he is refused. */
        CHECK_OK(fkex_ibake_init(&ia, FKEX_IBAKE_INITIATOR, w.alice, "bob@example.org"));
        CHECK_OK(fkex_ibake_start(&ia, m1, &n1, &w.rng));
        memset(&p, 0, sizeof p);
        strcpy(p.sender, "bob@example.org");
        p.sender_len = 15;
        strcpy(p.recipient, "alice@example.org");
        p.recipient_len = 17;
        memcpy(p.share[0], ia.xp, 32);
        memcpy(p.share[1], low[i], 32);
        CHECK_OK(fkex_ibake_seal(msg, &n, 2, w.a.mpk, &p, &w.rng));
        before = ia;
        CHECK_ERR(fkex_ibake_receive(&ia, out, &n, msg, n, &w.rng), FKEX_ERR_NOT_IN_GROUP);
        CHECK(memcmp(&before, &ia, sizeof before) == 0);
    }
    /* Non-canonical shares (u >= p, or the top bit) do not decode. */
    {
        uint8_t pt[FKEX_IBAKE_PAYLOAD_MAX];
        fkex_ibake_payload q;
        size_t len;
        memset(&p, 0, sizeof p);
        strcpy(p.sender, "a");
        p.sender_len = 1;
        strcpy(p.recipient, "b");
        p.recipient_len = 1;
        memcpy(p.share[0], low[4], 32);
        p.share[0][0] = 0xed;                                        /* p itself */
        len = fkex_ibake_payload_encode(pt, 1, &p);
        CHECK_ERR(fkex_ibake_payload_decode(&q, 1, pt, len), FKEX_ERR_BAD_ENCODING);
        p.share[0][0] = 9;
        p.share[0][31] = 0x80;
        len = fkex_ibake_payload_encode(pt, 1, &p);
        CHECK_ERR(fkex_ibake_payload_decode(&q, 1, pt, len), FKEX_ERR_BAD_ENCODING);
        p.share[0][31] = 0;
        len = fkex_ibake_payload_encode(pt, 1, &p);
        CHECK_OK(fkex_ibake_payload_decode(&q, 1, pt, len));
        CHECK_ERR(fkex_ibake_payload_decode(&q, 2, pt, len), FKEX_ERR_TRUNCATED);
        CHECK_ERR(fkex_ibake_payload_decode(&q, 1, pt, len - 1), FKEX_ERR_TRUNCATED);
        CHECK_ERR(fkex_ibake_payload_decode(&q, 4, pt, len), FKEX_ERR_UNSUPPORTED);
    }
    world_free(&w);
}

/* ibake.c's session key, alice -> bob, from a candidate for xyP. */
static void session_from(uint8_t out[32], const uint8_t z[32], const transcript *t)
{
    fkex_kdf_part parts[6] = {
        { z, 32 }, { "alice@example.org", 17 }, { "bob@example.org", 15 },
        { t->m[0], t->len[0] }, { t->m[1], t->len[1] }, { t->m[2], t->len[2] },
    };
    fkex_kdf(out, 32, "fkex v1 ibake session", parts, 6);
}

/* The key authority holds the master key and records all three messages.
 * It can open every one of them, and so knows xP, yP, both names and the
 * transcript; the session key also needs xyP, which is CDH on Curve25519.
 * Every candidate it can form from what it knows misses the key, while
 * xyP (taken from alice's coins, which the authority never sees) gives it. */
static void test_ibake_passive_authority(void)
{
    ibake_world w;
    fkex_ibake ia, ib;
    transcript t;
    fkex_rng coins;
    uint8_t session[32], x[32], xyp[32];
    fkex_key *kgc_alice, *kgc_bob;
    fkex_ibake_payload p[3];
    uint8_t kem[3][32];
    if (!world_new(&w, "ibake passive authority"))
        return;
    coins = w.rng;   /* start draws x first from this stream */
    fkex_rng_fill(&coins, x, 32);
    CHECK(run(&w, &ia, &ib, &t) == 0);
    CHECK_OK(fkex_ibake_session_key(session, &ia));

    /* The authority extracts both identity keys from its master key. */
    kgc_alice = id_key(&w.a, NULL, "alice@example.org", &w.rng);
    kgc_bob = id_key(&w.a, NULL, "bob@example.org", &w.rng);
    if (!kgc_alice || !kgc_bob)
        return;
    for (int i = 0; i < 3; i++) {
        uint8_t type;
        fkex_ibake_msg m;
        fkex_ibe_ct ct;
        const fkex_key *k = i == 1 ? kgc_alice : kgc_bob;
        CHECK_OK(fkex_ibake_open(&p[i], &type, k, t.m[i], t.len[i]));
        CHECK_OK(fkex_ibake_msg_decode(&m, t.m[i], t.len[i]));
        CHECK_OK(fkex_ibe_ct_parse(&ct, m.ct, m.ctlen));
        CHECK_OK(fkex_ibe_decap(kem[i], k, &ct));
    }
    const uint8_t *xp = p[0].share[0], *yp = p[1].share[1];
    CHECK(memcmp(p[1].share[0], xp, 32) == 0 && memcmp(p[2].share[0], yp, 32) == 0);

    /* Candidates: the KDF over the transcript with each value it holds in
     * place of xyP, the KEM keys, and X25519 of its public values. */
    {
        uint8_t cand[16][32], c[32], z[32];
        size_t nc = 0;
        const uint8_t *vals[] = { xp, yp, kem[0], kem[1], kem[2] };
        for (size_t i = 0; i < FKEX_ARRAY_LEN(vals); i++)
            memcpy(cand[nc++], vals[i], 32);
        for (int i = 0; i < 32; i++)
            cand[nc][i] = xp[i] ^ yp[i];
        nc++;
        memset(cand[nc++], 0, 32);
        if (crypto_scalarmult_curve25519(z, xp, yp) == 0)
            memcpy(cand[nc++], z, 32);
        if (crypto_scalarmult_curve25519(z, yp, xp) == 0)
            memcpy(cand[nc++], z, 32);
        for (size_t i = 0; i < nc; i++) {
            session_from(c, cand[i], &t);
            CHECK(memcmp(c, session, 32) != 0);
            CHECK(memcmp(cand[i], session, 32) != 0);
        }
        /* With xyP, the same formula gives the key: xyP is what is missing. */
        CHECK(crypto_scalarmult_curve25519(xyp, x, yp) == 0);
        session_from(c, xyp, &t);
        CHECK(memcmp(c, session, 32) == 0);
    }
    fkex_key_free(kgc_alice);
    fkex_key_free(kgc_bob);
    world_free(&w);
}

void suite_ibe(void)
{
    RUN(test_identity_normalisation);
    RUN(test_h1_rfc9380);
    RUN(test_algebra);
    RUN(test_roundtrip);
    RUN(test_wrong_key);
    RUN(test_tamper_every_byte);
    RUN(test_bad_u);
    RUN(test_ct_codec);
    RUN(test_objects);
    RUN(test_known_answers);
    RUN(test_ibake_success);
    RUN(test_ibake_tamper);
    RUN(test_ibake_replay);
    RUN(test_ibake_mitm);
    RUN(test_ibake_low_order);
    RUN(test_ibake_passive_authority);
}
