/*
 * wire/wire.h: the message formats of the protocols, over codec. Each
 * format is a strict codec: it neither signs nor decapsulates.
 */
#ifndef FKEX_WIRE_H
#define FKEX_WIRE_H

#include "abe/abe.h"
#include "wire/ratchet_msg.h"
#include "wire/seed_msg.h"
#include "wire/dh_msg.h"
#include "wire/relay_msg.h"
#include "wire/relay_entry.h"

#endif
