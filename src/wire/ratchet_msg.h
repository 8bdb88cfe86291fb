/*
 * wire/ratchet_msg.h: the canonical encodings of the ratchet protocol's
 * messages (PROTOCOL.md, ratchet mode version 1).
 *
 * Every message starts with its type and the version, and every message
 * but the descriptor then names its room id. Room messages are at version
 * 2 (PROTOCOL.md, "Version 2": commits settled by EpochAcks, leaf keys
 * that rotate whole, proposals with a membership tag); the descriptor's
 * layout did not change and stays at 1, so existing rooms keep their ids. Integers are big-endian;
 * variable-length fields carry a u32 length. A decoder borrows: the structs
 * point into the input, which must outlive them. Decoding checks layout
 * only (lengths, counts, ordering, no trailing bytes); signatures, MACs,
 * points and ABE ciphertexts are checked by the state machine, which knows
 * the keys. Every encoder writes exactly what its decoder accepts, so
 * decode(encode(m)) re-encodes to the same bytes.
 *
 * A signed message is encoded in two steps: *_encode writes the body into
 * a writer, the sender signs w.buf (label = the message's name), then
 * appends the signature (and, for a commit, the tags and slices).
 * `signed_len` in a decoded struct is the length of that body.
 */
#ifndef FKEX_RATCHET_MSG_H
#define FKEX_RATCHET_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/room.h"
#include "codec/codec.h"

#define FKEX_RATCHET_VERSION 2
#define FKEX_DESCRIPTOR_VERSION 1
#define FKEX_ROOM_MAX_MEMBERS 65536u
#define FKEX_ROOM_NAME_MAX 255
#define FKEX_MESSAGE_MAX (1u << 20)      /* application ciphertext */
#define FKEX_ABE_CT_MAX (8u << 20)       /* an ABE ciphertext inside a message */
/* The largest descriptor: two bytes16 fields, the admin key, two u32, the
 * signature and the header. */
#define FKEX_DESCRIPTOR_MAX (2 + 2 + FKEX_ROOM_NAME_MAX + 2 + 65535 + 32 + 4 + 4 + 64)

typedef enum {
    FKEX_RMSG_DESCRIPTOR = 1,
    FKEX_RMSG_JOIN_REQUEST = 2,
    FKEX_RMSG_CHALLENGE = 3,
    FKEX_RMSG_PROOF = 4,
    FKEX_RMSG_COMMIT = 5,
    FKEX_RMSG_WELCOME = 6,
    FKEX_RMSG_JOIN_ACK = 7,
    FKEX_RMSG_REMOVE = 8,
    FKEX_RMSG_APPLICATION = 9,
    FKEX_RMSG_EPOCH_ACK = 10,
    FKEX_RMSG_SETTLED = 11,
    FKEX_RMSG_KICK = 12,
    FKEX_RMSG_JOIN_REFUSED = 13
} fkex_rmsg_type;

/* A member's leaf: its signing key V and HPKE key X. Rosters go on the
 * wire as arrays of these, 64 bytes each. */
typedef struct {
    uint8_t sig_pk[32];
    uint8_t hpke_pk[32];
} fkex_leaf;
_Static_assert(sizeof(fkex_leaf) == 64, "a leaf is V || X, with no padding");

/* Descriptor D = {name, policy, admin_pk, version, options}, admin-signed;
 * its options are fkex/room.h's. A room's mode never changes; seed rooms
 * have no periods, so the two bits never go together. */
#define FKEX_ROOM_OPTIONS_OK(o) \
    (((o) & ~(FKEX_ROOM_REQUIRE_PERIOD | FKEX_ROOM_SEED_MODE)) == 0 && \
     ((o) & (FKEX_ROOM_REQUIRE_PERIOD | FKEX_ROOM_SEED_MODE)) != \
         (FKEX_ROOM_REQUIRE_PERIOD | FKEX_ROOM_SEED_MODE))
typedef struct {
    const uint8_t *name;
    size_t namelen;
    const uint8_t *policy;   /* canonical policy text */
    size_t policylen;
    uint8_t admin_pk[32];
    uint32_t version;
    uint32_t options;
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_descriptor;

/* JoinRequest {room_id, descriptor_hash, V_J, X_J, C_J}, signed by s_J. */
typedef struct {
    uint8_t room_id[32];
    uint8_t descriptor_hash[32];
    fkex_leaf leaf;
    const uint8_t *abe_ct;
    size_t abe_ctlen;
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_join_request;

/* The group context a sponsor states in its Challenge. */
typedef struct {
    uint64_t epoch;
    uint8_t transcript_hash[32];
    uint8_t roster_hash[32];
    uint8_t descriptor_hash[32];
} fkex_group_context;

/* Challenge {C_S, e_S.pub, tag_S}, signed by the sponsor's leaf key. */
typedef struct {
    uint8_t room_id[32];
    fkex_group_context context;
    uint8_t joiner_id[32];
    uint32_t sponsor_index;
    uint8_t sponsor_pk[32];
    const uint8_t *abe_ct;
    size_t abe_ctlen;
    uint8_t ephemeral_pk[32];
    uint8_t tag[32];
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_challenge;

/* Proof {tag_J}, signed by s_J; th names the Challenge it answers. */
typedef struct {
    uint8_t room_id[32];
    uint8_t joiner_id[32];
    uint8_t th[32];
    uint8_t tag[32];
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_proof;

/* Commit: content (everything up to and including the distribution), then
 * confirmation_tag, membership_tag (over content || confirmation_tag),
 * the committer's signature (over all of that, so that a wrong membership
 * tag is its signer's doing, never the relay's), then the path's slices.
 *
 * A path commit (PROTOCOL.md, "The ratchet tree"; RFC 9420 §7.6) carries
 * the public half of its UpdatePath in the content (the committer's new
 * leaf key and the keys of its filtered direct path, bottom up) and the
 * sealed path secrets after the signature, one slice per node of the
 * copath's resolutions, labelled by that node and in increasing order: a
 * forged slice gives its reader keys that differ from the signed ones. */
#define FKEX_DIST_GROUP 1   /* commit_secret sealed under the old epoch's "add" key */
#define FKEX_DIST_PATH 2    /* commit_secret at the top of a TreeKEM UpdatePath */
#define FKEX_SEALED_SECRET 48   /* 32-byte secret + 16-byte tag */
#define FKEX_PATH_MAX 16        /* path nodes: a tree of 65536 leaves has 16 levels */
/* A slice: u32 node || enc (32) || sealed path secret (48). */
#define FKEX_SLICE_BYTES (4 + 32 + FKEX_SEALED_SECRET)

typedef struct {
    uint8_t room_id[32];
    uint64_t epoch;           /* the epoch the commit leaves */
    uint32_t committer;
    uint8_t nonce[32];
    uint32_t nadds;
    const uint8_t *adds;      /* nadds * 64 bytes: V || X */
    uint32_t nremoves;
    const uint8_t *removes;   /* nremoves * 4 bytes, strictly increasing */
    int has_update;
    uint8_t update_sig_pk[32];  /* the committer's new V, signed by the old one with the commit */
    const uint8_t *psk_ct;    /* ABE ciphertext of a re-attestation, or NULL */
    size_t psk_ctlen;
    const uint8_t *descriptor;   /* a new descriptor, or NULL */
    size_t descriptorlen;
    uint8_t dist;
    uint8_t group_sealed[FKEX_SEALED_SECRET];   /* FKEX_DIST_GROUP */
    uint8_t path_leaf_pk[32];                    /* FKEX_DIST_PATH: the committer's new X */
    uint32_t path_len;
    const uint8_t *path_pks;                     /* path_len * 32 bytes, bottom up */
    size_t content_len;
    uint8_t confirmation_tag[32];
    uint8_t membership_tag[32];
    size_t tagged_len;        /* content || confirmation_tag */
    size_t signed_len;        /* ... || membership_tag */
    uint8_t sig[64];
    uint32_t nslices;
    const uint8_t *slices;    /* nslices * FKEX_SLICE_BYTES, nodes strictly increasing */
} fkex_rmsg_commit;

/* Welcome: AEAD_{KDF(K_w, "welcome")}(state, aad = th). */
typedef struct {
    uint8_t room_id[32];
    uint8_t joiner_id[32];
    uint8_t th[32];
    uint8_t commit_hash[32];  /* H(content) of the commit it belongs to */
    const uint8_t *sealed;
    size_t sealedlen;
} fkex_rmsg_welcome;

/* What a Welcome seals. */
typedef struct {
    uint64_t epoch;
    uint8_t epoch_secret[32];
    uint8_t transcript_hash[32];
    uint8_t confirmation_tag[32];
    uint32_t nleaves;
    const uint8_t *leaves;    /* nleaves * 64 bytes */
    const uint8_t *tree;      /* the ratchet tree's parents (gke/tree.h, tree_decode) */
    size_t treelen;
    uint32_t path_node;       /* where the commit's path meets the joiner's leaf, */
    uint8_t path_secret[32];  /* and its path secret; UINT32_MAX and zero without a path */
    const uint8_t *descriptor;
    size_t descriptorlen;
} fkex_welcome_state;

/* JoinAck {MAC(confirmation_key, "ack" || leaf_id || transcript)}, signed. */
typedef struct {
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t sender;
    uint8_t tag[32];
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_join_ack;

/* EpochAck {e+1, H(commit), MAC(confirmation_key_{e+1}, "epoch" ||
 * H(commit) || leaf_id)}, signed by the sender's leaf key of epoch e+1
 * (PROTOCOL.md, version 2). sender is its index in epoch e+1's roster.
 * departing (0 or 1): the sender falls out of this commit (a
 * re-attestation its attributes fail), so the tag is all zero. */
typedef struct {
    uint8_t room_id[32];
    uint64_t epoch;
    uint8_t commit_hash[32];
    uint8_t departing;
    uint32_t sender;
    uint8_t tag[32];
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_epoch_ack;

/* SETTLED(e, H(commit)): the relay's word that the commit named by the
 * first EpochAck moved the room from epoch e. Not signed: the relay has
 * no key in the room, and a false SETTLED can only make a member re-enter
 * or show a fork, which a relay that drops frames can do anyway. */
typedef struct {
    uint8_t room_id[32];
    uint64_t epoch;
    uint8_t commit_hash[32];
} fkex_rmsg_settled;

/* JoinRefused {joiner_id, reason, authority}: a sponsor will not serve a
 * JoinRequest (or a Proof), and says why, so that the joiner can act and
 * the relay frees the join's slot at once. authority is the fingerprint
 * of the sponsor's key's authority (the room's). Not signed: the joiner
 * knows no member's key yet; the relay passes it on only from the
 * member it named the join's sponsor, and a relay could as well drop the
 * join. */
#define FKEX_JOIN_REFUSED_AUTHORITY 1    /* its ciphertext is from another authority */
#define FKEX_JOIN_REFUSED_DESCRIPTOR 2   /* it names another descriptor: fetch it again */
#define FKEX_JOIN_REFUSED_INVALID 3      /* it fails its checks (a signature, a key in the room) */
#define FKEX_JOIN_REFUSED_FULL 4         /* the room has FKEX_ROOM_MAX_MEMBERS */
#define FKEX_JOIN_REFUSED_PROOF 5        /* its Proof was wrong */
#define FKEX_JOIN_REFUSED_BUSY 6         /* this member cannot serve it now: another may */
typedef struct {
    uint8_t room_id[32];
    uint8_t joiner_id[32];
    uint8_t reason;
    uint8_t authority[32];
} fkex_rmsg_join_refused;

/* Kick {pseudonym, reason}, signed by the room's admin key (fkex room
 * kick): the member whose V begins with the pseudonym's 8 bytes is to be
 * removed; the relay refuses its submissions from then on. reason is
 * printable ASCII. */
#define FKEX_KICK_MAX (2 + 32 + FKEX_PSEUDONYM_BYTES + 2 + FKEX_KICK_REASON_MAX + 64)
typedef struct {
    uint8_t room_id[32];
    uint8_t pseudonym[FKEX_PSEUDONYM_BYTES];
    const uint8_t *reason;
    size_t reasonlen;
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_kick;

/* Remove(target) proposal by a member (its own leave, a GONE or an
 * overdue ack, a kick, or misbehaviour: then evidence is the H(commit) it
 * refused, else zero), with MAC(membership_key_e, body) so that only a
 * holder of the current epoch proposes, then signed. */
typedef struct {
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t proposer;
    uint32_t target;
    uint8_t evidence[32];
    uint8_t membership_tag[32];
    size_t tagged_len;        /* the body the membership tag covers */
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_remove;

/* {room_id, epoch, leaf_index, generation, AEAD(content, aad = header)}, signed. */
typedef struct {
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t sender;
    uint32_t generation;
    size_t header_len;        /* the AEAD's associated data: all before the ciphertext */
    const uint8_t *ct;
    size_t ctlen;
    uint8_t sig[64];
    size_t signed_len;
} fkex_rmsg_application;

/* Type and room of any message, for routing: FKEX_ERR_BAD_ENCODING or
 * FKEX_ERR_UNSUPPORTED (another version). room_id is zero for a descriptor. */
fkex_err fkex_rmsg_peek(fkex_rmsg_type *type, uint8_t room_id[32], const uint8_t *in,
                        size_t len) FKEX_WUR;

void fkex_rmsg_descriptor_encode(fkex_writer *w, const fkex_rmsg_descriptor *m);
void fkex_rmsg_join_request_encode(fkex_writer *w, const fkex_rmsg_join_request *m);
void fkex_rmsg_challenge_encode(fkex_writer *w, const fkex_rmsg_challenge *m);
void fkex_rmsg_proof_encode(fkex_writer *w, const fkex_rmsg_proof *m);
/* The commit content only; the committer then appends confirmation_tag,
 * membership_tag over all so far, its signature over all so far, and the
 * slice count (u32) and slices. */
void fkex_rmsg_commit_encode(fkex_writer *w, const fkex_rmsg_commit *m);
void fkex_rmsg_welcome_encode(fkex_writer *w, const fkex_rmsg_welcome *m);
void fkex_welcome_state_encode(fkex_writer *w, const fkex_welcome_state *m);
void fkex_rmsg_join_ack_encode(fkex_writer *w, const fkex_rmsg_join_ack *m);
void fkex_rmsg_kick_encode(fkex_writer *w, const fkex_rmsg_kick *m);
void fkex_rmsg_epoch_ack_encode(fkex_writer *w, const fkex_rmsg_epoch_ack *m);
void fkex_rmsg_settled_encode(fkex_writer *w, const fkex_rmsg_settled *m);
void fkex_rmsg_join_refused_encode(fkex_writer *w, const fkex_rmsg_join_refused *m);
/* The body only; the proposer appends the membership tag, then signs. */
void fkex_rmsg_remove_encode(fkex_writer *w, const fkex_rmsg_remove *m);
void fkex_rmsg_application_encode(fkex_writer *w, const fkex_rmsg_application *m);

fkex_err fkex_rmsg_descriptor_decode(fkex_rmsg_descriptor *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_join_request_decode(fkex_rmsg_join_request *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_challenge_decode(fkex_rmsg_challenge *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_proof_decode(fkex_rmsg_proof *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_commit_decode(fkex_rmsg_commit *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_welcome_decode(fkex_rmsg_welcome *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_welcome_state_decode(fkex_welcome_state *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_join_ack_decode(fkex_rmsg_join_ack *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_kick_decode(fkex_rmsg_kick *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_epoch_ack_decode(fkex_rmsg_epoch_ack *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_settled_decode(fkex_rmsg_settled *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_join_refused_decode(fkex_rmsg_join_refused *m, const uint8_t *in,
                                       size_t len) FKEX_WUR;
fkex_err fkex_rmsg_remove_decode(fkex_rmsg_remove *m, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_rmsg_application_decode(fkex_rmsg_application *m, const uint8_t *in, size_t len) FKEX_WUR;

/* 1 if tree node y is node x or below it (RFC 9420 Appendix C numbering:
 * leaf i is node 2i). */
int fkex_tree_below(uint32_t y, uint32_t x);
/* The slice a path commit holds for the member at leaf (its index in the
 * new epoch): of the nodes that cover the leaf, the one of lowest level,
 * which is the one of the copath's resolutions whose key it holds (an
 * unmerged leaf is listed below the parent that lists it). Not the lowest
 * numbered: leaf 3 (node 6) unmerged at node 5 takes node 6. NULL if
 * none. O(slices). */
const uint8_t *fkex_rmsg_commit_slice(const fkex_rmsg_commit *c, uint32_t leaf);
/* Where each of the n members of the commit's epoch sits after it
 * (gke/roster.c's rule: removals highest first, each filled by the last
 * member): place[i] is member i's new index, UINT32_MAX if it is removed.
 * FKEX_ERR_BAD_ENCODING if a removal is out of range. O(n). */
fkex_err fkex_rmsg_commit_places(const fkex_rmsg_commit *c, uint32_t n, uint32_t *place) FKEX_WUR;
/* The relay's cut of commit (its bytes, decoded into c) for the member at
 * leaf: the commit with only that member's slice (or none: UINT32_MAX, or
 * none covers it). *out is malloc'd. O(slices), no decoding. */
fkex_err fkex_rmsg_commit_view(uint8_t **out, size_t *outlen, const uint8_t *commit,
                               const fkex_rmsg_commit *c, uint32_t leaf) FKEX_WUR;

#endif
