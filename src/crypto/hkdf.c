/*
 * crypto/hkdf.c: HKDF-SHA256 (RFC 5869) and RFC 9180's labeled variants.
 *
 * libsodium 1.0.18 has HMAC-SHA256 but no HKDF. Inputs are passed to HMAC
 * as a list of pieces, so the labeled forms need no buffer: the label,
 * suite id and info are never copied together.
 */
#include "crypto/crypto.h"

typedef struct {
    const uint8_t *p;
    size_t len;
} piece;

static const uint8_t hpke_v1[7] = { 'H', 'P', 'K', 'E', '-', 'v', '1' };

static void hmac_pieces(crypto_auth_hmacsha256_state *st, const piece *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].len > 0)
            crypto_auth_hmacsha256_update(st, v[i].p, v[i].len);
}

static void extract(uint8_t prk[32], const uint8_t *salt, size_t saltlen,
                    const piece *ikm, size_t n)
{
    static const uint8_t zeros[FKEX_HKDF_HASHLEN];
    crypto_auth_hmacsha256_state st;
    if (saltlen == 0) {
        salt = zeros;   /* RFC 5869 §2.2: HashLen zeros */
        saltlen = sizeof zeros;
    }
    crypto_auth_hmacsha256_init(&st, salt, saltlen);
    hmac_pieces(&st, ikm, n);
    crypto_auth_hmacsha256_final(&st, prk);
    sodium_memzero(&st, sizeof st);
}

/* RFC 5869 §2.3: T(i) = HMAC(prk, T(i-1) || info || i). The keyed state is
 * set up once, before anything is written, so out may overlap prk. */
static fkex_err expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                       const piece *info, size_t n)
{
    crypto_auth_hmacsha256_state keyed, st;
    uint8_t t[FKEX_HKDF_HASHLEN];
    if (outlen > FKEX_HKDF_MAX_OUT)
        return FKEX_ERR_ARGUMENT;
    crypto_auth_hmacsha256_init(&keyed, prk, FKEX_HKDF_HASHLEN);
    for (size_t done = 0, i = 1; done < outlen; i++) {
        uint8_t ctr = (uint8_t)i;
        size_t take = outlen - done < sizeof t ? outlen - done : sizeof t;
        st = keyed;
        if (i > 1)
            crypto_auth_hmacsha256_update(&st, t, sizeof t);
        hmac_pieces(&st, info, n);
        crypto_auth_hmacsha256_update(&st, &ctr, 1);
        crypto_auth_hmacsha256_final(&st, t);
        memcpy(out + done, t, take);
        done += take;
    }
    sodium_memzero(&keyed, sizeof keyed);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(t, sizeof t);
    return FKEX_OK;
}

void fkex_hkdf_extract(uint8_t prk[32], const uint8_t *salt, size_t saltlen,
                       const uint8_t *ikm, size_t ikmlen)
{
    piece v[1] = { { ikm, ikmlen } };
    extract(prk, salt, saltlen, v, 1);
}

fkex_err fkex_hkdf_expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                          const uint8_t *info, size_t infolen)
{
    piece v[1] = { { info, infolen } };
    return expand(out, outlen, prk, v, 1);
}

/* RFC 9180 §4: labeled_ikm = concat("HPKE-v1", suite_id, label, ikm). */
void fkex_hkdf_labeled_extract(uint8_t prk[32], const uint8_t *suite_id, size_t suite_idlen,
                               const uint8_t *salt, size_t saltlen, const char *label,
                               const uint8_t *ikm, size_t ikmlen)
{
    piece v[4] = {
        { hpke_v1, sizeof hpke_v1 },
        { suite_id, suite_idlen },
        { (const uint8_t *)label, strlen(label) },
        { ikm, ikmlen },
    };
    extract(prk, salt, saltlen, v, FKEX_ARRAY_LEN(v));
}

/* RFC 9180 §4: labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id,
 * label, info). */
fkex_err fkex_hkdf_labeled_expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                                  const uint8_t *suite_id, size_t suite_idlen,
                                  const char *label, const uint8_t *info, size_t infolen)
{
    uint8_t l2[2];
    if (outlen > FKEX_HKDF_MAX_OUT)
        return FKEX_ERR_ARGUMENT;
    store16_be(l2, (uint16_t)outlen);
    piece v[5] = {
        { l2, sizeof l2 },
        { hpke_v1, sizeof hpke_v1 },
        { suite_id, suite_idlen },
        { (const uint8_t *)label, strlen(label) },
        { info, infolen },
    };
    return expand(out, outlen, prk, v, FKEX_ARRAY_LEN(v));
}

/* PROTOCOL.md's KDF-Expand(secret, label, context): the info is
 * "fkex v1 " || label || 0x00 || context. Labels are C strings, so the
 * zero byte ends the label unambiguously and no two (label, context)
 * pairs give the same info. */
void fkex_kdf_expand(uint8_t out[32], const uint8_t secret[32], const char *label,
                     const uint8_t *context, size_t contextlen)
{
    static const uint8_t prefix[8] = { 'f', 'k', 'e', 'x', ' ', 'v', '1', ' ' };
    static const uint8_t zero = 0;
    piece v[4] = {
        { prefix, sizeof prefix },
        { (const uint8_t *)label, strlen(label) },
        { &zero, 1 },
        { context, contextlen },
    };
    (void)expand(out, 32, secret, v, FKEX_ARRAY_LEN(v));   /* 32 bytes: never fails */
}

void fkex_mac(uint8_t tag[32], const uint8_t key[32], const uint8_t *msg, size_t len)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, msg, len);
    crypto_auth_hmacsha256_final(&st, tag);
    sodium_memzero(&st, sizeof st);
}

int fkex_mac_verify(const uint8_t tag[32], const uint8_t key[32], const uint8_t *msg, size_t len)
{
    uint8_t want[32];
    fkex_mac(want, key, msg, len);
    int ok = sodium_memcmp(want, tag, 32);
    sodium_memzero(want, sizeof want);
    return ok == 0 ? 0 : -1;
}

/* transcript' = SHA-256("fkex v1 transcript" || transcript || message). */
void fkex_transcript_extend(uint8_t transcript[32], const uint8_t *msg, size_t len)
{
    static const char label[] = "fkex v1 transcript";
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_hash_sha256_update(&st, transcript, 32);
    crypto_hash_sha256_update(&st, msg, len);
    crypto_hash_sha256_final(&st, transcript);
}
