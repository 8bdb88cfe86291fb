/*
 * abe/hash_cache.h: the schemes' random-oracle points, kept once hashed.
 *
 * Both schemes hash attribute names to G1 (RFC 9380), Waters to one point
 * per name and FAME to six, plus six per column of a policy's matrix. The
 * points are public and depend on the name alone, and one hash to G1 costs
 * about as much as a scalar multiplication, so public parameters keep the
 * points they have met, up to FKEX_HASH_CACHE_ENTRIES keys per cache. The
 * cache only saves work: when it is full or cannot grow, the points are
 * hashed again, never an error.
 *
 * A cache is written by the reads that fill it, so public parameters
 * holding one are not shared across threads (include/fkex/abe.h).
 */
#ifndef FKEX_ABE_HASH_CACHE_H
#define FKEX_ABE_HASH_CACHE_H

#define FKEX_HASH_CACHE_ENTRIES 4096

/* Writes a key's points (as many as the cache was made for). */
typedef void (*fkex_hash_points_fn)(blst_p1_affine *out, const uint8_t *key, size_t len);

typedef struct fkex_hash_cache fkex_hash_cache;

/* A cache of `points` points per key; NULL if out of memory, and the
 * reads below then hash every time. */
fkex_hash_cache *fkex_hash_cache_new(size_t points);
void fkex_hash_cache_free(fkex_hash_cache *c);

/* The points of key, from the cache if there, from fn otherwise (and then
 * kept, while there is room). c may be NULL. */
void fkex_hash_cache_get(blst_p1_affine *out, fkex_hash_cache *c, fkex_hash_points_fn fn,
                         const uint8_t *key, size_t len);

#endif
