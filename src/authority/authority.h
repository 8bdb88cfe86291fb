/*
 * authority/authority.h: the authority's objects, below both schemes.
 *
 * An authority has public parameters (fkex_mpk), a master key (fkex_msk)
 * and issues user keys (fkex_key). Each object carries a CP-ABE scheme's
 * part and, when the authority has one, a Boneh-Franklin part: the IBE
 * section. This layer owns the objects, their headers, encodings,
 * fingerprint and lifetimes, and the Boneh-Franklin key material with
 * its validation; the schemes above (abe/, ibe/) compute with them and
 * never call each other.
 *
 *   object.c     the 44-byte header, kind and scheme names, fingerprint text
 *   authority.c  the objects: allocation, encodings, decoding, accessors
 *   ibe_keys.c   Boneh-Franklin's public parameters, master key and
 *                identity keys: H1, H2, their sections, the key check
 *   identity.c   normalising identities
 *
 * A CP-ABE scheme's part is reached through its table (fkex_abe_scheme,
 * below), which abe/ defines: the objects hold a pointer to it, so this
 * layer calls a scheme without linking to one. Decoding is given the
 * scheme that the object's header names (abe/abe.c looks it up).
 */
#ifndef FKEX_AUTHORITY_LAYER_H
#define FKEX_AUTHORITY_LAYER_H

#include "policy/policy.h"
#include "crypto/crypto.h"
#include "fkex/authority.h"

#define FKEX_SCHEME_WATERS11 1
#define FKEX_SCHEME_BF01 2           /* identity-based ciphertexts (ibe/ct.c) */
#define FKEX_SCHEME_FAME 3
#define FKEX_CURVE_BLS12_381 1
#define FKEX_FORMAT_VERSION 1

/* ---- a CP-ABE scheme's table --------------------------------------------
 * A scheme works on its own structures (opaque here) and produces the KEM
 * secret as a GT element Z; abe/abe.c owns key derivation and the
 * Fujisaki-Okamoto transform. A scheme is one table like fkex_waters11
 * and one line in abe/abe.c's scheme list. */
typedef struct {
    uint8_t id;                      /* its name: fkex_scheme_name(id) */
    /* Structure sizes; the objects allocate them (zeroed) and free them (wiped). */
    size_t mpk_size, msk_size;
    size_t (*key_size)(size_t nattrs);
    size_t (*ct_size)(size_t rows);

    void (*setup)(void *msk, fkex_rng *rng);
    fkex_err (*mpk_from_msk)(void *mpk, const void *msk);   /* FKEX_ERR_NO_MEMORY */
    /* Frees what mpk_from_msk or mpk_decode allocated inside mpk (which may
     * be partly filled); NULL if nothing. */
    void (*mpk_release)(void *mpk);
    /* names: expanded attribute names, sorted (fkex_attrs_expand). */
    void (*keygen)(void *key, const void *msk, const void *mpk, size_t nnames,
                   const char *const *names, fkex_rng *rng);
    fkex_err (*encap)(fkex_gt *z, void *ct, const void *mpk, const fkex_lsss *lsss,
                      fkex_rng *rng);
    /* nnames: the key's expanded attributes. Its work must depend on the
     * policy and nnames alone, not on which rows sol uses (PROTOCOL.md,
     * version 2: admission leaks no branch). */
    void (*decap)(fkex_gt *z, const void *key, size_t nnames, const void *ct,
                  const fkex_lsss_solution *sol);
    /* 1 iff two ciphertexts for the same LSSS are identical. */
    int (*ct_equal)(const void *a, const void *b, size_t rows);

    /* Bodies. Decoders validate every element. */
    void (*mpk_encode)(fkex_writer *w, const void *mpk);
    fkex_err (*mpk_decode)(void *mpk, fkex_reader *r);
    void (*msk_encode)(fkex_writer *w, const void *msk);
    fkex_err (*msk_decode)(void *msk, fkex_reader *r);
    void (*key_encode)(fkex_writer *w, const void *key, size_t nnames);
    /* A key's body, checked against its authority's mpk and its expanded
     * attribute names (a label edited in the file must not pass for the
     * attribute the key was made for). */
    fkex_err (*key_decode)(void *key, fkex_reader *r, const void *mpk, const char *const *names,
                           size_t nnames);
    void (*ct_encode)(fkex_writer *w, const void *ct, size_t rows);
    fkex_err (*ct_decode)(void *ct, fkex_reader *r, size_t rows);
} fkex_abe_scheme;

/* ---- Boneh-Franklin's key material (ibe_keys.c) --------------------------
 * Placement (SCHEMES.md, type 3): Q_ID = H1(ID) in G1, by RFC 9380 with
 * the purpose "IBE-ID" (the attribute hash uses "ATTR", so the two never
 * collide); P_pub = g2^s in G2, with its Miller-loop lines precomputed;
 * d_ID = Q_ID^s in G1. */
#define FKEX_IBE_SECTION 1           /* tags the IBE section of an object body */
#define FKEX_IBE_ID_HASH "IBE-ID"    /* H1's purpose in its RFC 9380 tag */
#define FKEX_IBE_ID2_HASH "IBE-ID2"  /* H2 into G2, for conversation ids (ibe/dm.h) */

/* The public part: P_pub, its lines, and g2 as a fixed base for g2^r
 * (its comb built once it pays: pairing/base.c). Built from P_pub (or s)
 * whenever public parameters are decoded; fkex_ibe_pub_clear frees it. */
typedef struct {
    fkex_g2_lines ppub;              /* P_pub = g2^s and its lines */
    fkex_g2_base *g2;                /* for U = g2^r; mutable behind a const pub */
} fkex_ibe_pub;

/* The master secret (in sodium_malloc'd memory, wiped on free). */
typedef struct {
    fkex_fr s;
} fkex_ibe_master;

/* A user's identity key: Boneh-Franklin's d_ID, and d2_ID in G2 for
 * identity-based non-interactive key agreement (Sakai, Ohgishi, Kasahara,
 * SCIS 2000, in the asymmetric form of Dupont and Enge, Discrete Applied
 * Mathematics 154(2), 2006: keys in both groups), from which two parties
 * compute their conversation's id without a message (ibe/dm.h). Keys made
 * before it have no d2 (has_d2 0). */
typedef struct {
    char id[FKEX_IBE_ID_MAX + 1];    /* normalised, NUL-terminated */
    size_t idlen;
    blst_p1_affine d;                /* d_ID = H1(ID)^s */
    blst_p2_affine d2;               /* d2_ID = H2(ID)^s, if has_d2 */
    int has_d2;
} fkex_ibe_ukey;

void fkex_ibe_hash_id(fkex_g1 *q, const char *id, size_t len);    /* H1(ID) in G1 */
void fkex_ibe_hash_id2(fkex_g2 *q, const char *id, size_t len);   /* H2(ID) in G2 */
/* FKEX_ERR_NO_MEMORY (nothing is kept then). */
fkex_err fkex_ibe_pub_from_ppub(fkex_ibe_pub *pub, const fkex_g2 *ppub) FKEX_WUR;
fkex_err fkex_ibe_pub_from_master(fkex_ibe_pub *pub, const fkex_ibe_master *m) FKEX_WUR;
void fkex_ibe_pub_clear(fkex_ibe_pub *pub);
/* 1 if id[0..len) is already normalised (what decoders demand). */
int fkex_ibe_identity_canonical(const uint8_t *id, size_t len);

/* The sections (after the scheme's part of each body: u8 FKEX_IBE_SECTION
 * then the fields). */
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

/* ---- the objects (authority.c) ----------------------------------------- */

/* Public parameters carry precomputed tables (a few hundred KiB), so keys
 * share their authority's copy: refs counts the holders. Encryption adds
 * the points it hashes to their cache (abe/hash_cache.h), so they are not
 * immutable: see fkex/authority.h on threads. */
struct fkex_mpk {
    const fkex_abe_scheme *scheme;
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    void *impl;
    fkex_ibe_pub *ibe;           /* Boneh-Franklin parameters, or NULL */
    size_t refs;
};

struct fkex_msk {
    const fkex_abe_scheme *scheme;
    fkex_mpk *mpk;
    void *impl;                  /* sodium_malloc: guarded, wiped on free */
    fkex_ibe_master *ibe;        /* sodium_malloc too, or NULL */
};

struct fkex_key {
    fkex_mpk *mpk;
    char **attrs;                /* user attributes, sorted */
    size_t nattrs;
    char **names;                /* expanded names, sorted; one key part each */
    size_t nnames;
    void *impl;                  /* wiped on free */
    size_t impl_size;
    fkex_ibe_ukey *ibe;          /* the identity key, or NULL; wiped on free */
};

/* Zeroed memory for a secret from sodium_malloc (guarded, locked; free
 * with sodium_free, which wipes), libsodium initialised first if it was
 * not; NULL if there is none. */
void *fkex_secret_alloc(size_t size);

/* The header of every object (object.c). */
void fkex_header_encode(fkex_writer *w, fkex_kind kind, uint8_t scheme,
                        const uint8_t fp[FKEX_FINGERPRINT_BYTES], size_t body_len);
/* Reads and checks the header of an object of this kind, and hands back a
 * reader over its body: FKEX_ERR_WRONG_KIND for another kind. */
fkex_err fkex_object_open(fkex_header *h, fkex_reader *body, const uint8_t *in, size_t len,
                          fkex_kind kind) FKEX_WUR;
/* header || body, from a body writer, into *out (malloc'd); wipes the body
 * writer. FKEX_ERR_POLICY_LIMIT if the body is over FKEX_BODY_MAX. */
fkex_err fkex_object_wrap(uint8_t **out, size_t *len, fkex_kind kind, uint8_t scheme,
                          const uint8_t fp[FKEX_FINGERPRINT_BYTES], fkex_writer *body) FKEX_WUR;

/* A new master key for scheme, its secret zeroed, and the public
 * parameters it makes once its secret is set (fkex_msk_finish). */
fkex_err fkex_msk_alloc(fkex_msk **msk, const fkex_abe_scheme *scheme) FKEX_WUR;
fkex_err fkex_msk_finish(fkex_msk *msk) FKEX_WUR;
/* A copy of mpk of its own (its encoding read back). */
fkex_err fkex_mpk_copy(fkex_mpk **out, const fkex_mpk *mpk) FKEX_WUR;
/* A user key of msk's authority for attrs (checked as fkex_key_attrs_check
 * does), its scheme part allocated and zeroed for the scheme to fill. */
fkex_err fkex_key_alloc(fkex_key **key, const fkex_msk *msk, const char *const *attrs,
                        size_t nattrs) FKEX_WUR;

/* Decoders given the scheme the object's header names (the caller looked
 * it up: FKEX_ERR_WRONG_KIND if scheme is NULL). */
fkex_err fkex_mpk_decode_scheme(fkex_mpk **mpk, const fkex_abe_scheme *scheme,
                                const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_msk_decode_scheme(fkex_msk **msk, const fkex_abe_scheme *scheme,
                                const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_key_decode_scheme(fkex_key **key, const fkex_abe_scheme *scheme,
                                const uint8_t *in, size_t len) FKEX_WUR;

/* Take ownership: m from sodium_malloc, uk from malloc. The first
 * recomputes msk's public parameters (and fingerprint). */
fkex_err fkex_msk_set_ibe(fkex_msk *msk, fkex_ibe_master *m) FKEX_WUR;
void fkex_key_set_ibe(fkex_key *key, fkex_ibe_ukey *uk);

/* The scheme and its structures behind the objects, for the benchmarks,
 * which time the scheme's own operations. */
const void *fkex_mpk_impl(const fkex_mpk *mpk);
const void *fkex_key_impl(const fkex_key *key);
/* Expanded attribute names of a key, sorted. */
void fkex_key_names(const char *const **names, size_t *n, const fkex_key *key);

#endif
