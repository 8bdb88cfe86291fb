/*
 * Mutation-driven tests of the ratchet protocol's checks (PROTOCOL.md,
 * "What each party must verify"). Each case below was written against a
 * mutation of src/gke or src/wire/ratchet_msg.c that disables one check and
 * that no test of tests/test_ratchet.c noticed: the case fails when that
 * check is removed. The comment of each case names the check.
 *
 * Most cases play a member gone rogue (it holds the membership key, the
 * epoch secrets and its own signing key) or a relay, and build messages
 * that are right in every respect but the one under test, so that only
 * the check under test can refuse them.
 */
#include <stdlib.h>
#include "test.h"
#include "gke_world.h"
#include "gke/ratchet_state.h"

static gke_world cw;

static room *room_new(const char *seed) { return gke_room_new(&cw, seed); }
static void room_free(room *r) { gke_room_free(r); }

/* alice (0), bob (1) and carol (2), at epoch 2. */
static room *room3(const char *seed)
{
    room *r = room_new(seed);
    int b = room_join(r, cw.bob), c = room_join(r, cw.carol);
    if (b != 1 || c != 2 || !r->parties[c].joined || r->epoch != 2)
        abort();
    return r;
}

/* ---- taps, injections -------------------------------------------------------------- */

/* Keeps a copy of every frame delivered; drops the types in `drop`. */
typedef struct {
    uint32_t drop;
    room_frame frames[64];
    int to[64];
    size_t n;
} tap;

static int tap_fn(room *r, int to, uint8_t *frame, size_t len, void *ctx)
{
    tap *t = ctx;
    fkex_rmsg_type ty;
    uint8_t id[32];
    (void)r;
    if (t->n < FKEX_ARRAY_LEN(t->frames)) {
        t->frames[t->n].bytes = malloc(len);
        memcpy(t->frames[t->n].bytes, frame, len);
        t->frames[t->n].len = len;
        t->to[t->n++] = to;
    }
    return fkex_rmsg_peek(&ty, id, frame, len) == FKEX_OK && ((t->drop >> ty) & 1);
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

/* The bytes with one byte more at the end. */
static fkex_err inject_longer(room *r, int p, const uint8_t *bytes, size_t len)
{
    uint8_t *b = malloc(len + 1);
    memcpy(b, bytes, len);
    b[len] = 0;
    fkex_err err = room_inject(r, p, b, len + 1);
    free(b);
    return err;
}

static void sign(fkex_writer *w, const uint8_t sk[64], const char *label)
{
    CHECK_OK(ratchet_sign_append(w, sk, label));
}

/* An ABE ciphertext under `policy` (text); *ct to free. */
static void encap(uint8_t k[32], fkex_abe_ct **ct, const char *policy, fkex_rng *rng)
{
    fkex_policy *p;
    if (fkex_policy_parse(&p, policy, strlen(policy), NULL) != FKEX_OK ||
        fkex_abe_encap(k, ct, cw.mpk, p, FKEX_ABE_CCA, rng) != FKEX_OK)
        abort();
    fkex_policy_free(p);
}

/* ---- forging commits ------------------------------------------------------------------ */

/* The roster a receiver without roster_next's checks would compute
 * (roster.c): the committer's update, the removals highest first (the
 * last leaf fills the slot), then the joiners. Indices are in range. */
static uint32_t plain_roster(fkex_leaf *out, const fkex_ratchet *st, const fkex_rmsg_commit *c)
{
    uint32_t m = st->nleaves;
    memcpy(out, st->leaves, (size_t)m * sizeof *out);
    if (c->has_update && c->committer < m)
        memcpy(out[c->committer].sig_pk, c->update_sig_pk, 32);
    if (c->dist == FKEX_DIST_PATH && c->committer < m)
        memcpy(out[c->committer].hpke_pk, c->path_leaf_pk, 32);
    for (uint32_t k = c->nremoves; k-- > 0;) {
        uint32_t i = load32_be(c->removes + 4 * k);
        m--;
        if (i < st->nleaves)
            out[i] = out[m];
    }
    if (c->nadds)
        memcpy(out + m, c->adds, (size_t)c->nadds * 64);
    return m + c->nadds;
}

/* H(roster) of leaves (copied). */
static void roster_hash_of(uint8_t hash[32], const fkex_leaf *leaves, uint32_t n)
{
    roster ro;
    fkex_leaf *copy = malloc((n ? n : 1) * sizeof *copy);
    memcpy(copy, leaves, (size_t)n * sizeof *copy);
    if (roster_whole(&ro, copy, n) != FKEX_OK)
        abort();
    memcpy(hash, ro.hash, 32);
    roster_free(&ro);
}

typedef struct {
    fkex_rmsg_commit c;     /* the content; epoch, room and nonce are filled in */
    uint8_t cs[32];         /* commit secret */
    const uint8_t *psk;     /* with c.psk_ct */
    const uint8_t *sig_sk;  /* the signer */
    const uint8_t *leaf_pk; /* a path's leaf key instead of the one it derives */
    int wrong_tag;          /* confirmation tag over another commit secret */
    int wrong_membership;   /* membership tag with one bit flipped (then signed) */
    int zero_parent;        /* the path's first parent key all zero (small order) */
} forge;

/* A commit of the group `st` is in (its membership key, init secret and
 * transcript), signed with f->sig_sk, with a confirmation tag for the
 * roster and tree a receiver would compute, and, by path, a real
 * UpdatePath from the committer's leaf (its commit secret replaces f->cs)
 * sealed to every old member who stays but the committer. A commit whose
 * roster cannot be built gets an empty path and no slices. */
static void forge_commit(fkex_writer *w, const fkex_ratchet *st, forge *f, fkex_rng *rng)
{
    uint8_t key[32], transcript[32], rh[32], th[32] = { 0 }, es[32], tag[32], other[32];
    uint8_t ctx[SCHEDULE_CONTEXT_BYTES];
    static const uint8_t zero_nonce[12];
    fkex_leaf roster[40];
    ratchet_tree tree = { 0 };
    tree_private tp;
    tree_update u = { 0 };
    tree_joiner_secret js[RATCHET_MAX_PENDING];
    uint32_t at;
    int has_tree, has_path = 0;
    epoch_keys k;
    memcpy(f->c.room_id, st->room_id, 32);
    has_tree = f->c.committer < st->nleaves && dist_tree_next(&tree, &tp, &at, st, &f->c) == FKEX_OK;
    if (f->c.dist == FKEX_DIST_GROUP) {
        fkex_kdf_expand(key, st->keys.add_secret, "add", f->c.nonce, 32);
        crypto_aead_chacha20poly1305_ietf_encrypt(f->c.group_sealed, NULL, f->cs, 32, NULL, 0,
                                                  NULL, zero_nonce, key);
    } else if (has_tree && tree_path_create(&u, &tree, at, rng) == FKEX_OK) {
        has_path = 1;
        memcpy(f->cs, u.commit_secret, 32);
        memcpy(f->c.path_leaf_pk, f->leaf_pk ? f->leaf_pk : u.leaf_pk, 32);
        f->c.path_len = u.m;
        f->c.path_pks = (const uint8_t *)u.pks;
        if (f->zero_parent && u.m)
            memset(u.pks[0], 0, 32);   /* members refuse it at the merge */
        else
            CHECK_OK(tree_path_merge(&tree, at, f->c.path_leaf_pk, f->c.path_pks, u.m));
    } else {
        fkex_rng_fill(rng, f->c.path_leaf_pk, 32);
    }
    if (has_tree)
        tree_hash(th, &tree);
    uint32_t n = plain_roster(roster, st, &f->c);
    fkex_writer_init(w);
    fkex_rmsg_commit_encode(w, &f->c);
    memcpy(transcript, st->keys.transcript_hash, 32);
    fkex_transcript_extend(transcript, w->buf, w->len);
    roster_hash_of(rh, roster, n);
    memcpy(other, f->cs, 32);
    other[0] ^= (uint8_t)(f->wrong_tag ? 1 : 0);
    schedule_next(&k, es, st->keys.init_secret, other, f->psk, st->room_id, f->c.epoch + 1,
                  transcript, rh, th);
    schedule_confirmation_tag(tag, &k);
    fkex_writer_put(w, tag, 32);
    /* Version 2: the membership tag, then the signature over both. */
    fkex_mac(key, st->keys.membership_key, w->buf, w->len);
    key[0] ^= (uint8_t)(f->wrong_membership ? 1 : 0);
    fkex_writer_put(w, key, 32);
    sign(w, f->sig_sk, "commit");
    if (has_path) {
        schedule_context(ctx, st->room_id, f->c.epoch + 1, transcript, rh, th);
        CHECK_OK(dist_seal(w, &tree, &u, n, f->c.nadds, js, ctx, sizeof ctx, rng));
    } else {
        fkex_writer_u32(w, 0);
    }
    f->c.path_pks = NULL;
    f->c.path_len = 0;
    tree_free(&tree);
    tree_update_wipe(&u);
    CHECK(!w->failed);
}

/* A commit by `committer` (a party) for the current epoch of `st`: no
 * content yet, GROUP distribution, random nonce and commit secret. */
static void forge_init(forge *f, room *r, int committer)
{
    memset(f, 0, sizeof *f);
    f->c.epoch = fkex_ratchet_epoch(r->parties[committer].st);
    f->c.committer = fkex_ratchet_index(r->parties[committer].st);
    f->c.dist = FKEX_DIST_GROUP;
    fkex_rng_fill(&r->rng, f->c.nonce, 32);
    fkex_rng_fill(&r->rng, f->cs, 32);
    f->sig_sk = r->parties[committer].st->sig_sk;
}

/* H(content) of the last commit inject_forged made. */
static uint8_t forged_hash[32];

static void commit_hash_of(uint8_t hash[32], const uint8_t *bytes, size_t len)
{
    fkex_rmsg_commit c;
    CHECK_OK(fkex_rmsg_commit_decode(&c, bytes, len));
    crypto_hash_sha256(hash, bytes, c.content_len);
}

/* Injects a forged commit into party p. Version 2: a candidate is never
 * installed on arrival, so the epoch stays unchanged whatever happens; a
 * refusal leaves no tentative epoch and accuses nobody (evidence returns
 * FKEX_OK: expect_evidence); an acceptance prepares the tentative epoch. */
static fkex_err inject_forged(room *r, int p, forge *f, int from)
{
    fkex_writer w;
    const fkex_ratchet *st = r->parties[p].st;
    uint64_t before = fkex_ratchet_epoch(st);
    size_t accused = r->parties[p].accused, impersonated = r->parties[p].impersonated;
    int had = st->tentative.active;
    forge_commit(&w, r->parties[from].st, f, &r->rng);
    commit_hash_of(forged_hash, w.buf, w.len);
    fkex_err err = room_inject(r, p, w.buf, w.len);
    CHECK(fkex_ratchet_epoch(st) == before);
    if (err != FKEX_OK)
        CHECK(st->tentative.active == had && r->parties[p].accused == accused);
    else if (!had && r->parties[p].accused == accused && r->parties[p].impersonated == impersonated)
        CHECK(st->tentative.active && memcmp(st->tentative.commit_hash, forged_hash, 32) == 0);
    fkex_writer_free(&w);
    return err;
}

/* SETTLED(epoch, hash) as the relay sends it, to party p. */
static fkex_err inject_settled(room *r, int p, uint64_t epoch, const uint8_t hash[32])
{
    fkex_writer w;
    gke_settled_msg(&w, r->room_id, epoch, hash);
    fkex_err err = room_inject(r, p, w.buf, w.len);
    fkex_writer_free(&w);
    return err;
}

/* A forged commit that its signer alone can have got wrong (version 2):
 * party p takes it as evidence (FKEX_OK, one FKEX_GKE_EV_MISBEHAVED), does
 * not prepare it, and proposes Remove(signer) quoting the commit's hash
 * under the current membership key. */
static void expect_evidence(room *r, int p, forge *f, int from)
{
    const fkex_ratchet *st = r->parties[p].st;
    size_t accused = r->parties[p].accused, nt = r->ntranscript;
    int record = r->record;
    r->record = 1;
    CHECK_OK(inject_forged(r, p, f, from));
    r->record = record;
    CHECK(r->parties[p].accused == accused + 1);
    CHECK(!st->tentative.active);
    CHECK(r->ntranscript == nt + 1);
    if (r->ntranscript != nt + 1)
        return;
    const room_frame *fr = &r->transcript[r->ntranscript - 1];
    fkex_rmsg_remove m;
    uint8_t tag[32];
    CHECK_OK(fkex_rmsg_remove_decode(&m, fr->bytes, fr->len));
    CHECK(m.target == f->c.committer && m.proposer == st->index && m.epoch == st->keys.epoch);
    CHECK(memcmp(m.evidence, forged_hash, 32) == 0);
    fkex_mac(tag, st->keys.membership_key, fr->bytes, m.tagged_len);
    CHECK(memcmp(tag, m.membership_tag, 32) == 0);
}

/* ---- descriptors (ratchet.c: fkex_room_descriptor_check; ratchet_msg.c) ---------- */

/* Kills: the admin's signature on a descriptor (ratchet.c, descriptor
 * check), the canonical policy text, and the decoder's rules: no trailing
 * bytes, no unknown option, a name of 1..255 bytes. */
static void test_descriptor_checks(void)
{
    room *r = room_new("descriptor checks");
    fkex_rmsg_descriptor d;
    uint8_t *v2;
    size_t v2len;
    CHECK_OK(fkex_room_descriptor_create(&v2, &v2len, "room", "ONE and TWO", 2, 0, r->admin_sk));
    CHECK_OK(fkex_room_descriptor_check(&d, r->room_id, v2, v2len));
    /* Changed after signing (the version, right before the options). */
    v2[v2len - 64 - 5] ^= 1;
    CHECK_ERR(fkex_room_descriptor_check(&d, r->room_id, v2, v2len), FKEX_ERR_AUTHENTICATION);
    /* A joiner refuses such a descriptor too. */
    fkex_ratchet_config cfg = { .key = cw.bob, .descriptor = v2, .descriptor_len = v2len };
    memcpy(cfg.room_id, r->room_id, 32);
    fkex_ratchet *x = NULL;
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_ERR(fkex_ratchet_join(&x, &cfg, &r->rng, &out), FKEX_ERR_AUTHENTICATION);
    v2[v2len - 64 - 5] ^= 1;
    /* And a commit carrying it is refused by every member. */
    free(v2);
    /* A seed-mode room (the admin's, valid) is never the ratchet's. */
    CHECK_OK(fkex_room_descriptor_create(&v2, &v2len, "room", "ONE and TWO", 1, FKEX_ROOM_SEED_MODE,
                                         r->admin_sk));
    CHECK_OK(fkex_room_descriptor_check(&d, r->room_id, v2, v2len));
    cfg.descriptor = v2;
    cfg.descriptor_len = v2len;
    CHECK_ERR(fkex_ratchet_join(&x, &cfg, &r->rng, &out), FKEX_ERR_UNSUPPORTED);
    free(v2);

    /* Signed by the admin, but the policy not in canonical form, an
     * unknown option, an empty name. */
    static const struct {
        const char *name, *policy;
        uint32_t options;
        fkex_err want;
    } bad[] = {
        { "room", "(ONE and TWO)", 0, FKEX_ERR_BAD_ENCODING },
        { "room", "ONE  and TWO", 0, FKEX_ERR_BAD_ENCODING },
        { "room", "ONE and TWO", 4, FKEX_ERR_BAD_ENCODING },    /* no such option */
        { "room", "ONE and TWO", FKEX_ROOM_REQUIRE_PERIOD | FKEX_ROOM_SEED_MODE,
          FKEX_ERR_BAD_ENCODING },                            /* seed rooms have no period */
        { "", "ONE and TWO", 0, FKEX_ERR_BAD_ENCODING },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++) {
        fkex_rmsg_descriptor m = { 0 };
        fkex_writer w;
        m.name = (const uint8_t *)bad[i].name;
        m.namelen = strlen(bad[i].name);
        m.policy = (const uint8_t *)bad[i].policy;
        m.policylen = strlen(bad[i].policy);
        memcpy(m.admin_pk, r->admin_sk + 32, 32);
        m.version = 3;
        m.options = bad[i].options;
        fkex_writer_init(&w);
        fkex_rmsg_descriptor_encode(&w, &m);
        sign(&w, r->admin_sk, "descriptor");
        uint8_t id[32];
        fkex_room_id(id, m.admin_pk, m.name, m.namelen);
        fkex_err err = fkex_room_descriptor_check(&d, id, w.buf, w.len);
        CHECK(err == bad[i].want);
        if (err != bad[i].want)
            fprintf(stderr, "    descriptor case %zu: %s\n", i, fkex_strerror(err));
        fkex_writer_free(&w);
    }
    /* A 256-byte name: the decoder refuses it whoever signed it. */
    {
        char name[257];
        memset(name, 'n', 256);
        name[256] = 0;
        fkex_rmsg_descriptor m = { 0 };
        fkex_writer w;
        m.name = (const uint8_t *)name;
        m.namelen = 256;
        m.policy = (const uint8_t *)"ONE";
        m.policylen = 3;
        memcpy(m.admin_pk, r->admin_sk + 32, 32);
        fkex_writer_init(&w);
        fkex_rmsg_descriptor_encode(&w, &m);
        sign(&w, r->admin_sk, "descriptor");
        CHECK_ERR(fkex_rmsg_descriptor_decode(&d, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
        fkex_writer_free(&w);
    }
    /* The room's own descriptor with a byte after the signature. */
    uint8_t *longer = malloc(r->descriptor_len + 1);
    memcpy(longer, r->descriptor, r->descriptor_len);
    longer[r->descriptor_len] = 0;
    CHECK_ERR(fkex_room_descriptor_check(&d, r->room_id, longer, r->descriptor_len + 1),
              FKEX_ERR_BAD_ENCODING);
    free(longer);
    fkex_gke_out_clear(&out);
    room_free(r);
}

/* ---- Remove proposals (ratchet.c on_remove) --------------------------------------- */


/* Kills: Remove's epoch check (an old proposal names an index of an old
 * roster), its index bounds, the duplicate-proposal check, and the
 * decoder's no-trailing-bytes rule. */
static void test_remove_checks(void)
{
    room *r = room3("remove checks");
    fkex_ratchet *alice = r->parties[0].st;
    const uint8_t *bob_sk = r->parties[1].st->sig_sk;
    const uint8_t *bob_mk = r->parties[1].st->keys.membership_key;
    fkex_writer old, w;
    /* bob proposes to remove carol at epoch 2; the relay keeps it. */
    gke_remove_msg(&old, r->room_id, 2, 1, 2, bob_mk, bob_sk);
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, 0, &upd));
    room_run(r, 1000);
    CHECK(r->epoch == 3 && room_agree(r));
    CHECK_ERR(room_inject(r, 0, old.buf, old.len), FKEX_ERR_WRONG_EPOCH);
    CHECK(alice->nremovals == 0);
    /* Indices out of range. */
    gke_remove_msg(&w, r->room_id, 3, 1, 7, bob_mk, bob_sk);
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
    gke_remove_msg(&w, r->room_id, 3, 7, 2, bob_mk, bob_sk);
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
    CHECK(alice->nremovals == 0);
    /* The proposal with a byte more, then as it is, then again. */
    gke_remove_msg(&w, r->room_id, 3, 1, 2, bob_mk, bob_sk);
    CHECK_ERR(inject_longer(r, 0, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    CHECK(alice->nremovals == 0);
    CHECK_OK(room_inject(r, 0, w.buf, w.len));
    CHECK(alice->nremovals == 1);
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_REPLAY);
    CHECK(alice->nremovals == 1);
    fkex_writer_free(&w);
    fkex_writer_free(&old);
    room_free(r);
}

/* Kills the Remove proposal's membership tag (version 2): only a holder
 * of the current epoch proposes. bob's own signature on each; the tag
 * under the previous epoch's membership key, then under no key of the
 * room, is refused; under the current one it is taken. */
static void test_remove_membership_tag(void)
{
    room *r = room3("remove membership tag");
    fkex_ratchet *alice = r->parties[0].st;
    const uint8_t *bob_sk = r->parties[1].st->sig_sk;
    uint8_t old_mk[32], junk_mk[32];
    fkex_writer w;
    memcpy(old_mk, r->parties[1].st->keys.membership_key, 32);
    fkex_rng_fill(&r->rng, junk_mk, 32);
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, 0, &upd));
    room_run(r, 1000);
    CHECK(r->epoch == 3 && room_agree(r));
    gke_remove_msg(&w, r->room_id, 3, 1, 2, old_mk, bob_sk);
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    fkex_writer_free(&w);
    gke_remove_msg(&w, r->room_id, 3, 1, 2, junk_mk, bob_sk);
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    fkex_writer_free(&w);
    CHECK(alice->nremovals == 0);
    gke_remove_msg(&w, r->room_id, 3, 1, 2, r->parties[1].st->keys.membership_key, bob_sk);
    CHECK_OK(room_inject(r, 0, w.buf, w.len));
    CHECK(alice->nremovals == 1);
    fkex_writer_free(&w);
    room_free(r);
}

/* Kills the admin's kick (ratchet.c on_kick, fkex_room_kick_check): a kick
 * signed by another key, for another room, naming nobody, or with a
 * control character in its reason is refused and changes nothing; the
 * admin's kick of bob makes alice and carol hold his removal (no member
 * needs to propose it) and report KICKED (once: the kick again is a
 * replay), makes bob gone, and the next commit removes him. */
static void test_kick(void)
{
    room *r = room3("kick");
    fkex_ratchet *alice = r->parties[0].st;
    fkex_gke_out o;
    uint8_t *k, other_sk[64], other_pk[32], nobody[FKEX_PSEUDONYM_BYTES] = { 0 }, other_room[32];
    size_t klen;
    fkex_sign_keypair(other_pk, other_sk, &r->rng);
    CHECK_OK(fkex_room_kick_create(&k, &klen, r->room_id, r->parties[1].v, "spam", other_sk));
    CHECK_ERR(room_inject(r, 0, k, klen), FKEX_ERR_AUTHENTICATION);
    free(k);
    memcpy(other_room, r->room_id, 32);
    other_room[0] ^= 1;
    CHECK_OK(fkex_room_kick_create(&k, &klen, other_room, r->parties[1].v, "spam", r->admin_sk));
    CHECK_ERR(room_inject(r, 0, k, klen), FKEX_ERR_WRONG_ROOM);
    free(k);
    CHECK_OK(fkex_room_kick_create(&k, &klen, r->room_id, nobody, "spam", r->admin_sk));
    CHECK_ERR(room_inject(r, 0, k, klen), FKEX_ERR_UNEXPECTED);
    free(k);
    CHECK_ERR(fkex_room_kick_create(&k, &klen, r->room_id, r->parties[1].v, "a\nb", r->admin_sk),
              FKEX_ERR_ARGUMENT);
    CHECK_OK(fkex_room_kick_create(&k, &klen, r->room_id, r->parties[1].v, "ab", r->admin_sk));
    k[klen - 64 - 1] = '\n';   /* the reason's last byte, signature aside */
    CHECK_ERR(room_inject(r, 0, k, klen), FKEX_ERR_BAD_ENCODING);
    free(k);
    CHECK(alice->nremovals == 0 && r->parties[0].refused == 4);

    CHECK_OK(fkex_room_kick_create(&k, &klen, r->room_id, r->parties[1].v, "spam", r->admin_sk));
    for (int p = 0; p < 3; p++)
        CHECK_OK(room_inject(r, p, k, klen));
    CHECK(alice->nremovals == 1 && r->parties[2].st->nremovals == 1);
    CHECK(!fkex_ratchet_is_member(r->parties[1].st));
    fkex_gke_out_init(&o);   /* the same kick again: nothing new, nothing reported */
    CHECK_ERR(fkex_ratchet_receive(alice, k, klen, &r->rng, &o), FKEX_ERR_REPLAY);
    CHECK(o.nevents == 0 && alice->nremovals == 1);
    fkex_gke_out_clear(&o);
    free(k);
    CHECK_OK(room_commit(r, 0, NULL));   /* the kick is all there is to commit */
    room_run(r, 1000);
    CHECK(r->epoch == 3 && fkex_ratchet_members(alice) == 2 && room_agree(r));
    room_free(r);
}

/* Review finding: an Update must not shed the committer's pending
 * removal (its V changes; the removal follows it). alice holds bob's
 * proposed removal; bob's Update settles; alice still holds it, now for
 * bob's new V, and her commit removes him. */
static void test_update_keeps_removal(void)
{
    room *r = room3("update keeps removal");
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK_OK(fkex_ratchet_propose_remove(r->parties[0].st, 1, &o));
    for (int p = 0; p < 3; p++)
        CHECK_OK(room_inject(r, p, o.msgs[0].bytes, o.msgs[0].len));
    fkex_gke_out_clear(&o);
    CHECK(fkex_ratchet_removal_pending(r->parties[0].st, 1));
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, 1, &upd));
    room_run(r, 1000);
    CHECK(r->epoch == 3 && room_agree(r));
    CHECK(fkex_ratchet_removal_pending(r->parties[0].st, 1) &&
          fkex_ratchet_removal_pending(r->parties[2].st, 1));
    CHECK_OK(room_commit(r, 0, NULL));
    room_run(r, 1000);
    CHECK(r->epoch == 4 && fkex_ratchet_members(r->parties[0].st) == 2 && r->parties[1].left);
    room_free(r);
}

/* ---- JoinAck (ratchet.c on_join_ack) ------------------------------------------------ */

/* Kills: the JoinAck's confirmation MAC (version 2: a signed JoinAck
 * whose MAC fails shows a fork, FKEX_GKE_EV_FORK), its sender bound, and
 * the decoder's no-trailing-bytes rule. The relay holds bob's real
 * JoinAck back, so alice has not seen bob confirm the key. */
static void test_join_ack_checks(void)
{
    room *r = room_new("join ack checks");
    tap t = { 1u << FKEX_RMSG_JOIN_ACK, { { 0 } }, { 0 }, 0 };
    r->tamper = tap_fn;
    r->tamper_ctx = &t;
    int bob = room_join(r, cw.bob);
    r->tamper = NULL;
    CHECK(r->parties[bob].joined && r->epoch == 1);
    const room_frame *ack = tapped(&t, FKEX_RMSG_JOIN_ACK, 0);
    CHECK(ack != NULL);
    if (!ack) {
        room_free(r);
        return;
    }
    CHECK(!fkex_ratchet_acked(r->parties[0].st, 1));
    fkex_rmsg_join_ack m;
    fkex_writer w;
    CHECK_OK(fkex_rmsg_join_ack_decode(&m, ack->bytes, ack->len));
    /* Signed by bob, but a tag that is not MAC(confirmation_key, ...). */
    m.tag[0] ^= 1;
    fkex_writer_init(&w);
    fkex_rmsg_join_ack_encode(&w, &m);
    sign(&w, r->parties[bob].st->sig_sk, "join ack");
    CHECK_OK(room_inject(r, 0, w.buf, w.len));
    CHECK(r->parties[0].forks == 1 && !fkex_ratchet_acked(r->parties[0].st, 1));
    /* The same not signed by bob: refused, and no fork. */
    w.buf[w.len - 1] ^= 1;
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    CHECK(r->parties[0].forks == 1);
    /* A sender past the roster. */
    m.tag[0] ^= 1;
    m.sender = 9;
    w.len = 0;
    fkex_rmsg_join_ack_encode(&w, &m);
    sign(&w, r->parties[bob].st->sig_sk, "join ack");
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    /* The real one with a byte more, then as it is. */
    CHECK_ERR(inject_longer(r, 0, ack->bytes, ack->len), FKEX_ERR_BAD_ENCODING);
    CHECK(!fkex_ratchet_acked(r->parties[0].st, 1));
    CHECK_OK(room_inject(r, 0, ack->bytes, ack->len));
    CHECK(fkex_ratchet_acked(r->parties[0].st, 1) && r->parties[0].forks == 1);
    fkex_writer_free(&w);
    tap_free(&t);
    room_free(r);
}

/* ---- JoinRequest (admission.c admission_on_request) --------------------------------- */

/* A JoinRequest of joiner x with some fields replaced, signed with sk. */
static void forge_request(fkex_writer *w, const fkex_ratchet *x, const uint8_t *sig_pk,
                          const uint8_t *hpke_pk, const uint8_t *ct, size_t ctlen,
                          const uint8_t sk[64])
{
    fkex_rmsg_join_request q;
    CHECK_OK(fkex_rmsg_join_request_decode(&q, x->join_request, x->join_request_len));
    if (sig_pk)
        memcpy(q.leaf.sig_pk, sig_pk, 32);
    if (hpke_pk)
        memcpy(q.leaf.hpke_pk, hpke_pk, 32);
    if (ct) {
        q.abe_ct = ct;
        q.abe_ctlen = ctlen;
    }
    fkex_writer_init(w);
    fkex_rmsg_join_request_encode(w, &q);
    sign(w, sk, "join request");
}

static fkex_ratchet *new_joiner(room *r, const fkex_key *key)
{
    fkex_ratchet_config cfg = { .key = key, .descriptor = r->descriptor,
                                .descriptor_len = r->descriptor_len };
    fkex_ratchet *x = NULL;
    fkex_gke_out out;
    memcpy(cfg.room_id, r->room_id, 32);
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_join(&x, &cfg, &r->rng, &out));
    fkex_gke_out_clear(&out);
    return x;
}

/* The reason of the JoinRefused the sponsor sent last (the room records
 * its transcript), or -1 if its last frame is not one. */
static int refused_reason(const room *r, size_t before)
{
    fkex_rmsg_join_refused m;
    if (r->ntranscript == before ||
        fkex_rmsg_join_refused_decode(&m, r->transcript[r->ntranscript - 1].bytes,
                                      r->transcript[r->ntranscript - 1].len) != FKEX_OK)
        return -1;
    return m.reason;
}

/* Kills, at the sponsor: the low-order check on X_J (X25519 of e_S with
 * X_J), the policy of C_J (a ciphertext under a policy the sponsor
 * satisfies but that is not the room's), a JoinRequest whose V or whose X
 * is a member's, a JoinRequest replayed while its join is pending, and
 * the decoder's no-trailing-bytes rule. Each refusal leaves no pending
 * join, and is answered with a JoinRefused (INVALID) when the request
 * names a joiner, so that the relay frees the slot at once. */
static void test_join_request_checks(void)
{
    room *r = room_new("join request checks");
    int bob = room_join(r, cw.bob);
    fkex_ratchet *alice = r->parties[0].st;
    fkex_ratchet *x = new_joiner(r, cw.carol);
    fkex_writer w;
    size_t seen;
    r->record = 1;
    static const uint8_t low_order[2][32] = { { 0 }, { 1 } };   /* u = 0 and u = 1 */
    for (int i = 0; i < 2; i++) {
        forge_request(&w, x, NULL, low_order[i], NULL, 0, x->sig_sk);
        seen = r->ntranscript;
        CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_NOT_IN_GROUP);
        CHECK(refused_reason(r, seen) == FKEX_JOIN_REFUSED_INVALID);
        fkex_writer_free(&w);
    }
    /* C_J under "ONE", which alice satisfies. */
    uint8_t k[32];
    fkex_abe_ct *ct;
    const uint8_t *ctb;
    size_t ctlen;
    encap(k, &ct, "ONE", &r->rng);
    fkex_abe_ct_bytes(&ctb, &ctlen, ct);
    forge_request(&w, x, NULL, NULL, ctb, ctlen, x->sig_sk);
    seen = r->ntranscript;
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_WRONG_ROOM);
    CHECK(refused_reason(r, seen) == FKEX_JOIN_REFUSED_INVALID);
    fkex_writer_free(&w);
    fkex_abe_ct_free(ct);
    /* bob's V (signed by bob) with a new X; a new V with bob's X. */
    forge_request(&w, x, r->parties[bob].st->self.sig_pk, NULL, NULL, 0,
                  r->parties[bob].st->sig_sk);
    seen = r->ntranscript;
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_REPLAY);
    CHECK(refused_reason(r, seen) == FKEX_JOIN_REFUSED_INVALID);
    fkex_writer_free(&w);
    forge_request(&w, x, NULL, r->parties[bob].st->self.hpke_pk, NULL, 0, x->sig_sk);
    seen = r->ntranscript;
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_REPLAY);
    CHECK(refused_reason(r, seen) == FKEX_JOIN_REFUSED_INVALID);
    fkex_writer_free(&w);
    /* A byte after the signature: it names nobody, so nothing answers it. */
    seen = r->ntranscript;
    CHECK_ERR(inject_longer(r, 0, x->join_request, x->join_request_len), FKEX_ERR_BAD_ENCODING);
    CHECK(r->ntranscript == seen);
    CHECK(alice->njoins == 0);
    size_t before = r->parties[0].bytes_sent;
    /* The request itself is fine: a Challenge, once. */
    CHECK_OK(room_inject(r, 0, x->join_request, x->join_request_len));
    size_t once = r->parties[0].bytes_sent;
    CHECK(alice->njoins == 1 && once > before);
    /* Sent again (the relay starts a join over when its sponsor was
     * silent): the join starts over, with a new Challenge, not a second. */
    CHECK_OK(room_inject(r, 0, x->join_request, x->join_request_len));
    CHECK(alice->njoins == 1 && r->parties[0].bytes_sent > once);
    fkex_ratchet_free(x);
    room_free(r);
}

/* ---- Challenge (admission.c admission_on_challenge) ---------------------------------- */

/* th as admission.c computes it. */
static void join_th(uint8_t th[32], const uint8_t *request, size_t request_len, const uint8_t *ct,
                    size_t ctlen, const uint8_t e_pub[32], const fkex_group_context *c)
{
    static const char label[] = "fkex v1 join";
    crypto_hash_sha256_state h;
    uint8_t n[4], ctx[8 + 32 + 32 + 32];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)label, sizeof label - 1);
    store32_be(n, (uint32_t)request_len);
    crypto_hash_sha256_update(&h, n, 4);
    crypto_hash_sha256_update(&h, request, request_len);
    store32_be(n, (uint32_t)ctlen);
    crypto_hash_sha256_update(&h, n, 4);
    crypto_hash_sha256_update(&h, ct, ctlen);
    crypto_hash_sha256_update(&h, e_pub, 32);
    store64_be(ctx, c->epoch);
    memcpy(ctx + 8, c->transcript_hash, 32);
    memcpy(ctx + 40, c->roster_hash, 32);
    memcpy(ctx + 72, c->descriptor_hash, 32);
    crypto_hash_sha256_update(&h, ctx, sizeof ctx);
    crypto_hash_sha256_final(&h, th);
}

/* A Challenge from sponsor s to joiner j with a valid tag_S (the test
 * knows k_J), C_S under `policy`, the ephemeral key e_pub (NULL: a fresh
 * one), and optionally another joiner id or descriptor hash. */
static void forge_challenge(fkex_writer *w, const fkex_ratchet *s, const fkex_ratchet *j,
                            const char *policy, const uint8_t *e_pub, const uint8_t *joiner_id,
                            const uint8_t *descriptor_hash, fkex_rng *rng)
{
    fkex_rmsg_challenge ch = { 0 };
    fkex_abe_ct *ct;
    uint8_t k[32], th[32], tk[32], e_sk[32];
    const uint8_t *ctb;
    size_t ctlen;
    encap(k, &ct, policy, rng);
    fkex_abe_ct_bytes(&ctb, &ctlen, ct);
    memcpy(ch.room_id, s->room_id, 32);
    ratchet_group_context(&ch.context, s);
    if (descriptor_hash)
        memcpy(ch.context.descriptor_hash, descriptor_hash, 32);
    memcpy(ch.joiner_id, joiner_id ? joiner_id : j->leaf_id, 32);
    ch.sponsor_index = s->index;
    memcpy(ch.sponsor_pk, s->self.sig_pk, 32);
    ch.abe_ct = ctb;
    ch.abe_ctlen = ctlen;
    if (e_pub) {
        memcpy(ch.ephemeral_pk, e_pub, 32);
    } else {
        fkex_rng_fill(rng, e_sk, 32);
        crypto_scalarmult_base(ch.ephemeral_pk, e_sk);
    }
    join_th(th, j->join_request, j->join_request_len, ctb, ctlen, ch.ephemeral_pk, &ch.context);
    fkex_kdf_expand(tk, j->k_j, "sponsor", th, 32);
    fkex_mac(ch.tag, tk, th, 32);
    fkex_writer_init(w);
    fkex_rmsg_challenge_encode(w, &ch);
    sign(w, s->sig_sk, "challenge");
    fkex_abe_ct_free(ct);
}

/* Kills, at the joiner: the Challenge's joiner id, the descriptor hash of
 * its group context (a rollback to an older descriptor), the low-order
 * check on e_S, the policy of C_S (a ciphertext the joiner can open, under
 * a policy that is not the room's), and the decoder's
 * no-trailing-bytes rule. Every Challenge here carries a valid tag_S, so
 * only the check under test can refuse it. */
static void test_challenge_checks(void)
{
    room *r = room_new("challenge checks");
    tap t = { 1u << FKEX_RMSG_JOIN_REQUEST, { { 0 } }, { 0 }, 0 };
    fkex_err err;
    fkex_writer w;
    r->tamper = tap_fn;
    r->tamper_ctx = &t;
    int bob = room_join_start(r, cw.bob, &err);
    int carol = room_join_start(r, cw.carol, &err);
    room_run(r, 100);
    r->tamper = NULL;
    CHECK(bob > 0 && carol > 0 && r->parties[0].st->njoins == 0);
    fkex_ratchet *alice = r->parties[0].st, *b = r->parties[bob].st;
    uint8_t other[32], old_hash[32];
    fkex_rng_fill(&r->rng, other, 32);
    /* Another joiner's Challenge. */
    forge_challenge(&w, alice, b, alice->room.policy_text, NULL, other, NULL, &r->rng);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_UNEXPECTED);
    fkex_writer_free(&w);
    /* A group context naming another descriptor of the room (an older
     * one, say), although tag_S is right for it. */
    uint8_t *d1;
    size_t d1len;
    CHECK_OK(fkex_room_descriptor_create(&d1, &d1len, "room", "ONE or THREE", 0, 0, r->admin_sk));
    crypto_hash_sha256(old_hash, d1, d1len);
    free(d1);
    forge_challenge(&w, alice, b, alice->room.policy_text, NULL, NULL, old_hash, &r->rng);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_WRONG_ROOM);
    fkex_writer_free(&w);
    /* A low-order e_S. */
    static const uint8_t zero[32];
    forge_challenge(&w, alice, b, alice->room.policy_text, zero, NULL, NULL, &r->rng);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_NOT_IN_GROUP);
    fkex_writer_free(&w);
    /* A byte after the signature. */
    forge_challenge(&w, alice, b, alice->room.policy_text, NULL, NULL, NULL, &r->rng);
    CHECK_ERR(inject_longer(r, bob, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    CHECK(!r->parties[bob].aborted && b->phase == RATCHET_JOIN_SENT);
    /* The same Challenge as it is: a Proof. */
    CHECK_OK(room_inject(r, bob, w.buf, w.len));
    CHECK(b->phase == RATCHET_PROOF_SENT);
    fkex_writer_free(&w);
    /* C_S under "ONE or FOUR": carol {ONE FOUR} can open it, but it is not
     * the room's policy. She refuses it (and keeps waiting). */
    forge_challenge(&w, alice, r->parties[carol].st, "ONE or FOUR", NULL, NULL, NULL, &r->rng);
    CHECK_ERR(room_inject(r, carol, w.buf, w.len), FKEX_ERR_WRONG_ROOM);
    CHECK(!r->parties[carol].aborted && r->parties[carol].st->phase == RATCHET_JOIN_SENT);
    fkex_writer_free(&w);
    tap_free(&t);
    room_free(r);
}

/* ---- Proof (admission.c admission_on_proof) ------------------------------------------- */

/* Kills: the Proof's joiner id, the replay of an accepted Proof, and the
 * decoder's no-trailing-bytes rule. */
static void test_proof_checks(void)
{
    room *r = room_new("proof checks");
    tap t = { 1u << FKEX_RMSG_PROOF, { { 0 } }, { 0 }, 0 };
    fkex_err err;
    r->tamper = tap_fn;
    r->tamper_ctx = &t;
    int bob = room_join_start(r, cw.bob, &err);
    room_run(r, 100);
    r->tamper = NULL;
    const room_frame *proof = tapped(&t, FKEX_RMSG_PROOF, 0);
    CHECK(proof != NULL && r->parties[0].admitted == 0);
    if (!proof) {
        room_free(r);
        return;
    }
    /* The Proof under another joiner id, signed by bob. */
    fkex_rmsg_proof pr;
    fkex_writer w;
    CHECK_OK(fkex_rmsg_proof_decode(&pr, proof->bytes, proof->len));
    pr.joiner_id[0] ^= 1;
    fkex_writer_init(&w);
    fkex_rmsg_proof_encode(&w, &pr);
    sign(&w, r->parties[bob].st->sig_sk, "proof");
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_UNEXPECTED);
    CHECK_ERR(inject_longer(r, 0, proof->bytes, proof->len), FKEX_ERR_BAD_ENCODING);
    CHECK(r->parties[0].admitted == 0);
    CHECK_OK(room_inject(r, 0, proof->bytes, proof->len));
    CHECK(r->parties[0].admitted == 1);
    CHECK_ERR(room_inject(r, 0, proof->bytes, proof->len), FKEX_ERR_REPLAY);
    CHECK(r->parties[0].admitted == 1);
    fkex_writer_free(&w);
    tap_free(&t);
    room_free(r);
}

/* ---- Welcome (admission.c admission_on_welcome) ---------------------------------------- */

/* Kills, at the joiner: the Welcome's confirmation tag, its descriptor
 * (another valid descriptor of the room), a roster without the sponsor, a
 * roster without the joiner, and the strict decoding of the Welcome and
 * of its sealed state (no trailing bytes). Each forged Welcome is sealed
 * under the joiner's real K_w (as only the sponsor could), so only the
 * check under test can refuse it. */
static void test_welcome_checks(void)
{
    room *r = room_new("welcome checks");
    tap t = { 1u << FKEX_RMSG_WELCOME, { { 0 } }, { 0 }, 0 };
    r->tamper = tap_fn;
    r->tamper_ctx = &t;
    int bob = room_join(r, cw.bob);
    r->tamper = NULL;
    const room_frame *wf = tapped(&t, FKEX_RMSG_WELCOME, bob);
    fkex_ratchet *b = r->parties[bob].st;
    CHECK(wf != NULL && b->phase == RATCHET_PROOF_SENT && r->epoch == 1);
    if (!wf) {
        room_free(r);
        return;
    }
    fkex_rmsg_welcome m;
    fkex_welcome_state ws, v;
    uint8_t key[32], aad[64], *plain = malloc(wf->len), leaves[4 * 64], *d2;
    unsigned long long plainlen;
    static const uint8_t nonce[12];
    size_t d2len;
    fkex_writer w;
    CHECK_OK(fkex_rmsg_welcome_decode(&m, wf->bytes, wf->len));
    memcpy(aad, b->th, 32);
    memcpy(aad + 32, m.commit_hash, 32);
    fkex_kdf_expand(key, b->k_w, "welcome", NULL, 0);
    CHECK(crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plainlen, NULL, m.sealed, m.sealedlen,
                                                    aad, sizeof aad, nonce, key) == 0);
    CHECK_OK(fkex_welcome_state_decode(&ws, plain, (size_t)plainlen));
    CHECK(ws.nleaves == 2);
    /* A wrong confirmation tag. */
    v = ws;
    v.confirmation_tag[0] ^= 1;
    gke_welcome_reseal(&w, b->k_w, b->th, &m, &v, 0);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    fkex_writer_free(&w);
    /* Another descriptor of the same room and admin. */
    CHECK_OK(fkex_room_descriptor_create(&d2, &d2len, "room", "ONE or THREE", 2, 0, r->admin_sk));
    v = ws;
    v.descriptor = d2;
    v.descriptorlen = d2len;
    gke_welcome_reseal(&w, b->k_w, b->th, &m, &v, 0);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_WRONG_ROOM);
    fkex_writer_free(&w);
    free(d2);
    /* The sponsor (alice, leaf 0), then the joiner (leaf 1), replaced by
     * a stranger; the confirmation tag made right for that roster. */
    for (int i = 0; i < 2; i++) {
        memcpy(leaves, ws.leaves, 2 * 64);
        fkex_rng_fill(&r->rng, leaves + 64 * i, 64);
        v = ws;
        v.leaves = leaves;
        gke_welcome_tag(&v, r->room_id);
        gke_welcome_reseal(&w, b->k_w, b->th, &m, &v, 0);
        CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
        fkex_writer_free(&w);
    }
    /* A byte after the sealed state, inside the AEAD. */
    gke_welcome_reseal(&w, b->k_w, b->th, &m, &ws, 1);
    CHECK_ERR(room_inject(r, bob, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
    /* A byte after the Welcome. */
    CHECK_ERR(inject_longer(r, bob, wf->bytes, wf->len), FKEX_ERR_BAD_ENCODING);
    CHECK(b->phase == RATCHET_PROOF_SENT && !r->parties[bob].joined);
    /* The real one. */
    CHECK_OK(room_inject(r, bob, wf->bytes, wf->len));
    room_run(r, 100);
    CHECK(r->parties[bob].joined && room_agree(r));
    free(plain);
    tap_free(&t);
    room_free(r);
}

/* A sponsor that lies about the ratchet tree (ARCHITECTURE.md, "The
 * ratchet tree"): alice, who knows the epoch secret she hands dave, gives
 * him a tree with one parent's key changed and a confirmation tag made
 * right for it. dave cannot tell from the Welcome, and joins; but his keys
 * are not the room's, so the settling EpochAck (bob's or carol's, made
 * with the keys of the tree they built) fails his check, and he reports a
 * fork. With the true tree (lie == 0), the same ack agrees. */
static void false_tree_run(int lie)
{
    room *r = room3(lie ? "false tree" : "true tree");
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(room_commit(r, 1, &upd));   /* bob's path: parents get keys */
    room_run(r, 1000);
    CHECK(r->epoch == 3 && room_agree(r));
    tap t = { (1u << FKEX_RMSG_WELCOME) | (1u << FKEX_RMSG_EPOCH_ACK), { { 0 } }, { 0 }, 0 };
    r->tamper = tap_fn;
    r->tamper_ctx = &t;
    int dave = room_join(r, cw.carol);
    r->tamper = NULL;
    const room_frame *wf = tapped(&t, FKEX_RMSG_WELCOME, dave);
    const room_frame *af = tapped(&t, FKEX_RMSG_EPOCH_ACK, dave);
    fkex_ratchet *d = r->parties[dave].st;
    CHECK(wf != NULL && af != NULL && d->phase == RATCHET_PROOF_SENT && r->epoch == 4);
    if (!wf || !af) {
        tap_free(&t);
        room_free(r);
        return;
    }
    fkex_writer w;
    CHECK_OK(gke_welcome_retree(&w, wf->bytes, wf->len, d->k_w, d->th, r->room_id,
                                lie ? GKE_WELCOME_FALSE_TREE : GKE_WELCOME_TRUE));
    CHECK_OK(room_inject(r, dave, w.buf, w.len));
    CHECK(r->parties[dave].joined);
    CHECK_OK(room_inject(r, dave, af->bytes, af->len));
    CHECK(r->parties[dave].forks == (lie ? 1u : 0u));
    uint8_t ad[32], aa[32];
    fkex_ratchet_epoch_authenticator(ad, d);
    fkex_ratchet_epoch_authenticator(aa, r->parties[0].st);
    CHECK((memcmp(ad, aa, 32) != 0) == lie);
    fkex_writer_free(&w);
    tap_free(&t);
    room_free(r);
}

static void test_welcome_false_tree(void)
{
    false_tree_run(1);
    false_tree_run(0);
}

/* A joiner whose commit's path meets its leaf below the root, where later
 * paths seal to it (review of issue 12: with party 0 sponsoring, the
 * meeting node is always the root, which is never sealed to). Parties 0
 * to 3 are away, so party 4 sponsors; 5 leaves in the same commit, and
 * the joiner takes leaf 5, with the path secret of node 9. A Welcome
 * whose path secret is false is refused; with the true one the joiner
 * holds node 9's key, and opens party 0's Update, sealed to node 9. */
static void test_joiner_path_secret(void)
{
    room *r = room_new("joiner path secret");
    fkex_commit_options upd = { .update = 1 };
    fkex_err err;
    fkex_writer w;
    for (int i = 0; i < 5; i++)
        CHECK(room_join(r, i % 2 ? cw.carol : cw.bob) == i + 1);
    CHECK(r->nroster == 6 && room_agree(r));
    for (int i = 0; i < 4; i++)
        r->parties[i].online = 0;
    int j = room_join_start(r, cw.carol, &err);
    room_run(r, 1000);
    CHECK(j > 0 && r->parties[4].admitted == 1);
    tap t = { 1u << FKEX_RMSG_WELCOME, { { 0 } }, { 0 }, 0 };
    r->tamper = tap_fn;
    r->tamper_ctx = &t;
    CHECK_OK(room_leave(r, 5));
    r->tamper = NULL;
    const room_frame *wf = tapped(&t, FKEX_RMSG_WELCOME, j);
    fkex_ratchet *s = r->parties[j].st;
    CHECK(wf != NULL && !r->parties[j].joined);
    if (!wf) {
        tap_free(&t);
        room_free(r);
        return;
    }
    CHECK_OK(gke_welcome_retree(&w, wf->bytes, wf->len, s->k_w, s->th, r->room_id,
                                GKE_WELCOME_FALSE_SECRET));
    CHECK_ERR(room_inject(r, j, w.buf, w.len), FKEX_ERR_AUTHENTICATION);
    fkex_writer_free(&w);
    CHECK_OK(room_inject(r, j, wf->bytes, wf->len));
    room_run(r, 1000);
    CHECK(r->parties[j].joined && room_agree(r) && fkex_ratchet_index(s) == 5);
    int nine = 0;
    for (uint32_t k = 0; k < s->tpriv.nkeys; k++)
        nine |= s->tpriv.keys[k].node == 9;
    CHECK(nine);
    for (int i = 0; i < 4; i++)
        r->parties[i].online = 1;
    uint64_t epoch = r->epoch;
    CHECK_OK(room_commit(r, 0, &upd));
    room_run(r, 1000);
    CHECK(r->epoch == epoch + 1 && room_agree(r) && !r->parties[j].lost);
    tap_free(&t);
    room_free(r);
}

/* The last member commits a removal, so it moves into the removed seat as
 * it commits (path.c, dist_tree_next; fkex_rmsg_commit_places): dave, at
 * leaf 3, removes bob at leaf 1 and takes his seat; everyone agrees, and
 * dave's next Update, from leaf 1, too. */
static void test_committer_moves(void)
{
    room *r = room3("committer moves");
    fkex_commit_options upd = { .update = 1 };
    int d = room_join(r, cw.bob);
    CHECK(d == 3 && room_agree(r));
    r->parties[0].online = r->parties[2].online = 0;   /* dave commits */
    CHECK_OK(room_leave(r, 1));
    CHECK(r->parties[1].left && room_agree(r) && fkex_ratchet_index(r->parties[d].st) == 1);
    r->parties[0].online = r->parties[2].online = 1;
    uint64_t epoch = r->epoch;
    CHECK_OK(room_commit(r, d, &upd));
    room_run(r, 1000);
    CHECK(r->epoch == epoch + 1 && room_agree(r));
    room_free(r);
}

/* ---- commits (commit.c commit_on_commit, next_roster) ---------------------------------- */

/* Kills, at a member: the committer's signature (bob, holding the
 * membership key, signs a commit naming alice), the future-epoch check,
 * the committer bound, "signed with this member's key yet not its
 * commit", the membership tag and the confirmation tag. Version 2: a
 * wrong membership tag, or a wrong confirmation tag on a commit whose
 * every input is signed (GROUP), is evidence against the signer; a wrong
 * confirmation tag on a star commit is a plain refusal (the relay could
 * have swapped a slice). A well-formed commit by bob is then prepared and
 * installed on SETTLED, so the forging itself is sound. */
static void test_commit_auth_checks(void)
{
    room *r = room3("commit auth checks");
    forge f;
    /* bob's commit, naming alice as committer. */
    forge_init(&f, r, 1);
    f.c.committer = 0;
    CHECK_ERR(inject_forged(r, 2, &f, 1), FKEX_ERR_AUTHENTICATION);
    /* For the next epoch, under this epoch's membership key. */
    forge_init(&f, r, 1);
    f.c.epoch++;
    CHECK_ERR(inject_forged(r, 2, &f, 1), FKEX_ERR_WRONG_EPOCH);
    /* A committer past the roster. */
    forge_init(&f, r, 1);
    f.c.committer = 7;
    CHECK_ERR(inject_forged(r, 2, &f, 1), FKEX_ERR_BAD_ENCODING);
    /* alice's own key (leaked), a commit she never made, the commit
     * secret her state would use if it did not check. */
    forge_init(&f, r, 0);
    memset(f.cs, 0, 32);
    CHECK_OK(inject_forged(r, 0, &f, 0));   /* refused, and said: a copy of her state is used */
    CHECK(r->parties[0].impersonated == 1 && !r->parties[0].st->tentative.active);
    CHECK(r->parties[0].accused == 0 && r->parties[2].accused == 0);
    /* A membership tag that is not MAC(membership_key, ...), signed. */
    forge_init(&f, r, 1);
    f.wrong_membership = 1;
    expect_evidence(r, 2, &f, 1);
    /* A confirmation tag over another commit secret, sealed under the add
     * key: everything the tag covers is signed, so the signer lied. */
    forge_init(&f, r, 1);
    f.wrong_tag = 1;
    expect_evidence(r, 2, &f, 1);
    /* The same by path (an update, so that a path is due): not evidence
     * (the slices are not signed). */
    forge_init(&f, r, 1);
    f.wrong_tag = 1;
    f.c.dist = FKEX_DIST_PATH;
    f.c.has_update = 1;
    fkex_rng_fill(&r->rng, f.c.update_sig_pk, 32);
    CHECK_ERR(inject_forged(r, 2, &f, 1), FKEX_ERR_AUTHENTICATION);
    CHECK(r->parties[2].accused == 2);
    CHECK(room_agree(r));
    /* Control: the same commit, right: prepared, then installed on SETTLED. */
    forge_init(&f, r, 1);
    CHECK_OK(inject_forged(r, 2, &f, 1));
    CHECK(r->parties[2].st->tentative.active && fkex_ratchet_epoch(r->parties[2].st) == 2);
    CHECK_OK(inject_settled(r, 2, 2, forged_hash));
    CHECK(fkex_ratchet_epoch(r->parties[2].st) == 3 && !r->parties[2].lost);
    room_free(r);
}

/* Kills: a committer removing itself (it would know the next epoch),
 * a removal or an update distributed under the old epoch's add key (the
 * removed member, or whoever holds the old HPKE key, would read the next
 * epoch), a descriptor change without a re-attestation, and the policy of
 * a re-attestation's ABE ciphertext. Version 2: each is its signer's
 * doing, so evidence (expect_evidence). */
static void test_commit_content_checks(void)
{
    room *r = room3("commit content checks");
    fkex_ratchet *alice = r->parties[0].st;
    forge f;
    uint8_t rm[4];
    /* bob removes himself, by path. */
    forge_init(&f, r, 1);
    store32_be(rm, 1);
    f.c.nremoves = 1;
    f.c.removes = rm;
    f.c.dist = FKEX_DIST_PATH;
    expect_evidence(r, 0, &f, 1);
    /* bob removes carol, under the add key. */
    forge_init(&f, r, 1);
    store32_be(rm, 2);
    f.c.nremoves = 1;
    f.c.removes = rm;
    expect_evidence(r, 0, &f, 1);
    /* bob updates his keys, under the add key. */
    forge_init(&f, r, 1);
    f.c.has_update = 1;
    fkex_rng_fill(&r->rng, f.c.update_sig_pk, 32);
    expect_evidence(r, 0, &f, 1);
    /* A new descriptor without a psk. */
    uint8_t *d2;
    size_t d2len;
    CHECK_OK(fkex_room_descriptor_create(&d2, &d2len, "room", "ONE and TWO", 2, 0, r->admin_sk));
    forge_init(&f, r, 1);
    f.c.descriptor = d2;
    f.c.descriptorlen = d2len;
    expect_evidence(r, 0, &f, 1);
    CHECK(strcmp(alice->room.policy_text, PROTOTYPE) == 0);
    free(d2);
    /* A re-attestation under "ONE or THREE", which everyone satisfies. */
    uint8_t psk[32];
    fkex_abe_ct *ct;
    encap(psk, &ct, "ONE or THREE", &r->rng);
    forge_init(&f, r, 1);
    fkex_abe_ct_bytes(&f.c.psk_ct, &f.c.psk_ctlen, ct);
    f.psk = psk;
    expect_evidence(r, 0, &f, 1);
    fkex_abe_ct_free(ct);
    CHECK(room_agree(r) && r->parties[0].accused == 5);
    /* Control: under the room's policy it is accepted. */
    encap(psk, &ct, alice->room.policy_text, &r->rng);
    forge_init(&f, r, 1);
    fkex_abe_ct_bytes(&f.c.psk_ct, &f.c.psk_ctlen, ct);
    f.psk = psk;
    CHECK_OK(inject_forged(r, 0, &f, 1));
    CHECK_OK(inject_settled(r, 0, 2, forged_hash));
    CHECK(fkex_ratchet_epoch(alice) == 3);
    fkex_abe_ct_free(ct);
    room_free(r);
}

/* Kills, in next_roster: an added leaf with a member's V, an added leaf
 * with a member's X, and an update to another member's X. (Removal
 * indices past the roster: test_commit_removal_out_of_range.) */
static void test_commit_roster_checks(void)
{
    room *r = room3("commit roster checks");
    const fkex_ratchet *carol = r->parties[2].st;
    forge f;
    uint8_t add[64];
    /* bob adds a leaf with carol's V, then one with carol's X. */
    for (int i = 0; i < 2; i++) {
        forge_init(&f, r, 1);
        fkex_rng_fill(&r->rng, add, 64);
        memcpy(add + 32 * i, i ? carol->self.hpke_pk : carol->self.sig_pk, 32);
        f.c.nadds = 1;
        f.c.adds = add;
        expect_evidence(r, 0, &f, 1);   /* a roster its signer made impossible */
    }
    /* bob's path gives him carol's X. */
    forge_init(&f, r, 1);
    f.c.has_update = 1;
    f.leaf_pk = carol->self.hpke_pk;
    fkex_rng_fill(&r->rng, f.c.update_sig_pk, 32);
    f.c.dist = FKEX_DIST_PATH;
    expect_evidence(r, 0, &f, 1);
    /* bob updates his V to carol's (version 2: V rotates too). */
    forge_init(&f, r, 1);
    f.c.has_update = 1;
    memcpy(f.c.update_sig_pk, carol->self.sig_pk, 32);
    f.c.dist = FKEX_DIST_PATH;
    expect_evidence(r, 0, &f, 1);
    CHECK(room_agree(r));
    /* Control: a new leaf of fresh keys is added. */
    forge_init(&f, r, 1);
    fkex_rng_fill(&r->rng, add, 64);
    f.c.nadds = 1;
    f.c.adds = add;
    CHECK_OK(inject_forged(r, 0, &f, 1));
    CHECK_OK(inject_settled(r, 0, 2, forged_hash));
    CHECK(fkex_ratchet_members(r->parties[0].st) == 4);
    room_free(r);
}

/* A member finds its own slice among all of a path commit's slices (a
 * relay that does not cut the commit into views): the lowest node that
 * covers its leaf. Kills dist_open's choice of the slice. */
static void test_full_path_commit(void)
{
    room *r = room3("full path commit");
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK_OK(fkex_ratchet_commit(r->parties[2].st, &upd, &r->rng, &o));
    fkex_rmsg_commit c;
    CHECK_OK(fkex_rmsg_commit_decode(&c, o.msgs[0].bytes, o.msgs[0].len));
    /* carol's path in a tree of 4 leaves: node 5 (its copath, leaf 3, is
     * blank: filtered out), then the root, whose copath child (node 1,
     * blank after two joins) resolves to alice's and bob's leaves. */
    CHECK(c.dist == FKEX_DIST_PATH && c.path_len == 1 && c.nslices == 2);
    CHECK(load32_be(c.slices) == 0 && load32_be(c.slices + FKEX_SLICE_BYTES) == 2);
    CHECK(fkex_rmsg_commit_slice(&c, 1) == c.slices + FKEX_SLICE_BYTES);
    CHECK_OK(room_inject(r, 1, o.msgs[0].bytes, o.msgs[0].len));
    CHECK(r->parties[1].st->tentative.active);
    uint8_t hash[32];
    commit_hash_of(hash, o.msgs[0].bytes, o.msgs[0].len);
    CHECK_OK(inject_settled(r, 1, 2, hash));
    CHECK(fkex_ratchet_epoch(r->parties[1].st) == 3);
    fkex_gke_out_clear(&o);
    room_free(r);
}

/* ---- the commit decoder's rules (ratchet_msg.c) ------------------------------------------ */

typedef struct {
    fkex_rmsg_commit c;
    uint32_t nslices;
    int trailing;
} commit_bytes;

/* Content, then 32 + 64 + 32 bytes of tags, then nslices slices for
 * nodes 0, 1, 2, ... */
static void build_commit(fkex_writer *w, const commit_bytes *b)
{
    static const uint8_t tags[128], sealed[FKEX_SLICE_BYTES - 4];
    fkex_writer_init(w);
    fkex_rmsg_commit_encode(w, &b->c);
    fkex_writer_put(w, tags, sizeof tags);
    fkex_writer_u32(w, b->nslices);
    for (uint32_t i = 0; i < b->nslices; i++) {
        fkex_writer_u32(w, i);
        fkex_writer_put(w, sealed, sizeof sealed);
    }
    if (b->trailing)
        fkex_writer_u8(w, 0);
}

static fkex_err decode_built(const commit_bytes *b, size_t patch, uint8_t value)
{
    fkex_writer w;
    fkex_rmsg_commit c;
    build_commit(&w, b);
    if (patch)
        w.buf[patch] = value;
    fkex_err err = w.failed ? FKEX_ERR_NO_MEMORY : fkex_rmsg_commit_decode(&c, w.buf, w.len);
    fkex_writer_free(&w);
    return err;
}

/* Kills the commit decoder's rules: at most FKEX_ROOM_MAX_MEMBERS adds,
 * removals and slices; an update flag of 0 or 1; a distribution of GROUP
 * or PATH; a path of at most FKEX_PATH_MAX nodes; slices by increasing
 * node; no slices with GROUP; no trailing bytes; removals strictly
 * increasing (no repeat, no disorder). Each message is complete, so only
 * the rule under test can refuse it. */
static void test_commit_decoder_rules(void)
{
    commit_bytes b;
    uint8_t rm[8];
    memset(&b, 0, sizeof b);
    b.c.dist = FKEX_DIST_GROUP;
    CHECK_OK(decode_built(&b, 0, 0));
    /* Offsets with no adds and no removals: the update flag at 86, then
     * (no update) 4 + 4 bytes of empty psk and descriptor, dist at 95; a
     * path's leaf key at 96 and its length at 128. */
    b.c.dist = FKEX_DIST_PATH;
    CHECK_OK(decode_built(&b, 0, 0));
    CHECK_ERR(decode_built(&b, 95, 3), FKEX_ERR_BAD_ENCODING);
    CHECK_ERR(decode_built(&b, 128, FKEX_PATH_MAX + 1), FKEX_ERR_BAD_ENCODING);
    /* Slices: nodes strictly increasing (the low byte of slice 1's node, after
     * 129 bytes of content, 128 of tags and the count, set to 0). */
    b.nslices = 2;
    CHECK_OK(decode_built(&b, 0, 0));
    CHECK_ERR(decode_built(&b, 129 + 128 + 4 + FKEX_SLICE_BYTES + 3, 0), FKEX_ERR_BAD_ENCODING);
    b.nslices = 0;
    b.c.dist = FKEX_DIST_GROUP;
    b.c.has_update = 1;
    CHECK_OK(decode_built(&b, 0, 0));
    CHECK_ERR(decode_built(&b, 86, 2), FKEX_ERR_BAD_ENCODING);
    b.c.has_update = 0;
    b.nslices = 1;
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);   /* GROUP with a slice */
    b.nslices = 0;
    b.trailing = 1;
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);
    b.trailing = 0;
    /* Removals: 1, 1 and 2, 1. */
    b.c.nremoves = 2;
    b.c.removes = rm;
    b.c.dist = FKEX_DIST_PATH;
    store32_be(rm, 1);
    store32_be(rm + 4, 2);
    CHECK_OK(decode_built(&b, 0, 0));
    store32_be(rm + 4, 1);
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);
    store32_be(rm, 2);
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);
    b.c.nremoves = 0;
    /* One more than the room can hold: slices, adds, removals. */
    const uint32_t over = FKEX_ROOM_MAX_MEMBERS + 1;
    b.nslices = over;
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);
    b.nslices = 0;
    uint8_t *adds = calloc(over, 64);
    for (uint32_t i = 0; i < over; i++)
        store32_be(adds + 64 * i, i);
    b.c.nadds = over;
    b.c.adds = adds;
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);
    b.c.nadds = 0;
    uint8_t *many = malloc(4 * (size_t)over);
    for (uint32_t i = 0; i < over; i++)
        store32_be(many + 4 * i, i);
    b.c.nremoves = over;
    b.c.removes = many;
    CHECK_ERR(decode_built(&b, 0, 0), FKEX_ERR_BAD_ENCODING);
    free(many);
    free(adds);
}

/* Kills the header rules: the decoders check the type and the version,
 * and fkex_rmsg_peek checks the type's range, the version, and that the
 * room id is there. */
static void test_header_rules(void)
{
    commit_bytes b;
    fkex_writer w;
    fkex_rmsg_commit c;
    fkex_rmsg_join_ack a;
    fkex_rmsg_type type;
    uint8_t id[32];
    memset(&b, 0, sizeof b);
    b.c.dist = FKEX_DIST_GROUP;
    build_commit(&w, &b);
    CHECK_OK(fkex_rmsg_commit_decode(&c, w.buf, w.len));
    CHECK_ERR(fkex_rmsg_join_ack_decode(&a, w.buf, w.len), FKEX_ERR_WRONG_KIND);
    w.buf[1] = FKEX_RATCHET_VERSION + 1;
    CHECK_ERR(fkex_rmsg_commit_decode(&c, w.buf, w.len), FKEX_ERR_UNSUPPORTED);
    CHECK_ERR(fkex_rmsg_peek(&type, id, w.buf, w.len), FKEX_ERR_UNSUPPORTED);
    w.buf[1] = FKEX_RATCHET_VERSION;
    w.buf[0] = FKEX_RMSG_JOIN_REFUSED + 1;
    CHECK_ERR(fkex_rmsg_peek(&type, id, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    w.buf[0] = 0;
    CHECK_ERR(fkex_rmsg_peek(&type, id, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    w.buf[0] = FKEX_RMSG_COMMIT;
    /* Version 2 for room messages: a version-1 commit is refused. */
    w.buf[1] = 1;
    CHECK_ERR(fkex_rmsg_commit_decode(&c, w.buf, w.len), FKEX_ERR_UNSUPPORTED);
    CHECK_ERR(fkex_rmsg_peek(&type, id, w.buf, w.len), FKEX_ERR_UNSUPPORTED);
    w.buf[1] = FKEX_RATCHET_VERSION;
    uint8_t *shortb = malloc(20);
    memcpy(shortb, w.buf, 20);
    CHECK_ERR(fkex_rmsg_peek(&type, id, shortb, 20), FKEX_ERR_TRUNCATED);
    free(shortb);
    fkex_writer_free(&w);
    /* The descriptor stays at version 1 (room ids do not change): the
     * peek and the decoder take 1 and refuse the room messages' 2. */
    fkex_rmsg_descriptor d;
    uint8_t *desc;
    size_t desclen;
    uint8_t sk[64], pk[32];
    fkex_rng rng;
    uint8_t seed[32] = { 7 };
    fkex_rng_init_seed(&rng, seed);
    fkex_sign_keypair(pk, sk, &rng);
    CHECK_OK(fkex_room_descriptor_create(&desc, &desclen, "room", "ONE", 1, 0, sk));
    CHECK(desc[0] == FKEX_RMSG_DESCRIPTOR && desc[1] == FKEX_DESCRIPTOR_VERSION);
    CHECK_OK(fkex_rmsg_peek(&type, id, desc, desclen));
    CHECK_OK(fkex_rmsg_descriptor_decode(&d, desc, desclen));
    desc[1] = FKEX_RATCHET_VERSION;
    CHECK_ERR(fkex_rmsg_peek(&type, id, desc, desclen), FKEX_ERR_UNSUPPORTED);
    CHECK_ERR(fkex_rmsg_descriptor_decode(&d, desc, desclen), FKEX_ERR_UNSUPPORTED);
    free(desc);
    /* The two new messages: each decoder takes its own type only. */
    fkex_rmsg_settled se = { 0 };
    fkex_rmsg_epoch_ack ea;
    fkex_writer_init(&w);
    fkex_rmsg_settled_encode(&w, &se);
    CHECK_OK(fkex_rmsg_settled_decode(&se, w.buf, w.len));
    CHECK_ERR(fkex_rmsg_epoch_ack_decode(&ea, w.buf, w.len), FKEX_ERR_WRONG_KIND);
    w.buf[1] = 1;
    CHECK_ERR(fkex_rmsg_settled_decode(&se, w.buf, w.len), FKEX_ERR_UNSUPPORTED);
    fkex_writer_free(&w);
    /* A JoinRefused: a known reason, nothing after it. */
    fkex_rmsg_join_refused jr = { .reason = FKEX_JOIN_REFUSED_BUSY };
    fkex_writer_init(&w);
    fkex_rmsg_join_refused_encode(&w, &jr);
    CHECK_OK(fkex_rmsg_join_refused_decode(&jr, w.buf, w.len));
    CHECK_OK(fkex_rmsg_peek(&type, id, w.buf, w.len));
    CHECK(type == FKEX_RMSG_JOIN_REFUSED);
    CHECK_ERR(fkex_rmsg_join_refused_decode(&jr, w.buf, w.len - 1), FKEX_ERR_TRUNCATED);
    w.buf[2 + 32 + 32] = FKEX_JOIN_REFUSED_BUSY + 1;
    CHECK_ERR(fkex_rmsg_join_refused_decode(&jr, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    w.buf[2 + 32 + 32] = 0;
    CHECK_ERR(fkex_rmsg_join_refused_decode(&jr, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    w.buf[2 + 32 + 32] = FKEX_JOIN_REFUSED_AUTHORITY;
    fkex_writer_u8(&w, 0);
    CHECK_ERR(fkex_rmsg_join_refused_decode(&jr, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
}

/* ---- application messages (appmsg.c) -------------------------------------------------------- */

/* Kills: the sender bound, a ciphertext shorter than its tag, the
 * decoder's no-trailing-bytes rule, and the sender's refusal to let its
 * generation wrap. */
static void test_message_checks(void)
{
    room *r = room_new("message checks");
    int bob = room_join(r, cw.bob);
    fkex_ratchet *b = r->parties[bob].st;
    fkex_rmsg_application m = { 0 };
    fkex_writer w;
    uint8_t ct[16] = { 0 };
    memcpy(m.room_id, r->room_id, 32);
    m.epoch = 1;
    m.sender = 9;
    m.ct = ct;
    m.ctlen = sizeof ct;
    fkex_writer_init(&w);
    fkex_rmsg_application_encode(&w, &m);
    sign(&w, b->sig_sk, "message");
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    m.sender = 1;
    m.ctlen = 0;
    w.len = 0;
    fkex_rmsg_application_encode(&w, &m);
    sign(&w, b->sig_sk, "message");
    CHECK_ERR(room_inject(r, 0, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK_OK(fkex_ratchet_send(b, (const uint8_t *)"hi", 2, &o));
    CHECK_ERR(inject_longer(r, 0, o.msgs[0].bytes, o.msgs[0].len), FKEX_ERR_BAD_ENCODING);
    CHECK(r->parties[0].messages == 0);
    CHECK_OK(room_inject(r, 0, o.msgs[0].bytes, o.msgs[0].len));
    CHECK(r->parties[0].messages == 1);
    fkex_gke_out_clear(&o);
    /* The last generation of an epoch. */
    b->send_generation = UINT32_MAX;
    CHECK_ERR(fkex_ratchet_send(b, (const uint8_t *)"x", 1, &o), FKEX_ERR_ARGUMENT);
    CHECK(o.nmsgs == 0);
    fkex_gke_out_clear(&o);
    room_free(r);
}

/* ---- the local API's guards ----------------------------------------------------------- */

/* Kills: send and propose_remove only for members, send's length bound,
 * propose_remove's index bound, one pending commit at a time, and a
 * member never committing its own removal. */
static void test_local_api_guards(void)
{
    room *r = room_new("api guards");
    int bob = room_join(r, cw.bob);
    fkex_ratchet *x = new_joiner(r, cw.carol);
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK_ERR(fkex_ratchet_send(x, (const uint8_t *)"x", 1, &o), FKEX_ERR_UNEXPECTED);
    CHECK_ERR(fkex_ratchet_propose_remove(x, 0, &o), FKEX_ERR_UNEXPECTED);
    uint8_t *big = calloc(FKEX_MESSAGE_MAX, 1);
    CHECK_ERR(fkex_ratchet_send(r->parties[0].st, big, FKEX_MESSAGE_MAX, &o), FKEX_ERR_ARGUMENT);
    free(big);
    CHECK_ERR(fkex_ratchet_propose_remove(r->parties[0].st, 2, &o), FKEX_ERR_ARGUMENT);
    CHECK(o.nmsgs == 0);
    fkex_commit_options upd = { .update = 1 };
    CHECK_OK(fkex_ratchet_commit(r->parties[bob].st, &upd, &r->rng, &o));
    CHECK_ERR(fkex_ratchet_commit(r->parties[bob].st, &upd, &r->rng, &o), FKEX_ERR_UNEXPECTED);
    CHECK(o.nmsgs == 1);
    fkex_gke_out_clear(&o);
    /* alice proposes her own removal; she cannot commit it herself. */
    CHECK_OK(fkex_ratchet_propose_remove(r->parties[0].st, 0, &o));
    CHECK_OK(room_inject(r, 0, o.msgs[0].bytes, o.msgs[0].len));
    fkex_gke_out_clear(&o);
    CHECK_ERR(fkex_ratchet_commit(r->parties[0].st, NULL, &r->rng, &o), FKEX_ERR_UNEXPECTED);
    fkex_gke_out_clear(&o);
    fkex_ratchet_free(x);
    room_free(r);
}

/* Found as a BUG at de63141 (commit.c next_roster, fixed since): a commit whose removal indices go past the
 * roster overflows the heap. next_roster allocates count = nleaves -
 * nremoves + nadds leaves, but copies every leaf that no removal index
 * matches before it checks (r != c->nremoves) that all indices were in
 * range: with a removal of index 5 in a roster of 3 it writes a 64-byte
 * leaf past a 128-byte block (and the joiners after it). Any member can
 * send such a commit (signature and membership tag are checked first, the
 * confirmation tag after), and every other member overflows. ASan reports
 * it; without ASan the heap is corrupted. Expected: FKEX_ERR_BAD_ENCODING
 * and nothing written. This also covers the count check (nremoves >=
 * nleaves) and the range check, which cannot be exercised without it. */
static void test_commit_removal_out_of_range(void)
{
    room *r = room3("commit removal range");
    forge f;
    uint8_t rm[12];
    /* bob removes index 5. */
    forge_init(&f, r, 1);
    store32_be(rm, 5);
    f.c.nremoves = 1;
    f.c.removes = rm;
    f.c.dist = FKEX_DIST_PATH;
    expect_evidence(r, 0, &f, 1);
    /* bob removes 0, 5 and 6: three removals in a roster of three (to
     * carol, who stays). */
    forge_init(&f, r, 1);
    store32_be(rm, 0);
    store32_be(rm + 4, 5);
    store32_be(rm + 8, 6);
    f.c.nremoves = 3;
    f.c.removes = rm;
    f.c.dist = FKEX_DIST_PATH;
    expect_evidence(r, 2, &f, 1);
    room_free(r);
}

/* Found as a BUG at de63141 (fixed since in roster.c): an Update's new HPKE key
 * is never checked to be a valid X25519 key. A member can commit a
 * low-order leaf key; everyone accepts it, and afterwards every path
 * sealed to it (any removal or update) fails to build: nobody can remove
 * anyone any more. */
static void test_update_key_low_order(void)
{
    room *r = room3("update low order");
    forge f;
    forge_init(&f, r, 1);
    static const uint8_t low_order[32];
    f.c.has_update = 1;
    f.leaf_pk = low_order;
    fkex_rng_fill(&r->rng, f.c.update_sig_pk, 32);
    f.c.dist = FKEX_DIST_PATH;
    size_t accused = r->parties[0].accused;
    expect_evidence(r, 0, &f, 1);   /* refused, and held against bob */
    if (r->parties[0].accused == accused) {
        CHECK_OK(inject_settled(r, 0, 2, forged_hash));
        /* alice now cannot remove carol. */
        fkex_gke_out o;
        fkex_gke_out_init(&o);
        CHECK_OK(fkex_ratchet_propose_remove(r->parties[0].st, 2, &o));
        CHECK_OK(room_inject(r, 0, o.msgs[0].bytes, o.msgs[0].len));
        fkex_gke_out_clear(&o);
        CHECK_OK(fkex_ratchet_commit(r->parties[0].st, NULL, &r->rng, &o));
        fkex_gke_out_clear(&o);
    }
    /* The same for a key of the path above his leaf: whoever sits below
     * it might be his friend, so everyone refuses it (review of issue 12). */
    forge_init(&f, r, 1);
    f.zero_parent = 1;
    f.c.dist = FKEX_DIST_PATH;
    f.c.has_update = 1;
    fkex_rng_fill(&r->rng, f.c.update_sig_pk, 32);
    expect_evidence(r, 0, &f, 1);
    expect_evidence(r, 2, &f, 1);
    room_free(r);
}

void suite_ratchet_checks(void)
{
    gke_world_open(&cw, "ratchet checks world", "waters11");
    RUN(test_descriptor_checks);
    RUN(test_remove_checks);
    RUN(test_remove_membership_tag);
    RUN(test_kick);
    RUN(test_update_keeps_removal);
    RUN(test_join_ack_checks);
    RUN(test_join_request_checks);
    RUN(test_challenge_checks);
    RUN(test_proof_checks);
    RUN(test_welcome_checks);
    RUN(test_welcome_false_tree);
    RUN(test_joiner_path_secret);
    RUN(test_committer_moves);
    RUN(test_commit_auth_checks);
    RUN(test_commit_content_checks);
    RUN(test_commit_roster_checks);
    RUN(test_full_path_commit);
    RUN(test_commit_decoder_rules);
    RUN(test_header_rules);
    RUN(test_message_checks);
    RUN(test_local_api_guards);
    RUN(test_commit_removal_out_of_range);
    RUN(test_update_key_low_order);
    gke_world_close(&cw);
}
