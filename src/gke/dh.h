/*
 * gke/dh.h: the two classic group Diffie-Hellman key exchanges, kept as
 * baselines to measure fkex against. Both run over ristretto255
 * (libsodium), written additively: g^{r} is r*G.
 *
 *   GDH.2  Steiner, Tsudik, Waidner, "Diffie-Hellman key distribution
 *          extended to group communication", CCS 1996. An upflow chain
 *          M_1 -> ... -> M_n, then one broadcast; K = g^{r_1 ... r_n}.
 *          (n^2 + 3n)/2 - 1 exponentiations in all, n of them by M_n;
 *          n - 1 upflow messages (M_i sends i + 1 elements) and a
 *          broadcast of n - 1 elements.
 *   BD     Burmester, Desmedt, "A secure and efficient conference key
 *          distribution system", EUROCRYPT 1994. Two broadcast rounds;
 *          K = g^{r_1 r_2 + r_2 r_3 + ... + r_n r_1}. 3 exponentiations
 *          per member and O(n) group additions; O(n) memory for the X_j.
 *          With n = 2, X_i is always the identity (z_{i+1} = z_{i-1}), so
 *          round 2 is skipped: 2 exponentiations and K = g^{2 r_1 r_2}.
 *
 * WARNING: both are UNAUTHENTICATED. Whoever can inject messages can sit in
 * the middle and share a key with each member. BD becomes an authenticated
 * GKE only through the Katz-Yung compiler (signed messages with nonces);
 * GDH.2 needs its authenticated variants (A-GDH.2). These exist to be
 * benchmarked and simulated; nobody may use them for a real room.
 *
 * Members are numbered 0..n-1 (the roster order; M_1 of the papers is
 * index 0), indices mod n. A run is for one (room_id, epoch, n): any
 * membership change reruns the protocol from start with fresh exponents.
 *
 * Randomness: start draws r_i as 64 bytes from rng reduced mod the group
 * order (drawn again in the negligible case it is zero), and nothing else;
 * a deterministic rng therefore reproduces r_i exactly (tests rely on it).
 * r_i is wiped as soon as the last exponentiation that needs it is done.
 *
 * The key: K is the shared group element, and
 *   key = KDF-Expand(KDF-Extract("", K), "gdh2 key" | "bd key",
 *                    room_id || epoch (u64, big-endian)).
 *
 * Steps follow gke/gke.h: FKEX_OK means accepted; any other result leaves
 * the state and out as they were. Receive errors:
 *   FKEX_ERR_BAD_ENCODING, _TRUNCATED, _UNSUPPORTED, _NOT_IN_GROUP: the bytes
 *   FKEX_ERR_WRONG_KIND   a message of the other protocol
 *   FKEX_ERR_WRONG_ROOM / FKEX_ERR_WRONG_EPOCH
 *   FKEX_ERR_REPLAY       a message from this sender and of this type was
 *                         already accepted, or is this member's own (echoed
 *                         by the relay); BD: a z_j equal to one already held
 *                         (a reflection)
 *   FKEX_ERR_UNEXPECTED   anything else this member is not waiting for
 * Completion appends FKEX_GKE_EV_EPOCH (epoch, members = n, member = index).
 */
#ifndef FKEX_GKE_DH_H
#define FKEX_GKE_DH_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "gke/out.h"

#define FKEX_DH_MAX_MEMBERS 65536u

/* ---- GDH.2 --------------------------------------------------------------- */
typedef struct fkex_gdh2 fkex_gdh2;

/* 2 <= n <= FKEX_DH_MAX_MEMBERS, index < n. Index 0 sends the first upflow
 * {g, g^{r_0}} to index 1; the others wait for theirs. */
fkex_err fkex_gdh2_start(fkex_gdh2 **st, const uint8_t room_id[32], uint64_t epoch,
                         uint32_t n, uint32_t index, fkex_rng *rng,
                         fkex_gke_out *out) FKEX_WUR;
/* An upflow from index - 1 (O(index) exponentiations; sends to index + 1,
 * or, for the last member, broadcasts and completes), or the final
 * broadcast (1 exponentiation; completes). */
fkex_err fkex_gdh2_receive(fkex_gdh2 *st, const uint8_t *msg, size_t len,
                           fkex_gke_out *out) FKEX_WUR;
/* 0 and the group key once the run is complete, else -1. */
int fkex_gdh2_key(uint8_t key[32], const fkex_gdh2 *st) FKEX_WUR;
/* Scalar multiplications this member has done so far. */
uint64_t fkex_gdh2_exponentiations(const fkex_gdh2 *st);
/* Wipes and frees; NULL is fine. */
void fkex_gdh2_free(fkex_gdh2 *st);

/* ---- Burmester-Desmedt ----------------------------------------------------- */
typedef struct fkex_bd fkex_bd;

/* 2 <= n <= FKEX_DH_MAX_MEMBERS, index < n. Broadcasts z_i. */
fkex_err fkex_bd_start(fkex_bd **st, const uint8_t room_id[32], uint64_t epoch,
                       uint32_t n, uint32_t index, fkex_rng *rng,
                       fkex_gke_out *out) FKEX_WUR;
/* A z_j or an X_j. Once both neighbours' z are in, broadcasts X_i (2
 * exponentiations); once every other member's z and X are in, computes the
 * key in O(n) additions and completes. */
fkex_err fkex_bd_receive(fkex_bd *st, const uint8_t *msg, size_t len,
                         fkex_gke_out *out) FKEX_WUR;
int fkex_bd_key(uint8_t key[32], const fkex_bd *st) FKEX_WUR;
uint64_t fkex_bd_exponentiations(const fkex_bd *st);
void fkex_bd_free(fkex_bd *st);

#endif
