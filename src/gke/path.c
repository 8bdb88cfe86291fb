/*
 * gke/path.c: how a commit's commit_secret reaches the members who stay
 * when someone leaves or a key changes (PROTOCOL.md, "The ratchet tree";
 * RFC 9420 §7 and §12.4.2): the committer's UpdatePath, one HPKE seal per
 * node of its copath's resolutions, O(log n) while the tree is full; each
 * member opens the one slice the relay hands it and derives the rest.
 *
 * The tree moves with the roster (gke/tree.h): removals highest first,
 * each filled by the last leaf, then the joiners at the end; then the
 * path. Both sides build that tree from the commit, so a member checks
 * what the committer signed, not what it says the result is.
 *
 * A slice is not signed: a forged one opens to a path secret whose keys
 * differ from the signed ones (tree_path_open checks each), or does not
 * open at all; either way this member cannot follow the commit, which is
 * what the relay can do anyway by not delivering it.
 */
#include "gke/gke.h"
#include "gke/ratchet_state.h"

fkex_err dist_tree_next(ratchet_tree *out, tree_private *priv, uint32_t *committer,
                        const fkex_ratchet *st, const fkex_rmsg_commit *c)
{
    uint32_t n = st->nleaves, at = c->committer;
    fkex_err err = tree_copy(out, &st->tree);
    if (err != FKEX_OK)
        return err;
    *priv = st->tpriv;
    for (uint32_t k = c->nremoves; k-- > 0;) {
        uint32_t i = load32_be(c->removes + 4 * k);
        tree_remove(out, priv, i);
        if (at == --n)
            at = i;
    }
    for (uint32_t a = 0; a < c->nadds && err == FKEX_OK; a++) {
        uint32_t index;
        if ((err = tree_add(out, c->adds + 64 * a + 32, &index)) == FKEX_OK && index != n++)
            err = FKEX_ERR_ARGUMENT;   /* the roster has no gaps, nor has the tree */
    }
    if (err != FKEX_OK) {
        tree_free(out);
        tree_private_wipe(priv);
        return err;
    }
    *committer = at;
    return FKEX_OK;
}

fkex_err dist_seal(fkex_writer *w, const ratchet_tree *t, const tree_update *u, uint32_t nleaves,
                   uint32_t njoiners, tree_joiner_secret *joiners, const uint8_t *info,
                   size_t infolen, fkex_rng *rng)
{
    uint32_t exclude[RATCHET_MAX_PENDING];
    if (njoiners > RATCHET_MAX_PENDING || njoiners > nleaves)
        return FKEX_ERR_ARGUMENT;
    for (uint32_t k = 0; k < njoiners; k++)
        exclude[k] = nleaves - njoiners + k;
    return tree_path_seal(w, t, u, exclude, njoiners, joiners, info, infolen, rng);
}

fkex_err dist_open(uint8_t commit_secret[32], tree_private *priv, const ratchet_tree *t,
                   uint32_t committer, const fkex_rmsg_commit *c, const uint8_t *info,
                   size_t infolen)
{
    const uint8_t *slice = fkex_rmsg_commit_slice(c, priv->leaf);
    if (!slice)
        return FKEX_ERR_AUTHENTICATION;
    return tree_path_open(priv, t, committer, slice, info, infolen, commit_secret);
}
