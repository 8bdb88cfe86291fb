/*
 * relay/index.c: sessions by (room, V) (relay/index.h).
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "relay/index.h"

struct relay_index_node {
    relay_index_node *next;
    const void *room;
    uint8_t v[32];
    void *value;
};

void relay_index_init(relay_index *x)
{
    memset(x, 0, sizeof *x);
    randombytes_buf(x->key, sizeof x->key);
}

void relay_index_free(relay_index *x)
{
    for (size_t i = 0; i < x->nbuckets; i++)
        for (relay_index_node *n = x->buckets[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    free(x->buckets);
    x->buckets = NULL;
    x->nbuckets = x->n = 0;
}

/* The room is named by its address, which lives as long as the daemon. */
static size_t slot(const relay_index *x, const void *room, const uint8_t v[32], size_t nbuckets)
{
    uint8_t in[sizeof room + 32], h[crypto_shorthash_BYTES];
    memcpy(in, &room, sizeof room);
    memcpy(in + sizeof room, v, 32);
    uint64_t k;
    crypto_shorthash(h, in, sizeof in, x->key);
    memcpy(&k, h, sizeof k);
    return (size_t)k & (nbuckets - 1);
}

static relay_index_node **find(const relay_index *x, const void *room, const uint8_t v[32])
{
    if (!x->nbuckets)
        return NULL;
    relay_index_node **p = &x->buckets[slot(x, room, v, x->nbuckets)];
    for (; *p; p = &(*p)->next)
        if ((*p)->room == room && memcmp((*p)->v, v, 32) == 0)
            return p;
    return p;
}

static int grow(relay_index *x)
{
    size_t nb = x->nbuckets ? 2 * x->nbuckets : 64;
    relay_index_node **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < x->nbuckets; i++)
        for (relay_index_node *n = x->buckets[i], *next; n; n = next) {
            next = n->next;
            size_t k = slot(x, n->room, n->v, nb);
            n->next = b[k];
            b[k] = n;
        }
    free(x->buckets);
    x->buckets = b;
    x->nbuckets = nb;
    return 0;
}

int relay_index_put(relay_index *x, const void *room, const uint8_t v[32], void *value)
{
    relay_index_node **p;
    /* A failed growth only lengthens the chains, unless there is no table. */
    if (x->n >= x->nbuckets && grow(x) != 0 && !x->nbuckets)
        return -1;
    p = find(x, room, v);
    if (*p) {
        (*p)->value = value;
        return 0;
    }
    relay_index_node *n = malloc(sizeof *n);
    if (!n)
        return -1;
    n->next = NULL;
    n->room = room;
    memcpy(n->v, v, 32);
    n->value = value;
    *p = n;
    x->n++;
    return 0;
}

void *relay_index_get(const relay_index *x, const void *room, const uint8_t v[32])
{
    relay_index_node **p = find(x, room, v);
    return p && *p ? (*p)->value : NULL;
}

void relay_index_del(relay_index *x, const void *room, const uint8_t v[32], const void *value)
{
    relay_index_node **p = find(x, room, v), *n;
    if (!p || !(n = *p) || n->value != value)
        return;
    *p = n->next;
    free(n);
    x->n--;
}
