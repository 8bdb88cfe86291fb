/*
 * gke/out.c: the output buffer every state machine step appends to.
 * Amortised O(1) appends; clear is O(messages + events).
 */
#include <stdlib.h>
#include "gke/gke.h"

void fkex_gke_out_init(fkex_gke_out *out)
{
    memset(out, 0, sizeof *out);
}

void fkex_gke_out_truncate(fkex_gke_out *out, size_t nmsgs, size_t nevents)
{
    while (out->nmsgs > nmsgs) {
        fkex_gke_msg *m = &out->msgs[--out->nmsgs];
        free(m->bytes);
    }
    while (out->nevents > nevents) {
        fkex_gke_event *e = &out->events[--out->nevents];
        if (e->data) {
            sodium_memzero(e->data, e->len);
            free(e->data);
        }
    }
}

void fkex_gke_out_clear(fkex_gke_out *out)
{
    fkex_gke_out_truncate(out, 0, 0);
    free(out->msgs);
    free(out->events);
    fkex_gke_out_init(out);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 8;
    void *q = realloc(*p, ncap * size);
    if (!q)
        return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

fkex_err fkex_gke_out_msg(fkex_gke_out *out, uint32_t to, uint8_t *bytes, size_t len)
{
    if (grow((void **)&out->msgs, &out->msgcap, out->nmsgs, sizeof *out->msgs) != 0) {
        free(bytes);
        return FKEX_ERR_NO_MEMORY;
    }
    out->msgs[out->nmsgs++] = (fkex_gke_msg){ to, bytes, len };
    return FKEX_OK;
}

fkex_err fkex_gke_out_event(fkex_gke_out *out, fkex_gke_event_kind kind, fkex_err err,
                            uint64_t epoch, uint32_t members, uint32_t member,
                            const uint8_t *data, size_t len)
{
    uint8_t *copy = NULL;
    if (grow((void **)&out->events, &out->evcap, out->nevents, sizeof *out->events) != 0)
        return FKEX_ERR_NO_MEMORY;
    if (data) {
        copy = malloc(len ? len : 1);
        if (!copy)
            return FKEX_ERR_NO_MEMORY;
        memcpy(copy, data, len);
    }
    out->events[out->nevents++] = (fkex_gke_event){ kind, err, epoch, members, member, copy, len };
    return FKEX_OK;
}
