/*
 * gke/relay_auth.c: the relay protocol's signatures (gke/relay_auth.h).
 */
#include "gke/gke.h"

static void auth_body(uint8_t body[96], const uint8_t a[32], const uint8_t b[32],
                      const uint8_t c[32])
{
    memcpy(body, a, 32);
    memcpy(body + 32, b, 32);
    if (c)
        memcpy(body + 64, c, 32);
}

fkex_err fkex_relay_auth_sign(uint8_t sig[64], const uint8_t sk[64], const uint8_t room_id[32],
                              const uint8_t nonce[32], const uint8_t v[32])
{
    uint8_t body[96];
    auth_body(body, room_id, nonce, v);
    return fkex_sign(sig, sk, "relay auth", body, sizeof body);
}

int fkex_relay_auth_verify(const uint8_t sig[64], const uint8_t room_id[32],
                           const uint8_t nonce[32], const uint8_t v[32])
{
    uint8_t body[96];
    auth_body(body, room_id, nonce, v);
    return fkex_sign_verify(sig, v, "relay auth", body, sizeof body);
}

fkex_err fkex_relay_create_sign(uint8_t sig[64], const uint8_t admin_sk[64],
                                const uint8_t room_id[32], const uint8_t founder[32])
{
    uint8_t body[96];
    auth_body(body, room_id, founder, NULL);
    return fkex_sign(sig, admin_sk, "relay create", body, 64);
}

int fkex_relay_create_verify(const uint8_t sig[64], const uint8_t admin_pk[32],
                             const uint8_t room_id[32], const uint8_t founder[32])
{
    uint8_t body[96];
    auth_body(body, room_id, founder, NULL);
    return fkex_sign_verify(sig, admin_pk, "relay create", body, 64);
}
