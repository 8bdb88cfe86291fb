/*
 * codec/source.c: helpers over the fkex_source callback.
 */
#include <sodium.h>
#include "codec/codec.h"

/* Loops over short reads, as read(2) callers must. Stops at the first end
 * of input and never reads again after it: a terminal can return end of
 * input once and then more data. */
fkex_err fkex_source_read_full(fkex_source *s, uint8_t *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        size_t n = 0;
        fkex_err err = s->read(s, buf + *got, len - *got, &n);
        if (err != FKEX_OK)
            return err;
        if (n > len - *got)
            return FKEX_ERR_IO;   /* a broken callback; never overrun buf */
        if (n == 0)
            break;
        *got += n;
    }
    return FKEX_OK;
}
