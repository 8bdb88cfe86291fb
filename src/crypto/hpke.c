/*
 * crypto/hpke.c: RFC 9180 base mode for DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, ChaCha20-Poly1305.
 *
 *   DHKEM (§4.1):   dh = X25519(skE, pkR), enc = pkE,
 *                   shared = ExtractAndExpand(dh, enc || pkR)
 *   KeySchedule (§5.1), mode_base, empty psk and psk_id:
 *                   key, base_nonce, exporter_secret
 *   Context (§5.2): nonce = base_nonce XOR I2OSP(seq, Nn)
 *
 * The sequence number is 64 bits, padded on the left with zeros, which
 * §5.2 allows provided that its overflow is an error. Secrets on the stack
 * are wiped on every path; the only branches are on public lengths, roles
 * and counters, and on libsodium's verdicts (tag check, zero DH output).
 */
#include "crypto/crypto.h"

#define ROLE_SENDER 1
#define ROLE_RECIPIENT 2

/* suite_id = concat("KEM", I2OSP(kem_id, 2)) */
static const uint8_t kem_suite[5] = { 'K', 'E', 'M', 0x00, 0x20 };
/* suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2)) */
static const uint8_t hpke_suite[10] = { 'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x03 };

/* §7.1.3: dkp_prk = LabeledExtract("", "dkp_prk", ikm);
 * sk = LabeledExpand(dkp_prk, "sk", "", Nsk). */
static fkex_err derive(uint8_t sk[32], uint8_t pk[32], const uint8_t *ikm, size_t ikmlen)
{
    uint8_t prk[32];
    fkex_hkdf_labeled_extract(prk, kem_suite, sizeof kem_suite, NULL, 0, "dkp_prk", ikm, ikmlen);
    fkex_err err = fkex_hkdf_labeled_expand(sk, 32, prk, kem_suite, sizeof kem_suite, "sk", NULL, 0);
    if (err == FKEX_OK && crypto_scalarmult_curve25519_base(pk, sk) != 0)
        err = FKEX_ERR_NOT_IN_GROUP;   /* not for a clamped scalar */
    if (err != FKEX_OK) {
        sodium_memzero(sk, 32);
        memset(pk, 0, 32);
    }
    sodium_memzero(prk, sizeof prk);
    return err;
}

fkex_err fkex_hpke_keypair_derive(uint8_t sk[32], uint8_t pk[32], const uint8_t *ikm,
                                  size_t ikmlen)
{
    if (ikmlen < FKEX_HPKE_NSK)
        return FKEX_ERR_ARGUMENT;
    return derive(sk, pk, ikm, ikmlen);
}

int fkex_x25519_small_order(const uint8_t pk[32])
{
    /* u = 0, 1, the two points of order 8, p - 1, and p and p + 1 (the
     * non-canonical 0 and 1), little-endian; the same list libsodium's
     * X25519 refuses by (tests/test_hpke.c checks each against it). */
    static const uint8_t small[7][32] = {
        { 0 },
        { 1 },
        { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
          0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
          0xb8, 0x00 },
        { 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
          0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
          0x11, 0x57 },
        { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x7f },
        { 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x7f },
        { 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x7f },
    };
    for (size_t i = 0; i < 7; i++) {
        uint8_t diff = (uint8_t)((pk[31] & 0x7f) ^ small[i][31]);
        for (size_t j = 0; j < 31; j++)
            diff |= pk[j] ^ small[i][j];
        if (diff == 0)
            return 1;
    }
    return 0;
}

/* §4 GenerateKeyPair: any randomized key generation. For X25519 that is
 * 32 random bytes, which X25519 clamps (RFC 7748 §6.1); DeriveKeyPair is
 * the deterministic variant and costs two HMACs more. */
void fkex_hpke_keypair_generate(uint8_t sk[32], uint8_t pk[32], fkex_rng *rng)
{
    fkex_rng_fill(rng, sk, 32);
    if (crypto_scalarmult_curve25519_base(pk, sk) != 0)
        memset(pk, 0, 32);   /* unreachable: a clamped scalar gives no low-order point */
}

/* §4.1: eae_prk = LabeledExtract("", "eae_prk", dh);
 * shared = LabeledExpand(eae_prk, "shared_secret", kem_context, Nsecret),
 * kem_context = enc || pkRm. */
static fkex_err extract_and_expand(uint8_t shared[32], const uint8_t dh[32],
                                   const uint8_t enc[32], const uint8_t pkR[32])
{
    uint8_t prk[32], kem_context[64];
    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, pkR, 32);
    fkex_hkdf_labeled_extract(prk, kem_suite, sizeof kem_suite, NULL, 0, "eae_prk", dh, 32);
    fkex_err err = fkex_hkdf_labeled_expand(shared, 32, prk, kem_suite, sizeof kem_suite,
                                            "shared_secret", kem_context, sizeof kem_context);
    sodium_memzero(prk, sizeof prk);
    return err;
}

/* §4.1 Encap with the ephemeral key pair given (pkE = pk(skE)).
 * crypto_scalarmult_curve25519 fails when the result is all zero, i.e.
 * pkR is a low-order point (§7.1.4). */
static fkex_err encap_with(uint8_t shared[32], uint8_t enc[32], const uint8_t pkR[32],
                           const uint8_t skE[32], const uint8_t pkE[32])
{
    uint8_t dh[32];
    fkex_err err = FKEX_OK;
    if (crypto_scalarmult_curve25519(dh, skE, pkR) != 0)
        err = FKEX_ERR_NOT_IN_GROUP;
    if (err == FKEX_OK)
        err = extract_and_expand(shared, dh, pkE, pkR);
    if (err == FKEX_OK) {
        memcpy(enc, pkE, 32);
    } else {
        sodium_memzero(shared, 32);
        memset(enc, 0, 32);
    }
    sodium_memzero(dh, sizeof dh);
    return err;
}

fkex_err fkex_hpke_encap_derand(uint8_t shared[32], uint8_t enc[32], const uint8_t pkR[32],
                                const uint8_t skE[32])
{
    uint8_t pkE[32];
    if (crypto_scalarmult_curve25519_base(pkE, skE) != 0) {
        sodium_memzero(shared, 32);
        memset(enc, 0, 32);
        return FKEX_ERR_NOT_IN_GROUP;
    }
    return encap_with(shared, enc, pkR, skE, pkE);
}

/* §4.1 Decap: dh = X25519(skR, enc), kem_context = enc || pk(skR); pkR
 * may be given by a recipient that keeps it, saving one X25519. */
static fkex_err decap_with(uint8_t shared[32], const uint8_t enc[32], const uint8_t skR[32],
                           const uint8_t *known_pkR)
{
    uint8_t dh[32], pkR[32];
    fkex_err err = FKEX_OK;
    if (known_pkR)
        memcpy(pkR, known_pkR, 32);
    if (crypto_scalarmult_curve25519(dh, skR, enc) != 0 ||
        (!known_pkR && crypto_scalarmult_curve25519_base(pkR, skR) != 0))
        err = FKEX_ERR_NOT_IN_GROUP;
    if (err == FKEX_OK)
        err = extract_and_expand(shared, dh, enc, pkR);
    if (err != FKEX_OK)
        sodium_memzero(shared, 32);
    sodium_memzero(dh, sizeof dh);
    return err;
}

fkex_err fkex_hpke_decap(uint8_t shared[32], const uint8_t enc[32], const uint8_t skR[32])
{
    return decap_with(shared, enc, skR, NULL);
}

/* psk_id_hash = LabeledExtract("", "psk_id_hash", "") for this suite, a
 * constant in base mode: the start of every key_schedule_context in
 * RFC 9180 §A.2, which tests/test_hpke.c checks. */
static const uint8_t psk_id_hash_base[32] = {
    0x43, 0x1d, 0xf6, 0xcd, 0x95, 0xe1, 0x1f, 0xf4, 0x9d, 0x70, 0x13, 0x56, 0x3b, 0xaf, 0x7f, 0x11,
    0x58, 0x8c, 0x75, 0xa6, 0x61, 0x1e, 0xe2, 0xa4, 0x40, 0x4a, 0x49, 0x30, 0x6a, 0xe4, 0xcf, 0xc5,
};

void fkex_hpke_info_hash(uint8_t out[32], const uint8_t *info, size_t infolen)
{
    fkex_hkdf_labeled_extract(out, hpke_suite, sizeof hpke_suite, NULL, 0, "info_hash", info,
                              infolen);
}

/* §5.1 KeySchedule for mode_base (0x00), psk = psk_id = "", with
 * info_hash = LabeledExtract("", "info_hash", info) given. */
static fkex_err key_schedule(fkex_hpke_context *ctx, const uint8_t shared[32],
                             const uint8_t info_hash[32], int role)
{
    uint8_t ksc[1 + 32 + 32], secret[32];
    const uint8_t *S = hpke_suite;
    const size_t Sn = sizeof hpke_suite;
    ksc[0] = 0x00;   /* mode_base */
    memcpy(ksc + 1, psk_id_hash_base, 32);
    memcpy(ksc + 33, info_hash, 32);
    fkex_hkdf_labeled_extract(secret, S, Sn, shared, 32, "secret", NULL, 0);
    fkex_err err = fkex_hkdf_labeled_expand(ctx->key, sizeof ctx->key, secret, S, Sn, "key",
                                            ksc, sizeof ksc);
    if (err == FKEX_OK)
        err = fkex_hkdf_labeled_expand(ctx->base_nonce, sizeof ctx->base_nonce, secret, S, Sn,
                                       "base_nonce", ksc, sizeof ksc);
    if (err == FKEX_OK)
        err = fkex_hkdf_labeled_expand(ctx->exporter_secret, sizeof ctx->exporter_secret,
                                       secret, S, Sn, "exp", ksc, sizeof ksc);
    ctx->seq = 0;
    ctx->role = role;
    if (err != FKEX_OK)
        fkex_hpke_context_wipe(ctx);
    sodium_memzero(secret, sizeof secret);
    return err;
}

static fkex_err setup_s(uint8_t enc[32], fkex_hpke_context *ctx, const uint8_t pkR[32],
                        const uint8_t info_hash[32], const uint8_t skE[32], const uint8_t pkE[32])
{
    uint8_t shared[32];
    fkex_err err = encap_with(shared, enc, pkR, skE, pkE);
    if (err == FKEX_OK)
        err = key_schedule(ctx, shared, info_hash, ROLE_SENDER);
    else
        fkex_hpke_context_wipe(ctx);
    sodium_memzero(shared, sizeof shared);
    return err;
}

fkex_err fkex_hpke_setup_base_s_derand(uint8_t enc[32], fkex_hpke_context *ctx,
                                       const uint8_t pkR[32], const uint8_t *info,
                                       size_t infolen, const uint8_t skE[32])
{
    uint8_t pkE[32], info_hash[32];
    if (crypto_scalarmult_curve25519_base(pkE, skE) != 0) {
        fkex_hpke_context_wipe(ctx);
        memset(enc, 0, 32);
        return FKEX_ERR_NOT_IN_GROUP;
    }
    fkex_hpke_info_hash(info_hash, info, infolen);
    return setup_s(enc, ctx, pkR, info_hash, skE, pkE);
}

fkex_err fkex_hpke_setup_base_s_hashed(uint8_t enc[32], fkex_hpke_context *ctx,
                                       const uint8_t pkR[32], const uint8_t info_hash[32],
                                       fkex_rng *rng)
{
    uint8_t skE[32], pkE[32];
    fkex_hpke_keypair_generate(skE, pkE, rng);
    fkex_err err = setup_s(enc, ctx, pkR, info_hash, skE, pkE);
    sodium_memzero(skE, sizeof skE);
    return err;
}

fkex_err fkex_hpke_setup_base_s(uint8_t enc[32], fkex_hpke_context *ctx, const uint8_t pkR[32],
                                const uint8_t *info, size_t infolen, fkex_rng *rng)
{
    uint8_t info_hash[32];
    fkex_hpke_info_hash(info_hash, info, infolen);
    return fkex_hpke_setup_base_s_hashed(enc, ctx, pkR, info_hash, rng);
}

static fkex_err setup_r(fkex_hpke_context *ctx, const uint8_t enc[32], const uint8_t skR[32],
                        const uint8_t *pkR, const uint8_t info_hash[32])
{
    uint8_t shared[32];
    fkex_err err = decap_with(shared, enc, skR, pkR);
    if (err == FKEX_OK)
        err = key_schedule(ctx, shared, info_hash, ROLE_RECIPIENT);
    else
        fkex_hpke_context_wipe(ctx);
    sodium_memzero(shared, sizeof shared);
    return err;
}

fkex_err fkex_hpke_setup_base_r(fkex_hpke_context *ctx, const uint8_t enc[32],
                                const uint8_t skR[32], const uint8_t *info, size_t infolen)
{
    uint8_t info_hash[32];
    fkex_hpke_info_hash(info_hash, info, infolen);
    return setup_r(ctx, enc, skR, NULL, info_hash);
}

fkex_err fkex_hpke_setup_base_r_hashed(fkex_hpke_context *ctx, const uint8_t enc[32],
                                       const uint8_t skR[32], const uint8_t pkR[32],
                                       const uint8_t info_hash[32])
{
    return setup_r(ctx, enc, skR, pkR, info_hash);
}

/* §5.2 ComputeNonce: base_nonce XOR I2OSP(seq, Nn). */
static void compute_nonce(uint8_t nonce[FKEX_HPKE_NN], const fkex_hpke_context *ctx)
{
    uint8_t seq[8];
    store64_be(seq, ctx->seq);
    memcpy(nonce, ctx->base_nonce, FKEX_HPKE_NN);
    for (size_t i = 0; i < 8; i++)
        nonce[FKEX_HPKE_NN - 8 + i] ^= seq[i];
}

/* The last sequence number is never used: §5.2 IncrementSeq refuses to
 * step past the maximum, so the message that would need it is refused. */
static int usable(const fkex_hpke_context *ctx, int role)
{
    return ctx->role == role && ctx->seq != UINT64_MAX;
}

fkex_err fkex_hpke_seal(uint8_t *ct, fkex_hpke_context *ctx, const uint8_t *aad, size_t aadlen,
                        const uint8_t *pt, size_t ptlen)
{
    uint8_t nonce[FKEX_HPKE_NN];
    if (!usable(ctx, ROLE_SENDER) || ptlen > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return FKEX_ERR_ARGUMENT;
    compute_nonce(nonce, ctx);
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, ptlen, aad, aadlen, NULL, nonce,
                                              ctx->key);
    ctx->seq++;
    return FKEX_OK;
}

/* Verify first (libsodium checks the tag and writes nothing when m is
 * NULL), then decrypt: RFC 8439 §2.8 encrypts from block counter 1. */
fkex_err fkex_hpke_open(uint8_t *pt, fkex_hpke_context *ctx, const uint8_t *aad, size_t aadlen,
                        const uint8_t *ct, size_t ctlen)
{
    uint8_t nonce[FKEX_HPKE_NN];
    if (!usable(ctx, ROLE_RECIPIENT))
        return FKEX_ERR_ARGUMENT;
    if (ctlen < FKEX_HPKE_NT)
        return FKEX_ERR_TRUNCATED;
    size_t ptlen = ctlen - FKEX_HPKE_NT;
    if (ptlen > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return FKEX_ERR_ARGUMENT;
    compute_nonce(nonce, ctx);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(NULL, NULL, ct, ptlen, ct + ptlen,
                                                           aad, aadlen, nonce, ctx->key) != 0)
        return FKEX_ERR_AUTHENTICATION;
    if (ptlen > 0)
        crypto_stream_chacha20_ietf_xor_ic(pt, ct, ptlen, nonce, 1, ctx->key);
    ctx->seq++;
    return FKEX_OK;
}

/* §5.3: LabeledExpand(exporter_secret, "sec", exporter_context, L). */
fkex_err fkex_hpke_export(uint8_t *out, size_t outlen, const fkex_hpke_context *ctx,
                          const uint8_t *exporter_context, size_t exporter_contextlen)
{
    if (ctx->role != ROLE_SENDER && ctx->role != ROLE_RECIPIENT)
        return FKEX_ERR_ARGUMENT;
    return fkex_hkdf_labeled_expand(out, outlen, ctx->exporter_secret, hpke_suite,
                                    sizeof hpke_suite, "sec", exporter_context,
                                    exporter_contextlen);
}

void fkex_hpke_context_wipe(fkex_hpke_context *ctx)
{
    sodium_memzero(ctx, sizeof *ctx);
}
