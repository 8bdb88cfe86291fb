/*
 * tests/gke_world.h: what the room-protocol suites share: one authority,
 * the prototype's users, and rooms under the prototype's policy founded by
 * alice (bench/room.h is the room itself).
 */
#ifndef FKEX_TESTS_GKE_WORLD_H
#define FKEX_TESTS_GKE_WORLD_H

#include "test.h"
#include "room.h"

#define PROTOTYPE "(ONE or THREE) and (TWO or FOUR)"

typedef struct {
    fkex_mpk *mpk;
    fkex_msk *msk;
    /* {ONE TWO} {THREE FOUR} {ONE FOUR} satisfy PROTOTYPE; {FIVE} does not */
    fkex_key *alice, *bob, *carol, *eve;
} gke_world;

/* Deterministic from label, with an authority of the CP-ABE scheme named;
 * aborts if it cannot be made. */
void gke_world_open(gke_world *w, const char *label, const char *scheme);
void gke_world_close(gke_world *w);
/* A room of alice alone, at epoch 0; seed makes its run reproducible. */
room *gke_room_new(const gke_world *w, const char *seed);
void gke_room_free(room *r);
/* A Remove proposal (version 2) of target by proposer at epoch in room
 * room_id, its membership tag under mk, signed with sk: as a member, or a
 * thief of some of its keys, would make it. */
void gke_remove_msg(fkex_writer *w, const uint8_t room_id[32], uint64_t epoch, uint32_t proposer,
                    uint32_t target, const uint8_t mk[32], const uint8_t sk[64]);
/* A GROUP commit for epoch by committer with a right membership tag under
 * mk but a random sealed secret and confirmation tag (junk its signer
 * answers for), signed with sk. */
void gke_junk_commit(fkex_writer *w, const uint8_t room_id[32], uint64_t epoch, uint32_t committer,
                     const uint8_t mk[32], const uint8_t sk[64], fkex_rng *rng);
/* A Welcome state sealed again for the joiner that holds k_w and th, with
 * the commit hash of the real Welcome m; extra zero bytes appended to the
 * plaintext. */
void gke_welcome_reseal(fkex_writer *w, const uint8_t k_w[32], const uint8_t th[32],
                        const fkex_rmsg_welcome *m, const fkex_welcome_state *ws, size_t extra);
/* The confirmation tag of a Welcome state, recomputed for its roster and
 * tree: what its sponsor, who knows the epoch secret, can always make. */
void gke_welcome_tag(fkex_welcome_state *ws, const uint8_t room_id[32]);
/* A sponsor's lies in a Welcome, about the ratchet tree: the Welcome
 * (bytes) opened with the joiner's k_w and th, then changed as lie says,
 * its confirmation tag made right for the result, and sealed again into
 * w. FKEX_OK, or why not. */
typedef enum {
    GKE_WELCOME_TRUE,          /* nothing changed */
    GKE_WELCOME_FALSE_TREE,    /* a bit of the first parent's key (node 1 must have one) */
    GKE_WELCOME_FALSE_SECRET   /* a bit of the joiner's path secret */
} gke_welcome_lie;
fkex_err gke_welcome_retree(fkex_writer *w, const uint8_t *welcome, size_t len,
                            const uint8_t k_w[32], const uint8_t th[32],
                            const uint8_t room_id[32], gke_welcome_lie lie) FKEX_WUR;
/* SETTLED(epoch, hash) as the relay says it. */
void gke_settled_msg(fkex_writer *w, const uint8_t room_id[32], uint64_t epoch,
                     const uint8_t hash[32]);

#endif
