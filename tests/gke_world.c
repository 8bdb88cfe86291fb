/* tests/gke_world.c: the authority, users and rooms of tests/gke_world.h. */
#include <stdlib.h>
#include "gke_world.h"
#include "gke/ratchet_state.h"

void gke_world_open(gke_world *w, const char *label)
{
    fkex_rng rng;
    test_rng(&rng, label);
    if (fkex_abe_setup(&w->mpk, &w->msk, "waters11", &rng) != FKEX_OK)
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
    fkex_abe_key_free(w->alice);
    fkex_abe_key_free(w->bob);
    fkex_abe_key_free(w->carol);
    fkex_abe_key_free(w->eve);
    fkex_abe_mpk_free(w->mpk);
    fkex_abe_msk_free(w->msk);
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
