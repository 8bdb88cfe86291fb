/*
 * abe/fame_hash.h: FAME's random-oracle points, and a cache of them.
 *
 * FAME (abe/fame.c) hashes each attribute y to six G1 points H(y, l, t)
 * and each column j of a policy's matrix to six more, G(j, l, t), for
 * l = 1..3 and t = 1..2. They are public and the same for every
 * authority, and one hash to G1 (RFC 9380) costs more than all the rest of
 * a row's arithmetic but one multiplication, so public parameters keep the
 * points they have met: at most FAME_CACHE_NAMES attributes and every
 * column up to FKEX_POLICY_MAX_LEAVES. The cache only saves work: when it
 * is full or cannot grow, the points are hashed again, never an error.
 *
 * A cache is written by the reads that fill it, so public parameters
 * holding one are not shared across threads (include/fkex/abe.h).
 */
#ifndef FKEX_ABE_FAME_HASH_H
#define FKEX_ABE_FAME_HASH_H

#define FAME_CACHE_NAMES 4096

/* p[l - 1][t - 1]. */
typedef struct {
    blst_p1_affine p[3][2];
} fame_points;

typedef struct fame_cache fame_cache;

/* NULL if out of memory: the readers below then hash every time. */
fame_cache *fame_cache_new(void);
void fame_cache_free(fame_cache *c);

/* H(name, l, t) = hash_to_G1 with purpose "FAME-ATTR" of the bytes
 * l || t || name. c may be NULL. */
void fame_attr_points(fame_points *out, fame_cache *c, const char *name);
/* G(j, l, t) = hash_to_G1 with purpose "FAME-COLUMN" of l || t || u32be(j),
 * for the paper's column j >= 1. The purposes keep the two families apart
 * whatever an attribute's name (SCHEMES.md). c may be NULL. */
void fame_column_points(fame_points *out, fame_cache *c, uint32_t j);

#endif
