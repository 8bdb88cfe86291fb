/*
 * The ratchet room protocol in the in-process room of bench/room.c:
 * agreement, admission by attributes, and every check of PROTOCOL.md's
 * "What each party must verify", each as a test that fails if the check
 * is removed.
 */
#include <stdlib.h>
#include "test.h"
#include "room.h"
#include "gke/ratchet_state.h"

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
    if (!r || room_open(r, PROTOTYPE, 0, NULL, world.alice, seed) != FKEX_OK)
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

/* ---- admission ------------------------------------------------------------------ */

/* eve {FIVE} does not satisfy the policy: her Decap of C_S fails, she
 * aborts, and the room never changes. */
static void test_unsatisfied_joiner_never_added(void)
{
    room *r = room_new("eve");
    int bob = room_join(r, world.bob);
    uint8_t before[32], after[32];
    fkex_ratchet_epoch_authenticator(before, r->parties[0].st);
    int eve = room_join(r, world.eve);
    CHECK(eve >= 0);
    CHECK(r->parties[eve].aborted && !r->parties[eve].joined);
    CHECK(r->parties[eve].abort_err == FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(r->parties[0].admitted == 1);   /* bob only */
    CHECK(r->epoch == 1 && r->nroster == 2 && room_agree(r));
    fkex_ratchet_epoch_authenticator(after, r->parties[0].st);
    CHECK(memcmp(before, after, 32) == 0);
    /* eve's state never held an epoch secret. */
    CHECK(!fkex_ratchet_is_member(r->parties[eve].st));
    CHECK(sodium_is_zero(r->parties[eve].st->keys.encryption_secret, 32));
    CHECK(sodium_is_zero(r->parties[eve].st->k_w, 32));
    (void)bob;
    room_free(r);
}

/* A joiner that lies: eve sends a Proof although she could not decapsulate
 * C_S. The sponsor refuses it, admits nobody, and has nothing to commit. */
static int capture_challenge(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    fkex_rmsg_type t;
    uint8_t id[32];
    (void)r;
    (void)to;
    if (fkex_rmsg_peek(&t, id, frame, len) == FKEX_OK && t == FKEX_RMSG_CHALLENGE) {
        room_frame *keep = ctx;
        keep->bytes = malloc(len);
        memcpy(keep->bytes, frame, len);
        keep->len = len;
        return 1;
    }
    return 0;
}

static void test_lying_joiner_refused(void)
{
    room *r = room_new("liar");
    room_frame ch = { 0 };
    fkex_err err;
    r->tamper = capture_challenge;
    r->tamper_ctx = &ch;
    int eve = room_join_start(r, world.eve, &err);
    room_run(r, 100);
    CHECK(ch.bytes != NULL);
    /* eve answers with a Proof whose tag is made up, correctly signed. */
    fkex_rmsg_challenge c;
    fkex_rmsg_proof pr = { 0 };
    fkex_writer w;
    CHECK_OK(fkex_rmsg_challenge_decode(&c, ch.bytes, ch.len));
    memcpy(pr.room_id, r->room_id, 32);
    memcpy(pr.joiner_id, c.joiner_id, 32);
    fkex_rng_fill(&r->rng, pr.th, 32);
    fkex_rng_fill(&r->rng, pr.tag, 32);
    fkex_writer_init(&w);
    fkex_rmsg_proof_encode(&w, &pr);
    CHECK_OK(ratchet_sign_append(&w, r->parties[eve].st->sig_sk, "proof"));
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_UNEXPECTED);   /* th names no challenge */
    /* With the right th, the tag still cannot be right. */
    crypto_hash_sha256(pr.th, (const uint8_t *)"x", 1);
    memcpy(pr.th, r->parties[0].st->joins[0].th, 32);
    w.len = 0;
    fkex_rmsg_proof_encode(&w, &pr);
    CHECK_OK(ratchet_sign_append(&w, r->parties[eve].st->sig_sk, "proof"));
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    CHECK(r->parties[0].admitted == 0);
    CHECK_ERR(room_commit(r, 0, NULL), FKEX_ERR_UNEXPECTED);
    CHECK(r->epoch == 0 && r->nroster == 1);
    fkex_writer_free(&w);
    free(ch.bytes);
    room_free(r);
}

/* The relay alone (no satisfying key) answers a JoinRequest itself. It can
 * sign and encapsulate, but it cannot decapsulate C_J, so its tag_S is a
 * guess: the joiner aborts. Equally with eve's key, which does not
 * satisfy the policy. */
static int drop_join_requests(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    fkex_rmsg_type t;
    uint8_t id[32];
    (void)r;
    (void)to;
    if (fkex_rmsg_peek(&t, id, frame, len) == FKEX_OK && t == FKEX_RMSG_JOIN_REQUEST) {
        room_frame *keep = ctx;
        keep->bytes = malloc(len);
        memcpy(keep->bytes, frame, len);
        keep->len = len;
        return 1;
    }
    return 0;
}

static void test_relay_cannot_play_the_group(void)
{
    for (int with_eve = 0; with_eve < 2; with_eve++) {
        room *r = room_new(with_eve ? "relay with eve" : "relay alone");
        room_frame jr = { 0 };
        fkex_err err;
        r->tamper = drop_join_requests;
        r->tamper_ctx = &jr;
        int bob = room_join_start(r, world.bob, &err);
        room_run(r, 100);
        CHECK(jr.bytes != NULL);
        fkex_rmsg_join_request q;
        CHECK_OK(fkex_rmsg_join_request_decode(&q, jr.bytes, jr.len));

        /* The forged Challenge: group context from the (public) descriptor. */
        fkex_rmsg_challenge c = { 0 };
        fkex_abe_ct *ct, *cj;
        uint8_t k[32], relay_pk[32], relay_sk[64], guess[32];
        fkex_writer w;
        memcpy(c.room_id, r->room_id, 32);
        crypto_hash_sha256(c.context.descriptor_hash, r->descriptor, r->descriptor_len);
        ratchet_leaf_id(c.joiner_id, &q.leaf);
        fkex_sign_keypair(relay_pk, relay_sk, &r->rng);
        memcpy(c.sponsor_pk, relay_pk, 32);
        CHECK_OK(fkex_abe_encap(k, &ct, world.mpk, r->parties[0].st->policy, FKEX_ABE_CCA, &r->rng));
        fkex_abe_ct_bytes(&c.abe_ct, &c.abe_ctlen, ct);
        crypto_scalarmult_base(c.ephemeral_pk, k);
        /* Its best guess at k_J: eve's decapsulation, which fails, or random. */
        fkex_rng_fill(&r->rng, guess, 32);
        CHECK_OK(fkex_abe_ct_decode(&cj, q.abe_ct, q.abe_ctlen));
        if (with_eve)
            CHECK_ERR(fkex_abe_decap(guess, world.eve, cj, FKEX_ABE_CCA), FKEX_ERR_POLICY_UNSATISFIED);
        fkex_abe_ct_free(cj);
        fkex_mac(c.tag, guess, k, 32);
        fkex_writer_init(&w);
        fkex_rmsg_challenge_encode(&w, &c);
        CHECK_OK(ratchet_sign_append(&w, relay_sk, "challenge"));
        CHECK_OK(room_inject(r, bob, w.buf, w.len));
        CHECK(r->parties[bob].aborted);
        CHECK(r->parties[bob].abort_err == FKEX_ERR_AUTHENTICATION);
        CHECK(!r->parties[bob].joined);
        CHECK(sodium_is_zero(r->parties[bob].st->k_j, 32));
        fkex_writer_free(&w);
        fkex_abe_ct_free(ct);
        free(jr.bytes);
        room_free(r);
    }
}

/* A key from another authority cannot even be checked by the sponsor. */
static void test_other_authority_refused(void)
{
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk, *saved = world.msk;
    fkex_rng rng;
    test_rng(&rng, "other authority");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    world.msk = msk;
    fkex_abe_key *mallory = keygen("ONE TWO THREE FOUR", &rng);
    world.msk = saved;
    room *r = room_new("other authority");
    int m = room_join(r, mallory);
    CHECK(!r->parties[m].joined);
    CHECK(r->parties[0].last_refusal == FKEX_ERR_WRONG_AUTHORITY);
    CHECK(r->epoch == 0);
    room_free(r);
    fkex_abe_key_free(mallory);
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
}

/* ---- batching, sponsors, updates ------------------------------------------------------ */

static void test_batched_join(void)
{
    room *r = room_new("batch");
    fkex_err err;
    int b = room_join_start(r, world.bob, &err);
    int c = room_join_start(r, world.carol, &err);
    room_run(r, 1000);
    CHECK(r->parties[0].admitted == 2);
    CHECK_OK(room_commit(r, 0, NULL));
    room_run(r, 1000);
    CHECK(r->parties[b].joined && r->parties[c].joined);
    CHECK(r->epoch == 1 && r->nroster == 3 && room_agree(r));
    CHECK(fkex_ratchet_acked(r->parties[0].st, 1) && fkex_ratchet_acked(r->parties[0].st, 2));
    room_free(r);
}

static void test_next_sponsor_when_first_offline(void)
{
    room *r = room_new("sponsor");
    int bob = room_join(r, world.bob);
    r->parties[0].online = 0;   /* the relay names the next member */
    int carol = room_join(r, world.carol);
    CHECK(r->sponsor_of[carol] == bob);
    CHECK(r->parties[carol].joined);
    r->parties[0].online = 1;
    CHECK(room_agree(r));
    room_free(r);
}

/* Update replaces the committer's HPKE key (post-compromise security):
 * the commit goes by star, and the old key opens nothing afterwards. */
static void test_update(void)
{
    room *r = room_new("update");
    int bob = room_join(r, world.bob);
    uint8_t old_sk[32], old_pk[32];
    memcpy(old_sk, r->parties[bob].st->hpke_sk, 32);
    memcpy(old_pk, r->parties[bob].st->self.hpke_pk, 32);
    fkex_commit_options opt = { .update = 1 };
    CHECK_OK(room_commit(r, bob, &opt));
    room_run(r, 100);
    CHECK(r->epoch == 2 && room_agree(r));
    CHECK(memcmp(old_pk, r->parties[bob].st->self.hpke_pk, 32) != 0);
    CHECK(memcmp(old_pk, r->parties[0].st->leaves[bob].hpke_pk, 32) != 0);
    CHECK(memcmp(r->parties[bob].st->self.hpke_pk, r->parties[0].st->leaves[1].hpke_pk, 32) == 0);
    CHECK_ERR(room_commit(r, bob, NULL), FKEX_ERR_UNEXPECTED);   /* nothing pending */
    room_free(r);
}

/* ---- leaving ----------------------------------------------------------------------- */

/* A removed member cannot decrypt anything from a later epoch: it gets no
 * slice of the star, its state machine is done, and the messages it is
 * handed fail. */
static int keep_app(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    fkex_rmsg_type t;
    uint8_t id[32];
    (void)r;
    (void)to;
    if (fkex_rmsg_peek(&t, id, frame, len) == FKEX_OK && t == FKEX_RMSG_APPLICATION) {
        room_frame *keep = ctx;
        if (!keep->bytes) {
            keep->bytes = malloc(len);
            memcpy(keep->bytes, frame, len);
            keep->len = len;
        }
    }
    return 0;
}

static void test_removed_member_locked_out(void)
{
    room *r = room_new("lock out");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    room_frame app = { 0 };
    r->record = 1;
    CHECK_OK(room_leave(r, bob));
    CHECK(r->parties[bob].left && !fkex_ratchet_is_member(r->parties[bob].st));
    CHECK(r->epoch == 3 && r->nroster == 2 && room_agree(r));
    /* The removal commit has no slice for bob. */
    for (size_t i = 0; i < r->ntranscript; i++) {
        fkex_rmsg_commit c;
        if (fkex_rmsg_commit_decode(&c, r->transcript[i].bytes, r->transcript[i].len) != FKEX_OK)
            continue;
        CHECK(c.dist == FKEX_DIST_STAR && c.nslices == 1);
        for (uint32_t s = 0; s < c.nslices; s++)
            CHECK(memcmp(c.slices + s * FKEX_SLICE_BYTES, r->parties[bob].v, 32) != 0);
    }
    r->tamper = keep_app;
    r->tamper_ctx = &app;
    CHECK_OK(room_send(r, carol, "after bob"));
    room_run(r, 100);
    CHECK(app.bytes != NULL);
    uint64_t before = r->parties[bob].messages;
    CHECK_ERR(room_inject(r, bob, app.bytes, app.len), FKEX_ERR_UNEXPECTED);
    CHECK(r->parties[bob].messages == before);
    CHECK(r->parties[0].messages >= 1);
    free(app.bytes);
    room_free(r);
}

/* ---- re-attestation and policy change --------------------------------------------------- */

static void test_policy_change_reattests(void)
{
    room *r = room_new("policy change");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    uint8_t *d;
    size_t dlen;
    /* Only alice {ONE TWO} satisfies "ONE and TWO". */
    CHECK_OK(fkex_room_descriptor_create(&d, &dlen, "room", "ONE and TWO", 2, 0, r->admin_sk));
    fkex_commit_options opt = { .descriptor = d, .descriptor_len = dlen };
    CHECK_OK(room_commit(r, 0, &opt));
    room_run(r, 100);
    CHECK(r->parties[bob].left && r->parties[bob].left_err == FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(r->parties[carol].left && r->parties[carol].left_err == FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(fkex_ratchet_is_member(r->parties[0].st) && fkex_ratchet_epoch(r->parties[0].st) == 3);
    CHECK(strcmp(r->parties[0].st->policy_text, "ONE and TWO") == 0);
    /* An older descriptor version is refused. */
    uint8_t *old;
    size_t oldlen;
    CHECK_OK(fkex_room_descriptor_create(&old, &oldlen, "room", "ONE", 1, 0, r->admin_sk));
    fkex_commit_options stale = { .descriptor = old, .descriptor_len = oldlen };
    CHECK_ERR(room_commit(r, 0, &stale), FKEX_ERR_REPLAY);
    /* A descriptor signed by somebody else is refused. */
    uint8_t other_pk[32], other_sk[64], *forged;
    size_t forgedlen;
    fkex_sign_keypair(other_pk, other_sk, &r->rng);
    CHECK_OK(fkex_room_descriptor_create(&forged, &forgedlen, "room", "ONE", 9, 0, other_sk));
    fkex_commit_options bad = { .descriptor = forged, .descriptor_len = forgedlen };
    CHECK_ERR(room_commit(r, 0, &bad), FKEX_ERR_WRONG_ROOM);
    free(forged);
    free(old);
    free(d);
    room_free(r);
}

/* Rooms that require the current period: a key without it cannot join,
 * and a re-attestation in a new period drops keys that lapsed. */
static void test_require_period(void)
{
    fkex_rng rng;
    test_rng(&rng, "period keys");
    fkex_abe_key *a = keygen("ONE TWO period:2026-11", &rng);
    fkex_abe_key *b = keygen("THREE FOUR period:2026-11 period:2026-12", &rng);
    fkex_abe_key *old = keygen("THREE FOUR period:2026-10", &rng);
    room *r = malloc(sizeof *r);
    CHECK_ERR(room_open(r, PROTOTYPE, FKEX_ROOM_REQUIRE_PERIOD, NULL, a, "period"),
              FKEX_ERR_ARGUMENT);
    room_close(r);
    CHECK_OK(room_open(r, PROTOTYPE, FKEX_ROOM_REQUIRE_PERIOD, "2026-11", a, "period"));
    CHECK(strcmp(r->parties[0].st->policy_text, PROTOTYPE) == 0);
    int o = room_join(r, old);
    CHECK(r->parties[o].aborted && r->parties[o].abort_err == FKEX_ERR_POLICY_UNSATISFIED);
    int q = room_join(r, b);
    CHECK(r->parties[q].joined && room_agree(r));
    /* December, by every member's clock: alice's key lapsed, bob's did not. */
    CHECK_OK(fkex_ratchet_set_period(r->parties[0].st, "2026-12"));
    CHECK_OK(fkex_ratchet_set_period(r->parties[q].st, "2026-12"));
    fkex_commit_options re = { .reattest = 1 };
    CHECK_OK(room_commit(r, q, &re));
    room_run(r, 100);
    CHECK(r->parties[0].left && r->parties[0].left_err == FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(fkex_ratchet_is_member(r->parties[q].st) && fkex_ratchet_epoch(r->parties[q].st) == 2);
    room_free(r);
    fkex_abe_key_free(a);
    fkex_abe_key_free(b);
    fkex_abe_key_free(old);
}

void suite_ratchet(void)
{
    world_open();
    RUN(test_join_and_talk);
    RUN(test_unsatisfied_joiner_never_added);
    RUN(test_lying_joiner_refused);
    RUN(test_relay_cannot_play_the_group);
    RUN(test_other_authority_refused);
    RUN(test_batched_join);
    RUN(test_next_sponsor_when_first_offline);
    RUN(test_update);
    RUN(test_removed_member_locked_out);
    RUN(test_policy_change_reattests);
    RUN(test_require_period);
    world_close();
}
