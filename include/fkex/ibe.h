/*
 * fkex/ibe.h: identity-based encryption (Boneh-Franklin, CRYPTO 2001) as an
 * IND-CCA KEM.
 *
 * An authority's public parameters may carry Boneh-Franklin parameters
 * next to its CP-ABE ones (P_pub = g2^s, covered by the same authority
 * fingerprint), and a user key may carry the key for one identity next to
 * its attributes (d_ID = H1(ID)^s): the objects are those of fkex/abe.h.
 * Anybody holding the public parameters encrypts to a name; only the key
 * for that name decrypts.
 *
 * Identities are normalised before anything else (fkex_ibe_identity):
 * surrounding white space is trimmed and ASCII letters are lower-cased, so
 * "Alice@Example.org " and "alice@example.org" are one identity.
 *
 * A ciphertext is an fkex object of kind "ciphertext" and scheme "bf01":
 * header | bytes16 identity | U (G2) | V (32). Its KEM key is bound to every
 * byte of it.
 */
#ifndef FKEX_IBE_H
#define FKEX_IBE_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/authority.h"

#ifdef __cplusplus
extern "C" {
#endif

/* header | u16 | identity | U | V */
#define FKEX_IBE_CT_MAX (FKEX_HEADER_BYTES + 2 + FKEX_IBE_ID_MAX + 96 + 32)

typedef struct fkex_ibe_ct fkex_ibe_ct;

/* Gives a new authority (fkex_abe_setup's, before it issues any key) its
 * Boneh-Franklin master secret s. The public parameters, and so the
 * fingerprint, change: *mpk gets a fresh copy of the new ones.
 * FKEX_ERR_ARGUMENT if msk has them already. */
FKEX_API fkex_err fkex_ibe_setup(fkex_mpk **mpk, fkex_msk *msk, fkex_rng *rng) FKEX_WUR;

/* Adds to key, issued by msk, the key for identity (normalised here):
 * d_ID = H1(ID)^s. FKEX_ERR_UNSUPPORTED if msk has no IBE parameters,
 * FKEX_ERR_WRONG_AUTHORITY if key comes from another authority,
 * FKEX_ERR_ARGUMENT if key holds an identity already. */
FKEX_API fkex_err fkex_ibe_keygen(fkex_key *key, const fkex_msk *msk, const char *identity) FKEX_WUR;

/* Encapsulates to identity (normalised here). FKEX_ERR_UNSUPPORTED if the
 * parameters have no IBE part. Cost: one hash to G1, one G1 and one
 * fixed-base G2 multiplication, one pairing with precomputed lines. */
FKEX_API fkex_err fkex_ibe_encap(uint8_t key[32], fkex_ibe_ct **ct, const fkex_mpk *mpk,
                        const char *identity, fkex_rng *rng) FKEX_WUR;
/* FKEX_ERR_WRONG_AUTHORITY, FKEX_ERR_WRONG_IDENTITY (the key is for
 * another name, or has none), FKEX_ERR_AUTHENTICATION (the
 * Fujisaki-Okamoto check failed: any change to the ciphertext); key is
 * written only on success. Cost: one pairing, one fixed-base G2
 * multiplication. */
FKEX_API fkex_err fkex_ibe_decap(uint8_t key[32], const fkex_key *sk, const fkex_ibe_ct *ct) FKEX_WUR;

/* Strict: canonical header, identity and U (in G2, not the identity), no
 * trailing bytes. */
FKEX_API fkex_err fkex_ibe_ct_decode(fkex_ibe_ct **ct, const uint8_t *in, size_t len) FKEX_WUR;
FKEX_API void fkex_ibe_ct_bytes(const uint8_t **bytes, size_t *len, const fkex_ibe_ct *ct);
FKEX_API const char *fkex_ibe_ct_identity(const fkex_ibe_ct *ct);
FKEX_API void fkex_ibe_ct_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_ibe_ct *ct);
FKEX_API void fkex_ibe_ct_free(fkex_ibe_ct *ct);

#ifdef __cplusplus
}
#endif

#endif
