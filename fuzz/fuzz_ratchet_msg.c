/*
 * fuzz/fuzz_ratchet_msg.c: the ratchet protocol's decoders (wire/ratchet_msg.h)
 * and the relay's cut of a commit (fkex_rmsg_commit_view), which parse
 * bytes from the network. Whatever decodes must re-encode to exactly the
 * input; the peek must agree with the decoder; a commit's view must decode
 * again with at most one slice.
 *
 * FKEX_FUZZ_SEEDS=DIR runs a two-member room through one join (its
 * commit, EpochAck and SETTLED: version 2), a message and a removal
 * proposal, and writes every frame of it into DIR, with a JoinRefused.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "gke/tree.h"
#include "seeds.h"

/* ---- seeds --------------------------------------------------------------------- */

static void must(fkex_err err)
{
    if (err != FKEX_OK)
        abort();
}

/* Hands the one message in `from` to `to`; keeps a copy under `name`. */
static void pass(const char *dir, const char *name, fkex_gke_out *from, fkex_ratchet *to,
                 fkex_rng *rng, fkex_gke_out *out)
{
    if (from->nmsgs < 1)
        abort();
    write_seed(dir, name, from->msgs[0].bytes, from->msgs[0].len);
    must(fkex_ratchet_receive(to, from->msgs[0].bytes, from->msgs[0].len, rng, out));
}

static void write_seeds(const char *dir)
{
    static const char *const alice_attrs[] = { "ONE", "TWO" };
    static const char *const bob_attrs[] = { "THREE", "FOUR" };
    uint8_t seed[32] = { 5 }, admin_pk[32], admin_sk[64], *d, *view;
    size_t dlen, vlen;
    fkex_rng rng;
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *ka, *kb;
    fkex_ratchet *a, *b;
    fkex_ratchet_config cfg = { 0 };
    fkex_gke_out o1, o2, o3;

    fkex_rng_init_seed(&rng, seed);
    must(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    must(fkex_abe_keygen(&ka, msk, alice_attrs, 2, &rng));
    must(fkex_abe_keygen(&kb, msk, bob_attrs, 2, &rng));
    fkex_sign_keypair(admin_pk, admin_sk, &rng);
    must(fkex_room_descriptor_create(&d, &dlen, "room", "(ONE or THREE) and (TWO or FOUR)", 1, 0,
                                     admin_sk));
    write_seed(dir, "descriptor", d, dlen);
    fkex_room_id(cfg.room_id, admin_pk, (const uint8_t *)"room", 4);
    cfg.descriptor = d;
    cfg.descriptor_len = dlen;
    cfg.key = ka;
    must(fkex_ratchet_create(&a, &cfg, &rng));
    cfg.key = kb;
    fkex_gke_out_init(&o1);
    fkex_gke_out_init(&o2);
    fkex_gke_out_init(&o3);
    must(fkex_ratchet_join(&b, &cfg, &rng, &o1));
    pass(dir, "join-request", &o1, a, &rng, &o2);
    pass(dir, "challenge", &o2, b, &rng, &o3);
    fkex_gke_out_clear(&o1);
    fkex_gke_out_clear(&o2);
    pass(dir, "proof", &o3, a, &rng, &o1);
    fkex_gke_out_clear(&o3);
    must(fkex_ratchet_commit(a, NULL, &rng, &o2));      /* commit, welcome */
    if (o2.nmsgs != 2)
        abort();
    write_seed(dir, "commit-add", o2.msgs[0].bytes, o2.msgs[0].len);
    {
        fkex_rmsg_commit c;
        must(fkex_rmsg_commit_decode(&c, o2.msgs[0].bytes, o2.msgs[0].len));
        must(fkex_rmsg_commit_view(&view, &vlen, o2.msgs[0].bytes, &c, fkex_ratchet_index(a)));
    }
    must(fkex_ratchet_receive(a, view, vlen, &rng, &o3));   /* its EpochAck */
    free(view);
    if (o3.nmsgs != 1)
        abort();
    write_seed(dir, "epoch-ack", o3.msgs[0].bytes, o3.msgs[0].len);
    {
        /* The relay's SETTLED for it (the relay has no key: built here). */
        fkex_rmsg_epoch_ack ack;
        fkex_rmsg_settled s = { 0 };
        fkex_writer w;
        must(fkex_rmsg_epoch_ack_decode(&ack, o3.msgs[0].bytes, o3.msgs[0].len));
        memcpy(s.room_id, cfg.room_id, 32);
        s.epoch = ack.epoch - 1;
        memcpy(s.commit_hash, ack.commit_hash, 32);
        fkex_writer_init(&w);
        fkex_rmsg_settled_encode(&w, &s);
        if (w.failed)
            abort();
        write_seed(dir, "settled", w.buf, w.len);
        fkex_gke_out_clear(&o3);
        must(fkex_ratchet_receive(a, w.buf, w.len, &rng, &o3));
        fkex_writer_free(&w);
    }
    {
        /* A sponsor's refusal of a join (built here: it takes a refused
         * request to make one). */
        fkex_rmsg_join_refused m = { .reason = FKEX_JOIN_REFUSED_AUTHORITY };
        fkex_writer w;
        memcpy(m.room_id, cfg.room_id, 32);
        memset(m.joiner_id, 7, 32);
        fkex_mpk_fingerprint(m.authority, mpk);
        fkex_writer_init(&w);
        fkex_rmsg_join_refused_encode(&w, &m);
        if (w.failed)
            abort();
        write_seed(dir, "join-refused", w.buf, w.len);
        fkex_writer_free(&w);
    }
    {
        uint8_t *k, v[32];
        size_t klen;
        fkex_ratchet_leaf_key(v, a);
        must(fkex_room_kick_create(&k, &klen, cfg.room_id, v, "spam", admin_sk));
        write_seed(dir, "kick", k, klen);
        free(k);
    }
    write_seed(dir, "welcome", o2.msgs[1].bytes, o2.msgs[1].len);
    must(fkex_ratchet_receive(b, o2.msgs[1].bytes, o2.msgs[1].len, &rng, &o1));   /* join ack */
    write_seed(dir, "join-ack", o1.msgs[o1.nmsgs - 1].bytes, o1.msgs[o1.nmsgs - 1].len);
    fkex_gke_out_clear(&o1);
    fkex_gke_out_clear(&o2);
    fkex_gke_out_clear(&o3);
    must(fkex_ratchet_send(a, (const uint8_t *)"hello", 5, &o1));
    write_seed(dir, "application", o1.msgs[0].bytes, o1.msgs[0].len);
    must(fkex_ratchet_propose_remove(b, fkex_ratchet_index(b), &o2));
    write_seed(dir, "remove", o2.msgs[0].bytes, o2.msgs[0].len);
    {
        /* The same proposal quoting evidence (a commit hash): the layout of
         * a member's accusation. */
        fkex_rmsg_remove m;
        fkex_writer w;
        must(fkex_rmsg_remove_decode(&m, o2.msgs[0].bytes, o2.msgs[0].len));
        memset(m.evidence, 0xe5, 32);
        fkex_writer_init(&w);
        fkex_rmsg_remove_encode(&w, &m);
        fkex_writer_put(&w, m.membership_tag, 32);
        fkex_writer_put(&w, m.sig, 64);
        if (w.failed)
            abort();
        write_seed(dir, "remove-evidence", w.buf, w.len);
        fkex_writer_free(&w);
    }
    must(fkex_ratchet_receive(a, o2.msgs[0].bytes, o2.msgs[0].len, &rng, &o3));
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out_clear(&o1);
    must(fkex_ratchet_commit(a, &upd, &rng, &o1));       /* a path commit: removal, update */
    write_seed(dir, "commit-path", o1.msgs[0].bytes, o1.msgs[0].len);
    fkex_gke_out_clear(&o1);
    fkex_gke_out_clear(&o2);
    fkex_gke_out_clear(&o3);
    fkex_ratchet_free(a);
    fkex_ratchet_free(b);
    free(d);
    fkex_key_free(ka);
    fkex_key_free(kb);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}

/* ---- re-encoding ------------------------------------------------------------------- */

static void same(const fkex_writer *w, const uint8_t *data, size_t size)
{
    if (w->failed || w->len != size || memcmp(w->buf, data, size) != 0)
        abort();
}

static void signed_again(fkex_writer *w, const uint8_t sig[64], const uint8_t *data, size_t size)
{
    fkex_writer_put(w, sig, 64);
    same(w, data, size);
}

static void commit_again(const fkex_rmsg_commit *c, const uint8_t *data, size_t size)
{
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_rmsg_commit_encode(&w, c);
    if (w.len != c->content_len)
        abort();
    /* Version 2: confirmation tag, membership tag, then the signature. */
    fkex_writer_put(&w, c->confirmation_tag, 32);
    if (w.len != c->tagged_len)
        abort();
    fkex_writer_put(&w, c->membership_tag, 32);
    if (w.len != c->signed_len)
        abort();
    fkex_writer_put(&w, c->sig, 64);
    fkex_writer_u32(&w, c->nslices);
    fkex_writer_put(&w, c->slices, (size_t)c->nslices * FKEX_SLICE_BYTES);
    same(&w, data, size);
    fkex_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_rmsg_type type;
    uint8_t room[32];
    fkex_writer w;
    int peeked = fkex_rmsg_peek(&type, room, data, size) == FKEX_OK;
    fkex_writer_init(&w);
    {
        fkex_rmsg_descriptor m;
        if (fkex_rmsg_descriptor_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_DESCRIPTOR)
                abort();
            fkex_rmsg_descriptor_encode(&w, &m);
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_join_request m;
        if (fkex_rmsg_join_request_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_JOIN_REQUEST)
                abort();
            fkex_rmsg_join_request_encode(&w, &m);
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_challenge m;
        if (fkex_rmsg_challenge_decode(&m, data, size) == FKEX_OK) {
            fkex_rmsg_challenge_encode(&w, &m);
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_proof m;
        if (fkex_rmsg_proof_decode(&m, data, size) == FKEX_OK) {
            fkex_rmsg_proof_encode(&w, &m);
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_commit m;
        if (fkex_rmsg_commit_decode(&m, data, size) == FKEX_OK) {
            uint8_t *view;
            size_t vlen;
            fkex_rmsg_commit v;
            uint32_t leaf = m.nslices ? load32_be(m.slices) / 2 : 0, place[8];
            commit_again(&m, data, size);
            if (fkex_rmsg_commit_view(&view, &vlen, data, &m, leaf) != FKEX_OK ||
                fkex_rmsg_commit_decode(&v, view, vlen) != FKEX_OK || v.nslices > 1 ||
                v.content_len != m.content_len ||
                (v.nslices && !fkex_tree_below(2 * leaf, load32_be(v.slices))))
                abort();
            free(view);
            /* Seats after it in a room of 8: each kept member on a seat of
             * its own below 8 - removals. */
            if (fkex_rmsg_commit_places(&m, 8, place) == FKEX_OK) {
                uint32_t seen = 0, kept = 0;
                for (uint32_t i = 0; i < 8; i++)
                    if (place[i] != UINT32_MAX) {
                        if (place[i] >= 8 - m.nremoves || (seen >> place[i]) & 1u)
                            abort();
                        seen |= 1u << place[i];
                        kept++;
                    }
                if (kept != 8 - m.nremoves)
                    abort();
            }
        }
    }
    {
        fkex_rmsg_welcome m;
        if (fkex_rmsg_welcome_decode(&m, data, size) == FKEX_OK) {
            fkex_rmsg_welcome_encode(&w, &m);
            same(&w, data, size);
        }
    }
    {
        fkex_welcome_state m;
        if (fkex_welcome_state_decode(&m, data, size) == FKEX_OK) {
            ratchet_tree t;
            fkex_welcome_state_encode(&w, &m);
            same(&w, data, size);
            /* and its tree, as the joiner reads it (fuzz_tree.c goes deeper) */
            if (tree_decode(&t, (const fkex_leaf *)m.leaves, m.nleaves, m.tree, m.treelen) ==
                FKEX_OK)
                tree_free(&t);
        }
    }
    {
        fkex_rmsg_join_ack m;
        if (fkex_rmsg_join_ack_decode(&m, data, size) == FKEX_OK) {
            fkex_rmsg_join_ack_encode(&w, &m);
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_remove m;
        if (fkex_rmsg_remove_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_REMOVE)
                abort();
            /* Version 2: body (with evidence), membership tag, signature. */
            fkex_rmsg_remove_encode(&w, &m);
            if (w.len != m.tagged_len)
                abort();
            fkex_writer_put(&w, m.membership_tag, 32);
            if (w.len != m.signed_len)
                abort();
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_epoch_ack m;
        if (fkex_rmsg_epoch_ack_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_EPOCH_ACK || memcmp(room, m.room_id, 32) != 0)
                abort();
            fkex_rmsg_epoch_ack_encode(&w, &m);
            if (w.len != m.signed_len)
                abort();
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_kick m;
        if (fkex_rmsg_kick_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_KICK || memcmp(room, m.room_id, 32) != 0)
                abort();
            fkex_rmsg_kick_encode(&w, &m);
            if (w.len != m.signed_len)
                abort();
            signed_again(&w, m.sig, data, size);
        }
    }
    {
        fkex_rmsg_settled m;
        if (fkex_rmsg_settled_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_SETTLED || memcmp(room, m.room_id, 32) != 0)
                abort();
            fkex_rmsg_settled_encode(&w, &m);
            same(&w, data, size);
        }
    }
    {
        fkex_rmsg_join_refused m;
        if (fkex_rmsg_join_refused_decode(&m, data, size) == FKEX_OK) {
            if (!peeked || type != FKEX_RMSG_JOIN_REFUSED || memcmp(room, m.room_id, 32) != 0)
                abort();
            fkex_rmsg_join_refused_encode(&w, &m);
            same(&w, data, size);
        }
    }
    {
        fkex_rmsg_application m;
        if (fkex_rmsg_application_decode(&m, data, size) == FKEX_OK) {
            fkex_rmsg_application_encode(&w, &m);
            signed_again(&w, m.sig, data, size);
        }
    }
    fkex_writer_free(&w);
    return 0;
}
