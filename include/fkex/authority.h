/*
 * fkex/authority.h: an authority's objects, which both schemes share.
 *
 *   fkex_mpk  public parameters of an authority
 *   fkex_msk  the authority's master secret (embeds its public parameters)
 *   fkex_key  a user's key: attributes (CP-ABE, fkex/abe.h) and, if the
 *             authority issued one, an identity (Boneh-Franklin,
 *             fkex/ibe.h); it embeds the public parameters, so it is
 *             self-contained
 *
 * Each encodes to "FKEX" | version | kind | scheme | curve | authority
 * fingerprint (32) | body length (u32) | body (docs/FORMATS.md). Decoding
 * validates everything: canonical encodings, subgroup membership, no
 * trailing bytes.
 *
 * Threads: an object may be used by one thread at a time. Public
 * parameters keep a cache of hashed points that encryption fills, and keys
 * and master keys share theirs, so a key, its authority's public
 * parameters and the master key are one object for this rule.
 */
#ifndef FKEX_AUTHORITY_H
#define FKEX_AUTHORITY_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fkex_mpk fkex_mpk;
typedef struct fkex_msk fkex_msk;
typedef struct fkex_key fkex_key;

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
/* A normalised identity has 1..FKEX_IBE_ID_MAX bytes of UTF-8. */
#define FKEX_IBE_ID_MAX 255
/* Inputs longer than this are refused before they are normalised. */
#define FKEX_IBE_ID_INPUT_MAX 1024

/* What an object says about itself, read from its 44-byte header. */
typedef struct {
    fkex_kind kind;
    uint8_t version, scheme, curve;
    uint8_t fingerprint[FKEX_FINGERPRINT_BYTES];
    uint32_t body_len;
} fkex_header;

FKEX_API fkex_err fkex_header_decode(fkex_header *h, const uint8_t in[FKEX_HEADER_BYTES]) FKEX_WUR;
FKEX_API const char *fkex_kind_name(fkex_kind kind);      /* "ciphertext", ... */
FKEX_API const char *fkex_kind_armor(fkex_kind kind);     /* "CIPHERTEXT", ... */
FKEX_API const char *fkex_scheme_name(uint8_t scheme);    /* "fame", "waters11", "bf01" or NULL */
/* What the scheme is, for people: "Waters 2011 CP-ABE", ...; NULL if unknown. */
FKEX_API const char *fkex_scheme_title(uint8_t scheme);
/* A fingerprint for people: the first 10 bytes in base32, 4-4-4-4. */
FKEX_API void fkex_fingerprint_text(char out[20], const uint8_t fp[FKEX_FINGERPRINT_BYTES]);

/* What a key's attributes must be, checked without the master key (a
 * token minted for attributes keygen refuses could never be redeemed): at
 * most FKEX_POLICY_MAX_LEAVES valid attributes, no repeats, at most
 * FKEX_KEY_MAX_NAMES names once numbers are expanded (64 each).
 * FKEX_ERR_ATTRIBUTE, FKEX_ERR_ARGUMENT (a repeat) or FKEX_ERR_POLICY_LIMIT. */
FKEX_API fkex_err fkex_key_attrs_check(const char *const *attrs, size_t n) FKEX_WUR;

/* Normalises an identity: trims ASCII white space at both ends and
 * lower-cases ASCII letters. Refuses (FKEX_ERR_ATTRIBUTE) what is empty
 * after trimming, longer than FKEX_IBE_ID_MAX bytes, not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF included),
 * or holds a control character (C0, DEL, C1). out is NUL-terminated. */
FKEX_API fkex_err fkex_ibe_identity(char out[FKEX_IBE_ID_MAX + 1], const char *in, size_t len) FKEX_WUR;

/* ---- encodings (out is malloc'd; free with fkex_bytes_free, fkex/io.h,
 * which wipes) -------------------------------------------------------- */
FKEX_API fkex_err fkex_mpk_encode(uint8_t **out, size_t *len, const fkex_mpk *mpk) FKEX_WUR;
FKEX_API fkex_err fkex_msk_encode(uint8_t **out, size_t *len, const fkex_msk *msk) FKEX_WUR;
FKEX_API fkex_err fkex_key_encode(uint8_t **out, size_t *len, const fkex_key *key) FKEX_WUR;

FKEX_API fkex_err fkex_mpk_decode(fkex_mpk **mpk, const uint8_t *in, size_t len) FKEX_WUR;
FKEX_API fkex_err fkex_msk_decode(fkex_msk **msk, const uint8_t *in, size_t len) FKEX_WUR;
/* A user key is checked against its authority's public parameters, its
 * attribute labels (two pairings' worth of work and a hash per name) and
 * its identity: FKEX_ERR_AUTHENTICATION if its parts do not belong to it
 * (a label or identity edited, a part from another key or another
 * authority). */
FKEX_API fkex_err fkex_key_decode(fkex_key **key, const uint8_t *in, size_t len) FKEX_WUR;

/* ---- what objects say ------------------------------------------------------ */
FKEX_API const fkex_mpk *fkex_msk_mpk(const fkex_msk *msk);
FKEX_API const fkex_mpk *fkex_key_mpk(const fkex_key *key);
FKEX_API void fkex_mpk_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_mpk *mpk);
FKEX_API uint8_t fkex_mpk_scheme(const fkex_mpk *mpk);
/* The user attributes, sorted, as given to keygen. */
FKEX_API void fkex_key_attrs(const char *const **attrs, size_t *n, const fkex_key *key);
/* 1 if the public parameters carry Boneh-Franklin parameters. */
FKEX_API int fkex_mpk_has_ibe(const fkex_mpk *mpk);
/* The key's normalised identity, or NULL if it has none. */
FKEX_API const char *fkex_key_identity(const fkex_key *key);

FKEX_API void fkex_mpk_free(fkex_mpk *mpk);
FKEX_API void fkex_msk_free(fkex_msk *msk);
FKEX_API void fkex_key_free(fkex_key *key);

#ifdef __cplusplus
}
#endif

#endif
