/*
 * abe/scheme.h: the schemes (a scheme's table, fkex_abe_scheme, is in
 * authority/authority.h, whose objects hold it) and what they share.
 */
#ifndef FKEX_ABE_SCHEME_H
#define FKEX_ABE_SCHEME_H

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
const void *fkex_abe_ct_impl(const fkex_abe_ct *ct);
const fkex_lsss *fkex_abe_ct_lsss(const fkex_abe_ct *ct);

#endif
