/*
 * policy/expiry.c: keys that expire, as attributes (fkex/policy.h).
 *
 * A key issued until the end of a month carries "expires=YYYYMM", a
 * numeric attribute; a ciphertext for keys still valid in a month requires
 * "expires >= YYYYMM" besides its policy. The requirement is added to the
 * policy's tree, never to its text, and the result is checked against the
 * limits as parsed text would be.
 */
#include <stdio.h>
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

fkex_err fkex_month_parse(uint32_t *yyyymm, const char *text)
{
    uint32_t y = 0, m = 0;
    if (strlen(text) != 7 || text[4] != '-')
        return FKEX_ERR_ARGUMENT;
    for (int i = 0; i < 7; i++) {
        if (i == 4)
            continue;
        if (text[i] < '0' || text[i] > '9')
            return FKEX_ERR_ARGUMENT;
        if (i < 4)
            y = y * 10 + (uint32_t)(text[i] - '0');
        else
            m = m * 10 + (uint32_t)(text[i] - '0');
    }
    if (y < 1970 || m < 1 || m > 12)
        return FKEX_ERR_ARGUMENT;
    *yyyymm = y * 100 + m;
    return FKEX_OK;
}

static int month_ok(uint32_t yyyymm)
{
    return yyyymm >= 197001 && yyyymm <= 999912 && yyyymm % 100 >= 1 && yyyymm % 100 <= 12;
}

fkex_err fkex_expiry_attr(char out[FKEX_EXPIRY_ATTR_LEN + 1], uint32_t yyyymm)
{
    if (!month_ok(yyyymm))
        return FKEX_ERR_ARGUMENT;
    snprintf(out, FKEX_EXPIRY_ATTR_LEN + 1, FKEX_EXPIRES_ATTR "=%06u", (unsigned)yyyymm);
    return FKEX_OK;
}

uint32_t fkex_expiry_of(const char *attr)
{
    static const char prefix[] = FKEX_EXPIRES_ATTR "=";
    uint64_t v;
    const char *why;
    size_t len;
    if (strncmp(attr, prefix, sizeof prefix - 1) != 0)
        return 0;
    attr += sizeof prefix - 1;
    len = strlen(attr);
    if (len != 6 || fkex_u64_parse(&v, attr, len, &why) != 0 || !month_ok((uint32_t)v))
        return 0;
    return (uint32_t)v;
}

/* A copy of a tree; NULL when out of memory. */
static fkex_policy *copy(const fkex_policy *p)
{
    fkex_policy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *p;
    c->name = NULL;
    c->child = NULL;
    c->n = 0;
    if (p->name && !(c->name = strdup(p->name)))
        goto fail;
    if (p->n && !(c->child = calloc(p->n, sizeof *c->child)))
        goto fail;
    for (; c->n < p->n; c->n++)
        if (!(c->child[c->n] = copy(p->child[c->n])))
            goto fail;
    return c;
fail:
    fkex_policy_free(c);
    return NULL;
}

/* policy and expires >= yyyymm, as the parser would build it: an AND's
 * children are never ANDs, so policy's own AND gives its children. */
static fkex_policy *and_valid_at(const fkex_policy *p, uint32_t yyyymm)
{
    fkex_policy *and = calloc(1, sizeof *and), *cmp = calloc(1, sizeof *cmp);
    size_t parts = p->kind == FKEX_NODE_AND ? p->n : 1;
    if (!and || !cmp || !(cmp->name = strdup(FKEX_EXPIRES_ATTR)) ||
        !(and->child = calloc(parts + 1, sizeof *and->child)))
        goto fail;
    cmp->kind = FKEX_NODE_CMP;
    cmp->op = FKEX_CMP_GE;
    cmp->value = yyyymm;
    and->kind = FKEX_NODE_AND;
    for (; and->n < parts; and->n++)
        if (!(and->child[and->n] = copy(p->kind == FKEX_NODE_AND ? p->child[and->n] : p)))
            goto fail;
    and->child[and->n++] = cmp;
    return and;
fail:
    fkex_policy_free(and);
    fkex_policy_free(cmp);
    return NULL;
}

fkex_err fkex_policy_valid_at(fkex_policy **out, const fkex_policy *policy, uint32_t yyyymm,
                              fkex_policy_error *err)
{
    fkex_policy *tree;
    char *text;
    fkex_err e;
    *out = NULL;
    if (!month_ok(yyyymm))
        return FKEX_ERR_ARGUMENT;
    if (!(tree = and_valid_at(policy, yyyymm)))
        return FKEX_ERR_NO_MEMORY;
    /* The limits, as the parser checks them: printed, then read back. */
    e = fkex_policy_print(&text, tree);
    fkex_policy_free(tree);
    if (e != FKEX_OK)
        return e;
    e = fkex_policy_parse(out, text, strlen(text), err);
    free(text);
    return e;
}
