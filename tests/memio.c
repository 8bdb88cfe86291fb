/* tests/memio.c: in-memory sources and sinks shared by the stream tests. */
#include <stdlib.h>
#include "test.h"

static fkex_err src_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    mem_src *m = s->ctx;
    *got = 0;
    if (m->err != FKEX_OK && m->off >= m->fail_at)
        return m->err;
    size_t n = m->len - m->off;
    if (n > cap)
        n = cap;
    if (m->step && n > m->step)
        n = m->step;
    if (m->err != FKEX_OK && n > m->fail_at - m->off)
        n = m->fail_at - m->off;
    if (n)
        memcpy(buf, m->p + m->off, n);
    m->off += n;
    *got = n;
    m->eofs += n == 0;
    return FKEX_OK;
}

fkex_source src_make(mem_src *m, const void *p, size_t len, size_t step)
{
    memset(m, 0, sizeof *m);
    m->p = p;
    m->len = len;
    m->step = step;
    return (fkex_source){ src_read, m };
}

fkex_err snk_write(fkex_sink *s, const uint8_t *buf, size_t len)
{
    mem_snk *m = s->ctx;
    if (m->fail_after && m->len + len > m->fail_after)
        return FKEX_ERR_IO;
    if (len > m->cap - m->len) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap - m->len < len)
            cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (p == NULL)
            return FKEX_ERR_NO_MEMORY;
        m->p = p;
        m->cap = cap;
    }
    if (len)
        memcpy(m->p + m->len, buf, len);
    m->len += len;
    m->writes++;
    return FKEX_OK;
}

fkex_sink snk_make(mem_snk *m)
{
    memset(m, 0, sizeof *m);
    return (fkex_sink){ snk_write, m };
}

void snk_free(mem_snk *m)
{
    free(m->p);
    memset(m, 0, sizeof *m);
}

void fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x >> 24);
    }
}
