/*
 * ibe/keys.c: Boneh-Franklin's setup and key extraction, on the
 * authority's objects (authority/authority.h holds their IBE parts).
 */
#include <stdlib.h>
#include "ibe/ibe.h"

fkex_err fkex_ibe_setup(fkex_mpk **mpk, fkex_msk *msk, fkex_rng *rng)
{
    fkex_ibe_master *m;
    fkex_err err;
    *mpk = NULL;
    if (msk->ibe)
        return FKEX_ERR_ARGUMENT;
    if (!(m = fkex_secret_alloc(sizeof *m)))
        return FKEX_ERR_NO_MEMORY;
    do
        fkex_fr_random(&m->s, rng);                     /* s <-$ Fr* */
    while (fkex_fr_is_zero(&m->s));
    if ((err = fkex_msk_set_ibe(msk, m)) != FKEX_OK)
        return err;
    /* The caller gets its own copy of the new public parameters. */
    return fkex_mpk_copy(mpk, msk->mpk);
}

fkex_err fkex_ibe_keygen(fkex_key *key, const fkex_msk *msk, const char *identity)
{
    const fkex_ibe_master *m = msk->ibe;
    char id[FKEX_IBE_ID_MAX + 1];
    fkex_ibe_ukey *uk;
    fkex_err err;
    if (!m)
        return FKEX_ERR_UNSUPPORTED;
    if (memcmp(msk->mpk->fp, key->mpk->fp, FKEX_FINGERPRINT_BYTES) != 0)
        return FKEX_ERR_WRONG_AUTHORITY;
    if (key->ibe)
        return FKEX_ERR_ARGUMENT;
    if ((err = fkex_ibe_identity(id, identity, strlen(identity))) != FKEX_OK)
        return err;
    if (!(uk = calloc(1, sizeof *uk)))
        return FKEX_ERR_NO_MEMORY;
    fkex_ibe_extract(uk, m, id, strlen(id));
    fkex_key_set_ibe(key, uk);
    return FKEX_OK;
}
