/*
 * fkex/abe.h: ciphertext-policy attribute-based encryption as a KEM.
 *
 * The authority's objects (public parameters, master key, user keys) are
 * in fkex/authority.h; here are the KEM and its ciphertext, fkex_abe_ct,
 * which is self-describing as they are (docs/FORMATS.md).
 *
 * Two KEM modes:
 *   FKEX_ABE_CPA  the scheme's KEM; key = KDF(Z || ciphertext bytes), for
 *                 protocols that authenticate the ciphertext themselves;
 *   FKEX_ABE_CCA  Fujisaki-Okamoto: the coins are derived from a random k,
 *                 which the ciphertext carries masked by KDF(Z); decapsulation
 *                 re-encrypts and compares, so any change is rejected.
 *
 * Threads: as fkex/authority.h says; a ciphertext is one object.
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
#include "fkex/authority.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fkex_abe_ct fkex_abe_ct;

typedef enum { FKEX_ABE_CPA = 1, FKEX_ABE_CCA = 2 } fkex_abe_mode;

/* The scheme byte of a CP-ABE scheme setup takes, or 0 if there is none. */
FKEX_API uint8_t fkex_abe_scheme_id(const char *name);

/* ---- the KEM -------------------------------------------------------------- */
#define FKEX_ABE_DEFAULT_SCHEME "fame"
#define FKEX_ABE_SCHEMES "fame, waters11"   /* the names setup takes */
/* FKEX_ERR_UNSUPPORTED for a scheme not in FKEX_ABE_SCHEMES. */
FKEX_API fkex_err fkex_abe_setup(fkex_mpk **mpk, fkex_msk **msk, const char *scheme,
                        fkex_rng *rng) FKEX_WUR;
/* attrs: user attributes ("ONE", "dept:x", "year=5"); duplicates are an error. */
FKEX_API fkex_err fkex_abe_keygen(fkex_key **key, const fkex_msk *msk,
                         const char *const *attrs, size_t nattrs, fkex_rng *rng) FKEX_WUR;
FKEX_API fkex_err fkex_abe_encap(uint8_t key[32], fkex_abe_ct **ct, const fkex_mpk *mpk,
                        const fkex_policy *policy, fkex_abe_mode mode, fkex_rng *rng) FKEX_WUR;
/* The caller says which mode it accepts: a ciphertext of the other mode is
 * FKEX_ERR_AUTHENTICATION (file tools accept only FKEX_ABE_CCA, so nobody
 * gets a CPA decapsulation oracle from them). Otherwise
 * FKEX_ERR_WRONG_AUTHORITY, FKEX_ERR_POLICY_UNSATISFIED or (CCA)
 * FKEX_ERR_AUTHENTICATION; key is written only on success. Its group
 * operations depend on the policy alone, not on the branch of it the key
 * satisfies, so its time does not say which attributes the key used
 * (docs/ARCHITECTURE.md). */
FKEX_API fkex_err fkex_abe_decap(uint8_t key[32], const fkex_key *sk, const fkex_abe_ct *ct,
                        fkex_abe_mode mode) FKEX_WUR;

/* ---- ciphertexts ------------------------------------------------------------ */
/* A ciphertext keeps the bytes its key is bound to: borrowed, not copied. */
FKEX_API void fkex_abe_ct_bytes(const uint8_t **bytes, size_t *len, const fkex_abe_ct *ct);
FKEX_API fkex_err fkex_abe_ct_decode(fkex_abe_ct **ct, const uint8_t *in, size_t len) FKEX_WUR;
FKEX_API const char *fkex_abe_ct_policy(const fkex_abe_ct *ct);   /* canonical text */
FKEX_API fkex_abe_mode fkex_abe_ct_mode(const fkex_abe_ct *ct);
FKEX_API size_t fkex_abe_ct_rows(const fkex_abe_ct *ct);
FKEX_API void fkex_abe_ct_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_abe_ct *ct);
FKEX_API void fkex_abe_ct_free(fkex_abe_ct *ct);

#ifdef __cplusplus
}
#endif

#endif
