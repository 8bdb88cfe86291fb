/*
 * gke/relay_auth.h: the two signatures of the client <-> relay protocol
 * (wire/relay_msg.h carries them; its codec signs nothing).
 */
#ifndef FKEX_GKE_RELAY_AUTH_H
#define FKEX_GKE_RELAY_AUTH_H

#include <stdint.h>
#include "fkex/error.h"

/* AUTH: V's signature, label "relay auth", over room_id || nonce || V. */
fkex_err fkex_relay_auth_sign(uint8_t sig[64], const uint8_t sk[64], const uint8_t room_id[32],
                              const uint8_t nonce[32], const uint8_t v[32]) FKEX_WUR;
int fkex_relay_auth_verify(const uint8_t sig[64], const uint8_t room_id[32],
                           const uint8_t nonce[32], const uint8_t v[32]) FKEX_WUR;
/* CREATE_ROOM: the admin's signature, label "relay create", over
 * room_id || founder V: only the admin names the founder. */
fkex_err fkex_relay_create_sign(uint8_t sig[64], const uint8_t admin_sk[64],
                                const uint8_t room_id[32], const uint8_t founder[32]) FKEX_WUR;
int fkex_relay_create_verify(const uint8_t sig[64], const uint8_t admin_pk[32],
                             const uint8_t room_id[32], const uint8_t founder[32]) FKEX_WUR;

#endif
