/*
 * gke/gke.h: the group key exchange layer's header: the state machines
 * (out.h: what they share; ratchet.h, seed.h, dh.h) and the relay's rules
 * (relay_rules.h) and signatures (relay_auth.h), over the message formats
 * (wire/wire.h).
 */
#ifndef FKEX_GKE_H
#define FKEX_GKE_H

#include "wire/wire.h"
#include "gke/out.h"
#include "gke/ratchet.h"
#include "gke/seed.h"
#include "gke/dh.h"
#include "gke/relay_rules.h"
#include "gke/relay_auth.h"

#endif
