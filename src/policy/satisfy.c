/*
 * policy/satisfy.c: the fewest rows of an LSSS that a key can use, and
 * their reconstruction coefficients, written out over every row.
 *
 * Two iterative passes over the expanded tree (no recursion, whatever the
 * depth). Children come after their parent in the gate array, so:
 *   1. backwards, every gate's cost = the fewest rows that satisfy it
 *      (leaf: 1 if the key has its attribute; AND: the sum; OR: the
 *      minimum; k-of-n: the sum of the k cheapest children);
 *   2. forwards, from the root, every gate passes omega to its cheapest
 *      children, times the Lagrange coefficient at 0 of each threshold
 *      child (1 under AND and OR). Gates off the chosen path carry
 *      omega = 0, so every gate is visited and the field work (Lagrange
 *      coefficients, inversions) depends on the policy alone.
 * Because each row is one leaf, the tree's optimum is the global optimum:
 * the solution has the fewest rows. Cost O(rows log nkey + sum_k k^2).
 *
 * Not constant time: the attribute lookup (binary search with strcmp), the
 * costs and their sort branch on which attributes the key holds. That is
 * microseconds against a decapsulation's milliseconds, which instead does
 * the same pairing work whatever the key (abe/waters11.c, ARCHITECTURE.md).
 */
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

#define UNSAT SIZE_MAX

typedef struct {
    const fkex_lsss *l;
    size_t *cost;      /* per gate */
    size_t *match;     /* per row: key attribute index, or UNSAT */
    uint64_t *keys;    /* scratch: (cost << 32) | child index */
    fkex_fr *omega;    /* per gate: 0 off the chosen path */
} solver;

static size_t find_key(const char *const *keys, size_t nkey, const char *name)
{
    size_t lo = 0, hi = nkey;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(keys[mid], name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UNSAT;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The children of threshold/OR gate x sorted by cost, ties by position. */
static void sort_children(solver *s, const fkex_gate *x)
{
    for (uint32_t j = 0; j < x->n; j++) {
        size_t c = s->cost[x->first + j];
        uint64_t c32 = c == UNSAT ? UINT32_MAX : (uint64_t)c;
        s->keys[j] = (c32 << 32) | j;
    }
    qsort(s->keys, x->n, sizeof *s->keys, cmp_u64);
}

static size_t gate_cost(solver *s, const fkex_gate *x)
{
    size_t sum = 0, need = x->kind == FKEX_GATE_AND ? x->n
                         : x->kind == FKEX_GATE_OR ? 1 : x->k;
    if (x->kind == FKEX_GATE_AND) {
        for (uint32_t j = 0; j < x->n; j++) {
            if (s->cost[x->first + j] == UNSAT)
                return UNSAT;
            sum += s->cost[x->first + j];
        }
        return sum;
    }
    sort_children(s, x);
    for (size_t t = 0; t < need; t++) {
        uint64_t c = s->keys[t] >> 32;
        if (c == UINT32_MAX)
            return UNSAT;
        sum += (size_t)c;
    }
    return sum;
}

/* Lagrange coefficient at 0 of x_a among the points xs[0..k):
 * prod_{b != a} x_b / (x_b - x_a). */
static void lagrange(fkex_fr *out, const uint64_t *xs, size_t k, size_t a)
{
    fkex_fr num, den, xa, xb, t;
    fkex_fr_one(&num);
    fkex_fr_one(&den);
    fkex_fr_from_u64(&xa, xs[a]);
    for (size_t b = 0; b < k; b++) {
        if (b == a)
            continue;
        fkex_fr_from_u64(&xb, xs[b]);
        fkex_fr_mul(&num, &num, &xb);
        fkex_fr_sub(&t, &xb, &xa);
        fkex_fr_mul(&den, &den, &t);
    }
    fkex_fr_inv(&den, &den);
    fkex_fr_mul(out, &num, &den);
}

static void choose(solver *s, uint32_t child, const fkex_fr *omega)
{
    s->omega[child] = *omega;
}

/* Pushes gate x's choice down to its children. keys is reused: after
 * sort_children, its low halves are the chosen children; the x values
 * (index + 1) are written back over them for lagrange(). */
static void descend(solver *s, const fkex_gate *x, const fkex_fr *omega)
{
    if (x->kind == FKEX_GATE_AND) {
        for (uint32_t j = 0; j < x->n; j++)
            choose(s, x->first + j, omega);
        return;
    }
    sort_children(s, x);
    if (x->kind == FKEX_GATE_OR) {
        choose(s, x->first + (uint32_t)(s->keys[0] & UINT32_MAX), omega);
        return;
    }
    for (uint32_t t = 0; t < x->k; t++)
        s->keys[t] = (s->keys[t] & UINT32_MAX) + 1;
    for (uint32_t t = 0; t < x->k; t++) {
        fkex_fr coef;
        lagrange(&coef, s->keys, x->k, t);
        fkex_fr_mul(&coef, &coef, omega);
        choose(s, x->first + (uint32_t)(s->keys[t] - 1), &coef);
    }
}

/* Every row gets its gate's omega (0 if unused) and the index of the key
 * attribute it names (0 if the key has none). all_one comes from the
 * policy, not from the rows chosen: a decryptor branches on it. */
static fkex_err emit(fkex_lsss_solution *sol, solver *s)
{
    const fkex_lsss_node *tree = s->l->tree;
    size_t rows = s->l->rows;

    sol->omega = calloc(rows ? rows : 1, sizeof *sol->omega);
    sol->key_attr = calloc(rows ? rows : 1, sizeof *sol->key_attr);
    if (!sol->omega || !sol->key_attr)
        return FKEX_ERR_NO_MEMORY;
    sol->all_one = 1;
    for (size_t g = 0; g < tree->count; g++) {
        const fkex_gate *x = &tree->gate[g];
        if (x->kind == FKEX_GATE_THRESHOLD)
            sol->all_one = 0;
        if (x->kind == FKEX_GATE_LEAF) {
            size_t m = s->match[x->row];
            sol->omega[x->row] = s->omega[g];
            sol->key_attr[x->row] = m == UNSAT ? 0 : m;
        }
    }
    sol->rows = rows;
    return FKEX_OK;
}

static fkex_err solve(fkex_lsss_solution *sol, solver *s,
                      const char *const *key_attrs, size_t nkey)
{
    const fkex_lsss_node *tree = s->l->tree;
    const fkex_gate *gate = tree->gate;

    for (size_t g = tree->count; g-- > 0;) {
        const fkex_gate *x = &gate[g];
        if (x->kind == FKEX_GATE_LEAF) {
            s->match[x->row] = find_key(key_attrs, nkey, s->l->attr[x->row]);
            s->cost[g] = s->match[x->row] == UNSAT ? UNSAT : 1;
        } else {
            s->cost[g] = gate_cost(s, x);
        }
    }
    if (s->cost[0] == UNSAT)
        return FKEX_ERR_POLICY_UNSATISFIED;

    for (size_t g = 1; g < tree->count; g++)
        fkex_fr_zero(&s->omega[g]);
    fkex_fr_one(&s->omega[0]);
    for (size_t g = 0; g < tree->count; g++)
        if (gate[g].kind != FKEX_GATE_LEAF)
            descend(s, &gate[g], &s->omega[g]);
    return emit(sol, s);
}

fkex_err fkex_lsss_satisfy(fkex_lsss_solution *sol, const fkex_lsss *l,
                           const char *const *key_attrs, size_t nkey)
{
    solver s;
    size_t gates, widest = 1;
    fkex_err e;

    if (!sol)
        return FKEX_ERR_ARGUMENT;
    memset(sol, 0, sizeof *sol);
    if (!l || !l->tree || !l->tree->count || (!key_attrs && nkey))
        return FKEX_ERR_ARGUMENT;
    /* Binary search needs strictly sorted names: refuse anything else
     * rather than silently miss a match. */
    for (size_t i = 0; i < nkey; i++)
        if (!key_attrs[i] || (i && strcmp(key_attrs[i - 1], key_attrs[i]) >= 0))
            return FKEX_ERR_ARGUMENT;

    gates = l->tree->count;
    for (size_t g = 0; g < gates; g++)
        if (l->tree->gate[g].kind != FKEX_GATE_LEAF && l->tree->gate[g].n > widest)
            widest = l->tree->gate[g].n;
    memset(&s, 0, sizeof s);
    s.l = l;
    s.cost = malloc(gates * sizeof *s.cost);
    s.match = malloc((l->rows ? l->rows : 1) * sizeof *s.match);
    s.keys = malloc(widest * sizeof *s.keys);
    s.omega = malloc(gates * sizeof *s.omega);
    if (!s.cost || !s.match || !s.keys || !s.omega)
        e = FKEX_ERR_NO_MEMORY;
    else
        e = solve(sol, &s, key_attrs, nkey);
    free(s.cost);
    free(s.match);
    free(s.keys);
    if (s.omega)
        sodium_memzero(s.omega, gates * sizeof *s.omega);
    free(s.omega);
    if (e != FKEX_OK)
        fkex_lsss_solution_free(sol);
    return e;
}

void fkex_lsss_solution_free(fkex_lsss_solution *sol)
{
    if (!sol)
        return;
    /* Which rows are used says which attributes the key holds. */
    if (sol->omega)
        sodium_memzero(sol->omega, sol->rows * sizeof *sol->omega);
    if (sol->key_attr)
        sodium_memzero(sol->key_attr, sol->rows * sizeof *sol->key_attr);
    free(sol->key_attr);
    free(sol->omega);
    memset(sol, 0, sizeof *sol);
}
