/*
 * ibe/bf.c: Boneh and Franklin, "Identity-Based Encryption from the Weil
 * Pairing" (CRYPTO 2001), FullIdent (section 4.2: BasicIdent with the
 * Fujisaki-Okamoto transform), written as a KEM on a type-3 pairing
 * e: G1 x G2 -> GT. The paper's P is g2; its hashes are:
 *
 *   H1: {0,1}* -> G1                Q_ID = H1(ID), RFC 9380 ("IBE-ID")
 *   H2: GT -> {0,1}^n                the mask of sigma
 *   H3: {0,1}^n x {0,1}^n -> Fr      r = H3(sigma, M)
 *   H4: {0,1}^n -> {0,1}^n           the mask of M
 *
 *   Setup    s <-$ Fr;  P_pub = sP = g2^s
 *   Extract  d_ID = s Q_ID = Q_ID^s
 *   Encrypt  sigma <-$ {0,1}^256;  r = H3(sigma, M);  U = rP = g2^r;
 *            g_ID = e(Q_ID, P_pub);  V = sigma xor H2(g_ID^r);  W = M xor H4(sigma)
 *   Decrypt  sigma = V xor H2(e(d_ID, U));  M = W xor H4(sigma);
 *            r = H3(sigma, M);  reject unless U = rP
 *
 * As a KEM there is no M: r = H3(sigma, fingerprint, ID), binding the
 * coins to the recipient and the authority, and the key replaces W:
 * K = KDF(sigma, the whole ciphertext object, ID), so any change to any
 * byte gives another key or a rejection. Every hash is the objects' KDF
 * (BLAKE2b) with its own "fkex v1 ibe ..." label.
 *
 * g_ID^r is computed as e(Q_ID^r, P_pub) = e(Q_ID, P_pub)^r: a G1
 * multiplication (~75 us) and a pairing with P_pub's precomputed lines,
 * where the paper's order would cost a full pairing and a GT
 * exponentiation (~0.3 ms); bench/ibe.c measures both.
 */
#include "ibe/ibe.h"

void fkex_ibe_extract(fkex_ibe_ukey *uk, const fkex_ibe_master *m, const char *id, size_t len)
{
    fkex_g1 q, d;
    fkex_g2 q2, d2;
    fkex_ibe_hash_id(&q, id, len);                      /* Q_ID = H1(ID) */
    fkex_g1_mul(&d, &q, &m->s);                         /* d_ID = s Q_ID */
    blst_p1_to_affine(&uk->d, &d);
    fkex_ibe_hash_id2(&q2, id, len);                    /* H2(ID) */
    fkex_g2_mul(&d2, &q2, &m->s);                       /* d2_ID = s H2(ID) */
    blst_p2_to_affine(&uk->d2, &d2);
    uk->has_d2 = 1;
    memcpy(uk->id, id, len);
    uk->id[len] = '\0';
    uk->idlen = len;
    sodium_memzero(&d, sizeof d);
    sodium_memzero(&d2, sizeof d2);
}

/* r = H3(sigma, fp, ID) in Fr: 64 bytes reduced mod r (bias < 2^-128). */
static void h3(fkex_fr *r, const uint8_t sigma[32], const uint8_t fp[32], const char *id,
               size_t idlen)
{
    uint8_t wide[64];
    blst_scalar sc;
    fkex_kdf_part parts[3] = { { sigma, 32 }, { fp, 32 }, { id, idlen } };
    fkex_kdf(wide, sizeof wide, "fkex v1 ibe fo coins", parts, 3);
    (void)blst_scalar_from_le_bytes(&sc, wide, sizeof wide);
    blst_fr_from_scalar(r, &sc);
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(&sc, sizeof sc);
}

/* H2(z) = KDF("fkex v1 ibe mask", z) for z in GT. */
static void h2(uint8_t mask[32], const fkex_gt *z)
{
    uint8_t zb[FKEX_GT_BYTES];
    fkex_gt_to_bytes(zb, z);
    fkex_kdf_part part = { zb, sizeof zb };
    fkex_kdf(mask, 32, "fkex v1 ibe mask", &part, 1);
    sodium_memzero(zb, sizeof zb);
}

/* K = KDF("fkex v1 ibe key", sigma, ciphertext bytes, ID). */
static void kem_key(uint8_t key[32], const uint8_t sigma[32], const fkex_ibe_ct *ct)
{
    fkex_kdf_part parts[3] = { { sigma, 32 }, { ct->bytes, ct->len }, { ct->id, ct->idlen } };
    fkex_kdf(key, 32, "fkex v1 ibe key", parts, 3);
}

void fkex_ibe_encap_to(uint8_t key[32], fkex_ibe_ct *ct, const fkex_ibe_pub *pub,
                       const uint8_t fp[FKEX_FINGERPRINT_BYTES], const char *id, size_t idlen,
                       fkex_rng *rng)
{
    uint8_t sigma[32], mask[32];
    fkex_fr r;
    fkex_g1 q;
    fkex_g2 u;
    fkex_gt z;

    memcpy(ct->fp, fp, FKEX_FINGERPRINT_BYTES);
    memcpy(ct->id, id, idlen);
    ct->id[idlen] = '\0';
    ct->idlen = idlen;
    fkex_rng_fill(rng, sigma, sizeof sigma);            /* sigma <-$ {0,1}^n */
    h3(&r, sigma, fp, id, idlen);                       /* r = H3(sigma, .) */
    fkex_g2_base_mul(&u, pub->g2, &r);                  /* U = rP */
    blst_p2_to_affine(&ct->u, &u);
    fkex_ibe_hash_id(&q, id, idlen);                    /* Q_ID = H1(ID) */
    fkex_g1_mul(&q, &q, &r);                            /* r Q_ID */
    fkex_pairing_lines(&z, &q, &pub->ppub);             /* g_ID^r = e(r Q_ID, P_pub) */
    h2(mask, &z);
    for (int i = 0; i < 32; i++)
        ct->v[i] = sigma[i] ^ mask[i];                  /* V = sigma xor H2(g_ID^r) */
    fkex_ibe_ct_serialize(ct);
    kem_key(key, sigma, ct);                            /* K replaces W = M xor H4(sigma) */
    sodium_memzero(sigma, sizeof sigma);
    sodium_memzero(mask, sizeof mask);
    sodium_memzero(&r, sizeof r);
    sodium_memzero(&q, sizeof q);
    sodium_memzero(&u, sizeof u);
    sodium_memzero(&z, sizeof z);
}

fkex_err fkex_ibe_decap_with(uint8_t key[32], const fkex_ibe_ukey *uk, const fkex_ibe_pub *pub,
                             const uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_ibe_ct *ct)
{
    uint8_t sigma[32], mask[32], k[32];
    fkex_fr r;
    fkex_g2 u, given;
    fkex_gt ml, z;
    unsigned ok;
    uint8_t keep;

    /* Public facts first: whose ciphertext this is. */
    if (sodium_memcmp(fp, ct->fp, FKEX_FINGERPRINT_BYTES) != 0)
        return FKEX_ERR_WRONG_AUTHORITY;
    if (uk->idlen != ct->idlen || memcmp(uk->id, ct->id, ct->idlen) != 0)
        return FKEX_ERR_WRONG_IDENTITY;
    /* U was subgroup-checked when ct was decoded (fkex_ibe_ct_parse). */
    blst_miller_loop(&ml, &ct->u, &uk->d);
    blst_final_exp(&z, &ml);                            /* e(d_ID, U) = g_ID^r */
    h2(mask, &z);
    for (int i = 0; i < 32; i++)
        sigma[i] = ct->v[i] ^ mask[i];                  /* sigma = V xor H2(e(d_ID, U)) */
    h3(&r, sigma, ct->fp, ct->id, ct->idlen);           /* r = H3(sigma, .) */
    fkex_g2_base_mul(&u, pub->g2, &r);
    /* FO: reject unless U = rP. Accepting or not is public, but it is
     * decided without a branch (blst's projective comparison is constant
     * time), so that tests/ctgrind sees none on a secret. */
    blst_p2_from_affine(&given, &ct->u);
    ok = (unsigned)blst_p2_is_equal(&u, &given) & 1u;
    kem_key(k, sigma, ct);
    keep = (uint8_t)(0u - ok);
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)((k[i] & keep) | (key[i] & ~keep));
    sodium_memzero(sigma, sizeof sigma);
    sodium_memzero(mask, sizeof mask);
    sodium_memzero(k, sizeof k);
    sodium_memzero(&r, sizeof r);
    sodium_memzero(&u, sizeof u);
    sodium_memzero(&ml, sizeof ml);
    sodium_memzero(&z, sizeof z);
    return (fkex_err)(FKEX_ERR_AUTHENTICATION * (1u - ok));
}
