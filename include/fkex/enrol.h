/*
 * fkex/enrol.h: enrolment with an authority (`fkex enroll`), the user's
 * side: the one-time token the authority hands out, and the messages that
 * turn it into a user key over any transport (docs/FORMATS.md,
 * "Enrolment"). The authority is authenticated by the pin in the token;
 * both directions are HPKE (RFC 9180).
 *
 * A client sends fkex_enrol_hello, reads the KEY frame, sends the REQUEST
 * that fkex_enrol_request_seal makes, and opens the REPLY with
 * fkex_enrol_reply_open; frames go over a length-prefixed connection
 * (`fkex kms serve`: a u32 big-endian length before each).
 *
 * Threads: a token or client state is one object.
 */
#ifndef FKEX_ENROL_H
#define FKEX_ENROL_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/authority.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tokens ------------------------------------------------------
 * Text: "fkex1-" base64url (no padding) of
 *   version (1 or 2) | u8 n | address (n bytes) | pin (32) |
 *   id (16) | secret (32) | expires_at (u64, unix seconds) | check (8)
 * where check = SHA-256("fkex v1 token\0" || everything before it)[0..8].
 * The address is "AUTH@host:port" in version 2: AUTH pins the
 * authority's TLS key (43 characters of base64url, the SHA-256 of its
 * public key) or names it for a certificate authority to vouch for; and
 * "host:port" alone in version 1 (tokens made before servers had keys):
 * their link is encrypted but does not authenticate the server.
 * The check catches typos and truncation; the secret is what authenticates
 * (the authority keeps only its hash), and the pin what authenticates the
 * authority's enrolment key, end to end over any transport. */
#define FKEX_TOKEN_PREFIX "fkex1-"
#define FKEX_TOKEN_ID_BYTES 16
#define FKEX_TOKEN_SECRET_BYTES 32
#define FKEX_ADDR_MAX 255
#define FKEX_TOKEN_TEXT_MAX 512     /* more than any valid token */

typedef struct {
    char addr[FKEX_ADDR_MAX + 1];                /* where the authority listens: [AUTH@]host:port */
    uint8_t pin[32];                             /* fkex_enrol_pin of its key */
    uint8_t id[FKEX_TOKEN_ID_BYTES];
    uint8_t secret[FKEX_TOKEN_SECRET_BYTES];
    uint64_t expires_at;                         /* unix seconds */
} fkex_token;

/* out gets NUL-terminated text; FKEX_ERR_ARGUMENT if the address is not
 * valid ([AUTH@]host:port) or cap is too small. */
FKEX_API fkex_err fkex_token_encode(char *out, size_t cap, const fkex_token *t) FKEX_WUR;
/* Strict: prefix, canonical base64url, version, address, check, no
 * trailing bytes. Leading and trailing white space is ignored. Errors:
 * FKEX_ERR_BAD_ENCODING, FKEX_ERR_TRUNCATED, FKEX_ERR_UNSUPPORTED
 * (another version); *t is zero then. */
FKEX_API fkex_err fkex_token_decode(fkex_token *t, const char *text, size_t len) FKEX_WUR;
FKEX_API void fkex_token_wipe(fkex_token *t);
/* The pin of an enrolment key: SHA-256("fkex v1 enrolment key\0" || pk). */
FKEX_API void fkex_enrol_pin(uint8_t pin[32], const uint8_t pk[32]);
/* The token id as 32 lower-case hex digits (and a NUL). */
FKEX_API void fkex_token_id_hex(char out[2 * FKEX_TOKEN_ID_BYTES + 1], const uint8_t id[FKEX_TOKEN_ID_BYTES]);

/* ---- what an enrolment can come to ------------------------------------------ */
typedef enum {
    FKEX_ENROL_ISSUED = 0,     /* the key is in the reply */
    FKEX_ENROL_UNKNOWN = 1,    /* no such token, or the wrong secret */
    FKEX_ENROL_USED = 2,       /* the token was used already */
    FKEX_ENROL_EXPIRED = 3,    /* the token expired */
    FKEX_ENROL_MALFORMED = 4,  /* the request did not open (wrong key, bad bytes) */
    FKEX_ENROL_FAILED = 5      /* the authority failed (database, keygen) */
} fkex_enrol_status;

FKEX_API const char *fkex_enrol_status_text(fkex_enrol_status st);   /* "token already used" ... */

/* ---- the enrolment protocol ----------------------------------------
 * Every frame starts "FKEN" | version (1) | type:
 *   1 HELLO    client -> authority: nothing more
 *   2 KEY      authority -> client: the enrolment public key (32)
 *   3 REQUEST  client -> authority: enc (32) | HPKE ciphertext of
 *              id (16) | secret (32) | reply public key (32)
 *   4 REPLY    authority -> client: enc (32) | HPKE ciphertext of
 *              status (1) | the user key (the rest; empty unless issued)
 *   5 REFUSED  authority -> client: status (1), unauthenticated, for
 *              requests the authority could not open
 * REQUEST: HPKE base mode to the pinned enrolment key, info "fkex v1 enrol
 * request", aad the 6-byte frame header. REPLY: to the client's fresh reply
 * key, info "fkex v1 enrol reply" || b, where b = Export(request context,
 * "fkex v1 enrol binding", 32): only the holder of the enrolment key can
 * compute b, so the reply is bound to this request and to the authority. */
#define FKEX_ENROL_HEADER 6
#define FKEX_ENROL_REQUEST_BYTES (FKEX_ENROL_HEADER + 32 + 80 + 16)   /* 16: the AEAD tag */
#define FKEX_ENROL_REPLY_MAX (FKEX_ENROL_HEADER + 32 + 1 + FKEX_HEADER_BYTES + FKEX_BODY_MAX + 16)

typedef enum {
    FKEX_ENROL_HELLO = 1, FKEX_ENROL_KEY = 2, FKEX_ENROL_REQUEST = 3,
    FKEX_ENROL_REPLY = 4, FKEX_ENROL_REFUSED = 5
} fkex_enrol_type;

/* Client side. */
typedef struct {
    uint8_t reply_sk[32];
    uint8_t binding[32];
    int ready;
} fkex_enrol_client;

FKEX_API void fkex_enrol_hello(uint8_t out[FKEX_ENROL_HEADER]);
/* Reads a KEY frame. */
FKEX_API fkex_err fkex_enrol_key_decode(uint8_t pk[32], const uint8_t *in, size_t len) FKEX_WUR;
/* A REQUEST for token t, sealed to pk, which must match t's pin (else
 * FKEX_ERR_WRONG_AUTHORITY, nothing is sealed). c keeps what the reply
 * needs. out holds FKEX_ENROL_REQUEST_BYTES. */
FKEX_API fkex_err fkex_enrol_request_seal(uint8_t out[FKEX_ENROL_REQUEST_BYTES], fkex_enrol_client *c,
                                 const uint8_t pk[32], const fkex_token *t,
                                 fkex_rng *rng) FKEX_WUR;
/* Reads a REPLY (or REFUSED) frame. *key (malloc'd) is set only when *st
 * is FKEX_ENROL_ISSUED. A REFUSED frame gives FKEX_OK with *st from it;
 * a REPLY that does not open is FKEX_ERR_AUTHENTICATION. */
FKEX_API fkex_err fkex_enrol_reply_open(fkex_enrol_status *st, uint8_t **key, size_t *keylen,
                               fkex_enrol_client *c, const uint8_t *in, size_t len) FKEX_WUR;
FKEX_API void fkex_enrol_client_wipe(fkex_enrol_client *c);

#ifdef __cplusplus
}
#endif

#endif
