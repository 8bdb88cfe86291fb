/*
 * wire/ratchet_msg.c: encoders and strict decoders of the ratchet
 * protocol's messages (layouts in wire/ratchet_msg.h and docs/FORMATS.md).
 * Each is O(length of the message).
 */
#include <stdlib.h>
#include "wire/wire.h"

static void put_head(fkex_writer *w, fkex_rmsg_type type, const uint8_t room_id[32])
{
    fkex_writer_u8(w, (uint8_t)type);
    fkex_writer_u8(w, type == FKEX_RMSG_DESCRIPTOR ? FKEX_DESCRIPTOR_VERSION : FKEX_RATCHET_VERSION);
    if (room_id)
        fkex_writer_put(w, room_id, 32);
}

/* Type and version, then the room id unless room_id is NULL. */
static fkex_err get_head(fkex_reader *r, fkex_rmsg_type type, uint8_t room_id[32])
{
    uint8_t t, v;
    if (fkex_reader_u8(r, &t) != 0 || fkex_reader_u8(r, &v) != 0)
        return FKEX_ERR_TRUNCATED;
    if (t != type)
        return FKEX_ERR_WRONG_KIND;
    if (v != (type == FKEX_RMSG_DESCRIPTOR ? FKEX_DESCRIPTOR_VERSION : FKEX_RATCHET_VERSION))
        return FKEX_ERR_UNSUPPORTED;
    if (room_id && fkex_reader_get(r, room_id, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    return FKEX_OK;
}

/* The end of a decode: a short read is TRUNCATED, leftovers BAD_ENCODING. */
static fkex_err finish(const fkex_reader *r)
{
    return fkex_reader_end(r);
}

fkex_err fkex_rmsg_peek(fkex_rmsg_type *type, uint8_t room_id[32], const uint8_t *in, size_t len)
{
    if (len < 2)
        return FKEX_ERR_TRUNCATED;
    if (in[0] < FKEX_RMSG_DESCRIPTOR || in[0] > FKEX_RMSG_JOIN_REFUSED)
        return FKEX_ERR_BAD_ENCODING;
    if (in[1] != (in[0] == FKEX_RMSG_DESCRIPTOR ? FKEX_DESCRIPTOR_VERSION : FKEX_RATCHET_VERSION))
        return FKEX_ERR_UNSUPPORTED;
    *type = (fkex_rmsg_type)in[0];
    memset(room_id, 0, 32);
    if (*type == FKEX_RMSG_DESCRIPTOR)
        return FKEX_OK;
    if (len < 34)
        return FKEX_ERR_TRUNCATED;
    memcpy(room_id, in + 2, 32);
    return FKEX_OK;
}

/* ---- descriptor ------------------------------------------------------ */

void fkex_rmsg_descriptor_encode(fkex_writer *w, const fkex_rmsg_descriptor *m)
{
    put_head(w, FKEX_RMSG_DESCRIPTOR, NULL);
    fkex_writer_bytes16(w, m->name, m->namelen);
    fkex_writer_bytes16(w, m->policy, m->policylen);
    fkex_writer_put(w, m->admin_pk, 32);
    fkex_writer_u32(w, m->version);
    fkex_writer_u32(w, m->options);
}

fkex_err fkex_rmsg_descriptor_decode(fkex_rmsg_descriptor *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_DESCRIPTOR, NULL)) != FKEX_OK)
        return err;
    if (fkex_reader_bytes16(&r, &m->name, &m->namelen) != 0 ||
        fkex_reader_bytes16(&r, &m->policy, &m->policylen) != 0 ||
        fkex_reader_get(&r, m->admin_pk, 32) != 0 || fkex_reader_u32(&r, &m->version) != 0 ||
        fkex_reader_u32(&r, &m->options) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = finish(&r)) != FKEX_OK)
        return err;
    if (m->namelen == 0 || m->namelen > FKEX_ROOM_NAME_MAX || m->policylen == 0 ||
        !FKEX_ROOM_OPTIONS_OK(m->options))
        return FKEX_ERR_BAD_ENCODING;
    return FKEX_OK;
}

/* ---- join request, challenge, proof ------------------------------------ */

void fkex_rmsg_join_request_encode(fkex_writer *w, const fkex_rmsg_join_request *m)
{
    put_head(w, FKEX_RMSG_JOIN_REQUEST, m->room_id);
    fkex_writer_put(w, m->descriptor_hash, 32);
    fkex_writer_put(w, m->leaf.sig_pk, 32);
    fkex_writer_put(w, m->leaf.hpke_pk, 32);
    fkex_writer_bytes32(w, m->abe_ct, m->abe_ctlen);
}

fkex_err fkex_rmsg_join_request_decode(fkex_rmsg_join_request *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_JOIN_REQUEST, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_get(&r, m->descriptor_hash, 32) != 0 ||
        fkex_reader_get(&r, m->leaf.sig_pk, 32) != 0 ||
        fkex_reader_get(&r, m->leaf.hpke_pk, 32) != 0 ||
        fkex_reader_bytes32(&r, &m->abe_ct, &m->abe_ctlen, FKEX_ABE_CT_MAX) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

static void put_context(fkex_writer *w, const fkex_group_context *c)
{
    fkex_writer_u64(w, c->epoch);
    fkex_writer_put(w, c->transcript_hash, 32);
    fkex_writer_put(w, c->roster_hash, 32);
    fkex_writer_put(w, c->descriptor_hash, 32);
}

static int get_context(fkex_reader *r, fkex_group_context *c)
{
    if (fkex_reader_u64(r, &c->epoch) != 0 || fkex_reader_get(r, c->transcript_hash, 32) != 0 ||
        fkex_reader_get(r, c->roster_hash, 32) != 0 || fkex_reader_get(r, c->descriptor_hash, 32) != 0)
        return -1;
    return 0;
}

void fkex_rmsg_challenge_encode(fkex_writer *w, const fkex_rmsg_challenge *m)
{
    put_head(w, FKEX_RMSG_CHALLENGE, m->room_id);
    put_context(w, &m->context);
    fkex_writer_put(w, m->joiner_id, 32);
    fkex_writer_u32(w, m->sponsor_index);
    fkex_writer_put(w, m->sponsor_pk, 32);
    fkex_writer_bytes32(w, m->abe_ct, m->abe_ctlen);
    fkex_writer_put(w, m->ephemeral_pk, 32);
    fkex_writer_put(w, m->tag, 32);
}

fkex_err fkex_rmsg_challenge_decode(fkex_rmsg_challenge *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_CHALLENGE, m->room_id)) != FKEX_OK)
        return err;
    if (get_context(&r, &m->context) != 0 || fkex_reader_get(&r, m->joiner_id, 32) != 0 ||
        fkex_reader_u32(&r, &m->sponsor_index) != 0 ||
        fkex_reader_get(&r, m->sponsor_pk, 32) != 0 ||
        fkex_reader_bytes32(&r, &m->abe_ct, &m->abe_ctlen, FKEX_ABE_CT_MAX) != 0 ||
        fkex_reader_get(&r, m->ephemeral_pk, 32) != 0 || fkex_reader_get(&r, m->tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_rmsg_proof_encode(fkex_writer *w, const fkex_rmsg_proof *m)
{
    put_head(w, FKEX_RMSG_PROOF, m->room_id);
    fkex_writer_put(w, m->joiner_id, 32);
    fkex_writer_put(w, m->th, 32);
    fkex_writer_put(w, m->tag, 32);
}

fkex_err fkex_rmsg_proof_decode(fkex_rmsg_proof *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_PROOF, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_get(&r, m->joiner_id, 32) != 0 || fkex_reader_get(&r, m->th, 32) != 0 ||
        fkex_reader_get(&r, m->tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

/* ---- commit ------------------------------------------------------------ */

void fkex_rmsg_commit_encode(fkex_writer *w, const fkex_rmsg_commit *m)
{
    put_head(w, FKEX_RMSG_COMMIT, m->room_id);
    fkex_writer_u64(w, m->epoch);
    fkex_writer_u32(w, m->committer);
    fkex_writer_put(w, m->nonce, 32);
    fkex_writer_u32(w, m->nadds);
    fkex_writer_put(w, m->adds, (size_t)m->nadds * 64);
    fkex_writer_u32(w, m->nremoves);
    fkex_writer_put(w, m->removes, (size_t)m->nremoves * 4);
    fkex_writer_u8(w, m->has_update ? 1 : 0);
    if (m->has_update)
        fkex_writer_put(w, m->update_sig_pk, 32);
    fkex_writer_bytes32(w, m->psk_ct, m->psk_ctlen);
    fkex_writer_bytes32(w, m->descriptor, m->descriptorlen);
    fkex_writer_u8(w, m->dist);
    if (m->dist == FKEX_DIST_GROUP) {
        fkex_writer_put(w, m->group_sealed, FKEX_SEALED_SECRET);
    } else {
        fkex_writer_put(w, m->path_leaf_pk, 32);
        fkex_writer_u8(w, (uint8_t)m->path_len);
        fkex_writer_put(w, m->path_pks, (size_t)m->path_len * 32);
    }
}

fkex_err fkex_rmsg_commit_decode(fkex_rmsg_commit *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    uint8_t upd;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_COMMIT, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_u32(&r, &m->committer) != 0 ||
        fkex_reader_get(&r, m->nonce, 32) != 0 || fkex_reader_u32(&r, &m->nadds) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->nadds > FKEX_ROOM_MAX_MEMBERS)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(&r, &m->adds, (size_t)m->nadds * 64) != 0 ||
        fkex_reader_u32(&r, &m->nremoves) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->nremoves > FKEX_ROOM_MAX_MEMBERS)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(&r, &m->removes, (size_t)m->nremoves * 4) != 0 ||
        fkex_reader_u8(&r, &upd) != 0)
        return FKEX_ERR_TRUNCATED;
    if (upd > 1)
        return FKEX_ERR_BAD_ENCODING;
    m->has_update = upd;
    if (upd && fkex_reader_get(&r, m->update_sig_pk, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if (fkex_reader_bytes32(&r, &m->psk_ct, &m->psk_ctlen, FKEX_ABE_CT_MAX) != 0 ||
        fkex_reader_bytes32(&r, &m->descriptor, &m->descriptorlen, FKEX_DESCRIPTOR_MAX) != 0 ||
        fkex_reader_u8(&r, &m->dist) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->dist == FKEX_DIST_GROUP) {
        if (fkex_reader_get(&r, m->group_sealed, FKEX_SEALED_SECRET) != 0)
            return FKEX_ERR_TRUNCATED;
    } else if (m->dist == FKEX_DIST_PATH) {
        uint8_t plen;
        if (fkex_reader_get(&r, m->path_leaf_pk, 32) != 0 || fkex_reader_u8(&r, &plen) != 0)
            return FKEX_ERR_TRUNCATED;
        if (plen > FKEX_PATH_MAX)
            return FKEX_ERR_BAD_ENCODING;
        m->path_len = plen;
        if (fkex_reader_view(&r, &m->path_pks, (size_t)plen * 32) != 0)
            return FKEX_ERR_TRUNCATED;
    } else {
        return FKEX_ERR_BAD_ENCODING;
    }
    m->content_len = r.off;
    if (fkex_reader_get(&r, m->confirmation_tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->tagged_len = r.off;
    if (fkex_reader_get(&r, m->membership_tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0 || fkex_reader_u32(&r, &m->nslices) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->nslices > FKEX_ROOM_MAX_MEMBERS || (m->dist == FKEX_DIST_GROUP && m->nslices))
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(&r, &m->slices, (size_t)m->nslices * FKEX_SLICE_BYTES) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = finish(&r)) != FKEX_OK)
        return err;
    /* Removals are listed once each, in increasing order; so are slices. */
    for (uint32_t i = 1; i < m->nslices; i++)
        if (load32_be(m->slices + (size_t)i * FKEX_SLICE_BYTES) <=
            load32_be(m->slices + (size_t)(i - 1) * FKEX_SLICE_BYTES))
            return FKEX_ERR_BAD_ENCODING;
    for (uint32_t i = 1; i < m->nremoves; i++)
        if (load32_be(m->removes + 4 * i) <= load32_be(m->removes + 4 * (i - 1)))
            return FKEX_ERR_BAD_ENCODING;
    if (m->psk_ctlen == 0)
        m->psk_ct = NULL;
    if (m->descriptorlen == 0)
        m->descriptor = NULL;
    return FKEX_OK;
}

static uint32_t node_level(uint32_t x)
{
    uint32_t level = 0;
    while (level < 31 && ((x >> level) & 1u))
        level++;
    return level;
}

int fkex_tree_below(uint32_t y, uint32_t x)
{
    uint32_t half = (1u << node_level(x)) - 1;
    return y + half >= x && y <= x + half;
}

const uint8_t *fkex_rmsg_commit_slice(const fkex_rmsg_commit *c, uint32_t leaf)
{
    /* Of the nodes that cover a leaf, the lowest has the smallest level;
     * among a copath child's resolution at most a parent and the leaf
     * itself cover it, and the leaf's label differs from the parent's. */
    const uint8_t *best = NULL;
    uint32_t best_level = 32;
    for (uint32_t i = 0; i < c->nslices; i++) {
        const uint8_t *s = c->slices + (size_t)i * FKEX_SLICE_BYTES;
        uint32_t x = load32_be(s), level = node_level(x);
        if (!fkex_tree_below(2 * leaf, x))
            continue;
        if (level < best_level) {
            best = s;
            best_level = level;
        }
    }
    return best;
}

fkex_err fkex_rmsg_commit_places(const fkex_rmsg_commit *c, uint32_t n, uint32_t *place)
{
    uint32_t m = n, *who = malloc(((size_t)n + 1) * sizeof *who);   /* who[seat] = old index */
    if (!who)
        return FKEX_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < n; i++)
        who[i] = place[i] = i;
    for (uint32_t k = c->nremoves; k-- > 0;) {
        uint32_t i = load32_be(c->removes + 4 * k);
        if (i >= m) {
            free(who);
            return FKEX_ERR_BAD_ENCODING;
        }
        place[who[i]] = UINT32_MAX;
        if (i != --m) {
            who[i] = who[m];
            place[who[i]] = i;
        }
    }
    free(who);
    return FKEX_OK;
}

fkex_err fkex_rmsg_commit_view(uint8_t **out, size_t *outlen, const uint8_t *commit,
                               const fkex_rmsg_commit *c, uint32_t leaf)
{
    const uint8_t *mine = leaf == UINT32_MAX ? NULL : fkex_rmsg_commit_slice(c, leaf);
    size_t head = c->signed_len + 64;
    *outlen = head + 4 + (mine ? FKEX_SLICE_BYTES : 0);
    if (!(*out = malloc(*outlen)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(*out, commit, head);
    store32_be(*out + head, mine ? 1 : 0);
    if (mine)
        memcpy(*out + head + 4, mine, FKEX_SLICE_BYTES);
    return FKEX_OK;
}

/* ---- welcome ----------------------------------------------------------- */

void fkex_rmsg_welcome_encode(fkex_writer *w, const fkex_rmsg_welcome *m)
{
    put_head(w, FKEX_RMSG_WELCOME, m->room_id);
    fkex_writer_put(w, m->joiner_id, 32);
    fkex_writer_put(w, m->th, 32);
    fkex_writer_put(w, m->commit_hash, 32);
    fkex_writer_bytes32(w, m->sealed, m->sealedlen);
}

fkex_err fkex_rmsg_welcome_decode(fkex_rmsg_welcome *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_WELCOME, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_get(&r, m->joiner_id, 32) != 0 || fkex_reader_get(&r, m->th, 32) != 0 ||
        fkex_reader_get(&r, m->commit_hash, 32) != 0 ||
        fkex_reader_bytes32(&r, &m->sealed, &m->sealedlen, 64u << 20) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_welcome_state_encode(fkex_writer *w, const fkex_welcome_state *m)
{
    fkex_writer_u64(w, m->epoch);
    fkex_writer_put(w, m->epoch_secret, 32);
    fkex_writer_put(w, m->transcript_hash, 32);
    fkex_writer_put(w, m->confirmation_tag, 32);
    fkex_writer_u32(w, m->nleaves);
    fkex_writer_put(w, m->leaves, (size_t)m->nleaves * 64);
    fkex_writer_bytes32(w, m->tree, m->treelen);
    fkex_writer_u32(w, m->path_node);
    fkex_writer_put(w, m->path_secret, 32);
    fkex_writer_bytes32(w, m->descriptor, m->descriptorlen);
}

fkex_err fkex_welcome_state_decode(fkex_welcome_state *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_get(&r, m->epoch_secret, 32) != 0 ||
        fkex_reader_get(&r, m->transcript_hash, 32) != 0 ||
        fkex_reader_get(&r, m->confirmation_tag, 32) != 0 ||
        fkex_reader_u32(&r, &m->nleaves) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->nleaves == 0 || m->nleaves > FKEX_ROOM_MAX_MEMBERS)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(&r, &m->leaves, (size_t)m->nleaves * 64) != 0 ||
        fkex_reader_bytes32(&r, &m->tree, &m->treelen,
                            (size_t)m->nleaves * (2 * 37 + 4 * FKEX_PATH_MAX)) != 0 ||
        fkex_reader_u32(&r, &m->path_node) != 0 || fkex_reader_get(&r, m->path_secret, 32) != 0 ||
        fkex_reader_bytes32(&r, &m->descriptor, &m->descriptorlen, FKEX_DESCRIPTOR_MAX) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

/* ---- join ack, remove, application --------------------------------------- */

void fkex_rmsg_join_ack_encode(fkex_writer *w, const fkex_rmsg_join_ack *m)
{
    put_head(w, FKEX_RMSG_JOIN_ACK, m->room_id);
    fkex_writer_u64(w, m->epoch);
    fkex_writer_u32(w, m->sender);
    fkex_writer_put(w, m->tag, 32);
}

fkex_err fkex_rmsg_join_ack_decode(fkex_rmsg_join_ack *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_JOIN_ACK, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_u32(&r, &m->sender) != 0 ||
        fkex_reader_get(&r, m->tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_rmsg_kick_encode(fkex_writer *w, const fkex_rmsg_kick *m)
{
    put_head(w, FKEX_RMSG_KICK, m->room_id);
    fkex_writer_put(w, m->pseudonym, FKEX_PSEUDONYM_BYTES);
    fkex_writer_bytes16(w, m->reason, m->reasonlen);
}

fkex_err fkex_rmsg_kick_decode(fkex_rmsg_kick *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_KICK, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_get(&r, m->pseudonym, FKEX_PSEUDONYM_BYTES) != 0 ||
        fkex_reader_bytes16(&r, &m->reason, &m->reasonlen) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->reasonlen > FKEX_KICK_REASON_MAX)
        return FKEX_ERR_BAD_ENCODING;
    for (size_t i = 0; i < m->reasonlen; i++)
        if (m->reason[i] < 0x20 || m->reason[i] > 0x7e)
            return FKEX_ERR_BAD_ENCODING;   /* nothing a terminal would act on */
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_rmsg_epoch_ack_encode(fkex_writer *w, const fkex_rmsg_epoch_ack *m)
{
    put_head(w, FKEX_RMSG_EPOCH_ACK, m->room_id);
    fkex_writer_u64(w, m->epoch);
    fkex_writer_put(w, m->commit_hash, 32);
    fkex_writer_u8(w, m->departing);
    fkex_writer_u32(w, m->sender);
    fkex_writer_put(w, m->tag, 32);
}

fkex_err fkex_rmsg_epoch_ack_decode(fkex_rmsg_epoch_ack *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_EPOCH_ACK, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_get(&r, m->commit_hash, 32) != 0 ||
        fkex_reader_u8(&r, &m->departing) != 0 || fkex_reader_u32(&r, &m->sender) != 0 ||
        fkex_reader_get(&r, m->tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->departing > 1 || (m->departing && !sodium_is_zero(m->tag, 32)))
        return FKEX_ERR_BAD_ENCODING;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_rmsg_settled_encode(fkex_writer *w, const fkex_rmsg_settled *m)
{
    put_head(w, FKEX_RMSG_SETTLED, m->room_id);
    fkex_writer_u64(w, m->epoch);
    fkex_writer_put(w, m->commit_hash, 32);
}

fkex_err fkex_rmsg_settled_decode(fkex_rmsg_settled *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_SETTLED, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_get(&r, m->commit_hash, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_rmsg_join_refused_encode(fkex_writer *w, const fkex_rmsg_join_refused *m)
{
    put_head(w, FKEX_RMSG_JOIN_REFUSED, m->room_id);
    fkex_writer_put(w, m->joiner_id, 32);
    fkex_writer_u8(w, m->reason);
    fkex_writer_put(w, m->authority, 32);
}

fkex_err fkex_rmsg_join_refused_decode(fkex_rmsg_join_refused *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_JOIN_REFUSED, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_get(&r, m->joiner_id, 32) != 0 || fkex_reader_u8(&r, &m->reason) != 0 ||
        fkex_reader_get(&r, m->authority, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->reason < FKEX_JOIN_REFUSED_AUTHORITY || m->reason > FKEX_JOIN_REFUSED_BUSY)
        return FKEX_ERR_BAD_ENCODING;
    return finish(&r);
}

void fkex_rmsg_remove_encode(fkex_writer *w, const fkex_rmsg_remove *m)
{
    put_head(w, FKEX_RMSG_REMOVE, m->room_id);
    fkex_writer_u64(w, m->epoch);
    fkex_writer_u32(w, m->proposer);
    fkex_writer_u32(w, m->target);
    fkex_writer_put(w, m->evidence, 32);
}

fkex_err fkex_rmsg_remove_decode(fkex_rmsg_remove *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_REMOVE, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_u32(&r, &m->proposer) != 0 ||
        fkex_reader_u32(&r, &m->target) != 0 || fkex_reader_get(&r, m->evidence, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->tagged_len = r.off;
    if (fkex_reader_get(&r, m->membership_tag, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}

void fkex_rmsg_application_encode(fkex_writer *w, const fkex_rmsg_application *m)
{
    put_head(w, FKEX_RMSG_APPLICATION, m->room_id);
    fkex_writer_u64(w, m->epoch);
    fkex_writer_u32(w, m->sender);
    fkex_writer_u32(w, m->generation);
    fkex_writer_bytes32(w, m->ct, m->ctlen);
}

fkex_err fkex_rmsg_application_decode(fkex_rmsg_application *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if ((err = get_head(&r, FKEX_RMSG_APPLICATION, m->room_id)) != FKEX_OK)
        return err;
    if (fkex_reader_u64(&r, &m->epoch) != 0 || fkex_reader_u32(&r, &m->sender) != 0 ||
        fkex_reader_u32(&r, &m->generation) != 0)
        return FKEX_ERR_TRUNCATED;
    m->header_len = r.off;
    if (fkex_reader_bytes32(&r, &m->ct, &m->ctlen, FKEX_MESSAGE_MAX) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->ctlen < crypto_aead_chacha20poly1305_ietf_ABYTES)
        return FKEX_ERR_BAD_ENCODING;
    m->signed_len = r.off;
    if (fkex_reader_get(&r, m->sig, 64) != 0)
        return FKEX_ERR_TRUNCATED;
    return finish(&r);
}
