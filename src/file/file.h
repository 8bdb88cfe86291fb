/*
 * file/file.h: the file layer's header. Encrypted files (fkex/file.h)
 * over both schemes and the AEAD stream.
 */
#ifndef FKEX_FILE_LAYER_H
#define FKEX_FILE_LAYER_H

#include "abe/abe.h"
#include "ibe/ibe.h"
#include "fkex/file.h"

#endif
