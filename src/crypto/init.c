/*
 * crypto/init.c: fkex_init and fkex_version (fkex/fkex.h).
 */
#include "crypto/crypto.h"
#include "fkex/fkex.h"

#ifndef FKEX_VERSION
#error "FKEX_VERSION comes from the VERSION file (the Makefile passes it)"
#endif

fkex_err fkex_init(void)
{
    /* libcrypto's digest is fetched on its first use, once (sha256.c):
     * a process that never hashes bulk data (the relay) never loads it. */
    return sodium_init() < 0 ? FKEX_ERR_UNSUPPORTED : FKEX_OK;
}

const char *fkex_version(void)
{
    return FKEX_VERSION;
}
