/*
 * crypto/chain.h: a sender's hash chain (PROTOCOL.md, "Application
 * messages"), shared by rooms (gke/appmsg.c) and direct conversations
 * (ibe/dm_session.c):
 *   ck_{g+1} = KDF-Expand(ck_g, "chain")
 *   mk_g     = KDF-Expand(ck_g, "key")
 * A receiver may take generations out of order: it keeps the keys of the
 * generations it skipped (at most FKEX_CHAIN_MAX_SKIP) until their
 * messages come, refuses a generation twice, and wipes every key once
 * used, which gives forward secrecy inside the chain.
 *
 * Receiving is two steps, so that nothing changes before the message has
 * authenticated: fkex_chain_peek gives the key, fkex_chain_commit (only
 * after the AEAD opened) spends it.
 *
 * Cost: two HMACs per generation advanced; the skipped keys (32 KiB) are
 * allocated on the first skip.
 */
#ifndef FKEX_CHAIN_H
#define FKEX_CHAIN_H

#include <stdint.h>
#include "fkex/error.h"

#define FKEX_CHAIN_MAX_SKIP 1024   /* generations a receiver may skip ahead */

typedef struct {
    uint32_t next;                  /* generation of ck */
    uint8_t ck[32];
    uint32_t nskipped;
    uint32_t skipped_gen[FKEX_CHAIN_MAX_SKIP];
    uint8_t (*skipped_mk)[32];      /* FKEX_CHAIN_MAX_SKIP keys, allocated on first skip */
} fkex_chain;

/* Sending: mk of the chain key ck, and the next chain key (may be ck). */
void fkex_chain_step(uint8_t mk[32], uint8_t next[32], const uint8_t ck[32]);
/* Receiving generation g: its key, without changing the chain, and *slot
 * for fkex_chain_commit. FKEX_ERR_REPLAY (g was taken already),
 * FKEX_ERR_UNEXPECTED (too far ahead), FKEX_ERR_NO_MEMORY. */
fkex_err fkex_chain_peek(uint8_t mk[32], uint32_t *slot, fkex_chain *c, uint32_t g) FKEX_WUR;
/* Spends generation g (its message authenticated): the chain moves past
 * it, keeping the keys of the generations skipped. */
void fkex_chain_commit(fkex_chain *c, uint32_t g, uint32_t slot);
/* Wipes the chain and frees its skipped keys (c itself is the caller's). */
void fkex_chain_wipe(fkex_chain *c);

#endif
