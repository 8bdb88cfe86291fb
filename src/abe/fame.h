/*
 * abe/fame.h: FAME's random-oracle points (abe/fame.c), for its tests.
 *
 * H(y, l, t) hashes to G1 with the purpose "FAME-ATTR" the bytes
 * l || t || y, and the column constant G(j, l, t) with the purpose
 * "FAME-COLUMN" the bytes l || t || u32be(j), for l = 1..3 and t = 1..2:
 * the purposes keep the two families apart whatever an attribute's name
 * (SCHEMES.md). cache may be NULL.
 */
#ifndef FKEX_ABE_FAME_H
#define FKEX_ABE_FAME_H

/* p[l - 1][t - 1]. */
typedef struct {
    blst_p1_affine p[3][2];
} fame_points;

void fame_attr_points(fame_points *out, fkex_hash_cache *cache, const char *name);
/* j >= 1: the paper's column index. */
void fame_column_points(fame_points *out, fkex_hash_cache *cache, uint32_t j);

#endif
