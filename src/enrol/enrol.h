/*
 * enrol/enrol.h: the enrol layer's header. Tokens (token.c) and the
 * enrolment protocol's messages (enrol.c); the user's side is public
 * (fkex/enrol.h), the authority's side is here, for src/kms.
 */
#ifndef FKEX_ENROL_LAYER_H
#define FKEX_ENROL_LAYER_H

#include "crypto/crypto.h"
#include "fkex/enrol.h"

/* 0 if addr is "host:port": host a name, IPv4 address or [IPv6], port
 * 1..65535 without leading zeros; else -1. allow_port0 accepts port 0 (a
 * listening address: "pick a free port"). */
int fkex_addr_check(const char *addr, int allow_port0) FKEX_WUR;
/* 0 if text is an endpoint "[AUTH@]HOST:PORT" (codec.h) whose HOST:PORT
 * fkex_addr_check takes (port 0 refused); else -1. */
int fkex_endpoint_check(const char *text) FKEX_WUR;

/* The authority's side of the messages. */
typedef struct {
    fkex_enrol_type type;                       /* HELLO or REQUEST */
    uint8_t id[FKEX_TOKEN_ID_BYTES];
    uint8_t secret[FKEX_TOKEN_SECRET_BYTES];
    uint8_t reply_pk[32];
    uint8_t binding[32];
} fkex_enrol_req;

/* Reads a HELLO or opens a REQUEST with the enrolment key pair. Errors:
 * FKEX_ERR_BAD_ENCODING, FKEX_ERR_TRUNCATED, FKEX_ERR_UNSUPPORTED,
 * FKEX_ERR_AUTHENTICATION (sealed to another key, or changed). */
fkex_err fkex_enrol_request_open(fkex_enrol_req *r, const uint8_t *in, size_t len,
                                 const uint8_t sk[32], const uint8_t pk[32]) FKEX_WUR;
void fkex_enrol_key_encode(uint8_t out[FKEX_ENROL_HEADER + 32], const uint8_t pk[32]);
fkex_err fkex_enrol_reply_seal(uint8_t **out, size_t *len, const fkex_enrol_req *r,
                               fkex_enrol_status st, const uint8_t *key, size_t keylen,
                               fkex_rng *rng) FKEX_WUR;
void fkex_enrol_refusal(uint8_t out[FKEX_ENROL_HEADER + 1], fkex_enrol_status st);
void fkex_enrol_req_wipe(fkex_enrol_req *r);

#endif
