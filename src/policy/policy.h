/*
 * policy/policy.h: the policy language's insides: attribute expansion and
 * the linear secret-sharing scheme a policy compiles to. The language
 * itself (grammar, limits, parse, print) is public: include/fkex/policy.h.
 */
#ifndef FKEX_POLICY_H
#define FKEX_POLICY_H

#include "fkex/policy.h"
#include "pairing/pairing.h"

/* ---- attributes --------------------------------------------------------- */
/* Expands key attributes into the names that carry key components: plain
 * attributes stay as they are, "year=5" becomes 64 names "year#b<i>=<bit>".
 * *out is a malloc'd array of malloc'd strings, sorted and without
 * duplicates: FKEX_ERR_ATTRIBUTE if two inputs collide, including two
 * values for one numeric name. Free with fkex_attrs_free. */
fkex_err fkex_attrs_expand(char ***out, size_t *count,
                           const char *const *attrs, size_t nattrs) FKEX_WUR;
void fkex_attrs_free(char **attrs, size_t count);

/* ---- LSSS ----------------------------------------------------------------
 * A policy compiles to (M, rho): rows of M over Fr, each labelled with an
 * expanded attribute name. AND/OR follow Lewko-Waters (appendix G):
 *   OR  child vectors:  v, v
 *   AND child vectors:  v||1, (0..0)||-1      (counter c grows by one)
 * A k-of-n gate (1 < k < n) gets k-1 new columns and child j = 1..n the
 * Vandermonde row v||(j, j^2, .., j^(k-1)); a 1-of-n gate is an OR and an
 * n-of-n gate an AND. The target vector is (1, 0, .., 0). Column indices
 * are 0-based, column 0 carries the secret. Rows are sparse, with entries in
 * increasing column order, numbered left to right as the leaves appear in
 * the policy; comparisons expand from the top bit down. AND and OR add
 * only coefficients 1 and -1; each row below a k-of-n gate carries k-1 more
 * entries (a 1000-of-1024 gate is a dense 1024 x 1000 block). */
typedef struct {
    uint32_t col;
    fkex_fr value;
} fkex_lsss_entry;

/* At most this many nonzero entries in a matrix (10 MiB): AND/OR
 * policies stay below it (a row has one entry per AND above it, plus one:
 * at most 1024 rows of 64 + 64 + 1);
 * large thresholds over many children reach it. */
#define FKEX_LSSS_MAX_ENTRIES (1u << 18)

typedef struct fkex_lsss_node fkex_lsss_node;  /* private: the expanded tree */

typedef struct {
    size_t rows, cols;
    char **attr;              /* attr[i] = rho(i), expanded name */
    size_t *row_start;        /* row i = entry[row_start[i] .. row_start[i+1]) */
    fkex_lsss_entry *entry;
    fkex_lsss_node *tree;     /* for satisfaction */
} fkex_lsss;

fkex_err fkex_lsss_compile(fkex_lsss **out, const fkex_policy *p) FKEX_WUR;
void fkex_lsss_free(fkex_lsss *l);

/* lambda_i = M_i . v for every row; v has l->cols entries (v[0] = secret).
 * O(entries). */
void fkex_lsss_share(fkex_fr *lambda, const fkex_lsss *l, const fkex_fr *v);

/* A minimal satisfying set, written over every row so that a decryptor
 * can do the same work whichever rows it is (PROTOCOL.md, version 2):
 *   omega[i]     row i's coefficient, 0 for a row not used, with
 *                sum_i omega_i M_i = (1,0..0) and the fewest nonzero omega_i;
 *   key_attr[i]  the index of the key attribute rho(i) for a used row (for
 *                others, that index if the key has rho(i), else 0).
 * Both are secret: they say which attributes the key holds. all_one is
 * public, a property of the policy: it has no threshold gate, so every
 * omega_i is 0 or 1 and a decryptor can skip scalar multiplications. */
typedef struct {
    size_t rows;
    fkex_fr *omega;
    size_t *key_attr;
    int all_one;
} fkex_lsss_solution;

/* key_attrs: the key's expanded names, strictly increasing by strcmp (as
 * fkex_attrs_expand gives; FKEX_ERR_ARGUMENT otherwise). Returns
 * FKEX_ERR_POLICY_UNSATISFIED when no subset satisfies the policy; on any
 * error *sol is all zero and owns nothing. omega_i is the product of the
 * Lagrange coefficients at 0 of the threshold gates above row i. Iterative:
 * O(rows log nkey + sum of k^2 over the threshold gates). Not constant time
 * in the key's attributes (see satisfy.c). */
fkex_err fkex_lsss_satisfy(fkex_lsss_solution *sol, const fkex_lsss *l,
                           const char *const *key_attrs, size_t nkey) FKEX_WUR;
/* Wipes and frees. */
void fkex_lsss_solution_free(fkex_lsss_solution *sol);

#endif
