/*
 * abe/fame_hash.c: FAME's hashed points (abe/fame_hash.h).
 *
 * Attributes live in an open-addressing table with linear probing, keyed
 * by SipHash under a key of the cache's own, so that names chosen by
 * whoever writes a policy cannot pile onto one slot; it doubles from 64
 * slots while at most half full, up to 2 * FAME_CACHE_NAMES. Columns
 * live in an array filled up to the highest column asked for.
 */
#include <stdlib.h>
#include "inner.h"

#define FIRST_SLOTS 64

typedef struct {
    char *name;                 /* NULL: an empty slot */
    fame_points points;
} name_slot;

struct fame_cache {
    uint8_t key[crypto_shorthash_KEYBYTES];
    name_slot *slot;
    size_t nslots, used;
    fame_points *column;        /* column[j - 1] */
    size_t ncolumns, column_cap;
};

/* The six points of one family: purpose, then l || t || tail hashed for
 * each l and t. tail is at most 255 bytes (FKEX_ATTR_MAX_LEN). */
static void hash_points(fame_points *out, const char *purpose, const uint8_t *tail, size_t len)
{
    uint8_t msg[2 + FKEX_ATTR_MAX_LEN];
    fkex_g1 p[6];
    const blst_p1 *ptrs[6];
    memcpy(msg + 2, tail, len);
    for (int l = 0; l < 3; l++) {
        for (int t = 0; t < 2; t++) {
            msg[0] = (uint8_t)(l + 1);
            msg[1] = (uint8_t)(t + 1);
            fkex_g1_hash(&p[2 * l + t], purpose, msg, 2 + len);
            ptrs[2 * l + t] = &p[2 * l + t];
        }
    }
    blst_p1s_to_affine(&out->p[0][0], ptrs, 6);
}

static void hash_attr(fame_points *out, const char *name)
{
    hash_points(out, "FAME-ATTR", (const uint8_t *)name, strlen(name));
}

static void hash_column(fame_points *out, uint32_t j)
{
    uint8_t be[4];
    store32_be(be, j);
    hash_points(out, "FAME-COLUMN", be, sizeof be);
}

fame_cache *fame_cache_new(void)
{
    fame_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    crypto_shorthash_keygen(c->key);
    if (!(c->slot = calloc(FIRST_SLOTS, sizeof *c->slot))) {
        free(c);
        return NULL;
    }
    c->nslots = FIRST_SLOTS;
    return c;
}

void fame_cache_free(fame_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        free(c->slot[i].name);
    free(c->slot);
    free(c->column);
    free(c);
}

static size_t slot_of(const fame_cache *c, const char *name, size_t nslots)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const uint8_t *)name, strlen(name), c->key);
    return (size_t)(load64_be(h) & (nslots - 1));
}

/* The slot holding name, or the empty one where it would go. */
static name_slot *find(fame_cache *c, const char *name)
{
    size_t i = slot_of(c, name, c->nslots);
    while (c->slot[i].name && strcmp(c->slot[i].name, name) != 0)
        i = (i + 1) & (c->nslots - 1);
    return &c->slot[i];
}

/* Doubles the table, keeping every entry; 0 if it cannot. */
static int grow(fame_cache *c)
{
    size_t n = 2 * c->nslots;
    name_slot *old = c->slot, *fresh;
    size_t old_n = c->nslots;
    if (n > 2 * FAME_CACHE_NAMES || !(fresh = calloc(n, sizeof *fresh)))
        return 0;
    c->slot = fresh;
    c->nslots = n;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].name)
            *find(c, old[i].name) = old[i];
    free(old);
    return 1;
}

void fame_attr_points(fame_points *out, fame_cache *c, const char *name)
{
    name_slot *s;
    if (!c) {
        hash_attr(out, name);
        return;
    }
    s = find(c, name);
    if (s->name) {
        *out = s->points;
        return;
    }
    hash_attr(out, name);
    if (2 * (c->used + 1) > c->nslots) {
        if (!grow(c))
            return;
        s = find(c, name);
    }
    if (!(s->name = strdup(name)))
        return;
    s->points = *out;
    c->used++;
}

void fame_column_points(fame_points *out, fame_cache *c, uint32_t j)
{
    if (c && j > c->column_cap && j <= FKEX_POLICY_MAX_LEAVES) {
        size_t cap = 2 * c->column_cap > j ? 2 * c->column_cap : j;
        fame_points *more;
        if (cap > FKEX_POLICY_MAX_LEAVES)
            cap = FKEX_POLICY_MAX_LEAVES;
        if ((more = realloc(c->column, cap * sizeof *more))) {
            c->column = more;
            c->column_cap = cap;
        }
    }
    if (c && j > c->ncolumns && j <= c->column_cap) {
        for (size_t k = c->ncolumns; k < j; k++)
            hash_column(&c->column[k], (uint32_t)(k + 1));
        c->ncolumns = j;
    }
    if (c && j >= 1 && j <= c->ncolumns)
        *out = c->column[j - 1];
    else
        hash_column(out, j);
}
