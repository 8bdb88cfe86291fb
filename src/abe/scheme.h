/*
 * abe/scheme.h: what a CP-ABE scheme provides to the generic KEM in abe.c.
 *
 * A scheme works on its own structures (opaque here) and produces the KEM
 * secret as a GT element Z; abe.c owns headers, fingerprints, key
 * derivation and the Fujisaki-Okamoto transform. A scheme is one table
 * like fkex_waters11 and one line in abe.c's scheme list.
 */
#ifndef FKEX_ABE_SCHEME_H
#define FKEX_ABE_SCHEME_H

#define FKEX_SCHEME_WATERS11 1
#define FKEX_SCHEME_FAME 3           /* 2 is bf01 (ibe/ibe.h) */
#define FKEX_CURVE_BLS12_381 1
#define FKEX_FORMAT_VERSION 1

typedef struct {
    uint8_t id;
    const char *name, *title;
    /* Structure sizes; abe.c allocates them (zeroed) and frees them (wiped). */
    size_t mpk_size, msk_size;
    size_t (*key_size)(size_t nattrs);
    size_t (*ct_size)(size_t rows);

    void (*setup)(void *msk, fkex_rng *rng);
    void (*mpk_from_msk)(void *mpk, const void *msk);
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

extern const fkex_abe_scheme fkex_waters11;
extern const fkex_abe_scheme fkex_fame;

/* Batch verification of a key (abe/batch.c): a random 64-bit weight, top
 * bit set, and acc += rho p. */
void fkex_abe_weight(uint8_t rho[8], fkex_rng *rng);
void fkex_abe_add_weighted(fkex_g1 *acc, const fkex_g1 *p, const uint8_t rho[8]);

/* Compressed affine points in bodies (abe/points.c); reading validates. */
void fkex_abe_put_g1(fkex_writer *w, const blst_p1_affine *p);
void fkex_abe_put_g2(fkex_writer *w, const blst_p2_affine *p);
fkex_err fkex_abe_get_g1(blst_p1_affine *out, fkex_reader *r) FKEX_WUR;
fkex_err fkex_abe_get_g2(blst_p2_affine *out, fkex_reader *r) FKEX_WUR;

/* The scheme and its structures behind the generic objects, for the
 * benchmarks, which time the scheme's own operations. */
const fkex_abe_scheme *fkex_abe_ct_scheme(const fkex_abe_ct *ct);
const void *fkex_abe_mpk_impl(const fkex_abe_mpk *mpk);
const void *fkex_abe_key_impl(const fkex_abe_key *key);
const void *fkex_abe_ct_impl(const fkex_abe_ct *ct);
const fkex_lsss *fkex_abe_ct_lsss(const fkex_abe_ct *ct);
/* Expanded attribute names of a key, sorted. */
void fkex_abe_key_names(const char *const **names, size_t *n, const fkex_abe_key *key);

/* The header of abe/object.c, for the encoders in abe.c. */
void fkex_header_encode(fkex_writer *w, fkex_kind kind, uint8_t scheme,
                        const uint8_t fp[FKEX_FINGERPRINT_BYTES], size_t body_len);

#endif
