/*
 * ibe/ibe.h: Boneh-Franklin inside libfkex, and IBAKE (ibe/ibake.h).
 *
 *   identity.c  normalising identities
 *   bf.c        the scheme: extraction, encapsulation, decapsulation
 *   keys.c      its parts of the authority's objects: setup, keygen, and
 *               the sections the public parameters, master key and user
 *               key carry (abe/abe.c encodes the objects around them)
 *   ct.c        the ciphertext object
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

#define FKEX_SCHEME_BF01 2           /* the scheme byte of IBE ciphertexts */
#define FKEX_IBE_SECTION 1           /* tags the IBE section of an object body */
#define FKEX_IBE_ID_HASH "IBE-ID"    /* H1's purpose in its RFC 9380 tag */
#define FKEX_IBE_ID2_HASH "IBE-ID2"  /* H2 into G2, for conversation ids (dm.h) */

/* The public part: P_pub, its lines, and a comb for g2^r. Built from
 * P_pub (or s) whenever public parameters are decoded. */
typedef struct {
    fkex_g2_lines ppub;              /* P_pub = g2^s and its lines */
    fkex_g2_fixed g2_table;          /* g2 multiples, for U = g2^r */
} fkex_ibe_pub;

/* The master secret (in sodium_malloc'd memory, wiped on free). */
typedef struct {
    fkex_fr s;
} fkex_ibe_master;

/* A user's identity key: Boneh-Franklin's d_ID, and d2_ID in G2 for
 * identity-based non-interactive key agreement (Sakai, Ohgishi, Kasahara,
 * SCIS 2000, in the asymmetric form of Dupont and Enge, Discrete Applied
 * Mathematics 154(2), 2006: keys in both groups), from which two parties
 * compute their conversation's id without a message (dm.h). Keys made
 * before it have no d2 (has_d2 0). */
typedef struct {
    char id[FKEX_IBE_ID_MAX + 1];    /* normalised, NUL-terminated */
    size_t idlen;
    blst_p1_affine d;                /* d_ID = H1(ID)^s */
    blst_p2_affine d2;               /* d2_ID = H2(ID)^s, if has_d2 */
    int has_d2;
} fkex_ibe_ukey;

struct fkex_ibe_ct {
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    char id[FKEX_IBE_ID_MAX + 1];
    size_t idlen;
    blst_p2_affine u;                /* U = g2^r, subgroup-checked */
    uint8_t v[32];                   /* V = sigma xor H2(g_ID^r) */
    uint8_t bytes[FKEX_IBE_CT_MAX];  /* the whole object; the key is bound to it */
    size_t len;
};

/* ---- identity.c --------------------------------------------------------- */
/* 1 if id[0..len) is already normalised (what decoders demand). */
int fkex_ibe_identity_canonical(const uint8_t *id, size_t len);

/* ---- bf.c ------------------------------------------------------------------ */
void fkex_ibe_hash_id(fkex_g1 *q, const char *id, size_t len);
void fkex_ibe_hash_id2(fkex_g2 *q, const char *id, size_t len);   /* H2(ID) in G2 */
void fkex_ibe_pub_from_ppub(fkex_ibe_pub *pub, const fkex_g2 *ppub);
void fkex_ibe_pub_from_master(fkex_ibe_pub *pub, const fkex_ibe_master *m);
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

/* ---- keys.c: the sections (after the scheme's part of each body:
 * u8 FKEX_IBE_SECTION then the fields) ------------------------------------ */
void fkex_ibe_pub_encode(fkex_writer *w, const fkex_ibe_pub *pub);
fkex_err fkex_ibe_pub_decode(fkex_ibe_pub *pub, fkex_reader *r) FKEX_WUR;
void fkex_ibe_master_encode(fkex_writer *w, const fkex_ibe_master *m);
fkex_err fkex_ibe_master_decode(fkex_ibe_master *m, fkex_reader *r) FKEX_WUR;
void fkex_ibe_ukey_encode(fkex_writer *w, const fkex_ibe_ukey *uk);
fkex_err fkex_ibe_ukey_decode(fkex_ibe_ukey *uk, fkex_reader *r) FKEX_WUR;
/* 1 if uk is pub's authority's key for its identity: e(d_ID, g2) =
 * e(H1(ID), P_pub), and e(d_ID, H2(ID)) = e(H1(ID), d2_ID) if it has d2.
 * An identity edited in the file fails. Two or four Miller loops. */
int fkex_ibe_ukey_matches(const fkex_ibe_ukey *uk, const fkex_ibe_pub *pub);

/* ---- ct.c ------------------------------------------------------------------ */
/* Decodes into a caller-owned structure (no allocation). */
fkex_err fkex_ibe_ct_parse(fkex_ibe_ct *ct, const uint8_t *in, size_t len) FKEX_WUR;
/* Writes ct->bytes from the other fields. */
void fkex_ibe_ct_serialize(fkex_ibe_ct *ct);

/* ---- what abe/abe.c keeps for us ------------------------------------------- */
const fkex_ibe_pub *fkex_abe_mpk_ibe(const fkex_abe_mpk *mpk);
const fkex_ibe_master *fkex_abe_msk_ibe(const fkex_abe_msk *msk);
const fkex_ibe_ukey *fkex_abe_key_ibe(const fkex_abe_key *key);
/* Take ownership: m from sodium_malloc, uk from malloc. The first
 * recomputes msk's public parameters (and fingerprint). */
fkex_err fkex_abe_msk_set_ibe(fkex_abe_msk *msk, fkex_ibe_master *m) FKEX_WUR;
void fkex_abe_key_set_ibe(fkex_abe_key *key, fkex_ibe_ukey *uk);

#include "ibe/ibake.h"
#include "ibe/dm.h"

#endif
