/*
 * fuzz/fuzz_dh_msg.c: the GDH.2 and Burmester-Desmedt message decoder,
 * and the two state machines behind it. Whatever decodes must re-encode to
 * exactly the input, and each element must be the one encoding of its
 * point (1 * P re-encodes to the same bytes). A decoded message is then
 * handed to a member it is addressed to: GDH.2 must accept it (every
 * element is a valid point), BD may refuse it (a reflected z), and a
 * refusal must leave the output empty.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a seed corpus of valid messages into DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

/* A GDH.2 (bd = 0) or BD room of at most 8 members, FIFO delivery. */
enum { MAXN = 8, MAXQ = 512 };
typedef struct {
    int bd;
    uint32_t n;
    const char *dir;
    void *st[MAXN];
    uint8_t seen[256][MAXN];
    struct { uint32_t to; uint8_t *b; size_t len; } q[MAXQ];
    size_t head, tail;
} seed_room;

/* Queues what member `from` emitted, writing each message type and sender
 * once into the corpus. */
static void emit(seed_room *r, uint32_t from, fkex_gke_out *out)
{
    for (size_t m = 0; m < out->nmsgs; m++) {
        const fkex_gke_msg *msg = &out->msgs[m];
        uint8_t type = msg->bytes[0];
        if (!r->seen[type][from]) {
            char name[48];
            r->seen[type][from] = 1;
            snprintf(name, sizeof name, "%s-n%u-type%02x-from%u", r->bd ? "bd" : "gdh2",
                     (unsigned)r->n, type, (unsigned)from);
            write_seed(r->dir, name, msg->bytes, msg->len);
        }
        for (uint32_t to = 0; to < r->n; to++) {
            if (msg->to == FKEX_GKE_TO_ROOM ? to == from : to != msg->to)
                continue;
            if (r->tail == MAXQ || !(r->q[r->tail].b = malloc(msg->len)))
                abort();
            memcpy(r->q[r->tail].b, msg->bytes, msg->len);
            r->q[r->tail].len = msg->len;
            r->q[r->tail++].to = to;
        }
    }
    fkex_gke_out_clear(out);
}

static void seed_run(const char *dir, int bd, uint32_t n, uint64_t epoch)
{
    static seed_room r;
    uint8_t room_id[32];
    fkex_gke_out out;
    fkex_err err;
    memset(&r, 0, sizeof r);
    r.bd = bd;
    r.n = n;
    r.dir = dir;
    memset(room_id, 0x5a, sizeof room_id);
    fkex_gke_out_init(&out);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t seed[32] = { 7, (uint8_t)bd, (uint8_t)n, (uint8_t)i };
        fkex_rng rng;
        fkex_rng_init_seed(&rng, seed);
        fkex_bd *b = NULL;
        fkex_gdh2 *g = NULL;
        err = bd ? fkex_bd_start(&b, room_id, epoch, n, i, &rng, &out)
                 : fkex_gdh2_start(&g, room_id, epoch, n, i, &rng, &out);
        if (err != FKEX_OK)
            abort();
        r.st[i] = bd ? (void *)b : (void *)g;
        emit(&r, i, &out);
    }
    for (; r.head < r.tail; r.head++) {
        uint32_t to = r.q[r.head].to;
        err = bd ? fkex_bd_receive(r.st[to], r.q[r.head].b, r.q[r.head].len, &out)
                 : fkex_gdh2_receive(r.st[to], r.q[r.head].b, r.q[r.head].len, &out);
        if (err != FKEX_OK)
            abort();
        free(r.q[r.head].b);
        emit(&r, to, &out);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (bd)
            fkex_bd_free(r.st[i]);
        else
            fkex_gdh2_free(r.st[i]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        seed_run(dir, 0, 2, 1);
        seed_run(dir, 0, 4, 2);
        seed_run(dir, 1, 2, 3);
        seed_run(dir, 1, 3, 4);
    }
    return 0;
}

/* Hands m (decoded from data) to a fresh member it is addressed to. */
static void drive(const fkex_dh_msg *m, const uint8_t *data, size_t size)
{
    uint8_t seed[32] = { 9 };
    fkex_rng rng;
    fkex_gke_out out;
    fkex_err err;
    if (m->sender >= 32)   /* keep each run cheap: at most ~34 exponentiations */
        return;
    fkex_rng_init_seed(&rng, seed);
    fkex_gke_out_init(&out);
    if (m->type == FKEX_DH_GDH2_UP || m->type == FKEX_DH_GDH2_DOWN) {
        /* An upflow goes to the next member, here the last one; the
         * broadcast comes from the last member and goes to member 0. */
        const int up = m->type == FKEX_DH_GDH2_UP;
        const uint32_t n = up ? m->sender + 2 : m->sender + 1, index = up ? n - 1 : 0;
        fkex_gdh2 *st;
        if (fkex_gdh2_start(&st, m->room_id, m->epoch, n, index, &rng, &out) != FKEX_OK)
            abort();
        fkex_gke_out_clear(&out);
        if (fkex_gdh2_receive(st, data, size, &out) != FKEX_OK || out.nevents != 1 ||
            out.nmsgs != (up ? 1u : 0u))
            abort();
        fkex_gdh2_free(st);
    } else {
        const uint32_t n = m->sender + 2;
        fkex_bd *st;
        if (fkex_bd_start(&st, m->room_id, m->epoch, n, m->sender + 1, &rng, &out) != FKEX_OK)
            abort();
        fkex_gke_out_clear(&out);
        err = fkex_bd_receive(st, data, size, &out);
        if (err != FKEX_OK && err != FKEX_ERR_REPLAY && err != FKEX_ERR_UNEXPECTED)
            abort();
        if (err != FKEX_OK && (out.nmsgs != 0 || out.nevents != 0))
            abort();
        fkex_bd_free(st);
    }
    fkex_gke_out_clear(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t one[32] = { 1 };
    fkex_dh_msg m;
    if (fkex_dh_msg_decode(&m, data, size) != FKEX_OK)
        return 0;
    uint8_t *again, q[32];
    size_t len;
    if (fkex_dh_msg_encode(&again, &len, &m) != FKEX_OK || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    free(again);
    for (uint32_t i = 0; i < m.count; i++) {
        const uint8_t *p = m.elems + (size_t)i * 32;
        if (crypto_scalarmult_ristretto255(q, one, p) != 0 || memcmp(q, p, 32) != 0)
            abort();
    }
    drive(&m, data, size);
    return 0;
}
