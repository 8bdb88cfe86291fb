/*
 * relay/index.h: the daemon's sessions by (room, leaf key V), so that a
 * delivery finds its session in O(1) instead of scanning every connection.
 *
 * A leaf key is chosen by the client, so the table hashes with SipHash
 * under a key drawn at start (crypto_shorthash): nobody can aim many keys
 * at one bucket. Chained buckets; the table doubles past one entry per
 * bucket. Values are the caller's; the index owns only its nodes.
 */
#ifndef FKEX_RELAY_INDEX_H
#define FKEX_RELAY_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct relay_index_node relay_index_node;
typedef struct {
    relay_index_node **buckets;
    size_t nbuckets, n;
    uint8_t key[16];
} relay_index;

void relay_index_init(relay_index *x);
void relay_index_free(relay_index *x);
/* Sets (room, v) to value, replacing any; 0, or -1 if out of memory. */
int relay_index_put(relay_index *x, const void *room, const uint8_t v[32], void *value);
/* The value, or NULL. O(1) expected. */
void *relay_index_get(const relay_index *x, const void *room, const uint8_t v[32]);
/* Removes (room, v) if its value is value. */
void relay_index_del(relay_index *x, const void *room, const uint8_t v[32], const void *value);

#endif
