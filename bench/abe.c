/*
 * bench/abe.c: `fkex bench abe`, the CP-ABE operations at several policy
 * sizes (AND of N attributes, and the 2014 prototype's policy), and one
 * policy with two branches, E or (A and .. and G), decrypted once by a key
 * for each branch: admission must not show which (PROTOCOL.md, version 2).
 *
 *   keygen       a key for exactly the policy's attributes
 *   encrypt      the scheme's encapsulation up to the ciphertext structure
 *                (LSSS compiled beforehand, no encoding)
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
    const char *op;
    size_t n;
    const char *label;
    double ms, pe;
} result;

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
    fkex_abe_msk *msk;
    const fkex_abe_mpk *mpk;
    bench_case *c;
    fkex_abe_key *key;
    fkex_abe_ct *ct;         /* CPA, for encrypt/decrypt */
    const uint8_t *ct_bytes; /* CPA */
    size_t ct_len;
    const uint8_t *cca_bytes;
    size_t cca_len;
    fkex_rng rng;
} ctx;

static void op_keygen(void *arg)
{
    ctx *x = arg;
    fkex_abe_key *k;
    if (fkex_abe_keygen(&k, x->msk, (const char *const *)x->c->attrs, x->c->nattrs, &x->rng) == FKEX_OK)
        fkex_abe_key_free(k);
}

static void op_encrypt(void *arg)
{
    ctx *x = arg;
    const fkex_abe_scheme *s = fkex_abe_ct_scheme(x->ct);
    const fkex_lsss *l = fkex_abe_ct_lsss(x->ct);
    void *impl = calloc(1, s->ct_size(l->rows));
    fkex_gt z;
    if (impl && s->encap(&z, impl, fkex_abe_mpk_impl(x->mpk), l, &x->rng) == FKEX_OK)
        free(impl);
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
    fkex_abe_key_names(&names, &n, x->key);
    if (fkex_lsss_satisfy(&sol, fkex_abe_ct_lsss(x->ct), names, n) == FKEX_OK) {
        s->decap(&z, fkex_abe_key_impl(x->key), n, fkex_abe_ct_impl(x->ct), &sol);
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

int bench_abe(int json)
{
    static const size_t sizes[] = { 1, 10, 50, 100 };
    static const struct { const char *label, *attrs[6]; size_t nattrs; } branches[] = {
        { "branch-E", { "E" }, 1 },
        { "branch-AG", { "A", "B", "C", "D", "F", "G" }, 6 },
    };
    bench_case cases[FKEX_ARRAY_LEN(sizes) + 1 + FKEX_ARRAY_LEN(branches)];
    result results[5 * FKEX_ARRAY_LEN(cases)];
    size_t nres = 0;
    size_t ct_size[FKEX_ARRAY_LEN(cases)], key_size[FKEX_ARRAY_LEN(cases)];
    fkex_abe_mpk *mpk;
    fkex_abe_msk *msk;
    fkex_rng rng;
    double pairing_ms, pairing_all[FKEX_ARRAY_LEN(results)];

    fkex_rng_init_system(&rng);
    if (fkex_abe_setup(&mpk, &msk, "waters11", &rng) != FKEX_OK)
        return 2;

    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        cases[i].n = sizes[i];
        cases[i].label = NULL;
        cases[i].policy = and_policy(sizes[i], &cases[i].attrs);
        cases[i].nattrs = sizes[i];
    }
    {
        bench_case *p = &cases[FKEX_ARRAY_LEN(sizes)];
        p->n = 4;
        p->label = "prototype";
        p->policy = strdup(PROTOTYPE_POLICY);
        p->attrs = calloc(2, sizeof *p->attrs);
        p->attrs[0] = strdup("ONE");
        p->attrs[1] = strdup("TWO");
        p->nattrs = 2;
    }
    for (size_t b = 0; b < FKEX_ARRAY_LEN(branches); b++) {
        bench_case *p = &cases[FKEX_ARRAY_LEN(sizes) + 1 + b];
        p->n = BRANCH_ROWS;
        p->label = branches[b].label;
        p->policy = strdup(BRANCH_POLICY);
        p->nattrs = branches[b].nattrs;
        p->attrs = calloc(p->nattrs, sizeof *p->attrs);
        for (size_t j = 0; j < p->nattrs; j++)
            p->attrs[j] = strdup(branches[b].attrs[j]);
    }

    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        bench_case *c = &cases[i];
        ctx x = { .msk = msk, .mpk = mpk, .c = c, .rng = rng };
        fkex_policy *policy;
        fkex_policy_error perr;
        fkex_abe_ct *cca;
        uint8_t k[32];
        uint8_t *kb;
        size_t kl;
        int runs = c->n >= 50 ? 9 : 31;

        if (fkex_policy_parse(&policy, c->policy, strlen(c->policy), &perr) != FKEX_OK ||
            fkex_abe_keygen(&x.key, msk, (const char *const *)c->attrs, c->nattrs, &rng) != FKEX_OK ||
            fkex_abe_encap(k, &x.ct, mpk, policy, FKEX_ABE_CPA, &rng) != FKEX_OK ||
            fkex_abe_encap(k, &cca, mpk, policy, FKEX_ABE_CCA, &rng) != FKEX_OK ||
            fkex_abe_key_encode(&kb, &kl, x.key) != FKEX_OK) {
            fprintf(stderr, "bench: setting up %s failed\n", c->policy);
            return 2;
        }
        fkex_abe_ct_bytes(&x.ct_bytes, &x.ct_len, x.ct);
        fkex_abe_ct_bytes(&x.cca_bytes, &x.cca_len, cca);
        ct_size[i] = x.cca_len;
        key_size[i] = kl;
        fkex_abe_bytes_free(kb, kl);

        static const struct { const char *op; void (*fn)(void *); } ops[] = {
            { "keygen", op_keygen }, { "encrypt", op_encrypt }, { "decode", op_decode },
            { "decrypt", op_decrypt }, { "decrypt_cca", op_decrypt_cca },
        };
        for (size_t o = 0; o < FKEX_ARRAY_LEN(ops); o++) {
            results[nres].op = ops[o].op;
            results[nres].n = c->n;
            results[nres].label = c->label;
            bench_time(&results[nres].ms, &pairing_all[nres], runs, ops[o].fn, &x);
            results[nres].pe = results[nres].ms / pairing_all[nres];
            nres++;
        }
        fkex_abe_ct_free(cca);
        fkex_abe_ct_free(x.ct);
        fkex_abe_key_free(x.key);
        fkex_policy_free(policy);
    }

    pairing_ms = bench_median(pairing_all, nres);
    if (json) {
        printf("{\"pairing_ms\": %.4f, \"results\": [", pairing_ms);
        for (size_t r = 0; r < nres; r++)
            printf("%s{\"scheme\": \"waters11\", \"op\": \"%s\", \"n\": %zu,%s%s%s \"median_ms\": %.4f, \"pe\": %.3f}",
                   r ? ", " : "", results[r].op, results[r].n,
                   results[r].label ? " \"policy\": \"" : "", results[r].label ? results[r].label : "",
                   results[r].label ? "\"," : "", results[r].ms, results[r].pe);
        printf("], \"sizes\": [");
        for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++)
            printf("%s{\"what\": \"ciphertext\", \"n\": %zu,%s%s%s \"bytes\": %zu}, "
                   "{\"what\": \"key\", \"n\": %zu,%s%s%s \"bytes\": %zu}",
                   i ? ", " : "", cases[i].n,
                   cases[i].label ? " \"policy\": \"" : "", cases[i].label ? cases[i].label : "",
                   cases[i].label ? "\"," : "", ct_size[i],
                   cases[i].nattrs,
                   cases[i].label ? " \"policy\": \"" : "", cases[i].label ? cases[i].label : "",
                   cases[i].label ? "\"," : "", key_size[i]);
        printf("]}\n");
    } else {
        printf("one pairing: %.3f ms (median; pe = time / a pairing timed alongside)\n\n",
               pairing_ms);
        printf("%-10s %-12s %-10s %12s %10s\n", "scheme", "op", "policy", "median ms", "pe");
        for (size_t r = 0; r < nres; r++) {
            char pol[24];
            if (results[r].label)
                snprintf(pol, sizeof pol, "%s", results[r].label);
            else
                snprintf(pol, sizeof pol, "AND-%zu", results[r].n);
            printf("%-10s %-12s %-10s %12.3f %10.2f\n", "waters11", results[r].op, pol,
                   results[r].ms, results[r].pe);
        }
        printf("\n%-10s %16s %10s\n", "policy", "ciphertext B", "key B");
        for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
            char pol[24];
            if (cases[i].label)
                snprintf(pol, sizeof pol, "%s", cases[i].label);
            else
                snprintf(pol, sizeof pol, "AND-%zu", cases[i].n);
            printf("%-10s %16zu %10zu\n", pol, ct_size[i], key_size[i]);
        }
        printf("\nciphertext: the IND-CCA encapsulation object (header, policy, C', rows,\n"
               "masked key); key: a key with exactly the policy's attributes, including\n"
               "its embedded public parameters. branch-E and branch-AG: the policy\n"
               "%s decrypted by a key {E} and by a key\n"
               "{A, B, C, D, F, G}; decrypt should cost the same for both.\n", BRANCH_POLICY);
    }
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        free(cases[i].policy);
        for (size_t j = 0; j < cases[i].nattrs; j++)
            free(cases[i].attrs[j]);
        free(cases[i].attrs);
    }
    fkex_abe_mpk_free(mpk);
    fkex_abe_msk_free(msk);
    return 0;
}
