/*
 * gke/admission.c: a join, from JoinRequest to Welcome (PROTOCOL.md,
 * "Join", steps 1 to 6), for both the joiner and the sponsor.
 *
 *   1 J -> S  JoinRequest {room_id, descriptor_hash, V_J, X_J, C_J}, sig_J
 *   2 S -> J  Challenge {ctx_e, C_S, e_S.pub, tag_S}, sig_S
 *             th    = H(JoinRequest || C_S || e_S.pub || group_context_e)
 *             tag_S = MAC(KDF(k_J', "sponsor", th), th)   (KDF-Expand, context th)
 *   3 J -> S  Proof {tag_J = MAC(KDF(K_w, "joiner"), th)}, sig_J
 *             K_w   = KDF-Extract(salt = th, ikm = k_S' || k_J || X25519(x_J, e_S.pub))
 *   4 S       commit (commit.c) and Welcome = AEAD_{KDF(K_w, "welcome")}(state,
 *             aad = th || commit_hash): the relay routes Welcomes by the
 *             hash of their commit, so it is authenticated too
 *   6 J       opens the Welcome, checks the confirmation tag, sends JoinAck
 *
 * In th the variable-length parts carry a u32 length, so no two inputs
 * hash alike. ABE is the CCA KEM; each side decapsulates once and
 * encapsulates once, whatever the size of the room.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "gke/ratchet_state.h"

/* ---- helpers ----------------------------------------------------------------- */

static void transcript_th(uint8_t th[32], const uint8_t *request, size_t request_len,
                          const uint8_t *ct, size_t ctlen, const uint8_t e_pub[32],
                          const fkex_group_context *c)
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

/* tag_S = MAC(KDF(k_J', "sponsor", th), th); tag_J = MAC(KDF(K_w, "joiner"), th) */
static void sponsor_tag(uint8_t tag[32], const uint8_t k_j[32], const uint8_t th[32])
{
    uint8_t k[32];
    fkex_kdf_expand(k, k_j, "sponsor", th, 32);
    fkex_mac(tag, k, th, 32);
    sodium_memzero(k, sizeof k);
}

static void joiner_tag(uint8_t tag[32], const uint8_t k_w[32], const uint8_t th[32])
{
    uint8_t k[32];
    fkex_kdf_expand(k, k_w, "joiner", NULL, 0);
    fkex_mac(tag, k, th, 32);
    sodium_memzero(k, sizeof k);
}

/* K_w = KDF-Extract(salt = th, ikm = k_S || k_J || dh) */
static void welcome_key(uint8_t k_w[32], const uint8_t th[32], const uint8_t k_s[32],
                        const uint8_t k_j[32], const uint8_t dh[32])
{
    uint8_t ikm[96];
    memcpy(ikm, k_s, 32);
    memcpy(ikm + 32, k_j, 32);
    memcpy(ikm + 64, dh, 32);
    fkex_hkdf_extract(k_w, th, 32, ikm, sizeof ikm);
    sodium_memzero(ikm, sizeof ikm);
}

static void welcome_aad(uint8_t aad[64], const uint8_t th[32], const uint8_t commit_hash[32])
{
    memcpy(aad, th, 32);
    memcpy(aad + 32, commit_hash, 32);
}

/* Forgets pending join i, keeping the others in arrival order. */
void admission_drop(fkex_ratchet *st, size_t i)
{
    memmove(&st->joins[i], &st->joins[i + 1], (st->njoins - i - 1) * sizeof st->joins[0]);
    st->njoins--;
    sodium_memzero(&st->joins[st->njoins], sizeof st->joins[0]);
}

/* X25519, refusing a low-order peer (an all-zero result). */
static fkex_err x25519(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32])
{
    return crypto_scalarmult(out, sk, pk) == 0 ? FKEX_OK : FKEX_ERR_NOT_IN_GROUP;
}

/* Decodes an ABE ciphertext, checks that it is under the room's effective
 * policy, and decapsulates it with this member's key (CCA). */
static fkex_err open_room_ct(uint8_t k[32], const fkex_ratchet *st, const uint8_t *bytes,
                             size_t len)
{
    fkex_abe_ct *ct;
    char *want;
    fkex_err err = fkex_abe_ct_decode(&ct, bytes, len);
    if (err != FKEX_OK)
        return err;
    if ((err = fkex_policy_print(&want, st->room.policy)) != FKEX_OK) {
        fkex_abe_ct_free(ct);
        return err;
    }
    if (strcmp(want, fkex_abe_ct_policy(ct)) != 0)
        err = FKEX_ERR_WRONG_ROOM;
    else
        err = fkex_abe_decap(k, st->abe_key, ct, FKEX_ABE_CCA);
    free(want);
    fkex_abe_ct_free(ct);
    return err;
}

/* ---- 1. JoinRequest (joiner) ----------------------------------------------------- */

fkex_err admission_request(fkex_ratchet *st, fkex_rng *rng, fkex_gke_out *out)
{
    fkex_rmsg_join_request m = { 0 };
    fkex_abe_ct *ct;
    fkex_writer w;
    fkex_err err = fkex_abe_encap(st->k_j, &ct, fkex_key_mpk(st->abe_key), st->room.policy,
                                  FKEX_ABE_CCA, rng);
    if (err != FKEX_OK)
        return err;
    memcpy(m.room_id, st->room_id, 32);
    memcpy(m.descriptor_hash, st->room.hash, 32);
    m.leaf = st->self;
    fkex_abe_ct_bytes(&m.abe_ct, &m.abe_ctlen, ct);
    fkex_writer_init(&w);
    fkex_rmsg_join_request_encode(&w, &m);
    fkex_abe_ct_free(ct);
    if ((err = ratchet_sign_append(&w, st->sig_sk, "join request")) != FKEX_OK ||
        !(st->join_request = malloc(w.len))) {
        fkex_writer_free(&w);
        return err != FKEX_OK ? err : FKEX_ERR_NO_MEMORY;
    }
    memcpy(st->join_request, w.buf, w.len);
    st->join_request_len = w.len;
    return ratchet_emit(out, &w);
}

/* ---- 2. Challenge (sponsor) --------------------------------------------------------- */

/* Anyone can encapsulate under a public policy, so unproved JoinRequests
 * must not crowd out real ones: the oldest join not yet admitted goes.
 * When every slot holds an admitted joiner, the sponsor commits first. */
static fkex_err evict_one(fkex_ratchet *st)
{
    for (size_t i = 0; i < st->njoins; i++)
        if (!st->joins[i].admitted) {
            admission_drop(st, i);
            return FKEX_OK;
        }
    return FKEX_ERR_ARGUMENT;
}

fkex_err admission_on_request(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                              fkex_gke_out *out)
{
    fkex_rmsg_join_request req;
    fkex_rmsg_challenge ch = { 0 };
    pending_join pj = { 0 };
    fkex_abe_ct *ct_s = NULL;
    fkex_writer w;
    uint8_t k_j[32], k_s[32], e_sk[32], dh[32];
    fkex_err err = fkex_rmsg_join_request_decode(&req, msg, len);
    if (err != FKEX_OK)
        return err;
    if (sodium_memcmp(req.descriptor_hash, st->room.hash, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;   /* another, perhaps older, descriptor */
    if (fkex_sign_verify(req.sig, req.leaf.sig_pk, "join request", msg, req.signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    ratchet_leaf_id(pj.joiner_id, &req.leaf);
    for (uint32_t i = 0; i < st->nleaves; i++)
        if (memcmp(st->leaves[i].sig_pk, req.leaf.sig_pk, 32) == 0 ||
            memcmp(st->leaves[i].hpke_pk, req.leaf.hpke_pk, 32) == 0)
            return FKEX_ERR_REPLAY;
    for (size_t i = 0; i < st->njoins; i++)
        if (memcmp(st->joins[i].leaf.sig_pk, req.leaf.sig_pk, 32) == 0 ||
            memcmp(st->joins[i].leaf.hpke_pk, req.leaf.hpke_pk, 32) == 0) {
            /* The relay sends a join again when it starts over (its sponsor
             * was silent): the old Challenge is void, and so is a commit
             * adding it (the relay takes none). The same leaf only. */
            if (memcmp(&st->joins[i].leaf, &req.leaf, sizeof req.leaf) != 0)
                return FKEX_ERR_REPLAY;
            admission_drop(st, i);
            break;
        }
    if (st->nleaves >= FKEX_ROOM_MAX_MEMBERS)
        return FKEX_ERR_ARGUMENT;   /* full: refused */
    if (st->nleaves + st->njoins >= FKEX_ROOM_MAX_MEMBERS ||
        (st->njoins == RATCHET_MAX_PENDING && evict_one(st) != FKEX_OK))
        return FKEX_ERR_UNEXPECTED;   /* busy: handed back */

    /* k_J' = ABE.Decap(sk_S, C_J): the group proves its attributes. */
    if ((err = open_room_ct(k_j, st, req.abe_ct, req.abe_ctlen)) != FKEX_OK)
        return err;
    err = fkex_abe_encap(k_s, &ct_s, fkex_key_mpk(st->abe_key), st->room.policy, FKEX_ABE_CCA, rng);
    if (err != FKEX_OK)
        goto done;
    fkex_rng_fill(rng, e_sk, sizeof e_sk);
    crypto_scalarmult_base(ch.ephemeral_pk, e_sk);
    if ((err = x25519(dh, e_sk, req.leaf.hpke_pk)) != FKEX_OK)
        goto done;

    memcpy(ch.room_id, st->room_id, 32);
    ratchet_group_context(&ch.context, st);
    memcpy(ch.joiner_id, pj.joiner_id, 32);
    ch.sponsor_index = st->index;
    memcpy(ch.sponsor_pk, st->self.sig_pk, 32);
    fkex_abe_ct_bytes(&ch.abe_ct, &ch.abe_ctlen, ct_s);
    transcript_th(pj.th, msg, len, ch.abe_ct, ch.abe_ctlen, ch.ephemeral_pk, &ch.context);
    sponsor_tag(ch.tag, k_j, pj.th);
    welcome_key(pj.k_w, pj.th, k_s, k_j, dh);
    pj.leaf = req.leaf;

    fkex_writer_init(&w);
    fkex_rmsg_challenge_encode(&w, &ch);
    if ((err = ratchet_sign_append(&w, st->sig_sk, "challenge")) != FKEX_OK) {
        fkex_writer_free(&w);
        goto done;
    }
    if ((err = ratchet_emit(out, &w)) != FKEX_OK)
        goto done;
    st->joins[st->njoins++] = pj;
done:
    fkex_abe_ct_free(ct_s);
    sodium_memzero(k_j, sizeof k_j);
    sodium_memzero(k_s, sizeof k_s);
    sodium_memzero(e_sk, sizeof e_sk);
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(&pj, sizeof pj);
    return err;
}

/* ---- 2b. refusals (sponsor), and the joiner's reading of them ------------------------ */

/* The reason a refused JoinRequest (or Proof) is answered with, or 0 if
 * it is not answered (it names no joiner, or the failure is this
 * member's own: out of memory). */
static uint8_t refusal_reason(const fkex_ratchet *st, const fkex_rmsg_join_request *req,
                              fkex_err err)
{
    switch (err) {
    case FKEX_ERR_WRONG_AUTHORITY:
        return FKEX_JOIN_REFUSED_AUTHORITY;
    case FKEX_ERR_WRONG_ROOM:   /* another descriptor, or a ciphertext under another policy */
        return req && sodium_memcmp(req->descriptor_hash, st->room.hash, 32) != 0
                   ? FKEX_JOIN_REFUSED_DESCRIPTOR : FKEX_JOIN_REFUSED_INVALID;
    case FKEX_ERR_ARGUMENT:
        return FKEX_JOIN_REFUSED_FULL;
    case FKEX_ERR_UNEXPECTED:        /* every slot holds an admitted joiner */
    case FKEX_ERR_POLICY_UNSATISFIED:   /* this member's key lapsed (a new period) */
        return FKEX_JOIN_REFUSED_BUSY;
    case FKEX_ERR_NO_MEMORY:
        return 0;
    default:   /* a signature, a key in the room, an encoding, a ciphertext that does not open */
        return FKEX_JOIN_REFUSED_INVALID;
    }
}

fkex_err admission_refuse(const fkex_ratchet *st, fkex_rmsg_type type, const uint8_t *msg,
                          size_t len, fkex_err why, fkex_gke_out *out)
{
    fkex_rmsg_join_refused m = { 0 };
    fkex_rmsg_join_request req;
    fkex_rmsg_proof pr;
    fkex_writer w;
    if (type == FKEX_RMSG_JOIN_REQUEST && fkex_rmsg_join_request_decode(&req, msg, len) == FKEX_OK) {
        ratchet_leaf_id(m.joiner_id, &req.leaf);
        m.reason = refusal_reason(st, &req, why);
    } else if (type == FKEX_RMSG_PROOF && why == FKEX_ERR_AUTHENTICATION &&
               fkex_rmsg_proof_decode(&pr, msg, len) == FKEX_OK) {
        memcpy(m.joiner_id, pr.joiner_id, 32);   /* its signed tag was wrong: dropped */
        m.reason = FKEX_JOIN_REFUSED_PROOF;
    }
    if (!m.reason)
        return FKEX_OK;
    memcpy(m.room_id, st->room_id, 32);
    fkex_mpk_fingerprint(m.authority, fkex_key_mpk(st->abe_key));
    fkex_writer_init(&w);
    fkex_rmsg_join_refused_encode(&w, &m);
    return ratchet_emit(out, &w);
}

/* A sponsor refused this joiner: the join is over, unless the refusal
 * names another descriptor (the room's changed: the caller joins again
 * with the relay's newest) or a busy sponsor, which the relay answers by
 * passing the join on. data = the room's authority fingerprint. */
fkex_err admission_on_refused(fkex_ratchet *st, const uint8_t *msg, size_t len,
                              fkex_gke_out *out)
{
    static const fkex_err why[] = {
        [FKEX_JOIN_REFUSED_AUTHORITY] = FKEX_ERR_WRONG_AUTHORITY,
        [FKEX_JOIN_REFUSED_DESCRIPTOR] = FKEX_ERR_WRONG_ROOM,
        [FKEX_JOIN_REFUSED_INVALID] = FKEX_ERR_BAD_ENCODING,
        [FKEX_JOIN_REFUSED_FULL] = FKEX_ERR_ARGUMENT,
        [FKEX_JOIN_REFUSED_PROOF] = FKEX_ERR_AUTHENTICATION,
    };
    fkex_rmsg_join_refused m;
    fkex_err err = fkex_rmsg_join_refused_decode(&m, msg, len);
    if (err != FKEX_OK)
        return err;
    if (sodium_memcmp(m.joiner_id, st->leaf_id, 32) != 0 || m.reason == FKEX_JOIN_REFUSED_BUSY)
        return FKEX_ERR_UNEXPECTED;
    if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_ABORTED, why[m.reason], 0, 0, 0, m.authority,
                                  32)) != FKEX_OK)
        return err;
    ratchet_gone(st);
    return FKEX_OK;
}

/* ---- 3. Proof (joiner) ------------------------------------------------------------- */

static fkex_err abort_join(fkex_ratchet *st, fkex_err why, fkex_gke_out *out)
{
    fkex_err err = fkex_gke_out_event(out, FKEX_GKE_EV_ABORTED, why, 0, 0, 0, NULL, 0);
    if (err != FKEX_OK)
        return err;
    ratchet_gone(st);
    return FKEX_OK;
}

fkex_err admission_on_challenge(fkex_ratchet *st, const uint8_t *msg, size_t len,
                                fkex_gke_out *out)
{
    fkex_rmsg_challenge ch;
    fkex_rmsg_proof pr = { 0 };
    fkex_writer w;
    uint8_t th[32], want[32], k_s[32], dh[32], k_w[32];
    fkex_err err = fkex_rmsg_challenge_decode(&ch, msg, len);
    if (err != FKEX_OK)
        return err;
    if (sodium_memcmp(ch.joiner_id, st->leaf_id, 32) != 0)
        return FKEX_ERR_UNEXPECTED;
    /* A later Challenge replaces the one answered: the join started over
     * (an epoch settled without it, or the relay passed it to another
     * sponsor), and the relay takes a commit adding this joiner only from
     * the sponsor it named last, so the old Welcome key will not be used. */
    if (st->phase == RATCHET_PROOF_SENT && ch.context.epoch < st->join_epoch)
        return FKEX_ERR_WRONG_EPOCH;
    if (sodium_memcmp(ch.context.descriptor_hash, st->room.hash, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if (fkex_sign_verify(ch.sig, ch.sponsor_pk, "challenge", msg, ch.signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    transcript_th(th, st->join_request, st->join_request_len, ch.abe_ct, ch.abe_ctlen,
                  ch.ephemeral_pk, &ch.context);

    /* tag_S shows that the sponsor decapsulated C_J: the group has the
     * attributes. Without it, nobody who could be trusted answered. */
    sponsor_tag(want, st->k_j, th);
    if (sodium_memcmp(want, ch.tag, 32) != 0)
        return abort_join(st, FKEX_ERR_AUTHENTICATION, out);
    /* k_S' = ABE.Decap(sk_J, C_S): fails unless J satisfies P. Other
     * failures (a malformed C_S, memory) leave the join waiting. */
    if ((err = open_room_ct(k_s, st, ch.abe_ct, ch.abe_ctlen)) != FKEX_OK)
        return err == FKEX_ERR_POLICY_UNSATISFIED ? abort_join(st, err, out) : err;
    if ((err = x25519(dh, st->hpke_sk, ch.ephemeral_pk)) != FKEX_OK) {
        sodium_memzero(k_s, sizeof k_s);
        return err;
    }
    welcome_key(k_w, th, k_s, st->k_j, dh);
    sodium_memzero(k_s, sizeof k_s);
    sodium_memzero(dh, sizeof dh);

    memcpy(pr.room_id, st->room_id, 32);
    memcpy(pr.joiner_id, st->leaf_id, 32);
    memcpy(pr.th, th, 32);
    joiner_tag(pr.tag, k_w, th);
    fkex_writer_init(&w);
    fkex_rmsg_proof_encode(&w, &pr);
    if ((err = ratchet_sign_append(&w, st->sig_sk, "proof")) != FKEX_OK ||
        (err = ratchet_emit(out, &w)) != FKEX_OK) {
        fkex_writer_free(&w);
        sodium_memzero(k_w, sizeof k_w);
        return err;
    }
    /* k_J and the request stay until the Welcome: a later Challenge
     * needs them. */
    memcpy(st->k_w, k_w, 32);
    memcpy(st->th, th, 32);
    memcpy(st->sponsor_pk, ch.sponsor_pk, 32);
    st->join_epoch = ch.context.epoch;
    sodium_memzero(k_w, sizeof k_w);
    st->phase = RATCHET_PROOF_SENT;
    return FKEX_OK;
}

/* ---- 3b. the sponsor checks the Proof ---------------------------------------------- */

fkex_err admission_on_proof(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_proof pr;
    pending_join *pj = NULL;
    size_t at = 0;
    uint8_t want[32];
    fkex_err err = fkex_rmsg_proof_decode(&pr, msg, len);
    if (err != FKEX_OK)
        return err;
    for (size_t i = 0; i < st->njoins && !pj; i++)
        if (memcmp(st->joins[i].joiner_id, pr.joiner_id, 32) == 0 &&
            memcmp(st->joins[i].th, pr.th, 32) == 0)
            pj = &st->joins[at = i];
    if (!pj)
        return FKEX_ERR_UNEXPECTED;   /* not this sponsor's, or from an older epoch */
    if (fkex_sign_verify(pr.sig, pj->leaf.sig_pk, "proof", msg, pr.signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    if (pj->admitted)
        return FKEX_ERR_REPLAY;
    joiner_tag(want, pj->k_w, pj->th);
    if (sodium_memcmp(want, pr.tag, 32) != 0) {
        /* J itself signed a wrong proof: it could not decapsulate C_S. It
         * is dropped (PROTOCOL.md, join step 3); this is the one refusal
         * that changes the sponsor's state. */
        admission_drop(st, at);
        return FKEX_ERR_AUTHENTICATION;
    }
    if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_ADMITTED, FKEX_OK, st->keys.epoch,
                                  st->nleaves, 0, NULL, 0)) != FKEX_OK)
        return err;
    pj->admitted = 1;
    return FKEX_OK;
}

/* ---- 4. Welcome (sponsor, while building the commit) -------------------------------- */

fkex_err admission_welcome(const fkex_ratchet *st, const pending_join *j,
                           const uint8_t content_hash[32], uint64_t epoch,
                           const uint8_t epoch_secret[32], const epoch_keys *keys,
                           const fkex_leaf *leaves, uint32_t nleaves, const ratchet_tree *tree,
                           const tree_joiner_secret *js, const uint8_t confirmation_tag[32],
                           fkex_gke_out *out)
{
    fkex_welcome_state ws = { 0 };
    fkex_rmsg_welcome m = { 0 };
    fkex_writer plain, w, parents;
    uint8_t key[32], aad[64], *sealed;
    static const uint8_t nonce[12];   /* K_w, so the key, is used once */
    fkex_err err;

    ws.epoch = epoch;
    memcpy(ws.epoch_secret, epoch_secret, 32);
    memcpy(ws.transcript_hash, keys->transcript_hash, 32);
    memcpy(ws.confirmation_tag, confirmation_tag, 32);
    ws.nleaves = nleaves;
    ws.leaves = (const uint8_t *)leaves;   /* fkex_leaf is V || X, 64 bytes */
    fkex_writer_init(&parents);
    tree_encode_parents(&parents, tree);
    ws.tree = parents.buf;
    ws.treelen = parents.len;
    ws.path_node = js ? js->node : UINT32_MAX;
    if (js)
        memcpy(ws.path_secret, js->path_secret, 32);
    ws.descriptor = st->room.bytes;
    ws.descriptorlen = st->room.len;
    fkex_writer_init(&plain);
    if (!parents.failed)
        fkex_welcome_state_encode(&plain, &ws);
    sodium_memzero(&ws, sizeof ws);
    if (parents.failed || plain.failed || !(sealed = malloc(plain.len + 16))) {
        fkex_writer_free(&parents);
        fkex_writer_free(&plain);
        return FKEX_ERR_NO_MEMORY;
    }
    fkex_writer_free(&parents);
    welcome_aad(aad, j->th, content_hash);
    fkex_kdf_expand(key, j->k_w, "welcome", NULL, 0);
    crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, plain.buf, plain.len, aad,
                                              sizeof aad, NULL, nonce, key);
    sodium_memzero(key, sizeof key);

    memcpy(m.room_id, st->room_id, 32);
    memcpy(m.joiner_id, j->joiner_id, 32);
    memcpy(m.th, j->th, 32);
    memcpy(m.commit_hash, content_hash, 32);
    m.sealed = sealed;
    m.sealedlen = plain.len + 16;
    fkex_writer_free(&plain);
    fkex_writer_init(&w);
    fkex_rmsg_welcome_encode(&w, &m);
    free(sealed);
    err = ratchet_emit(out, &w);
    return err;
}

/* ---- 6. the joiner opens its Welcome and acknowledges --------------------------------- */

fkex_err admission_on_welcome(fkex_ratchet *st, const uint8_t *msg, size_t len,
                              fkex_gke_out *out)
{
    fkex_rmsg_welcome m;
    fkex_welcome_state ws = { 0 };
    next_epoch next = { 0 };
    epoch_keys keys;
    roster r = { 0 };
    ratchet_tree tree = { 0 };
    tree_private tpriv = { 0 };
    fkex_leaf *leaves = NULL;
    uint8_t key[32], aad[64], tag[32], desc_hash[32], tree_h[32], *plain;
    unsigned long long plainlen;
    size_t rosterlen;
    static const uint8_t nonce[12];
    uint32_t self = UINT32_MAX, sponsor = UINT32_MAX;
    fkex_err err = fkex_rmsg_welcome_decode(&m, msg, len);
    if (err != FKEX_OK)
        return err;
    if (sodium_memcmp(m.joiner_id, st->leaf_id, 32) != 0 || sodium_memcmp(m.th, st->th, 32) != 0)
        return FKEX_ERR_UNEXPECTED;
    if (m.sealedlen < 16 || !(plain = malloc(m.sealedlen)))
        return m.sealedlen < 16 ? FKEX_ERR_TRUNCATED : FKEX_ERR_NO_MEMORY;
    welcome_aad(aad, m.th, m.commit_hash);
    fkex_kdf_expand(key, st->k_w, "welcome", NULL, 0);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plainlen, NULL, m.sealed, m.sealedlen,
                                                  aad, sizeof aad, nonce, key) != 0) {
        err = FKEX_ERR_AUTHENTICATION;
        goto done;
    }
    if ((err = fkex_welcome_state_decode(&ws, plain, (size_t)plainlen)) != FKEX_OK)
        goto done;
    if (ws.epoch != st->join_epoch + 1) {   /* the epoch after the one the sponsor named */
        err = FKEX_ERR_WRONG_EPOCH;
        goto done;
    }
    /* The descriptor must be the one this joiner pinned and proved for. */
    crypto_hash_sha256(desc_hash, ws.descriptor, ws.descriptorlen);
    if (sodium_memcmp(desc_hash, st->room.hash, 32) != 0) {
        err = FKEX_ERR_WRONG_ROOM;
        goto done;
    }
    /* The public tree: checked against the confirmed group context (its
     * hash is in the key schedule), not leaf by leaf; a sponsor that lies
     * about it can still make a matching tag, so the other members'
     * EpochAcks and JoinAcks for this epoch are checked as well (a false
     * tree shows up there as a fork). fkex_leaf is bytes only: ws.leaves
     * is one. */
    if ((err = tree_decode(&tree, (const fkex_leaf *)ws.leaves, ws.nleaves, ws.tree,
                           ws.treelen)) != FKEX_OK)
        goto done;
    tree_hash(tree_h, &tree);
    /* The plaintext's buffer becomes the roster's: the leaves move to its
     * front, over the secrets before them, and what follows is wiped
     * (ws keeps copies of the secrets; ws.leaves, ws.tree and
     * ws.descriptor are done with). One 64 KiB copy fewer at n = 1000. */
    rosterlen = (size_t)ws.nleaves * sizeof *leaves;
    memmove(plain, ws.leaves, rosterlen);
    sodium_memzero(plain + rosterlen, (size_t)plainlen - rosterlen);
    leaves = (fkex_leaf *)plain;
    plain = NULL;
    if ((err = ratchet_roster_unique(leaves, ws.nleaves)) != FKEX_OK)
        goto done;
    for (uint32_t i = 0; i < ws.nleaves; i++) {
        if (memcmp(&leaves[i], &st->self, sizeof st->self) == 0)
            self = i;
        if (memcmp(leaves[i].sig_pk, st->sponsor_pk, 32) == 0)
            sponsor = i;
    }
    if (self == UINT32_MAX || sponsor == UINT32_MAX) {
        err = FKEX_ERR_AUTHENTICATION;
        goto done;
    }
    tpriv.leaf = self;
    tpriv.nkeys = 1;
    tpriv.keys[0].node = 2 * self;
    memcpy(tpriv.keys[0].sk, st->hpke_sk, 32);
    if (ws.path_node != UINT32_MAX) {
        tree_joiner_secret js = { .node = ws.path_node };
        memcpy(js.path_secret, ws.path_secret, 32);
        err = tree_path_install(&tpriv, &tree, &js);
        sodium_memzero(&js, sizeof js);
    }
    /* It can open whatever is sealed to it from now on: every key above
     * its leaf is one it holds, or it is listed as unmerged there. */
    if (err != FKEX_OK || !tree_private_complete(&tpriv, &tree)) {
        err = FKEX_ERR_AUTHENTICATION;
        goto done;
    }
    err = roster_whole(&r, leaves, ws.nleaves);
    leaves = NULL;   /* taken */
    if (err != FKEX_OK)
        goto done;
    schedule_from_secret(&keys, ws.epoch_secret, st->room_id, ws.epoch, ws.transcript_hash,
                         r.hash, tree_h);
    schedule_confirmation_tag(tag, &keys);
    if (sodium_memcmp(tag, ws.confirmation_tag, 32) != 0) {
        err = FKEX_ERR_AUTHENTICATION;
        goto done;
    }

    err = ratchet_prepare_epoch(&next, st, &keys, &r, &tree, &tpriv, NULL, NULL, 0);
    if (err == FKEX_OK)   /* members' EpochAcks for this epoch name it: a joiner checks them too */
        memcpy(next.reading.commit_hash, m.commit_hash, 32);
    if (err == FKEX_OK)
        err = ratchet_ack(out, st, &keys, next.roster.leaves, next.roster.n);
    if (err == FKEX_OK)
        err = fkex_gke_out_event(out, FKEX_GKE_EV_JOINED, FKEX_OK, ws.epoch, ws.nleaves, self,
                                 NULL, 0);
    if (err != FKEX_OK)
        goto done;
    ratchet_install_epoch(st, &next, &keys);
    ratchet_wipe_join(st);
done:
    ratchet_next_epoch_free(&next);
    roster_free(&r);
    tree_free(&tree);
    tree_private_wipe(&tpriv);
    sodium_memzero(key, sizeof key);
    sodium_memzero(&keys, sizeof keys);
    sodium_memzero(&ws, sizeof ws);
    if (plain)
        sodium_memzero(plain, m.sealedlen);
    free(plain);
    free(leaves);
    return err;
}
