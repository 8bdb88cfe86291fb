/*
 * abe/abe.h: the CP-ABE layer's header. The generic KEM (abe.c) over the
 * schemes (scheme.h: waters11.c, fame.c); fkex/abe.h is its public face.
 */
#ifndef FKEX_ABE_LAYER_H
#define FKEX_ABE_LAYER_H

#include "authority/authority.h"
#include "fkex/abe.h"
#include "abe/scheme.h"
#include "abe/hash_cache.h"
#include "abe/fame.h"

#endif
