/*
 * policy/lsss.c: compiles a policy to a sparse LSSS matrix (M, rho), and
 * shares a secret vector over it.
 *
 * Lewko-Waters 2011 (appendix G) with a counter c of columns in use:
 *   OR          every child gets v;
 *   AND (n-ary) nested binary ANDs a1 and (a2 and (...)): a1 gets v||1 in
 *               column c, a_j gets -1 in column c+j-2 and 1 in c+j-1, the
 *               last child -1 in column c+n-2; c grows by n-1. Summing the
 *               children gives v back, so every coefficient is 1;
 *   k-of-n      child j = 1..n gets v||(j, j^2, .., j^(k-1)) in k-1 new
 *               columns: its share is f(j) for a random polynomial f of
 *               degree k-1 with f(0) = v.secret, and any k children
 *               recover f(0) with Lagrange coefficients.
 * Every vector is stored sparse and in increasing column order, because
 * new columns are always numbered above the ones the parent used.
 */
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

typedef struct {
    fkex_lsss *l;
    const fkex_gate *gate;
    fkex_lsss_entry *scratch;    /* a stack of vectors, see assign() */
    size_t used;                 /* entries written to l->entry */
    uint32_t cols;               /* the counter c */
    fkex_fr one, minus_one;
} compiler;

void fkex_lsss_free(fkex_lsss *l)
{
    if (!l)
        return;
    if (l->attr)
        for (size_t i = 0; i < l->rows; i++)
            free(l->attr[i]);
    free(l->attr);
    free(l->row_start);
    free(l->entry);
    free(l->tree);
    free(l);
}

/* Entries of all rows below gate g when g's vector has len entries. */
static size_t count_entries(const fkex_gate *gate, uint32_t g, size_t len)
{
    const fkex_gate *x = &gate[g];
    size_t sum = 0;
    switch (x->kind) {
    case FKEX_GATE_LEAF:
        return len;
    case FKEX_GATE_OR:
        for (uint32_t j = 0; j < x->n; j++)
            sum += count_entries(gate, x->first + j, len);
        return sum;
    case FKEX_GATE_AND:
        sum = count_entries(gate, x->first, len + 1);
        for (uint32_t j = 1; j + 1 < x->n; j++)
            sum += count_entries(gate, x->first + j, 2);
        return sum + count_entries(gate, x->first + x->n - 1, 1);
    default:
        for (uint32_t j = 0; j < x->n; j++)
            sum += count_entries(gate, x->first + j, len + x->k - 1);
        return sum;
    }
}

static void set_entry(fkex_lsss_entry *e, uint32_t col, const fkex_fr *v)
{
    e->col = col;
    e->value = *v;
}

/* Gate g's vector is scratch[off .. off+len), on top of the stack: a child
 * either extends it in place or pushes a fresh vector above it, and nothing
 * below off + len is written while g's subtree is being compiled. */
static void assign(compiler *c, uint32_t g, size_t off, size_t len)
{
    const fkex_gate *x = &c->gate[g];
    fkex_lsss *l = c->l;
    size_t top = off + len;
    uint32_t c0 = c->cols;

    switch (x->kind) {
    case FKEX_GATE_LEAF:
        l->row_start[x->row] = c->used;
        memcpy(l->entry + c->used, c->scratch + off, len * sizeof *l->entry);
        c->used += len;
        l->row_start[x->row + 1] = c->used;
        return;
    case FKEX_GATE_OR:
        for (uint32_t j = 0; j < x->n; j++)
            assign(c, x->first + j, off, len);
        return;
    case FKEX_GATE_AND:
        c->cols += x->n - 1;
        set_entry(&c->scratch[top], c0, &c->one);
        assign(c, x->first, off, len + 1);
        for (uint32_t j = 1; j + 1 < x->n; j++) {
            set_entry(&c->scratch[top], c0 + j - 1, &c->minus_one);
            set_entry(&c->scratch[top + 1], c0 + j, &c->one);
            assign(c, x->first + j, top, 2);
        }
        set_entry(&c->scratch[top], c0 + x->n - 2, &c->minus_one);
        assign(c, x->first + x->n - 1, top, 1);
        return;
    default:
        c->cols += x->k - 1;
        for (uint32_t j = 1; j <= x->n; j++) {
            fkex_fr xj, pow;
            fkex_fr_from_u64(&xj, j);
            pow = xj;
            for (uint32_t t = 1; t < x->k; t++) {
                set_entry(&c->scratch[top + t - 1], c0 + t - 1, &pow);
                fkex_fr_mul(&pow, &pow, &xj);
            }
            assign(c, x->first + j - 1, off, len + x->k - 1);
        }
        return;
    }
}

static fkex_err fill_matrix(fkex_lsss *l)
{
    const fkex_gate *gate = l->tree->gate;
    size_t new_cols = 0;
    compiler c;

    for (size_t g = 0; g < l->tree->count; g++) {
        if (gate[g].kind == FKEX_GATE_AND)
            new_cols += gate[g].n - 1;
        else if (gate[g].kind == FKEX_GATE_THRESHOLD)
            new_cols += gate[g].k - 1;
    }
    /* Each level pushes at most max(2, k-1) entries: 1 + 2 gates + cols. */
    size_t stack = 1 + 2 * l->tree->count + new_cols;
    memset(&c, 0, sizeof c);
    c.l = l;
    c.gate = gate;
    c.cols = 1;
    size_t entries = count_entries(gate, 0, 1);
    /* Ciphertexts carry policies from strangers: a 1000-of-1024 gate fits in
     * 6 KB of text but makes a dense 1024 x 1000 matrix. Bound the work. */
    if (entries > FKEX_LSSS_MAX_ENTRIES)
        return FKEX_ERR_POLICY_LIMIT;
    c.scratch = malloc(stack * sizeof *c.scratch);
    l->entry = malloc(entries * sizeof *l->entry);
    if (!c.scratch || !l->entry) {
        free(c.scratch);
        return FKEX_ERR_NO_MEMORY;
    }
    fkex_fr_one(&c.one);
    fkex_fr_neg(&c.minus_one, &c.one);
    set_entry(&c.scratch[0], 0, &c.one);     /* the root's vector (1) */
    assign(&c, 0, 0, 1);
    l->cols = c.cols;
    free(c.scratch);
    return FKEX_OK;
}

fkex_err fkex_lsss_compile(fkex_lsss **out, const fkex_policy *p)
{
    size_t leaves = 0, gates = 0;
    fkex_lsss *l;
    fkex_err e;

    if (!out)
        return FKEX_ERR_ARGUMENT;
    *out = NULL;
    if (!p)
        return FKEX_ERR_ARGUMENT;
    fkex_expand_count(p, &leaves, &gates);
    if (leaves > FKEX_POLICY_MAX_LEAVES)
        return FKEX_ERR_POLICY_LIMIT;
    if (!(l = calloc(1, sizeof *l)))
        return FKEX_ERR_NO_MEMORY;
    l->rows = leaves;
    l->attr = calloc(leaves, sizeof *l->attr);
    l->row_start = calloc(leaves + 1, sizeof *l->row_start);
    l->tree = malloc(sizeof *l->tree + gates * sizeof l->tree->gate[0]);
    if (!l->attr || !l->row_start || !l->tree) {
        e = FKEX_ERR_NO_MEMORY;
        goto fail;
    }
    l->tree->count = gates;
    if ((e = fkex_expand_build(l->tree, l->attr, p)) != FKEX_OK)
        goto fail;
    if ((e = fill_matrix(l)) != FKEX_OK)
        goto fail;
    *out = l;
    return FKEX_OK;
fail:
    fkex_lsss_free(l);
    return e;
}

/* O(entries): lambda_i = M_i . v. */
void fkex_lsss_share(fkex_fr *lambda, const fkex_lsss *l, const fkex_fr *v)
{
    for (size_t i = 0; i < l->rows; i++) {
        fkex_fr acc, t;
        fkex_fr_zero(&acc);
        for (size_t e = l->row_start[i]; e < l->row_start[i + 1]; e++) {
            fkex_fr_mul(&t, &l->entry[e].value, &v[l->entry[e].col]);
            fkex_fr_add(&acc, &acc, &t);
        }
        lambda[i] = acc;
        sodium_memzero(&acc, sizeof acc);
        sodium_memzero(&t, sizeof t);
    }
}
