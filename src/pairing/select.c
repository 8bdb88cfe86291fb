/*
 * pairing/select.c: constant-time table lookup, for the windowed
 * exponentiations and multiplications whose window values are secret.
 */
#include "inner.h"

void fkex_ct_select(void *out, const void *table, size_t entry_bytes, size_t n, size_t index)
{
    uint64_t acc[sizeof(fkex_gt) / 8] = { 0 };
    const uint8_t *entry = table;
    size_t words = entry_bytes / 8;
    for (size_t i = 0; i < n; i++, entry += entry_bytes) {
        /* mask = all ones iff i == index, computed without a branch */
        uint64_t diff = (uint64_t)(i ^ index);
        uint64_t mask = ((diff | (0 - diff)) >> 63) - 1;
        for (size_t w = 0; w < words; w++) {
            uint64_t v;
            memcpy(&v, entry + 8 * w, 8);
            acc[w] |= v & mask;
        }
    }
    memcpy(out, acc, entry_bytes);
    sodium_memzero(acc, sizeof acc);
}
