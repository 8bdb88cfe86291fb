/*
 * ibe/dm.h: a direct conversation between two identities, as a state
 * machine (dm_session.c): no I/O, no clock, randomness a parameter, and a
 * refused frame changes nothing.
 *
 *   1. IBAKE (ibe/ibake.h). Both parties dial; the one whose normalised
 *      identity sorts first (bytewise) is the initiator, so two clients
 *      that dial each other at once never both initiate.
 *   2. Each side, once its IBAKE is done, sends a hello: a fresh Ed25519
 *      key V for this conversation, MACed under a key derived from the
 *      IBAKE session key (which hashes the whole IBAKE transcript) and
 *      signed by V. Only the authenticated peer knows that key, so V is
 *      the peer's, vouched for by the authority's identity key.
 *   3. Application messages as in rooms (PROTOCOL.md): per-sender hash
 *      chains (crypto/chain.h) rooted at
 *        ck_0 = KDF-Expand(session, "dm sender", conversation id || V),
 *      each message {generation g, AEAD_{mk_g}(content, aad = header)}
 *      signed with the sender's V. The session key is wiped once both
 *      chains are rooted and the peer's hello checked.
 *
 * Frames (docs/FORMATS.md, "Direct conversations"): IBAKE's messages as
 * they are (types 1, 2, 3), then
 *   hello   u8 0x11 | u8 1 | conversation id | V | tag (32) | sig
 *   message u8 0x12 | u8 1 | conversation id | u32 g | bytes32 AEAD | sig
 * tag = MAC(KDF-Expand(session, "dm hello", conversation id || u8 role),
 * everything before it); sig = Ed25519 by V, labels "dm hello" and
 * "dm message", over everything before it.
 *
 * The conversation id is what the relay sees, and only the two parties
 * (and their authority) can compute it: with lo and hi the two normalised
 * identities in bytewise order,
 *   K  = e(H1(lo), H2(hi))^s,  which lo computes as e(d_lo, H2(hi)) and hi
 *        as e(H1(lo), d2_hi)  (Sakai-Ohgishi-Kasahara key agreement, in
 *        Dupont and Enge's asymmetric form: ibe/ibe.h)
 *   id = KDF-Expand(KDF-Extract(salt = fingerprint, ikm = K), "dm
 *        conversation", u16 || lo || u16 || hi)
 * so a third party who knows both identities can neither take the
 * conversation's places at the relay nor confirm that the two talk.
 *
 * Cost: IBAKE's (ibake.h), then per message one Ed25519 signature to send,
 * one verification and two HMACs per generation to receive.
 */
#ifndef FKEX_DM_H
#define FKEX_DM_H

#define FKEX_DM_VERSION 1
#define FKEX_DM_HELLO 0x11
#define FKEX_DM_MESSAGE 0x12
#define FKEX_DM_CONTENT_MAX (16u << 10)
#define FKEX_DM_HELLO_LEN (2 + 32 + 32 + 32 + 64)
#define FKEX_DM_MESSAGE_OVERHEAD (2 + 32 + 4 + 4 + 16 + 64)
/* The largest frame of a conversation: a message of the largest content. */
#define FKEX_DM_FRAME_MAX (FKEX_DM_CONTENT_MAX + FKEX_DM_MESSAGE_OVERHEAD)

/* A frame's fields, borrowed from the input (hello or message). */
typedef struct {
    uint8_t type;
    const uint8_t *conv;
    const uint8_t *v, *tag;        /* hello */
    uint32_t generation;           /* message */
    const uint8_t *ct;
    size_t ctlen;
    size_t header_len;             /* message: the AEAD's additional data */
    const uint8_t *sig;
    size_t signed_len;
} fkex_dm_msg;

/* Strict: a hello or a message of version 1, lengths in bounds, no
 * trailing bytes. (IBAKE's frames have their own decoder.) */
fkex_err fkex_dm_msg_decode(fkex_dm_msg *m, const uint8_t *in, size_t len) FKEX_WUR;

/* The id of key's holder's conversation with peer (normalised), as
 * above. FKEX_ERR_UNSUPPORTED if key's identity sorts after peer's and
 * the key has no d2 (made before conversation ids were private: its
 * holder must enrol again); FKEX_ERR_WRONG_IDENTITY if it has no identity.
 * One pairing. */
fkex_err fkex_dm_conversation_id(uint8_t id[32], const fkex_key *key,
                                 const char *peer) FKEX_WUR;

typedef struct {
    int state;                          /* dm_session.c */
    int initiator;
    fkex_ibake ike;
    uint8_t conv[32];
    char peer[FKEX_IBE_ID_MAX + 1];
    uint8_t sig_pk[32], sig_sk[64];     /* ours, fresh per conversation */
    uint8_t peer_pk[32];
    uint8_t session[32];                /* IBAKE's key, until both chains are rooted */
    uint8_t send_ck[32];
    uint32_t send_gen;
    fkex_chain recv;
} fkex_dm;

/* What a frame asks the caller to do: send these frames to the peer, in
 * order; `opened` when the conversation just opened (both authenticated);
 * `message` when a message was read into the caller's buffer. */
typedef struct {
    uint8_t frame[2][FKEX_IBAKE_MSG_MAX];
    size_t len[2];
    size_t n;
    int opened;
    int message;
    size_t plainlen;
} fkex_dm_out;

/* key must hold an identity (FKEX_ERR_WRONG_IDENTITY) of an authority
 * with IBE parameters (FKEX_ERR_UNSUPPORTED); peer is normalised here and
 * must differ from it (FKEX_ERR_ARGUMENT). key is borrowed. */
fkex_err fkex_dm_init(fkex_dm *dm, const fkex_key *key, const char *peer,
                      fkex_rng *rng) FKEX_WUR;
/* 1 if this side runs IBAKE's initiator (its identity sorts first). */
int fkex_dm_initiator(const fkex_dm *dm);
/* The initiator's first frame (IBAKE message 1); nothing for a responder. */
fkex_err fkex_dm_start(fkex_dm *dm, fkex_dm_out *out, fkex_rng *rng) FKEX_WUR;
/* A frame from the peer. plain must hold len bytes (a message's content
 * is shorter than its frame). Errors leave dm unchanged: IBAKE's
 * (ibake.h), FKEX_ERR_WRONG_ROOM (another conversation),
 * FKEX_ERR_AUTHENTICATION (a tag, signature or AEAD that fails),
 * FKEX_ERR_REPLAY (a generation or hello taken already),
 * FKEX_ERR_UNEXPECTED (out of turn, or too far ahead), decoding errors. */
fkex_err fkex_dm_receive(fkex_dm *dm, fkex_dm_out *out, uint8_t *plain, const uint8_t *in,
                         size_t len, fkex_rng *rng) FKEX_WUR;
/* 1 once both sides are authenticated and messages flow both ways. */
int fkex_dm_open(const fkex_dm *dm);
/* The peer's normalised identity (authenticated once open). */
const char *fkex_dm_peer(const fkex_dm *dm);
/* A message of len bytes (at most FKEX_DM_CONTENT_MAX) into out, which
 * holds len + FKEX_DM_MESSAGE_OVERHEAD bytes. FKEX_ERR_UNEXPECTED until
 * this side's IBAKE is done. */
fkex_err fkex_dm_send(fkex_dm *dm, uint8_t *out, size_t *outlen, const uint8_t *content,
                      size_t len) FKEX_WUR;
void fkex_dm_wipe(fkex_dm *dm);

#endif
