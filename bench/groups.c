/*
 * bench/groups.c: the group operations the CP-ABE schemes are made of,
 * timed the way their operations are (bench_time: each sample beside a
 * pairing), so that `fkex bench abe` shows, in the same run, what one
 * hash, one multiplication or one addition costs. A scheme's operation
 * counts (ARCHITECTURE.md, "What FAME costs") times these are its floor
 * as independent operations (a joint multiplication of two points goes
 * under it, by 17% a pair).
 *
 * Each sample repeats the operation (reps) and is divided by it: a single
 * addition is too short for the clock.
 */
#include <stdlib.h>
#include "bench.h"

typedef struct {
    fkex_rng rng;
    fkex_fr k;
    fkex_g1 p1;
    blst_p1_affine a1;
    fkex_g1_fixed *comb1;
    fkex_g2_fixed *comb2;
    fkex_gt_fixed *combt;
    int reps;
} group_ctx;

static void op_hash_g1(void *arg)
{
    group_ctx *x = arg;
    uint8_t name[16];
    for (int i = 0; i < x->reps; i++) {
        fkex_rng_fill(&x->rng, name, sizeof name);
        fkex_g1_hash(&x->p1, "BENCH", name, sizeof name);
    }
}

static void op_g1_mul(void *arg)
{
    group_ctx *x = arg;
    for (int i = 0; i < x->reps; i++)
        fkex_g1_mul(&x->p1, &x->p1, &x->k);
}

static void op_g1_fixed(void *arg)
{
    group_ctx *x = arg;
    for (int i = 0; i < x->reps; i++)
        fkex_g1_fixed_mul(&x->p1, x->comb1, &x->k);
}

/* The addition decryption does per row and key part (abe/fame.c,
 * add_masked): an affine point into a projective sum, doubling handled. */
static void op_g1_add(void *arg)
{
    group_ctx *x = arg;
    for (int i = 0; i < x->reps; i++)
        blst_p1_add_or_double_affine(&x->p1, &x->p1, &x->a1);
}

static void op_g2_fixed(void *arg)
{
    group_ctx *x = arg;
    fkex_g2 q;
    for (int i = 0; i < x->reps; i++)
        fkex_g2_fixed_mul(&q, x->comb2, &x->k);
}

static void op_gt_fixed(void *arg)
{
    group_ctx *x = arg;
    fkex_gt e;
    for (int i = 0; i < x->reps; i++)
        fkex_gt_fixed_pow(&e, x->combt, &x->k);
}

int bench_groups(bench_group_op out[BENCH_GROUP_OPS])
{
    static const struct {
        const char *op, *what;
        void (*fn)(void *);
        int reps;
    } ops[BENCH_GROUP_OPS] = {
        { "hash_g1", "RFC 9380 hash to G1", op_hash_g1, 8 },
        { "g1_mul", "G1 multiplication, any base (blst GLV, constant time)", op_g1_mul, 8 },
        { "g1_fixed", "G1 multiplication, fixed base (comb, constant time)", op_g1_fixed, 16 },
        { "g1_add", "G1 addition of an affine point (a decryption row's)", op_g1_add, 1024 },
        { "g2_fixed", "G2 multiplication, fixed base (comb, constant time)", op_g2_fixed, 8 },
        { "gt_fixed", "GT exponentiation, fixed base (comb, constant time)", op_gt_fixed, 8 },
    };
    group_ctx x;
    fkex_g2 q;
    fkex_gt e;
    int rc = 0;

    fkex_rng_init_system(&x.rng);
    fkex_fr_random(&x.k, &x.rng);
    fkex_g1_generator(&x.p1);
    fkex_g1_mul(&x.p1, &x.p1, &x.k);
    blst_p1_to_affine(&x.a1, &x.p1);
    fkex_g2_generator(&q);
    fkex_pairing(&e, &x.p1, &q);
    x.comb1 = malloc(sizeof *x.comb1);
    x.comb2 = malloc(sizeof *x.comb2);
    x.combt = malloc(sizeof *x.combt);
    if (!x.comb1 || !x.comb2 || !x.combt) {
        rc = 2;
        goto done;
    }
    fkex_g1_fixed_init(x.comb1, &x.p1);
    fkex_g2_fixed_init(x.comb2, &q);
    fkex_gt_fixed_init(x.combt, &e);

    for (size_t o = 0; o < BENCH_GROUP_OPS; o++) {
        double ms, pairing_ms;
        x.reps = ops[o].reps;
        bench_time(&ms, &pairing_ms, 31, ops[o].fn, &x);
        out[o].op = ops[o].op;
        out[o].what = ops[o].what;
        out[o].us = ms * 1e3 / ops[o].reps;
        out[o].pe = ms / ops[o].reps / pairing_ms;
    }
done:
    free(x.comb1);
    free(x.comb2);
    free(x.combt);
    return rc;
}
