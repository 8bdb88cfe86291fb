/*
 * gke/schedule.c: the ratchet's key schedule (PROTOCOL.md, "Key schedule").
 *
 *   epoch_secret_{e+1} = KDF-Extract(salt = init_secret_e, ikm = commit_secret || psk)
 *   context = room_id || e+1 || transcript_hash_{e+1} || H(roster_{e+1}) || H(tree_{e+1})
 *   init_secret, encryption_secret, membership_key, confirmation_key,
 *   epoch_authenticator = KDF-Expand(epoch_secret, label, context)
 *
 * plus "add", the key of add-only commits' commit secrets (join step 4,
 * AEAD(KDF(epoch_secret_e, "add"), commit_secret)): it is derived here so
 * that epoch_secret itself can be wiped as soon as the epoch begins.
 * Cost: one Extract and six Expands, a dozen HMACs.
 */
#include "gke/gke.h"
#include "gke/ratchet_state.h"

void schedule_context(uint8_t out[SCHEDULE_CONTEXT_BYTES], const uint8_t room_id[32],
                      uint64_t epoch, const uint8_t transcript[32], const uint8_t roster_hash[32],
                      const uint8_t tree_hash[32])
{
    memcpy(out, room_id, 32);
    store64_be(out + 32, epoch);
    memcpy(out + 40, transcript, 32);
    memcpy(out + 72, roster_hash, 32);
    memcpy(out + 104, tree_hash, 32);
}

void schedule_from_secret(epoch_keys *keys, const uint8_t epoch_secret[32],
                          const uint8_t room_id[32], uint64_t epoch,
                          const uint8_t transcript[32], const uint8_t roster_hash[32],
                          const uint8_t tree_hash[32])
{
    uint8_t ctx[SCHEDULE_CONTEXT_BYTES];
    schedule_context(ctx, room_id, epoch, transcript, roster_hash, tree_hash);
    keys->epoch = epoch;
    fkex_kdf_expand(keys->init_secret, epoch_secret, "init", ctx, sizeof ctx);
    fkex_kdf_expand(keys->encryption_secret, epoch_secret, "encrypt", ctx, sizeof ctx);
    fkex_kdf_expand(keys->membership_key, epoch_secret, "member", ctx, sizeof ctx);
    fkex_kdf_expand(keys->confirmation_key, epoch_secret, "confirm", ctx, sizeof ctx);
    fkex_kdf_expand(keys->epoch_authenticator, epoch_secret, "auth", ctx, sizeof ctx);
    fkex_kdf_expand(keys->add_secret, epoch_secret, "add", ctx, sizeof ctx);
    memcpy(keys->transcript_hash, transcript, 32);
    memcpy(keys->roster_hash, roster_hash, 32);
    memcpy(keys->tree_hash, tree_hash, 32);
}

void schedule_next(epoch_keys *next, uint8_t epoch_secret[32], const uint8_t init_secret[32],
                   const uint8_t commit_secret[32], const uint8_t *psk,
                   const uint8_t room_id[32], uint64_t epoch, const uint8_t transcript[32],
                   const uint8_t roster_hash[32], const uint8_t tree_hash[32])
{
    uint8_t ikm[64];
    memcpy(ikm, commit_secret, 32);
    if (psk)
        memcpy(ikm + 32, psk, 32);
    fkex_hkdf_extract(epoch_secret, init_secret, 32, ikm, psk ? 64 : 32);
    sodium_memzero(ikm, sizeof ikm);
    schedule_from_secret(next, epoch_secret, room_id, epoch, transcript, roster_hash, tree_hash);
}

/* MLS-style key confirmation: MAC(confirmation_key, transcript_hash). */
void schedule_confirmation_tag(uint8_t tag[32], const epoch_keys *keys)
{
    fkex_mac(tag, keys->confirmation_key, keys->transcript_hash, 32);
}
