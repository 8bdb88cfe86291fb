/*
 * The protocol's small building blocks: the fkex-labeled KDF, the MAC, the
 * transcript hash and labeled Ed25519, each against an independent
 * computation from libsodium's primitives, plus the refusals.
 */
#include "test.h"

/* KDF-Expand(secret, label, context) is one HKDF-Expand block:
 * HMAC(secret, "fkex v1 " || label || 0 || context || 0x01). */
static void test_kdf_expand(void)
{
    uint8_t secret[32], ctx[40], got[32], want[32], info[64];
    crypto_auth_hmacsha256_state st;
    fill(secret, sizeof secret, 1);
    fill(ctx, sizeof ctx, 2);
    fkex_kdf_expand(got, secret, "encrypt", ctx, sizeof ctx);
    memcpy(info, "fkex v1 encrypt", 15);
    info[15] = 0;
    memcpy(info + 16, ctx, sizeof ctx);
    info[56] = 1;
    crypto_auth_hmacsha256_init(&st, secret, 32);
    crypto_auth_hmacsha256_update(&st, info, 57);
    crypto_auth_hmacsha256_final(&st, want);
    CHECK(memcmp(got, want, 32) == 0);
    /* Labels and contexts are separated: "ab"+"c" differs from "a"+"bc". */
    uint8_t a[32], b[32];
    fkex_kdf_expand(a, secret, "ab", (const uint8_t *)"c", 1);
    fkex_kdf_expand(b, secret, "a", (const uint8_t *)"bc", 2);
    CHECK(memcmp(a, b, 32) != 0);
    /* In place, as the sender chains use it. */
    memcpy(a, secret, 32);
    fkex_kdf_expand(a, a, "chain", NULL, 0);
    fkex_kdf_expand(b, secret, "chain", NULL, 0);
    CHECK(memcmp(a, b, 32) == 0);
}

static void test_mac(void)
{
    uint8_t key[32], msg[100], tag[32], want[32];
    fill(key, sizeof key, 3);
    fill(msg, sizeof msg, 4);
    fkex_mac(tag, key, msg, sizeof msg);
    crypto_auth_hmacsha256(want, msg, sizeof msg, key);
    CHECK(memcmp(tag, want, 32) == 0);
    CHECK(fkex_mac_verify(tag, key, msg, sizeof msg) == 0);
    for (size_t i = 0; i < 32; i++) {
        tag[i] ^= 0x80;
        CHECK(fkex_mac_verify(tag, key, msg, sizeof msg) == -1);
        tag[i] ^= 0x80;
    }
    CHECK(fkex_mac_verify(tag, key, msg, sizeof msg - 1) == -1);
}

static void test_transcript(void)
{
    uint8_t t[32] = { 0 }, want[32], buf[18 + 32 + 5];
    memcpy(buf, "fkex v1 transcript", 18);
    memset(buf + 18, 0, 32);
    memcpy(buf + 50, "hello", 5);
    crypto_hash_sha256(want, buf, sizeof buf);
    fkex_transcript_extend(t, (const uint8_t *)"hello", 5);
    CHECK(memcmp(t, want, 32) == 0);
    /* A chain: order matters. */
    uint8_t x[32] = { 0 }, y[32] = { 0 };
    fkex_transcript_extend(x, (const uint8_t *)"a", 1);
    fkex_transcript_extend(x, (const uint8_t *)"b", 1);
    fkex_transcript_extend(y, (const uint8_t *)"b", 1);
    fkex_transcript_extend(y, (const uint8_t *)"a", 1);
    CHECK(memcmp(x, y, 32) != 0);
}

static void test_sign(void)
{
    fkex_rng rng;
    uint8_t pk[32], sk[64], sig[64], msg[50], buf[8 + 6 + 1 + 50];
    test_rng(&rng, "sign");
    fkex_sign_keypair(pk, sk, &rng);
    fill(msg, sizeof msg, 5);
    CHECK_OK(fkex_sign(sig, sk, "commit", msg, sizeof msg));
    CHECK(fkex_sign_verify(sig, pk, "commit", msg, sizeof msg) == 0);
    /* It is plain Ed25519 over "fkex v1 commit" || 0 || msg. */
    memcpy(buf, "fkex v1 commit", 14);
    buf[14] = 0;
    memcpy(buf + 15, msg, sizeof msg);
    CHECK(crypto_sign_verify_detached(sig, buf, sizeof buf, pk) == 0);
    /* Another label, message, key or signature fails. */
    CHECK(fkex_sign_verify(sig, pk, "proof", msg, sizeof msg) == -1);
    CHECK(fkex_sign_verify(sig, pk, "commit", msg, sizeof msg - 1) == -1);
    msg[7] ^= 1;
    CHECK(fkex_sign_verify(sig, pk, "commit", msg, sizeof msg) == -1);
    msg[7] ^= 1;
    uint8_t pk2[32], sk2[64];
    fkex_sign_keypair(pk2, sk2, &rng);
    CHECK(fkex_sign_verify(sig, pk2, "commit", msg, sizeof msg) == -1);
    /* Non-canonical S (S + L) is refused, as is a small-order key. */
    static const uint8_t L[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                   0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
    uint8_t bad[64];
    memcpy(bad, sig, 64);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = bad[32 + i] + L[i] + carry;
        bad[32 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    CHECK(fkex_sign_verify(bad, pk, "commit", msg, sizeof msg) == -1);
    uint8_t identity[32] = { 1 };
    CHECK(fkex_sign_verify(sig, identity, "commit", msg, sizeof msg) == -1);
}

void suite_crypto(void)
{
    RUN(test_kdf_expand);
    RUN(test_mac);
    RUN(test_transcript);
    RUN(test_sign);
}
