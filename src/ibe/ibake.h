/*
 * ibe/ibake.h: IBAKE, identity-based authenticated key exchange (RFC 6539),
 * with X25519 shares, as a state machine: no I/O, no clock, randomness a
 * parameter, and a refused message changes nothing.
 *
 *   1. A -> B: IBE(ID_B; ID_A, ID_B, xP)
 *   2. B -> A: IBE(ID_A; ID_B, ID_A, xP, yP)    A checks that xP is its own
 *   3. A -> B: IBE(ID_B; ID_A, ID_B, yP)        B checks that yP is its own
 *   session key = KDF(xyP, ID_A, ID_B, m1, m2, m3)
 *
 * Only the holder of d_B can read xP out of message 1 and echo it, and
 * only the holder of d_A can read yP out of message 2: the echoes
 * authenticate both sides. The key needs xyP, so the authority, which can
 * open all three messages, still faces CDH (tests/test_ibe.c shows it).
 *
 * IBE(ID; payload) is a hybrid: a Boneh-Franklin encapsulation to ID
 * (ibe/bf.c, IND-CCA), and the payload under ChaCha20-Poly1305 (IETF) with
 * the KEM key, a zero nonce (the key is used once) and as additional data
 * every byte of the message before it. Wire layouts: ibake_msg.c and
 * docs/FORMATS.md.
 *
 * Cost per side: two IBE decapsulations or one, and the encapsulations,
 * plus two X25519 operations (bench/ibe.c).
 */
#ifndef FKEX_IBAKE_H
#define FKEX_IBAKE_H

#define FKEX_IBAKE_VERSION 1
#define FKEX_IBAKE_PAYLOAD_MAX (2 + FKEX_IBE_ID_MAX + 2 + FKEX_IBE_ID_MAX + 2 * 32)
#define FKEX_IBAKE_MSG_MAX (2 + 2 + FKEX_IBE_CT_MAX + 2 + FKEX_IBAKE_PAYLOAD_MAX + 16)

/* ---- messages (ibake_msg.c) ------------------------------------------------
 *   u8 type (1, 2, 3) | u8 version (1) | u16 n | IBE ciphertext object (n)
 *   | u16 m | AEAD ciphertext (m)
 * and the AEAD plaintext (the payload):
 *   bytes16 sender | bytes16 recipient | xP (1, 2) | yP (2, 3)
 * Identities are normalised, shares canonical X25519 (u < 2^255 - 19). */
typedef struct {
    uint8_t type;
    const uint8_t *ct;          /* into the input */
    size_t ctlen;
    const uint8_t *sealed;
    size_t sealedlen;
    size_t aadlen;              /* bytes before the AEAD ciphertext */
} fkex_ibake_msg;

typedef struct {
    char sender[FKEX_IBE_ID_MAX + 1], recipient[FKEX_IBE_ID_MAX + 1];
    size_t sender_len, recipient_len;
    uint8_t share[2][32];       /* m1: xP; m2: xP, yP; m3: yP */
} fkex_ibake_payload;

/* Strict: known type and version, lengths in bounds, no trailing bytes. */
fkex_err fkex_ibake_msg_decode(fkex_ibake_msg *m, const uint8_t *in, size_t len) FKEX_WUR;
/* The header and the ciphertext object; the caller appends u16 m and the
 * AEAD ciphertext. Returns the bytes written (the AEAD's additional data). */
size_t fkex_ibake_msg_head(uint8_t out[FKEX_IBAKE_MSG_MAX], uint8_t type, const uint8_t *ct,
                           size_t ctlen);
/* The number of shares message `type` carries (1 or 2), 0 for no type. */
size_t fkex_ibake_shares(uint8_t type);
fkex_err fkex_ibake_payload_decode(fkex_ibake_payload *p, uint8_t type, const uint8_t *in,
                                   size_t len) FKEX_WUR;
size_t fkex_ibake_payload_encode(uint8_t out[FKEX_IBAKE_PAYLOAD_MAX], uint8_t type,
                                 const fkex_ibake_payload *p);

/* One whole message: IBE(recipient; payload) under the authority of mpk.
 * The state machine builds its messages with it (and tests their forgers). */
fkex_err fkex_ibake_seal(uint8_t out[FKEX_IBAKE_MSG_MAX], size_t *outlen, uint8_t type,
                         const fkex_mpk *mpk, const fkex_ibake_payload *p,
                         fkex_rng *rng) FKEX_WUR;
/* Decapsulates with key and opens: the payload of a message for key's
 * identity. FKEX_ERR_WRONG_AUTHORITY, FKEX_ERR_WRONG_IDENTITY,
 * FKEX_ERR_AUTHENTICATION, or a decoding error. */
fkex_err fkex_ibake_open(fkex_ibake_payload *p, uint8_t *type, const fkex_key *key,
                         const uint8_t *in, size_t len) FKEX_WUR;

/* ---- the state machine (ibake.c) ----------------------------------------- */
typedef enum { FKEX_IBAKE_INITIATOR = 1, FKEX_IBAKE_RESPONDER = 2 } fkex_ibake_role;

typedef struct {
    fkex_ibake_role role;
    int state;                                  /* ibake.c */
    const fkex_key *key;                    /* ours, borrowed: holds our identity */
    char peer[FKEX_IBE_ID_MAX + 1];             /* "" for a responder that takes anyone */
    size_t peerlen;
    uint8_t secret[32];                         /* x or y; wiped when used */
    uint8_t xp[32], yp[32];
    uint8_t z[32];                              /* xyP, until the key is made */
    uint8_t m1[FKEX_IBAKE_MSG_MAX], m2[FKEX_IBAKE_MSG_MAX];
    size_t m1len, m2len;
    uint8_t m3hash[32];                         /* to recognise a replayed message 3 */
    uint8_t session[32];
} fkex_ibake;

/* key must hold an identity (FKEX_ERR_WRONG_IDENTITY) from an authority
 * with IBE parameters. The initiator names its peer; a responder may
 * (then only that peer is accepted) or pass NULL. */
fkex_err fkex_ibake_init(fkex_ibake *st, fkex_ibake_role role, const fkex_key *key,
                         const char *peer) FKEX_WUR;
/* The initiator's message 1. */
fkex_err fkex_ibake_start(fkex_ibake *st, uint8_t out[FKEX_IBAKE_MSG_MAX], size_t *outlen,
                          fkex_rng *rng) FKEX_WUR;
/* The next message: the responder answers 1 with 2, the initiator 2 with
 * 3, the responder takes 3 (*outlen = 0). Errors leave st unchanged:
 * FKEX_ERR_UNEXPECTED (not the message awaited), FKEX_ERR_REPLAY (one
 * already taken), FKEX_ERR_AUTHENTICATION (an echo that does not match,
 * or a message that does not open), FKEX_ERR_WRONG_IDENTITY (for or from
 * another identity), FKEX_ERR_WRONG_AUTHORITY, FKEX_ERR_NOT_IN_GROUP (a
 * low-order X25519 share), decoding errors. */
fkex_err fkex_ibake_receive(fkex_ibake *st, uint8_t out[FKEX_IBAKE_MSG_MAX], size_t *outlen,
                            const uint8_t *in, size_t len, fkex_rng *rng) FKEX_WUR;
int fkex_ibake_done(const fkex_ibake *st);
/* FKEX_ERR_UNEXPECTED until done. */
fkex_err fkex_ibake_session_key(uint8_t key[32], const fkex_ibake *st) FKEX_WUR;
/* The peer's identity: authenticated once done. */
const char *fkex_ibake_peer(const fkex_ibake *st);
void fkex_ibake_wipe(fkex_ibake *st);

#endif
