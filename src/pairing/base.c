/*
 * pairing/base.c: a fixed base whose comb is built once it pays
 * (pairing/pairing.h, fkex_g1_base).
 *
 * A comb (fixed.c, gt.c) makes each multiplication two to three times
 * cheaper, but building it costs as much as 5 to 15 plain
 * multiplications. Public parameters read for one encryption, or a key
 * read to join one room, would pay for tables they barely use. So the
 * first multiplications by a base are plain (fkex_g1_mul, fkex_g2_mul,
 * fkex_gt_pow: constant time too), and the comb is built, on the heap, at
 * the multiplication after which it would have paid for itself had it
 * existed from the start (its cost over what it saves per use): from then
 * on every multiplication uses it. Which path runs depends on the count
 * of multiplications made, never on a scalar. If the comb cannot be
 * allocated, the plain path goes on.
 */
#include <stdlib.h>
#include "pairing/pairing.h"

/* Comb cost / saving per use, measured with blst 0.3.10 on x86-64: G1
 * 0.66 / (0.095 - 0.041) ms, G2 1.96 / (0.256 - 0.113), GT 0.53 /
 * (0.51 - 0.25). (In WebAssembly the ratios are alike.) */
#define G1_PLAIN_USES 12
#define G2_PLAIN_USES 14
#define GT_PLAIN_USES 2

/* Counts a multiplication by a base used *uses times before: 1 at the
 * one that is to build its comb (the allocation may still fail: then the
 * plain path goes on, and is never asked again). */
static int comb_due(unsigned *uses, unsigned plain_uses)
{
    int due = *uses == plain_uses;
    if (*uses <= plain_uses)
        (*uses)++;
    return due;
}

void fkex_g1_base_init(fkex_g1_base *b, const fkex_g1 *p)
{
    b->base = *p;
    b->comb = NULL;
    b->uses = 0;
}

void fkex_g1_base_mul(fkex_g1 *out, fkex_g1_base *b, const fkex_fr *k)
{
    if (comb_due(&b->uses, G1_PLAIN_USES) && (b->comb = malloc(sizeof *b->comb)) != NULL)
        fkex_g1_fixed_init(b->comb, &b->base);
    if (b->comb)
        fkex_g1_fixed_mul(out, b->comb, k);
    else
        fkex_g1_mul(out, &b->base, k);
}

void fkex_g1_base_clear(fkex_g1_base *b)
{
    free(b->comb);
    b->comb = NULL;
}

void fkex_g2_base_init(fkex_g2_base *b, const fkex_g2 *p)
{
    b->base = *p;
    b->comb = NULL;
    b->uses = 0;
}

void fkex_g2_base_mul(fkex_g2 *out, fkex_g2_base *b, const fkex_fr *k)
{
    if (comb_due(&b->uses, G2_PLAIN_USES) && (b->comb = malloc(sizeof *b->comb)) != NULL)
        fkex_g2_fixed_init(b->comb, &b->base);
    if (b->comb)
        fkex_g2_fixed_mul(out, b->comb, k);
    else
        fkex_g2_mul(out, &b->base, k);
}

void fkex_g2_base_clear(fkex_g2_base *b)
{
    free(b->comb);
    b->comb = NULL;
}

void fkex_gt_base_init(fkex_gt_base *b, const fkex_gt *a)
{
    b->base = *a;
    b->comb = NULL;
    b->uses = 0;
}

void fkex_gt_base_pow(fkex_gt *out, fkex_gt_base *b, const fkex_fr *k)
{
    if (comb_due(&b->uses, GT_PLAIN_USES) && (b->comb = malloc(sizeof *b->comb)) != NULL)
        fkex_gt_fixed_init(b->comb, &b->base);
    if (b->comb)
        fkex_gt_fixed_pow(out, b->comb, k);
    else
        fkex_gt_pow(out, &b->base, k);
}

void fkex_gt_base_clear(fkex_gt_base *b)
{
    free(b->comb);
    b->comb = NULL;
}
