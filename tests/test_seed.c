/*
 * Seed mode (the 2014 prototype's protocol, gke/seed.h): a simulated room
 * of members and a relay. Agreement across joins and leaves, the O(n)
 * decapsulation count, refusals that leave state and output unchanged, the
 * wire format, and seed's documented weaknesses, which the tests assert
 * SUCCEED: an outsider with any satisfying key recovers recorded epoch
 * keys, a departed member follows the room, a ghost entry is accepted.
 */
#include <stdlib.h>
#include "test.h"

#define POLICY "(ONE or THREE) and (TWO or FOUR)"
#define MAXM 8

static fkex_mpk *mpk;
static fkex_msk *msk;
static fkex_policy *policy;

/* Satisfying attribute sets, used in turn. */
static const char *const good[] = { "ONE TWO", "THREE FOUR", "ONE FOUR", "THREE TWO" };

/* ---- the simulated room ------------------------------------------------------
 * The relay's messages go to every active member in order; what members
 * send goes to the relay at once, and what the relay answers is queued
 * behind the message being delivered. */
typedef struct {
    fkex_rng rng;
    uint8_t room[32];
    fkex_seed_relay *relay;
    fkex_gke_out relay_out;
    fkex_seed *m[MAXM];
    fkex_key *key[MAXM];
    int active[MAXM];
    uint8_t *keyset;          /* the last KeySet the relay sent */
    size_t keyset_len;
    int left[MAXM];           /* saw FKEX_GKE_EV_LEFT */
    int joined[MAXM];         /* saw FKEX_GKE_EV_JOINED */
} sim;

static void sim_init(sim *s, const char *label)
{
    memset(s, 0, sizeof *s);
    test_rng(&s->rng, label);
    fkex_rng_fill(&s->rng, s->room, 32);
    CHECK_OK(fkex_seed_relay_new(&s->relay, s->room));
    fkex_gke_out_init(&s->relay_out);
}

static void sim_free(sim *s)
{
    for (int i = 0; i < MAXM; i++) {
        fkex_seed_free(s->m[i]);
        fkex_key_free(s->key[i]);
    }
    fkex_seed_relay_free(s->relay);
    fkex_gke_out_clear(&s->relay_out);
    free(s->keyset);
}

static void to_relay(sim *s, fkex_gke_out *o)
{
    for (size_t j = 0; j < o->nmsgs; j++) {
        CHECK(o->msgs[j].to == FKEX_GKE_TO_ROOM);
        CHECK_OK(fkex_seed_relay_receive(s->relay, o->msgs[j].bytes, o->msgs[j].len,
                                         &s->relay_out));
    }
}

static void pump(sim *s)
{
    while (s->relay_out.nmsgs) {
        fkex_gke_out batch = s->relay_out;
        fkex_gke_out_init(&s->relay_out);
        for (size_t k = 0; k < batch.nmsgs; k++) {
            const fkex_gke_msg *msg = &batch.msgs[k];
            CHECK(msg->to == FKEX_GKE_TO_ROOM);
            if (msg->bytes[0] == FKEX_SEED_MSG_KEYSET) {
                free(s->keyset);
                s->keyset = malloc(msg->len);
                memcpy(s->keyset, msg->bytes, msg->len);
                s->keyset_len = msg->len;
            }
            for (int i = 0; i < MAXM; i++) {
                if (!s->active[i])
                    continue;
                fkex_gke_out o;
                fkex_gke_out_init(&o);
                CHECK_OK(fkex_seed_receive(s->m[i], msg->bytes, msg->len, &s->rng, &o));
                for (size_t e = 0; e < o.nevents; e++) {
                    s->left[i] |= o.events[e].kind == FKEX_GKE_EV_LEFT;
                    s->joined[i] |= o.events[e].kind == FKEX_GKE_EV_JOINED;
                }
                to_relay(s, &o);
                fkex_gke_out_clear(&o);
            }
            for (int i = 0; i < MAXM; i++)
                if (s->left[i])
                    s->active[i] = 0;
        }
        fkex_gke_out_clear(&batch);
    }
}

static void sim_join(sim *s, int i, const char *attrs)
{
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    s->key[i] = test_keygen(msk, attrs, &s->rng);
    CHECK(s->key[i] != NULL);
    CHECK_OK(fkex_seed_join(&s->m[i], s->room, policy, s->key[i], &s->rng, &o));
    CHECK(o.nmsgs == 1 && o.nevents == 0);
    s->active[i] = 1;
    to_relay(s, &o);
    fkex_gke_out_clear(&o);
    pump(s);
    CHECK(s->joined[i]);
}

static void sim_leave(sim *s, int i)
{
    CHECK_OK(fkex_seed_relay_remove(s->relay, fkex_seed_index(s->m[i]), &s->relay_out));
    pump(s);
    CHECK(s->left[i] && !s->active[i]);
}

/* Every active member holds the same key for the relay's epoch. */
static int agree(const sim *s, uint8_t key[32])
{
    int first = 1, ok = 1;
    for (int i = 0; i < MAXM; i++) {
        uint8_t k[32];
        if (!s->active[i])
            continue;
        if (fkex_seed_key(k, s->m[i]) != 0 || fkex_seed_epoch(s->m[i]) != fkex_seed_relay_epoch(s->relay))
            ok = 0;
        else if (first)
            memcpy(key, k, 32);
        else if (memcmp(key, k, 32) != 0)
            ok = 0;
        first = 0;
    }
    return ok && !first;
}

static size_t nactive(const sim *s)
{
    size_t n = 0;
    for (int i = 0; i < MAXM; i++)
        n += (size_t)s->active[i];
    return n;
}

/* Runs one step and checks: everyone agrees on a new key for the next
 * epoch, and every remaining member did exactly n decapsulations. */
static void checked(sim *s, int join, int who, uint8_t prev[32])
{
    uint64_t before[MAXM], epoch = fkex_seed_relay_epoch(s->relay);
    uint8_t k[32];
    for (int i = 0; i < MAXM; i++)
        before[i] = s->m[i] ? fkex_seed_decaps(s->m[i]) : 0;
    if (join)
        sim_join(s, who, good[who % 4]);
    else
        sim_leave(s, who);
    CHECK(fkex_seed_relay_epoch(s->relay) == epoch + 1);
    CHECK(fkex_seed_relay_members(s->relay) == nactive(s));
    CHECK(agree(s, k));
    CHECK(memcmp(k, prev, 32) != 0);
    for (int i = 0; i < MAXM; i++)
        if (s->active[i])
            CHECK(fkex_seed_decaps(s->m[i]) - before[i] == nactive(s));
    memcpy(prev, k, 32);
}

/* ---- agreement ------------------------------------------------------------------ */

static void agreement(int n, const char *label)
{
    sim s;
    uint8_t k[32] = { 0 };
    sim_init(&s, label);
    for (int i = 0; i < n; i++)
        checked(&s, 1, i, k);
    /* Leaves: the lowest index (someone else rekeys), then the highest,
     * then a middle one, while at least one member is left. */
    int order[3] = { 0, n - 1, n / 2 };
    for (int j = 0; j < 3 && nactive(&s) > 1; j++)
        if (s.active[order[j]])
            checked(&s, 0, order[j], k);
    /* And a join after the leaves. */
    checked(&s, 1, 7, k);
    sim_free(&s);
}

static void test_agreement(void)
{
    agreement(2, "seed agreement 2");
    agreement(3, "seed agreement 3");
    agreement(6, "seed agreement 6");
}

/* Member j (joined j-th, 0-based) of n, after n sequential joins, has
 * decapsulated j+1 + j+2 + ... + n times: all n entries, every epoch. */
static void test_decap_counts(void)
{
    sim s;
    const int n = 5;
    sim_init(&s, "seed counts");
    for (int i = 0; i < n; i++)
        sim_join(&s, i, good[i % 4]);
    for (int j = 0; j < n; j++) {
        uint64_t want = 0;
        for (int t = j + 1; t <= n; t++)
            want += (uint64_t)t;
        CHECK(fkex_seed_decaps(s.m[j]) == want);
        CHECK(fkex_seed_index(s.m[j]) == (uint32_t)j);
    }
    /* A leave costs each of the n-1 remaining members n-1 more. */
    sim_leave(&s, 2);
    for (int j = 0; j < n; j++)
        if (j != 2)
            CHECK(fkex_seed_decaps(s.m[j]) == (uint64_t)(n - j) * (n + j + 1) / 2 + (n - 1));
    sim_free(&s);
}

/* ---- refusals -------------------------------------------------------------------
 * A refused step changes nothing: the key, the epoch, the index, the
 * decapsulation count, and what was already in out. */
typedef struct {
    int have;
    uint8_t key[32];
    uint64_t epoch, decaps;
    uint32_t index;
} snap;

static snap take(const fkex_seed *st)
{
    snap x;
    memset(&x, 0, sizeof x);
    x.have = fkex_seed_key(x.key, st) == 0;
    x.epoch = fkex_seed_epoch(st);
    x.decaps = fkex_seed_decaps(st);
    x.index = fkex_seed_index(st);
    return x;
}

static int same(const snap *a, const snap *b)
{
    return a->have == b->have && memcmp(a->key, b->key, 32) == 0 && a->epoch == b->epoch &&
           a->decaps == b->decaps && a->index == b->index;
}

/* Delivers msg to st with an out that already holds a message and an
 * event; on refusal checks that nothing changed. Returns the error. */
static fkex_err deliver(fkex_seed *st, const uint8_t *msg, size_t len, fkex_rng *rng)
{
    fkex_gke_out o;
    snap before = take(st);
    uint8_t *dummy = malloc(3);
    fkex_gke_out_init(&o);
    memcpy(dummy, "abc", 3);
    CHECK_OK(fkex_gke_out_msg(&o, 7, dummy, 3));
    CHECK_OK(fkex_gke_out_event(&o, FKEX_GKE_EV_MESSAGE, FKEX_OK, 1, 2, 3, (const uint8_t *)"x", 1));
    fkex_err err = fkex_seed_receive(st, msg, len, rng, &o);
    if (err != FKEX_OK) {
        snap after = take(st);
        CHECK(same(&before, &after));
        CHECK(o.nmsgs == 1 && o.nevents == 1 && o.msgs[0].len == 3 && o.events[0].len == 1);
    }
    fkex_gke_out_clear(&o);
    return err;
}

/* The KeySet the relay makes when a joiner with these attributes joins;
 * the joiner's state is returned, nothing is delivered. */
static void pending_join(sim *s, int i, const char *attrs, uint8_t **ks, size_t *len)
{
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    s->key[i] = test_keygen(msk, attrs, &s->rng);
    CHECK(s->key[i] != NULL);
    CHECK_OK(fkex_seed_join(&s->m[i], s->room, policy, s->key[i], &s->rng, &o));
    to_relay(s, &o);
    fkex_gke_out_clear(&o);
    CHECK(s->relay_out.nmsgs == 1);
    *len = s->relay_out.msgs[0].len;
    *ks = malloc(*len);
    memcpy(*ks, s->relay_out.msgs[0].bytes, *len);
    fkex_gke_out_clear(&s->relay_out);
}

static void test_unsatisfying_joiner(void)
{
    sim s;
    uint8_t k[32], k2[32], got[32], *ks;
    size_t len;
    sim_init(&s, "seed unsatisfying");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);

    /* ONE THREE satisfies (ONE or THREE) but not (TWO or FOUR). */
    pending_join(&s, 2, "ONE THREE", &ks, &len);
    CHECK_ERR(deliver(s.m[2], ks, len, &s.rng), FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(fkex_seed_key(got, s.m[2]) == -1);
    CHECK(fkex_seed_decaps(s.m[2]) == 0);
    CHECK(fkex_seed_index(s.m[2]) == FKEX_SEED_NEW);
    CHECK_ERR(fkex_seed_recover(got, s.key[2], ks, len), FKEX_ERR_POLICY_UNSATISFIED);

    /* The members, who satisfy P, decapsulate its entry like any other:
     * the prototype let the relay add it, and nothing stops that. */
    CHECK_OK(deliver(s.m[0], ks, len, &s.rng));
    CHECK_OK(deliver(s.m[1], ks, len, &s.rng));
    CHECK(fkex_seed_key(k, s.m[0]) == 0 && fkex_seed_key(k2, s.m[1]) == 0);
    CHECK(memcmp(k, k2, 32) == 0);
    CHECK(fkex_seed_decaps(s.m[0]) == 1 + 2 + 3);
    free(ks);
    sim_free(&s);
}

static void test_tampered(void)
{
    sim s;
    uint8_t *ks, *bad, *other;
    size_t len, olen;
    fkex_seed_msg m;
    sim_init(&s, "seed tampered");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);
    pending_join(&s, 2, good[2], &ks, &len);

    bad = malloc(len);
    /* The last byte is the last ciphertext's masked k: it still decodes,
     * and the Fujisaki-Okamoto check refuses it. */
    memcpy(bad, ks, len);
    bad[len - 1] ^= 1;
    CHECK_ERR(deliver(s.m[0], bad, len, &s.rng), FKEX_ERR_AUTHENTICATION);
    CHECK_ERR(deliver(s.m[2], bad, len, &s.rng), FKEX_ERR_UNEXPECTED);   /* not its ct any more */
    /* Bytes all over the ciphertexts: each is refused, none accepted. */
    /* (Indices are not authenticated at all, so only ciphertext bytes.) */
    size_t ct0 = FKEX_SEED_HEADER_BYTES + 12, ct0len = load32_be(ks + ct0 - 4);
    for (size_t at = ct0; at < ct0 + ct0len; at += ct0len / 23) {
        memcpy(bad, ks, len);
        bad[at] ^= 0x40;
        CHECK(deliver(s.m[0], bad, len, &s.rng) != FKEX_OK);
    }
    free(bad);

    /* An entry from another authority. */
    {
        fkex_mpk *mpk2;
        fkex_msk *msk2;
        fkex_abe_ct *ct2;
        uint8_t k2[32];
        CHECK_OK(fkex_abe_setup(&mpk2, &msk2, "waters11", &s.rng));
        CHECK_OK(fkex_abe_encap(k2, &ct2, mpk2, policy, FKEX_ABE_CCA, &s.rng));
        CHECK_OK(fkex_seed_msg_decode(&m, ks, len));
        fkex_abe_ct *mine = m.entries[1].ct;
        m.entries[1].ct = ct2;
        CHECK_OK(fkex_seed_msg_encode(&other, &olen, &m));
        m.entries[1].ct = mine;
        CHECK_ERR(deliver(s.m[0], other, olen, &s.rng), FKEX_ERR_WRONG_AUTHORITY);
        free(other);
        /* A CPA ciphertext where CCA is expected. */
        fkex_abe_ct_free(ct2);
        CHECK_OK(fkex_abe_encap(k2, &ct2, mpk, policy, FKEX_ABE_CPA, &s.rng));
        m.entries[1].ct = ct2;
        CHECK_OK(fkex_seed_msg_encode(&other, &olen, &m));
        m.entries[1].ct = mine;
        CHECK_ERR(deliver(s.m[0], other, olen, &s.rng), FKEX_ERR_AUTHENTICATION);
        free(other);
        fkex_abe_ct_free(ct2);
        fkex_seed_msg_clear(&m);
        fkex_mpk_free(mpk2);
        fkex_msk_free(msk2);
    }

    /* The genuine KeySet is still accepted by everyone. */
    CHECK_OK(deliver(s.m[0], ks, len, &s.rng));
    CHECK_OK(deliver(s.m[1], ks, len, &s.rng));
    CHECK_OK(deliver(s.m[2], ks, len, &s.rng));
    free(ks);
    sim_free(&s);
}

/* A KeySet re-encoded with another epoch or room. */
static void reencode(uint8_t **out, size_t *len, const uint8_t *in, size_t inlen,
                     uint64_t epoch, const uint8_t *room)
{
    fkex_seed_msg m;
    *out = NULL;
    CHECK_OK(fkex_seed_msg_decode(&m, in, inlen));
    m.epoch = epoch;
    if (room)
        memcpy(m.room_id, room, 32);
    CHECK_OK(fkex_seed_msg_encode(out, len, &m));
    fkex_seed_msg_clear(&m);
}

static void test_replay(void)
{
    sim s;
    uint8_t *ks1, *ks2, *later, *leave, *other;
    size_t len1, len2, llen, lvlen, olen;
    sim_init(&s, "seed replay");
    sim_join(&s, 0, good[0]);
    ks1 = malloc(s.keyset_len);
    memcpy(ks1, s.keyset, len1 = s.keyset_len);
    sim_join(&s, 1, good[1]);
    sim_join(&s, 2, good[2]);
    ks2 = malloc(s.keyset_len);
    memcpy(ks2, s.keyset, len2 = s.keyset_len);
    CHECK(fkex_seed_epoch(s.m[0]) == 3);

    CHECK_ERR(deliver(s.m[0], ks2, len2, &s.rng), FKEX_ERR_REPLAY);   /* the current one */
    CHECK_ERR(deliver(s.m[2], ks1, len1, &s.rng), FKEX_ERR_REPLAY);   /* an older one */
    reencode(&later, &llen, ks2, len2, 5, NULL);
    CHECK_ERR(deliver(s.m[1], later, llen, &s.rng), FKEX_ERR_WRONG_EPOCH);
    free(later);

    /* Leave: the current epoch's Leave for a member already gone, an old
     * one, a future one. */
    CHECK_OK(fkex_seed_leave_encode(&leave, &lvlen, s.room, 3, 1));
    sim_leave(&s, 1);
    CHECK(fkex_seed_epoch(s.m[0]) == 4);
    CHECK_ERR(deliver(s.m[0], leave, lvlen, &s.rng), FKEX_ERR_REPLAY);
    free(leave);
    CHECK_OK(fkex_seed_leave_encode(&leave, &lvlen, s.room, 4, 1));
    CHECK_ERR(deliver(s.m[0], leave, lvlen, &s.rng), FKEX_ERR_REPLAY);
    free(leave);
    CHECK_OK(fkex_seed_leave_encode(&leave, &lvlen, s.room, 5, 2));
    CHECK_ERR(deliver(s.m[0], leave, lvlen, &s.rng), FKEX_ERR_WRONG_EPOCH);
    free(leave);
    /* Members never receive an Encapsulation. */
    {
        fkex_seed_msg m;
        CHECK_OK(fkex_seed_msg_decode(&m, s.keyset, s.keyset_len));
        CHECK_OK(fkex_seed_encap_encode(&other, &olen, s.room, 6, 0, m.entries[0].ct));
        CHECK_ERR(deliver(s.m[0], other, olen, &s.rng), FKEX_ERR_UNEXPECTED);
        /* The relay: a stale rekey, and a join that names an epoch. */
        CHECK_ERR(fkex_seed_relay_receive(s.relay, other, olen, &s.relay_out), FKEX_ERR_WRONG_EPOCH);
        free(other);
        CHECK_OK(fkex_seed_encap_encode(&other, &olen, s.room, 4, 0, m.entries[0].ct));
        CHECK_ERR(fkex_seed_relay_receive(s.relay, other, olen, &s.relay_out), FKEX_ERR_REPLAY);
        free(other);
        CHECK_OK(fkex_seed_encap_encode(&other, &olen, s.room, 5, 1, m.entries[0].ct));
        CHECK_ERR(fkex_seed_relay_receive(s.relay, other, olen, &s.relay_out), FKEX_ERR_UNEXPECTED);
        free(other);
        CHECK_OK(fkex_seed_encap_encode(&other, &olen, s.room, 3, FKEX_SEED_NEW, m.entries[0].ct));
        CHECK_ERR(fkex_seed_relay_receive(s.relay, other, olen, &s.relay_out), FKEX_ERR_WRONG_EPOCH);
        free(other);
        CHECK(s.relay_out.nmsgs == 0);
        fkex_seed_msg_clear(&m);
    }
    /* The departed member refuses everything now. */
    CHECK_ERR(deliver(s.m[1], s.keyset, s.keyset_len, &s.rng), FKEX_ERR_UNEXPECTED);
    free(ks1);
    free(ks2);
    sim_free(&s);
}

static void test_wrong_room(void)
{
    sim s;
    uint8_t room[32], *msg;
    size_t len;
    sim_init(&s, "seed wrong room");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);
    memcpy(room, s.room, 32);
    room[31] ^= 1;
    reencode(&msg, &len, s.keyset, s.keyset_len, 3, room);
    CHECK_ERR(deliver(s.m[0], msg, len, &s.rng), FKEX_ERR_WRONG_ROOM);
    {
        uint8_t k[32];   /* the outsider's view ignores the room: see the weakness tests */
        CHECK_OK(fkex_seed_recover(k, s.key[0], msg, len));
    }
    free(msg);
    memcpy(room, s.room, 32);
    room[0] ^= 0x80;
    CHECK_OK(fkex_seed_leave_encode(&msg, &len, room, 2, 1));
    CHECK_ERR(deliver(s.m[0], msg, len, &s.rng), FKEX_ERR_WRONG_ROOM);
    free(msg);
    {
        fkex_seed_msg m;
        CHECK_OK(fkex_seed_msg_decode(&m, s.keyset, s.keyset_len));
        CHECK_OK(fkex_seed_encap_encode(&msg, &len, room, 0, FKEX_SEED_NEW, m.entries[0].ct));
        CHECK_ERR(fkex_seed_relay_receive(s.relay, msg, len, &s.relay_out), FKEX_ERR_WRONG_ROOM);
        fkex_seed_msg_clear(&m);
        free(msg);
    }
    /* A joiner waiting for its own KeySet refuses someone else's. */
    {
        uint8_t *ks;
        size_t kslen;
        pending_join(&s, 2, good[2], &ks, &kslen);
        CHECK_ERR(deliver(s.m[2], s.keyset, s.keyset_len, &s.rng), FKEX_ERR_UNEXPECTED);
        CHECK_OK(deliver(s.m[2], ks, kslen, &s.rng));
        free(ks);
    }
    sim_free(&s);
}

/* ---- wire format ---------------------------------------------------------------- */

static void roundtrip(const uint8_t *msg, size_t len)
{
    fkex_seed_msg m;
    uint8_t *again, *longer;
    size_t alen;
    CHECK_OK(fkex_seed_msg_decode(&m, msg, len));
    CHECK_OK(fkex_seed_msg_encode(&again, &alen, &m));
    CHECK(alen == len && memcmp(again, msg, len) == 0);
    free(again);
    fkex_seed_msg_clear(&m);

    /* Every truncation in the header and around the first ciphertext's
     * header, then a stride: refused, never accepted. */
    for (size_t n = 0; n < len; n += (n < 140 || n + 60 > len) ? 1 : 53) {
        fkex_err err = fkex_seed_msg_decode(&m, msg, n);
        CHECK(err != FKEX_OK);
        CHECK(m.count == 0 && m.ct == NULL && m.entries == NULL);
    }
    longer = malloc(len + 1);
    memcpy(longer, msg, len);
    longer[len] = 0;
    CHECK_ERR(fkex_seed_msg_decode(&m, longer, len + 1), FKEX_ERR_BAD_ENCODING);
    free(longer);
}

static void test_encoding(void)
{
    sim s;
    uint8_t *msg, *ks, *bad;
    size_t len, kslen;
    fkex_seed_msg m;
    sim_init(&s, "seed encoding");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);
    ks = s.keyset;
    kslen = s.keyset_len;
    roundtrip(ks, kslen);

    CHECK_OK(fkex_seed_msg_decode(&m, ks, kslen));
    CHECK(m.type == FKEX_SEED_MSG_KEYSET && m.epoch == 2 && m.count == 2);
    CHECK(m.entries[0].index == 0 && m.entries[1].index == 1);
    CHECK(memcmp(m.room_id, s.room, 32) == 0);
    CHECK_OK(fkex_seed_encap_encode(&msg, &len, s.room, 0, FKEX_SEED_NEW, m.entries[0].ct));
    CHECK(msg[0] == 0x51 && msg[1] == 1 && len > FKEX_SEED_HEADER_BYTES + 8);
    roundtrip(msg, len);
    free(msg);
    CHECK_OK(fkex_seed_leave_encode(&msg, &len, s.room, 2, 1));
    CHECK(len == FKEX_SEED_HEADER_BYTES + 4 && msg[0] == 0x53);
    CHECK(load64_be(msg + 34) == 2 && load32_be(msg + 42) == 1);
    roundtrip(msg, len);
    /* Leave names no joiner. */
    store32_be(msg + 42, FKEX_SEED_NEW);
    CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, msg, len), FKEX_ERR_BAD_ENCODING);
    free(msg);

    /* Encoders refuse what decoders refuse. */
    CHECK_ERR(fkex_seed_leave_encode(&msg, &len, s.room, 2, FKEX_SEED_NEW), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_seed_keyset_encode(&msg, &len, s.room, 2, m.entries, 0), FKEX_ERR_ARGUMENT);
    {
        fkex_seed_entry e[2] = { m.entries[1], m.entries[0] };
        CHECK_ERR(fkex_seed_keyset_encode(&msg, &len, s.room, 2, e, 2), FKEX_ERR_ARGUMENT);
        e[1] = m.entries[1];
        CHECK_ERR(fkex_seed_keyset_encode(&msg, &len, s.room, 2, e, 2), FKEX_ERR_ARGUMENT);
    }

    bad = malloc(kslen);
    /* Version, type. */
    memcpy(bad, ks, kslen);
    bad[1] = 2;
    CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_UNSUPPORTED);
    memcpy(bad, ks, kslen);
    bad[0] = 0x50;
    CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
    /* A count of zero, and one beyond the limit. */
    memcpy(bad, ks, kslen);
    store32_be(bad + 42, 0);
    CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
    store32_be(bad + 42, FKEX_SEED_MAX_MEMBERS + 1);
    CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
    store32_be(bad + 42, 3);   /* more entries than the bytes hold */
    CHECK(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen) != FKEX_OK);
    store32_be(bad + 42, 1);   /* fewer: trailing bytes */
    CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
    /* Indices out of order, repeated, or FKEX_SEED_NEW. */
    {
        size_t second = 46 + 4 + 4 + load32_be(ks + 50);
        memcpy(bad, ks, kslen);
        store32_be(bad + second, 0);
        CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
        store32_be(bad + second, FKEX_SEED_NEW);
        CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
        /* A ciphertext length one short of its bytes. */
        memcpy(bad, ks, kslen);
        store32_be(bad + 50, load32_be(ks + 50) - 1);
        CHECK(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen) != FKEX_OK);
        store32_be(bad + 50, 0xfffffff0u);
        CHECK_ERR(fkex_seed_msg_decode(&(fkex_seed_msg){ 0 }, bad, kslen), FKEX_ERR_BAD_ENCODING);
    }
    free(bad);

    /* The state machine refuses truncated and padded messages unchanged. */
    CHECK(deliver(s.m[0], ks, kslen - 1, &s.rng) != FKEX_OK);
    CHECK(deliver(s.m[0], ks, 10, &s.rng) == FKEX_ERR_TRUNCATED);
    reencode(&msg, &len, ks, kslen, 3, NULL);
    {
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, msg, len);
        longer[len] = 0;
        CHECK_ERR(deliver(s.m[0], longer, len + 1, &s.rng), FKEX_ERR_BAD_ENCODING);
        CHECK_ERR(deliver(s.m[0], msg, len - 1, &s.rng), FKEX_ERR_TRUNCATED);
        free(longer);
    }
    free(msg);
    fkex_seed_msg_clear(&m);
    sim_free(&s);
}

/* ---- seed's weaknesses, asserted ---------------------------------------------------
 * These tests PASS when the attack WORKS: that is what seed mode is, and
 * why it is not the default (PROTOCOL.md). */

/* No forward secrecy: a recorded KeySet and a key made afterwards, from
 * the master key or by a later joiner, give the epoch key exactly. */
static void test_weakness_no_forward_secrecy(void)
{
    sim s;
    uint8_t k_then[32], got[32], *rec;
    size_t reclen;
    fkex_key *later;
    sim_init(&s, "seed forward secrecy");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);
    sim_join(&s, 2, good[2]);
    CHECK(agree(&s, k_then));
    rec = malloc(s.keyset_len);
    memcpy(rec, s.keyset, reclen = s.keyset_len);

    /* The room moves on; every member wipes the old key. */
    sim_leave(&s, 1);
    sim_join(&s, 3, good[3]);
    CHECK(agree(&s, got) && memcmp(got, k_then, 32) != 0);

    /* The authority derives a fresh key after the fact. */
    later = test_keygen(msk, "THREE FOUR", &s.rng);
    CHECK(later != NULL);
    memset(got, 0, 32);
    CHECK_OK(fkex_seed_recover(got, later, rec, reclen));
    CHECK(memcmp(got, k_then, 32) == 0);
    /* So does the member who joined later. */
    memset(got, 0, 32);
    CHECK_OK(fkex_seed_recover(got, s.key[3], rec, reclen));
    CHECK(memcmp(got, k_then, 32) == 0);
    fkex_key_free(later);
    free(rec);
    sim_free(&s);
}

/* No lock-out: a departed member still satisfies P and reads the KeySet
 * of the epoch that was meant to exclude it. */
static void test_weakness_no_lockout(void)
{
    sim s;
    uint8_t k_after[32], got[32];
    sim_init(&s, "seed lockout");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);
    sim_join(&s, 2, good[2]);
    sim_leave(&s, 1);
    CHECK(agree(&s, k_after));
    CHECK(fkex_seed_key(got, s.m[1]) == -1);   /* its state machine let go... */
    CHECK_OK(fkex_seed_recover(got, s.key[1], s.keyset, s.keyset_len));
    CHECK(memcmp(got, k_after, 32) == 0);      /* ...its key did not */
    /* The lowest index leaving changes nothing about that. */
    sim_leave(&s, 0);
    CHECK(agree(&s, k_after));
    CHECK_OK(fkex_seed_recover(got, s.key[0], s.keyset, s.keyset_len));
    CHECK(memcmp(got, k_after, 32) == 0);
    CHECK_OK(fkex_seed_recover(got, s.key[1], s.keyset, s.keyset_len));
    CHECK(memcmp(got, k_after, 32) == 0);
    sim_free(&s);
}

/* Ghosts: anyone (here the relay) adds an entry under P, and the members
 * accept it and agree on a key that the adder knows. */
static void test_weakness_ghost_entry(void)
{
    sim s;
    fkex_seed_msg m;
    fkex_seed_entry e[3];
    fkex_abe_ct *ghost;
    uint8_t kg[32], k0[32], k1[32], got[32], *msg;
    size_t len;
    sim_init(&s, "seed ghost");
    sim_join(&s, 0, good[0]);
    sim_join(&s, 1, good[1]);
    CHECK_OK(fkex_abe_encap(kg, &ghost, mpk, policy, FKEX_ABE_CCA, &s.rng));
    CHECK_OK(fkex_seed_msg_decode(&m, s.keyset, s.keyset_len));
    e[0] = m.entries[0];
    e[1] = m.entries[1];
    e[2] = (fkex_seed_entry){ 99, ghost };
    CHECK_OK(fkex_seed_keyset_encode(&msg, &len, s.room, m.epoch + 1, e, 3));
    CHECK_OK(deliver(s.m[0], msg, len, &s.rng));
    CHECK_OK(deliver(s.m[1], msg, len, &s.rng));
    CHECK(fkex_seed_key(k0, s.m[0]) == 0 && fkex_seed_key(k1, s.m[1]) == 0);
    CHECK(memcmp(k0, k1, 32) == 0);
    CHECK_OK(fkex_seed_recover(got, s.key[0], msg, len));
    CHECK(memcmp(got, k0, 32) == 0);
    free(msg);
    fkex_abe_ct_free(ghost);
    fkex_seed_msg_clear(&m);
    sim_free(&s);
}

/* The key schedule, recomputed independently from the definition, for
 * every epoch of a room growing to five (so the k_i come in many orders). */
static void test_key_schedule(void)
{
    sim s;
    fkex_seed_msg m;
    uint8_t k[5][32], cat[5 * 32], h[32], prk[32], ctx[40], want[32], got[32];
    int sorted_already = 0;
    sim_init(&s, "seed schedule");
    for (int n = 1; n <= 5; n++) {
        int order[5] = { 0, 1, 2, 3, 4 };
        sim_join(&s, n - 1, good[(n - 1) % 4]);
        CHECK_OK(fkex_seed_msg_decode(&m, s.keyset, s.keyset_len));
        CHECK(m.count == (size_t)n && m.epoch == (uint64_t)n);
        for (int i = 0; i < n; i++)
            CHECK_OK(fkex_abe_decap(k[i], s.key[0], m.entries[i].ct, FKEX_ABE_CCA));
        for (int i = 0; i < n; i++)   /* selection sort of indices by key */
            for (int j = i + 1; j < n; j++)
                if (memcmp(k[order[j]], k[order[i]], 32) < 0) {
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
        int identity = 1;
        for (int i = 0; i < n; i++) {
            memcpy(cat + 32 * i, k[order[i]], 32);
            identity &= order[i] == i;
        }
        sorted_already += identity;
        crypto_hash_sha256(h, cat, 32 * (size_t)n);
        fkex_hkdf_extract(prk, NULL, 0, h, 32);
        memcpy(ctx, s.room, 32);
        store64_be(ctx + 32, m.epoch);
        fkex_kdf_expand(want, prk, "seed key", ctx, sizeof ctx);
        CHECK(fkex_seed_key(got, s.m[n - 1]) == 0);
        CHECK(memcmp(got, want, 32) == 0);
        fkex_seed_msg_clear(&m);
    }
    CHECK(sorted_already < 5);   /* the sort was exercised (n = 1 is always sorted) */
    sim_free(&s);
}

void suite_seed(void)
{
    fkex_rng rng;
    test_rng(&rng, "seed authority");
    if (fkex_abe_setup(&mpk, &msk, "waters11", &rng) != FKEX_OK ||
        fkex_policy_parse(&policy, POLICY, strlen(POLICY), NULL) != FKEX_OK) {
        fprintf(stderr, "seed: cannot set up an authority\n");
        return;
    }
    RUN(test_agreement);
    RUN(test_decap_counts);
    RUN(test_key_schedule);
    RUN(test_unsatisfying_joiner);
    RUN(test_tampered);
    RUN(test_replay);
    RUN(test_wrong_room);
    RUN(test_encoding);
    RUN(test_weakness_no_forward_secrecy);
    RUN(test_weakness_no_lockout);
    RUN(test_weakness_ghost_entry);
    fkex_policy_free(policy);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
}
