/*
 * The relay's seed-mode rooms (relay/seed_room.h) over a real SQLite store
 * and real seed members (gke/seed.h): joins and KeySets, what it refuses
 * (and that a refusal changes nothing), member-requested Leaves and the
 * re-key after them, members offline past the grace, a restart that
 * resumes the room from the store, and the restart's own grace.
 */
#include <stdlib.h>
#include "test.h"
#include "relay/room.h"
#include "relay/seed_room.h"
#include "wire/relay_msg.h"

#define POLICY "(ONE or THREE) and (TWO or FOUR)"
#define N 4

typedef struct {
    fkex_rng rng;
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_policy *policy;
    relay_store *s;
    relay_room *r;
    uint8_t room_id[32], admin_sk[64];
    fkex_key *key[N];
    fkex_seed *m[N];
    uint8_t v[N][32];
    char path[600];
} sroom;

static void open_room(sroom *t, const char *label)
{
    uint8_t pk[32], sig[64], *desc;
    size_t desclen;
    char err[256];
    static const char *const attrs[N] = { "ONE TWO", "THREE FOUR", "ONE FOUR", "THREE TWO" };
    memset(t, 0, sizeof *t);
    test_rng(&t->rng, label);
    CHECK_OK(fkex_abe_setup(&t->mpk, &t->msk, "waters11", &t->rng));
    CHECK_OK(fkex_policy_parse(&t->policy, POLICY, strlen(POLICY), NULL));
    for (int i = 0; i < N; i++) {
        t->key[i] = test_keygen(t->msk, attrs[i], &t->rng);
        fkex_rng_fill(&t->rng, t->v[i], 32);
    }
    snprintf(t->path, sizeof t->path, "%s/relay-seed-%s.db", test_tmpdir(), label);
    CHECK_OK(relay_store_open(&t->s, t->path, err, sizeof err));
    fkex_sign_keypair(pk, t->admin_sk, &t->rng);
    CHECK_OK(fkex_room_descriptor_create(&desc, &desclen, "seed", POLICY, 1, FKEX_ROOM_SEED_MODE,
                                         t->admin_sk));
    CHECK(relay_seed_descriptor(desc, desclen) == 1);
    fkex_room_id(t->room_id, pk, (const uint8_t *)"seed", 4);
    CHECK_OK(fkex_relay_create_sign(sig, t->admin_sk, t->room_id, t->v[0]));
    CHECK_OK(relay_room_create(&t->r, t->s, desc, desclen, t->v[0], sig));
    free(desc);
    if (!t->r)
        abort();
}

static void close_room(sroom *t)
{
    for (int i = 0; i < N; i++) {
        fkex_seed_free(t->m[i]);
        fkex_key_free(t->key[i]);
    }
    relay_room_free(t->r);
    relay_store_close(t->s);
    fkex_policy_free(t->policy);
    fkex_mpk_free(t->mpk);
    fkex_msk_free(t->msk);
}

/* Delivers out to the member states it names; what they send back (a
 * rekey) is submitted in turn. */
static void deliver(sroom *t, relay_out *out)
{
    for (size_t d = 0; d < out->n; d++)
        for (int i = 0; i < N; i++) {
            fkex_gke_out back;
            fkex_gke_out_init(&back);
            if (t->m[i] && memcmp(out->d[d].to, t->v[i], 32) == 0 &&
                fkex_seed_receive(t->m[i], out->d[d].bytes, out->d[d].len, &t->rng, &back) ==
                    FKEX_OK)
                for (size_t k = 0; k < back.nmsgs; k++) {
                    relay_out again;
                    relay_out_init(&again);
                    CHECK(relay_room_submit(t->r, t->v[i], NULL, back.msgs[k].bytes, back.msgs[k].len,
                                            0, &again) == 0);
                    deliver(t, &again);
                    relay_out_clear(&again);
                }
            fkex_gke_out_clear(&back);
        }
}

static int submit(sroom *t, int from, const uint8_t *msg, size_t len)
{
    relay_out out;
    relay_out_init(&out);
    int code = relay_room_submit(t->r, t->v[from], NULL, msg, len, 0, &out);
    if (code == 0)
        deliver(t, &out);
    relay_out_clear(&out);
    return code;
}

static int join(sroom *t, int i)
{
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK_OK(fkex_seed_join(&t->m[i], t->room_id, t->policy, t->key[i], &t->rng, &o));
    int code = submit(t, i, o.msgs[0].bytes, o.msgs[0].len);
    fkex_gke_out_clear(&o);
    return code;
}

/* Every live member holds the same key for the relay's epoch. */
static int agree(const sroom *t)
{
    uint8_t k0[32], k[32];
    int first = 1;
    for (int i = 0; i < N; i++) {
        if (!t->m[i] || fkex_seed_key(k, t->m[i]) != 0)
            continue;
        if (fkex_seed_epoch(t->m[i]) != t->r->epoch)
            return 0;
        if (first)
            memcpy(k0, k, 32);
        else if (memcmp(k0, k, 32) != 0)
            return 0;
        first = 0;
    }
    return !first;
}

static void test_join_and_talk(void)
{
    sroom t;
    uint8_t k[32], *msg;
    size_t len;
    open_room(&t, "join");
    CHECK(t.r->seed != NULL && t.r->nmembers == 0);   /* the founder joins like anyone */
    CHECK(join(&t, 0) == 0 && t.r->epoch == 1 && t.r->nmembers == 1);
    CHECK(join(&t, 1) == 0 && join(&t, 2) == 0);
    CHECK(t.r->epoch == 3 && t.r->nmembers == 3 && agree(&t));
    CHECK(fkex_seed_index(t.m[2]) == 2);
    /* an Application in its sender's name goes to every member */
    CHECK(fkex_seed_key(k, t.m[1]) == 0);
    CHECK_OK(fkex_seed_app_seal(&msg, &len, k, t.room_id, 3, 1, (const uint8_t *)"hi", 2, &t.rng));
    relay_out out;
    relay_out_init(&out);
    CHECK(relay_room_submit(t.r, t.v[1], NULL, msg, len, 0, &out) == 0);
    CHECK(out.n == 3 && out.seq == 4);
    relay_out_clear(&out);
    free(msg);
    close_room(&t);
}

static void test_refusals(void)
{
    sroom t;
    uint8_t k[32], *msg;
    size_t len;
    fkex_gke_out o;
    fkex_seed_relay *other;
    fkex_policy *p;
    fkex_abe_ct *ct;
    open_room(&t, "refusals");
    CHECK(join(&t, 0) == 0 && join(&t, 1) == 0);
    uint64_t epoch = t.r->epoch, seq = t.r->next_seq;
    /* the same session key joins once */
    fkex_gke_out_init(&o);
    fkex_seed *again;
    CHECK_OK(fkex_seed_join(&again, t.room_id, t.policy, t.key[1], &t.rng, &o));
    CHECK(submit(&t, 1, o.msgs[0].bytes, o.msgs[0].len) == FKEX_RELAY_E_NOT_ROUTABLE);
    fkex_seed_free(again);
    fkex_gke_out_clear(&o);
    /* a rekey in another member's name */
    CHECK_OK(fkex_abe_encap(k, &ct, t.mpk, t.policy, FKEX_ABE_CCA, &t.rng));
    CHECK_OK(fkex_seed_encap_encode(&msg, &len, t.room_id, epoch + 1, 0, ct));
    CHECK(submit(&t, 1, msg, len) == FKEX_RELAY_E_NOT_ROUTABLE);
    free(msg);
    /* a rekey for an epoch that is not the next */
    CHECK_OK(fkex_seed_encap_encode(&msg, &len, t.room_id, epoch, 1, ct));
    CHECK(submit(&t, 1, msg, len) == FKEX_RELAY_E_STALE);
    free(msg);
    fkex_abe_ct_free(ct);
    /* an encapsulation under another policy: nobody could open the KeySet */
    CHECK_OK(fkex_policy_parse(&p, "ONE", 3, NULL));
    CHECK_OK(fkex_abe_encap(k, &ct, t.mpk, p, FKEX_ABE_CCA, &t.rng));
    CHECK_OK(fkex_seed_encap_encode(&msg, &len, t.room_id, 0, FKEX_SEED_NEW, ct));
    CHECK(submit(&t, 2, msg, len) == FKEX_RELAY_E_BAD_FRAME);
    free(msg);
    fkex_abe_ct_free(ct);
    fkex_policy_free(p);
    /* a KeySet from a client: the relay writes those */
    CHECK_OK(fkex_seed_relay_new(&other, t.room_id));
    fkex_gke_out_init(&o);
    CHECK_OK(fkex_seed_join(&again, t.room_id, t.policy, t.key[2], &t.rng, &o));
    fkex_gke_out relay_o;
    fkex_gke_out_init(&relay_o);
    CHECK_OK(fkex_seed_relay_receive(other, o.msgs[0].bytes, o.msgs[0].len, &relay_o));
    CHECK(submit(&t, 2, relay_o.msgs[0].bytes, relay_o.msgs[0].len) == FKEX_RELAY_E_NOT_ROUTABLE);
    fkex_gke_out_clear(&relay_o);
    fkex_gke_out_clear(&o);
    fkex_seed_free(again);
    fkex_seed_relay_free(other);
    /* Applications: from a non-member, or in another member's name */
    CHECK(fkex_seed_key(k, t.m[0]) == 0);
    CHECK_OK(fkex_seed_app_seal(&msg, &len, k, t.room_id, epoch, 0, (const uint8_t *)"x", 1, &t.rng));
    CHECK(submit(&t, 1, msg, len) == FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(submit(&t, 3, msg, len) == FKEX_RELAY_E_NOT_ROUTABLE);
    free(msg);
    /* a Leave for another member */
    CHECK_OK(fkex_seed_leave_encode(&msg, &len, t.room_id, epoch, 0));
    CHECK(submit(&t, 1, msg, len) == FKEX_RELAY_E_NOT_ROUTABLE);
    free(msg);
    /* nothing changed, in memory or on disk */
    CHECK(t.r->epoch == epoch && t.r->next_seq == seq && t.r->nmembers == 2);
    relay_room_free(t.r);
    CHECK_OK(relay_room_load(&t.r, t.s, t.room_id));
    CHECK(t.r->epoch == epoch && t.r->next_seq == seq && t.r->nmembers == 2 && agree(&t));
    close_room(&t);
}

/* A member asks to leave: the relay's Leave goes to all (the leaver too),
 * the lowest remaining index rekeys, and the others follow. */
static void test_leave_rekeys(void)
{
    sroom t;
    uint8_t *msg;
    size_t len;
    open_room(&t, "leave");
    CHECK(join(&t, 0) == 0 && join(&t, 1) == 0 && join(&t, 2) == 0);
    CHECK_OK(fkex_seed_leave_encode(&msg, &len, t.room_id, 3, 0));
    CHECK(submit(&t, 0, msg, len) == 0);
    free(msg);
    CHECK(fkex_seed_index(t.m[0]) == FKEX_SEED_NEW);   /* member 0 saw its own Leave */
    fkex_seed_free(t.m[0]);
    t.m[0] = NULL;
    CHECK(t.r->epoch == 4 && t.r->nmembers == 2 && agree(&t));   /* member 1 rekeyed */
    close_room(&t);
}

/* Offline past the grace (the daemon says so), or not back within the
 * grace after a restart: removed at the next tick; the store resumes. */
static void test_offline_and_restart(void)
{
    sroom t;
    relay_out out;
    open_room(&t, "offline");
    CHECK(join(&t, 0) == 0 && join(&t, 1) == 0 && join(&t, 2) == 0);
    for (int i = 0; i < 3; i++)
        relay_room_set_online(t.r, t.v[i], 1);
    relay_out_init(&out);
    relay_room_set_online(t.r, t.v[2], 0);
    CHECK(relay_room_tick(t.r, 1000, &out) == 0);
    CHECK(out.n == 3);   /* the Leave, to all three */
    deliver(&t, &out);
    relay_out_clear(&out);
    fkex_seed_free(t.m[2]);
    t.m[2] = NULL;
    CHECK(t.r->nmembers == 2 && t.r->epoch == 4 && agree(&t));
    /* its replay holds its Leave, addressed to it */
    CHECK(relay_room_replay(t.r, t.v[2], 3, 0, &out) == 0);
    CHECK(out.n >= 1 && out.d[out.n - 1].bytes[0] == FKEX_SEED_MSG_LEAVE);
    relay_out_clear(&out);

    /* a restart: the room as it was; a joiner gets the next index */
    relay_room_free(t.r);
    CHECK_OK(relay_room_load(&t.r, t.s, t.room_id));
    CHECK(t.r->seed && t.r->epoch == 4 && t.r->nmembers == 2 && agree(&t));
    CHECK(join(&t, 3) == 0);
    CHECK(fkex_seed_index(t.m[3]) == 3 && t.r->epoch == 5 && agree(&t));

    /* and after one more restart nobody comes back: gone after the grace */
    relay_room_free(t.r);
    CHECK_OK(relay_room_load(&t.r, t.s, t.room_id));
    t.r->grace_ms = 5000;
    relay_room_set_online(t.r, t.v[1], 1);   /* member 1 came back */
    CHECK(relay_room_tick(t.r, 10000, &out) == 0 && out.n == 0);
    relay_out_clear(&out);
    CHECK(relay_room_tick(t.r, 14999, &out) == 0 && out.n == 0);
    relay_out_clear(&out);
    CHECK(relay_room_tick(t.r, 15000, &out) == 0);
    deliver(&t, &out);
    relay_out_clear(&out);
    CHECK(t.r->nmembers == 1 && relay_room_member(t.r, t.v[1]) == 0);
    close_room(&t);
}

static void test_mode_is_fixed(void)
{
    sroom t;
    uint8_t *desc;
    size_t len;
    relay_out out;
    open_room(&t, "mode");
    relay_out_init(&out);
    CHECK_OK(fkex_room_descriptor_create(&desc, &len, "seed", "ONE", 2, FKEX_ROOM_SEED_MODE,
                                         t.admin_sk));
    CHECK(relay_room_set_descriptor(t.r, desc, len, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    free(desc);
    /* a descriptor cannot be both, and a ratchet member refuses a seed room */
    CHECK_ERR(fkex_room_descriptor_create(&desc, &len, "seed", "ONE", 1,
                                          FKEX_ROOM_SEED_MODE | FKEX_ROOM_REQUIRE_PERIOD,
                                          t.admin_sk), FKEX_ERR_ARGUMENT);
    CHECK_OK(fkex_room_descriptor_create(&desc, &len, "seed", POLICY, 1, FKEX_ROOM_SEED_MODE,
                                         t.admin_sk));
    fkex_ratchet *st = NULL;
    fkex_ratchet_config cfg = { .key = t.key[0], .descriptor = desc, .descriptor_len = len };
    memcpy(cfg.room_id, t.room_id, 32);
    CHECK_ERR(fkex_ratchet_create(&st, &cfg, &t.rng), FKEX_ERR_UNSUPPORTED);
    free(desc);
    relay_out_clear(&out);
    close_room(&t);
}

void suite_relay_seed(void)
{
    RUN(test_join_and_talk);
    RUN(test_refusals);
    RUN(test_leave_rekeys);
    RUN(test_offline_and_restart);
    RUN(test_mode_is_fixed);
}
