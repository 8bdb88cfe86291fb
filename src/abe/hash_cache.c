/*
 * abe/hash_cache.c: a cache of hashed points (abe/hash_cache.h).
 *
 * An open-addressing table with linear probing, keyed by SipHash under a
 * key of the cache's own, so that names chosen by whoever writes a policy
 * cannot pile onto one slot. It doubles from 64 slots while at most half
 * full, up to 2 * FKEX_HASH_CACHE_ENTRIES. An entry is one allocation: the
 * key's length, its points, then its bytes.
 */
#include <stdlib.h>
#include "abe/abe.h"

#define FIRST_SLOTS 64

typedef struct {
    size_t len;
    blst_p1_affine point[];
} entry;

struct fkex_hash_cache {
    uint8_t sipkey[crypto_shorthash_KEYBYTES];
    size_t points;
    entry **slot;                 /* NULL: empty */
    size_t nslots, used;
};

fkex_hash_cache *fkex_hash_cache_new(size_t points)
{
    fkex_hash_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    crypto_shorthash_keygen(c->sipkey);
    c->points = points;
    if (!(c->slot = calloc(FIRST_SLOTS, sizeof *c->slot))) {
        free(c);
        return NULL;
    }
    c->nslots = FIRST_SLOTS;
    return c;
}

void fkex_hash_cache_free(fkex_hash_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        free(c->slot[i]);
    free(c->slot);
    free(c);
}

static const uint8_t *entry_key(const fkex_hash_cache *c, const entry *e)
{
    return (const uint8_t *)&e->point[c->points];
}

/* The slot holding key in a table of n slots, or the empty one where it
 * would go. */
static entry **find(const fkex_hash_cache *c, entry **slot, size_t n, const uint8_t *key,
                    size_t len)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, len, c->sipkey);
    for (size_t i = (size_t)load64_be(h) & (n - 1);; i = (i + 1) & (n - 1))
        if (!slot[i] || (slot[i]->len == len && memcmp(entry_key(c, slot[i]), key, len) == 0))
            return &slot[i];
}

/* Doubles the table, keeping every entry; 0 if it cannot. */
static int grow(fkex_hash_cache *c)
{
    size_t n = 2 * c->nslots;
    entry **fresh;
    if (n > 2 * FKEX_HASH_CACHE_ENTRIES || !(fresh = calloc(n, sizeof *fresh)))
        return 0;
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slot[i])
            *find(c, fresh, n, entry_key(c, c->slot[i]), c->slot[i]->len) = c->slot[i];
    free(c->slot);
    c->slot = fresh;
    c->nslots = n;
    return 1;
}

void fkex_hash_cache_get(blst_p1_affine *out, fkex_hash_cache *c, fkex_hash_points_fn fn,
                         const uint8_t *key, size_t len)
{
    entry **s, *e;
    if (!c) {
        fn(out, key, len);
        return;
    }
    s = find(c, c->slot, c->nslots, key, len);
    if (*s) {
        memcpy(out, (*s)->point, c->points * sizeof *out);
        return;
    }
    fn(out, key, len);
    if (2 * (c->used + 1) > c->nslots) {
        if (!grow(c))
            return;
        s = find(c, c->slot, c->nslots, key, len);
    }
    if (!(e = malloc(sizeof *e + c->points * sizeof *out + len)))
        return;
    e->len = len;
    memcpy(e->point, out, c->points * sizeof *out);
    memcpy((uint8_t *)&e->point[c->points], key, len);
    *s = e;
    c->used++;
}
