/*
 * fuzz_policy.c: libFuzzer target for the policy parser and its LSSS.
 *
 * Any input: parse. On success: print, re-parse, require equality and a
 * fixed-point printer; compile; satisfy with a fixed key and with a key
 * made of a data-chosen subset of the policy's own rows; whenever satisfy
 * succeeds, require sum omega_i M_i == (1, 0, .., 0). abort() on any
 * violation, so libFuzzer reports it.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"

static const char *const fixed_attrs[] = {
    "A", "B", "C", "ONE", "TWO", "THREE", "dept:telematics", "role:professor",
    "x=5", "year=7", "level=2", "age=30",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_solution(const fkex_lsss *l, const fkex_lsss_solution *sol,
                           const char *const *keys, size_t nkey)
{
    fkex_fr *acc = calloc(l->cols, sizeof *acc), t;
    if (!acc || sol->rows != l->rows)
        abort();
    for (size_t r = 0; r < sol->rows; r++) {
        if (fkex_fr_is_zero(&sol->omega[r]))
            continue;
        if (sol->key_attr[r] >= nkey || strcmp(keys[sol->key_attr[r]], l->attr[r]) != 0)
            abort();
        for (size_t e = l->row_start[r]; e < l->row_start[r + 1]; e++) {
            fkex_fr_mul(&t, &sol->omega[r], &l->entry[e].value);
            fkex_fr_add(&acc[l->entry[e].col], &acc[l->entry[e].col], &t);
        }
    }
    if (!fkex_fr_is_one(&acc[0]))
        abort();
    for (size_t j = 1; j < l->cols; j++)
        if (!fkex_fr_is_zero(&acc[j]))
            abort();
    free(acc);
}

static void try_key(const fkex_lsss *l, const char *const *keys, size_t nkey)
{
    fkex_lsss_solution sol;
    fkex_err e = fkex_lsss_satisfy(&sol, l, keys, nkey);
    if (e == FKEX_OK)
        check_solution(l, &sol, keys, nkey);
    else if (e != FKEX_ERR_POLICY_UNSATISFIED || sol.rows || sol.omega)
        abort();
    fkex_lsss_solution_free(&sol);
}

/* A key holding the rows whose index picks a set bit of the input. */
static void try_own_rows(const fkex_lsss *l, const uint8_t *data, size_t size)
{
    const char **keys = malloc((l->rows ? l->rows : 1) * sizeof *keys);
    size_t n = 0;
    if (!keys)
        abort();
    for (size_t i = 0; i < l->rows; i++)
        if ((data[i % size] >> (i % 8)) & 1)
            keys[n++] = l->attr[i];
    qsort(keys, n, sizeof *keys, cmp_str);
    size_t m = 0;                       /* strictly increasing, as required */
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(keys[m - 1], keys[i]) != 0)
            keys[m++] = keys[i];
    try_key(l, keys, m);
    free(keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char **fixed;
    static size_t nfixed;
    fkex_policy *p = NULL, *q = NULL;
    fkex_policy_error err;
    fkex_lsss *l = NULL;
    char *text = NULL, *again = NULL;

    if (!fixed && fkex_attrs_expand(&fixed, &nfixed, fixed_attrs, FKEX_ARRAY_LEN(fixed_attrs)) != FKEX_OK)
        abort();
    fkex_err e = fkex_policy_parse(&p, (const char *)data, size, &err);
    if (e != FKEX_OK) {
        if (p || err.column < 1 || err.column > size + 1 || !err.message[0])
            abort();
        return 0;
    }
    if (fkex_policy_print(&text, p) != FKEX_OK)
        abort();
    if (fkex_policy_parse(&q, text, strlen(text), &err) != FKEX_OK || !fkex_policy_equal(p, q))
        abort();
    if (fkex_policy_print(&again, q) != FKEX_OK || strcmp(text, again) != 0)
        abort();
    if (fkex_lsss_compile(&l, p) != FKEX_OK || l->rows == 0 || l->rows > FKEX_POLICY_MAX_LEAVES)
        abort();
    try_key(l, (const char *const *)fixed, nfixed);
    if (size)
        try_own_rows(l, data, size);
    fkex_lsss_free(l);
    free(again);
    free(text);
    fkex_policy_free(q);
    fkex_policy_free(p);
    return 0;
}
