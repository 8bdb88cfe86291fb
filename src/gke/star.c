/*
 * gke/star.c: how a commit's commit_secret reaches the members who stay
 * (PROTOCOL.md, "Leave and remove"): one HPKE base-mode seal per member,
 * to its X_j, with info = the new epoch's context. The committer pays O(n)
 * seals; each member finds its own slice and opens it, O(1) public-key
 * work. The relay hands each member only its own slice.
 *
 * This file is the whole distribution interface (dist_seal, dist_open):
 * a TreeKEM ratchet tree (RFC 9420 §7, PROTOCOL.md version 2) replaces it
 * without touching the rest of the protocol.
 *
 * A slice is not signed: a forged one gives its recipient a different
 * commit_secret, so a different confirmation key, and the signed
 * confirmation tag of the commit then fails.
 */
#include "inner.h"
#include "gke/ratchet_state.h"

fkex_err dist_seal(fkex_writer *w, const fkex_leaf *to, uint32_t n, uint32_t skip,
                   const uint8_t commit_secret[32], const uint8_t *info, size_t infolen,
                   fkex_rng *rng)
{
    uint8_t info_hash[32];
    fkex_hpke_info_hash(info_hash, info, infolen);
    fkex_writer_u32(w, n - (skip < n ? 1 : 0));
    for (uint32_t i = 0; i < n; i++) {
        fkex_hpke_context ctx;
        uint8_t enc[32], ct[FKEX_SEALED_SECRET];
        fkex_err err;
        if (i == skip)
            continue;
        err = fkex_hpke_setup_base_s_hashed(enc, &ctx, to[i].hpke_pk, info_hash, rng);
        if (err == FKEX_OK)
            err = fkex_hpke_seal(ct, &ctx, NULL, 0, commit_secret, 32);
        fkex_hpke_context_wipe(&ctx);
        if (err != FKEX_OK)
            return err;
        fkex_writer_put(w, to[i].sig_pk, 32);
        fkex_writer_put(w, enc, 32);
        fkex_writer_put(w, ct, sizeof ct);
    }
    return w->failed ? FKEX_ERR_NO_MEMORY : FKEX_OK;
}

fkex_err dist_open(uint8_t commit_secret[32], const fkex_rmsg_commit *c, const fkex_leaf *self,
                   const uint8_t hpke_sk[32], const uint8_t *info, size_t infolen)
{
    for (uint32_t i = 0; i < c->nslices; i++) {
        const uint8_t *s = c->slices + (size_t)i * FKEX_SLICE_BYTES;
        uint8_t info_hash[32];
        fkex_hpke_context ctx;
        fkex_err err;
        if (memcmp(s, self->sig_pk, 32) != 0)
            continue;
        fkex_hpke_info_hash(info_hash, info, infolen);
        err = fkex_hpke_setup_base_r_hashed(&ctx, s + 32, hpke_sk, self->hpke_pk, info_hash);
        if (err == FKEX_OK)
            err = fkex_hpke_open(commit_secret, &ctx, NULL, 0, s + 64, FKEX_SEALED_SECRET);
        fkex_hpke_context_wipe(&ctx);
        return err == FKEX_OK ? FKEX_OK : FKEX_ERR_AUTHENTICATION;
    }
    return FKEX_ERR_AUTHENTICATION;
}
