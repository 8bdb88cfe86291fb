/*
 * fkex/abe.h: ciphertext-policy attribute-based encryption as a KEM.
 *
 * Objects (all self-describing, see docs/FORMATS.md):
 *   fkex_abe_mpk  public parameters of an authority
 *   fkex_abe_msk  the authority's master secret (embeds its public parameters)
 *   fkex_abe_key  a user's key for a set of attributes (embeds the public
 *                 parameters, so it is self-contained)
 *   fkex_abe_ct   a KEM ciphertext under a policy
 *
 * Each encodes to "FKEX" | version | kind | scheme | curve | authority
 * fingerprint (32) | body length (u32) | body. Decoding validates everything:
 * canonical encodings, subgroup membership, no trailing bytes.
 *
 * Two KEM modes:
 *   FKEX_ABE_CPA  the scheme's KEM; key = KDF(Z || ciphertext bytes), for
 *                 protocols that authenticate the ciphertext themselves;
 *   FKEX_ABE_CCA  Fujisaki-Okamoto: the coins are derived from a random k,
 *                 which the ciphertext carries masked by KDF(Z); decapsulation
 *                 re-encrypts and compares, so any change is rejected.
 *
 * Threads: an object may be used by one thread at a time. Public
 * parameters keep a cache of hashed points that encryption fills, and keys
 * and master keys share theirs, so a key, its authority's public
 * parameters and the master key are one object for this rule.
 *
 * The scheme is named at setup: "fame" (Agrawal-Chase 2017, fully secure,
 * constant-cost decryption; the default for new authorities) or "waters11"
 * (Waters 2011). Everything else dispatches on the scheme recorded in the
 * objects, so adding a scheme changes no caller, and an authority made
 * with either keeps working.
 */
#ifndef FKEX_ABE_H
#define FKEX_ABE_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/policy.h"

typedef struct fkex_abe_mpk fkex_abe_mpk;
typedef struct fkex_abe_msk fkex_abe_msk;
typedef struct fkex_abe_key fkex_abe_key;
typedef struct fkex_abe_ct  fkex_abe_ct;

typedef enum { FKEX_ABE_CPA = 1, FKEX_ABE_CCA = 2 } fkex_abe_mode;

typedef enum {
    FKEX_KIND_PUBLIC_PARAMS = 1,
    FKEX_KIND_MASTER_KEY = 2,
    FKEX_KIND_USER_KEY = 3,
    FKEX_KIND_CIPHERTEXT = 4
} fkex_kind;

#define FKEX_HEADER_BYTES 44
#define FKEX_FINGERPRINT_BYTES 32
#define FKEX_BODY_MAX (4u << 20)   /* no object body is larger */
/* A key has at most this many parts: attributes, a numeric one counting
 * 64 (so at most 64 numeric attributes, or 4096 plain ones). */
#define FKEX_KEY_MAX_NAMES 4096

/* What an object says about itself, read from its 44-byte header. */
typedef struct {
    fkex_kind kind;
    uint8_t version, scheme, curve;
    uint8_t fingerprint[FKEX_FINGERPRINT_BYTES];
    uint32_t body_len;
} fkex_header;

fkex_err fkex_header_decode(fkex_header *h, const uint8_t in[FKEX_HEADER_BYTES]) FKEX_WUR;
const char *fkex_kind_name(fkex_kind kind);      /* "ciphertext", ... */
const char *fkex_kind_armor(fkex_kind kind);     /* "CIPHERTEXT", ... */
const char *fkex_scheme_name(uint8_t scheme);    /* "fame", "waters11", "bf01" or NULL */
/* What the scheme is, for people: "Waters 2011 CP-ABE", ...; NULL if unknown. */
const char *fkex_scheme_title(uint8_t scheme);
/* The scheme byte of a CP-ABE scheme setup takes, or 0 if there is none. */
uint8_t fkex_abe_scheme_id(const char *name);
/* A fingerprint for people: the first 10 bytes in base32, 4-4-4-4. */
void fkex_fingerprint_text(char out[20], const uint8_t fp[FKEX_FINGERPRINT_BYTES]);


/* ---- the KEM -------------------------------------------------------------- */
#define FKEX_ABE_DEFAULT_SCHEME "fame"
#define FKEX_ABE_SCHEMES "fame, waters11"   /* the names setup takes */
/* FKEX_ERR_UNSUPPORTED for a scheme not in FKEX_ABE_SCHEMES. */
fkex_err fkex_abe_setup(fkex_abe_mpk **mpk, fkex_abe_msk **msk, const char *scheme,
                        fkex_rng *rng) FKEX_WUR;
/* What keygen requires of attrs, without the master key (a token minted
 * for attributes keygen refuses could never be redeemed): at most
 * FKEX_POLICY_MAX_LEAVES valid attributes, no repeats, at most
 * FKEX_KEY_MAX_NAMES names once numbers are expanded (64 each).
 * FKEX_ERR_ATTRIBUTE, FKEX_ERR_ARGUMENT (a repeat) or FKEX_ERR_POLICY_LIMIT. */
fkex_err fkex_abe_attrs_check(const char *const *attrs, size_t n) FKEX_WUR;
/* attrs: user attributes ("ONE", "dept:x", "year=5"); duplicates are an error. */
fkex_err fkex_abe_keygen(fkex_abe_key **key, const fkex_abe_msk *msk,
                         const char *const *attrs, size_t nattrs, fkex_rng *rng) FKEX_WUR;
fkex_err fkex_abe_encap(uint8_t key[32], fkex_abe_ct **ct, const fkex_abe_mpk *mpk,
                        const fkex_policy *policy, fkex_abe_mode mode, fkex_rng *rng) FKEX_WUR;
/* The caller says which mode it accepts: a ciphertext of the other mode is
 * FKEX_ERR_AUTHENTICATION (file tools accept only FKEX_ABE_CCA, so nobody
 * gets a CPA decapsulation oracle from them). Otherwise
 * FKEX_ERR_WRONG_AUTHORITY, FKEX_ERR_POLICY_UNSATISFIED or (CCA)
 * FKEX_ERR_AUTHENTICATION; key is written only on success. Its group
 * operations depend on the policy alone, not on the branch of it the key
 * satisfies, so its time does not say which attributes the key used
 * (docs/ARCHITECTURE.md). */
fkex_err fkex_abe_decap(uint8_t key[32], const fkex_abe_key *sk, const fkex_abe_ct *ct,
                        fkex_abe_mode mode) FKEX_WUR;

/* ---- encodings (out is malloc'd; secret encodings are wiped by
 * fkex_abe_bytes_free) -------------------------------------------------- */
fkex_err fkex_abe_mpk_encode(uint8_t **out, size_t *len, const fkex_abe_mpk *mpk) FKEX_WUR;
fkex_err fkex_abe_msk_encode(uint8_t **out, size_t *len, const fkex_abe_msk *msk) FKEX_WUR;
fkex_err fkex_abe_key_encode(uint8_t **out, size_t *len, const fkex_abe_key *key) FKEX_WUR;
/* A ciphertext keeps the bytes its key is bound to: borrowed, not copied. */
void fkex_abe_ct_bytes(const uint8_t **bytes, size_t *len, const fkex_abe_ct *ct);
void fkex_abe_bytes_free(uint8_t *bytes, size_t len);

fkex_err fkex_abe_mpk_decode(fkex_abe_mpk **mpk, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_abe_msk_decode(fkex_abe_msk **msk, const uint8_t *in, size_t len) FKEX_WUR;
/* A user key is checked against its authority's public parameters and its
 * attribute labels (two pairings' worth of work and a hash per name):
 * FKEX_ERR_AUTHENTICATION if its parts do not belong to it (a label
 * edited, a part from another key or another authority). */
fkex_err fkex_abe_key_decode(fkex_abe_key **key, const uint8_t *in, size_t len) FKEX_WUR;
fkex_err fkex_abe_ct_decode(fkex_abe_ct **ct, const uint8_t *in, size_t len) FKEX_WUR;

/* ---- what objects say ------------------------------------------------------ */
const fkex_abe_mpk *fkex_abe_msk_mpk(const fkex_abe_msk *msk);
const fkex_abe_mpk *fkex_abe_key_mpk(const fkex_abe_key *key);
void fkex_abe_mpk_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_abe_mpk *mpk);
uint8_t fkex_abe_mpk_scheme(const fkex_abe_mpk *mpk);
/* The user attributes, sorted, as given to keygen. */
void fkex_abe_key_attrs(const char *const **attrs, size_t *n, const fkex_abe_key *key);
const char *fkex_abe_ct_policy(const fkex_abe_ct *ct);   /* canonical text */
fkex_abe_mode fkex_abe_ct_mode(const fkex_abe_ct *ct);
size_t fkex_abe_ct_rows(const fkex_abe_ct *ct);
void fkex_abe_ct_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_abe_ct *ct);

void fkex_abe_mpk_free(fkex_abe_mpk *mpk);
void fkex_abe_msk_free(fkex_abe_msk *msk);
void fkex_abe_key_free(fkex_abe_key *key);
void fkex_abe_ct_free(fkex_abe_ct *ct);

#endif
