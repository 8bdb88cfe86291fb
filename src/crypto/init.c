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
    if (sodium_init() < 0)
        return FKEX_ERR_UNSUPPORTED;
    fkex_sha256_prepare();
    return FKEX_OK;
}

const char *fkex_version(void)
{
    return FKEX_VERSION;
}
