/*
 * ibe/ibe.h: Boneh-Franklin inside libfkex, and IBAKE (ibe/ibake.h).
 *
 *   bf.c        the scheme: extraction, encapsulation, decapsulation
 *   keys.c      setup and keygen on the authority's objects, whose IBE
 *               parts and their encodings are authority/ibe_keys.c's
 *   ct.c        the ciphertext object
 *   ibake.c, ibake_msg.c, dm_session.c  IBAKE and direct conversations
 *
 * Everything here works on caller-owned structures and allocates nothing,
 * except the public constructors in keys.c and ct.c.
 *
 * Placement (SCHEMES.md, type 3): Q_ID = H1(ID) in G1, by RFC 9380 with
 * the purpose "IBE-ID" (the attribute hash uses "ATTR", so the two never
 * collide); P_pub = g2^s in G2, with its Miller-loop lines precomputed;
 * d_ID = Q_ID^s in G1; U = g2^r in G2.
 */
#ifndef FKEX_IBE_PRIVATE_H
#define FKEX_IBE_PRIVATE_H

#include "authority/authority.h"
#include "fkex/ibe.h"

struct fkex_ibe_ct {
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    char id[FKEX_IBE_ID_MAX + 1];
    size_t idlen;
    blst_p2_affine u;                /* U = g2^r, subgroup-checked */
    uint8_t v[32];                   /* V = sigma xor H2(g_ID^r) */
    uint8_t bytes[FKEX_IBE_CT_MAX];  /* the whole object; the key is bound to it */
    size_t len;
};

/* ---- bf.c ------------------------------------------------------------------ */
/* Extract: d_ID = H1(ID)^s and d2_ID = H2(ID)^s for a normalised identity. */
void fkex_ibe_extract(fkex_ibe_ukey *uk, const fkex_ibe_master *m, const char *id, size_t len);
/* Fills ct (for the authority fp) and key; id is normalised. */
void fkex_ibe_encap_to(uint8_t key[32], fkex_ibe_ct *ct, const fkex_ibe_pub *pub,
                       const uint8_t fp[FKEX_FINGERPRINT_BYTES], const char *id, size_t idlen,
                       fkex_rng *rng);
/* The authority and identity checks, then the FO-checked decapsulation. */
fkex_err fkex_ibe_decap_with(uint8_t key[32], const fkex_ibe_ukey *uk, const fkex_ibe_pub *pub,
                             const uint8_t fp[FKEX_FINGERPRINT_BYTES],
                             const fkex_ibe_ct *ct) FKEX_WUR;

/* ---- ct.c ------------------------------------------------------------------ */
/* Decodes into a caller-owned structure (no allocation). */
fkex_err fkex_ibe_ct_parse(fkex_ibe_ct *ct, const uint8_t *in, size_t len) FKEX_WUR;
/* Writes ct->bytes from the other fields. */
void fkex_ibe_ct_serialize(fkex_ibe_ct *ct);

#include "ibe/ibake.h"
#include "ibe/dm.h"

#endif
