/*
 * The ratchet room protocol in the in-process room of bench/room.c:
 * agreement, admission by attributes, and every check of PROTOCOL.md's
 * "What each party must verify", each as a test that fails if the check
 * is removed.
 */
#include <stdlib.h>
#include "test.h"
#include "gke_world.h"
#include "gke/ratchet_state.h"

/* One authority and the prototype's users, shared by the cases. */
static gke_world world;

static room *room_new(const char *seed) { return gke_room_new(&world, seed); }
static void room_free(room *r) { gke_room_free(r); }

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
/* The relay keeps the first frame of a type for itself (not delivered). */
typedef struct {
    fkex_rmsg_type type;
    room_frame frame;
} catch_one;

static int catch_first(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    catch_one *c = ctx;
    fkex_rmsg_type t;
    uint8_t id[32];
    (void)r;
    (void)to;
    if (c->frame.bytes || fkex_rmsg_peek(&t, id, frame, len) != FKEX_OK || t != c->type)
        return 0;
    c->frame.bytes = malloc(len);
    memcpy(c->frame.bytes, frame, len);
    c->frame.len = len;
    return 1;
}

static void test_lying_joiner_refused(void)
{
    room *r = room_new("liar");
    catch_one caught = { FKEX_RMSG_CHALLENGE, { 0 } };
    room_frame ch;
    fkex_err err;
    r->tamper = catch_first;
    r->tamper_ctx = &caught;
    int eve = room_join_start(r, world.eve, &err);
    room_run(r, 100);
    ch = caught.frame;
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
    CHECK(r->parties[0].st->njoins == 1);
    memcpy(pr.th, r->parties[0].st->joins[0].th, 32);
    w.len = 0;
    fkex_rmsg_proof_encode(&w, &pr);
    CHECK_OK(ratchet_sign_append(&w, r->parties[eve].st->sig_sk, "proof"));
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    CHECK(r->parties[0].admitted == 0);
    CHECK(r->parties[0].st->njoins == 0);   /* eve is dropped */
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
static void test_relay_cannot_play_the_group(void)
{
    for (int with_eve = 0; with_eve < 2; with_eve++) {
        room *r = room_new(with_eve ? "relay with eve" : "relay alone");
        catch_one caught = { FKEX_RMSG_JOIN_REQUEST, { 0 } };
        room_frame jr;
        fkex_err err;
        r->tamper = catch_first;
        r->tamper_ctx = &caught;
        int bob = room_join_start(r, world.bob, &err);
        room_run(r, 100);
        jr = caught.frame;
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
        CHECK_OK(fkex_abe_encap(k, &ct, world.mpk, r->parties[0].st->room.policy, FKEX_ABE_CCA, &r->rng));
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

/* A key from another authority cannot even be checked by the sponsor,
 * which says so: the joiner learns the room's authority. */
static void test_other_authority_refused(void)
{
    fkex_mpk *mpk;
    fkex_msk *msk, *saved = world.msk;
    fkex_rng rng;
    test_rng(&rng, "other authority");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    world.msk = msk;
    fkex_key *mallory = test_keygen(world.msk, "ONE TWO THREE FOUR", &rng);
    world.msk = saved;
    room *r = room_new("other authority");
    int m = room_join(r, mallory);
    CHECK(!r->parties[m].joined);
    CHECK(r->parties[0].last_refusal == FKEX_ERR_WRONG_AUTHORITY);
    CHECK(r->parties[m].aborted && r->parties[m].abort_err == FKEX_ERR_WRONG_AUTHORITY);
    CHECK(r->parties[m].st->phase == RATCHET_GONE);
    CHECK(r->epoch == 0);
    room_free(r);
    fkex_key_free(mallory);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
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
    /* The removal commit's one slice is for carol, in bob's seat now
     * (node 2), sealed to her leaf key. */
    for (size_t i = 0; i < r->ntranscript; i++) {
        fkex_rmsg_commit c;
        if (fkex_rmsg_commit_decode(&c, r->transcript[i].bytes, r->transcript[i].len) != FKEX_OK)
            continue;
        CHECK(c.dist == FKEX_DIST_PATH && c.nslices == 1 && load32_be(c.slices) == 2);
        CHECK(memcmp(r->parties[carol].st->tree.nodes[2].pk, r->parties[carol].st->self.hpke_pk,
                     32) == 0);
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
    CHECK(strcmp(r->parties[0].st->room.policy_text, "ONE and TWO") == 0);
    /* They owe an ack for the re-attested epoch and cannot send it: the
     * caller's timeout removes them. */
    CHECK(fkex_ratchet_acked(r->parties[0].st, 0));
    CHECK(!fkex_ratchet_acked(r->parties[0].st, 1) && !fkex_ratchet_acked(r->parties[0].st, 2));
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK_OK(fkex_ratchet_propose_remove(r->parties[0].st, 1, &o));
    CHECK_OK(fkex_ratchet_propose_remove(r->parties[0].st, 2, &o));
    for (size_t i = 0; i < o.nmsgs; i++)
        CHECK_OK(room_inject(r, 0, o.msgs[i].bytes, o.msgs[i].len));
    fkex_gke_out_clear(&o);
    CHECK_OK(room_commit(r, 0, NULL));
    room_run(r, 100);
    CHECK(fkex_ratchet_members(r->parties[0].st) == 1 && fkex_ratchet_epoch(r->parties[0].st) == 4);
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
    fkex_key *a = test_keygen(world.msk, "ONE TWO period:2026-11", &rng);
    fkex_key *b = test_keygen(world.msk, "THREE FOUR period:2026-11 period:2026-12", &rng);
    fkex_key *old = test_keygen(world.msk, "THREE FOUR period:2026-10", &rng);
    room *r = malloc(sizeof *r);
    CHECK_ERR(room_open(r, PROTOTYPE, FKEX_ROOM_REQUIRE_PERIOD, NULL, a, "period"),
              FKEX_ERR_ARGUMENT);
    room_close(r);
    CHECK_OK(room_open(r, PROTOTYPE, FKEX_ROOM_REQUIRE_PERIOD, "2026-11", a, "period"));
    CHECK(strcmp(r->parties[0].st->room.policy_text, PROTOTYPE) == 0);
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

    /* A lapsed member cannot stay by committing the re-attestation
     * itself: the committer decapsulates too. */
    r = malloc(sizeof *r);
    CHECK_OK(room_open(r, PROTOTYPE, FKEX_ROOM_REQUIRE_PERIOD, "2026-11", a, "period 2"));
    q = room_join(r, b);
    CHECK(r->parties[q].joined);
    CHECK_OK(fkex_ratchet_set_period(r->parties[0].st, "2026-12"));
    CHECK_ERR(room_commit(r, 0, &re), FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(r->epoch == 1 && room_agree(r));
    /* Joiners admitted under one period wait for no re-attestation. */
    CHECK_OK(fkex_ratchet_set_period(r->parties[0].st, "2026-11"));
    fkex_err err;
    int c = room_join_start(r, b, &err);
    room_run(r, 100);
    CHECK(c >= 0 && r->parties[0].admitted == 2);
    CHECK_ERR(room_commit(r, 0, &re), FKEX_ERR_UNEXPECTED);
    room_free(r);
    fkex_key_free(a);
    fkex_key_free(b);
    fkex_key_free(old);
}

/* ---- tampering: every signature, MAC and AEAD tag is checked before any
 * state changes ------------------------------------------------------------------------ */

typedef struct {
    fkex_rmsg_type type;
    size_t pos;           /* byte to flip, modulo the frame's length */
    int done;
    int to;
    room_frame original;
    /* Commits (version 2): the relay holds every SETTLED back, so that the
     * recipient of the flipped commit can still be handed the original. */
    room_frame settled[4];
    int settled_to[4];
    size_t nsettled;
} flip_once;

static int flip(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    flip_once *f = ctx;
    fkex_rmsg_type t;
    uint8_t id[32];
    (void)r;
    if (f->type == FKEX_RMSG_COMMIT && fkex_rmsg_peek(&t, id, frame, len) == FKEX_OK &&
        t == FKEX_RMSG_SETTLED) {
        if (f->nsettled < FKEX_ARRAY_LEN(f->settled)) {
            f->settled[f->nsettled].bytes = malloc(len);
            memcpy(f->settled[f->nsettled].bytes, frame, len);
            f->settled[f->nsettled].len = len;
            f->settled_to[f->nsettled++] = to;
        }
        return 1;
    }
    if (f->done || fkex_rmsg_peek(&t, id, frame, len) != FKEX_OK || t != f->type)
        return 0;
    f->done = 1;
    f->to = to;
    f->original.bytes = malloc(len);
    memcpy(f->original.bytes, frame, len);
    f->original.len = len;
    frame[f->pos % len] ^= 0x01;
    return 0;
}

/* carol joins a room of alice and bob while the relay flips one bit of the
 * first frame of one type. The recipient refuses it, or (a Challenge whose
 * tag_S no longer matches) the joiner aborts; nobody moves to a different
 * epoch; for frames that do not end a join, the untouched frame is then
 * accepted, so the refusal changed nothing.
 *
 * Version 2, commits: the flipped candidate is refused and never prepared
 * (no tentative epoch), and a relay's flip is never evidence against the
 * committer (nobody is accused: everything but the slices is signed, and
 * a slice is the relay's to swap). Nothing settles while the recipient,
 * online, has refused it; it then takes the original, acknowledges it,
 * and the SETTLEDs bring the room together. `update`: the commit is bob's Update (a star, so the flips
 * reach alice's slice) instead of alice's Add of carol. */
static void tamper_case_v(fkex_rmsg_type type, size_t pos, int update)
{
    room *r = room_new("tamper");
    int bob = room_join(r, world.bob);
    flip_once f = { type, pos, 0, -1, { 0 }, { { 0 } }, { 0 }, 0 };
    if (update) {
        fkex_commit_options upd = { .update = 1 };
        r->tamper = flip;
        r->tamper_ctx = &f;
        CHECK_OK(room_commit(r, bob, &upd));
        room_run(r, 1000);
    } else if (type == FKEX_RMSG_APPLICATION || type == FKEX_RMSG_JOIN_ACK ||
               type == FKEX_RMSG_REMOVE || type == FKEX_RMSG_EPOCH_ACK) {
        r->tamper = flip;
        r->tamper_ctx = &f;
        if (type == FKEX_RMSG_APPLICATION)
            CHECK_OK(room_send(r, bob, "tampered"));
        else if (type == FKEX_RMSG_REMOVE) {
            fkex_err left = room_leave(r, bob);   /* alice refuses the proposal: nothing to commit */
            CHECK(left == FKEX_ERR_UNEXPECTED);
        }
        else if (type == FKEX_RMSG_EPOCH_ACK) {
            fkex_commit_options upd = { .update = 1 };
            CHECK_OK(room_commit(r, 0, &upd));   /* bob's ack settles it, then goes to all */
        }
        else
            (void)room_join(r, world.carol);
        room_run(r, 1000);
    } else {
        r->tamper = flip;
        r->tamper_ctx = &f;
        (void)room_join(r, world.carol);
    }
    CHECK(f.done);
    if (!f.done) {
        room_free(r);
        return;
    }
    room_party *to = &r->parties[f.to];
    int aborted = type == FKEX_RMSG_CHALLENGE && to->aborted;
    /* An EpochAck whose MAC still holds needs no signature: a flip there
     * changes nothing a member acts on. */
    int unsigned_ok = type == FKEX_RMSG_EPOCH_ACK && pos % f.original.len >= f.original.len - 64;
    CHECK(unsigned_ok ? to->refused == 0 : (to->refused >= 1 || aborted));
    if (type == FKEX_RMSG_COMMIT) {
        CHECK(!to->st->tentative.active && !to->lost);
        /* A member who received it untouched settles it by its ack; the
         * committer's own does not, over a member who is online and
         * refused it. */
        int committer = update ? bob : 0;
        CHECK(f.nsettled == (f.to == committer ? 2u : 0u));
        for (int i = 0; i < r->nparties; i++)
            CHECK(r->parties[i].accused == 0 && r->parties[i].forks == 0);
    }
    if (type == FKEX_RMSG_EPOCH_ACK)
        CHECK(to->forks == 0);   /* a relay's flip breaks the signature: no fork */
    /* Nobody moved on a tampered frame. */
    for (int i = 0; i < r->nparties; i++)
        if (r->parties[i].st && fkex_ratchet_is_member(r->parties[i].st))
            CHECK(fkex_ratchet_epoch(r->parties[i].st) <= r->epoch);
    if (!aborted) {
        fkex_err err = room_inject(r, f.to, f.original.bytes, f.original.len);
        CHECK(err == FKEX_OK);
        if (err != FKEX_OK)
            fprintf(stderr, "    type %d pos %zu: original refused: %s\n", (int)type, pos,
                    fkex_strerror(err));
        if (type == FKEX_RMSG_COMMIT) {
            CHECK(to->st->tentative.active);
            r->tamper = NULL;
            for (size_t i = 0; i < f.nsettled; i++)
                CHECK_OK(room_inject(r, f.settled_to[i], f.settled[i].bytes, f.settled[i].len));
        }
        room_run(r, 1000);
        if (type == FKEX_RMSG_APPLICATION)
            CHECK(to->messages == 1);
        if (type == FKEX_RMSG_COMMIT) {
            CHECK(room_agree(r) && r->epoch == 2);
            CHECK(update || r->parties[2].joined);
        }
    }
    for (size_t i = 0; i < f.nsettled; i++)
        free(f.settled[i].bytes);
    free(f.original.bytes);
    room_free(r);
}

static void tamper_case(fkex_rmsg_type type, size_t pos)
{
    tamper_case_v(type, pos, 0);
}

static void test_tampered_frames_refused(void)
{
    static const fkex_rmsg_type types[] = {
        FKEX_RMSG_JOIN_REQUEST, FKEX_RMSG_CHALLENGE, FKEX_RMSG_PROOF, FKEX_RMSG_WELCOME,
        FKEX_RMSG_COMMIT, FKEX_RMSG_JOIN_ACK, FKEX_RMSG_APPLICATION, FKEX_RMSG_REMOVE,
        FKEX_RMSG_EPOCH_ACK,
    };
    /* Positions spread over the frames: headers, middles and the last
     * bytes (signatures, tags, slices). */
    static const size_t positions[] = { 1, 5, 40, 77, 100, 131, 200, 333, 517, 700,
                                        1000, 1500, (size_t)-1, (size_t)-17, (size_t)-40,
                                        (size_t)-65, (size_t)-90, (size_t)-130 };
    for (size_t t = 0; t < FKEX_ARRAY_LEN(types); t++)
        for (size_t p = 0; p < FKEX_ARRAY_LEN(positions); p++)
            tamper_case(types[t], positions[p]);
    for (size_t p = 0; p < FKEX_ARRAY_LEN(positions); p++)
        tamper_case_v(FKEX_RMSG_COMMIT, positions[p], 1);
}

/* ---- replays ------------------------------------------------------------------------ */

/* Keeps a copy of every frame delivered to party `who` (NULL ctx: all). */
typedef struct {
    int who;
    room_frame frames[64];
    int to[64];
    size_t n;
} tap;

static int tap_frames(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    tap *t = ctx;
    (void)r;
    if ((t->who < 0 || to == t->who) && t->n < FKEX_ARRAY_LEN(t->frames)) {
        t->frames[t->n].bytes = malloc(len);
        memcpy(t->frames[t->n].bytes, frame, len);
        t->frames[t->n].len = len;
        t->to[t->n++] = to;
    }
    return 0;
}

static void tap_free(tap *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->frames[i].bytes);
}

static const room_frame *tapped(const tap *t, fkex_rmsg_type type, int to)
{
    for (size_t i = 0; i < t->n; i++) {
        fkex_rmsg_type ty;
        uint8_t id[32];
        if (fkex_rmsg_peek(&ty, id, t->frames[i].bytes, t->frames[i].len) == FKEX_OK &&
            ty == type && (to < 0 || t->to[i] == to))
            return &t->frames[i];
    }
    return NULL;
}

/* Old commits, Welcomes, JoinAcks, messages and JoinRequests are refused,
 * each with the state unchanged. */
static void test_replays_refused(void)
{
    room *r = room_new("replay");
    tap t = { -1, { { 0 } }, { 0 }, 0 };
    r->tamper = tap_frames;
    r->tamper_ctx = &t;
    int bob = room_join(r, world.bob);
    CHECK_OK(room_send(r, 0, "once"));
    room_run(r, 100);
    r->tamper = NULL;
    const room_frame *commit = tapped(&t, FKEX_RMSG_COMMIT, 0);
    const room_frame *welcome = tapped(&t, FKEX_RMSG_WELCOME, bob);
    const room_frame *ack = tapped(&t, FKEX_RMSG_JOIN_ACK, 0);
    const room_frame *msg = tapped(&t, FKEX_RMSG_APPLICATION, bob);
    const room_frame *request = tapped(&t, FKEX_RMSG_JOIN_REQUEST, 0);
    CHECK(commit && welcome && ack && msg && request);
    uint8_t before[32], after[32];
    fkex_ratchet_epoch_authenticator(before, r->parties[0].st);
    CHECK_ERR(room_inject(r, 0, commit->bytes, commit->len), FKEX_ERR_REPLAY);
    CHECK_ERR(room_inject(r, bob, welcome->bytes, welcome->len), FKEX_ERR_UNEXPECTED);
    CHECK_ERR(room_inject(r, 0, ack->bytes, ack->len), FKEX_ERR_REPLAY);
    CHECK_ERR(room_inject(r, bob, msg->bytes, msg->len), FKEX_ERR_REPLAY);
    CHECK(r->parties[bob].messages == 1);
    CHECK_ERR(room_inject(r, 0, request->bytes, request->len), FKEX_ERR_REPLAY);   /* bob is in */
    fkex_ratchet_epoch_authenticator(after, r->parties[0].st);
    CHECK(memcmp(before, after, 32) == 0 && room_agree(r));

    /* After another epoch, the old commit is still a replay, and so is the
     * old JoinAck (a late one would still count); two epochs on, it names
     * an epoch nobody keeps. */
    int carol = room_join(r, world.carol);
    CHECK(r->parties[carol].joined);
    CHECK_ERR(room_inject(r, bob, commit->bytes, commit->len), FKEX_ERR_REPLAY);
    CHECK_ERR(room_inject(r, 0, ack->bytes, ack->len), FKEX_ERR_REPLAY);
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, carol, &upd));
    room_run(r, 100);
    CHECK_ERR(room_inject(r, 0, ack->bytes, ack->len), FKEX_ERR_WRONG_EPOCH);
    /* A JoinRequest for another room, and one for an older descriptor. */
    uint8_t other[32];
    fkex_ratchet_config cfg = { .key = world.bob, .descriptor = r->descriptor,
                                .descriptor_len = r->descriptor_len };
    memcpy(cfg.room_id, r->room_id, 32);
    fkex_ratchet *x;
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_join(&x, &cfg, &r->rng, &out));
    uint8_t *jr = out.msgs[0].bytes;
    size_t jrlen = out.msgs[0].len;
    memcpy(other, jr + 2, 32);
    jr[2] ^= 1;   /* another room id: refused before anything else */
    CHECK_ERR(room_inject(r, 0, jr, jrlen), FKEX_ERR_WRONG_ROOM);
    jr[2] ^= 1;
    jr[34] ^= 1;  /* another descriptor hash (signed, so the signature fails too) */
    CHECK_ERR(room_inject(r, 0, jr, jrlen), FKEX_ERR_WRONG_ROOM);
    fkex_gke_out_clear(&out);
    fkex_ratchet_free(x);
    tap_free(&t);
    room_free(r);
}

/* Post-compromise security: an attacker copies bob's whole state at epoch
 * 2. bob then commits an Update; the attacker, holding every secret bob
 * had, opens no slice of that commit and cannot reach epoch 3: its best
 * candidate epoch secrets do not match epoch 3's authenticator. */
static void test_post_compromise(void)
{
    room *r = room_new("pcs");
    int bob = room_join(r, world.bob);
    (void)room_join(r, world.carol);
    tap t = { 0, { { 0 } }, { 0 }, 0 };
    const fkex_ratchet *b = r->parties[bob].st;
    uint8_t stolen_sk[32], stolen_init[32], stolen_add[32];
    tree_private stolen_tree = b->tpriv;
    memcpy(stolen_sk, b->hpke_sk, 32);
    memcpy(stolen_init, b->keys.init_secret, 32);
    memcpy(stolen_add, b->keys.add_secret, 32);
    fkex_leaf stolen_leaf = b->self;
    r->tamper = tap_frames;
    r->tamper_ctx = &t;
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, bob, &upd));
    room_run(r, 100);
    r->tamper = NULL;
    CHECK(r->epoch == 3 && room_agree(r));
    CHECK(stolen_tree.nkeys >= 1);
    const room_frame *f = tapped(&t, FKEX_RMSG_COMMIT, 0);
    CHECK(f != NULL);
    if (f) {
        fkex_rmsg_commit c;
        uint8_t secret[32], ctx[SCHEDULE_CONTEXT_BYTES];
        const fkex_ratchet *a = r->parties[0].st;
        CHECK_OK(fkex_rmsg_commit_decode(&c, f->bytes, f->len));
        CHECK(c.dist == FKEX_DIST_PATH && c.nslices >= 1);
        schedule_context(ctx, r->room_id, 3, a->keys.transcript_hash, a->keys.roster_hash,
                         a->keys.tree_hash);
        /* Every slice against every key the thief holds, as if it were the
         * key of the slice's node: none opens. */
        for (uint32_t s = 0; s < c.nslices; s++)
            for (uint32_t k = 0; k < stolen_tree.nkeys; k++) {
                const uint8_t *slice = c.slices + (size_t)s * FKEX_SLICE_BYTES;
                tree_private as = { .leaf = 3, .nkeys = 1 };
                as.keys[0].node = load32_be(slice);
                memcpy(as.keys[0].sk, stolen_tree.keys[k].sk, 32);
                CHECK_ERR(tree_path_open(&as, &a->tree, c.committer, slice, ctx, sizeof ctx,
                                         secret),
                          FKEX_ERR_AUTHENTICATION);
            }
        /* Guesses from what was stolen: epoch 3 from the old init secret
         * with a zero, the add key, or the old HPKE key as commit secret. */
        const uint8_t *guesses[] = { stolen_add, stolen_sk, stolen_init };
        for (size_t g = 0; g < FKEX_ARRAY_LEN(guesses); g++) {
            epoch_keys k;
            uint8_t es[32];
            schedule_next(&k, es, stolen_init, guesses[g], NULL, r->room_id, 3,
                          a->keys.transcript_hash, a->keys.roster_hash, a->keys.tree_hash);
            CHECK(memcmp(k.epoch_authenticator, a->keys.epoch_authenticator, 32) != 0);
        }
    }
    tree_private_wipe(&stolen_tree);
    /* And bob's key did change. */
    CHECK(memcmp(stolen_leaf.hpke_pk, r->parties[bob].st->self.hpke_pk, 32) != 0);
    tap_free(&t);
    room_free(r);
}

/* ---- injection and forks --------------------------------------------------------------- */

/* A commit from outside the group: the relay (or a removed member) signs a
 * commit with a key of its own. Without the membership key its tag fails;
 * and a member's own commit cannot be replayed into another room state. */
static void test_injected_commit_refused(void)
{
    room *r = room_new("inject");
    int bob = room_join(r, world.bob);
    fkex_rmsg_commit c = { 0 };
    fkex_writer w;
    uint8_t tag[32], pk[32], sk[64];
    memcpy(c.room_id, r->room_id, 32);
    c.epoch = r->epoch;
    c.committer = 0;
    c.dist = FKEX_DIST_GROUP;
    fkex_rng_fill(&r->rng, c.nonce, 32);
    fkex_rng_fill(&r->rng, c.group_sealed, sizeof c.group_sealed);
    fkex_writer_init(&w);
    fkex_rmsg_commit_encode(&w, &c);
    fkex_rng_fill(&r->rng, tag, 32);
    fkex_writer_put(&w, tag, 32);   /* confirmation tag */
    fkex_writer_put(&w, tag, 32);   /* membership tag (version 2: before the signature) */
    fkex_sign_keypair(pk, sk, &r->rng);
    CHECK_OK(ratchet_sign_append(&w, sk, "commit"));
    fkex_writer_u32(&w, 0);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    /* With the right membership key (a member gone rogue, or a leak) but
     * not alice's signing key, the signature still fails: no evidence
     * against alice either. */
    w.len = 0;
    fkex_rmsg_commit_encode(&w, &c);
    fkex_writer_put(&w, tag, 32);
    fkex_mac(tag, r->parties[bob].st->keys.membership_key, w.buf, w.len);
    fkex_writer_put(&w, tag, 32);
    CHECK_OK(ratchet_sign_append(&w, sk, "commit"));
    fkex_writer_u32(&w, 0);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    CHECK(r->parties[bob].accused == 0 && !r->parties[bob].st->tentative.active);
    CHECK(fkex_ratchet_epoch(r->parties[bob].st) == 1 && room_agree(r));
    fkex_writer_free(&w);
    room_free(r);
}

/* SETTLED of the epoch party p is at, naming hash, from the relay the
 * test plays. */
static void settled_to(room *r, int p, const uint8_t hash[32])
{
    fkex_writer w;
    gke_settled_msg(&w, r->room_id, fkex_ratchet_epoch(r->parties[p].st), hash);
    CHECK_OK(room_inject(r, p, w.buf, w.len));
    fkex_writer_free(&w);
}

/* The relay forks the room (version 2): bob and carol both commit an
 * Update for epoch 3's predecessor; the relay hands bob's candidate to
 * {alice, bob} and carol's to {carol, dave}, and settles each half on its
 * own (two SETTLEDs). The halves hold different epoch authenticators, and
 * once the relay forwards the EpochAcks across, both halves report the
 * fork (FKEX_GKE_EV_FORK): an ack signed by a key both halves know names
 * another commit. Messages do not cross it. */
static void forward_acks(room *r, size_t from, const int *to, size_t nto, const uint8_t hash[32])
{
    for (size_t i = from; i < r->ntranscript; i++) {
        fkex_rmsg_epoch_ack a;
        if (fkex_rmsg_epoch_ack_decode(&a, r->transcript[i].bytes, r->transcript[i].len) != FKEX_OK ||
            memcmp(a.commit_hash, hash, 32) != 0)
            continue;
        for (size_t k = 0; k < nto; k++)
            (void)room_inject(r, to[k], r->transcript[i].bytes, r->transcript[i].len);
    }
}


static void content_hash(uint8_t hash[32], const uint8_t *bytes, size_t len)
{
    fkex_rmsg_commit c;
    CHECK_OK(fkex_rmsg_commit_decode(&c, bytes, len));
    crypto_hash_sha256(hash, bytes, c.content_len);
}

static void deliver_views(room *r, const uint8_t *commit, size_t len, const int *to, size_t nto)
{
    for (size_t i = 0; i < nto; i++) {
        uint8_t *view;
        size_t vlen;
        fkex_rmsg_commit c;
        CHECK_OK(fkex_rmsg_commit_decode(&c, commit, len));
        CHECK_OK(fkex_rmsg_commit_view(&view, &vlen, commit, &c,
                                       fkex_ratchet_index(r->parties[to[i]].st)));
        CHECK_OK(room_inject(r, to[i], view, vlen));
        free(view);
    }
}

static void test_fork_detected(void)
{
    room *r = room_new("fork");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    int dave = room_join(r, world.alice);
    CHECK(r->parties[dave].joined && r->epoch == 3 && room_agree(r));
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out ob, oc;
    uint8_t hb[32], hc[32];
    fkex_gke_out_init(&ob);
    fkex_gke_out_init(&oc);
    CHECK_OK(fkex_ratchet_commit(r->parties[bob].st, &upd, &r->rng, &ob));
    CHECK_OK(fkex_ratchet_commit(r->parties[carol].st, &upd, &r->rng, &oc));
    content_hash(hb, ob.msgs[0].bytes, ob.msgs[0].len);
    content_hash(hc, oc.msgs[0].bytes, oc.msgs[0].len);
    int side_b[] = { 0, bob }, side_c[] = { carol, dave };
    r->record = 1;
    size_t t0 = r->ntranscript;
    deliver_views(r, ob.msgs[0].bytes, ob.msgs[0].len, side_b, 2);
    deliver_views(r, oc.msgs[0].bytes, oc.msgs[0].len, side_c, 2);
    for (int i = 0; i < 2; i++) {
        settled_to(r, side_b[i], hb);
        settled_to(r, side_c[i], hc);
    }
    uint8_t a0[32], ab[32], ac[32], ad[32];
    fkex_ratchet_epoch_authenticator(a0, r->parties[0].st);
    fkex_ratchet_epoch_authenticator(ab, r->parties[bob].st);
    fkex_ratchet_epoch_authenticator(ac, r->parties[carol].st);
    fkex_ratchet_epoch_authenticator(ad, r->parties[dave].st);
    CHECK(fkex_ratchet_epoch(r->parties[0].st) == 4 && fkex_ratchet_epoch(r->parties[carol].st) == 4);
    CHECK(memcmp(a0, ab, 32) == 0 && memcmp(ac, ad, 32) == 0);
    CHECK(memcmp(a0, ac, 32) != 0);   /* the fork shows to whoever compares */
    uint8_t f0[32], fb[32], fc[32], want[32];   /* and so do the fingerprints people read */
    fkex_ratchet_epoch_fingerprint(f0, r->parties[0].st);
    fkex_ratchet_epoch_fingerprint(fb, r->parties[bob].st);
    fkex_ratchet_epoch_fingerprint(fc, r->parties[carol].st);
    fkex_kdf_expand(want, a0, "verify", NULL, 0);
    CHECK(memcmp(f0, want, 32) == 0 && memcmp(f0, fb, 32) == 0 && memcmp(f0, fc, 32) != 0);
    for (int p = 0; p < 4; p++)
        CHECK(r->parties[p].forks == 0);
    /* The relay forwards each half's EpochAcks to the other. */
    forward_acks(r, t0, side_c, 2, hb);
    forward_acks(r, t0, side_b, 2, hc);
    for (int p = 0; p < 4; p++)
        CHECK(r->parties[p].forks >= 1);
    /* The losing commit cannot be applied on top of the winner either. */
    uint8_t *view;
    size_t vlen;
    fkex_rmsg_commit lost;
    CHECK_OK(fkex_rmsg_commit_decode(&lost, oc.msgs[0].bytes, oc.msgs[0].len));
    CHECK_OK(fkex_rmsg_commit_view(&view, &vlen, oc.msgs[0].bytes, &lost, 0));
    CHECK_ERR(room_inject(r, 0, view, vlen), FKEX_ERR_REPLAY);
    free(view);
    /* dave's message (dave's V is the same on both sides) does not open on
     * alice's side of the fork. */
    fkex_gke_out om;
    fkex_gke_out_init(&om);
    CHECK_OK(fkex_ratchet_send(r->parties[dave].st, (const uint8_t *)"split", 5, &om));
    fkex_err err = room_inject(r, 0, om.msgs[0].bytes, om.msgs[0].len);
    CHECK(err == FKEX_ERR_AUTHENTICATION);
    CHECK(r->parties[0].messages == 0);
    fkex_gke_out_clear(&om);
    fkex_gke_out_clear(&ob);
    fkex_gke_out_clear(&oc);
    room_free(r);
}

/* ---- version 2: no insider freezes a room ----------------------------------------------- */

/* A member's client gone rogue, modelled where its frames leave it: every
 * commit frame of `signer` gets one bit of its membership tag flipped (or,
 * with `slices`, the last byte of its slice for party `victim` only) and,
 * for the tag, is signed again with the signer's key, so that the
 * signature holds and the junk is the signer's own doing. */
typedef struct {
    const uint8_t *sk;      /* the signer's signing key */
    uint32_t committer;     /* its index */
    int slices;             /* garble a slice instead of the tag */
    int victim;             /* with slices: whose */
    size_t hits;
} junk;

static int junk_fn(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    junk *j = ctx;
    fkex_rmsg_commit c;
    (void)r;
    if (fkex_rmsg_commit_decode(&c, frame, len) != FKEX_OK || c.committer != j->committer)
        return 0;
    if (j->slices) {
        if (to == j->victim && c.nslices == 1) {
            frame[len - 1] ^= 0x01;
            j->hits++;
        }
        return 0;
    }
    fkex_writer w;
    frame[c.tagged_len] ^= 0x01;
    fkex_writer_init(&w);
    fkex_writer_put(&w, frame, c.signed_len);
    CHECK_OK(ratchet_sign_append(&w, j->sk, "commit"));
    memcpy(frame + c.signed_len, w.buf + c.signed_len, 64);
    fkex_writer_free(&w);
    j->hits++;
    return 0;
}

/* bob, about to be removed, sends a junk commit (a wrong membership tag,
 * signed) to keep the room where it is. Every other member takes it as
 * evidence (FKEX_GKE_EV_MISBEHAVED) and proposes Remove(bob) quoting it;
 * the junk never settles, alice's Remove commit that follows does, and
 * bob reads nothing afterwards. */
static void test_junk_commit_does_not_freeze(void)
{
    room *r = room_new("junk commit");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    CHECK(r->epoch == 2 && room_agree(r));
    junk j = { r->parties[bob].st->sig_sk, 1, 0, -1, 0 };
    fkex_commit_options upd = { .update = 1 };
    r->tamper = junk_fn;
    r->tamper_ctx = &j;
    CHECK_OK(room_commit(r, bob, &upd));
    room_run(r, 1000);
    r->tamper = NULL;
    CHECK(j.hits == 3);
    /* Nothing settled, nobody prepared it; alice and carol accused bob and
     * each holds the proposal to remove him. */
    CHECK(r->epoch == 2 && room_agree(r));
    CHECK(r->parties[0].accused == 1 && r->parties[carol].accused == 1 && r->parties[bob].accused == 0);
    CHECK(!r->parties[0].st->tentative.active && !r->parties[carol].st->tentative.active);
    CHECK(r->parties[0].st->nremovals == 1 && r->parties[carol].st->nremovals == 1);
    /* alice commits the removal: it settles although the junk came first. */
    CHECK_OK(room_commit(r, 0, NULL));
    room_run(r, 1000);
    CHECK(r->epoch == 3 && r->nroster == 2 && room_agree(r));
    CHECK(r->parties[bob].left && !fkex_ratchet_is_member(r->parties[bob].st));
    /* bob cannot open what carol says next. */
    room_frame app = { 0 };
    r->tamper = keep_app;
    r->tamper_ctx = &app;
    CHECK_OK(room_send(r, carol, "bob is out"));
    room_run(r, 100);
    r->tamper = NULL;
    CHECK(app.bytes != NULL && r->parties[0].messages == 1);
    uint64_t before = r->parties[bob].messages;
    if (app.bytes)
        CHECK(room_inject(r, bob, app.bytes, app.len) != FKEX_OK);
    CHECK(r->parties[bob].messages == before);
    free(app.bytes);
    room_free(r);
}

/* bob's Update carries a garbage slice for carol only. The relay cannot
 * tell, alice acknowledges, the epoch settles: carol, who cannot apply the
 * settled commit, gets FKEX_GKE_EV_LOST and is out (to come back through
 * admission); alice and bob go on. A garbage slice is not evidence (the
 * relay could have swapped it): nobody is accused. */
static void test_garbage_slice_lost(void)
{
    room *r = room_new("garbage slice");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    junk j = { NULL, 1, 1, carol, 0 };
    fkex_commit_options upd = { .update = 1 };
    r->tamper = junk_fn;
    r->tamper_ctx = &j;
    CHECK_OK(room_commit(r, bob, &upd));
    room_run(r, 1000);
    r->tamper = NULL;
    CHECK(j.hits == 1);
    CHECK(r->parties[carol].lost && !fkex_ratchet_is_member(r->parties[carol].st));
    CHECK(!r->parties[0].lost && !r->parties[bob].lost);
    for (int p = 0; p < 3; p++)
        CHECK(r->parties[p].accused == 0);
    uint8_t a0[32], ab[32];
    fkex_ratchet_epoch_authenticator(a0, r->parties[0].st);
    fkex_ratchet_epoch_authenticator(ab, r->parties[bob].st);
    CHECK(fkex_ratchet_epoch(r->parties[0].st) == 3 && fkex_ratchet_epoch(r->parties[bob].st) == 3);
    CHECK(memcmp(a0, ab, 32) == 0);
    CHECK_OK(room_send(r, 0, "still here"));
    room_run(r, 100);
    CHECK(r->parties[bob].messages == 1 && r->parties[carol].messages == 0);
    room_free(r);
}

/* bob and carol commit an Update each for the same epoch; bob's comes
 * first and settles. carol's pending commit is dropped on SETTLED (her
 * keys did not change) and she can commit again at once. */
static void test_lost_race_commits_again(void)
{
    room *r = room_new("lost race");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    fkex_commit_options upd = { .update = 1 };
    uint8_t carol_x[32];
    memcpy(carol_x, r->parties[carol].st->self.hpke_pk, 32);
    CHECK_OK(room_commit(r, bob, &upd));
    CHECK_OK(room_commit(r, carol, &upd));
    CHECK(r->parties[carol].st->commit.active);
    room_run(r, 1000);
    CHECK(r->epoch == 3 && room_agree(r));
    CHECK(!r->parties[carol].st->commit.active);
    CHECK(memcmp(carol_x, r->parties[carol].st->self.hpke_pk, 32) == 0);
    CHECK(memcmp(carol_x, r->parties[0].st->leaves[2].hpke_pk, 32) == 0);
    CHECK_OK(room_commit(r, carol, &upd));
    room_run(r, 1000);
    CHECK(r->epoch == 4 && room_agree(r));
    CHECK(memcmp(carol_x, r->parties[0].st->leaves[2].hpke_pk, 32) != 0);
    room_free(r);
}

/* A thief holds bob's signing key (and, worst case, every epoch's
 * membership key). bob heals with an Update, which rotates V too: after
 * it settles, a Remove proposal or a commit signed with the old key is
 * refused by every member, while the same signed with bob's new key
 * passes the signature (control). */
static void thief_remove(fkex_writer *w, const room *r, const fkex_ratchet *mk_of, uint32_t proposer,
                         uint32_t target, const uint8_t sk[64])
{
    fkex_rmsg_remove m = { 0 };
    uint8_t tag[32];
    memcpy(m.room_id, r->room_id, 32);
    m.epoch = mk_of->keys.epoch;
    m.proposer = proposer;
    m.target = target;
    fkex_writer_init(w);
    fkex_rmsg_remove_encode(w, &m);
    fkex_mac(tag, mk_of->keys.membership_key, w->buf, w->len);
    fkex_writer_put(w, tag, 32);
    CHECK_OK(ratchet_sign_append(w, sk, "remove"));
}


static void test_thief_after_update(void)
{
    room *r = room_new("thief");
    int bob = room_join(r, world.bob);
    int carol = room_join(r, world.carol);
    uint8_t stolen[64];
    fkex_writer w;
    memcpy(stolen, r->parties[bob].st->sig_sk, 64);
    /* Before the Update the stolen key works: a proposal signed with it is taken. */
    thief_remove(&w, r, r->parties[0].st, 1, 2, stolen);
    CHECK_OK(room_inject(r, 0, w.buf, w.len));
    CHECK(r->parties[0].st->nremovals == 1);
    fkex_writer_free(&w);
    r->parties[0].st->nremovals = 0;   /* forget it: the test is about what follows */
    /* bob's Update settles; a commit the thief signed with the stolen key
     * for the same epoch comes too late. */
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, bob, &upd));
    const fkex_ratchet *alice = r->parties[0].st;
    gke_junk_commit(&w, r->room_id, alice->keys.epoch, 1, alice->keys.membership_key, stolen,
                    &r->rng);
    uint8_t *copy = malloc(w.len);
    size_t clen = w.len;
    memcpy(copy, w.buf, w.len);
    fkex_writer_free(&w);
    room_run(r, 1000);
    CHECK(r->epoch == 3 && room_agree(r));
    CHECK(memcmp(r->parties[0].st->leaves[1].sig_pk, stolen + 32, 32) != 0);
    CHECK(memcmp(r->parties[bob].v, stolen + 32, 32) != 0);   /* the relay re-bound bob */
    CHECK_ERR(room_inject(r, 0, copy, clen), FKEX_ERR_REPLAY);   /* the race is over */
    free(copy);
    for (int p = 0; p < 3; p += 2) {
        const fkex_ratchet *st = r->parties[p].st;
        /* A Remove of carol (or of alice) with the current membership key, old V. */
        thief_remove(&w, r, st, 1, p ? 0 : 2, stolen);
        CHECK_ERR(room_inject(r, p, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
        CHECK(st->nremovals == 0);
        fkex_writer_free(&w);
        /* A commit for epoch 3 with the old V: refused, nobody accused. */
        gke_junk_commit(&w, r->room_id, st->keys.epoch, 1, st->keys.membership_key, stolen,
                        &r->rng);
        CHECK_ERR(room_inject(r, p, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
        CHECK(!st->tentative.active && r->parties[p].accused == 0);
        fkex_writer_free(&w);
        /* Control: the same with bob's new key passes the signature (the
         * commit's random confirmation tag then makes it evidence). */
        gke_junk_commit(&w, r->room_id, st->keys.epoch, 1, st->keys.membership_key,
                        r->parties[bob].st->sig_sk, &r->rng);
        CHECK_OK(room_inject(r, p, w.buf, w.len));
        CHECK(r->parties[p].accused == 1);
        fkex_writer_free(&w);
    }
    (void)carol;
    room_free(r);
}

/* ---- forward secrecy ------------------------------------------------------------------- */

/* Everything on the wire is recorded; afterwards the adversary gets every
 * ABE key, and the master key (so any key it likes). It decapsulates every
 * ABE ciphertext of the transcript — the attack that breaks seed mode —
 * and tries every way PROTOCOL.md combines those keys into secrets. None
 * yields an epoch secret: checked against the public fingerprint of each
 * epoch, its epoch authenticator. The ephemeral secrets that would have
 * helped are gone from every party's state. */
typedef struct {
    uint64_t epoch;
    uint8_t transcript[32], roster_hash[32], tree_hash[32], auth[32];
} public_epoch;

static void observe(public_epoch *e, const fkex_ratchet *st)
{
    e->epoch = st->keys.epoch;
    memcpy(e->transcript, st->keys.transcript_hash, 32);
    memcpy(e->roster_hash, st->keys.roster_hash, 32);
    memcpy(e->tree_hash, st->keys.tree_hash, 32);
    memcpy(e->auth, st->keys.epoch_authenticator, 32);
}

/* Is secret the epoch secret of one of the epochs? Each epoch's context
 * (room id, epoch, transcript hash, roster hash, tree hash) is public. */
static void try_epoch_secret(const uint8_t secret[32], const uint8_t room_id[32],
                             const public_epoch *epochs, size_t n, int *hits)
{
    for (size_t i = 0; i < n; i++) {
        epoch_keys k;
        schedule_from_secret(&k, secret, room_id, epochs[i].epoch, epochs[i].transcript,
                             epochs[i].roster_hash, epochs[i].tree_hash);
        if (memcmp(k.epoch_authenticator, epochs[i].auth, 32) == 0)
            (*hits)++;
    }
}

static void test_forward_secrecy(void)
{
    room *r = room_new("forward secrecy");
    r->record = 1;
    public_epoch auths[8];
    size_t nauths = 0;
    observe(&auths[nauths++], r->parties[0].st);
    int bob = room_join(r, world.bob);
    observe(&auths[nauths++], r->parties[0].st);
    int carol = room_join(r, world.carol);
    observe(&auths[nauths++], r->parties[0].st);
    fkex_commit_options re = { .reattest = 1 };
    CHECK_OK(room_commit(r, bob, &re));
    room_run(r, 100);
    observe(&auths[nauths++], r->parties[0].st);
    CHECK_OK(room_leave(r, carol));
    observe(&auths[nauths++], r->parties[0].st);
    CHECK(r->epoch == 4 && room_agree(r));

    /* The adversary's keys: everyone's, plus one from the master key with
     * every attribute of the policy. */
    fkex_rng rng;
    test_rng(&rng, "adversary");
    fkex_key *all = test_keygen(world.msk, "ONE TWO THREE FOUR", &rng);
    const fkex_key *keys[] = { world.alice, world.bob, world.carol, world.eve, all };
    uint8_t ks[64][32];
    size_t nk = 0;
    for (size_t i = 0; i < r->ntranscript; i++) {
        const uint8_t *bytes = r->transcript[i].bytes;
        size_t len = r->transcript[i].len;
        const uint8_t *ct = NULL;
        size_t ctlen = 0;
        fkex_rmsg_join_request q;
        fkex_rmsg_challenge c;
        fkex_rmsg_commit m;
        if (fkex_rmsg_join_request_decode(&q, bytes, len) == FKEX_OK)
            ct = q.abe_ct, ctlen = q.abe_ctlen;
        else if (fkex_rmsg_challenge_decode(&c, bytes, len) == FKEX_OK)
            ct = c.abe_ct, ctlen = c.abe_ctlen;
        else if (fkex_rmsg_commit_decode(&m, bytes, len) == FKEX_OK && m.psk_ct)
            ct = m.psk_ct, ctlen = m.psk_ctlen;
        if (!ct)
            continue;
        fkex_abe_ct *abe;
        CHECK_OK(fkex_abe_ct_decode(&abe, ct, ctlen));
        for (size_t k = 0; k < FKEX_ARRAY_LEN(keys) && nk < 64; k++)
            if (fkex_abe_decap(ks[nk], keys[k], abe, FKEX_ABE_CCA) == FKEX_OK) {
                nk++;
                break;
            }
        fkex_abe_ct_free(abe);
    }
    CHECK(nk == 5);   /* 2 joins x (C_J, C_S) + 1 re-attestation: all of them opened */

    /* Every combination the protocol uses, short of the ephemeral DH and
     * the HPKE and init secrets: each k alone, each pair as K_w would be
     * built (dh unknown: zero), each as commit secret or psk over a zero
     * init secret, and seed mode's hash of them all. */
    int hits = 0;
    uint8_t cand[32], ikm[96] = { 0 }, zero[32] = { 0 };
    for (size_t i = 0; i < nk; i++) {
        try_epoch_secret(ks[i], r->room_id, auths, nauths, &hits);
        fkex_hkdf_extract(cand, zero, 32, ks[i], 32);
        try_epoch_secret(cand, r->room_id, auths, nauths, &hits);
        for (size_t j = 0; j < nk; j++) {
            memcpy(ikm, ks[i], 32);
            memcpy(ikm + 32, ks[j], 32);
            fkex_hkdf_extract(cand, NULL, 0, ikm, sizeof ikm);
            try_epoch_secret(cand, r->room_id, auths, nauths, &hits);
        }
    }
    crypto_hash_sha256(cand, ks[0], nk * 32);
    try_epoch_secret(cand, r->room_id, auths, nauths, &hits);
    CHECK(hits == 0);
    /* The check itself finds a secret when there is one: an epoch made up
     * with a known secret in a real epoch's context. */
    uint8_t known[32];
    epoch_keys k;
    public_epoch fake = auths[2];
    fkex_rng_fill(&rng, known, 32);
    schedule_from_secret(&k, known, r->room_id, fake.epoch, fake.transcript, fake.roster_hash,
                         fake.tree_hash);
    memcpy(fake.auth, k.epoch_authenticator, 32);
    try_epoch_secret(known, r->room_id, &fake, 1, &hits);
    CHECK(hits == 1);

    /* Ephemeral secrets are wiped: no party keeps a K_w, a k_J, a pending
     * admission or commit, and a departed member keeps no key at all. */
    for (int p = 0; p < r->nparties; p++) {
        const fkex_ratchet *st = r->parties[p].st;
        CHECK(sodium_is_zero(st->k_w, 32) && sodium_is_zero(st->k_j, 32));
        CHECK(st->njoins == 0 && !st->commit.active);
        CHECK(sodium_is_zero(st->commit.commit_secret, 32));
    }
    CHECK(sodium_is_zero(r->parties[carol].st->keys.init_secret, 32));
    CHECK(sodium_is_zero(r->parties[carol].st->hpke_sk, 32));
    CHECK(!r->parties[carol].st->current.valid && !r->parties[carol].st->previous.valid);
    fkex_key_free(all);
    room_free(r);
}

/* ---- application messages ---------------------------------------------------------------- */

/* Out of order is fine once; a generation already used is a replay; a
 * message from the previous epoch is still read, one from before that is
 * not; a sender too far ahead is refused. */
static void test_message_window(void)
{
    room *r = room_new("window");
    int bob = room_join(r, world.bob);
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    for (int i = 0; i < 3; i++)
        CHECK_OK(fkex_ratchet_send(r->parties[0].st, (const uint8_t *)"m", 1, &o));
    CHECK(o.nmsgs == 3);
    CHECK_OK(room_inject(r, bob, o.msgs[2].bytes, o.msgs[2].len));
    CHECK_OK(room_inject(r, bob, o.msgs[0].bytes, o.msgs[0].len));
    CHECK_OK(room_inject(r, bob, o.msgs[1].bytes, o.msgs[1].len));
    CHECK(r->parties[bob].messages == 3);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(room_inject(r, bob, o.msgs[i].bytes, o.msgs[i].len), FKEX_ERR_REPLAY);
    fkex_gke_out_clear(&o);

    /* Late by one epoch: still read. */
    CHECK_OK(fkex_ratchet_send(r->parties[0].st, (const uint8_t *)"late", 4, &o));
    int carol = room_join(r, world.carol);
    CHECK(r->parties[carol].joined);
    CHECK_OK(room_inject(r, bob, o.msgs[0].bytes, o.msgs[0].len));
    CHECK(r->parties[bob].messages == 4 && r->parties[bob].last_message_epoch == 1);
    uint8_t *again = malloc(o.msgs[0].len);
    size_t again_len = o.msgs[0].len;
    memcpy(again, o.msgs[0].bytes, again_len);
    CHECK_ERR(room_inject(r, carol, o.msgs[0].bytes, o.msgs[0].len), FKEX_ERR_WRONG_EPOCH);
    fkex_gke_out_clear(&o);
    /* Once the caller forgets the previous epoch, its messages are gone
     * (this one now fails as from an unknown epoch, not as a replay). */
    CHECK_ERR(room_inject(r, bob, again, again_len), FKEX_ERR_REPLAY);
    fkex_ratchet_forget_previous(r->parties[bob].st);
    CHECK_ERR(room_inject(r, bob, again, again_len), FKEX_ERR_WRONG_EPOCH);
    free(again);
    /* Late by two: its keys are gone. */
    CHECK_OK(fkex_ratchet_send(r->parties[0].st, (const uint8_t *)"later", 5, &o));
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, carol, &upd));
    room_run(r, 100);
    CHECK_OK(room_commit(r, carol, &upd));
    room_run(r, 100);
    CHECK(room_agree(r) && r->epoch == 4);
    CHECK_ERR(room_inject(r, bob, o.msgs[0].bytes, o.msgs[0].len), FKEX_ERR_WRONG_EPOCH);
    fkex_gke_out_clear(&o);

    /* Too far ahead: generation RATCHET_MAX_SKIP + 1 as the first seen. */
    for (int i = 0; i < RATCHET_MAX_SKIP + 2; i++)
        CHECK_OK(fkex_ratchet_send(r->parties[0].st, (const uint8_t *)"x", 1, &o));
    CHECK_ERR(room_inject(r, bob, o.msgs[RATCHET_MAX_SKIP + 1].bytes,
                          o.msgs[RATCHET_MAX_SKIP + 1].len), FKEX_ERR_UNEXPECTED);
    CHECK_OK(room_inject(r, bob, o.msgs[RATCHET_MAX_SKIP].bytes, o.msgs[RATCHET_MAX_SKIP].len));
    CHECK_OK(room_inject(r, bob, o.msgs[7].bytes, o.msgs[7].len));   /* a skipped key, kept */
    CHECK_ERR(room_inject(r, bob, o.msgs[7].bytes, o.msgs[7].len), FKEX_ERR_REPLAY);
    fkex_gke_out_clear(&o);
    room_free(r);
}

/* ---- churn ---------------------------------------------------------------------------- */

/* About 200 random joins, leaves, updates and messages among up to 20
 * members. After every step all members agree on the epoch and its
 * authenticator, and every message reaches every other member of its
 * epoch exactly once. */
static void test_churn(void)
{
    room *r = room_new("churn");
    fkex_rng rng;
    const fkex_key *keys[] = { world.alice, world.bob, world.carol };
    uint64_t expected[ROOM_MAX_PARTIES] = { 0 };
    int steps = 0, joins = 0, leaves = 0, sends = 0, updates = 0, ok = 1;
    test_rng(&rng, "churn");
    for (; steps < 200 && ok; steps++) {
        uint8_t b[2];
        fkex_rng_fill(&rng, b, sizeof b);
        int op = b[0] % 10, pick = r->roster[b[1] % r->nroster];
        if ((op < 3 && r->nroster < 20) || r->nroster < 3) {
            int p = room_join(r, keys[b[1] % 3]);
            CHECK(p >= 0 && r->parties[p].joined);
            joins++;
        } else if (op < 5) {
            CHECK_OK(room_leave(r, pick));
            CHECK(r->parties[pick].left);
            leaves++;
        } else if (op < 6) {
            fkex_commit_options upd = { .update = 1 };
            CHECK_OK(room_commit(r, pick, &upd));
            room_run(r, 100000);
            updates++;
        } else {
            char text[32];
            snprintf(text, sizeof text, "step %d", steps);
            CHECK_OK(room_send(r, pick, text));
            room_run(r, 100000);
            for (int i = 0; i < r->nroster; i++)
                if (r->roster[i] != pick)
                    expected[r->roster[i]]++;
            sends++;
        }
        ok = room_agree(r);
        CHECK(ok);
        /* The incremental roster hash equals the hash of the whole roster,
         * and the relay's roster order is the members' order. */
        const fkex_ratchet *st0 = r->parties[r->roster[0]].st;
        fkex_leaf *copy = malloc((size_t)st0->nleaves * sizeof *copy);
        roster whole;
        memcpy(copy, st0->leaves, (size_t)st0->nleaves * sizeof *copy);
        CHECK_OK(roster_whole(&whole, copy, st0->nleaves));
        CHECK(memcmp(whole.hash, st0->keys.roster_hash, 32) == 0);
        roster_free(&whole);
        for (int i = 0; i < r->nroster; i++)
            CHECK(memcmp(st0->leaves[i].sig_pk, r->parties[r->roster[i]].v, 32) == 0);
        for (int p = 0; p < r->nparties; p++)
            if (r->parties[p].messages != expected[p]) {
                CHECK(r->parties[p].messages == expected[p]);
                ok = 0;
            }
    }
    CHECK(steps == 200 && joins > 20 && leaves > 10 && sends > 50 && updates > 5);
    room_free(r);
}

/* Collects the slices of every commit view the relay delivers (each
 * member's view holds its own): what tree_churn's removed member tries. */
typedef struct {
    uint8_t (*slices)[FKEX_SLICE_BYTES];
    size_t n, cap;
} slice_bag;

static int collect_slices(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    slice_bag *b = ctx;
    fkex_rmsg_commit c;
    (void)r;
    (void)to;
    if (fkex_rmsg_commit_decode(&c, frame, len) != FKEX_OK)
        return 0;
    for (uint32_t i = 0; i < c.nslices; i++) {
        if (b->n == b->cap) {
            b->cap = b->cap ? 2 * b->cap : 64;
            if (!(b->slices = realloc(b->slices, b->cap * sizeof *b->slices)))
                abort();
        }
        memcpy(b->slices[b->n++], c.slices + (size_t)i * FKEX_SLICE_BYTES, FKEX_SLICE_BYTES);
    }
    return 0;
}

/* Through the ratchet itself (issue 12's property test): random joins
 * (in batches, as a sponsor admits them), leaves (some with a joiner in
 * the same commit) and Updates among up to 200 members. After every
 * step every member is at the same epoch with the same epoch
 * authenticator (so the same epoch secret, whose context holds the tree
 * hash); one member's cached tree hash equals the hash of its tree
 * rebuilt from a Welcome's bytes; every member holds the keys it needs;
 * and a removed member, with every tree key it held, opens none of the
 * slices of the commit that removed it. */
static void test_tree_churn(void)
{
    room *r = room_new("tree churn");
    fkex_rng rng;
    const fkex_key *keys[] = { world.alice, world.bob, world.carol };
    fkex_commit_options upd = { .update = 1 };
    int joins = 0, leaves = 0, with_join = 0, updates = 0, peak = 0, ok = 1;
    size_t tries = 0;
    test_rng(&rng, "tree churn");
    for (int step = 0; step < 160 && ok; step++) {
        uint8_t b[3];
        fkex_err err;
        fkex_rng_fill(&rng, b, sizeof b);
        int op = b[0] % 10;
        if ((op < 4 && r->nroster < 190) || r->nroster < 4) {
            int k = 1 + b[1] % (r->nroster < 100 ? 24 : 8), first = r->nparties;
            for (int i = 0; i < k; i++)
                CHECK(room_join_start(r, keys[(b[2] + i) % 3], &err) >= 0);
            room_run(r, 1000000);
            CHECK_OK(room_commit(r, r->roster[0], NULL));
            room_run(r, 1000000);
            for (int p = first; p < r->nparties; p++)
                CHECK(r->parties[p].joined);
            joins += k;
        } else if (op < 7) {
            int pick = r->roster[1 + b[1] % (r->nroster - 1)];   /* not the sponsor */
            slice_bag bag = { NULL, 0, 0 };
            tree_private stolen = r->parties[pick].st->tpriv;
            if (op == 6) {   /* a joiner, admitted first, added by the same commit */
                CHECK(room_join_start(r, keys[b[2] % 3], &err) >= 0);
                room_run(r, 1000000);
                with_join++;
            }
            r->tamper = collect_slices;
            r->tamper_ctx = &bag;
            CHECK_OK(room_leave(r, pick));
            r->tamper = NULL;
            /* every staying member but the committer (and the joiner) had a slice */
            CHECK(r->parties[pick].left && bag.n + 1 + (op == 6) >= (size_t)r->nroster);
            const fkex_ratchet *m = r->parties[r->roster[0]].st;   /* the committer, leaf 0 */
            uint8_t ctx[SCHEDULE_CONTEXT_BYTES], secret[32];
            schedule_context(ctx, r->room_id, m->keys.epoch, m->keys.transcript_hash,
                             m->keys.roster_hash, m->keys.tree_hash);
            for (size_t sl = 0; sl < bag.n; sl++)
                for (uint32_t k = 0; k < stolen.nkeys; k++) {
                    tree_private as = { .leaf = UINT32_MAX - 1, .nkeys = 1 };
                    as.keys[0].node = load32_be(bag.slices[sl]);
                    memcpy(as.keys[0].sk, stolen.keys[k].sk, 32);
                    CHECK(tree_path_open(&as, &m->tree, 0, bag.slices[sl], ctx, sizeof ctx,
                                         secret) == FKEX_ERR_AUTHENTICATION);
                    tree_private_wipe(&as);
                    tries++;
                }
            tree_private_wipe(&stolen);
            free(bag.slices);
            leaves++;
        } else {
            CHECK_OK(room_commit(r, r->roster[b[1] % r->nroster], &upd));
            room_run(r, 1000000);
            updates++;
        }
        ok = room_agree(r);
        CHECK(ok);
        const fkex_ratchet *st = r->parties[r->roster[b[2] % r->nroster]].st;
        fkex_writer w;
        ratchet_tree whole;
        uint8_t th[32];
        fkex_writer_init(&w);
        tree_encode_parents(&w, &st->tree);
        CHECK_OK(tree_decode(&whole, st->leaves, st->nleaves, w.buf, w.len));
        tree_hash(th, &whole);
        CHECK(memcmp(th, st->keys.tree_hash, 32) == 0);
        tree_free(&whole);
        fkex_writer_free(&w);
        for (int i = 0; i < r->nroster; i++)
            ok &= tree_private_complete(&r->parties[r->roster[i]].st->tpriv,
                                        &r->parties[r->roster[i]].st->tree);
        CHECK(ok);
        peak = r->nroster > peak ? r->nroster : peak;
    }
    CHECK(joins > 150 && leaves > 30 && with_join > 5 && updates > 20 && peak >= 150);
    CHECK(tries > 1000);   /* the removed members' keys met real slices */
    room_free(r);
}

/* A commit can overtake a JoinAck in flight: the ack still counts. */
static int hold_acks(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    fkex_rmsg_type ty;
    uint8_t id[32];
    if (fkex_rmsg_peek(&ty, id, frame, len) != FKEX_OK || ty != FKEX_RMSG_JOIN_ACK || to != 0)
        return 0;
    (void)tap_frames(r, to, frame, len, ctx);   /* kept for later... */
    return 1;                                   /* ...and not delivered now */
}

static void test_late_join_ack(void)
{
    room *r = room_new("late ack");
    tap t = { 0, { { 0 } }, { 0 }, 0 };
    r->tamper = hold_acks;
    r->tamper_ctx = &t;
    int bob = room_join(r, world.bob);
    r->tamper = NULL;
    CHECK(t.n == 1 && !fkex_ratchet_acked(r->parties[0].st, bob));
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, 0, &upd));
    room_run(r, 100);
    CHECK(r->epoch == 2 && room_agree(r));
    CHECK_OK(room_inject(r, 0, t.frames[0].bytes, t.frames[0].len));
    CHECK(fkex_ratchet_acked(r->parties[0].st, bob));
    tap_free(&t);
    room_free(r);
}

/* JoinRequests cost nothing to make (the policy is public): a flood of
 * them fills at most RATCHET_MAX_PENDING slots, the oldest unproved ones
 * give way, and a real joiner still gets in. */
static void test_join_flood(void)
{
    room *r = room_new("flood");
    int bob = room_join(r, world.bob);
    fkex_ratchet_config cfg = { .key = world.carol, .descriptor = r->descriptor,
                                .descriptor_len = r->descriptor_len };
    memcpy(cfg.room_id, r->room_id, 32);
    for (int i = 0; i < RATCHET_MAX_PENDING + 6; i++) {
        fkex_ratchet *x;
        fkex_gke_out o;
        fkex_gke_out_init(&o);
        CHECK_OK(fkex_ratchet_join(&x, &cfg, &r->rng, &o));
        fkex_gke_out sink;
        fkex_gke_out_init(&sink);
        CHECK_OK(fkex_ratchet_receive(r->parties[0].st, o.msgs[0].bytes, o.msgs[0].len,
                                      &r->rng, &sink));
        fkex_gke_out_clear(&sink);
        fkex_gke_out_clear(&o);
        fkex_ratchet_free(x);
    }
    CHECK(r->parties[0].st->njoins == RATCHET_MAX_PENDING);
    int carol = room_join(r, world.carol);
    CHECK(r->parties[carol].joined && room_agree(r) && r->nroster == 3);
    (void)bob;
    room_free(r);
}

/* The secret tree's frontier starts with room for FRONTIER_FIRST (32)
 * nodes and grows as senders are heard: in a room of 70 the members at
 * even places send first, which leaves the 35 odd leaves as nodes apart,
 * so every frontier grows; then the odd ones. Every member reads every
 * message; the frontier covers disjoint ranges, never more than the
 * roster. */
static void test_frontier_grows(void)
{
    room *r = room_new("frontier");
    const fkex_key *keys[] = { world.alice, world.bob, world.carol };
    while (r->nroster < 70) {
        int p = room_join(r, keys[r->nparties % 3]);
        if (p < 0 || !r->parties[p].joined) {
            CHECK(0);
            room_free(r);
            return;
        }
    }
    for (int k = 0; k < r->nroster; k++) {   /* even places first: 35 odd leaves stay apart */
        int i = k < 35 ? 2 * k : 2 * (k - 35) + 1;
        char text[32];
        snprintf(text, sizeof text, "from %d", i);
        CHECK_OK(room_send(r, r->roster[i], text));
        room_run(r, 100000);
    }
    for (int i = 0; i < r->nroster; i++) {
        const reading_epoch *cur = &r->parties[r->roster[i]].st->current;
        CHECK(r->parties[r->roster[i]].messages == 69);
        CHECK(cur->frontier_cap > 32 && cur->frontier_cap <= 70 && cur->nfrontier <= cur->frontier_cap);
        for (size_t a = 0; a < cur->nfrontier; a++)
            for (size_t b = a + 1; b < cur->nfrontier; b++)
                CHECK(cur->frontier[a].hi <= cur->frontier[b].lo ||
                      cur->frontier[b].hi <= cur->frontier[a].lo);
    }
    CHECK(room_agree(r));
    room_free(r);
}

/* Forward secrecy inside an epoch: once bob has read alice's message, his
 * whole state (taken right then) no longer opens it. encryption_secret is
 * gone, alice's leaf has left the secret tree, and her chain has moved on. */
static void test_state_compromise_in_epoch(void)
{
    room *r = room_new("in epoch");
    int bob = room_join(r, world.bob);
    (void)room_join(r, world.carol);
    tap t = { bob, { { 0 } }, { 0 }, 0 };
    r->tamper = tap_frames;
    r->tamper_ctx = &t;
    CHECK_OK(room_send(r, 0, "before the break-in"));
    room_run(r, 100);
    r->tamper = NULL;
    const fkex_ratchet *st = r->parties[bob].st;
    CHECK(sodium_is_zero(st->keys.encryption_secret, 32));
    for (size_t i = 0; i < st->current.nfrontier; i++)
        CHECK(!(st->current.frontier[i].lo <= 0 && 0 < st->current.frontier[i].hi));
    CHECK(st->current.chains[0] && st->current.chains[0]->next == 1 &&
          st->current.chains[0]->nskipped == 0);
    const room_frame *m = tapped(&t, FKEX_RMSG_APPLICATION, bob);
    CHECK(m != NULL);
    if (m)
        CHECK_ERR(room_inject(r, bob, m->bytes, m->len), FKEX_ERR_REPLAY);
    /* The tree still serves the senders bob has not heard from. */
    CHECK_OK(room_send(r, 2, "carol speaks later"));
    room_run(r, 100);
    CHECK(r->parties[bob].messages == 2);
    tap_free(&t);
    room_free(r);
}

void suite_ratchet(void)
{
    gke_world_open(&world, "ratchet world", "waters11");
    RUN(test_join_and_talk);
    RUN(test_unsatisfied_joiner_never_added);
    RUN(test_lying_joiner_refused);
    RUN(test_relay_cannot_play_the_group);
    RUN(test_other_authority_refused);
    RUN(test_batched_join);
    RUN(test_next_sponsor_when_first_offline);
    RUN(test_update);
    RUN(test_post_compromise);
    RUN(test_removed_member_locked_out);
    RUN(test_policy_change_reattests);
    RUN(test_require_period);
    RUN(test_tampered_frames_refused);
    RUN(test_replays_refused);
    RUN(test_injected_commit_refused);
    RUN(test_fork_detected);
    RUN(test_forward_secrecy);
    RUN(test_message_window);
    RUN(test_churn);
    RUN(test_tree_churn);
    RUN(test_frontier_grows);
    RUN(test_late_join_ack);
    RUN(test_join_flood);
    RUN(test_state_compromise_in_epoch);
    RUN(test_junk_commit_does_not_freeze);
    RUN(test_garbage_slice_lost);
    RUN(test_lost_race_commits_again);
    RUN(test_thief_after_update);
    gke_world_close(&world);
}
