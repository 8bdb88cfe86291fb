/*
 * fuzz/seeds.h: what the fuzz targets share: writing the seed corpus
 * (FKEX_FUZZ_SEEDS=DIR), one file per valid input, and a sink that grows
 * in memory. Included by the targets, each of which is built as one
 * translation unit.
 */
#ifndef FKEX_FUZZ_SEEDS_H
#define FKEX_FUZZ_SEEDS_H

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fkex/io.h"

static inline void write_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Every byte written, in p[0..len) (malloc'd; free it). */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} fuzz_buf;

static inline fkex_err fuzz_buf_write(fkex_sink *s, const uint8_t *data, size_t len)
{
    fuzz_buf *b = s->ctx;
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap - b->len < len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            return FKEX_ERR_NO_MEMORY;
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return FKEX_OK;
}

#endif
