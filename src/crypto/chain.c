/*
 * crypto/chain.c: a sender's hash chain (crypto/chain.h).
 */
#include <stdlib.h>
#include "crypto/crypto.h"

#define NO_SLOT UINT32_MAX

void fkex_chain_step(uint8_t mk[32], uint8_t next[32], const uint8_t ck[32])
{
    fkex_kdf_expand(mk, ck, "key", NULL, 0);
    fkex_kdf_expand(next, ck, "chain", NULL, 0);
}

fkex_err fkex_chain_peek(uint8_t mk[32], uint32_t *slot, fkex_chain *c, uint32_t g)
{
    uint8_t ck[32];
    *slot = NO_SLOT;
    if (g < c->next) {
        for (uint32_t i = 0; i < c->nskipped; i++)
            if (c->skipped_gen[i] == g) {
                memcpy(mk, c->skipped_mk[i], 32);
                *slot = i;
                return FKEX_OK;
            }
        return FKEX_ERR_REPLAY;
    }
    uint32_t skip = g - c->next;
    if (skip > FKEX_CHAIN_MAX_SKIP - c->nskipped)
        return FKEX_ERR_UNEXPECTED;   /* too far ahead */
    if (skip && !c->skipped_mk &&
        !(c->skipped_mk = calloc(FKEX_CHAIN_MAX_SKIP, sizeof *c->skipped_mk)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(ck, c->ck, 32);
    for (uint32_t i = c->next; i < g; i++)
        fkex_kdf_expand(ck, ck, "chain", NULL, 0);
    fkex_kdf_expand(mk, ck, "key", NULL, 0);
    sodium_memzero(ck, sizeof ck);
    return FKEX_OK;
}

void fkex_chain_commit(fkex_chain *c, uint32_t g, uint32_t slot)
{
    if (slot != NO_SLOT) {   /* a skipped generation: drop its key */
        c->nskipped--;
        memcpy(c->skipped_mk[slot], c->skipped_mk[c->nskipped], 32);
        c->skipped_gen[slot] = c->skipped_gen[c->nskipped];
        sodium_memzero(c->skipped_mk[c->nskipped], 32);
        return;
    }
    for (; c->next < g; c->next++) {
        fkex_kdf_expand(c->skipped_mk[c->nskipped], c->ck, "key", NULL, 0);
        c->skipped_gen[c->nskipped++] = c->next;
        fkex_kdf_expand(c->ck, c->ck, "chain", NULL, 0);
    }
    fkex_kdf_expand(c->ck, c->ck, "chain", NULL, 0);
    c->next = g + 1;
}

void fkex_chain_wipe(fkex_chain *c)
{
    if (c->skipped_mk) {
        sodium_memzero(c->skipped_mk, FKEX_CHAIN_MAX_SKIP * sizeof *c->skipped_mk);
        free(c->skipped_mk);
    }
    sodium_memzero(c, sizeof *c);
}
