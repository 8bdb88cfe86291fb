/*
 * policy/print.c: the canonical text of a policy, and structural equality.
 *
 * Canonical: lower-case keywords, one space around "and", "or", "of" and
 * comparison operators, ", " between threshold children, and parentheses
 * only around an OR that is a child of an AND ("and" binds tighter). A
 * threshold is a primary, so it never needs its own parentheses. Because
 * the parser flattens chains and drops redundant parentheses,
 * parse(print(p)) == p and print is a fixed point.
 */
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

typedef struct {
    char *buf;    /* NULL: only count */
    size_t len;
} text_out;

static void put(text_out *o, const char *s, size_t n)
{
    if (o->buf)
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts0(text_out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(text_out *o, uint64_t v)
{
    char d[FKEX_U64_DIGITS + 1];
    put(o, d, fkex_u64_format(d, v));
}

const char *fkex_cmp_text(fkex_cmp_op op)
{
    switch (op) {
    case FKEX_CMP_LT: return "<";
    case FKEX_CMP_LE: return "<=";
    case FKEX_CMP_GT: return ">";
    case FKEX_CMP_GE: return ">=";
    default:          return "==";
    }
}

/* Recursion depth is the AST depth, bounded by the parser's nesting limit. */
static void emit(text_out *o, const fkex_policy *p)
{
    switch (p->kind) {
    case FKEX_NODE_ATTR:
        puts0(o, p->name);
        return;
    case FKEX_NODE_CMP:
        puts0(o, p->name);
        put(o, " ", 1);
        puts0(o, fkex_cmp_text(p->op));
        put(o, " ", 1);
        put_u64(o, p->value);
        return;
    case FKEX_NODE_AND:
    case FKEX_NODE_OR:
        for (size_t i = 0; i < p->n; i++) {
            int paren = p->kind == FKEX_NODE_AND && p->child[i]->kind == FKEX_NODE_OR;
            if (i)
                puts0(o, p->kind == FKEX_NODE_AND ? " and " : " or ");
            if (paren)
                put(o, "(", 1);
            emit(o, p->child[i]);
            if (paren)
                put(o, ")", 1);
        }
        return;
    case FKEX_NODE_THRESHOLD:
        put_u64(o, p->value);
        puts0(o, " of (");
        for (size_t i = 0; i < p->n; i++) {
            if (i)
                put(o, ", ", 2);
            emit(o, p->child[i]);
        }
        put(o, ")", 1);
        return;
    }
}

size_t fkex_policy_printed_len(const fkex_policy *p)
{
    text_out o = { NULL, 0 };
    emit(&o, p);
    return o.len;
}

fkex_err fkex_policy_print(char **out, const fkex_policy *p)
{
    if (!out)
        return FKEX_ERR_ARGUMENT;
    *out = NULL;
    if (!p)
        return FKEX_ERR_ARGUMENT;
    text_out o = { NULL, 0 };
    emit(&o, p);
    o.buf = malloc(o.len + 1);
    if (!o.buf)
        return FKEX_ERR_NO_MEMORY;
    o.len = 0;
    emit(&o, p);
    o.buf[o.len] = 0;
    *out = o.buf;
    return FKEX_OK;
}

int fkex_policy_equal(const fkex_policy *a, const fkex_policy *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->n != b->n)
        return 0;
    switch (a->kind) {
    case FKEX_NODE_ATTR:
        return strcmp(a->name, b->name) == 0;
    case FKEX_NODE_CMP:
        return a->op == b->op && a->value == b->value && strcmp(a->name, b->name) == 0;
    case FKEX_NODE_THRESHOLD:
        if (a->value != b->value)
            return 0;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < a->n; i++)
        if (!fkex_policy_equal(a->child[i], b->child[i]))
            return 0;
    return 1;
}
