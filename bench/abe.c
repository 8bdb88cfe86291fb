/*
 * bench/abe.c: `fkex bench abe`, the CP-ABE operations at several policy
 * sizes (AND of N attributes, and the 2014 prototype's policy), and one
 * policy with two branches, E or (A and .. and G), decrypted once by a key
 * for each branch: admission must not show which (PROTOCOL.md, version 2).
 *
 * Both schemes, FAME and Waters 2011, in the same run, interleaved case by
 * case:
 *   keygen       a key for exactly the policy's attributes
 *   encrypt      the scheme's encapsulation up to the ciphertext structure
 *                (LSSS compiled beforehand, no encoding)
 *   encrypt_new  the same under attribute names the public parameters have
 *                not met before (FAME hashes their points then; Waters
 *                hashes at every encryption anyway)
 *   decode       ciphertext bytes to a validated structure
 *   decrypt      satisfying-set search and decapsulation of a decoded ciphertext
 *   decrypt_cca  the full IND-CCA decapsulation from bytes: decode,
 *                decapsulation and the Fujisaki-Okamoto re-encryption check
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

#define PROTOTYPE_POLICY "(ONE or THREE) and (TWO or FOUR)"
#define BRANCH_POLICY "E or (A and B and C and D and F and G)"
#define BRANCH_ROWS 7

typedef struct {
    const char *label;      /* "1", "10", ... or "prototype" */
    size_t n;               /* attributes in the policy */
    char *policy;
    char **attrs;           /* a satisfying key's attributes */
    size_t nattrs;
} bench_case;

typedef struct {
    const char *scheme, *op;
    size_t n;
    const char *label;
    double ms, pe;
} result;

#define FRESH_RUNS 32   /* encrypt_new's runs, plus bench_time's warm-up */

static char *and_policy(size_t n, char ***attrs)
{
    size_t cap = n * 32 + 1, len = 0;
    char *p = malloc(cap);
    *attrs = calloc(n, sizeof **attrs);
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof name, "A%zu", i + 1);
        (*attrs)[i] = strdup(name);
        len += (size_t)snprintf(p + len, cap - len, "%s%s", i ? " and " : "", name);
    }
    return p;
}

typedef struct {
    fkex_msk *msk;
    const fkex_mpk *mpk;
    bench_case *c;
    fkex_key *key;
    fkex_abe_ct *ct;         /* CPA, for encrypt/decrypt */
    const uint8_t *ct_bytes; /* CPA */
    size_t ct_len;
    const uint8_t *cca_bytes;
    size_t cca_len;
    fkex_lsss *fresh[FRESH_RUNS];   /* the case's policy over names never used before */
    size_t next_fresh;
    fkex_rng rng;
} ctx;

static void op_keygen(void *arg)
{
    ctx *x = arg;
    fkex_key *k;
    if (fkex_abe_keygen(&k, x->msk, (const char *const *)x->c->attrs, x->c->nattrs, &x->rng) == FKEX_OK)
        fkex_key_free(k);
}

static void op_encrypt(void *arg)
{
    ctx *x = arg;
    const fkex_abe_scheme *s = fkex_abe_ct_scheme(x->ct);
    const fkex_lsss *l = fkex_abe_ct_lsss(x->ct);
    void *impl = calloc(1, s->ct_size(l->rows));
    fkex_gt z;
    if (impl && s->encap(&z, impl, fkex_mpk_impl(x->mpk), l, &x->rng) == FKEX_OK)
        free(impl);
}

static void op_encrypt_new(void *arg)
{
    ctx *x = arg;
    const fkex_abe_scheme *s = fkex_abe_ct_scheme(x->ct);
    const fkex_lsss *l = x->fresh[x->next_fresh++ % FRESH_RUNS];
    void *impl = calloc(1, s->ct_size(l->rows));
    fkex_gt z;
    if (impl && s->encap(&z, impl, fkex_mpk_impl(x->mpk), l, &x->rng) == FKEX_OK)
        free(impl);
}

/* The case's policy with every attribute renamed to one no run has used. */
static fkex_lsss *fresh_lsss(const bench_case *c, unsigned serial)
{
    size_t cap = strlen(c->policy) * 2 + 64, len = 0;
    char *text = malloc(cap);
    fkex_policy *policy = NULL;
    fkex_policy_error perr;
    fkex_lsss *l = NULL;
    for (const char *p = c->policy; *p && len + 16 < cap; p++) {
        int start = (*p >= 'A' && *p <= 'Z') && (p == c->policy || p[-1] == ' ' || p[-1] == '(');
        if (start)
            len += (size_t)snprintf(text + len, cap - len, "F%u_", serial);
        text[len++] = *p;
    }
    text[len] = 0;
    if (fkex_policy_parse(&policy, text, len, &perr) == FKEX_OK &&
        fkex_lsss_compile(&l, policy) != FKEX_OK)
        l = NULL;
    fkex_policy_free(policy);
    free(text);
    return l;
}

static void op_decode(void *arg)
{
    ctx *x = arg;
    fkex_abe_ct *ct;
    if (fkex_abe_ct_decode(&ct, x->ct_bytes, x->ct_len) == FKEX_OK)
        fkex_abe_ct_free(ct);
}

static void op_decrypt(void *arg)
{
    ctx *x = arg;
    const fkex_abe_scheme *s = fkex_abe_ct_scheme(x->ct);
    const char *const *names;
    size_t n;
    fkex_lsss_solution sol;
    fkex_gt z;
    fkex_key_names(&names, &n, x->key);
    if (fkex_lsss_satisfy(&sol, fkex_abe_ct_lsss(x->ct), names, n) == FKEX_OK) {
        s->decap(&z, fkex_key_impl(x->key), n, fkex_abe_ct_impl(x->ct), &sol);
        fkex_lsss_solution_free(&sol);
    }
}

static void op_decrypt_cca(void *arg)
{
    ctx *x = arg;
    fkex_abe_ct *ct;
    uint8_t key[32];
    if (fkex_abe_ct_decode(&ct, x->cca_bytes, x->cca_len) == FKEX_OK) {
        if (fkex_abe_decap(key, x->key, ct, FKEX_ABE_CCA) != FKEX_OK)
            fprintf(stderr, "bench: decrypt_cca failed\n");
        fkex_abe_ct_free(ct);
    }
}

/* "prototype", "branch-E", ... or "AND-n". */
static void policy_name(char out[24], const char *label, size_t n)
{
    if (label)
        snprintf(out, 24, "%s", label);
    else
        snprintf(out, 24, "AND-%zu", n);
}

int bench_abe(int json, size_t only_n, const char *build)
{
    static const size_t sizes[] = BENCH_ABE_SIZES;
    static const struct { const char *label, *attrs[6]; size_t nattrs; } branches[] = {
        { "branch-E", { "E" }, 1 },
        { "branch-AG", { "A", "B", "C", "D", "F", "G" }, 6 },
    };
    static const char *const scheme_names[] = { "fame", "waters11" };
    static const struct { const char *op; void (*fn)(void *); } ops[] = {
        { "keygen", op_keygen }, { "encrypt", op_encrypt }, { "encrypt_new", op_encrypt_new },
        { "decode", op_decode }, { "decrypt", op_decrypt }, { "decrypt_cca", op_decrypt_cca },
    };
#define NSCHEMES FKEX_ARRAY_LEN(scheme_names)
#define NCASES (FKEX_ARRAY_LEN(sizes) + 1 + FKEX_ARRAY_LEN(branches))
    bench_case cases[NCASES];
    result results[FKEX_ARRAY_LEN(ops) * NSCHEMES * NCASES];
    size_t nres = 0, ncases = 0;
    size_t ct_size[NSCHEMES][NCASES], key_size[NSCHEMES][NCASES];
    fkex_mpk *mpk[NSCHEMES];
    fkex_msk *msk[NSCHEMES];
    fkex_rng rng;
    double pairing_ms, pairing_all[FKEX_ARRAY_LEN(results)];
    bench_group_op groups[BENCH_GROUP_OPS];
    unsigned serial = 0;

    fkex_rng_init_system(&rng);
    for (size_t k = 0; k < NSCHEMES; k++)
        if (fkex_abe_setup(&mpk[k], &msk[k], scheme_names[k], &rng) != FKEX_OK)
            return 2;

    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        if (only_n && sizes[i] != only_n)
            continue;
        cases[ncases].n = sizes[i];
        cases[ncases].label = NULL;
        cases[ncases].policy = and_policy(sizes[i], &cases[ncases].attrs);
        cases[ncases].nattrs = sizes[i];
        ncases++;
    }
    if (!only_n) {
        bench_case *p = &cases[ncases++];
        p->n = 4;
        p->label = "prototype";
        p->policy = strdup(PROTOTYPE_POLICY);
        p->attrs = calloc(2, sizeof *p->attrs);
        p->attrs[0] = strdup("ONE");
        p->attrs[1] = strdup("TWO");
        p->nattrs = 2;
        for (size_t b = 0; b < FKEX_ARRAY_LEN(branches); b++) {
            p = &cases[ncases++];
            p->n = BRANCH_ROWS;
            p->label = branches[b].label;
            p->policy = strdup(BRANCH_POLICY);
            p->nattrs = branches[b].nattrs;
            p->attrs = calloc(p->nattrs, sizeof *p->attrs);
            for (size_t j = 0; j < p->nattrs; j++)
                p->attrs[j] = strdup(branches[b].attrs[j]);
        }
    }

    for (size_t i = 0; i < ncases; i++) {
        for (size_t k = 0; k < NSCHEMES; k++) {
            bench_case *c = &cases[i];
            ctx x = { .msk = msk[k], .mpk = mpk[k], .c = c, .rng = rng };
            fkex_policy *policy;
            fkex_policy_error perr;
            fkex_abe_ct *cca;
            uint8_t kb_key[32];
            uint8_t *kb;
            size_t kl;
            int runs = c->n >= 50 ? 9 : 31;

            if (fkex_policy_parse(&policy, c->policy, strlen(c->policy), &perr) != FKEX_OK ||
                fkex_abe_keygen(&x.key, msk[k], (const char *const *)c->attrs, c->nattrs, &rng) !=
                    FKEX_OK ||
                fkex_abe_encap(kb_key, &x.ct, mpk[k], policy, FKEX_ABE_CPA, &rng) != FKEX_OK ||
                fkex_abe_encap(kb_key, &cca, mpk[k], policy, FKEX_ABE_CCA, &rng) != FKEX_OK ||
                fkex_key_encode(&kb, &kl, x.key) != FKEX_OK) {
                fprintf(stderr, "bench: setting up %s failed\n", c->policy);
                return 2;
            }
            for (size_t f = 0; f < FRESH_RUNS; f++)
                if (!(x.fresh[f] = fresh_lsss(c, serial++))) {
                    fprintf(stderr, "bench: renaming %s failed\n", c->policy);
                    return 2;
                }
            fkex_abe_ct_bytes(&x.ct_bytes, &x.ct_len, x.ct);
            fkex_abe_ct_bytes(&x.cca_bytes, &x.cca_len, cca);
            ct_size[k][i] = x.cca_len;
            key_size[k][i] = kl;
            fkex_bytes_free(kb, kl);

            for (size_t o = 0; o < FKEX_ARRAY_LEN(ops); o++) {
                results[nres].scheme = scheme_names[k];
                results[nres].op = ops[o].op;
                results[nres].n = c->n;
                results[nres].label = c->label;
                bench_time(&results[nres].ms, &pairing_all[nres], runs, ops[o].fn, &x);
                results[nres].pe = results[nres].ms / pairing_all[nres];
                nres++;
            }
            for (size_t f = 0; f < FRESH_RUNS; f++)
                fkex_lsss_free(x.fresh[f]);
            fkex_abe_ct_free(cca);
            fkex_abe_ct_free(x.ct);
            fkex_key_free(x.key);
            fkex_policy_free(policy);
        }
    }

    pairing_ms = bench_median(pairing_all, nres);
    if (bench_groups(groups) != 0) {
        fprintf(stderr, "bench: out of memory for the group operations\n");
        return 2;
    }
    if (json) {
        printf("{\"build\": \"%s\", \"pairing_ms\": %.4f, \"results\": [", build, pairing_ms);
        for (size_t r = 0; r < nres; r++)
            printf("%s{\"scheme\": \"%s\", \"op\": \"%s\", \"n\": %zu,%s%s%s \"median_ms\": %.4f, \"pe\": %.3f}",
                   r ? ", " : "", results[r].scheme, results[r].op, results[r].n,
                   results[r].label ? " \"policy\": \"" : "", results[r].label ? results[r].label : "",
                   results[r].label ? "\"," : "", results[r].ms, results[r].pe);
        printf("], \"sizes\": [");
        for (size_t k = 0; k < NSCHEMES; k++)
            for (size_t i = 0; i < ncases; i++)
                printf("%s{\"scheme\": \"%s\", \"what\": \"ciphertext\", \"n\": %zu,%s%s%s \"bytes\": %zu}, "
                       "{\"scheme\": \"%s\", \"what\": \"key\", \"n\": %zu,%s%s%s \"bytes\": %zu}",
                       k || i ? ", " : "", scheme_names[k], cases[i].n,
                       cases[i].label ? " \"policy\": \"" : "", cases[i].label ? cases[i].label : "",
                       cases[i].label ? "\"," : "", ct_size[k][i], scheme_names[k], cases[i].nattrs,
                       cases[i].label ? " \"policy\": \"" : "", cases[i].label ? cases[i].label : "",
                       cases[i].label ? "\"," : "", key_size[k][i]);
        printf("], \"group_ops\": [");
        for (size_t g = 0; g < BENCH_GROUP_OPS; g++)
            printf("%s{\"op\": \"%s\", \"us\": %.3f, \"pe\": %.4f}", g ? ", " : "", groups[g].op,
                   groups[g].us, groups[g].pe);
        printf("]}\n");
    } else {
        printf("%s build; one pairing: %.3f ms (median; pe = time / a pairing timed alongside)\n\n",
               build, pairing_ms);
        printf("%-10s %-12s %-10s %12s %10s\n", "scheme", "op", "policy", "median ms", "pe");
        for (size_t r = 0; r < nres; r++) {
            char pol[24];
            policy_name(pol, results[r].label, results[r].n);
            printf("%-10s %-12s %-10s %12.3f %10.2f\n", results[r].scheme, results[r].op, pol,
                   results[r].ms, results[r].pe);
        }
        printf("\n%-10s %-10s %16s %10s\n", "scheme", "policy", "ciphertext B", "key B");
        for (size_t k = 0; k < NSCHEMES; k++)
            for (size_t i = 0; i < ncases; i++) {
                char pol[24];
                policy_name(pol, cases[i].label, cases[i].n);
                printf("%-10s %-10s %16zu %10zu\n", scheme_names[k], pol, ct_size[k][i],
                       key_size[k][i]);
            }
        printf("\nciphertext: the IND-CCA encapsulation object (header, policy, ct_0 or\n"
               "C', rows, masked key); key: a key with exactly the policy's attributes,\n"
               "including its embedded public parameters. branch-E and branch-AG: the\n"
               "policy %s decrypted by a key {E} and\n"
               "by a key {A, B, C, D, F, G}; decrypt should cost the same for both.\n",
               BRANCH_POLICY);
        printf("\nthe group operations under both, each alone:\n%-10s %10s %10s   %s\n", "op", "us",
               "pe", "what");
        for (size_t g = 0; g < BENCH_GROUP_OPS; g++)
            printf("%-10s %10.2f %10.4f   %s\n", groups[g].op, groups[g].us, groups[g].pe,
                   groups[g].what);
    }
    for (size_t i = 0; i < ncases; i++) {
        free(cases[i].policy);
        for (size_t j = 0; j < cases[i].nattrs; j++)
            free(cases[i].attrs[j]);
        free(cases[i].attrs);
    }
    for (size_t k = 0; k < NSCHEMES; k++) {
        fkex_mpk_free(mpk[k]);
        fkex_msk_free(msk[k]);
    }
    return 0;
}
