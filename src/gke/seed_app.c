/*
 * gke/seed_app.c: seed mode's application messages (gke/seed.h): chat
 * lines under the epoch key K, as the 2014 prototype sent them, with one
 * substitution: XChaCha20-Poly1305 (libsodium, IETF) instead of AES, so
 * that a random 24-byte nonce never repeats in practice and the tag
 * authenticates the header (room, epoch, sender, nonce, length) too.
 *
 * Faithful in what it lacks: no signature and no sender key, so the
 * sender index is only a claim that every holder of K can make; no replay
 * window. Cost: one AEAD pass over the content.
 */
#include <stdlib.h>
#include "gke/gke.h"

/* The additional data: every byte of the message before the box. */
#define AAD_BYTES (FKEX_SEED_HEADER_BYTES + 4 + FKEX_SEED_APP_NONCE + 4)

fkex_err fkex_seed_app_seal(uint8_t **out, size_t *outlen, const uint8_t key[32],
                            const uint8_t room_id[32], uint64_t epoch, uint32_t sender,
                            const uint8_t *content, size_t len, fkex_rng *rng)
{
    uint8_t nonce[FKEX_SEED_APP_NONCE], *box, *msg;
    size_t msglen;
    unsigned long long boxlen;
    fkex_err err;
    *out = NULL;
    *outlen = 0;
    if (len > FKEX_SEED_APP_MAX || sender == FKEX_SEED_NEW)
        return FKEX_ERR_ARGUMENT;
    fkex_rng_fill(rng, nonce, sizeof nonce);
    if (!(box = calloc(1, len + FKEX_SEED_APP_TAG)))
        return FKEX_ERR_NO_MEMORY;
    /* Encode with a zero box first to get the header bytes, the AAD. */
    if ((err = fkex_seed_app_encode(&msg, &msglen, room_id, epoch, sender, nonce, box,
                                    len + FKEX_SEED_APP_TAG)) != FKEX_OK) {
        free(box);
        return err;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(msg + AAD_BYTES, &boxlen, content, len, msg,
                                               AAD_BYTES, NULL, nonce, key);
    free(box);
    *out = msg;
    *outlen = msglen;
    return FKEX_OK;
}

fkex_err fkex_seed_app_open(uint8_t **content, size_t *len, fkex_seed_msg *m,
                            const uint8_t key[32], const uint8_t room_id[32],
                            const uint8_t *msg, size_t msglen)
{
    uint8_t *plain;
    unsigned long long plainlen;
    fkex_err err;
    *content = NULL;
    *len = 0;
    if ((err = fkex_seed_msg_decode(m, msg, msglen)) != FKEX_OK)
        return err;
    if (m->type != FKEX_SEED_MSG_APP)
        err = FKEX_ERR_WRONG_KIND;
    else if (sodium_memcmp(m->room_id, room_id, 32) != 0)
        err = FKEX_ERR_WRONG_ROOM;
    else if (!(plain = malloc(m->boxlen - FKEX_SEED_APP_TAG + 1)))
        err = FKEX_ERR_NO_MEMORY;
    else if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plainlen, NULL, m->box, m->boxlen,
                                                        msg, AAD_BYTES, m->nonce, key) != 0) {
        free(plain);
        err = FKEX_ERR_AUTHENTICATION;
    } else {
        *content = plain;
        *len = (size_t)plainlen;
    }
    free(m->box);   /* the header fields are the caller's; the box is not needed */
    m->box = NULL;
    m->boxlen = 0;
    if (err != FKEX_OK)
        fkex_seed_msg_clear(m);
    return err;
}
