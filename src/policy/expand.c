/*
 * policy/expand.c: from the AST to the expanded tree behind fkex_lsss, with
 * numeric comparisons unfolded into bag-of-bits leaves (Bethencourt-Sahai-
 * Waters 2007, §4.3).
 *
 * Every comparison is first rewritten as one of:
 *   ANY   "has a value":  b63=0 or b63=1        (>= 0, <= 2^64-1)
 *   EQ    all 64 bits equal c:  an AND of 64 leaves
 *   CHAIN x' > d, where x' = x for > and >= (leaves "=1") and x' = ~x for
 *         < and <= (leaves "=0"), since x < c iff ~x > ~c. With i0 the
 *         lowest zero bit of d, P = [x'_i0 = 1]; then for i = i0+1 .. 63,
 *         P = (x'_i = 1) AND P if d_i = 1, else (x'_i = 1) OR P.
 *   NEVER > 2^64-1 and < 0; the parser rejects them.
 * Consecutive equal operators of a chain share one gate, so a chain adds at
 * most one level of nesting per run of equal bits (no more than 63).
 */
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

typedef enum { PLAN_NEVER, PLAN_ANY, PLAN_EQ, PLAN_CHAIN } plan_kind;

typedef struct {
    plan_kind kind;
    uint64_t d;         /* EQ: c; CHAIN: d */
    unsigned one;       /* CHAIN: the bit value every leaf asks for */
    unsigned i0;        /* CHAIN: lowest zero bit of d */
} plan;

static unsigned bit(uint64_t v, unsigned i) { return (unsigned)(v >> i) & 1; }

static plan make_plan(fkex_cmp_op op, uint64_t c)
{
    plan pl = { PLAN_CHAIN, 0, 1, 0 };
    switch (op) {
    case FKEX_CMP_GT:
        if (c == UINT64_MAX)
            pl.kind = PLAN_NEVER;
        pl.d = c;
        break;
    case FKEX_CMP_GE:                        /* x >= c  iff  x > c-1 */
        if (c == 0)
            pl.kind = PLAN_ANY;
        pl.d = c - 1;
        break;
    case FKEX_CMP_LT:                        /* x < c  iff  ~x > ~c */
        if (c == 0)
            pl.kind = PLAN_NEVER;
        pl.d = ~c;
        pl.one = 0;
        break;
    case FKEX_CMP_LE:                        /* x <= c  iff  ~x > ~(c+1) */
        if (c == UINT64_MAX)
            pl.kind = PLAN_ANY;
        pl.d = ~(c + 1);
        pl.one = 0;
        break;
    case FKEX_CMP_EQ:
        pl.kind = PLAN_EQ;
        pl.d = c;
        break;
    }
    if (pl.kind == PLAN_CHAIN)
        while (bit(pl.d, pl.i0))
            pl.i0++;
    return pl;
}

/* Start of the run of equal operators that ends (going down) at hi. */
static unsigned run_low(const plan *pl, unsigned hi)
{
    unsigned lo = hi;
    while (lo - 1 > pl->i0 && bit(pl->d, lo - 1) == bit(pl->d, hi))
        lo--;
    return lo;
}

static size_t chain_runs(const plan *pl)
{
    size_t runs = 0;
    for (unsigned hi = FKEX_NUMERIC_BITS - 1; hi > pl->i0; hi = run_low(pl, hi) - 1)
        runs++;
    return runs;
}

size_t fkex_cmp_leaves(fkex_cmp_op op, uint64_t c)
{
    plan pl = make_plan(op, c);
    switch (pl.kind) {
    case PLAN_NEVER: return 0;
    case PLAN_ANY:   return 2;
    case PLAN_EQ:    return FKEX_NUMERIC_BITS;
    default:         return FKEX_NUMERIC_BITS - pl.i0;
    }
}

void fkex_expand_count(const fkex_policy *p, size_t *leaves, size_t *gates)
{
    if (p->kind == FKEX_NODE_ATTR) {
        *leaves += 1;
        *gates += 1;
    } else if (p->kind == FKEX_NODE_CMP) {
        plan pl = make_plan(p->op, p->value);
        size_t n = fkex_cmp_leaves(p->op, p->value);
        *leaves += n;
        *gates += n + (pl.kind == PLAN_CHAIN ? chain_runs(&pl) : 1);
    } else {
        *gates += 1;
        for (size_t i = 0; i < p->n; i++)
            fkex_expand_count(p->child[i], leaves, gates);
    }
}

typedef struct {
    fkex_gate *gate;
    char **attr;
    uint32_t next_gate, next_row;
} builder;

/* Reserves n contiguous children for gate g. */
static uint32_t open_gate(builder *b, uint32_t g, fkex_gate_kind kind, size_t n, uint64_t k)
{
    fkex_gate *x = &b->gate[g];
    x->kind = (uint8_t)kind;
    x->n = (uint32_t)n;
    x->k = (uint32_t)k;
    x->first = b->next_gate;
    b->next_gate += (uint32_t)n;
    return x->first;
}

/* Gate g becomes the next row, labelled `name` (taken over). */
static fkex_err leaf(builder *b, uint32_t g, char *name)
{
    if (!name)
        return FKEX_ERR_NO_MEMORY;
    b->gate[g].kind = FKEX_GATE_LEAF;
    b->gate[g].row = b->next_row;
    b->attr[b->next_row++] = name;
    return FKEX_OK;
}

static fkex_err bit_leaf(builder *b, uint32_t g, const fkex_policy *p, unsigned i, unsigned v)
{
    return leaf(b, g, fkex_bit_name(p->name, strlen(p->name), i, v));
}

static fkex_err build_cmp(builder *b, uint32_t g, const fkex_policy *p)
{
    plan pl = make_plan(p->op, p->value);
    fkex_err e = FKEX_OK;
    uint32_t first;

    if (pl.kind == PLAN_ANY) {
        first = open_gate(b, g, FKEX_GATE_OR, 2, 0);
        if ((e = bit_leaf(b, first, p, FKEX_NUMERIC_BITS - 1, 0)) != FKEX_OK)
            return e;
        return bit_leaf(b, first + 1, p, FKEX_NUMERIC_BITS - 1, 1);
    }
    if (pl.kind == PLAN_EQ) {
        first = open_gate(b, g, FKEX_GATE_AND, FKEX_NUMERIC_BITS, 0);
        for (unsigned j = 0; j < FKEX_NUMERIC_BITS && e == FKEX_OK; j++) {
            unsigned i = FKEX_NUMERIC_BITS - 1 - j;
            e = bit_leaf(b, first + j, p, i, bit(pl.d, i));
        }
        return e;
    }
    /* CHAIN, top bit first: each run of equal operators is one gate whose
     * children are the run's bits and then the rest of the chain. */
    unsigned hi = FKEX_NUMERIC_BITS - 1;
    while (hi > pl.i0) {
        unsigned lo = run_low(&pl, hi);
        unsigned len = hi - lo + 1;
        first = open_gate(b, g, bit(pl.d, hi) ? FKEX_GATE_AND : FKEX_GATE_OR, len + 1, 0);
        for (unsigned j = 0; j < len; j++)
            if ((e = bit_leaf(b, first + j, p, hi - j, pl.one)) != FKEX_OK)
                return e;
        g = first + len;
        hi = lo - 1;
    }
    return bit_leaf(b, g, p, pl.i0, pl.one);
}

/* Recursion depth is the AST depth, which the parser bounds. */
static fkex_err build(builder *b, uint32_t g, const fkex_policy *p)
{
    fkex_err e = FKEX_OK;
    switch (p->kind) {
    case FKEX_NODE_ATTR: {
        size_t n = strlen(p->name) + 1;
        char *s = malloc(n);
        if (s)
            memcpy(s, p->name, n);
        return leaf(b, g, s);
    }
    case FKEX_NODE_CMP:
        return build_cmp(b, g, p);
    default: {
        fkex_gate_kind kind = p->kind == FKEX_NODE_AND ? FKEX_GATE_AND
                            : p->kind == FKEX_NODE_OR  ? FKEX_GATE_OR : FKEX_GATE_THRESHOLD;
        uint32_t first = open_gate(b, g, kind, p->n, p->value);
        for (size_t i = 0; i < p->n && e == FKEX_OK; i++)
            e = build(b, first + (uint32_t)i, p->child[i]);
        return e;
    }
    }
}

fkex_err fkex_expand_build(struct fkex_lsss_node *tree, char **attr, const fkex_policy *p)
{
    builder b = { tree->gate, attr, 1, 0 };
    return build(&b, 0, p);
}
