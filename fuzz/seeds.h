/*
 * fuzz/seeds.h: what every fuzz target shares to write its seed corpus
 * (FKEX_FUZZ_SEEDS=DIR): one file per valid input. Included by the
 * targets, each of which is built as one translation unit.
 */
#ifndef FKEX_FUZZ_SEEDS_H
#define FKEX_FUZZ_SEEDS_H

#include <stdio.h>
#include <stdint.h>

static void write_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

#endif
