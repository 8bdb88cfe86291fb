/* tests/gke_world.c: the authority, users and rooms of tests/gke_world.h. */
#include <stdlib.h>
#include "gke_world.h"
#include "gke/ratchet_state.h"

void gke_world_open(gke_world *w, const char *label, const char *scheme)
{
    fkex_rng rng;
    test_rng(&rng, label);
    if (fkex_abe_setup(&w->mpk, &w->msk, scheme, &rng) != FKEX_OK)
        abort();
    w->alice = test_keygen(w->msk, "ONE TWO", &rng);
    w->bob = test_keygen(w->msk, "THREE FOUR", &rng);
    w->carol = test_keygen(w->msk, "ONE FOUR", &rng);
    w->eve = test_keygen(w->msk, "FIVE", &rng);
    if (!w->alice || !w->bob || !w->carol || !w->eve)
        abort();
}

void gke_world_close(gke_world *w)
{
    fkex_key_free(w->alice);
    fkex_key_free(w->bob);
    fkex_key_free(w->carol);
    fkex_key_free(w->eve);
    fkex_mpk_free(w->mpk);
    fkex_msk_free(w->msk);
}

room *gke_room_new(const gke_world *w, const char *seed)
{
    room *r = malloc(sizeof *r);
    if (!r || room_open(r, PROTOTYPE, 0, NULL, w->alice, seed) != FKEX_OK)
        abort();
    return r;
}

void gke_room_free(room *r)
{
    room_close(r);
    free(r);
}

void gke_remove_msg(fkex_writer *w, const uint8_t room_id[32], uint64_t epoch, uint32_t proposer,
                    uint32_t target, const uint8_t mk[32], const uint8_t sk[64])
{
    fkex_rmsg_remove m = { 0 };
    uint8_t tag[32];
    memcpy(m.room_id, room_id, 32);
    m.epoch = epoch;
    m.proposer = proposer;
    m.target = target;
    fkex_writer_init(w);
    fkex_rmsg_remove_encode(w, &m);
    fkex_mac(tag, mk, w->buf, w->len);
    fkex_writer_put(w, tag, 32);
    CHECK_OK(ratchet_sign_append(w, sk, "remove"));
}

void gke_junk_commit(fkex_writer *w, const uint8_t room_id[32], uint64_t epoch, uint32_t committer,
                     const uint8_t mk[32], const uint8_t sk[64], fkex_rng *rng)
{
    fkex_rmsg_commit c = { 0 };
    uint8_t tag[32];
    memcpy(c.room_id, room_id, 32);
    c.epoch = epoch;
    c.committer = committer;
    c.dist = FKEX_DIST_GROUP;
    fkex_rng_fill(rng, c.nonce, 32);
    fkex_rng_fill(rng, c.group_sealed, sizeof c.group_sealed);
    fkex_writer_init(w);
    fkex_rmsg_commit_encode(w, &c);
    fkex_rng_fill(rng, tag, 32);
    fkex_writer_put(w, tag, 32);
    fkex_mac(tag, mk, w->buf, w->len);
    fkex_writer_put(w, tag, 32);
    CHECK_OK(ratchet_sign_append(w, sk, "commit"));
    fkex_writer_u32(w, 0);
}

void gke_settled_msg(fkex_writer *w, const uint8_t room_id[32], uint64_t epoch,
                     const uint8_t hash[32])
{
    fkex_rmsg_settled s = { 0 };
    memcpy(s.room_id, room_id, 32);
    s.epoch = epoch;
    memcpy(s.commit_hash, hash, 32);
    fkex_writer_init(w);
    fkex_rmsg_settled_encode(w, &s);
    CHECK(!w->failed);
}

void gke_welcome_reseal(fkex_writer *w, const uint8_t k_w[32], const uint8_t th[32],
                        const fkex_rmsg_welcome *m, const fkex_welcome_state *ws, size_t extra)
{
    fkex_writer plain;
    uint8_t key[32], aad[64], *sealed;
    static const uint8_t nonce[12];
    fkex_rmsg_welcome out = *m;
    fkex_writer_init(&plain);
    fkex_welcome_state_encode(&plain, ws);
    for (size_t i = 0; i < extra; i++)
        fkex_writer_u8(&plain, 0);
    if (plain.failed || !(sealed = malloc(plain.len + 16)))
        abort();
    memcpy(aad, th, 32);
    memcpy(aad + 32, m->commit_hash, 32);
    fkex_kdf_expand(key, k_w, "welcome", NULL, 0);
    crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, plain.buf, plain.len, aad, sizeof aad,
                                              NULL, nonce, key);
    out.sealed = sealed;
    out.sealedlen = plain.len + 16;
    fkex_writer_init(w);
    fkex_rmsg_welcome_encode(w, &out);
    free(sealed);
    fkex_writer_free(&plain);
}

void gke_welcome_tag(fkex_welcome_state *ws, const uint8_t room_id[32])
{
    epoch_keys k;
    ratchet_tree t;
    roster ro;
    fkex_leaf *copy = malloc(ws->nleaves * sizeof *copy);
    uint8_t th[32] = { 0 };
    if (!copy)
        abort();
    memcpy(copy, ws->leaves, ws->nleaves * sizeof *copy);
    if (roster_whole(&ro, copy, ws->nleaves) != FKEX_OK)
        abort();
    if (tree_decode(&t, (const fkex_leaf *)ws->leaves, ws->nleaves, ws->tree, ws->treelen) ==
        FKEX_OK)
        tree_hash(th, &t);
    tree_free(&t);
    schedule_from_secret(&k, ws->epoch_secret, room_id, ws->epoch, ws->transcript_hash, ro.hash,
                         th);
    schedule_confirmation_tag(ws->confirmation_tag, &k);
    roster_free(&ro);
    sodium_memzero(&k, sizeof k);
}

fkex_err gke_welcome_retree(fkex_writer *w, const uint8_t *welcome, size_t len,
                            const uint8_t k_w[32], const uint8_t th[32],
                            const uint8_t room_id[32], gke_welcome_lie lie)
{
    fkex_rmsg_welcome m;
    fkex_welcome_state ws;
    uint8_t key[32], aad[64], *plain, *tree;
    unsigned long long plainlen;
    static const uint8_t nonce[12];
    fkex_err err = fkex_rmsg_welcome_decode(&m, welcome, len);
    if (err != FKEX_OK)
        return err;
    if (!(plain = malloc(m.sealedlen)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(aad, th, 32);
    memcpy(aad + 32, m.commit_hash, 32);
    fkex_kdf_expand(key, k_w, "welcome", NULL, 0);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plainlen, NULL, m.sealed, m.sealedlen,
                                                  aad, sizeof aad, nonce, key) != 0)
        err = FKEX_ERR_AUTHENTICATION;
    else
        err = fkex_welcome_state_decode(&ws, plain, (size_t)plainlen);
    if (err == FKEX_OK && lie == GKE_WELCOME_FALSE_TREE && (ws.treelen < 33 || ws.tree[0] != 1))
        err = FKEX_ERR_ARGUMENT;   /* no key at node 1 to lie about */
    if (err == FKEX_OK && !(tree = malloc(ws.treelen + 1)))
        err = FKEX_ERR_NO_MEMORY;
    if (err == FKEX_OK) {
        memcpy(tree, ws.tree, ws.treelen);
        if (lie == GKE_WELCOME_FALSE_TREE)
            tree[1] ^= 0x01;
        if (lie == GKE_WELCOME_FALSE_SECRET)
            ws.path_secret[0] ^= 0x01;
        ws.tree = tree;
        gke_welcome_tag(&ws, room_id);
        gke_welcome_reseal(w, k_w, th, &m, &ws, 0);
        free(tree);
    }
    sodium_memzero(&ws, sizeof ws);
    sodium_memzero(plain, m.sealedlen);
    free(plain);
    return err;
}
